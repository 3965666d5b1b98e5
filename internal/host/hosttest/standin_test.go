package hosttest_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/host/hosttest"
)

// buildMacemu compiles the stand-in into a temporary directory.
func buildMacemu(t *testing.T) string { return hosttest.BuildMacemu(t) }

// TestStandInThroughExecRunner runs the stand-in programs of a laid-out fake Mac the way
// firewarden does, and checks that state persists across runs.
func TestStandInThroughExecRunner(t *testing.T) {
	bin := buildMacemu(t)
	dir := t.TempDir()
	if err := hosttest.Layout(dir, hosttest.Mac14(), bin); err != nil {
		t.Fatal(err)
	}
	root, err := host.NewRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := host.ExecRunner{Root: root}

	steps := []struct {
		path   string
		args   []string
		exit   int
		stdout string
	}{
		{sfw, []string{"--getglobalstate"}, 0, "Firewall is disabled. (State = 0)\n"},
		{sfw, []string{"--setglobalstate", "on", "--setstealthmode", "on"}, 0, "Firewall is enabled. (State = 1)\nStealth mode enabled\n"},
		{sfw, []string{"--getglobalstate", "--getstealthmode"}, 0, "Firewall is enabled. (State = 1)\nStealth mode enabled\n"},
		{defaults, []string{"read", "/Library/Preferences/com.apple.alf", "globalstate"}, 0, "1\n"},
		{sfw, []string{"--bogus"}, 1, ""},
		{systemsetup, []string{"-getremotelogin"}, 0, "Remote Login: Off\n"},
	}
	for _, s := range steps {
		res := run(t, r, s.path, s.args...)
		if res.ExitCode != s.exit || string(res.Stdout) != s.stdout {
			t.Errorf("stand-in %s = exit %d %q (stderr %q), want %d %q", host.QuoteArgv(res.Argv), res.ExitCode, res.Stdout, res.Stderr, s.exit, s.stdout)
		}
	}

	st, err := hosttest.LoadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	var wantCalls [][]string
	for _, s := range steps {
		wantCalls = append(wantCalls, append([]string{s.path}, s.args...))
	}
	if diff := cmp.Diff(wantCalls, st.Calls); diff != "" {
		t.Errorf("LoadState().Calls (-want +got):\n%s", diff)
	}
	if !st.Stealth || st.GlobalState != 1 {
		t.Errorf("LoadState() = global state %d, stealth %v; want 1, true", st.GlobalState, st.Stealth)
	}
	if diff := cmp.Diff([][]string{wantCalls[1]}, st.Writes()); diff != "" {
		t.Errorf("LoadState().Writes() (-want +got):\n%s", diff)
	}
}

// TestStandInConcurrentRuns checks that stand-ins running at once never lose each other's
// changes to the state file.
func TestStandInConcurrentRuns(t *testing.T) {
	bin := buildMacemu(t)
	dir := t.TempDir()
	st := hosttest.Mac26()
	if err := hosttest.Layout(dir, st, bin); err != nil {
		t.Fatal(err)
	}
	root, err := host.NewRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := host.ExecRunner{Root: root}
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = r.Run(t.Context(), host.Cmd{Path: sfw, Args: []string{"--add", fmt.Sprintf("/opt/app%d", i)}})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("stand-in run %d: %v", i, err)
		}
	}
	got, err := hosttest.LoadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Apps) != len(st.Apps)+n || len(got.Calls) != n {
		t.Errorf("after %d concurrent --add runs: %d apps, %d calls; want %d and %d", n, len(got.Apps), len(got.Calls), len(st.Apps)+n, n)
	}
}

func TestIoregPlatformUUID(t *testing.T) {
	for _, tt := range []struct {
		name, uuid, want string
	}{
		{"default", "", hosttest.DefaultPlatformUUID},
		{"own", "0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9", "0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := hosttest.Mac15()
			st.PlatformUUID = tt.uuid
			m := newMac(t, st)
			res := run(t, m, "/usr/sbin/ioreg", "-rd1", "-c", "IOPlatformExpertDevice")
			if want := `"IOPlatformUUID" = "` + tt.want + `"`; !strings.Contains(string(res.Stdout), want) {
				t.Errorf("ioreg -rd1 -c IOPlatformExpertDevice = %q, want a line with %s", res.Stdout, want)
			}
		})
	}
}
