package fwlog

import (
	"bytes"
	"context"
	"io"
	"os"
	"testing"
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
	for b.Loop() {
		s, _, err := Summarize(context.Background(), []Source{{Name: name, Reader: io.NopCloser(bytes.NewReader(data))}}, Options{}, ModeFull)
		if err != nil {
			b.Fatal(err)
		}
		s.Report(10, nil)
	}
}
