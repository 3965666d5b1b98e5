package agent

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/wire"
	"github.com/firewarden/firewarden/internal/statedir"
)

// rotServer keeps credentials as firewarden-server does: an offered credential sits beside the
// current one until its first use.
type rotServer struct {
	*httptest.Server
	mu       sync.Mutex
	current  string
	offered  string
	revoked  bool
	requests int
	// onFirstUse runs when the offered credential is first presented, before it is accepted.
	onFirstUse func()
}

func newRotServer(t *testing.T, cred string) *rotServer {
	s := &rotServer{current: cred}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+wire.PathRotate, s.auth(func(w http.ResponseWriter, r *http.Request) {
		var req wire.RotateRequest
		if err := wire.Decode(r.Body, &req, 4096); err != nil || (req.Reason != wire.RotateManual && req.Reason != wire.RotateScheduled) {
			httpError(w, http.StatusBadRequest, "bad rotate body")
			return
		}
		s.mu.Lock()
		s.offered = "fwh_new" + strings.Repeat("x", s.requests)
		resp := wire.RotateResponse{HostID: "host-1", Credential: s.offered}
		s.mu.Unlock()
		json.NewEncoder(w).Encode(resp)
	}))
	mux.HandleFunc("GET "+wire.PathConfig, s.auth(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(DefaultConfig())
	}))
	mux.HandleFunc("POST "+wire.PathEnroll, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(wire.Error{Error: "this enroll secret was revoked; ask the fleet's admin for a current one", Code: wire.CodeRevoked})
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func (s *rotServer) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cred := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		s.requests++
		revoked, current, offered, first := s.revoked, s.current, s.offered, s.onFirstUse
		s.mu.Unlock()
		switch {
		case revoked && cred == current:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(wire.Error{Error: "this host's credential was revoked by an admin; enroll the agent again", Code: wire.CodeRevoked})
			return
		case cred == current:
		case offered != "" && cred == offered:
			if first != nil {
				first()
			}
			s.mu.Lock()
			s.current, s.offered = offered, ""
			s.mu.Unlock()
		default:
			httpError(w, http.StatusUnauthorized, "unknown host credential; enroll the agent again")
			return
		}
		h(w, r)
	}
}

func (s *rotServer) client(t *testing.T, cred string) *Client {
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(u, "", nil)
	c.Credential = cred
	return c
}

func enrolledState(t *testing.T, cred string, enrolled time.Time) *statedir.Dir {
	t.Helper()
	state := openState(t, filepath.Join(t.TempDir(), "state"))
	if err := SaveEnrollment(state, Enrollment{Server: "http://127.0.0.1", HostID: "host-1", HostUUID: "u", Credential: cred, Enrolled: enrolled}); err != nil {
		t.Fatal(err)
	}
	return state
}

func TestRotateSavesBeforeUse(t *testing.T) {
	srv := newRotServer(t, "fwh_old")
	state := enrolledState(t, "fwh_old", t0)
	c := srv.client(t, "fwh_old")
	var savedAtFirstUse string
	srv.onFirstUse = func() {
		e, err := LoadEnrollment(state)
		if err != nil {
			t.Error(err)
		}
		savedAtFirstUse = e.Credential
	}
	now := t0.Add(40 * 24 * time.Hour)
	e, err := Rotate(context.Background(), state, c, wire.RotateManual, now)
	if err != nil {
		t.Fatalf("Rotate = %v", err)
	}
	if savedAtFirstUse != e.Credential || !strings.HasPrefix(e.Credential, "fwh_new") {
		t.Errorf("agent.json held %q when the new credential %q was first used, want it saved first", savedAtFirstUse, e.Credential)
	}
	got, err := LoadEnrollment(state)
	if err != nil {
		t.Fatal(err)
	}
	if got.Credential != e.Credential || !got.Rotated.Equal(now) || got.HostID != "host-1" || !got.Enrolled.Equal(t0) {
		t.Errorf("agent.json after Rotate = %+v, want the new credential, rotated %v, the rest kept", got, now)
	}
	srv.mu.Lock()
	current := srv.current
	srv.mu.Unlock()
	if current != e.Credential {
		t.Errorf("server's current credential = %q, want %q (promoted by the first use)", current, e.Credential)
	}
	if _, err := srv.client(t, "fwh_old").Config(context.Background()); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("Config with the old credential after rotation = %v, want ErrUnauthorized", err)
	}
}

// TestRotateLostAnswer: the agent dies after the server offered a credential and before it saved
// it; the old credential still works, and the next rotation succeeds.
func TestRotateLostAnswer(t *testing.T) {
	srv := newRotServer(t, "fwh_old")
	state := enrolledState(t, "fwh_old", t0)
	c := srv.client(t, "fwh_old")
	if _, err := c.rotate(context.Background(), wire.RotateManual); err != nil { // answer dropped
		t.Fatal(err)
	}
	if _, err := srv.client(t, "fwh_old").Config(context.Background()); err != nil {
		t.Fatalf("Config with the old credential after an unsaved rotation = %v, want nil", err)
	}
	e, err := Rotate(context.Background(), state, srv.client(t, "fwh_old"), wire.RotateManual, t0)
	if err != nil || e.Credential == "fwh_old" {
		t.Fatalf("Rotate after a lost answer = %q, %v", e.Credential, err)
	}
}

// TestReloadAfterRotationElsewhere: `agent rotate` beside the daemon; the daemon's client, still
// holding the old credential, picks the new one up from agent.json.
func TestReloadAfterRotationElsewhere(t *testing.T) {
	srv := newRotServer(t, "fwh_old")
	state := enrolledState(t, "fwh_old", t0)
	daemon := srv.client(t, "fwh_old")
	daemon.Reload = func() (string, error) {
		e, err := LoadEnrollment(state)
		return e.Credential, err
	}
	e, err := Rotate(context.Background(), state, srv.client(t, "fwh_old"), wire.RotateManual, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := daemon.Config(context.Background()); err != nil {
		t.Errorf("daemon's Config after a rotation elsewhere = %v, want nil", err)
	}
	if got := daemon.credential(); got != e.Credential {
		t.Errorf("daemon's credential = %q, want %q", got, e.Credential)
	}
}

func TestRevokedCredential(t *testing.T) {
	srv := newRotServer(t, "fwh_old")
	srv.revoked = true
	c := srv.client(t, "fwh_old")
	_, err := c.Config(context.Background())
	if !errors.Is(err, ErrRevoked) || !errors.Is(err, ErrUnauthorized) || !Permanent(err) {
		t.Fatalf("Config(revoked) = %v, want ErrRevoked and ErrUnauthorized, permanent", err)
	}
	for _, want := range []string{"REVOKED", "enroll again", "last policy"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Config(revoked) = %q, want it to say %q", err, want)
		}
	}
	srv.mu.Lock()
	before := srv.requests
	srv.mu.Unlock()
	// Nothing more is sent: the daemon stops reporting.
	if _, err := c.Report(context.Background(), wire.ReportBatch{}); !errors.Is(err, ErrRevoked) {
		t.Errorf("Report after revocation = %v, want ErrRevoked", err)
	}
	if err := c.Nudges(context.Background(), nil, func(wire.Nudge) {}); !errors.Is(err, ErrRevoked) {
		t.Errorf("Nudges after revocation = %v, want ErrRevoked", err)
	}
	srv.mu.Lock()
	after := srv.requests
	srv.mu.Unlock()
	if after != before {
		t.Errorf("the client sent %d request(s) after the revocation, want 0", after-before)
	}

	// The agent says so once in its log and in the facts `agent status` reads.
	var log strings.Builder
	a := &Agent{State: enrolledState(t, "fwh_old", t0), Client: c, Log: &log}
	a.Defaults()
	a.noteRevoked(err)
	a.noteRevoked(err)
	if n := strings.Count(log.String(), "REVOKED"); n != 1 {
		t.Errorf("log says REVOKED %d times, want once:\n%s", n, log.String())
	}
	if f, _ := LoadFacts(a.State); !f.Revoked {
		t.Errorf("facts after a revocation: Revoked = false, want true")
	}
	a.noteRevoked(nil) // enrolled again: a request succeeded
	if f, _ := LoadFacts(a.State); f.Revoked {
		t.Errorf("facts after a successful request: Revoked = true, want false")
	}
}

func TestEnrollRevokedSecretSaysWhy(t *testing.T) {
	srv := newRotServer(t, "fwh_old")
	c := srv.client(t, "")
	_, err := c.Enroll(context.Background(), wire.EnrollRequest{Secret: "fwe_old", HostUUID: "u", Hostname: "h"})
	if err == nil || !strings.Contains(err.Error(), "was revoked") || !strings.Contains(err.Error(), "current one") {
		t.Errorf("Enroll(revoked secret) = %v, want the server's reason and what to do", err)
	}
	if c.Revoked() != nil {
		t.Errorf("a revoked enroll secret marked the client's credential revoked")
	}
}

func TestRotateDue(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name              string
		enrolled, rotated time.Time
		after             time.Duration
		now               time.Time
		want              bool
	}{
		{"fresh", t0, time.Time{}, 0, t0.Add(29 * day), false},
		{"30 days after enrolling", t0, time.Time{}, 0, t0.Add(30 * day), true},
		{"rotated recently", t0, t0.Add(20 * day), 0, t0.Add(40 * day), false},
		{"30 days after rotating", t0, t0.Add(20 * day), 0, t0.Add(50 * day), true},
		{"custom age", t0, time.Time{}, 7 * day, t0.Add(8 * day), true},
		{"never", t0, time.Time{}, -1, t0.Add(9999 * day), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := Enrollment{Enrolled: tt.enrolled, Rotated: tt.rotated}
			if got := rotateDue(e, tt.after, tt.now); got != tt.want {
				t.Errorf("rotateDue(enrolled %v, rotated %v, %v, %v) = %v, want %v", tt.enrolled, tt.rotated, tt.after, tt.now, got, tt.want)
			}
		})
	}
}

// The daemon's scheduled rotation: nothing before the credential's age, a rotation after it.
func TestRotateIfDue(t *testing.T) {
	srv := newRotServer(t, "fwh_old")
	state := enrolledState(t, "fwh_old", t0)
	var log strings.Builder
	now := t0.Add(29 * 24 * time.Hour)
	a := &Agent{State: state, Client: srv.client(t, "fwh_old"), Log: &log, Now: func() time.Time { return now }}
	a.Defaults()
	a.rotateIfDue(context.Background())
	if e, _ := LoadEnrollment(state); e.Credential != "fwh_old" {
		t.Fatalf("rotated after 29 days (credential %q), want only after 30", e.Credential)
	}
	now = t0.Add(31 * 24 * time.Hour)
	a.rotateIfDue(context.Background())
	e, _ := LoadEnrollment(state)
	if e.Credential == "fwh_old" || !e.Rotated.Equal(now) || !strings.Contains(log.String(), "rotated the host credential") {
		t.Fatalf("after 31 days: credential %q rotated %v, log %q; want a new credential, rotated now, logged", e.Credential, e.Rotated, log.String())
	}
	// The next is due 30 days after this rotation, not after the enrolment.
	now = now.Add(24 * time.Hour)
	a.rotateIfDue(context.Background())
	if e2, _ := LoadEnrollment(state); e2.Credential != e.Credential {
		t.Errorf("rotated again a day after rotating")
	}
}
