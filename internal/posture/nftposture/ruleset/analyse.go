package ruleset

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
)

// Analyse works out what the ruleset does with new inbound packets (connection state new, not
// on loopback): every base chain on the ingress, prerouting and input hooks of every table of
// the packet's family is run in hook and priority order, following jumps, gotos and returns;
// an accept hands the packet to the next base chain, a drop or reject is final, a chain's
// policy applies at its end.
//
// Destination ports and source addresses are followed as sets through the chains (a flow is a
// rectangle of ports × sources, split at every boundary a rule names), and input interfaces
// are split into classes (any other interface, and each one a rule names), so every class of
// packets is evaluated once and the Open list is exact. Conditions the model cannot decide (the
// destination address, marks, unknown expressions) are Notes; such a rule is taken when it
// accepts and skipped when it drops, so that what is reported open is never less than what
// is.
func Analyse(rs *Ruleset) Analysis { return analyse(rs, maxWork) }

func analyse(rs *Ruleset, limit int) Analysis {
	a := newAnalyser(rs)
	a.limit = limit
	out := Analysis{Tables: a.tables(), Filtering: a.filtering()}
	out.Families = []Family{a.family(false), a.family(true)}
	out.Notes = a.notes
	return out
}

// baseChain is a base chain with what ordering needs.
type baseChain struct {
	t     *TableDef
	c     *Chain
	stage int // ingress 0, prerouting 1, input 2
	// order is the position of the chain in the ruleset as listed (tables in the order they
	// were made, then their chains in the order they were made): the order their hooks were
	// registered, as far as the listing shows it. Of base chains on one hook with equal
	// priority, the kernel runs the one registered last first (nf_hook_entries_grow inserts a
	// new hook before the first of equal priority; checked with real packets, see
	// TestKernelEqualPriority).
	order int
}

type analyser struct {
	rs       *Ruleset
	owners   map[*TableDef]string
	compiled map[*Chain][]*crule
	tableOf  map[*Chain]*TableDef
	marksSet bool
	untrack  bool // some rule leaves packets untracked (compiler.untracked)
	bases    []baseChain
	notes    []Note
	noteSeen map[Note]bool
	work     int // rule evaluations so far, against limit
	limit    int
	overCap  bool
}

// maxWork caps the rule evaluations of one analysis, so that a hostile or pathological
// ruleset (many lookups of concatenations in one rule, deep jumps that split every flow)
// cannot take unbounded time or memory; past it the rest is passed over, with a Note.
const maxWork = 20_000_000

func newAnalyser(rs *Ruleset) *analyser {
	a := &analyser{rs: rs, owners: map[*TableDef]string{}, compiled: map[*Chain][]*crule{},
		tableOf: map[*Chain]*TableDef{}, noteSeen: map[Note]bool{}}
	if rs == nil {
		return a
	}
	seq := 0
	for _, t := range rs.Tables {
		a.owners[t] = OwnerOf(t)
		c := newCompiler(t)
		for _, ch := range t.Chains {
			a.tableOf[ch] = t
			for _, r := range ch.Rules {
				cr := c.compile(r)
				reorder(cr.steps)
				a.compiled[ch] = append(a.compiled[ch], cr)
			}
			if stage, ok := inboundStage(t.Family, ch.Hook); ok && !t.Dormant {
				a.bases = append(a.bases, baseChain{t: t, c: ch, stage: stage, order: seq})
			}
			seq++
		}
		a.marksSet = a.marksSet || c.marksSet
		a.untrack = a.untrack || c.untracked
	}
	sort.SliceStable(a.bases, func(i, j int) bool {
		x, y := a.bases[i], a.bases[j]
		if x.stage != y.stage {
			return x.stage < y.stage
		}
		if x.c.Priority != y.c.Priority {
			return x.c.Priority < y.c.Priority
		}
		// Equal priority: the chain made last runs first. (A table switched from dormant to
		// active registers its hooks anew, which the listing does not show; that is the one
		// case this order can miss.)
		return x.order > y.order
	})
	return a
}

// inboundStage places a hook on the way of an inbound packet to this host.
func inboundStage(family, hook string) (int, bool) {
	switch family {
	case "ip", "ip6", "inet", "netdev":
	default:
		return 0, false
	}
	switch hook {
	case "ingress":
		return 0, true
	case "prerouting":
		return 1, true
	case "input":
		return 2, true
	}
	return 0, false
}

// OwnerOf says which tool a table belongs to, from its family, name and chains.
func OwnerOf(t *TableDef) string {
	switch {
	case t.Family == "inet" && (t.Name == "firewarden_posture" || t.Name == "firewarden"):
		return OwnerFirewarden
	case t.Name == "firewalld":
		return OwnerFirewalld
	}
	docker := strings.HasPrefix(t.Name, "docker")
	builtin, xt := false, false
	for _, c := range t.Chains {
		switch {
		case strings.HasPrefix(c.Name, "ufw-") || strings.HasPrefix(c.Name, "ufw6-"):
			return OwnerUFW
		case strings.HasPrefix(c.Name, "DOCKER"):
			docker = true
		case slices.Contains([]string{"INPUT", "FORWARD", "OUTPUT", "PREROUTING", "POSTROUTING"}, c.Name):
			builtin = true
		}
		for _, r := range c.Rules {
			for _, e := range r.Exprs {
				if _, ok := e.(Xt); ok {
					xt = true
				}
			}
		}
	}
	if docker {
		return OwnerDocker
	}
	legacyName := slices.Contains([]string{"filter", "nat", "mangle", "raw", "security"}, t.Name)
	if t.Family != "inet" && t.Family != "netdev" && legacyName && (builtin || xt) {
		return OwnerIPTablesNFT
	}
	return OwnerNFT
}

func (a *analyser) tables() []Table {
	out := []Table{}
	if a.rs == nil {
		return out
	}
	for _, t := range a.rs.Tables {
		tb := Table{Family: t.Family, Name: t.Name, Owner: a.owners[t], Dormant: t.Dormant}
		for _, c := range t.Chains {
			if c.Hook != "" {
				tb.BaseChains = append(tb.BaseChains, fmt.Sprintf("%s (hook %s, type %s, priority %d, policy %s)", c.Name, c.Hook, c.Type, c.Priority, c.Policy))
			}
		}
		out = append(out, tb)
	}
	return out
}

func (a *analyser) filtering() bool {
	for _, b := range a.bases {
		if b.c.Hook != "" {
			return true
		}
	}
	return false
}

// capped notes, once, that the work cap was reached at w.
func (a *analyser) capped(w Where) {
	if !a.overCap {
		a.overCap = true
		a.note(w, fmt.Sprintf("the ruleset needs more than %d rule evaluations to analyse: the rest was passed over, the results are incomplete", a.limit))
	}
}

func (a *analyser) note(w Where, what string) {
	n := Note{Where: w, What: what}
	if a.noteSeen[n] {
		return
	}
	a.noteSeen[n] = true
	a.notes = append(a.notes, n)
}

func (a *analyser) where(c *Chain, handle uint64) Where {
	t := a.tableOf[c]
	return Where{Family: t.Family, Table: t.Name, Chain: c.Name, Handle: handle, Owner: a.owners[t]}
}

// logState is what logging happened on a packet's way so far.
type logState struct {
	logged, limited bool
	at              Where
}

// flow is a set of packets of one class on the same way through the rules: destination ports
// × source addresses.
type flow struct {
	ports          portSet
	srcs           addrSet
	log            logState
	byRule, byPol  Where // the last accept by a rule, by a policy
	hasRule, hasPo bool
}

// seg is a final outcome for ports × sources.
type seg struct {
	ports portSet
	srcs  addrSet
	out   Outcome
}

type flowKey struct {
	log            logState
	byRule, byPol  Where
	hasRule, hasPo bool
}

func (f flow) key() flowKey { return flowKey{f.log, f.byRule, f.byPol, f.hasRule, f.hasPo} }

// merge joins flows on the same way (same ports, or same sources) so that their number stays
// small.
func merge(fs []flow) []flow {
	if len(fs) < 2 {
		return fs
	}
	var out []flow
	for _, f := range fs {
		if f.ports.empty() || f.srcs.empty() {
			continue
		}
		k := f.key()
		joined := false
		// Look back a little: flows to join are usually adjacent, and a bounded search
		// keeps this linear.
		for i := len(out) - 1; i >= 0 && i >= len(out)-8; i-- {
			o := &out[i]
			if o.key() != k {
				continue
			}
			if o.srcs.equal(f.srcs) {
				o.ports = o.ports.union(f.ports)
				joined = true
				break
			}
			if o.ports.equal(f.ports) {
				o.srcs = o.srcs.union(f.srcs)
				joined = true
				break
			}
		}
		if !joined {
			out = append(out, f)
		}
	}
	return out
}

// chainResult is where the flows entering a chain went.
type chainResult struct {
	final    []seg  // dropped, rejected (or forwarded away): decided
	accepted []flow // accepted: on to the next base chain
	returned []flow // fell off the end or returned
}

const maxDepth = 64

func (a *analyser) runChain(c *Chain, flows []flow, p *pkt, depth int) chainResult {
	var res chainResult
	if depth > maxDepth {
		a.note(a.where(c, 0), "jumps nested deeper than 64 chains (a loop?): not followed")
		res.returned = flows
		return res
	}
	for _, cr := range a.compiled[c] {
		if len(flows) == 0 {
			break
		}
		a.work += len(flows)
		if a.work > a.limit {
			a.capped(a.where(c, cr.rule.Handle))
			break
		}
		var next []flow
		for _, f := range flows {
			next = append(next, a.runRule(c, cr, f, p, depth, &res)...)
		}
		flows = merge(next)
	}
	res.returned = append(res.returned, flows...)
	return res
}

// runRule runs one rule on flow f; what does not match (or matches and goes on) is returned,
// the rest is put in res.
func (a *analyser) runRule(c *Chain, cr *crule, f flow, p *pkt, depth int, res *chainResult) []flow {
	w := a.where(c, cr.rule.Handle)
	return a.runSteps(c, cr.steps, f, p, depth, res, w, false, false)
}

// runSteps runs the steps of a rule from some point on flow m.
func (a *analyser) runSteps(c *Chain, steps []step, m flow, p *pkt, depth int, res *chainResult, w Where, unsure, limited bool) []flow {
	var cont []flow
	tcpudp := p.l4 == 6 || p.l4 == 17
	fi := 0
	if p.v6 {
		fi = 1
	}
	for i, st := range steps {
		switch st.kind {
		case stCond:
			cd := st.cond
			for _, n := range cd.notes {
				a.note(w, st.text+": "+n)
			}
			if cd.dport && tcpudp {
				in := m.ports.intersect(cd.ports)
				if out := m.ports.minus(cd.ports); !out.empty() {
					o := m
					o.ports = out
					cont = append(cont, o)
				}
				if in.empty() {
					return cont
				}
				m.ports = in
				if cd.dportOr {
					unsure = true
				}
				continue
			}
			if h := cd.srcHold[fi]; h != nil {
				in := m.srcs.intersect(*h)
				if out := m.srcs.minus(*h, p.v6); !out.empty() {
					o := m
					o.srcs = out
					cont = append(cont, o)
				}
				if in.empty() {
					return cont
				}
				m.srcs = in
				continue
			}
			t, why := cd.eval(p)
			switch t {
			case tFalse:
				return append(cont, m)
			case tAttacker:
				unsure = true
			case tHost:
				unsure = true
				if len(cd.notes) == 0 {
					a.note(w, fmt.Sprintf("%s: depends on %s, which the analysis does not know", st.text, why))
				}
			}
		case stConcat:
			matched, rest, u := a.concat(st, m, p, w)
			cont = append(cont, rest...)
			for _, mm := range matched {
				cont = append(cont, a.runSteps(c, steps[i+1:], mm, p, depth, res, w, unsure || u, limited)...)
			}
			return cont
		case stLimit:
			limited = true
			if st.cond != nil {
				unsure = true
			}
		case stLog:
			if !unsure {
				m.log = logState{logged: true, limited: limited, at: w}
			}
		case stCounter:
		case stOther:
			a.note(w, st.note)
		case stVmap:
			return append(cont, a.runVmap(c, st.vmap, m, p, depth, res, w)...)
		case stVerdict, stReject, stNat:
			return append(cont, a.verdict(c, st, m, p, depth, res, w, unsure, limited)...)
		}
	}
	return append(cont, m)
}

// concat splits flow m by a concatenated lookup: the parts an element holds for, and the rest.
// unsure is set when an element held only by something the model does not decide.
func (a *analyser) concat(st step, m flow, p *pkt, w Where) (matched, rest []flow, unsure bool) {
	cs := st.concat
	rest = []flow{m}
	for _, iv := range cs.ivs {
		ports, srcs, ok, u := a.element(st.text, cs, iv, p, w)
		unsure = unsure || u
		if !ok {
			continue
		}
		a.work += len(rest)
		if a.work > a.limit {
			a.capped(w)
			break
		}
		var in []flow
		in, rest = splitFlows(rest, ports, srcs, p.v6)
		matched = append(matched, in...)
	}
	if cs.invert {
		matched, rest = rest, matched
	}
	return merge(matched), merge(rest), unsure
}

// splitFlows splits flows by the ports and sources of one element: the parts inside both,
// and the rest.
func splitFlows(flows []flow, ports portSet, srcs addrSet, v6 bool) (in, rest []flow) {
	for _, r := range flows {
		inP, inS := r.ports.intersect(ports), r.srcs.intersect(srcs)
		if inP.empty() || inS.empty() {
			rest = append(rest, r)
			continue
		}
		m := r
		m.ports, m.srcs = inP, inS
		in = append(in, m)
		if outP := r.ports.minus(ports); !outP.empty() {
			o := r
			o.ports = outP
			rest = append(rest, o)
		}
		if outS := r.srcs.minus(srcs, v6); !outS.empty() {
			o := r
			o.ports, o.srcs = inP, outS
			rest = append(rest, o)
		}
	}
	return in, rest
}

// element is what one element of a concatenated lookup holds for in packet class p: ports and
// sources (all when it does not name them); ok false when it never holds, unsure when it holds
// only by something the model does not decide.
func (a *analyser) element(text string, cs *concatStep, iv setIv, p *pkt, w Where) (ports portSet, srcs addrSet, ok, unsure bool) {
	tcpudp := p.l4 == 6 || p.l4 == 17
	ports, srcs = allPorts, fullAddrs(p.v6)
	for k, f := range cs.fields {
		lo := slot(iv.lo, cs.slots[k], f.len)
		hi := ivHi(iv, cs.slots[k], f.len)
		if lo == nil || hi == nil {
			return nil, nil, false, false
		}
		switch {
		case f.isDport() && f.mask == nil && tcpudp:
			ports = portSet{{binary.BigEndian.Uint16(lo), binary.BigEndian.Uint16(hi)}}
			if ports[0].lo > ports[0].hi {
				return nil, nil, false, false
			}
		case isSaddr(f, p.v6):
			la, _ := netip.AddrFromSlice(lo)
			ha, _ := netip.AddrFromSlice(hi)
			if ha.Less(la) {
				return nil, nil, false, false
			}
			srcs = addrSet{{la, ha}}
		default:
			v, vs, why := f.value(p)
			switch vs {
			case vKnown:
				if bytes.Compare(v, lo) < 0 || bytes.Compare(v, hi) > 0 {
					return nil, nil, false, false
				}
			case vHost:
				unsure = true
				a.note(w, fmt.Sprintf("%s: depends on %s, which the analysis does not know", text, why))
			default:
				unsure = true
			}
		}
	}
	return ports, srcs, true, unsure
}

func (a *analyser) runVmap(c *Chain, vm *vmapStep, m flow, p *pkt, depth int, res *chainResult, w Where) []flow {
	var cont []flow
	if vm.dport && (p.l4 == 6 || p.l4 == 17) {
		rest := m.ports
		for i, iv := range vm.idx.ivs {
			in := rest.intersect(vm.ports[i])
			if in.empty() || iv.verdict == nil {
				continue
			}
			rest = rest.minus(vm.ports[i])
			part := m
			part.ports = in
			cont = append(cont, a.verdict(c, step{kind: stVerdict, verdict: *iv.verdict, text: iv.verdict.String()}, part, p, depth, res, w, false, false)...)
		}
		if !rest.empty() {
			m.ports = rest
			cont = append(cont, m)
		}
		return cont
	}
	if vm.unfollowed {
		// Every verdict may apply: accepts are taken, drops skipped (a.verdict, unsure).
		a.note(w, "verdict map "+vm.set.Name+" on a concatenation whose fields could not be followed: each of its verdicts may apply")
		cont = []flow{m}
		for _, iv := range vm.idx.ivs {
			if iv.verdict != nil {
				cont = append(cont, a.verdict(c, step{kind: stVerdict, verdict: *iv.verdict, text: iv.verdict.String()}, m, p, depth, res, w, true, false)...)
			}
		}
		return merge(cont)
	}
	if vm.keys != nil {
		// The first element that holds decides; an element that holds only by a field
		// the model does not decide applies its verdict as unsure and lets the flow on.
		rest := []flow{m}
		for _, iv := range vm.keys.ivs {
			if iv.verdict == nil {
				continue
			}
			ports, srcs, ok, unsure := a.element(fieldName(vm.f)+" vmap", vm.keys, iv, p, w)
			if !ok {
				continue
			}
			a.work += len(rest)
			if a.work > a.limit {
				a.capped(w)
				break
			}
			var in []flow
			in, rest = splitFlows(rest, ports, srcs, p.v6)
			for _, f := range in {
				cont = append(cont, a.verdict(c, step{kind: stVerdict, verdict: *iv.verdict, text: iv.verdict.String()}, f, p, depth, res, w, unsure, false)...)
				if unsure {
					rest = append(rest, f)
				}
			}
		}
		return merge(append(cont, rest...))
	}
	v, st, why := vm.f.value(p)
	if st != vKnown {
		if st == vHost {
			a.note(w, fmt.Sprintf("verdict map on %s: depends on %s, which the analysis does not know", fieldName(vm.f), why))
		} else {
			a.note(w, fmt.Sprintf("verdict map on %s: depends on a field the sender chooses", fieldName(vm.f)))
		}
		return []flow{m}
	}
	i := vm.idx.find(v)
	if i < 0 || vm.idx.ivs[i].verdict == nil {
		return []flow{m}
	}
	vd := *vm.idx.ivs[i].verdict
	return a.verdict(c, step{kind: stVerdict, verdict: vd, text: vd.String()}, m, p, depth, res, w, false, false)
}

// verdict applies a rule's verdict (or reject, or nat) to flow m.
func (a *analyser) verdict(c *Chain, st step, m flow, p *pkt, depth int, res *chainResult, w Where, unsure, limited bool) []flow {
	accept := func() {
		m.byRule, m.hasRule = w, true
		res.accepted = append(res.accepted, m)
	}
	final := func(v Verdict) {
		res.final = append(res.final, seg{ports: m.ports, srcs: m.srcs, out: outcome(v, w, m.log)})
	}
	if limited {
		a.note(w, "a rate limit on a rule with a verdict: it holds only for packets within the rate (taken if it accepts, skipped if it drops)")
	}
	inexact := unsure || limited
	switch st.kind {
	case stReject:
		if inexact {
			return []flow{m}
		}
		final(Reject)
		return nil
	case stNat:
		switch st.text {
		case "dnat":
			a.note(w, "dnat: the packet is forwarded to another address (a container, another host); the forward chains are not evaluated, it is counted as accepted")
			final(Accept)
			return nil
		case "redirect":
			a.note(w, "redirect: the packet goes on to a different local port, which is not followed")
		}
		accept()
		return nil
	}
	v := st.verdict
	switch {
	case v.Code == VerdictAccept:
		accept()
	case v.Code&0xff == VerdictDrop && v.Code >= 0:
		if inexact {
			return []flow{m}
		}
		final(Drop)
	case v.Code == VerdictQueue || (v.Code > 0 && v.Code&0xff == VerdictQueue):
		a.note(w, "queue: a userspace program decides; counted as accepted")
		accept()
	case v.Code == VerdictContinue || v.Code == VerdictBreak:
		return []flow{m}
	case v.Code == VerdictReturn:
		res.returned = append(res.returned, m)
	case v.Code == VerdictJump || v.Code == VerdictGoto:
		if limited {
			return []flow{m}
		}
		target := a.tableOf[c].chain(v.Chain)
		if target == nil {
			a.note(w, "jump to chain "+v.Chain+", which was not read")
			return []flow{m}
		}
		sub := a.runChain(target, []flow{m}, p, depth+1)
		res.final = append(res.final, sub.final...)
		res.accepted = append(res.accepted, sub.accepted...)
		if v.Code == VerdictGoto {
			res.returned = append(res.returned, sub.returned...)
			return nil
		}
		return sub.returned
	default:
		a.note(w, "verdict "+v.String()+" is not modelled: counted as accepted")
		accept()
	}
	return nil
}

func outcome(v Verdict, w Where, l logState) Outcome {
	o := Outcome{Verdict: v, By: w, Logged: l.logged, LogLimited: l.logged && l.limited}
	if l.logged {
		at := l.at
		o.LogAt = &at
	}
	return o
}

// run sends packets of class p, to every destination port and from every source address,
// through every inbound base chain of their family.
func (a *analyser) run(p *pkt, ports portSet) []seg {
	flows := []flow{{ports: ports, srcs: fullAddrs(p.v6)}}
	var final []seg
	for _, b := range a.bases {
		if len(flows) == 0 {
			break
		}
		switch b.t.Family {
		case "ip":
			if p.v6 {
				continue
			}
		case "ip6":
			if !p.v6 {
				continue
			}
		}
		if b.c.Device != "" && !slices.Contains(strings.Split(b.c.Device, ","), p.iifname) {
			continue
		}
		r := a.runChain(b.c, flows, p, 0)
		final = append(final, r.final...)
		next := r.accepted
		pw := a.where(b.c, 0)
		for _, f := range r.returned {
			if b.c.Policy == "drop" {
				final = append(final, seg{ports: f.ports, srcs: f.srcs, out: outcome(Drop, pw, f.log)})
				continue
			}
			f.byPol, f.hasPo = pw, true
			next = append(next, f)
		}
		flows = merge(next)
	}
	for _, f := range flows {
		by := f.byPol
		if f.hasRule {
			by = f.byRule
		}
		final = append(final, seg{ports: f.ports, srcs: f.srcs, out: outcome(Accept, by, f.log)})
	}
	return final
}

// names gathers what the rules name: source ranges, ports, interfaces.
type names struct {
	srcNamed  []srcRange
	portNamed portSet
	ifnames   []string // named interfaces (not lo)
	ifidx     []uint32
}

func (a *analyser) gather(v6 bool) names {
	var nm names
	ifn := map[string]bool{}
	idx := map[uint32]bool{}
	var named portSet
	for ch, crs := range a.compiled {
		if t := a.tableOf[ch]; ch.Device != "" && (t.Family == "netdev" || t.Family == "inet") {
			for _, d := range strings.Split(ch.Device, ",") {
				if d != "lo" {
					ifn[d] = true
				}
			}
		}
		for _, cr := range crs {
			for _, st := range cr.steps {
				if st.kind == stVmap && st.vmap.dport {
					for _, ps := range st.vmap.ports {
						named = append(named, ps...)
					}
				}
				cd := st.cond
				if st.kind == stVmap && st.vmap.named != nil {
					cd = st.vmap.named
				}
				if cd == nil {
					continue
				}
				if cd.dport {
					named = append(named, cd.named...)
				}
				for _, s := range cd.srcs {
					if s.lo.Is6() == v6 {
						nm.srcNamed = append(nm.srcNamed, s)
					}
				}
				for _, n := range cd.ifnames {
					if n != "lo" && n != "" {
						ifn[n] = true
					}
				}
				for _, i := range cd.ifidx {
					if i != 1 {
						idx[i] = true
					}
				}
			}
		}
	}
	nm.portNamed = named.normalise()
	for n := range ifn {
		nm.ifnames = append(nm.ifnames, n)
	}
	sort.Strings(nm.ifnames)
	for i := range idx {
		nm.ifidx = append(nm.ifidx, i)
	}
	slices.Sort(nm.ifidx)
	return nm
}

// loopbackRange is 127.0.0.0/8 or ::1: sources that never arrive on another interface (the
// kernel drops them as martians: IPv6 before any hook, IPv4 at routing, before input), so
// whether a rule admits them does not matter.
func loopbackRange(v6 bool) addrRange {
	if v6 {
		return addrRange{netip.IPv6Loopback(), netip.IPv6Loopback()}
	}
	return addrRange{netip.MustParseAddr("127.0.0.0"), netip.MustParseAddr("127.255.255.255")}
}

// unnamedSource picks a source address in no range a rule names.
func (nm names) unnamedSource(v6 bool) netip.Addr {
	cand := netip.MustParseAddr("203.0.113.77")
	if v6 {
		cand = netip.MustParseAddr("2001:db8:ffff::77")
	}
	var named addrSet
	for _, s := range nm.srcNamed {
		named = append(named, addrRange(s))
	}
	named = append(named, loopbackRange(v6)).normalise()
	if !named.contains(cand) {
		return cand
	}
	if free := named.complement(v6); len(free) > 0 {
		return free[0].lo
	}
	return cand
}

// unnamedPort picks a destination port no rule names, unprivileged if it can.
func (nm names) unnamedPort() uint16 {
	free := nm.portNamed.complement()
	for _, r := range free {
		if r.hi >= 1024 {
			return max(r.lo, 1024)
		}
	}
	if len(free) > 0 {
		return free[0].lo
	}
	return 0
}

// genericIface picks an interface name and index no rule names.
func (nm names) genericIface() (string, uint32) {
	name := "unnamed0"
	for slices.ContainsFunc(nm.ifnames, func(n string) bool {
		return n == name || (strings.HasSuffix(n, "*") && strings.HasPrefix(name, strings.TrimSuffix(n, "*")))
	}) {
		name = "x" + name
	}
	idx := uint32(2)
	for slices.Contains(nm.ifidx, idx) {
		idx++
	}
	return name, idx
}

func (a *analyser) family(v6 bool) Family {
	fam := Family{Family: "ipv4", Open: []Open{}}
	echoType, icmp := byte(8), byte(1)
	if v6 {
		fam.Family, echoType, icmp = "ipv6", 128, 58
	}
	nm := a.gather(v6)
	gname, gidx := nm.genericIface()
	src := nm.unnamedSource(v6)
	port := nm.unnamedPort()
	mk := func(l4 byte, name string, idx uint32) *pkt {
		return &pkt{v6: v6, l4: l4, iifname: name, iif: idx, marksSet: a.marksSet, untracked: a.untrack, icmpType: echoType}
	}
	at := func(segs []seg, p uint16) Outcome {
		for _, s := range segs {
			if s.ports.contains(p) && s.srcs.contains(src) {
				return s.out
			}
		}
		return Outcome{Verdict: Accept}
	}
	tcp := a.run(mk(6, gname, gidx), allPorts)
	udp := a.run(mk(17, gname, gidx), allPorts)
	fam.Unmatched = at(tcp, port)
	fam.UnmatchedUDP = at(udp, port)
	fam.Echo = at(a.run(mk(icmp, gname, gidx), onePort(0)), 0)

	type iface struct {
		label, name string
		idx         uint32
	}
	var ifaces []iface
	for _, n := range nm.ifnames {
		name := n
		if strings.HasSuffix(n, "*") {
			name = strings.TrimSuffix(n, "*") + "*"
		}
		ifaces = append(ifaces, iface{n, name, gidx})
	}
	for _, i := range nm.ifidx {
		ifaces = append(ifaces, iface{fmt.Sprintf("if#%d", i), gname, i})
	}
	for _, proto := range []struct {
		name string
		l4   byte
		segs []seg
	}{{"tcp", 6, tcp}, {"udp", 17, udp}} {
		generic := accepted(proto.segs)
		fam.Open = append(fam.Open, opens(proto.name, "", generic, nil, v6)...)
		for _, ifc := range ifaces {
			own := accepted(a.run(mk(proto.l4, ifc.name, ifc.idx), allPorts))
			fam.Open = append(fam.Open, opens(proto.name, ifc.label, own, generic, v6)...)
		}
	}
	sort.SliceStable(fam.Open, func(i, j int) bool {
		x, y := fam.Open[i], fam.Open[j]
		if x.Proto != y.Proto {
			return x.Proto < y.Proto
		}
		if x.From != y.From {
			return x.From < y.From
		}
		if x.IIF != y.IIF {
			return x.IIF < y.IIF
		}
		return x.By.String() < y.By.String()
	})
	return fam
}

func accepted(segs []seg) []seg {
	var out []seg
	for _, s := range segs {
		if s.out.Verdict == Accept {
			out = append(out, s)
		}
	}
	return out
}

// opens turns accepted ports × sources into Open entries, one per accepting rule and run of
// ports with the same sources, minus what is already open on any interface (minus).
func opens(proto, iif string, acc, minus []seg, v6 bool) []Open {
	byRule := map[Where][]seg{}
	var order []Where
	for _, s := range acc {
		if _, ok := byRule[s.out.By]; !ok {
			order = append(order, s.out.By)
		}
		byRule[s.out.By] = append(byRule[s.out.By], s)
	}
	var out []Open
	for _, by := range order {
		segs := byRule[by]
		var cuts []uint32
		for _, s := range append(append([]seg(nil), segs...), minus...) {
			for _, r := range s.ports {
				cuts = append(cuts, uint32(r.lo), uint32(r.hi)+1)
			}
		}
		slices.Sort(cuts)
		cuts = slices.Compact(cuts)
		srcsAt := func(ss []seg, p uint16) addrSet {
			var u addrSet
			for _, s := range ss {
				if s.ports.contains(p) {
					u = u.union(s.srcs)
				}
			}
			return u
		}
		var last *Open
		var lastSrcs addrSet
		for i := 0; i+1 < len(cuts); i++ {
			lo, hi := uint16(cuts[i]), uint16(cuts[i+1]-1)
			srcs := srcsAt(segs, lo).minus(srcsAt(minus, lo), v6)
			if srcs.empty() {
				last = nil
				continue
			}
			if last != nil && uint32(last.To)+1 == uint32(lo) && lastSrcs.equal(srcs) {
				last.To = hi
				continue
			}
			o := Open{Proto: proto, From: lo, To: hi, IIF: iif, By: by}
			o.Sources, o.Except = sourcePrefixes(srcs, v6)
			out = append(out, o)
			last, lastSrcs = &out[len(out)-1], srcs
		}
	}
	return out
}

// sourcePrefixes writes a set of sources as the fewest prefixes: nil, nil for "from
// anywhere"; nil and the excluded prefixes when saying what is excluded is shorter. Loopback
// sources (which cannot arrive) are added where that makes the list shorter.
func sourcePrefixes(s addrSet, v6 bool) (sources, except []netip.Prefix) {
	lb := loopbackRange(v6)
	with := s.union(addrSet{lb})
	if with.equal(fullAddrs(v6)) {
		return nil, nil
	}
	if len(with) < len(s) || (len(with) == len(s) && !with.equal(s)) {
		s = with
	}
	inc := setPrefixes(s)
	exc := setPrefixes(with.complement(v6))
	if len(exc) < len(inc) {
		return nil, exc
	}
	return inc, nil
}

func setPrefixes(s addrSet) []netip.Prefix {
	var out []netip.Prefix
	for _, r := range s {
		out = append(out, rangePrefixes(r.lo, r.hi)...)
	}
	return out
}

// rangePrefixes splits [lo, hi] into the fewest prefixes.
func rangePrefixes(lo, hi netip.Addr) []netip.Prefix {
	var out []netip.Prefix
	for lo.IsValid() && lo.Compare(hi) <= 0 {
		bits := lo.BitLen()
		best := netip.PrefixFrom(lo, bits)
		for b := bits - 1; b >= 0; b-- {
			p := netip.PrefixFrom(lo, b)
			if p.Masked().Addr() != lo || lastAddr(p).Compare(hi) > 0 {
				break
			}
			best = p
		}
		out = append(out, best)
		last := lastAddr(best)
		if last == hi {
			break
		}
		lo = last.Next()
	}
	return out
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
