// Package macos holds the macOS hardening checks other than the Application Firewall: the sharing
// services (Remote Login, Screen Sharing, File Sharing, Remote Apple Events), System Integrity
// Protection and Bluetooth. It is a posture.Provider.
//
// It runs as few programs as it can: one `launchctl print-disabled system` serves all four
// services, `systemsetup -getremotelogin` runs only for Remote Login, `csrutil status` only for
// SIP, and Bluetooth is read from plist files without running anything. The commands, outputs and
// mSCP/CIS references it relies on are in ../shared/reference/alf.md §5–6.
package macos

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/posture"
	"github.com/firewarden/firewarden/internal/posture/baseline"
)

// Check IDs, in report order.
const (
	RemoteLogin       = "macos.remote_login"
	ScreenSharing     = "macos.screen_sharing"
	FileSharing       = "macos.file_sharing"
	RemoteAppleEvents = "macos.remote_apple_events"
	SIP               = "macos.sip"
	Bluetooth         = "macos.bluetooth"
)

// Programs, by their system paths (resolved under the root by the Runner).
const (
	launchctlPath   = "/bin/launchctl"
	systemsetupPath = "/usr/sbin/systemsetup"
	csrutilPath     = "/usr/bin/csrutil"
	defaultsPath    = "/usr/bin/defaults"
	killallPath     = "/usr/bin/killall"
)

// Launchd labels of the sharing services (mSCP rules system_settings_ssh_disable,
// _screen_sharing_disable, _smbd_disable, _rae_disable; reference §6).
const (
	labelSSHD          = "com.openssh.sshd"
	labelScreenSharing = "com.apple.screensharing"
	labelSMBD          = "com.apple.smbd"
	labelAEServer      = "com.apple.AEServer"
)

// fdaAdvice is what a person must do when systemsetup refuses to read or change a setting.
const fdaAdvice = "grant Full Disk Access to the program running firewarden (System Settings > Privacy & Security > Full Disk Access) or run as root"

// ErrFullDiskAccess marks a change that systemsetup refused because the program running
// firewarden lacks Full Disk Access (macOS 10.15 and later). Apply wraps it after the command,
// so the message reads "… systemsetup -f -setremotelogin off needs Full Disk Access: grant …".
var ErrFullDiskAccess = errors.New("needs Full Disk Access: " + fdaAdvice)

// Provider evaluates and fixes the macOS hardening checks. A Provider serves one run and is not
// safe for concurrent use: it caches the `launchctl print-disabled system` output between checks,
// and Apply drops that cache before it re-reads.
type Provider struct {
	root   host.Root
	os     host.OS
	run    host.Runner
	checks []check

	launchd *launchdRead // nil until the first service check asks
}

// check describes one check: how to read it and what the baseline wants of it.
type check struct {
	id    string
	title string
	want  func(*baseline.Baseline) *bool
	// words names the two states in Expected/Actual: "on"/"off" or "enabled"/"disabled".
	onWord, offWord string
	// CIS item numbers for macOS 13–15 and for 26 and later (reference §5; mSCP tahoe cites the
	// 26 column). No number is given before Ventura: the columns for 11 and 12 are empty there.
	cis13, cis26 string
	nist         []string                                     // 800-53r5, from the mSCP rule
	observe      func(*Provider, context.Context) observation // a method expression
	hint         func(want bool) string
}

// observation is what one read of a setting found.
type observation struct {
	on       bool   // the service (or SIP, or Bluetooth) is on; valid when failure == ""
	actual   string // shown as Result.Actual
	source   string
	detail   string
	failure  string // non-empty: the state could not be read; this is the Detail of an Error
	managed  bool   // a configuration profile sets it
	quote    string // the tool's own words the verdict rests on, for Apply errors
	evidence []posture.Evidence
}

// New returns a Provider reading the host at root, described by osinfo, running programs through
// run.
func New(root host.Root, osinfo host.OS, run host.Runner) *Provider {
	p := &Provider{root: root, os: osinfo, run: run}
	p.checks = []check{
		{
			id: RemoteLogin, title: "Remote Login (SSH)", onWord: "on", offWord: "off",
			want:  func(b *baseline.Baseline) *bool { return b.Services.RemoteLogin },
			cis13: "2.3.3.5", cis26: "2.3.3.4", nist: []string{"CM-7", "CM-7(1)", "AC-17"},
			observe: (*Provider).observeRemoteLogin,
			hint: func(want bool) string {
				return "set System Settings > General > Sharing > Remote Login " + onOff(want) +
					" (firewarden fix runs systemsetup, which needs Full Disk Access)"
			},
		},
		{
			id: ScreenSharing, title: "Screen Sharing", onWord: "on", offWord: "off",
			want:  func(b *baseline.Baseline) *bool { return b.Services.ScreenSharing },
			cis13: "2.3.3.2", cis26: "2.3.3.1", nist: []string{"AC-3", "AC-17"},
			observe: func(p *Provider, ctx context.Context) observation {
				return p.observeService(ctx, labelScreenSharing, true)
			},
			hint: func(want bool) string {
				return "set System Settings > General > Sharing > Screen Sharing " + onOff(want)
			},
		},
		{
			// 800-53r5 AC-3, AC-17: usnistgov/macos_security
			// rules/system_settings/system_settings_smbd_disable.yaml (tahoe era).
			id: FileSharing, title: "File Sharing (SMB)", onWord: "on", offWord: "off",
			want:  func(b *baseline.Baseline) *bool { return b.Services.FileSharing },
			cis13: "2.3.3.3", cis26: "2.3.3.2", nist: []string{"AC-3", "AC-17"},
			observe: func(p *Provider, ctx context.Context) observation {
				return p.observeService(ctx, labelSMBD, false)
			},
			hint: func(want bool) string {
				return "set System Settings > General > Sharing > File Sharing " + onOff(want)
			},
		},
		{
			id: RemoteAppleEvents, title: "Remote Apple Events", onWord: "on", offWord: "off",
			want:  func(b *baseline.Baseline) *bool { return b.Services.RemoteAppleEvents },
			cis13: "2.3.3.7", cis26: "2.3.3.6", nist: []string{"AC-3", "AC-17"},
			observe: func(p *Provider, ctx context.Context) observation {
				return p.observeService(ctx, labelAEServer, false)
			},
			hint: func(want bool) string {
				return "set System Settings > General > Sharing > Remote Apple Events " + onOff(want)
			},
		},
		{
			id: SIP, title: "System Integrity Protection", onWord: "enabled", offWord: "disabled",
			want:  func(b *baseline.Baseline) *bool { return b.SIP },
			cis13: "5.1.2", cis26: "5.1.2",
			nist:    []string{"AC-3", "AU-9", "AU-9(3)", "CM-5", "CM-5(6)", "SC-4", "SI-2", "SI-7"},
			observe: (*Provider).observeSIP,
			hint: func(want bool) string {
				if want {
					return "boot into Recovery, run `csrutil enable`, restart"
				}
				return "boot into Recovery, run `csrutil disable`, restart"
			},
		},
		{
			// Not a CIS item in the benchmarks of reference §5; mSCP os_bluetooth_disable.
			id: Bluetooth, title: "Bluetooth", onWord: "on", offWord: "off",
			want:    func(b *baseline.Baseline) *bool { return b.Services.Bluetooth },
			nist:    []string{"AC-18", "AC-18(3)", "SC-8"},
			observe: (*Provider).observeBluetooth,
			hint: func(want bool) string {
				return "turn Bluetooth " + onOff(want) + " in System Settings > Bluetooth"
			},
		},
	}
	return p
}

// IDs implements posture.Provider.
func (p *Provider) IDs() []string {
	ids := make([]string, len(p.checks))
	for i, c := range p.checks {
		ids[i] = c.id
	}
	return ids
}

// Evaluate implements posture.Provider: one Result per check that the baseline names and the
// request selects, in IDs order. On anything but macOS those results are NotApplicable and no
// program runs.
func (p *Provider) Evaluate(ctx context.Context, req posture.Request) []posture.Result {
	if req.Baseline == nil {
		return nil
	}
	var out []posture.Result
	for _, c := range p.checks {
		want := c.want(req.Baseline)
		if want == nil || !req.Wants(c.id) {
			continue
		}
		r := posture.Result{
			ID:       c.id,
			Title:    c.title,
			Expected: c.word(*want),
			Controls: p.controls(c),
			Fixable:  c.id != SIP,
			FixHint:  c.hint(*want),
		}
		if p.os.Kind != host.MacOS {
			r.Status = posture.NotApplicable
			r.Actual = "-"
			r.Source = "-"
			r.Fixable = false
			r.FixHint = ""
			r.Detail = "applies to macOS only; this host runs " + p.os.String()
			out = append(out, r)
			continue
		}
		obs := c.observe(p, ctx)
		r.Source = obs.source
		r.Evidence = obs.evidence
		r.Managed = obs.managed
		r.Detail = obs.detail
		switch {
		case obs.failure != "":
			r.Status = posture.Error
			r.Actual = "unknown"
			if obs.actual != "" {
				r.Actual = obs.actual
			}
			r.Detail = obs.failure
		case obs.on == *want:
			r.Status = posture.Pass
			if obs.managed {
				r.Status = posture.Managed
			}
			r.Actual = obs.actual
		default:
			r.Status = posture.Fail
			r.Actual = obs.actual
			if r.Detail == "" {
				r.Detail = obs.quote
			}
		}
		if obs.managed && c.id == Bluetooth {
			// A profile owns the setting; writing the plist underneath it changes nothing.
			r.Fixable = false
			r.FixHint = "change DisableBluetooth in your MDM profile"
		}
		req.Exempt(&r)
		out = append(out, r)
	}
	return out
}

// word names a wanted or found state the way this check shows it.
func (c check) word(on bool) string {
	if on {
		return c.onWord
	}
	return c.offWord
}

// controls lists the CIS item for this macOS version (when the benchmark has one) and the
// 800-53r5 controls.
func (p *Provider) controls(c check) []string {
	var out []string
	cis := ""
	switch {
	case p.os.Kind != host.MacOS:
	case p.os.Major >= 26:
		cis = c.cis26
	case p.os.Major >= 13:
		cis = c.cis13
	}
	if cis != "" {
		out = append(out, "CIS "+cis)
	}
	for _, n := range c.nist {
		out = append(out, "800-53r5 "+n)
	}
	return out
}

// lookup finds a check by ID.
func (p *Provider) lookup(id string) (check, bool) {
	for _, c := range p.checks {
		if c.id == id {
			return c, true
		}
	}
	return check{}, false
}

// Plan implements posture.Provider. Each failing result becomes one Change whose Key is the check
// ID, From the state found ("on"/"off"), To the state the baseline wants, and Commands exactly
// what Apply will run.
func (p *Provider) Plan(ctx context.Context, req posture.Request, failing []posture.Result) ([]posture.Change, error) {
	if req.Baseline == nil {
		return nil, errors.New("plan macOS checks: no baseline")
	}
	var changes []posture.Change
	for _, r := range failing {
		c, ok := p.lookup(r.ID)
		if !ok {
			return nil, fmt.Errorf("plan %s: not a macOS hardening check", r.ID)
		}
		if c.id == SIP {
			return nil, fmt.Errorf("plan %s: System Integrity Protection can only be changed from Recovery: %s", r.ID, c.hint(true))
		}
		if r.Managed {
			return nil, fmt.Errorf("plan %s: %w", r.ID, posture.ErrManagedByProfile)
		}
		want := c.want(req.Baseline)
		if want == nil {
			return nil, fmt.Errorf("plan %s: the baseline does not name it", r.ID)
		}
		from, ok := stateOf(r.Actual)
		if !ok {
			return nil, fmt.Errorf("plan %s: its current state is %q, so a fix could not be rolled back; resolve the error first", r.ID, r.Actual)
		}
		steps, err := stepsFor(c.id, *want)
		if err != nil {
			return nil, err
		}
		changes = append(changes, posture.Change{
			Check:    c.id,
			Key:      c.id,
			From:     from,
			To:       onOff(*want),
			Commands: cmds(steps),
			Weakens:  *want,
		})
	}
	return changes, nil
}

// stateOf maps a Result.Actual of a fixable check to the value a backup keeps: "on", "off", or
// "unset" for "not disabled" (no launchd override for a service mSCP wants explicitly disabled).
// A rollback cannot recreate "unset" (launchctl sets overrides, it cannot remove them), so it
// leaves such a service disabled rather than turning it on.
func stateOf(actual string) (string, bool) {
	switch actual {
	case "not disabled":
		return unset, true
	case "on":
		return "on", true
	case "off":
		return "off", true
	}
	return "", false
}

// unset is the backup value of a service that had no launchd override.
const unset = "unset"

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// step is one program run of a fix.
type step struct {
	cmd host.Cmd
	// mayFail: a non-zero exit is expected and harmless, e.g. `launchctl bootout` of a job that is
	// not loaded. The re-read decides whether the change took.
	mayFail bool
	// systemsetup: the output is checked for the Full Disk Access and administrator refusals,
	// whatever the exit status.
	systemsetup bool
}

func launchctl(args ...string) host.Cmd { return host.Cmd{Path: launchctlPath, Args: args} }

// stepsFor returns the program runs that set check id on or off. Sources: mSCP fixes and older
// CIS remediations quoted in reference §6.
func stepsFor(id string, on bool) ([]step, error) {
	verb := "disable"
	if on {
		verb = "enable"
	}
	service := func(label string) []step {
		s := []step{{cmd: launchctl(verb, "system/"+label)}}
		if !on {
			// Disabling only stops the next launch; bootout stops a running instance now.
			s = append(s, step{cmd: launchctl("bootout", "system/"+label), mayFail: true})
		}
		return s
	}
	switch id {
	case RemoteLogin:
		set := []string{"-setremotelogin", "on"}
		if !on {
			// -f: do not ask "Do you really want to turn remote login off?" (mSCP fix).
			set = []string{"-f", "-setremotelogin", "off"}
		}
		return []step{
			{cmd: host.Cmd{Path: systemsetupPath, Args: set}, systemsetup: true},
			{cmd: launchctl(verb, "system/"+labelSSHD)},
		}, nil
	case ScreenSharing:
		return service(labelScreenSharing), nil
	case FileSharing:
		return service(labelSMBD), nil
	case RemoteAppleEvents:
		return []step{
			{cmd: host.Cmd{Path: systemsetupPath, Args: []string{"-setremoteappleevents", onOff(on)}}, systemsetup: true},
			{cmd: launchctl(verb, "system/"+labelAEServer)},
		}, nil
	case Bluetooth:
		state := "0"
		if on {
			state = "1"
		}
		return []step{
			{cmd: host.Cmd{Path: defaultsPath, Args: []string{"write", "/Library/Preferences/com.apple.Bluetooth", "ControllerPowerState", "-int", state}}},
			// blued re-reads its preferences on SIGHUP (CIS 10.14–12 remediation, wazuh 18–21
			// yml). Not running (killall exits 1) is fine: the plist is what is checked.
			{cmd: host.Cmd{Path: killallPath, Args: []string{"-HUP", "blued"}}, mayFail: true},
		}, nil
	}
	return nil, fmt.Errorf("%s cannot be changed by firewarden", id)
}

func cmds(steps []step) []host.Cmd {
	out := make([]host.Cmd, len(steps))
	for i, s := range steps {
		out[i] = s.cmd
	}
	return out
}

// Validate implements posture.Validator: a known, changeable setting and a value it can take.
func (p *Provider) Validate(ch posture.Change) error {
	c, ok := p.lookup(ch.Key)
	switch {
	case !ok || ch.Check != ch.Key:
		return fmt.Errorf("%s is not a macOS hardening setting", ch.Key)
	case c.id == SIP:
		return fmt.Errorf("%s can only be changed from Recovery", ch.Key)
	case ch.To == unset:
		return fmt.Errorf("%s: %w", ch.Key, posture.ErrNotRestorable)
	case ch.To != "on" && ch.To != "off":
		return fmt.Errorf("%s: cannot set it to %q (want on or off)", ch.Key, ch.To)
	}
	return nil
}

// Apply implements posture.Provider. It derives the commands from Key and To (a Change read back
// from a backup carries no commands), runs them, then re-reads the setting with a fresh
// `launchctl print-disabled` and returns an error, quoting the tools, when the value did not take.
// The evidence covers every run and file read, the re-read included. It serves rollback too: To is
// "on" or "off" whichever the backup held.
func (p *Provider) Apply(ctx context.Context, ch posture.Change) ([]posture.Evidence, error) {
	c, ok := p.lookup(ch.Key)
	if !ok {
		return nil, fmt.Errorf("apply %s: not a macOS hardening setting", ch.Key)
	}
	if p.os.Kind != host.MacOS {
		return nil, fmt.Errorf("apply %s: applies to macOS only; this host runs %s", ch.Key, p.os)
	}
	var to bool
	switch ch.To {
	case "on":
		to = true
	case "off":
	case unset:
		return nil, fmt.Errorf("%s had no launchd override before the fix and launchctl cannot remove one, so it stays disabled, the safer state: %w", c.title, posture.ErrNotRestorable)
	default:
		return nil, fmt.Errorf("apply %s: cannot set it to %q (want on or off)", ch.Key, ch.To)
	}
	if c.id == SIP {
		return nil, fmt.Errorf("apply %s: System Integrity Protection can only be changed from Recovery: %s", ch.Key, c.hint(to))
	}
	var ev []posture.Evidence
	if c.id == Bluetooth {
		m := p.readManagedBluetooth()
		ev = append(ev, m.evidence)
		if m.failure == "" && m.present {
			return ev, fmt.Errorf("apply %s: DisableBluetooth is set by a profile: %w", ch.Key, posture.ErrManagedByProfile)
		}
	}
	steps, err := stepsFor(c.id, to)
	if err != nil {
		return ev, err
	}
	var said []string // what the writing tools printed, quoted when the re-read disagrees
	for _, s := range steps {
		res, err := p.run.Run(ctx, s.cmd)
		if len(res.Argv) == 0 {
			res.Argv = s.cmd.Argv()
		}
		ev = append(ev, posture.ExecEvidence(res))
		out := combined(res)
		if out != "" {
			said = append(said, fmt.Sprintf("%s printed %q", s.cmd, out))
		}
		if s.systemsetup {
			line, rerr := refusal([]byte(out))
			switch {
			case errors.Is(rerr, errSystemsetupFDA):
				return ev, fmt.Errorf("apply %s: %s %w (systemsetup said %q)", ch.Key, s.cmd, ErrFullDiskAccess, line)
			case errors.Is(rerr, errSystemsetupAdmin):
				return ev, fmt.Errorf("apply %s: %s needs administrator access: run firewarden as root (systemsetup said %q)", ch.Key, s.cmd, line)
			}
		}
		var exit *host.ExitError
		if err != nil && !(s.mayFail && errors.As(err, &exit)) {
			return ev, fmt.Errorf("apply %s: %w", ch.Key, err)
		}
	}

	p.launchd = nil // the write changed what launchctl prints
	obs := c.observe(p, ctx)
	ev = append(ev, obs.evidence...)
	if obs.failure != "" {
		return ev, fmt.Errorf("apply %s: re-reading after the change: %s", ch.Key, obs.failure)
	}
	if obs.on != to {
		msg := fmt.Sprintf("apply %s: %s is still %s after the change", ch.Key, c.title, obs.actual)
		if obs.quote != "" {
			msg += ": " + obs.quote
		}
		if len(said) > 0 {
			msg += " (" + strings.Join(said, "; ") + ")"
		}
		return ev, errors.New(msg)
	}
	return ev, nil
}

// combined is a run's stdout and stderr, trimmed, for quoting.
func combined(res host.Result) string {
	return strings.TrimSpace(strings.TrimSpace(string(res.Stdout)) + "\n" + strings.TrimSpace(string(res.Stderr)))
}

var (
	_ posture.Provider  = (*Provider)(nil)
	_ posture.Validator = (*Provider)(nil)
)
