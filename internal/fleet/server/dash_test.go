package server

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

// dashFixture is a server over the fake store with two dashboard users, each with a session:
// ada (admin) and aude (auditor). Page tests use get and post; dash_login_test.go tests how
// sessions are made.
type dashFixture struct {
	*fixture
	cookies map[string]string // user → session cookie value
	csrf    map[string]string // user → the session's CSRF token
}

func newDashFixture(t *testing.T) *dashFixture {
	t.Helper()
	d := &dashFixture{fixture: newFixture(t, Options{}), cookies: map[string]string{}, csrf: map[string]string{}}
	ctx := context.Background()
	for name, role := range map[string]string{"ada": store.RoleAdmin, "aude": store.RoleAuditor} {
		if err := d.st.AddUser(ctx, store.User{Name: name, Role: role, PasswordHash: "$test$", CreatedAt: t0}, "test"); err != nil {
			t.Fatal(err)
		}
		val, csrf := NewSecret("fws_"), NewSecret("fwc_")
		s := store.Session{Hash: Hash(val), User: name, CSRF: csrf, CreatedAt: t0, LastUsed: t0, Expires: t0.Add(24 * time.Hour)}
		if err := d.st.AddSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		d.cookies[name], d.csrf[name] = val, csrf
	}
	return d
}

// answer is what a test looks at in a response.
type answer struct {
	code    int
	loc     string
	body    string
	header  http.Header
	cookies []*http.Cookie
}

// send sends method path with the session cookie (if any), the form and the extra headers, and
// does not follow redirects.
func (d *dashFixture) send(t *testing.T, method, path, cookie string, form url.Values, hdr map[string]string) answer {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, d.ts.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: cookie})
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := d.ts.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header.Get("Location"), string(b), resp.Header, resp.Cookies()}
}

// request sends method path as user ("" for nobody) and returns the status, the Location
// header and the body. Redirects are not followed.
func (d *dashFixture) request(t *testing.T, method, path, user string, form url.Values) (int, string, string) {
	t.Helper()
	cookie := ""
	if user != "" {
		cookie = d.cookies[user]
		// The user is active: tests that move the clock are not logged out by the idle
		// timeout (dash_login_test.go tests it). A session a test ended stays ended.
		_ = d.st.TouchSession(context.Background(), Hash(cookie), d.clock.now())
	}
	a := d.send(t, method, path, cookie, form, nil)
	return a.code, a.loc, a.body
}

func (d *dashFixture) get(t *testing.T, path, user string) (int, string) {
	t.Helper()
	code, _, body := d.request(t, http.MethodGet, path, user, nil)
	return code, body
}

// post sends form as user with the user's CSRF token added (unless form sets csrf itself).
func (d *dashFixture) post(t *testing.T, path, user string, form url.Values) (int, string, string) {
	t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if !form.Has("csrf") {
		form.Set("csrf", d.csrf[user])
	}
	return d.request(t, http.MethodPost, path, user, form)
}

func TestDashFrame(t *testing.T) {
	d := newDashFixture(t)
	code, loc, _ := d.request(t, http.MethodGet, "/", "", nil)
	if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") {
		t.Errorf("GET / logged out = %d %q, want 303 to /login", code, loc)
	}
	for _, u := range []string{"ada", "aude"} {
		code, body := d.get(t, "/", u)
		if code != http.StatusOK || !strings.Contains(body, `<span class="who">`+u) {
			t.Errorf("GET / as %s = %d, want 200 with the user named; body:\n%s", u, code, body)
		}
	}
	code, _ = d.get(t, "/static/dash.css", "")
	if code != http.StatusOK {
		t.Errorf("GET /static/dash.css = %d, want 200 without a session", code)
	}
}
