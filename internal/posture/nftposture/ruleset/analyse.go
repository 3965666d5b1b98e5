package ruleset

import (
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
// Destination ports are followed as sets through the chains, and source addresses and input
// interfaces are split into classes at every boundary a rule names, so each class is
// evaluated once and the Open list is exact. Conditions the model cannot decide (the
// destination address, marks, unknown expressions) are Notes; such a rule is taken when it
// accepts and skipped when it drops, so that what is reported open is never less than what
// is.
func Analyse(rs *Ruleset) Analysis {
	a := newAnalyser(rs)
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
	order int // position of the table in the ruleset, to keep equal priorities stable
}

type analyser struct {
	rs       *Ruleset
	owners   map[*TableDef]string
	compiled map[*Chain][]*crule
	tableOf  map[*Chain]*TableDef
	marksSet bool
	bases    []baseChain
	notes    []Note
	noteSeen map[Note]bool
}

func newAnalyser(rs *Ruleset) *analyser {
	a := &analyser{rs: rs, owners: map[*TableDef]string{}, compiled: map[*Chain][]*crule{},
		tableOf: map[*Chain]*TableDef{}, noteSeen: map[Note]bool{}}
	if rs == nil {
		return a
	}
	for i, t := range rs.Tables {
		a.owners[t] = OwnerOf(t)
		c := newCompiler(t)
		for _, ch := range t.Chains {
			a.tableOf[ch] = t
			for _, r := range ch.Rules {
				a.compiled[ch] = append(a.compiled[ch], c.compile(r))
			}
			if stage, ok := inboundStage(t.Family, ch.Hook); ok {
				a.bases = append(a.bases, baseChain{t: t, c: ch, stage: stage, order: i})
			}
		}
		a.marksSet = a.marksSet || c.marksSet
	}
	sort.SliceStable(a.bases, func(i, j int) bool {
		x, y := a.bases[i], a.bases[j]
		if x.stage != y.stage {
			return x.stage < y.stage
		}
		if x.c.Priority != y.c.Priority {
			return x.c.Priority < y.c.Priority
		}
		return x.order < y.order
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
		tb := Table{Family: t.Family, Name: t.Name, Owner: a.owners[t]}
		for _, c := range t.Chains {
			if c.Hook != "" {
				tb.BaseChains = append(tb.BaseChains, fmt.Sprintf("%s (%s, %s, priority %d, policy %s)", c.Name, c.Hook, c.Type, c.Priority, c.Policy))
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

// flow is a set of destination ports of one packet class on the same way through the rules.
type flow struct {
	ports          portSet
	log            logState
	byRule, byPol  Where // the last accept by a rule, by a policy
	hasRule, hasPo bool
}

// seg is a final outcome for a set of ports.
type seg struct {
	ports portSet
	out   Outcome
}

type flowKey struct {
	log            logState
	byRule, byPol  Where
	hasRule, hasPo bool
}

// merge joins flows on the same way so that their number stays small.
func merge(fs []flow) []flow {
	if len(fs) < 2 {
		return fs
	}
	idx := map[flowKey]int{}
	var out []flow
	for _, f := range fs {
		if f.ports.empty() {
			continue
		}
		k := flowKey{f.log, f.byRule, f.byPol, f.hasRule, f.hasPo}
		if i, ok := idx[k]; ok {
			out[i].ports = out[i].ports.union(f.ports)
			continue
		}
		idx[k] = len(out)
		out = append(out, f)
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
		var next []flow
		for _, f := range flows {
			cont := a.runRule(c, cr, f, p, depth, &res)
			next = append(next, cont...)
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
	var cont []flow
	m := f
	unsure, limited := false, false
	tcpudp := p.l4 == 6 || p.l4 == 17
	for i, st := range cr.steps {
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
			return append(cont, a.runVmap(c, cr, st.vmap, m, p, depth, res, w)...)
		case stVerdict, stReject, stNat:
			if i != len(cr.steps)-1 {
				// Nothing runs after a verdict; a statement after a nat is unusual but legal.
				if st.kind == stVerdict {
					return append(cont, a.verdict(c, st, m, p, depth, res, w, unsure, limited)...)
				}
			}
			return append(cont, a.verdict(c, st, m, p, depth, res, w, unsure, limited)...)
		}
	}
	return append(cont, m)
}

func (a *analyser) runVmap(c *Chain, cr *crule, vm *vmapStep, m flow, p *pkt, depth int, res *chainResult, w Where) []flow {
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
		res.final = append(res.final, seg{ports: m.ports, out: outcome(v, w, m.log)})
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
			m.byRule, m.hasRule = w, true
			res.final = append(res.final, seg{ports: m.ports, out: outcome(Accept, w, m.log)})
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
		t := a.tableOf[c]
		target := t.chain(v.Chain)
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

// run sends the packet class p, with destination ports ports, through every inbound base
// chain of its family.
func (a *analyser) run(p *pkt, ports portSet) []seg {
	flows := []flow{{ports: ports}}
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
		if b.c.Device != "" && b.c.Device != p.iifname {
			continue
		}
		r := a.runChain(b.c, flows, p, 0)
		final = append(final, r.final...)
		next := r.accepted
		pw := a.where(b.c, 0)
		for _, f := range r.returned {
			if b.c.Policy == "drop" {
				final = append(final, seg{ports: f.ports, out: outcome(Drop, pw, f.log)})
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
		final = append(final, seg{ports: f.ports, out: outcome(Accept, by, f.log)})
	}
	return final
}

// classes gathers what the rules name: source ranges, ports, interfaces.
type classes struct {
	srcBounds []netip.Addr // sorted starts of the source classes
	srcNamed  []srcRange
	portNamed portSet
	ifnames   []string // named interfaces (not lo)
	ifidx     []uint32
}

func (a *analyser) gather(v6 bool) classes {
	var cl classes
	bounds := map[netip.Addr]bool{}
	zero := netip.IPv4Unspecified()
	if v6 {
		zero = netip.IPv6Unspecified()
	}
	bounds[zero] = true
	// Loopback sources never arrive on another interface (the kernel drops them as martians:
	// IPv6 before any hook, IPv4 at routing, before input): their class is a don't-care.
	lb := loopbackRange(v6)
	bounds[lb.lo] = true
	bounds[lb.hi.Next()] = true
	names := map[string]bool{}
	idx := map[uint32]bool{}
	var named portSet
	for ch, crs := range a.compiled {
		if t := a.tableOf[ch]; ch.Device != "" && !names[ch.Device] && (t.Family == "netdev" || t.Family == "inet") {
			names[ch.Device] = true
		}
		for _, cr := range crs {
			for _, st := range cr.steps {
				cd := st.cond
				if st.kind == stVmap && st.vmap.dport {
					for _, ps := range st.vmap.ports {
						named = append(named, ps...)
					}
				}
				if cd == nil {
					continue
				}
				if cd.dport {
					named = append(named, cd.named...)
				}
				for _, s := range cd.srcs {
					if s.lo.Is6() != v6 {
						continue
					}
					cl.srcNamed = append(cl.srcNamed, s)
					bounds[s.lo] = true
					if n := s.hi.Next(); n.IsValid() {
						bounds[n] = true
					}
				}
				for _, n := range cd.ifnames {
					if n != "lo" && n != "" {
						names[n] = true
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
	for b := range bounds {
		cl.srcBounds = append(cl.srcBounds, b)
	}
	slices.SortFunc(cl.srcBounds, func(x, y netip.Addr) int { return x.Compare(y) })
	cl.portNamed = named.normalise()
	for n := range names {
		cl.ifnames = append(cl.ifnames, n)
	}
	sort.Strings(cl.ifnames)
	for i := range idx {
		cl.ifidx = append(cl.ifidx, i)
	}
	slices.Sort(cl.ifidx)
	return cl
}

// loopbackRange is 127.0.0.0/8 or ::1.
func loopbackRange(v6 bool) srcRange {
	if v6 {
		return srcRange{netip.IPv6Loopback(), netip.IPv6Loopback()}
	}
	return srcRange{netip.MustParseAddr("127.0.0.0"), netip.MustParseAddr("127.255.255.255")}
}

// impossible reports whether source class i lies in the loopback range.
func (cl classes) impossible(i int, v6 bool) bool {
	lb := loopbackRange(v6)
	return lb.lo.Compare(cl.srcBounds[i]) <= 0 && cl.classHi(i, v6).Compare(lb.hi) <= 0
}

// unnamedSource picks a source address in no range a rule names.
func (cl classes) unnamedSource(v6 bool) netip.Addr {
	cand := netip.MustParseAddr("203.0.113.77")
	if v6 {
		cand = netip.MustParseAddr("2001:db8:ffff::77")
	}
	named := func(x netip.Addr) bool {
		for _, s := range cl.srcNamed {
			if s.lo.Compare(x) <= 0 && x.Compare(s.hi) <= 0 {
				return true
			}
		}
		return false
	}
	if !named(cand) {
		return cand
	}
	for _, b := range cl.srcBounds {
		if !named(b) {
			return b
		}
	}
	return cand
}

// unnamedPort picks a destination port no rule names, unprivileged if it can.
func (cl classes) unnamedPort() uint16 {
	free := cl.portNamed.complement()
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
func (cl classes) genericIface() (string, uint32) {
	name := "unnamed0"
	for slices.ContainsFunc(cl.ifnames, func(n string) bool {
		return n == name || (strings.HasSuffix(n, "*") && strings.HasPrefix(name, strings.TrimSuffix(n, "*")))
	}) {
		name = "x" + name
	}
	idx := uint32(2)
	for slices.Contains(cl.ifidx, idx) {
		idx++
	}
	return name, idx
}

// classHi is the last address of source class i.
func (cl classes) classHi(i int, v6 bool) netip.Addr {
	if i+1 < len(cl.srcBounds) {
		return cl.srcBounds[i+1].Prev()
	}
	if v6 {
		return netip.AddrFrom16([16]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	}
	return netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

func (a *analyser) family(v6 bool) Family {
	fam := Family{Family: "ipv4", Open: []Open{}}
	echoType, icmp := byte(8), byte(1)
	if v6 {
		fam.Family, echoType, icmp = "ipv6", 128, 58
	}
	cl := a.gather(v6)
	gname, gidx := cl.genericIface()
	src := cl.unnamedSource(v6)
	port := cl.unnamedPort()
	mk := func(l4 byte, s netip.Addr, name string, idx uint32) *pkt {
		return &pkt{v6: v6, l4: l4, saddr: s, iifname: name, iif: idx, marksSet: a.marksSet, icmpType: echoType}
	}
	at := func(segs []seg, p uint16) Outcome {
		for _, s := range segs {
			if s.ports.contains(p) {
				return s.out
			}
		}
		return Outcome{Verdict: Accept}
	}
	fam.Unmatched = at(a.run(mk(6, src, gname, gidx), allPorts), port)
	fam.UnmatchedUDP = at(a.run(mk(17, src, gname, gidx), allPorts), port)
	fam.Echo = at(a.run(mk(icmp, src, gname, gidx), onePort(0)), 0)

	type iface struct {
		label string
		name  string
		idx   uint32
	}
	ifaces := []iface{{"", gname, gidx}}
	for _, n := range cl.ifnames {
		ifaces = append(ifaces, iface{n, strings.TrimSuffix(n, "*") + "*", gidx})
		if !strings.HasSuffix(n, "*") {
			ifaces[len(ifaces)-1].name = n
		}
	}
	for _, i := range cl.ifidx {
		ifaces = append(ifaces, iface{fmt.Sprintf("if#%d", i), gname, i})
	}
	// open[key][class] = accepted ports
	type okey struct {
		proto string
		iif   string
		by    Where
	}
	open := map[okey]map[int]portSet{}
	var keys []okey
	for _, proto := range []struct {
		name string
		l4   byte
	}{{"tcp", 6}, {"udp", 17}} {
		for ci, lo := range cl.srcBounds {
			if cl.impossible(ci, v6) {
				continue
			}
			var generic portSet
			for _, ifc := range ifaces {
				segs := a.run(mk(proto.l4, lo, ifc.name, ifc.idx), allPorts)
				var all portSet
				for _, s := range segs {
					if s.out.Verdict != Accept {
						continue
					}
					ps := s.ports
					if ifc.label != "" {
						ps = ps.minus(generic)
					} else {
						all = all.union(ps)
					}
					if ps.empty() {
						continue
					}
					k := okey{proto.name, ifc.label, s.out.By}
					if open[k] == nil {
						open[k] = map[int]portSet{}
						keys = append(keys, k)
					}
					open[k][ci] = open[k][ci].union(ps)
				}
				if ifc.label == "" {
					generic = all
				}
			}
		}
	}
	for _, k := range keys {
		fam.Open = append(fam.Open, cl.opens(k.proto, k.iif, k.by, open[k], v6)...)
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

// opens turns the ports accepted per source class into Open entries: port ranges with the
// same sources are merged, and the sources become prefixes (nil: from anywhere).
func (cl classes) opens(proto, iif string, by Where, perClass map[int]portSet, v6 bool) []Open {
	var cuts []uint32
	for _, ps := range perClass {
		for _, r := range ps {
			cuts = append(cuts, uint32(r.lo), uint32(r.hi)+1)
		}
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	type piece struct {
		lo, hi  uint16
		classes []int
	}
	var pieces []piece
	ids := make([]int, 0, len(perClass))
	for ci := range perClass {
		ids = append(ids, ci)
	}
	slices.Sort(ids)
	for i := 0; i+1 < len(cuts); i++ {
		lo, hi := uint16(cuts[i]), uint16(cuts[i+1]-1)
		var in []int
		for _, ci := range ids {
			if perClass[ci].contains(lo) {
				in = append(in, ci)
			}
		}
		if len(in) == 0 {
			continue
		}
		if n := len(pieces); n > 0 && uint32(pieces[n-1].hi)+1 == uint32(lo) && slices.Equal(pieces[n-1].classes, in) {
			pieces[n-1].hi = hi
			continue
		}
		pieces = append(pieces, piece{lo, hi, in})
	}
	var out []Open
	for _, pc := range pieces {
		o := Open{Proto: proto, From: pc.lo, To: pc.hi, IIF: iif, By: by}
		if srcs := cl.withDontCares(pc.classes, v6); len(srcs) != len(cl.srcBounds) {
			o.Sources = cl.prefixes(srcs, v6)
		}
		out = append(out, o)
	}
	return out
}

// withDontCares adds the impossible (loopback) classes next to a class in ids, so that they
// merge into the neighbouring prefixes.
func (cl classes) withDontCares(ids []int, v6 bool) []int {
	in := map[int]bool{}
	for _, i := range ids {
		in[i] = true
	}
	out := append([]int(nil), ids...)
	for i := range cl.srcBounds {
		if !in[i] && cl.impossible(i, v6) && (in[i-1] || in[i+1]) {
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return out
}

// prefixes covers the given source classes with the fewest prefixes.
func (cl classes) prefixes(ids []int, v6 bool) []netip.Prefix {
	var out []netip.Prefix
	for i := 0; i < len(ids); {
		j := i
		for j+1 < len(ids) && ids[j+1] == ids[j]+1 {
			j++
		}
		out = append(out, rangePrefixes(cl.srcBounds[ids[i]], cl.classHi(ids[j], v6))...)
		i = j + 1
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
