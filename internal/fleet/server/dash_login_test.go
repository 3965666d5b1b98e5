package server

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/google/go-cmp/cmp"
)

const testPassword = "correct horse battery"

// testPasswordHash is a real argon2id hash of testPassword, made once: each costs ~90 ms.
var testPasswordHash = sync.OnceValue(func() string {
	h, err := HashPassword(testPassword)
	if err != nil {
		panic(err)
	}
	return h
})

// newLoginFixture is newDashFixture with real password hashes (testPassword for ada, aude and
// the disabled dora) and options o.
func newLoginFixture(t *testing.T, o Options) *dashFixture {
	t.Helper()
	f := &fixture{st: newFakeStore()}
	if o.FailRate == (Rate{}) {
		o.FailRate = Rate{PerSecond: 1e9, Burst: 1e9}
	}
	f.setup(t, o, f.st)
	d := &dashFixture{fixture: f, cookies: map[string]string{}, csrf: map[string]string{}}
	ctx := context.Background()
	for name, role := range map[string]string{"ada": store.RoleAdmin, "aude": store.RoleAuditor, "dora": store.RoleAdmin} {
		if err := d.st.AddUser(ctx, store.User{Name: name, Role: role, PasswordHash: testPasswordHash(), CreatedAt: t0}, "test"); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.st.DisableUser(ctx, "dora", "test", t0); err != nil {
		t.Fatal(err)
	}
	return d
}

// login posts the login form and returns the answer and the new session's cookie value ("" if
// none was set).
func (d *dashFixture) login(t *testing.T, user, pw, next string) (answer, string) {
	t.Helper()
	a := d.send(t, http.MethodPost, "/login", "", url.Values{"user": {user}, "password": {pw}, "next": {next}}, nil)
	for _, c := range a.cookies {
		if c.Name == SessionCookie && c.Value != "" {
			return a, c.Value
		}
	}
	return a, ""
}

// session returns the stored session of cookie value val.
func (d *dashFixture) session(val string) (store.Session, bool) {
	d.st.mu.Lock()
	defer d.st.mu.Unlock()
	s, ok := d.st.sessions[hex.EncodeToString(Hash(val))]
	return s, ok
}

func (d *dashFixture) user(t *testing.T, name string) store.User {
	t.Helper()
	d.st.mu.Lock()
	defer d.st.mu.Unlock()
	return d.st.users[name]
}

var userField = regexp.MustCompile(`name="user" value="[^"]*"`)

func TestLogin(t *testing.T) {
	tests := []struct {
		name, user, pw, next string
		wantCode             int
		wantLoc              string // for 303
		wantErr              string // in the page otherwise
	}{
		{"ok", "ada", testPassword, "", 303, "/", ""},
		{"ok auditor", "aude", testPassword, "", 303, "/", ""},
		{"ok next", "ada", testPassword, "/hosts?status=stale&sort=hostname", 303, "/hosts?status=stale&sort=hostname", ""},
		{"next protocol-relative", "ada", testPassword, "//evil.example/x", 303, "/", ""},
		{"next backslash", "ada", testPassword, `/\evil.example`, 303, "/", ""},
		{"next absolute", "ada", testPassword, "https://evil.example/", 303, "/", ""},
		{"next tab", "ada", testPassword, "/\t/evil.example", 303, "/", ""},
		{"next relative", "ada", testPassword, "hosts", 303, "/", ""},
		{"wrong password", "ada", "correct horse battery!", "", 403, "", msgWrongLogin},
		{"unknown user", "nobody", testPassword, "", 403, "", msgWrongLogin},
		{"disabled user", "dora", testPassword, "", 403, "", msgWrongLogin},
		{"long name", strings.Repeat("a", 65), testPassword, "", 403, "", msgWrongLogin},
		{"long password", "ada", strings.Repeat("x", MaxPasswordLen+1), "", 403, "", msgWrongLogin},
		{"no password", "ada", "", "", 400, "", "enter your user name and password"},
		{"no user", "", testPassword, "", 400, "", "enter your user name and password"},
	}
	d := newLoginFixture(t, Options{})
	failBodies := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, val := d.login(t, tt.user, tt.pw, tt.next)
			if a.code != tt.wantCode {
				t.Fatalf("POST /login %s = %d, want %d; body:\n%s", tt.user, a.code, tt.wantCode, a.body)
			}
			if tt.wantCode != 303 {
				if val != "" {
					t.Errorf("POST /login %s set a session cookie", tt.user)
				}
				if !strings.Contains(a.body, `<p class="error" role="alert">`+tt.wantErr+"</p>") || !strings.Contains(a.body, `<form id="login"`) {
					t.Errorf("POST /login %s: page lacks the form and %q:\n%s", tt.user, tt.wantErr, a.body)
				}
				if tt.wantCode == 403 {
					failBodies[tt.name] = userField.ReplaceAllString(a.body, `name="user" value="?"`)
				}
				return
			}
			if a.loc != tt.wantLoc {
				t.Errorf("POST /login next=%q: Location = %q, want %q", tt.next, a.loc, tt.wantLoc)
			}
			// The cookie, exactly: __Host- needs Secure, Path=/ and no Domain; no lifetime.
			raw := a.header.Values("Set-Cookie")
			want := []string{SessionCookie + "=" + val + "; Path=/; HttpOnly; Secure; SameSite=Strict"}
			if diff := cmp.Diff(want, raw); diff != "" || !strings.HasPrefix(val, "fws_") || len(val) != 47 {
				t.Errorf("Set-Cookie (-want +got):\n%s", diff)
			}
			s, ok := d.session(val)
			if !ok {
				t.Fatalf("no session stored for the cookie")
			}
			now := d.clock.now()
			wantS := store.Session{Hash: Hash(val), User: tt.user, CSRF: s.CSRF, CreatedAt: now, LastUsed: now, Expires: now.Add(12 * time.Hour)}
			if diff := cmp.Diff(wantS, s); diff != "" || !strings.HasPrefix(s.CSRF, "fwc_") {
				t.Errorf("stored session (-want +got):\n%s", diff)
			}
			// The session works, and shows the form's CSRF token.
			if a := d.send(t, http.MethodGet, "/", val, nil, nil); a.code != 200 || !strings.Contains(a.body, s.CSRF) {
				t.Errorf("GET / with the new session = %d, want 200 with the CSRF token", a.code)
			}
		})
	}
	// Unknown user, disabled user and wrong password read the same.
	for name, b := range failBodies {
		if diff := cmp.Diff(failBodies["wrong password"], b); diff != "" {
			t.Errorf("failed login %q differs from a wrong password (-wrong password +%s):\n%s", name, name, diff)
		}
	}
	// The failures were counted for the accounts that exist.
	if got := d.user(t, "ada").FailedLogins; got != 2 {
		t.Errorf("ada FailedLogins = %d, want 2", got)
	}
	if got := d.user(t, "dora").FailedLogins; got != 1 {
		t.Errorf("dora FailedLogins = %d, want 1", got)
	}
}

// TestLoginDummyHash: an unknown account is checked against a hash with the parameters of a
// real one, so that it takes as long.
func TestLoginDummyHash(t *testing.T) {
	s := New(newFakeStore(), Options{})
	got, _, _, err := parseHash(s.dummyHash)
	want, _, _, err2 := parseHash(testPasswordHash())
	if err != nil || err2 != nil || got != want {
		t.Errorf("dummy hash parameters = %+v, %v; want those of HashPassword %+v, %v", got, err, want, err2)
	}
	if ok, err := CheckPassword(s.dummyHash, testPassword); ok || err != nil {
		t.Errorf("CheckPassword(dummy, pw) = %v, %v; want false, nil", ok, err)
	}
}

func TestLoginBackoff(t *testing.T) {
	d := newLoginFixture(t, Options{})
	wrong := "not the password at all"
	for i := 1; i <= 5; i++ {
		if a, _ := d.login(t, "ada", wrong, ""); a.code != 403 {
			t.Fatalf("failure %d = %d, want 403", i, a.code)
		}
	}
	steps := []struct {
		name     string
		advance  time.Duration
		pw       string
		wantCode int
		wantWait string // Retry-After for 429
		wantN    int    // ada's FailedLogins after
	}{
		{"right password waits", 0, testPassword, 429, "1", 5},
		{"wrong password waits, not counted", 500 * time.Millisecond, wrong, 429, "1", 5},
		{"after 1 s a password is checked", 500 * time.Millisecond, wrong, 403, "", 6},
		{"then 2 s", time.Second, testPassword, 429, "1", 6},
		{"2 s later checked again", time.Second, wrong, 403, "", 7},
		{"then 4 s", 0, testPassword, 429, "4", 7},
		{"lifted after the wait", 4 * time.Second, testPassword, 303, "", 0},
		{"a success starts afresh", 0, wrong, 403, "", 1},
	}
	for _, st := range steps {
		d.clock.add(st.advance)
		a, _ := d.login(t, "ada", st.pw, "")
		if a.code != st.wantCode || a.header.Get("Retry-After") != st.wantWait {
			t.Errorf("%s: POST /login = %d Retry-After %q, want %d %q; body:\n%s", st.name, a.code, a.header.Get("Retry-After"), st.wantCode, st.wantWait, a.body)
		}
		if st.wantCode == 429 && !strings.Contains(a.body, "too many failed logins for this account; try again in "+st.wantWait+"s") {
			t.Errorf("%s: page does not say how long to wait:\n%s", st.name, a.body)
		}
		if n := d.user(t, "ada").FailedLogins; n != st.wantN {
			t.Errorf("%s: FailedLogins = %d, want %d", st.name, n, st.wantN)
		}
	}
}

func TestLoginWait(t *testing.T) {
	at := t0
	tests := []struct {
		failures int
		now      time.Time
		want     time.Duration
	}{
		{0, at, 0}, {4, at, 0}, {5, at, time.Second}, {6, at, 2 * time.Second},
		{6, at.Add(1500 * time.Millisecond), 500 * time.Millisecond}, {6, at.Add(3 * time.Second), -time.Second},
		{14, at, 512 * time.Second}, {15, at, 15 * time.Minute}, {25, at, 15 * time.Minute}, {1000, at, 15 * time.Minute},
	}
	for _, tt := range tests {
		if got := loginWait(store.User{FailedLogins: tt.failures, LastFailedAt: at}, tt.now); got != tt.want {
			t.Errorf("loginWait(%d failures, +%v) = %v, want %v", tt.failures, tt.now.Sub(at), got, tt.want)
		}
	}
}

// The per-address limiter of the API covers logins too: names unknown or known.
func TestLoginAddressLimit(t *testing.T) {
	d := newLoginFixture(t, Options{FailRate: Rate{PerSecond: 1.0 / 60, Burst: 2}})
	for _, u := range []string{"nobody", "somebody"} {
		if a, _ := d.login(t, u, "guess guess guess", ""); a.code != 403 {
			t.Fatalf("login %s = %d, want 403", u, a.code)
		}
	}
	a, val := d.login(t, "ada", testPassword, "")
	if a.code != 429 || val != "" || !strings.Contains(a.body, "too many failed logins from this address") {
		t.Errorf("third login from the address = %d (cookie %v), want 429 and no session; body:\n%s", a.code, val != "", a.body)
	}
	d.clock.add(time.Minute)
	if a, val := d.login(t, "ada", testPassword, ""); a.code != 303 || val == "" {
		t.Errorf("login after a minute = %d, want 303 with a session", a.code)
	}
}

// Password checks beyond loginSlots at once are refused, not queued: each holds 64 MiB.
func TestLoginBusy(t *testing.T) {
	d := newLoginFixture(t, Options{})
	for range cap(d.srv.loginSem) {
		d.srv.loginSem <- struct{}{}
	}
	a, val := d.login(t, "ada", testPassword, "")
	for range cap(d.srv.loginSem) {
		<-d.srv.loginSem
	}
	if a.code != 503 || val != "" || a.header.Get("Retry-After") == "" || !strings.Contains(a.body, "busy") {
		t.Errorf("login with every slot taken = %d Retry-After %q, want 503 with a wait; body:\n%s", a.code, a.header.Get("Retry-After"), a.body)
	}
	if n := d.user(t, "ada").FailedLogins; n != 0 {
		t.Errorf("a busy answer counted %d failures", n)
	}
	if a, _ := d.login(t, "ada", testPassword, ""); a.code != 303 {
		t.Errorf("login with free slots = %d, want 303", a.code)
	}
}

func TestLoginReplacesSession(t *testing.T) {
	d := newLoginFixture(t, Options{})
	_, first := d.login(t, "ada", testPassword, "")
	a := d.send(t, http.MethodPost, "/login", first, url.Values{"user": {"aude"}, "password": {testPassword}}, nil)
	var second string
	for _, c := range a.cookies {
		if c.Name == SessionCookie {
			second = c.Value
		}
	}
	if a.code != 303 || second == "" || second == first {
		t.Fatalf("login while logged in = %d, new cookie %q, want 303 and a new value", a.code, second)
	}
	if _, ok := d.session(first); ok {
		t.Errorf("the previous session is still stored")
	}
	if s, ok := d.session(second); !ok || s.User != "aude" {
		t.Errorf("new session = %+v, %v; want aude's", s, ok)
	}
}

func TestSessionLifetime(t *testing.T) {
	d := newLoginFixture(t, Options{})
	steps := []struct {
		name    string
		advance time.Duration
		want    int
	}{
		{"fresh", 0, 200},
		{"29 min idle", 29 * time.Minute, 200},
		{"29 more: the last use counts", 29 * time.Minute, 200},
		{"30 s later, not touched again", 30 * time.Second, 200},
		{"29.5 min after the last touch", 29*time.Minute + 30*time.Second, 303},
	}
	_, val := d.login(t, "ada", testPassword, "")
	for _, st := range steps {
		d.clock.add(st.advance)
		a := d.send(t, http.MethodGet, "/?q=a", val, nil, nil)
		if st.want == 303 {
			// The idle session is over; the answer is the login page with the way back.
			if a.code != 303 || a.loc != "/login?next=%2F%3Fq%3Da" {
				t.Errorf("%s: GET = %d %q, want 303 to /login?next=%%2F%%3Fq%%3Da", st.name, a.code, a.loc)
			}
			continue
		}
		if a.code != 200 {
			t.Errorf("%s: GET = %d %q, want the page", st.name, a.code, a.loc)
		}
	}

	// Absolute expiry: used every 20 minutes, the session still ends after 12 hours.
	d.clock.add(time.Hour)
	_, val = d.login(t, "ada", testPassword, "")
	start := d.clock.now()
	for d.clock.now().Sub(start) < 12*time.Hour-20*time.Minute {
		d.clock.add(20 * time.Minute)
		if a := d.send(t, http.MethodGet, "/", val, nil, nil); a.code != 200 {
			t.Fatalf("GET / at +%v = %d, want 200", d.clock.now().Sub(start), a.code)
		}
	}
	d.clock.add(20 * time.Minute)
	if a := d.send(t, http.MethodGet, "/", val, nil, nil); a.code != 303 || a.loc != "/login?next=%2F" || !expired(a.cookies) {
		t.Errorf("GET / after 12 h = %d %q, want 303 to /login?next=%%2F dropping the cookie", a.code, a.loc)
	}

	// A disabled user's session stops at once.
	_, val = d.login(t, "aude", testPassword, "")
	if err := d.st.DisableUser(context.Background(), "aude", "test", d.clock.now()); err != nil {
		t.Fatal(err)
	}
	if a := d.send(t, http.MethodGet, "/", val, nil, nil); a.code != 303 || !strings.HasPrefix(a.loc, "/login") {
		t.Errorf("GET / after aude was disabled = %d %q, want 303 to /login", a.code, a.loc)
	}
}

func expired(cs []*http.Cookie) bool {
	for _, c := range cs {
		if c.Name == SessionCookie && c.Value == "" && c.MaxAge < 0 {
			return true
		}
	}
	return false
}

func TestLogout(t *testing.T) {
	d := newLoginFixture(t, Options{})
	_, other := d.login(t, "ada", testPassword, "")
	adaS, _ := d.session(other)
	_, val := d.login(t, "aude", testPassword, "")
	s, _ := d.session(val)
	for _, tt := range []struct {
		name string
		form url.Values
	}{
		{"no csrf", url.Values{}},
		{"wrong csrf", url.Values{"csrf": {s.CSRF + "x"}}},
		{"another session's csrf", url.Values{"csrf": {adaS.CSRF}}},
	} {
		if a := d.send(t, http.MethodPost, "/logout", val, tt.form, nil); a.code != 403 || !strings.Contains(a.body, html.EscapeString(msgBadCSRF)) {
			t.Errorf("logout %s = %d, want 403 with %q", tt.name, a.code, msgBadCSRF)
		}
	}
	if _, ok := d.session(val); !ok {
		t.Fatalf("a refused logout ended the session")
	}
	// An auditor may log out.
	a := d.send(t, http.MethodPost, "/logout", val, url.Values{"csrf": {s.CSRF}}, nil)
	if a.code != 303 || a.loc != "/login" || !expired(a.cookies) {
		t.Errorf("logout = %d %q (cookie dropped %v), want 303 to /login dropping the cookie", a.code, a.loc, expired(a.cookies))
	}
	if got := a.header.Values("Set-Cookie"); len(got) != 1 || got[0] != SessionCookie+"=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict" {
		t.Errorf("logout Set-Cookie = %q", got)
	}
	if _, ok := d.session(val); ok {
		t.Errorf("the session is still stored after logout")
	}
	if a := d.send(t, http.MethodGet, "/", val, nil, nil); a.code != 303 {
		t.Errorf("GET / with the logged-out cookie = %d, want 303", a.code)
	}
	if a := d.send(t, http.MethodPost, "/logout", val, url.Values{"csrf": {s.CSRF}}, nil); a.code != 303 || a.loc != "/login" {
		t.Errorf("logout again = %d %q, want 303 to /login", a.code, a.loc)
	}
	audit, _ := d.st.AuditLog(context.Background(), time.Time{})
	var got []string
	for _, a := range audit {
		if strings.HasPrefix(a.Action, "user.log") {
			got = append(got, a.Actor+" "+a.Action+" "+a.Target)
		}
	}
	if diff := cmp.Diff([]string{"ada user.login ada", "aude user.login aude", "aude user.logout aude"}, got); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

// A test-only action, so that dashAction is tested before any page has one.
func init() {
	dashRouteSets = append(dashRouteSets, func(s *Server, mux *http.ServeMux) {
		mux.Handle("POST /test/action", s.dashAction(func(w http.ResponseWriter, r *http.Request, d *dashReq) {
			_, _ = io.WriteString(w, "done by "+d.User.Name)
		}))
	})
}

func TestDashAction(t *testing.T) {
	d := newDashFixture(t)
	own := d.ts.URL // https://127.0.0.1:PORT
	tests := []struct {
		name     string
		user     string
		csrf     string // "" = the user's own
		hdr      map[string]string
		wantCode int
		wantBody string
	}{
		{"admin", "ada", "", nil, 200, "done by ada"},
		{"admin same origin", "ada", "", map[string]string{"Origin": own, "Sec-Fetch-Site": "same-origin"}, 200, "done by ada"},
		{"auditor", "aude", "", nil, 403, "auditors can read everything and change nothing"},
		{"auditor same origin", "aude", "", map[string]string{"Origin": own}, 403, "auditors can read everything"},
		{"no csrf", "ada", "-", nil, 403, msgBadCSRF},
		{"wrong csrf", "ada", "fwc_wrong", nil, 403, msgBadCSRF},
		{"auditor's csrf", "ada", "aude", nil, 403, msgBadCSRF},
		{"other origin", "ada", "", map[string]string{"Origin": "https://evil.example"}, 403, "not from this server"},
		{"other scheme", "ada", "", map[string]string{"Origin": strings.Replace(own, "https:", "http:", 1)}, 403, "not from this server"},
		{"null origin", "ada", "", map[string]string{"Origin": "null"}, 403, "not from this server"},
		{"cross-site fetch", "ada", "", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, "from another site"},
		{"same-site fetch", "ada", "", map[string]string{"Sec-Fetch-Site": "same-site"}, 403, "from another site"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := url.Values{"csrf": {d.csrf[tt.user]}}
			switch tt.csrf {
			case "":
			case "-":
				form = url.Values{}
			case "aude":
				form.Set("csrf", d.csrf["aude"])
			default:
				form.Set("csrf", tt.csrf)
			}
			a := d.send(t, http.MethodPost, "/test/action", d.cookies[tt.user], form, tt.hdr)
			if a.code != tt.wantCode || !strings.Contains(a.body, html.EscapeString(tt.wantBody)) {
				t.Errorf("POST /test/action as %s = %d, want %d with %q; body:\n%s", tt.user, a.code, tt.wantCode, tt.wantBody, a.body)
			}
		})
	}
	t.Run("logged out", func(t *testing.T) {
		if a := d.send(t, http.MethodPost, "/test/action", "", url.Values{"csrf": {d.csrf["ada"]}}, nil); a.code != 303 || a.loc != "/login" {
			t.Errorf("logged-out POST = %d %q, want 303 to /login", a.code, a.loc)
		}
		if a := d.send(t, http.MethodPost, "/test/action", "fws_forged", url.Values{"csrf": {d.csrf["ada"]}}, nil); a.code != 303 || a.loc != "/login" || !expired(a.cookies) {
			t.Errorf("POST with an unknown session = %d %q, want 303 to /login dropping the cookie", a.code, a.loc)
		}
	})
}

// A login form posted from another site is refused: it would log the victim into the
// attacker's account.
func TestLoginCrossSite(t *testing.T) {
	d := newLoginFixture(t, Options{})
	form := url.Values{"user": {"ada"}, "password": {testPassword}}
	for _, hdr := range []map[string]string{{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}} {
		if a := d.send(t, http.MethodPost, "/login", "", form, hdr); a.code != 403 || len(a.cookies) != 0 {
			t.Errorf("login with %v = %d (cookies %d), want 403 and no cookie", hdr, a.code, len(a.cookies))
		}
	}
	if a := d.send(t, http.MethodPost, "/login", "", form, map[string]string{"Origin": d.ts.URL, "Sec-Fetch-Site": "same-origin"}); a.code != 303 {
		t.Errorf("login from the server's own page = %d, want 303", a.code)
	}
}

func TestOwnOrigin(t *testing.T) {
	proxy := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name    string
		proxies []netip.Prefix
		peer    string
		tls     bool
		host    string
		hdr     map[string]string
		want    string
	}{
		{"tls", nil, "192.0.2.1:5000", true, "fw.example:8443", nil, "https://fw.example:8443"},
		{"tls default port", nil, "192.0.2.1:5000", true, "fw.example:443", nil, "https://fw.example"},
		{"plain loopback", nil, "127.0.0.1:5000", false, "127.0.0.1:8080", nil, "http://127.0.0.1:8080"},
		{"forwarded, untrusted peer", proxy, "192.0.2.1:5000", false, "127.0.0.1:8080",
			map[string]string{"X-Forwarded-Host": "fw.example", "X-Forwarded-Proto": "https"}, "http://127.0.0.1:8080"},
		{"forwarded, no proxies", nil, "10.1.1.1:5000", false, "127.0.0.1:8080",
			map[string]string{"X-Forwarded-Host": "fw.example", "X-Forwarded-Proto": "https"}, "http://127.0.0.1:8080"},
		{"forwarded by a trusted proxy", proxy, "10.1.1.1:5000", false, "127.0.0.1:8080",
			map[string]string{"X-Forwarded-Host": "fw.example", "X-Forwarded-Proto": "HTTPS"}, "https://fw.example"},
		{"forwarded lists", proxy, "10.1.1.1:5000", false, "127.0.0.1:8080",
			map[string]string{"X-Forwarded-Host": "fw.example, inner", "X-Forwarded-Proto": "https,http"}, "https://fw.example"},
		{"proto only", proxy, "[::ffff:10.1.1.1]:5000", false, "fw.example",
			map[string]string{"X-Forwarded-Proto": "https"}, "https://fw.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(newFakeStore(), Options{TrustedProxies: tt.proxies})
			r := httptest.NewRequest(http.MethodPost, "/x", nil)
			r.RemoteAddr, r.Host = tt.peer, tt.host
			r.TLS = nil
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			for k, v := range tt.hdr {
				r.Header.Set(k, v)
			}
			if got := s.ownOrigin(r); got != tt.want {
				t.Errorf("ownOrigin(%s) = %q, want %q", tt.name, got, tt.want)
			}
			r.Header.Set("Origin", tt.want)
			if msg := s.crossSite(r); msg != "" {
				t.Errorf("crossSite with Origin %s = %q, want none", tt.want, msg)
			}
		})
	}
}

// Every dashboard answer carries the strict CSP, whatever it is.
func TestDashHeaders(t *testing.T) {
	d := newLoginFixture(t, Options{})
	_, val := d.login(t, "ada", testPassword, "")
	tests := []struct {
		name, method, path, cookie string
		form                       url.Values
		want                       int
	}{
		{"login page", "GET", "/login?next=/hosts", "", nil, 200},
		{"failed login", "POST", "/login", "", url.Values{"user": {"x"}, "password": {"y"}}, 403},
		{"login", "POST", "/login", "", url.Values{"user": {"ada"}, "password": {testPassword}}, 303},
		{"logged-out page", "GET", "/", "", nil, 303},
		{"page", "GET", "/", val, nil, 200},
		{"refused action", "POST", "/test/action", val, url.Values{}, 403},
		{"logout refused", "POST", "/logout", val, url.Values{}, 403},
	}
	for _, tt := range tests {
		a := d.send(t, tt.method, tt.path, tt.cookie, tt.form, nil)
		csp := a.header.Get("Content-Security-Policy")
		if a.code != tt.want || !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
			a.header.Get("X-Content-Type-Options") != "nosniff" || a.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s = %d, CSP %q; want %d with the dashboard's headers", tt.method, tt.path, a.code, csp, tt.want)
		}
	}
}

func TestLocalPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "/"}, {"/", "/"}, {"/hosts", "/hosts"}, {"/hosts?q=a&sort=id", "/hosts?q=a&sort=id"},
		{"/hosts/h-1#evidence", "/hosts/h-1#evidence"}, {"/a%2F%2Fb", "/a%2F%2Fb"},
		{"//evil.example", "/"}, {"///evil.example", "/"}, {`/\evil.example`, "/"}, {`/a\b`, "/"},
		{"https://evil.example/", "/"}, {"javascript:alert(1)", "/"}, {"hosts", "/"},
		{"/\t/evil.example", "/"}, {"/\n/evil.example", "/"}, {"/\x00", "/"}, {"/\x7f", "/"},
		{"/" + strings.Repeat("a", 2048), "/"}, {"/%zz", "/"},
	}
	for _, tt := range tests {
		if got := localPath(tt.in); got != tt.want {
			t.Errorf("localPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzLocalPath: whatever next is, the redirect stays on this server.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"", "/", "/hosts?q=a", "//evil.example", `/\evil`, "https://evil.example", "/\t/evil", "/a/../b", "/%2F%2Fevil"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://fw.example/login")
	f.Fuzz(func(t *testing.T, next string) {
		got := localPath(next)
		if got != "/" && got != next {
			t.Fatalf("localPath(%q) = %q, want it or /", next, got)
		}
		// What a browser would follow: resolved against the page, cleaned the way
		// http.Redirect cleans it, and with the characters browsers drop removed.
		r := httptest.NewRecorder()
		http.Redirect(r, httptest.NewRequest("POST", "/login", nil), got, http.StatusSeeOther)
		loc := strings.NewReplacer("\t", "", "\n", "", "\r", "", `\`, "/").Replace(r.Header().Get("Location"))
		u, err := base.Parse(loc)
		if err != nil {
			t.Fatalf("localPath(%q) = %q: Location %q does not parse: %v", next, got, loc, err)
		}
		if u.Host != "fw.example" || u.Scheme != "https" {
			t.Fatalf("localPath(%q) = %q: Location %q leads to %s://%s", next, got, loc, u.Scheme, u.Host)
		}
	})
}

func TestPruneSessions(t *testing.T) {
	d := newDashFixture(t)
	ctx := context.Background()
	old := store.Session{Hash: Hash("fws_old"), User: "ada", CSRF: "c", CreatedAt: t0.Add(-13 * time.Hour), LastUsed: t0.Add(-13 * time.Hour), Expires: t0.Add(-time.Hour)}
	if err := d.st.AddSession(ctx, old); err != nil {
		t.Fatal(err)
	}
	d.srv.prune(ctx, 90*24*time.Hour)
	if _, ok := d.session("fws_old"); ok {
		t.Errorf("prune kept a session that expired an hour ago")
	}
	if _, ok := d.session(d.cookies["ada"]); !ok {
		t.Errorf("prune removed a live session")
	}
}

// failingSessions is a store that cannot add sessions.
type failingSessions struct{ *fakeStore }

func (failingSessions) AddSession(context.Context, store.Session) error {
	return errors.New("database is down")
}

// A login the store cannot record answers the form with a 500 and sets no cookie.
func TestLoginStoreDown(t *testing.T) {
	f := &fixture{st: newFakeStore()}
	f.setup(t, Options{}, failingSessions{f.st})
	d := &dashFixture{fixture: f}
	if err := d.st.AddUser(context.Background(), store.User{Name: "ada", Role: store.RoleAdmin, PasswordHash: testPasswordHash(), CreatedAt: t0}, "test"); err != nil {
		t.Fatal(err)
	}
	a, val := d.login(t, "ada", testPassword, "")
	if a.code != 500 || val != "" || !strings.Contains(a.body, `<form id="login"`) || !strings.Contains(a.body, "could not complete the login") {
		t.Errorf("login with the store down = %d (cookie %v), want 500 with the form; body:\n%s", a.code, val != "", a.body)
	}
}

// BenchmarkLogin measures a login through the handler, right and wrong password and unknown
// user: each is one argon2id check, which is the point (an unknown name costs what a known one
// does).
func BenchmarkLogin(b *testing.B) {
	st := newFakeStore()
	s := New(st, Options{FailRate: Rate{PerSecond: 1e9, Burst: 1e9}, Now: func() time.Time { return t0 }})
	if err := st.AddUser(context.Background(), store.User{Name: "ada", Role: store.RoleAdmin, PasswordHash: testPasswordHash(), CreatedAt: t0}, "test"); err != nil {
		b.Fatal(err)
	}
	h := s.Handler()
	for _, bc := range []struct {
		name, user, pw string
		want           int
	}{
		{"ok", "ada", testPassword, 303},
		{"wrong password", "ada", "not the password", 403},
		{"unknown user", "nobody", "not the password", 403},
	} {
		b.Run(bc.name, func(b *testing.B) {
			body := url.Values{"user": {bc.user}, "password": {bc.pw}}.Encode()
			for b.Loop() {
				// Reset the account so the back-off never starts.
				st.mu.Lock()
				u := st.users["ada"]
				u.FailedLogins = 0
				st.users["ada"] = u
				st.mu.Unlock()
				r := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(body))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != bc.want {
					b.Fatalf("POST /login = %d, want %d", w.Code, bc.want)
				}
			}
		})
	}
}
