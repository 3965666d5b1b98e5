// Package server is firewarden-server's HTTP side: the agent API of internal/fleet/wire, the
// admin API, /metrics, and the `firewarden-server` command line that serves them. It keeps no
// state another replica needs: the store is the system of record, and nudges cross replicas
// through a Bus.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// Defaults for hosts whose policy cannot be read, as DECISIONS13.md sets them.
const (
	DefaultInterval = store.DefaultInterval
	// StaleIntervals is how many policy intervals a host may miss before it is stale; the
	// store keeps each host's StaleAt from it.
	StaleIntervals = store.StaleIntervals
)

// Bus carries nudges to every replica, this one included; Publish must end in Deliver on the
// replica that holds the host's stream. A single process uses LocalBus.
type Bus interface {
	Publish(ctx context.Context, hostID string, n wire.Nudge) error
}

// Auditor is the optional store ability to record admin actions that write nothing else (a
// nudge). Stores that lack it leave such actions out of the audit log.
type Auditor interface {
	AppendAudit(ctx context.Context, a store.Audit) error
}

// Options tune a Server; zero values take the defaults.
type Options struct {
	Now        func() time.Time
	Log        *slog.Logger
	Bus        Bus  // nil: nudges reach the agents connected to this process
	AgentRate  Rate // per host credential; default 5/s, burst 30
	EnrollRate Rate // per enroll secret; default 50/s, burst 500: a whole office enrolls at once
	AdminRate  Rate // per API token; default 20/s, burst 60
	// FailRate limits failed authentications per client address (failauth.go); default
	// DefaultFailRate.
	FailRate Rate
	// TrustedProxies are the load balancers whose X-Forwarded-For names the client; requests
	// from any other peer are attributed to the peer.
	TrustedProxies []netip.Prefix
	Heartbeat      time.Duration
}

// Server answers the agent and admin APIs from a store.
type Server struct {
	st        store.Store
	now       func() time.Time
	log       *slog.Logger
	bus       Bus
	hub       *hub
	agentLim  *limiter
	enrollLim *limiter
	adminLim  *limiter
	failLim   *failLimiter
	proxies   []netip.Prefix
	// recentCreds (host credentials, API tokens) and recentSecrets (enroll secrets) are the
	// secrets seen valid lately, which failLim lets through to the store (failauth.go).
	recentCreds, recentSecrets *recentSet
	unhealthy                  atomic.Bool // the last /healthz failed: log only changes
	metrics                    *metrics
	heartbeat                  time.Duration

	// loginSem bounds concurrent password checks (dash_login.go); dummyHash is checked for
	// unknown and disabled accounts so that they cost what a known one does.
	loginSem  chan struct{}
	dummyHash string

	// streams is cancelled by Close so that long-lived nudge streams end on shutdown instead
	// of holding http.Server.Shutdown until its deadline.
	streams context.Context
	stop    context.CancelFunc
}

// New returns a Server over st.
func New(st store.Store, o Options) *Server {
	s := &Server{st: st, now: o.Now, log: o.Log, bus: o.Bus, hub: newHub(), metrics: newMetrics(), heartbeat: o.Heartbeat}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.bus == nil {
		s.bus = LocalBus{s}
	}
	if s.heartbeat <= 0 {
		s.heartbeat = wire.NudgeHeartbeat
	}
	if o.AgentRate == (Rate{}) {
		o.AgentRate = Rate{PerSecond: 5, Burst: 30}
	}
	if o.AdminRate == (Rate{}) {
		o.AdminRate = Rate{PerSecond: 20, Burst: 60}
	}
	if o.EnrollRate == (Rate{}) {
		o.EnrollRate = Rate{PerSecond: 50, Burst: 500}
	}
	if o.FailRate == (Rate{}) {
		o.FailRate = DefaultFailRate
	}
	s.agentLim, s.enrollLim, s.adminLim = newLimiter(o.AgentRate), newLimiter(o.EnrollRate), newLimiter(o.AdminRate)
	s.failLim, s.proxies = newFailLimiter(o.FailRate, maxFailAddrs), o.TrustedProxies
	s.recentCreds, s.recentSecrets = newRecentSet(recentTTL, maxRecentCreds), newRecentSet(recentTTL, maxRecentSecrets)
	s.streams, s.stop = context.WithCancel(context.Background())
	s.loginSem, s.dummyHash = make(chan struct{}, loginSlots), newDummyHash()
	return s
}

// Close ends the nudge streams; call it when the HTTP server shuts down.
func (s *Server) Close() { s.stop() }

// Deliver hands a nudge to the streams of hostID (or AllHosts) connected to this process and
// returns how many took it. A Bus calls it for nudges published by any replica.
func (s *Server) Deliver(hostID string, n wire.Nudge) int {
	sent := s.hub.deliver(hostID, n)
	s.metrics.nudgesSent.Add(uint64(sent))
	return sent
}

// LocalBus delivers nudges to this process only: one server, SQLite.
type LocalBus struct{ S *Server }

// Publish implements Bus.
func (b LocalBus) Publish(_ context.Context, hostID string, n wire.Nudge) error {
	b.S.Deliver(hostID, n)
	return nil
}

// Handler is the whole HTTP API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	agent := func(pattern string, h func(http.ResponseWriter, *http.Request, store.Host)) {
		mux.Handle(pattern, s.instrument(s.agentAuth(h)))
	}
	admin := func(pattern string, h func(http.ResponseWriter, *http.Request, store.Token)) {
		mux.Handle(pattern, s.instrument(s.adminAuth(h)))
	}
	mux.Handle("GET /healthz", s.instrument(http.HandlerFunc(s.healthz)))
	mux.Handle("POST "+wire.PathEnroll, s.instrument(http.HandlerFunc(s.enroll)))
	agent("GET "+wire.PathConfig, s.config)
	agent("POST "+wire.PathReport, s.report)
	agent("GET "+wire.PathNudges, s.nudges)
	agent("POST "+wire.PathRotate, s.rotate)

	admin("GET /api/v1/hosts", s.hosts)
	admin("GET /api/v1/hosts/{id}", s.host)
	admin("GET /api/v1/hosts/{id}/history", s.history)
	admin("POST /api/v1/hosts/{id}/revoke", s.revokeHost)
	admin("POST /api/v1/hosts/{id}/refetch", s.refetchHost)
	admin("POST /api/v1/refetch", s.refetchLabel)
	admin("GET /api/v1/compliance", s.compliance)
	admin("GET /api/v1/checks", s.checks)
	admin("GET /api/v1/checks/{check}/history", s.checkHistory)
	admin("GET /api/v1/alerts", s.alerts)
	admin("POST /api/v1/alerts/{id}/ack", s.ackAlert)
	admin("GET /api/v1/exemptions", s.exemptions)
	admin("POST /api/v1/exemptions", s.addExemption)
	admin("POST /api/v1/exemptions/{id}/approve", s.approveExemptionAPI)
	admin("DELETE /api/v1/exemptions/{id}", s.revokeExemption)
	admin("GET /api/v1/policies", s.policies)
	admin("PUT /api/v1/policies", s.putPolicy)
	admin("POST /api/v1/nudge", s.nudge)
	admin("GET /api/v1/export", s.export)
	admin("GET /api/v1/audit", s.audit)
	admin("GET /metrics", s.serveMetrics)
	s.dashRoutes(mux)
	mux.Handle("/", s.instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s; see docs/fleet.md", r.Method, r.URL.Path))
	})))
	return mux
}

// statusWriter records the status code for the metrics; Unwrap lets http.ResponseController
// reach the connection (flushes and deadlines for the nudge stream).
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requestTimeout bounds every request but the nudge stream, which lifts it.
const requestTimeout = 60 * time.Second

func (s *Server) instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.now()
		sw := &statusWriter{ResponseWriter: w}
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(requestTimeout))
		h.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "/" || route == "" {
			route = "other"
		}
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		s.metrics.observe(route, sw.code, s.now().Sub(start))
	})
}

// agentAuth authenticates a host credential, refuses revoked hosts, applies the host's rate
// limit and records that the host was seen.
func (s *Server) agentAuth(h func(http.ResponseWriter, *http.Request, store.Host)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cred := bearer(r.Header.Get("Authorization"))
		if cred == "" {
			writeError(w, http.StatusUnauthorized, "missing `Authorization: Bearer CREDENTIAL`; enroll the agent with `firewarden agent enroll`")
			return
		}
		hash := Hash(cred)
		known, done := s.beforeLookup(w, r, s.recentCreds, hash)
		if done {
			return
		}
		host, err := s.hostByCredential(r.Context(), hash)
		switch {
		case errors.Is(err, store.ErrNotFound):
			s.recentCreds.remove(hash)
			if s.authFailed(w, r, known) {
				return
			}
			writeError(w, http.StatusUnauthorized, "unknown host credential; enroll the agent again")
			return
		case errors.Is(err, store.ErrRevoked) || (err == nil && !host.RevokedAt.IsZero()):
			s.recentCreds.remove(hash)
			if s.authFailed(w, r, known) {
				return
			}
			writeCodedError(w, http.StatusUnauthorized, wire.CodeRevoked,
				"this host's credential was revoked by an admin; enroll the agent again (`firewarden agent enroll`) with a current enroll secret")
			return
		case err != nil:
			s.internal(w, r, err)
			return
		}
		s.recentCreds.add(hash, s.now())
		if !s.agentLim.allow("h:"+host.ID, s.now()) {
			s.tooMany(w)
			return
		}
		// A report's Ingest records the host as seen in its own transaction (both stores do):
		// touching here too would double the writes of the busiest endpoint. The config
		// handler touches the host itself, with the interval of the policy it gives.
		if r.Pattern != "POST "+wire.PathReport && r.Pattern != "GET "+wire.PathConfig {
			if err := s.st.TouchHost(r.Context(), host.ID, s.now().UTC(), 0); err != nil {
				s.internal(w, r, err)
				return
			}
		}
		h(w, r, host)
	})
}

// adminAuth authenticates an API token; an auditor token may only read.
func (s *Server) adminAuth(h func(http.ResponseWriter, *http.Request, store.Token)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := bearer(r.Header.Get("Authorization"))
		if tok == "" {
			writeError(w, http.StatusUnauthorized, "missing `Authorization: Bearer TOKEN`; create one with `firewarden-server token create`")
			return
		}
		hash := Hash(tok)
		known, done := s.beforeLookup(w, r, s.recentCreds, hash)
		if done {
			return
		}
		t, err := s.st.TokenByHash(r.Context(), hash)
		switch {
		case errors.Is(err, store.ErrNotFound) || (err == nil && !sameHash(t.Hash, hash)):
			s.recentCreds.remove(hash)
			if s.authFailed(w, r, known) {
				return
			}
			writeError(w, http.StatusUnauthorized, "unknown API token")
			return
		case errors.Is(err, store.ErrRevoked) || (err == nil && !t.RevokedAt.IsZero()):
			s.recentCreds.remove(hash)
			if s.authFailed(w, r, known) {
				return
			}
			writeError(w, http.StatusUnauthorized, "this API token was revoked")
			return
		case err != nil:
			s.internal(w, r, err)
			return
		}
		s.recentCreds.add(hash, s.now())
		if !s.adminLim.allow("t:"+t.ID, s.now()) {
			s.tooMany(w)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && t.Role != store.RoleAdmin {
			writeError(w, http.StatusForbidden, fmt.Sprintf("token %q has role %s, which only reads; use an admin token", t.Name, t.Role))
			return
		}
		h(w, r, t)
	})
}

func (s *Server) tooMany(w http.ResponseWriter) {
	s.metrics.rateLimited.Add(1)
	w.Header().Set("Retry-After", "1")
	writeError(w, http.StatusTooManyRequests, "too many requests for this credential; retry later")
}

// internal answers 500 without the error's text, which may name the database, and logs it.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client went away
	}
	s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal error; see the server log")
}

// storeError maps a store error to a response.
func (s *Server) storeError(w http.ResponseWriter, r *http.Request, err error, what string) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, what+" not found")
	case errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusConflict, what+" already exists")
	case errors.Is(err, store.ErrRevoked):
		writeError(w, http.StatusConflict, what+" is already revoked")
	default:
		s.internal(w, r, err)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, wire.Error{Error: msg})
}

// writeCodedError is writeError with a machine-readable wire.Error code, for the answers an
// agent must act on rather than only show.
func writeCodedError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, wire.Error{Error: msg, Code: code})
}

// decodeBody decodes a request body strictly (wire.Decode) and answers 413 or 400 when it cannot.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, limit int64) bool {
	err := wire.Decode(http.MaxBytesReader(w, r.Body, limit+1), v, limit)
	var mbe *http.MaxBytesError
	switch {
	case err == nil:
		return true
	case errors.Is(err, wire.ErrTooLarge) || errors.As(err, &mbe):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", limit))
	default:
		writeError(w, http.StatusBadRequest, err.Error())
	}
	return false
}
