package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/server"
	"github.com/google/go-cmp/cmp"
)

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// browse is a client with a cookie jar over transport tr, following redirects as a browser
// does; get and post return the final URL, status and body.
type browse struct {
	t *testing.T
	c *http.Client
}

func newBrowse(t *testing.T, tr http.RoundTripper) *browse {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browse{t, &http.Client{Jar: jar, Transport: tr, Timeout: time.Minute}}
}

func (b *browse) do(req *http.Request) (string, int, string) {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.Request.URL.RequestURI(), resp.StatusCode, string(body)
}

func (b *browse) get(u string) (string, int, string) {
	b.t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	return b.do(req)
}

func (b *browse) post(u string, form url.Values) (string, int, string) {
	b.t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// session is the session cookie the jar holds for base.
func (b *browse) session(base string) string {
	u, _ := url.Parse(base)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == server.SessionCookie {
			return c.Value
		}
	}
	return ""
}

// TestDashboardLogin logs in to the real server over HTTPS with a cookie jar, as a browser
// would: a page sends the logged-out visitor to the login form and back, logout ends the
// session, and both are in the audit log.
func TestDashboardLogin(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	out, errs, code := runBin(t, "init", "--data-dir", dir, "--listen", "127.0.0.1:0", "--json")
	if code != 0 {
		t.Fatalf("init = %d: %s", code, errs)
	}
	var in initOut
	if err := json.Unmarshal([]byte(out), &in); err != nil {
		t.Fatalf("init output %q: %v", out, err)
	}
	const pw = "correct horse battery"
	if _, errs, code := runBinIn(t, pw+"\n", "user", "add", "ada", "--role", "admin", "--data-dir", dir); code != 0 {
		t.Fatalf("user add = %d: %s", code, errs)
	}
	s := serve(t, dir)
	base := "https://" + s.addr
	b := newBrowse(t, pinned(in.Fingerprint).Transport)

	loginFlow(t, b, base, pw)

	c := pinned(in.Fingerprint)
	code, body := call(t, c, "GET", base+"/api/v1/audit", in.AdminToken, nil)
	var audit struct {
		Audit []struct{ Actor, Action, Target string }
	}
	if err := json.Unmarshal(body, &audit); code != 200 || err != nil {
		t.Fatalf("GET audit = %d %s", code, body)
	}
	var got []string
	for _, a := range audit.Audit {
		if strings.HasPrefix(a.Action, "user.log") {
			got = append(got, a.Actor+" "+a.Action+" "+a.Target)
		}
	}
	if diff := cmp.Diff([]string{"ada user.login ada", "ada user.logout ada"}, got); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
	if !strings.Contains(s.stderr.String(), "dashboard login failed") {
		t.Errorf("the failed login is not in the server log:\n%s", s.stderr)
	}
}

// loginFlow: logged out → login form → wrong password → login → page → logout → logged out.
func loginFlow(t *testing.T, b *browse, base, pw string) {
	t.Helper()
	at, code, body := b.get(base + "/")
	if code != 200 || at != "/login?next=%2F" || !strings.Contains(body, `<form id="login"`) {
		t.Fatalf("GET / logged out ended at %s = %d, want the login form at /login?next=%%2F:\n%s", at, code, body)
	}
	at, code, body = b.post(base+"/login", url.Values{"user": {"ada"}, "password": {pw + "x"}, "next": {"/"}})
	if code != 403 || !strings.Contains(body, "wrong user name or password") || b.session(base) != "" {
		t.Fatalf("wrong password: %s = %d, want 403 and no session:\n%s", at, code, body)
	}
	at, code, body = b.post(base+"/login", url.Values{"user": {"ada"}, "password": {pw}, "next": {"/"}})
	if code != 200 || at != "/" || !strings.Contains(body, `<span class="who">ada`) || b.session(base) == "" {
		t.Fatalf("login ended at %s = %d, want / with ada logged in:\n%s", at, code, body)
	}
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the page has no CSRF field:\n%s", body)
	}
	at, code, _ = b.post(base+"/logout", url.Values{"csrf": {m[1]}})
	if code != 200 || at != "/login" || b.session(base) != "" {
		t.Errorf("logout ended at %s = %d with cookie %q, want /login and no cookie", at, code, b.session(base))
	}
	if at, _, _ := b.get(base + "/"); at != "/login?next=%2F" {
		t.Errorf("GET / after logout ended at %s, want /login?next=%%2F", at)
	}
}

// TestDashboardLoginPlainHTTP: behind a TLS-terminating proxy the server serves plain HTTP on
// loopback (--insecure-http). The session cookie stays Secure and __Host-: browsers, and Go's
// cookie jar, keep Secure cookies for http://localhost and loopback addresses, and the proxy's
// clients reach it over HTTPS.
func TestDashboardLoginPlainHTTP(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if _, errs, code := runBin(t, "init", "--data-dir", dir, "--listen", "127.0.0.1:0"); code != 0 {
		t.Fatalf("init = %d: %s", code, errs)
	}
	const pw = "correct horse battery"
	if _, errs, code := runBinIn(t, pw+"\n", "user", "add", "ada", "--role", "admin", "--data-dir", dir); code != 0 {
		t.Fatalf("user add = %d: %s", code, errs)
	}
	cmd := exec.Command(bin, "serve", "--data-dir", dir, "--listen", "127.0.0.1:0", "--insecure-http")
	pr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	var log bytes.Buffer
	addr := ""
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if m := regexp.MustCompile(`listening on http://(\S+)`).FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr); _ = cmd.Wait(); close(done) }()
	if addr == "" {
		t.Fatalf("serve --insecure-http printed no listening line: %s", log.String())
	}
	loginFlow(t, newBrowse(t, http.DefaultTransport), "http://"+addr, pw)
}
