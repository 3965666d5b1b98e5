package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

// testUsers: accounts are added once per name, found by name, listed in name order, change
// password, are disabled once; each write leaves exactly one audit row, a refused one none.
func testUsers(t *testing.T, s store.Store) {
	ctx := context.Background()
	bob := store.User{Name: "bob", Role: store.RoleAuditor, PasswordHash: "$argon2id$bob", CreatedAt: at(1)}
	alice := store.User{Name: "alice", Role: store.RoleAdmin, PasswordHash: "$argon2id$alice", CreatedAt: at(2)}
	for _, u := range []store.User{bob, alice} {
		if err := s.AddUser(ctx, u, "root"); err != nil {
			t.Fatalf("AddUser(%s) = %v", u.Name, err)
		}
	}
	refused := []struct {
		name string
		u    store.User
		want error // nil: any error
	}{
		{"taken name", store.User{Name: "alice", Role: store.RoleAuditor, PasswordHash: "x", CreatedAt: at(3)}, store.ErrConflict},
		{"no name", store.User{Role: store.RoleAdmin, PasswordHash: "x", CreatedAt: at(3)}, nil},
		{"no hash", store.User{Name: "carol", Role: store.RoleAdmin, CreatedAt: at(3)}, nil},
		{"bad role", store.User{Name: "carol", Role: "root", PasswordHash: "x", CreatedAt: at(3)}, nil},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			err := s.AddUser(ctx, tt.u, "root")
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("AddUser(%+v) = %v, want %v", tt.u, err, tt.want)
			}
		})
	}
	if got, err := s.UserByName(ctx, "alice"); err != nil || !cmp.Equal(alice, got) {
		t.Errorf("UserByName(alice) = %+v, %v; want %+v", got, err, alice)
	}
	if _, err := s.UserByName(ctx, "Alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByName(Alice) = %v, want ErrNotFound (names are case-sensitive)", err)
	}

	if err := s.SetUserPassword(ctx, "alice", "$argon2id$alice2", "alice", at(4)); err != nil {
		t.Fatalf("SetUserPassword = %v", err)
	}
	if err := s.SetUserPassword(ctx, "carol", "$argon2id$carol", "root", at(4)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetUserPassword(unknown) = %v, want ErrNotFound", err)
	}
	alice.PasswordHash = "$argon2id$alice2"

	if err := s.DisableUser(ctx, "bob", "alice", at(5)); err != nil {
		t.Fatalf("DisableUser = %v", err)
	}
	if err := s.DisableUser(ctx, "bob", "alice", at(6)); err != nil {
		t.Errorf("DisableUser(again) = %v, want nil", err)
	}
	if err := s.DisableUser(ctx, "carol", "alice", at(6)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DisableUser(unknown) = %v, want ErrNotFound", err)
	}
	bob.DisabledAt = at(5) // the first time stays
	if got, err := s.UserByName(ctx, "bob"); !errors.Is(err, store.ErrRevoked) || !cmp.Equal(bob, got) {
		t.Errorf("UserByName(disabled bob) = %+v, %v; want %+v, ErrRevoked", got, err, bob)
	}

	users, err := s.Users(ctx)
	if err != nil {
		t.Fatalf("Users = %v", err)
	}
	if diff := cmp.Diff([]store.User{alice, bob}, users); diff != "" {
		t.Errorf("Users (-want +got):\n%s", diff)
	}

	log, err := s.AuditLog(ctx, at(0))
	if err != nil {
		t.Fatalf("AuditLog = %v", err)
	}
	var got []store.Audit
	for _, a := range log {
		got = append(got, store.Audit{Time: a.Time, Actor: a.Actor, Action: a.Action, Target: a.Target})
		if a.Detail == "" || a.Detail == "null" {
			t.Errorf("audit %s: detail %q, want a JSON object", a.Action, a.Detail)
		}
	}
	want := []store.Audit{
		{Time: at(1), Actor: "root", Action: "user.create", Target: "bob"},
		{Time: at(2), Actor: "root", Action: "user.create", Target: "alice"},
		{Time: at(4), Actor: "alice", Action: "user.passwd", Target: "alice"},
		{Time: at(5), Actor: "alice", Action: "user.disable", Target: "bob"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AuditLog (-want +got):\n%s", diff)
	}
	for _, a := range log {
		if a.Action == "user.create" && a.Detail != `{"role":"`+map[string]string{"bob": "auditor", "alice": "admin"}[a.Target]+`"}` {
			t.Errorf("audit user.create %s: detail %s, want the role", a.Target, a.Detail)
		}
	}
}
