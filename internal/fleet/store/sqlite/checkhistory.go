package sqlite

import (
	"context"
	"errors"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

// checkHistorySQL is CheckHistory's statement for q.
func checkHistorySQL(q store.CheckHistoryQuery) (string, []any) {
	query := `SELECT id, host_id, check_id, time, from_status, to_status, actual, run_id, cause, seq
		FROM transitions INDEXED BY transitions_check_time WHERE check_id = ?`
	args := []any{q.Check}
	if !q.From.IsZero() {
		query += ` AND time >= ?`
		args = append(args, ts(q.From))
	}
	if !q.To.IsZero() {
		query += ` AND time <= ?`
		args = append(args, ts(q.To))
	}
	if q.BeforeID != 0 {
		query += ` AND (time, id) < (?, ?)`
		args = append(args, ts(q.BeforeTime), q.BeforeID)
	}
	query += ` ORDER BY time DESC, id DESC LIMIT ?`
	return query, append(args, q.Limit)
}

// CheckHistory implements store.Store: a range of the index on (check_id, time), read
// backwards from the cursor and stopped after the page.
func (s *Store) CheckHistory(ctx context.Context, q store.CheckHistoryQuery) ([]store.CheckTransition, error) {
	if q.Check == "" || q.Limit <= 0 {
		return nil, errors.New("check history: a check and a limit above 0 are required")
	}
	query, args := checkHistorySQL(q)
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.CheckTransition
	for rows.Next() {
		var t store.CheckTransition
		var at int64
		if err := rows.Scan(&t.ID, &t.HostID, &t.Check, &at, &t.From, &t.To, &t.Actual, &t.RunID, &t.Cause, &t.Seq); err != nil {
			return nil, err
		}
		t.Time = fromTS(at)
		out = append(out, t)
	}
	return out, rows.Err()
}
