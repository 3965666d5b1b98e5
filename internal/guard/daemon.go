package guard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/firewarden/firewarden/internal/authwatch"
	"github.com/firewarden/firewarden/internal/block"
	"github.com/firewarden/firewarden/internal/guard/follow"
)

// Timing defaults of the Daemon.
const (
	// DefaultPersistEvery spaces the saves of new bans to block.json: a save rewrites the
	// whole file (about 15 MB and a second or more at 100 000 bans), so the bans of a burst
	// are saved together. The kernel has them already.
	DefaultPersistEvery = time.Second
	// DefaultPollEvery is how often block.json is checked for changes by `firewarden block`.
	DefaultPollEvery = time.Second
	// DefaultSweepEvery spaces the saves that only take ended bans out of block.json; the
	// kernel drops them at once either way.
	DefaultSweepEvery = time.Minute
	// stopTimeout bounds the last save when the daemon stops.
	stopTimeout = 30 * time.Second
)

// Options configures a Daemon.
type Options struct {
	// Config is the configuration to start with.
	Config *Config
	// StateDir is where block.json lives.
	StateDir string
	// Backend holds the bans in the kernel; nil keeps the state only (--backend none). The
	// Daemon never closes it.
	Backend block.Backend
	// Source gives the log lines (a follow.Multi over the configured sources).
	Source follow.Source
	// Reload reads the configuration again on SIGHUP; nil: SIGHUP only logs that it cannot.
	Reload func() (*Config, error)
	// Signals: SIGHUP reloads the configuration, SIGINT and SIGTERM stop the daemon; nil: only
	// ctx stops it.
	Signals <-chan os.Signal
	// Log receives one line per event; JSON makes them JSON objects. nil: no log.
	Log  io.Writer
	JSON bool
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// Self are this host's own addresses: never counted or banned (loopback never is either).
	Self []netip.Addr
	// PersistEvery, PollEvery and SweepEvery override the defaults when positive.
	PersistEvery, PollEvery, SweepEvery time.Duration
}

// Daemon is `firewarden guard`: it reads log lines, bans with an Engine, applies each ban to the
// kernel at once and saves it to block.json in the background; it ends bans on time and follows
// the changes `firewarden block` makes to block.json while it runs. Each ban is in the
// write-ahead log before it reaches the kernel, so that a crash loses none (see WALFile).
//
// Between saves it keeps no block.State: only the Engine's compact index (prefix, end, ban
// count) and the bans not saved yet. Every save reads block.json afresh under its lock, adds the
// new bans, sweeps ended ones, writes it, and then syncs the backend to what the state wants,
// still under the lock, so that what the CLI changed meanwhile (an allowlist entry, a removed
// ban, disable) reaches the kernel too, and a ban the state refuses is lifted from it.
type Daemon struct {
	opts Options
	log  *logger
	now  func() time.Time

	// mu guards what the line path shares with the housekeeping goroutine, and serialises the
	// backend: the line path's Apply and a save's Sync never interleave, so a Sync can never
	// drop a ban applied after it computed what the kernel should hold.
	mu      sync.Mutex
	eng     *Engine
	parser  authwatch.Parser
	pending []pendingBan // applied to the kernel, not yet in block.json
	enabled bool         // block.json's enabled flag, as last read
	stats   Stats

	// The write-ahead log (see WALFile), under mu: the open WAL (nil: none, bans are not
	// crash-safe), its size, whether a failed append was reported; the read position of each
	// log file, as far as the line path got; whether positions or counts changed since the
	// last checkpoint.
	wal       *os.File
	walSize   int64
	walFailed bool
	walBuf    []byte
	pos       map[string]follow.Position
	cpDirty   bool
	// recovered are the bans of the WAL found at start, for the first save to adopt.
	recovered []pendingBan

	// Housekeeping only:
	lastCP     time.Time     // end of the last checkpoint
	resumedAt  time.Time     // the checkpoint a TimeResumer source started again from
	cpTook     time.Duration // how long it took
	lastWrite  os.FileInfo   // block.json as this daemon last wrote it; nil: unknown
	sweepDue   bool          // bans ended since the last save
	resync     bool          // the last sync or apply failed: reconcile at the next save (under mu)
	syncNext   bool          // a range ban ended: sync at the next save (under mu)
	lastSaved  time.Time     // end of the last save
	retryAt    time.Time     // when to try again after a failed save or sync; zero: no retry due
	dirty      chan struct{}
	rearm      chan struct{}
	persistErr error
}

// Stats counts what the daemon has seen since it started.
type Stats struct {
	Lines, Failures, Bans, Unbans, Capped int
	// Refused counts sshd failure lines whose address could be the client's own text (a user
	// name or certificate ID holding "from ADDR port N"): never banned on, only counted.
	Refused int
	// Unaddressed counts failures that named no address when read: their sshd process had
	// named none (or was forgotten). A later line of the process that names its address
	// counts them then (within authwatch.MaxPending); the others count against no one.
	Unaddressed int
	// Forgiven counts the logins that took back their process's failures (Engine.Forgive).
	Forgiven int
	// Recovered counts the bans of the write-ahead log adopted at start (the last run ended
	// before saving them); Stale the failures read again after a restart and left uncounted:
	// older than the window, or counted toward a ban already.
	Recovered, Stale int
	// Saves of block.json, and the syncs of the kernel to it that some of them made.
	Saves, Syncs int
}

// pendingBan is a ban applied to the kernel and waiting for the next save.
type pendingBan struct {
	ban    block.Ban
	at     time.Time // when it was decided, on the second
	count  int
	reason string
}

// New returns a Daemon; Run starts it.
func New(opts Options) *Daemon {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PersistEvery <= 0 {
		opts.PersistEvery = DefaultPersistEvery
	}
	if opts.PollEvery <= 0 {
		opts.PollEvery = DefaultPollEvery
	}
	if opts.SweepEvery <= 0 {
		opts.SweepEvery = DefaultSweepEvery
	}
	eng := NewEngine(opts.Config)
	eng.SetSelf(opts.Self)
	return &Daemon{
		opts:  opts,
		log:   &logger{w: opts.Log, json: opts.JSON},
		now:   opts.Now,
		eng:   eng,
		dirty: make(chan struct{}, 1),
		rearm: make(chan struct{}, 1),
		pos:   make(map[string]follow.Position),
	}
}

// Stats returns the counts so far.
func (d *Daemon) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// errStop ends Run after SIGINT or SIGTERM.
var errStop = errors.New("stopped by a signal")

// Run starts the daemon and blocks until ctx is cancelled, a stop signal arrives or every
// source has failed. On start it reads the write-ahead log (WALFile) and block.json, adopts the
// bans the last run made and did not save (see adoption), sweeps the state, and reconciles the
// kernel with it (a reboot empties nftables sets; someone may have changed them) and with the
// enabled flag; file sources resume where the last run's counts end. When it stops it saves the
// bans not saved yet and checkpoints. It returns nil when stopped by ctx or a
// signal, and an error when it could not start or its sources failed.
func (d *Daemon) Run(ctx context.Context) error {
	if d.opts.Source == nil {
		return errors.New("guard: no log source")
	}
	pos, since, err := d.recover()
	if err != nil {
		return err
	}
	if err := d.persist(ctx, true); err != nil {
		return err
	}
	d.mu.Lock()
	d.eng.forgetBanned(d.now())
	st := d.startLine()
	d.mu.Unlock()
	if r, ok := d.opts.Source.(follow.Resumer); ok && len(pos) > 0 {
		r.Resume(pos)
	}
	if r, ok := d.opts.Source.(follow.TimeResumer); ok && !since.IsZero() {
		// The journal has no position to save: it starts again at the checkpoint's second,
		// and line skips what the checkpoint's counts hold already.
		d.resumedAt = since
		r.ResumeSince(since)
	}
	d.log.log(Event{Time: d.now(), Event: "start", Message: st})

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		err := d.opts.Source.Run(gctx, func(l follow.Line) { d.line(gctx, l) })
		switch {
		case gctx.Err() != nil:
			return nil
		case err == nil:
			err = errors.New("every source ended")
		}
		return fmt.Errorf("log sources: %w", err)
	})
	g.Go(func() error { return d.housekeeping(gctx) })
	err = g.Wait()
	if errors.Is(err, errStop) {
		err = nil
	}
	// The last save: new bans must survive the restart.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	defer cancel()
	perr := d.persist(sctx, false)
	d.mu.Lock()
	s := d.stats
	if d.wal != nil {
		d.wal.Close()
		d.wal = nil
	}
	d.mu.Unlock()
	msg := fmt.Sprintf("stopped: %d lines, %d failures, %d refused, %d bans, %d ended, %d capped", s.Lines, s.Failures, s.Refused, s.Bans, s.Unbans, s.Capped)
	// Said only when they happened: correlation is new, and the line was short before it.
	if s.Forgiven > 0 {
		msg += fmt.Sprintf(", %d logins forgave their failures", s.Forgiven)
	}
	if s.Unaddressed > 0 {
		msg += fmt.Sprintf(", %d failures named no address", s.Unaddressed)
	}
	d.log.log(Event{Time: d.now(), Event: "stop", Message: msg})
	return errors.Join(err, perr)
}

func (d *Daemon) startLine() string {
	backend := "no backend (the state only)"
	if d.opts.Backend != nil {
		backend = "backend " + d.opts.Backend.Name()
	}
	return fmt.Sprintf("started: %s; following %s; %s; %d active bans, %d allowlist ranges, blocking %s",
		d.eng.Config().Summary(), d.opts.Source.Name(), backend, d.eng.Active(), d.eng.allowRanges(), onOff(d.enabled))
}

func onOff(on bool) string {
	if on {
		return "enabled"
	}
	return "disabled"
}

// line is the latency path: parse, decide, and on a ban apply it to the kernel before anything
// else. It runs on the source's goroutine.
func (d *Daemon) line(ctx context.Context, l follow.Line) {
	now := l.Read
	if now.IsZero() {
		now = d.now()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !l.Pos.IsZero() {
		d.pos[l.Source] = l.Pos
		d.cpDirty = true
		if len(l.Text) == 0 {
			// A mark: the source opened a file there. Recorded at once, so that a crash
			// before the next checkpoint resumes there, not at the file's end by then.
			d.walAppendPos(l.Source, l.Pos)
			return
		}
	}
	d.stats.Lines++
	d.parser.Now = now
	f, outcome := d.parser.Classify(l.Text)
	d.classified(ctx, l, now, f, outcome)
}

// classified is line after Classify: correlate, forgive or decide. Called with mu held.
func (d *Daemon) classified(ctx context.Context, l follow.Line, now time.Time, f authwatch.Failure, outcome authwatch.Outcome) {
	switch outcome {
	case authwatch.Refused:
		d.stats.Refused++
		return
	case authwatch.Ignored:
		return
	}
	// The lines of one sshd process belong together: a failure that names no address takes
	// the one its process named before, and a login forgives the process's failures.
	ev, forgave := d.eng.Correlate(f, outcome, now)
	f = ev.Failure
	if forgave > 0 {
		d.stats.Forgiven++
		d.cpDirty = true
	}
	// The failures of earlier lines that named no address, which this line's address
	// resolves, count as the line itself would.
	for _, r := range ev.Resolved {
		d.decide(ctx, l, now, r)
	}
	switch ev.Outcome {
	case authwatch.Unaddressed:
		d.stats.Unaddressed++
	case authwatch.Recognised:
		d.decide(ctx, l, now, f)
	}
}

// decide counts one failure whose address is known and acts on the Engine's decision. Called
// with mu held.
func (d *Daemon) decide(ctx context.Context, l follow.Line, now time.Time, f authwatch.Failure) {
	if l.Replay && !f.Time.IsZero() && (now.Sub(f.Time) > d.eng.Config().Window || d.eng.CountedInBan(f.Addr, f.Time) ||
		l.Pos.IsZero() && !f.Time.After(d.resumedAt)) {
		// Read again after a restart: written longer ago than the window, it no longer
		// counts; written before the address's latest ban began, it counted toward that ban
		// (which the WAL kept, even if it has ended since); from a source resumed by time
		// (the journal) and written by the checkpoint, the checkpoint's counts hold it.
		d.stats.Stale++
		return
	}
	d.stats.Failures++
	d.cpDirty = true // the counts changed
	dec := d.eng.Observe(f, now)
	switch dec.Verdict {
	case Banned:
		d.ban(ctx, f, dec, l.Source, now)
	case RateCapped, CountCapped:
		d.stats.Capped++
		if dec.Report {
			d.logCap(f.Addr, dec, now)
		}
	}
}

// ban applies a new ban to the kernel and queues it for the next save. Called with mu held.
func (d *Daemon) ban(ctx context.Context, f authwatch.Failure, dec Decision, source string, read time.Time) {
	d.stats.Bans++
	ev := Event{Time: read, Event: "ban", Prefix: dec.Ban.Prefix, Until: dec.Ban.Expires, Duration: formatDuration(dec.Duration),
		Count: dec.Count, Score: dec.Score, Kind: f.Kind.String(), Source: source, Read: read}
	reason := fmt.Sprintf("%s failures in %s, the last %s", formatFloat(dec.Score), formatDuration(d.eng.Config().Window), f.Kind)
	p := pendingBan{ban: dec.Ban, at: read.Truncate(time.Second), count: dec.Count, reason: reason}
	// Durable before the kernel has it: a crash from here on cannot lose it (see WALFile).
	d.walAppend(&p)
	if d.opts.Backend != nil {
		if _, err := d.opts.Backend.Apply(ctx, []block.Ban{dec.Ban}, nil, read); err != nil {
			ev.Message = fmt.Sprintf("the %s firewall did not take it (%v); it is saved and the next sync retries", d.opts.Backend.Name(), err)
			d.resync = true
		} else {
			ev.Applied = d.now()
		}
	}
	if !d.enabled {
		if ev.Message != "" {
			ev.Message += "; "
		}
		ev.Message += "blocking is disabled: it takes effect after `firewarden block enable`"
	}
	d.pending = append(d.pending, p)
	signal(d.dirty)
	signal(d.rearm)
	d.log.log(ev)
}

func (d *Daemon) logCap(a netip.Addr, dec Decision, now time.Time) {
	cfg := d.eng.Config()
	ev := Event{Time: now, Event: "capped", Prefix: banPrefix(a), Suppressed: dec.Suppressed}
	if dec.Verdict == RateCapped {
		ev.Cap = "rate"
		ev.Message = fmt.Sprintf("not banning %s: the ban rate cap (%d per %s) is reached; %d bans refused since the last report; raise ban.rate if this is a real attack",
			a, cfg.BanRate, formatDuration(cfg.BanRatePer), dec.Suppressed)
	} else {
		ev.Cap = "count"
		ev.Message = fmt.Sprintf("not banning %s: %d bans are active, the cap (ban.max_bans); %d bans refused since the last report",
			a, cfg.MaxBans, dec.Suppressed)
	}
	d.log.log(ev)
}

// signal wakes whoever waits on c, without blocking.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// housekeeping saves bans, ends them on time, follows block.json and handles signals.
func (d *Daemon) housekeeping(ctx context.Context) error {
	poll := time.NewTicker(d.opts.PollEvery)
	defer poll.Stop()
	expiry := time.NewTimer(time.Hour)
	defer expiry.Stop()
	d.armExpiry(expiry)
	save := time.NewTimer(time.Hour)
	save.Stop()
	defer save.Stop()
	saving := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.dirty:
			if !saving {
				saving = true
				save.Reset(max(d.lastSaved.Add(d.opts.PersistEvery).Sub(d.now()), 0))
			}
		case <-save.C:
			saving = false
			d.persistLogged(ctx, false)
			d.armExpiry(expiry)
		case <-d.rearm:
			d.armExpiry(expiry)
		case <-expiry.C:
			d.expire(ctx)
			d.armExpiry(expiry)
		case <-poll.C:
			switch {
			case d.changedByOthers():
				d.persistLogged(ctx, true)
				d.armExpiry(expiry)
			case d.sweepDue && d.now().Sub(d.lastSaved) >= d.opts.SweepEvery,
				!d.retryAt.IsZero() && !d.now().Before(d.retryAt):
				d.persistLogged(ctx, false)
			case d.checkpointDue():
				if err := d.checkpoint(); err != nil {
					d.logf("error", "%v", err)
				}
			}
		case sig := <-d.opts.Signals:
			switch sig {
			case syscall.SIGHUP:
				d.reload()
			case os.Interrupt, syscall.SIGTERM:
				return errStop
			}
		}
	}
}

// armExpiry sets t to fire when the earliest ban ends.
func (d *Daemon) armExpiry(t *time.Timer) {
	d.mu.Lock()
	next, ok := d.eng.NextExpiry()
	d.mu.Unlock()
	wait := time.Hour
	if ok {
		wait = max(next.Sub(d.now()), 0)
	}
	t.Reset(wait)
}

// expire takes the ended bans out of the kernel at once; block.json follows at the next save.
func (d *Daemon) expire(ctx context.Context) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	remove, readd := d.eng.Expire(now)
	if len(remove) == 0 {
		return
	}
	if d.opts.Backend != nil {
		if _, err := d.opts.Backend.Apply(ctx, readd, remove, now); err != nil {
			d.logf("error", "could not take %d ended bans out of the %s firewall: %v; the next save syncs it", len(remove), d.opts.Backend.Name(), err)
			d.resync = true
			signal(d.dirty)
		}
	}
	d.stats.Unbans += len(remove)
	for _, p := range remove {
		d.log.log(Event{Time: now, Event: "unban", Prefix: p})
		if p.Bits() < p.Addr().BitLen() {
			d.syncNext = true // a range: let a sync settle what it covered
			signal(d.dirty)
		}
	}
	d.sweepDue = true
}

// changedByOthers reports whether block.json is not the file this daemon last wrote: the CLI
// (or anyone) replaced it. Every write of the state is a rename, so the inode changes.
func (d *Daemon) changedByOthers() bool {
	fi, err := os.Stat((&block.Store{Dir: d.opts.StateDir}).Path())
	switch {
	case err != nil:
		return d.lastWrite != nil // gone: someone removed it
	case d.lastWrite == nil:
		return true
	}
	return !os.SameFile(fi, d.lastWrite) || fi.Size() != d.lastWrite.Size() || !fi.ModTime().Equal(d.lastWrite.ModTime())
}

func (d *Daemon) logf(event, format string, args ...any) {
	d.log.log(Event{Time: d.now(), Event: event, Message: fmt.Sprintf(format, args...)})
}

// retryEvery is how long the daemon waits before it tries a failed save or sync again.
const retryEvery = 10 * time.Second

func (d *Daemon) persistLogged(ctx context.Context, reconcile bool) {
	err := d.persist(ctx, reconcile)
	d.retryAt = time.Time{}
	if err != nil && ctx.Err() == nil {
		d.logf("error", "%v", err)
		d.retryAt = d.now().Add(retryEvery)
	}
}

// persist saves the pending bans to block.json and syncs the backend to it (see Daemon). When
// the state cannot be read or written the bans stay pending for the next try; the kernel keeps
// them meanwhile.
func (d *Daemon) persist(ctx context.Context, reconcile bool) error {
	d.mu.Lock()
	batch := d.pending
	d.pending = nil
	recovered := d.recovered
	cfg := d.eng.Config()
	reconcile = reconcile || d.resync
	d.mu.Unlock()

	store := &block.Store{Dir: d.opts.StateDir}
	now := d.now()
	type lift struct {
		p   netip.Prefix
		why string
	}
	var refused []lift
	var liftedByConfig []netip.Prefix
	var adopted []pendingBan
	var notAdopted []lift
	foreign := false
	saved := false
	first := d.lastWrite == nil
	_, _, err := store.Update(ctx, func(st *block.State) error {
		foreign = d.changedByOthers()
		pol := cfg.Policy()
		adopted, notAdopted = nil, nil
		if len(recovered) > 0 {
			rule := newAdoption(st, newAllowset(cfg.Allowlist))
			for _, p := range recovered {
				why := rule.refuse(p, now)
				if why != "" && why != whyEnded {
					notAdopted = append(notAdopted, lift{p.ban.Prefix, why})
					continue
				}
				// An ended ban is recorded too, and swept below: the offence counts (a repeat
				// offender's next ban doubles), and the failures that led to it, read again,
				// count for nothing (Engine.CountedInBan).
				if _, err := st.Ban(block.BanRequest{Prefix: p.ban.Prefix, TTL: p.ban.Expires.Sub(p.at), Forever: p.ban.Expires.IsZero(), Reason: p.reason, Source: block.SourceGuard}, pol, p.at); err != nil {
					notAdopted = append(notAdopted, lift{p.ban.Prefix, "block.json refused it: " + err.Error()})
					continue
				}
				if why == whyEnded {
					notAdopted = append(notAdopted, lift{p.ban.Prefix, why + "; recorded as an offence"})
					continue
				}
				adopted = append(adopted, p)
			}
		}
		for _, p := range batch {
			_, err := st.Ban(block.BanRequest{Prefix: p.ban.Prefix, TTL: p.ban.Expires.Sub(p.at), Reason: p.reason, Source: block.SourceGuard}, pol, p.at)
			if err != nil {
				refused = append(refused, lift{p.ban.Prefix, "block.json refused it: " + err.Error()})
			}
		}
		// The guard's own bans of what its config now allowlists are lifted (SIGHUP).
		if allow := newAllowset(cfg.Allowlist); allow.len() > 0 {
			for _, b := range st.Bans {
				if b.Source == block.SourceGuard && allow.coversPrefix(b.Prefix) {
					liftedByConfig = append(liftedByConfig, b.Prefix)
				}
			}
			for _, p := range liftedByConfig {
				st.Unban(p, block.SourceGuard, now)
			}
		}
		st.Sweep(now)
		return nil
	}, func(_, after *block.State) error {
		saved = true
		d.lastWrite, _ = os.Stat(store.Path())
		// Most saves only add the guard's own bans, which the kernel has already: the state
		// is what this daemon wrote last time plus them. Then there is nothing to sync, and
		// the line path waits only for Install. A change by someone else, a ban the state
		// refused or lifted, a failed sync or the start make the kernel follow the state.
		need := reconcile || foreign || first || len(refused) > 0 || len(liftedByConfig) > 0
		var want []block.Ban
		if need {
			want = after.Want(now)
		}
		prepared := Prepare(after)
		d.mu.Lock()
		defer d.mu.Unlock()
		d.eng.Install(prepared)
		// Bans decided since the batch was taken are not in the state yet: the kernel keeps
		// them, unless the state now allowlists them.
		var extra []block.Ban
		kept := d.pending[:0]
		for _, p := range d.pending {
			if d.eng.Allowlisted(p.ban.Prefix) {
				refused = append(refused, lift{p.ban.Prefix, "allowlisted meanwhile"})
				need = true
				continue
			}
			kept = append(kept, p)
			extra = append(extra, p.ban)
			d.eng.Record(p.ban, p.count, p.at)
		}
		d.pending = kept
		d.enabled = after.Enabled
		d.stats.Saves++
		if d.resync {
			need, reconcile = true, true
		}
		if d.syncNext {
			need, d.syncNext = true, false
		}
		if !need {
			return nil
		}
		if want == nil {
			want = after.Want(now)
		}
		if len(extra) > 0 {
			want = block.Disjoint(append(want, extra...))
		}
		d.stats.Syncs++
		return d.syncLocked(ctx, want, after.Enabled, now, reconcile || foreign)
	})
	d.lastSaved = d.now()
	if !saved {
		d.mu.Lock()
		d.pending = append(batch, d.pending...)
		d.mu.Unlock()
		if len(batch) == 0 {
			return err // block's errors name the file and what to do
		}
		return fmt.Errorf("could not save %d bans to %s: %w; the kernel has them, the next save retries", len(batch), store.Path(), err)
	}
	d.sweepDue = false
	if len(recovered) > 0 {
		d.mu.Lock()
		d.recovered = nil
		d.stats.Recovered += len(adopted)
		d.mu.Unlock()
	}
	// One line per ban, as for bans, up to a bound: a crash under a flood can leave thousands.
	for i, p := range adopted {
		if i == maxRecoverLines {
			d.logf("recover", "and %d more bans kept from the write-ahead log", len(adopted)-i)
			break
		}
		d.log.log(Event{Time: now, Event: "recover", Prefix: p.ban.Prefix, Until: p.ban.Expires,
			Message: "the last run put it in the kernel and stopped before saving it; kept from the write-ahead log"})
	}
	for i, r := range notAdopted {
		if i == maxRecoverLines {
			d.logf("recover", "and %d more bans of the write-ahead log not kept", len(notAdopted)-i)
			break
		}
		d.log.log(Event{Time: now, Event: "recover", Prefix: r.p, Message: "not kept from the write-ahead log: " + r.why})
	}
	// The saved bans leave the WAL; the positions and counts of this instant go in.
	if cerr := d.checkpoint(); cerr != nil {
		d.logf("error", "%v; bans are not crash-safe until it is fixed", cerr)
	}
	for _, r := range refused {
		d.log.log(Event{Time: now, Event: "lift", Prefix: r.p, Message: r.why})
	}
	for _, p := range liftedByConfig {
		d.log.log(Event{Time: now, Event: "lift", Prefix: p, Message: "on the guard's allowlist"})
	}
	if foreign && !first {
		d.mu.Lock()
		msg := fmt.Sprintf("block.json changed by another process: %d active bans, %d allowlist ranges, blocking %s", d.eng.Active(), d.eng.allowRanges(), onOff(d.enabled))
		d.mu.Unlock()
		d.log.log(Event{Time: now, Event: "state", Message: msg})
	}
	return err
}

// syncLocked makes the kernel hold want with the drop rules on or off. Called with mu held.
func (d *Daemon) syncLocked(ctx context.Context, want []block.Ban, enabled bool, now time.Time, reconcile bool) error {
	b := d.opts.Backend
	if b == nil {
		d.resync = false
		return nil
	}
	sync := b.Sync
	if reconcile {
		sync = b.Reconcile
	}
	_, err := sync(ctx, want, now)
	if err == nil {
		var st block.Status
		if st, err = b.Status(ctx); err == nil && st.Enabled != enabled {
			err = b.SetEnabled(ctx, enabled)
		}
	}
	d.resync = err != nil
	if err != nil {
		return fmt.Errorf("the state is saved, but the %s firewall was not synced: %w; the next save retries", b.Name(), err)
	}
	return nil
}

// reload reads the configuration again (SIGHUP). A new configuration that does not parse leaves
// the running one in place.
func (d *Daemon) reload() {
	if d.opts.Reload == nil {
		d.logf("reload", "SIGHUP: this guard was started without a configuration file to reload")
		return
	}
	cfg, err := d.opts.Reload()
	if err != nil {
		d.logf("reload", "reload failed, the running configuration stays: %v", err)
		return
	}
	d.mu.Lock()
	old := d.eng.Config()
	d.eng.Reconfigure(cfg, d.now())
	d.mu.Unlock()
	msg := "reloaded the configuration: " + cfg.Summary()
	if !slices.EqualFunc(old.Sources, cfg.Sources, SourceConfig.equal) || old.Backend != cfg.Backend {
		msg += "; changed sources or backend take effect when the guard restarts"
	}
	d.logf("reload", "%s", msg)
	signal(d.dirty) // the config's allowlist may lift bans
}

func (s SourceConfig) equal(o SourceConfig) bool {
	return s.Type == o.Type && s.Path == o.Path && slices.Equal(s.Units, o.Units)
}

// recover reads the write-ahead log at start: its bans wait for the first save to adopt them,
// its counts go back into the tracker (when the window is as it was), and its positions are
// returned, for the sources to resume at.
func (d *Daemon) recover() (map[string]follow.Position, time.Time, error) {
	removeWALTemps(d.opts.StateDir)
	wd, err := readWAL(d.opts.StateDir)
	if err != nil {
		return nil, time.Time{}, err
	}
	if wd.skipped > 0 {
		d.logf("recover", "%d lines of %s did not parse and were skipped (a crash can tear the last one)", wd.skipped, filepath.Join(d.opts.StateDir, WALFile))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.recovered = wd.bans
	for src, p := range wd.pos {
		d.pos[src] = p
	}
	if t := d.eng.track; wd.slot == t.slotLen && wd.max == t.max {
		t.restore(wd.track, d.now())
	}
	return wd.pos, wd.time, nil
}

// walAppend appends the ban p to the WAL. Called with mu held. A ban the WAL cannot take
// still goes to the kernel (protection first); it is then only as safe as before the WAL:
// saved at the next save.
func (d *Daemon) walAppend(p *pendingBan) {
	if d.wal == nil {
		return
	}
	d.walBuf = appendBan(d.walBuf[:0], p)
	var err error
	if d.walSize+int64(len(d.walBuf)) > maxWAL {
		err = fmt.Errorf("it holds %d bytes, the cap", d.walSize)
	} else {
		var n int
		n, err = d.wal.Write(d.walBuf)
		d.walSize += int64(n)
	}
	if err != nil && !d.walFailed {
		d.walFailed = true
		d.logf("error", "could not append a ban to %s (%v): bans not saved yet are lost if the guard crashes before the next save", d.wal.Name(), err)
	}
}

// walAppendPos appends a read position to the WAL (the latest of a source wins). Called with
// mu held, only for a position with no line counted before it in that file.
func (d *Daemon) walAppendPos(src string, p follow.Position) {
	if d.wal == nil {
		return
	}
	d.walBuf = appendPos(d.walBuf[:0], src, p)
	if d.walSize+int64(len(d.walBuf)) > maxWAL {
		return
	}
	n, err := d.wal.Write(d.walBuf)
	d.walSize += int64(n)
	if err != nil && !d.walFailed {
		d.walFailed = true
		d.logf("error", "could not append to %s (%v): a crash before the next checkpoint may skip lines", d.wal.Name(), err)
	}
}

// checkpointDue reports whether lines were read since the last checkpoint, which was
// PersistEvery ago or longer.
func (d *Daemon) checkpointDue() bool {
	d.mu.Lock()
	dirty := d.cpDirty
	d.mu.Unlock()
	// At most a tenth of the time goes to checkpoints: one takes about 0.1 s with the tracker
	// full (BenchmarkCheckpoint64k).
	return dirty && d.now().Sub(d.lastCP) >= max(d.opts.PersistEvery, 10*d.cpTook)
}

// checkpoint rewrites the WAL: the read positions and the tracker as they are now, and the
// bans not saved yet. The line path is held only to copy them and, at the end, to add the bans
// decided while the file was written and to switch to it.
func (d *Daemon) checkpoint() error {
	d.mu.Lock()
	now := d.now()
	t := d.eng.track
	track := make([]entry, 0, t.len())
	t.each(func(e *entry) { track = append(track, *e) })
	pos := maps.Clone(d.pos)
	bans := slices.Clone(d.pending)
	d.cpDirty = false
	d.mu.Unlock()
	defer func() { d.lastCP = d.now(); d.cpTook = d.lastCP.Sub(now) }()

	buf := make([]byte, 0, 256+100*len(pos)+200*len(track)+160*len(bans))
	buf = append(buf, `{"k":"cp","time":"`...)
	buf = now.UTC().AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, `","slot":`...)
	buf = strconv.AppendInt(buf, t.slotLen, 10)
	buf = append(buf, `,"max":`...)
	buf = strconv.AppendInt(buf, int64(t.max), 10)
	buf = append(buf, "}\n"...)
	for _, src := range slices.Sorted(maps.Keys(pos)) {
		buf = appendPos(buf, src, pos[src])
	}
	for i := range bans {
		buf = appendBan(buf, &bans[i])
	}
	// Least recently seen first, as restore takes them; past maxTrackLines (a tracking cap
	// raised far beyond the default), the most recently seen are kept.
	for i := max(len(track)-maxTrackLines, 0); i < len(track); i++ {
		buf = appendTrack(buf, &track[i])
	}
	f, err := createWAL(d.opts.StateDir)
	if err != nil {
		return err
	}
	if _, err := f.Write(buf); err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("write the guard's write-ahead log: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	size := int64(len(buf))
	if len(d.pending) > len(bans) {
		// Decided while the file was written: in the old WAL only, so far.
		var more []byte
		for i := len(bans); i < len(d.pending); i++ {
			more = appendBan(more, &d.pending[i])
		}
		if _, err := f.Write(more); err != nil {
			f.Close()
			os.Remove(f.Name())
			return fmt.Errorf("write the guard's write-ahead log: %w", err)
		}
		size += int64(len(more))
	}
	if err := commitWAL(d.opts.StateDir, f); err != nil {
		f.Close()
		return err
	}
	if d.wal != nil {
		d.wal.Close()
	}
	d.wal, d.walSize, d.walFailed = f, size, false
	return nil
}

// maxTrackLines bounds the tracker entries a checkpoint writes: at most about 250 bytes
// each, half of maxWAL (the default cap, DefaultMaxTracked, is about half of this).
const maxTrackLines = maxWAL / 2 / 250

// adoption decides which bans of the WAL a start adopts into the state.
//
// The rule: a WAL ban is one the last run put in the kernel; it is adopted, with the expiry it
// had, unless
//   - the guard's configuration or the state allowlists any of its addresses (the allowlist is
//     never blocked);
//   - the state has seen it already: the prefix's ban or offender record says it was banned at
//     or after the WAL's ban was decided. Then the ban was saved before the crash, and whatever
//     the state says now is what someone wanted since: `block remove` took it out, or it
//     expired. block.json keeps offender records for OffenderMemory, far longer than the WAL
//     keeps a ban (until the next save), and `block remove` keeps them;
//   - the state's activity records an unban or an allowlisting of a prefix holding it at or
//     after it was decided (the same as the previous case, for a state edited by hand);
//   - it has ended (whyEnded): then it is recorded in the state and swept at once, so that
//     it counts as an offence and its failures, read again, count for nothing.
//
// A ban the last run never saved is not known to block.json, so `block remove` run while the
// guard was down says it was not banned and changes nothing; the ban is adopted, and shows in
// `block list` from then on.
type adoption struct {
	st    *block.State
	allow allowset
	last  map[netip.Prefix]time.Time // the latest ban the state remembers, per prefix
}

func newAdoption(st *block.State, cfgAllow allowset) *adoption {
	a := &adoption{st: st, allow: cfgAllow, last: make(map[netip.Prefix]time.Time, len(st.Bans)+len(st.Offenders))}
	note := func(p netip.Prefix, t time.Time) {
		if old, ok := a.last[p]; !ok || t.After(old) {
			a.last[p] = t
		}
	}
	for _, o := range st.Offenders {
		note(o.Prefix, o.Last)
	}
	for _, b := range st.Bans {
		note(b.Prefix, b.Last)
	}
	return a
}

// refuse says why p is not to be adopted at now, or "" when it is.
func (a *adoption) refuse(p pendingBan, now time.Time) string {
	pf := p.ban.Prefix
	if a.allow.overlaps(pf) {
		return "the guard's configuration allowlists it"
	}
	for _, e := range a.st.Allowlist {
		if e.Prefix.Overlaps(pf) {
			return "it is allowlisted (" + block.FormatPrefix(e.Prefix) + ")"
		}
	}
	if t, ok := a.last[pf]; ok && !t.Before(p.at) {
		return "block.json has it already, or had it and it was removed since"
	}
	for _, ev := range a.st.Activity {
		if (ev.Action == "unban" || ev.Action == "allow") && ev.Prefix.IsValid() && ev.Prefix.Bits() <= pf.Bits() &&
			ev.Prefix.Contains(pf.Addr()) && !ev.Time.Before(p.at) {
			return "removed by " + ev.Source + " since"
		}
	}
	if !p.ban.Expires.IsZero() && !p.ban.Expires.After(now) {
		return whyEnded
	}
	return ""
}

// maxRecoverLines bounds the log lines a start writes about the bans of the WAL, of each kind.
const maxRecoverLines = 100

// whyEnded is adoption.refuse's answer for a ban that ended while the guard was down.
const whyEnded = "it ended while the guard was down"
