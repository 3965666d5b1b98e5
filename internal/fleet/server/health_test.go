package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/store/sqlite"
)

// failingStore fails every query with err, or, when err is nil, never answers until the
// request's context ends.
type failingStore struct {
	store.Store
	err error
}

func (f failingStore) Policies(ctx context.Context) ([]store.Policy, error) {
	if f.err != nil {
		return nil, f.err
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestHealthz(t *testing.T) {
	old := healthTimeout
	healthTimeout = 50 * time.Millisecond
	t.Cleanup(func() { healthTimeout = old })

	closed, err := sqlite.Open(filepath.Join(t.TempDir(), "fleet.db"))
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	open, err := sqlite.Open(filepath.Join(t.TempDir(), "fleet.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()

	tests := []struct {
		name string
		st   store.Store
		want int
		body healthJSON
	}{
		{"fake store", newFakeStore(), http.StatusOK, healthJSON{Status: "ok"}},
		{"sqlite", open, http.StatusOK, healthJSON{Status: "ok"}},
		{"store fails", failingStore{newFakeStore(), errors.New("dial tcp 10.0.0.5:5432: connection refused")}, http.StatusServiceUnavailable,
			healthJSON{Status: "unavailable", Error: "the store failed; see the server log"}},
		{"store hangs", failingStore{newFakeStore(), nil}, http.StatusServiceUnavailable,
			healthJSON{Status: "unavailable", Error: "the store did not answer within 50ms"}},
		{"sqlite closed", closed, http.StatusServiceUnavailable, healthJSON{Status: "unavailable", Error: "the store failed; see the server log"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// From an address that has used up its failures: a balancer's probe is never limited.
			srv := New(tt.st, Options{FailRate: Rate{PerSecond: 1e-9, Burst: 1}})
			defer srv.Close()
			h := srv.Handler()
			send(t, h, blockedPeer, "GET", "/api/v1/hosts", "fwa_guess", nil)
			req := httptest.NewRequest("GET", "/healthz", nil)
			req.RemoteAddr = blockedPeer
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var got healthJSON
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("GET /healthz body %q: %v", rec.Body, err)
			}
			if rec.Code != tt.want || got != tt.body {
				t.Errorf("GET /healthz = %d %+v, want %d %+v", rec.Code, got, tt.want, tt.body)
			}
		})
	}
}

// TestHealthzNotAudited: probes leave no trace in the audit log.
func TestHealthzNotAudited(t *testing.T) {
	f := newFixture(t, Options{})
	f.st.mu.Lock()
	before := len(f.st.audit)
	f.st.mu.Unlock()
	for range 3 {
		if code, body := f.do(t, "GET", "/healthz", "", nil); code != http.StatusOK {
			t.Fatalf("GET /healthz = %d %s, want 200", code, body)
		}
	}
	f.st.mu.Lock()
	got := len(f.st.audit)
	f.st.mu.Unlock()
	if got != before {
		t.Errorf("audit entries after 3 probes = %d, want %d", got, before)
	}
}
