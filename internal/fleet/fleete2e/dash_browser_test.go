package fleete2e

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/fleet/wire"
	"github.com/firewarden/firewarden/internal/host/hosttest"
)

// Dashboard accounts of these tests: two admins, for four eyes on exemptions, and an auditor.
var dashUsers = []struct{ name, role, password string }{
	{"ada", "admin", "ada's long passphrase 1"},
	{"grace", "admin", "grace's long passphrase 2"},
	{"aude", "auditor", "aude's long passphrase 3"},
}

func dashPassword(name string) string {
	for _, u := range dashUsers {
		if u.name == name {
			return u.password
		}
	}
	panic("no account " + name)
}

// runStdin is run with stdin given.
func runStdin(t *testing.T, stdin, bin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "FIREWARDEN_ROOT=")
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{o.String(), e.String(), code}
}

// dashFleet is a server on SQLite with the dashboard's accounts, an admin API token made by
// `token create`, and three emulated Macs that reported:
//   - a: macOS 15, compliant, then its firewall turned off behind the agent's back (a drift);
//   - b: macOS 14 with its firewall off from the start (non-compliant);
//   - c: macOS 15 with a firewall profile (compliant, managed).
type dashFleet struct {
	f          *fleet
	s          *serving
	apiToken   string
	a, b, c    *emac
	ida, idb   string
	idc        string
	daemonLogs func() string // the daemon of a, when started
}

func newDashFleet(t *testing.T) *dashFleet {
	t.Helper()
	d := &dashFleet{f: newFleet(t, "")}
	for _, u := range dashUsers {
		r := runStdin(t, u.password+"\n", serverBin, "user", "add", u.name, "--role", u.role, "--data-dir", d.f.dir)
		if r.code != 0 {
			t.Fatalf("firewarden-server user add %s --role %s: exit %d: %s", u.name, u.role, r.code, r.stderr)
		}
	}
	r := run(t, serverBin, "token", "create", "--name", "e2e-export", "--role", "admin", "--json", "--data-dir", d.f.dir)
	var tok struct{ Token string }
	if err := json.Unmarshal([]byte(r.stdout), &tok); r.code != 0 || err != nil || tok.Token == "" {
		t.Fatalf("firewarden-server token create: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	d.apiToken = tok.Token
	d.s = d.f.serve(t, "127.0.0.1:0")
	d.s.putPolicy(t, wire.ModeReport)

	d.a = newDashMac(t, hosttest.Mac15(), "dddddddd-1111-4111-8111-000000000015", "design-mbp")
	d.b = newDashMac(t, hosttest.Mac14(), "dddddddd-1111-4111-8111-000000000014", "build-mini")
	d.c = newDashMac(t, hosttest.ManagedMac15(), "dddddddd-1111-4111-8111-0000000000af", "finance-air")
	d.a.setGlobalState(t, "on")
	d.ida = d.a.enroll(t, d.s, "design")
	d.idb = d.b.enroll(t, d.s, "build")
	d.idc = d.c.enroll(t, d.s, "finance")
	d.a.once(t, 0)
	d.b.once(t, 1)
	d.c.once(t, 0)
	d.a.setGlobalState(t, "off")
	d.a.once(t, 1)
	if v := d.s.host(t, d.ida); v.Host.Status != "non_compliant" {
		t.Fatalf("host a after its drift = %s, want non_compliant", v.Host.Status)
	}
	return d
}

// newDashMac is newMac with a hostname of its own (the emulator names every Mac "fakemac").
func newDashMac(t *testing.T, st hosttest.MacState, uuid, hostname string) *emac {
	t.Helper()
	m := newMac(t, st, uuid)
	if err := os.WriteFile(filepath.Join(m.root, "etc/hostname"), []byte(hostname+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return m
}

// startDaemonA runs the agent daemon of Mac a and waits until its first cycle reached the
// server and its nudge stream is connected, so that a "check now" pressed afterwards reaches it.
func (d *dashFleet) startDaemonA(t *testing.T) {
	t.Helper()
	seq := d.s.host(t, d.ida).Host.LastSeq
	stderr, stop := d.a.startDaemon(t)
	t.Cleanup(stop)
	d.daemonLogs = stderr.String
	if _, ok := d.s.waitSeq(t, d.ida, seq, time.Now().Add(time.Minute)); !ok {
		t.Fatalf("the daemon's first cycle never reached the server; agent stderr:\n%s", stderr.String())
	}
	deadline := time.Now().Add(time.Minute) // a guard against a hang, not a speed requirement
	for d.nudgeStreams(t) < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the daemon never opened its nudge stream; agent stderr:\n%s", stderr.String())
		}
		time.Sleep(100 * time.Millisecond) // polling a server, not timing it
	}
}

// nudgeStreams is the server's gauge of agents connected for nudges.
func (d *dashFleet) nudgeStreams(t *testing.T) int {
	t.Helper()
	code, body := d.s.call(t, "GET", "/metrics", d.apiToken, nil)
	if code != 200 {
		t.Fatalf("GET /metrics = %d %s", code, body)
	}
	for _, l := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(l, "firewarden_server_nudge_streams "); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatalf("metrics line %q: %v", l, err)
			}
			return n
		}
	}
	t.Fatalf("GET /metrics has no firewarden_server_nudge_streams:\n%s", body)
	return 0
}

// nonCompliant is the Overview's count of non-compliant hosts.
func nonCompliant(t *testing.T, b *browser) int {
	t.Helper()
	b.open("/")
	txt := b.text("#n-noncompliant")
	n, err := strconv.Atoi(txt)
	if err != nil {
		t.Fatalf("#n-noncompliant = %q, want a number", txt)
	}
	return n
}

// The dashboard in real headless Chromium, over a real server and real agents on emulated
// Macs: log in, see the drifted host, press "check now" and watch the result change without a
// reload, request an exemption and have a second admin approve it, see the count move, download
// the report's CSV and compare it with the admin API's export, and as an auditor find no write
// form and have a forged POST refused. Screenshots of the main pages come from this run.
func TestDashBrowser(t *testing.T) {
	chromiumPath(t)
	start := time.Now().UTC().Truncate(time.Second)
	d := newDashFleet(t)
	b := newBrowser(t, d.s.url())
	defer b.checkConsole()

	// A logged-out visit is sent to the login page, and back after logging in.
	b.goTo("/hosts")
	if u, _ := url.Parse(b.location()); u == nil || u.Path != "/login" {
		t.Fatalf("a logged-out visit to /hosts landed on %s, want /login", b.location())
	}
	if b.tryLogin("ada", "not ada's password") {
		t.Fatalf("a wrong password logged in (now at %s)", b.location())
	}
	if b.count(`p.error`) == 0 {
		t.Errorf("a wrong password: the login page shows no p.error")
	}
	b.login("ada", dashPassword("ada"))
	if u, _ := url.Parse(b.location()); u == nil || u.Path != "/hosts" {
		t.Errorf("logging in from the redirect of /hosts landed on %s, want /hosts (next=)", b.location())
	}

	// The session cookie: Secure, HttpOnly, SameSite, __Host- (so no Domain, Path=/).
	var session bool
	for _, c := range b.sessionCookies() {
		if !strings.HasPrefix(c.Name, "__Host-") {
			continue
		}
		session = true
		if !c.Secure || !c.HTTPOnly || c.SameSite == "" || c.Path != "/" {
			t.Errorf("session cookie %s: Secure %v HttpOnly %v SameSite %q Path %q, want Secure, HttpOnly, a SameSite and Path /", c.Name, c.Secure, c.HTTPOnly, c.SameSite, c.Path)
		}
	}
	if !session {
		t.Errorf("after logging in the browser holds no __Host- session cookie: %+v", b.sessionCookies())
	}

	// Overview and hosts: both reported non-compliant hosts are there.
	if n := nonCompliant(t, b); n != 2 {
		t.Errorf("Overview #n-noncompliant = %d, want 2 (a drifted, b off)", n)
	}
	b.open("/hosts")
	for id, want := range map[string]string{d.ida: "non_compliant", d.idb: "non_compliant", d.idc: "compliant"} {
		if got := status(b.text(fmt.Sprintf(`table#hosts tr[data-host=%q] td.status`, id))); got != want {
			t.Errorf("/hosts: host %s status %q, want %q", id, got, want)
		}
	}

	// The host page; "check now" after the Mac was fixed shows the new result without a reload.
	d.startDaemonA(t)
	hostPage := "/hosts/" + d.ida
	b.follow(fmt.Sprintf(`table#hosts tr[data-host=%q] a[href=%q]`, d.ida, hostPage))
	if u, _ := url.Parse(b.location()); u == nil || u.Path != hostPage {
		t.Fatalf("the host's link on /hosts led to %s, want %s", b.location(), hostPage)
	}
	resultSel := `table#results tr[data-check="alf.enabled"] td.status`
	if got := status(b.text(resultSel)); got != "fail" {
		t.Errorf("%s: alf.enabled %q, want fail", hostPage, got)
	}
	run := b.attr("#last-run", "data-run")
	if run == "" {
		t.Errorf("%s: #last-run has no data-run", hostPage)
	}
	d.a.setGlobalState(t, "on")
	// A mark on the window: a reload would lose it.
	eval[bool](b, `window.fwNoReload = true`)
	b.click(`form#check-now button`)
	changed := fmt.Sprintf(`(() => {
		const r = document.querySelector('#last-run');
		const c = document.querySelector(%q);
		return !!r && r.dataset.run !== %q && !!c && /^pass/i.test(c.textContent.trim());
	})()`, resultSel, run)
	if !b.waitJS(changed, time.Minute) {
		t.Fatalf("%s: after check now, #last-run is %q and alf.enabled %q after a minute, want a new run that passes; #nudge-status %q; agent stderr:\n%s",
			hostPage, b.attr("#last-run", "data-run"), b.text(resultSel), b.text("#nudge-status"), d.daemonLogs())
	}
	if !eval[bool](b, `window.fwNoReload === true`) {
		t.Errorf("%s: check now reloaded the page; its result should appear in place", hostPage)
	}
	if n := nonCompliant(t, b); n != 1 {
		t.Errorf("Overview #n-noncompliant after check now = %d, want 1", n)
	}

	// An exemption for b requested by ada is pending: it excuses nothing yet, and ada cannot
	// approve it herself.
	b.open("/exemptions")
	before := b.count(`table#exemptions tr[data-exemption]`)
	b.fill(`form#new-exemption [name=host_id]`, d.idb)
	b.fill(`form#new-exemption [name=check]`, "alf.enabled")
	b.fill(`form#new-exemption [name=reason]`, "build farm Mac, firewall replaced by the rack's ACL (ticket SEC-42)")
	b.fill(`form#new-exemption [name=expires]`, time.Now().UTC().AddDate(0, 0, 30).Format("2006-01-02"))
	b.submit(`form#new-exemption`)
	if b.count("p.error") > 0 {
		t.Fatalf("creating the exemption: %s", b.text("p.error"))
	}
	if got := b.count(`table#exemptions tr[data-exemption]`); got != before+1 {
		t.Fatalf("/exemptions has %d rows after creating one, want %d", got, before+1)
	}
	ex := eval[string](b, `(() => { for (const tr of document.querySelectorAll('table#exemptions tr[data-exemption]')) {
		if (/pending/i.test(tr.querySelector('td.state').textContent)) return tr.dataset.exemption; } return ""; })()`)
	if ex == "" {
		t.Fatalf("/exemptions: no pending exemption after ada's request")
	}
	row := fmt.Sprintf(`table#exemptions tr[data-exemption=%q]`, ex)
	if n := nonCompliant(t, b); n != 1 {
		t.Errorf("Overview #n-noncompliant with the exemption pending = %d, want 1", n)
	}
	b.open("/exemptions")
	approve := row + ` form[action$="/approve"]`
	if b.count(approve+` [type=submit]:not([disabled])`) > 0 {
		b.submit(approve)
	} else { // the page offers her no usable button: try the POST behind it
		b.postForm("/exemptions/"+ex+"/approve", nil)
	}
	b.open("/exemptions")
	if got := status(b.text(row + ` td.state`)); got != "pending" {
		t.Errorf("after ada approved her own request, its state is %q, want pending (four eyes)", got)
	}

	// Screenshots of the main pages, as an admin sees them with one host fixed by "check now"
	// and one waiting for a second admin's approval of its exemption.
	for _, p := range []struct{ name, path string }{
		{"overview", "/"}, {"hosts", "/hosts"}, {"host", hostPage}, {"checks", "/checks"},
		{"alerts", "/alerts"}, {"exemptions", "/exemptions"}, {"report", "/report"}, {"settings", "/settings"},
	} {
		b.open(p.path)
		b.checkIDs()
		b.screenshot(p.name)
	}
	b.viewport(390, 844)
	b.open("/")
	b.screenshot("overview-phone")
	b.viewport(1280, 800)

	// A second admin approves it, and the count moves.
	b.logout()
	b.login("grace", dashPassword("grace"))
	b.open("/exemptions")
	b.submit(row + ` form[action$="/approve"]`)
	if b.count("p.error") > 0 {
		t.Fatalf("grace approving exemption %s: %s", ex, b.text("p.error"))
	}
	b.open("/exemptions")
	if got := status(b.text(row + ` td.state`)); got != "active" {
		t.Errorf("exemption %s after grace approved it: state %q, want active", ex, got)
	}
	if n := nonCompliant(t, b); n != 0 {
		t.Errorf("Overview #n-noncompliant after the exemption was approved = %d, want 0", n)
	}

	// The report's CSV, downloaded with the browser's session through the page's a#report-csv,
	// is the admin API's export for the same question.
	now := time.Now().UTC().Truncate(time.Second).Format(time.RFC3339)
	for _, tt := range []struct {
		name   string
		params url.Values
		lines  int // with the header; 0: any
	}{
		{"instant", url.Values{"at": {now}}, 4}, // one row per host, one check each
		{"instant, one label", url.Values{"at": {now}, "label": {"build"}}, 2},
		{"range", url.Values{"from": {start.Format(time.RFC3339)}, "to": {now}}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := b.with(t)
			b.open("/report?" + tt.params.Encode())
			href := b.attr("a#report-csv", "href")
			csvURL, err := url.Parse(d.s.url() + "/report")
			if err == nil {
				csvURL, err = csvURL.Parse(href)
			}
			if err != nil || csvURL.Path != "/report.csv" {
				t.Fatalf("a#report-csv href %q (%v), want /report.csv?%s", href, err, tt.params.Encode())
			}
			if diff := cmp.Diff(tt.params, csvURL.Query()); diff != "" {
				t.Errorf("a#report-csv's query differs from the page's (-want +got):\n%s", diff)
			}
			got := parseCSV(t, "/report.csv", d.getWithCookies(t, b, csvURL.String()))
			api := url.Values{"format": {"csv"}}
			for k, v := range tt.params {
				api[k] = v
			}
			code, body := d.s.call(t, "GET", "/api/v1/export?"+api.Encode(), d.apiToken, nil)
			if code != 200 {
				t.Fatalf("GET /api/v1/export?%s = %d %s", api.Encode(), code, body)
			}
			want := parseCSV(t, "the API's export", body)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("/report.csv?%s differs from GET /api/v1/export (-want +got):\n%s", tt.params.Encode(), diff)
			}
			if tt.lines > 0 && len(want) != tt.lines || len(want) < 2 {
				t.Errorf("the export of %s has %d lines, want %d (a header and rows):\n%s", tt.params.Encode(), len(want), tt.lines, body)
			}
		})
	}
	hostsCSV := parseCSV(t, "/hosts.csv", d.getWithCookies(t, b, d.s.url()+"/hosts.csv"))
	if len(hostsCSV) != 4 {
		t.Errorf("/hosts.csv has %d lines, want a header and 3 hosts:\n%q", len(hostsCSV), hostsCSV)
	}

	// The auditor sees every page and no write form, and a forged POST is refused.
	b.logout()
	b.login("aude", dashPassword("aude"))
	for _, p := range []string{"/", "/hosts", hostPage, "/checks", "/alerts", "/exemptions", "/report", "/audit", "/settings"} {
		b.open(p)
		b.checkIDs()
		if n := b.count(`form[method=post]:not(.logout), form[method=POST]:not(.logout)`); n > 0 {
			t.Errorf("auditor on %s sees %d write form(s)", p, n)
		}
	}
	b.open("/exemptions")
	for _, path := range []string{"/exemptions/" + ex + "/revoke", hostPage + "/nudge", "/exemptions"} {
		form := map[string]string{"host_id": d.ida, "check": "alf.enabled", "reason": "forged", "expires": "2099-01-01"}
		if got := b.postForm(path, form); got != http.StatusForbidden {
			t.Errorf("the auditor's POST %s with the session's CSRF token = %d, want 403", path, got)
		}
	}
	var exs struct {
		Exemptions []struct {
			ID         string `json:"id"`
			ApprovedBy string `json:"approved_by"`
		}
	}
	d.s.admin(t, "GET", "/api/v1/exemptions", nil, &exs) // those in force now
	standing := false
	for _, e := range exs.Exemptions {
		standing = standing || e.ID == ex && e.ApprovedBy == "grace"
	}
	if !standing {
		t.Errorf("exemption %s is not in force, approved by grace, after the auditor's forged revoke: %+v", ex, exs.Exemptions)
	}
}

// getWithCookies fetches an absolute URL with the browser's cookies, as a download would.
func (d *dashFleet) getWithCookies(t *testing.T, b *browser, u string) []byte {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range b.sessionCookies() {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	resp, err := d.f.client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("GET %s with the browser's session = %d %s:\n%s", u, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	return body
}

func parseCSV(t *testing.T, what string, data []byte) [][]string {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatalf("%s is no CSV: %v\n%s", what, err, data)
	}
	return recs
}

// Reading needs no JavaScript: every page shows its main table with scripts turned off, logging
// in included. And the keyboard reaches the host page's "check now" button with Tab alone.
func TestDashNoScriptAndKeyboard(t *testing.T) {
	chromiumPath(t)
	f := newFleet(t, "")
	for _, u := range dashUsers[:1] {
		if r := runStdin(t, u.password+"\n", serverBin, "user", "add", u.name, "--role", u.role, "--data-dir", f.dir); r.code != 0 {
			t.Fatalf("firewarden-server user add %s: exit %d: %s", u.name, r.code, r.stderr)
		}
	}
	s := f.serve(t, "127.0.0.1:0")
	s.putPolicy(t, wire.ModeReport)
	m := newDashMac(t, hosttest.Mac15(), "eeeeeeee-1111-4111-8111-000000000015", "kiosk-15")
	id := m.enroll(t, s, "kiosk")
	m.once(t, 1) // the preset's firewall is off: one failing check, one alert-free host
	// An exemption for a label the host does not have: the exemptions table has a row, the
	// host still fails.
	s.admin(t, "POST", "/api/v1/exemptions", map[string]any{
		"label": "venue", "check": "alf.enabled", "reason": "kiosks behind the venue's firewall",
		"expires": time.Now().UTC().AddDate(0, 1, 0).Format(time.RFC3339),
	}, nil)

	b := newBrowser(t, s.url())
	defer b.checkConsole()
	b.scripts(false)
	b.login("ada", dashPassword("ada"))
	for _, p := range []struct{ name, path, table string }{
		{"overview", "/", "table#per-check"},
		{"hosts", "/hosts", "table#hosts"},
		{"host", "/hosts/" + id, "table#results"},
		{"checks", "/checks", "table#checks"},
		{"check", "/checks/alf.enabled", "table#failing"},
		{"alerts", "/alerts", "table#alerts"},
		{"exemptions", "/exemptions", "table#exemptions"},
		{"report", "/report", "table#report-rows"},
		{"audit", "/audit", "table#audit"},
		{"settings", "/settings", "#users table"},
	} {
		t.Run(p.name, func(t *testing.T) {
			b := b.with(t)
			b.open(p.path)
			if b.count(p.table) != 1 {
				t.Errorf("%s without JavaScript: no %s", p.path, p.table)
			}
		})
	}
	b.open("/hosts")
	if got := status(b.text(fmt.Sprintf(`table#hosts tr[data-host=%q] td.status`, id))); got != "non_compliant" {
		t.Errorf("/hosts without JavaScript: host %s %q, want non_compliant", id, got)
	}
	// dash.js gives every <time> a title with the local time: none has one, so no script ran.
	if n, titled := b.count("time[datetime]"), b.count("time[title]"); n == 0 || titled > 0 {
		t.Errorf("/hosts without JavaScript: %d <time> elements, %d with a title; want some, none titled (scripts off)", n, titled)
	}

	// Tab from the top of the host page reaches the nudge button.
	b.scripts(true)
	b.open("/hosts/" + id)
	if b.count("time[title]") == 0 {
		t.Errorf("/hosts/%s with JavaScript: no <time> has a title; dash.js did not run", id)
	}
	reached := false
	for i := 0; i < 80 && !reached; i++ {
		b.key("\t")
		reached = eval[bool](b, `document.activeElement !== null && document.activeElement.matches('form#check-now button, form#check-now [type=submit]')`)
	}
	if !reached {
		t.Errorf("80 presses of Tab on /hosts/%s never focused the check-now button", id)
	}
}
