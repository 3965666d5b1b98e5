package rules

import (
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// v4Naive is the last start at or below a, found the slow way.
func v4Naive(starts []uint32, a uint32) int {
	return sort.Search(len(starts), func(i int) bool { return starts[i] > a }) - 1
}

func v4Starts(r *rand.Rand, sparse, dense int) []uint32 {
	starts := []uint32{0}
	for range sparse {
		starts = append(starts, r.Uint32())
	}
	// Hundreds of /24 boundaries inside a few /16s: the shape of a rule set full of 172.16/12 nets.
	for range dense {
		n := uint32(172)<<24 | uint32(16+r.IntN(4))<<16 | uint32(r.IntN(256))<<8
		starts = append(starts, n, n+256)
	}
	starts = append(starts, 0xffffffff, 0x00000001, 0xac100000, 0xac10ff00, 0xac110000)
	slices.Sort(starts)
	return slices.Compact(starts)
}

func TestV4Index(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name          string
		sparse, dense int
	}{{"only zero", 0, 0}, {"sparse", 50, 0}, {"dense", 0, 400}, {"both", 300, 600}} {
		t.Run(tc.name, func(t *testing.T) {
			starts := v4Starts(r, tc.sparse, tc.dense)
			x := newV4Index(starts)
			probe := []uint32{0, 1, 0xffffffff, 0xfffffffe, 0xac0fffff, 0xac100000, 0xac1000ff, 0xac10ffff, 0xac110000}
			for _, s := range starts {
				probe = append(probe, s, s-1, s+1)
			}
			for range 20000 {
				probe = append(probe, r.Uint32(), 0xac100000|r.Uint32()&0x3ffff)
			}
			for _, a := range probe {
				if got, want := x.find(a), v4Naive(starts, a); got != want {
					t.Fatalf("find(%#08x) = %d, want %d", a, got, want)
				}
			}
		})
	}
}

func FuzzV4Index(f *testing.F) {
	f.Add(uint64(1), uint16(10), uint16(100), uint32(0xac100a01))
	f.Fuzz(func(t *testing.T, seed uint64, sparse, dense uint16, a uint32) {
		r := rand.New(rand.NewPCG(seed, 0))
		starts := v4Starts(r, int(sparse%2000), int(dense%2000))
		x := newV4Index(starts)
		if got, want := x.find(a), v4Naive(starts, a); got != want {
			t.Fatalf("find(%#08x) = %d, want %d", a, got, want)
		}
	})
}
