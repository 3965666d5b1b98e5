package rules

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// pf addresses that are not literal: interface names with their modifiers, self, host names,
// no-route and urpf-failed, as pfctl reads them (pfctl_parser.c: host, host_if, ifa_lookup), and
// port names (parse.y: getservice). How the simulator models each:
//
//   - An interface (or interface group) whose addresses PFOptions gives stands for them: "en0"
//     and "(en0)" for every address of it, ":network" for their networks, ":broadcast" for the
//     broadcast addresses of its IPv4 networks, ":0" for the first IPv4 address and the first IPv6
//     address that is not link-local (pfctl leaves out aliases), as ifa_lookup computes them.
//   - When they are not given, "en0", "(en0)" and "en0:0" stand for the host's own side of the
//     packet, like self (see the model at the top of pf_eval.go); ":network", ":broadcast" and
//     ":peer" match no address, and the rule is unsure (its verdict conditional) and noted. So is
//     ":peer" always: PFOptions carries no peer addresses.
//   - Host names are not resolved (that would make a verdict depend on the resolver at the time it
//     is asked): the name matches no address, and the rule is unsure and noted. So with no-route
//     (whether an address has a route) and urpf-failed (the reverse-path check), which need the
//     routing table, and route labels.

// pfIfMod is the set of modifiers after an interface name: en0:network:0.
type pfIfMod uint8

const (
	pfIfNetwork pfIfMod = 1 << iota
	pfIfBroadcast
	pfIfPeer
	pfIfNoAlias // ":0"

	pfIfModeMask = pfIfNetwork | pfIfBroadcast | pfIfPeer
)

// pfIfBase matches the name part of an interface address (an interface such as en0, a FreeBSD
// VLAN such as em0.100, or an interface group such as egress), before any modifiers.
var pfIfBase = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[0-9]+)?$`)

// pfHostNameRE matches a DNS host name as pfctl would hand it to the resolver.
var pfHostNameRE = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$`)

// pfStdGroups are interface groups every OpenBSD host has, which a rule set may use as addresses
// ("from egress:network") without the reader knowing their members.
var pfStdGroups = map[string]bool{"egress": true, "lo": true}

// pfSplitIfMods splits "en0:network:0" into the interface and its modifiers, as pfctl's host_if
// does (the modifiers are read from the right; network, broadcast and peer exclude each other).
// ok is false when s does not read as an interface address at all.
func pfSplitIfMods(s string) (name string, mods pfIfMod, ok bool, err error) {
	name = s
	for {
		i := strings.LastIndexByte(name, ':')
		if i < 0 {
			break
		}
		switch name[i+1:] {
		case "network":
			mods |= pfIfNetwork
		case "broadcast":
			mods |= pfIfBroadcast
		case "peer":
			mods |= pfIfPeer
		case "0":
			mods |= pfIfNoAlias
		default:
			if !pfIfBase.MatchString(name[:i]) {
				return s, 0, false, nil
			}
			return s, 0, true, fmt.Errorf("%q: unknown interface modifier %q (want :network, :broadcast, :peer or :0)", s, name[i+1:])
		}
		name = name[:i]
	}
	if !pfIfBase.MatchString(name) {
		return s, 0, false, nil
	}
	if m := mods & pfIfModeMask; m&(m-1) != 0 {
		return s, 0, true, fmt.Errorf("%q: :network, :broadcast and :peer exclude each other", s)
	}
	return name, mods, true, nil
}

// isIface reports whether name, written as an address without parentheses, names an interface
// or an interface group rather than a host: it ends in a unit number (en0), it is a group the
// options give or every OpenBSD host has (egress), or it carries a modifier.
func (o *PFOptions) isIface(name string, mods pfIfMod) bool {
	if mods != 0 || name == "self" || pfStdGroups[name] {
		return true
	}
	if _, ok := o.Groups[name]; ok {
		return true
	}
	if _, ok := o.Ifaces[name]; ok {
		return true
	}
	_, known := o.members(name)
	return known
}

// pfP2PIf reports whether an interface is point to point (it has a peer and no broadcast
// address): tunnels by their driver's name.
func pfP2PIf(name string) bool {
	for _, d := range []string{"utun", "tun", "gif", "stf", "ppp", "pppoe", "wg", "ipsec", "gre", "enc"} {
		if unit, ok := strings.CutPrefix(name, d); ok && unit != "" && strings.Trim(unit, "0123456789") == "" {
			return true
		}
	}
	return false
}

// pfIfAddrs is what an interface address with modifiers mods stands for on the interface ifn
// whose addresses are addrs, as pfctl's ifa_lookup computes it: every address as a host (or its
// network with :network, leaving out link-local IPv6 networks, or its broadcast address with
// :broadcast, for IPv4 on interfaces that have one), and with :0 only the first IPv4 address and
// the first IPv6 address that is not link-local.
func pfIfAddrs(ifn string, addrs []netip.Prefix, mods pfIfMod) []netip.Prefix {
	var out []netip.Prefix
	got4, got6 := false, false
	for _, p := range addrs {
		a := p.Addr().WithZone("")
		switch {
		case mods&pfIfBroadcast != 0 && (!a.Is4() || pfLoopbackIf(ifn) || pfP2PIf(ifn) || p.Bits() > 30):
			continue
		case mods&pfIfNetwork != 0 && a.Is6() && a.IsLinkLocalUnicast():
			continue // pfctl skips the networks of scoped (link-local) addresses
		case mods&pfIfNoAlias != 0 && (a.Is4() && got4 || a.Is6() && (got6 || a.IsLinkLocalUnicast())):
			continue
		}
		if a.Is4() {
			got4 = true
		} else {
			got6 = true
		}
		switch {
		case mods&pfIfBroadcast != 0:
			n := pfPrefixSet(netip.PrefixFrom(a, p.Bits()))
			out = append(out, netip.PrefixFrom(pfAddrOf(n[0].hi), 32))
		case mods&pfIfNetwork != 0:
			out = append(out, netip.PrefixFrom(a, p.Bits()).Masked())
		default:
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return out
}

// pfIfResolved is an interface address resolved against the interface table: the prefixes it
// stands for, whether some of it stands for the host's own side (an interface whose addresses
// are not given, plain or :0), and why it is unsure ("" when it is not).
type pfIfResolved struct {
	prefixes []netip.Prefix
	self     bool
	unsure   string
	known    bool // every interface it names, and its addresses, are known
}

// resolveIface resolves the interface address written as text (name with mods).
func (o *PFOptions) resolveIface(text, name string, mods pfIfMod) pfIfResolved {
	var r pfIfResolved
	if mods&pfIfPeer != 0 {
		r.unsure = fmt.Sprintf("%s: peer addresses of point-to-point interfaces are not modelled, so it matches no address here", text)
		return r
	}
	if name == "self" {
		// self is every interface's addresses: more than the table of --iface says.
		if mods&(pfIfNetwork|pfIfBroadcast) != 0 {
			r.unsure = fmt.Sprintf("%s: the host's interfaces are not all known, so it matches no address here", text)
			return r
		}
		r.self = true
		return r
	}
	members, known := o.members(name)
	if !known {
		if mods&(pfIfNetwork|pfIfBroadcast) != 0 {
			r.unsure = fmt.Sprintf("%s: the members of the interface group %s are not known, so it matches no address here (give --group %s=IF,IF and --iface IF=ADDR/LEN)", text, name, name)
			return r
		}
		r.self = true // the group's members are the host's interfaces: its side of the packet
		return r
	}
	r.known = true
	var missing []string
	for _, m := range members {
		addrs, ok := o.addrs(m)
		if !ok {
			missing = append(missing, m)
			r.known = false
			continue
		}
		r.prefixes = append(r.prefixes, pfIfAddrs(m, addrs, mods)...)
	}
	if len(missing) > 0 {
		if mods&(pfIfNetwork|pfIfBroadcast) != 0 {
			var give []string
			for _, m := range missing {
				give = append(give, "--iface "+m+"=ADDR/LEN")
			}
			r.unsure = fmt.Sprintf("%s: the addresses of %s are not known, so it matches no address of %s here (give %s)", text, strings.Join(missing, ", "), strings.Join(missing, ", "), strings.Join(give, " "))
		} else {
			r.self = true
		}
	}
	return r
}

// pfFamilyOf is the family all prefixes share (4 or 6), or 0 when they mix or there are none.
func pfFamilyOf(ps []netip.Prefix) uint8 {
	var af uint8
	for _, p := range ps {
		f := uint8(6)
		if p.Addr().Is4() {
			f = 4
		}
		if af != 0 && af != f {
			return 0
		}
		af = f
	}
	return af
}

// ifaceElem is the address element of an interface address: word is "en0", "en0:network",
// "self:0" and the like, dynamic when written in parentheses.
func (p *pfParser) ifaceElem(t pfTok, word string, name string, mods pfIfMod, dynamic bool) (pfAddrElem, error) {
	text := word
	if dynamic {
		text = "(" + word + ")"
	}
	r := p.rs.opts.resolveIface(text, name, mods)
	if r.known && len(r.prefixes) == 0 && !dynamic {
		// pfctl resolves a static interface address when it loads the rules, and refuses it then.
		return pfAddrElem{}, p.errf(t, "%s: no IP address found for it on the interfaces given (pfctl refuses the rule)", text)
	}
	e := pfAddrElem{kind: pfHostSet, iface: true, self: r.self, unsure: r.unsure}
	if !r.self && r.unsure == "" && !dynamic {
		// pfctl expands a static interface address into its addresses, of known families; a
		// dynamic one is looked up in the kernel for the rule's family.
		e.af = pfFamilyOf(r.prefixes)
	}
	if len(r.prefixes) == 0 && r.self && r.unsure == "" {
		return pfAddrElem{kind: pfHostSelf, iface: true}, nil
	}
	var rs []pfRange
	for _, pre := range r.prefixes {
		rs = append(rs, pfPrefixSet(pre)...)
	}
	e.set = pfNormalize(rs)
	if r.known && len(r.prefixes) == 0 {
		e.resolved = text + " has no address on the interfaces given"
	}
	if len(r.prefixes) > 0 {
		var b strings.Builder
		for i, pre := range r.prefixes {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(pre.String())
		}
		what := "is"
		if r.self {
			what = "is the host's side and"
		}
		e.resolved = fmt.Sprintf("%s %s %s", text, what, b.String())
	}
	if e.unsure != "" {
		p.noteUnsure(t, e.unsure)
	}
	return e, nil
}

// noteUnsure records, in the rule set's notes, an address the simulator cannot decide.
func (p *pfParser) noteUnsure(t pfTok, why string) {
	p.rs.notes = append(p.rs.notes, fmt.Sprintf("%s: %s", p.where(t), why))
}

// wordElem is the element of an address word that is not a literal address or prefix: an
// interface address, a host name, or an error.
func (p *pfParser) wordElem(t pfTok) (pfAddrElem, error) {
	if t.kind == pfWord {
		if name, mods, ok, err := pfSplitIfMods(t.s); ok {
			if err != nil {
				return pfAddrElem{}, p.errf(t, "%v", err)
			}
			if p.rs.opts.isIface(name, mods) {
				return p.ifaceElem(t, t.s, name, mods, false)
			}
		}
	}
	host := t.s
	if h, bits, ok := strings.Cut(host, "/"); ok {
		if n, err := strconv.Atoi(bits); err == nil && n >= 0 && n <= 128 {
			host = h // pfctl applies a mask to each address a name resolves to
		}
	}
	if strings.ContainsFunc(host, func(r rune) bool { return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' }) && pfHostNameRE.MatchString(host) {
		why := fmt.Sprintf("%s: host name not resolved, so it matches no address here", t.s)
		if !strings.Contains(host, ".") {
			// pfctl looks a bare word up as an interface group of the host before the resolver.
			why = fmt.Sprintf("%s: not resolved (a host name, or an interface group not given with --group %s=IF,IF), so it matches no address here", t.s, host)
		}
		p.noteUnsure(t, why)
		return pfAddrElem{kind: pfHostSet, unsure: why}, nil
	}
	return pfAddrElem{}, p.errf(t, "%q: want an address, a prefix, <table>, an interface, self, any or a host name", t.s)
}

// pfRangeSet is the set of the address range "a - b": two addresses of one family, the first not
// above the second. An IPv6 range keeps only its IPv6 part (an IPv4-mapped range matches no
// packet, as for prefixes).
func pfRangeSet(a, b string) (pfIPSet, error) {
	pa, errA := pfParsePrefix(a)
	pb, errB := pfParsePrefix(b)
	switch {
	case errA != nil || errB != nil || !pa.IsSingleIP() || !pb.IsSingleIP():
		return nil, errors.New("want two addresses")
	case pa.Addr().Is4() != pb.Addr().Is4():
		return nil, errors.New("want two addresses of one family")
	case pb.Addr().Less(pa.Addr()):
		return nil, errors.New("the range runs backwards")
	}
	set := pfIPSet{{pfKey(pa.Addr()), pfKey(pb.Addr())}}
	if pa.Addr().Is6() {
		set = set.intersect(pfV6Set)
	}
	return set, nil
}

// routeElem is no-route, urpf-failed or "route LABEL": conditions on the routing table, which the
// simulator does not have.
func (p *pfParser) routeElem(t pfTok) (pfAddrElem, error) {
	var why string
	switch t.s {
	case "no-route":
		why = "no-route: whether the address has a route is not modelled, so it matches no address here"
	case "urpf-failed":
		why = "urpf-failed: the unicast reverse-path check is not modelled, so it matches no address here"
	default:
		l := p.next()
		if !l.value() {
			return pfAddrElem{}, p.errf(l, "route needs a label, found %s", l)
		}
		why = fmt.Sprintf("route %s: routes by label are not modelled, so it matches no address here", l.s)
	}
	p.noteUnsure(t, why)
	return pfAddrElem{kind: pfHostSet, unsure: why}, nil
}

// parenElem parses the rest of "(en0)", "(en0:network)", "(self)" after the "(".
func (p *pfParser) parenElem(open pfTok) (pfAddrElem, error) {
	n := p.next()
	name, mods, ok, err := pfSplitIfMods(n.s)
	switch {
	case !n.value() || !ok:
		return pfAddrElem{}, p.errf(n, "(%s): want an interface name, such as (en0) or (en0:network)", n.s)
	case err != nil:
		return pfAddrElem{}, p.errf(n, "%v", err)
	}
	if err := p.expect(")"); err != nil {
		return pfAddrElem{}, err
	}
	return p.ifaceElem(open, n.s, name, mods, true)
}

// tableElem parses one entry of a "table <name> { … }" list into tb: an address or prefix, or
// (pfctl resolves these when it loads the table) self, an interface address or a host name.
func (p *pfParser) tableElem(tb *pfTable) error {
	neg := p.accept("!")
	v := p.next()
	if v.is("(") {
		// pfctl reads "(en0)" in a table as the interface's addresses when it loads the table.
		v = p.next()
		if err := p.expect(")"); err != nil {
			return err
		}
	}
	word := v.s
	if !v.value() {
		return p.errf(v, "bad table entry %s", v)
	}
	if e, err := pfTableEntryOf(word, neg); err == nil {
		tb.entries = append(tb.entries, e)
		return nil
	}
	what := word
	if neg {
		what = "!" + word
	}
	why, err := p.rs.opts.tableWord(tb, word, neg)
	if err != nil {
		return p.errf(v, "table <%s>: %v", tb.name, err)
	}
	if why != "" {
		why = fmt.Sprintf("table <%s>: %s: %s", tb.name, what, why)
		tb.unsure = append(tb.unsure, why)
		p.noteUnsure(v, why)
	}
	return nil
}

// tableWord adds to tb the entry word (not an address or prefix), and returns why the table is
// unsure for it ("" when it is not).
func (o *PFOptions) tableWord(tb *pfTable, word string, neg bool) (string, error) {
	name, mods, ok, err := pfSplitIfMods(word)
	if err != nil {
		return "", err
	}
	if ok && o.isIface(name, mods) {
		r := o.resolveIface(word, name, mods)
		for _, pre := range r.prefixes {
			tb.entries = append(tb.entries, pfTableEntry{neg: neg, prefix: pre})
		}
		switch {
		case r.unsure != "":
			return strings.TrimPrefix(r.unsure, word+": "), nil
		case r.self && neg:
			return "the host's own addresses are not known, so the negated entry is left out", nil
		case r.self:
			tb.self = true
		}
		return "", nil
	}
	if strings.ContainsFunc(word, func(r rune) bool { return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' }) && pfHostNameRE.MatchString(word) {
		return "host name not resolved, so the entry is left out", nil
	}
	return "", fmt.Errorf("entry %q: want an address, a prefix, an interface, self or a host name", word)
}

// tableFileWord is tableWord for an entry of a table file, whose text is never repeated (see
// tableFile): the reason says only what kind of entry it was.
func (o *PFOptions) tableFileWord(tb *pfTable, word string) (string, error) {
	neg := strings.HasPrefix(word, "!")
	word = strings.TrimPrefix(word, "!")
	if e, err := pfTableEntryOf(word, neg); err == nil {
		tb.entries = append(tb.entries, e)
		return "", nil
	}
	why, err := o.tableWord(tb, word, neg)
	if err != nil {
		return "", err
	}
	if why != "" {
		name, mods, ok, _ := pfSplitIfMods(word)
		if ok && o.isIface(name, mods) {
			why = "an interface entry: " + why
		} else {
			why = "an entry is a host name, not resolved, so it is left out"
		}
	}
	return why, nil
}

// markUnsure adds why to the unsure conditions of the statement st, once.
func (st *pfStmt) markUnsure(why string) {
	if st.f == nil {
		return // an anchor call's conditions are in the notes, which hold for every verdict
	}
	for _, u := range st.f.unsure {
		if u == why {
			return
		}
	}
	st.f.unsure = append(st.f.unsure, why)
}

// service resolves a port name as pfctl does (getservbyname, tcp first, then udp), from the
// options' Services and then the built-in list.
func (o *PFOptions) service(name string) (uint16, bool) {
	if o.Services != nil {
		for _, proto := range []string{"tcp", "udp"} {
			if n, ok := o.Services(name, proto); ok {
				return n, true
			}
		}
	}
	if n, ok := pfServices[name]; ok {
		return n, true
	}
	n, ok := pfServicesBSD[name]
	return n, ok
}

// pfServicesBSD are names of OpenBSD's and FreeBSD's /etc/services that published pf.conf files
// use and the common list lacks (smtps in OpenBSD's own examples), for when the services file is
// not under the root.
var pfServicesBSD = map[string]uint16{
	"smtps": 465, "submissions": 465, "ftps-data": 989, "ftps": 990, "spamd": 8025,
	"spamd-sync": 8025, "spamd-cfg": 8026, "dhcpv6-client": 546, "dhcpv6-server": 547,
	"openvpn": 1194, "radius": 1812, "radius-acct": 1813, "git": 9418,
	"xmpp-client": 5222, "xmpp-server": 5269, "domain-s": 853, "epmap": 135, "svn": 3690,
	"sieve": 4190, "kerberos-adm": 749, "kpasswd": 464, "ldp": 646, "bgp": 179, "router": 520,
}

// userGroup parses the items of a "user" or "group" option ("user root", "user { 1000 >= 2000 }",
// "group >= 1000", "user 1000 >< 2000"): which socket owns a packet is not something a packet
// description says, so the rule is marked unsure and the option is otherwise taken to hold.
func (p *pfParser) userGroup(f *pfFilter, kw pfTok) error {
	mark := len(p.toks)
	one := func() error {
		t := p.next()
		if t.kind == pfPunct {
			switch t.s {
			case "=", "!=", "<", "<=", ">", ">=":
			default:
				return p.errf(t, "%s: bad operator %s", kw.s, t)
			}
			t = p.next()
		}
		if !t.value() {
			return p.errf(t, "%s needs a name or an id, found %s", kw.s, t)
		}
		if op := p.peek(); op.is("><") || op.is("<>") {
			p.next()
			if u := p.next(); !u.value() {
				return p.errf(u, "%s: %s needs a name or an id after it, found %s", kw.s, op.s, u)
			}
		}
		return nil
	}
	if err := p.listOrOne(one); err != nil {
		return err
	}
	what := kw.s + " " + p.joined(mark)
	f.unsure = append(f.unsure, what+": the socket owner of a packet is not modelled")
	return nil
}
