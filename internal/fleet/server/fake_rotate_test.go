package server

import (
	"context"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

func (f *fakeStore) OfferCredential(_ context.Context, id string, currentHash, newHash []byte, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, ok := f.hosts[id]
	if !ok || f.creds[string(currentHash)] != id {
		return store.ErrNotFound
	}
	if !h.RevokedAt.IsZero() {
		return store.ErrRevoked
	}
	if f.offers == nil {
		f.offers = map[string]offer{}
	}
	for k, o := range f.offers {
		if o.hostID == id {
			delete(f.offers, k)
		}
	}
	f.offers[string(newHash)] = offer{id, string(currentHash)}
	return nil
}

func (f *fakeStore) PromoteCredential(_ context.Context, newHash []byte, at time.Time) (store.Host, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.offers[string(newHash)]
	if !ok || f.creds[o.to] != o.hostID {
		return store.Host{}, store.ErrNotFound
	}
	h := f.hosts[o.hostID]
	if !h.RevokedAt.IsZero() {
		return store.Host{}, store.ErrRevoked
	}
	delete(f.offers, string(newHash))
	delete(f.creds, o.to)
	f.creds[string(newHash)] = o.hostID
	f.audit = append(f.audit, store.Audit{ID: int64(len(f.audit) + 1), Time: at, Actor: "host:" + o.hostID, Action: "host.rotate", Target: o.hostID})
	return *h, nil
}
