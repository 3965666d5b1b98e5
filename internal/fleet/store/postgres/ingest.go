package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// span is a stretch of a host's sequence the server holds: one record (lo == hi) or a range
// the agent reported dropped. The chain fields are the record's evidence-chain entry.
type span struct {
	lo, hi    uint64
	chainSeq  uint64
	chainPrev string
	chainHash string
}

// hostState is a host row's ingest columns, read under its lock.
type hostState struct {
	lastSeq     uint64
	chainSeq    uint64
	chainHash   string
	chainBroken bool
}

// currentRow is a (host, check)'s current status, read and updated in memory by one batch.
type currentRow struct {
	status, actual, expected string
	since, observed          time.Time
	runID                    string
	changed                  bool // write it back
}

// ingest is one batch's work for one host, gathered in memory and written in one round trip.
type ingest struct {
	hostID  string
	current map[string]*currentRow
	checks  map[string]bool
	alerts  map[alertKey]*openAlert // alerts this batch folded into, by key
	batch   pgx.Batch
	trans   []store.Transition
}

// Ingest stores a validated batch for one host exactly once per (host, seq). See store.Store.
//
// The host's row is locked first, so batches for the host apply one at a time whatever
// replica received them; under that lock a record is new when its seq is above last_seq and
// not in a pending span, and its pending row is inserted with ON CONFLICT DO NOTHING as well.
func (s *Store) Ingest(ctx context.Context, hostID string, b wire.ReportBatch, now time.Time) (store.IngestResult, error) {
	if err := b.Validate(); err != nil {
		return store.IngestResult{}, err
	}
	var res store.IngestResult
	err := s.write(ctx, func(tx pgx.Tx) error {
		res = store.IngestResult{}
		var hs hostState
		var lastSeq, chainSeq int64
		var revoked *time.Time
		var pending []span
		in := &ingest{hostID: hostID, checks: map[string]bool{}, alerts: map[alertKey]*openAlert{}}
		// One round trip for every read: the lock is taken by the first statement, before the
		// others run. A host that does not exist locks nothing and reads nothing.
		var reads pgx.Batch
		reads.Queue(`SELECT last_seq, chain_seq, chain_hash, chain_broken, revoked_at FROM hosts WHERE id = $1 FOR UPDATE`, hostID).
			QueryRow(func(row pgx.Row) error {
				return row.Scan(&lastSeq, &chainSeq, &hs.chainHash, &hs.chainBroken, &revoked)
			})
		reads.Queue(`SELECT lo, hi, chain_seq, chain_prev, chain_hash FROM pending WHERE host_id = $1`, hostID).
			Query(func(rows pgx.Rows) (err error) {
				pending, err = pgx.CollectRows(rows, scanSpan)
				return err
			})
		reads.Queue(`SELECT check_id, status, actual, expected, since, observed, run_id FROM current WHERE host_id = $1`, hostID).
			Query(func(rows pgx.Rows) (err error) {
				in.current, err = collectCurrent(rows)
				return err
			})
		if err := tx.SendBatch(ctx, &reads).Close(); err != nil {
			return fmt.Errorf("host %q: %w", hostID, notFound(err))
		}
		if revoked != nil {
			return fmt.Errorf("host %q: %w", hostID, store.ErrRevoked)
		}
		hs.lastSeq, hs.chainSeq = uint64(lastSeq), uint64(chainSeq)
		held := func(seq uint64) bool {
			if seq <= hs.lastSeq {
				return true
			}
			for _, p := range pending {
				if p.lo <= seq && seq <= p.hi {
					return true
				}
			}
			return false
		}

		var fresh []wire.Record
		for _, r := range b.Records {
			if held(r.Seq) {
				res.Duplicates++
				continue
			}
			fresh = append(fresh, r)
		}
		if len(fresh) == 0 {
			res.Acked = hs.lastSeq
			_, err := tx.Exec(ctx, `UPDATE hosts SET last_seen = greatest(last_seen, $2) WHERE id = $1`, hostID, now)
			return err
		}
		var spans []span
		for _, r := range fresh {
			sp := span{lo: r.Seq, hi: r.Seq}
			if r.Chain != nil {
				sp.chainSeq, sp.chainPrev, sp.chainHash = r.Chain.Seq, r.Chain.Prev, r.Chain.Hash
			}
			spans = append(spans, sp)
			if d := r.SpoolDrop; d != nil {
				spans = append(spans, span{lo: d.FromSeq, hi: d.ToSeq})
			}
			if err := in.apply(ctx, tx, r); err != nil {
				return fmt.Errorf("record %d: %w", r.Seq, err)
			}
			res.Stored++
		}
		res.Transitions = len(in.trans)
		if err := in.queueWrites(); err != nil {
			return err
		}

		// Advance last_seq over what is now contiguous, checking the chain in sequence order.
		all := append(pending, spans...)
		sort.Slice(all, func(i, j int) bool { return all[i].lo < all[j].lo || all[i].lo == all[j].lo && all[i].hi < all[j].hi })
		var keep []span
		for _, sp := range all {
			if sp.lo > hs.lastSeq+1 {
				keep = append(keep, sp)
				continue
			}
			if sp.hi > hs.lastSeq {
				hs.lastSeq = sp.hi
			}
			hs.followChain(sp)
		}
		if len(pending) > 0 {
			in.batch.Queue(`DELETE FROM pending WHERE host_id = $1`, hostID)
		}
		for _, sp := range keep {
			// ON CONFLICT: a drop range may repeat one an earlier record already reported.
			in.batch.Queue(`INSERT INTO pending (host_id, lo, hi, chain_seq, chain_prev, chain_hash) VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT DO NOTHING`, hostID, int64(sp.lo), int64(sp.hi), int64(sp.chainSeq), sp.chainPrev, sp.chainHash)
		}
		in.batch.Queue(`UPDATE hosts SET last_seq = $2, chain_seq = $3, chain_hash = $4, chain_broken = $5,
			last_seen = greatest(last_seen, $6) WHERE id = $1`,
			hostID, int64(hs.lastSeq), int64(hs.chainSeq), hs.chainHash, hs.chainBroken, now)
		if err := tx.SendBatch(ctx, &in.batch).Close(); err != nil {
			return err
		}
		res.Acked = hs.lastSeq
		return nil
	})
	return res, err
}

// followChain checks that a record's evidence-chain entry continues the host's chain, and
// moves the host's chain position to it. Entries may be skipped (the agent logs entries it
// does not report, and drops records), but never repeated or rewound, and an entry that
// directly follows the last one seen must name that one's hash as its prev.
func (hs *hostState) followChain(sp span) {
	if sp.chainSeq == 0 {
		return
	}
	if hs.chainSeq > 0 {
		if sp.chainSeq <= hs.chainSeq || sp.chainSeq == hs.chainSeq+1 && sp.chainPrev != hs.chainHash {
			hs.chainBroken = true
		}
	}
	hs.chainSeq, hs.chainHash = sp.chainSeq, sp.chainHash
}

func scanSpan(r pgx.CollectableRow) (span, error) {
	var lo, hi, cs int64
	var sp span
	err := r.Scan(&lo, &hi, &cs, &sp.chainPrev, &sp.chainHash)
	sp.lo, sp.hi, sp.chainSeq = uint64(lo), uint64(hi), uint64(cs)
	return sp, err
}

func collectCurrent(rows pgx.Rows) (map[string]*currentRow, error) {
	defer rows.Close()
	cur := map[string]*currentRow{}
	for rows.Next() {
		var check string
		c := &currentRow{}
		if err := rows.Scan(&check, &c.status, &c.actual, &c.expected, &c.since, &c.observed, &c.runID); err != nil {
			return nil, err
		}
		c.since, c.observed = c.since.UTC(), c.observed.UTC()
		cur[check] = c
	}
	return cur, rows.Err()
}

// apply gathers one new record's effects. Statuses take effect at the record's time.
func (in *ingest) apply(ctx context.Context, tx pgx.Tx, r wire.Record) error {
	switch {
	case r.Run != nil:
		run := r.Run
		results, err := json.Marshal(run.Results)
		if err != nil {
			return err
		}
		finished := nonZero(run.Finished, r.Time)
		in.batch.Queue(`INSERT INTO runs (host_id, seq, run_id, policy, mode, baseline_name, baseline_sha256, started, finished, results)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			in.hostID, int64(r.Seq), run.RunID, run.Policy, run.Mode, run.BaselineName, run.BaselineSHA256,
			nonZero(run.Started, finished), finished, string(results))
		for _, res := range run.Results {
			in.observe(res.Check, res.Status, res.Actual, res.Expected, r.Time, run.RunID, wire.CauseObserved, r.Seq)
		}
	case r.Drift != nil:
		d := r.Drift
		in.observe(d.Check, d.To, d.Actual, "", r.Time, d.RunID, d.Cause, r.Seq)
		// Enforce mode: the fix that followed, when it says what it left behind.
		if f := d.Fix; f != nil && f.Status != d.To && knownStatus(f.Status) {
			in.observe(d.Check, f.Status, f.Actual, "", r.Time, d.RunID, wire.CauseFix, r.Seq)
		}
	case r.Alert != nil:
		return in.foldAlert(ctx, tx, r)
	case r.Bans != nil:
		summary, err := json.Marshal(r.Bans)
		if err != nil {
			return err
		}
		in.batch.Queue(`INSERT INTO bans (host_id, time, seq, summary) VALUES ($1, $2, $3, $4)
			ON CONFLICT (host_id) DO UPDATE SET time = excluded.time, seq = excluded.seq, summary = excluded.summary
			WHERE bans.seq < excluded.seq`, in.hostID, r.Time, int64(r.Seq), string(summary))
	}
	return nil
}

// observe records that a check had status at time at. A status other than the current one is
// a transition; an observation older than the newest one already applied (a record that
// arrives after a later one) changes nothing, so late records cannot rewrite history.
// expected "" keeps the one known (drifts do not carry it).
func (in *ingest) observe(check, status, actual, expected string, at time.Time, runID, cause string, seq uint64) {
	in.checks[check] = true
	c := in.current[check]
	if c != nil && at.Before(c.observed) {
		return
	}
	from := ""
	if c == nil {
		c = &currentRow{since: at}
		in.current[check] = c
	} else {
		from = c.status
	}
	if from != status {
		c.since = at
		in.trans = append(in.trans, store.Transition{HostID: in.hostID, Check: check, Time: at, From: from, To: status,
			Actual: actual, RunID: runID, Cause: cause, Seq: seq})
	}
	c.status, c.actual, c.observed, c.runID, c.changed = status, actual, at, runID, true
	if expected != "" {
		c.expected = expected
	}
}

// queueWrites adds the gathered current rows, transitions, checks and alerts to the batch,
// one statement each over arrays (alerts, which are rare, one each).
func (in *ingest) queueWrites() error {
	for k, a := range in.alerts {
		js, err := json.Marshal(a.alert)
		if err != nil {
			return err
		}
		if a.id == 0 {
			in.batch.Queue(`INSERT INTO alerts (host_id, rule, process, parent, command_line, alert, seq, duplicate)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
				in.hostID, k.rule, k.process, k.parent, k.commandLine, string(js), int64(a.seq), a.duplicate)
		} else {
			in.batch.Queue(`UPDATE alerts SET alert = $2, seq = $3, duplicate = $4 WHERE id = $1`,
				a.id, string(js), int64(a.seq), a.duplicate)
		}
	}
	if len(in.checks) > 0 {
		ids := make([]string, 0, len(in.checks))
		for c := range in.checks {
			ids = append(ids, c)
		}
		sort.Strings(ids)
		// Only new checks are written: the common case (every check known) takes no row lock.
		in.batch.Queue(`INSERT INTO checks (check_id) SELECT u FROM unnest($1::text[]) AS u
			WHERE NOT EXISTS (SELECT 1 FROM checks WHERE check_id = u) ON CONFLICT DO NOTHING`, ids)
	}
	var (
		checks, statuses, actuals, expecteds, runIDs []string
		sinces, observeds                            []time.Time
	)
	for check, c := range in.current {
		if !c.changed {
			continue
		}
		checks, statuses, actuals, expecteds, runIDs = append(checks, check), append(statuses, c.status),
			append(actuals, c.actual), append(expecteds, c.expected), append(runIDs, c.runID)
		sinces, observeds = append(sinces, c.since), append(observeds, c.observed)
	}
	if len(checks) > 0 {
		in.batch.Queue(`INSERT INTO current (host_id, check_id, status, actual, expected, since, observed, run_id)
			SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[], $8::text[])
			ON CONFLICT (host_id, check_id) DO UPDATE SET status = excluded.status, actual = excluded.actual,
				expected = excluded.expected, since = excluded.since, observed = excluded.observed, run_id = excluded.run_id`,
			in.hostID, checks, statuses, actuals, expecteds, sinces, observeds, runIDs)
	}
	if len(in.trans) > 0 {
		n := len(in.trans)
		tc, tf, tt, ta, tr, tcause := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		tm, ts := make([]time.Time, n), make([]int64, n)
		for i, t := range in.trans {
			tc[i], tf[i], tt[i], ta[i], tr[i], tcause[i], tm[i], ts[i] = t.Check, t.From, t.To, t.Actual, t.RunID, t.Cause, t.Time, int64(t.Seq)
		}
		// WITH ORDINALITY keeps the batch's order in the ids, which break ties in time.
		in.batch.Queue(`INSERT INTO transitions (host_id, check_id, time, from_status, to_status, actual, run_id, cause, seq)
			SELECT $1, c, t, f, s, a, r, ca, q FROM unnest($2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[])
				WITH ORDINALITY AS u(c, t, f, s, a, r, ca, q, n) ORDER BY n`,
			in.hostID, tc, tm, tf, tt, ta, tr, tcause, ts)
	}
	return nil
}

// alertKey is what alerts are de-duplicated by, per host.
type alertKey struct{ rule, process, parent, commandLine string }

// openAlert is an open alert as this batch leaves it; id 0 is a new one.
type openAlert struct {
	id        int64
	alert     wire.Alert
	seq       uint64
	duplicate int
}

// foldAlert adds an alert to the host's open alert with the same key, or opens one. Counts
// add up, first and last seen widen, and severity, reason and user follow the latest report.
// The host's row lock makes the read-modify-write safe.
func (in *ingest) foldAlert(ctx context.Context, tx pgx.Tx, r wire.Record) error {
	a := *r.Alert
	if a.Count <= 0 {
		a.Count = 1
	}
	a.FirstSeen, a.LastSeen = nonZero(a.FirstSeen, r.Time), nonZero(a.LastSeen, r.Time)
	k := alertKey{a.Rule, a.Process, a.Parent, a.CommandLine}
	open, ok := in.alerts[k]
	if !ok {
		var js []byte
		var seq int64
		o := &openAlert{}
		err := tx.QueryRow(ctx, `SELECT id, alert, seq, duplicate FROM alerts WHERE host_id = $1 AND rule = $2 AND process = $3
			AND parent = $4 AND command_line = $5 AND acked_at IS NULL`, in.hostID, k.rule, k.process, k.parent, k.commandLine).
			Scan(&o.id, &js, &seq, &o.duplicate)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			in.alerts[k] = &openAlert{alert: a, seq: r.Seq}
			return nil
		case err != nil:
			return err
		}
		if err := json.Unmarshal(js, &o.alert); err != nil {
			return fmt.Errorf("alert %d: %w", o.id, err)
		}
		o.seq = uint64(seq)
		in.alerts[k], open = o, o
	}
	old := &open.alert
	old.Count += a.Count
	if a.FirstSeen.Before(old.FirstSeen) {
		old.FirstSeen = a.FirstSeen
	}
	if a.LastSeen.After(old.LastSeen) {
		old.LastSeen = a.LastSeen
		old.Severity, old.Reason, old.User = a.Severity, a.Reason, a.User
	}
	open.seq = max(open.seq, r.Seq)
	open.duplicate++
	return nil
}

// knownStatus reports whether s is a status the posture engine reports.
func knownStatus(s string) bool {
	switch s {
	case wire.StatusPass, wire.StatusFail, wire.StatusError, wire.StatusNotApplicable, wire.StatusManaged, wire.StatusExempt:
		return true
	}
	return false
}

// nonZero is t, or def when t is zero.
func nonZero(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return t
}
