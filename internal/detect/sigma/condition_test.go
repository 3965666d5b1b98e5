package sigma

import (
	"fmt"
	"path"
	"strings"
	"testing"
)

// condSearches defines the search identifiers among a, b, c and _d that cond uses (an unused one
// is an error), each true when the event has the field of its name (A, B, C, D) set to "1".
func condSearches(cond string) string {
	words := strings.Fields(strings.NewReplacer("(", " ", ")", " ").Replace(strings.ToLower(cond)))
	var b strings.Builder
	for _, name := range []string{"a", "b", "c", "_d"} {
		for _, w := range words {
			if ok, _ := path.Match(w, name); ok || w == "them" && name != "_d" {
				fmt.Fprintf(&b, "%s: {%s: 1}\n", name, strings.ToUpper(name[len(name)-1:]))
				break
			}
		}
	}
	return b.String()
}

func TestCondition(t *testing.T) {
	type want map[string]bool // event (the set fields, "" for none) -> Match
	for _, tc := range []struct {
		cond string
		want want
	}{
		{"a", want{"A": true, "B": false, "": false}},
		{"a and b", want{"AB": true, "A": false, "B": false}},
		{"a or b", want{"A": true, "B": true, "C": false}},
		{"not a", want{"A": false, "": true, "B": true}},
		{"a and not b", want{"A": true, "AB": false}},
		{"not not a", want{"A": true, "": false}},
		{"a or b and c", want{"A": true, "BC": true, "B": false, "C": false}},        // and binds tighter
		{"a and b or c", want{"AB": true, "C": true, "A": false, "BC": true}},        // (a and b) or c
		{"not a or b", want{"": true, "A": false, "AB": true}},                       // (not a) or b
		{"not a and b", want{"B": true, "AB": false, "": false}},                     // (not a) and b
		{"(a or b) and c", want{"AC": true, "BC": true, "A": false, "C": false}},     // parentheses
		{"not (a or b)", want{"": true, "A": false, "B": false, "C": true}},          // not of a group
		{"((a))", want{"A": true, "": false}},                                        // nested parentheses
		{"a and (b or (c and _d))", want{"AB": true, "ACD": true, "AC": false}},      // deep nesting
		{"1 of them", want{"A": true, "C": true, "D": false, "": false}},             // them leaves out _d
		{"all of them", want{"ABC": true, "AB": false, "ABCD": true}},                // them leaves out _d
		{"any of them", want{"B": true, "D": false}},                                 // any is 1
		{"1 of them or _d", want{"D": true, "": false}},                              // _d by name
		{"1 of _*", want{"D": true, "A": false}},                                     // a pattern may name _d
		{"all of *", want{"ABC": false, "ABCD": true}},                               // * matches _d too
		{"2 of them", want{"AB": true, "AC": true, "A": false, "ABC": true}},         // at least two
		{"3 of them", want{"ABC": true, "AB": false}},                                // at least three
		{"1 of a* and not _d", want{"A": true, "AD": false}},                         // x of binds tighter than and
		{"not 1 of them", want{"": true, "A": false, "D": true}},                     // not binds looser than x of
		{"all of them and not _d", want{"ABC": true, "ABCD": false}},                 //
		{"a OR b AND NOT c", want{"A": true, "B": true, "BC": false}},                // keywords ignore case
		{"1 OF THEM and not _d", want{"A": true}},                                    //
		{"(a)and(b)", want{"AB": true, "A": false}},                                  // parentheses split words
		{"a\n  or b", want{"B": true}},                                               // any whitespace
		{"not a and not b and not c and not _d", want{"": true, "A": false}},         //
		{"a or b or c or _d", want{"D": true, "": false}},                            //
		{"a and b and c and _d", want{"ABCD": true, "ABC": false}},                   //
		{"(a or b) and (c or _d)", want{"AC": true, "BD": true, "AB": false}},        //
		{"not (a and b) and (c or _d)", want{"ABC": false, "AC": true, "D": true}},   //
		{"1 of them and not (a and b)", want{"A": true, "AB": false, "C": true}},     //
		{"all of them or (_d and not a)", want{"D": true, "AD": false, "ABC": true}}, //
	} {
		for fields, want := range tc.want {
			t.Run(fmt.Sprintf("%s/%s", tc.cond, fields), func(t *testing.T) {
				r := mustRule(t, condSearches(tc.cond)+"condition: "+quoteYAML(tc.cond)+"\n")
				e := event{}
				for _, f := range fields {
					e[string(f)] = []string{"1"}
				}
				if got := r.Match(e); got != want {
					t.Errorf("Match(%v) under %q = %v, want %v", e, tc.cond, got, want)
				}
			})
		}
	}
}

// quoteYAML quotes s as a YAML double-quoted scalar.
func quoteYAML(s string) string { return fmt.Sprintf("%q", s) }

func TestConditionList(t *testing.T) {
	// Several conditions: one must hold.
	r := mustRule(t, condSearches("a b c _d")+"condition:\n    - a and b\n    - c and not _d\n")
	for fields, want := range map[string]bool{"AB": true, "C": true, "CD": false, "A": false, "ABCD": true} {
		e := event{}
		for _, f := range fields {
			e[string(f)] = []string{"1"}
		}
		if got := r.Match(e); got != want {
			t.Errorf("Match(%v) = %v, want %v", e, got, want)
		}
	}
}
