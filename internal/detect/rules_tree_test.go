package detect

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --rules DIR reads SigmaHQ's layout: rules in subfolders, .yml and .yaml, hidden folders left
// out; a folder without a rule is an error rather than a run with none of its rules.
func TestLoadRulesTree(t *testing.T) {
	builtin, err := os.ReadFile(filepath.Join("rules", "pf-disable.yml"))
	if err != nil {
		t.Fatal(err)
	}
	rename := func(data []byte, name string) []byte {
		var out []string
		for _, l := range strings.Split(string(data), "\n") {
			switch {
			case strings.HasPrefix(l, "title:"):
				l = "title: " + name
			case strings.HasPrefix(l, "id:"):
				continue
			}
			out = append(out, l)
		}
		return []byte(strings.Join(out, "\n"))
	}
	dir := t.TempDir()
	for name, rel := range map[string]string{
		"nested one": "rules/macos/process_creation/a.yml",
		"nested two": "rules/macos/file_event/b.yaml",
		"hidden":     ".github/c.yml",
	} {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, rename(builtin, name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := LoadRules(false, dir)
	if err != nil {
		t.Fatalf("LoadRules(%s) = %v", dir, err)
	}
	var got []string
	for _, r := range rs.Rules {
		got = append(got, r.File)
	}
	want := []string{filepath.Join(dir, "rules/macos/process_creation/a.yml"), filepath.Join(dir, "rules/macos/file_event/b.yaml")}
	if len(got) != 2 || !(got[0] == want[0] && got[1] == want[1] || got[0] == want[1] && got[1] == want[0]) {
		t.Errorf("LoadRules(tree) read %q, want %q", got, want)
	}

	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, "README.md"), []byte("no rules\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadRules(true, empty); err == nil || !strings.Contains(err.Error(), "holds no .yml or .yaml rule") {
		t.Errorf("LoadRules(a folder without rules) = %v, want an error saying it holds no rule", err)
	}
}
