package live_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/detect/event"
	"github.com/firewarden/firewarden/internal/detect/live"
	"github.com/firewarden/firewarden/internal/host"
)

// t0 is the fake clock's start.
var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// patience bounds every wait for another goroutine in these tests (real time). It is a guard
// against a hang, never part of what is asserted.
const patience = 10 * time.Second

// fakeClock is a manual clock: After registers a timer that fires when Advance passes it. With
// auto set, After fires at once and moves the clock on by d (for tests that only care about
// which waits were asked for).
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	auto    bool
	timers  []fakeTimer
	asked   []time.Duration // every After, in order
	changed chan struct{}   // closed and replaced at every After
}

type fakeTimer struct {
	at time.Time
	d  time.Duration
	c  chan time.Time
}

func newClock(auto bool) *fakeClock {
	return &fakeClock{now: t0, auto: auto, changed: make(chan struct{})}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.asked = append(c.asked, d)
	if c.auto {
		c.now = c.now.Add(d)
		ch <- c.now
	} else {
		c.timers = append(c.timers, fakeTimer{c.now.Add(d), d, ch})
	}
	close(c.changed)
	c.changed = make(chan struct{})
	return ch
}

// Advance moves the clock on and fires the timers it passes.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if !t.at.After(c.now) {
			t.c <- c.now
		} else {
			kept = append(kept, t)
		}
	}
	c.timers = kept
}

// Asked returns the durations of every After so far.
func (c *fakeClock) Asked() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.asked)
}

// waitTimer waits until a timer of duration d is pending.
func (c *fakeClock) waitTimer(t *testing.T, d time.Duration) {
	t.Helper()
	c.waitUntil(t, fmt.Sprintf("a %s timer", d), func() bool {
		return slices.ContainsFunc(c.timers, func(ft fakeTimer) bool { return ft.d == d })
	})
}

// waitAsked waits until After has been called n times.
func (c *fakeClock) waitAsked(t *testing.T, n int) {
	t.Helper()
	c.waitUntil(t, fmt.Sprintf("%d waits", n), func() bool { return len(c.asked) >= n })
}

// waitUntil waits until cond (called with the lock held) holds.
func (c *fakeClock) waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(patience)
	for {
		c.mu.Lock()
		ok, ch := cond(), c.changed
		c.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			c.mu.Lock()
			defer c.mu.Unlock()
			t.Fatalf("waited %s for %s; waits so far %v", patience, what, c.asked)
		}
	}
}

// fakeProc is one scripted run of a program.
type fakeProc struct {
	out  string        // printed on standard output
	r    io.Reader     // read after out, when set (a pipe the test writes to)
	hold bool          // keep running after out until stopped
	run  time.Duration // the clock moves on by this while it runs
	err  error         // what wait returns
}

// fakeStarter runs scripted programs: the runs of each path in order, the last one repeating.
// A path with no script is not installed.
type fakeStarter struct {
	clock *fakeClock
	mu    sync.Mutex
	procs map[string][]fakeProc
	calls [][]string
}

func (s *fakeStarter) Start(ctx context.Context, c host.Cmd) (io.ReadCloser, func() error, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	script, ok := s.procs[c.Path]
	if !ok {
		return nil, nil, fmt.Errorf("%s: %w", c.Path, host.ErrNotInstalled)
	}
	p := script[0]
	if len(script) > 1 {
		s.procs[c.Path] = script[1:]
	}
	s.calls = append(s.calls, c.Argv())
	var r io.Reader = strings.NewReader(p.out)
	if p.r != nil {
		r = io.MultiReader(r, p.r)
		if pr, ok := p.r.(*io.PipeReader); ok {
			context.AfterFunc(ctx, func() { pr.Close() }) // as a stopped program's output ends
		}
	}
	if p.hold {
		r = io.MultiReader(r, blockUntil{ctx})
	}
	wait := func() error {
		if p.run > 0 {
			s.clock.Advance(p.run)
		}
		return p.err
	}
	return io.NopCloser(r), wait, nil
}

func (s *fakeStarter) Calls() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// blockUntil reads nothing until ctx ends, then EOF: a program that keeps running silently.
type blockUntil struct{ ctx context.Context }

func (b blockUntil) Read([]byte) (int, error) {
	<-b.ctx.Done()
	return 0, io.EOF
}

// decode is a test Decoder: enough of eslogger's exec events and of log stream's records to
// drive the supervisor without the real input package. Lines it does not understand are
// skipped.
func decode(r io.Reader, name string, f live.Format) live.Source {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	return &lineSource{sc: sc, name: name, f: f}
}

type lineSource struct {
	sc   *bufio.Scanner
	name string
	f    live.Format
	ev   event.Event
}

func (s *lineSource) Next() (*event.Event, error) {
	for s.sc.Scan() {
		var rec struct {
			Time  time.Time `json:"time"`
			Event struct {
				Exec *struct {
					Target struct {
						Executable struct {
							Path string `json:"path"`
						} `json:"executable"`
					} `json:"target"`
					Args []string `json:"args"`
				} `json:"exec"`
			} `json:"event"`
			EventMessage     *string `json:"eventMessage"`
			ProcessImagePath string  `json:"processImagePath"`
		}
		if json.Unmarshal(s.sc.Bytes(), &rec) != nil {
			continue
		}
		// The event is reused, as the real Reader may do.
		s.ev = event.Event{Source: string(s.f), Input: s.name, Time: rec.Time}
		switch {
		case s.f == live.ESLogger && rec.Event.Exec != nil:
			s.ev.Kind, s.ev.Path, s.ev.Argv = event.Exec, rec.Event.Exec.Target.Executable.Path, rec.Event.Exec.Args
		case s.f == live.ESLogger:
			s.ev.Kind = event.Fork
		case rec.EventMessage != nil:
			s.ev.Kind, s.ev.Path, s.ev.CommandLine = event.Log, rec.ProcessImagePath, *rec.EventMessage
		default:
			continue
		}
		return &s.ev, nil
	}
	if err := s.sc.Err(); err != nil {
		return nil, err
	}
	return nil, io.EOF
}

// fakeEngine matches "socketfilterfw --setglobalstate off" (area alf) and "pfctl -d" (area
// pf). Like the real engine it folds: only a rule's first match alerts. At Flush it returns one
// "flushed" follow-up when it alerted at all.
type fakeEngine struct {
	events  int
	alerted map[string]bool
	flushed int
	seen    []string      // the path of every event, to catch reuse bugs
	tick    chan struct{} // when set, gets a token per event processed (buffer it)
}

func (e *fakeEngine) Process(ev *event.Event) live.Verdict {
	e.events++
	words := ev.Argv
	if len(words) == 0 {
		words = strings.Fields(ev.CommandLine)
	}
	e.seen = append(e.seen, ev.Path)
	if e.tick != nil {
		e.tick <- struct{}{}
	}
	var rule string
	var area live.Area
	switch {
	case strings.HasSuffix(ev.Path, "/socketfilterfw") && slices.Contains(words, "--setglobalstate") && slices.Contains(words, "off"):
		rule, area = "alf-global-off", live.ALF
	case strings.HasSuffix(ev.Path, "/pfctl") && slices.Contains(words, "-d"):
		rule, area = "pf-disable", live.PF
	default:
		return live.Verdict{}
	}
	v := live.Verdict{Matched: true, Area: area}
	if !e.alerted[rule] {
		if e.alerted == nil {
			e.alerted = map[string]bool{}
		}
		e.alerted[rule] = true
		v.Alerts = []live.Alert{testAlert(rule, ev.Time)}
	}
	return v
}

func (e *fakeEngine) Flush() []live.Alert {
	e.flushed++
	if len(e.alerted) == 0 {
		return nil
	}
	return []live.Alert{testAlert("flushed", t0)}
}

func testAlert(rule string, at time.Time) live.Alert {
	j, _ := json.Marshal(map[string]any{"rule": rule, "time": at})
	return live.Alert{Rule: rule, Severity: "high", Time: at, Text: "ALERT " + rule, JSON: j}
}

// weakened renders state alerts for tests.
func weakened(w live.Weakening) live.Alert {
	a := testAlert("state-weakened-unseen", w.Time)
	a.Text += " " + w.Setting + " " + w.Before + "->" + w.After
	return a
}

// recorder is a sink that keeps what it got and announces each alert on a channel.
type recorder struct {
	mu     sync.Mutex
	got    []live.Alert
	ch     chan live.Alert
	closed bool
	fail   error // returned by Send when set
}

func newRecorder() *recorder { return &recorder{ch: make(chan live.Alert, 100)} }

func (r *recorder) Name() string { return "recorder" }

func (r *recorder) Send(a live.Alert) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.got = append(r.got, a)
	r.ch <- a
	return nil
}

func (r *recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	return nil
}

func (r *recorder) Rules() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, a := range r.got {
		out = append(out, a.Rule)
	}
	return out
}

// next waits for the next alert.
func (r *recorder) next(t *testing.T) live.Alert {
	t.Helper()
	select {
	case a := <-r.ch:
		return a
	case <-time.After(patience):
		t.Fatalf("no alert within %s; so far %v", patience, r.Rules())
		return live.Alert{}
	}
}

// started runs s in the background and returns a function that stops it and returns its result.
func started(t *testing.T, s *live.Supervisor) func() (live.Stats, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		st  live.Stats
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := s.Run(ctx)
		done <- result{st, err}
	}()
	stop := func() (live.Stats, error) {
		cancel()
		select {
		case r := <-done:
			return r.st, r.err
		case <-time.After(patience):
			t.Fatalf("Run did not return within %s of cancel", patience)
			return live.Stats{}, nil
		}
	}
	t.Cleanup(func() { cancel() })
	return stop
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var errExit1 = &host.ExitError{Argv: []string{live.ESLoggerPath}, Code: 1}

func isNotInstalled(err error) bool { return errors.Is(err, host.ErrNotInstalled) }
