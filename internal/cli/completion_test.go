package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/detect/input"
	"github.com/firewarden/firewarden/internal/fwlog"
	"github.com/firewarden/firewarden/internal/posture/baseline"
)

func TestComplete(t *testing.T) {
	var checks []string
	for _, id := range baseline.CheckIDs() {
		if strings.HasPrefix(id, "alf.") && id != "alf.enabled" {
			checks = append(checks, "alf.enabled,"+id)
		}
	}
	for _, tt := range []struct {
		words []string
		want  []string
	}{
		{[]string{""}, []string{"check", "fix", "rollback", "evidence", "baseline", "logs", "exposure", "rules", "detect", "block", "guard", "scan", "agent", "config", "service", "version", "help", "man", "completion"}},
		{[]string{"ch"}, []string{"check"}},
		{[]string{"__"}, nil}, // hidden
		{[]string{"--"}, []string{"--config", "--json", "--root", "--state-dir", "--version", "--help"}},
		{[]string{"--root", ""}, []string{completeDirs}},
		{[]string{"--root", "/x", "ch"}, []string{"check"}},
		{[]string{"check", "--"}, []string{"--baseline", "--config", "--json", "--only", "--root", "--state-dir"}},
		{[]string{"check", "--baseline", ""}, []string{completeFiles}},
		{[]string{"check", "--only", "alf.en"}, []string{"alf.enabled"}},
		{[]string{"check", "--only", "expo"}, []string{"exposure.too_wide", "exposure.unexpected"}},
		{[]string{"check", "--only", "alf.enabled,alf."}, checks},
		{[]string{"check", "--only=alf.enabled,alf.st"}, []string{"--only=alf.enabled,alf.stealth"}},
		{[]string{"check", "-only=alf.st"}, []string{"-only=alf.stealth"}}, // one dash, kept
		{[]string{"rules", ""}, []string{"eval", "lint"}},
		{[]string{"rules", "lint", "--"}, []string{"--config", "--default", "--format", "--group", "--iface", "--json", "--keep", "--root", "--set", "--state-dir", "--strict"}},
		{[]string{"rules", "lint", "--format", ""}, []string{"ipfw", "pf"}},
		{[]string{"rules", "eval", "--default", "d"}, []string{"deny"}},
		{[]string{"rules", "eval", ""}, []string{completeFiles}},
		{[]string{"rules", "eval", "--packet", ""}, nil},
		{[]string{"logs", "summarize", "--format", ""}, []string{"auto", "ipfw", "pf", "alf", "netfilter", "filterlog", "windows", "mikrotik"}},
		{[]string{"logs", "summarize", "--format=p"}, []string{"--format=pf"}},
		{[]string{"logs", "summarize", "--report", ""}, []string{"classic", "full"}},
		{[]string{"evidence", "--format", ""}, []string{"json", "csv"}},
		{[]string{"evidence", "--out", ""}, []string{completeFiles}},
		{[]string{"detect", ""}, []string{"rules", completeFiles}},
		{[]string{"detect", "--input", "os"}, []string{"osquery"}},
		{[]string{"detect", "--rules", ""}, []string{completeDirs}},
		{[]string{"detect", "events.ndjson", ""}, []string{completeFiles}}, // a FILE, then no verb
		{[]string{"detect", "rules", ""}, []string{"list", "test", "export"}},
		{[]string{"detect", "rules", "export", "--f"}, []string{"--format"}},
		{[]string{"detect", "rules", "test", "--input", "s"}, []string{"santa"}},
		{[]string{"block", "a"}, []string{"add", "allow", "autoconfigure"}},
		{[]string{"block", "add", "--backend", ""}, []string{"nft", "pf", "dry-run", "none"}},
		{[]string{"block", "list", "--b"}, nil}, // list takes no --backend
		{[]string{"block", "add", "192.0.2.1", ""}, nil},
		{[]string{"guard", "--backend", "n"}, []string{"nft", "none"}},
		{[]string{"baseline", ""}, []string{"default", "profile"}},
		{[]string{"baseline", "profile", "--baseline", ""}, []string{completeFiles}},
		{[]string{"completion", ""}, []string{"bash", "zsh", "fish"}},
		{[]string{"completion", "bash", ""}, nil},
		{[]string{"service", "install", ""}, []string{"guard", "detect-live", "block-expire", "firewall", "agent"}},
		{[]string{"service", "files", ""}, nil},
		{[]string{"help", ""}, []string{"check", "fix", "rollback", "evidence", "baseline", "logs", "exposure", "rules", "detect", "block", "guard", "scan", "agent", "config", "service", "version", "help", "man", "completion"}},
		{[]string{"help", "detect", ""}, []string{"rules"}},
		{[]string{"help", "detect", "rules", "t"}, []string{"test"}},
		{[]string{"man", "--dir", ""}, []string{completeDirs}},
		{[]string{"nosuch", ""}, nil},
		{[]string{"check", "--", ""}, nil},
	} {
		t.Run(strings.Join(tt.words, " "), func(t *testing.T) {
			if diff := cmp.Diff(tt.want, complete(tt.words)); diff != "" {
				t.Errorf("complete(%q) (-want +got):\n%s", tt.words, diff)
			}
		})
	}
}

// The enum values completion offers are values the commands accept.
func TestEnumValuesAreAccepted(t *testing.T) {
	for key, vals := range enumValues() {
		for _, v := range vals {
			ok := true
			switch key {
			case "logs summarize --format":
				_, ok = fwlog.ParseFormat(v)
			case "detect --input":
				_, err := input.ParseFormat(v)
				ok = err == nil
			case "--init":
				continue // the service command's, checked where it is built
			default:
				prefix, name, _ := strings.Cut(key, "--")
				path := strings.Fields(prefix)
				if len(path) == 0 {
					path = []string{"block", "add"} // --backend: block's and guard's
				}
				// A command that needs a verb has its flags on the verbs: ask the first.
				for chain, _ := resolve(path); chain != nil && chain[len(chain)-1].needsVerb; chain, _ = resolve(path) {
					path = append(path, chain[len(chain)-1].verbs[0].name)
				}
				fs := flagsOf(path)
				if fs == nil || fs.Lookup(name) == nil {
					t.Errorf("%s: no such flag", key)
					continue
				}
				ok = strings.Contains(fs.Lookup(name).Usage, v)
			}
			if !ok {
				t.Errorf("%s offers %q, which the command does not accept", key, v)
			}
		}
	}
}

// The bash script, sourced in a real bash, fills COMPREPLY from the binary's answers.
func TestBashCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed; install it to test the bash completion")
	}
	bin := buildFirewarden(t)
	var script strings.Builder
	if err := writeCompletion(&script, "bash"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "firewarden.bash"), []byte(script.String()), 0o644)
	os.WriteFile(filepath.Join(dir, "rules.conf"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "rules.txt"), nil, 0o644)
	for _, tt := range []struct {
		words string // COMP_WORDS as bash would split them, the last one under the cursor
		want  []string
	}{
		{`firewarden ch`, []string{"check"}},
		{`firewarden rules ''`, []string{"eval", "lint"}},
		{`firewarden rules lint --f`, []string{"--format"}},
		{`firewarden logs summarize --report c`, []string{"classic"}},
		{`firewarden check --only alf.enabled,alf.st`, []string{"alf.enabled,alf.stealth"}},
		// bash splits at "=": the words are joined back and only the part after "=" replaced.
		{`firewarden evidence --format = c`, []string{"csv"}},
		{`firewarden evidence --format = ''`, []string{"json", "csv"}},
		{`firewarden rules eval rules.c`, []string{"rules.conf"}},
	} {
		t.Run(tt.words, func(t *testing.T) {
			prog := `source firewarden.bash
firewarden() { :; }
COMP_WORDS=(` + tt.words + `)
COMP_WORDS[0]=` + bin + `
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
_firewarden
printf '%s\n' "${COMPREPLY[@]}"`
			cmd := exec.Command(bash, "--norc", "--noprofile", "-c", prog)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("bash: %v\n%s", err, out)
			}
			got := strings.Fields(string(out))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("COMPREPLY for %s (-want +got):\n%s", tt.words, diff)
			}
		})
	}
}

// The fish script, sourced in a real fish, offers the binary's answers and file names.
func TestFishCompletion(t *testing.T) {
	fish, err := exec.LookPath("fish")
	if err != nil {
		t.Skip("fish is not installed; install it (apt-get install fish) to test the fish completion")
	}
	bin := buildFirewarden(t)
	var script strings.Builder
	if err := writeCompletion(&script, "fish"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "firewarden.fish"), []byte(script.String()), 0o644)
	os.WriteFile(filepath.Join(dir, "rules.conf"), nil, 0o644)
	for _, tt := range []struct {
		line string
		want []string
	}{
		{"firewarden ru", []string{"rules"}},
		{"firewarden rules lint --format ", []string{"ipfw", "pf"}},
		{"firewarden check --only alf.enabled,alf.st", []string{"alf.enabled,alf.stealth"}},
		{"firewarden rules eval rules.c", []string{"rules.conf"}},
	} {
		t.Run(tt.line, func(t *testing.T) {
			cmd := exec.Command(fish, "--no-config", "-c", "source firewarden.fish; complete -C '"+tt.line+"'")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("fish: %v\n%s", err, out)
			}
			var got []string
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				got = append(got, strings.SplitN(l, "\t", 2)[0])
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("complete -C %q (-want +got):\n%s", tt.line, diff)
			}
		})
	}
}

// The zsh script's function, run in a real zsh with compadd and _files stubbed (they exist
// only inside the completion system), hands the binary's answers to compadd.
func TestZshCompletion(t *testing.T) {
	zsh, err := exec.LookPath("zsh")
	if err != nil {
		t.Skip("zsh is not installed; install it (apt-get install zsh) to test the zsh completion")
	}
	bin := buildFirewarden(t)
	var script strings.Builder
	if err := writeCompletion(&script, "zsh"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "_firewarden"), []byte(script.String()), 0o644)
	for _, tt := range []struct {
		words []string
		want  []string
	}{
		{[]string{"ru"}, []string{"rules"}},
		{[]string{"rules", ""}, []string{"eval", "lint"}},
		{[]string{"logs", "summarize", "--format=p"}, []string{"--format=pf"}},
		{[]string{"rules", "eval", ""}, []string{"_files"}},
		{[]string{"--root", ""}, []string{"_files -/"}},
	} {
		t.Run(strings.Join(tt.words, " "), func(t *testing.T) {
			words := "words=(" + bin
			for _, w := range tt.words {
				words += " '" + w + "'"
			}
			prog := `compdef() { :; }
compadd() { while [[ $1 != -- ]]; do shift; done; shift; print -l -- "$@"; }
_files() { print -- "_files $*"; }
source ./_firewarden
` + words + `)
CURRENT=${#words}
_firewarden`
			cmd := exec.Command(zsh, "-f", "-c", prog)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("zsh: %v\n%s", err, out)
			}
			var got []string
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				got = append(got, strings.TrimSpace(l))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("zsh completion of %q (-want +got):\n%s", tt.words, diff)
			}
		})
	}
}

// FuzzComplete: whatever the command line, completion does not panic, and every candidate
// continues the word under the cursor.
func FuzzComplete(f *testing.F) {
	for _, seed := range []string{"", "ch", "check\x00--only\x00alf.enabled,alf.", "check\x00--only=a", "rules\x00eval\x00",
		"--root\x00", "logs\x00summarize\x00--format=p", "detect\x00rules\x00test\x00--input\x00s", "help\x00detect\x00",
		"block\x00add\x00--backend\x00", "--\x00x", "-\x00", "=\x00--=", "check\x00--only\x00,,,"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		words := strings.Split(line, "\x00")
		cur := words[len(words)-1]
		for _, c := range complete(words) {
			if c != completeFiles && c != completeDirs && !strings.HasPrefix(c, cur) {
				t.Errorf("complete(%q) offers %q, which does not continue %q", words, c, cur)
			}
		}
	})
}

// The zsh and fish scripts are at least valid syntax for their shells.
func TestZshAndFishCompletionSyntax(t *testing.T) {
	for _, tt := range []struct{ shell, flag string }{{"zsh", "-n"}, {"fish", "--no-execute"}} {
		t.Run(tt.shell, func(t *testing.T) {
			sh, err := exec.LookPath(tt.shell)
			if err != nil {
				t.Skipf("%s is not installed; install it (apt-get install %s) to check its completion script", tt.shell, tt.shell)
			}
			var script strings.Builder
			if err := writeCompletion(&script, tt.shell); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "firewarden."+tt.shell)
			os.WriteFile(path, []byte(script.String()), 0o644)
			if out, err := exec.Command(sh, tt.flag, path).CombinedOutput(); err != nil {
				t.Errorf("%s %s: %v\n%s", tt.shell, tt.flag, err, out)
			}
		})
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, sh := range shells() {
		out, errs, code := runCLI(t, nil, "completion", sh)
		if code != 0 || errs != "" || !strings.Contains(out, "__complete") || !strings.Contains(out, sh) {
			t.Errorf("completion %s = exit %d, stderr %q:\n%s", sh, code, errs, out)
		}
	}
	if !slices.Equal(shells(), []string{"bash", "zsh", "fish"}) {
		t.Errorf("shells() = %q", shells())
	}
}

// buildFirewarden builds the binary for tests that need a real process (the completion script
// runs it).
func buildFirewarden(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "firewarden")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/firewarden").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
