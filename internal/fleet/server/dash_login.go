package server

// Dashboard accounts: the login form, logout, and the limits in front of password checks.
//
// A password check is argon2id at 64 MiB and ~90 ms (password.go), so what bounds the server's
// work is, in order: the per-address failure limiter the API shares (failauth.go), the per-user
// back-off kept in the store (so every replica enforces the same one), and a small semaphore on
// concurrent checks that caps memory whatever the other two let through.

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

// Session lifetimes: a login lasts at most sessionLifetime, and ends sooner once unused for
// sessionIdle. LastUsed is written at most once per sessionTouch, so that a busy page (the host
// page polls every second) does not write to the store on every request.
const (
	sessionLifetime = 12 * time.Hour
	sessionIdle     = 30 * time.Minute
	sessionTouch    = time.Minute
)

// Per-user back-off: once an account has backoffAfter consecutive failed logins, the next
// attempt waits 2^(n-backoffAfter) seconds from the last failure, at most backoffMax. During the
// wait no password is checked and nothing is counted, so the right password does not help and a
// guesser gains nothing by hammering; the owner waits at most a quarter of an hour.
const (
	backoffAfter = 5
	backoffMax   = 15 * time.Minute
)

// loginSlots bounds the password checks running at once: each holds 64 MiB for ~90 ms, so 4
// is 256 MiB at most and still ~40 logins a second on two cores.
const loginSlots = 4

// loginFormLimit bounds the login form's body: a name, a password of at most MaxPasswordLen
// bytes, the next path.
const loginFormLimit = 8 << 10

// msgWrongLogin is the one answer to a wrong name, a wrong password, a disabled account or an
// unreadable stored hash, so that the answer does not tell which.
const msgWrongLogin = "wrong user name or password"

func init() {
	dashRouteSets = append(dashRouteSets, func(s *Server, mux *http.ServeMux) {
		mux.Handle("GET /login", s.instrument(http.HandlerFunc(s.loginPage)))
		mux.Handle("POST /login", s.instrument(http.HandlerFunc(s.login)))
		mux.Handle("POST /logout", s.instrument(http.HandlerFunc(s.logout)))
	})
}

// loginData is what web/pages/login.html shows.
type loginData struct {
	User  string // the name typed, kept in the field after a failure
	Next  string // where to go after logging in: a local path
	Error string
}

// loginPage shows the login form. A logged-in user sees it too: logging in again replaces the
// session (another account, or a fresh twelve hours).
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	dashHeaders(w)
	s.renderLogin(w, r, http.StatusOK, loginData{Next: localPath(r.URL.Query().Get("next"))})
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, code int, data loginData) {
	s.render(w, r, &dashReq{Now: s.now().UTC(), Path: "/login"}, code, "login", "Log in", data)
}

// login checks a name and password and, when they are right, starts a new session.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	dashHeaders(w)
	r.Body = http.MaxBytesReader(w, r.Body, loginFormLimit)
	if err := r.ParseForm(); err != nil {
		s.renderLogin(w, r, http.StatusBadRequest, loginData{Error: "the form could not be read: " + err.Error()})
		return
	}
	name, pw := r.PostForm.Get("user"), r.PostForm.Get("password")
	data := loginData{User: name, Next: localPath(r.PostForm.Get("next"))}
	// A login form posted from another site would log the victim into the attacker's account.
	if msg := s.crossSite(r); msg != "" {
		data.Error = msg
		s.renderLogin(w, r, http.StatusForbidden, data)
		return
	}
	if name == "" || pw == "" {
		data.Error = "enter your user name and password"
		s.renderLogin(w, r, http.StatusBadRequest, data)
		return
	}
	now := s.now().UTC()
	addr := clientAddr(r, s.proxies)
	key := addrKey(addr)
	if s.failLim.blocked(key, now) {
		s.metrics.authLimited.Add(1)
		w.Header().Set("Retry-After", "60")
		data.Error = "too many failed logins from this address; wait a minute and try again"
		s.renderLogin(w, r, http.StatusTooManyRequests, data)
		return
	}

	// Look the account up, and choose the hash to check: the account's, or a dummy with the
	// same parameters for an unknown or disabled one, so that every answer costs one argon2id
	// check. Names longer than any account's (64 bytes) do not reach the store.
	u, err := store.User{}, store.ErrNotFound
	if len(name) <= 64 {
		u, err = s.st.UserByName(r.Context(), name)
	}
	exists := err == nil || errors.Is(err, store.ErrRevoked)
	if err != nil && !exists && !errors.Is(err, store.ErrNotFound) {
		s.loginInternal(w, r, data, fmt.Errorf("look the account up: %w", err))
		return
	}
	if exists {
		if wait := loginWait(u, now); wait > 0 {
			secs := int(math.Ceil(wait.Seconds()))
			w.Header().Set("Retry-After", fmt.Sprint(secs))
			s.log.Info("dashboard login refused: account backing off", "user", name, "addr", addr, "wait", wait.Round(time.Second), "failures", u.FailedLogins)
			data.Error = fmt.Sprintf("too many failed logins for this account; try again in %s", (time.Duration(secs) * time.Second).String())
			s.renderLogin(w, r, http.StatusTooManyRequests, data)
			return
		}
	}
	hash := s.dummyHash
	if err == nil {
		hash = u.PasswordHash
	}
	select {
	case s.loginSem <- struct{}{}:
	default:
		w.Header().Set("Retry-After", "1")
		data.Error = "the server is busy checking other logins; try again in a second"
		s.renderLogin(w, r, http.StatusServiceUnavailable, data)
		return
	}
	ok, herr := CheckPassword(hash, pw)
	<-s.loginSem
	if herr != nil {
		s.log.Error("dashboard login: unreadable password hash; set a new one with `firewarden-server user passwd`", "user", name, "err", herr)
	}
	if !ok || err != nil {
		s.loginFailed(w, r, data, name, addr, key, now, exists, err)
		return
	}

	// Success: always a new session, so a session value planted before login (fixation) never
	// becomes a logged-in one; the browser's previous session, if any, ends.
	if old, oerr := r.Cookie(SessionCookie); oerr == nil && old.Value != "" && len(old.Value) <= maxCookieLen {
		// A disabled user's sessions ended with the account; only a live one is left to end.
		if prev, _, perr := s.st.SessionByHash(r.Context(), Hash(old.Value), now); perr == nil {
			if derr := s.st.DeleteSession(r.Context(), Hash(old.Value), prev.User, now); derr != nil {
				s.log.Warn("dashboard login: end the previous session", "user", prev.User, "err", derr)
			}
		}
	}
	val := NewSecret("fws_")
	sess := store.Session{Hash: Hash(val), User: u.Name, CSRF: NewSecret("fwc_"), CreatedAt: now, LastUsed: now, Expires: now.Add(sessionLifetime)}
	if err := s.st.AddSession(r.Context(), sess); err != nil {
		s.loginInternal(w, r, data, fmt.Errorf("store the session: %w", err))
		return
	}
	s.log.Info("dashboard login", "user", u.Name, "addr", addr)
	http.SetCookie(w, sessionCookie(val))
	http.Redirect(w, r, data.Next, http.StatusSeeOther)
}

// loginFailed counts a failed login against the address and the account, logs it, and answers
// with the form and the one message for every kind of failure.
func (s *Server) loginFailed(w http.ResponseWriter, r *http.Request, data loginData, name string, addr netip.Addr, key netip.Prefix, now time.Time, exists bool, lookupErr error) {
	s.metrics.authFailures.Add(1)
	s.failLim.failed(key, now)
	reason := "wrong password"
	switch {
	case !exists:
		reason = "unknown user"
	case errors.Is(lookupErr, store.ErrRevoked):
		reason = "disabled user"
	}
	// LoginFailed is called for unknown names too (the store changes nothing and answers
	// ErrNotFound), so that both cost the same store round trip.
	u, err := s.st.LoginFailed(r.Context(), name, now)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Error("dashboard login: count the failure", "user", name, "err", err)
	}
	s.log.Warn("dashboard login failed", "user", name, "addr", addr, "reason", reason, "failures", u.FailedLogins)
	data.Error = msgWrongLogin
	s.renderLogin(w, r, http.StatusForbidden, data)
}

// loginInternal answers a login the server could not complete with the form and a 500.
func (s *Server) loginInternal(w http.ResponseWriter, r *http.Request, data loginData, err error) {
	if r.Context().Err() != nil {
		return // the client went away
	}
	s.log.Error("dashboard login failed", "user", data.User, "err", err)
	data.Error = "the server could not complete the login; its log says why"
	s.renderLogin(w, r, http.StatusInternalServerError, data)
}

// loginWait is how long u must still wait before a password is checked at now.
func loginWait(u store.User, now time.Time) time.Duration {
	n := u.FailedLogins - backoffAfter
	if n < 0 {
		return 0
	}
	wait := backoffMax
	if n < 20 { // 2^20 s is far past the cap
		wait = min(time.Duration(1<<n)*time.Second, backoffMax)
	}
	return u.LastFailedAt.Add(wait).Sub(now)
}

// logout ends the session. It needs the session's CSRF token like every form, so that another
// site cannot log a user out; auditors may log out too.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	d, ok := s.formSession(w, r)
	if !ok {
		return
	}
	if err := s.st.DeleteSession(r.Context(), d.Session.Hash, d.User.Name, d.Now); err != nil {
		s.internal(w, r, fmt.Errorf("logout %q: %w", d.User.Name, err))
		return
	}
	http.SetCookie(w, expiredSessionCookie())
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// sessionCookie carries a session value. No Max-Age or Expires: the cookie ends with the
// browser session, and the server ends the session after sessionLifetime or sessionIdle anyway.
// __Host- requires Secure, Path=/ and no Domain; browsers accept Secure cookies over HTTPS and
// from http://localhost (firewarden-server serve --insecure-http behind a TLS proxy).
func sessionCookie(val string) *http.Cookie {
	return &http.Cookie{Name: SessionCookie, Value: val, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode}
}

// expiredSessionCookie tells the browser to drop the session cookie.
func expiredSessionCookie() *http.Cookie {
	c := sessionCookie("")
	c.MaxAge = -1
	return c
}

// maxCookieLen bounds the session cookie value read: NewSecret makes 4 + 43 characters.
const maxCookieLen = 128

// localPath returns next when it is a path on this server, else "/": the login's redirect
// must not take a user who followed a crafted link to another site (an open redirect). A path
// starting with // or /\ is another host to browsers (they read \ as / in http URLs), and they
// drop tabs and line breaks, so "/\t/evil" is "//evil": any control character is refused.
func localPath(next string) string {
	if next == "" || len(next) > 2048 || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsRune(next, '\\') {
		return "/"
	}
	for i := 0; i < len(next); i++ {
		if next[i] < 0x20 || next[i] == 0x7f {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || u.User != nil {
		return "/"
	}
	return next
}
