package fwlog

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// adviseHuge asks the kernel to back the memory of s, not yet touched, with 2 MiB pages where it
// can (madvise MADV_HUGEPAGE; only the whole 2 MiB-aligned pages inside s can be). With
// transparent huge pages in their default "madvise" mode a large table otherwise takes one
// 4 KiB page fault per 4 KiB written, and on a virtual machine each costs microseconds: a million
// connection rows take about 10,000 of them. Failure only means small pages: it is ignored.
func adviseHuge[T any](s []T) {
	if len(s) == 0 {
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), uintptr(len(s))*unsafe.Sizeof(s[0]))
	// madvise takes whole pages: trim b to those inside it.
	const page = 4096
	if off := -uintptr(unsafe.Pointer(unsafe.SliceData(b))) & (page - 1); off < uintptr(len(b)) {
		b = b[off:]
	} else {
		return
	}
	if b = b[:len(b)&^(page-1)]; len(b) == 0 {
		return
	}
	_ = unix.Madvise(b, unix.MADV_HUGEPAGE)
}
