package agent

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// onceAttempts is how many times `agent run --once` tries to upload before it gives up (exit 2,
// the spool kept for the next run).
const onceAttempts = 3

// Config fetches the policy and caches it; when the server cannot be reached it returns the
// cached policy (or the default) together with the error.
func (a *Agent) Config(ctx context.Context) (wire.AgentConfig, error) {
	cfg, err := a.Client.Config(ctx)
	a.noteRevoked(err)
	if err == nil {
		if err = checkConfig(cfg); err == nil {
			var cached wire.AgentConfig
			if ok, _ := readJSON(a.State, ConfigFile, &cached); !ok || !reflect.DeepEqual(cached, cfg) {
				if werr := writeJSON(a.State, ConfigFile, cfg); werr != nil {
					a.logf("%v", werr)
				}
			}
			return cfg, nil
		}
	}
	cached := DefaultConfig()
	if ok, rerr := readJSON(a.State, ConfigFile, &cached); rerr != nil || !ok {
		cached = DefaultConfig()
	}
	return cached, err
}

func checkConfig(cfg wire.AgentConfig) error {
	switch cfg.Policy.Mode {
	case "", wire.ModeReport, wire.ModeEnforce:
	default:
		return fmt.Errorf("policy %q: unknown mode %q; this agent knows report and enforce", cfg.Policy.Name, cfg.Policy.Mode)
	}
	_, err := PolicyBaseline(cfg.Policy)
	return err
}

// Once runs one cycle and uploads. compliant is the run's verdict; err says the cycle or the
// upload failed (what was spooled stays spooled).
func (a *Agent) Once(ctx context.Context) (out Outcome, err error) {
	cfg, cerr := a.Config(ctx)
	if cerr != nil {
		if Permanent(cerr) {
			return out, cerr
		}
		a.logf("using the last policy known (%s): %v", cfg.Policy.Name, oneLine(cerr.Error()))
	}
	// No daemon runs beside --once (the agent lock), so no run is scheduled.
	a.updateFacts(func(f *Facts) { f.NextRun = time.Time{} })
	out, err = a.cycleAndRecord(ctx, cfg)
	if err != nil {
		return out, err
	}
	a.checkBans(cfg)
	_, err = a.uploadAndRecord(ctx, onceAttempts)
	return out, err
}

func (a *Agent) cycleAndRecord(ctx context.Context, cfg wire.AgentConfig) (Outcome, error) {
	out, err := a.Cycle(ctx, cfg)
	if err != nil {
		return out, err
	}
	if err := a.Spool.Trim(); err != nil {
		a.logf("%v", err)
	}
	a.updateFacts(func(f *Facts) {
		f.LastRun, f.LastRunID, f.LastCompliant = a.now(), out.RunID, out.Compliant
		f.Policy, f.Mode, f.ConfigVersion = cfg.Policy.Name, modeOf(cfg.Policy), cfg.Version
	})
	verdict := "compliant"
	if !out.Compliant {
		verdict = "NOT compliant"
	}
	a.logf("run %s: %s, %d drift(s), %d fixed, %d record(s) spooled", out.RunID, verdict, out.Drifts, out.Fixed, out.Records)
	return out, nil
}

func (a *Agent) uploadAndRecord(ctx context.Context, attempts int) (int, error) {
	n, err := a.UploadRetrying(ctx, attempts)
	a.noteRevoked(err)
	a.updateFacts(func(f *Facts) {
		switch {
		case err == nil:
			f.LastUpload, f.LastUploadError = a.now(), ""
		case ctx.Err() == nil: // not an upload cut short by the agent's own stop
			f.LastUploadError = oneLine(err.Error())
		}
	})
	return n, err
}

func (a *Agent) updateFacts(fn func(*Facts)) {
	a.factsMu.Lock()
	defer a.factsMu.Unlock()
	f, err := LoadFacts(a.State)
	if err != nil {
		f = Facts{}
	}
	fn(&f)
	if err := writeJSON(a.State, FactsFile, f); err != nil {
		a.logf("%v", err)
	}
}

// NudgeBackoff paces reconnections of the nudge stream.
var NudgeBackoff = Backoff{Base: time.Second, Max: 5 * time.Minute}

// Run is the daemon: a cycle at once, then one every policy interval (with jitter) and whenever
// the server nudges; uploads after each cycle, retried with back-off while the server is away.
// It returns nil when ctx is cancelled (SIGTERM), having left nothing half-written.
func (a *Agent) Run(ctx context.Context) error {
	nudges := make(chan wire.Nudge, 1)
	spooled := make(chan struct{}, 1) // alerts were spooled: upload
	var connected atomic.Bool
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		a.nudgeLoop(ctx, &connected, nudges)
		return nil
	})
	if a.Watch != nil {
		q := newAlertQueue()
		watched := make(chan struct{})
		g.Go(func() error {
			defer close(watched)
			a.watch(ctx, q)
			return nil
		})
		g.Go(func() error {
			a.forwarder(ctx, q, watched, spooled)
			return nil
		})
	}
	g.Go(func() error { return a.loop(ctx, &connected, nudges, spooled) })
	err := g.Wait()
	// Stopped: nothing is scheduled any more, and status must not say otherwise.
	a.updateFacts(func(f *Facts) { f.NextRun = time.Time{} })
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// nudgeLoop keeps one nudge stream open, reconnecting with back-off.
func (a *Agent) nudgeLoop(ctx context.Context, connected *atomic.Bool, out chan<- wire.Nudge) {
	attempt := 0
	lastErr := ""
	for ctx.Err() == nil {
		err := a.Client.Nudges(ctx, func() { connected.Store(true); attempt = 0 }, func(n wire.Nudge) {
			select {
			case out <- n:
			default: // one pending nudge is as good as several
			}
		})
		connected.Store(false)
		if ctx.Err() != nil {
			return
		}
		if msg := oneLine(err.Error()); msg != lastErr {
			a.logf("nudges: %s", msg)
			lastErr = msg
		}
		if a.Sleep(ctx, NudgeBackoff.Delay(attempt, a.Rand())) != nil {
			return
		}
		attempt++
	}
}

// watch runs tamper detection until ctx ends, queueing its alerts.
func (a *Agent) watch(ctx context.Context, q *alertQueue) {
	a.updateFacts(func(f *Facts) { f.Detect = "running" })
	err := a.Watch(ctx, q.push)
	why := "stopped with the agent"
	if err != nil {
		why = "not running: " + oneLine(err.Error())
		a.logf("tamper detection %s", why)
	}
	a.updateFacts(func(f *Facts) { f.Detect = why })
}

// forwarderRetry is how long the forwarder waits after failing to spool an alert (a full disk)
// before it tries again.
const forwarderRetry = 10 * time.Second

// forwarder spools queued alerts as they come, in order, and asks the loop to upload. After ctx
// ends it waits for the watch to end (it flushes the alerts it still holds) and spools those.
func (a *Agent) forwarder(ctx context.Context, q *alertQueue, watched <-chan struct{}, spooled chan<- struct{}) {
	for {
		stopping := false
		select {
		case <-q.wake:
		case <-watched:
			stopping = true
		}
		als := q.take()
		for i, al := range als {
			if err := a.ForwardAlert(al); err != nil {
				// Kept in memory and tried again: an alert is never given up here.
				a.logf("alert %s: %s; trying again in %v", al.Rule, oneLine(err.Error()), forwarderRetry)
				q.requeue(als[i:])
				if stopping || a.Sleep(ctx, forwarderRetry) != nil {
					return
				}
				break
			}
		}
		if len(als) > 0 {
			select {
			case spooled <- struct{}{}:
			default:
			}
		}
		if stopping {
			return
		}
	}
}

// DefaultBansPoll is how often the daemon looks at block.json for a change of the guard's bans.
const DefaultBansPoll = time.Minute

// checkBans spools a ban summary when one is due (see CheckBans), logging what fails.
func (a *Agent) checkBans(cfg wire.AgentConfig) bool {
	// Due once per interval at the least jitter, so that one unchanged summary goes with about
	// every cycle and never two.
	every := Interval(cfg.Policy, 0)
	sent, err := a.CheckBans(every)
	if err != nil {
		a.logf("ban summary: %s", oneLine(err.Error()))
	}
	return sent
}

func (a *Agent) loop(ctx context.Context, connected *atomic.Bool, nudges <-chan wire.Nudge, spooled <-chan struct{}) error {
	cfg, err := a.Config(ctx)
	if err != nil {
		a.logf("using the last policy known (%s): %v", cfg.Policy.Name, oneLine(err.Error()))
	}
	cycleT := time.NewTimer(0)
	defer cycleT.Stop()
	retryT := time.NewTimer(time.Hour)
	retryT.Stop()
	defer retryT.Stop()
	poll := a.BansPoll
	if poll <= 0 {
		poll = DefaultBansPoll
	}
	bansT := time.NewTicker(poll)
	defer bansT.Stop()
	retry := 0
	upload := func() {
		_, err := a.uploadAndRecord(ctx, 1)
		switch {
		case err == nil:
			retry = 0
			retryT.Stop()
		case ctx.Err() != nil:
		case errors.Is(err, ErrRevoked): // said once by noteRevoked; retrying cannot help
		default:
			d := UploadBackoff.Delay(retry, a.Rand())
			retry++
			a.logf("upload: %s; retrying in %v", oneLine(err.Error()), d.Round(time.Second))
			retryT.Reset(d)
		}
	}
	for {
		runNow := false
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-cycleT.C:
			runNow = true
			if !connected.Load() {
				// Without the nudge stream this is the only way to learn of a new policy: one
				// request per interval.
				if c, err := a.Config(ctx); err == nil {
					cfg = c
				}
			}
		case <-retryT.C:
			upload()
		case <-spooled:
			if retry == 0 { // else the retry timer is set and will upload
				upload()
			}
		case <-bansT.C:
			if a.checkBans(cfg) && retry == 0 {
				upload()
			}
		case n := <-nudges:
			runNow = true
			if n.Kind == wire.NudgeConfigChanged {
				c, err := a.Config(ctx)
				if err != nil {
					a.logf("config: %s", oneLine(err.Error()))
				}
				cfg = c
			}
		}
		if !runNow {
			continue
		}
		if _, err := a.cycleAndRecord(ctx, cfg); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			a.logf("run: %s", oneLine(err.Error()))
		}
		a.checkBans(cfg)
		upload()
		a.rotateIfDue(ctx)
		// A cycle holds a run's results and evidence several times over; hand that memory back
		// now rather than holding it for the idle hour.
		debug.FreeOSMemory()
		next := Interval(cfg.Policy, a.Rand())
		cycleT.Stop()
		cycleT.Reset(next)
		a.updateFacts(func(f *Facts) { f.NextRun = a.now().Add(next) })
	}
}
