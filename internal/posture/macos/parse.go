package macos

import (
	"errors"
	"fmt"
	"strings"
)

// parseDisabled reads `launchctl print-disabled system` and returns, for every label in its
// `disabled services = {` block, whether launchd holds the service disabled.
//
// Two dialects exist and both are read whatever the macOS version, because the word decides:
// Big Sur and Monterey print `"com.openssh.sshd" => true` (true means disabled), Ventura and
// later print `"com.openssh.sshd" => disabled` / `=> enabled` (usnistgov/macos_security issue
// #167, "Disabled launchctl reports incorrectly (Ventura)"; reference alf.md §6). Other blocks
// such as `login item associations = {` are skipped. A label that is absent has no override: the
// service keeps the Disabled key of its launchd plist.
//
// The parse is strict inside the block: a line that is not `"LABEL" => WORD` with a known word is
// an error, and so is output without the block or with the block cut off, because a guess here
// would turn "unknown" into "off".
func parseDisabled(out []byte) (map[string]bool, error) {
	var (
		labels  map[string]bool
		inBlock bool
		skip    int // depth inside a block that is not "disabled services"
	)
	for i, raw := range strings.Split(string(out), "\n") {
		line := strings.TrimSpace(raw)
		switch {
		case skip > 0:
			if strings.HasSuffix(line, "{") {
				skip++
			} else if line == "}" {
				skip--
			}
		case inBlock:
			if line == "" {
				continue
			}
			if line == "}" {
				inBlock = false
				continue
			}
			label, disabled, err := parseDisabledLine(line)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", i+1, err)
			}
			labels[label] = disabled
		case line == "disabled services = {":
			if labels != nil {
				return nil, fmt.Errorf("line %d: a second %q block", i+1, line)
			}
			labels = map[string]bool{}
			inBlock = true
		case strings.HasSuffix(line, "{"):
			skip = 1
		}
	}
	switch {
	case labels == nil:
		return nil, errors.New(`no "disabled services = {" block`)
	case inBlock:
		return nil, errors.New(`the "disabled services" block is not closed (output cut off?)`)
	}
	return labels, nil
}

// parseDisabledLine reads one `"LABEL" => WORD` line of the disabled-services block.
func parseDisabledLine(line string) (label string, disabled bool, err error) {
	rest, ok := strings.CutPrefix(line, `"`)
	if !ok {
		return "", false, fmt.Errorf("%q is not a quoted launchd label", line)
	}
	label, word, ok := strings.Cut(rest, `" => `)
	if !ok || label == "" {
		return "", false, fmt.Errorf(`%q is not "LABEL" => STATE`, line)
	}
	switch strings.TrimSpace(word) {
	case "disabled", "true":
		return label, true, nil
	case "enabled", "false":
		return label, false, nil
	}
	return "", false, fmt.Errorf("%q: unknown state %q (want disabled, enabled, true or false)", line, strings.TrimSpace(word))
}

// overrideLine returns the line of a print-disabled output that names label, trimmed, for quoting
// in details and errors; "" when there is none.
func overrideLine(out []byte, label string) string {
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, `"`+label+`" => `) {
			return l
		}
	}
	return ""
}

// sipStatus is what `csrutil status` printed.
type sipStatus struct {
	// Enabled is true only when the first line ends `status: enabled.`: a custom configuration
	// with some protections off is not enabled (munkireport/security sip_check; reference §6).
	Enabled bool
	// Status is the first line's value without the final period: "enabled", "disabled",
	// "unknown (Custom Configuration)".
	Status string
	// Disabled lists the protections the Configuration list reports as disabled, in its order.
	Disabled []string
}

// sipStatusPrefix starts the first line of `csrutil status`; samples in testdata/ (drduh
// macOS-Security-and-Privacy-Guide#172, asmvik/yabai#1800).
const sipStatusPrefix = "System Integrity Protection status: "

// parseCSRUtil reads `csrutil status`. The first non-empty line must be the status line; the
// optional `Configuration:` list that follows a custom configuration is read for the names of
// the protections that are off. Lines of that list that are not `Name: enabled|disabled` are
// ignored: they only explain, the verdict rests on the first line.
func parseCSRUtil(out []byte) (sipStatus, error) {
	lines := strings.Split(string(out), "\n")
	first := -1
	for i, l := range lines {
		if strings.TrimSpace(l) != "" {
			first = i
			break
		}
	}
	if first < 0 {
		return sipStatus{}, errors.New("empty output")
	}
	head := strings.TrimSpace(lines[first])
	value, ok := strings.CutPrefix(head, sipStatusPrefix)
	if !ok {
		return sipStatus{}, fmt.Errorf("first line %q does not start %q", head, sipStatusPrefix)
	}
	s := sipStatus{
		Enabled: value == "enabled.",
		Status:  strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(value), ".")),
	}
	if s.Status == "" {
		return sipStatus{}, fmt.Errorf("first line %q has no status", head)
	}
	inConfig := false
	for _, l := range lines[first+1:] {
		t := strings.TrimSpace(l)
		switch {
		case t == "Configuration:":
			inConfig = true
		case t == "":
			inConfig = false
		case inConfig:
			name, state, ok := strings.Cut(t, ": ")
			if ok && state == "disabled" && name != "" {
				s.Disabled = append(s.Disabled, name)
			}
		}
	}
	return s, nil
}

// Errors parseRemoteLogin returns when systemsetup refused to answer.
var (
	errSystemsetupFDA   = errors.New("systemsetup needs Full Disk Access")
	errSystemsetupAdmin = errors.New("systemsetup needs administrator access")
)

// Texts systemsetup prints when it refuses (reference §6): without Full Disk Access on 10.15+,
// `setremotelogin: Turning Remote Login on or off requires Full Disk Access privileges.`
// (logicnow/BlueSky#54) and the same for Remote Apple Events (jamf/CIS-for-macOS-Catalina-CP#5);
// without root, `You need administrator access to run this tool... exiting!`
// (rapid7/metasploit-framework#2302).
const (
	fdaText   = "requires Full Disk Access privileges"
	adminText = "You need administrator access to run this tool"
)

// refusal returns the line of systemsetup output that refuses for lack of Full Disk Access or of
// administrator rights, with the matching error; "" and nil when there is none.
func refusal(out []byte) (string, error) {
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.Contains(l, fdaText):
			return l, errSystemsetupFDA
		case strings.Contains(l, adminText):
			return l, errSystemsetupAdmin
		}
	}
	return "", nil
}

// parseRemoteLogin reads `systemsetup -getremotelogin`: `Remote Login: On` or `Remote Login: Off`
// (munkireport/security scripts/security.py; wazuh CIS rules match `Remote Login:\s*Off`). A
// refusal returns errSystemsetupFDA or errSystemsetupAdmin wrapped with the tool's line; anything
// else that is not exactly one On/Off answer is an error.
func parseRemoteLogin(out []byte) (on bool, err error) {
	if line, err := refusal(out); err != nil {
		return false, fmt.Errorf("%w: %s", err, line)
	}
	found := false
	for _, l := range strings.Split(string(out), "\n") {
		v, ok := strings.CutPrefix(strings.TrimSpace(l), "Remote Login:")
		if !ok {
			continue
		}
		var this bool
		switch strings.TrimSpace(v) {
		case "On":
			this = true
		case "Off":
			this = false
		default:
			return false, fmt.Errorf("unknown Remote Login state %q", strings.TrimSpace(v))
		}
		if found && this != on {
			return false, errors.New("both On and Off in the output")
		}
		on, found = this, true
	}
	if !found {
		return false, errors.New(`no "Remote Login: On|Off" line`)
	}
	return on, nil
}
