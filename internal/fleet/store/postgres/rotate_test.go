package postgres

import (
	"context"
	"strings"
	"testing"
)

// TestRotateQueryPlans: the credential-offer lookups (every unknown credential shown to the
// server makes one) use an index; sequential scans are priced out as in TestQueryPlans.
func TestRotateQueryPlans(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	conn := planConn(t, s)
	for _, tt := range []struct{ name, query, want string }{
		{"offer by credential", `SELECT 1 FROM credential_offers WHERE cred_hash = $1`, "credential_offers_cred_hash_key"},
		{"offer with its host", `SELECT o.host_id FROM credential_offers o JOIN hosts h ON h.id = o.host_id WHERE o.cred_hash = $1`, "credential_offers_cred_hash_key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := conn.Query(ctx, "EXPLAIN "+tt.query, []byte{1})
			if err != nil {
				t.Fatalf("EXPLAIN %s = %v", tt.query, err)
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
			if !strings.Contains(got, tt.want) || strings.Contains(got, "Seq Scan") {
				t.Errorf("plan of %q:\n%s\nwant %q and no Seq Scan", tt.query, got, tt.want)
			}
		})
	}
}
