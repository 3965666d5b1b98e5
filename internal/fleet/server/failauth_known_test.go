package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

const blockedPeer = "198.51.100.7:4242"

// send is one request through h as if from the TCP peer remote.
func send(t *testing.T, h http.Handler, remote, method, path, token string, body any) (int, wire.Error) {
	t.Helper()
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	req := httptest.NewRequest(method, path, bytes.NewReader(data))
	req.RemoteAddr = remote
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var e wire.Error
	if rec.Code != http.StatusOK {
		_ = json.Unmarshal(rec.Body.Bytes(), &e)
	}
	return rec.Code, e
}

// block uses up the failures of blockedPeer on srv (burst 2).
func block(t *testing.T, srv *Server) {
	t.Helper()
	for i := range 3 {
		want := http.StatusUnauthorized
		if i == 2 {
			want = http.StatusTooManyRequests
		}
		if code, _ := send(t, srv.Handler(), blockedPeer, "GET", "/api/v1/hosts", "fwa_guess", nil); code != want {
			t.Fatalf("failure %d from %s = %d, want %d", i+1, blockedPeer, code, want)
		}
	}
}

// TestBlockedAddressLooksUpOnlyKnownSecrets: once an address has used up its failures, only the
// secrets seen valid lately reach the store; everything else is refused without a lookup. A
// known secret that was revoked since is looked up and refused for what it is.
func TestBlockedAddressLooksUpOnlyKnownSecrets(t *testing.T) {
	type request struct {
		method, path, token string
		body                any
	}
	tests := []struct {
		name string
		// prepare runs from another address before the address is blocked and returns the
		// request to send from the blocked address.
		prepare     func(t *testing.T, f *fixture) request
		want        int
		wantCode    string // wire.Error code
		wantLookups int64
	}{
		{"known host credential", func(t *testing.T, f *fixture) request {
			return request{"GET", wire.PathConfig, f.enroll(t, "known-host").Credential, nil}
		}, http.StatusOK, "", 1},
		{"known admin token", func(t *testing.T, f *fixture) request {
			if code, _ := f.do(t, "GET", "/api/v1/hosts", f.admin, nil); code != http.StatusOK {
				t.Fatalf("GET /api/v1/hosts = %d", code)
			}
			return request{"GET", "/api/v1/hosts", f.admin, nil}
		}, http.StatusOK, "", 1},
		{"known enroll secret", func(t *testing.T, f *fixture) request {
			f.enroll(t, "first-host")
			return request{"POST", wire.PathEnroll, "", wire.EnrollRequest{Secret: f.secret, HostUUID: "second-host", Hostname: "h"}}
		}, http.StatusOK, "", 1},
		{"unknown host credential", func(t *testing.T, f *fixture) request {
			return request{"GET", wire.PathConfig, NewSecret(PrefixHost), nil}
		}, http.StatusTooManyRequests, "", 0},
		{"unknown token", func(t *testing.T, f *fixture) request {
			return request{"GET", "/api/v1/hosts", NewSecret(PrefixToken), nil}
		}, http.StatusTooManyRequests, "", 0},
		{"unknown enroll secret", func(t *testing.T, f *fixture) request {
			return request{"POST", wire.PathEnroll, "", wire.EnrollRequest{Secret: NewSecret(PrefixEnroll), HostUUID: "u", Hostname: "h"}}
		}, http.StatusTooManyRequests, "", 0},
		{"valid token never used", func(t *testing.T, f *fixture) request {
			return request{"GET", "/api/v1/hosts", f.auditor, nil}
		}, http.StatusTooManyRequests, "", 0},
		{"revoked host credential still known", func(t *testing.T, f *fixture) request {
			e := f.enroll(t, "revoked-host")
			if code, _ := f.do(t, "POST", "/api/v1/hosts/"+e.HostID+"/revoke", f.admin, nil); code != http.StatusOK {
				t.Fatalf("revoke = %d", code)
			}
			return request{"GET", wire.PathConfig, e.Credential, nil}
		}, http.StatusUnauthorized, wire.CodeRevoked, 1},
		{"revoked token still known", func(t *testing.T, f *fixture) request {
			tok := NewSecret(PrefixToken)
			if err := f.st.AddToken(context.Background(), store.Token{ID: "tok-bob", Name: "bob", Role: store.RoleAdmin, Hash: Hash(tok), CreatedAt: t0}, "test"); err != nil {
				t.Fatal(err)
			}
			if code, _ := f.do(t, "GET", "/api/v1/hosts", tok, nil); code != http.StatusOK {
				t.Fatalf("GET /api/v1/hosts = %d", code)
			}
			if err := f.st.RevokeToken(context.Background(), "tok-bob", "test", t0); err != nil {
				t.Fatal(err)
			}
			return request{"GET", "/api/v1/hosts", tok, nil}
		}, http.StatusUnauthorized, "", 1},
		{"revoked enroll secret still known", func(t *testing.T, f *fixture) request {
			f.enroll(t, "first-host")
			if err := f.st.RevokeEnrollSecret(context.Background(), "sec-1", "test", t0); err != nil {
				t.Fatal(err)
			}
			return request{"POST", wire.PathEnroll, "", wire.EnrollRequest{Secret: f.secret, HostUUID: "second-host", Hostname: "h"}}
		}, http.StatusUnauthorized, wire.CodeRevoked, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fixture{st: newFakeStore()}
			cs := &countingStore{Store: f.st}
			f.setup(t, Options{FailRate: Rate{PerSecond: 1.0 / 6, Burst: 2}}, cs)
			req := tt.prepare(t, f)
			block(t, f.srv)
			before := cs.lookups.Load()
			code, e := send(t, f.srv.Handler(), blockedPeer, req.method, req.path, req.token, req.body)
			if code != tt.want || e.Code != tt.wantCode {
				t.Errorf("%s %s from the blocked address = %d %q, want %d %q (%s)", req.method, req.path, code, e.Code, tt.want, tt.wantCode, e.Error)
			}
			if got := cs.lookups.Load() - before; got != tt.wantLookups {
				t.Errorf("store lookups = %d, want %d", got, tt.wantLookups)
			}
			if tt.want != http.StatusUnauthorized {
				return
			}
			// A refused secret is forgotten: the next try costs no lookup.
			before = cs.lookups.Load()
			if code, _ := send(t, f.srv.Handler(), blockedPeer, req.method, req.path, req.token, req.body); code != http.StatusTooManyRequests {
				t.Errorf("the refused secret again = %d, want 429", code)
			}
			if got := cs.lookups.Load() - before; got != 0 {
				t.Errorf("store lookups of the refused secret again = %d, want 0", got)
			}
		})
	}
}

// TestNewAgentBehindBlockedAddress: a valid credential this process has never seen (here: a
// server that started after the agent enrolled) is refused from a blocked address until the
// bucket refills enough for one lookup; from then on it is known, and served however often the
// attacker empties the bucket again.
func TestNewAgentBehindBlockedAddress(t *testing.T) {
	f := newFixture(t, Options{FailRate: Rate{PerSecond: 1.0 / 6, Burst: 2}})
	cred := f.enroll(t, "new-host").Credential
	cs := &countingStore{Store: f.st}
	restarted := New(cs, Options{Now: f.clock.now, FailRate: Rate{PerSecond: 1.0 / 6, Burst: 2}})
	defer restarted.Close()
	block(t, restarted)
	steps := []struct {
		name        string
		wait        time.Duration
		token       string
		want        int
		wantLookups int64
	}{
		{"unseen credential while blocked", 0, cred, http.StatusTooManyRequests, 0},
		{"after one refill", 6 * time.Second, cred, http.StatusOK, 1},
		// An unknown host credential costs three calls: the credential, an offered one
		// (rotation), and the credential again (promoted meanwhile by another request).
		{"attacker empties the bucket again", 0, "fwh_guess", http.StatusUnauthorized, 3},
		{"attacker is blocked", 0, "fwh_guess", http.StatusTooManyRequests, 0},
		{"the agent, known now", 0, cred, http.StatusOK, 1},
	}
	for _, s := range steps {
		f.clock.add(s.wait)
		before := cs.lookups.Load()
		if code, _ := send(t, restarted.Handler(), blockedPeer, "GET", wire.PathConfig, s.token, nil); code != s.want {
			t.Errorf("%s: GET config = %d, want %d", s.name, code, s.want)
		}
		if got := cs.lookups.Load() - before; got != s.wantLookups {
			t.Errorf("%s: store lookups = %d, want %d", s.name, got, s.wantLookups)
		}
	}
}

func TestRecentSetBoundedAndExpires(t *testing.T) {
	s := newRecentSet(time.Hour, 100)
	now := t0
	for i := range 1000 {
		s.add(Hash(string(rune(i))), now)
	}
	if got := s.size(); got > 100 {
		t.Errorf("after 1000 adds the set holds %d, want at most 100", got)
	}
	h := Hash("x")
	s.add(h, now)
	tests := []struct {
		at   time.Duration
		want bool
	}{{0, true}, {time.Hour - time.Second, true}, {time.Hour, false}}
	for _, tt := range tests {
		if got := s.has(h, now.Add(tt.at)); got != tt.want {
			t.Errorf("has(h) %v after add = %v, want %v", tt.at, got, tt.want)
		}
	}
}
