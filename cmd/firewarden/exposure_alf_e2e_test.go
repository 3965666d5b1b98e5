package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/host/hosttest"
)

// alfMac lays out a fake Mac in state st with stand-ins for lsof (the listeners of
// internal/exposure/testdata/lsof/sonoma-services.txt), ps (the executables' paths) and codesign
// (Apple's code under /sbin, /usr/sbin and /System; Docker signed with a Developer ID; Homebrew's
// redis ad-hoc signed; everything else unsigned).
func alfMac(t *testing.T, st hosttest.MacState) string {
	t.Helper()
	root := mac(t, st)
	fixture, err := filepath.Abs("../../internal/exposure/testdata/lsof/sonoma-services.txt")
	if err != nil {
		t.Fatal(err)
	}
	standIn(t, root, "usr/sbin/lsof", "exec cat '"+fixture+"'\n")
	standIn(t, root, "bin/ps", "cat <<'EOF'\n"+
		"    1 /sbin/launchd\n"+
		"  412 /usr/sbin/mDNSResponder\n"+
		"  611 /System/Library/CoreServices/ControlCenter.app/Contents/MacOS/ControlCenter\n"+
		" 1204 /Applications/Postgres.app/Contents/Versions/16/bin/postgres\n"+
		" 1388 /opt/homebrew/bin/redis-server\n"+
		" 2051 /usr/local/bin/node\n"+
		" 2210 /Applications/Docker.app/Contents/MacOS/com.docker.backend\n"+
		"EOF\n")
	// codesign(1): 0 the requirement is met, 3 validly signed but not met, 1 not signed.
	standIn(t, root, "usr/bin/codesign", `[ "$1" = --verify ] || exit 2
case "$3" in
/sbin/*|/usr/sbin/*|/System/*) exit 0 ;;
/Applications/Docker.app/*) [ "$2" = "-R=anchor apple generic" ] && exit 0; exit 3 ;;
/opt/homebrew/*) exit 3 ;;
esac
echo "$3: code object is not signed at all" >&2
exit 1
`)
	return root
}

func standIn(t *testing.T, root, sys, script string) {
	t.Helper()
	p := filepath.Join(root, sys)
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.Remove(p)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// exposureFirewall runs `exposure --json` and returns each listener as "proto/addr verdict".
func exposureFirewall(t *testing.T, root string) ([]string, []string, run) {
	t.Helper()
	r := firewarden(t, root, "--json", "exposure")
	var out struct {
		Listeners []struct {
			Proto, Addr string
			Firewall    *struct {
				Verdict, Why string
				Caveats      []string
			}
		}
		Warnings []string
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 {
		t.Fatalf("firewarden --json exposure = exit %d, %v\nstdout %s\nstderr %s", r.code, err, r.stdout, r.stderr)
	}
	var got []string
	for _, l := range out.Listeners {
		v := "(none)"
		if l.Firewall != nil {
			v = l.Firewall.Verdict
			if l.Firewall.Why == "" {
				t.Errorf("listener %s/%s: verdict %s without a why", l.Proto, l.Addr, v)
			}
		}
		got = append(got, l.Proto+"/"+l.Addr+" "+v)
	}
	return got, out.Warnings, r
}

// firewallLines are the explanation lines below the table.
func firewallLines(stdout string) []string {
	var out []string
	for l := range strings.SplitSeq(stdout, "\n") {
		if strings.HasPrefix(l, "firewall ") {
			out = append(out, l)
		}
	}
	return out
}

// The FIREWALL column of a Mac follows the Application Firewall: off lets everything through;
// on, an application's own entry decides, then the automatic allowing of signed software
// (codesign tells built-in from Developer ID from unsigned); block-all stops everything but the
// essential services; loopback listeners are loopback only whatever the firewall says.
func TestExposureMacFirewall(t *testing.T) {
	on := func(global int, pf bool) hosttest.MacState {
		st := hosttest.Mac15()
		st.GlobalState = global
		st.Apps = append(st.Apps, hosttest.App{Path: "/opt/homebrew/bin/redis-server", Blocked: true})
		if pf {
			st.PF = &hosttest.PFState{Running: true}
		}
		return st
	}
	unsigned := func(st hosttest.MacState) hosttest.MacState {
		st.AllowSigned, st.AllowSignedApp = false, false
		return st
	}
	for _, tt := range []struct {
		name  string
		st    hosttest.MacState
		want  []string
		lines []string
	}{
		{
			name: "off",
			st:   hosttest.Mac15(),
			want: []string{
				"tcp/0.0.0.0:22 allowed", "tcp/[::]:22 allowed", "tcp/[::]:3030 allowed", "tcp/0.0.0.0:5000 allowed",
				"tcp/127.0.0.1:5432 loopback_only", "tcp/[::1]:5432 loopback_only", "tcp/0.0.0.0:6379 allowed",
				"tcp/0.0.0.0:7000 allowed", "tcp/[::]:7000 allowed", "tcp/127.0.0.1:8065 loopback_only",
				"tcp/[fe80:4::1]:9000 allowed", "tcp/100.101.102.103:41641 allowed", "udp/0.0.0.0:5353 allowed", "udp/[::]:5353 allowed",
			},
			lines: []string{
				"firewall allowed: the Application Firewall is off (tcp/0.0.0.0:22, tcp/[::]:22, tcp/[::]:3030, tcp/0.0.0.0:5000, tcp/0.0.0.0:6379, tcp/0.0.0.0:7000, tcp/[::]:7000, tcp/[fe80:4::1]:9000, tcp/100.101.102.103:41641, udp/0.0.0.0:5353, udp/[::]:5353)",
			},
		},
		{
			name: "on, app blocked, signed allowed",
			st:   on(1, false),
			want: []string{
				"tcp/0.0.0.0:22 allowed", "tcp/[::]:22 allowed", "tcp/[::]:3030 unknown", "tcp/0.0.0.0:5000 allowed",
				"tcp/127.0.0.1:5432 loopback_only", "tcp/[::1]:5432 loopback_only", "tcp/0.0.0.0:6379 blocked",
				"tcp/0.0.0.0:7000 allowed", "tcp/[::]:7000 allowed", "tcp/127.0.0.1:8065 loopback_only",
				"tcp/[fe80:4::1]:9000 allowed", "tcp/100.101.102.103:41641 allowed", "udp/0.0.0.0:5353 allowed", "udp/[::]:5353 allowed",
			},
			lines: []string{
				"firewall allowed: /sbin/launchd is built-in software signed by Apple, which the Application Firewall allows automatically (tcp/0.0.0.0:22, tcp/[::]:22)",
				"firewall unknown: /usr/local/bin/node is not in the Application Firewall's list and not allowed automatically: macOS asks the logged-in user to allow or deny it at its first incoming connection (tcp/[::]:3030)",
				"firewall allowed: /System/Library/CoreServices/ControlCenter.app/Contents/MacOS/ControlCenter is built-in software signed by Apple, which the Application Firewall allows automatically (tcp/0.0.0.0:5000, tcp/0.0.0.0:7000, tcp/[::]:7000)",
				"firewall blocked: /opt/homebrew/bin/redis-server is blocked in the Application Firewall (tcp/0.0.0.0:6379)",
				"firewall allowed: /Applications/Docker.app/Contents/MacOS/com.docker.backend is signed with an Apple-issued certificate (such as a Developer ID), and the Application Firewall allows downloaded signed software automatically (tcp/[fe80:4::1]:9000, tcp/100.101.102.103:41641)",
				"firewall allowed: /usr/sbin/mDNSResponder is built-in software signed by Apple, which the Application Firewall allows automatically (udp/0.0.0.0:5353, udp/[::]:5353)",
			},
		},
		{
			name: "on, nothing allowed automatically",
			st:   unsigned(on(1, false)),
			want: []string{
				"tcp/0.0.0.0:22 unknown", "tcp/[::]:22 unknown", "tcp/[::]:3030 unknown", "tcp/0.0.0.0:5000 unknown",
				"tcp/127.0.0.1:5432 loopback_only", "tcp/[::1]:5432 loopback_only", "tcp/0.0.0.0:6379 blocked",
				"tcp/0.0.0.0:7000 unknown", "tcp/[::]:7000 unknown", "tcp/127.0.0.1:8065 loopback_only",
				"tcp/[fe80:4::1]:9000 unknown", "tcp/100.101.102.103:41641 unknown", "udp/0.0.0.0:5353 unknown", "udp/[::]:5353 unknown",
			},
		},
		{
			name: "block all, pf on",
			st:   on(2, true),
			want: []string{
				"tcp/0.0.0.0:22 blocked", "tcp/[::]:22 blocked", "tcp/[::]:3030 blocked", "tcp/0.0.0.0:5000 blocked",
				"tcp/127.0.0.1:5432 loopback_only", "tcp/[::1]:5432 loopback_only", "tcp/0.0.0.0:6379 blocked",
				"tcp/0.0.0.0:7000 blocked", "tcp/[::]:7000 blocked", "tcp/127.0.0.1:8065 loopback_only",
				"tcp/[fe80:4::1]:9000 blocked", "tcp/100.101.102.103:41641 blocked", "udp/0.0.0.0:5353 allowed", "udp/[::]:5353 allowed",
			},
			lines: []string{
				"firewall blocked: block all incoming connections is on (tcp/0.0.0.0:22, tcp/[::]:22, tcp/[::]:3030, tcp/0.0.0.0:5000, tcp/0.0.0.0:6379, tcp/0.0.0.0:7000, tcp/[::]:7000, tcp/[fe80:4::1]:9000, tcp/100.101.102.103:41641)",
				"firewall allowed: block all incoming connections is on, but /usr/sbin/mDNSResponder (Bonjour) is one of the essential services macOS still lets through (udp/0.0.0.0:5353, udp/[::]:5353)",
				"firewall caveat: pf is enabled and may block it before the Application Firewall sees it; pf's rules are not evaluated here (udp/0.0.0.0:5353, udp/[::]:5353)",
			},
		},
		{
			name: "legacy dialect, on",
			st: func() hosttest.MacState {
				st := hosttest.Mac14()
				st.GlobalState = 1
				st.Apps = append(st.Apps, hosttest.App{Path: "/opt/homebrew/bin/redis-server", Blocked: true})
				return st
			}(),
			want: []string{
				"tcp/0.0.0.0:22 allowed", "tcp/[::]:22 allowed", "tcp/[::]:3030 unknown", "tcp/0.0.0.0:5000 allowed",
				"tcp/127.0.0.1:5432 loopback_only", "tcp/[::1]:5432 loopback_only", "tcp/0.0.0.0:6379 blocked",
				"tcp/0.0.0.0:7000 allowed", "tcp/[::]:7000 allowed", "tcp/127.0.0.1:8065 loopback_only",
				"tcp/[fe80:4::1]:9000 allowed", "tcp/100.101.102.103:41641 allowed", "udp/0.0.0.0:5353 allowed", "udp/[::]:5353 allowed",
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := alfMac(t, tt.st)
			got, warnings, _ := exposureFirewall(t, root)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("firewarden --json exposure firewall verdicts (-want +got):\n%s", diff)
			}
			if len(warnings) > 0 {
				t.Errorf("firewarden --json exposure warnings %q, want none", warnings)
			}
			r := firewarden(t, root, "exposure")
			if r.code != 0 || r.stderr != "" {
				t.Errorf("firewarden exposure = exit %d, stderr %q; want 0 and nothing", r.code, r.stderr)
			}
			if !strings.HasPrefix(r.stdout, "PROTO  ADDRESS          PORT   SCOPE       FIREWALL       PID   PROCESS") {
				t.Errorf("firewarden exposure: the table has no FIREWALL column:\n%s", r.stdout)
			}
			if tt.lines != nil {
				if diff := cmp.Diff(tt.lines, firewallLines(r.stdout)); diff != "" {
					t.Errorf("firewarden exposure firewall lines (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// When socketfilterfw fails (not root, say), every verdict but loopback's is unknown with the
// reason, a warning says so, and the command still succeeds. codesign missing leaves the signed
// auto-allow unverified: unknown, never a guess.
func TestExposureMacFirewallUnreadable(t *testing.T) {
	root := alfMac(t, hosttest.Mac15())
	standIn(t, root, "usr/libexec/ApplicationFirewall/socketfilterfw", "echo 'socketfilterfw: Operation not permitted' >&2\nexit 1\n")
	got, warnings, r := exposureFirewall(t, root)
	for _, g := range got {
		if !strings.HasSuffix(g, " unknown") && !strings.HasSuffix(g, " loopback_only") {
			t.Errorf("with socketfilterfw failing, %s; want unknown", g)
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "every FIREWALL verdict is unknown") || !strings.Contains(warnings[0], "Operation not permitted") {
		t.Errorf("warnings %q, want one saying the verdicts are unknown and why", warnings)
	}
	if !strings.Contains(r.stderr, "firewarden: warning: the Application Firewall's settings could not be read") {
		t.Errorf("stderr %q lacks the warning", r.stderr)
	}

	root = alfMac(t, func() hosttest.MacState { st := hosttest.Mac15(); st.GlobalState = 1; return st }())
	os.Remove(filepath.Join(root, "usr/bin/codesign"))
	r = firewarden(t, root, "exposure")
	want := "firewall unknown: /usr/local/bin/node is not in the Application Firewall's list; built-in and downloaded software is allowed automatically: allowed if signed (not verified here: /usr/bin/codesign is missing) (tcp/[::]:3030)"
	if r.code != 0 || !strings.Contains(r.stdout, want+"\n") {
		t.Errorf("firewarden exposure without codesign = exit %d, stdout lacks %q:\n%s", r.code, want, r.stdout)
	}
}

// On a Mac, the fixes name the Application Firewall and pf: a listener the firewall already
// blocks says so; an unexpected one gets the socketfilterfw run that blocks it, and running that
// run on the fake Mac makes the next exposure see it blocked.
func TestExposureMacFirewallFix(t *testing.T) {
	st := hosttest.Mac15()
	st.GlobalState = 1
	st.Apps = append(st.Apps, hosttest.App{Path: "/opt/homebrew/bin/redis-server", Blocked: true})
	root := alfMac(t, st)
	expect := writeExpect(t, "- {process: redis-server, scope: loopback}\n- {process: postgres, scope: loopback}\n"+
		"- {process: launchd, scope: any}\n- {process: ControlCenter, scope: any}\n- {process: mDNSResponder, scope: any}\n- {process: com.docker.backend, scope: lan}\n")
	r := firewarden(t, root, "exposure", "--expect", expect)
	if r.code != 1 {
		t.Errorf("firewarden exposure --expect = exit %d, want 1\nstderr %s", r.code, r.stderr)
	}
	const sfCmd = "/usr/libexec/ApplicationFirewall/socketfilterfw --add /usr/local/bin/node --blockapp /usr/local/bin/node"
	for _, line := range []string{
		"too wide tcp/0.0.0.0:6379: bind redis-server (pid 1388) to 127.0.0.1:6379 instead of 0.0.0.0:6379 (" + expect + ":1 allows loopback only); the firewall already keeps other hosts out (/opt/homebrew/bin/redis-server is blocked in the Application Firewall)\n",
		"unexpected tcp/[::]:3030: stop node (pid 2051) or bind it to [::1]:3030; or keep other hosts out with the Application Firewall on and `" + sfCmd + "` (every port of the application), or with the pf rule `block in quick on ! lo0 proto tcp from any to any port 3030`; if it is meant to listen, add to " + expect + ": - {process: node, port: 3030, proto: tcp, scope: any}\n",
	} {
		if !strings.Contains(r.stdout, line) {
			t.Errorf("firewarden exposure --expect on a Mac: stdout lacks %q:\n%s", line, r.stdout)
		}
	}

	argv := strings.Fields(sfCmd)
	cmd := exec.Command(filepath.Join(root, argv[0]), argv[1:]...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", sfCmd, err, out)
	}
	got, _, _ := exposureFirewall(t, root)
	if !slices.Contains(got, "tcp/[::]:3030 blocked") {
		t.Errorf("after %s, verdicts %q; want tcp/[::]:3030 blocked", sfCmd, got)
	}
}
