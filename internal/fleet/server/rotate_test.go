package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// rotateBodies are the rotate endpoint's unit table and FuzzRotateBody's seeds.
var rotateBodies = []struct {
	name, body string
	want       int
}{
	{"manual", `{"reason":"manual"}`, http.StatusOK},
	{"scheduled", `{"reason":"scheduled"}`, http.StatusOK},
	{"no reason", `{}`, http.StatusBadRequest},
	{"unknown reason", `{"reason":"because"}`, http.StatusBadRequest},
	{"unknown field", `{"reason":"manual","credential":"fwh_mine"}`, http.StatusBadRequest},
	{"trailing data", `{"reason":"manual"}{}`, http.StatusBadRequest},
	{"not an object", `"manual"`, http.StatusBadRequest},
	{"empty", ``, http.StatusBadRequest},
	{"oversized", `{"reason":"` + strings.Repeat("m", rotateLimit) + `"}`, http.StatusRequestEntityTooLarge},
}

func TestRotateBodies(t *testing.T) {
	for _, tt := range rotateBodies {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Options{})
			e := f.enroll(t, "u-rot")
			code, body := f.do(t, "POST", wire.PathRotate, e.Credential, tt.body)
			if code != tt.want {
				t.Fatalf("POST rotate %s = %d %s, want %d", tt.body, code, body, tt.want)
			}
			if code, _ := f.do(t, "GET", wire.PathConfig, e.Credential, nil); code != http.StatusOK {
				t.Errorf("the current credential after POST rotate %s = %d, want 200", tt.body, code)
			}
		})
	}
}

func TestRotateKeepsTheOldCredentialUntilTheNewIsUsed(t *testing.T) {
	f := newFixture(t, Options{})
	e := f.enroll(t, "u-rot")
	other := f.enroll(t, "u-other")
	rotate := func(cred string) wire.RotateResponse {
		t.Helper()
		code, body := f.do(t, "POST", wire.PathRotate, cred, wire.RotateRequest{Reason: wire.RotateManual})
		if code != http.StatusOK {
			t.Fatalf("POST rotate = %d %s, want 200", code, body)
		}
		r := decode[wire.RotateResponse](t, body)
		if r.HostID != e.HostID || !strings.HasPrefix(r.Credential, PrefixHost) || r.Credential == cred {
			t.Fatalf("POST rotate = %+v, want host %s and a new %s credential", r, e.HostID, PrefixHost)
		}
		return r
	}
	config := func(cred string) int {
		t.Helper()
		code, _ := f.do(t, "GET", wire.PathConfig, cred, nil)
		return code
	}
	// The first answer is lost (say the agent was killed before saving it): the old credential
	// still works and asks again.
	lost := rotate(e.Credential)
	if got := config(e.Credential); got != http.StatusOK {
		t.Fatalf("old credential after an unused rotation = %d, want 200", got)
	}
	next := rotate(e.Credential)
	if got := config(lost.Credential); got != http.StatusUnauthorized {
		t.Errorf("a replaced offer = %d, want 401", got)
	}
	if got := config(e.Credential); got != http.StatusOK {
		t.Errorf("old credential before the new one is used = %d, want 200", got)
	}
	if got := config(next.Credential); got != http.StatusOK {
		t.Fatalf("new credential = %d, want 200", got)
	}
	if got := config(e.Credential); got != http.StatusUnauthorized {
		t.Errorf("old credential after the new one was used = %d, want 401", got)
	}
	if got := config(other.Credential); got != http.StatusOK {
		t.Errorf("another host's credential = %d, want 200", got)
	}
	// The new credential is the host's: it reports as the host, and rotates again.
	if code, body := f.do(t, "POST", wire.PathReport, next.Credential, batch(runRecord(1, t0, nil))); code != http.StatusOK {
		t.Errorf("report with the new credential = %d %s", code, body)
	}
	if f.st.stored(e.HostID) != 1 {
		t.Errorf("host %s holds %d records, want 1", e.HostID, f.st.stored(e.HostID))
	}
	rotate(next.Credential)
	rotations := 0
	for _, a := range f.st.audit {
		if a.Action == "host.rotate" && a.Target == e.HostID {
			rotations++
		}
	}
	if rotations != 1 {
		t.Errorf("audit holds %d host.rotate, want 1 (one credential promoted)", rotations)
	}
}

func TestRevokedHostIsToldSo(t *testing.T) {
	f := newFixture(t, Options{})
	e := f.enroll(t, "u-rev")
	if code, body := f.do(t, "POST", "/api/v1/hosts/"+e.HostID+"/revoke", f.admin, nil); code != http.StatusOK {
		t.Fatalf("revoke = %d %s", code, body)
	}
	for _, ep := range []struct{ method, path string }{
		{"GET", wire.PathConfig}, {"POST", wire.PathRotate}, {"POST", wire.PathReport}, {"GET", wire.PathNudges},
	} {
		code, body := f.do(t, ep.method, ep.path, e.Credential, `{"reason":"manual"}`)
		got := decode[wire.Error](t, body)
		if code != http.StatusUnauthorized || got.Code != wire.CodeRevoked || !strings.Contains(got.Error, "enroll") {
			t.Errorf("%s %s as a revoked host = %d %+v, want 401 with code %q saying to enroll again", ep.method, ep.path, code, got, wire.CodeRevoked)
		}
	}
	code, body := f.do(t, "POST", wire.PathEnroll, "", wire.EnrollRequest{Secret: f.revokedSecret, HostUUID: "u", Hostname: "h"})
	if got := decode[wire.Error](t, body); code != http.StatusUnauthorized || got.Code != wire.CodeRevoked {
		t.Errorf("enroll with a revoked secret = %d %+v, want 401 with code %q", code, got, wire.CodeRevoked)
	}
}

// FuzzRotateBody posts arbitrary bodies to the rotate endpoint: 200 with a new credential, or
// 400/413 and the host's credential untouched.
func FuzzRotateBody(f *testing.F) {
	for _, tt := range rotateBodies {
		f.Add(tt.body)
	}
	st := newFakeStore()
	srv := New(st, Options{Now: func() time.Time { return t0 }, AgentRate: Rate{PerSecond: 1e9, Burst: 1e9}})
	h := srv.Handler()
	cred := NewSecret(PrefixHost)
	if _, err := st.EnrollHost(f.Context(), hostFor("fuzz"), Hash(cred)); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", wire.PathRotate, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+cred)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
			var r wire.RotateResponse
			if err := wire.Decode(bytes.NewReader(rec.Body.Bytes()), &r, wire.MaxBodyBytes); err != nil || !strings.HasPrefix(r.Credential, PrefixHost) {
				t.Errorf("POST rotate %q = 200 %s, want a RotateResponse (%v)", body, rec.Body, err)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Errorf("POST rotate %q = %d %s, want 200, 400 or 413", body, rec.Code, rec.Body)
		}
		var e map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
			t.Errorf("response %q is not JSON", rec.Body)
		}
		// The credential that asked is never ended by asking.
		if _, err := st.HostByCredential(t.Context(), Hash(cred)); err != nil {
			t.Errorf("after POST rotate %q the current credential is refused: %v", body, err)
		}
	})
}

// Revoking a host ends the nudge stream it opened before, so that its agent finds out.
func TestRevokeEndsTheNudgeStream(t *testing.T) {
	f := newFixture(t, Options{})
	e, other := f.enroll(t, "u-rev"), f.enroll(t, "u-stay")
	s, so := f.openNudges(t, e.Credential), f.openNudges(t, other.Credential)
	if code, body := f.do(t, "POST", "/api/v1/hosts/"+e.HostID+"/revoke", f.admin, nil); code != http.StatusOK {
		t.Fatalf("revoke = %d %s", code, body)
	}
	timeout := time.After(time.Minute) // a guard against a hang
	for open := true; open; {
		select {
		case n, ok := <-s.lines:
			if ok && n.Kind != wire.NudgePing {
				t.Errorf("the revoked host's stream got %+v", n)
			}
			open = ok
		case <-timeout:
			t.Fatal("the revoked host's nudge stream is still open")
		}
	}
	if code, _ := f.do(t, "POST", "/api/v1/nudge", f.admin, map[string]string{"host_id": other.HostID}); code != http.StatusOK {
		t.Fatal("nudge the other host")
	}
	if n := so.next(t); n.Kind != wire.NudgeCheckNow {
		t.Errorf("the other host's stream got %+v, want check_now", n)
	}
}
