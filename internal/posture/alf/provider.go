package alf

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/posture"
	"github.com/firewarden/firewarden/internal/posture/baseline"
)

// Check IDs owned by this provider, in report order.
const (
	IDEnabled               = "alf.enabled"
	IDBlockAll              = "alf.block_all"
	IDStealth               = "alf.stealth"
	IDLogging               = "alf.logging"
	IDAllowSigned           = "alf.allow_signed"
	IDAllowDownloadedSigned = "alf.allow_downloaded_signed"
	IDApps                  = "alf.apps"
)

// Provider evaluates and changes the Application Firewall. One value serves one command run.
type Provider struct {
	root    host.Root
	os      host.OS
	run     host.Runner
	toggles map[string]toggle
	checks  []check

	last *collection // what the latest Evaluate read, for Plan
}

// New returns a Provider for the Mac under root.
func New(root host.Root, osinfo host.OS, run host.Runner) *Provider {
	t := toggleTable()
	return &Provider{root: root, os: osinfo, run: run, toggles: t, checks: checkTable(t)}
}

// IDs implements posture.Provider.
func (p *Provider) IDs() []string {
	return []string{IDEnabled, IDBlockAll, IDStealth, IDLogging, IDAllowSigned, IDAllowDownloadedSigned, IDApps}
}

// collection is everything one evaluation read: one socketfilterfw run and two files at most.
type collection struct {
	reading Reading
	runEv   *posture.Evidence
	runErr  error

	plist    *PlistState // nil on macOS 15+ or when absent/unreadable
	plistEv  *posture.Evidence
	plistErr error

	profile    Profile
	profileEv  posture.Evidence
	profileErr error
}

// logsByDefault reports whether this macOS logs always and has no logging switch: macOS 15 made
// logging automatic and 15.4 removed the flags (alf.md §0 items 4–5).
func (p *Provider) logsByDefault() bool { return p.os.Major >= 15 }

// plistAuthoritative reports whether com.apple.alf.plist still holds live settings (macOS 14 and
// earlier; Apple's macOS 15 release notes say it no longer does).
func (p *Provider) plistAuthoritative() bool { return p.os.Major > 0 && p.os.Major < 15 }

// Evaluate implements posture.Provider.
func (p *Provider) Evaluate(ctx context.Context, req posture.Request) []posture.Result {
	checks := p.selected(req)
	if len(checks) == 0 {
		return nil
	}
	if p.os.Kind != host.MacOS {
		out := make([]posture.Result, 0, len(checks))
		for _, c := range checks {
			out = append(out, posture.Result{ID: c.id, Title: c.title, Status: posture.NotApplicable,
				Expected: c.expected(req.Baseline), Actual: "-", Source: "-", Controls: p.controls(c.id),
				Detail: "the Application Firewall exists on macOS only; this host runs " + p.os.String()})
		}
		return out
	}
	col := p.collect(ctx, checks)
	p.last = col
	out := make([]posture.Result, 0, len(checks))
	for _, c := range checks {
		r := c.eval(p, col, req.Baseline)
		if r.Status != posture.NotApplicable {
			if bad := col.untrustworthy(); bad != nil {
				r = *bad
			}
		}
		r.ID, r.Title = c.id, c.title
		r.Controls = p.controls(c.id)
		if r.Expected == "" {
			r.Expected = c.expected(req.Baseline)
		}
		if r.Status == "" {
			r.Status = posture.Pass
		}
		r.Evidence = col.evidence()
		req.Exempt(&r)
		out = append(out, r)
	}
	return out
}

// untrustworthy returns an Error result when what was read cannot support any verdict: a
// socketfilterfw output that contradicts itself, or a firewall profile that does not parse (the
// Mac is managed, but what the profile enforces is unknown).
func (c *collection) untrustworthy() *posture.Result {
	switch {
	case len(c.reading.Conflicts) > 0:
		r := c.missing("consistent answer")
		r.Detail = "socketfilterfw contradicted itself (" + strconvQuote(strings.Join(c.reading.Conflicts, " / ")) + "); " + r.Detail
		return &r
	case c.profileErr != nil:
		return &posture.Result{Status: posture.Error, Actual: "unknown", Source: "profile", Managed: true,
			Detail: c.profileErr.Error() + "; the Mac is managed but what its firewall profile enforces cannot be read: check the profile in your MDM"}
	}
	return nil
}

func (c *collection) evidence() []posture.Evidence {
	var ev []posture.Evidence
	if c.runEv != nil {
		ev = append(ev, *c.runEv)
	}
	if c.plistEv != nil {
		ev = append(ev, *c.plistEv)
	}
	return append(ev, c.profileEv)
}

// selected returns the checks the baseline names and --only selects, in report order.
func (p *Provider) selected(req posture.Request) []check {
	var out []check
	for _, c := range p.checks {
		if c.want(req.Baseline) && req.Wants(c.id) {
			out = append(out, c)
		}
	}
	return out
}

// collect runs socketfilterfw once with every getter the selected checks need, and reads the
// profile and (on macOS 14 and earlier) the plist.
func (p *Provider) collect(ctx context.Context, checks []check) *collection {
	col := &collection{}
	var flags []string
	seen := map[string]bool{}
	for _, c := range checks {
		if c.id == IDLogging && p.logsByDefault() {
			continue
		}
		for _, f := range c.getters {
			if !seen[f] {
				seen[f] = true
				flags = append(flags, f)
			}
		}
	}
	if len(flags) > 0 {
		res, err := p.run.Run(ctx, host.Cmd{Path: SocketFilterFW, Args: flags})
		if len(res.Argv) > 0 {
			ev := posture.ExecEvidence(res)
			col.runEv = &ev
		}
		col.reading, col.runErr = Parse(res.Stdout), err
		if err != nil && errors.Is(err, host.ErrNotInstalled) {
			col.runErr = fmt.Errorf("%s is missing under %s: is this a Mac?", SocketFilterFW, p.root.Dir())
		}
	}

	data, err := p.root.ReadFile(ProfilePath)
	col.profileEv = posture.FileEvidence(ProfilePath, data, ignoreMissing(err))
	switch {
	case err == nil:
		prof, perr := ParseProfile(data)
		if perr != nil {
			// An unreadable profile still means the Mac is managed: socketfilterfw refuses writes.
			prof = Profile{Present: true}
			col.profileErr = perr
		}
		col.profile = prof
	case errors.Is(err, fs.ErrNotExist):
		col.profileEv.Content = "(absent: no firewall configuration profile)"
	}

	if p.plistAuthoritative() {
		data, err := p.root.ReadFile(PlistPath)
		ev := posture.FileEvidence(PlistPath, data, ignoreMissing(err))
		col.plistEv = &ev
		switch {
		case err == nil:
			st, perr := ParsePlist(data)
			if perr != nil {
				col.plistErr = perr
			} else {
				col.plist = &st
			}
		case errors.Is(err, fs.ErrNotExist):
			col.plistEv.Content = "(absent)"
		default:
			col.plistErr = err
		}
	}
	return col
}

func ignoreMissing(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// missing builds the Error result for a value the output did not contain: the raw text goes with
// it, so nobody mistakes unparseable output for "off".
func (c *collection) missing(what string) posture.Result {
	r := posture.Result{Status: posture.Error, Actual: "unknown", Source: "socketfilterfw"}
	var why []string
	if c.runErr != nil {
		why = append(why, c.runErr.Error())
	}
	why = append(why, c.reading.ToolError...)
	if len(why) == 0 {
		why = append(why, "socketfilterfw printed no "+what)
	}
	raw := ""
	if c.runEv != nil {
		raw = strings.TrimSpace(c.runEv.Stdout + "\n" + c.runEv.Stderr)
	}
	r.Detail = strings.Join(why, "; ") + "; raw output: " + strconvQuote(raw)
	return r
}

func strconvQuote(s string) string {
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return strconv.Quote(s)
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// controls returns the control references for a check on this macOS version (CIS numbering per
// alf.md §5: Big Sur and Monterey used 2.5.2.x; Ventura onwards 2.2.x; logging 3.6 until 14;
// 800-53r5 per mSCP).
func (p *Provider) controls(id string) []string {
	old := p.os.Kind == host.MacOS && p.os.Major > 0 && p.os.Major < 13
	switch id {
	case IDEnabled:
		cis := "CIS 2.2.1"
		if old {
			cis = "CIS 2.5.2.2"
		}
		return []string{cis, "800-53r5 AC-4", "800-53r5 CM-7", "800-53r5 CM-7(1)", "800-53r5 SC-7", "800-53r5 SC-7(12)"}
	case IDStealth:
		cis := "CIS 2.2.2"
		if old {
			cis = "CIS 2.5.2.3"
		}
		return []string{cis, "800-53r5 CM-7", "800-53r5 CM-7(1)", "800-53r5 SC-7", "800-53r5 SC-7(16)"}
	case IDLogging:
		return []string{"CIS 3.6", "800-53r5 AU-12", "800-53r5 SC-7"}
	case IDBlockAll:
		return []string{"800-53r5 SC-7", "800-53r5 SC-7(5)", "800-53r5 CM-7"}
	case IDAllowSigned, IDAllowDownloadedSigned:
		return []string{"800-53r5 CM-7", "800-53r5 SC-7"}
	case IDApps:
		return []string{"800-53r5 AC-4", "800-53r5 CM-7", "800-53r5 SC-7"}
	}
	return nil
}

var (
	_ posture.Provider  = (*Provider)(nil)
	_ posture.Validator = (*Provider)(nil)
)

// boolWant reads a *bool baseline field as "on"/"off", "" when absent.
func boolWant(b *bool) string {
	if b == nil {
		return ""
	}
	return onOff(*b)
}

func firewall(b *baseline.Baseline) *baseline.Firewall { return &b.Firewall }
