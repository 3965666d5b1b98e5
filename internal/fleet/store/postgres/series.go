package postgres

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

// qStatusDeltasSeries sums the status deltas from the hour $4 to before the hour $5 per
// instant they first count for: a delta at time τ counts for the instant From + k·Step ($1,
// $2 seconds) when τ is before that instant's hour, that is from k = ⌈(trunc_hour(τ) + 1h −
// From) / Step⌉ on. One index-only range of status_deltas_label_time, as qStatusDeltas.
const qStatusDeltasSeries = `SELECT ceil(extract(epoch FROM date_trunc('hour', time, 'UTC') + interval '1 hour' - $1::timestamptz) / $2::numeric)::int,
	check_id, status, sum(n) FROM status_deltas
	WHERE label = $3 AND time >= $4 AND time < $5 AND ($6 = '' OR check_id = $6) GROUP BY 1, 2, 3`

const qPostureDeltasSeries = `SELECT ceil(extract(epoch FROM date_trunc('hour', time, 'UTC') + interval '1 hour' - $1::timestamptz) / $2::numeric)::int,
	state, sum(n) FROM posture_deltas
	WHERE label = $3 AND time >= $4 AND time < $5 GROUP BY 1, 2`

// qHostsSeries counts the hosts (with the label $2) enrolled by $1 and lists when the others
// enrolled: one read of the hosts, which the counts of every instant from $1 on need.
const qHostsSeries = `SELECT count(*) FILTER (WHERE enrolled_at <= $1),
	coalesce(array_agg(enrolled_at) FILTER (WHERE enrolled_at > $1), '{}')
	FROM hosts WHERE $2 = '' OR labels @> ARRAY[$2]::text[]`

// qRevokedSeries lists the revoked hosts (with the label $1), few, from hosts_revoked.
const qRevokedSeries = `SELECT enrolled_at, revoked_at FROM hosts
	WHERE revoked_at IS NOT NULL AND ($1 = '' OR labels @> ARRAY[$1]::text[])`

// ComplianceSeries answers ComplianceAt at every instant of q in one snapshot and a few round
// trips. The deltas before the first instant's hour are summed once, those up to the last
// instant's hour once per instant they first count for, and the hosts are read once (their
// number at each instant follows from when each enrolled, and was revoked); what ComplianceAt
// does besides (finishPoints) is queued for every instant in one batch, then one more.
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

	first := q.From.UTC().Truncate(time.Hour)
	last := instants[len(instants)-1].UTC().Truncate(time.Hour)
	base := newPoint(q.From, q.Label, q.Check)
	buckets := make([]*point, len(instants))
	for i, at := range instants {
		buckets[i] = newPoint(at, q.Label, q.Check)
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
	var total int
	var late []time.Time
	type revokedHost struct{ enrolled, revoked time.Time }
	var revoked []revokedHost
	step := q.Step.Seconds()
	var b pgx.Batch
	b.Queue(qStatusDeltas, first, q.Label, q.Check).Query(base.scanCounts)
	b.Queue(qStatusDeltasSeries, q.From, step, q.Label, first, last, q.Check).Query(scanBuckets(false))
	if q.Check == "" {
		b.Queue(qPostureDeltas, first, q.Label).Query(base.scanPosture)
		b.Queue(qPostureDeltasSeries, q.From, step, q.Label, first, last).Query(scanBuckets(true))
	}
	b.Queue(qHostsSeries, q.From, q.Label).QueryRow(func(r pgx.Row) error { return r.Scan(&total, &late) })
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
	slices.SortFunc(late, time.Time.Compare)

	// Each instant starts from the one before it, plus the deltas that first count for it.
	for i, p := range buckets {
		prev := base
		if i > 0 {
			prev = buckets[i-1]
		}
		for chk, m := range prev.counts {
			for st, n := range m {
				p.add(chk, st, n)
			}
		}
		for st, n := range prev.posture {
			p.posture[st] += n
		}
	}
	for _, p := range buckets {
		at := p.c.At
		enrolled, _ := slices.BinarySearchFunc(late, at, func(e, t time.Time) int {
			if e.After(t) {
				return 1
			}
			return -1
		})
		p.c.Hosts = total + enrolled
		for _, h := range revoked {
			if !h.enrolled.After(at) && !h.revoked.After(at) {
				p.c.Hosts--
			}
		}
	}
	if err := finishPoints(ctx, tx, buckets); err != nil {
		return nil, err
	}
	out := make([]store.Compliance, len(buckets))
	for i, p := range buckets {
		out[i] = p.c
		if q.Check == "" {
			out[i].PerCheck = nil
		}
	}
	return out, nil
}
