package storetest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// HostSort is the suite's case of sorted, searched and filtered host pages (part of Run), for
// a store to run again under other settings.
func HostSort(t *testing.T, s store.Store) { testHostSort(t, s) }

// testHostSort pages through the hosts in every sort order, both directions, under every new
// filter (hostname prefix, OS version, posture) alone and with the older ones, and checks that
// the pages together hold every matching host exactly once, in the order a sort in Go gives.
// Hostnames differ in case, share prefixes and tie once lower-cased; last-seen times tie, and
// two differ by half a second, whose RFC 3339 keys sort the other way round as strings.
func testHostSort(t *testing.T, s store.Store) {
	ctx := context.Background()
	type host struct {
		id, hostname, osVersion, label string
		seen                           time.Time
		status                         string // alf's status; "" for no result
	}
	hosts := []host{
		{"h01", "Web-01", "15.3", "mac", at(100), wire.StatusPass},
		{"h02", "web-02", "15.3", "mac", at(90), wire.StatusFail},
		{"h03", "WEB-10", "14.6", "mac", at(100), wire.StatusPass},
		{"h04", "web", "15.3.1", "linux", at(80), ""},
		{"h05", "webmail", "15.3", "linux", at(100).Add(500 * time.Millisecond), wire.StatusError},
		{"h06", "db-1", "13.7", "mac", at(70), wire.StatusPass},
		{"h07", "Db-2", "15.3", "mac", at(101), wire.StatusManaged},
		{"h08", "db-1", "14.6", "linux", at(70), wire.StatusFail},
		{"h09", "mail", "15.3", "mac", at(60), ""},
		{"h10", "m", "15.3", "mac", at(120), wire.StatusNotApplicable},
		{"h11", "WEB-01", "14.6", "mac", at(95), wire.StatusPass},
		{"h12", "zeta", "13.7", "linux", at(99), wire.StatusFail},
		{"h13", "web_x", "15.3", "mac", at(100), wire.StatusPass},
		{"h14", "Web-01", "15.3", "mac", at(130), ""},
	}
	posture := func(h host) string {
		switch {
		case h.status == "":
			return store.PostureNone
		case wire.Compliant(h.status):
			return store.PostureCompliant
		}
		return store.PostureNonCompliant
	}
	byID := map[string]host{}
	for _, h := range hosts {
		byID[h.id] = h
		if _, err := s.EnrollHost(ctx, store.Host{ID: h.id, UUID: "u" + h.id, Hostname: h.hostname, OS: "macOS",
			OSVersion: h.osVersion, AgentVersion: "1.0.0", Labels: []string{h.label}, EnrolledAt: at(0)}, Hash("cred-"+h.id)); err != nil {
			t.Fatalf("EnrollHost(%s) = %v", h.id, err)
		}
		if h.status != "" {
			ingest(t, s, h.id, batch(runRecord(1, at(10), "alf", h.status, "1")))
		}
		touch(t, s, h.id, h.seen, 0)
	}

	// want is the matching hosts' IDs sorted in Go.
	want := func(f store.HostFilter) []string {
		var hs []host
		for _, h := range hosts {
			if f.Search != "" && !strings.HasPrefix(strings.ToLower(h.hostname), strings.ToLower(f.Search)) ||
				f.OSVersion != "" && h.osVersion != f.OSVersion ||
				f.Posture != "" && posture(h) != f.Posture ||
				f.Label != "" && h.label != f.Label {
				continue
			}
			hs = append(hs, h)
		}
		slices.SortFunc(hs, func(a, b host) int {
			c := 0
			switch f.Sort {
			case store.HostSortHostname:
				c = strings.Compare(strings.ToLower(a.hostname), strings.ToLower(b.hostname))
			case store.HostSortLastSeen:
				c = a.seen.Compare(b.seen)
			case store.HostSortOSVersion:
				c = strings.Compare(a.osVersion, b.osVersion)
			}
			c = cmp.Or(c, strings.Compare(a.id, b.id))
			if f.Desc {
				c = -c
			}
			return c
		})
		var ids []string
		for _, h := range hs {
			ids = append(ids, h.id)
		}
		return ids
	}

	filters := []struct {
		name string
		f    store.HostFilter
	}{
		{"all", store.HostFilter{}},
		{"search", store.HostFilter{Search: "web"}},
		{"search upper case", store.HostFilter{Search: "WEB-0"}},
		{"search whole name", store.HostFilter{Search: "db-1"}},
		{"search none", store.HostFilter{Search: "x"}},
		{"search with LIKE wildcards", store.HostFilter{Search: "web_"}},
		{"os version", store.HostFilter{OSVersion: "15.3"}},
		{"compliant", store.HostFilter{Posture: store.PostureCompliant}},
		{"noncompliant", store.HostFilter{Posture: store.PostureNonCompliant}},
		{"no result yet", store.HostFilter{Posture: store.PostureNone}},
		{"search and posture", store.HostFilter{Search: "web", Posture: store.PostureCompliant}},
		{"label, os version and posture", store.HostFilter{Label: "mac", OSVersion: "15.3", Posture: store.PostureCompliant}},
	}
	for _, fl := range filters {
		for _, sort := range []string{"", store.HostSortID, store.HostSortHostname, store.HostSortLastSeen, store.HostSortOSVersion} {
			for _, desc := range []bool{false, true} {
				for _, limit := range []int{0, 1, 3, 100} {
					f := fl.f
					f.Sort, f.Desc, f.Limit = sort, desc, limit
					t.Run(fmt.Sprintf("%s/sort=%s/desc=%v/limit=%d", fl.name, sort, desc, limit), func(t *testing.T) {
						var got []string
						for page := 0; ; page++ {
							if page > len(hosts)+1 {
								t.Fatalf("Hosts(%+v) pages on and on: %v", f, got)
							}
							hs, err := s.Hosts(ctx, f)
							if err != nil {
								t.Fatalf("Hosts(%+v) = %v", f, err)
							}
							for _, h := range hs {
								got = append(got, h.ID)
							}
							if limit == 0 || len(hs) < limit {
								break
							}
							last := hs[len(hs)-1]
							f.After, f.AfterKey = last.ID, store.HostSortKey(last, sort)
						}
						f.After, f.AfterKey = "", ""
						if diff := gocmp.Diff(want(f), got); diff != "" {
							t.Errorf("Hosts(%+v), every page (-want +got):\n%s", f, diff)
						}
					})
				}
			}
		}
	}
	// The keys of the half-second tie: as strings, "…:40.5Z" sorts before "…:40Z".
	if a, b := store.HostSortKey(store.Host{LastSeen: byID["h05"].seen}, store.HostSortLastSeen),
		store.HostSortKey(store.Host{LastSeen: byID["h01"].seen}, store.HostSortLastSeen); a >= b {
		t.Fatalf("the fixture no longer tests keys that sort apart from their times: %q, %q", a, b)
	}
}
