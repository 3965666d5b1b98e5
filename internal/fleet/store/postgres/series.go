package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

// qStatusDeltasSeries sums the status deltas before $3 per instant they first count for: $1
// holds each instant's `until` (point), ascending and on the hour, and a delta at time τ counts
// for the instants whose until is after τ, that is from the instant numbered (from 0) by how
// many untils are at or before τ (width_bucket). One index-only range of
// status_deltas_label_time, as qStatusDeltas.
const qStatusDeltasSeries = `SELECT width_bucket(time, $1::timestamptz[]), check_id, status, sum(n)
	FROM status_deltas WHERE label = $2 AND time < $3 AND ($4 = '' OR check_id = $4) GROUP BY 1, 2, 3`

const qPostureDeltasSeries = `SELECT width_bucket(time, $1::timestamptz[]), state, sum(n)
	FROM posture_deltas WHERE label = $2 AND time < $3 GROUP BY 1, 2`

// qHostsBefore counts the hosts (with the label $2) enrolled by $1, and qHostsDuring those
// enrolled after $1 up to the last instant ($3) per instant they first count for: $4 holds
// each instant plus a microsecond, so that width_bucket numbers a host enrolled at e by how
// many instants are before e. Both are ranges of hosts_enrolled (the label is a filter).
const (
	qHostsBefore = `SELECT count(*) FROM hosts WHERE enrolled_at <= $1 AND ($2 = '' OR labels @> ARRAY[$2]::text[])`
	qHostsDuring = `SELECT width_bucket(enrolled_at, $4::timestamptz[]), count(*) FROM hosts
	WHERE enrolled_at > $1 AND enrolled_at <= $3 AND ($2 = '' OR labels @> ARRAY[$2]::text[]) GROUP BY 1`
)

// qRevokedSeries lists the revoked hosts (with the label $1), few, from hosts_revoked.
const qRevokedSeries = `SELECT enrolled_at, revoked_at FROM hosts
	WHERE revoked_at IS NOT NULL AND ($1 = '' OR labels @> ARRAY[$1]::text[])`

// ComplianceSeries answers ComplianceAt at every instant of q in one snapshot and three round
// trips. The deltas are summed once, per instant they first count for; the hosts enrolled in
// the series' span are counted once per instant they first count for, and the revoked ones
// read once; and what
// ComplianceAt does besides (finishPoints) is one statement for every instant, then a batch.
func (s *Store) ComplianceSeries(ctx context.Context, q store.SeriesQuery) ([]store.Compliance, error) {
	instants, err := store.SeriesInstants(q)
	if err != nil {
		return nil, err
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)

	points := make([]*point, len(instants))
	untils := make([]time.Time, len(instants))
	for i, at := range instants {
		points[i] = newPoint(at, q.Label, q.Check)
		untils[i] = points[i].until
	}
	last := untils[len(untils)-1]
	// bucket[k] are the deltas that first count for instant k; the running sum is below.
	buckets := make([]*point, len(instants))
	for i := range buckets {
		buckets[i] = newPoint(instants[i], q.Label, q.Check)
	}
	scanBuckets := func(posture bool) func(pgx.Rows) error {
		return func(rows pgx.Rows) error {
			defer rows.Close()
			for rows.Next() {
				var k, n int
				var chk, status string
				dest := []any{&k, &chk, &status, &n}
				if posture {
					dest = []any{&k, &status, &n}
				}
				if err := rows.Scan(dest...); err != nil {
					return err
				}
				if posture {
					buckets[k].posture[status] += n
				} else {
					buckets[k].add(chk, status, n)
				}
			}
			return rows.Err()
		}
	}
	var before int
	enrolled := make([]int, len(instants)) // hosts first counted at each instant, after the first
	after := make([]time.Time, len(instants))
	for i, at := range instants {
		after[i] = at.Truncate(time.Microsecond).Add(time.Microsecond)
	}
	type revokedHost struct{ enrolled, revoked time.Time }
	var revoked []revokedHost
	var b pgx.Batch
	b.Queue(qStatusDeltasSeries, untils, q.Label, last, q.Check).Query(scanBuckets(false))
	if q.Check == "" {
		b.Queue(qPostureDeltasSeries, untils, q.Label, last).Query(scanBuckets(true))
	}
	b.Queue(qHostsBefore, q.From, q.Label).QueryRow(func(r pgx.Row) error { return r.Scan(&before) })
	b.Queue(qHostsDuring, q.From, q.Label, instants[len(instants)-1], after).Query(func(rows pgx.Rows) error {
		defer rows.Close()
		for rows.Next() {
			var k, n int
			if err := rows.Scan(&k, &n); err != nil {
				return err
			}
			enrolled[k] += n
		}
		return rows.Err()
	})
	b.Queue(qRevokedSeries, q.Label).Query(func(rows pgx.Rows) (err error) {
		revoked, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (revokedHost, error) {
			var h revokedHost
			err := r.Scan(&h.enrolled, &h.revoked)
			return h, err
		})
		return err
	})
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return nil, err
	}

	// Each instant counts what the one before it counted, plus the deltas that first count
	// for it.
	for i, p := range points {
		for _, from := range []*point{buckets[i], points[max(i-1, 0)]} {
			if i == 0 && from != buckets[0] {
				continue
			}
			for chk, m := range from.counts {
				for st, n := range m {
					p.add(chk, st, n)
				}
			}
			for st, n := range from.posture {
				p.posture[st] += n
			}
		}
		before += enrolled[i]
		p.c.Hosts = before
		for _, h := range revoked {
			if !h.enrolled.After(p.c.At) && !h.revoked.After(p.c.At) {
				p.c.Hosts--
			}
		}
	}
	if err := finishPoints(ctx, tx, q.Label, q.Check, points); err != nil {
		return nil, err
	}
	out := make([]store.Compliance, len(points))
	for i, p := range points {
		out[i] = p.c
		if q.Check == "" {
			out[i].PerCheck = nil
		}
	}
	return out, nil
}
