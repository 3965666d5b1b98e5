package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const inputData = "../../internal/detect/input/testdata"

// TestDetectJSONLayouts: telemetry written as pretty-printed JSON, as a JSON array or as
// documents one after another is read as well as one document a line, and alerts name the
// line their document starts on.
func TestDetectJSONLayouts(t *testing.T) {
	positive, err := os.ReadFile(filepath.Join(inputData, "SYNTHETIC-eslogger-v9-exec-socketfilterfw-off.json"))
	if err != nil {
		t.Fatal(err)
	}
	positive = bytes.TrimSpace(positive)
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, positive, "", "  "); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name   string
		in     string
		code   int
		line   int    // of the first alert's document; 0 for no alert
		stderr string // stderr must contain it
	}{
		{"pretty", "\n" + pretty.String() + "\n", 1, 2, "0 malformed lines, 0 skipped"},
		{"array", "[\n" + pretty.String() + ",\n" + pretty.String() + "\n]\n", 1, 2, "2 events"},
		{"array on one line", "[" + string(positive) + "," + string(positive) + "]", 1, 1, "2 events"},
		{"concatenated", string(positive) + string(positive) + "\n", 1, 1, "2 events"},
		{"pretty after a pretty one", pretty.String() + "\n" + pretty.String(), 1, 1, "2 events"},
		{"pretty cut short", pretty.String()[:pretty.Len()/2] + "\n", 2, 0,
			"JSON document (lines 1-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".json")
			if err := os.WriteFile(f, []byte(tc.in), 0o644); err != nil {
				t.Fatal(err)
			}
			r := firewardenIn(t, nil, "--json", "detect", f)
			if r.code != tc.code {
				t.Fatalf("firewarden detect: exit %d, want %d; stderr: %s", r.code, tc.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("stderr lacks %q: %s", tc.stderr, r.stderr)
			}
			if tc.line == 0 {
				if r.stdout != "" {
					t.Errorf("stdout = %q, want no alert", r.stdout)
				}
				return
			}
			var a struct {
				Rule   struct{ Name string }
				Source struct {
					Input string
					Line  int
				}
			}
			first, _, _ := strings.Cut(r.stdout, "\n")
			if err := json.Unmarshal([]byte(first), &a); err != nil {
				t.Fatalf("alert %q: %v", first, err)
			}
			if a.Rule.Name != "alf-global-off" || a.Source.Input != f || a.Source.Line != tc.line {
				t.Errorf("alert %s from %s:%d, want alf-global-off from %s:%d", a.Rule.Name, a.Source.Input, a.Source.Line, f, tc.line)
			}
		})
	}
}

// TestDetectPrettyDataset: the Elastic documents of a public data set, pretty-printed with tabs
// inside an Elasticsearch hit as published, are telemetry (they were "no line is … telemetry").
func TestDetectPrettyDataset(t *testing.T) {
	r := firewardenIn(t, nil, "detect",
		filepath.Join(inputData, "elastic-endpoint-7.10-macos-defaults-write-exec.json"),
		filepath.Join(inputData, "elastic-endpoint-7.10-macos-systemsetup-exec-with-parent.json"))
	if r.code != 0 || !strings.Contains(r.stderr, "0 malformed lines, 0 skipped") {
		t.Errorf("firewarden detect: exit %d, stderr %q; want 0 with nothing malformed", r.code, r.stderr)
	}
}
