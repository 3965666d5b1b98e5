package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

// TestAlertsPagePlans: every page of alerts, with any filter and cursor, reads an index by id
// backwards under its LIMIT, without sorting the alerts and without scanning the table.
func TestAlertsPagePlans(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	conn := planConn(t, s)
	tests := []struct {
		name string
		q    store.AlertQuery
		want string
	}{
		{"every alert", store.AlertQuery{Limit: 10}, "alerts_pkey"},
		{"next page", store.AlertQuery{BeforeID: 42, Limit: 10}, "alerts_pkey"},
		// Every host's open alerts: on empty tables PostgreSQL reads them all from
		// alerts_open_key and sorts them (see migration 0010); not checked here.
		{"host open", store.AlertQuery{HostID: "h", UnackedOnly: true, Limit: 200}, "alerts_host"},
		{"severity open", store.AlertQuery{Severity: "high", UnackedOnly: true, Limit: 100}, "alerts_severity"},
		{"host", store.AlertQuery{HostID: "h", BeforeID: 42, Limit: 200}, "alerts_host"},
		{"severity", store.AlertQuery{Severity: "high", BeforeID: 42, Limit: 100}, "alerts_severity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			query, args := alertsPageSQL(tt.q)
			rows, err := conn.Query(ctx, "EXPLAIN "+query, args...)
			if err != nil {
				t.Fatalf("EXPLAIN %s = %v", query, err)
			}
			var plan []string
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, strings.TrimSpace(line))
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			got := strings.Join(plan, "\n")
			if !strings.Contains(got, "Index Scan Backward using "+tt.want+" ") || strings.Contains(got, "Sort") ||
				strings.Contains(got, "Seq Scan") {
				t.Errorf("plan of %+v does not read %s backwards without a sort:\n%s", tt.q, tt.want, got)
			}
		})
	}
}
