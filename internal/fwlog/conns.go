package fwlog

import (
	"encoding/binary"
	"math"
	"net/netip"
	"runtime"
	"sync"
)

// connKey6 is a connKey in 40 bytes for any pair of addresses without a zone (IPv6, or IPv4 rows
// whose action number does not fit connKey4). IPv4 addresses are stored mapped into IPv6 with a
// family bit, so that "1.2.3.4" and "::ffff:1.2.3.4" stay apart.
type connKey6 struct {
	inside, outside [16]byte
	inPort, outPort uint16
	action          uint16
	proto           Proto
	fam             uint8 // bit 0: inside is IPv4; bit 1: outside is IPv4
}

func pack6(k connKey) (connKey6, bool) {
	in, out := k.inside.Addr(), k.outside.Addr()
	if !in.IsValid() || !out.IsValid() || in.Zone() != "" || out.Zone() != "" {
		return connKey6{}, false
	}
	var fam uint8
	if in.Is4() {
		fam |= 1
	}
	if out.Is4() {
		fam |= 2
	}
	return connKey6{inside: in.As16(), outside: out.As16(), inPort: k.inside.Port(), outPort: k.outside.Port(),
		action: k.action, proto: k.proto, fam: fam}, true
}

func (k connKey6) unpack() connKey {
	addr := func(b [16]byte, is4 bool) netip.Addr {
		a := netip.AddrFrom16(b)
		if is4 {
			a = a.Unmap()
		}
		return a
	}
	return connKey{action: k.action, proto: k.proto,
		inside:  netip.AddrPortFrom(addr(k.inside, k.fam&1 != 0), k.inPort),
		outside: netip.AddrPortFrom(addr(k.outside, k.fam&2 != 0), k.outPort)}
}

func (k connKey6) hash() uint64 {
	le := binary.LittleEndian
	h := le.Uint64(k.inside[:8])*0x9e3779b97f4a7c15 ^ le.Uint64(k.inside[8:])
	h = mix64(h) ^ le.Uint64(k.outside[:8])*0xc2b2ae3d27d4eb4f ^ le.Uint64(k.outside[8:])
	h = mix64(h) ^ uint64(k.inPort)<<48 ^ uint64(k.outPort)<<32 ^ uint64(k.action)<<16 ^ uint64(k.proto)<<8 ^ uint64(k.fam)
	return mix64(h)
}

func (k connKey4) hash() uint64 {
	h := k.inside*0xbf58476d1ce4e5b9 ^ k.outside*0x94d049bb133111eb ^ k.inside>>29
	h *= 0xff51afd7ed558ccd
	return h ^ h>>32
}

// outsideAddr is the outside address of a packed row.
func (k connKey4) outsideAddr() addr4 { return addr4(k.outside >> 16) }

// connStore is the connection table with the packets per outside address.
//
// Rows go to the smallest table that holds them: IPv4 pairs in 16-byte keys, other addresses
// without a zone in 40-byte keys, anything else (zoned addresses) in a map. While no table has
// pruned, the outside-address counts are the sums of the rows, and are derived from them when the
// report asks, so a million connections cost one table rather than two. The first prune of a row
// table first derives them into tables of their own, which from then on count every row as it
// comes: they stay exact (or within their own bound) whatever the row tables drop.
type connStore struct {
	max  int
	k4   *keyTable[connKey4]
	k6   *keyTable[connKey6]
	wide *tally[connKey]
	out4 *keyTable[addr4] // nil until a row table prunes
	out6 *tally[netip.Addr]
	// scratch is memory Summarize is done with (its read buffers), for the outside sums.
	scratch []outSum
}

func newConnStore(max int) *connStore {
	cs := &connStore{max: max, k4: newKeyTable[connKey4](max), k6: newKeyTable[connKey6](max), wide: newTally[connKey](max)}
	cs.k4.beforePrune, cs.k6.beforePrune, cs.wide.beforePrune = cs.splitOutside, cs.splitOutside, cs.splitOutside
	return cs
}

// add counts one packet of row k.
func (cs *connStore) add(k connKey, d Dir) {
	if k4, ok := pack4(k); ok && k.action < 1<<12 {
		cs.add4(k4, d)
		return
	}
	cs.addRow(k, d, 1)
	if cs.out4 != nil {
		cs.addOutside(k.outside.Addr(), d, 1)
	}
}

// add4 counts one packet of a packed row.
func (cs *connStore) add4(k connKey4, d Dir) { cs.add4h(k, k.hash(), d) }

// add4h is add4 with k's hash already computed.
func (cs *connStore) add4h(k connKey4, h uint64, d Dir) {
	cs.k4.addAt(cs.k4.atHash(k, h), d, 1)
	if cs.out4 != nil {
		cs.out4.add(k.outsideAddr(), d, 1)
	}
}

// addRow counts n packets of row k in the row tables only.
func (cs *connStore) addRow(k connKey, d Dir, n int64) {
	if k4, ok := pack4(k); ok && k.action < 1<<12 {
		cs.k4.add(k4, d, n)
	} else if k6, ok := pack6(k); ok {
		cs.k6.add(k6, d, n)
	} else {
		cs.wide.add(k, d, n)
	}
}

func (cs *connStore) mergeRow(k connKey, c *cell) {
	if k4, ok := pack4(k); ok && k.action < 1<<12 {
		cs.k4.mergeAt(cs.k4.at(k4), c)
	} else if k6, ok := pack6(k); ok {
		cs.k6.mergeAt(cs.k6.at(k6), c)
	} else {
		cs.wide.get(k).merge(c)
	}
}

func (cs *connStore) addOutside(a netip.Addr, d Dir, n int64) {
	if a.Is4() {
		cs.out4.add(addr4(u32(a)), d, n)
	} else {
		cs.out6.add(a, d, n)
	}
}

func (cs *connStore) mergeOutside(a netip.Addr, c *cell) {
	if a.Is4() {
		cs.out4.mergeAt(cs.out4.at(addr4(u32(a))), c)
	} else {
		cs.out6.get(a).merge(c)
	}
}

// splitOutside gives the outside addresses tables of their own, filled from the rows.
func (cs *connStore) splitOutside() {
	if cs.out4 != nil {
		return
	}
	cs.k4.beforePrune, cs.k6.beforePrune, cs.wide.beforePrune = nil, nil, nil
	cs.out4, cs.out6 = newKeyTable[addr4](cs.max), newTally[netip.Addr](cs.max)
	cs.eachOutside(cs.mergeOutside)
}

// eachOutside calls f with the outside address and counts of every row.
func (cs *connStore) eachOutside(f func(netip.Addr, *cell)) {
	for i := range int32(cs.k4.n) {
		c := cs.k4.cellAt(i)
		f(cs.k4.slot(i).key.outsideAddr().addr(), &c)
	}
	for i := range int32(cs.k6.n) {
		c := cs.k6.cellAt(i)
		f(cs.k6.slot(i).key.unpack().outside.Addr(), &c)
	}
	cs.wide.each(func(k connKey, c cell) { f(k.outside.Addr(), &c) })
}

// eachOutsideCount calls f for every outside address with its packets, in no particular order:
// from the store's own tables once split, otherwise summed from the rows now (see outside4 for
// the IPv4 addresses, nearly all of them).
func (cs *connStore) eachOutsideCount(f func(netip.Addr, cell)) {
	cs.eachOutsideCountPar(1, func(_ int, a netip.Addr, c cell) { f(a, c) })
}

// eachOutsideCountPar is eachOutsideCount with the IPv4 sums made by up to workers goroutines,
// which it waits for: f(w, …) is called from goroutine w (0 ≤ w < workers) only, so that each can
// keep its own results. The other addresses go to f(0, …) after the IPv4 ones.
func (cs *connStore) eachOutsideCountPar(workers int, f func(w int, a netip.Addr, c cell)) {
	if cs.out4 != nil {
		cs.out4.each(func(a addr4, c cell) { f(0, a.addr(), c) })
		cs.out6.each(func(a netip.Addr, c cell) { f(0, a, c) })
		return
	}
	if cs.rows() >= collectIndex {
		// What the run dropped (the memo, old indexes, read buffers) is likely still mapped:
		// collect it so that the sums' arrays reuse it rather than add to the peak.
		runtime.GC()
	}
	workers = max(1, min(workers, cs.rows()/outPerWorker))
	cs.outside4(workers, outBucket, func(w int, a addr4, c cell) { f(w, a.addr(), c) })
	cs.outside6(func(a netip.Addr, c cell) { f(0, a, c) })
}

// outside4 sums the rows' counts by outside IPv4 address and calls f(w, …) for every address from
// goroutine w of workers (buckets of about perBucket entries). It reads the rows in order first to
// count and then to copy each row's address and counts into a bucket chosen by a hash of the
// address (an array of 16 bytes a row, or several rounds in cs.scratch), and then sums each bucket (a few thousand entries, which stay in a core's
// cache) in a small hash table. A hash table of all the addresses instead misses the cache at
// every row, and sorting all of them takes four passes over the array. The buckets are shared out
// among the goroutines, as are the rows for the two reads.
func (cs *connStore) outside4(workers, perBucket int, f func(w int, a addr4, c cell)) {
	// Rows whose counts do not fit outSum's 32 bits, and IPv4 outside addresses of the other
	// tables: few, gathered first.
	var extra []outSum
	k4 := cs.k4
	for i := range k4.spill {
		c := k4.cellAt(i)
		extra = appendOutSum(extra, k4.slot(i).key.outsideAddr(), &c)
	}
	for i := range int32(cs.k6.n) {
		if k := cs.k6.slot(i).key; k.fam&2 != 0 {
			c := cs.k6.cellAt(i)
			extra = appendOutSum(extra, addr4(binary.BigEndian.Uint32(k.outside[12:])), &c)
		}
	}
	cs.wide.each(func(k connKey, c cell) {
		if a := k.outside.Addr(); a.Is4() {
			extra = appendOutSum(extra, addr4(u32(a)), &c)
		}
	})
	total := k4.n + len(extra)
	if total == 0 {
		return
	}
	// A power of two of buckets, selected by the top bits of a hash.
	bbits := uint(0)
	for total>>bbits > perBucket && bbits < 16 {
		bbits++
	}
	nb := 1 << bbits
	bucket := func(a uint32) uint32 { return uint32(uint64(a*0x9e3779b1) >> (32 - bbits)) }
	// Worker w reads rows [w*n/workers, (w+1)*n/workers); worker 0 also the extra sums.
	span := func(w int) (int32, int32) {
		return int32(w * k4.n / workers), int32((w + 1) * k4.n / workers)
	}
	inSpill := func(i int32) bool {
		_, ok := k4.spill[i]
		return ok
	}
	hist := make([][]int, workers)
	parallel(workers, func(w int) {
		h := make([]int, nb)
		lo, hi := span(w)
		for i := lo; i < hi; i++ {
			sl := k4.slot(i)
			if k4.spill != nil && inSpill(i) {
				continue
			}
			h[bucket(uint32(sl.key.outsideAddr()))]++
		}
		if w == 0 {
			for _, e := range extra {
				h[bucket(e.addr)]++
			}
		}
		hist[w] = h
	})
	// starts[b] is where bucket b begins; next[w][b] where worker w writes its next entry of b.
	starts := make([]int, nb+1)
	next := make([][]int, workers)
	for w := range next {
		next[w] = make([]int, nb)
	}
	pos := 0
	for b := range nb {
		starts[b] = pos
		for w := range workers {
			next[w][b] = pos
			pos += hist[w][b]
		}
	}
	starts[nb] = pos
	// The array is the store's scratch (memory the run is done with, already faulted in) when
	// it holds the largest bucket: the buckets are then copied and summed in rounds, each of the
	// consecutive buckets that fit, at the cost of one more read of the rows per round. Fresh
	// memory costs more here than reading: the kernel zeroes every page of it first.
	sums := cs.scratch
	rounds := []int{0} // the first bucket of each round, then nb
	for b := range nb {
		if starts[b+1]-starts[b] > len(sums) {
			sums, rounds = nil, []int{0}
			break
		}
		if starts[b+1]-starts[rounds[len(rounds)-1]] > len(sums) {
			rounds = append(rounds, b)
		}
	}
	if sums == nil || len(rounds) > maxOutRounds {
		sums, rounds = hugeSlice[outSum](total), []int{0}
	}
	rounds = append(rounds, nb)
	for r := range len(rounds) - 1 {
		bLo, bHi := uint32(rounds[r]), uint32(rounds[r+1])
		base := starts[bLo]
		parallel(workers, func(w int) {
			nx := next[w]
			lo, hi := span(w)
			for i := lo; i < hi; i++ {
				sl := k4.slot(i)
				if k4.spill != nil && inSpill(i) {
					continue
				}
				a := uint32(sl.key.outsideAddr())
				if b := bucket(a); b >= bLo && b < bHi {
					sums[nx[b]-base] = outSum{a, sl.c.in, sl.c.out, sl.c.other}
					nx[b]++
				}
			}
			if w == 0 {
				for _, e := range extra {
					if b := bucket(e.addr); b >= bLo && b < bHi {
						sums[nx[b]-base] = e
						nx[b]++
					}
				}
			}
		})
		parallel(workers, func(w int) {
			var agg outAgg
			for b := int(bLo) + w; b < int(bHi); b += workers {
				agg.sum(sums[starts[b]-base:starts[b+1]-base], func(a uint32, c cell) { f(w, addr4(a), c) })
			}
		})
	}
}

// maxOutRounds is the most rounds outside4 makes in its scratch before it takes an array of its
// own: each reads all the rows again.
const maxOutRounds = 4

// Entries per bucket of outside4 (at 16 bytes, 64 KiB), and the fewest rows per goroutine.
const (
	outBucket    = 1 << 12
	outPerWorker = 1 << 15
)

// parallel runs f(0) … f(n-1) each in a goroutine of its own (f(0) in the caller's) and returns
// when all have.
func parallel(n int, f func(w int)) {
	var wg sync.WaitGroup
	for w := 1; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(w)
		}()
	}
	f(0)
	wg.Wait()
}

// outAgg sums outSums by address in an open-addressing table, kept between buckets.
type outAgg struct {
	slots []int32 // index into acc plus one; 0: empty
	acc   []outAcc
}

type outAcc struct {
	addr uint32
	c    cell
}

// sum calls f once for every address of part with the sum of its counts, in no particular order.
func (g *outAgg) sum(part []outSum, f func(uint32, cell)) {
	size := 16
	for size < 2*len(part) {
		size *= 2
	}
	if len(g.slots) < size {
		g.slots = make([]int32, size)
	}
	slots := g.slots[:size]
	clear(slots)
	mask := uint32(size - 1)
	g.acc = g.acc[:0]
	for _, e := range part {
		// The bucket came from the hash's top bits; the slot comes from another hash's.
		h := e.addr * 0x85ebca6b
		p := (h ^ h>>16) & mask
		for {
			i := slots[p]
			if i == 0 {
				g.acc = append(g.acc, outAcc{e.addr, cell{int64(e.in), int64(e.out), int64(e.other)}})
				slots[p] = int32(len(g.acc))
				break
			}
			if a := &g.acc[i-1]; a.addr == e.addr {
				a.c.In, a.c.Out, a.c.Other = a.c.In+int64(e.in), a.c.Out+int64(e.out), a.c.Other+int64(e.other)
				break
			}
			p = (p + 1) & mask
		}
	}
	for _, a := range g.acc {
		f(a.addr, a.c)
	}
}

// outside6 sums the rows' counts by outside address other than IPv4, and calls f for each. The
// sums are made in parts, each over the addresses whose hash falls in it, so that they take a
// fraction of the memory of the rows rather than a second table as large as the rows.
func (cs *connStore) outside6(f func(netip.Addr, cell)) {
	rows := cs.k6.n + len(cs.wide.idx)
	if rows == 0 {
		return
	}
	const perPart = 1 << 18
	parts := uint64(rows/perPart + 1)
	// The part of an IPv6 address comes from hash bits 21–31, which neither a part table's index
	// position (low bits) nor its tags (high bits) use, so that a part's keys still spread over both.
	part16 := func(h uint64) uint64 { return (h >> 21 & 0x7ff) * parts >> 11 }
	for p := range parts {
		// No table prunes: it holds at most the rows. (The cap sizes the index tags.)
		t6 := newKeyTable[addr16](max(rows, 1))
		zoned := newTally[netip.Addr](rows + 1)
		add16 := func(a addr16, c *cell) {
			if part16(a.hash()) == p {
				t6.mergeAt(t6.at(a), c)
			}
		}
		for i := range int32(cs.k6.n) {
			if k := cs.k6.slot(i).key; k.fam&2 == 0 {
				c := cs.k6.cellAt(i)
				add16(addr16(k.outside), &c)
			}
		}
		cs.wide.each(func(k connKey, c cell) {
			switch a := k.outside.Addr(); {
			case a.Is4():
			case a.Zone() == "" && a.IsValid():
				add16(addr16(a.As16()), &c)
			case p == 0:
				zoned.get(a).merge(&c)
			}
		})
		t6.each(func(a addr16, c cell) { f(netip.AddrFrom16(a), c) })
		zoned.each(f)
	}
}

// outSum is a row's outside IPv4 address and counts, as eachOutsideCount sorts them.
type outSum struct{ addr, in, out, other uint32 }

// appendOutSum appends a's counts c, in as many outSums as their 32-bit counters need (one,
// unless a count passed 2^32-1).
func appendOutSum(sums []outSum, a addr4, c *cell) []outSum {
	in, out, other := c.In, c.Out, c.Other
	for {
		s := outSum{uint32(a), uint32(min(in, math.MaxUint32)), uint32(min(out, math.MaxUint32)), uint32(min(other, math.MaxUint32))}
		sums = append(sums, s)
		in, out, other = in-int64(s.in), out-int64(s.out), other-int64(s.other)
		if in == 0 && out == 0 && other == 0 {
			return sums
		}
	}
}

// addr16 is an IPv6 address without a zone as a table key.
type addr16 [16]byte

func (a addr16) hash() uint64 {
	return mix64(binary.LittleEndian.Uint64(a[:8])*0x9e3779b97f4a7c15 ^ binary.LittleEndian.Uint64(a[8:]))
}

// eachRow calls f for every row.
func (cs *connStore) eachRow(f func(connKey, cell)) {
	cs.k4.each(func(k connKey4, c cell) { f(k.unpack(), c) })
	cs.k6.each(func(k connKey6, c cell) { f(k.unpack(), c) })
	cs.wide.each(f)
}

// rows is the number of rows held.
func (cs *connStore) rows() int { return cs.k4.n + cs.k6.n + len(cs.wide.idx) }

func (cs *connStore) approximate() bool {
	return cs.k4.approximate() || cs.k6.approximate() || cs.wide.approximate() ||
		cs.out4 != nil && (cs.out4.approximate() || cs.out6.approximate())
}

func (cs *connStore) bound() int64 {
	b := max(cs.k4.bound, cs.k6.bound, cs.wide.bound)
	if cs.out4 != nil {
		b = max(b, cs.out4.bound, cs.out6.bound)
	}
	return b
}

// merge adds o into cs, with o's action numbers mapped through remap. o must not be used
// afterwards.
func (cs *connStore) merge(o *connStore, remap []uint16) {
	// When either side counts outside addresses apart, or the rows together could reach the cap,
	// both sides split them first: the merged outside counts are then the sums of exact ones.
	split := cs.out4 != nil || o.out4 != nil || cs.rows()+o.rows() > cs.max
	if split {
		cs.splitOutside()
		o.splitOutside()
	}
	for i := range int32(o.k4.n) {
		k, c := o.k4.slot(i).key, o.k4.cellAt(i)
		if a := remap[k.action()]; a < 1<<12 {
			k.inside = k.inside&^(0xfff<<48) | uint64(a)<<48
			cs.k4.mergeAt(cs.k4.at(k), &c)
		} else {
			u := k.unpack()
			u.action = a
			cs.mergeRow(u, &c)
		}
	}
	for i := range int32(o.k6.n) {
		u, c := o.k6.slot(i).key.unpack(), o.k6.cellAt(i)
		u.action = remap[u.action]
		cs.mergeRow(u, &c)
	}
	o.wide.each(func(k connKey, c cell) {
		k.action = remap[k.action]
		cs.mergeRow(k, &c)
	})
	for _, t := range [][2]*int64{{&cs.k4.bound, &o.k4.bound}, {&cs.k6.bound, &o.k6.bound}, {&cs.wide.bound, &o.wide.bound},
		{&cs.k4.drops, &o.k4.drops}, {&cs.k6.drops, &o.k6.drops}, {&cs.wide.drops, &o.wide.drops}} {
		*t[0] += *t[1]
	}
	if split {
		cs.out4.merge(o.out4)
		cs.out6.merge(o.out6)
	}
}

func (a addr4) addr() netip.Addr {
	return netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)})
}
