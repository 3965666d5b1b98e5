package rules

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// This file holds the set algebra the pf compiler and linter share: address sets as sorted
// interval lists, interface name sets, protocol bitsets, and the built-in name tables.

// pfU128 is an address in one 128-bit space: an IPv6 address as itself, an IPv4 address as its
// IPv4-mapped form ::ffff:a.b.c.d. One interval list then covers both families, and the IPv4
// block sits inside it as the contiguous range [pfV4Lo, pfV4Hi]. IPv6 prefixes never include
// that block (see pfPrefixSet), so an IPv4-mapped IPv6 packet address is treated as IPv4.
type pfU128 struct{ hi, lo uint64 }

const pfV4Base = 0x0000ffff00000000

var (
	pfMax  = pfU128{^uint64(0), ^uint64(0)}
	pfV4Lo = pfU128{0, pfV4Base}
	pfV4Hi = pfU128{0, pfV4Base | 0xffffffff}
)

func (a pfU128) less(b pfU128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

func (a pfU128) cmp(b pfU128) int {
	switch {
	case a == b:
		return 0
	case a.less(b):
		return -1
	}
	return 1
}

func (a pfU128) add1() pfU128 {
	if a.lo == ^uint64(0) {
		return pfU128{a.hi + 1, 0}
	}
	return pfU128{a.hi, a.lo + 1}
}

func (a pfU128) sub1() pfU128 {
	if a.lo == 0 {
		return pfU128{a.hi - 1, ^uint64(0)}
	}
	return pfU128{a.hi, a.lo - 1}
}

// pfKey maps a valid, unmapped address into the shared space.
func pfKey(a netip.Addr) pfU128 {
	if a.Is4() {
		b := a.As4()
		return pfU128{0, pfV4Base | uint64(binary.BigEndian.Uint32(b[:]))}
	}
	b := a.As16()
	return pfU128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// pfAddrOf is the inverse of pfKey.
func pfAddrOf(k pfU128) netip.Addr {
	if k.hi == 0 && k.lo>>32 == 0xffff {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(k.lo))
		return netip.AddrFrom4(b)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], k.hi)
	binary.BigEndian.PutUint64(b[8:], k.lo)
	return netip.AddrFrom16(b)
}

// pfRange is an inclusive interval.
type pfRange struct{ lo, hi pfU128 }

// pfIPSet is a sorted list of disjoint, non-adjacent inclusive intervals. It also serves for port
// sets, with ports as small values of the same space.
type pfIPSet []pfRange

var (
	pfFull     = pfIPSet{{pfU128{}, pfMax}}
	pfV4Set    = pfIPSet{{pfV4Lo, pfV4Hi}}
	pfV6Set    = pfIPSet{{pfU128{}, pfV4Lo.sub1()}, {pfV4Hi.add1(), pfMax}}
	pfPortsAll = pfIPSet{{pfU128{}, pfU128{0, 65535}}}
	// pfLoopback is the part of "self" every host has whatever its interfaces: 127.0.0.0/8 and ::1.
	pfLoopback = pfIPSet{{pfU128{0, 1}, pfU128{0, 1}}, {pfU128{0, pfV4Base | 127<<24}, pfU128{0, pfV4Base | 128<<24 - 1}}}
)

// pfNormalize sorts and merges intervals into a pfIPSet.
func pfNormalize(rs []pfRange) pfIPSet {
	if len(rs) == 0 {
		return nil
	}
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b pfRange) int { return a.lo.cmp(b.lo) })
	out := pfIPSet{rs[0]}
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if last.hi == pfMax || !last.hi.add1().less(r.lo) {
			if last.hi.less(r.hi) {
				last.hi = r.hi
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

func (s pfIPSet) contains(k pfU128) bool {
	lo, hi := 0, len(s)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s[m].hi.less(k) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo < len(s) && !k.less(s[lo].lo)
}

func (s pfIPSet) union(t pfIPSet) pfIPSet {
	switch {
	case len(s) == 0:
		return t
	case len(t) == 0:
		return s
	}
	return pfNormalize(append(slices.Clone(s), t...))
}

func (s pfIPSet) complement() pfIPSet {
	var out pfIPSet
	next := pfU128{}
	open := true
	for _, r := range s {
		if next.less(r.lo) {
			out = append(out, pfRange{next, r.lo.sub1()})
		}
		if r.hi == pfMax {
			open = false
			break
		}
		next = r.hi.add1()
	}
	if open {
		out = append(out, pfRange{next, pfMax})
	}
	return out
}

func (s pfIPSet) full() bool { return len(s) == 1 && s[0] == pfRange{pfU128{}, pfMax} }

func (s pfIPSet) intersect(t pfIPSet) pfIPSet {
	switch {
	case s.full():
		return t
	case t.full():
		return s
	case len(s) == 0 || len(t) == 0:
		return nil
	}
	out := make(pfIPSet, 0, max(len(s), len(t)))
	i, j := 0, 0
	for i < len(s) && j < len(t) {
		lo, hi := s[i].lo, s[i].hi
		if lo.less(t[j].lo) {
			lo = t[j].lo
		}
		if t[j].hi.less(hi) {
			hi = t[j].hi
		}
		if !hi.less(lo) {
			out = append(out, pfRange{lo, hi})
		}
		if s[i].hi.less(t[j].hi) {
			i++
		} else {
			j++
		}
	}
	return out
}

func (s pfIPSet) subtract(t pfIPSet) pfIPSet { return s.intersect(t.complement()) }

// subsetOf reports whether every element of s is in t, without allocating. A range of s must lie
// within one range of t, since t's ranges are neither overlapping nor adjacent.
func (s pfIPSet) subsetOf(t pfIPSet) bool {
	if len(s) == 0 || len(s) == len(t) && &s[0] == &t[0] {
		return true
	}
	j := 0
	for _, r := range s {
		for j < len(t) && t[j].hi.less(r.lo) {
			j++
		}
		if j == len(t) || r.lo.less(t[j].lo) || t[j].hi.less(r.hi) {
			return false
		}
	}
	return true
}

// overlaps reports whether s and t share an element, without allocating.
func (s pfIPSet) overlaps(t pfIPSet) bool {
	i, j := 0, 0
	for i < len(s) && j < len(t) {
		switch {
		case s[i].hi.less(t[j].lo):
			i++
		case t[j].hi.less(s[i].lo):
			j++
		default:
			return true
		}
	}
	return false
}

// pfCanon hands out one shared copy of each distinct set, so that rules naming the same table
// share it and comparisons of identical sets are immediate.
type pfCanon map[uint64][]pfIPSet

func (c pfCanon) get(s pfIPSet) pfIPSet {
	if len(s) == 0 {
		return nil
	}
	h := uint64(14695981039346656037)
	for _, r := range s {
		for _, x := range [4]uint64{r.lo.hi, r.lo.lo, r.hi.hi, r.hi.lo} {
			h = (h ^ x) * 1099511628211
		}
	}
	for _, t := range c[h] {
		if t.equal(s) {
			return t
		}
	}
	c[h] = append(c[h], s)
	return s
}

func (s pfIPSet) equal(t pfIPSet) bool { return slices.Equal(s, t) }

// pfPrefixSet is the set of addresses of a prefix. An IPv6 prefix leaves out the IPv4-mapped
// block, which stands for IPv4 here.
func pfPrefixSet(p netip.Prefix) pfIPSet {
	p = p.Masked()
	a := p.Addr()
	if a.Is4() {
		host := uint64(1)<<(32-p.Bits()) - 1
		k := pfKey(a)
		return pfIPSet{{k, pfU128{0, k.lo | host}}}
	}
	k := pfKey(a)
	hi := k
	if n := 128 - p.Bits(); n >= 64 {
		hi.lo = ^uint64(0)
		hi.hi |= uint64(1)<<(n-64) - 1
		if n == 128 {
			hi.hi = ^uint64(0)
		}
	} else {
		hi.lo |= uint64(1)<<n - 1
	}
	return pfIPSet{{k, hi}}.intersect(pfV6Set)
}

// pfAFSet is the address space of a family: 4, 6, or 0 for both.
func pfAFSet(af uint8) pfIPSet {
	switch af {
	case 4:
		return pfV4Set
	case 6:
		return pfV6Set
	}
	return pfFull
}

// pfPortRange is the set of ports lo..hi (empty when lo > hi).
func pfPortRange(lo, hi int) pfIPSet {
	if lo > hi {
		return nil
	}
	return pfIPSet{{pfU128{0, uint64(lo)}, pfU128{0, uint64(hi)}}}
}

// pfProtoSet is a set of IP protocol numbers.
type pfProtoSet [4]uint64

var pfAllProtos = pfProtoSet{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}

func (s *pfProtoSet) add(p uint8)     { s[p>>6] |= 1 << (p & 63) }
func (s pfProtoSet) has(p uint8) bool { return s[p>>6]&(1<<(p&63)) != 0 }
func (s pfProtoSet) and(t pfProtoSet) pfProtoSet {
	return pfProtoSet{s[0] & t[0], s[1] & t[1], s[2] & t[2], s[3] & t[3]}
}

// pfIfSet is a set of interface names: exactly names, or (co) every name but names.
type pfIfSet struct {
	co    bool
	names []string // sorted, unique
}

var pfAnyIf = pfIfSet{co: true}

func (s pfIfSet) has(n string) bool {
	_, found := slices.BinarySearch(s.names, n)
	return found != s.co
}

func pfSortedUnique(a []string) []string {
	a = slices.Clone(a)
	slices.Sort(a)
	return slices.Compact(a)
}

func pfMinus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if _, ok := slices.BinarySearch(b, x); !ok {
			out = append(out, x)
		}
	}
	return out
}

func pfCommon(a, b []string) []string {
	var out []string
	for _, x := range a {
		if _, ok := slices.BinarySearch(b, x); ok {
			out = append(out, x)
		}
	}
	return out
}

func (s pfIfSet) union(t pfIfSet) pfIfSet {
	switch {
	case !s.co && !t.co:
		return pfIfSet{names: pfSortedUnique(append(slices.Clone(s.names), t.names...))}
	case s.co && t.co:
		return pfIfSet{co: true, names: pfCommon(s.names, t.names)}
	case s.co:
		return pfIfSet{co: true, names: pfMinus(s.names, t.names)}
	}
	return pfIfSet{co: true, names: pfMinus(t.names, s.names)}
}

func (s pfIfSet) intersect(t pfIfSet) pfIfSet {
	switch {
	case !s.co && !t.co:
		return pfIfSet{names: pfCommon(s.names, t.names)}
	case s.co && t.co:
		return pfIfSet{co: true, names: pfSortedUnique(append(slices.Clone(s.names), t.names...))}
	case s.co:
		return pfIfSet{names: pfMinus(t.names, s.names)}
	}
	return pfIfSet{names: pfMinus(s.names, t.names)}
}

func (s pfIfSet) subsetOf(t pfIfSet) bool {
	switch {
	case !s.co && !t.co:
		return len(pfMinus(s.names, t.names)) == 0
	case !s.co && t.co:
		return len(pfCommon(s.names, t.names)) == 0
	case s.co && !t.co:
		return false
	}
	return len(pfMinus(t.names, s.names)) == 0
}

func (s pfIfSet) empty() bool     { return !s.co && len(s.names) == 0 }
func (s pfIfSet) universal() bool { return s.co && len(s.names) == 0 }

// Built-in name tables. /etc/services and /etc/protocols may be missing under --root, and pfctl
// resolves these names itself, so the common ones are listed here (numbers as in IANA's
// registries, which /etc/services on macOS follows).
var pfServices = map[string]uint16{
	"ftp-data": 20, "ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "bootps": 67,
	"bootpc": 68, "tftp": 69, "http": 80, "www": 80, "kerberos": 88, "pop3": 110, "sunrpc": 111,
	"auth": 113, "nntp": 119, "ntp": 123, "netbios-ns": 137, "netbios-dgm": 138,
	"netbios-ssn": 139, "imap": 143, "snmp": 161, "snmp-trap": 162, "ldap": 389, "https": 443,
	"microsoft-ds": 445, "isakmp": 500, "syslog": 514, "submission": 587, "ipp": 631,
	"ldaps": 636, "afpovertcp": 548, "rsync": 873, "imaps": 993, "pop3s": 995, "nfsd": 2049,
	"mysql": 3306, "ms-wbt-server": 3389, "ipsec-nat-t": 4500, "sip": 5060, "mdns": 5353,
	"postgresql": 5432, "rfb": 5900, "http-alt": 8080,
}

var pfProtoNames = map[string]uint8{
	"icmp": ProtoICMP, "igmp": 2, "ipencap": 4, "tcp": ProtoTCP, "udp": ProtoUDP, "ipv6": 41,
	"gre": 47, "esp": 50, "ah": 51, "icmp6": ProtoICMPv6, "ipv6-icmp": ProtoICMPv6, "ospf": 89,
	"pim": 103, "carp": 112, "sctp": 132, "pfsync": 240,
}

// ICMP type names as pf.conf(5) lists them.
var pfICMPTypes = map[string]int16{
	"echorep": 0, "unreach": 3, "squench": 4, "redir": 5, "althost": 6, "echoreq": 8,
	"routeradv": 9, "routersol": 10, "timex": 11, "paramprob": 12, "timereq": 13, "timerep": 14,
	"inforeq": 15, "inforep": 16, "maskreq": 17, "maskrep": 18, "trace": 30,
}

var pfICMP6Types = map[string]int16{
	"unreach": 1, "toobig": 2, "timex": 3, "paramprob": 4, "echoreq": 128, "echorep": 129,
	"groupqry": 130, "listqry": 130, "grouprep": 131, "listenrep": 131, "groupterm": 132,
	"listendone": 132, "routersol": 133, "routeradv": 134, "neighbrsol": 135, "neighbradv": 136,
	"redir": 137,
}

var pfICMPCodes = map[string]int16{
	"net-unr": 0, "host-unr": 1, "proto-unr": 2, "port-unr": 3, "needfrag": 4, "srcfail": 5,
}

var pfProtoNumbers = func() map[uint8]string {
	m := map[uint8]string{}
	for n, v := range pfProtoNames {
		if old, ok := m[v]; !ok || n < old && n != "ipv6-icmp" {
			m[v] = n
		}
	}
	m[ProtoICMPv6] = "icmp6"
	return m
}()

func pfProtoName(p uint8) string {
	if n, ok := pfProtoNumbers[p]; ok {
		return n
	}
	return strconv.Itoa(int(p))
}

// pfFlagBits are the TCP flag letters of pf.conf(5) in header bit order.
const pfFlagLetters = "FSRPAUEW"

const (
	pfSYN = 0x02
	pfACK = 0x10
)

func pfParseFlags(s string) (uint8, bool) {
	var f uint8
	for _, c := range s {
		i := strings.IndexRune(pfFlagLetters, c)
		if i < 0 {
			return 0, false
		}
		f |= 1 << i
	}
	return f, true
}

func pfFlagString(f uint8) string {
	var b strings.Builder
	for i := range 8 {
		if f&(1<<i) != 0 {
			b.WriteByte(pfFlagLetters[i])
		}
	}
	return b.String()
}
