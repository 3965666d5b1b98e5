package fwlog

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// nfCmpOpts compare Events: netip.Addr by ==, nil and empty slices alike.
var nfCmpOpts = cmp.Options{cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty()}

// nfRow is the expectation for one netfilter packet line.
type nfRow struct {
	stamp, rule, action string
	dir                 Dir
	iface               string
	proto               Proto
	protoNum            int
	src, dst            string
	ports               bool
	spt, dpt            uint16
	icmp                bool // ICMP type and code given
	typ, code           int16
	frag                bool
}

func (r nfRow) event() Event {
	e := Event{
		Format: FormatNetfilter, Kind: KindPacket,
		Stamp: []byte(r.stamp), Rule: []byte(r.rule), Action: []byte(r.action),
		Proto: r.proto, ProtoNum: r.protoNum,
		Src: netip.MustParseAddr(r.src), Dst: netip.MustParseAddr(r.dst),
		SrcPort: r.spt, DstPort: r.dpt, HasPorts: r.ports,
		ICMPType: -1, ICMPCode: -1, Frag: r.frag,
		Dir: r.dir, Iface: []byte(r.iface),
	}
	if r.icmp {
		e.ICMPType, e.ICMPCode = r.typ, r.code
	}
	return e
}

// nfLines reads a testdata file's lines (without newlines).
func nfLines(tb testing.TB, name string) [][]byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return lines
}

// nfPointsInto reports whether b is empty or a sub-slice of line (the same memory, not a copy).
func nfPointsInto(line, b []byte) bool {
	if len(b) == 0 {
		return true
	}
	for i := 0; i+len(b) <= len(line); i++ {
		if &line[i] == &b[0] {
			return true
		}
	}
	return false
}

// Every line of every netfilter fixture, field by field. The expectations were derived from the
// lines by hand (with a throwaway regular expression as a cross-check), not from the parser.
var nfFixtures = map[string][]nfRow{
	"netfilter-beats-iptables.log": {
		{stamp: "Jan  8 03:37:09", rule: "iptables DROP_INPUT:", action: "DROP", dir: DirIn, iface: "eth0", proto: ProtoTCP, src: "203.0.113.36", dst: "172.16.54.114", ports: true, spt: 17805, dpt: 445},
		{stamp: "Jan  8 03:37:57", rule: "iptables DROP_INPUT:", action: "DROP", dir: DirIn, iface: "eth0", proto: ProtoTCP, src: "198.51.100.198", dst: "172.16.54.114", ports: true, spt: 47091, dpt: 1433},
		{stamp: "Jan  8 03:38:45", rule: "iptables DROP_INPUT:", action: "DROP", dir: DirIn, iface: "eth0", proto: ProtoTCP, src: "203.0.113.201", dst: "172.16.54.114", ports: true, spt: 59319, dpt: 445},
		{stamp: "Jan  8 03:39:25", rule: "iptables DROP_INPUT:", action: "DROP", dir: DirIn, iface: "eth0", proto: ProtoTCP, src: "203.0.113.246", dst: "172.16.54.114", ports: true, spt: 44181, dpt: 80},
		{stamp: "Jan  8 03:40:21", rule: "iptables DROP_INPUT:", action: "DROP", dir: DirIn, iface: "eth0", proto: ProtoTCP, src: "203.0.113.208", dst: "172.16.54.114", ports: true, spt: 64358, dpt: 445},
		{stamp: "Jan  8 03:40:25", rule: "iptables DROP_INPUT:", action: "DROP", dir: DirIn, iface: "eth0", proto: ProtoTCP, src: "198.51.100.160", dst: "172.16.54.114", ports: true, spt: 58830, dpt: 445},
		{stamp: "Jan  8 03:41:17", rule: "iptables DROP_INPUT:", action: "DROP", dir: DirIn, iface: "eth0", proto: ProtoTCP, src: "198.51.100.115", dst: "172.16.54.114", ports: true, spt: 51985, dpt: 445},
		{stamp: "Jan  8 03:41:23", rule: "iptables DROP_INPUT:", action: "DROP", dir: DirIn, iface: "eth0", proto: ProtoTCP, src: "198.51.100.167", dst: "172.16.54.114", ports: true, spt: 4099, dpt: 445},
		{stamp: "Jan  8 03:43:18", rule: "iptables DROP_INPUT:", action: "DROP", dir: DirIn, iface: "eth0", proto: ProtoTCP, src: "198.51.100.19", dst: "172.16.54.114", ports: true, spt: 59287, dpt: 139},
		{stamp: "Jan  8 03:43:42", rule: "iptables DROP_INPUT:", action: "DROP", dir: DirIn, iface: "eth0", proto: ProtoTCP, src: "198.51.100.68", dst: "172.16.54.114", ports: true, spt: 53296, dpt: 8088},
		// A non-kernel device: host, then the prefix, no "kernel:" tag. UDP's LEN= repeats. The
		// prefix ends in Vyatta's accept letter.
		{stamp: "Jun 28 04:35:30", rule: "[SOMETHING-1234-A]", action: "ACCEPT", dir: DirFwd, iface: "abc.123", proto: ProtoUDP, src: "10.251.1.1", dst: "10.251.1.1", ports: true, spt: 9000, dpt: 9000},
		// ICMP echo: ID= repeats the IP header's ID=.
		{stamp: "Jun 28 04:30:32", rule: "[SOMETHING-1234-A]", action: "ACCEPT", dir: DirFwd, iface: "abc.123", proto: ProtoICMP, src: "10.251.1.1", dst: "10.251.1.1", icmp: true, typ: 8, code: 0},
	},
	// An ICMP error: the quoted packet's SRC, DST, PROTO=UDP and ports must not leak out.
	"netfilter-beats-icmp.log": {
		{stamp: "Jan  8 03:37:09", rule: "DENY:", action: "DENY", dir: DirIn, iface: "eth0", proto: ProtoICMP, src: "192.0.2.71", dst: "192.0.2.83", icmp: true, typ: 3, code: 3},
	},
	"netfilter-beats-ipv6.log": {
		{stamp: "Jan 22 09:05:05", action: "LOG", dir: DirOut, iface: "lo", proto: ProtoICMPv6, src: "2001:db8::1", dst: "2001:db8::2", icmp: true, typ: 128, code: 0},
		{stamp: "Jan 22 09:05:05", action: "LOG", dir: DirOut, iface: "lo", proto: ProtoICMPv6, src: "2001:db8::1", dst: "2001:db8::2", icmp: true, typ: 129, code: 0},
		{stamp: "Jan 22 10:52:34", action: "LOG", dir: DirOut, iface: "enp0s3", proto: ProtoICMPv6, src: "fe80::84:88ff:feae:790a", dst: "ff02::16", icmp: true, typ: 143, code: 0},
	},
	"netfilter-beats-ubiquiti.log": {
		{stamp: "Jan  5 20:17:05", rule: "[LAN_LOCAL-default-A]", action: "ACCEPT", dir: DirIn, iface: "eth0.90", proto: ProtoUDP, src: "192.168.48.137", dst: "255.55.174.225", ports: true, spt: 48689, dpt: 48689},
		{stamp: "Jan  5 20:17:01", rule: "[WAN_OUT-2000-A]", action: "ACCEPT", dir: DirFwd, iface: "eth0", proto: ProtoTCP, src: "192.168.134.158", dst: "192.0.2.25", ports: true, spt: 43189, dpt: 443},
		{stamp: "Jan  5 20:17:01", rule: "[source-dest-default-D]", action: "DROP", dir: DirFwd, iface: "eth0", proto: ProtoTCP, src: "192.168.110.116", dst: "192.0.2.25", ports: true, spt: 50093, dpt: 1443},
	},
	"netfilter-crowdsec.log": {
		{stamp: "Jun  8 14:34:33", action: "LOG", dir: DirIn, iface: "enp1s0", proto: ProtoTCP, src: "195.54.160.107", dst: "51.15.166.67", ports: true, spt: 8080, dpt: 8123},
		{stamp: "Sep 27 20:56:38", rule: "IPTABLES-DROP:", action: "DROP", dir: DirIn, iface: "lo", proto: ProtoUDP, src: "127.0.0.1", dst: "127.0.0.53", ports: true, spt: 49007, dpt: 53},
	},
	"netfilter-firewalld-ipv6.log": {
		{stamp: "Dec 20 11:01:41", rule: "rpfilter_DROP:", action: "DROP", dir: DirIn, iface: "eth0", proto: ProtoICMPv6, src: "fe80::3640:b5ff:feab:f2b8", dst: "ff02::2", icmp: true, typ: 133, code: 0},
		{stamp: "Dec 20 11:01:55", rule: "rpfilter_DROP:", action: "DROP", dir: DirIn, iface: "eth0", proto: ProtoUDP, src: "fe80::bbb1:96ae:416a:d4b2", dst: "ff02::fb", ports: true, spt: 5353, dpt: 5353},
		{stamp: "Dec 20 11:02:28", rule: "rpfilter_DROP:", action: "DROP", dir: DirIn, iface: "eth0", proto: ProtoICMPv6, src: "fe80::250:56ff:fe6a:a20e", dst: "ff02::16", icmp: true, typ: 143, code: 0},
	},
	"netfilter-ufw-noprefix.log": {
		{rule: "[UFW AUDIT]", action: "AUDIT", dir: DirOut, iface: "eth0", proto: ProtoUDP, src: "176.58.105.134", dst: "194.238.48.2", ports: true, spt: 36231, dpt: 123},
		{rule: "[UFW ALLOW]", action: "ALLOW", dir: DirOut, iface: "eth0", proto: ProtoUDP, src: "176.58.105.134", dst: "194.238.48.2", ports: true, spt: 36231, dpt: 123},
		{rule: "[UFW AUDIT]", action: "AUDIT", dir: DirOut, iface: "lo", proto: ProtoTCP, src: "192.168.192.254", dst: "192.168.192.254", ports: true, spt: 59488, dpt: 30002},
		{rule: "[UFW AUDIT]", action: "AUDIT", dir: DirIn, iface: "lo", proto: ProtoTCP, src: "192.168.192.254", dst: "192.168.192.254", ports: true, spt: 59488, dpt: 30002},
	},
	// Prefixes with an unbalanced quote and bracket, and an emoji.
	"netfilter-unifi-lnav.log": {
		{stamp: "Apr  7 21:49:03", rule: `[WAN_IN-RET-3006] DESCR="[WAN_IN] PortForward Allow [HTTPS (cli`, action: "Allow", dir: DirFwd, iface: "eth8", proto: ProtoTCP, src: "194.230.158.35", dst: "192.168.96.10", ports: true, spt: 38618, dpt: 10443},
		{stamp: "Apr  7 21:40:58", rule: `[LAN_IN-D-4001] DESCR="🛑Drop all InterVLAN traffic"`, action: "DROP", dir: DirFwd, iface: "br96", proto: ProtoTCP, src: "192.168.96.10", dst: "192.168.2.1", ports: true, spt: 8084, dpt: 55504},
	},
}

func TestParseNetfilterFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/netfilter/*.log")
	if err != nil || len(files) != len(nfFixtures) {
		t.Fatalf("testdata/netfilter holds %d .log files, the table %d", len(files), len(nfFixtures))
	}
	for name, rows := range nfFixtures {
		lines := nfLines(t, filepath.Join("netfilter", name))
		if len(lines) != len(rows) {
			t.Fatalf("%s: %d lines, %d expectations", name, len(lines), len(rows))
		}
		for i, line := range lines {
			t.Run(fmt.Sprintf("%s:%d", name, i+1), func(t *testing.T) {
				var e Event
				e.Reset()
				ok, mine := ParseNetfilter(line, &e)
				if !ok || !mine {
					t.Fatalf("ParseNetfilter(%q) = %v, %v, want true, true", line, ok, mine)
				}
				if d := cmp.Diff(rows[i].event(), e, nfCmpOpts); d != "" {
					t.Errorf("ParseNetfilter(%q) mismatch (-want +got):\n%s", line, d)
				}
			})
		}
	}
}

// Lines written for this test (synthetic, TEST-NET addresses) from nf_log_syslog.c's format
// strings and the envelopes of reference logs.md §4.2.
func TestParseNetfilter(t *testing.T) {
	tests := []struct {
		name string
		line string
		want nfRow
	}{
		{"rfc3339 envelope",
			"2026-03-20T14:49:24.202833+00:00 host kernel: [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=198.51.100.7 DST=192.0.2.10 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=4242 DF PROTO=TCP SPT=51234 DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0 ",
			nfRow{stamp: "2026-03-20T14:49:24.202833+00:00", rule: "[UFW BLOCK]", action: "BLOCK", dir: DirIn, iface: "eth0", proto: ProtoTCP, src: "198.51.100.7", dst: "192.0.2.10", ports: true, spt: 51234, dpt: 22}},
		{"rfc3339 envelope and printk time",
			"2026-03-20T14:49:24+00:00 host kernel: [  307.757925] [UFW LIMIT BLOCK] IN=eth0 OUT= SRC=198.51.100.7 DST=192.0.2.10 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=1 DF PROTO=TCP SPT=1 DPT=22 WINDOW=1 RES=0x00 SYN URGP=0",
			nfRow{stamp: "2026-03-20T14:49:24+00:00", rule: "[UFW LIMIT BLOCK]", action: "BLOCK", dir: DirIn, iface: "eth0", proto: ProtoTCP, src: "198.51.100.7", dst: "192.0.2.10", ports: true, spt: 1, dpt: 22}},
		{"journald short, kernel[0] tag, single-digit day",
			"Mar 2 14:49:24 host kernel[0]: nft reject in: IN=eth0 OUT= SRC=198.51.100.7 DST=192.0.2.10 LEN=40 TOS=0x00 PREC=0x00 TTL=52 ID=1 PROTO=UDP SPT=5 DPT=6 LEN=20",
			nfRow{stamp: "Mar 2 14:49:24", rule: "nft reject in:", action: "reject", dir: DirIn, iface: "eth0", proto: ProtoUDP, src: "198.51.100.7", dst: "192.0.2.10", ports: true, spt: 5, dpt: 6}},
		{"dmesg: printk time only",
			"[16571.459614] FW-ACCEPT IN= OUT=eth1 SRC=192.0.2.1 DST=198.51.100.2 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=TCP SPT=40000 DPT=443 WINDOW=1 RES=0x00 ACK URGP=0",
			nfRow{rule: "FW-ACCEPT", action: "ACCEPT", dir: DirOut, iface: "eth1", proto: ProtoTCP, src: "192.0.2.1", dst: "198.51.100.2", ports: true, spt: 40000, dpt: 443}},
		{"starts with IN=",
			"IN=eth0 OUT= SRC=192.0.2.1 DST=198.51.100.2 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=TCP SPT=1 DPT=2 WINDOW=1 RES=0x00 SYN URGP=0",
			nfRow{action: "LOG", dir: DirIn, iface: "eth0", proto: ProtoTCP, src: "192.0.2.1", dst: "198.51.100.2", ports: true, spt: 1, dpt: 2}},
		{"prefix glued to IN= with no host",
			"Jan  5 20:17:01 [WAN_LOCAL-default-D]IN=eth0 OUT= SRC=192.0.2.1 DST=198.51.100.2 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=TCP SPT=1 DPT=2 WINDOW=1 RES=0x00 SYN URGP=0",
			nfRow{stamp: "Jan  5 20:17:01", rule: "[WAN_LOCAL-default-D]", action: "DROP", dir: DirIn, iface: "eth0", proto: ProtoTCP, src: "192.0.2.1", dst: "198.51.100.2", ports: true, spt: 1, dpt: 2}},
		{"verdict order: DROP before ACCEPT",
			"Jan  5 20:17:01 gw kernel: accept-or-drop IN=eth0 OUT= SRC=192.0.2.1 DST=198.51.100.2 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=47 ",
			nfRow{stamp: "Jan  5 20:17:01", rule: "accept-or-drop", action: "drop", dir: DirIn, iface: "eth0", proto: ProtoOther, protoNum: 47, src: "192.0.2.1", dst: "198.51.100.2"}},
		{"verdict order: DROP before REJECT, wherever they stand",
			"Jan  5 20:17:01 gw kernel: REJECT-else-DROP: IN=eth0 OUT= SRC=192.0.2.1 DST=198.51.100.2 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=47 ",
			nfRow{stamp: "Jan  5 20:17:01", rule: "REJECT-else-DROP:", action: "DROP", dir: DirIn, iface: "eth0", proto: ProtoOther, protoNum: 47, src: "192.0.2.1", dst: "198.51.100.2"}},
		{"prefix holding SRC= and PROTO= is not read as fields",
			`Jan  5 20:17:01 gw kernel: [SRC=203.0.113.9 PROTO=UDP SPT=9] IN=eth0 OUT= SRC=192.0.2.1 DST=198.51.100.2 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=TCP SPT=1 DPT=2 WINDOW=1 RES=0x00 SYN URGP=0`,
			nfRow{stamp: "Jan  5 20:17:01", rule: "[SRC=203.0.113.9 PROTO=UDP SPT=9]", action: "LOG", dir: DirIn, iface: "eth0", proto: ProtoTCP, src: "192.0.2.1", dst: "198.51.100.2", ports: true, spt: 1, dpt: 2}},
		{"non-first fragment",
			"Jan  5 20:17:01 gw kernel: DROP IN=eth0 OUT= SRC=192.0.2.1 DST=198.51.100.2 LEN=500 TOS=0x00 PREC=0x00 TTL=64 ID=77 MF FRAG:185 PROTO=TCP ",
			nfRow{stamp: "Jan  5 20:17:01", rule: "DROP", action: "DROP", dir: DirIn, iface: "eth0", proto: ProtoTCP, src: "192.0.2.1", dst: "198.51.100.2", frag: true}},
		{"IPv6 first fragment (FRAG:0) keeps its ports",
			"IN=eth0 OUT= SRC=2001:0db8:0000:0000:0000:0000:0000:0001 DST=2001:0db8:0000:0000:0000:0000:0000:0002 LEN=1280 TC=0 HOPLIMIT=64 FLOWLBL=0 FRAG:0 INCOMPLETE ID:0000abcd PROTO=UDP SPT=5 DPT=6 LEN=1232 ",
			nfRow{action: "LOG", dir: DirIn, iface: "eth0", proto: ProtoUDP, src: "2001:db8::1", dst: "2001:db8::2", ports: true, spt: 5, dpt: 6}},
		{"ICMP error quoting TCP, then MTU",
			"IN=eth0 OUT= SRC=192.0.2.1 DST=198.51.100.2 LEN=576 TOS=0x00 PREC=0xC0 TTL=64 ID=1 PROTO=ICMP TYPE=3 CODE=4 [SRC=198.51.100.2 DST=203.0.113.5 LEN=1500 TOS=0x00 PREC=0x00 TTL=63 ID=2 DF PROTO=TCP SPT=443 DPT=50000 WINDOW=1 RES=0x00 ACK URGP=0 ] MTU=1400 ",
			nfRow{action: "LOG", dir: DirIn, iface: "eth0", proto: ProtoICMP, src: "192.0.2.1", dst: "198.51.100.2", icmp: true, typ: 3, code: 4}},
		{"ICMPv6 error quoting UDP",
			"IN=eth0 OUT= SRC=2001:0db8:0000:0000:0000:0000:0000:0001 DST=2001:0db8:0000:0000:0000:0000:0000:0002 LEN=100 TC=0 HOPLIMIT=64 FLOWLBL=0 PROTO=ICMPv6 TYPE=1 CODE=4 [SRC=2001:0db8:0000:0000:0000:0000:0000:0002 DST=2001:0db8:0000:0000:0000:0000:0000:0009 LEN=52 TC=0 HOPLIMIT=63 FLOWLBL=0 PROTO=UDP SPT=5 DPT=6 LEN=12 ] ",
			nfRow{action: "LOG", dir: DirIn, iface: "eth0", proto: ProtoICMPv6, src: "2001:db8::1", dst: "2001:db8::2", icmp: true, typ: 1, code: 4}},
		{"bracketed fields before the packet's own are skipped",
			"IN=eth0 OUT= [SRC=203.0.113.9 DST=203.0.113.10 [PROTO=UDP] SPT=1 DPT=2 ] SRC=192.0.2.1 DST=198.51.100.2 LEN=40 PROTO=TCP SPT=3 DPT=4 ",
			nfRow{action: "LOG", dir: DirIn, iface: "eth0", proto: ProtoTCP, src: "192.0.2.1", dst: "198.51.100.2", ports: true, spt: 3, dpt: 4}},
		{"ICMP non-first fragment: no type, no code",
			"IN=eth0 OUT= SRC=192.0.2.1 DST=198.51.100.2 LEN=1500 TOS=0x00 PREC=0x00 TTL=64 ID=9 FRAG:185 PROTO=ICMP ",
			nfRow{action: "LOG", dir: DirIn, iface: "eth0", proto: ProtoICMP, src: "192.0.2.1", dst: "198.51.100.2", frag: true}},
		{"UDPLITE counts as UDP",
			"IN=eth0 OUT= SRC=192.0.2.1 DST=198.51.100.2 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=UDPLITE SPT=7 DPT=8 LEN=20 ",
			nfRow{action: "LOG", dir: DirIn, iface: "eth0", proto: ProtoUDP, src: "192.0.2.1", dst: "198.51.100.2", ports: true, spt: 7, dpt: 8}},
		{"ESP",
			"IN= OUT=eth0 SRC=192.0.2.1 DST=198.51.100.2 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=ESP SPI=0x1234 UID=0 GID=0 MARK=0x1 ",
			nfRow{action: "LOG", dir: DirOut, iface: "eth0", proto: ProtoOther, protoNum: 50, src: "192.0.2.1", dst: "198.51.100.2"}},
		{"bridge PHYSIN, compressed IPv6 from another producer",
			"kernel: BLOCK-v6 IN=br0 OUT=br0 PHYSIN=eth1 PHYSOUT=eth2 SRC=2001:db8::1 DST=2001:db8::2 LEN=80 TC=0 HOPLIMIT=64 FLOWLBL=0 PROTO=TCP SPT=1 DPT=2 WINDOW=1 RES=0x00 SYN URGP=0",
			nfRow{rule: "BLOCK-v6", action: "BLOCK", dir: DirFwd, iface: "br0", proto: ProtoTCP, src: "2001:db8::1", dst: "2001:db8::2", ports: true, spt: 1, dpt: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Event
			e.Reset()
			ok, mine := ParseNetfilter([]byte(tt.line), &e)
			if !ok || !mine {
				t.Fatalf("ParseNetfilter(%q) = %v, %v, want true, true", tt.line, ok, mine)
			}
			if d := cmp.Diff(tt.want.event(), e, nfCmpOpts); d != "" {
				t.Errorf("ParseNetfilter(%q) mismatch (-want +got):\n%s", tt.line, d)
			}
		})
	}
}

func TestParseNetfilterRejects(t *testing.T) {
	tests := []struct {
		name string
		line string
		mine bool
	}{
		// Other formats (verbatim lines from shared/fixtures/logs).
		{"ipfw", "Feb 3 08:00:02 ns3 kernel: ipfw: 900 Deny UDP 133.242.138.73:17500 255.255.255.255:17500 in via em0", false},
		{"pf", "Mar 30 15:47:05.522341 rule 3/0(match): block in on em0: 192.168.1.2.137 > 192.168.1.255.137: udp 50", false},
		{"alf", "Nov  2 04:07:35 DarkTemplar-2.local socketfilterfw[112] <Info>: Dropbox: Allow TCP LISTEN  (in:0 out:1)", false},
		{"alf stealth", "Aug  2 18:59:38 ram ipfw: Stealth Mode connection attempt to TCP 70.165.138.163:56266 from 89.139.144.18:80", false},
		{"empty", "", false},
		{"IN= without OUT=", "LOGIN=root succeeded", false},
		// Netfilter's, broken.
		{"starts with IN=, no OUT=", "IN=eth0 SRC=192.0.2.1 DST=198.51.100.2", true},
		{"OUT= not after the IN= token", "IN=eth0 x OUT=", true},
		{"no DST", "IN=eth0 OUT= SRC=192.0.2.1 LEN=40 PROTO=TCP SPT=1 DPT=2", true},
		{"no SRC", "IN=eth0 OUT= DST=192.0.2.1 LEN=40 PROTO=TCP SPT=1 DPT=2", true},
		{"ARP", "IN=eth0 OUT= MAC=ff:ff:ff:ff:ff:ff:52:54:00:12:34:56:08:06 ARP HTYPE=1 PTYPE=0x0800 OPCODE=1 MACSRC=52:54:00:12:34:56 IPSRC=192.0.2.1 MACDST=00:00:00:00:00:00 IPDST=192.0.2.2", true},
		{"redacted address", "IN=eth0 OUT= SRC=192.168.xx.xx DST=192.0.2.1 LEN=40 PROTO=TCP SPT=1 DPT=2", true},
		{"leading zero", "IN=eth0 OUT= SRC=192.168.001.1 DST=192.0.2.1 LEN=40 PROTO=TCP SPT=1 DPT=2", true},
		{"mixed families", "IN=eth0 OUT= SRC=192.0.2.1 DST=2001:db8::1 PROTO=TCP SPT=1 DPT=2", true},
		{"port out of range", "IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2 PROTO=TCP SPT=70000 DPT=2", true},
		{"one port", "IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2 PROTO=TCP SPT=7", true},
		{"ICMP type out of range", "IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2 PROTO=ICMP TYPE=300 CODE=0", true},
		{"bad protocol", "IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2 PROTO=XYZ", true},
		{"truncated", "Jan  8 03:37:09 example-host kernel: iptables DROP_INPUT: IN=eth0 OUT= MAC=90:10:35:5a:1e:3a:90:10:9e:ec:2c:71:08:00 SRC=203.0.113.36", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Event
			e.Reset()
			ok, mine := ParseNetfilter([]byte(tt.line), &e)
			if ok || mine != tt.mine {
				t.Errorf("ParseNetfilter(%q) = %v, %v, want false, %v", tt.line, ok, mine, tt.mine)
			}
		})
	}
}

// TestParseNoAllocs holds the hot path to zero allocations per line for both parsers.
func TestParseNoAllocs(t *testing.T) {
	tests := []struct {
		name  string
		parse Parser
		line  string
	}{
		{"netfilter IPv4", ParseNetfilter, "Jan  8 03:37:09 example-host kernel: iptables DROP_INPUT: IN=eth0 OUT= MAC=90:10:35:5a:1e:3a:90:10:9e:ec:2c:71:08:00 SRC=203.0.113.36 DST=172.16.54.114 LEN=52 TOS=0x00 PREC=0x00 TTL=115 ID=15743 DF PROTO=TCP SPT=17805 DPT=445 WINDOW=8192 RES=0x00 SYN URGP=0 "},
		{"netfilter IPv6", ParseNetfilter, "Dec 20 11:01:55 <redacted> kernel: rpfilter_DROP: IN=eth0 OUT= MAC=33:33:00:00:00:fb:6c:b3:11:13:d2:d0:86:dd SRC=fe80:0000:0000:0000:bbb1:96ae:416a:d4b2 DST=ff02:0000:0000:0000:0000:0000:0000:00fb LEN=85 TC=0 HOPLIMIT=1 FLOWLBL=223537 PROTO=UDP SPT=5353 DPT=5353 LEN=45"},
		{"netfilter ICMP error", ParseNetfilter, "Jan  8 03:37:09 DENY: IN=eth0 OUT= MAC=90:10:28:5f:62:24:90:10:18:5a:89:2a:08:00 SRC=192.0.2.71 DST=192.0.2.83 LEN=88 TOS=0x00 PREC=0x00 TTL=118 ID=21684 PROTO=ICMP TYPE=3 CODE=3 [SRC=192.0.2.83 DST=192.168.173.191 LEN=60 TOS=0x00 PREC=0x00 TTL=54 ID=0 DF PROTO=UDP SPT=21458 DPT=62936 LEN=40 ]"},
		{"appfirewall", ParseALF, "Nov  2 04:07:35 DarkTemplar-2.local socketfilterfw[112] <Info>: Dropbox: Allow TCP LISTEN  (in:0 out:1)"},
		{"appfirewall stealth", ParseALF, "Jan 20 00:03:44 manjusri.local socketfilterfw[228] <Info>: Stealth Mode connection attempt to UDP 3 time"},
		{"kernel stealth", ParseALF, "Aug  2 18:59:38 ram ipfw: Stealth Mode connection attempt to TCP 70.165.138.163:56266 from 89.139.144.18:80"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := []byte(tt.line)
			var e Event
			var ok bool
			n := testing.AllocsPerRun(100, func() {
				e.Reset()
				ok, _ = tt.parse(line, &e)
			})
			if !ok {
				t.Fatalf("parse(%q) not ok", line)
			}
			if n != 0 {
				t.Errorf("parse(%q) allocates %v times per line, want 0", line, n)
			}
		})
	}
}

// isStaticAction reports whether a is one of the verdicts parsers hand out from package
// variables rather than from the line.
func isStaticAction(a []byte) bool {
	for _, v := range [][]byte{actionLog, actionAccept, actionDrop, actionReject} {
		if len(a) > 0 && &a[0] == &v[0] {
			return true
		}
	}
	return false
}

// nfCheckEvent holds what every parse result must satisfy.
func nfCheckEvent(t *testing.T, name string, line []byte, ok, mine bool, e *Event, format Format) {
	t.Helper()
	if ok && !mine {
		t.Fatalf("%s(%q) = ok without mine", name, line)
	}
	if !ok {
		return
	}
	if e.Format != format {
		t.Errorf("%s(%q): Format = %v, want %v", name, line, e.Format, format)
	}
	if e.Kind == KindPacket && (!e.Src.IsValid() || !e.Dst.IsValid()) {
		t.Errorf("%s(%q): packet with Src %v, Dst %v", name, line, e.Src, e.Dst)
	}
	fields := map[string][]byte{"Stamp": e.Stamp, "Rule": e.Rule, "Iface": e.Iface, "App": e.App, "Op": e.Op}
	if !isStaticAction(e.Action) {
		fields["Action"] = e.Action
	}
	for f, b := range fields {
		if !nfPointsInto(line, b) {
			t.Errorf("%s(%q): %s %q does not point into the line", name, line, f, b)
		}
	}
}

func FuzzParseNetfilter(f *testing.F) {
	for name := range nfFixtures {
		for _, l := range nfLines(f, filepath.Join("netfilter", name)) {
			f.Add(l)
		}
	}
	f.Add([]byte("IN=eth0 OUT= SRC=192.0.2.1 DST=198.51.100.2 LEN=40 PROTO=ICMP TYPE=3 CODE=3 [SRC=1.2.3.4 [ DST=5.6.7.8 ] ] MTU=1"))
	f.Add([]byte("2026-03-20T14:49:24.202833+00:00 host kernel: [  1.5] [UFW BLOCK]IN=a OUT=b SRC=::1 DST=::2 PROTO=TCP FRAG:8"))
	for _, l := range nfLines(f, "proxmox/pve-firewall-synthetic.log") {
		f.Add(l)
	}
	f.Add([]byte("<161>Oct 10 07:25:12 host kernel: [wan-lan-default-D]IN=eth0 OUT= SRC=198.51.100.7 DST=192.0.2.10 PROTO=TCP SPT=1 DPT=22"))
	f.Add([]byte("<4>1 2026-03-20T14:49:24+00:00 host kernel - - - [LAN_IN-R-2001] DESCR=\"x\" IN=eth0 OUT= SRC=198.51.100.7 DST=192.0.2.10 PROTO=ICMP TYPE=8 CODE=0"))
	f.Fuzz(func(t *testing.T, line []byte) {
		var e Event
		e.Reset()
		ok, mine := ParseNetfilter(line, &e)
		if ok && e.Kind == KindPacket && len(e.Action) == 0 {
			t.Errorf("ParseNetfilter(%q): ok with no Action", line)
		}
		nfCheckEvent(t, "ParseNetfilter", line, ok, mine, &e, FormatNetfilter)
	})
}

func BenchmarkParseNetfilter(b *testing.B) {
	for _, bb := range []struct{ name, line string }{
		{"ipv4", "Jan  8 03:37:09 example-host kernel: iptables DROP_INPUT: IN=eth0 OUT= MAC=90:10:35:5a:1e:3a:90:10:9e:ec:2c:71:08:00 SRC=203.0.113.36 DST=172.16.54.114 LEN=52 TOS=0x00 PREC=0x00 TTL=115 ID=15743 DF PROTO=TCP SPT=17805 DPT=445 WINDOW=8192 RES=0x00 SYN URGP=0 "},
		{"ipv6", "Dec 20 11:01:55 <redacted> kernel: rpfilter_DROP: IN=eth0 OUT= MAC=33:33:00:00:00:fb:6c:b3:11:13:d2:d0:86:dd SRC=fe80:0000:0000:0000:bbb1:96ae:416a:d4b2 DST=ff02:0000:0000:0000:0000:0000:0000:00fb LEN=85 TC=0 HOPLIMIT=1 FLOWLBL=223537 PROTO=UDP SPT=5353 DPT=5353 LEN=45"},
	} {
		b.Run(bb.name, func(b *testing.B) {
			line := []byte(bb.line)
			b.SetBytes(int64(len(line)))
			var e Event
			for b.Loop() {
				e.Reset()
				ParseNetfilter(line, &e)
			}
		})
	}
}
