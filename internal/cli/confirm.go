package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/firewarden/firewarden/internal/posture"
	"github.com/firewarden/firewarden/internal/posture/nftposture"
	"github.com/firewarden/firewarden/internal/statedir"
)

// A fix run with --confirm-within is a router's commit-confirmed: it writes the pending file
// (pendingFile in the state directory) and starts a detached watchdog, `firewarden fix
// --revert-unconfirmed BACKUP`, which rolls the fix back at the deadline unless `fix --confirm`
// has marked it confirmed. The watchdog runs in its own session with no terminal, so it outlives
// the SSH session the fix may have cut. If it dies anyway (kill -9, a reboot), the next posture
// command that finds the deadline passed reverts the fix itself.

// errDamagedPending marks a pending file that does not decode.
var errDamagedPending = errors.New("damaged confirmation state")

// pendingFile holds the state of the latest fix that asked for confirmation.
const pendingFile = "confirm.json"

// Pending-confirmation states.
const (
	statePending   = "pending"
	stateConfirmed = "confirmed"
	stateReverted  = "reverted"
)

// overdueGrace is how long past its deadline a pending fix is left to its watchdog before any
// other posture command reverts it.
const overdueGrace = 3 * time.Second

// pending is the content of pendingFile.
type pending struct {
	Backup   string    `json:"backup"`
	Deadline time.Time `json:"deadline"`
	Watchdog int       `json:"watchdog_pid,omitempty"`
	State    string    `json:"state"`
	At       time.Time `json:"at,omitempty"` // when it was confirmed or reverted
	By       string    `json:"by,omitempty"` // who reverted it: "watchdog" or the command that found it overdue
	Error    string    `json:"error,omitempty"`
}

type confirmOpts struct {
	boot     *bool
	takeOver *bool
	within   *time.Duration
	confirm  *bool
	revert   *string
}

func confirmFlags(fs *flag.FlagSet) confirmOpts {
	return confirmOpts{
		boot:     fs.Bool("boot", false, "put firewarden's held firewall table back into the kernel as it is, and change nothing else (what the firewall boot service runs; Linux)"),
		takeOver: fs.Bool("take-over", false, "write firewarden's table even though ufw or firewalld owns the Linux firewall (their rules stay)"),
		within:   fs.Duration("confirm-within", 0, "revert the fix by itself after `DURATION` unless `firewarden fix --confirm` follows in time (like a router's commit-confirmed)"),
		confirm:  fs.Bool("confirm", false, "keep the fix that is waiting for confirmation (see --confirm-within)"),
		revert:   fs.String("revert-unconfirmed", "", "the watchdog that --confirm-within starts: wait for the deadline of the fix saved as `BACKUP`, then roll it back unless confirmed"),
	}
}

func (a *app) stateDirOpen() (*statedir.Dir, error) { return statedir.Open(a.stateDir()) }

// readPending reads the pending file; nil when there is none.
func (a *app) readPending() (*pending, error) {
	data, found, err := statedir.ReadExisting(a.stateDir(), pendingFile)
	if err != nil || !found {
		return nil, err
	}
	var p pending
	if err := json.Unmarshal(data, &p); err != nil || p.Backup == "" || p.State == "" {
		return nil, fmt.Errorf("%s is damaged; remove it after checking the firewall with `firewarden check`: %w", filepath.Join(a.stateDir(), pendingFile), errDamagedPending)
	}
	return &p, nil
}

func (a *app) writePending(p *pending) error {
	d, err := a.stateDirOpen()
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return d.WriteFile(pendingFile, append(data, '\n'))
}

// runConfirm is `fix --confirm`: mark the pending fix confirmed (under the fix lock, so that it
// cannot cross a revert in progress).
func (a *app) runConfirm(ctx context.Context) error {
	if err := a.requireRoot("fix --confirm"); err != nil {
		return err
	}
	lock, err := posture.TryLockExisting(a.stateDir())
	if errors.Is(err, fs.ErrNotExist) {
		return usagef("nothing to confirm: no fix is waiting for confirmation (fix --confirm-within DURATION starts one)")
	}
	if err != nil {
		return err
	}
	defer lock.Unlock()
	p, err := a.readPending()
	if err != nil {
		return err
	}
	now := a.now().UTC()
	switch {
	case p != nil && p.State == stateConfirmed:
		return usagef("nothing to confirm: the fix saved as backup %s was confirmed at %s and stays", p.Backup, p.At.UTC().Format(time.RFC3339))
	case p == nil:
		return usagef("nothing to confirm: no fix is waiting for confirmation (fix --confirm-within DURATION starts one)")
	case p.State == stateReverted:
		fmt.Fprintf(a.Out, "too late: the fix saved as backup %s was reverted at %s (%s), its deadline was %s; run fix again\n",
			p.Backup, p.At.Format(time.RFC3339), p.By, p.Deadline.Format(time.RFC3339))
		return exitCode(posture.ExitNonCompliant)
	}
	p.State, p.At = stateConfirmed, now
	if err := a.writePending(p); err != nil {
		return err
	}
	fmt.Fprintf(a.Out, "confirmed: the fix saved as backup %s stays (deadline was %s)\n", p.Backup, p.Deadline.Format(time.RFC3339))
	a.holdConfirmed(ctx, p.Backup)
	return nil
}

// holdConfirmed holds the table the kernel runs now as the one to put back at boot, once a
// fix that wrote it is confirmed (a fix waiting for confirmation holds nothing). Failing is a
// warning: the fix is confirmed either way, and check says the table is not held.
func (a *app) holdConfirmed(ctx context.Context, backup string) {
	bk, err := a.backups().Load(backup)
	if err != nil || !slices.ContainsFunc(bk.Changes, func(c posture.Change) bool { return c.Key == nftposture.KeyTable }) {
		return // the fix did not write the table
	}
	snap, err := a.kernel().Take()
	if err == nil {
		a.holdBy = "fix --confirm"
		err = a.holdTable(ctx, snap)
	}
	if err != nil {
		fmt.Fprintf(a.Err, "firewarden: warning: the table is confirmed but not held for boot: %v\n", err)
		return
	}
	// As after a plain fix: say what brings the table back after a reboot.
	if note := a.heldNote(false); note != "" {
		fmt.Fprintf(a.Err, "firewarden: %s\n", note)
	}
}

// startConfirmWindow records the fix saved as backup as pending until now+within and starts the
// watchdog that reverts it.
func (a *app) startConfirmWindow(backup string, within time.Duration) (time.Time, error) {
	deadline := a.now().UTC().Add(within).Truncate(time.Second).Add(time.Second)
	p := &pending{Backup: backup, Deadline: deadline, State: statePending}
	if err := a.writePending(p); err != nil {
		return deadline, err
	}
	exe, err := os.Executable()
	if err != nil {
		return deadline, fmt.Errorf("find firewarden's own binary for the watchdog: %w", err)
	}
	args := []string{"--root", a.root.Dir(), "--state-dir", a.stateDir()}
	if a.g.config != "" {
		args = append(args, "--config", a.g.config)
	}
	args = append(args, "fix", "--revert-unconfirmed", backup)
	cmd := exec.Command(exe, args...)
	// Its own session, no terminal, stdio on /dev/null (os/exec's default for nil): hanging up
	// the SSH session that ran the fix does not reach it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	if err := cmd.Start(); err != nil {
		return deadline, fmt.Errorf("start the watchdog: %w", err)
	}
	p.Watchdog = cmd.Process.Pid
	cmd.Process.Release()
	return deadline, a.writePending(p)
}

// runWatchdog is `fix --revert-unconfirmed BACKUP`: wait for the deadline, then revert unless
// confirmed. It exits quietly when the pending fix is another one or is settled.
func (a *app) runWatchdog(ctx context.Context, backup string) error {
	for {
		p, err := a.readPending()
		if err != nil {
			return err
		}
		if p == nil || p.Backup != backup || p.State != statePending {
			return nil
		}
		wait := p.Deadline.Sub(a.now())
		if wait <= 0 {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	lock, err := posture.WaitLock(filepath.Join(a.stateDir(), "lock"))
	if err != nil {
		return err
	}
	defer lock.Unlock()
	_, err = a.revertPending(ctx, backup, "watchdog")
	return err
}

// revertPending rolls back the pending fix saved as backup if it is still pending (the caller
// holds the fix lock), and records the outcome. It reports whether it reverted.
func (a *app) revertPending(ctx context.Context, backup, by string) (bool, error) {
	p, err := a.readPending()
	if err != nil || p == nil || p.Backup != backup || p.State != statePending {
		return false, err
	}
	// The revert puts back the table from before the fix, which was never held as this fix's:
	// the held table stays as it was.
	a.noHold = true
	defer func() { a.noHold = false }()
	bk, err := a.backups().Load(backup)
	var results []posture.RollbackResult
	if err == nil {
		results, err = a.engine().Rollback(ctx, bk.Changes)
	}
	for _, r := range results {
		if err == nil && r.Error != "" {
			err = errors.New(r.Error)
		}
	}
	p.State, p.At, p.By = stateReverted, a.now().UTC(), by
	if err != nil {
		p.Error = err.Error()
	}
	if werr := a.writePending(p); werr != nil && err == nil {
		err = werr
	}
	return true, err
}

// revertOverdue is run by posture commands: a pending fix past its deadline whose watchdog is
// gone is reverted now, and said so on stderr. Without the privilege to revert it says what to
// run instead.
func (a *app) revertOverdue(ctx context.Context) {
	p, err := a.readPending()
	if errors.Is(err, errDamagedPending) {
		fmt.Fprintf(a.Err, "firewarden: warning: %v\n", err)
	}
	if err != nil {
		// A state directory that cannot be read is the command's own error to report.
		return
	}
	if p == nil || p.State != statePending || a.now().Before(p.Deadline.Add(overdueGrace)) || alive(p.Watchdog) {
		return
	}
	if a.root.IsSystem() && a.euid() != 0 {
		fmt.Fprintf(a.Err, "firewarden: warning: the fix saved as backup %s was not confirmed by %s and its watchdog is gone: run `sudo firewarden rollback %s`\n", p.Backup, p.Deadline.Format(time.RFC3339), p.Backup)
		return
	}
	lock, err := posture.TryLock(a.stateDir())
	if err != nil {
		return // a fix or rollback is running; it will see it
	}
	defer lock.Unlock()
	done, err := a.revertPending(ctx, p.Backup, "found overdue by a later command")
	switch {
	case err != nil:
		fmt.Fprintf(a.Err, "firewarden: the fix saved as backup %s was not confirmed by %s and its watchdog is gone; reverting it failed: %v\n", p.Backup, p.Deadline.Format(time.RFC3339), err)
	case done:
		fmt.Fprintf(a.Err, "firewarden: the fix saved as backup %s was not confirmed by %s and its watchdog is gone: reverted it now\n", p.Backup, p.Deadline.Format(time.RFC3339))
	}
}

// alive reports whether the watchdog pid still runs (0: none was recorded). Where /proc shows
// the command line, a process that reused the number is not taken for the watchdog.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil {
		return bytes.Contains(cmdline, []byte("--revert-unconfirmed"))
	}
	return true
}

// rollbackNow restores backup at once (the fix lock is held), best effort. It holds nothing:
// it undoes a fix that was not to be held yet.
func (a *app) rollbackNow(ctx context.Context, backup string) {
	a.noHold = true
	defer func() { a.noHold = false }()
	if bk, err := a.backups().Load(backup); err == nil {
		a.engine().Rollback(ctx, bk.Changes)
	}
}

// settlePending marks the pending fix saved as backup reverted after a rollback of it by hand,
// so that its watchdog does not restore it a second time.
func (a *app) settlePending(backup string) {
	p, err := a.readPending()
	if err != nil || p == nil || p.Backup != backup || p.State != statePending {
		return
	}
	p.State, p.At, p.By = stateReverted, a.now().UTC(), "rollback"
	a.writePending(p)
}
