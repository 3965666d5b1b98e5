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
)

// check finds the first failing condition without allocating (the compiled evaluator calls it
// for rules its tables cannot decide).
func (r *IPFWRule) check(p *Packet) (failure, int) {
	switch {
	case r.Kind == ipfwCheckState:
		return noFailure, 0
	case r.Protos != nil && !slices.Contains(r.Protos, p.Proto):
		return failProto, 0
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
	}
	return false, "ICMP type not in icmptypes"
}

// reverse is the packet a reply would answer: the opening packet of the connection p belongs to.
func reverse(p *Packet) Packet {
	q := *p
	q.Src, q.Dst, q.SrcPort, q.DstPort = p.Dst, p.Src, p.DstPort, p.SrcPort
	q.Dir = In
	if p.Dir == In {
		q.Dir = Out
	}
	q.Setup, q.Established, q.Flags = true, false, TCPSYN
	return q
}

// evalReference is the plain interpreter of ipfw semantics the compiled evaluator is checked
// against: rules in number order, the first matching decide rule wins; count counts and goes on;
// skipto jumps to the first rule numbered at least its target; the first check-state or
// keep-state rule consults dynamic rules. The simulator's state model: an established TCP packet
// matches a dynamic rule when the opening packet of its connection (see reverse) would have been
// allowed by a keep-state rule. trace, when not nil, receives every rule considered.
func (rs *IPFWRuleset) evalReference(p *Packet, trace *[]Step, depth int) Verdict {
	stateChecked := false
	var unsure ipfwUnsure // the unsure rules on the walk that may change it (see certainty.go)
	for i := 0; i < len(rs.Rules); i++ {
		r := &rs.Rules[i]
		if !stateChecked && (r.Kind == ipfwCheckState || r.Keep) {
			stateChecked = true
			if depth == 0 && p.Proto == ProtoTCP && p.Established {
				q := reverse(p)
				v := rs.evalReference(&q, nil, 1)
				unsure.add(0, v.Unsure)
				if v.Action == Allow && v.Rule >= 0 && rs.Rules[v.Rule].Keep {
					if trace != nil {
						*trace = append(*trace, Step{r.Where(), r.Text, true, fmt.Sprintf("dynamic rule: keep-state rule %s allowed the connection's opening packet", rs.Rules[v.Rule].Where())})
					}
					return Verdict{Action: Allow, Rule: i, Where: r.Where(), Text: r.Text, Unsure: unsure.result(Allow)}
				}
			}
		}
		if r.unsure != nil && r.looseMatch(p) {
			f, _ := r.check(p)
			unsure.rule(r, ipfwUnsureText(r), f == noFailure)
		}
		ok, why := r.match(p)
		if trace != nil {
			s := Step{Where: r.Where(), Text: r.Text, Matched: ok, Why: why}
			if ok {
				switch r.Kind {
				case ipfwCount:
					s.Why = "counted; evaluation goes on"
				case ipfwSkipTo:
					s.Why = fmt.Sprintf("skip to rule %05d", r.Skip)
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
		switch r.Kind {
		case ipfwCount, ipfwCheckState:
			continue
		case ipfwSkipTo:
			j := i + 1
			for j < len(rs.Rules) && rs.Rules[j].Num < r.Skip {
				j++
			}
			i = j - 1
			continue
		}
		return Verdict{Action: r.Action, Rule: i, Where: r.Where(), Text: r.Text, Unsure: unsure.result(r.Action)}
	}
	if trace != nil {
		*trace = append(*trace, Step{"65535", rs.Default.String() + " ip from any to any", true, "the built-in default rule"})
	}
	v := rs.defaultVerdict()
	v.Unsure = unsure.result(v.Action)
	return v
}

// Explain evaluates p and returns every rule considered.
func (rs *IPFWRuleset) Explain(p *Packet) (Verdict, []Step) {
	var steps []Step
	v := rs.evalReference(p, &steps, 0)
	return v, steps
}
