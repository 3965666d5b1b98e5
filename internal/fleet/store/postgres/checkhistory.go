package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

const checkHistorySQL = `SELECT id, host_id, check_id, time, from_status, to_status, actual, run_id, cause, seq
	FROM transitions
	WHERE check_id = $1
		AND ($2::timestamptz IS NULL OR time >= $2) AND ($3::timestamptz IS NULL OR time <= $3)
		AND ($5::bigint = 0 OR (time, id) < ($4::timestamptz, $5))
	ORDER BY time DESC, id DESC LIMIT $6`

// CheckHistory implements store.Store: a range of the index on (check_id, time DESC, id DESC),
// read from the cursor and stopped after the page.
func (s *Store) CheckHistory(ctx context.Context, q store.CheckHistoryQuery) ([]store.CheckTransition, error) {
	if q.Check == "" || q.Limit <= 0 {
		return nil, errors.New("check history: a check and a limit above 0 are required")
	}
	// The open bounds are spelled as conditions that are always true rather than left out, so
	// one statement serves every page; the planner sees the values (pgx sends them with the
	// unnamed statement) and keeps the index range.
	rows, err := s.pool.Query(ctx, checkHistorySQL,
		q.Check, tsOrNull(q.From), tsOrNull(q.To), tsOrNull(q.BeforeTime), q.BeforeID, q.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.CheckTransition, error) {
		var t store.CheckTransition
		var seq int64
		err := r.Scan(&t.ID, &t.HostID, &t.Check, &t.Time, &t.From, &t.To, &t.Actual, &t.RunID, &t.Cause, &seq)
		t.Time, t.Seq = t.Time.UTC(), uint64(seq)
		return t, err
	})
}
