package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

// TestHostPagePlans checks that every page of hosts the dashboard asks for (sorted, searched,
// filtered by OS version or posture, first or deep, either direction) is an index scan in the
// page's order, with the keyset bound as an index condition: no scan of every host and no sort
// of them. A searched page sorted by something other than the hostname may sort, but only
// the hosts the search found.
func TestHostPagePlans(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	conn := planConn(t, s)
	// With sorting priced out as scans are, an index scan in the page's order is chosen
	// wherever one exists.
	if _, err := conn.Exec(ctx, `SET enable_sort = off`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Exec(context.Background(), `RESET enable_sort`) })
	deep := func(f store.HostFilter) store.HostFilter {
		f.After, f.AfterKey = "h050000", "h050000.local"
		if f.Sort == store.HostSortLastSeen {
			f.AfterKey = time.Date(2026, 3, 2, 9, 0, 0, 5e8, time.UTC).Format(time.RFC3339Nano)
		}
		return f
	}
	for _, tt := range []struct {
		name string
		f    store.HostFilter
		want string // in the plan
		sort bool   // may sort what the index scan found
	}{
		{"id", store.HostFilter{}, "Index Scan using hosts_pkey", false},
		{"id desc deep", deep(store.HostFilter{Desc: true}), "Index Scan Backward using hosts_pkey", false},
		{"hostname", store.HostFilter{Sort: store.HostSortHostname}, "Index Scan using hosts_hostname", false},
		{"hostname deep", deep(store.HostFilter{Sort: store.HostSortHostname}), "Index Scan using hosts_hostname", false},
		{"hostname desc deep", deep(store.HostFilter{Sort: store.HostSortHostname, Desc: true}), "Index Scan Backward using hosts_hostname", false},
		{"last seen desc", store.HostFilter{Sort: store.HostSortLastSeen, Desc: true}, "Index Scan Backward using hosts_last_seen", false},
		{"last seen deep", deep(store.HostFilter{Sort: store.HostSortLastSeen}), "Index Scan using hosts_last_seen", false},
		{"os version deep", deep(store.HostFilter{Sort: store.HostSortOSVersion, Desc: true}), "Index Scan Backward using hosts_os_version", false},
		{"search", store.HostFilter{Search: "Web", Sort: store.HostSortHostname}, "Index Scan using hosts_hostname", false},
		{"search deep", deep(store.HostFilter{Search: "h05", Sort: store.HostSortHostname}), "Index Scan using hosts_hostname", false},
		{"search by last seen", store.HostFilter{Search: "web", Sort: store.HostSortLastSeen}, "hosts_", true},
		{"posture", store.HostFilter{Posture: store.PostureNonCompliant}, "Index Scan using hosts_posture", false},
		{"posture deep", deep(store.HostFilter{Posture: store.PostureNone}), "Index Scan using hosts_posture", false},
		{"posture by hostname", store.HostFilter{Posture: store.PostureCompliant, Sort: store.HostSortHostname}, "Index Scan using hosts_hostname", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.f
			f.Limit = 50
			q, args, err := hostsQuery(f)
			if err != nil {
				t.Fatalf("hostsQuery(%+v) = %v", f, err)
			}
			rows, err := conn.Query(ctx, "EXPLAIN "+q, args...)
			if err != nil {
				t.Fatalf("EXPLAIN %s = %v", q, err)
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
			if !strings.Contains(got, tt.want) {
				t.Errorf("plan of Hosts(%+v) does not use %s:\n%s", f, tt.want, got)
			}
			if strings.Contains(got, "Seq Scan on hosts") {
				t.Errorf("plan of Hosts(%+v) scans the hosts:\n%s", f, got)
			}
			if !tt.sort && strings.Contains(got, "Sort") {
				t.Errorf("plan of Hosts(%+v) sorts the hosts:\n%s", f, got)
			}
			if f.After != "" && f.Sort != "" && !strings.Contains(got, "Index Cond") {
				t.Errorf("plan of Hosts(%+v) does not start the scan at the page (no Index Cond):\n%s", f, got)
			}
		})
	}
}
