package fwlog

import (
	"testing"
	"unsafe"
)

// hugeSlice gives n zeroed elements, on a 2 MiB boundary from 1 MiB up (so that the kernel can
// back all of it with huge pages), and an ordinary slice below.
func TestHugeSlice(t *testing.T) {
	for _, tt := range []struct {
		name    string
		n       int
		aligned bool // must start on a 2 MiB boundary
	}{
		{"empty", 0, false},
		{"small", 1000, false},
		{"just under 1 MiB", 1<<18 - 1, false},
		{"1 MiB", 1 << 18, true},
		{"odd size past 2 MiB", 3<<19 + 7, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := hugeSlice[uint32](tt.n)
			if len(s) != tt.n {
				t.Fatalf("hugeSlice(%d) has length %d", tt.n, len(s))
			}
			for i, v := range s {
				if v != 0 {
					t.Fatalf("hugeSlice(%d)[%d] = %d, want 0", tt.n, i, v)
				}
			}
			for i := range s {
				s[i] = uint32(i)
			}
			// (An ordinary slice may be aligned by chance: only the huge ones are checked.)
			if addr := uintptr(unsafe.Pointer(unsafe.SliceData(s))); tt.aligned && addr%hugePage != 0 {
				t.Errorf("hugeSlice(%d) at %#x: not on a 2 MiB boundary", tt.n, addr)
			}
		})
	}
}
