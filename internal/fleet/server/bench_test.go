package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/store/sqlite"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// BenchmarkReportSQLite posts one-run batches (13 checks, as the built-in baseline has) from
// 1,000 hosts through the full handler (auth, strict decoding, validation, ingest) into SQLite,
// without TLS or sockets: the server's own cost per report.
func BenchmarkReportSQLite(b *testing.B) {
	st, err := sqlite.Open(filepath.Join(b.TempDir(), "fleet.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	benchmarkReport(b, st)
}

// BenchmarkReportSQLiteConcurrent is BenchmarkReportSQLite with 32 requests in flight per
// CPU, as a server with many agents reporting at once has: what SQLite's group commit is for.
func BenchmarkReportSQLiteConcurrent(b *testing.B) {
	st, err := sqlite.Open(filepath.Join(b.TempDir(), "fleet.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	b.SetParallelism(32)
	benchmarkReport(b, st)
}

// BenchmarkReportFake is the same over the in-memory store: the HTTP layer's share.
func BenchmarkReportFake(b *testing.B) { benchmarkReport(b, newFakeStore()) }

func benchmarkReport(b *testing.B, st store.Store) {
	srv := New(st, Options{AgentRate: Rate{PerSecond: 1e9, Burst: 1e9}})
	h := srv.Handler()
	ctx := context.Background()
	const hosts = 1000
	creds := make([]string, hosts)
	for i := range creds {
		creds[i] = NewSecret(PrefixHost)
		if _, err := st.EnrollHost(ctx, store.Host{ID: NewUUIDv7(time.Now()), UUID: fmt.Sprint("bench-", i), Hostname: fmt.Sprint("h", i),
			EnrolledAt: time.Now(), LastSeen: time.Now()}, Hash(creds[i])); err != nil {
			b.Fatal(err)
		}
	}
	checks := []string{"alf.enabled", "alf.stealth", "alf.block_all", "alf.logging", "alf.allow_signed", "alf.allow_signed_downloaded",
		"sharing.screen", "sharing.file", "sharing.remote_login", "sharing.remote_management", "sharing.printer", "sharing.internet", "sharing.media"}
	body := func(seq uint64, fail bool) []byte {
		run := &wire.Run{RunID: NewUUIDv7(time.Now()), Policy: "default", Mode: wire.ModeReport, Started: time.Now(), Finished: time.Now()}
		for i, c := range checks {
			st := wire.StatusPass
			if fail && i == 0 {
				st = wire.StatusFail
			}
			run.Results = append(run.Results, wire.Result{Check: c, Status: st, Expected: "1", Actual: "1", Source: "socketfilterfw",
				Controls: []string{"CIS 2.2.1"}, Evidence: []wire.Evidence{{Kind: "exec", Argv: []string{"/usr/libexec/ApplicationFirewall/socketfilterfw", "--getglobalstate"}, Output: "Firewall is enabled. (State = 1)", SHA256: "00"}}})
		}
		data, _ := json.Marshal(wire.ReportBatch{Records: []wire.Record{{Seq: seq, Kind: wire.KindRun, Time: time.Now(), Run: run}}})
		return data
	}
	var next atomic.Uint64
	seqs := make([]atomic.Uint64, hosts)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) % hosts
			seq := seqs[i].Add(1)
			req := httptest.NewRequest("POST", wire.PathReport, bytes.NewReader(body(seq, seq%20 == 0)))
			req.Header.Set("Authorization", "Bearer "+creds[i])
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Errorf("report = %d %s", rec.Code, rec.Body)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "reports/s")
}

// BenchmarkNudgeFanout measures delivering one nudge to 10,000 connected streams' queues, and
// reports the hub's memory per subscription.
func BenchmarkNudgeFanout(b *testing.B) {
	h := newHub()
	const n = 10000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	subs := make([]*subscription, n)
	for i := range subs {
		subs[i] = h.subscribe(fmt.Sprint("host-", i), []string{"fleet", fmt.Sprint("site-", i%10)})
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perSub := float64(after.HeapAlloc-before.HeapAlloc) / n
	b.ResetTimer()
	for range b.N {
		if got := h.deliver(AllHosts, wire.Nudge{Kind: wire.NudgeCheckNow}); got != n {
			b.Fatalf("delivered to %d, want %d", got, n)
		}
		for _, s := range subs {
			<-s.ch
		}
	}
	b.ReportMetric(perSub, "B/sub")
}

// BenchmarkNudgeLabel measures a label nudge to 1,000 of 10,000 connected streams: answered from
// the hub's label index, without the store.
func BenchmarkNudgeLabel(b *testing.B) {
	h := newHub()
	const n = 10000
	subs := make([]*subscription, n)
	for i := range subs {
		subs[i] = h.subscribe(fmt.Sprint("host-", i), []string{"fleet", fmt.Sprint("site-", i%10)})
	}
	b.ResetTimer()
	for range b.N {
		if got := h.deliver(LabelTarget("site-3"), wire.Nudge{Kind: wire.NudgeCheckNow}); got != n/10 {
			b.Fatalf("delivered to %d, want %d", got, n/10)
		}
		for i := 3; i < n; i += 10 {
			<-subs[i].ch
		}
	}
}
