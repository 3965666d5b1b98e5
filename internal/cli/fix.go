package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/firewarden/firewarden/internal/posture"
	"github.com/firewarden/firewarden/internal/posture/nftposture"
	"github.com/firewarden/firewarden/internal/service"
)

func (a *app) backups() *posture.BackupStore {
	return &posture.BackupStore{Dir: a.stateDir() + "/backups", Host: a.hostname(), OS: a.os.String(), Now: a.now}
}

func runFix(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("fix")
	pf := postureFlags(fs)
	dry := fs.Bool("dry-run", false, "print the exact commands and run none that write")
	cf := confirmFlags(fs)
	pf.noBaseline = cf.boot
	b, only, err := a.parsePosture(fs, pf, args)
	if err != nil {
		return err
	}
	a.takeOver = *cf.takeOver
	switch {
	case *cf.boot && (*cf.confirm || *cf.revert != "" || *cf.within != 0 || *dry || *cf.takeOver || *pf.only != "" || *pf.baseline != ""):
		return usagef("fix --boot takes no other fix flag: it only puts the held table back as it is")
	case *cf.boot:
		return a.runBoot()
	case *cf.confirm && (*cf.revert != "" || *cf.within != 0 || *dry):
		return usagef("fix --confirm takes no other fix flag: it only keeps the fix waiting for confirmation")
	case *cf.confirm:
		return a.runConfirm(ctx)
	case *cf.revert != "":
		return a.runWatchdog(ctx, *cf.revert)
	case *cf.within < 0:
		return usagef("--confirm-within %v: give a positive duration such as 60s", *cf.within)
	}
	a.revertOverdue(ctx)
	if !*dry {
		// Any fix now would be undone by the pending one's revert (it restores the table as it
		// was before that fix): settle that one first.
		if p, err := a.readPending(); err != nil {
			return err
		} else if p != nil && p.State == statePending {
			return usagef("the fix saved as backup %s is waiting for confirmation until %s: run `firewarden fix --confirm` or let it revert first", p.Backup, p.Deadline.Format(time.RFC3339))
		}
	}
	if !*dry {
		if err := a.requireRoot("fix"); err != nil {
			return err
		}
		lock, err := posture.TryLock(a.stateDir())
		if err != nil {
			return err
		}
		defer lock.Unlock()
	}
	// A fix that waits for confirmation is held only at `fix --confirm`: a reboot before that
	// brings back the table held before it, as the watchdog would.
	a.noHold = *cf.within > 0
	fr, err := a.engine().Fix(ctx, a.request(b, only), *dry, a.backups())
	if err != nil {
		return err
	}
	if *cf.within > 0 && !*dry && len(fr.Applied) > 0 && fr.Backup != "" {
		deadline, err := a.startConfirmWindow(fr.Backup, *cf.within)
		if err != nil {
			// Without its watchdog the fix would stay unconfirmed for good: undo it now.
			a.rollbackNow(ctx, fr.Backup)
			return fmt.Errorf("the fix was reverted because its confirmation window could not start: %w", err)
		}
		w := a.Out
		if a.g.json {
			w = a.Err
		}
		defer fmt.Fprintf(w, "\nthis fix reverts itself at %s unless `firewarden fix --confirm` runs before\n", deadline.Format(time.RFC3339))
	}
	if fr.Before.NothingEvaluated() {
		defer fmt.Fprintf(a.Err, "firewarden: %s\n", a.nothingEvaluated(fr.Before, "nothing to fix on this host"))
	}
	if slices.ContainsFunc(fr.Applied, func(c posture.Change) bool { return c.Key == nftposture.KeyTable }) {
		// The kernel forgets the table at a reboot: say what brings it back, so that a pass
		// now is not taken for a pass for good.
		if note := a.heldNote(*cf.within > 0); note != "" {
			fmt.Fprintf(a.Err, "firewarden: %s\n", note)
		}
	}
	if a.g.json {
		if err := writeJSON(a.Out, fr); err != nil {
			return err
		}
		return exitCode(fr.ExitCode())
	}
	w := a.Out
	switch {
	case len(fr.Planned) == 0 && len(fr.Refused) == 0:
		shown, _ := splitForeign(string(a.os.Kind), fr.Before.Results)
		fmt.Fprintf(w, "nothing to fix: %s\n", summaryLine(shown))
	case *dry:
		if len(fr.Planned) > 0 {
			fmt.Fprintln(w, "dry run: would run, in this order:")
			for _, c := range fr.Planned {
				for _, cmd := range c.Commands {
					fmt.Fprintf(w, "  %s\n", cmd)
				}
				if len(c.Commands) == 0 && c.Key == nftposture.KeyTable {
					fmt.Fprintln(w, "  (no program: one nftables transaction over netlink)")
				}
				setting := c.Check
				if c.Key != c.Check {
					setting += ": " + c.Key
				}
				fmt.Fprintf(w, "    # %s %s -> %s\n", setting, shortValue(c, c.From), shortValue(c, c.To))
			}
		}
	case len(fr.Planned) == 0:
		fmt.Fprintln(w, "nothing changed: what fails is not firewarden's to change")
	default:
		if fr.Backup != "" {
			fmt.Fprintf(w, "backup %s saved (undo with: firewarden rollback %s)\n\n", fr.Backup, fr.Backup)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CHECK\tSETTING\tFROM\tTO\tRESULT")
		for _, c := range fr.Applied {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Check, c.Key, shortValue(c, c.From), shortValue(c, c.To), "changed, verified")
		}
		if f := fr.Failed; f != nil {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Change.Check, f.Change.Key, shortValue(f.Change, f.Change.From), shortValue(f.Change, f.Change.To), "FAILED")
		}
		for _, c := range fr.Reverted {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Check, c.Key, shortValue(c, c.From), shortValue(c, c.To), "reverted (weakening change undone after the failure)")
		}
		tw.Flush()
		if f := fr.Failed; f != nil {
			fmt.Fprintf(w, "\nstopped at %s: %s\n", f.Change.Key, f.Error)
			notRun := len(fr.Planned) - len(fr.Applied) - 1
			if notRun > 0 {
				fmt.Fprintf(w, "%d later change(s) not attempted\n", notRun)
			}
		}
	}
	// One line per reason, naming every check it holds back (a firewall ufw owns holds all four
	// linux.firewall checks for the same reason).
	var hints []string
	ids := map[string][]string{}
	for _, r := range fr.Refused {
		hint := r.FixHint
		if hint == "" {
			hint = r.Detail
		}
		if _, ok := ids[hint]; !ok {
			hints = append(hints, hint)
		}
		ids[hint] = append(ids[hint], r.ID)
	}
	for _, h := range hints {
		fmt.Fprintf(w, "%s: not changed: %s\n", strings.Join(ids[h], ", "), h)
	}
	for _, r := range fr.Before.Results {
		if r.Status == posture.Error {
			fmt.Fprintf(w, "%s: not changed: could not read it: %s\n", r.ID, r.Detail)
		}
	}
	if fr.After != nil {
		fmt.Fprintln(w, "\nafter the fix:")
		shown, foreign := splitForeign(string(a.os.Kind), fr.After.Results)
		writeTable(w, shown)
		// The details say what the table cannot: why a value reads "(restart sshd)", what
		// still fails and why, how the table comes back after a reboot.
		writeDetails(w, shown)
		if foreign != "" {
			fmt.Fprintf(w, "\n%s\n", foreign)
		}
		fmt.Fprintf(w, "\n%s\n", summaryLine(shown))
	}
	return exitCode(fr.ExitCode())
}

func runRollback(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("rollback")
	list := fs.Bool("list", false, "list the backups, oldest first")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("rollback takes at most one backup ID, got %d", len(pos))
	}
	if err := a.env(); err != nil {
		return err
	}
	if !*list {
		if err := a.requireRoot("rollback"); err != nil {
			return err
		}
		lock, err := posture.TryLockExisting(a.stateDir())
		if errors.Is(err, os.ErrNotExist) {
			return usagef("no backups in %s: nothing to roll back (fix saves one before it changes anything)", a.backups().Dir)
		}
		if err != nil {
			return err
		}
		defer lock.Unlock()
	}
	store := a.backups()
	if *list {
		all, err := store.List()
		if err != nil {
			return err
		}
		if a.g.json {
			if all == nil {
				all = []posture.Backup{}
			}
			return writeJSON(a.Out, all)
		}
		if len(all) == 0 {
			fmt.Fprintf(a.Out, "no backups in %s\n", store.Dir)
			return nil
		}
		tw := tabwriter.NewWriter(a.Out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "BACKUP\tCREATED\tSETTINGS")
		for _, b := range all {
			if b.Damaged != "" {
				fmt.Fprintf(tw, "%s\t-\tDAMAGED: %s\n", b.ID, oneLine(b.Damaged))
				continue
			}
			var keys []string
			for _, c := range b.Changes {
				keys = append(keys, c.Key+"="+shortValue(c, c.From))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", b.ID, b.Created.Format("2006-01-02 15:04:05Z"), strings.Join(keys, " "))
		}
		return tw.Flush()
	}
	id := ""
	if len(pos) == 1 {
		id = pos[0]
	}
	bk, err := store.Load(id)
	if errors.Is(err, posture.ErrNoBackups) {
		return usagef("no backups in %s: nothing to roll back (fix saves one before it changes anything)", store.Dir)
	}
	if err != nil {
		return usagef("%v", err)
	}
	a.holdBy = "rollback " + bk.ID
	results, err := a.engine().Rollback(ctx, bk.Changes)
	if err != nil {
		return usagef("backup %s cannot be restored, nothing was changed: %v", bk.ID, err)
	}
	a.settlePending(bk.ID)
	if a.g.json {
		if err := writeJSON(a.Out, struct {
			Backup  string                   `json:"backup"`
			Results []posture.RollbackResult `json:"results"`
		}{bk.ID, results}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(a.Out, "restoring backup %s (%s)\n", bk.ID, bk.Created.Format("2006-01-02 15:04:05Z"))
		tw := tabwriter.NewWriter(a.Out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CHECK\tSETTING\tTO\tRESULT")
		for _, r := range results {
			res := "restored, verified"
			switch {
			case r.Error != "":
				res = "FAILED: " + oneLine(r.Error)
			case r.Kept != "":
				res = "kept: " + strings.TrimSuffix(oneLine(r.Kept), ": "+posture.ErrNotRestorable.Error())
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Change.Check, r.Change.Key, shortValue(r.Change, r.Change.To), res)
		}
		tw.Flush()
	}
	for _, r := range results {
		if r.Error != "" {
			return exitCode(posture.ExitNonCompliant)
		}
	}
	return nil
}

// heldNote says after a fix that wrote firewarden's table how it comes back after a reboot:
// held and restored by the boot service, held at `fix --confirm`, or held but for the init
// system to restore. "" when a warning said already why it is not held.
func (a *app) heldNote(pending bool) string {
	ps := a.persistence()
	switch {
	case pending:
		return "note: the table is held for boot once `firewarden fix --confirm` keeps it; a reboot before that brings back the table held before (" + heldOrNone(ps) + ")"
	case ps.Err != nil || ps.Held == nil || ps.Boot != "":
		return "" // the fix warned, and check says so
	case ps.Note != "":
		return "note: the table is held in " + ps.Path + ", but " + ps.Note
	}
	return "the table is held in " + ps.Path + "; " + service.Unit(service.Firewall) + " puts it back at boot"
}

func heldOrNone(ps nftposture.Persistence) string {
	if ps.Held == nil {
		return "none"
	}
	return ps.Held.By + ", " + ps.Held.At.Format(time.RFC3339)
}
