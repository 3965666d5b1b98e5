package ruleset

import (
	"net/netip"
	"slices"
)

// addrRange is an inclusive range of addresses of one family.
type addrRange struct{ lo, hi netip.Addr }

// addrSet is a sorted list of disjoint, non-adjacent address ranges of one family.
type addrSet []addrRange

func fullAddrs(v6 bool) addrSet {
	if v6 {
		return addrSet{{netip.IPv6Unspecified(), netip.AddrFrom16([16]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})}}
	}
	return addrSet{{netip.IPv4Unspecified(), netip.AddrFrom4([4]byte{255, 255, 255, 255})}}
}

func (s addrSet) empty() bool { return len(s) == 0 }

func (s addrSet) normalise() addrSet {
	if len(s) < 2 {
		return s
	}
	slices.SortFunc(s, func(x, y addrRange) int { return x.lo.Compare(y.lo) })
	out := s[:1]
	for _, r := range s[1:] {
		last := &out[len(out)-1]
		if n := last.hi.Next(); r.lo.Compare(last.hi) <= 0 || (n.IsValid() && n == r.lo) {
			if r.hi.Compare(last.hi) > 0 {
				last.hi = r.hi
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

func (s addrSet) contains(a netip.Addr) bool {
	i, _ := slices.BinarySearchFunc(s, a, func(r addrRange, a netip.Addr) int {
		if r.hi.Compare(a) < 0 {
			return -1
		}
		if r.lo.Compare(a) > 0 {
			return 1
		}
		return 0
	})
	return i < len(s) && s[i].lo.Compare(a) <= 0 && a.Compare(s[i].hi) <= 0
}

// search returns the index of the first range of s that ends at or after a.
func (s addrSet) search(a netip.Addr) int {
	i, _ := slices.BinarySearchFunc(s, a, func(r addrRange, a netip.Addr) int {
		if r.hi.Compare(a) < 0 {
			return -1
		}
		return 1
	})
	return i
}

func (s addrSet) intersect(t addrSet) addrSet {
	if len(t) < 4 && len(s) > 16 {
		var out addrSet
		for _, r := range t {
			for i := s.search(r.lo); i < len(s) && s[i].lo.Compare(r.hi) <= 0; i++ {
				lo, hi := s[i].lo, s[i].hi
				if r.lo.Compare(lo) > 0 {
					lo = r.lo
				}
				if r.hi.Compare(hi) < 0 {
					hi = r.hi
				}
				out = append(out, addrRange{lo, hi})
			}
		}
		return out
	}
	var out addrSet
	i, j := 0, 0
	for i < len(s) && j < len(t) {
		lo, hi := s[i].lo, s[i].hi
		if t[j].lo.Compare(lo) > 0 {
			lo = t[j].lo
		}
		if t[j].hi.Compare(hi) < 0 {
			hi = t[j].hi
		}
		if lo.Compare(hi) <= 0 {
			out = append(out, addrRange{lo, hi})
		}
		if s[i].hi.Compare(t[j].hi) < 0 {
			i++
		} else {
			j++
		}
	}
	return out
}

// complement is the rest of the family's address space.
func (s addrSet) complement(v6 bool) addrSet {
	full := fullAddrs(v6)[0]
	var out addrSet
	next, done := full.lo, false
	for _, r := range s {
		if r.lo.Compare(next) > 0 {
			out = append(out, addrRange{next, r.lo.Prev()})
		}
		if r.hi == full.hi {
			done = true
			break
		}
		next = r.hi.Next()
	}
	if !done {
		out = append(out, addrRange{next, full.hi})
	}
	return out
}

func (s addrSet) minus(t addrSet, v6 bool) addrSet {
	if len(t) == 0 || len(s) == 0 {
		return s
	}
	if len(t) < 4 && len(s) > 16 {
		for _, r := range t {
			s = s.minusOne(r)
		}
		return s
	}
	return s.intersect(t.complement(v6))
}

// minusOne removes r from s, sharing s when nothing is removed.
func (s addrSet) minusOne(r addrRange) addrSet {
	i := s.search(r.lo)
	j := i
	for j < len(s) && s[j].lo.Compare(r.hi) <= 0 {
		j++
	}
	if i == j {
		return s
	}
	out := make(addrSet, 0, len(s)+1)
	out = append(out, s[:i]...)
	if s[i].lo.Compare(r.lo) < 0 {
		out = append(out, addrRange{s[i].lo, r.lo.Prev()})
	}
	if s[j-1].hi.Compare(r.hi) > 0 {
		out = append(out, addrRange{r.hi.Next(), s[j-1].hi})
	}
	return append(out, s[j:]...)
}

func (s addrSet) union(t addrSet) addrSet {
	if len(t) == 0 {
		return s
	}
	if len(s) == 0 {
		return t
	}
	// Both are sorted: merge them, joining overlapping and adjacent ranges.
	out := make(addrSet, 0, len(s)+len(t))
	add := func(r addrRange) {
		if n := len(out); n > 0 {
			last := &out[n-1]
			if nx := last.hi.Next(); r.lo.Compare(last.hi) <= 0 || (nx.IsValid() && nx == r.lo) {
				if r.hi.Compare(last.hi) > 0 {
					last.hi = r.hi
				}
				return
			}
		}
		out = append(out, r)
	}
	i, j := 0, 0
	for i < len(s) || j < len(t) {
		if j == len(t) || (i < len(s) && s[i].lo.Compare(t[j].lo) <= 0) {
			add(s[i])
			i++
		} else {
			add(t[j])
			j++
		}
	}
	return out
}

func (s addrSet) equal(t addrSet) bool { return slices.Equal(s, t) }
