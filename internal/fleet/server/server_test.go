package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
	"github.com/google/go-cmp/cmp"
)

// clock is a settable time for the server under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

type fixture struct {
	st                     *fakeStore
	srv                    *Server
	ts                     *httptest.Server
	clock                  *clock
	admin, auditor, secret string
	revokedToken           string
	revokedSecret          string
}

func newFixture(t *testing.T, o Options) *fixture {
	t.Helper()
	f := &fixture{st: newFakeStore()}
	if o.FailRate == (Rate{}) {
		// These tests send wrong credentials on purpose, all from 127.0.0.1; failauth_test.go
		// tests the per-address limit.
		o.FailRate = Rate{PerSecond: 1e9, Burst: 1e9}
	}
	f.setup(t, o, f.st)
	return f
}

// setup serves st and adds tokens (alice admin, audrey auditor, mallory revoked) and enroll
// secrets (one valid, one revoked) to it.
func (f *fixture) setup(t *testing.T, o Options, st store.Store) {
	t.Helper()
	f.clock = &clock{t: t0}
	o.Now = f.clock.now
	f.srv = New(st, o)
	f.ts = newTLSServer(t, f.srv)
	ctx := context.Background()
	add := func(name, role string) string {
		tok := NewSecret(PrefixToken)
		if err := st.AddToken(ctx, store.Token{ID: "tok-" + name, Name: name, Role: role, Hash: Hash(tok), CreatedAt: t0}, "test"); err != nil {
			t.Fatal(err)
		}
		return tok
	}
	f.admin, f.auditor, f.revokedToken = add("alice", store.RoleAdmin), add("audrey", store.RoleAuditor), add("mallory", store.RoleAdmin)
	if err := st.RevokeToken(ctx, "tok-mallory", "test", t0); err != nil {
		t.Fatal(err)
	}
	f.secret, f.revokedSecret = NewSecret(PrefixEnroll), NewSecret(PrefixEnroll)
	for id, s := range map[string]string{"sec-1": f.secret, "sec-2": f.revokedSecret} {
		if err := st.AddEnrollSecret(ctx, store.EnrollSecret{ID: id, Name: id, Hash: Hash(s), Labels: []string{"fleet"}, CreatedAt: t0}, "test"); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.RevokeEnrollSecret(ctx, "sec-2", "test", t0); err != nil {
		t.Fatal(err)
	}
}

func newTLSServer(t *testing.T, s *Server) *httptest.Server {
	ts := httptest.NewTLSServer(s.Handler())
	t.Cleanup(func() { s.Close(); ts.Close() })
	return ts
}

// do sends a request; body is a string sent as is, or a value sent as JSON.
func (f *fixture) do(t *testing.T, method, path, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, f.ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := f.ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

func (f *fixture) enroll(t *testing.T, uuid string, labels ...string) wire.EnrollResponse {
	t.Helper()
	code, body := f.do(t, "POST", wire.PathEnroll, "", wire.EnrollRequest{Secret: f.secret, HostUUID: uuid, Hostname: uuid + ".example",
		OS: "macOS", OSVersion: "15.1", AgentVersion: "0.3.0", Labels: labels})
	if code != 200 {
		t.Fatalf("enroll %s = %d %s, want 200", uuid, code, body)
	}
	var r wire.EnrollResponse
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func runRecord(seq uint64, at time.Time, statuses map[string]string) wire.Record {
	run := &wire.Run{RunID: fmt.Sprintf("run-%d", seq), Policy: "default", Mode: wire.ModeReport, Started: at, Finished: at}
	for _, check := range []string{"alf.enabled", "alf.stealth"} {
		st := statuses[check]
		if st == "" {
			st = wire.StatusPass
		}
		actual := "1"
		if st == wire.StatusFail {
			actual = "0"
		}
		run.Results = append(run.Results, wire.Result{Check: check, Status: st, Expected: "1", Actual: actual,
			Source: "socketfilterfw", Controls: []string{"CIS 2.2.1", "NIST SC-7"}})
	}
	return wire.Record{Seq: seq, Kind: wire.KindRun, Time: at, Run: run}
}

func batch(recs ...wire.Record) wire.ReportBatch { return wire.ReportBatch{Records: recs} }

func decode[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return v
}

func TestEnroll(t *testing.T) {
	f := newFixture(t, Options{})
	good := wire.EnrollRequest{Secret: f.secret, HostUUID: "u-1", Hostname: "mac1", OS: "macOS", Labels: []string{"laptop"}}
	tests := []struct {
		name string
		body any
		want int
	}{
		{"ok", good, 200},
		{"wrong secret", wire.EnrollRequest{Secret: NewSecret(PrefixEnroll), HostUUID: "u-2", Hostname: "x"}, 401},
		{"no secret", wire.EnrollRequest{HostUUID: "u-2", Hostname: "x"}, 401},
		{"revoked secret", wire.EnrollRequest{Secret: f.revokedSecret, HostUUID: "u-2", Hostname: "x"}, 401},
		{"unknown field", `{"secret":"` + f.secret + `","host_uuid":"u-2","hostname":"x","admin":true}`, 400},
		{"not json", `{"secret":`, 400},
		{"missing uuid", wire.EnrollRequest{Secret: f.secret, Hostname: "x"}, 400},
		{"oversized", `{"secret":"` + strings.Repeat("a", enrollLimit) + `"}`, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := f.do(t, "POST", wire.PathEnroll, "", tt.body)
			if code != tt.want {
				t.Fatalf("POST enroll = %d %s, want %d", code, body, tt.want)
			}
			if code != 200 {
				e := decode[map[string]string](t, body)
				if e["error"] == "" {
					t.Errorf("error body %s has no error", body)
				}
			}
		})
	}
	if n := len(f.st.hosts); n != 1 {
		t.Errorf("hosts after the table = %d, want 1 (only the good enrollment)", n)
	}
	// The credential is stored hashed, and labels merge the secret's with the agent's.
	for _, h := range f.st.hosts {
		if diff := cmp.Diff([]string{"fleet", "laptop"}, h.Labels); diff != "" {
			t.Errorf("labels (-want +got):\n%s", diff)
		}
	}
	for k := range f.st.creds {
		if strings.HasPrefix(k, PrefixHost) {
			t.Errorf("credential stored in clear: %q", k)
		}
	}
}

func TestEnrollReturnsPrefixedCredentialAndUUIDv7(t *testing.T) {
	f := newFixture(t, Options{})
	r := f.enroll(t, "u-1")
	if !strings.HasPrefix(r.Credential, PrefixHost) || len(r.Credential) != len(PrefixHost)+43 {
		t.Errorf("credential = %q, want fwh_ and 43 base64url characters", r.Credential)
	}
	if len(r.HostID) != 36 || r.HostID[14] != '7' {
		t.Errorf("host id = %q, want a UUIDv7", r.HostID)
	}
	// Re-enrolling the same machine keeps its ID and retires the old credential.
	r2 := f.enroll(t, "u-1")
	if r2.HostID != r.HostID {
		t.Errorf("re-enrolled host id = %q, want %q", r2.HostID, r.HostID)
	}
	if code, _ := f.do(t, "GET", wire.PathConfig, r.Credential, nil); code != 401 {
		t.Errorf("GET config with the replaced credential = %d, want 401", code)
	}
}

func TestAgentEndpointsRefuseBadCredentials(t *testing.T) {
	f := newFixture(t, Options{})
	a := f.enroll(t, "u-a")
	revoked := f.enroll(t, "u-r")
	if code, body := f.do(t, "POST", "/api/v1/hosts/"+revoked.HostID+"/revoke", f.admin, nil); code != 200 {
		t.Fatalf("revoke host = %d %s", code, body)
	}
	rec := batch(runRecord(1, t0, nil))
	endpoints := []struct {
		method, path string
		body         any
	}{
		{"GET", wire.PathConfig, nil},
		{"POST", wire.PathReport, rec},
		{"GET", wire.PathNudges, nil},
	}
	creds := []struct{ name, cred string }{
		{"none", ""},
		{"wrong", NewSecret(PrefixHost)},
		{"revoked", revoked.Credential},
		{"admin token", f.admin},
		{"enroll secret", f.secret},
	}
	for _, e := range endpoints {
		for _, c := range creds {
			t.Run(e.method+" "+e.path+" "+c.name, func(t *testing.T) {
				if code, body := f.do(t, e.method, e.path, c.cred, e.body); code != 401 {
					t.Errorf("%s %s with %s credential = %d %s, want 401", e.method, e.path, c.name, code, body)
				}
			})
		}
	}
	if n := f.st.stored(revoked.HostID); n != 0 {
		t.Errorf("records stored for the revoked host = %d, want 0", n)
	}
	_ = a
}

// A host credential reaches only its own host: the agent API takes no host ID, so what one
// host sends lands on it alone and what it reads is its own config; the admin API refuses it.
func TestHostCredentialReachesOnlyItsHost(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	if _, err := f.st.PutPolicy(ctx, store.Policy{Name: "servers", Label: "server", Mode: wire.ModeEnforce, IntervalSeconds: 600}, "test"); err != nil {
		t.Fatal(err)
	}
	a := f.enroll(t, "u-a")
	b := f.enroll(t, "u-b", "server")

	code, body := f.do(t, "POST", wire.PathReport, a.Credential, batch(runRecord(1, t0, map[string]string{"alf.enabled": wire.StatusFail})))
	if code != 200 {
		t.Fatalf("report = %d %s", code, body)
	}
	if got := f.st.stored(b.HostID); got != 0 {
		t.Errorf("records on host B after A reported = %d, want 0", got)
	}
	if got := f.st.stored(a.HostID); got != 1 {
		t.Errorf("records on host A = %d, want 1", got)
	}
	// Each reads its own config: A the default, B its label's policy.
	for _, c := range []struct {
		cred, want string
	}{{a.Credential, "default"}, {b.Credential, "servers"}} {
		code, body := f.do(t, "GET", wire.PathConfig, c.cred, nil)
		if code != 200 {
			t.Fatalf("config = %d %s", code, body)
		}
		if got := decode[wire.AgentConfig](t, body).Policy.Name; got != c.want {
			t.Errorf("config policy = %q, want %q", got, c.want)
		}
	}
	// B's nudge stream hears nudges for B only.
	stream := f.openNudges(t, b.Credential)
	if code, body := f.do(t, "POST", "/api/v1/nudge", f.admin, map[string]string{"host_id": a.HostID}); code != 200 {
		t.Fatalf("nudge A = %d %s", code, body)
	}
	if code, body := f.do(t, "POST", "/api/v1/nudge", f.admin, map[string]string{"host_id": b.HostID}); code != 200 {
		t.Fatalf("nudge B = %d %s", code, body)
	}
	if n := stream.next(t); n.Kind != wire.NudgeCheckNow {
		t.Errorf("B's first nudge = %+v, want check_now (A's nudge must not reach B)", n)
	}
	select {
	case n := <-stream.lines:
		t.Errorf("B's stream got a second nudge %+v; A's nudge reached B", n)
	default:
	}
	// Every admin endpoint refuses a host credential.
	for _, e := range adminEndpoints(a.HostID) {
		if code, _ := f.do(t, e.method, e.path, a.Credential, e.body); code != 401 {
			t.Errorf("%s %s with a host credential = %d, want 401", e.method, e.path, code)
		}
	}
}

type endpoint struct {
	method, path string
	body         any
	write        bool
}

func adminEndpoints(hostID string) []endpoint {
	return []endpoint{
		{"GET", "/api/v1/hosts", nil, false},
		{"GET", "/api/v1/hosts/" + hostID, nil, false},
		{"GET", "/api/v1/hosts/" + hostID + "/history", nil, false},
		{"GET", "/api/v1/compliance", nil, false},
		{"GET", "/api/v1/alerts", nil, false},
		{"GET", "/api/v1/exemptions", nil, false},
		{"GET", "/api/v1/policies", nil, false},
		{"GET", "/api/v1/export?format=json", nil, false},
		{"GET", "/api/v1/export?format=csv", nil, false},
		{"GET", "/api/v1/audit", nil, false},
		{"GET", "/metrics", nil, false},
		{"POST", "/api/v1/alerts/1/ack", nil, true},
		{"POST", "/api/v1/exemptions", map[string]any{"host_id": hostID, "check": "alf.stealth", "reason": "kiosk", "expires": t0.Add(30 * 24 * time.Hour)}, true},
		{"DELETE", "/api/v1/exemptions/none", nil, true},
		{"PUT", "/api/v1/policies", map[string]any{"name": "default", "mode": "report", "interval_seconds": 3600}, true},
		{"POST", "/api/v1/nudge", map[string]string{"host_id": hostID}, true},
		{"POST", "/api/v1/hosts/" + hostID + "/refetch", nil, true},
		{"POST", "/api/v1/refetch?label=fleet", nil, true},
		{"POST", "/api/v1/hosts/" + hostID + "/revoke", nil, true},
	}
}

func TestAdminAuth(t *testing.T) {
	f := newFixture(t, Options{})
	h := f.enroll(t, "u-a")
	f.do(t, "POST", wire.PathReport, h.Credential, batch(wire.Record{Seq: 1, Kind: wire.KindAlert, Time: t0, Alert: &wire.Alert{Rule: "alf_disabled"}}))
	for _, e := range adminEndpoints(h.HostID) {
		t.Run(e.method+" "+e.path, func(t *testing.T) {
			for _, c := range []struct {
				name, token string
				want        int
			}{
				{"none", "", 401},
				{"wrong", NewSecret(PrefixToken), 401},
				{"revoked", f.revokedToken, 401},
				{"not bearer", "", 401},
			} {
				if code, body := f.do(t, e.method, e.path, c.token, e.body); code != c.want {
					t.Errorf("%s token: %s %s = %d %s, want %d", c.name, e.method, e.path, code, body, c.want)
				}
			}
			before := f.st.snapshot()
			code, body := f.do(t, e.method, e.path, f.auditor, e.body)
			if e.write {
				if code != 403 {
					t.Errorf("auditor: %s %s = %d %s, want 403", e.method, e.path, code, body)
				}
				if after := f.st.snapshot(); after != before {
					t.Errorf("auditor's refused %s %s changed the store", e.method, e.path)
				}
			} else if code != 200 {
				t.Errorf("auditor: %s %s = %d %s, want 200", e.method, e.path, code, body)
			}
		})
	}
	// An admin token can do each; the revoke goes last.
	for _, e := range adminEndpoints(h.HostID) {
		code, body := f.do(t, e.method, e.path, f.admin, e.body)
		want := map[bool]int{false: 200, true: 200}[e.write]
		switch {
		case e.method == "POST" && e.path == "/api/v1/exemptions":
			want = 201
		case e.method == "DELETE":
			want = 404 // no exemption with that id
		}
		if code != want {
			t.Errorf("admin: %s %s = %d %s, want %d", e.method, e.path, code, body, want)
		}
	}
}

func TestEveryAdminWriteIsAudited(t *testing.T) {
	f := newFixture(t, Options{})
	h := f.enroll(t, "u-a")
	f.do(t, "POST", wire.PathReport, h.Credential, batch(wire.Record{Seq: 1, Kind: wire.KindAlert, Time: t0, Alert: &wire.Alert{Rule: "alf_disabled"}}))
	for _, e := range adminEndpoints(h.HostID) {
		if !e.write || e.method == "DELETE" {
			continue
		}
		n := len(f.st.audit)
		code, body := f.do(t, e.method, e.path, f.admin, e.body)
		if code >= 300 {
			t.Fatalf("%s %s = %d %s", e.method, e.path, code, body)
		}
		if len(f.st.audit) != n+1 {
			t.Errorf("%s %s added %d audit entries, want 1", e.method, e.path, len(f.st.audit)-n)
			continue
		}
		if a := f.st.audit[n]; a.Actor != "alice" {
			t.Errorf("%s %s audit actor = %q, want alice (the token's name)", e.method, e.path, a.Actor)
		}
	}
}

func TestReportStrictBodies(t *testing.T) {
	f := newFixture(t, Options{})
	h := f.enroll(t, "u-a")
	good, _ := json.Marshal(batch(runRecord(1, t0, nil)))
	tests := []struct {
		name string
		body string
		want int
	}{
		{"unknown top-level field", `{"records":[],"extra":1}`, 400},
		{"unknown record field", strings.Replace(string(good), `"seq":1`, `"seq":1,"sneaky":true`, 1), 400},
		{"unknown result field", strings.Replace(string(good), `"check":"alf.enabled"`, `"check":"alf.enabled","verdict":"ok"`, 1), 400},
		{"trailing data", string(good) + `{}`, 400},
		{"not json", `records`, 400},
		{"empty batch", `{"records":[]}`, 400},
		{"seq zero", strings.Replace(string(good), `"seq":1`, `"seq":0`, 1), 400},
		{"unknown kind", strings.Replace(string(good), `"kind":"run"`, `"kind":"nap"`, 1), 400},
		{"oversized", `{"records":[` + strings.Repeat(" ", wire.MaxBodyBytes) + `]}`, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, body := f.do(t, "POST", wire.PathReport, h.Credential, tt.body); code != tt.want {
				t.Errorf("POST report = %d %s, want %d", code, body, tt.want)
			}
			if n := f.st.stored(h.HostID); n != 0 {
				t.Errorf("records stored after a refused body = %d, want 0", n)
			}
		})
	}
}

func TestReportExactlyOnce(t *testing.T) {
	f := newFixture(t, Options{})
	h := f.enroll(t, "u-a")
	b1 := batch(runRecord(1, t0, nil), runRecord(2, t0.Add(time.Hour), map[string]string{"alf.stealth": wire.StatusFail}))
	for i := range 3 { // the agent retried twice: nothing is stored again
		code, body := f.do(t, "POST", wire.PathReport, h.Credential, b1)
		if code != 200 {
			t.Fatalf("report #%d = %d %s", i, code, body)
		}
		if got := decode[wire.ReportAck](t, body).AckedSeq; got != 2 {
			t.Errorf("report #%d acked = %d, want 2", i, got)
		}
	}
	// Overlapping retry plus a new record.
	code, body := f.do(t, "POST", wire.PathReport, h.Credential, batch(runRecord(2, t0.Add(time.Hour), nil), runRecord(3, t0.Add(2*time.Hour), nil)))
	if code != 200 || decode[wire.ReportAck](t, body).AckedSeq != 3 {
		t.Fatalf("overlapping report = %d %s, want 200 acking 3", code, body)
	}
	if n := f.st.stored(h.HostID); n != 3 {
		t.Errorf("records stored = %d, want 3", n)
	}
	_, m := f.do(t, "GET", "/metrics", f.auditor, nil)
	for _, want := range []string{"firewarden_server_records_stored_total 3", "firewarden_server_records_duplicate_total 5"} {
		if !strings.Contains(string(m), want+"\n") {
			t.Errorf("metrics lack %q:\n%s", want, m)
		}
	}
}

type nudgeStream struct {
	lines chan wire.Nudge
}

func (f *fixture) openNudges(t *testing.T, cred string) *nudgeStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", f.ts.URL+wire.PathNudges, nil)
	req.Header.Set("Authorization", "Bearer "+cred)
	resp, err := f.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET nudges = %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("nudges content type = %q, want application/x-ndjson", ct)
	}
	s := &nudgeStream{lines: make(chan wire.Nudge, 16)}
	sc := bufio.NewScanner(resp.Body)
	if !sc.Scan() {
		t.Fatalf("nudge stream ended before its first ping: %v", sc.Err())
	}
	var first wire.Nudge
	if err := json.Unmarshal(sc.Bytes(), &first); err != nil || first.Kind != wire.NudgePing {
		t.Fatalf("first nudge line = %q, want a ping", sc.Bytes())
	}
	go func() {
		defer resp.Body.Close()
		for sc.Scan() {
			var n wire.Nudge
			if json.Unmarshal(sc.Bytes(), &n) == nil {
				s.lines <- n
			}
		}
		close(s.lines)
	}()
	return s
}

// next waits for the next nudge that is not a ping. The time-out only keeps a broken server from
// hanging the test: it asserts delivery, not speed.
func (s *nudgeStream) next(t *testing.T) wire.Nudge {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case n, ok := <-s.lines:
			if !ok {
				t.Fatal("nudge stream closed")
			}
			if n.Kind != wire.NudgePing {
				return n
			}
		case <-timeout:
			t.Fatal("no nudge delivered")
		}
	}
}

func TestNudgeDelivery(t *testing.T) {
	f := newFixture(t, Options{})
	a := f.enroll(t, "u-a", "kiosk")
	b := f.enroll(t, "u-b")
	sa, sb := f.openNudges(t, a.Credential), f.openNudges(t, b.Credential)

	t.Run("one host", func(t *testing.T) {
		code, body := f.do(t, "POST", "/api/v1/nudge", f.admin, map[string]string{"host_id": a.HostID})
		if code != 200 {
			t.Fatalf("nudge = %d %s", code, body)
		}
		want := decode[map[string]any](t, body)["nudge"]
		if n := sa.next(t); n.Kind != wire.NudgeCheckNow || n.ID != want {
			t.Errorf("nudge = %+v, want check_now %v", n, want)
		}
	})
	t.Run("label", func(t *testing.T) {
		code, body := f.do(t, "POST", "/api/v1/nudge", f.admin, map[string]string{"label": "kiosk"})
		want := decode[map[string]any](t, body)
		if code != 200 || want["label"] != "kiosk" {
			t.Fatalf("nudge label = %d %s, want 200 naming the label", code, body)
		}
		if n := sa.next(t); n.Kind != wire.NudgeCheckNow || n.ID != want["nudge"] {
			t.Errorf("nudge = %+v, want check_now %v", n, want["nudge"])
		}
		// b has no label kiosk: nothing for it (the next nudge it sees is the policy change).
		if got := queued(f.srv, b.HostID); got != 0 {
			t.Errorf("host without the label has %d nudge(s) queued, want 0", got)
		}
	})
	t.Run("policy change reaches everyone", func(t *testing.T) {
		code, body := f.do(t, "PUT", "/api/v1/policies", f.admin, map[string]any{"name": "default", "mode": "enforce", "interval_seconds": 900})
		if code != 200 {
			t.Fatalf("put policy = %d %s", code, body)
		}
		for _, s := range []*nudgeStream{sa, sb} {
			if n := s.next(t); n.Kind != wire.NudgeConfigChanged {
				t.Errorf("nudge = %+v, want config_changed", n)
			}
		}
		code, body = f.do(t, "GET", wire.PathConfig, b.Credential, nil)
		if got := decode[wire.AgentConfig](t, body); code != 200 || got.Policy.Mode != wire.ModeEnforce || got.Policy.IntervalSeconds != 900 {
			t.Errorf("config after the change = %d %+v", code, got)
		}
	})
	t.Run("bad requests", func(t *testing.T) {
		for _, body := range []any{map[string]string{}, map[string]string{"host_id": a.HostID, "label": "x"}, `{"host":"x"}`} {
			if code, resp := f.do(t, "POST", "/api/v1/nudge", f.admin, body); code != 400 {
				t.Errorf("nudge %v = %d %s, want 400", body, code, resp)
			}
		}
		if code, _ := f.do(t, "POST", "/api/v1/nudge", f.admin, map[string]string{"host_id": "nope"}); code != 404 {
			t.Errorf("nudge unknown host = %d, want 404", code)
		}
	})
}

func TestNudgeStreamHeartbeat(t *testing.T) {
	f := newFixture(t, Options{Heartbeat: 20 * time.Millisecond})
	a := f.enroll(t, "u-a")
	s := f.openNudges(t, a.Credential)
	select {
	case n := <-s.lines:
		if n.Kind != wire.NudgePing {
			t.Errorf("idle stream line = %+v, want a ping", n)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no heartbeat on an idle stream")
	}
}

func TestNudgeStreamEndsOnClose(t *testing.T) {
	f := newFixture(t, Options{})
	a := f.enroll(t, "u-a")
	s := f.openNudges(t, a.Credential)
	f.srv.Close()
	for range s.lines {
	}
	if n := f.srv.hub.connected(); n != 0 {
		t.Errorf("streams after Close = %d, want 0", n)
	}
}

func TestStaleHostIsNeverCompliant(t *testing.T) {
	f := newFixture(t, Options{})
	h := f.enroll(t, "u-a")
	if code, body := f.do(t, "POST", wire.PathReport, h.Credential, batch(runRecord(1, t0, nil))); code != 200 {
		t.Fatalf("report = %d %s", code, body)
	}
	status := func() string {
		_, body := f.do(t, "GET", "/api/v1/hosts/"+h.HostID, f.auditor, nil)
		return decode[struct{ Host hostJSON }](t, body).Host.Status
	}
	if got := status(); got != HostCompliant {
		t.Fatalf("fresh host status = %q, want compliant", got)
	}
	f.clock.add(3*DefaultInterval + time.Second) // three missed intervals
	if got := status(); got != HostStale {
		t.Errorf("host status after 3 missed intervals = %q, want stale", got)
	}
	_, body := f.do(t, "GET", "/api/v1/compliance", f.auditor, nil)
	c := decode[complianceJSON](t, body)
	if c.Compliant != 0 || c.Stale != 1 {
		t.Errorf("compliance now = %s, want 0 compliant and 1 stale", body)
	}
	_, body = f.do(t, "GET", "/api/v1/hosts?stale=true", f.auditor, nil)
	if hs := decode[struct{ Hosts []hostJSON }](t, body).Hosts; len(hs) != 1 {
		t.Errorf("hosts?stale=true = %s, want the host", body)
	}
	_, body = f.do(t, "GET", "/api/v1/hosts?status=compliant", f.auditor, nil)
	if hs := decode[struct{ Hosts []hostJSON }](t, body).Hosts; len(hs) != 0 {
		t.Errorf("hosts?status=compliant = %s, want none", body)
	}
	// A report brings it back.
	if code, body := f.do(t, "POST", wire.PathReport, h.Credential, batch(runRecord(2, f.clock.now(), nil))); code != 200 {
		t.Fatalf("report = %d %s", code, body)
	}
	if got := status(); got != HostCompliant {
		t.Errorf("host status after a report = %q, want compliant", got)
	}
	// A refused report is still a sign of life.
	f.clock.add(3*DefaultInterval + time.Second)
	if code, _ := f.do(t, "POST", wire.PathReport, h.Credential, `{"records":[]}`); code != 400 {
		t.Fatalf("empty report = %d, want 400", code)
	}
	if got := status(); got != HostCompliant {
		t.Errorf("host status after a refused report = %q, want compliant (seen)", got)
	}
	// As of an instant before it went quiet, the record shows it compliant.
	_, body = f.do(t, "GET", "/api/v1/compliance?at="+t0.Add(time.Minute).Format(time.RFC3339), f.auditor, nil)
	if c := decode[complianceJSON](t, body); c.Compliant != 1 || c.Stale != 0 {
		t.Errorf("compliance at t0+1m = %s, want 1 compliant", body)
	}
}

func TestHostsQueries(t *testing.T) {
	f := newFixture(t, Options{})
	a := f.enroll(t, "u-a", "kiosk")
	b := f.enroll(t, "u-b")
	f.do(t, "POST", wire.PathReport, a.Credential, batch(runRecord(1, t0, map[string]string{"alf.stealth": wire.StatusFail})))
	f.do(t, "POST", wire.PathReport, b.Credential, batch(runRecord(1, t0, nil)))
	tests := []struct {
		query string
		want  []string
		code  int
	}{
		{"", []string{min(a.HostID, b.HostID), max(a.HostID, b.HostID)}, 200},
		{"?label=kiosk", []string{a.HostID}, 200},
		{"?status=non_compliant", []string{a.HostID}, 200},
		{"?status=compliant", []string{b.HostID}, 200},
		{"?check=alf.stealth&status=fail", []string{a.HostID}, 200},
		{"?limit=1", []string{min(a.HostID, b.HostID)}, 200},
		{"?after=" + min(a.HostID, b.HostID), []string{max(a.HostID, b.HostID)}, 200},
		{"?limit=0", nil, 400},
		{"?check=nope", nil, 400},
		{"?status=sleepy", nil, 400},
		{"?stale=maybe", nil, 400},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			code, body := f.do(t, "GET", "/api/v1/hosts"+tt.query, f.auditor, nil)
			if code != tt.code {
				t.Fatalf("GET hosts%s = %d %s, want %d", tt.query, code, body, tt.code)
			}
			if code != 200 {
				return
			}
			var got []string
			for _, h := range decode[struct{ Hosts []hostJSON }](t, body).Hosts {
				got = append(got, h.ID)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("GET hosts%s (-want +got):\n%s", tt.query, diff)
			}
		})
	}
	code, body := f.do(t, "GET", "/api/v1/hosts/"+a.HostID, f.auditor, nil)
	type hostPage struct {
		Host      hostJSON
		Results   []resultJSON
		LatestRun *wire.Run `json:"latest_run"`
	}
	one := decode[hostPage](t, body)
	if code != 200 || len(one.Results) != 2 || one.LatestRun == nil || one.LatestRun.RunID != "run-1" {
		t.Errorf("GET hosts/{id} = %d %s, want two results and the latest run", code, body)
	}
	if diff := cmp.Diff([]string{"alf.stealth"}, one.Host.Failing); diff != "" {
		t.Errorf("failing (-want +got):\n%s", diff)
	}
	if code, _ := f.do(t, "GET", "/api/v1/hosts/nope", f.auditor, nil); code != 404 {
		t.Errorf("GET hosts/nope = %d, want 404", code)
	}
}

func TestExemptionExcusesAFailure(t *testing.T) {
	f := newFixture(t, Options{})
	a := f.enroll(t, "u-a", "kiosk")
	f.do(t, "POST", wire.PathReport, a.Credential, batch(runRecord(1, t0, map[string]string{"alf.stealth": wire.StatusFail})))
	bad := []map[string]any{
		{"check": "alf.stealth", "reason": "r", "expires": t0.Add(time.Hour)},
		{"label": "kiosk", "host_id": a.HostID, "check": "alf.stealth", "reason": "r", "expires": t0.Add(time.Hour)},
		{"label": "kiosk", "check": "nope", "reason": "r", "expires": t0.Add(time.Hour)},
		{"label": "kiosk", "check": "alf.stealth", "reason": " ", "expires": t0.Add(time.Hour)},
		{"label": "kiosk", "check": "alf.stealth", "reason": "r", "expires": t0.Add(-time.Hour)},
		{"label": "kiosk", "check": "alf.stealth", "reason": "r", "expires": t0.Add(time.Hour), "approver": "me"},
	}
	for _, b := range bad {
		if code, body := f.do(t, "POST", "/api/v1/exemptions", f.admin, b); code != 400 {
			t.Errorf("POST exemptions %v = %d %s, want 400", b, code, body)
		}
	}
	code, body := f.do(t, "POST", "/api/v1/exemptions", f.admin, map[string]any{"label": "kiosk", "check": "alf.stealth", "reason": "kiosk mode", "expires": t0.Add(24 * time.Hour)})
	if code != 201 {
		t.Fatalf("POST exemptions = %d %s", code, body)
	}
	e := decode[exemptionJSON](t, body)
	if e.ApprovedBy != "alice" {
		t.Errorf("approved_by = %q, want alice", e.ApprovedBy)
	}
	_, body = f.do(t, "GET", "/api/v1/hosts/"+a.HostID, f.auditor, nil)
	if got := decode[struct{ Host hostJSON }](t, body).Host.Status; got != HostCompliant {
		t.Errorf("status with the exemption = %q, want compliant", got)
	}
	_, body = f.do(t, "GET", "/api/v1/export?format=csv", f.auditor, nil)
	if !strings.Contains(string(body), "kiosk mode (approved by alice") {
		t.Errorf("export lacks the exemption:\n%s", body)
	}
	if code, body := f.do(t, "DELETE", "/api/v1/exemptions/"+e.ID, f.admin, nil); code != 200 {
		t.Fatalf("DELETE exemption = %d %s", code, body)
	}
	_, body = f.do(t, "GET", "/api/v1/hosts/"+a.HostID, f.auditor, nil)
	if got := decode[struct{ Host hostJSON }](t, body).Host.Status; got != HostNonCompliant {
		t.Errorf("status after the exemption was revoked = %q, want non_compliant", got)
	}
}

func TestExportCSV(t *testing.T) {
	f := newFixture(t, Options{})
	a := f.enroll(t, "u-a")
	f.do(t, "POST", wire.PathReport, a.Credential, batch(
		runRecord(1, t0, nil),
		runRecord(2, t0.Add(2*time.Hour), map[string]string{"alf.enabled": wire.StatusFail})))
	f.clock.add(3 * time.Hour)
	read := func(q string) [][]string {
		t.Helper()
		code, body := f.do(t, "GET", "/api/v1/export?"+q, f.auditor, nil)
		if code != 200 {
			t.Fatalf("export?%s = %d %s", q, code, body)
		}
		rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	header := []string{"rule", "status", "result", "expected", "exemption", "managed", "source", "controls", "host", "host_id", "time"}
	tests := []struct {
		q    string
		want [][]string
	}{
		{"format=csv&at=" + t0.Add(time.Hour).Format(time.RFC3339), [][]string{
			header,
			{"alf.enabled", "pass", "1", "1", "", "false", "socketfilterfw", "CIS 2.2.1; NIST SC-7", "u-a.example", a.HostID, "2026-12-01T09:00:00Z"},
			{"alf.stealth", "pass", "1", "1", "", "false", "socketfilterfw", "CIS 2.2.1; NIST SC-7", "u-a.example", a.HostID, "2026-12-01T09:00:00Z"},
		}},
		{"at=" + t0.Add(150*time.Minute).Format(time.RFC3339), [][]string{
			header,
			{"alf.enabled", "fail", "0", "1", "", "false", "socketfilterfw", "CIS 2.2.1; NIST SC-7", "u-a.example", a.HostID, "2026-12-01T11:00:00Z"},
			{"alf.stealth", "pass", "1", "1", "", "false", "socketfilterfw", "CIS 2.2.1; NIST SC-7", "u-a.example", a.HostID, "2026-12-01T09:00:00Z"},
		}},
		{"from=" + t0.Add(time.Hour).Format(time.RFC3339) + "&to=" + t0.Add(3*time.Hour).Format(time.RFC3339), [][]string{
			header,
			{"alf.enabled", "fail", "0", "1", "", "false", "socketfilterfw", "CIS 2.2.1; NIST SC-7", "u-a.example", a.HostID, "2026-12-01T11:00:00Z"},
		}},
		{"at=" + t0.Add(-time.Hour).Format(time.RFC3339), [][]string{header}},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, read(tt.q)); diff != "" {
				t.Errorf("export?%s (-want +got):\n%s", tt.q, diff)
			}
		})
	}
	for _, q := range []string{"format=xml", "at=yesterday", "at=2026-12-01T00:00:00Z&from=2026-12-01T00:00:00Z", "from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z"} {
		if code, body := f.do(t, "GET", "/api/v1/export?"+q, f.auditor, nil); code != 400 {
			t.Errorf("export?%s = %d %s, want 400", q, code, body)
		}
	}
}

func TestHistoryNewestFirst(t *testing.T) {
	f := newFixture(t, Options{})
	a := f.enroll(t, "u-a")
	f.do(t, "POST", wire.PathReport, a.Credential, batch(
		runRecord(1, t0, nil),
		runRecord(2, t0.Add(time.Hour), map[string]string{"alf.enabled": wire.StatusFail}),
		runRecord(3, t0.Add(2*time.Hour), nil)))
	f.clock.add(3 * time.Hour)
	code, body := f.do(t, "GET", "/api/v1/hosts/"+a.HostID+"/history?check=alf.enabled", f.auditor, nil)
	if code != 200 {
		t.Fatalf("history = %d %s", code, body)
	}
	var got []string
	for _, tr := range decode[struct{ Transitions []transitionJSON }](t, body).Transitions {
		got = append(got, tr.From+">"+tr.To)
	}
	if diff := cmp.Diff([]string{"fail>pass", "pass>fail", ">pass"}, got); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	for _, q := range []string{"?from=x", "?check=nope"} {
		if code, _ := f.do(t, "GET", "/api/v1/hosts/"+a.HostID+"/history"+q, f.auditor, nil); code != 400 {
			t.Errorf("history%s = %d, want 400", q, code)
		}
	}
	if code, _ := f.do(t, "GET", "/api/v1/hosts/nope/history", f.auditor, nil); code != 404 {
		t.Errorf("history of an unknown host = %d, want 404", code)
	}
}

func TestPolicyValidation(t *testing.T) {
	f := newFixture(t, Options{})
	for _, b := range []map[string]any{
		{"name": "", "mode": "report", "interval_seconds": 3600},
		{"name": "default", "mode": "fix", "interval_seconds": 3600},
		{"name": "default", "mode": "report", "interval_seconds": 1},
		{"name": "default", "label": "x", "mode": "report", "interval_seconds": 3600},
		{"name": "kiosks", "mode": "report", "interval_seconds": 3600},
		{"name": "default", "mode": "report", "interval_seconds": 3600, "baseline_yaml": "checks: [nope"},
	} {
		if code, body := f.do(t, "PUT", "/api/v1/policies", f.admin, b); code != 400 {
			t.Errorf("PUT policies %v = %d %s, want 400", b, code, body)
		}
	}
	if len(f.st.policies) != 0 {
		t.Errorf("policies stored after refused PUTs: %d", len(f.st.policies))
	}
}

func TestAlertsAndAck(t *testing.T) {
	f := newFixture(t, Options{})
	a := f.enroll(t, "u-a")
	f.do(t, "POST", wire.PathReport, a.Credential, batch(wire.Record{Seq: 1, Kind: wire.KindAlert, Time: t0, Alert: &wire.Alert{Rule: "alf_disabled", User: "bob"}}))
	_, body := f.do(t, "GET", "/api/v1/alerts?unacked=true", f.auditor, nil)
	as := decode[struct{ Alerts []alertJSON }](t, body).Alerts
	if len(as) != 1 || as[0].Alert.Rule != "alf_disabled" {
		t.Fatalf("alerts = %s", body)
	}
	if code, body := f.do(t, "POST", fmt.Sprintf("/api/v1/alerts/%d/ack", as[0].ID), f.admin, map[string]string{"note": "bob was testing"}); code != 200 {
		t.Fatalf("ack = %d %s", code, body)
	}
	_, body = f.do(t, "GET", "/api/v1/alerts?unacked=true", f.auditor, nil)
	if as := decode[struct{ Alerts []alertJSON }](t, body).Alerts; len(as) != 0 {
		t.Errorf("unacked alerts after the ack = %s", body)
	}
	for path, want := range map[string]int{"/api/v1/alerts/x/ack": 400, "/api/v1/alerts/99/ack": 404} {
		if code, _ := f.do(t, "POST", path, f.admin, nil); code != want {
			t.Errorf("POST %s = %d, want %d", path, code, want)
		}
	}
}

func TestRateLimit(t *testing.T) {
	f := newFixture(t, Options{AgentRate: Rate{PerSecond: 0.001, Burst: 2}, AdminRate: Rate{PerSecond: 0.001, Burst: 3}})
	a := f.enroll(t, "u-a")
	b := f.enroll(t, "u-b")
	var codes []int
	for range 3 {
		code, _ := f.do(t, "GET", wire.PathConfig, a.Credential, nil)
		codes = append(codes, code)
	}
	if diff := cmp.Diff([]int{200, 200, 429}, codes); diff != "" {
		t.Errorf("host A's requests (-want +got):\n%s", diff)
	}
	// Another host has its own bucket.
	if code, _ := f.do(t, "GET", wire.PathConfig, b.Credential, nil); code != 200 {
		t.Errorf("host B's first request = %d, want 200", code)
	}
	codes = nil
	for range 4 {
		code, _ := f.do(t, "GET", "/api/v1/policies", f.admin, nil)
		codes = append(codes, code)
	}
	if diff := cmp.Diff([]int{200, 200, 200, 429}, codes); diff != "" {
		t.Errorf("admin token's requests (-want +got):\n%s", diff)
	}
	// Enrollment has its own, larger bucket per secret.
	g := newFixture(t, Options{EnrollRate: Rate{PerSecond: 0.001, Burst: 1}})
	g.enroll(t, "u-1")
	if code, _ := g.do(t, "POST", wire.PathEnroll, "", wire.EnrollRequest{Secret: g.secret, HostUUID: "u-2", Hostname: "x"}); code != 429 {
		t.Errorf("second enrollment over a one-token bucket = %d, want 429", code)
	}
	f.clock.add(time.Hour) // the bucket refills
	if code, _ := f.do(t, "GET", wire.PathConfig, a.Credential, nil); code != 200 {
		t.Errorf("host A after the bucket refilled = %d, want 200", code)
	}
}

func TestUnknownPathIsJSON404(t *testing.T) {
	f := newFixture(t, Options{})
	code, body := f.do(t, "GET", "/api/v2/hosts", f.admin, nil)
	if code != 404 || decode[map[string]string](t, body)["error"] == "" {
		t.Errorf("GET /api/v2/hosts = %d %s, want a JSON 404", code, body)
	}
}

func TestMetricsFormat(t *testing.T) {
	f := newFixture(t, Options{})
	f.enroll(t, "u-a")
	_, body := f.do(t, "GET", "/metrics", f.auditor, nil)
	for _, want := range []string{
		`firewarden_server_http_requests_total{route="POST /api/v1/agent/enroll",code="200"} 1`,
		"# TYPE firewarden_server_nudge_streams gauge",
		"firewarden_server_enrollments_total 1",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	// Every sample line is NAME{labels} VALUE or NAME VALUE.
	for _, line := range strings.Split(strings.TrimSpace(string(body)), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if _, err := strconv.ParseFloat(line[i+1:], 64); i < 0 || err != nil || !strings.HasPrefix(line, "firewarden_server_") {
			t.Errorf("metrics line %q is not NAME VALUE", line)
		}
	}
}

// Where the connection cannot be taken over (HTTP/2, a wrapping middleware), the stream is an
// ordinary flushed response.
func TestNudgeStreamWithoutHijack(t *testing.T) {
	st := newFakeStore()
	srv := New(st, Options{Now: func() time.Time { return t0 }})
	cred := NewSecret(PrefixHost)
	h, err := st.EnrollHost(context.Background(), hostFor("u-1"), Hash(cred))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest("GET", wire.PathNudges, nil).WithContext(ctx)
	req.Header.Set("Authorization", "Bearer "+cred)
	rec := httptest.NewRecorder() // no Hijack
	done := make(chan struct{})
	go func() { srv.Handler().ServeHTTP(rec, req); close(done) }()
	for srv.hub.connected() == 0 {
		runtime.Gosched()
	}
	if n := srv.Deliver(h.ID, wire.Nudge{Kind: wire.NudgeCheckNow, ID: "n1"}); n != 1 {
		t.Fatalf("Deliver reached %d streams, want 1", n)
	}
	// Once the handler has taken the nudge from its queue it writes it before it looks at the
	// request's context again.
	for queued(srv, h.ID) > 0 {
		runtime.Gosched()
	}
	cancel()
	<-done
	want := "{\"kind\":\"ping\"}\n{\"kind\":\"check_now\",\"id\":\"n1\"}\n"
	if got := rec.Body.String(); got != want {
		t.Errorf("stream body = %q, want %q", got, want)
	}
	if n := srv.hub.connected(); n != 0 {
		t.Errorf("streams after the request ended = %d, want 0", n)
	}
}

func queued(s *Server, hostID string) int {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	n := 0
	for sub := range s.hub.subs[hostID] {
		n += len(sub.ch)
	}
	return n
}
