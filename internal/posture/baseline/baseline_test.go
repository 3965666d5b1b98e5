package baseline

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDefault(t *testing.T) {
	b := Default()
	if b.Name != "cis-level1" || b.Source != "default" {
		t.Errorf("Default() name/source = %q/%q, want cis-level1/default", b.Name, b.Source)
	}
	for name, v := range map[string]*bool{"enabled": b.Firewall.Enabled, "stealth": b.Firewall.Stealth, "logging": b.Firewall.Logging, "sip": b.SIP} {
		if v == nil || !*v {
			t.Errorf("Default() %s = %v, want true", name, v)
		}
	}
	for name, v := range map[string]*bool{"remote_login": b.Services.RemoteLogin, "screen_sharing": b.Services.ScreenSharing,
		"file_sharing": b.Services.FileSharing, "remote_apple_events": b.Services.RemoteAppleEvents} {
		if v == nil || *v {
			t.Errorf("Default() services.%s = %v, want off", name, v)
		}
	}
	if b.Firewall.BlockAll != nil || b.Firewall.Apps != nil || b.Services.Bluetooth != nil {
		t.Error("Default() sets block_all, apps or bluetooth; CIS Level 1 does not ask for them")
	}
}

func TestParse(t *testing.T) {
	in := `name: corp
firewall:
  enabled: on
  block_all: false
  apps:
    allow: [/usr/libexec/remoted]
    block:
      - path: /Applications/Chat.app
        bundle_id: com.example.chat
    exclusive: true
services:
  remote_login: off
  bluetooth: no
sip: true
exemptions:
  - check: macos.remote_login
    reason: build hosts
    approved_by: ciso
    expires: 2027-06-30
`
	b, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	tr, fa := true, false
	want := &Baseline{
		Name: "corp",
		Firewall: Firewall{Enabled: &tr, BlockAll: &fa, Apps: &Apps{
			Allow:     []App{{Path: "/usr/libexec/remoted"}},
			Block:     []App{{Path: "/Applications/Chat.app", BundleID: "com.example.chat"}},
			Exclusive: true,
		}},
		Services:   Services{RemoteLogin: &fa, Bluetooth: &fa},
		SIP:        &tr,
		Exemptions: []Exemption{{Check: "macos.remote_login", Reason: "build hosts", ApprovedBy: "ciso", Expires: time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)}},
		Hash:       hashOf([]byte(in)),
	}
	if diff := cmp.Diff(want, b); diff != "" {
		t.Errorf("Parse() mismatch (-want +got):\n%s", diff)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "the baseline is empty"},
		{"firewall:\n  enabld: true\n", `line 2: unknown key "enabld" in firewall`},
		{"firewall:\n  enabled: maybe\n", `line 2: firewall.enabled must be true or false (on or off), not "maybe"`},
		{"firewall:\n  enabled: [1]\n", "line 2: firewall.enabled must be true or false (on or off), not a list"},
		{"sip: 1\n", `line 1: sip must be true or false`},
		{"name: a\nname: b\n", `line 2: key "name" appears twice`},
		{"firewall: [\n", "not valid YAML"},
		{"- a\n", "the baseline must be a mapping of keys"},
		{"firewall:\n  apps:\n    allow: [relative/app]\n", `line 3: firewall.apps.allow: "relative/app" is not an absolute path`},
		{"firewall:\n  apps:\n    allow: [/a]\n    block: [/a]\n", "/a is listed twice"},
		{"exemptions:\n  - check: alf.nope\n    reason: x\n    expires: 2027-01-01\n", `line 2: exemption: unknown check "alf.nope"`},
		{"exemptions:\n  - check: alf.enabled\n    expires: 2027-01-01\n", "line 2: exemption for alf.enabled: reason is required"},
		{"exemptions:\n  - check: alf.enabled\n    reason: x\n", "expires is required"},
		{"exemptions:\n  - check: alf.enabled\n    reason: x\n    expires: next year\n", `expires "next year" is not a date`},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) error = %v, want it to contain %q", tt.in, err, tt.want)
		}
	}
}

func TestExemptionActive(t *testing.T) {
	e := Exemption{Check: "alf.enabled", Reason: "x", Expires: time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)}
	tests := []struct {
		now  time.Time
		want bool
	}{
		{time.Date(2027, 6, 29, 12, 0, 0, 0, time.UTC), true},
		{time.Date(2027, 6, 30, 23, 59, 59, 0, time.UTC), true},
		{time.Date(2027, 7, 1, 0, 0, 0, 0, time.UTC), false},
	}
	for _, tt := range tests {
		if got := e.Active(tt.now); got != tt.want {
			t.Errorf("Active(%v) = %v, want %v", tt.now, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(DefaultYAML())
	f.Add([]byte("firewall:\n  apps:\n    allow: [/a]\nexemptions:\n  - check: alf.enabled\n    reason: r\n    expires: 2027-01-01\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Parse(data)
		var be *Error
		switch {
		case err == nil && b == nil:
			t.Errorf("Parse(%q) = nil, nil", data)
		case err != nil && !errors.As(err, &be):
			t.Errorf("Parse(%q) error %v is not a *baseline.Error", data, err)
		case err != nil && strings.Contains(err.Error(), "\n"):
			t.Errorf("Parse(%q) error %q spans lines; the CLI prints one", data, err)
		case err == nil:
			for _, id := range b.Checks() {
				if !IsCheckID(id) {
					t.Errorf("Parse(%q) includes unknown check %q", data, id)
				}
			}
		}
	})
}
