package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/host/hosttest"
)

// systemctlStandIn records its runs and keeps one service's state in ROOT/active: enable --now
// and restart start it, disable --now stops it, show reports it.
const systemctlStandIn = hosttest.RecordRun + `case "$1" in
enable) if [ "$2" = --now ]; then touch "$root/active"; fi ;;
restart) touch "$root/active" ;;
disable) rm -f "$root/active" ;;
show)
	if [ -e "$root/active" ]; then
		printf 'LoadState=loaded\nActiveState=active\nSubState=running\nMainPID=4242\nUnitFileState=enabled\n'
	else
		printf 'LoadState=loaded\nActiveState=inactive\nSubState=dead\nMainPID=0\nUnitFileState=disabled\n'
	fi ;;
esac
`

// launchctlStandIn does the same for launchctl: print exits 113 for a service not loaded, as
// the real one does.
const launchctlStandIn = hosttest.RecordRun + `case "$1" in
bootstrap) touch "$root/active" ;;
bootout) rm -f "$root/active" ;;
print)
	[ -e "$root/active" ] || { echo "Could not find service" >&2; exit 113; }
	printf '%s = {\n\tactive count = 1\n\tstate = running\n\tpid = 812\n}\n' "$2" ;;
esac
`

func linuxRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/os-release"), []byte("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n"), 0o644)
	hosttest.StandInScript(t, root, "/usr/bin/systemctl", systemctlStandIn)
	os.MkdirAll(filepath.Join(root, "run/systemd/system"), 0o755) // systemd runs (sd_booted)
	return root
}

func macRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "System/Library/CoreServices"), 0o755)
	os.WriteFile(filepath.Join(root, "System/Library/CoreServices/SystemVersion.plist"), []byte(`<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict><key>ProductName</key><string>macOS</string><key>ProductVersion</key><string>15.4</string></dict></plist>`), 0o644)
	hosttest.StandInScript(t, root, "/bin/launchctl", launchctlStandIn)
	return root
}

func wantRuns(t *testing.T, root string, want ...string) {
	t.Helper()
	var got []string
	for _, r := range hosttest.Runs(t, root) {
		got = append(got, strings.Join(r, " "))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("programs run (-want +got):\n%s", diff)
	}
	os.Remove(filepath.Join(root, "runs.log"))
}

func TestServiceLifecycleSystemd(t *testing.T) {
	root := linuxRoot(t)
	unit := filepath.Join(root, "etc/systemd/system/firewarden-guard.service")

	r := firewarden(t, root, "service", "status", "guard")
	if r.code != 1 || !strings.Contains(r.stdout, "state    not installed\n") {
		t.Errorf("status before install = exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = firewarden(t, root, "service", "install", "guard", "--start")
	want := "wrote /etc/systemd/system/firewarden-guard.service\n" +
		"ran /usr/bin/systemctl daemon-reload\n" +
		"ran /usr/bin/systemctl enable firewarden-guard.service\n" +
		"ran /usr/bin/systemctl restart firewarden-guard.service\n"
	if r.code != 0 || r.stdout != want || r.stderr != "" {
		t.Errorf("install --start = exit %d\n%s\nstderr %q; want exit 0 and\n%s", r.code, r.stdout, r.stderr, want)
	}
	wantRuns(t, root, "daemon-reload", "enable firewarden-guard.service", "restart firewarden-guard.service")
	if fi, err := os.Stat(unit); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("unit: %v %v, want mode 0644", err, fi)
	}
	data, _ := os.ReadFile(unit)
	// Under a fake root the unit runs the default binary, and no --config was given.
	golden(t, "service-install-guard.service.golden", string(data))

	// Idempotent: the same install changes nothing and reloads nothing.
	r = firewarden(t, root, "service", "install", "guard")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "unchanged /etc/systemd/system/firewarden-guard.service\n") {
		t.Errorf("second install = exit %d\n%s", r.code, r.stdout)
	}
	wantRuns(t, root)

	r = firewarden(t, root, "service", "status", "guard")
	want = "service  guard (systemd unit firewarden-guard.service)\n" +
		"file     /etc/systemd/system/firewarden-guard.service (current)\n" +
		"enabled  yes\n" +
		"state    active (running), pid 4242\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("status = exit %d\n%s\nwant exit 0 and\n%s", r.code, r.stdout, want)
	}

	// Status compares the file with what this firewarden writes with the options the file was
	// written with, so a hand edit shows as outdated.
	os.WriteFile(unit, append(data, "# edited\n"...), 0o644)
	r = firewarden(t, root, "service", "status", "guard")
	if r.code != 1 || !strings.Contains(r.stdout, "(outdated)") {
		t.Errorf("status of an edited unit = exit %d\n%s", r.code, r.stdout)
	}
	os.Remove(filepath.Join(root, "runs.log"))

	r = firewarden(t, root, "service", "uninstall", "guard")
	if r.code != 0 || !strings.Contains(r.stdout, "removed /etc/systemd/system/firewarden-guard.service\n") {
		t.Errorf("uninstall = exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	wantRuns(t, root, "disable --now firewarden-guard.service", "daemon-reload")
	if _, err := os.Stat(unit); err == nil {
		t.Error("the unit is still there")
	}
	r = firewarden(t, root, "service", "uninstall", "guard")
	if r.code != 0 || r.stdout != "guard is not installed: there is no /etc/systemd/system/firewarden-guard.service\n" {
		t.Errorf("second uninstall = exit %d\n%s", r.code, r.stdout)
	}
	wantRuns(t, root)
}

func TestServiceLifecycleLaunchd(t *testing.T) {
	root := macRoot(t)
	r := firewarden(t, root, "service", "install", "detect-live", "--start", "--binary", "/usr/local/bin/firewarden")
	if r.code != 0 {
		t.Fatalf("install = exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	wantRuns(t, root, "print system/org.firewarden.detect-live", "enable system/org.firewarden.detect-live",
		"bootstrap system /Library/LaunchDaemons/org.firewarden.detect-live.plist")
	r = firewarden(t, root, "service", "status", "detect-live")
	if r.code != 0 || !strings.Contains(r.stdout, "state    running, pid 812\n") {
		t.Errorf("status = exit %d\n%s", r.code, r.stdout)
	}
	os.Remove(filepath.Join(root, "runs.log"))
	r = firewarden(t, root, "service", "uninstall", "detect-live")
	if r.code != 0 {
		t.Errorf("uninstall = exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	wantRuns(t, root, "print system/org.firewarden.detect-live", "bootout system/org.firewarden.detect-live")
	if _, err := os.Stat(filepath.Join(root, "Library/LaunchDaemons/org.firewarden.detect-live.plist")); err == nil {
		t.Error("the plist is still there")
	}
}

// `service files` writes what packages ship; each file is pinned by a golden file.
func TestServiceFilesGolden(t *testing.T) {
	for _, init := range []string{"systemd", "launchd"} {
		dir := t.TempDir()
		r := firewardenIn(t, nil, "service", "files", "--init", init, "--dir", dir, "--binary", "/usr/bin/firewarden")
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("service files --init %s = exit %d\n%s", init, r.code, r.stderr)
		}
		entries, _ := os.ReadDir(dir)
		// systemd: guard, block-expire (.service, .timer), firewall, agent; launchd: guard,
		// detect-live, block-expire, agent.
		if want := map[string]int{"systemd": 5, "launchd": 4}[init]; len(entries) != want {
			t.Errorf("service files --init %s wrote %d files, want %d", init, len(entries), want)
		}
		for _, e := range entries {
			data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			golden(t, "service/"+e.Name(), string(data))
		}
	}
	// show prints the same bytes, each file after a "# FILENAME" line.
	r := firewardenIn(t, nil, "service", "show", "block-expire", "--init", "systemd", "--binary", "/usr/bin/firewarden")
	svc, _ := os.ReadFile("testdata/service/firewarden-block-expire.service")
	timer, _ := os.ReadFile("testdata/service/firewarden-block-expire.timer")
	want := "# firewarden-block-expire.service\n" + string(svc) + "# firewarden-block-expire.timer\n" + string(timer)
	if r.code != 0 || r.stdout != want {
		t.Errorf("service show block-expire = exit %d, stdout differs from the files:\n%s", r.code, cmp.Diff(want, r.stdout))
	}
}

func TestServiceBadInput(t *testing.T) {
	root := linuxRoot(t)
	for _, args := range [][]string{
		{"service"},
		{"service", "start", "guard"},
		{"service", "install"},
		{"service", "install", "agnet"},
		{"service", "install", "gaurd"},
		{"service", "install", "detect-live"},
		{"service", "show", "guard", "--init", "upstart"},
		{"service", "install", "block-expire", "--interval", "30s"},
		{"service", "install", "guard", "--binary", "firewarden"},
		{"service", "files", "--init", "systemd"},
	} {
		r := firewarden(t, root, args...)
		if r.code != 2 || strings.Count(r.stderr, "\n") != 1 || r.stdout != "" {
			t.Errorf("firewarden %q = exit %d, stdout %q, stderr %q; want exit 2 and one line", args, r.code, r.stdout, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "etc/systemd")); err == nil {
		t.Error("a refused command wrote under /etc/systemd")
	}
	if r := firewarden(t, root, "service", "install", "detect-live"); !strings.Contains(r.stderr, "detect-live runs only on macOS") {
		t.Errorf("install detect-live on Linux: %q", r.stderr)
	}
	if r := firewarden(t, root, "service", "status", "gaurd"); !strings.Contains(r.stderr, `did you mean "guard"?`) {
		t.Errorf("status gaurd: %q, want a suggestion of guard", r.stderr)
	}
}

// The firewall service installs, reports and shows like the others on systemd, and is refused on
// launchd: macOS keeps its firewall settings across a reboot itself.
func TestServiceFirewall(t *testing.T) {
	root := linuxRoot(t)
	r := firewarden(t, root, "service", "install", "firewall", "--start")
	want := "wrote /etc/systemd/system/firewarden-firewall.service\n" +
		"ran /usr/bin/systemctl daemon-reload\n" +
		"ran /usr/bin/systemctl enable firewarden-firewall.service\n" +
		"ran /usr/bin/systemctl restart firewarden-firewall.service\n"
	if r.code != 0 || r.stdout != want || r.stderr != "" {
		t.Errorf("install firewall --start = exit %d\n%s\nstderr %q; want exit 0 and\n%s", r.code, r.stdout, r.stderr, want)
	}
	wantRuns(t, root, "daemon-reload", "enable firewarden-firewall.service", "restart firewarden-firewall.service")
	r = firewarden(t, root, "service", "status", "firewall")
	if r.code != 0 || !strings.Contains(r.stdout, "service  firewall (systemd unit firewarden-firewall.service)\nfile     /etc/systemd/system/firewarden-firewall.service (current)\n") {
		t.Errorf("status firewall = exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = firewarden(t, root, "service", "show", "firewall", "--binary", "/usr/bin/firewarden")
	golden, _ := os.ReadFile("testdata/service/firewarden-firewall.service")
	if r.code != 0 || r.stdout != "# firewarden-firewall.service\n"+string(golden) {
		t.Errorf("show firewall = exit %d, stdout differs from service files' unit:\n%s", r.code, r.stdout)
	}

	mac := macRoot(t)
	for _, verb := range []string{"install", "status", "show"} {
		r := firewarden(t, mac, "service", verb, "firewall")
		if r.code != 2 || !strings.Contains(r.stderr, "firewall runs only on Linux (systemd)") {
			t.Errorf("service %s firewall on macOS = exit %d, stderr %q; want 2 and that it runs only on Linux", verb, r.code, r.stderr)
		}
	}
}

// On a Linux host where systemd does not run (a container, another init system), install
// refuses before writing anything: a unit nothing starts would read as installed. The line says
// what to have the init system run instead.
func TestServiceInstallWithoutSystemd(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"firewall"}, "firewarden: this host runs no systemd (no /run/systemd/system), so nothing would start firewarden-firewall.service: have the init system run `/usr/local/bin/firewarden fix --boot` at boot, before the network; `firewarden service files --dir DIR` writes the units for a host with systemd\n"},
		{[]string{"guard", "--start"}, "firewarden: this host runs no systemd (no /run/systemd/system), so nothing would start firewarden-guard.service: have the init system run `/usr/local/bin/firewarden guard` as a daemon; `firewarden service files --dir DIR` writes the units for a host with systemd\n"},
		{[]string{"block-expire", "--interval", "1h"}, "firewarden: this host runs no systemd (no /run/systemd/system), so nothing would start firewarden-block-expire.timer: have the init system run `/usr/local/bin/firewarden block expire` every 1h; `firewarden service files --dir DIR` writes the units for a host with systemd\n"},
	} {
		t.Run(tt.args[0], func(t *testing.T) {
			root := linuxRoot(t)
			os.RemoveAll(filepath.Join(root, "run"))
			r := firewarden(t, root, append([]string{"service", "install"}, tt.args...)...)
			if r.code != 2 || r.stdout != "" || r.stderr != tt.want {
				t.Errorf("service install %q without systemd = exit %d, stdout %q, stderr %q; want exit 2, nothing, %q", tt.args, r.code, r.stdout, r.stderr, tt.want)
			}
			if _, err := os.Stat(filepath.Join(root, "etc/systemd")); err == nil {
				t.Error("a refused install wrote under /etc/systemd")
			}
			wantRuns(t, root)
		})
	}
}
