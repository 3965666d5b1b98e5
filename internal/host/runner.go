package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Cmd is one program run: an absolute system path (resolved under the root by the Runner) and its
// arguments. There is no shell anywhere.
type Cmd struct {
	Path string   `json:"path"`
	Args []string `json:"args"`
}

// Argv is the command as it would be typed on the host: system path first.
func (c Cmd) Argv() []string { return append([]string{c.Path}, c.Args...) }

// String shell-quotes the argv for display (dry runs, error messages).
func (c Cmd) String() string { return QuoteArgv(c.Argv()) }

// Result is what a program run produced. ExitCode is -1 when the program did not run to an exit.
type Result struct {
	Argv      []string
	Stdout    []byte
	Stderr    []byte
	ExitCode  int
	Truncated bool // output was cut at the Runner's cap
}

// Runner runs programs. Run returns the Result together with *ExitError when the program exited
// non-zero, so callers that treat some exit codes as data can still read the output.
type Runner interface {
	Run(ctx context.Context, c Cmd) (Result, error)
}

// ExitError is a program that ran and exited non-zero.
type ExitError struct {
	Argv   []string
	Code   int
	Stderr string
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%s exited with status %d", QuoteArgv(e.Argv), e.Code)
	if s := firstLines(e.Stderr, 3); s != "" {
		msg += ": " + s
	}
	return msg
}

// ErrNotInstalled is returned (wrapped) when the program does not exist under the root.
var ErrNotInstalled = errors.New("program not installed")

// Defaults for ExecRunner.
const (
	DefaultTimeout   = 30 * time.Second
	DefaultMaxOutput = 4 << 20
)

// ExecRunner runs programs found under Root with os/exec.
type ExecRunner struct {
	Root      Root
	Timeout   time.Duration // per run; DefaultTimeout when zero
	MaxOutput int           // bytes kept per stream; DefaultMaxOutput when zero
}

// Run implements Runner.
func (r ExecRunner) Run(ctx context.Context, c Cmd) (Result, error) {
	res := Result{Argv: c.Argv(), ExitCode: -1}
	if !strings.HasPrefix(c.Path, "/") {
		return res, fmt.Errorf("run %s: program path must be absolute", c.Path)
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	limit := r.MaxOutput
	if limit <= 0 {
		limit = DefaultMaxOutput
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, r.Root.Path(c.Path), c.Args...)
	cmd.Args[0] = r.Root.Path(c.Path)
	stdout := &capped{limit: limit}
	stderr := &capped{limit: limit}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	res.Stdout, res.Stderr = stdout.buf.Bytes(), stderr.buf.Bytes()
	res.Truncated = stdout.cut || stderr.cut
	var ee *exec.ExitError
	switch {
	case err == nil:
		res.ExitCode = 0
		return res, nil
	case ctx.Err() == context.DeadlineExceeded:
		return res, fmt.Errorf("%s timed out after %s", QuoteArgv(res.Argv), timeout)
	case errors.As(err, &ee) && ee.Exited():
		res.ExitCode = ee.ExitCode()
		return res, &ExitError{Argv: res.Argv, Code: res.ExitCode, Stderr: string(res.Stderr)}
	case errors.Is(err, fs.ErrNotExist):
		return res, fmt.Errorf("%s: %w", c.Path, ErrNotInstalled)
	default:
		return res, fmt.Errorf("run %s: %w", QuoteArgv(res.Argv), err)
	}
}

// capped keeps the first limit bytes written and remembers that it dropped the rest.
type capped struct {
	buf   bytes.Buffer
	limit int
	cut   bool
}

func (c *capped) Write(p []byte) (int, error) {
	room := c.limit - c.buf.Len()
	if room < len(p) {
		c.cut = true
		if room > 0 {
			c.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return c.buf.Write(p)
}

// Recorder wraps a Runner and keeps every run, in order. It is how firewarden counts program runs
// and how evidence records come by the raw output behind each verdict.
type Recorder struct {
	Runner Runner

	mu   sync.Mutex
	runs []Result
}

// Run implements Runner.
func (r *Recorder) Run(ctx context.Context, c Cmd) (Result, error) {
	res, err := r.Runner.Run(ctx, c)
	r.mu.Lock()
	r.runs = append(r.runs, res)
	r.mu.Unlock()
	return res, err
}

// Runs returns a copy of the runs so far.
func (r *Recorder) Runs() []Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Result(nil), r.runs...)
}

// QuoteArgv renders argv the way a POSIX shell would read it back.
func QuoteArgv(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		parts[i] = quote(a)
	}
	return strings.Join(parts, " ")
}

func quote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	return strings.Join(lines, " / ")
}
