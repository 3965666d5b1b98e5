// Package agent is the host side of the fleet: it runs the policy's baseline on a schedule (and
// when the server nudges it), reports drift, fixes what fails in enforce mode, and delivers every
// record through an on-disk spool, so that neither a network outage nor a kill -9 loses or
// duplicates anything.
//
// A cycle is: evaluate (and in enforce mode fix), decide the records (drifts, then the run),
// write that decision to agent.cycle.json, then apply it: append the run to the evidence chain,
// spool the records, remember the statuses, remove agent.cycle.json. Every step of the apply is
// idempotent, and a process that finds agent.cycle.json on start repeats it, so a kill at any
// point ends with each record spooled exactly once and the chain holding the run once. A tamper
// alert or a summary of the guard's bans that the daemon forwards goes the same way, as a cycle
// of one record whose chain entry is a Note.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/firewarden/firewarden/internal/evidence"
	"github.com/firewarden/firewarden/internal/fleet/wire"
	"github.com/firewarden/firewarden/internal/posture"
	"github.com/firewarden/firewarden/internal/posture/baseline"
	"github.com/firewarden/firewarden/internal/statedir"
	"github.com/firewarden/firewarden/internal/version"
)

// Agent is one host's agent. Build it with its fields, then call Open.
type Agent struct {
	State  *statedir.Dir
	Spool  *Spool
	Client *Client
	// Engine returns a fresh posture engine: providers keep what one run collected.
	Engine func() *posture.Engine
	// Backups saves what enforce mode is about to change (as `fix` does).
	Backups posture.BackupSaver
	// Host, OS and OSVersion identify the host in evidence records.
	Host, OS, OSVersion string

	Now  func() time.Time
	Rand func() float64 // in [0, 1), for jitter
	// Sleep waits d or until ctx is done.
	Sleep func(ctx context.Context, d time.Duration) error
	Log   io.Writer
	// Fault, when set, is called at each step of applying a cycle with the step's name; an error
	// stops there, as a kill would. Tests use it to prove every step is safe to die at.
	Fault func(step string) error
	// RotateAfter is the age at which the daemon rotates the host credential: 0 means
	// DefaultRotateAfter, a negative value never (rotate.go).
	RotateAfter time.Duration
	// Watch, when set, runs tamper detection live (detect --live's engine, macOS) until ctx ends,
	// handing each alert to emit; Run forwards them. An error ends the watch, not the agent.
	Watch func(ctx context.Context, emit func(wire.Alert)) error
	// BansPoll is how often the daemon looks at block.json for a change of the guard's bans
	// (one stat when nothing changed); DefaultBansPoll when zero.
	BansPoll time.Duration

	// mu is held from taking sequence numbers to spooling their records (and over Recover):
	// cycles, forwarded alerts and ban summaries come from different goroutines.
	mu sync.Mutex
	// factsMu serialises the read-modify-write of FactsFile.
	factsMu sync.Mutex
}

func (a *Agent) now() time.Time { return a.Now().UTC() }

func (a *Agent) logf(format string, args ...any) {
	if a.Log != nil {
		fmt.Fprintf(a.Log, "firewarden agent: "+format+"\n", args...)
	}
}

func (a *Agent) fault(step string) error {
	if a.Fault == nil {
		return nil
	}
	return a.Fault(step)
}

// SleepCtx is the default Sleep.
func SleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Defaults fills the clock, randomness and sleep left unset.
func (a *Agent) Defaults() {
	if a.Now == nil {
		a.Now = time.Now
	}
	if a.Rand == nil {
		a.Rand = rand.Float64
	}
	if a.Sleep == nil {
		a.Sleep = SleepCtx
	}
}

// Recover finishes a cycle a killed process left in agent.cycle.json.
func (a *Agent) Recover() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.recoverLocked()
}

func (a *Agent) recoverLocked() error {
	var c cycle
	ok, err := readJSON(a.State, CycleFile, &c)
	if err != nil || !ok {
		return err
	}
	a.logf("finishing %s %s, interrupted before its records were spooled", c.what(), c.RunID)
	return a.apply(c, true)
}

// Outcome is what a cycle did.
type Outcome struct {
	RunID     string
	Compliant bool
	Drifts    int // changes of status observed since the cycle before
	Fixed     int // checks whose status the fix changed (enforce mode)
	Records   int
}

// Cycle runs the policy once and spools its records.
func (a *Agent) Cycle(ctx context.Context, cfg wire.AgentConfig) (Outcome, error) {
	// A cycle whose apply failed (a full disk) is finished before a new one takes seqs.
	if err := a.Recover(); err != nil {
		return Outcome{}, err
	}
	b, err := PolicyBaseline(cfg.Policy)
	if err != nil {
		return Outcome{}, err
	}
	started := a.now()
	req := posture.Request{Baseline: b, Now: started}
	runID := evidence.NewRunID(started)
	var before, final []posture.Result
	var fixes map[string]*wire.FixResult
	if cfg.Policy.Mode == wire.ModeEnforce {
		before, final, fixes, err = a.enforce(ctx, req)
		if err != nil {
			return Outcome{}, err
		}
	} else {
		before = a.Engine().Check(ctx, req).Results
		final = before
	}
	// A check cut short by SIGTERM reads as an error; such a run is not reported at all.
	if err := ctx.Err(); err != nil {
		return Outcome{}, err
	}
	finished := a.now()

	// From here to the spool the sequence numbers taken must not be taken by anything else.
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.recoverLocked(); err != nil {
		return Outcome{}, err
	}
	var prev last
	if _, err := readJSON(a.State, LastFile, &prev); err != nil {
		return Outcome{}, err
	}
	wireBefore, wireFinal := wireResults(before), wireResults(final)
	drifts := Drifts(prev.Statuses, wireBefore, fixes, runID)

	next := a.Spool.Next()
	var recs []wire.Record
	observed, fixed := 0, 0
	for i := range drifts {
		if drifts[i].Cause == wire.CauseFix {
			fixed++
		} else {
			observed++
		}
		recs = append(recs, wire.Record{Seq: next, Kind: wire.KindDrift, Time: finished, Drift: &drifts[i]})
		next++
	}
	run := &wire.Run{
		RunID: runID, Policy: cfg.Policy.Name, Mode: modeOf(cfg.Policy), BaselineName: b.Name, BaselineSHA256: b.Hash,
		Started: started, Finished: finished, Results: wireFinal,
	}
	recs = append(recs, wire.Record{Seq: next, Kind: wire.KindRun, Time: finished, Run: run})

	statuses := map[string]string{}
	compliant := len(final) > 0
	for _, r := range wireFinal {
		statuses[r.Check] = r.Status
		compliant = compliant && wire.Compliant(r.Status)
	}
	sum := map[string]int{}
	for _, r := range final {
		sum[string(r.Status)]++
	}
	c := cycle{
		RunID: runID, Records: recs, Statuses: statuses,
		Evidence: &evidence.Record{
			RunID: runID, Host: a.Host, OS: a.OS, OSVersion: a.OSVersion, Tool: "firewarden", ToolVersion: version.String(),
			Baseline: evidence.BaselineRef{Name: b.Name, Source: b.Source, SHA256: b.Hash},
			Started:  started, Finished: finished, Summary: sum, Results: final,
		},
	}
	if err := writeJSON(a.State, CycleFile, c); err != nil {
		return Outcome{}, err
	}
	if err := a.apply(c, false); err != nil {
		return Outcome{}, err
	}
	return Outcome{RunID: runID, Compliant: compliant, Drifts: observed, Fixed: fixed, Records: len(recs)}, nil
}

func modeOf(p wire.Policy) string {
	if p.Mode == "" {
		return wire.ModeReport
	}
	return p.Mode
}

// apply carries out a decided cycle; every step can be repeated. recovering says a killed
// process may have done part of it: only then can the chain already hold the entry.
func (a *Agent) apply(c cycle, recovering bool) error {
	if err := a.fault("chain"); err != nil {
		return err
	}
	ref, err := a.chain(c, recovering)
	if err != nil {
		// A chain that was tampered with is refused by evidence.Open; going silent would hide
		// exactly that. The record is reported without a chain ref, which the server flags.
		a.logf("evidence chain: %s; %s %s is reported without its chain entry", oneLine(err.Error()), c.what(), c.RunID)
		ref = nil
	}
	c.Records[len(c.Records)-1].Chain = ref
	if err := a.fault("spool"); err != nil {
		return err
	}
	if err := a.Spool.Commit(c.Records); err != nil {
		return err
	}
	if err := a.fault("last"); err != nil {
		return err
	}
	if c.Note == nil {
		if err := writeJSON(a.State, LastFile, last{RunID: c.RunID, Statuses: c.Statuses}); err != nil {
			return err
		}
	}
	if c.Bans != nil {
		if err := writeJSON(a.State, BansFile, *c.Bans); err != nil {
			return err
		}
	}
	if err := a.fault("done"); err != nil {
		return err
	}
	return a.State.Remove(CycleFile)
}

// recentEntries is how far back in the chain a finished cycle looks for its own run.
const recentEntries = 32

// chain appends the cycle's evidence record (or note) unless, when recovering, the chain already
// holds it among its latest entries.
func (a *Agent) chain(c cycle, recovering bool) (*wire.ChainRef, error) {
	ch, err := evidence.Open(a.State.Path())
	if err != nil {
		return nil, err
	}
	defer ch.Close()
	if recovering {
		// Another command (`firewarden evidence`) may have appended after the killed run did.
		recent, err := ch.Recent(recentEntries)
		if err != nil {
			return nil, err
		}
		for i := len(recent) - 1; i >= 0; i-- {
			var head struct {
				RunID string `json:"run_id"`
				ID    string `json:"id"` // a Note
			}
			if json.Unmarshal(recent[i].Record, &head) == nil && (head.RunID == c.RunID || head.ID == c.RunID) {
				return chainRef(recent[i]), nil
			}
		}
	}
	var e evidence.Entry
	if c.Note != nil {
		e, err = ch.NextOf(c.Note)
	} else {
		e, err = ch.Next(*c.Evidence)
	}
	if err != nil {
		return nil, err
	}
	if err := ch.Append(e); err != nil {
		return nil, err
	}
	return chainRef(e), nil
}

func chainRef(e evidence.Entry) *wire.ChainRef {
	prev := e.Prev
	if e.Seq == 1 {
		prev = "" // wire: "" before the first entry
	}
	return &wire.ChainRef{Seq: uint64(e.Seq), Prev: prev, Hash: e.Hash}
}

// weakensDetail is what a drift says about a check enforce mode left alone.
const weakensDetail = "not changed: the fix would loosen the firewall or open a service, which enforce mode never does"

// enforce checks, then fixes what fails and may be fixed without weakening anything, as `fix`
// does (a backup first, every write read back); settings a profile manages are never touched.
// It returns the results before the fix, the results after it, and what the fix did per check.
func (a *Agent) enforce(ctx context.Context, req posture.Request) (before, final []posture.Result, fixes map[string]*wire.FixResult, err error) {
	plan, err := a.Engine().Fix(ctx, req, true, nil)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("plan the fix: %w", err)
	}
	before = plan.Before.Results
	byID := map[string]posture.Result{}
	for _, r := range before {
		byID[r.ID] = r
	}
	fixes = map[string]*wire.FixResult{}
	for _, r := range plan.Refused {
		hint := r.FixHint
		if hint == "" {
			hint = r.Detail
		}
		fixes[r.ID] = &wire.FixResult{Status: string(r.Status), Actual: r.Actual, Detail: "not changed: " + hint}
	}
	weakens := map[string]bool{}
	for _, c := range plan.Planned {
		weakens[c.Check] = weakens[c.Check] || c.Weakens
	}
	only := map[string]bool{}
	for id, w := range weakens {
		if w {
			r := byID[id]
			fixes[id] = &wire.FixResult{Status: string(r.Status), Actual: r.Actual, Detail: weakensDetail}
			continue
		}
		only[id] = true
	}
	if len(only) == 0 || ctx.Err() != nil {
		return before, before, fixes, nil
	}
	lock, err := posture.TryLock(a.State.Path())
	if err != nil {
		a.logf("enforce: %v; checking only this cycle", err)
		for id := range only {
			r := byID[id]
			fixes[id] = &wire.FixResult{Status: string(r.Status), Actual: r.Actual, Detail: "not changed: " + oneLine(err.Error())}
		}
		return before, before, fixes, nil
	}
	defer lock.Unlock()
	fr, err := a.Engine().Fix(ctx, posture.Request{Baseline: req.Baseline, Only: only, Now: req.Now}, false, a.Backups)
	if err != nil {
		for id := range only {
			r := byID[id]
			fixes[id] = &wire.FixResult{Status: string(r.Status), Actual: r.Actual, Detail: "not changed: " + oneLine(err.Error())}
		}
		return before, before, fixes, nil
	}
	applied := map[string]bool{}
	for _, c := range fr.Applied {
		applied[c.Check] = true
	}
	after := map[string]posture.Result{}
	rep := fr.Before
	if fr.After != nil {
		rep = *fr.After
	}
	for _, r := range rep.Results {
		after[r.ID] = r
	}
	for id := range only {
		r, ok := after[id]
		if !ok {
			r = byID[id]
		}
		fx := &wire.FixResult{Changed: applied[id], Verified: applied[id] && r.Status.Compliant(), Status: string(r.Status), Actual: r.Actual}
		switch {
		case fr.Failed != nil && fr.Failed.Change.Check == id:
			fx.Changed, fx.Verified = false, false
			fx.Detail = "the fix failed: " + oneLine(fr.Failed.Error)
		case !applied[id]:
			fx.Detail = "not changed: an earlier change of the same fix failed"
		}
		fixes[id] = fx
	}
	// One change may settle more checks than the one it is filed under (nftposture writes one
	// table for all four linux.firewall checks). The failing checks that had no change of their
	// own are read again after a fix that wrote something, so that the run says what they are
	// now and a fix drift says what changed them.
	covered := map[string]bool{}
	for _, r := range before {
		if _, own := weakens[r.ID]; r.Status == posture.Fail && r.Fixable && !own {
			covered[r.ID] = true
		}
	}
	if len(fr.Applied) > 0 && len(covered) > 0 && ctx.Err() == nil {
		for _, r := range a.Engine().Check(ctx, posture.Request{Baseline: req.Baseline, Only: covered, Now: req.Now}).Results {
			if !covered[r.ID] || r.Status == byID[r.ID].Status {
				continue
			}
			after[r.ID] = r
			only[r.ID] = true
			fixes[r.ID] = &wire.FixResult{Changed: true, Verified: r.Status.Compliant(), Status: string(r.Status), Actual: r.Actual}
		}
	}
	final = make([]posture.Result, len(before))
	for i, r := range before {
		final[i] = r
		if x, ok := after[r.ID]; ok && only[r.ID] {
			final[i] = x
		}
	}
	return before, final, fixes, nil
}

// PolicyBaseline is the policy's baseline: its YAML, or the built-in one.
func PolicyBaseline(p wire.Policy) (*baseline.Baseline, error) {
	if p.BaselineYAML == "" {
		return baseline.Default(), nil
	}
	b, err := baseline.Parse([]byte(p.BaselineYAML))
	if err != nil {
		return nil, fmt.Errorf("policy %q: its baseline does not parse: %v; fix it on the server", p.Name, err)
	}
	b.Source = "policy " + p.Name
	return b, nil
}

// wireResults converts posture results for the wire.
func wireResults(rs []posture.Result) []wire.Result {
	out := make([]wire.Result, 0, len(rs))
	for _, r := range rs {
		w := wire.Result{
			Check: r.ID, Status: string(r.Status), Expected: r.Expected, Actual: r.Actual, Source: r.Source,
			Managed: r.Managed, Controls: r.Controls, Detail: r.Detail,
		}
		if w.Controls == nil {
			w.Controls = []string{}
		}
		for _, e := range r.Evidence {
			out := e.Content
			if e.Kind == "exec" {
				out = e.Stdout + e.Stderr
			}
			w.Evidence = append(w.Evidence, wire.Evidence{Kind: e.Kind, Argv: e.Argv, Path: e.Path, ExitCode: e.ExitCode, Output: out, SHA256: e.SHA256})
		}
		out = append(out, w)
	}
	return out
}

// Backoff is an exponential back-off with jitter: attempt n waits between half and all of
// min(Max, Base·2ⁿ), so that agents cut off together do not come back together.
type Backoff struct {
	Base, Max time.Duration
}

// Delay is the wait before retry number attempt (from 0), r in [0, 1).
func (b Backoff) Delay(attempt int, r float64) time.Duration {
	d := b.Base
	for i := 0; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	return d/2 + time.Duration(r*float64(d/2))
}

// UploadBackoff paces upload retries.
var UploadBackoff = Backoff{Base: 2 * time.Second, Max: 10 * time.Minute}

// batchBudget keeps a batch's body under wire.MaxBodyBytes with room for the JSON around the
// records.
const batchBudget = wire.MaxBodyBytes - 64<<10

// Upload sends the spool in batches, oldest first, deleting what each acknowledgement covers,
// until the spool is empty or a request fails.
func (a *Agent) Upload(ctx context.Context) (sent int, err error) {
	// Nothing else may take a seq while a decided cycle waits to be spooled.
	if err := a.Recover(); err != nil {
		return 0, err
	}
	for {
		recs, err := a.Spool.Batch(wire.MaxBatchRecords, batchBudget)
		if err != nil || len(recs) == 0 {
			return sent, err
		}
		ack, err := a.Client.Report(ctx, wire.ReportBatch{Records: recs})
		if err != nil {
			return sent, err
		}
		lastSent := recs[len(recs)-1].Seq
		if ack.AckedSeq < recs[0].Seq {
			return sent, fmt.Errorf("the server acknowledged none of records %d–%d (acked_seq %d)", recs[0].Seq, lastSent, ack.AckedSeq)
		}
		// Never delete what was not sent, whatever the server says.
		n, err := a.Spool.Ack(min(ack.AckedSeq, lastSent))
		sent += n
		if err != nil {
			return sent, err
		}
	}
}

// Permanent reports whether retrying err cannot help: the server refused the request or the
// credential.
func Permanent(err error) bool {
	var herr *HTTPError
	return errors.Is(err, ErrUnauthorized) || (errors.As(err, &herr) && herr.Permanent())
}

// UploadRetrying is Upload with up to attempts tries and back-off between them; a permanent
// error stops at once.
func (a *Agent) UploadRetrying(ctx context.Context, attempts int) (int, error) {
	total := 0
	for i := 0; ; i++ {
		n, err := a.Upload(ctx)
		total += n
		if err == nil || Permanent(err) || i+1 >= attempts || ctx.Err() != nil {
			return total, err
		}
		d := UploadBackoff.Delay(i, a.Rand())
		a.logf("upload failed (%v); retrying in %v", oneLine(err.Error()), d.Round(time.Second))
		if err := a.Sleep(ctx, d); err != nil {
			return total, err
		}
	}
}

// Interval is the time to the next cycle: the policy's interval (at least a minute; the default
// when unset) within ±10 %.
func Interval(p wire.Policy, r float64) time.Duration {
	secs := p.IntervalSeconds
	if secs <= 0 {
		secs = DefaultConfig().Policy.IntervalSeconds
	}
	secs = max(secs, 60)
	d := time.Duration(secs) * time.Second
	return d - d/10 + time.Duration(r*float64(d/5))
}
