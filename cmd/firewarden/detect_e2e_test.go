package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const detectCases = "../../internal/detect/testdata/cases"

func TestDetectExitCodes(t *testing.T) {
	gz := filepath.Join(t.TempDir(), "events.jsonl.gz")
	data, err := os.ReadFile(filepath.Join(detectCases, "pos-eslogger/events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	w.Close()
	if err := os.WriteFile(gz, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		stdin    []byte
		args     []string
		code     int
		stdout   string // a line of stdout must contain it ("" for none expected)
		stderrRe string
	}{
		{"alerts", nil, []string{"detect", filepath.Join(detectCases, "wrapped/events.jsonl")}, 1, "HIGH pf-disable", ""},
		{"look-alikes only", nil, []string{"detect", filepath.Join(detectCases, "neg-eslogger/events.jsonl"), filepath.Join(detectCases, "neg-santa/santa.log")}, 0, "", "0 alerts"},
		{"gzip", nil, []string{"detect", "--input", "eslogger", gz}, 1, "alf-global-off", ""},
		{"stdin", data, []string{"detect", "-"}, 1, "pf-flush-main", ""},
		{"not telemetry", nil, []string{"detect", "/etc/hostname"}, 2, "", "no line is eslogger"},
		{"missing file", nil, []string{"detect", "/nonexistent/events.jsonl"}, 2, "", "no such file"},
		{"bad format", nil, []string{"detect", "--input", "evtx", "x"}, 2, "", "unknown telemetry format"},
		{"negative window", nil, []string{"detect", "--window", "-5m", filepath.Join(detectCases, "wrapped/events.jsonl")}, 2, "", "--window -5m0s: want 0"},
		{"no file", nil, []string{"detect"}, 2, "", "needs a telemetry FILE"},
		{"bad allow", nil, []string{"detect", "--allow", "/etc/hostname", filepath.Join(detectCases, "wrapped/events.jsonl")}, 2, "", "--allow"},
		{"allowed", nil, []string{"detect", "--allow", filepath.Join(detectCases, "allow-mdm/allow.yaml"), filepath.Join(detectCases, "allow-mdm/events.jsonl")}, 1, "pid=6002", "1 allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := firewardenIn(t, tc.stdin, tc.args...)
			if r.code != tc.code {
				t.Fatalf("firewarden %s: exit %d, want %d; stderr: %s", strings.Join(tc.args, " "), r.code, tc.code, r.stderr)
			}
			if tc.stdout == "" && tc.code != 1 && r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
			if tc.stdout != "" && !strings.Contains(r.stdout, tc.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tc.stdout, r.stdout)
			}
			if tc.stderrRe != "" && !strings.Contains(r.stderr, tc.stderrRe) {
				t.Errorf("stderr lacks %q: %s", tc.stderrRe, r.stderr)
			}
			if tc.code == 2 && strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("a usage error takes one line, got: %q", r.stderr)
			}
		})
	}
}

// TestDetectJSON checks the --json fields an alert pipeline reads.
func TestDetectJSON(t *testing.T) {
	r := firewardenIn(t, nil, "--json", "detect", filepath.Join(detectCases, "evasion-renamed/events.jsonl"))
	if r.code != 1 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var a struct {
		Severity   string
		Rule       struct{ Name, ID string }
		Analytic   string
		Techniques []string
		Count      int
		Process    struct {
			Path      string
			SigningID string `json:"signing_id"`
			Argv      []string
			EUID      *int
		}
		Parent  struct{ Path string }
		Command struct {
			Tool    string
			Actions []string
		}
	}
	if err := json.Unmarshal([]byte(strings.SplitN(r.stdout, "\n", 2)[0]), &a); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if a.Severity != "high" || a.Rule.Name != "pf-disable" || a.Analytic != "AN0408" || len(a.Techniques) != 2 ||
		a.Count != 1 || a.Process.Path != "/tmp/.x/ls" || a.Process.SigningID != "com.apple.pfctl" || a.Command.Tool != "pfctl" || a.Parent.Path != "/bin/zsh" ||
		a.Process.EUID == nil || *a.Process.EUID != 0 {
		t.Errorf("alert = %+v", a)
	}
}

func TestDetectRulesCommands(t *testing.T) {
	r := firewardenIn(t, nil, "detect", "rules", "list")
	if r.code != 0 || !strings.Contains(r.stdout, "pf-disable") || strings.Count(r.stdout, "\n") < 20 {
		t.Errorf("rules list: exit %d, stdout:\n%s", r.code, r.stdout)
	}
	r = firewardenIn(t, nil, "detect", "rules", "test", "../../internal/detect/rules/pf-flush-main.yml", filepath.Join(detectCases, "pos-osquery/events.jsonl"))
	if r.code != 1 || !strings.Contains(r.stdout, "pf-flush-main matches") {
		t.Errorf("rules test: exit %d, stdout:\n%s", r.code, r.stdout)
	}
	bad := filepath.Join(t.TempDir(), "bad.yml")
	os.WriteFile(bad, []byte("title: t\ndetection:\n  sel:\n    OriginalFileName: x\n  condition: sel\n"), 0o644)
	r = firewardenIn(t, nil, "detect", "rules", "test", bad)
	if r.code != 2 || !strings.Contains(r.stderr, "never fills") {
		t.Errorf("rules test on a rule reading an unknown field: exit %d, stderr %s", r.code, r.stderr)
	}
}
