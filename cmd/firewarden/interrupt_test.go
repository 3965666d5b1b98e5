package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SIGINT and SIGTERM end a command that is stuck where no context reaches: the open of a FIFO
// named as input blocks until a writer appears, which never happens here. The binary must exit
// soon after the signal with status 2 and one line on stderr, not wait for a SIGKILL.
func TestInterruptBlockedOpen(t *testing.T) {
	for _, tc := range []struct {
		name string
		sig  syscall.Signal
		args func(fifo string) []string
	}{
		{"logs summarize SIGINT", syscall.SIGINT, func(f string) []string { return []string{"logs", "summarize", f} }},
		{"logs summarize SIGTERM", syscall.SIGTERM, func(f string) []string { return []string{"logs", "summarize", f} }},
		{"detect SIGTERM", syscall.SIGTERM, func(f string) []string { return []string{"detect", "--input", "eslogger", f} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fifo := filepath.Join(t.TempDir(), "input.log")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Skipf("cannot make a FIFO here: %v", err)
			}
			cmd := exec.Command(fwBin, tc.args(fifo)...)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			// Let it reach the blocking open; a signal before that is handled by the same path.
			select {
			case err := <-done:
				t.Fatalf("%v ended before the signal: %v; stderr %q", tc.args(fifo), err, errb.String())
			case <-time.After(300 * time.Millisecond):
			}
			cmd.Process.Signal(tc.sig)
			// A generous deadline: the point is that it exits at all, not how fast.
			select {
			case err := <-done:
				code := 0
				if ee, ok := err.(*exec.ExitError); ok {
					code = ee.ExitCode()
				}
				if code != 2 {
					t.Errorf("exit status = %d, want 2; stderr %q", code, errb.String())
				}
				lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
				if len(lines) != 1 || !strings.Contains(lines[0], "interrupted") {
					t.Errorf("stderr = %q, want one line saying it was interrupted", errb.String())
				}
			case <-time.After(15 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("%v still running 15 s after %v", tc.args(fifo), tc.sig)
			}
		})
	}
}
