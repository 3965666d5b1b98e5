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

// CurrentResults returns a host's current status per check, by check.
func (s *Store) CurrentResults(ctx context.Context, hostID string) ([]store.Current, error) {
	rows, err := s.pool.Query(ctx, `SELECT host_id, check_id, status, actual, expected, since, run_id
		FROM current WHERE host_id = $1 ORDER BY check_id`, hostID)
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

// complianceSQL answers ComplianceAt in one statement.
//
// For each (host, check) the status at $1 is the current one when it began at or before $1
// (nearly every row, and all of them for "now": a plain scan of current), otherwise the last
// transition at or before $1, a backward probe of transitions_host_check_time for just the
// rows current_since finds. A failing status (not an error: an exemption excuses a known
// deviation, not a check that could not run) under an exemption active at $1 counts as
// exempt. One pass of GROUPING SETS then counts per (check, status) and per host; the outer
// query turns the per-host rows into verdicts.
const complianceSQL = `
WITH h AS (
	SELECT id, labels FROM hosts
	WHERE enrolled_at <= $1 AND (revoked_at IS NULL OR revoked_at > $1)
		AND ($2 = '' OR labels @> ARRAY[$2]::text[])
), st AS (
	SELECT c.host_id, c.check_id, c.status FROM current c
	WHERE c.since <= $1 AND ($3 = '' OR c.check_id = $3)
	UNION ALL
	SELECT c.host_id, c.check_id, t.to_status FROM current c
	CROSS JOIN LATERAL (
		SELECT t.to_status FROM transitions t
		WHERE t.host_id = c.host_id AND t.check_id = c.check_id AND t.time <= $1
		ORDER BY t.time DESC, t.id DESC LIMIT 1) t
	WHERE c.since > $1 AND ($3 = '' OR c.check_id = $3)
), ex AS (
	SELECT h.id AS host_id, st.check_id,
		CASE WHEN st.status = 'fail' AND EXISTS (
			SELECT 1 FROM exemptions e
			WHERE e.check_id = st.check_id AND e.created_at <= $1 AND (e.expires IS NULL OR e.expires > $1)
				AND (e.revoked_at IS NULL OR e.revoked_at > $1)
				AND (e.host_id = h.id OR e.label <> '' AND h.labels @> ARRAY[e.label]))
		THEN 'exempt' ELSE st.status END AS status
	FROM h LEFT JOIN st ON st.host_id = h.id
), agg AS (
	SELECT GROUPING(host_id) AS per_check, host_id, check_id, status, count(*) AS rows, count(status) AS n,
		coalesce(bool_and(status IN ('pass', 'managed', 'exempt', 'not_applicable')), true) AS ok
	FROM ex GROUP BY GROUPING SETS ((check_id, status), (host_id))
)
SELECT check_id, status, rows FROM agg WHERE per_check = 1 AND status IS NOT NULL
UNION ALL
SELECT NULL, CASE WHEN n = 0 THEN 'no_data' WHEN ok THEN 'compliant' ELSE 'non_compliant' END, count(*)
FROM agg WHERE per_check = 0 GROUP BY 2`

// ComplianceAt counts the hosts enrolled (and not revoked) at at, of one label and for one
// check when given, by verdict and per check by status, from the current state and the
// transitions, never the runs. A host is compliant when it has a result and every result is
// compliant (wire.Compliant, or failing under an active exemption); it has no data when no
// check has a status yet at at. Labels are the hosts' current labels.
func (s *Store) ComplianceAt(ctx context.Context, at time.Time, label, check string) (store.Compliance, error) {
	c := store.Compliance{At: at, PerCheck: map[string]store.CheckCount{}}
	if check != "" {
		c.PerCheck[check] = store.CheckCount{} // asked for: present even with no result
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return c, err
	}
	defer tx.Rollback(ctx)
	// The statement holds a row per (host, check): with the default 4 MB of work_mem they
	// spill to temporary files already at 10,000 hosts (EXPLAIN ANALYZE: temp written), and
	// Memoize hashes 130,000 probe keys that never repeat. Both for this transaction only.
	if _, err := tx.Exec(ctx, `SET LOCAL work_mem = '128MB'; SET LOCAL enable_memoize = off`); err != nil {
		return c, err
	}
	rows, err := tx.Query(ctx, complianceSQL, at, label, check)
	if err != nil {
		return c, err
	}
	defer rows.Close()
	for rows.Next() {
		var checkID *string
		var status string
		var n int
		if err := rows.Scan(&checkID, &status, &n); err != nil {
			return c, err
		}
		if checkID == nil {
			switch status {
			case "no_data":
				c.NoData = n
			case "compliant":
				c.Compliant = n
			default:
				c.NonCompliant = n
			}
			c.Hosts += n
			continue
		}
		cc := c.PerCheck[*checkID]
		switch status {
		case wire.StatusPass:
			cc.Pass += n
		case wire.StatusFail:
			cc.Fail += n
		case wire.StatusError:
			cc.Error += n
		case wire.StatusExempt:
			cc.Exempt += n
		case wire.StatusManaged:
			cc.Managed += n
		case wire.StatusNotApplicable:
			cc.NotApplicable += n
		}
		c.PerCheck[*checkID] = cc
	}
	return c, rows.Err()
}

// Alerts returns a host's alerts, or ("") every host's, newest first.
func (s *Store) Alerts(ctx context.Context, hostID string, unackedOnly bool) ([]store.StoredAlert, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, host_id, alert, acked_by, acked_at, ack_note, seq, duplicate FROM alerts
		WHERE ($1 = '' OR host_id = $1) AND (NOT $2 OR acked_at IS NULL) ORDER BY id DESC`, hostID, unackedOnly)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.StoredAlert, error) {
		var a store.StoredAlert
		var js []byte
		var acked *time.Time
		var seq int64
		if err := r.Scan(&a.ID, &a.HostID, &js, &a.AckedBy, &acked, &a.AckNote, &seq, &a.Duplicate); err != nil {
			return a, err
		}
		a.AckedAt, a.Seq = fromNull(acked), uint64(seq)
		if err := json.Unmarshal(js, &a.Alert); err != nil {
			return a, fmt.Errorf("alert %d: %w", a.ID, err)
		}
		a.Alert.FirstSeen, a.Alert.LastSeen = a.Alert.FirstSeen.UTC(), a.Alert.LastSeen.UTC()
		return a, nil
	})
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

// AddExemption stores an exemption; its ID must be new (store.ErrConflict).
func (s *Store) AddExemption(ctx context.Context, e store.Exemption, actor string) error {
	if (e.HostID == "") == (e.Label == "") {
		return errors.New("exemption: needs exactly one of a host and a label")
	}
	if e.Check == "" {
		return errors.New("exemption: needs a check")
	}
	e.CreatedAt = nowIfZero(e.CreatedAt)
	return s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO exemptions (id, host_id, label, check_id, reason, approved_by, created_at, expires, revoked_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			e.ID, e.HostID, e.Label, e.Check, e.Reason, e.ApprovedBy, e.CreatedAt, tsOrNull(e.Expires), tsOrNull(e.RevokedAt))
		if isUnique(err) {
			return fmt.Errorf("exemption %q: %w", e.ID, store.ErrConflict)
		}
		if err != nil {
			return err
		}
		return audit(ctx, tx, e.CreatedAt, actor, "exemption.create", e.ID, map[string]any{
			"host_id": e.HostID, "label": e.Label, "check": e.Check, "reason": e.Reason,
			"approved_by": e.ApprovedBy, "expires": e.Expires})
	})
}

// RevokeExemption ends an exemption at at.
func (s *Store) RevokeExemption(ctx context.Context, id, actor string, at time.Time) error {
	return s.revoke(ctx, "exemptions", "exemption.revoke", id, actor, at)
}

// Exemptions returns the exemptions in force at at (created, not expired, not revoked), or
// every exemption when at is zero, oldest first. A zero Expires never expires.
func (s *Store) Exemptions(ctx context.Context, at time.Time) ([]store.Exemption, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, host_id, label, check_id, reason, approved_by, created_at, expires, revoked_at
		FROM exemptions
		WHERE $1::timestamptz IS NULL OR (created_at <= $1 AND (expires IS NULL OR expires > $1) AND (revoked_at IS NULL OR revoked_at > $1))
		ORDER BY created_at, id`, tsOrNull(at))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Exemption, error) {
		var e store.Exemption
		var expires, revoked *time.Time
		err := r.Scan(&e.ID, &e.HostID, &e.Label, &e.Check, &e.Reason, &e.ApprovedBy, &e.CreatedAt, &expires, &revoked)
		e.CreatedAt, e.Expires, e.RevokedAt = e.CreatedAt.UTC(), fromNull(expires), fromNull(revoked)
		return e, err
	})
}

// Prune deletes the runs finished before before and returns how many.
func (s *Store) Prune(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM runs WHERE finished < $1`, before)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

// LatestRun returns the newest stored run of a host, with its results and their evidence, for
// the host page (store.ErrNotFound when none is kept).
// TODO(postgres helper): repeats (store.StoredRun); until then every run is stored.
func (s *Store) LatestRun(ctx context.Context, hostID string) (store.StoredRun, error) {
	var seq int64
	run, err := s.latestRun(ctx, hostID, &seq)
	return store.StoredRun{Run: run, Seq: uint64(seq), Confirmed: run.Finished, LastRunID: run.RunID}, err
}

func (s *Store) latestRun(ctx context.Context, hostID string, seq *int64) (wire.Run, error) {
	var run wire.Run
	var results []byte
	err := s.pool.QueryRow(ctx, `SELECT seq, run_id, policy, mode, baseline_name, baseline_sha256, started, finished, results
		FROM runs WHERE host_id = $1 ORDER BY finished DESC, id DESC LIMIT 1`, hostID).
		Scan(seq, &run.RunID, &run.Policy, &run.Mode, &run.BaselineName, &run.BaselineSHA256, &run.Started, &run.Finished, &results)
	if err != nil {
		return wire.Run{}, fmt.Errorf("runs of host %s: %w", hostID, notFound(err))
	}
	run.Started, run.Finished = run.Started.UTC(), run.Finished.UTC()
	if err := json.Unmarshal(results, &run.Results); err != nil {
		return wire.Run{}, fmt.Errorf("run %s: %w", run.RunID, err)
	}
	return run, nil
}
