package sigma

import (
	"net/netip"
	"regexp"
	"strconv"
)

// This file holds the compiled detection and its evaluation. Nothing here allocates on the
// Match path: patterns were lowered at Parse time, comparisons fold ASCII case in place, and
// numbers and addresses are parsed only after a cheap check that they can be.

// search is a compiled search identifier: alternatives (a list of maps) of which one must hold
// entirely (the entries of a map).
type search struct {
	name string
	line int
	alts [][]*cond
}

func (s *search) match(f Fields) bool {
	for _, conds := range s.alts {
		if allMatch(conds, f) {
			return true
		}
	}
	return false
}

func allMatch(conds []*cond, f Fields) bool {
	for _, c := range conds {
		if !c.match(f) {
			return false
		}
	}
	return true
}

// cond is one entry of a selection map ("field|modifiers: values"), or a keyword list.
type cond struct {
	name  string   // the field read; "" for keywords, which are looked for in names
	names []string // the keyword fields
	// exists is set for "field|exists: bool"; want is the presence asked for.
	exists, want bool
	all          bool
	// groups holds, per rule value, the matchers it compiled to (an encoding modifier can give
	// several alternatives). Without |all one matcher of one group must match, so any holds them
	// all in one list; under |all each group must.
	groups  [][]matcher
	any     []matcher
	special bool // some matcher is null or fieldref, which need anyMatch
	cost    int  // rough price of evaluating, to try the cheap conditions first
}

func (c *cond) match(f Fields) bool {
	if c.name == "" {
		return c.matchKeywords(f)
	}
	vals, ok := f.Values(c.name)
	switch {
	case c.exists:
		return ok == c.want
	case c.all:
		for _, g := range c.groups {
			if !anyMatch(g, f, vals, ok) {
				return false
			}
		}
		return true
	case c.special:
		return anyMatch(c.any, f, vals, ok)
	}
	for _, v := range vals {
		for i := range c.any {
			if c.any[i].matchValue(v) {
				return true
			}
		}
	}
	return false
}

// matchKeywords matches a keyword list, whose values may be found in any of the keyword fields.
func (c *cond) matchKeywords(f Fields) bool {
	if !c.all {
		return c.anyField(c.any, f)
	}
	for _, g := range c.groups {
		if !c.anyField(g, f) {
			return false
		}
	}
	return true
}

func (c *cond) anyField(ms []matcher, f Fields) bool {
	for _, name := range c.names {
		if vals, ok := f.Values(name); ok && anyMatch(ms, f, vals, ok) {
			return true
		}
	}
	return false
}

// anyMatch reports whether one of the alternatives matches one of the field's values.
func anyMatch(ms []matcher, f Fields, vals []string, present bool) bool {
	for i := range ms {
		m := &ms[i]
		switch m.kind {
		case matchNull:
			if isNull(vals, present) {
				return true
			}
			continue
		case matchFieldRef:
			refs, _ := f.Values(m.ref)
			for _, v := range vals {
				for _, r := range refs {
					if m.fold && foldEqual(v, r) || !m.fold && v == r {
						return true
					}
				}
			}
			continue
		}
		for _, v := range vals {
			if m.matchValue(v) {
				return true
			}
		}
	}
	return false
}

// isNull is Sigma's "field: null": the field is absent or has no non-empty value.
func isNull(vals []string, present bool) bool {
	if !present {
		return true
	}
	for _, v := range vals {
		if v != "" {
			return false
		}
	}
	return true
}

// foldEqual reports whether a and b are equal up to ASCII case; unlike equalFold, neither needs
// to be in lower case already.
func foldEqual(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

type matchKind uint8

const (
	matchExact    matchKind = iota // the whole value equals lit
	matchPrefix                    // the value starts with lit
	matchSuffix                    // the value ends with lit
	matchContains                  // lit occurs in the value
	matchAny                       // every value (a pattern of only stars)
	matchGlob                      // wildcards, "?" or windash: the general path
	matchRegexp
	matchCIDR
	matchNumber
	matchNull     // the field is absent or empty (needs all values: see anyMatch)
	matchFieldRef // equals a value of another field (needs the event: see anyMatch)
)

// matcher is one compiled rule value.
type matcher struct {
	kind   matchKind
	fold   bool // compare ignoring ASCII case
	lit    literal
	glob   glob
	re     *regexp.Regexp
	prefix netip.Prefix
	cmp    string // matchNumber: gt, gte, lt or lte
	num    float64
	ref    string // matchFieldRef: the other field
}

func (m *matcher) matchValue(v string) bool {
	switch m.kind {
	case matchExact:
		return m.lit.equal(v, m.fold)
	case matchPrefix:
		return m.lit.prefixOf(v, m.fold)
	case matchSuffix:
		return m.lit.suffixOf(v, m.fold)
	case matchContains:
		return m.lit.index(v, m.fold) >= 0
	case matchAny:
		return true
	case matchGlob:
		return m.glob.match(v, m.fold)
	case matchRegexp:
		return m.re.MatchString(v)
	case matchCIDR:
		a, ok := parseAddr(v)
		return ok && (m.prefix.Contains(a) || a.Is4In6() && m.prefix.Contains(a.Unmap()))
	case matchNumber:
		x, ok := parseNumber(v)
		if !ok {
			return false
		}
		switch m.cmp {
		case "gt":
			return x > m.num
		case "gte":
			return x >= m.num
		case "lt":
			return x < m.num
		default:
			return x <= m.num
		}
	}
	return false
}

// parseAddr parses an IP address, refusing cheaply what cannot be one: netip.ParseAddr
// allocates its error, and most values of most fields are not addresses.
func parseAddr(s string) (netip.Addr, bool) {
	if s == "" || len(s) > len("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255%") {
		return netip.Addr{}, false
	}
	for i := 0; i < len(s); i++ {
		c := lower(s[i])
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || c == '.' || c == ':') {
			return netip.Addr{}, false
		}
	}
	a, err := netip.ParseAddr(s)
	return a, err == nil
}

// parseNumber parses a decimal number (integer or float, as strconv.ParseFloat reads it) or a
// 0x-prefixed hexadecimal integer. Like parseAddr it refuses cheaply what cannot be a number.
func parseNumber(s string) (float64, bool) {
	if len(s) > 2 && s[0] == '0' && lower(s[1]) == 'x' {
		for i := 2; i < len(s); i++ {
			if c := lower(s[i]); !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return 0, false
			}
		}
		if len(s) > 2+16 {
			return 0, false
		}
		u, err := strconv.ParseUint(s[2:], 16, 64)
		return float64(u), err == nil
	}
	digits := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9':
			digits = true
		case c == '.' || c == 'e' || c == 'E':
		case (c == '-' || c == '+') && (i == 0 || lower(s[i-1]) == 'e'):
		default:
			return 0, false
		}
	}
	if !digits {
		return 0, false
	}
	x, err := strconv.ParseFloat(s, 64)
	return x, err == nil
}
