package fwlog

import "slices"

// flatTally counts keys (packed IPv4 connections, IPv4 addresses) in one open-addressing table (linear probing, at
// most half full). With a million distinct connections a Go map costs several cache misses per
// lookup; here a lookup is usually one, which measured 4× faster on the project's machine for
// a million keys (docs/benchmarks.md). Semantics match tally: exact below max keys, pruned with
// a stated bound above.
type flatTally[K comparable] struct {
	hash  func(K) uint64
	slots []flatSlot[K]
	n     int
	max   int
	bound int64
	drops int64
	moves uint32 // grows and prunes: slot indexes taken before one are stale
	sink  bool   // keeps addBatch's touching reads from being optimised away
}

type flatSlot[K comparable] struct {
	key  K
	used bool
	c    cell
}

func newFlatTally[K comparable](max int, hash func(K) uint64) *flatTally[K] {
	return &flatTally[K]{hash: hash, slots: make([]flatSlot[K], 1024), max: max}
}

func hashU32(k uint32) uint64 {
	h := uint64(k) * 0xbf58476d1ce4e5b9
	return h ^ h>>31
}

func (k connKey4) hash() uint64 {
	h := k.inside*0xbf58476d1ce4e5b9 ^ k.outside*0x94d049bb133111eb ^ k.inside>>29
	h *= 0xff51afd7ed558ccd
	return h ^ h>>32
}

// at returns the slot index of k, adding it when new.
func (t *flatTally[K]) at(k K) int32 {
	mask := uint64(len(t.slots) - 1)
	for i := t.hash(k) & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.used {
			if s.key == k {
				return int32(i)
			}
			continue
		}
		if t.n >= t.max {
			t.prune()
			return t.at(k)
		}
		if 2*(t.n+1) > len(t.slots) {
			t.rebuild(len(t.slots) * 2)
			return t.at(k)
		}
		s.used, s.key = true, k
		t.n++
		return int32(i)
	}
}

func (t *flatTally[K]) cell(i int32) *cell { return &t.slots[i].c }

// addBatch counts several keys. It first reads the home slot of each, with nothing depending on
// one read to start the next, so the processor overlaps their cache misses; the probes that
// follow then mostly hit the cache. With a million keys this is where the time goes.
func (t *flatTally[K]) addBatch(keys []K, dirs []Dir) {
	mask := uint64(len(t.slots) - 1)
	var sink bool
	for _, k := range keys {
		sink = sink != t.slots[t.hash(k)&mask].used
	}
	t.sink = sink
	for i, k := range keys {
		t.slots[t.at(k)].c.add(dirs[i], 1)
	}
}

// rebuild rehashes every used slot into a table of size slots.
func (t *flatTally[K]) rebuild(size int) {
	old := t.slots
	t.slots, t.n = make([]flatSlot[K], size), 0
	t.moves++
	mask := uint64(size - 1)
	for _, s := range old {
		if !s.used {
			continue
		}
		i := t.hash(s.key) & mask
		for t.slots[i].used {
			i = (i + 1) & mask
		}
		t.slots[i] = s
		t.n++
	}
}

// prune drops the lower half of the keys by count, like tally.prune.
func (t *flatTally[K]) prune() {
	counts := make([]int64, 0, t.n)
	for i := range t.slots {
		if t.slots[i].used {
			counts = append(counts, t.slots[i].c.total())
		}
	}
	slices.Sort(counts)
	threshold := counts[len(counts)/2]
	var maxDropped int64
	for i := range t.slots {
		if s := &t.slots[i]; s.used && s.c.total() <= threshold {
			maxDropped = max(maxDropped, s.c.total())
			*s = flatSlot[K]{}
			t.drops++
		}
	}
	t.bound += maxDropped
	t.rebuild(len(t.slots)) // closes the holes linear probing cannot have
}

func (t *flatTally[K]) each(f func(K, cell)) {
	for i := range t.slots {
		if t.slots[i].used {
			f(t.slots[i].key, t.slots[i].c)
		}
	}
}

func (t *flatTally[K]) approximate() bool { return t.drops > 0 }
