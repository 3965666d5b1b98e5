package fwtable

import (
	"bytes"
	"testing"
)

// FuzzSame checks that Same never panics on damaged snapshots and that a snapshot that decodes
// is the same as itself.
func FuzzSame(f *testing.F) {
	for _, tc := range decodeCases {
		f.Add(tc.bytes(f))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := Snapshot{Data: data}
		same, err := Same(s, s)
		if err == nil && !same {
			t.Errorf("Same(s, s) = false for a snapshot that decodes")
		}
		Same(s, Snapshot{Data: bytes.Clone(data[:len(data)/2])})
	})
}
