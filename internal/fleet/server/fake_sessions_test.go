package server

import (
	"context"
	"encoding/hex"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

func (f *fakeStore) AddSession(_ context.Context, s store.Session) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[s.User]
	if !ok {
		return store.ErrNotFound
	}
	if f.sessions == nil {
		f.sessions = map[string]store.Session{}
	}
	f.sessions[hex.EncodeToString(s.Hash)] = s
	u.FailedLogins = 0
	f.users[s.User] = u
	f.addAudit(s.User, "user.login", s.User, s.CreatedAt)
	return nil
}

func (f *fakeStore) SessionByHash(_ context.Context, hash []byte, now time.Time) (store.Session, store.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sessions[hex.EncodeToString(hash)]
	if !ok || !now.Before(s.Expires) {
		return store.Session{}, store.User{}, store.ErrNotFound
	}
	u := f.users[s.User]
	if !u.DisabledAt.IsZero() {
		return s, u, store.ErrRevoked
	}
	return s, u, nil
}

func (f *fakeStore) TouchSession(_ context.Context, hash []byte, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := hex.EncodeToString(hash)
	s, ok := f.sessions[k]
	if !ok {
		return store.ErrNotFound
	}
	s.LastUsed = at
	f.sessions[k] = s
	return nil
}

func (f *fakeStore) DeleteSession(_ context.Context, hash []byte, actor string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := hex.EncodeToString(hash)
	if s, ok := f.sessions[k]; ok {
		delete(f.sessions, k)
		f.addAudit(actor, "user.logout", s.User, at)
	}
	return nil
}

func (f *fakeStore) PruneSessions(_ context.Context, before time.Time) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for k, s := range f.sessions {
		if s.Expires.Before(before) {
			delete(f.sessions, k)
			n++
		}
	}
	return n, nil
}
