// Package alf reads, checks and changes the macOS Application Layer Firewall through
// socketfilterfw, cross-checks the com.apple.alf plist on macOS 14 and earlier, and honours
// com.apple.security.firewall configuration profiles.
package alf

import (
	"strconv"
	"strings"
)

// Reading is what one socketfilterfw run said. A nil field means the output did not say it;
// firewarden never turns "did not say" into "off".
type Reading struct {
	GlobalState    *int  // 0 off, 1 on, 2 on and blocking all non-essential incoming connections
	BlockAll       *bool // from --getblockall (or the --setblockall confirmation)
	AllowSigned    *bool // auto-allow built-in signed software
	AllowSignedApp *bool // auto-allow downloaded signed software
	Stealth        *bool
	Logging        *bool  // macOS 14 and earlier
	LoggingOpt     string // "throttled", "brief" or "detail"; "" when not said

	// Apps is the --listapps list, in the tool's order; AppsListed tells an empty list from no
	// list at all. AppsByName is set for the variant that prints names instead of paths.
	Apps       []App
	AppsListed bool
	AppsByName bool

	Dialect   Dialect  // which wording the output used, when a line gave it away
	Refused   string   // the managed-Mac refusal line, when printed
	ToolError []string // "ALF: Error, …" lines and similar failures, verbatim
	Unknown   []string // lines not understood, verbatim
	Conflicts []string // lines that contradict an earlier line; the output cannot be trusted
}

// setBool records a value, or a conflict when an earlier line said the opposite.
func (r *Reading) setBool(dst **bool, v bool, line string) {
	if *dst != nil && **dst != v {
		r.Conflicts = append(r.Conflicts, line)
		return
	}
	*dst = ptr(v)
}

// App is one application exception from --listapps.
type App struct {
	Path    string // full path; a bare name when Reading.AppsByName
	Allowed bool
}

// Dialect is the wording generation of socketfilterfw output.
type Dialect string

// Dialects. Legacy is macOS 14 and earlier ("Block all DISABLED!", "Stealth mode enabled",
// "ALF: total number of apps"), Modern is macOS 15 and later ("Firewall has block all state set to
// disabled.", "Firewall stealth mode is on", "Total number of apps"). Sources: alf.md §1.3–1.4.
const (
	Legacy Dialect = "legacy"
	Modern Dialect = "modern"
)

// RefusalText is what socketfilterfw prints, with exit status 0, when a configuration profile
// manages the firewall (lima-vm/socket_vmnet#18, kubernetes/minikube#19680).
const RefusalText = "Firewall settings cannot be modified from command line on managed Mac computers."

// The line recognisers below scan strings directly rather than with regular expressions: the
// parser runs on every evaluation and every re-read after a write.

// appsHeader reads "ALF: total number of apps = N " (legacy) or "Total number of apps = N".
func appsHeader(line string) (n int, legacy, ok bool) {
	rest, legacy := strings.CutPrefix(line, "ALF: total number of apps = ")
	if !legacy {
		if rest, ok = strings.CutPrefix(line, "Total number of apps = "); !ok {
			return 0, false, false
		}
	}
	n, err := strconv.Atoi(rest)
	return n, legacy, err == nil && n >= 0
}

// stateOf finds "(State = N)" in a line.
func stateOf(line string) (n int, found, ok bool) {
	i := strings.Index(line, "(State = ")
	if i < 0 {
		return 0, false, false
	}
	rest := line[i+len("(State = "):]
	j := strings.IndexByte(rest, ')')
	if j < 0 {
		return 0, true, false
	}
	n, err := strconv.Atoi(rest[:j])
	return n, true, err == nil && n >= 0 && n <= 2
}

// appEntry reads "N : /path" (one space, modern) or "N :  /path " (two, legacy).
func appEntry(line string) (string, bool) {
	t := strings.TrimSpace(line)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return "", false
	}
	rest := strings.TrimLeft(t[i:], " \t")
	rest, ok := strings.CutPrefix(rest, ":")
	if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
		return "", false
	}
	path := strings.TrimSpace(rest)
	return path, path != ""
}

// appRule reads "(Allow incoming connections)" or "( Block incoming connections )".
func appRule(line string) (allowed, legacy, ok bool) {
	t := strings.TrimSpace(line)
	if len(t) < 2 || t[0] != '(' || t[len(t)-1] != ')' {
		return false, false, false
	}
	inner := t[1 : len(t)-1]
	legacy = strings.HasPrefix(inner, " ")
	switch strings.TrimSpace(inner) {
	case "Allow incoming connections":
		return true, legacy, true
	case "Block incoming connections":
		return false, legacy, true
	}
	return false, false, false
}

// appByName reads "name (state: N)" (kolide/launcher test-data/apps.txt).
func appByName(line string) (name string, state int, ok bool) {
	t := strings.TrimSpace(line)
	i := strings.LastIndex(t, " (state: ")
	if i <= 0 || !strings.HasSuffix(t, ")") {
		return "", 0, false
	}
	n, err := strconv.Atoi(t[i+len(" (state: ") : len(t)-1])
	return t[:i], n, err == nil
}

// Parse reads socketfilterfw output from any combination of getters, in any order, in either
// dialect. It classifies each line by its wording rather than by position, because one flag
// (--getallowsigned) prints two lines and --listapps prints a block.
func Parse(out []byte) Reading {
	var r Reading
	lines := strings.Split(string(out), "\n")
	for i := 0; i < len(lines); i++ {
		raw := lines[i]
		line := strings.TrimSpace(raw)
		if line == "" {
			continue
		}
		if n, legacy, ok := appsHeader(line); ok {
			r.AppsListed = true
			if legacy {
				r.setDialect(Legacy)
			} else {
				r.setDialect(Modern)
			}
			i = r.parseApps(lines, i+1, n)
			continue
		}
		if !r.parseLine(line) {
			r.Unknown = append(r.Unknown, raw)
		}
	}
	return r
}

// parseApps reads up to n entries after the header and returns the index of the last line used.
func (r *Reading) parseApps(lines []string, i, n int) int {
	last := i - 1
	for ; i < len(lines) && len(r.Apps) < n; i++ {
		line := lines[i]
		if strings.TrimSpace(line) == "" {
			continue
		}
		path, isEntry := appEntry(line)
		if !isEntry {
			// "name (state: N)": 1 allow, 4 block (kolide/launcher test-data/apps.txt).
			name, state, ok := appByName(line)
			if !ok {
				break
			}
			r.AppsByName = true
			r.Apps = append(r.Apps, App{Path: name, Allowed: state == 1})
			last = i
			continue
		}
		app := App{Path: path, Allowed: true}
		last = i
		// The rule sits on the next non-empty line.
		for j := i + 1; j < len(lines); j++ {
			if strings.TrimSpace(lines[j]) == "" {
				continue
			}
			if allowed, legacy, ok := appRule(lines[j]); ok {
				app.Allowed = allowed
				if legacy {
					r.setDialect(Legacy)
				}
				i, last = j, j
			}
			break
		}
		r.Apps = append(r.Apps, app)
	}
	return last
}

func (r *Reading) setDialect(d Dialect) {
	if r.Dialect == "" {
		r.Dialect = d
	}
}

func ptr[T any](v T) *T { return &v }

// parseLine understands one trimmed line and reports whether it did.
func (r *Reading) parseLine(line string) bool {
	if n, found, ok := stateOf(line); found {
		if !ok {
			return false
		}
		if r.GlobalState != nil && *r.GlobalState != n {
			r.Conflicts = append(r.Conflicts, line)
			return true
		}
		r.GlobalState = ptr(n)
		if strings.HasPrefix(line, "Firewall is blocking all") {
			r.setDialect(Modern)
		}
		return true
	}
	switch line {
	case RefusalText:
		r.Refused = line
		return true
	case "Block all DISABLED!":
		r.setBool(&r.BlockAll, false, line)
		r.setDialect(Legacy)
		return true
	case "Block all ENABLED!":
		r.setBool(&r.BlockAll, true, line)
		r.setDialect(Legacy)
		return true
	case "Firewall has block all state set to disabled.":
		r.setBool(&r.BlockAll, false, line)
		r.setDialect(Modern)
		return true
	case "Firewall has block all state set to enabled.":
		r.setBool(&r.BlockAll, true, line)
		r.setDialect(Modern)
		return true
	case "Firewall is blocking all non-essential incoming connections.", // --getblockall, reported (alf.md §1.6)
		"Firewall is set to block all non-essential incoming connections": // --setblockall on
		r.setBool(&r.BlockAll, true, line)
		return true
	case "Stealth mode enabled":
		r.setBool(&r.Stealth, true, line)
		r.setDialect(Legacy)
		return true
	case "Stealth mode disabled":
		r.setBool(&r.Stealth, false, line)
		r.setDialect(Legacy)
		return true
	case "Firewall stealth mode is on":
		r.setBool(&r.Stealth, true, line)
		r.setDialect(Modern)
		return true
	case "Firewall stealth mode is off":
		r.setBool(&r.Stealth, false, line)
		r.setDialect(Modern)
		return true
	case "Log mode is on", "Turning on log mode":
		r.setBool(&r.Logging, true, line)
		return true
	case "Log mode is off", "Turning off log mode":
		r.setBool(&r.Logging, false, line)
		return true
	}
	if opt, ok := strings.CutPrefix(line, "Log Option is "); ok {
		switch opt {
		case "throttled", "brief", "detail":
			if r.LoggingOpt != "" && r.LoggingOpt != opt {
				r.Conflicts = append(r.Conflicts, line)
				return true
			}
			r.LoggingOpt = opt
			return true
		}
		return false
	}
	if v, ok := signedLine(line); ok {
		if strings.Contains(line, "downloaded") {
			r.setBool(&r.AllowSignedApp, v, line)
		} else {
			r.setBool(&r.AllowSigned, v, line)
		}
		return true
	}
	if strings.HasPrefix(line, "ALF: Error") || strings.HasPrefix(line, "Failed to ") {
		r.ToolError = append(r.ToolError, line)
		return true
	}
	return false
}

// signedLine reads the allow-signed getters in both wordings ("Automatically allow signed
// built-in software ENABLED", "Automatically allow built-in signed software ENABLED.") and the
// setters' confirmations ("Disabled allow signed built-in applications automatically").
func signedLine(line string) (bool, bool) {
	l := strings.TrimSuffix(line, ".")
	if rest, ok := strings.CutPrefix(l, "Automatically allow "); ok {
		if !strings.Contains(rest, "signed") || !strings.Contains(rest, "software") {
			return false, false
		}
		switch {
		case strings.HasSuffix(rest, " ENABLED"):
			return true, true
		case strings.HasSuffix(rest, " DISABLED"):
			return false, true
		}
		return false, false
	}
	for _, p := range []struct {
		prefix string
		v      bool
	}{{"Enabled allow signed ", true}, {"Disabled allow signed ", false}} {
		if rest, ok := strings.CutPrefix(l, p.prefix); ok && strings.HasSuffix(rest, "applications automatically") {
			return p.v, true
		}
	}
	return false, false
}
