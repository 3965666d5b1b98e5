package fleete2e

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/firewarden/firewarden/internal/fleet/wire"
	"github.com/firewarden/firewarden/internal/host/hosttest"
)

// An agent rotates its credential with `agent rotate` and keeps reporting; the old credential
// stops working; a rotation whose answer never reached the agent, across a kill -9 of the
// server, loses nothing; a revoked agent says so in its log and in `agent status`.
func TestRotateAndRevokeE2E(t *testing.T) {
	f := newFleet(t, "")
	addr := freeAddr(t)
	s := f.serve(t, addr)
	s.putPolicy(t, wire.ModeReport)
	m := newMac(t, hosttest.Mac15(), "44444444-4444-4444-8444-000000000001")
	m.setGlobalState(t, "on")
	id := m.enroll(t, s)
	m.once(t, 0)

	old := m.credential(t)
	r := m.fw(t, "agent", "rotate")
	if r.code != 0 || !strings.Contains(r.stdout, id) {
		t.Fatalf("agent rotate: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	rotated := m.credential(t)
	if rotated == old {
		t.Fatalf("agent.json holds the same credential after agent rotate")
	}
	if code, body := s.call(t, "GET", wire.PathConfig, old, nil); code != http.StatusUnauthorized {
		t.Errorf("GET config with the credential before rotation = %d %s, want 401", code, body)
	}
	m.once(t, 0)
	var audit struct {
		Audit []struct{ Action, Target string }
	}
	s.admin(t, "GET", "/api/v1/audit", nil, &audit)
	rotations := 0
	for _, a := range audit.Audit {
		if a.Action == "host.rotate" && a.Target == id {
			rotations++
		}
	}
	if rotations != 1 {
		t.Errorf("audit log holds %d host.rotate for %s, want 1", rotations, id)
	}

	// The server answers a rotation, then dies (kill -9) before the agent saved the answer:
	// the credential in agent.json still works after the restart.
	code, body := s.call(t, "POST", wire.PathRotate, rotated, wire.RotateRequest{Reason: wire.RotateManual})
	if code != http.StatusOK {
		t.Fatalf("POST rotate = %d %s", code, body)
	}
	s.kill()
	s = f.serve(t, addr)
	m.once(t, 0)
	if got := m.credential(t); got != rotated {
		t.Errorf("agent.json changed without a rotation")
	}

	// Revoked: the agent stops reporting and says what to do.
	s.admin(t, "POST", "/api/v1/hosts/"+id+"/revoke", nil, nil)
	r = m.fw(t, "agent", "run", "--once")
	if r.code != 2 || !strings.Contains(r.stderr, "REVOKED") || !strings.Contains(r.stderr, "enroll again") {
		t.Errorf("agent run --once when revoked: exit %d, stderr %q; want 2 and a message saying it was revoked and to enroll again", r.code, r.stderr)
	}
	r = m.fw(t, "agent", "status")
	if !strings.Contains(r.stdout, "REVOKED") {
		t.Errorf("agent status when revoked:\n%s\nwant a line saying the credential was REVOKED", r.stdout)
	}
	r = m.fw(t, "--json", "agent", "status")
	var st struct {
		Facts struct {
			Revoked bool `json:"credential_revoked"`
		} `json:"facts"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || !st.Facts.Revoked {
		t.Errorf("agent status --json when revoked = %s (%v), want facts.credential_revoked true", r.stdout, err)
	}
	if r := m.fw(t, "agent", "rotate"); r.code == 0 || !strings.Contains(r.stderr, "REVOKED") {
		t.Errorf("agent rotate when revoked: exit %d, stderr %q; want a failure saying REVOKED", r.code, r.stderr)
	}
	// Enrolling again clears it at the first request the server accepts, and the server's
	// sequence resumes where the agent's spool stands: what was spooled while revoked, and the
	// next run, upload.
	m.enroll(t, s)
	if r := m.fw(t, "agent", "run", "--once"); r.code == 2 || strings.Contains(r.stderr, "acknowledged") {
		t.Errorf("agent run --once after enrolling again: exit %d, stderr %q; want its records uploaded", r.code, r.stderr)
	}
	r = m.fw(t, "agent", "status")
	if strings.Contains(r.stdout, "REVOKED") {
		t.Errorf("agent status after enrolling again still says REVOKED:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "0 record(s)") {
		t.Errorf("agent status after enrolling again and a run:\n%s\nwant an empty spool (everything acknowledged)", r.stdout)
	}
}

// Failed authentication is limited per client address: an address that fails 20 times gets
// 429 for every further failure, while valid credentials are served from it and from anywhere
// else (agents behind the same NAT or layer-4 load balancer share an address); behind a trusted
// proxy the client is the one X-Forwarded-For names, and only then.
func TestFailedAuthLimitE2E(t *testing.T) {
	f := newFleet(t, "")
	s := f.serveWith(t, "127.0.0.1:0", "--trusted-proxy", "127.0.0.3")
	s.putPolicy(t, wire.ModeReport)
	m := newMac(t, hosttest.Mac15(), "44444444-4444-4444-8444-000000000002")
	m.setGlobalState(t, "on")
	m.enroll(t, s)

	from := func(ip string, xff, token string) int {
		t.Helper()
		c := pinnedClientFrom(f.fingerprint, net.ParseIP(ip))
		req, err := http.NewRequest("GET", s.url()+"/api/v1/hosts", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	const attacker = "127.0.0.2"
	for i := range 20 {
		if code := from(attacker, "", "fwa_guess"); code != http.StatusUnauthorized {
			t.Fatalf("failure %d = %d, want 401", i+1, code)
		}
	}
	if code := from(attacker, "", "fwa_guess"); code != http.StatusTooManyRequests {
		t.Errorf("failure 21 = %d, want 429", code)
	}
	if code := from(attacker, "", f.adminToken); code != http.StatusOK {
		t.Errorf("a valid admin token, seen valid before, from the blocked address = %d, want 200", code)
	}
	// A load balancer's health probe needs no credential and is never limited.
	{
		resp, err := pinnedClientFrom(f.fingerprint, net.ParseIP(attacker)).Get(s.url() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "{\n  \"status\": \"ok\"\n}" {
			t.Errorf("GET /healthz from the blocked address = %d %s, want 200 {\"status\": \"ok\"}", resp.StatusCode, body)
		}
	}
	// A blocked address reaches the store only with a secret seen valid lately: a valid token
	// never used yet is refused like a guess, until it has been used from elsewhere.
	var tok struct{ Token string }
	r := run(t, serverBin, "token", "create", "--data-dir", f.dir, "--name", "ops", "--role", "auditor", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &tok); r.code != 0 || err != nil || tok.Token == "" {
		t.Fatalf("token create: exit %d %v %s %s", r.code, err, r.stdout, r.stderr)
	}
	if code := from(attacker, "", tok.Token); code != http.StatusTooManyRequests {
		t.Errorf("a token never used, from the blocked address = %d, want 429", code)
	}
	if code := from("127.0.0.4", "", tok.Token); code != http.StatusOK {
		t.Errorf("the new token from another address = %d, want 200", code)
	}
	if code := from(attacker, "", tok.Token); code != http.StatusOK {
		t.Errorf("the new token, now seen valid, from the blocked address = %d, want 200", code)
	}
	// The agent (from 127.0.0.1) and an admin elsewhere are not locked out.
	m.once(t, 0)
	if code := from("127.0.0.4", "", f.adminToken); code != http.StatusOK {
		t.Errorf("the admin token from another address = %d, want 200", code)
	}
	// X-Forwarded-For from an untrusted peer is ignored: the attacker cannot pose as another.
	if code := from(attacker, "192.0.2.77", "fwa_guess"); code != http.StatusTooManyRequests {
		t.Errorf("the blocked address claiming X-Forwarded-For 192.0.2.77 = %d, want 429", code)
	}
	// Through the trusted proxy 127.0.0.3, clients are told apart by X-Forwarded-For.
	for range 21 {
		from("127.0.0.3", "192.0.2.1", "fwa_guess")
	}
	if code := from("127.0.0.3", "192.0.2.1", "fwa_guess"); code != http.StatusTooManyRequests {
		t.Errorf("client 192.0.2.1 behind the proxy after 21 failures = %d, want 429", code)
	}
	if code := from("127.0.0.3", "192.0.2.2", "fwa_guess"); code != http.StatusUnauthorized {
		t.Errorf("client 192.0.2.2 behind the same proxy = %d, want 401 (not limited)", code)
	}
	var metrics string
	{
		code, body := s.call(t, "GET", "/metrics", f.adminToken, nil)
		if code != http.StatusOK {
			t.Fatalf("GET /metrics = %d", code)
		}
		metrics = string(body)
	}
	if !strings.Contains(metrics, "firewarden_server_auth_limited_total ") || strings.Contains(metrics, "firewarden_server_auth_limited_total 0\n") {
		t.Errorf("/metrics does not count the refused addresses:\n%s", metrics)
	}
}
