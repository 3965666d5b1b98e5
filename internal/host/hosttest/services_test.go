package hosttest_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/host/hosttest"
)

func TestLaunchctlPrintDisabled(t *testing.T) {
	overrides := map[string]string{"com.openssh.sshd": "enabled", "com.apple.smbd": "disabled"}
	tests := []struct {
		version string
		want    string
	}{
		{"14.6", "disabled services = {\n\t\"com.apple.smbd\" => disabled\n\t\"com.openssh.sshd\" => enabled\n}\n\nlogin item associations = {\n}\n"},
		{"13.0", "disabled services = {\n\t\"com.apple.smbd\" => disabled\n\t\"com.openssh.sshd\" => enabled\n}\n\nlogin item associations = {\n}\n"},
		{"12.7", "disabled services = {\n\t\"com.apple.smbd\" => true\n\t\"com.openssh.sshd\" => false\n}\n\nlogin item associations = {\n}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			m := newMac(t, with(hosttest.Mac14(), func(s *hosttest.MacState) { s.Version, s.Launchd = tt.version, overrides }))
			res := run(t, m, launchctl, "print-disabled", "system")
			if diff := cmp.Diff(tt.want, string(res.Stdout)); diff != "" {
				t.Errorf("launchctl print-disabled system (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("fresh Mac has no overrides", func(t *testing.T) {
		m := newMac(t, hosttest.Mac15())
		res := run(t, m, launchctl, "print-disabled", "system")
		if want := "disabled services = {\n}\n\nlogin item associations = {\n}\n"; string(res.Stdout) != want {
			t.Errorf("launchctl print-disabled system = %q, want %q", res.Stdout, want)
		}
	})
}

// TestServiceScenario walks the mSCP remote login fix (reference §6) through systemsetup and
// launchctl.
func TestServiceScenario(t *testing.T) {
	m := newMac(t, hosttest.Mac15())
	steps := []struct {
		path       string
		args       []string
		wantExit   int
		wantStdout string
		wantStderr string
	}{
		{systemsetup, []string{"-getremotelogin"}, 0, "Remote Login: Off\n", ""},
		{launchctl, []string{"print", "system/com.openssh.sshd"}, 113, "", "Could not find service \"com.openssh.sshd\" in domain for system\n"},
		{systemsetup, []string{"-f", "-setremotelogin", "on"}, 0, "", ""},
		{systemsetup, []string{"-getremotelogin"}, 0, "Remote Login: On\n", ""},
		{launchctl, []string{"list"}, 0, "PID\tStatus\tLabel\n-\t0\tcom.openssh.sshd\n", ""},
		{launchctl, []string{"bootout", "system/com.openssh.sshd"}, 0, "", ""},
		{systemsetup, []string{"-f", "-setremotelogin", "off"}, 0, "", ""},
		{launchctl, []string{"disable", "system/com.openssh.sshd"}, 0, "", ""},
		{launchctl, []string{"bootout", "system/com.openssh.sshd"}, 3, "", "Boot-out failed: 3: No such process\n"},
		{systemsetup, []string{"-getremotelogin"}, 0, "Remote Login: Off\n", ""},
		{launchctl, []string{"enable", "system/com.apple.AEServer"}, 0, "", ""},
		{systemsetup, []string{"-getremoteappleevents"}, 0, "Remote Apple Events: On\n", ""},
		{systemsetup, []string{"-setremoteappleevents", "off"}, 0, "", ""},
		{launchctl, []string{"print-disabled", "system"}, 0, "disabled services = {\n\t\"com.apple.AEServer\" => disabled\n\t\"com.openssh.sshd\" => disabled\n}\n\nlogin item associations = {\n}\n", ""},
	}
	for _, s := range steps {
		res := run(t, m, s.path, s.args...)
		if res.ExitCode != s.wantExit || string(res.Stdout) != s.wantStdout || string(res.Stderr) != s.wantStderr {
			t.Errorf("%s %s = exit %d %q %q, want exit %d %q %q", s.path, strings.Join(s.args, " "),
				res.ExitCode, res.Stdout, res.Stderr, s.wantExit, s.wantStdout, s.wantStderr)
		}
	}
	if !strings.HasPrefix(string(run(t, m, launchctl, "print", "system/com.apple.AEServer").Stderr), "Could not find service") {
		t.Errorf("launchctl print of a disabled service did not fail")
	}
}

func TestSystemsetupWithoutFullDiskAccess(t *testing.T) {
	st := with(hosttest.Mac14(), func(s *hosttest.MacState) { s.NoFullDiskAccess = true })
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-setremotelogin", "off"}, "setremotelogin: Turning Remote Login on or off requires Full Disk Access privileges.\n"},
		{[]string{"-f", "-setremotelogin", "on"}, "setremotelogin: Turning Remote Login on or off requires Full Disk Access privileges.\n"},
		{[]string{"-setremoteappleevents", "off"}, "setremoteappleevents: Turning Remote AppleEvents on or off requires Full Disk Access privileges.\n"},
	}
	for _, tt := range tests {
		m := newMac(t, st)
		res := run(t, m, systemsetup, tt.args...)
		if res.ExitCode != 1 || len(res.Stdout) != 0 || string(res.Stderr) != tt.want {
			t.Errorf("systemsetup %s = exit %d %q %q, want 1, nothing and %q on stderr", strings.Join(tt.args, " "), res.ExitCode, res.Stdout, res.Stderr, tt.want)
		}
		if diff := cmp.Diff(st, m.State(), ignoreCalls); diff != "" {
			t.Errorf("systemsetup %s changed the state (-want +got):\n%s", strings.Join(tt.args, " "), diff)
		}
	}
}

func TestCsrutil(t *testing.T) {
	tests := []struct {
		sip  string
		args []string
		exit int
		want string
	}{
		{"enabled", []string{"status"}, 0, fixture(t, "csrutil-status-enabled.txt")},
		{"", []string{"status"}, 0, fixture(t, "csrutil-status-enabled.txt")},
		{"disabled", []string{"status"}, 0, "System Integrity Protection status: disabled.\n"},
		{"custom", []string{"status"}, 0, strings.SplitN(fixture(t, "csrutil-status-custom-config-2023.txt"), "\n", 2)[1]},
		{"enabled", []string{"disable"}, 1, "csrutil: This tool needs to be executed from the Recovery OS.\n"},
	}
	for _, tt := range tests {
		m := newMac(t, with(hosttest.Mac15(), func(s *hosttest.MacState) { s.SIP = tt.sip }))
		res := run(t, m, csrutil, tt.args...)
		got := string(res.Stdout) + string(res.Stderr)
		if diff := cmp.Diff(tt.want, got); res.ExitCode != tt.exit || diff != "" {
			t.Errorf("csrutil %s with SIP %q = exit %d, want %d; output (-want +got):\n%s", strings.Join(tt.args, " "), tt.sip, res.ExitCode, tt.exit, diff)
		}
	}
}

func TestProfiles(t *testing.T) {
	tests := []struct {
		st   hosttest.MacState
		want string
	}{
		{hosttest.Mac15(), "There are no configuration profiles installed\n"},
		{hosttest.ManagedMac15(), "_computerlevel[1] attribute: profileIdentifier: com.firewarden.firewall\nThere are 1 configuration profiles installed\n"},
	}
	for _, tt := range tests {
		for _, args := range [][]string{{"list"}, {"-P"}} {
			m := newMac(t, tt.st)
			if got := string(run(t, m, profiles, args...).Stdout); got != tt.want {
				t.Errorf("profiles %s (managed %v) = %q, want %q", args[0], tt.st.Profile != nil, got, tt.want)
			}
		}
	}
}

func TestUnknownProgram(t *testing.T) {
	m := newMac(t, hosttest.Mac15())
	res, err := m.Run(context.Background(), host.Cmd{Path: "/usr/sbin/system_profiler", Args: []string{"SPFirewallDataType"}})
	if !errors.Is(err, host.ErrNotInstalled) || res.ExitCode != -1 {
		t.Errorf("Run(system_profiler) = exit %d, %v; want -1 and host.ErrNotInstalled", res.ExitCode, err)
	}
	if calls := m.Calls(); len(calls) != 0 {
		t.Errorf("Calls() after a program that is not there = %q, want none", calls)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Run(ctx, host.Cmd{Path: sfw, Args: []string{"--getglobalstate"}}); !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestCallsAndWrites(t *testing.T) {
	m := newMac(t, hosttest.ManagedMac15())
	calls := [][]string{
		{sfw, "--getglobalstate", "--getstealthmode"},
		{sfw, "--getappblocked", "/usr/bin/ruby", "--unblock", "/usr/bin/ruby"},
		{sfw, "--listapps"},
		{sfw, "--setloggingmode", "on"},
		{defaults, "read", "/Library/Preferences/com.apple.alf", "globalstate"},
		{defaults, "write", "/Library/Preferences/com.apple.alf", "globalstate", "-int", "1"},
		{systemsetup, "-getremotelogin"},
		{systemsetup, "-f", "-setremotelogin", "off"},
		{launchctl, "print-disabled", "system"},
		{launchctl, "disable", "system/com.apple.smbd"},
		{launchctl, "bootout", "system/com.apple.screensharing"},
		{csrutil, "status"},
		{csrutil, "enable"},
		{profiles, "list"},
		{killall, "-HUP", "blued"},
	}
	for _, c := range calls {
		run(t, m, c[0], c[1:]...)
	}
	if diff := cmp.Diff(calls, m.Calls()); diff != "" {
		t.Errorf("Calls() (-want +got):\n%s", diff)
	}
	wantWrites := [][]string{calls[1], calls[3], calls[5], calls[7], calls[9], calls[10], calls[12], calls[14]}
	if diff := cmp.Diff(wantWrites, m.Writes()); diff != "" {
		t.Errorf("Writes() (-want +got):\n%s", diff)
	}
}
