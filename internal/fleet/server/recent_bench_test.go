package server

import (
	"encoding/binary"
	"runtime"
	"testing"
)

// BenchmarkRecentSetFull measures the memory of a full set of recently valid secrets
// (maxRecentCreds hashes) and the cost of the lookup a blocked address's request makes:
//
//	go test -run '^$' -bench RecentSetFull -benchtime 1000000x ./internal/fleet/server
func BenchmarkRecentSetFull(b *testing.B) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := newRecentSet(recentTTL, maxRecentCreds)
	var key [8]byte
	for i := range maxRecentCreds {
		binary.LittleEndian.PutUint64(key[:], uint64(i))
		s.add(Hash(string(key[:])), t0)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	probe := Hash("not there")
	b.ResetTimer()
	for range b.N {
		if s.has(probe, t0) {
			b.Fatal("found a hash never added")
		}
	}
	b.StopTimer()
	// After the loop: ResetTimer clears reported metrics.
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB-full")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/maxRecentCreds, "B/hash")
	runtime.KeepAlive(s)
}
