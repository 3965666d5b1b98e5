package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/host/hosttest"
)

// helpPaths are every command and verb a user can ask help for.
var helpPaths = []string{
	"check", "fix", "rollback", "evidence",
	"baseline", "baseline default", "baseline profile",
	"logs", "logs summarize",
	"rules", "rules eval", "rules lint",
	"detect", "detect rules", "detect rules list", "detect rules test",
	"block", "block add", "block remove", "block allow", "block unallow", "block list", "block expire",
	"block enable", "block disable", "block sync", "block summary", "block autoconfigure",
	"guard", "config", "config print", "config check",
	"service", "service install", "service uninstall", "service status", "service show", "service files",
	"version", "help", "man", "completion",
}

// Help through the real binary: every command and verb, each way of asking, on stdout, exit 0.
func TestHelpConvention(t *testing.T) {
	for _, p := range helpPaths {
		path := strings.Fields(p)
		t.Run(p, func(t *testing.T) {
			want := firewardenRaw(t, append([]string{"help"}, path...)...)
			if want.code != 0 || want.stderr != "" || !strings.HasPrefix(want.stdout, "usage: firewarden "+p) {
				t.Fatalf("help %s = exit %d, stderr %q, stdout:\n%s", p, want.code, want.stderr, want.stdout)
			}
			for _, h := range []string{"--help", "-h"} {
				r := firewardenRaw(t, append(path, h)...)
				if r.code != 0 || r.stderr != "" {
					t.Errorf("%s %s = exit %d, stderr %q; want 0 and nothing", p, h, r.code, r.stderr)
				}
				if diff := cmp.Diff(want.stdout, r.stdout); diff != "" {
					t.Errorf("%s %s differs from help %s (-want +got):\n%s", p, h, p, diff)
				}
			}
			if !strings.Contains(want.stdout, "\nexamples:\n") {
				t.Errorf("help %s has no examples:\n%s", p, want.stdout)
			}
		})
	}
}

// `firewarden` alone, `firewarden help`, `--help` and `-h` print the command list with every verb.
func TestCommandList(t *testing.T) {
	for _, args := range [][]string{nil, {"help"}, {"--help"}, {"-h"}} {
		r := firewardenRaw(t, args...)
		if r.code != 0 || r.stderr != "" {
			t.Errorf("firewarden %q = exit %d, stderr %q; want 0 and nothing on stderr", args, r.code, r.stderr)
		}
		for _, p := range helpPaths {
			if p == "baseline" || p == "logs" || p == "rules" || p == "block" || p == "detect rules" || p == "config" || p == "service" {
				continue // commands that need a verb are listed by their verbs
			}
			if !strings.Contains(r.stdout, "\n  "+p+" ") {
				t.Errorf("firewarden %q does not list %q:\n%s", args, p, r.stdout)
			}
		}
		if strings.Contains(r.stdout, "…") {
			t.Errorf("firewarden %q hides something behind …:\n%s", args, r.stdout)
		}
	}
}

// Mistakes: one line on stderr, nothing on stdout, exit 2, a suggestion when one is close.
func TestOneLineErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus", "check"}, "firewarden: unknown flag --bogus before the command; run `firewarden help` for the flags\n"},
		{[]string{"chekc"}, "firewarden: unknown command \"chekc\"; did you mean \"check\"?\n"},
		{[]string{"rules", "lnit", "pf.conf"}, "firewarden: unknown verb \"lnit\" for rules; did you mean \"lint\"?\n"},
		{[]string{"block", "add", "--ttll", "5m", "192.0.2.1"}, "firewarden: unknown flag --ttll for block add; did you mean \"--ttl\"?\n"},
		{[]string{"rules", "lint", "pf.conf", "--packet", "x"}, "firewarden: unknown flag --packet for rules lint; run `firewarden help rules lint` for the flags\n"},
		{[]string{"logs"}, "firewarden: logs needs a verb: summarize; run `firewarden help logs`\n"},
		{[]string{"help", "blok"}, "firewarden: unknown command \"blok\"; did you mean \"block\"?\n"},
		{[]string{"completion", "tcsh"}, "firewarden: completion: unknown shell \"tcsh\"; use bash, zsh or fish\n"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := firewardenRaw(t, tt.args...)
			if r.code != 2 || r.stdout != "" || r.stderr != tt.want {
				t.Errorf("firewarden %q = exit %d, stdout %q, stderr %q; want 2, nothing, %q", tt.args, r.code, r.stdout, r.stderr, tt.want)
			}
		})
	}
}

// A development build names itself 0.3.0-dev (with the commit when the build knows it), never
// "devel"; `--version` and `version` print the same line.
func TestVersionOfADevelopmentBuild(t *testing.T) {
	r := firewardenRaw(t, "--version")
	re := regexp.MustCompile(`^firewarden 0\.3\.0-dev(\+[0-9a-f]{12}(\.dirty)?)? \((commit [0-9a-f]{7}, )?` +
		regexp.QuoteMeta(runtime.Version()) + `, ` + runtime.GOOS + `/` + runtime.GOARCH + `\)\n$`)
	if r.code != 0 || r.stderr != "" || !re.MatchString(r.stdout) {
		t.Errorf("--version = exit %d, stderr %q, stdout %q; want a line matching %s", r.code, r.stderr, r.stdout, re)
	}
	if v := firewardenRaw(t, "version"); v != r {
		t.Errorf("version = %+v, want what --version printed, %+v", v, r)
	}
}

// A release build, stamped as the release tool stamps it, says so in --version and in every
// evidence record.
func TestVersionOfAReleaseBuild(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "firewarden")
	const pkg = "github.com/firewarden/firewarden/internal/version"
	ldflags := "-X " + pkg + ".Version=0.3.0 -X " + pkg + ".Commit=abc1234def5678abc1234def5678abc1234def56 -X " + pkg + ".Date=2026-12-06T12:00:00Z"
	if out, err := exec.Command("go", "build", "-ldflags", ldflags, "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	want := "firewarden 0.3.0 (commit abc1234, " + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
	if err != nil || string(out) != want {
		t.Errorf("--version = %q, %v; want %q", out, err, want)
	}
	root := mac(t, hosttest.Mac15())
	out, _ = exec.Command(bin, "--root", root, "--state-dir", t.TempDir(), "evidence").Output()
	var entry struct {
		Record struct {
			ToolVersion string `json:"tool_version"`
		} `json:"record"`
	}
	if err := json.Unmarshal(out, &entry); err != nil || entry.Record.ToolVersion != "0.3.0" {
		t.Errorf("evidence tool_version = %q (%v), want 0.3.0\n%s", entry.Record.ToolVersion, err, out)
	}
}

// The man pages and completion scripts the release tool packages come out of the binary.
func TestManAndCompletionThroughTheBinary(t *testing.T) {
	dir := t.TempDir()
	if r := firewardenRaw(t, "man", "--dir", dir); r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Errorf("man --dir = %+v", r)
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "*.1"))
	if len(pages) != 20 {
		t.Errorf("man --dir wrote %d pages, want firewarden.1 and 19 command pages: %q", len(pages), pages)
	}
	for _, sh := range []string{"bash", "zsh", "fish"} {
		if r := firewardenRaw(t, "completion", sh); r.code != 0 || !strings.Contains(r.stdout, "__complete") {
			t.Errorf("completion %s = exit %d, stderr %q", sh, r.code, r.stderr)
		}
	}
	r := firewardenRaw(t, "__complete", "rules", "")
	if r.code != 0 || r.stdout != "eval\nlint\n" {
		t.Errorf("__complete rules '' = exit %d, %q", r.code, r.stdout)
	}
}
