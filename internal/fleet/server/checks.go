package server

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/posture/baseline"
)

// Pages of GET /api/v1/checks/{check}/history: transitions are small (a status change each), so
// a page is larger than a page of hosts, and still bounded whatever the fleet's size.
const (
	defaultHistoryPage = 500
	maxHistoryPage     = 5000
)

// checkHistoryJSON is one page of a check's history across the fleet. NextBefore is the cursor
// of the next (older) page, given as ?before=; empty on the last page.
type checkHistoryJSON struct {
	Check       string           `json:"check"`
	Transitions []transitionJSON `json:"transitions"`
	NextBefore  string           `json:"next_before,omitempty"`
}

// historyCursor is a page cursor: the time (RFC 3339, nanoseconds) and ID of the last
// transition given, joined by "_".
func historyCursor(t store.CheckTransition) string {
	return t.Time.UTC().Format(time.RFC3339Nano) + "_" + strconv.FormatInt(t.ID, 10)
}

func parseHistoryCursor(v string) (time.Time, int64, error) {
	ts, id, ok := strings.Cut(v, "_")
	at, err := time.Parse(time.RFC3339Nano, ts)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if !ok || err != nil || err2 != nil || n <= 0 {
		return time.Time{}, 0, fmt.Errorf("before: %q is not a cursor; pass the next_before of the previous page", v)
	}
	return at.UTC(), n, nil
}

// checkHistory answers GET /api/v1/checks/{check}/history: the check's transitions on every
// host, newest first, one page at a time. Each page is one range of an index on (check, time),
// so its cost does not grow with the fleet or the history kept.
func (s *Server) checkHistory(w http.ResponseWriter, r *http.Request, _ store.Token) {
	check := r.PathValue("check")
	if !baseline.IsCheckID(check) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no check %q; known checks: %s", check, strings.Join(baseline.CheckIDs(), ", ")))
		return
	}
	q := store.CheckHistoryQuery{Check: check, Limit: defaultHistoryPage}
	var err error
	if q.From, err = timeParam(r, "from"); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if q.To, err = timeParam(r, "to"); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxHistoryPage {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit: %q is not a number from 1 to %d", v, maxHistoryPage))
			return
		}
		q.Limit = n
	}
	if v := r.URL.Query().Get("before"); v != "" {
		if q.BeforeTime, q.BeforeID, err = parseHistoryCursor(v); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	limit := q.Limit
	q.Limit++ // one more tells whether there is a next page
	ts, err := s.st.CheckHistory(r.Context(), q)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := checkHistoryJSON{Check: check, Transitions: make([]transitionJSON, 0, min(len(ts), limit))}
	for i, t := range ts {
		if i == limit {
			out.NextBefore = historyCursor(ts[i-1])
			break
		}
		out.Transitions = append(out.Transitions, transitionJSON{t.HostID, t.Check, t.Time, t.From, t.To, t.Actual, t.RunID, t.Cause, t.Seq})
	}
	writeJSON(w, http.StatusOK, out)
}

// checkJSON is one check's hosts per current status.
type checkJSON struct {
	Check string `json:"check"`
	checkCountJSON
}

// checks answers GET /api/v1/checks[?at=&label=]: every check the agents know, with how many
// hosts pass, fail, err, are exempt and so on, from the same query as /api/v1/compliance.
func (s *Server) checks(w http.ResponseWriter, r *http.Request, _ store.Token) {
	at, err := timeParam(r, "at")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if at.IsZero() {
		at = s.now().UTC()
	}
	c, err := s.st.ComplianceAt(r.Context(), at, r.URL.Query().Get("label"), "")
	if err != nil {
		s.internal(w, r, err)
		return
	}
	// Every known check, with zeros when no host reported it, and any check the hosts reported
	// that this build does not know (newer agents).
	ids := baseline.CheckIDs()
	for id := range c.PerCheck {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	out := make([]checkJSON, 0, len(ids))
	for _, id := range ids {
		out = append(out, checkJSON{Check: id, checkCountJSON: checkCountJSON(c.PerCheck[id])})
	}
	writeJSON(w, http.StatusOK, map[string]any{"at": at, "checks": out})
}
