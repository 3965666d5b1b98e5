package sqlite

import (
	"strings"
	"testing"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/store/storetest"
)

// TestHostPagesDense pages through the suite's hosts with every filter taken as dense, so
// that each page walks its sort's index (the suite's fleet is small: every filter is sparse
// there).
func TestHostPagesDense(t *testing.T) {
	s := openTemp(t)
	s.denseRows = 0
	storetest.HostSort(t, s)
}

// TestComplianceSeriesManyHosts answers the suite's series as if the fleet were large, so
// that the hosts enrolled after an instant are counted from the later side.
func TestComplianceSeriesManyHosts(t *testing.T) {
	s := openTemp(t)
	s.denseRows = 0
	storetest.ComplianceSeries(t, s)
}

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
	sparse := map[string]bool{"label": true, "search": true, "os_version": true, "posture": true}
	for _, tt := range []struct {
		name   string
		f      store.HostFilter
		sparse map[string]bool // the filters that match few hosts (hostsQuery)
		want   string          // in the plan
		sort   bool            // may sort what the index range found
	}{
		{"id", store.HostFilter{}, nil, "hosts USING INDEX sqlite_autoindex_hosts_1", false},
		{"id desc deep", deep(store.HostFilter{Desc: true}), nil, "hosts USING INDEX sqlite_autoindex_hosts_1 (id<?)", false},
		{"hostname", store.HostFilter{Sort: store.HostSortHostname}, nil, "hosts USING INDEX hosts_hostname", false},
		{"hostname deep", deep(store.HostFilter{Sort: store.HostSortHostname}), nil, "hosts USING INDEX hosts_hostname (<expr>>?)", false},
		{"hostname desc deep", deep(store.HostFilter{Sort: store.HostSortHostname, Desc: true}), nil, "hosts USING INDEX hosts_hostname (<expr><?)", false},
		{"last seen", store.HostFilter{Sort: store.HostSortLastSeen, Desc: true}, nil, "hosts USING INDEX hosts_last_seen", false},
		{"last seen deep", deep(store.HostFilter{Sort: store.HostSortLastSeen}), nil, "hosts USING INDEX hosts_last_seen ((last_seen,id)>(?,?))", false},
		{"os version deep", deep(store.HostFilter{Sort: store.HostSortOSVersion, Desc: true}), nil, "hosts USING INDEX hosts_os_version ((os_version,id)<(?,?))", false},
		{"os version filter", store.HostFilter{OSVersion: "15.3"}, sparse, "hosts USING INDEX hosts_os_version (os_version=?", false},
		{"os version filter sorted", store.HostFilter{OSVersion: "15.3", Sort: store.HostSortOSVersion}, nil, "hosts USING INDEX hosts_os_version (os_version=?", false},
		{"search", store.HostFilter{Search: "Web", Sort: store.HostSortHostname}, nil, "hosts USING INDEX hosts_hostname (<expr>>? AND <expr><?)", false},
		{"search deep", deep(store.HostFilter{Search: "h05", Sort: store.HostSortHostname}), nil, "hosts USING INDEX hosts_hostname", false},
		{"few found by a search, by id", store.HostFilter{Search: "web"}, sparse, "hosts USING INDEX hosts_hostname (<expr>>? AND <expr><?)", true},
		{"few found by a search, by last seen", store.HostFilter{Search: "web", Sort: store.HostSortLastSeen}, sparse, "hosts USING INDEX hosts_hostname (<expr>>? AND <expr><?)", true},
		{"many found by a search, by last seen", store.HostFilter{Search: "w", Sort: store.HostSortLastSeen}, nil, "hosts USING INDEX hosts_last_seen", false},
		{"few with a posture, by hostname", store.HostFilter{Posture: store.PostureNonCompliant, Sort: store.HostSortHostname}, sparse, "hosts USING INDEX hosts_posture (posture=?)", true},
		{"few with a label, by last seen", store.HostFilter{Label: "kiosk", Sort: store.HostSortLastSeen, Desc: true}, sparse, "host_labels USING PRIMARY KEY (label=?)", true},
		{"many with a label, by last seen", deep(store.HostFilter{Label: "mac", Sort: store.HostSortLastSeen, Desc: true}), nil, "hosts USING INDEX hosts_last_seen", false},
		{"many with a label, by id", store.HostFilter{Label: "mac"}, nil, "hosts USING INDEX sqlite_autoindex_hosts_1", false},
		{"many on an OS version, by hostname", store.HostFilter{OSVersion: "15.3", Sort: store.HostSortHostname}, nil, "hosts USING INDEX hosts_hostname", false},
		{"posture", store.HostFilter{Posture: store.PostureNonCompliant}, nil, "hosts USING INDEX hosts_posture (posture=?)", false},
		{"posture deep", deep(store.HostFilter{Posture: store.PostureNone}), nil, "hosts USING INDEX hosts_posture (posture=? AND id>?)", false},
		{"posture by hostname", store.HostFilter{Posture: store.PostureCompliant, Sort: store.HostSortHostname}, nil, "hosts USING INDEX hosts_hostname", false},
		{"posture by last seen", deep(store.HostFilter{Posture: store.PostureCompliant, Sort: store.HostSortLastSeen, Desc: true}), nil, "hosts USING INDEX hosts_last_seen", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.f
			f.Limit = 50
			q, args, err := hostsQuery(f, tt.sparse)
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
