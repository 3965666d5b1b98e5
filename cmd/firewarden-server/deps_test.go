package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The server manages no firewall: it must not link the backends that change one, so that a
// compromise of the server process cannot reach a firewall through code it carries.
var forbidden = []string{
	"github.com/firewarden/firewarden/internal/block/nft",
	"github.com/firewarden/firewarden/internal/block/pf",
	"github.com/firewarden/firewarden/internal/guard",
	"github.com/google/nftables",
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
		if !contains(deps, "github.com/firewarden/firewarden/internal/fleet/server") {
			t.Fatalf("go list -deps (GOOS=%s) does not list the server package; the check would prove nothing", goos)
		}
		for _, dep := range deps {
			for _, bad := range forbidden {
				if dep == bad || strings.HasPrefix(dep, bad+"/") {
					t.Errorf("cmd/firewarden-server (GOOS=%s) depends on %s; keep firewall backends out of the server", goos, dep)
				}
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
