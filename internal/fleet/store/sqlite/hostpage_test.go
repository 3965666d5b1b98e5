package sqlite

import (
	"strings"
	"testing"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

// TestHostPagePlans checks that every page of hosts the dashboard asks for (sorted, searched,
// filtered by OS version or posture, first or deep, either direction) reads an index range in
// the page's order: no scan of the hosts table and no sort of all hosts. A searched page
// sorted by something other than the hostname may sort, but only the hosts the search found.
func TestHostPagePlans(t *testing.T) {
	s := openTemp(t)
	deep := func(f store.HostFilter) store.HostFilter {
		f.After, f.AfterKey = "h050000", "h050000.local"
		if f.Sort == store.HostSortLastSeen {
			f.AfterKey = "2026-03-02T09:00:00.5Z"
		}
		return f
	}
	for _, tt := range []struct {
		name string
		f    store.HostFilter
		want string // in the plan
		sort bool   // may sort what the index range found
	}{
		{"id", store.HostFilter{}, "hosts USING INDEX sqlite_autoindex_hosts_1", false},
		{"id desc deep", deep(store.HostFilter{Desc: true}), "hosts USING INDEX sqlite_autoindex_hosts_1 (id<?)", false},
		{"hostname", store.HostFilter{Sort: store.HostSortHostname}, "hosts USING INDEX hosts_hostname", false},
		{"hostname deep", deep(store.HostFilter{Sort: store.HostSortHostname}), "hosts USING INDEX hosts_hostname (<expr>>?)", false},
		{"hostname desc deep", deep(store.HostFilter{Sort: store.HostSortHostname, Desc: true}), "hosts USING INDEX hosts_hostname (<expr><?)", false},
		{"last seen", store.HostFilter{Sort: store.HostSortLastSeen, Desc: true}, "hosts USING INDEX hosts_last_seen", false},
		{"last seen deep", deep(store.HostFilter{Sort: store.HostSortLastSeen}), "hosts USING INDEX hosts_last_seen (last_seen>?)", false},
		{"os version deep", deep(store.HostFilter{Sort: store.HostSortOSVersion, Desc: true}), "hosts USING INDEX hosts_os_version (os_version<?)", false},
		{"os version filter", store.HostFilter{OSVersion: "15.3"}, "hosts USING INDEX hosts_os_version (os_version=?", false},
		{"os version filter sorted", store.HostFilter{OSVersion: "15.3", Sort: store.HostSortOSVersion}, "hosts USING INDEX hosts_os_version (os_version=?", false},
		{"search", store.HostFilter{Search: "Web", Sort: store.HostSortHostname}, "hosts USING INDEX hosts_hostname (<expr>>? AND <expr><?)", false},
		{"search deep", deep(store.HostFilter{Search: "h05", Sort: store.HostSortHostname}), "hosts USING INDEX hosts_hostname", false},
		{"search by id", store.HostFilter{Search: "web"}, "hosts USING INDEX hosts_hostname (<expr>>? AND <expr><?)", true},
		{"search by last seen", store.HostFilter{Search: "web", Sort: store.HostSortLastSeen}, "hosts USING INDEX hosts_hostname (<expr>>? AND <expr><?)", true},
		{"posture", store.HostFilter{Posture: store.PostureNonCompliant}, "hosts USING INDEX hosts_posture (posture=?)", false},
		{"posture deep", deep(store.HostFilter{Posture: store.PostureNone}), "hosts USING INDEX hosts_posture (posture=? AND id>?)", false},
		{"posture by hostname", store.HostFilter{Posture: store.PostureCompliant, Sort: store.HostSortHostname}, "hosts USING INDEX hosts_hostname", false},
		{"posture by last seen", deep(store.HostFilter{Posture: store.PostureCompliant, Sort: store.HostSortLastSeen, Desc: true}), "hosts USING INDEX hosts_last_seen", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.f
			f.Limit = 50
			q, args, err := hostsQuery(f)
			if err != nil {
				t.Fatalf("hostsQuery(%+v) = %v", f, err)
			}
			rows, err := s.r.Query("EXPLAIN QUERY PLAN "+q, args...)
			if err != nil {
				t.Fatalf("EXPLAIN %s = %v", q, err)
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
			if !strings.Contains(got, tt.want) {
				t.Errorf("plan of Hosts(%+v) = %q, want %q", f, got, tt.want)
			}
			if strings.Contains(got, "SCAN hosts") && !strings.Contains(got, "INDEX") {
				t.Errorf("plan of Hosts(%+v) scans the hosts: %q", f, got)
			}
			if !tt.sort && strings.Contains(got, "TEMP B-TREE") {
				t.Errorf("plan of Hosts(%+v) sorts the hosts: %q", f, got)
			}
		})
	}
}
