// Package sigma parses Sigma detection rules and evaluates them against events.
//
// Parse compiles each rule once: literal values are lowered, wildcard values become equality,
// prefix, suffix and substring checks (a general matcher only for "?" and windash), regular
// expressions and CIDR prefixes are parsed, and the condition becomes a tree over the compiled
// searches. Match then runs without allocating. A Rule is immutable after Parse and safe for
// concurrent use.
//
// Semantics follow the Sigma specification (SigmaHQ sigma-specification: rules v2.0.0,
// modifiers appendix v2.1.0):
//
//   - A search identifier is a map (all entries must hold), a list of maps (one must hold) or a
//     list of keywords (one must occur in a keyword field; see KeywordFields). A field given a
//     list of values matches when one of them does, or all of them with "|all".
//   - A field with several values (argv, ancestry) matches when one of its values does; under
//     "|all" each rule value may be met by a different field value.
//   - Values are case-insensitive unless "|cased"; folding is ASCII only. "*" and "?" are
//     wildcards, "\*", "\?" and "\\" escape them. Numbers and booleans compare as written.
//     "null" matches a field that is absent or has only empty values; an empty string matches
//     an empty value.
//   - Modifiers: contains, startswith, endswith, all, cased, exists, windash, re (with i, m, s),
//     cidr, gt, gte, lt, lte, fieldref, base64, base64offset, and utf16le, utf16be, utf16, wide
//     before a base64 modifier. Regular expressions are Go's (RE2) and case-sensitive unless
//     "|i", as the specification says. Base64 values compare case-sensitively: folding base64
//     text would match other plaintexts.
//   - Keywords (plain lists, or a "|modifiers" key with no field name) are substring searches.
//   - Conditions: and, or, not, parentheses, "1 of", "any of", "all of" and "N of" a pattern or
//     "them" (which leaves out identifiers starting with "_"); precedence not > and > or. A list
//     of conditions holds when one of them does.
//
// Refused at Parse, with an error that wraps errors.ErrUnsupported: aggregations ("| count()",
// "near", "timeframe"), rule collections ("action"), correlation and filter documents, the
// expand modifier (placeholders) and the modifiers neq, minute, hour, day, week, month, year.
package sigma

import (
	"errors"
	"fmt"
	"slices"
)

// Fields is what a rule reads from an event. Values returns every value of the named field (a
// list-valued field gives several) and whether the event has the field at all. Match calls it on
// every evaluation, so it should not allocate: return slices the event already holds.
type Fields interface {
	Values(name string) ([]string, bool)
}

// Rule is one Sigma detection rule, compiled.
type Rule struct {
	ID, Title, Status, Description, Author, Date, Modified string
	// Level is one of informational, low, medium, high and critical, or "" when unset.
	Level                            string
	Tags, References, FalsePositives []string
	Logsource                        Logsource
	// Custom holds the top-level keys Sigma does not define, decoded as YAML decodes into any.
	// Keys Sigma defines but this package does not keep (name, related, taxonomy, license,
	// fields, scope) are not here.
	Custom map[string]any
	// File and Line are where the rule was read: the file given to Parse and the line of the
	// rule's first key.
	File string
	Line int

	conds    []*expr // the conditions; one must hold
	searches []*search
	fields   []string
	needles  []string
}

// Logsource is the kind of log a rule applies to.
type Logsource struct {
	Category, Product, Service, Definition string
}

// Match reports whether the event satisfies the rule's detection.
func (r *Rule) Match(f Fields) bool {
	for _, c := range r.conds {
		if c.eval(f) {
			return true
		}
	}
	return false
}

// Fields returns the names of the fields the rule reads, sorted: those of its selections, the
// keyword fields when it has keywords, and the targets of fieldref.
func (r *Rule) Fields() []string { return slices.Clone(r.fields) }

// Needles returns lower-case literal strings at least one of which occurs in the ASCII-lowercased
// value of some field the rule reads whenever the rule matches, or nil when the rule gives no such
// guarantee (for instance "not filter", a regular expression with "|i", a CIDR or a number). It
// lets a caller skip events whose text holds none of them.
//
// Needles are drawn only from characters that text formats leave as they are: letters, digits,
// space and the ASCII punctuation other than \ " / ' < > & (JSON escapes "/" as "\/" in Apple's
// encoders and "<>&" in Go's). So a needle found in a field value is also found in any JSON,
// logfmt or XML line holding that value, lowercased or searched without regard to ASCII case.
// Filtering raw lines is sound only when every field in Fields is read from the line itself: a
// value the caller derives elsewhere (a parent's image from a process table) may hold the needle
// when the line does not. NeedlesFor leaves such fields out.
func (r *Rule) Needles() []string { return slices.Clone(r.needles) }

// NeedlesFor is Needles drawn only from conditions on the fields for which visible returns true:
// those a caller's raw lines hold as they are. A keyword list counts only when all the keyword
// fields are visible.
func (r *Rule) NeedlesFor(visible func(field string) bool) []string {
	return ruleNeedles(r.conds, visible)
}

// Option changes how Parse reads rules.
type Option func(*options)

type options struct {
	keywordFields []string
}

// KeywordFields sets the fields in which keyword lists are searched (default "CommandLine").
func KeywordFields(names ...string) Option {
	return func(o *options) { o.keywordFields = slices.Clone(names) }
}

// Error is a rule that cannot be used: where it is and what is wrong. Errors for Sigma features
// this package does not implement match errors.ErrUnsupported under errors.Is.
type Error struct {
	File string
	Line int // 1-based; 0 when unknown
	Msg  string

	unsupported bool
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// Is reports whether target is errors.ErrUnsupported and the error is about a Sigma feature this
// package does not implement.
func (e *Error) Is(target error) bool { return e.unsupported && target == errors.ErrUnsupported }
