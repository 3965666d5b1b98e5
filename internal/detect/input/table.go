package input

// MaxTableBytes caps the memory of each of a Reader's tables (the process table, the ECS
// entity table) at 64 MiB: the bytes of their keys' and values' strings plus entryOverhead per
// entry. Ordinary input never comes near it: a busy Mac runs well under a thousand processes,
// and macOS paths are at most 1,024 bytes (PATH_MAX), so even DefaultMaxProcs entries with long
// paths take about 16 MiB. Forged or broken input can carry far longer strings (a 12 MB gzip of
// fork events with 100 KB paths once made the table take 2 GB); then the oldest entries are
// forgotten first, as when the table is full by count.
const MaxTableBytes = 64 << 20

// entryOverhead is what one entry costs besides its strings, in bytes: the map's key and value
// with its share of the map's buckets, and the ring slot. An estimate on the high side.
const entryOverhead = 128

// maxInternBytes caps the strings an interner holds before it forgets them all (16 MiB).
const maxInternBytes = 16 << 20

// bounded is a map that holds at most max keys and at most maxBytes bytes (as size counts
// them): when a write would exceed either, the keys written longest ago are dropped (a write
// refreshes a key). Memory therefore stays bounded however long the stream and however long
// its strings, and a pid table keeps long-lived processes that keep exec'ing (shells, launchd's
// jobs) while forgetting the ones a flood of short-lived processes pushed out.
//
// Writes are recorded in a ring, oldest first, of at most max slots; a key's slot is live while
// its stamp matches the map's. A rewrite or a delete leaves a stale slot behind, which is simply
// dropped when it becomes the oldest, so the map never holds more keys than the ring has slots.
type bounded[K comparable, V any] struct {
	m        map[K]stamped[V]
	ring     []slot[K] // a circular queue: n slots from head, growing up to max
	head, n  int
	stamp    uint64
	max      int
	size     func(K, V) int // the bytes of an entry's strings
	bytes    int            // of the live entries, entryOverhead included
	maxBytes int
	evicted  int64
}

type stamped[V any] struct {
	v     V
	stamp uint64
}

type slot[K comparable] struct {
	k     K
	stamp uint64
}

func newBounded[K comparable, V any](max, maxBytes int, size func(K, V) int) *bounded[K, V] {
	return &bounded[K, V]{m: make(map[K]stamped[V]), max: max, maxBytes: maxBytes, size: size}
}

func (t *bounded[K, V]) get(k K) (V, bool) {
	e, ok := t.m[k]
	return e.v, ok
}

func (t *bounded[K, V]) put(k K, v V) {
	if old, ok := t.m[k]; ok {
		t.bytes -= t.size(k, old.v) + entryOverhead
	}
	if t.n == t.max {
		t.pop()
	}
	t.stamp++
	t.push(slot[K]{k, t.stamp})
	t.m[k] = stamped[V]{v, t.stamp}
	t.bytes += t.size(k, v) + entryOverhead
	// The entry just written stays even when it alone is over the cap: the bound is then
	// maxBytes plus one entry.
	for t.bytes > t.maxBytes && len(t.m) > 1 {
		t.pop()
	}
}

// push appends s to the ring, growing it (up to max slots) when it is full.
func (t *bounded[K, V]) push(s slot[K]) {
	if t.n == len(t.ring) {
		grown := make([]slot[K], min(max(2*len(t.ring), 64), t.max))
		for i := range t.n {
			grown[i] = t.ring[(t.head+i)%len(t.ring)]
		}
		t.ring, t.head = grown, 0
	}
	i := t.head + t.n
	if i >= len(t.ring) {
		i -= len(t.ring)
	}
	t.ring[i] = s
	t.n++
}

// pop drops the oldest slot, and its key when the slot is live.
func (t *bounded[K, V]) pop() {
	old := t.ring[t.head]
	t.ring[t.head] = slot[K]{} // let go of the key's strings
	t.head++
	if t.head == len(t.ring) {
		t.head = 0
	}
	t.n--
	if e, ok := t.m[old.k]; ok && e.stamp == old.stamp {
		delete(t.m, old.k)
		t.bytes -= t.size(old.k, e.v) + entryOverhead
		t.evicted++
	}
}

func (t *bounded[K, V]) delete(k K) {
	if e, ok := t.m[k]; ok {
		t.bytes -= t.size(k, e.v) + entryOverhead
		delete(t.m, k)
	}
}

func (t *bounded[K, V]) len() int { return len(t.m) }

// procKey names a process: pids are only unique on one host.
type procKey struct {
	host string
	pid  int
}

// proc is what the table knows of a live process: its current image and its parent, and the
// image it ran before its last exec when eslogger told (a management agent that execs a shell
// stays in the shell's lineage, where allow lists look for it).
type proc struct {
	path string
	ppid int
	was  string
	cmd  cmdRef // its command line, kept in the Reader's cmdRing
}

// procBytes is the bytes of a process entry's strings, for the table's cap. Strings the
// interner shares between entries are counted in each: an over-count, on the safe side.
func procBytes(k procKey, p proc) int { return len(k.host) + len(p.path) + len(p.was) }

// stringBytes is the bytes of an entity table entry's strings.
func stringBytes(k, v string) int { return len(k) + len(v) }

// interner hands out one string per distinct byte sequence, so the tables can keep paths and
// host names from skipped lines without allocating for each line. It forgets everything when
// it reaches max entries or maxInternBytes, which bounds it; strings handed out stay valid.
type interner struct {
	m     map[string]string
	max   int
	bytes int
}

func (in *interner) get(b []byte) string {
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	if len(in.m) >= in.max || in.bytes+len(b) > maxInternBytes {
		clear(in.m)
		in.bytes = 0
	}
	s := string(b)
	in.m[s] = s
	in.bytes += len(s)
	return s
}
