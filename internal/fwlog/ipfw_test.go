package fwlog

import (
	"bufio"
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// ev is the comparable part of an Event, for tables.
type ev struct {
	Kind             Kind
	Stamp, Action    string
	Rule             string
	Proto            Proto
	Src, Dst         string
	SrcPort, DstPort uint16
	HasPorts, Frag   bool
	ICMP             [2]int16
	Dir              Dir
	Iface            string
	Count            int
}

func flatten(e *Event) ev {
	addr := func(a netip.Addr) string {
		if !a.IsValid() {
			return ""
		}
		return a.String()
	}
	return ev{e.Kind, string(e.Stamp), string(e.Action), string(e.Rule), e.Proto, addr(e.Src), addr(e.Dst),
		e.SrcPort, e.DstPort, e.HasPorts, e.Frag, [2]int16{e.ICMPType, e.ICMPCode}, e.Dir, string(e.Iface), e.Count}
}

func TestParseIPFW(t *testing.T) {
	none := [2]int16{-1, -1}
	tests := []struct {
		line string
		ok   bool
		want ev
	}{
		{"Feb 3 08:00:02 ns3 kernel: ipfw: 900 Deny UDP 133.242.138.73:17500 255.255.255.255:17500 in via em0", true,
			ev{Stamp: "Feb 3 08:00:02", Action: "Deny", Rule: "900", Proto: ProtoUDP, Src: "133.242.138.73", Dst: "255.255.255.255", SrcPort: 17500, DstPort: 17500, HasPorts: true, ICMP: none, Dir: DirIn, Iface: "em0"}},
		{"Mar 17 23:43:27 <security.info> FW kernel: ipfw: 9999 Deny UDP 192.168.xx.xx:5353 224.0.0.251:5353 in via em0", false, ev{}},
		{"2002 Sep 15 07:47:04 yepp /kernel: ipfw: 65435 Deny UDP 80.133.123.52:1042 165.132.149.211:4665 out via tun0", true,
			ev{Stamp: "2002 Sep 15 07:47:04", Action: "Deny", Rule: "65435", Proto: ProtoUDP, Src: "80.133.123.52", Dst: "165.132.149.211", SrcPort: 1042, DstPort: 4665, HasPorts: true, ICMP: none, Dir: DirOut, Iface: "tun0"}},
		{"Dec 12 13:08:16 ballch5 mach_kernel: ipfw: 65000 Unreach TCP 10.221.41.33:2190 192.168.12.12:80 in via en0", true,
			ev{Stamp: "Dec 12 13:08:16", Action: "Unreach", Rule: "65000", Proto: ProtoTCP, Src: "10.221.41.33", Dst: "192.168.12.12", SrcPort: 2190, DstPort: 80, HasPorts: true, ICMP: none, Dir: DirIn, Iface: "en0"}},
		{"Aug  2 19:00:14 ram ipfw:  35000 Deny UDP 218.175.227.60:35319 70.165.138.163:55118 in via en0", true,
			ev{Stamp: "Aug  2 19:00:14", Action: "Deny", Rule: "35000", Proto: ProtoUDP, Src: "218.175.227.60", Dst: "70.165.138.163", SrcPort: 35319, DstPort: 55118, HasPorts: true, ICMP: none, Dir: DirIn, Iface: "en0"}},
		{"Nov  9 21:12:19 host kernel: ipfw: 100 Accept ICMP:8.0 192.0.2.1 198.51.100.2 in via en0", true,
			ev{Stamp: "Nov  9 21:12:19", Action: "Accept", Rule: "100", Proto: ProtoICMP, Src: "192.0.2.1", Dst: "198.51.100.2", ICMP: [2]int16{8, 0}, Dir: DirIn, Iface: "en0"}},
		{"Nov  9 21:12:20 host kernel: ipfw: 100 Unreach 13 TCP 192.0.2.1:1 198.51.100.2:2 in via en0", true,
			ev{Stamp: "Nov  9 21:12:20", Action: "Unreach 13", Rule: "100", Proto: ProtoTCP, Src: "192.0.2.1", Dst: "198.51.100.2", SrcPort: 1, DstPort: 2, HasPorts: true, ICMP: none, Dir: DirIn, Iface: "en0"}},
		{"Nov  9 21:12:21 host kernel: ipfw: 100 Deny TCP 192.0.2.1 198.51.100.2 in via en0 (frag 1234:1480@1480+)", true,
			ev{Stamp: "Nov  9 21:12:21", Action: "Deny", Rule: "100", Proto: ProtoTCP, Src: "192.0.2.1", Dst: "198.51.100.2", Frag: true, ICMP: none, Dir: DirIn, Iface: "en0"}},
		{"Nov  9 21:12:22 host kernel: ipfw: 100 Deny TCP [2001:db8::1]:80 [2001:db8::2]:5555 in via em0", true,
			ev{Stamp: "Nov  9 21:12:22", Action: "Deny", Rule: "100", Proto: ProtoTCP, Src: "2001:db8::1", Dst: "2001:db8::2", SrcPort: 80, DstPort: 5555, HasPorts: true, ICMP: none, Dir: DirIn, Iface: "em0"}},
		{"Nov  9 21:12:23 host kernel: ipfw: 100 Deny TCP 192.0.2.1:22 198.51.100.2:5555 [no if info]", true,
			ev{Stamp: "Nov  9 21:12:23", Action: "Deny", Rule: "100", Proto: ProtoTCP, Src: "192.0.2.1", Dst: "198.51.100.2", SrcPort: 22, DstPort: 5555, HasPorts: true, ICMP: none}},
		{"Nov  9 21:12:24 host kernel: ipfw: limit 100 reached on entry 100", true,
			ev{Kind: KindLimit, Stamp: "Nov  9 21:12:24", Rule: "100", ICMP: none, Count: 100}},
		// Shapes from the kernel format strings (reference logs.md §1.1), written here.
		{"kernel: ipfw: 300 Divert 8668 TCP 192.0.2.1:80 198.51.100.2:1234 out via em0 mark:0x10", false, ev{}},
		{"kernel: ipfw: 300 Divert 8668 TCP 192.0.2.1:80 198.51.100.2:1234 mark:0x10 out via em0", true,
			ev{Action: "Divert 8668", Rule: "300", Proto: ProtoTCP, Src: "192.0.2.1", Dst: "198.51.100.2", SrcPort: 80, DstPort: 1234, HasPorts: true, ICMP: none, Dir: DirOut, Iface: "em0"}},
		{"kernel: ipfw: -1 Refuse P:50 192.0.2.1 198.51.100.2 in via em0", true,
			ev{Action: "Refuse", Rule: "-1", Proto: ProtoOther, Src: "192.0.2.1", Dst: "198.51.100.2", ICMP: none, Dir: DirIn, Iface: "em0"}},
		{"kernel: ipfw: 5 Forward to 10.0.0.1:3128 TCP 192.0.2.1:5000 198.51.100.2:80 in via em0", true,
			ev{Action: "Forward to 10.0.0.1:3128", Rule: "5", Proto: ProtoTCP, Src: "192.0.2.1", Dst: "198.51.100.2", SrcPort: 5000, DstPort: 80, HasPorts: true, ICMP: none, Dir: DirIn, Iface: "em0"}},
		{"kernel: ipfw: 5 Deny UDP 192.0.2.1:53 198.51.100.2:53 Fragment = 185", true,
			ev{Action: "Deny", Rule: "5", Proto: ProtoUDP, Src: "192.0.2.1", Dst: "198.51.100.2", SrcPort: 53, DstPort: 53, HasPorts: true, Frag: true, ICMP: none}},
		{"ip6fw: 7 Deny IPV6-ICMP:128.0 [2001:db8::1] [2001:db8::2] in via en0", true,
			ev{Action: "Deny", Rule: "7", Proto: ProtoICMPv6, Src: "2001:db8::1", Dst: "2001:db8::2", ICMP: [2]int16{128, 0}, Dir: DirIn, Iface: "en0"}},
		// Broken lines of the format are malformed.
		{"kernel: ipfw: 100 Deny TCP 192.0.2.1:80", false, ev{}},
		{"kernel: ipfw: x Deny TCP 192.0.2.1:80 192.0.2.2:1 in via en0", false, ev{}},
		{"kernel: ipfw: 100 Deny TCP 192.0.2.1:99999 192.0.2.2:1 in via en0", false, ev{}},
		{"kernel: ipfw: 100 TCP 192.0.2.1:80 192.0.2.2:1 in via en0", false, ev{}},
	}
	for _, tt := range tests {
		var e Event
		e.Reset()
		ok, mine := ParseIPFW([]byte(tt.line), &e)
		if !mine || ok != tt.ok {
			t.Errorf("ParseIPFW(%q) = ok %v mine %v, want ok %v mine true", tt.line, ok, mine, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		if got := flatten(&e); got != tt.want {
			t.Errorf("ParseIPFW(%q) =\n  %+v\nwant\n  %+v", tt.line, got, tt.want)
		}
	}
}

func TestParseIPFWNotMine(t *testing.T) {
	for _, line := range []string{
		"Jan  8 03:37:09 example-host kernel: iptables DROP_INPUT: IN=eth0 OUT= SRC=203.0.113.36 DST=172.16.54.114",
		"Mar 30 15:54:22.171929 rule 3/(match) pass out on xl0: 192.168.2.10.1514 > 192.168.2.190.1030:  udp 73",
		"notipfw: 100 Deny TCP 1.2.3.4:1 1.2.3.4:2 in via en0",
		"",
	} {
		var e Event
		e.Reset()
		if _, mine := ParseIPFW([]byte(line), &e); mine {
			t.Errorf("ParseIPFW(%q) claims the line", line)
		}
	}
}

func TestParseIPFWNoAllocs(t *testing.T) {
	line := []byte("Feb 3 08:00:02 ns3 kernel: ipfw: 900 Deny UDP 133.242.138.73:17500 255.255.255.255:17500 in via em0")
	var e Event
	if n := testing.AllocsPerRun(100, func() { e.Reset(); ParseIPFW(line, &e) }); n != 0 {
		t.Errorf("ParseIPFW allocates %v times per line, want 0", n)
	}
}

func fixtureLines(f *testing.F, dir string) {
	files, _ := filepath.Glob(filepath.Join("testdata", dir, "*"))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			f.Add(append([]byte(nil), sc.Bytes()...))
		}
	}
}

func FuzzParseIPFW(f *testing.F) {
	fixtureLines(f, "ipfw")
	f.Add([]byte("ipfw: limit 5 reached on entry 7"))
	f.Add([]byte("h kernel: ipfw: 340 Deny MAC in via em0"))
	f.Add([]byte("kernel: ipfw: 5 Deny P:50 192.0.2.1 198.51.100.2 in via em0"))
	f.Add([]byte("ip6fw: 7 Deny IPV6-ICMP:128.0 [2001:db8::1] [2001:db8::2] in via en0"))
	f.Add([]byte("kernel: ipfw: 5 Forward to 10.0.0.1:3128 TCP 192.0.2.1:5000 198.51.100.2:80 in via em0"))
	f.Fuzz(func(t *testing.T, line []byte) {
		var e Event
		e.Reset()
		ok, mine := ParseIPFW(line, &e)
		if ok && !mine {
			t.Fatal("ok without mine")
		}
		if ok && e.Kind == KindPacket && (!e.Src.IsValid() || !e.Dst.IsValid() || len(e.Action) == 0) {
			// MAC lines are KindOther; every packet line has both addresses.
			t.Errorf("ParseIPFW(%q) ok with %+v", line, flatten(&e))
		}
		for _, b := range [][]byte{e.Stamp, e.Action, e.Rule, e.Iface} {
			if len(b) > 0 && !bytes.Contains(line, b) {
				t.Errorf("ParseIPFW(%q): field %q does not point into the line", line, b)
			}
		}
	})
}

func BenchmarkParseIPFW(b *testing.B) {
	line := []byte("Feb 3 08:00:02 ns3 kernel: ipfw: 900 Deny UDP 133.242.138.73:17500 255.255.255.255:17500 in via em0")
	b.SetBytes(int64(len(line)))
	var e Event
	for b.Loop() {
		e.Reset()
		ParseIPFW(line, &e)
	}
}
