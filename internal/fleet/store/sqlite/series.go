package sqlite

import (
	"context"
	"slices"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

// ComplianceSeries answers ComplianceAt at every instant of q in a few queries. What costs
// ComplianceAt its time is summing the hourly deltas from the beginning and counting the hosts
// in scope; here the deltas before the first instant's hour are summed once, those of the
// hours up to the last instant's are summed by the database per instant they first count for,
// and the enrolled and revoked hosts are read once. What is left per instant is what
// ComplianceAt does besides (complianceFrom): the transitions of the instant's own hour up to
// it, exemptions, revoked hosts' statuses and the stale hosts, each a short index range.
func (s *Store) ComplianceSeries(ctx context.Context, q store.SeriesQuery) ([]store.Compliance, error) {
	instants, err := store.SeriesInstants(q)
	if err != nil {
		return nil, err
	}
	from, step := ts(q.From), int64(q.Step)
	first, last := hourOf(from), hourOf(ts(instants[len(instants)-1]))
	acc, err := s.deltasBefore(ctx, first, q.Label, q.Check)
	if err != nil {
		return nil, err
	}

	// The deltas of hour h count for instant k on when hourOf(from + k·step) > h, that is from
	// k = ⌈((h+1)·1h − from) / step⌉ (between 1 and len(instants)-1 for first ≤ h < last).
	buckets := make([]deltaSums, len(instants))
	deltas, postureDeltas, labelCond := deltaTables(q.Label)
	const k = `((hour + 1) * 3600000000000 - ?1 + ?2 - 1) / ?2`
	sq := `SELECT ` + k + `, check_id, status, sum(n) FROM ` + deltas + ` WHERE hour >= ?3 AND hour < ?4` + labelCond
	if q.Check != "" {
		sq += ` AND check_id = ?5`
	}
	sq += ` GROUP BY 1, 2, 3`
	if err := s.each(ctx, sq, bind9(sq, q.Label, from, step, first, last, q.Check), func(sc func(...any) error) error {
		var i, n int
		var chk, status string
		if err := sc(&i, &chk, &status, &n); err != nil {
			return err
		}
		buckets[i].addStatus(chk, status, n)
		return nil
	}); err != nil {
		return nil, err
	}
	if q.Check == "" {
		sq = `SELECT ` + k + `, state, sum(n) FROM ` + postureDeltas + ` WHERE hour >= ?3 AND hour < ?4` + labelCond + ` GROUP BY 1, 2`
		if err := s.each(ctx, sq, bind9(sq, q.Label, from, step, first, last), func(sc func(...any) error) error {
			var i, n int
			var state string
			if err := sc(&i, &state, &n); err != nil {
				return err
			}
			buckets[i].addPosture(state, n)
			return nil
		}); err != nil {
			return nil, err
		}
	}

	scope, err := s.hostsDuring(ctx, from, q.Label)
	if err != nil {
		return nil, err
	}
	out := make([]store.Compliance, 0, len(instants))
	for i, at := range instants {
		for chk, m := range buckets[i].status {
			for st, n := range m {
				acc.addStatus(chk, st, n)
			}
		}
		for st, n := range buckets[i].posture {
			acc.addPosture(st, n)
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

// hostsDuring is the hostScope of every instant from `from` on, from three reads: how many
// hosts (with label) there are, when those enrolled after from were, and the revoked ones
// (few, from the hosts_revoked index).
func (s *Store) hostsDuring(ctx context.Context, from int64, label string) (hostScope, error) {
	var total int
	q := `SELECT count(*) FROM hosts`
	if label != "" {
		q = `SELECT count(*) FROM host_labels WHERE label = ?9`
	}
	if err := s.r.QueryRowContext(ctx, q, bind9(q, label)...).Scan(&total); err != nil {
		return nil, err
	}
	var late []int64 // enrolled_at of the hosts enrolled after from
	q = `SELECT enrolled_at FROM hosts WHERE enrolled_at > ?1` + inLabel(label, "hosts.id")
	if err := s.each(ctx, q, bind9(q, label, from), func(sc func(...any) error) error {
		var t int64
		err := sc(&t)
		late = append(late, t)
		return err
	}); err != nil {
		return nil, err
	}
	slices.Sort(late)
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
	return func(_ context.Context, t int64) (int, []string, error) {
		// Enrolled by t: all but those enrolled after t, which enrolled after from too.
		notYet, _ := slices.BinarySearch(late, t+1)
		n := total - (len(late) - notYet)
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
