package alf

import (
	"fmt"
	"sort"
	"strings"

	"github.com/firewarden/firewarden/internal/posture"
	"github.com/firewarden/firewarden/internal/posture/baseline"
)

// check is one ALF control: what it reads and how it decides.
type check struct {
	id, title string
	getters   []string // socketfilterfw flags it needs
	want      func(*baseline.Baseline) bool
	expected  func(*baseline.Baseline) string
	eval      func(*Provider, *collection, *baseline.Baseline) posture.Result
}

// toggle describes an on/off ALF setting: where each source keeps it and how to change it.
type toggle struct {
	key        string // change key
	getter     string
	setter     string
	live       func(Reading) *bool
	plist      func(PlistState) *int // nil: no plist key
	plistOn    func(int) bool
	profileKey string
	profile    func(Profile) *bool
	field      func(*baseline.Firewall) *bool
	weakOn     bool // turning it on loosens the firewall (the allow-signed switches)
}

// toggleTable describes the on/off settings. It is built per Provider (no package-level state).
func toggleTable() map[string]toggle {
	return map[string]toggle{
		IDEnabled: {
			key: "alf.globalstate", getter: "--getglobalstate", setter: "--setglobalstate",
			live: func(r Reading) *bool {
				if r.GlobalState == nil {
					return nil
				}
				return ptr(*r.GlobalState >= 1)
			},
			plist: func(s PlistState) *int { return s.GlobalState }, plistOn: func(n int) bool { return n >= 1 },
			profileKey: "EnableFirewall", profile: func(p Profile) *bool { return p.EnableFirewall },
			field: func(f *baseline.Firewall) *bool { return f.Enabled },
		},
		IDBlockAll: {
			key: "alf.blockall", getter: "--getblockall", setter: "--setblockall",
			live:  blockAllLive,
			plist: func(s PlistState) *int { return s.GlobalState }, plistOn: func(n int) bool { return n == 2 },
			profileKey: "BlockAllIncoming", profile: func(p Profile) *bool { return p.BlockAllIncoming },
			field: func(f *baseline.Firewall) *bool { return f.BlockAll },
		},
		IDStealth: {
			key: "alf.stealth", getter: "--getstealthmode", setter: "--setstealthmode",
			live:  func(r Reading) *bool { return r.Stealth },
			plist: func(s PlistState) *int { return s.Stealth }, plistOn: func(n int) bool { return n == 1 },
			profileKey: "EnableStealthMode", profile: func(p Profile) *bool { return p.EnableStealth },
			field: func(f *baseline.Firewall) *bool { return f.Stealth },
		},
		IDAllowSigned: {
			key: "alf.allowsigned", getter: "--getallowsigned", setter: "--setallowsigned",
			live:  func(r Reading) *bool { return r.AllowSigned },
			plist: func(s PlistState) *int { return s.AllowSigned }, plistOn: func(n int) bool { return n == 1 },
			profileKey: "AllowSigned", profile: func(p Profile) *bool { return p.AllowSigned },
			field:  func(f *baseline.Firewall) *bool { return f.AllowSigned },
			weakOn: true,
		},
		IDAllowDownloadedSigned: {
			key: "alf.allowsignedapp", getter: "--getallowsigned", setter: "--setallowsignedapp",
			live:  func(r Reading) *bool { return r.AllowSignedApp },
			plist: func(s PlistState) *int { return s.AllowSignedApp }, plistOn: func(n int) bool { return n == 1 },
			profileKey: "AllowSignedApp", profile: func(p Profile) *bool { return p.AllowSignedApp },
			field:  func(f *baseline.Firewall) *bool { return f.AllowDownloadedSigned },
			weakOn: true,
		},
	}
}

// blockAllLive reads block-all from --getblockall, or from State 2 when that line is absent.
func blockAllLive(r Reading) *bool {
	if r.BlockAll != nil {
		return r.BlockAll
	}
	if r.GlobalState != nil {
		return ptr(*r.GlobalState == 2)
	}
	return nil
}

func toggleCheck(toggles map[string]toggle, id, title string, extraGetters ...string) check {
	t := toggles[id]
	return check{
		id: id, title: title,
		getters:  append([]string{t.getter}, extraGetters...),
		want:     func(b *baseline.Baseline) bool { return t.field(&b.Firewall) != nil },
		expected: func(b *baseline.Baseline) string { return boolWant(t.field(&b.Firewall)) },
		eval: func(p *Provider, c *collection, b *baseline.Baseline) posture.Result {
			return p.evalToggle(t, c, *t.field(&b.Firewall))
		},
	}
}

// checkTable lists the checks in report order.
func checkTable(toggles map[string]toggle) []check {
	return []check{
		toggleCheck(toggles, IDEnabled, "Application Firewall is on"),
		toggleCheck(toggles, IDBlockAll, "Block all incoming connections", "--getglobalstate"),
		toggleCheck(toggles, IDStealth, "Stealth mode"),
		{
			id: IDLogging, title: "Application Firewall logging",
			getters:  []string{"--getloggingmode", "--getloggingopt"},
			want:     func(b *baseline.Baseline) bool { return b.Firewall.Logging != nil },
			expected: func(b *baseline.Baseline) string { return loggingWant(*b.Firewall.Logging) },
			eval:     (*Provider).evalLogging,
		},
		toggleCheck(toggles, IDAllowSigned, "Automatically allow built-in signed software"),
		toggleCheck(toggles, IDAllowDownloadedSigned, "Automatically allow downloaded signed software"),
		{
			id: IDApps, title: "Application exceptions",
			getters:  []string{"--listapps"},
			want:     func(b *baseline.Baseline) bool { return b.Firewall.Apps != nil },
			expected: func(b *baseline.Baseline) string { return appsWant(b.Firewall.Apps) },
			eval:     (*Provider).evalApps,
		},
	}
}

// evalToggle decides an on/off setting from socketfilterfw, the plist (macOS 14 and earlier) and
// the profile.
func (p *Provider) evalToggle(t toggle, c *collection, want bool) posture.Result {
	live := t.live(c.reading)
	if live == nil {
		return c.missing(strings.TrimPrefix(t.getter, "--get") + " state")
	}
	r := posture.Result{Actual: onOff(*live), Source: "socketfilterfw", Fixable: true}
	if t.key == "alf.globalstate" {
		r.Actual = fmt.Sprintf("%s (State = %d)", onOff(*live), *c.reading.GlobalState)
	}
	compliant := *live == want
	var notes []string

	if c.plist != nil && t.plist != nil {
		if n := t.plist(*c.plist); n != nil && t.plistOn(*n) != *live {
			notes = append(notes, fmt.Sprintf("%s says %s (%d) but socketfilterfw says %s: the plist was edited directly (defaults write?) or the firewall has not re-read it",
				PlistPath, onOff(t.plistOn(*n)), *n, onOff(*live)))
			r.Source = "socketfilterfw+plist"
			compliant = compliant && t.plistOn(*n) == want
			r.Actual += fmt.Sprintf("; plist %s", onOff(t.plistOn(*n)))
		}
	} else if c.plistErr != nil {
		notes = append(notes, "could not cross-check the plist: "+c.plistErr.Error())
	}

	if c.profile.Present {
		r.Fixable = false
		if v := t.profile(c.profile); v != nil {
			r.Managed = true
			r.Source = "profile+socketfilterfw"
			if *v != want {
				r.FixHint = fmt.Sprintf("the configuration profile sets %s to %t; change it in your MDM", t.profileKey, *v)
			} else {
				r.FixHint = fmt.Sprintf("the configuration profile sets %s to %t but the firewall reads %s; check the profile's delivery in your MDM", t.profileKey, *v, onOff(*live))
			}
		} else {
			r.FixHint = fmt.Sprintf("this Mac has a firewall configuration profile, so socketfilterfw refuses local changes; add %s = %t to the profile in your MDM", t.profileKey, want)
		}
	}

	return conclude(r, compliant, notes)
}

// conclude sets the status from compliance and whether a profile manages the setting, and joins
// the notes (with the fix hint when the check fails) into the detail.
func conclude(r posture.Result, compliant bool, notes []string) posture.Result {
	switch {
	case compliant && r.Managed:
		r.Status = posture.Managed
	case compliant:
		r.Status = posture.Pass
	default:
		r.Status = posture.Fail
		if r.FixHint != "" {
			notes = append(notes, r.FixHint)
		}
	}
	r.Detail = strings.Join(notes, "; ")
	return r
}

func loggingWant(on bool) string {
	if on {
		return "on (detail)"
	}
	return "off"
}

// evalLogging: CIS 3.6 (macOS 12–14) wants logging on with the "detail" option. On macOS 15 and
// later logging is always on and its switches are gone, so the check does not apply.
func (p *Provider) evalLogging(c *collection, b *baseline.Baseline) posture.Result {
	want := *b.Firewall.Logging
	if p.logsByDefault() {
		return posture.Result{Status: posture.NotApplicable, Actual: "always on", Source: "macOS version",
			Detail: "macOS 15 and later log Application Firewall activity automatically and 15.4 removed the logging switches; CIS dropped the logging item for 15"}
	}
	if c.reading.Logging == nil {
		return c.missing("log mode")
	}
	r := posture.Result{Source: "socketfilterfw", Fixable: true}
	on, opt := *c.reading.Logging, c.reading.LoggingOpt
	r.Actual = onOff(on)
	if opt != "" {
		r.Actual += " (" + opt + ")"
	}
	compliant := on == want && (!want || opt == "detail")
	var notes []string
	if want && opt == "" {
		notes = append(notes, "socketfilterfw did not print the logging option")
		compliant = false
	}
	if c.plist != nil && c.plist.Logging != nil && (*c.plist.Logging == 1) != on {
		notes = append(notes, fmt.Sprintf("%s says loggingenabled %d but socketfilterfw says %s", PlistPath, *c.plist.Logging, onOff(on)))
		compliant = false
		r.Source = "socketfilterfw+plist"
	}
	if c.profile.Present {
		r.Fixable = false
		if c.profile.EnableLogging != nil || c.profile.LoggingOption != nil {
			r.Managed = true
			r.Source = "profile+socketfilterfw"
			r.FixHint = "the configuration profile sets EnableLogging/LoggingOption; change them in your MDM"
		} else {
			r.FixHint = "this Mac has a firewall configuration profile, so socketfilterfw refuses local changes; add EnableLogging = true and LoggingOption = detail to the profile"
		}
	}
	return conclude(r, compliant, notes)
}

func appsWant(a *baseline.Apps) string {
	s := fmt.Sprintf("allow %d, block %d", len(a.Allow), len(a.Block))
	if a.Exclusive {
		s += ", nothing else"
	}
	return s
}

// appState is an application's place in the firewall: "allow", "block" or "absent".
func appState(apps []App, path string) string {
	for _, a := range apps {
		if a.Path == path {
			if a.Allowed {
				return "allow"
			}
			return "block"
		}
	}
	return "absent"
}

// appDiff lists the changes that make the firewall's application list match the baseline.
func appDiff(have []App, want *baseline.Apps) []appChange {
	var out []appChange
	wanted := map[string]bool{}
	for _, set := range []struct {
		apps []baseline.App
		to   string
	}{{want.Allow, "allow"}, {want.Block, "block"}} {
		for _, a := range set.apps {
			wanted[a.Path] = true
			if cur := appState(have, a.Path); cur != set.to {
				out = append(out, appChange{path: a.Path, from: cur, to: set.to})
			}
		}
	}
	if want.Exclusive {
		for _, a := range have {
			if !wanted[a.Path] {
				out = append(out, appChange{path: a.Path, from: appState(have, a.Path), to: "absent"})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

type appChange struct{ path, from, to string }

func (p *Provider) evalApps(c *collection, b *baseline.Baseline) posture.Result {
	if !c.reading.AppsListed {
		return c.missing("application list")
	}
	r := posture.Result{Source: "socketfilterfw", Fixable: true}
	if c.reading.AppsByName {
		r.Status = posture.Error
		r.Actual = fmt.Sprintf("%d apps, by name only", len(c.reading.Apps))
		r.Detail = "socketfilterfw --listapps printed names instead of paths, so the list cannot be matched to the baseline"
		return r
	}
	allowed, blocked := 0, 0
	for _, a := range c.reading.Apps {
		if a.Allowed {
			allowed++
		} else {
			blocked++
		}
	}
	r.Actual = fmt.Sprintf("%d listed (%d allowed, %d blocked)", len(c.reading.Apps), allowed, blocked)
	diff := appDiff(c.reading.Apps, b.Firewall.Apps)
	if len(diff) == 0 {
		r.Status = posture.Pass
	} else {
		r.Status = posture.Fail
		var parts []string
		for _, d := range diff {
			parts = append(parts, fmt.Sprintf("%s is %s, want %s", d.path, d.from, d.to))
		}
		r.Detail = strings.Join(parts, "; ")
	}
	if c.profile.Present {
		r.Fixable = false
		r.Managed = len(c.profile.Applications) > 0
		r.FixHint = "this Mac has a firewall configuration profile, so socketfilterfw refuses local changes; list the applications (by bundle ID) in the profile's Applications array"
		if r.Status == posture.Fail {
			r.Detail += "; " + r.FixHint
		} else if r.Managed {
			r.Status = posture.Managed
		}
	}
	return r
}
