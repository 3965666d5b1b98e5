package fwlog

import (
	"bufio"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// pfView is every field of an Event, with the byte slices as strings, for comparison.
type pfView struct {
	Format             Format
	Kind               Kind
	Stamp              string
	Action, Rule       string
	Proto              Proto
	ProtoNum           int
	Src, Dst           netip.Addr
	SrcPort, DstPort   uint16
	HasPorts           bool
	ICMPType, ICMPCode int16
	Frag               bool
	Dir                Dir
	Iface              string
	App, Op            string
	Count              int
}

func pfFlat(e *Event) pfView {
	return pfView{
		Format: e.Format, Kind: e.Kind, Stamp: string(e.Stamp), Action: string(e.Action), Rule: string(e.Rule),
		Proto: e.Proto, ProtoNum: e.ProtoNum, Src: e.Src, Dst: e.Dst,
		SrcPort: e.SrcPort, DstPort: e.DstPort, HasPorts: e.HasPorts,
		ICMPType: e.ICMPType, ICMPCode: e.ICMPCode, Frag: e.Frag,
		Dir: e.Dir, Iface: string(e.Iface), App: string(e.App), Op: string(e.Op), Count: e.Count,
	}
}

// pfPkt is the expected view of a pf packet line without ports, ICMP type or fragment flag.
func pfPkt(stamp, rule, action string, dir Dir, iface string, proto Proto, src, dst string) pfView {
	return pfView{
		Format: FormatPF, Kind: KindPacket, Stamp: stamp, Action: action, Rule: rule, Proto: proto,
		Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), ICMPType: -1, ICMPCode: -1,
		Dir: dir, Iface: iface,
	}
}

func (v pfView) ports(src, dst uint16) pfView {
	v.SrcPort, v.DstPort, v.HasPorts = src, dst, true
	return v
}

func (v pfView) icmp(typ int16) pfView {
	v.ICMPType = typ
	return v
}

func (v pfView) frag(num int) pfView {
	v.Frag, v.ProtoNum = true, num
	return v
}

func (v pfView) num(n int) pfView {
	v.ProtoNum = n
	return v
}

type pfCase struct {
	line     string
	ok, mine bool
	want     *pfView // nil: only ok and mine are checked (malformed and foreign lines)
}

func pfOK(line string, v pfView) pfCase { return pfCase{line: line, ok: true, mine: true, want: &v} }

// pfCases covers every line of testdata/pf (TestParsePFCoversTestdata checks that) and lines of
// other formats.
func pfCases() []pfCase {
	return []pfCase{
		// testdata/pf/pflog-openbsd-tcpdump.txt
		pfOK("Mar 30 15:33:26 enigma pf: Mar 30 15:32:33.483712 rule 2/(match) pass in on xl0: 140.211.166.3.6667 > 192.168.2.10.16290: P 7408:7677(269) ack 1773 win 2520 <nop,nop,timestamp 3960674784 2860123562> (DF)",
			pfPkt("Mar 30 15:32:33.483712", "2", "pass", DirIn, "xl0", ProtoTCP, "140.211.166.3", "192.168.2.10").ports(6667, 16290)),
		pfOK("Mar 30 15:47:05.522341 rule 4/(match) block in on lo0: 127.0.0.1.48784 > 127.0.0.1.23: S 1381529123:1381529123(0) win 16384 <mss 33184,nop,nop,sackOK,nop,wscale 0,[|tcp]> (DF) [tos 0x10]",
			pfPkt("Mar 30 15:47:05.522341", "4", "block", DirIn, "lo0", ProtoTCP, "127.0.0.1", "127.0.0.1").ports(48784, 23)),
		pfOK("Mar 30 15:54:22.171929 rule 3/(match) pass out on xl0: 192.168.2.10.1514 > 192.168.2.190.1030:  udp 73",
			pfPkt("Mar 30 15:54:22.171929", "3", "pass", DirOut, "xl0", ProtoUDP, "192.168.2.10", "192.168.2.190").ports(1514, 1030)),
		pfOK("Mar 30 15:54:22.174412 rule 3/(match) pass out on xl0: 192.168.2.10.1514 > 192.168.2.190.1030:  udp 89",
			pfPkt("Mar 30 15:54:22.174412", "3", "pass", DirOut, "xl0", ProtoUDP, "192.168.2.10", "192.168.2.190").ports(1514, 1030)),
		pfOK("Mar 30 17:47:40.390143 rule 2/(match) pass in on lo0: 127.0.0.1 > 127.0.0.1: icmp: echo reply",
			pfPkt("Mar 30 17:47:40.390143", "2", "pass", DirIn, "lo0", ProtoICMP, "127.0.0.1", "127.0.0.1").icmp(0)),
		pfOK("Mar 30 17:47:41.400075 rule 3/(match) pass out on lo0: 127.0.0.1 > 127.0.0.1: icmp: echo request",
			pfPkt("Mar 30 17:47:41.400075", "3", "pass", DirOut, "lo0", ProtoICMP, "127.0.0.1", "127.0.0.1").icmp(8)),
		pfOK("Oct 13 20:09:33.176578 rule 165/0(match): pass in on xl1: 212.254.110.99 > 62.245.245.139: icmp: echo reply (DF)",
			pfPkt("Oct 13 20:09:33.176578", "165", "pass", DirIn, "xl1", ProtoICMP, "212.254.110.99", "62.245.245.139").icmp(0)),
		pfOK("Oct 13 20:09:39.747082 rule 97/0(match): pass in on xl0: 219.145.20.230.4707 > 212.254.110.98.25: S 1109305585:1109305585(0) win 16384 <mss 1414,nop,nop,sackOK> (DF)",
			pfPkt("Oct 13 20:09:39.747082", "97", "pass", DirIn, "xl0", ProtoTCP, "219.145.20.230", "212.254.110.98").ports(4707, 25)),
		pfOK("Oct 13 20:09:44.985281 rule 57/0(match): pass in on xl1: 195.141.69.45.1030 > 193.210.18.31.53:  59236 [1au] MX? minedu.fi. (38) (DF)",
			pfPkt("Oct 13 20:09:44.985281", "57", "pass", DirIn, "xl1", ProtoUDP, "195.141.69.45", "193.210.18.31").ports(1030, 53)),

		// testdata/pf/pflog-freebsd-macos-tcpdump.txt: -ttt deltas are not timestamps.
		pfOK(" 00:00:00.000000 rule 5/0(match): pass out on lo0: 127.0.0.1.13244 > 127.0.0.1.25: Flags [S], seq 4111352249, win 65535, options [mss 16344,nop,wscale 6,sackOK,TS[|tcp]>",
			pfPkt("", "5", "pass", DirOut, "lo0", ProtoTCP, "127.0.0.1", "127.0.0.1").ports(13244, 25)),
		pfOK(" 00:00:00.013365 rule 3/0(match): pass in on em0: 10.53.12.251.64303 > 10.138.120.3.22: Flags [S], seq 3665560187, win 65535, options [mss 1386,nop,wscale 6,nop,nop,TS[|tcp]>",
			pfPkt("", "3", "pass", DirIn, "em0", ProtoTCP, "10.53.12.251", "10.138.120.3").ports(64303, 22)),
		pfOK(" 00:00:00.001348 rule 6/0(match): pass out on em0: 10.138.120.3.27451 > 10.48.88.2.53: 9340+[|domain]",
			pfPkt("", "6", "pass", DirOut, "em0", ProtoUDP, "10.138.120.3", "10.48.88.2").ports(27451, 53)),
		pfOK(" 00:00:00.000006 rule 0/0(match): block in on em0: fe80::9045:3cd4:9be0:9166.5353 > ff02::fb.5353: 0 PTR (QM)? _scanner._tcp.local. (37)",
			pfPkt("", "0", "block", DirIn, "em0", ProtoUDP, "fe80::9045:3cd4:9be0:9166", "ff02::fb").ports(5353, 5353)),
		pfOK(" 00:00:00.000001 rule 0/0(match): block in on bridge0: 10.138.120.4.8612 > 10.138.120.255.8610: UDP, length 16",
			pfPkt("", "0", "block", DirIn, "bridge0", ProtoUDP, "10.138.120.4", "10.138.120.255").ports(8612, 8610)),
		pfOK(" 00:00:00.022514 rule 0/0(match): block in on em0: fe80::9045:3cd4:9be0:9166 > ff02::16: HBH ICMP6, multicast listener report v2, 2 group record(s), length 48",
			pfPkt("", "0", "block", DirIn, "em0", ProtoICMPv6, "fe80::9045:3cd4:9be0:9166", "ff02::16").icmp(143)),
		{line: "IP 192.168.1.1.62771 > 157.240.2.35.443: tcp 0"}, // no -e: no pf header

		// testdata/pf/synthetic-pf-edge-cases.txt (see its README for what each line is for)
		pfOK("2026-03-20 14:49:24.202833 rule 3/0(match): block in on en0: 192.0.2.10.51234 > 198.51.100.7.22: Flags [S], seq 1, win 65535, options [mss 1460], length 0",
			pfPkt("2026-03-20 14:49:24.202833", "3", "block", DirIn, "en0", ProtoTCP, "192.0.2.10", "198.51.100.7").ports(51234, 22)),
		pfOK("Mar 30 15:47:05.522341 rule def/(match) block in on em0: 203.0.113.5.40000 > 192.0.2.1.23: S 1:1(0) win 16384",
			pfPkt("Mar 30 15:47:05.522341", "def", "block", DirIn, "em0", ProtoTCP, "203.0.113.5", "192.0.2.1").ports(40000, 23)),
		pfOK("Mar 30 15:47:06.000001 rule 2.anchor.1/(match) pass out on em0: 192.0.2.1.5353 > 224.0.0.251.5353: 0 A? host.local. (30)",
			pfPkt("Mar 30 15:47:06.000001", "2.anchor.1", "pass", DirOut, "em0", ProtoUDP, "192.0.2.1", "224.0.0.251").ports(5353, 5353)),
		pfOK("2026-03-20 14:49:25.000000 rule 3.relayd/rdr.0/0(match) [uid 0]: pass in on vtnet0: 192.0.2.1.443 > 203.0.113.9.51000: Flags [P.], seq 1:100, ack 1, win 512, length 99",
			pfPkt("2026-03-20 14:49:25.000000", "3.relayd/rdr.0", "pass", DirIn, "vtnet0", ProtoTCP, "192.0.2.1", "203.0.113.9").ports(443, 51000)),
		pfOK("Mar 30 15:47:07.000002 rule 4/(match) [uid 0, pid 1234] block out on em0: [uid 1000, pid 4321] 192.0.2.1.12345 > 198.51.100.1.80: S 1:1(0) win 16384",
			pfPkt("Mar 30 15:47:07.000002", "4", "block", DirOut, "em0", ProtoTCP, "192.0.2.1", "198.51.100.1").ports(12345, 80)),
		pfOK("Mar 30 15:47:08.000003 rule 5/(match) pass fwd on em1: 2001:db8::1.443 > 2001:db8:1::2.60000: P 1:10(9) ack 1 win 512",
			pfPkt("Mar 30 15:47:08.000003", "5", "pass", DirFwd, "em1", ProtoTCP, "2001:db8::1", "2001:db8:1::2").ports(443, 60000)),
		pfOK("2026-03-20 14:49:26.000000 rule 6/0(match): block in on en0: 2001:db8::5.50000 > 2001:db8::1.22: Flags [S], seq 2, win 65535, length 0",
			pfPkt("2026-03-20 14:49:26.000000", "6", "block", DirIn, "en0", ProtoTCP, "2001:db8::5", "2001:db8::1").ports(50000, 22)),
		pfOK("rule 7/0(match) [ridentifier 12345]: block in on igb0: IP 198.51.100.2 > 192.0.2.1: ICMP echo request, id 1, seq 1, length 64",
			pfPkt("", "7", "block", DirIn, "igb0", ProtoICMP, "198.51.100.2", "192.0.2.1").icmp(8)),
		pfOK("Mar 30 15:33:27 gw pflog[42]:  00:00:00.000123 rule 1/0(match): block in on em0: 198.51.100.3.123 > 192.0.2.1.123: NTPv4, Client, length 48",
			pfPkt("Mar 30 15:33:27", "1", "block", DirIn, "em0", ProtoUDP, "198.51.100.3", "192.0.2.1").ports(123, 123)),
		pfOK("Mar 30 15:47:09.000004 rule 8/(fragment) block in on em0: 198.51.100.4 > 192.0.2.1: (frag 4321:1480@1480+)",
			pfPkt("Mar 30 15:47:09.000004", "8", "block", DirIn, "em0", ProtoOther, "198.51.100.4", "192.0.2.1").frag(0)),
		pfOK("2026-03-20 14:49:27.000000 rule 9/2(fragment): block in on em0: 198.51.100.4 > 192.0.2.1: ip-proto-17",
			pfPkt("2026-03-20 14:49:27.000000", "9", "block", DirIn, "em0", ProtoUDP, "198.51.100.4", "192.0.2.1").frag(0)),
		pfOK("2026-03-20 14:49:28.000000 rule 10/0(match): pass in on gif0: 198.51.100.5 > 192.0.2.1: ip-proto-253 100",
			pfPkt("2026-03-20 14:49:28.000000", "10", "pass", DirIn, "gif0", ProtoOther, "198.51.100.5", "192.0.2.1").num(253)),
		pfOK("2026-03-20 14:49:29.000000 rule 11/0(match): dummynet (Darwin) in/out on en0: 192.0.2.1.5000 > 198.51.100.6.6000: UDP, length 10",
			pfPkt("2026-03-20 14:49:29.000000", "11", "dummynet (Darwin)", DirUnknown, "en0", ProtoUDP, "192.0.2.1", "198.51.100.6").ports(5000, 6000)),
		pfOK("2026-03-20 14:49:30.000000 rule 12/0(match): pass out on em0: 192.0.2.1 > 198.51.100.7: ICMP 198.51.100.7 udp port 33434 unreachable, length 36",
			pfPkt("2026-03-20 14:49:30.000000", "12", "pass", DirOut, "em0", ProtoICMP, "192.0.2.1", "198.51.100.7").icmp(3)),
		pfOK("Mar 30 15:47:10.000005 rule 13/(match) pass in on em0: fe80::1 > ff02::1: icmp6: echo request",
			pfPkt("Mar 30 15:47:10.000005", "13", "pass", DirIn, "em0", ProtoICMPv6, "fe80::1", "ff02::1").icmp(128)),
		pfOK("2026-03-20 14:49:31.000000 rule /0(match): block in on en0: 192.0.2.9.1234 > 192.0.2.1.80: Flags [S], seq 3, win 1024, length 0",
			pfPkt("2026-03-20 14:49:31.000000", "", "block", DirIn, "en0", ProtoTCP, "192.0.2.9", "192.0.2.1").ports(1234, 80)),
		pfOK("Mar 30 15:47:11.000006 rule 14/(match) match out on em0: [rewritten: src 203.0.113.1:61000, dst 198.51.100.8:80] 192.0.2.10.51000 > 198.51.100.8.80: S 1:1(0) win 16384",
			pfPkt("Mar 30 15:47:11.000006", "14", "match", DirOut, "em0", ProtoTCP, "192.0.2.10", "198.51.100.8").ports(51000, 80)),
		pfOK("2026-03-20 14:49:32.000000 rule 0/0(match): block in on em0: IP6 (hlim 1, next-header Options (0) payload length: 36) fe80::1 > ff02::16: HBH (rtalert: 0x0000) (padn) [icmp6 sum ok] ICMP6, multicast listener report v2, 1 group record(s) [gaddr ff02::fb to_ex { }]",
			pfPkt("2026-03-20 14:49:32.000000", "0", "block", DirIn, "em0", ProtoICMPv6, "fe80::1", "ff02::16").icmp(143)),
		pfOK("2026-03-20 14:49:33.000000 rule 15/0(match): pass in on em0: 192.0.2.53.53 > 192.0.2.1.40000: 9340 1/0/0 A 198.51.100.9 (45)",
			pfPkt("2026-03-20 14:49:33.000000", "15", "pass", DirIn, "em0", ProtoUDP, "192.0.2.53", "192.0.2.1").ports(53, 40000)),
		pfOK("1711812425.522341 rule 16/0(match): block in on em0: 198.51.100.10.44321 > 192.0.2.1.3389: tcp 0",
			pfPkt("1711812425.522341", "16", "block", DirIn, "em0", ProtoTCP, "198.51.100.10", "192.0.2.1").ports(44321, 3389)),
		pfOK("14:49:34.000000 rule 17/0(match): block in on em0: 198.51.100.11.5060 > 192.0.2.1.5060: SIP, length: 400",
			pfPkt("", "17", "block", DirIn, "em0", ProtoOther, "198.51.100.11", "192.0.2.1").ports(5060, 5060)),
		{line: "2026-03-20 14:49:35.000000 rule 3/0(match): block in on em0: IP (tos 0x0, ttl 64, id 0, offset 0, flags [DF], proto TCP (6), length 60)", mine: true},
		{line: "2026-03-20 14:49:36.000000 rule 3/0(match): block in on em0: host.example.net.ssh > gw.example.net.51000: Flags [S], seq 1, win 1024, length 0", mine: true},
		{line: "garbage here rule 3/0(match): block in on em0: 192.0.2.1.1 > 192.0.2.2.2: UDP, length 1", mine: true},
		{line: "rule 3/0(match): block in on em0: 192.0.2.1.1 > 192.0.2.2.2: ICMP echo request, id 1, seq 1, length 64", mine: true},

		// Other formats (shared/fixtures/logs: ipfw-freebsd-syslog.log line 1,
		// netfilter-beats-iptables.log line 1, netfilter-beats-ipv6.log line 1,
		// appfirewall-yosemite.log line 1) and lines that only look like a header.
		{line: "Feb 3 08:00:02 ns3 kernel: ipfw: 900 Deny UDP 133.242.138.73:17500 255.255.255.255:17500 in via em0"},
		{line: "Jan  8 03:37:09 example-host kernel: iptables DROP_INPUT: IN=eth0 OUT= MAC=90:10:35:5a:1e:3a:90:10:9e:ec:2c:71:08:00 SRC=203.0.113.36 DST=172.16.54.114 LEN=52 TOS=0x00 PREC=0x00 TTL=115 ID=15743 DF PROTO=TCP SPT=17805 DPT=445 WINDOW=8192 RES=0x00 SYN URGP=0 "},
		{line: "Jan 22 09:05:05 ubuntu-bionic kernel: [16571.459614] IN= OUT=lo SRC=2001:0db8:0000:0000:0000:0000:0000:0001 DST=2001:0db8:0000:0000:0000:0000:0000:0002 LEN=104 TC=0 HOPLIMIT=64 FLOWLBL=868225 PROTO=ICMPv6 TYPE=128 CODE=0 ID=3427 SEQ=1 "},
		{line: "Jan 20 00:03:35 manjusri.local socketfilterfw[228] <Info>: Dropbox109: Deny UDP CONNECT (in:22 out:0)"},
		{line: "Mar 30 15:00:00 gw sshd[12]: rule 5/(match) is not a header"},
		{line: "Mar 30 15:00:00 gw kernel: firewall rule 5/0(match): updated"},
		{line: "rule 5/(match) pass in on: 192.0.2.1 > 192.0.2.2: icmp: echo reply"},
		{line: "overrule 5/0(match): pass in on em0: 192.0.2.1 > 192.0.2.2: icmp: echo reply"},
		// "rule 5/(match) a b on c" is no header (an action is one word); "rule 6/…" is, and the
		// text before it is no timestamp.
		{line: "rule 5/(match) a b on c rule 6/(match) pass in on em0: 192.0.2.1 > 192.0.2.2: icmp: echo request", mine: true},
		{line: "rule 5/0(match): block in on em0:", mine: true}, // a header and no packet
		{line: ""},
	}
}

func TestParsePF(t *testing.T) {
	for _, tc := range pfCases() {
		t.Run(tc.line, func(t *testing.T) {
			var e Event
			e.Reset()
			ok, mine := ParsePF([]byte(tc.line), &e)
			if ok != tc.ok || mine != tc.mine {
				t.Fatalf("ParsePF(%q) = ok %v, mine %v, want ok %v, mine %v", tc.line, ok, mine, tc.ok, tc.mine)
			}
			if tc.want == nil {
				return
			}
			if diff := cmp.Diff(*tc.want, pfFlat(&e), cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("ParsePF(%q) mismatch (-want +got):\n%s", tc.line, diff)
			}
		})
	}
}

// TestParsePFCoversTestdata makes sure the table asserts every line of every file in
// testdata/pf, so a line added there without an expectation fails.
func TestParsePFCoversTestdata(t *testing.T) {
	inTable := map[string]bool{}
	for _, tc := range pfCases() {
		inTable[tc.line] = true
	}
	files, err := filepath.Glob(filepath.Join("testdata", "pf", "*.txt"))
	if err != nil || len(files) < 3 {
		t.Fatalf("testdata/pf: %d files, %v", len(files), err)
	}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			if !inTable[sc.Text()] {
				t.Errorf("%s:%d has no case in pfCases: %q", name, n, sc.Text())
			}
		}
		if err := sc.Err(); err != nil {
			t.Error(err)
		}
		f.Close()
	}
}

// TestPFStamp pins what counts as a timestamp before the header.
func TestPFStamp(t *testing.T) {
	tests := []struct {
		pre, want string
		ok        bool
	}{
		{"", "", true},
		{"Mar 30 15:47:05.522341 ", "Mar 30 15:47:05.522341", true},
		{"Mar  5 15:47:05.522341 ", "Mar  5 15:47:05.522341", true},
		{"2026-03-20 14:49:24.202833 ", "2026-03-20 14:49:24.202833", true},
		{"2026-03-20 14:49:24.202833123 ", "2026-03-20 14:49:24.202833123", true}, // --nano
		{"1711812425.522341 ", "1711812425.522341", true},
		{" 00:00:00.013365 ", "", true},
		{"-00:00:00.000002 ", "", true},
		{" 123:00:00.000000 ", "", true},
		{"14:49:24.202833 ", "", true}, // time of day, or a delta from tcpdump before 4.8.0
		{"Mar 30 15:33:26 enigma pf: Mar 30 15:32:33.483712 ", "Mar 30 15:32:33.483712", true},
		{"Mar 30 15:33:26 enigma pf:  00:00:00.013365 ", "Mar 30 15:33:26", true},
		{"Mar 30 15:33:26 enigma pf: 15:32:33.483712 ", "Mar 30 15:33:26", true},
		{"Mar 30 15:33:26 enigma pf: ", "Mar 30 15:33:26", true},
		{"2026-03-20T14:49:24.202833+01:00 gw pflog: 2026-03-20 14:49:24.100000 ", "2026-03-20 14:49:24.100000", true},
		{"2026-03-20T14:49:24Z gw pflog[7]: ", "2026-03-20T14:49:24Z", true},
		{"Mar 30 15:33:26 enigma pf: something else ", "", false},
		{" 00:00:00.013365 gw pf: ", "", false}, // a delta is no syslog time
		{"Foo 30 15:47:05.522341 ", "", false},
		{"garbage ", "", false},
		{"Mar 30 15:33:26 : ", "", false},
	}
	for _, tt := range tests {
		got, ok := pfStamp([]byte(tt.pre))
		if string(got) != tt.want || ok != tt.ok {
			t.Errorf("pfStamp(%q) = %q, %v, want %q, %v", tt.pre, got, ok, tt.want, tt.ok)
		}
	}
}

// TestPFAddrPort pins how tcpdump's "address.port" is split.
func TestPFAddrPort(t *testing.T) {
	tests := []struct {
		tok     string
		addr    string // "" when the token does not parse
		port    uint16
		hasPort bool
	}{
		{"192.0.2.10.22", "192.0.2.10", 22, true},
		{"192.0.2.10", "192.0.2.10", 0, false},
		{"192.0.2.10.0", "192.0.2.10", 0, true},
		{"192.0.2.10.65535", "192.0.2.10", 65535, true},
		{"192.0.2.10.65536", "", 0, false},
		{"192.0.2.10.ssh", "", 0, false}, // tcpdump without -n
		{"192.0.2", "", 0, false},
		{"192.0.2.1.2.3", "", 0, false},
		{"192.0.2.010", "", 0, false},
		{"256.0.0.1", "", 0, false},
		{"fe80::9045:3cd4:9be0:9166.5353", "fe80::9045:3cd4:9be0:9166", 5353, true},
		{"fe80::9045:3cd4:9be0:9166", "fe80::9045:3cd4:9be0:9166", 0, false},
		{"ff02::16", "ff02::16", 0, false},
		{"::ffff:192.0.2.1", "::ffff:192.0.2.1", 0, false},
		{"::ffff:192.0.2.1.443", "::ffff:192.0.2.1", 443, true},
		{"2001:db8::1.2.3", "", 0, false},
		{"2001:db8::1.", "", 0, false},
		{"host.example.net.ssh", "", 0, false},
		{"", "", 0, false},
	}
	for _, tt := range tests {
		a, port, hasPort, ok := pfAddrPort([]byte(tt.tok))
		got := ""
		if ok {
			got = a.String()
		}
		if got != tt.addr || port != tt.port || hasPort != tt.hasPort {
			t.Errorf("pfAddrPort(%q) = %q, %d, %v, want %q, %d, %v", tt.tok, got, port, hasPort, tt.addr, tt.port, tt.hasPort)
		}
	}
}

// TestPFProto pins the protocol inference on the text after "DST: ".
func TestPFProto(t *testing.T) {
	tests := []struct {
		rest     string
		ports    bool // both ports 40000
		proto    Proto
		num      int
		icmpType int16
		frag     bool
		ok       bool
	}{
		{"F 1:1(0) ack 1 win 0", true, ProtoTCP, 0, -1, false, true}, // OpenBSD FIN, not "Flags ["
		{". ack 1 win 512", true, ProtoTCP, 0, -1, false, true},
		{"R 0:0(0) ack 1 win 0 (DF)", true, ProtoTCP, 0, -1, false, true},
		{"SEW 1:1(0) win 65535", true, ProtoTCP, 0, -1, false, true},
		{"S 1:1(0) win 16384", false, ProtoOther, 0, -1, false, true}, // flag form needs ports
		{"[|tcp]", false, ProtoTCP, 0, -1, false, true},
		{"[|udp]", false, ProtoUDP, 0, -1, false, true},
		{"udp", false, ProtoOther, 0, -1, false, true},
		{"BOOTP/DHCP, Request from 00:11:22:33:44:55, length 300", true, ProtoUDP, 0, -1, false, true},
		{"SYSLOG local0.info, length: 100", true, ProtoUDP, 0, -1, false, true},
		{"9340 1/0/0 A 198.51.100.9 (45)", true, ProtoOther, 0, -1, false, true}, // no port 53, no '?'
		{"9340+ A? example.org. (29)", true, ProtoUDP, 0, -1, false, true},
		{"ICMP type-#42, length 8", false, ProtoICMP, 0, 42, false, true},
		{"ICMP time exceeded in-transit, length 36", false, ProtoICMP, 0, 11, false, true},
		{"ICMP host 192.0.2.1 unreachable - admin prohibited filter, length 36", false, ProtoICMP, 0, 3, false, true},
		{"ICMP echo reply, id 1, seq 1, length 64", false, ProtoICMP, 0, 0, false, true},
		{"icmp: 192.0.2.1 udp port 53 unreachable", false, ProtoICMP, 0, 3, false, true},
		{"[|icmp]", false, ProtoICMP, 0, -1, false, true},
		{"icmp6: neighbor sol: who has fe80::2", false, ProtoICMPv6, 0, 135, false, true},
		{"ICMP6, neighbor advertisement, tgt is fe80::2, length 32", false, ProtoICMPv6, 0, 136, false, true},
		{"ICMP6, multicast listener report, length 24", false, ProtoICMPv6, 0, 131, false, true},
		{"HBH HBH ICMP6, echo reply, id 1, seq 2, length 16", false, ProtoICMPv6, 0, 129, false, true},
		{"ICMP6, unknown icmp6 type (200), length 8", false, ProtoICMPv6, 0, -1, false, true},
		{"ip-proto-6", false, ProtoTCP, 0, -1, true, true},
		{"ip-proto-58 40", false, ProtoICMPv6, 0, -1, false, true},
		{"ip-proto-", false, ProtoOther, 0, -1, false, true},
		{"(frag 1:2@8)", false, ProtoOther, 0, -1, true, true},
		{"ICMP echo request, id 1, seq 1, length 64", true, ProtoICMP, 0, 8, false, false}, // ICMP has no ports
		{"", false, ProtoOther, 0, -1, false, true},
	}
	for _, tt := range tests {
		var e Event
		e.Reset()
		if tt.ports {
			e.SrcPort, e.DstPort, e.HasPorts = 40000, 40000, true
		}
		ok := pfProto([]byte(tt.rest), &e)
		if ok != tt.ok || e.Proto != tt.proto || e.ProtoNum != tt.num || e.ICMPType != tt.icmpType || e.ICMPCode != -1 || e.Frag != tt.frag {
			t.Errorf("pfProto(%q, ports %v) = %v, proto %v/%d, icmp %d/%d, frag %v, want %v, proto %v/%d, icmp %d/-1, frag %v",
				tt.rest, tt.ports, ok, e.Proto, e.ProtoNum, e.ICMPType, e.ICMPCode, e.Frag, tt.ok, tt.proto, tt.num, tt.icmpType, tt.frag)
		}
	}
}

// TestParsePFLongLine checks that a line full of near-headers is scanned in linear time (each
// candidate header is bounded by pfMaxHeader) and that a header after them is still found.
// Without the bound the second line takes seconds.
func TestParsePFLongLine(t *testing.T) {
	junk := strings.Repeat("rule 1/(m) a b on c ", 20000)
	for _, tt := range []struct {
		line     string
		ok, mine bool
	}{
		{junk, false, false},
		{junk + "rule 2/(match) pass in on em0: 192.0.2.1 > 192.0.2.2: icmp: echo request", false, true},
		{"rule 2/(match) pass in on em0: " + strings.Repeat("x", pfMaxHeader), false, true},
		{"rule 2/(match) pass in on " + strings.Repeat("x", pfMaxHeader) + ": 192.0.2.1 > 192.0.2.2: icmp: echo request", false, false},
	} {
		var e Event
		e.Reset()
		ok, mine := ParsePF([]byte(tt.line), &e)
		if ok != tt.ok || mine != tt.mine {
			t.Errorf("ParsePF(%.40q…, %d bytes) = ok %v, mine %v, want ok %v, mine %v", tt.line, len(tt.line), ok, mine, tt.ok, tt.mine)
		}
	}
}

func TestParsePFNoAllocs(t *testing.T) {
	lines := []string{
		"Mar 30 15:33:26 enigma pf: Mar 30 15:32:33.483712 rule 2/(match) pass in on xl0: 140.211.166.3.6667 > 192.168.2.10.16290: P 7408:7677(269) ack 1773 win 2520 <nop,nop,timestamp 3960674784 2860123562> (DF)",
		" 00:00:00.013365 rule 3/0(match): pass in on em0: 10.53.12.251.64303 > 10.138.120.3.22: Flags [S], seq 3665560187, win 65535, options [mss 1386,nop,wscale 6,nop,nop,TS[|tcp]>",
		"Oct 13 20:09:44.985281 rule 57/0(match): pass in on xl1: 195.141.69.45.1030 > 193.210.18.31.53:  59236 [1au] MX? minedu.fi. (38) (DF)",
		"2026-03-20 14:49:30.000000 rule 12/0(match): pass out on em0: 192.0.2.1 > 198.51.100.7: ICMP 198.51.100.7 udp port 33434 unreachable, length 36",
	}
	for _, s := range lines {
		line := []byte(s)
		var e Event
		allocs := testing.AllocsPerRun(100, func() {
			e.Reset()
			if ok, _ := ParsePF(line, &e); !ok {
				t.Fatalf("ParsePF(%q) not ok", s)
			}
		})
		if allocs != 0 {
			t.Errorf("ParsePF(%q) allocates %v times per line, want 0", s, allocs)
		}
	}
}

func FuzzParsePF(f *testing.F) {
	for _, tc := range pfCases() {
		f.Add(tc.line)
	}
	f.Fuzz(func(t *testing.T, s string) {
		line := []byte(s)
		line = line[:len(line):len(line)]
		var e Event
		e.Reset()
		ok, mine := ParsePF(line, &e)
		if ok && !mine {
			t.Fatalf("ParsePF(%q) = ok without mine", s)
		}
		if !mine {
			var zero Event
			zero.Reset()
			if diff := cmp.Diff(pfFlat(&zero), pfFlat(&e), cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Fatalf("ParsePF(%q) is not mine but changed the event (-want +got):\n%s", s, diff)
			}
			return
		}
		if ok {
			if !e.Src.IsValid() || !e.Dst.IsValid() {
				t.Fatalf("ParsePF(%q) ok with Src %v, Dst %v", s, e.Src, e.Dst)
			}
			if e.Format != FormatPF || e.Kind != KindPacket {
				t.Fatalf("ParsePF(%q) ok with Format %v, Kind %v", s, e.Format, e.Kind)
			}
			if e.HasPorts && (e.Proto == ProtoICMP || e.Proto == ProtoICMPv6 || e.Frag) {
				t.Fatalf("ParsePF(%q) ok with ports and Proto %v, Frag %v", s, e.Proto, e.Frag)
			}
			if len(e.Action) == 0 || len(e.Iface) == 0 {
				t.Fatalf("ParsePF(%q) ok with Action %q, Iface %q", s, e.Action, e.Iface)
			}
		}
		// Every byte slice must point into line: flip every byte of the line and the slices
		// must see the flip.
		fields := map[string][]byte{"Stamp": e.Stamp, "Action": e.Action, "Rule": e.Rule, "Iface": e.Iface, "App": e.App, "Op": e.Op}
		saved := map[string]string{}
		for k, v := range fields {
			saved[k] = string(v)
		}
		for i := range line {
			line[i] ^= 0xff
		}
		for k, v := range fields {
			for i := range v {
				if v[i] != saved[k][i]^0xff {
					t.Fatalf("ParsePF(%q): %s %q does not point into the line", s, k, saved[k])
				}
			}
		}
	})
}

func BenchmarkParsePF(b *testing.B) {
	var lines [][]byte
	for _, tc := range pfCases() {
		if tc.ok {
			lines = append(lines, []byte(tc.line))
		}
	}
	ipv4 := []byte("Mar 30 15:47:05.522341 rule 4/(match) block in on lo0: 127.0.0.1.48784 > 127.0.0.1.23: S 1381529123:1381529123(0) win 16384 <mss 33184,nop,nop,sackOK,nop,wscale 0,[|tcp]> (DF) [tos 0x10]")
	foreign := []byte("Jan  8 03:37:09 example-host kernel: iptables DROP_INPUT: IN=eth0 OUT= MAC=90:10:35:5a:1e:3a:90:10:9e:ec:2c:71:08:00 SRC=203.0.113.36 DST=172.16.54.114 LEN=52 TOS=0x00 PREC=0x00 TTL=115 ID=15743 DF PROTO=TCP SPT=17805 DPT=445 WINDOW=8192 RES=0x00 SYN URGP=0 ")
	var e Event
	b.Run("openbsd-ipv4", func(b *testing.B) {
		b.SetBytes(int64(len(ipv4)))
		b.ReportAllocs()
		for b.Loop() {
			e.Reset()
			ParsePF(ipv4, &e)
		}
	})
	b.Run("all-ok-lines", func(b *testing.B) {
		// One op is one line, taken in turn from every ok line of the table.
		total := 0
		for _, l := range lines {
			total += len(l)
		}
		b.SetBytes(int64(total / len(lines)))
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			e.Reset()
			ParsePF(lines[i], &e)
			i++
			if i == len(lines) {
				i = 0
			}
		}
	})
	b.Run("not-pf", func(b *testing.B) {
		b.SetBytes(int64(len(foreign)))
		b.ReportAllocs()
		for b.Loop() {
			e.Reset()
			ParsePF(foreign, &e)
		}
	})
}
