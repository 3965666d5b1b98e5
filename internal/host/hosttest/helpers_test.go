package hosttest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/host/hosttest"
)

// System paths as firewarden runs them.
const (
	sfw         = "/usr/libexec/ApplicationFirewall/socketfilterfw"
	defaults    = "/usr/bin/defaults"
	systemsetup = "/usr/sbin/systemsetup"
	launchctl   = "/bin/launchctl"
	csrutil     = "/usr/bin/csrutil"
	profiles    = "/usr/bin/profiles"
	killall     = "/usr/bin/killall"
)

// fixedClock is the timestamp of testdata/alf/defaults-read-missing-key.txt.
var fixedClock = time.Date(2016, 5, 18, 9, 28, 12, 188e6, time.UTC)

// newMac lays out st in a temporary directory and returns the Mac with a fixed clock.
func newMac(t *testing.T, st hosttest.MacState) *hosttest.Mac {
	t.Helper()
	m, err := hosttest.NewMac(t.TempDir(), st)
	if err != nil {
		t.Fatalf("NewMac(%s) = %v", st.Version, err)
	}
	m.Now = func() time.Time { return fixedClock }
	return m
}

// run runs one emulated program. A non-zero exit is data here (the Result carries the code); any
// other error fails the test.
func run(t *testing.T, r host.Runner, path string, args ...string) host.Result {
	t.Helper()
	res, err := r.Run(context.Background(), host.Cmd{Path: path, Args: args})
	var ee *host.ExitError
	switch {
	case err == nil:
		if res.ExitCode != 0 {
			t.Fatalf("Run(%s) = exit %d with nil error", host.QuoteArgv(res.Argv), res.ExitCode)
		}
	case errors.As(err, &ee):
		if ee.Code != res.ExitCode || res.ExitCode == 0 {
			t.Fatalf("Run(%s) = exit %d, ExitError code %d", host.QuoteArgv(res.Argv), res.ExitCode, ee.Code)
		}
	default:
		t.Fatalf("Run(%s) error = %v", host.QuoteArgv(res.Argv), err)
	}
	return res
}

// fixture reads a captured output from testdata/alf.
func fixture(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "alf", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// step is one command of a captured terminal transcript and what it printed.
type step struct {
	line string // the command as typed
	out  string // its output, newline-terminated, blank separator lines dropped
}

// prompts are the prompt prefixes used in the fixtures (testdata/alf/README.md).
var prompts = []string{"sh-3.2# ", "$ ", "% ", "# ", "❯ ", ">$ "}

// transcript splits a fixture into commands and outputs. sudo's "Password:" prompt is dropped.
func transcript(t *testing.T, name string) []step {
	t.Helper()
	var steps []step
	var out []string
	flush := func() {
		for len(out) > 0 && out[len(out)-1] == "" {
			out = out[:len(out)-1]
		}
		if len(steps) > 0 && len(out) > 0 {
			steps[len(steps)-1].out = strings.Join(out, "\n") + "\n"
		}
		out = nil
	}
	for _, l := range strings.Split(strings.TrimSuffix(fixture(t, name), "\n"), "\n") {
		if cmd, isCmd := cutPrompt(l); isCmd {
			flush()
			steps = append(steps, step{line: cmd})
			continue
		}
		if l == "Password:" {
			continue
		}
		out = append(out, l)
	}
	flush()
	if len(steps) == 0 {
		t.Fatalf("transcript(%s): no commands found", name)
	}
	return steps
}

func cutPrompt(l string) (string, bool) {
	for _, p := range prompts {
		if rest, found := strings.CutPrefix(l, p); found {
			return rest, true
		}
	}
	return "", false
}

// shellWords splits a command line the way sh does for the simple quoting the fixtures use.
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}
