package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// userRule is a rule of the shape SigmaHQ writes, with a logsource and one selection.
func userRule(title, logsource, selection string) string {
	return "title: " + title + "\nlogsource:\n" + logsource + "detection:\n  selection:\n" + selection + "  condition: selection\nlevel: high\n"
}

const (
	macExec  = "  product: macos\n  category: process_creation\n"
	macFile  = "  product: macos\n  category: file_event\n"
	winExec  = "  product: windows\n  category: process_creation\n"
	badRule  = "title: broken\ndetection:\n  selection:\n    Image|endswith: /vi\n  condition: selection and missing\n"
	viImage  = "    Image|endswith: /vi\n"
	etcHosts = "    Image|endswith: /vi\n    TargetFilename: /etc/hosts\n"
)

// detect --rules through the binary: logsource decides which events a rule sees, a bad file
// among good ones is skipped with one warning, rules reading fields firewarden never fills are
// named, and |fieldref compares two fields.
func TestDetectRulesLogsourceAndBadFiles(t *testing.T) {
	files := filepath.Join(detectCases, "files/events.jsonl") // file events written by vi and python3
	wrapped := filepath.Join(detectCases, "wrapped/events.jsonl")
	for _, tc := range []struct {
		name   string
		rules  map[string]string // file name under the rules folder: text
		args   []string          // after detect --no-builtin; RULES is the rules folder
		code   int
		stdout []string // each must occur
		notOut []string // none may occur
		stderr []string // each must occur
		warns  int      // lines of stderr naming a rules file
	}{
		{name: "process_creation does not see file events",
			rules: map[string]string{"vi-exec.yml": userRule("vi-exec", macExec, viImage), "vi-file.yml": userRule("vi-file", macFile, etcHosts)},
			args:  []string{"--rules", "RULES", files}, code: 1,
			stdout: []string{"HIGH vi-file ", `file="/etc/hosts"`}, notOut: []string{"vi-exec"}},
		{name: "windows rules never apply",
			rules: map[string]string{"win.yml": userRule("win", winExec, viImage), "vi-file.yml": userRule("vi-file", macFile, etcHosts)},
			args:  []string{"--rules", "RULES", files}, code: 1,
			stdout: []string{"HIGH vi-file "}, notOut: []string{"HIGH win "},
			stderr: []string{"win.yml:1: rule win never applies and is not evaluated: its logsource product windows is not one firewarden produces"}, warns: 1},
		{name: "only windows rules",
			rules: map[string]string{"win.yml": userRule("win", winExec, viImage)},
			args:  []string{"--rules", "RULES", files}, code: 2,
			stderr: []string{"none of the 1 rules applies to what firewarden reads"}, warns: 1},
		{name: "one bad file among many",
			rules: map[string]string{"a/broken.yml": badRule, "b/vi-file.yml": userRule("vi-file", macFile, etcHosts), "c/win.yml": userRule("win", winExec, viImage)},
			args:  []string{"--rules", "RULES", files}, code: 1,
			stdout: []string{"HIGH vi-file "},
			stderr: []string{filepath.Join("a", "broken.yml") + `:5: condition "selection and missing": undefined search identifier "missing"; file skipped`}, warns: 2},
		{name: "strict refuses the bad file",
			rules: map[string]string{"a/broken.yml": badRule, "b/vi-file.yml": userRule("vi-file", macFile, etcHosts)},
			args:  []string{"--strict", "--rules", "RULES", files}, code: 2,
			stderr: []string{"broken.yml:5: condition"}, warns: 1},
		{name: "a bad file given by itself",
			rules: map[string]string{"broken.yml": badRule, "vi-file.yml": userRule("vi-file", macFile, etcHosts)},
			args:  []string{"--rules", "RULES/broken.yml", files}, code: 2,
			stderr: []string{"broken.yml:5: condition"}, warns: 1},
		{name: "no file of the folder loads",
			rules: map[string]string{"broken.yml": badRule, "also.yaml": "title: [\n"},
			args:  []string{"--rules", "RULES", files}, code: 2,
			stderr: []string{"no rule in ", "loads (2 file(s) skipped); the first: "}, warns: 1},
		{name: "unfilled fields",
			rules: map[string]string{
				"never.yml":  userRule("never", macFile, etcHosts+"    OriginalFileName: vi\n"),
				"partly.yml": strings.Replace(userRule("partly", macFile, etcHosts), "  condition: selection", "  pe:\n    Hashes|contains: abc\n  condition: selection or pe", 1),
			},
			args: []string{"--rules", "RULES", files}, code: 1,
			stdout: []string{"HIGH partly "}, notOut: []string{"HIGH never "},
			stderr: []string{
				"never.yml:1: rule never reads OriginalFileName, which firewarden never fills, so it can never match",
				"partly.yml:1: rule partly reads Hashes, which firewarden never fills: conditions on them never hold",
			}, warns: 2},
		{name: "fieldref compares two fields",
			rules: map[string]string{"same.yml": userRule("same", macExec, "    Image|fieldref: ParentImage\n"), "vi-file.yml": userRule("vi-file", macFile, etcHosts)},
			args:  []string{"--rules", "RULES", wrapped, files}, code: 1,
			stdout: []string{"HIGH vi-file "}, notOut: []string{"HIGH same "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, text := range tc.rules {
				p := filepath.Join(dir, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			args := []string{"detect", "--no-builtin"}
			for _, a := range tc.args {
				args = append(args, strings.Replace(a, "RULES", dir, 1))
			}
			r := firewardenIn(t, nil, args...)
			if r.code != tc.code {
				t.Fatalf("firewarden %s: exit %d, want %d; stdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, tc.code, r.stdout, r.stderr)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(r.stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
				}
			}
			for _, s := range tc.notOut {
				if strings.Contains(r.stdout, s) {
					t.Errorf("stdout has %q:\n%s", s, r.stdout)
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
				}
			}
			got := 0
			for _, l := range strings.Split(r.stderr, "\n") {
				if strings.Contains(l, dir) {
					got++
				}
			}
			if got != tc.warns {
				t.Errorf("stderr names the rules folder on %d lines, want %d:\n%s", got, tc.warns, r.stderr)
			}
		})
	}
}

// detect rules test refuses a rule that can never fire and tests one that fires in part, with
// the warning; detect rules list names every file it skipped, or refuses the folder with --strict.
func TestDetectRulesTestAndListWarnings(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	win := write("win.yml", userRule("win", winExec, viImage))
	partly := write("partly.yml", strings.Replace(userRule("partly", macFile, etcHosts), "  condition: selection", "  pe:\n    Hashes|contains: abc\n  condition: selection or pe", 1))
	rulesDir := filepath.Join(dir, "folder")
	os.Mkdir(rulesDir, 0o755)
	os.WriteFile(filepath.Join(rulesDir, "good.yml"), []byte(userRule("good", macFile, etcHosts)), 0o644)
	os.WriteFile(filepath.Join(rulesDir, "broken.yml"), []byte(badRule), 0o644)
	files := filepath.Join(detectCases, "files/events.jsonl")
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"test a rule that never applies", []string{"detect", "rules", "test", win}, 2, "", "win.yml:1: rule win never applies"},
		{"test a rule that matches in part", []string{"detect", "rules", "test", partly, files}, 1, "1 rule(s) in " + partly + " parse; 1 read fields firewarden never fills", "partly.yml:1: rule partly reads Hashes"},
		{"list skips a bad file", []string{"detect", "rules", "list", "--rules", rulesDir}, 0, "good", "broken.yml:5: condition"},
		{"list --strict", []string{"detect", "rules", "list", "--strict", "--rules", rulesDir}, 2, "", "broken.yml:5: condition"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := firewardenIn(t, nil, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stdout, tc.stdout) || !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("firewarden %s: exit %d, want %d; stdout (want %q):\n%s\nstderr (want %q):\n%s",
					strings.Join(tc.args, " "), r.code, tc.code, tc.stdout, r.stdout, tc.stderr, r.stderr)
			}
		})
	}
}
