// Package exposureposture holds the posture checks exposure.unexpected and exposure.too_wide: the
// host's listening sockets, read as `firewarden exposure` reads them (exposure.Collect), judged
// against the baseline's exposure section with exposure.Judge. It is a posture.Provider.
//
// Nothing here is fixable: which service to stop, or which bind address to change, is the
// operator's decision, so a failing check carries the fix in words (FixHint) and fix refuses it.
package exposureposture

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"unicode"

	"github.com/firewarden/firewarden/internal/exposure"
	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/posture"
)

// Check IDs, in report order.
const (
	IDUnexpected = "exposure.unexpected"
	IDTooWide    = "exposure.too_wide"
)

// EvidenceKind is the Kind of the evidence holding the listing the verdicts rest on.
const EvidenceKind = "listeners"

// maxListed bounds the listeners a Detail or FixHint names one by one; the evidence holds them all.
const maxListed = 20

// Options are the inputs a run gives the provider beyond the host.
type Options struct {
	// Reading is how the listeners are read, as `firewarden exposure` reads them. Its
	// Unprivileged says firewarden reads the real system without root: on Linux the sockets of
	// other users' processes are then listed without a process, on macOS lsof lists only the
	// caller's own sockets.
	Reading exposure.CollectOptions
}

// Provider evaluates the exposure checks. A value serves one run: it reads the sockets once
// for both checks.
type Provider struct {
	root host.Root
	os   host.OS
	run  host.Runner
	opts Options

	read *reading
}

// reading is one listing of the host's sockets.
type reading struct {
	rep      exposure.Report
	err      error
	evidence []posture.Evidence
}

// New returns a Provider for the host under root, described by osinfo, running programs (lsof
// and ps on macOS) through run.
func New(root host.Root, osinfo host.OS, run host.Runner, opts Options) *Provider {
	return &Provider{root: root, os: osinfo, run: run, opts: opts}
}

// IDs implements posture.Provider.
func (p *Provider) IDs() []string { return []string{IDUnexpected, IDTooWide} }

var titles = map[string]string{
	IDUnexpected: "Only the listeners the baseline lists are listening",
	IDTooWide:    "No listener binds more widely than the baseline allows",
}

// verdictOf is the verdict each check fails on.
var verdictOf = map[string]exposure.Verdict{IDUnexpected: exposure.Unexpected, IDTooWide: exposure.TooWide}

// Evaluate implements posture.Provider: one Result per exposure check the request selects.
//
// A baseline without an exposure section does not include the checks, like any key a baseline
// leaves out (baseline.Baseline): no result, and `check --only exposure.unexpected` is refused
// as naming a check the baseline does not include. There is nothing to judge the listeners by,
// and a default cannot know which services a host runs.
func (p *Provider) Evaluate(ctx context.Context, req posture.Request) []posture.Result {
	if req.Baseline == nil || req.Baseline.Exposure == nil {
		return nil
	}
	var out []posture.Result
	for _, id := range p.IDs() {
		if !req.Wants(id) {
			continue
		}
		r := posture.Result{ID: id, Title: titles[id], Controls: p.controls(id), Expected: "none", Actual: "-", Source: "-"}
		switch {
		case p.os.Kind != host.Linux && p.os.Kind != host.MacOS:
			r.Status = posture.NotApplicable
			r.Detail = "listening sockets are read on Linux and macOS only; this host runs " + p.os.String()
		default:
			p.judge(ctx, &r, req)
		}
		req.Exempt(&r)
		out = append(out, r)
	}
	return out
}

// look returns the reading of this run, taking it on first use.
func (p *Provider) look(ctx context.Context) *reading {
	if p.read != nil {
		return p.read
	}
	rd := &reading{}
	// A recorder of its own: the lsof and ps runs are this check's evidence.
	rec := &host.Recorder{Runner: p.run}
	rd.rep, rd.err = exposure.Collect(ctx, p.root, p.os, rec, p.opts.Reading)
	for _, res := range rec.Runs() {
		rd.evidence = append(rd.evidence, posture.ExecEvidence(res))
	}
	if rd.err == nil {
		rd.evidence = append(rd.evidence, listingEvidence(p.source(), rd.rep))
	}
	p.read = rd
	return rd
}

// source names where the listing was read, for Result.Source and the evidence.
func (p *Provider) source() string {
	if p.os.Kind == host.MacOS {
		return "lsof"
	}
	return "/proc"
}

// judge fills in the status, actual value, detail and fix of r.
func (p *Provider) judge(ctx context.Context, r *posture.Result, req posture.Request) {
	rd := p.look(ctx)
	r.Source, r.Evidence = p.source(), rd.evidence
	if rd.err != nil {
		r.Status, r.Actual = posture.Error, "unknown"
		r.Detail = "list the listening sockets: " + rd.err.Error()
		if errors.Is(rd.err, fs.ErrPermission) {
			r.Detail += "; run firewarden as root"
		}
		return
	}
	file := req.Baseline.Source
	if file == "" || file == "default" {
		file = "the baseline"
	}
	exps := req.Baseline.Exposure.Expect
	var failing, unknown []exposure.Judgement
	for _, j := range exposure.JudgeOn(exposure.PlatformOf(p.os), rd.rep.Listeners, exps, file) {
		switch {
		case j.Verdict == exposure.Expected:
		case p.nameless(j, exps):
			unknown = append(unknown, j)
		case j.Verdict == verdictOf[r.ID]:
			failing = append(failing, j)
		}
	}
	var details []string
	switch {
	case len(failing) > 0:
		r.Status, r.Actual = posture.Fail, count(len(failing))
		r.FixHint = "firewarden changes no service or bind address; " + fixes(failing)
		details = append(details, fixes(failing))
	case len(unknown) > 0:
		r.Status, r.Actual = posture.Error, "unknown"
	case p.os.Kind == host.MacOS && p.opts.Reading.Unprivileged:
		// lsof without root lists only firewarden's own user's sockets: a pass would be a guess.
		r.Status, r.Actual = posture.Error, "unknown"
	default:
		r.Status, r.Actual = posture.Pass, "none"
	}
	if p.os.Kind == host.MacOS && p.opts.Reading.Unprivileged {
		details = append(details, "not root, so lsof listed only the sockets of your own processes: run firewarden as root (sudo firewarden check) to judge every listener")
	}
	if len(unknown) > 0 {
		details = append(details, "not root, so the process of these sockets is unknown and the baseline names processes on their ports: "+
			addrs(unknown)+"; run firewarden as root to judge them")
	}
	// What the reading warned of (skipped lines, a runtime that did not answer, ports ufw cannot
	// protect) qualifies the verdict without changing it.
	var skipped []string
	for _, w := range rd.rep.Warnings {
		if w != exposure.NotRootLinux && w != exposure.NotRootMac {
			skipped = append(skipped, w)
		}
	}
	if len(skipped) > 0 {
		details = append(details, "this verdict is conditional on what the reading warned: "+strings.Join(skipped, "; "))
	}
	r.Detail = strings.Join(details, "; ")
}

// nameless reports whether j's verdict rests on a process name a reader without root could not
// see: a socket listed without a process, on a port the baseline expects a named process on. With
// the name it might be expected, too wide or unexpected; without it, nothing can be said.
func (p *Provider) nameless(j exposure.Judgement, exps []exposure.Expectation) bool {
	if !p.opts.Reading.Unprivileged || j.Process != "" {
		return false
	}
	for _, e := range exps {
		if e.Process != "" && (e.Port == 0 || e.Port == j.Addr.Port()) && (e.Proto == "" || e.Proto == j.Proto) {
			return true
		}
	}
	return false
}

// count is "1 listener", "3 listeners".
func count(n int) string {
	if n == 1 {
		return "1 listener"
	}
	return strconv.Itoa(n) + " listeners"
}

// fixes lists each listener with its fix, at most maxListed of them.
func fixes(js []exposure.Judgement) string {
	var parts []string
	for i, j := range js {
		if i == maxListed {
			parts = append(parts, fmt.Sprintf("and %d more (the evidence lists every listener)", len(js)-maxListed))
			break
		}
		parts = append(parts, fmt.Sprintf("%s/%s: %s", j.Proto, j.Addr, oneLine(j.Fix)))
	}
	return strings.Join(parts, "; ")
}

// addrs lists the listeners' protocol/address:port, at most maxListed of them.
func addrs(js []exposure.Judgement) string {
	var parts []string
	for i, j := range js {
		if i == maxListed {
			parts = append(parts, fmt.Sprintf("and %d more", len(js)-maxListed))
			break
		}
		parts = append(parts, j.Proto+"/"+j.Addr.String())
	}
	return strings.Join(parts, ", ")
}

// listingEvidence records the listing the verdicts rest on, one listener a line (protocol,
// address, scope, pid, process, executable, then the container and the firewall's verdict when
// known), then the reader's warnings, with a SHA-256 over it.
func listingEvidence(source string, rep exposure.Report) posture.Evidence {
	var b strings.Builder
	for _, l := range rep.Listeners {
		// Quoted: a process names itself, and a newline in its name must not forge a line.
		fmt.Fprintf(&b, "%s %s %s pid=%d process=%q path=%q", l.Proto, l.Addr, l.Scope, l.PID, l.Process, l.Path)
		if c := l.Container; c != nil {
			fmt.Fprintf(&b, " container=%q", c.Runtime+":"+c.Name)
		}
		if f := l.Firewall; f != nil {
			fmt.Fprintf(&b, " firewall=%s why=%q", f.Verdict, f.Why)
		}
		b.WriteByte('\n')
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return posture.Evidence{Kind: EvidenceKind, Path: source, Content: b.String(), SHA256: hex.EncodeToString(sum[:])}
}

// oneLine replaces control characters (a process chooses its own name, newlines included) so that
// a detail stays one line of the report.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}

// controls are the benchmark items and 800-53r5 controls a check maps to.
//
// CIS Debian Linux 12 v1.1.0 2.1.22 "Ensure only approved services are listening on a network
// interface" asks that both the service and the port and interface it listens on be approved
// (https://tenable.com/audits/items/CIS_Debian_Linux_12_v1.1.0_L1_Workstation.audit:fda5ccda1ba54b93bbf7de8f3fa745d4);
// it is cited on Debian 12 only, the one release whose number a public source confirmed. No
// item of the CIS macOS benchmarks lists listening sockets. CIS Controls v8 4.8 "Uninstall or
// Disable Unnecessary Services on Enterprise Assets and Software"
// (https://controls-assessment-specification.readthedocs.io/en/latest/control-4/control-4.8.html).
// 800-53r5: CM-7 least functionality, CM-7(1) periodic review of ports and services, SC-7
// boundary protection (a service reachable from further than intended).
func (p *Provider) controls(id string) []string {
	var out []string
	if p.os.Kind == host.Linux && strings.HasPrefix(strings.ToLower(p.os.Name), "debian") && p.os.Major == 12 {
		out = append(out, "CIS Debian 12 2.1.22")
	}
	out = append(out, "CIS Controls v8 4.8")
	switch id {
	case IDUnexpected:
		return append(out, "800-53r5 CM-7", "800-53r5 CM-7(1)")
	case IDTooWide:
		return append(out, "800-53r5 CM-7", "800-53r5 SC-7")
	}
	return out
}

// Plan implements posture.Provider. The checks are never Fixable, so the engine never asks.
func (p *Provider) Plan(context.Context, posture.Request, []posture.Result) ([]posture.Change, error) {
	return nil, nil
}

// errNoChange is why a change to an exposure check is refused: there is none firewarden makes.
var errNoChange = errors.New("firewarden changes no listener: the exposure checks are fixed by the operator")

// Apply implements posture.Provider; there is nothing to apply.
func (p *Provider) Apply(_ context.Context, c posture.Change) ([]posture.Evidence, error) {
	return nil, fmt.Errorf("%s: %w", c.Check, errNoChange)
}

// Validate implements posture.Validator, so that a backup edited to name an exposure check is
// refused before rollback writes anything.
func (p *Provider) Validate(c posture.Change) error {
	return fmt.Errorf("%s: %w", c.Check, errNoChange)
}

var (
	_ posture.Provider  = (*Provider)(nil)
	_ posture.Validator = (*Provider)(nil)
)
