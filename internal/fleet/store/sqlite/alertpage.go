package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

// AlertsPage is one page of the alerts q selects, newest first by ID (first seen), read
// through the indexes of migration 0010 (see store.Store).
func (s *Store) AlertsPage(ctx context.Context, q store.AlertQuery) ([]store.StoredAlert, error) {
	if q.Limit <= 0 {
		return nil, errors.New("alerts page: a limit above 0 is required")
	}
	query, args := alertsPageSQL(q)
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return scanAlerts(rows)
}

// alertsPageSQL is AlertsPage's statement. Each filter is written out only when set (not as
// an OR with an empty parameter), so that the planner can pick the partial and expression
// index it matches.
func alertsPageSQL(q store.AlertQuery) (string, []any) {
	query := `SELECT id, host_id, alert, acked_by, acked_at, ack_note, seq, duplicate FROM alerts WHERE 1`
	var args []any
	if q.HostID != "" {
		query += ` AND host_id = ?`
		args = append(args, q.HostID)
	}
	if q.UnackedOnly {
		query += ` AND acked_at = 0`
	}
	if q.Severity != "" {
		// With a host, the unary + keeps the severity index out: a host's alerts are few, the
		// fleet's of one severity are not, and without statistics SQLite would take the latter.
		sev := `json_extract(alert, '$.severity')`
		if q.HostID != "" {
			sev = "+" + sev
		}
		query += ` AND ` + sev + ` = ?`
		args = append(args, q.Severity)
	}
	if q.BeforeID > 0 {
		query += ` AND id < ?`
		args = append(args, q.BeforeID)
	}
	query += ` ORDER BY id DESC LIMIT ?`
	return query, append(args, q.Limit)
}

// scanAlerts reads the rows of a SELECT id, host_id, alert, acked_by, acked_at, ack_note, seq,
// duplicate FROM alerts, and closes them.
func scanAlerts(rows *sql.Rows) ([]store.StoredAlert, error) {
	defer rows.Close()
	var out []store.StoredAlert
	for rows.Next() {
		var a store.StoredAlert
		var body string
		var acked int64
		if err := rows.Scan(&a.ID, &a.HostID, &body, &a.AckedBy, &acked, &a.AckNote, &a.Seq, &a.Duplicate); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(body), &a.Alert); err != nil {
			return nil, fmt.Errorf("alert %d: %w", a.ID, err)
		}
		a.AckedAt = fromTS(acked)
		out = append(out, a)
	}
	return out, rows.Err()
}
