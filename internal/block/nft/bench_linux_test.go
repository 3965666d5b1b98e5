//go:build linux

package nft

import (
	"context"
	"net/netip"
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

// BenchmarkApply100k changes 100 000 bans held by Apply: the guard's path from a failed login
// to the kernel (add: one IPv4 host; remove: that host), and a ban of a /24 (prefix: one
// covering nothing, 256 look-ups for the hosts it could cover; covering: one replacing the 112
// hosts held inside it). The target is well under 5 ms an Apply.
func BenchmarkApply100k(b *testing.B) {
	exp := t0.Add(time.Hour)
	held := manyBans(benchBans, exp)
	host := []block.Ban{{Prefix: netip.MustParsePrefix("100.64.0.1/32"), Expires: exp}} // outside held
	net := []block.Ban{{Prefix: netip.MustParsePrefix("100.64.1.0/24"), Expires: exp}}
	cover := []block.Ban{{Prefix: netip.MustParsePrefix("10.0.0.0/24"), Expires: exp}}
	var inCover []block.Ban
	for _, ban := range held {
		if cover[0].Prefix.Contains(ban.Prefix.Addr()) {
			inCover = append(inCover, ban)
		}
	}
	prefixesOf := func(bs []block.Ban) []netip.Prefix {
		var ps []netip.Prefix
		for _, ban := range bs {
			ps = append(ps, ban.Prefix)
		}
		return ps
	}
	type call struct {
		add    []block.Ban
		remove []netip.Prefix
		want   block.SyncResult
	}
	for _, c := range []struct {
		name        string
		timed, undo call
	}{
		{"add", call{host, nil, block.SyncResult{Added: 1}}, call{nil, prefixesOf(host), block.SyncResult{Removed: 1}}},
		{"remove", call{nil, prefixesOf(host), block.SyncResult{Removed: 1}}, call{host, nil, block.SyncResult{Added: 1}}},
		{"prefix", call{net, nil, block.SyncResult{Added: 1}}, call{nil, prefixesOf(net), block.SyncResult{Removed: 1}}},
		{"covering", call{cover, nil, block.SyncResult{Added: 1, Removed: len(inCover)}},
			call{inCover, prefixesOf(cover), block.SyncResult{Added: len(inCover), Removed: 1}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			fd := newNetNS(b)
			be := newBackend(b, fd, Options{})
			ctx := context.Background()
			if _, err := be.Sync(ctx, held, t0); err != nil {
				b.Fatal(err)
			}
			apply := func(c call) {
				if res, err := be.Apply(ctx, c.add, c.remove, t0); err != nil || res != c.want {
					b.Fatalf("Apply = %+v, %v; want %+v", res, err, c.want)
				}
			}
			if c.name == "remove" {
				apply(c.undo)
			}
			b.ReportAllocs()
			for b.Loop() {
				apply(c.timed)
				b.StopTimer()
				apply(c.undo)
				b.StartTimer()
			}
		})
	}
}
