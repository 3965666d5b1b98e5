package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// Ingest stores a batch for one host exactly once per (host, seq), in one transaction.
//
// Every seq at or below the host's LastSeq is stored, so a record there is a duplicate. In the
// common case records arrive in order and LastSeq simply moves with them. A record beyond a
// gap is stored and kept in the pending table (which also holds the ranges that spool_drop
// records account for); a record found there is a duplicate too. When the gap closes, LastSeq
// moves over the pending rows, and the evidence chain is checked in seq order as it does, so
// that a gap filled late does not look like a broken chain.
//
// A result older than the latest record already applied for the host is kept in its run but
// changes neither the current state nor the transitions: history is not rewritten by late
// records.
//
// Group commit: concurrent calls queue for one writer goroutine, which applies every batch
// waiting (up to maxGroup) in one transaction, each batch inside its own savepoint, and commits
// once. A batch that fails is rolled back to its savepoint and fails alone. Ingest returns only
// after the commit that holds its batch is durable, so an acknowledged record is on disk; the
// fsync is shared by the group instead of paid per batch, which is what SQLite's single writer
// needs to keep up with many agents at once.
func (s *Store) Ingest(ctx context.Context, hostID string, b wire.ReportBatch, now time.Time) (store.IngestResult, error) {
	if err := b.Validate(); err != nil {
		return store.IngestResult{}, err
	}
	req := &ingestReq{ctx: ctx, host: hostID, batch: b, now: now, done: make(chan struct{})}
	select {
	case s.ingestQ <- req:
	case <-s.closing:
		return store.IngestResult{}, errClosed
	case <-ctx.Done():
		return store.IngestResult{}, ctx.Err()
	}
	// Once queued the batch may be committed whatever the caller's context says, so wait for
	// the writer's answer: a caller gone by then only loses the reply (the agent's retry is a
	// duplicate), never a record it was told was stored.
	<-req.done
	return req.res, req.err
}

// maxGroup bounds the batches committed together: enough to share one fsync among the agents
// reporting at once, few enough that one transaction stays short.
const maxGroup = 64

var errClosed = errors.New("the store is closed")

// ingestReq is one Ingest call waiting for the writer.
type ingestReq struct {
	ctx   context.Context
	host  string
	batch wire.ReportBatch
	now   time.Time
	res   store.IngestResult
	err   error
	done  chan struct{}
}

// ingestLoop is the writer goroutine: it takes the first waiting batch, every other one
// already queued (up to maxGroup), and commits them together. It ends when the store closes,
// failing what is still queued.
func (s *Store) ingestLoop() {
	defer s.loopDone.Done()
	group := make([]*ingestReq, 0, maxGroup)
	for {
		var first *ingestReq
		select {
		case first = <-s.ingestQ:
		case <-s.closing:
			for {
				select {
				case r := <-s.ingestQ:
					r.err = errClosed
					close(r.done)
				default:
					return
				}
			}
		}
		group = append(group[:0], first)
	more:
		for len(group) < maxGroup {
			select {
			case r := <-s.ingestQ:
				group = append(group, r)
			default:
				break more
			}
		}
		s.commitGroup(group, nil)
		for _, r := range group {
			close(r.done)
		}
	}
}

// commitGroup applies the batches of group in one transaction, one savepoint each, and
// commits; it sets every request's result or error. A batch whose caller has gone is skipped.
// fail, for tests, can fail a batch after its writes, to show that it is rolled back alone.
func (s *Store) commitGroup(group []*ingestReq, fail func(*ingestReq) error) {
	// The writer's own context: one caller going away must not abort the others' transaction.
	ctx := context.Background()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		for _, r := range group {
			r.err = err
		}
		return
	}
	ok := 0
	for _, r := range group {
		if r.err = r.ctx.Err(); r.err != nil {
			continue
		}
		if _, r.err = tx.ExecContext(ctx, `SAVEPOINT batch`); r.err != nil {
			continue
		}
		in := ingester{ctx: ctx, tx: tx, st: s.stmts, host: r.host}
		r.res, r.err = in.batch(r.batch, r.now)
		if r.err == nil && fail != nil {
			r.err = fail(r)
		}
		if r.err != nil {
			r.res = store.IngestResult{}
			if _, err := tx.ExecContext(ctx, `ROLLBACK TO batch`); err != nil {
				// The transaction is in an unknown state: give up on all of it.
				tx.Rollback()
				for _, r := range group {
					if r.err == nil {
						r.err, r.res = err, store.IngestResult{}
					}
				}
				return
			}
		}
		if _, err := tx.ExecContext(ctx, `RELEASE batch`); err != nil && r.err == nil {
			r.err = err
		}
		if r.err == nil {
			ok++
		}
	}
	if ok == 0 {
		tx.Rollback()
		return
	}
	if err := tx.Commit(); err != nil {
		for _, r := range group {
			if r.err == nil {
				r.err, r.res = err, store.IngestResult{}
			}
		}
	}
}

// ingester holds one Ingest transaction's state.
type ingester struct {
	ctx  context.Context
	tx   *sql.Tx
	st   *stmts
	host string

	last      uint64 // LastSeq as it moves
	pending   bool   // the host has rows in pending
	chainSeq  uint64
	chainHash string
	broken    bool
	applied   int64               // time of the newest record applied to the current state
	cur       map[string]*current // the host's current state, loaded on first use
	res       store.IngestResult
	unchanged []string // checks of the run being stored whose status and value did not change
	state     string   // the host's posture: "", stateCompliant or stateNoncompliant
	deltas    map[deltaKey]int64
	latest    latestRun // the host's latest stored run, kept in its host row
	// postureSince is when the posture last changed in this batch (0: it did not): the host
	// row keeps the latest posture for ComplianceAt's stale hosts.
	postureSince int64
}

// latestRun is the hosts.run_* columns: the host's latest stored run and, while it is the
// latest, its confirmed, repeats and last_run_id (the runs row has them once it is not).
type latestRun struct {
	rowid               int64
	digest              string
	finished, confirmed int64
	repeats             int
	lastRunID           string
}

// deltaKey is a row of status_deltas (check set) or posture_deltas (check "").
type deltaKey struct {
	hour          int64
	check, status string
}

// Host postures, in the posture tables.
const (
	stateCompliant    = "compliant"
	stateNoncompliant = "noncompliant"
)

func hourOf(t int64) int64 { return t / int64(time.Hour) }

// posture is the host's posture from its current state.
func (in *ingester) posture() string {
	if len(in.cur) == 0 {
		return ""
	}
	for _, c := range in.cur {
		if !wire.Compliant(c.status) {
			return stateNoncompliant
		}
	}
	return stateCompliant
}

// moved counts a (host, check) pair, or a host when check is "", moving from one status or
// posture to another in the hour of t.
func (in *ingester) moved(t int64, check, from, to string) {
	if in.deltas == nil {
		in.deltas = map[deltaKey]int64{}
	}
	h := hourOf(t)
	in.deltas[deltaKey{h, check, to}]++
	if from != "" {
		in.deltas[deltaKey{h, check, from}]--
	}
}

// flushDeltas adds the batch's counts to status_deltas and posture_deltas, and to their
// per-label tables for every label of the host.
func (in *ingester) flushDeltas() error {
	if len(in.deltas) == 0 {
		return nil
	}
	var labels []string
	rows, err := in.tx.StmtContext(in.ctx, in.st.selHostLabels).QueryContext(in.ctx, in.host)
	if err != nil {
		return err
	}
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			rows.Close()
			return err
		}
		labels = append(labels, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for k, n := range in.deltas {
		if n == 0 {
			continue
		}
		var err error
		if k.check == "" {
			err = in.exec(in.st.upsPostureDelta, k.hour, k.status, n)
		} else {
			err = in.exec(in.st.upsStatusDelta, k.hour, k.check, k.status, n)
		}
		for _, l := range labels {
			if err != nil {
				break
			}
			if k.check == "" {
				err = in.exec(in.st.upsLabelPostureDelta, k.hour, l, k.status, n)
			} else {
				err = in.exec(in.st.upsLabelStatusDelta, k.hour, l, k.check, k.status, n)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

type current struct {
	status, actual, expected string
}

func (in *ingester) exec(st *sql.Stmt, args ...any) error {
	_, err := in.tx.StmtContext(in.ctx, st).ExecContext(in.ctx, args...)
	return err
}

func (in *ingester) batch(b wire.ReportBatch, now time.Time) (store.IngestResult, error) {
	var revoked, seen, interval int64
	l := &in.latest
	err := in.tx.StmtContext(in.ctx, in.st.hostIngest).QueryRowContext(in.ctx, in.host).
		Scan(&in.last, &in.chainSeq, &in.chainHash, &in.broken, &in.applied, &in.pending, &revoked, &seen, &interval,
			&l.rowid, &l.digest, &l.finished, &l.confirmed, &l.repeats, &l.lastRunID)
	if errors.Is(err, sql.ErrNoRows) {
		return in.res, fmt.Errorf("host %s: %w", in.host, store.ErrNotFound)
	}
	if err != nil {
		return in.res, err
	}
	if revoked != 0 {
		return in.res, fmt.Errorf("host %s: %w", in.host, store.ErrRevoked)
	}
	for i := range b.Records {
		r := &b.Records[i]
		switch {
		case r.Seq <= in.last:
			in.res.Duplicates++
			continue
		case !in.pending && r.Seq == in.last+1:
			// In order: LastSeq moves with the record.
			in.last = r.Seq
			in.chain(r.Chain)
		default:
			dup, err := in.seen(r.Seq)
			if err != nil {
				return in.res, err
			}
			if dup {
				in.res.Duplicates++
				continue
			}
			var cs uint64
			var prev, hash string
			if r.Chain != nil {
				cs, prev, hash = r.Chain.Seq, r.Chain.Prev, r.Chain.Hash
			}
			if err := in.exec(in.st.insPending, in.host, r.Seq, r.Seq, cs, prev, hash); err != nil {
				return in.res, err
			}
			in.pending = true
		}
		if err := in.record(r); err != nil {
			return in.res, fmt.Errorf("record %d: %w", r.Seq, err)
		}
		in.res.Stored++
	}
	if in.pending {
		if err := in.advance(); err != nil {
			return in.res, err
		}
	}
	if err := in.flushDeltas(); err != nil {
		return in.res, err
	}
	if in.postureSince != 0 {
		if err := in.exec(in.st.updHostPosture, in.state, in.postureSince, in.host); err != nil {
			return in.res, err
		}
	}
	in.res.Acked = in.last
	seen = max(seen, ts(now))
	err = in.exec(in.st.updHostIngest, in.last, in.chainSeq, in.chainHash, in.broken, in.applied,
		seen, ts(store.StaleAt(fromTS(seen), time.Duration(interval))),
		l.rowid, l.digest, l.finished, l.confirmed, l.repeats, l.lastRunID, in.host)
	return in.res, err
}

// chain follows the host's evidence chain one record further, in seq order: the first entry
// seen starts it. After that entries may be skipped (a person's own `firewarden evidence` runs
// add entries the agent does not report, and the agent may drop records), but never repeated or
// rewound, and an entry that directly follows the last one seen must name that one's hash.
func (in *ingester) chain(c *wire.ChainRef) {
	if c == nil || c.Hash == "" {
		return
	}
	if in.chainHash != "" && (c.Seq <= in.chainSeq || c.Seq == in.chainSeq+1 && c.Prev != in.chainHash) {
		in.broken = true
	}
	in.chainSeq, in.chainHash = c.Seq, c.Hash
}

// seen reports whether seq, above LastSeq, is already stored or accounted for.
func (in *ingester) seen(seq uint64) (bool, error) {
	if !in.pending {
		return false, nil
	}
	var one int
	err := in.tx.StmtContext(in.ctx, in.st.seenPending).QueryRowContext(in.ctx, in.host, seq, seq).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// advance moves LastSeq over the contiguous pending rows, following the chain of each record
// in seq order, and deletes the rows it moved over.
func (in *ingester) advance() error {
	rows, err := in.tx.StmtContext(in.ctx, in.st.selPending).QueryContext(in.ctx, in.host)
	if err != nil {
		return err
	}
	left := false
	for rows.Next() {
		var lo, hi, cs uint64
		var prev, hash string
		if err := rows.Scan(&lo, &hi, &cs, &prev, &hash); err != nil {
			rows.Close()
			return err
		}
		if lo > in.last+1 {
			left = true
			break
		}
		in.last = max(in.last, hi)
		in.chain(&wire.ChainRef{Seq: cs, Prev: prev, Hash: hash})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	in.pending = left
	return in.exec(in.st.delPending, in.host, in.last)
}

// record stores one new record.
func (in *ingester) record(r *wire.Record) error {
	switch r.Kind {
	case wire.KindRun:
		return in.run(r)
	case wire.KindDrift:
		d := r.Drift
		late, err := in.late(r.Time)
		if late || err != nil {
			return err
		}
		if err := in.observe(d.Check, d.To, d.Actual, "", d.RunID, d.Cause, r.Seq, r.Time); err != nil {
			return err
		}
		// Enforce mode: the fix that followed, when it says what it left behind.
		if f := d.Fix; f != nil && f.Status != "" && f.Status != d.To && knownStatus(f.Status) {
			return in.observe(d.Check, f.Status, f.Actual, "", d.RunID, wire.CauseFix, r.Seq, r.Time)
		}
		return nil
	case wire.KindAlert:
		return in.alert(r)
	case wire.KindBans:
		b, err := json.Marshal(r.Bans)
		if err != nil {
			return err
		}
		return in.exec(in.st.upsBans, in.host, ts(r.Time), r.Seq, string(b))
	case wire.KindSpoolDrop:
		// The dropped seqs will never come: account for them so that LastSeq can move past.
		if d := r.SpoolDrop; d.ToSeq > in.last {
			if err := in.exec(in.st.insPendingRange, in.host, d.FromSeq, d.ToSeq); err != nil {
				return err
			}
			in.pending = true
		}
		return nil
	}
	return fmt.Errorf("kind %q: not stored", r.Kind)
}

func knownStatus(s string) bool {
	switch s {
	case wire.StatusPass, wire.StatusFail, wire.StatusError, wire.StatusNotApplicable, wire.StatusManaged, wire.StatusExempt:
		return true
	}
	return false
}

// late reports whether a record at time at is older than the newest one applied to the
// host's current state, and otherwise makes it the newest. It loads the current state on
// first use.
func (in *ingester) late(at time.Time) (bool, error) {
	t := ts(at)
	if t < in.applied {
		return true, nil
	}
	in.applied = t
	if in.cur != nil {
		return false, nil
	}
	in.cur = map[string]*current{}
	rows, err := in.tx.StmtContext(in.ctx, in.st.selCurrent).QueryContext(in.ctx, in.host)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	for rows.Next() {
		var check string
		c := &current{}
		if err := rows.Scan(&check, &c.status, &c.actual, &c.expected); err != nil {
			return false, err
		}
		in.cur[check] = c
	}
	in.state = in.posture()
	return false, rows.Err()
}

// run stores a run compactly (its results as one JSON value), or folds it into the host's
// latest stored run when it repeats that run's results (store.StoredRun), and observes every
// result either way.
func (in *ingester) run(r *wire.Record) error {
	repeat, err := in.storeRun(r)
	if err != nil {
		return err
	}
	run := r.Run
	late, err := in.late(r.Time)
	if late || err != nil {
		return err
	}
	in.unchanged = in.unchanged[:0]
	for _, res := range run.Results {
		if err := in.observe(res.Check, res.Status, res.Actual, res.Expected, run.RunID, wire.CauseObserved, r.Seq, r.Time); err != nil {
			return err
		}
	}
	// A repeat leaves current.run_id on the stored run that holds the evidence, and so writes
	// nothing here.
	if len(in.unchanged) == 0 || repeat {
		return nil
	}
	// One statement for the checks whose state only gains a newer run.
	checks, err := json.Marshal(in.unchanged)
	if err != nil {
		return err
	}
	return in.exec(in.st.touchCurrent, run.RunID, in.host, string(checks))
}

// storeRun stores the run of r, unless its results repeat the host's latest stored run and it
// finished no earlier (then it reports a repeat). The latest run's counters live in the host
// row (in.latest, written with it at the end of the batch); a stored run that becomes the
// latest first copies them into the row of the one it replaces.
func (in *ingester) storeRun(r *wire.Record) (repeat bool, err error) {
	run := r.Run
	finished := ts(run.Finished)
	if finished == 0 {
		finished = ts(r.Time)
	}
	digest := store.RunDigest(*run)
	l := &in.latest
	if l.rowid != 0 && l.digest == digest && finished >= l.finished {
		in.res.Repeats++
		l.repeats++
		if finished >= l.confirmed {
			l.confirmed, l.lastRunID = finished, run.RunID
		}
		return true, nil
	}
	results, err := json.Marshal(run.Results)
	if err != nil {
		return false, err
	}
	res, err := in.tx.StmtContext(in.ctx, in.st.insRun).ExecContext(in.ctx, in.host, r.Seq, run.RunID, run.Policy, run.Mode,
		run.BaselineName, run.BaselineSHA256, ts(run.Started), finished, results)
	if err != nil {
		return false, err
	}
	if l.rowid != 0 && finished < l.finished {
		return false, nil // a late run: stored, but not the latest
	}
	if l.rowid != 0 && l.repeats > 0 {
		if err := in.exec(in.st.foldRun, l.confirmed, l.repeats, l.lastRunID, l.rowid); err != nil {
			return false, err
		}
	}
	id, err := res.LastInsertId()
	if err != nil {
		return false, err
	}
	*l = latestRun{rowid: id, digest: digest, finished: finished, confirmed: finished, lastRunID: run.RunID}
	return false, nil
}

// observe applies one status seen for (host, check) at time at: a transition when it differs
// from the current status, and the current state updated. expected "" keeps the one known.
// A result that changes nothing but the run is left for run's single update.
func (in *ingester) observe(check, status, actual, expected, runID, cause string, seq uint64, at time.Time) error {
	t := ts(at)
	c := in.cur[check]
	if expected == "" && c != nil {
		expected = c.expected
	}
	from := ""
	switch {
	case c == nil:
		if err := in.exec(in.st.insCheck, check); err != nil {
			return err
		}
		if err := in.exec(in.st.insCurrent, in.host, check, status, actual, expected, t, runID); err != nil {
			return err
		}
		in.cur[check] = &current{status: status, actual: actual, expected: expected}
	case c.status == status:
		if c.actual == actual && c.expected == expected && cause == wire.CauseObserved {
			in.unchanged = append(in.unchanged, check)
			return nil
		}
		c.actual, c.expected = actual, expected
		return in.exec(in.st.updCurrentValue, actual, expected, runID, in.host, check)
	default:
		from = c.status
		if err := in.exec(in.st.updCurrent, status, actual, expected, t, runID, in.host, check); err != nil {
			return err
		}
		c.status, c.actual, c.expected = status, actual, expected
	}
	in.res.Transitions++
	if err := in.exec(in.st.insTransition, in.host, check, t, from, status, actual, runID, cause, seq); err != nil {
		return err
	}
	in.moved(t, check, from, status)
	if p := in.posture(); p != in.state {
		if err := in.exec(in.st.insPosture, in.host, t, in.state, p); err != nil {
			return err
		}
		in.moved(t, "", in.state, p)
		in.state, in.postureSince = p, t
	}
	return nil
}
func (in *ingester) alert(r *wire.Record) error {
	a := *r.Alert
	if a.Count <= 0 {
		a.Count = 1
	}
	var id int64
	var stored string
	err := in.tx.QueryRowContext(in.ctx, `SELECT id, alert FROM alerts WHERE host_id = ? AND rule = ? AND process = ?
		AND parent = ? AND command_line = ? AND acked_at = 0`, in.host, a.Rule, a.Process, a.Parent, a.CommandLine).Scan(&id, &stored)
	if errors.Is(err, sql.ErrNoRows) {
		if a.FirstSeen.IsZero() {
			a.FirstSeen = r.Time
		}
		if a.LastSeen.IsZero() {
			a.LastSeen = r.Time
		}
		b, err := json.Marshal(a)
		if err != nil {
			return err
		}
		_, err = in.tx.ExecContext(in.ctx, `INSERT INTO alerts (host_id, rule, process, parent, command_line, alert, seq)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, in.host, a.Rule, a.Process, a.Parent, a.CommandLine, string(b), r.Seq)
		return err
	}
	if err != nil {
		return err
	}
	var old wire.Alert
	if err := json.Unmarshal([]byte(stored), &old); err != nil {
		return fmt.Errorf("alert %d: %w", id, err)
	}
	old.Count += a.Count
	if !a.FirstSeen.IsZero() && (old.FirstSeen.IsZero() || a.FirstSeen.Before(old.FirstSeen)) {
		old.FirstSeen = a.FirstSeen
	}
	last := a.LastSeen
	if last.IsZero() {
		last = r.Time
	}
	if last.After(old.LastSeen) {
		old.LastSeen = last
		old.Severity, old.Reason, old.User = a.Severity, a.Reason, a.User
	}
	b, err := json.Marshal(old)
	if err != nil {
		return err
	}
	_, err = in.tx.ExecContext(in.ctx, `UPDATE alerts SET alert = ?, seq = max(seq, ?), duplicate = duplicate + 1 WHERE id = ?`,
		string(b), r.Seq, id)
	return err
}
