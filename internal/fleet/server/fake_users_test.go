package server

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

func (f *fakeStore) AddUser(_ context.Context, u store.User, actor string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u.Name == "" || u.PasswordHash == "" || (u.Role != store.RoleAdmin && u.Role != store.RoleAuditor) {
		return fmt.Errorf("user %+v: needs a name, a hash and a role", u)
	}
	if _, ok := f.users[u.Name]; ok {
		return store.ErrConflict
	}
	if f.users == nil {
		f.users = map[string]store.User{}
	}
	f.users[u.Name] = u
	f.addAudit(actor, "user.create", u.Name, u.CreatedAt)
	return nil
}

func (f *fakeStore) UserByName(_ context.Context, name string) (store.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[name]
	if !ok {
		return store.User{}, store.ErrNotFound
	}
	if !u.DisabledAt.IsZero() {
		return u, store.ErrRevoked
	}
	return u, nil
}

func (f *fakeStore) Users(context.Context) ([]store.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.User
	for _, u := range f.users {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *fakeStore) SetUserPassword(_ context.Context, name, hash, actor string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[name]
	if !ok {
		return store.ErrNotFound
	}
	u.PasswordHash = hash
	f.users[name] = u
	f.endSessions(name)
	f.addAudit(actor, "user.passwd", name, at)
	return nil
}

func (f *fakeStore) DisableUser(_ context.Context, name, actor string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[name]
	if !ok {
		return store.ErrNotFound
	}
	if u.DisabledAt.IsZero() {
		u.DisabledAt = at
		f.users[name] = u
		f.endSessions(name)
		f.addAudit(actor, "user.disable", name, at)
	}
	return nil
}

// endSessions deletes every session of user; f.mu is held.
func (f *fakeStore) endSessions(user string) {
	for k, s := range f.sessions {
		if s.User == user {
			delete(f.sessions, k)
		}
	}
}
