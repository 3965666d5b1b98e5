package sigma

import (
	"os"
	"testing"
)

// benchEvents are realistic eight-field process events: one that the benchmark rules flag and
// one ordinary developer command they must all let through.
var benchEvents = map[string]event{
	"positive": {
		"Image":             {"/usr/libexec/ApplicationFirewall/socketfilterfw"},
		"CommandLine":       {"/usr/libexec/ApplicationFirewall/socketfilterfw --setglobalstate off"},
		"ParentImage":       {"/bin/zsh"},
		"ParentCommandLine": {"-zsh"},
		"User":              {"root"},
		"SigningID":         {"com.apple.socketfilterfw"},
		"TeamID":            {""},
		"CurrentDirectory":  {"/Users/alice"},
	},
	"negative": {
		"Image":             {"/Applications/Xcode.app/Contents/Developer/usr/bin/git"},
		"CommandLine":       {"/Applications/Xcode.app/Contents/Developer/usr/bin/git -C /Users/alice/src/firewarden status --porcelain=v2 --branch"},
		"ParentImage":       {"/bin/zsh"},
		"ParentCommandLine": {"/bin/zsh -il"},
		"User":              {"alice"},
		"SigningID":         {"com.apple.git"},
		"TeamID":            {""},
		"CurrentDirectory":  {"/Users/alice/src/firewarden"},
	},
}

// benchMatches counts the rules that match each bench event, so that a change to the rules or
// the evaluator that alters the work measured is noticed.
var benchMatches = map[string]int{"positive": 2, "negative": 0}

func benchRules(tb testing.TB) []*Rule {
	rules := loadRules(tb, "testdata/bench/rules.yml")
	if len(rules) != 30 {
		tb.Fatalf("testdata/bench/rules.yml holds %d rules, want 30", len(rules))
	}
	return rules
}

func matchAll(rules []*Rule, f Fields) int {
	n := 0
	for _, r := range rules {
		if r.Match(f) {
			n++
		}
	}
	return n
}

func TestBenchRules(t *testing.T) {
	rules := benchRules(t)
	for name, e := range benchEvents {
		if got, want := matchAll(rules, e), benchMatches[name]; got != want {
			t.Errorf("%s event matches %d rules, want %d", name, got, want)
		}
		for _, r := range rules {
			checkNeedles(t, r, e)
		}
	}
}

// TestMatchAllocs holds Match to its promise of no allocation.
func TestMatchAllocs(t *testing.T) {
	rules := benchRules(t)
	for name, e := range benchEvents {
		if n := testing.AllocsPerRun(100, func() { matchAll(rules, e) }); n != 0 {
			t.Errorf("matching the %s event against 30 rules: %v allocations, want 0", name, n)
		}
	}
	// The paths the bench event does not take: CIDR, numbers, null, fieldref, globs.
	r := mustRule(t, `sel:
    - Ip|cidr: [10.0.0.0/8, '2001:db8::/32']
    - Uid|gt: 500
    - Tty: null
    - ParentImage|fieldref: Image
    - CommandLine|windash: '*pfctl ?d*'
    - CommandLine|base64offset|contains: pfctl`)
	e := ev("Ip=2001:db8::1", "Ip=not an address", "Uid=0x1f5", "Uid=abc", "Tty=/dev/ttys000",
		"Image=/bin/a", "ParentImage=/bin/b", "CommandLine=sudo pfctl \u2013e")
	if n := testing.AllocsPerRun(100, func() { r.Match(e) }); n != 0 {
		t.Errorf("Match on the other paths: %v allocations, want 0", n)
	}
}

// BenchmarkMatch evaluates the 30 benchmark rules against one eight-field event; ns/op is per
// event, ns/rule per rule.
func BenchmarkMatch(b *testing.B) {
	rules := benchRules(b)
	for _, name := range []string{"positive", "negative"} {
		e := benchEvents[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				n += matchAll(rules, e)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(rules)), "ns/rule")
			if n != benchMatches[name]*b.N {
				b.Fatalf("%d matches in %d runs, want %d per run", n, b.N, benchMatches[name])
			}
		})
	}
}

// BenchmarkParse compiles the 30 benchmark rules.
func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile("testdata/bench/rules.yml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data, "rules.yml"); err != nil {
			b.Fatal(err)
		}
	}
}
