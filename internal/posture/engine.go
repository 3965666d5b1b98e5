package posture

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Engine runs providers. It is synchronous: results come back in provider order.
type Engine struct {
	Providers []Provider
	Now       func() time.Time // stamps Report.Finished; time.Now when nil
}

// Report is the outcome of one evaluation.
type Report struct {
	Results  []Result  `json:"results"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
}

// Exit codes shared by every command (DESIGN.md): 0 compliant, 1 non-compliant, 2 could not run.
const (
	ExitOK           = 0
	ExitNonCompliant = 1
	ExitError        = 2
)

// ExitCode is 1 when any check fails (non-compliance is definite knowledge even if another check
// could not be evaluated), else 2 when any check errored or when nothing was evaluated (every
// check not applicable: no all-clear for a host that was not examined), else 0.
func (r Report) ExitCode() int {
	code := ExitOK
	for _, res := range r.Results {
		switch res.Status {
		case Fail:
			return ExitNonCompliant
		case Error:
			code = ExitError
		}
	}
	if r.NothingEvaluated() {
		return ExitError
	}
	return code
}

// NothingEvaluated reports whether every check of r was not applicable to the host (and there
// was at least one): the report then says nothing about the host's posture.
func (r Report) NothingEvaluated() bool {
	for _, res := range r.Results {
		if res.Status != NotApplicable {
			return false
		}
	}
	return len(r.Results) > 0
}

// Count tallies results by status.
func (r Report) Count() map[Status]int {
	m := map[Status]int{}
	for _, res := range r.Results {
		m[res.Status]++
	}
	return m
}

// Check evaluates every provider.
func (e *Engine) Check(ctx context.Context, req Request) Report {
	rep := Report{Started: req.Now.UTC()}
	for _, p := range e.Providers {
		rep.Results = append(rep.Results, p.Evaluate(ctx, req)...)
	}
	now := e.Now
	if now == nil {
		now = time.Now
	}
	rep.Finished = now().UTC()
	if rep.Finished.Before(rep.Started) {
		rep.Finished = rep.Started
	}
	return rep
}

// FixReport is the outcome of a fix.
type FixReport struct {
	Before   Report        `json:"before"`
	Planned  []Change      `json:"planned"`
	Applied  []Change      `json:"applied"`
	Failed   *FailedChange `json:"failed,omitempty"`
	Reverted []Change      `json:"reverted,omitempty"`
	Refused  []Result      `json:"refused,omitempty"` // failing checks firewarden must not change
	Backup   string        `json:"backup,omitempty"`
	After    *Report       `json:"after,omitempty"` // nil on a dry run or when nothing was written
	DryRun   bool          `json:"dry_run"`
}

// FailedChange is the change that stopped a fix.
type FailedChange struct {
	Change Change `json:"change"`
	Error  string `json:"error"`
}

// ExitCode is 0 when everything complies afterwards, 1 when something still does not or a change
// failed, 2 when a check could not be evaluated.
func (f FixReport) ExitCode() int {
	final := f.Before
	if f.After != nil {
		final = *f.After
	}
	code := final.ExitCode()
	if f.DryRun && len(f.Planned) > 0 {
		return ExitNonCompliant
	}
	if f.Failed != nil && code == ExitOK {
		return ExitNonCompliant
	}
	return code
}

// BackupSaver persists the values a fix is about to change, before it changes any.
type BackupSaver interface {
	Save(changes []Change) (id string, err error)
}

// Fix brings failing checks to the baseline: evaluate, plan, save a backup of every value it will
// touch, apply strengthening changes before loosening ones, verify each, and re-evaluate. When a
// change fails it stops and reverts the loosening changes already applied, so the firewall is
// never left weaker than it was found. A dry run plans and writes nothing.
func (e *Engine) Fix(ctx context.Context, req Request, dryRun bool, backups BackupSaver) (FixReport, error) {
	fr := FixReport{DryRun: dryRun, Before: e.Check(ctx, req)}
	owner := map[string]Provider{}
	for _, p := range e.Providers {
		for _, id := range p.IDs() {
			owner[id] = p
		}
	}
	failing := map[Provider][]Result{}
	for _, r := range fr.Before.Results {
		if r.Status != Fail {
			continue
		}
		if !r.Fixable {
			fr.Refused = append(fr.Refused, r)
			continue
		}
		failing[owner[r.ID]] = append(failing[owner[r.ID]], r)
	}
	for _, p := range e.Providers {
		if len(failing[p]) == 0 {
			continue
		}
		changes, err := p.Plan(ctx, req, failing[p])
		if err != nil {
			return fr, err
		}
		fr.Planned = append(fr.Planned, changes...)
	}
	// Strengthen first: if something fails later, what ran already made the host safer.
	sort.SliceStable(fr.Planned, func(i, j int) bool { return !fr.Planned[i].Weakens && fr.Planned[j].Weakens })
	if dryRun || len(fr.Planned) == 0 {
		return fr, nil
	}
	id, err := backups.Save(fr.Planned)
	if err != nil {
		return fr, fmt.Errorf("save backup before changing anything: %w", err)
	}
	fr.Backup = id

	for _, c := range fr.Planned {
		if _, err := owner[c.Check].Apply(ctx, c); err != nil {
			fr.Failed = &FailedChange{Change: c, Error: err.Error()}
			// A change of several commands may have run some of them (an app added but not yet
			// blocked): put that setting back as found, then undo earlier loosening changes.
			fr.Reverted = e.revert(ctx, owner, []Change{c}, false)
			fr.Reverted = append(fr.Reverted, e.revert(ctx, owner, fr.Applied, true)...)
			break
		}
		fr.Applied = append(fr.Applied, c)
	}
	after := e.Check(ctx, req)
	fr.After = &after
	return fr, nil
}

// revert puts changes back, newest first (only the loosening ones when weakeningOnly), and
// returns those it restored. It is best effort: a revert that fails is left out.
func (e *Engine) revert(ctx context.Context, owner map[string]Provider, applied []Change, weakeningOnly bool) []Change {
	var reverted []Change
	for i := len(applied) - 1; i >= 0; i-- {
		c := applied[i]
		if weakeningOnly && !c.Weakens {
			continue
		}
		back := Change{Check: c.Check, Key: c.Key, From: c.To, To: c.From}
		if _, err := owner[c.Check].Apply(ctx, back); err == nil {
			reverted = append(reverted, back)
		}
	}
	return reverted
}

// RollbackResult is one restored setting.
type RollbackResult struct {
	Change Change `json:"change"`
	Error  string `json:"error,omitempty"`
	Kept   string `json:"kept,omitempty"` // why the setting was left as it is (ErrNotRestorable)
}

// ErrUnknownCheck is returned for a backup naming a check no provider owns.
var ErrUnknownCheck = errors.New("no provider owns this check")

// Rollback restores the values saved before a fix, newest change first. Every change is
// validated before any runs, so a damaged or edited backup writes nothing. Past validation it
// carries on over a failed setting so that as much as possible is restored, and reports each.
func (e *Engine) Rollback(ctx context.Context, saved []Change) ([]RollbackResult, error) {
	owner := map[string]Provider{}
	for _, p := range e.Providers {
		for _, id := range p.IDs() {
			owner[id] = p
		}
	}
	backs := make([]Change, 0, len(saved))
	for i := len(saved) - 1; i >= 0; i-- {
		c := saved[i]
		back := Change{Check: c.Check, Key: c.Key, From: c.To, To: c.From, Weakens: c.Weakens}
		p, ok := owner[c.Check]
		if !ok {
			return nil, fmt.Errorf("%s: %w", c.Check, ErrUnknownCheck)
		}
		if v, ok := p.(Validator); ok {
			if err := v.Validate(back); err != nil && !errors.Is(err, ErrNotRestorable) {
				return nil, fmt.Errorf("%s: %w", c.Key, err)
			}
		}
		backs = append(backs, back)
	}
	var out []RollbackResult
	for _, back := range backs {
		rr := RollbackResult{Change: back}
		if _, err := owner[back.Check].Apply(ctx, back); errors.Is(err, ErrNotRestorable) {
			rr.Kept = err.Error()
		} else if err != nil {
			rr.Error = err.Error()
		}
		out = append(out, rr)
	}
	return out, nil
}
