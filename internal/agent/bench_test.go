package agent

import (
	"context"
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
	// The evidence chain is rewritten whole at each append; start from a day of hourly runs so
	// that the figure is not that of an empty chain.
	for range 24 {
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
