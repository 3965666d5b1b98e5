package server

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

func init() {
	dashRouteSets = append(dashRouteSets, func(s *Server, mux *http.ServeMux) {
		mux.Handle("GET /audit", s.dashPage(s.auditPage))
	})
}

// auditPageSize is how many entries one page of the audit log shows.
const auditPageSize = 100

type auditData struct {
	Rows                 []store.Audit
	Cols                 []sortCol
	Since, Actor, Action string
	Page, Pages, Total   int
	PrevLink, NextLink   string
	Error                string
}

// auditPage is the audit log, newest first (or oldest with dir=asc), filtered by since= (RFC
// 3339), actor= (exact) and action= (a prefix: "exemption." is every exemption change), 100
// entries a page. AuditLog gives every entry from since on, so the page is cut here.
func (s *Server) auditPage(w http.ResponseWriter, r *http.Request, d *dashReq) {
	q := r.URL.Query()
	data := auditData{Since: q.Get("since"), Actor: q.Get("actor"), Action: q.Get("action")}
	code := http.StatusOK
	since, err := parseTime("since", data.Since)
	if err != nil {
		code, data.Error = http.StatusBadRequest, err.Error()
	}
	var rows []store.Audit
	if err == nil {
		all, err := s.st.AuditLog(r.Context(), since)
		if err != nil {
			s.dashInternal(w, r, d, err)
			return
		}
		for _, a := range all {
			if (data.Actor == "" || a.Actor == data.Actor) && strings.HasPrefix(a.Action, data.Action) {
				rows = append(rows, a)
			}
		}
	}
	_, dir := sortParams(q, "time", "desc", "time")
	slices.SortStableFunc(rows, func(a, b store.Audit) int {
		c := a.Time.Compare(b.Time)
		if c == 0 {
			c = int(a.ID - b.ID)
		}
		if dir == "desc" {
			c = -c
		}
		return c
	})
	data.Total = len(rows)
	data.Pages = max(1, (len(rows)+auditPageSize-1)/auditPageSize)
	data.Page = 1
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n >= 1 {
		data.Page = min(n, data.Pages)
	}
	lo := (data.Page - 1) * auditPageSize
	data.Rows = rows[lo:min(lo+auditPageSize, len(rows))]
	link := func(page int) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set("page", strconv.Itoa(page))
		return "/audit?" + v.Encode()
	}
	if data.Page > 1 {
		data.PrevLink = link(data.Page - 1)
	}
	if data.Page < data.Pages {
		data.NextLink = link(data.Page + 1)
	}
	data.Cols = sortCols("/audit", q, "time", dir, sortCol{Name: "Time", Key: "time"})
	s.render(w, r, d, code, "audit", "Audit log", data)
}
