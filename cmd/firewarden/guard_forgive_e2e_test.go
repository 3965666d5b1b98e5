package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGuardForgivesLogins is issue 16's false ban through the real daemon: a user whose PAM
// stack logs a pam_unix failure before SSSD lets her in, and a CI job whose agent offers three
// wrong keys before the right one, each log in ten times within the window from one address,
// and neither is banned; a brute force from a third address, ten failures, is. The guard
// follows a plain file with the dry-run backend, so it needs no root or namespace.
func TestGuardForgivesLogins(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "auth.log")
	if err := os.WriteFile(logPath, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "firewarden.yaml")
	if err := os.WriteFile(cfg, []byte("guard:\n  sources:\n    - type: file\n      path: "+logPath+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lines, err := os.ReadFile(filepath.Join(guardTestData, "pam-agent-bruteforce.log"))
	if err != nil {
		t.Fatal(err)
	}
	g := startFileGuard(t, dir, cfg)
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	banned := g.banned
	// The file source starts reading at the end it finds: a warm-up address fails until it is
	// banned, so that every line after it is read.
	pid := 9000
	g.until("the warm-up ban", func() bool {
		pid++
		fmt.Fprintf(f, "Nov 22 06:00:00 host sshd[%d]: Failed password for root from 192.0.2.99 port 22 ssh2\n", pid)
		f.Sync()
		return eventuallyTrue(50*time.Millisecond, func() bool { return banned("192.0.2.99") })
	})
	if _, err := f.Write(lines); err != nil {
		t.Fatal(err)
	}
	f.Sync()
	// Line 80 of the log: every login line comes before it.
	g.until("the ban of the brute force", func() bool { return banned("203.0.113.50") })
	g.stop()
	for _, a := range []string{"198.51.100.20", "198.51.100.30"} {
		if banned(a) {
			t.Errorf("the guard banned %s, whose failures each came before a login\nstderr:\n%s", a, g.errb.String())
		}
	}
	if !strings.Contains(g.errb.String(), "20 logins forgave their failures") {
		t.Errorf("the stop line does not say 20 logins forgave their failures\nstderr:\n%s", g.errb.String())
	}
	if n := bytes.Count([]byte(g.errb.String()), []byte("guard: banned")); n != 2 {
		t.Errorf("%d bans, want 2 (the warm-up and the brute force)\nstderr:\n%s", n, g.errb.String())
	}
}
