package sigma

import (
	"fmt"
	"strconv"
	"strings"
)

// The condition grammar, loosest binding first (rules specification v2.0.0, "Condition"):
//
//	or     = and { "or" and }
//	and    = unary { "and" unary }
//	unary  = "not" unary | "(" or ")" | quant "of" target | identifier
//	quant  = "1" | "any" | "all" | N
//	target = "them" | identifier pattern with "*"
//
// Keywords are read without regard to case.

type exprOp uint8

const (
	opSearch exprOp = iota
	opAnd
	opOr
	opNot
	opAtLeast // at least n of kids
)

// expr is a compiled condition.
type expr struct {
	op   exprOp
	s    *search // opSearch
	kids []*expr
	n    int // opAtLeast
}

func (e *expr) eval(f Fields) bool {
	switch e.op {
	case opSearch:
		if len(e.s.alts) == 1 {
			return allMatch(e.s.alts[0], f)
		}
		return e.s.match(f)
	case opAnd:
		for _, k := range e.kids {
			if !k.eval(f) {
				return false
			}
		}
		return true
	case opOr:
		for _, k := range e.kids {
			if k.eval(f) {
				return true
			}
		}
		return false
	case opNot:
		return !e.kids[0].eval(f)
	}
	n := 0
	for i, k := range e.kids {
		if k.eval(f) {
			if n++; n >= e.n {
				return true
			}
		}
		if n+len(e.kids)-i-1 < e.n {
			return false
		}
	}
	return false
}

var conditionKeywords = []string{"and", "or", "not", "of", "them", "all", "any", "near"}

func isKeyword(s string) bool {
	for _, k := range conditionKeywords {
		if strings.EqualFold(s, k) {
			return true
		}
	}
	return false
}

// conditionError is a bad condition; unsupported marks aggregations.
type conditionError struct {
	msg         string
	unsupported bool
}

func (e *conditionError) Error() string { return e.msg }

type token struct {
	text string
	pos  int // byte offset in the condition
}

type condParser struct {
	src      string
	toks     []token
	i        int
	searches []*search
	byName   map[string]*search
	used     map[*search]bool
}

// parseCondition compiles one condition over the rule's searches, marking those it uses.
func parseCondition(src string, searches []*search, byName map[string]*search, used map[*search]bool) (*expr, error) {
	c := &condParser{src: src, searches: searches, byName: byName, used: used}
	for i := 0; i < len(src); {
		switch ch := src[i]; {
		case ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r':
			i++
		case ch == '(' || ch == ')':
			c.toks = append(c.toks, token{src[i : i+1], i})
			i++
		case ch == '|':
			return nil, &conditionError{msg: "aggregations are not supported", unsupported: true}
		default:
			j := i
			for j < len(src) && !strings.ContainsRune(" \t\n\r()|", rune(src[j])) {
				j++
			}
			if strings.EqualFold(src[i:j], "near") {
				return nil, &conditionError{msg: "aggregations are not supported", unsupported: true}
			}
			c.toks = append(c.toks, token{src[i:j], i})
			i = j
		}
	}
	if len(c.toks) == 0 {
		return nil, c.errorf("empty condition")
	}
	e, err := c.or()
	if err != nil {
		return nil, err
	}
	if t, ok := c.peek(); ok {
		return nil, c.errorf("unexpected %q at column %d", t.text, t.pos+1)
	}
	return e, nil
}

func (c *condParser) errorf(format string, args ...any) error {
	return &conditionError{msg: fmt.Sprintf(format, args...)}
}

func (c *condParser) peek() (token, bool) {
	if c.i < len(c.toks) {
		return c.toks[c.i], true
	}
	return token{}, false
}

// is reports whether the next token is the keyword kw, and consumes it if so.
func (c *condParser) is(kw string) bool {
	if t, ok := c.peek(); ok && strings.EqualFold(t.text, kw) {
		c.i++
		return true
	}
	return false
}

func (c *condParser) or() (*expr, error) {
	return c.chain("or", opOr, c.and)
}

func (c *condParser) and() (*expr, error) {
	return c.chain("and", opAnd, c.unary)
}

func (c *condParser) chain(kw string, op exprOp, next func() (*expr, error)) (*expr, error) {
	e, err := next()
	if err != nil {
		return nil, err
	}
	for c.is(kw) {
		r, err := next()
		if err != nil {
			return nil, err
		}
		if e.op != op {
			e = &expr{op: op, kids: []*expr{e}}
		}
		e.kids = append(e.kids, r)
	}
	return e, nil
}

func (c *condParser) unary() (*expr, error) {
	t, ok := c.peek()
	if !ok {
		return nil, c.errorf("expected a search identifier at the end")
	}
	switch low := strings.ToLower(t.text); {
	case low == "not":
		c.i++
		e, err := c.unary()
		if err != nil {
			return nil, err
		}
		return &expr{op: opNot, kids: []*expr{e}}, nil
	case low == "(":
		c.i++
		e, err := c.or()
		if err != nil {
			return nil, err
		}
		if !c.is(")") {
			if t, ok := c.peek(); ok {
				return nil, c.errorf("expected ')' at column %d, found %q", t.pos+1, t.text)
			}
			return nil, c.errorf("missing ')' for '(' at column %d", t.pos+1)
		}
		return e, nil
	case c.i+1 < len(c.toks) && strings.EqualFold(c.toks[c.i+1].text, "of"):
		c.i += 2
		return c.quantified(t)
	case low == ")" || isKeyword(low):
		return nil, c.errorf("expected a search identifier at column %d, found %q", t.pos+1, t.text)
	}
	c.i++
	s := c.byName[t.text]
	if s == nil {
		return nil, c.errorf("undefined search identifier %q", t.text)
	}
	c.used[s] = true
	return &expr{op: opSearch, s: s}, nil
}

// quantified compiles "quant of target", its first two tokens consumed.
func (c *condParser) quantified(q token) (*expr, error) {
	t, ok := c.peek()
	if !ok {
		return nil, c.errorf("expected a pattern or them after %q", q.text+" of")
	}
	c.i++
	var matched []*search
	if strings.EqualFold(t.text, "them") {
		for _, s := range c.searches {
			if !strings.HasPrefix(s.name, "_") {
				matched = append(matched, s)
			}
		}
	} else {
		if t.text == "(" || t.text == ")" || isKeyword(t.text) {
			return nil, c.errorf("expected a pattern or them at column %d, found %q", t.pos+1, t.text)
		}
		// Only "*" is a wildcard in identifier patterns.
		g := parseGlob(strings.ReplaceAll(t.text, "?", `\?`), false, false)
		for _, s := range c.searches {
			if g.match(s.name, false) {
				matched = append(matched, s)
			}
		}
	}
	if len(matched) == 0 {
		return nil, c.errorf("%q matches no search identifier", t.text)
	}
	n := 0
	switch strings.ToLower(q.text) {
	case "1", "any":
		n = 1
	case "all":
		n = len(matched)
	default:
		var err error
		n, err = strconv.Atoi(q.text)
		if err != nil || n < 1 {
			return nil, c.errorf("expected 1, any, all or a count before of at column %d, found %q", q.pos+1, q.text)
		}
		if n > len(matched) {
			return nil, c.errorf("%q asks for %d of %d search identifiers", q.text+" of "+t.text, n, len(matched))
		}
	}
	kids := make([]*expr, len(matched))
	for i, s := range matched {
		c.used[s] = true
		kids[i] = &expr{op: opSearch, s: s}
	}
	switch {
	case len(kids) == 1:
		return kids[0], nil
	case n == 1:
		return &expr{op: opOr, kids: kids}, nil
	case n == len(kids):
		return &expr{op: opAnd, kids: kids}, nil
	}
	return &expr{op: opAtLeast, kids: kids, n: n}, nil
}
