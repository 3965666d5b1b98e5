package fwlog

import (
	"bytes"
	"context"
	"io"
	"os"
	"syscall"
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

// BenchmarkPhases times, one core each, the parts a summary of the file FWLOG_BENCH is made of,
// so that the floor of the whole run can be read off them: reading the file from the page cache,
// finding its lines, parsing them (the ipfw fast path, nothing counted), the whole sequential
// summary of the lines (parse and count, connection rows included), inserting the summary's
// distinct packed rows in a fresh table (the aggregator's share), and the report. It skips
// without a file: FWLOG_BENCH=/tmp/many-1M.log go test ./internal/fwlog -run '^$' -bench Phases.
func BenchmarkPhases(b *testing.B) {
	name := os.Getenv("FWLOG_BENCH")
	if name == "" {
		b.Skip("set FWLOG_BENCH to a log file (bench/logs-many-connections.sh makes many-1M.log)")
	}
	data, err := os.ReadFile(name)
	if err != nil {
		b.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	// run reports, besides the time, the process's CPU time per run (user and system): on a
	// shared machine the time of a run is the scheduler's as much as the program's.
	run := func(name string, f func(b *testing.B)) {
		b.Run(name, func(b *testing.B) {
			start := cpuTime()
			f(b)
			b.ReportMetric(float64((cpuTime()-start).Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
	run("read", func(b *testing.B) {
		buf := make([]byte, chunkSize)
		for b.Loop() {
			f, err := os.Open(name)
			if err != nil {
				b.Fatal(err)
			}
			for {
				if _, err := f.Read(buf); err != nil {
					break
				}
			}
			f.Close()
		}
	})
	run("lines", func(b *testing.B) {
		for b.Loop() {
			n := 0
			for rest := data; len(rest) > 0; n++ {
				i := bytes.IndexByte(rest, '\n')
				if i < 0 {
					break
				}
				rest = rest[i+1:]
			}
			if n == 0 {
				b.Fatal("no lines")
			}
		}
	})
	run("parse", func(b *testing.B) {
		for b.Loop() {
			ok := 0
			for _, l := range lines {
				if _, fast := ipfwFast(trimRight(l)); fast {
					ok++
				}
			}
			if ok == 0 {
				b.Fatal("no line took the fast path")
			}
		}
	})
	// A worker of Summarize: the lines in chunks of 10,000, their rows handed on in batches.
	var batches []*connBatch
	var chunkBytes []int64
	run("worker", func(b *testing.B) {
		for b.Loop() {
			s := NewSummary(Options{})
			chunkBytes = chunkBytes[:0]
			for i := 0; i < len(lines); i += 10_000 {
				// The batches are reused from run to run, as Summarize recycles them.
				if len(chunkBytes) == len(batches) {
					batches = append(batches, &connBatch{recs: make([]connRec, 0, 10_000)})
				}
				bt := batches[len(chunkBytes)]
				bt.recs, bt.acts = bt.recs[:0], bt.acts[:0]
				s.emit = bt
				n := int64(0)
				for j, l := range lines[i:min(i+10_000, len(lines))] {
					s.Line(l, int64(i+j))
					n += int64(len(l)) + 1
				}
				s.flushPorts()
				s.keepLast()
				bt.acts = append(bt.acts, s.actNames[s.sentActs:]...)
				s.sentActs = len(s.actNames)
				s.emit = nil
				chunkBytes = append(chunkBytes, n)
			}
		}
	})
	// The aggregator: every row of every batch into the run's one table, presized as aggregate
	// does.
	var total *Summary
	run("aggregate", func(b *testing.B) {
		for b.Loop() {
			total = NewSummary(Options{})
			var remap []uint16
			done, presized := int64(0), false
			for i, bt := range batches[:len(chunkBytes)] {
				for _, a := range bt.acts {
					remap = append(remap, total.action(a.format, []byte(a.name)))
				}
				total.countBatch(bt, remap)
				done += chunkBytes[i]
				if !presized && total.cs.k4.n >= presizeFrom {
					presized = true
					presize(total.cs.k4, done, int64(len(data)))
				}
			}
		}
	})
	run("report", func(b *testing.B) {
		for b.Loop() {
			total.Report(10, nil)
		}
	})
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
