package server

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

func init() {
	dashRouteSets = append(dashRouteSets, func(s *Server, mux *http.ServeMux) {
		mux.Handle("GET /{$}", s.dashPage(s.overviewPage))
	})
}

// overviewRecent is how many drift transitions and alerts the overview lists.
const overviewRecent = 10

// overviewPageData is what overview.html shows.
type overviewPageData struct {
	Now    store.Compliance
	Checks checkCountsTable
	Trend  lineChart
	Drift  transitionsTable
	Alerts []overviewAlert
}

// overviewAlert is an alert with its host's name.
type overviewAlert struct {
	store.StoredAlert
	Hostname string
}

// overviewPage is the landing page: fleet compliance now, per check, 90 days, newest drift
// and alerts.
func (s *Server) overviewPage(w http.ResponseWriter, r *http.Request, d *dashReq) {
	ctx := r.Context()
	c, err := s.st.ComplianceAt(ctx, d.Now, "", "")
	if err != nil {
		s.internal(w, r, err)
		return
	}
	sortBy, dir := smallSort(r.URL.Query(), checkSorts)
	data := overviewPageData{Now: c, Drift: transitionsTable{ID: "drift"},
		Checks: checkCountsTable{ID: "per-check", Rows: reported(checkRows(c, sortBy, dir)), Sort: sortLinks("/", url.Values{}, checkSorts, sortBy, dir)}}
	if data.Trend, err = s.fleetChart(ctx, d.Now, c); err != nil {
		s.internal(w, r, err)
		return
	}
	ids := make([]string, 0, len(data.Checks.Rows))
	for _, row := range data.Checks.Rows {
		ids = append(ids, row.Check)
	}
	names := s.hostnames(ctx)
	drift, err := s.recentDrift(ctx, ids, overviewRecent)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	for _, t := range drift {
		data.Drift.Rows = append(data.Drift.Rows, checkHistoryRow{CheckTransition: t, Kind: transitionKind(t.Transition), Hostname: names(t.HostID)})
	}
	// The newest alerts by ID (first seen), one short index range whatever the fleet's size;
	// shown by when they were last seen.
	as, err := s.st.AlertsPage(ctx, store.AlertQuery{Limit: overviewRecent})
	if err != nil {
		s.internal(w, r, err)
		return
	}
	newestAlertsFirst(as)
	for _, a := range as {
		data.Alerts = append(data.Alerts, overviewAlert{StoredAlert: a, Hostname: names(a.HostID)})
	}
	s.render(w, r, d, http.StatusOK, "overview", "Overview", data)
}

// driftScan is how many of each check's newest transitions recentDrift reads: first results
// (a new host's first report) are not drift and are skipped, so it reads more than it shows.
const driftScan = 25

// recentDrift is the newest n status changes of any check, first results left out: one page
// of each check's history (an index range each), merged.
func (s *Server) recentDrift(ctx context.Context, checks []string, n int) ([]store.CheckTransition, error) {
	var all []store.CheckTransition
	for _, c := range checks {
		ts, err := s.st.CheckHistory(ctx, store.CheckHistoryQuery{Check: c, Limit: driftScan})
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			if t.From != "" {
				all = append(all, t)
			}
		}
	}
	slices.SortFunc(all, func(a, b store.CheckTransition) int {
		return cmp.Or(b.Time.Compare(a.Time), cmp.Compare(b.ID, a.ID))
	})
	return all[:min(len(all), n)], nil
}

// chartSeries is compliance at the start (00:00 UTC) of each of the last chartDays days, then
// now, which the caller has already counted. Midnights are on the hour, where the stores answer
// from their hourly counts alone; an instant inside an hour costs a read of its transitions.
func (s *Server) chartSeries(ctx context.Context, now time.Time, check string, current store.Compliance) ([]store.Compliance, error) {
	today := now.UTC().Truncate(chartStep)
	series, err := s.st.ComplianceSeries(ctx, store.SeriesQuery{From: today.Add(-(chartDays - 1) * chartStep), To: today, Step: chartStep, Check: check})
	if err != nil {
		return nil, err
	}
	if now.After(today) {
		series = append(series, current)
	}
	return series, nil
}

// fleetChart is the fleet's hosts per status at the start of each of the last 90 days and now.
func (s *Server) fleetChart(ctx context.Context, now time.Time, current store.Compliance) (lineChart, error) {
	series, err := s.chartSeries(ctx, now, "", current)
	if err != nil {
		return lineChart{}, err
	}
	ch := lineChart{ID: "trend", Title: "Fleet compliance per day, last " + strconv.Itoa(chartDays) + " days", YLabel: "Hosts",
		Series: []chartSeries{
			{Name: "Compliant", Color: "#1a7f37", Area: true},
			{Name: "Non-compliant", Color: "#cf222e"},
			{Name: "Stale", Color: "#9a6700"},
			{Name: "No data", Color: "#6e7781"},
		}}
	for _, c := range series {
		ch.Times = append(ch.Times, c.At)
		for i, v := range []int{c.Compliant, c.NonCompliant, c.Stale, c.NoData} {
			ch.Series[i].Values = append(ch.Series[i].Values, v)
		}
	}
	return ch, nil
}

// reported keeps the checks some host has a result for: the overview is about this fleet, and a
// Mac fleet has no use for rows of zeros for the Linux checks (the checks page lists them all).
func reported(rows []checkRow) []checkRow {
	return slices.DeleteFunc(rows, func(r checkRow) bool { return r.CheckCount == (store.CheckCount{}) })
}
