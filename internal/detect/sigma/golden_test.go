package sigma

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.yaml.in/yaml/v4"
)

// goldenEvent is one entry of a testdata events.yml: an event and the ids of the rules it must
// trigger.
type goldenEvent struct {
	Name   string         `yaml:"name"`
	Fields map[string]any `yaml:"fields"`
	Want   []string       `yaml:"want"`
}

func (g *goldenEvent) event(t testing.TB) event {
	e := event{}
	for k, v := range g.Fields {
		switch v := v.(type) {
		case []any:
			for _, x := range v {
				e[k] = append(e[k], fmt.Sprint(x))
			}
		default:
			e[k] = []string{fmt.Sprint(v)}
		}
	}
	return e
}

func loadRules(t testing.TB, path string, opts ...Option) []*Rule {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := Parse(data, path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

// TestGolden runs each testdata directory's events through its rules (see the README there).
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/events.yml")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no testdata/*/events.yml (%v)", err)
	}
	for _, eventsPath := range dirs {
		dir := filepath.Dir(eventsPath)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			rules := loadRules(t, filepath.Join(dir, "rules.yml"))
			data, err := os.ReadFile(eventsPath)
			if err != nil {
				t.Fatal(err)
			}
			var events []goldenEvent
			if err := yaml.Load(data, &events); err != nil {
				t.Fatalf("%s: %v", eventsPath, err)
			}
			ids := map[string]bool{}
			for _, r := range rules {
				ids[r.ID] = true
			}
			hit := map[string]bool{}
			for _, g := range events {
				t.Run(g.Name, func(t *testing.T) {
					e := g.event(t)
					var got []string
					for _, r := range rules {
						if r.Match(e) {
							got = append(got, r.ID)
							hit[r.ID] = true
						}
						checkNeedles(t, r, e)
					}
					want := slices.Clone(g.Want)
					for _, id := range want {
						if !ids[id] {
							t.Errorf("want names rule %q, which %s does not hold", id, dir)
						}
					}
					slices.Sort(got)
					slices.Sort(want)
					if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
						t.Errorf("rules matching %v (-want +got):\n%s", e, diff)
					}
				})
			}
			for id := range ids {
				if !hit[id] {
					t.Errorf("rule %s matches no event of %s: add one", id, eventsPath)
				}
			}
		})
	}
}
