package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

// AlertsPage is one page of the alerts q selects, newest first by ID (first seen), read
// through the indexes of migration 0010 (see store.Store).
func (s *Store) AlertsPage(ctx context.Context, q store.AlertQuery) ([]store.StoredAlert, error) {
	if q.Limit <= 0 {
		return nil, errors.New("alerts page: a limit above 0 is required")
	}
	query, args := alertsPageSQL(q)
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanAlert)
}

// alertsPageSQL is AlertsPage's statement. Each filter is written out only when set (not as
// an OR with an empty parameter), so that the planner can pick the partial and expression
// index it matches whatever the plan cache does with the parameters.
func alertsPageSQL(q store.AlertQuery) (string, []any) {
	query := `SELECT id, host_id, alert, acked_by, acked_at, ack_note, seq, duplicate FROM alerts WHERE true`
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if q.HostID != "" {
		query += ` AND host_id = ` + arg(q.HostID)
	}
	if q.UnackedOnly {
		query += ` AND acked_at IS NULL`
	}
	if q.Severity != "" {
		query += ` AND (alert ->> 'severity') = ` + arg(q.Severity)
	}
	if q.BeforeID > 0 {
		query += ` AND id < ` + arg(q.BeforeID)
	}
	query += ` ORDER BY id DESC LIMIT ` + arg(q.Limit)
	return query, args
}

// scanAlert reads a row of SELECT id, host_id, alert, acked_by, acked_at, ack_note, seq,
// duplicate FROM alerts.
func scanAlert(r pgx.CollectableRow) (store.StoredAlert, error) {
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
}
