package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeLinux lays out a root that looks like a Debian host: every check of the default baseline
// (macOS checks, and SSH checks where no SSH server is installed) is not applicable there.
func fakeLinux(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/os-release"), []byte("NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("box\n"), 0o644)
	return root
}

// A check, evidence or fix in which every check is not applicable examined nothing: it says so
// on stderr and exits 2, never "compliant" and exit 0. The report is still printed.
func TestNothingToEvaluateIsNoAllClear(t *testing.T) {
	const why = ": every check is not_applicable (the Application Firewall exists on macOS only; this host runs Debian GNU/Linux 12; " +
		"applies to macOS only; this host runs Debian GNU/Linux 12; no SSH server is installed (/usr/sbin/sshd is absent))\n"
	for _, tt := range []struct {
		name    string
		args    []string
		stdout  string // a line stdout must hold
		stderr  string // stderr, whole
		isJSON  bool
		chained bool // an evidence record is appended
	}{
		{"check", []string{"check"}, "10 checks: 10 not_applicable: nothing evaluated\n", "firewarden: nothing to evaluate on this host" + why, false, false},
		{"check --json", []string{"--json", "check"}, `"not_applicable"`, "firewarden: nothing to evaluate on this host" + why, true, false},
		{"evidence", []string{"evidence"}, `"not_applicable"`, "firewarden: the record attests nothing about this host" + why, true, true},
		{"fix", []string{"fix"}, "nothing to fix: 10 checks: 10 not_applicable: nothing evaluated\n", "firewarden: nothing to fix on this host" + why, false, false},
		{"fix --dry-run", []string{"fix", "--dry-run"}, "nothing to fix: 10 checks: 10 not_applicable: nothing evaluated\n", "firewarden: nothing to fix on this host" + why, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root, sd := fakeLinux(t), filepath.Join(t.TempDir(), "state")
			// The default baseline without linux.firewall, whose checks would read (and fix would
			// write) the ruleset of the namespace the test runs in.
			macOnly := filepath.Join(t.TempDir(), "mac.yaml")
			os.WriteFile(macOnly, []byte("name: cis-level1\nfirewall: {enabled: true, stealth: true, logging: true}\nservices: {remote_login: off, screen_sharing: off, file_sharing: off, remote_apple_events: off}\nsip: true\nlinux: {ssh: {password_auth: off, root_login: off}}\n"), 0o644)
			args := append([]string{"--state-dir", sd}, tt.args...)
			args = append(args, "--baseline", macOnly)
			r := firewarden(t, root, args...)
			if r.code != 2 || r.stderr != tt.stderr || !strings.Contains(r.stdout, tt.stdout) {
				t.Errorf("firewarden %q on Linux = exit %d\nstderr %q\nstdout:\n%s\nwant exit 2, stderr %q and stdout holding %q", tt.args, r.code, r.stderr, r.stdout, tt.stderr, tt.stdout)
			}
			if tt.isJSON && !json.Valid([]byte(r.stdout)) {
				t.Errorf("firewarden %q: stdout is not JSON:\n%s", tt.args, r.stdout)
			}
			_, err := os.Stat(filepath.Join(sd, "evidence.jsonl"))
			if chained := err == nil; chained != tt.chained {
				t.Errorf("firewarden %q: evidence chain written = %v, want %v", tt.args, chained, tt.chained)
			}
		})
	}
}
