package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

const policyColumns = `name, label, priority, mode, interval_seconds, baseline_yaml, version, updated_at`

func scanPolicy(sc interface{ Scan(...any) error }) (store.Policy, error) {
	var p store.Policy
	var updated int64
	err := sc.Scan(&p.Name, &p.Label, &p.Priority, &p.Mode, &p.IntervalSeconds, &p.BaselineYAML, &p.Version, &updated)
	p.UpdatedAt = fromTS(updated)
	return p, err
}

// PutPolicy creates or replaces the policy with p.Name, bumps its Version and audits it. The
// Version given is ignored: the store owns it.
func (s *Store) PutPolicy(ctx context.Context, p store.Policy, actor string) (store.Policy, error) {
	if p.Name == "" {
		return store.Policy{}, errors.New("policy: needs a name")
	}
	p.UpdatedAt = nowIfZero(p.UpdatedAt)
	var out store.Policy
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = scanPolicy(tx.QueryRowContext(ctx, `INSERT INTO policies (`+policyColumns+`) VALUES (?, ?, ?, ?, ?, ?, 1, ?)
			ON CONFLICT (name) DO UPDATE SET label = excluded.label, priority = excluded.priority, mode = excluded.mode,
				interval_seconds = excluded.interval_seconds, baseline_yaml = excluded.baseline_yaml,
				version = policies.version + 1, updated_at = excluded.updated_at
			RETURNING `+policyColumns,
			p.Name, p.Label, p.Priority, p.Mode, p.IntervalSeconds, p.BaselineYAML, ts(p.UpdatedAt)))
		if err != nil {
			return err
		}
		return audit(ctx, tx, p.UpdatedAt, actor, "policy.put", p.Name, map[string]any{
			"label": p.Label, "priority": p.Priority, "mode": p.Mode, "interval_seconds": p.IntervalSeconds,
			"version": out.Version, "baseline_bytes": len(p.BaselineYAML),
		})
	})
	return out, err
}

// Policies returns every policy: the labelled ones by priority, then name.
func (s *Store) Policies(ctx context.Context) ([]store.Policy, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+policyColumns+` FROM policies ORDER BY priority, name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Policy
	for rows.Next() {
		p, err := scanPolicy(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// PolicyFor returns the policy of the host's first matching label in priority order (then by
// name), else the policy named "default", else ErrNotFound (the server then applies the
// built-in default: report mode, hourly, the built-in baseline).
func (s *Store) PolicyFor(ctx context.Context, h store.Host) (store.Policy, error) {
	labels := h.Labels
	if h.ID != "" {
		// The stored labels are authoritative; the caller's copy may be stale.
		stored, err := s.Host(ctx, h.ID)
		if err == nil {
			labels = stored.Labels
		} else if !errors.Is(err, store.ErrNotFound) {
			return store.Policy{}, err
		}
	}
	ps, err := s.Policies(ctx)
	if err != nil {
		return store.Policy{}, err
	}
	has := map[string]bool{}
	for _, l := range labels {
		has[l] = true
	}
	for _, p := range ps {
		if p.Label != "" && has[p.Label] {
			return p, nil
		}
	}
	for _, p := range ps {
		if p.Name == "default" {
			return p, nil
		}
	}
	return store.Policy{}, fmt.Errorf("policy for host %s: %w", h.ID, store.ErrNotFound)
}

const exemptionColumns = `id, host_id, label, check_id, reason, approved_by, created_at, expires, revoked_at`

// AddExemption stores an exemption and audits it.
func (s *Store) AddExemption(ctx context.Context, e store.Exemption, actor string) error {
	if e.ID == "" || e.Check == "" || (e.HostID == "") == (e.Label == "") {
		return errors.New("exemption: needs an id, a check and exactly one of a host id and a label")
	}
	e.CreatedAt = nowIfZero(e.CreatedAt)
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO exemptions (`+exemptionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.ID, e.HostID, e.Label, e.Check, e.Reason, e.ApprovedBy, ts(e.CreatedAt), ts(e.Expires), ts(e.RevokedAt))
		if isUnique(err) {
			return fmt.Errorf("exemption %s: %w", e.ID, store.ErrConflict)
		}
		if err != nil {
			return err
		}
		return audit(ctx, tx, e.CreatedAt, actor, "exemption.create", e.ID, map[string]any{
			"host_id": e.HostID, "label": e.Label, "check": e.Check, "reason": e.Reason,
			"approved_by": e.ApprovedBy, "expires": e.Expires,
		})
	})
}

// RevokeExemption ends an exemption at `at`; its history stays.
func (s *Store) RevokeExemption(ctx context.Context, id, actor string, at time.Time) error {
	return s.revoke(ctx, "exemptions", "exemption.revoke", id, actor, at)
}

// Exemptions returns the exemptions active at `at` (created by then, neither expired nor
// revoked by then), or every exemption ever when at is zero, oldest first.
func (s *Store) Exemptions(ctx context.Context, at time.Time) ([]store.Exemption, error) {
	q := `SELECT ` + exemptionColumns + ` FROM exemptions`
	var args []any
	if !at.IsZero() {
		q += ` WHERE created_at <= ?1 AND (expires = 0 OR expires > ?1) AND (revoked_at = 0 OR revoked_at > ?1)`
		args = append(args, ts(at))
	}
	q += ` ORDER BY created_at, id`
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Exemption
	for rows.Next() {
		var e store.Exemption
		var created, expires, revoked int64
		if err := rows.Scan(&e.ID, &e.HostID, &e.Label, &e.Check, &e.Reason, &e.ApprovedBy, &created, &expires, &revoked); err != nil {
			return nil, err
		}
		e.CreatedAt, e.Expires, e.RevokedAt = fromTS(created), fromTS(expires), fromTS(revoked)
		out = append(out, e)
	}
	return out, rows.Err()
}

// AuditLog returns the admin actions at or after since, oldest first.
func (s *Store) AuditLog(ctx context.Context, since time.Time) ([]store.Audit, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, time, actor, action, target, detail FROM audit WHERE time >= ? ORDER BY id`, ts(since))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Audit
	for rows.Next() {
		var a store.Audit
		var at int64
		if err := rows.Scan(&a.ID, &at, &a.Actor, &a.Action, &a.Target, &a.Detail); err != nil {
			return nil, err
		}
		a.Time = fromTS(at)
		out = append(out, a)
	}
	return out, rows.Err()
}
