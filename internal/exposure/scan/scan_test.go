package scan

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeHost answers like a host behind a firewall, on the synctest bubble's clock.
type fakeHost struct {
	rtt time.Duration
	// behaviour by port; ports not listed are dropped.
	open, closed, unreach, prohibited map[uint16]bool
	// answerOnTry answers (as closed) only from that try on, to show a retry at work.
	answerOnTry map[uint16]int
	local       error // returned for every port when set

	mu       sync.Mutex
	tries    map[uint16]int
	starts   []time.Duration
	inFlight int
	maxIn    int
	t0       time.Time
}

func set(ports ...uint16) map[uint16]bool {
	m := map[uint16]bool{}
	for _, p := range ports {
		m[p] = true
	}
	return m
}

func (h *fakeHost) dial(ctx context.Context, to netip.AddrPort) error {
	p := to.Port()
	h.mu.Lock()
	if h.tries == nil {
		h.tries = map[uint16]int{}
	}
	h.tries[p]++
	try := h.tries[p]
	h.starts = append(h.starts, time.Since(h.t0))
	h.inFlight++
	h.maxIn = max(h.maxIn, h.inFlight)
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.inFlight--
		h.mu.Unlock()
	}()
	if h.local != nil {
		return h.local
	}
	var answer error
	switch {
	case h.open[p]:
		answer = nil
	case h.closed[p]:
		answer = syscall.ECONNREFUSED
	case h.unreach[p]:
		answer = fmt.Errorf("dial tcp %v: connect: %w", to, syscall.EHOSTUNREACH)
	case h.prohibited[p]:
		answer = syscall.EACCES
	case h.answerOnTry[p] != 0 && try >= h.answerOnTry[p]:
		answer = syscall.ECONNREFUSED
	default:
		<-ctx.Done()
		return ctx.Err()
	}
	select {
	case <-time.After(h.rtt):
		return answer
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestScanStates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &fakeHost{
			rtt: time.Millisecond, t0: time.Now(),
			open: set(22, 443), closed: set(1, 80), unreach: set(5), prohibited: set(6),
			answerOnTry: map[uint16]int{7: 2, 8: 3},
		}
		ports := []uint16{1, 2, 5, 6, 7, 8, 22, 80, 443}
		rep, err := Scan(t.Context(), netip.MustParseAddr("192.0.2.1"), ports, Options{Dial: h.dial, Retries: 1, Concurrency: 4})
		if err != nil {
			t.Fatal(err)
		}
		want := []Result{
			{Port: 1, State: Closed, Reason: ReasonConnRefused, Tries: 1},
			{Port: 2, State: Filtered, Reason: ReasonNoResponse, Tries: 2},
			{Port: 5, State: Filtered, Reason: ReasonHostUnreach, Tries: 1},
			{Port: 6, State: Filtered, Reason: ReasonAdminProhibited, Tries: 1},
			{Port: 7, State: Closed, Reason: ReasonConnRefused, Tries: 2},
			{Port: 8, State: Filtered, Reason: ReasonNoResponse, Tries: 2},
			{Port: 22, State: Open, Reason: ReasonSynAck, Tries: 1},
			{Port: 80, State: Closed, Reason: ReasonConnRefused, Tries: 1},
			{Port: 443, State: Open, Reason: ReasonSynAck, Tries: 1},
		}
		if diff := cmp.Diff(want, rep.Results); diff != "" {
			t.Errorf("Scan results (-want +got):\n%s", diff)
		}
		if rep.Tries != 12 {
			t.Errorf("Scan tries = %d, want 12", rep.Tries)
		}
		if h.maxIn > 4 {
			t.Errorf("Scan had %d connections in flight, want at most 4", h.maxIn)
		}
		if got, want := rep.Ports(Open), []uint16{22, 443}; !cmp.Equal(got, want) {
			t.Errorf("Ports(Open) = %v, want %v", got, want)
		}
		if got := rep.Count(Filtered); got != 4 {
			t.Errorf("Count(Filtered) = %d, want 4", got)
		}
	})
}

// A host that drops everything but one port costs the timeout cap once per slot in flight,
// then the floor per port: the answered port shows the round trip is short. On the bubble's
// clock the durations are exact.
func TestScanAdaptsTimeout(t *testing.T) {
	for _, c := range []struct {
		name     string
		answered map[uint16]bool
		want     time.Duration
		timeout  time.Duration
	}{
		// 1000 ports, 100 in flight: the first slot-full waits for the answer of port 1
		// (1ms), then each is cut at the 100ms floor; 10 rounds of 100ms.
		{"one answer", set(1), 1000 * time.Millisecond, 100 * time.Millisecond},
		// No answer ever: the cap, 10 rounds of 1s.
		{"no answer", set(), 10 * time.Second, time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := &fakeHost{rtt: time.Millisecond, t0: time.Now(), open: c.answered}
				ports, _ := ParsePorts("1-1000")
				rep, err := Scan(t.Context(), netip.MustParseAddr("2001:db8::1"), ports, Options{Dial: h.dial, Concurrency: 100})
				if err != nil {
					t.Fatal(err)
				}
				if got := rep.End.Sub(rep.Start); got != c.want {
					t.Errorf("Scan took %v on the bubble's clock, want %v", got, c.want)
				}
				if rep.Timeout != c.timeout {
					t.Errorf("Scan timeout = %v, want %v", rep.Timeout, c.timeout)
				}
				if got := rep.Count(Filtered); got != 1000-len(c.answered) {
					t.Errorf("Count(Filtered) = %d, want %d", got, 1000-len(c.answered))
				}
			})
		})
	}
}

func TestScanTimeoutFollowsRTT(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A 50ms round trip: the timeout is 8 round trips, 400ms, between the floor and cap.
		h := &fakeHost{rtt: 50 * time.Millisecond, t0: time.Now(), closed: set(1, 2, 3, 4)}
		rep, err := Scan(t.Context(), netip.MustParseAddr("192.0.2.1"), []uint16{1, 2, 3, 4, 5}, Options{Dial: h.dial, Concurrency: 1})
		if err != nil {
			t.Fatal(err)
		}
		if rep.RTT != 50*time.Millisecond || rep.Timeout != 400*time.Millisecond {
			t.Errorf("Scan RTT, timeout = %v, %v, want 50ms, 400ms", rep.RTT, rep.Timeout)
		}
		if got, want := rep.End.Sub(rep.Start), 4*50*time.Millisecond+400*time.Millisecond; got != want {
			t.Errorf("Scan took %v, want %v", got, want)
		}
	})
}

func TestScanRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &fakeHost{t0: time.Now(), closed: set(1, 2, 3, 4)}
		_, err := Scan(t.Context(), netip.MustParseAddr("192.0.2.1"), []uint16{1, 2, 3, 4}, Options{Dial: h.dial, Rate: 5})
		if err != nil {
			t.Fatal(err)
		}
		want := []time.Duration{0, 200 * time.Millisecond, 400 * time.Millisecond, 600 * time.Millisecond}
		if diff := cmp.Diff(want, h.starts); diff != "" {
			t.Errorf("connection starts at 5 per second (-want +got):\n%s", diff)
		}
	})
}

func TestScanLocalError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &fakeHost{t0: time.Now(), local: syscall.EMFILE}
		_, err := Scan(t.Context(), netip.MustParseAddr("192.0.2.1"), []uint16{1, 2, 3}, Options{Dial: h.dial})
		var le *LocalError
		if !errors.As(err, &le) || !errors.Is(err, syscall.EMFILE) {
			t.Fatalf("Scan with a dialer out of files = %v, want a *LocalError wrapping EMFILE", err)
		}
	})
}

func TestScanCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &fakeHost{t0: time.Now()}
		ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
		defer cancel()
		ports, _ := ParsePorts("-")
		_, err := Scan(ctx, netip.MustParseAddr("192.0.2.1"), ports, Options{Dial: h.dial})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Scan cancelled = %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err      error
		timedOut bool
		state    State
		reason   string
	}{
		{nil, false, Open, ReasonSynAck},
		{nil, true, Open, ReasonSynAck},
		{syscall.ECONNREFUSED, false, Closed, ReasonConnRefused},
		{syscall.EHOSTUNREACH, false, Filtered, ReasonHostUnreach},
		{syscall.ENETUNREACH, false, Filtered, ReasonNetUnreach},
		{syscall.EACCES, false, Filtered, ReasonAdminProhibited},
		{syscall.EPERM, false, Filtered, ReasonAdminProhibited},
		{syscall.ETIMEDOUT, false, Filtered, ReasonNoResponse},
		{context.Canceled, true, Filtered, ReasonNoResponse},
	} {
		st, reason, err := classify(c.err, c.timedOut)
		if err != nil || st != c.state || reason != c.reason {
			t.Errorf("classify(%v, %v) = %v, %q, %v, want %v, %q, nil", c.err, c.timedOut, st, reason, err, c.state, c.reason)
		}
	}
	for _, e := range []error{syscall.EMFILE, syscall.EADDRNOTAVAIL, context.Canceled} {
		if _, _, err := classify(e, false); err == nil {
			t.Errorf("classify(%v, false) = no error, want it passed on as a local failure", e)
		}
	}
}

func TestStateText(t *testing.T) {
	for _, s := range []State{Open, Closed, Filtered} {
		b, _ := s.MarshalText()
		var back State
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("UnmarshalText(%q) = %v, %v, want %v", b, back, err, s)
		}
	}
	var s State
	if err := s.UnmarshalText([]byte("up")); err == nil {
		t.Errorf("UnmarshalText(up) = %v, want an error", s)
	}
}

// BenchmarkScanOverhead is the scanner's own cost per try: every port answers at once.
func BenchmarkScanOverhead(b *testing.B) {
	ports, _ := ParsePorts("-")
	refuse := func(context.Context, netip.AddrPort) error { return syscall.ECONNREFUSED }
	for b.Loop() {
		if _, err := Scan(b.Context(), netip.MustParseAddr("192.0.2.1"), ports, Options{Dial: refuse}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ports)), "ns/port")
}

// TestScanProgress: a call after every try, with the pass, its tries done and to do, and the
// open ports found so far.
func TestScanProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &fakeHost{rtt: time.Millisecond, t0: time.Now(), open: set(22, 443), closed: set(80)}
		var got []Progress
		o := Options{Dial: h.dial, Concurrency: 1, Retries: 1, Progress: func(p Progress) { got = append(got, p) }}
		if _, err := Scan(t.Context(), netip.MustParseAddr("192.0.2.1"), []uint16{1, 2, 3, 22, 80, 443}, o); err != nil {
			t.Fatal(err)
		}
		want := []Progress{
			{Pass: 0, Done: 1, Total: 6}, {Pass: 0, Done: 2, Total: 6}, {Pass: 0, Done: 3, Total: 6},
			{Pass: 0, Done: 4, Total: 6, Open: 1}, {Pass: 0, Done: 5, Total: 6, Open: 1}, {Pass: 0, Done: 6, Total: 6, Open: 2},
			{Pass: 1, Done: 1, Total: 3, Open: 2}, {Pass: 1, Done: 2, Total: 3, Open: 2}, {Pass: 1, Done: 3, Total: 3, Open: 2},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Progress calls (-want +got):\n%s", diff)
		}
	})
}
