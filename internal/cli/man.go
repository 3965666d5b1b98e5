package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/firewarden/firewarden/internal/posture"
	"github.com/firewarden/firewarden/internal/version"
)

// runMan is `firewarden man --dir DIR`: firewarden.1 and firewarden-COMMAND.1 per command,
// from the command table and the real FlagSets, as help prints them.
func runMan(_ context.Context, a *app, args []string) error {
	fs := a.flagSet("man")
	dir := fs.String("dir", "", "write the pages into `DIR` (created when missing)")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("man takes no arguments, got %q; give the directory with --dir DIR", pos[0])
	}
	if *dir == "" {
		return usagef("man needs --dir DIR, the directory to write the pages into")
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return usagef("man: %v", err)
	}
	for name, page := range manPages() {
		// Written whole or not at all, like every file firewarden writes.
		if err := posture.WriteFileAtomic(filepath.Join(*dir, name), []byte(page), 0o644); err != nil {
			return fmt.Errorf("man: write %s: %w", name, err)
		}
	}
	return nil
}

// manPages are the pages by file name.
func manPages() map[string]string {
	pages := map[string]string{"firewarden.1": mainPage()}
	for _, c := range visibleCommands() {
		pages["firewarden-"+c.name+".1"] = commandPage(c)
	}
	return pages
}

// roffText escapes text for roff: backslashes and minus signs, a leading dot or quote, and
// `code` spans set in bold. "…" becomes "..." so that the pages are plain ASCII.
func roffText(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	s = strings.ReplaceAll(s, "…", "...")
	s = codeSpan.ReplaceAllString(s, `\fB$1\fR`)
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			l = `\&` + l
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}

var codeSpan = regexp.MustCompile("`([^`]*)`")

// manHeader is the .TH line and NAME section. The date is the release date when the build
// says it (a stamped Date), and left out otherwise so that the pages are reproducible.
func manHeader(b *strings.Builder, name, summary string) {
	date := ""
	if len(version.Date) >= 10 {
		date = version.Date[:10]
	}
	fmt.Fprintf(b, ".TH %s 1 %q %q \"User Commands\"\n", strings.ToUpper(name), date, "firewarden "+version.String())
	fmt.Fprintf(b, ".SH NAME\n%s \\- %s\n", roffText(name), roffText(summary))
}

// manFlags writes flags as a tagged list.
func manFlags(b *strings.Builder, flags []*flag.Flag) {
	for _, f := range flags {
		syntax, usage := flagSyntax(f)
		name, placeholder, _ := strings.Cut(syntax, " ")
		if placeholder != "" {
			fmt.Fprintf(b, ".TP\n.BI %s \" %s\"\n", roffText(name), roffText(placeholder))
		} else {
			fmt.Fprintf(b, ".TP\n.B %s\n", roffText(name))
		}
		fmt.Fprintf(b, "%s\n", roffText(usage+defaultText(f)))
	}
}

func manExamples(b *strings.Builder, examples []string) {
	for _, e := range examples {
		fmt.Fprintf(b, ".PP\n.RS 4\n.nf\n%s\n.fi\n.RE\n", roffText(e))
	}
}

func manExitStatus(b *strings.Builder) {
	b.WriteString(".SH EXIT STATUS\n.TP\n.B 0\ncompliant, no findings, or done\n.TP\n.B 1\nnot compliant, or findings (alerts, lint findings, matches)\n" +
		".TP\n.B 2\nbad input (one line on standard error saying what was wrong), or the command could not run\n")
}

func mainPage() string {
	var b strings.Builder
	manHeader(&b, "firewarden", "keep a host firewall in the state promised, prove it, notice tampering, ban attackers")
	b.WriteString(".SH SYNOPSIS\n.B firewarden\n[\\fIglobal flags\\fR] \\fICOMMAND\\fR [\\fIVERB\\fR] [\\fIflags\\fR] [\\fIARGS\\fR]\n")
	b.WriteString(".SH DESCRIPTION\n" + roffText("firewarden keeps a host firewall (the macOS Application Firewall and pf, "+
		"Linux nftables) in the state an organisation promised its auditors, proves it with hash-chained evidence, "+
		"notices when someone weakens it, and pushes attackers out for a while. Flags may come before or after "+
		"the command and its arguments, with one dash or two. Every command prints its own help with --help; "+
		"`firewarden help` lists them all.") + "\n")
	b.WriteString(".SH COMMANDS\n")
	for _, r := range overviewLines() {
		fmt.Fprintf(&b, ".TP\n.B firewarden %s\n%s\n", roffText(r[0]), roffText(r[1]))
	}
	b.WriteString(".SH GLOBAL FLAGS\n")
	fs := globalFlagSet()
	var flags []*flag.Flag
	for _, name := range append(globalNames(), "version") {
		flags = append(flags, fs.Lookup(name))
	}
	manFlags(&b, flags)
	manExitStatus(&b)
	b.WriteString(".SH ENVIRONMENT\n.TP\n.B FIREWARDEN_ROOT\n" + roffText("resolve every system path under this directory, as --root does "+
		"(--root wins); used to run firewarden against a fake host layout") + "\n")
	b.WriteString(".SH FILES\n")
	for _, f := range [][2]string{
		{"/etc/firewarden/firewarden.yaml", "the configuration file, read when it exists (another with --config FILE)"},
		{"/var/lib/firewarden", "the state directory on Linux (--state-dir)"},
		{"/Library/Application Support/firewarden", "the state directory on macOS (--state-dir)"},
		{"STATE/block.json", "the bans and the allowlist of block and guard"},
		{"STATE/evidence.jsonl", "the hash-chained evidence records"},
		{"STATE/backups/", "the settings saved before each fix, for rollback"},
	} {
		fmt.Fprintf(&b, ".TP\n.I %s\n%s\n", roffText(f[0]), roffText(f[1]))
	}
	b.WriteString(".SH SEE ALSO\n")
	var refs []string
	for _, c := range visibleCommands() {
		refs = append(refs, ".BR firewarden\\-"+roffText(c.name)+" (1)")
	}
	b.WriteString(strings.Join(refs, " ,\n") + "\n")
	return b.String()
}

func commandPage(c *cmdSpec) string {
	var b strings.Builder
	manHeader(&b, "firewarden-"+c.name, c.summary)
	chain := []*cmdSpec{c}
	fs := flagsOf([]string{c.name})
	b.WriteString(".SH SYNOPSIS\n")
	// The verbs' own lines replace the generic "VERB [flags] [ARGS]" line of help.
	var lines []string
	for _, l := range usageLine(chain, fs) {
		if !strings.HasSuffix(l, " VERB [flags] [ARGS]") {
			lines = append(lines, l)
		}
	}
	for _, v := range c.verbs {
		lines = append(lines, verbUsageLines(c, v)...)
	}
	for i, l := range lines {
		if i > 0 {
			b.WriteString(".br\n")
		}
		fmt.Fprintf(&b, "%s\n", roffText(l))
	}
	fmt.Fprintf(&b, ".SH DESCRIPTION\n%s\n", roffText(c.desc))
	if own := ownFlags(fs); len(own) > 0 {
		b.WriteString(".SH FLAGS\n")
		manFlags(&b, own)
	}
	if len(c.verbs) > 0 {
		b.WriteString(".SH VERBS\n")
		var walk func(path []string, v *cmdSpec)
		walk = func(path []string, v *cmdSpec) {
			path = append(slices.Clone(path), v.name)
			fmt.Fprintf(&b, ".SS %q\n%s\n", roffText(strings.TrimSpace(strings.Join(path, " ")+" "+v.args)), roffText(v.desc))
			if !v.needsVerb {
				if own := ownFlags(flagsOf(path)); len(own) > 0 {
					b.WriteString(".PP\nFlags:\n")
					manFlags(&b, own)
				}
			}
			if len(v.examples) > 0 {
				b.WriteString(".PP\nExamples:\n")
				manExamples(&b, v.examples)
			}
			for _, vv := range v.verbs {
				walk(path, vv)
			}
		}
		for _, v := range c.verbs {
			walk([]string{c.name}, v)
		}
	}
	fmt.Fprintf(&b, ".SH GLOBAL FLAGS\n%s\n", roffText(globalSummary()+"; see firewarden(1)."))
	// The order of sections is man-pages(7)'s: EXIT STATUS before EXAMPLES.
	manExitStatus(&b)
	if len(c.examples) > 0 {
		b.WriteString(".SH EXAMPLES\n")
		manExamples(&b, c.examples)
	}
	b.WriteString(".SH SEE ALSO\n.BR firewarden (1)\n")
	return b.String()
}

// verbUsageLines are the synopsis lines of v (and its verbs), a verb of c.
func verbUsageLines(c *cmdSpec, v *cmdSpec) []string {
	var out []string
	var walk func(path []string, chain []*cmdSpec)
	walk = func(path []string, chain []*cmdSpec) {
		last := chain[len(chain)-1]
		if !last.needsVerb {
			out = append(out, usageLine(chain, flagsOf(path))[0])
		}
		for _, vv := range last.verbs {
			walk(append(slices.Clone(path), vv.name), append(slices.Clone(chain), vv))
		}
	}
	walk([]string{c.name, v.name}, []*cmdSpec{c, v})
	return out
}

func slicesClone[T any](s []T) []T { return append([]T(nil), s...) }
