package cli

import (
	"bytes"
	"context"
	"flag"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/posture/baseline"
)

// allPaths are the command paths of the table: every command, and every verb under it.
func allPaths() [][]string {
	var out [][]string
	var walk func(path []string, c *cmdSpec)
	walk = func(path []string, c *cmdSpec) {
		path = append(slices.Clone(path), c.name)
		out = append(out, path)
		for _, v := range c.verbs {
			walk(path, v)
		}
	}
	for _, c := range visibleCommands() {
		walk(nil, c)
	}
	return out
}

// Every command and verb answers `help PATH`, `PATH --help`, `PATH -h` and `PATH -help` on
// stdout with exit 0 and the same page: a usage line naming it, then its description.
func TestHelpEveryCommandAndVerb(t *testing.T) {
	for _, path := range allPaths() {
		name := strings.Join(path, " ")
		t.Run(name, func(t *testing.T) {
			want, errs, code := runCLI(t, nil, append([]string{"help"}, path...)...)
			if code != 0 || errs != "" {
				t.Fatalf("help %s = exit %d, stderr %q; want 0 and nothing", name, code, errs)
			}
			if !strings.HasPrefix(want, "usage: firewarden "+name) || !strings.Contains(want, "\nglobal flags") {
				t.Errorf("help %s =\n%s\nwant a usage line naming it and the global flags", name, want)
			}
			for _, h := range []string{"--help", "-h", "-help"} {
				got, errs, code := runCLI(t, nil, append(slices.Clone(path), h)...)
				if code != 0 || errs != "" {
					t.Errorf("%s %s = exit %d, stderr %q; want 0 and nothing", name, h, code, errs)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s %s differs from help %s (-want +got):\n%s", name, h, name, diff)
				}
			}
		})
	}
}

// A verb's page lists its own flags and no other verb's.
func TestHelpShowsOnlyTheVerbsFlags(t *testing.T) {
	for _, tt := range []struct {
		path       []string
		has, lacks []string
	}{
		{[]string{"rules", "lint"}, []string{"--keep SOURCE:PORT", "--format FORMAT", "--default ACTION"}, []string{"--packet", "--explain"}},
		{[]string{"rules", "eval"}, []string{"--packet PACKET", "--packets FILE", "--explain "}, []string{"--keep"}},
		{[]string{"block", "list"}, nil, []string{"--backend", "--ttl", "\nflags:"}},
		{[]string{"block", "add"}, []string{"--backend BACKEND", "--ttl DURATION", "--max-bans N", "(default 100000)", "--wide  "}, []string{"--interval"}},
		{[]string{"block", "autoconfigure"}, []string{"--interval DURATION", "(default 15m)"}, []string{"--ttl", "--reason"}},
		{[]string{"baseline", "default"}, nil, []string{"--baseline", "\nflags:"}},
		{[]string{"baseline", "profile"}, []string{"--baseline FILE", "--identifier PREFIX"}, nil},
		{[]string{"detect", "rules", "list"}, []string{"--rules DIR", "--fields"}, []string{"--input", "--live"}},
		{[]string{"detect", "rules", "test"}, []string{"--input FORMAT"}, []string{"--fields", "--live"}},
		{[]string{"logs", "summarize"}, []string{"--format FORMAT", "--report KIND", "(default full)"}, []string{"-format json"}},
		{[]string{"evidence"}, []string{"--format FORMAT", "--verify"}, []string{"-format json"}},
		{[]string{"scan"}, []string{"\n  -4 ", "\n  -6 ", "--no-ping", "--ports SPEC"}, []string{"--4", "--6"}},
	} {
		name := strings.Join(tt.path, " ")
		out, _, _ := runCLI(t, nil, append(slices.Clone(tt.path), "--help")...)
		// The flags section ends where the global flags begin.
		own, _, _ := strings.Cut(out, "\nglobal flags")
		for _, s := range tt.has {
			if !strings.Contains(own, s) {
				t.Errorf("%s --help lacks %q:\n%s", name, s, out)
			}
		}
		for _, s := range tt.lacks {
			if strings.Contains(own, s) {
				t.Errorf("%s --help shows %q:\n%s", name, s, out)
			}
		}
	}
}

// Commands with verbs show the verbs; a command that needs a verb takes no flags of its own.
func TestHelpOfACommandListsItsVerbs(t *testing.T) {
	for _, c := range visibleCommands() {
		if len(c.verbs) == 0 {
			continue
		}
		out, _, code := runCLI(t, nil, c.name, "--help")
		for _, v := range c.verbs {
			if code != 0 || !strings.Contains(out, "\n  "+v.name) {
				t.Errorf("%s --help = exit %d, lacks verb %s:\n%s", c.name, code, v.name, out)
			}
		}
	}
}

// `firewarden` alone and `firewarden help` list every command and every verb on stdout.
func TestOverviewListsEveryVerb(t *testing.T) {
	for _, args := range [][]string{nil, {"help"}, {"--help"}, {"-h"}} {
		out, errs, code := runCLI(t, nil, args...)
		if code != 0 || errs != "" {
			t.Errorf("firewarden %q = exit %d, stderr %q; want 0 and nothing", args, code, errs)
		}
		for _, path := range allPaths() {
			c, _ := resolve(path)
			if c[len(c)-1].needsVerb {
				continue
			}
			if !strings.Contains(out, "\n  "+strings.Join(path, " ")+" ") {
				t.Errorf("firewarden %q lacks %q:\n%s", args, strings.Join(path, " "), out)
			}
		}
		for _, s := range []string{"…", "__complete"} {
			if strings.Contains(out, s) {
				t.Errorf("firewarden %q shows %q:\n%s", args, s, out)
			}
		}
		for _, l := range strings.Split(out, "\n") {
			if n := len([]rune(l)); n > helpWidth {
				t.Errorf("firewarden %q: line of %d characters, wider than %d: %q", args, n, helpWidth, l)
			}
		}
		if !strings.Contains(out, "ipfw or pf") {
			t.Errorf("firewarden %q does not describe rules as ipfw and pf:\n%s", args, out)
		}
	}
}

// placeholder is what a flag's value is called in help: upper case, as SOURCE:PORT or DIR.
var placeholder = regexp.MustCompile("`[A-Z][A-Z0-9_:|.-]*`")

// Every flag that takes a value names it with an explicit upper-case placeholder in back quotes
// (`--format FORMAT`), so help never shows a type name or a default as one (`-format json`).
func TestFlagsHavePlaceholders(t *testing.T) {
	seen := 0
	check := func(where string, fs *flag.FlagSet) {
		fs.VisitAll(func(f *flag.Flag) {
			seen++
			if isBoolFlag(f) {
				if strings.Contains(f.Usage, "`") {
					t.Errorf("%s --%s is a bool flag with a placeholder: %q", where, f.Name, f.Usage)
				}
				return
			}
			if !placeholder.MatchString(f.Usage) {
				t.Errorf("%s --%s: usage %q has no upper-case `PLACEHOLDER`", where, f.Name, f.Usage)
			}
		})
	}
	check("firewarden", globalFlagSet())
	for _, path := range allPaths() {
		if fs := flagsOf(path); fs != nil {
			check(strings.Join(path, " "), fs)
		}
	}
	if seen < 50 {
		t.Errorf("saw %d flags; the describe mode did not reach the commands' FlagSets", seen)
	}
}

// Every command and verb in the table has what help and the man pages print.
func TestCommandTableIsComplete(t *testing.T) {
	for _, path := range allPaths() {
		chain, _ := resolve(path)
		c := chain[len(chain)-1]
		name := strings.Join(path, " ")
		if c.summary == "" || c.desc == "" {
			t.Errorf("%s: no summary or description", name)
		}
		if len(c.examples) == 0 && c.name != "unallow" && c.name != "expire" && c.name != "enable" && c.name != "disable" {
			t.Errorf("%s: no examples", name)
		}
		for _, e := range c.examples {
			if !strings.Contains(e, "firewarden "+path[0]) && !strings.Contains(e, "firewarden --") && path[0] != "version" {
				t.Errorf("%s: example %q does not run it", name, e)
			}
		}
		if !c.needsVerb && len(path) > 1 && flagsOf(path) == nil {
			t.Errorf("%s: its run function never reached app.parse in describe mode", name)
		}
	}
}

// Mistakes are one line on stderr, with a suggestion when one is close, and exit 2.
func TestOneLineErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"chek"}, `unknown command "chek"; did you mean "check"?`},
		{[]string{"roll"}, `unknown command "roll"; did you mean "rollback"?`},
		{[]string{"frobnicate"}, "unknown command \"frobnicate\"; run `firewarden help` for the list"},
		{[]string{"--bogus", "check"}, "unknown flag --bogus before the command; run `firewarden help` for the flags"},
		{[]string{"--jsn", "check"}, `unknown flag --jsn before the command; did you mean "--json"?`},
		{[]string{"-v"}, `unknown flag --v before the command; did you mean "--version"?`},
		{[]string{"-x"}, "unknown flag --x before the command; run `firewarden help` for the flags"},
		{[]string{"check", "--onyl", "alf.enabled"}, `unknown flag --onyl for check; did you mean "--only"?`},
		{[]string{"check", "--only", "linux.firewall.enabeld"}, `--only: unknown check "linux.firewall.enabeld"; did you mean "linux.firewall.enabled"?`},
		{[]string{"fix", "--only", "linux.firewall.stealth,linux.ssh.password"}, `--only: unknown check "linux.ssh.password"; did you mean "linux.ssh.password_auth"?`},
		{[]string{"check", "--only", "firewall"}, `--only: unknown check "firewall"; known checks: ` + strings.Join(baseline.CheckIDs(), ", ")},
		{[]string{"block", "add", "--tll", "5m", "192.0.2.1"}, `unknown flag --tll for block add; did you mean "--ttl"?`},
		{[]string{"rules", "lint", "x.conf", "--packet", "tcp"}, "unknown flag --packet for rules lint; run `firewarden help rules lint` for the flags"},
		{[]string{"rules", "lnt"}, `unknown verb "lnt" for rules; did you mean "lint"?`},
		{[]string{"block", "ad", "192.0.2.1"}, `unknown verb "ad" for block; did you mean "add"?`},
		{[]string{"block", "zap"}, `unknown verb "zap" for block; use add, remove, allow, unallow, list, expire, enable, disable, sync, summary or autoconfigure`},
		{[]string{"detect", "rules", "lst"}, `unknown verb "lst" for detect rules; did you mean "list"?`},
		{[]string{"logs"}, "logs needs a verb: summarize; run `firewarden help logs`"},
		{[]string{"block", "--backend", "none", "list"}, "block needs a verb before its flags (--backend): add, remove, allow, unallow, list, expire, enable, disable, sync, summary or autoconfigure; run `firewarden help block`"},
		{[]string{"help", "chek"}, `unknown command "chek"; did you mean "check"?`},
		{[]string{"help", "rules", "evl"}, `unknown verb "evl" for rules; did you mean "eval"?`},
		{[]string{"help", "check", "now"}, "check has no verb \"now\"; run `firewarden help check`"},
		{[]string{"logs", "summarize", "--top", "x", "f"}, `logs summarize: invalid value "x" for flag --top: parse error`},
		{[]string{"logs", "summarize", "f", "--format"}, `logs summarize: flag needs an argument: --format`},
		{[]string{"detect"}, "detect needs a telemetry FILE (- for standard input), or --live; run `firewarden help detect`"},
		{[]string{"completion", "bsh"}, `completion: unknown shell "bsh"; did you mean "bash"?`},
		{[]string{"version", "now"}, `version takes no arguments, got "now"`},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errs, code := runCLI(t, nil, tt.args...)
			if want := "firewarden: " + tt.want + "\n"; code != 2 || out != "" || errs != want {
				t.Errorf("Run(%q) = exit %d, stdout %q, stderr %q; want exit 2, nothing, %q", tt.args, code, out, errs, want)
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	cands := []string{"check", "fix", "rollback", "evidence", "baseline", "logs", "rules", "detect", "block", "guard", "version", "help"}
	for _, tt := range []struct{ in, want string }{
		{"chek", "check"},
		{"cehck", "check"}, // transposition
		{"rol", "rollback"},
		{"ev", "evidence"},
		{"blok", "block"},
		{"gaurd", "guard"},
		{"xyz", ""},  // three edits from fix: not a typo
		{"tcsh", ""}, // two edits from fish, half the word: not a typo
		{"fox", "fix"},
		{"check", ""}, // exact: nothing to suggest
		{"", ""},
		{"r", ""}, // a prefix of rollback and rules
		{"v", "version"},
		{"zzzzzzzz", ""},
	} {
		if got := suggest(tt.in, cands); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestUnknownFlag(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.String("format", "", "")
	fs.Bool("json", false, "")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--format", "--bogus"}, ""}, // --bogus is --format's value
		{[]string{"--format=x", "--bogus"}, "bogus"},
		{[]string{"--json", "--bogus=1"}, "bogus"},
		{[]string{"-json", "file", "--bogus"}, ""}, // parsing stops at the first positional
		{[]string{"--", "--bogus"}, ""},
		{[]string{"-h"}, ""},
		{[]string{"---x"}, "-x"},
	} {
		if got := unknownFlag(fs, tt.args); got != tt.want {
			t.Errorf("unknownFlag(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}

// The non-root refusal names a way to see what the command would do that exists for it.
func TestRequireRootNamesARealFlag(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"fix"}, "fix changes system settings: run it as root (sudo firewarden fix), or use --dry-run to see what it would do"},
		{[]string{"block", "add", "192.0.2.1", "--backend", "nft"}, "block add changes system settings: run it as root (sudo firewarden block add), or use --backend dry-run to see what it would do"},
		{[]string{"rollback"}, "rollback changes system settings: run it as root (sudo firewarden rollback); rollback --list needs no root"},
		// --confirm takes no other fix flag, so there is no dry run to offer.
		{[]string{"fix", "--confirm"}, "fix --confirm changes system settings: run it as root (sudo firewarden fix --confirm)"},
	} {
		var out, errb bytes.Buffer
		a := &app{Streams: Streams{Out: &out, Err: &errb}, getenv: func(string) string { return "" }, now: time.Now, euid: func() int { return 501 }}
		err := a.dispatch(context.Background(), append([]string{"--root", "/", "--state-dir", t.TempDir()}, tt.args...))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%q as uid 501 = %v, want %q", tt.args, err, tt.want)
		}
	}
	if got, want := dryRunHint("guard"), ", or use --backend dry-run to see what it would do"; got != want {
		t.Errorf("dryRunHint(guard) = %q, want %q", got, want)
	}
}
