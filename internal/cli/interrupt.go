package cli

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// InterruptGrace is how long a command may take to wind down after SIGINT or SIGTERM cancelled
// its context. Commands check their context in their loops and stop well within it; the grace
// bounds the rest: a system call that blocks (an open of a FIFO named on the command line, a
// read from a stalled pipe) cannot be interrupted by a context. Leaving at that point is as safe
// as a kill -9, which firewarden survives by design: every state file is replaced atomically
// and stale temporary files are removed by the next run.
const InterruptGrace = time.Second

// DaemonGrace is the grace of the daemons (guard, detect --live): on SIGTERM they save what they
// hold (bans, positions in the logs, pending alerts), which on a loaded host with many bans can
// take longer than a second, and cutting that short would turn every clean stop into a crash
// recovery. It stays below launchd's default ExitTimeOut (20 s) and systemd's TimeoutStopSec
// (90 s), so the backstop is still ours.
const DaemonGrace = 15 * time.Second

// graceKey carries, in the context Main gives Run, the grace a command asked for.
type graceKey struct{}

// extendGrace lets a long-running command that stops itself cleanly on a signal ask Main for a
// longer grace than InterruptGrace. It does nothing when Run was not started by Main.
func extendGrace(ctx context.Context, d time.Duration) {
	if g, ok := ctx.Value(graceKey{}).(*atomic.Int64); ok && int64(d) > g.Load() {
		g.Store(int64(d))
	}
}

// Main runs firewarden like Run, but returns at most grace (or the longer grace the command
// asked for with extendGrace) after ctx is cancelled even when the command has not finished; then it reports the interruption on s.Err and returns 2. The command
// goroutine is left behind: the caller is expected to exit.
func Main(ctx context.Context, args []string, s Streams, getenv func(string) string, grace time.Duration) int {
	return mainWith(Run, ctx, args, s, getenv, grace)
}

// mainWith is Main with the command runner as a parameter, for tests.
func mainWith(run func(context.Context, []string, Streams, func(string) string) int, ctx context.Context, args []string, s Streams, getenv func(string) string, grace time.Duration) int {
	g := new(atomic.Int64)
	g.Store(int64(grace))
	done := make(chan int, 1)
	go func() { done <- run(context.WithValue(ctx, graceKey{}, g), args, s, getenv) }()
	select {
	case code := <-done:
		return code
	case <-ctx.Done():
	}
	grace = time.Duration(g.Load())
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
