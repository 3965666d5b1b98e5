package guard

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/authwatch"
	"github.com/firewarden/firewarden/internal/block"
	"github.com/firewarden/firewarden/internal/guard/follow"
)

// benchBans is the scale: 100 000 bans (block.DefaultMaxBans).
const benchBans = block.DefaultMaxBans

// bigState is a state as the guard leaves it after banning n addresses (a fifth of them IPv6):
// each a ban and an offender record.
func bigState(n int, now time.Time) *block.State {
	st := block.NewState()
	st.Allow(netip.MustParsePrefix("192.0.2.0/24"), "office", block.SourceCLI, now)
	for i := range n {
		var a netip.Addr
		if i%5 == 4 {
			a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 6: byte(i >> 16), 7: byte(i >> 8), 15: byte(i)})
		} else {
			a = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		}
		p := netip.PrefixFrom(a, a.BitLen())
		reason := "10 failures in 30m, the last failed"
		st.Bans = append(st.Bans, block.BanEntry{Prefix: p, Expires: now.Add(time.Hour), Reason: reason, Source: block.SourceGuard, Count: 1, First: now, Last: now})
		st.Offenders = append(st.Offenders, block.Offender{Prefix: p, Count: 1, First: now, Last: now, LastReason: reason})
	}
	return st
}

// writeState writes st as dir's block.json.
func writeState(tb testing.TB, dir string, st *block.State) {
	tb.Helper()
	if _, _, err := (&block.Store{Dir: dir}).Edit(context.Background(), func(s *block.State) error {
		*s = *st
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
}

func timeNowSecond() time.Time { return time.Now().Truncate(time.Second) }

// nullBackend holds nothing: with it a measurement sees the guard's own memory only.
type nullBackend struct{ enabled bool }

func (*nullBackend) Name() string { return "null" }
func (*nullBackend) Sync(_ context.Context, want []block.Ban, _ time.Time) (block.SyncResult, error) {
	return block.SyncResult{Kept: len(want)}, nil
}
func (*nullBackend) Reconcile(_ context.Context, want []block.Ban, _ time.Time) (block.SyncResult, error) {
	return block.SyncResult{Kept: len(want)}, nil
}
func (*nullBackend) Apply(_ context.Context, add []block.Ban, remove []netip.Prefix, _ time.Time) (block.SyncResult, error) {
	return block.SyncResult{Added: len(add), Removed: len(remove)}, nil
}
func (n *nullBackend) SetEnabled(_ context.Context, on bool) error { n.enabled = on; return nil }
func (n *nullBackend) Status(context.Context) (block.Status, error) {
	return block.Status{Enabled: n.enabled}, nil
}

var _ block.Backend = (*nullBackend)(nil)

// startedWriter is a log that closes started at the daemon's start line.
type startedWriter struct {
	once    sync.Once
	started chan struct{}
}

func (w *startedWriter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "guard: started") {
		w.once.Do(func() { close(w.started) })
	}
	return len(p), nil
}

// runningDaemon starts a daemon over dir and backend and returns it once it has loaded the
// state and synced the backend; stop stops it.
func runningDaemon(tb testing.TB, dir string, backend block.Backend) (d *Daemon, src *chanSource, stop func()) {
	tb.Helper()
	src = newChanSource()
	w := &startedWriter{started: make(chan struct{})}
	// Caps that a benchmark banning thousands of addresses on top of 100 000 does not reach.
	cfg := Default()
	cfg.MaxBans, cfg.BanRate, cfg.BanRatePer = 1_000_000, 1_000_000, time.Second
	d = New(Options{Config: cfg, StateDir: dir, Backend: backend, Source: src, Log: w})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	select {
	case <-w.started:
	case err := <-done:
		tb.Fatalf("Run = %v before it started", err)
	}
	return d, src, func() {
		cancel()
		if err := <-done; err != nil {
			tb.Fatal(err)
		}
	}
}

// heapInUse is the heap in use and allocated after two collections.
func heapInUse() (inuse, alloc uint64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse, ms.HeapAlloc
}

// measurePerBan starts a daemon over a state of benchBans bans and reports the heap it keeps
// per ban while it runs: "B/ban" (heap in use, what the process holds from the system) and
// "alloc-B/ban" (live objects).
func measurePerBan(b *testing.B, newBackend func(b *testing.B) block.Backend) {
	dir := b.TempDir()
	writeState(b, dir, bigState(benchBans, timeNowSecond()))
	var inuse, alloc float64
	for b.Loop() {
		backend := newBackend(b)
		in0, al0 := heapInUse()
		d, _, stop := runningDaemon(b, dir, backend)
		in1, al1 := heapInUse()
		if got := d.eng.Active(); got != benchBans {
			b.Fatalf("daemon knows %d bans, want %d", got, benchBans)
		}
		inuse = float64(int64(in1)-int64(in0)) / benchBans
		alloc = float64(int64(al1)-int64(al0)) / benchBans
		runtime.KeepAlive(backend)
		stop()
	}
	b.ReportMetric(inuse, "B/ban")
	b.ReportMetric(alloc, "alloc-B/ban")
}

// BenchmarkMemoryPerBan is the guard's own memory per ban at 100 000 bans (the backend holds
// nothing); the target for the whole daemon is 200 bytes. See
// BenchmarkMemoryPerBanNftables for the nftables backend's share.
func BenchmarkMemoryPerBan(b *testing.B) {
	measurePerBan(b, func(*testing.B) block.Backend { return &nullBackend{} })
}

// BenchmarkObserve is the engine's cost per failure line (parsed already), over 10 000
// addresses below the threshold. Pre-auth closes count in aggressive mode (weight 0.2), as they
// did by default before modes: the same work as before them.
func BenchmarkObserve(b *testing.B) {
	cfg := Default()
	cfg.Mode, cfg.Weights = ModeAggressive, ModeWeights(ModeAggressive)
	e := NewEngine(cfg)
	fs := make([]authwatch.Failure, 10000)
	for i := range fs {
		fs[i] = fail(authwatch.KindPreauth, netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}).String(), i)
	}
	now := t0
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Millisecond) // 10 000 lines in 10 s: each address stays below 10
		e.Observe(fs[i%len(fs)], now)
		i++
	}
}

// BenchmarkSave100k is one save of new bans into a block.json holding 100 000: read and decode
// the file, add the bans, encode and write it, sync the backend (here one that holds nothing).
// This is what bounds how often the guard saves; the kernel has the bans before.
func BenchmarkSave100k(b *testing.B) {
	dir := b.TempDir()
	now := time.Now().Truncate(time.Second)
	writeState(b, dir, bigState(benchBans, now))
	d := New(Options{Config: Default(), StateDir: dir, Backend: &nullBackend{}, Source: newChanSource(), Now: func() time.Time { return now }})
	ctx := context.Background()
	if err := d.persist(ctx, true); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		for range 10 {
			i++
			a := netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)})
			d.pending = append(d.pending, pendingBan{ban: block.Ban{Prefix: banPrefix(a), Expires: now.Add(15 * time.Minute)}, at: now, count: 1, reason: "bench"})
		}
		if err := d.persist(ctx, false); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(10, "bans/save")
}

// latencies reports percentiles of ds as metrics.
func reportLatencies(b *testing.B, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	pct := func(p float64) float64 { return float64(ds[min(int(p*float64(len(ds))), len(ds)-1)].Microseconds()) }
	b.ReportMetric(pct(0.5), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(ds[len(ds)-1].Microseconds()), "max-µs")
}

// banLatency feeds a running daemon the failures that ban a fresh address, one address an
// iteration, and reports the time from the threshold's line to the ban being in the kernel
// (the backend's Apply returned). The daemon saves in the background meanwhile, as it would.
func banLatency(b *testing.B, d *Daemon) {
	ctx := context.Background()
	var ds []time.Duration
	i := 0
	for b.Loop() {
		i++
		a := netip.AddrFrom4([4]byte{100, 64, byte(i >> 8), byte(i)})
		for k := range 9 {
			d.line(ctx, lineOf(a, k))
		}
		t := time.Now()
		d.line(ctx, lineOf(a, 9))
		ds = append(ds, time.Since(t))
		if i%1000 == 0 {
			b.StopTimer()
			d.mu.Lock()
			banned := d.stats.Bans
			d.mu.Unlock()
			if banned != i {
				b.Fatalf("%d bans after %d addresses", banned, i)
			}
			b.StartTimer()
		}
	}
	reportLatencies(b, ds)
}

func lineOf(a netip.Addr, k int) follow.Line {
	return follow.Line{Text: []byte(fmt.Sprintf("2026-03-01T12:00:00+00:00 host sshd[%d]: Failed password for root from %s port %d ssh2", 1000+k, a, 40000+k)), Source: "bench"}
}

// BenchmarkBanLatency100k is banLatency with 100 000 bans held and a backend that holds
// nothing: the guard's own share of the latency.
func BenchmarkBanLatency100k(b *testing.B) {
	dir := b.TempDir()
	writeState(b, dir, bigState(benchBans, timeNowSecond()))
	d, _, stop := runningDaemon(b, dir, &nullBackend{})
	defer stop()
	banLatency(b, d)
}

// BenchmarkCheckpoint64k is one checkpoint (a rewrite of the write-ahead log) with the tracker
// full (DefaultMaxTracked addresses counted) and 1,000 bans not saved yet: what the guard
// writes every PersistEvery at most while a flood is read. The line path waits only for the
// copy of the tracker and the final rename.
func BenchmarkCheckpoint64k(b *testing.B) {
	dir := b.TempDir()
	now := timeNowSecond()
	d := New(Options{Config: Default(), StateDir: dir, Backend: &nullBackend{}, Source: newChanSource(), Now: func() time.Time { return now }})
	for i := range DefaultMaxTracked {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		d.eng.track.get(keyOf(a), now).add(100)
	}
	for i := range 1000 {
		a := netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)})
		d.pending = append(d.pending, pendingBan{ban: block.Ban{Prefix: banPrefix(a), Expires: now.Add(15 * time.Minute)}, at: now, count: 1, reason: "bench"})
	}
	for b.Loop() {
		if err := d.checkpoint(); err != nil {
			b.Fatal(err)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, WALFile))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(fi.Size())/(1<<20), "MiB")
}

// BenchmarkReplay is `guard test`'s work per line without its output: parse, correlate,
// forgive, count, over the log in GUARD_REPLAY_LOG (bench/genauth writes one), or skips.
func BenchmarkReplay(b *testing.B) {
	path := os.Getenv("GUARD_REPLAY_LOG")
	if path == "" {
		b.Skip("set GUARD_REPLAY_LOG to an auth log (go run ./bench/genauth -lines 200000 > /tmp/auth.log)")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	b.ReportAllocs()
	b.SetBytes(int64(len(data) / len(lines)))
	var r *Replay
	i := 0
	for b.Loop() {
		if i%len(lines) == 0 {
			r = NewReplay(Default(), t0)
		}
		r.Line(lines[i%len(lines)])
		i++
	}
}
