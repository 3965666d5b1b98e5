package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
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

// BenchmarkAlertsPage reads pages of 100,000 alerts (1,000 hosts, 100 each, a third of them
// acknowledged, severities mixed) as the dashboard asks for them, against Alerts reading them
// all as the dashboard did before AlertsPage. The alerts are written directly, not through
// Ingest, to build quickly.
func BenchmarkAlertsPage(b *testing.B) {
	const hosts, perHost = 1000, 100
	s := openTemp(b)
	ctx := context.Background()
	for i := range hosts {
		id := fmt.Sprintf("h%04d", i)
		if _, err := s.EnrollHost(ctx, store.Host{ID: id, UUID: "u" + id, EnrolledAt: time.Unix(0, 0)}, []byte(id)); err != nil {
			b.Fatal(err)
		}
	}
	tx, err := s.w.Begin()
	if err != nil {
		b.Fatal(err)
	}
	sevs := []string{"critical", "high", "medium", "low"}
	for n := range hosts * perHost {
		// Alert n belongs to host n%hosts: every host's alerts are spread over the whole id range.
		a := wire.Alert{Rule: fmt.Sprintf("rule-%d", n), Severity: sevs[n%len(sevs)], Count: 1}
		js, _ := json.Marshal(a)
		acked := int64(0)
		if n%3 == 0 {
			acked = 1
		}
		if _, err := tx.Exec(`INSERT INTO alerts (host_id, rule, process, parent, command_line, alert, seq, acked_at) VALUES (?, ?, '', '', '', ?, ?, ?)`,
			fmt.Sprintf("h%04d", n%hosts), a.Rule, string(js), n, acked); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	mid := int64(hosts * perHost / 2)
	for _, bb := range []struct {
		name string
		q    store.AlertQuery
	}{
		{"newest10", store.AlertQuery{Limit: 10}},
		{"deep100", store.AlertQuery{BeforeID: mid, Limit: 100}},
		{"unacked100", store.AlertQuery{UnackedOnly: true, BeforeID: mid, Limit: 100}},
		{"severity100", store.AlertQuery{Severity: "low", BeforeID: mid, Limit: 100}},
		{"host200", store.AlertQuery{HostID: "h0500", Limit: 201}},
		{"host_severity", store.AlertQuery{HostID: "h0500", Severity: "critical", Limit: 201}},
	} {
		b.Run(bb.name, func(b *testing.B) {
			for b.Loop() {
				if as, err := s.AlertsPage(ctx, bb.q); err != nil || len(as) == 0 {
					b.Fatalf("AlertsPage(%+v) = %d alerts, %v", bb.q, len(as), err)
				}
			}
		})
	}
	// What the overview did before: every alert, to show ten.
	b.Run("Alerts/every", func(b *testing.B) {
		for b.Loop() {
			if as, err := s.Alerts(ctx, "", false); err != nil || len(as) != hosts*perHost {
				b.Fatalf("Alerts = %d alerts, %v", len(as), err)
			}
		}
	})
}
