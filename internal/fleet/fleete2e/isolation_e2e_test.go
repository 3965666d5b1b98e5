package fleete2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/fleet/wire"
	"github.com/firewarden/firewarden/internal/host/hosttest"
)

// runRecord is a valid one-result run record, as JSON text to be bent by the tests below.
func runRecord(seq uint64, at time.Time, status string) map[string]any {
	actual := map[string]string{wire.StatusPass: "1", wire.StatusFail: "0"}[status]
	return map[string]any{"seq": seq, "kind": wire.KindRun, "time": at, "run": map[string]any{
		"run_id": fmt.Sprintf("0193e2e0-0000-7000-8000-%012d", seq), "policy": "default", "mode": wire.ModeReport,
		"baseline_name": "e2e", "baseline_sha256": strings.Repeat("0", 64), "started": at, "finished": at,
		"results": []map[string]any{{"check": "alf.enabled", "status": status, "expected": "1", "actual": actual,
			"source": "socketfilterfw", "managed": false, "controls": []string{}}},
	}}
}

// fleetState is what the server holds about the fleet, without the last-seen times that every
// authenticated request moves.
func fleetState(t *testing.T, s *serving, ids ...string) string {
	t.Helper()
	var b strings.Builder
	var hosts struct{ Hosts []hostJSON }
	s.admin(t, "GET", "/api/v1/hosts", nil, &hosts)
	fmt.Fprintf(&b, "%d hosts\n", len(hosts.Hosts))
	for _, id := range ids {
		v := s.host(t, id)
		fmt.Fprintf(&b, "host %s: %s last_seq %d chain_broken %v results %+v\n", id, v.Host.Status, v.Host.LastSeq, v.Host.ChainBroken, v.Results)
		fmt.Fprintf(&b, "  history %+v\n", s.history(t, id, ""))
	}
	var pol, audit, ex struct {
		Policies   []map[string]any
		Audit      []map[string]any
		Exemptions []map[string]any
	}
	s.admin(t, "GET", "/api/v1/policies", nil, &pol)
	s.admin(t, "GET", "/api/v1/audit", nil, &audit)
	s.admin(t, "GET", "/api/v1/exemptions", nil, &ex)
	fmt.Fprintf(&b, "policies %v\naudit entries %d\nexemptions %v\n", pol.Policies, len(audit.Audit), ex.Exemptions)
	return b.String()
}

// One host's credential reads and writes only that host's data, on every agent endpoint, and
// opens no admin endpoint; revoked credentials, tokens and enroll secrets are refused; malformed,
// oversized and unknown-field bodies are 4xx and change nothing.
func TestFleetIsolationAndStrictBodies(t *testing.T) {
	f := newFleet(t, "")
	s := f.serve(t, "127.0.0.1:0")
	s.putPolicy(t, wire.ModeReport)
	s.admin(t, "PUT", "/api/v1/policies", map[string]any{"name": "b-policy", "label": "b", "mode": wire.ModeReport,
		"interval_seconds": 600, "baseline_yaml": "name: b\nfirewall:\n  enabled: true\n  stealth: true\n"}, nil)

	a, b := newMac(t, hosttest.Mac15(), "33333333-3333-4333-8333-00000000000A"), newMac(t, hosttest.Mac14(), "33333333-3333-4333-8333-00000000000B")
	a.setGlobalState(t, "on")
	idA, idB := a.enroll(t, s, "a"), b.enroll(t, s, "b")
	a.once(t, 0)
	b.once(t, 1) // stealth is off on the macOS 14 preset: B's own policy fails it
	credA, credB := a.credential(t), b.credential(t)

	t.Run("config is the caller's own", func(t *testing.T) {
		for _, tt := range []struct{ cred, want string }{{credA, "default"}, {credB, "b-policy"}} {
			code, body := s.call(t, "GET", wire.PathConfig, tt.cred, nil)
			var cfg wire.AgentConfig
			if err := json.Unmarshal(body, &cfg); code != 200 || err != nil || cfg.Policy.Name != tt.want {
				t.Errorf("GET config = %d %s, want policy %s", code, body, tt.want)
			}
		}
	})

	t.Run("a report lands on the caller's host only", func(t *testing.T) {
		beforeB := fleetState(t, s, idB)
		next := s.host(t, idA).Host.LastSeq + 1
		code, body := s.call(t, "POST", wire.PathReport, credA, map[string]any{"records": []any{runRecord(next, time.Now().UTC(), wire.StatusFail)}})
		if code != 200 {
			t.Fatalf("A's report = %d %s", code, body)
		}
		if v := s.host(t, idA); v.Host.LastSeq != next || v.Host.Status != "non_compliant" {
			t.Errorf("A after its report: last_seq %d status %s, want %d non_compliant", v.Host.LastSeq, v.Host.Status, next)
		}
		// The whole fleet's view changed only in A: B is as it was.
		afterB := fleetState(t, s, idB)
		bLines := func(st string) string { // B's own lines
			var out []string
			for _, l := range strings.Split(st, "\n") {
				if strings.Contains(l, idB) || strings.HasPrefix(l, "  history") {
					out = append(out, l)
				}
			}
			return strings.Join(out, "\n")
		}
		if diff := cmp.Diff(bLines(beforeB), bLines(afterB)); diff != "" {
			t.Errorf("B's data after A's report (-before +after):\n%s", diff)
		}
		// A record naming another host is not a record of this API version.
		rec := runRecord(next+1, time.Now().UTC(), wire.StatusPass)
		rec["host_id"] = idB
		if code, body := s.call(t, "POST", wire.PathReport, credA, map[string]any{"records": []any{rec}}); code != 400 {
			t.Errorf("a record with host_id = %d %s, want 400", code, body)
		}
	})

	t.Run("nudges reach the named host only", func(t *testing.T) {
		streamA, closeA := s.nudgeStream(t, credA)
		defer closeA()
		var toB, toA struct{ Nudge string }
		s.admin(t, "POST", "/api/v1/nudge", map[string]string{"host_id": idB}, &toB)
		s.admin(t, "POST", "/api/v1/nudge", map[string]string{"host_id": idA}, &toA)
		select {
		case n := <-streamA:
			if n.ID != toA.Nudge || n.Kind != wire.NudgeCheckNow {
				t.Errorf("A's stream got %+v first, want check_now %s (B's nudge was %s)", n, toA.Nudge, toB.Nudge)
			}
		case <-time.After(time.Minute): // a guard against a hang, not a speed requirement
			t.Fatal("A's nudge never reached A's stream")
		}
	})

	t.Run("a host credential opens no admin endpoint", func(t *testing.T) {
		for _, ep := range []struct{ method, path string }{
			{"GET", "/api/v1/hosts"}, {"GET", "/api/v1/hosts/" + idB}, {"GET", "/api/v1/hosts/" + idB + "/history"},
			{"GET", "/api/v1/hosts/" + idA}, {"POST", "/api/v1/hosts/" + idB + "/revoke"}, {"POST", "/api/v1/hosts/" + idB + "/refetch"},
			{"GET", "/api/v1/compliance"}, {"GET", "/api/v1/alerts"}, {"GET", "/api/v1/exemptions"}, {"GET", "/api/v1/policies"},
			{"PUT", "/api/v1/policies"}, {"POST", "/api/v1/nudge"}, {"GET", "/api/v1/export"}, {"GET", "/api/v1/audit"}, {"GET", "/metrics"},
		} {
			if code, body := s.call(t, ep.method, ep.path, credA, nil); code != 401 && code != 403 {
				t.Errorf("%s %s with a host credential = %d %s, want 401 or 403", ep.method, ep.path, code, body)
			}
		}
		// Nor does an admin token open the agent endpoints as some host.
		for _, ep := range []struct{ method, path string }{{"GET", wire.PathConfig}, {"POST", wire.PathReport}, {"GET", wire.PathNudges}, {"POST", wire.PathRotate}} {
			if code, body := s.call(t, ep.method, ep.path, f.adminToken, nil); code != 401 {
				t.Errorf("%s %s with the admin token = %d %s, want 401", ep.method, ep.path, code, body)
			}
		}
	})

	t.Run("malformed, oversized and unknown-field bodies change nothing", func(t *testing.T) {
		before := fleetState(t, s, idA, idB)
		next := s.host(t, idA).Host.LastSeq + 1
		now := time.Now().UTC()
		batch := func(mod func(rec map[string]any)) []byte {
			rec := runRecord(next, now, wire.StatusPass)
			mod(rec)
			data, _ := json.Marshal(map[string]any{"records": []any{rec}})
			return data
		}
		huge := runRecord(next, now, wire.StatusPass)
		huge["run"].(map[string]any)["results"].([]map[string]any)[0]["detail"] = strings.Repeat("x", wire.MaxBodyBytes)
		hugeBody, _ := json.Marshal(map[string]any{"records": []any{huge}})
		many := make([]any, wire.MaxBatchRecords+1)
		for i := range many {
			many[i] = runRecord(next+uint64(i), now, wire.StatusPass)
		}
		manyBody, _ := json.Marshal(map[string]any{"records": many})
		for _, tt := range []struct {
			name, method, path, cred string
			body                     any
		}{
			{"report: not JSON", "POST", wire.PathReport, credA, "{"},
			{"report: empty body", "POST", wire.PathReport, credA, ""},
			{"report: an array", "POST", wire.PathReport, credA, "[]"},
			{"report: trailing data", "POST", wire.PathReport, credA, string(batch(func(map[string]any) {})) + "{}"},
			{"report: over the size limit", "POST", wire.PathReport, credA, hugeBody},
			{"report: unknown top-level field", "POST", wire.PathReport, credA, `{"records":[],"surprise":1}`},
			{"report: unknown record field", "POST", wire.PathReport, credA, batch(func(r map[string]any) { r["surprise"] = 1 })},
			{"report: unknown run field", "POST", wire.PathReport, credA, batch(func(r map[string]any) { r["run"].(map[string]any)["surprise"] = 1 })},
			{"report: unknown result field", "POST", wire.PathReport, credA, batch(func(r map[string]any) {
				r["run"].(map[string]any)["results"].([]map[string]any)[0]["surprise"] = 1
			})},
			{"report: seq 0", "POST", wire.PathReport, credA, batch(func(r map[string]any) { r["seq"] = 0 })},
			{"report: unknown kind", "POST", wire.PathReport, credA, batch(func(r map[string]any) { r["kind"] = "reboot" })},
			{"report: kind without its payload", "POST", wire.PathReport, credA, batch(func(r map[string]any) { r["kind"] = wire.KindDrift })},
			{"report: a string for seq", "POST", wire.PathReport, credA, batch(func(r map[string]any) { r["seq"] = "7" })},
			{"report: empty batch", "POST", wire.PathReport, credA, `{"records":[]}`},
			{"report: too many records", "POST", wire.PathReport, credA, manyBody},
			{"enroll: unknown field", "POST", wire.PathEnroll, "", map[string]any{"secret": f.enrollSecret, "host_uuid": "X", "hostname": "x", "surprise": 1}},
			{"enroll: not JSON", "POST", wire.PathEnroll, "", "{"},
			// Just over the enroll limit (64 KiB): the server answers 413 without reading the
			// rest and closes the connection, so a body much larger than the socket buffers
			// reaches the client as a reset while it is still writing, not as the answer.
			{"enroll: oversized", "POST", wire.PathEnroll, "", map[string]any{"secret": f.enrollSecret, "host_uuid": "X", "hostname": strings.Repeat("x", 80<<10)}},
			{"enroll: no secret", "POST", wire.PathEnroll, "", map[string]any{"host_uuid": "X", "hostname": "x"}},
			{"enroll: a host credential as secret", "POST", wire.PathEnroll, "", map[string]any{"secret": credA, "host_uuid": "X", "hostname": "x"}},
			{"policy: unknown field", "PUT", "/api/v1/policies", f.adminToken, map[string]any{"name": "default", "mode": "enforce", "interval_seconds": 60, "surprise": 1}},
			{"policy: not JSON", "PUT", "/api/v1/policies", f.adminToken, "{"},
			{"policy: bad baseline", "PUT", "/api/v1/policies", f.adminToken, map[string]any{"name": "default", "mode": "enforce", "interval_seconds": 60, "baseline_yaml": "firewall: [\n"}},
			{"exemption: unknown field", "POST", "/api/v1/exemptions", f.adminToken, map[string]any{"host_id": idA, "check": "alf.enabled", "reason": "r", "expires": now.Add(time.Hour), "surprise": 1}},
			{"nudge: unknown field", "POST", "/api/v1/nudge", f.adminToken, map[string]any{"host_id": idA, "surprise": 1}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				code, body := s.call(t, tt.method, tt.path, tt.cred, tt.body)
				if code < 400 || code > 499 || code == http.StatusTooManyRequests {
					t.Errorf("%s %s = %d %s, want 4xx", tt.method, tt.path, code, body)
				}
			})
		}
		if diff := cmp.Diff(before, fleetState(t, s, idA, idB)); diff != "" {
			t.Errorf("the refused requests changed the fleet (-before +after):\n%s", diff)
		}
	})

	t.Run("one host's flood is limited and does not limit another", func(t *testing.T) {
		limited := 0
		for range 100 {
			if code, _ := s.call(t, "GET", wire.PathConfig, credA, nil); code == http.StatusTooManyRequests {
				limited++
			}
		}
		if limited == 0 {
			t.Error("100 config requests in a row with one credential: none refused with 429")
		}
		if code, body := s.call(t, "GET", wire.PathConfig, credB, nil); code != 200 {
			t.Errorf("B's config during A's flood = %d %s, want 200", code, body)
		}
	})

	t.Run("revoked credential, token and enroll secret are refused", func(t *testing.T) {
		s.admin(t, "POST", "/api/v1/hosts/"+idB+"/revoke", nil, nil)
		before := fleetState(t, s, idB)
		for _, ep := range []struct {
			method, path string
			body         any
		}{{"GET", wire.PathConfig, nil}, {"GET", wire.PathNudges, nil}, {"POST", wire.PathReport, map[string]any{"records": []any{runRecord(100, time.Now().UTC(), wire.StatusPass)}}}} {
			if code, body := s.call(t, ep.method, ep.path, credB, ep.body); code != 401 {
				t.Errorf("%s %s with a revoked credential = %d %s, want 401", ep.method, ep.path, code, body)
			}
		}
		// The revoked agent says it failed, and keeps every record the server does not hold.
		b.setGlobalState(t, "on")
		if r := b.fw(t, "agent", "run", "--once"); r.code != 2 {
			t.Errorf("agent run --once with a revoked credential: exit %d, want 2\n%s", r.code, r.stderr)
		}
		if held, spooled, stored := b.lastSeq(t), b.spooled(t), s.host(t, idB).Host.LastSeq; uint64(spooled) != held-stored {
			t.Errorf("the refused agent spools %d records, gave seqs up to %d, the server holds up to %d: records lost", spooled, held, stored)
		}
		if diff := cmp.Diff(before, fleetState(t, s, idB)); diff != "" {
			t.Errorf("a revoked host's requests changed the fleet (-before +after):\n%s", diff)
		}

		var tok struct{ ID, Token string }
		r := run(t, serverBin, "token", "create", "--data-dir", f.dir, "--name", "ops", "--role", "admin", "--json")
		if err := json.Unmarshal([]byte(r.stdout), &tok); r.code != 0 || err != nil || tok.Token == "" {
			t.Fatalf("token create: exit %d %v %s %s", r.code, err, r.stdout, r.stderr)
		}
		if code, _ := s.call(t, "GET", "/api/v1/hosts", tok.Token, nil); code != 200 {
			t.Errorf("a new admin token: GET hosts = %d, want 200", code)
		}
		if r := run(t, serverBin, "token", "revoke", "--data-dir", f.dir, tok.ID); r.code != 0 {
			t.Fatalf("token revoke: exit %d %s", r.code, r.stderr)
		}
		for _, ep := range []struct{ method, path string }{{"GET", "/api/v1/hosts"}, {"GET", "/api/v1/hosts/" + idA}, {"POST", "/api/v1/nudge"}, {"PUT", "/api/v1/policies"}} {
			if code, body := s.call(t, ep.method, ep.path, tok.Token, nil); code != 401 {
				t.Errorf("%s %s with a revoked token = %d %s, want 401", ep.method, ep.path, code, body)
			}
		}

		var sec struct{ ID, Secret string }
		r = run(t, serverBin, "secret", "create", "--data-dir", f.dir, "--name", "office", "--json")
		if err := json.Unmarshal([]byte(r.stdout), &sec); r.code != 0 || err != nil || sec.Secret == "" {
			t.Fatalf("secret create: exit %d %v %s %s", r.code, err, r.stdout, r.stderr)
		}
		if r := run(t, serverBin, "secret", "revoke", "--data-dir", f.dir, sec.ID); r.code != 0 {
			t.Fatalf("secret revoke: exit %d %s", r.code, r.stderr)
		}
		c := newMac(t, hosttest.Mac15(), "33333333-3333-4333-8333-00000000000C")
		if r := c.fw(t, "agent", "enroll", "--server", s.url(), "--secret", sec.Secret, "--fingerprint", f.fingerprint); r.code != 2 {
			t.Errorf("agent enroll with a revoked secret: exit %d %q, want 2", r.code, r.stderr)
		}
		if code, body := s.call(t, "POST", wire.PathEnroll, "", wire.EnrollRequest{Secret: sec.Secret, HostUUID: "X", Hostname: "x"}); code != 401 || !strings.Contains(string(body), "revoked") {
			t.Errorf("POST enroll with a revoked secret = %d %s, want 401 saying revoked", code, body)
		}
		var hosts struct{ Hosts []hostJSON }
		s.admin(t, "GET", "/api/v1/hosts", nil, &hosts)
		if len(hosts.Hosts) != 2 {
			t.Errorf("%d hosts after an enrolment with a revoked secret, want 2", len(hosts.Hosts))
		}
	})
}
