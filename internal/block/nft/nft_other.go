//go:build !linux

package nft

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/firewarden/firewarden/internal/block"
)

// Options configures a Backend; see the Linux documentation.
type Options struct {
	Table    string
	NetNS    int
	MaxBatch int
}

// Backend is the nftables block.Backend; nftables exists only on Linux.
type Backend struct{}

var errUnsupported = fmt.Errorf("nftables is only available on Linux: %w", errors.ErrUnsupported)

// New returns an error wrapping errors.ErrUnsupported: nftables exists only on Linux.
func New(Options) (*Backend, error) { return nil, errUnsupported }

// Close does nothing.
func (*Backend) Close() error { return nil }

// Name implements block.Backend.
func (*Backend) Name() string { return "nftables" }

// Sync implements block.Backend; it always fails.
func (*Backend) Sync(context.Context, []block.Ban, time.Time) (block.SyncResult, error) {
	return block.SyncResult{}, errUnsupported
}

// Reconcile implements block.Backend; it always fails.
func (*Backend) Reconcile(context.Context, []block.Ban, time.Time) (block.SyncResult, error) {
	return block.SyncResult{}, errUnsupported
}

// Apply implements block.Backend; it always fails.
func (*Backend) Apply(context.Context, []block.Ban, []netip.Prefix, time.Time) (block.SyncResult, error) {
	return block.SyncResult{}, errUnsupported
}

// SetEnabled implements block.Backend; it always fails.
func (*Backend) SetEnabled(context.Context, bool) error { return errUnsupported }

// Status implements block.Backend; it always fails.
func (*Backend) Status(context.Context) (block.Status, error) { return block.Status{}, errUnsupported }

var _ block.Backend = (*Backend)(nil)
