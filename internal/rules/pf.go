package rules

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// PFRuleset is a pf filter rule set (pf.conf(5) as on macOS and OpenBSD), parsed and compiled
// for simulation. It is immutable after ParsePF, so Eval may be called from many goroutines.
//
// Supported subset: macros ("ext = \"en0\"", "$ext", lists in macros); tables ("table <t>
// [persist] [const] [counters] [file \"path\"] [{ addresses, !negated, prefixes }]"); "set skip on
// IF | { IF … }", "set block-policy drop|return", "set require-order yes|no"; filter rules
// "pass|block [drop|return|return-rst|return-icmp|return-icmp6] [in|out] [log] [quick]
// [on IF | on !IF | on { … }] [inet|inet6] [proto P | proto { … }] [all | [from HOSTS [port
// PORTS]] [to HOSTS [port PORTS]]] [flags F/M | flags any] [icmp-type T [code C] |
// icmp6-type …] [keep state | modulate state | synproxy state | no state] [label …]
// [allow-opts] [queue …] [user …] [group …]"; hosts "any", "self", "(self)", IPv4 and IPv6
// addresses and prefixes (also "10/8", host bits, zones "fe80::1%lo0", IPv4-mapped IPv6), ranges
// "a - b", "<table>", "!" before any of them, "{ … }" lists, interfaces and interface groups
// "en0", "(en0)" with ":network", ":broadcast", ":peer", ":0" (see pf_addr.go for how they are
// resolved from PFOptions), and host names, "no-route", "urpf-failed" and "route LABEL", which
// match no address and make the rule unsure; tables hold the same, but for ranges; ports "N",
// "name" (PFOptions.Services, then a built-in list of common services), "= != < <= > >= N",
// "N:M", "N >< M", "N <> M" and lists; "user" and "group" make the rule unsure and are otherwise
// taken to hold; anchors "anchor NAME [in|out] [quick] [on …] [af] [proto …]
// [from … to …] [{ inline rules }]", "anchor \"name/*\"", "load anchor NAME from FILE",
// "include FILE"; "antispoof [log] [quick] for IF [inet|inet6]", expanded from the interface
// addresses of PFOptions (see Notes when they are missing); address translation in both dialects,
// modelled before filtering (pf_translate.go): "[no] nat|rdr|binat [pass] … -> POOL [port …]
// [pooltype] [static-port]", "nat-anchor|rdr-anchor|binat-anchor NAME [{ … }]" (macOS, FreeBSD),
// and "match" rules with the options "nat-to", "rdr-to", "binat-to", "af-to" (OpenBSD 4.7 and
// later; see Dialect). Line continuations and comments as in pfctl.
//
// Rule options (pf_opts.go): "tag NAME" and "[!] tagged NAME" are modelled with pf's tag
// register (a matching rule's tag sticks even when a later rule decides), "received-on IF" and
// "fragment" are conditions; "probability", "os", "once", "tos", "prio", "max-pkt-rate" and
// "divert-packet" make the rule unsure and are taken to match; routing ("route-to", "reply-to",
// "dup-to", "fastroute", "rtable", "divert-to"), queueing ("queue", "set queue", "dnpipe"),
// "set prio|tos|delay", "scrub (…)" and "label" are recorded and named in explanations as not
// simulated. Anchor rules take the same options.
//
// Accepted and ignored (listed by Ignored, and by Notes, which makes verdicts conditional on
// them): "scrub", the anchors "scrub-anchor", "dummynet-anchor" (with any inline block), the
// translation anchors whose rules are loaded at run time, engine options "set optimization|
// ruleset-optimization|loginterface|timeout|limit|state-policy|state-defaults|hostid|
// fingerprints|debug|reassemble|syncookies|keepcounters|fail-policy" (and any "set" inside an
// anchor, which pfctl does not load from there), "altq" and "queue" definitions, macOS
// "dummynet" and "ether" rules, and the state options in parentheses that can change what passes
// (limits, overload tables, if-bound); the others (source-track, sloppy, pflow, timeouts, …) are
// named in explanations.
//
// Rejected with an error naming file:line: a file mixing the two translation dialects, and
// anything else ParsePF does not know.
type PFRuleset struct {
	name           string
	root           *pfAnchor
	anchors        map[string]*pfAnchor
	rules          []pfRule // the filter rules in evaluation order, anchors expanded in place
	skip           []pfSkip
	blockReturn    bool
	noRequireOrder bool
	order          []pfOrderNote
	ignored        []string
	opts           PFOptions
	xo             pfOptState // tags and the anchor rules the ordered path needs (pf_opts.go)
	notes          []string   // what makes a verdict conditional, as "file:line: text: why"
	undefined      []pfUndefinedTable
	anon           int
	expanded       int  // filter rules as pfctl expands lists, so far (capped by pfMaxExpandedRules)
	stateful       bool // some pass rule keeps state
	blocks         []pfClassifier
	reps           []uint8    // a protocol of each class the rules' protocols sort into (pfProtoClasses)
	memo           pfNegMemo  // while compiling
	unsure         []pfUnsure // the unsure rules, in evaluation order (see certainty.go)
	unsureAt       []int32    // by rule: its index in unsure, or -1; nil when no rule is unsure
	// Address translation (pf_translate.go): the dialect and where it was first seen, the first
	// translation anchor, whether anything translates, the rule lists of the macOS/FreeBSD
	// dialect (binat, rdr, nat) in evaluation order, the translating match rules of the OpenBSD
	// one, and whether those need the tree walk (inside anchors).
	dialect, dialectWhere string
	xanchorWhere          string
	xlate                 bool
	xrules                [3][]pfRule
	xsum                  [3]pfXSum
	xmatch                []int32
	xmsum                 [2]pfXSum // what the translating match rules can match at most, in and out
	xslow                 bool
	xtop                  bool      // the translating match rules come first (pf_translate.go)
	xcalls                []*pfCall // the translation anchor calls, in the order of the file
}

type pfSkip struct{ iface, where, text string }

type pfUndefinedTable struct{ name, where, text string }

// pfRule is a filter rule at its place in the expanded rule set, with the conditions of the
// anchors that lead to it folded into per-field sets.
type pfRule struct {
	f      *pfFilter
	qEnd   int // the end (exclusive) of the innermost quick anchor around the rule; -1 if none
	dirs   uint8
	protos pfProtoSet
	ifs    pfIfSet
	src    pfAddrField
	dst    pfAddrField
	sport  pfIPSet
	dport  pfIPSet
	ports  bool // some condition names ports
	undef  bool // some condition names an undefined table
	// post is set when the rule or an anchor rule around it has a condition the classifier does
	// not fold (tagged, received-on, fragment: pf_opts.go), tested in rule order.
	post bool
	// runtime names a table of the rule's conditions whose contents are filled at run time, or
	// another condition the simulator cannot decide (f.unsure, an unsure address of an anchor
	// around it) ("" if none): what the rule matches is unknown from the file.
	runtime string
}

// pfAddrField is the addresses a rule accepts in one field: local when the address is the host's
// own side of the packet, remote otherwise (the two differ only for self), and whether it accepts
// a packet with no valid address there.
type pfAddrField struct {
	local, remote pfIPSet
	invalid       bool
}

// pfDirBit maps a packet direction to the bit rules use: 1 for an unset direction, 2 in, 4 out.
func pfDirBit(d Dir) uint8 {
	switch d {
	case In:
		return 2
	case Out:
		return 4
	}
	return 1
}

const pfMaxAnchorDepth = 64 // pf's anchor stack

// pfMaxRules bounds the expanded rule set, which anchors called from several places can multiply.
const pfMaxRules = 1 << 17

// ParsePF parses a pf rule set. name is how its rules are located in verdicts ("pf.conf:12").
// load reads the files that "load anchor", "include" and "table … file" name; the caller resolves
// their paths (under --root) and may pass nil when the rule set reads no files. Every statement is
// either understood, accepted and ignored (see PFRuleset and Ignored), or rejected with a
// *PFSyntaxError naming file:line.
func ParsePF(data []byte, name string, load func(path string) ([]byte, error)) (*PFRuleset, error) {
	return parsePF(context.Background(), data, name, load, pfBlockRules)
}

// ParsePFContext is ParsePF that gives up, returning ctx.Err(), soon after ctx is done: it checks
// ctx every few thousand statements while parsing and between classifier blocks while compiling.
func ParsePFContext(ctx context.Context, data []byte, name string, load func(path string) ([]byte, error)) (*PFRuleset, error) {
	return parsePF(ctx, data, name, load, pfBlockRules)
}

// PFOptions is what a rule set does not say about the host it runs on.
type PFOptions struct {
	// Ifaces holds each interface's addresses with their prefix lengths (en0: 192.0.2.10/24), for
	// antispoof and for interface addresses ("(en0)", "en0:network"), in the order the interface
	// lists them (":0" takes the first). lo0 has 127.0.0.1/8 and ::1/128 unless given here.
	Ifaces map[string][]netip.Prefix
	// Groups holds the members of interface groups (egress: en0). The group lo is the loopback
	// interfaces (lo0 and any loN in Ifaces) unless given here.
	Groups map[string][]string
	// Services resolves port names ("ssh") for a protocol, as pfctl's getservbyname does (tcp
	// first, then udp); names it does not know fall back to a built-in list of common services.
	// The CLI reads ROOT/etc/services. Nil: only the built-in list.
	Services ServiceLookup
}

// ParsePFOptions is ParsePFContext with the host's interfaces and groups.
func ParsePFOptions(ctx context.Context, data []byte, name string, load func(path string) ([]byte, error), opts PFOptions) (*PFRuleset, error) {
	return parsePFWith(ctx, data, name, load, pfBlockRules, opts)
}

func parsePF(ctx context.Context, data []byte, name string, load func(path string) ([]byte, error), blockRules int) (*PFRuleset, error) {
	return parsePFWith(ctx, data, name, load, blockRules, PFOptions{})
}

func parsePFWith(ctx context.Context, data []byte, name string, load func(path string) ([]byte, error), blockRules int, opts PFOptions) (*PFRuleset, error) {
	rs := &PFRuleset{name: name, anchors: map[string]*pfAnchor{}, opts: opts}
	rs.root = rs.anchorAt("")
	p := &pfParser{
		ctx:    ctx,
		stmts:  new(int),
		rs:     rs,
		lex:    &pfLexer{data: data, line: 1, macros: map[string]string{}},
		data:   data,
		file:   name,
		anchor: rs.root,
		load:   load,
	}
	if err := p.statements(false); err != nil {
		return nil, err
	}
	if err := rs.compile(ctx, blockRules); err != nil {
		return nil, err
	}
	return rs, nil
}

// Len is the number of filter rules once anchors are expanded in place.
func (rs *PFRuleset) Len() int { return len(rs.rules) }

// Ignored lists the statements ParsePF accepted without simulating them, as "file:line: text
// (ignored: why)".
func (rs *PFRuleset) Ignored() []string { return slices.Clone(rs.ignored) }

// Notes lists what the simulator could not decide from the rule set and the options, as
// "file:line: text: why", in the order of the rule set: statements accepted but not modelled,
// state options (limits, overload tables), antispoof on an interface whose addresses were not
// given, interface groups whose members were not given. When it is not empty, every verdict is
// conditional on it.
func (rs *PFRuleset) Notes() []string { return slices.Clone(rs.notes) }

// addrs are the addresses of an interface, and whether they are known.
func (o *PFOptions) addrs(ifn string) ([]netip.Prefix, bool) {
	if a, ok := o.Ifaces[ifn]; ok {
		return a, true
	}
	if ifn == "lo0" {
		return []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8"), netip.MustParsePrefix("::1/128")}, true
	}
	return nil, false
}

// members are the interfaces a name in an "on", "for" or "set skip" clause stands for, and
// whether they are known. An interface name (it ends in its unit number: en0, lo0) is itself; any
// other name is an interface group, as in pf: the members given in Groups; for lo, the loopback
// interfaces (lo0 and any loN in Ifaces); for a driver's group (en, utun), the interfaces of
// Ifaces whose names are the group's and a number; otherwise (egress, a group the host defines)
// not known.
func (o *PFOptions) members(name string) ([]string, bool) {
	if m, ok := o.Groups[name]; ok {
		return m, true
	}
	if name == "" || name[len(name)-1] >= '0' && name[len(name)-1] <= '9' {
		return []string{name}, true
	}
	var out []string
	for ifn := range o.Ifaces {
		if unit, ok := strings.CutPrefix(ifn, name); ok && unit != "" && strings.Trim(unit, "0123456789") == "" {
			out = append(out, ifn)
		}
	}
	if name == "lo" && !slices.Contains(out, "lo0") {
		out = append(out, "lo0")
	}
	slices.Sort(out)
	return out, len(out) > 0
}

// LooksLikePF reports whether data reads like a pf.conf: some line starts with a pf keyword
// (pass, block, anchor, table <name>, load anchor, set skip, scrub-anchor and the like). ipfw
// lists start with rule numbers, "add" or "table N", so the two do not collide.
func LooksLikePF(data []byte) bool {
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		f := strings.Fields(string(line))
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "pass", "block", "anchor", "scrub-anchor", "nat-anchor", "rdr-anchor", "binat-anchor",
			"dummynet-anchor", "antispoof", "rdr", "binat":
			return true
		case "altq", "queue":
			// A file of queue definitions only (FreeBSD's example queue files); ipfw configures
			// its queues with "ipfw queue N config" or a rule number first.
			return len(f) > 1
		case "nat", "match":
			// ipfw has "nat N config …"; pf's nat and match go on with pass, on or a direction.
			if len(f) > 1 && (f[1] == "on" || f[1] == "pass" || f[1] == "in" || f[1] == "out") {
				return true
			}
		case "table":
			if len(f) > 1 && strings.HasPrefix(f[1], "<") {
				return true
			}
		case "load":
			if len(f) > 1 && f[1] == "anchor" {
				return true
			}
		case "set":
			if len(f) > 1 && (f[1] == "skip" || f[1] == "block-policy") {
				return true
			}
		}
	}
	return false
}

func (rs *PFRuleset) anchorAt(path string) *pfAnchor {
	if a, ok := rs.anchors[path]; ok {
		return a
	}
	a := &pfAnchor{path: path}
	rs.anchors[path] = a
	if path != "" {
		parent := ""
		if i := strings.LastIndexByte(path, '/'); i >= 0 {
			parent = path[:i]
		}
		rs.anchorAt(parent) // pf creates the parents of an anchor along with it
	}
	return a
}

// children are the anchors directly below path, in the order pf walks them for "path/*" (byte
// order of their names).
func (rs *PFRuleset) children(path string) []*pfAnchor {
	var out []*pfAnchor
	for p, a := range rs.anchors {
		if p == "" {
			continue
		}
		parent := ""
		if i := strings.LastIndexByte(p, '/'); i >= 0 {
			parent = p[:i]
		}
		if parent == path {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b *pfAnchor) int { return cmp.Compare(a.path, b.path) })
	return out
}

// compile resolves tables and anchors, expands anchors in place and builds the classifier, in
// blocks of blockRules rules.
func (rs *PFRuleset) compile(ctx context.Context, blockRules int) error {
	for _, a := range rs.anchors {
		for _, t := range a.tables {
			t.set = pfTableSet(t.entries)
		}
	}
	for _, a := range rs.anchors {
		for _, st := range a.stmts {
			if st.f == nil {
				continue
			}
			for _, name := range pfOverloadTargets(st.f.text) {
				if t := a.tables[name]; t != nil {
					t.overload = true
				} else if t := rs.root.tables[name]; t != nil {
					t.overload = true
				}
			}
		}
	}
	paths := make([]string, 0, len(rs.anchors))
	for p := range rs.anchors {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, path := range paths {
		a := rs.anchors[path]
		for i := range a.stmts {
			st := &a.stmts[i]
			var c *pfCond
			var where, text string
			if st.f != nil {
				c, where, text = &st.f.cond, st.f.where, st.f.text
			} else {
				c, where, text = &st.call.cond, st.call.where, st.call.text
				if st.call.wildcard {
					st.call.targets = rs.children(st.call.path)
				} else {
					st.call.targets = []*pfAnchor{rs.anchors[st.call.path]}
				}
			}
			for _, h := range []*pfHost{&c.src, &c.dst} {
				for j := range h.addrs {
					e := &h.addrs[j]
					if e.unsure != "" {
						st.markUnsure(e.unsure)
					}
					if e.kind != pfHostTable {
						continue
					}
					t := a.tables[e.table]
					if t == nil {
						t = rs.root.tables[e.table]
					}
					if t == nil {
						rs.undefined = append(rs.undefined, pfUndefinedTable{e.table, where, text})
						e.set, e.undef = nil, true
						continue
					}
					e.set, e.runtime, e.self = t.set, t.filledAtRunTime(), t.self
					for _, why := range t.unsure {
						st.markUnsure(why)
					}
					if len(t.unsure) > 0 {
						e.unsure = t.unsure[0] // for lint, also when an anchor call names the table
					}
				}
			}
		}
	}
	for _, path := range paths {
		if _, err := rs.sizeOf(rs.anchors[path], 0); err != nil {
			return err
		}
	}
	rs.rules = make([]pfRule, 0, rs.root.size)
	rs.memo = pfNegMemo{}
	rs.unsure = nil
	rs.flatten(rs.root, nil)
	rs.indexUnsure()
	rs.memo = nil
	canon := pfCanon{}
	for i := range rs.rules {
		r := &rs.rules[i]
		for _, s := range []*pfIPSet{&r.src.local, &r.src.remote, &r.dst.local, &r.dst.remote, &r.sport, &r.dport} {
			*s = canon.get(*s)
		}
	}
	for i := range rs.rules {
		r := &rs.rules[i]
		if r.f.pass && r.f.state != pfNoState {
			rs.stateful = true
		}
	}
	if err := rs.compileX(); err != nil {
		return err
	}
	rs.reps, _ = pfProtoClasses(rs.rules)
	var err error
	rs.blocks, err = pfBuildBlocks(ctx, rs.rules, rs.skip, blockRules)
	return err
}

// sizeOf counts the filter rules an anchor expands to, and refuses anchors nested deeper than
// pf's anchor stack (which an anchor calling itself would be) or expanding to too many rules.
func (rs *PFRuleset) sizeOf(a *pfAnchor, depth int) (int, error) {
	if a.sized {
		return a.size, nil
	}
	n := 0
	for _, st := range a.stmts {
		if st.f != nil {
			n++
			continue
		}
		c := st.call
		if depth >= pfMaxAnchorDepth {
			return 0, &PFSyntaxError{File: c.file, Line: c.line, Msg: fmt.Sprintf("anchor %q: anchors nested deeper than %d (does an anchor call itself?)", c.path, pfMaxAnchorDepth)}
		}
		c.size = 0
		for _, t := range c.targets {
			m, err := rs.sizeOf(t, depth+1)
			if err != nil {
				return 0, err
			}
			c.size += m
		}
		n += c.size
		if n > pfMaxRules {
			return 0, &PFSyntaxError{File: c.file, Line: c.line, Msg: fmt.Sprintf("anchor %q: the rule set expands to more than %d rules", c.path, pfMaxRules)}
		}
	}
	a.size, a.sized = n, true
	return n, nil
}

// flatten appends the rules of a, each with the conditions of the anchor calls leading to it.
func (rs *PFRuleset) flatten(a *pfAnchor, ctx []*pfCond) {
	for _, st := range a.stmts {
		if st.f != nil {
			conds := append(slices.Clip(ctx), &st.f.cond)
			rs.rules = append(rs.rules, pfFieldSets(st.f, conds, rs.memo))
			rs.addUnsure(conds)
			rs.flagPost(ctx, &st.f.cond)
			if st.f.match {
				rs.ruleEvent(st.f, len(rs.rules)-1, conds) // its tag, which the classifier does not see
			}
			continue
		}
		start := len(rs.rules)
		inner := append(slices.Clip(ctx), &st.call.cond)
		ev := rs.callEvent(st.call, start, inner)
		for _, t := range st.call.targets {
			rs.flatten(t, inner)
		}
		rs.endCallEvent(ev)
		if st.call.quick {
			for i := start; i < len(rs.rules); i++ {
				if rs.rules[i].qEnd < 0 {
					rs.rules[i].qEnd = len(rs.rules)
				}
			}
		}
	}
}

// pfTableSet is the set of addresses a table holds: for each address, its longest matching entry
// decides, and a negated entry excludes. Entries are applied by prefix length, shortest first, a
// length at a time, so a large table costs a sort per length rather than one per entry.
func pfTableSet(es []pfTableEntry) pfIPSet {
	es = slices.Clone(es)
	slices.SortStableFunc(es, func(a, b pfTableEntry) int { return cmp.Compare(a.prefix.Bits(), b.prefix.Bits()) })
	var s pfIPSet
	for i := 0; i < len(es); {
		j := i
		var pos, neg []pfRange
		for ; j < len(es) && es[j].prefix.Bits() == es[i].prefix.Bits(); j++ {
			for _, r := range pfPrefixSet(es[j].prefix) {
				if es[j].neg {
					neg = append(neg, r)
				} else {
					pos = append(pos, r)
				}
			}
		}
		s = s.union(pfNormalize(pos)).subtract(pfNormalize(neg))
		i = j
	}
	return s
}

// pfFieldSets folds the conditions of a rule and of the anchors around it into per-field sets.
func pfFieldSets(f *pfFilter, conds []*pfCond, memo pfNegMemo) pfRule {
	r := pfRule{
		f: f, qEnd: -1, dirs: 7, protos: pfAllProtos, ifs: pfAnyIf,
		src:   pfAddrField{pfFull, pfFull, true},
		dst:   pfAddrField{pfFull, pfFull, true},
		sport: pfPortsAll, dport: pfPortsAll,
	}
	if len(f.unsure) > 0 {
		r.runtime = f.unsure[0] // lint: what the rule matches is not known from the file
	}
	for _, c := range conds {
		if c.dir != 0 {
			r.dirs &= pfDirBit(c.dir)
		}
		if len(c.ifs) > 0 {
			r.ifs = r.ifs.intersect(pfIfSetOf(c.ifs))
		}
		if len(c.protos) > 0 {
			var ps pfProtoSet
			for _, x := range c.protos {
				ps.add(x)
			}
			r.protos = r.protos.and(ps)
		}
		for _, fld := range []struct {
			h   *pfHost
			a   *pfAddrField
			pts *pfIPSet
		}{{&c.src, &r.src, &r.sport}, {&c.dst, &r.dst, &r.dport}} {
			if c.af != 0 {
				fld.a.local = fld.a.local.intersect(pfAFSet(c.af))
				fld.a.remote = fld.a.remote.intersect(pfAFSet(c.af))
				fld.a.invalid = false
			}
			if len(fld.h.addrs) > 0 {
				for _, e := range fld.h.addrs {
					r.undef = r.undef || e.undef
					if e.runtime && r.runtime == "" {
						r.runtime = e.table
					}
					if e.unsure != "" && r.runtime == "" {
						r.runtime = e.unsure // a host name, no-route: what it matches is not known either
					}
				}
				l, rem, inv := pfAddrSpecSets(fld.h.addrs, memo)
				fld.a.local = fld.a.local.intersect(l)
				fld.a.remote = fld.a.remote.intersect(rem)
				fld.a.invalid = fld.a.invalid && inv
			}
			if fld.h.ports != nil {
				var u pfIPSet
				for _, s := range fld.h.ports {
					u = u.union(s)
				}
				*fld.pts = fld.pts.intersect(u)
				r.ports = true
			}
		}
	}
	return r
}

func pfIfSetOf(es []pfIfElem) pfIfSet {
	var s pfIfSet
	for _, e := range es {
		if e.neg {
			s = s.union(pfIfSet{co: true, names: []string{e.name}})
		} else {
			s = s.union(pfIfSet{names: []string{e.name}})
		}
	}
	return s
}

// pfNegMemo remembers complements, so that rules negating the same large table share one.
type pfNegMemo map[pfNegKey]pfIPSet

type pfNegKey struct {
	p  *pfRange
	n  int
	af uint8
}

// not is the complement of s within the family af (both for 0).
func (m pfNegMemo) not(s pfIPSet, af uint8) pfIPSet {
	if len(s) == 0 {
		return pfAFSet(af)
	}
	k := pfNegKey{&s[0], len(s), af}
	if c, ok := m[k]; ok {
		return c
	}
	c := pfAFSet(af).subtract(s)
	m[k] = c
	return c
}

// pfAddrSpecSets is the exact meaning of an OR list of hosts, for the host's own side (local), the
// other side (remote), and a missing address.
func pfAddrSpecSets(es []pfAddrElem, memo pfNegMemo) (local, remote pfIPSet, invalid bool) {
	for _, e := range es {
		var l, r pfIPSet
		inv := false
		switch e.kind {
		case pfHostAny:
			l, r, inv = pfFull, pfFull, true
		case pfHostSelf:
			l, r = pfFull, pfLoopback
		default:
			l, r = e.set, e.set
			if e.self {
				l, r = pfFull, r.union(pfLoopback)
			}
		}
		if e.neg {
			l, r = memo.not(l, e.af), memo.not(r, e.af)
			inv = e.af == 0 && !inv
		}
		local, remote, invalid = local.union(l), remote.union(r), invalid || inv
	}
	return local, remote, invalid
}
