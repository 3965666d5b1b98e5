package fleete2e

// Helpers for the dashboard's tests in real headless Chromium (dash_browser_test.go): find the
// browser, start it, drive one tab through the dashboard, read the DOM, take screenshots.

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

var updateScreenshots = flag.Bool("update-screenshots", false,
	"write the dashboard's screenshots into docs/screenshots (otherwise into a temporary directory)")

// screenshotDir is the repository's docs/screenshots, from this package's directory.
const screenshotDir = "../../../docs/screenshots"

// chromiumPath finds Debian's Chromium, or skips the test saying how to get it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium not found; install Debian's chromium package (apt-get install chromium) to run the browser tests")
	return ""
}

// step bounds one browser step: a guard against a hang, not a speed requirement.
const step = 30 * time.Second

// browser is one headless Chromium with one tab, on the dashboard of one server.
type browser struct {
	t    *testing.T
	ctx  context.Context // the tab's; every step derives a context with a deadline from it
	base string          // https://127.0.0.1:PORT
	shot string          // where screenshots go
	con  *console
}

// console holds what the pages complained about: CSP violations and uncaught exceptions.
type console struct {
	mu       sync.Mutex
	problems []string
}

// with is b reporting to t (a subtest's).
func (b *browser) with(t *testing.T) *browser {
	c := *b
	c.t = t
	return &c
}

// newBrowser starts Chromium for the dashboard at base. The server's certificate is
// self-signed, so the browser is told to ignore certificate errors: this flag is for the test
// only (a real user pins nothing and gets the browser's warning, or installs the certificate).
// Root (CI, this machine) needs --no-sandbox.
func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	exe := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.IgnoreCertErrors,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		acancel()
	})
	b := &browser{t: t, ctx: ctx, base: base, shot: t.TempDir(), con: &console{}}
	if *updateScreenshots {
		b.shot = screenshotDir
		if err := os.MkdirAll(b.shot, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The first action starts the browser; it gets no deadline, or the deadline would end the
	// browser with it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	go b.watchConsole()
	b.viewport(1280, 800)
	return b
}

// watchConsole keeps what the pages complain about: a script or style the Content Security
// Policy refused (an inline script, an onclick=) or an uncaught exception in dash.js.
func (b *browser) watchConsole() {
	for m, err := range chromedp.Console(b.ctx) {
		if err != nil {
			return
		}
		if m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
			b.con.mu.Lock()
			b.con.problems = append(b.con.problems, fmt.Sprintf("%s (%s:%d)", m.Text, m.URL, m.Line))
			b.con.mu.Unlock()
		}
	}
}

// checkConsole fails the test when a page reported a CSP violation or an exception.
func (b *browser) checkConsole() {
	b.t.Helper()
	b.con.mu.Lock()
	defer b.con.mu.Unlock()
	for _, p := range b.con.problems {
		b.t.Errorf("the browser's console: %s", p)
	}
	b.con.problems = nil
}

// do runs steps, failing the test with what was being done.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, step)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v (page %s)", what, err, b.location())
	}
}

// location is the tab's URL, for messages.
func (b *browser) location() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "?"
	}
	return loc
}

// open loads path and fails unless it answered 200.
func (b *browser) open(path string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, step)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(b.base+path))
	if err != nil {
		b.t.Fatalf("open %s: %v", path, err)
	}
	if resp.Status != http.StatusOK {
		b.t.Fatalf("open %s: the browser got %d %s (now at %s)", path, resp.Status, resp.StatusText, b.location())
	}
}

// checkIDs fails the test when the page holds an element id twice (the tests, the page's
// script and assistive technology find elements by id).
func (b *browser) checkIDs() {
	b.t.Helper()
	dup := eval[[]string](b, `(() => { const seen = new Set(), dup = [];
		for (const e of document.querySelectorAll('[id]')) { if (seen.has(e.id)) dup.push(e.id); seen.add(e.id); }
		return dup; })()`)
	if len(dup) > 0 {
		b.t.Errorf("%s holds the ids %q more than once", b.location(), dup)
	}
}

// eval evaluates a JavaScript expression in the page (the DevTools protocol's evaluation,
// which the page's Content Security Policy does not govern).
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, step)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v (page %s)", expr, err, b.location())
	}
	return v
}

// waitJS polls the page until expr is true, for at most limit, and reports whether it was.
func (b *browser) waitJS(expr string, limit time.Duration) bool {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, limit+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr,
		chromedp.WithPollingInterval(200*time.Millisecond), chromedp.WithPollingTimeout(limit)))
	return err == nil
}

// The DOM is read with the DevTools protocol's evaluation, which runs in whatever document is
// loaded now (chromedp's own node ids can still name the document before a navigation), and
// which works with the page's scripts turned off.

// count is how many elements match sel now, without waiting (the pages are rendered by the
// server: what is not there after the load will not come).
func (b *browser) count(sel string) int {
	b.t.Helper()
	return eval[int](b, fmt.Sprintf(`document.querySelectorAll(%s).length`, jsString(sel)))
}

// text is the text of the first element matching sel, its white space collapsed; it fails
// when there is none.
func (b *browser) text(sel string) string {
	b.t.Helper()
	b.need(sel)
	return eval[string](b, fmt.Sprintf(`document.querySelector(%s).textContent.replace(/\s+/g, ' ').trim()`, jsString(sel)))
}

// attr is attribute name of the first element matching sel ("" when absent); it fails when
// no element matches.
func (b *browser) attr(sel, name string) string {
	b.t.Helper()
	b.need(sel)
	return eval[string](b, fmt.Sprintf(`document.querySelector(%s).getAttribute(%s) || ""`, jsString(sel), jsString(name)))
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	q, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(q)
}

// status normalises a status cell: "Non-compliant", "non compliant" and "non_compliant" are
// one status.
func status(s string) string {
	return strings.NewReplacer(" ", "_", "-", "_").Replace(strings.ToLower(strings.TrimSpace(s)))
}

// click clicks the first element matching sel.
func (b *browser) click(sel string) {
	b.t.Helper()
	b.need(sel)
	b.do("click "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// key types keys (chromedp's key names: "\t" is Tab) into the focused element.
func (b *browser) key(keys string) {
	b.t.Helper()
	b.do("type "+strconv.Quote(keys), chromedp.KeyEvent(keys))
}

// goTo navigates to path whatever it answers (a redirect to the login page, say).
func (b *browser) goTo(path string) {
	b.t.Helper()
	b.do("go to "+path, chromedp.Navigate(b.base+path))
}

// submit clicks the submit button of the form sel and waits for the page the server answers
// with (Post/Redirect/Get) to load.
func (b *browser) submit(form string) {
	b.t.Helper()
	b.follow(form + ` [type=submit], ` + form + ` button:not([type])`)
}

// follow clicks the first element matching sel (a link, a submit button) and waits for the
// page it leads to to load.
func (b *browser) follow(sel string) {
	b.t.Helper()
	b.need(sel)
	ctx, cancel := context.WithTimeout(b.ctx, step)
	defer cancel()
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)); err != nil {
		b.t.Fatalf("click %s: %v (page %s)", sel, err, b.location())
	}
}

// need fails at once when nothing matches sel (the pages are rendered by the server: what is
// not there after the load will not come).
func (b *browser) need(sel string) {
	b.t.Helper()
	if b.count(sel) == 0 {
		b.t.Fatalf("no %s on %s", sel, b.location())
	}
}

// fill sets the form field sel to v, for inputs, selects and text areas alike.
func (b *browser) fill(sel, v string) {
	b.t.Helper()
	b.need(sel)
	b.do("fill "+sel, chromedp.SetValue(chromedp.CSS(sel), v, chromedp.NodeReady))
}

// login logs in through form#login (the one on the page when the page is the login page, so
// that its next= is kept) and fails unless it left the login page.
func (b *browser) login(user, password string) {
	b.t.Helper()
	if !b.tryLogin(user, password) {
		msg := ""
		if b.count("p.error") > 0 {
			msg = b.text("p.error")
		}
		b.t.Fatalf("logging in as %s stayed on %s: %q", user, b.location(), msg)
	}
}

// tryLogin submits form#login and reports whether the browser left the login page.
func (b *browser) tryLogin(user, password string) bool {
	b.t.Helper()
	if u, err := url.Parse(b.location()); err != nil || u.Path != "/login" {
		b.goTo("/login")
	}
	b.fill(`form#login input[name=user]`, user)
	b.fill(`form#login input[name=password]`, password)
	b.submit(`form#login`)
	u, err := url.Parse(b.location())
	return err == nil && u.Path != "/login"
}

// postForm POSTs form to path from the page, as a script of the dashboard's origin could, with
// the session's CSRF token (read from the layout's log-out form), and returns the status.
func (b *browser) postForm(path string, form map[string]string) int {
	b.t.Helper()
	if form == nil {
		form = map[string]string{}
	}
	fields, err := json.Marshal(form)
	if err != nil {
		b.t.Fatal(err)
	}
	return eval[int](b, fmt.Sprintf(`(async () => {
		const body = new URLSearchParams(%s);
		body.set('csrf', document.querySelector('form.logout input[name=csrf]').value);
		const r = await fetch(%q, {method: 'POST', redirect: 'manual', body: body});
		return r.status;
	})()`, fields, path))
}

// logout presses the layout's log-out button.
func (b *browser) logout() {
	b.t.Helper()
	b.submit(`form.logout`)
	if u, err := url.Parse(b.location()); err != nil || u.Path != "/login" {
		b.t.Fatalf("logging out went to %s, want /login", b.location())
	}
}

// sessionCookies are the browser's cookies for the dashboard, read through the DevTools
// protocol (the session cookie is HttpOnly: no script can read it).
func (b *browser) sessionCookies() []*network.Cookie {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, step)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{b.base + "/"}})
	if err != nil {
		b.t.Fatalf("Network.getCookies: %v", err)
	}
	return res.Cookies
}

// viewport sets the page's size in CSS pixels (device scale 1).
func (b *browser) viewport(w, h int64) {
	b.t.Helper()
	mobile := w < 600
	ctx, cancel := context.WithTimeout(b.ctx, step)
	defer cancel()
	if _, err := chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: w, Height: h, DeviceScaleFactor: 1, Mobile: mobile,
	}); err != nil {
		b.t.Fatalf("set the viewport to %dx%d: %v", w, h, err)
	}
}

// scripts turns the page's JavaScript on or off.
func (b *browser) scripts(on bool) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, step)
	defer cancel()
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !on}); err != nil {
		b.t.Fatalf("Emulation.setScriptExecutionDisabled: %v", err)
	}
}

// screenshot saves the viewport as name.png, recompressed (Chromium's PNGs are fast, not
// small), into docs/screenshots with -update-screenshots, else into a temporary directory.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, step)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	var out bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&out, img); err != nil {
		b.t.Fatal(err)
	}
	p := filepath.Join(b.shot, name+".png")
	if err := os.WriteFile(p, out.Bytes(), 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s (%d×%d, %d bytes)", p, img.Bounds().Dx(), img.Bounds().Dy(), out.Len())
}
