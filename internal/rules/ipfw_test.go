package rules

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files and generated test data")

func loadIPFW(t testing.TB, name string) *IPFWRuleset {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata/ipfw", name))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := ParseIPFW(data, name, builtinServices)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func builtinServices(name, proto string) (uint16, bool) {
	p, ok := map[string]uint16{"ssh": 22, "http": 80, "https": 443, "domain": 53, "smtp": 25}[name]
	return p, ok
}

func pkt(t testing.TB, s string) Packet {
	t.Helper()
	p, err := ParsePacket(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The article's walk-through: what its rule set does to the packets it discusses.
func TestArticleRules(t *testing.T) {
	rs := loadIPFW(t, "article-panther.list")
	tests := []struct {
		packet string
		action Action
		where  string
	}{
		{"tcp 127.0.0.1:5000 -> 127.0.0.1:631 in via lo0 setup", Allow, "02000"},            // loopback allowed first
		{"tcp 192.0.2.10:49152 -> 198.51.100.7:443 out via en0 setup", Allow, "02050"},      // outbound connections
		{"tcp 198.51.100.7:443 -> 192.0.2.10:49152 in via en0 established", Allow, "02060"}, // their replies
		{"tcp 203.0.113.5:51234 -> 192.0.2.10:80 in via en0 setup", Allow, "02070"},         // web sharing
		{"tcp 203.0.113.5:51234 -> 192.0.2.10:427 in via en0 setup", Allow, "02080"},        // SLP
		{"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup", Deny, "12190"},          // "a good thing we have stopped them here"
		{"udp 203.0.113.5:5353 -> 192.0.2.10:137 in via en0", Allow, "65535"},               // no final deny: UDP gets in
		{"icmp 203.0.113.5 -> 192.0.2.10 in via en0 type 8 code 0", Allow, "65535"},         // and so does ICMP
	}
	for _, tt := range tests {
		p := pkt(t, tt.packet)
		v := rs.Eval(&p)
		if v.Action != tt.action || v.Where != tt.where {
			t.Errorf("Eval(%s) = %s at %s, want %s at %s", tt.packet, v.Action, v.Where, tt.action, tt.where)
		}
		if ref, _ := rs.Explain(&p); ref != v {
			t.Errorf("Explain(%s) = %+v, Eval = %+v", tt.packet, ref, v)
		}
	}
}

func TestParseIPFWForms(t *testing.T) {
	show := loadIPFW(t, "show-with-counters.txt")
	if len(show.Rules) != 4 || show.Rules[1].Num != 2050 || show.Rules[1].Text != "allow tcp from any to any out" || show.Default != Allow {
		t.Errorf("ipfw show parse: %+v", show.Rules)
	}
	script := loadIPFW(t, "script.sh")
	var nums []int
	for _, r := range script.Rules {
		nums = append(nums, r.Num)
	}
	if diff := cmp.Diff([]int{100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100}, nums); diff != "" {
		t.Errorf("script rule numbers (-want +got):\n%s", diff)
	}
	tests := []struct {
		packet string
		action Action
		where  string
	}{
		{"tcp 192.0.2.10:50000 -> 198.51.100.7:443 out via en0 setup", Allow, "00400"},
		{"tcp 198.51.100.7:443 -> 192.0.2.10:50000 in via en0 established", Allow, "00300"}, // dynamic rule from 00400
		{"tcp 192.0.2.77:40000 -> 192.0.2.10:80 in via en0 setup", Allow, "01000"},          // skipto 1000
		{"tcp 203.0.113.9:40000 -> 192.0.2.10:80 in via en0 setup", Deny, "00900"},
		{"tcp 203.0.113.9:40000 -> 192.0.2.10:22 in via en0 setup", Allow, "00700"},
		{"icmp 203.0.113.9 -> 192.0.2.10 in via en0 type 8", Allow, "00800"},
		{"icmp 203.0.113.9 -> 192.0.2.10 in via en0 type 13", Deny, "00900"},
		{"udp 127.0.0.2:1 -> 192.0.2.10:2 in via en0", Deny, "00200"},
	}
	for _, tt := range tests {
		p := pkt(t, tt.packet)
		v := script.Eval(&p)
		if v.Action != tt.action || v.Where != tt.where {
			t.Errorf("Eval(%s) = %s at %s, want %s at %s", tt.packet, v.Action, v.Where, tt.action, tt.where)
		}
		if ref, _ := script.Explain(&p); ref != v {
			t.Errorf("Explain(%s) = %+v, Eval = %+v", tt.packet, ref, v)
		}
	}
}

var ipfwParseErrorTests = map[string]string{
	"100 allow tcp from any to any 99999":            "port 99999 out of range",
	"100 frobnicate ip from any to any":              `unknown action "frobnicate"`,
	"100 allow tcp from any":                         `want "to"`,
	"100 allow tcp from 10.0.0.0:255.0.255.0 to any": "netmask is not contiguous",
	"70000 allow ip from any to any":                 "out of range",
	"100 skipto ip from any to any":                  "skipto needs a rule number",
}

func TestParseIPFWErrors(t *testing.T) {
	for in, want := range ipfwParseErrorTests {
		_, err := ParseIPFW([]byte(in), "x", builtinServices)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "x:1: ") {
			t.Errorf("ParseIPFW(%q) error = %v, want x:1: …%s", in, err, want)
		}
	}
}

// packetParseTests are packet specs ParsePacket accepts (ok) or refuses.
var packetParseTests = []struct {
	in string
	ok bool
}{
	{"tcp [2001:db8::1]:51234 -> [2001:db8::2]:22 in via en0 setup", true},
	{"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0", true},
	{"udp 192.0.2.1:53 -> 192.0.2.2:5353 out on en1 frag", true},
	{"icmp 203.0.113.5 -> 192.0.2.10 in via en0 type 8 code 0", true},
	{"icmp6 2001:db8::1 -> 2001:db8::2 out type 128", true},
	{"47 192.0.2.1 -> 192.0.2.2 in", true},
	{"tcp 1.2.3.4:1 -> 5.6.7.8:2", false},
	{"tcp 1.2.3.4 -> 5.6.7.8:2 in", false},
	{"udp 1.2.3.4:1 -> 5.6.7.8:2 in setup", false},
	{"foo 1.2.3.4:1 -> 5.6.7.8:2 in", false},
	{"tcp 1.2.3.4:1 -> [::1]:2 in", false},
	{"icmp 1.2.3.4 -> 5.6.7.8 in type 300", false},
	{"tcp 1.2.3.4:1 -> 5.6.7.8:2 in via", false},
}

func TestParsePacket(t *testing.T) {
	p := pkt(t, "tcp [2001:db8::1]:51234 -> [2001:db8::2]:22 in via en0 setup")
	if !p.Src.Is6() || p.DstPort != 22 || !p.Setup || p.Established || p.Iface != "en0" {
		t.Errorf("ParsePacket v6 = %+v", p)
	}
	for _, tt := range packetParseTests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := ParsePacket(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ParsePacket(%q) error = %v, want ok %v", tt.in, err, tt.ok)
			}
			if err != nil {
				return
			}
			if q, err := ParsePacket(p.String()); err != nil || !q.Equal(p) {
				t.Errorf("ParsePacket(%q.String() = %q) = %+v, %v, want %+v", tt.in, p.String(), q, err, p)
			}
		})
	}
}

// FuzzParsePacket checks that ParsePacket never panics and that what it accepts prints back to a
// spec that parses to the same packet.
func FuzzParsePacket(f *testing.F) {
	for _, tt := range packetParseTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePacket(s)
		if err != nil {
			return
		}
		q, err := ParsePacket(p.String())
		if err != nil || !q.Equal(p) {
			t.Fatalf("ParsePacket(%q) = %+v, printed %q, which parses to %+v, %v", s, p, p.String(), q, err)
		}
	})
}

// randomRuleset builds a rule set from the grammar with few distinct values, so that rules and
// packets collide often.
func randomRuleset(r *rand.Rand, n int) string {
	addrs := []string{"any", "me", "10.0.0.0/8", "10.1.0.0/16", "192.0.2.1", "not 10.0.0.0/8", "{ 192.0.2.1, 10.1.2.0/24 }", "2001:db8::/32", "127.0.0.0:255.0.0.0"}
	var b strings.Builder
	for i := range n {
		num := 100 + i*10
		kind := r.IntN(10)
		proto := []string{"ip", "tcp", "udp", "icmp"}[r.IntN(4)]
		act := []string{"allow", "deny", "reject", "count"}[r.IntN(4)]
		if kind == 0 {
			fmt.Fprintf(&b, "%d skipto %d ip from %s to any\n", num, num+10*(1+r.IntN(5)), addrs[r.IntN(len(addrs))])
			continue
		}
		if kind == 1 {
			fmt.Fprintf(&b, "%d check-state\n", num)
			continue
		}
		fmt.Fprintf(&b, "%d %s %s from %s", num, act, proto, addrs[r.IntN(len(addrs))])
		if proto == "tcp" || proto == "udp" {
			if r.IntN(2) == 0 {
				b.WriteString(" " + []string{"22", "80,443", "1000-2000", "53"}[r.IntN(4)])
			}
		}
		fmt.Fprintf(&b, " to %s", addrs[r.IntN(len(addrs))])
		if proto == "tcp" || proto == "udp" {
			if r.IntN(2) == 0 {
				b.WriteString(" " + []string{"22", "80,443", "1000-2000", "53"}[r.IntN(4)])
			}
		}
		for _, opt := range []string{"in", "out", "via lo*", "recv en0", "keep-state", "frag"} {
			if r.IntN(6) == 0 {
				b.WriteString(" " + opt)
			}
		}
		if proto == "tcp" && r.IntN(4) == 0 {
			b.WriteString(" " + []string{"established", "setup"}[r.IntN(2)])
		}
		if proto == "icmp" && r.IntN(3) == 0 {
			b.WriteString(" icmptypes 0,8")
		}
		b.WriteString("\n")
	}
	return b.String()
}

func randomPacket(r *rand.Rand) Packet {
	addrs := []string{"10.1.2.3", "10.9.9.9", "192.0.2.1", "203.0.113.5", "127.0.0.1", "2001:db8::5", "2001:db9::5"}
	p := Packet{ICMPType: -1, ICMPCode: -1}
	src := netip.MustParseAddr(addrs[r.IntN(len(addrs))])
	dst := netip.MustParseAddr(addrs[r.IntN(len(addrs))])
	for src.Is4() != dst.Is4() {
		dst = netip.MustParseAddr(addrs[r.IntN(len(addrs))])
	}
	p.Src, p.Dst = src, dst
	p.Proto = []uint8{ProtoTCP, ProtoUDP, ProtoICMP, 47}[r.IntN(4)]
	if p.Proto == ProtoTCP || p.Proto == ProtoUDP {
		ports := []uint16{22, 53, 80, 443, 1500, 50000}
		p.SrcPort, p.DstPort = ports[r.IntN(len(ports))], ports[r.IntN(len(ports))]
	}
	if p.Proto == ProtoICMP {
		p.ICMPType = int16([]int{0, 8, 3}[r.IntN(3)])
	}
	p.Dir = Dir(1 + r.IntN(2))
	p.Iface = []string{"en0", "lo0", "en1"}[r.IntN(3)]
	if p.Proto == ProtoTCP {
		p.Setup = r.IntN(2) == 0
		p.Established = !p.Setup
	}
	p.Frag = r.IntN(10) == 0
	return p
}

// FuzzIPFWEval checks the compiled classifier against the reference interpreter.
func FuzzIPFWEval(f *testing.F) {
	for _, seed := range []uint64{1, 2, 3, 42} {
		f.Add(seed, uint8(20))
	}
	f.Fuzz(func(t *testing.T, seed uint64, n uint8) { ipfwCheckRandom(t, seed, n) })
}

func TestIPFWEvalMatchesReference(t *testing.T) {
	for seed := range uint64(300) {
		ipfwCheckRandom(t, seed+100, uint8(seed))
	}
}

// ipfwCheckRandom builds a random rule set and compares Eval, in one classifier block and in
// several, with the reference interpreter, and Lint with the plain pairwise linter.
func ipfwCheckRandom(t *testing.T, seed uint64, n uint8) {
	{
		r := rand.New(rand.NewPCG(seed, 7))
		text := randomRuleset(r, int(n%80)+1)
		rs, err := ParseIPFW([]byte(text), "fuzz", builtinServices)
		if err != nil {
			t.Fatalf("generated rule set does not parse: %v\n%s", err, text)
		}
		// The same rules in classifier blocks of a few rules, so that skipto and state cross blocks.
		size := 1 + int(seed%9)
		small := *rs
		small.comp, err = rs.compile(context.Background(), size)
		if err != nil {
			t.Fatal(err)
		}
		for range 50 {
			p := randomPacket(r)
			want := rs.evalReference(&p, nil, 0)
			if got := rs.Eval(&p); got != want {
				t.Fatalf("Eval(%s) = %+v, reference %+v\nrules:\n%s", p, got, want, text)
			}
			if got := small.Eval(&p); got != want {
				t.Fatalf("Eval(%s) in blocks of %d = %+v, reference %+v\nrules:\n%s", p, size, got, want, text)
			}
		}
		if diff := cmp.Diff(rs.lintReference(LintOptions{}), small.Lint(LintOptions{})); diff != "" {
			t.Fatalf("Lint in blocks of %d differs from the reference (-want +got):\n%s\nrules:\n%s", size, diff, text)
		}
	}
}

func FuzzParseIPFW(f *testing.F) {
	for _, name := range []string{"article-panther.list", "show-with-counters.txt", "script.sh"} {
		data, _ := os.ReadFile(filepath.Join("testdata/ipfw", name))
		f.Add(data)
	}
	for in := range ipfwParseErrorTests {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := ParseIPFW(data, "fuzz", builtinServices)
		if err != nil {
			return
		}
		p := Packet{Proto: ProtoTCP, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Dir: In, Established: true, ICMPType: -1}
		if got, want := rs.Eval(&p), rs.evalReference(&p, nil, 0); got != want {
			t.Errorf("Eval = %+v, reference %+v", got, want)
		}
	})
}

// realistic writes (with -update) and loads the 1,000-rule benchmark set.
func realistic(t testing.TB) *IPFWRuleset {
	path := "testdata/ipfw/realistic-1000.list"
	if *update {
		r := rand.New(rand.NewPCG(1000, 1))
		var b strings.Builder
		b.WriteString("00100 allow ip from any to any via lo*\n00200 deny ip from 127.0.0.0/8 to any in\n00300 deny ip from any to 127.0.0.0/8 in\n00400 check-state\n00500 allow tcp from me to any out setup keep-state\n00600 allow udp from me to any out keep-state\n")
		num := 1000
		for i := 0; i < 990; i++ {
			num += 10
			host := fmt.Sprintf("10.%d.%d.%d", r.IntN(200), r.IntN(250), 1+r.IntN(250))
			net := fmt.Sprintf("172.%d.%d.0/24", 16+r.IntN(16), r.IntN(250))
			port := []string{"22", "25", "80", "443", "993", "3389", "5900", "8080", "1000-2000", "137-139"}[r.IntN(10)]
			switch r.IntN(8) {
			case 0:
				fmt.Fprintf(&b, "%05d deny ip from %s to any in\n", num, net)
			case 1:
				fmt.Fprintf(&b, "%05d allow tcp from %s to me %s in setup\n", num, host, port)
			case 2:
				fmt.Fprintf(&b, "%05d deny log tcp from %s to any %s in\n", num, net, port)
			case 3:
				fmt.Fprintf(&b, "%05d allow udp from %s to me %s in\n", num, net, port)
			case 4:
				fmt.Fprintf(&b, "%05d allow icmp from %s to any icmptypes 0,3,8,11\n", num, net)
			case 5:
				fmt.Fprintf(&b, "%05d count tcp from any to %s %s\n", num, host, port)
			case 6:
				fmt.Fprintf(&b, "%05d allow tcp from %s to %s %s recv en%d\n", num, net, host, port, r.IntN(2))
			default:
				fmt.Fprintf(&b, "%05d reject tcp from %s to any %s in setup\n", num, host, port)
			}
		}
		b.WriteString("65000 deny ip from any to any\n")
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return loadIPFW(t, filepath.Base(path))
}

func TestEvalNoAllocs(t *testing.T) {
	rs := realistic(t)
	rs.Compile()
	p := pkt(t, "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup")
	if n := testing.AllocsPerRun(100, func() { rs.Eval(&p) }); n != 0 {
		t.Errorf("Eval allocates %v times, want 0", n)
	}
	if len(rs.Rules) < 990 {
		t.Fatalf("realistic set has %d rules", len(rs.Rules))
	}
}

func BenchmarkIPFWEval(b *testing.B) {
	rs := realistic(b)
	rs.Compile()
	r := rand.New(rand.NewPCG(5, 5))
	packets := make([]Packet, 1024)
	for i := range packets {
		packets[i] = Packet{Proto: ProtoTCP, Src: netip.AddrFrom4([4]byte{172, byte(16 + r.IntN(16)), byte(r.IntN(250)), byte(r.IntN(250))}),
			Dst: netip.MustParseAddr("192.0.2.10"), SrcPort: uint16(1024 + r.IntN(60000)), DstPort: []uint16{22, 80, 443, 3389, 8080, 1500}[r.IntN(6)],
			Dir: In, Iface: "en0", Setup: true, ICMPType: -1, ICMPCode: -1}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		rs.Eval(&packets[i&1023])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "evals/s")
}

func TestLintArticle(t *testing.T) {
	rs := loadIPFW(t, "article-panther.list")
	kinds := map[string]bool{}
	for _, f := range rs.Lint(LintOptions{Keep: netip.MustParseAddrPort("203.0.113.5:22")}) {
		kinds[f.Kind] = true
	}
	// The article's set lets UDP and ICMP through the built-in 65535 and denies inbound ssh.
	for _, k := range []string{"no-final-deny", "lockout"} {
		if !kinds[k] {
			t.Errorf("Lint(article) lacks %s; got %v", k, kinds)
		}
	}
	for _, k := range []string{"loopback-blocked", "no-replies", "shadowed", "redundant"} {
		if kinds[k] {
			t.Errorf("Lint(article) reports %s; it should not", k)
		}
	}
}

func TestLintFindings(t *testing.T) {
	set := `100 deny ip from any to any via lo*
150 allow tcp from any to any 80 in
160 deny ip from 127.0.0.0/8 to any in
200 allow tcp from any to any out
300 deny tcp from any to any in
400 allow tcp from 10.0.0.0/8 to any 22 in
500 deny ip from any to any
600 allow udp from any to any
`
	rs, err := ParseIPFW([]byte(set), "t", builtinServices)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, f := range rs.Lint(LintOptions{}) {
		got[f.Kind] = f.Rules
		if f.Message == "" || f.Fix == "" {
			t.Errorf("finding %+v has no message or fix", f)
		}
	}
	want := map[string][]string{
		"after-catch-all":        {"00600", "00500"},
		"shadowed":               {"00400", "00300"},
		"loopback-blocked":       {"00100"},
		"no-replies":             {"00300"},
		"spoofing-allowed-first": {"00160", "00150"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Lint findings (-want +got):\n%s", diff)
	}
}

// Golden --explain traces for the article's packets, reviewed in the diff (-update rewrites).
func TestIPFWExplainGolden(t *testing.T) {
	rs := loadIPFW(t, "article-panther.list")
	var b strings.Builder
	for _, s := range []string{
		"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup",
		"tcp 198.51.100.7:443 -> 192.0.2.10:49152 in via en0 established",
		"udp 203.0.113.5:5353 -> 192.0.2.10:137 in via en0",
	} {
		p := pkt(t, s)
		v, steps := rs.Explain(&p)
		fmt.Fprintf(&b, "%s: %s by rule %s (%s)\n", p, v.Action, v.Where, v.Text)
		for _, st := range steps {
			fmt.Fprintf(&b, "  %-5v %s %-40s %s\n", st.Matched, st.Where, st.Text, st.Why)
		}
	}
	checkGolden(t, "testdata/ipfw/explain.golden", b.String(), "explain traces")
}

// ipfwScaleList is n rules in the mix of the realistic set, numbered in order (numbers repeat
// past 63,000 rules).
func ipfwScaleList(n int) string {
	r := rand.New(rand.NewPCG(uint64(n), 1))
	var b strings.Builder
	b.WriteString("00100 allow ip from any to any via lo*\n00200 deny ip from 127.0.0.0/8 to any in\n")
	for i := range n - 3 {
		num := 1000 + i*63000/n
		host := fmt.Sprintf("10.%d.%d.%d", r.IntN(200), r.IntN(250), 1+r.IntN(250))
		net := fmt.Sprintf("172.%d.%d.0/24", 16+r.IntN(16), r.IntN(250))
		port := []string{"22", "25", "80", "443", "993", "3389", "5900", "8080", "1000-2000", "137-139"}[r.IntN(10)]
		switch r.IntN(6) {
		case 0:
			fmt.Fprintf(&b, "%05d deny ip from %s to any in\n", num, net)
		case 1:
			fmt.Fprintf(&b, "%05d allow tcp from %s to me %s in setup\n", num, host, port)
		case 2:
			fmt.Fprintf(&b, "%05d allow udp from %s to me %s in\n", num, net, port)
		case 3:
			fmt.Fprintf(&b, "%05d allow icmp from %s to any icmptypes 0,3,8,11\n", num, net)
		case 4:
			fmt.Fprintf(&b, "%05d allow tcp from %s to %s %s recv en%d\n", num, net, host, port, r.IntN(2))
		default:
			fmt.Fprintf(&b, "%05d reject tcp from %s to any %s in setup\n", num, host, port)
		}
	}
	b.WriteString("65000 deny ip from any to any\n")
	return b.String()
}

// ipfwAllocBytes is the bytes parsing and compiling data allocates.
func ipfwAllocBytes(t testing.TB, data []byte) uint64 {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rs, err := ParseIPFW(data, "x", builtinServices)
	if err != nil {
		t.Fatal(err)
	}
	rs.Compile()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(rs)
	return after.TotalAlloc - before.TotalAlloc
}

// BenchmarkIPFWCompile parses and compiles generated rule lists of 10,000 and 100,000 rules and
// reports the bytes allocated per rule.
func BenchmarkIPFWCompile(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		data := []byte(ipfwScaleList(n))
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rs, err := ParseIPFW(data, "x", builtinServices)
				if err != nil {
					b.Fatal(err)
				}
				rs.Compile()
			}
			b.ReportMetric(float64(ipfwAllocBytes(b, data))/float64(n), "B/rule")
		})
	}
}

// TestIPFWCompileLinear checks that compiling grows linearly with the rule list: four times the
// rules cost about four times the bytes, not the sixteen of a cost in rules squared.
func TestIPFWCompileLinear(t *testing.T) {
	const n = 4_000 // several classifier blocks
	small := ipfwAllocBytes(t, []byte(ipfwScaleList(n)))
	large := ipfwAllocBytes(t, []byte(ipfwScaleList(4*n)))
	if ratio := float64(large) / float64(small); ratio > 6 {
		t.Errorf("ParseIPFW and Compile allocate %d bytes for %d rules and %d for %d: %.1f times, want at most 6 (linear growth)", small, n, large, 4*n, ratio)
	}
}
