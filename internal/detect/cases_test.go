package detect

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/firewarden/firewarden/internal/detect/input"
)

var update = flag.Bool("update", false, "rewrite the expected alerts of testdata/cases")

// TestCases runs every directory of testdata/cases: its telemetry files (any name but those
// below) through the built-in rules (plus its rules/ directory and allow.yaml when present), and
// compares the alerts with expected.txt (their text lines; -update rewrites it) and with want
// (the rule names that must fire, in order, one per line; checked, never rewritten). A case whose
// name starts with neg- must raise nothing. The engine runs on event time, so the result is the
// same on every run. gencases.py wrote the telemetry.
func TestCases(t *testing.T) {
	dirs, err := filepath.Glob("testdata/cases/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			alerts := runCase(t, dir, true)
			var text bytes.Buffer
			var names []string
			for _, a := range alerts {
				text.WriteString(a.Text() + "\n")
				names = append(names, a.Rule.Name)
			}
			golden := filepath.Join(dir, "expected.txt")
			if *update {
				if err := os.WriteFile(golden, text.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), text.String()); diff != "" {
				t.Errorf("alerts differ from %s (-want +got):\n%s", golden, diff)
			}
			if strings.HasPrefix(filepath.Base(dir), "neg-") && len(alerts) > 0 {
				t.Errorf("a look-alike raised %d alerts:\n%s", len(alerts), text.String())
			}
			if w, err := os.ReadFile(filepath.Join(dir, "want")); err == nil {
				if diff := cmp.Diff(strings.Fields(string(w)), names, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("rules fired differ from %s/want (-want +got):\n%s", dir, diff)
				}
			}
		})
	}
}

// caseText is the alert lines of a case.
func caseText(t *testing.T, dir string, prefilter bool) string {
	var b strings.Builder
	for _, a := range runCase(t, dir, prefilter) {
		b.WriteString(a.Text() + "\n")
	}
	return b.String()
}

func runCase(t *testing.T, dir string, prefilter bool) []*Alert {
	t.Helper()
	var extra []string
	if st, err := os.Stat(filepath.Join(dir, "rules")); err == nil && st.IsDir() {
		extra = append(extra, filepath.Join(dir, "rules"))
	}
	rs, err := LoadRules(true, extra...)
	if err != nil {
		t.Fatal(err)
	}
	var allow *Allow
	if data, err := os.ReadFile(filepath.Join(dir, "allow.yaml")); err == nil {
		if allow, err = ParseAllow(data, "allow.yaml"); err != nil {
			t.Fatal(err)
		}
	}
	e := New(rs, Options{Allow: allow})
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var alerts []*Alert
	for _, ent := range entries {
		if ent.IsDir() || slices.Contains([]string{"expected.txt", "want", "allow.yaml"}, ent.Name()) {
			continue
		}
		f, err := os.Open(filepath.Join(dir, ent.Name()))
		if err != nil {
			t.Fatal(err)
		}
		opt := input.Options{}
		if prefilter {
			opt.Interesting = rs.Interesting()
		}
		r := input.NewReader(f, ent.Name(), opt)
		for {
			ev, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			alerts = append(alerts, e.Process(ev)...)
		}
		if st := r.Stats(); st.Malformed > 0 {
			t.Errorf("%s: %d malformed lines", ent.Name(), st.Malformed)
		}
		f.Close()
	}
	return append(alerts, e.Flush()...)
}
