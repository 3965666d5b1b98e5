package fwlog

import (
	"slices"
	"sort"
)

// cell counts packets by the direction they were logged in.
type cell struct{ In, Out, Other int64 }

func (c cell) total() int64 { return c.In + c.Out + c.Other }

func (c *cell) add(d Dir, n int64) {
	switch d {
	case DirIn:
		c.In += n
	case DirOut:
		c.Out += n
	default:
		c.Other += n
	}
}

func (c *cell) merge(o *cell) { c.In, c.Out, c.Other = c.In+o.In, c.Out+o.Out, c.Other+o.Other }

// tally counts keys, exactly while it holds at most max distinct keys. Past that it prunes: the
// keys in the lower half by count are dropped and the highest dropped count is added to bound,
// so memory stays bounded and every count left is low by at most bound (a dropped key that comes
// back starts again from zero). Heavy keys survive pruning, so the top of the table stays right.
//
// Cells live in one slice and the map holds indexes, so a table of a million keys is one
// pointer-free map and one slice rather than a million heap objects for the collector to scan.
type tally[K comparable] struct {
	idx    map[K]int32
	cells  []cell
	max    int
	bound  int64
	drops  int64  // keys dropped so far
	prunes uint32 // how often it pruned: slot indexes taken before a prune are stale
	// beforePrune, when set, runs just before the table first drops keys.
	beforePrune func()
}

func newTally[K comparable](max int) *tally[K] {
	return &tally[K]{idx: make(map[K]int32), max: max}
}

// get returns the cell of k, adding it when new.
func (t *tally[K]) get(k K) *cell {
	if i, ok := t.idx[k]; ok {
		return &t.cells[i]
	}
	if len(t.idx) >= t.max {
		t.prune()
	}
	t.idx[k] = int32(len(t.cells))
	t.cells = append(t.cells, cell{})
	return &t.cells[len(t.cells)-1]
}

func (t *tally[K]) add(k K, d Dir, n int64) { t.get(k).add(d, n) }

// at returns the slot index of k, adding it when new.
func (t *tally[K]) at(k K) int32 {
	if i, ok := t.idx[k]; ok {
		return i
	}
	t.get(k)
	return t.idx[k]
}

// prune drops the lower half of the keys by count.
func (t *tally[K]) prune() {
	if t.beforePrune != nil {
		f := t.beforePrune
		t.beforePrune = nil
		f()
	}
	counts := make([]int64, 0, len(t.cells))
	for i := range t.cells {
		counts = append(counts, t.cells[i].total())
	}
	slices.Sort(counts)
	threshold := counts[len(counts)/2]
	var maxDropped int64
	kept := make([]cell, 0, len(t.cells)/2+1)
	for k, i := range t.idx {
		c := t.cells[i]
		if n := c.total(); n <= threshold {
			delete(t.idx, k)
			t.drops++
			maxDropped = max(maxDropped, n)
			continue
		}
		t.idx[k] = int32(len(kept))
		kept = append(kept, c)
	}
	t.cells = kept
	t.bound += maxDropped
	t.prunes++
}

func (t *tally[K]) merge(o *tally[K]) {
	for k, i := range o.idx {
		t.get(k).merge(&o.cells[i])
	}
	t.bound += o.bound
	t.drops += o.drops
}

// each calls f for every key and its counts.
func (t *tally[K]) each(f func(K, cell)) {
	for k, i := range t.idx {
		f(k, t.cells[i])
	}
}

// approximate reports whether pruning happened.
func (t *tally[K]) approximate() bool { return t.drops > 0 }

type entry[K comparable] struct {
	key K
	c   cell
}

// top returns up to n entries by total count, descending; ties by less. n <= 0 means all.
func (t *tally[K]) top(n int, less func(a, b K) bool) []entry[K] {
	out := make([]entry[K], 0, len(t.idx))
	t.each(func(k K, c cell) { out = append(out, entry[K]{k, c}) })
	sort.Slice(out, func(i, j int) bool {
		if a, b := out[i].c.total(), out[j].c.total(); a != b {
			return a > b
		}
		return less(out[i].key, out[j].key)
	})
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}

// strTally is a tally keyed by strings that looks keys up from bytes without allocating; only a
// new key costs a string.
type strTally struct{ *tally[string] }

func newStrTally(max int) strTally { return strTally{newTally[string](max)} }

// slot returns the index of k's cell, adding it when new. The index is valid until the next
// insertion, which may prune.
func (t strTally) slot(k []byte) int32 {
	if i, ok := t.idx[string(k)]; ok {
		return i
	}
	t.get(string(k))
	return t.idx[string(k)]
}

func (t strTally) addBytes(k []byte, d Dir, n int64) {
	if i, ok := t.idx[string(k)]; ok {
		t.cells[i].add(d, n)
		return
	}
	t.add(string(k), d, n)
}
