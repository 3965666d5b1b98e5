package server

import (
	"bytes"
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

func init() {
	dashRouteSets = append(dashRouteSets, func(s *Server, mux *http.ServeMux) {
		mux.Handle("GET /report", s.dashPage(s.reportPage))
		mux.Handle("GET /report.csv", s.dashPage(s.reportExport("csv")))
		mux.Handle("GET /report.json", s.dashPage(s.reportExport("json")))
		mux.Handle("GET /report/print", s.dashPage(s.reportPrint))
	})
}

// reportPageRows is how many rows the report page shows; the downloads hold them all. Each
// host's rows cost a few store queries, so the page stays fast at any fleet size.
const reportPageRows = 100

type checkCountRow struct {
	Check string
	store.CheckCount
}

type reportData struct {
	Q      exportQuery
	Params url.Values // the question, as the query of the downloads
	Query  string     // Params encoded
	// CSV, JSON and Print link the downloads of the same question.
	CSV, JSON, Print string
	Question         string
	Compliance       store.Compliance
	PerCheck         []checkCountRow
	Rows             []exportRow
	Cols             []sortCol
	Truncated        bool
	Findings         []exportRow // rows not compliant, or excused by an exemption (print)
	Baselines        []string    // policy names, for the baseline field's suggestions
	Error            string
	Generated        time.Time
}

// reportParams keeps the parameters of a report that an export reads, so that the page's
// download links ask the export exactly the page's question.
func reportParams(q url.Values) url.Values {
	p := url.Values{}
	for _, k := range []string{"at", "from", "to", "label", "baseline"} {
		if v := strings.TrimSpace(q.Get(k)); v != "" {
			p.Set(k, v)
		}
	}
	return p
}

// reportQuestion says in words what a report answers.
func reportQuestion(q exportQuery) string {
	var b strings.Builder
	if q.Range {
		fmt.Fprintf(&b, "Which checks changed status between %s and %s", q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	} else {
		fmt.Fprintf(&b, "Were the hosts compliant at %s", q.At.Format(time.RFC3339))
	}
	switch {
	case q.Label != "" && q.Baseline != "":
		fmt.Fprintf(&b, ", on the hosts labelled %q running policy or baseline %q", q.Label, q.Baseline)
	case q.Label != "":
		fmt.Fprintf(&b, ", on the hosts labelled %q", q.Label)
	case q.Baseline != "":
		fmt.Fprintf(&b, ", on the hosts running policy or baseline %q", q.Baseline)
	default:
		b.WriteString(", on every host")
	}
	b.WriteString("?")
	return b.String()
}

// complianceReport answers the question of query q: the fleet's counts at the instant (the end of a
// range), per check, and the first limit export rows (0: all).
func (s *Server) complianceReport(r *http.Request, q url.Values, limit int) (reportData, error) {
	data := reportData{Params: reportParams(q)}
	data.Query = data.Params.Encode()
	data.CSV, data.JSON, data.Print = "/report.csv", "/report.json", "/report/print"
	if data.Query != "" {
		data.CSV, data.JSON, data.Print = data.CSV+"?"+data.Query, data.JSON+"?"+data.Query, data.Print+"?"+data.Query
	}
	eq, err := s.parseExport(data.Params)
	if err != nil {
		return data, err
	}
	data.Q, data.Question = eq, reportQuestion(eq)
	at := eq.At
	if eq.Range {
		at = eq.To
	}
	if data.Compliance, err = s.st.ComplianceAt(r.Context(), at, eq.Label, ""); err != nil {
		return data, err
	}
	for c, n := range data.Compliance.PerCheck {
		data.PerCheck = append(data.PerCheck, checkCountRow{c, n})
	}
	sort.Slice(data.PerCheck, func(i, j int) bool { return data.PerCheck[i].Check < data.PerCheck[j].Check })
	eq.Limit = limit
	if limit > 0 {
		eq.Limit = limit + 1 // one more tells that there are more
	}
	if data.Rows, err = s.exportRows(r.Context(), eq); err != nil {
		return data, err
	}
	if limit > 0 && len(data.Rows) > limit {
		data.Rows, data.Truncated = data.Rows[:limit], true
	}
	for _, row := range data.Rows {
		if !wire.Compliant(row.Status) || row.Exemption != "" {
			data.Findings = append(data.Findings, row)
		}
	}
	return data, nil
}

func (s *Server) reportPage(w http.ResponseWriter, r *http.Request, d *dashReq) {
	q := r.URL.Query()
	data, err := s.complianceReport(r, q, reportPageRows)
	code := http.StatusOK
	if err != nil {
		var msg string
		var ok bool
		if code, msg, ok = s.dashFailure(r, err, "report"); !ok {
			s.dashInternal(w, r, d, err)
			return
		}
		data.Error = msg
	}
	if ps, err := s.st.Policies(r.Context()); err == nil {
		for _, p := range ps {
			data.Baselines = append(data.Baselines, p.Name)
		}
	}
	sortKey, dir := sortParams(q, "host", "asc", "rule", "status", "host", "time")
	slices.SortStableFunc(data.Rows, func(a, b exportRow) int {
		var c int
		switch sortKey {
		case "rule":
			c = strings.Compare(a.Rule, b.Rule)
		case "status":
			c = strings.Compare(a.Status, b.Status)
		case "time":
			c = a.Time.Compare(b.Time)
		default:
			c = cmp.Or(strings.Compare(a.Host, b.Host), strings.Compare(a.HostID, b.HostID))
		}
		c = cmp.Or(c, strings.Compare(a.HostID, b.HostID), strings.Compare(a.Rule, b.Rule), a.Time.Compare(b.Time))
		if dir == "desc" {
			c = -c
		}
		return c
	})
	data.Cols = sortCols("/report", q, sortKey, dir, sortCol{Name: "Host", Key: "host"}, sortCol{Name: "Check", Key: "rule"},
		sortCol{Name: "Status", Key: "status"}, sortCol{Name: "Since", Key: "time"})
	s.render(w, r, d, code, "report", "Compliance report", data)
}

// reportExport is /report.csv and /report.json: the admin API's export, the same function over
// the same parameters, so that both give the same bytes.
func (s *Server) reportExport(format string) dashHandler {
	return func(w http.ResponseWriter, r *http.Request, d *dashReq) {
		p := reportParams(r.URL.Query())
		p.Set("format", format)
		q, err := s.parseExport(p)
		if err != nil {
			code, msg, _ := s.dashFailure(r, err, "report")
			s.dashError(w, r, d, code, msg)
			return
		}
		s.writeExport(w, r, q)
	}
}

// reportPrint is the report as a page to print or save as PDF: no navigation, the question,
// who asked it and when, the counts and every finding.
func (s *Server) reportPrint(w http.ResponseWriter, r *http.Request, d *dashReq) {
	data, err := s.complianceReport(r, r.URL.Query(), 0)
	if err != nil {
		code, msg, ok := s.dashFailure(r, err, "report")
		if !ok {
			s.dashInternal(w, r, d, err)
			return
		}
		s.dashError(w, r, d, code, msg)
		return
	}
	data.Generated = d.Now
	var buf bytes.Buffer
	if err := templates["report_print"].ExecuteTemplate(&buf, "print", pageData{d, "Compliance report", data}); err != nil {
		s.dashInternal(w, r, d, fmt.Errorf("render report_print: %w", err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}
