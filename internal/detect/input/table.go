package input

// bounded is a map that holds at most max keys: when a new write would exceed it, the key
// written longest ago is dropped (a write refreshes a key). Memory therefore stays bounded
// however long the stream, and a pid table keeps long-lived processes that keep exec'ing
// (shells, launchd's jobs) while forgetting the ones a flood of short-lived processes pushed
// out.
//
// Writes are recorded in a ring of max slots; a key's slot is live while its stamp matches the
// map's. A rewrite or a delete leaves a stale slot behind, which is simply dropped when the
// ring comes round to it, so the map never holds more keys than the ring has slots.
type bounded[K comparable, V any] struct {
	m       map[K]stamped[V]
	ring    []slot[K]
	head    int // the oldest slot once the ring is full
	stamp   uint64
	max     int
	evicted int64
}

type stamped[V any] struct {
	v     V
	stamp uint64
}

type slot[K comparable] struct {
	k     K
	stamp uint64
}

func newBounded[K comparable, V any](max int) *bounded[K, V] {
	return &bounded[K, V]{m: make(map[K]stamped[V]), max: max}
}

func (t *bounded[K, V]) get(k K) (V, bool) {
	e, ok := t.m[k]
	return e.v, ok
}

func (t *bounded[K, V]) put(k K, v V) {
	t.stamp++
	if len(t.ring) < t.max {
		t.ring = append(t.ring, slot[K]{k, t.stamp})
	} else {
		old := t.ring[t.head]
		if e, ok := t.m[old.k]; ok && e.stamp == old.stamp {
			delete(t.m, old.k)
			t.evicted++
		}
		t.ring[t.head] = slot[K]{k, t.stamp}
		t.head++
		if t.head == t.max {
			t.head = 0
		}
	}
	t.m[k] = stamped[V]{v, t.stamp}
}

func (t *bounded[K, V]) delete(k K) { delete(t.m, k) }

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
}

// interner hands out one string per distinct byte sequence, so the tables can keep paths and
// host names from skipped lines without allocating for each line. It forgets everything when
// it reaches max entries, which bounds it; strings handed out stay valid.
type interner struct {
	m   map[string]string
	max int
}

func (in *interner) get(b []byte) string {
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	if len(in.m) >= in.max {
		clear(in.m)
	}
	s := string(b)
	in.m[s] = s
	return s
}
