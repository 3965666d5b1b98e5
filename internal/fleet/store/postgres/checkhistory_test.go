package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

// TestCheckHistoryQueryPlan: a page is a range of transitions_check_time in its own order, with
// no sort, whatever the bounds.
func TestCheckHistoryQueryPlan(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	conn := planConn(t, s)
	tests := []struct {
		name string
		args []any
		want []string
	}{
		{"first page", []any{"alf", nil, nil, nil, int64(0), 100}, []string{"Index Cond: (check_id = 'alf'::text)"}},
		{"window", []any{"alf", t0, t0.Add(1e9), nil, int64(0), 100}, []string{"check_id = 'alf'::text", `"time" >= `, `"time" <= `}},
		{"next page", []any{"alf", t0, nil, t0.Add(1e9), int64(42), 100}, []string{"check_id = 'alf'::text", "ROW(\"time\", id) < ROW("}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := conn.Query(ctx, "EXPLAIN "+checkHistorySQL, tt.args...)
			if err != nil {
				t.Fatalf("EXPLAIN = %v", err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, line)
			}
			got := strings.Join(plan, "\n")
			for _, w := range append(tt.want, "transitions_check_time") {
				if !strings.Contains(got, w) {
					t.Errorf("plan:\n%s\nwant %q", got, w)
				}
			}
			if strings.Contains(got, "Sort") || strings.Contains(got, "Seq Scan") {
				t.Errorf("plan:\n%s\nwant no Sort and no Seq Scan", got)
			}
		})
	}
}

// TestCheckHistoryIndexWithStatistics: with a fleet's worth of analysed transitions, the index
// added for CheckHistory serves CheckHistory, and ComplianceAt's per-host probe keeps
// transitions_host_check_time (on empty tables the two tie, see TestQueryPlans).
func TestCheckHistoryIndexWithStatistics(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	// 300 hosts, 17 checks, 60,000 transitions over six weeks.
	for i := 1; i <= 300; i++ {
		id := fmt.Sprintf("h%d", i)
		if _, err := s.EnrollHost(ctx, store.Host{ID: id, UUID: "u-" + id, Hostname: id, EnrolledAt: t0, LastSeen: t0}, hash(id)); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`INSERT INTO transitions (host_id, check_id, time, from_status, to_status, actual, run_id, cause, seq)
			SELECT 'h' || (1 + g % 300), 'c' || (g % 17), $1::timestamptz - (g || ' minutes')::interval, 'pass', 'fail', '', 'r', 'observed', g
			FROM generate_series(1, 60000) g`,
		`INSERT INTO current (host_id, check_id, status, actual, expected, since, observed, run_id)
			SELECT 'h' || h, 'c' || c, 'pass', '', '', $1, $1, 'r' FROM generate_series(1, 300) h, generate_series(0, 16) c`,
	} {
		if _, err := s.pool.Exec(ctx, q, t0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		query string
		args  []any
		want  string
	}{
		{"check history", checkHistorySQL, []any{"c3", nil, nil, nil, int64(0), 100}, "Index Scan using transitions_check_time"},
		{"check history, next page", checkHistorySQL, []any{"c3", nil, nil, t0.Add(-time.Hour), int64(59000), 100}, "Index Scan using transitions_check_time"},
		{"stale compliant for a check", qStaleCheck, []any{t0, "", []string{}, "c3"}, "transitions_host_check_time"},
		{"compliance exact", qExactAt, []any{t0, []string{"h1"}, []string{"h2"}}, "transitions_host_check_time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := s.pool.Query(ctx, "EXPLAIN "+tt.query, tt.args...)
			if err != nil {
				t.Fatalf("EXPLAIN = %v", err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, line)
			}
			got := strings.Join(plan, "\n")
			if !strings.Contains(got, tt.want) || strings.Contains(got, "Seq Scan on transitions") || strings.Contains(got, "Sort") {
				t.Errorf("plan:\n%s\nwant %q, no Sort and no Seq Scan on transitions", got, tt.want)
			}
		})
	}
}
