package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firewarden/firewarden/internal/host/hosttest"
)

// config print through the real binary on a fake Mac: the default file under the root, each value
// with where it came from, the macOS state directory as the default.
func TestConfigPrintOnAMac(t *testing.T) {
	root := mac(t, hosttest.Mac15())
	os.MkdirAll(filepath.Join(root, "etc/firewarden"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/firewarden/firewarden.yaml"), []byte("# this Mac\nguard:\n  ban:\n    time: 1h\ndetect:\n  live:\n    syslog: local\n"), 0o644)
	r := firewarden(t, root, "config", "print")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("config print = exit %d, stderr %q", r.code, r.stderr)
	}
	golden(t, "config-print-mac.golden", r.stdout)
	if r := firewarden(t, root, "config", "check"); r.code != 0 || r.stdout != "configuration OK (/etc/firewarden/firewarden.yaml): 2 values set, every other key its default\n" {
		t.Errorf("config check = exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
}

// An old guard.yaml given as the configuration file is one line naming the file, the line and
// what to do, for every command, never a Go type (issue 12: `--config guard.yaml check`).
func TestOldGuardYAMLAsConfig(t *testing.T) {
	root := mac(t, hosttest.Mac15())
	old := filepath.Join(t.TempDir(), "guard.yaml")
	os.WriteFile(old, []byte("# guard\nthreshold:\n  failures: 3\nallowlist: [192.0.2.10]\n"), 0o644)
	want := "firewarden: " + old + ":2: threshold is a guard setting: put it under `guard:`, indented (every key of an old guard.yaml goes under guard:)\n"
	for _, args := range [][]string{{"check"}, {"guard", "--check-config"}, {"config", "check"}} {
		r := firewarden(t, root, append([]string{"--config", old}, args...)...)
		if r.code != 2 || r.stdout != "" || r.stderr != want || strings.Contains(r.stderr, "cli.") {
			t.Errorf("firewarden --config guard.yaml %q = exit %d, stdout %q, stderr %q; want exit 2 and %q", args, r.code, r.stdout, r.stderr, want)
		}
	}
}
