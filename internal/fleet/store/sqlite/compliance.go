package sqlite

import (
	"context"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// ComplianceAt counts, as of the instant at, the hosts enrolled then (and not revoked by
// then), optionally only those with label and only for check.
//
// It reads transitions, never runs: for each check one query over the covering index
// (check_id, host_id, time, to_status) gives every host's last transition at or before at.
// A failing check with an exemption active at at (for the host or one of its labels) counts
// as exempt. A host is compliant when it has a status for at least one counted check and
// every such status is compliant; a host with none is NoData. Labels are the hosts' current
// labels.
func (s *Store) ComplianceAt(ctx context.Context, at time.Time, label, check string) (store.Compliance, error) {
	c := store.Compliance{At: at, PerCheck: map[string]store.CheckCount{}}
	t := ts(at)

	hq := `SELECT id FROM hosts WHERE enrolled_at <= ?1 AND (revoked_at = 0 OR revoked_at > ?1)`
	args := []any{t}
	if label != "" {
		hq += ` AND id IN (SELECT host_id FROM host_labels WHERE label = ?2)`
		args = append(args, label)
	}
	hosts := map[string]*hostState{}
	rows, err := s.r.QueryContext(ctx, hq, args...)
	if err != nil {
		return c, err
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return c, err
		}
		hosts[id] = &hostState{}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return c, err
	}

	exempt, err := s.exemptAt(ctx, at, hosts)
	if err != nil {
		return c, err
	}

	var checks []string
	if check != "" {
		checks = []string{check}
	} else {
		rows, err := s.r.QueryContext(ctx, `SELECT check_id FROM checks ORDER BY check_id`)
		if err != nil {
			return c, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return c, err
			}
			checks = append(checks, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return c, err
		}
	}

	for _, chk := range checks {
		rows, err := s.r.QueryContext(ctx, qStatusAt, chk, t)
		if err != nil {
			return c, err
		}
		var cc store.CheckCount
		counted := false
		for rows.Next() {
			var host, status string
			var when int64
			if err := rows.Scan(&host, &status, &when); err != nil {
				rows.Close()
				return c, err
			}
			h := hosts[host]
			if h == nil {
				continue
			}
			if status == wire.StatusFail && exempt[exemptKey{host, chk}] {
				status = wire.StatusExempt
			}
			counted = true
			h.seen = true
			if !wire.Compliant(status) {
				h.bad = true
			}
			switch status {
			case wire.StatusPass:
				cc.Pass++
			case wire.StatusFail:
				cc.Fail++
			case wire.StatusError:
				cc.Error++
			case wire.StatusExempt:
				cc.Exempt++
			case wire.StatusManaged:
				cc.Managed++
			case wire.StatusNotApplicable:
				cc.NotApplicable++
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return c, err
		}
		if counted || check != "" {
			c.PerCheck[chk] = cc
		}
	}

	c.Hosts = len(hosts)
	for _, h := range hosts {
		switch {
		case !h.seen:
			c.NoData++
		case h.bad:
			c.NonCompliant++
		default:
			c.Compliant++
		}
	}
	return c, nil
}

// hostState is what ComplianceAt learns about one host.
type hostState struct {
	seen bool // a status for at least one counted check
	bad  bool // one of them not compliant
}

// qStatusAt is, for one check, every host's last transition at or before an instant. SQLite
// returns the bare columns of the row that holds max(time) in each group; the covering index
// (check_id, host_id, time, to_status) answers it without touching the table (TestQueryPlans).
const qStatusAt = `SELECT host_id, to_status, max(time) FROM transitions WHERE check_id = ? AND time <= ? GROUP BY host_id`

type exemptKey struct{ host, check string }

// exemptAt returns the (host, check) pairs among hosts that an exemption active at at covers.
func (s *Store) exemptAt(ctx context.Context, at time.Time, hosts map[string]*hostState) (map[exemptKey]bool, error) {
	es, err := s.Exemptions(ctx, at)
	if err != nil {
		return nil, err
	}
	out := map[exemptKey]bool{}
	for _, e := range es {
		if e.HostID != "" {
			if _, ok := hosts[e.HostID]; ok {
				out[exemptKey{e.HostID, e.Check}] = true
			}
			continue
		}
		rows, err := s.r.QueryContext(ctx, `SELECT host_id FROM host_labels WHERE label = ?`, e.Label)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			if _, ok := hosts[id]; ok {
				out[exemptKey{id, e.Check}] = true
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
