package alf

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"howett.net/plist"
)

func TestParsePlist(t *testing.T) {
	binary, err := plist.Marshal(map[string]any{"globalstate": 2, "stealthenabled": 1, "loggingenabled": 1, "loggingoption": 2}, plist.BinaryFormat)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		want PlistState
	}{
		{"osquery test_alf.plist", readTestdata(t, "alf-plist-osquery-test_alf.plist"), PlistState{
			GlobalState: ptr(0), Stealth: ptr(0), Logging: ptr(0), LoggingOption: ptr(0), AllowSigned: ptr(1)}},
		{"osquery nested path (allowdownloadsignedenabled)", readTestdata(t, "alf-plist-osquery-test_alf_nested_path.converted.xml.plist"), PlistState{
			GlobalState: ptr(1), Stealth: ptr(0), Logging: ptr(1), LoggingOption: ptr(0), AllowSigned: ptr(1), AllowSignedApp: ptr(1)}},
		{"binary plist", binary, PlistState{GlobalState: ptr(2), Stealth: ptr(1), Logging: ptr(1), LoggingOption: ptr(2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePlist(tt.data)
			if err != nil {
				t.Fatalf("ParsePlist() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParsePlist() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParsePlistErrors(t *testing.T) {
	for _, in := range []string{"not a plist", `<plist><dict><key>globalstate</key><string>on</string></dict></plist>`} {
		if _, err := ParsePlist([]byte(in)); err == nil {
			t.Errorf("ParsePlist(%q) = nil error, want one", in)
		}
	}
}

// The payload keys and types follow apple/device-management com.apple.security.firewall.yaml; the
// 0/1 integers are how the macOS 15 System Information view shows them (fleetdm/fleet#21802).
func TestParseProfile(t *testing.T) {
	xml := `<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
<key>EnableFirewall</key><true/>
<key>EnableStealthMode</key><integer>0</integer>
<key>AllowSigned</key><true/>
<key>LoggingOption</key><string>detail</string>
<key>Applications</key><array><dict><key>BundleID</key><string>com.example.chat</string><key>Allowed</key><false/></dict></array>
</dict></plist>`
	got, err := ParseProfile([]byte(xml))
	if err != nil {
		t.Fatal(err)
	}
	want := Profile{Present: true, EnableFirewall: ptr(true), EnableStealth: ptr(false), AllowSigned: ptr(true),
		LoggingOption: ptr("detail"), Applications: []ProfileApp{{"com.example.chat", false}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseProfile() mismatch (-want +got):\n%s", diff)
	}
	if _, err := ParseProfile([]byte(`<plist><dict><key>EnableFirewall</key><string>yes</string></dict></plist>`)); err == nil {
		t.Error("ParseProfile(string EnableFirewall) = nil error, want one")
	}
}

func FuzzParsePlist(f *testing.F) {
	f.Add(readTestdata(f, "alf-plist-osquery-test_alf.plist"))
	f.Add(readTestdata(f, "alf-plist-osquery-test_alf_nested_path.converted.xml.plist"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ParsePlist(data)
		ParseProfile(data)
	})
}
