package server

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/firewarden/firewarden/internal/ptytest"
)

func echoing(t *testing.T, f *os.File) bool {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), ioctlGetTermios)
	if err != nil {
		t.Fatal(err)
	}
	return tio.Lflag&unix.ECHO != 0
}

// At a terminal the password is prompted for on stderr and not echoed, and the echo is back
// afterwards.
func TestReadPasswordTerminalNoEcho(t *testing.T) {
	master, slave := ptytest.Open(t)
	if !echoing(t, slave) {
		t.Fatal("a new terminal does not echo; the test would prove nothing")
	}
	var errBuf bytes.Buffer
	type result struct {
		hash string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		h, err := readPassword(&Env{Streams: Streams{Err: &errBuf}, In: slave}, "add", "alice")
		done <- result{h, err}
	}()
	// Type only once the echo is off, as a person would after the prompt.
	for deadline := time.Now().Add(10 * time.Second); echoing(t, slave); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("readPassword never turned the echo off")
		}
	}
	const pw = "correct horse battery"
	if _, err := master.WriteString(pw + "\n"); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("readPassword = %v", r.err)
	}
	if ok, err := CheckPassword(r.hash, pw); !ok || err != nil {
		t.Errorf("CheckPassword(readPassword's hash, typed) = %v, %v; want true", ok, err)
	}
	if !echoing(t, slave) {
		t.Error("the terminal does not echo after readPassword; want it restored")
	}
	if got := errBuf.String(); got != "password for alice: \n" {
		t.Errorf("stderr = %q, want the prompt and a newline", got)
	}
	// Whatever the terminal echoed back is readable on the master now.
	fds := []unix.PollFd{{Fd: int32(master.Fd()), Events: unix.POLLIN}}
	if n, _ := unix.Poll(fds, 200); n > 0 {
		buf := make([]byte, 4096)
		k, _ := unix.Read(int(master.Fd()), buf)
		if strings.Contains(string(buf[:k]), "horse") {
			t.Errorf("the terminal echoed the password: %q", buf[:k])
		}
	}
}
