package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/firewarden/firewarden/internal/posture/nftposture/nfttest"
)

// fix --boot takes no other fix flag, refuses a Mac, says when nothing is held, and puts back
// exactly what a fix held.
func TestFixBoot(t *testing.T) {
	mac := t.TempDir()
	os.MkdirAll(filepath.Join(mac, "System/Library/CoreServices"), 0o755)
	os.WriteFile(filepath.Join(mac, "System/Library/CoreServices/SystemVersion.plist"), []byte(`<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict><key>ProductVersion</key><string>15.4</string></dict></plist>`), 0o644)
	root, state := linuxRoot(t), t.TempDir()
	for _, tt := range []struct {
		args   []string
		code   int
		stdout string // a regular expression
		stderr string
	}{
		{[]string{"--root", mac, "fix", "--boot"}, 2, "^$", "firewarden: fix --boot puts firewarden's nftables table back, and nftables exists on Linux only; this host runs macOS 15.4\n"},
		{[]string{"--root", root, "fix", "--boot", "--dry-run"}, 2, "^$", "firewarden: fix --boot takes no other fix flag: it only puts the held table back as it is\n"},
		{[]string{"--root", root, "fix", "--boot", "--only", "linux.firewall.enabled"}, 2, "^$", "firewarden: fix --boot takes no other fix flag: it only puts the held table back as it is\n"},
		{[]string{"--root", root, "fix", "--boot", "--confirm"}, 2, "^$", "firewarden: fix --boot takes no other fix flag: it only puts the held table back as it is\n"},
		{[]string{"--root", root, "--state-dir", state, "fix", "--boot"}, 0, "^nothing held: no " + regexp.QuoteMeta(state) + "/firewall-table.json, so no firewarden table to put back\n$", ""},
		{[]string{"--root", root, "--state-dir", state, "--json", "fix", "--boot"}, 0, `"restored": false`, ""},
	} {
		out, errs, code := runWith(t, &nfttest.Kernel{}, tt.args...)
		if code != tt.code || !regexp.MustCompile(tt.stdout).MatchString(out) || errs != tt.stderr {
			t.Errorf("%q = exit %d, stdout %q, stderr %q; want %d, %s, %q", tt.args, code, out, errs, tt.code, tt.stdout, tt.stderr)
		}
	}

	// A fix holds its table; a kernel that lost it gets it back.
	k := &nfttest.Kernel{}
	if out, errs, code := runWith(t, k, "--root", root, "--state-dir", state, "fix"); code != 0 {
		t.Fatalf("fix = exit %d\n%s%s", code, out, errs)
	}
	want := *k.Table
	reboot := &nfttest.Kernel{}
	out, errs, code := runWith(t, reboot, "--root", root, "--state-dir", state, "fix", "--boot")
	if code != 0 || !regexp.MustCompile(`^restored table inet firewarden_posture as held at \S+ \(fix\), verified\n$`).MatchString(out) || errs != "" {
		t.Errorf("fix --boot = exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if reboot.Table == nil || specJSON(t, *reboot.Table) != specJSON(t, want) || len(reboot.Writes) != 0 || len(reboot.Restores) != 1 {
		t.Errorf("after fix --boot the kernel holds %+v (writes %d, restores %d); want the held table, restored once", reboot.Table, len(reboot.Writes), len(reboot.Restores))
	}
}

func specJSON(t *testing.T, s any) string {
	t.Helper()
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// Without root on the real system, fix --boot says to run it as root, and offers no dry run.
func TestFixBootNeedsRoot(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads this machine's root, which must be Linux for fix --boot to get as far as root")
	}
	var out, errb strings.Builder
	a := newApp(Streams{In: strings.NewReader(""), Out: &out, Err: &errb}, func(string) string { return "" })
	a.nft = &nfttest.Kernel{}
	a.euid = func() int { return 1000 }
	code := a.run(context.Background(), []string{"--root", "/", "fix", "--boot"})
	if code != 2 || errb.String() != "firewarden: fix --boot changes system settings: run it as root (sudo firewarden fix --boot)\n" {
		t.Errorf("fix --boot without root = exit %d, stderr %q", code, errb.String())
	}
}
