package live_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/detect/live"
	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/host/hosttest"
	"github.com/firewarden/firewarden/internal/posture/alf"
)

// newSupervisor builds a Supervisor over the fakes; cfg fields that are set win.
func newSupervisor(t *testing.T, cfg live.Config) *live.Supervisor {
	t.Helper()
	if cfg.Decode == nil {
		cfg.Decode = decode
	}
	s, err := live.New(cfg)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return s
}

func eslogger(procs ...fakeProc) map[string][]fakeProc {
	return map[string][]fakeProc{live.ESLoggerPath: procs}
}

func TestAlertsForPositiveLines(t *testing.T) {
	clock := newClock(false)
	st := &fakeStarter{clock: clock, procs: eslogger(fakeProc{out: fixture(t, "eslogger/firewall-off.jsonl"), hold: true})}
	eng, rec := &fakeEngine{}, newRecorder()
	stop := started(t, newSupervisor(t, live.Config{Starter: st, Engine: eng, Sinks: []live.Sink{rec}, Clock: clock}))

	if a := rec.next(t); a.Rule != "alf-global-off" {
		t.Errorf("first alert = %s, want alf-global-off", a.Rule)
	}
	stats, err := stop()
	if err != nil {
		t.Fatalf("Run() = %v", err)
	}
	if diff := cmp.Diff([]string{"alf-global-off", "flushed"}, rec.Rules()); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
	if !rec.closed || eng.flushed != 1 {
		t.Errorf("after stop: sink closed %v, engine flushed %d times; want true, 1", rec.closed, eng.flushed)
	}
	want := live.Stats{Events: 3, Alerts: 2, Runs: 1, Source: "eslogger"}
	if diff := cmp.Diff(want, stats); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
	if want := [][]string{append([]string{live.ESLoggerPath}, live.ESEvents...)}; !cmp.Equal(want, st.Calls()) {
		t.Errorf("runs = %q, want %q", st.Calls(), want)
	}
	// The decoder reuses its event: the engine must have seen each one before the next read.
	if want := []string{"/bin/connection-checker", "", "/usr/libexec/ApplicationFirewall/socketfilterfw"}; !cmp.Equal(want, eng.seen) {
		t.Errorf("engine saw %q, want %q", eng.seen, want)
	}
}

// A dying eslogger is restarted after 1 s, 2 s, 4 s … up to a minute; a run that lasted a
// minute starts the back-off over.
func TestRestartBackoff(t *testing.T) {
	clock := newClock(true)
	short := fakeProc{out: "{}\n", err: errExit1}
	procs := slices.Repeat([]fakeProc{short}, 8)
	procs = append(procs, fakeProc{out: "{}\n", run: 61 * time.Second, err: errExit1}, short)
	st := &fakeStarter{clock: clock, procs: eslogger(procs...)}
	var log hosttest.Lines
	stop := started(t, newSupervisor(t, live.Config{Starter: st, Engine: &fakeEngine{}, Clock: clock, Log: log.Logf}))
	clock.waitAsked(t, 11)
	if _, err := stop(); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	s := time.Second
	want := []time.Duration{1 * s, 2 * s, 4 * s, 8 * s, 16 * s, 32 * s, 60 * s, 60 * s, 1 * s, 2 * s, 4 * s}
	if got := clock.Asked()[:11]; !cmp.Equal(want, got) {
		t.Errorf("back-off waits = %v, want %v", got, want)
	}
	if !strings.Contains(log.String(), "eslogger stopped after 1 event(s) (/usr/bin/eslogger exited with status 1); restarting in 1s") {
		t.Errorf("log lacks the restart line:\n%s", log.String())
	}
}

// The supervisor really waits: no new run before the back-off has passed.
func TestRestartWaitsForBackoff(t *testing.T) {
	clock := newClock(false)
	st := &fakeStarter{clock: clock, procs: eslogger(fakeProc{out: "{}\n", err: errExit1})}
	stop := started(t, newSupervisor(t, live.Config{Starter: st, Engine: &fakeEngine{}, Clock: clock}))
	for i, d := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		clock.waitTimer(t, d)
		if n := len(st.Calls()); n != i+1 {
			t.Fatalf("waiting %s: %d runs, want %d", d, n, i+1)
		}
		clock.Advance(d - time.Millisecond)
		if n := len(st.Calls()); n != i+1 {
			t.Fatalf("%s into a %s back-off: %d runs, want %d", d-time.Millisecond, d, n, i+1)
		}
		clock.Advance(time.Millisecond)
	}
	stop()
}

func TestRefusedEventsFallBackToMinimal(t *testing.T) {
	clock := newClock(false)
	refused := &host.ExitError{Argv: []string{live.ESLoggerPath}, Code: 64, Stderr: "eslogger: unknown event profile_remove"} // SYNTHETIC wording
	st := &fakeStarter{clock: clock, procs: eslogger(fakeProc{err: refused}, fakeProc{out: fixture(t, "eslogger/firewall-off.jsonl"), hold: true})}
	rec := newRecorder()
	var log hosttest.Lines
	stop := started(t, newSupervisor(t, live.Config{Starter: st, Engine: &fakeEngine{}, Sinks: []live.Sink{rec}, Clock: clock, Log: log.Logf}))
	rec.next(t)
	stop()
	want := [][]string{
		append([]string{live.ESLoggerPath}, live.ESEvents...),
		{live.ESLoggerPath, "exec", "fork", "exit"},
	}
	if diff := cmp.Diff(want, st.Calls()); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}
	if got := clock.Asked(); len(got) != 0 {
		t.Errorf("waited %v before the retry with fewer events, want no wait", got)
	}
	if !strings.Contains(log.String(), "retrying with exec fork exit") {
		t.Errorf("log does not say it retries with fewer events:\n%s", log.String())
	}
}

// runnerFunc is a host.Runner from a function.
type runnerFunc func(ctx context.Context, c host.Cmd) (host.Result, error)

func (f runnerFunc) Run(ctx context.Context, c host.Cmd) (host.Result, error) { return f(ctx, c) }

// eslogger --list-events decides which events are asked for.
func TestListEventsPicksEvents(t *testing.T) {
	tests := []struct {
		name   string
		list   string
		err    error
		want   []string
		logged string
	}{
		{"macOS 13 has no profile_remove", "exec\nfork\nexit\ncreate\nwrite\nrename\nunlink\nclose\nopen\n", nil,
			[]string{"exec", "fork", "exit", "create", "write", "rename", "unlink", "close"}, "does not offer profile_remove"},
		{"everything offered", strings.Join(append([]string{"sudo"}, live.ESEvents...), "\n"), nil, live.ESEvents, ""},
		{"list fails", "", errExit1, live.ESEvents, ""},
		{"list not understood", "usage: eslogger …", nil, live.ESEvents, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock(false)
			run := runnerFunc(func(_ context.Context, c host.Cmd) (host.Result, error) {
				if c.Path != live.ESLoggerPath || !slices.Equal(c.Args, []string{"--list-events"}) {
					t.Errorf("ran %s, want eslogger --list-events", c)
				}
				return host.Result{Stdout: []byte(tt.list)}, tt.err
			})
			st := &fakeStarter{clock: clock, procs: eslogger(fakeProc{out: fixture(t, "eslogger/firewall-off.jsonl"), hold: true})}
			rec := newRecorder()
			var log hosttest.Lines
			stop := started(t, newSupervisor(t, live.Config{Runner: run, Starter: st, Engine: &fakeEngine{}, Sinks: []live.Sink{rec}, Clock: clock, Log: log.Logf}))
			rec.next(t)
			stop()
			if got := st.Calls()[0][1:]; !cmp.Equal(tt.want, got) {
				t.Errorf("eslogger events = %q, want %q", got, tt.want)
			}
			if tt.logged != "" && !strings.Contains(log.String(), tt.logged) {
				t.Errorf("log lacks %q:\n%s", tt.logged, log.String())
			}
		})
	}
}

var logStreamArgv = []string{live.LogPath, "stream", "--style", "ndjson", "--predicate", `subsystem == "com.apple.alf" OR process == "sudo"`}

func TestMissingESLoggerFallsBackToLogStream(t *testing.T) {
	clock := newClock(false)
	st := &fakeStarter{clock: clock, procs: map[string][]fakeProc{live.LogPath: {{out: fixture(t, "unifiedlog/stream.ndjson")}}}}
	eng := &fakeEngine{}
	var log hosttest.Lines
	stop := started(t, newSupervisor(t, live.Config{Starter: st, Engine: eng, Clock: clock, Log: log.Logf}))
	clock.waitTimer(t, time.Second) // log stream ended: restart back-off
	stats, err := stop()
	if err != nil {
		t.Fatalf("Run() = %v", err)
	}
	if diff := cmp.Diff([][]string{logStreamArgv}, st.Calls()); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}
	if stats.Source != "log stream" || stats.Events != 3 || eng.events != 3 {
		t.Errorf("Stats = %+v, engine saw %d events; want source log stream and 3 events", stats, eng.events)
	}
	if !strings.Contains(log.String(), "/usr/bin/eslogger is not under") || !strings.Contains(log.String(), "much less") {
		t.Errorf("log does not explain the fallback:\n%s", log.String())
	}
}

func TestESLoggerWithoutPermission(t *testing.T) {
	tests := []struct {
		name, stderr, want string
	}{
		// The result names are Apple's (es_new_client_result_t); the surrounding words are
		// SYNTHETIC: firewarden matches the name only.
		{"no Full Disk Access", "eslogger: es_new_client: ES_NEW_CLIENT_RESULT_ERR_NOT_PERMITTED\n", "Full Disk Access"},
		{"not root", "eslogger: es_new_client: ES_NEW_CLIENT_RESULT_ERR_NOT_PRIVILEGED\n", "must run as root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock(false)
			st := &fakeStarter{clock: clock, procs: map[string][]fakeProc{
				live.ESLoggerPath: {{err: &host.ExitError{Argv: []string{live.ESLoggerPath}, Code: 1, Stderr: tt.stderr}}},
				live.LogPath:      {{hold: true}},
			}}
			var log hosttest.Lines
			stop := started(t, newSupervisor(t, live.Config{Starter: st, Engine: &fakeEngine{}, Clock: clock, Log: log.Logf}))
			waitCalls(t, st, 2)
			stats, _ := stop()
			if got := st.Calls(); len(got) != 2 || !cmp.Equal(logStreamArgv, got[1]) {
				t.Errorf("runs = %q, want eslogger then %q", got, logStreamArgv)
			}
			if stats.Source != "log stream" {
				t.Errorf("Source = %q, want log stream", stats.Source)
			}
			lines := strings.Split(log.String(), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], tt.want) || !strings.Contains(lines[0], "log stream") {
				t.Errorf("log = %q, want one line saying %q and naming the fallback", lines, tt.want)
			}
			if got := clock.Asked(); len(got) != 0 {
				t.Errorf("waited %v before falling back, want no wait", got)
			}
		})
	}
}

func waitCalls(t *testing.T, st *fakeStarter, n int) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for len(st.Calls()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d runs after %s, want %d", len(st.Calls()), patience, n)
		}
		time.Sleep(time.Millisecond) // polling another goroutine's progress; not a timing assertion
	}
}

func TestNoTelemetryProgram(t *testing.T) {
	rec := newRecorder()
	s := newSupervisor(t, live.Config{Root: mustRoot(t, t.TempDir()), Starter: &fakeStarter{procs: map[string][]fakeProc{}}, Engine: &fakeEngine{}, Sinks: []live.Sink{rec}, Clock: newClock(false)})
	_, err := s.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "neither /usr/bin/eslogger nor /usr/bin/log") {
		t.Errorf("Run() = %v, want an error naming both programs", err)
	}
	if !rec.closed {
		t.Error("sinks not closed after the error")
	}
}

func mustRoot(t *testing.T, dir string) host.Root {
	t.Helper()
	r, err := host.NewRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestNewRejects(t *testing.T) {
	ok := live.Config{Starter: &fakeStarter{}, Decode: decode, Engine: &fakeEngine{}}
	tests := []struct {
		name string
		edit func(*live.Config)
	}{
		{"no starter", func(c *live.Config) { c.Starter = nil }},
		{"no decoder", func(c *live.Config) { c.Decode = nil }},
		{"no engine", func(c *live.Config) { c.Engine = nil }},
		{"negative poll", func(c *live.Config) { c.Poll = -time.Second }},
		{"poll without runner", func(c *live.Config) { c.Poll = time.Minute; c.Weakened = weakened }},
		{"poll without renderer", func(c *live.Config) { c.Poll = time.Minute; c.Runner = runnerFunc(nil) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.edit(&cfg)
			if _, err := live.New(cfg); err == nil {
				t.Errorf("New(%s) = nil error", tt.name)
			}
		})
	}
	if _, err := live.New(ok); err != nil {
		t.Errorf("New(valid) = %v", err)
	}
}

// One sink failing never keeps the alert from the others, and its failure is reported once,
// not per alert.
func TestFailingSinkDoesNotStopOthers(t *testing.T) {
	clock := newClock(false)
	line := fixture(t, "eslogger/firewall-off.jsonl")
	pfOff := strings.ReplaceAll(strings.ReplaceAll(line, "/usr/libexec/ApplicationFirewall/socketfilterfw", "/sbin/pfctl"), `"--setglobalstate","off"`, `"-d"`)
	st := &fakeStarter{clock: clock, procs: eslogger(fakeProc{out: line + pfOff, hold: true})}
	bad, good := newRecorder(), newRecorder()
	bad.fail = errors.New("disk full")
	var log hosttest.Lines
	stop := started(t, newSupervisor(t, live.Config{Starter: st, Engine: &fakeEngine{}, Sinks: []live.Sink{bad, good}, Clock: clock, Log: log.Logf}))
	for range 2 {
		good.next(t)
	}
	stop()
	if diff := cmp.Diff([]string{"alf-global-off", "pf-disable", "flushed"}, good.Rules()); diff != "" {
		t.Errorf("good sink's alerts (-want +got):\n%s", diff)
	}
	if got := strings.Count(log.String(), "disk full"); got != 1 {
		t.Errorf("failure reported %d times, want once:\n%s", got, log.String())
	}
	if !strings.Contains(log.String(), "recorder: 3 alert(s) lost") {
		t.Errorf("log does not count the lost alerts:\n%s", log.String())
	}
}

// macRunner answers socketfilterfw from an emulated Mac and pfctl from pf (nil: not installed).
type macRunner struct {
	mac *hosttest.Mac
	pf  func() string
}

func (m macRunner) Run(ctx context.Context, c host.Cmd) (host.Result, error) {
	if c.Path == live.PfctlPath {
		if m.pf == nil {
			return host.Result{Argv: c.Argv(), ExitCode: -1}, fmt.Errorf("%s: %w", c.Path, host.ErrNotInstalled)
		}
		return host.Result{Argv: c.Argv(), Stdout: []byte(m.pf())}, nil
	}
	return m.mac.Run(ctx, c)
}

func newMac(t *testing.T, st hosttest.MacState) *hosttest.Mac {
	t.Helper()
	m, err := hosttest.NewMac(t.TempDir(), st)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func setGlobalState(t *testing.T, m *hosttest.Mac, v string) {
	t.Helper()
	if _, err := m.Run(context.Background(), host.Cmd{Path: alf.SocketFilterFW, Args: []string{"--setglobalstate", v}}); err != nil {
		t.Fatal(err)
	}
}

const (
	poll   = time.Minute
	margin = 10 * time.Second
)

// pollSetup runs a supervisor whose eslogger prints what the test writes to the returned pipe,
// over an emulated macOS 15 Mac with the firewall and stealth mode on.
func pollSetup(t *testing.T) (*fakeClock, *hosttest.Mac, *io.PipeWriter, *recorder, func() (live.Stats, error)) {
	t.Helper()
	clock, mac, pw, rec, _, stop := pollSetupEngine(t)
	return clock, mac, pw, rec, stop
}

func pollSetupEngine(t *testing.T) (*fakeClock, *hosttest.Mac, *io.PipeWriter, *recorder, *fakeEngine, func() (live.Stats, error)) {
	t.Helper()
	clock := newClock(false)
	ms := hosttest.Mac15()
	ms.GlobalState, ms.Stealth = 1, true
	mac := newMac(t, ms)
	pr, pw := io.Pipe()
	st := &fakeStarter{clock: clock, procs: eslogger(fakeProc{r: pr, hold: true})}
	rec := newRecorder()
	eng := &fakeEngine{tick: make(chan struct{}, 100)}
	stop := started(t, newSupervisor(t, live.Config{
		Runner: macRunner{mac: mac}, Starter: st, Engine: eng, Sinks: []live.Sink{rec},
		Poll: poll, Margin: margin, Weakened: weakened, Clock: clock,
	}))
	clock.waitTimer(t, poll) // the baseline is read
	return clock, mac, pw, rec, eng, stop
}

func TestPollRaisesUnseenDrop(t *testing.T) {
	clock, mac, _, rec, stop := pollSetup(t)
	setGlobalState(t, mac, "off") // no eslogger event for it
	clock.Advance(poll)
	clock.waitTimer(t, margin) // the drop waits for its event
	clock.Advance(margin)
	a := rec.next(t)
	if a.Rule != "state-weakened-unseen" || a.Text != "ALERT state-weakened-unseen alf.enabled on->off" {
		t.Errorf("alert = %s %q, want state-weakened-unseen for alf.enabled on->off", a.Rule, a.Text)
	}
	stats, _ := stop()
	if stats.StateAlerts != 1 || stats.Alerts != 1 {
		t.Errorf("Stats = %+v, want 1 alert, from the state poll", stats)
	}
}

// An alert about the firewall before the poll explains the drop.
func TestPollQuietWhenEventCameFirst(t *testing.T) {
	clock, mac, pw, rec, stop := pollSetup(t)
	go pw.Write([]byte(fixture(t, "eslogger/firewall-off.jsonl")))
	if a := rec.next(t); a.Rule != "alf-global-off" {
		t.Fatalf("alert = %s, want alf-global-off", a.Rule)
	}
	setGlobalState(t, mac, "off")
	clock.Advance(poll)
	clock.waitAsked(t, 2) // the poll has handed its drop over and sleeps again
	stop()                // a drop still pending would be raised now
	if diff := cmp.Diff([]string{"alf-global-off", "flushed"}, rec.Rules()); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
}

// An alert that arrives within the margin after the poll explains the drop too.
func TestPollQuietWhenEventFollowsWithinMargin(t *testing.T) {
	clock, mac, pw, rec, stop := pollSetup(t)
	setGlobalState(t, mac, "off")
	clock.Advance(poll)
	clock.waitTimer(t, margin)
	go pw.Write([]byte(fixture(t, "eslogger/firewall-off.jsonl")))
	if a := rec.next(t); a.Rule != "alf-global-off" {
		t.Fatalf("alert = %s, want alf-global-off", a.Rule)
	}
	clock.Advance(margin)
	stop()
	if diff := cmp.Diff([]string{"alf-global-off", "flushed"}, rec.Rules()); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
}

// An alert about pf does not explain the Application Firewall going off.
func TestPollOtherAreaDoesNotExplain(t *testing.T) {
	clock, mac, pw, rec, stop := pollSetup(t)
	pfOff := strings.ReplaceAll(fixture(t, "eslogger/firewall-off.jsonl"), "/usr/libexec/ApplicationFirewall/socketfilterfw", "/sbin/pfctl")
	pfOff = strings.ReplaceAll(pfOff, `"--setglobalstate","off"`, `"-d"`)
	go pw.Write([]byte(pfOff))
	if a := rec.next(t); a.Rule != "pf-disable" {
		t.Fatalf("alert = %s, want pf-disable (the test's edit of the fixture failed?)", a.Rule)
	}
	setGlobalState(t, mac, "off")
	clock.Advance(poll)
	clock.waitTimer(t, margin)
	clock.Advance(margin)
	if a := rec.next(t); a.Rule != "state-weakened-unseen" {
		t.Errorf("alert = %s, want state-weakened-unseen", a.Rule)
	}
	stop()
}

// pfctl cannot be read (not installed here): said once, however many polls.
func TestPollReportsReadErrorsOnce(t *testing.T) {
	clock := newClock(false)
	mac := newMac(t, hosttest.Mac15())
	var log hosttest.Lines
	st := &fakeStarter{clock: clock, procs: eslogger(fakeProc{hold: true})}
	stop := started(t, newSupervisor(t, live.Config{
		Runner: macRunner{mac: mac}, Starter: st, Engine: &fakeEngine{}, Poll: poll, Weakened: weakened, Clock: clock, Log: log.Logf,
	}))
	for i := 1; i <= 3; i++ {
		clock.waitAsked(t, i)
		clock.Advance(poll)
	}
	clock.waitAsked(t, 4)
	stop()
	if n := strings.Count(log.String(), "/sbin/pfctl"); n != 1 {
		t.Errorf("pfctl error reported %d times, want once:\n%s", n, log.String())
	}
}

// A repeat the engine folded into an earlier alert (no new alert) still explains the drop: the
// earlier alert is long past, but the change was seen.
func TestPollQuietWhenFoldedRepeatCameFirst(t *testing.T) {
	clock, mac, pw, rec, eng, stop := pollSetupEngine(t)
	line := fixture(t, "eslogger/firewall-off.jsonl")
	go pw.Write([]byte(line))
	rec.next(t)
	for i := range 5 { // five quiet polls: the first alert is now far outside any window
		clock.waitAsked(t, i+1)
		clock.Advance(poll)
	}
	clock.waitAsked(t, 6)
	for len(eng.tick) > 0 {
		<-eng.tick
	}
	go pw.Write([]byte(line)) // folded: no alert
	for range 3 {
		<-eng.tick // processed
	}
	setGlobalState(t, mac, "off")
	clock.Advance(poll)
	clock.waitAsked(t, 7)
	stop()
	if diff := cmp.Diff([]string{"alf-global-off", "flushed"}, rec.Rules()); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
}
