package rules

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Address translation, as the two dialects of pf.conf(5) have it, modelled before filtering.
//
// macOS, FreeBSD and OpenBSD before 4.7 ("nat", "rdr", "binat" rules, "no" in front to exempt,
// "nat-anchor", "rdr-anchor" and "binat-anchor" to call the translation rules of an anchor):
// pf.conf(5) of FreeBSD ("NAT ruleset"), which macOS shares, says translation occurs before
// filtering, so the filter rules see packets as they look after any addresses and ports have been
// translated, and must filter on the translated address and port; a packet that matches a
// translation rule is passed without the filter rules only when the rule says "pass"; "no" leaves
// the packet untranslated; binat rules are evaluated first, then the rdr rules for an inbound
// packet or the nat rules for an outbound one, each in the order of the rule set, and the first
// matching rule decides (not the last, as for filter rules). So the simulator translates first,
// then evaluates the filter rules on the translated packet. nat applies to outbound packets and
// rewrites the source, rdr to inbound ones and rewrites the destination, binat both ways (source
// out, destination in) and never changes ports.
//
// OpenBSD 4.7 and later (options "nat-to", "rdr-to", "binat-to", "af-to" on pass and match
// rules): pf.conf(5) says a translation on a match rule takes effect at once, so the rules after
// it see the translated packet and must filter on it; a match rule never decides the verdict. A
// translation option on a pass rule applies when that rule decides, after filtering, so no rule
// sees its result. binat-to on an outbound rule is also the inbound rdr-to back (pf.conf(5):
// "expands to an outbound nat-to rule and an inbound rdr-to rule"); af-to rewrites both
// addresses into the other family (the destination embedded in, or taken from, the low bits of
// the prefix given, as RFC 6052 does for /96).
//
// State: a connection's state entry holds its addresses before and after translation, so a reply
// or a later packet matches it in either form: the simulator evaluates the packet that opened the
// flow (the reply reversed, or the SYN) with translation and filtering as above, and passes the
// packet on state when that opener is passed by a rule that keeps state (or by a translation rule
// with pass, which creates state too).
//
// What is not known from the file: the address of an interface named as the target ("(en0)",
// unless --iface gives it), which of several pool addresses pf picks (the simulator takes the
// first; the rule's unsure list says so), the source port nat picks (50001-65535 unless
// static-port or a port is given; the simulator keeps the packet's). A translation whose address
// is unknown leaves the address as it was, and a note makes every verdict conditional on it.

type pfXKind uint8

// The translation rule lists of the macOS/FreeBSD dialect, in the order pf evaluates them.
const (
	pfXBinat pfXKind = iota + 1
	pfXRdr
	pfXNat
)

// What a translation does to a packet.
const (
	pfXOpSrc = iota + 1 // rewrite the source (nat, binat out, nat-to, binat-to)
	pfXOpDst            // rewrite the destination (rdr, binat in, rdr-to)
	pfXOpAF             // rewrite both into the other family (af-to)
)

// Dialect names, as Dialect returns them.
const (
	PFDialectMacOS   = "macOS/FreeBSD (nat/rdr/binat rules)"
	PFDialectOpenBSD = "OpenBSD (match/nat-to/rdr-to)"
)

// pfXlate is what a translation rule or option does to a packet it applies to.
type pfXlate struct {
	kind  pfXKind // the list of the old dialect the rule is in; 0 for an OpenBSD option
	op    int
	name  string // "nat", "rdr", "binat", "nat-to", "rdr-to", "binat-to", "af-to", for explanations
	no    bool   // "no nat": the packet stays untranslated
	pass  bool   // "nat pass": the translated packet passes without the filter rules
	addr4 netip.Addr
	addr6 netip.Addr
	bits  int // keep the address's host bits below a prefix of this length (binat, bitmask); -1: no
	// ports: the new port is portLo, or, with a range, portLo + (port - matchLo) modulo its size,
	// as pf maps redirected port ranges.
	hasPort         bool
	portLo, portHi  uint16
	matchLo         uint16
	af              uint8 // af-to: the family translated into
	afSrc           netip.Addr
	afDst           netip.Prefix
	unknown         string // why the target address is not known ("" when it is)
	noteKeepSrcPort bool   // nat picks a source port; the simulator keeps the packet's
}

// pfXTarget is one address of a translation target as written.
type pfXTarget struct {
	text  string
	pre   netip.Prefix
	iface string
	table string
}

// Dialect says which translation dialect the rule set uses: PFDialectMacOS, PFDialectOpenBSD, or
// "" when it translates nothing.
func (rs *PFRuleset) Dialect() string { return rs.dialect }

// setDialect records the dialect a statement belongs to, and refuses a file mixing both: pfctl
// of either family reads only its own.
func (p *pfParser) setDialect(d string, t pfTok) error {
	if d == PFDialectOpenBSD && p.rs.xanchorWhere != "" {
		return p.errf(t, "%q: this rule set calls translation anchors (%s), which are of the %s dialect; the two dialects do not mix (pfctl refuses the other one): write every translation in one of them", t.s, p.rs.xanchorWhere, PFDialectMacOS)
	}
	if p.rs.dialect == "" {
		p.rs.dialect, p.rs.dialectWhere = d, p.where(t)
		return nil
	}
	if p.rs.dialect == d {
		return nil
	}
	return p.errf(t, "%q: this rule set already translates in the %s dialect (%s); the two dialects do not mix (pfctl refuses the other one): write every translation in one of them", t.s, p.rs.dialect, p.rs.dialectWhere)
}

// peekAt is the token k places ahead.
func (p *pfParser) peekAt(k int) pfTok {
	p.fill(k + 1)
	return p.ahead[p.ai+k]
}

// acceptArrow consumes "->", which the lexer reads as the word "-" and ">".
func (p *pfParser) acceptArrow() bool {
	if t := p.peek(); t.kind == pfWord && t.s == "-" && p.peekAt(1).is(">") {
		p.next()
		p.next()
		return true
	}
	return false
}

// translation parses a rule of the macOS/FreeBSD dialect:
//
//	[no] nat [pass [log]] [on IF] [af] [proto …] [from … to …] [tag T] [tagged T] [-> POOL [port N[:M]] [pooltype] [static-port] [sticky-address]]
//	[no] rdr [pass [log]] [on IF] [af] [proto …] [from … to …] [tag T] [tagged T] [-> POOL [port N[:M|:*]] [pooltype]]
//	[no] binat [pass [log]] [on IF] [af] [proto …] from ADDR to … [tag T] [tagged T] [-> ADDR]
func (p *pfParser) translation(first pfTok) error {
	kw := first
	no := first.s == "no"
	if no {
		kw = p.next()
		if !kw.is("nat") && !kw.is("rdr") && !kw.is("binat") {
			return p.errf(kw, "no %s: want no nat, no rdr or no binat", kw)
		}
	}
	if err := p.setDialect(PFDialectMacOS, kw); err != nil {
		return err
	}
	x := &pfXlate{name: kw.s, no: no, bits: -1}
	switch kw.s {
	case "nat":
		x.kind, x.op = pfXNat, pfXOpSrc
	case "rdr":
		x.kind, x.op = pfXRdr, pfXOpDst
	default:
		x.kind, x.op = pfXBinat, pfXOpSrc
	}
	if !no && p.accept("pass") {
		x.pass = true
		if p.accept("log") && p.peek().is("(") {
			if err := p.skipParens(); err != nil {
				return err
			}
		}
	}
	f := &pfFilter{where: p.where(first), state: pfNoState, xl: x}
	if err := p.cond(&f.cond); err != nil {
		return err
	}
	switch x.kind {
	case pfXNat:
		f.cond.dir = Out // pf applies nat rules to outbound packets only
	case pfXRdr:
		f.cond.dir = In
	}
	if err := p.tags(f); err != nil {
		return err
	}
	var targets []pfXTarget
	if !no {
		t := p.peek()
		if !p.acceptArrow() {
			return p.errf(t, "%s: expected -> and the address to translate to, found %s", kw.s, t)
		}
		var err error
		if targets, err = p.xtargets(x); err != nil {
			return err
		}
		if err := p.xoptions(x, f); err != nil {
			return err
		}
	} else if t := p.peek(); t.kind == pfWord && t.s == "-" {
		return p.errf(t, "no %s takes no -> target: it leaves matching packets untranslated", kw.s)
	}
	if err := p.tags(f); err != nil {
		return err
	}
	f.text = p.text(first.start)
	// pfctl takes ports on a translation rule without "proto tcp|udp" (pfSense writes "nat on
	// $WAN from … to any port 500 -> …"); pf then matches them on TCP and UDP packets only.
	cc := f.cond
	cc.src.portsSeen, cc.dst.portsSeen = false, false
	if err := pfCheckCond(&cc); err != nil {
		return p.errf(first, "%v", err)
	}
	f.cond.src.addrs, f.cond.dst.addrs = cc.src.addrs, cc.dst.addrs
	if x.kind != pfXBinat {
		p.resolvePool(x, targets, f)
		p.anchor.xstmts = append(p.anchor.xstmts, pfStmt{f: f})
		return p.endStatement()
	}
	in, err := p.binatHalves(f, targets, first)
	if err != nil {
		return err
	}
	p.anchor.xstmts = append(p.anchor.xstmts, pfStmt{f: f}, pfStmt{f: in})
	return p.endStatement()
}

// binatHalves completes a binat rule (or a binat-to option) as its outbound half, f, and returns
// its inbound half: packets from the rule's destination to the translated address get the
// original address back.
func (p *pfParser) binatHalves(f *pfFilter, targets []pfXTarget, first pfTok) (*pfFilter, error) {
	x := f.xl
	src := f.cond.src.addrs
	if len(src) != 1 || f.cond.src.nAddrs != 1 || src[0].kind != pfHostSet || src[0].neg || len(src[0].set) != 1 {
		return nil, p.errf(first, "%s needs one address or prefix after from (the inside address it maps)", x.name)
	}
	inner, err := pfParsePrefix(src[0].text)
	if err != nil {
		return nil, p.errf(first, "%s: from %s: want an address or a prefix", x.name, src[0].text)
	}
	f.cond.dir = Out
	x.bits = inner.Bits()
	x.hasPort = false
	if !x.no {
		if len(targets) != 1 || !targets[0].pre.IsValid() && targets[0].iface == "" {
			return nil, p.errf(first, "%s needs one address or prefix to translate to", x.name)
		}
		if t := targets[0].pre; t.IsValid() && t.Bits() != inner.Bits() {
			return nil, p.errf(first, "%s: %s and %s differ in size: pf maps one to the other bit for bit", x.name, src[0].text, targets[0].text)
		}
		p.resolvePool(x, targets, f)
		x.bits = inner.Bits()
	}
	y := *x
	y.op = pfXOpDst
	y.addr4, y.addr6 = netip.Addr{}, netip.Addr{}
	if inner.Addr().Is4() {
		y.addr4 = inner.Addr()
	} else {
		y.addr6 = inner.Addr()
	}
	y.unknown = ""
	in := &pfFilter{where: f.where, state: pfNoState, xl: &y, pass: f.pass, match: f.match,
		text: f.text + " (its inbound half)", unsure: f.unsure, quick: f.quick}
	in.cond = f.cond
	in.cond.dir = In
	in.cond.src = f.cond.dst
	in.cond.dst = pfHost{}
	if !x.no && len(targets) == 1 {
		t := targets[0]
		in.cond.dst = pfHost{addrText: t.text, nAddrs: 1}
		if t.pre.IsValid() {
			af := uint8(4)
			if t.pre.Addr().Is6() {
				af = 6
			}
			in.cond.dst.addrs = []pfAddrElem{{kind: pfHostSet, af: af, set: pfPrefixSet(t.pre), text: t.text}}
		} else {
			in.cond.dst.addrs = []pfAddrElem{{kind: pfHostSelf, iface: true, text: t.text}}
		}
	}
	if x.no {
		in.cond.dst = pfHost{} // "no binat": any packet back to the inside address's peer
	}
	in.cond.src.ports, in.cond.src.portsSeen, in.cond.src.portText = f.cond.dst.ports, f.cond.dst.portsSeen, f.cond.dst.portText
	if f.cond.src.ports != nil {
		in.cond.dst.ports, in.cond.dst.portsSeen, in.cond.dst.portText = f.cond.src.ports, true, f.cond.src.portText
	}
	return in, nil
}

// tags accepts "tag T" and "tagged T" on a translation rule: tags are not simulated, so the rule
// says so in its unsure list.
func (p *pfParser) tags(f *pfFilter) error {
	for {
		t := p.peek()
		if !t.is("tag") && !t.is("tagged") {
			return nil
		}
		p.next()
		v := p.next()
		if !v.value() {
			return p.errf(v, "%s needs a name, found %s", t.s, v)
		}
		f.unsure = append(f.unsure, fmt.Sprintf("%s %s: tags are not simulated", t.s, v.s))
	}
}

// xtargets parses the address a translation goes to: an address, a prefix, an interface ("en0",
// "(en0)"), a table, or a list of them.
func (p *pfParser) xtargets(x *pfXlate) ([]pfXTarget, error) {
	var out []pfXTarget
	one := func() error {
		mark := len(p.toks)
		t := p.next()
		var e pfXTarget
		switch {
		case t.is("("):
			n := p.next()
			name, _, _ := strings.Cut(n.s, ":")
			if !n.value() || !pfIfaceName.MatchString(n.s) && !pfIfaceGroupName.MatchString(name) {
				return p.errf(n, "%s (%s): want an interface name, such as (en0)", x.name, n.s)
			}
			if err := p.expect(")"); err != nil {
				return err
			}
			e.iface = name
		case t.is("<"):
			n := p.next()
			if n.kind != pfWord || !pfTableName.MatchString(n.s) {
				return p.errf(n, "bad table name %s", n)
			}
			if err := p.expect(">"); err != nil {
				return err
			}
			e.table = n.s
		case t.value():
			if pre, err := pfParsePrefix(t.s); err == nil {
				e.pre = pre
				break
			}
			name, mod, _ := strings.Cut(t.s, ":")
			if t.kind == pfWord && pfIfaceName.MatchString(name) && (mod == "" || mod == "0") {
				e.iface = name
				break
			}
			return p.errf(t, "%s %q: want an address, a prefix, an interface or <table> (host names are not resolved)", x.name, t.s)
		default:
			return p.errf(t, "%s: expected an address to translate to, found %s", x.name, t)
		}
		e.text = p.joined(mark)
		out = append(out, e)
		return nil
	}
	if err := p.listOrOne(one); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, p.errf(p.peek(), "%s: empty address list", x.name)
	}
	return out, nil
}

// xoptions parses what may follow a translation target: a port, a pool type, static-port,
// sticky-address.
func (p *pfParser) xoptions(x *pfXlate, f *pfFilter) error {
	bitmask := false
	for {
		t := p.peek()
		switch {
		case t.is("port"):
			p.next()
			v := p.next()
			lo, hi, star := v.s, "", false
			if a, b, ok := strings.Cut(v.s, ":"); ok && v.kind == pfWord {
				lo, hi, star = a, b, b == "*"
			}
			n, err := p.portNum(pfTok{kind: v.kind, s: lo, line: v.line})
			if err != nil {
				return err
			}
			x.hasPort, x.portLo, x.portHi = true, uint16(n), uint16(n)
			switch {
			case star:
				x.portHi = 0 // filled from the rule's destination ports in resolvePool
			case hi != "":
				m, err := p.portNum(pfTok{kind: v.kind, s: hi, line: v.line})
				if err != nil {
					return err
				}
				if m < n {
					return p.errf(v, "port range %s is empty", v.s)
				}
				x.portHi = uint16(m)
			}
			if star {
				x.portHi, x.matchLo = 1, 1 // marks ":*"; resolved against the matched ports below
			}
		case t.is("static-port"):
			p.next()
			x.noteKeepSrcPort = false
			x.hasPort = false
			x.portLo = 0
			x.matchLo = 2 // marks static-port
		case t.is("sticky-address"), t.is("random"), t.is("round-robin"), t.is("least-states"):
			p.next()
		case t.is("bitmask"):
			p.next()
			bitmask = true
		case t.is("source-hash"):
			p.next()
			if v := p.peek(); v.value() && (v.kind == pfString || strings.HasPrefix(v.s, "0x")) {
				p.next()
			}
		case t.is("map-e-portset"):
			return p.errf(t, "%q is not supported by the simulator", t.s)
		default:
			if bitmask {
				x.bits = 0 // resolved from the target prefix in resolvePool
			}
			return nil
		}
	}
}

// resolvePool fixes the addresses a translation goes to, per family: the target's, or its first
// pool address (with a reason in the rule's unsure list when pf could pick another), or none
// with a note when the file does not say (an interface whose addresses were not given, a table).
func (p *pfParser) resolvePool(x *pfXlate, ts []pfXTarget, f *pfFilter) {
	// The port markers xoptions left: ":*" (matchLo 1 with portHi 1) and static-port (matchLo 2).
	static := x.matchLo == 2
	star := x.matchLo == 1 && x.portHi == 1
	x.matchLo = 0
	if x.hasPort && x.op == pfXOpDst {
		lo, hi := uint16(0), uint16(65535)
		if ps := f.cond.dst.ports; len(ps) > 0 && len(ps[0]) > 0 {
			lo, hi = uint16(ps[0][0].lo.lo), uint16(ps[0][len(ps[0])-1].hi.lo)
		}
		x.matchLo = lo
		if star {
			x.portHi = x.portLo + (hi - lo)
		}
	} else if star {
		x.portHi = x.portLo
	}
	if x.op == pfXOpSrc && !x.hasPort && !static && x.kind != pfXBinat && x.name != "binat-to" {
		x.noteKeepSrcPort = true
	}
	if x.op == pfXOpSrc && x.hasPort && x.portHi > x.portLo {
		f.unsure = append(f.unsure, fmt.Sprintf("%s port %d:%d: pf picks the source port from the range; the simulator keeps one inside it, else takes the first", x.name, x.portLo, x.portHi))
	}
	if x.bits == 0 && len(ts) == 1 && ts[0].pre.IsValid() {
		x.bits = ts[0].pre.Bits()
	}
	pool := false
	for _, t := range ts {
		switch {
		case t.pre.IsValid():
			a := t.pre.Masked().Addr()
			if t.pre.Bits() < a.BitLen() && x.bits < 0 {
				pool = true
			}
			x.setAddr(a)
		case t.iface != "":
			members, _ := p.rs.opts.members(t.iface)
			found := false
			for _, m := range members {
				if as, ok := p.rs.opts.addrs(m); ok {
					for _, a := range as {
						x.setAddr(a.Addr())
						found = true
					}
				}
			}
			if !found {
				x.unknown = fmt.Sprintf("the address of %s is not known, so the translation to it is not simulated (give --iface %s=ADDR/LEN)", t.iface, t.iface)
			}
		case t.table != "":
			x.unknown = fmt.Sprintf("the address pf picks from the table <%s> is not simulated", t.table)
		}
	}
	if len(ts) > 1 {
		pool = true
	}
	if pool {
		f.unsure = append(f.unsure, fmt.Sprintf("%s %s: pf picks an address of the pool; the simulator takes the first", x.name, pfTargetsText(ts)))
	}
	if x.unknown != "" {
		p.rs.notes = append(p.rs.notes, fmt.Sprintf("%s: %s: %s", f.where, f.text, x.unknown))
	}
}

func pfTargetsText(ts []pfXTarget) string {
	if len(ts) == 1 {
		return ts[0].text
	}
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.text
	}
	return "{ " + strings.Join(s, ", ") + " }"
}

// setAddr keeps the first address of each family.
func (x *pfXlate) setAddr(a netip.Addr) {
	a = a.Unmap()
	if a.Is4() && !x.addr4.IsValid() {
		x.addr4 = a
	} else if a.Is6() && !x.addr6.IsValid() {
		x.addr6 = a
	}
}

// xlateOption parses an OpenBSD translation option of a pass or match rule: "nat-to POOL [port
// …] [pooltype] [static-port]", "rdr-to POOL [port N[:*]] [pooltype]", "binat-to ADDR",
// "af-to inet|inet6 from ADDR [to ADDR]".
func (p *pfParser) xlateOption(f *pfFilter) error {
	t := p.next()
	if err := p.setDialect(PFDialectOpenBSD, t); err != nil {
		return err
	}
	if f.xl != nil {
		return p.errf(t, "%s: the rule already translates with %s; the simulator takes one translation per rule", t.s, f.xl.name)
	}
	x := &pfXlate{name: t.s, bits: -1}
	f.xl = x
	switch t.s {
	case "nat-to":
		x.op = pfXOpSrc
	case "rdr-to":
		x.op = pfXOpDst
	case "binat-to":
		x.op = pfXOpSrc
	case "af-to":
		x.op = pfXOpAF
		switch {
		case p.accept("inet"):
			x.af = 4
		case p.accept("inet6"):
			x.af = 6
		default:
			return p.errf(p.peek(), "af-to needs inet or inet6, found %s", p.peek())
		}
		if err := p.expect("from"); err != nil {
			return err
		}
		v := p.next()
		a, err := netip.ParseAddr(v.s)
		if err != nil || a.Is4() != (x.af == 4) {
			return p.errf(v, "af-to %s from %s: want an address of the family translated into", map[uint8]string{4: "inet", 6: "inet6"}[x.af], v.s)
		}
		x.afSrc = a
		if x.af == 6 {
			x.afDst = netip.PrefixFrom(a, 96).Masked() // pf.conf(5): the new source's /96
		} else {
			x.afDst = netip.MustParsePrefix("0.0.0.0/0")
		}
		if p.accept("to") {
			v := p.next()
			pre, err := pfParsePrefix(v.s)
			if err != nil || pre.Addr().Is4() != (x.af == 4) {
				return p.errf(v, "af-to … to %s: want a prefix of the family translated into", v.s)
			}
			x.afDst = pre
		}
		return nil
	}
	ts, err := p.xtargets(x)
	if err != nil {
		return err
	}
	if err := p.xoptions(x, f); err != nil {
		return err
	}
	f.xtargets = ts
	return nil
}

// xlateDone checks the translation option of an OpenBSD rule once the whole rule is read, and
// returns the inbound half of a binat-to (nil otherwise).
func (p *pfParser) xlateDone(f *pfFilter, first pfTok) (*pfFilter, error) {
	x := f.xl
	if x == nil {
		return nil, nil
	}
	ts := f.xtargets
	f.xtargets = nil
	if !f.pass && !f.match {
		return nil, p.errf(first, "%s on a block rule: pf translates only packets it passes", x.name)
	}
	if x.op == pfXOpAF {
		if f.cond.af == 0 || f.cond.af == x.af {
			return nil, p.errf(first, "af-to needs the rule's own family (inet or inet6), the other one than it translates into")
		}
		return nil, nil
	}
	if x.name == "binat-to" {
		if f.cond.dir == In {
			return nil, p.errf(first, "binat-to belongs on an outbound rule (it adds the inbound half itself)")
		}
		return p.binatHalves(f, ts, first)
	}
	p.resolvePool(x, ts, f)
	return nil, nil
}

// xanchorRule parses "nat-anchor|rdr-anchor|binat-anchor NAME [in|out] [on …] [af] [proto …]
// [from … to …] [{ rules }]": a call of the anchor's translation rules of that kind.
func (p *pfParser) xanchorRule(first pfTok) error {
	kind := map[string]pfXKind{"nat-anchor": pfXNat, "rdr-anchor": pfXRdr, "binat-anchor": pfXBinat}[first.s]
	if p.rs.xanchorWhere == "" {
		p.rs.xanchorWhere = p.where(first)
	}
	if p.rs.dialect == PFDialectOpenBSD {
		return p.errf(first, "%q: this rule set already translates in the %s dialect (%s); the two dialects do not mix (pfctl refuses the other one)", first.s, p.rs.dialect, p.rs.dialectWhere)
	}
	c := &pfCall{where: p.where(first), file: p.file, line: first.line, xkind: kind}
	name := ""
	if t := p.peek(); t.value() && !(t.kind == pfWord && pfAnchorKeyword[t.s]) {
		name = p.next().s
	}
	switch {
	case p.accept("in"):
		c.cond.dir = In
	case p.accept("out"):
		c.cond.dir = Out
	}
	if err := p.cond(&c.cond); err != nil {
		return err
	}
	if t := p.peek(); t.kind == pfWord {
		return p.errf(t, "%q is not supported on %s rules", t.s, first.s)
	}
	c.text = p.text(first.start)
	block := p.peek().is("{")
	if name == "" {
		if !block {
			return p.errf(first, "%s needs a name", first.s)
		}
		p.rs.anon++
		name = fmt.Sprintf("_%d", p.rs.anon)
	}
	abs, wild, err := pfResolveAnchor(p.anchor.path, name)
	if err != nil {
		return p.errf(first, "%v", err)
	}
	if block && wild {
		return p.errf(first, "%s %q: an inline block needs a plain name", first.s, name)
	}
	c.path, c.wildcard = abs, wild
	if err := pfCheckCond(&c.cond); err != nil {
		return p.errf(first, "%v", err)
	}
	target := p.rs.anchorAt(abs)
	p.anchor.xstmts = append(p.anchor.xstmts, pfStmt{call: c})
	c.noteAt, c.ignAt = len(p.rs.notes), len(p.rs.ignored)
	p.rs.xcalls = append(p.rs.xcalls, c)
	if !block {
		return p.endStatement()
	}
	p.next() // {
	if target.defined == "" {
		target.defined = c.where
	}
	saved := p.anchor
	p.anchor = target
	p.blocks++
	err = p.statements(true)
	p.blocks--
	p.anchor = saved
	if err != nil {
		return err
	}
	return p.endStatement()
}

// compileX resolves the translation rules: their tables and anchor calls, the rule lists of the
// old dialect in evaluation order, and the translating match rules of the new one.
func (rs *PFRuleset) compileX() error {
	for _, a := range rs.anchors {
		for i := range a.xstmts {
			st := &a.xstmts[i]
			if st.call != nil {
				c := st.call
				if c.wildcard {
					c.targets = rs.children(c.path)
				} else {
					c.targets = []*pfAnchor{rs.anchors[c.path]}
				}
				continue
			}
			for _, h := range []*pfHost{&st.f.cond.src, &st.f.cond.dst} {
				for j := range h.addrs {
					e := &h.addrs[j]
					if e.kind != pfHostTable {
						continue
					}
					t := a.tables[e.table]
					if t == nil {
						t = rs.root.tables[e.table]
					}
					if t == nil {
						rs.undefined = append(rs.undefined, pfUndefinedTable{e.table, st.f.where, st.f.text})
						e.set, e.undef = nil, true
						continue
					}
					e.set, e.runtime = t.set, t.filledAtRunTime()
					if e.runtime {
						st.f.unsure = append(st.f.unsure, fmt.Sprintf("<%s>: the table is filled at run time", e.table))
					}
				}
			}
		}
	}
	// Calls of anchors whose rules are loaded at run time (no file gave them) stay notes, at the
	// place of the call among the others; later ones first, so earlier places stay valid. (The
	// note keeps its earlier wording, which README.md shows.)
	for i := len(rs.xcalls) - 1; i >= 0; i-- {
		c := rs.xcalls[i]
		runtime := len(c.targets) == 0
		for _, t := range c.targets {
			if t.defined == "" {
				runtime = true
			}
		}
		if runtime {
			rs.ignored = slices.Insert(rs.ignored, c.ignAt, fmt.Sprintf("%s: %s (ignored: its rules are loaded at run time)", c.where, c.text))
			rs.notes = slices.Insert(rs.notes, c.noteAt, fmt.Sprintf("%s: %s: not modelled (its rules are loaded at run time, so the translation they may do before filtering is not known)", c.where, c.text))
		}
	}
	memo := pfNegMemo{}
	for k := pfXBinat; k <= pfXNat; k++ {
		rs.xrules[k-1] = nil
		if err := rs.flattenX(rs.root, k, nil, 0, memo); err != nil {
			return err
		}
	}
	// A translation rule in an anchor no translation anchor call reaches is never evaluated by pf
	// (a filter "anchor" call runs only the filter rules): say so rather than drop it silently.
	reached := map[*pfFilter]bool{}
	for _, l := range rs.xrules {
		for _, r := range l {
			reached[r.f] = true
		}
	}
	paths := make([]string, 0, len(rs.anchors))
	for path := range rs.anchors {
		paths = append(paths, path)
	}
	slices.Sort(paths)
	for _, path := range paths {
		for _, st := range rs.anchors[path].xstmts {
			if f := st.f; f != nil && !reached[f] && !strings.HasSuffix(f.text, " (its inbound half)") {
				rs.notes = append(rs.notes, fmt.Sprintf("%s: %s: not evaluated: no %s-anchor rule calls the anchor %q it is in", f.where, f.text, pfXKindName(f.xl.kind), path))
			}
		}
	}
	for k, l := range rs.xrules {
		rs.xsum[k] = pfSummarize(l)
		rs.xlate = rs.xlate || len(l) > 0
		for _, r := range l {
			if r.f.xl.pass {
				rs.stateful = true // a translation rule with pass creates state (pf.conf(5))
			}
		}
	}
	defer func() {
		// Summarised per direction: the inbound rdr-to rules name ports, an outbound nat-to
		// often none.
		for k, d := range [2]Dir{In, Out} {
			var ms []pfRule
			for _, m := range rs.xmatch {
				if rs.rules[m].dirs&pfDirBit(d) != 0 {
					ms = append(ms, rs.rules[m])
				}
			}
			rs.xmsum[k] = pfSummarize(ms)
		}
		// xtop: every rule up to the last translating match rule is a match rule.
		rs.xtop = len(rs.xmatch) > 0
		if rs.xtop {
			for i := range rs.xmatch[len(rs.xmatch)-1] {
				rs.xtop = rs.xtop && rs.rules[i].f.match
			}
		}
	}()
	inRoot := map[*pfFilter]bool{}
	for _, st := range rs.root.stmts {
		if st.f != nil {
			inRoot[st.f] = true
		}
	}
	for i := range rs.rules {
		r := &rs.rules[i]
		rs.xlate = rs.xlate || r.f.xl != nil
		if r.f.match && r.f.xl != nil {
			rs.xmatch = append(rs.xmatch, int32(i))
			if !inRoot[r.f] || r.qEnd >= 0 {
				// The classifier folds an anchor's conditions into its rules and tests them on the
				// packet as it is when the rule is reached; pf tests them when it enters the anchor.
				// A translation inside an anchor can tell the two apart: walk the tree instead.
				rs.xslow = true
			}
		}
	}
	return nil
}

// flattenX appends to the list of kind k the translation rules of that kind in a, with the
// conditions of the anchor calls leading to them.
func (rs *PFRuleset) flattenX(a *pfAnchor, k pfXKind, ctx []*pfCond, depth int, memo pfNegMemo) error {
	for _, st := range a.xstmts {
		if f := st.f; f != nil {
			if f.xl.kind != k {
				continue
			}
			if len(rs.xrules[k-1]) >= pfMaxRules {
				return &PFSyntaxError{File: rs.name, Line: 0, Msg: fmt.Sprintf("the translation rules expand to more than %d rules", pfMaxRules)}
			}
			conds := append(append([]*pfCond(nil), ctx...), &f.cond)
			rs.xrules[k-1] = append(rs.xrules[k-1], pfFieldSets(f, conds, memo))
			continue
		}
		c := st.call
		if c.xkind != k {
			continue
		}
		if depth >= pfMaxAnchorDepth {
			return &PFSyntaxError{File: c.file, Line: c.line, Msg: fmt.Sprintf("anchor %q: anchors nested deeper than %d (does an anchor call itself?)", c.path, pfMaxAnchorDepth)}
		}
		inner := append(append([]*pfCond(nil), ctx...), &c.cond)
		for _, t := range c.targets {
			if err := rs.flattenX(t, k, inner, depth+1, memo); err != nil {
				return err
			}
		}
	}
	return nil
}

// apply returns p as the translation leaves it.
func (x *pfXlate) apply(p *Packet) Packet {
	q := *p
	if x.no {
		return q
	}
	ports := p.Proto == ProtoTCP || p.Proto == ProtoUDP
	switch x.op {
	case pfXOpSrc:
		q.Src = x.mapAddr(p.Src)
		if x.hasPort && ports && (p.SrcPort < x.portLo || p.SrcPort > x.portHi) {
			// nat picks a free source port in its range: one inside it may stay as it is.
			q.SrcPort = x.portLo
		}
	case pfXOpDst:
		q.Dst = x.mapAddr(p.Dst)
		if x.hasPort && ports {
			q.DstPort = x.port(p.DstPort)
		}
	case pfXOpAF:
		src, dst := p.Src.Unmap(), p.Dst.Unmap()
		if !src.IsValid() || !dst.IsValid() || (x.af == 4) == dst.Is4() {
			return q
		}
		q.Src = x.afSrc
		q.Dst = pfEmbed(x.afDst, dst)
		switch {
		case x.af == 6 && p.Proto == ProtoICMP:
			q.Proto = ProtoICMPv6
			switch p.ICMPType {
			case 8:
				q.ICMPType = 128
			case 0:
				q.ICMPType = 129
			}
		case x.af == 4 && p.Proto == ProtoICMPv6:
			q.Proto = ProtoICMP
			switch p.ICMPType {
			case 128:
				q.ICMPType = 8
			case 129:
				q.ICMPType = 0
			}
		}
	}
	return q
}

// port maps a port the way pf maps it into a redirection's port range.
func (x *pfXlate) port(old uint16) uint16 {
	if x.portHi <= x.portLo {
		return x.portLo
	}
	size := uint32(x.portHi) - uint32(x.portLo) + 1
	return uint16(uint32(x.portLo) + (uint32(old-x.matchLo))%size)
}

// mapAddr is the translated address of a: the target of a's family, with a's host bits below
// x.bits (binat, bitmask); a itself when the target of its family is not known.
func (x *pfXlate) mapAddr(a netip.Addr) netip.Addr {
	a = a.Unmap()
	t := x.addr4
	if a.Is6() {
		t = x.addr6
	}
	if !t.IsValid() || !a.IsValid() {
		return a
	}
	if x.bits < 0 {
		return t
	}
	return pfKeepHost(t, a, x.bits)
}

// pfKeepHost is net's first bits with host's bits below them (same family).
func pfKeepHost(net, host netip.Addr, bits int) netip.Addr {
	n, h := net.As16(), host.As16()
	off := 0
	if net.Is4() {
		off = 96
	}
	for i := range 16 {
		b := off + bits - i*8 // network bits left in this byte
		switch {
		case b >= 8:
		case b <= 0:
			n[i] = h[i]
		default:
			m := byte(0xff) >> b
			n[i] = n[i]&^m | h[i]&m
		}
	}
	out := netip.AddrFrom16(n)
	if net.Is4() {
		out = out.Unmap()
	}
	return out
}

// pfEmbed is af-to's new destination: the prefix's address with the old destination's low bits
// (an IPv4 address in the last 32 bits of an IPv6 one, or the last 32 bits of an IPv6 address as
// IPv4).
func pfEmbed(pre netip.Prefix, dst netip.Addr) netip.Addr {
	d := dst.As16()
	var low [4]byte
	copy(low[:], d[12:])
	if pre.Addr().Is4() {
		v4 := netip.AddrFrom4(low)
		return pfKeepHost(pre.Masked().Addr(), v4, pre.Bits())
	}
	n := pre.Masked().Addr().As16()
	copy(n[12:], low[:])
	return netip.AddrFrom16(n)
}

// pfOutcome is what pf does with a packet: the filter rule that decides it (-1: none), or the
// translation rule with pass that passes it, and the packet as translated.
type pfOutcome struct {
	rule  int
	xpass *pfFilter
	out   Packet
}

func (rs *PFRuleset) outKeeps(o pfOutcome) bool { return o.xpass != nil || rs.keepsState(o.rule) }

func (rs *PFRuleset) outVerdict(o pfOutcome, p *Packet) Verdict {
	if o.xpass != nil {
		return Verdict{Action: Allow, Rule: -1, Where: o.xpass.where, Text: o.xpass.text}
	}
	return rs.verdict(o.rule, p)
}

// evalX is Eval for a rule set that translates: the same state model, each opener evaluated with
// translation. It does not allocate.
func (rs *PFRuleset) evalX(p *Packet) Verdict {
	if p.Reply && rs.stateful && !p.Frag {
		q := pfReplyOpener(p)
		if o := rs.decideX(&q); rs.outKeeps(o) {
			return rs.outVerdict(o, p)
		}
		return rs.outVerdict(rs.decideX(p), p)
	}
	if rs.stateful && pfStateCandidate(p) {
		for k := range 2 {
			q := pfOpener(p, k)
			if o := rs.decideX(&q); rs.outKeeps(o) {
				return rs.outVerdict(o, p)
			}
		}
	}
	return rs.outVerdict(rs.decideX(p), p)
}

// needsX reports whether a translation may apply to p or to a packet that may have opened its
// state. When none does, the verdict is the one of the rules without translation (a translation
// on a deciding pass rule changes the packet, not the verdict), which Eval finds faster.
func (rs *PFRuleset) needsX(p *Packet) bool {
	if rs.xapplies(p) {
		return true
	}
	switch {
	case !rs.stateful || p.Frag:
		return false
	case p.Reply:
		q := pfReplyOpener(p)
		return rs.xapplies(&q)
	case pfStateCandidate(p):
		// Translation rules test no TCP flags, so the packet's own SYN is covered by p.
		q := pfReverse(p)
		q.Setup, q.Established, q.Flags = true, false, TCPSYN
		return rs.xapplies(&q)
	}
	return false
}

// xapplies reports whether a translation rule (macOS/FreeBSD) or a translating match rule
// (OpenBSD: the first one to apply must match the packet as it came) matches p.
func (rs *PFRuleset) xapplies(p *Packet) bool {
	if rs.dialect == PFDialectOpenBSD {
		if k := pfXDir(p.Dir); rs.xmsum[k].excludes(p) {
			return false // no translating match rule's direction, protocol or port fits
		}
		for _, m := range rs.xmatch {
			if rs.rules[m].matches(p) {
				return true
			}
		}
		return false
	}
	return rs.xlateC(p) != nil
}

// decideX translates and filters p with the compiled rules.
func (rs *PFRuleset) decideX(p *Packet) pfOutcome {
	if rs.dialect == PFDialectOpenBSD {
		var i int
		var q Packet
		if rs.xslow {
			c := *p // the walker keeps a pointer to its packet: let the copy, not p, escape
			i, q = rs.walkPacket(&c, nil)
		} else {
			i, q = rs.decideOpen(p)
		}
		if i >= 0 && rs.rules[i].f.xl != nil {
			q = rs.rules[i].f.xl.apply(&q)
		}
		return pfOutcome{rule: i, out: q}
	}
	q := *p
	if r := rs.xlateC(p); r != nil && !r.f.xl.no {
		q = r.f.xl.apply(p)
		if r.f.xl.pass {
			return pfOutcome{rule: -1, xpass: r.f, out: q}
		}
	}
	return pfOutcome{rule: rs.decideBlocks(&q), out: q}
}

// xlateC is the translation rule that applies to p, from the compiled lists: the first binat
// rule that matches, else the first rdr rule (inbound) or nat rule (outbound).
func (rs *PFRuleset) xlateC(p *Packet) *pfRule {
	if !rs.xsum[pfXBinat-1].excludes(p) {
		if r := pfFirstMatch(rs.xrules[pfXBinat-1], p); r != nil {
			return r
		}
	}
	k := pfXRdr
	switch p.Dir {
	case In:
	case Out:
		k = pfXNat
	default:
		return nil
	}
	if rs.xsum[k-1].excludes(p) {
		return nil
	}
	return pfFirstMatch(rs.xrules[k-1], p)
}

// pfXSum is what every rule of a translation list asks of a packet at least, for turning most
// packets away from the list with a test or two: one of the directions and protocols, and, when
// every rule names destination ports, one of those.
type pfXSum struct {
	dirs   uint8
	protos pfProtoSet
	ports  bool
	dport  pfIPSet
}

func pfSummarize(rules []pfRule) pfXSum {
	s := pfXSum{ports: len(rules) > 0}
	for i := range rules {
		r := &rules[i]
		s.dirs |= r.dirs
		for k := range s.protos {
			s.protos[k] |= r.protos[k]
		}
		s.ports = s.ports && r.ports
		s.dport = s.dport.union(r.dport)
	}
	return s
}

// excludes reports whether no rule of the list can match p.
func (s *pfXSum) excludes(p *Packet) bool {
	if s.dirs&pfDirBit(p.Dir) == 0 || !s.protos.has(p.Proto) {
		return true
	}
	// A rule with ports matches only TCP and UDP packets, and those only on its ports.
	return s.ports && (p.Proto != ProtoTCP && p.Proto != ProtoUDP || p.Frag || !s.dport.contains(pfU128{0, uint64(p.DstPort)}))
}

func pfFirstMatch(rules []pfRule, p *Packet) *pfRule {
	for i := range rules {
		if rules[i].matches(p) {
			return &rules[i]
		}
	}
	return nil
}

// matches tests p against the rule's field sets (the anchors' conditions folded in).
func (r *pfRule) matches(p *Packet) bool {
	// The cheap tests first; ports before addresses, as translation rules mostly name a port.
	if r.dirs&pfDirBit(p.Dir) == 0 || !r.protos.has(p.Proto) {
		return false
	}
	if r.ports && (p.Proto == ProtoTCP || p.Proto == ProtoUDP) && !p.Frag &&
		(!r.dport.contains(pfU128{0, uint64(p.DstPort)}) || !r.sport.contains(pfU128{0, uint64(p.SrcPort)})) {
		return false
	}
	if !pfComboMatch(r, pfDirBit(p.Dir), p.Proto, pfPacketFlags(p), p.Frag) {
		return false
	}
	if !r.src.has(p.Src.Unmap(), p.Dir == Out) || !r.dst.has(p.Dst.Unmap(), p.Dir == In) || !r.ifs.has(p.Iface) {
		return false
	}
	if f := r.f; len(f.icmp) > 0 {
		for _, e := range f.icmp {
			if p.ICMPType == e.typ && (e.code < 0 || e.code == p.ICMPCode) {
				return true
			}
		}
		return false
	}
	return true
}

func (a *pfAddrField) has(x netip.Addr, local bool) bool {
	if !x.IsValid() {
		return a.invalid
	}
	if local {
		return a.local.contains(pfKey(x))
	}
	return a.remote.contains(pfKey(x))
}

// decideOpen is the deciding rule of an OpenBSD rule set with translating match rules, and the
// packet as the rules after the last of them saw it: the rules between two translating match
// rules are scanned by the classifier with the packet as the earlier one left it.
func (rs *PFRuleset) decideOpen(p *Packet) (int, Packet) {
	cur := *p
	if rs.xtop {
		// Only match rules come before the last translating one, and they never match in the
		// classifier: translate in order, then one scan of the whole rule set decides.
		for _, m := range rs.xmatch {
			if r := &rs.rules[m]; r.matches(&cur) {
				cur = r.f.xl.apply(&cur)
			}
		}
		return rs.decideBlocks(&cur), cur
	}
	from, last := 0, -1
	for _, m := range rs.xmatch {
		r := &rs.rules[m]
		if !r.matches(&cur) {
			continue
		}
		if s := rs.firstStopBlocks(&cur, from, int(m)); s >= 0 {
			return rs.stopAtBlocks(&cur, s), cur
		}
		if l := rs.lastInBlocks(&cur, from, int(m)); l >= 0 {
			last = l
		}
		cur = r.f.xl.apply(&cur)
		from = int(m) + 1
	}
	n := len(rs.rules)
	if s := rs.firstStopBlocks(&cur, from, n); s >= 0 {
		return rs.stopAtBlocks(&cur, s), cur
	}
	if l := rs.lastInBlocks(&cur, from, n); l >= 0 {
		last = l
	}
	return last, cur
}

// lastInBlocks returns the last rule in [from, to) that matches p, or -1.
func (rs *PFRuleset) lastInBlocks(p *Packet, from, to int) int {
	for b := len(rs.blocks) - 1; b >= 0; b-- {
		c := &rs.blocks[b]
		lo, hi := max(from-c.base, 0), min(to-c.base, c.n)
		if lo >= hi {
			continue
		}
		var m pfMasks
		c.packetMasks(p, &m)
		if i := c.lastIn(&m, lo, hi); i >= 0 {
			return c.base + i
		}
	}
	return -1
}

// Reference interpreter and explanations.

// xlateRef walks the anchor tree for the translation rule that applies to p, the reference way,
// tracing every rule considered.
func (rs *PFRuleset) xlateRef(p *Packet, trace *[]Step) *pfFilter {
	kinds := []pfXKind{pfXBinat}
	switch p.Dir {
	case In:
		kinds = append(kinds, pfXRdr)
	case Out:
		kinds = append(kinds, pfXNat)
	}
	for _, k := range kinds {
		if f := rs.xwalk(rs.root, k, p, trace); f != nil {
			return f
		}
	}
	return nil
}

func (rs *PFRuleset) xwalk(a *pfAnchor, k pfXKind, p *Packet, trace *[]Step) *pfFilter {
	explain := trace != nil
	for _, st := range a.xstmts {
		if f := st.f; f != nil {
			if f.xl.kind != k {
				continue
			}
			ok, why := f.check(p, explain)
			if explain && !ok {
				*trace = append(*trace, Step{f.where, f.text, false, why})
			}
			if ok {
				return f
			}
			continue
		}
		c := st.call
		if c.xkind != k {
			continue
		}
		ok, why := c.cond.check(p, explain)
		if !ok {
			if explain {
				*trace = append(*trace, Step{c.where, c.text, false, why})
			}
			continue
		}
		if explain {
			*trace = append(*trace, Step{c.where, c.text, true, fmt.Sprintf("matched: evaluating the %s rules of %s", pfXKindName(k), pfAnchorsText(c))})
		}
		for _, t := range c.targets {
			if f := rs.xwalk(t, k, p, trace); f != nil {
				return f
			}
		}
	}
	return nil
}

func pfXKindName(k pfXKind) string {
	return [...]string{"", "binat", "rdr", "nat"}[k]
}

func pfAnchorsText(c *pfCall) string {
	if !c.wildcard {
		return strconv.Quote(c.path)
	}
	return "the anchors below " + strconv.Quote(c.path)
}

// outcomeRef translates and filters p the reference way.
func (rs *PFRuleset) outcomeRef(p *Packet, trace *[]Step) pfOutcome {
	step := func(f *pfFilter, why string) {
		if trace != nil {
			*trace = append(*trace, Step{f.where, f.text, true, why})
		}
	}
	if rs.dialect == PFDialectOpenBSD {
		i, q := rs.walkPacket(p, trace)
		if i >= 0 && rs.rules[i].f.xl != nil {
			f := rs.rules[i].f
			q2 := f.xl.apply(&q)
			step(f, "decides, and translates the packet it passes: "+pfDescribe(f.xl, &q, &q2))
			q = q2
		}
		return pfOutcome{rule: i, out: q}
	}
	q := *p
	if f := rs.xlateRef(p, trace); f != nil {
		switch {
		case f.xl.no:
			step(f, fmt.Sprintf("matched no %s: the packet stays untranslated (the first matching %s rule decides)", f.xl.name, f.xl.name))
		case f.xl.pass:
			q = f.xl.apply(p)
			step(f, pfDescribe(f.xl, p, &q)+"; with pass, pf passes the translated packet without evaluating the filter rules")
			return pfOutcome{rule: -1, xpass: f, out: q}
		default:
			q = f.xl.apply(p)
			step(f, pfDescribe(f.xl, p, &q)+"; the filter rules see the translated packet")
		}
	}
	return pfOutcome{rule: rs.walk(&q, trace), out: q}
}

// pfDescribe says what a translation did: "rdr: 192.0.2.10:80 -> 10.0.0.5:8080".
func pfDescribe(x *pfXlate, p, q *Packet) string {
	ports := p.Proto == ProtoTCP || p.Proto == ProtoUDP
	end := func(a netip.Addr, port uint16) string {
		if !ports {
			return pfAddrString(a)
		}
		return netip.AddrPortFrom(a.Unmap(), port).String()
	}
	var s string
	switch x.op {
	case pfXOpSrc:
		s = fmt.Sprintf("%s: source %s -> %s", x.name, end(p.Src, p.SrcPort), end(q.Src, q.SrcPort))
		if x.noteKeepSrcPort && ports {
			s += " (pf picks the source port from 50001-65535; the simulator keeps it)"
		}
	case pfXOpDst:
		s = fmt.Sprintf("%s: %s -> %s", x.name, end(p.Dst, p.DstPort), end(q.Dst, q.DstPort))
	default:
		s = fmt.Sprintf("%s: %s -> %s becomes %s -> %s", x.name, end(p.Src, p.SrcPort), end(p.Dst, p.DstPort), end(q.Src, q.SrcPort), end(q.Dst, q.DstPort))
	}
	if x.unknown != "" {
		s += " (" + x.unknown + ")"
	}
	return s
}

// interpretX is interpret for a rule set that translates.
func (rs *PFRuleset) interpretX(p *Packet, explain bool, steps []Step) (Verdict, []Step) {
	var trace *[]Step
	if explain {
		trace = &steps
	}
	onState := func(o pfOutcome, opener *Packet, what string) (Verdict, []Step) {
		if explain {
			where, text := pfDefaultWhere, pfDefaultText
			if o.xpass != nil {
				where, text = o.xpass.where, o.xpass.text
			} else if o.rule >= 0 {
				where, text = rs.rules[o.rule].f.where, rs.rules[o.rule].f.text
			}
			as := ""
			if o.out != *opener {
				as = fmt.Sprintf(", translated to %s", &o.out)
			}
			steps = append(steps, Step{where, text, true, fmt.Sprintf("state: %s (%s%s) is passed by this rule, which keeps state; the state holds the addresses before and after translation, so pf passes this packet on it without evaluating rules", what, opener, as)})
		}
		return rs.outVerdict(o, p), steps
	}
	if p.Reply && rs.stateful && !p.Frag {
		opener := pfReplyOpener(p)
		if o := rs.outcomeRef(&opener, nil); rs.outKeeps(o) {
			return onState(o, &opener, "the packet is a reply; the flow's first packet")
		}
		if explain {
			steps = append(steps, Step{"state", "", false, fmt.Sprintf("no state: no rule that keeps state passes the flow's first packet (%s), translation included, so the rules decide", &opener)})
		}
	} else if rs.stateful && pfStateCandidate(p) {
		for k := range 2 {
			opener := pfOpener(p, k)
			if o := rs.outcomeRef(&opener, nil); rs.outKeeps(o) {
				return onState(o, &opener, "the connection's opening packet")
			}
		}
		if explain {
			steps = append(steps, Step{"state", "", false, "no state: no rule that keeps state passes the SYN that would have opened this connection (in either direction, translation included), so the rules decide"})
		}
	}
	o := rs.outcomeRef(p, trace)
	if explain && o.rule < 0 && o.xpass == nil {
		steps = append(steps, Step{pfDefaultWhere, pfDefaultText, true, "no rule matched: pf passes the packet"})
	}
	return rs.outVerdict(o, p), steps
}

// Translate returns p as pf passes it on after translation (nat, rdr, binat, or the nat-to,
// rdr-to, binat-to and af-to of the rules that apply), and whether any translation changed it. A
// packet on a state entry (a reply, an established packet) is translated by that state instead,
// which Translate does not show.
func (rs *PFRuleset) Translate(p *Packet) (Packet, bool) {
	if !rs.xlate {
		return *p, false
	}
	for i := range rs.skip {
		if rs.skip[i].iface == p.Iface {
			return *p, false
		}
	}
	o := rs.outcomeRef(p, nil)
	return o.out, o.out != *p
}

// matchRule applies a matching match rule: its translation takes effect at once, so the rules
// after it see the translated packet; it decides nothing.
func (w *pfWalker) matchRule(f *pfFilter) {
	if f.xl == nil {
		w.step(f.where, f.text, true, "matched: a match rule applies its options and decides nothing")
		return
	}
	q := f.xl.apply(w.p)
	if w.trace != nil {
		w.step(f.where, f.text, true, "matched: "+pfDescribe(f.xl, w.p, &q)+"; the rules after it see the translated packet")
	}
	w.cur = q
	w.p = &w.cur
}

// TranslatedBy lists where the rules that translate p are ("pf.conf:3"), in the order they
// apply, for the same packets as Translate.
func (rs *PFRuleset) TranslatedBy(p *Packet) []string {
	if _, ok := rs.Translate(p); !ok {
		return nil
	}
	type key struct{ where, text string }
	xl := map[key]bool{}
	for i := range rs.rules {
		if f := rs.rules[i].f; f.xl != nil {
			xl[key{f.where, f.text}] = true
		}
	}
	for _, l := range rs.xrules {
		for _, r := range l {
			if !r.f.xl.no {
				xl[key{r.f.where, r.f.text}] = true
			}
		}
	}
	var steps []Step
	rs.outcomeRef(p, &steps)
	var out []string
	for _, s := range steps {
		if s.Matched && xl[key{s.Where, s.Text}] && !slices.Contains(out, s.Where) {
			out = append(out, s.Where)
		}
	}
	return out
}

// pfXDir indexes the per-direction summaries: 0 inbound, 1 outbound.
func pfXDir(d Dir) int {
	if d == Out {
		return 1
	}
	return 0
}
