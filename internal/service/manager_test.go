package service

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/host"
)

// fakeInit answers systemctl and launchctl from a table keyed by the argv without the program
// path, and records every run. An argv not in the table succeeds with no output.
type fakeInit struct {
	answers map[string]host.Result
	runs    []string
}

func (f *fakeInit) Run(_ context.Context, c host.Cmd) (host.Result, error) {
	key := strings.Join(c.Args, " ")
	f.runs = append(f.runs, filepath.Base(c.Path)+" "+key)
	res, ok := f.answers[key]
	if !ok {
		return host.Result{Argv: c.Argv()}, nil
	}
	res.Argv = c.Argv()
	if res.ExitCode != 0 {
		return res, &host.ExitError{Argv: c.Argv(), Code: res.ExitCode, Stderr: string(res.Stderr)}
	}
	return res, nil
}

func newManager(t *testing.T, init Init) (*Manager, *fakeInit, *bytes.Buffer) {
	t.Helper()
	root, err := host.NewRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeInit{answers: map[string]host.Result{}}
	var out bytes.Buffer
	return &Manager{Root: root, Runner: f, Init: init, Out: &out}, f, &out
}

func TestInstallSystemd(t *testing.T) {
	m, f, out := newManager(t, Systemd)
	ctx := context.Background()
	o := Options{Binary: "/usr/bin/firewarden", Interval: 10 * time.Minute}
	if err := m.Install(ctx, BlockExpire, o, false); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"firewarden-block-expire.service", "firewarden-block-expire.timer"} {
		fi, err := os.Stat(m.Root.Path("/etc/systemd/system/" + name))
		if err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: %v, mode %v; want 0644", name, err, fi)
		}
	}
	if diff := cmp.Diff([]string{"systemctl daemon-reload"}, f.runs); diff != "" {
		t.Errorf("first install ran (-want +got):\n%s", diff)
	}

	// Again, with --start: nothing changed, so no reload, and enable --now.
	out.Reset()
	f.runs = nil
	if err := m.Install(ctx, BlockExpire, o, true); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"systemctl enable --now firewarden-block-expire.timer"}, f.runs); diff != "" {
		t.Errorf("second install ran (-want +got):\n%s", diff)
	}
	if !strings.Contains(out.String(), "unchanged /etc/systemd/system/firewarden-block-expire.timer\n") {
		t.Errorf("second install printed %q, want the files unchanged", out)
	}

	// A new interval changes the timer: reload, enable, restart.
	f.runs = nil
	o.Interval = time.Hour
	if err := m.Install(ctx, BlockExpire, o, true); err != nil {
		t.Fatal(err)
	}
	want := []string{"systemctl daemon-reload", "systemctl enable firewarden-block-expire.timer", "systemctl restart firewarden-block-expire.timer"}
	if diff := cmp.Diff(want, f.runs); diff != "" {
		t.Errorf("changed install ran (-want +got):\n%s", diff)
	}
}

// A masked unit is a link to /dev/null: install refuses it and writes nothing.
func TestInstallRefusesLink(t *testing.T) {
	m, f, _ := newManager(t, Systemd)
	dir := m.Root.Path(SystemdDir)
	os.MkdirAll(dir, 0o755)
	os.Symlink("/dev/null", filepath.Join(dir, "firewarden-block-expire.timer"))
	err := m.Install(context.Background(), BlockExpire, Options{Binary: "/b"}, true)
	if err == nil || !strings.Contains(err.Error(), "systemctl unmask firewarden-block-expire.timer") {
		t.Errorf("Install over a masked timer = %v, want a refusal naming systemctl unmask", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "firewarden-block-expire.service")); err == nil {
		t.Error("the .service was written although the .timer was refused")
	}
	if len(f.runs) != 0 {
		t.Errorf("ran %q", f.runs)
	}
}

func TestInstallLaunchd(t *testing.T) {
	m, f, _ := newManager(t, Launchd)
	ctx := context.Background()
	f.answers["print system/org.firewarden.guard"] = host.Result{ExitCode: 113}
	if err := m.Install(ctx, Guard, Options{Binary: "/usr/local/bin/firewarden"}, true); err != nil {
		t.Fatal(err)
	}
	plistPath := "/Library/LaunchDaemons/org.firewarden.guard.plist"
	want := []string{"launchctl print system/org.firewarden.guard", "launchctl enable system/org.firewarden.guard", "launchctl bootstrap system " + plistPath}
	if diff := cmp.Diff(want, f.runs); diff != "" {
		t.Errorf("install --start ran (-want +got):\n%s", diff)
	}
	if fi, err := os.Stat(m.Root.Path(LaunchdLogDir)); err != nil || !fi.IsDir() {
		t.Errorf("log directory: %v", err)
	}
	// Loaded and changed: bootout first, since launchd keeps what it loaded.
	f.runs = nil
	delete(f.answers, "print system/org.firewarden.guard")
	if err := m.Install(ctx, Guard, Options{Binary: "/opt/firewarden"}, true); err != nil {
		t.Fatal(err)
	}
	want = []string{"launchctl print system/org.firewarden.guard", "launchctl bootout system/org.firewarden.guard", "launchctl enable system/org.firewarden.guard", "launchctl bootstrap system " + plistPath}
	if diff := cmp.Diff(want, f.runs); diff != "" {
		t.Errorf("changed install --start ran (-want +got):\n%s", diff)
	}
}

func TestUninstall(t *testing.T) {
	for _, init := range []Init{Systemd, Launchd} {
		t.Run(string(init), func(t *testing.T) {
			m, f, out := newManager(t, init)
			ctx := context.Background()
			if err := m.Uninstall(ctx, BlockExpire); err != nil {
				t.Fatalf("Uninstall of nothing = %v, want nil", err)
			}
			if !strings.Contains(out.String(), "block-expire is not installed") || len(f.runs) != 0 {
				t.Errorf("Uninstall of nothing printed %q, ran %q", out, f.runs)
			}
			if err := m.Install(ctx, BlockExpire, Options{Binary: "/b"}, false); err != nil {
				t.Fatal(err)
			}
			f.runs = nil
			if err := m.Uninstall(ctx, BlockExpire); err != nil {
				t.Fatal(err)
			}
			want := map[Init][]string{
				Systemd: {"systemctl disable --now firewarden-block-expire.timer", "systemctl stop firewarden-block-expire.service", "systemctl daemon-reload"},
				Launchd: {"launchctl print system/org.firewarden.block-expire", "launchctl bootout system/org.firewarden.block-expire"},
			}[init]
			if diff := cmp.Diff(want, f.runs); diff != "" {
				t.Errorf("Uninstall ran (-want +got):\n%s", diff)
			}
			files, _ := Files(BlockExpire, init, Options{Binary: "/b"})
			for _, fl := range files {
				if _, err := os.Lstat(m.Root.Path(fl.Path())); err == nil {
					t.Errorf("%s is still there", fl.Path())
				}
			}
		})
	}
}

// When the service cannot be stopped its files stay, so the init system still knows it.
func TestUninstallStopFails(t *testing.T) {
	m, f, _ := newManager(t, Systemd)
	ctx := context.Background()
	m.Install(ctx, Guard, Options{Binary: "/b"}, false)
	f.answers["disable --now firewarden-guard.service"] = host.Result{ExitCode: 1, Stderr: []byte("System has not been booted with systemd as init system (PID 1). Can't operate.")}
	err := m.Uninstall(ctx, Guard)
	if err == nil || !strings.Contains(err.Error(), "left in place") {
		t.Errorf("Uninstall = %v, want an error saying the files are left", err)
	}
	if _, err := os.Stat(m.Root.Path("/etc/systemd/system/firewarden-guard.service")); err != nil {
		t.Errorf("the unit was removed: %v", err)
	}
}

func TestStatus(t *testing.T) {
	ctx := context.Background()
	running := host.Result{Stdout: []byte("LoadState=loaded\nActiveState=active\nSubState=running\nMainPID=4242\nUnitFileState=enabled\n")}
	for _, tt := range []struct {
		name    string
		init    Init
		install *Options
		edit    func(m *Manager)
		answers map[string]host.Result
		want    Status
	}{
		{
			name: "not installed", init: Systemd,
			want: Status{Name: Guard, Init: Systemd, Unit: "firewarden-guard.service", State: "not installed",
				Files: []FileStatus{{"/etc/systemd/system/firewarden-guard.service", FileMissing}}},
		},
		{
			name: "running, installed with other options", init: Systemd,
			install: &Options{Binary: "/opt/fw", Config: "/etc/fw.yaml", StateDir: "/srv/fw"},
			answers: map[string]host.Result{"show -p LoadState,ActiveState,SubState,MainPID,UnitFileState firewarden-guard.service": running},
			want: Status{Name: Guard, Init: Systemd, Unit: "firewarden-guard.service", Installed: true, Current: true, Enabled: true, Running: true,
				State: "active (running)", PID: 4242, Files: []FileStatus{{"/etc/systemd/system/firewarden-guard.service", FileCurrent}}},
		},
		{
			name: "edited by hand", init: Systemd, install: &Options{Binary: "/b"},
			edit: func(m *Manager) {
				p := m.Root.Path("/etc/systemd/system/firewarden-guard.service")
				data, _ := os.ReadFile(p)
				os.WriteFile(p, bytes.Replace(data, []byte("ProtectHome=yes"), []byte("ProtectHome=no"), 1), 0o644)
			},
			answers: map[string]host.Result{"show -p LoadState,ActiveState,SubState,MainPID,UnitFileState firewarden-guard.service": running},
			want: Status{Name: Guard, Init: Systemd, Unit: "firewarden-guard.service", Installed: true, Enabled: true, Running: true,
				State: "active (running)", PID: 4242, Files: []FileStatus{{"/etc/systemd/system/firewarden-guard.service", FileOutdated}}},
		},
		{
			name: "packaged", init: Systemd,
			edit: func(m *Manager) {
				files, _ := Files(Guard, Systemd, Options{Binary: "/usr/bin/firewarden"})
				os.MkdirAll(m.Root.Path("/usr/lib/systemd/system"), 0o755)
				os.WriteFile(m.Root.Path("/usr/lib/systemd/system/firewarden-guard.service"), files[0].Data, 0o644)
			},
			answers: map[string]host.Result{"show -p LoadState,ActiveState,SubState,MainPID,UnitFileState firewarden-guard.service": {Stdout: []byte("ActiveState=inactive\nSubState=dead\nMainPID=0\nUnitFileState=disabled\n")}},
			want: Status{Name: Guard, Init: Systemd, Unit: "firewarden-guard.service", Installed: true, Current: true,
				State: "inactive (dead)", Files: []FileStatus{{"/usr/lib/systemd/system/firewarden-guard.service", FileCurrent}}},
		},
		{
			name: "timer without its service", init: Systemd, install: &Options{Binary: "/b"},
			edit: func(m *Manager) { os.Remove(m.Root.Path("/etc/systemd/system/firewarden-block-expire.timer")) },
			want: Status{Name: BlockExpire, Init: Systemd, Unit: "firewarden-block-expire.timer", State: "partly installed",
				Files: []FileStatus{{"/etc/systemd/system/firewarden-block-expire.service", FileCurrent}, {"/etc/systemd/system/firewarden-block-expire.timer", FileMissing}}},
		},
		{
			name: "launchd running", init: Launchd, install: &Options{Binary: "/usr/local/bin/firewarden"},
			answers: map[string]host.Result{"print system/org.firewarden.guard": {Stdout: []byte("system/org.firewarden.guard = {\n\tactive count = 1\n\tstate = running\n\tpid = 812\n\tendpoints = {\n\t\tpid = 1\n\t}\n}\n")}},
			want: Status{Name: Guard, Init: Launchd, Unit: "org.firewarden.guard", Installed: true, Current: true, Enabled: true, Running: true,
				State: "running", PID: 812, Files: []FileStatus{{"/Library/LaunchDaemons/org.firewarden.guard.plist", FileCurrent}}},
		},
		{
			name: "launchd not loaded", init: Launchd, install: &Options{Binary: "/usr/local/bin/firewarden"},
			answers: map[string]host.Result{"print system/org.firewarden.guard": {ExitCode: 113}},
			want: Status{Name: Guard, Init: Launchd, Unit: "org.firewarden.guard", Installed: true, Current: true, Enabled: true,
				State: "not loaded", Files: []FileStatus{{"/Library/LaunchDaemons/org.firewarden.guard.plist", FileCurrent}}},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, f, _ := newManager(t, tt.init)
			if tt.install != nil {
				if err := m.Install(ctx, tt.want.Name, *tt.install, false); err != nil {
					t.Fatal(err)
				}
			}
			if tt.edit != nil {
				tt.edit(m)
			}
			if tt.answers != nil {
				f.answers = tt.answers
			}
			got, err := m.Status(ctx, tt.want.Name)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Status (-want +got):\n%s", diff)
			}
		})
	}
}

// readOptions reads back every option Files writes, so that status compares like with like.
func TestReadOptionsRoundTrip(t *testing.T) {
	for _, o := range []Options{
		{Binary: "/usr/bin/firewarden"},
		{Binary: "/opt/fire warden/fw", Config: "/etc/a b.yaml", StateDir: "/srv/100%", Args: []string{"--backend", "nft"}, Interval: 2 * time.Hour},
		{Binary: "/b", WritableDir: "/srv/state"},
		{Binary: "/b", Interval: 5 * time.Minute},
	} {
		for _, init := range []Init{Systemd, Launchd} {
			for _, name := range NamesFor(init) {
				files, err := Files(name, init, o)
				if err != nil {
					t.Fatal(err)
				}
				var data [][]byte
				for _, f := range files {
					data = append(data, f.Data)
				}
				got, err := (&Manager{Init: init}).readOptions(name, data)
				if err != nil {
					t.Fatalf("readOptions(%s, %s, %+v) = %v", name, init, o, err)
				}
				again, _ := Files(name, init, got)
				for i := range files {
					if !bytes.Equal(files[i].Data, again[i].Data) {
						t.Errorf("readOptions(%s, %s) = %+v, which renders differently from %+v", name, init, got, o)
					}
				}
			}
		}
	}
}

func TestParseShow(t *testing.T) {
	got := parseShow([]byte("ActiveState=active\nSubState=running\nMainPID=12\nDescription=a=b\n\nnoise\n"))
	want := map[string]string{"ActiveState": "active", "SubState": "running", "MainPID": "12", "Description": "a=b"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseShow (-want +got):\n%s", diff)
	}
}

func TestParseLaunchctlPrint(t *testing.T) {
	// The layout of `launchctl print system/LABEL` on macOS 14: top-level keys one tab deep,
	// nested blocks deeper.
	got := parseLaunchctlPrint([]byte("system/org.firewarden.guard = {\n\tactive count = 1\n\tpath = /Library/LaunchDaemons/org.firewarden.guard.plist\n\tstate = running\n\n\tprogram = /usr/local/bin/firewarden\n\targuments = {\n\t\t/usr/local/bin/firewarden\n\t\tguard\n\t}\n\n\tpid = 812\n\tenvironment = {\n\t\tPATH => /usr/bin:/bin\n\t}\n}\n"))
	want := map[string]string{"active count": "1", "path": "/Library/LaunchDaemons/org.firewarden.guard.plist", "state": "running", "program": "/usr/local/bin/firewarden", "pid": "812"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseLaunchctlPrint (-want +got):\n%s", diff)
	}
}

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte("ActiveState=active\nSubState=running\nMainPID=12\n"))
	f.Add([]byte("system/x = {\n\tstate = running\n\tpid = 812\n\targuments = {\n\t\tguard\n\t}\n}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for k := range parseShow(data) {
			if k == "" || strings.ContainsAny(k, "=\n") {
				t.Errorf("parseShow key %q", k)
			}
		}
		for k, v := range parseLaunchctlPrint(data) {
			if k == "" || strings.HasPrefix(k, "\t") || strings.Contains(v, "\n") {
				t.Errorf("parseLaunchctlPrint %q = %q", k, v)
			}
		}
	})
}

func FuzzReadOptions(f *testing.F) {
	for _, o := range []Options{{Binary: "/usr/bin/firewarden"}, {Binary: "/b", Config: "/c", StateDir: "/s d", Interval: time.Hour}} {
		for _, init := range []Init{Systemd, Launchd} {
			files, _ := Files(BlockExpire, init, o)
			var timer []byte
			if len(files) > 1 {
				timer = files[1].Data
			}
			f.Add(string(init), files[0].Data, timer)
		}
	}
	f.Fuzz(func(t *testing.T, init string, unit, timer []byte) {
		m := &Manager{Init: Init(init)}
		if m.Init != Launchd {
			m.Init = Systemd
		}
		o, err := m.readOptions(BlockExpire, [][]byte{unit, timer})
		if err != nil || o.Validate() != nil {
			return
		}
		// What was read renders, and reads back the same.
		files, err := Files(BlockExpire, m.Init, o)
		if err != nil {
			return
		}
		var data [][]byte
		for _, f := range files {
			data = append(data, f.Data)
		}
		again, err := m.readOptions(BlockExpire, data)
		if err != nil {
			t.Fatalf("readOptions of rendered %+v = %v", o, err)
		}
		if diff := cmp.Diff(o, again); diff != "" && (o.Interval != 0 || again.Interval != DefaultInterval) {
			t.Errorf("round trip (-first +second):\n%s", diff)
		}
	})
}

// Enabled reads the unit and its .wants link under the root, as systemctl enable leaves them.
func TestEnabled(t *testing.T) {
	unit := "firewarden-firewall.service"
	for _, tt := range []struct {
		name               string
		files, links       map[string]string // path under the root: contents / link target
		installed, enabled bool
	}{
		{"nothing", nil, nil, false, false},
		{"installed", map[string]string{"etc/systemd/system/" + unit: "[Unit]\n"}, nil, true, false},
		{"enabled", map[string]string{"etc/systemd/system/" + unit: "[Unit]\n"},
			map[string]string{"etc/systemd/system/sysinit.target.wants/" + unit: "/etc/systemd/system/" + unit}, true, true},
		{"packaged and enabled", map[string]string{"usr/lib/systemd/system/" + unit: "[Unit]\n"},
			map[string]string{"etc/systemd/system/sysinit.target.wants/" + unit: "/usr/lib/systemd/system/" + unit}, true, true},
		{"wanted by another target", map[string]string{"etc/systemd/system/" + unit: "[Unit]\n"},
			map[string]string{"etc/systemd/system/multi-user.target.wants/" + unit: "/etc/systemd/system/" + unit}, true, false},
		{"masked", map[string]string{"usr/lib/systemd/system/" + unit: "[Unit]\n"},
			map[string]string{"etc/systemd/system/" + unit: "/dev/null", "etc/systemd/system/sysinit.target.wants/" + unit: "/usr/lib/systemd/system/" + unit}, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for p, data := range tt.files {
				os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
				os.WriteFile(filepath.Join(dir, p), []byte(data), 0o644)
			}
			for p, to := range tt.links {
				os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
				os.Symlink(to, filepath.Join(dir, p))
			}
			root, err := host.NewRoot(dir)
			if err != nil {
				t.Fatal(err)
			}
			installed, enabled := Enabled(root, Firewall)
			if installed != tt.installed || enabled != tt.enabled {
				t.Errorf("Enabled = %v, %v; want %v, %v", installed, enabled, tt.installed, tt.enabled)
			}
		})
	}
}

// InstalledOptions reads back what Install wrote, from /etc or where packages put units.
func TestInstalledOptions(t *testing.T) {
	dir := t.TempDir()
	root, err := host.NewRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := InstalledOptions(root, Firewall); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("InstalledOptions of nothing = %v, want fs.ErrNotExist", err)
	}
	want := Options{Binary: "/usr/bin/firewarden", StateDir: "/srv/fw dir"}
	for _, d := range []string{"usr/lib/systemd/system", "etc/systemd/system"} {
		files, _ := Files(Firewall, Systemd, want)
		os.MkdirAll(filepath.Join(dir, d), 0o755)
		os.WriteFile(filepath.Join(dir, d, files[0].Name), files[0].Data, 0o644)
		got, err := InstalledOptions(root, Firewall)
		if err != nil || got.Binary != want.Binary || got.StateDir != want.StateDir {
			t.Errorf("InstalledOptions from %s = %+v, %v; want %+v", d, got, err, want)
		}
		want.StateDir = "/var/lib/other"
	}
}
