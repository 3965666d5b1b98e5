package server

// The dashboard: server-rendered pages over the same store calls and write paths as the admin
// API. This file is its frame: the embedded templates and assets, the request every page
// handler receives, session authentication with CSRF on every POST, and rendering. Pages live
// in dash_*.go, one file per page, with their template in web/pages/NAME.html.

import (
	"bytes"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

//go:embed web
var webFS embed.FS

// SessionCookie is the dashboard's session cookie. The __Host- prefix makes browsers accept it
// only with Secure, Path=/ and no Domain, so a sibling host cannot set or read it.
const SessionCookie = "__Host-fw_session"

// dashReq is what every dashboard handler gets: who is logged in and the request's instant.
type dashReq struct {
	User    store.User
	Session store.Session
	Now     time.Time // UTC, read once per request so a page is consistent with itself
	Path    string    // the request path, for the navigation's current page
}

// Admin reports whether the user may change things; templates hide write forms from auditors
// (the handlers refuse them anyway).
func (d *dashReq) Admin() bool { return d.User.Role == store.RoleAdmin }

// CSRF is the session's token for the hidden field of every form.
func (d *dashReq) CSRF() string { return d.Session.CSRF }

// dashHandler is a dashboard page or action.
type dashHandler func(w http.ResponseWriter, r *http.Request, d *dashReq)

// pageData is what a page template executes with: the request and the page's own data.
type pageData struct {
	*dashReq
	Title string
	Data  any
}

// templates holds one template set per page: the layout and partials, with the page's
// "content" (and optional "head") definitions added.
var templates = mustParseTemplates()

var templateFuncs = template.FuncMap{
	// when renders an instant in UTC inside <time>; dash.js puts the local time in its title.
	"when": func(t time.Time) template.HTML {
		if t.IsZero() {
			return template.HTML(`<span class="never">never</span>`)
		}
		t = t.UTC()
		return template.HTML(fmt.Sprintf(`<time datetime="%s">%s</time>`, t.Format(time.RFC3339), t.Format("2006-01-02 15:04 UTC")))
	},
	// query builds a link's query string from key, value pairs, leaving out empty values.
	"query": func(kv ...string) template.URL {
		q := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				q.Set(kv[i], kv[i+1])
			}
		}
		if len(q) == 0 {
			return ""
		}
		return template.URL("?" + q.Encode())
	},
	"join":     strings.Join,
	"navItems": func() []navItem { return navigation },
}

// navItem is one entry of the navigation bar.
type navItem struct{ Name, Path string }

var navigation = []navItem{
	{"Overview", "/"}, {"Hosts", "/hosts"}, {"Checks", "/checks"}, {"Alerts", "/alerts"},
	{"Exemptions", "/exemptions"}, {"Report", "/report"}, {"Audit log", "/audit"}, {"Settings", "/settings"},
}

// Current reports whether the navigation entry at path is the page being shown (or its parent).
func (d *dashReq) Current(path string) bool {
	if path == "/" {
		return d.Path == "/"
	}
	return d.Path == path || strings.HasPrefix(d.Path, path+"/")
}

func mustParseTemplates() map[string]*template.Template {
	base := template.Must(template.New("layout.html").Funcs(templateFuncs).ParseFS(webFS, "web/*.html"))
	pages, err := fs.Glob(webFS, "web/pages/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]*template.Template{}
	for _, p := range pages {
		name := strings.TrimSuffix(p[len("web/pages/"):], ".html")
		out[name] = template.Must(template.Must(base.Clone()).ParseFS(webFS, p))
	}
	return out
}

// render executes page name in the layout and writes it only when it executed whole, so that a
// template error is a 500, not half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, d *dashReq, code int, name, title string, data any) {
	t, ok := templates[name]
	if !ok {
		s.internal(w, r, fmt.Errorf("no template %q", name))
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", pageData{d, title, data}); err != nil {
		s.internal(w, r, fmt.Errorf("render %s: %w", name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// dashError shows msg on an error page with status code (a form's bad input, a missing host).
func (s *Server) dashError(w http.ResponseWriter, r *http.Request, d *dashReq, code int, msg string) {
	s.render(w, r, d, code, "error", http.StatusText(code), msg)
}

// dashPage serves GET pages to any logged-in user; a request without a valid session is sent
// to the login page, back here after.
func (s *Server) dashPage(h dashHandler) http.Handler {
	return s.instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dashHeaders(w)
		d, ok := s.dashSession(w, r)
		if !ok {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		h(w, r, d)
	}))
}

// dashAction serves POST actions: an admin's session, a request from this site (Origin and
// Sec-Fetch-Site) and the session's CSRF token are all required. An auditor sees everything and
// changes nothing. A logged-out POST goes to the login page: its form is lost, which beats
// replaying it after the login.
func (s *Server) dashAction(h dashHandler) http.Handler {
	return s.instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, ok := s.formSession(w, r)
		if !ok {
			return
		}
		if !d.Admin() {
			s.dashError(w, r, d, http.StatusForbidden, "auditors can read everything and change nothing; ask an admin")
			return
		}
		h(w, r, d)
	}))
}

const msgBadCSRF = "the form's CSRF token is missing or stale; reload the page and try again"

// formSession is the gate of every form post (actions and logout): the security headers, a
// session (else to the login page), the form read within adminLimit, a request from this site
// and the session's CSRF token. It has answered the request when it returns false.
func (s *Server) formSession(w http.ResponseWriter, r *http.Request) (*dashReq, bool) {
	dashHeaders(w)
	d, ok := s.dashSession(w, r)
	if !ok {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, adminLimit)
	if err := r.ParseForm(); err != nil {
		s.dashError(w, r, d, http.StatusBadRequest, "the form could not be read: "+err.Error())
		return nil, false
	}
	if msg := s.crossSite(r); msg != "" {
		s.dashError(w, r, d, http.StatusForbidden, msg)
		return nil, false
	}
	if !validCSRF(r, d) {
		s.dashError(w, r, d, http.StatusForbidden, msgBadCSRF)
		return nil, false
	}
	return d, true
}

// validCSRF checks the form's token against the session's, in constant time.
func validCSRF(r *http.Request, d *dashReq) bool {
	tok := r.PostForm.Get("csrf")
	return tok != "" && d.Session.CSRF != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(d.Session.CSRF)) == 1
}

// crossSite returns why a form post did not come from this server's own pages, or "". Browsers
// mark a request's origin in Sec-Fetch-Site and Origin; a request with neither (curl, old
// browsers) is judged by its CSRF token alone, which another site cannot read.
func (s *Server) crossSite(r *http.Request) string {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return "the form was sent from another site (Sec-Fetch-Site: " + site + "); use the dashboard's own pages"
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return ""
	}
	if own := s.ownOrigin(r); !strings.EqualFold(origin, own) {
		return fmt.Sprintf("the form was sent from %s, not from this server (%s); behind a reverse proxy, "+
			"name it with --trusted-proxy and have it set X-Forwarded-Host and X-Forwarded-Proto", origin, own)
	}
	return ""
}

// ownOrigin is the scheme and host the browser used to reach this server: the request's own,
// or, from a trusted proxy (--trusted-proxy) only, the proxy's X-Forwarded-Proto and
// X-Forwarded-Host (the first of a list: the hop nearest the browser).
func (s *Server) ownOrigin(r *http.Request) string {
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if len(s.proxies) > 0 && trusted(s.proxies, peerAddr(r)) {
		if p, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ","); strings.TrimSpace(p) != "" {
			scheme = strings.ToLower(strings.TrimSpace(p))
		}
		if h, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Host"), ","); strings.TrimSpace(h) != "" {
			host = strings.TrimSpace(h)
		}
	}
	// Browsers leave the default port out of Origin.
	if p := ":" + map[string]string{"https": "443", "http": "80"}[scheme]; strings.HasSuffix(host, p) {
		host = strings.TrimSuffix(host, p)
	}
	return scheme + "://" + host
}

// peerAddr is the TCP peer's address (not X-Forwarded-For's).
func peerAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// dashSession finds the request's session. It is valid when the store has it, unexpired, its
// user is not disabled, and it was used within sessionIdle. A cookie that names no valid session
// is dropped, so that the browser stops sending it.
func (s *Server) dashSession(w http.ResponseWriter, r *http.Request) (*dashReq, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return nil, false
	}
	if len(c.Value) > maxCookieLen {
		http.SetCookie(w, expiredSessionCookie())
		return nil, false
	}
	now := s.now().UTC()
	hash := Hash(c.Value)
	sess, u, err := s.st.SessionByHash(r.Context(), hash, now)
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrRevoked):
		http.SetCookie(w, expiredSessionCookie())
		return nil, false
	case err != nil:
		s.log.Error("dashboard session", "err", err)
		return nil, false
	}
	if !sameHash(sess.Hash, hash) || u.Name != sess.User || !u.DisabledAt.IsZero() || !now.Before(sess.Expires) || now.Sub(sess.LastUsed) >= sessionIdle {
		http.SetCookie(w, expiredSessionCookie())
		return nil, false
	}
	if now.Sub(sess.LastUsed) >= sessionTouch {
		if err := s.st.TouchSession(r.Context(), hash, now); err != nil {
			s.log.Warn("dashboard session: record its use", "user", sess.User, "err", err)
		}
		sess.LastUsed = now
	}
	return &dashReq{User: u, Session: sess, Now: now, Path: r.URL.Path}, true
}

// dashHeaders keeps pages out of frames and caches and lets them load only their own assets.
func dashHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// serveStatic serves the embedded CSS and JavaScript.
func serveStatic() http.Handler {
	sub, err := fs.Sub(webFS, "web/static")
	if err != nil {
		panic(err)
	}
	fsrv := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	})
}

// dashRouteSets are the dashboard's routes, one function per page file, each added by that
// file's init so that pages are added without touching this one.
var dashRouteSets []func(s *Server, mux *http.ServeMux)

// dashRoutes adds the dashboard to mux.
func (s *Server) dashRoutes(mux *http.ServeMux) {
	mux.Handle("GET /static/", serveStatic())
	for _, add := range dashRouteSets {
		add(s, mux)
	}
}

// badInput is an error in what the caller gave. Write paths shared by the admin API and the
// dashboard (one function each, taking the actor's name) return it so that the API answers 400
// with its message and the dashboard shows it beside the form; any other error is internal.
type badInput struct{ msg string }

func (e *badInput) Error() string { return e.msg }
