package detect

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const goodRule = "title: %s\nlogsource:\n  product: macos\n  category: process_creation\ndetection:\n  sel:\n    Image|endswith: /pfctl\n  condition: sel\n"

func writeRules(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// One bad file in a folder is passed over with one warning naming file:line and the reason; the
// rest load. A folder of which nothing loads, a bad file given by itself, and any bad file under
// Strict are errors.
func TestLoadSkipsBadFiles(t *testing.T) {
	bad := map[string]string{
		"a.yml":             strings.ReplaceAll(goodRule, "%s", "a"),
		"sub/b.yml":         strings.ReplaceAll(goodRule, "%s", "b"),
		"sub/broken.yml":    "title: broken\ndetection:\n  sel:\n    Image|endswith: /pfctl\n  condition: sel and other\n",
		"count.yaml":        "title: count\ndetection:\n  sel:\n    Image: x\n  condition: sel | count() > 5\n",
		"not-yaml.yml":      "title: [unclosed\n",
		"z/ignored.txt":     "not a rule",
		"z/second-good.yml": strings.ReplaceAll(goodRule, "%s", "c"),
	}
	dir := writeRules(t, bad)
	rs, err := LoadRules(false, dir)
	if err != nil {
		t.Fatalf("LoadRules(folder with bad files) = %v, want the good rules", err)
	}
	var names []string
	for _, r := range rs.Rules {
		names = append(names, r.Name)
	}
	if diff := cmp.Diff([]string{"a", "b", "second-good"}, names); diff != "" {
		t.Errorf("rules loaded (-want +got):\n%s", diff)
	}
	var warned []string
	for _, w := range rs.Warnings {
		if w.Kind != FileSkipped {
			t.Errorf("unexpected warning %s", w)
			continue
		}
		rel, _ := filepath.Rel(dir, w.File)
		warned = append(warned, strings.SplitN(strings.TrimPrefix(w.String(), dir+string(filepath.Separator)), ": ", 2)[0])
		if !strings.HasSuffix(w.Msg, "; file skipped") || w.Line == 0 || rel == "" {
			t.Errorf("warning %q: want file:line: reason; file skipped", w)
		}
	}
	if diff := cmp.Diff([]string{"count.yaml:5", "not-yaml.yml:2", "sub/broken.yml:5"}, warned); diff != "" {
		t.Errorf("skipped files (-want +got):\n%s", diff)
	}

	if _, err := Load(LoadOptions{Paths: []string{dir}, Strict: true}); err == nil || !strings.Contains(err.Error(), "count.yaml:5") {
		t.Errorf("Load(Strict) = %v, want the first bad file's error", err)
	}
	if _, err := LoadRules(false, filepath.Join(dir, "sub/broken.yml")); err == nil || !strings.Contains(err.Error(), "broken.yml:5") {
		t.Errorf("LoadRules(a bad FILE) = %v, want its error", err)
	}
	allBad := writeRules(t, map[string]string{"x.yml": bad["not-yaml.yml"], "y.yml": bad["count.yaml"]})
	_, err = LoadRules(true, allBad)
	if err == nil || !strings.Contains(err.Error(), "no rule in "+allBad+" loads (2 file(s) skipped); the first: "+filepath.Join(allBad, "x.yml")+":2: yaml: ") {
		t.Errorf("LoadRules(folder of bad files) = %v, want an error saying none loads", err)
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		t.Errorf("error %v wraps a path error", err)
	}
}

// A rule reading fields firewarden never fills is reported once, with the fields and whether its
// condition still lets it match; ParentCommandLine and CurrentDirectory are filled.
func TestLoadWarnsUnfilledFields(t *testing.T) {
	head := "title: t\nlogsource:\n  product: macos\n  category: process_creation\ndetection:\n"
	dir := writeRules(t, map[string]string{
		"never.yml":  head + "  sel:\n    Image|endswith: /pfctl\n    OriginalFileName: pfctl\n    Hashes|contains: abc\n  condition: sel\n",
		"partly.yml": head + "  sel_img:\n    Image|endswith: /pfctl\n  sel_pe:\n    OriginalFileName: pfctl\n  condition: 1 of sel_*\n",
		"filter.yml": head + "  sel:\n    Image|endswith: /pfctl\n  filter:\n    Company: Apple\n  condition: sel and not filter\n",
		"filled.yml": head + "  sel:\n    ParentCommandLine|contains: zsh\n    CurrentDirectory|startswith: /Users/\n  condition: sel\n",
		"windows.yml": "title: t\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n" +
			"  sel:\n    OriginalFileName: pfctl\n  condition: sel\n",
	})
	rs, err := LoadRules(false, dir)
	if err != nil {
		t.Fatal(err)
	}
	type warning struct {
		Kind   WarningKind
		Rule   string
		Fields []string
	}
	var got []warning
	for _, w := range rs.Warnings {
		got = append(got, warning{w.Kind, w.Rule, w.Fields})
		if !strings.HasPrefix(w.String(), w.File+":1: rule "+w.Rule+" ") && w.Kind != NeverApplies {
			t.Errorf("warning %q does not start with file:line: rule name", w)
		}
	}
	want := []warning{
		{UnfilledFields, "filter", []string{"Company"}},
		{NeverMatches, "never", []string{"Hashes", "OriginalFileName"}},
		{UnfilledFields, "partly", []string{"OriginalFileName"}},
		{NeverApplies, "windows", nil},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Warnings (-want +got):\n%s", diff)
	}
}

// SigmaHQ writes descriptions as block scalars; the reason an alert line ends with stays one line.
func TestReasonIsOneLine(t *testing.T) {
	dir := writeRules(t, map[string]string{"r.yml": "title: t\ndescription: |\n    Detects a thing\n    across two lines.\n" +
		"detection:\n  sel:\n    Image: x\n  condition: sel\n"})
	rs, err := LoadRules(false, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rs.Rules[0].Reason, "Detects a thing across two lines"; got != want {
		t.Errorf("Reason = %q, want %q", got, want)
	}
}

// A rule that can never match is not evaluated, so it does not turn off the raw-line prefilter
// (a "not filter" on a field firewarden never fills gives no needles).
func TestNeverMatchingRuleLeavesThePrefilter(t *testing.T) {
	dir := writeRules(t, map[string]string{"r.yml": "title: t\nlogsource:\n  product: macos\n  category: process_creation\ndetection:\n" +
		"  sel:\n    Hashes|contains: abc\n  filter:\n    Image: x\n  condition: sel and not filter\n"})
	rs, err := LoadRules(true, dir)
	if err != nil {
		t.Fatal(err)
	}
	if rs.Interesting() == nil {
		t.Errorf("Interesting() = nil with a rule that can never match; want the built-in rules' prefilter")
	}
}
