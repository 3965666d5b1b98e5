package fwlog

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// collide is a key whose hash is chosen by the test, to force collisions.
type collide struct{ id, h uint32 }

func (k collide) hash() uint64 { return uint64(k.h) | uint64(k.h)<<32 }

// refTally is the reference the key table is checked against: a map and the same pruning rule.
type refTally[K comparable] struct {
	m      map[K]cell
	order  []K
	max    int
	bound  int64
	drops  int64
	prunes int
}

func (r *refTally[K]) add(k K, d Dir, n int64) {
	if _, ok := r.m[k]; !ok {
		if len(r.m) >= r.max {
			r.prune()
		}
		r.order = append(r.order, k)
	}
	c := r.m[k]
	c.add(d, n)
	r.m[k] = c
}

func (r *refTally[K]) prune() {
	var totals []int64
	for _, c := range r.m {
		totals = append(totals, c.total())
	}
	slices.Sort(totals)
	threshold := totals[len(totals)/2]
	var maxDropped int64
	var kept []K
	for _, k := range r.order {
		if n := r.m[k].total(); n <= threshold {
			maxDropped = max(maxDropped, n)
			delete(r.m, k)
			r.drops++
			continue
		}
		kept = append(kept, k)
	}
	r.order, r.bound = kept, r.bound+maxDropped
	r.prunes++
}

type op[K any] struct {
	k K
	d Dir
	n int64
}

func contents[K tableKey](t *keyTable[K]) map[K]cell {
	m := map[K]cell{}
	t.each(func(k K, c cell) { m[k] = c })
	return m
}

func checkTable[K tableKey](t *testing.T, max int, ops []op[K]) {
	t.Helper()
	tab := newKeyTable[K](max)
	ref := &refTally[K]{m: map[K]cell{}, max: max}
	for _, o := range ops {
		tab.add(o.k, o.d, o.n)
		ref.add(o.k, o.d, o.n)
	}
	if diff := cmp.Diff(ref.m, contents(tab)); diff != "" {
		t.Errorf("table contents (-want +got):\n%s", diff)
	}
	if tab.len() != len(ref.m) || tab.bound != ref.bound || tab.drops != ref.drops || int(tab.prunes) != ref.prunes {
		t.Errorf("len %d bound %d drops %d prunes %d, want %d %d %d %d", tab.len(), tab.bound, tab.drops, tab.prunes, len(ref.m), ref.bound, ref.drops, ref.prunes)
	}
	for k := range ref.m {
		if i := tab.find(k); i < 0 || tab.slot(i).key != k {
			t.Errorf("find(%v) = %d", k, i)
		}
	}
	// Pruning keeps insertion order, so each lists keys in the reference's order.
	var order []K
	tab.each(func(k K, _ cell) { order = append(order, k) })
	if !slices.Equal(ref.order, order) {
		t.Errorf("order = %v, want %v", order, ref.order)
	}
}

func TestKeyTable(t *testing.T) {
	many := func(n int, f func(i int) op[collide]) []op[collide] {
		var ops []op[collide]
		for i := range n {
			ops = append(ops, f(i))
		}
		return ops
	}
	for _, tt := range []struct {
		name string
		max  int
		ops  []op[collide]
	}{
		{"empty", 10, nil},
		{"one key, every direction", 10, []op[collide]{{collide{1, 1}, DirIn, 1}, {collide{1, 1}, DirOut, 2}, {collide{1, 1}, DirUnknown, 3}, {collide{1, 1}, DirFwd, 4}}},
		// Every key on one hash: the index probes past equal tags to compare keys.
		{"all collide", 1 << 20, many(3000, func(i int) op[collide] { return op[collide]{collide{uint32(i), 7}, Dir(i % 3), 1} })},
		// Same position, different tags.
		{"same slot, other tags", 1 << 20, many(3000, func(i int) op[collide] { return op[collide]{collide{uint32(i), uint32(i) << 16}, DirIn, 1} })},
		// Growth well past the first index (1,024 slots), with repeats.
		{"growth", 1 << 20, many(50_000, func(i int) op[collide] {
			return op[collide]{collide{uint32(i % 20_000), uint32(i%20_000) * 2654435761}, DirIn, 1}
		})},
		{"at the cap, exact", 100, many(100, func(i int) op[collide] { return op[collide]{collide{uint32(i), uint32(i)}, DirIn, int64(i)} })},
		{"one over the cap prunes", 100, many(101, func(i int) op[collide] { return op[collide]{collide{uint32(i), uint32(i)}, DirIn, int64(i%7 + 1)} })},
		{"many prunes", 64, many(10_000, func(i int) op[collide] {
			k := uint32(i * 7919 % 500)
			return op[collide]{collide{k, k * 40503}, DirOut, int64(k%5 + 1)}
		})},
		{"cap of one", 1, many(10, func(i int) op[collide] { return op[collide]{collide{uint32(i % 3), uint32(i % 3)}, DirIn, 1} })},
	} {
		t.Run(tt.name, func(t *testing.T) { checkTable(t, tt.max, tt.ops) })
	}
}

// Counters are 32 bits in the table; what passes 2^32-1 is carried, exactly, and survives pruning
// and merging.
func TestKeyTableCountsPast32Bits(t *testing.T) {
	tab := newKeyTable[collide](4)
	big := collide{1, 1}
	tab.add(big, DirIn, math.MaxUint32)
	tab.add(big, DirIn, 1)
	tab.add(big, DirOut, 5<<32+3)
	tab.add(big, DirUnknown, 1)
	want := cell{In: math.MaxUint32 + 1, Out: 5<<32 + 3, Other: 1}
	if got := tab.cellAt(tab.find(big)); got != want {
		t.Fatalf("cellAt = %+v, want %+v", got, want)
	}
	for i := range uint32(10) { // prunes the small keys, moving big to another entry number
		tab.add(collide{10 + i, 10 + i}, DirIn, 1)
	}
	if got := tab.cellAt(tab.find(big)); got != want {
		t.Errorf("after pruning: cellAt = %+v, want %+v", got, want)
	}
	o := newKeyTable[collide](4)
	o.add(big, DirIn, math.MaxUint32)
	tab.merge(o)
	want.In += math.MaxUint32
	if got := tab.cellAt(tab.find(big)); got != want {
		t.Errorf("after merging: cellAt = %+v, want %+v", got, want)
	}
}

func mustAP(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// Rows of every address family go through the store and come back as they went in.
func TestConnStoreRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		name  string
		k     connKey
		table string
	}{
		{"ipv4", connKey{3, ProtoTCP, mustAP("10.0.0.1:22"), mustAP("203.0.113.9:4000")}, "k4"},
		{"ipv4 no ports", connKey{3, ProtoICMP, mustAP("10.0.0.1:0"), mustAP("203.0.113.9:0")}, "k4"},
		{"ipv4, action past 12 bits", connKey{5000, ProtoUDP, mustAP("10.0.0.1:53"), mustAP("203.0.113.9:4000")}, "k6"},
		{"ipv6", connKey{1, ProtoTCP, mustAP("[2001:db8::1]:22"), mustAP("[2001:db8:ffff::9]:4000")}, "k6"},
		{"ipv6 icmp", connKey{1, ProtoICMPv6, mustAP("[2001:db8::1]:0"), mustAP("[fe80::1]:0")}, "k6"},
		{"ipv4-mapped ipv6 stays mapped", connKey{1, ProtoTCP, mustAP("[::ffff:10.0.0.1]:22"), mustAP("[::ffff:203.0.113.9]:4000")}, "k6"},
		{"mixed families", connKey{1, ProtoTCP, mustAP("10.0.0.1:22"), mustAP("[2001:db8::9]:4000")}, "k6"},
		{"zone", connKey{1, ProtoTCP, mustAP("[fe80::1%en0]:22"), mustAP("[fe80::2%en0]:4000")}, "wide"},
		{"invalid address", connKey{1, ProtoTCP, netip.AddrPort{}, mustAP("203.0.113.9:4000")}, "wide"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cs := newConnStore(100)
			cs.add(tt.k, DirIn)
			cs.add(tt.k, DirOut)
			got := map[connKey]cell{}
			cs.eachRow(func(k connKey, c cell) { got[k] = c })
			if diff := cmp.Diff(map[connKey]cell{tt.k: {In: 1, Out: 1}}, got, cmp.Comparer(func(a, b connKey) bool { return a == b })); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
			if n := map[string]int{"k4": cs.k4.n, "k6": cs.k6.n, "wide": len(cs.wide.idx)}[tt.table]; n != 1 {
				t.Errorf("row not in %s (k4 %d, k6 %d, wide %d)", tt.table, cs.k4.n, cs.k6.n, len(cs.wide.idx))
			}
			outs := map[netip.Addr]cell{}
			cs.eachOutsideCount(func(a netip.Addr, c cell) { outs[a] = c })
			if diff := cmp.Diff(map[netip.Addr]cell{tt.k.outside.Addr(): {In: 1, Out: 1}}, outs, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("outside (-want +got):\n%s", diff)
			}
		})
	}
}

// Outside-address counts stay exact when the rows are pruned: the first prune splits them from
// the rows, and from then on they are counted per packet.
func TestConnStoreOutsideExactUnderPruning(t *testing.T) {
	cs := newConnStore(50)
	want := map[netip.Addr]int64{}
	for i := range 2000 {
		out := netip.AddrFrom4([4]byte{203, 0, 113, byte(i % 40)})
		k := connKey{1, ProtoTCP, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 22), netip.AddrPortFrom(out, uint16(1024+i))}
		if i%3 == 0 {
			k.inside, k.outside = mustAP(fmt.Sprintf("[2001:db8::%x]:22", i)), netip.AddrPortFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i % 30)}), 80)
		}
		cs.add(k, DirIn)
		want[k.outside.Addr()]++
	}
	if !cs.k4.approximate() || !cs.k6.approximate() || cs.out4 == nil {
		t.Fatalf("rows not pruned (k4 %d drops, k6 %d) or outside not split", cs.k4.drops, cs.k6.drops)
	}
	got := map[netip.Addr]int64{}
	cs.eachOutsideCount(func(a netip.Addr, c cell) { got[a] = c.In })
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("outside counts (-want +got):\n%s", diff)
	}
}

// FuzzKeyTable runs random operations on the table and on a map with the same pruning rule, and
// compares them: contents, order, bounds.
func FuzzKeyTable(f *testing.F) {
	f.Add(uint8(10), []byte{1, 2, 3, 1, 2, 3})
	f.Add(uint8(1), []byte{0, 0, 0, 1})
	f.Add(uint8(3), []byte("a long run of keys that collide, repeat and overflow the cap several times over"))
	f.Fuzz(func(t *testing.T, max uint8, data []byte) {
		var ops []op[collide]
		for len(data) >= 3 {
			id := binary.LittleEndian.Uint16(data)
			// Few distinct hashes, so that collisions and equal tags are common.
			ops = append(ops, op[collide]{collide{uint32(id), uint32(id % 37)}, Dir(data[2] % 4), int64(data[2]>>2) + 1})
			data = data[3:]
		}
		checkTable(t, int(max)+1, ops)
	})
}

// Summed from the rows, outside counts come out the same when the sums are made in several parts.
func TestConnStoreOutsideDerivedInParts(t *testing.T) {
	cs := newConnStore(1 << 20)
	want := map[netip.Addr]cell{}
	for i := range 300_000 {
		out := netip.AddrFrom4([4]byte{203, byte(i % 7), byte(i % 50_000 >> 8), byte(i % 50_000)})
		if i%101 == 0 {
			out = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i % 9)})
		}
		d := Dir(i % 3)
		cs.add(connKey{uint16(i % 3), ProtoTCP, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 22), netip.AddrPortFrom(out, 80)}, d)
		c := want[out]
		c.add(d, 1)
		want[out] = c
	}
	if cs.rows() < 2<<17 || cs.out4 != nil {
		t.Fatalf("%d rows, split %v: want several parts and no split", cs.rows(), cs.out4 != nil)
	}
	got := map[netip.Addr]cell{}
	cs.eachOutsideCount(func(a netip.Addr, c cell) {
		if _, dup := got[a]; dup {
			t.Errorf("%v reported twice", a)
		}
		got[a] = c
	})
	for a, c := range want {
		if got[a] != c {
			t.Errorf("outside %v = %+v, want %+v", a, got[a], c)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d outside addresses, want %d", len(got), len(want))
	}
}

// Summed from the rows, an outside address's counts stay exact past 2^32-1, whatever tables its
// rows are in: packed rows, rows whose action number does not fit them, zoned rows.
func TestConnStoreOutsideSumsPast32Bits(t *testing.T) {
	out := netip.MustParseAddr("203.0.113.7")
	in := func(i int) netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), 22)
	}
	tests := []struct {
		name string
		rows []connKey
		n    []int64
	}{
		{"one packed row", []connKey{{1, ProtoTCP, in(1), netip.AddrPortFrom(out, 80)}}, []int64{math.MaxUint32 + 5}},
		{"two packed rows", []connKey{{1, ProtoTCP, in(1), netip.AddrPortFrom(out, 80)}, {1, ProtoTCP, in(2), netip.AddrPortFrom(out, 81)}},
			[]int64{math.MaxUint32, math.MaxUint32}},
		{"packed and wide action", []connKey{{1, ProtoTCP, in(1), netip.AddrPortFrom(out, 80)}, {1 << 12, ProtoTCP, in(2), netip.AddrPortFrom(out, 81)}},
			[]int64{3 << 32, 7<<32 + 1}},
		{"packed and zoned inside", []connKey{{1, ProtoTCP, in(1), netip.AddrPortFrom(out, 80)}, {1, ProtoTCP, mustAP("[fe80::1%en0]:22"), netip.AddrPortFrom(out, 81)}},
			[]int64{1, 9 << 32}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := newConnStore(100)
			var want cell
			for i, k := range tt.rows {
				cs.addRow(k, DirIn, tt.n[i])
				cs.addRow(k, DirOut, tt.n[i]+1)
				want.add(DirIn, tt.n[i])
				want.add(DirOut, tt.n[i]+1)
			}
			got := map[netip.Addr]cell{}
			cs.eachOutsideCount(func(a netip.Addr, c cell) {
				if _, dup := got[a]; dup {
					t.Errorf("%v reported twice", a)
				}
				got[a] = c
			})
			if diff := cmp.Diff(map[netip.Addr]cell{out: want}, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("eachOutsideCount (-want +got):\n%s", diff)
			}
		})
	}
}

// outsideStore builds a connection store from data, four bytes a row: the outside address (one
// of a few, so that rows share it), the table the row lands in (packed, an action number too large
// to pack, a zoned inside address), the direction and a count that may pass 32 bits.
func outsideStore(data []byte) *connStore {
	cs := newConnStore(1 << 20)
	for i := 0; i+4 <= len(data); i += 4 {
		b := data[i : i+4]
		out := netip.AddrFrom4([4]byte{203, 0, b[0] >> 4, b[0] & 15})
		if b[1]&7 == 7 {
			out = netip.AddrFrom16([16]byte{0x20, 0x01, 15: b[0]})
		}
		in := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 10), byte(i >> 2)}), 22)
		action := uint16(b[1] >> 4)
		switch b[1] >> 3 & 3 {
		case 1:
			action += 1 << 12 // a connKey6 row
		case 2:
			in = mustAP("[fe80::1%en0]:22") // a zoned (wide) row
		}
		n := int64(b[3]) + 1
		if b[2]&1 != 0 {
			n <<= 28 // a few of these pass 2^32 in the table, or in the sums
		}
		cs.addRow(connKey{action, ProtoTCP, in, netip.AddrPortFrom(out, 80)}, Dir(b[2]>>1%3), n)
	}
	return cs
}

// checkOutside4 holds outside4 with the given goroutines, bucket size and scratch (entries) to the
// sums of the rows by IPv4 outside address, made with a map.
func checkOutside4(t *testing.T, cs *connStore, workers, perBucket, scratch int) {
	t.Helper()
	cs.scratch = make([]outSum, scratch)
	want := map[netip.Addr]cell{}
	cs.eachRow(func(k connKey, c cell) {
		if a := k.outside.Addr(); a.Is4() {
			w := want[a]
			w.merge(&c)
			want[a] = w
		}
	})
	got := make([]map[netip.Addr]cell, workers)
	for w := range got {
		got[w] = map[netip.Addr]cell{}
	}
	cs.outside4(workers, perBucket, func(w int, a addr4, c cell) {
		if _, dup := got[w][a.addr()]; dup {
			t.Errorf("outside4: %v reported twice", a.addr())
		}
		got[w][a.addr()] = c
	})
	all := map[netip.Addr]cell{}
	for _, m := range got {
		for a, c := range m {
			if _, dup := all[a]; dup {
				t.Errorf("outside4: %v reported by two goroutines", a)
			}
			all[a] = c
		}
	}
	if diff := cmp.Diff(want, all, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("outside4(%d goroutines, buckets of %d, scratch %d) (-want +got):\n%s", workers, perBucket, scratch, diff)
	}
}

// The IPv4 outside sums come out the same whatever the goroutines, buckets and scratch (none, in
// rounds, too small for the rounds), from rows in every table and with counts past 32 bits.
func TestOutside4(t *testing.T) {
	random := func(n int) []byte {
		b := make([]byte, 4*n)
		x := uint64(1)
		for i := range b {
			x = mix64(x + uint64(i))
			b[i] = byte(x)
		}
		return b
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"one row", []byte{1, 0, 0, 5}},
		{"one address", []byte{1, 0, 0, 5, 1, 0x10, 2, 9, 1, 0x20, 4, 0}},
		{"past 32 bits", []byte{1, 0, 1, 255, 1, 0, 1, 255, 1, 0x10, 1, 255, 1, 0x08, 1, 255, 1, 0x10, 3, 255}},
		{"every table", []byte{1, 0, 0, 1, 2, 0x08, 0, 1, 3, 0x10, 0, 1, 4, 0x07, 0, 1}},
		{"random", random(3000)},
	}
	for _, tt := range tests {
		for _, workers := range []int{1, 2, 3} {
			for _, perBucket := range []int{1, 7, 1 << 12} {
				for _, scratch := range []int{0, 8, 1000, 4000} {
					t.Run(fmt.Sprintf("%s/%d/%d/%d", tt.name, workers, perBucket, scratch), func(t *testing.T) {
						checkOutside4(t, outsideStore(tt.data), workers, perBucket, scratch)
					})
				}
			}
		}
	}
}

func FuzzOutside4(f *testing.F) {
	f.Add([]byte{1, 0, 1, 255, 1, 0, 1, 255, 1, 0x10, 1, 255, 1, 0x08, 1, 255}, uint8(2), uint8(1), uint8(0))
	f.Add([]byte{1, 0, 0, 1, 2, 0x08, 0, 1, 3, 0x10, 0, 1, 4, 0x07, 0, 1}, uint8(3), uint8(3), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, workers, perBucket, scratch uint8) {
		checkOutside4(t, outsideStore(data), int(workers%4)+1, int(perBucket%16)+1, int(scratch))
	})
}

// Past hugeFrom pages a table's entries come from huge-page blocks; pruned, the block's pages are
// filled again. The counts stay those of a map with the same pruning rule.
func TestKeyTableBlocks(t *testing.T) {
	max := (hugeFrom + hugeBlock) * pageSize
	tab := newKeyTable[addr4](max)
	ref := &refTally[addr4]{m: map[addr4]cell{}, max: max}
	for i := range max * 6 / 5 {
		k := addr4(i * 7919 % (max + 5*pageSize))
		tab.add(k, DirIn, int64(k%3+1))
		ref.add(k, DirIn, int64(k%3+1))
		if i == max/2 && len(tab.spare) == 0 {
			t.Fatalf("at %d rows (%d pages): no block", tab.n, len(tab.pages))
		}
	}
	if tab.prunes != 1 || int(tab.prunes) != ref.prunes {
		t.Fatalf("prunes = %d, want 1 (reference %d)", tab.prunes, ref.prunes)
	}
	if tab.len() != len(ref.m) || tab.bound != ref.bound || tab.drops != ref.drops {
		t.Errorf("len %d bound %d drops %d, want %d %d %d", tab.len(), tab.bound, tab.drops, len(ref.m), ref.bound, ref.drops)
	}
	bad := 0
	for k, c := range ref.m {
		if i := tab.find(k); i < 0 || tab.cellAt(i) != c {
			if bad++; bad <= 5 {
				t.Errorf("find(%v) = %d, want its cell %+v", k, i, c)
			}
		}
	}
}

// A table's last block holds the pages up to its cap, so that the rows up to the cap all come
// from blocks.
func TestKeyTableLastBlockStopsAtTheCap(t *testing.T) {
	const extra = hugeFrom + 3 // pages past the first block
	tab := newKeyTable[addr4]((hugeFrom+hugeBlock+extra)*pageSize - 1)
	for i := range (hugeFrom+hugeBlock)*pageSize + 1 {
		tab.add(addr4(i), DirIn, 1)
	}
	if got, want := len(tab.spare), (extra-1)*pageSize; got != want {
		t.Errorf("after %d pages: %d entries left in the block, want %d", len(tab.pages), got, want)
	}
}
