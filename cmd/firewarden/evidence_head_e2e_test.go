package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firewarden/firewarden/internal/host/hosttest"
)

// Removing the newest evidence records is caught by --verify through the head file, and a
// verify that finds no chain at all says so rather than "chain intact".
func TestEvidenceVerifyCatchesTruncation(t *testing.T) {
	for _, tt := range []struct {
		name   string
		tamper func(t *testing.T, sd string)
		code   int
		want   string
	}{
		{"untouched", func(t *testing.T, sd string) {}, 0, "3 record(s), chain intact"},
		{"last record removed", func(t *testing.T, sd string) { keepLines(t, filepath.Join(sd, "evidence.jsonl"), 2) }, 1, "records were removed from the end"},
		{"last two removed", func(t *testing.T, sd string) { keepLines(t, filepath.Join(sd, "evidence.jsonl"), 1) }, 1, "records were removed from the end"},
		{"log removed", func(t *testing.T, sd string) { os.Remove(filepath.Join(sd, "evidence.jsonl")) }, 1, "records were removed from the end"},
		{"head removed", func(t *testing.T, sd string) { os.Remove(filepath.Join(sd, "evidence.head")) }, 1, "there is no head file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := mac(t, hosttest.Mac15())
			for range 3 {
				if r := firewarden(t, root, "evidence"); r.code != 1 {
					t.Fatalf("evidence: exit %d, want 1 (a fresh Mac fails checks): %s", r.code, r.stderr)
				}
			}
			tt.tamper(t, macStateDir(root))
			r := firewarden(t, root, "evidence", "--verify")
			if r.code != tt.code || !strings.Contains(r.stdout, tt.want) {
				t.Errorf("evidence --verify after %s: exit %d, stdout %q; want %d and %q", tt.name, r.code, r.stdout, tt.code, tt.want)
			}
		})
	}
}

// A run killed after appending its record and before rewriting the head leaves the head one
// record behind; that is not tampering, and the next run brings the head up to date.
func TestEvidenceHeadOneBehindAfterAKill(t *testing.T) {
	root := mac(t, hosttest.Mac15())
	head := filepath.Join(macStateDir(root), "evidence.head")
	firewarden(t, root, "evidence")
	behind, err := os.ReadFile(head)
	if err != nil {
		t.Fatal(err)
	}
	firewarden(t, root, "evidence")
	os.WriteFile(head, behind, 0o600) // as if killed between the two writes
	if r := firewarden(t, root, "evidence", "--verify"); r.code != 0 || !strings.Contains(r.stdout, "2 record(s), chain intact") {
		t.Errorf("verify with the head one behind: exit %d, %q; want 0 and 2 records intact", r.code, r.stdout)
	}
	firewarden(t, root, "evidence")
	keepLines(t, filepath.Join(macStateDir(root), "evidence.jsonl"), 2)
	if r := firewarden(t, root, "evidence", "--verify"); r.code != 1 {
		t.Errorf("verify after the head caught up and the last record was removed: exit %d, %q; want 1", r.code, r.stdout)
	}
}

func TestEvidenceVerifyWithoutAChain(t *testing.T) {
	root := mac(t, hosttest.Mac15())
	empty := t.TempDir()
	for _, dir := range []string{filepath.Join(root, "no/such/dir"), empty} {
		r := firewarden(t, root, "--state-dir", dir, "evidence", "--verify")
		if r.code != 2 || !strings.Contains(r.stderr, "no evidence log at "+filepath.Join(dir, "evidence.jsonl")) || strings.Contains(r.stdout, "intact") {
			t.Errorf("evidence --verify --state-dir %s: exit %d, stdout %q, stderr %q; want 2 and no evidence log", dir, r.code, r.stdout, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "no")); err == nil {
		t.Error("evidence --verify created the state directory it was asked to verify")
	}
}

// keepLines cuts the file at path to its first n lines.
func keepLines(t *testing.T, path string, n int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	if err := os.WriteFile(path, []byte(strings.Join(lines[:n], "")), 0o600); err != nil {
		t.Fatal(err)
	}
}
