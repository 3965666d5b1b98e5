package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// enrollLimit bounds an enroll body: a few short strings and labels.
const enrollLimit = 64 << 10

func (s *Server) enroll(w http.ResponseWriter, r *http.Request) {
	var req wire.EnrollRequest
	if !decodeBody(w, r, &req, enrollLimit) {
		return
	}
	if !strings.HasPrefix(req.Secret, PrefixEnroll) {
		if s.authFailed(w, r, false) {
			return
		}
		writeError(w, http.StatusUnauthorized, "missing or malformed enroll secret; it starts with "+PrefixEnroll)
		return
	}
	if req.HostUUID == "" || req.Hostname == "" {
		writeError(w, http.StatusBadRequest, "host_uuid and hostname are required")
		return
	}
	if req.NextSeq > math.MaxInt64 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("next_seq: %d is out of range", req.NextSeq))
		return
	}
	hash := Hash(req.Secret)
	known, done := s.beforeLookup(w, r, s.recentSecrets, hash)
	if done {
		return
	}
	sec, err := s.st.EnrollSecretByHash(r.Context(), hash)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && !sameHash(sec.Hash, hash)):
		s.recentSecrets.remove(hash)
		if s.authFailed(w, r, known) {
			return
		}
		writeError(w, http.StatusUnauthorized, "unknown enroll secret; check it, or ask the fleet's admin for a current one")
		return
	case errors.Is(err, store.ErrRevoked) || (err == nil && !sec.RevokedAt.IsZero()):
		s.recentSecrets.remove(hash)
		if s.authFailed(w, r, known) {
			return
		}
		writeCodedError(w, http.StatusUnauthorized, wire.CodeRevoked,
			"this enroll secret was revoked; ask the fleet's admin for a current one (`firewarden-server secret create`)")
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	s.recentSecrets.add(hash, s.now())
	if !s.enrollLim.allow("e:"+sec.ID, s.now()) {
		s.tooMany(w)
		return
	}
	labels := slices.Clone(req.Labels)
	for _, l := range sec.Labels {
		if !slices.Contains(labels, l) {
			labels = append(labels, l)
		}
	}
	slices.Sort(labels)
	now := s.now().UTC()
	cred := NewSecret(PrefixHost)
	h, err := s.st.EnrollHost(r.Context(), store.Host{
		ID: NewUUIDv7(now), UUID: req.HostUUID, Hostname: req.Hostname, OS: req.OS,
		OSVersion: req.OSVersion, AgentVersion: req.AgentVersion, Labels: labels,
		EnrolledAt: now, LastSeen: now, LastSeq: max(req.NextSeq, 1) - 1,
	}, Hash(cred))
	if err != nil {
		s.storeError(w, r, err, "host")
		return
	}
	s.metrics.enrolled.Add(1)
	s.recentCreds.add(Hash(cred), s.now()) // its first use may come from a blocked address
	writeJSON(w, http.StatusOK, wire.EnrollResponse{HostID: h.ID, Credential: cred})
}

// policyFor is the host's policy, or the built-in default when none is stored.
func (s *Server) policyFor(r *http.Request, h store.Host) (store.Policy, error) {
	p, err := s.st.PolicyFor(r.Context(), h)
	if errors.Is(err, store.ErrNotFound) {
		return store.Policy{Name: "default", Mode: wire.ModeReport, IntervalSeconds: int64(DefaultInterval / time.Second)}, nil
	}
	return p, err
}

func (s *Server) config(w http.ResponseWriter, r *http.Request, h store.Host) {
	p, err := s.policyFor(r, h)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	// The host is stale after missing StaleIntervals of the interval it is given here, so the
	// store learns the interval with the sign of life.
	if err := s.st.TouchHost(r.Context(), h.ID, s.now().UTC(), time.Duration(p.IntervalSeconds)*time.Second); err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.AgentConfig{Version: p.Version, Policy: wire.Policy{
		Name: p.Name, Mode: p.Mode, IntervalSeconds: p.IntervalSeconds, BaselineYAML: p.BaselineYAML,
	}})
}

func (s *Server) report(w http.ResponseWriter, r *http.Request, h store.Host) {
	var b wire.ReportBatch
	ok := decodeBody(w, r, &b, wire.MaxBodyBytes)
	if ok {
		if err := b.Validate(); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			ok = false
		}
	}
	if !ok {
		// Nothing is ingested, but the host was heard from.
		if err := s.st.TouchHost(r.Context(), h.ID, s.now().UTC(), 0); err != nil {
			s.log.Warn("record a host as seen", "host", h.ID, "err", err)
		}
		return
	}
	res, err := s.st.Ingest(r.Context(), h.ID, b, s.now().UTC())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.metrics.stored.Add(uint64(res.Stored))
	s.metrics.duplicates.Add(uint64(res.Duplicates))
	s.metrics.transitions.Add(uint64(res.Transitions))
	writeJSON(w, http.StatusOK, wire.ReportAck{AckedSeq: res.Acked})
}

// nudges streams NDJSON nudges to one agent until it or the server goes away, with a ping every
// heartbeat so that proxies keep the connection and both ends notice a dead one.
func (s *Server) nudges(w http.ResponseWriter, r *http.Request, h store.Host) {
	rc := http.NewResponseController(w)
	sub := s.hub.subscribe(h.ID, h.Labels)
	// Over HTTP/1.1 the stream takes the connection over: net/http's goroutine (with the
	// stack the TLS handshake grew), its background reader and its buffers go, and one small
	// goroutine per agent stays. That is what lets one process hold 10,000 agents.
	if conn, _, err := rc.Hijack(); err == nil {
		go s.streamConn(conn, sub)
		return
	}
	defer s.hub.unsubscribe(sub)
	_ = rc.SetWriteDeadline(time.Time{}) // lift requestTimeout: this response lasts

	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // nginx: pass lines through as they come
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	send := func(n wire.Nudge) bool {
		// A write deadline per line: a stalled agent cannot hold a goroutine forever.
		_ = rc.SetWriteDeadline(time.Now().Add(2 * s.heartbeat))
		if enc.Encode(n) != nil || rc.Flush() != nil {
			return false
		}
		return true
	}
	// The first ping tells the agent the stream is up, and flushes the headers through proxies.
	if !send(wire.Nudge{Kind: wire.NudgePing}) {
		return
	}
	tick := time.NewTicker(s.heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.streams.Done():
			return
		case n := <-sub.ch:
			if n.Kind == nudgeDisconnect || !send(n) {
				return
			}
		case <-tick.C:
			if !send(wire.Nudge{Kind: wire.NudgePing}) {
				return
			}
		}
	}
}

// streamHead is the response to a nudge stream on a hijacked connection: chunked, so that the
// agent's HTTP client reads it like any streamed response, and closed at the end.
const streamHead = "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nCache-Control: no-store\r\n" +
	"X-Accel-Buffering: no\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"

// streamConn writes nudges to a hijacked connection until the server closes or a write fails.
// A vanished agent is noticed at the next write, a heartbeat at most: reading too would cost a
// goroutine per agent.
func (s *Server) streamConn(conn net.Conn, sub *subscription) {
	defer conn.Close()
	defer s.hub.unsubscribe(sub)
	buf := make([]byte, 0, 128)
	write := func(data []byte) bool {
		_ = conn.SetWriteDeadline(time.Now().Add(2 * s.heartbeat))
		_, err := conn.Write(data)
		return err == nil
	}
	send := func(n wire.Nudge) bool {
		line, err := json.Marshal(n)
		if err != nil {
			return false
		}
		buf = strconv.AppendInt(buf[:0], int64(len(line)+1), 16)
		buf = append(buf, "\r\n"...)
		buf = append(buf, line...)
		buf = append(buf, "\n\r\n"...)
		return write(buf)
	}
	if !write([]byte(streamHead)) || !send(wire.Nudge{Kind: wire.NudgePing}) {
		return
	}
	tick := time.NewTicker(s.heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-s.streams.Done():
			s.hub.unsubscribe(sub)
			write([]byte("0\r\n\r\n"))
			return
		case n := <-sub.ch:
			if n.Kind == nudgeDisconnect {
				s.hub.unsubscribe(sub)
				write([]byte("0\r\n\r\n"))
				return
			}
			if !send(n) {
				return
			}
		case <-tick.C:
			if !send(wire.Nudge{Kind: wire.NudgePing}) {
				return
			}
		}
	}
}
