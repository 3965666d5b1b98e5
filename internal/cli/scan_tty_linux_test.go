package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/firewarden/firewarden/internal/ptytest"
)

// TestIsTTY: a terminal is one; /dev/null (a character device), a file and a pipe are not.
func TestIsTTY(t *testing.T) {
	_, pty := ptytest.Open(t)
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	file, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for _, c := range []struct {
		name string
		f    *os.File
		want bool
	}{{"pty", pty, true}, {"/dev/null", null, false}, {"file", file, false}, {"pipe", w, false}} {
		if got := isTTY(c.f); got != c.want {
			t.Errorf("isTTY(%s) = %v, want %v", c.name, got, c.want)
		}
	}
}
