package server

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

// countingStore counts the lookups of secrets by hash, to show which requests reach the store.
type countingStore struct {
	store.Store
	lookups atomic.Int64
}

func (c *countingStore) TokenByHash(ctx context.Context, hash []byte) (store.Token, error) {
	c.lookups.Add(1)
	return c.Store.TokenByHash(ctx, hash)
}

func (c *countingStore) EnrollSecretByHash(ctx context.Context, hash []byte) (store.EnrollSecret, error) {
	c.lookups.Add(1)
	return c.Store.EnrollSecretByHash(ctx, hash)
}

func (c *countingStore) HostByCredential(ctx context.Context, hash []byte) (store.Host, error) {
	c.lookups.Add(1)
	return c.Store.HostByCredential(ctx, hash)
}

func (c *countingStore) PromoteCredential(ctx context.Context, hash []byte, at time.Time) (store.Host, error) {
	c.lookups.Add(1)
	return c.Store.PromoteCredential(ctx, hash, at)
}
