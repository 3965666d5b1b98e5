package server

import (
	"context"
	"sort"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

func (f *fakeStore) LoginFailed(_ context.Context, name string, at time.Time) (store.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[name]
	if !ok {
		return store.User{}, store.ErrNotFound
	}
	u.FailedLogins++
	if at.After(u.LastFailedAt) {
		u.LastFailedAt = at
	}
	f.users[name] = u
	return u, nil
}

func (f *fakeStore) Tokens(context.Context) ([]store.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := append([]store.Token(nil), f.tokens...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

func (f *fakeStore) EnrollSecrets(context.Context) ([]store.EnrollSecret, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := append([]store.EnrollSecret(nil), f.secrets...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

func (f *fakeStore) ApproveExemption(_ context.Context, id, actor string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.exemptions {
		e := &f.exemptions[i]
		if e.ID != id {
			continue
		}
		if err := store.Approvable(*e, actor, at); err != nil {
			return err
		}
		e.ApprovedBy, e.ApprovedAt = actor, at
		if at.Before(e.CreatedAt) {
			e.ApprovedAt = e.CreatedAt
		}
		f.addAudit(actor, "exemption.approve", id, at)
		return nil
	}
	return store.ErrNotFound
}
