package fwlog

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the size of an x86-64 or arm64 (4 KiB base pages) transparent huge page.
const hugePage = 2 << 20

// hugeSlice returns a zeroed slice of n Ts, which must hold no pointers, whose memory the kernel
// is asked to back with 2 MiB pages (madvise MADV_HUGEPAGE). With transparent huge pages in their
// default "madvise" mode a large table otherwise takes one 4 KiB page fault per 4 KiB first
// written, and on a virtual machine each costs microseconds: a million connection rows took about
// 10,000 of them. The slice starts on a 2 MiB boundary and its memory is rounded up to whole huge
// pages, so none of it is left to small pages; below 1 MiB it is an ordinary slice. The memory is
// the collector's, as a make's is. Failure of the advice only means small pages: it is ignored.
func hugeSlice[T any](n int) []T {
	var zero T
	size := uintptr(n) * unsafe.Sizeof(zero)
	if size < hugePage/2 {
		return make([]T, n)
	}
	size = (size + hugePage - 1) &^ (hugePage - 1)
	// A byte slice is never scanned by the collector, which is why T must hold no pointers.
	b := make([]byte, size+hugePage)
	off := -uintptr(unsafe.Pointer(unsafe.SliceData(b))) & (hugePage - 1)
	b = b[off : off+size]
	_ = unix.Madvise(b, unix.MADV_HUGEPAGE)
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), n)
}
