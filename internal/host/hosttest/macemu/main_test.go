package main

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/block"
	"github.com/firewarden/firewarden/internal/exposure"
	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/host/hosttest"
)

func TestLayoutCommand(t *testing.T) {
	tests := []struct {
		args        []string
		wantVersion string
		wantManaged bool
	}{
		{[]string{"-preset", "14"}, "14.6", false},
		{nil, "15.1", false},
		{[]string{"-preset", "15.4"}, "15.4", false},
		{[]string{"-preset", "26", "-managed"}, "26.0", true},
		{[]string{"-preset", "managed15"}, "15.1", true},
		{[]string{"-version", "15.2"}, "15.2", false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			dir := t.TempDir()
			var stdout, stderr bytes.Buffer
			args := append(append([]string{"macemu", "layout"}, tt.args...), dir)
			if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
				t.Fatalf("run(%q) = %d, stderr %q; want 0", args, code, stderr.String())
			}
			st, err := hosttest.LoadState(dir)
			if err != nil {
				t.Fatal(err)
			}
			if st.Version != tt.wantVersion || (st.Profile != nil) != tt.wantManaged {
				t.Errorf("run(%q) laid out version %s managed %v, want %s %v", args, st.Version, st.Profile != nil, tt.wantVersion, tt.wantManaged)
			}
			for _, p := range hosttest.Programs() {
				fi, err := os.Stat(filepath.Join(dir, p))
				if err != nil || fi.Mode().Perm() != 0o755 {
					t.Errorf("stand-in %s: %v, mode %v; want mode 0755", p, err, fi.Mode())
				}
			}
		})
	}
}

func TestBadUsage(t *testing.T) {
	tests := [][]string{
		{"macemu"},
		{"macemu", "frobnicate"},
		{"macemu", "layout"},
		{"macemu", "layout", "-preset", "13", t.TempDir()},
		{"macemu", "layout", "-bogus", t.TempDir()},
		{"macemu", "layout", "a", "b"},
		{"macemu", "layout", "-version", "x.y", t.TempDir()},
		{"macemu", "layout", "/"},
		{"/tmp/not-a-fake-mac/defaults", "read", "x"},
		{"macemu", "layout-linux"},
		{"macemu", "layout-linux", "a", "b"},
		{"macemu", "layout-linux", "-preset", "debian12"},
		{"macemu", "layout-linux", "/"},
	}
	for _, args := range tests {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, &stdout, &stderr)
		lines := strings.Count(stderr.String(), "\n")
		if code != 2 || lines != 1 || stdout.Len() != 0 {
			t.Errorf("run(%q) = %d, stdout %q, stderr %q; want 2 and one line on stderr", args, code, stdout.String(), stderr.String())
		}
	}
}

// TestEmulateInProcess runs the stand-in path of run without exec: argv[0] is where Layout put
// the program.
func TestEmulateInProcess(t *testing.T) {
	dir := t.TempDir()
	if err := hosttest.Layout(dir, hosttest.Mac15(), ""); err != nil {
		t.Fatal(err)
	}
	sfw := filepath.Join(dir, "usr/libexec/ApplicationFirewall/socketfilterfw")
	steps := []struct {
		args       []string
		wantCode   int
		wantStdout string
	}{
		{[]string{"--setblockall", "on"}, 0, "Firewall is set to block all non-essential incoming connections\n"},
		{[]string{"--getglobalstate"}, 0, "Firewall is blocking all non-essential incoming connections. (State = 2)\n"},
		{[]string{"--setloggingopt", "bogus"}, 1, ""},
	}
	for _, s := range steps {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{sfw}, s.args...), &stdout, &stderr)
		if code != s.wantCode || stdout.String() != s.wantStdout {
			t.Errorf("socketfilterfw %s = %d %q (stderr %q), want %d %q", strings.Join(s.args, " "), code, stdout.String(), stderr.String(), s.wantCode, s.wantStdout)
		}
	}
	st, err := hosttest.LoadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.GlobalState != 2 || len(st.Calls) != len(steps) {
		t.Errorf("state after the runs: global state %d, %d calls; want 2 and %d", st.GlobalState, len(st.Calls), len(steps))
	}
}

// layout-linux writes the fake Debian the README's block and guard examples run against: Linux
// is detected from its os-release, and autoconfigure's inputs hold the routers and name server
// the README prints.
func TestLayoutLinuxCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fakelinux")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"macemu", "layout-linux", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("layout-linux = %d, stderr %q; want 0", code, stderr.String())
	}
	if want := "laid out a fake Debian GNU/Linux 12 at " + dir + " (try: firewarden --root " + dir + " block list)\n"; stdout.String() != want {
		t.Errorf("layout-linux printed %q, want %q", stdout.String(), want)
	}
	r, err := host.NewRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	info, err := host.Detect(r)
	if err != nil {
		t.Fatal(err)
	}
	if info.Kind != host.Linux || info.Version != "12" {
		t.Errorf("Detect(fake linux) = %s %s, want linux 12", info.Kind, info.Version)
	}
	for _, tt := range []struct {
		path  string
		parse func([]byte) []netip.Addr
		want  []netip.Addr
	}{
		{"/proc/net/route", block.ParseProcRoute, []netip.Addr{netip.MustParseAddr("192.168.1.1")}},
		{"/proc/net/ipv6_route", block.ParseIPv6Route, []netip.Addr{netip.MustParseAddr("fe80::1")}},
		{"/etc/resolv.conf", block.ParseResolvConf, []netip.Addr{netip.MustParseAddr("192.168.1.53")}},
	} {
		data, err := r.ReadFile(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, tt.parse(data), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Errorf("parse %s (-want +got):\n%s", tt.path, diff)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "var/log/auth.log")); err != nil || fi.Size() != 0 {
		t.Errorf("var/log/auth.log: %v, want an empty file", err)
	}
}

// TestEmulateExposurePrograms runs the lsof and ps stand-ins the way firewarden's exposure does,
// and sees a state change made by another stand-in run (Remote Login turned on puts launchd on
// port 22).
func TestEmulateExposurePrograms(t *testing.T) {
	dir := t.TempDir()
	if err := hosttest.Layout(dir, hosttest.Mac15(), ""); err != nil {
		t.Fatal(err)
	}
	standIn := func(sys string, args ...string) (int, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{filepath.Join(dir, sys)}, args...), &stdout, &stderr)
		return code, stdout.String()
	}
	listens22 := func() bool {
		t.Helper()
		code, out := standIn("/usr/sbin/lsof", exposure.LsofArgs...)
		rep, err := exposure.ParseLsof([]byte(out))
		if code != 0 || err != nil || len(rep.Listeners) == 0 {
			t.Fatalf("lsof stand-in = %d, %d listeners, %v; want 0, listeners, nil", code, len(rep.Listeners), err)
		}
		return slices.ContainsFunc(rep.Listeners, func(l exposure.Listener) bool { return l.Addr.Port() == 22 })
	}
	if listens22() {
		t.Error("lsof stand-in with Remote Login off lists port 22")
	}
	if code, _ := standIn("/usr/sbin/systemsetup", "-setremotelogin", "on"); code != 0 {
		t.Fatalf("systemsetup -setremotelogin on = %d, want 0", code)
	}
	if !listens22() {
		t.Error("lsof stand-in with Remote Login on does not list port 22")
	}
	if code, out := standIn("/bin/ps", "-ww", "-o", "pid=,comm=", "-p", "1", "-p", "2051"); code != 0 || out != "    1 /sbin/launchd\n 2051 /usr/local/bin/node\n" {
		t.Errorf("ps stand-in = %d %q, want 0 and launchd's and node's paths", code, out)
	}
	if code, _ := standIn("/usr/bin/codesign", "--verify", "-R=anchor apple", "/usr/local/bin/node"); code != 3 {
		t.Errorf("codesign stand-in on a Developer ID signed node = %d, want 3", code)
	}
}
