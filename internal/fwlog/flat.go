package fwlog

import "slices"

// flatTally counts packed IPv4 connections in one open-addressing table (linear probing, at
// most half full). With a million distinct connections a Go map costs several cache misses per
// lookup; here a lookup is usually one, which measured 4× faster on the project's machine for
// a million keys (docs/benchmarks.md). Semantics match tally: exact below max keys, pruned with
// a stated bound above.
type flatTally struct {
	slots  []flatSlot
	n      int
	max    int
	bound  int64
	drops  int64
	moves  uint32 // grows and prunes: slot indexes taken before one are stale
	pruned bool
}

type flatSlot struct {
	key  connKey4
	used bool
	c    cell
}

func newFlatTally(max int) *flatTally {
	return &flatTally{slots: make([]flatSlot, 1024), max: max}
}

func (k connKey4) hash() uint64 {
	h := k.inside*0xbf58476d1ce4e5b9 ^ k.outside*0x94d049bb133111eb ^ k.inside>>29
	h *= 0xff51afd7ed558ccd
	return h ^ h>>32
}

// at returns the slot index of k, adding it when new.
func (t *flatTally) at(k connKey4) int32 {
	mask := uint64(len(t.slots) - 1)
	for i := k.hash() & mask; ; i = (i + 1) & mask {
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

func (t *flatTally) cell(i int32) *cell { return &t.slots[i].c }

// rebuild rehashes every used slot into a table of size slots.
func (t *flatTally) rebuild(size int) {
	old := t.slots
	t.slots, t.n = make([]flatSlot, size), 0
	t.moves++
	mask := uint64(size - 1)
	for _, s := range old {
		if !s.used {
			continue
		}
		i := s.key.hash() & mask
		for t.slots[i].used {
			i = (i + 1) & mask
		}
		t.slots[i] = s
		t.n++
	}
}

// prune drops the lower half of the keys by count, like tally.prune.
func (t *flatTally) prune() {
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
			*s = flatSlot{}
			t.drops++
		}
	}
	t.bound += maxDropped
	t.rebuild(len(t.slots)) // closes the holes linear probing cannot have
}

func (t *flatTally) each(f func(connKey4, cell)) {
	for i := range t.slots {
		if t.slots[i].used {
			f(t.slots[i].key, t.slots[i].c)
		}
	}
}

func (t *flatTally) approximate() bool { return t.drops > 0 }
