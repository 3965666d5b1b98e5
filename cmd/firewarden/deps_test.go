package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The host binary must not link database drivers, the dashboard or server code (DESIGN.md):
// it runs on every Mac of a fleet, and what it does not contain cannot be exploited there.
var forbidden = []string{
	"database/sql",
	"html/template",
	"modernc.org/sqlite",
	"github.com/jackc/pgx",
	"github.com/mattn/go-sqlite3",
	"github.com/firewarden/firewarden/internal/fleet/server",
	"github.com/firewarden/firewarden/internal/fleet/store",
	"github.com/firewarden/firewarden/internal/fleet/dashboard",
}

func TestDependencies(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go toolchain not on PATH; run the tests with `go test ./...`")
	}
	for _, goos := range []string{"linux", "darwin"} {
		cmd := exec.Command(gobin, "list", "-deps", ".")
		cmd.Env = append(os.Environ(), "GOOS="+goos, "CGO_ENABLED=0")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps (GOOS=%s): %v", goos, err)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list -deps (GOOS=%s) listed %d packages; the check would prove nothing", goos, len(deps))
		}
		for _, dep := range deps {
			for _, bad := range forbidden {
				if dep == bad || strings.HasPrefix(dep, bad+"/") {
					t.Errorf("cmd/firewarden (GOOS=%s) depends on %s; keep server and database code out of the host binary", goos, dep)
				}
			}
		}
	}
}
