package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// CurrentResults returns a host's current status per check, by check. A row is written only
// when it changes; a check that the host's latest run reported since (observed before that
// run) carries that run's ID.
func (s *Store) CurrentResults(ctx context.Context, hostID string) ([]store.Current, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.host_id, c.check_id, c.status, c.actual, c.expected, c.since,
			CASE WHEN c.check_id = ANY(h.last_run_checks) AND c.observed < h.last_run_at THEN h.last_run_id ELSE c.run_id END
		FROM current c JOIN hosts h ON h.id = c.host_id WHERE c.host_id = $1 ORDER BY c.check_id`, hostID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Current, error) {
		var c store.Current
		err := r.Scan(&c.HostID, &c.Check, &c.Status, &c.Actual, &c.Expected, &c.Since, &c.RunID)
		c.Since = c.Since.UTC()
		return c, err
	})
}

// Transitions returns the transitions of a host (hostID "" for every host), of one check
// (check "" for every check), with from <= time <= to (a zero bound is open), oldest first.
func (s *Store) Transitions(ctx context.Context, hostID, check string, from, to time.Time) ([]store.Transition, error) {
	rows, err := s.pool.Query(ctx, `SELECT host_id, check_id, time, from_status, to_status, actual, run_id, cause, seq
		FROM transitions
		WHERE ($1 = '' OR host_id = $1) AND ($2 = '' OR check_id = $2)
			AND ($3::timestamptz IS NULL OR time >= $3) AND ($4::timestamptz IS NULL OR time <= $4)
		ORDER BY time, id`, hostID, check, tsOrNull(from), tsOrNull(to))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Transition, error) {
		var t store.Transition
		var seq int64
		err := r.Scan(&t.HostID, &t.Check, &t.Time, &t.From, &t.To, &t.Actual, &t.RunID, &t.Cause, &seq)
		t.Time, t.Seq = t.Time.UTC(), uint64(seq)
		return t, err
	})
}

// Alerts returns a host's alerts, or ("") every host's, newest first.
func (s *Store) Alerts(ctx context.Context, hostID string, unackedOnly bool) ([]store.StoredAlert, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, host_id, alert, acked_by, acked_at, ack_note, seq, duplicate FROM alerts
		WHERE ($1 = '' OR host_id = $1) AND (NOT $2 OR acked_at IS NULL) ORDER BY id DESC`, hostID, unackedOnly)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanAlert)
}

// AckAlert acknowledges an open alert; acknowledging it again is store.ErrConflict (the first
// acknowledgement stands).
func (s *Store) AckAlert(ctx context.Context, id int64, actor, note string, at time.Time) error {
	at = nowIfZero(at)
	return s.write(ctx, func(tx pgx.Tx) error {
		var was *time.Time
		var host string
		err := tx.QueryRow(ctx, `SELECT acked_at, host_id FROM alerts WHERE id = $1 FOR UPDATE`, id).Scan(&was, &host)
		if err != nil {
			return fmt.Errorf("alert %d: %w", id, notFound(err))
		}
		if was != nil {
			return fmt.Errorf("alert %d: already acknowledged: %w", id, store.ErrConflict)
		}
		if _, err := tx.Exec(ctx, `UPDATE alerts SET acked_by = $2, acked_at = $3, ack_note = $4 WHERE id = $1`, id, actor, at, note); err != nil {
			return err
		}
		return audit(ctx, tx, at, actor, "alert.ack", fmt.Sprint(id), map[string]string{"host_id": host, "note": note})
	})
}

// PutPolicy creates or replaces the policy of that name, bumping its version.
func (s *Store) PutPolicy(ctx context.Context, p store.Policy, actor string) (store.Policy, error) {
	if p.Name == "" {
		return p, errors.New("policy: needs a name")
	}
	if p.Mode != wire.ModeReport && p.Mode != wire.ModeEnforce {
		return p, fmt.Errorf("policy %s: mode %q: want %s or %s", p.Name, p.Mode, wire.ModeReport, wire.ModeEnforce)
	}
	if p.IntervalSeconds <= 0 {
		return p, fmt.Errorf("policy %s: interval %d s: must be positive", p.Name, p.IntervalSeconds)
	}
	p.UpdatedAt = nowIfZero(p.UpdatedAt).UTC()
	err := s.write(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO policies (name, label, priority, mode, interval_seconds, baseline_yaml, version, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, 1, $7)
			ON CONFLICT (name) DO UPDATE SET label = excluded.label, priority = excluded.priority, mode = excluded.mode,
				interval_seconds = excluded.interval_seconds, baseline_yaml = excluded.baseline_yaml,
				version = policies.version + 1, updated_at = excluded.updated_at
			RETURNING version`, p.Name, p.Label, p.Priority, p.Mode, p.IntervalSeconds, p.BaselineYAML, p.UpdatedAt).Scan(&p.Version)
		if err != nil {
			return err
		}
		return audit(ctx, tx, p.UpdatedAt, actor, "policy.put", p.Name, map[string]any{
			"label": p.Label, "priority": p.Priority, "mode": p.Mode, "interval_seconds": p.IntervalSeconds,
			"baseline_yaml": p.BaselineYAML, "version": p.Version})
	})
	return p, err
}

const policyColumns = `name, label, priority, mode, interval_seconds, baseline_yaml, version, updated_at`

func scanPolicy(r pgx.CollectableRow) (store.Policy, error) {
	var p store.Policy
	err := r.Scan(&p.Name, &p.Label, &p.Priority, &p.Mode, &p.IntervalSeconds, &p.BaselineYAML, &p.Version, &p.UpdatedAt)
	p.UpdatedAt = p.UpdatedAt.UTC()
	return p, err
}

// Policies returns every policy in the order hosts match them: by priority, then name.
func (s *Store) Policies(ctx context.Context) ([]store.Policy, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+policyColumns+` FROM policies ORDER BY priority, name`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanPolicy)
}

// PolicyFor returns the policy of h's first matching label by priority, or the one named
// "default", or store.ErrNotFound.
func (s *Store) PolicyFor(ctx context.Context, h store.Host) (store.Policy, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+policyColumns+` FROM policies
		WHERE (label <> '' AND label = ANY($1)) OR name = 'default'
		ORDER BY (label <> '' AND label = ANY($1)) DESC, priority, name LIMIT 1`, labels(h.Labels))
	if err != nil {
		return store.Policy{}, err
	}
	p, err := pgx.CollectExactlyOneRow(rows, scanPolicy)
	if err != nil {
		return store.Policy{}, fmt.Errorf("policy for host %s: %w", h.ID, notFound(err))
	}
	return p, nil
}

// exemptionColumns are an exemption's columns in scanExemption's order.
const exemptionColumns = `id, host_id, label, check_id, reason, requested_by, approved_by, approved_at, created_at, expires, revoked_at`

func scanExemption(r pgx.Row) (store.Exemption, error) {
	var e store.Exemption
	var approved, expires, revoked *time.Time
	err := r.Scan(&e.ID, &e.HostID, &e.Label, &e.Check, &e.Reason, &e.RequestedBy, &e.ApprovedBy, &approved, &e.CreatedAt, &expires, &revoked)
	e.CreatedAt, e.ApprovedAt, e.Expires, e.RevokedAt = e.CreatedAt.UTC(), fromNull(approved), fromNull(expires), fromNull(revoked)
	return e, err
}

// AddExemption stores an exemption, approved when e.ApprovedBy is set (exemption.create) and
// pending otherwise (exemption.request; see store.AddedExemption); its ID must be new
// (store.ErrConflict).
func (s *Store) AddExemption(ctx context.Context, e store.Exemption, actor string) error {
	if (e.HostID == "") == (e.Label == "") {
		return errors.New("exemption: needs exactly one of a host and a label")
	}
	if e.Check == "" {
		return errors.New("exemption: needs a check")
	}
	e.CreatedAt = nowIfZero(e.CreatedAt)
	e, err := store.AddedExemption(e, actor)
	if err != nil {
		return err
	}
	action := "exemption.create"
	if e.ApprovedAt.IsZero() {
		action = "exemption.request"
	}
	return s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO exemptions (`+exemptionColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			e.ID, e.HostID, e.Label, e.Check, e.Reason, e.RequestedBy, e.ApprovedBy, tsOrNull(e.ApprovedAt), e.CreatedAt,
			tsOrNull(e.Expires), tsOrNull(e.RevokedAt))
		if isUnique(err) {
			return fmt.Errorf("exemption %q: %w", e.ID, store.ErrConflict)
		}
		if err != nil {
			return err
		}
		return audit(ctx, tx, e.CreatedAt, actor, action, e.ID, map[string]any{
			"host_id": e.HostID, "label": e.Label, "check": e.Check, "reason": e.Reason,
			"requested_by": e.RequestedBy, "approved_by": e.ApprovedBy, "expires": e.Expires})
	})
}

// ApproveExemption approves a pending exemption at at, by an admin other than its requester
// (store.Approvable), and audits exemption.approve. The row is locked so that two admins
// approving at once cannot both succeed. An approval stamped before the request (a replica's
// clock behind another's) counts from the request.
func (s *Store) ApproveExemption(ctx context.Context, id, actor string, at time.Time) error {
	at = nowIfZero(at)
	return s.write(ctx, func(tx pgx.Tx) error {
		e, err := scanExemption(tx.QueryRow(ctx, `SELECT `+exemptionColumns+` FROM exemptions WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("exemption %q: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if err := store.Approvable(e, actor, at); err != nil {
			return err
		}
		approved := at
		if approved.Before(e.CreatedAt) {
			approved = e.CreatedAt
		}
		if _, err := tx.Exec(ctx, `UPDATE exemptions SET approved_by = $2, approved_at = $3 WHERE id = $1`, id, actor, approved); err != nil {
			return err
		}
		return audit(ctx, tx, at, actor, "exemption.approve", id, map[string]any{
			"host_id": e.HostID, "label": e.Label, "check": e.Check, "requested_by": e.RequestedBy})
	})
}

// RevokeExemption ends an exemption at at, pending or approved.
func (s *Store) RevokeExemption(ctx context.Context, id, actor string, at time.Time) error {
	return s.revoke(ctx, "exemptions", "exemption.revoke", id, actor, at)
}

// Exemptions returns the exemptions in force at at (approved by then, not expired, not
// revoked: the rule of activeExemptions, which ComplianceAt applies), or every exemption,
// pending ones included, when at is zero; oldest first. A zero Expires never expires.
func (s *Store) Exemptions(ctx context.Context, at time.Time) ([]store.Exemption, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+exemptionColumns+` FROM exemptions e
		WHERE $1::timestamptz IS NULL OR (`+activeExemptions+`)
		ORDER BY created_at, id`, tsOrNull(at))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Exemption, error) { return scanExemption(r) })
}

// Prune deletes the stored runs confirmed before before (a run still being repeated stays,
// however old its first run) and returns how many. finished <= confirmed, so the range of
// runs_finished before before holds them all. It also folds the
// delta rows of the hours before the current one into one row per (label, hour, check,
// status): ComplianceAt then sums one row per hour instead of one per transition. Folding
// keeps every sum, and an hour-aligned row counts exactly where its transitions did for every
// instant outside that hour (and ComplianceAt reads its instant's own hour from the
// transitions), so it changes no answer, whenever it runs. The server runs Prune hourly under
// an advisory lock; should two run at once, the second deletes nothing the first did.
func (s *Store) Prune(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM runs WHERE finished < $1 AND confirmed < $1`, before)
	if err != nil {
		return 0, err
	}
	cutoff := time.Now().UTC().Truncate(time.Hour)
	for _, q := range []string{foldStatusDeltas, foldPostureDeltas} {
		if _, err := s.pool.Exec(ctx, q, cutoff); err != nil {
			return int(tag.RowsAffected()), fmt.Errorf("fold compliance counts: %w", err)
		}
	}
	// ComplianceAt reads the deltas by index-only scans, which are slow over the dead rows a
	// fold leaves until they are vacuumed. The tables are small (a row per label, hour, check
	// and status), so vacuuming them now costs little and does not wait for autovacuum.
	if _, err := s.pool.Exec(ctx, `VACUUM (ANALYZE) status_deltas, posture_deltas`); err != nil {
		return int(tag.RowsAffected()), fmt.Errorf("vacuum compliance counts: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// foldStatusDeltas replaces the raw status delta rows before $1 by their sums per hour.
// Rows another transaction adds meanwhile are not seen by the DELETE and stay raw until the
// next fold.
const foldStatusDeltas = `WITH gone AS (
	DELETE FROM status_deltas WHERE raw AND time < $1 RETURNING label, time, check_id, status, n)
INSERT INTO status_deltas (label, time, check_id, status, n, raw)
SELECT label, date_trunc('hour', time, 'UTC'), check_id, status, sum(n), false FROM gone
GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0`

const foldPostureDeltas = `WITH gone AS (
	DELETE FROM posture_deltas WHERE raw AND time < $1 RETURNING label, time, state, n)
INSERT INTO posture_deltas (label, time, state, n, raw)
SELECT label, date_trunc('hour', time, 'UTC'), state, sum(n), false FROM gone
GROUP BY 1, 2, 3 HAVING sum(n) <> 0`

// LatestRun returns the newest stored run of a host (the greatest finished, then id), with its
// results and their evidence and how long they were confirmed; store.ErrNotFound when none is
// kept.
func (s *Store) LatestRun(ctx context.Context, hostID string) (store.StoredRun, error) {
	var sr store.StoredRun
	run := &sr.Run
	var results []byte
	var seq int64
	err := s.pool.QueryRow(ctx, `SELECT seq, run_id, policy, mode, baseline_name, baseline_sha256, started, finished, results,
			confirmed, repeats, last_run_id
		FROM runs WHERE host_id = $1 ORDER BY finished DESC, id DESC LIMIT 1`, hostID).
		Scan(&seq, &run.RunID, &run.Policy, &run.Mode, &run.BaselineName, &run.BaselineSHA256, &run.Started, &run.Finished, &results,
			&sr.Confirmed, &sr.Repeats, &sr.LastRunID)
	if err != nil {
		return store.StoredRun{}, fmt.Errorf("runs of host %s: %w", hostID, notFound(err))
	}
	sr.Seq = uint64(seq)
	run.Started, run.Finished, sr.Confirmed = run.Started.UTC(), run.Finished.UTC(), sr.Confirmed.UTC()
	if err := json.Unmarshal(results, &run.Results); err != nil {
		return store.StoredRun{}, fmt.Errorf("run %s: %w", run.RunID, err)
	}
	return sr, nil
}

// LatestBans implements store.Store: the bans table keeps one summary per host, the newest by seq.
func (s *Store) LatestBans(ctx context.Context, hostID string) (wire.Bans, time.Time, error) {
	var at time.Time
	var summary []byte
	err := s.pool.QueryRow(ctx, `SELECT time, summary FROM bans WHERE host_id = $1`, hostID).Scan(&at, &summary)
	if err != nil {
		return wire.Bans{}, time.Time{}, fmt.Errorf("bans of host %s: %w", hostID, notFound(err))
	}
	var b wire.Bans
	if err := json.Unmarshal(summary, &b); err != nil {
		return wire.Bans{}, time.Time{}, fmt.Errorf("bans of host %s: %w", hostID, err)
	}
	return b, at.UTC(), nil
}
