package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const guardTestData = "testdata/guard-test"

// TestGuardTest runs `guard test` through the real binary over a log of legitimate logins that
// fail first (a PAM stack, an agent's keys) and a brute force: only the brute force is banned,
// at its tenth failure, and the text and JSON outputs are the goldens.
func TestGuardTest(t *testing.T) {
	log := filepath.Join(guardTestData, "pam-agent-bruteforce.log")
	tests := []struct {
		name   string
		args   []string
		stdin  bool
		code   int
		golden string
	}{
		{"default config", []string{"guard", "test", log}, false, 1, "guard-test-default.golden"},
		{"standard input", []string{"guard", "test", "-"}, true, 1, "guard-test-default.golden"},
		{"json, aggressive, threshold 3", []string{"--json", "--config", filepath.Join(guardTestData, "aggressive.yaml"), "guard", "test", log}, false, 1, "guard-test-aggressive.json.golden"},
		{"missed lines only", []string{"guard", "test", "--print", "missed", log}, false, 1, "guard-test-missed.golden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in []byte
			if tt.stdin {
				var err error
				if in, err = os.ReadFile(log); err != nil {
					t.Fatal(err)
				}
			}
			r := firewardenIn(t, in, tt.args...)
			if r.code != tt.code || r.stderr != "" {
				t.Fatalf("firewarden %s: exit %d, stderr %q; want exit %d, nothing on stderr", strings.Join(tt.args, " "), r.code, r.stderr, tt.code)
			}
			golden(t, filepath.Join("guard-test", tt.golden), r.stdout)
		})
	}
}

// TestGuardTestForgives: the logins of the PAM stack and of the agent are never banned, the
// brute force is banned on its tenth failure, as before forgiveness existed.
func TestGuardTestForgives(t *testing.T) {
	r := firewardenIn(t, nil, "--json", "guard", "test", filepath.Join(guardTestData, "pam-agent-bruteforce.log"))
	if r.code != 1 {
		t.Fatalf("exit %d, stderr %q; want 1 (something would be banned)", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	var sum struct {
		Summary struct {
			Banned []struct {
				Address    string  `json:"address"`
				Score      float64 `json:"score"`
				LineNumber int     `json:"line_number"`
			} `json:"banned"`
			Forgiving int `json:"forgiving"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatalf("last line %q: %v", lines[len(lines)-1], err)
	}
	b := sum.Summary.Banned
	if len(b) != 1 || b[0].Address != "203.0.113.50" || b[0].LineNumber != 80 {
		t.Errorf("banned = %+v, want only 203.0.113.50, at line 80 (its tenth failure)", b)
	}
	if sum.Summary.Forgiving != 20 {
		t.Errorf("forgiving = %d, want 20 logins (10 through PAM, 10 with an agent)", sum.Summary.Forgiving)
	}
	forgiven := 0
	for _, l := range lines[:len(lines)-1] {
		var o map[string]any
		if err := json.Unmarshal([]byte(l), &o); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		for _, k := range []string{"line", "recognised", "kind", "address", "weight", "pid", "forgiven"} {
			if _, ok := o[k]; !ok {
				t.Fatalf("line %q has no %q", l, k)
			}
		}
		if o["forgiven"] == true {
			forgiven++
		}
	}
	if forgiven != 40 {
		t.Errorf("%d lines forgiven, want 40 (10 PAM failures, 30 failed keys)", forgiven)
	}
}

// TestGuardTestBadInput: a log that cannot be read is one line on stderr and exit 2.
func TestGuardTestBadInput(t *testing.T) {
	long := filepath.Join(t.TempDir(), "long.log")
	if err := os.WriteFile(long, []byte("ok line\n"+strings.Repeat("x", 2<<20)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing file", []string{"guard", "test", "testdata/no-such.log"}, "firewarden: open testdata/no-such.log: no such file or directory\n"},
		{"directory", []string{"guard", "test", "testdata"}, "firewarden: testdata is a directory; give a log file\n"},
		{"no file", []string{"guard", "test"}, "firewarden: guard test takes one log FILE (or - for standard input), got 0\n"},
		{"bad print", []string{"guard", "test", "--print", "some", "x.log"}, "firewarden: --print \"some\": use all, failures, missed or none\n"},
		{"line too long", []string{"guard", "test", long}, "firewarden: " + long + ":2: a line longer than 1048576 bytes; is it a log file?\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := firewardenIn(t, nil, tt.args...)
			if r.code != 2 || r.stderr != tt.want || r.stdout != "" {
				t.Errorf("firewarden %s: exit %d, stdout %q, stderr %q; want exit 2, stderr %q", strings.Join(tt.args, " "), r.code, r.stdout, r.stderr, tt.want)
			}
		})
	}
}
