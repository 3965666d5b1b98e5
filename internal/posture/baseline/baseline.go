// Package baseline is the organisation's promise: which posture checks apply, the values they
// want, and the exemptions granted. It parses the YAML a person writes, strictly, with errors that
// name the line.
package baseline

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"time"
)

// Baseline is a parsed baseline file. A nil pointer field means "not part of this baseline": the
// matching check is not run at all.
type Baseline struct {
	Name     string
	Firewall Firewall
	Services Services
	SIP      *bool
	Linux    Linux
	// Exposure is the exposure section; nil when the baseline has none (the exposure checks
	// then report that they have no expectations to judge by).
	Exposure   *Exposure
	Exemptions []Exemption

	// Source is where the baseline came from ("default" or a file path); Hash is the SHA-256 of
	// its bytes, which evidence records carry so an auditor can tie a verdict to the exact file.
	Source string
	Hash   string
}

// Firewall holds the Application Firewall (or host firewall) wants.
type Firewall struct {
	Enabled               *bool // alf.enabled: global state on (1 or 2)
	BlockAll              *bool // alf.block_all: block all incoming except essential services
	Stealth               *bool // alf.stealth
	Logging               *bool // alf.logging (macOS 14 and earlier; always on since 15)
	AllowSigned           *bool // alf.allow_signed: auto-allow built-in signed software
	AllowDownloadedSigned *bool // alf.allow_downloaded_signed: auto-allow downloaded signed software
	Apps                  *Apps // alf.apps
}

// Apps lists application exceptions. With Exclusive, any listed application not named here is
// a finding and fix removes it.
type Apps struct {
	Allow     []App
	Block     []App
	Exclusive bool
}

// App is one application exception. Path is what socketfilterfw knows; BundleID is what a
// configuration profile needs (the firewall payload names apps by bundle identifier).
type App struct {
	Path     string
	BundleID string
}

// Services holds the wanted state of sharing services: true on, false off.
type Services struct {
	RemoteLogin       *bool // macos.remote_login
	ScreenSharing     *bool // macos.screen_sharing
	FileSharing       *bool // macos.file_sharing
	RemoteAppleEvents *bool // macos.remote_apple_events
	Bluetooth         *bool // macos.bluetooth
}

// Exemption excuses one check until the end of its expiry day (UTC).
type Exemption struct {
	Check      string    `json:"check"`
	Reason     string    `json:"reason"`
	Expires    time.Time `json:"expires"` // midnight UTC at the start of the expiry day
	ApprovedBy string    `json:"approved_by,omitempty"`
}

// Active reports whether the exemption still applies at now: through the whole expiry day, UTC.
func (e Exemption) Active(now time.Time) bool {
	return now.UTC().Before(e.Expires.AddDate(0, 0, 1))
}

// ExemptionFor returns the exemption for check that is active at now, if any.
func (b *Baseline) ExemptionFor(check string, now time.Time) (Exemption, bool) {
	for _, e := range b.Exemptions {
		if e.Check == check && e.Active(now) {
			return e, true
		}
	}
	return Exemption{}, false
}

// Checks lists the IDs of the checks the baseline includes (those whose wanted value it sets).
func (b *Baseline) Checks() []string {
	f, s := b.Firewall, b.Services
	var ids []string
	for _, c := range []struct {
		id  string
		set bool
	}{
		{"alf.enabled", f.Enabled != nil}, {"alf.block_all", f.BlockAll != nil}, {"alf.stealth", f.Stealth != nil},
		{"alf.logging", f.Logging != nil}, {"alf.allow_signed", f.AllowSigned != nil},
		{"alf.allow_downloaded_signed", f.AllowDownloadedSigned != nil}, {"alf.apps", f.Apps != nil},
		{"macos.remote_login", s.RemoteLogin != nil}, {"macos.screen_sharing", s.ScreenSharing != nil},
		{"macos.file_sharing", s.FileSharing != nil}, {"macos.remote_apple_events", s.RemoteAppleEvents != nil},
		{"macos.sip", b.SIP != nil}, {"macos.bluetooth", s.Bluetooth != nil},
		{"linux.firewall.enabled", b.Linux.Firewall.Enabled != nil}, {"linux.firewall.stealth", b.Linux.Firewall.Stealth != nil},
		{"linux.firewall.logging", b.Linux.Firewall.Logging != nil}, {"linux.firewall.allowed", b.Linux.Firewall.Allowed != nil},
		{"linux.ssh.password_auth", b.Linux.SSH.PasswordAuth != nil}, {"linux.ssh.root_login", b.Linux.SSH.RootLogin != ""},
		{"exposure.unexpected", b.Exposure != nil}, {"exposure.too_wide", b.Exposure != nil},
	} {
		if c.set {
			ids = append(ids, c.id)
		}
	}
	return ids
}

// Includes reports whether the baseline includes check id.
func (b *Baseline) Includes(id string) bool {
	for _, c := range b.Checks() {
		if c == id {
			return true
		}
	}
	return false
}

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML is the default baseline as firewarden prints it: CIS Level 1 for the firewall and
// the sharing services.
func DefaultYAML() []byte { return append([]byte(nil), defaultYAML...) }

// Default parses the default baseline.
func Default() *Baseline {
	b, err := Parse(defaultYAML)
	if err != nil {
		panic("default baseline does not parse: " + err.Error())
	}
	b.Source = "default"
	return b
}

func hashOf(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
