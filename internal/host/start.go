package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Starter starts a long-running program and streams its standard output: a telemetry or log
// program that runs until it is stopped (eslogger, log stream, journalctl --follow). Runner does
// not fit a stream: it captures output up to a cap and stops the program at a timeout.
//
// Start returns the program's standard output and wait, which blocks until the program has
// ended and returns nil for exit status 0, *ExitError for another exit status (with the
// tail of standard error), or another error (killed by a signal, for instance). The caller
// reads the output, then closes it (which unblocks a program stuck writing to it), then calls
// wait exactly once. Cancelling ctx stops the program. A program missing under the root is an
// error wrapping ErrNotInstalled.
type Starter interface {
	Start(ctx context.Context, c Cmd) (stdout io.ReadCloser, wait func() error, err error)
}

// ExecStarter runs programs under Root with os/exec: absolute system path, argv slice, no shell.
type ExecStarter struct {
	Root Root
	// StopGrace is how long a program has to exit after SIGTERM before it is killed, and how
	// long its output may stay open after it exited (a child that inherited it); zero means 3s.
	StopGrace time.Duration
}

// stderrTail is how much of a program's standard error is kept for its exit error.
const stderrTail = 4 << 10

// Start implements Starter.
func (s ExecStarter) Start(ctx context.Context, c Cmd) (io.ReadCloser, func() error, error) {
	if !strings.HasPrefix(c.Path, "/") {
		return nil, nil, fmt.Errorf("start %s: program path must be absolute", c.Path)
	}
	path := s.Root.Path(c.Path)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("%s: %w", c.Path, ErrNotInstalled)
	}
	grace := s.StopGrace
	if grace <= 0 {
		grace = 3 * time.Second
	}
	cmd := exec.CommandContext(ctx, path, c.Args...)
	cmd.Args[0] = path
	// eslogger, log stream and journalctl end cleanly on SIGTERM; SIGKILL follows after the
	// grace.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = grace
	// The program stays in firewarden's process group: eslogger leaves out the events of its
	// own group, so firewarden's state polls (socketfilterfw, pfctl) never show up as events.
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	tail := &tailBuffer{max: stderrTail}
	cmd.Stderr = tail
	if err := cmd.Start(); err != nil {
		pr.Close()
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("%s: %w", c.Path, ErrNotInstalled)
		}
		return nil, nil, fmt.Errorf("start %s: %w", c.String(), err)
	}
	argv := c.Argv()
	done := make(chan error, 1)
	go func() {
		// Owned by this run: it ends when the program has ended and its output is closed
		// (or WaitDelay forced it closed).
		err := cmd.Wait()
		pw.Close()
		done <- err
	}()
	var once sync.Once
	var werr error
	wait := func() error {
		once.Do(func() {
			err := <-done
			var ee *exec.ExitError
			switch {
			case err == nil:
			case errors.As(err, &ee) && ee.Exited():
				werr = &ExitError{Argv: argv, Code: ee.ExitCode(), Stderr: tail.String()}
			default:
				werr = fmt.Errorf("%s: %w", QuoteArgv(argv), err)
			}
		})
		return werr
	}
	return pr, wait, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

var _ Starter = ExecStarter{}
