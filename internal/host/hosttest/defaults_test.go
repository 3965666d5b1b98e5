package hosttest_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"howett.net/plist"

	"github.com/firewarden/firewarden/internal/host/hosttest"
)

func TestDefaultsWriteReadRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		write []string // value arguments after the key
		want  string
	}{
		{"int", []string{"-int", "2"}, "2\n"},
		{"integer", []string{"-integer", "0"}, "0\n"},
		{"bool true", []string{"-bool", "true"}, "1\n"},
		{"boolean NO", []string{"-boolean", "NO"}, "0\n"},
		{"string", []string{"-string", "detail"}, "detail\n"},
		{"bare value is a string", []string{"hello world"}, "hello world\n"},
		{"float", []string{"-float", "0.5"}, "0.5\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMac(t, hosttest.Mac15())
			const domain = "/Library/Preferences/com.example.test"
			if res := run(t, m, defaults, append([]string{"write", domain, "key"}, tt.write...)...); res.ExitCode != 0 || len(res.Stdout)+len(res.Stderr) != 0 {
				t.Fatalf("defaults write %s = exit %d %q %q, want silent success", strings.Join(tt.write, " "), res.ExitCode, res.Stdout, res.Stderr)
			}
			res := run(t, m, defaults, "read", domain, "key")
			if got := string(res.Stdout); got != tt.want || res.ExitCode != 0 {
				t.Errorf("defaults read after write %s = exit %d %q, want 0 %q", strings.Join(tt.write, " "), res.ExitCode, got, tt.want)
			}
		})
	}
}

func TestDefaultsReadMissing(t *testing.T) {
	// testdata/alf/defaults-read-missing-key.txt, after the prompt and sudo's password prompt:
	// a timestamp line with a trailing space, then the message.
	captured := strings.SplitN(fixture(t, "defaults-read-missing-key.txt"), "\n", 3)[2]
	stamp := regexp.MustCompile(`defaults\[\d+:\d+\] `)
	norm := func(s string) string { return stamp.ReplaceAllString(s, "defaults[PID:TID] ") }

	m := newMac(t, hosttest.Mac14())
	res := run(t, m, defaults, "read", "com.apple.NetworkBrowser", "DisableAirDrop")
	if diff := cmp.Diff(norm(captured), norm(string(res.Stderr))); diff != "" {
		t.Errorf("defaults read of a missing domain, stderr (-want +got):\n%s", diff)
	}
	if res.ExitCode != 1 || len(res.Stdout) != 0 {
		t.Errorf("defaults read of a missing domain = exit %d stdout %q, want 1 and nothing", res.ExitCode, res.Stdout)
	}

	tests := []struct {
		name   string
		st     hosttest.MacState
		domain string
		key    string
	}{
		{"missing key in the ALF plist", hosttest.Mac14(), "/Library/Preferences/com.apple.alf", "nosuchkey"},
		{"ALF plist gone on 15", hosttest.Mac15(), "/Library/Preferences/com.apple.alf", "globalstate"},
		{"ALF plist gone on 26", hosttest.Mac26(), "/Library/Preferences/com.apple.alf", "stealthenabled"},
		{"bare domain is root's, not the system ALF plist", hosttest.Mac14(), "com.apple.alf", "globalstate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMac(t, tt.st)
			res := run(t, m, defaults, "read", tt.domain, tt.key)
			lines := strings.Split(string(res.Stderr), "\n")
			want := "The domain/default pair of (" + tt.domain + ", " + tt.key + ") does not exist"
			if res.ExitCode != 1 || len(lines) != 3 || lines[1] != want || !strings.HasPrefix(lines[0], "2016-05-18 09:28:12.188 defaults[") {
				t.Errorf("defaults read %s %s = exit %d stderr %q, want 1 and a stamp line then %q", tt.domain, tt.key, res.ExitCode, res.Stderr, want)
			}
		})
	}
}

// TestDefaultsTamperingLeavesSocketfilterfw models `defaults write com.apple.alf globalstate`
// on macOS 14: the file changes, the live firewall does not, and the next socketfilterfw change
// rewrites the file from the live settings.
func TestDefaultsTamperingLeavesSocketfilterfw(t *testing.T) {
	const alf = "/Library/Preferences/com.apple.alf"
	m := newMac(t, with(hosttest.Mac14(), func(s *hosttest.MacState) { s.GlobalState = 1 }))
	steps := []struct {
		path string
		args []string
		want string
	}{
		{defaults, []string{"read", alf, "globalstate"}, "1\n"},
		{defaults, []string{"write", alf, "globalstate", "-int", "0"}, ""},
		{defaults, []string{"read", alf, "globalstate"}, "0\n"},
		{sfw, []string{"--getglobalstate"}, "Firewall is enabled. (State = 1)\n"},
		{sfw, []string{"--setstealthmode", "on"}, "Stealth mode enabled\n"},
		{defaults, []string{"read", alf, "globalstate"}, "1\n"},
		{defaults, []string{"read", alf, "stealthenabled"}, "1\n"},
	}
	for _, s := range steps {
		res := run(t, m, s.path, s.args...)
		if got := string(res.Stdout); got != s.want || res.ExitCode != 0 {
			t.Errorf("%s %s = exit %d %q, want 0 %q", s.path, strings.Join(s.args, " "), res.ExitCode, got, s.want)
		}
	}
	if got := m.State().GlobalState; got != 1 {
		t.Errorf("GlobalState after tampering = %d, want 1", got)
	}
}

func TestDefaultsReadDomainAndManagedPreferences(t *testing.T) {
	m := newMac(t, hosttest.ManagedMac15())
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"read", "/Library/Preferences/com.apple.Bluetooth"}, "{\n    ControllerPowerState = 1;\n}\n"},
		{[]string{"read", "/Library/Managed Preferences/com.apple.security.firewall", "EnableFirewall"}, "1\n"},
		{[]string{"read", "/Library/Managed Preferences/com.apple.security.firewall.plist", "EnableStealthMode"}, "1\n"},
	}
	for _, tt := range tests {
		res := run(t, m, defaults, tt.args...)
		if got := string(res.Stdout); got != tt.want {
			t.Errorf("defaults %s = %q, want %q", strings.Join(tt.args, " "), got, tt.want)
		}
	}
}

func TestDefaultsBluetoothIsLive(t *testing.T) {
	const bt = "/Library/Preferences/com.apple.Bluetooth"
	m := newMac(t, hosttest.Mac14())
	run(t, m, defaults, "write", bt, "ControllerPowerState", "-int", "0")
	run(t, m, killall, "-HUP", "blued")
	if got := m.State().BluetoothPower; got == nil || *got != 0 {
		t.Errorf("BluetoothPower after defaults write 0 = %v, want 0", got)
	}
	run(t, m, defaults, "delete", bt, "ControllerPowerState")
	if got := m.State().BluetoothPower; got != nil {
		t.Errorf("BluetoothPower after defaults delete = %d, want nil", *got)
	}
	res := run(t, m, defaults, "delete", bt, "ControllerPowerState")
	if res.ExitCode != 1 {
		t.Errorf("second defaults delete = exit %d, want 1", res.ExitCode)
	}
}

// TestALFPlistMirrorsSocketfilterfw checks the binary plist socketfilterfw keeps below macOS 15,
// and that there is none from 15 on.
func TestALFPlistMirrorsSocketfilterfw(t *testing.T) {
	read := func(t *testing.T, root string) (map[string]any, bool) {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(root, "Library/Preferences/com.apple.alf.plist"))
		if os.IsNotExist(err) {
			return nil, false
		}
		if err != nil {
			t.Fatal(err)
		}
		var d map[string]any
		format, err := plist.Unmarshal(data, &d)
		if err != nil || format != plist.BinaryFormat {
			t.Fatalf("ALF plist: format %d, error %v; want a binary plist", format, err)
		}
		return d, true
	}

	root := t.TempDir()
	m, err := hosttest.NewMac(root, hosttest.Mac14())
	if err != nil {
		t.Fatal(err)
	}
	run(t, m, sfw, "--setglobalstate", "on", "--setstealthmode", "on", "--setallowsignedapp", "off", "--setloggingmode", "on", "--setloggingopt", "detail")
	got, exists := read(t, root)
	want := map[string]any{
		"globalstate": uint64(1), "stealthenabled": uint64(1), "loggingenabled": uint64(1), "loggingoption": uint64(2),
		"allowsignedenabled": uint64(1), "allowdownloadsignedenabled": uint64(0), "version": "1.6", "applications": []any{},
	}
	if diff := cmp.Diff(want, got); !exists || diff != "" {
		t.Errorf("ALF plist after socketfilterfw changes (-want +got):\n%s", diff)
	}

	for _, st := range []hosttest.MacState{hosttest.Mac15(), hosttest.Mac154(), hosttest.Mac26()} {
		root := t.TempDir()
		m, err := hosttest.NewMac(root, st)
		if err != nil {
			t.Fatal(err)
		}
		run(t, m, sfw, "--setglobalstate", "on")
		if _, exists := read(t, root); exists {
			t.Errorf("macOS %s: ALF plist exists, want none", st.Version)
		}
	}
}
