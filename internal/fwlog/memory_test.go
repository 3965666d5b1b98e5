package fwlog

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// genMany writes an ipfw log in bench/genipfw's shapes: lines packets drawn from conns
// connections (both directions of a conversation, Accept/Deny/"Unreach 13", some UDP and ICMP,
// one line of another program in 997). With lines 1,000,000 and conns 6,000,000 it holds about
// 920,000 distinct connections, the input of the memory figure.
func genMany(lines, conns int) []byte {
	rng := rand.New(rand.NewPCG(1, 0x5eed))
	b := make([]byte, 0, lines*100)
	for i := range lines {
		sec := i/50 + 1
		b = append(b, "Nov  9 "...)
		for j, n := range []int{sec / 3600 % 24, sec / 60 % 60, sec % 60} {
			if j > 0 {
				b = append(b, ':')
			}
			b = append(b, byte('0'+n/10), byte('0'+n%10))
		}
		if i%997 == 0 {
			b = append(b, " host sshd[412]: Connection closed by 198.51.100.7 port 52116\n"...)
			continue
		}
		x := uint64(rng.IntN(conns))*0x9E3779B97F4A7C15 + 12345
		inside := [4]byte{10, byte(x >> 8), byte(x >> 16), byte(x>>24)&254 + 1}
		outside := [4]byte{byte(x>>32%223 + 1), byte(x >> 40), byte(x >> 48), byte(x>>56)&254 + 1}
		ip, op := 1024+int(x>>12%60000), []int{22, 25, 53, 80, 110, 143, 443, 445, 993, 3389, 8080}[x%11]
		action := "Accept"
		switch r := x % 100; {
		case r < 35:
			action = "Deny"
		case r < 38:
			action = "Unreach 13"
		}
		proto := "TCP"
		if x%7 == 0 {
			proto = "UDP"
		}
		b = append(b, " host kernel: ipfw: "...)
		b = strconv.AppendInt(b, int64(100+x%40*10), 10)
		b = append(append(append(b, ' '), action...), ' ')
		out := rng.IntN(10) < 4
		ep := func(b []byte, a [4]byte, port int) []byte {
			for j, p := range a {
				if j > 0 {
					b = append(b, '.')
				}
				b = strconv.AppendInt(b, int64(p), 10)
			}
			if port >= 0 {
				b = strconv.AppendInt(append(b, ':'), int64(port), 10)
			}
			return b
		}
		switch {
		case x%53 == 0:
			b = append(ep(append(ep(append(b, "ICMP:8.0 "...), outside, -1), ' '), inside, -1), " in via en0\n"...)
		case out:
			b = append(ep(append(ep(append(append(b, proto...), ' '), inside, ip), ' '), outside, op), " out via en0\n"...)
		default:
			b = append(ep(append(ep(append(append(b, proto...), ' '), outside, op), ' '), inside, ip), " in via en0\n"...)
		}
	}
	return b
}

// procStatusKB reads a "Name:   N kB" line of /proc/self/status.
func procStatusKB(name string) (int64, bool) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// peakKB runs f and returns how far it raised the process's peak resident memory, in kB (Linux:
// freed memory is first returned to the system and the peak reset through /proc/self/clear_refs).
func peakKB(f func()) (int64, bool) {
	debug.FreeOSMemory()
	rss, ok := procStatusKB("VmRSS")
	ok = ok && os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	f()
	hwm, ok2 := procStatusKB("VmHWM")
	return hwm - rss, ok && ok2
}

// BenchmarkSummarizeManyConnections summarises 1M lines holding about 920,000 distinct
// connections (report included) and reports the memory per distinct connection: live-B/conn is
// what the summary keeps (heap after a collection); peak-B/conn is the measure, the rise
// of peak resident memory over that of the same run on a log of 5,000 connections, divided by
// the connections. The target is 100 bytes.
func BenchmarkSummarizeManyConnections(b *testing.B) {
	many, few := genMany(1_000_000, 6_000_000), genMany(1_000_000, 5000)
	run := func(data []byte) (*Summary, Report) {
		s, _, err := Summarize(context.Background(), []Source{{Reader: bytes.NewReader(data)}}, Options{}, ModeFull)
		if err != nil {
			b.Fatal(err)
		}
		return s, s.Report(10, nil)
	}
	fewKB, okFew := peakKB(func() { run(few) })
	b.SetBytes(int64(len(many)))
	b.ResetTimer()
	var live, peak float64
	var conns int
	for b.Loop() {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		var s *Summary
		var r Report
		manyKB, ok := peakKB(func() { s, r = run(many) })
		conns = 0
		for _, t := range r.Actions {
			conns += t.Connections
		}
		if r.Approximate {
			b.Fatalf("report approximate below the key cap")
		}
		if ok && okFew {
			peak = float64((manyKB-fewKB)<<10) / float64(conns)
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		live = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(conns)
		runtime.KeepAlive(s)
	}
	b.ReportMetric(float64(conns), "conns")
	b.ReportMetric(live, "live-B/conn")
	if peak > 0 {
		b.ReportMetric(peak, "peak-B/conn")
	}
}

// Past the key cap too, the parallel reader gives the report of one summary fed line by line: the
// rows reach the run's one connection store in input order, so what a prune keeps does not
// depend on how the chunks were shared out among the workers.
func TestParallelEqualsSequentialPruned(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	data := genMany(300_000, 40_000)
	const maxKeys = 5000
	seq := NewSummary(Options{MaxKeys: maxKeys})
	for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		seq.Line(line, int64(i))
	}
	want := seq.Report(0, BuiltinServices())
	got := summarize(t, data, Options{MaxKeys: maxKeys})
	got.Inputs = nil
	if !want.Approximate {
		t.Fatalf("sequential report not approximate: the test must prune")
	}
	// Rules and interfaces have their own (per-worker) caps; this log has few of each.
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parallel report differs from sequential past the cap (-seq +par):\n%s", diff)
	}
}

// Report reads the rows and sums the outside addresses on every core when there are many; the
// report is the one a single goroutine makes, with every row and with a top list.
func TestReportSameOnEveryCore(t *testing.T) {
	data := genMany(150_000, 6_000_000)
	s := NewSummary(Options{})
	for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		s.Line(line, int64(i))
	}
	if n := s.cs.k4.n; n < 4*outPerWorker {
		t.Fatalf("%d packed rows, want at least %d: the test must use several goroutines", n, 4*outPerWorker)
	}
	for _, top := range []int{0, 3} {
		t.Run(fmt.Sprintf("top %d", top), func(t *testing.T) {
			prev := runtime.GOMAXPROCS(1)
			want := s.Report(top, BuiltinServices())
			runtime.GOMAXPROCS(4)
			got := s.Report(top, BuiltinServices())
			runtime.GOMAXPROCS(prev)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Report(%d) on 4 goroutines (-1 goroutine +4):\n%s", top, diff)
			}
		})
	}
}
