package agent

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCycle is one report-mode cycle of the built-in baseline on an emulated Mac 15 (its
// programs answered in process), the evidence chain append, the spool and the upload to a TLS
// server in the same process. cpu-ms/op is the process's CPU time per cycle: an upper bound of
// the agent's own cost, since it includes the emulator and the test server.
func BenchmarkCycle(b *testing.B) {
	srv := newFakeServer(b)
	ta := newMacAgent(b, srv)
	ctx := context.Background()
	cfg := DefaultConfig()
	// Start from a day of hourly runs (FIREWARDEN_BENCH_CHAIN to change it) so that the figure
	// is not that of an empty chain.
	n := 24
	if v := os.Getenv("FIREWARDEN_BENCH_CHAIN"); v != "" {
		if _, err := fmt.Sscan(v, &n); err != nil {
			b.Fatalf("FIREWARDEN_BENCH_CHAIN=%q: want a number", v)
		}
	}
	for range n {
		if _, err := ta.Cycle(ctx, cfg); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := ta.Upload(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	for b.Loop() {
		if _, err := ta.Cycle(ctx, cfg); err != nil {
			b.Fatal(err)
		}
		if _, err := ta.Upload(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}
