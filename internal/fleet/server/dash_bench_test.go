package server

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/store/sqlite"
)

// BenchmarkDashboardPages renders every dashboard page through the full handler (session
// lookup, store queries, template) over a large SQLite fleet: the server's own time per page,
// without TLS or sockets. Give it a copy of the fleet built by the SQLite store's benchmarks
// (internal/fleet/store/sqlite/bench_test.go; 100,000 hosts × 90 days ending 2026-04-01):
//
//	cp /tmp/fleet100k/fleet.db /tmp/dash100k/ && FLEET_DASH_DB=/tmp/dash100k/fleet.db \
//	  go test ./internal/fleet/server -run '^$' -bench BenchmarkDashboardPages -benchtime 40x
//
// Besides ns/op it reports p95-ms, the 95th percentile of the iterations' times.
func BenchmarkDashboardPages(b *testing.B) {
	path := os.Getenv("FLEET_DASH_DB")
	if path == "" {
		b.Skip("set FLEET_DASH_DB to a copy of a fleet built by internal/fleet/store/sqlite's benchmarks (see the comment)")
	}
	st, err := sqlite.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	end := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	srv := New(st, Options{Now: func() time.Time { return end }})
	defer srv.Close()
	ctx := context.Background()
	if _, err := st.UserByName(ctx, "bench"); errors.Is(err, store.ErrNotFound) {
		if err := st.AddUser(ctx, store.User{Name: "bench", Role: store.RoleAdmin, PasswordHash: "$bench$", CreatedAt: end}, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	cookie := NewSecret("fws_")
	if err := st.AddSession(ctx, store.Session{Hash: Hash(cookie), User: "bench", CSRF: "x", CreatedAt: end, LastUsed: end, Expires: end.Add(time.Hour)}); err != nil {
		b.Fatal(err)
	}
	hs, err := st.Hosts(ctx, store.HostFilter{Limit: 1, Sort: store.HostSortHostname})
	if err != nil || len(hs) == 0 {
		b.Fatalf("no host in %s: %v", path, err)
	}
	h := srv.Handler()
	pages := []string{
		"/", "/hosts", "/hosts?sort=hostname&dir=desc", "/hosts?sort=last_seen", "/hosts?q=h-0001",
		"/hosts?status=non_compliant", "/hosts?status=stale", "/hosts?os=15.3&sort=os_version",
		"/hosts/" + url.PathEscape(hs[0].ID), "/checks", "/checks/alf.enabled", "/alerts", "/exemptions",
		"/report", "/report?at=2026-03-01T00:00:00Z", "/audit", "/settings",
	}
	for _, p := range pages {
		b.Run(url.PathEscape(p), func(b *testing.B) {
			times := make([]time.Duration, 0, b.N)
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, p, nil)
				req.AddCookie(&http.Cookie{Name: SessionCookie, Value: cookie})
				rec := httptest.NewRecorder()
				start := time.Now()
				h.ServeHTTP(rec, req)
				times = append(times, time.Since(start))
				if rec.Code != http.StatusOK {
					b.Fatalf("GET %s = %d: %.300s", p, rec.Code, rec.Body.String())
				}
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)*95/100].Microseconds())/1000, "p95-ms")
		})
	}
}
