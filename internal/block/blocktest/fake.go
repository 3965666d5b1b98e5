package blocktest

import (
	"context"
	"errors"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/firewarden/firewarden/internal/block"
)

// Fake is an in-memory block.Backend with a "kernel" apart from its own view of it, so that
// drift, failures and batches can be tested. It implements Lister and Drifter. The zero value is
// an empty firewall with the drop rules off.
type Fake struct {
	mu      sync.Mutex
	kernel  map[netip.Prefix]time.Time
	view    map[netip.Prefix]time.Time // nil until the first Sync reads the kernel
	enabled bool
	// Fail, when set, makes every change fail with it and change nothing, as a refused batch.
	Fail error
	// Batches counts the changes applied (Syncs, Reconciles and Applies that changed something).
	Batches int
}

// Name implements block.Backend.
func (f *Fake) Name() string { return "fake" }

// Sync implements block.Backend: the difference from its view, applied to the kernel at once.
func (f *Fake) Sync(ctx context.Context, want []block.Ban, now time.Time) (block.SyncResult, error) {
	return f.apply(ctx, want, false)
}

// Reconcile implements block.Backend: the difference from what the kernel holds.
func (f *Fake) Reconcile(ctx context.Context, want []block.Ban, now time.Time) (block.SyncResult, error) {
	return f.apply(ctx, want, true)
}

func (f *Fake) apply(ctx context.Context, want []block.Ban, reread bool) (block.SyncResult, error) {
	if err := ctx.Err(); err != nil {
		return block.SyncResult{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.kernel == nil {
		f.kernel = map[netip.Prefix]time.Time{}
	}
	if f.view == nil || reread {
		f.view = maps.Clone(f.kernel)
	}
	next := make(map[netip.Prefix]time.Time, len(want))
	for _, b := range want {
		next[b.Prefix] = b.Expires
	}
	var res block.SyncResult
	var add, del []netip.Prefix
	for p := range next {
		if _, ok := f.view[p]; ok {
			res.Kept++
		} else {
			res.Added++
			add = append(add, p)
		}
	}
	for p := range f.view {
		if _, ok := next[p]; !ok {
			res.Removed++
			del = append(del, p)
		}
	}
	if len(add)+len(del) == 0 && maps.EqualFunc(f.view, next, time.Time.Equal) {
		return res, nil
	}
	if f.Fail != nil {
		return block.SyncResult{}, f.Fail
	}
	for _, p := range del {
		delete(f.kernel, p)
	}
	for p, exp := range next {
		f.kernel[p] = exp
	}
	f.view = next
	f.Batches++
	return res, nil
}

// Apply implements block.Backend with block.PlanApply over its view: one change to the kernel,
// or none when Fail is set.
func (f *Fake) Apply(ctx context.Context, add []block.Ban, remove []netip.Prefix, now time.Time) (block.SyncResult, error) {
	if err := ctx.Err(); err != nil {
		return block.SyncResult{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.kernel == nil {
		f.kernel = map[netip.Prefix]time.Time{}
	}
	if f.view == nil {
		f.view = maps.Clone(f.kernel)
	}
	d, err := block.PlanApply(f.view, func(t time.Time) time.Time { return t }, add, remove)
	if err != nil {
		return block.SyncResult{}, err
	}
	if d.Empty() {
		return d.Result, nil
	}
	if f.Fail != nil {
		return block.SyncResult{}, f.Fail
	}
	for _, m := range []map[netip.Prefix]time.Time{f.kernel, f.view} {
		for _, p := range d.Remove {
			delete(m, p)
		}
		for _, b := range d.Add {
			m[b.Prefix] = b.Expires
		}
		for _, b := range d.Renew {
			m[b.Prefix] = b.Expires
		}
	}
	f.Batches++
	return d.Result, nil
}

// Break implements Breaker: on, every change fails with an error and changes nothing.
func (f *Fake) Break(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Fail = nil
	if on {
		f.Fail = errors.New("fake: the kernel refused the batch")
	}
}

// SetEnabled implements block.Backend.
func (f *Fake) SetEnabled(ctx context.Context, on bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Fail != nil && on != f.enabled {
		return f.Fail
	}
	f.enabled = on
	return nil
}

// Status implements block.Backend.
func (f *Fake) Status(ctx context.Context) (block.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return block.Status{Enabled: f.enabled, Entries: len(f.kernel)}, ctx.Err()
}

// Held implements Lister.
func (f *Fake) Held(ctx context.Context) ([]netip.Prefix, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ps := slices.Collect(maps.Keys(f.kernel))
	slices.SortFunc(ps, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return ps, nil
}

// Drift implements Drifter.
func (f *Fake) Drift(ctx context.Context, add, remove []netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.kernel == nil {
		f.kernel = map[netip.Prefix]time.Time{}
	}
	for _, p := range remove {
		delete(f.kernel, p)
	}
	for _, p := range add {
		f.kernel[p] = time.Time{}
	}
	return nil
}

var (
	_ block.Backend = (*Fake)(nil)
	_ Lister        = (*Fake)(nil)
	_ Drifter       = (*Fake)(nil)
	_ Breaker       = (*Fake)(nil)
)
