package rules

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Lint kinds for pf rule sets.
const (
	PFLintShadowed       = "shadowed"             // never decides: a rule with another action always decides first
	PFLintRedundant      = "redundant"            // never decides: a rule with the same action always decides first
	PFLintAfterCatchAll  = "after-catch-all"      // follows a quick rule that matches every packet
	PFLintNoDefaultBlock = "no-default-block"     // nothing blocks inbound packets by default
	PFLintNoStateReplies = "no-state-for-replies" // a stateless outbound pass whose replies are blocked
	PFLintNeverMatches   = "never-matches"        // the rule's conditions exclude each other
	PFLintNegatedList    = "negated-list"         // "{ a, !b }" matches everything but b
	PFLintUndefinedTable = "undefined-table"      // a table no statement defines
	PFLintOutOfOrder     = "out-of-order"         // statements in an order pfctl refuses
)

// Lint reports the mistakes of the rule set that change which packets pass: rules that can never
// decide (shadowed, redundant, after a catch-all, or matching nothing), a missing default block,
// stateless passes whose replies are dropped, negated list entries, undefined tables, and statement
// order pfctl would refuse. Coverage between rules is judged field by field on exact sets (addresses
// as intervals, ports, protocols with TCP flags and fragments, directions, interfaces, ICMP types),
// which can miss a rule covered only by several others together but never reports one that is not
// covered.
func (rs *PFRuleset) Lint() []Finding {
	out, _ := rs.lint(context.Background(), false)
	return out
}

// LintContext is Lint that gives up, returning ctx.Err(), soon after ctx is done.
func (rs *PFRuleset) LintContext(ctx context.Context) ([]Finding, error) {
	return rs.lint(ctx, false)
}

// lintReference is Lint with every pair of rules compared, the plain way the linter's index of
// candidates is checked against.
func (rs *PFRuleset) lintReference() []Finding {
	out, _ := rs.lint(context.Background(), true)
	return out
}

// pfLintCheckEvery is how many rules the linter handles between looks at its context.
const pfLintCheckEvery = 1024

func (rs *PFRuleset) lint(ctx context.Context, reference bool) ([]Finding, error) {
	l := pfLinter{rs: rs, reference: reference}
	l.combos()
	var out []Finding
	out = append(out, l.order()...)
	out = append(out, l.negatedLists()...)
	out = append(out, l.undefinedTables()...)
	dead, err := l.deadRules(ctx)
	if err != nil {
		return nil, err
	}
	out = append(out, dead...)
	out = append(out, l.defaultBlock()...)
	stateless, err := l.statelessReplies(ctx)
	if err != nil {
		return nil, err
	}
	out = append(out, stateless...)
	return out, nil
}

type pfLinter struct {
	reference bool // compare every pair of rules rather than the candidates the classifier finds
	rs        *PFRuleset
	combo     [][]uint64 // per rule: the (direction, protocol class, TCP state, fragment) it may match
	// comboMin is, per rule, the combinations whose every packet the rule matches. It differs
	// from combo for TCP flag tests the packet model cannot decide (see pfFlagsModelled).
	comboMin [][]uint64
	valid    []uint64 // the combinations packets can have
	nbits    int
	inOnly   []uint64 // the valid inbound combinations
}

func (l *pfLinter) combos() {
	reps := l.rs.reps
	nclass := len(reps)
	l.nbits = 3 * nclass * 8
	words := (l.nbits + 63) / 64
	l.valid, l.inOnly = make([]uint64, words), make([]uint64, words)
	l.combo = make([][]uint64, len(l.rs.rules))
	for i := range l.combo {
		l.combo[i] = make([]uint64, words)
	}
	l.comboMin = slices.Clone(l.combo)
	for d := range 3 {
		for cl, pv := range reps {
			for ts := range 4 {
				if (pv == ProtoTCP) != (ts != 0) {
					continue
				}
				for fr := range 2 {
					k := ((d*nclass+cl)*4+ts)*2 + fr
					pfSetBit(l.valid, k)
					if d == 1 {
						pfSetBit(l.inOnly, k)
					}
					for i := range l.rs.rules {
						// A match rule decides nothing, so it covers no rule and none covers it.
						if !l.rs.rules[i].f.match && pfComboMatch(&l.rs.rules[i], 1<<d, pv, pfStateFlags[ts], fr == 1) {
							pfSetBit(l.combo[i], k)
						}
					}
				}
			}
		}
	}
	// A rule whose flags the model cannot decide is judged as if it had no flags test (an
	// over-approximation of its packets, for the rule being covered) and as matching no TCP
	// combination whole (an under-approximation, for the rule covering). pf skips rules with
	// flags for non-first fragments, as it does with modelled flags.
	var loose pfRule
	var looseF pfFilter
	for i := range l.rs.rules {
		f := l.rs.rules[i].f
		if pfFlagsModelled(f) {
			continue
		}
		loose, looseF = l.rs.rules[i], *f
		looseF.flags, looseF.mask = 0, 0
		loose.f = &looseF
		clear(l.combo[i])
		l.comboMin[i] = make([]uint64, words)
		for k := 0; k < l.nbits; k++ {
			if !pfHasBit(l.valid, k) {
				continue
			}
			d, cl, ts, fr := k/(nclass*8), k/8%nclass, k/2%4, k%2
			pv := reps[cl]
			if !pfComboMatch(&loose, 1<<d, pv, pfStateFlags[ts], fr == 1) || pv == ProtoTCP && fr == 1 {
				continue
			}
			pfSetBit(l.combo[i], k)
			if pv != ProtoTCP {
				pfSetBit(l.comboMin[i], k)
			}
		}
	}
}

func pfSubset(a, b []uint64) bool {
	for i := range a {
		if a[i]&^b[i] != 0 {
			return false
		}
	}
	return true
}

// pfFlagsModelled reports whether the packet model decides the rule's TCP flags test for every
// real packet. pf.conf(5): "flags X/Y" matches the TCP packets whose flags masked by Y equal X,
// ignoring the flags outside Y, so "flags F/F", "flags FUP/FUP" and "flags /SFRA" are real scan
// rules. A Packet tells only a SYN without ACK (Setup), a packet with ACK or RST (Established)
// and one with neither; within those classes real packets differ in FIN, RST, PUSH, URG, ECE,
// CWR and (for Established) SYN, so only no flags test and pf's default S/SA are decided for a
// whole class. Other tests pick packets the model cannot tell apart.
func pfFlagsModelled(f *pfFilter) bool {
	return f.mask == 0 || f.flags == pfSYN && f.mask == pfSYN|pfACK
}

// covers reports whether every packet rule b matches is matched by rule a as well. A rule on a
// table filled at run time covers and is covered by nothing: its packets are unknown.
func (l *pfLinter) covers(a, b int) bool {
	ra, rb := &l.rs.rules[a], &l.rs.rules[b]
	if ra.uncertain() || rb.uncertain() || ra.post {
		return false // unsure, or a's ordered conditions (tagged, received-on, fragment) narrow it further
	}
	if !pfSubset(l.combo[b], l.comboMin[a]) || !rb.sport.subsetOf(ra.sport) || !rb.dport.subsetOf(ra.dport) || !rb.ifs.subsetOf(ra.ifs) {
		return false
	}
	if !rb.src.local.subsetOf(ra.src.local) || !rb.src.remote.subsetOf(ra.src.remote) ||
		!rb.dst.local.subsetOf(ra.dst.local) || !rb.dst.remote.subsetOf(ra.dst.remote) {
		return false
	}
	if len(ra.f.icmp) > 0 {
		if len(rb.f.icmp) == 0 {
			return false
		}
		for _, e := range rb.f.icmp {
			if !slices.ContainsFunc(ra.f.icmp, func(x pfICMPElem) bool { return x.typ == e.typ && (x.code < 0 || x.code == e.code) }) {
				return false
			}
		}
	}
	return true
}

// matchesNothing reports whether no packet can meet the rule's conditions.
func (l *pfLinter) matchesNothing(i int) bool {
	r := &l.rs.rules[i]
	if r.ifs.empty() || len(r.sport) == 0 || len(r.dport) == 0 {
		return true
	}
	for d := range 3 {
		any := false
		for k := 0; k < l.nbits; k++ {
			if k/(len(l.rs.reps)*8) == d && pfHasBit(l.combo[i], k) {
				any = true
				break
			}
		}
		if !any {
			continue
		}
		src, dst := r.src.remote, r.dst.remote
		if d == 2 {
			src = r.src.local
		}
		if d == 1 {
			dst = r.dst.local
		}
		if src.overlaps(pfV4Set) && dst.overlaps(pfV4Set) || src.overlaps(pfV6Set) && dst.overlaps(pfV6Set) {
			return false
		}
	}
	return true
}

func (l *pfLinter) stopper(i int) bool {
	r := &l.rs.rules[i]
	return r.f.quick || r.qEnd >= 0
}

// catchAll reports whether rule i matches every packet, counting a stateful pass as matching the
// TCP packets it leaves to its state entries.
func (l *pfLinter) catchAll(i int) bool {
	r := &l.rs.rules[i]
	if r.uncertain() || r.post {
		return false
	}
	if !r.ifs.universal() || !r.src.local.equal(pfFull) || !r.src.remote.equal(pfFull) ||
		!r.dst.local.equal(pfFull) || !r.dst.remote.equal(pfFull) || r.ports || len(r.f.icmp) > 0 {
		return false
	}
	if pfSubset(l.valid, l.comboMin[i]) {
		return true
	}
	if !r.f.pass || r.f.state == pfNoState {
		return false
	}
	reps := l.rs.reps
	for k := 0; k < l.nbits; k++ {
		if !pfHasBit(l.valid, k) || pfHasBit(l.comboMin[i], k) {
			continue
		}
		cl := k / 8 % len(reps)
		ts, fr := k/2%4, k%2
		if reps[cl] != ProtoTCP || ts == 1 && fr == 0 {
			return false
		}
	}
	return true
}

func (l *pfLinter) label(i int) string {
	f := l.rs.rules[i].f
	return fmt.Sprintf("%s (%s)", f.where, f.text)
}

func pfSameAction(a, b *pfFilter) bool {
	return a.pass == b.pass && (a.pass || a.ret == b.ret)
}

// matchSample builds a packet rule j matches. A rule that covers j matches it too, so the rules
// matching it, which the classifier finds in a few lookups per block, are the only candidates
// for covering j: this keeps the linter from comparing every pair of rules. ok is false when it
// finds no such packet (the caller then compares j with every rule).
func (l *pfLinter) matchSample(j int) (Packet, bool) {
	r := &l.rs.rules[j]
	reps := l.rs.reps
	nclass := len(reps)
	for k := 0; k < l.nbits; k++ {
		if !pfHasBit(l.valid, k) || !pfHasBit(l.combo[j], k) {
			continue
		}
		d, cl, ts, fr := k/(nclass*8), k/8%nclass, k/2%4, k%2
		p := Packet{Proto: reps[cl], Dir: Dir(d), ICMPType: -1, ICMPCode: -1, Frag: fr == 1}
		switch ts {
		case 1:
			p.Setup = true
		case 2:
			p.Established = true
		}
		src, dst := r.src.remote, r.dst.remote
		if p.Dir == Out {
			src = r.src.local
		}
		if p.Dir == In {
			dst = r.dst.local
		}
		found := false
		for _, fam := range []pfIPSet{pfV4Set, pfV6Set} {
			s, t := src.intersect(fam), dst.intersect(fam)
			if len(s) > 0 && len(t) > 0 {
				p.Src, p.Dst, found = pfAddrOf(s[0].lo), pfAddrOf(t[0].lo), true
				break
			}
		}
		if !found {
			continue
		}
		if p.Proto == ProtoTCP || p.Proto == ProtoUDP {
			p.SrcPort, p.DstPort = uint16(r.sport[0].lo.lo), uint16(r.dport[0].lo.lo)
		}
		if (p.Proto == ProtoICMP || p.Proto == ProtoICMPv6) && len(r.f.icmp) > 0 {
			p.ICMPType, p.ICMPCode = r.f.icmp[0].typ, r.f.icmp[0].code
		}
		if !r.ifs.co && len(r.ifs.names) > 0 {
			p.Iface = r.ifs.names[0]
		} // otherwise "", which no rule lists
		matched := false
		l.rs.eachMatch(&p, j, j+1, false, func(int) bool { matched = true; return false })
		if matched {
			return p, true
		}
	}
	return Packet{}, false
}

// deadRules finds rules that can never decide a packet.
func (l *pfLinter) deadRules(ctx context.Context) ([]Finding, error) {
	rules := l.rs.rules
	var out []Finding
	deadFrom := len(rules)
	catch := -1
	for i := range rules {
		if l.stopper(i) && l.catchAll(i) {
			catch = i
			deadFrom = i + 1
			if !rules[i].f.quick {
				deadFrom = rules[i].qEnd
			}
			break
		}
	}
	for j := range rules {
		if j >= deadFrom {
			break
		}
		if j%pfLintCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		b := rules[j].f
		if rules[j].undef || rules[j].uncertain() {
			continue // what it matches is unknown (a table filled at run time, an unsure condition)
		}
		if b.cond.x.tag != 0 {
			continue // it tags what it matches even when a later rule decides (pf_opts.go)
		}
		if b.match {
			continue // a match rule never decides, so it cannot be dead for deciding nothing
		}
		if l.matchesNothing(j) {
			out = append(out, Finding{
				Kind:    PFLintNeverMatches,
				Rules:   []string{b.where},
				Message: fmt.Sprintf("%s can match no packet: its conditions (with those of the anchors around it) exclude each other", l.label(j)),
				Fix:     fmt.Sprintf("correct or delete %s", b.where),
			})
			continue
		}
		// The rules that may cover j, in order: those matching a packet j matches, or all.
		sample, indexed := Packet{}, false
		if !l.reference {
			sample, indexed = l.matchSample(j)
		}
		candidates := func(from, to int, stops bool, fn func(int) bool) {
			if indexed {
				l.rs.eachMatch(&sample, from, to, stops, fn)
				return
			}
			for i := from; i < to && fn(i); i++ {
			}
		}
		found := false
		candidates(0, j, true, func(i int) bool {
			a := rules[i].f
			if !(a.quick || rules[i].qEnd >= 0 && rules[i].qEnd <= j) || !l.covers(i, j) {
				return true
			}
			found = true
			stop := "it is quick, so evaluation stops there"
			if !a.quick {
				stop = "it sits in a quick anchor, so evaluation stops when that anchor ends"
			}
			stop += l.conditions("", "") // rules added between them cannot change this; translation can
			if pfSameAction(a, b) {
				out = append(out, Finding{
					Kind:    PFLintRedundant,
					Rules:   []string{b.where, a.where},
					Message: fmt.Sprintf("%s never decides: the earlier %s matches every packet it matches, with the same action, and %s", l.label(j), l.label(i), stop),
					Fix:     fmt.Sprintf("delete %s", b.where),
				})
			} else {
				out = append(out, Finding{
					Kind:    PFLintShadowed,
					Rules:   []string{b.where, a.where},
					Message: fmt.Sprintf("%s never decides: the earlier %s matches every packet it matches and %s; its packets get the other action", l.label(j), l.label(i), stop),
					Fix:     fmt.Sprintf("move %s above %s and make it quick, or narrow %s", b.where, a.where, a.where),
				})
			}
			return false
		})
		if found || b.quick {
			continue
		}
		end := len(rules)
		if rules[j].qEnd >= 0 {
			end = rules[j].qEnd
		}
		candidates(j+1, end, false, func(i int) bool {
			if !l.covers(i, j) {
				return true
			}
			a := rules[i].f
			cond := l.conditions(b.where, a.where)
			if pfSameAction(a, b) {
				out = append(out, Finding{
					Kind:    PFLintRedundant,
					Rules:   []string{b.where, a.where},
					Message: fmt.Sprintf("%s never decides: the later %s matches every packet it matches, with the same action, and in pf the last matching rule wins%s", l.label(j), l.label(i), cond),
					Fix:     fmt.Sprintf("delete %s", b.where),
				})
			} else {
				out = append(out, Finding{
					Kind:    PFLintShadowed,
					Rules:   []string{b.where, a.where},
					Message: fmt.Sprintf("%s never decides: the later %s matches every packet it matches, and in pf the last matching rule wins%s", l.label(j), l.label(i), cond),
					Fix:     fmt.Sprintf("make %s quick, or move it below %s", b.where, a.where),
				})
			}
			return false
		})
	}
	if catch >= 0 && deadFrom < len(rules) {
		ws := []string{rules[catch].f.where}
		for i := deadFrom; i < len(rules); i++ {
			ws = append(ws, rules[i].f.where)
		}
		out = append(out, Finding{
			Kind:  PFLintAfterCatchAll,
			Rules: ws,
			Message: fmt.Sprintf("%s after %s can never decide a packet: it matches every packet and stops evaluation",
				pfRules(len(rules)-deadFrom), l.label(catch)),
			Fix: fmt.Sprintf("move %s to the end or drop its quick (a plain \"block all\" first is the usual default)", rules[catch].f.where),
		})
	}
	return out, nil
}

// defaultBlock checks that some block rule catches every inbound packet of both families.
func (l *pfLinter) defaultBlock() []Finding {
	var v4, v6, unsure bool
	var partial []string
	for i := range l.rs.rules {
		r := &l.rs.rules[i]
		if r.f.pass || r.f.match || r.dirs&2 == 0 || r.post || !pfSubset(l.inOnly, l.comboMin[i]) {
			continue
		}
		b4 := pfV4Set.subsetOf(r.src.remote) && pfV4Set.subsetOf(r.dst.local)
		b6 := pfV6Set.subsetOf(r.src.remote) && pfV6Set.subsetOf(r.dst.local)
		if !b4 && !b6 {
			continue
		}
		if r.uncertain() {
			unsure = true // it may be the default block: no finding may rest on that
			continue
		}
		if !r.ifs.universal() {
			partial = append(partial, r.f.where)
			continue
		}
		v4, v6 = v4 || b4, v6 || b6
	}
	if v4 && v6 || unsure {
		return nil
	}
	f := Finding{Kind: PFLintNoDefaultBlock, Rules: []string{}}
	switch {
	case !v4 && !v6 && len(partial) > 0:
		f.Rules = partial
		f.Message = fmt.Sprintf("the only default blocks (%s) name interfaces: pf passes every packet no rule matches, so inbound packets on any other interface get in", strings.Join(partial, ", "))
		f.Fix = "add \"block in all\" before the pass rules"
	case !v4 && !v6:
		f.Message = "no rule blocks inbound packets by default: pf passes every packet no rule matches, so anything not blocked explicitly gets in"
		f.Fix = "add \"block in all\" (or \"block all\") before the pass rules"
	case !v6:
		f.Message = "inbound IPv6 is not blocked by default (the default block is inet only): pf passes every packet no rule matches"
		f.Fix = "add \"block in inet6 all\", or drop \"inet\" from the default block"
	default:
		f.Message = "inbound IPv4 is not blocked by default (the default block is inet6 only): pf passes every packet no rule matches"
		f.Fix = "add \"block in inet all\", or drop \"inet6\" from the default block"
	}
	return []Finding{f}
}

// statelessReplies finds outbound TCP/UDP passes with "no state" whose replies the rule set drops:
// it evaluates one outbound packet the rule decides and the reply to it.
func (l *pfLinter) statelessReplies(ctx context.Context) ([]Finding, error) {
	var out []Finding
	for i := range l.rs.rules {
		if i%pfLintCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		r := &l.rs.rules[i]
		if !r.f.pass || r.f.state != pfNoState || r.dirs&4 == 0 || !r.protos.has(ProtoTCP) && !r.protos.has(ProtoUDP) || r.uncertain() {
			continue
		}
		p, ok := l.sample(i)
		if !ok {
			continue
		}
		reply := pfReverse(&p)
		reply.Setup, reply.Established = false, p.Proto == ProtoTCP
		v := l.rs.Eval(&reply)
		if v.Action == Allow || v.Unsure != "" {
			continue // allowed, or dropped on something unknown (an unsure rule, a runtime table)
		}
		ws := []string{r.f.where}
		if v.Rule >= 0 {
			ws = append(ws, v.Where)
		}
		out = append(out, Finding{
			Kind:  PFLintNoStateReplies,
			Rules: ws,
			Message: fmt.Sprintf("%s passes outbound %s with no state, and the replies are dropped (for example %s is blocked by %s): without a state entry nothing lets them back in%s",
				l.label(i), pfProtoName(p.Proto), reply, v.Where, l.conditions(pfAnywhere, "")),
			Fix: fmt.Sprintf("remove \"no state\" from %s (pf keeps state by default)", r.f.where),
		})
	}
	return out, nil
}

// sample builds an outbound packet that rule i decides, if it easily can.
func (l *pfLinter) sample(i int) (Packet, bool) {
	r := &l.rs.rules[i]
	p := Packet{Proto: ProtoTCP, Dir: Out, ICMPType: -1, ICMPCode: -1, Setup: true}
	if !r.protos.has(ProtoTCP) {
		p.Proto, p.Setup = ProtoUDP, false
	}
	switch {
	case r.ifs.has("en0"):
		p.Iface = "en0"
	case !r.ifs.co && len(r.ifs.names) > 0:
		p.Iface = r.ifs.names[0]
	default:
		p.Iface = "pfsample0"
	}
	for _, fam := range []struct {
		region   pfIPSet
		src, dst netip.Addr
	}{
		{pfV4Set, netip.MustParseAddr("192.168.1.10"), netip.MustParseAddr("203.0.113.50")},
		{pfV6Set, netip.MustParseAddr("2001:db8::10"), netip.MustParseAddr("2001:db8:ffff::50")},
	} {
		src, dst := r.src.local.intersect(fam.region), r.dst.remote.intersect(fam.region)
		if len(src) == 0 || len(dst) == 0 {
			continue
		}
		p.Src, p.Dst = pfPickAddr(src, fam.src), pfPickAddr(dst, fam.dst)
		p.SrcPort = pfPickPort(r.sport, 50000)
		p.DstPort = pfPickPort(r.dport, 443)
		if l.rs.Eval(&p).Rule == i {
			return p, true
		}
		return p, false
	}
	return p, false
}

func pfPickAddr(s pfIPSet, prefer netip.Addr) netip.Addr {
	if s.contains(pfKey(prefer)) {
		return prefer
	}
	r := s[0]
	if r.lo != r.hi {
		return pfAddrOf(r.lo.add1())
	}
	return pfAddrOf(r.lo)
}

func pfPickPort(s pfIPSet, prefer uint16) uint16 {
	if s.contains(pfU128{0, uint64(prefer)}) {
		return prefer
	}
	return uint16(s[0].lo.lo)
}

// order checks pfctl's statement order: options, normalization, translation, filtering.
func (l *pfLinter) order() []Finding {
	if l.rs.noRequireOrder {
		return nil
	}
	names := map[int]string{pfClassOption: "options", pfClassNormalization: "normalization (scrub)", pfClassTranslation: "translation", pfClassFilter: "filter rules"}
	var out []Finding
	var top pfOrderNote
	for _, n := range l.rs.order {
		if n.class < top.class {
			out = append(out, Finding{
				Kind:    PFLintOutOfOrder,
				Rules:   []string{n.where, top.where},
				Message: fmt.Sprintf("%s (%s) comes after %s (%s): pfctl expects options, normalization, translation and then filter rules, and refuses the file otherwise", n.where, names[n.class], top.where, names[top.class]),
				Fix:     fmt.Sprintf("move %s above %s, or add \"set require-order no\"", n.where, top.where),
			})
			continue
		}
		top = n
	}
	return out
}

// negatedLists finds lists with a negated entry, which pf expands into one rule per entry.
func (l *pfLinter) negatedLists() []Finding {
	var out []Finding
	for _, path := range l.anchorPaths() {
		for _, st := range l.rs.anchors[path].stmts {
			c, where := &pfCond{}, ""
			if st.f != nil {
				c, where = &st.f.cond, st.f.where
			} else {
				c, where = &st.call.cond, st.call.where
			}
			for _, h := range []*pfHost{&c.src, &c.dst} {
				if len(h.addrs) < 2 || !slices.ContainsFunc(h.addrs, func(e pfAddrElem) bool { return e.neg }) {
					continue
				}
				var neg []string
				for _, e := range h.addrs {
					if e.neg {
						neg = append(neg, strings.TrimPrefix(e.text, "!"))
					}
				}
				out = append(out, Finding{
					Kind:  PFLintNegatedList,
					Rules: []string{where},
					Message: fmt.Sprintf("the list %s at %s has a negated entry: pf expands a list into one rule per entry, so it matches every address that is not %s, whatever the other entries say",
						h.addrText, where, strings.Join(neg, " or ")),
					Fix: "put the addresses in a table with the exception negated inside it (table <t> { 10.0.0.0/8, !10.1.0.0/16 }) and use <t>",
				})
			}
			if len(c.ifs) > 1 && slices.ContainsFunc(c.ifs, func(e pfIfElem) bool { return e.neg }) {
				out = append(out, Finding{
					Kind:    PFLintNegatedList,
					Rules:   []string{where},
					Message: fmt.Sprintf("the interface list %s at %s has a negated entry: pf expands it into one rule per entry, so it matches almost every interface", c.ifText, where),
					Fix:     "list only the interfaces the rule is for, or write a separate rule for the exception",
				})
			}
		}
	}
	return out
}

func (l *pfLinter) anchorPaths() []string {
	paths := make([]string, 0, len(l.rs.anchors))
	for p := range l.rs.anchors {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	return paths
}

func (l *pfLinter) undefinedTables() []Finding {
	var out []Finding
	for _, u := range l.rs.undefined {
		out = append(out, Finding{
			Kind:    PFLintUndefinedTable,
			Rules:   []string{u.where},
			Message: fmt.Sprintf("table <%s> is used by %s (%s) but never defined: pf creates it empty, so the rule matches no address there until something adds some (pfctl -t %s -T add …)", u.name, u.where, u.text, u.name),
			Fix:     fmt.Sprintf("define it (table <%s> persist { … }) or correct the name", u.name),
		})
	}
	return out
}

// pfOverloadTargets are the tables a rule's state options name with "overload <table>"
// (pf.conf(5), STATEFUL TRACKING OPTIONS): pf adds offending sources to them at run time. The
// parser skips state options, so they are read from the rule's text.
func pfOverloadTargets(text string) []string {
	var out []string
	for {
		i := strings.Index(text, "overload")
		if i < 0 {
			return out
		}
		text = strings.TrimLeft(text[i+len("overload"):], " \t\\\n")
		if !strings.HasPrefix(text, "<") {
			continue
		}
		end := strings.IndexByte(text, '>')
		if end < 0 {
			return out
		}
		out = append(out, strings.TrimSpace(text[1:end]))
		text = text[end+1:]
	}
}

// conditions says which statements the simulator does not model could change a finding that a
// rule never decides: a translation anchor anywhere (it rewrites the addresses every rule sees),
// and an antispoof between the rules first and last (pf.conf(5) expands it into block rules at
// its place, which may stop evaluation between them; one in another file counts too, as its place
// is not known here; first pfAnywhere counts every antispoof, for findings about how one packet
// is decided). It is "" when there are none, else a clause for the finding's message.
func (l *pfLinter) conditions(first, last string) string {
	var why []string
	// Statements accepted and ignored, and those modelled only in part (an antispoof whose
	// interface addresses were not given, noted "FILE:LINE: STATEMENT: why").
	stmts := slices.Clone(l.rs.ignored)
	for _, n := range l.rs.notes {
		if where, rest, ok := strings.Cut(n, ": "); ok {
			text, _, _ := strings.Cut(rest, ": ")
			stmts = append(stmts, where+": "+text)
		}
	}
	for _, ig := range stmts {
		where, text, ok := strings.Cut(ig, ": ")
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(text, "nat-anchor"), strings.HasPrefix(text, "rdr-anchor"), strings.HasPrefix(text, "binat-anchor"):
		case strings.HasPrefix(text, "antispoof") && (first == pfAnywhere || first != "" && pfBetween(where, first, last)):
		default:
			continue
		}
		if i := strings.LastIndex(text, " (ignored:"); i >= 0 {
			text = text[:i]
		}
		why = append(why, fmt.Sprintf("%s (%s)", where, text))
	}
	if len(why) == 0 {
		return ""
	}
	return fmt.Sprintf(" — provided %s, which the simulator does not model, change nothing here", strings.Join(why, ", "))
}

// pfAnywhere asks conditions for every antispoof, wherever it is.
const pfAnywhere = "*"

// pfBetween reports whether where ("file:line") may lie between first and last; true when the
// files differ.
func pfBetween(where, first, last string) bool {
	line := func(w string) (string, int) {
		i := strings.LastIndexByte(w, ':')
		if i < 0 {
			return w, -1
		}
		n := 0
		fmt.Sscanf(w[i+1:], "%d", &n)
		return w[:i], n
	}
	f, n := line(where)
	f1, n1 := line(first)
	f2, n2 := line(last)
	if f != f1 || f != f2 {
		return true
	}
	return min(n1, n2) < n && n < max(n1, n2)
}
