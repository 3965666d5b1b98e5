// Package nftposture is the posture provider for the Linux host firewall: it judges the kernel's
// whole nftables ruleset (whichever tool wrote it) against the baseline's linux.firewall section,
// names the tool that owns the firewall (ufw, firewalld, iptables-nft, nft, firewarden), and fixes
// by writing one firewarden-owned table (package fwtable) in a single transaction, after taking a
// snapshot of it that rollback restores exactly. Rules of other tools are reported, never deleted.
package nftposture

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/posture"
	"github.com/firewarden/firewarden/internal/posture/nftposture/fwtable"
	"github.com/firewarden/firewarden/internal/posture/nftposture/ruleset"
)

// Check IDs owned by this provider, in report order.
const (
	IDEnabled = "linux.firewall.enabled"
	IDStealth = "linux.firewall.stealth"
	IDLogging = "linux.firewall.logging"
	IDAllowed = "linux.firewall.allowed"
)

// KeyTable is the Change key of the one setting a fix makes: firewarden's own table.
const KeyTable = "linux.firewall.table"

// Source is what Result.Source says: the verdicts rest on the kernel's ruleset read over netlink.
const Source = "nftables"

// Kernel is what the provider needs of the kernel's nftables: read and analyse the whole
// ruleset, and write, snapshot and restore firewarden's own table. NewKernel returns the real
// one (netlink, Linux only); tests use a fake.
type Kernel interface {
	// Read reads the whole ruleset and returns what it does with inbound packets, and a
	// readable listing of it for evidence.
	Read() (ruleset.Analysis, string, error)
	// Current reads firewarden's table: present, and exact when it is precisely what Write
	// makes of spec.
	Current() (spec fwtable.Spec, present, exact bool, err error)
	// Take snapshots firewarden's table (Absent when there is none).
	Take() (fwtable.Snapshot, error)
	// Write replaces firewarden's table with spec in one transaction.
	Write(fwtable.Spec) error
	// Restore puts firewarden's table back as the snapshot holds it, in one transaction.
	Restore(fwtable.Snapshot) error
	// Check reports whether Restore could decode a snapshot, touching nothing.
	Check(fwtable.Snapshot) error
	// Same reports whether two snapshots hold the same table apart from what the kernel counts
	// while it runs.
	Same(a, b fwtable.Snapshot) (bool, error)
}

// Options are the inputs a run gives the provider beyond the host.
type Options struct {
	// TakeOver lets fix write firewarden's table although ufw or firewalld owns the firewall
	// (their rules stay).
	TakeOver bool
	// Getenv reads the environment (SSH_CONNECTION: the session a fix must keep); nil reads none.
	Getenv func(string) string
	// Warn reports something the operator should know about a fix (one line, no newline).
	Warn func(string)
	// Unattended is a run with no operator to ask (the agent in enforce mode): Plan carries
	// over the sessions firewarden's table keeps (an earlier fix kept the SSH session it ran
	// under; nobody here can say it is over), and Suspended may hold the fix back.
	Unattended bool
	// Suspended says why an unattended run must not write the table ("" when it may): a fix
	// that asked for confirmation was reverted unconfirmed, perhaps because it cut its operator
	// off, and no fix has settled the table since. Writing it again is left to a person.
	Suspended func() string
	// Run runs programs (iptables-legacy-save, to list legacy iptables rules); nil runs none.
	Run host.Runner
	// ReadProc reads a kernel file under /proc, to find legacy iptables tables (the command
	// line gives os.ReadFile); nil looks for none, so a test never depends on its machine.
	ReadProc func(name string) ([]byte, error)
	// Hold is called each time Apply has settled firewarden's table (written and verified, or
	// restored and verified) with a snapshot of it as the kernel now holds it (Absent when
	// there is none), so that the table can be put back after a reboot. nil when this run must
	// not hold it: a fix that waits for confirmation, the revert of one.
	//
	// The provider is the seam, rather than the CLI after the engine's Fix, because every
	// writer of the table goes through Apply (fix, rollback, the agent's enforce mode), and
	// because the engine re-checks right after its changes: the table is held before that
	// check looks. An error is reported through Warn, not as a failed change: the table is in
	// place and verified either way, and check says that it is not held.
	Hold func(context.Context, fwtable.Snapshot) error
	// Persistence reports how firewarden's table is kept across a reboot; nil: check does not
	// look (linux.firewall.enabled then judges the running ruleset only).
	Persistence func() Persistence
}

// Persistence is what the checks learn of how firewarden's table survives a reboot.
type Persistence struct {
	Path string // the held file, as messages name it
	Held *Held  // the held table; nil when there is none
	Err  error  // the held file could not be read, or is damaged
	// Pending is a fix waiting for confirmation: its table is held at `fix --confirm`.
	Pending bool
	// Boot says why the held table will not be put back at boot ("" when it will): the boot
	// service is missing or not enabled.
	Boot string
	// Note is said beside a pass: how the table comes back on a host without systemd.
	Note string
}

// Provider evaluates and fixes the linux.firewall checks. One value serves one command run.
type Provider struct {
	root   host.Root
	os     host.OS
	kernel Kernel
	opts   Options
	// unheld is why the table that decides linux.firewall.enabled is not held for boot, as the
	// last Evaluate found it: Plan writes the table again (and so holds it) when it is set.
	unheld string
}

// New returns a Provider for the host under root, reading and writing through kernel.
func New(root host.Root, osinfo host.OS, kernel Kernel, opts Options) *Provider {
	return &Provider{root: root, os: osinfo, kernel: kernel, opts: opts}
}

// IDs implements posture.Provider.
func (p *Provider) IDs() []string { return []string{IDEnabled, IDStealth, IDLogging, IDAllowed} }

// reading is everything one evaluation read.
type reading struct {
	analysis ruleset.Analysis
	listing  string
	err      error
	owners   owners
	keeps    []fwtable.Keep // the sessions firewarden's table keeps open (allowed by design)
	legacy   legacy         // legacy iptables tables beside the nftables ruleset
	// suspended says why this unattended run must leave the table alone (Options.Suspended).
	suspended string
	evidence  []posture.Evidence
}

// Evaluate implements posture.Provider.
func (p *Provider) Evaluate(ctx context.Context, req posture.Request) []posture.Result {
	var ids []string
	for _, id := range p.IDs() {
		if included(req, id) && req.Wants(id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	out := make([]posture.Result, 0, len(ids))
	if p.os.Kind != host.Linux {
		for _, id := range ids {
			out = append(out, posture.Result{ID: id, Title: titles[id], Status: posture.NotApplicable,
				Expected: expected(req, id), Actual: "-", Source: "-", Controls: controls(id, p.os),
				Detail: "nftables exists on Linux only; this host runs " + p.os.String()})
		}
		return out
	}
	rd := p.read(ctx)
	for _, id := range ids {
		r := p.judge(req, id, rd)
		r.ID, r.Title, r.Source, r.Controls = id, titles[id], Source, controls(id, p.os)
		r.Evidence = rd.evidence
		req.Exempt(&r)
		out = append(out, r)
	}
	return out
}

var titles = map[string]string{
	IDEnabled: "Inbound traffic is filtered (nftables)",
	IDStealth: "Unmatched inbound traffic is dropped, not answered",
	IDLogging: "Dropped inbound traffic is logged, rate-limited",
	IDAllowed: "Only the baseline's services are open",
}

func included(req posture.Request, id string) bool {
	f := req.Baseline.Linux.Firewall
	switch id {
	case IDEnabled:
		return f.Enabled != nil
	case IDStealth:
		return f.Stealth != nil
	case IDLogging:
		return f.Logging != nil
	case IDAllowed:
		return f.Allowed != nil
	}
	return false
}

// read reads the ruleset once, the legacy iptables tables beside it, and the owner files under
// the root.
func (p *Provider) read(ctx context.Context) *reading {
	rd := &reading{}
	rd.analysis, rd.listing, rd.err = p.kernel.Read()
	if rd.err == nil {
		rd.evidence = append(rd.evidence, posture.NetlinkEvidence("nftables ruleset", rd.listing))
	}
	if cur, present, _, err := p.kernel.Current(); err == nil && present {
		rd.keeps = cur.Keep
	}
	if p.opts.Unattended && p.opts.Suspended != nil {
		rd.suspended = p.opts.Suspended()
	}
	if rd.err == nil {
		rd.legacy = p.readLegacy(ctx)
		rd.evidence = append(rd.evidence, rd.legacy.evidence...)
	}
	rd.owners = p.readOwners(rd.analysis)
	rd.evidence = append(rd.evidence, rd.owners.evidence...)
	return rd
}

// readError is the Result for a ruleset that could not be read.
func readError(err error) posture.Result {
	r := posture.Result{Status: posture.Error, Actual: "unknown", Detail: "read the nftables ruleset: " + err.Error()}
	switch {
	case errors.Is(err, fs.ErrPermission):
		r.Detail = "reading the nftables ruleset needs root: run as root (sudo firewarden check)"
	case errors.Is(err, errors.ErrUnsupported):
		r.Detail = "reading nftables needs a Linux kernel; this firewarden was built for another system"
	}
	return r
}

// Plan implements posture.Provider: one change, firewarden's table built from the baseline, from
// the snapshot of that table taken now.
func (p *Provider) Plan(ctx context.Context, req posture.Request, failing []posture.Result) ([]posture.Change, error) {
	if len(failing) == 0 {
		return nil, nil
	}
	spec, warn := BuildSpec(req.Baseline.Linux.Firewall, p.getenv("SSH_CONNECTION"))
	if warn != "" && p.opts.Warn != nil {
		p.opts.Warn(warn)
	}
	cur, present, exact, err := p.kernel.Current()
	if err != nil {
		return nil, fmt.Errorf("read firewarden's table %s: %w", fwtable.Table, err)
	}
	if p.opts.Unattended && present {
		spec.Keep = carryKeeps(spec.Keep, cur.Keep)
	}
	if present && exact && sameSpec(cur, spec) && p.unheld == "" {
		// Writing it again changes nothing: what fails is in another tool's table.
		if p.opts.Warn != nil {
			p.opts.Warn(fmt.Sprintf("table inet %s already holds what the baseline asks; what still fails is in another table (see check)", fwtable.Table))
		}
		return nil, nil
	}
	snap, err := p.kernel.Take()
	if err != nil {
		return nil, fmt.Errorf("snapshot firewarden's table %s before the fix: %w", fwtable.Table, err)
	}
	from, err := json.Marshal(snap)
	if err != nil {
		return nil, err
	}
	to, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	// A table edited by hand (not exact) is put back: its edits are what drifted.
	weakens := present && exact && widens(cur, spec)
	return []posture.Change{{Check: failing[0].ID, Key: KeyTable, From: string(from), To: string(to), Weakens: weakens}}, nil
}

// carryKeeps adds to keep the sessions the current table keeps that keep lacks.
func carryKeeps(keep, current []fwtable.Keep) []fwtable.Keep {
	for _, k := range current {
		if !slices.ContainsFunc(keep, func(x fwtable.Keep) bool {
			return x.Source == k.Source && x.Proto == k.Proto && x.Port == k.Port
		}) {
			keep = append(keep, k)
		}
	}
	return keep
}

func (p *Provider) getenv(k string) string {
	if p.opts.Getenv == nil {
		return ""
	}
	return p.opts.Getenv(k)
}

// sameSpec reports whether a and b make the same table. fwtable.Current reads back consecutive
// services with the same ports as one, and the default log prefix as "".
func sameSpec(a, b fwtable.Spec) bool {
	x, _ := json.Marshal(normalSpec(a))
	y, _ := json.Marshal(normalSpec(b))
	return string(x) == string(y)
}

func normalSpec(s fwtable.Spec) fwtable.Spec {
	if s.LogPrefix == fwtable.DefaultLogPrefix {
		s.LogPrefix = ""
	}
	var merged []fwtable.Service
	for _, a := range s.Allowed {
		if n := len(merged); n > 0 {
			last := &merged[n-1]
			if last.Proto == a.Proto && last.From == a.From && last.To == a.To && len(last.Sources) > 0 && len(a.Sources) > 0 {
				last.Sources = append(slices.Clone(last.Sources), a.Sources...)
				continue
			}
		}
		merged = append(merged, a)
	}
	s.Allowed = merged
	if len(s.Keep) == 0 {
		s.Keep = nil
	}
	s.Keep = slices.Clone(s.Keep) // the caller's slice stays as it was
	for i := range s.Keep {
		s.Keep[i].Why = ""
	}
	return s
}

// Validate implements posture.Validator: the change's target must decode as a table spec or a
// snapshot, so that a damaged backup is refused before anything is written.
func (p *Provider) Validate(c posture.Change) error {
	if c.Key != KeyTable {
		return fmt.Errorf("unknown setting %q (the linux.firewall checks change only %s)", c.Key, KeyTable)
	}
	if !strings.HasPrefix(c.Check, "linux.firewall.") {
		return fmt.Errorf("%s is not a linux.firewall check", c.Check)
	}
	_, _, err := decodeTarget(c.To)
	return err
}

// decodeTarget reads a change's value: a Spec (fix) or a Snapshot (rollback, revert). Exactly one
// is non-nil.
func decodeTarget(v string) (*fwtable.Spec, *fwtable.Snapshot, error) {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal([]byte(v), &keys); err != nil {
		return nil, nil, fmt.Errorf("the saved table is not JSON: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(v))
	dec.DisallowUnknownFields()
	_, isSnap := keys["absent"]
	_, isSpec := keys["allowed"]
	switch {
	case isSnap && !isSpec:
		var s fwtable.Snapshot
		if err := dec.Decode(&s); err != nil {
			return nil, nil, fmt.Errorf("the saved snapshot of table %s is damaged: %v", fwtable.Table, err)
		}
		if s.Absent != (len(s.Data) == 0) {
			return nil, nil, fmt.Errorf("the saved snapshot of table %s is damaged: absent must go with no data", fwtable.Table)
		}
		if err := fwtable.CheckSnapshot(s); err != nil {
			return nil, nil, fmt.Errorf("the saved snapshot of table %s is damaged: %v", fwtable.Table, err)
		}
		return nil, &s, nil
	case isSpec && !isSnap:
		var s fwtable.Spec
		if err := dec.Decode(&s); err != nil {
			return nil, nil, fmt.Errorf("the saved table %s is damaged: %v", fwtable.Table, err)
		}
		if err := validSpec(s); err != nil {
			return nil, nil, fmt.Errorf("the saved table %s is damaged: %v", fwtable.Table, err)
		}
		if err := fwtable.CheckSpec(s); err != nil {
			return nil, nil, fmt.Errorf("the saved table %s is damaged: %v", fwtable.Table, err)
		}
		return &s, nil, nil
	}
	return nil, nil, fmt.Errorf("the saved value is neither a table nor a snapshot of %s", fwtable.Table)
}

func validSpec(s fwtable.Spec) error {
	for _, a := range s.Allowed {
		if a.Proto != "tcp" && a.Proto != "udp" {
			return fmt.Errorf("service proto %q is not tcp or udp", a.Proto)
		}
		if a.From == 0 || a.To < a.From {
			return fmt.Errorf("service port range %d-%d is not a range of ports", a.From, a.To)
		}
		for _, p := range a.Sources {
			if !p.IsValid() || p != p.Masked() {
				return fmt.Errorf("service source %v is not a network prefix", p)
			}
		}
	}
	for _, k := range s.Keep {
		if k.Proto != "tcp" && k.Proto != "udp" || k.Port == 0 {
			return fmt.Errorf("kept session %s %d is not a tcp or udp port", k.Proto, k.Port)
		}
	}
	return nil
}

// Apply implements posture.Provider: write the table (and verify the kernel holds exactly it, and
// that unmatched inbound traffic is no longer accepted), or restore a snapshot (and verify a new
// snapshot equals it).
func (p *Provider) Apply(ctx context.Context, c posture.Change) ([]posture.Evidence, error) {
	if err := p.Validate(c); err != nil {
		return nil, err
	}
	if p.os.Kind != host.Linux {
		return nil, fmt.Errorf("%s: nftables exists on Linux only; this host runs %s", c.Key, p.os)
	}
	spec, snap, _ := decodeTarget(c.To)
	if snap != nil {
		if err := p.kernel.Restore(*snap); err != nil {
			return nil, fmt.Errorf("restore table inet %s: %w", fwtable.Table, err)
		}
		got, err := p.kernel.Take()
		if err != nil {
			return nil, fmt.Errorf("re-read table inet %s after restoring it: %w", fwtable.Table, err)
		}
		if got.Absent != snap.Absent || string(got.Data) != string(snap.Data) {
			return nil, fmt.Errorf("table inet %s was restored but the kernel holds something else", fwtable.Table)
		}
		p.hold(ctx, got)
		return p.afterEvidence(), nil
	}
	if err := p.kernel.Write(*spec); err != nil {
		return nil, fmt.Errorf("write table inet %s: %w", fwtable.Table, err)
	}
	cur, present, exact, err := p.kernel.Current()
	switch {
	case err != nil:
		return nil, fmt.Errorf("re-read table inet %s after writing it: %w", fwtable.Table, err)
	case !present:
		return nil, fmt.Errorf("table inet %s was written but the kernel does not hold it", fwtable.Table)
	case !exact || !sameSpec(cur, *spec):
		return nil, fmt.Errorf("table inet %s was written but the kernel holds something else", fwtable.Table)
	}
	if p.opts.Hold != nil {
		snap, err := p.kernel.Take()
		if err != nil {
			p.warn(fmt.Sprintf("table inet %s is in place but not held for boot: snapshot it: %v", fwtable.Table, err))
		} else {
			p.hold(ctx, snap)
		}
	}
	a, listing, err := p.kernel.Read()
	if err != nil {
		return nil, fmt.Errorf("re-read the ruleset after writing table inet %s: %w", fwtable.Table, err)
	}
	ev := []posture.Evidence{posture.NetlinkEvidence("nftables ruleset", listing)}
	if !spec.Reject {
		for _, o := range unmatched(a) {
			if o.outcome.Verdict == ruleset.Accept {
				return ev, fmt.Errorf("table inet %s is in place, yet unmatched %s is still accepted (%s)", fwtable.Table, o.name, by(o.outcome.By))
			}
		}
	}
	return ev, nil
}

// hold hands the settled table to Options.Hold, if any; a failure is a warning (see Hold).
func (p *Provider) hold(ctx context.Context, snap fwtable.Snapshot) {
	if p.opts.Hold == nil {
		return
	}
	if err := p.opts.Hold(ctx, snap); err != nil {
		p.warn(fmt.Sprintf("table inet %s is in place but not held for boot: %v", fwtable.Table, err))
	}
}

func (p *Provider) warn(s string) {
	if p.opts.Warn != nil {
		p.opts.Warn(s)
	}
}

func (p *Provider) afterEvidence() []posture.Evidence {
	if _, listing, err := p.kernel.Read(); err == nil {
		return []posture.Evidence{posture.NetlinkEvidence("nftables ruleset", listing)}
	}
	return nil
}

var (
	_ posture.Provider  = (*Provider)(nil)
	_ posture.Validator = (*Provider)(nil)
)
