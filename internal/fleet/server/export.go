package server

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// exportColumns are mSCP's compliance CSV columns (rule, status, result, expected, exemption)
// with firewarden's managed, source and controls (separated by "; ", as control names hold
// spaces), then the host and the time of the status.
var exportColumns = []string{"rule", "status", "result", "expected", "exemption", "managed", "source", "controls", "host", "host_id", "time"}

// exportRow is one check's status on one host at a time.
type exportRow struct {
	Rule      string    `json:"rule"`
	Status    string    `json:"status"`
	Result    string    `json:"result"`
	Expected  string    `json:"expected"`
	Exemption string    `json:"exemption"`
	Managed   bool      `json:"managed"`
	Source    string    `json:"source"`
	Controls  []string  `json:"controls"`
	Host      string    `json:"host"`
	HostID    string    `json:"host_id"`
	Time      time.Time `json:"time"`
}

func (r exportRow) csv() []string {
	return []string{r.Rule, r.Status, r.Result, r.Expected, r.Exemption, strconv.FormatBool(r.Managed), r.Source,
		strings.Join(r.Controls, "; "), r.Host, r.HostID, r.Time.UTC().Format(time.RFC3339)}
}

// exportQuery is what an export answers: every host's status per check at an instant, or every
// status change in a range; optionally only for the hosts with Label, and only for those whose
// latest stored run used the policy or baseline named Baseline.
type exportQuery struct {
	Format   string // csv or json
	Range    bool
	At       time.Time // the instant, when not Range
	From, To time.Time // the range, when Range
	Label    string
	Baseline string
	// Limit, when > 0, stops after that many rows (the report page shows the first ones); it
	// is not a parameter: an export is always whole.
	Limit int
}

// parseExport reads an export's parameters (format=, at= or from= and to=, label=, baseline=);
// the API and the dashboard's report read them alike, so that the same query gives the same
// bytes. Mistakes are *badInput.
func (s *Server) parseExport(q url.Values) (exportQuery, error) {
	e := exportQuery{Format: q.Get("format"), Label: q.Get("label"), Baseline: q.Get("baseline")}
	if e.Format == "" {
		e.Format = "csv"
	}
	if e.Format != "csv" && e.Format != "json" {
		return e, &badInput{fmt.Sprintf("format: %q, want csv or json", e.Format)}
	}
	var err error
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"at", &e.At}, {"from", &e.From}, {"to", &e.To}} {
		if *p.t, err = parseTime(p.name, q.Get(p.name)); err != nil {
			return e, &badInput{err.Error()}
		}
	}
	e.Range = !e.From.IsZero() || !e.To.IsZero()
	switch {
	case e.Range && !e.At.IsZero():
		return e, &badInput{"give at= for an instant or from= and to= for a range, not both"}
	case !e.Range && e.At.IsZero():
		e.At = s.now().UTC()
	}
	if e.Range && e.To.IsZero() {
		e.To = s.now().UTC()
	}
	// Checked after To defaults to now, so that a from= in the future is refused too.
	if e.Range && !e.To.After(e.From) {
		return e, &badInput{"to must be after from"}
	}
	return e, nil
}

// parseTime reads the RFC 3339 time of parameter name; "" is the zero time.
func parseTime(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %q is not an RFC 3339 time such as 2026-12-01T00:00:00Z", name, v)
	}
	return t.UTC(), nil
}

// export answers an auditor: with at= (default now) every host's status per check as of that
// instant, answered from transitions; with from= and to= every status change in the range.
func (s *Server) export(w http.ResponseWriter, r *http.Request, _ store.Token) {
	q, err := s.parseExport(r.URL.Query())
	if err != nil {
		s.writeFail(w, r, err, "export")
		return
	}
	s.writeExport(w, r, q)
}

// writeExport answers q as CSV or JSON; the API's export and the dashboard's report.csv and
// report.json are this function.
func (s *Server) writeExport(w http.ResponseWriter, r *http.Request, q exportQuery) {
	rows, err := s.exportRows(r.Context(), q)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if q.Format == "json" {
		out := map[string]any{"columns": exportColumns, "rows": rows}
		if q.Range {
			out["from"], out["to"] = q.From, q.To
		} else {
			out["at"] = q.At
		}
		if q.Label != "" {
			out["label"] = q.Label
		}
		if q.Baseline != "" {
			out["baseline"] = q.Baseline
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	name := "firewarden-compliance-" + q.At.Format("20060102T150405Z") + ".csv"
	if q.Range {
		name = "firewarden-changes-" + q.From.Format("20060102T150405Z") + "-" + q.To.Format("20060102T150405Z") + ".csv"
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	cw := csv.NewWriter(w)
	_ = cw.Write(exportColumns)
	for _, row := range rows {
		_ = cw.Write(row.csv())
	}
	cw.Flush()
}

// exportRows are the rows answering q, host by host in ID order.
func (s *Server) exportRows(ctx context.Context, q exportQuery) ([]exportRow, error) {
	exAt := q.At
	if q.Range {
		exAt = q.To
	}
	exs, err := s.st.Exemptions(ctx, exAt)
	if err != nil {
		return nil, err
	}
	rows := []exportRow{}
	f := store.HostFilter{Limit: maxPage, Label: q.Label}
	if q.Limit > 0 {
		// A host gives a row per check: a few hosts fill a short answer.
		f.Limit = min(maxPage, q.Limit)
	}
	for {
		page, err := s.st.Hosts(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, h := range page {
			f.After = h.ID
			if !q.Range && h.EnrolledAt.After(q.At) {
				continue
			}
			hr, err := s.hostExportRows(ctx, h, exs, q)
			if err != nil {
				return nil, err
			}
			rows = append(rows, hr...)
			if q.Limit > 0 && len(rows) >= q.Limit {
				return rows[:q.Limit], nil
			}
		}
		if len(page) < f.Limit {
			return rows, nil
		}
	}
}

func (s *Server) hostExportRows(ctx context.Context, h store.Host, exs []store.Exemption, q exportQuery) ([]exportRow, error) {
	// The latest run names the policy and baseline the host runs; with a baseline asked for,
	// the other hosts are left out. It also holds the sources and controls (below).
	run, err := s.st.LatestRun(ctx, h.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if q.Baseline != "" && (err != nil || (run.Policy != q.Baseline && run.BaselineName != q.Baseline)) {
		return nil, nil
	}
	rangeMode, at, from, to := q.Range, q.At, q.From, q.To
	if !rangeMode {
		from, to = time.Time{}, at
	}
	ts, err := s.st.Transitions(ctx, h.ID, "", from, to)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].Time.Before(ts[j].Time) })
	if !rangeMode {
		// The last transition of each check up to the instant is its status then.
		last := map[string]store.Transition{}
		for _, t := range ts {
			last[t.Check] = t
		}
		ts = ts[:0]
		for _, t := range last {
			ts = append(ts, t)
		}
		sort.Slice(ts, func(i, j int) bool { return ts[i].Check < ts[j].Check })
	}
	if len(ts) == 0 {
		return nil, nil
	}
	// Expected values, sources and controls are not in transitions: take them from the current
	// results and the latest run, which hold the baseline the host runs now.
	expected := map[string]string{}
	cur, err := s.st.CurrentResults(ctx, h.ID)
	if err != nil {
		return nil, err
	}
	for _, c := range cur {
		expected[c.Check] = c.Expected
	}
	details := map[string]wire.Result{}
	// A run repeated since keeps its first run's results (store.StoredRun): the same verdicts,
	// so the same sources and controls.
	for _, res := range run.Results {
		details[res.Check] = res
	}
	out := make([]exportRow, 0, len(ts))
	for _, t := range ts {
		d := details[t.Check]
		exp := expected[t.Check]
		if exp == "" {
			exp = d.Expected
		}
		row := exportRow{Rule: t.Check, Status: t.To, Result: t.Actual, Expected: exp,
			Managed: t.To == wire.StatusManaged || d.Managed, Source: d.Source, Controls: nonNil(d.Controls),
			Host: h.Hostname, HostID: h.ID, Time: t.Time.UTC()}
		if e, ok := exemptionFor(exs, h, t.Check); ok {
			row.Exemption = fmt.Sprintf("%s (approved by %s, expires %s)", e.Reason, e.ApprovedBy, e.Expires.UTC().Format(time.RFC3339))
		}
		out = append(out, row)
	}
	return out, nil
}
