package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/posture/baseline"
)

func init() {
	dashRouteSets = append(dashRouteSets, func(s *Server, mux *http.ServeMux) {
		mux.Handle("GET /checks", s.dashPage(s.checksPage))
		mux.Handle("GET /checks/{check}", s.dashPage(s.checkPage))
	})
}

// Charts cover 90 days, one point a day ending now.
const (
	chartDays = 90
	chartStep = 24 * time.Hour
)

// checkHistoryPage is how many of a check's transitions the check page lists at once.
const checkHistoryPage = 50

// checkRow is one check's hosts per current status.
type checkRow struct {
	Check string
	store.CheckCount
}

// checkCountsTable is a table of checkRows (web/pages_a.html "check-counts-table").
type checkCountsTable struct {
	ID   string
	Rows []checkRow
	Sort map[string]sortLink
}

// transitionsTable is a table of transitions of any host and check
// (web/pages_a.html "transitions-table").
type transitionsTable struct {
	ID   string
	Rows []checkHistoryRow
}

// checkSorts are the columns a table of checkRows sorts by.
var checkSorts = []string{"check", "pass", "fail", "error", "exempt", "managed", "not_applicable"}

// checkRows is every check the server knows, with zeros for those no host reported, and every
// check the hosts reported that this build does not know (newer agents), as the API's checks
// endpoint lists them; sorted by sortBy (checkSorts; check name when unknown), then by name.
func checkRows(c store.Compliance, sortBy, dir string) []checkRow {
	ids := baseline.CheckIDs()
	for id := range c.PerCheck {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	out := make([]checkRow, 0, len(ids))
	for _, id := range ids {
		out = append(out, checkRow{Check: id, CheckCount: c.PerCheck[id]})
	}
	key := func(r checkRow) int {
		switch sortBy {
		case "pass":
			return r.Pass
		case "fail":
			return r.Fail
		case "error":
			return r.Error
		case "exempt":
			return r.Exempt
		case "managed":
			return r.Managed
		case "not_applicable":
			return r.NotApplicable
		}
		return 0
	}
	slices.SortFunc(out, func(a, b checkRow) int {
		c := cmp.Compare(key(a), key(b))
		if dir == "desc" {
			c = -c
		}
		if c == 0 {
			c = strings.Compare(a.Check, b.Check)
			if dir == "desc" && (sortBy == "check" || sortBy == "") {
				c = -c
			}
		}
		return c
	})
	return out
}

// smallSort reads ?sort= and ?dir= for a small table sorted by the server: unknown values
// fall back to the first column, ascending.
func smallSort(v url.Values, cols []string) (string, string) {
	return tableSort{Sort: "sort", Dir: "dir", Cols: cols}.read(v)
}

// checksPageData is what checks.html shows.
type checksPageData struct {
	At    time.Time
	Table checkCountsTable
}

func (s *Server) checksPage(w http.ResponseWriter, r *http.Request, d *dashReq) {
	c, err := s.st.ComplianceAt(r.Context(), d.Now, "", "")
	if err != nil {
		s.internal(w, r, err)
		return
	}
	sortBy, dir := smallSort(r.URL.Query(), checkSorts)
	s.render(w, r, d, http.StatusOK, "checks", "Checks", checksPageData{
		At: d.Now, Table: checkCountsTable{ID: "checks", Rows: checkRows(c, sortBy, dir), Sort: sortLinks("/checks", url.Values{}, checkSorts, sortBy, dir)},
	})
}

// checkPageData is what check.html shows.
type checkPageData struct {
	Check       string
	Counts      store.CheckCount
	Failing     hostsTable
	Next        string // the next page of failing hosts
	First       string
	AllFailing  string // the hosts page filtered to this check
	Chart       lineChart
	History     transitionsTable
	NextHistory string
}

// checkHistoryRow is a transition of the check with its kind and its host's name.
type checkHistoryRow struct {
	store.CheckTransition
	Kind     string
	Hostname string
}

func (s *Server) checkPage(w http.ResponseWriter, r *http.Request, d *dashReq) {
	ctx := r.Context()
	check := r.PathValue("check")
	v := r.URL.Query()
	hq := store.CheckHistoryQuery{Check: check, Limit: checkHistoryPage + 1}
	if b := v.Get("before"); b != "" {
		var err error
		if hq.BeforeTime, hq.BeforeID, err = parseHistoryCursor(b); err != nil {
			s.dashError(w, r, d, http.StatusBadRequest, err.Error())
			return
		}
	}
	hist, err := s.st.CheckHistory(ctx, hq)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if !baseline.IsCheckID(check) && len(hist) == 0 && hq.BeforeID == 0 {
		// Unknown to this build and never reported by a host either.
		s.dashError(w, r, d, http.StatusNotFound, fmt.Sprintf("no check %q; the checks page lists them", check))
		return
	}
	data := checkPageData{Check: check, AllFailing: pathWith("/hosts", url.Values{"check": {check}})}

	c, err := s.st.ComplianceAt(ctx, d.Now, "", check)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	data.Counts = c.PerCheck[check]

	// The failing hosts: the hosts table's own listing, filtered to this check.
	q, err := parseHostsQuery(url.Values{"sort": {v.Get("sort")}, "dir": {v.Get("dir")}, "after": {v.Get("after")}, "key": {v.Get("key")}})
	if err != nil {
		s.dashError(w, r, d, http.StatusBadRequest, err.Error())
		return
	}
	q.Check = check
	self := "/checks/" + url.PathEscape(check)
	var last store.Host
	more, err := s.listHosts(ctx, q, hostsPageSize, func(h store.Host, v view) error {
		data.Failing.Hosts, last = append(data.Failing.Hosts, v.host), h
		return nil
	})
	if err != nil {
		s.internal(w, r, err)
		return
	}
	base := q.values() // sort and direction; the check is in the path
	base.Del("check")
	data.Failing.ID, data.Failing.Sort = "failing", sortLinks(self, url.Values{}, hostSorts, q.Sort, q.Dir)
	if q.After != "" {
		data.First = pathWith(self, base) + "#failing"
	}
	if more {
		base.Set("after", last.ID)
		if q.Sort != store.HostSortID {
			base.Set("key", store.HostSortKey(last, q.Sort))
		}
		data.Next = pathWith(self, base) + "#failing"
	}

	data.Chart, err = s.checkChart(ctx, d.Now, check, c)
	if err != nil {
		s.internal(w, r, err)
		return
	}

	if len(hist) > checkHistoryPage {
		hist = hist[:checkHistoryPage]
		nv := url.Values{"before": {historyCursor(hist[len(hist)-1])}}
		data.NextHistory = pathWith(self, nv) + "#history"
	}
	names := s.hostnames(ctx)
	data.History.ID = "check-history"
	for _, t := range hist {
		data.History.Rows = append(data.History.Rows, checkHistoryRow{CheckTransition: t, Kind: transitionKind(t.Transition), Hostname: names(t.HostID)})
	}
	s.render(w, r, d, http.StatusOK, "check", check, data)
}

// hostnames looks up host names for a page's rows, once per host; a host that cannot be read
// shows its ID.
func (s *Server) hostnames(ctx context.Context) func(id string) string {
	seen := map[string]string{}
	return func(id string) string {
		if n, ok := seen[id]; ok {
			return n
		}
		n := id
		if h, err := s.st.Host(ctx, id); err == nil && h.Hostname != "" {
			n = h.Hostname
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("dashboard: read a host's name", "host", id, "err", err)
		}
		seen[id] = n
		return n
	}
}

// checkChart is the check's failing and erring hosts at the start of each of the last 90 days
// and now.
func (s *Server) checkChart(ctx context.Context, now time.Time, check string, current store.Compliance) (lineChart, error) {
	series, err := s.chartSeries(ctx, now, check, current)
	if err != nil {
		return lineChart{}, err
	}
	ch := lineChart{ID: "fail-trend", Title: "Hosts failing " + check + " per day, last " + strconv.Itoa(chartDays) + " days", YLabel: "Hosts",
		Series: []chartSeries{{Name: "Failing", Color: "#cf222e", Area: true}, {Name: "Error", Color: "#9a6700"}}}
	for _, c := range series {
		ch.Times = append(ch.Times, c.At)
		cc := c.PerCheck[check]
		ch.Series[0].Values = append(ch.Series[0].Values, cc.Fail)
		ch.Series[1].Values = append(ch.Series[1].Values, cc.Error)
	}
	return ch, nil
}
