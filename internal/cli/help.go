package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// errDescribe ends a run function in describe mode, right after it built its flags.
var errDescribe = errors.New("describe mode: flags collected")

// flagsOf returns the FlagSet the command at path builds, by running its run function in
// describe mode: app.parse hands the FlagSet back instead of parsing. It is nil for a command
// or verb that takes no flags of its own because it needs a verb (`block`, `detect rules`).
func flagsOf(path []string) *flag.FlagSet {
	if len(path) == 0 {
		return nil
	}
	c := findCommand(path[0])
	if c == nil {
		return nil
	}
	d := &app{
		Streams:  Streams{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard},
		getenv:   func(string) string { return "" },
		now:      time.Now,
		euid:     func() int { return 0 },
		describe: true,
	}
	_ = c.run(context.Background(), d, path[1:])
	return d.described
}

// globalNames are the flags every command takes, in help order.
func globalNames() []string { return []string{"root", "json", "state-dir", "config"} }

func isGlobal(name string) bool {
	for _, g := range globalNames() {
		if g == name {
			return true
		}
	}
	return false
}

// ownFlags are the flags of fs that are not global, sorted by name.
func ownFlags(fs *flag.FlagSet) []*flag.Flag {
	var out []*flag.Flag
	if fs == nil {
		return nil
	}
	fs.VisitAll(func(f *flag.Flag) {
		if !isGlobal(f.Name) {
			out = append(out, f)
		}
	})
	return out
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// flagSyntax is "--name PLACEHOLDER" (the back-quoted word of the usage) or "--name" for a bool
// flag, and the usage with the back quotes removed. A one-letter flag (scan's -4 and -6) is
// written with one dash, as users type it.
func flagSyntax(f *flag.Flag) (syntax, usage string) {
	placeholder, usage := flag.UnquoteUsage(f)
	dashes := "--"
	if len(f.Name) == 1 {
		dashes = "-"
	}
	if isBoolFlag(f) {
		return dashes + f.Name, usage
	}
	if !strings.Contains(f.Usage, "`") {
		placeholder = "VALUE" // every flag has a back-quoted placeholder; a test makes sure
	}
	return dashes + f.Name + " " + placeholder, usage
}

// defaultText is " (default X)" for a flag whose default is not the zero value.
func defaultText(f *flag.Flag) string {
	switch f.DefValue {
	case "", "0", "false", "0s", "[]":
		return ""
	}
	return " (default " + f.DefValue + ")"
}

// globalFlagSet is a FlagSet holding the global flags, as the top level parses them.
func globalFlagSet() *flag.FlagSet {
	var g globals
	fs := flag.NewFlagSet("firewarden", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	g.register(fs)
	fs.Bool("version", false, "print the version and exit")
	return fs
}

// helpWidth is the width help text is wrapped to.
const helpWidth = 80

// wrap breaks text into lines of at most width-len(indent) characters (longer words stand
// alone), each starting with indent.
func wrap(text, indent string, width int) string {
	var b strings.Builder
	line := indent
	for _, w := range strings.Fields(text) {
		if line != indent && len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += w
	}
	if line != indent {
		b.WriteString(line + "\n")
	}
	return b.String()
}

// writeRows prints name and summary rows as two columns, the summaries wrapped to helpWidth.
func writeRows(w io.Writer, rows [][2]string) {
	width := 0
	for _, r := range rows {
		width = max(width, utf8.RuneCountInString(r[0]))
	}
	indent := strings.Repeat(" ", 2+width+2)
	for _, r := range rows {
		first := "  " + r[0] + strings.Repeat(" ", width-utf8.RuneCountInString(r[0])) + "  "
		text := wrap(r[1], indent, helpWidth)
		fmt.Fprint(w, first+text[len(indent):])
	}
}

// writeFlags prints flags as a two-column list: syntax, then usage (wrapped).
func writeFlags(w io.Writer, flags []*flag.Flag) {
	const col = 24
	for _, f := range flags {
		syntax, usage := flagSyntax(f)
		usage += defaultText(f)
		first := "  " + syntax
		if len(first) >= col {
			fmt.Fprintln(w, first)
			fmt.Fprint(w, wrap(usage, strings.Repeat(" ", col), helpWidth))
			continue
		}
		text := wrap(usage, strings.Repeat(" ", col), helpWidth)
		fmt.Fprint(w, first+text[len(first):])
	}
}

// usageLine is the synopsis of the command at chain: "firewarden rules eval [flags] RULESET".
func usageLine(chain []*cmdSpec, fs *flag.FlagSet) []string {
	names := make([]string, len(chain))
	for i, c := range chain {
		names[i] = c.name
	}
	base := "firewarden " + strings.Join(names, " ")
	c := chain[len(chain)-1]
	var lines []string
	if !c.needsVerb {
		l := base
		if len(ownFlags(fs)) > 0 {
			l += " [flags]"
		}
		if c.args != "" {
			l += " " + c.args
		}
		lines = append(lines, l)
	}
	if len(c.verbs) > 0 {
		lines = append(lines, base+" VERB [flags] [ARGS]")
	}
	return lines
}

// writeHelp prints the help page of the command or verb at the end of chain; fs holds its flags
// (nil: none).
func writeHelp(w io.Writer, chain []*cmdSpec, fs *flag.FlagSet) {
	c := chain[len(chain)-1]
	for i, l := range usageLine(chain, fs) {
		if i == 0 {
			fmt.Fprintf(w, "usage: %s\n", l)
		} else {
			fmt.Fprintf(w, "       %s\n", l)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprint(w, wrap(c.desc, "", helpWidth))
	if len(c.verbs) > 0 {
		fmt.Fprintln(w, "\nverbs:")
		var rows [][2]string
		for _, v := range c.verbs {
			rows = append(rows, [2]string{strings.TrimSpace(v.name + " " + v.args), v.summary})
			for _, vv := range v.verbs {
				rows = append(rows, [2]string{strings.TrimSpace(v.name + " " + vv.name + " " + vv.args), vv.summary})
			}
		}
		writeRows(w, rows)
	}
	if own := ownFlags(fs); len(own) > 0 {
		fmt.Fprintln(w, "\nflags:")
		writeFlags(w, own)
	}
	fmt.Fprintln(w, "\nglobal flags (see `firewarden help`):")
	fmt.Fprintf(w, "  %s\n", globalSummary())
	if len(c.examples) > 0 {
		fmt.Fprintln(w, "\nexamples:")
		for _, e := range c.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
	if len(c.verbs) > 0 {
		names := make([]string, len(chain))
		for i, c := range chain {
			names[i] = c.name
		}
		fmt.Fprintf(w, "\nRun `firewarden help %s VERB` for the flags and examples of a verb.\n", strings.Join(names, " "))
	}
}

// globalSummary is the global flags on one line: "--root DIR, --json, --state-dir DIR, --config FILE".
func globalSummary() string {
	fs := globalFlagSet()
	var parts []string
	for _, name := range globalNames() {
		s, _ := flagSyntax(fs.Lookup(name))
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// overviewLines are the rows of the command list: every command and every verb, with its summary.
func overviewLines() [][2]string {
	var rows [][2]string
	var walk func(prefix string, c *cmdSpec)
	walk = func(prefix string, c *cmdSpec) {
		name := strings.TrimSpace(prefix + " " + c.name)
		if !c.needsVerb {
			rows = append(rows, [2]string{name, c.summary})
		}
		for _, v := range c.verbs {
			walk(name, v)
		}
	}
	for _, c := range visibleCommands() {
		walk("", c)
	}
	return rows
}

// writeOverview prints what `firewarden` and `firewarden help` print: the command list.
func writeOverview(w io.Writer) {
	fmt.Fprintln(w, "usage: firewarden [global flags] COMMAND [VERB] [flags] [ARGS]")
	fmt.Fprintln(w)
	fmt.Fprint(w, wrap("firewarden keeps a host firewall (macOS Application Firewall and pf, Linux nftables) in the "+
		"state an organisation promised its auditors, proves it, notices when someone weakens it, and pushes "+
		"attackers out for a while.", "", helpWidth))
	fmt.Fprintln(w, "\ncommands:")
	writeRows(w, overviewLines())
	fmt.Fprintln(w, "\nglobal flags (before or after the command):")
	fs := globalFlagSet()
	var flags []*flag.Flag
	for _, name := range append(globalNames(), "version") {
		flags = append(flags, fs.Lookup(name))
	}
	writeFlags(w, flags)
	fmt.Fprintln(w, "\nexit status:\n  0  compliant, or done\n  1  not compliant, or findings (alerts, lint findings, matches)\n  2  bad input, or could not run")
	fmt.Fprintln(w, "\nRun `firewarden help COMMAND [VERB]` (or add --help) for its flags and examples.")
}

// runHelp is `firewarden help [COMMAND [VERB]]`.
func runHelp(_ context.Context, a *app, args []string) error {
	pos, err := a.parse(a.flagSet("help"), args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		writeOverview(a.Out)
		return nil
	}
	chain, n := resolve(pos)
	if chain == nil || chain[0].hidden {
		return unknownCommand(pos[0])
	}
	if n < len(pos) {
		return unknownVerb(chain, pos[n])
	}
	writeHelp(a.Out, chain, flagsOf(pos))
	return nil
}

// printHelpFor prints the help page of the command fs was made for.
func (a *app) printHelpFor(fs *flag.FlagSet) {
	if fs.Name() == "firewarden" {
		writeOverview(a.Out)
		return
	}
	chain, n := resolve(pathOf(fs.Name()))
	if chain == nil || n != len(pathOf(fs.Name())) {
		// A FlagSet named after no command: still print its flags rather than nothing.
		writeFlags(a.Out, ownFlags(fs))
		return
	}
	writeHelp(a.Out, chain, fs)
}

// unknownCommand is the one-line error for a command that does not exist.
func unknownCommand(name string) error {
	var names []string
	for _, c := range visibleCommands() {
		names = append(names, c.name)
	}
	if s := suggest(name, names); s != "" {
		return usagef("unknown command %q; did you mean %q?", name, s)
	}
	return usagef("unknown command %q; run `firewarden help` for the list", name)
}

// unknownVerb is the one-line error for a verb the command at chain does not have.
func unknownVerb(chain []*cmdSpec, name string) error {
	names := make([]string, len(chain))
	for i, c := range chain {
		names[i] = c.name
	}
	c := chain[len(chain)-1]
	path := strings.Join(names, " ")
	if len(c.verbs) == 0 {
		return usagef("%s has no verb %q; run `firewarden help %s`", path, name, path)
	}
	if s := suggest(name, c.verbNames()); s != "" {
		return usagef("unknown verb %q for %s; did you mean %q?", name, path, s)
	}
	return usagef("unknown verb %q for %s; use %s", name, path, orList(c.verbNames()))
}

// orList is "a, b or c".
func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// checkVerbs walks args through the verbs of c before c runs: `CMD --help` and `CMD VERB --help`
// for a command whose verbs have verbs print the page (flag.ErrHelp), a missing or unknown verb
// is one line. The run function still reads the verb itself.
func (a *app) checkVerbs(c *cmdSpec, args []string) error {
	chain := []*cmdSpec{c}
	for len(c.verbs) > 0 {
		if len(args) == 0 {
			if !c.needsVerb {
				return nil
			}
			names := make([]string, len(chain))
			for i, c := range chain {
				names[i] = c.name
			}
			path := strings.Join(names, " ")
			return usagef("%s needs a verb: %s; run `firewarden help %s`", path, orList(c.verbNames()), path)
		}
		w := args[0]
		if w == "-h" || w == "-help" || w == "--help" {
			names := make([]string, len(chain))
			for i, c := range chain {
				names[i] = c.name
			}
			writeHelp(a.Out, chain, flagsOf(names))
			return flag.ErrHelp
		}
		v := c.verb(w)
		if v == nil {
			if !c.needsVerb {
				return nil // detect FILE…, detect --live
			}
			if strings.HasPrefix(w, "-") {
				names := make([]string, len(chain))
				for i, c := range chain {
					names[i] = c.name
				}
				path := strings.Join(names, " ")
				return usagef("%s needs a verb before its flags (%s): %s; run `firewarden help %s`", path, w, orList(c.verbNames()), path)
			}
			return unknownVerb(chain, w)
		}
		chain, c, args = append(chain, v), v, args[1:]
	}
	return nil
}

// unknownFlag returns the first flag in args that fs does not define, reading args as fs.Parse
// does (a flag that takes a value and has no "=value" consumes the next argument), or "".
func unknownFlag(fs *flag.FlagSet, args []string) string {
	for i := 0; i < len(args); i++ {
		s := args[i]
		if len(s) < 2 || s[0] != '-' || s == "--" {
			return ""
		}
		name, hasValue := strings.TrimPrefix(strings.TrimPrefix(s, "-"), "-"), false
		if n, _, ok := strings.Cut(name, "="); ok {
			name, hasValue = n, true
		}
		if name == "h" || name == "help" {
			return ""
		}
		f := fs.Lookup(name)
		if f == nil {
			return name
		}
		if !isBoolFlag(f) && !hasValue {
			i++
		}
	}
	return ""
}

// flagError turns fs.Parse's error into one line naming the command, with a suggestion for an
// unknown flag.
func flagError(fs *flag.FlagSet, args []string, err error) error {
	where := " for " + fs.Name()
	help := "firewarden help " + fs.Name()
	if fs.Name() == "firewarden" {
		where, help = " before the command", "firewarden help"
	}
	if name := unknownFlag(fs, args); name != "" {
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		sort.Strings(names)
		if s := suggest(name, names); s != "" {
			return usagef("unknown flag --%s%s; did you mean %q?", name, where, "--"+s)
		}
		return usagef("unknown flag --%s%s; run `%s` for the flags", name, where, help)
	}
	// The flag package names flags with one dash: "invalid value "x" for flag -top".
	msg := strings.Replace(err.Error(), "flag -", "flag --", 1)
	msg = strings.Replace(msg, "argument: -", "argument: --", 1)
	return usagef("%s: %s", fs.Name(), msg)
}

// suggest returns the candidate name is most likely a typo of: the only candidate it is a prefix
// of (so -v finds --version), or the closest within a small edit distance; "" when none is close.
func suggest(name string, candidates []string) string {
	if name == "" {
		return ""
	}
	var prefixed []string
	for _, c := range candidates {
		if c == name {
			return ""
		}
		if strings.HasPrefix(c, name) {
			prefixed = append(prefixed, c)
		}
	}
	if len(prefixed) == 1 {
		return prefixed[0]
	}
	best, bestD := "", 0
	for _, c := range candidates {
		d := editDistance(name, c)
		// At most two edits, and fewer than half the name: "tcsh" is not a typo of "fish".
		if d <= 2 && 2*d < len(name) && (best == "" || d < bestD) {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance: insertions, deletions, substitutions
// and transpositions of neighbours ("tll" for "ttl") each cost one.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range rb {
		d[0][j+1] = j + 1
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
