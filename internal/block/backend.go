// Package block is firewarden's adaptive firewall: temporary bans with a time to live, an
// allowlist that is always checked first, and the reconciliation of both with a kernel firewall
// (nftables on Linux, pf on macOS) through a Backend.
package block

import (
	"context"
	"net/netip"
	"time"
)

// Ban is one blocked prefix as a kernel firewall should hold it.
type Ban struct {
	Prefix  netip.Prefix // masked; IPv4 as a 4-byte address (never v4-mapped)
	Expires time.Time    // zero: until removed
}

// SyncResult says what a Backend changed.
type SyncResult struct {
	Added, Removed, Kept int
}

// Status is what a Backend finds in the kernel.
type Status struct {
	Enabled bool // the drop rules are in place
	Entries int  // prefixes held, both families
}

// Backend holds firewarden's blocked prefixes in a kernel firewall. Implementations apply each
// change as one batch (or as few bounded chunks as the kernel allows), never touch rules or
// tables they do not own, and leave the kernel as it was when a batch fails.
type Backend interface {
	// Name names the backend in messages: "nftables", "pf", "dry-run".
	Name() string
	// Sync makes the kernel hold exactly want, applying only the difference from what this
	// Backend last applied (the first call reads the kernel). now turns Expires into kernel
	// timeouts, a safety net only: firewarden owns expiry and removes expired bans itself.
	Sync(ctx context.Context, want []Ban, now time.Time) (SyncResult, error)
	// Reconcile is Sync after reading what the kernel really holds, for drift (a reboot, an
	// administrator, kernel timeouts that differ from the state).
	Reconcile(ctx context.Context, want []Ban, now time.Time) (SyncResult, error)
	// SetEnabled installs or removes the drop rules; the sets and their entries are kept.
	SetEnabled(ctx context.Context, on bool) error
	// Status reads the kernel.
	Status(ctx context.Context) (Status, error)
}
