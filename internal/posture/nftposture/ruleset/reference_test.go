package ruleset

import (
	"fmt"
	"net/netip"
	"testing"
)

// A reference for the analysis: rules of a destination port (or range, or its negation), a
// source prefix (or its negation) and a verdict, in one base chain with an optional jump to a
// second chain, evaluated packet by packet. FuzzAnalyseReference checks that Analyse's Open
// agrees with it for every port and source that the rules name, and their neighbours.

var refPrefixes = []string{"10.0.0.0/8", "10.1.0.0/16", "10.1.2.3/32", "192.168.0.0/16", "0.0.0.0/1", "10.1.2.0/23"}

type refRule struct {
	lo, hi  uint16 // destination ports; hasPort
	hasPort bool
	notPort bool
	prefix  netip.Prefix
	hasSrc  bool
	notSrc  bool
	verdict byte // 0 accept, 1 drop, 2 jump sub, 3 return, 4 reject
	// vmap: the rule is a verdict map of one element (no negations): on the source prefix
	// (an interval map), on tcp . the port range, or on the source . the port range.
	vmap bool
}

// decodeRefRules turns fuzz bytes into rules, 4 bytes each.
func decodeRefRules(b []byte) (main, sub []refRule, policyDrop bool) {
	if len(b) > 0 {
		policyDrop = b[0]&1 == 1
		b = b[1:]
	}
	for i := 0; len(b) >= 4 && i < 12; i++ {
		r := refRule{}
		x, y, z, w := b[0], b[1], b[2], b[3]
		b = b[4:]
		if x&1 != 0 {
			r.hasPort, r.notPort = true, x&2 != 0
			r.lo = 20 + uint16(y%10)
			r.hi = r.lo + uint16(y/10%4)
		}
		if x&4 != 0 {
			r.hasSrc, r.notSrc = true, x&8 != 0
			r.prefix = netip.MustParsePrefix(refPrefixes[int(z)%len(refPrefixes)])
		}
		r.verdict = w % 5
		if x&32 != 0 && (r.hasPort || r.hasSrc) {
			r.vmap, r.notPort, r.notSrc = true, false, false
			if r.verdict == 4 {
				r.verdict = 1 // a verdict map holds verdicts, not reject
			}
		}
		if x&16 != 0 {
			if r.verdict == 2 {
				r.verdict = 1
			}
			sub = append(sub, r)
		} else {
			if r.verdict == 3 {
				r.verdict = 1
			}
			main = append(main, r)
		}
	}
	return main, sub, policyDrop
}

func (r refRule) matches(port uint16, src netip.Addr) bool {
	if r.hasPort && ((port >= r.lo && port <= r.hi) == r.notPort) {
		return false
	}
	if r.hasSrc && (r.prefix.Contains(src) == r.notSrc) {
		return false
	}
	return true
}

// refVerdict: 0 accept, 1 drop/reject, 2 fell off the end (or returned).
func refRun(rules, sub []refRule, port uint16, src netip.Addr, depth int) int {
	for _, r := range rules {
		if !r.matches(port, src) {
			continue
		}
		switch r.verdict {
		case 0:
			return 0
		case 1, 4:
			return 1
		case 3:
			return 2
		case 2:
			if depth > 0 {
				continue
			}
			if v := refRun(sub, nil, port, src, depth+1); v != 2 {
				return v
			}
		}
	}
	return 2
}

func (r refRule) verdictJump() *Jump {
	switch r.verdict {
	case 0:
		return &Jump{Code: VerdictAccept}
	case 2:
		return &Jump{Code: VerdictJump, Chain: "sub"}
	case 3:
		return &Jump{Code: VerdictReturn}
	}
	return &Jump{Code: VerdictDrop}
}

// vmapExprs is the rule as a verdict map of one element, with its map.
func (r refRule) vmapExprs(h uint64) (*Rule, *Set) {
	name := fmt.Sprintf("__map%d", h)
	s := &Set{Name: name, Anonymous: true, Map: true, Verdicts: true}
	lookup := Lookup{Set: name, SReg: 1, HasDReg: true}
	var first, last []byte
	if r.hasSrc {
		first, last = r.prefix.Addr().AsSlice(), lastAddr(r.prefix).AsSlice()
	}
	port := func(p uint16) []byte { return append(be16(p), 0, 0) }
	dport := Payload{Base: 2, Offset: 2, Len: 2, DReg: 9}
	var exprs []Expr
	switch {
	case r.hasPort && r.hasSrc:
		s.Concat = true
		s.Elements = []Element{{Key: append(first, port(r.lo)...), KeyEnd: append(last, port(r.hi)...), Verdict: r.verdictJump()}}
		exprs = []Expr{Payload{Base: 1, Offset: 12, Len: 4, DReg: 1}, dport, lookup}
	case r.hasPort:
		s.Concat = true
		s.Elements = []Element{{Key: append([]byte{6, 0, 0, 0}, port(r.lo)...), KeyEnd: append([]byte{6, 0, 0, 0}, port(r.hi)...), Verdict: r.verdictJump()}}
		exprs = []Expr{Meta{Key: metaL4Proto, DReg: 1}, dport, lookup}
	default:
		s.Interval = true
		s.Elements = []Element{{Key: first, Verdict: r.verdictJump()}}
		if next := lastAddr(r.prefix).Next(); next.IsValid() {
			s.Elements = append(s.Elements, Element{Key: next.AsSlice(), IntervalEnd: true})
		}
		exprs = []Expr{Payload{Base: 1, Offset: 12, Len: 4, DReg: 1}, lookup}
	}
	return rule(h, l4(6), exprs), s
}

func (r refRule) exprs(h uint64) *Rule {
	var parts [][]Expr
	parts = append(parts, l4(6))
	if r.hasPort {
		op := uint32(0)
		if r.notPort {
			op = 1
		}
		parts = append(parts, []Expr{Payload{Base: 2, Offset: 2, Len: 2, DReg: 1}, Range{Op: op, SReg: 1, From: be16(r.lo), To: be16(r.hi)}})
	}
	if r.hasSrc {
		e := saddr(r.prefix.String())
		if r.notSrc {
			c := e[len(e)-1].(Cmp)
			c.Op = 1
			e[len(e)-1] = c
		}
		parts = append(parts, e)
	}
	switch r.verdict {
	case 0:
		parts = append(parts, accept())
	case 1:
		parts = append(parts, drop())
	case 2:
		parts = append(parts, jump("sub"))
	case 3:
		parts = append(parts, ret())
	case 4:
		parts = append(parts, reject(1))
	}
	return rule(h, parts...)
}

func refRuleset(main, sub []refRule, policyDrop bool) *Ruleset {
	policy := "accept"
	if policyDrop {
		policy = "drop"
	}
	in := base("input", "input", 0, policy)
	t := &TableDef{Family: "ip", Name: "filter"}
	add := func(c *Chain, r refRule, h uint64) {
		if !r.vmap {
			c.Rules = append(c.Rules, r.exprs(h))
			return
		}
		rl, s := r.vmapExprs(h)
		c.Rules = append(c.Rules, rl)
		t.Sets = append(t.Sets, s)
	}
	for i, r := range main {
		add(in, r, uint64(1+i))
	}
	sc := regular("sub")
	for i, r := range sub {
		add(sc, r, uint64(100+i))
	}
	t.Chains = []*Chain{in, sc}
	return &Ruleset{Tables: []*TableDef{t}}
}

func openFor(a Analysis, port uint16, src netip.Addr) bool {
	for _, o := range a.Families[0].Open {
		if o.Proto != "tcp" || port < o.From || port > o.To || o.IIF != "" {
			continue
		}
		if o.Sources == nil {
			excluded := false
			for _, p := range o.Except {
				excluded = excluded || p.Contains(src)
			}
			if !excluded {
				return true
			}
			continue
		}
		for _, p := range o.Sources {
			if p.Contains(src) {
				return true
			}
		}
	}
	return false
}

func checkReference(t *testing.T, b []byte) {
	main, sub, policyDrop := decodeRefRules(b)
	a := Analyse(refRuleset(main, sub, policyDrop))
	var srcs []netip.Addr
	for _, p := range refPrefixes {
		pf := netip.MustParsePrefix(p)
		first, last := pf.Addr(), lastAddr(pf)
		srcs = append(srcs, first, last)
		if x := first.Prev(); x.IsValid() {
			srcs = append(srcs, x)
		}
		if x := last.Next(); x.IsValid() {
			srcs = append(srcs, x)
		}
	}
	srcs = append(srcs, netip.MustParseAddr("203.0.113.9"))
	for port := uint16(18); port <= 35; port++ {
		for _, s := range srcs {
			if s.Is4() && s.As4()[0] == 127 {
				continue
			}
			v := refRun(main, sub, port, s, 0)
			want := v == 0 || (v == 2 && !policyDrop)
			if got := openFor(a, port, s); got != want {
				t.Fatalf("rules %+v sub %+v policy drop %v: port %d from %s open = %v, want %v\n%s", main, sub, policyDrop, port, s, got, want, fmt.Sprint(summary(a)))
			}
		}
	}
}

func TestAnalyseReference(t *testing.T) {
	seeds := [][]byte{
		{1, 1, 2, 0, 0},                            // tcp dport 22 accept, policy drop
		{1, 5, 2, 0, 1, 1, 2, 0, 0},                // ip saddr … drop; dport 22 accept
		{0, 13, 4, 1, 1, 17, 0, 0, 0, 16, 0, 0, 3}, // not-source drop; jump sub where accept
		{1, 17, 5, 2, 0, 16, 0, 0, 2, 3, 6, 3, 0},
		{1, 33, 2, 0, 0},                            // tcp . 22 vmap accept, policy drop
		{1, 36, 0, 0, 0, 33, 12, 0, 1},              // ip saddr vmap accept; tcp . 22-23 vmap drop
		{0, 37, 31, 3, 2, 49, 2, 0, 1, 21, 0, 0, 0}, // source . ports vmap jump sub; vmap drop in sub
		{1, 36, 0, 5, 2, 17, 3, 0, 0, 37, 0, 2, 1},  // 10.1.2.0/23 vmap jump sub
	}
	for i, s := range seeds {
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkReference(t, s) })
	}
}

// FuzzAnalyseReference compares Analyse with the packet-by-packet reference.
func FuzzAnalyseReference(f *testing.F) {
	f.Add([]byte{1, 1, 2, 0, 0})
	f.Add([]byte{1, 5, 2, 0, 1, 1, 2, 0, 0})
	f.Add([]byte{0, 13, 4, 1, 1, 17, 0, 0, 0, 16, 0, 0, 3})
	f.Add([]byte{1, 33, 2, 0, 0})
	f.Add([]byte{1, 36, 0, 0, 0, 33, 12, 0, 1})
	f.Add([]byte{0, 37, 31, 3, 2, 49, 2, 0, 1, 21, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) { checkReference(t, b) })
}
