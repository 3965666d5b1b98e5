package rules

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Rule options past a rule's from/to conditions (pf.conf(5), "PARAMETERS"), and the statements
// that only tune or shape traffic. Each option is modelled, makes the rule's outcome unsure, or is
// recorded as not simulated and named when the rule matches; none is dropped silently.
//
// Tags, as pf_test_rule does them: the evaluation of a packet carries one tag register, empty at
// the start. Every rule that matches (a filter rule, an anchor rule, a match rule) and has "tag
// NAME" replaces it at once, whether or not the rule ends up deciding: tags are "sticky"
// (pf.conf(5)). A later rule's "tagged NAME" compares the register as it stands when that rule is
// reached; "! tagged NAME" matches any other tag and no tag. Evaluation stops at a quick match, so
// rules past it neither test nor set tags. A packet going out may carry the tag its inbound pass
// gave it (pf keeps a forwarded packet's tag), which the simulator does not know: rules that test
// tags on outbound packets are unsure. "received-on IF" matches an inbound packet on IF; an
// outbound packet's receiving interface is not known (unsure, and it does not match).

// pfOpts holds the options of a rule or an anchor rule that the classifier does not fold: the tag
// it sets, the conditions tested in rule order (tagged, received-on, fragment), and what it
// records without simulating.
type pfOpts struct {
	tag        uint16 // the tag a match sets (1 + its index in pfOptState.tagNames), 0 for none
	tagText    string
	tagged     uint16 // the tag the packet must carry; 0 for no condition
	taggedNeg  bool
	taggedText string
	recvOn     []pfIfElem // received-on: the interfaces, OR
	recvText   string
	fragment   bool // "fragment": only fragments match
	// unsim names, as "option: why", the actions of the rule the simulator records but does not
	// perform (routing, queueing, rewriting a header): the explanation says so when it matches.
	unsim []string
	// unsure is, for an anchor rule (whose unsure conditions go to the notes), what pfFilter.unsure
	// is for a filter rule.
	unsure []string
}

// post reports whether the options hold a condition that is tested in rule order, outside the
// classifier.
func (x *pfOpts) post() bool { return x.tagged != 0 || x.recvOn != nil || x.fragment }

// pfOptState is what the rule options of a whole rule set share.
type pfOptState struct {
	tagIDs   map[string]uint16
	tagNames []string
	// post is set when some rule or anchor rule has a condition tested in rule order (tagged,
	// received-on, fragment): Eval then takes the ordered path (evalBlocks, whose decideBlocks
	// calls decidePost).
	post bool
	// calls are the anchor rules whose options matter to the ordered path (they set or test a
	// tag, or test received-on or fragment), in evaluation order.
	calls []pfCallEvent
}

// pfCallEvent is an anchor rule at its place in the expanded rule set: its rules are [pos, end),
// and conds are its conditions with those of the anchor rules around it. With f set instead of
// call, it is a rule the classifier leaves out that can still set a tag (a match rule): it is
// tested at its own place, pos, and skips nothing.
type pfCallEvent struct {
	pos, end int
	call     *pfCall
	f        *pfFilter
	conds    []*pfCond
}

// opts are the options of the event's anchor rule or rule.
func (e *pfCallEvent) opts() *pfOpts {
	if e.f != nil {
		return &e.f.cond.x
	}
	return &e.call.cond.x
}

// ruleEvent records a rule at index pos that the classifier does not hold (a match rule) but
// whose tag the ordered path must apply; conds are its conditions and its anchors'.
func (rs *PFRuleset) ruleEvent(f *pfFilter, pos int, conds []*pfCond) {
	if f.cond.x.tag != 0 || f.cond.x.post() {
		rs.xo.calls = append(rs.xo.calls, pfCallEvent{pos: pos, end: pos, f: f, conds: conds})
	}
}

// tagID numbers a tag name, from 1.
func (s *pfOptState) tagID(name string) uint16 {
	if id, ok := s.tagIDs[name]; ok {
		return id
	}
	if s.tagIDs == nil {
		s.tagIDs = map[string]uint16{}
	}
	s.tagNames = append(s.tagNames, name)
	id := uint16(len(s.tagNames))
	s.tagIDs[name] = id
	return id
}

func (s *pfOptState) tagName(id uint16) string {
	if id == 0 {
		return "(none)"
	}
	return s.tagNames[id-1]
}

// pfMaxTags is the number of distinct tags pf can hold (PF_TAG_NAME_SIZE aside, tag ids are 16
// bits in the kernel).
const pfMaxTags = 65535

// match tests the ordered conditions against p with the tag register reg; why is set only with
// explain.
func (x *pfOpts) match(s *pfOptState, p *Packet, reg uint16, explain bool) (bool, string) {
	if x.recvOn != nil {
		if p.Dir == Out {
			if !explain {
				return false, ""
			}
			return false, fmt.Sprintf("received-on %s: an outbound packet's receiving interface is not known (not simulated: the rule does not match)", x.recvText)
		}
		if !slices.ContainsFunc(x.recvOn, func(e pfIfElem) bool { return (e.name == "any" || p.Iface == e.name) != e.neg }) {
			if !explain {
				return false, ""
			}
			name := p.Iface
			if name == "" {
				name = "(none)"
			}
			return false, fmt.Sprintf("received on %s %s", name, pfNot(x.recvText))
		}
	}
	if x.fragment && !p.Frag {
		return false, pfIf(explain, "the packet is not a fragment (fragment)")
	}
	if x.tagged != 0 && (reg == x.tagged) == x.taggedNeg {
		if !explain {
			return false, ""
		}
		if x.taggedNeg {
			return false, fmt.Sprintf("the packet is tagged %s (! tagged %s)", s.tagName(reg), x.taggedText)
		}
		if reg == 0 {
			return false, fmt.Sprintf("the packet carries no tag (tagged %s)", x.taggedText)
		}
		return false, fmt.Sprintf("the packet's tag %s is not %s", s.tagName(reg), x.taggedText)
	}
	return true, ""
}

// matchedWhy adds to the explanation of a match what the options do: the tag set, and what is not
// simulated.
func (x *pfOpts) matchedWhy(why string) string {
	if x.tag != 0 {
		why += "; tags the packet " + x.tagText
	}
	if len(x.unsim) > 0 {
		why += " (not simulated: " + strings.Join(x.unsim, "; ") + ")"
	}
	if len(x.unsure) > 0 {
		why += " (unsure: " + strings.Join(x.unsure, "; ") + ")"
	}
	return why
}

// pfRouteWords start a routing option.
var pfRouteWords = map[string]string{
	"route-to":  "routing is not simulated: the packet leaves by the interface and gateway named",
	"reply-to":  "routing is not simulated: replies leave by the interface and gateway named",
	"dup-to":    "routing is not simulated: a copy of the packet is sent to the interface named",
	"fastroute": "routing is not simulated",
}

// pfPoolWords are the address pool options that may follow a routing or translation target.
var pfPoolWords = map[string]bool{
	"bitmask": true, "random": true, "source-hash": true, "round-robin": true,
	"least-states": true, "sticky-address": true, "static-port": true, "prefer-ipv6": true,
}

// routeOpt parses "route-to|reply-to|dup-to TARGET [pool options]" and "fastroute" where t is the
// keyword (already consumed), and records it in x as not simulated.
func (p *pfParser) routeOpt(x *pfOpts, t pfTok) error {
	mark := len(p.toks) - 1
	if t.s != "fastroute" {
		if err := p.routeTarget(t); err != nil {
			return err
		}
	}
	p.poolOpts()
	x.unsim = append(x.unsim, p.joined(mark)+": "+pfRouteWords[t.s])
	return nil
}

// routeTarget consumes a routing target: "(IF [ADDR])", "{ … }", "<table>", "IF", an address, or
// "IF:peer".
func (p *pfParser) routeTarget(kw pfTok) error {
	t := p.peek()
	switch {
	case t.is("("), t.is("{"):
		return p.skipGroup()
	case t.is("<"):
		_, err := p.tableName()
		return err
	case t.value() && !(t.kind == pfWord && (pfRuleWords[t.s] || pfRouteWords[t.s] != "")):
		p.next()
		return nil
	}
	return p.errf(t, "%s needs a target such as (en1 192.0.2.1), found %s", kw.s, t)
}

// poolOpts consumes address pool options ("round-robin sticky-address", "source-hash KEY").
func (p *pfParser) poolOpts() {
	for {
		t := p.peek()
		if t.kind != pfWord || !pfPoolWords[t.s] {
			return
		}
		p.next()
		if t.s == "source-hash" {
			if k := p.peek(); k.kind == pfWord && (strings.HasPrefix(k.s, "0x") || k.kind == pfString) {
				p.next()
			}
		}
	}
}

// skipGroup consumes a balanced "( … )" or "{ … }", line ends included.
func (p *pfParser) skipGroup() error {
	open := p.next()
	depth := 1
	for depth > 0 {
		t := p.next()
		switch {
		case t.kind == pfEOF:
			return p.errf(open, "missing closing bracket for %s", open)
		case t.is("("), t.is("{"):
			depth++
		case t.is(")"), t.is("}"):
			depth--
		}
	}
	return nil
}

// value consumes one value (a word or a quoted string) for option kw.
func (p *pfParser) optValue(kw pfTok, what string) (pfTok, error) {
	v := p.next()
	if !v.value() {
		return v, p.errf(v, "%s needs %s, found %s", kw.s, what, v)
	}
	return v, nil
}

// valueOrGroup consumes "( … )" or one value, for options such as "queue (a, b)" and "set prio
// (1, 5)".
func (p *pfParser) valueOrGroup(kw pfTok, what string) error {
	if p.peek().is("(") {
		return p.skipGroup()
	}
	_, err := p.optValue(kw, what)
	return err
}

// ruleOpt parses one rule option at t (not yet consumed) into x, adding what the file cannot
// decide to unsure. It reports false, with no error, for a word that is not one of its options.
// filter and anchorRule call it for what they do not parse themselves.
func (p *pfParser) ruleOpt(x *pfOpts, unsure *[]string, t pfTok) (bool, error) {
	mark := len(p.toks)
	unsim := func(why string) {
		x.unsim = append(x.unsim, p.joined(mark)+": "+why)
	}
	doubt := func(why string) {
		*unsure = append(*unsure, p.joined(mark)+": "+why)
	}
	switch t.s {
	case "!":
		if !p.lookAhead(1).is("tagged") {
			return false, nil
		}
		p.next()
		p.next()
		return true, p.tagged(x, true)
	case "tagged":
		p.next()
		return true, p.tagged(x, false)
	case "tag":
		p.next()
		v, err := p.optValue(t, "a tag name")
		if err != nil {
			return true, err
		}
		x.tag, x.tagText = p.rs.xo.tagID(v.s), v.s
		if len(p.rs.xo.tagNames) > pfMaxTags {
			return true, p.errf(v, "more than %d tags", pfMaxTags)
		}
	case "received-on":
		p.next()
		on := len(p.toks)
		if p.accept("any") {
			// Any receiving interface: a packet that came in on one (not one the host sends).
			x.recvOn, x.recvText = []pfIfElem{{name: "any"}}, "any"
			break
		}
		ifs, err := p.ifspec()
		if err != nil {
			return true, err
		}
		x.recvText = p.joined(on)
		var members []string
		if x.recvOn, members, err = p.groups(t, ifs, x.recvText); err != nil {
			return true, err
		}
		if len(members) > 0 {
			x.recvText += " (" + strings.Join(members, "; ") + ")"
		}
	case "fragment":
		p.next()
		if n := p.peek(); n.is("reassemble") || n.is("crop") || n.is("drop-ovl") {
			p.next() // the old scrub option
			unsim("traffic normalisation is not simulated")
			break
		}
		x.fragment = true
	case "route-to", "reply-to", "dup-to", "fastroute":
		p.next()
		return true, p.routeOpt(x, t)
	case "rtable":
		p.next()
		if _, err := p.optValue(t, "a routing table number"); err != nil {
			return true, err
		}
		unsim("routing is not simulated")
	case "divert-to":
		p.next()
		if _, err := p.optValue(t, "an address"); err != nil {
			return true, err
		}
		if p.accept("port") {
			if _, err := p.optValue(t, "a port"); err != nil {
				return true, err
			}
		}
		unsim("the packet goes to a local socket; diverting is not simulated")
	case "divert-reply":
		p.next()
		unsim("diverting is not simulated")
	case "divert-packet":
		p.next()
		if err := p.expect("port"); err != nil {
			return true, err
		}
		if _, err := p.optValue(t, "a port"); err != nil {
			return true, err
		}
		doubt("a program reading the divert socket decides whether the packet goes on")
	case "queue", "dnpipe", "dnqueue":
		p.next()
		if err := p.valueOrGroup(t, "a queue name"); err != nil {
			return true, err
		}
		unsim("queueing is not simulated")
	case "set":
		n := p.lookAhead(1)
		switch {
		case n.is("prio"), n.is("queue"), n.is("tos"), n.is("delay"):
		default:
			return false, nil
		}
		p.next()
		p.next()
		if err := p.valueOrGroup(n, "a value"); err != nil {
			return true, err
		}
		unsim("rewriting packet priority, queue or header is not simulated")
	case "prio", "tos":
		p.next()
		if _, err := p.optValue(t, "a value"); err != nil {
			return true, err
		}
		doubt("the packet's " + map[string]string{"prio": "priority", "tos": "type of service"}[t.s] + " is not given: the rule is taken to match")
	case "probability":
		p.next()
		v, err := p.optValue(t, "a percentage")
		if err != nil {
			return true, err
		}
		f, err := strconv.ParseFloat(strings.TrimSuffix(v.s, "%"), 64)
		if err != nil || f < 0 || f > 100 {
			return true, p.errf(v, "probability: want a percentage such as 20%%, found %s", v)
		}
		doubt("the rule matches a random share of packets: it is taken to match")
	case "once":
		p.next()
		doubt("pf removes the rule after its first match: it is taken to match, which holds only until then")
	case "max-pkt-rate":
		p.next()
		if _, err := p.optValue(t, "a rate such as 100/10"); err != nil {
			return true, err
		}
		doubt("the rule stops matching while the packet rate is above the limit: it is taken to match")
	case "scrub":
		p.next()
		if p.peek().is("(") {
			if err := p.skipGroup(); err != nil {
				return true, err
			}
		}
		unsim("traffic normalisation is not simulated")
	case "no-df", "random-id", "reassemble", "min-ttl", "max-mss", "set-tos":
		p.next()
		switch t.s {
		case "reassemble", "min-ttl", "max-mss", "set-tos":
			if _, err := p.optValue(t, "a value"); err != nil {
				return true, err
			}
		}
		unsim("traffic normalisation is not simulated")
	case "ridentifier", "tracker":
		// A number that names the rule in logs and counters (FreeBSD ridentifier, pfSense
		// tracker): nothing to simulate.
		p.next()
		if _, err := p.optValue(t, "a number"); err != nil {
			return true, err
		}
	default:
		return false, nil
	}
	return true, nil
}

func (p *pfParser) tagged(x *pfOpts, neg bool) error {
	if x.tagged != 0 {
		return p.errf(p.peek(), "a rule can test only one tag")
	}
	v, err := p.optValue(pfTok{s: "tagged"}, "a tag name")
	if err != nil {
		return err
	}
	x.tagged, x.taggedNeg, x.taggedText = p.rs.xo.tagID(v.s), neg, v.s
	if len(p.rs.xo.tagNames) > pfMaxTags {
		return p.errf(v, "more than %d tags", pfMaxTags)
	}
	return nil
}

// lookAhead is the token k places ahead (0: the next one).
func (p *pfParser) lookAhead(k int) pfTok {
	p.fill(k + 1)
	return p.ahead[p.ai+k]
}

// pfFinishOpts completes the options of a rule once it is parsed: on a rule that can see outbound
// packets, a tag test is unsure (a forwarded packet keeps the tag of its inbound pass) and so is
// received-on (the interface a forwarded packet came in on is not known).
func pfFinishOpts(c *pfCond, unsure *[]string) {
	x := &c.x
	if x.tagged != 0 && c.dir != In {
		neg := ""
		if x.taggedNeg {
			neg = "! "
		}
		*unsure = append(*unsure, fmt.Sprintf("%stagged %s: an outbound packet may carry the tag its inbound pass gave it, which is not simulated (the simulated packet starts untagged)", neg, x.taggedText))
	}
	if x.recvOn != nil && c.dir != In {
		*unsure = append(*unsure, fmt.Sprintf("received-on %s: an outbound packet's receiving interface is not known (a forwarded packet has one): for outbound packets the rule is taken not to match", x.recvText))
	}
}

// osOpt parses "os NAME | os { … }" in a from clause: passive OS fingerprints are not simulated,
// so the rule is taken to match and is unsure.
func (p *pfParser) osOpt(c *pfCond) error {
	mark := len(p.toks)
	kw := p.next()
	if err := p.valueOrGroup(kw, "an OS name"); err != nil {
		return err
	}
	c.x.unsure = append(c.x.unsure, p.joined(mark)+": passive OS fingerprints are not simulated: the rule is taken to match")
	return nil
}

// anchorOpts parses the options of an anchor rule (pfctl takes the filter options there too):
// tag, tagged, received-on, label and the rest of ruleOpt.
func (p *pfParser) anchorOpts(c *pfCall) error {
	for {
		t := p.peek()
		if t.is("label") {
			p.next()
			if _, err := p.optValue(t, "a string"); err != nil {
				return err
			}
			continue
		}
		if !t.is("!") && t.kind != pfWord {
			break
		}
		ok, err := p.ruleOpt(&c.cond.x, &c.cond.x.unsure, t)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
	}
	pfFinishOpts(&c.cond, &c.cond.x.unsure)
	return nil
}

// anchorNotes puts what an anchor rule cannot decide in the notes: an anchor rule has no verdict
// of its own to carry it.
func (p *pfParser) anchorNotes(c *pfCall) {
	for _, u := range c.cond.x.unsure {
		p.rs.notes = append(p.rs.notes, fmt.Sprintf("%s: %s: %s", c.where, c.text, u))
	}
	for _, u := range c.cond.x.unsim {
		p.rs.notes = append(p.rs.notes, fmt.Sprintf("%s: %s: not modelled (%s)", c.where, c.text, u))
	}
}

// flagPost marks the rule just flattened when it, or an anchor rule around it, has a condition
// tested in rule order.
func (rs *PFRuleset) flagPost(ctx []*pfCond, c *pfCond) {
	r := &rs.rules[len(rs.rules)-1]
	r.post = c.x.post() || slices.ContainsFunc(ctx, func(c *pfCond) bool { return c.x.post() })
	rs.xo.post = rs.xo.post || r.post
}

// callEvent records an anchor rule that sets or tests a tag, or tests received-on or fragment,
// at the place of its first rule; it returns its index for endCallEvent, or -1.
func (rs *PFRuleset) callEvent(c *pfCall, pos int, conds []*pfCond) int {
	if !c.cond.x.post() && c.cond.x.tag == 0 {
		return -1
	}
	rs.xo.calls = append(rs.xo.calls, pfCallEvent{pos: pos, call: c, conds: conds})
	return len(rs.xo.calls) - 1
}

func (rs *PFRuleset) endCallEvent(ev int) {
	if ev >= 0 {
		rs.xo.calls[ev].end = len(rs.rules)
	}
}

// decidePost returns the index of the rule that decides p, or -1. The classifier gives the rules
// whose folded conditions p meets, in order; they are walked with a tag register, testing the
// ordered conditions and the anchor rules that set or test tags as they come: a quick match
// decides; a match in a quick anchor ends evaluation at the anchor's end (limit); otherwise the
// last match decides. It does not allocate.
func (rs *PFRuleset) decidePost(p *Packet) int {
	var reg uint16
	last, decided := -1, -1
	limit, skipTo, ev := len(rs.rules), 0, 0
	calls := rs.xo.calls
	rs.eachMatch(p, 0, len(rs.rules), false, func(i int) bool {
		if i >= limit {
			return false
		}
		for ; ev < len(calls) && calls[ev].pos <= i; ev++ {
			e := &calls[ev]
			if e.pos < skipTo {
				continue // inside an anchor rule that did not match
			}
			x := e.opts()
			if !pfCondsMatch(e.conds, p) || e.f != nil && !e.f.testsMatch(p) {
				skipTo = max(skipTo, e.end)
				continue
			}
			if ok, _ := x.match(&rs.xo, p, reg, false); !ok {
				skipTo = max(skipTo, e.end)
				continue
			}
			if x.tag != 0 {
				reg = x.tag
			}
		}
		if i < skipTo {
			return true
		}
		r := &rs.rules[i]
		x := &r.f.cond.x
		if r.post {
			if ok, _ := x.match(&rs.xo, p, reg, false); !ok {
				return true
			}
		}
		if x.tag != 0 {
			reg = x.tag
		}
		if r.f.quick {
			decided = i
			return false
		}
		last = i
		if r.qEnd >= 0 && r.qEnd < limit {
			limit = r.qEnd
		}
		return true
	})
	if decided >= 0 {
		return decided
	}
	return last
}

// pfCondsMatch reports whether p meets every one of conds (an anchor rule's conditions and those of
// the anchor rules around it).
func pfCondsMatch(conds []*pfCond, p *Packet) bool {
	for _, c := range conds {
		if !c.matches(p) {
			return false
		}
	}
	return true
}

// matches is check without the explanation, which check builds even to say no: the same tests,
// in the same order, without allocating (FuzzPFOptsEval holds the two together).
func (c *pfCond) matches(p *Packet) bool {
	if c.dir != 0 && p.Dir != c.dir {
		return false
	}
	if len(c.ifs) > 0 && !slices.ContainsFunc(c.ifs, func(e pfIfElem) bool { return (p.Iface == e.name) != e.neg }) {
		return false
	}
	src, dst := p.Src.Unmap(), p.Dst.Unmap()
	if c.af != 0 && (!pfIsAF(src, c.af) || !pfIsAF(dst, c.af)) {
		return false
	}
	if len(c.protos) > 0 && !slices.Contains(c.protos, p.Proto) {
		return false
	}
	ports := p.Proto == ProtoTCP || p.Proto == ProtoUDP
	if !pfAddrsMatch(c.src.addrs, src, p.Dir == Out) || !pfAddrsMatch(c.dst.addrs, dst, p.Dir == In) {
		return false
	}
	if c.src.ports != nil && (!ports || p.Frag || !pfPortsMatch(c.src.ports, p.SrcPort)) {
		return false
	}
	if c.dst.ports != nil && (!ports || p.Frag || !pfPortsMatch(c.dst.ports, p.DstPort)) {
		return false
	}
	return true
}

// pfNotModelledWhy says why a statement notModelled accepts does not enter the simulation.
var pfNotModelledWhy = map[string]string{
	"altq":     "queueing is not simulated",
	"queue":    "queueing is not simulated",
	"dummynet": "dummynet traffic shaping is not simulated: its pipes delay or drop packets by rate, which the simulator does not model",
	"ether":    "layer-2 (ether) rules are not simulated: they may block packets before pf's IP rules see them",
}

// notModelled accepts a queueing, shaping or layer-2 statement ("altq on en0 …", "queue q1 on
// en0 …", "queue q1 bandwidth …" in both the ALTQ and the newer dialect, macOS "dummynet" and
// "ether" rules) and notes it with its file and line.
func (p *pfParser) notModelled(first pfTok) error {
	return p.ignore(first, pfNotModelledWhy[first.s])
}

// setInAnchor accepts a "set" option in an anchor (pfctl reads them there) and notes it: pfctl
// loads options only with the main ruleset, so what it does in an anchor is not simulated.
func (p *pfParser) setInAnchor(first, opt pfTok) error {
	switch {
	case opt.is("skip"), opt.is("block-policy"), opt.is("require-order"), pfIgnoredOptions[opt.s]:
	default:
		return p.errf(opt, "unknown option \"set %s\"", opt.s)
	}
	return p.ignore(first, fmt.Sprintf("set %s in anchor %q: pfctl takes options from the main ruleset only, so it is not simulated here", opt.s, p.anchor.path))
}

// antispoofOpts consumes the options antispoof takes after its interfaces: "label L", and the
// rule numbers "tracker N" (pfSense) and "ridentifier N" (FreeBSD).
func (p *pfParser) antispoofOpts() error {
	for {
		t := p.peek()
		switch {
		case t.is("label"), t.is("tracker"), t.is("ridentifier"):
			p.next()
			if _, err := p.optValue(t, "a value"); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// testsMatch is the rest of check past the conditions, without the explanation: TCP flags and
// ICMP types.
func (f *pfFilter) testsMatch(p *Packet) bool {
	if f.mask != 0 && p.Proto == ProtoTCP && (p.Frag || pfPacketFlags(p)&f.mask != f.flags) {
		return false
	}
	if len(f.icmp) > 0 && (p.Frag || !slices.ContainsFunc(f.icmp, func(e pfICMPElem) bool {
		return p.ICMPType == e.typ && (e.code < 0 || e.code == p.ICMPCode)
	})) {
		return false
	}
	return true
}

// stateOpts looks at the state options just read (the tokens from mark, parentheses included)
// and says why they can change what passes, or "": limits ("max", "max-src-conn", …) and
// overload tables fill up with traffic, and "if-bound" makes a state entry match only on its
// interface, which the state model does not check. The others (source-track alone, sloppy, pflow,
// no-sync, floating, timeouts) only go into the explanation as not simulated.
func (p *pfParser) stateOpts(x *pfOpts, mark int) string {
	bound := false
	for _, t := range p.toks[mark:] {
		if t.kind == pfWord && (strings.HasPrefix(t.s, "max") || t.s == "overload") {
			return "limits and overload tables are not simulated"
		}
		bound = bound || t.is("if-bound")
	}
	if bound {
		return "if-bound states match only on the interface that created them, which is not simulated"
	}
	x.unsim = append(x.unsim, "state options "+p.joined(mark)+": they do not change what passes here")
	return ""
}
