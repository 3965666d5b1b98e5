package rules

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Simulation model, where it departs from a kernel that sees real traffic:
//
//   - self, and interface names used as addresses ("en0", "(en0)") when PFOptions does not give
//     the interface's addresses, are the host's own addresses. A Packet carries no list of them,
//     so the host's side of the packet stands for them: the destination of an inbound packet, the
//     source of an outbound one. Loopback addresses (127.0.0.0/8, ::1) are always the host's, on
//     either side. An interface whose addresses are given stands for them (see pf_addr.go).
//   - State. pf keeps state by default on pass rules (OpenBSD 4.1 and later, and macOS): the first
//     packet of a connection that a "pass … keep state" (or modulate or synproxy state) rule passes
//     creates a state entry, and every later packet of the connection, in both directions, passes on
//     that entry without the rules being evaluated. A Packet carries its TCP flags (Flags, which
//     "flags X/Y" rules test) but no sequence numbers, so a TCP packet with ACK or RST
//     (Established) is taken to belong to a connection the rule set allowed when its connection's
//     opening SYN would have been passed by a rule that keeps state: the SYN of the reverse
//     packet (source and destination and their ports swapped, direction flipped: the packet is a
//     reply) or the SYN of the packet itself (the packet comes from the side that opened the
//     connection), the one sent to the lower port tried first, as clients connect from high ports
//     to services. The verdict then names the rule that would have created the state. Otherwise
//     the packet is evaluated like any other, and pass rules with pf's default "flags S/SA" do not
//     match it (its ACK is set). A TCP packet with neither ACK nor RST (a SYN, a lone FIN, a null
//     scan) is evaluated as a connection's first packet. A packet of any protocol marked Reply
//     ("reply" in the packet syntax) answers a flow the other side opened: it passes when the
//     flow's first packet (pfReplyOpener: the reply reversed, a SYN for TCP, the query for an ICMP
//     answer) would have been passed by a rule that keeps state, whatever the rules say of the
//     reply itself; otherwise the rules decide. UDP and ICMP packets without the mark are
//     evaluated as a flow's first packet.
//   - A non-first fragment (Frag) matches no rule with ports, TCP flags or ICMP types, as in pf,
//     and no state.
//   - "block return" answers TCP with a RST and other protocols but ICMP with an ICMP unreachable;
//     "return-rst" answers only TCP; "return-icmp" answers all but ICMP. Answered packets get
//     Reject, the others Deny.

// Eval returns the verdict pf would give p: the last matching rule decides, a matching quick rule
// (or a match inside a quick anchor, once the anchor ends) stops evaluation, and a packet no rule
// matches passes. It does not allocate.
func (rs *PFRuleset) Eval(p *Packet) Verdict {
	c := &rs.blocks[0]
	ifIdx := c.ifIndex(p.Iface)
	if k := c.skipAt[ifIdx]; k >= 0 {
		return rs.skipVerdict(int(k))
	}
	if p.About != nil && rs.pfQuotesState(p) {
		i, u := rs.errorState(p)
		if i >= 0 {
			return rs.verdictUnsure(i, p, u)
		}
		d := rs.decideBlocks(p)
		return rs.verdictUnsure(d, p, pfFirstUnsure(u, rs.unsureFor(p, d, false)))
	}
	if rs.xlate && rs.needsX(p) {
		v := rs.evalX(p)
		v.Unsure = rs.xUnsure(p, v)
		return v
	}
	if len(rs.blocks) > 1 || rs.xo.post {
		// Several blocks, or conditions tested in rule order (decideBlocks takes decidePost).
		return rs.evalBlocks(p)
	}
	var m pfMasks
	k := c.keys(p)
	c.masks(p, ifIdx, &k, &m)
	if p.Reply && rs.stateful && !p.Frag {
		q := pfReplyOpener(p)
		rk := k.reverse()
		i := c.decide(&q, ifIdx, &rk)
		u := rs.unsureFor(&q, i, true)
		if rs.keepsState(i) {
			return rs.verdictUnsure(i, p, u)
		}
		d := c.scan(&m)
		return rs.verdictUnsure(d, p, pfFirstUnsure(u, rs.unsureFor(p, d, false)))
	}
	if !rs.stateful || !pfStateCandidate(p) {
		d := c.scan(&m)
		return rs.verdictUnsure(d, p, rs.unsureFor(p, d, false))
	}
	// The packet's own SYN differs from the packet only in its TCP flags: one pass over the
	// bitsets decides both. The reverse SYN needs its own lookups.
	own, self := c.scanPair(&m, c.comboFor(p, ifIdx, int(c.flagClass[TCPSYN])), m.id[0])
	ownFirst := p.DstPort < p.SrcPort
	u := ""
	if ownFirst {
		u = rs.unsureOwn(p, own)
		if rs.keepsState(own) {
			return rs.verdictUnsure(own, p, u)
		}
	}
	q := pfReverse(p)
	q.Setup, q.Established, q.Flags = true, false, TCPSYN
	rk := k.reverse()
	i := c.decide(&q, ifIdx, &rk)
	u = pfFirstUnsure(u, rs.unsureFor(&q, i, true))
	if rs.keepsState(i) {
		return rs.verdictUnsure(i, p, u)
	}
	if !ownFirst {
		u = pfFirstUnsure(u, rs.unsureOwn(p, own))
		if rs.keepsState(own) {
			return rs.verdictUnsure(own, p, u)
		}
	}
	return rs.verdictUnsure(self, p, pfFirstUnsure(u, rs.unsureFor(p, self, false)))
}

// evalBlocks is Eval for a rule set of several classifier blocks: the same decisions, with the
// state model's openers tried one by one.
func (rs *PFRuleset) evalBlocks(p *Packet) Verdict {
	u := ""
	if p.Reply && rs.stateful && !p.Frag {
		q := pfReplyOpener(p)
		i := rs.decideBlocks(&q)
		u = rs.unsureFor(&q, i, true)
		if rs.keepsState(i) {
			return rs.verdictUnsure(i, p, u)
		}
	} else if rs.stateful && pfStateCandidate(p) {
		for k := range 2 {
			q := pfOpener(p, k)
			i := rs.decideBlocks(&q)
			u = pfFirstUnsure(u, rs.unsureFor(&q, i, true))
			if rs.keepsState(i) {
				return rs.verdictUnsure(i, p, u)
			}
		}
	}
	d := rs.decideBlocks(p)
	return rs.verdictUnsure(d, p, pfFirstUnsure(u, rs.unsureFor(p, d, false)))
}

func (rs *PFRuleset) keepsState(i int) bool {
	return i >= 0 && rs.rules[i].f.pass && rs.rules[i].f.state != pfNoState
}

// pfEvalReference is the plain interpreter Eval is checked against: it walks the anchor tree rule
// by rule, with each rule's conditions tested directly.
func (rs *PFRuleset) pfEvalReference(p *Packet) Verdict {
	v, _ := rs.interpret(p, false)
	return v
}

// Explain evaluates p like Eval and returns every rule considered, in order, with the first
// condition each failed or what its match did.
func (rs *PFRuleset) Explain(p *Packet) (Verdict, []Step) {
	return rs.interpret(p, true)
}

func (rs *PFRuleset) skipVerdict(i int) Verdict {
	return Verdict{Action: Allow, Rule: -1, Where: rs.skip[i].where, Text: rs.skip[i].text}
}

const (
	pfDefaultWhere = "default"
	pfDefaultText  = "pass all"
)

func (rs *PFRuleset) verdict(i int, p *Packet) Verdict {
	if i < 0 {
		return Verdict{Action: Allow, Rule: -1, Where: pfDefaultWhere, Text: pfDefaultText}
	}
	f := rs.rules[i].f
	return Verdict{Action: f.action(p), Rule: i, Where: f.where, Text: f.text}
}

func (f *pfFilter) action(p *Packet) Action {
	if f.pass {
		return Allow
	}
	icmp := p.Proto == ProtoICMP || p.Proto == ProtoICMPv6
	switch f.ret {
	case pfRetReturn:
		if !icmp {
			return Reject
		}
	case pfRetRST:
		if p.Proto == ProtoTCP {
			return Reject
		}
	case pfRetICMP:
		if !icmp {
			return Reject
		}
	}
	return Deny
}

func pfStateCandidate(p *Packet) bool {
	return p.Proto == ProtoTCP && p.Established && !p.Setup && !p.Frag
}

// pfOpener returns the k-th (0 or 1) packet that could have opened p's connection: the SYN of
// its reverse (p is a reply) or p's own SYN (p comes from the side that opened it). The one sent
// to the lower port comes first, since clients connect from high ports to services; on a tie, the
// reverse.
func pfOpener(p *Packet, k int) Packet {
	var q Packet
	if (k == 0) == (p.DstPort < p.SrcPort) {
		q = *p
	} else {
		q = pfReverse(p)
	}
	q.Setup, q.Established, q.Flags = true, false, TCPSYN
	return q
}

// pfReplyOpener is the packet that opened the flow p (a Reply) answers: p reversed, a SYN for
// TCP, the query for an ICMP query's answer (echo, timestamp, information, address mask), and not
// itself a reply. pf matches such a reply to that packet's state entry.
func pfReplyOpener(p *Packet) Packet {
	q := pfReverse(p)
	q.Reply = false
	switch q.Proto {
	case ProtoTCP:
		q.Setup, q.Established, q.Flags = true, false, TCPSYN
	case ProtoICMP:
		switch q.ICMPType {
		case 0: // echo reply
			q.ICMPType = 8
		case 14, 16, 18: // timestamp, information and address mask replies
			q.ICMPType--
		}
	case ProtoICMPv6:
		if q.ICMPType == 129 { // echo reply
			q.ICMPType = 128
		}
	}
	return q
}

// pfReverse is p's reply: addresses and ports swapped, direction flipped.
func pfReverse(p *Packet) Packet {
	r := *p
	r.Src, r.Dst, r.SrcPort, r.DstPort = p.Dst, p.Src, p.DstPort, p.SrcPort
	switch p.Dir {
	case In:
		r.Dir = Out
	case Out:
		r.Dir = In
	}
	return r
}

// stateRule returns the rule whose state entry p would match, or -1, the reference way, and
// what the openers' evaluations rest on (see certainty.go).
func (rs *PFRuleset) stateRule(p *Packet) (int, string) {
	u := ""
	for k := range 2 {
		q := pfOpener(p, k)
		i := rs.walk(&q, nil)
		u = pfFirstUnsure(u, rs.unsureRef(&q, i, true))
		if rs.keepsState(i) {
			return i, u
		}
	}
	return -1, u
}

func (rs *PFRuleset) interpret(p *Packet, explain bool) (Verdict, []Step) {
	var steps []Step
	for i := range rs.skip {
		if rs.skip[i].iface == p.Iface {
			if explain {
				steps = append(steps, Step{rs.skip[i].where, rs.skip[i].text, true,
					fmt.Sprintf("interface %s is skipped: pf passes its packets without evaluating any rule", p.Iface)})
			}
			return rs.skipVerdict(i), steps
		}
	}
	if rs.xlate && !rs.pfQuotesState(p) {
		// (An ICMP error is matched to the state of the flow it quotes first, as Eval does.)
		v, steps := rs.interpretX(p, explain, steps)
		if !rs.needsX(p) {
			// No translation applies, so the verdict rests on what the untranslated one does
			// (Eval takes that path).
			plain, _ := rs.interpretPlain(p, false, nil)
			v.Unsure = plain.Unsure
		} else {
			v.Unsure = rs.xUnsure(p, v)
		}
		return v, steps
	}
	return rs.interpretPlain(p, explain, steps)
}

// interpretPlain is interpret for a packet no translation applies to.
func (rs *PFRuleset) interpretPlain(p *Packet, explain bool, steps []Step) (Verdict, []Step) {
	u := ""
	if rs.pfQuotesState(p) {
		var i int
		var opener Packet
		i, u, opener = rs.errorStateRef(p)
		if explain {
			steps = append(steps, pfErrorStep(rs, p, i, &opener))
		}
		if i >= 0 {
			return rs.verdictUnsure(i, p, u), steps
		}
	} else if p.Reply && rs.stateful && !p.Frag {
		opener := pfReplyOpener(p)
		i := rs.walk(&opener, nil)
		u = rs.unsureRef(&opener, i, true)
		if rs.keepsState(i) {
			if explain {
				f := rs.rules[i].f
				steps = append(steps, Step{f.where, f.text, true,
					fmt.Sprintf("state: the packet is a reply; this rule keeps state and passes the flow's first packet (%s), so pf passes the reply on that state without evaluating rules", &opener)})
			}
			return rs.verdictUnsure(i, p, u), steps
		}
		if explain {
			steps = append(steps, Step{"state", "", false, fmt.Sprintf("no state: no rule that keeps state passes the flow's first packet (%s), so the rules decide", &opener)})
		}
	} else if rs.stateful && pfStateCandidate(p) {
		var i int
		if i, u = rs.stateRule(p); i >= 0 {
			if explain {
				opener := pfOpener(p, 0)
				if rs.walk(&opener, nil) != i {
					opener = pfOpener(p, 1)
				}
				f := rs.rules[i].f
				steps = append(steps, Step{f.where, f.text, true,
					fmt.Sprintf("state: this rule keeps state and passes the connection's opening packet (%s), so pf passes this packet on that state without evaluating rules", opener)})
			}
			return rs.verdictUnsure(i, p, u), steps
		}
		if explain {
			steps = append(steps, Step{"state", "", false, "no state: no rule that keeps state passes the SYN that would have opened this connection (in either direction), so the rules decide"})
		}
	}
	var trace *[]Step
	if explain {
		trace = &steps
	}
	i := rs.walk(p, trace)
	if explain && i < 0 {
		steps = append(steps, Step{pfDefaultWhere, pfDefaultText, true, "no rule matched: pf passes the packet"})
	}
	return rs.verdictUnsure(i, p, pfFirstUnsure(u, rs.unsureRef(p, i, false))), steps
}

// pfWalker evaluates the anchor tree the way pf_test_rule does.
type pfWalker struct {
	rs    *PFRuleset
	p     *Packet // the packet as the rules see it: cur once a match rule translated it
	cur   Packet
	idx   int    // index of the next rule in the expanded order
	tag   uint16 // the tag register (pf_opts.go): the tag of the last matching rule that set one
	last  int
	stop  bool
	trace *[]Step
	force int  // a rule taken to match, for certainty's reference (see unsureRef); -1 for none
	only  bool // inside an anchor entered only to reach force: no other rule matches
}

// walk returns the index of the deciding rule, or -1.
func (rs *PFRuleset) walk(p *Packet, trace *[]Step) int {
	i, _ := rs.walkPacket(p, trace)
	return i
}

// walkPacket is walk that also returns the packet as the last rules saw it, which match rules
// with a translation change on the way (pf_translate.go).
func (rs *PFRuleset) walkPacket(p *Packet, trace *[]Step) (int, Packet) {
	w := pfWalker{rs: rs, p: p, last: -1, trace: trace, force: -1}
	w.ruleset(rs.root, "")
	return w.last, *w.p
}

func (w *pfWalker) step(where, text string, matched bool, why string) {
	if w.trace != nil {
		*w.trace = append(*w.trace, Step{Where: where, Text: text, Matched: matched, Why: why})
	}
}

// ruleset evaluates a's rules and reports whether any matched. quickAnchor names the innermost
// quick anchor being evaluated, for the explanation.
func (w *pfWalker) ruleset(a *pfAnchor, quickAnchor string) bool {
	explain := w.trace != nil
	matched := false
	for _, st := range a.stmts {
		if f := st.f; f != nil {
			i := w.idx
			w.idx++
			ok, why := f.check(w.p, explain)
			if ok {
				ok, why = f.cond.x.match(&w.rs.xo, w.p, w.tag, explain)
			}
			if i == w.force {
				ok = true
			} else if w.only {
				ok = false
			}
			if !ok {
				w.step(f.where, f.text, false, why)
				continue
			}
			if f.cond.x.tag != 0 {
				w.tag = f.cond.x.tag // a match rule tags too
			}
			if f.match {
				w.matchRule(f)
				continue
			}
			w.last, matched = i, true
			if f.quick {
				w.stop = true
				w.step(f.where, f.text, true, f.cond.x.matchedWhy("matched quick: evaluation stops here"))
				return true
			}
			why = "matched; last match so far"
			if quickAnchor != "" {
				why += fmt.Sprintf(" (anchor %q is quick: evaluation stops when it ends)", quickAnchor)
			}
			w.step(f.where, f.text, true, f.cond.x.matchedWhy(why))
			continue
		}
		c := st.call
		ok, why := c.cond.check(w.p, explain)
		if ok {
			ok, why = c.cond.x.match(&w.rs.xo, w.p, w.tag, explain)
		}
		only := w.only
		if !ok && w.force >= w.idx && w.force < w.idx+c.size {
			ok, w.only = true, true // the forced rule's anchors are taken to match as it is
		}
		if !ok {
			w.idx += c.size
			if explain {
				w.step(c.where, c.text, false, fmt.Sprintf("%s; the anchor's %s skipped", why, pfRules(c.size)+map[bool]string{true: " is", false: " are"}[c.size == 1]))
			}
			continue
		}
		if c.cond.x.tag != 0 {
			w.tag = c.cond.x.tag
		}
		if explain {
			w.step(c.where, c.text, true, c.cond.x.matchedWhy(pfCallWhy(c)))
		}
		inner := quickAnchor
		if c.quick {
			inner = c.path
		}
		sub := false
		for _, t := range c.targets {
			if w.ruleset(t, inner) {
				sub = true
			}
			if w.stop {
				w.only = only
				return true
			}
		}
		w.only = only
		if sub {
			matched = true
			if c.quick {
				w.stop = true
				w.step(c.where, c.text, true, "a rule in this quick anchor matched: evaluation stops here")
				return true
			}
		}
	}
	return matched
}

func pfRules(n int) string {
	if n == 1 {
		return "1 rule"
	}
	return fmt.Sprintf("%d rules", n)
}

func pfCallWhy(c *pfCall) string {
	if !c.wildcard {
		return fmt.Sprintf("matched: evaluating anchor %q (%s)", c.path, pfRules(c.size))
	}
	if len(c.targets) == 0 {
		return fmt.Sprintf("matched: no anchors below %q to evaluate", c.path)
	}
	names := make([]string, len(c.targets))
	for i, t := range c.targets {
		names[i] = fmt.Sprintf("%q (%s)", t.path, pfRules(t.size))
	}
	return "matched: evaluating the anchors below " + strconv.Quote(c.path) + ": " + strings.Join(names, ", ")
}

func pfIsAF(a netip.Addr, af uint8) bool {
	if !a.IsValid() {
		return false
	}
	if af == 4 {
		return a.Is4()
	}
	return a.Is6()
}

func pfAFName(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "none"
	case a.Is4():
		return "inet"
	}
	return "inet6"
}

func (e *pfAddrElem) match(a netip.Addr, local bool) bool {
	in := false
	switch e.kind {
	case pfHostAny:
		in = true
	case pfHostSelf:
		in = a.IsValid() && (local || pfLoopback.contains(pfKey(a)))
	default:
		in = a.IsValid() && (e.set.contains(pfKey(a)) || e.self && (local || pfLoopback.contains(pfKey(a))))
	}
	if e.neg {
		if e.af != 0 && !pfIsAF(a, e.af) {
			return false
		}
		return !in
	}
	return in
}

func pfAddrsMatch(es []pfAddrElem, a netip.Addr, local bool) bool {
	if len(es) == 0 {
		return true
	}
	for i := range es {
		if es[i].match(a, local) {
			return true
		}
	}
	return false
}

func pfPortsMatch(ps []pfIPSet, port uint16) bool {
	k := pfU128{0, uint64(port)}
	for _, s := range ps {
		if s.contains(k) {
			return true
		}
	}
	return false
}

// pfNot says that a value is outside a condition as written: "is not 80", "is not in { 80 443 }".
func pfNot(text string) string {
	if strings.HasPrefix(text, "{") || strings.HasPrefix(text, "<") {
		return "is not in " + text
	}
	return "is not " + text
}

// check reports whether p meets c; why names the first condition p fails (only when explain).
func (c *pfCond) check(p *Packet, explain bool) (bool, string) {
	fail := func(format string, args ...any) (bool, string) {
		if !explain {
			return false, ""
		}
		return false, fmt.Sprintf(format, args...)
	}
	if c.dir != 0 && p.Dir != c.dir {
		d := "unset"
		if p.Dir == In || p.Dir == Out {
			d = p.Dir.String()
		}
		return fail("direction %s is not %s", d, c.dir)
	}
	if len(c.ifs) > 0 && !slices.ContainsFunc(c.ifs, func(e pfIfElem) bool { return (p.Iface == e.name) != e.neg }) {
		name := p.Iface
		if name == "" {
			name = "(none)"
		}
		return fail("interface %s %s", name, pfNot(c.ifText))
	}
	src, dst := p.Src.Unmap(), p.Dst.Unmap()
	if c.af != 0 && (!pfIsAF(src, c.af) || !pfIsAF(dst, c.af)) {
		want := "inet"
		if c.af == 6 {
			want = "inet6"
		}
		a := src
		if pfIsAF(src, c.af) {
			a = dst
		}
		return fail("address family %s is not %s", pfAFName(a), want)
	}
	if len(c.protos) > 0 && !slices.Contains(c.protos, p.Proto) {
		return fail("proto %s %s", pfProtoName(p.Proto), pfNot(c.protoTxt))
	}
	ports := p.Proto == ProtoTCP || p.Proto == ProtoUDP
	for _, side := range []struct {
		name  string
		h     *pfHost
		a     netip.Addr
		port  uint16
		local bool
	}{{"source", &c.src, src, p.SrcPort, p.Dir == Out}, {"destination", &c.dst, dst, p.DstPort, p.Dir == In}} {
		if !pfAddrsMatch(side.h.addrs, side.a, side.local) {
			if !explain {
				return false, ""
			}
			why := fmt.Sprintf("%s %s %s", side.name, pfAddrString(side.a), pfNot(side.h.addrText))
			if slices.ContainsFunc(side.h.addrs, func(e pfAddrElem) bool { return (e.kind == pfHostSelf || e.self) && !e.neg }) && !side.local {
				why += " (self stands for the host's side of the packet: the destination of an inbound packet, the source of an outbound one)"
			}
			for _, e := range side.h.addrs {
				if e.resolved != "" {
					why += " (" + e.resolved + ")"
				}
				if e.unsure != "" {
					why += " (" + e.unsure + ")"
				}
			}
			return false, why
		}
		if side.h.ports == nil {
			continue
		}
		switch {
		case !ports:
			return fail("proto %s has no ports", pfProtoName(p.Proto))
		case p.Frag:
			return fail("a non-first fragment carries no ports")
		case !pfPortsMatch(side.h.ports, side.port):
			return fail("%s port %d %s", side.name, side.port, pfNot(side.h.portText))
		}
	}
	return true, ""
}

func pfAddrString(a netip.Addr) string {
	if !a.IsValid() {
		return "(none)"
	}
	return a.String()
}

// pfPacketFlags is p's TCP flags (none for a packet that is not TCP).
func pfPacketFlags(p *Packet) uint8 {
	if p.Proto != ProtoTCP {
		return 0
	}
	return p.TCPFlags()
}

func (f *pfFilter) check(p *Packet, explain bool) (bool, string) {
	if ok, why := f.cond.check(p, explain); !ok {
		return false, why
	}
	if f.mask != 0 && p.Proto == ProtoTCP {
		if p.Frag {
			return false, pfIf(explain, "a non-first fragment carries no tcp flags")
		}
		if fl := pfPacketFlags(p); fl&f.mask != f.flags {
			if !explain {
				return false, ""
			}
			got := pfFlagString(fl)
			if got == "" {
				got = "none"
			}
			why := fmt.Sprintf("tcp flags %s do not match flags %s/%s", got, pfFlagString(f.flags), pfFlagString(f.mask))
			if !strings.Contains(f.text, "flags") {
				why += " (pf's default for pass rules that keep state: only a connection's SYN matches)"
			}
			return false, why
		}
	}
	if len(f.icmp) > 0 {
		if p.Frag {
			return false, pfIf(explain, "a non-first fragment carries no icmp type")
		}
		if !slices.ContainsFunc(f.icmp, func(e pfICMPElem) bool {
			return p.ICMPType == e.typ && (e.code < 0 || e.code == p.ICMPCode)
		}) {
			if !explain {
				return false, ""
			}
			t := "none"
			if p.ICMPType >= 0 {
				t = strconv.Itoa(int(p.ICMPType))
				if p.ICMPCode >= 0 {
					t += " code " + strconv.Itoa(int(p.ICMPCode))
				}
			}
			return false, fmt.Sprintf("icmp type %s is not %s", t, f.icmpText)
		}
	}
	return true, ""
}

func pfIf(explain bool, s string) string {
	if explain {
		return s
	}
	return ""
}
