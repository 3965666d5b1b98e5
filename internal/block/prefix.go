package block

import (
	"net/netip"
	"slices"
)

// Subtract returns the fewest prefixes that together cover exactly the addresses of p that are in
// none of holes, sorted. Holes of the other address family, or outside p, change nothing; a hole
// that contains p leaves nothing.
//
// It splits p in halves until each half is either clear of every hole (kept whole) or inside one
// (dropped). The kept halves are the maximal aligned blocks of p \ holes, which is the unique
// smallest prefix cover of that set; the output has at most bits×len(holes) prefixes.
func Subtract(p netip.Prefix, holes []netip.Prefix) []netip.Prefix {
	p = p.Masked()
	var in []netip.Prefix
	for _, h := range holes {
		if h.IsValid() && h.Overlaps(p) {
			in = append(in, h.Masked())
		}
	}
	var out []netip.Prefix
	subtract(p, in, &out)
	return out
}

func subtract(p netip.Prefix, holes []netip.Prefix, out *[]netip.Prefix) {
	var over []netip.Prefix
	for _, h := range holes {
		if !h.Overlaps(p) {
			continue
		}
		if h.Bits() <= p.Bits() { // h contains p
			return
		}
		over = append(over, h)
	}
	if len(over) == 0 {
		*out = append(*out, p)
		return
	}
	lo, hi := halves(p)
	subtract(lo, over, out)
	subtract(hi, over, out)
}

// halves splits p (which is not a single address: a hole overlaps it without containing it) into
// its two prefixes one bit longer.
func halves(p netip.Prefix) (lo, hi netip.Prefix) {
	bits := p.Bits()
	lo = netip.PrefixFrom(p.Addr(), bits+1)
	if p.Addr().Is4() {
		b := p.Addr().As4()
		b[bits/8] |= 0x80 >> (bits % 8)
		return lo, netip.PrefixFrom(netip.AddrFrom4(b), bits+1)
	}
	b := p.Addr().As16()
	b[bits/8] |= 0x80 >> (bits % 8)
	return lo, netip.PrefixFrom(netip.AddrFrom16(b), bits+1)
}

// comparePrefix orders prefixes by family, address, then length (shorter first), so that a prefix
// comes right before the prefixes it contains.
func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// contains reports whether outer contains inner entirely.
func contains(outer, inner netip.Prefix) bool {
	return outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
}

// sortPrefixes sorts ps with comparePrefix.
func sortPrefixes(ps []netip.Prefix) { slices.SortFunc(ps, comparePrefix) }
