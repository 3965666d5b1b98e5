package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/posture"
	"github.com/firewarden/firewarden/internal/posture/nftposture"
	"github.com/firewarden/firewarden/internal/posture/nftposture/fwtable"
	"github.com/firewarden/firewarden/internal/service"
)

// linuxFirewall is the provider of the linux.firewall checks, over the kernel's nftables in
// firewarden's own network namespace. Its warnings (a fix that keeps an SSH session the
// baseline does not allow) go to stderr; it runs programs (iptables-legacy-save) through run.
// The table it settles is held for boot (holdTable) unless this run must not hold it (noHold:
// a fix waiting for confirmation, its revert).
func (a *app) linuxFirewall(run host.Runner) *nftposture.Provider {
	opts := nftposture.Options{
		TakeOver:    a.takeOver,
		Getenv:      a.getenv,
		Warn:        func(s string) { fmt.Fprintf(a.Err, "firewarden: warning: %s\n", s) },
		Persistence: a.persistence,
		Run:         run,
	}
	if !a.noHold {
		opts.Hold = a.holdTable
	}
	if a.holdBy == "agent" {
		// The agent in enforce mode: nobody is there to say whether a kept SSH session is over,
		// or whether a reverted fix cut its operator off.
		opts.Unattended, opts.Suspended = true, a.enforceSuspended
	}
	if a.nft == nil {
		// The real kernel: its legacy iptables tables are in this process's /proc/net.
		opts.ReadProc = os.ReadFile
	}
	return nftposture.New(a.root, a.os, a.kernel(), opts)
}

// kernel is the kernel's nftables: the injected fake, or the real one.
func (a *app) kernel() nftposture.Kernel {
	if a.nft != nil {
		return a.nft
	}
	return nftposture.NewKernel(0)
}

// holdTable holds snap in the state directory as the table to put back at boot (or removes the
// held file when snap is Absent), and makes sure the boot service will do it. Only a fix,
// rollback or agent run that settled the table calls it (nftposture.Options.Hold), under the
// posture lock.
func (a *app) holdTable(ctx context.Context, snap fwtable.Snapshot) error {
	by := a.holdBy
	if by == "" {
		by = "fix"
	}
	if err := nftposture.SaveHeld(a.stateDir(), snap, by, a.now(), a.kernel().Check); err != nil {
		return err
	}
	if snap.Absent {
		return nil
	}
	return a.ensureBootService(ctx)
}

// ensureBootService installs and enables the firewall service (firewarden-firewall.service),
// which puts the held table back at boot, when the host under the root runs systemd and the
// unit is not installed and enabled already (a package's unit counts). It is not started: the
// table it would restore is in the kernel already, and its start would wait for the posture
// lock this run holds.
//
// fix does this rather than print a command to run: a held table that nothing restores is a
// promise kept only until the next reboot, and the unit does one thing, restore what fix
// itself wrote. A host without systemd is left alone; fix says what to run at boot instead.
func (a *app) ensureBootService(ctx context.Context) error {
	if !service.Booted(a.root) {
		return nil
	}
	installed, enabled := service.Enabled(a.root, service.Firewall)
	elsewhere := a.bootStateDir() != ""
	if installed && enabled && !elsewhere {
		return nil
	}
	var log bytes.Buffer
	m := &service.Manager{Root: a.root, Runner: a.rec, Init: service.Systemd, Out: &log}
	unit := service.Unit(service.Firewall)
	if !installed || elsewhere {
		// Written to /etc/systemd/system, which overrides a package's unit: a unit that reads
		// another state directory would put back another table, or none.
		opt, err := a.serviceOptions(service.Options{})
		if err != nil {
			return err
		}
		opt.Binary = a.serviceBinary()
		if err := opt.HiddenPaths(); err != nil && a.root.IsSystem() {
			return fmt.Errorf("the boot service %s was not installed: %v; copy firewarden to /usr/local/bin and run `sudo /usr/local/bin/firewarden service install %s`", unit, err, service.Firewall)
		}
		if err := m.Install(ctx, service.Firewall, opt, false); err != nil {
			return fmt.Errorf("install the boot service %s: %w; run `sudo firewarden service install %s`", unit, err, service.Firewall)
		}
	}
	if _, err := a.rec.Run(ctx, host.Cmd{Path: service.Systemctl, Args: []string{"enable", unit}}); err != nil {
		return fmt.Errorf("enable the boot service: %w; run `sudo systemctl enable %s`", err, unit)
	}
	what := "enabled"
	switch {
	case !installed:
		what = "installed and enabled"
	case elsewhere:
		what = "rewrote and enabled"
	}
	fmt.Fprintf(a.Err, "firewarden: %s %s, which puts the held table back at boot\n", what, unit)
	return nil
}

// persistence is what the linux.firewall checks learn of how firewarden's table survives a
// reboot: the held table, a fix waiting for confirmation, the boot service.
func (a *app) persistence() nftposture.Persistence {
	ps := nftposture.Persistence{Path: a.heldPath()}
	ps.Held, ps.Err = nftposture.LoadHeld(a.stateDir(), a.kernel().Check)
	// This run is a fix waiting for confirmation (its own re-check), or such a fix is pending.
	ps.Pending = a.noHold
	if p, err := a.readPending(); err == nil && p != nil && p.State == statePending {
		ps.Pending = true
	}
	unit := service.Unit(service.Firewall)
	switch installed, enabled := service.Enabled(a.root, service.Firewall); {
	case !service.Booted(a.root):
		ps.Note = "this host runs no systemd: firewarden's table comes back at boot only if the init system runs `firewarden fix --boot` before the network"
	case !installed:
		ps.Boot = fmt.Sprintf("the boot service %s is not installed (`firewarden fix` installs it; or `sudo firewarden service install %s`)", unit, service.Firewall)
	case !enabled:
		ps.Boot = fmt.Sprintf("the boot service %s is not enabled (`firewarden fix` enables it; or `sudo systemctl enable %s`)", unit, unit)
	default:
		if other := a.bootStateDir(); other != "" {
			ps.Boot = fmt.Sprintf("the boot service %s reads the held table from %s, not from this state directory (`firewarden fix` rewrites it)", unit, other)
		}
	}
	return ps
}

// bootStateDir is the state directory the installed boot service runs with (its --state-dir, or
// "the default" without one) when that is not the one this run holds the table in, the one its
// own unit would name; "" when they agree or no unit is installed. Both are compared as written
// into units: a state_dir of the configuration file is the same for both.
func (a *app) bootStateDir() string {
	o, err := service.InstalledOptions(a.root, service.Firewall)
	if err != nil {
		return ""
	}
	mine, err := a.serviceOptions(service.Options{})
	if err != nil || o.StateDir == mine.StateDir {
		return ""
	}
	if o.StateDir == "" {
		return "the default state directory"
	}
	return o.StateDir
}

// heldPath is the held table's file, as messages name it.
func (a *app) heldPath() string { return a.stateDir() + "/" + nftposture.HeldFile }

// runBoot is `fix --boot`: put the held table back into the kernel in one transaction and
// verify it, changing nothing else (no check, no backup). The boot service runs it.
func (a *app) runBoot() error {
	if a.os.Kind != host.Linux {
		return usagef("fix --boot puts firewarden's nftables table back, and nftables exists on Linux only; this host runs %s", a.os)
	}
	if err := a.requireRoot("fix --boot"); err != nil {
		return err
	}
	// A state directory that does not exist holds nothing; the lock would create it.
	var h *nftposture.Held
	k := a.kernel()
	lock, err := posture.TryLockExisting(a.stateDir())
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		defer lock.Unlock()
		if h, err = nftposture.LoadHeld(a.stateDir(), k.Check); err != nil {
			return usagef("%v; nothing was changed", err)
		}
	}
	if h == nil {
		if a.g.json {
			return writeJSON(a.Out, bootResult{Restored: false, Held: a.heldPath()})
		}
		fmt.Fprintf(a.Out, "nothing held: no %s, so no firewarden table to put back\n", a.heldPath())
		return nil
	}
	if err := k.Restore(h.Table); err != nil {
		return fmt.Errorf("put back table inet %s held in %s: %w", fwtable.Table, a.heldPath(), err)
	}
	got, err := k.Take()
	if err != nil {
		return fmt.Errorf("re-read table inet %s after putting it back: %w", fwtable.Table, err)
	}
	if got.Absent || !bytes.Equal(got.Data, h.Table.Data) {
		return errors.New("table inet " + fwtable.Table + " was put back but the kernel holds something else: run `firewarden check`")
	}
	if a.g.json {
		return writeJSON(a.Out, bootResult{Restored: true, Held: a.heldPath(), HeldAt: h.At, By: h.By})
	}
	fmt.Fprintf(a.Out, "restored table inet %s as held at %s (%s), verified\n", fwtable.Table, h.At.Format(time.RFC3339), h.By)
	return nil
}

// bootResult is `fix --boot --json`.
type bootResult struct {
	Restored bool      `json:"restored"`
	Held     string    `json:"held"`
	HeldAt   time.Time `json:"held_at,omitzero"`
	By       string    `json:"by,omitempty"`
}

// shortValue is a change's value as the fix and rollback tables show it: firewarden's table is
// JSON (a table spec or a snapshot) too long for a column, so it is described instead.
func shortValue(c posture.Change, v string) string {
	if c.Key == nftposture.KeyTable {
		return nftposture.Describe(v)
	}
	return v
}

// enforceSuspended says why the agent's enforce mode must leave firewarden's table alone: the
// latest fix that asked for confirmation was reverted unconfirmed (perhaps because it cut off
// the person who ran it) and no table has been held since. "" otherwise, and when the state
// cannot be read (check and fix report that themselves).
func (a *app) enforceSuspended() string {
	p, err := a.readPending()
	if err != nil || p == nil || p.State != stateReverted {
		return ""
	}
	if h, err := nftposture.LoadHeld(a.stateDir(), a.kernel().Check); err == nil && h != nil && h.At.After(p.At) {
		return "" // a fix, confirm or rollback settled a table after the revert
	}
	return fmt.Sprintf("enforce mode leaves table inet %s alone: the fix saved as backup %s asked for confirmation and was reverted unconfirmed at %s (%s), perhaps because it cut off whoever ran it; `sudo firewarden fix` on the host settles it",
		fwtable.Table, p.Backup, p.At.Format(time.RFC3339), p.By)
}
