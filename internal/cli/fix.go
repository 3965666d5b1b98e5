package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/firewarden/firewarden/internal/posture"
)

func (a *app) backups() *posture.BackupStore {
	return &posture.BackupStore{Dir: a.stateDir() + "/backups", Host: a.hostname(), OS: a.os.String(), Now: a.now}
}

func runFix(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("fix")
	pf := postureFlags(fs)
	dry := fs.Bool("dry-run", false, "print the exact commands and run none that write")
	b, only, err := a.parsePosture(fs, pf, args)
	if err != nil {
		return err
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
	fr, err := a.engine().Fix(ctx, a.request(b, only), *dry, a.backups())
	if err != nil {
		return err
	}
	if fr.Before.NothingEvaluated() {
		defer fmt.Fprintf(a.Err, "firewarden: %s\n", a.nothingEvaluated(fr.Before, "nothing to fix on this host"))
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
		fmt.Fprintf(w, "nothing to fix: %s\n", summaryLine(fr.Before.Results))
	case *dry:
		if len(fr.Planned) > 0 {
			fmt.Fprintln(w, "dry run: would run, in this order:")
			for _, c := range fr.Planned {
				for _, cmd := range c.Commands {
					fmt.Fprintf(w, "  %s\n", cmd)
				}
				setting := c.Check
				if c.Key != c.Check {
					setting += ": " + c.Key
				}
				fmt.Fprintf(w, "    # %s %s -> %s\n", setting, c.From, c.To)
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
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Check, c.Key, c.From, c.To, "changed, verified")
		}
		if f := fr.Failed; f != nil {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Change.Check, f.Change.Key, f.Change.From, f.Change.To, "FAILED")
		}
		for _, c := range fr.Reverted {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Check, c.Key, c.From, c.To, "reverted (weakening change undone after the failure)")
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
	for _, r := range fr.Refused {
		hint := r.FixHint
		if hint == "" {
			hint = r.Detail
		}
		fmt.Fprintf(w, "%s: not changed: %s\n", r.ID, hint)
	}
	for _, r := range fr.Before.Results {
		if r.Status == posture.Error {
			fmt.Fprintf(w, "%s: not changed: could not read it: %s\n", r.ID, r.Detail)
		}
	}
	if fr.After != nil {
		fmt.Fprintln(w, "\nafter the fix:")
		writeTable(w, fr.After.Results)
		fmt.Fprintf(w, "\n%s\n", summaryLine(fr.After.Results))
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
		lock, err := posture.TryLock(a.stateDir())
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
				keys = append(keys, c.Key+"="+c.From)
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
	results, err := a.engine().Rollback(ctx, bk.Changes)
	if err != nil {
		return usagef("backup %s cannot be restored, nothing was changed: %v", bk.ID, err)
	}
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
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Change.Check, r.Change.Key, r.Change.To, res)
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
