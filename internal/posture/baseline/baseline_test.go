package baseline

import (
	"errors"
	"net/netip"
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
	f.Add([]byte("exposure:\n  expect:\n    - {process: sshd, port: 22, scope: any}\n    - {port: 53, proto: udp, scope: lan}\n"))
	f.Add([]byte("exposure:\n  expect: &l [{process: a, scope: any}, *l]\n"))
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

func TestParseLinux(t *testing.T) {
	b, err := Parse([]byte(`linux:
  firewall:
    enabled: true
    stealth: on
    icmp_echo: false
    logging: true
    allowed:
      - {name: ssh, proto: tcp, port: 22}
      - {proto: udp, port: 60000-61000, from: [10.0.0.0/8, 2001:db8::1]}
  ssh:
    password_auth: off
    root_login: without-password
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Service{
		{Name: "ssh", Proto: "tcp", From: 22, To: 22, Line: 8},
		{Proto: "udp", From: 60000, To: 61000, Line: 9, Sources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::1/128")}},
	}
	if diff := cmp.Diff(want, b.Linux.Firewall.Allowed, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("Allowed (-want +got):\n%s", diff)
	}
	if got := b.Linux.SSH.RootLogin; got != "prohibit-password" {
		t.Errorf("RootLogin = %q, want prohibit-password", got)
	}
	wantIDs := []string{"linux.firewall.enabled", "linux.firewall.stealth", "linux.firewall.logging", "linux.firewall.allowed", "linux.ssh.password_auth", "linux.ssh.root_login"}
	if diff := cmp.Diff(wantIDs, b.Checks()); diff != "" {
		t.Errorf("Checks() (-want +got):\n%s", diff)
	}
	if got := want[1].String(); got != "60000-61000/udp from 10.0.0.0/8, 2001:db8::1/128" {
		t.Errorf("Service.String() = %q", got)
	}
}

func TestParseLinuxErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"linux:\n  firewall:\n    allowed: [{proto: sctp, port: 1}]\n", `line 3: linux.firewall.allowed: proto "sctp" is not tcp or udp`},
		{"linux:\n  firewall:\n    allowed: [{proto: tcp}]\n", "line 3: linux.firewall.allowed: port is required (a number such as 22, or a range such as 60000-61000)"},
		{"linux:\n  firewall:\n    allowed: [{proto: tcp, port: 70000}]\n", `line 3: linux.firewall.allowed: port "70000": not a port number from 1 to 65535`},
		{"linux:\n  firewall:\n    allowed: [{proto: tcp, port: 30-20}]\n", `line 3: linux.firewall.allowed: port "30-20": the range ends before it starts`},
		{"linux:\n  firewall:\n    allowed: [{proto: tcp, port: 22, from: 10.0.0.1/8}]\n", `line 3: linux.firewall.allowed.from: "10.0.0.1/8" has host bits set; write 10.0.0.0/8`},
		{"linux:\n  ssh:\n    root_login: maybe\n", `line 3: linux.ssh.root_login must be off, forced-commands-only, prohibit-password or on, not "maybe"`},
		{"linux:\n  firewall:\n    enable: true\n", `line 3: unknown key "enable" in linux.firewall; known keys: allowed, enabled, icmp_echo, logging, stealth`},
	} {
		_, err := Parse([]byte(tc.in))
		if err == nil || err.Error() != tc.want {
			t.Errorf("Parse(%q) error = %v, want %s", tc.in, err, tc.want)
		}
	}
}
