package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

func init() {
	dashRouteSets = append(dashRouteSets, func(s *Server, mux *http.ServeMux) {
		mux.Handle("GET /hosts/{id}", s.dashPage(s.hostPage))
		mux.Handle("GET /hosts/{id}/state", s.dashPage(s.hostState))
		mux.Handle("POST /hosts/{id}/nudge", s.dashAction(s.hostNudge))
	})
}

// timelineMax bounds the host page's timeline; the API's history endpoint has the rest.
const timelineMax = 200

// hostAlertsMax bounds the host page's alerts (its newest, by ID); the alerts page has the rest.
const hostAlertsMax = 200

// hostResult is one row of the host's results: the current status (viewHost's) with what the
// latest stored run said of the check.
type hostResult struct {
	resultJSON
	Source   string
	Controls []string
	Managed  bool
	Detail   string
	Evidence []evidenceView
	InRun    bool // the latest stored run has this check
}

// evidenceView is one program run or file read, with its argv shown as one line.
type evidenceView struct {
	wire.Evidence
	Command string
}

// timelineEvent is one line of the host's timeline: a transition of a check, or an exemption
// that applies to the host being created, approved, revoked or running out.
type timelineEvent struct {
	Time   time.Time
	Kind   string // first result, drift, fix, revert, change; exemption …
	Check  string
	From   string
	To     string
	Actual string
	Cause  string
	RunID  string
	Detail string
}

// hostPageData is what host.html shows.
type hostPageData struct {
	Host       hostJSON
	Results    []hostResult
	Sort       map[string]sortLink // the results table's headers
	TimeSort   map[string]sortLink // the timeline's
	AlertSort  map[string]sortLink // the alerts table's
	Run        *store.StoredRun
	Timeline   []timelineEvent
	Older      int // timeline events left out (timelineMax)
	Alerts     []store.StoredAlert
	Bans       *wire.Bans
	BansAt     time.Time
	Nudged     bool // the page is the answer to a check-now without JavaScript
	NudgeURL   string
	StateURL   string
	HistoryAPI string
	AlertsURL  string
	// MoreAlerts: the host has more alerts than the AlertsMax (hostAlertsMax) shown.
	MoreAlerts bool
	AlertsMax  int
}

func (s *Server) hostPage(w http.ResponseWriter, r *http.Request, d *dashReq) {
	ctx := r.Context()
	h, err := s.st.Host(ctx, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		s.dashError(w, r, d, http.StatusNotFound, "no host "+strconv.Quote(r.PathValue("id"))+"; find it on the hosts page")
		return
	} else if err != nil {
		s.internal(w, r, err)
		return
	}
	exs, err := s.st.Exemptions(ctx, d.Now)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	v, err := s.viewHost(ctx, h, exs)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	esc := url.PathEscape(h.ID)
	data := hostPageData{Host: v.host, Nudged: r.URL.Query().Get("nudged") != "",
		NudgeURL: "/hosts/" + esc + "/nudge", StateURL: "/hosts/" + esc + "/state",
		HistoryAPI: "/api/v1/hosts/" + esc + "/history", AlertsURL: pathWith("/alerts", url.Values{"host": {h.ID}}),
		AlertsMax: hostAlertsMax}

	run, err := s.st.LatestRun(ctx, h.ID)
	switch {
	case err == nil:
		data.Run = &run
	case !errors.Is(err, store.ErrNotFound):
		s.internal(w, r, err)
		return
	}
	for _, res := range v.results {
		hr := hostResult{resultJSON: res}
		if data.Run != nil {
			if i := slices.IndexFunc(data.Run.Results, func(x wire.Result) bool { return x.Check == res.Check }); i >= 0 {
				x := data.Run.Results[i]
				hr.InRun, hr.Source, hr.Controls, hr.Managed, hr.Detail = true, x.Source, x.Controls, x.Managed, x.Detail
				for _, e := range x.Evidence {
					hr.Evidence = append(hr.Evidence, evidenceView{Evidence: e, Command: shellWords(e.Argv)})
				}
			}
		}
		data.Results = append(data.Results, hr)
	}

	// Each table sorts by its own parameters; the links keep the others' (not the nudge notice).
	self, q := "/hosts/"+esc, r.URL.Query()
	q.Del("nudged")
	sortBy, dir := resultSort.read(q)
	sortResults(data.Results, sortBy, dir)
	data.Sort = resultSort.links(self, q, sortBy, dir)

	data.Timeline, data.Older, err = s.hostTimeline(ctx, h, d.Now)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	sortBy, dir = timelineSort.read(q)
	sortTimeline(data.Timeline, sortBy, dir)
	data.TimeSort = timelineSort.links(self, q, sortBy, dir)

	// The host's newest alerts by ID (first seen), one more than shown to know whether there
	// are older ones, which the alerts page lists.
	data.Alerts, err = s.st.AlertsPage(ctx, store.AlertQuery{HostID: h.ID, Limit: hostAlertsMax + 1})
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if len(data.Alerts) > hostAlertsMax {
		data.Alerts, data.MoreAlerts = data.Alerts[:hostAlertsMax], true
	}
	newestAlertsFirst(data.Alerts)
	sortBy, dir = alertSort.read(q)
	sortAlerts(data.Alerts, sortBy, dir)
	data.AlertSort = alertSort.links(self, q, sortBy, dir)
	b, at, err := s.st.LatestBans(ctx, h.ID)
	switch {
	case err == nil:
		data.Bans, data.BansAt = &b, at
	case !errors.Is(err, store.ErrNotFound):
		s.internal(w, r, err)
		return
	}
	title := h.Hostname
	if title == "" {
		title = h.ID
	}
	s.render(w, r, d, http.StatusOK, "host", title, data)
}

// The host page's sortable tables: results by check (the default), status or since; the
// timeline newest first by default, or by check or event; alerts newest first by default, or by
// rule, severity or count.
var (
	resultSort   = tableSort{Sort: "sort", Dir: "dir", Cols: []string{"check", "status", "since"}, Fragment: "#results"}
	timelineSort = tableSort{Sort: "tsort", Dir: "tdir", Cols: []string{"time", "check", "kind"}, DefaultDir: "desc", Fragment: "#timeline"}
	alertSort    = tableSort{Sort: "asort", Dir: "adir", Cols: []string{"last_seen", "rule", "severity", "count"}, DefaultDir: "desc", Fragment: "#host-alerts"}
)

// sortResults orders a host's results by check, status or since (then by check).
func sortResults(rs []hostResult, sortBy, dir string) {
	slices.SortStableFunc(rs, func(a, b hostResult) int {
		c := 0
		switch sortBy {
		case "status":
			c = strings.Compare(a.Status, b.Status)
		case "since":
			c = a.Since.Compare(b.Since)
		}
		if c == 0 {
			c = strings.Compare(a.Check, b.Check)
		}
		if dir == "desc" {
			c = -c
		}
		return c
	})
}

// sortTimeline orders a timeline given newest first. By time it only reverses, so that events
// of one instant (a drift and the fix that followed it) keep their order; by check or event
// the events of one check or kind stay newest first.
func sortTimeline(es []timelineEvent, sortBy, dir string) {
	if sortBy == "time" {
		if dir == "asc" {
			slices.Reverse(es)
		}
		return
	}
	slices.SortStableFunc(es, func(a, b timelineEvent) int {
		c := strings.Compare(a.Check, b.Check)
		if sortBy == "kind" {
			c = strings.Compare(a.Kind, b.Kind)
		}
		if dir == "desc" {
			c = -c
		}
		return c
	})
}

// alertSeverityRank orders alert severities from the least to the most severe, unknown ones
// first (the alerts page's order).
func alertSeverityRank(s string) int {
	return slices.Index([]string{"informational", "info", "low", "medium", "high", "critical"}, strings.ToLower(s))
}

// sortAlerts orders alerts given newest first by last seen, rule, severity or count; ties stay
// newest first.
func sortAlerts(as []store.StoredAlert, sortBy, dir string) {
	if sortBy == "last_seen" {
		if dir == "asc" {
			slices.Reverse(as)
		}
		return
	}
	slices.SortStableFunc(as, func(a, b store.StoredAlert) int {
		var c int
		switch sortBy {
		case "rule":
			c = strings.Compare(a.Alert.Rule, b.Alert.Rule)
		case "severity":
			c = alertSeverityRank(a.Alert.Severity) - alertSeverityRank(b.Alert.Severity)
		case "count":
			c = a.Alert.Count - b.Alert.Count
		}
		if dir == "desc" {
			c = -c
		}
		return c
	})
}

// newestAlertsFirst orders alerts by when they were last seen, newest first.
func newestAlertsFirst(as []store.StoredAlert) {
	slices.SortStableFunc(as, func(a, b store.StoredAlert) int {
		if c := b.Alert.LastSeen.Compare(a.Alert.LastSeen); c != 0 {
			return c
		}
		return int(b.ID - a.ID)
	})
}

// hostTimeline is the host's transitions and the events of the exemptions that apply to it,
// newest first, at most timelineMax, and how many older ones were left out.
func (s *Server) hostTimeline(ctx context.Context, h store.Host, now time.Time) ([]timelineEvent, int, error) {
	ts, err := s.st.Transitions(ctx, h.ID, "", time.Time{}, now)
	if err != nil {
		return nil, 0, err
	}
	var out []timelineEvent
	// Newest first. The store gives transitions in the order they happened, which a sort by
	// time alone would lose for a drift and the fix that reverted it in the same run.
	for _, t := range slices.Backward(ts) {
		out = append(out, timelineEvent{Time: t.Time, Kind: transitionKind(t), Check: t.Check, From: t.From, To: t.To,
			Actual: t.Actual, Cause: t.Cause, RunID: t.RunID})
	}
	// Exemptions: every one ever (a zero instant), those for this host or one of its labels.
	exs, err := s.st.Exemptions(ctx, time.Time{})
	if err != nil {
		return nil, 0, err
	}
	for _, e := range exs {
		if !(e.HostID == h.ID || (e.Label != "" && slices.Contains(h.Labels, e.Label))) {
			continue
		}
		who := "for host"
		if e.Label != "" {
			who = "for label " + e.Label
		}
		detail := e.ID + " " + who + ": " + e.Reason
		switch {
		case e.ApprovedAt.IsZero():
			out = append(out, timelineEvent{Time: e.CreatedAt, Kind: "exemption requested", Check: e.Check, Detail: detail + " (by " + e.RequestedBy + ")"})
		case e.ApprovedAt.Equal(e.CreatedAt):
			out = append(out, timelineEvent{Time: e.CreatedAt, Kind: "exemption created", Check: e.Check, Detail: detail + " (by " + e.ApprovedBy + ")"})
		default:
			out = append(out, timelineEvent{Time: e.CreatedAt, Kind: "exemption requested", Check: e.Check, Detail: detail + " (by " + e.RequestedBy + ")"},
				timelineEvent{Time: e.ApprovedAt, Kind: "exemption approved", Check: e.Check, Detail: e.ID + " (by " + e.ApprovedBy + ")"})
		}
		switch {
		case !e.RevokedAt.IsZero() && (e.RevokedAt.Before(e.Expires)):
			out = append(out, timelineEvent{Time: e.RevokedAt, Kind: "exemption revoked", Check: e.Check, Detail: e.ID})
		case !e.Expires.After(now):
			out = append(out, timelineEvent{Time: e.Expires, Kind: "exemption expired", Check: e.Check, Detail: e.ID})
		}
	}
	slices.SortStableFunc(out, func(a, b timelineEvent) int { return b.Time.Compare(a.Time) })
	if len(out) > timelineMax {
		return out[:timelineMax], len(out) - timelineMax, nil
	}
	return out, 0, nil
}

// transitionKind names a transition for people: the first result seen, a drift out of
// compliance, a fix by the agent's enforce mode, a revert into compliance by someone else, or
// a change that keeps compliance as it was (pass to managed, fail to error).
func transitionKind(t store.Transition) string {
	switch {
	case t.From == "":
		return "first result"
	case wire.Compliant(t.From) && !wire.Compliant(t.To):
		return "drift"
	case !wire.Compliant(t.From) && wire.Compliant(t.To) && t.Cause == wire.CauseFix:
		return "fix"
	case !wire.Compliant(t.From) && wire.Compliant(t.To):
		return "revert"
	}
	return "change"
}

// shellWords shows argv as one line a person can read and paste: words with spaces or quotes
// are quoted.
func shellWords(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$`") {
			a = strconv.Quote(a)
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// hostStateJSON is what the host page's poller needs after "check now": the latest run's
// identity and time, the host's status and each check's status.
type hostStateJSON struct {
	LastRun  string            `json:"last_run"` // RFC 3339, UTC; "" before the first run
	RunID    string            `json:"run_id"`
	Status   string            `json:"status"`
	LastSeen string            `json:"last_seen"`
	Results  map[string]string `json:"results"`
}

// hostState answers GET /hosts/{id}/state. The run is the newest the host reported: a run
// that repeats the stored one moves LastRunID and Confirmed without storing it again.
func (s *Server) hostState(w http.ResponseWriter, r *http.Request, d *dashReq) {
	ctx := r.Context()
	h, err := s.st.Host(ctx, r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err, "host")
		return
	}
	exs, err := s.st.Exemptions(ctx, d.Now)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	v, err := s.viewHost(ctx, h, exs)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := hostStateJSON{Status: v.host.Status, LastSeen: rfc3339(h.LastSeen), Results: map[string]string{}}
	for _, res := range v.results {
		out.Results[res.Check] = res.Status
	}
	run, err := s.st.LatestRun(ctx, h.ID)
	switch {
	case err == nil:
		out.LastRun, out.RunID = rfc3339(run.Confirmed), run.LastRunID
	case !errors.Is(err, store.ErrNotFound):
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// hostNudge is the host page's "check now": the admin API's nudge, with the user as actor.
// dash.js sends it with Accept: application/json and polls the state; without JavaScript the
// browser is sent back to the page.
func (s *Server) hostNudge(w http.ResponseWriter, r *http.Request, d *dashReq) {
	id := r.PathValue("id")
	answer, err := s.nudgeHosts(r.Context(), d.User.Name, nudgeRequest{HostID: id})
	var bad *badInput
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.dashError(w, r, d, http.StatusNotFound, "no host "+strconv.Quote(id)+"; find it on the hosts page")
		return
	case errors.As(err, &bad):
		s.dashError(w, r, d, http.StatusBadRequest, bad.msg)
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		writeJSON(w, http.StatusOK, answer)
		return
	}
	http.Redirect(w, r, "/hosts/"+url.PathEscape(id)+"?nudged=1#check-now", http.StatusSeeOther)
}
