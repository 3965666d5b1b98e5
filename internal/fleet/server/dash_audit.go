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

// pageOf cuts n sorted rows into pages of size for the page= of q: the bounds of the page asked
// for (the last one when past it), its number, how many there are, and links to the pages
// before and after it with q's other parameters kept.
func pageOf(n, size int, path string, q url.Values) (lo, hi, page, pages int, prev, next string) {
	pages = max(1, (n+size-1)/size)
	page = 1
	if p, err := strconv.Atoi(q.Get("page")); err == nil && p >= 1 {
		page = min(p, pages)
	}
	link := func(p int) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set("page", strconv.Itoa(p))
		return path + "?" + v.Encode()
	}
	if page > 1 {
		prev = link(page - 1)
	}
	if page < pages {
		next = link(page + 1)
	}
	lo = (page - 1) * size
	return lo, min(lo+size, n), page, pages, prev, next
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
	var lo, hi int
	lo, hi, data.Page, data.Pages, data.PrevLink, data.NextLink = pageOf(len(rows), auditPageSize, "/audit", q)
	data.Rows = rows[lo:hi]
	data.Cols = sortCols("/audit", q, "time", dir, sortCol{Name: "Time", Key: "time"})
	s.render(w, r, d, code, "audit", "Audit log", data)
}
