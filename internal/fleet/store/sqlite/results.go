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
// A record is a duplicate when its seq is at or below the host's LastSeq (every such seq is
// stored) or inside a row of the pending table (stored above a gap, or reported dropped by a
// spool_drop record). After the batch, LastSeq moves over every contiguous pending row, and
// the evidence chain is checked in seq order as it does, so that a gap filled late does not
// look like a broken chain.
//
// A result older than the latest one already seen for its (host, check) is kept in its run
// but changes neither the current state nor the transitions: history is not rewritten by
// late records.
func (s *Store) Ingest(ctx context.Context, hostID string, b wire.ReportBatch, now time.Time) (store.IngestResult, error) {
	if err := b.Validate(); err != nil {
		return store.IngestResult{}, err
	}
	var res store.IngestResult
	err := s.write(ctx, func(tx *sql.Tx) error {
		res = store.IngestResult{}
		var lastSeq uint64
		var revoked int64
		err := tx.QueryRowContext(ctx, `SELECT last_seq, revoked_at FROM hosts WHERE id = ?`, hostID).Scan(&lastSeq, &revoked)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("host %s: %w", hostID, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if revoked != 0 {
			return fmt.Errorf("host %s: %w", hostID, store.ErrRevoked)
		}
		in := ingester{ctx: ctx, tx: tx, host: hostID}
		for i := range b.Records {
			r := &b.Records[i]
			dup, err := in.seen(r.Seq, lastSeq)
			if err != nil {
				return err
			}
			if dup {
				res.Duplicates++
				continue
			}
			if err := in.record(r); err != nil {
				return fmt.Errorf("record %d: %w", r.Seq, err)
			}
			res.Stored++
		}
		res.Transitions = in.transitions
		acked, err := in.advance(lastSeq)
		if err != nil {
			return err
		}
		res.Acked = acked
		_, err = tx.ExecContext(ctx, `UPDATE hosts SET last_seen = max(last_seen, ?) WHERE id = ?`, ts(now), hostID)
		return err
	})
	return res, err
}

// ingester holds one Ingest transaction's state.
type ingester struct {
	ctx         context.Context
	tx          *sql.Tx
	host        string
	transitions int
}

// seen reports whether seq is already stored or accounted for.
func (in *ingester) seen(seq, lastSeq uint64) (bool, error) {
	if seq <= lastSeq {
		return true, nil
	}
	var one int
	err := in.tx.QueryRowContext(in.ctx, `SELECT 1 FROM pending WHERE host_id = ? AND lo <= ? AND hi >= ? LIMIT 1`,
		in.host, seq, seq).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// record stores one new record and marks its seq pending until advance moves over it.
func (in *ingester) record(r *wire.Record) error {
	var cs uint64
	var prev, hash string
	if r.Chain != nil {
		cs, prev, hash = r.Chain.Seq, r.Chain.Prev, r.Chain.Hash
	}
	if _, err := in.tx.ExecContext(in.ctx, `INSERT INTO pending (host_id, lo, hi, chain_seq, chain_prev, chain_hash) VALUES (?, ?, ?, ?, ?, ?)`,
		in.host, r.Seq, r.Seq, cs, prev, hash); err != nil {
		return err
	}
	switch r.Kind {
	case wire.KindRun:
		return in.run(r)
	case wire.KindDrift:
		d := r.Drift
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
		_, err = in.tx.ExecContext(in.ctx, `INSERT INTO bans (host_id, time, seq, summary) VALUES (?, ?, ?, ?)
			ON CONFLICT (host_id) DO UPDATE SET time = excluded.time, seq = excluded.seq, summary = excluded.summary
			WHERE excluded.time >= bans.time`, in.host, ts(r.Time), r.Seq, string(b))
		return err
	case wire.KindSpoolDrop:
		// The dropped seqs will never come: account for them so LastSeq can move past.
		_, err := in.tx.ExecContext(in.ctx, `INSERT OR IGNORE INTO pending (host_id, lo, hi) VALUES (?, ?, ?)`,
			in.host, r.SpoolDrop.FromSeq, r.SpoolDrop.ToSeq)
		return err
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

// run stores a run compactly (its results as one JSON value) and observes every result.
func (in *ingester) run(r *wire.Record) error {
	run := r.Run
	results, err := json.Marshal(run.Results)
	if err != nil {
		return err
	}
	finished := run.Finished
	if finished.IsZero() {
		finished = r.Time
	}
	if _, err := in.tx.ExecContext(in.ctx, `INSERT INTO runs (host_id, seq, run_id, policy, mode, baseline_name,
		baseline_sha256, started, finished, results) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		in.host, r.Seq, run.RunID, run.Policy, run.Mode, run.BaselineName, run.BaselineSHA256,
		ts(run.Started), ts(finished), results); err != nil {
		return err
	}
	for _, res := range run.Results {
		if err := in.observe(res.Check, res.Status, res.Actual, res.Expected, run.RunID, wire.CauseObserved, r.Seq, r.Time); err != nil {
			return err
		}
	}
	return nil
}

// observe applies one status seen for (host, check) at time at: a transition when it differs
// from the current status, and the current state updated. expected "" keeps the one known.
func (in *ingester) observe(check, status, actual, expected, runID, cause string, seq uint64, at time.Time) error {
	var cur, curExpected string
	var observed int64
	err := in.tx.QueryRowContext(in.ctx, `SELECT status, expected, observed FROM current WHERE host_id = ? AND check_id = ?`,
		in.host, check).Scan(&cur, &curExpected, &observed)
	first := errors.Is(err, sql.ErrNoRows)
	if err != nil && !first {
		return err
	}
	t := ts(at)
	if !first && t < observed {
		return nil // late: history is not rewritten
	}
	if expected == "" {
		expected = curExpected
	}
	switch {
	case first:
		if _, err := in.tx.ExecContext(in.ctx, `INSERT OR IGNORE INTO checks (check_id) VALUES (?)`, check); err != nil {
			return err
		}
		_, err = in.tx.ExecContext(in.ctx, `INSERT INTO current (host_id, check_id, status, actual, expected, since, observed, run_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, in.host, check, status, actual, expected, t, t, runID)
	case cur == status:
		_, err = in.tx.ExecContext(in.ctx, `UPDATE current SET actual = ?, expected = ?, observed = ?, run_id = ?
			WHERE host_id = ? AND check_id = ?`, actual, expected, t, runID, in.host, check)
		return err
	default:
		_, err = in.tx.ExecContext(in.ctx, `UPDATE current SET status = ?, actual = ?, expected = ?, since = ?, observed = ?, run_id = ?
			WHERE host_id = ? AND check_id = ?`, status, actual, expected, t, t, runID, in.host, check)
	}
	if err != nil {
		return err
	}
	_, err = in.tx.ExecContext(in.ctx, `INSERT INTO transitions (host_id, check_id, time, from_status, to_status, actual, run_id, cause, seq)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, in.host, check, t, cur, status, actual, runID, cause, seq)
	in.transitions++
	return err
}

// alert folds an alert into the host's open alert with the same rule, process, parent and
// command line, or opens a new one.
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

// advance moves LastSeq over the contiguous pending rows from lastSeq+1, checking the evidence
// chain of each record in seq order, deletes the rows it moved over and stores the result.
func (in *ingester) advance(lastSeq uint64) (uint64, error) {
	var chainSeq uint64
	var chainHash string
	var broken bool
	if err := in.tx.QueryRowContext(in.ctx, `SELECT chain_seq, chain_hash, chain_broken FROM hosts WHERE id = ?`, in.host).
		Scan(&chainSeq, &chainHash, &broken); err != nil {
		return 0, err
	}
	rows, err := in.tx.QueryContext(in.ctx, `SELECT lo, hi, chain_seq, chain_prev, chain_hash FROM pending WHERE host_id = ? ORDER BY lo, hi`, in.host)
	if err != nil {
		return 0, err
	}
	last := lastSeq
	for rows.Next() {
		var lo, hi, cs uint64
		var prev, hash string
		if err := rows.Scan(&lo, &hi, &cs, &prev, &hash); err != nil {
			rows.Close()
			return 0, err
		}
		if lo > last+1 {
			break
		}
		last = max(last, hi)
		if hash == "" || cs <= chainSeq {
			continue
		}
		// The first entry the server sees starts the chain; after that each entry must name
		// the hash of the one before it.
		if chainHash != "" && prev != chainHash {
			broken = true
		}
		chainSeq, chainHash = cs, hash
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if last == lastSeq {
		return last, nil
	}
	if _, err := in.tx.ExecContext(in.ctx, `DELETE FROM pending WHERE host_id = ? AND hi <= ?`, in.host, last); err != nil {
		return 0, err
	}
	_, err = in.tx.ExecContext(in.ctx, `UPDATE hosts SET last_seq = ?, chain_seq = ?, chain_hash = ?, chain_broken = ? WHERE id = ?`,
		last, chainSeq, chainHash, broken, in.host)
	return last, err
}

// CurrentResults returns a host's current status per check, ordered by check.
func (s *Store) CurrentResults(ctx context.Context, hostID string) ([]store.Current, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT check_id, status, actual, expected, since, run_id FROM current
		WHERE host_id = ? ORDER BY check_id`, hostID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Current
	for rows.Next() {
		c := store.Current{HostID: hostID}
		var since int64
		if err := rows.Scan(&c.Check, &c.Status, &c.Actual, &c.Expected, &since, &c.RunID); err != nil {
			return nil, err
		}
		c.Since = fromTS(since)
		out = append(out, c)
	}
	return out, rows.Err()
}

// Transitions returns the transitions of a host (hostID "" for every host), of one check
// (check "" for every check), with from ≤ time ≤ to (a zero bound is open), oldest first.
func (s *Store) Transitions(ctx context.Context, hostID, check string, from, to time.Time) ([]store.Transition, error) {
	q := `SELECT host_id, check_id, time, from_status, to_status, actual, run_id, cause, seq FROM transitions WHERE 1`
	var args []any
	if hostID != "" {
		q += ` AND host_id = ?`
		args = append(args, hostID)
	}
	if check != "" {
		q += ` AND check_id = ?`
		args = append(args, check)
	}
	if !from.IsZero() {
		q += ` AND time >= ?`
		args = append(args, ts(from))
	}
	if !to.IsZero() {
		q += ` AND time <= ?`
		args = append(args, ts(to))
	}
	q += ` ORDER BY time, id`
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Transition
	for rows.Next() {
		var t store.Transition
		var at int64
		if err := rows.Scan(&t.HostID, &t.Check, &at, &t.From, &t.To, &t.Actual, &t.RunID, &t.Cause, &t.Seq); err != nil {
			return nil, err
		}
		t.Time = fromTS(at)
		out = append(out, t)
	}
	return out, rows.Err()
}

// Alerts returns a host's alerts (hostID "" for every host), newest first.
func (s *Store) Alerts(ctx context.Context, hostID string, unackedOnly bool) ([]store.StoredAlert, error) {
	q := `SELECT id, host_id, alert, acked_by, acked_at, ack_note, seq, duplicate FROM alerts WHERE 1`
	var args []any
	if hostID != "" {
		q += ` AND host_id = ?`
		args = append(args, hostID)
	}
	if unackedOnly {
		q += ` AND acked_at = 0`
	}
	q += ` ORDER BY id DESC`
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.StoredAlert
	for rows.Next() {
		var a store.StoredAlert
		var body string
		var acked int64
		if err := rows.Scan(&a.ID, &a.HostID, &body, &a.AckedBy, &acked, &a.AckNote, &a.Seq, &a.Duplicate); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(body), &a.Alert); err != nil {
			return nil, fmt.Errorf("alert %d: %w", a.ID, err)
		}
		a.AckedAt = fromTS(acked)
		out = append(out, a)
	}
	return out, rows.Err()
}

// AckAlert acknowledges an open alert; acknowledging it again is ErrConflict (the first
// acknowledgement stands).
func (s *Store) AckAlert(ctx context.Context, id int64, actor, note string, at time.Time) error {
	at = nowIfZero(at)
	return s.write(ctx, func(tx *sql.Tx) error {
		var acked int64
		var host string
		err := tx.QueryRowContext(ctx, `SELECT acked_at, host_id FROM alerts WHERE id = ?`, id).Scan(&acked, &host)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("alert %d: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if acked != 0 {
			return fmt.Errorf("alert %d: already acknowledged: %w", id, store.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE alerts SET acked_by = ?, acked_at = ?, ack_note = ? WHERE id = ?`,
			actor, ts(at), note, id); err != nil {
			return err
		}
		return audit(ctx, tx, at, actor, "alert.ack", fmt.Sprint(id), map[string]string{"host_id": host, "note": note})
	})
}

// Prune deletes runs finished before `before`; transitions, current state and alerts stay.
func (s *Store) Prune(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM runs WHERE finished < ?`, ts(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// LatestRun returns the newest stored run of a host, with its results and their evidence, for
// the host page. It is not part of store.Store yet.
func (s *Store) LatestRun(ctx context.Context, hostID string) (wire.Run, error) {
	var run wire.Run
	var started, finished int64
	var results []byte
	err := s.r.QueryRowContext(ctx, `SELECT run_id, policy, mode, baseline_name, baseline_sha256, started, finished, results
		FROM runs WHERE host_id = ? ORDER BY finished DESC, id DESC LIMIT 1`, hostID).
		Scan(&run.RunID, &run.Policy, &run.Mode, &run.BaselineName, &run.BaselineSHA256, &started, &finished, &results)
	if errors.Is(err, sql.ErrNoRows) {
		return wire.Run{}, fmt.Errorf("runs of host %s: %w", hostID, store.ErrNotFound)
	}
	if err != nil {
		return wire.Run{}, err
	}
	run.Started, run.Finished = fromTS(started), fromTS(finished)
	if err := json.Unmarshal(results, &run.Results); err != nil {
		return wire.Run{}, fmt.Errorf("run %s: %w", run.RunID, err)
	}
	return run, nil
}
