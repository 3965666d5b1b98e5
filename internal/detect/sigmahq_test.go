package detect

import (
	"cmp"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestSigmaHQShare measures how much of SigmaHQ's macOS and Linux rules firewarden can use: the
// share of rule files that load, and of rules that are matchable (their logsource is one
// firewarden produces and every field they read is one it fills), with the commonest reasons for
// the rest. It needs a checkout of github.com/SigmaHQ/sigma (its rules are under the Detection
// Rule License and are not part of this repository):
//
//	FIREWARDEN_SIGMA_REPO=/path/to/sigma go test -run TestSigmaHQShare -v ./internal/detect
func TestSigmaHQShare(t *testing.T) {
	repo := os.Getenv("FIREWARDEN_SIGMA_REPO")
	if repo == "" {
		t.Skip("set FIREWARDEN_SIGMA_REPO to a checkout of github.com/SigmaHQ/sigma to measure the share of its rules firewarden can use")
	}
	for _, sub := range []string{"rules/macos", "rules/linux"} {
		t.Run(sub, func(t *testing.T) {
			dir := filepath.Join(repo, filepath.FromSlash(sub))
			var files []string
			err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() && (filepath.Ext(p) == ".yml" || filepath.Ext(p) == ".yaml") {
					files = append(files, p)
				}
				return err
			})
			if err != nil || len(files) == 0 {
				t.Fatalf("no rule files under %s: %v", dir, err)
			}
			rs, err := LoadRules(false, dir)
			if err != nil {
				t.Fatalf("LoadRules(%s) = %v", dir, err)
			}
			loaded := map[string]bool{}
			for _, r := range rs.Rules {
				loaded[r.File] = true
			}
			reasons := map[string]int{}
			skipped, warned := map[string]bool{}, map[string]bool{}
			for _, w := range rs.Warnings {
				if !slices.Contains(files, w.File) {
					t.Errorf("warning %q names a file that is not a rule file of %s", w, dir)
				}
				switch w.Kind {
				case FileSkipped:
					skipped[w.File] = true
					if w.Line == 0 {
						t.Errorf("warning %q has no line", w)
					}
					reasons["does not load: "+genericReason(w.Msg)]++
				case NeverApplies:
					warned[w.Rule] = true
					reasons["never applies: "+strings.TrimPrefix(w.Msg[strings.Index(w.Msg, "its logsource ")+len("its logsource "):], "")]++
				case NeverMatches, UnfilledFields:
					if w.Kind == NeverMatches {
						warned[w.Rule] = true
					}
					for _, f := range w.Fields {
						reasons[fmt.Sprintf("reads %s, never filled (%s)", f, map[WarningKind]string{NeverMatches: "cannot match", UnfilledFields: "matches partly"}[w.Kind])]++
					}
					if w.Kind == UnfilledFields {
						warned[w.Rule] = true
					}
				}
			}
			if len(loaded)+len(skipped) != len(files) {
				t.Errorf("%d files loaded and %d skipped, of %d: every file must be one or the other", len(loaded), len(skipped), len(files))
			}
			matchable, before := 0, 0
			for _, r := range rs.Rules {
				if warned[r.Name] {
					continue
				}
				matchable++
				if !slices.ContainsFunc(r.Fields(), func(f string) bool { return f == "ParentCommandLine" || f == "CurrentDirectory" }) {
					before++
				}
			}
			t.Logf("%s: %d rule files; %d load (%.0f%%); %d of %d rules matchable (%.0f%% of the files); %d without the fields issue 16 added (ParentCommandLine, CurrentDirectory)",
				sub, len(files), len(loaded), pct(len(loaded), len(files)), matchable, len(rs.Rules), pct(matchable, len(files)), before)
			keys := slices.SortedFunc(maps.Keys(reasons), func(a, b string) int {
				return cmp.Or(reasons[b]-reasons[a], strings.Compare(a, b))
			})
			for i, k := range keys {
				if i == 15 {
					t.Logf("  … %d more reasons", len(keys)-i)
					break
				}
				t.Logf("  %4d  %s", reasons[k], k)
			}
		})
	}
}

func pct(n, of int) float64 { return 100 * float64(n) / float64(of) }

var quotedRe = regexp.MustCompile(`"[^"]*"`)

// genericReason is a FileSkipped warning's message without what is particular to the file (quotedRe
// names, values and conditions), so that like reasons count together.
func genericReason(msg string) string {
	msg = strings.TrimSuffix(msg, skippedNote)
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.Contains(msg[:i], `"`) {
		msg = msg[i+2:]
	}
	return quotedRe.ReplaceAllString(msg, `"…"`)
}
