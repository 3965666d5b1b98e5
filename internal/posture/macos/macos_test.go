package macos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"howett.net/plist"

	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/posture"
	"github.com/firewarden/firewarden/internal/posture/baseline"
)

// reply is what the fake runner answers to one argv.
type reply struct {
	stdout, stderr string
	exit           int
	err            error             // returned instead of an exit, e.g. host.ErrNotInstalled
	then           func(*fakeRunner) // runs after the reply: how a write changes later reads
}

// fakeRunner answers from a map keyed by the space-joined argv and records every call. An argv
// it does not know is a test failure.
type fakeRunner struct {
	t       *testing.T
	replies map[string]reply
	calls   []string
}

func (f *fakeRunner) Run(_ context.Context, c host.Cmd) (host.Result, error) {
	key := strings.Join(c.Argv(), " ")
	f.calls = append(f.calls, key)
	r, ok := f.replies[key]
	if !ok {
		f.t.Errorf("unexpected run: %s", key)
		return host.Result{Argv: c.Argv(), ExitCode: -1}, fmt.Errorf("%s: %w", c.Path, host.ErrNotInstalled)
	}
	res := host.Result{Argv: c.Argv(), Stdout: []byte(r.stdout), Stderr: []byte(r.stderr), ExitCode: r.exit}
	if r.then != nil {
		r.then(f)
	}
	switch {
	case r.err != nil:
		res.ExitCode = -1
		return res, r.err
	case r.exit != 0:
		return res, &host.ExitError{Argv: res.Argv, Code: r.exit, Stderr: r.stderr}
	}
	return res, nil
}

const (
	printDisabledArgv = "/bin/launchctl print-disabled system"
	getRemoteLogin    = "/usr/sbin/systemsetup -getremotelogin"
	csrutilStatus     = "/usr/bin/csrutil status"
)

var (
	macOS12 = host.OS{Kind: host.MacOS, Name: "macOS", Version: "12.7", Major: 12, Minor: 7}
	macOS15 = host.OS{Kind: host.MacOS, Name: "macOS", Version: "15.4.1", Major: 15, Minor: 4, Patch: 1}
	macOS26 = host.OS{Kind: host.MacOS, Name: "macOS", Version: "26.1", Major: 26, Minor: 1}
	debian  = host.OS{Kind: host.Linux, Name: "Debian GNU/Linux 12 (bookworm)", Version: "12", Major: 12}
)

// launchdOutput builds `launchctl print-disabled system` in the dialect of os: overrides maps a
// label to "enabled" or "disabled". The layout follows the captures in testdata/ (an unrelated
// label and a login-item block included); the service lines are built, not captured.
func launchdOutput(o host.OS, overrides map[string]string) string {
	labels := []string{"com.apple.ftp-proxy"}
	for l := range overrides {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	var b strings.Builder
	b.WriteString("disabled services = {\n")
	for _, l := range labels {
		word, ok := overrides[l]
		if !ok {
			word = "disabled"
		}
		if o.Major < 13 { // Big Sur / Monterey print true for disabled
			word = map[string]string{"disabled": "true", "enabled": "false"}[word]
		}
		fmt.Fprintf(&b, "\t%q => %s\n", l, word)
	}
	b.WriteString("}\nlogin item associations = {\n\t\"com.openssh.sshd\" => \"enabled\"\n}\n")
	return b.String()
}

// compliantReplies answers a host where the default baseline passes.
func compliantReplies(t *testing.T, o host.OS) map[string]reply {
	return map[string]reply{
		printDisabledArgv: {stdout: launchdOutput(o, map[string]string{
			labelSSHD: "disabled", labelScreenSharing: "disabled", labelSMBD: "disabled", labelAEServer: "disabled",
		})},
		getRemoteLogin: {stdout: "Remote Login: Off\n"},
		csrutilStatus:  {stdout: fixture(t, "csrutil-status-enabled.txt")},
	}
}

func newFake(t *testing.T, replies map[string]reply) *fakeRunner {
	return &fakeRunner{t: t, replies: replies}
}

func emptyRoot(t *testing.T) host.Root {
	r, err := host.NewRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func ptr(b bool) *bool { return &b }

func only(ids ...string) map[string]bool {
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func evaluate(t *testing.T, p *Provider, b *baseline.Baseline, ids ...string) []posture.Result {
	t.Helper()
	req := posture.Request{Baseline: b, Now: now}
	if len(ids) > 0 {
		req.Only = only(ids...)
	}
	return p.Evaluate(context.Background(), req)
}

func one(t *testing.T, rs []posture.Result, id string) posture.Result {
	t.Helper()
	for _, r := range rs {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no result for %s in %+v", id, rs)
	return posture.Result{}
}

func TestEvaluateDefaultBaselineRunsThreePrograms(t *testing.T) {
	f := newFake(t, compliantReplies(t, macOS15))
	p := New(emptyRoot(t), macOS15, f)
	rs := evaluate(t, p, baseline.Default())

	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ID)
		if r.Status != posture.Pass {
			t.Errorf("%s: status %s (%s), want pass", r.ID, r.Status, r.Detail)
		}
		if len(r.Evidence) == 0 {
			t.Errorf("%s: no evidence", r.ID)
		}
	}
	wantIDs := []string{RemoteLogin, ScreenSharing, FileSharing, RemoteAppleEvents, SIP}
	if diff := cmp.Diff(wantIDs, ids); diff != "" {
		t.Errorf("result IDs (-want +got):\n%s", diff)
	}
	sort.Strings(f.calls) // "/bin/…" < "/usr/bin/…" < "/usr/sbin/…"
	if diff := cmp.Diff([]string{printDisabledArgv, csrutilStatus, getRemoteLogin}, f.calls); diff != "" {
		t.Errorf("program runs (-want +got):\n%s", diff)
	}
	rl := one(t, rs, RemoteLogin)
	want := posture.Result{ID: RemoteLogin, Title: "Remote Login (SSH)", Status: posture.Pass, Expected: "off", Actual: "off",
		Source: "systemsetup+launchctl", Controls: []string{"CIS 2.3.3.5", "800-53r5 CM-7", "800-53r5 CM-7(1)", "800-53r5 AC-17"}}
	got := rl
	got.Evidence, got.Fixable, got.FixHint = nil, false, ""
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("remote login result (-want +got):\n%s", diff)
	}
	if !rl.Fixable {
		t.Errorf("remote login is not fixable")
	}
	if s := one(t, rs, SIP); s.Fixable || s.FixHint != "boot into Recovery, run `csrutil enable`, restart" {
		t.Errorf("sip Fixable=%v FixHint=%q, want false and the Recovery hint", s.Fixable, s.FixHint)
	}
}

func TestControlsByVersion(t *testing.T) {
	tests := []struct {
		os   host.OS
		id   string
		want []string
	}{
		{macOS15, ScreenSharing, []string{"CIS 2.3.3.2", "800-53r5 AC-3", "800-53r5 AC-17"}},
		{macOS26, ScreenSharing, []string{"CIS 2.3.3.1", "800-53r5 AC-3", "800-53r5 AC-17"}},
		{macOS26, RemoteLogin, []string{"CIS 2.3.3.4", "800-53r5 CM-7", "800-53r5 CM-7(1)", "800-53r5 AC-17"}},
		{macOS26, FileSharing, []string{"CIS 2.3.3.2", "800-53r5 AC-3", "800-53r5 AC-17"}},
		{macOS15, RemoteAppleEvents, []string{"CIS 2.3.3.7", "800-53r5 AC-3", "800-53r5 AC-17"}},
		{macOS26, RemoteAppleEvents, []string{"CIS 2.3.3.6", "800-53r5 AC-3", "800-53r5 AC-17"}},
		{macOS12, RemoteAppleEvents, []string{"800-53r5 AC-3", "800-53r5 AC-17"}},
		{macOS26, SIP, []string{"CIS 5.1.2", "800-53r5 AC-3", "800-53r5 AU-9", "800-53r5 AU-9(3)", "800-53r5 CM-5", "800-53r5 CM-5(6)", "800-53r5 SC-4", "800-53r5 SI-2", "800-53r5 SI-7"}},
	}
	for _, tc := range tests {
		t.Run(tc.os.Version+"/"+tc.id, func(t *testing.T) {
			p := New(emptyRoot(t), tc.os, newFake(t, compliantReplies(t, tc.os)))
			r := one(t, evaluate(t, p, baseline.Default(), tc.id), tc.id)
			if diff := cmp.Diff(tc.want, r.Controls); diff != "" {
				t.Errorf("controls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestServices(t *testing.T) {
	tests := []struct {
		name        string
		id          string
		overrides   map[string]string
		remoteLogin string // systemsetup output; remote login only
		want        *bool  // baseline; nil means off
		status      posture.Status
		actual      string
	}{
		{"ssh off", RemoteLogin, map[string]string{labelSSHD: "disabled"}, "Remote Login: Off\n", nil, posture.Pass, "off"},
		{"ssh off, no override", RemoteLogin, nil, "Remote Login: Off\n", nil, posture.Pass, "off"},
		{"ssh on", RemoteLogin, map[string]string{labelSSHD: "enabled"}, "Remote Login: On\n", nil, posture.Fail, "on"},
		{"ssh systemsetup off but launchd enabled", RemoteLogin, map[string]string{labelSSHD: "enabled"}, "Remote Login: Off\n", nil, posture.Fail, "on"},
		{"ssh systemsetup on, launchd disabled", RemoteLogin, map[string]string{labelSSHD: "disabled"}, "Remote Login: On\n", nil, posture.Fail, "on"},
		{"ssh wanted on", RemoteLogin, map[string]string{labelSSHD: "enabled"}, "Remote Login: On\n", ptr(true), posture.Pass, "on"},
		{"screen sharing disabled", ScreenSharing, map[string]string{labelScreenSharing: "disabled"}, "", nil, posture.Pass, "off"},
		{"screen sharing no override", ScreenSharing, nil, "", nil, posture.Pass, "off"},
		{"screen sharing enabled", ScreenSharing, map[string]string{labelScreenSharing: "enabled"}, "", nil, posture.Fail, "on"},
		{"screen sharing wanted on, no override", ScreenSharing, nil, "", ptr(true), posture.Fail, "off"},
		{"smb disabled", FileSharing, map[string]string{labelSMBD: "disabled"}, "", nil, posture.Pass, "off"},
		{"smb no override", FileSharing, nil, "", nil, posture.Fail, "not disabled"},
		{"smb enabled", FileSharing, map[string]string{labelSMBD: "enabled"}, "", nil, posture.Fail, "on"},
		{"smb wanted on, enabled", FileSharing, map[string]string{labelSMBD: "enabled"}, "", ptr(true), posture.Pass, "on"},
		{"apple events disabled", RemoteAppleEvents, map[string]string{labelAEServer: "disabled"}, "", nil, posture.Pass, "off"},
		{"apple events no override", RemoteAppleEvents, nil, "", nil, posture.Fail, "not disabled"},
		{"apple events enabled", RemoteAppleEvents, map[string]string{labelAEServer: "enabled"}, "", nil, posture.Fail, "on"},
	}
	for _, o := range []host.OS{macOS12, macOS15} {
		for _, tc := range tests {
			t.Run(o.Version+"/"+tc.name, func(t *testing.T) {
				replies := map[string]reply{printDisabledArgv: {stdout: launchdOutput(o, tc.overrides)}}
				if tc.remoteLogin != "" {
					replies[getRemoteLogin] = reply{stdout: tc.remoteLogin}
				}
				f := newFake(t, replies)
				b := baseline.Default()
				want := false
				if tc.want != nil {
					want = *tc.want
				}
				*map[string]**bool{
					RemoteLogin: &b.Services.RemoteLogin, ScreenSharing: &b.Services.ScreenSharing,
					FileSharing: &b.Services.FileSharing, RemoteAppleEvents: &b.Services.RemoteAppleEvents,
				}[tc.id] = &want
				r := one(t, evaluate(t, New(emptyRoot(t), o, f), b, tc.id), tc.id)
				if r.Status != tc.status || r.Actual != tc.actual {
					t.Errorf("Evaluate(%s) = %s/%q (%s), want %s/%q", tc.id, r.Status, r.Actual, r.Detail, tc.status, tc.actual)
				}
				if r.Expected != onOff(want) {
					t.Errorf("Expected = %q, want %q", r.Expected, onOff(want))
				}
			})
		}
	}
}

// fdaLine is what systemsetup prints without Full Disk Access (logicnow/BlueSky#54, 10.15.1).
const fdaLine = "setremotelogin: Turning Remote Login on or off requires Full Disk Access privileges."

func TestRemoteLoginFallback(t *testing.T) {
	tests := []struct {
		name       string
		systemsetp reply
		launchd    reply
		status     posture.Status
		actual     string
		detail     string // exact when set
		source     string
	}{
		{
			name:       "fda, launchd disabled",
			systemsetp: reply{stdout: fdaLine + "\n"},
			launchd:    reply{stdout: launchdOutput(macOS15, map[string]string{labelSSHD: "disabled"})},
			status:     posture.Pass, actual: "off", source: "launchctl",
			detail: `systemsetup refused ("` + fdaLine + `"); decided from launchctl print-disabled system alone: "com.openssh.sshd" => disabled`,
		},
		{
			name:       "fda with non-zero exit, monterey launchd disabled",
			systemsetp: reply{stderr: fdaLine + "\n", exit: 1},
			launchd:    reply{stdout: launchdOutput(macOS12, map[string]string{labelSSHD: "disabled"})},
			status:     posture.Pass, actual: "off", source: "launchctl",
			detail: `systemsetup refused ("` + fdaLine + `"); decided from launchctl print-disabled system alone: "com.openssh.sshd" => true`,
		},
		{
			name:       "not admin, launchd enabled",
			systemsetp: reply{stdout: "You need administrator access to run this tool... exiting!\n", exit: 1},
			launchd:    reply{stdout: launchdOutput(macOS15, map[string]string{labelSSHD: "enabled"})},
			status:     posture.Fail, actual: "on", source: "launchctl",
		},
		{
			name:       "fda, no override",
			systemsetp: reply{stdout: fdaLine + "\n"},
			launchd:    reply{stdout: launchdOutput(macOS15, nil)},
			status:     posture.Error, actual: "unknown", source: "launchctl",
			detail: "grant Full Disk Access to the program running firewarden (System Settings > Privacy & Security > Full Disk Access) or run as root",
		},
		{
			name:       "fda, launchctl fails",
			systemsetp: reply{stdout: fdaLine + "\n"},
			launchd:    reply{stderr: "Unrecognized target specifier.\n", exit: 64},
			status:     posture.Error, actual: "unknown", source: "launchctl",
			detail: "grant Full Disk Access to the program running firewarden (System Settings > Privacy & Security > Full Disk Access) or run as root",
		},
		{
			name:       "systemsetup unparseable",
			systemsetp: reply{stderr: "2016-05-18 09:28:12.188 systemsetup[1:2] something broke\n", exit: 1},
			launchd:    reply{stdout: launchdOutput(macOS15, map[string]string{labelSSHD: "disabled"})},
			status:     posture.Error, actual: "unknown", source: "systemsetup+launchctl",
			detail: "/usr/sbin/systemsetup -getremotelogin exited with status 1 and printed: 2016-05-18 09:28:12.188 systemsetup[1:2] something broke",
		},
		{
			name:       "systemsetup off but launchctl unreadable",
			systemsetp: reply{stdout: "Remote Login: Off\n"},
			launchd:    reply{stdout: "disabled services = {\n\t\"com.openssh.sshd\" => disabled\n"},
			status:     posture.Error, actual: "unknown", source: "systemsetup+launchctl",
		},
		{
			name:       "systemsetup not installed",
			systemsetp: reply{err: fmt.Errorf("%s: %w", systemsetupPath, host.ErrNotInstalled)},
			launchd:    reply{stdout: launchdOutput(macOS15, map[string]string{labelSSHD: "disabled"})},
			status:     posture.Error, actual: "unknown", source: "systemsetup+launchctl",
			detail: "/usr/sbin/systemsetup is not installed on this host",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, map[string]reply{printDisabledArgv: tc.launchd, getRemoteLogin: tc.systemsetp})
			r := one(t, evaluate(t, New(emptyRoot(t), macOS15, f), baseline.Default(), RemoteLogin), RemoteLogin)
			if r.Status != tc.status || r.Actual != tc.actual || r.Source != tc.source {
				t.Errorf("Evaluate = %s/%q/%s (%s), want %s/%q/%s", r.Status, r.Actual, r.Source, r.Detail, tc.status, tc.actual, tc.source)
			}
			if tc.detail != "" && r.Detail != tc.detail {
				t.Errorf("Detail = %q, want %q", r.Detail, tc.detail)
			}
			if len(r.Evidence) != 2 {
				t.Errorf("evidence has %d records, want 2 (systemsetup, launchctl)", len(r.Evidence))
			}
		})
	}
}

func TestUnparseableOutputIsAnError(t *testing.T) {
	missing := rawFixture(t, "defaults-read-missing-key.txt")
	f := newFake(t, map[string]reply{
		printDisabledArgv: {stderr: missing, exit: 1},
		getRemoteLogin:    {stdout: "Remote Login: Off\n"},
		csrutilStatus:     {stdout: missing, exit: 1},
	})
	rs := evaluate(t, New(emptyRoot(t), macOS15, f), baseline.Default())
	if len(rs) != 5 {
		t.Fatalf("got %d results, want 5", len(rs))
	}
	for _, r := range rs {
		if r.Status != posture.Error || r.Actual != "unknown" {
			t.Errorf("%s = %s/%q, want error/unknown", r.ID, r.Status, r.Actual)
		}
		if !strings.Contains(r.Detail, "The domain/default pair of (com.apple.NetworkBrowser, DisableAirDrop) does not exist") {
			t.Errorf("%s Detail = %q, want the raw output in it", r.ID, r.Detail)
		}
	}
}

func TestSIP(t *testing.T) {
	tests := []struct {
		name   string
		out    reply
		want   bool
		status posture.Status
		actual string
		detail string
	}{
		{"enabled", reply{stdout: fixture(t, "csrutil-status-enabled.txt")}, true, posture.Pass, "enabled", ""},
		{
			"custom configuration", reply{stdout: fixture(t, "csrutil-status-custom-config-2023.txt")}, true, posture.Fail,
			"unknown (Custom Configuration); disabled: Apple Internal, Filesystem Protections, Debugging Restrictions, NVRAM Protections, Boot-arg Restrictions, Kernel Integrity Protections",
			"System Integrity Protection is partly off (custom configuration); disabled protections: Apple Internal, Filesystem Protections, Debugging Restrictions, NVRAM Protections, Boot-arg Restrictions, Kernel Integrity Protections",
		},
		{"disabled", reply{stdout: "System Integrity Protection status: disabled.\n"}, true, posture.Fail, "disabled", `csrutil status printed "System Integrity Protection status: disabled."`},
		{"disabled wanted", reply{stdout: "System Integrity Protection status: disabled.\n"}, false, posture.Pass, "disabled", ""},
		{"not installed", reply{err: fmt.Errorf("%s: %w", csrutilPath, host.ErrNotInstalled)}, true, posture.Error, "unknown", "/usr/bin/csrutil is not installed on this host"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, map[string]reply{csrutilStatus: tc.out})
			b := &baseline.Baseline{SIP: ptr(tc.want)}
			rs := evaluate(t, New(emptyRoot(t), macOS15, f), b)
			if len(rs) != 1 {
				t.Fatalf("got %d results, want 1", len(rs))
			}
			r := rs[0]
			if r.Status != tc.status || r.Actual != tc.actual || r.Detail != tc.detail {
				t.Errorf("Evaluate = %s/%q/%q, want %s/%q/%q", r.Status, r.Actual, r.Detail, tc.status, tc.actual, tc.detail)
			}
			if r.Fixable || r.Source != "csrutil" {
				t.Errorf("Fixable=%v Source=%q, want false, csrutil", r.Fixable, r.Source)
			}
			if diff := cmp.Diff([]string{csrutilStatus}, f.calls); diff != "" {
				t.Errorf("runs (-want +got):\n%s", diff)
			}
		})
	}
}

// writePlist writes v as a plist at the system path sys under root, in format
// (plist.XMLFormat or plist.BinaryFormat).
func writePlist(t *testing.T, root host.Root, sys string, v any, format int) {
	t.Helper()
	data, err := plist.Marshal(v, format)
	if err != nil {
		t.Fatal(err)
	}
	path := root.Path(sys)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBluetooth(t *testing.T) {
	tests := []struct {
		name    string
		managed map[string]any // nil: no managed file
		prefs   map[string]any // nil: no preferences file
		format  int
		want    bool
		status  posture.Status
		actual  string
		source  string
		fixable bool
		hint    string
	}{
		{"profile disables", map[string]any{"DisableBluetooth": true}, map[string]any{"ControllerPowerState": 1}, plist.BinaryFormat, false, posture.Managed, "off", "profile", false, "change DisableBluetooth in your MDM profile"},
		{"profile allows", map[string]any{"DisableBluetooth": false}, nil, plist.XMLFormat, false, posture.Fail, "on", "profile", false, "change DisableBluetooth in your MDM profile"},
		{"profile without the key", map[string]any{"Other": 1}, map[string]any{"ControllerPowerState": 0}, plist.XMLFormat, false, posture.Pass, "off", "plist", true, "turn Bluetooth off in System Settings > Bluetooth"},
		{"xml off", nil, map[string]any{"ControllerPowerState": 0}, plist.XMLFormat, false, posture.Pass, "off", "plist", true, "turn Bluetooth off in System Settings > Bluetooth"},
		{"binary on", nil, map[string]any{"ControllerPowerState": 1, "PersistentPorts": map[string]any{}}, plist.BinaryFormat, false, posture.Fail, "on", "plist", true, "turn Bluetooth off in System Settings > Bluetooth"},
		{"binary on, wanted on", nil, map[string]any{"ControllerPowerState": 1}, plist.BinaryFormat, true, posture.Pass, "on", "plist", true, "turn Bluetooth on in System Settings > Bluetooth"},
		{"key absent", nil, map[string]any{"D2D MAC Address": []byte{1, 2}}, plist.BinaryFormat, false, posture.Error, "unknown", "plist", true, "turn Bluetooth off in System Settings > Bluetooth"},
		{"file absent", nil, nil, plist.XMLFormat, false, posture.Error, "unknown", "plist", true, "turn Bluetooth off in System Settings > Bluetooth"},
		{"unknown value", nil, map[string]any{"ControllerPowerState": 7}, plist.XMLFormat, false, posture.Error, "unknown", "plist", true, "turn Bluetooth off in System Settings > Bluetooth"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := emptyRoot(t)
			if tc.managed != nil {
				writePlist(t, root, managedBluetoothPlist, tc.managed, tc.format)
			}
			if tc.prefs != nil {
				writePlist(t, root, bluetoothPlist, tc.prefs, tc.format)
			}
			f := newFake(t, nil)
			rs := evaluate(t, New(root, macOS15, f), &baseline.Baseline{Services: baseline.Services{Bluetooth: ptr(tc.want)}})
			if len(rs) != 1 {
				t.Fatalf("got %d results, want 1", len(rs))
			}
			r := rs[0]
			if r.Status != tc.status || r.Actual != tc.actual || r.Source != tc.source {
				t.Errorf("Evaluate = %s/%q/%s (%s), want %s/%q/%s", r.Status, r.Actual, r.Source, r.Detail, tc.status, tc.actual, tc.source)
			}
			if r.Managed != (tc.source == "profile") || r.Fixable != tc.fixable || r.FixHint != tc.hint {
				t.Errorf("Managed=%v Fixable=%v FixHint=%q, want %v %v %q", r.Managed, r.Fixable, r.FixHint, tc.source == "profile", tc.fixable, tc.hint)
			}
			if r.Status == posture.Error && !strings.Contains(r.Detail, "ControllerPowerState") {
				t.Errorf("Detail = %q, want it to explain the missing ControllerPowerState", r.Detail)
			}
			if len(f.calls) != 0 {
				t.Errorf("ran %v, want no program runs", f.calls)
			}
			if len(r.Evidence) == 0 || r.Evidence[0].Path != managedBluetoothPlist || r.Evidence[0].Kind != "file" {
				t.Errorf("evidence %+v, want the managed plist first", r.Evidence)
			}
			if tc.managed == nil && r.Evidence[0].Content != "(absent)" {
				t.Errorf("absent managed plist recorded as %q", r.Evidence[0].Content)
			}
		})
	}
}

func TestExemption(t *testing.T) {
	expires := time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC)
	b := baseline.Default()
	b.Exemptions = []baseline.Exemption{{Check: RemoteLogin, Reason: "build hosts use SSH", Expires: expires, ApprovedBy: "ciso@example.com"}}
	tests := []struct {
		name      string
		now       time.Time
		sshOn     bool
		status    posture.Status
		exemption bool
	}{
		{"failing, active on its last day", time.Date(2026, 6, 30, 23, 59, 0, 0, time.UTC), true, posture.Exempt, true},
		{"failing, expired", time.Date(2026, 7, 1, 0, 0, 1, 0, time.UTC), true, posture.Fail, false},
		{"passing, active", time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), false, posture.Pass, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			state, get := "disabled", "Remote Login: Off\n"
			if tc.sshOn {
				state, get = "enabled", "Remote Login: On\n"
			}
			f := newFake(t, map[string]reply{
				printDisabledArgv: {stdout: launchdOutput(macOS15, map[string]string{labelSSHD: state})},
				getRemoteLogin:    {stdout: get},
			})
			p := New(emptyRoot(t), macOS15, f)
			rs := p.Evaluate(context.Background(), posture.Request{Baseline: b, Only: only(RemoteLogin), Now: tc.now})
			r := one(t, rs, RemoteLogin)
			if r.Status != tc.status || (r.Exemption != nil) != tc.exemption {
				t.Fatalf("Evaluate = %s, exemption %v; want %s, exemption %v", r.Status, r.Exemption, tc.status, tc.exemption)
			}
			if tc.exemption && r.Exemption.Reason != "build hosts use SSH" {
				t.Errorf("exemption = %+v", r.Exemption)
			}
		})
	}
}

func TestNotApplicableOffMacOS(t *testing.T) {
	f := newFake(t, nil)
	b := baseline.Default()
	b.Services.Bluetooth = ptr(false)
	rs := evaluate(t, New(emptyRoot(t), debian, f), b)
	if len(rs) != 6 {
		t.Fatalf("got %d results, want 6", len(rs))
	}
	for _, r := range rs {
		if r.Status != posture.NotApplicable || r.Detail != "applies to macOS only; this host runs Debian GNU/Linux 12 (bookworm)" {
			t.Errorf("%s = %s %q, want not_applicable saying macOS only", r.ID, r.Status, r.Detail)
		}
	}
	if len(f.calls) != 0 {
		t.Errorf("ran %v on Linux", f.calls)
	}
}

func TestOnlyAndBaselineSelect(t *testing.T) {
	f := newFake(t, map[string]reply{csrutilStatus: {stdout: fixture(t, "csrutil-status-enabled.txt")}})
	p := New(emptyRoot(t), macOS15, f)
	rs := evaluate(t, p, baseline.Default(), SIP, Bluetooth) // bluetooth is not in the default baseline
	if len(rs) != 1 || rs[0].ID != SIP {
		t.Fatalf("got %+v, want only macos.sip", rs)
	}
	if diff := cmp.Diff([]string{csrutilStatus}, f.calls); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}
}

func TestIDs(t *testing.T) {
	p := New(emptyRoot(t), macOS15, newFake(t, nil))
	want := []string{"macos.remote_login", "macos.screen_sharing", "macos.file_sharing", "macos.remote_apple_events", "macos.sip", "macos.bluetooth"}
	if diff := cmp.Diff(want, p.IDs()); diff != "" {
		t.Errorf("IDs (-want +got):\n%s", diff)
	}
	for _, id := range p.IDs() {
		if !baseline.IsCheckID(id) {
			t.Errorf("%s is not a check ID the baseline knows", id)
		}
	}
}

func cmd(path string, args ...string) host.Cmd { return host.Cmd{Path: path, Args: args} }

func TestPlan(t *testing.T) {
	root := emptyRoot(t)
	writePlist(t, root, bluetoothPlist, map[string]any{"ControllerPowerState": 1}, plist.BinaryFormat)
	f := newFake(t, map[string]reply{
		printDisabledArgv: {stdout: launchdOutput(macOS15, map[string]string{labelSSHD: "enabled", labelScreenSharing: "enabled"})},
		getRemoteLogin:    {stdout: "Remote Login: On\n"},
		csrutilStatus:     {stdout: fixture(t, "csrutil-status-enabled.txt")},
	})
	p := New(root, macOS15, f)
	b := baseline.Default()
	b.Services.Bluetooth = ptr(false)
	req := posture.Request{Baseline: b, Now: now}
	var failing []posture.Result
	for _, r := range p.Evaluate(context.Background(), req) {
		if r.Status == posture.Fail && r.Fixable {
			failing = append(failing, r)
		}
	}
	got, err := p.Plan(context.Background(), req, failing)
	if err != nil {
		t.Fatal(err)
	}
	want := []posture.Change{
		{Check: RemoteLogin, Key: RemoteLogin, From: "on", To: "off", Commands: []host.Cmd{
			cmd("/usr/sbin/systemsetup", "-f", "-setremotelogin", "off"),
			cmd("/bin/launchctl", "disable", "system/com.openssh.sshd"),
		}},
		{Check: ScreenSharing, Key: ScreenSharing, From: "on", To: "off", Commands: []host.Cmd{
			cmd("/bin/launchctl", "disable", "system/com.apple.screensharing"),
			cmd("/bin/launchctl", "bootout", "system/com.apple.screensharing"),
		}},
		{Check: FileSharing, Key: FileSharing, From: "unset", To: "off", Commands: []host.Cmd{
			cmd("/bin/launchctl", "disable", "system/com.apple.smbd"),
			cmd("/bin/launchctl", "bootout", "system/com.apple.smbd"),
		}},
		{Check: RemoteAppleEvents, Key: RemoteAppleEvents, From: "unset", To: "off", Commands: []host.Cmd{
			cmd("/usr/sbin/systemsetup", "-setremoteappleevents", "off"),
			cmd("/bin/launchctl", "disable", "system/com.apple.AEServer"),
		}},
		{Check: Bluetooth, Key: Bluetooth, From: "on", To: "off", Commands: []host.Cmd{
			cmd("/usr/bin/defaults", "write", "/Library/Preferences/com.apple.Bluetooth", "ControllerPowerState", "-int", "0"),
			cmd("/usr/bin/killall", "-HUP", "blued"),
		}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Plan (-want +got):\n%s", diff)
	}
}

func TestPlanTurningOnWeakens(t *testing.T) {
	b := &baseline.Baseline{Services: baseline.Services{RemoteLogin: ptr(true), ScreenSharing: ptr(true)}}
	failing := []posture.Result{
		{ID: RemoteLogin, Status: posture.Fail, Actual: "off", Fixable: true},
		{ID: ScreenSharing, Status: posture.Fail, Actual: "off", Fixable: true},
	}
	got, err := New(emptyRoot(t), macOS15, newFake(t, nil)).Plan(context.Background(), posture.Request{Baseline: b}, failing)
	if err != nil {
		t.Fatal(err)
	}
	want := []posture.Change{
		{Check: RemoteLogin, Key: RemoteLogin, From: "off", To: "on", Weakens: true, Commands: []host.Cmd{
			cmd("/usr/sbin/systemsetup", "-setremotelogin", "on"),
			cmd("/bin/launchctl", "enable", "system/com.openssh.sshd"),
		}},
		{Check: ScreenSharing, Key: ScreenSharing, From: "off", To: "on", Weakens: true, Commands: []host.Cmd{
			cmd("/bin/launchctl", "enable", "system/com.apple.screensharing"),
		}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Plan (-want +got):\n%s", diff)
	}
}

func TestPlanRefuses(t *testing.T) {
	b := baseline.Default()
	b.Services.Bluetooth = ptr(false)
	tests := []struct {
		name    string
		r       posture.Result
		wantErr error
	}{
		{"sip", posture.Result{ID: SIP, Status: posture.Fail, Actual: "disabled"}, nil},
		{"managed bluetooth", posture.Result{ID: Bluetooth, Status: posture.Fail, Actual: "on", Managed: true}, posture.ErrManagedByProfile},
		{"unknown state", posture.Result{ID: Bluetooth, Status: posture.Error, Actual: "unknown"}, nil},
		{"unknown check", posture.Result{ID: "alf.enabled", Status: posture.Fail, Actual: "off"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := New(emptyRoot(t), macOS15, newFake(t, nil))
			_, err := p.Plan(context.Background(), posture.Request{Baseline: b}, []posture.Result{tc.r})
			if err == nil {
				t.Fatalf("Plan(%s) succeeded, want an error", tc.r.ID)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("Plan error = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// launchdFake is a fake whose print-disabled output follows launchctl enable/disable, so that
// Apply's re-read sees the write; ignoreWrites makes the writes exit 0 and change nothing, which
// is how socketfilterfw-style silent refusals look.
func launchdFake(t *testing.T, overrides map[string]string, ignoreWrites bool) *fakeRunner {
	f := newFake(t, map[string]reply{})
	set := func(f *fakeRunner) {
		f.replies[printDisabledArgv] = reply{stdout: launchdOutput(macOS15, overrides)}
	}
	set(f)
	for _, label := range []string{labelSSHD, labelScreenSharing, labelSMBD, labelAEServer} {
		for _, verb := range []string{"enable", "disable"} {
			label, verb := label, verb
			f.replies["/bin/launchctl "+verb+" system/"+label] = reply{then: func(f *fakeRunner) {
				if !ignoreWrites {
					overrides[label] = verb + "d"
					set(f)
				}
			}}
		}
		// Not loaded: bootout fails, which Apply must tolerate.
		f.replies["/bin/launchctl bootout system/"+label] = reply{stderr: "Boot-out failed: 3: No such process\n", exit: 3}
	}
	return f
}

func TestApplyScreenSharing(t *testing.T) {
	f := launchdFake(t, map[string]string{labelScreenSharing: "enabled"}, false)
	p := New(emptyRoot(t), macOS15, f)
	rs := evaluate(t, p, baseline.Default(), ScreenSharing)
	if rs[0].Status != posture.Fail {
		t.Fatalf("before: %s, want fail", rs[0].Status)
	}
	ev, err := p.Apply(context.Background(), posture.Change{Check: ScreenSharing, Key: ScreenSharing, From: "on", To: "off"})
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	want := []string{
		printDisabledArgv,
		"/bin/launchctl disable system/com.apple.screensharing",
		"/bin/launchctl bootout system/com.apple.screensharing",
		printDisabledArgv, // re-read: the cache was dropped
	}
	if diff := cmp.Diff(want, f.calls); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}
	if len(ev) != 3 || ev[1].ExitCode != 3 {
		t.Errorf("evidence = %+v, want the three Apply runs with the bootout exit", ev)
	}

	// Rollback: a Change read back from a backup has no Commands.
	f.calls = nil
	if _, err := p.Apply(context.Background(), posture.Change{Check: ScreenSharing, Key: ScreenSharing, From: "off", To: "on"}); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	want = []string{"/bin/launchctl enable system/com.apple.screensharing", printDisabledArgv}
	if diff := cmp.Diff(want, f.calls); diff != "" {
		t.Errorf("rollback runs (-want +got):\n%s", diff)
	}
}

func TestApplyVerifyFails(t *testing.T) {
	f := launchdFake(t, map[string]string{labelSMBD: "enabled"}, true)
	p := New(emptyRoot(t), macOS15, f)
	ev, err := p.Apply(context.Background(), posture.Change{Check: FileSharing, Key: FileSharing, From: "on", To: "off"})
	if err == nil {
		t.Fatal("Apply succeeded although the write was ignored")
	}
	want := `apply macos.file_sharing: File Sharing (SMB) is still on after the change: launchctl print-disabled system shows "com.apple.smbd" => enabled (/bin/launchctl bootout system/com.apple.smbd printed "Boot-out failed: 3: No such process")`
	if err.Error() != want {
		t.Errorf("Apply error = %q, want %q", err, want)
	}
	if len(ev) != 3 {
		t.Errorf("got %d evidence records, want 3", len(ev))
	}
}

func TestApplyRemoteLogin(t *testing.T) {
	tests := []struct {
		name    string
		set     reply
		after   string // systemsetup -getremotelogin after the set
		wantErr string // substring; "" for success
		isFDA   bool
	}{
		{name: "takes", set: reply{}, after: "Remote Login: Off\n"},
		{name: "ignored", set: reply{}, after: "Remote Login: On\n",
			wantErr: `apply macos.remote_login: Remote Login (SSH) is still on after the change: systemsetup -getremotelogin printed "Remote Login: On"`},
		{name: "full disk access", set: reply{stdout: fdaLine + "\n"}, after: "Remote Login: On\n", isFDA: true,
			wantErr: "/usr/sbin/systemsetup -f -setremotelogin off needs Full Disk Access: grant Full Disk Access to the program running firewarden (System Settings > Privacy & Security > Full Disk Access) or run as root"},
		{name: "not admin", set: reply{stdout: "You need administrator access to run this tool... exiting!\n", exit: 1}, after: "Remote Login: On\n",
			wantErr: "run firewarden as root"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := launchdFake(t, map[string]string{labelSSHD: "enabled"}, false)
			f.replies[getRemoteLogin] = reply{stdout: "Remote Login: On\n"}
			set := tc.set
			set.then = func(f *fakeRunner) { f.replies[getRemoteLogin] = reply{stdout: tc.after} }
			f.replies["/usr/sbin/systemsetup -f -setremotelogin off"] = set
			p := New(emptyRoot(t), macOS15, f)
			_, err := p.Apply(context.Background(), posture.Change{Check: RemoteLogin, Key: RemoteLogin, From: "on", To: "off"})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Apply: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Apply error = %v, want it to contain %q", err, tc.wantErr)
			case errors.Is(err, ErrFullDiskAccess) != tc.isFDA:
				t.Errorf("errors.Is(%v, ErrFullDiskAccess) = %v, want %v", err, !tc.isFDA, tc.isFDA)
			}
		})
	}
}

func TestApplyBluetooth(t *testing.T) {
	for _, ignore := range []bool{false, true} {
		t.Run(fmt.Sprintf("ignore=%v", ignore), func(t *testing.T) {
			root := emptyRoot(t)
			writePlist(t, root, bluetoothPlist, map[string]any{"ControllerPowerState": 1}, plist.BinaryFormat)
			f := newFake(t, map[string]reply{
				"/usr/bin/defaults write /Library/Preferences/com.apple.Bluetooth ControllerPowerState -int 0": {then: func(*fakeRunner) {
					if !ignore {
						writePlist(t, root, bluetoothPlist, map[string]any{"ControllerPowerState": 0}, plist.BinaryFormat)
					}
				}},
				"/usr/bin/killall -HUP blued": {stdout: "No matching processes belonging to you were found\n", exit: 1},
			})
			p := New(root, macOS15, f)
			ev, err := p.Apply(context.Background(), posture.Change{Check: Bluetooth, Key: Bluetooth, From: "on", To: "off"})
			if ignore {
				if err == nil || !strings.Contains(err.Error(), "/Library/Preferences/com.apple.Bluetooth.plist has ControllerPowerState = 1") {
					t.Fatalf("Apply error = %v, want it to quote ControllerPowerState = 1", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			// managed (absent) + defaults + killall + managed again + prefs
			if len(ev) != 5 {
				t.Errorf("got %d evidence records, want 5: %+v", len(ev), ev)
			}
		})
	}
}

func TestApplyRefuses(t *testing.T) {
	root := emptyRoot(t)
	writePlist(t, root, managedBluetoothPlist, map[string]any{"DisableBluetooth": false}, plist.XMLFormat)
	tests := []struct {
		name    string
		os      host.OS
		ch      posture.Change
		wantErr error
	}{
		{"unknown key", macOS15, posture.Change{Key: "macos.airdrop", To: "off"}, nil},
		{"bad value", macOS15, posture.Change{Key: ScreenSharing, To: "maybe"}, nil},
		{"sip", macOS15, posture.Change{Key: SIP, To: "on"}, nil},
		{"linux", debian, posture.Change{Key: ScreenSharing, To: "off"}, nil},
		{"managed bluetooth", macOS15, posture.Change{Key: Bluetooth, To: "off"}, posture.ErrManagedByProfile},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, nil)
			_, err := New(root, tc.os, f).Apply(context.Background(), tc.ch)
			if err == nil {
				t.Fatalf("Apply(%+v) succeeded, want an error", tc.ch)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("Apply error = %v, want %v", err, tc.wantErr)
			}
			if len(f.calls) != 0 {
				t.Errorf("ran %v", f.calls)
			}
		})
	}
}

func TestApplyUnsetIsNotRestorable(t *testing.T) {
	p := New(host.Root{}, host.OS{Kind: host.MacOS, Major: 15}, nil)
	_, err := p.Apply(context.Background(), posture.Change{Check: FileSharing, Key: FileSharing, From: "off", To: "unset"})
	if !errors.Is(err, posture.ErrNotRestorable) {
		t.Errorf("Apply(to unset) = %v, want ErrNotRestorable and no command run", err)
	}
}
