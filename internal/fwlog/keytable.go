package fwlog

import (
	"math"
	"math/bits"
	"runtime"
	"slices"
)

// tableKey is a fixed-size, pointer-free key of a keyTable.
type tableKey interface {
	comparable
	hash() uint64
}

// count32 is a cell in 32-bit counters. A counter that would pass 2^32-1 carries its excess into
// the table's spill map, so counts stay exact at any size while a row costs 12 bytes, not 24.
type count32 struct{ in, out, other uint32 }

type keySlot[K tableKey] struct {
	key K
	c   count32
}

// Entries live in fixed-size pages: growing never copies them (so never holds two copies), and
// an untouched part of the last page costs no resident memory.
const (
	pageBits = 13
	pageSize = 1 << pageBits
)

// keyTable counts keys, exactly while it holds at most max distinct keys; past that it prunes
// like tally (the keys in the lower half by count are dropped, the highest dropped count is
// added to bound). It is built for millions of keys in little memory: entries (key and 32-bit
// counts) sit densely in pages, in insertion order, and an open-addressing index of 4-byte slots
// (at most three quarters full) maps a hash to an entry. A slot holds the entry number plus one
// (0: empty) in its low idxBits bits and, above them, bits of the hash that settle almost every
// mismatch without reading the entry (11 bits with the default cap). A million IPv4 connections
// take 32 MB of entries and 5.3–11 MB of index.
type keyTable[K tableKey] struct {
	index   []uint32
	idxBits uint // enough for max+1
	pages   [][]keySlot[K]
	// spare is the rest of the block the last pages were cut from (see newPage).
	spare []keySlot[K]
	n     int
	max   int
	bound int64
	drops int64 // keys dropped so far
	// prunes counts prunes: entry numbers taken before one are stale.
	prunes uint32
	// spill holds, by entry number, what the 32-bit counters of an entry carried over.
	spill map[int32]cell
	// beforePrune, when set, runs just before the table first drops keys.
	beforePrune func()
}

// maxTableKeys bounds a keyTable's cap, so that entry numbers fit its 32-bit index slots.
const maxTableKeys = 1<<31 - 1

func newKeyTable[K tableKey](max int) *keyTable[K] {
	max = min(max, maxTableKeys)
	return &keyTable[K]{index: make([]uint32, 1024), max: max, idxBits: uint(bits.Len(uint(max)))}
}

// probe returns the index position and the tag of a hash.
func (t *keyTable[K]) probe(h uint64) (pos uint64, tag uint32) {
	return h & uint64(len(t.index)-1), uint32(h>>32) >> t.idxBits
}

func (t *keyTable[K]) len() int { return t.n }

func (t *keyTable[K]) slot(i int32) *keySlot[K] { return &t.pages[i>>pageBits][i&(pageSize-1)] }

// find returns the entry number of k, or -1.
func (t *keyTable[K]) find(k K) int32 {
	mask := uint64(len(t.index) - 1)
	p, tag := t.probe(k.hash())
	low := uint32(1)<<t.idxBits - 1
	for ; ; p = (p + 1) & mask {
		s := t.index[p]
		if s == 0 {
			return -1
		}
		if s>>t.idxBits == tag {
			if i := int32(s&low) - 1; t.slot(i).key == k {
				return i
			}
		}
	}
}

// at returns the entry number of k, adding it when new (which may prune first, and makes entry
// numbers taken before stale when it does).
func (t *keyTable[K]) at(k K) int32 { return t.atHash(k, k.hash()) }

// atHash is at with k's hash already computed.
func (t *keyTable[K]) atHash(k K, h uint64) int32 {
	mask := uint64(len(t.index) - 1)
	p, tag := t.probe(h)
	low := uint32(1)<<t.idxBits - 1
	for ; ; p = (p + 1) & mask {
		s := t.index[p]
		if s == 0 {
			break
		}
		if s>>t.idxBits == tag {
			if i := int32(s&low) - 1; t.slot(i).key == k {
				return i
			}
		}
	}
	if t.n >= t.max {
		t.prune()
		return t.atHash(k, h)
	}
	if 4*(t.n+1) > 3*len(t.index) {
		t.grow(2 * len(t.index))
		return t.atHash(k, h)
	}
	i := int32(t.n)
	if int(i)>>pageBits == len(t.pages) {
		t.pages = append(t.pages, t.newPage())
	}
	*t.slot(i) = keySlot[K]{key: k}
	t.index[p] = tag<<t.idxBits | uint32(i+1)
	t.n++
	return i
}

// newPage returns a page for entries. A large table's pages are cut from blocks of hugeBlock
// pages in huge pages (hugeSlice): a million rows then take a few dozen page faults instead of
// thousands. A block costs memory only as its pages are written, in steps of 2 MiB rather than
// 4 KiB.
func (t *keyTable[K]) newPage() []keySlot[K] {
	if len(t.spare) == 0 {
		// A block stops at the cap's last page: the pages past it would never be used.
		n := min(hugeBlock, (t.max+pageSize-1)/pageSize-len(t.pages))
		if len(t.pages) < hugeFrom || n < hugeFrom {
			return make([]keySlot[K], pageSize)
		}
		t.spare = hugeSlice[keySlot[K]](n * pageSize)
	}
	p := t.spare[:pageSize:pageSize]
	t.spare = t.spare[pageSize:]
	return p
}

// The pages from which a table takes them in blocks, and a block's pages (at 32 bytes an IPv4
// row: from 64 Ki rows, in blocks of 16 MiB).
const (
	hugeFrom  = 8
	hugeBlock = 64
)

// warm reads the index slots, then the entries, that looking up keys (with hashes hs) will read,
// with no read depending on the one before, so that the processor overlaps their cache misses;
// the lookups that follow then mostly hit the cache. With a million keys this is where the
// time goes. It returns a value only so that the reads are not optimised away.
func (t *keyTable[K]) warm(hs []uint64) uint32 {
	var sink uint32
	for _, h := range hs {
		p, _ := t.probe(h)
		sink += t.index[p]
	}
	low := uint32(1)<<t.idxBits - 1
	for _, h := range hs {
		p, _ := t.probe(h)
		if s := t.index[p]; s != 0 {
			sink += uint32(t.slot(int32(s&low) - 1).c.in)
		}
	}
	return sink
}

// add counts n packets of direction d for k.
func (t *keyTable[K]) add(k K, d Dir, n int64) { t.addAt(t.at(k), d, n) }

// addAt counts n (≥ 0) packets of direction d in entry i.
func (t *keyTable[K]) addAt(i int32, d Dir, n int64) {
	c := &t.slot(i).c
	p := &c.other
	switch d {
	case DirIn:
		p = &c.in
	case DirOut:
		p = &c.out
	}
	if v := uint64(*p) + uint64(n); v <= math.MaxUint32 {
		*p = uint32(v)
		return
	}
	t.carry(i, d, n)
}

// carry adds n to entry i's counter of direction d through the spill map, keeping the 32-bit
// counter below 2^32.
func (t *keyTable[K]) carry(i int32, d Dir, n int64) {
	c := &t.slot(i).c
	p := &c.other
	switch d {
	case DirIn:
		p = &c.in
	case DirOut:
		p = &c.out
	}
	v := int64(*p) + n
	low := v & math.MaxUint32
	if t.spill == nil {
		t.spill = map[int32]cell{}
	}
	sp := t.spill[i]
	sp.add(d, v-low)
	t.spill[i] = sp
	*p = uint32(low)
}

// cellAt returns entry i's counts.
func (t *keyTable[K]) cellAt(i int32) cell {
	c := t.slot(i).c
	out := cell{In: int64(c.in), Out: int64(c.out), Other: int64(c.other)}
	if t.spill != nil {
		if sp, ok := t.spill[i]; ok {
			out.merge(&sp)
		}
	}
	return out
}

// mergeAt adds a whole cell into entry i.
func (t *keyTable[K]) mergeAt(i int32, c *cell) {
	if c.In != 0 {
		t.addAt(i, DirIn, c.In)
	}
	if c.Out != 0 {
		t.addAt(i, DirOut, c.Out)
	}
	if c.Other != 0 {
		t.addAt(i, DirUnknown, c.Other)
	}
}

// grow rebuilds the index with size slots from the entries.
func (t *keyTable[K]) grow(size int) {
	old := len(t.index)
	t.index = nil
	if old >= collectIndex {
		// The old index is garbage now, and the collector would leave it (and its
		// predecessors) mapped until the heap doubles: collecting lets the new index and the
		// pages that follow reuse it. The heap here is pointer-free, so a collection is cheap.
		runtime.GC()
	}
	t.index = hugeSlice[uint32](size)
	mask := uint64(size - 1)
	for i := range int32(t.n) {
		p, tag := t.probe(t.slot(i).key.hash())
		for t.index[p] != 0 {
			p = (p + 1) & mask
		}
		t.index[p] = tag<<t.idxBits | uint32(i+1)
	}
}

// collectIndex is the index size (slots) from which dropping one runs the collector: 4 MiB.
const collectIndex = 1 << 20

// prune drops the lower half of the keys by count, as tally.prune does: the keys whose total is
// at most the median total go.
func (t *keyTable[K]) prune() {
	if t.beforePrune != nil {
		f := t.beforePrune
		t.beforePrune = nil
		f()
	}
	totals := make([]int64, t.n)
	for i := range int32(t.n) {
		totals[i] = t.cellAt(i).total()
	}
	sorted := slices.Clone(totals)
	slices.Sort(sorted)
	threshold := sorted[len(sorted)/2]
	sorted = nil
	var maxDropped int64
	var spill map[int32]cell
	kept := int32(0)
	for i := range int32(t.n) {
		if n := totals[i]; n <= threshold {
			maxDropped = max(maxDropped, n)
			t.drops++
			continue
		}
		*t.slot(kept) = *t.slot(i)
		if sp, ok := t.spill[i]; ok {
			if spill == nil {
				spill = map[int32]cell{}
			}
			spill[kept] = sp
		}
		kept++
	}
	t.n, t.spill = int(kept), spill
	// Pages past the kept entries go back to the collector, unless cut from a block: the block
	// lives as long as any of its pages, so they are kept to be filled again.
	if t.spare == nil && len(t.pages) < hugeFrom {
		t.pages = t.pages[:(t.n+pageSize-1)>>pageBits]
	}
	t.bound += maxDropped
	t.prunes++
	t.grow(len(t.index))
}

// each calls f for every key and its counts, in insertion order.
func (t *keyTable[K]) each(f func(K, cell)) {
	for i := range int32(t.n) {
		f(t.slot(i).key, t.cellAt(i))
	}
}

// reserve sizes the index for n keys, so that filling the table to n does not grow it.
func (t *keyTable[K]) reserve(n int) {
	size := len(t.index)
	for 4*n > 3*size {
		size *= 2
	}
	if size != len(t.index) {
		t.grow(size)
	}
}

func (t *keyTable[K]) approximate() bool { return t.drops > 0 }

// merge adds o into t.
func (t *keyTable[K]) merge(o *keyTable[K]) {
	for i := range int32(o.n) {
		c := o.cellAt(i)
		t.mergeAt(t.at(o.slot(i).key), &c)
	}
	t.bound += o.bound
	t.drops += o.drops
}

// addr4 is an IPv4 address as a table key.
type addr4 uint32

func (k addr4) hash() uint64 { return mix64(uint64(k)) }

// mix64 is the splitmix64 finaliser: every input bit moves both the index position (low bits)
// and the tag (high bits).
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}
