package hosttest

import (
	"fmt"
	"strings"
)

// Output lines of socketfilterfw. Sources are the captured outputs in testdata/alf and the
// reference §1.2–1.5; lines marked SYNTHETIC have no captured source and use the wording
// symmetric to a known line.
const (
	sfRefusal = "Firewall settings cannot be modified from command line on managed Mac computers." // socketfilterfw-managed-mac-refusal.txt

	sfState0       = "Firewall is disabled. (State = 0)"                                         // socketfilterfw-state2-mcli-2021.txt
	sfState1       = "Firewall is enabled. (State = 1)"                                          // socketfilterfw-get-combined-kolide-2024-08-01.txt
	sfState2Legacy = "Firewall is enabled. (State = 2)"                                          // socketfilterfw-state2-mcli-2021.txt
	sfState2Modern = "Firewall is blocking all non-essential incoming connections. (State = 2)"  // socketfilterfw-getglobalstate-state2-2025.txt
	sfSetBlockAll  = "Firewall is set to block all non-essential incoming connections"           // socketfilterfw-state2-mcli-2021.txt
	sfSetBlockOff  = "Firewall is no longer set to block all non-essential incoming connections" // SYNTHETIC

	// The legacy --getblockall keeps a trailing space after "DISABLED!" (a tool compares
	// against 'Block all DISABLED! \n', reference §1.3; the Pareto paste lost it). The enabled
	// form is UNVERIFIED and written as the reference gives it: SYNTHETIC.
	sfBlockAllOffLegacy = "Block all DISABLED! "
	sfBlockAllOnLegacy  = "Block all ENABLED!"                            // SYNTHETIC
	sfBlockAllOffModern = "Firewall has block all state set to disabled." // kolide 2024-08-01
	sfBlockAllOnModern  = "Firewall has block all state set to enabled."  // SYNTHETIC

	sfStealthOnLegacy  = "Stealth mode enabled"         // socketfilterfw-set-outputs-drduh-2018.txt; mSCP big_sur check
	sfStealthOffLegacy = "Stealth mode disabled"        // SYNTHETIC
	sfStealthOnModern  = "Firewall stealth mode is on"  // ParetoSecurity/pareto-mac 79b7f7c; wazuh PR #27751
	sfStealthOffModern = "Firewall stealth mode is off" // kolide 2024-08-01

	sfAllowSignedOff    = "Disabled allow signed built-in applications automatically"   // drduh 2018
	sfAllowSignedOn     = "Enabled allow signed built-in applications automatically"    // SYNTHETIC
	sfAllowSignedAppOff = "Disabled allow signed downloaded applications automatically" // drduh 2018
	sfAllowSignedAppOn  = "Enabled allow signed downloaded applications automatically"  // SYNTHETIC

	sfLogOnModern = "Turning on log mode "                                                        // socketfilterfw-logging-sequoia151.txt (trailing space)
	sfLogOnLegacy = "Turning on log mode"                                                         // socketfilterfw-set-outputs-drduh-2018.txt
	sfLogOff      = "Turning off log mode "                                                       // SYNTHETIC
	sfLogFailed   = "Failed to set log mode (err: 1 - failed to read key from preference file)"   // sequoia151
	sfLogOptFail  = "Failed to set log option (err: 1 - failed to read key from preference file)" // SYNTHETIC

	sfAppAdded      = "Application at path ( %s ) added to firewall"        // socketfilterfw-add-unblock-2024.txt
	sfAppRemoved    = "Application at path ( %s ) removed from firewall"    // SYNTHETIC
	sfAppMember     = "The application is already a part of the firewall "  // socketfilterfw-add-already-member-2024.txt
	sfAppNotMember  = "The application is not part of the firewall"         // socketfilterfw-add-unblock-2024.txt
	sfAppPermitted  = "Incoming connection to the application is permitted" // socketfilterfw-add-unblock-2024.txt, getappblocked-2014
	sfAppBlockedSet = "Incoming connection to the application is blocked"   // SYNTHETIC (--blockapp)
	sfAppBlockedGet = "Incoming connection to %s is blocked"                // socketfilterfw-getappblocked-2014.txt
)

// sfArg is what an option takes as its argument.
type sfArg int

const (
	sfNoArg sfArg = iota
	sfOnOff
	sfPath
	sfLogOpt
)

// sfOption is one long option of socketfilterfw.
type sfOption struct {
	name    string
	arg     sfArg
	write   bool // changes settings: refused on a managed Mac
	logging bool // removed in macOS 15.4
}

// sfOptions is the option table of socketfilterfw(8) (reference §1.1), in man-page order.
func sfOptions() []sfOption {
	return []sfOption{
		{name: "getglobalstate"},
		{name: "setglobalstate", arg: sfOnOff, write: true},
		{name: "getblockall"},
		{name: "setblockall", arg: sfOnOff, write: true},
		{name: "listapps"},
		{name: "getappblocked", arg: sfPath},
		{name: "blockapp", arg: sfPath, write: true},
		{name: "unblockapp", arg: sfPath, write: true},
		{name: "add", arg: sfPath, write: true},
		{name: "remove", arg: sfPath, write: true},
		{name: "getallowsigned"},
		{name: "setallowsigned", arg: sfOnOff, write: true},
		{name: "setallowsignedapp", arg: sfOnOff, write: true},
		{name: "getstealthmode"},
		{name: "setstealthmode", arg: sfOnOff, write: true},
		{name: "getloggingmode", logging: true},
		{name: "setloggingmode", arg: sfOnOff, write: true, logging: true},
		{name: "getloggingopt", logging: true},
		{name: "setloggingopt", arg: sfLogOpt, write: true, logging: true},
	}
}

// sfUsage is the synopsis from socketfilterfw(8) (reference §1.1), printed for -h and for a run
// without arguments. Where and with which exit status the real tool prints it is SYNTHETIC.
const sfUsage = `usage: socketfilterfw [-hdlk] [--getglobalstate] [--setglobalstate on | off] [--getblockall] [--setblockall on | off] [--listapps]
               [--getappblocked path] [--blockapp path] [--unblockapp path] [--add path] [--remove path] [--getallowsigned]
               [--setallowsigned] [--setallowsignedapp] [--getstealthmode] [--setstealthmode on | off] [--getloggingmode]
               [--setloggingmode on | off] [--getloggingopt] [--setloggingopt throttled | brief | detail]
`

// sfOptionError is a command line socketfilterfw rejects. The messages follow the BSD
// getopt_long wording ("unknown option -- name"); the real text is UNVERIFIED, so they are
// SYNTHETIC, as is exit status 1.
type sfOptionError struct{ msg string }

func (e *sfOptionError) Error() string { return "socketfilterfw: " + e.msg }

// resolveSFOption finds a long option by its exact name or a unique prefix, as getopt_long does
// (reference §1.1: "--unblock" is taken for "--unblockapp").
func resolveSFOption(opts []sfOption, name string) (sfOption, error) {
	var matches []sfOption
	for _, o := range opts {
		if o.name == name {
			return o, nil
		}
		if name != "" && strings.HasPrefix(o.name, name) {
			matches = append(matches, o)
		}
	}
	switch len(matches) {
	case 0:
		return sfOption{}, &sfOptionError{"unknown option -- " + name}
	case 1:
		return matches[0], nil
	}
	return sfOption{}, &sfOptionError{"ambiguous option -- " + name}
}

// sfStep is one option of a run with its argument.
type sfStep struct {
	opt sfOption
	val string
}

// nextSFStep parses the option at args[i] (and its argument) and returns it with the index of
// the next unparsed argument.
func nextSFStep(opts []sfOption, args []string, i int) (sfStep, int, error) {
	a := args[i]
	if !strings.HasPrefix(a, "--") || a == "--" {
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			return sfStep{}, i + 1, &sfOptionError{"unknown option -- " + strings.TrimLeft(a, "-")}
		}
		return sfStep{}, i + 1, &sfOptionError{"unexpected argument -- " + a}
	}
	name, val, hasVal := strings.Cut(a[2:], "=")
	opt, err := resolveSFOption(opts, name)
	if err != nil {
		return sfStep{}, i + 1, err
	}
	i++
	switch {
	case opt.arg == sfNoArg && hasVal:
		return sfStep{}, i, &sfOptionError{"option doesn't take an argument -- " + opt.name}
	case opt.arg != sfNoArg && !hasVal:
		if i >= len(args) {
			return sfStep{}, i, &sfOptionError{"option requires an argument -- " + opt.name}
		}
		val = args[i]
		i++
	}
	return sfStep{opt: opt, val: val}, i, nil
}

// sfWrites reports whether a socketfilterfw argv (without the program) asks for any change. It
// knows every option, including the logging ones that 15.4 removed, since an attempt counts.
func sfWrites(args []string) bool {
	opts := sfOptions()
	for i := 0; i < len(args); {
		step, next, err := nextSFStep(opts, args, i)
		if err == nil && step.opt.write {
			return true
		}
		i = next
	}
	return false
}

// socketfilterfw answers each option in argument order, one line (or block) per option
// (reference §1.1). It stops at the first option it cannot parse, keeping what it printed
// before: the real tool handles options as getopt_long returns them (SYNTHETIC: the exact
// behaviour on a bad option is not captured).
func (m *Mac) socketfilterfw(args []string) outcome {
	if len(args) == 0 || args[0] == "-h" {
		return ok(sfUsage)
	}
	var opts []sfOption
	for _, o := range sfOptions() {
		if o.logging && !m.ver.hasLoggingFlags() {
			continue
		}
		opts = append(opts, o)
	}
	var out strings.Builder
	changed := false
	result := outcome{}
	for i := 0; i < len(args); {
		step, next, err := nextSFStep(opts, args, i)
		i = next
		if err != nil {
			result = fail(1, err.Error()+"\n")
			break
		}
		text, didChange, err := m.sfApply(step)
		if err != nil {
			result = fail(1, "socketfilterfw: "+err.Error()+"\n")
			break
		}
		out.WriteString(text)
		changed = changed || didChange
	}
	result.stdout = out.String()
	if changed && m.ver.hasALFPlist() {
		if err := writeALFPlist(m.root, m.st); err != nil {
			result.err = err
		}
	}
	return result
}

// sfApply performs one option and returns its output (newline-terminated) and whether it
// changed the state. An error is an argument the tool rejects.
func (m *Mac) sfApply(s sfStep) (string, bool, error) {
	var on bool
	switch s.opt.arg {
	case sfOnOff:
		switch strings.ToLower(s.val) {
		case "on":
			on = true
		case "off":
		default:
			// SYNTHETIC: the real rejection text is not captured.
			return "", false, fmt.Errorf("invalid argument %q for --%s: use on or off", s.val, s.opt.name)
		}
	case sfLogOpt:
		if _, valid := loggingOptionCode(s.val); !valid || s.val == "" {
			// SYNTHETIC.
			return "", false, fmt.Errorf("invalid argument %q for --%s: use throttled, brief or detail", s.val, s.opt.name)
		}
	}
	if s.opt.write && m.st.Profile != nil {
		return line(sfRefusal), false, nil
	}

	st := &m.st
	eff := st.effective(m.ver)
	switch s.opt.name {
	case "getglobalstate":
		return line(m.globalStateLine(eff.globalState)), false, nil
	case "setglobalstate":
		switch {
		case !on:
			st.GlobalState = 0
		case st.GlobalState == 0:
			st.GlobalState = 1
		}
		return line(m.globalStateLine(st.GlobalState)), true, nil
	case "getblockall":
		return line(m.pick(eff.globalState == 2, sfBlockAllOnLegacy, sfBlockAllOffLegacy, sfBlockAllOnModern, sfBlockAllOffModern)), false, nil
	case "setblockall":
		// --setblockall on turns a disabled firewall on too (m-cli PR #161, reference §1.3).
		if on {
			st.GlobalState = 2
			return line(sfSetBlockAll), true, nil
		}
		if st.GlobalState == 2 {
			st.GlobalState = 1
		}
		return line(sfSetBlockOff), true, nil
	case "getallowsigned":
		if m.ver.modern() {
			return line("Automatically allow built-in signed software "+upperState(eff.allowSigned)+".") +
				line("Automatically allow downloaded signed software "+upperState(eff.allowSignedApp)+"."), false, nil
		}
		return line("Automatically allow signed built-in software "+upperState(eff.allowSigned)) +
			line("Automatically allow downloaded signed software "+upperState(eff.allowSignedApp)), false, nil
	case "setallowsigned":
		st.AllowSigned = on
		return line(choose(on, sfAllowSignedOn, sfAllowSignedOff)), true, nil
	case "setallowsignedapp":
		st.AllowSignedApp = on
		return line(choose(on, sfAllowSignedAppOn, sfAllowSignedAppOff)), true, nil
	case "getstealthmode":
		return line(m.pick(eff.stealth, sfStealthOnLegacy, sfStealthOffLegacy, sfStealthOnModern, sfStealthOffModern)), false, nil
	case "setstealthmode":
		// The set command prints the old wording on every version: the CIS 15 and 26
		// remediation text shows "--setstealthmode on Stealth mode enabled" (reference §1.3).
		st.Stealth = on
		return line(choose(on, sfStealthOnLegacy, sfStealthOffLegacy)), true, nil
	case "getloggingmode":
		return line("Log mode is " + choose(eff.logging, "on", "off") + " "), false, nil
	case "setloggingmode":
		if !m.ver.loggingSettable() {
			// 15.0–15.3: prints the attempt and the failure, changes nothing. Which stream the
			// failure goes to and the exit status are not captured; stdout and 0 are SYNTHETIC.
			return line(choose(on, sfLogOnModern, sfLogOff)) + line(sfLogFailed), false, nil
		}
		st.Logging = on
		return line(choose(on, sfLogOnLegacy, sfLogOff)), true, nil
	case "getloggingopt":
		return line("Log Option is " + eff.loggingOpt + " "), false, nil
	case "setloggingopt":
		if !m.ver.loggingSettable() {
			return line(sfLogOptFail), false, nil // SYNTHETIC, by analogy with --setloggingmode
		}
		st.LoggingOpt = s.val
		return line("Log Option is " + s.val + " "), true, nil // SYNTHETIC: the getter's wording
	case "listapps":
		return m.listApps(), false, nil
	case "getappblocked":
		switch i := st.appIndex(s.val); {
		case i < 0:
			return line(sfAppNotMember), false, nil
		case st.Apps[i].Blocked:
			return line(fmt.Sprintf(sfAppBlockedGet, s.val)), false, nil
		}
		return line(sfAppPermitted), false, nil // the --unblockapp text; the get form is UNVERIFIED
	case "add":
		if st.appIndex(s.val) >= 0 {
			return line(sfAppMember), false, nil
		}
		st.Apps = append(st.Apps, App{Path: s.val})
		return line(fmt.Sprintf(sfAppAdded, s.val)), true, nil
	case "remove":
		i := st.appIndex(s.val)
		if i < 0 {
			return line(sfAppNotMember), false, nil
		}
		st.Apps = append(st.Apps[:i:i], st.Apps[i+1:]...)
		return line(fmt.Sprintf(sfAppRemoved, s.val)), true, nil
	case "blockapp", "unblockapp":
		i := st.appIndex(s.val)
		if i < 0 {
			return line(sfAppNotMember), false, nil
		}
		block := s.opt.name == "blockapp"
		st.Apps[i].Blocked = block
		return line(choose(block, sfAppBlockedSet, sfAppPermitted)), true, nil
	}
	return "", false, fmt.Errorf("option --%s is not emulated", s.opt.name)
}

// globalStateLine is the --getglobalstate (and --setglobalstate) line for a state.
func (m *Mac) globalStateLine(state int) string {
	switch state {
	case 0:
		return sfState0
	case 1:
		return sfState1
	}
	return choose(m.ver.modern(), sfState2Modern, sfState2Legacy)
}

// pick chooses among the four wordings of an on/off line by value and dialect.
func (m *Mac) pick(on bool, onLegacy, offLegacy, onModern, offModern string) string {
	if m.ver.modern() {
		return choose(on, onModern, offModern)
	}
	return choose(on, onLegacy, offLegacy)
}

// listApps renders --listapps. Modern (nix-darwin#1705, 2026):
//
//	Total number of apps = 9
//	1 : /usr/libexec/sshd-session
//	             (Block incoming connections)
//
// Legacy (osquery#2322, 2016), with trailing spaces and the rule inside spaced parentheses:
//
//	ALF: total number of apps = 3
//	1 :  /Users/abanks/Library/Application Support/Dropbox/Dropbox.app
//	     ( Allow incoming connections )
//
// The blocked form of the legacy rule line is SYNTHETIC.
func (m *Mac) listApps() string {
	var b strings.Builder
	if m.ver.modern() {
		fmt.Fprintf(&b, "Total number of apps = %d\n", len(m.st.Apps))
		for i, a := range m.st.Apps {
			fmt.Fprintf(&b, "%d : %s\n             (%s incoming connections)\n", i+1, a.Path, choose(a.Blocked, "Block", "Allow"))
		}
		return b.String()
	}
	fmt.Fprintf(&b, "ALF: total number of apps = %d \n", len(m.st.Apps))
	for i, a := range m.st.Apps {
		fmt.Fprintf(&b, "%d :  %s \n     ( %s incoming connections ) \n", i+1, a.Path, choose(a.Blocked, "Block", "Allow"))
	}
	return b.String()
}

func line(s string) string { return s + "\n" }

func upperState(on bool) string { return choose(on, "ENABLED", "DISABLED") }

func choose[T any](cond bool, yes, no T) T {
	if cond {
		return yes
	}
	return no
}
