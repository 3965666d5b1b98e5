// Package live watches a Mac as it runs: it keeps eslogger (or, failing that, `log stream`)
// running, feeds what it prints through the detection engine, polls the firewall's state to
// catch changes no event explained, and hands every alert to a set of sinks (standard output,
// a file, syslog, a webhook).
//
// Lifecycle: New checks the configuration without side effects; Run starts the telemetry
// program, the state poll and the detection loop and returns when ctx ends (after flushing the
// engine and closing the sinks) or when no telemetry program exists.
//
// Ownership. The engine is synchronous and not safe for concurrent use, so exactly one goroutine
// (Run's own, the detection loop) calls it. Two helpers feed that loop over channels: the stream
// goroutine owns the telemetry program (start, read, restart with back-off, fall back) and the
// poll goroutine owns the state readings. Both end when ctx ends; Run waits for them. Sinks are
// called from the detection loop only; a sink that needs time (the webhook) queues and works on
// a goroutine it owns and stops in Close.
package live

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/firewarden/firewarden/internal/detect/event"
	"github.com/firewarden/firewarden/internal/host"
)

// Area is the firewall an event or a setting is about.
type Area string

// Areas. An event whose area is not known ("") is taken to be about every firewall.
const (
	ALF Area = "alf" // the Application Firewall (socketfilterfw, com.apple.alf, the firewall profile)
	PF  Area = "pf"  // the packet filter (pfctl, /etc/pf.conf, /etc/pf.anchors)
)

// Alert is one alert, rendered for the sinks. It is rendered once, on the detection goroutine,
// because the engine keeps changing the alerts it holds open (their counts): sinks that work on
// other goroutines must see bytes, never the engine's values.
type Alert struct {
	Rule     string    // the rule's name
	Severity string    // informational, low, medium, high or critical
	Time     time.Time // when it happened (event time)
	Text     string    // one line, no newline
	JSON     []byte    // the --json form, one line, no newline
}

// Verdict is what the engine made of one event.
type Verdict struct {
	// Alerts are due now: new alerts, and follow-ups of earlier ones whose window closed.
	Alerts []Alert
	// Matched is set when a rule matched the event, whether that became an alert, was folded
	// into an earlier alert or was allowed: the change was seen, so it explains a drop of the
	// firewall state.
	Matched bool
	// Area is the firewall the matched event touched; "" when not known (it then explains a
	// drop of any firewall).
	Area Area
}

// Engine is the synchronous detector: events in, verdicts out.
type Engine interface {
	Process(ev *event.Event) Verdict
	Flush() []Alert // the follow-ups still due at the end
}

// Source is a decoded telemetry stream. Next returns io.EOF at the end of the stream. The event
// it returns may be reused by the next call.
type Source interface {
	Next() (*event.Event, error)
}

// Format names the telemetry a program prints.
type Format string

// Formats of the two telemetry programs.
const (
	ESLogger   Format = "eslogger"   // eslogger's JSON lines
	UnifiedLog Format = "unifiedlog" // log stream --style ndjson
)

// Decoder turns one run's standard output into a Source; name labels the events' input.
type Decoder func(r io.Reader, name string, f Format) Source

// Sink receives alerts. Send is called from the detection goroutine and must not block for
// long; an error is reported and the other sinks still get the alert. Close is called once,
// after the last Send.
type Sink interface {
	Name() string
	Send(a Alert) error
	Close() error
}

// Clock is the supervisor's time: stamps for polls and alerts, timers for back-off, polls and
// the poll margin. Tests inject a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// sleep waits d on c, or until ctx ends; it reports whether the full time passed.
func sleep(ctx context.Context, c Clock, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-c.After(d):
		return true
	}
}

// Logf writes one diagnostic line. It must be safe for concurrent use.
type Logf func(format string, args ...any)

// LineLogger returns a Logf that writes each line to w with prefix, one write at a time.
func LineLogger(w io.Writer, prefix string) Logf {
	var mu sync.Mutex
	return func(format string, args ...any) {
		line := prefix + strings.TrimRight(fmt.Sprintf(format, args...), "\n") + "\n"
		mu.Lock()
		defer mu.Unlock()
		io.WriteString(w, line)
	}
}

// Config is what a Supervisor needs.
type Config struct {
	Root    host.Root
	Runner  host.Runner // one-shot programs: eslogger --list-events, socketfilterfw, pfctl
	Starter Starter     // the telemetry streams
	Decode  Decoder
	Engine  Engine
	Sinks   []Sink

	// Poll is how often the firewall state is read; 0 turns the poll off.
	Poll time.Duration
	// Margin is how long a drop seen by the poll waits for the event that explains it, and how
	// far before the previous poll an explaining alert may lie. Zero means min(Poll, 10s).
	Margin time.Duration
	// Weakened renders the alert for a drop no event explained. Required when Poll > 0.
	Weakened func(Weakening) Alert

	Clock Clock // nil: real time
	Log   Logf  // diagnostics; nil discards them
}

// Stats is what a Run did.
type Stats struct {
	Events      int64  // events fed to the engine
	Alerts      int64  // alerts handed to the sinks, state alerts included
	StateAlerts int64  // of which from the state poll
	Runs        int    // telemetry program runs started
	Source      string // the program used last: eslogger or log
}

// Supervisor runs live detection. Build it with New; Run it once.
type Supervisor struct {
	cfg   Config
	clock Clock
	logf  Logf

	// set by the stream goroutine, read by Run after it ended
	runs   int
	source string
}

// DefaultMargin caps the poll margin.
const DefaultMargin = 10 * time.Second

// New checks cfg and returns a Supervisor. It starts nothing.
func New(cfg Config) (*Supervisor, error) {
	switch {
	case cfg.Starter == nil:
		return nil, errors.New("live: no Starter")
	case cfg.Decode == nil:
		return nil, errors.New("live: no Decoder")
	case cfg.Engine == nil:
		return nil, errors.New("live: no Engine")
	case cfg.Poll < 0:
		return nil, fmt.Errorf("live: poll interval %s is negative", cfg.Poll)
	case cfg.Poll > 0 && (cfg.Runner == nil || cfg.Weakened == nil):
		return nil, errors.New("live: the state poll needs a Runner and a Weakened renderer")
	}
	if cfg.Margin <= 0 {
		cfg.Margin = min(cfg.Poll, DefaultMargin)
	}
	s := &Supervisor{cfg: cfg, clock: cfg.Clock, logf: cfg.Log}
	if s.clock == nil {
		s.clock = realClock{}
	}
	if s.logf == nil {
		s.logf = func(string, ...any) {}
	}
	return s, nil
}

// handoff is one event on its way from the stream goroutine to the detection loop. The stream
// goroutine waits for done before it reads on, because the Source may reuse the event.
type handoff struct {
	ev   *event.Event
	done chan struct{}
}

// Run watches until ctx ends, then flushes the engine, closes the sinks and returns nil. It
// returns an error when neither eslogger nor log exists under the root; the sinks are closed
// then too.
func (s *Supervisor) Run(ctx context.Context) (Stats, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	events := make(chan handoff)
	drops := make(chan []Weakening)
	streamDone := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Go(func() { streamDone <- s.stream(ctx, events) })
	if s.cfg.Poll > 0 {
		wg.Go(func() { s.poll(ctx, drops) })
	}

	var st Stats
	out := &fanout{sinks: s.cfg.Sinks, logf: s.logf, failing: make([]bool, len(s.cfg.Sinks))}
	tr := newTracker(s.cfg.Poll, s.cfg.Margin)
	emit := func(alerts []Alert) {
		for _, a := range alerts {
			out.send(a)
			st.Alerts++
		}
	}
	raise := func(ws []Weakening) {
		for _, w := range ws {
			out.send(s.cfg.Weakened(w))
			st.Alerts++
			st.StateAlerts++
		}
	}

	var runErr error
	var timer <-chan time.Time // the earliest pending drop's deadline
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case runErr = <-streamDone:
			// The stream gives up only when no telemetry program exists (or ctx ended).
			break loop
		case h := <-events:
			st.Events++
			v := s.cfg.Engine.Process(h.ev)
			close(h.done)
			if v.Matched {
				tr.seen(v.Area, s.clock.Now())
			}
			emit(v.Alerts)
		case ws := <-drops:
			now := s.clock.Now()
			for _, w := range ws {
				tr.drop(w, now)
			}
			if timer == nil {
				if at, ok := tr.next(); ok {
					timer = s.clock.After(max(at.Sub(now), 0))
				}
			}
		case <-timer:
			now := s.clock.Now()
			raise(tr.due(now))
			timer = nil
			if at, ok := tr.next(); ok {
				timer = s.clock.After(max(at.Sub(now), 0))
			}
		}
	}
	cancel()
	emit(s.cfg.Engine.Flush())
	// A drop still waiting for its event at shutdown is raised: the state did drop, and nothing
	// explained it while we watched.
	raise(tr.flush())
	wg.Wait()
	out.close()
	st.Runs, st.Source = s.runs, s.source
	return st, runErr
}

// fanout hands each alert to every sink; one failing sink never stops the others. A sink's
// failure is reported when it starts failing and when it recovers, not for every alert.
type fanout struct {
	sinks   []Sink
	logf    Logf
	failing []bool
	lost    []int
}

func (f *fanout) send(a Alert) {
	if f.lost == nil {
		f.lost = make([]int, len(f.sinks))
	}
	for i, s := range f.sinks {
		err := s.Send(a)
		switch {
		case err != nil && !f.failing[i]:
			f.failing[i] = true
			f.lost[i]++
			f.logf("%s: %v; the other outputs carry on", s.Name(), err)
		case err != nil:
			f.lost[i]++
		case f.failing[i]:
			f.failing[i] = false
			f.logf("%s: working again after %d lost alert(s)", s.Name(), f.lost[i])
			f.lost[i] = 0
		}
	}
}

func (f *fanout) close() {
	for i, s := range f.sinks {
		if err := s.Close(); err != nil {
			f.logf("%s: %v", s.Name(), err)
		}
		if f.failing[i] && f.lost[i] > 0 {
			f.logf("%s: %d alert(s) lost", s.Name(), f.lost[i])
		}
	}
}
