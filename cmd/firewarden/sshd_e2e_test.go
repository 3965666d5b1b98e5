package main

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/host/hosttest"
)

// The SSH daemon checks through the real binary against the real sshd: a Debian root with
// cloud-init's PasswordAuthentication yes fails check; fix writes the drop-in that sorts first and
// reloads ssh.service; check passes; rollback removes the drop-in again.
func TestSSHDCheckFixRollback(t *testing.T) {
	root := t.TempDir()
	hosttest.RealSSHD(t, root)
	if err := hosttest.LayoutLinux(root); err != nil {
		t.Fatal(err)
	}
	cloud := filepath.Join(root, "etc/ssh/sshd_config.d/50-cloud-init.conf")
	if err := os.WriteFile(cloud, []byte("PasswordAuthentication yes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dropIn := filepath.Join(root, "etc/ssh/sshd_config.d/00-firewarden.conf")
	const only = "--only=linux.ssh.password_auth,linux.ssh.root_login"

	r := firewarden(t, root, "check", only)
	if r.code != 1 || !regexpLine(r.stdout, `linux.ssh.password_auth +fail +off +on +sshd -T`) || !regexpLine(r.stdout, `linux.ssh.root_login +fail +no +prohibit-password +sshd -T +CIS 5.1.20`) ||
		!strings.Contains(r.stdout, "PasswordAuthentication yes (set at /etc/ssh/sshd_config.d/50-cloud-init.conf:1)") {
		t.Fatalf("check before the fix: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = firewarden(t, root, "fix", only)
	if r.code != 0 || !strings.Contains(r.stdout, "/etc/ssh/sshd_config.d/00-firewarden.conf") || !strings.Contains(r.stdout, "changed, verified") {
		t.Fatalf("fix: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	data, err := os.ReadFile(dropIn)
	if err != nil || !strings.Contains(string(data), "PasswordAuthentication no\n") || !strings.Contains(string(data), "PermitRootLogin no\n") {
		t.Errorf("drop-in after fix = %q, %v", data, err)
	}
	r = firewarden(t, root, "check", only)
	if r.code != 0 || !regexpLine(r.stdout, `linux.ssh.password_auth +pass +off +off`) || !regexpLine(r.stdout, `linux.ssh.root_login +pass +no +no`) {
		t.Errorf("check after the fix: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = firewarden(t, root, "rollback")
	if r.code != 0 {
		t.Fatalf("rollback: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Lstat(dropIn); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("drop-in after rollback: %v, want it removed (it was absent before the fix)", err)
	}
	if got, _ := os.ReadFile(cloud); string(got) != "PasswordAuthentication yes\n" {
		t.Errorf("cloud-init's drop-in = %q, want it untouched", got)
	}
	if r := firewarden(t, root, "check", only); r.code != 1 {
		t.Errorf("check after the rollback: exit %d, want 1 (fails again)\n%s", r.code, r.stdout)
	}
	want := [][]string{{"reload", "ssh.service"}, {"reload", "ssh.service"}}
	if diff := cmp.Diff(want, hosttest.Runs(t, root)); diff != "" {
		t.Errorf("systemctl runs mismatch (-want +got):\n%s", diff)
	}
}

// A backup edited to hold a drop-in sshd cannot read: rollback lets sshd -t judge it, keeps the
// file the fix wrote, and says what sshd said. A backup naming another file is refused before
// anything runs.
func TestSSHDRollbackOfInvalidDropIn(t *testing.T) {
	root := t.TempDir()
	hosttest.RealSSHD(t, root)
	if err := hosttest.LayoutLinux(root); err != nil {
		t.Fatal(err)
	}
	dropIn := filepath.Join(root, "etc/ssh/sshd_config.d/00-firewarden.conf")
	if r := firewarden(t, root, "fix", "--only=linux.ssh.root_login"); r.code != 0 {
		t.Fatalf("fix: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	fixed, err := os.ReadFile(dropIn)
	if err != nil {
		t.Fatal(err)
	}
	backups, _ := filepath.Glob(filepath.Join(root, "var/lib/firewarden/backups/*.json"))
	if len(backups) != 1 {
		t.Fatalf("backups = %q, want one", backups)
	}
	data, _ := os.ReadFile(backups[0])
	edit := func(old, new string) {
		t.Helper()
		if !strings.Contains(string(data), old) {
			t.Fatalf("backup has no %s:\n%s", old, data)
		}
		if err := os.WriteFile(backups[0], []byte(strings.Replace(string(data), old, new, 1)), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	edit(`"from": "absent"`, `"from": "\"PermitRootLogin sometimes\\n\""`)
	r := firewarden(t, root, "rollback")
	if r.code != 1 || !strings.Contains(r.stdout, "FAILED") || !strings.Contains(r.stdout, `unsupported option "sometimes"`) {
		t.Errorf("rollback of an invalid drop-in: exit %d, want 1 and sshd's words\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got, _ := os.ReadFile(dropIn); string(got) != string(fixed) {
		t.Errorf("drop-in after the refused rollback = %q, want the fix's %q kept", got, fixed)
	}

	edit(`"key": "/etc/ssh/sshd_config.d/00-firewarden.conf"`, `"key": "/etc/ssh/sshd_config"`)
	if r := firewarden(t, root, "rollback"); r.code != 2 || !strings.Contains(r.stderr, "firewarden changes only /etc/ssh/sshd_config.d/00-firewarden.conf") {
		t.Errorf("rollback of a backup naming sshd_config: exit %d, want 2 and a refusal\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got, _ := os.ReadFile(dropIn); string(got) != string(fixed) {
		t.Errorf("drop-in after the refused backup = %q, want it unchanged", got)
	}
}

// regexpLine reports whether some line of s matches the regular expression re.
func regexpLine(s, re string) bool {
	return regexp.MustCompile(`(?m)^` + re).MatchString(s)
}
