package fwlog

import "testing"

// A syslog priority in front of a line (what a collector that saves the raw message keeps) changes
// nothing for any format: the line parses and keeps its time.
func TestPriorityEveryFormat(t *testing.T) {
	tests := []struct {
		name  string
		parse Parser
		line  string
		stamp string
	}{
		{"ipfw", ParseIPFW, "<13>Feb 3 08:00:02 ns3 kernel: ipfw: 900 Deny UDP 192.0.2.7:17500 255.255.255.255:17500 in via em0", "Feb 3 08:00:02"},
		{"pf", ParsePF, "<134>Mar 30 15:47:05.522341 rule 3/0(match): block in on em0: 192.168.1.2.137 > 192.168.1.255.137: udp 50", "Mar 30 15:47:05.522341"},
		{"pf in a syslog envelope", ParsePF, "<134>Mar 30 15:33:26 enigma pf: Mar 30 15:32:33.483712 rule 2/(match) pass in on xl0: 192.0.2.3.6667 > 192.168.2.10.16290: P 7408:7677(269) ack 1773 win 2520", "Mar 30 15:32:33.483712"},
		{"alf", ParseALF, "<13>Nov  2 04:07:35 host.local socketfilterfw[112] <Info>: Dropbox: Allow TCP LISTEN  (in:0 out:1)", "Nov  2 04:07:35"},
		{"netfilter", ParseNetfilter, "<4>Jan  8 03:37:09 host kernel: DROP IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2 PROTO=TCP SPT=1 DPT=2", "Jan  8 03:37:09"},
		{"filterlog", ParseFilterlog, "<134>Feb 20 09:13:51 filterlog: 5,,,1000000103,igb0,match,block,in,4,0x0,,64,0,0,none,17,udp,132,192.0.2.9,192.0.2.10,49838,53,112", "Feb 20 09:13:51"},
		{"mikrotik", ParseMikroTik, "<134>Feb 20 09:13:50 gw1 firewall,info input: in:ether1 out:(unknown 0), proto UDP, 192.0.2.9:1->192.0.2.1:53, len 60", "Feb 20 09:13:50"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Event
			e.Reset()
			ok, mine := tt.parse([]byte(tt.line), &e)
			if !ok || !mine || string(e.Stamp) != tt.stamp {
				t.Errorf("parse(%q) = %v, %v, stamp %q; want true, true, %q", tt.line, ok, mine, e.Stamp, tt.stamp)
			}
		})
	}
}
