package rules

import "fmt"

// ICMP errors and state. pf matches an ICMP error (destination unreachable, time exceeded,
// parameter problem, packet too big …) to the state entry of the packet it quotes and passes it on
// that entry, without evaluating rules (pf.conf(5), STATEFUL FILTERING: ICMP errors that refer to
// a connection are passed with it). The simulator gives the error the state of the quoted packet's
// flow when that flow's first packet would have been passed by a rule that keeps state: the
// quoted packet itself (a SYN for TCP), or else its reverse (the quoted packet belonged to a flow
// the other side opened). Otherwise the rules decide, as for any ICMP packet. ipfw's dynamic rules
// match a flow's own protocol, addresses and ports (ipfw(8), STATEFUL FIREWALL), so an ipfw rule
// set gives an ICMP error no state: its rules decide.

// pfErrorOpeners are the packets whose passing by a keep-state rule gives the ICMP error p a
// state entry to pass on, in the order tried.
func pfErrorOpeners(p *Packet) [2]Packet {
	q := p.About.packet()
	r := q
	r.Reply = true
	return [2]Packet{q, pfReplyOpener(&r)}
}

// pfQuotesState reports whether p is an ICMP error with a quoted packet, which pf looks up state
// for.
func (rs *PFRuleset) pfQuotesState(p *Packet) bool {
	return rs.stateful && p.About != nil && !p.Frag && icmpError(p.Proto, p.ICMPType)
}

// errorState is the rule whose state the ICMP error p passes on, or -1, decided by the compiled
// classifier, and what that rests on.
func (rs *PFRuleset) errorState(p *Packet) (int, string) {
	u := ""
	for _, q := range pfErrorOpeners(p) {
		i := rs.decideBlocks(&q)
		u = pfFirstUnsure(u, rs.unsureFor(&q, i, true))
		if rs.keepsState(i) {
			return i, u
		}
	}
	return -1, u
}

// errorStateRef is errorState the reference way, with the opener that created the state.
func (rs *PFRuleset) errorStateRef(p *Packet) (int, string, Packet) {
	u := ""
	for _, q := range pfErrorOpeners(p) {
		i := rs.walk(&q, nil)
		u = pfFirstUnsure(u, rs.unsureRef(&q, i, true))
		if rs.keepsState(i) {
			return i, u, q
		}
	}
	return -1, u, Packet{}
}

// errorStep explains the state an ICMP error passes on, or that it has none.
func pfErrorStep(rs *PFRuleset, p *Packet, i int, opener *Packet) Step {
	if i < 0 {
		return Step{"state", "", false, fmt.Sprintf("no state: the packet is an ICMP error about %s, and no rule that keeps state passes that flow's first packet, so the rules decide", p.About)}
	}
	f := rs.rules[i].f
	return Step{f.where, f.text, true, fmt.Sprintf("state: the packet is an ICMP error about %s; this rule keeps state and passes that flow's first packet (%s), so pf passes the error on that state without evaluating rules", p.About, opener)}
}
