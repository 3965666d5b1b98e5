package server

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/store/sqlite"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// The HTTP layer over the real SQLite store: what the fake stands in for elsewhere.
func TestOverSQLite(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "fleet.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	f := &fixture{}
	f.setup(t, Options{}, st)
	ctx := context.Background()

	a := f.enroll(t, "u-a", "kiosk")
	b := f.enroll(t, "u-b")
	if code, body := f.do(t, "POST", wire.PathEnroll, "", wire.EnrollRequest{Secret: f.revokedSecret, HostUUID: "u-c", Hostname: "c"}); code != 401 {
		t.Errorf("enroll with a revoked secret = %d %s, want 401", code, body)
	}
	if code, _ := f.do(t, "GET", "/api/v1/hosts", f.revokedToken, nil); code != 401 {
		t.Errorf("revoked token = %d, want 401", code)
	}

	b1 := batch(runRecord(1, t0.Add(time.Minute), nil), runRecord(2, t0.Add(time.Hour), map[string]string{"alf.enabled": wire.StatusFail}))
	for i := range 2 {
		code, body := f.do(t, "POST", wire.PathReport, a.Credential, b1)
		if code != 200 || decode[wire.ReportAck](t, body).AckedSeq != 2 {
			t.Fatalf("report #%d = %d %s, want acked 2", i, code, body)
		}
	}
	// Refused bodies store nothing.
	if code, _ := f.do(t, "POST", wire.PathReport, b.Credential, `{"records":[{"seq":1,"kind":"run","time":"2026-12-01T09:00:00Z","extra":1}]}`); code != 400 {
		t.Errorf("unknown field = %d, want 400", code)
	}
	if cur, _ := st.CurrentResults(ctx, b.HostID); len(cur) != 0 {
		t.Errorf("host B has results after a refused body: %+v", cur)
	}
	f.clock.add(2 * time.Hour)

	code, body := f.do(t, "GET", "/api/v1/hosts/"+a.HostID+"/history?check=alf.enabled", f.auditor, nil)
	var got []string
	for _, tr := range decode[struct{ Transitions []transitionJSON }](t, body).Transitions {
		got = append(got, tr.From+">"+tr.To)
	}
	if code != 200 || strings.Join(got, " ") != "pass>fail >pass" {
		t.Errorf("history = %d %v, want [pass>fail >pass] (stored once despite the retry)", code, got)
	}
	code, body = f.do(t, "GET", "/api/v1/compliance?at="+t0.Add(30*time.Minute).Format(time.RFC3339), f.auditor, nil)
	if c := decode[complianceJSON](t, body); code != 200 || c.Hosts != 2 || c.Compliant != 1 || c.NoData != 1 {
		t.Errorf("compliance at t0+30m = %d %s, want 2 hosts, 1 compliant, 1 without data", code, body)
	}
	if !bytes.Contains(body, []byte(`"not_applicable": 0`)) {
		t.Errorf("compliance per_check does not use the API's names:\n%s", body)
	}
	code, body = f.do(t, "GET", "/api/v1/hosts/"+a.HostID, f.auditor, nil)
	var one struct {
		Host      hostJSON
		LatestRun *wire.Run `json:"latest_run"`
	}
	json.Unmarshal(body, &one)
	if code != 200 || one.Host.Status != HostNonCompliant || one.LatestRun == nil || one.LatestRun.RunID != "run-2" {
		t.Errorf("GET host = %d %s", code, body)
	}

	// Admin writes, each audited under the token's name.
	writes := []endpoint{
		{"POST", "/api/v1/exemptions", map[string]any{"host_id": a.HostID, "check": "alf.enabled", "reason": "lab machine", "expires": t0.Add(30 * 24 * time.Hour)}, true},
		{"PUT", "/api/v1/policies", map[string]any{"name": "default", "mode": "enforce", "interval_seconds": 900}, true},
		{"POST", "/api/v1/nudge", map[string]string{"label": "kiosk"}, true},
		{"POST", "/api/v1/hosts/" + b.HostID + "/revoke", nil, true},
	}
	for _, w := range writes {
		before, _ := st.AuditLog(ctx, time.Time{})
		if code, body := f.do(t, w.method, w.path, f.admin, w.body); code >= 300 {
			t.Fatalf("%s %s = %d %s", w.method, w.path, code, body)
		}
		after, _ := st.AuditLog(ctx, time.Time{})
		if len(after) != len(before)+1 || after[len(after)-1].Actor != "alice" {
			t.Errorf("%s %s: audit went from %d to %d entries", w.method, w.path, len(before), len(after))
		}
	}
	if code, _ := f.do(t, "GET", wire.PathConfig, b.Credential, nil); code != 401 {
		t.Errorf("revoked host's config = %d, want 401", code)
	}
	code, body = f.do(t, "GET", wire.PathConfig, a.Credential, nil) // A is seen now
	if cfg := decode[wire.AgentConfig](t, body); code != 200 || cfg.Policy.Mode != wire.ModeEnforce || cfg.Version == 0 {
		t.Errorf("config = %d %s", code, body)
	}
	code, body = f.do(t, "GET", "/api/v1/hosts/"+a.HostID, f.auditor, nil)
	json.Unmarshal(body, &one)
	if one.Host.Status != HostCompliant {
		t.Errorf("status with the exemption = %q, want compliant", one.Host.Status)
	}
	code, body = f.do(t, "GET", "/api/v1/export?format=csv", f.auditor, nil)
	if code != 200 || !bytes.Contains(body, []byte(`alf.enabled,fail,0,1,"lab machine (approved by alice`)) {
		t.Errorf("export = %d:\n%s", code, body)
	}

	// Stale after three missed intervals (900 s now), and never counted compliant.
	f.clock.add(3*900*time.Second + time.Minute)
	code, body = f.do(t, "GET", "/api/v1/hosts?stale=true", f.auditor, nil)
	if hs := decode[struct{ Hosts []hostJSON }](t, body).Hosts; code != 200 || len(hs) != 1 || hs[0].ID != a.HostID {
		t.Errorf("stale hosts = %d %s, want host A", code, body)
	}
	code, body = f.do(t, "GET", "/api/v1/compliance", f.auditor, nil)
	if c := decode[complianceJSON](t, body); code != 200 || c.Compliant != 0 {
		t.Errorf("compliance now = %d %s, want nothing compliant", code, body)
	}
	var _ store.Store = st
}

// A host is stale after three intervals of the policy it was last given (by the config
// endpoint), and a run that repeats the stored one shows as confirmed, not stored again.
func TestStaleIntervalAndRepeatsOverSQLite(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "fleet.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	f := &fixture{}
	f.setup(t, Options{}, st)
	a := f.enroll(t, "u-a")
	if code, body := f.do(t, "PUT", "/api/v1/policies", f.admin, map[string]any{"name": "default", "mode": "report", "interval_seconds": 600}); code != 200 {
		t.Fatalf("PUT policies = %d %s", code, body)
	}
	for q := range uint64(3) {
		if code, body := f.do(t, "POST", wire.PathReport, a.Credential, batch(runRecord(q+1, t0.Add(time.Duration(q)*time.Minute), nil))); code != 200 {
			t.Fatalf("report %d = %d %s", q+1, code, body)
		}
	}
	type hostView struct {
		Host      hostJSON
		LatestRun struct {
			RunID     string    `json:"run_id"`
			Confirmed time.Time `json:"confirmed"`
			Repeats   int       `json:"repeats"`
			LastRunID string    `json:"last_run_id"`
		} `json:"latest_run"`
	}
	get := func() hostView {
		t.Helper()
		code, body := f.do(t, "GET", "/api/v1/hosts/"+a.HostID, f.auditor, nil)
		if code != 200 {
			t.Fatalf("host = %d %s", code, body)
		}
		return decode[hostView](t, body)
	}
	v := get()
	if r := v.LatestRun; r.RunID != "run-1" || r.Repeats != 2 || r.LastRunID != "run-3" || !r.Confirmed.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("latest_run = %+v, want run-1 confirmed by run-3 at %v, 2 repeats", r, t0.Add(2*time.Minute))
	}
	// The host has not fetched the 600 s policy yet: stale after three default intervals.
	seen := f.clock.now()
	if !v.Host.StaleAfter.Equal(seen.Add(3 * DefaultInterval)) {
		t.Errorf("stale_after before the config = %v, want %v", v.Host.StaleAfter, seen.Add(3*DefaultInterval))
	}
	if code, body := f.do(t, "GET", wire.PathConfig, a.Credential, nil); code != 200 {
		t.Fatalf("config = %d %s", code, body)
	}
	f.clock.add(30*time.Minute - time.Second)
	if v := get(); v.Host.Status == HostStale || !v.Host.StaleAfter.Equal(seen.Add(30*time.Minute)) {
		t.Errorf("host before three 600 s intervals = %s, stale_after %v; want not stale, stale after %v", v.Host.Status, v.Host.StaleAfter, seen.Add(30*time.Minute))
	}
	f.clock.add(time.Second)
	if v := get(); v.Host.Status != HostStale {
		t.Errorf("host after three 600 s intervals = %s, want stale", v.Host.Status)
	}
	code, body := f.do(t, "GET", "/api/v1/compliance", f.auditor, nil)
	if c := decode[complianceJSON](t, body); code != 200 || c.Compliant != 0 || c.Stale != 1 {
		t.Errorf("compliance now = %d %s, want 0 compliant, 1 stale", code, body)
	}
	code, body = f.do(t, "GET", "/api/v1/hosts?stale=true", f.auditor, nil)
	if hs := decode[struct{ Hosts []hostJSON }](t, body).Hosts; code != 200 || len(hs) != 1 {
		t.Errorf("hosts?stale=true = %d %s, want the host", code, body)
	}
}
