package ruleset

import "sort"

// portRange is an inclusive range of port numbers.
type portRange struct{ lo, hi uint16 }

// portSet is a sorted list of disjoint, non-adjacent port ranges.
type portSet []portRange

var allPorts = portSet{{0, 65535}}

func onePort(p uint16) portSet { return portSet{{p, p}} }

// normalise sorts and merges overlapping and adjacent ranges.
func (s portSet) normalise() portSet {
	if len(s) < 2 {
		return s
	}
	sort.Slice(s, func(i, j int) bool { return s[i].lo < s[j].lo })
	out := s[:1]
	for _, r := range s[1:] {
		last := &out[len(out)-1]
		if uint32(r.lo) <= uint32(last.hi)+1 {
			if r.hi > last.hi {
				last.hi = r.hi
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

func (s portSet) empty() bool { return len(s) == 0 }

func (s portSet) contains(p uint16) bool {
	i := sort.Search(len(s), func(i int) bool { return s[i].hi >= p })
	return i < len(s) && s[i].lo <= p
}

// search returns the index of the first range of s that ends at or after p.
func (s portSet) search(p uint16) int {
	return sort.Search(len(s), func(i int) bool { return s[i].hi >= p })
}

func (s portSet) intersect(t portSet) portSet {
	if len(t) < 4 && len(s) > 16 {
		// A rule names a few ports; the flow may hold thousands of ranges.
		var out portSet
		for _, r := range t {
			for i := s.search(r.lo); i < len(s) && s[i].lo <= r.hi; i++ {
				out = append(out, portRange{max(s[i].lo, r.lo), min(s[i].hi, r.hi)})
			}
		}
		return out
	}
	var out portSet
	i, j := 0, 0
	for i < len(s) && j < len(t) {
		lo, hi := max(s[i].lo, t[j].lo), min(s[i].hi, t[j].hi)
		if lo <= hi {
			out = append(out, portRange{lo, hi})
		}
		if s[i].hi < t[j].hi {
			i++
		} else {
			j++
		}
	}
	return out
}

func (s portSet) complement() portSet {
	var out portSet
	next := uint32(0)
	for _, r := range s {
		if uint32(r.lo) > next {
			out = append(out, portRange{uint16(next), r.lo - 1})
		}
		next = uint32(r.hi) + 1
	}
	if next <= 65535 {
		out = append(out, portRange{uint16(next), 65535})
	}
	return out
}

func (s portSet) minus(t portSet) portSet {
	if len(t) < 4 && len(s) > 16 {
		for _, r := range t {
			s = s.minusOne(r)
		}
		return s
	}
	return s.intersect(t.complement())
}

// minusOne removes r from s, sharing s when nothing is removed.
func (s portSet) minusOne(r portRange) portSet {
	i := s.search(r.lo)
	j := i
	for j < len(s) && s[j].lo <= r.hi {
		j++
	}
	if i == j {
		return s
	}
	out := make(portSet, 0, len(s)+1)
	out = append(out, s[:i]...)
	if s[i].lo < r.lo {
		out = append(out, portRange{s[i].lo, r.lo - 1})
	}
	if s[j-1].hi > r.hi {
		out = append(out, portRange{r.hi + 1, s[j-1].hi})
	}
	return append(out, s[j:]...)
}

func (s portSet) union(t portSet) portSet {
	if len(t) == 0 {
		return s
	}
	if len(s) == 0 {
		return t
	}
	// Both are sorted: merge them, joining overlapping and adjacent ranges.
	out := make(portSet, 0, len(s)+len(t))
	add := func(r portRange) {
		if n := len(out); n > 0 && uint32(r.lo) <= uint32(out[n-1].hi)+1 {
			out[n-1].hi = max(out[n-1].hi, r.hi)
			return
		}
		out = append(out, r)
	}
	i, j := 0, 0
	for i < len(s) || j < len(t) {
		if j == len(t) || (i < len(s) && s[i].lo <= t[j].lo) {
			add(s[i])
			i++
		} else {
			add(t[j])
			j++
		}
	}
	return out
}

func (s portSet) equal(t portSet) bool {
	if len(s) != len(t) {
		return false
	}
	for i := range s {
		if s[i] != t[i] {
			return false
		}
	}
	return true
}
