package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/host/hosttest"
)

// exposureRow is one listener of `exposure --json` as these tests compare it.
type exposureRow struct {
	Proto, Addr, Process, Path string
	PID                        int
	Firewall, Verdict          string
}

// exposureJSONRows runs `--json exposure ARGS…` on root and returns its listeners, summary and
// warnings.
func exposureJSONRows(t *testing.T, root string, wantCode int, args ...string) ([]exposureRow, map[string]int, []string) {
	t.Helper()
	r := firewarden(t, root, append([]string{"--json", "exposure"}, args...)...)
	var out struct {
		Listeners []struct {
			Proto, Addr, Process, Path string
			PID                        int
			Verdict                    string
			Firewall                   *struct{ Verdict string }
		}
		Summary  map[string]int
		Warnings []string
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != wantCode {
		t.Fatalf("firewarden --json exposure %q = exit %d, %v; want %d and JSON\nstdout %s\nstderr %s", args, r.code, err, wantCode, r.stdout, r.stderr)
	}
	rows := []exposureRow{}
	for _, l := range out.Listeners {
		fw := "(none)"
		if l.Firewall != nil {
			fw = l.Firewall.Verdict
		}
		rows = append(rows, exposureRow{l.Proto, l.Addr, l.Process, l.Path, l.PID, fw, l.Verdict})
	}
	return rows, out.Summary, out.Warnings
}

// The emulated Mac's own lsof, ps and codesign (macemu stand-ins answering from the state file)
// give `exposure` its listeners, paths and firewall verdicts: the README's examples run against
// exactly this. The listeners follow the emulator's state: Remote Login puts launchd on port 22,
// and the Application Firewall's list and signatures decide the FIREWALL column.
func TestExposureOnMacemu(t *testing.T) {
	expect, err := filepath.Abs("../../examples/exposure.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const (
		cc    = "/System/Library/CoreServices/ControlCenter.app/Contents/MacOS/ControlCenter"
		pg    = "/opt/homebrew/opt/postgresql@16/bin/postgres"
		redis = "/opt/homebrew/opt/redis/bin/redis-server"
		node  = "/usr/local/bin/node"
		mdns  = "/usr/sbin/mDNSResponder"
		rapd  = "/usr/libexec/rapportd"
	)
	// rows lists the preset's listeners with the firewall verdicts fw gives per path ("" for
	// loopback_only), plus launchd's port 22 when ssh is set.
	rows := func(ssh bool, fw map[string]string) []exposureRow {
		all := []exposureRow{
			{"tcp", "0.0.0.0:22", "launchd", "/sbin/launchd", 1, "", "expected"},
			{"tcp", "[::]:22", "launchd", "/sbin/launchd", 1, "", "expected"},
			{"tcp", "[::]:3030", "node", node, 2051, "", "expected"},
			{"tcp", "0.0.0.0:5000", "ControlCenter", cc, 611, "", "expected"},
			{"tcp", "[::]:5000", "ControlCenter", cc, 611, "", "expected"},
			{"tcp", "127.0.0.1:5432", "postgres", pg, 1204, "loopback_only", "expected"},
			{"tcp", "[::1]:5432", "postgres", pg, 1204, "loopback_only", "expected"},
			{"tcp", "0.0.0.0:6379", "redis-server", redis, 1388, "", "too_wide"},
			{"tcp", "[::]:6379", "redis-server", redis, 1388, "", "too_wide"},
			{"tcp", "0.0.0.0:7000", "ControlCenter", cc, 611, "", "expected"},
			{"tcp", "[::]:7000", "ControlCenter", cc, 611, "", "expected"},
			{"tcp", "[::]:49152", "rapportd", rapd, 598, "", "unexpected"},
			{"udp", "0.0.0.0:5353", "mDNSResponder", mdns, 412, "", "expected"},
			{"udp", "[::]:5353", "mDNSResponder", mdns, 412, "", "expected"},
		}
		if !ssh {
			all = all[2:]
		}
		for i := range all {
			if all[i].Firewall == "" {
				all[i].Firewall = fw[all[i].Path]
			}
		}
		return all
	}
	every := func(v string) map[string]string {
		m := map[string]string{}
		for _, p := range []string{"/sbin/launchd", cc, redis, node, mdns, rapd} {
			m[p] = v
		}
		return m
	}
	firewallOn := func(st hosttest.MacState) hosttest.MacState {
		st.GlobalState = 1
		st.Apps = append(st.Apps, hosttest.App{Path: redis, Blocked: true})
		return st
	}
	for _, tt := range []struct {
		name    string
		st      hosttest.MacState
		ssh     bool
		fw      map[string]string
		summary map[string]int
	}{
		{"preset 15", hosttest.Mac15(), false, every("allowed"),
			map[string]int{"listeners": 12, "expected": 9, "too_wide": 2, "unexpected": 1}},
		{"remote login on", func() hosttest.MacState {
			st := hosttest.Mac15()
			st.Launchd = map[string]string{"com.openssh.sshd": "enabled"}
			return st
		}(), true, every("allowed"),
			map[string]int{"listeners": 14, "expected": 11, "too_wide": 2, "unexpected": 1}},
		// Apple's code is allowed as built-in signed software, node as Developer ID signed
		// downloaded software, redis by its blocked entry.
		{"firewall on, redis blocked", firewallOn(hosttest.Mac15()), false,
			map[string]string{cc: "allowed", redis: "blocked", node: "allowed", mdns: "allowed", rapd: "allowed"},
			map[string]int{"listeners": 12, "expected": 9, "too_wide": 2, "unexpected": 1}},
		// Without the automatic allowing, only the essential mDNSResponder passes; the others
		// would be asked about.
		{"firewall on, nothing signed allowed", func() hosttest.MacState {
			st := firewallOn(hosttest.Mac15())
			st.AllowSigned, st.AllowSignedApp = false, false
			return st
		}(), false,
			map[string]string{cc: "unknown", redis: "blocked", node: "unknown", mdns: "allowed", rapd: "unknown"},
			map[string]int{"listeners": 12, "expected": 9, "too_wide": 2, "unexpected": 1}},
		{"block all", func() hosttest.MacState {
			st := hosttest.Mac15()
			st.GlobalState = 2
			return st
		}(), false,
			map[string]string{cc: "blocked", redis: "blocked", node: "blocked", mdns: "allowed", rapd: "blocked"},
			map[string]int{"listeners": 12, "expected": 9, "too_wide": 2, "unexpected": 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := mac(t, tt.st)
			got, summary, warnings := exposureJSONRows(t, root, 1, "--expect", expect)
			if diff := cmp.Diff(rows(tt.ssh, tt.fw), got); diff != "" {
				t.Errorf("firewarden exposure --expect examples/exposure.yaml (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.summary, summary); diff != "" {
				t.Errorf("firewarden exposure summary (-want +got):\n%s", diff)
			}
			if len(warnings) != 0 {
				t.Errorf("firewarden exposure warnings = %q, want none", warnings)
			}
			st := state(t, root)
			if len(st.Writes()) != 0 {
				t.Errorf("firewarden exposure changed the Mac: %q", st.Writes())
			}
			var ran []string
			for _, c := range st.Calls {
				if !slices.Contains(ran, c[0]) {
					ran = append(ran, c[0])
				}
			}
			for _, p := range []string{"/usr/sbin/lsof", "/bin/ps", "/usr/libexec/ApplicationFirewall/socketfilterfw"} {
				if !slices.Contains(ran, p) {
					t.Errorf("firewarden exposure ran %q, want %s among them", ran, p)
				}
			}
		})
	}
}

// The text output of the README's example, and `exposure` without --expect exiting 0.
func TestExposureOnMacemuText(t *testing.T) {
	root := mac(t, hosttest.Mac15())
	r := firewarden(t, root, "exposure", "--expect", "../../examples/exposure.yaml")
	if r.code != 1 || r.stderr != "" {
		t.Errorf("firewarden exposure --expect = exit %d, stderr %q; want 1 and none", r.code, r.stderr)
	}
	for _, line := range []string{
		"tcp    ::         49152  all       allowed        598   rapportd       /usr/libexec/rapportd",
		"12 listeners: 9 expected, 2 too wide, 1 unexpected\n",
		"too wide tcp/0.0.0.0:6379: bind redis-server (pid 1388) to 127.0.0.1:6379 instead of 0.0.0.0:6379 (../../examples/exposure.yaml:8 allows loopback only)",
	} {
		if !strings.Contains(r.stdout, line) {
			t.Errorf("firewarden exposure --expect: stdout lacks %q:\n%s", line, r.stdout)
		}
	}
	r = firewarden(t, root, "exposure")
	if r.code != 0 || r.stderr != "" || !strings.HasSuffix(r.stdout, "\n12 listeners\n") {
		t.Errorf("firewarden exposure = exit %d, stderr %q, stdout ending %q; want 0, none, \"12 listeners\"", r.code, r.stderr, tail(r.stdout))
	}
}

// tail is the last line of s, for messages.
func tail(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// The exposure posture checks read the same stand-ins: a baseline's exposure section is judged
// against the emulated listeners, and Remote Login turned on (launchd on port 22, which this
// baseline does not name) adds two unexpected listeners. check changes nothing on the Mac.
func TestExposureChecksOnMacemu(t *testing.T) {
	baseline := filepath.Join(t.TempDir(), "listeners.yaml")
	if err := os.WriteFile(baseline, []byte(`name: listeners
exposure:
  expect:
    - {process: postgres, port: 5432, scope: loopback}
    - {process: redis-server, port: 6379, scope: loopback}
    - {process: node, port: 3030, scope: any}
    - {process: mDNSResponder, port: 5353, proto: udp, scope: any}
    - {process: ControlCenter, scope: any}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	sshOn := hosttest.Mac15()
	sshOn.Launchd = map[string]string{"com.openssh.sshd": "enabled"}
	for _, tt := range []struct {
		name  string
		st    hosttest.MacState
		lines []string
	}{
		{"preset 15", hosttest.Mac15(), []string{
			"exposure.unexpected  fail    none      1 listener   lsof",
			"exposure.too_wide    fail    none      2 listeners  lsof",
			"exposure.unexpected: tcp/[::]:49152: stop rapportd (pid 598)",
		}},
		{"remote login on", sshOn, []string{
			"exposure.unexpected  fail    none      3 listeners  lsof",
			"exposure.unexpected: tcp/0.0.0.0:22: stop launchd (pid 1)",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := mac(t, tt.st)
			r := firewarden(t, root, "check", "--baseline", baseline)
			if r.code != 1 || r.stderr != "" {
				t.Errorf("firewarden check --baseline listeners.yaml = exit %d, stderr %q; want 1 and none", r.code, r.stderr)
			}
			for _, line := range tt.lines {
				if !strings.Contains(r.stdout, line) {
					t.Errorf("firewarden check --baseline listeners.yaml: stdout lacks %q:\n%s", line, r.stdout)
				}
			}
			if w := state(t, root).Writes(); len(w) != 0 {
				t.Errorf("firewarden check changed the Mac: %q", w)
			}
		})
	}
}
