package block

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// DryRun is a Backend that changes nothing and writes what it would do, one line per change, to
// a writer. It starts from the kernel contents it is told to assume (in the CLI: what the state
// wanted before the change), so it prints the difference a real backend would apply.
type DryRun struct {
	w       io.Writer
	held    map[netip.Prefix]time.Time
	enabled bool
}

// NewDryRun returns a DryRun writing to w that assumes the kernel holds held, with the drop rules
// on when enabled.
func NewDryRun(w io.Writer, held []Ban, enabled bool) *DryRun {
	d := &DryRun{w: w}
	d.Assume(held, enabled)
	return d
}

// Name implements Backend.
func (d *DryRun) Name() string { return "dry-run" }

// Sync implements Backend: it prints "would add", "would remove" and "would update" (a new
// timeout) lines in address order and takes want as its new view.
func (d *DryRun) Sync(ctx context.Context, want []Ban, now time.Time) (SyncResult, error) {
	if err := ctx.Err(); err != nil {
		return SyncResult{}, err
	}
	var res SyncResult
	next := make(map[netip.Prefix]time.Time, len(want))
	for _, b := range want {
		next[b.Prefix] = b.Expires
	}
	type line struct {
		p    netip.Prefix
		text string
	}
	var lines []line
	for p, exp := range next {
		old, ok := d.held[p]
		switch {
		case !ok:
			res.Added++
			lines = append(lines, line{p, "would add " + FormatPrefix(p) + until(exp, now)})
		case !old.Equal(exp):
			res.Kept++
			lines = append(lines, line{p, "would update " + FormatPrefix(p) + until(exp, now)})
		default:
			res.Kept++
		}
	}
	for p := range d.held {
		if _, ok := next[p]; !ok {
			res.Removed++
			lines = append(lines, line{p, "would remove " + FormatPrefix(p)})
		}
	}
	slices.SortFunc(lines, func(a, b line) int { return comparePrefix(a.p, b.p) })
	for _, l := range lines {
		if _, err := fmt.Fprintf(d.w, "dry-run: %s\n", l.text); err != nil {
			return SyncResult{}, err
		}
	}
	d.held = next
	return res, nil
}

// Apply implements Backend: it prints "would remove", "would add" and "would update" lines in
// address order (a prefix both removed and added: the removal first) and changes its view as a
// real backend would.
func (d *DryRun) Apply(ctx context.Context, add []Ban, remove []netip.Prefix, now time.Time) (SyncResult, error) {
	if err := ctx.Err(); err != nil {
		return SyncResult{}, err
	}
	delta, err := PlanApply(d.held, func(t time.Time) time.Time { return t }, add, remove)
	if err != nil {
		return SyncResult{}, err
	}
	type line struct {
		p    netip.Prefix
		text string
	}
	lines := make([]line, 0, len(delta.Remove)+len(delta.Add)+len(delta.Renew))
	for _, p := range delta.Remove {
		lines = append(lines, line{p, "would remove " + FormatPrefix(p)})
	}
	for _, b := range delta.Add {
		lines = append(lines, line{b.Prefix, "would add " + FormatPrefix(b.Prefix) + until(b.Expires, now)})
	}
	for _, b := range delta.Renew {
		lines = append(lines, line{b.Prefix, "would update " + FormatPrefix(b.Prefix) + until(b.Expires, now)})
	}
	slices.SortStableFunc(lines, func(a, b line) int { return comparePrefix(a.p, b.p) })
	for _, l := range lines {
		if _, err := fmt.Fprintf(d.w, "dry-run: %s\n", l.text); err != nil {
			return SyncResult{}, err
		}
	}
	if d.held == nil {
		d.held = make(map[netip.Prefix]time.Time)
	}
	for _, p := range delta.Remove {
		delete(d.held, p)
	}
	for _, b := range delta.Add {
		d.held[b.Prefix] = b.Expires
	}
	for _, b := range delta.Renew {
		d.held[b.Prefix] = b.Expires
	}
	return delta.Result, nil
}

// until prints a kernel timeout as the kernel would get it.
func until(exp, now time.Time) string {
	if exp.IsZero() {
		return " (no timeout)"
	}
	return fmt.Sprintf(" (timeout %s, until %s)", shortDuration(exp.Sub(now)), exp.UTC().Format(time.RFC3339))
}

// Reconcile implements Backend; the dry run's kernel is its own view, so it is Sync.
func (d *DryRun) Reconcile(ctx context.Context, want []Ban, now time.Time) (SyncResult, error) {
	return d.Sync(ctx, want, now)
}

// SetEnabled implements Backend.
func (d *DryRun) SetEnabled(ctx context.Context, on bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if on != d.enabled {
		verb := "disable"
		if on {
			verb = "enable"
		}
		if _, err := fmt.Fprintf(d.w, "dry-run: would %s the drop rules (%d entries kept)\n", verb, len(d.held)); err != nil {
			return err
		}
	}
	d.enabled = on
	return nil
}

// Status implements Backend.
func (d *DryRun) Status(ctx context.Context) (Status, error) {
	return Status{Enabled: d.enabled, Entries: len(d.held)}, ctx.Err()
}

// Held returns the prefixes the dry run's kernel holds, sorted; blocktest uses it.
func (d *DryRun) Held(ctx context.Context) ([]netip.Prefix, error) {
	ps := slices.Collect(maps.Keys(d.held))
	sortPrefixes(ps)
	return ps, nil
}

// Assume replaces what the dry run believes the kernel holds, as NewDryRun's arguments do.
func (d *DryRun) Assume(held []Ban, enabled bool) {
	d.held = make(map[netip.Prefix]time.Time, len(held))
	for _, b := range held {
		d.held[b.Prefix] = b.Expires
	}
	d.enabled = enabled
}

var _ Backend = (*DryRun)(nil)

// shortDuration prints 15m and 1h rather than 15m0s and 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
