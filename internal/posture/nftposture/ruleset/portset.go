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

func (s portSet) intersect(t portSet) portSet {
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

func (s portSet) minus(t portSet) portSet { return s.intersect(t.complement()) }

func (s portSet) union(t portSet) portSet {
	out := make(portSet, 0, len(s)+len(t))
	out = append(append(out, s...), t...)
	return out.normalise()
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
