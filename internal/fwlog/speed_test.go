package fwlog

import (
	"bytes"
	"context"
	"io"
	"os"
	"testing"
	"time"
)

// BenchmarkSummarizeFile summarises the file FWLOG_BENCH names (for example the many-1M.log of
// bench/logs-many-connections.sh), report included, as `firewarden logs summarize` does; it
// skips without one. It is the benchmark to profile the whole path with: go test
// ./internal/fwlog -run '^$' -bench SummarizeFile -cpuprofile cpu.out.
func BenchmarkSummarizeFile(b *testing.B) {
	name := os.Getenv("FWLOG_BENCH")
	if name == "" {
		b.Skip("set FWLOG_BENCH to a log file (bench/logs-many-connections.sh makes many-1M.log)")
	}
	data, err := os.ReadFile(name)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	// The two phases apart: the parse and count (parallel) and the report (one goroutine).
	var summarize, report time.Duration
	for b.Loop() {
		start := time.Now()
		s, _, err := Summarize(context.Background(), []Source{{Name: name, Reader: io.NopCloser(bytes.NewReader(data)), Size: int64(len(data))}}, Options{}, ModeFull)
		if err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		s.Report(10, nil)
		summarize, report = summarize+mid.Sub(start), report+time.Since(mid)
	}
	b.ReportMetric(float64(summarize.Milliseconds())/float64(b.N), "ms-summarize/op")
	b.ReportMetric(float64(report.Milliseconds())/float64(b.N), "ms-report/op")
}

// TestPresize checks the index size presize picks from the rows so far and the share of the input
// read.
func TestPresize(t *testing.T) {
	tests := []struct {
		name       string
		rows, max  int
		done, size int64
		wantIndex  int
	}{
		{"a tenth read", 1 << 16, 1 << 20, 10, 100, 1 << 20},            // 655,360 rows expected: 4/3 of them fit in 1 Mi slots
		{"half read", 1 << 16, 1 << 20, 50, 100, 1 << 18},               // 131,072 rows
		{"within the cap", 1 << 16, 100_000, 1, 100, 1 << 18},           // 6.5 M rows expected, but the cap is 100,000
		{"all read", 1 << 16, 1 << 20, 100, 100, 1 << 17},               // nothing to come: as grown
		{"size unknown", 1 << 16, 1 << 20, 100, 0, 1 << 17},             // (size 0 never reaches presize; harmless)
		{"size smaller than read", 1 << 16, 1 << 20, 200, 100, 1 << 17}, // a file that grew: as grown
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kt := newKeyTable[addr4](tc.max)
			for i := range tc.rows {
				kt.add(addr4(i), DirIn, 1)
			}
			presize(kt, tc.done, tc.size)
			if got := len(kt.index); got != tc.wantIndex {
				t.Errorf("presize(%d rows, %d of %d bytes) = %d index slots, want %d", tc.rows, tc.done, tc.size, got, tc.wantIndex)
			}
			for i := range tc.rows {
				if kt.find(addr4(i)) != int32(i) {
					t.Fatalf("row %d lost after presize", i)
				}
			}
		})
	}
}
