package cli

import (
	"bytes"
	"context"
	"errors"
	"github.com/firewarden/firewarden/internal/posture/nftposture/nfttest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func runCLI(t *testing.T, env map[string]string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	a := newApp(Streams{In: strings.NewReader(""), Out: &out, Err: &errb}, func(k string) string { return env[k] })
	// Never the real kernel: a Linux root's checks see a host without a firewall, and a fix
	// writes nothing outside the test.
	a.nft = &nfttest.Kernel{}
	code := a.run(context.Background(), args)
	return out.String(), errb.String(), code
}

// linuxRoot is a root that looks like a Linux host: every macOS check is not applicable, and the
// linux.firewall checks see the fake kernel runCLI gives (a host without a firewall).
func linuxRoot(t *testing.T) string {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "etc"), 0o755)
	os.WriteFile(filepath.Join(dir, "etc/os-release"), []byte("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "etc/hostname"), []byte("box\n"), 0o644)
	return dir
}

func TestGlobalFlagsAnywhere(t *testing.T) {
	root := linuxRoot(t)
	for _, args := range [][]string{
		{"--json", "--root", root, "check"},
		{"--root", root, "check", "--json"},
		{"check", "--json", "--root", root},
	} {
		// A Linux root without a firewall fails its linux.firewall checks (exit 1), in JSON.
		out, errs, code := runCLI(t, nil, args...)
		if code != 1 || !strings.HasPrefix(out, "{") || errs != "" {
			t.Errorf("Run(%q) = exit %d, stdout %.40q, stderr %q; want JSON, exit 1 and nothing on stderr", args, code, out, errs)
		}
	}
}

func TestRootFromEnvironment(t *testing.T) {
	out, _, code := runCLI(t, map[string]string{"FIREWARDEN_ROOT": linuxRoot(t)}, "check")
	if code != 1 || !strings.HasPrefix(out, "host box, Linux 12") {
		t.Errorf("check with FIREWARDEN_ROOT = exit %d:\n%s", code, out)
	}
}

// The configuration file's paths are system paths of the host, read under --root.
func TestConfigFile(t *testing.T) {
	root := linuxRoot(t)
	os.MkdirAll(filepath.Join(root, "etc/firewarden"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/firewarden/b.yaml"), []byte("name: from-config\nsip: true\n"), 0o644)
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte("baseline: /etc/firewarden/b.yaml\n"), 0o644)
	out, _, _ := runCLI(t, nil, "--root", root, "--config", cfg, "check")
	if !strings.Contains(out, "baseline from-config") || !strings.Contains(out, "1 check:") {
		t.Errorf("check with --config:\n%s", out)
	}
	os.WriteFile(cfg, []byte("baselin: x\n"), 0o644)
	_, errs, code := runCLI(t, nil, "--root", root, "--config", cfg, "check")
	if want := "firewarden: " + cfg + ":1: unknown key \"baselin\"; the keys are baseline, detect, guard, state_dir\n"; code != 2 || errs != want {
		t.Errorf("bad config = exit %d, stderr %q, want 2 and %q", code, errs, want)
	}
}

func TestHelpAndVersion(t *testing.T) {
	out, _, code := runCLI(t, nil, "help")
	if code != 0 || !strings.Contains(out, "rollback") || !strings.Contains(out, "exit status:\n  0  compliant") {
		t.Errorf("help = exit %d:\n%s", code, out)
	}
	out, _, code = runCLI(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "firewarden ") {
		t.Errorf("version = exit %d %q", code, out)
	}
	_, errs, code := runCLI(t, nil, "check", "-h")
	if code != 0 || errs != "" {
		t.Errorf("check -h = exit %d stderr %q", code, errs)
	}
}

func TestFixNeedsRootOnTheRealSystem(t *testing.T) {
	for _, args := range [][]string{{"--root", "/", "fix"}, {"--root", "/", "rollback"}} {
		var out, errb bytes.Buffer
		a := &app{Streams: Streams{Out: &out, Err: &errb}, getenv: func(string) string { return "" }, now: time.Now, euid: func() int { return 501 }}
		err := a.dispatch(context.Background(), args)
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "run it as root") {
			t.Errorf("%q as uid 501 = %v, want a usage error asking for root", args, err)
		}
		if out.Len() != 0 {
			t.Errorf("%q as uid 501 printed %q", args, out.String())
		}
	}
}
