package server

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
	"github.com/firewarden/firewarden/internal/posture/baseline"
)

func init() {
	dashRouteSets = append(dashRouteSets, func(s *Server, mux *http.ServeMux) {
		mux.Handle("GET /hosts", s.dashPage(s.hostsPage))
		mux.Handle("GET /hosts.csv", s.dashPage(s.hostsCSV))
	})
}

// hostsPageSize is the hosts table's page: enough to scan, small enough to render at once.
const hostsPageSize = 50

// hostStatuses are the host statuses the hosts table filters by, as viewHost names them.
var hostStatuses = []string{HostCompliant, HostNonCompliant, HostStale, HostNoData, HostRevoked}

// hostSorts are the orders the store pages hosts in (HostFilter.Sort).
var hostSorts = []string{store.HostSortHostname, store.HostSortLastSeen, store.HostSortOSVersion, store.HostSortID}

// hostsQuery is the hosts table's filters, order and page, as the URL query carries them, so
// that every view is a link.
type hostsQuery struct {
	Q      string // hostname prefix
	Status string // a host status (hostStatuses)
	Check  string // a check the host fails now
	Label  string
	OS     string // OS version, exactly
	Stale  string // "", "true" or "false"
	Sort   string // hostSorts; hostname when not given
	Dir    string // asc or desc
	After  string // keyset: the ID and sort key of the previous page's last host
	Key    string
}

// parseHostsQuery reads and checks a hosts query; its errors are *badInput.
func parseHostsQuery(v url.Values) (hostsQuery, error) {
	q := hostsQuery{
		Q: strings.TrimSpace(v.Get("q")), Status: v.Get("status"), Check: v.Get("check"), Label: v.Get("label"),
		OS: v.Get("os"), Stale: v.Get("stale"), Sort: v.Get("sort"), Dir: v.Get("dir"), After: v.Get("after"), Key: v.Get("key"),
	}
	if q.Sort == "" {
		q.Sort = store.HostSortHostname
	}
	if q.Dir == "" {
		q.Dir = "asc"
	}
	switch {
	case q.Status != "" && !slices.Contains(hostStatuses, q.Status):
		return q, &badInput{fmt.Sprintf("status: unknown %q; a host is %s", q.Status, strings.Join(hostStatuses, ", "))}
	case q.Check != "" && !baseline.IsCheckID(q.Check):
		return q, &badInput{fmt.Sprintf("check: unknown %q; known checks: %s", q.Check, strings.Join(baseline.CheckIDs(), ", "))}
	case q.Stale != "" && q.Stale != "true" && q.Stale != "false":
		return q, &badInput{fmt.Sprintf("stale: %q, want true or false", q.Stale)}
	case !slices.Contains(hostSorts, q.Sort):
		return q, &badInput{fmt.Sprintf("sort: unknown %q; sort by %s", q.Sort, strings.Join(hostSorts, ", "))}
	case q.Dir != "asc" && q.Dir != "desc":
		return q, &badInput{fmt.Sprintf("dir: %q, want asc or desc", q.Dir)}
	}
	return q, nil
}

// values is the query as URL values, without the page and without empty fields.
func (q hostsQuery) values() url.Values {
	v := url.Values{}
	for k, x := range map[string]string{"q": q.Q, "status": q.Status, "check": q.Check, "label": q.Label, "os": q.OS, "stale": q.Stale} {
		if x != "" {
			v.Set(k, x)
		}
	}
	if q.Sort != store.HostSortHostname {
		v.Set("sort", q.Sort)
	}
	if q.Dir != "asc" {
		v.Set("dir", q.Dir)
	}
	return v
}

// pathWith is path with query v (no "?" when v is empty).
func pathWith(path string, v url.Values) string {
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// sortLink is a column header that sorts a table: by the column ascending, or reversed when
// the table is already sorted by it ascending. Aria is the header's aria-sort.
type sortLink struct {
	URL   string
	Aria  string // "ascending", "descending" or ""
	Arrow string
}

// sortLinks makes the header link of every column in cols for a table at path whose other
// query parameters are base, sorted by cur in direction dir, with the parameters sort and dir.
// Paging parameters are dropped: a new order starts at the first page.
func sortLinks(path string, base url.Values, cols []string, cur, dir string) map[string]sortLink {
	return tableSort{Sort: "sort", Dir: "dir", Cols: cols}.links(path, base, cur, dir)
}

// tableSort describes a table sorted by the server: the names of its query parameters (a page
// with several sortable tables gives each its own), its columns (the first is the default),
// the default column's direction ("asc" when empty; every other column starts ascending), and
// the anchor its header links open at.
type tableSort struct {
	Sort, Dir  string
	Cols       []string
	DefaultDir string
	Fragment   string
}

// dirFor is the direction col sorts in when the query does not say.
func (p tableSort) dirFor(col string) string {
	if col == p.Cols[0] && p.DefaultDir != "" {
		return p.DefaultDir
	}
	return "asc"
}

// read is the table's column and direction in v; unknown values take the defaults.
func (p tableSort) read(v url.Values) (string, string) {
	col, dir := v.Get(p.Sort), v.Get(p.Dir)
	if !slices.Contains(p.Cols, col) {
		col = p.Cols[0]
	}
	if dir != "asc" && dir != "desc" {
		dir = p.dirFor(col)
	}
	return col, dir
}

// links makes every column's header link: sorted by the column in its default direction, or
// the other way round when the table is already sorted by it. Other parameters of base stay,
// so that sorting one table keeps the others' order.
func (p tableSort) links(path string, base url.Values, cur, dir string) map[string]sortLink {
	out := make(map[string]sortLink, len(p.Cols))
	for _, c := range p.Cols {
		v := url.Values{}
		for k, x := range base {
			if k != p.Sort && k != p.Dir {
				v[k] = x
			}
		}
		v.Set(p.Sort, c)
		next := p.dirFor(c)
		l := sortLink{}
		if c == cur {
			if dir == "desc" {
				l.Aria, l.Arrow, next = "descending", " ▼", "asc"
			} else {
				l.Aria, l.Arrow, next = "ascending", " ▲", "desc"
			}
		}
		if next != p.dirFor(c) {
			v.Set(p.Dir, next)
		}
		l.URL = pathWith(path, v) + p.Fragment
		out[c] = l
	}
	return out
}

// hostFilter is the store's side of q: everything the store can select by, and a narrowing
// of the host status where one is sound. viewHost decides the status; the store only helps
// to read fewer hosts.
func (q hostsQuery) hostFilter(now time.Time, exemptions int) store.HostFilter {
	f := store.HostFilter{
		Search: q.Q, Label: q.Label, OSVersion: q.OS, Sort: q.Sort, Desc: q.Dir == "desc",
		After: q.After, AfterKey: q.Key, Now: now,
	}
	if q.Check != "" {
		f.Check, f.Status = q.Check, wire.StatusFail
	}
	if q.Stale != "" {
		b := q.Stale == "true"
		f.Stale = &b
	}
	notStale := false
	stale := true
	// A filter on staleness given with a status the store narrows by staleness too selects
	// nothing when they disagree: matches refuses every host then.
	switch q.Status {
	case HostNonCompliant:
		// A non-compliant host has a failing result (the posture says so before exemptions,
		// which may still excuse it) and is not stale.
		f.Posture, f.Stale = store.PostureNonCompliant, &notStale
	case HostNoData:
		f.Posture, f.Stale = store.PostureNone, &notStale
	case HostStale:
		f.Stale = &stale
	case HostCompliant:
		f.Stale = &notStale
		if exemptions == 0 {
			// Without exemptions nothing non-compliant can be excused into compliance.
			f.Posture = store.PostureCompliant
		}
	}
	return f
}

// matches reports whether a host's view passes the filters the store cannot apply.
func (q hostsQuery) matches(v view) bool {
	if q.Stale != "" && (v.host.Status == HostStale) != (q.Stale == "true") {
		return false
	}
	return q.Status == "" || v.host.Status == q.Status
}

// listHosts calls emit for the hosts of q in order, starting after q's keyset, until limit
// hosts were emitted (0: every host). It reads the store a page at a time and reports whether
// more hosts match after the last one emitted. The filters the store cannot apply (a host's
// status, which exemptions and staleness decide) are applied here, as the API's hosts
// handler does.
func (s *Server) listHosts(ctx context.Context, q hostsQuery, limit int, emit func(store.Host, view) error) (bool, error) {
	now := s.now().UTC()
	exs, err := s.st.Exemptions(ctx, now)
	if err != nil {
		return false, err
	}
	f := q.hostFilter(now, len(exs))
	f.Limit = 500
	if limit > 0 {
		f.Limit = limit + 1 // one more tells whether there is a next page
	}
	n := 0
	for {
		page, err := s.st.Hosts(ctx, f)
		if err != nil {
			return false, err
		}
		for _, h := range page {
			f.After, f.AfterKey = h.ID, store.HostSortKey(h, f.Sort)
			v, err := s.viewHost(ctx, h, exs)
			if err != nil {
				return false, err
			}
			if !q.matches(v) {
				continue
			}
			if limit > 0 && n == limit {
				return true, nil
			}
			if err := emit(h, v); err != nil {
				return false, err
			}
			n++
		}
		if len(page) < f.Limit {
			return false, nil
		}
	}
}

// hostsTable is a table of hosts (web/pages_a.html "hosts-table"): the hosts page's, and the
// check page's failing hosts.
type hostsTable struct {
	ID    string // the table element's id
	Hosts []hostJSON
	Sort  map[string]sortLink
}

// hostsPageData is what hosts.html shows.
type hostsPageData struct {
	Query    hostsQuery
	Table    hostsTable
	Next     string // the next page's URL; "" on the last page
	First    string // the first page's URL when this is a later one
	CSV      string
	Error    string
	Statuses []string
	Checks   []string
}

func (s *Server) hostsPage(w http.ResponseWriter, r *http.Request, d *dashReq) {
	q, err := parseHostsQuery(r.URL.Query())
	data := hostsPageData{Query: q, Statuses: hostStatuses, Checks: baseline.CheckIDs()}
	base := q.values()
	data.Table = hostsTable{ID: "hosts", Sort: sortLinks("/hosts", withoutSort(base), hostSorts, q.Sort, q.Dir)}
	data.CSV = pathWith("/hosts.csv", base)
	if err != nil {
		data.Error = err.Error()
		s.render(w, r, d, http.StatusBadRequest, "hosts", "Hosts", data)
		return
	}
	var last store.Host
	more, err := s.listHosts(r.Context(), q, hostsPageSize, func(h store.Host, v view) error {
		data.Table.Hosts, last = append(data.Table.Hosts, v.host), h
		return nil
	})
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if more {
		v := q.values()
		v.Set("after", last.ID)
		if q.Sort != store.HostSortID {
			v.Set("key", store.HostSortKey(last, q.Sort))
		}
		data.Next = pathWith("/hosts", v)
	}
	if q.After != "" {
		data.First = pathWith("/hosts", base)
	}
	s.render(w, r, d, http.StatusOK, "hosts", "Hosts", data)
}

// withoutSort is v without its sort and direction, for sortLinks to set.
func withoutSort(v url.Values) url.Values {
	out := url.Values{}
	for k, x := range v {
		if k != "sort" && k != "dir" {
			out[k] = x
		}
	}
	return out
}

// hostsCSVColumns are the columns of GET /hosts.csv: the hosts table's, and the rest of what
// the API says of a host.
var hostsCSVColumns = []string{"id", "hostname", "status", "failing", "os", "os_version", "agent_version", "labels", "last_seen", "stale_after", "enrolled_at"}

// hostsCSV streams every host of the hosts table's filters (all pages, in its order) as CSV.
func (s *Server) hostsCSV(w http.ResponseWriter, r *http.Request, d *dashReq) {
	q, err := parseHostsQuery(r.URL.Query())
	if err != nil {
		s.dashError(w, r, d, http.StatusBadRequest, err.Error())
		return
	}
	q.After, q.Key = "", ""
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="hosts.csv"`)
	cw, rc := csv.NewWriter(w), http.NewResponseController(w)
	_ = cw.Write(hostsCSVColumns)
	rows := 0
	_, err = s.listHosts(r.Context(), q, 0, func(_ store.Host, v view) error {
		h := v.host
		_ = cw.Write(csvSafe([]string{h.ID, h.Hostname, h.Status, strings.Join(h.Failing, "; "), h.OS, h.OSVersion, h.AgentVersion,
			strings.Join(h.Labels, "; "), csvTime(h.LastSeen), csvTime(h.StaleAfter), csvTime(h.EnrolledAt)}))
		if rows++; rows%500 == 0 {
			cw.Flush()
			// A large fleet takes longer than one request's write deadline: each flushed
			// page earns the stream another one, so only a stalled client is cut off.
			_ = rc.SetWriteDeadline(time.Now().Add(requestTimeout))
		}
		return cw.Error()
	})
	cw.Flush()
	if err != nil {
		// The status and some rows are sent already; the log says what broke.
		s.log.Error("hosts csv", "err", err, "rows", rows)
	}
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// csvSafe keeps a spreadsheet from running a cell as a formula: hosts name themselves, so a
// hostname such as "=HYPERLINK(…)" is the host's word, not the server's. Such cells get a
// leading apostrophe, which spreadsheets show as text and hide.
func csvSafe(row []string) []string {
	for i, c := range row {
		if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			row[i] = "'" + c
		}
	}
	return row
}
