package cli

import (
	"context"
	"fmt"
	"time"
)

// InterruptGrace is how long a command may take to wind down after SIGINT or SIGTERM cancelled
// its context. Commands check their context in their loops and stop well within it; the grace
// bounds the rest: a system call that blocks (an open of a FIFO named on the command line, a
// read from a stalled pipe) cannot be interrupted by a context. Leaving at that point is as safe
// as a kill -9, which firewarden survives by design: every state file is replaced atomically
// and stale temporary files are removed by the next run.
const InterruptGrace = time.Second

// Main runs firewarden like Run, but returns at most grace after ctx is cancelled even when the
// command has not finished; then it reports the interruption on s.Err and returns 2. The command
// goroutine is left behind: the caller is expected to exit.
func Main(ctx context.Context, args []string, s Streams, getenv func(string) string, grace time.Duration) int {
	done := make(chan int, 1)
	go func() { done <- Run(ctx, args, s, getenv) }()
	select {
	case code := <-done:
		return code
	case <-ctx.Done():
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case code := <-done:
		return code
	case <-t.C:
		fmt.Fprintf(s.Err, "firewarden: interrupted; the command did not stop within %v and was abandoned (state files are replaced atomically, so nothing is half-written)\n", grace)
		return 2
	}
}
