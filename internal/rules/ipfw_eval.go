package rules

import (
	"fmt"
	"net/netip"
	"path"
	"slices"
)

// Where names a rule the way ipfw lists it.
func (r *IPFWRule) Where() string {
	if r.where == "" {
		return fmt.Sprintf("%05d", r.Num)
	}
	return r.where
}

// defaultVerdict is the built-in rule 65535.
func (rs *IPFWRuleset) defaultVerdict() Verdict {
	text := "allow ip from any to any"
	if rs.Default == Deny {
		text = "deny ip from any to any"
	}
	return Verdict{Action: rs.Default, Rule: -1, Where: "65535", Text: text}
}

// isMe is the simulator's model of "me": the packet carries no list of the host's addresses, so
// the host's side of the packet is "me" (the destination of an inbound packet, the source of an
// outbound one).
func isMe(p *Packet, src bool) bool { return (p.Dir == Out) == src }

func (a *ipfwAddr) match(p *Packet, addr netip.Addr, src bool) bool {
	m := a.Any
	if !m && (a.Me && addr.Is4() || a.Me6 && addr.Is6()) {
		m = isMe(p, src)
	}
	for _, pre := range a.Prefixes {
		if m {
			break
		}
		m = pre.Contains(addr)
	}
	return m != a.Not
}

func portsMatch(rs []portRange, port uint16) bool {
	for _, r := range rs {
		if port >= r.Lo && port <= r.Hi {
			return true
		}
	}
	return false
}

// failure names the first condition of a rule that a packet fails; noFailure when it matches.
type failure uint8

const (
	noFailure failure = iota
	failProto
	failSrc
	failDst
	failFragPorts
	failSrcPort
	failDstPort
	failDir
	failIface
	failEst
	failSetup
	failFrag
	failICMP
	failFamily
	failCond
)

// check finds the first failing condition without allocating (the compiled evaluator calls it
// for rules its tables cannot decide).
func (r *IPFWRule) check(p *Packet) (failure, int) {
	switch {
	case r.Kind == ipfwCheckState:
		return noFailure, 0
	case r.Protos != nil && !slices.Contains(r.Protos, p.Proto):
		return failProto, 0
	case r.Family != 0 && familyOf(p) != r.Family:
		return failFamily, 0
	case !r.Src.match(p, p.Src, true):
		return failSrc, 0
	case !r.Dst.match(p, p.Dst, false):
		return failDst, 0
	case (r.SrcPort != nil || r.DstPort != nil) && p.Frag:
		return failFragPorts, 0
	case r.SrcPort != nil && !portsMatch(r.SrcPort, p.SrcPort):
		return failSrcPort, 0
	case r.DstPort != nil && !portsMatch(r.DstPort, p.DstPort):
		return failDstPort, 0
	case r.Dir != 0 && r.Dir != p.Dir:
		return failDir, 0
	}
	for i, ifc := range r.Ifaces {
		if ifc.How == "recv" && p.Dir != In || ifc.How == "xmit" && p.Dir != Out {
			return failIface, i
		}
		if ok, _ := path.Match(ifc.Pattern, p.Iface); !ok {
			return failIface, i
		}
	}
	switch {
	case r.Est && !p.Established:
		return failEst, 0
	case r.Setup && !p.Setup:
		return failSetup, 0
	case r.Frag && !p.Frag:
		return failFrag, 0
	case r.ICMP != nil && (p.ICMPType < 0 || !slices.Contains(r.ICMP, uint8(p.ICMPType))):
		return failICMP, 0
	}
	if k := condsHold(r.Conds, p); k >= 0 {
		return failCond, k
	}
	return noFailure, 0
}

// match reports whether the rule's conditions hold for p, and if not, why, for --explain.
func (r *IPFWRule) match(p *Packet) (bool, string) {
	f, i := r.check(p)
	switch f {
	case noFailure:
		return true, ""
	case failProto:
		return false, fmt.Sprintf("protocol %d is not the rule's", p.Proto)
	case failSrc:
		return false, fmt.Sprintf("source %s does not match", p.Src)
	case failDst:
		return false, fmt.Sprintf("destination %s does not match", p.Dst)
	case failFragPorts:
		return false, "a fragment has no ports"
	case failSrcPort:
		return false, fmt.Sprintf("source port %d is not in the rule's ports", p.SrcPort)
	case failDstPort:
		return false, fmt.Sprintf("destination port %d is not in the rule's ports", p.DstPort)
	case failDir:
		return false, fmt.Sprintf("the rule is for %s, the packet goes %s", r.Dir, p.Dir)
	case failIface:
		ifc := r.Ifaces[i]
		if ifc.How == "recv" && p.Dir != In || ifc.How == "xmit" && p.Dir != Out {
			return false, fmt.Sprintf("%s %s: the packet goes %s", ifc.How, ifc.Pattern, p.Dir)
		}
		return false, fmt.Sprintf("%s %s: interface is %q", ifc.How, ifc.Pattern, p.Iface)
	case failEst:
		return false, "not established (no ACK or RST)"
	case failSetup:
		return false, "not setup (SYN without ACK)"
	case failFrag:
		return false, "not a fragment"
	case failFamily:
		return false, fmt.Sprintf("the rule is for IPv%d", r.Family)
	case failCond:
		c := &r.Conds[i]
		if c.group != 0 {
			return false, "no option of the { … or … } block holds"
		}
		return false, fmt.Sprintf("%s does not hold", c.text)
	case failICMP:
	}
	return false, "ICMP type not in icmptypes"
}

// evalReference is the plain interpreter of ipfw semantics the compiled evaluator is checked
// against: rules in number order, the first matching decide rule wins; count counts and goes on;
// skipto jumps to the first rule numbered at least its target; call does so remembering where
// it was, return goes back; dynamic rules are looked up when a check-state, keep-state or limit
// rule is reached (see ipfwDyn). trace, when not nil, receives every rule considered.
func (rs *IPFWRuleset) evalReference(p *Packet, trace *[]Step, depth int) Verdict {
	v, _ := rs.run(p, trace, depth)
	return v
}

// run is evalReference that also returns the first rule creating state (keep-state,
// record-state, limit) that p matched on its way, or -1: the parent of the dynamic rule p opens.
func (rs *IPFWRuleset) run(p *Packet, trace *[]Step, depth int) (Verdict, int) {
	creator := -1
	d := newIPFWDyn(p, depth)
	var stack [ipfwCallStack]int
	sp := 0
	var unsure ipfwUnsure // the unsure rules on the walk that may change it (see certainty.go)
	for i := 0; i < len(rs.Rules); i++ {
		r := &rs.Rules[i]
		if d.active && (r.Kind == ipfwCheckState || r.Probe) {
			parent, ok := rs.lookup(p, &d, r, false)
			unsure.add(0, d.unsure) // whether a dynamic rule exists rests on the first packet's verdict
			if ok {
				pr := &rs.Rules[parent]
				if trace != nil {
					*trace = append(*trace, Step{r.Where(), r.Text, true, fmt.Sprintf("dynamic rule: the flow's first packet matched rule %s (%s); its action applies", pr.Where(), pr.Verb())})
				}
				switch pr.Kind {
				case ipfwDecide:
					return Verdict{Action: pr.Action, Rule: i, Where: r.Where(), Text: r.Text, Unsure: unsure.result(pr.Action)}, creator
				case ipfwReass:
					if p.Frag {
						return Verdict{Action: Allow, Rule: i, Where: r.Where(), Text: r.Text, Unsure: unsure.result(Allow)}, creator
					}
					i = parent
				case ipfwSkipTo, ipfwCall:
					i = rs.jumpIndex(parent) - 1
				default:
					i = parent // count and its kind: go on after the parent rule
				}
				continue
			}
		}
		f, _ := r.check(p)
		ok := f == noFailure
		if r.unsure != nil && r.changesWalk() && (ok || r.looseMatch(p)) {
			unsure.rule(r, rs.unsureText(i), ok)
		}
		if trace != nil {
			s := Step{Where: r.Where(), Text: r.Text, Matched: ok}
			if !ok {
				_, s.Why = r.match(p)
			} else {
				switch r.Kind {
				case ipfwCount:
					s.Why = r.Verb() + ": evaluation goes on"
					if r.Verb() == "count" {
						s.Why = "counted; evaluation goes on"
					}
				case ipfwSkipTo:
					s.Why = fmt.Sprintf("skip to rule %05d", r.Skip)
				case ipfwCall:
					s.Why = fmt.Sprintf("call rule %05d", r.Skip)
				case ipfwReturn:
					s.Why = "return after the last call"
				case ipfwReass:
					s.Why = "not a fragment: evaluation goes on"
					if p.Frag {
						s.Why = "a fragment: held for reassembly, then accepted (one_pass)"
					}
				case ipfwCheckState:
					s.Why, s.Matched = "no dynamic rule for this packet", false
				default:
					s.Why = "first match: decides"
				}
			}
			*trace = append(*trace, s)
		}
		if !ok {
			continue
		}
		if r.Keep && creator < 0 {
			creator = i
		}
		switch r.Kind {
		case ipfwCount, ipfwCheckState:
			continue
		case ipfwReass:
			if !p.Frag {
				continue
			}
			return Verdict{Action: Allow, Rule: i, Where: r.Where(), Text: r.Text, Unsure: unsure.result(Allow)}, creator
		case ipfwSkipTo:
			i = rs.jumpIndex(i) - 1
			continue
		case ipfwCall:
			if sp < len(stack) {
				stack[sp] = i
				sp++
				i = rs.jumpIndex(i) - 1
			}
			continue // a full call stack: ipfw goes on at the next rule
		case ipfwReturn:
			if sp > 0 {
				sp--
				c := rs.Rules[stack[sp]].Num
				j := stack[sp] + 1
				for j < len(rs.Rules) && rs.Rules[j].Num <= c {
					j++
				}
				i = j - 1
			}
			continue // an empty stack: ipfw goes on at the next rule
		}
		return Verdict{Action: r.Action, Rule: i, Where: r.Where(), Text: r.Text, Unsure: unsure.result(r.Action)}, creator
	}
	if trace != nil {
		*trace = append(*trace, Step{"65535", rs.Default.String() + " ip from any to any", true, "the built-in default rule"})
	}
	v := rs.defaultVerdict()
	v.Unsure = unsure.result(v.Action)
	return v, creator
}

// unsureText is what a verdict resting on unsure rule i says: the compiled text, so that Eval
// through the interpreter (a rule set with call or return) does not allocate, or built now.
func (rs *IPFWRuleset) unsureText(i int) string {
	if rs.comp != nil && rs.comp.unsure != nil {
		return rs.comp.unsure[i]
	}
	return ipfwUnsureText(&rs.Rules[i])
}

// jumpIndex is where skipto or call rule i lands: the first rule after it numbered at least its
// target (ipfw never jumps backwards).
func (rs *IPFWRuleset) jumpIndex(i int) int {
	j := i + 1
	for j < len(rs.Rules) && rs.Rules[j].Num < rs.Rules[i].Skip {
		j++
	}
	return j
}

// Explain evaluates p and returns every rule considered.
func (rs *IPFWRuleset) Explain(p *Packet) (Verdict, []Step) {
	var steps []Step
	v := rs.evalReference(p, &steps, 0)
	return v, steps
}
