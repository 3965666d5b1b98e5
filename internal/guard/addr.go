package guard

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"net/netip"
	"slices"
)

// addrKey is an address as a map key without a pointer (netip.Addr holds one for the zone):
// its 16 bytes, IPv4 in the v4-mapped form. authwatch unmaps v4-mapped addresses and block
// normalises prefixes the same way, so the two families never share a key.
type addrKey [16]byte

func keyOf(a netip.Addr) addrKey { return a.As16() }

// pkey is a banned prefix as a map key: the masked address and the prefix length counted in
// IPv6 bits (an IPv4 /24 is 96+24), so that it is unique across families.
type pkey struct {
	a    addrKey
	bits uint8
}

func pkeyOf(p netip.Prefix) pkey {
	p = p.Masked()
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	return pkey{a: p.Addr().As16(), bits: uint8(bits)}
}

func hostKey(a addrKey) pkey { return pkey{a: a, bits: 128} }

// prefix turns the key back into a netip.Prefix.
func (k pkey) prefix() netip.Prefix {
	a := netip.AddrFrom16(k.a)
	if a.Is4In6() && k.bits >= 96 {
		return netip.PrefixFrom(a.Unmap(), int(k.bits)-96)
	}
	return netip.PrefixFrom(a, int(k.bits))
}

// contains reports whether the prefix k holds the address a.
func (k pkey) contains(a addrKey) bool {
	full := int(k.bits) / 8
	if !bytes.Equal(k.a[:full], a[:full]) {
		return false
	}
	if r := k.bits % 8; r != 0 {
		mask := byte(0xff << (8 - r))
		return k.a[full]&mask == a[full]&mask
	}
	return true
}

// u128 is an address as a number, for range comparisons.
type u128 struct{ hi, lo uint64 }

func (a addrKey) u128() u128 {
	return u128{binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(a[8:])}
}

func (x u128) cmp(y u128) int { return cmp.Or(cmp.Compare(x.hi, y.hi), cmp.Compare(x.lo, y.lo)) }

// span is the addresses first..last of a prefix, both included.
type span struct{ first, last u128 }

func spanOf(p netip.Prefix) span {
	k := pkeyOf(p)
	first := k.a.u128()
	host := 128 - int(k.bits)
	last := first
	switch {
	case host >= 128:
		last = u128{^uint64(0), ^uint64(0)}
	case host >= 64:
		last.hi |= (1 << (host - 64)) - 1
		last.lo = ^uint64(0)
	case host > 0:
		last.lo |= (1 << host) - 1
	}
	return span{first, last}
}

// allowset answers "is this address allowlisted" in O(log n): the allowlist as sorted,
// disjoint address ranges. The line path asks it first for every failure.
type allowset struct{ spans []span }

func newAllowset(ps ...[]netip.Prefix) allowset {
	var spans []span
	for _, list := range ps {
		for _, p := range list {
			if p.IsValid() {
				spans = append(spans, spanOf(p))
			}
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return a.first.cmp(b.first) })
	out := spans[:0]
	for _, s := range spans {
		if n := len(out); n > 0 && s.first.cmp(out[n-1].last) <= 0 {
			if s.last.cmp(out[n-1].last) > 0 {
				out[n-1].last = s.last
			}
			continue
		}
		out = append(out, s)
	}
	return allowset{spans: out}
}

func (s allowset) has(a addrKey) bool {
	x := a.u128()
	// The last span starting at or before x.
	i, _ := slices.BinarySearchFunc(s.spans, x, func(sp span, x u128) int {
		if sp.first.cmp(x) <= 0 {
			return -1
		}
		return 1
	})
	return i > 0 && x.cmp(s.spans[i-1].last) <= 0
}

// overlaps reports whether any allowlisted address lies in p.
func (s allowset) overlaps(p netip.Prefix) bool {
	sp := spanOf(p)
	i, _ := slices.BinarySearchFunc(s.spans, sp.first, func(a span, x u128) int {
		if a.last.cmp(x) < 0 {
			return -1
		}
		return 1
	})
	return i < len(s.spans) && s.spans[i].first.cmp(sp.last) <= 0
}

// coversPrefix reports whether every address of p is allowlisted.
func (s allowset) coversPrefix(p netip.Prefix) bool {
	sp := spanOf(p)
	i, _ := slices.BinarySearchFunc(s.spans, sp.first, func(a span, x u128) int {
		if a.first.cmp(x) <= 0 {
			return -1
		}
		return 1
	})
	return i > 0 && sp.last.cmp(s.spans[i-1].last) <= 0
}

func (s allowset) len() int { return len(s.spans) }
