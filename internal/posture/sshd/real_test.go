package sshd

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/host/hosttest"
	"github.com/firewarden/firewarden/internal/posture"
)

// realHost is a fake Debian root whose sshd is the real one (hosttest.RealSSHD), with cloud-init's
// drop-in as many cloud images ship it.
func realHost(t *testing.T, extra map[string]string) (host.Root, *Provider) {
	t.Helper()
	r, p, _ := realHostKey(t, extra)
	return r, p
}

func realHostKey(t *testing.T, extra map[string]string) (host.Root, *Provider, string) {
	t.Helper()
	dir := t.TempDir()
	key := hosttest.RealSSHD(t, dir)
	if err := hosttest.LayoutLinux(dir); err != nil {
		t.Fatal(err)
	}
	for p, c := range merge(map[string]string{"/etc/ssh/sshd_config.d/50-cloud-init.conf": "PasswordAuthentication yes\n"}, extra) {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := host.NewRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	osinfo, err := host.Detect(r)
	if err != nil {
		t.Fatal(err)
	}
	return r, New(r, osinfo, host.ExecRunner{Root: r, Timeout: 20 * time.Second}), key
}

// sshd -T without host keys exits non-zero: both checks are errors quoting sshd, and neither is
// fixable (a fix could not be verified).
func TestRealSSHDWithoutHostKeys(t *testing.T) {
	_, p, key := realHostKey(t, nil)
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	for _, r := range p.Evaluate(context.Background(), posture.Request{Baseline: base(ptr(false), "no"), Now: time.Now()}) {
		if r.Status != posture.Error || r.Fixable || !strings.Contains(r.Detail, "no hostkeys available") || !strings.Contains(r.Detail, "ssh-keygen -A") || len(r.Evidence) == 0 {
			t.Errorf("%s without host keys = %s fixable=%v %q, want error quoting sshd and saying what to do", r.ID, r.Status, r.Fixable, r.Detail)
		}
	}
}

func statuses(p *Provider) map[string]string {
	out := map[string]string{}
	for _, r := range p.Evaluate(context.Background(), posture.Request{Baseline: base(ptr(false), "no"), Now: time.Now()}) {
		out[r.ID] = string(r.Status) + " " + r.Actual
	}
	return out
}

func TestRealSSHDFixAndRollback(t *testing.T) {
	r, p := realHost(t, nil)
	req := posture.Request{Baseline: base(ptr(false), "no"), Now: time.Now()}
	before := p.Evaluate(context.Background(), req)
	want := map[string]string{PasswordAuth: "fail on", RootLogin: "fail prohibit-password"}
	if diff := cmp.Diff(want, statuses(p)); diff != "" {
		t.Fatalf("check before the fix mismatch (-want +got):\n%s\n%+v", diff, before)
	}
	if d := before[0].Detail; !strings.Contains(d, "PasswordAuthentication yes (set at /etc/ssh/sshd_config.d/50-cloud-init.conf:1)") {
		t.Errorf("password_auth Detail = %q, want it to name cloud-init's line", d)
	}
	changes, err := p.Plan(context.Background(), req, before)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Apply(context.Background(), changes[0]); err != nil {
		t.Fatalf("Apply(fix) = %v", err)
	}
	if got, _ := os.ReadFile(r.Path(DropIn)); string(got) != wantDropIn {
		t.Errorf("drop-in = %q, want %q", got, wantDropIn)
	}
	want = map[string]string{PasswordAuth: "pass off", RootLogin: "pass no"}
	if diff := cmp.Diff(want, statuses(p)); diff != "" {
		t.Errorf("check after the fix mismatch (-want +got):\n%s", diff)
	}

	back := posture.Change{Check: changes[0].Check, Key: DropIn, From: changes[0].To, To: changes[0].From}
	if _, err := p.Apply(context.Background(), back); err != nil {
		t.Fatalf("Apply(rollback) = %v", err)
	}
	if _, err := os.Lstat(r.Path(DropIn)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("drop-in after rollback: %v, want it gone", err)
	}
	want = map[string]string{PasswordAuth: "fail on", RootLogin: "fail prohibit-password"}
	if diff := cmp.Diff(want, statuses(p)); diff != "" {
		t.Errorf("check after the rollback mismatch (-want +got):\n%s", diff)
	}
	reloads := [][]string{{"reload", "ssh.service"}, {"reload", "ssh.service"}} // systemctl's arguments
	if diff := cmp.Diff(reloads, hosttest.Runs(t, r.Dir())); diff != "" {
		t.Errorf("systemctl runs mismatch (-want +got):\n%s", diff)
	}
}

// sshd -t refuses a drop-in it cannot read; the previous one is put back, byte for byte, and the
// daemon is not reloaded.
func TestRealSSHDRefusesInvalidDropIn(t *testing.T) {
	const mine = "# kept\nPermitRootLogin no\n"
	r, p := realHost(t, map[string]string{DropIn: mine})
	c := posture.Change{Check: RootLogin, Key: DropIn, From: strconv.Quote(mine), To: strconv.Quote(header + "PermitRootLogin sometimes\n")}
	_, err := p.Apply(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "sshd -t refused") || !strings.Contains(err.Error(), `line 2: unsupported option "sometimes"`) || !strings.Contains(err.Error(), "the previous file is back") {
		t.Errorf("Apply(invalid drop-in) = %v, want sshd's refusal naming the option and the previous file back", err)
	}
	if got, _ := os.ReadFile(r.Path(DropIn)); string(got) != mine {
		t.Errorf("drop-in after the refusal = %q, want %q", got, mine)
	}
	if runs := hosttest.Runs(t, r.Dir()); len(runs) != 0 {
		t.Errorf("a refused drop-in reloaded the daemon: %q", runs)
	}
	entries, _ := os.ReadDir(filepath.Dir(r.Path(DropIn)))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"00-firewarden.conf", "50-cloud-init.conf"}, names); diff != "" {
		t.Errorf("sshd_config.d after the refusal mismatch (-want +got):\n%s", diff)
	}
}

// A main configuration that sets the value before its Include makes the drop-in useless: the fix
// puts the previous state back and says which line to change.
func TestRealSSHDValueBeforeInclude(t *testing.T) {
	r, p := realHost(t, nil)
	mainPath := r.Path(mainConfig)
	data, _ := os.ReadFile(mainPath)
	if err := os.WriteFile(mainPath, append([]byte("PasswordAuthentication yes\n"), data...), 0o644); err != nil {
		t.Fatal(err)
	}
	req := posture.Request{Baseline: base(ptr(false), "no"), Now: time.Now()}
	changes, err := p.Plan(context.Background(), req, p.Evaluate(context.Background(), req))
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Apply(context.Background(), changes[0])
	const want = "/etc/ssh/sshd_config:1 sets PasswordAuthentication yes before /etc/ssh/sshd_config.d/00-firewarden.conf is read; delete that line"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Apply() = %v, want it to say %q", err, want)
	}
	if _, err := os.Lstat(r.Path(DropIn)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the useless drop-in was left: %v", err)
	}
}

// Match blocks are named with file:line; the verdict is on the global values.
func TestRealSSHDMatchBlocks(t *testing.T) {
	r, _ := realHost(t, map[string]string{"/etc/ssh/sshd_config.d/60-deploy.conf": "Match User deploy\n  PasswordAuthentication yes\n  PermitRootLogin yes\n"})
	os.WriteFile(r.Path("/etc/ssh/sshd_config.d/50-cloud-init.conf"), []byte("PasswordAuthentication no\nPermitRootLogin no\n"), 0o644)
	osinfo, _ := host.Detect(r)
	p := New(r, osinfo, host.ExecRunner{Root: r})
	res := p.Evaluate(context.Background(), posture.Request{Baseline: base(ptr(false), "no"), Now: time.Now()})
	for i, want := range []string{
		"/etc/ssh/sshd_config.d/60-deploy.conf:2 (Match User deploy) PasswordAuthentication yes",
		"/etc/ssh/sshd_config.d/60-deploy.conf:3 (Match User deploy) PermitRootLogin yes",
	} {
		if res[i].Status != posture.Pass || !strings.Contains(res[i].Detail, want) {
			t.Errorf("%s = %s, Detail %q; want pass naming %q", res[i].ID, res[i].Status, res[i].Detail, want)
		}
	}
}
