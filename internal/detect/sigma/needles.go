package sigma

import (
	"slices"
	"strings"
)

// Needles are derived bottom-up. A set of needles is sound for a node when, whenever the node
// holds, one of them occurs in a value the node read. Then:
//   - for "a and b", a sound set of either side is sound for the whole, so the better is kept;
//   - for "a or b" (and the alternatives of a search, and the values of a field), the union of
//     sound sets is sound, and none exists when one side has none;
//   - "not a" has none: it holds on events that lack anything in particular.
// A literal gives its longest run of needle-safe characters (see safe), lower-cased.

// needleSet is a sound set of needles; ok is false when there is none.
type needleSet struct {
	ok bool
	s  []string
}

var noNeedles = needleSet{}

// everyField marks every field visible, for Needles.
func everyField(string) bool { return true }

func ruleNeedles(conds []*expr, visible func(string) bool) []string {
	var alts []needleSet
	for _, c := range conds {
		alts = append(alts, c.needles(visible))
	}
	n := union(alts)
	if !n.ok {
		return nil
	}
	return n.s
}

func (e *expr) needles(visible func(string) bool) needleSet {
	var kids []needleSet
	for _, k := range e.kids {
		kids = append(kids, k.needles(visible))
	}
	switch e.op {
	case opSearch:
		return e.s.needles(visible)
	case opAnd:
		return best(kids)
	case opNot:
		return noNeedles
	}
	return union(kids) // opOr, and opAtLeast: at least one of its kids holds
}

func (s *search) needles(visible func(string) bool) needleSet {
	var alts []needleSet
	for _, conds := range s.alts {
		var each []needleSet
		for _, c := range conds {
			each = append(each, c.needles(visible))
		}
		alts = append(alts, best(each))
	}
	return union(alts)
}

// needles of a condition on a field the caller cannot see are none: the match may be there. A
// keyword may be found in any keyword field, so all of them must be visible.
func (c *cond) needles(visible func(string) bool) needleSet {
	if c.exists || c.name != "" && !visible(c.name) {
		return noNeedles
	}
	for _, n := range c.names {
		if !visible(n) {
			return noNeedles
		}
	}
	var vals []needleSet
	for _, g := range c.groups {
		var each []needleSet
		for i := range g {
			each = append(each, g[i].needles())
		}
		vals = append(vals, union(each))
	}
	if c.all {
		return best(vals)
	}
	return union(vals)
}

func (m *matcher) needles() needleSet {
	var n string
	switch m.kind {
	case matchExact, matchPrefix, matchSuffix, matchContains:
		n = safeRun(m.lit.s)
	case matchGlob:
		for _, seg := range m.glob.segs {
			for _, a := range seg {
				if a.kind == atomLit {
					if r := safeRun(a.lit.s); len(r) > len(n) {
						n = r
					}
				}
			}
		}
	case matchRegexp:
		// Every match begins with the literal prefix, which stops at the first case-folded
		// character, so it is exact.
		prefix, _ := m.re.LiteralPrefix()
		n = safeRun(prefix)
	}
	if n == "" {
		return noNeedles
	}
	return needleSet{ok: true, s: []string{n}}
}

// safe reports whether text formats leave c as it is: not a control character, not outside
// ASCII, and none of \ " / ' < > & (escaped by JSON, by some JSON encoders, or by XML).
func safe(c byte) bool {
	return 0x20 <= c && c < 0x7f && !strings.ContainsRune(`\"/'<>&`, rune(c))
}

// safeRun returns the longest run of safe characters in s, lower-cased; the last of them on a tie.
func safeRun(s string) string {
	best, start := "", 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || !safe(s[i]) {
			if i-start >= len(best) { // on a tie the later run: in a path the last part is the rarer
				best = s[start:i]
			}
			start = i + 1
		}
	}
	return lowerASCII(best)
}

// union is the needle set of "one of these holds".
func union(sets []needleSet) needleSet {
	var out []string
	for _, s := range sets {
		if !s.ok {
			return noNeedles
		}
		out = append(out, s.s...)
	}
	if len(out) == 0 {
		return noNeedles
	}
	// A needle containing another is redundant: wherever it occurs, so does the shorter one.
	slices.SortFunc(out, func(a, b string) int { return len(a) - len(b) })
	var kept []string
	for _, n := range out {
		if !slices.ContainsFunc(kept, func(k string) bool { return strings.Contains(n, k) }) {
			kept = append(kept, n)
		}
	}
	slices.Sort(kept)
	return needleSet{ok: true, s: kept}
}

// best is the needle set of "all of these hold": the most selective of the sound ones, judged by
// its shortest needle, then by how few needles it has.
func best(sets []needleSet) needleSet {
	b := noNeedles
	for _, s := range sets {
		if s.ok && (!b.ok || better(s, b)) {
			b = s
		}
	}
	return b
}

func better(a, b needleSet) bool {
	la, lb := shortest(a.s), shortest(b.s)
	if la != lb {
		return la > lb
	}
	return len(a.s) < len(b.s)
}

func shortest(s []string) int {
	n := -1
	for _, x := range s {
		if n < 0 || len(x) < n {
			n = len(x)
		}
	}
	return n
}
