package hosttest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"howett.net/plist"

	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/host/hosttest"
)

func TestLayout(t *testing.T) {
	tests := []struct {
		name      string
		st        hosttest.MacState
		wantMajor int
		wantALF   bool
	}{
		{"14", hosttest.Mac14(), 14, true},
		{"15", hosttest.Mac15(), 15, false},
		{"15.4", hosttest.Mac154(), 15, false},
		{"26", hosttest.Mac26(), 26, false},
		{"managed 15", hosttest.ManagedMac15(), 15, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := hosttest.Layout(dir, tt.st, ""); err != nil {
				t.Fatalf("Layout(%s) = %v", tt.st.Version, err)
			}
			root, err := host.NewRoot(dir)
			if err != nil {
				t.Fatal(err)
			}
			osi, err := host.Detect(root)
			if err != nil {
				t.Fatalf("Detect() = %v", err)
			}
			if osi.Kind != host.MacOS || osi.Version != tt.st.Version || osi.Major != tt.wantMajor || osi.Build == "" {
				t.Errorf("Detect() = %+v, want macOS %s", osi, tt.st.Version)
			}
			if got := root.Exists("/Library/Preferences/com.apple.alf.plist"); got != tt.wantALF {
				t.Errorf("ALF plist exists = %v, want %v", got, tt.wantALF)
			}
			if got, want := root.Exists("/Library/Managed Preferences/com.apple.security.firewall.plist"), tt.st.Profile != nil; got != want {
				t.Errorf("managed firewall plist exists = %v, want %v", got, want)
			}
			if data, err := root.ReadFile("/etc/hostname"); err != nil || string(data) != "fakemac\n" {
				t.Errorf("/etc/hostname = %q, %v; want fakemac", data, err)
			}
			got, err := hosttest.LoadState(dir)
			if err != nil {
				t.Fatalf("LoadState() = %v", err)
			}
			if diff := cmp.Diff(tt.st, got); diff != "" {
				t.Errorf("LoadState() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLayoutProfilePlist(t *testing.T) {
	st := with(hosttest.Mac14(), func(s *hosttest.MacState) {
		s.Profile = &hosttest.FirewallProfile{
			EnableFirewall:    new(true),
			BlockAllIncoming:  new(false),
			EnableStealthMode: new(true),
			EnableLogging:     new(true),
			LoggingOption:     "detail",
			Applications:      []hosttest.ProfileApp{{BundleID: "com.example.app", Allowed: true}},
		}
	})
	dir := t.TempDir()
	if err := hosttest.Layout(dir, st, ""); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "Library/Managed Preferences/com.apple.security.firewall.plist"))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	format, err := plist.Unmarshal(data, &got)
	if err != nil || format != plist.XMLFormat {
		t.Fatalf("profile plist: format %d, %v; want XML", format, err)
	}
	want := map[string]any{
		"EnableFirewall": true, "BlockAllIncoming": false, "EnableStealthMode": true, "EnableLogging": true,
		"LoggingOption": "detail",
		"Applications":  []any{map[string]any{"BundleID": "com.example.app", "Allowed": true}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("profile plist (-want +got):\n%s", diff)
	}
}

func TestLayoutAgainReplacesStaleFiles(t *testing.T) {
	dir := t.TempDir()
	if err := hosttest.Layout(dir, with(hosttest.Mac14(), func(s *hosttest.MacState) { s.Profile = hosttest.ManagedMac15().Profile }), ""); err != nil {
		t.Fatal(err)
	}
	if err := hosttest.Layout(dir, with(hosttest.Mac26(), func(s *hosttest.MacState) { s.BluetoothPower = nil }), ""); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"Library/Preferences/com.apple.alf.plist", "Library/Managed Preferences/com.apple.security.firewall.plist", "Library/Preferences/com.apple.Bluetooth.plist"} {
		if _, err := os.Stat(filepath.Join(dir, p)); !os.IsNotExist(err) {
			t.Errorf("%s after laying out 26 over 14: %v, want it gone", p, err)
		}
	}
}

func TestLayoutRejects(t *testing.T) {
	tests := []struct {
		name string
		dir  string
		st   hosttest.MacState
	}{
		{"system root", "/", hosttest.Mac15()},
		{"bad version", t.TempDir(), with(hosttest.Mac15(), func(s *hosttest.MacState) { s.Version = "fifteen" })},
		{"bad global state", t.TempDir(), with(hosttest.Mac15(), func(s *hosttest.MacState) { s.GlobalState = 3 })},
		{"bad override", t.TempDir(), with(hosttest.Mac15(), func(s *hosttest.MacState) { s.Launchd = map[string]string{"com.openssh.sshd": "on"} })},
		{"bad SIP", t.TempDir(), with(hosttest.Mac15(), func(s *hosttest.MacState) { s.SIP = "off" })},
	}
	for _, tt := range tests {
		if err := hosttest.Layout(tt.dir, tt.st, ""); err == nil {
			t.Errorf("Layout(%s) = nil, want an error", tt.name)
		}
	}
	if _, err := hosttest.LoadState(t.TempDir()); err == nil {
		t.Errorf("LoadState(empty dir) = nil error, want one")
	}
}
