package sigma

// This file answers, before any event is seen, whether a rule can match at all when some of the
// fields it reads are never filled by the caller: a selection "OriginalFileName: x" never holds
// then, "OriginalFileName: null" always does, and the condition decides what that does to the
// rule.

// tri is a truth value that may not be known before an event is seen.
type tri uint8

const (
	never  tri = iota // false on every event
	maybe             // depends on the event
	always            // true on every event
)

// absent is an event on which no field has a value.
type absent struct{}

func (absent) Values(string) ([]string, bool) { return nil, false }

// CanMatch reports whether some event can satisfy the rule when the fields for which filled
// returns false are absent from every event, and the others may hold anything. It errs towards
// true: a condition on a filled field is taken to hold on some event.
func (r *Rule) CanMatch(filled func(field string) bool) bool {
	for _, c := range r.conds {
		if c.reach(filled) != never {
			return true
		}
	}
	return false
}

func (e *expr) reach(filled func(string) bool) tri {
	switch e.op {
	case opSearch:
		return e.s.reach(filled)
	case opNot:
		return always - e.kids[0].reach(filled)
	case opAnd:
		t := always
		for _, k := range e.kids {
			t = min(t, k.reach(filled))
		}
		return t
	case opOr:
		t := never
		for _, k := range e.kids {
			t = max(t, k.reach(filled))
		}
		return t
	}
	yes, may := 0, 0 // opAtLeast
	for _, k := range e.kids {
		switch k.reach(filled) {
		case always:
			yes++
		case maybe:
			may++
		}
	}
	switch {
	case yes >= e.n:
		return always
	case yes+may >= e.n:
		return maybe
	}
	return never
}

// reach is the search's value: one of its maps must hold entirely.
func (s *search) reach(filled func(string) bool) tri {
	t := never
	for _, conds := range s.alts {
		a := always
		for _, c := range conds {
			a = min(a, c.reach(filled))
		}
		t = max(t, a)
	}
	return t
}

// reach is the condition's value: known when every field it reads is one never filled (it is
// then what it is on an event without them), unknown otherwise.
func (c *cond) reach(filled func(string) bool) tri {
	if c.name != "" && filled(c.name) {
		return maybe
	}
	for _, n := range c.names {
		if filled(n) {
			return maybe
		}
	}
	for _, m := range c.any {
		if m.kind == matchFieldRef && filled(m.ref) {
			return maybe
		}
	}
	if c.match(absent{}) {
		return always
	}
	return never
}
