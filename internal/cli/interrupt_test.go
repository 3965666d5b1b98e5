package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// A daemon that asked for a longer grace is given it: its clean stop after a signal is not cut
// short at InterruptGrace and reported as an interruption (a loaded guard saving many bans
// took more than a second, and exited 2 without saving). Any other command is still abandoned
// after the short grace.
func TestMainGrace(t *testing.T) {
	for _, tc := range []struct {
		name   string
		extend time.Duration // what the command asks for; 0: nothing
		stop   time.Duration // how long it takes to stop after the signal
		want   int
	}{
		{"daemon stopping within its grace", 2 * time.Second, 300 * time.Millisecond, 0},
		{"command stopping within the short grace", 0, 10 * time.Millisecond, 0},
		{"command not stopping", 0, time.Hour, 2},
		{"daemon not stopping", 400 * time.Millisecond, time.Hour, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := func(ctx context.Context, _ []string, _ Streams, _ func(string) string) int {
				if tc.extend > 0 {
					extendGrace(ctx, tc.extend)
				}
				<-ctx.Done()
				time.Sleep(tc.stop)
				return 0
			}
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(10*time.Millisecond, cancel)
			var errb bytes.Buffer
			got := mainWith(run, ctx, nil, Streams{Err: &errb}, func(string) string { return "" }, 200*time.Millisecond)
			if got != tc.want {
				t.Fatalf("exit %d, want %d; stderr %q", got, tc.want, errb.String())
			}
			if (got == 2) != strings.Contains(errb.String(), "interrupted") {
				t.Errorf("stderr %q does not match exit %d", errb.String(), got)
			}
		})
	}
}
