package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// BenchmarkNudgeStreamMemory holds FIREWARDEN_BENCH_STREAMS (default 2,000) nudge streams open
// over TLS on a real listener and reports the Go heap and goroutine stacks they hold, per
// stream, both ends together (the clients are raw TLS connections in this process). With
// FIREWARDEN_BENCH_HEAPPROFILE=FILE it writes a heap profile while the streams are open; keep
// the server's frames to see its share alone:
//
//	FIREWARDEN_BENCH_HEAPPROFILE=/tmp/streams.heap go test -run '^$' -bench NudgeStreamMemory -benchtime 1x -o /tmp/server.test ./internal/fleet/server
//	go tool pprof -sample_index=inuse_space -top -focus 'http.\(\*conn\).serve|streamConn|Server\).Serve' /tmp/server.test /tmp/streams.heap
func BenchmarkNudgeStreamMemory(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("FIREWARDEN_BENCH_STREAMS")); err == nil && v > 0 {
		n = v
	}
	profile := os.Getenv("FIREWARDEN_BENCH_HEAPPROFILE")
	if profile != "" {
		runtime.MemProfileRate = 512
	}
	st := newFakeStore()
	srv := New(st, Options{AgentRate: Rate{PerSecond: 1e9, Burst: 1e9}})
	ts := httptest.NewTLSServer(srv.Handler())
	defer func() { srv.Close(); ts.Close() }()
	ctx := context.Background()
	creds := make([]string, n)
	for i := range creds {
		creds[i] = NewSecret(PrefixHost)
		if _, err := st.EnrollHost(ctx, store.Host{ID: fmt.Sprint("host-", i), UUID: fmt.Sprint("u-", i), Labels: []string{"fleet"}}, Hash(creds[i])); err != nil {
			b.Fatal(err)
		}
	}
	addr := strings.TrimPrefix(ts.URL, "https://")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	conns := make([]*tls.Conn, 0, n)
	readers := make([]*bufio.Reader, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for _, cred := range creds {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: fleet\r\nAuthorization: Bearer %s\r\n\r\n", wire.PathNudges, cred)
		rd := bufio.NewReaderSize(c, 256)
		for { // through the head and the first ping
			line, err := rd.ReadString('\n')
			if err != nil {
				b.Fatal(err)
			}
			if strings.Contains(line, `"ping"`) {
				break
			}
		}
		readers = append(readers, rd)
	}
	for srv.hub.connected() < n {
		time.Sleep(10 * time.Millisecond)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapInuse) - float64(before.HeapInuse)
	stacks := float64(after.StackInuse) - float64(before.StackInuse)
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.WriteHeapProfile(f); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	b.ReportMetric(heap/float64(n), "heapB/stream")
	b.ReportMetric(stacks/float64(n), "stackB/stream")
	b.ReportMetric(float64(runtime.NumGoroutine())/float64(n), "goroutines/stream")
	for range b.N {
		// The measured cost of holding: one nudge to every stream.
		sent := srv.Deliver(LabelTarget("fleet"), wire.Nudge{Kind: wire.NudgeCheckNow})
		if sent != n {
			b.Fatalf("nudge reached %d streams, want %d", sent, n)
		}
		for _, rd := range readers {
			for { // a chunk: its size line, then the nudge line
				line, err := rd.ReadString('\n')
				if err != nil {
					b.Fatal(err)
				}
				if strings.Contains(line, wire.NudgeCheckNow) {
					break
				}
			}
		}
	}
	runtime.KeepAlive(readers)
}
