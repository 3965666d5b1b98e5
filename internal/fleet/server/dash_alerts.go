package server

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

func init() {
	dashRouteSets = append(dashRouteSets, func(s *Server, mux *http.ServeMux) {
		mux.Handle("GET /alerts", s.dashPage(s.alertsPage))
		mux.Handle("POST /alerts/{id}/ack", s.dashAction(s.ackAlertAction))
	})
}

// Helpers shared by the pages of this file and dash_exemptions, dash_report, dash_audit and
// dash_settings.

// sortCol is a sortable table header: its link sorts by the column, and asks for the other
// direction when the table is already sorted by it.
type sortCol struct {
	Name, Key string
	Link      string
	Sorted    string // "ascending", "descending" or "" (aria-sort)
	Num       bool   // right-aligned numbers
}

// sortCols builds the headers of a table sorted by sort in dir ("asc" or "desc"), keeping the
// page's other parameters (q) so that a sorted view stays linkable. Page numbers are dropped:
// a new order starts at the first page.
func sortCols(path string, q url.Values, sort, dir string, cols ...sortCol) []sortCol {
	for i, c := range cols {
		v := url.Values{}
		for k, vs := range q {
			if k != "sort" && k != "dir" && k != "page" {
				v[k] = vs
			}
		}
		next := "asc"
		if c.Key == sort {
			cols[i].Sorted = map[string]string{"asc": "ascending", "desc": "descending"}[dir]
			if dir == "asc" {
				next = "desc"
			}
		}
		v.Set("sort", c.Key)
		v.Set("dir", next)
		cols[i].Link = path + "?" + v.Encode()
	}
	return cols
}

// sortParams reads sort= and dir= from q: sort must be one of keys (default def), dir asc or
// desc (default defDir).
func sortParams(q url.Values, def, defDir string, keys ...string) (string, string) {
	sort, dir := q.Get("sort"), q.Get("dir")
	if !slices.Contains(keys, sort) {
		sort = def
	}
	if dir != "asc" && dir != "desc" {
		dir = defDir
	}
	return sort, dir
}

// dashFailure maps the error of a shared write path on what to the status and message the
// dashboard shows beside the form; ok is false for an internal error, which it has logged.
func (s *Server) dashFailure(r *http.Request, err error, what string) (code int, msg string, ok bool) {
	var bad *badInput
	var c *conflict
	var about *aboutErr
	if errors.As(err, &about) {
		err, what = about.err, about.what
	}
	switch {
	case errors.As(err, &bad):
		return http.StatusBadRequest, bad.msg, true
	case errors.As(err, &c):
		return http.StatusConflict, c.msg, true
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, what + " not found", true
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict, what + " already exists; choose another name", true
	case errors.Is(err, store.ErrRevoked):
		return http.StatusConflict, what + " is already revoked", true
	}
	s.log.Error("dashboard action failed", "path", r.URL.Path, "err", err)
	return http.StatusInternalServerError, "internal error; see the server log", false
}

// backTo is where an action sends the browser back to: page with the query the form carried
// in its "back" field (the filters the user was looking at), re-encoded so that only a query
// string of that page can come out of it.
func backTo(page string, r *http.Request) string {
	q, err := url.ParseQuery(strings.TrimPrefix(r.PostForm.Get("back"), "?"))
	if err != nil || len(q) == 0 {
		return page
	}
	return page + "?" + q.Encode()
}

// alerts -------------------------------------------------------------------------------------

// alertsPageSize is how many alerts one page shows; maxSortedAlerts bounds what a page sorted
// by a column reads: the newest that many alerts of the filter, sorted in the server.
const (
	alertsPageSize  = 100
	maxSortedAlerts = 10000
)

type alertRow struct {
	store.StoredAlert
	Hostname string
}

type alertsData struct {
	Rows     []alertRow
	Cols     []sortCol
	Unacked  bool
	Host     string
	Severity string
	Query    string // the page's query, for the forms' back field
	Total    int
	Page     int
	Pages    int
	PrevLink string
	NextLink string
	Error    string
	// Keyset: the default view, newest first by arrival, paged by key (before=ID) so that a
	// page reads only its own alerts; NewestLink goes back to its first page. Truncated: a
	// sorted view found more than maxSortedAlerts and sorted only the newest of them.
	Keyset     bool
	NewestLink string
	Truncated  bool
	Max        int
	// Severities are the choices of the severity filter, most severe first.
	Severities []string
}

func (s *Server) alertsPage(w http.ResponseWriter, r *http.Request, d *dashReq) {
	s.alertsView(w, r, d, http.StatusOK, r.URL.Query(), "")
}

// alertsView renders the alerts of query q, with msg (a refused action) above them.
func (s *Server) alertsView(w http.ResponseWriter, r *http.Request, d *dashReq, code int, q url.Values, msg string) {
	unacked := q.Get("unacked") == "1" || q.Get("unacked") == "true"
	data := alertsData{Unacked: unacked, Host: q.Get("host"), Severity: q.Get("severity"), Query: q.Encode(), Error: msg,
		Severities: []string{"critical", "high", "medium", "low", "informational"}}
	aq := store.AlertQuery{HostID: data.Host, UnackedOnly: unacked, Severity: strings.ToLower(data.Severity), Limit: maxSortedAlerts + 1}
	if q.Get("sort") == "" {
		s.alertsNewest(w, r, d, code, q, data, aq)
		return
	}
	as, err := s.st.AlertsPage(r.Context(), aq)
	if err != nil {
		s.dashInternal(w, r, d, err)
		return
	}
	if len(as) > maxSortedAlerts {
		as, data.Truncated, data.Max = as[:maxSortedAlerts], true, maxSortedAlerts
	}
	sort, dir := sortParams(q, "last_seen", "desc", "host", "rule", "severity", "count", "first_seen", "last_seen", "acked")
	names := map[string]string{}
	name := func(id string) string {
		n, ok := names[id]
		if !ok {
			if h, err := s.st.Host(r.Context(), id); err == nil {
				n = h.Hostname
			}
			names[id] = n
		}
		return n
	}
	for _, a := range as { // the store filtered by severity (aq.Severity)
		row := alertRow{StoredAlert: a}
		if sort == "host" {
			row.Hostname = name(a.HostID) // sorting by host needs every name; else only the page's
		}
		data.Rows = append(data.Rows, row)
	}
	slices.SortStableFunc(data.Rows, func(a, b alertRow) int {
		var c int
		switch sort {
		case "host":
			c = strings.Compare(a.Hostname, b.Hostname)
		case "rule":
			c = strings.Compare(a.Alert.Rule, b.Alert.Rule)
		case "severity":
			c = cmp.Compare(severityRank(a.Alert.Severity), severityRank(b.Alert.Severity))
		case "count":
			c = cmp.Compare(a.Alert.Count, b.Alert.Count)
		case "first_seen":
			c = a.Alert.FirstSeen.Compare(b.Alert.FirstSeen)
		case "acked":
			c = a.AckedAt.Compare(b.AckedAt)
		default:
			c = a.Alert.LastSeen.Compare(b.Alert.LastSeen)
		}
		c = cmp.Or(c, cmp.Compare(a.ID, b.ID))
		if dir == "desc" {
			c = -c
		}
		return c
	})
	data.Total = len(data.Rows)
	var lo, hi int
	lo, hi, data.Page, data.Pages, data.PrevLink, data.NextLink = pageOf(len(data.Rows), alertsPageSize, "/alerts", q)
	data.Rows = data.Rows[lo:hi]
	for i := range data.Rows {
		data.Rows[i].Hostname = name(data.Rows[i].HostID)
	}
	data.Cols = sortCols("/alerts", q, sort, dir,
		sortCol{Name: "Host", Key: "host"}, sortCol{Name: "Rule", Key: "rule"}, sortCol{Name: "Severity", Key: "severity"},
		sortCol{Name: "Count", Key: "count", Num: true}, sortCol{Name: "First seen", Key: "first_seen"},
		sortCol{Name: "Last seen", Key: "last_seen"}, sortCol{Name: "Acknowledged", Key: "acked"})
	s.render(w, r, d, code, "alerts", "Alerts", data)
}

// alertsNewest is the default alerts view: newest first by arrival (alert ID), paged by key.
func (s *Server) alertsNewest(w http.ResponseWriter, r *http.Request, d *dashReq, code int, q url.Values, data alertsData, aq store.AlertQuery) {
	data.Keyset = true
	if v := q.Get("before"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			s.dashError(w, r, d, http.StatusBadRequest, fmt.Sprintf("before: %q is not an alert id; follow the page's links", v))
			return
		}
		aq.BeforeID = id
	}
	aq.Limit = alertsPageSize + 1
	as, err := s.st.AlertsPage(r.Context(), aq)
	if err != nil {
		s.dashInternal(w, r, d, err)
		return
	}
	link := func(before int64) string {
		v := url.Values{}
		for k, vs := range q {
			if k != "before" && k != "page" {
				v[k] = vs
			}
		}
		if before > 0 {
			v.Set("before", strconv.FormatInt(before, 10))
		}
		if len(v) == 0 {
			return "/alerts"
		}
		return "/alerts?" + v.Encode()
	}
	if len(as) > alertsPageSize {
		as = as[:alertsPageSize]
		data.NextLink = link(as[len(as)-1].ID)
	}
	if aq.BeforeID > 0 {
		data.NewestLink = link(0)
	}
	names := map[string]string{}
	for _, a := range as {
		n, ok := names[a.HostID]
		if !ok {
			if h, err := s.st.Host(r.Context(), a.HostID); err == nil {
				n = h.Hostname
			}
			names[a.HostID] = n
		}
		data.Rows = append(data.Rows, alertRow{StoredAlert: a, Hostname: n})
	}
	data.Cols = sortCols("/alerts", q, "", "",
		sortCol{Name: "Host", Key: "host"}, sortCol{Name: "Rule", Key: "rule"}, sortCol{Name: "Severity", Key: "severity"},
		sortCol{Name: "Count", Key: "count", Num: true}, sortCol{Name: "First seen", Key: "first_seen"},
		sortCol{Name: "Last seen", Key: "last_seen"}, sortCol{Name: "Acknowledged", Key: "acked"})
	s.render(w, r, d, code, "alerts", "Alerts", data)
}

// severityRank orders severities from the least to the most severe; unknown ones first.
func severityRank(sev string) int {
	return slices.Index([]string{"informational", "info", "low", "medium", "high", "critical"}, strings.ToLower(sev))
}

func (s *Server) ackAlertAction(w http.ResponseWriter, r *http.Request, d *dashReq) {
	back, _ := url.ParseQuery(r.PostForm.Get("back"))
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		s.alertsView(w, r, d, http.StatusBadRequest, back, fmt.Sprintf("alert id %q is not a number", r.PathValue("id")))
		return
	}
	if err := s.acknowledgeAlert(r.Context(), d.User.Name, id, r.PostForm.Get("note")); err != nil {
		code, msg, ok := s.dashFailure(r, err, "alert")
		if !ok {
			s.dashInternal(w, r, d, err)
			return
		}
		s.alertsView(w, r, d, code, back, msg)
		return
	}
	http.Redirect(w, r, backTo("/alerts", r), http.StatusSeeOther)
}

// dashInternal logs err and shows the error page: the error's text may name the database.
func (s *Server) dashInternal(w http.ResponseWriter, r *http.Request, d *dashReq, err error) {
	if r.Context().Err() != nil {
		return
	}
	s.log.Error("dashboard request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	s.dashError(w, r, d, http.StatusInternalServerError, "internal error; see the server log")
}
