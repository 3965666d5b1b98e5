package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/store/sqlite"
	"github.com/firewarden/firewarden/internal/fleet/wire"
	"github.com/google/go-cmp/cmp"
)

// hostile is a string every page must show as text, never as markup.
const hostile = `<script>alert("x")</script><img src=x onerror=alert(1)>`

// pagesBFixture is a dashboard fixture with a third user, ben (admin, for four eyes), a host
// labelled kiosk that fails alf.stealth, and a tamper alert whose fields are hostile.
type pagesBFixture struct {
	*dashFixture
	host wire.EnrollResponse
}

func newPagesBFixture(t *testing.T) *pagesBFixture {
	t.Helper()
	d := newDashFixture(t)
	ctx := context.Background()
	if err := d.st.AddUser(ctx, store.User{Name: "ben", Role: store.RoleAdmin, PasswordHash: "$test$", CreatedAt: t0}, "test"); err != nil {
		t.Fatal(err)
	}
	val, csrf := NewSecret("fws_"), NewSecret("fwc_")
	if err := d.st.AddSession(ctx, store.Session{Hash: Hash(val), User: "ben", CSRF: csrf, CreatedAt: t0, LastUsed: t0, Expires: t0.Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	d.cookies["ben"], d.csrf["ben"] = val, csrf
	h := d.enroll(t, "u-a", "kiosk")
	code, body := d.do(t, "POST", wire.PathReport, h.Credential, batch(
		runRecord(1, t0, map[string]string{"alf.stealth": wire.StatusFail}),
		wire.Record{Seq: 2, Kind: wire.KindAlert, Time: t0, Alert: &wire.Alert{Rule: "alf_disabled", Severity: "high",
			User: "bob" + hostile, Process: "/usr/libexec/ApplicationFirewall/socketfilterfw", Parent: "/bin/zsh",
			CommandLine: "socketfilterfw --setglobalstate off " + hostile, Count: 3, FirstSeen: t0, LastSeen: t0.Add(time.Minute)}}))
	if code != http.StatusOK {
		t.Fatalf("report = %d %s", code, body)
	}
	d.clock.add(time.Hour)
	return &pagesBFixture{d, h}
}

func TestPagesBRender(t *testing.T) {
	f := newPagesBFixture(t)
	at := url.QueryEscape(t0.Add(30 * time.Minute).Format(time.RFC3339))
	tests := []struct {
		path      string
		want      []string // in the page for everyone
		adminOnly []string // in the page for admins only
	}{
		{"/alerts", []string{`<table id="alerts">`, `data-alert="1"`, "socketfilterfw --setglobalstate off", "u-a.example"}, []string{`<form class="ack"`, `name="note"`}},
		{"/alerts?unacked=1&severity=high&sort=count&dir=asc", []string{`data-alert="1"`, `aria-sort="ascending"`}, nil},
		{"/exemptions", []string{`<table id="exemptions">`}, []string{`<form id="new-exemption"`, `<option>alf.stealth</option>`}},
		{"/exemptions?state=expired&sort=expires&dir=desc", []string{`<table id="exemptions">`}, nil},
		{"/report", []string{`id="report-csv"`, `id="report-json"`, `id="report-print"`, `data-check="alf.stealth"`, "Were the hosts compliant at"}, nil},
		{"/report?at=" + at + "&label=kiosk", []string{`href="/report.csv?at=` + at + `&amp;label=kiosk"`, `id="r-noncompliant">1<`}, nil},
		{"/report?from=" + at + "&baseline=default", []string{"Which checks changed status between", "policy or baseline &#34;default&#34;"}, nil},
		{"/report/print", []string{`<table id="findings">`, `id="report-by"`, `alf.stealth`, "fail"}, nil},
		{"/audit", []string{`<table id="audit">`, "token.create", "user.create"}, nil},
		{"/audit?action=user.&actor=test", []string{`<table id="audit">`, "user.create"}, nil},
		{"/settings", []string{`id="secrets"`, `id="tokens"`, `id="users"`, `id="policies"`, `data-user="aude"`, `data-token="tok-alice"`, `data-secret="sec-1"`},
			[]string{`id="new-secret-form"`, `id="new-token"`, `id="new-user"`, `id="policy-form"`, `class="revoke"`, `class="disable"`}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			code, loc, _ := f.request(t, http.MethodGet, tt.path, "", nil)
			if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?next=") {
				t.Errorf("GET %s logged out = %d %q, want 303 to /login", tt.path, code, loc)
			}
			for _, user := range []string{"ada", "aude"} {
				code, body := f.get(t, tt.path, user)
				if code != http.StatusOK {
					t.Fatalf("GET %s as %s = %d, want 200; body:\n%s", tt.path, user, code, body)
				}
				for _, w := range tt.want {
					if !strings.Contains(body, w) {
						t.Errorf("GET %s as %s lacks %q; body:\n%s", tt.path, user, w, body)
					}
				}
				for _, w := range tt.adminOnly {
					if got := strings.Contains(body, w); got != (user == "ada") {
						t.Errorf("GET %s as %s: has %q = %v, want %v", tt.path, user, w, got, user == "ada")
					}
				}
				if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") {
					t.Errorf("GET %s as %s shows a hostile string as markup", tt.path, user)
				}
				// The strict CSP refuses inline styles and handlers; the browser test finds
				// elements by id, so ids are unique.
				if m := regexp.MustCompile(`<[^>]* (style|on[a-z]+)=`).FindString(body); m != "" {
					t.Errorf("GET %s as %s has an inline%s attribute", tt.path, user, m)
				}
				seen := map[string]bool{}
				for _, m := range regexp.MustCompile(` id="([^"]+)"`).FindAllStringSubmatch(body, -1) {
					if seen[m[1]] {
						t.Errorf("GET %s as %s holds id %q twice", tt.path, user, m[1])
					}
					seen[m[1]] = true
				}
			}
		})
	}
}

func TestPagesBHostileStringsEscaped(t *testing.T) {
	f := newPagesBFixture(t)
	ctx := context.Background()
	// Hostile strings wherever a page shows stored text: an exemption's reason and label, a
	// policy's name and YAML, a token's and a secret's name, an audit entry.
	if err := f.st.AddExemption(ctx, store.Exemption{ID: "ex-h", Label: hostile, Check: "alf.stealth", Reason: hostile,
		RequestedBy: "ada", CreatedAt: t0, Expires: t0.Add(48 * time.Hour)}, "ada"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.PutPolicy(ctx, store.Policy{Name: hostile, Label: hostile, Mode: wire.ModeReport, IntervalSeconds: 3600, BaselineYAML: hostile, UpdatedAt: t0}, "ada"); err != nil {
		t.Fatal(err)
	}
	if err := f.st.AddToken(ctx, store.Token{ID: "tok-h", Name: hostile, Role: store.RoleAuditor, Hash: Hash("x"), CreatedAt: t0}, hostile); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/alerts", "/exemptions", "/settings", "/settings?policy=" + url.QueryEscape(hostile), "/audit", "/report", "/report/print", "/report?label=" + url.QueryEscape(hostile)} {
		for _, user := range []string{"ada", "aude"} {
			code, body := f.get(t, path, user)
			if code != http.StatusOK {
				t.Fatalf("GET %s as %s = %d, want 200; body:\n%s", path, user, code, body)
			}
			if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") {
				t.Errorf("GET %s as %s shows a hostile string as markup:\n%s", path, user, body)
			}
		}
	}
	_, body := f.get(t, "/alerts", "aude")
	if !strings.Contains(body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
		t.Errorf("GET /alerts does not show the hostile command line as text:\n%s", body)
	}
}

// pagesBPosts are every dashboard action of this helper's pages, with a valid form.
func pagesBPosts(hostID string) []struct {
	path string
	form url.Values
} {
	return []struct {
		path string
		form url.Values
	}{
		{"/alerts/1/ack", url.Values{"note": {"bob was testing"}}},
		{"/exemptions", url.Values{"host_id": {hostID}, "check": {"alf.stealth"}, "reason": {"kiosk"}, "expires": {"2027-01-31"}}},
		{"/exemptions/ex-1/approve", nil},
		{"/exemptions/ex-1/revoke", nil},
		{"/settings/secrets", url.Values{"name": {"office"}, "labels": {"laptop, berlin"}}},
		{"/settings/secrets/sec-1/revoke", nil},
		{"/settings/tokens", url.Values{"name": {"ci"}, "role": {"auditor"}}},
		{"/settings/tokens/tok-alice/revoke", nil},
		{"/settings/users", url.Values{"name": {"carl"}, "role": {"auditor"}, "password": {"correct horse battery"}, "password2": {"correct horse battery"}}},
		{"/settings/users/aude/disable", nil},
		{"/settings/policies", url.Values{"name": {"default"}, "mode": {"enforce"}, "interval_seconds": {"900"}}},
	}
}

func TestPagesBPostsRefused(t *testing.T) {
	f := newPagesBFixture(t)
	if err := f.st.AddExemption(context.Background(), store.Exemption{ID: "ex-1", HostID: f.host.HostID, Check: "alf.stealth", Reason: "r",
		RequestedBy: "ben", CreatedAt: t0, Expires: t0.Add(48 * time.Hour)}, "ben"); err != nil {
		t.Fatal(err)
	}
	before := pbSnapshot(f)
	for _, p := range pagesBPosts(f.host.HostID) {
		t.Run(p.path, func(t *testing.T) {
			form := func() url.Values {
				v := url.Values{}
				for k, vs := range p.form {
					v[k] = vs
				}
				return v
			}
			if code, loc, _ := f.request(t, http.MethodPost, p.path, "", form()); code != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") {
				t.Errorf("POST %s logged out = %d %q, want 303 to /login", p.path, code, loc)
			}
			if code, _, body := f.post(t, p.path, "aude", form()); code != http.StatusForbidden {
				t.Errorf("POST %s as the auditor = %d, want 403; body:\n%s", p.path, code, body)
			}
			noCSRF := form()
			noCSRF.Set("csrf", "")
			if code, _, body := f.post(t, p.path, "ada", noCSRF); code != http.StatusForbidden {
				t.Errorf("POST %s without the CSRF token = %d, want 403; body:\n%s", p.path, code, body)
			}
			wrong := form()
			wrong.Set("csrf", f.csrf["aude"])
			if code, _, body := f.post(t, p.path, "ada", wrong); code != http.StatusForbidden {
				t.Errorf("POST %s with another session's CSRF token = %d, want 403; body:\n%s", p.path, code, body)
			}
		})
	}
	if after := pbSnapshot(f); after != before {
		t.Errorf("refused posts changed the store:\n%s", cmp.Diff(before, after))
	}
}

// lastAudit is the newest audit entry with action.
func lastAudit(t *testing.T, f *pagesBFixture, action string) store.Audit {
	t.Helper()
	as, err := f.st.AuditLog(context.Background(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for i := len(as) - 1; i >= 0; i-- {
		if as[i].Action == action {
			return as[i]
		}
	}
	t.Fatalf("no audit entry %s in %+v", action, as)
	return store.Audit{}
}

func TestPagesBWrites(t *testing.T) {
	f := newPagesBFixture(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		path   string
		form   url.Values
		action string // the audit entry the write adds, with actor ada
		check  func(t *testing.T, body string)
	}{
		{"ack", "/alerts/1/ack", url.Values{"note": {"bob was testing"}, "back": {"unacked=1"}}, "alert.ack", func(t *testing.T, _ string) {
			as, _ := f.st.Alerts(ctx, "", false)
			if got := [3]string{as[0].AckedBy, as[0].AckNote, as[0].AckedAt.Format(time.RFC3339)}; got != [3]string{"ada", "bob was testing", t0.Add(time.Hour).Format(time.RFC3339)} {
				t.Errorf("alert after the ack = %v", got)
			}
		}},
		{"policy", "/settings/policies", url.Values{"name": {"kiosks"}, "label": {"kiosk"}, "priority": {"5"}, "mode": {"enforce"}, "interval_seconds": {"900"}}, "policy.put", func(t *testing.T, _ string) {
			ps, _ := f.st.Policies(ctx)
			want := []store.Policy{{Name: "kiosks", Label: "kiosk", Priority: 5, Mode: wire.ModeEnforce, IntervalSeconds: 900, Version: 1, UpdatedAt: t0.Add(time.Hour)}}
			if diff := cmp.Diff(want, ps); diff != "" {
				t.Errorf("policies (-want +got):\n%s", diff)
			}
		}},
		{"user", "/settings/users", url.Values{"name": {"carl"}, "role": {"auditor"}, "password": {"correct horse battery"}, "password2": {"correct horse battery"}}, "user.create", func(t *testing.T, _ string) {
			u, err := f.st.UserByName(ctx, "carl")
			if err != nil || u.Role != store.RoleAuditor {
				t.Fatalf("UserByName(carl) = %+v, %v; want an auditor", u, err)
			}
			if ok, err := CheckPassword(u.PasswordHash, "correct horse battery"); !ok || err != nil {
				t.Errorf("CheckPassword(carl's hash, the password typed) = %v, %v; want true", ok, err)
			}
		}},
		{"disable", "/settings/users/aude/disable", nil, "user.disable", func(t *testing.T, _ string) {
			if _, err := f.st.UserByName(ctx, "aude"); err != store.ErrRevoked {
				t.Errorf("UserByName(aude) after disabling = %v, want ErrRevoked", err)
			}
		}},
		{"revoke secret", "/settings/secrets/sec-1/revoke", nil, "secret.revoke", nil},
		{"revoke token", "/settings/tokens/tok-audrey/revoke", nil, "token.revoke", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, loc, body := f.post(t, tt.path, "ada", tt.form)
			if code != http.StatusSeeOther {
				t.Fatalf("POST %s = %d, want 303; body:\n%s", tt.path, code, body)
			}
			if tt.name == "ack" && loc != "/alerts?unacked=1" {
				t.Errorf("POST %s went to %q, want back to /alerts?unacked=1", tt.path, loc)
			}
			if a := lastAudit(t, f, tt.action); a.Actor != "ada" {
				t.Errorf("audit %s actor = %q, want ada", tt.action, a.Actor)
			}
			if tt.check != nil {
				tt.check(t, body)
			}
		})
	}
}

func TestPagesBRefusedInput(t *testing.T) {
	f := newPagesBFixture(t)
	tests := []struct {
		path string
		form url.Values
		code int
		msg  string
	}{
		{"/alerts/99/ack", nil, 404, "alert not found"},
		{"/alerts/x/ack", nil, 400, "not a number"},
		{"/exemptions", url.Values{"check": {"alf.stealth"}, "reason": {"r"}, "expires": {"2027-01-31"}}, 400, "give exactly one of host_id and label"},
		{"/exemptions", url.Values{"label": {"kiosk"}, "check": {"alf.stealth"}, "reason": {"r"}, "expires": {"tomorrow"}}, 400, "expires:"},
		{"/exemptions", url.Values{"label": {"kiosk"}, "check": {"alf.stealth"}, "reason": {"r"}, "expires": {"2026-11-01"}}, 400, "give a time in the future"},
		{"/exemptions", url.Values{"host_id": {"nope"}, "check": {"alf.stealth"}, "reason": {"r"}, "expires": {"2027-01-31"}}, 404, "host not found"},
		{"/exemptions/none/approve", nil, 404, "exemption not found"},
		{"/exemptions/none/revoke", nil, 404, "exemption not found"},
		{"/settings/users", url.Values{"name": {"carl"}, "role": {"admin"}, "password": {"correct horse battery"}, "password2": {"correct horse batterY"}}, 400, "the two passwords differ"},
		{"/settings/users", url.Values{"name": {"carl"}, "role": {"admin"}, "password": {"short"}, "password2": {"short"}}, 400, "use at least 12"},
		{"/settings/users", url.Values{"name": {"aude"}, "role": {"admin"}, "password": {"correct horse battery"}, "password2": {"correct horse battery"}}, 409, "already exists"},
		{"/settings/users", url.Values{"name": {"a b"}, "role": {"admin"}, "password": {"correct horse battery"}, "password2": {"correct horse battery"}}, 400, "use 1 to 64 letters"},
		{"/settings/users/ada/disable", nil, 400, "cannot disable your own account"},
		{"/settings/users/nobody/disable", nil, 404, "not found"},
		{"/settings/tokens", url.Values{"name": {"ci"}, "role": {"root"}}, 400, "want admin or auditor"},
		{"/settings/tokens", url.Values{"name": {"alice"}, "role": {"admin"}}, 409, "already exists"},
		{"/settings/tokens/none/revoke", nil, 404, "not found"},
		{"/settings/secrets", url.Values{"name": {" "}}, 400, "name: required"},
		{"/settings/policies", url.Values{"name": {"default"}, "mode": {"enforce"}, "interval_seconds": {"10"}}, 400, "interval_seconds: 10"},
		{"/settings/policies", url.Values{"name": {"default"}, "mode": {"enforce"}, "interval_seconds": {"900"}, "baseline_yaml": {"checks: ["}}, 400, "baseline_yaml:"},
		{"/settings/policies", url.Values{"name": {"default"}, "mode": {"enforce"}, "interval_seconds": {"soon"}}, 400, "not a whole number"},
	}
	for _, tt := range tests {
		t.Run(tt.path+" "+tt.msg, func(t *testing.T) {
			before := pbSnapshot(f)
			code, _, body := f.post(t, tt.path, "ada", tt.form)
			if code != tt.code || !regexp.MustCompile(`<p class="error" role="alert">[^<]*`+regexp.QuoteMeta(htmlEscape(tt.msg))).MatchString(body) {
				t.Errorf("POST %s = %d, want %d with %q in p.error; body:\n%s", tt.path, code, tt.code, tt.msg, body)
			}
			if after := pbSnapshot(f); after != before {
				t.Errorf("refused POST %s changed the store:\n%s", tt.path, cmp.Diff(before, after))
			}
		})
	}
}

// pbSnapshot is the fake store's snapshot with the accounts, tokens and secrets, which the
// settings page writes.
func pbSnapshot(f *pagesBFixture) string {
	f.st.mu.Lock()
	b, _ := json.Marshal([]any{f.st.users, f.st.tokens, f.st.secrets})
	f.st.mu.Unlock()
	return f.st.snapshot() + string(b)
}

// htmlEscape is what html/template makes of msg's quotes.
func htmlEscape(msg string) string {
	return strings.NewReplacer(`"`, "&#34;", "'", "&#39;", "<", "&lt;", ">", "&gt;").Replace(msg)
}

var stateRE = regexp.MustCompile(`<tr data-exemption="([^"]+)">[\s\S]*?<td class="state status-([a-z]+)">`)

// exemptionStates reads each exemption's state from the exemptions page.
func exemptionStates(t *testing.T, f *pagesBFixture, user string) map[string]string {
	t.Helper()
	code, body := f.get(t, "/exemptions", user)
	if code != http.StatusOK {
		t.Fatalf("GET /exemptions = %d; body:\n%s", code, body)
	}
	out := map[string]string{}
	for _, m := range stateRE.FindAllStringSubmatch(body, -1) {
		out[m[1]] = m[2]
	}
	return out
}

func TestPagesBExemptionFourEyes(t *testing.T) {
	f := newPagesBFixture(t)
	ctx := context.Background()
	form := url.Values{"host_id": {f.host.HostID}, "check": {"alf.stealth"}, "reason": {"kiosk mode"}, "expires": {t0.Add(3 * time.Hour).Format(time.RFC3339)}}
	if code, _, body := f.post(t, "/exemptions", "ada", form); code != http.StatusSeeOther {
		t.Fatalf("POST /exemptions = %d; body:\n%s", code, body)
	}
	all, err := f.st.Exemptions(ctx, time.Time{})
	if err != nil || len(all) != 1 {
		t.Fatalf("Exemptions(zero) = %+v, %v; want one", all, err)
	}
	e := all[0]
	want := store.Exemption{ID: e.ID, HostID: f.host.HostID, Check: "alf.stealth", Reason: "kiosk mode", RequestedBy: "ada",
		CreatedAt: t0.Add(time.Hour), Expires: t0.Add(3 * time.Hour)}
	if diff := cmp.Diff(want, e); diff != "" {
		t.Errorf("the requested exemption (-want +got):\n%s", diff)
	}
	if a := lastAudit(t, f, "exemption.request"); a.Actor != "ada" {
		t.Errorf("exemption.request actor = %q, want ada", a.Actor)
	}
	if got := exemptionStates(t, f, "aude"); got[e.ID] != ExemptionPending {
		t.Errorf("state before approval = %q, want pending", got[e.ID])
	}
	if st := hostStatus(t, f); st != HostNonCompliant {
		t.Errorf("host status with a pending exemption = %q, want non_compliant", st)
	}
	// The requester cannot approve it.
	code, _, body := f.post(t, "/exemptions/"+e.ID+"/approve", "ada", nil)
	if code != http.StatusConflict || !strings.Contains(body, "four eyes") || !strings.Contains(body, `role="alert"`) {
		t.Errorf("approval by the requester = %d, want 409 saying four eyes; body:\n%s", code, body)
	}
	// Another admin can.
	if code, _, body := f.post(t, "/exemptions/"+e.ID+"/approve", "ben", nil); code != http.StatusSeeOther {
		t.Fatalf("approval by ben = %d, want 303; body:\n%s", code, body)
	}
	if a := lastAudit(t, f, "exemption.approve"); a.Actor != "ben" {
		t.Errorf("exemption.approve actor = %q, want ben", a.Actor)
	}
	if got := exemptionStates(t, f, "aude"); got[e.ID] != ExemptionActive {
		t.Errorf("state after approval = %q, want active", got[e.ID])
	}
	if st := hostStatus(t, f); st != HostCompliant {
		t.Errorf("host status with an approved exemption = %q, want compliant", st)
	}
	if code, _, body := f.post(t, "/exemptions/"+e.ID+"/approve", "ben", nil); code != http.StatusConflict || !strings.Contains(body, "already approved") {
		t.Errorf("second approval = %d, want 409 already approved; body:\n%s", code, body)
	}
	// Expired at its end, whatever was approved.
	f.clock.add(2 * time.Hour)
	if got := exemptionStates(t, f, "aude"); got[e.ID] != ExemptionExpired {
		t.Errorf("state after its expiry = %q, want expired", got[e.ID])
	}
}

func TestPagesBExemptionStates(t *testing.T) {
	f := newPagesBFixture(t)
	ctx := context.Background()
	now := t0.Add(time.Hour)
	add := []store.Exemption{
		{ID: "ex-active", Label: "kiosk", Check: "alf.stealth", Reason: "r", RequestedBy: "ben", ApprovedBy: "ben", ApprovedAt: t0, CreatedAt: t0, Expires: now.Add(2 * time.Hour)},
		{ID: "ex-pending", Label: "kiosk", Check: "alf.enabled", Reason: "r", RequestedBy: "ben", CreatedAt: t0, Expires: now.Add(2 * time.Hour)},
		{ID: "ex-revoked", Label: "kiosk", Check: "alf.logging", Reason: "r", RequestedBy: "ben", ApprovedBy: "ben", ApprovedAt: t0, CreatedAt: t0, Expires: now.Add(2 * time.Hour)},
		{ID: "ex-soon", Label: "kiosk", Check: "alf.apps", Reason: "r", RequestedBy: "ben", ApprovedBy: "ben", ApprovedAt: t0, CreatedAt: t0, Expires: now.Add(time.Hour)},
	}
	for _, e := range add {
		if err := f.st.AddExemption(ctx, e, "ben"); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, body := f.post(t, "/exemptions/ex-revoked/revoke", "ada", nil); code != http.StatusSeeOther {
		t.Fatalf("revoke = %d; body:\n%s", code, body)
	}
	if a := lastAudit(t, f, "exemption.revoke"); a.Actor != "ada" || a.Target != "ex-revoked" {
		t.Errorf("exemption.revoke = %+v, want by ada of ex-revoked", a)
	}
	want := map[string]string{"ex-active": "active", "ex-pending": "pending", "ex-revoked": "revoked", "ex-soon": "active"}
	if diff := cmp.Diff(want, exemptionStates(t, f, "aude")); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	f.clock.add(90 * time.Minute) // past ex-soon's expiry
	want["ex-soon"] = "expired"
	if diff := cmp.Diff(want, exemptionStates(t, f, "aude")); diff != "" {
		t.Errorf("states after an hour and a half (-want +got):\n%s", diff)
	}
	_, body := f.get(t, "/exemptions?state=expired", "aude")
	if got := stateRE.FindAllStringSubmatch(body, -1); len(got) != 1 || got[0][1] != "ex-soon" {
		t.Errorf("GET /exemptions?state=expired rows = %v, want ex-soon only", got)
	}
	f.clock.add(time.Hour) // past every expiry: a pending request nobody approved is expired too
	for id, st := range exemptionStates(t, f, "aude") {
		if w := map[bool]string{true: "revoked", false: "expired"}[id == "ex-revoked"]; st != w {
			t.Errorf("state of %s after every expiry = %q, want %q", id, st, w)
		}
	}
}

// hostStatus is the fixture host's status in the admin API.
func hostStatus(t *testing.T, f *pagesBFixture) string {
	t.Helper()
	_, body := f.do(t, "GET", "/api/v1/hosts/"+f.host.HostID, f.auditor, nil)
	return decode[struct{ Host hostJSON }](t, body).Host.Status
}

func TestPagesBSecretsShownOnce(t *testing.T) {
	f := newPagesBFixture(t)
	valueRE := regexp.MustCompile(`<output class="secret-value" id="new-secret">([^<]+)</output>`)
	tests := []struct {
		path, action string
		form         url.Values
		lookup       func(hash []byte) (string, error) // the stored name of the hash's owner
	}{
		{"/settings/secrets", "secret.create", url.Values{"name": {"office"}, "labels": {"laptop, berlin"}}, func(h []byte) (string, error) {
			s, err := f.st.EnrollSecretByHash(context.Background(), h)
			return s.Name + " " + strings.Join(s.Labels, ","), err
		}},
		{"/settings/tokens", "token.create", url.Values{"name": {"ci"}, "role": {"auditor"}}, func(h []byte) (string, error) {
			t, err := f.st.TokenByHash(context.Background(), h)
			return t.Name + " " + t.Role, err
		}},
	}
	want := map[string]string{"/settings/secrets": "office laptop,berlin", "/settings/tokens": "ci auditor"}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			code, _, body := f.post(t, tt.path, "ada", tt.form)
			m := valueRE.FindStringSubmatch(body)
			if code != http.StatusOK || m == nil {
				t.Fatalf("POST %s = %d, want 200 showing the new value; body:\n%s", tt.path, code, body)
			}
			got, err := tt.lookup(Hash(m[1]))
			if err != nil || got != want[tt.path] {
				t.Errorf("the store's owner of the value shown = %q, %v; want %q", got, err, want[tt.path])
			}
			if a := lastAudit(t, f, tt.action); a.Actor != "ada" {
				t.Errorf("%s actor = %q, want ada", tt.action, a.Actor)
			}
			for _, user := range []string{"ada", "aude"} {
				if _, body := f.get(t, "/settings", user); strings.Contains(body, m[1]) {
					t.Errorf("GET /settings as %s shows the value again", user)
				}
			}
		})
	}
	// The API token works, as an auditor's.
	_, _, body := f.post(t, "/settings/tokens", "ada", url.Values{"name": {"ci2"}, "role": {"auditor"}})
	tok := valueRE.FindStringSubmatch(body)[1]
	if code, body := f.do(t, "GET", "/api/v1/hosts", tok, nil); code != http.StatusOK {
		t.Errorf("GET /api/v1/hosts with the new token = %d %s, want 200", code, body)
	}
	if code, _ := f.do(t, "PUT", "/api/v1/policies", tok, map[string]any{"name": "default", "mode": "report", "interval_seconds": 3600}); code != http.StatusForbidden {
		t.Errorf("PUT /api/v1/policies with the new auditor token = %d, want 403", code)
	}
}

func TestPagesBReportMatchesExport(t *testing.T) {
	f := newPagesBFixture(t)
	b := f.enroll(t, "u-b", "office")
	f.do(t, "POST", wire.PathReport, b.Credential, batch(runRecord(1, t0.Add(10*time.Minute), nil)))
	f.clock.add(time.Hour)
	at := t0.Add(30 * time.Minute).Format(time.RFC3339)
	from, to := t0.Add(-time.Hour).Format(time.RFC3339), t0.Add(time.Hour).Format(time.RFC3339)
	queries := []string{
		"",
		"at=" + at,
		"at=" + at + "&label=kiosk",
		"label=office",
		"baseline=default",
		"baseline=nothing-runs-this",
		"from=" + from + "&to=" + to,
		"from=" + from + "&label=kiosk",
	}
	for _, q := range queries {
		for _, format := range []string{"csv", "json"} {
			t.Run(format+" "+q, func(t *testing.T) {
				api, apiBody := f.do(t, "GET", "/api/v1/export?format="+format+"&"+q, f.auditor, nil)
				code, body := f.get(t, "/report."+format+"?"+q, "aude")
				if api != http.StatusOK || code != http.StatusOK {
					t.Fatalf("export = %d, report.%s = %d; want 200 both:\n%s\n%s", api, format, code, apiBody, body)
				}
				if diff := cmp.Diff(string(apiBody), body); diff != "" {
					t.Errorf("GET /report.%s?%s differs from the API's export (-api +report):\n%s", format, q, diff)
				}
			})
		}
	}
	// Filters narrow the rows: only the kiosk host, only the hosts on the default policy.
	for q, want := range map[string][]string{"label=kiosk": {f.host.HostID}, "label=office": {b.HostID}, "baseline=default": {b.HostID, f.host.HostID}, "baseline=x": nil} {
		_, body := f.do(t, "GET", "/api/v1/export?format=json&"+q, f.auditor, nil)
		var got []string
		for _, r := range decode[struct{ Rows []exportRow }](t, body).Rows {
			if len(got) == 0 || got[len(got)-1] != r.HostID {
				got = append(got, r.HostID)
			}
		}
		if diff := cmp.Diff(sortedCopy(want), sortedCopy(got)); diff != "" {
			t.Errorf("export?%s hosts (-want +got):\n%s", q, diff)
		}
	}
	// Bad questions are refused on the page, beside the form.
	for _, q := range []string{"at=yesterday", "at=" + at + "&from=" + from, "from=" + to + "&to=" + from, "from=2027-01-01T00:00:00Z"} {
		code, body := f.get(t, "/report?"+q, "aude")
		if code != http.StatusBadRequest || !strings.Contains(body, `<p class="error" role="alert">`) {
			t.Errorf("GET /report?%s = %d, want 400 with p.error; body:\n%s", q, code, body)
		}
		if code, _ := f.get(t, "/report.csv?"+q, "aude"); code != http.StatusBadRequest {
			t.Errorf("GET /report.csv?%s = %d, want 400", q, code)
		}
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestPagesBReportPrint(t *testing.T) {
	f := newPagesBFixture(t)
	at := t0.Add(30 * time.Minute).Format(time.RFC3339)
	code, body := f.get(t, "/report/print?at="+url.QueryEscape(at)+"&label=kiosk", "aude")
	if code != http.StatusOK {
		t.Fatalf("GET /report/print = %d; body:\n%s", code, body)
	}
	for _, w := range []string{
		`<p class="question" id="question">Were the hosts compliant at ` + at + `, on the hosts labelled &#34;kiosk&#34;?</p>`,
		`<dd id="report-by">aude (auditor)</dd>`,
		`<dd id="report-generated">` + t0.Add(time.Hour).Format(time.RFC3339) + ` (UTC)</dd>`,
		`<tr data-host="` + f.host.HostID + `" data-check="alf.stealth">`,
	} {
		if !strings.Contains(body, w) {
			t.Errorf("GET /report/print lacks %q; body:\n%s", w, body)
		}
	}
	// Printable: no navigation, no forms, no scripts; only passing results are left out.
	for _, no := range []string{`<nav`, `<form`, `<script`, `data-check="alf.enabled"`} {
		if strings.Contains(body, no) {
			t.Errorf("GET /report/print has %q", no)
		}
	}
}

func TestPagesBAuditPaging(t *testing.T) {
	f := newPagesBFixture(t)
	ctx := context.Background()
	for i := range 250 {
		if err := f.st.AppendAudit(ctx, store.Audit{Time: t0.Add(time.Duration(i) * time.Second), Actor: "ada", Action: "host.nudge", Target: fmt.Sprintf("n-%03d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	rowRE := regexp.MustCompile(`<tr data-audit="\d+"><td>[^\n]*?<td>(n-\d+)</td>`)
	tests := []struct {
		q           string
		first, last string
		n           int
		next, prev  bool
	}{
		{"actor=ada&action=host.", "n-249", "n-150", 100, true, false},
		{"actor=ada&action=host.&page=2", "n-149", "n-050", 100, true, true},
		{"actor=ada&action=host.&page=3", "n-049", "n-000", 50, false, true},
		{"actor=ada&action=host.&page=9", "n-049", "n-000", 50, false, true},
		{"actor=ada&action=host.&dir=asc", "n-000", "n-099", 100, true, false},
		{"action=host.nudge&since=" + url.QueryEscape(t0.Add(240*time.Second).Format(time.RFC3339)), "n-249", "n-240", 10, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			code, body := f.get(t, "/audit?"+tt.q, "aude")
			if code != http.StatusOK {
				t.Fatalf("GET /audit?%s = %d", tt.q, code)
			}
			rows := rowRE.FindAllStringSubmatch(body, -1)
			if len(rows) != tt.n || rows[0][1] != tt.first || rows[len(rows)-1][1] != tt.last {
				t.Fatalf("GET /audit?%s = %d rows from %s to %s, want %d from %s to %s", tt.q, len(rows), rows[0][1], rows[len(rows)-1][1], tt.n, tt.first, tt.last)
			}
			if got := strings.Contains(body, `class="next"`); got != tt.next {
				t.Errorf("GET /audit?%s has a next link = %v, want %v", tt.q, got, tt.next)
			}
			if got := strings.Contains(body, `class="prev"`); got != tt.prev {
				t.Errorf("GET /audit?%s has a previous link = %v, want %v", tt.q, got, tt.prev)
			}
		})
	}
	if code, body := f.get(t, "/audit?since=yesterday", "aude"); code != http.StatusBadRequest || !strings.Contains(body, `role="alert"`) {
		t.Errorf("GET /audit?since=yesterday = %d, want 400 with an error", code)
	}
}

func TestApproveExemptionAPI(t *testing.T) {
	f := newFixture(t, Options{})
	a := f.enroll(t, "u-a", "kiosk")
	code, body := f.do(t, "POST", "/api/v1/exemptions", f.admin, map[string]any{"host_id": a.HostID, "check": "alf.stealth", "reason": "kiosk", "expires": t0.Add(time.Hour), "pending": true})
	if code != http.StatusCreated {
		t.Fatalf("POST exemptions pending = %d %s", code, body)
	}
	e := decode[exemptionJSON](t, body)
	if e.RequestedBy != "alice" || e.ApprovedBy != "" || e.ApprovedAt != nil {
		t.Errorf("pending exemption = %+v, want requested by alice, not approved", e)
	}
	bob := NewSecret(PrefixToken)
	if err := f.st.AddToken(context.Background(), store.Token{ID: "tok-bob", Name: "bob", Role: store.RoleAdmin, Hash: Hash(bob), CreatedAt: t0}, "test"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		token string
		id    string
		want  int
	}{
		{"auditor", f.auditor, e.ID, 403},
		{"requester", f.admin, e.ID, 409},
		{"unknown", bob, "none", 404},
		{"another admin", bob, e.ID, 200},
		{"again", bob, e.ID, 409},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := f.do(t, "POST", "/api/v1/exemptions/"+tt.id+"/approve", tt.token, nil)
			if code != tt.want {
				t.Errorf("POST approve as %s = %d %s, want %d", tt.name, code, body, tt.want)
			}
		})
	}
	_, body = f.do(t, "GET", "/api/v1/exemptions", f.auditor, nil)
	got := decode[struct{ Exemptions []exemptionJSON }](t, body).Exemptions
	if len(got) != 1 || got[0].ApprovedBy != "bob" || got[0].RequestedBy != "alice" {
		t.Errorf("exemptions after the approval = %+v, want one approved by bob, requested by alice", got)
	}
}

var parseExpiryTests = []struct {
	in   string
	want time.Time // zero: refused
}{
	{"2027-01-31", time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)},
	{" 2026-12-31 ", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
	{"2027-01-31T12:00:00Z", time.Date(2027, 1, 31, 12, 0, 0, 0, time.UTC)},
	{"2027-01-31T12:00:00+02:00", time.Date(2027, 1, 31, 10, 0, 0, 0, time.UTC)},
	{"", time.Time{}},
	{"tomorrow", time.Time{}},
	{"2027-02-30", time.Time{}},
	{"31/01/2027", time.Time{}},
	{"2027-01-31 12:00", time.Time{}},
	{"0000-12-31", time.Time{}}, // its end is Go's zero time, which reads as no expiry
	{"1969-12-31T23:00:00Z", time.Time{}},
}

func TestParseExpiry(t *testing.T) {
	for _, tt := range parseExpiryTests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseExpiry(tt.in)
			if tt.want.IsZero() {
				var bad *badInput
				if !errors.As(err, &bad) {
					t.Errorf("parseExpiry(%q) = %v, %v; want a *badInput", tt.in, got, err)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Errorf("parseExpiry(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzParseExpiry(f *testing.F) {
	for _, tt := range parseExpiryTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := parseExpiry(in)
		if err != nil {
			var bad *badInput
			if !errors.As(err, &bad) {
				t.Fatalf("parseExpiry(%q) error %v is not a *badInput", in, err)
			}
			return
		}
		if got.IsZero() || got.Location() != time.UTC {
			t.Fatalf("parseExpiry(%q) = %v, want a UTC instant", in, got)
		}
		if d, err := time.Parse(time.DateOnly, strings.TrimSpace(in)); err == nil && !got.Equal(d.AddDate(0, 0, 1)) {
			t.Fatalf("parseExpiry(%q) = %v, want the end of that day", in, got)
		}
	})
}

var parseExportTests = []string{
	"", "format=json", "format=xml", "at=2026-12-01T00:00:00Z", "at=yesterday", "from=2026-11-01T00:00:00Z",
	"from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z", "from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z",
	"at=2026-12-01T00:00:00Z&from=2026-11-01T00:00:00Z", "label=kiosk&baseline=default", "to=2026-12-01T00:00:00Z",
	"from=2027-01-01T00:00:00Z", // after now, with to= defaulting to now: an empty range
}

func FuzzParseExport(f *testing.F) {
	for _, q := range parseExportTests {
		f.Add(q)
	}
	s := New(newFakeStore(), Options{Now: func() time.Time { return t0 }})
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := s.parseExport(v)
		if err != nil {
			var bad *badInput
			if !errors.As(err, &bad) {
				t.Fatalf("parseExport(%q) error %v is not a *badInput", raw, err)
			}
			return
		}
		switch {
		case q.Format != "csv" && q.Format != "json":
			t.Fatalf("parseExport(%q) format = %q", raw, q.Format)
		case q.Range && (!q.To.After(q.From) || !q.At.IsZero()):
			t.Fatalf("parseExport(%q) = range %v to %v at %v", raw, q.From, q.To, q.At)
		case !q.Range && q.At.IsZero():
			t.Fatalf("parseExport(%q) = no instant", raw)
		}
	})
}

// The pages' write paths over the real SQLite store: four eyes, the audit actors, a token shown
// once, and the report's CSV equal to the API's export.
func TestPagesBOverSQLite(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "fleet.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// The fixture's requests touch sessions in its fake store; these sessions are in SQLite,
	// made at the instant the test uses them, so that the idle limit does not end them.
	fx := &fixture{st: newFakeStore()}
	fx.setup(t, Options{}, st)
	d := &dashFixture{fixture: fx, cookies: map[string]string{}, csrf: map[string]string{}}
	ctx := context.Background()
	h := d.enroll(t, "u-a", "kiosk")
	if code, body := d.do(t, "POST", wire.PathReport, h.Credential, batch(runRecord(1, t0, map[string]string{"alf.stealth": wire.StatusFail}))); code != 200 {
		t.Fatalf("report = %d %s", code, body)
	}
	d.clock.add(time.Hour)
	now := d.clock.now()
	for _, u := range []store.User{{Name: "ada", Role: store.RoleAdmin}, {Name: "ben", Role: store.RoleAdmin}, {Name: "aude", Role: store.RoleAuditor}} {
		u.PasswordHash, u.CreatedAt = "$test$", t0
		if err := st.AddUser(ctx, u, "test"); err != nil {
			t.Fatal(err)
		}
		val, csrf := NewSecret("fws_"), NewSecret("fwc_")
		if err := st.AddSession(ctx, store.Session{Hash: Hash(val), User: u.Name, CSRF: csrf, CreatedAt: now, LastUsed: now, Expires: now.Add(24 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		d.cookies[u.Name], d.csrf[u.Name] = val, csrf
	}
	pf := &pagesBFixture{dashFixture: d, host: h}

	if code, _, body := d.post(t, "/exemptions", "ada", url.Values{"label": {"kiosk"}, "check": {"alf.stealth"}, "reason": {"kiosk"}, "expires": {"2026-12-02"}}); code != http.StatusSeeOther {
		t.Fatalf("POST /exemptions = %d; body:\n%s", code, body)
	}
	all, err := st.Exemptions(ctx, time.Time{})
	if err != nil || len(all) != 1 {
		t.Fatalf("Exemptions(zero) = %+v, %v; want one", all, err)
	}
	id := all[0].ID
	if got := exemptionStates(t, pf, "aude")[id]; got != ExemptionPending {
		t.Errorf("state = %q, want pending", got)
	}
	if code, _, body := d.post(t, "/exemptions/"+id+"/approve", "ada", nil); code != http.StatusConflict || !strings.Contains(body, "four eyes") {
		t.Errorf("approval by the requester = %d, want 409 four eyes; body:\n%s", code, body)
	}
	if code, _, body := d.post(t, "/exemptions/"+id+"/approve", "ben", nil); code != http.StatusSeeOther {
		t.Fatalf("approval by ben = %d; body:\n%s", code, body)
	}
	if got := exemptionStates(t, pf, "aude")[id]; got != ExemptionActive {
		t.Errorf("state after ben's approval = %q, want active", got)
	}
	if got := hostStatus(t, pf); got != HostCompliant {
		t.Errorf("host status with the approved exemption = %q, want compliant", got)
	}
	_, _, body := d.post(t, "/settings/tokens", "ada", url.Values{"name": {"ci"}, "role": {"auditor"}})
	m := regexp.MustCompile(`<output class="secret-value" id="new-secret">([^<]+)</output>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("POST /settings/tokens shows no token; body:\n%s", body)
	}
	if tok, err := st.TokenByHash(ctx, Hash(m[1])); err != nil || tok.Name != "ci" || tok.Role != store.RoleAuditor {
		t.Errorf("TokenByHash(the token shown) = %+v, %v; want ci, auditor", tok, err)
	}
	as, err := st.AuditLog(ctx, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var got [][2]string
	for _, a := range as {
		if strings.HasPrefix(a.Action, "exemption.") || a.Action == "token.create" {
			got = append(got, [2]string{a.Action, a.Actor})
		}
	}
	want := [][2]string{{"exemption.request", "ada"}, {"exemption.approve", "ben"}, {"token.create", "ada"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit log (-want +got):\n%s", diff)
	}
	for _, q := range []string{"", "label=kiosk", "at=" + t0.Add(30*time.Minute).Format(time.RFC3339)} {
		_, api := d.do(t, "GET", "/api/v1/export?format=csv&"+q, d.auditor, nil)
		if _, page := d.get(t, "/report.csv?"+q, "aude"); page != string(api) {
			t.Errorf("GET /report.csv?%s differs from the export:\n%s\n%s", q, page, api)
		}
	}
	for _, p := range []string{"/alerts", "/exemptions", "/report", "/report/print", "/audit", "/settings"} {
		if code, body := d.get(t, p, "aude"); code != http.StatusOK {
			t.Errorf("GET %s over SQLite = %d; body:\n%s", p, code, body)
		}
	}
}

// The report page shows the first rows and says so; the downloads hold every row.
func TestPagesBReportTruncated(t *testing.T) {
	f := newPagesBFixture(t)
	for i := range reportPageRows / 2 {
		h := f.enroll(t, fmt.Sprintf("u-%03d", i))
		if code, body := f.do(t, "POST", wire.PathReport, h.Credential, batch(runRecord(1, t0, nil))); code != http.StatusOK {
			t.Fatalf("report = %d %s", code, body)
		}
	}
	_, body := f.get(t, "/report", "aude")
	if n := strings.Count(body, `<tr data-host=`); n != reportPageRows || !strings.Contains(body, `<p class="notice">The first 100 rows`) {
		t.Errorf("GET /report shows %d rows, want %d and a notice that there are more", n, reportPageRows)
	}
	_, csvBody := f.get(t, "/report.csv", "aude")
	if n := strings.Count(csvBody, "\n") - 1; n != reportPageRows+2 {
		t.Errorf("GET /report.csv has %d rows, want %d", n, reportPageRows+2)
	}
}

// FuzzPagesBForms posts arbitrary form values to every action of these pages as an admin: the
// answer is a redirect, the page again or a refusal, never a server error or a panic.
func FuzzPagesBForms(f *testing.F) {
	posts := pagesBPosts("h-1")
	for i, p := range posts {
		var kv []string
		for k, vs := range p.form {
			kv = append(kv, k, vs[0])
		}
		for len(kv) < 6 {
			kv = append(kv, "", "")
		}
		f.Add(uint8(i), kv[0], kv[1], kv[2], kv[3], kv[4], kv[5])
	}
	f.Add(uint8(1), "expires", "2027-02-30", "check", "alf.stealth", "label", "kiosk")
	f.Add(uint8(10), "interval_seconds", "99999999999999999999", "name", "default", "mode", "report")
	f.Add(uint8(8), "name", "carl", "password", "é", "password2", "é")
	st := newFakeStore()
	srv := New(st, Options{Now: func() time.Time { return t0 }})
	defer srv.Close()
	ctx := context.Background()
	if err := st.AddUser(ctx, store.User{Name: "ada", Role: store.RoleAdmin, PasswordHash: "$test$", CreatedAt: t0}, "test"); err != nil {
		f.Fatal(err)
	}
	cookie := NewSecret("fws_")
	if err := st.AddSession(ctx, store.Session{Hash: Hash(cookie), User: "ada", CSRF: "c", CreatedAt: t0, LastUsed: t0, Expires: t0.Add(time.Hour)}); err != nil {
		f.Fatal(err)
	}
	h := srv.Handler()
	f.Fuzz(func(t *testing.T, which uint8, k1, v1, k2, v2, k3, v3 string) {
		p := posts[int(which)%len(posts)]
		form := url.Values{"csrf": {"c"}}
		for _, kv := range [][2]string{{k1, v1}, {k2, v2}, {k3, v3}} {
			if kv[0] != "" && kv[0] != "csrf" {
				form.Set(kv[0], kv[1])
			}
		}
		req := httptest.NewRequest(http.MethodPost, p.path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: cookie})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusSeeOther, http.StatusBadRequest, http.StatusNotFound, http.StatusConflict:
		default:
			t.Fatalf("POST %s %v = %d:\n%s", p.path, form, rec.Code, rec.Body)
		}
	})
}
