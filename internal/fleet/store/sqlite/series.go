package sqlite

import (
	"context"
	"database/sql"
	"strconv"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

// ComplianceSeries answers ComplianceAt at every instant of q. What costs ComplianceAt its
// time is summing the hourly deltas from the beginning and counting the hosts in scope; here
// the deltas are summed once up to the first instant, then from each instant to the next (a
// range of the deltas' primary key), and the enrolled and revoked hosts are read once. What is
// left per instant is what ComplianceAt does besides (complianceFrom): the transitions of at
// most half of the instant's hour, exemptions, revoked hosts' statuses and the stale hosts,
// each a short index range.
func (s *Store) ComplianceSeries(ctx context.Context, q store.SeriesQuery) ([]store.Compliance, error) {
	instants, err := store.SeriesInstants(q)
	if err != nil {
		return nil, err
	}
	from := ts(q.From)
	until := deltasUntil(from)
	acc, err := s.deltasBefore(ctx, until, q.Label, q.Check)
	if err != nil {
		return nil, err
	}
	scope, err := s.hostsDuring(ctx, from, q.Label)
	if err != nil {
		return nil, err
	}
	out := make([]store.Compliance, 0, len(instants))
	for _, at := range instants {
		// The deltas of the hours since the instant before: a day's at most, not the whole
		// history that ComplianceAt sums each time.
		if u := deltasUntil(ts(at)); u > until {
			if err := s.addDeltas(ctx, &acc, until, u, q.Label, q.Check); err != nil {
				return nil, err
			}
			until = u
		}
		c, err := s.complianceFrom(ctx, at, q.Label, q.Check, acc.clone(), scope)
		if err != nil {
			return nil, err
		}
		if q.Check == "" {
			c.PerCheck = nil
		}
		out = append(out, c)
	}
	return out, nil
}

// hostsDuring is the hostScope of every instant from `from` on: how many hosts (with label)
// there are, read once, less those enrolled after the instant (counted only for the instants
// before the newest enrollment, from whichever side of the instant has fewer), less the
// revoked ones (few, read once from hosts_revoked).
func (s *Store) hostsDuring(ctx context.Context, from int64, label string) (hostScope, error) {
	var total int
	var newest sql.NullInt64
	q := `SELECT count(*), (SELECT max(enrolled_at) FROM hosts) FROM hosts`
	if label != "" {
		q = `SELECT count(*), (SELECT max(enrolled_at) FROM hosts) FROM host_labels WHERE label = ?9`
	}
	if err := s.r.QueryRowContext(ctx, q, bind9(q, label)...).Scan(&total, &newest); err != nil {
		return nil, err
	}
	qLate := `SELECT count(*) FROM hosts WHERE enrolled_at > ?1` + inLabel(label, "hosts.id")
	qEarly := `SELECT count(*) FROM hosts WHERE enrolled_at <= ?1` + inLabel(label, "hosts.id")
	qEarlyCapped := `SELECT count(*) FROM (SELECT 1 FROM hosts WHERE enrolled_at <= ? LIMIT ` + strconv.Itoa(s.denseRows) + `)`
	type revokedHost struct {
		id                string
		enrolled, revoked int64
	}
	var revoked []revokedHost
	q = `SELECT id, enrolled_at, revoked_at FROM hosts INDEXED BY hosts_revoked WHERE revoked_at != 0` + inLabel(label, "hosts.id")
	if err := s.each(ctx, q, bind9(q, label), func(sc func(...any) error) error {
		var h revokedHost
		err := sc(&h.id, &h.enrolled, &h.revoked)
		revoked = append(revoked, h)
		return err
	}); err != nil {
		return nil, err
	}
	return func(ctx context.Context, t int64) (int, []string, error) {
		n := total
		if newest.Valid && newest.Int64 > t {
			// Some hosts enrolled after t. Count whichever side of t is small: those enrolled
			// by t when they are few (the instants before the fleet grew), else the later ones.
			var early int
			if err := s.r.QueryRowContext(ctx, qEarlyCapped, t).Scan(&early); err != nil {
				return 0, nil, err
			}
			q, sub := qLate, true
			if early < s.denseRows {
				q, sub = qEarly, false
			}
			var k int
			if err := s.r.QueryRowContext(ctx, q, bind9(q, label, t)...).Scan(&k); err != nil {
				return 0, nil, err
			}
			if sub {
				n -= k
			} else {
				n = k
			}
		}
		var ids []string
		for _, h := range revoked {
			if h.enrolled <= t && h.revoked <= t {
				n--
				ids = append(ids, h.id)
			}
		}
		return n, ids, nil
	}, nil
}
