package sqlite

import (
	"strings"
	"testing"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

// TestAlertsPageQueryPlan: every page of alerts, with any filter and cursor, is a range of an
// index read backwards by id, with no sort of the alerts.
func TestAlertsPageQueryPlan(t *testing.T) {
	s := openTemp(t)
	tests := []struct {
		name string
		q    store.AlertQuery
		want []string // one of these indexes
	}{
		{"every alert", store.AlertQuery{Limit: 10}, []string{"SCAN alerts"}},
		{"next page", store.AlertQuery{BeforeID: 42, Limit: 10}, []string{"USING INTEGER PRIMARY KEY (rowid<?)"}},
		{"open", store.AlertQuery{UnackedOnly: true, BeforeID: 42, Limit: 10}, []string{"USING INDEX alerts_open"}},
		{"host", store.AlertQuery{HostID: "h", BeforeID: 42, Limit: 200}, []string{"USING INDEX alerts_host (host_id=? AND id<?)"}},
		{"host open", store.AlertQuery{HostID: "h", UnackedOnly: true, Limit: 200}, []string{"USING INDEX alerts_host (host_id=?)"}},
		{"severity", store.AlertQuery{Severity: "high", BeforeID: 42, Limit: 100}, []string{"USING INDEX alerts_severity (<expr>=? AND id<?)"}},
		{"severity open", store.AlertQuery{Severity: "high", UnackedOnly: true, Limit: 100}, []string{"USING INDEX alerts_severity (<expr>=?)"}},
		{"host severity", store.AlertQuery{HostID: "h", Severity: "high", Limit: 100}, []string{"USING INDEX alerts_host (host_id=?)"}},
		{"host severity open", store.AlertQuery{HostID: "h", Severity: "high", UnackedOnly: true, BeforeID: 42, Limit: 100}, []string{"USING INDEX alerts_host (host_id=? AND id<?)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			query, args := alertsPageSQL(tt.q)
			got := explain(t, s, query, args...)
			found := false
			for _, w := range tt.want {
				found = found || strings.Contains(got, w)
			}
			if !found || strings.Contains(got, "TEMP B-TREE") {
				t.Errorf("plan of %+v = %q, want one of %q and no sort", tt.q, got, tt.want)
			}
			if testing.Verbose() {
				t.Logf("%s: %s", tt.name, got)
			}
		})
	}
}

// explain is SQLite's query plan of query, its lines joined by "; ".
func explain(t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	rows, err := s.r.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("EXPLAIN %s = %v", query, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "; ")
}
