package hosttest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Launchd labels of the sharing services firewarden checks (reference §6).
const (
	labelSSH           = "com.openssh.sshd"
	labelScreenSharing = "com.apple.screensharing"
	labelSMB           = "com.apple.smbd"
	labelAppleEvents   = "com.apple.AEServer"
)

// systemsetup emulates the remote login and remote Apple events getters and setters.
//
//	systemsetup -getremotelogin            → "Remote Login: On|Off" (reference §6)
//	systemsetup [-f] -setremotelogin on|off → prints nothing (SYNTHETIC), sets the override
//
// Without Full Disk Access the setters print the captured refusal and change nothing; that it
// goes to stderr with exit status 1 is a guess (SYNTHETIC).
func (m *Mac) systemsetup(args []string) outcome {
	args = slices.DeleteFunc(slices.Clone(args), func(a string) bool { return a == "-f" })
	if len(args) == 0 {
		return fail(1, "systemsetup: no option given\n") // SYNTHETIC: the real tool prints its help
	}
	switch strings.ToLower(args[0]) {
	case "-getremotelogin":
		return ok("Remote Login: " + m.onOff(labelSSH) + "\n")
	case "-getremoteappleevents":
		return ok("Remote Apple Events: " + m.onOff(labelAppleEvents) + "\n")
	case "-setremotelogin":
		return m.systemsetupSet(args, "setremotelogin", "Remote Login", labelSSH)
	case "-setremoteappleevents":
		return m.systemsetupSet(args, "setremoteappleevents", "Remote AppleEvents", labelAppleEvents)
	}
	return fail(1, fmt.Sprintf("systemsetup: option %s is not emulated\n", args[0])) // SYNTHETIC
}

func (m *Mac) systemsetupSet(args []string, cmd, what, label string) outcome {
	if len(args) != 2 {
		return fail(1, fmt.Sprintf("%s: Missing argument (on | off)\n", cmd)) // SYNTHETIC
	}
	var on bool
	switch strings.ToLower(args[1]) {
	case "on", "yes":
		on = true
	case "off", "no":
	default:
		return fail(1, fmt.Sprintf("%s: Invalid argument %q (on | off)\n", cmd, args[1])) // SYNTHETIC
	}
	if m.st.NoFullDiskAccess {
		// logicnow/BlueSky#54 (remote login), jamf/CIS-for-macOS-Catalina-CP#5 (Apple events).
		return fail(1, fmt.Sprintf("%s: Turning %s on or off requires Full Disk Access privileges.\n", cmd, what))
	}
	m.setOverride(label, on)
	return ok("")
}

// onOff is "On" when the service's override is enabled, as systemsetup reports it.
func (m *Mac) onOff(label string) string {
	return choose(m.st.Launchd[label] == overrideEnabled, "On", "Off")
}

func (m *Mac) setOverride(label string, enabled bool) {
	if m.st.Launchd == nil {
		m.st.Launchd = map[string]string{}
	}
	m.st.Launchd[label] = choose(enabled, overrideEnabled, overrideDisabled)
}

// launchctl emulates the system domain of launchctl: print-disabled, print, list, enable,
// disable and bootout. A service is loaded exactly when its override is "enabled"; bootout does
// not change that (the emulator does not track loaded-but-disabled services).
func (m *Mac) launchctl(args []string) outcome {
	if len(args) == 0 {
		return fail(64, "Usage: launchctl <subcommand> ... | help [subcommand]\n") // SYNTHETIC
	}
	switch args[0] {
	case "print-disabled":
		if len(args) != 2 || args[1] != "system" {
			return fail(1, fmt.Sprintf("launchctl: domain %q is not emulated, only system\n", strings.Join(args[1:], " "))) // SYNTHETIC
		}
		return ok(m.printDisabled())
	case "list":
		return ok(m.launchctlList())
	case "enable", "disable", "bootout", "print":
		if len(args) != 2 {
			return fail(64, fmt.Sprintf("Usage: launchctl %s <service-target>\n", args[0])) // SYNTHETIC
		}
		label, isSystem := strings.CutPrefix(args[1], "system/")
		if !isSystem || label == "" {
			return fail(1, fmt.Sprintf("launchctl: target %q is not emulated, only system/<label>\n", args[1])) // SYNTHETIC
		}
		return m.launchctlService(args[0], label)
	}
	return fail(64, fmt.Sprintf("Unrecognized subcommand: %s\n", args[0])) // SYNTHETIC
}

func (m *Mac) launchctlService(cmd, label string) outcome {
	loaded := m.st.Launchd[label] == overrideEnabled
	switch cmd {
	case "enable", "disable":
		m.setOverride(label, cmd == "enable")
		return ok("")
	case "bootout":
		if loaded {
			return ok("")
		}
		return fail(3, "Boot-out failed: 3: No such process\n") // SYNTHETIC
	}
	if !loaded {
		return fail(113, fmt.Sprintf("Could not find service %q in domain for system\n", label)) // SYNTHETIC
	}
	// SYNTHETIC: the first lines of a real "launchctl print" block.
	return ok(fmt.Sprintf("system/%s = {\n\tactive count = 0\n\tpath = %s\n\ttype = LaunchDaemon\n\tstate = waiting\n\n\tprogram = %s\n}\n",
		label, launchDaemonPlist(label), launchDaemonProgram(label)))
}

// printDisabled renders `launchctl print-disabled system`: `"label" => disabled|enabled` from
// macOS 13, `"label" => true|false` (true = disabled) on 11 and 12 (mSCP *ssh_disable* rules on
// each branch, reference §6). Labels are sorted; the login item block is SYNTHETIC.
func (m *Mac) printDisabled() string {
	var b strings.Builder
	b.WriteString("disabled services = {\n")
	for _, label := range slices.Sorted(maps.Keys(m.st.Launchd)) {
		disabled := m.st.Launchd[label] == overrideDisabled
		val := choose(disabled, overrideDisabled, overrideEnabled)
		if !m.ver.atLeast(13, 0) {
			val = choose(disabled, "true", "false")
		}
		fmt.Fprintf(&b, "\t%q => %s\n", label, val)
	}
	b.WriteString("}\n\nlogin item associations = {\n}\n")
	return b.String()
}

// launchctlList renders `launchctl list` with the loaded services (SYNTHETIC: only the services
// the emulator tracks, never running).
func (m *Mac) launchctlList() string {
	var b strings.Builder
	b.WriteString("PID\tStatus\tLabel\n")
	for _, label := range slices.Sorted(maps.Keys(m.st.Launchd)) {
		if m.st.Launchd[label] == overrideEnabled {
			fmt.Fprintf(&b, "-\t0\t%s\n", label)
		}
	}
	return b.String()
}

// launchDaemonPlist is where a service's launchd plist lives on macOS.
func launchDaemonPlist(label string) string {
	if label == labelSSH {
		return "/System/Library/LaunchDaemons/ssh.plist"
	}
	return "/System/Library/LaunchDaemons/" + label + ".plist"
}

// launchDaemonProgram is the program a service runs (SYNTHETIC beyond the well-known ones).
func launchDaemonProgram(label string) string {
	switch label {
	case labelSSH:
		return "/usr/libexec/sshd-keygen-wrapper"
	case labelScreenSharing:
		return "/System/Library/CoreServices/RemoteManagement/screensharingd.bundle/Contents/MacOS/screensharingd"
	case labelSMB:
		return "/usr/sbin/smbd"
	case labelAppleEvents:
		return "/System/Library/CoreServices/AEServer"
	}
	return "/usr/libexec/" + label
}

// csrutil emulates `csrutil status`; everything else needs the Recovery OS.
func (m *Mac) csrutil(args []string) outcome {
	if len(args) != 1 || args[0] != "status" {
		return fail(1, "csrutil: This tool needs to be executed from the Recovery OS.\n") // SYNTHETIC
	}
	switch m.st.SIP {
	case "disabled":
		return ok("System Integrity Protection status: disabled.\n") // SYNTHETIC, symmetric to enabled
	case "custom":
		return ok(csrutilCustom) // csrutil-status-custom-config-2023.txt (asmvik/yabai#1800, 12.5)
	}
	return ok("System Integrity Protection status: enabled.\n") // csrutil-status-enabled.txt
}

// csrutilCustom is csrutil-status-custom-config-2023.txt without the prompt line.
const csrutilCustom = `System Integrity Protection status: unknown (Custom Configuration).

Configuration:
	Apple Internal: disabled
	Kext Signing: enabled
	Filesystem Protections: disabled
	Debugging Restrictions: disabled
	DTrace Restrictions: enabled
	NVRAM Protections: disabled
	BaseSystem Verification: enabled
	Boot-arg Restrictions: disabled
	Kernel Integrity Protections: disabled
	Authenticated Root Requirement: enabled

This is an unsupported configuration, likely to break in the future and leave your machine in an unknown state.
`

// profileIdentifier is the identifier of the firewall profile a managed emulated Mac has.
const profileIdentifier = "com.firewarden.firewall"

// profiles emulates `profiles list` and `profiles -P` (all wording SYNTHETIC).
func (m *Mac) profiles(args []string) outcome {
	if len(args) == 0 || (args[0] != "list" && args[0] != "-P" && args[0] != "show") {
		return fail(1, "profiles: only list, show and -P are emulated\n")
	}
	if m.st.Profile == nil {
		return ok("There are no configuration profiles installed\n")
	}
	return ok("_computerlevel[1] attribute: profileIdentifier: " + profileIdentifier + "\nThere are 1 configuration profiles installed\n")
}

// killall succeeds silently: firewarden uses it for `killall -HUP blued` after a Bluetooth
// change, and the emulated daemons need no signal.
func (m *Mac) killall([]string) outcome { return ok("") }
