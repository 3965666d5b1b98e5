package postgres

import (
	"context"
	"strings"
	"testing"
)

// TestCheckHistoryQueryPlan: a page is a range of transitions_check_time in its own order, with
// no sort, whatever the bounds.
func TestCheckHistoryQueryPlan(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SET enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(ctx, `RESET enable_seqscan`)
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
