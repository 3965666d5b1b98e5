package server

import (
	"context"
	"net/http"
	"time"
)

// Pinger is the optional store ability to answer a trivial query, for /healthz. A store without
// it is asked for its policies instead (a small table).
type Pinger interface {
	Ping(ctx context.Context) error
}

// healthTimeout is how long /healthz waits for the store.
var healthTimeout = 2 * time.Second

// healthJSON is the body of GET /healthz.
type healthJSON struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// healthz answers load balancers: 200 when the store answers a trivial query within
// healthTimeout, 503 otherwise. It needs no credential, is limited by nothing and audited
// nowhere: a balancer probes it every few seconds. The body never carries the store's own error,
// which may name the database's address to anyone who asks; the log does, once per outage.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	var err error
	if p, ok := s.st.(Pinger); ok {
		err = p.Ping(ctx)
	} else {
		_, err = s.st.Policies(ctx)
	}
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		if r.Context().Err() != nil {
			return // the balancer went away
		}
		msg := "the store failed; see the server log"
		if ctx.Err() != nil {
			msg = "the store did not answer within " + healthTimeout.String()
		}
		if !s.unhealthy.Swap(true) {
			s.log.Error("health check: the store does not answer", "err", err)
		}
		writeJSON(w, http.StatusServiceUnavailable, healthJSON{Status: "unavailable", Error: msg})
		return
	}
	if s.unhealthy.Swap(false) {
		s.log.Info("health check: the store answers again")
	}
	writeJSON(w, http.StatusOK, healthJSON{Status: "ok"})
}
