package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/block/pf"
	"github.com/firewarden/firewarden/internal/host/hosttest"
	"github.com/firewarden/firewarden/internal/statedir"
)

// holdingPfctl replaces the fake Mac's pfctl with a bash script that, while ROOT/.hold exists,
// stops (touches ROOT/.held and sleeps) at the first run whose arguments contain verb (a table
// add or delete), and otherwise runs the macemu stand-in as pfctl.
func holdingPfctl(t *testing.T, root, verb string) {
	t.Helper()
	if _, err := os.Stat("/bin/bash"); err != nil {
		t.Skip("no /bin/bash for the holding pfctl stand-in; run on a machine with bash")
	}
	script := fmt.Sprintf(`#!/bin/bash
root=${0%%/sbin/pfctl}
if [ -e "$root/.hold" ]; then
	for a in "$@"; do
		if [ "$a" = %q ]; then : > "$root/.held"; exec sleep 60; fi
	done
fi
exec -a "$0" %q "$@"
`, verb, emuBin)
	p := filepath.Join(root, "sbin/pfctl")
	os.Remove(p)
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// startFirewarden starts the binary in a process group of its own, so that it and the
// stand-ins it runs can be killed together.
func startFirewarden(t *testing.T, root string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(fwBin, append([]string{"--root", root}, args...)...)
	cmd.Env = append(os.Environ(), "FIREWARDEN_ROOT=")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func killGroup(cmd *exec.Cmd) {
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	cmd.Wait()
}

// kernelTable is what the fake Mac's pf table holds.
func kernelTable(t *testing.T, root string) []string {
	t.Helper()
	got := slices.Clone(state(t, root).PF.Anchors[pf.DefaultAnchor].Tables[pf.DefaultTable])
	slices.Sort(got)
	return got
}

// stateBlocked is what block.json says the firewall should hold.
func stateBlocked(t *testing.T, root string) []string {
	t.Helper()
	r := firewardenNoHang(t, root, "--json", "block", "list")
	var l struct{ Blocked []struct{ Prefix string } }
	if err := json.Unmarshal([]byte(r.stdout), &l); err != nil {
		t.Fatalf("block list --json: %v\n%s", err, r.stdout)
	}
	var out []string
	for _, b := range l.Blocked {
		out = append(out, strings.TrimSuffix(strings.TrimSuffix(b.Prefix, "/32"), "/128"))
	}
	slices.Sort(out)
	return out
}

// A block command killed after it saved block.json and before the firewall changed leaves the
// firewall behind the state; the next block command brings it up to date before its own change.
func TestBlockKilledBetweenStateAndKernel(t *testing.T) {
	for _, tt := range []struct {
		name   string
		killed []string // killed while its table change is held
		verb   string   // the pfctl -T verb to hold at
		next   []string
	}{
		{"add then add", []string{"block", "add", "192.0.2.7"}, "add", []string{"block", "add", "203.0.113.5"}},
		{"add then remove", []string{"block", "add", "192.0.2.7"}, "add", []string{"block", "remove", "198.51.100.1"}},
		{"add then expire", []string{"block", "add", "192.0.2.7"}, "add", []string{"block", "expire"}},
		{"remove then allow", []string{"block", "remove", "198.51.100.1"}, "delete", []string{"block", "allow", "203.0.113.9"}},
		{"add then disable", []string{"block", "add", "192.0.2.7"}, "add", []string{"block", "disable"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := mac(t, hosttest.Mac15())
			if r := firewardenNoHang(t, root, "block", "add", "198.51.100.1"); r.code != 0 {
				t.Fatalf("block add: exit %d: %s", r.code, r.stderr)
			}
			holdingPfctl(t, root, tt.verb)
			os.WriteFile(filepath.Join(root, ".hold"), nil, 0o644)
			cmd := startFirewarden(t, root, tt.killed...)
			deadline := time.Now().Add(hangLimit)
			for {
				if _, err := os.Stat(filepath.Join(root, ".held")); err == nil {
					break
				}
				if time.Now().After(deadline) {
					killGroup(cmd)
					t.Fatalf("firewarden %s never reached pfctl -T %s", strings.Join(tt.killed, " "), tt.verb)
				}
				time.Sleep(5 * time.Millisecond)
			}
			killGroup(cmd)
			os.Remove(filepath.Join(root, ".hold"))
			if diff := cmp.Diff(stateBlocked(t, root), kernelTable(t, root)); diff == "" {
				t.Fatalf("after the kill the firewall already matches the state; the test no longer kills between the two")
			}

			if r := firewardenNoHang(t, root, tt.next...); r.code != 0 {
				t.Fatalf("firewarden %s after the kill: exit %d: %s", strings.Join(tt.next, " "), r.code, r.stderr)
			}
			if diff := cmp.Diff(stateBlocked(t, root), kernelTable(t, root)); diff != "" {
				t.Errorf("after firewarden %s, the pf table differs from block.json (-state +kernel):\n%s", strings.Join(tt.next, " "), diff)
			}
		})
	}
}

// Killing block add at random moments, over and over, then running one block command leaves
// the firewall matching block.json and no temporary file behind.
func TestBlockRepeatedKillsLeaveNothingBehind(t *testing.T) {
	root := mac(t, hosttest.Mac15())
	if r := firewardenNoHang(t, root, "block", "enable"); r.code != 0 {
		t.Fatalf("block enable: exit %d: %s", r.code, r.stderr)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 30 {
		cmd := startFirewarden(t, root, "block", "add", fmt.Sprintf("10.9.%d.%d", i/250, i%250+1))
		time.Sleep(time.Duration(rng.IntN(60)) * time.Millisecond)
		killGroup(cmd)
	}
	if r := firewardenNoHang(t, root, "block", "add", "192.0.2.200"); r.code != 0 {
		t.Fatalf("block add after the kills: exit %d: %s", r.code, r.stderr)
	}
	if diff := cmp.Diff(stateBlocked(t, root), kernelTable(t, root)); diff != "" {
		t.Errorf("after the kills and one block add, the pf table differs from block.json (-state +kernel):\n%s", diff)
	}
	entries, err := os.ReadDir(macStateDir(root))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), statedir.TempPrefix) || strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left in the state directory", e.Name())
		}
	}
}
