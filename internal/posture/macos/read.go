package macos

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"howett.net/plist"

	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/posture"
)

// launchdRead is one `launchctl print-disabled system` run and what it said.
type launchdRead struct {
	res      host.Result
	disabled map[string]bool // label → disabled; nil when failure is set
	failure  string
}

// evidence is the run as evidence.
func (l *launchdRead) evidence() []posture.Evidence {
	return []posture.Evidence{posture.ExecEvidence(l.res)}
}

// readLaunchd runs `launchctl print-disabled system` once per run and keeps the answer; all four
// service checks share it. Apply sets p.launchd to nil to force a fresh read.
func (p *Provider) readLaunchd(ctx context.Context) *launchdRead {
	if p.launchd != nil {
		return p.launchd
	}
	cmd := launchctl("print-disabled", "system")
	res, err := p.runCmd(ctx, cmd)
	l := &launchdRead{res: res}
	m, perr := parseDisabled(res.Stdout)
	switch {
	case perr == nil:
		// A non-zero exit with a complete block is still an answer.
		l.disabled = m
	case err != nil:
		l.failure = runFailure(cmd, res, err)
	default:
		l.failure = unparsed(cmd, res, perr)
	}
	p.launchd = l
	return l
}

// runCmd runs cmd and makes sure the Result names it, so that evidence does too even when the
// program never started.
func (p *Provider) runCmd(ctx context.Context, cmd host.Cmd) (host.Result, error) {
	res, err := p.run.Run(ctx, cmd)
	if len(res.Argv) == 0 {
		res.Argv = cmd.Argv()
	}
	return res, err
}

// runFailure describes a run that failed, with the raw output: a non-zero exit, a program that is
// not installed, a timeout.
func runFailure(cmd host.Cmd, res host.Result, err error) string {
	var exit *host.ExitError
	switch {
	case errors.Is(err, host.ErrNotInstalled):
		return fmt.Sprintf("%s is not installed on this host", cmd.Path)
	case errors.As(err, &exit):
		msg := fmt.Sprintf("%s exited with status %d", cmd, exit.Code)
		if out := combined(res); out != "" {
			msg += " and printed: " + out
		} else {
			msg += " and printed nothing"
		}
		return msg
	}
	msg := err.Error()
	if out := combined(res); out != "" {
		msg += "; it printed: " + out
	}
	return msg
}

// unparsed describes output that ran fine but could not be read, with the raw text.
func unparsed(cmd host.Cmd, res host.Result, perr error) string {
	msg := fmt.Sprintf("cannot read the output of %s (%v)", cmd, perr)
	if out := combined(res); out != "" {
		msg += ": " + out
	}
	if res.Truncated {
		msg += " (output was cut at the capture limit)"
	}
	return msg
}

// observeService reads a sharing service from launchd's overrides. absentIsOff says what a label
// without an override means: Screen Sharing and sshd ship disabled, so no override is off (mSCP
// passes them when nothing says enabled); for smbd and AEServer mSCP requires the explicit
// `=> disabled` override, so no override is "not disabled", which counts as on.
func (p *Provider) observeService(ctx context.Context, label string, absentIsOff bool) observation {
	l := p.readLaunchd(ctx)
	obs := observation{source: "launchctl", evidence: l.evidence()}
	if l.failure != "" {
		obs.failure = l.failure
		return obs
	}
	disabled, present := l.disabled[label]
	line := overrideLine(l.res.Stdout, label)
	switch {
	case present && disabled:
		obs.actual = "off"
		obs.quote = "launchctl print-disabled system shows " + line
	case present:
		obs.on, obs.actual = true, "on"
		obs.quote = "launchctl print-disabled system shows " + line
		obs.detail = fmt.Sprintf("launchd holds %s enabled (%s)", label, line)
	case absentIsOff:
		obs.actual = "off"
		obs.quote = fmt.Sprintf("launchctl print-disabled system has no override for %q", label)
		obs.detail = fmt.Sprintf("no launchd override for %s: it keeps its shipped default, disabled", label)
	default:
		obs.on, obs.actual = true, "not disabled"
		obs.quote = fmt.Sprintf("launchctl print-disabled system has no override for %q", label)
		obs.detail = fmt.Sprintf("launchctl print-disabled system has no %q => disabled override; the mSCP check requires one", label)
	}
	return obs
}

// observeRemoteLogin asks systemsetup and launchd. It is off only when systemsetup prints
// `Remote Login: Off` and launchd does not hold sshd enabled (mSCP checks launchd, CIS checks
// systemsetup; usnistgov/macos_security#509). When systemsetup refuses for lack of Full Disk
// Access or root, launchd alone decides if it holds an override.
func (p *Provider) observeRemoteLogin(ctx context.Context) observation {
	l := p.readLaunchd(ctx)
	cmd := host.Cmd{Path: systemsetupPath, Args: []string{"-getremotelogin"}}
	res, err := p.runCmd(ctx, cmd)
	obs := observation{
		source:   "systemsetup+launchctl",
		evidence: append([]posture.Evidence{posture.ExecEvidence(res)}, l.evidence()...),
	}
	out := []byte(string(res.Stdout) + "\n" + string(res.Stderr))
	on, perr := parseRemoteLogin(out)

	var disabled, present bool
	if l.failure == "" {
		disabled, present = l.disabled[labelSSHD]
	}
	line := overrideLine(l.res.Stdout, labelSSHD)

	switch {
	case errors.Is(perr, errSystemsetupFDA) || errors.Is(perr, errSystemsetupAdmin):
		said, _ := refusal(out)
		obs.source = "launchctl"
		switch {
		case present && disabled:
			obs.actual = "off"
		case present:
			obs.on, obs.actual = true, "on"
		default:
			// Neither can tell: no override means "the plist default", which systemsetup
			// would have had to confirm.
			obs.failure = fdaAdvice
			return obs
		}
		obs.quote = "launchctl print-disabled system shows " + line
		obs.detail = fmt.Sprintf("systemsetup refused (%q); decided from launchctl print-disabled system alone: %s", said, line)
	case perr != nil && err != nil:
		obs.failure = runFailure(cmd, res, err)
	case perr != nil:
		obs.failure = unparsed(cmd, res, perr)
	case on:
		obs.on, obs.actual = true, "on"
		obs.quote = `systemsetup -getremotelogin printed "Remote Login: On"`
	case l.failure != "":
		obs.failure = `systemsetup prints "Remote Login: Off" but launchd's overrides could not be read to confirm it: ` + l.failure
	case present && !disabled:
		obs.on, obs.actual = true, "on"
		obs.quote = `systemsetup -getremotelogin printed "Remote Login: Off" but launchctl print-disabled system shows ` + line
		obs.detail = fmt.Sprintf(`systemsetup prints "Remote Login: Off" but launchd holds %s enabled (%s), so sshd starts on demand`, labelSSHD, line)
	default:
		obs.actual = "off"
		obs.quote = `systemsetup -getremotelogin printed "Remote Login: Off"`
	}
	return obs
}

// observeSIP reads `csrutil status`. Only a first line ending `status: enabled.` is enabled; a
// custom configuration lists the protections that are off.
func (p *Provider) observeSIP(ctx context.Context) observation {
	cmd := host.Cmd{Path: csrutilPath, Args: []string{"status"}}
	res, err := p.runCmd(ctx, cmd)
	obs := observation{source: "csrutil", evidence: []posture.Evidence{posture.ExecEvidence(res)}}
	s, perr := parseCSRUtil(res.Stdout)
	switch {
	case perr != nil && err != nil:
		obs.failure = runFailure(cmd, res, err)
		return obs
	case perr != nil:
		obs.failure = unparsed(cmd, res, perr)
		return obs
	}
	obs.on = s.Enabled
	obs.actual = s.Status
	if !s.Enabled && s.Status == "enabled" {
		// "enabled" without its period: not the exact text mSCP and munkireport accept.
		obs.actual = "not exactly enabled"
	}
	obs.quote = fmt.Sprintf("csrutil status printed %q", strings.TrimSpace(strings.SplitN(strings.TrimSpace(string(res.Stdout)), "\n", 2)[0]))
	if len(s.Disabled) > 0 {
		off := strings.Join(s.Disabled, ", ")
		obs.actual += "; disabled: " + off
		obs.detail = "System Integrity Protection is partly off (custom configuration); disabled protections: " + off
	}
	return obs
}

// Bluetooth preference files. The profile payload com.apple.ManagedClient.preferences →
// com.apple.MCXBluetooth DisableBluetooth is what mSCP os_bluetooth_disable checks; the older
// CIS (10.14–12) reads ControllerPowerState from the system Bluetooth plist (reference §6).
const (
	managedBluetoothPlist = "/Library/Managed Preferences/com.apple.MCXBluetooth.plist"
	bluetoothPlist        = "/Library/Preferences/com.apple.Bluetooth.plist"
)

// plistRead is one plist file read: the key asked for, and whether the file and key exist.
type plistRead struct {
	present  bool // the file and the key exist and the file parsed
	value    any
	failure  string // unreadable or malformed file
	evidence posture.Evidence
}

// readPlistKey reads key from the plist (binary, XML or OpenStep) at the system path sys.
func (p *Provider) readPlistKey(sys, key string) plistRead {
	data, err := p.root.ReadFile(sys)
	r := plistRead{evidence: posture.FileEvidence(sys, data, err)}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.evidence.Content = "(absent)"
		return r
	case err != nil:
		r.failure = fmt.Sprintf("cannot read %s: %v", sys, err)
		return r
	}
	var m map[string]any
	if _, err := plist.Unmarshal(data, &m); err != nil {
		r.failure = fmt.Sprintf("%s is not a property list: %v", sys, err)
		return r
	}
	r.value, r.present = m[key]
	return r
}

// readManagedBluetooth reads DisableBluetooth from the managed preferences a profile installs.
func (p *Provider) readManagedBluetooth() plistRead {
	return p.readPlistKey(managedBluetoothPlist, "DisableBluetooth")
}

// observeBluetooth reads the profile first: when it sets DisableBluetooth the profile decides and
// the result is managed. Otherwise ControllerPowerState (0 off, 1 on) decides. No program runs.
func (p *Provider) observeBluetooth(_ context.Context) observation {
	m := p.readManagedBluetooth()
	obs := observation{source: "profile", evidence: []posture.Evidence{m.evidence}}
	if m.failure != "" {
		obs.failure = m.failure
		return obs
	}
	if m.present {
		off, ok := m.value.(bool)
		if !ok {
			obs.failure = fmt.Sprintf("%s: DisableBluetooth is %T %v, not a boolean", managedBluetoothPlist, m.value, m.value)
			return obs
		}
		obs.managed = true
		obs.on = !off
		obs.actual = onOff(obs.on)
		obs.quote = fmt.Sprintf("%s has DisableBluetooth = %t", managedBluetoothPlist, off)
		obs.detail = fmt.Sprintf("a configuration profile sets DisableBluetooth = %t", off)
		return obs
	}

	b := p.readPlistKey(bluetoothPlist, "ControllerPowerState")
	obs.source = "plist"
	obs.evidence = append(obs.evidence, b.evidence)
	switch {
	case b.failure != "":
		obs.failure = b.failure
		return obs
	case !b.present:
		obs.failure = fmt.Sprintf("no profile sets DisableBluetooth and %s has no ControllerPowerState key (or is absent), so the Bluetooth power state is unknown; turn Bluetooth on and off once in System Settings to record it, or let firewarden fix write it", bluetoothPlist)
		return obs
	}
	var n int64
	switch v := b.value.(type) {
	case uint64:
		n = int64(v)
	case int64:
		n = v
	default:
		obs.failure = fmt.Sprintf("%s: ControllerPowerState is %T %v, not an integer", bluetoothPlist, b.value, b.value)
		return obs
	}
	switch n {
	case 0:
		obs.actual = "off"
	case 1:
		obs.on, obs.actual = true, "on"
	default:
		obs.failure = fmt.Sprintf("%s: ControllerPowerState is %d; only 0 (off) and 1 (on) are known", bluetoothPlist, n)
		return obs
	}
	obs.quote = fmt.Sprintf("%s has ControllerPowerState = %d", bluetoothPlist, n)
	return obs
}
