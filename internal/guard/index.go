package guard

import (
	"bytes"
	"cmp"
	"container/heap"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/firewarden/firewarden/internal/block"
)

// banIndex is the guard's compact copy of the bans and offenders of block.json: what it needs
// between two saves of the state to decide (is the address banned, how often was it banned) and
// to expire bans on time. Times are Unix seconds.
//
// Memory is the point (the issue allows the whole daemon 200 bytes a ban, and the backend's
// view of the kernel takes part of that): the records read from the state sit in one sorted
// slice of 28-byte records, sized exactly, searched by bisection; the few records made since
// (the guard's own bans until the next save reloads the state) sit in a small slice with a map;
// the expiry heap holds 8-byte references. About 36 bytes a ban in all, where a Go map of the
// same records takes 80 to 120 and a block.State several hundred.
type banIndex struct {
	base     []rec          // from the state, sorted by (address, bits), no duplicates
	extra    []rec          // added since the state was loaded
	extraIdx map[pkey]int32 // index into extra
	exp      expHeap        // ban ends; an item whose end no longer matches its record is stale
	// active counts the records with a ban, ended or not (an ended ban leaves at the next
	// expire).
	active int
	// ranges are the keys of banned prefixes shorter than a host, for banned(); few.
	ranges map[pkey]struct{}
}

// rec is one prefix's ban and offender record.
type rec struct {
	a     addrKey
	end   uint32 // when the ban ends; 0: not banned (an offender record only); forever: never
	last  uint32 // when it was last banned, for block.OffenderMemory
	count uint16 // times banned, the current ban included
	bits  uint8  // as in pkey
}

func (r *rec) key() pkey { return pkey{a: r.a, bits: r.bits} }

func cmpKey(a addrKey, abits uint8, b addrKey, bbits uint8) int {
	return cmp.Or(bytes.Compare(a[:], b[:]), cmp.Compare(abits, bbits))
}

// ref names a record: i ≥ 0 is base[i], i < 0 is extra[^i].
type ref int32

const forever = math.MaxUint32

func newBanIndex() *banIndex {
	return &banIndex{extraIdx: make(map[pkey]int32), ranges: make(map[pkey]struct{})}
}

// unixSec is t in Unix seconds, rounded up (a ban never ends early), clamped to uint32; the
// zero time is forever.
func unixSec(t time.Time) uint32 {
	if t.IsZero() {
		return forever
	}
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return uint32(min(max(s, 1), forever-1))
}

func timeOf(s uint32) time.Time {
	if s == forever {
		return time.Time{}
	}
	return time.Unix(int64(s), 0)
}

func clampCount(n int) uint16 { return uint16(min(max(n, 0), math.MaxUint16)) }

// load replaces the index with the bans and offenders of st.
func (x *banIndex) load(st *block.State) {
	tmp := make([]rec, 0, len(st.Bans)+len(st.Offenders))
	for _, o := range st.Offenders {
		if o.Prefix.IsValid() {
			k := pkeyOf(o.Prefix)
			tmp = append(tmp, rec{a: k.a, bits: k.bits, last: unixSec(o.Last), count: clampCount(o.Count)})
		}
	}
	for _, b := range st.Bans {
		if b.Prefix.IsValid() {
			k := pkeyOf(b.Prefix)
			tmp = append(tmp, rec{a: k.a, bits: k.bits, end: unixSec(b.Expires), last: unixSec(b.Last), count: clampCount(b.Count)})
		}
	}
	// Sorted by key, a ban after its offender record: merging keeps the ban's end.
	slices.SortStableFunc(tmp, func(p, q rec) int { return cmpKey(p.a, p.bits, q.a, q.bits) })
	n := 0
	for i := range tmp {
		if n > 0 && tmp[n-1].a == tmp[i].a && tmp[n-1].bits == tmp[i].bits {
			m := &tmp[n-1]
			m.end = max(m.end, tmp[i].end)
			m.last = max(m.last, tmp[i].last)
			m.count = max(m.count, tmp[i].count)
			continue
		}
		tmp[n] = tmp[i]
		n++
	}
	x.base = slices.Clone(tmp[:n]) // exactly sized: tmp goes
	x.extra = nil
	x.extraIdx = make(map[pkey]int32)
	x.ranges = make(map[pkey]struct{})
	x.active = 0
	x.exp = nil
	for i := range x.base {
		if r := &x.base[i]; r.end != 0 {
			x.active++
			if r.end != forever {
				x.exp = append(x.exp, expItem{end: r.end, ref: ref(i)})
			}
			if r.bits < 128 {
				x.ranges[r.key()] = struct{}{}
			}
		}
	}
	x.exp = slices.Clip(x.exp)
	heap.Init(&x.exp)
}

// find returns the record of k, or nil.
func (x *banIndex) find(k pkey) (*rec, ref) {
	i, ok := slices.BinarySearchFunc(x.base, k, func(r rec, k pkey) int { return cmpKey(r.a, r.bits, k.a, k.bits) })
	if ok {
		return &x.base[i], ref(i)
	}
	if j, ok := x.extraIdx[k]; ok {
		return &x.extra[j], ^ref(j)
	}
	return nil, 0
}

func (x *banIndex) at(r ref) *rec {
	if r >= 0 {
		return &x.base[r]
	}
	return &x.extra[^r]
}

// update sets k's ban end, last ban and count, keeping active, ranges and the heap in step.
func (x *banIndex) update(k pkey, end, last uint32, count uint16) {
	r, id := x.find(k)
	if r == nil {
		x.extra = append(x.extra, rec{a: k.a, bits: k.bits})
		j := int32(len(x.extra) - 1)
		x.extraIdx[k] = j
		r, id = &x.extra[j], ^ref(j)
	}
	if r.end != 0 {
		x.active--
	}
	if end != 0 {
		x.active++
		if k.bits < 128 {
			x.ranges[k] = struct{}{}
		}
		if end != forever && end != r.end {
			heap.Push(&x.exp, expItem{end: end, ref: id})
		}
	} else {
		delete(x.ranges, k)
	}
	r.end, r.last, r.count = end, last, count
	x.compact()
}

// banned reports whether the address a is under an unended ban, its own or a range's.
func (x *banIndex) banned(a addrKey, now uint32) bool {
	if r, _ := x.find(hostKey(a)); r != nil && r.end > now {
		return true
	}
	for k := range x.ranges {
		if k.contains(a) {
			if r, _ := x.find(k); r != nil && r.end > now {
				return true
			}
		}
	}
	return false
}

// previous is how often k was banned before, as block.State.Ban counts it: offender records
// are kept for block.OffenderMemory after their last ban.
func (x *banIndex) previous(k pkey, now uint32) int {
	r, _ := x.find(k)
	if r == nil || (r.end == 0 && int64(now)-int64(r.last) > int64(block.OffenderMemory/time.Second)) {
		return 0
	}
	return int(r.count)
}

// ban records a ban of k from now until end.
func (x *banIndex) ban(k pkey, now, end uint32) {
	count := uint16(0)
	if r, _ := x.find(k); r != nil {
		count = r.count
	}
	x.update(k, end, now, min(count, math.MaxUint16-1)+1)
}

// lift removes the ban on k, keeping its offender record.
func (x *banIndex) lift(k pkey) {
	if r, _ := x.find(k); r != nil && r.end != 0 {
		x.update(k, 0, r.last, r.count)
	}
}

// next is when the earliest ban ends; ok is false when no ban has an end.
func (x *banIndex) next() (uint32, bool) {
	for len(x.exp) > 0 {
		it := x.exp[0]
		if x.at(it.ref).end == it.end {
			return it.end, true
		}
		heap.Pop(&x.exp) // stale
	}
	return 0, false
}

// expire ends the bans whose end is at or before now and returns their prefixes.
func (x *banIndex) expire(now uint32) []pkey {
	var out []pkey
	for len(x.exp) > 0 && x.exp[0].end <= now {
		it := heap.Pop(&x.exp).(expItem)
		r := x.at(it.ref)
		if r.end != it.end {
			continue // stale
		}
		x.active--
		r.end = 0
		k := r.key()
		delete(x.ranges, k)
		out = append(out, k)
	}
	return out
}

// bannedWithin lists the unended host bans inside the range k: what the kernel must hold
// once k's own entry goes.
func (x *banIndex) bannedWithin(k pkey, now uint32) []block.Ban {
	var out []block.Ban
	add := func(r *rec) {
		if r.bits > k.bits && r.end > now && k.contains(r.a) {
			out = append(out, block.Ban{Prefix: r.key().prefix(), Expires: timeOf(r.end)})
		}
	}
	i, _ := slices.BinarySearchFunc(x.base, k, func(r rec, k pkey) int { return cmpKey(r.a, r.bits, k.a, k.bits) })
	for ; i < len(x.base) && k.contains(x.base[i].a); i++ {
		add(&x.base[i])
	}
	for j := range x.extra {
		add(&x.extra[j])
	}
	return out
}

// compact drops stale heap items when they outnumber the live ones, so that bans lifted or
// extended again and again cannot grow the heap without bound.
func (x *banIndex) compact() {
	if len(x.exp) < 1024 || len(x.exp) < 2*x.active {
		return
	}
	live := x.exp[:0]
	for _, it := range x.exp {
		if x.at(it.ref).end == it.end {
			live = append(live, it)
		}
	}
	x.exp = live
	heap.Init(&x.exp)
}

// banPrefix is the prefix of a host ban on a.
func banPrefix(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

type expItem struct {
	end uint32
	ref ref
}

type expHeap []expItem

func (h expHeap) Len() int           { return len(h) }
func (h expHeap) Less(i, j int) bool { return h[i].end < h[j].end }
func (h expHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expHeap) Push(v any)        { *h = append(*h, v.(expItem)) }
func (h *expHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
