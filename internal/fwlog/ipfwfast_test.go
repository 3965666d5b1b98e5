package fwlog

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fastEvent is the Event ParseIPFW should make of a line ipfwFast read as l.
func fastEvent(l fastLine) Event {
	e := Event{Format: FormatIPFW, Kind: KindPacket, Stamp: l.stamp, Action: l.action, Rule: l.rule,
		Proto: l.proto, HasPorts: true, ICMPType: -1, ICMPCode: -1, Dir: l.dir, Iface: l.iface}
	src, dst := unpackEndpoint(l.src), unpackEndpoint(l.dst)
	e.Src, e.SrcPort, e.Dst, e.DstPort = src.Addr(), src.Port(), dst.Addr(), dst.Port()
	return e
}

var fastCases = []struct {
	name string
	line string
	fast bool // ipfwFast takes it (otherwise the general path does)
}{
	{"macos", "Nov  9 00:00:01 host kernel: ipfw: 120 Accept TCP 10.24.98.183:25505 186.184.177.179:53 out via en0", true},
	{"two-word action", "Nov  9 00:00:01 host kernel: ipfw: 260 Unreach 13 UDP 10.38.5.117:32882 27.108.83.61:8080 out via en0", true},
	{"forward with port", "kernel: ipfw: 5 Forward to 10.0.0.1:3128 TCP 192.0.2.1:5000 198.51.100.2:80 in via em0", true},
	{"tiger double space", "Feb 3 08:00:02 ns3 kernel: ipfw:  900 Deny UDP 133.242.138.73:17500 255.255.255.255:17500 in via em0", true},
	{"priority", "<4>Feb  3 08:00:02 ns3 kernel: ipfw: 900 Deny TCP 192.0.2.1:1 198.51.100.2:22 in via em0", true},
	{"rfc3339", "2024-02-03T08:00:02+00:00 ns3 kernel: ipfw: 900 Deny TCP 192.0.2.1:1 198.51.100.2:22 in via em0", true},
	{"no envelope", "ipfw: 900 Deny TCP 192.0.2.1:1 198.51.100.2:22 in via em0", false},
	{"tab before tag", "kernel:\tipfw: 900 Deny TCP 192.0.2.1:1 198.51.100.2:22 in via em0", true},
	{"glued tag", "kernel:ipfw: 900 Deny TCP 192.0.2.1:1 198.51.100.2:22 in via em0", false},
	{"refuse rule -1", "kernel: ipfw: -1 Refuse TCP 192.0.2.1:1 198.51.100.2:22 in via em0", false},
	{"limit", "kernel: ipfw: limit 5 reached on entry 7", false},
	{"stealth", "kernel: ipfw: Stealth Mode connection attempt to TCP 192.0.2.1:22 from 198.51.100.2:5000", false},
	{"icmp", "kernel: ipfw: 5 Deny ICMP:8.0 192.0.2.1 198.51.100.2 in via em0", false},
	{"udplite", "kernel: ipfw: 5 Deny UDPLite 192.0.2.1:1 198.51.100.2:2 in via em0", false},
	{"fragment", "kernel: ipfw: 5 Deny TCP 192.0.2.1 198.51.100.2 in via em0 (frag 1:2@3)", false},
	{"mark", "kernel: ipfw: 5 Deny TCP 192.0.2.1:1 198.51.100.2:2 mark:7 in via em0", false},
	{"no interface", "kernel: ipfw: 5 Deny TCP 192.0.2.1:1 198.51.100.2:2 [no if info]", false},
	{"empty interface", "kernel: ipfw: 5 Deny TCP 192.0.2.1:1 198.51.100.2:2 in via ", false},
	{"trailing words", "kernel: ipfw: 5 Deny TCP 192.0.2.1:1 198.51.100.2:2 in via em0 extra", false},
	{"ipv6", "kernel: ipfw: 5 Deny TCP [2001:db8::1]:1 [2001:db8::2]:2 in via em0", false},
	{"leading zero", "kernel: ipfw: 5 Deny TCP 192.0.2.01:1 198.51.100.2:2 in via em0", false},
	{"octet 256", "kernel: ipfw: 5 Deny TCP 192.0.2.256:1 198.51.100.2:2 in via em0", false},
	{"port 65536", "kernel: ipfw: 5 Deny TCP 192.0.2.1:65536 198.51.100.2:2 in via em0", false},
	{"port 65535", "kernel: ipfw: 5 Deny TCP 192.0.2.1:65535 198.51.100.2:0 in via em0", true},
	{"one port", "kernel: ipfw: 5 Deny TCP 192.0.2.1:1 198.51.100.2 in via em0", false},
	{"no action", "kernel: ipfw: 5 TCP 192.0.2.1:1 198.51.100.2:2 in via em0", false},
	{"rule with tab", "kernel: ipfw: 5\tDeny TCP 192.0.2.1:1 198.51.100.2:2 in via em0", false},
	{"spaces in action", "kernel: ipfw: 5 Divert  8668\tTCP 192.0.2.1:1 198.51.100.2:2 out via em0", true},
	{"ip6fw", "kernel: ip6fw: 5 Deny TCP 192.0.2.1:1 198.51.100.2:2 in via em0", false},
}

// TestIPFWFast checks which lines the fast path takes, and that it reads them as ParseIPFW does.
func TestIPFWFast(t *testing.T) {
	for _, tc := range fastCases {
		t.Run(tc.name, func(t *testing.T) {
			l, ok := ipfwFast([]byte(tc.line))
			if ok != tc.fast {
				t.Fatalf("ipfwFast(%q) = _, %v, want %v", tc.line, ok, tc.fast)
			}
			if ok {
				checkFast(t, []byte(tc.line), l)
			}
		})
	}
}

// checkFast fails unless ParseIPFW reads line as the fast path read it (l).
func checkFast(t *testing.T, line []byte, l fastLine) {
	t.Helper()
	var e Event
	e.Reset()
	ok, mine := ParseIPFW(line, &e)
	if !ok || !mine {
		t.Fatalf("ParseIPFW(%q) = %v, %v after ipfwFast took it, want true, true", line, ok, mine)
	}
	want := fastEvent(l)
	if diff := cmp.Diff(flatten(&want), flatten(&e)); diff != "" {
		t.Errorf("ParseIPFW(%q) differs from ipfwFast (-fast +ParseIPFW):\n%s", line, diff)
	}
}

// TestIPFWFastSameReport summarises the table's lines (and ipfw fixtures) along both paths.
func TestIPFWFastSameReport(t *testing.T) {
	var lines [][]byte
	for _, tc := range fastCases {
		lines = append(lines, []byte(tc.line))
	}
	lines = append(lines, bytes.Split(genMany(3000, 500), []byte("\n"))...)
	// Rules 0120 and 120 are two rows.
	for _, r := range []string{"0120", "120", "0", "00", "99999", "65535", "65536", "120"} {
		lines = append(lines, []byte("Nov  9 00:00:01 host kernel: ipfw: "+r+" Deny TCP 192.0.2.1:1 198.51.100.2:22 in via em0"))
	}
	// Every fixture of every format, as one log: the lines the fast path refuses (ip6fw, pf,
	// netfilter, ALF…) must come out of the general path as they did.
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "*"))
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil && !bytes.Contains(data, []byte{0}) {
			lines = append(lines, bytes.Split(data, []byte("\n"))...)
		}
	}
	for _, f := range []Format{FormatUnknown, FormatIPFW} {
		for _, maxKeys := range []int{0, 3} { // 3: the rules table prunes
			if diff := cmp.Diff(summarizeLines(lines, f, true, maxKeys), summarizeLines(lines, f, false, maxKeys)); diff != "" {
				t.Errorf("format %v, max keys %d: report differs between the paths (-general +fast):\n%s", f, maxKeys, diff)
			}
		}
	}
}

func summarizeLines(lines [][]byte, f Format, general bool, maxKeys int) Report {
	s := NewSummary(Options{Format: f, Examples: 100, MaxKeys: maxKeys})
	s.general = general
	for i, l := range lines {
		s.Line(l, int64(i))
	}
	return s.Report(0, nil)
}

func FuzzIPFWFast(f *testing.F) {
	fixtureLines(f, "ipfw")
	for _, tc := range fastCases {
		f.Add([]byte(tc.line))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		line = trimRight(line)
		l, ok := ipfwFast(line)
		if !ok {
			return
		}
		checkFast(t, line, l)
		lines := [][]byte{line, line}
		if diff := cmp.Diff(summarizeLines(lines, FormatUnknown, true, 0), summarizeLines(lines, FormatUnknown, false, 0)); diff != "" {
			t.Errorf("%q: report differs between the paths (-general +fast):\n%s", line, diff)
		}
	})
}

var endpoint4Cases = []struct {
	in   string
	want uint64 // address<<16 | port
	ok   bool
}{
	{"10.24.98.183:25505", 0x0a1862b7<<16 | 25505, true},
	{"186.184.177.179:53", 0xbab8b1b3<<16 | 53, true},
	{"1.2.3.4:5", 0x01020304<<16 | 5, true},
	{"255.255.255.255:65535", 0xffffffff<<16 | 65535, true},
	{"0.0.0.0:0", 0, true},
	{"192.0.2.1:000080", 0xc0000201<<16 | 80, true},
	{"192.0.2.1:65536", 0, false},
	{"192.0.2.1:99999999999999999999", 0, false},
	{"256.0.2.1:80", 0, false},
	{"192.0.2.256:80", 0, false},
	{"192.0.02.1:80", 0, false},
	{"1920.0.2.1:80", 0, false},
	{"192.0.2.1234:80", 0, false},
	{"192.0.2:80", 0, false},
	{"192.0.2.1.5:80", 0, false},
	{"192.0.2.1", 0, false},
	{"192.0.2.1:", 0, false},
	{"192.0.2.1:8a", 0, false},
	{"192.0.2.1:-8", 0, false},
	{"192..2.1:80", 0, false},
	{".192.0.2.1:80", 0, false},
	{"192.0.2.1:80 ", 0, false},
	{"192/0.2.1:8000", 0, false},
	{"192.0.2.1;8000", 0, false},
	{"[2001:db8::1]:80", 0, false},
	{"", 0, false},
}

func TestEndpoint4(t *testing.T) {
	for _, tc := range endpoint4Cases {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := endpoint4([]byte(tc.in))
			if got != tc.want || ok != tc.ok {
				t.Errorf("endpoint4(%q) = %#x, %v, want %#x, %v", tc.in, got, ok, tc.want, tc.ok)
			}
			if got2, ok2 := endpoint4Bytes([]byte(tc.in)); got2 != tc.want || ok2 != tc.ok {
				t.Errorf("endpoint4Bytes(%q) = %#x, %v, want %#x, %v", tc.in, got2, ok2, tc.want, tc.ok)
			}
		})
	}
}

// FuzzEndpoint4 holds the four-bytes-at-a-time endpoint4 to endpoint4Bytes, and both to
// parseEndpoint, the general path's reader.
func FuzzEndpoint4(f *testing.F) {
	for _, tc := range endpoint4Cases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := endpoint4(b)
		want, wantOK := endpoint4Bytes(b)
		if got != want || ok != wantOK {
			t.Fatalf("endpoint4(%q) = %#x, %v, want %#x, %v (endpoint4Bytes)", b, got, ok, want, wantOK)
		}
		a, port, gen := parseEndpoint(b)
		gen = gen && a.Is4() && port >= 0
		if ok != gen {
			t.Fatalf("endpoint4(%q) ok %v, parseEndpoint %v, %d, %v", b, ok, a, port, gen)
		}
		if ok && unpackEndpoint(got) != netip.AddrPortFrom(a, uint16(port)) {
			t.Fatalf("endpoint4(%q) = %v, parseEndpoint %v:%d", b, unpackEndpoint(got), a, port)
		}
	})
}

var tokenCases = []string{
	"", " ", "\t", "a", "ab cd", "  lead", "tab\tsep", "exactly8 x", "exactly8", "sixteen-bytes-xx", "sixteen-bytes-xx yy",
	"10.24.98.183:25505 186.184.177.179:53 out via en0", "\x00\x01\x80\xff \x09", "1234567\t8", "12345678\t", "\x21\x1f\x08\x0a\x20",
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00 ", "\x01\x01\x01\x01\x01\x01\x01\x01 x",
}

// fastToken finds the same token as nextToken, however long the token and wherever the blank.
func TestFastToken(t *testing.T) {
	for _, in := range tokenCases {
		t.Run(fmt.Sprintf("%q", in), func(t *testing.T) { checkFastToken(t, []byte(in)) })
	}
}

func checkFastToken(t *testing.T, b []byte) {
	t.Helper()
	tok, rest := fastToken(b)
	wantTok, wantRest := nextToken(b)
	if !bytes.Equal(tok, wantTok) || !bytes.Equal(rest, wantRest) || (rest == nil) != (wantRest == nil) {
		t.Errorf("fastToken(%q) = %q, %q, want %q, %q", b, tok, rest, wantTok, wantRest)
	}
}

func FuzzFastToken(f *testing.F) {
	for _, in := range tokenCases {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkFastToken(t, b) })
}

// endpoint4Pair reads each of its two endpoints as endpoint4 does, whichever of them is long
// enough for the paired loop.
func TestEndpoint4Pair(t *testing.T) {
	for _, a := range endpoint4Cases {
		for _, b := range endpoint4Cases {
			checkPair(t, []byte(a.in), []byte(b.in))
		}
	}
}

func checkPair(t *testing.T, a, b []byte) {
	t.Helper()
	wa, wb, ok := endpoint4Pair(a, b)
	ea, okA := endpoint4(a)
	eb, okB := endpoint4(b)
	want, wantOK := [2]uint64{ea, eb}, okA && okB
	if !wantOK {
		want = [2]uint64{}
	}
	if [2]uint64{wa, wb} != want || ok != wantOK {
		t.Errorf("endpoint4Pair(%q, %q) = %#x, %#x, %v, want %#x, %#x, %v", a, b, wa, wb, ok, want[0], want[1], wantOK)
	}
}

func FuzzEndpoint4Pair(f *testing.F) {
	for i, tc := range endpoint4Cases {
		f.Add([]byte(tc.in), []byte(endpoint4Cases[(i+1)%len(endpoint4Cases)].in))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) { checkPair(t, a, b) })
}

var portEndCases = []string{
	"1.2.3.4:0", "1.2.3.4:80", "10.24.98.183:25505", "10.24.98.183:65535", "10.24.98.183:65536", "1.2.3.4:00000080",
	"1.2.3.4:000000080", "1.2.3.4:99999999", "1.2.3.4:9a", "1.2.3.4:/0", "1.2.3.4::0", "1.2.3.4:", "1.2.3.4:\xff1",
	"...:....:5", "255.255.255.255:1", "1.1.1.1:12345678", ":1", "1:1", "1.2.3.4:8:0",
}

// portEnd reads the port after the last ':' of a token as port4 does, whatever the bytes before.
func TestPortEnd(t *testing.T) {
	for _, in := range portEndCases {
		t.Run(fmt.Sprintf("%q", in), func(t *testing.T) { checkPortEnd(t, []byte(in)) })
	}
}

func checkPortEnd(t *testing.T, tok []byte) {
	t.Helper()
	start := bytes.LastIndexByte(tok, ':') + 1
	if start == 0 {
		start = len(tok) / 2
	}
	got, ok := portEnd(tok, start)
	want, wantOK := port4(tok[start:])
	if got != want || ok != wantOK {
		t.Errorf("portEnd(%q, %d) = %d, %v, want %d, %v (port4)", tok, start, got, ok, want, wantOK)
	}
}

func FuzzPortEnd(f *testing.F) {
	for _, in := range portEndCases {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, tok []byte) { checkPortEnd(t, tok) })
}

var fastStampCases = []string{
	"", "Nov  9 00:00:01 host kernel: ipfw: 1", "Nov 19 00:00:01 host", "Nov 9 00:00:01 host", "Nov   9 00:00:01 host",
	"Nov  9 00:00:01.123 host", "Nov  9 00:00:01", "Nov  9 00:00:01\t", "2002 Sep 15 07:47:04 host", "<161>Oct 10 07:25:12 host",
	"<134>1 2026-03-20T14:49:24.202833+00:00 host", "2026-03-20 14:49:24 x", "Xyz  9 00:00:01 host", "Nov  a 00:00:01 host",
	"Nov a9 00:00:01 host", "Nov 99 00:00:01 host", "Nov  9 0a:00:01 host", "Nov  9 00:00:01.x host", "Nov\x009 00:00:01 host",
}

// fastStamp finds the timestamp leadingStamp finds, in the common shape and in every other.
func TestFastStamp(t *testing.T) {
	for _, in := range fastStampCases {
		t.Run(fmt.Sprintf("%q", in), func(t *testing.T) { checkFastStamp(t, []byte(in)) })
	}
}

func checkFastStamp(t *testing.T, line []byte) {
	t.Helper()
	got, ok := fastStamp(line)
	want, _, wantOK := leadingStamp(line)
	if !bytes.Equal(got, want) || ok != wantOK {
		t.Errorf("fastStamp(%q) = %q, %v, want %q, %v (leadingStamp)", line, got, ok, want, wantOK)
	}
}

func FuzzFastStamp(f *testing.F) {
	for _, in := range fastStampCases {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, line []byte) { checkFastStamp(t, line) })
}
