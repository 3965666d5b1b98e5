package fwlog

// Summarize's workers parse in parallel but do not keep connection rows: each hands the rows of
// its chunk, packed, to one goroutine that owns the run's only connection store. So the run holds
// one table of the size of the log's distinct connections (not one per worker plus their merge),
// the key cap applies to the run as a whole (exact below --max-keys however the chunks were
// shared out), and the rows arrive in the order of the input, so that what a prune keeps does not
// depend on scheduling.

// connRec is one packet's row as a worker hands it on: a packed row, or (wide) the index of the
// row in its batch's wide list. Action numbers are the worker's.
type connRec struct {
	k    connKey4
	dir  Dir
	wide bool
}

// connBatch is the rows of one chunk.
type connBatch struct {
	seq    int64
	worker int
	acts   []actionName // the worker's actions interned since its previous batch, in number order
	recs   []connRec
	wide   []connKey
	data   []byte // the chunk's buffer, recycled once the rows are counted
}

// aggregate counts the batches into total in chunk order, and recycles their buffers.
// size is the input's length in bytes (0: unknown); see presize.
func aggregate(total *Summary, workers int, batches <-chan *connBatch, free chan []byte, spare chan *connBatch, size int64) {
	var done int64 // bytes of the batches counted
	presized := size <= 0
	remap := make([][]uint16, workers)
	pending := map[int64]*connBatch{}
	next := int64(0)
	for b := range batches {
		pending[b.seq] = b
		for {
			b, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			rm := remap[b.worker]
			for _, a := range b.acts {
				rm = append(rm, total.action(a.format, []byte(a.name)))
			}
			remap[b.worker] = rm
			total.countBatch(b, rm)
			done += int64(len(b.data))
			if !presized && total.cs.k4.n >= presizeFrom {
				presized = true
				presize(total.cs.k4, done, size)
			}
			recycle(free, b.data)
			b.acts, b.recs, b.wide, b.data = b.acts[:0], b.recs[:0], b.wide[:0], nil
			select {
			case spare <- b:
			default:
			}
		}
	}
}

// presizeFrom is the number of packed rows from which the aggregator sizes the table's index for
// the whole input: smaller tables grow by doubling as usual (and a log of few connections never
// gets here).
const presizeFrom = 1 << 16

// presize sizes t's index for the rows it will hold at the end of the input (size bytes, done of
// them read), guessed as if new rows kept coming at the rate they came so far (the most they can,
// since distinct rows come ever slower), within the table's cap. The doublings it saves rehash
// every row each; the guess only costs index slots (4 bytes each) when too high.
func presize[K tableKey](t *keyTable[K], done, size int64) {
	if done <= 0 || size <= done {
		return
	}
	want := float64(t.n) * float64(size) / float64(done)
	t.reserve(int(min(want, float64(t.max))))
}

// countBatch counts a batch's rows, with the worker's action numbers mapped through remap. Packed
// rows are counted in blocks: the table's cache lines for a whole block are read first (warm).
func (s *Summary) countBatch(b *connBatch, remap []uint16) {
	const block = 32
	var keys [block]connKey4
	var hs [block]uint64
	recs := b.recs
	for len(recs) > 0 {
		blk := recs[:min(block, len(recs))]
		recs = recs[len(blk):]
		n := 0
		for _, r := range blk {
			if k := r.k; !r.wide {
				if a := remap[k.action()]; a < 1<<12 {
					k.inside = k.inside&^(0xfff<<48) | uint64(a)<<48
					keys[n], hs[n] = k, k.hash()
					n++
				}
			}
		}
		s.sink += s.cs.k4.warm(hs[:n])
		n = 0
		for _, r := range blk {
			k := r.k
			switch a := remap[k.action()]; {
			case r.wide:
				k := b.wide[r.k.inside]
				k.action = remap[k.action]
				s.cs.add(k, r.dir)
			case a < 1<<12:
				s.cs.add4h(keys[n], hs[n], r.dir)
				n++
			default:
				u := k.unpack()
				u.action = a
				s.cs.add(u, r.dir)
			}
		}
	}
}

// takeBatch returns a spare batch, or a new one.
func takeBatch(spare chan *connBatch) *connBatch {
	select {
	case b := <-spare:
		return b
	default:
		return &connBatch{recs: make([]connRec, 0, 1<<14)}
	}
}
