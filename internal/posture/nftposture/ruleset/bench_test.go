package ruleset

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// largeRuleset is a default-deny inet table of n rules: one in two opens a port (tcp or udp),
// the other lets one source address reach ssh (an allowlist), behind the usual
// established/loopback rules, with a rate-limited log before the final drop.
func largeRuleset(n int, sources bool) *Ruleset {
	rules := []*Rule{rule(1, ctStateIn(6), accept()), rule(2, iifLo(), accept())}
	for i := 0; i < n; i++ {
		h := uint64(10 + i)
		switch {
		case sources && i%2 == 1:
			a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
			rules = append(rules, rule(h, saddr(a.String()+"/32"), tcpDport(22), accept()))
		case i%4 == 0:
			rules = append(rules, rule(h, udpDport(uint16(20000+i)), accept()))
		default:
			rules = append(rules, rule(h, tcpDport(uint16(1024+i)), accept()))
		}
	}
	rules = append(rules, rule(uint64(20+n), limit(10), logp("drop: ")), rule(uint64(21+n), drop()))
	return &Ruleset{Tables: []*TableDef{inet("filter", base("input", "input", 0, "drop", rules...))}}
}

// banned is a ban table as the blocker keeps one (n addresses in a set, dropped in prerouting)
// in front of the default-deny table of largeRuleset(100, false).
func banned(n int) *Ruleset {
	var els []Element
	for i := 0; i < n; i++ {
		a := netip.AddrFrom4([4]byte{198, byte(i >> 16), byte(i >> 8), byte(i)})
		els = append(els, Element{Key: a.AsSlice()})
	}
	rs := largeRuleset(100, false)
	rs.Tables = append(rs.Tables, &TableDef{
		Family: "inet", Name: "firewarden",
		Sets: []*Set{{Name: "ban4", KeyLen: 4, KeyType: "ipv4_addr", Elements: els}},
		Chains: []*Chain{base("prerouting", "prerouting", -200, "accept",
			rule(1, nfproto(false), []Expr{Payload{Base: 1, Offset: 12, Len: 4, DReg: 1}, Lookup{Set: "ban4", SReg: 1}}, drop()),
		)},
	})
	return rs
}

func BenchmarkAnalyseBanSet(b *testing.B) {
	rs := banned(10000)
	for b.Loop() {
		Analyse(rs)
	}
}

func TestBanSet(t *testing.T) {
	a := Analyse(banned(300))
	// The 300 banned addresses are 198.0.0.0 to 198.0.1.43.
	want := []netip.Prefix{netip.MustParsePrefix("198.0.0.0/24"), netip.MustParsePrefix("198.0.1.0/27"),
		netip.MustParsePrefix("198.0.1.32/29"), netip.MustParsePrefix("198.0.1.40/30")}
	for _, o := range a.Families[0].Open {
		if o.Sources != nil || !slices.Equal(o.Except, want) {
			t.Fatalf("Analyse(ban set) opens %s %d-%d from %v except %v, want from anywhere except %v", o.Proto, o.From, o.To, o.Sources, o.Except, want)
		}
	}
	if got := only(summary(a), "ipv6 open tcp 1025"); len(got) != 1 || strings.Contains(got[0], "from") {
		t.Errorf("Analyse(ban set) IPv6 = %q, want port 1025 open from anywhere", got)
	}
}

func BenchmarkAnalyse(b *testing.B) {
	for _, n := range []int{100, 5000} {
		for _, src := range []bool{false, true} {
			rs := largeRuleset(n, src)
			name := fmt.Sprintf("rules=%d/ports", n)
			if src {
				name = fmt.Sprintf("rules=%d/ports+sources", n)
			}
			b.Run(name, func(b *testing.B) {
				for b.Loop() {
					Analyse(rs)
				}
			})
		}
	}
}

func TestLargeRuleset(t *testing.T) {
	a := Analyse(largeRuleset(200, true))
	if got := a.Families[0].Unmatched.Verdict; got != Drop {
		t.Errorf("Analyse(large).ipv4 unmatched = %s, want drop", got)
	}
	// 100 source rules for ssh, 150 … no: one in two rules is a source rule; of the rest,
	// one in four… count the expected opens directly.
	wantTCP, wantUDP := 0, 0
	for i := 0; i < 200; i++ {
		switch {
		case i%2 == 1:
		case i%4 == 0:
			wantUDP++
		default:
			wantTCP++
		}
	}
	var tcp, udp, ssh int
	for _, o := range a.Families[0].Open {
		switch {
		case o.Proto == "tcp" && o.From == 22:
			ssh += len(o.Sources)
		case o.Proto == "tcp":
			tcp += int(o.To-o.From) + 1
		case o.Proto == "udp":
			udp += int(o.To-o.From) + 1
		}
	}
	if tcp != wantTCP || udp != wantUDP || ssh != 100 {
		t.Errorf("Analyse(large) opens %d tcp ports, %d udp ports, ssh from %d prefixes; want %d, %d, 100", tcp, udp, ssh, wantTCP, wantUDP)
	}
}

func TestWorkCap(t *testing.T) {
	a := analyse(largeRuleset(100, false), 50)
	n := 0
	for _, note := range a.Notes {
		if strings.Contains(note.What, "needs more than 50 rule evaluations") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("analyse(100 rules, cap 50) notes = %q, want one saying the cap was reached", only(summary(a), "note"))
	}
}

// bannedVmap is banned(n) written as a source verdict map (`ip saddr vmap { a : drop, … }`),
// which the analysis runs element by element.
func bannedVmap(n int) *Ruleset {
	rs := banned(n)
	t := rs.Tables[len(rs.Tables)-1]
	s := t.Sets[0]
	s.Name, s.Anonymous, s.Map, s.Verdicts = "__map0", true, true, true
	for i := range s.Elements {
		s.Elements[i].Verdict = &Jump{Code: VerdictDrop}
	}
	t.Chains[0].Rules[0] = rule(1, nfproto(false), []Expr{Payload{Base: 1, Offset: 12, Len: 4, DReg: 1}, Lookup{Set: "__map0", SReg: 1, HasDReg: true}})
	return rs
}

func BenchmarkAnalyseBanVmap(b *testing.B) {
	rs := bannedVmap(10000)
	for b.Loop() {
		Analyse(rs)
	}
}

// TestBanVmap: a source verdict map of drops opens exactly what the same addresses in a set
// with a drop rule open.
func TestBanVmap(t *testing.T) {
	want := only(summary(Analyse(banned(300))), "ipv4 open", "ipv6 open")
	got := only(summary(Analyse(bannedVmap(300))), "ipv4 open", "ipv6 open")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Analyse(ban vmap) mismatch with the ban set (-want +got):\n%s", diff)
	}
}
