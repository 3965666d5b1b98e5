package hosttest

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// MacState is everything the emulator knows about one Mac. It is plain data, serialised as JSON
// in the state file of a laid-out fake Mac (see Layout), so tests can build it, compare it and
// read it back after the real binary ran.
type MacState struct {
	// Version is the macOS ProductVersion, "14.6", "15.1", "26.0". It picks the output dialect of
	// socketfilterfw (legacy below 15, modern from 15), whether the ALF plist exists (below 15),
	// whether the logging flags exist (below 15.4) and the launchctl print-disabled format.
	Version string `json:"version"`

	// GlobalState is the ALF global state: 0 off, 1 on, 2 on and blocking all non-essential
	// incoming connections.
	GlobalState    int  `json:"global_state"`
	Stealth        bool `json:"stealth"`
	AllowSigned    bool `json:"allow_signed"`     // automatically allow built-in signed software
	AllowSignedApp bool `json:"allow_signed_app"` // automatically allow downloaded signed software

	// Logging and LoggingOpt ("throttled", "brief" or "detail"; empty means throttled) are
	// meaningful below 15 only: 15.0–15.3 refuse to change them, 15.4 removed the flags.
	Logging    bool   `json:"logging"`
	LoggingOpt string `json:"logging_opt,omitempty"`

	// Apps is the socketfilterfw application list, in insertion order.
	Apps []App `json:"apps,omitempty"`

	// Profile holds the managed values of an installed com.apple.security.firewall payload; nil
	// means no profile manages the firewall.
	Profile *FirewallProfile `json:"profile,omitempty"`

	// Launchd maps a launchd label in the system domain to its override, "enabled" or
	// "disabled". An absent label has no override; the services firewarden looks at
	// (com.openssh.sshd, com.apple.screensharing, com.apple.smbd, com.apple.AEServer) are off by
	// their own plists then. A service counts as loaded exactly when its override is "enabled".
	Launchd map[string]string `json:"launchd,omitempty"`

	// SIP is the System Integrity Protection status: "enabled", "disabled" or "custom"; empty
	// means enabled.
	SIP string `json:"sip,omitempty"`

	// BluetoothPower is ControllerPowerState in /Library/Preferences/com.apple.Bluetooth.plist;
	// nil means the key (and the file) is absent.
	BluetoothPower *int `json:"bluetooth_power,omitempty"`

	// NoFullDiskAccess makes the systemsetup setters fail the way they do when the calling
	// process lacks Full Disk Access.
	NoFullDiskAccess bool `json:"no_full_disk_access,omitempty"`

	// PF is the packet filter (pfctl); nil is pf as a Mac boots: not running, no anchors
	// loaded at runtime, no tables.
	PF *PFState `json:"pf,omitempty"`

	// PlatformUUID is the hardware UUID ioreg reports (IOPlatformUUID); empty means
	// DefaultPlatformUUID. Give each emulated Mac of a fleet test its own.
	PlatformUUID string `json:"platform_uuid,omitempty"`

	// Processes are the running processes that hold TCP or UDP sockets, for lsof, ps and
	// codesign (launchd's port 22 comes from Remote Login, see Mac.processes). The presets have
	// defaultProcesses.
	Processes []Process `json:"processes,omitempty"`

	// Calls is every program run, reads included, as argv with the system path first.
	Calls [][]string `json:"calls,omitempty"`
}

// App is one entry of the socketfilterfw application list.
type App struct {
	Path    string `json:"path"`
	Blocked bool   `json:"blocked"`
}

// FirewallProfile is the com.apple.security.firewall payload of a configuration profile. A nil
// field is a key the profile does not set. Key names and types follow Apple's device-management
// schema (mdm/profiles/com.apple.security.firewall.yaml, reference §3). Applications names
// bundle IDs, not paths, so it goes into the managed preferences file only; the socketfilterfw
// application list does not show it.
type FirewallProfile struct {
	EnableFirewall    *bool        `json:"enable_firewall,omitempty"`
	BlockAllIncoming  *bool        `json:"block_all_incoming,omitempty"`
	EnableStealthMode *bool        `json:"enable_stealth_mode,omitempty"`
	AllowSigned       *bool        `json:"allow_signed,omitempty"`
	AllowSignedApp    *bool        `json:"allow_signed_app,omitempty"`
	EnableLogging     *bool        `json:"enable_logging,omitempty"`
	LoggingOption     string       `json:"logging_option,omitempty"`
	Applications      []ProfileApp `json:"applications,omitempty"`
}

// ProfileApp is one entry of the payload's Applications array.
type ProfileApp struct {
	BundleID string `json:"bundle_id"`
	Allowed  bool   `json:"allowed"`
}

// Launchd override values.
const (
	overrideEnabled  = "enabled"
	overrideDisabled = "disabled"
)

// defaultApps is the application list of a fresh recent Mac: the default entries reported on a
// macOS VM in nix-darwin/nix-darwin#1705 (reference §1.4), without the sshd-session/sshd-auth
// entries that only newer OpenSSH builds have.
func defaultApps() []App {
	return []App{
		{Path: "/usr/libexec/remoted"},
		{Path: "/usr/bin/python3"},
		{Path: "/usr/bin/ruby"},
		{Path: "/usr/sbin/cupsd"},
		{Path: "/usr/libexec/sharingd"},
		{Path: "/usr/libexec/sshd-keygen-wrapper"},
		{Path: "/usr/sbin/smbd"},
	}
}

// Mac14 is an unmanaged macOS 14.6 (Sonoma) Mac as it comes out of the box: firewall off,
// stealth off, logging off, both "automatically allow signed" options on, SIP enabled, Bluetooth
// on. It speaks the legacy socketfilterfw dialect and has /Library/Preferences/com.apple.alf.plist.
func Mac14() MacState {
	return MacState{
		Version:        "14.6",
		AllowSigned:    true,
		AllowSignedApp: true,
		LoggingOpt:     "throttled",
		Apps:           defaultApps(),
		SIP:            "enabled",
		BluetoothPower: new(1),
		Processes:      defaultProcesses(),
	}
}

// Mac15 is an unmanaged macOS 15.1 (Sequoia) Mac: like Mac14 but with the modern socketfilterfw
// dialect and no ALF plist. Logging is off, as drduh/macOS-Security-and-Privacy-Guide#493
// observed on 15.1, and cannot be turned on from the command line.
func Mac15() MacState {
	st := Mac14()
	st.Version = "15.1"
	return st
}

// Mac154 is an unmanaged macOS 15.4 Mac, the first release without the socketfilterfw logging
// flags.
func Mac154() MacState {
	st := Mac15()
	st.Version = "15.4"
	return st
}

// Mac26 is an unmanaged macOS 26.0 (Tahoe) Mac. Its application list is the one captured in
// nix-darwin/nix-darwin#1705 (testdata/alf/socketfilterfw-listapps-newfmt-2026.txt), including
// the two blocked sshd entries.
func Mac26() MacState {
	st := Mac154()
	st.Version = "26.0"
	st.Apps = append([]App{
		{Path: "/usr/libexec/sshd-session", Blocked: true},
		{Path: "/usr/libexec/sshd-auth", Blocked: true},
	}, defaultApps()...)
	return st
}

// ManagedMac15 is Mac15 with a configuration profile that enables the firewall and stealth
// mode. The local settings stay off; socketfilterfw reports the profile's values and refuses
// every change.
func ManagedMac15() MacState {
	st := Mac15()
	st.Profile = &FirewallProfile{EnableFirewall: new(true), EnableStealthMode: new(true)}
	return st
}

// Writes returns the calls that change, or try to change, the Mac: socketfilterfw setters and
// --add/--remove/--blockapp/--unblockapp, defaults write and delete, systemsetup -set…,
// launchctl enable/disable/bootout, csrutil other than status, and killall. Attempts count even
// when the Mac refused them (a managed Mac, a removed flag), because a test of "check never
// writes" must see them.
func (s MacState) Writes() [][]string {
	var out [][]string
	for _, c := range s.Calls {
		if isWrite(c) {
			out = append(out, slices.Clone(c))
		}
	}
	return out
}

// clone is a deep copy, so that State hands out a value the caller may change freely.
func (s MacState) clone() MacState {
	c := s
	c.Apps = slices.Clone(s.Apps)
	if s.Profile != nil {
		p := *s.Profile
		p.EnableFirewall = cloneBool(p.EnableFirewall)
		p.BlockAllIncoming = cloneBool(p.BlockAllIncoming)
		p.EnableStealthMode = cloneBool(p.EnableStealthMode)
		p.AllowSigned = cloneBool(p.AllowSigned)
		p.AllowSignedApp = cloneBool(p.AllowSignedApp)
		p.EnableLogging = cloneBool(p.EnableLogging)
		p.Applications = slices.Clone(p.Applications)
		c.Profile = &p
	}
	c.Launchd = maps.Clone(s.Launchd)
	if s.Processes != nil {
		c.Processes = make([]Process, len(s.Processes))
		for i, p := range s.Processes {
			p.Sockets = slices.Clone(p.Sockets)
			c.Processes[i] = p
		}
	}
	c.PF = s.PF.clone()
	if s.BluetoothPower != nil {
		c.BluetoothPower = new(*s.BluetoothPower)
	}
	if s.Calls != nil {
		c.Calls = make([][]string, len(s.Calls))
		for i, call := range s.Calls {
			c.Calls[i] = slices.Clone(call)
		}
	}
	return c
}

func cloneBool(b *bool) *bool {
	if b == nil {
		return nil
	}
	return new(*b)
}

// validate rejects states the emulator cannot answer for, and returns the parsed version.
func (s MacState) validate() (version, error) {
	v, err := parseVersion(s.Version)
	if err != nil {
		return version{}, err
	}
	if s.GlobalState < 0 || s.GlobalState > 2 {
		return version{}, fmt.Errorf("global state %d: want 0, 1 or 2", s.GlobalState)
	}
	if _, ok := loggingOptionCode(s.LoggingOpt); !ok {
		return version{}, fmt.Errorf("logging option %q: want throttled, brief or detail", s.LoggingOpt)
	}
	if s.Profile != nil && s.Profile.LoggingOption != "" {
		if _, ok := loggingOptionCode(s.Profile.LoggingOption); !ok {
			return version{}, fmt.Errorf("profile logging option %q: want throttled, brief or detail", s.Profile.LoggingOption)
		}
	}
	switch s.SIP {
	case "", "enabled", "disabled", "custom":
	default:
		return version{}, fmt.Errorf("SIP status %q: want enabled, disabled or custom", s.SIP)
	}
	for label, o := range s.Launchd {
		if o != overrideEnabled && o != overrideDisabled {
			return version{}, fmt.Errorf("launchd override %q for %s: want enabled or disabled", o, label)
		}
	}
	if err := validateProcesses(s.Processes); err != nil {
		return version{}, err
	}
	return v, nil
}

// version is a parsed macOS ProductVersion.
type version struct {
	major, minor int
}

// parseVersion reads "15", "15.4" or "15.4.1"; the patch level never changes behaviour here.
func parseVersion(s string) (version, error) {
	parts := strings.Split(s, ".")
	if s == "" || len(parts) > 3 {
		return version{}, fmt.Errorf("macOS version %q: want major[.minor[.patch]]", s)
	}
	var nums [3]int
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return version{}, fmt.Errorf("macOS version %q: want major[.minor[.patch]]", s)
		}
		nums[i] = n
	}
	return version{major: nums[0], minor: nums[1]}, nil
}

// atLeast reports whether v is major.minor or later.
func (v version) atLeast(major, minor int) bool {
	if v.major != major {
		return v.major > major
	}
	return v.minor >= minor
}

// modern reports whether socketfilterfw speaks the macOS 15 dialect. The switch happened between
// 2023 (13/14, old wording) and the 15 betas (reference §1.6); the emulator puts it at 15.0.
func (v version) modern() bool { return v.atLeast(15, 0) }

// hasALFPlist reports whether /Library/Preferences/com.apple.alf.plist holds the live settings:
// Apple's macOS 15 release notes say it no longer does (reference §0).
func (v version) hasALFPlist() bool { return !v.modern() }

// hasLoggingFlags reports whether socketfilterfw still knows the logging flags: removed in 15.4
// (drduh PR #497, kolide/launcher PR #2193).
func (v version) hasLoggingFlags() bool { return !v.atLeast(15, 4) }

// loggingSettable reports whether --setloggingmode/--setloggingopt work: they fail on 15.0–15.3
// (drduh/macOS-Security-and-Privacy-Guide#493, macOS 15.1).
func (v version) loggingSettable() bool { return !v.modern() }

// loggingOptionCode maps a logging option to the loggingoption integer of the ALF plist. Only
// 2 = detail is implied by a source (CIS 12 expects 2); throttled 0 and brief 1 are a guess.
func loggingOptionCode(opt string) (int, bool) {
	switch opt {
	case "", "throttled":
		return 0, true
	case "brief":
		return 1, true
	case "detail":
		return 2, true
	}
	return 0, false
}

// alf is the firewall as socketfilterfw reports it: the local state overlaid with the profile.
type alf struct {
	globalState    int
	stealth        bool
	allowSigned    bool
	allowSignedApp bool
	logging        bool
	loggingOpt     string
}

// effective overlays the profile's keys on the local state. Where the profile leaves a key out
// the local value shows. (Apple documents that a missing AllowSigned/AllowSignedApp makes the
// system set it to true; the emulator keeps the local value instead, which is the simpler rule
// and what firewarden must cope with anyway.) Logging keys of a profile count below 15 only:
// Apple removed them from the payload in 15.0.
func (s MacState) effective(v version) alf {
	a := alf{
		globalState:    s.GlobalState,
		stealth:        s.Stealth,
		allowSigned:    s.AllowSigned,
		allowSignedApp: s.AllowSignedApp,
		logging:        s.Logging,
		loggingOpt:     s.LoggingOpt,
	}
	if a.loggingOpt == "" {
		a.loggingOpt = "throttled"
	}
	p := s.Profile
	if p == nil {
		return a
	}
	enabled, blockAll := s.GlobalState != 0, s.GlobalState == 2
	if p.EnableFirewall != nil {
		enabled = *p.EnableFirewall
	}
	if p.BlockAllIncoming != nil {
		blockAll = *p.BlockAllIncoming
	}
	switch {
	case !enabled:
		a.globalState = 0
	case blockAll:
		a.globalState = 2
	default:
		a.globalState = 1
	}
	if p.EnableStealthMode != nil {
		a.stealth = *p.EnableStealthMode
	}
	if p.AllowSigned != nil {
		a.allowSigned = *p.AllowSigned
	}
	if p.AllowSignedApp != nil {
		a.allowSignedApp = *p.AllowSignedApp
	}
	if !v.modern() {
		if p.EnableLogging != nil {
			a.logging = *p.EnableLogging
		}
		if p.LoggingOption != "" {
			a.loggingOpt = p.LoggingOption
		}
	}
	return a
}

// appIndex is the position of path in the application list, or -1.
func (s MacState) appIndex(path string) int {
	return slices.IndexFunc(s.Apps, func(a App) bool { return a.Path == path })
}
