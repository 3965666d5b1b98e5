package rules

// v4Index finds which piece of the IPv4 space an address falls in, given the sorted start
// addresses of the pieces (the first start is 0.0.0.0). Both classifiers cut the address space
// at every boundary of every rule's address set; a rule set with hundreds of prefixes inside
// one /16 would leave a long binary search there, so such /16s get a second index by the third
// octet. Most lookups then end with at most one comparison.
type v4Index struct {
	starts []uint32
	by16   []uint32 // by an address's top 16 bits k: the first piece starting at or after k<<16
	sub    []uint32 // by16's dense blocks: 257 entries each, indexed by the third octet
	subAt  []uint32 // by top 16 bits: 1 + the block's offset in sub / 257, or 0 for none
}

// v4DenseBlock is how many pieces must start inside a /16 before it gets a second index.
const v4DenseBlock = 8

func newV4Index(starts []uint32) v4Index {
	x := v4Index{starts: starts, by16: bucketIndex(starts, 1<<16, 16), subAt: make([]uint32, 1<<16)}
	for k := range 1 << 16 {
		lo, hi := x.by16[k], x.by16[k+1]
		if hi-lo < v4DenseBlock {
			continue
		}
		x.subAt[k] = uint32(len(x.sub)/257 + 1)
		// Within the /16, index by the third octet; the starts there share their top 16 bits.
		inner := bucketIndex(starts[lo:hi], 256, 8)
		for _, v := range inner {
			x.sub = append(x.sub, lo+v)
		}
	}
	return x
}

// bucketIndex is index[k] = the first of the sorted starts whose bucket, the bits
// (start >> shift) & (buckets-1), is k or later; index[buckets] = len(starts). buckets is a power of
// two and the starts agree on every bit above the bucket's.
func bucketIndex(starts []uint32, buckets int, shift uint) []uint32 {
	idx := make([]uint32, buckets+1)
	i := 0
	for k := range buckets {
		for i < len(starts) && starts[i]>>shift&uint32(buckets-1) < uint32(k) {
			i++
		}
		idx[k] = uint32(i)
	}
	idx[buckets] = uint32(len(starts))
	return idx
}

// find is the index of the piece holding a: the last start at or below it.
func (x *v4Index) find(a uint32) int {
	k := a >> 16
	lo, hi := int(x.by16[k]), int(x.by16[k+1])
	if o := x.subAt[k]; o != 0 {
		b := int(o-1)*257 + int(a>>8&255)
		lo, hi = int(x.sub[b]), int(x.sub[b+1])
	}
	if lo > 0 {
		lo-- // the piece holding the start of the block
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
