package follow

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/host"
)

// BenchmarkFileLatency measures how long a line takes from its write(2) to the log file to the
// File's emit: the first part of the guard's failure-line-written → kernel-drop budget (50 ms at
// p99). Each iteration appends one sshd line with one write and waits for its emit (polling: after
// a random part of the interval, as writes come at any moment). Reported as p50/p99/max in
// microseconds, with the modes' default intervals.
//
//	go test -run '^$' -bench FileLatency -benchtime 2000x ./internal/guard/follow
func BenchmarkFileLatency(b *testing.B) {
	for _, m := range []struct {
		name string
		opts FileOptions
	}{
		{"inotify", FileOptions{}},
		{"poll-250ms", FileOptions{NoNotify: true}},
	} {
		b.Run(m.name, func(b *testing.B) {
			if m.name == "inotify" && runtime.GOOS != "linux" {
				b.Skip("inotify is Linux only")
			}
			dir := b.TempDir()
			full := filepath.Join(dir, "var/log/auth.log")
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				b.Fatal(err)
			}
			w, err := os.OpenFile(full, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			opts := m.opts
			r, err := host.NewRoot(dir)
			if err != nil {
				b.Fatal(err)
			}
			opts.Root = r
			f := NewFile(logPath, opts)
			ready := make(chan struct{}, 1)
			f.stepped = func() {
				select {
				case ready <- struct{}{}:
				default:
				}
			}
			emitted := make(chan time.Time, 1)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				done <- f.Run(ctx, func(Line) { emitted <- time.Now() })
			}()
			<-ready // the first check is made: the file is followed from its end
			lat := make([]time.Duration, 0, b.N)
			line := []byte("2026-11-22T12:00:00.000000+00:00 host sshd-session[1571]: Failed password for root from 192.0.2.1 port 56502 ssh2\n")
			b.ResetTimer()
			rng := rand.New(rand.NewPCG(1, 2))
			for range b.N {
				if opts.NoNotify {
					// Writes come at any moment of the poll cycle, not just after a check.
					time.Sleep(time.Duration(rng.Int64N(int64(DefaultPoll))))
				}
				t0 := time.Now()
				if _, err := w.Write(line); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, (<-emitted).Sub(t0))
			}
			b.StopTimer()
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			slices.Sort(lat)
			q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
			b.ReportMetric(q(0.50), "p50-µs")
			b.ReportMetric(q(0.99), "p99-µs")
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
		})
	}
}

// BenchmarkSplitter is the cost of cutting a stream of sshd lines, read 64 KiB at a time.
func BenchmarkSplitter(b *testing.B) {
	var in bytes.Buffer
	for i := range 10000 {
		fmt.Fprintf(&in, "Jan 09 23:53:15 mail.xyz.org sshd[%d]: Failed password for invalid user u%d from 27.150.20.%d port 41192 ssh2\n", 100000+i, i, i%256)
	}
	data := in.Bytes()
	n := 0
	line := func([]byte) { n++ }
	sp := newSplitter(0)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for p := data; len(p) > 0; {
			k := min(len(p), 64<<10)
			sp.feed(p[:k], line)
			p = p[k:]
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkDecodeRecord is the cost of turning one `log stream` record into a line.
func BenchmarkDecodeRecord(b *testing.B) {
	raw := []byte(decodeTests[2].raw)
	var dst []byte
	b.ReportAllocs()
	for range b.N {
		dst, _, _ = decodeRecord(dst[:0], raw)
	}
}

// Cutting lines allocates nothing once the splitter's buffer has grown.
func TestSplitterAllocs(t *testing.T) {
	sp := newSplitter(0)
	line := func([]byte) {}
	in := []byte("Jan 09 23:53:15 mail.xyz.org sshd[100725]: Failed password\nfor invalid user lko from 27.150.20.230 port 41192 ssh2\npartial")
	sp.feed(in, line)
	if n := testing.AllocsPerRun(100, func() { sp.feed(in, line) }); n != 0 {
		t.Errorf("splitter.feed allocates %v times per call, want 0", n)
	}
}
