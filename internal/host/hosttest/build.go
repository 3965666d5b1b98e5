package hosttest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BuildMacemu compiles the macemu stand-in into a temporary directory and returns its path, for
// tests that run programs the way the firewarden binary does. It skips the test under -short or
// without the go command.
func BuildMacemu(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the macemu binary; run without -short")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH to build macemu; put the Go toolchain on PATH")
	}
	bin := filepath.Join(t.TempDir(), "macemu")
	cmd := exec.Command(gobin, "build", "-o", bin, "github.com/firewarden/firewarden/internal/host/hosttest/macemu")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build macemu: %v\n%s", err, out)
	}
	return bin
}
