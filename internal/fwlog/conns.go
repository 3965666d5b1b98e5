package fwlog

import (
	"encoding/binary"
	"math"
	"net/netip"
	"runtime"
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
	sink uint32 // keeps keyTable.warm's reads
	k4   *keyTable[connKey4]
	k6   *keyTable[connKey6]
	wide *tally[connKey]
	out4 *keyTable[addr4] // nil until a row table prunes
	out6 *tally[netip.Addr]
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
// from the store's own tables once split, otherwise summed from the rows now. The IPv4 sums
// (nearly all of them) are made by sorting: each row's outside address and counts are copied into
// an array, radix-sorted by address, and the runs of equal addresses summed, which reads memory
// in order where a hash table of the addresses would miss the cache at every row. The sums are
// made in parts, each over the addresses whose hash falls in it, so that they take a fraction of
// the memory of the rows (at most 8 MB a part) rather than a second table as large as the rows.
func (cs *connStore) eachOutsideCount(f func(netip.Addr, cell)) {
	if cs.out4 != nil {
		cs.out4.each(func(a addr4, c cell) { f(a.addr(), c) })
		cs.out6.each(f)
		return
	}
	rows := cs.rows()
	if rows >= collectIndex {
		// What the run dropped (the memo, old indexes) is likely still mapped: collect it so
		// that these arrays reuse it rather than add to the peak.
		runtime.GC()
	}
	const perPart = 1 << 18
	parts := uint64(rows/perPart + 1)
	part4 := func(a addr4) uint64 { return uint64(uint32(a)*0x9e3779b1) * parts >> 32 }
	// The part of an IPv6 address comes from hash bits 21–31, which neither a part table's index
	// position (low bits) nor its tags (high bits) use, so that a part's keys still spread over both.
	part16 := func(h uint64) uint64 { return (h >> 21 & 0x7ff) * parts >> 11 }
	// A part holds about rows/parts sums; a few more leave room for the luck of the hash.
	sums := hugeSlice[outSum](rows/int(parts) + rows/int(parts)/8 + 64)[:0]
	var scratch []outSum
	for p := range parts {
		sums = sums[:0]
		add4 := func(a addr4, c *cell) {
			if part4(a) == p {
				sums = appendOutSum(sums, a, c)
			}
		}
		// No table prunes: it holds at most the rows. (The cap sizes the index tags.)
		t6 := newKeyTable[addr16](max(rows, 1))
		zoned := newTally[netip.Addr](rows + 1)
		add16 := func(a addr16, c *cell) {
			if part16(a.hash()) == p {
				t6.mergeAt(t6.at(a), c)
			}
		}
		for i := range int32(cs.k4.n) {
			sl := cs.k4.slot(i)
			if a := sl.key.outsideAddr(); part4(a) == p {
				if cs.k4.spill == nil {
					sums = append(sums, outSum{uint32(a), sl.c.in, sl.c.out, sl.c.other})
				} else {
					c := cs.k4.cellAt(i)
					sums = appendOutSum(sums, a, &c)
				}
			}
		}
		for i := range int32(cs.k6.n) {
			k, c := cs.k6.slot(i).key, cs.k6.cellAt(i)
			if k.fam&2 != 0 {
				add4(addr4(binary.BigEndian.Uint32(k.outside[12:])), &c)
			} else {
				add16(addr16(k.outside), &c)
			}
		}
		cs.wide.each(func(k connKey, c cell) {
			switch a := k.outside.Addr(); {
			case a.Is4():
				add4(addr4(u32(a)), &c)
			case a.Zone() == "" && a.IsValid():
				add16(addr16(a.As16()), &c)
			case p == 0:
				zoned.get(a).merge(&c)
			}
		})
		if cap(scratch) < len(sums) {
			scratch = hugeSlice[outSum](cap(sums))
		}
		sorted := sortOutSums(sums, scratch[:len(sums)])
		for i := 0; i < len(sorted); {
			a, c := sorted[i].addr, cell{}
			for ; i < len(sorted) && sorted[i].addr == a; i++ {
				c.In, c.Out, c.Other = c.In+int64(sorted[i].in), c.Out+int64(sorted[i].out), c.Other+int64(sorted[i].other)
			}
			f(addr4(a).addr(), c)
		}
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

// sortOutSums sorts sums by address, a byte at a time from the lowest (a stable radix sort), with
// scratch (as long as sums) for the other copy; it returns the sorted copy, which is either. A
// byte that all the addresses share costs no pass.
func sortOutSums(sums, scratch []outSum) []outSum {
	var counts [4][256]int
	for _, s := range sums {
		counts[0][s.addr&0xff]++
		counts[1][s.addr>>8&0xff]++
		counts[2][s.addr>>16&0xff]++
		counts[3][s.addr>>24]++
	}
	src, dst := sums, scratch
	for b := range 4 {
		shift := 8 * b
		if len(src) == 0 || counts[b][src[0].addr>>shift&0xff] == len(src) {
			continue
		}
		var next [256]int
		pos := 0
		for d, n := range counts[b] {
			next[d] = pos
			pos += n
		}
		for _, s := range src {
			d := s.addr >> shift & 0xff
			dst[next[d]] = s
			next[d]++
		}
		src, dst = dst, src
	}
	return src
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
