package fwlog

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Envelopes and rule prefixes that ParseNetfilter once misread: a syslog <PRI> in front, Proxmox
// pve-firewall.log lines (the date inside the rule, IN= or OUT= alone), and the verdict letter
// that Vyatta, EdgeOS and UniFi put at the end (or, on UniFi OS, in the middle) of the prefix.
// Lines written for this test (TEST-NET addresses) in the shapes those systems print:
// pve-firewall's src/pvefw-logger.c ("<VMID> <LOGLEVEL> <CHAIN> <TIME> <TIMEZONE> <MSG>", IN= and
// OUT= printed only when the device is set) and Vyatta's get_log_prefix
// ("[$chain-$rule_num-$action_char]", the action's first letter upper-cased).
func TestParseNetfilterEnvelopes(t *testing.T) {
	const tcp = "SRC=198.51.100.7 DST=192.0.2.10 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=4242 DF PROTO=TCP SPT=51234 DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0"
	const pveTCP = "SRC=198.51.100.7 DST=192.0.2.10 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=4242 DF PROTO=TCP SPT=51234 DPT=22 SEQ=1 ACK=0 WINDOW=64240 SYN "
	in := func(stamp, rule, action, iface string) nfRow {
		return nfRow{stamp: stamp, rule: rule, action: action, dir: DirIn, iface: iface, proto: ProtoTCP, src: "198.51.100.7", dst: "192.0.2.10", ports: true, spt: 51234, dpt: 22}
	}
	tests := []struct {
		name string
		line string
		want nfRow
	}{
		{"PRI before a BSD stamp, UniFi drop letter",
			"<161>Oct 10 07:25:12 host kernel: [wan-lan-default-D]IN=eth0 OUT= " + tcp,
			in("Oct 10 07:25:12", "[wan-lan-default-D]", "DROP", "eth0")},
		{"PRI before an RFC 3339 stamp",
			"<4>2026-03-20T14:49:24.202833+00:00 host kernel: [UFW BLOCK] IN=eth0 OUT= " + tcp,
			in("2026-03-20T14:49:24.202833+00:00", "[UFW BLOCK]", "BLOCK", "eth0")},
		{"RFC 5424 header",
			"<4>1 2026-03-20T14:49:24.202833+00:00 host kernel - - - [UFW BLOCK] IN=eth0 OUT= " + tcp,
			in("2026-03-20T14:49:24.202833+00:00", "[UFW BLOCK]", "BLOCK", "eth0")},
		{"PRI with no stamp",
			"<4>[16571.459614] DROPPED IN=eth0 OUT= " + tcp,
			in("", "DROPPED", "DROP", "eth0")},
		{"EdgeOS accept letter",
			"Jan  5 20:17:01 ubnt kernel: [WAN_LOCAL-10-A]IN=eth0 OUT= " + tcp,
			in("Jan  5 20:17:01", "[WAN_LOCAL-10-A]", "ACCEPT", "eth0")},
		{"EdgeOS reject letter",
			"Jan  5 20:17:01 ubnt kernel: [WAN_LOCAL-20-R]IN=eth0 OUT= " + tcp,
			in("Jan  5 20:17:01", "[WAN_LOCAL-20-R]", "REJECT", "eth0")},
		{"UniFi OS letter in the middle, before a description",
			`Jan  5 20:17:01 udm kernel: [LAN_IN-A-2001] DESCR="allow printers" IN=br0 OUT= ` + tcp,
			in("Jan  5 20:17:01", `[LAN_IN-A-2001] DESCR="allow printers"`, "ACCEPT", "br0")},
		{"UniFi OS host repeated before the bracket",
			`Jun 13 23:29:15 UDMP UDMP [WAN_LOCAL-D-2147483647] DESCR="[WAN_LOCAL]Block All Traffic" IN=eth8 OUT= ` + tcp,
			in("Jun 13 23:29:15", `[WAN_LOCAL-D-2147483647] DESCR="[WAN_LOCAL]Block All Traffic"`, "DROP", "eth8")},
		{"a letter that is no verdict (modify) leaves the words",
			"Jan  5 20:17:01 ubnt kernel: [WAN_IN-30-M]IN=eth0 OUT= " + tcp,
			in("Jan  5 20:17:01", "[WAN_IN-30-M]", "LOG", "eth0")},
		{"Proxmox VM chain, bridge with both devices: the chain gives the direction",
			"100 6 tap100i0-IN 14/Feb/2023:22:45:31 +0100 policy DROP: IN=fwbr100i0 OUT=fwbr100i0 PHYSIN=fwln100i0 PHYSOUT=tap100i0 MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 " + pveTCP,
			nfRow{stamp: "14/Feb/2023:22:45:31 +0100", rule: "tap100i0-IN", action: "DROP", dir: DirIn, iface: "fwbr100i0", proto: ProtoTCP, src: "198.51.100.7", dst: "192.0.2.10", ports: true, spt: 51234, dpt: 22}},
		{"Proxmox host chain, IN= alone",
			"0 6 PVEFW-HOST-IN 14/Feb/2023:22:45:31 +0100 policy DROP: IN=vmbr0 PHYSIN=eno1 MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 " + pveTCP,
			in("14/Feb/2023:22:45:31 +0100", "PVEFW-HOST-IN", "DROP", "vmbr0")},
		{"Proxmox host chain, OUT= alone, compressed IPv6, UDP",
			"0 4 PVEFW-HOST-OUT 01/Mar/2024:03:04:05 -0500 REJECT: OUT=vmbr0 SRC=2001:db8::1 DST=2001:db8::2 LEN=40 TC=0 FLOWLBL=0 HOPLIMIT=64 PROTO=UDP SPT=5353 DPT=53 LEN=20",
			nfRow{stamp: "01/Mar/2024:03:04:05 -0500", rule: "PVEFW-HOST-OUT", action: "REJECT", dir: DirOut, iface: "vmbr0", proto: ProtoUDP, src: "2001:db8::1", dst: "2001:db8::2", ports: true, spt: 5353, dpt: 53}},
		{"Proxmox without a chain: the prefix is the rule",
			"0 6 - 14/Feb/2023:22:45:31 +0100 ACCEPT: IN=vmbr0 " + pveTCP,
			in("14/Feb/2023:22:45:31 +0100", "ACCEPT:", "ACCEPT", "vmbr0")},
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

// Proxmox's logger also writes its own status lines under chain "-"; they are the format's but
// carry no packet. Its ARP lines carry no IP packet either and stay malformed, as netfilter's do.
func TestParseNetfilterProxmoxOther(t *testing.T) {
	tests := []struct {
		name     string
		line     string
		ok, mine bool
		kind     Kind
	}{
		{"status line", "0 5 - 14/Feb/2023:22:45:31 +0100 starting pvefw logger", true, true, KindOther},
		{"ARP", "0 6 PVEFW-HOST-IN 14/Feb/2023:22:45:31 +0100 policy DROP: IN=vmbr0 PHYSIN=eno1 MAC=ff:ff:ff:ff:ff:ff:52:54:00:12:34:56:08:06 SRC=192.0.2.1 DST=192.0.2.2 PROTO=ARP REQUEST ", false, true, KindPacket},
		{"no device and no chain", "0 6 tap100i0-IN 14/Feb/2023:22:45:31 +0100 policy DROP: SRC=192.0.2.1 DST=192.0.2.2 PROTO=TCP", false, true, KindPacket},
		{"not a month", "0 6 tap100i0-IN 14/Foo/2023:22:45:31 +0100 policy DROP: IN=vmbr0 " + "SRC=192.0.2.1 DST=192.0.2.2 PROTO=ICMP TYPE=8 CODE=0", false, false, KindPacket},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Event
			e.Reset()
			ok, mine := ParseNetfilter([]byte(tt.line), &e)
			if ok != tt.ok || mine != tt.mine {
				t.Fatalf("ParseNetfilter(%q) = %v, %v, want %v, %v", tt.line, ok, mine, tt.ok, tt.mine)
			}
			if ok && e.Kind != tt.kind {
				t.Errorf("ParseNetfilter(%q): Kind = %v, want %v", tt.line, e.Kind, tt.kind)
			}
		})
	}
}
