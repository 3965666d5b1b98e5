package cli

import (
	"fmt"
	"os"

	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/posture"

	"github.com/firewarden/firewarden/internal/posture/nftposture"
)

// linuxFirewall is the provider of the linux.firewall checks, over the kernel's nftables in
// firewarden's own network namespace. Its warnings (a fix that keeps an SSH session the
// baseline does not allow) go to stderr; it runs programs (iptables-legacy-save) through run.
func (a *app) linuxFirewall(run host.Runner) *nftposture.Provider {
	opts := nftposture.Options{
		TakeOver: a.takeOver,
		Getenv:   a.getenv,
		Warn:     func(s string) { fmt.Fprintf(a.Err, "firewarden: warning: %s\n", s) },
		Run:      run,
	}
	k := a.nft
	if k == nil {
		// The real kernel: its legacy iptables tables are in this process's /proc/net.
		k, opts.ReadProc = nftposture.NewKernel(0), os.ReadFile
	}
	return nftposture.New(a.root, a.os, k, opts)
}

// shortValue is a change's value as the fix and rollback tables show it: firewarden's table is
// JSON (a table spec or a snapshot) too long for a column, so it is described instead.
func shortValue(c posture.Change, v string) string {
	if c.Key == nftposture.KeyTable {
		return nftposture.Describe(v)
	}
	return v
}
