package cli

import (
	"fmt"

	"github.com/firewarden/firewarden/internal/posture"

	"github.com/firewarden/firewarden/internal/posture/nftposture"
)

// linuxFirewall is the provider of the linux.firewall checks, over the kernel's nftables in
// firewarden's own network namespace. Its warnings (a fix that keeps an SSH session the
// baseline does not allow) go to stderr.
func (a *app) linuxFirewall() *nftposture.Provider {
	k := a.nft
	if k == nil {
		k = nftposture.NewKernel(0)
	}
	return nftposture.New(a.root, a.os, k, nftposture.Options{
		TakeOver: a.takeOver,
		Getenv:   a.getenv,
		Warn:     func(s string) { fmt.Fprintf(a.Err, "firewarden: warning: %s\n", s) },
	})
}

// shortValue is a change's value as the fix and rollback tables show it: firewarden's table is
// JSON (a table spec or a snapshot) too long for a column, so it is described instead.
func shortValue(c posture.Change, v string) string {
	if c.Key == nftposture.KeyTable {
		return nftposture.Describe(v)
	}
	return v
}
