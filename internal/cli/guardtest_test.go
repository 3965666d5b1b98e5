package cli

import (
	"bufio"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/authwatch"
	"github.com/firewarden/firewarden/internal/guard"
)

// TestGuardTestPrinterHolds: lines keep their order; a counted failure waits for its process's
// login to be printed forgiven, but no longer than the bounds, after which it is printed as not
// forgiven and the login says what it took back.
func TestGuardTestPrinterHolds(t *testing.T) {
	a := netip.MustParseAddr("198.51.100.20")
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	failure := func(n, pid int, at time.Duration) guard.LineResult {
		return guard.LineResult{Number: n, Outcome: authwatch.Recognised, Time: t0.Add(at), Weight: 1,
			Failure: authwatch.Failure{Kind: authwatch.KindPAM, Addr: a, PID: pid}, Decision: guard.Decision{Verdict: guard.Counted, Score: 1}}
	}
	login := func(n, pid int, at time.Duration, took float64) guard.LineResult {
		return guard.LineResult{Number: n, Outcome: authwatch.Accepted, Time: t0.Add(at), Forgave: took,
			Failure: authwatch.Failure{Addr: a, PID: pid}}
	}
	other := func(n int, at time.Duration) guard.LineResult {
		return guard.LineResult{Number: n, Outcome: authwatch.Ignored, Time: t0.Add(at)}
	}
	tests := []struct {
		name  string
		lines []guard.LineResult
		want  []string // the lines' starts, in print order
	}{
		{"forgiven in order", []guard.LineResult{failure(1, 7, 0), other(2, 0), login(3, 7, time.Second, 1)},
			[]string{"1: counted pam 198.51.100.20 pid 7 weight 1 score 1 forgiven", "2: not recognised", "3: login 198.51.100.20 pid 7 forgave 1"}},
		{"another process's login forgives nothing", []guard.LineResult{failure(1, 7, 0), login(2, 8, time.Second, 0)},
			[]string{"1: counted pam 198.51.100.20 pid 7 weight 1 score 1", "2: login 198.51.100.20 pid 8"}},
		{"held no longer than the log's time bound", []guard.LineResult{failure(1, 7, 0), other(2, guardTestHoldFor), login(3, 7, guardTestHoldFor, 1)},
			[]string{"1: counted pam 198.51.100.20 pid 7 weight 1 score 1", "2: not recognised", "3: login 198.51.100.20 pid 7 forgave 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			w := bufio.NewWriter(&out)
			p := &guardTestPrinter{w: w, which: "all"}
			for _, l := range tt.lines {
				p.add(l, []byte("x"))
			}
			p.flush(true)
			w.Flush()
			var got []string
			for l := range strings.Lines(out.String()) {
				got = append(got, strings.TrimSuffix(l, " | x\n"))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("printed (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("held no longer than the line bound", func(t *testing.T) {
		var out strings.Builder
		w := bufio.NewWriter(&out)
		p := &guardTestPrinter{w: w, which: "all"}
		p.add(failure(1, 7, 0), []byte("x"))
		for i := range guardTestHoldLines {
			p.add(other(i+2, 0), []byte("x"))
			if i < guardTestHoldLines-1 && len(p.held) != i+2 {
				t.Fatalf("after %d lines %d held, want all", i+2, len(p.held))
			}
		}
		if len(p.held) != 0 {
			t.Errorf("%d lines held past the bound of %d, want none", len(p.held), guardTestHoldLines)
		}
		w.Flush()
		if !strings.HasPrefix(out.String(), "1: counted pam") {
			t.Errorf("output starts %q, want line 1 first", out.String()[:40])
		}
	})
}
