package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// signalled starts the binary with args, sends sig after settle and returns how it ended. It
// fails the test when the run ended before the signal, or was still running deadline after it:
// the deadline is generous, since the point is that the run ends at all, not how fast.
func signalled(t *testing.T, sig syscall.Signal, settle, deadline time.Duration, args ...string) run {
	t.Helper()
	cmd := exec.Command(fwBin, args...)
	cmd.Env = append(os.Environ(), "FIREWARDEN_ROOT=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		t.Fatalf("firewarden %s ended before the signal: %v; stderr %q", strings.Join(args, " "), err, errb.String())
	case <-time.After(settle):
	}
	cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(deadline):
		cmd.Process.Kill()
		<-done
		t.Fatalf("firewarden %s still running %v after %v", strings.Join(args, " "), deadline, sig)
	}
	return run{out.String(), errb.String(), cmd.ProcessState.ExitCode()}
}

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
			// 300 ms lets it reach the blocking open; a signal before that takes the same path.
			r := signalled(t, tc.sig, 300*time.Millisecond, 15*time.Second, tc.args(fifo)...)
			if r.code != 2 {
				t.Errorf("exit status = %d, want 2; stderr %q", r.code, r.stderr)
			}
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], "interrupted") {
				t.Errorf("stderr = %q, want one line saying it was interrupted", r.stderr)
			}
		})
	}
}
