package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// exportGolden is where internal/detect keeps the exported rules as golden files (go test
// ./internal/detect -run TestExportGolden -update refreshes them).
const exportGolden = "../../internal/detect/testdata/export"

// exportReadDir returns the files of dir by name.
func exportReadDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = string(data)
	}
	return files
}

// `detect rules export --out DIR` writes the golden rules, one file each, and nothing else; run
// again it replaces them in place; the same rules come as one YAML stream without --out.
func TestDetectRulesExport(t *testing.T) {
	for _, format := range []string{"sigma", "firewarden"} {
		t.Run(format, func(t *testing.T) {
			want := exportReadDir(t, filepath.Join(exportGolden, format))
			if format == "firewarden" {
				if diff := cmp.Diff(exportReadDir(t, "../../internal/detect/rules"), want); diff != "" {
					t.Fatalf("the firewarden golden files are not the built-in rules (-rules +golden):\n%s", diff)
				}
			}
			out := filepath.Join(t.TempDir(), "new", "rules")
			for i := range 2 {
				r := firewardenRaw(t, "detect", "rules", "export", "--format", format, "--out", out)
				if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, fmt.Sprintf("wrote %d %s rule file(s) to %s", len(want), format, out)) {
					t.Fatalf("run %d: detect rules export --out: exit %d, stdout %q, stderr %q; want 0, nothing, the count", i+1, r.code, r.stdout, r.stderr)
				}
				if diff := cmp.Diff(want, exportReadDir(t, out)); diff != "" {
					t.Errorf("run %d: %s differs from the golden files (-want +got):\n%s", i+1, out, diff)
				}
			}
			r := firewardenRaw(t, "detect", "rules", "export", "--format", format)
			if r.code != 0 {
				t.Fatalf("detect rules export: exit %d, stderr %q", r.code, r.stderr)
			}
			docs := strings.Split(r.stdout, "\n---\n")
			if len(docs) != len(want) {
				t.Fatalf("stdout holds %d documents, want %d", len(docs), len(want))
			}
			var got, wantDocs []string
			for _, d := range docs {
				got = append(got, strings.TrimSuffix(d, "\n")+"\n")
			}
			for _, d := range want {
				wantDocs = append(wantDocs, d)
			}
			slices.Sort(got)
			slices.Sort(wantDocs)
			if diff := cmp.Diff(wantDocs, got); diff != "" {
				t.Errorf("stdout documents differ from the golden files (-want +got):\n%s", diff)
			}
		})
	}
}

// The exported rules still find what the built-in ones find: detect runs on them alone.
func TestDetectRulesExportRoundTrip(t *testing.T) {
	out := t.TempDir()
	if r := firewardenRaw(t, "detect", "rules", "export", "--out", out); r.code != 0 {
		t.Fatalf("export: exit %d: %s", r.code, r.stderr)
	}
	r := firewardenRaw(t, "detect", "--no-builtin", "--rules", out, filepath.Join(detectCases, "pos-eslogger/events.jsonl"))
	if r.code != 1 {
		t.Fatalf("detect --no-builtin --rules EXPORTED: exit %d, want 1 (alerts); stderr %s", r.code, r.stderr)
	}
	for _, want := range []string{"HIGH proc_creation_macos_pf_disable ", "HIGH proc_creation_macos_alf_global_off ", "[AN0408 T1686 T1562.004]"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("alerts from the exported rules lack %q:\n%s", want, r.stdout)
		}
	}
}

// Bad requests are refused with exit 2 before anything is written: a symbolic link as --out or
// in it (the export never writes through one), a rule of one's own that reads firewarden's own
// fields, an unknown format, --json, arguments.
func TestDetectRulesExportRefuses(t *testing.T) {
	tmp := t.TempDir()
	real := filepath.Join(tmp, "real")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	linkDir := filepath.Join(tmp, "link")
	if err := os.Symlink(real, linkDir); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(tmp, "victim")
	if err := os.WriteFile(victim, []byte("keep\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	trap := filepath.Join(tmp, "trap")
	if err := os.Mkdir(trap, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(trap, "proc_creation_macos_pf_disable.yml")); err != nil {
		t.Fatal(err)
	}
	own := filepath.Join(tmp, "own.yml")
	if err := os.WriteFile(own, []byte("title: pfctl by name\nid: 4a1c9e3d-6b2f-4e8a-9c1d-2e3f4a5b6c7d\nlogsource: {category: process_creation, product: macos}\ndetection:\n    sel:\n        Tool: pfctl\n        Action: disable\n    condition: sel\nlevel: high\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	notWritten := filepath.Join(tmp, "not-written")
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"symlinked out", []string{"--out", linkDir}, "is a symbolic link"},
		{"symlink in out", []string{"--out", trap}, "is not a regular file"},
		{"own fields", []string{"--rules", own, "--out", notWritten}, "reads Action, Tool, not fields of Sigma's taxonomy"},
		{"format", []string{"--format", "splunk", "--out", notWritten}, `--format "splunk": want sigma or firewarden`},
		{"json", []string{"--json", "--out", notWritten}, "--json does not apply"},
		{"argument", []string{notWritten}, "takes no arguments"},
		{"no rules", []string{"--no-builtin", "--out", notWritten}, "no rules to export"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"detect", "rules", "export"}, tc.args...)
			if tc.name == "json" {
				args = append([]string{"--json"}, args[:3]...)
				args = append(args, tc.args[1:]...)
			}
			r := firewardenRaw(t, args...)
			if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, tc.stderr) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
				t.Errorf("firewarden %s: exit %d, stdout %q, stderr %q; want 2, nothing, one line containing %q", strings.Join(args, " "), r.code, r.stdout, r.stderr, tc.stderr)
			}
		})
	}
	if entries, _ := os.ReadDir(real); len(entries) != 0 {
		t.Errorf("%d files were written through the linked --out", len(entries))
	}
	if data, _ := os.ReadFile(victim); string(data) != "keep\n" {
		t.Errorf("the link's target was written: %q", data)
	}
	if entries, _ := os.ReadDir(trap); len(entries) != 1 {
		t.Errorf("%s holds %d entries, want only the link: nothing is written when one target is refused", trap, len(entries))
	}
	if _, err := os.Stat(notWritten); !os.IsNotExist(err) {
		t.Errorf("%s was created by a refused export (%v)", notWritten, err)
	}
}
