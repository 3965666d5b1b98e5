package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/posture/nftposture"
	"github.com/firewarden/firewarden/internal/posture/nftposture/fwtable"
	"github.com/firewarden/firewarden/internal/posture/nftposture/nfttest"
)

// runWith runs the CLI with the fake kernel k (shared between runs).
func runWith(t *testing.T, k *nfttest.Kernel, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	a := newApp(Streams{In: strings.NewReader(""), Out: &out, Err: &errb}, func(string) string { return "" })
	a.nft = k
	code := a.run(context.Background(), args)
	return out.String(), errb.String(), code
}

func TestConfirmUsage(t *testing.T) {
	root, state := linuxRoot(t), t.TempDir()
	for _, tt := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"fix", "--confirm"}, 2, "firewarden: nothing to confirm: no fix is waiting for confirmation (fix --confirm-within DURATION starts one)\n"},
		{[]string{"fix", "--confirm", "--dry-run"}, 2, "firewarden: fix --confirm takes no other fix flag: it only keeps the fix waiting for confirmation\n"},
		{[]string{"fix", "--confirm-within", "-1s"}, 2, "firewarden: --confirm-within -1s: give a positive duration such as 60s\n"},
	} {
		_, errs, code := runWith(t, &nfttest.Kernel{}, append([]string{"--root", root, "--state-dir", state}, tt.args...)...)
		if code != tt.code || errs != tt.msg {
			t.Errorf("%q = exit %d, stderr %q; want %d, %q", tt.args, code, errs, tt.code, tt.msg)
		}
	}
}

// A pending fix past its deadline whose watchdog is gone is reverted by the next check, which
// says so; a pending one whose deadline has not come is left alone.
func TestRevertOverdue(t *testing.T) {
	for _, tt := range []struct {
		name     string
		deadline time.Duration // from now
		reverted bool
	}{
		{"overdue", -time.Minute, true},
		{"not yet", time.Hour, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root, state := linuxRoot(t), t.TempDir()
			k := &nfttest.Kernel{}
			out, errs, code := runWith(t, k, "--root", root, "--state-dir", state, "fix", "--only", "linux.firewall.enabled")
			if code != 0 || k.Table == nil {
				t.Fatalf("fix = exit %d\n%s%s", code, out, errs)
			}
			entries, _ := os.ReadDir(filepath.Join(state, "backups"))
			backup := strings.TrimSuffix(entries[0].Name(), ".json")
			p, _ := json.Marshal(pending{Backup: backup, Deadline: time.Now().Add(tt.deadline).UTC(), State: statePending})
			os.WriteFile(filepath.Join(state, pendingFile), p, 0o600)

			_, errs, code = runWith(t, k, "--root", root, "--state-dir", state, "check", "--only", "linux.firewall.enabled")
			if got := strings.Contains(errs, "its watchdog is gone: reverted it now"); got != tt.reverted || (k.Table == nil) != tt.reverted {
				t.Errorf("check = exit %d, stderr %q, table %v; want reverted %v", code, errs, k.Table, tt.reverted)
			}
			if tt.reverted && code != 1 {
				t.Errorf("check after the revert = exit %d, want 1 (no firewall again)", code)
			}
		})
	}
}

// A dry run on Linux names the one netlink transaction and writes nothing.
func TestFixDryRunLinux(t *testing.T) {
	k := &nfttest.Kernel{}
	out, _, code := runWith(t, k, "--root", linuxRoot(t), "--state-dir", t.TempDir(), "fix", "--dry-run", "--only", "linux.firewall.enabled")
	want := "dry run: would run, in this order:\n  (no program: one nftables transaction over netlink)\n    # linux.firewall.enabled: linux.firewall.table no table firewarden_posture -> table firewarden_posture: 22/tcp, log, drop\n"
	if code != 1 || out != want || len(k.Writes) != 0 {
		t.Errorf("fix --dry-run = exit %d, %d writes, stdout:\n%s\nwant 1, none, and:\n%s", code, len(k.Writes), out, want)
	}
}

// A second fix --confirm says the fix was confirmed already, not that none was waiting.
func TestConfirmTwice(t *testing.T) {
	root, state := linuxRoot(t), t.TempDir()
	os.WriteFile(filepath.Join(state, pendingFile), []byte(`{"backup": "20261207T094920Z", "deadline": "2026-12-07T09:50:21Z", "state": "confirmed", "at": "2026-12-07T09:49:30Z"}`), 0o600)
	out, errs, code := runWith(t, &nfttest.Kernel{}, "--root", root, "--state-dir", state, "fix", "--confirm")
	want := "firewarden: nothing to confirm: the fix saved as backup 20261207T094920Z was confirmed at 2026-12-07T09:49:30Z and stays\n"
	if code != 2 || out != "" || errs != want {
		t.Errorf("a second fix --confirm = exit %d, stdout %q, stderr %q; want 2, nothing, %q", code, out, errs, want)
	}
}

// fix --confirm, which holds the table for boot, says how it comes back as a plain fix does:
// here, with no systemd, that the init system has to run fix --boot.
func TestConfirmSaysHowTheTableComesBack(t *testing.T) {
	root, state := linuxRoot(t), t.TempDir()
	k := &nfttest.Kernel{}
	if out, errs, code := runWith(t, k, "--root", root, "--state-dir", state, "fix", "--only", "linux.firewall.enabled"); code != 0 {
		t.Fatalf("fix = exit %d\n%s%s", code, out, errs)
	}
	entries, _ := os.ReadDir(filepath.Join(state, "backups"))
	backup := strings.TrimSuffix(entries[0].Name(), ".json")
	p, _ := json.Marshal(pending{Backup: backup, Deadline: time.Now().Add(time.Hour).UTC(), State: statePending})
	os.WriteFile(filepath.Join(state, pendingFile), p, 0o600)

	out, errs, code := runWith(t, k, "--root", root, "--state-dir", state, "fix", "--confirm")
	want := "firewarden: note: the table is held in " + state + "/firewall-table.json, but this host runs no systemd: firewarden's table comes back at boot only if the init system runs `firewarden fix --boot` before the network\n"
	if code != 0 || !strings.HasPrefix(out, "confirmed: ") || errs != want {
		t.Errorf("fix --confirm = exit %d, stdout %q, stderr %q; want 0, confirmed, %q", code, out, errs, want)
	}
}

// The agent in enforce mode leaves firewarden's table alone after a fix that asked for
// confirmation was reverted unconfirmed, until a table is held again.
func TestEnforceSuspended(t *testing.T) {
	state := t.TempDir()
	a := newApp(Streams{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, func(string) string { return "" })
	a.nft = &nfttest.Kernel{}
	a.g.stateDir = state
	if got := a.enforceSuspended(); got != "" {
		t.Errorf("enforceSuspended() with no confirmation state = %q, want \"\"", got)
	}
	reverted := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	p := &pending{Backup: "20261207T095900Z", Deadline: reverted, State: stateReverted, At: reverted, By: "watchdog"}
	if err := a.writePending(p); err != nil {
		t.Fatal(err)
	}
	want := "enforce mode leaves table inet firewarden_posture alone: the fix saved as backup 20261207T095900Z asked for confirmation and was reverted unconfirmed at 2026-12-07T10:00:00Z (watchdog)"
	if got := a.enforceSuspended(); !strings.HasPrefix(got, want) {
		t.Errorf("enforceSuspended() after a revert = %q, want it to start %q", got, want)
	}
	// A table held after the revert (a fix by hand) lifts it; one held before does not.
	k := &nfttest.Kernel{}
	snap, _ := (&nfttest.Kernel{Table: &fwtable.Spec{Log: true}}).Take()
	for _, tt := range []struct {
		at   time.Time
		want bool
	}{{reverted.Add(-time.Hour), true}, {reverted.Add(time.Minute), false}} {
		if err := nftposture.SaveHeld(state, snap, "fix", tt.at, k.Check); err != nil {
			t.Fatal(err)
		}
		if got := a.enforceSuspended() != ""; got != tt.want {
			t.Errorf("enforceSuspended() with a table held at %v = suspended %v, want %v", tt.at, got, tt.want)
		}
	}
	p.State = stateConfirmed
	if err := a.writePending(p); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(state, nftposture.HeldFile))
	if got := a.enforceSuspended(); got != "" {
		t.Errorf("enforceSuspended() after a confirmed fix = %q, want \"\"", got)
	}
}
