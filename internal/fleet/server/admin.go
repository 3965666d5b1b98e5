package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
	"github.com/firewarden/firewarden/internal/posture/baseline"
)

// adminLimit bounds admin request bodies; a policy carries a baseline YAML.
const adminLimit = 1 << 20

// Host statuses in the admin API. A stale host is stale whatever its last results said: a
// laptop that stopped reporting is not known to be compliant.
const (
	HostCompliant    = "compliant"
	HostNonCompliant = "non_compliant"
	HostStale        = "stale"
	HostNoData       = "no_data"
	HostRevoked      = "revoked"
)

type hostJSON struct {
	ID           string     `json:"id"`
	UUID         string     `json:"uuid"`
	Hostname     string     `json:"hostname"`
	OS           string     `json:"os"`
	OSVersion    string     `json:"os_version"`
	AgentVersion string     `json:"agent_version"`
	Labels       []string   `json:"labels"`
	EnrolledAt   time.Time  `json:"enrolled_at"`
	LastSeen     time.Time  `json:"last_seen"`
	StaleAfter   time.Time  `json:"stale_after"`
	Status       string     `json:"status"`
	Failing      []string   `json:"failing"`
	Policy       string     `json:"policy"`
	LastSeq      uint64     `json:"last_seq"`
	ChainBroken  bool       `json:"chain_broken"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
}

type resultJSON struct {
	Check     string    `json:"check"`
	Status    string    `json:"status"`
	Expected  string    `json:"expected"`
	Actual    string    `json:"actual"`
	Since     time.Time `json:"since"`
	RunID     string    `json:"run_id"`
	Exemption string    `json:"exemption,omitempty"` // the server exemption that excuses a failure
}

// view is what the admin API says of a host: its summary, its current results and the
// exemptions that apply. Failing results under an active exemption count as compliant.
type view struct {
	host    hostJSON
	results []resultJSON
}

func (s *Server) viewHost(ctx context.Context, h store.Host, exs []store.Exemption) (view, error) {
	p, err := s.st.PolicyFor(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		p = store.Policy{Name: "default", IntervalSeconds: int64(DefaultInterval / time.Second)}
	} else if err != nil {
		return view{}, err
	}
	cur, err := s.st.CurrentResults(ctx, h.ID)
	if err != nil {
		return view{}, err
	}
	// One definition of stale, the store's: StaleAt follows LastSeen and the interval of the
	// policy the host was last given (which may differ from the policy it is assigned now,
	// until it fetches its config).
	v := view{host: hostJSON{
		ID: h.ID, UUID: h.UUID, Hostname: h.Hostname, OS: h.OS, OSVersion: h.OSVersion,
		AgentVersion: h.AgentVersion, Labels: nonNil(h.Labels), EnrolledAt: h.EnrolledAt, LastSeen: h.LastSeen,
		StaleAfter: h.StaleAt.UTC(), Policy: p.Name, LastSeq: h.LastSeq,
		ChainBroken: h.ChainBroken, Failing: []string{},
	}}
	if !h.RevokedAt.IsZero() {
		t := h.RevokedAt
		v.host.RevokedAt = &t
	}
	sort.Slice(cur, func(i, j int) bool { return cur[i].Check < cur[j].Check })
	for _, c := range cur {
		rj := resultJSON{Check: c.Check, Status: c.Status, Expected: c.Expected, Actual: c.Actual, Since: c.Since, RunID: c.RunID}
		if !wire.Compliant(c.Status) {
			if e, ok := exemptionFor(exs, h, c.Check); ok {
				rj.Exemption = e.ID
			} else {
				v.host.Failing = append(v.host.Failing, c.Check)
			}
		}
		v.results = append(v.results, rj)
	}
	now := s.now()
	switch {
	case !h.RevokedAt.IsZero():
		v.host.Status = HostRevoked
	case !now.Before(h.StaleAt):
		v.host.Status = HostStale
	case len(cur) == 0:
		v.host.Status = HostNoData
	case len(v.host.Failing) > 0:
		v.host.Status = HostNonCompliant
	default:
		v.host.Status = HostCompliant
	}
	return v, nil
}

// exemptionFor finds an active exemption for (host, check), by host or by one of its labels.
func exemptionFor(exs []store.Exemption, h store.Host, check string) (store.Exemption, bool) {
	for _, e := range exs {
		if e.Check != check && e.Check != "*" {
			continue
		}
		if (e.HostID != "" && e.HostID == h.ID) || (e.Label != "" && slices.Contains(h.Labels, e.Label)) {
			return e, true
		}
	}
	return store.Exemption{}, false
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// query parameters -------------------------------------------------------------------------

func timeParam(r *http.Request, name string) (time.Time, error) {
	return parseTime(name, r.URL.Query().Get(name))
}

func checkParam(r *http.Request) (string, error) {
	c := r.URL.Query().Get("check")
	if c != "" && !baseline.IsCheckID(c) {
		return "", fmt.Errorf("check: unknown %q; known checks: %s", c, strings.Join(baseline.CheckIDs(), ", "))
	}
	return c, nil
}

// hosts ------------------------------------------------------------------------------------

const (
	defaultPage = 100
	maxPage     = 1000
)

func (s *Server) hosts(w http.ResponseWriter, r *http.Request, _ store.Token) {
	q := r.URL.Query()
	check, err := checkParam(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	limit := defaultPage
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPage {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit: %q is not a number from 1 to %d", v, maxPage))
			return
		}
		limit = n
	}
	var stale *bool
	if v := q.Get("stale"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("stale: %q is not true or false", v))
			return
		}
		stale = &b
	}
	status := q.Get("status")
	if status != "" && check == "" && !slices.Contains([]string{HostCompliant, HostNonCompliant, HostStale, HostNoData, HostRevoked}, status) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("status: unknown %q; a host is compliant, non_compliant, stale, no_data or revoked (with check=, a check status)", status))
		return
	}
	exs, err := s.st.Exemptions(r.Context(), s.now().UTC())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	// The store filters by label, (check, status) and staleness (its indexed StaleAt); the host
	// status (and revoked hosts, which show as revoked rather than stale) is filtered here,
	// reading further pages as needed.
	f := store.HostFilter{Label: q.Get("label"), After: q.Get("after"), Limit: limit, Now: s.now().UTC(), Stale: stale}
	if check != "" {
		f.Check, f.Status = check, status
	}
	out := []hostJSON{}
	next := ""
	for len(out) < limit {
		page, err := s.st.Hosts(r.Context(), f)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		for _, h := range page {
			f.After = h.ID
			v, err := s.viewHost(r.Context(), h, exs)
			if err != nil {
				s.internal(w, r, err)
				return
			}
			if stale != nil && (v.host.Status == HostStale) != *stale {
				continue
			}
			if check == "" && status != "" && v.host.Status != status {
				continue
			}
			out = append(out, v.host)
			if len(out) == limit {
				next = h.ID
				break
			}
		}
		if len(page) < f.Limit {
			break
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"hosts": out, "next": next})
}

func (s *Server) host(w http.ResponseWriter, r *http.Request, _ store.Token) {
	h, err := s.st.Host(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err, "host")
		return
	}
	exs, err := s.st.Exemptions(r.Context(), s.now().UTC())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	v, err := s.viewHost(r.Context(), h, exs)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := map[string]any{"host": v.host, "results": nonNilResults(v.results)}
	run, err := s.st.LatestRun(r.Context(), h.ID)
	switch {
	case err == nil:
		out["latest_run"] = latestRunJSON{Run: run.Run, Seq: run.Seq, Confirmed: run.Confirmed, Repeats: run.Repeats, LastRunID: run.LastRunID}
	case !errors.Is(err, store.ErrNotFound):
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// latestRunJSON is the host's latest stored run. Runs are stored when their results change:
// the results and evidence are those of the first run that saw them (run_id, finished), and
// confirmed, repeats and last_run_id say how long and how often the host has reported the
// same results since.
type latestRunJSON struct {
	wire.Run
	Seq       uint64    `json:"seq"`         // the record that carried the first run
	Confirmed time.Time `json:"confirmed"`   // when the newest run with these results finished
	Repeats   int       `json:"repeats"`     // later runs with the same results, not stored again
	LastRunID string    `json:"last_run_id"` // the newest of them (run_id when none)
}

func nonNilResults(r []resultJSON) []resultJSON {
	if r == nil {
		return []resultJSON{}
	}
	return r
}

type transitionJSON struct {
	Host   string    `json:"host_id"`
	Check  string    `json:"check"`
	Time   time.Time `json:"time"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	Actual string    `json:"actual"`
	RunID  string    `json:"run_id"`
	Cause  string    `json:"cause"`
	Seq    uint64    `json:"seq"`
}

func (s *Server) history(w http.ResponseWriter, r *http.Request, _ store.Token) {
	id := r.PathValue("id")
	check, err := checkParam(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	from, err := timeParam(r, "from")
	if err == nil {
		var to time.Time
		to, err = timeParam(r, "to")
		if err == nil {
			if to.IsZero() {
				to = s.now().UTC()
			}
			if _, err := s.st.Host(r.Context(), id); err != nil {
				s.storeError(w, r, err, "host")
				return
			}
			ts, err := s.st.Transitions(r.Context(), id, check, from, to)
			if err != nil {
				s.internal(w, r, err)
				return
			}
			out := make([]transitionJSON, 0, len(ts))
			for _, t := range ts {
				out = append(out, transitionJSON{t.HostID, t.Check, t.Time, t.From, t.To, t.Actual, t.RunID, t.Cause, t.Seq})
			}
			// Newest first. The store gives them oldest first in the order they happened, which a
			// sort by time would lose for a drift and the fix that reverted it in the same run:
			// both carry the same time, and the fix must stay the newer.
			slices.Reverse(out)
			writeJSON(w, http.StatusOK, map[string]any{"transitions": out})
			return
		}
	}
	writeError(w, http.StatusBadRequest, err.Error())
}

func (s *Server) revokeHost(w http.ResponseWriter, r *http.Request, t store.Token) {
	id := r.PathValue("id")
	if err := s.st.RevokeHost(r.Context(), id, t.Name, s.now().UTC()); err != nil {
		s.storeError(w, r, err, "host")
		return
	}
	// Its nudge stream was authenticated before: end it, on whichever replica holds it, so that
	// the agent learns of the revocation when it connects again.
	if err := s.bus.Publish(r.Context(), id, wire.Nudge{Kind: nudgeDisconnect}); err != nil {
		s.log.Warn("end a revoked host's nudge stream", "host", id, "err", err)
	}
	writeJSON(w, http.StatusOK, map[string]string{"revoked": id})
}

// compliance ---------------------------------------------------------------------------------

type complianceJSON struct {
	At           time.Time `json:"at"`
	Hosts        int       `json:"hosts"`
	Compliant    int       `json:"compliant"`
	NonCompliant int       `json:"non_compliant"`
	NoData       int       `json:"no_data"`
	// Stale counts hosts whose results count as compliant but that were stale at the instant
	// (not seen for three of their policy intervals); they are not in compliant. Exact for
	// now; for a past instant a lower bound: only hosts not seen since are known to have been
	// stale then.
	Stale    int                       `json:"stale"`
	PerCheck map[string]checkCountJSON `json:"per_check"`
}

// checkCountJSON is store.CheckCount with the API's names.
type checkCountJSON struct {
	Pass          int `json:"pass"`
	Fail          int `json:"fail"`
	Error         int `json:"error"`
	Exempt        int `json:"exempt"`
	Managed       int `json:"managed"`
	NotApplicable int `json:"not_applicable"`
}

func (s *Server) compliance(w http.ResponseWriter, r *http.Request, _ store.Token) {
	at, err := timeParam(r, "at")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	check, err := checkParam(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	label := r.URL.Query().Get("label")
	if at.IsZero() {
		at = s.now().UTC()
	}
	c, err := s.st.ComplianceAt(r.Context(), at, label, check)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := complianceJSON{At: at, Hosts: c.Hosts, Compliant: c.Compliant, NonCompliant: c.NonCompliant, NoData: c.NoData,
		Stale: c.Stale, PerCheck: map[string]checkCountJSON{}}
	for k, v := range c.PerCheck {
		out.PerCheck[k] = checkCountJSON(v)
	}
	writeJSON(w, http.StatusOK, out)
}

// alerts -------------------------------------------------------------------------------------

type alertJSON struct {
	ID        int64      `json:"id"`
	HostID    string     `json:"host_id"`
	Alert     wire.Alert `json:"alert"`
	Seq       uint64     `json:"seq"`
	Duplicate int        `json:"duplicate"`
	AckedBy   string     `json:"acked_by,omitempty"`
	AckedAt   *time.Time `json:"acked_at,omitempty"`
	AckNote   string     `json:"ack_note,omitempty"`
}

func (s *Server) alerts(w http.ResponseWriter, r *http.Request, _ store.Token) {
	unacked := false
	if v := r.URL.Query().Get("unacked"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("unacked: %q is not true or false", v))
			return
		}
		unacked = b
	}
	as, err := s.st.Alerts(r.Context(), r.URL.Query().Get("host"), unacked)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := make([]alertJSON, 0, len(as))
	for _, a := range as {
		j := alertJSON{ID: a.ID, HostID: a.HostID, Alert: a.Alert, Seq: a.Seq, Duplicate: a.Duplicate, AckedBy: a.AckedBy, AckNote: a.AckNote}
		if !a.AckedAt.IsZero() {
			t := a.AckedAt
			j.AckedAt = &t
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": out})
}

type ackRequest struct {
	Note string `json:"note"`
}

func (s *Server) ackAlert(w http.ResponseWriter, r *http.Request, t store.Token) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("alert id %q is not a number", r.PathValue("id")))
		return
	}
	var req ackRequest
	if r.ContentLength != 0 {
		if !decodeBody(w, r, &req, adminLimit) {
			return
		}
	}
	if err := s.acknowledgeAlert(r.Context(), t.Name, id, req.Note); err != nil {
		s.writeFail(w, r, err, "alert")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"acked": id})
}

// acknowledgeAlert is the write path of an acknowledgement, for the API and the dashboard:
// actor (a token or user name) acknowledges alert id with note.
func (s *Server) acknowledgeAlert(ctx context.Context, actor string, id int64, note string) error {
	if id <= 0 {
		return &badInput{fmt.Sprintf("alert id %d is not a positive number", id)}
	}
	return s.st.AckAlert(ctx, id, actor, note, s.now().UTC())
}

// exemptions ---------------------------------------------------------------------------------

type exemptionJSON struct {
	ID          string     `json:"id"`
	HostID      string     `json:"host_id,omitempty"`
	Label       string     `json:"label,omitempty"`
	Check       string     `json:"check"`
	Reason      string     `json:"reason"`
	ApprovedBy  string     `json:"approved_by"`
	CreatedAt   time.Time  `json:"created_at"`
	Expires     time.Time  `json:"expires"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
	RequestedBy string     `json:"requested_by,omitempty"`
	ApprovedAt  *time.Time `json:"approved_at,omitempty"` // absent while pending
}

func exemptionOut(e store.Exemption) exemptionJSON {
	j := exemptionJSON{ID: e.ID, HostID: e.HostID, Label: e.Label, Check: e.Check, Reason: e.Reason, ApprovedBy: e.ApprovedBy,
		CreatedAt: e.CreatedAt, Expires: e.Expires, RequestedBy: e.RequestedBy}
	if !e.RevokedAt.IsZero() {
		t := e.RevokedAt
		j.RevokedAt = &t
	}
	if !e.ApprovedAt.IsZero() {
		t := e.ApprovedAt
		j.ApprovedAt = &t
	}
	return j
}

func (s *Server) exemptions(w http.ResponseWriter, r *http.Request, _ store.Token) {
	at, err := timeParam(r, "at")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if at.IsZero() {
		at = s.now().UTC()
	}
	es, err := s.st.Exemptions(r.Context(), at)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := make([]exemptionJSON, 0, len(es))
	for _, e := range es {
		out = append(out, exemptionOut(e))
	}
	writeJSON(w, http.StatusOK, map[string]any{"exemptions": out})
}

type exemptionRequest struct {
	HostID  string    `json:"host_id"`
	Label   string    `json:"label"`
	Check   string    `json:"check"`
	Reason  string    `json:"reason"`
	Expires time.Time `json:"expires"`
	// Pending asks for the exemption instead of granting it: it excuses nothing until another
	// admin approves it (four eyes). The dashboard always asks.
	Pending bool `json:"pending"`
}

func (s *Server) addExemption(w http.ResponseWriter, r *http.Request, t store.Token) {
	var req exemptionRequest
	if !decodeBody(w, r, &req, adminLimit) {
		return
	}
	e, err := s.createExemption(r.Context(), t.Name, req)
	if err != nil {
		s.writeFail(w, r, err, "exemption")
		return
	}
	writeJSON(w, http.StatusCreated, exemptionOut(e))
}

// createExemption is the write path of a new exemption, for the API and the dashboard: granted
// by actor at once, or with req.Pending requested by actor and waiting for another admin.
func (s *Server) createExemption(ctx context.Context, actor string, req exemptionRequest) (store.Exemption, error) {
	now := s.now().UTC()
	var problem string
	switch {
	case (req.HostID == "") == (req.Label == ""):
		problem = "give exactly one of host_id and label"
	case !baseline.IsCheckID(req.Check):
		problem = fmt.Sprintf("check: unknown %q; known checks: %s", req.Check, strings.Join(baseline.CheckIDs(), ", "))
	case strings.TrimSpace(req.Reason) == "":
		problem = "reason: say why the check is excused; auditors read it"
	case !req.Expires.After(now):
		problem = "expires: give a time in the future (RFC 3339); exemptions do not last forever"
	}
	if problem != "" {
		return store.Exemption{}, &badInput{problem}
	}
	if req.HostID != "" {
		if _, err := s.st.Host(ctx, req.HostID); err != nil {
			return store.Exemption{}, &aboutErr{"host", err}
		}
	}
	e := store.Exemption{ID: NewUUIDv7(now), HostID: req.HostID, Label: req.Label, Check: req.Check,
		Reason: req.Reason, RequestedBy: actor, CreatedAt: now, Expires: req.Expires.UTC()}
	if !req.Pending {
		e.ApprovedBy, e.ApprovedAt = actor, now
	}
	if err := s.st.AddExemption(ctx, e, actor); err != nil {
		return store.Exemption{}, err
	}
	return e, nil
}

func (s *Server) approveExemptionAPI(w http.ResponseWriter, r *http.Request, t store.Token) {
	id := r.PathValue("id")
	if err := s.approveExemption(r.Context(), t.Name, id); err != nil {
		s.writeFail(w, r, err, "exemption")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"approved": id})
}

// approveExemption is the write path of an approval, for the API and the dashboard. The store
// enforces four eyes (ErrConflict for the requester); the exemption is read first only to say
// precisely why an approval is refused.
func (s *Server) approveExemption(ctx context.Context, actor, id string) error {
	now := s.now().UTC()
	all, err := s.st.Exemptions(ctx, time.Time{})
	if err != nil {
		return err
	}
	for _, e := range all {
		if e.ID != id {
			continue
		}
		switch exemptionState(e, now) {
		case ExemptionActive:
			return &conflict{"exemption " + id + " is already approved"}
		case ExemptionRevoked:
			return &conflict{"exemption " + id + " was revoked; request a new one"}
		case ExemptionExpired:
			return &conflict{"exemption " + id + " has expired; request a new one"}
		}
		if e.RequestedBy == actor {
			return &conflict{fmt.Sprintf("%s requested exemption %s and cannot approve it too (four eyes): another admin must approve it", actor, id)}
		}
	}
	err = s.st.ApproveExemption(ctx, id, actor, now)
	if errors.Is(err, store.ErrConflict) {
		return &conflict{"exemption " + id + " cannot be approved by " + actor + ": it was requested by them (four eyes), or is already approved, revoked or expired"}
	}
	return err
}

// Exemption states, as the dashboard and the API show them.
const (
	ExemptionActive  = "active"
	ExemptionPending = "pending"
	ExemptionExpired = "expired"
	ExemptionRevoked = "revoked"
)

// exemptionState is what e is at now: revoked wins over expired, which wins over pending (a
// request nobody approved before its expiry excuses nothing, ever).
func exemptionState(e store.Exemption, now time.Time) string {
	switch {
	case !e.RevokedAt.IsZero() && !e.RevokedAt.After(now):
		return ExemptionRevoked
	case !e.Expires.After(now):
		return ExemptionExpired
	case e.ApprovedAt.IsZero():
		return ExemptionPending
	}
	return ExemptionActive
}

func (s *Server) revokeExemption(w http.ResponseWriter, r *http.Request, t store.Token) {
	id := r.PathValue("id")
	if err := s.revokeExemptionAs(r.Context(), t.Name, id); err != nil {
		s.writeFail(w, r, err, "exemption")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"revoked": id})
}

// revokeExemptionAs is the write path of a revocation, for the API and the dashboard.
func (s *Server) revokeExemptionAs(ctx context.Context, actor, id string) error {
	return s.st.RevokeExemption(ctx, id, actor, s.now().UTC())
}

// policies -----------------------------------------------------------------------------------

type policyJSON struct {
	Name            string    `json:"name"`
	Label           string    `json:"label"`
	Priority        int       `json:"priority"`
	Mode            string    `json:"mode"`
	IntervalSeconds int64     `json:"interval_seconds"`
	BaselineYAML    string    `json:"baseline_yaml"`
	Version         int64     `json:"version,omitempty"`
	UpdatedAt       time.Time `json:"updated_at,omitzero"`
}

func (s *Server) policies(w http.ResponseWriter, r *http.Request, _ store.Token) {
	ps, err := s.st.Policies(r.Context())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := make([]policyJSON, 0, len(ps))
	for _, p := range ps {
		out = append(out, policyJSON{p.Name, p.Label, p.Priority, p.Mode, p.IntervalSeconds, p.BaselineYAML, p.Version, p.UpdatedAt})
	}
	writeJSON(w, http.StatusOK, map[string]any{"policies": out})
}

// Interval bounds for a policy: more often than a minute is a load test, less often than a week
// leaves drift unseen for longer than any audit would accept.
const (
	minInterval = 60
	maxInterval = 7 * 24 * 3600
)

func (s *Server) putPolicy(w http.ResponseWriter, r *http.Request, t store.Token) {
	var req policyJSON
	if !decodeBody(w, r, &req, adminLimit) {
		return
	}
	p, err := s.savePolicy(r.Context(), t.Name, req)
	if err != nil {
		s.writeFail(w, r, err, "policy")
		return
	}
	writeJSON(w, http.StatusOK, policyJSON{p.Name, p.Label, p.Priority, p.Mode, p.IntervalSeconds, p.BaselineYAML, p.Version, p.UpdatedAt})
}

// savePolicy is the write path of a policy, for the API and the dashboard: it checks req,
// stores it as actor and tells every connected agent to fetch its config again.
func (s *Server) savePolicy(ctx context.Context, actor string, req policyJSON) (store.Policy, error) {
	var problem string
	switch {
	case req.Name == "":
		problem = "name: required"
	case req.Mode != wire.ModeReport && req.Mode != wire.ModeEnforce:
		problem = fmt.Sprintf("mode: %q, want report or enforce", req.Mode)
	case req.IntervalSeconds < minInterval || req.IntervalSeconds > maxInterval:
		problem = fmt.Sprintf("interval_seconds: %d, want %d to %d", req.IntervalSeconds, minInterval, maxInterval)
	case req.Name == "default" && req.Label != "":
		problem = "the default policy applies to every host; give it no label"
	case req.Name != "default" && req.Label == "":
		problem = "label: required for a policy other than default"
	}
	if problem == "" && req.BaselineYAML != "" {
		if _, err := baseline.Parse([]byte(req.BaselineYAML)); err != nil {
			problem = "baseline_yaml: " + err.Error()
		}
	}
	if problem != "" {
		return store.Policy{}, &badInput{problem}
	}
	p, err := s.st.PutPolicy(ctx, store.Policy{Name: req.Name, Label: req.Label, Priority: req.Priority,
		Mode: req.Mode, IntervalSeconds: req.IntervalSeconds, BaselineYAML: req.BaselineYAML, UpdatedAt: s.now().UTC()}, actor)
	if err != nil {
		return store.Policy{}, err
	}
	// Every connected agent refetches its config: cheaper than working out whose policy this is,
	// and a config request is one small read.
	if err := s.bus.Publish(ctx, AllHosts, wire.Nudge{Kind: wire.NudgeConfigChanged, ID: NewUUIDv7(s.now())}); err != nil {
		s.log.Warn("nudge after a policy change", "err", err)
	}
	return p, nil
}

// nudges -------------------------------------------------------------------------------------

type nudgeRequest struct {
	HostID string `json:"host_id"`
	Label  string `json:"label"`
}

func (s *Server) nudge(w http.ResponseWriter, r *http.Request, t store.Token) {
	var req nudgeRequest
	if !decodeBody(w, r, &req, adminLimit) {
		return
	}
	s.nudgeAnswer(w, r, t, req)
}

// refetchHost and refetchLabel are DESIGN.md's names for POST /api/v1/nudge.
func (s *Server) refetchHost(w http.ResponseWriter, r *http.Request, t store.Token) {
	s.nudgeAnswer(w, r, t, nudgeRequest{HostID: r.PathValue("id")})
}

func (s *Server) refetchLabel(w http.ResponseWriter, r *http.Request, t store.Token) {
	l := r.URL.Query().Get("label")
	if l == "" {
		writeError(w, http.StatusBadRequest, "label: required (POST /api/v1/refetch?label=L)")
		return
	}
	s.nudgeAnswer(w, r, t, nudgeRequest{Label: l})
}

// nudgeAnswer is the admin API's side of nudgeHosts: a caller's mistake is 400, an unknown
// host 404.
func (s *Server) nudgeAnswer(w http.ResponseWriter, r *http.Request, t store.Token, req nudgeRequest) {
	answer, err := s.nudgeHosts(r.Context(), t.Name, req)
	var bad *badInput
	switch {
	case errors.As(err, &bad):
		writeError(w, http.StatusBadRequest, bad.msg)
	case err != nil:
		s.storeError(w, r, err, "host")
	default:
		writeJSON(w, http.StatusOK, answer)
	}
}

// nudgeHosts publishes one check-now nudge on behalf of actor and audits it: to one host, or
// to a label's connected hosts in one bus message that every replica answers from its own
// streams (hub.go says why not from the store). The admin API and the dashboard's "check now"
// both call it. Errors: *badInput for a request naming neither or both of a host and a label,
// store.ErrNotFound for an unknown host.
func (s *Server) nudgeHosts(ctx context.Context, actor string, req nudgeRequest) (map[string]any, error) {
	if (req.HostID == "") == (req.Label == "") {
		return nil, &badInput{"give exactly one of host_id and label"}
	}
	target, answer := req.HostID, map[string]any{}
	if req.HostID != "" {
		h, err := s.st.Host(ctx, req.HostID)
		if err != nil {
			return nil, err
		}
		answer["host_id"], answer["hosts"] = h.ID, 1
	} else {
		target, answer["label"] = LabelTarget(req.Label), req.Label
	}
	nid := NewUUIDv7(s.now())
	answer["nudge"] = nid
	if err := s.bus.Publish(ctx, target, wire.Nudge{Kind: wire.NudgeCheckNow, ID: nid}); err != nil {
		return nil, fmt.Errorf("publish the nudge: %w", err)
	}
	if a, ok := s.st.(Auditor); ok {
		auditTarget := req.HostID
		if auditTarget == "" {
			auditTarget = "label:" + req.Label
		}
		d, _ := json.Marshal(map[string]any{"nudge": nid})
		if err := a.AppendAudit(ctx, store.Audit{Time: s.now().UTC(), Actor: actor, Action: "host.nudge", Target: auditTarget, Detail: string(d)}); err != nil {
			return nil, fmt.Errorf("audit the nudge: %w", err)
		}
	}
	return answer, nil
}

// audit and metrics --------------------------------------------------------------------------

type auditJSON struct {
	ID     int64           `json:"id"`
	Time   time.Time       `json:"time"`
	Actor  string          `json:"actor"`
	Action string          `json:"action"`
	Target string          `json:"target"`
	Detail json.RawMessage `json:"detail,omitempty"`
}

func (s *Server) audit(w http.ResponseWriter, r *http.Request, _ store.Token) {
	since, err := timeParam(r, "since")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	as, err := s.st.AuditLog(r.Context(), since)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := make([]auditJSON, 0, len(as))
	for _, a := range as {
		j := auditJSON{ID: a.ID, Time: a.Time, Actor: a.Actor, Action: a.Action, Target: a.Target}
		if json.Valid([]byte(a.Detail)) {
			j.Detail = json.RawMessage(a.Detail)
		} else if a.Detail != "" {
			j.Detail, _ = json.Marshal(a.Detail)
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, map[string]any{"audit": out})
}

func (s *Server) serveMetrics(w http.ResponseWriter, _ *http.Request, _ store.Token) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	s.metrics.write(w, s.hub.connected())
}

// write paths' errors ------------------------------------------------------------------------

// aboutErr is a store error about something other than what the write path writes (the host
// an exemption names), so that its message names that thing.
type aboutErr struct {
	what string
	err  error
}

func (e *aboutErr) Error() string { return e.what + ": " + e.err.Error() }
func (e *aboutErr) Unwrap() error { return e.err }

// conflict is a write refused for the state of what it writes (an exemption approved by its
// requester, or already approved); its message says why, for the API's 409 and the dashboard.
type conflict struct{ msg string }

func (e *conflict) Error() string { return e.msg }

// writeFail answers the error of a shared write path on what: 400 for bad input, 409 for a
// conflict, and the store's errors as storeError maps them.
func (s *Server) writeFail(w http.ResponseWriter, r *http.Request, err error, what string) {
	var bad *badInput
	var c *conflict
	var about *aboutErr
	switch {
	case errors.As(err, &bad):
		writeError(w, http.StatusBadRequest, bad.msg)
	case errors.As(err, &c):
		writeError(w, http.StatusConflict, c.msg)
	case errors.As(err, &about):
		s.storeError(w, r, about.err, about.what)
	default:
		s.storeError(w, r, err, what)
	}
}
