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

const exemptionColumns = `id, host_id, label, check_id, reason, requested_by, approved_by, approved_at, created_at, expires, revoked_at`

// checkExemption refuses an exemption that names no check or not exactly one of a host and a
// label.
func checkExemption(e store.Exemption) error {
	if e.ID == "" || e.Check == "" || (e.HostID == "") == (e.Label == "") {
		return errors.New("exemption: needs an id, a check and exactly one of a host id and a label")
	}
	return nil
}

// exemptionAction is the audit action of adding e: a request waits for approval.
func exemptionAction(e store.Exemption) string {
	if e.ApprovedAt.IsZero() {
		return "exemption.request"
	}
	return "exemption.create"
}

// AddExemption stores an exemption, approved when e.ApprovedBy is set (exemption.create) and
// pending otherwise (exemption.request), and audits it.
func (s *Store) AddExemption(ctx context.Context, e store.Exemption, actor string) error {
	if err := checkExemption(e); err != nil {
		return err
	}
	e.CreatedAt = nowIfZero(e.CreatedAt)
	e, err := store.AddedExemption(e, actor)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO exemptions (`+exemptionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.ID, e.HostID, e.Label, e.Check, e.Reason, e.RequestedBy, e.ApprovedBy, ts(e.ApprovedAt), ts(e.CreatedAt), ts(e.Expires), ts(e.RevokedAt))
		if isUnique(err) {
			return fmt.Errorf("exemption %s: %w", e.ID, store.ErrConflict)
		}
		if err != nil {
			return err
		}
		return audit(ctx, tx, e.CreatedAt, actor, exemptionAction(e), e.ID, map[string]any{
			"host_id": e.HostID, "label": e.Label, "check": e.Check, "reason": e.Reason,
			"requested_by": e.RequestedBy, "approved_by": e.ApprovedBy, "expires": e.Expires,
		})
	})
}

// ApproveExemption approves a pending exemption at at, by an admin other than its requester,
// and audits exemption.approve. An approval stamped before the request (a replica's clock
// behind another's) counts from the request.
func (s *Store) ApproveExemption(ctx context.Context, id, actor string, at time.Time) error {
	at = nowIfZero(at)
	return s.write(ctx, func(tx *sql.Tx) error {
		e, err := scanExemption(tx.QueryRowContext(ctx, `SELECT `+exemptionColumns+` FROM exemptions WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("exemption %s: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if err := store.Approvable(e, actor, at); err != nil {
			return err
		}
		approved := max(ts(at), ts(e.CreatedAt))
		if _, err := tx.ExecContext(ctx, `UPDATE exemptions SET approved_by = ?, approved_at = ? WHERE id = ?`, actor, approved, id); err != nil {
			return err
		}
		return audit(ctx, tx, at, actor, "exemption.approve", id, map[string]any{
			"host_id": e.HostID, "label": e.Label, "check": e.Check, "requested_by": e.RequestedBy,
		})
	})
}

func scanExemption(sc interface{ Scan(...any) error }) (store.Exemption, error) {
	var e store.Exemption
	var approved, created, expires, revoked int64
	if err := sc.Scan(&e.ID, &e.HostID, &e.Label, &e.Check, &e.Reason, &e.RequestedBy, &e.ApprovedBy, &approved, &created, &expires, &revoked); err != nil {
		return store.Exemption{}, err
	}
	e.ApprovedAt, e.CreatedAt, e.Expires, e.RevokedAt = fromTS(approved), fromTS(created), fromTS(expires), fromTS(revoked)
	return e, nil
}

// RevokeExemption ends an exemption at `at`, pending or approved; its history stays.
func (s *Store) RevokeExemption(ctx context.Context, id, actor string, at time.Time) error {
	return s.revoke(ctx, "exemptions", "exemption.revoke", id, actor, at)
}

// Exemptions returns the exemptions in force at `at` (approved by then, neither expired nor
// revoked by then), or every exemption ever, pending ones included, when at is zero; oldest
// first. ComplianceAt reads exemptions only through it, so a pending exemption excuses nothing
// and an approved one only from its approval.
func (s *Store) Exemptions(ctx context.Context, at time.Time) ([]store.Exemption, error) {
	q := `SELECT ` + exemptionColumns + ` FROM exemptions`
	var args []any
	if !at.IsZero() {
		q += ` WHERE approved_at <> 0 AND approved_at <= ?1 AND (expires = 0 OR expires > ?1) AND (revoked_at = 0 OR revoked_at > ?1)`
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
		e, err := scanExemption(rows)
		if err != nil {
			return nil, err
		}
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
