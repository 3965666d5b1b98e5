package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/wire"
)

func TestCheckIDs(t *testing.T) {
	ids, err := checkIDs()
	if err != nil {
		t.Fatal(err)
	}
	// The macOS baseline knows 13 checks; a simulated run must carry all of them.
	if len(ids) != 13 {
		t.Errorf("checkIDs() = %d checks %v, want 13", len(ids), ids)
	}
}

// TestSimRecords checks that what the simulator sends is what a real agent may send: every
// batch valid, seqs from 1 without gaps, the evidence chain linked, drifts that agree with the
// runs around them.
func TestSimRecords(t *testing.T) {
	ids, err := checkIDs()
	if err != nil {
		t.Fatal(err)
	}
	s := newSim(ids, 1, 0.2, 0.05)
	h := &host{}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var all []wire.Record
	kinds := map[string]int{}
	for i := 0; i < 2000; i++ {
		s.next(h, t0.Add(time.Duration(i)*time.Hour))
		b := wire.ReportBatch{Records: h.spool}
		if err := b.Validate(); err != nil {
			t.Fatalf("cycle %d: Validate() = %v", i, err)
		}
		for _, r := range h.spool {
			kinds[r.Kind]++
		}
		all = append(all, h.spool...)
		h.spool = h.spool[:0]
	}
	prev := ""
	for i, r := range all {
		if r.Seq != uint64(i+1) {
			t.Fatalf("record %d: seq %d, want %d", i, r.Seq, i+1)
		}
		if r.Chain == nil || r.Chain.Prev != prev || r.Chain.Seq != uint64(i+1) {
			t.Fatalf("record %d: chain %+v does not follow %q", i, r.Chain, prev)
		}
		prev = r.Chain.Hash
	}
	for _, k := range []string{wire.KindRun, wire.KindDrift, wire.KindAlert} {
		if kinds[k] == 0 {
			t.Errorf("2000 cycles made no %s record: %v", k, kinds)
		}
	}
	if kinds[wire.KindRun] != 2000 {
		t.Errorf("2000 cycles made %d runs, want 2000", kinds[wire.KindRun])
	}
}

func TestParseFingerprint(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	colons := strings.TrimSuffix(strings.Repeat("AB:", 32), ":")
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"SHA256:" + hex, true},
		{hex, true},
		{"sha256:" + colons, true},
		{"SHA256:" + hex[:62], false},
		{"SHA256:" + strings.Repeat("zz", 32), false},
		{"", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			b, err := parseFingerprint(tc.in)
			if (err == nil) != tc.ok || (tc.ok && len(b) != 32) {
				t.Errorf("parseFingerprint(%q) = %x, %v, want ok %v", tc.in, b, err, tc.ok)
			}
		})
	}
}

func FuzzParseFingerprint(f *testing.F) {
	f.Add("SHA256:" + strings.Repeat("ab", 32))
	f.Add("ab:cd")
	f.Fuzz(func(t *testing.T, s string) {
		if b, err := parseFingerprint(s); err == nil && len(b) != 32 {
			t.Errorf("parseFingerprint(%q) = %d bytes, want 32", s, len(b))
		}
	})
}

func TestPercentile(t *testing.T) {
	var l latencies
	for i := 1; i <= 100; i++ {
		l = append(l, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := l.pct(tc.p); got != tc.want {
			t.Errorf("pct(%v) = %v, want %v", tc.p, got, tc.want)
		}
	}
}

func TestCPUTime(t *testing.T) {
	// Burn a little CPU so that our own counter is above zero.
	x := 0
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
		x++
	}
	if got := cpuTime(os.Getpid()); got <= 0 {
		t.Errorf("cpuTime(self) = %v after 50 ms of work (x=%d), want > 0", got, x)
	}
	if got := cpuTime(1 << 30); got != 0 {
		t.Errorf("cpuTime(no such pid) = %v, want 0", got)
	}
}
