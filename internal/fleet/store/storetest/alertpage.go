package storetest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

// testAlertsPage: paging through AlertsPage with every filter gives each alert Alerts gives
// once, newest first by ID; a report folded into an old alert keeps its ID and place.
func testAlertsPage(t *testing.T, s store.Store) {
	ctx := context.Background()
	hosts := []string{"h1", "h2", "h3"}
	for _, h := range hosts {
		enroll(t, s, h, "u-"+h, at(0))
	}
	sevs := []string{"critical", "high", "low"}
	seq := map[string]uint64{}
	report := func(h string, n int, rule, sev string) {
		t.Helper()
		seq[h]++
		r := alertRecord(seq[h], at(n), rule, "cmd "+rule, 1)
		r.Alert.Severity = sev
		ingest(t, s, h, batch(r))
	}
	for i := range 12 {
		h := hosts[i%len(hosts)]
		report(h, 10+i, fmt.Sprintf("rule-%d", i), sevs[i%len(sevs)])
	}
	// Acknowledge a few, then fold a new report into the oldest open alert of h1: it keeps its
	// ID, so it stays where it was first seen.
	all := alerts(t, s, "", false)
	for _, a := range all {
		if a.ID%3 == 0 {
			if err := s.AckAlert(ctx, a.ID, "alice", "", at(40)); err != nil {
				t.Fatalf("AckAlert(%d) = %v", a.ID, err)
			}
		}
	}
	before := alerts(t, s, "h1", true)
	oldest := before[len(before)-1]
	report("h1", 50, oldest.Alert.Rule, oldest.Alert.Severity)
	after := alerts(t, s, "h1", true)
	if len(after) != len(before) || after[len(after)-1].ID != oldest.ID || after[len(after)-1].Duplicate != 1 {
		t.Fatalf("after folding into alert %d, Alerts(h1, unacked) = %+v, want the same alerts with %d folded once", oldest.ID, after, oldest.ID)
	}

	for _, host := range []string{"", "h1", "h3"} {
		for _, unacked := range []bool{false, true} {
			for _, sev := range []string{"", "critical", "low", "none"} {
				want := []store.StoredAlert{}
				for _, a := range alerts(t, s, host, unacked) {
					if sev == "" || a.Alert.Severity == sev {
						want = append(want, a)
					}
				}
				slices.SortFunc(want, func(a, b store.StoredAlert) int { return cmp.Compare(b.ID, a.ID) })
				for _, limit := range []int{1, 2, 5, 100} {
					q := store.AlertQuery{HostID: host, UnackedOnly: unacked, Severity: sev, Limit: limit}
					got := []store.StoredAlert{}
					for range len(want) + 2 {
						p, err := s.AlertsPage(ctx, q)
						if err != nil {
							t.Fatalf("AlertsPage(%+v) = %v", q, err)
						}
						if len(p) > limit {
							t.Fatalf("AlertsPage(%+v) = %d alerts, want at most %d", q, len(p), limit)
						}
						got = append(got, p...)
						if len(p) < limit {
							break
						}
						q.BeforeID = p[len(p)-1].ID
					}
					if diff := gocmp.Diff(want, got); diff != "" {
						t.Errorf("AlertsPage(host %q, unacked %v, severity %q) in pages of %d (-want +got):\n%s", host, unacked, sev, limit, diff)
					}
				}
			}
		}
	}
	if _, err := s.AlertsPage(ctx, store.AlertQuery{}); err == nil {
		t.Errorf("AlertsPage without a limit = nil error, want one")
	}
}

// alerts is s.Alerts, failing the test on error.
func alerts(t *testing.T, s store.Store, host string, unacked bool) []store.StoredAlert {
	t.Helper()
	as, err := s.Alerts(context.Background(), host, unacked)
	if err != nil {
		t.Fatalf("Alerts(%q, %v) = %v", host, unacked, err)
	}
	return as
}
