package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

var sessionTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"LoginFailed", testLoginFailed},
	{"Sessions", testSessions},
	{"SessionsEndWithTheAccount", testSessionsEndWithTheAccount},
	{"PruneSessions", testPruneSessions},
}

// addUsers adds the users ada (admin) and aude (auditor), created at at(0).
func addUsers(t *testing.T, s store.Store) {
	t.Helper()
	for _, u := range []store.User{
		{Name: "ada", Role: store.RoleAdmin, PasswordHash: "$argon2id$ada", CreatedAt: at(0)},
		{Name: "aude", Role: store.RoleAuditor, PasswordHash: "$argon2id$aude", CreatedAt: at(0)},
	} {
		if err := s.AddUser(context.Background(), u, "init"); err != nil {
			t.Fatalf("AddUser(%s) = %v", u.Name, err)
		}
	}
}

// session is a session of user from minute created, expiring at minute expires.
func session(cookie, user string, created, expires int) store.Session {
	return store.Session{Hash: Hash(cookie), User: user, CSRF: "csrf-" + cookie,
		CreatedAt: at(created), LastUsed: at(created), Expires: at(expires)}
}

func addSession(t *testing.T, s store.Store, ss store.Session) {
	t.Helper()
	if err := s.AddSession(context.Background(), ss); err != nil {
		t.Fatalf("AddSession(%s) = %v", ss.CSRF, err)
	}
}

// auditRows is the log from since without IDs and details.
func auditRows(t *testing.T, s store.Store, since time.Time) []store.Audit {
	t.Helper()
	log, err := s.AuditLog(context.Background(), since)
	if err != nil {
		t.Fatalf("AuditLog = %v", err)
	}
	var out []store.Audit
	for _, a := range log {
		if a.Detail == "" || a.Detail == "null" {
			t.Errorf("audit %s: detail %q, want a JSON object", a.Action, a.Detail)
		}
		out = append(out, store.Audit{Time: a.Time, Actor: a.Actor, Action: a.Action, Target: a.Target})
	}
	return out
}

// testLoginFailed: failures count up per user and a login resets the count (not the time of
// the last failure); an unknown name changes nothing.
func testLoginFailed(t *testing.T, s store.Store) {
	ctx := context.Background()
	addUsers(t, s)
	for i, m := range []int{3, 5} {
		u, err := s.LoginFailed(ctx, "ada", at(m))
		if err != nil || u.Name != "ada" || u.FailedLogins != i+1 || !u.LastFailedAt.Equal(at(m)) {
			t.Errorf("LoginFailed(ada, %v) = %d failures, last %v, %v; want %d, %v", at(m), u.FailedLogins, u.LastFailedAt, err, i+1, at(m))
		}
	}
	if _, err := s.LoginFailed(ctx, "nobody", at(6)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LoginFailed(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := s.UserByName(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByName(nobody) after a failed login = %v, want ErrNotFound (nothing created)", err)
	}
	want := store.User{Name: "ada", Role: store.RoleAdmin, PasswordHash: "$argon2id$ada", CreatedAt: at(0), FailedLogins: 2, LastFailedAt: at(5)}
	if got, err := s.UserByName(ctx, "ada"); err != nil || !cmp.Equal(want, got) {
		t.Errorf("UserByName(ada) = %+v, %v; want %+v", got, err, want)
	}
	if got, err := s.UserByName(ctx, "aude"); err != nil || got.FailedLogins != 0 || !got.LastFailedAt.IsZero() {
		t.Errorf("UserByName(aude) = %+v, %v; want no failures (counts are per user)", got, err)
	}
	addSession(t, s, session("c1", "ada", 7, 60))
	want.FailedLogins = 0
	users, err := s.Users(ctx)
	if err != nil || len(users) != 2 || !cmp.Equal(want, users[0]) {
		t.Errorf("Users after a login = %+v, %v; want ada %+v (count reset, last failure kept)", users, err, want)
	}
	// Failed logins are not audited: the server logs them.
	if diff := cmp.Diff([]store.Audit{{Time: at(7), Actor: "ada", Action: "user.login", Target: "ada"}}, auditRows(t, s, at(1))); diff != "" {
		t.Errorf("AuditLog (-want +got):\n%s", diff)
	}
}

// testSessions: a session is found by hash until it expires, moves its LastUsed when touched,
// and ends at logout (once; a second logout is no error and audits nothing).
func testSessions(t *testing.T, s store.Store) {
	ctx := context.Background()
	addUsers(t, s)
	s1 := session("c1", "ada", 1, 60)
	s2 := session("c2", "aude", 2, 30)
	addSession(t, s, s1)
	addSession(t, s, s2)
	if err := s.AddSession(ctx, session("c1", "aude", 3, 60)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("AddSession(same hash) = %v, want ErrConflict", err)
	}
	if err := s.AddSession(ctx, session("c3", "nobody", 3, 60)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AddSession(unknown user) = %v, want ErrNotFound", err)
	}
	ada := store.User{Name: "ada", Role: store.RoleAdmin, PasswordHash: "$argon2id$ada", CreatedAt: at(0)}
	aude := store.User{Name: "aude", Role: store.RoleAuditor, PasswordHash: "$argon2id$aude", CreatedAt: at(0)}

	if err := s.TouchSession(ctx, Hash("c1"), at(20)); err != nil {
		t.Fatalf("TouchSession = %v", err)
	}
	if err := s.TouchSession(ctx, Hash("nope"), at(20)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TouchSession(unknown) = %v, want ErrNotFound", err)
	}
	s1.LastUsed = at(20)

	for _, tt := range []struct {
		name     string
		cookie   string
		now      time.Time
		want     store.Session
		wantUser store.User
		wantErr  error
	}{
		{"found", "c1", at(25), s1, ada, nil},
		{"other user", "c2", at(25), s2, aude, nil},
		{"last instant", "c2", at(30).Add(-time.Millisecond), s2, aude, nil},
		{"expired at its end", "c2", at(30), store.Session{}, store.User{}, store.ErrNotFound},
		{"expired", "c1", at(61), store.Session{}, store.User{}, store.ErrNotFound},
		{"unknown", "c9", at(25), store.Session{}, store.User{}, store.ErrNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, u, err := s.SessionByHash(ctx, Hash(tt.cookie), tt.now)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("SessionByHash(%s, %v) error = %v, want %v", tt.cookie, tt.now, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("SessionByHash(%s, %v) session (-want +got):\n%s", tt.cookie, tt.now, diff)
			}
			if diff := cmp.Diff(tt.wantUser, u); diff != "" {
				t.Errorf("SessionByHash(%s, %v) user (-want +got):\n%s", tt.cookie, tt.now, diff)
			}
		})
	}

	for i := range 2 {
		if err := s.DeleteSession(ctx, Hash("c1"), "ada", at(40+i)); err != nil {
			t.Errorf("DeleteSession(c1) #%d = %v, want nil (idempotent)", i+1, err)
		}
	}
	if _, _, err := s.SessionByHash(ctx, Hash("c1"), at(45)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SessionByHash(after logout) = %v, want ErrNotFound", err)
	}
	if _, _, err := s.SessionByHash(ctx, Hash("c2"), at(29)); err != nil {
		t.Errorf("SessionByHash(c2 after another's logout) = %v, want nil", err)
	}
	want := []store.Audit{
		{Time: at(1), Actor: "ada", Action: "user.login", Target: "ada"},
		{Time: at(2), Actor: "aude", Action: "user.login", Target: "aude"},
		{Time: at(40), Actor: "ada", Action: "user.logout", Target: "ada"},
	}
	if diff := cmp.Diff(want, auditRows(t, s, at(1))); diff != "" {
		t.Errorf("AuditLog (-want +got):\n%s", diff)
	}
}

// testSessionsEndWithTheAccount: disabling a user makes its sessions ErrRevoked until they are
// gone, and both a password change and disabling delete every session of that user only.
func testSessionsEndWithTheAccount(t *testing.T, s store.Store) {
	ctx := context.Background()
	addUsers(t, s)
	for _, ss := range []store.Session{
		session("ada-1", "ada", 1, 600), session("ada-2", "ada", 2, 600), session("aude-1", "aude", 3, 600),
	} {
		addSession(t, s, ss)
	}
	alive := func(cookie string) error {
		_, _, err := s.SessionByHash(ctx, Hash(cookie), at(100))
		return err
	}
	if err := s.SetUserPassword(ctx, "ada", "$argon2id$new", "ada", at(10)); err != nil {
		t.Fatalf("SetUserPassword = %v", err)
	}
	for _, tt := range []struct {
		cookie string
		want   error
	}{{"ada-1", store.ErrNotFound}, {"ada-2", store.ErrNotFound}, {"aude-1", nil}} {
		if err := alive(tt.cookie); !errors.Is(err, tt.want) {
			t.Errorf("SessionByHash(%s) after ada's password change = %v, want %v", tt.cookie, err, tt.want)
		}
	}
	// A session made after the change (the new login) lives.
	addSession(t, s, session("ada-3", "ada", 11, 600))
	if err := alive("ada-3"); err != nil {
		t.Errorf("SessionByHash(new session after the change) = %v, want nil", err)
	}
	if err := s.DisableUser(ctx, "aude", "ada", at(20)); err != nil {
		t.Fatalf("DisableUser = %v", err)
	}
	if err := alive("aude-1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SessionByHash(aude-1) after aude was disabled = %v, want ErrNotFound (deleted)", err)
	}
	if err := alive("ada-3"); err != nil {
		t.Errorf("SessionByHash(ada-3) after aude was disabled = %v, want nil", err)
	}
	// A session of a disabled user (one stored as the account was disabled) is refused with
	// its user, so that the caller can say why.
	addSession(t, s, session("aude-2", "aude", 21, 600))
	got, u, err := s.SessionByHash(ctx, Hash("aude-2"), at(30))
	if !errors.Is(err, store.ErrRevoked) || got.User != "aude" || u.Name != "aude" || !u.DisabledAt.Equal(at(20)) {
		t.Errorf("SessionByHash(disabled user's session) = %+v, %+v, %v; want the session, aude disabled at %v, ErrRevoked", got, u, err, at(20))
	}
	want := []store.Audit{
		{Time: at(10), Actor: "ada", Action: "user.passwd", Target: "ada"},
		{Time: at(11), Actor: "ada", Action: "user.login", Target: "ada"},
		{Time: at(20), Actor: "ada", Action: "user.disable", Target: "aude"},
		{Time: at(21), Actor: "aude", Action: "user.login", Target: "aude"},
	}
	if diff := cmp.Diff(want, auditRows(t, s, at(10))); diff != "" {
		t.Errorf("AuditLog (-want +got):\n%s", diff)
	}
}

// testPruneSessions: sessions that expired before the cut-off go, the rest stay; pruning is
// not audited (nobody acted).
func testPruneSessions(t *testing.T, s store.Store) {
	ctx := context.Background()
	addUsers(t, s)
	for i, exp := range []int{10, 20, 30, 40} {
		addSession(t, s, session(string(rune('a'+i)), "ada", 1, exp))
	}
	for _, tt := range []struct {
		before time.Time
		want   int
	}{
		{at(10), 0}, // expires at the cut-off: not before it
		{at(25), 2},
		{at(25), 0},
		{at(100), 2},
	} {
		n, err := s.PruneSessions(ctx, tt.before)
		if err != nil || n != tt.want {
			t.Errorf("PruneSessions(%v) = %d, %v; want %d", tt.before, n, err, tt.want)
		}
	}
	for i := range 4 {
		if _, _, err := s.SessionByHash(ctx, Hash(string(rune('a'+i))), at(0)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SessionByHash(%c) after pruning = %v, want ErrNotFound", 'a'+i, err)
		}
	}
	log := auditRows(t, s, at(1))
	if len(log) != 4 {
		t.Errorf("AuditLog = %+v, want the 4 logins only", log)
	}
}
