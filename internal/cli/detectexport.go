package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/firewarden/firewarden/internal/detect"
	"github.com/firewarden/firewarden/internal/statedir"
)

// runDetectRulesExport is `detect rules export [--format sigma|firewarden] [--out DIR] [--rules
// DIR] [--no-builtin]`: the rules as files for other tools, one per rule under DIR, or one YAML
// stream on standard output.
func runDetectRulesExport(_ context.Context, a *app, args []string) error {
	flags := a.flagSet("detect rules export")
	format := flags.String("format", detect.FormatSigma, "`FORMAT` to write: sigma (standard Sigma fields and tags, for sigma-cli and pySigma) or firewarden (the rule files as detect reads them)")
	out := flags.String("out", "", "write one file per rule into `DIR` (created if missing) instead of one YAML stream on standard output")
	var ruleDirs multiFlag
	flags.Var(&ruleDirs, "rules", "also export the Sigma rules in `DIR` (or one rule FILE); repeatable")
	noBuiltin := flags.Bool("no-builtin", false, "leave the built-in rules out")
	pos, err := a.parse(flags, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("detect rules export takes no arguments; use --out DIR to write files, --rules DIR to add rules")
	}
	if a.g.json {
		return usagef("detect rules export writes YAML rule files; --json does not apply")
	}
	if !slices.Contains(detect.ExportFormats, *format) {
		return usagef("--format %q: want %s", *format, strings.Join(detect.ExportFormats, " or "))
	}
	rs, err := detect.LoadRules(!*noBuiltin, ruleDirs...)
	if err != nil {
		return usagef("%v", err)
	}
	if len(rs.Rules) == 0 {
		return usagef("no rules to export: drop --no-builtin or give --rules DIR")
	}
	files, skipped, err := detect.Export(rs, *format)
	if err != nil {
		return usagef("%v", err)
	}

	if *out == "" {
		for i, f := range files {
			sep := "---\n"
			if i == 0 {
				sep = ""
			}
			if _, err := fmt.Fprintf(a.Out, "%s%s", sep, f.Data); err != nil {
				return err
			}
		}
		noteTranslated(a, rs, *format, skipped)
		return nil
	}
	if err := writeExport(*out, files); err != nil {
		return err
	}
	fmt.Fprintf(a.Err, "detect rules export: wrote %d %s rule file(s) to %s\n", len(files), *format, *out)
	noteTranslated(a, rs, *format, skipped)
	return nil
}

// noteTranslated says on stderr, once the rules are out, which built-in rules were left out and
// that the others were translated: a translation is not the rule that was tested, and the user
// should not take it for one.
func noteTranslated(a *app, rs *detect.Ruleset, format string, skipped []detect.NotExported) {
	if format != detect.FormatSigma {
		return
	}
	for _, sk := range skipped {
		fmt.Fprintf(a.Err, "detect rules export: built-in rule %s not exported: %s\n", sk.Name, sk.Reason)
	}
	n := -len(skipped)
	for _, r := range rs.Rules {
		if r.Builtin {
			n++
		}
	}
	if n > 0 {
		fmt.Fprintf(a.Err, "detect rules export: %d built-in rule(s) translated into Sigma's standard fields (status test); each one's firewarden.note says what the translation gives up\n", n)
	}
}

// writeExport writes each file into dir, creating dir when it is missing. dir must be a
// directory, not a symbolic link to one; a file already there under a rule's name must be a
// regular file (a link is refused, never followed). Every target is checked before the first is
// written, and each file is replaced atomically (temporary file, fsync, rename): a reader sees
// the old rule or the new one, never part of one.
func writeExport(dir string, files []detect.ExportedRule) error {
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("detect rules export: %w", err)
		}
	case err != nil:
		return fmt.Errorf("detect rules export: %w", err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return usagef("--out %s is a symbolic link; give the directory it points to, or another one", dir)
	case !fi.IsDir():
		return usagef("--out %s is not a directory", dir)
	}
	for _, f := range files {
		p := filepath.Join(dir, f.File)
		if fi, err := os.Lstat(p); err == nil && !fi.Mode().IsRegular() {
			return usagef("--out: %s is not a regular file (a symbolic link or other); nothing was written: remove it, or choose another directory", p)
		}
	}
	for _, f := range files {
		if err := statedir.WriteFileAtomic(filepath.Join(dir, f.File), f.Data, 0o644); err != nil {
			return fmt.Errorf("detect rules export: %w", err)
		}
	}
	return nil
}
