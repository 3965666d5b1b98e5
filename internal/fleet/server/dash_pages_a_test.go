package server

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
	"github.com/google/go-cmp/cmp"
)

// The -update flag may already be defined by another test file of this package; define it
// only when it is not.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files")
	}
}

func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// seedHost is a host put straight into the fake store: results from one run at lastSeen
// (none when statuses is nil), so that its status is known without the agent API.
type seedHost struct {
	id, name, osVersion string
	labels              []string
	statuses            map[string]string // check → status for runRecord; nil: no run
	lastSeen            time.Time         // zero: t0
	revoked             bool
}

func (d *dashFixture) seed(t *testing.T, hosts ...seedHost) {
	t.Helper()
	ctx := context.Background()
	for _, s := range hosts {
		seen := s.lastSeen
		if seen.IsZero() {
			seen = t0
		}
		h := store.Host{ID: s.id, UUID: "uuid-" + s.id, Hostname: s.name, OS: "macOS", OSVersion: s.osVersion, Labels: s.labels,
			EnrolledAt: seen.Add(-time.Hour), LastSeen: seen}
		if _, err := d.st.EnrollHost(ctx, h, []byte("cred-"+s.id)); err != nil {
			t.Fatal(err)
		}
		if s.statuses != nil {
			rec := runRecord(1, seen, s.statuses)
			rec.Run.RunID = "run-" + s.id
			if _, err := d.st.Ingest(ctx, s.id, batch(rec), seen); err != nil {
				t.Fatal(err)
			}
		}
		if s.revoked {
			if err := d.st.RevokeHost(ctx, s.id, "test", seen); err != nil {
				t.Fatal(err)
			}
		}
	}
}

var (
	fail  = map[string]string{"alf.stealth": wire.StatusFail}
	allOK = map[string]string{}
)

// smallFleet is one host of every status: compliant, non-compliant, stale, no data, revoked,
// and one whose failure an exemption excuses.
func smallFleet(t *testing.T, d *dashFixture) {
	t.Helper()
	d.seed(t,
		seedHost{id: "h1", name: "alpha", osVersion: "15.1", labels: []string{"office"}, statuses: allOK},
		seedHost{id: "h2", name: "bravo", osVersion: "15.1", statuses: fail},
		seedHost{id: "h3", name: "charlie", osVersion: "14.7", statuses: allOK, lastSeen: t0.Add(-4 * time.Hour)},
		seedHost{id: "h4", name: "delta", osVersion: "15.2"},
		seedHost{id: "h5", name: "echo", osVersion: "15.1", statuses: allOK, revoked: true},
		seedHost{id: "h6", name: "foxtrot", osVersion: "15.2", labels: []string{"kiosk"}, statuses: fail},
	)
	if err := d.st.AddExemption(context.Background(), store.Exemption{ID: "ex-1", Label: "kiosk", Check: "alf.stealth", Reason: "kiosks hide nothing",
		RequestedBy: "ada", ApprovedBy: "ada", ApprovedAt: t0.Add(-time.Hour), CreatedAt: t0.Add(-time.Hour), Expires: t0.Add(24 * time.Hour)}, "ada"); err != nil {
		t.Fatal(err)
	}
}

var (
	reHostRow  = regexp.MustCompile(`<tr data-host="([^"]+)">`)
	reNext     = regexp.MustCompile(`<a class="next" href="([^"]+)"`)
	reHostStat = regexp.MustCompile(`(?s)<tr data-host="([^"]+)">.*?<td class="status status-([a-z_]+)">`)
)

// hostRows is the host IDs of a page's hosts table, in order.
func hostRows(body string) []string {
	var out []string
	for _, m := range reHostRow.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

func nextLink(body string) string {
	if m := reNext.FindStringSubmatch(body); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

// idText is the text of the element with id, when it has no markup inside.
func idText(body, id string) string {
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*>([^<]*)<`).FindStringSubmatch(body)
	if m == nil {
		return "(missing)"
	}
	return m[1]
}

func TestDashPagesAsEveryRole(t *testing.T) {
	d := newDashFixture(t)
	smallFleet(t, d)
	tests := []struct {
		path string
		want []string // present in the body
	}{
		{"/", []string{`id="summary"`, `id="per-check"`, `<tr data-check="alf.stealth">`, `<svg id="trend"`, `id="recent-alerts"`, `id="recent-drift"`}},
		{"/hosts", []string{`<table id="hosts"`, `<tr data-host="h1">`, `id="hosts-csv"`}},
		{"/hosts/h2", []string{`<table id="results"`, `<tr data-check="alf.stealth">`, `id="evidence"`, `id="timeline"`, `id="host-alerts"`, `id="bans"`, `id="last-seen"`, `id="last-run" data-run="run-h2"`, `id="nudge-status"`}},
		{"/checks", []string{`<table id="checks"`, `<tr data-check="alf.enabled">`}},
		{"/checks/alf.stealth", []string{`<table id="failing"`, `<tr data-host="h2">`, `<svg id="fail-trend"`, `<table id="check-history"`}},
	}
	for _, tt := range tests {
		for _, user := range []string{"ada", "aude"} {
			t.Run(user+tt.path, func(t *testing.T) {
				code, body := d.get(t, tt.path, user)
				if code != http.StatusOK {
					t.Fatalf("GET %s as %s = %d, want 200; body:\n%s", tt.path, user, code, body)
				}
				for _, w := range tt.want {
					if !strings.Contains(body, w) {
						t.Errorf("GET %s as %s: no %s in the page", tt.path, user, w)
					}
				}
				// The strict CSP refuses inline styles and handlers; the browser test finds
				// elements by id, so ids are unique.
				if m := regexp.MustCompile(`<[^>]* (style|on[a-z]+)=`).FindString(body); m != "" {
					t.Errorf("GET %s has an inline %s attribute", tt.path, m)
				}
				seen := map[string]bool{}
				for _, m := range regexp.MustCompile(` id="([^"]+)"`).FindAllStringSubmatch(body, -1) {
					if seen[m[1]] {
						t.Errorf("GET %s holds id %q twice", tt.path, m[1])
					}
					seen[m[1]] = true
				}
				// Write forms only for admins; the handlers refuse auditors anyway.
				if got, want := strings.Contains(body, `id="check-now"`), user == "ada" && tt.path == "/hosts/h2"; got != want {
					t.Errorf("GET %s as %s: check-now form shown = %v, want %v", tt.path, user, got, want)
				}
			})
		}
		t.Run("logged out"+tt.path, func(t *testing.T) {
			code, loc, _ := d.request(t, http.MethodGet, tt.path, "", nil)
			if want := "/login?next=" + url.QueryEscape(tt.path); code != http.StatusSeeOther || loc != want {
				t.Errorf("GET %s logged out = %d %q, want 303 to %q", tt.path, code, loc, want)
			}
		})
	}
	for _, p := range []string{"/hosts.csv", "/hosts/h2/state"} {
		if code, loc, _ := d.request(t, http.MethodGet, p, "", nil); code != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") {
			t.Errorf("GET %s logged out = %d %q, want 303 to /login", p, code, loc)
		}
	}
}

func TestDashNotFound(t *testing.T) {
	d := newDashFixture(t)
	smallFleet(t, d)
	for _, p := range []string{"/hosts/nope", "/checks/nope.nope"} {
		if code, body := d.get(t, p, "aude"); code != http.StatusNotFound || !strings.Contains(body, `class="error" role="alert"`) {
			t.Errorf("GET %s = %d, want 404 with the error shown; body:\n%s", p, code, body)
		}
	}
	for _, p := range []string{"/hosts?status=sleepy", "/hosts?sort=color", "/hosts?dir=up", "/hosts?check=nope", "/hosts?stale=maybe"} {
		code, body := d.get(t, p, "aude")
		if code != http.StatusBadRequest || !strings.Contains(body, `<p class="error" role="alert">`) {
			t.Errorf("GET %s = %d, want 400 with the error beside the form", p, code)
		}
	}
}

func TestDashOverviewNumbers(t *testing.T) {
	d := newDashFixture(t)
	smallFleet(t, d)
	ctx := context.Background()
	// An alert, and a drift on h1 an hour later: the newest drift is h1's, the first results
	// (every host's first run) are not drift.
	if _, err := d.st.Ingest(ctx, "h1", batch(wire.Record{Seq: 2, Kind: wire.KindAlert, Time: t0, Alert: &wire.Alert{Rule: "alf_disabled", Severity: "high",
		User: "mallory", Process: "/usr/bin/defaults", Count: 3, LastSeen: t0}}), t0); err != nil {
		t.Fatal(err)
	}
	rec := runRecord(3, t0.Add(time.Minute), map[string]string{"alf.enabled": wire.StatusFail})
	if _, err := d.st.Ingest(ctx, "h1", batch(rec), t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	d.clock.add(2 * time.Minute)
	_, body := d.get(t, "/", "aude")
	// The fake's ComplianceAt counts postures before exemptions and the revoked host as
	// compliant-but-stale is not: what matters is that the page shows the store's numbers.
	c, err := d.st.ComplianceAt(ctx, d.clock.now().UTC(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]int{"n-compliant": c.Compliant, "n-noncompliant": c.NonCompliant, "n-stale": c.Stale, "n-nodata": c.NoData} {
		if got := idText(body, id); got != fmt.Sprint(want) {
			t.Errorf("overview #%s = %q, want %d", id, got, want)
		}
	}
	if c.NonCompliant == 0 || c.NoData == 0 || c.Stale == 0 {
		t.Fatalf("fixture: compliance %+v lacks a status; the test would prove little", c)
	}
	fails := regexp.MustCompile(`(?s)<tr data-check="alf.stealth">.*?<td class="num fail(?: zero)?">(?:<a[^>]*>)?(\d+)`).FindStringSubmatch(body)
	if fails == nil || fails[1] != fmt.Sprint(c.PerCheck["alf.stealth"].Fail) {
		t.Errorf("per-check fail count of alf.stealth = %v, want %d", fails, c.PerCheck["alf.stealth"].Fail)
	}
	drift := section(body, `id="recent-drift"`)
	if got := regexp.MustCompile(`<tr data-host="([^"]+)" data-check="([^"]+)"`).FindAllStringSubmatch(drift, -1); len(got) != 1 || got[0][1] != "h1" || got[0][2] != "alf.enabled" {
		t.Errorf("recent drift rows = %v, want h1's alf.enabled only (first results are not drift)", got)
	}
	if alerts := section(body, `id="recent-alerts"`); !strings.Contains(alerts, "alf_disabled") || !strings.Contains(alerts, ">alpha<") {
		t.Errorf("recent alerts lack the alert with its host's name:\n%s", alerts)
	}
	// The chart has 91 daily points per series and names its numbers.
	if n := strings.Count(section(body, `<svg id="trend"`), ","); n < 4*91 {
		t.Errorf("trend chart has %d coordinates, want 91 per series", n)
	}
}

// section is body from the first occurrence of marker to the next </section> or </svg>.
func section(body, marker string) string {
	i := strings.Index(body, marker)
	if i < 0 {
		return ""
	}
	rest := body[i:]
	end := len(rest)
	for _, e := range []string{"</section>", "</svg>"} {
		if j := strings.Index(rest, e); j >= 0 && j < end {
			end = j
		}
	}
	return rest[:end]
}

func TestDashHostsFilters(t *testing.T) {
	d := newDashFixture(t)
	smallFleet(t, d)
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"h1", "h2", "h3", "h4", "h5", "h6"}},
		{"?status=compliant", []string{"h1", "h6"}}, // h6's failure is excused by the kiosk exemption
		{"?status=non_compliant", []string{"h2"}},
		{"?status=stale", []string{"h3"}},
		{"?status=no_data", []string{"h4"}},
		{"?status=revoked", []string{"h5"}},
		{"?check=alf.stealth", []string{"h2", "h6"}},
		{"?label=office", []string{"h1"}},
		{"?os=15.2", []string{"h4", "h6"}},
		{"?q=CH", []string{"h3"}},
		{"?stale=true", []string{"h3"}},
		{"?stale=false", []string{"h1", "h2", "h4", "h5", "h6"}},
		{"?stale=true&status=compliant", nil},
		{"?status=non_compliant&stale=true", nil},
		{"?sort=hostname&dir=desc", []string{"h6", "h5", "h4", "h3", "h2", "h1"}},
		{"?sort=os_version", []string{"h3", "h1", "h2", "h5", "h4", "h6"}},
		{"?sort=last_seen&dir=desc", []string{"h6", "h5", "h4", "h2", "h1", "h3"}}, // h3 is seen last; the rest tie, by ID
		{"?sort=id&dir=desc&os=15.1", []string{"h5", "h2", "h1"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			code, body := d.get(t, "/hosts"+tt.query, "aude")
			if code != http.StatusOK {
				t.Fatalf("GET /hosts%s = %d", tt.query, code)
			}
			if diff := cmp.Diff(tt.want, hostRows(body)); diff != "" {
				t.Errorf("GET /hosts%s rows (-want +got):\n%s", tt.query, diff)
			}
		})
	}
	// Status cells are viewHost's statuses.
	_, body := d.get(t, "/hosts", "aude")
	got := map[string]string{}
	for _, m := range reHostStat.FindAllStringSubmatch(body, -1) {
		got[m[1]] = m[2]
	}
	want := map[string]string{"h1": HostCompliant, "h2": HostNonCompliant, "h3": HostStale, "h4": HostNoData, "h5": HostRevoked, "h6": HostCompliant}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("hosts statuses (-want +got):\n%s", diff)
	}
}

// manyHosts seeds n hosts whose names, OS versions and last-seen times sort differently from
// their IDs, and returns them.
func manyHosts(t *testing.T, d *dashFixture, n int) []store.Host {
	t.Helper()
	var seeds []seedHost
	for i := range n {
		s := seedHost{id: fmt.Sprintf("h%03d", i), name: fmt.Sprintf("Mac-%03d", (i*37)%n), osVersion: fmt.Sprintf("15.%d", i%4),
			lastSeen: t0.Add(-time.Duration((i*53)%n) * time.Minute), statuses: allOK}
		if i%3 == 0 {
			s.statuses = fail
		}
		seeds = append(seeds, s)
	}
	d.seed(t, seeds...)
	hs, err := d.st.Hosts(context.Background(), store.HostFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return hs
}

// walk follows a.next from path and returns every row of every page and the page count.
func walk(t *testing.T, d *dashFixture, path string) ([]string, int) {
	t.Helper()
	var rows []string
	pages := 0
	for path != "" {
		code, body := d.get(t, path, "aude")
		if code != http.StatusOK {
			t.Fatalf("GET %s = %d", path, code)
		}
		rows = append(rows, hostRows(body)...)
		pages++
		if pages > 10 {
			t.Fatalf("more than 10 pages from %s", path)
		}
		path = nextLink(body)
	}
	return rows, pages
}

func TestDashHostsPaging(t *testing.T) {
	d := newDashFixture(t)
	hosts := manyHosts(t, d, 120)
	ids := func(keep func(store.Host) bool, less func(a, b store.Host) int) []string {
		hs := slices.Clone(hosts)
		slices.SortFunc(hs, func(a, b store.Host) int {
			if c := less(a, b); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		var out []string
		for _, h := range hs {
			if keep(h) {
				out = append(out, h.ID)
			}
		}
		return out
	}
	all := func(store.Host) bool { return true }
	byName := func(a, b store.Host) int {
		return strings.Compare(strings.ToLower(a.Hostname), strings.ToLower(b.Hostname))
	}
	bySeen := func(a, b store.Host) int { return a.LastSeen.Compare(b.LastSeen) }
	byOS := func(a, b store.Host) int { return strings.Compare(a.OSVersion, b.OSVersion) }
	reversed := func(s []string) []string { s = slices.Clone(s); slices.Reverse(s); return s }
	failing := func(h store.Host) bool { n := 0; fmt.Sscanf(h.ID, "h%d", &n); return n%3 == 0 }
	tests := []struct {
		path  string
		want  []string
		pages int
	}{
		{"/hosts", ids(all, byName), 3},
		{"/hosts?sort=last_seen", ids(all, bySeen), 3},
		{"/hosts?sort=last_seen&dir=desc", reversed(ids(all, bySeen)), 3},
		{"/hosts?sort=os_version", ids(all, byOS), 3},
		{"/hosts?sort=id&dir=desc", reversed(ids(all, func(a, b store.Host) int { return 0 })), 3},
		{"/hosts?status=non_compliant&sort=hostname&dir=desc", reversed(ids(failing, byName)), 1},
		{"/hosts?status=compliant", ids(func(h store.Host) bool { return !failing(h) }, byName), 2},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			rows, pages := walk(t, d, tt.path)
			if diff := cmp.Diff(tt.want, rows); diff != "" {
				t.Errorf("rows across pages of %s (-want +got):\n%s", tt.path, diff)
			}
			if pages != tt.pages {
				t.Errorf("pages of %s = %d, want %d", tt.path, pages, tt.pages)
			}
		})
	}
	// A page ends where it says: 50 rows, then the rest.
	_, body := d.get(t, "/hosts", "aude")
	if n := len(hostRows(body)); n != hostsPageSize {
		t.Errorf("first page has %d rows, want %d", n, hostsPageSize)
	}
	// Sort links drop the page and turn the current order around.
	_, body = d.get(t, "/hosts?sort=last_seen&after=h001&key=x&label=", "aude")
	if !strings.Contains(body, `href="/hosts?dir=desc&amp;sort=last_seen"`) || !strings.Contains(body, `aria-sort="ascending"`) {
		t.Errorf("the last-seen header does not reverse the order; page:\n%s", section(body, "<thead>"))
	}
}

func TestDashHostsCSVEqualsView(t *testing.T) {
	d := newDashFixture(t)
	hosts := manyHosts(t, d, 120)
	byID := map[string]store.Host{}
	for _, h := range hosts {
		byID[h.ID] = h
	}
	for _, q := range []string{"", "?sort=last_seen&dir=desc", "?status=non_compliant", "?os=15.1&sort=os_version", "?q=mac-00"} {
		t.Run(q, func(t *testing.T) {
			rows, _ := walk(t, d, "/hosts"+q)
			_, body := d.get(t, "/hosts"+q, "aude")
			wantLink := `id="hosts-csv" href="` + html.EscapeString(strings.Replace("/hosts.csv"+q, "?sort=last_seen&dir=desc", "?dir=desc&sort=last_seen", 1)) + `"`
			if q != "?os=15.1&sort=os_version" && !strings.Contains(body, wantLink) {
				t.Errorf("page has no %s", wantLink)
			}
			code, csvBody := d.get(t, "/hosts.csv"+q, "aude")
			if code != http.StatusOK {
				t.Fatalf("GET /hosts.csv%s = %d", q, code)
			}
			recs, err := csv.NewReader(strings.NewReader(csvBody)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(hostsCSVColumns, recs[0]); diff != "" {
				t.Errorf("CSV header (-want +got):\n%s", diff)
			}
			var got []string
			for _, r := range recs[1:] {
				got = append(got, r[0])
				if h := byID[r[0]]; r[1] != h.Hostname || r[5] != h.OSVersion || r[8] != h.LastSeen.UTC().Format(time.RFC3339) {
					t.Errorf("CSV row %v does not describe host %+v", r, h)
				}
			}
			if diff := cmp.Diff(rows, got); diff != "" {
				t.Errorf("CSV ids differ from the pages' rows (-pages +csv):\n%s", diff)
			}
		})
	}
}

func TestCSVSafe(t *testing.T) {
	tests := []struct{ in, want string }{
		{"mac-1", "mac-1"}, {"=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"}, {"+1", "'+1"}, {"-1", "'-1"}, {"@a", "'@a"}, {"", ""},
	}
	for _, tt := range tests {
		if got := csvSafe([]string{tt.in})[0]; got != tt.want {
			t.Errorf("csvSafe(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDashHostPage(t *testing.T) {
	d := newDashFixture(t)
	smallFleet(t, d)
	ctx := context.Background()
	run := runRecord(2, t0.Add(time.Minute), fail)
	run.Run.RunID = "run-2"
	run.Run.Results[1].Evidence = []wire.Evidence{{Kind: "exec", Argv: []string{"/usr/libexec/ApplicationFirewall/socketfilterfw", "--getstealthmode"},
		ExitCode: 0, Output: "Firewall stealth mode is off", SHA256: "ab12cd"}}
	run.Run.Results[1].Detail = "stealth mode is off"
	fix := runRecord(3, t0.Add(2*time.Minute), nil)
	fix.Run.RunID = "run-3"
	for _, r := range []wire.Record{runRecord(1, t0, nil), run} {
		if _, err := d.st.Ingest(ctx, "h1", batch(r), r.Time); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.st.Ingest(ctx, "h1", batch(wire.Record{Seq: 4, Kind: wire.KindAlert, Time: t0, Alert: &wire.Alert{Rule: "pfctl_disable", Severity: "high",
		Parent: "/bin/zsh", CommandLine: "pfctl -d", LastSeen: t0}}), t0); err != nil {
		t.Fatal(err)
	}
	d.clock.add(3 * time.Minute)
	code, body := d.get(t, "/hosts/h1", "aude")
	if code != http.StatusOK {
		t.Fatalf("GET /hosts/h1 = %d", code)
	}
	for _, w := range []string{
		`id="last-run" data-run="run-2"`,
		`<td class="status status-fail">fail</td>`,
		`/usr/libexec/ApplicationFirewall/socketfilterfw --getstealthmode`,
		`<dd class="exit-code">0</dd>`, `Firewall stealth mode is off`, `<code class="hash">ab12cd</code>`, "stealth mode is off",
		"CIS 2.2.1; NIST SC-7", "socketfilterfw", "pfctl -d", "/bin/zsh",
		"reported no bans",
		"exemption created", // the office label has none, but h1's timeline shows only its own
	} {
		if w == "exemption created" {
			if strings.Contains(body, w) {
				t.Errorf("h1's timeline shows an exemption of another label")
			}
			continue
		}
		if !strings.Contains(body, w) {
			t.Errorf("host page has no %q", w)
		}
	}
	// The timeline: newest first, with the drift's kind.
	tl := section(body, `id="timeline"`)
	kinds := regexp.MustCompile(`<td>(first result|drift|fix|revert|change)</td>`).FindAllStringSubmatch(tl, -1)
	var got []string
	for _, k := range kinds {
		got = append(got, k[1])
	}
	if diff := cmp.Diff([]string{"drift", "first result", "first result"}, got); diff != "" {
		t.Errorf("timeline kinds (-want +got):\n%s", diff)
	}
	// h6's timeline shows its label's exemption.
	_, body = d.get(t, "/hosts/h6", "aude")
	if tl := section(body, `id="timeline"`); !strings.Contains(tl, "exemption created") || !strings.Contains(tl, "ex-1") {
		t.Errorf("h6's timeline lacks the kiosk exemption:\n%s", tl)
	}
	if !strings.Contains(body, `<a href="/exemptions#ex-1">ex-1</a>`) {
		t.Errorf("h6's results do not name the exemption that excuses alf.stealth")
	}
}

func TestDashHostBans(t *testing.T) {
	d := newDashFixture(t)
	smallFleet(t, d)
	// Two summaries from h1: the newer (higher seq) is shown, whatever their order of arrival.
	for _, r := range []wire.Record{
		{Seq: 3, Kind: wire.KindBans, Time: t0.Add(2 * time.Minute), Bans: &wire.Bans{Active: 7, Added: 2, Top: []string{"203.0.113.9"}}},
		{Seq: 2, Kind: wire.KindBans, Time: t0.Add(time.Minute), Bans: &wire.Bans{Active: 1}},
	} {
		if _, err := d.st.Ingest(context.Background(), "h1", batch(r), t0.Add(3*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		host string
		want []string
	}{
		{"h1", []string{`<dd class="num" id="bans-active">7</dd>`, "203.0.113.9"}},
		{"h2", []string{"reported no bans"}},
	}
	for _, tt := range tests {
		_, body := d.get(t, "/hosts/"+tt.host, "aude")
		for _, w := range tt.want {
			if b := section(body, `id="bans"`); !strings.Contains(b, w) {
				t.Errorf("bans of %s lack %q:\n%s", tt.host, w, b)
			}
		}
	}
}

func TestDashHostState(t *testing.T) {
	d := newDashFixture(t)
	smallFleet(t, d)
	tests := []struct {
		host string
		want hostStateJSON
	}{
		{"h2", hostStateJSON{LastRun: t0.Format(time.RFC3339), RunID: "run-h2", Status: HostNonCompliant, LastSeen: t0.Format(time.RFC3339),
			Results: map[string]string{"alf.enabled": "pass", "alf.stealth": "fail"}}},
		{"h4", hostStateJSON{Status: HostNoData, LastSeen: t0.Format(time.RFC3339), Results: map[string]string{}}},
	}
	for _, tt := range tests {
		code, body := d.get(t, "/hosts/"+tt.host+"/state", "aude")
		if code != http.StatusOK {
			t.Fatalf("GET state of %s = %d %s", tt.host, code, body)
		}
		if diff := cmp.Diff(tt.want, decode[hostStateJSON](t, []byte(body))); diff != "" {
			t.Errorf("state of %s (-want +got):\n%s", tt.host, diff)
		}
	}
	// A repeated run moves run_id: what the poller waits for.
	rec := runRecord(2, t0.Add(time.Minute), fail)
	rec.Run.RunID = "run-again"
	if _, err := d.st.Ingest(context.Background(), "h2", batch(rec), t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	_, body := d.get(t, "/hosts/h2/state", "aude")
	if got := decode[hostStateJSON](t, []byte(body)); got.RunID != "run-again" || got.LastRun != t0.Add(time.Minute).Format(time.RFC3339) {
		t.Errorf("state after a repeated run = %+v, want run-again at t0+1m", got)
	}
	if code, _ := d.get(t, "/hosts/nope/state", "aude"); code != http.StatusNotFound {
		t.Errorf("state of an unknown host = %d, want 404", code)
	}
}

func TestDashNudge(t *testing.T) {
	d := newDashFixture(t)
	h := d.enroll(t, "u-n")
	stream := d.openNudges(t, h.Credential)
	path := "/hosts/" + h.HostID + "/nudge"
	audits := func() int { d.st.mu.Lock(); defer d.st.mu.Unlock(); return len(d.st.audit) }

	t.Run("refused", func(t *testing.T) {
		n := audits()
		tests := []struct {
			name, user string
			form       url.Values
			want       int
		}{
			{"auditor", "aude", nil, http.StatusForbidden},
			{"no csrf", "ada", url.Values{"csrf": {""}}, http.StatusForbidden},
			{"wrong csrf", "ada", url.Values{"csrf": {"fwc_nope"}}, http.StatusForbidden},
			{"another user's csrf", "ada", url.Values{"csrf": {d.csrf["aude"]}}, http.StatusForbidden},
		}
		for _, tt := range tests {
			if code, _, _ := d.post(t, path, tt.user, tt.form); code != tt.want {
				t.Errorf("%s: POST nudge = %d, want %d", tt.name, code, tt.want)
			}
		}
		if code, loc, _ := d.request(t, http.MethodPost, path, "", url.Values{}); code != http.StatusSeeOther || loc != "/login" {
			t.Errorf("logged out: POST nudge = %d %q, want 303 to /login", code, loc)
		}
		if got := queued(d.srv, h.HostID); got != 0 {
			t.Errorf("refused nudges queued %d nudge(s)", got)
		}
		if got := audits(); got != n {
			t.Errorf("refused nudges wrote %d audit rows", got-n)
		}
	})
	t.Run("admin without javascript", func(t *testing.T) {
		n := audits()
		code, loc, _ := d.post(t, path, "ada", nil)
		if code != http.StatusSeeOther || loc != "/hosts/"+h.HostID+"?nudged=1#check-now" {
			t.Fatalf("POST nudge = %d %q, want 303 back to the host", code, loc)
		}
		if nd := stream.next(t); nd.Kind != wire.NudgeCheckNow {
			t.Errorf("nudge delivered = %+v, want check_now", nd)
		}
		d.st.mu.Lock()
		a := d.st.audit[n]
		d.st.mu.Unlock()
		if a.Actor != "ada" || a.Action != "host.nudge" || a.Target != h.HostID {
			t.Errorf("audit row = %+v, want ada's host.nudge of %s", a, h.HostID)
		}
		_, body := d.get(t, loc, "ada")
		if !strings.Contains(section(body, `id="nudge-status"`), "Check requested") {
			t.Errorf("the page after a nudge does not say it was requested")
		}
	})
	t.Run("admin with javascript", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodPost, d.ts.URL+path, strings.NewReader(url.Values{"csrf": {d.csrf["ada"]}}.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: d.cookies["ada"]})
		resp, err := d.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var answer map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("POST nudge as fetch = %d %v, want 200 JSON", resp.StatusCode, err)
		}
		if nd := stream.next(t); nd.ID != answer["nudge"] {
			t.Errorf("nudge delivered = %+v, want the answer's %v", nd, answer["nudge"])
		}
	})
	t.Run("cross-site", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, d.ts.URL+path, strings.NewReader(url.Values{"csrf": {d.csrf["ada"]}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: d.cookies["ada"]})
		resp, err := d.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site POST nudge = %d, want 403", resp.StatusCode)
		}
	})
	t.Run("unknown host", func(t *testing.T) {
		if code, _, _ := d.post(t, "/hosts/nope/nudge", "ada", nil); code != http.StatusNotFound {
			t.Errorf("POST nudge of an unknown host = %d, want 404", code)
		}
	})
}

func TestDashEscapesWhatHostsSay(t *testing.T) {
	d := newDashFixture(t)
	const evil = `<script>alert(1)</script>`
	d.seed(t, seedHost{id: "hx", name: evil, osVersion: `15"><img src=x>`, labels: []string{evil}, statuses: allOK})
	rec := runRecord(2, t0.Add(time.Minute), fail)
	rec.Run.Results[1].Actual = evil
	rec.Run.Results[1].Evidence = []wire.Evidence{{Kind: "exec", Argv: []string{"/bin/echo", evil}, Output: evil}}
	if _, err := d.st.Ingest(context.Background(), "hx", batch(rec, wire.Record{Seq: 3, Kind: wire.KindAlert, Time: t0,
		Alert: &wire.Alert{Rule: evil, CommandLine: evil, LastSeen: t0}}), t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/", "/hosts", "/hosts/hx", "/checks/alf.stealth"} {
		_, body := d.get(t, p, "aude")
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x>") {
			t.Errorf("GET %s shows a host's markup unescaped", p)
		}
		if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("GET %s does not show the hostile text escaped", p)
		}
	}
}

func TestDashChecksPages(t *testing.T) {
	d := newDashFixture(t)
	smallFleet(t, d)
	_, body := d.get(t, "/checks?sort=fail&dir=desc", "aude")
	rows := regexp.MustCompile(`<tr data-check="([^"]+)">`).FindAllStringSubmatch(section(body, `<table id="checks"`), -1)
	if len(rows) < 17 || rows[0][1] != "alf.stealth" {
		t.Errorf("checks sorted by failures, most first: first row %v of %d, want alf.stealth first of every check", rows[0], len(rows))
	}
	_, body = d.get(t, "/checks/alf.stealth", "aude")
	if diff := cmp.Diff([]string{"h2", "h6"}, hostRows(section(body, `<table id="failing"`))); diff != "" {
		t.Errorf("failing hosts (-want +got):\n%s", diff)
	}
	if got := idText(body, "n-fail"); got != "2" {
		t.Errorf("check page fail count = %s, want 2", got)
	}
	hist := regexp.MustCompile(`<tr data-host="([^"]+)" data-check="alf.stealth"`).FindAllStringSubmatch(body, -1)
	if len(hist) != 5 { // every host with a run: h1, h2, h3, h5, h6
		t.Errorf("check history rows = %d, want 5", len(hist))
	}
}

func TestDashCheckHistoryPaging(t *testing.T) {
	d := newDashFixture(t)
	manyHosts(t, d, 120) // 120 first results of alf.stealth
	var seen []string
	path := "/checks/alf.stealth"
	for pages := 0; path != ""; pages++ {
		if pages > 5 {
			t.Fatal("too many pages")
		}
		_, body := d.get(t, path, "aude")
		for _, m := range regexp.MustCompile(`<tr data-host="([^"]+)" data-check="alf.stealth"`).FindAllStringSubmatch(body, -1) {
			seen = append(seen, m[1])
		}
		path = ""
		if m := regexp.MustCompile(`<a class="next-history" href="([^"]+)"`).FindStringSubmatch(body); m != nil {
			path = html.UnescapeString(m[1])
		}
	}
	slices.Sort(seen)
	if len(seen) != 120 || len(slices.Compact(seen)) != 120 {
		t.Errorf("check history across pages: %d rows, %d hosts; want each of 120 once", len(seen), len(slices.Compact(seen)))
	}
}

func TestNiceScale(t *testing.T) {
	tests := []struct{ top, max, step int }{
		{0, 1, 1}, {1, 1, 1}, {4, 4, 1}, {5, 5, 1}, {6, 6, 2}, {9, 10, 2}, {11, 15, 5}, {26, 30, 10}, {99, 100, 20}, {100000, 100000, 20000}, {100001, 150000, 50000},
	}
	for _, tt := range tests {
		if m, s := niceScale(tt.top); m != tt.max || s != tt.step {
			t.Errorf("niceScale(%d) = %d, %d, want %d, %d", tt.top, m, s, tt.max, tt.step)
		}
	}
}

func TestChartGolden(t *testing.T) {
	day := func(i int) time.Time { return t0.Add(time.Duration(i) * 24 * time.Hour) }
	ninety := lineChart{ID: "trend", Title: "Fleet compliance per day", YLabel: "Hosts",
		Series: []chartSeries{{Name: "Compliant", Color: "#1a7f37", Area: true}, {Name: "Non-compliant", Color: "#cf222e"}}}
	for i := range 91 {
		ninety.Times = append(ninety.Times, day(i))
		ninety.Series[0].Values = append(ninety.Series[0].Values, 80+(i*7)%20)
		ninety.Series[1].Values = append(ninety.Series[1].Values, (i*3)%11)
	}
	tests := []struct {
		name  string
		chart lineChart
	}{
		{"ninety-days", ninety},
		{"one-day", lineChart{ID: "c", Title: "One", YLabel: "Hosts", Times: []time.Time{t0}, Series: []chartSeries{{Name: "Failing", Color: "#cf222e", Values: []int{3}}}}},
		{"empty", lineChart{ID: "c", Title: "Nothing yet", YLabel: "Hosts"}},
		{"escaped", lineChart{ID: `x"><script>`, Title: `<script>alert(1)</script>`, YLabel: "a&b", Times: []time.Time{t0, day(1)},
			Series: []chartSeries{{Name: "<b>", Color: `red"/><script>`, Values: []int{0, 0}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(tt.chart.SVG())
			// Well-formed XML, so that browsers draw it as written.
			dec := xml.NewDecoder(strings.NewReader(got))
			for {
				_, err := dec.Token()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("chart is not well-formed XML: %v\n%s", err, got)
				}
			}
			if strings.Contains(got, "<script>") {
				t.Errorf("chart holds unescaped markup:\n%s", got)
			}
			golden := filepath.Join("testdata", "dash", tt.name+".svg")
			if updating() {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestChartGolden -update to write it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("chart %s (-want +got):\n%s", tt.name, diff)
			}
		})
	}
	// The table beside the chart has every day, newest first.
	tbl := string(ninety.Table())
	days := regexp.MustCompile(`<tr><td>(\d{4}-\d\d-\d\d)</td>`).FindAllStringSubmatch(tbl, -1)
	if len(days) != 91 || days[0][1] != day(90).Format("2006-01-02") {
		t.Errorf("chart table: %d days, first %v; want 91, newest first", len(days), days[0])
	}
}

func TestDashHostResultsSort(t *testing.T) {
	d := newDashFixture(t)
	smallFleet(t, d)
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"alf.enabled", "alf.stealth"}},
		{"?sort=check&dir=desc", []string{"alf.stealth", "alf.enabled"}},
		{"?sort=status", []string{"alf.stealth", "alf.enabled"}}, // fail before pass
		{"?sort=status&dir=desc", []string{"alf.enabled", "alf.stealth"}},
		{"?sort=bogus", []string{"alf.enabled", "alf.stealth"}},
	}
	for _, tt := range tests {
		_, body := d.get(t, "/hosts/h2"+tt.query, "aude")
		var got []string
		for _, m := range regexp.MustCompile(`<tr data-check="([^"]+)">`).FindAllStringSubmatch(section(body, `<table id="results"`), -1) {
			got = append(got, m[1])
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("results of /hosts/h2%s (-want +got):\n%s", tt.query, diff)
		}
	}
}

// The CSV reads the store a page at a time (500 hosts); a fleet of several pages comes out
// whole and in order.
func TestDashHostsCSVAcrossStorePages(t *testing.T) {
	d := newDashFixture(t)
	hosts := manyHosts(t, d, 1100)
	nonCompliant := 0 // failing (every third) and not stale (seen in the last three hours)
	for _, h := range hosts {
		n := 0
		fmt.Sscanf(h.ID, "h%d", &n)
		if n%3 == 0 && d.clock.now().Before(h.StaleAt) {
			nonCompliant++
		}
	}
	if nonCompliant < 50 {
		t.Fatalf("fixture: %d non-compliant hosts, too few to test", nonCompliant)
	}
	for _, tt := range []struct {
		query string
		want  int
	}{{"", 1100}, {"?status=non_compliant&sort=last_seen", nonCompliant}} {
		_, body := d.get(t, "/hosts.csv"+tt.query, "aude")
		recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs)-1 != tt.want {
			t.Errorf("GET /hosts.csv%s: %d rows, want %d", tt.query, len(recs)-1, tt.want)
		}
		seen := map[string]bool{}
		for i, r := range recs[1:] {
			if seen[r[0]] {
				t.Errorf("GET /hosts.csv%s: host %s twice", tt.query, r[0])
			}
			seen[r[0]] = true
			if i > 0 && tt.query == "" && strings.ToLower(recs[i][1]) > strings.ToLower(r[1]) {
				t.Errorf("GET /hosts.csv: %s before %s, want hostname order", recs[i][1], r[1])
			}
		}
	}
}

// FuzzParseHostsQuery: any query either is refused with a *badInput or parses into a query
// whose own link parses back to it (page aside).
func FuzzParseHostsQuery(f *testing.F) {
	for _, s := range []string{"", "status=compliant", "check=alf.stealth", "q=CH&label=office&os=15.2", "stale=true&status=non_compliant",
		"sort=last_seen&dir=desc&after=h1&key=2026-12-01T09:00:00Z", "sort=id&dir=desc&os=15.1", "status=sleepy", "sort=color", "dir=up", "stale=maybe",
		"q=%3Cscript%3E", "q=+a+", "status=&check=&sort=&dir="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := parseHostsQuery(v)
		if err != nil {
			var bad *badInput
			if !errors.As(err, &bad) {
				t.Fatalf("parseHostsQuery(%q) = %v, want a *badInput", raw, err)
			}
			return
		}
		again, err := parseHostsQuery(q.values())
		if err != nil {
			t.Fatalf("parseHostsQuery(values of %q) = %v", raw, err)
		}
		q.After, q.Key = "", ""
		if again != q {
			t.Fatalf("round trip of %q: %+v, want %+v", raw, again, q)
		}
	})
}

func TestDashCheckFailingPaging(t *testing.T) {
	d := newDashFixture(t)
	hosts := manyHosts(t, d, 180) // every third fails alf.stealth: 60, all fresh
	var want []string
	for _, h := range hosts {
		n := 0
		fmt.Sscanf(h.ID, "h%d", &n)
		if n%3 == 0 {
			want = append(want, h.ID)
		}
	}
	slices.Reverse(want) // by ID, descending
	var got []string
	path := "/checks/alf.stealth?sort=id&dir=desc"
	for pages := 0; path != ""; pages++ {
		if pages > 3 {
			t.Fatal("too many pages")
		}
		_, body := d.get(t, path, "aude")
		got = append(got, hostRows(section(body, `<table id="failing"`))...)
		path = strings.TrimSuffix(nextLink(body), "#failing")
		if path != "" && !strings.HasPrefix(path, "/checks/alf.stealth?") || strings.Contains(path, "check=") {
			t.Fatalf("next page link %q does not stay on the check's page", path)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("failing hosts across pages (-want +got):\n%s", diff)
	}
}

func TestDashHostTimelineAndAlertsSort(t *testing.T) {
	d := newDashFixture(t)
	smallFleet(t, d)
	ctx := context.Background()
	// h2: first results at t0 (alf.enabled pass, alf.stealth fail), then alf.enabled drifts.
	if _, err := d.st.Ingest(ctx, "h2", batch(runRecord(2, t0.Add(time.Minute), map[string]string{"alf.enabled": wire.StatusFail, "alf.stealth": wire.StatusFail}),
		wire.Record{Seq: 3, Kind: wire.KindAlert, Time: t0, Alert: &wire.Alert{Rule: "b_rule", Severity: "low", Count: 9, LastSeen: t0}},
		wire.Record{Seq: 4, Kind: wire.KindAlert, Time: t0, Alert: &wire.Alert{Rule: "a_rule", Severity: "critical", Count: 1, LastSeen: t0.Add(time.Second)}},
		wire.Record{Seq: 5, Kind: wire.KindAlert, Time: t0, Alert: &wire.Alert{Rule: "c_rule", Severity: "high", Count: 5, LastSeen: t0.Add(-time.Second)}},
	), t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	d.clock.add(2 * time.Minute)
	reTimeline := regexp.MustCompile(`(?s)<tr data-check="([^"]+)">\s*<td>.*?</td>\s*<td>([a-z ]+)</td>`)
	reAlert := regexp.MustCompile(`<tr data-alert="\d+">\s*<td>.*?</td>\s*<td>([a-z_]+)</td>`)
	tests := []struct {
		query    string
		timeline []string // check/kind, in order
		alerts   []string // rules, in order
	}{
		{"", []string{"alf.enabled/drift", "alf.stealth/first result", "alf.enabled/first result"}, []string{"a_rule", "b_rule", "c_rule"}},
		{"?tdir=asc&adir=asc", []string{"alf.enabled/first result", "alf.stealth/first result", "alf.enabled/drift"}, []string{"c_rule", "b_rule", "a_rule"}},
		{"?tsort=check&asort=rule", []string{"alf.enabled/drift", "alf.enabled/first result", "alf.stealth/first result"}, []string{"a_rule", "b_rule", "c_rule"}},
		{"?tsort=check&tdir=desc&asort=severity&adir=desc", []string{"alf.stealth/first result", "alf.enabled/drift", "alf.enabled/first result"}, []string{"a_rule", "c_rule", "b_rule"}},
		{"?tsort=kind&asort=count", []string{"alf.enabled/drift", "alf.stealth/first result", "alf.enabled/first result"}, []string{"a_rule", "c_rule", "b_rule"}},
		{"?asort=count&adir=desc", nil, []string{"b_rule", "c_rule", "a_rule"}},
	}
	for _, tt := range tests {
		_, body := d.get(t, "/hosts/h2"+tt.query, "aude")
		if tt.timeline != nil {
			var got []string
			for _, m := range reTimeline.FindAllStringSubmatch(section(body, `<section id="timeline"`), -1) {
				got = append(got, m[1]+"/"+m[2])
			}
			if diff := cmp.Diff(tt.timeline, got); diff != "" {
				t.Errorf("timeline of /hosts/h2%s (-want +got):\n%s", tt.query, diff)
			}
		}
		var got []string
		for _, m := range reAlert.FindAllStringSubmatch(section(body, `<section id="host-alerts"`), -1) {
			got = append(got, m[1])
		}
		if diff := cmp.Diff(tt.alerts, got); diff != "" {
			t.Errorf("alerts of /hosts/h2%s (-want +got):\n%s", tt.query, diff)
		}
	}
	// Sorting one table keeps the other's order in its links; the time header reverses the
	// default newest-first order.
	_, body := d.get(t, "/hosts/h2?asort=rule", "aude")
	if want := `href="/hosts/h2?asort=rule&amp;tdir=asc&amp;tsort=time#timeline"`; !strings.Contains(body, want) {
		t.Errorf("the timeline's time header is not %s", want)
	}
}

// The charts ask the store for midnights (on the hour: the stores' cheap case) and end with the
// present the page already counted.
func TestChartSeriesInstants(t *testing.T) {
	d := newDashFixture(t)
	smallFleet(t, d)
	ctx := context.Background()
	now := t0.Add(17 * time.Minute) // 09:17
	current, err := d.st.ComplianceAt(ctx, now, "", "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.srv.chartSeries(ctx, now, "", current)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != chartDays+1 {
		t.Fatalf("chartSeries gave %d instants, want %d midnights and now", len(got), chartDays+1)
	}
	midnight := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if !got[0].At.Equal(midnight.Add(-(chartDays-1)*chartStep)) || !got[chartDays-1].At.Equal(midnight) || !got[chartDays].At.Equal(now) {
		t.Errorf("chartSeries instants = %v … %v, %v; want %v … %v, %v", got[0].At, got[chartDays-1].At, got[chartDays].At,
			midnight.Add(-(chartDays-1)*chartStep), midnight, now)
	}
	if diff := cmp.Diff(current, got[chartDays]); diff != "" {
		t.Errorf("last point is not the present's count (-want +got):\n%s", diff)
	}
	// At midnight exactly, the present is the series' own last instant.
	if got, err := d.srv.chartSeries(ctx, midnight, "", current); err != nil || len(got) != chartDays || !got[chartDays-1].At.Equal(midnight) {
		t.Errorf("chartSeries at midnight = %d instants, %v; want %d ending at midnight", len(got), err, chartDays)
	}
}

// The overview lists the checks this fleet reports; the checks page lists every known one.
func TestDashOverviewReportedChecks(t *testing.T) {
	d := newDashFixture(t)
	smallFleet(t, d)
	_, body := d.get(t, "/", "aude")
	over := section(body, `id="per-check"`)
	_, body = d.get(t, "/checks", "aude")
	all := section(body, `id="checks"`)
	for _, tt := range []struct {
		check          string
		overview, list bool
	}{
		{"alf.stealth", true, true},
		{"linux.firewall.enabled", false, true},
	} {
		row := `<tr data-check="` + tt.check + `">`
		if got := strings.Contains(over, row); got != tt.overview {
			t.Errorf("overview lists %s = %v, want %v", tt.check, got, tt.overview)
		}
		if got := strings.Contains(all, row); got != tt.list {
			t.Errorf("/checks lists %s = %v, want %v", tt.check, got, tt.list)
		}
	}
}

// Evidence read over netlink (a Linux host's nftables ruleset) is shown as what it is: no file
// and no exit code, which only programs have.
func TestDashHostPageNetlinkEvidence(t *testing.T) {
	d := newDashFixture(t)
	smallFleet(t, d)
	run := runRecord(2, t0.Add(time.Minute), fail)
	run.Run.Results[1].Evidence = []wire.Evidence{{Kind: "netlink", Path: "nftables ruleset", Output: "table inet filter {\n}\n", SHA256: "cd34"}}
	if _, err := d.st.Ingest(context.Background(), "h1", batch(run), run.Time); err != nil {
		t.Fatal(err)
	}
	d.clock.add(time.Minute)
	code, body := d.get(t, "/hosts/h1", "aude")
	if code != http.StatusOK {
		t.Fatalf("GET /hosts/h1 = %d", code)
	}
	ev := section(body, `id="evidence"`)
	for _, tt := range []struct {
		html string
		want bool
	}{
		{`<dt>Kind</dt><dd>netlink</dd>`, true},
		{`<dt>Read from</dt><dd><code class="path">nftables ruleset</code></dd>`, true},
		{"table inet filter {", true},
		{`<code class="hash">cd34</code>`, true},
		{`<dt>File</dt>`, false},
		{`class="exit-code"`, false},
	} {
		if strings.Contains(ev, tt.html) != tt.want {
			t.Errorf("evidence section has %q: %v, want %v\n%s", tt.html, !tt.want, tt.want, ev)
		}
	}
}
