package sqlite

import (
	"strings"
	"testing"
)

// TestRotateQueryPlans: the credential-offer lookups (every unknown credential shown to the
// server makes one) use an index.
func TestRotateQueryPlans(t *testing.T) {
	s := openTemp(t)
	for _, tt := range []struct{ name, query, want string }{
		{"offer by credential", `SELECT 1 FROM credential_offers WHERE cred_hash = ?`, "USING COVERING INDEX sqlite_autoindex_credential_offers"},
		{"offer with its host", `SELECT o.host_id, o.offered_to, h.cred_hash, h.revoked_at FROM credential_offers o JOIN hosts h ON h.id = o.host_id WHERE o.cred_hash = ?`, "USING INDEX sqlite_autoindex_credential_offers"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := s.r.Query("EXPLAIN QUERY PLAN "+tt.query, []byte{1})
			if err != nil {
				t.Fatalf("EXPLAIN %s = %v", tt.query, err)
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
			if !strings.Contains(got, tt.want) || strings.Contains(got, "SCAN ") {
				t.Errorf("plan of %q = %q, want %q and no scan", tt.query, got, tt.want)
			}
		})
	}
}
