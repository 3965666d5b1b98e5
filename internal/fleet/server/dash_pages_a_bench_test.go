package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/store/sqlite"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// BenchmarkDashPagesSQLite renders the hosts table (first page, a later page, a status filter),
// a host's page and its poller's state over SQLite holding 10,000 hosts with one run each: the
// server's time per page, the session check left out (the page handlers are called as
// dashPage calls them). The overview and check pages need ComplianceSeries, which the SQLite
// store gains on the dstore-query branch; benchmark them there.
func BenchmarkDashPagesSQLite(b *testing.B) {
	const hosts = 10000
	st, err := sqlite.Open(filepath.Join(b.TempDir(), "fleet.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	now := time.Now().UTC()
	var mid store.Host
	for i := range hosts {
		h, err := st.EnrollHost(ctx, store.Host{ID: fmt.Sprintf("host-%05d", i), UUID: fmt.Sprint("uuid-", i), Hostname: fmt.Sprintf("mac-%05d", (i*7919)%hosts),
			OS: "macOS", OSVersion: fmt.Sprintf("15.%d", i%5), EnrolledAt: now.Add(-time.Hour), LastSeen: now}, []byte(fmt.Sprint("cred-", i)))
		if err != nil {
			b.Fatal(err)
		}
		statuses := map[string]string{}
		if i%10 == 0 {
			statuses["alf.stealth"] = wire.StatusFail
		}
		rec := runRecord(1, now.Add(-time.Minute), statuses)
		rec.Run.Results[0].Evidence = []wire.Evidence{{Kind: "exec", Argv: []string{"/usr/libexec/ApplicationFirewall/socketfilterfw", "--getglobalstate"},
			Output: "Firewall is enabled. (State = 1)", SHA256: "00"}}
		if _, err := st.Ingest(ctx, h.ID, batch(rec), now); err != nil {
			b.Fatal(err)
		}
		if i == hosts/2 {
			mid = h
		}
	}
	srv := New(st, Options{})
	d := &dashReq{User: store.User{Name: "bench", Role: store.RoleAuditor}, Now: now}
	pages := []struct {
		name, path string
		page       dashHandler
	}{
		{"hosts", "/hosts", srv.hostsPage},
		{"hosts-later-page", "/hosts?sort=id&after=" + mid.ID, srv.hostsPage},
		{"hosts-noncompliant", "/hosts?status=non_compliant", srv.hostsPage},
		{"host", "/hosts/" + mid.ID, srv.hostPage},
		{"host-state", "/hosts/" + mid.ID + "/state", srv.hostState},
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("GET", p.path, nil)
				req.SetPathValue("id", mid.ID)
				w := httptest.NewRecorder()
				p.page(w, req, d)
				if w.Code != http.StatusOK {
					b.Fatalf("GET %s = %d %s", p.path, w.Code, w.Body)
				}
			}
		})
	}
}
