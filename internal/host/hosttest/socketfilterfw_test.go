package hosttest_test

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/host/hosttest"
)

// ignoreCalls compares states without their call log.
var ignoreCalls = cmpopts.IgnoreFields(hosttest.MacState{}, "Calls")

// with returns st changed by f, for table entries.
func with(st hosttest.MacState, f func(*hosttest.MacState)) hosttest.MacState {
	f(&st)
	return st
}

// Output comparisons against captured files.
const (
	exact    = iota
	trimEnd  // the paste lost trailing whitespace at its very end
	trimLine // the paste lost (or gained) trailing spaces on some lines
)

func TestSocketfilterfwGettersMatchFixtures(t *testing.T) {
	tests := []struct {
		name    string
		st      hosttest.MacState
		args    []string
		fixture string
		lines   int // compare only the first lines (0: all)
		compare int
	}{
		{
			name:    "modern combined getters",
			st:      with(hosttest.Mac15(), func(s *hosttest.MacState) { s.GlobalState, s.Logging = 1, true }),
			args:    []string{"--getglobalstate", "--getblockall", "--getallowsigned", "--getstealthmode", "--getloggingmode", "--getloggingopt"},
			fixture: "socketfilterfw-get-combined-kolide-2024-08-01.txt",
		},
		{
			name:    "modern state 2",
			st:      with(hosttest.Mac15(), func(s *hosttest.MacState) { s.GlobalState = 2 }),
			args:    []string{"--getglobalstate"},
			fixture: "socketfilterfw-getglobalstate-state2-2025.txt",
		},
		{
			name:    "modern listapps",
			st:      hosttest.Mac26(),
			args:    []string{"--listapps"},
			fixture: "socketfilterfw-listapps-newfmt-2026.txt",
		},
		{
			name: "legacy listapps",
			st: with(hosttest.Mac14(), func(s *hosttest.MacState) {
				s.Apps = []hosttest.App{
					{Path: "/Users/abanks/Library/Application Support/Dropbox/Dropbox.app"},
					{Path: "/System/Library/CoreServices/RemoteManagement/ARDAgent.app"},
					{Path: "/Library/Application Support/Citrix/NetScaler Gateway.app"},
				}
			}),
			args:    []string{"--list"},
			fixture: "socketfilterfw-listapps-oldfmt-2016.txt",
			compare: trimEnd,
		},
		{
			name:    "legacy combined getters",
			st:      with(hosttest.Mac14(), func(s *hosttest.MacState) { s.GlobalState = 1 }),
			args:    []string{"--getglobalstate", "--getblockall", "--getallowsigned"},
			fixture: "socketfilterfw-get-combined-pareto139-2023.txt",
			lines:   4, // the fifth line is a stealth-key error the emulator does not model
			compare: trimLine,
		},
		{
			name:    "modern getters on a blocking firewall",
			st:      with(hosttest.Mac26(), func(s *hosttest.MacState) { s.GlobalState = 2 }),
			args:    []string{"--getglobalstate"},
			fixture: "socketfilterfw-getglobalstate-state2-2025.txt",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMac(t, tt.st)
			res := run(t, m, sfw, tt.args...)
			want := fixture(t, tt.fixture)
			got := string(res.Stdout)
			if tt.lines > 0 {
				want = firstLines(want, tt.lines)
			}
			switch tt.compare {
			case trimEnd:
				want, got = strings.TrimRight(want, " \n"), strings.TrimRight(got, " \n")
			case trimLine:
				want, got = trimLines(want), trimLines(got)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("socketfilterfw %s (-want +got):\n%s", strings.Join(tt.args, " "), diff)
			}
			if res.ExitCode != 0 || len(res.Stderr) != 0 {
				t.Errorf("socketfilterfw %s = exit %d, stderr %q, want 0 and nothing", strings.Join(tt.args, " "), res.ExitCode, res.Stderr)
			}
		})
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "")
}

func trimLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

// TestTranscripts replays terminal sessions captured on real Macs and compares every output.
func TestTranscripts(t *testing.T) {
	lanrev := "/Library/Application Support/LANrev Agent/LANrev Agent.app/Contents/MacOS/LANrev Agent"
	tests := []struct {
		fixture string
		st      hosttest.MacState
		steps   []int // which steps to replay (nil: all), when some depend on what the emulator does not model
		compare int
	}{
		{
			// Steps 0 and 1 ran without sudo, where --add claims success but does nothing; the
			// emulator does not model privileges.
			fixture: "socketfilterfw-add-unblock-2024.txt",
			st:      hosttest.Mac15(),
			steps:   []int{2, 3},
		},
		{
			fixture: "socketfilterfw-add-already-member-2024.txt",
			st: with(hosttest.Mac14(), func(s *hosttest.MacState) {
				s.Version = "14.7"
				s.Apps = append(s.Apps, hosttest.App{Path: "/usr/libexec/bootpd"})
			}),
		},
		{
			fixture: "socketfilterfw-getappblocked-2014.txt",
			st: with(hosttest.Mac14(), func(s *hosttest.MacState) {
				s.Version = "10.10"
				s.Apps = append(s.Apps, hosttest.App{Path: lanrev, Blocked: true})
			}),
		},
		{
			fixture: "socketfilterfw-logging-sequoia151.txt",
			st:      hosttest.Mac15(),
		},
		{
			// This paste alone has a trailing space after "(State = 1)".
			fixture: "socketfilterfw-logging-mojave-10.14.3.txt",
			st: with(hosttest.Mac14(), func(s *hosttest.MacState) {
				s.Version, s.GlobalState, s.Logging, s.LoggingOpt = "10.14.3", 1, true, "detail"
			}),
			compare: trimLine,
		},
		{
			fixture: "socketfilterfw-set-outputs-drduh-2018.txt",
			st:      with(hosttest.Mac14(), func(s *hosttest.MacState) { s.Version = "10.14" }),
		},
		{
			fixture: "socketfilterfw-state2-mcli-2021.txt",
			st:      with(hosttest.Mac14(), func(s *hosttest.MacState) { s.Version, s.GlobalState = "11.7", 2 }),
		},
		{
			fixture: "socketfilterfw-managed-mac-refusal.txt",
			st:      hosttest.ManagedMac15(),
		},
		{
			fixture: "csrutil-status-custom-config-2023.txt",
			st:      with(hosttest.Mac14(), func(s *hosttest.MacState) { s.Version, s.SIP = "12.5", "custom" }),
		},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			m := newMac(t, tt.st)
			steps := transcript(t, tt.fixture)
			if tt.steps != nil {
				var picked []step
				for _, i := range tt.steps {
					picked = append(picked, steps[i])
				}
				steps = picked
			}
			lastExit := 0
			for _, s := range steps {
				var got strings.Builder
				for _, cmdline := range strings.Split(s.line, "&&") {
					if strings.TrimSpace(cmdline) == "echo $?" {
						fmt.Fprintf(&got, "%d\n", lastExit)
						continue
					}
					prog, args := hostCommand(t, cmdline)
					res := run(t, m, prog, args...)
					got.Write(res.Stdout)
					got.Write(res.Stderr)
					lastExit = res.ExitCode
				}
				want, g := s.out, got.String()
				if tt.compare == trimLine {
					want, g = trimLines(want), trimLines(g)
				}
				if diff := cmp.Diff(want, g); diff != "" {
					t.Errorf("%s (-want +got):\n%s", s.line, diff)
				}
			}
		})
	}
}

// hostCommand turns a typed command into the program run it makes: sudo dropped, the program
// resolved to its system path. "m firewall …" is rgcr/m-cli, whose firewall plugin wraps
// socketfilterfw (reference §1.2).
func hostCommand(t *testing.T, line string) (string, []string) {
	t.Helper()
	words := shellWords(line)
	if len(words) > 0 && words[0] == "sudo" {
		words = words[1:]
	}
	if len(words) == 0 {
		t.Fatalf("hostCommand(%q): empty", line)
	}
	switch path.Base(words[0]) {
	case "socketfilterfw":
		return sfw, words[1:]
	case "csrutil":
		return csrutil, words[1:]
	case "defaults":
		return defaults, words[1:]
	case "m":
		mcli := map[string][]string{
			"firewall status":      {"--getglobalstate"},
			"firewall enable":      {"--setglobalstate", "on"},
			"firewall disable":     {"--setglobalstate", "off"},
			"firewall blockall on": {"--setblockall", "on"},
		}
		if args, known := mcli[strings.Join(words[1:], " ")]; known {
			return sfw, args
		}
	}
	t.Fatalf("hostCommand(%q): program not known to the test", line)
	return "", nil
}

func TestSocketfilterfwChanges(t *testing.T) {
	tests := []struct {
		name   string
		st     hosttest.MacState
		args   []string
		want   string
		wantSt func(*hosttest.MacState)
	}{
		{
			name:   "block all turns a disabled firewall on",
			st:     hosttest.Mac15(),
			args:   []string{"--setblockall", "on", "--getglobalstate", "--getblockall"},
			want:   "Firewall is set to block all non-essential incoming connections\nFirewall is blocking all non-essential incoming connections. (State = 2)\nFirewall has block all state set to enabled.\n",
			wantSt: func(s *hosttest.MacState) { s.GlobalState = 2 },
		},
		{
			name:   "block all off keeps the firewall on",
			st:     with(hosttest.Mac14(), func(s *hosttest.MacState) { s.GlobalState = 2 }),
			args:   []string{"--setblockall", "off", "--getglobalstate", "--getblockall"},
			want:   "Firewall is no longer set to block all non-essential incoming connections\nFirewall is enabled. (State = 1)\nBlock all DISABLED! \n",
			wantSt: func(s *hosttest.MacState) { s.GlobalState = 1 },
		},
		{
			name:   "global state off",
			st:     with(hosttest.Mac26(), func(s *hosttest.MacState) { s.GlobalState = 2 }),
			args:   []string{"--setglobalstate", "off"},
			want:   "Firewall is disabled. (State = 0)\n",
			wantSt: func(s *hosttest.MacState) { s.GlobalState = 0 },
		},
		{
			name: "global state on keeps block all",
			st:   with(hosttest.Mac15(), func(s *hosttest.MacState) { s.GlobalState = 2 }),
			args: []string{"--setglobalstate", "on"},
			want: "Firewall is blocking all non-essential incoming connections. (State = 2)\n",
		},
		{
			name: "flags answered in argument order",
			st:   hosttest.Mac14(),
			args: []string{"--getstealthmode", "--setstealthmode", "on", "--getstealthmode", "--setallowsigned", "off", "--setallowsignedapp", "off", "--getallowsigned"},
			want: "Stealth mode disabled\nStealth mode enabled\nStealth mode enabled\n" +
				"Disabled allow signed built-in applications automatically\nDisabled allow signed downloaded applications automatically\n" +
				"Automatically allow signed built-in software DISABLED\nAutomatically allow downloaded signed software DISABLED\n",
			wantSt: func(s *hosttest.MacState) { s.Stealth, s.AllowSigned, s.AllowSignedApp = true, false, false },
		},
		{
			name:   "modern stealth",
			st:     hosttest.Mac15(),
			args:   []string{"--setstealthmode=on", "--getstealthmode", "--setstealthmode", "off", "--getstealthmode"},
			want:   "Stealth mode enabled\nFirewall stealth mode is on\nStealth mode disabled\nFirewall stealth mode is off\n",
			wantSt: func(s *hosttest.MacState) {},
		},
		{
			name: "add, block, remove",
			st:   hosttest.Mac15(),
			args: []string{"--add", "/opt/app", "--blockapp", "/opt/app", "--getappblocked", "/opt/app", "--remove", "/usr/bin/ruby", "--getappblocked", "/usr/bin/ruby"},
			want: "Application at path ( /opt/app ) added to firewall\nIncoming connection to the application is blocked\n" +
				"Incoming connection to /opt/app is blocked\nApplication at path ( /usr/bin/ruby ) removed from firewall\nThe application is not part of the firewall\n",
			wantSt: func(s *hosttest.MacState) {
				s.Apps = append(s.Apps, hosttest.App{Path: "/opt/app", Blocked: true})
				s.Apps = append(s.Apps[:2:2], s.Apps[3:]...)
			},
		},
		{
			name:   "unique prefix of a long option",
			st:     with(hosttest.Mac15(), func(s *hosttest.MacState) { s.Apps[0].Blocked = true }),
			args:   []string{"--unblock", "/usr/libexec/remoted", "--getappb", "/usr/libexec/remoted"},
			want:   "Incoming connection to the application is permitted\nIncoming connection to the application is permitted\n",
			wantSt: func(s *hosttest.MacState) { s.Apps[0].Blocked = false },
		},
		{
			name:   "legacy logging",
			st:     hosttest.Mac14(),
			args:   []string{"--setloggingmode", "on", "--setloggingopt", "detail", "--getloggingmode", "--getloggingopt"},
			want:   "Turning on log mode\nLog Option is detail \nLog mode is on \nLog Option is detail \n",
			wantSt: func(s *hosttest.MacState) { s.Logging, s.LoggingOpt = true, "detail" },
		},
		{
			name: "15.1 refuses logging changes",
			st:   hosttest.Mac15(),
			args: []string{"--setloggingopt", "detail", "--getloggingopt"},
			want: "Failed to set log option (err: 1 - failed to read key from preference file)\nLog Option is throttled \n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMac(t, tt.st)
			res := run(t, m, sfw, tt.args...)
			if got := string(res.Stdout); got != tt.want {
				t.Errorf("socketfilterfw %s = %q, want %q", strings.Join(tt.args, " "), got, tt.want)
			}
			want := tt.st
			if tt.wantSt != nil {
				tt.wantSt(&want)
			}
			if diff := cmp.Diff(want, m.State(), ignoreCalls); diff != "" {
				t.Errorf("state after socketfilterfw %s (-want +got):\n%s", strings.Join(tt.args, " "), diff)
			}
		})
	}
}

func TestSocketfilterfwBadArguments(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantStdout string
		wantStderr string
	}{
		{"ambiguous prefix", []string{"--get"}, "", "socketfilterfw: ambiguous option -- get\n"},
		{"unknown option", []string{"--frobnicate"}, "", "socketfilterfw: unknown option -- frobnicate\n"},
		{"missing argument", []string{"--add"}, "", "socketfilterfw: option requires an argument -- add\n"},
		{"bad on/off", []string{"--setglobalstate", "maybe"}, "", "socketfilterfw: invalid argument \"maybe\" for --setglobalstate: use on or off\n"},
		{"earlier answers kept", []string{"--getglobalstate", "--bogus", "--getblockall"}, "Firewall is disabled. (State = 0)\n", "socketfilterfw: unknown option -- bogus\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMac(t, hosttest.Mac15())
			res := run(t, m, sfw, tt.args...)
			got := fmt.Sprintf("exit %d stdout %q stderr %q", res.ExitCode, res.Stdout, res.Stderr)
			want := fmt.Sprintf("exit %d stdout %q stderr %q", 1, tt.wantStdout, tt.wantStderr)
			if got != want {
				t.Errorf("socketfilterfw %s = %s, want %s", strings.Join(tt.args, " "), got, want)
			}
			if diff := cmp.Diff(hosttest.Mac15(), m.State(), ignoreCalls); diff != "" {
				t.Errorf("state changed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSocketfilterfwManagedRefusesEveryChange(t *testing.T) {
	const refusal = "Firewall settings cannot be modified from command line on managed Mac computers.\n"
	writes := [][]string{
		{"--setglobalstate", "off"},
		{"--setblockall", "on"},
		{"--setstealthmode", "off"},
		{"--setallowsigned", "off"},
		{"--setallowsignedapp", "off"},
		{"--setloggingmode", "on"},
		{"--setloggingopt", "detail"},
		{"--add", "/usr/libexec/bootpd"},
		{"--remove", "/usr/bin/ruby"},
		{"--blockapp", "/usr/bin/ruby"},
		{"--unblock", "/usr/bin/ruby"},
	}
	managed14 := with(hosttest.Mac14(), func(s *hosttest.MacState) { s.Profile = hosttest.ManagedMac15().Profile })
	for _, st := range []hosttest.MacState{hosttest.ManagedMac15(), managed14} {
		for _, args := range writes {
			t.Run(st.Version+strings.Join(args, " "), func(t *testing.T) {
				m := newMac(t, st)
				res := run(t, m, sfw, args...)
				if got := string(res.Stdout); got != refusal || res.ExitCode != 0 {
					t.Errorf("socketfilterfw %s = exit %d %q, want exit 0 %q", strings.Join(args, " "), res.ExitCode, got, refusal)
				}
				if diff := cmp.Diff(st, m.State(), ignoreCalls); diff != "" {
					t.Errorf("state changed (-want +got):\n%s", diff)
				}
			})
		}
	}

	t.Run("one refusal per flag, reads report the profile", func(t *testing.T) {
		m := newMac(t, hosttest.ManagedMac15())
		res := run(t, m, sfw, "--setglobalstate", "off", "--getglobalstate", "--setstealthmode", "off", "--getstealthmode")
		want := refusal + "Firewall is enabled. (State = 1)\n" + refusal + "Firewall stealth mode is on\n"
		if got := string(res.Stdout); got != want {
			t.Errorf("socketfilterfw = %q, want %q", got, want)
		}
	})
	t.Run("profile overrides local block all", func(t *testing.T) {
		st := with(hosttest.ManagedMac15(), func(s *hosttest.MacState) {
			s.GlobalState = 2
			s.Profile.BlockAllIncoming = new(false)
			s.Profile.EnableStealthMode = nil
		})
		m := newMac(t, st)
		res := run(t, m, sfw, "--getglobalstate", "--getblockall", "--getstealthmode")
		want := "Firewall is enabled. (State = 1)\nFirewall has block all state set to disabled.\nFirewall stealth mode is off\n"
		if got := string(res.Stdout); got != want {
			t.Errorf("socketfilterfw = %q, want %q", got, want)
		}
	})
}

func TestSocketfilterfwLoggingFlagsRemoved(t *testing.T) {
	flags := [][]string{{"--getloggingmode"}, {"--setloggingmode", "on"}, {"--getloggingopt"}, {"--setloggingopt", "detail"}, {"--getlogging"}}
	for _, st := range []hosttest.MacState{hosttest.Mac154(), hosttest.Mac26()} {
		for _, args := range flags {
			t.Run(st.Version+strings.Join(args, " "), func(t *testing.T) {
				m := newMac(t, st)
				res, err := m.Run(t.Context(), host.Cmd{Path: sfw, Args: args})
				var ee *host.ExitError
				if !errors.As(err, &ee) || ee.Code != 1 || res.ExitCode != 1 {
					t.Fatalf("socketfilterfw %s = exit %d, error %v; want exit 1 with *host.ExitError", strings.Join(args, " "), res.ExitCode, err)
				}
				if len(res.Stdout) != 0 || !strings.Contains(string(res.Stderr), "unknown option") {
					t.Errorf("socketfilterfw %s = stdout %q stderr %q, want nothing and an unknown-option error", strings.Join(args, " "), res.Stdout, res.Stderr)
				}
				if diff := cmp.Diff(st, m.State(), ignoreCalls); diff != "" {
					t.Errorf("state changed (-want +got):\n%s", diff)
				}
			})
		}
	}
	t.Run("15.1 still has them", func(t *testing.T) {
		m := newMac(t, hosttest.Mac15())
		res := run(t, m, sfw, "--getlogging")
		if want := "socketfilterfw: ambiguous option -- getlogging\n"; string(res.Stderr) != want {
			t.Errorf("socketfilterfw --getlogging stderr = %q, want %q", res.Stderr, want)
		}
	})
}

func FuzzSocketfilterfw(f *testing.F) {
	f.Add("--getglobalstate --getblockall --getallowsigned")
	f.Add("--setblockall on --add /x --blockapp /x --remove /x")
	f.Add("--unblock /usr/bin/ruby --getappblocked=/usr/bin/ruby")
	f.Add("--get --setloggingopt= -h --")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, line string) {
		for _, st := range []hosttest.MacState{hosttest.Mac14(), hosttest.ManagedMac15(), hosttest.Mac26()} {
			m, err := hosttest.NewMac(dir, st)
			if err != nil {
				t.Fatal(err)
			}
			res, err := m.Run(t.Context(), host.Cmd{Path: sfw, Args: strings.Fields(line)})
			var ee *host.ExitError
			if err != nil && !errors.As(err, &ee) {
				t.Fatalf("socketfilterfw %s: %v", line, err)
			}
			if res.ExitCode != 0 && len(res.Stderr) == 0 {
				t.Errorf("socketfilterfw %s = exit %d without a message", line, res.ExitCode)
			}
			if st.Profile != nil {
				if diff := cmp.Diff(st, m.State(), ignoreCalls); diff != "" {
					t.Errorf("managed state changed by %s (-want +got):\n%s", line, diff)
				}
			}
		}
	})
}
