package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// rotateLimit bounds a rotate body: one short reason.
const rotateLimit = 4 << 10

// hostByCredential finds the host of a credential; a credential offered by rotate and used for
// the first time is promoted here, which ends the old one.
func (s *Server) hostByCredential(ctx context.Context, hash []byte) (store.Host, error) {
	h, err := s.st.HostByCredential(ctx, hash)
	if !errors.Is(err, store.ErrNotFound) {
		return h, err
	}
	h, err = s.st.PromoteCredential(ctx, hash, s.now().UTC())
	switch {
	case err == nil:
		s.metrics.rotated.Add(1)
		s.log.Info("host credential rotated", "host", h.ID)
		return h, nil
	case errors.Is(err, store.ErrNotFound):
		// Another request of the same agent (its nudge stream and its upload start together)
		// may have promoted it a moment ago.
		return s.st.HostByCredential(ctx, hash)
	}
	return h, err
}

// rotate answers a new credential for the calling host. The current one keeps working until the
// new one is first used, so an answer that never reaches the agent, or an agent killed before it
// saved the new one, costs nothing: it asks again with the old one.
func (s *Server) rotate(w http.ResponseWriter, r *http.Request, h store.Host) {
	var req wire.RotateRequest
	if !decodeBody(w, r, &req, rotateLimit) {
		return
	}
	if req.Reason != wire.RotateManual && req.Reason != wire.RotateScheduled {
		writeError(w, http.StatusBadRequest, "reason: want "+wire.RotateManual+" or "+wire.RotateScheduled)
		return
	}
	cred := NewSecret(PrefixHost)
	err := s.st.OfferCredential(r.Context(), h.ID, Hash(bearer(r.Header.Get("Authorization"))), Hash(cred), s.now().UTC())
	switch {
	case errors.Is(err, store.ErrRevoked):
		writeCodedError(w, http.StatusUnauthorized, wire.CodeRevoked,
			"this host's credential was revoked by an admin; enroll the agent again (`firewarden agent enroll`) with a current enroll secret")
		return
	case errors.Is(err, store.ErrNotFound):
		// The credential that asked was replaced between authentication and now (an enrolment
		// or a rotation that another request just finished).
		writeError(w, http.StatusConflict, "this host's credential changed while rotating; load agent.json again and retry")
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	s.recentCreds.add(Hash(cred), s.now()) // its first use may come from a blocked address
	s.log.Info("host credential offered", "host", h.ID, "reason", req.Reason)
	writeJSON(w, http.StatusOK, wire.RotateResponse{HostID: h.ID, Credential: cred})
}
