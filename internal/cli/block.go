package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/firewarden/firewarden/internal/block"
	"github.com/firewarden/firewarden/internal/block/nft"
	"github.com/firewarden/firewarden/internal/block/pf"
	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/service"
	"github.com/firewarden/firewarden/internal/statedir"
)

// blockVerbs are the verbs of `firewarden block`, in help order.
var blockVerbs = []string{"add", "remove", "allow", "unallow", "list", "expire", "enable", "disable", "sync", "summary", "autoconfigure"}

const blockUsage = "block needs a verb: add ADDR|CIDR… [--ttl 15m] [--reason TEXT] [--wide] [--self], remove ADDR|CIDR…, allow ADDR|CIDR… [--reason TEXT] [--wide], unallow ADDR|CIDR…, list, expire, enable, disable, sync, summary or autoconfigure [--interval 15m]"

// runBlock is `firewarden block VERB`: the adaptive firewall.
//
// Every change is made to the state first (block.json in the state directory, under its lock,
// written atomically), then the backend is synced to the state. The state is the source of
// truth: when the backend fails, the command says so and exits 2, and `block sync` repairs the
// kernel later. A change that is saved but not yet applied (the command was killed in between,
// or the backend failed) is marked in the state directory, and the next block command that
// changes anything applies it first (see unappliedFile). This never leaves the firewall weaker than before: backends apply a change as a
// whole or not at all, so the kernel keeps its earlier, stricter or equal, contents, and a state
// with fewer bans only loses entries once a sync succeeds.
func runBlock(ctx context.Context, a *app, args []string) error {
	if len(args) == 0 || !slices.Contains(blockVerbs, args[0]) {
		return usagef("%s", blockUsage)
	}
	verb := args[0]
	fs := a.flagSet("block " + verb)
	// list and summary read the state only: they take no --backend.
	backendName := new(string)
	if verb != "list" && verb != "summary" {
		backendName = fs.String("backend", "", "where bans go, `BACKEND`: nft, pf, dry-run or none (default: nft on Linux, pf on macOS; dry-run under a --root that is not /)")
	}
	var ttl, reason, interval *string
	var maxBans *int
	var wide, self *bool
	switch verb {
	case "add":
		ttl = fs.String("ttl", "", "how long the ban lasts (`DURATION`, e.g. 15m, 2h; 0: until removed; default 15m, doubled for each earlier ban of the address up to a week)")
		reason = fs.String("reason", "", "why (`TEXT`), shown by list and summary")
		maxBans = fs.Int("max-bans", block.DefaultMaxBans, "refuse new bans beyond `N` active ones")
		wide = fs.Bool("wide", false, "allow a ban wider than an IPv4 /8 or an IPv6 /16")
		self = fs.Bool("self", false, "allow a ban of a loopback address or of an address of this host's own interfaces")
	case "allow":
		reason = fs.String("reason", "", "why (`TEXT`), shown by list")
		wide = fs.Bool("wide", false, "allow an allowlist entry wider than an IPv4 /8 or an IPv6 /16")
	case "autoconfigure":
		interval = fs.String("interval", "15m", "how often the installed service sweeps expired bans (`DURATION`)")
	}
	pos, err := a.parse(fs, args[1:])
	if err != nil {
		return err
	}
	takesAddrs := verb == "add" || verb == "remove" || verb == "allow" || verb == "unallow"
	if takesAddrs && len(pos) == 0 {
		return usagef("block %s needs at least one address or CIDR prefix", verb)
	}
	if !takesAddrs && len(pos) > 0 {
		return usagef("block %s takes no arguments (got %q)", verb, pos[0])
	}
	prefixes, err := block.ParsePrefixes(pos)
	if err != nil {
		return usagef("%v", err)
	}
	prefixes = dedupe(prefixes) // "add 192.0.2.1 192.0.2.1/32" is one ban, not a repeat offence
	var every time.Duration
	if interval != nil {
		if every, err = time.ParseDuration(*interval); err != nil || every < time.Minute {
			return usagef("--interval %q: give a duration of a minute or more, e.g. 15m", *interval)
		}
	}
	if err := a.env(); err != nil {
		return err
	}
	b := &blocker{a: a, store: &block.Store{Dir: a.stateDir()}, now: a.now().Truncate(time.Second)}
	if verb == "add" {
		if b.req, err = parseTTL(*ttl); err != nil {
			return err
		}
		if *maxBans < 1 {
			return usagef("--max-bans %d: give 1 or more", *maxBans)
		}
		b.req.Reason, b.req.Source = oneLine(*reason), block.SourceCLI
		b.pol.MaxBans = *maxBans
		if !*wide {
			for _, p := range prefixes {
				if err := block.CheckWidth(p); err != nil {
					return usagef("%v", err)
				}
			}
		}
		if err := a.checkSelf(prefixes, *self); err != nil {
			return err
		}
	}
	if verb == "allow" && !*wide {
		for _, p := range prefixes {
			if err := block.CheckAllowWidth(p); err != nil {
				return usagef("%v; give --wide if that is meant", err)
			}
		}
	}
	switch verb {
	case "list":
		return b.list()
	case "summary":
		return b.summary()
	}
	name := *backendName
	if name == "" {
		name = a.defaultBackend()
	}
	if name != "none" && name != "dry-run" {
		if err := a.requireRoot("block " + verb); err != nil {
			return err
		}
	}
	if b.backend, err = newBackend(name, a); err != nil {
		return err
	}
	if c, ok := b.backend.(io.Closer); ok {
		defer c.Close()
	}
	switch verb {
	case "add":
		return b.add(ctx, prefixes)
	case "remove":
		return b.remove(ctx, prefixes)
	case "allow":
		return b.allow(ctx, prefixes, oneLine(*reason))
	case "unallow":
		return b.unallow(ctx, prefixes)
	case "expire":
		return b.expire(ctx)
	case "enable", "disable":
		return b.setEnabled(ctx, verb == "enable")
	case "sync":
		return b.sync(ctx)
	default: // autoconfigure
		return b.autoconfigure(ctx, every, name, *backendName != "")
	}
}

// dedupe drops repeated prefixes, keeping the first of each.
func dedupe(ps []netip.Prefix) []netip.Prefix {
	seen := make(map[netip.Prefix]bool, len(ps))
	out := ps[:0]
	for _, p := range ps {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// parseTTL reads --ttl: empty lets the policy decide (15m, doubled for repeat offenders), 0 is
// until removed, anything else a Go duration or a bare number of minutes (afctl's -t unit).
func parseTTL(s string) (block.BanRequest, error) {
	switch s {
	case "":
		return block.BanRequest{}, nil
	case "0":
		return block.BanRequest{Forever: true}, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 {
		return block.BanRequest{TTL: time.Duration(n) * time.Minute}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return block.BanRequest{}, usagef("--ttl %q: give a duration such as 15m or 2h (minutes when a bare number; 0 for until removed)", s)
	}
	return block.BanRequest{TTL: d}, nil
}

// defaultBackend is nft on a Linux host and pf on a Mac. Under a --root that is not "/", a Linux
// kernel is not the root's, so the default is the dry run; pf is driven through the Runner under
// the root and stays the default there.
func (a *app) defaultBackend() string {
	switch {
	case a.os.Kind == host.MacOS:
		return "pf"
	case a.root.IsSystem():
		return "nft"
	default:
		return "dry-run"
	}
}

// newBackend builds the backend called name: "nft" (internal/block/nft, Linux only), "pf"
// (internal/block/pf, pfctl through the Runner), "dry-run" (prints to stdout what it would do)
// or "none" (nil: the state only). Backend owners: this is the one place a constructor is wired
// in; a new backend adds a case here and a word to the --backend help.
func newBackend(name string, a *app) (block.Backend, error) {
	switch name {
	case "none":
		return nil, nil
	case "dry-run":
		return block.NewDryRun(a.Out, nil, false), nil
	case "nft":
		b, err := nft.New(nft.Options{})
		if err != nil {
			return nil, fmt.Errorf("--backend nft: %w", err)
		}
		return b, nil
	case "pf":
		b, err := pf.New(pf.Config{Runner: a.rec, Root: a.root, StateDir: a.root.Rel(a.stateDir())})
		if err != nil {
			return nil, fmt.Errorf("--backend pf: %w", err)
		}
		return b, nil
	}
	return nil, usagef("--backend %q: use nft, pf, dry-run or none", name)
}

// blocker runs one block command.
type blocker struct {
	a       *app
	store   *block.Store
	backend block.Backend // nil: --backend none
	now     time.Time
	req     block.BanRequest // add's --ttl and --reason
	pol     block.Policy
}

// unappliedFile, in the state directory, marks a change that block.json holds and the firewall
// may not: it is written, naming the prefixes the change touches, before block.json, and removed
// once the backend applied the change. A command killed in between (or whose backend failed)
// leaves it, and the next block command that changes anything first brings those prefixes in the
// firewall up to the state (repair), then makes its own change. Only the touched prefixes are
// repaired, never the whole set, so that bans the guard put in the kernel and has not saved yet
// stay, as with every other command; "all" (from an interrupted sync) reconciles everything.
// This costs each change one small extra write and a removal, and the table read of a repair
// only after an interruption, where syncing the whole set before every command would read the
// firewall every time.
const unappliedFile = "block.unapplied"

// unapplied is the content of unappliedFile.
type unapplied struct {
	Version  int            `json:"version"`
	All      bool           `json:"all,omitempty"`
	Prefixes []netip.Prefix `json:"prefixes"`
}

// tracksKernel reports whether changes are marked unapplied until the backend has them: not
// for --backend none (no firewall) or dry-run (which changes nothing).
func (b *blocker) tracksKernel() bool {
	if b.backend == nil {
		return false
	}
	_, dry := b.backend.(*block.DryRun)
	return !dry
}

// markUnapplied writes unappliedFile for a change touching the prefixes of add and remove
// (every prefix when all).
func markUnapplied(d *statedir.Dir, all bool, add []block.Ban, remove []netip.Prefix) error {
	u := unapplied{Version: 1, All: all, Prefixes: slices.Clone(remove)}
	for _, a := range add {
		u.Prefixes = append(u.Prefixes, a.Prefix)
	}
	data, err := json.Marshal(u)
	if err != nil {
		return err
	}
	if err := d.WriteFile(unappliedFile, append(data, '\n')); err != nil {
		return fmt.Errorf("mark the change as not yet applied: %w", err)
	}
	return nil
}

// repair brings the firewall up to the state st for what an interrupted command left unapplied,
// and removes the mark. It runs under the state's lock, before the command's own change. When
// the backend fails, the mark is returned so that the command's own mark keeps it, with the
// error: a firewall that fails does not stop the state from recording changes (the state is
// the source of truth; `block sync` catches up later).
func (b *blocker) repair(ctx context.Context, d *statedir.Dir, st *block.State) (*unapplied, error) {
	data, err := d.ReadFile(unappliedFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var u unapplied
	if json.Unmarshal(data, &u) != nil || u.Version != 1 {
		u = unapplied{Version: 1, All: true} // damaged: the whole set is the safe repair
	}
	want := st.Want(b.now)
	if u.All {
		_, err = b.backend.Reconcile(ctx, want, b.now)
	} else {
		touched := make(map[netip.Prefix]bool, len(u.Prefixes))
		for _, p := range u.Prefixes {
			touched[p] = true
		}
		var add []block.Ban
		wanted := make(map[netip.Prefix]bool, len(want))
		for _, w := range want {
			wanted[w.Prefix] = true
			if touched[w.Prefix] {
				add = append(add, w)
			}
		}
		var remove []netip.Prefix
		for p := range touched {
			if !wanted[p] {
				remove = append(remove, p)
			}
		}
		_, err = b.backend.Apply(ctx, add, remove, b.now)
	}
	if err == nil {
		err = b.rules(ctx, st.Enabled)
	}
	if err != nil {
		return &u, fmt.Errorf("an earlier interrupted change has not reached the %s firewall either: %v", b.backend.Name(), err)
	}
	if err := d.Remove(unappliedFile); err != nil {
		return nil, err
	}
	fmt.Fprintf(b.a.Err, "note: an earlier block command was interrupted; the %s firewall has caught up with %s\n", b.backend.Name(), b.store.Path())
	return nil, nil
}

// change edits the state with fn and then, still under the state's lock, brings the backend in
// line. fn's error leaves the state as it was; a backend error comes with the saved state. A
// change an interrupted command left unapplied is repaired first (see unappliedFile).
func (b *blocker) change(ctx context.Context, fn func(*block.State) error) (*block.State, error) {
	var applyErr, repairErr error
	var d *statedir.Dir
	track := b.tracksKernel()
	_, after, err := b.store.Update(ctx, func(s *block.State) error {
		if !track {
			return fn(s)
		}
		var err error
		if d, err = statedir.Open(b.store.Dir); err != nil {
			return err
		}
		var left *unapplied
		if left, repairErr = b.repair(ctx, d, s); left == nil && repairErr != nil {
			return repairErr // the mark could not be read or removed
		}
		old := s.Want(time.Time{})
		if err := fn(s); err != nil {
			return err
		}
		add, remove := stateDelta(old, s.Want(b.now))
		if left != nil {
			// Still owed from before: keep it in the new mark.
			return markUnapplied(d, left.All, add, append(remove, left.Prefixes...))
		}
		return markUnapplied(d, false, add, remove)
	}, func(before, after *block.State) error {
		applyErr = b.apply(ctx, before, after, false)
		switch {
		case applyErr == nil && repairErr != nil:
			applyErr = fmt.Errorf("the state in %s is saved and this change is in the firewall, but %v; run `firewarden block sync` once the problem is fixed", b.store.Path(), repairErr)
		case applyErr == nil && track:
			applyErr = d.Remove(unappliedFile)
		}
		return applyErr
	})
	switch {
	case applyErr != nil:
		return after, applyErr // the state is saved
	case err != nil:
		var ae *block.AllowlistedError
		if errors.As(err, &ae) || errors.Is(err, block.ErrFull) || isUsage(err) {
			return nil, usagef("%v; nothing was changed", err)
		}
		return nil, err
	}
	return after, nil
}

func isUsage(err error) bool {
	var ue *usageError
	return errors.As(err, &ue)
}

// apply syncs the backend to after (Reconcile when reconcile), turning the drop rules on after
// the sets are filled and off without touching them.
func (b *blocker) apply(ctx context.Context, before, after *block.State, reconcile bool) error {
	if b.backend == nil {
		return nil
	}
	if d, ok := b.backend.(*block.DryRun); ok {
		// What the kernel held: every ban of the old state, expired ones included, since
		// pf has no timeouts and nothing removed them before this sweep.
		d.Assume(before.Want(time.Time{}), before.Enabled)
	}
	want := after.Want(b.now)
	var res block.SyncResult
	var err error
	if reconcile {
		res, err = b.backend.Reconcile(ctx, want, b.now)
	} else {
		// Only this command's change: entries someone else put in the kernel and has not
		// saved yet (the guard saves its bans in the background) are left alone.
		add, remove := stateDelta(before.Want(time.Time{}), want)
		res, err = b.backend.Apply(ctx, add, remove, b.now)
	}
	if err == nil {
		err = b.rules(ctx, after.Enabled)
	}
	if err != nil {
		return fmt.Errorf("the state in %s is saved, but the %s firewall was not changed: %v; run `firewarden block sync` once the problem is fixed", b.store.Path(), b.backend.Name(), err)
	}
	if reconcile {
		fmt.Fprintf(b.a.Out, "%s: added %d, removed %d, kept %d; blocking %s\n", b.backend.Name(), res.Added, res.Removed, res.Kept, onOff(after.Enabled))
	}
	return nil
}

// stateDelta is what changed between two wanted lists: the prefixes of before that after does
// not hold, and the bans of after that before does not hold or held with another expiry.
// before is every ban of the earlier state, ended ones included, since a firewall without
// timeouts (pf) still holds those.
func stateDelta(before, after []block.Ban) (add []block.Ban, remove []netip.Prefix) {
	old := make(map[netip.Prefix]time.Time, len(before))
	for _, b := range before {
		old[b.Prefix] = b.Expires
	}
	now := make(map[netip.Prefix]bool, len(after))
	for _, b := range after {
		now[b.Prefix] = true
		if exp, ok := old[b.Prefix]; !ok || !exp.Equal(b.Expires) {
			add = append(add, b)
		}
	}
	for _, b := range before {
		if !now[b.Prefix] {
			remove = append(remove, b.Prefix)
		}
	}
	return add, remove
}

// rules makes the drop rules match enabled, reading the kernel first so that an already
// enabled backend is not enabled twice (pf counts its enable references).
func (b *blocker) rules(ctx context.Context, enabled bool) error {
	st, err := b.backend.Status(ctx)
	if err != nil {
		return err
	}
	if st.Enabled == enabled {
		return nil
	}
	return b.backend.SetEnabled(ctx, enabled)
}

func onOff(on bool) string {
	if on {
		return "enabled"
	}
	return "disabled"
}

func (b *blocker) add(ctx context.Context, prefixes []netip.Prefix) error {
	var outs []block.BanOutcome
	after, err := b.change(ctx, func(s *block.State) error {
		for _, p := range prefixes {
			r := b.req
			r.Prefix = p
			out, err := s.Ban(r, b.pol, b.now)
			if err != nil {
				return err
			}
			outs = append(outs, out)
		}
		return nil
	})
	if after == nil {
		return err // nothing saved
	}
	for _, out := range outs {
		e := out.Entry
		verb := "banned"
		if out.Extended {
			verb = "extended the ban on"
		}
		line := fmt.Sprintf("%s %s %s", verb, block.FormatPrefix(e.Prefix), b.untilText(e.Expires))
		if e.Count > 1 {
			line += fmt.Sprintf(" (ban %d of this address)", e.Count)
		}
		if len(out.Excluded) > 0 {
			var ex []string
			for _, x := range out.Excluded {
				ex = append(ex, block.FormatPrefix(x.Prefix))
			}
			line += fmt.Sprintf("; except the allowlisted %s: the firewall gets %d prefixes", strings.Join(ex, ", "), out.Pieces)
		}
		fmt.Fprintln(b.a.Out, line)
	}
	if !after.Enabled {
		fmt.Fprintln(b.a.Err, "note: blocking is disabled; the bans take effect after `firewarden block enable`")
	}
	return err
}

// untilText says how long a ban lasts.
func (b *blocker) untilText(exp time.Time) string {
	if exp.IsZero() {
		return "until removed"
	}
	return fmt.Sprintf("for %s (until %s)", shortDuration(exp.Sub(b.now)), exp.UTC().Format(time.RFC3339))
}

// shortDuration prints 15m, 2h, 1h30m, 7d rather than 15m0s.
func shortDuration(d time.Duration) string {
	d = d.Round(time.Second)
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

func (b *blocker) remove(ctx context.Context, prefixes []netip.Prefix) error {
	var outs []block.RemoveOutcome
	after, err := b.change(ctx, func(s *block.State) error {
		for _, p := range prefixes {
			out := s.Unban(p, block.SourceCLI, b.now)
			if len(out.Removed) == 0 && len(out.Inside) > 0 {
				return usagef("%s is inside the ban on %s: remove that, or allowlist the address (`firewarden block allow %s`)",
					block.FormatPrefix(p), block.FormatPrefix(out.Inside[0].Prefix), block.FormatPrefix(p))
			}
			outs = append(outs, out)
		}
		return nil
	})
	if after == nil {
		return err
	}
	for i, out := range outs {
		if len(out.Removed) == 0 {
			fmt.Fprintf(b.a.Err, "%s was not banned\n", block.FormatPrefix(prefixes[i]))
		}
		for _, e := range out.Removed {
			fmt.Fprintf(b.a.Out, "removed the ban on %s\n", block.FormatPrefix(e.Prefix))
		}
	}
	return err
}

func (b *blocker) allow(ctx context.Context, prefixes []netip.Prefix, reason string) error {
	var outs []block.AllowOutcome
	after, err := b.change(ctx, func(s *block.State) error {
		for _, p := range prefixes {
			outs = append(outs, s.Allow(p, reason, block.SourceCLI, b.now))
		}
		return nil
	})
	if after == nil {
		return err
	}
	for _, out := range outs {
		line := "allowlisted " + block.FormatPrefix(out.Entry.Prefix)
		if out.Updated {
			line = "updated the allowlist entry " + block.FormatPrefix(out.Entry.Prefix)
		}
		for _, e := range out.Lifted {
			line += "; removed the ban on " + block.FormatPrefix(e.Prefix)
		}
		for _, e := range out.Split {
			line += "; lifted it from the ban on " + block.FormatPrefix(e.Prefix)
		}
		fmt.Fprintln(b.a.Out, line)
	}
	return err
}

func (b *blocker) unallow(ctx context.Context, prefixes []netip.Prefix) error {
	found := make([]bool, len(prefixes))
	after, err := b.change(ctx, func(s *block.State) error {
		for i, p := range prefixes {
			_, found[i] = s.Unallow(p, block.SourceCLI, b.now)
		}
		return nil
	})
	if after == nil {
		return err
	}
	for i, p := range prefixes {
		if found[i] {
			fmt.Fprintf(b.a.Out, "removed %s from the allowlist\n", block.FormatPrefix(p))
		} else {
			fmt.Fprintf(b.a.Err, "%s was not on the allowlist (entries are removed by their exact prefix; see `firewarden block list`)\n", block.FormatPrefix(p))
		}
	}
	return err
}

func (b *blocker) expire(ctx context.Context) error {
	var gone []block.BanEntry
	after, err := b.change(ctx, func(s *block.State) error {
		gone = s.Sweep(b.now)
		return nil
	})
	if after == nil {
		return err
	}
	for _, e := range gone {
		fmt.Fprintf(b.a.Out, "expired the ban on %s (banned %s ago by %s", block.FormatPrefix(e.Prefix), shortDuration(b.now.Sub(e.Last)), e.Source)
		if e.Reason != "" {
			fmt.Fprintf(b.a.Out, ": %s", e.Reason)
		}
		fmt.Fprintln(b.a.Out, ")")
	}
	if len(gone) == 0 {
		fmt.Fprintln(b.a.Out, "no ban has expired")
	}
	return err
}

func (b *blocker) setEnabled(ctx context.Context, on bool) error {
	after, err := b.change(ctx, func(s *block.State) error {
		s.SetEnabled(on, block.SourceCLI, b.now)
		return nil
	})
	if after != nil {
		fmt.Fprintf(b.a.Out, "blocking %s; %d bans kept\n", onOff(on), len(after.Bans))
	}
	return err
}

func (b *blocker) sync(ctx context.Context) error {
	if b.backend == nil {
		return usagef("block sync needs a backend; --backend none keeps the state only")
	}
	var d *statedir.Dir
	track := b.tracksKernel()
	_, _, err := b.store.Update(ctx, func(s *block.State) error {
		s.Sweep(b.now)
		if !track {
			return nil
		}
		var err error
		if d, err = statedir.Open(b.store.Dir); err != nil {
			return err
		}
		return markUnapplied(d, true, nil, nil)
	}, func(before, after *block.State) error {
		if err := b.apply(ctx, before, after, true); err != nil {
			return err
		}
		if track {
			return d.Remove(unappliedFile)
		}
		return nil
	})
	return err
}

// noteUnapplied tells a reader of the state (list, summary) that the firewall may lag it.
func (b *blocker) noteUnapplied() {
	d, err := statedir.Existing(b.store.Dir)
	if err != nil {
		return
	}
	if _, err := d.Stat(unappliedFile); err == nil {
		fmt.Fprintln(b.a.Err, "note: an interrupted block command left the firewall behind this state; the next block change, or `firewarden block sync`, brings it up to date")
	}
}

// banJSON is a ban as `block list --json` prints it.
type banJSON struct {
	Prefix  netip.Prefix `json:"prefix"`
	Expires time.Time    `json:"expires,omitzero"`
}

func (b *blocker) list() error {
	s, err := b.store.Load()
	if err != nil {
		return err
	}
	b.noteUnapplied()
	if b.a.g.json {
		blocked := []banJSON{}
		for _, w := range s.Want(b.now) {
			blocked = append(blocked, banJSON(w))
		}
		return writeJSON(b.a.Out, struct {
			Enabled   bool               `json:"enabled"`
			Bans      []block.BanEntry   `json:"bans"`
			Allowlist []block.AllowEntry `json:"allowlist"`
			Blocked   []banJSON          `json:"blocked"` // what the firewall should hold
		}{s.Enabled, s.Bans, s.Allowlist, blocked})
	}
	fmt.Fprintf(b.a.Out, "blocking %s; %d bans, %d allowlisted\n", onOff(s.Enabled), len(s.Bans), len(s.Allowlist))
	if len(s.Bans) > 0 {
		tw := tabwriter.NewWriter(b.a.Out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "\nBANNED\tUNTIL\tLEFT\tCOUNT\tSOURCE\tREASON")
		for _, e := range s.Bans {
			until, left := "-", "forever"
			if !e.Expires.IsZero() {
				until, left = e.Expires.UTC().Format(time.RFC3339), shortDuration(e.Expires.Sub(b.now))
				if !e.Expires.After(b.now) {
					left = "expired"
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", block.FormatPrefix(e.Prefix), until, left, e.Count, e.Source, e.Reason)
		}
		tw.Flush()
	}
	if len(s.Allowlist) > 0 {
		tw := tabwriter.NewWriter(b.a.Out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "\nALLOWLISTED\tBY\tREASON")
		for _, e := range s.Allowlist {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", block.FormatPrefix(e.Prefix), e.By, e.Reason)
		}
		tw.Flush()
	}
	return nil
}

// summaryJSON is `block summary --json`.
type summaryJSON struct {
	Enabled      bool             `json:"enabled"`
	Bans         int              `json:"bans"`
	Expired      int              `json:"expired_unswept"`
	Allowlisted  int              `json:"allowlisted"`
	Blocked      int              `json:"blocked_prefixes"`
	TopOffenders []block.Offender `json:"top_offenders"`
	ByReason     map[string]int   `json:"by_reason"`
	BySource     map[string]int   `json:"by_source"`
	Recent       []block.Event    `json:"recent"`
}

// summaryTop is how many offenders and events the summary shows.
const summaryTop = 10

func (b *blocker) summary() error {
	s, err := b.store.Load()
	if err != nil {
		return err
	}
	b.noteUnapplied()
	sum := summaryJSON{Enabled: s.Enabled, Allowlisted: len(s.Allowlist), Blocked: len(s.Want(b.now)),
		ByReason: map[string]int{}, BySource: map[string]int{}, TopOffenders: []block.Offender{}, Recent: []block.Event{}}
	for _, e := range s.Bans {
		if !e.Expires.IsZero() && !e.Expires.After(b.now) {
			sum.Expired++
			continue
		}
		sum.Bans++
		reason := e.Reason
		if reason == "" {
			reason = "(none)"
		}
		sum.ByReason[reason]++
		sum.BySource[e.Source]++
	}
	offenders := append([]block.Offender(nil), s.Offenders...)
	sort.SliceStable(offenders, func(i, j int) bool {
		if offenders[i].Count != offenders[j].Count {
			return offenders[i].Count > offenders[j].Count
		}
		return offenders[i].Last.After(offenders[j].Last)
	})
	sum.TopOffenders = append(sum.TopOffenders, offenders[:min(len(offenders), summaryTop)]...)
	for i := len(s.Activity) - 1; i >= 0 && len(sum.Recent) < summaryTop; i-- {
		sum.Recent = append(sum.Recent, s.Activity[i])
	}
	if b.a.g.json {
		return writeJSON(b.a.Out, sum)
	}
	w := b.a.Out
	fmt.Fprintf(w, "blocking %s: %d active bans (%d prefixes in the firewall), %d expired awaiting a sweep, %d allowlisted\n",
		onOff(sum.Enabled), sum.Bans, sum.Blocked, sum.Expired, sum.Allowlisted)
	if len(sum.TopOffenders) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "\nTOP OFFENDERS\tBANS\tFIRST\tLAST\tLAST REASON")
		for _, o := range sum.TopOffenders {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", block.FormatPrefix(o.Prefix), o.Count, o.First.UTC().Format(time.RFC3339), o.Last.UTC().Format(time.RFC3339), o.LastReason)
		}
		tw.Flush()
	}
	for _, by := range []struct {
		title string
		m     map[string]int
	}{{"BY REASON", sum.ByReason}, {"BY SOURCE", sum.BySource}} {
		if len(by.m) == 0 {
			continue
		}
		keys := make([]string, 0, len(by.m))
		for k := range by.m {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if by.m[keys[i]] != by.m[keys[j]] {
				return by.m[keys[i]] > by.m[keys[j]]
			}
			return keys[i] < keys[j]
		})
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "\n%s\tBANS\n", by.title)
		for _, k := range keys {
			fmt.Fprintf(tw, "%s\t%d\n", k, by.m[k])
		}
		tw.Flush()
	}
	if len(sum.Recent) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "\nRECENT\tACTION\tPREFIX\tSOURCE\tREASON")
		for _, e := range sum.Recent {
			p := "-"
			if e.Prefix.IsValid() {
				p = block.FormatPrefix(e.Prefix)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Time.UTC().Format(time.RFC3339), e.Action, p, e.Source, e.Reason)
		}
		tw.Flush()
	}
	return nil
}

// autoconfigure is afctl -c: allowlist what must never be blocked (loopback, this host's
// interface addresses, default routers, name servers), then install the periodic sweep as a
// systemd timer or a launchd daemon. The files are written, not started: starting them is the
// administrator's call, and the command prints how. A probe that fails is reported on stderr and
// the others still count, as node_exporter does.
func (b *blocker) autoconfigure(ctx context.Context, interval time.Duration, backend string, explicit bool) error {
	a := b.a
	// The service files are rendered first: options they cannot carry change nothing.
	opt, err := a.serviceOptions(service.Options{Binary: a.serviceBinary(), Interval: interval})
	if err != nil {
		return err
	}
	if explicit {
		opt.Args = []string{"--backend", backend}
	}
	init := initFor(a.os.Kind)
	files, err := a.serviceRender(service.BlockExpire, init, opt, a.root.IsSystem())
	if err != nil {
		return err
	}
	found := map[netip.Prefix]string{
		netip.MustParsePrefix("127.0.0.0/8"): "loopback",
		netip.MustParsePrefix("::1/128"):     "loopback",
	}
	add := func(addrs []netip.Addr, why string) {
		for _, ad := range addrs {
			p := netip.PrefixFrom(ad, ad.BitLen())
			if _, ok := found[p]; !ok {
				found[p] = why
			}
		}
	}
	note := func(format string, args ...any) { fmt.Fprintf(a.Err, "autoconfigure: "+format+"\n", args...) }

	if a.root.IsSystem() {
		addrs, err := interfaceAddrs()
		if err != nil {
			note("interface addresses: %v", err)
		}
		for _, ia := range addrs {
			add([]netip.Addr{ia.addr}, "interface "+ia.name)
		}
	} else {
		note("interface addresses not read: they are this machine's, not those of --root %s", a.root.Dir())
	}
	if a.os.Kind == host.MacOS {
		res, err := a.rec.Run(ctx, host.Cmd{Path: "/usr/sbin/netstat", Args: []string{"-rn"}})
		if err != nil {
			note("default routers: %v", err)
		} else {
			add(block.ParseNetstatRoutes(res.Stdout), "default router")
		}
	} else {
		for _, f := range []struct {
			path  string
			parse func([]byte) []netip.Addr
		}{{"/proc/net/route", block.ParseProcRoute}, {"/proc/net/ipv6_route", block.ParseIPv6Route}} {
			data, err := a.root.ReadFile(f.path)
			if err != nil {
				note("default routers: read %s: %v", f.path, unwrapPath(err))
				continue
			}
			add(f.parse(data), "default router")
		}
	}
	if data, err := a.root.ReadFile("/etc/resolv.conf"); err != nil {
		note("name servers: read %s: %v", "/etc/resolv.conf", unwrapPath(err))
	} else {
		add(block.ParseResolvConf(data), "name server")
	}

	var out block.AutoOutcome
	after, err := b.change(ctx, func(s *block.State) error {
		out = s.ReplaceAuto(found, b.now)
		return nil
	})
	if after == nil {
		return err
	}
	for _, o := range out.Added {
		line := fmt.Sprintf("allowlisted %s (%s)", block.FormatPrefix(o.Entry.Prefix), o.Entry.Reason)
		for _, e := range o.Lifted {
			line += "; removed the ban on " + block.FormatPrefix(e.Prefix)
		}
		for _, e := range o.Split {
			line += "; lifted it from the ban on " + block.FormatPrefix(e.Prefix)
		}
		fmt.Fprintln(a.Out, line)
	}
	for _, e := range out.Removed {
		fmt.Fprintf(a.Out, "removed %s from the allowlist (%s, no longer found)\n", block.FormatPrefix(e.Prefix), e.Reason)
	}
	fmt.Fprintf(a.Out, "%d allowlist entries were already there\n", out.Kept)
	if err != nil {
		return err
	}

	changed, err := (&service.Manager{Root: a.root, Runner: a.rec, Init: init, Out: a.Out}).Write(files)
	if err != nil {
		return fmt.Errorf("install the sweep service: %w", err)
	}
	start := "launchctl bootstrap system " + files[0].Path()
	if init == service.Systemd {
		start = "systemctl enable --now " + service.Unit(service.BlockExpire)
		if changed {
			start = "systemctl daemon-reload && " + start
		}
	}
	fmt.Fprintf(a.Out, "the sweep runs every %s once started: %s\n", shortDuration(interval), start)
	return nil
}

// checkSelf refuses a ban of this host itself (loopback, or an address of its own interfaces)
// unless self, and notes on stderr a wider ban that holds such an address. The interfaces are
// this machine's, so they are read only when --root is the system's (as autoconfigure does);
// loopback is checked under any root.
func (a *app) checkSelf(prefixes []netip.Prefix, self bool) error {
	var local []block.LocalAddr
	for _, ia := range a.hostAddrs("bans of them are not refused") {
		local = append(local, block.LocalAddr{Addr: ia.addr, Interface: ia.name})
	}
	for _, p := range prefixes {
		holds, err := block.CheckSelf(p, local)
		if err != nil && !self {
			return usagef("%v; give --self if that is meant", err)
		}
		for _, h := range holds {
			fmt.Fprintf(a.Err, "note: the ban on %s holds %s: traffic of this host to itself from there is dropped too; allowlist it to keep it\n", block.FormatPrefix(p), h)
		}
	}
	return nil
}

// hostAddrs are this host's interface addresses when --root is the system's, and none under
// another root, whose interfaces are not this machine's. A list that cannot be read in full
// gives what could be read, with a note ending in consequence.
func (a *app) hostAddrs(consequence string) []ifaceAddr {
	if !a.root.IsSystem() {
		return nil
	}
	list := a.interfaces
	if list == nil {
		list = interfaceAddrs
	}
	addrs, err := list()
	if err != nil {
		fmt.Fprintf(a.Err, "note: this host's addresses could not all be read (%v); %s\n", oneLine(err.Error()), consequence)
	}
	return addrs
}

// selfAddrs are the addresses the guard never bans besides loopback (hostAddrs).
func (a *app) selfAddrs() []netip.Addr {
	var out []netip.Addr
	for _, ia := range a.hostAddrs("the guard may ban those it could not read") {
		out = append(out, ia.addr)
	}
	return out
}

// ifaceAddr is one address of a local interface.
type ifaceAddr struct {
	name string
	addr netip.Addr
}

// interfaceAddrs lists the addresses of this machine's interfaces, zone ids stripped.
func interfaceAddrs() ([]ifaceAddr, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []ifaceAddr
	var errs []error
	for _, ifc := range ifs {
		addrs, err := ifc.Addrs()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ifc.Name, err))
			continue
		}
		for _, ad := range addrs {
			ipn, ok := ad.(*net.IPNet)
			if !ok {
				continue
			}
			if ip, ok := netip.AddrFromSlice(ipn.IP); ok {
				out = append(out, ifaceAddr{ifc.Name, ip.Unmap().WithZone("")})
			}
		}
	}
	return out, errors.Join(errs...)
}
