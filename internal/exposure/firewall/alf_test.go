package firewall

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/detect/live"
	"github.com/firewarden/firewarden/internal/exposure"
	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/host/hosttest"
	"github.com/firewarden/firewarden/internal/posture/alf"
)

// socketfilterfw outputs in the modern wording (macOS 15: hosttest's emulator and the captures in
// internal/posture/alf/testdata).
const (
	sfOff      = "Firewall is disabled. (State = 0)\n"
	sfOn       = "Firewall is enabled. (State = 1)\nFirewall has block all state set to disabled.\n"
	sfBlockAll = "Firewall is blocking all non-essential incoming connections. (State = 2)\nFirewall has block all state set to enabled.\n"
	sfSigned   = "Automatically allow built-in signed software ENABLED.\nAutomatically allow downloaded signed software ENABLED.\n"
	sfBuiltIn  = "Automatically allow built-in signed software ENABLED.\nAutomatically allow downloaded signed software DISABLED.\n"
	sfUnsigned = "Automatically allow built-in signed software DISABLED.\nAutomatically allow downloaded signed software DISABLED.\n"
	sfApps     = "Total number of apps = 3\n" +
		"1 : /usr/sbin/smbd\n             (Allow incoming connections)\n" +
		"2 : /opt/homebrew/bin/redis-server\n             (Block incoming connections)\n" +
		"3 : /Applications/Postgres.app\n             (Allow incoming connections)\n"
)

func listener(addr, proc, path string) exposure.Listener {
	ap := netip.MustParseAddrPort(addr)
	return exposure.Listener{Proto: "tcp", Addr: ap, Scope: exposure.Classify(ap.Addr()), PID: 100, Process: proc, Path: path}
}

// signer answers from a map; a path it does not hold fails the test (codesign must not run).
func signer(t *testing.T, m map[string]Signature, err error) Signer {
	return func(p string) (Signature, error) {
		if err != nil {
			return SignatureUnchecked, err
		}
		s, ok := m[p]
		if !ok {
			t.Errorf("signature of %s asked, want no codesign run", p)
		}
		return s, nil
	}
}

func TestALFReach(t *testing.T) {
	on, off := true, false
	sigs := map[string]Signature{
		"/usr/libexec/rapportd":         SignedByApple,
		"/Applications/Tool.app/x":      SignedByDeveloper,
		"/usr/local/bin/node":           NotSigned,
		"/opt/homebrew/bin/caddy":       SignedByDeveloper,
		"/System/Library/thing/daemond": SignedByApple,
	}
	for _, tt := range []struct {
		name    string
		sf      string
		pf      *bool
		err     string
		profile int
		l       exposure.Listener
		sigErr  error
		want    exposure.Reachability
	}{
		{name: "loopback", sf: sfOn, err: "not read", l: listener("127.0.0.1:5432", "postgres", "/x/postgres"),
			want: exposure.Reachability{Verdict: exposure.FirewallLoopbackOnly, Why: "bound to loopback: no other host can connect, whatever the firewall says"}},
		{name: "unreadable", err: "socketfilterfw printed no global state", pf: &off, l: listener("0.0.0.0:22", "sshd", "/usr/sbin/sshd"),
			want: exposure.Reachability{Verdict: exposure.FirewallUnknown, Why: "the Application Firewall's settings could not be read: socketfilterfw printed no global state"}},
		{name: "off", sf: sfOff, pf: &off, l: listener("0.0.0.0:22", "sshd", "/usr/sbin/sshd"),
			want: exposure.Reachability{Verdict: exposure.FirewallAllowed, Why: "the Application Firewall is off"}},
		{name: "off pf on", sf: sfOff, pf: &on, l: listener("0.0.0.0:22", "sshd", "/usr/sbin/sshd"),
			want: exposure.Reachability{Verdict: exposure.FirewallAllowed, Why: "the Application Firewall is off",
				Caveats: []string{"pf is enabled and may block it before the Application Firewall sees it; pf's rules are not evaluated here"}}},
		{name: "off pf unknown", sf: sfOff, l: listener("0.0.0.0:22", "sshd", "/usr/sbin/sshd"),
			want: exposure.Reachability{Verdict: exposure.FirewallAllowed, Why: "the Application Firewall is off",
				Caveats: []string{"whether pf is enabled is unknown; if it is, its rules may block it"}}},
		{name: "block all", sf: sfBlockAll + sfSigned + sfApps, pf: &on, l: listener("0.0.0.0:445", "smbd", "/usr/sbin/smbd"),
			want: exposure.Reachability{Verdict: exposure.FirewallBlocked, Why: "block all incoming connections is on"}},
		{name: "block all state 2 only", sf: "Firewall is blocking all non-essential incoming connections. (State = 2)\n", pf: &off, l: listener("0.0.0.0:3030", "node", "/usr/local/bin/node"),
			want: exposure.Reachability{Verdict: exposure.FirewallBlocked, Why: "block all incoming connections is on"}},
		{name: "block all essential", sf: sfBlockAll, pf: &off, l: listener("0.0.0.0:5353", "mDNSResponder", "/usr/sbin/mDNSResponder"),
			want: exposure.Reachability{Verdict: exposure.FirewallAllowed, Why: "block all incoming connections is on, but /usr/sbin/mDNSResponder (Bonjour) is one of the essential services macOS still lets through"}},
		{name: "block all essential name only", sf: sfBlockAll, pf: &off, l: listener("0.0.0.0:5353", "mDNSResponder", ""),
			want: exposure.Reachability{Verdict: exposure.FirewallUnknown, Why: "block all incoming connections is on, and mDNSResponder may be one of the essential services macOS still lets through, but its executable is not known"}},
		{name: "app allowed", sf: sfOn + sfUnsigned + sfApps, pf: &off, l: listener("0.0.0.0:445", "smbd", "/usr/sbin/smbd"),
			want: exposure.Reachability{Verdict: exposure.FirewallAllowed, Why: "/usr/sbin/smbd is allowed in the Application Firewall"}},
		{name: "app blocked", sf: sfOn + sfSigned + sfApps, pf: &on, l: listener("0.0.0.0:6379", "redis-server", "/opt/homebrew/bin/redis-server"),
			want: exposure.Reachability{Verdict: exposure.FirewallBlocked, Why: "/opt/homebrew/bin/redis-server is blocked in the Application Firewall"}},
		{name: "bundle main executable", sf: sfOn + sfUnsigned + sfApps, pf: &off, l: listener("0.0.0.0:80", "Postgres", "/Applications/Postgres.app/Contents/MacOS/Postgres"),
			want: exposure.Reachability{Verdict: exposure.FirewallAllowed, Why: "/Applications/Postgres.app is allowed in the Application Firewall"}},
		{name: "bundle helper", sf: sfOn + sfSigned + sfApps, pf: &off, l: listener("0.0.0.0:5432", "postgres", "/Applications/Postgres.app/Contents/Versions/16/bin/postgres"),
			want: exposure.Reachability{Verdict: exposure.FirewallUnknown, Why: "/Applications/Postgres.app is allowed in the Application Firewall, but /Applications/Postgres.app/Contents/Versions/16/bin/postgres is not its main executable, and the firewall judges code by its own signature"}},
		{name: "no path", sf: sfOn + sfSigned + sfApps, pf: &off, l: listener("0.0.0.0:9999", "", ""),
			want: exposure.Reachability{Verdict: exposure.FirewallUnknown, Why: "the executable is not known (run as root), so it cannot be matched to the Application Firewall's application list"}},
		{name: "no app list", sf: sfOn + sfSigned, pf: &off, l: listener("0.0.0.0:3030", "node", "/usr/local/bin/node"),
			want: exposure.Reachability{Verdict: exposure.FirewallUnknown, Why: "socketfilterfw printed no application list"}},
		{name: "apps by name", sf: sfOn + sfSigned + "Total number of apps = 1\nDropbox (state: 1)\n", pf: &off, l: listener("0.0.0.0:3030", "node", "/usr/local/bin/node"),
			want: exposure.Reachability{Verdict: exposure.FirewallUnknown, Why: "socketfilterfw listed the applications by name, not by path, so they cannot be matched to /usr/local/bin/node"}},
		{name: "built-in signed", sf: sfOn + sfBuiltIn + sfApps, pf: &off, l: listener("0.0.0.0:49152", "rapportd", "/usr/libexec/rapportd"),
			want: exposure.Reachability{Verdict: exposure.FirewallAllowed, Why: "/usr/libexec/rapportd is built-in software signed by Apple, which the Application Firewall allows automatically"}},
		{name: "developer signed", sf: sfOn + sfSigned + sfApps, pf: &off, l: listener("0.0.0.0:443", "caddy", "/opt/homebrew/bin/caddy"),
			want: exposure.Reachability{Verdict: exposure.FirewallAllowed, Why: "/opt/homebrew/bin/caddy is signed with an Apple-issued certificate (such as a Developer ID), and the Application Firewall allows downloaded signed software automatically"}},
		{name: "developer signed, downloaded off", sf: sfOn + sfBuiltIn + sfApps, pf: &off, l: listener("0.0.0.0:443", "caddy", "/opt/homebrew/bin/caddy"),
			want: exposure.Reachability{Verdict: exposure.FirewallUnknown, Why: "/opt/homebrew/bin/caddy is not in the Application Firewall's list and not allowed automatically: macOS asks the logged-in user to allow or deny it at its first incoming connection"}},
		{name: "unsigned", sf: sfOn + sfSigned + sfApps, pf: &off, l: listener("0.0.0.0:3030", "node", "/usr/local/bin/node"),
			want: exposure.Reachability{Verdict: exposure.FirewallUnknown, Why: "/usr/local/bin/node is not in the Application Firewall's list and not allowed automatically: macOS asks the logged-in user to allow or deny it at its first incoming connection"}},
		{name: "auto-allow off: codesign not run", sf: sfOn + sfUnsigned + sfApps, pf: &off, l: listener("0.0.0.0:3031", "node", "/usr/local/bin/other"),
			want: exposure.Reachability{Verdict: exposure.FirewallUnknown, Why: "/usr/local/bin/other is not in the Application Firewall's list and not allowed automatically: macOS asks the logged-in user to allow or deny it at its first incoming connection"}},
		{name: "signature unverifiable", sf: sfOn + sfSigned + sfApps, pf: &off, sigErr: errors.New("/usr/bin/codesign is missing"), l: listener("0.0.0.0:3030", "node", "/usr/local/bin/node"),
			want: exposure.Reachability{Verdict: exposure.FirewallUnknown, Why: "/usr/local/bin/node is not in the Application Firewall's list; built-in and downloaded software is allowed automatically: allowed if signed (not verified here: /usr/bin/codesign is missing)"}},
		{name: "signed settings unread", sf: sfOn + sfApps, pf: &off, l: listener("0.0.0.0:3030", "node", "/usr/local/bin/node"),
			want: exposure.Reachability{Verdict: exposure.FirewallUnknown, Why: "/usr/local/bin/node is not in the Application Firewall's list, and socketfilterfw did not say whether signed software is allowed automatically"}},
		{name: "profile apps", sf: sfOn + sfSigned + sfApps, pf: &on, profile: 2, l: listener("192.168.1.20:443", "caddy", "/opt/homebrew/bin/caddy"),
			want: exposure.Reachability{Verdict: exposure.FirewallAllowed, Why: "/opt/homebrew/bin/caddy is signed with an Apple-issued certificate (such as a Developer ID), and the Application Firewall allows downloaded signed software automatically",
				Caveats: []string{"a firewall configuration profile allows or blocks 2 applications by bundle ID, which are not matched to executables here",
					"pf is enabled and may block it before the Application Firewall sees it; pf's rules are not evaluated here"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := ALF{Reading: alf.Parse([]byte(tt.sf)), Err: tt.err, PF: tt.pf, ProfileApps: tt.profile}
			if tt.pf == nil {
				s.PFErr = "pfctl failed"
			}
			got := s.Reach(tt.l, signer(t, sigs, tt.sigErr))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Reach(%s %s) (-want +got):\n%s", tt.l.Addr, tt.l.Path, diff)
			}
		})
	}
}

// scriptRunner answers runs by program path; it records every argv.
type scriptRunner struct {
	answer map[string]func(args []string) (string, int)
	calls  [][]string
}

func (r *scriptRunner) Run(_ context.Context, c host.Cmd) (host.Result, error) {
	r.calls = append(r.calls, c.Argv())
	f, ok := r.answer[c.Path]
	if !ok {
		return host.Result{Argv: c.Argv(), ExitCode: -1}, host.ErrNotInstalled
	}
	out, code := f(c.Args)
	res := host.Result{Argv: c.Argv(), Stdout: []byte(out), ExitCode: code}
	if code != 0 {
		return res, &host.ExitError{Argv: c.Argv(), Code: code}
	}
	return res, nil
}

// codesign decides by the requirement and path; exit statuses per codesign(1): 0 met, 3 valid
// but not met, 1 verification failed or unsigned.
func TestCodesignSigner(t *testing.T) {
	r := &scriptRunner{answer: map[string]func([]string) (string, int){
		CodesignPath: func(args []string) (string, int) {
			req, p := args[1], args[2]
			switch {
			case strings.HasPrefix(p, "/usr/"):
				return "", 0
			case strings.HasPrefix(p, "/Applications/"):
				return "", map[string]int{"-R=anchor apple": 3, "-R=anchor apple generic": 0}[req]
			case strings.HasPrefix(p, "/opt/adhoc"):
				return "", 3
			case strings.HasPrefix(p, "/opt/unsigned"):
				return "", 1
			}
			return "", 2
		},
	}}
	sig := CodesignSigner(context.Background(), r)
	for _, tt := range []struct {
		path string
		want Signature
		err  bool
	}{
		{"/usr/libexec/rapportd", SignedByApple, false},
		{"/Applications/Tool.app/Contents/MacOS/Tool", SignedByDeveloper, false},
		{"/opt/adhoc/redis", NotSigned, false},
		{"/opt/unsigned/node", NotSigned, false},
		{"/weird", SignatureUnchecked, true},
		{"/usr/libexec/rapportd", SignedByApple, false}, // cached: no second run
	} {
		got, err := sig(tt.path)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("CodesignSigner(%s) = %v, %v; want %v, error %t", tt.path, got, err, tt.want, tt.err)
		}
	}
	want := [][]string{
		{CodesignPath, "--verify", "-R=anchor apple", "/usr/libexec/rapportd"},
		{CodesignPath, "--verify", "-R=anchor apple", "/Applications/Tool.app/Contents/MacOS/Tool"},
		{CodesignPath, "--verify", "-R=anchor apple generic", "/Applications/Tool.app/Contents/MacOS/Tool"},
		{CodesignPath, "--verify", "-R=anchor apple", "/opt/adhoc/redis"},
		{CodesignPath, "--verify", "-R=anchor apple generic", "/opt/adhoc/redis"},
		{CodesignPath, "--verify", "-R=anchor apple", "/opt/unsigned/node"},
		{CodesignPath, "--verify", "-R=anchor apple", "/weird"},
	}
	if diff := cmp.Diff(want, r.calls); diff != "" {
		t.Errorf("CodesignSigner runs (-want +got):\n%s", diff)
	}

	if _, err := CodesignSigner(context.Background(), &scriptRunner{})("/x"); err == nil || err.Error() != CodesignPath+" is missing" {
		t.Errorf("CodesignSigner without codesign = %v, want %q", err, CodesignPath+" is missing")
	}
}

// ReadALF reads the emulated Mac's firewall in both socketfilterfw dialects, pf's state, and the
// profile's applications; when socketfilterfw fails, the settings are unreadable with a warning.
func TestReadALF(t *testing.T) {
	for _, tt := range []struct {
		name     string
		st       func() hosttest.MacState
		global   int
		blockAll bool
		apps     int
		pf       bool
		profile  int
	}{
		{name: "14 off", st: hosttest.Mac14, global: 0, apps: 7},
		{name: "15 block all, pf on", st: func() hosttest.MacState {
			s := hosttest.Mac15()
			s.GlobalState = 2
			s.PF = &hosttest.PFState{Running: true}
			return s
		}, global: 2, blockAll: true, apps: 7, pf: true},
		{name: "26 managed", st: func() hosttest.MacState {
			s := hosttest.Mac15()
			s.GlobalState = 1
			s.Profile = &hosttest.FirewallProfile{EnableFirewall: new(true), Applications: []hosttest.ProfileApp{{BundleID: "com.example.a", Allowed: true}}}
			return s
		}, global: 1, apps: 7, profile: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			m, err := hosttest.NewMac(dir, tt.st())
			if err != nil {
				t.Fatal(err)
			}
			root, _ := host.NewRoot(dir)
			s, warnings := ReadALF(context.Background(), root, m)
			if s.Err != "" || len(warnings) > 0 {
				t.Fatalf("ReadALF = error %q, warnings %q; want none", s.Err, warnings)
			}
			got := []any{*s.Reading.GlobalState, s.Reading.BlockAll != nil && *s.Reading.BlockAll, len(s.Reading.Apps), *s.PF, s.ProfileApps}
			if diff := cmp.Diff([]any{tt.global, tt.blockAll, tt.apps, tt.pf, tt.profile}, got); diff != "" {
				t.Errorf("ReadALF global state, block all, apps, pf, profile apps (-want +got):\n%s", diff)
			}
			if i := slices.IndexFunc(m.Calls(), func(c []string) bool { return c[0] == alf.SocketFilterFW }); i < 0 || !slices.Equal(m.Calls()[i][1:], alfArgs) {
				t.Errorf("ReadALF runs %q, want one socketfilterfw %q", m.Calls(), alfArgs)
			}
		})
	}

	t.Run("not readable", func(t *testing.T) {
		r := &scriptRunner{answer: map[string]func([]string) (string, int){
			alf.SocketFilterFW: func([]string) (string, int) { return "", 1 },
			live.PfctlPath:     func([]string) (string, int) { return "", 1 },
		}}
		root, _ := host.NewRoot(t.TempDir())
		s, warnings := ReadALF(context.Background(), root, r)
		if s.Err == "" || s.PF != nil || len(warnings) != 2 || !strings.Contains(warnings[0], "every FIREWALL verdict is unknown") {
			t.Errorf("ReadALF with failing programs = error %q, pf %v, warnings %q; want an error, no pf state, two warnings", s.Err, s.PF, warnings)
		}
		got := s.Reach(listener("0.0.0.0:22", "sshd", "/usr/sbin/sshd"), nil)
		if got.Verdict != exposure.FirewallUnknown {
			t.Errorf("Reach with unreadable settings = %+v, want unknown", got)
		}
	})
}
