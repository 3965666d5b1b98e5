package rules

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// pfGen writes random small rule sets from the grammar ParsePF accepts, for checking the compiled
// evaluator against the reference interpreter.
type pfGen struct {
	r     *rand.Rand
	files map[string]string
	n     int
}

func (g *pfGen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

func (g *pfGen) chance(pct int) bool { return g.r.IntN(100) < pct }

func pfRandomConf(r *rand.Rand) (string, map[string]string) {
	g := &pfGen{r: r, files: map[string]string{}}
	var b strings.Builder
	if g.chance(60) {
		b.WriteString("table <t1> { 10.0.0.0/8, !10.1.0.0/16, 2001:db8::/32, 192.0.2.7 }\n")
	}
	b.WriteString("table <t2> { 192.0.2.0/25, ::1 }\n")
	if g.chance(25) {
		b.WriteString("set skip on " + g.pick("lo0", "{ lo0 en1 }", "lo", "{ lo egress }") + "\n")
	}
	if g.chance(25) {
		b.WriteString("set block-policy return\n")
	}
	for range 1 + g.r.IntN(10) {
		b.WriteString(g.stmt(0))
	}
	return b.String(), g.files
}

func (g *pfGen) stmt(depth int) string {
	if depth < 2 && g.chance(15) {
		return g.anchor(depth)
	}
	if g.chance(8) {
		return "antispoof " + g.pick("", "quick ", "log ") + "for " + g.pick("lo0", "en0", "(en0)", "{ lo0 en0 }", "lo", "en1") + g.pick("", " inet", " inet6") + "\n"
	}
	return g.rule()
}

// cond writes "[on …] [af] [proto …] [hosts]" and returns the protocol it chose.
func (g *pfGen) cond(anchor bool) (string, string, string) {
	var parts []string
	if g.chance(35) {
		parts = append(parts, "on "+g.pick("en0", "!en1", "{ en0 en1 }", "lo0", "{ en0, !utun0 }", "egress", "!egress", "lo", "{ lo en1 }"))
	}
	proto := ""
	if g.chance(70) {
		proto = g.pick("tcp", "tcp", "udp", "icmp", "icmp6", "{ tcp udp }", "47")
	}
	af := ""
	switch {
	case proto == "icmp":
		af = g.pick("", "inet")
	case proto == "icmp6":
		af = g.pick("", "inet6")
	case g.chance(25):
		af = g.pick("inet", "inet6")
	}
	if af != "" {
		parts = append(parts, af)
	}
	if proto != "" {
		parts = append(parts, "proto "+proto)
	}
	fam := af
	if fam == "" {
		fam = g.pick("inet", "inet6")
	}
	ports := proto == "tcp" || proto == "udp" || proto == "{ tcp udp }"
	if g.chance(15) {
		parts = append(parts, "all")
	} else {
		for _, dir := range []string{"from", "to"} {
			if !g.chance(65) {
				continue
			}
			s := dir + " " + g.hosts(fam)
			if ports && g.chance(50) {
				s += " port " + g.pick("22", "ssh", "{ 22 80 }", "1000:2000", "> 1023", "!= 53", "1000 >< 2000", "1000 <> 2000", "<= 80", "{ 53, 443, 3000:3005 }")
			}
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " "), proto, af
}

func (g *pfGen) hosts(fam string) string {
	one := func() string {
		var e string
		if g.chance(50) {
			e = g.pick("any", "self", "<t1>", "<t2>", "<nodef>", "(en0)", "en1")
		} else if fam == "inet" {
			e = g.pick("10.0.0.0/8", "10.1.2.3", "192.0.2.0/24", "192.0.2.128/25", "127.0.0.1", "0.0.0.0/0", "10.0.0.5 - 10.0.0.9", "10/8")
		} else {
			e = g.pick("2001:db8::/32", "2001:db8::1", "::1", "::/0", "fe80::/10")
		}
		if g.chance(25) {
			e = "!" + e
		}
		return e
	}
	if g.chance(25) {
		return "{ " + one() + ", " + one() + " " + one() + " }"
	}
	return one()
}

func (g *pfGen) rule() string {
	cond, proto, af := g.cond(false)
	var b strings.Builder
	pass := g.chance(50)
	if pass {
		b.WriteString("pass")
	} else {
		b.WriteString("block")
		if proto == "tcp" && g.chance(20) {
			b.WriteString(" return-rst")
		} else if g.chance(40) {
			b.WriteString(" " + g.pick("drop", "return", "return-icmp", "return-icmp6"))
		}
	}
	if g.chance(70) {
		b.WriteString(" " + g.pick("in", "out"))
	}
	if g.chance(10) {
		b.WriteString(" log")
	}
	if g.chance(30) {
		b.WriteString(" quick")
	}
	if cond != "" {
		b.WriteString(" " + cond)
	}
	if (proto == "" || proto == "tcp" || proto == "{ tcp udp }") && g.chance(25) {
		b.WriteString(" flags " + g.pick("S/SA", "any", "A/A", "/SA", "SA/SA", "S/FSRA"))
	}
	if proto == "icmp" && af == "inet" && g.chance(50) {
		b.WriteString(" icmp-type " + g.pick("echoreq", "{ 0 8 code 0 }", "unreach code 3", "3"))
	}
	if proto == "icmp6" && af == "inet6" && g.chance(50) {
		b.WriteString(" icmp6-type " + g.pick("echoreq", "{ 128 135 }", "unreach code 4"))
	}
	if pass && g.chance(50) {
		b.WriteString(" " + g.pick("keep state", "no state", "modulate state", "keep state (max 10, source-track rule)"))
	}
	b.WriteString("\n")
	return b.String()
}

func (g *pfGen) anchor(depth int) string {
	g.n++
	quick := ""
	if g.chance(35) {
		quick = " quick"
	}
	dir := g.pick("", " in", " out")
	cond := ""
	if g.chance(50) {
		cond, _, _ = g.cond(true)
		cond = " " + cond
	}
	var b strings.Builder
	switch g.r.IntN(3) {
	case 0:
		fmt.Fprintf(&b, "anchor \"n%d\"%s%s%s {\n", g.n, dir, quick, cond)
		if g.chance(30) {
			b.WriteString("table <t2> { 10.0.0.0/8 }\n")
		}
		for range 1 + g.r.IntN(4) {
			b.WriteString(g.stmt(depth + 1))
		}
		b.WriteString("}\n")
	case 1:
		fmt.Fprintf(&b, "anchor \"w%d/*\"%s%s%s\n", g.n, dir, quick, cond)
		for _, child := range []string{"c", "a", "b"}[:1+g.r.IntN(3)] {
			file := fmt.Sprintf("/w%d%s", g.n, child)
			var f strings.Builder
			if g.chance(30) {
				f.WriteString("table <t1> { 192.0.2.0/24 }\n")
			}
			for range 1 + g.r.IntN(3) {
				f.WriteString(g.stmt(depth + 1))
			}
			g.files[file] = f.String()
			fmt.Fprintf(&b, "load anchor \"w%d/%s\" from \"%s\"\n", g.n, child, file)
		}
	default:
		fmt.Fprintf(&b, "anchor \"empty%d\"%s%s\n", g.n, dir, quick)
	}
	return b.String()
}

func pfRandomAddr(r *rand.Rand, fam int) netip.Addr {
	v4 := []string{"10.0.0.1", "10.1.2.3", "10.0.0.7", "10.0.0.9", "10.0.0.10", "192.0.2.7", "192.0.2.200", "127.0.0.1", "203.0.113.9", "0.0.0.0", "255.255.255.255"}
	v6 := []string{"2001:db8::1", "2001:db8::", "::1", "fe80::1", "2001:db9::1", "::", "ffff::1"}
	if fam == 4 {
		return netip.MustParseAddr(v4[r.IntN(len(v4))])
	}
	return netip.MustParseAddr(v6[r.IntN(len(v6))])
}

// pfRandomPacket draws a packet from values the random rule sets care about, including odd ones
// (no address, mixed families, IPv4-mapped IPv6, an unset direction) that the evaluators must
// still agree on.
func pfRandomPacket(r *rand.Rand) Packet {
	p := Packet{ICMPType: -1, ICMPCode: -1}
	fam := 4
	if r.IntN(3) == 0 {
		fam = 6
	}
	p.Src, p.Dst = pfRandomAddr(r, fam), pfRandomAddr(r, fam)
	switch r.IntN(40) {
	case 0:
		p.Src = netip.Addr{}
	case 1:
		p.Dst = pfRandomAddr(r, 10-fam)
	case 2:
		p.Src = netip.AddrFrom16(netip.MustParseAddr("10.0.0.1").As16())
	}
	protos := []uint8{ProtoTCP, ProtoTCP, ProtoTCP, ProtoUDP, ProtoUDP, ProtoICMP, ProtoICMPv6, 47, 0}
	p.Proto = protos[r.IntN(len(protos))]
	ports := []uint16{0, 22, 53, 80, 443, 999, 1000, 1023, 1024, 1500, 2000, 2001, 3003, 8080, 65535}
	p.SrcPort, p.DstPort = ports[r.IntN(len(ports))], ports[r.IntN(len(ports))]
	if r.IntN(4) == 0 {
		p.DstPort = uint16(r.IntN(65536))
	}
	switch r.IntN(20) {
	case 0:
		p.Dir = 0
	case 1:
		p.Dir = 7
	default:
		p.Dir = In + Dir(r.IntN(2))
	}
	p.Iface = []string{"en0", "en1", "lo0", "", "utun0"}[r.IntN(5)]
	if p.Proto == ProtoTCP {
		switch r.IntN(10) {
		case 0, 1, 2, 3:
			p.Setup = true
		case 9:
		default:
			p.Established = true
		}
	}
	if r.IntN(5) == 0 {
		p.Reply = true
		if p.Proto == ProtoTCP {
			p.Setup, p.Established = false, true
		}
	}
	p.Frag = r.IntN(20) == 0
	if p.Proto == ProtoICMP || p.Proto == ProtoICMPv6 {
		p.ICMPType = []int16{-1, 0, 3, 8, 14, 128, 129, 135, 300}[r.IntN(9)]
		p.ICMPCode = []int16{-1, 0, 3, 4}[r.IntN(4)]
	}
	return p
}

// pfCheckRandom builds the rule set of a seed and compares Eval with the reference interpreter
// and Explain on random packets.
func pfCheckRandom(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	conf, files := pfRandomConf(r)
	// The interface table and groups of antispoof and "on egress"; sometimes none, so that
	// their unknown cases are compared too.
	var opts PFOptions
	if seed%3 != 0 {
		opts = PFOptions{
			Ifaces: map[string][]netip.Prefix{"en0": {netip.MustParsePrefix("192.0.2.10/24"), netip.MustParsePrefix("2001:db8::10/64")}},
			Groups: map[string][]string{"egress": {"en0"}},
		}
	}
	rs, err := ParsePFOptions(context.Background(), []byte(conf), "f.conf", pfMapLoader(files), opts)
	if err != nil {
		t.Fatalf("seed %d: generated rule set does not parse: %v\n%s", seed, err, conf)
	}
	// The same rule set in classifier blocks of a few rules, so that quick anchors and state
	// lookups cross blocks.
	size := 1 + int(seed%7)
	small, err := parsePFWith(context.Background(), []byte(conf), "f.conf", pfMapLoader(files), size, opts)
	if err != nil {
		t.Fatalf("seed %d: blocks of %d: %v", seed, size, err)
	}
	for range 64 {
		p := pfRandomPacket(r)
		got, want := rs.Eval(&p), rs.pfEvalReference(&p)
		ex, _ := rs.Explain(&p)
		if got != want || ex != want {
			t.Fatalf("seed %d: packet %s (%+v):\nEval = %+v\nreference = %+v\nExplain = %+v\nrule set:\n%s\nfiles: %v", seed, p, p, got, want, ex, conf, files)
		}
		if got := small.Eval(&p); got != want {
			t.Fatalf("seed %d: packet %s (%+v):\nEval in blocks of %d = %+v\nreference = %+v\nrule set:\n%s\nfiles: %v", seed, p, p, size, got, want, conf, files)
		}
	}
	want := rs.lintReference()
	if diff := cmp.Diff(want, rs.Lint()); diff != "" {
		t.Fatalf("seed %d: Lint differs from the reference (-want +got):\n%s\nrule set:\n%s", seed, diff, conf)
	}
	if diff := cmp.Diff(want, small.Lint()); diff != "" {
		t.Fatalf("seed %d: Lint in blocks of %d differs from the reference (-want +got):\n%s\nrule set:\n%s", seed, size, diff, conf)
	}
}

func FuzzPFEval(f *testing.F) {
	for seed := range uint64(32) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, seed uint64) { pfCheckRandom(t, seed) })
}

func TestPFEvalMatchesReference(t *testing.T) { checkSeeds(t, 1000, 2000, 300, pfCheckRandom) }

// checkSeeds runs check on n seeds from base (short of them with -short): the fixed seeds on
// which every `go test` compares a generator's compiled and reference evaluations, as its fuzz
// target does on the seeds it finds.
func checkSeeds(t *testing.T, base, n, short uint64, check func(t *testing.T, seed uint64)) {
	if testing.Short() {
		n = short
	}
	for seed := range n {
		check(t, base+seed)
	}
}

func FuzzParsePF(f *testing.F) {
	for _, tt := range pfEvalTests {
		f.Add(tt.conf)
	}
	for _, tt := range pfParseErrorTests {
		f.Add(tt.conf)
	}
	for _, name := range []string{"macos-stock/etc/pf.conf", "hardening/etc/pf.conf", "hardening/etc/pf.anchors/firewarden"} {
		b, err := os.ReadFile(filepath.Join("testdata/pf", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	files := map[string]string{
		"/etc/pf.anchors/com.apple":  "anchor \"200.AirDrop/*\"\nanchor \"250.ApplicationFirewall/*\"\n",
		"/etc/pf.anchors/firewarden": "table <firewarden> persist { 198.51.100.23 }\nblock drop in quick from <firewarden>\n",
		"/etc/pf.trusted":            "10.0.0.0/8\n",
		"/a":                         "pass in all\n",
	}
	f.Fuzz(func(t *testing.T, conf string) {
		rs, err := ParsePF([]byte(conf), "f.conf", pfMapLoader(files))
		if err != nil {
			return
		}
		r := rand.New(rand.NewPCG(1, 2))
		for range 16 {
			p := pfRandomPacket(r)
			got, want := rs.Eval(&p), rs.pfEvalReference(&p)
			ex, _ := rs.Explain(&p)
			if got != want || ex != want {
				t.Fatalf("packet %s: Eval = %+v, reference = %+v, Explain = %+v\nrule set:\n%s", p, got, want, ex, conf)
			}
		}
		if diff := cmp.Diff(rs.lintReference(), rs.Lint()); diff != "" {
			t.Fatalf("Lint differs from the reference (-want +got):\n%s\nrule set:\n%s", diff, conf)
		}
	})
}

// TestPFManyRules checks a rule set of more than 64 words of rules, where each summary bit of the
// classifier stands for several words.
func TestPFManyRules(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	g := &pfGen{r: r, files: map[string]string{}}
	var b strings.Builder
	b.WriteString("table <t1> { 10.0.0.0/8, !10.1.0.0/16, 2001:db8::/32, 192.0.2.7 }\ntable <t2> { 192.0.2.0/25, ::1 }\n")
	for range 5000 {
		b.WriteString(g.rule())
	}
	b.WriteString(g.anchor(0))
	rs, err := parsePF(context.Background(), []byte(b.String()), "many.conf", pfMapLoader(g.files), 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.blocks) != 1 || rs.blocks[0].group < 2 {
		t.Fatalf("%d rules: %d blocks, summary group = %d, want one block of group at least 2", rs.Len(), len(rs.blocks), rs.blocks[0].group)
	}
	for range 300 {
		p := pfRandomPacket(r)
		if got, want := rs.Eval(&p), rs.pfEvalReference(&p); got != want {
			t.Fatalf("packet %s: Eval = %+v, reference = %+v", p, got, want)
		}
	}
}

// TestPFLongIPv6Prefixes checks addresses among prefixes longer than /64, where several pieces of
// the address space share their high 64 bits and the lookup must search the low half too.
func TestPFLongIPv6Prefixes(t *testing.T) {
	conf := "block in all\n" +
		"pass in quick from { 2001:db8::1, 2001:db8::4/126, 2001:db8::100/120, 2001:db8:0:1::/64 } to any\n" +
		"block in quick from 2001:db8::6 to any\n" +
		"pass in quick from 2001:db8::/64 to 2001:db8::ff00/121\n"
	rs, err := ParsePF([]byte(conf), "v6.conf", nil)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(6, 6))
	for range 5000 {
		var b [16]byte
		copy(b[:], netip.MustParseAddr("2001:db8::").AsSlice())
		b[7] = byte(r.IntN(3))
		b[14], b[15] = byte(r.IntN(3)*0x7f), byte(r.IntN(256))
		src := netip.AddrFrom16(b)
		b[14] = byte(0xfe + r.IntN(2))
		p := Packet{Proto: ProtoTCP, Src: src, Dst: netip.AddrFrom16(b), Dir: In, Iface: "en0", SrcPort: 40000, DstPort: 22, Setup: true, ICMPType: -1, ICMPCode: -1}
		if got, want := rs.Eval(&p), rs.pfEvalReference(&p); got != want {
			t.Fatalf("packet %s: Eval = %+v, reference = %+v", p, got, want)
		}
	}
}
