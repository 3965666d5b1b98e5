package server

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
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

// export answers an auditor: with at= (default now) every host's status per check as of that
// instant, answered from transitions; with from= and to= every status change in the range.
func (s *Server) export(w http.ResponseWriter, r *http.Request, _ store.Token) {
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "csv"
	}
	if format != "csv" && format != "json" {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("format: %q, want csv or json", format))
		return
	}
	at, err1 := timeParam(r, "at")
	from, err2 := timeParam(r, "from")
	to, err3 := timeParam(r, "to")
	for _, err := range []error{err1, err2, err3} {
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	rangeMode := !from.IsZero() || !to.IsZero()
	switch {
	case rangeMode && !at.IsZero():
		writeError(w, http.StatusBadRequest, "give at= for an instant or from= and to= for a range, not both")
		return
	case rangeMode && to.IsZero():
		to = s.now().UTC()
	case rangeMode && !to.After(from):
		writeError(w, http.StatusBadRequest, "to must be after from")
		return
	case !rangeMode && at.IsZero():
		at = s.now().UTC()
	}
	rows, err := s.exportRows(r.Context(), rangeMode, at, from, to)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if format == "json" {
		out := map[string]any{"columns": exportColumns, "rows": rows}
		if rangeMode {
			out["from"], out["to"] = from, to
		} else {
			out["at"] = at
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	name := "firewarden-compliance-" + at.Format("20060102T150405Z") + ".csv"
	if rangeMode {
		name = "firewarden-changes-" + from.Format("20060102T150405Z") + "-" + to.Format("20060102T150405Z") + ".csv"
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

func (s *Server) exportRows(ctx context.Context, rangeMode bool, at, from, to time.Time) ([]exportRow, error) {
	exAt := at
	if rangeMode {
		exAt = to
	}
	exs, err := s.st.Exemptions(ctx, exAt)
	if err != nil {
		return nil, err
	}
	rows := []exportRow{}
	f := store.HostFilter{Limit: maxPage}
	for {
		page, err := s.st.Hosts(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, h := range page {
			f.After = h.ID
			if !rangeMode && h.EnrolledAt.After(at) {
				continue
			}
			hr, err := s.hostExportRows(ctx, h, exs, rangeMode, at, from, to)
			if err != nil {
				return nil, err
			}
			rows = append(rows, hr...)
		}
		if len(page) < f.Limit {
			return rows, nil
		}
	}
}

func (s *Server) hostExportRows(ctx context.Context, h store.Host, exs []store.Exemption, rangeMode bool, at, from, to time.Time) ([]exportRow, error) {
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
	if run, err := s.st.LatestRun(ctx, h.ID); err == nil {
		for _, res := range run.Results {
			details[res.Check] = res
		}
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
