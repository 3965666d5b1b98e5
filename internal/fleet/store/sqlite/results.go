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
	return scanAlerts(rows)
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

// Prune deletes the runs last confirmed before `before`; transitions, current state and alerts
// stay.
func (s *Store) Prune(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		// The latest runs' counters are in their host rows: copy them into the runs rows
		// first, then forget the latest runs deleted.
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET confirmed = h.run_confirmed, repeats = h.run_repeats,
			last_run_id = h.run_last_id FROM hosts h WHERE runs.id = h.run_rowid AND h.run_repeats > 0`); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM runs WHERE confirmed < ?`, ts(before))
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE hosts SET run_rowid = 0, run_digest = '', run_finished = 0, run_confirmed = 0,
			run_repeats = 0, run_last_id = '' WHERE run_rowid != 0 AND run_rowid NOT IN (SELECT id FROM runs)`)
		return err
	})
	return int(n), err
}

// LatestRun returns the newest stored run of a host, with its results and their evidence, and
// how long they were confirmed.
func (s *Store) LatestRun(ctx context.Context, hostID string) (store.StoredRun, error) {
	var r store.StoredRun
	var started, finished, confirmed int64
	var results []byte
	// The latest run's counters are in its host row (see storeRun).
	err := s.r.QueryRowContext(ctx, `SELECT r.seq, r.run_id, r.policy, r.mode, r.baseline_name, r.baseline_sha256, r.started,
		r.finished, r.results, iif(h.run_rowid = r.id, h.run_confirmed, r.confirmed), iif(h.run_rowid = r.id, h.run_repeats, r.repeats),
		iif(h.run_rowid = r.id, h.run_last_id, r.last_run_id)
		FROM runs r JOIN hosts h ON h.id = r.host_id WHERE r.host_id = ? ORDER BY r.finished DESC, r.id DESC LIMIT 1`, hostID).
		Scan(&r.Seq, &r.RunID, &r.Policy, &r.Mode, &r.BaselineName, &r.BaselineSHA256, &started, &finished, &results,
			&confirmed, &r.Repeats, &r.LastRunID)
	if errors.Is(err, sql.ErrNoRows) {
		return store.StoredRun{}, fmt.Errorf("runs of host %s: %w", hostID, store.ErrNotFound)
	}
	if err != nil {
		return store.StoredRun{}, err
	}
	r.Started, r.Finished, r.Confirmed = fromTS(started), fromTS(finished), fromTS(confirmed)
	if err := json.Unmarshal(results, &r.Results); err != nil {
		return store.StoredRun{}, fmt.Errorf("run %s: %w", r.RunID, err)
	}
	return r, nil
}

// LatestBans implements store.Store: the bans table keeps one summary per host, the newest by seq.
func (s *Store) LatestBans(ctx context.Context, hostID string) (wire.Bans, time.Time, error) {
	var at int64
	var summary []byte
	err := s.r.QueryRowContext(ctx, `SELECT time, summary FROM bans WHERE host_id = ?`, hostID).Scan(&at, &summary)
	if errors.Is(err, sql.ErrNoRows) {
		return wire.Bans{}, time.Time{}, fmt.Errorf("bans of host %s: %w", hostID, store.ErrNotFound)
	}
	if err != nil {
		return wire.Bans{}, time.Time{}, err
	}
	var b wire.Bans
	if err := json.Unmarshal(summary, &b); err != nil {
		return wire.Bans{}, time.Time{}, fmt.Errorf("bans of host %s: %w", hostID, err)
	}
	return b, fromTS(at), nil
}
