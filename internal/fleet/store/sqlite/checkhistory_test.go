package sqlite

import (
	"strings"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

var chT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// TestCheckHistoryQueryPlan: a page is a range of the (check_id, time) index read backwards,
// with no sort and no scan of the table, whatever the bounds.
func TestCheckHistoryQueryPlan(t *testing.T) {
	s := openTemp(t)
	tests := []struct {
		name string
		q    store.CheckHistoryQuery
		want string
	}{
		{"first page", store.CheckHistoryQuery{Check: "alf", Limit: 100}, "USING INDEX transitions_check_time (check_id=?)"},
		{"window", store.CheckHistoryQuery{Check: "alf", From: chT0, To: chT0.Add(1e9), Limit: 100}, "USING INDEX transitions_check_time (check_id=? AND time>? AND time<?)"},
		// The cursor bounds the range (time <= BeforeTime); the id of a tie is filtered.
		{"next page", store.CheckHistoryQuery{Check: "alf", From: chT0, BeforeTime: chT0.Add(1e9), BeforeID: 42, Limit: 100}, "USING INDEX transitions_check_time (check_id=? AND time>? AND time<?)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			query, args := checkHistorySQL(tt.q)
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
			got := strings.Join(plan, "; ")
			if !strings.Contains(got, tt.want) || strings.Contains(got, "TEMP B-TREE") {
				t.Errorf("plan of %+v = %q, want %q and no sort", tt.q, got, tt.want)
			}
		})
	}
}
