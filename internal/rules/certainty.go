package rules

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Certainty. A rule is unsure when the file and the packet do not decide one of its conditions:
// its unsure list (pfFilter.unsure, IPFWRule.unsure) says which and why, and for pf a table
// filled at run time (persist, empty or an overload target) is one more: its contents are
// unknown, whatever entries the file gives it. A verdict rests on an unsure rule, and then says
// so in Verdict.Unsure, when the rule decided it, or when the rule would change it were its unsure
// conditions to hold, which is when its other conditions (its loose match) hold for the packet
// and the rule is placed to change the outcome:
//
//   - pf (the last match decides, quick stops): a rule after the deciding one that evaluation
//     still reaches (every later rule, or only those up to the end of the quick anchor around
//     the deciding rule, or none after a quick rule), or a rule before it whose match would stop
//     evaluation before the deciding rule (quick, or inside a quick anchor that ends by then);
//     such a rule would decide instead, and counts only when its outcome differs: its action,
//     or, for a state model's opening packet, whether it creates state. A block on a table
//     filled at run time thus makes the passes it may override conditional, not the blocks.
//   - ipfw (the first match decides): a rule that evaluation reaches before the deciding one
//     and whose match would change the walk (any rule but count): a skipto, matched or not, or a
//     rule that would decide with another action (ipfwUnsure).
//
// When the state model evaluates an opening packet first (pf's opener SYN or reply opener,
// ipfw's dynamic rule check), what that evaluation rests on counts too: whether state exists
// decides the verdict. Verdict.Unsure names the first unsure rule found, in evaluation order
// (the deciding rule of an evaluation before the rules around it), as "WHERE: REASON; REASON",
// built when the rule set is compiled so that evaluating does not allocate.
//
// The conditions that parsers mark unsure (user, group, tagged, received-on, host names …) are
// kept out of the per-field sets this file matches loosely (direction, interface, protocol,
// addresses, ports, TCP flags, ICMP type), so a loose match takes them to hold whatever the
// model makes of them; runtime tables, which are in the address sets, are replaced by "any".

// pfUnsure is an unsure pf rule: its index in the expanded rule set, its field sets with the
// tables filled at run time taken as any address, and what a verdict resting on it says.
type pfUnsure struct {
	i     int
	loose pfRule
	text  string
}

// addUnsure records the rule just appended to rs.rules, whose conditions (its own last, the
// anchors' around it before) are conds, when it is unsure.
func (rs *PFRuleset) addUnsure(conds []*pfCond) {
	i := len(rs.rules) - 1
	f := rs.rules[i].f
	reasons := slices.Clone(f.unsure)
	var loose []*pfCond
	for _, c := range conds {
		cc := c
		for _, h := range []*pfHost{&c.src, &c.dst} {
			for _, e := range h.addrs {
				if !e.runtime {
					continue
				}
				r := fmt.Sprintf("table <%s> is filled at run time, so its contents are unknown", e.table)
				if !slices.Contains(reasons, r) {
					reasons = append(reasons, r)
				}
				if cc == c {
					copied := *c
					cc = &copied
				}
			}
		}
		if cc != c {
			cc.src.addrs, cc.dst.addrs = pfLooseAddrs(c.src.addrs), pfLooseAddrs(c.dst.addrs)
		}
		loose = append(loose, cc)
	}
	if len(reasons) == 0 {
		return
	}
	u := pfUnsure{i: i, loose: pfFieldSets(f, loose, rs.memo), text: f.where + ": " + strings.Join(reasons, "; ")}
	rs.unsure = append(rs.unsure, u)
}

// indexUnsure fills unsureAt from unsure.
func (rs *PFRuleset) indexUnsure() {
	rs.unsureAt = nil
	if len(rs.unsure) == 0 {
		return
	}
	rs.unsureAt = make([]int32, len(rs.rules))
	for i := range rs.unsureAt {
		rs.unsureAt[i] = -1
	}
	for k, u := range rs.unsure {
		rs.unsureAt[u.i] = int32(k)
	}
}

// pfLooseAddrs is an address list with every table filled at run time, negated or not, taken
// as any address: it may hold any of them.
func pfLooseAddrs(es []pfAddrElem) []pfAddrElem {
	out := slices.Clone(es)
	for k := range out {
		if out[k].runtime {
			out[k] = pfAddrElem{kind: pfHostAny, text: out[k].text}
		}
	}
	return out
}

// pfStopEnd is where evaluation ends when rule i matches: after it for a quick rule, at the end
// of the innermost quick anchor around it, or after every rule.
func (rs *PFRuleset) pfStopEnd(i int) int {
	r := &rs.rules[i]
	switch {
	case r.f.quick:
		return i + 1
	case r.qEnd >= 0:
		return r.qEnd
	}
	return len(rs.rules)
}

// unsureFor is what the decision d (a rule index, or -1 for no match) for p rests on: the text
// of the first unsure rule it depends on, or "". An unsure rule that would decide in d's place
// with the same outcome (pfOutcome) changes nothing and does not count.
func (rs *PFRuleset) unsureFor(p *Packet, d int, opener bool) string {
	if len(rs.unsure) == 0 {
		return ""
	}
	reach := len(rs.rules)
	if d >= 0 {
		if k := rs.unsureAt[d]; k >= 0 {
			return rs.unsure[k].text
		}
		reach = rs.pfStopEnd(d)
	}
	for k := range rs.unsure {
		u := &rs.unsure[k]
		if u.i >= reach {
			break
		}
		if rs.tagsFrom(u) && u.loose.looseMatch(p) {
			return u.text // evaluation reaches it, and its tag may change what later rules match
		}
		if u.i < d && rs.pfStopEnd(u.i) > d {
			continue // a match would not stop evaluation before d, which would still decide
		}
		// Were u to match, it would decide: d was the last match evaluation reached, and a
		// match of u stops it before d.
		if rs.pfOutcome(p, u.i, opener) != rs.pfOutcome(p, d, opener) && u.loose.looseMatch(p) {
			return u.text
		}
	}
	return ""
}

// looseMatch reports whether p meets the rule's field sets and its TCP flags and ICMP tests.
func (r *pfRule) looseMatch(p *Packet) bool {
	if r.dirs&pfDirBit(p.Dir) == 0 || !r.protos.has(p.Proto) || !r.ifs.has(p.Iface) {
		return false
	}
	tcpUDP := p.Proto == ProtoTCP || p.Proto == ProtoUDP
	if r.ports && (!tcpUDP || p.Frag) {
		return false
	}
	f := r.f
	if p.Proto == ProtoTCP && f.mask != 0 && (p.Frag || pfPacketFlags(p)&f.mask != f.flags) {
		return false
	}
	if len(f.icmp) > 0 {
		if p.Proto != ProtoICMP && p.Proto != ProtoICMPv6 || p.Frag {
			return false
		}
		if !slices.ContainsFunc(f.icmp, func(e pfICMPElem) bool {
			return p.ICMPType == e.typ && (e.code < 0 || e.code == p.ICMPCode)
		}) {
			return false
		}
	}
	src, dst := p.Src.Unmap(), p.Dst.Unmap()
	sset, dset := r.src.remote, r.dst.remote
	if p.Dir == Out {
		sset = r.src.local
	}
	if p.Dir == In {
		dset = r.dst.local
	}
	if !pfFieldHas(sset, r.src.invalid, src) || !pfFieldHas(dset, r.dst.invalid, dst) {
		return false
	}
	if tcpUDP && (!r.sport.contains(pfU128{0, uint64(p.SrcPort)}) || !r.dport.contains(pfU128{0, uint64(p.DstPort)})) {
		return false
	}
	return true
}

// pfFieldHas reports whether an address field with the set s (and, for a packet without an
// address there, invalid) holds a.
func pfFieldHas(s pfIPSet, invalid bool, a netip.Addr) bool {
	if !a.IsValid() {
		return invalid
	}
	return s.contains(pfKey(a))
}

// unsureRef is unsureFor the reference way, from what the rules do rather than from where they
// stand: the decision d for p rests on an unsure rule when d is one, or when taking the rule to
// match, where its loose match holds, makes the walk decide with another outcome.
func (rs *PFRuleset) unsureRef(p *Packet, d int, opener bool) string {
	for k := range rs.unsure {
		if rs.unsure[k].i == d {
			return rs.unsure[k].text
		}
	}
	for k := range rs.unsure {
		u := &rs.unsure[k]
		if !u.loose.looseMatch(p) {
			continue
		}
		if rs.tagsFrom(u) && (d < 0 || u.i < rs.pfStopEnd(d)) {
			return u.text // as unsureFor: a tag it may set can change what later rules match
		}
		w := pfWalker{rs: rs, p: p, last: -1, force: u.i}
		w.ruleset(rs.root, "")
		if rs.pfOutcome(p, w.last, opener) != rs.pfOutcome(p, d, opener) {
			return u.text
		}
	}
	return ""
}

// tagsFrom reports whether the unsure rule u sets a tag that rules test: were it to match, rules
// after it could match differently, which the positions unsureFor goes by do not show. A verdict
// evaluation reaches such a rule on rests on it (a conservative reading, shared by unsureRef).
func (rs *PFRuleset) tagsFrom(u *pfUnsure) bool {
	return rs.xo.post && rs.rules[u.i].f.cond.x.tag != 0
}

// pfOutcome is what deciding p by rule i (-1: no rule) means for the verdict: for a state
// model's opening packet (opener), whether state is created (2) or not (1); otherwise the
// action.
func (rs *PFRuleset) pfOutcome(p *Packet, i int, opener bool) Action {
	if opener {
		if rs.keepsState(i) {
			return 2
		}
		return 1
	}
	if i < 0 {
		return Allow
	}
	return rs.rules[i].f.action(p)
}

// verdictUnsure is verdict with what it rests on.
func (rs *PFRuleset) verdictUnsure(i int, p *Packet, unsure string) Verdict {
	if i < 0 {
		return Verdict{Action: Allow, Rule: -1, Where: pfDefaultWhere, Text: pfDefaultText, Unsure: unsure}
	}
	f := rs.rules[i].f
	return Verdict{Action: f.action(p), Rule: i, Where: f.where, Text: f.text, Unsure: unsure}
}

// unsureOwn is unsureFor p's own SYN, decided by d (the compiled Eval decides it together with p).
func (rs *PFRuleset) unsureOwn(p *Packet, d int) string {
	if len(rs.unsure) == 0 {
		return ""
	}
	q := *p
	q.Setup, q.Established, q.Flags = true, false, TCPSYN
	return rs.unsureFor(&q, d, true)
}

// pfFirstUnsure is a, or b when a is "": a verdict names the first unsure rule it rests on.
func pfFirstUnsure(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ipfwUnsureText is what a verdict resting on the unsure ipfw rule r says.
func ipfwUnsureText(r *IPFWRule) string {
	return r.Where() + ": " + strings.Join(r.unsure, "; ")
}

// looseMatch reports whether r may match p were its unsure conditions to hold: its check, with
// the interfaces left out and the addresses the file does not resolve taken as any, matches, or
// fails on a condition that the file and the packet do not decide for certain (see ipfwLoose).
// Interfaces count as unsure for an unsure rule (interface tables, recv and xmit of an address).
func (r *IPFWRule) looseMatch(p *Packet) bool {
	rr := r.loosened()
	f, _ := rr.check(p)
	return ipfwLoose(f)
}

// loosened is r with what its unsure conditions leave open widened: no interfaces, and an
// address naming a host name or a table filled at run time taken as any. The compiled
// evaluator builds its tables from it for an unsure rule, so that its walk reaches the rule
// wherever looseMatch may hold.
func (r *IPFWRule) loosened() IPFWRule {
	rr := *r
	rr.Ifaces = nil
	if rr.Src.unknown {
		rr.Src = ipfwAddr{Any: true}
	}
	if rr.Dst.unknown {
		rr.Dst = ipfwAddr{Any: true}
	}
	return rr
}

// ipfwLoose reports whether a check that ended in f leaves the rule possibly matching: it
// matched, or the condition it failed is not one the file and the packet decide for certain
// (protocol, family, addresses, ports, direction, TCP state, fragment, ICMP type); a condition
// check learns to test later counts as unsure until it is listed here. Conds (failCond) may
// hold undecided options and count as unsure.
func ipfwLoose(f failure) bool {
	switch f {
	case failProto, failFamily, failSrc, failDst, failFragPorts, failSrcPort, failDstPort, failDir, failEst, failSetup, failFrag, failICMP:
		return false
	}
	return true
}

// changesWalk reports whether the unsure rule r would change the walk were it to match: every
// rule does but those that go on at the next rule for certain and create no state (count, tee,
// setfib, a skip-action rule, pipe with one_pass 0). divert, netgraph, tablearg jumps and
// external actions are taken as going on, but that is what is unsure about them.
func (r *IPFWRule) changesWalk() bool {
	if r.Kind != ipfwCount || r.Keep {
		return true
	}
	switch v := r.Verb(); {
	case v == "count", v == "tee", v == "ngtee", v == "setfib", v == "setdscp", v == "pipe", v == "queue",
		strings.HasSuffix(v, " skip-action"):
		return false
	}
	return true
}

// NamesInterfaces reports whether a rule or a "set skip" names an interface: a packet given
// without one is taken as on none of them, an assumption a verdict on it rests on.
func (rs *PFRuleset) NamesInterfaces() bool {
	if len(rs.skip) > 0 {
		return true
	}
	for i := range rs.rules {
		if !rs.rules[i].ifs.universal() {
			return true
		}
	}
	return false
}

// TestsICMPTypes reports whether a rule tests ICMP types: an ICMP packet given without a type
// matches none of those rules.
func (rs *PFRuleset) TestsICMPTypes() bool {
	for i := range rs.rules {
		if len(rs.rules[i].f.icmp) > 0 {
			return true
		}
	}
	return false
}

// NamesInterfaces reports whether a rule names an interface (see PFRuleset.NamesInterfaces).
func (rs *IPFWRuleset) NamesInterfaces() bool {
	for i := range rs.Rules {
		if len(rs.Rules[i].Ifaces) > 0 {
			return true
		}
	}
	return false
}

// TestsICMPTypes reports whether a rule tests ICMP types (icmptypes).
func (rs *IPFWRuleset) TestsICMPTypes() bool {
	for i := range rs.Rules {
		if rs.Rules[i].ICMP != nil {
			return true
		}
	}
	return false
}

// DefaultListedAt is where the file lists rule 65535 ("file:line"), which sets Default; "" when
// it does not, and Default is what the caller chose or assumed.
func (rs *IPFWRuleset) DefaultListedAt() string { return rs.defaultListed }

// uncertain reports whether what the rule matches is not known from the file: it names a table
// filled at run time, or has unsure conditions. Lint judges no finding on such a rule.
func (r *pfRule) uncertain() bool { return r.runtime != "" || len(r.f.unsure) > 0 }

// ipfwUnsure tracks, along an ipfw walk, the unsure rules a verdict may rest on: those that
// change it whatever the verdict (the deciding rule, a skipto that jumped or could jump, the state
// check's opening packet) and, by action, the rules that did not match but would decide with that
// action were their unsure conditions to hold. The verdict names the first, in walk order, of
// those whose outcome differs from its own.
type ipfwUnsure struct {
	text [4]string // 0: whatever the verdict; Allow, Deny, Reject: if the verdict's action differs
	at   [4]int
	n    int
}

func (t *ipfwUnsure) add(kind Action, text string) {
	if text != "" && t.text[kind] == "" {
		t.n++
		t.text[kind], t.at[kind] = text, t.n
	}
}

// rule records rule r (with text, its unsure conditions) reached on the walk: matched says it
// matched as modelled, loose that it may match were its unsure conditions to hold.
func (t *ipfwUnsure) rule(r *IPFWRule, text string, matched bool) {
	switch {
	case !r.changesWalk() || r.Kind == ipfwCheckState:
		// it goes on whether it matches or not (count, tee …; a divert may not, see changesWalk)
	case matched || r.Kind == ipfwSkipTo || r.Kind == ipfwCount:
		t.add(0, text)
	default:
		t.add(r.Action, text)
	}
}

// result is what a verdict with action a rests on.
func (t *ipfwUnsure) result(a Action) string {
	best, at := "", 0
	for k := range t.text {
		if t.text[k] != "" && (k == 0 || Action(k) != a) && (best == "" || t.at[k] < at) {
			best, at = t.text[k], t.at[k]
		}
	}
	return best
}

// xUnsure is what a verdict on a packet that pf translates rests on. The translation paths
// (pf_translate.go) follow the packet through rules that see it before and after translation, so
// the reading is conservative: the deciding rule when it is unsure, else the first unsure rule
// that may match the packet as it came or as it leaves translated.
func (rs *PFRuleset) xUnsure(p *Packet, v Verdict) string {
	if len(rs.unsure) == 0 {
		return ""
	}
	if v.Rule >= 0 && v.Rule < len(rs.unsureAt) {
		if k := rs.unsureAt[v.Rule]; k >= 0 {
			return rs.unsure[k].text
		}
	}
	q := rs.decideX(p).out // the packet as the rules after its translation see it
	for k := range rs.unsure {
		u := &rs.unsure[k]
		if u.loose.looseMatch(p) || u.loose.looseMatch(&q) {
			return u.text
		}
	}
	return ""
}
