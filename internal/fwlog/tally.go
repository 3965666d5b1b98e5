package fwlog

import (
	"slices"
	"sort"
)

// cell counts packets by the direction they were logged in.
type cell struct{ In, Out, Other int64 }

func (c *cell) total() int64 { return c.In + c.Out + c.Other }

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
type tally[K comparable] struct {
	m     map[K]*cell
	max   int
	bound int64
	drops int64 // keys dropped so far
}

func newTally[K comparable](max int) *tally[K] {
	return &tally[K]{m: make(map[K]*cell), max: max}
}

func (t *tally[K]) add(k K, d Dir, n int64) {
	c, ok := t.m[k]
	if !ok {
		if len(t.m) >= t.max {
			t.prune()
		}
		c = new(cell)
		t.m[k] = c
	}
	c.add(d, n)
}

// prune drops the lower half of the keys by count.
func (t *tally[K]) prune() {
	counts := make([]int64, 0, len(t.m))
	for _, c := range t.m {
		counts = append(counts, c.total())
	}
	slices.Sort(counts)
	threshold := counts[len(counts)/2]
	var maxDropped int64
	for k, c := range t.m {
		if n := c.total(); n <= threshold {
			delete(t.m, k)
			t.drops++
			maxDropped = max(maxDropped, n)
		}
	}
	t.bound += maxDropped
}

func (t *tally[K]) merge(o *tally[K]) {
	for k, c := range o.m {
		if mine, ok := t.m[k]; ok {
			mine.merge(c)
			continue
		}
		if len(t.m) >= t.max {
			t.prune()
		}
		t.m[k] = c
	}
	t.bound += o.bound
	t.drops += o.drops
}

// approximate reports whether pruning happened.
func (t *tally[K]) approximate() bool { return t.drops > 0 }

type entry[K comparable] struct {
	key K
	c   cell
}

// top returns up to n entries by total count, descending; ties by less. n <= 0 means all.
func (t *tally[K]) top(n int, less func(a, b K) bool) []entry[K] {
	out := make([]entry[K], 0, len(t.m))
	for k, c := range t.m {
		out = append(out, entry[K]{k, *c})
	}
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

func (t strTally) addBytes(k []byte, d Dir, n int64) {
	if c, ok := t.m[string(k)]; ok {
		c.add(d, n)
		return
	}
	t.add(string(k), d, n)
}
