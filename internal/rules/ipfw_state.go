package rules

// The simulator's model of ipfw's dynamic rules.
//
// A rule with keep-state, record-state or limit that a flow's first packet matches creates a
// dynamic rule for the flow (both directions, same protocol and ports); its action is the
// action of that rule, its parent. A later packet of the flow meets the dynamic rule only where
// the kernel looks it up: at a check-state rule, or at a keep-state or limit rule (whose first
// instruction is an implicit O_PROBE_STATE), when evaluation reaches the rule, whether or not the
// rest of the rule matches. Names (`keep-state :web`, `check-state :web`, `:any`) select the
// dynamic rules a look-up finds; ":default" is the name of an unnamed one. The kernel looks up
// once, and again only where a look-up for another name than the last, which was not :any,
// comes (ip_fw_private.h, DYN_LOOKUP_NEEDED). On a hit, the parent's action runs as if the
// parent rule had matched: allow, deny and the like decide, skipto jumps from the parent, count
// goes on after the parent.
//
// Which packets have a dynamic rule: a packet marked reply (any protocol) answers a flow the
// other side opened, so its flow's first packet is the packet reversed (a SYN for TCP, the query
// for an ICMP answer); an established TCP packet is taken the same way. Its dynamic rule exists
// when that first packet, evaluated on its own, matches a state-creating rule on its way.

// ipfwCallStack is the depth of ipfw's call stack (IPFW_CALLSTACK_SIZE).
const ipfwCallStack = 16

// ipfwDyn is the look-up state of one packet's evaluation.
type ipfwDyn struct {
	active  bool // the packet may have a dynamic rule and no look-up has found it yet
	looked  bool // a look-up ran
	lastAny bool // the last look-up was for :any
	last    string
	parent  int // the parent rule of the packet's dynamic rule; -1 none; -2 not computed yet
	// unsure is what the first packet's verdict rests on (see certainty.go): whether the dynamic
	// rule exists, and so every look-up's outcome, rests on it too.
	unsure string
}

func newIPFWDyn(p *Packet, depth int) ipfwDyn {
	return ipfwDyn{active: depth == 0 && (p.Reply || p.Proto == ProtoTCP && p.Established), parent: -2}
}

// ipfwOpener is the first packet of the flow p answers.
func ipfwOpener(p *Packet) Packet { return pfReplyOpener(p) }

// lookup runs the look-up of probe rule r, when one is needed, and returns the parent rule of
// the dynamic rule found. The first look-up evaluates the flow's first packet, compiled or with
// the reference interpreter as the caller is, and keeps what its verdict rests on in d.unsure.
func (rs *IPFWRuleset) lookup(p *Packet, d *ipfwDyn, r *IPFWRule, compiled bool) (int, bool) {
	name := r.Flow
	if d.looked && (d.lastAny || name == d.last) {
		return 0, false
	}
	d.looked, d.lastAny, d.last = true, name == "any", name
	if d.parent == -2 {
		q := ipfwOpener(p)
		var v Verdict
		if compiled {
			v, d.parent = rs.evalCompiledFrom(&q, 1)
		} else {
			v, d.parent = rs.run(&q, nil, 1)
		}
		d.unsure = v.Unsure
	}
	if d.parent < 0 {
		d.active = false // no dynamic rule: no look-up will find one
		return 0, false
	}
	if name != "any" && rs.Rules[d.parent].Flow != name {
		return 0, false
	}
	d.active = false
	return d.parent, true
}

// Verb is the rule's action as written ("allow", "pipe", "skipto").
func (r *IPFWRule) Verb() string {
	if r.verb == "" {
		return r.Action.String()
	}
	return r.verb
}
