package sigma

import (
	"strings"
	"unicode/utf8"

	"github.com/firewarden/firewarden/internal/detect/fold"
)

// This file holds the string patterns of Sigma values: wildcards "*" (any run of characters) and
// "?" (exactly one character, read as one UTF-8 rune), the escapes "\*", "\?" and "\\", and the
// windash character class. Folding is ASCII only: "A" matches "a", "É" matches only "É". That
// keeps matching allocation-free and makes Needles exact (see needles.go); the fields Sigma rules
// read (paths, argv, signing identifiers) are ASCII in practice.

// lower, lowerASCII and equalFold are the detector's one ASCII fold (package fold), whose
// offsets hold in the original text.
func lower(c byte) byte { return fold.Byte(c) }

func isLetter(c byte) bool { return 'a' <= lower(c) && lower(c) <= 'z' }

func lowerASCII(s string) string { return fold.Lower(s) }

// equalFold reports whether s equals p up to ASCII case; p must be lower case already.
func equalFold(s, p string) bool { return fold.Equal(s, p) }

// literal is a string to look for, lower case when the search folds case.
type literal struct {
	s string
	// at is where in s indexFold anchors its IndexByte scan: a byte that is not a letter, so it
	// has one case only (a space only when there is nothing else, spaces being common), or -1
	// when s is all letters.
	at int
}

func newLiteral(s string, fold bool) literal {
	if !fold {
		return literal{s: s, at: -1}
	}
	l := literal{s: lowerASCII(s), at: -1}
	for i := 0; i < len(s); i++ {
		switch {
		case isLetter(s[i]):
		case s[i] != ' ':
			l.at = i
			return l
		case l.at < 0:
			l.at = i
		}
	}
	return l
}

// index returns the offset of the first occurrence of l in s, or -1.
func (l *literal) index(s string, fold bool) int {
	if !fold {
		return strings.Index(s, l.s)
	}
	p := l.s
	n := len(p)
	switch {
	case n == 0:
		return 0
	case n > len(s):
		return -1
	}
	limit := len(s) - n + 1 // candidate starts are [0, limit)
	if l.at >= 0 {
		c, at := p[l.at], l.at
		for i := 0; i < limit; i++ {
			j := strings.IndexByte(s[i+at:limit+at], c)
			if j < 0 {
				return -1
			}
			i += j
			if equalFold(s[i:i+n], p) {
				return i
			}
		}
		return -1
	}
	// All letters: scan for the first byte in either case, remembering the next position of
	// each so that neither scan is repeated.
	lo, up := p[0], p[0]-('a'-'A')
	nextLo, nextUp := -1, -1
	for i := 0; i < limit; i++ {
		if nextLo < i {
			nextLo = nextIndex(s, i, limit, lo)
		}
		if nextUp < i {
			nextUp = nextIndex(s, i, limit, up)
		}
		i = min(nextLo, nextUp)
		if i >= limit {
			return -1
		}
		if equalFold(s[i:i+n], p) {
			return i
		}
	}
	return -1
}

// nextIndex returns the first index of c in s[from:limit], or limit when there is none.
func nextIndex(s string, from, limit int, c byte) int {
	if j := strings.IndexByte(s[from:limit], c); j >= 0 {
		return from + j
	}
	return limit
}

func (l *literal) equal(s string, fold bool) bool {
	if fold {
		return equalFold(s, l.s)
	}
	return s == l.s
}

func (l *literal) prefixOf(s string, fold bool) bool {
	return len(s) >= len(l.s) && l.equal(s[:len(l.s)], fold)
}

func (l *literal) suffixOf(s string, fold bool) bool {
	return len(s) >= len(l.s) && l.equal(s[len(s)-len(l.s):], fold)
}

// atomKind is what one piece of a segment matches.
type atomKind uint8

const (
	atomLit  atomKind = iota // the literal
	atomRune                 // any one rune ("?")
	atomDash                 // one of the windash characters
)

type atom struct {
	kind atomKind
	lit  literal
}

// segment is the part of a pattern between two "*": a run of atoms that match contiguously.
type segment []atom

// plain reports whether the segment is a single literal, the case the fast paths handle.
func (g segment) plain() bool { return len(g) == 1 && g[0].kind == atomLit }

// matchAt returns where the segment ends when it matches s at offset i, or -1.
func (g segment) matchAt(s string, i int, fold bool) int {
	for k := range g {
		a := &g[k]
		switch a.kind {
		case atomLit:
			n := len(a.lit.s)
			if len(s)-i < n || !a.lit.equal(s[i:i+n], fold) {
				return -1
			}
			i += n
		case atomRune:
			if i >= len(s) {
				return -1
			}
			_, w := utf8.DecodeRuneInString(s[i:])
			i += w
		case atomDash:
			w := dashAt(s, i)
			if w == 0 {
				return -1
			}
			i += w
		}
	}
	return i
}

// index finds the leftmost match of the segment in s at or after from, and returns its start and
// end, or -1, -1. Matches start on rune boundaries, as in regexp.
func (g segment) index(s string, from int, fold bool) (start, end int) {
	first := &g[0]
	if len(g) == 1 && first.kind == atomLit {
		k := first.lit.index(s[from:], fold)
		if k < 0 {
			return -1, -1
		}
		return from + k, from + k + len(first.lit.s)
	}
	for i := from; i <= len(s); {
		if first.kind == atomLit {
			k := first.lit.index(s[i:], fold)
			if k < 0 {
				return -1, -1
			}
			i += k
		}
		if e := g.matchAt(s, i, fold); e >= 0 {
			return i, e
		}
		if i == len(s) {
			break
		}
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
	}
	return -1, -1
}

// The windash characters, interchangeable under the windash modifier: hyphen-minus, slash,
// en dash, em dash and horizontal bar (Sigma modifiers appendix v2.1.0).
const (
	enDash        = "\u2013"
	emDash        = "\u2014"
	horizontalBar = "\u2015"
)

// dashAt returns the length of the windash character at s[i:], or 0 when there is none.
func dashAt(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	switch s[i] {
	case '-', '/':
		return 1
	case 0xe2:
		if t := s[i:]; strings.HasPrefix(t, enDash) || strings.HasPrefix(t, emDash) || strings.HasPrefix(t, horizontalBar) {
			return 3
		}
	}
	return 0
}

// glob is a compiled wildcard pattern: segments separated by "*", each anchored to the start or
// the end of the value when the pattern does not begin or end with "*".
type glob struct {
	segs       []segment
	start, end bool
}

// parseGlob reads a Sigma string value: "*" and "?" are wildcards; "\*", "\?" and "\\" stand for
// the character after the backslash; a backslash before anything else is itself. Under windash
// every windash character becomes a dash atom.
func parseGlob(v string, fold, windash bool) glob {
	var (
		g    = glob{start: true, end: true}
		seg  segment
		lit  []byte
		flat = func() {
			if len(lit) > 0 {
				seg = append(seg, atom{kind: atomLit, lit: newLiteral(string(lit), fold)})
				lit = lit[:0]
			}
		}
		cut = func() {
			flat()
			if len(seg) > 0 {
				g.segs = append(g.segs, seg)
				seg = nil
			}
		}
	)
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && i+1 < len(v) && (v[i+1] == '*' || v[i+1] == '?' || v[i+1] == '\\'):
			i++
			lit = append(lit, v[i])
		case c == '*':
			if i == 0 {
				g.start = false
			}
			if i == len(v)-1 {
				g.end = false
			}
			cut()
		case c == '?':
			flat()
			seg = append(seg, atom{kind: atomRune})
		case windash && dashAt(v, i) > 0:
			flat()
			seg = append(seg, atom{kind: atomDash})
			i += dashAt(v, i) - 1
		default:
			lit = append(lit, c)
		}
	}
	cut()
	return g
}

// match reports whether the whole of s matches the pattern. Placing each middle segment at its
// leftmost match is enough: a segment consumes whole runes, so an earlier start never ends later,
// and it leaves the most room for the segments after it.
func (g *glob) match(s string, fold bool) bool {
	segs := g.segs
	if len(segs) == 0 {
		// "" when anchored at both ends; otherwise only stars, which match anything.
		return !(g.start && g.end) || s == ""
	}
	pos := 0
	if g.start {
		pos = segs[0].matchAt(s, 0, fold)
		if pos < 0 {
			return false
		}
		segs = segs[1:]
		if len(segs) == 0 {
			return !g.end || pos == len(s)
		}
	}
	var last segment
	if g.end {
		last, segs = segs[len(segs)-1], segs[:len(segs)-1]
	}
	for _, seg := range segs {
		_, e := seg.index(s, pos, fold)
		if e < 0 {
			return false
		}
		pos = e
	}
	if last == nil {
		return true
	}
	if last.plain() {
		return len(s)-pos >= len(last[0].lit.s) && last[0].lit.suffixOf(s, fold)
	}
	for i := pos; i <= len(s); {
		if last.matchAt(s, i, fold) == len(s) {
			return true
		}
		if i == len(s) {
			break
		}
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
	}
	return false
}
