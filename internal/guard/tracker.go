package guard

import (
	"time"

	"github.com/firewarden/firewarden/internal/authwatch"
)

// slots is how many parts the window is counted in. Failures are added to the part of the
// window they fall in; a part leaves the count once it is a whole window old. So a failure
// always counts for at least window*(slots-1)/slots and never longer than the window.
const slots = 16

// tracker counts the recent failures of each address, in bounded memory: at most max
// addresses, the least recently seen forgotten first, and no allocation per line once its
// table has grown (entries are reused through a free list; the map keeps its buckets).
type tracker struct {
	slotLen int64 // nanoseconds; window/slots
	max     int
	idx     map[addrKey]int32
	ents    []entry
	head    int32 // most recently seen; -1 when empty
	tail    int32 // least recently seen
	free    int32 // first free entry, chained through next; -1 when none
}

// entry is one tracked address: about 136 bytes, plus its map slot.
type entry struct {
	addr       addrKey
	pts        [slots]uint16 // points (hundredths of a failure) per part of the window, saturating
	cur        int64         // the part pts[cur%slots] counts; the latest one touched
	prev, next int32         // recency list
	// The last line counted, to count the lines of one attempt once (see Engine.Observe).
	pid     int32
	lastPts uint16
	kind    authwatch.Kind
	paired  bool
	// credits are what the failures of the address's latest sshd processes added, so that
	// Engine.Forgive takes back exactly that when one of them logs in.
	credits [maxCredits]credit
}

// maxCredits is how many sshd processes of one address have their points remembered for
// forgiveness. Past that, the process whose latest failure is oldest is forgotten first: its
// failures stay counted if it logs in later (the safe side: forgiving less, never more). Four
// covers a person's few concurrent logins; a NAT of busy CI hosts may have more, which the low
// weight of a valid user's failed key (DefaultWeights) covers instead.
const maxCredits = 4

// creditParts is how many parts of the window a credit spans: the failures of one connection
// fall within sshd's LoginGraceTime (2 minutes by default), which spans at most 2 parts of the
// default window and 4 of a 16-minute one. Points a process added longer ago than that are not
// taken back.
const creditParts = 4

// credit is what the failures of one sshd process added to its address's count: 16 bytes.
type credit struct {
	pid int32  // 0: unused
	cur uint32 // the low bits of the part pts[0] counts (advance drops a credit a window old)
	pts [creditParts]uint16
}

// age is how many parts before the entry's current one the credit's pts[0] counts.
func (e *entry) age(c *credit) int64 { return int64(int32(uint32(e.cur) - c.cur)) }

// credit notes that process pid added pts in the entry's current part.
func (e *entry) credit(pid int32, pts uint16) {
	if pid <= 0 || pts == 0 {
		return
	}
	var c *credit
	for i := range e.credits {
		if e.credits[i].pid == pid {
			c = &e.credits[i]
			break
		}
	}
	if c == nil {
		c = &e.credits[0]
		for i := range e.credits {
			if e.credits[i].pid == 0 {
				c = &e.credits[i]
				break
			}
			if e.age(&e.credits[i]) > e.age(c) {
				c = &e.credits[i]
			}
		}
		*c = credit{pid: pid, cur: uint32(e.cur)}
	}
	if d := e.age(c); d > 0 {
		if d >= creditParts {
			c.pts = [creditParts]uint16{}
		} else {
			copy(c.pts[d:], c.pts[:creditParts-d])
			clear(c.pts[:d])
		}
		c.cur = uint32(e.cur)
	}
	c.pts[0] = uint16(min(uint32(c.pts[0])+uint32(pts), 0xffff))
}

// forgive takes back what process pid added and is still within the window, never going below
// zero, and returns how many points it took back.
func (e *entry) forgive(pid int32) uint32 {
	if pid <= 0 {
		return 0
	}
	var took uint32
	for i := range e.credits {
		c := &e.credits[i]
		if c.pid != pid {
			continue
		}
		for j, p := range c.pts {
			age := e.age(c) + int64(j)
			if p == 0 || age < 0 || age >= slots {
				continue
			}
			slot := &e.pts[(e.cur-age)%slots]
			t := min(*slot, p)
			*slot -= t
			took += uint32(t)
		}
		*c = credit{}
	}
	if e.pid == pid {
		e.pid, e.kind, e.lastPts, e.paired = -1, 0, 0, false // a later line pairs with nothing forgiven
	}
	return took
}

func newTracker(window time.Duration, max int) *tracker {
	sl := int64(window) / slots
	if sl < 1 {
		sl = 1
	}
	return &tracker{slotLen: sl, max: max, idx: make(map[addrKey]int32), head: -1, tail: -1, free: -1}
}

// len is the number of addresses tracked.
func (t *tracker) len() int { return len(t.idx) }

// get returns the entry of a, creating it (and forgetting the least recently seen address when
// the tracker is full), with its count moved to now. It returns whether the entry is new.
func (t *tracker) get(a addrKey, now time.Time) *entry {
	part := max(now.UnixNano()/t.slotLen, 0) // a clock before 1970 counts as 1970
	t.dropStale(part)
	if i, ok := t.idx[a]; ok {
		e := &t.ents[i]
		e.advance(part)
		t.toFront(i)
		return e
	}
	if len(t.idx) >= t.max && t.tail >= 0 {
		t.remove(t.ents[t.tail].addr)
	}
	var i int32
	if t.free >= 0 {
		i = t.free
		t.free = t.ents[i].next
	} else {
		t.ents = append(t.ents, entry{})
		i = int32(len(t.ents) - 1)
	}
	t.ents[i] = entry{addr: a, cur: part, prev: -1, next: -1, pid: -1}
	t.idx[a] = i
	t.pushFront(i)
	return &t.ents[i]
}

// find returns the entry of a, or nil, without creating it or changing its recency.
func (t *tracker) find(a addrKey) *entry {
	if i, ok := t.idx[a]; ok {
		return &t.ents[i]
	}
	return nil
}

// remove forgets a.
func (t *tracker) remove(a addrKey) {
	i, ok := t.idx[a]
	if !ok {
		return
	}
	t.unlink(i)
	delete(t.idx, a)
	t.ents[i] = entry{next: t.free}
	t.free = i
}

// dropStale forgets the least recently seen addresses whose failures have all left the window.
func (t *tracker) dropStale(part int64) {
	for t.tail >= 0 && part-t.ents[t.tail].cur >= slots {
		t.remove(t.ents[t.tail].addr)
	}
}

func (t *tracker) toFront(i int32) {
	if t.head == i {
		return
	}
	t.unlink(i)
	t.pushFront(i)
}

func (t *tracker) pushFront(i int32) {
	e := &t.ents[i]
	e.prev, e.next = -1, t.head
	if t.head >= 0 {
		t.ents[t.head].prev = i
	}
	t.head = i
	if t.tail < 0 {
		t.tail = i
	}
}

func (t *tracker) unlink(i int32) {
	e := &t.ents[i]
	if e.prev >= 0 {
		t.ents[e.prev].next = e.next
	} else {
		t.head = e.next
	}
	if e.next >= 0 {
		t.ents[e.next].prev = e.prev
	} else {
		t.tail = e.prev
	}
	e.prev, e.next = -1, -1
}

// advance moves the entry's count to part, clearing the parts that left the window. A part
// before the entry's latest (a clock stepped back) counts in the latest.
func (e *entry) advance(part int64) {
	if part <= e.cur {
		return
	}
	if part-e.cur >= slots {
		// Nothing left in the window: the address starts over, as if it had been forgotten
		// (which dropStale may or may not have done yet).
		e.pts = [slots]uint16{}
		e.pid, e.kind, e.lastPts, e.paired = -1, 0, 0, false
		e.credits = [maxCredits]credit{}
	} else {
		for p := e.cur + 1; p <= part; p++ {
			e.pts[p%slots] = 0
		}
	}
	e.cur = part
	for i := range e.credits {
		if e.credits[i].pid != 0 && e.age(&e.credits[i]) >= slots {
			e.credits[i] = credit{} // all of it left the window; and its cur cannot wrap round
		}
	}
}

// add counts pts in the current part, saturating.
func (e *entry) add(pts uint16) {
	i := e.cur % slots
	if s := uint32(e.pts[i]) + uint32(pts); s > 0xffff {
		e.pts[i] = 0xffff
	} else {
		e.pts[i] = uint16(s)
	}
}

// score is the points within the window.
func (e *entry) score() uint32 {
	var s uint32
	for _, p := range e.pts {
		s += uint32(p)
	}
	return s
}

// part is the part of the window now falls in.
func (t *tracker) part(now time.Time) int64 { return max(now.UnixNano()/t.slotLen, 0) }

// each calls f for every tracked entry, least recently seen first.
func (t *tracker) each(f func(e *entry)) {
	for i := t.tail; i >= 0; i = t.ents[i].prev {
		f(&t.ents[i])
	}
}

// restore tracks es again (a checkpoint's entries, least recently seen first), each as the
// most recently seen so far, as they were; an entry whose failures have all left the window at
// now, or that lies in the future (a clock stepped back), is left out, as is one tracked
// already.
func (t *tracker) restore(es []entry, now time.Time) {
	part := t.part(now)
	for _, e := range es {
		if part-e.cur >= slots || e.cur > part {
			continue
		}
		if _, ok := t.idx[e.addr]; ok {
			continue
		}
		n := t.get(e.addr, now)
		prev, next := n.prev, n.next
		*n = e
		n.prev, n.next = prev, next
	}
}
