package rules

// v4Index finds which piece of the IPv4 space an address falls in, given the sorted start
// addresses of the pieces (the first start is 0.0.0.0). Both classifiers cut the address space
// at every boundary of every rule's address set. The index is a small radix tree of bucket
// tables: the top level splits the space by the first 12 bits of an address (32 KB, which stays
// in cache); a bucket where many pieces start gets a table of its own for the next 8 bits, and so
// on to a /28. A lookup walks down to a bucket holding at most a few starts and searches those.
type v4Index struct {
	starts []uint32
	// ent holds the tables one after another. A table for n buckets is n+1 entries: entry k is
	// {the first start at or after bucket k, the offset of bucket k's own table or 0}; the last
	// entry closes the final bucket.
	ent [][2]uint32
}

const (
	v4TopBits   = 12
	v4SubBits   = 8
	v4DenseAt   = 8 // a bucket where this many pieces start gets a table of its own
	v4LastShift = 32 - v4TopBits - 2*v4SubBits
)

func newV4Index(starts []uint32) v4Index {
	x := v4Index{starts: starts}
	x.table(0, len(starts), 32-v4TopBits, 1<<v4TopBits)
	return x
}

// table appends the table for starts[lo:hi], which share every bit above shift+log2(n), split
// into n buckets by the bits from shift up, and returns its offset.
func (x *v4Index) table(lo, hi int, shift uint, n int) uint32 {
	at := len(x.ent)
	x.ent = append(x.ent, make([][2]uint32, n+1)...)
	i := lo
	for k := range n {
		for i < hi && int(x.starts[i]>>shift)&(n-1) < k {
			i++
		}
		x.ent[at+k][0] = uint32(i)
	}
	x.ent[at+n][0] = uint32(hi)
	if shift > v4LastShift {
		for k := range n {
			b, e := int(x.ent[at+k][0]), int(x.ent[at+k+1][0])
			if e-b >= v4DenseAt {
				sub := x.table(b, e, shift-v4SubBits, 1<<v4SubBits)
				x.ent[at+k][1] = sub
			}
		}
	}
	return uint32(at)
}

// find is the index of the piece holding a: the last start at or below it.
func (x *v4Index) find(a uint32) int {
	b := int(a >> (32 - v4TopBits))
	shift := uint(32 - v4TopBits)
	for {
		sub := x.ent[b][1]
		if sub == 0 {
			break
		}
		shift -= v4SubBits
		b = int(sub) + int(a>>shift&(1<<v4SubBits-1))
	}
	lo, hi := int(x.ent[b][0]), int(x.ent[b+1][0])
	if lo > 0 {
		lo-- // the piece holding the start of the bucket
	}
	s := x.starts
	for hi-lo > 1 {
		m := int(uint(lo+hi) >> 1)
		if s[m] <= a {
			lo = m
		} else {
			hi = m
		}
	}
	return lo
}
