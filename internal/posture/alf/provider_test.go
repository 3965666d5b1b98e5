package alf_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/host/hosttest"
	"github.com/firewarden/firewarden/internal/posture"
	"github.com/firewarden/firewarden/internal/posture/alf"
	"github.com/firewarden/firewarden/internal/posture/baseline"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// fakeMac lays out an emulated Mac and returns a provider wired to it.
func fakeMac(t *testing.T, st hosttest.MacState) (*alf.Provider, *hosttest.Mac) {
	t.Helper()
	return fakeMacAt(t, t.TempDir(), st)
}

func fakeMacAt(t *testing.T, dir string, st hosttest.MacState) (*alf.Provider, *hosttest.Mac) {
	t.Helper()
	mac, err := hosttest.NewMac(dir, st)
	if err != nil {
		t.Fatal(err)
	}
	root, err := host.NewRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	osinfo, err := host.Detect(root)
	if err != nil {
		t.Fatal(err)
	}
	return alf.New(root, osinfo, mac), mac
}

func mustBaseline(t *testing.T, yaml string) *baseline.Baseline {
	t.Helper()
	b, err := baseline.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func statuses(rs []posture.Result) map[string]posture.Status {
	m := map[string]posture.Status{}
	for _, r := range rs {
		m[r.ID] = r.Status
	}
	return m
}

func socketfilterfwRuns(calls [][]string) [][]string {
	var out [][]string
	for _, c := range calls {
		if c[0] == alf.SocketFilterFW {
			out = append(out, c)
		}
	}
	return out
}

func TestEvaluateDefaultBaseline(t *testing.T) {
	tests := []struct {
		name    string
		st      hosttest.MacState
		want    map[string]posture.Status
		getters []string // the single socketfilterfw run
	}{
		{"macOS 14 out of the box", hosttest.Mac14(),
			map[string]posture.Status{"alf.enabled": posture.Fail, "alf.stealth": posture.Fail, "alf.logging": posture.Fail},
			[]string{"--getglobalstate", "--getstealthmode", "--getloggingmode", "--getloggingopt"}},
		{"macOS 15.1: logging not applicable", hosttest.Mac15(),
			map[string]posture.Status{"alf.enabled": posture.Fail, "alf.stealth": posture.Fail, "alf.logging": posture.NotApplicable},
			[]string{"--getglobalstate", "--getstealthmode"}},
		{"macOS 15.4: no logging flags asked", hosttest.Mac154(),
			map[string]posture.Status{"alf.enabled": posture.Fail, "alf.stealth": posture.Fail, "alf.logging": posture.NotApplicable},
			[]string{"--getglobalstate", "--getstealthmode"}},
		{"managed macOS 15", hosttest.ManagedMac15(),
			map[string]posture.Status{"alf.enabled": posture.Managed, "alf.stealth": posture.Managed, "alf.logging": posture.NotApplicable},
			[]string{"--getglobalstate", "--getstealthmode"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, mac := fakeMac(t, tt.st)
			rs := p.Evaluate(context.Background(), posture.Request{Baseline: baseline.Default(), Now: now})
			if diff := cmp.Diff(tt.want, statuses(rs)); diff != "" {
				t.Errorf("statuses (-want +got):\n%s", diff)
			}
			runs := socketfilterfwRuns(mac.Calls())
			if len(runs) != 1 {
				t.Fatalf("socketfilterfw ran %d times, want once: %q", len(runs), runs)
			}
			if diff := cmp.Diff(tt.getters, runs[0][1:]); diff != "" {
				t.Errorf("getters (-want +got):\n%s", diff)
			}
			if w := mac.Writes(); len(w) != 0 {
				t.Errorf("Evaluate wrote: %q", w)
			}
		})
	}
}

func TestEvaluateEvidenceAndControls(t *testing.T) {
	p, _ := fakeMac(t, hosttest.Mac15())
	rs := p.Evaluate(context.Background(), posture.Request{Baseline: baseline.Default(), Only: map[string]bool{"alf.enabled": true}, Now: now})
	if len(rs) != 1 {
		t.Fatalf("got %d results, want 1", len(rs))
	}
	r := rs[0]
	if r.Actual != "off (State = 0)" || r.Expected != "on" || r.Source != "socketfilterfw" {
		t.Errorf("result = %q/%q/%q, want off (State = 0)/on/socketfilterfw", r.Actual, r.Expected, r.Source)
	}
	if !slices.Contains(r.Controls, "CIS 2.2.1") || !slices.Contains(r.Controls, "800-53r5 SC-7(12)") {
		t.Errorf("controls = %q, want CIS 2.2.1 and SC-7(12)", r.Controls)
	}
	if len(r.Evidence) != 2 || r.Evidence[0].Kind != "exec" || !strings.Contains(r.Evidence[0].Stdout, "(State = 0)") || len(r.Evidence[0].SHA256) != 64 {
		t.Errorf("evidence = %+v, want the socketfilterfw run and the profile file", r.Evidence)
	}
}

func TestPlistDisagreement(t *testing.T) {
	// On macOS 14, `defaults write … globalstate -int 0` edits the plist behind the firewall's back
	// (alf.md §1.5: the route that defeated profiles before 15).
	st := hosttest.Mac14()
	st.GlobalState = 1
	p, mac := fakeMac(t, st)
	if _, err := mac.Run(context.Background(), host.Cmd{Path: "/usr/bin/defaults", Args: []string{"write", "/Library/Preferences/com.apple.alf", "globalstate", "-int", "0"}}); err != nil {
		t.Fatal(err)
	}
	rs := p.Evaluate(context.Background(), posture.Request{Baseline: baseline.Default(), Only: map[string]bool{"alf.enabled": true}, Now: now})
	r := rs[0]
	if r.Status != posture.Fail || !strings.Contains(r.Detail, "com.apple.alf.plist says off (0) but socketfilterfw says on") {
		t.Errorf("status %s detail %q; want fail naming the disagreement", r.Status, r.Detail)
	}
}

func TestUnparseableIsErrorNotOff(t *testing.T) {
	garbage := runnerFunc(func(_ context.Context, c host.Cmd) (host.Result, error) {
		return host.Result{Argv: c.Argv(), Stdout: []byte("Segmentation fault\n"), ExitCode: 0}, nil
	})
	p, _ := fakeMac(t, hosttest.Mac15())
	root, _ := host.NewRoot(t.TempDir())
	p = alf.New(root, host.OS{Kind: host.MacOS, Major: 15, Version: "15.1"}, garbage)
	rs := p.Evaluate(context.Background(), posture.Request{Baseline: baseline.Default(), Now: now})
	for _, r := range rs {
		if r.ID == "alf.logging" {
			continue
		}
		if r.Status != posture.Error || !strings.Contains(r.Detail, "Segmentation fault") {
			t.Errorf("%s: status %s detail %q; want error carrying the raw text", r.ID, r.Status, r.Detail)
		}
	}
}

type runnerFunc func(context.Context, host.Cmd) (host.Result, error)

func (f runnerFunc) Run(ctx context.Context, c host.Cmd) (host.Result, error) { return f(ctx, c) }

func fix(t *testing.T, p *alf.Provider, b *baseline.Baseline, only map[string]bool) posture.FixReport {
	t.Helper()
	e := &posture.Engine{Providers: []posture.Provider{p}}
	fr, err := e.Fix(context.Background(), posture.Request{Baseline: b, Only: only, Now: now}, false, &posture.BackupStore{Dir: t.TempDir(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return fr
}

func TestFixDefaultBaseline(t *testing.T) {
	for _, st := range []hosttest.MacState{hosttest.Mac14(), hosttest.Mac15(), hosttest.Mac26()} {
		t.Run(st.Version, func(t *testing.T) {
			p, mac := fakeMac(t, st)
			fr := fix(t, p, baseline.Default(), nil)
			if fr.Failed != nil {
				t.Fatalf("fix failed: %+v", fr.Failed)
			}
			if code := fr.ExitCode(); code != 0 {
				t.Errorf("ExitCode() = %d, want 0; after: %+v", code, fr.After.Results)
			}
			got := mac.State()
			if got.GlobalState != 1 || !got.Stealth {
				t.Errorf("state after fix: global %d stealth %v, want 1 true", got.GlobalState, got.Stealth)
			}
			if st.Version == "14.6" && (!got.Logging || got.LoggingOpt != "detail") {
				t.Errorf("macOS 14 logging after fix = %v/%q, want on/detail", got.Logging, got.LoggingOpt)
			}
			// Idempotent: a second run writes nothing.
			before := len(mac.Writes())
			fr = fix(t, p, baseline.Default(), nil)
			if len(fr.Planned) != 0 || len(mac.Writes()) != before {
				t.Errorf("second fix planned %d and wrote %q", len(fr.Planned), mac.Writes()[before:])
			}
		})
	}
}

func TestFixOnlyEnabledLeavesTheRestAlone(t *testing.T) {
	p, mac := fakeMac(t, hosttest.Mac15())
	fix(t, p, baseline.Default(), map[string]bool{"alf.enabled": true})
	want := [][]string{{alf.SocketFilterFW, "--setglobalstate", "on"}}
	if diff := cmp.Diff(want, mac.Writes()); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
	if st := mac.State(); st.Stealth || st.GlobalState != 1 {
		t.Errorf("state = global %d stealth %v; want 1 and stealth untouched (off)", st.GlobalState, st.Stealth)
	}
}

func TestManagedMacRefusesAndFixDoesNotFight(t *testing.T) {
	p, mac := fakeMac(t, hosttest.ManagedMac15())
	b := mustBaseline(t, "firewall:\n  enabled: true\n  stealth: true\n  block_all: true\n")
	fr := fix(t, p, b, nil)
	if len(mac.Writes()) != 0 {
		t.Errorf("fix on a managed Mac wrote %q; it must not fight the profile", mac.Writes())
	}
	if len(fr.Refused) != 1 || fr.Refused[0].ID != "alf.block_all" || !strings.Contains(fr.Refused[0].FixHint, "BlockAllIncoming") {
		t.Errorf("refused = %+v; want alf.block_all naming BlockAllIncoming", fr.Refused)
	}
	// A direct write is refused by socketfilterfw with exit 0; Apply must see it.
	_, err := p.Apply(context.Background(), posture.Change{Check: "alf.stealth", Key: "alf.stealth", From: "on", To: "off"})
	if !errors.Is(err, posture.ErrManagedByProfile) || !strings.Contains(err.Error(), alf.RefusalText) {
		t.Errorf("Apply on a managed Mac = %v; want ErrManagedByProfile with the tool's words", err)
	}
}

func TestApplyDetectsAWriteThatDidNotTake(t *testing.T) {
	// macOS 15.1 accepts --setloggingmode on, prints a failure and changes nothing
	// (drduh/macOS-Security-and-Privacy-Guide#493).
	p, _ := fakeMac(t, hosttest.Mac15())
	_, err := p.Apply(context.Background(), posture.Change{Check: "alf.logging", Key: "alf.logging", From: "off", To: "on"})
	if err == nil || !strings.Contains(err.Error(), "Failed to set log mode") {
		t.Errorf("Apply(logging on, 15.1) = %v; want an error quoting the tool", err)
	}
}

func TestApps(t *testing.T) {
	b := mustBaseline(t, `firewall:
  apps:
    allow: [/Applications/Zoom.app]
    block: [/usr/bin/ruby, /usr/bin/nc]
    exclusive: true
`)
	st := hosttest.Mac15()
	st.Apps = []hosttest.App{{Path: "/usr/bin/ruby"}, {Path: "/usr/bin/python3"}}
	p, mac := fakeMac(t, st)
	rs := p.Evaluate(context.Background(), posture.Request{Baseline: b, Now: now})
	if rs[0].Status != posture.Fail || !strings.Contains(rs[0].Detail, "/usr/bin/python3 is allow, want absent") {
		t.Fatalf("apps result = %s %q", rs[0].Status, rs[0].Detail)
	}
	fr := fix(t, p, b, nil)
	if fr.Failed != nil || fr.ExitCode() != 0 {
		t.Fatalf("fix: failed %+v exit %d", fr.Failed, fr.ExitCode())
	}
	want := []hosttest.App{{Path: "/usr/bin/ruby", Blocked: true}, {Path: "/Applications/Zoom.app"}, {Path: "/usr/bin/nc", Blocked: true}}
	if diff := cmp.Diff(want, mac.State().Apps, cmpSortApps); diff != "" {
		t.Errorf("apps after fix (-want +got):\n%s", diff)
	}
	// Blocking and removing run before allowing.
	var order []string
	for _, c := range fr.Applied {
		order = append(order, c.Key+"="+c.To)
	}
	if last := order[len(order)-1]; last != "alf.app:/Applications/Zoom.app=allow" {
		t.Errorf("applied order %q: the allow (weakening) change should come last", order)
	}
}

var cmpSortApps = cmp.Transformer("sort", func(in []hosttest.App) []hosttest.App {
	out := slices.Clone(in)
	slices.SortFunc(out, func(a, b hosttest.App) int { return strings.Compare(a.Path, b.Path) })
	return out
})

func TestRollbackRestoresGlobalState(t *testing.T) {
	st := hosttest.Mac15()
	st.GlobalState = 2
	p, mac := fakeMac(t, st)
	e := &posture.Engine{Providers: []posture.Provider{p}}
	saved := []posture.Change{{Check: "alf.enabled", Key: "alf.globalstate", From: "2", To: "0"}}
	if _, err := p.Apply(context.Background(), posture.Change{Check: "alf.enabled", Key: "alf.globalstate", From: "2", To: "0"}); err != nil {
		t.Fatal(err)
	}
	results, err := e.Rollback(context.Background(), saved)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Error != "" {
			t.Fatalf("rollback: %s", r.Error)
		}
	}
	if got := mac.State().GlobalState; got != 2 {
		t.Errorf("global state after rollback = %d, want 2", got)
	}
}

func TestNotMacOS(t *testing.T) {
	root, _ := host.NewRoot(t.TempDir())
	p := alf.New(root, host.OS{Kind: host.Linux, Name: "Debian GNU/Linux 12"}, nil)
	for _, r := range p.Evaluate(context.Background(), posture.Request{Baseline: baseline.Default(), Now: now}) {
		if r.Status != posture.NotApplicable {
			t.Errorf("%s on Linux = %s, want not_applicable", r.ID, r.Status)
		}
	}
}

// cannedRunner answers the default baseline's socketfilterfw run from a captured output, so the
// benchmark measures firewarden's own parse-and-decide path and not a process start.
type cannedRunner []byte

func (c cannedRunner) Run(_ context.Context, cmd host.Cmd) (host.Result, error) {
	return host.Result{Argv: cmd.Argv(), Stdout: c, ExitCode: 0}, nil
}

func BenchmarkEvaluateDefaultBaseline(b *testing.B) {
	out := []byte("Firewall is enabled. (State = 1)\nFirewall stealth mode is on\n")
	root, _ := host.NewRoot(b.TempDir())
	req := posture.Request{Baseline: baseline.Default(), Now: now}
	b.ReportAllocs()
	for b.Loop() {
		p := alf.New(root, host.OS{Kind: host.MacOS, Major: 15, Minor: 1, Version: "15.1"}, cannedRunner(out))
		if rs := p.Evaluate(context.Background(), req); len(rs) != 3 {
			b.Fatalf("got %d results", len(rs))
		}
	}
}

func TestFixEnabledKeepsBlockAll(t *testing.T) {
	// State 2 live, plist edited to 0 behind the firewall's back: the fix re-asserts State 2.
	st := hosttest.Mac14()
	st.GlobalState = 2
	p, mac := fakeMac(t, st)
	mac.Run(context.Background(), host.Cmd{Path: "/usr/bin/defaults", Args: []string{"write", "/Library/Preferences/com.apple.alf", "globalstate", "-int", "0"}})
	fr := fix(t, p, baseline.Default(), map[string]bool{"alf.enabled": true})
	if got := mac.State().GlobalState; got != 2 || fr.Failed != nil {
		t.Errorf("global state after fix --only alf.enabled = %d (failed %+v), want 2 kept", got, fr.Failed)
	}
	for _, w := range mac.Writes() {
		if slices.Contains(w, "--setblockall") && slices.Contains(w, "off") {
			t.Errorf("fix --only alf.enabled ran %q", w)
		}
	}
}

func TestFixUndoesAHalfAppliedAppChange(t *testing.T) {
	st := hosttest.Mac15()
	st.Apps = nil
	p, mac := fakeMac(t, st)
	// --blockapp fails after --add succeeded: the app would stay allowed.
	failing := runnerFunc(func(ctx context.Context, c host.Cmd) (host.Result, error) {
		if slices.Contains(c.Args, "--blockapp") {
			res := host.Result{Argv: c.Argv(), Stdout: []byte("ALF: Error, could not block\n"), ExitCode: 1}
			return res, &host.ExitError{Argv: res.Argv, Code: 1}
		}
		return mac.Run(ctx, c)
	})
	root, _ := host.NewRoot(t.TempDir())
	p = alf.New(root, host.OS{Kind: host.MacOS, Name: "macOS", Version: "15.1", Major: 15, Minor: 1}, failing)
	fr := fix(t, p, mustBaseline(t, "firewall:\n  apps:\n    block: [/Applications/Evil.app]\n"), nil)
	if fr.Failed == nil || !strings.Contains(fr.Failed.Error, `socketfilterfw said "ALF: Error, could not block"`) {
		t.Fatalf("failed = %+v; want the tool's words", fr.Failed)
	}
	if apps := mac.State().Apps; len(apps) != 0 {
		t.Errorf("apps after the failed fix = %+v; want none (the --add undone)", apps)
	}
}

func TestUntrustworthyInputsAreErrors(t *testing.T) {
	t.Run("contradicting output", func(t *testing.T) {
		out := []byte("Firewall is enabled. (State = 1)\nFirewall is disabled. (State = 0)\nFirewall stealth mode is on\n")
		root, _ := host.NewRoot(t.TempDir())
		p := alf.New(root, host.OS{Kind: host.MacOS, Major: 15, Version: "15.1"}, cannedRunner(out))
		for _, r := range p.Evaluate(context.Background(), posture.Request{Baseline: baseline.Default(), Now: now}) {
			if r.ID != "alf.logging" && (r.Status != posture.Error || !strings.Contains(r.Detail, "contradicted itself")) {
				t.Errorf("%s = %s %q; want error", r.ID, r.Status, r.Detail)
			}
		}
	})
	t.Run("malformed profile", func(t *testing.T) {
		dir := t.TempDir()
		p, _ := fakeMacAt(t, dir, hosttest.ManagedMac15())
		path := filepath.Join(dir, alf.ProfilePath)
		os.WriteFile(path, []byte(`<plist><dict><key>EnableFirewall</key><string>yes</string></dict></plist>`), 0o644)
		rs := p.Evaluate(context.Background(), posture.Request{Baseline: baseline.Default(), Only: map[string]bool{"alf.enabled": true}, Now: now})
		if rs[0].Status != posture.Error || !strings.Contains(rs[0].Detail, "EnableFirewall is string") {
			t.Errorf("alf.enabled with a malformed profile = %s %q; want error naming the key", rs[0].Status, rs[0].Detail)
		}
	})
}
