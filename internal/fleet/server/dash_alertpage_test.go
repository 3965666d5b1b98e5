package server

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// alertRecords are n alert records of distinct rules rule-1..rule-n from seq, the first one
// last seen the latest (so that first seen and last seen orders differ).
func alertRecords(seq uint64, n int) []wire.Record {
	var rs []wire.Record
	for i := 1; i <= n; i++ {
		last := t0.Add(time.Duration(i) * time.Second)
		if i == 1 {
			last = t0.Add(time.Hour)
		}
		rs = append(rs, wire.Record{Seq: seq + uint64(i) - 1, Kind: wire.KindAlert, Time: t0,
			Alert: &wire.Alert{Rule: fmt.Sprintf("rule-%d", i), Severity: "high", Count: 1, LastSeen: last}})
	}
	return rs
}

// TestDashOverviewNewestAlerts: the overview shows the 10 alerts first seen last (the greatest
// IDs), by last seen; an older alert seen again does not come back to it.
func TestDashOverviewNewestAlerts(t *testing.T) {
	d := newDashFixture(t)
	smallFleet(t, d)
	if _, err := d.st.Ingest(context.Background(), "h1", batch(alertRecords(2, 12)...), t0); err != nil {
		t.Fatal(err)
	}
	_, body := d.get(t, "/", "aude")
	var got []string
	for _, m := range regexp.MustCompile(`<td>(rule-\d+)</td>`).FindAllStringSubmatch(section(body, `id="recent-alerts"`), -1) {
		got = append(got, m[1])
	}
	want := []string{"rule-12", "rule-11", "rule-10", "rule-9", "rule-8", "rule-7", "rule-6", "rule-5", "rule-4", "rule-3"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("overview's newest alerts (-want +got):\n%s", diff)
	}
}

// TestDashHostAlertsBounded: the host page shows the host's newest hostAlertsMax alerts and,
// when it has more, says so with a link to its alerts on the alerts page.
func TestDashHostAlertsBounded(t *testing.T) {
	tests := []struct {
		name string
		n    int
		more bool
	}{
		{"fewer", 3, false},
		{"exactly the bound", hostAlertsMax, false},
		{"more", hostAlertsMax + 5, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDashFixture(t)
			smallFleet(t, d)
			if _, err := d.st.Ingest(context.Background(), "h2", batch(alertRecords(2, tt.n)...), t0); err != nil {
				t.Fatal(err)
			}
			_, body := d.get(t, "/hosts/h2", "aude")
			alerts := section(body, `<section id="host-alerts"`)
			if got, want := strings.Count(alerts, "<tr data-alert="), min(tt.n, hostAlertsMax); got != want {
				t.Errorf("/hosts/h2 with %d alerts shows %d, want %d", tt.n, got, want)
			}
			// The oldest (rule-1..) are the ones left out.
			if tt.more && strings.Contains(alerts, "<td>rule-1</td>") {
				t.Errorf("/hosts/h2 with %d alerts shows the oldest, rule-1", tt.n)
			}
			more := strings.Contains(alerts, `id="more-alerts"`)
			if more != tt.more {
				t.Errorf("/hosts/h2 with %d alerts: more-alerts notice = %v, want %v", tt.n, more, tt.more)
			}
			if !strings.Contains(alerts, `href="/alerts?host=h2"`) {
				t.Errorf("/hosts/h2 lacks the link to its alerts on the alerts page:\n%s", alerts)
			}
		})
	}
}

// TestDashAlertsNewestPaged: the alerts page's default view is newest first by arrival, paged by
// key: every alert once, in order, across its pages, and a link back to the newest.
func TestDashAlertsNewestPaged(t *testing.T) {
	d := newDashFixture(t)
	smallFleet(t, d)
	const n = 2*alertsPageSize + 5
	if _, err := d.st.Ingest(context.Background(), "h1", batch(alertRecords(2, n)...), t0); err != nil {
		t.Fatal(err)
	}
	rule := regexp.MustCompile(`>(rule-\d+)<`)
	next := regexp.MustCompile(`<a class="next" href="([^"]+)"`)
	var got []string
	path, pages := "/alerts", 0
	for path != "" {
		code, body := d.get(t, path, "aude")
		if code != 200 {
			t.Fatalf("GET %s = %d", path, code)
		}
		pages++
		if (pages > 1) != strings.Contains(body, `<a class="first" href="/alerts">`) {
			t.Errorf("page %d: link to the newest alerts present = %v, want %v", pages, !(pages > 1), pages > 1)
		}
		for _, m := range rule.FindAllStringSubmatch(section(body, `id="alerts"`), -1) {
			got = append(got, m[1])
		}
		path = ""
		if m := next.FindStringSubmatch(body); m != nil {
			path = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	var want []string
	for i := n; i >= 1; i-- {
		want = append(want, fmt.Sprintf("rule-%d", i))
	}
	if diff := cmp.Diff(want, got); diff != "" || pages != 3 {
		t.Errorf("alerts over %d pages (want 3), newest first (-want +got):\n%s", pages, diff)
	}
	if code, _ := d.get(t, "/alerts?before=x", "aude"); code != 400 {
		t.Errorf("GET /alerts?before=x = %d, want 400", code)
	}
}
