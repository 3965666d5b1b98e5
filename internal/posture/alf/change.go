package alf

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/posture"
)

const appKeyPrefix = "alf.app:"

// Plan implements posture.Provider. It works from what the latest Evaluate read.
func (p *Provider) Plan(ctx context.Context, req posture.Request, failing []posture.Result) ([]posture.Change, error) {
	if p.last == nil {
		return nil, errors.New("alf: Plan called before Evaluate")
	}
	r := p.last.reading
	var out []posture.Change
	for _, res := range failing {
		switch res.ID {
		case IDEnabled:
			// Turning the firewall on never lowers State 2 (block all) to 1: the check fails at
			// State 2 only when the plist disagrees, and then the same state is written again.
			from := strconv.Itoa(*r.GlobalState)
			to := from
			if !*req.Baseline.Firewall.Enabled {
				to = "0"
			} else if from == "0" {
				to = "1"
			}
			out = append(out, p.change(res.ID, "alf.globalstate", from, to))
		case IDLogging:
			want := *req.Baseline.Firewall.Logging
			if *r.Logging != want || p.plistDisagrees(func(s PlistState) *int { return s.Logging }, want) {
				out = append(out, p.change(res.ID, "alf.logging", onOff(*r.Logging), onOff(want)))
			}
			if want && r.LoggingOpt != "detail" {
				from := r.LoggingOpt
				if from == "" {
					from = "unknown"
				}
				out = append(out, p.change(res.ID, "alf.loggingopt", from, "detail"))
			}
		case IDApps:
			for _, d := range appDiff(r.Apps, req.Baseline.Firewall.Apps) {
				out = append(out, p.change(res.ID, appKeyPrefix+d.path, d.from, d.to))
			}
		default:
			t, ok := p.toggles[res.ID]
			if !ok {
				continue
			}
			want := *t.field(&req.Baseline.Firewall)
			out = append(out, p.change(res.ID, t.key, onOff(*t.live(r)), onOff(want)))
		}
	}
	return out, nil
}

func (p *Provider) plistDisagrees(get func(PlistState) *int, want bool) bool {
	if p.last == nil || p.last.plist == nil {
		return false
	}
	n := get(*p.last.plist)
	return n != nil && (*n == 1) != want
}

// change builds a Change with its commands and whether it loosens the firewall.
func (p *Provider) change(check, key, from, to string) posture.Change {
	c := posture.Change{Check: check, Key: key, From: from, To: to}
	c.Commands, _ = commandsFor(key, from, to)
	c.Weakens = weakens(key, from, to)
	return c
}

func sfw(args ...string) host.Cmd { return host.Cmd{Path: SocketFilterFW, Args: args} }

// commandsFor returns the socketfilterfw runs that move a setting from one value to another.
func commandsFor(key, from, to string) ([]host.Cmd, error) {
	if path, ok := strings.CutPrefix(key, appKeyPrefix); ok {
		switch {
		case to == "absent":
			return []host.Cmd{sfw("--remove", path)}, nil
		case from == "absent" && to == "allow":
			return []host.Cmd{sfw("--add", path), sfw("--unblockapp", path)}, nil
		case from == "absent" && to == "block":
			return []host.Cmd{sfw("--add", path), sfw("--blockapp", path)}, nil
		case to == "allow":
			return []host.Cmd{sfw("--unblockapp", path)}, nil
		case to == "block":
			return []host.Cmd{sfw("--blockapp", path)}, nil
		}
		return nil, fmt.Errorf("application %s: unknown state %q (want allow, block or absent)", path, to)
	}
	switch key {
	case "alf.globalstate":
		switch to {
		case "0":
			return []host.Cmd{sfw("--setglobalstate", "off")}, nil
		case "1":
			if from == "2" {
				return []host.Cmd{sfw("--setblockall", "off"), sfw("--setglobalstate", "on")}, nil
			}
			return []host.Cmd{sfw("--setglobalstate", "on")}, nil
		case "2":
			// --setblockall on also turns the firewall on (rgcr/m-cli#161).
			return []host.Cmd{sfw("--setglobalstate", "on"), sfw("--setblockall", "on")}, nil
		}
		return nil, fmt.Errorf("global state %q: want 0, 1 or 2", to)
	case "alf.loggingopt":
		switch to {
		case "throttled", "brief", "detail":
			return []host.Cmd{sfw("--setloggingopt", to)}, nil
		}
		return nil, fmt.Errorf("logging option %q: want throttled, brief or detail", to)
	}
	setter := map[string]string{
		"alf.blockall": "--setblockall", "alf.stealth": "--setstealthmode", "alf.logging": "--setloggingmode",
		"alf.allowsigned": "--setallowsigned", "alf.allowsignedapp": "--setallowsignedapp",
	}[key]
	if setter == "" {
		return nil, fmt.Errorf("unknown setting %q", key)
	}
	if to != "on" && to != "off" {
		return nil, fmt.Errorf("%s: value %q, want on or off", key, to)
	}
	return []host.Cmd{sfw(setter, to)}, nil
}

// weakens reports whether a change loosens the firewall: turning it or stealth or logging off,
// auto-allowing signed software, allowing an application, or dropping a block rule.
func weakens(key, from, to string) bool {
	if strings.HasPrefix(key, appKeyPrefix) {
		return to == "allow" || (from == "block" && to == "absent")
	}
	switch key {
	case "alf.globalstate":
		f, _ := strconv.Atoi(from)
		t, _ := strconv.Atoi(to)
		return t < f
	case "alf.allowsigned", "alf.allowsignedapp":
		return to == "on"
	case "alf.loggingopt":
		return to != "detail"
	}
	return to == "off"
}

// readback returns the getter that re-reads a setting and how to get its value from a Reading.
func readback(key string) (string, func(Reading) (string, bool)) {
	b := func(v *bool) (string, bool) {
		if v == nil {
			return "", false
		}
		return onOff(*v), true
	}
	if path, ok := strings.CutPrefix(key, appKeyPrefix); ok {
		return "--listapps", func(r Reading) (string, bool) {
			if !r.AppsListed || r.AppsByName {
				return "", false
			}
			return appState(r.Apps, path), true
		}
	}
	switch key {
	case "alf.globalstate":
		return "--getglobalstate", func(r Reading) (string, bool) {
			if r.GlobalState == nil {
				return "", false
			}
			return strconv.Itoa(*r.GlobalState), true
		}
	case "alf.blockall":
		return "--getblockall", func(r Reading) (string, bool) { return b(blockAllLive(r)) }
	case "alf.stealth":
		return "--getstealthmode", func(r Reading) (string, bool) { return b(r.Stealth) }
	case "alf.logging":
		return "--getloggingmode", func(r Reading) (string, bool) { return b(r.Logging) }
	case "alf.loggingopt":
		return "--getloggingopt", func(r Reading) (string, bool) { return r.LoggingOpt, r.LoggingOpt != "" }
	case "alf.allowsigned":
		return "--getallowsigned", func(r Reading) (string, bool) { return b(r.AllowSigned) }
	case "alf.allowsignedapp":
		return "--getallowsigned", func(r Reading) (string, bool) { return b(r.AllowSignedApp) }
	}
	return "", nil
}

// Validate implements posture.Validator.
func (p *Provider) Validate(c posture.Change) error {
	if _, ok := p.toggles[c.Check]; !ok && c.Check != IDLogging && c.Check != IDApps {
		return fmt.Errorf("%s is not an Application Firewall check", c.Check)
	}
	if path, ok := strings.CutPrefix(c.Key, appKeyPrefix); ok && !strings.HasPrefix(path, "/") {
		return fmt.Errorf("application %q is not an absolute path", path)
	}
	if _, value := readback(c.Key); value == nil {
		return fmt.Errorf("unknown setting %q", c.Key)
	}
	_, err := commandsFor(c.Key, c.From, c.To)
	return err
}

// Apply implements posture.Provider: run the writes, then re-read, because socketfilterfw exits 0
// even when it refused (alf.md §1.5).
func (p *Provider) Apply(ctx context.Context, c posture.Change) ([]posture.Evidence, error) {
	if p.os.Kind != host.MacOS {
		return nil, fmt.Errorf("%s: the Application Firewall exists on macOS only", c.Key)
	}
	cmds := c.Commands
	if len(cmds) == 0 {
		var err error
		if cmds, err = commandsFor(c.Key, c.From, c.To); err != nil {
			return nil, err
		}
	}
	if err := p.Validate(c); err != nil {
		return nil, err
	}
	getter, value := readback(c.Key)
	var evs []posture.Evidence
	for _, cmd := range cmds {
		res, err := p.run.Run(ctx, cmd)
		evs = append(evs, posture.ExecEvidence(res))
		out := strings.TrimSpace(string(res.Stdout) + "\n" + string(res.Stderr))
		if strings.Contains(out, RefusalText) {
			return evs, fmt.Errorf("%s: %w: socketfilterfw said %q", cmd, posture.ErrManagedByProfile, RefusalText)
		}
		var ee *host.ExitError
		if errors.As(err, &ee) {
			return evs, fmt.Errorf("%s exited with status %d: socketfilterfw said %s", cmd, ee.Code, strconvQuote(out))
		}
		if err != nil {
			return evs, err
		}
		if r := Parse(res.Stdout); len(r.ToolError) > 0 {
			return evs, fmt.Errorf("%s: socketfilterfw said %q", cmd, strings.Join(r.ToolError, " / "))
		}
	}
	res, err := p.run.Run(ctx, sfw(getter))
	evs = append(evs, posture.ExecEvidence(res))
	if err != nil {
		return evs, fmt.Errorf("re-reading %s after the change: %w", c.Key, err)
	}
	got, ok := value(Parse(res.Stdout))
	if !ok {
		return evs, fmt.Errorf("re-reading %s after the change: could not parse %s output %s", c.Key, getter, strconvQuote(strings.TrimSpace(string(res.Stdout))))
	}
	if got != c.To {
		last := evs[len(evs)-2]
		return evs, fmt.Errorf("%s did not take: %s now reads %s, want %s (the tool said %s)",
			host.QuoteArgv(last.Argv), c.Key, got, c.To, strconvQuote(strings.TrimSpace(last.Stdout+last.Stderr)))
	}
	p.last = nil
	return evs, nil
}
