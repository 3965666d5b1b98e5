package sigma

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestCanMatch(t *testing.T) {
	filled := func(names ...string) func(string) bool {
		return func(f string) bool { return slices.Contains(names, f) }
	}
	known := filled("Image", "CommandLine", "ParentImage")
	for _, tc := range []struct {
		name, detection string
		want            bool
	}{
		{"filled only", "sel:\n    Image|endswith: /pfctl\n  condition: sel", true},
		{"unfilled in the one selection", "sel:\n    Image|endswith: /pfctl\n    OriginalFileName: pfctl\n  condition: sel", false},
		{"unfilled in an or", "a:\n    Image|endswith: /pfctl\n  b:\n    OriginalFileName: pfctl\n  condition: a or b", true},
		{"unfilled in 1 of", "sel_a:\n    Image|endswith: /pfctl\n  sel_b:\n    OriginalFileName: pfctl\n  condition: 1 of sel_*", true},
		{"unfilled in all of", "sel_a:\n    Image|endswith: /pfctl\n  sel_b:\n    OriginalFileName: pfctl\n  condition: all of sel_*", false},
		{"unfilled alternative of a list", "sel:\n    - Image|endswith: /pfctl\n    - Hashes|contains: abc\n  condition: sel", true},
		{"unfilled in both alternatives", "sel:\n    - Company: Apple\n    - Hashes|contains: abc\n  condition: sel", false},
		{"unfilled filter", "sel:\n    Image|endswith: /pfctl\n  filter:\n    OriginalFileName: pfctl\n  condition: sel and not filter", true},
		{"not of an unfilled selection alone", "filter:\n    OriginalFileName: pfctl\n  condition: not filter", true},
		{"null on an unfilled field", "sel:\n    Image|endswith: /pfctl\n    OriginalFileName: null\n  condition: sel", true},
		{"exists false on an unfilled field", "sel:\n    Image|endswith: /pfctl\n    Hashes|exists: false\n  condition: sel", true},
		{"exists true on an unfilled field", "sel:\n    Image|endswith: /pfctl\n    Hashes|exists: true\n  condition: sel", false},
		{"2 of three, one unfilled", "s1:\n    Image: a\n  s2:\n    CommandLine: b\n  s3:\n    Hashes: c\n  condition: 2 of s*", true},
		{"2 of three, two unfilled", "s1:\n    Image: a\n  s2:\n    Company: b\n  s3:\n    Hashes: c\n  condition: 2 of s*", false},
		{"keywords", "keywords:\n    - pfctl\n  condition: keywords", true},
		{"fieldref to a filled field", "sel:\n    Image|fieldref: ParentImage\n  condition: sel", true},
		{"a list of conditions", "a:\n    Hashes: x\n  b:\n    Image: y\n  condition:\n    - a\n    - b", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rules, err := Parse([]byte("title: t\ndetection:\n  "+tc.detection+"\n"), "t.yml")
			if err != nil {
				t.Fatal(err)
			}
			if got := rules[0].CanMatch(known); got != tc.want {
				t.Errorf("CanMatch(%s) = %v, want %v", strings.ReplaceAll(tc.detection, "\n", " "), got, tc.want)
			}
		})
	}
}

// checkReach checks CanMatch against Match on e: with field C never filled, a rule that matches
// e without C must be reported as able to match; with no field filled, CanMatch is exactly
// whether the rule matches the empty event.
func checkReach(t *testing.T, r *Rule, e event) {
	t.Helper()
	noC := event{}
	for k, v := range e {
		if k != "C" {
			noC[k] = v
		}
	}
	if r.Match(noC) && !r.CanMatch(func(f string) bool { return f != "C" }) {
		t.Fatalf("CanMatch(all but C) = false, but the rule matches %q", noC)
	}
	none := func(string) bool { return false }
	if got, want := r.CanMatch(none), r.Match(event{}); got != want {
		t.Fatalf("CanMatch(no field) = %v, but Match(empty event) = %v", got, want)
	}
}

// TestReachGenerated runs checkReach over generated rules and events.
func TestReachGenerated(t *testing.T) {
	n := uint64(2000)
	if testing.Short() {
		n = 200
	}
	for seed := range n {
		gr := newGenRule(seed)
		rules, err := Parse([]byte(gr.text()), "gen.yml", KeywordFields("A", "B"))
		if err != nil {
			t.Fatalf("seed %d: Parse: %v\n%s", seed, err, gr.text())
		}
		g := gen{rand.New(rand.NewPCG(seed^0x5eed, seed))}
		for range 30 {
			checkReach(t, rules[0], g.event())
		}
	}
}
