package server

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/store/sqlite"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// checksFleets serve three hosts whose alf.enabled changed five times in all, over the fake
// store and over SQLite.
func checksFleets(t *testing.T) map[string]checksFleet {
	fleets := map[string]checksFleet{}
	for _, name := range []string{"fake", "sqlite"} {
		f := &fixture{st: newFakeStore()}
		var st store.Store = f.st
		if name == "sqlite" {
			db, err := sqlite.Open(filepath.Join(t.TempDir(), "fleet.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			st = db
		}
		f.setup(t, Options{FailRate: Rate{PerSecond: 1e9, Burst: 1e9}}, st)
		a, b, c := f.enroll(t, "host-a"), f.enroll(t, "host-b"), f.enroll(t, "host-c")
		for _, up := range []struct {
			cred string
			b    wire.ReportBatch
		}{
			{a.Credential, batch(runRecord(1, t0.Add(time.Minute), nil), runRecord(2, t0.Add(time.Hour), map[string]string{"alf.enabled": wire.StatusFail}))},
			{b.Credential, batch(runRecord(1, t0.Add(2*time.Minute), map[string]string{"alf.enabled": wire.StatusFail}), runRecord(2, t0.Add(2*time.Hour), nil))},
			{c.Credential, batch(runRecord(1, t0.Add(3*time.Minute), map[string]string{"alf.enabled": wire.StatusError}))},
		} {
			if code, body := f.do(t, "POST", wire.PathReport, up.cred, up.b); code != http.StatusOK {
				t.Fatalf("report = %d %s", code, body)
			}
		}
		f.clock.add(3 * time.Hour)
		fleets[name] = checksFleet{f, map[string]string{a.HostID: "host-a", b.HostID: "host-b", c.HostID: "host-c"}}
	}
	return fleets
}

type checksFleet struct {
	*fixture
	hostOf map[string]string // host ID → name
}

type hostTransition struct {
	Host     string
	At       time.Duration // after t0
	From, To string
}

func TestCheckHistory(t *testing.T) {
	for name, f := range checksFleets(t) {
		t.Run(name, func(t *testing.T) {
			hostOf := f.hostOf
			get := func(t *testing.T, token, query string) (int, checkHistoryJSON) {
				t.Helper()
				code, body := f.do(t, "GET", "/api/v1/checks/alf.enabled/history"+query, token, nil)
				if code != http.StatusOK {
					return code, checkHistoryJSON{}
				}
				return code, decode[checkHistoryJSON](t, body)
			}
			simple := func(ts []transitionJSON) []hostTransition {
				out := []hostTransition{}
				for _, x := range ts {
					out = append(out, hostTransition{hostOf[x.Host], x.Time.Sub(t0), x.From, x.To})
				}
				return out
			}
			all := []hostTransition{
				{"host-b", 2 * time.Hour, wire.StatusFail, wire.StatusPass},
				{"host-a", time.Hour, wire.StatusPass, wire.StatusFail},
				{"host-c", 3 * time.Minute, "", wire.StatusError},
				{"host-b", 2 * time.Minute, "", wire.StatusFail},
				{"host-a", time.Minute, "", wire.StatusPass},
			}
			for _, tok := range []struct{ name, token string }{{"admin", f.admin}, {"auditor", f.auditor}} {
				code, got := get(t, tok.token, "")
				if code != http.StatusOK || got.Check != "alf.enabled" || got.NextBefore != "" {
					t.Errorf("%s: GET history = %d check %q next %q, want 200 alf.enabled and no next page", tok.name, code, got.Check, got.NextBefore)
				}
				if diff := cmp.Diff(all, simple(got.Transitions)); diff != "" {
					t.Errorf("%s: history of alf.enabled (-want +got):\n%s", tok.name, diff)
				}
			}
			// Pages of 2, split inside the list, give the same transitions once each.
			var paged []transitionJSON
			query := "?limit=2"
			for pages := 1; ; pages++ {
				code, got := get(t, f.auditor, query)
				if code != http.StatusOK || len(got.Transitions) > 2 || pages > 3 {
					t.Fatalf("page %d (%s) = %d with %d transitions, want 200 with at most 2, in 3 pages", pages, query, code, len(got.Transitions))
				}
				paged = append(paged, got.Transitions...)
				if got.NextBefore == "" {
					if pages != 3 {
						t.Errorf("%d pages of 2, want 3", pages)
					}
					break
				}
				query = "?limit=2&before=" + url.QueryEscape(got.NextBefore)
			}
			if diff := cmp.Diff(all, simple(paged)); diff != "" {
				t.Errorf("history in pages of 2 (-want +got):\n%s", diff)
			}
			window := fmt.Sprintf("?from=%s&to=%s", t0.Add(2*time.Minute).Format(time.RFC3339), t0.Add(time.Hour).Format(time.RFC3339))
			if _, got := get(t, f.auditor, window); !cmp.Equal(all[1:4], simple(got.Transitions)) {
				t.Errorf("history%s:\n%s", window, cmp.Diff(all[1:4], simple(got.Transitions)))
			}

			for _, tt := range []struct {
				name, path, token string
				want              int
			}{
				{"unknown check", "/api/v1/checks/alf.nope/history", f.auditor, http.StatusNotFound},
				{"limit 0", "/api/v1/checks/alf.enabled/history?limit=0", f.auditor, http.StatusBadRequest},
				{"limit over the maximum", fmt.Sprintf("/api/v1/checks/alf.enabled/history?limit=%d", maxHistoryPage+1), f.auditor, http.StatusBadRequest},
				{"limit at the maximum", fmt.Sprintf("/api/v1/checks/alf.enabled/history?limit=%d", maxHistoryPage), f.auditor, http.StatusOK},
				{"bad cursor", "/api/v1/checks/alf.enabled/history?before=42", f.auditor, http.StatusBadRequest},
				{"bad from", "/api/v1/checks/alf.enabled/history?from=yesterday", f.auditor, http.StatusBadRequest},
				{"no token", "/api/v1/checks/alf.enabled/history", "", http.StatusUnauthorized},
				{"revoked token", "/api/v1/checks/alf.enabled/history", f.revokedToken, http.StatusUnauthorized},
				{"list, no token", "/api/v1/checks", "", http.StatusUnauthorized},
			} {
				if code, body := f.do(t, "GET", tt.path, tt.token, nil); code != tt.want {
					t.Errorf("%s: GET %s = %d %s, want %d", tt.name, tt.path, code, body, tt.want)
				}
			}
		})
	}
}

func TestChecksList(t *testing.T) {
	for name, f := range checksFleets(t) {
		t.Run(name, func(t *testing.T) {
			for _, tok := range []struct{ name, token string }{{"admin", f.admin}, {"auditor", f.auditor}} {
				code, body := f.do(t, "GET", "/api/v1/checks", tok.token, nil)
				if code != http.StatusOK {
					t.Fatalf("%s: GET /api/v1/checks = %d %s, want 200", tok.name, code, body)
				}
				got := map[string]checkCountJSON{}
				for _, c := range decode[struct{ Checks []checkJSON }](t, body).Checks {
					got[c.Check] = c.checkCountJSON
				}
				want := map[string]checkCountJSON{
					"alf.enabled": {Pass: 1, Fail: 1, Error: 1},
					"alf.stealth": {Pass: 3},
					"macos.sip":   {}, // known, reported by no host
				}
				for check, w := range want {
					if got[check] != w {
						t.Errorf("%s: %s = %+v, want %+v", tok.name, check, got[check], w)
					}
				}
				if len(got) < 17 {
					t.Errorf("%s: %d checks listed, want every known check", tok.name, len(got))
				}
			}
		})
	}
}
