package rules

import (
	"context"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"strings"
)

// covers reports whether every packet rule b matches is also matched by a (a conservative
// answer: false when unsure). Interface patterns, "not" and "me" are compared as written.
func (a *IPFWRule) covers(b *IPFWRule) bool {
	if a.Kind != ipfwDecide || b.Kind == ipfwCheckState {
		return false
	}
	// Options checked one by one, and conditions the simulator assumes, are not compared: a rule
	// with them covers nothing for certain (lint never rests a finding on what it did not model).
	if len(a.Conds) > 0 || len(a.unsure) > 0 || len(a.Src.tables) > 0 || len(a.Dst.tables) > 0 {
		return false
	}
	if a.Family != 0 && a.Family != b.family() {
		return false
	}
	if a.Protos != nil && (b.Protos == nil || !subset(b.Protos, a.Protos)) {
		return false
	}
	if !a.Src.covers(&b.Src) || !a.Dst.covers(&b.Dst) {
		return false
	}
	if !portsCover(a.SrcPort, b.SrcPort) || !portsCover(a.DstPort, b.DstPort) {
		return false
	}
	if a.Dir != 0 && a.Dir != b.Dir {
		return false
	}
	if len(a.Ifaces) > 0 && !slices.Equal(a.Ifaces, b.Ifaces) {
		return false
	}
	if a.Est && !b.Est || a.Setup && !b.Setup || a.Frag && !b.Frag {
		return false
	}
	if a.ICMP != nil && (b.ICMP == nil || !subset(b.ICMP, a.ICMP)) {
		return false
	}
	return true
}

// family is the address family every packet the rule matches has: its ip4/ip6, or the family of
// all the prefixes of one side; 0 when both families may match.
func (r *IPFWRule) family() uint8 {
	if r.Family != 0 {
		return r.Family
	}
	for _, a := range []*ipfwAddr{&r.Src, &r.Dst} {
		if a.Any || a.Not || a.Me || a.Me6 || a.unknown || len(a.Prefixes) == 0 {
			continue
		}
		v4 := a.Prefixes[0].Addr().Is4()
		if !slices.ContainsFunc(a.Prefixes, func(p netip.Prefix) bool { return p.Addr().Is4() != v4 }) {
			if v4 {
				return 4
			}
			return 6
		}
	}
	return 0
}

func subset[T comparable](small, big []T) bool {
	for _, x := range small {
		if !slices.Contains(big, x) {
			return false
		}
	}
	return true
}

func (a *ipfwAddr) covers(b *ipfwAddr) bool {
	switch {
	case a.unknown || b.unknown:
		return false // an unresolved host name or a runtime table: not compared
	case a.Any && !a.Not:
		return true
	case a.Not || b.Not || b.Any:
		return a.Not == b.Not && a.Me == b.Me && a.Me6 == b.Me6 && slices.Equal(a.Prefixes, b.Prefixes) && a.Any == b.Any
	case b.Me && !a.Me || b.Me6 && !a.Me6:
		return false
	}
	for _, bp := range b.Prefixes {
		ok := false
		for _, ap := range a.Prefixes {
			if ap.Bits() <= bp.Bits() && ap.Contains(bp.Addr()) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func portsCover(a, b []portRange) bool {
	if a == nil {
		return true
	}
	if b == nil {
		return false
	}
	for _, br := range b {
		ok := false
		for _, ar := range a {
			if ar.Lo <= br.Lo && br.Hi <= ar.Hi {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// catchAll reports whether a rule decides every packet.
func (r *IPFWRule) catchAll() bool {
	all := IPFWRule{Kind: ipfwDecide, Src: ipfwAddr{Any: true}, Dst: ipfwAddr{Any: true}}
	return r.Kind == ipfwDecide && r.covers(&all)
}

// LintOptions tune Lint. Keep is the operator's own connection ("203.0.113.5:22" — the source
// address and the local port of an SSH session) that the rule set must not cut off.
//
// DefaultGiven says how the caller chose the ipfw rule set's Default, such as "--default allow";
// empty when the default was not given and is assumed (Mac OS X's allow, unless rule 65535 is
// listed in the file). Lint says which default it judged by and why.
type LintOptions struct {
	Keep         netip.AddrPort
	DefaultGiven string
}

// Lint finds the mistakes the 2005 article warns about and a few more.
func (rs *IPFWRuleset) Lint(opts LintOptions) []Finding {
	out, _ := rs.lint(context.Background(), opts, false)
	return out
}

// LintContext is Lint that gives up, returning ctx.Err(), soon after ctx is done.
func (rs *IPFWRuleset) LintContext(ctx context.Context, opts LintOptions) ([]Finding, error) {
	return rs.lint(ctx, opts, false)
}

// lintReference is Lint comparing every pair of rules, the plain way the candidates the
// classifier finds are checked against.
func (rs *IPFWRuleset) lintReference(opts LintOptions) []Finding {
	out, _ := rs.lint(context.Background(), opts, true)
	return out
}

// ipfwLintCheckEvery is how many rules the linter handles between looks at its context.
const ipfwLintCheckEvery = 1024

// sample builds a packet rule b matches, or reports false. A rule covering b matches it too, so
// the rules the classifier finds matching it are the only candidates for covering b.
func (b *IPFWRule) sample() (Packet, bool) {
	p := Packet{Proto: ProtoTCP, Dir: b.Dir, ICMPType: -1, ICMPCode: -1, Established: b.Est, Setup: b.Setup, Frag: b.Frag}
	if b.Protos != nil {
		if len(b.Protos) == 0 {
			return Packet{}, false // a rule for no protocol (`udp … established`) matches nothing
		}
		p.Proto = b.Protos[0]
	}
	if p.Dir == 0 {
		p.Dir = In
	}
	if len(b.Ifaces) > 0 {
		p.Iface = b.Ifaces[0].Pattern
		switch b.Ifaces[0].How {
		case "recv":
			p.Dir = In
		case "xmit":
			p.Dir = Out
		}
	}
	addr := func(a *ipfwAddr) netip.Addr {
		switch {
		case len(a.Prefixes) > 0:
			return a.Prefixes[0].Masked().Addr()
		case a.Me6 && !a.Me || b.Family == 6:
			return netip.MustParseAddr("2001:db8::10")
		}
		return netip.MustParseAddr("192.0.2.10")
	}
	p.Src, p.Dst = addr(&b.Src), addr(&b.Dst)
	if b.Src.Me && len(b.Src.Prefixes) == 0 && !b.Src.Any {
		p.Dir = Out // me is the source of an outbound packet
	}
	if len(b.SrcPort) > 0 {
		p.SrcPort = b.SrcPort[0].Lo
	}
	if len(b.DstPort) > 0 {
		p.DstPort = b.DstPort[0].Lo
	}
	if len(b.ICMP) > 0 {
		p.ICMPType = int16(b.ICMP[0])
	}
	if f, _ := b.check(&p); f != noFailure {
		return Packet{}, false
	}
	return p, true
}

// eachCandidate calls fn, in order, with each rule in [0, to) the classifier finds matching p
// (rules it checks one by one included), until fn returns false.
func (rs *IPFWRuleset) eachCandidate(p *Packet, to int, fn func(int) bool) {
	di := dirIndex(p.Dir)
	for _, c := range rs.comp.blocks {
		if c.base >= to {
			return
		}
		w := c.w
		s := interval(c.srcPts, &c.srcV4, p.Src) * w
		d := interval(c.dstPts, &c.dstV4, p.Dst) * w
		sp := int(c.sportIdx[p.SrcPort]) * w
		dp := int(c.dportIdx[p.DstPort]) * w
		ifb := c.ifaceBits(p.Iface, p.Dir)
		icmpB := c.ones
		if (p.Proto == ProtoICMP || p.Proto == ProtoICMPv6) && p.ICMPType >= 0 {
			icmpB = c.icmpType[int(p.ICMPType)*w:]
		}
		cb := c.comboKey(p)
		for k := range w {
			x := c.combo[cb+k] & c.srcDir[di][s+k] & c.dstDir[di][d+k] & c.sportBits[sp+k] & c.dportBits[dp+k] & ifb[k] & icmpB[k]
			for x != 0 {
				i := c.base + k*64 + bits.TrailingZeros64(x)
				x &= x - 1
				if i >= to {
					return
				}
				if !fn(i) {
					return
				}
			}
		}
	}
}

func (rs *IPFWRuleset) lint(ctx context.Context, opts LintOptions, reference bool) ([]Finding, error) {
	if rs.comp == nil {
		if err := rs.CompileContext(ctx); err != nil {
			return nil, err
		}
	}
	var out []Finding
	// Rules that can never decide: after a catch-all, or covered by an earlier rule (only before
	// the first skipto, which would make reachability depend on the path).
	// An unsure rule (see certainty.go) is no catch-all, covers nothing and is covered by
	// nothing: what it matches is not known, and no finding may rest on it.
	catchAt, unsureCatch := -1, false
	// landing is the first rule past the catch-all that a skipto or call before it jumps to:
	// from there on rules are reached (the Handbook's `skipto 1000 … keep-state` then `999 deny`).
	landing := len(rs.Rules)
	for i := range rs.Rules {
		r := &rs.Rules[i]
		if catchAt >= 0 && i >= landing {
			break
		}
		if (r.Kind == ipfwSkipTo || r.Kind == ipfwCall) && catchAt < 0 {
			landing = min(landing, rs.jumpIndex(i))
		}
		if catchAt >= 0 && i < landing {
			out = append(out, Finding{Kind: "after-catch-all", Rules: []string{r.Where(), rs.Rules[catchAt].Where()},
				Message: fmt.Sprintf("rule %s is never reached: rule %s (%s) decides every packet before it", r.Where(), rs.Rules[catchAt].Where(), rs.Rules[catchAt].Text),
				Fix:     fmt.Sprintf("move rule %s above rule %s, or delete it", r.Where(), rs.Rules[catchAt].Where())})
			continue
		}
		if r.unsure != nil && catchAt < 0 {
			// covers judges no unsure rule: its loosened form, its options taken as holding,
			// tells whether it may catch every packet.
			rr := r.loosened()
			rr.unsure, rr.Conds = nil, nil
			if rr.catchAll() {
				unsureCatch = true // it may catch every packet, or not
			}
			continue
		}
		if r.catchAll() && catchAt < 0 {
			catchAt = i
			if landing <= i {
				landing = len(rs.Rules) // jumps that land before the catch-all do not pass it
				for k := 0; k < i; k++ {
					if (rs.Rules[k].Kind == ipfwSkipTo || rs.Rules[k].Kind == ipfwCall) && rs.jumpIndex(k) > i {
						landing = min(landing, rs.jumpIndex(k))
					}
				}
			}
		}
	}
	// Coverage is judged only before the first skipto, check-state or keep-state rule.
	barrier := len(rs.Rules)
	for i := range rs.Rules {
		if a := &rs.Rules[i]; a.Kind == ipfwSkipTo || a.Kind == ipfwCheckState || a.Keep || a.Kind == ipfwCall || a.Kind == ipfwReturn {
			barrier = i
			break
		}
	}
	for j := range rs.Rules {
		if j%ipfwLintCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		b := &rs.Rules[j]
		if b.Kind != ipfwDecide || (catchAt >= 0 && j > catchAt) || b.unsure != nil {
			continue
		}
		candidates := func(to int, fn func(int) bool) {
			for i := 0; i < to && fn(i); i++ {
			}
		}
		if p, ok := b.sample(); ok && !reference {
			candidates = func(to int, fn func(int) bool) { rs.eachCandidate(&p, to, fn) }
		}
		candidates(min(j, barrier), func(i int) bool {
			a := &rs.Rules[i]
			if a.unsure != nil || !a.covers(b) {
				return true
			}
			kind, fix := "shadowed", fmt.Sprintf("move rule %s above rule %s if it should win, or delete it", b.Where(), a.Where())
			if a.Action == b.Action {
				kind, fix = "redundant", fmt.Sprintf("delete rule %s", b.Where())
			}
			out = append(out, Finding{Kind: kind, Rules: []string{b.Where(), a.Where()},
				Message: fmt.Sprintf("rule %s (%s) never decides: every packet it matches is decided earlier by rule %s (%s)", b.Where(), b.Text, a.Where(), a.Text),
				Fix:     fix})
			return false
		})
	}
	out = append(out, rs.spoofOrder()...)
	if catchAt < 0 && !unsureCatch && rs.Default == Allow {
		out = append(out, rs.noFinalDeny(opts))
	}
	probe := func(s string) Packet { p, _ := ParsePacket(s); return p }
	lo := probe("tcp 127.0.0.1:50000 -> 127.0.0.1:631 in via lo0 setup")
	if v := rs.evalReference(&lo, nil, 0); v.Action != Allow && v.Unsure == "" {
		out = append(out, Finding{Kind: "loopback-blocked", Rules: []string{v.Where},
			Message: fmt.Sprintf("traffic on lo0 is %s by rule %s; local services (printing, databases, IPC over TCP) break", v.Action.Past(), v.Where),
			Fix:     "add `allow ip from any to any via lo*` before it (the article's rule 02000)"})
	}
	outbound := probe("tcp 192.0.2.10:50000 -> 198.51.100.7:443 out via en0 setup")
	reply := probe("tcp 198.51.100.7:443 -> 192.0.2.10:50000 in via en0 established")
	if o, r := rs.evalReference(&outbound, nil, 0), rs.evalReference(&reply, nil, 0); o.Action == Allow && r.Action != Allow && o.Unsure == "" && r.Unsure == "" {
		assumed := ""
		if o.Where == "65535" && rs.defaultListed == "" && opts.DefaultGiven == "" {
			assumed = " (rule 65535's action is assumed allow here: on FreeBSD it is deny, see --default)"
		}
		out = append(out, Finding{Kind: "no-replies", Rules: []string{r.Where},
			Message: fmt.Sprintf("outbound TCP is allowed (rule %s) but the replies are %s by rule %s: nothing allows established traffic back in%s", o.Where, r.Action.Past(), r.Where, assumed),
			Fix:     "add `allow tcp from any to any established` (or keep-state on the outbound rule with a check-state) before it"})
	}
	if opts.Keep.IsValid() {
		src := opts.Keep.Addr()
		local := netip.MustParseAddr("192.0.2.10")
		if src.Is6() {
			local = netip.MustParseAddr("2001:db8::10")
		}
		for _, setup := range []bool{false, true} {
			p := Packet{Proto: ProtoTCP, Src: src, Dst: local, SrcPort: 50000, DstPort: opts.Keep.Port(), Dir: In, Iface: "en0", Established: !setup, Setup: setup, ICMPType: -1, ICMPCode: -1}
			if v := rs.evalReference(&p, nil, 0); v.Action != Allow {
				what := "your open session"
				if setup {
					what = "a new connection"
				}
				// A lockout resting on an unsure rule is still reported, as one that may happen:
				// missing it costs more than a warning that proves needless.
				cut := "would cut you off"
				if v.Unsure != "" {
					cut = "may cut you off (conditional: " + v.Unsure + ")"
				}
				out = append(out, Finding{Kind: "lockout", Rules: []string{v.Where},
					Message: fmt.Sprintf("%s from %s to port %d is %s by rule %s (%s): loading this rule set %s", what, src, opts.Keep.Port(), v.Action.Past(), v.Where, v.Text, cut),
					Fix:     fmt.Sprintf("add `allow tcp from %s to me %d in` before rule %s", src, opts.Keep.Port(), v.Where)})
				break
			}
		}
	}
	return out, nil
}

// spoofSources are source ranges no inbound packet on a real interface may carry (RFC 1122
// loopback, RFC 5771 multicast and the reserved 240/4), the targets of anti-spoofing denies.
var spoofSources = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("224.0.0.0/3")}

// spoofOrder finds anti-spoofing denies that come after an inbound allow which already lets the
// spoofed traffic in (the article: "the anti-spoofing denies must come before the allows").
func (rs *IPFWRuleset) spoofOrder() []Finding {
	var out []Finding
	for j := range rs.Rules {
		d := &rs.Rules[j]
		if d.Kind != ipfwDecide || d.Action == Allow || d.Dir == Out || d.Src.Not || len(d.Ifaces) > 0 || d.unsure != nil {
			continue
		}
		var target netip.Prefix
		for _, p := range d.Src.Prefixes {
			for _, sp := range spoofSources {
				if sp.Bits() <= p.Bits() && sp.Contains(p.Addr()) {
					target = p
				}
			}
		}
		if !target.IsValid() {
			continue
		}
		probe := IPFWRule{Kind: ipfwDecide, Src: ipfwAddr{Prefixes: []netip.Prefix{target}}, Dst: d.Dst, Protos: d.Protos, Dir: In}
		for i := 0; i < j; i++ {
			a := &rs.Rules[i]
			if a.Kind != ipfwDecide || a.Action != Allow || a.Dir == Out || loopbackOnly(a) || a.unsure != nil {
				continue
			}
			// The allow lets some of the spoofed traffic in: its sources include the spoofed range,
			// and its protocols and destinations overlap the deny's.
			protoOverlap := a.Protos == nil || probe.Protos == nil || slices.ContainsFunc(a.Protos, func(p uint8) bool { return slices.Contains(probe.Protos, p) })
			dstOverlap := a.Dst.covers(&probe.Dst) || probe.Dst.covers(&a.Dst)
			if a.Src.covers(&probe.Src) && protoOverlap && dstOverlap {
				out = append(out, Finding{Kind: "spoofing-allowed-first", Rules: []string{d.Where(), a.Where()},
					Message: fmt.Sprintf("anti-spoofing rule %s (%s) comes after rule %s (%s), which already allows inbound packets from %s", d.Where(), d.Text, a.Where(), a.Text, target),
					Fix:     fmt.Sprintf("move rule %s above rule %s", d.Where(), a.Where())})
				break
			}
		}
	}
	return out
}

// loopbackOnly reports whether a rule applies only on loopback interfaces.
func loopbackOnly(r *IPFWRule) bool {
	if len(r.Ifaces) == 0 {
		return false
	}
	for _, i := range r.Ifaces {
		if !strings.HasPrefix(i.Pattern, "lo") {
			return false
		}
	}
	return true
}

// noFinalDeny is the finding for a rule set that leaves packets to an allowing rule 65535. Only a
// default listed in the file or given by the caller is stated as a fact: the action of 65535 is
// not in the rules handed to ipfw (ipfw(8)); it is deny on FreeBSD unless the kernel is built with
// IPFIREWALL_DEFAULT_TO_ACCEPT (ipfirewall(4)), allow on Mac OS X, and the simulator assumes allow
// when told nothing.
func (rs *IPFWRuleset) noFinalDeny(opts LintOptions) Finding {
	f := Finding{Kind: "no-final-deny", Rules: []string{"65535"},
		Fix: "add a final rule such as `65000 deny log ip from any to any`"}
	switch {
	case rs.defaultListed != "":
		f.Message = fmt.Sprintf("no rule denies what the others do not allow, so the built-in rule 65535 (allow, as listed at %s) allows it: every port and protocol not listed is open", rs.defaultListed)
	case opts.DefaultGiven != "":
		f.Message = fmt.Sprintf("no rule denies what the others do not allow, so the built-in rule 65535 (allow, given with %s) allows it: every port and protocol not listed is open", opts.DefaultGiven)
	default:
		f.Message = "no rule denies what the others do not allow, so they are left to the built-in rule 65535, whose action the file does not say; " +
			"assumed allow (Mac OS X's default), under which every port and protocol not listed is open. " +
			"FreeBSD's default is deny (unless its kernel is built with IPFIREWALL_DEFAULT_TO_ACCEPT): pass --default deny for a FreeBSD rule set, or --default allow to confirm"
		f.Fix = "add a final rule such as `65000 deny log ip from any to any` (it makes the default irrelevant)"
	}
	return f
}
