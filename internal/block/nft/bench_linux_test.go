//go:build linux

package nft

import (
	"context"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/block"
)

// The targets: 100 000 bans applied in under 0.5 s, reconciled in under 1 s, at most
// 200 bytes of daemon memory per ban. Run as root:
//
//	go test -run '^$' -bench . -benchtime 5x ./internal/block/nft

const benchBans = 100000

// BenchmarkSync100k applies 100 000 bans (seven in eight IPv4 /32s, the rest IPv6 /64s, with
// timeouts) to empty sets, as one transaction.
func BenchmarkSync100k(b *testing.B) {
	fd := newNetNS(b)
	be := newBackend(b, fd, Options{})
	ctx := context.Background()
	want := manyBans(benchBans, t0.Add(time.Hour))
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		if _, err := be.Sync(ctx, nil, t0); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		res, err := be.Sync(ctx, want, t0)
		if err != nil || res.Added != benchBans {
			b.Fatalf("Sync = %+v, %v", res, err)
		}
	}
}

// BenchmarkSyncChunked is BenchmarkSync100k in transactions of at most 2000 elements, as
// without the raised socket buffer.
func BenchmarkSyncChunked100k(b *testing.B) {
	fd := newNetNS(b)
	be := newBackend(b, fd, Options{MaxBatch: 2000})
	ctx := context.Background()
	want := manyBans(benchBans, t0.Add(time.Hour))
	for b.Loop() {
		b.StopTimer()
		if _, err := be.Sync(ctx, nil, t0); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := be.Sync(ctx, want, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSyncSmallChange100k adds 100 bans to 100 000 held, or removes them: a guard's
// typical tick. The bans come sorted by address, as block.State.Want returns them.
func BenchmarkSyncSmallChange100k(b *testing.B) {
	fd := newNetNS(b)
	be := newBackend(b, fd, Options{})
	ctx := context.Background()
	all := manyBans(benchBans+100, t0.Add(time.Hour))
	slices.SortFunc(all, func(x, y block.Ban) int { return x.Prefix.Addr().Compare(y.Prefix.Addr()) })
	if _, err := be.Sync(ctx, all[:benchBans], t0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		want := all[:benchBans]
		if i%2 == 0 {
			want = all
		}
		if _, err := be.Sync(ctx, want, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReconcile100k re-reads 100 000 bans from the kernel and finds nothing to change.
func BenchmarkReconcile100k(b *testing.B) {
	fd := newNetNS(b)
	be := newBackend(b, fd, Options{})
	ctx := context.Background()
	want := manyBans(benchBans, t0.Add(time.Hour))
	if _, err := be.Sync(ctx, want, t0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := be.Reconcile(ctx, want, t0)
		if err != nil || res.Kept != benchBans {
			b.Fatalf("Reconcile = %+v, %v", res, err)
		}
	}
}

// BenchmarkViewMemory reports the heap the Backend keeps per ban once 100 000 are applied
// (bytes/ban), the cached view being all of it.
func BenchmarkViewMemory(b *testing.B) {
	fd := newNetNS(b)
	ctx := context.Background()
	want := manyBans(benchBans, t0.Add(time.Hour))
	var perBan float64
	for b.Loop() {
		be := newBackend(b, fd, Options{Table: "mem"})
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		if _, err := be.Sync(ctx, want, t0); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perBan = float64(after.HeapAlloc-before.HeapAlloc) / benchBans
		runtime.KeepAlive(be)
		b.StopTimer()
		if _, err := be.Sync(ctx, nil, t0); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(perBan, "bytes/ban")
}
