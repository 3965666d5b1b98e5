package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Certainty through the binary: --strict exits 2 with one line on anything not exact and 0 on
// exact answers; --json gives every verdict and the lint document a certainty and its reasons.
func TestRulesCertainty(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pf := write("pf.conf", "table <bruteforce> persist\nblock all\nblock in quick proto tcp from <bruteforce> to port 22\npass in on en0 proto tcp to port 22 keep state\npass out keep state\n")
	notes := write("notes.conf", "scrub in all\nblock all\n")
	ipfw := write("ipfw.list", "00100 allow tcp from any to me 22 in setup\n")
	exact := "tcp 203.0.113.5:51234 -> 192.0.2.10:80 in via en0 flags S"
	for _, tt := range []struct {
		name     string
		args     []string
		code     int
		inStderr string
	}{
		{"eval exact", []string{"rules", "eval", pf, "--strict", "--packet", exact}, 0, ""},
		{"eval runtime table", []string{"rules", "eval", pf, "--strict", "--packet", "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 flags S"}, 2, "table <bruteforce> is filled at run time"},
		{"eval no flags", []string{"rules", "eval", pf, "--strict", "--packet", "tcp 203.0.113.5:51234 -> 192.0.2.10:80 in via en0"}, 2, "add setup, established or flags LETTERS"},
		{"eval notes", []string{"rules", "eval", notes, "--strict", "--packet", "udp 203.0.113.5:1 -> 192.0.2.10:2 in"}, 2, notes + ":1: scrub in all"},
		{"eval ipfw default assumed", []string{"rules", "eval", ipfw, "--strict", "--packet", "udp 203.0.113.5:1 -> 192.0.2.10:2 in"}, 2, "pass --default allow or --default deny"},
		{"eval ipfw default given", []string{"rules", "eval", ipfw, "--strict", "--default", "deny", "--packet", "udp 203.0.113.5:1 -> 192.0.2.10:2 in"}, 0, ""},
		{"eval without strict", []string{"rules", "eval", notes, "--packet", "udp 203.0.113.5:1 -> 192.0.2.10:2 in"}, 0, ""},
		{"lint notes", []string{"rules", "lint", notes, "--strict"}, 2, "rules lint --strict: " + notes + ": not exact"},
		{"lint exact", []string{"rules", "lint", pf, "--strict"}, 0, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := firewardenRaw(t, tt.args...)
			refusedRight := tt.code != 2 || r.stdout == "" && strings.Count(r.stderr, "\n") == 1
			if r.code != tt.code || !strings.Contains(r.stderr, tt.inStderr) || !refusedRight {
				t.Errorf("firewarden %s = exit %d, stdout %q, stderr %q; want exit %d, stderr with %q (one line and no stdout when refused)", strings.Join(tt.args, " "), r.code, r.stdout, r.stderr, tt.code, tt.inStderr)
			}
		})
	}

	type verdict struct {
		Verdict     string   `json:"verdict"`
		Certainty   string   `json:"certainty"`
		Conditional []string `json:"conditional"`
	}
	r := firewardenRaw(t, "--json", "rules", "eval", pf, "--packet", "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0")
	var got []verdict
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 0 {
		t.Fatalf("--json rules eval = exit %d, %v, stdout %q", r.code, err, r.stdout)
	}
	// Its connection's SYN would be blocked were the source in <bruteforce>, and it gave no flags.
	want := []verdict{{"allow", "conditional", []string{
		pf + ":3: table <bruteforce> is filled at run time, so its contents are unknown",
		"assumed established (an ACK), since the packet gives no TCP flags",
	}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("--json rules eval (-want +got):\n%s", diff)
	}

	type lintDoc struct {
		Findings    []json.RawMessage `json:"findings"`
		Certainty   string            `json:"certainty"`
		Conditional []string          `json:"conditional"`
	}
	r = firewardenRaw(t, "--json", "rules", "lint", notes)
	var doc lintDoc
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("--json rules lint: %v, stdout %q", err, r.stdout)
	}
	if r.stderr != "" || doc.Certainty != "conditional" || len(doc.Conditional) != 1 || !strings.HasPrefix(doc.Conditional[0], notes+":1: scrub in all") {
		t.Errorf("--json rules lint %s = stderr %q, document %+v; want the note in conditional and nothing on stderr", notes, r.stderr, doc)
	}
}
