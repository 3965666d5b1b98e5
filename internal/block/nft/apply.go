//go:build linux

package nft

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/google/nftables"

	"github.com/firewarden/firewarden/internal/block"
)

// Apply implements block.Backend: the change goes to the kernel as one transaction (unless it
// has more elements than Options.MaxBatch), built from the view without a pass over it. A
// prefix inside a held one is found by looking up its shorter prefixes, only at the lengths the
// view holds (lens); the held entries inside an added prefix by looking up every prefix inside
// it at those lengths, or by one pass over the view when that would take fewer look-ups (an
// IPv4 /16 over 100 000 hosts, any short IPv6 prefix). Hosts added one by one, the guard's
// case, cost neither.
//
// As in Sync, a batch the kernel refuses changes nothing; the Backend then drops its view,
// re-reads the kernel and plans the change again, once.
func (b *Backend) Apply(ctx context.Context, add []block.Ban, remove []netip.Prefix, now time.Time) (block.SyncResult, error) {
	es, err := normalise(add)
	if err != nil {
		return block.SyncResult{}, err
	}
	rm := make([]netip.Prefix, 0, len(remove))
	for _, p := range remove {
		q, err := normalPrefix(p)
		if err != nil {
			return block.SyncResult{}, err
		}
		rm = append(rm, q)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	res, err := b.applyDelta(ctx, es, rm, now)
	if err == nil || ctx.Err() != nil {
		return res, err
	}
	res, err2 := b.applyDelta(ctx, es, rm, now)
	if err2 != nil {
		return res, fmt.Errorf("%w (first attempt, before re-reading the kernel: %v)", err2, err)
	}
	return res, nil
}

// applyDelta reads the kernel if the view is unknown, plans the change and sends it. On error
// the view is dropped, as in apply.
func (b *Backend) applyDelta(ctx context.Context, es []entry, rm []netip.Prefix, now time.Time) (block.SyncResult, error) {
	if b.view == nil {
		if err := b.read(now); err != nil {
			return block.SyncResult{}, err
		}
	}
	var pl plan
	res := b.planDelta(&pl, es, rm, now, time.Now().UnixMilli())
	if err := b.flush(ctx, &pl); err != nil {
		b.view = nil
		return block.SyncResult{}, err
	}
	b.strays = [nsets][]nftables.SetElement{}
	return res, nil
}

// planDelta plans Apply(es, rm) into pl and updates the view (and lens) as if pl had been
// applied: the caller drops the view when it is not. rnow is the real time in Unix ms, for the
// kernel's own timeouts. Stray elements from the last read go in the same change, as in Sync.
func (b *Backend) planDelta(pl *plan, es []entry, rm []netip.Prefix, now time.Time, rnow int64) block.SyncResult {
	var res block.SyncResult
	pl.strays = b.strays
	for _, strays := range b.strays {
		for _, e := range strays {
			if !e.IntervalEnd {
				res.Removed++
			}
		}
	}
	del := func(k pkey, v viewEntry) {
		delete(b.view, k)
		b.count(k, -1)
		res.Removed++
		// As in apply: one that times out within a second is left to the kernel.
		if !v.gone(rnow + 1000) {
			p := k.prefix()
			pl.del[setOf(p)] = append(pl.del[setOf(p)], change{p: p})
		}
	}
	for _, p := range rm {
		k := keyOf(p)
		if v, ok := b.view[k]; ok {
			del(k, v)
		}
	}
	newEntry := func(d int64, gen uint32) viewEntry {
		v := viewEntry{deadline: d, gen: gen}
		if d != 0 {
			v.kdeadline = rnow + timeout(d, now).Milliseconds()
		}
		return v
	}
	var inside []pkey
	for _, e := range es {
		k := keyOf(e.prefix)
		f := setOf(e.prefix)
		if v, ok := b.view[k]; ok {
			res.Kept++
			d := laterDeadline(v.deadline, e.deadline)
			if v.holds(d) && !v.gone(rnow) {
				continue
			}
			// Renewed (or added again, when the kernel dropped it by its timeout): see apply
			// for the second's margin.
			if !v.gone(rnow - 1000) {
				pl.del[f] = append(pl.del[f], change{p: e.prefix})
			}
			pl.add[f] = append(pl.add[f], change{e.prefix, timeout(d, now)})
			b.view[k] = newEntry(d, v.gen)
			continue
		}
		if b.covered(k, rnow) {
			res.Kept++
			continue
		}
		inside = b.inside(k, inside[:0])
		for _, c := range inside {
			del(c, b.view[c])
		}
		res.Added++
		pl.add[f] = append(pl.add[f], change{e.prefix, timeout(e.deadline, now)})
		b.view[k] = newEntry(e.deadline, b.gen)
		b.count(k, 1)
	}
	return res
}

// count adds d to the number of view entries of k's family and length.
func (b *Backend) count(k pkey, d int32) {
	f := 0
	if k.is6 {
		f = 1
	}
	b.lens[f][k.bits] += d
}

// recount sets lens from the view.
func (b *Backend) recount() {
	b.lens = [2][129]int32{}
	for k := range b.view {
		b.count(k, 1)
	}
}

// covered reports whether the view holds a prefix shorter than k that contains it (and that
// the kernel still holds).
func (b *Backend) covered(k pkey, rnow int64) bool {
	lens := &b.lens[0]
	if k.is6 {
		lens = &b.lens[1]
	}
	for bits := int(k.bits) - 1; bits >= 0; bits-- {
		if lens[bits] == 0 {
			continue
		}
		if v, ok := b.view[k.mask(bits)]; ok && !v.gone(rnow) {
			return true
		}
	}
	return false
}

// inside appends to out the view's prefixes strictly inside k: by looking up each prefix inside
// k at the lengths the view holds, or, when those are more than the view's entries, by a pass
// over the view.
func (b *Backend) inside(k pkey, out []pkey) []pkey {
	lens, width := &b.lens[0], 32
	if k.is6 {
		lens, width = &b.lens[1], 128
	}
	lookups := 0
	for bits := int(k.bits) + 1; bits <= width && lookups <= len(b.view); bits++ {
		if lens[bits] == 0 {
			continue
		}
		if bits-int(k.bits) >= 40 {
			lookups = len(b.view) + 1
			break
		}
		lookups += 1 << (bits - int(k.bits))
	}
	if lookups == 0 {
		return out
	}
	if lookups > len(b.view) {
		for c := range b.view {
			if c.is6 == k.is6 && c.bits > k.bits && c.mask(int(k.bits)) == k {
				out = append(out, c)
			}
		}
		return out
	}
	for bits := int(k.bits) + 1; bits <= width; bits++ {
		if lens[bits] == 0 {
			continue
		}
		for i := range uint64(1) << (bits - int(k.bits)) {
			c := k.child(bits, i)
			if _, ok := b.view[c]; ok {
				out = append(out, c)
			}
		}
	}
	return out
}
