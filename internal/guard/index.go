package guard

import (
	"container/heap"
	"math"
	"net/netip"
	"time"

	"github.com/firewarden/firewarden/internal/block"
)

// banIndex is the guard's compact copy of the bans and offenders of block.json: what it needs
// between two saves of the state to decide (is the address banned, how often was it banned) and
// to expire bans on time. It costs about 60 bytes a ban (a 32-byte map slot and a 24-byte heap
// item, with the slack of their growth), where a block.State holds several hundred; the
// kernel's contents are the backend's business. Times are Unix seconds.
type banIndex struct {
	recs map[pkey]banRec
	// exp is a min-heap of ban ends; an item whose end no longer matches its record (the
	// ban was lifted or extended) is stale and skipped when it comes up.
	exp expHeap
	// active counts the records with a ban, ended or not (an ended ban leaves at the next
	// expire).
	active int
	// ranges are the keys of banned prefixes shorter than a host, for covered(); few.
	ranges map[pkey]struct{}
}

// banRec is one prefix's ban and offender record.
type banRec struct {
	end   uint32 // when the ban ends; 0: not banned (an offender record only); forever: never
	last  uint32 // when it was last banned, for block.OffenderMemory
	count uint16 // times banned, the current ban included
}

const forever = math.MaxUint32

func newBanIndex() *banIndex {
	return &banIndex{recs: make(map[pkey]banRec), ranges: make(map[pkey]struct{})}
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

// load replaces the index with the bans and offenders of st.
func (x *banIndex) load(st *block.State) {
	x.recs = make(map[pkey]banRec, len(st.Bans)+len(st.Offenders)/4)
	x.ranges = make(map[pkey]struct{})
	x.active = 0
	for _, o := range st.Offenders {
		if !o.Prefix.IsValid() {
			continue
		}
		x.recs[pkeyOf(o.Prefix)] = banRec{last: unixSec(o.Last), count: clampCount(o.Count)}
	}
	x.exp = make(expHeap, 0, len(st.Bans))
	for _, b := range st.Bans {
		if !b.Prefix.IsValid() {
			continue
		}
		k := pkeyOf(b.Prefix)
		r := x.recs[k]
		r.end = unixSec(b.Expires)
		r.last = max(r.last, unixSec(b.Last))
		r.count = max(r.count, clampCount(b.Count))
		x.set(k, r)
	}
	heap.Init(&x.exp)
}

func clampCount(n int) uint16 { return uint16(min(max(n, 0), math.MaxUint16)) }

// set stores r for k, keeping active, ranges and the heap in step.
func (x *banIndex) set(k pkey, r banRec) {
	old, had := x.recs[k]
	if had && old.end != 0 {
		x.active--
	}
	if r.end != 0 {
		x.active++
		if k.bits < 128 {
			x.ranges[k] = struct{}{}
		}
		if r.end != forever && (!had || old.end != r.end) {
			heap.Push(&x.exp, expItem{k: k, end: r.end})
		}
	} else {
		delete(x.ranges, k)
	}
	x.recs[k] = r
	x.compact()
}

// banned reports whether the address a is under an unended ban, its own or a range's.
func (x *banIndex) banned(a addrKey, now uint32) bool {
	if r, ok := x.recs[hostKey(a)]; ok && r.end > now {
		return true
	}
	for k := range x.ranges {
		if k.contains(a) && x.recs[k].end > now {
			return true
		}
	}
	return false
}

// previous is how often k was banned before, as block.State.Ban counts it: offender records
// are kept for block.OffenderMemory after their last ban.
func (x *banIndex) previous(k pkey, now uint32) int {
	r, ok := x.recs[k]
	if !ok || (r.end == 0 && int64(now)-int64(r.last) > int64(block.OffenderMemory/time.Second)) {
		return 0
	}
	return int(r.count)
}

// ban records a ban of k from now until end.
func (x *banIndex) ban(k pkey, now, end uint32) {
	r := x.recs[k]
	r.count = min(r.count, math.MaxUint16-1) + 1
	r.last, r.end = now, end
	x.set(k, r)
}

// lift removes the ban on k, keeping its offender record.
func (x *banIndex) lift(k pkey) {
	if r, ok := x.recs[k]; ok && r.end != 0 {
		r.end = 0
		x.set(k, r)
	}
}

// next is when the earliest ban ends; ok is false when no ban has an end.
func (x *banIndex) next() (uint32, bool) {
	for len(x.exp) > 0 {
		it := x.exp[0]
		if x.recs[it.k].end == it.end {
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
		r, ok := x.recs[it.k]
		if !ok || r.end != it.end {
			continue // stale
		}
		r.end = 0
		x.set(it.k, r)
		out = append(out, it.k)
	}
	return out
}

// bannedWithin lists the unended host bans inside the range k: what the kernel must hold
// once k's own entry goes.
func (x *banIndex) bannedWithin(k pkey, now uint32) []block.Ban {
	var out []block.Ban
	for h, r := range x.recs {
		if h != k && h.bits > k.bits && r.end > now && k.contains(h.a) {
			out = append(out, block.Ban{Prefix: h.prefix(), Expires: timeOf(r.end)})
		}
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
		if r, ok := x.recs[it.k]; ok && r.end == it.end {
			live = append(live, it)
		}
	}
	clear(x.exp[len(live):])
	x.exp = live
	heap.Init(&x.exp)
}

// banPrefix is the prefix of a host ban on a.
func banPrefix(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

type expItem struct {
	k   pkey
	end uint32
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
