package fwlog

import (
	"container/heap"
	"sort"
)

// best keeps the n best items offered (all of them when n <= 0), in a heap whose root is the
// worst one kept, so a report's top-N over a million rows costs O(rows·log N) and N memory.
type best[T any] struct {
	n      int
	better func(a, b T) bool
	items  []T
}

func newBest[T any](n int, better func(a, b T) bool) *best[T] {
	return &best[T]{n: n, better: better}
}

func (b *best[T]) Len() int           { return len(b.items) }
func (b *best[T]) Less(i, j int) bool { return b.better(b.items[j], b.items[i]) } // worst at the root
func (b *best[T]) Swap(i, j int)      { b.items[i], b.items[j] = b.items[j], b.items[i] }
func (b *best[T]) Push(x any)         { b.items = append(b.items, x.(T)) }
func (b *best[T]) Pop() any {
	x := b.items[len(b.items)-1]
	b.items = b.items[:len(b.items)-1]
	return x
}

// full reports whether the next item must beat the worst kept to get in.
func (b *best[T]) full() bool { return b.n > 0 && len(b.items) >= b.n }

// worst is the root; only valid when Len() > 0.
func (b *best[T]) worst() T { return b.items[0] }

func (b *best[T]) offer(x T) {
	if !b.full() {
		if b.n <= 0 {
			b.items = append(b.items, x) // everything: sorted once at the end
			return
		}
		heap.Push(b, x)
		return
	}
	if b.better(x, b.items[0]) {
		b.items[0] = x
		heap.Fix(b, 0)
	}
}

// sorted returns the items kept, best first.
func (b *best[T]) sorted() []T {
	out := append([]T(nil), b.items...)
	sort.Slice(out, func(i, j int) bool { return b.better(out[i], out[j]) })
	return out
}
