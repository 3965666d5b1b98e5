package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is an output stream the test reads while the guard writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestGuardBansSSHDAddressNotClientText is issue 11's remote ban through the real binary: a
// client that fails with a certificate whose key ID, or hostbased credentials whose client user,
// read "x from 6.6.6.19 port 22 ssh2" gets its own address banned, never the one it wrote; a line
// where the user name and the key ID both imitate sshd (two readings, two addresses) bans no one.
// The guard follows a plain file with the dry-run backend, so it needs no root or namespace.
func TestGuardBansSSHDAddressNotClientText(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "auth.log")
	if err := os.WriteFile(logPath, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "firewarden.yaml")
	if err := os.WriteFile(cfg, []byte("guard:\n  sources:\n    - type: file\n      path: "+logPath+"\n  threshold:\n    failures: 3\n    window: 10m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startFileGuard(t, dir, cfg)

	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pid := 7000
	write := func(format string, args ...any) {
		pid++
		fmt.Fprintf(f, "Nov 22 06:00:00 host sshd[%d]: "+format+"\n", append([]any{pid}, args...)...)
	}
	banned := g.banned
	// The file source starts reading at the end it finds, so the lines are written again until
	// both bans show; lines are read in order, so the refused ones before them were read too.
	g.until("the bans of 10.99.0.17 and 10.99.0.18", func() bool {
		write("Failed publickey for bob from 6.6.6.21 port 22 ssh2: ECDSA-CERT SHA256:a ID y from 10.99.0.19 port 5555 ssh2: ECDSA-CERT SHA256:b ID z (serial 1) CA ECDSA SHA256:c")
		write("Failed publickey for invalid user bob from 10.99.0.17 port 5555 ssh2: ECDSA-CERT SHA256:abcdef ID x from 6.6.6.19 port 22 ssh2 (serial 1) CA ECDSA SHA256:ghijk")
		write(`Failed hostbased for invalid user bob from 10.99.0.18 port 5555 ssh2: ECDSA SHA256:abc, client user "x from 6.6.6.20 port 22 ssh2", client host "h"`)
		f.Sync()
		return eventuallyTrue(200*time.Millisecond, func() bool { return banned("10.99.0.17") && banned("10.99.0.18") })
	})
	for _, a := range []string{"6.6.6.19", "6.6.6.20", "6.6.6.21", "10.99.0.19"} {
		if banned(a) || strings.Contains(g.out.String(), "would add "+a+" ") {
			t.Errorf("the guard banned %s, which only the client's text names\nstderr:\n%s", a, g.errb.String())
		}
	}
}

// fileGuard is `firewarden guard` run by a test with the dry-run backend on a configuration whose
// source is a plain file, so that it needs no root or namespace.
type fileGuard struct {
	t         *testing.T
	cmd       *exec.Cmd
	out, errb syncBuffer
	stopped   bool
}

// startFileGuard starts the guard on the configuration cfg, with its state under dir, waits until
// it has started, and stops it when the test ends.
func startFileGuard(t *testing.T, dir, cfg string) *fileGuard {
	t.Helper()
	g := &fileGuard{t: t}
	g.cmd = exec.Command(fwBin, "--state-dir", filepath.Join(dir, "state"), "guard", "--config", cfg, "--backend", "dry-run")
	g.cmd.Env = append(os.Environ(), "FIREWARDEN_ROOT=")
	g.cmd.Stdout, g.cmd.Stderr = &g.out, &g.errb
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.stop)
	g.until("the guard to start", func() bool { return strings.Contains(g.errb.String(), "guard: started") })
	return g
}

// until waits up to 30 s for cond, failing the test with the guard's output after that.
func (g *fileGuard) until(what string, cond func() bool) {
	g.t.Helper()
	for end := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			g.t.Fatalf("timed out waiting for %s\nstdout:\n%s\nstderr:\n%s", what, g.out.String(), g.errb.String())
		}
	}
}

// stop sends SIGTERM and waits for the guard to exit (once).
func (g *fileGuard) stop() {
	if !g.stopped {
		g.stopped = true
		g.cmd.Process.Signal(syscall.SIGTERM)
		g.cmd.Wait()
	}
}

// banned reports whether the guard has logged a ban of a.
func (g *fileGuard) banned(a string) bool {
	return strings.Contains(g.errb.String(), "guard: banned "+a+" ")
}

// eventuallyTrue polls cond for up to d.
func eventuallyTrue(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}
