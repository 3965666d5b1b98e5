package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"howett.net/plist"

	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/statedir"
)

// Programs the Manager runs, as system paths under its root.
const (
	Systemctl = "/usr/bin/systemctl"
	Launchctl = "/bin/launchctl"
)

// packagedDirs are where packages put systemd units; status looks there when
// /etc/systemd/system has none, and uninstall leaves them to the package manager.
var packagedDirs = []string{"/usr/lib/systemd/system", "/lib/systemd/system"}

// Manager installs, removes and inspects services on the host under Root with its init system.
// It reports each step ("wrote …", "ran …") on Out.
type Manager struct {
	Root   host.Root
	Runner host.Runner
	Init   Init
	Out    io.Writer
}

func (m *Manager) logf(format string, args ...any) { fmt.Fprintf(m.Out, format+"\n", args...) }

func (m *Manager) run(ctx context.Context, prog string, args ...string) (host.Result, error) {
	c := host.Cmd{Path: prog, Args: args}
	res, err := m.Runner.Run(ctx, c)
	if err != nil {
		return res, err
	}
	m.logf("ran %s", c)
	return res, nil
}

// checkTargets refuses, before anything is written, a file path that holds something other than
// a regular file: a unit masked with `systemctl mask` is a link to /dev/null, and a definition is
// never written through a link.
func (m *Manager) checkTargets(files []File) error {
	for _, f := range files {
		fi, err := os.Lstat(m.Root.Path(f.Path()))
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return err
		case fi.Mode()&fs.ModeSymlink != 0 && m.Init == Systemd:
			return fmt.Errorf("%s is a symbolic link (a masked unit links to /dev/null): run systemctl unmask %s, or remove the link, and install again", f.Path(), f.Name)
		case !fi.Mode().IsRegular():
			return fmt.Errorf("%s is not a regular file; remove it and install again", f.Path())
		}
	}
	return nil
}

// readRegular reads the file at the system path sys without following a link in its last
// element; a missing file is an error wrapping fs.ErrNotExist.
func (m *Manager) readRegular(sys string) ([]byte, error) {
	f, err := statedir.OpenFile(m.Root.Path(sys), os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// Write puts files on the host (mode 0644, atomically, never through a link; nothing is written
// when one of them cannot be) and reports whether any changed. A file already as it would be
// written is left alone and reported as unchanged.
func (m *Manager) Write(files []File) (changed bool, err error) {
	if err := m.checkTargets(files); err != nil {
		return false, err
	}
	for _, f := range files {
		p := m.Root.Path(f.Path())
		old, err := m.readRegular(f.Path())
		if err == nil && bytes.Equal(old, f.Data) {
			m.logf("unchanged %s", f.Path())
			continue
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return changed, err
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return changed, err
		}
		if err := statedir.WriteFileAtomic(p, f.Data, 0o644); err != nil {
			return changed, err
		}
		changed = true
		m.logf("wrote %s", f.Path())
	}
	if m.Init == Launchd {
		// launchd opens StandardOutPath itself and does not create its directory.
		if err := os.MkdirAll(m.Root.Path(LaunchdLogDir), 0o755); err != nil {
			return changed, err
		}
	}
	return changed, nil
}

// Install writes the service's files (mode 0644, atomically, never through a link), reloads
// systemd when one changed, and, when start is set, enables and starts the service (restarting
// it when its definition changed). Files already as they would be written are left alone and
// reported as unchanged.
func (m *Manager) Install(ctx context.Context, name string, o Options, start bool) error {
	files, err := Files(name, m.Init, o)
	if err != nil {
		return err
	}
	changed, err := m.Write(files)
	if err != nil {
		return err
	}
	if m.Init == Launchd {
		if !start {
			m.logf("start it now and at every boot: launchctl bootstrap system %s (or install again with --start)", files[0].Path())
			return nil
		}
		return m.launchdStart(ctx, name, files[0].Path(), changed)
	}
	if changed {
		if _, err := m.run(ctx, Systemctl, "daemon-reload"); err != nil {
			return fmt.Errorf("the files are written, but systemd did not reload them: %w", err)
		}
	}
	unit := Unit(name)
	if !start {
		m.logf("start it now and at every boot: systemctl enable --now %s (or install again with --start)", unit)
		return nil
	}
	if !changed {
		_, err := m.run(ctx, Systemctl, "enable", "--now", unit)
		return err
	}
	if _, err := m.run(ctx, Systemctl, "enable", unit); err != nil {
		return err
	}
	// restart, not start: a service already running the old definition takes the new one.
	_, err = m.run(ctx, Systemctl, "restart", unit)
	return err
}

func (m *Manager) launchdStart(ctx context.Context, name, plistPath string, changed bool) error {
	target := "system/" + Label(name)
	loaded, err := m.launchdLoaded(ctx, target)
	if err != nil {
		return err
	}
	if loaded && !changed {
		m.logf("%s is already loaded", target)
		return nil
	}
	if loaded {
		// launchd keeps the definition it loaded; a changed file needs a bootout first.
		if _, err := m.run(ctx, Launchctl, "bootout", target); err != nil {
			return err
		}
	}
	// A service disabled with `launchctl disable` refuses to bootstrap; starting it is the
	// administrator's explicit wish.
	if _, err := m.run(ctx, Launchctl, "enable", target); err != nil {
		return err
	}
	_, err = m.run(ctx, Launchctl, "bootstrap", "system", plistPath)
	return err
}

// launchdLoaded runs `launchctl print TARGET`: loaded when it exits 0. launchctl exits 113
// ("Could not find service") for a service it does not know.
func (m *Manager) launchdLoaded(ctx context.Context, target string) (bool, error) {
	_, err := m.Runner.Run(ctx, host.Cmd{Path: Launchctl, Args: []string{"print", target}})
	var ee *host.ExitError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &ee):
		return false, nil
	}
	return false, err
}

// Uninstall stops and disables the service and removes its files. Nothing installed is not an
// error: the service is as asked, absent, and Uninstall says so. When the service cannot be
// stopped the files stay, so that the init system still knows what it is running.
func (m *Manager) Uninstall(ctx context.Context, name string) error {
	if err := Check(name, m.Init); err != nil {
		return err
	}
	files, err := Files(name, m.Init, Options{Binary: DefaultBinary})
	if err != nil {
		return err
	}
	var present []File
	for _, f := range files {
		if _, err := os.Lstat(m.Root.Path(f.Path())); err == nil {
			present = append(present, f)
		}
	}
	if len(present) == 0 {
		m.logf("%s is not installed: there is no %s", name, files[0].Path())
		if m.Init == Systemd {
			m.notePackaged(name)
		}
		return nil
	}
	if m.Init == Launchd {
		target := "system/" + Label(name)
		loaded, err := m.launchdLoaded(ctx, target)
		if err != nil {
			return err
		}
		if loaded {
			if _, err := m.run(ctx, Launchctl, "bootout", target); err != nil {
				return fmt.Errorf("%w; %s is left in place", err, files[0].Path())
			}
		}
	} else {
		units := Units(name)
		if _, err := m.run(ctx, Systemctl, "disable", "--now", units[0]); err != nil {
			return fmt.Errorf("%w; the unit files are left in place", err)
		}
		if len(units) > 1 {
			// The timer is gone; a sweep it started may still be running.
			if _, err := m.run(ctx, Systemctl, "stop", units[1]); err != nil {
				return fmt.Errorf("%w; the unit files are left in place", err)
			}
		}
	}
	for _, f := range present {
		if err := os.Remove(m.Root.Path(f.Path())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		m.logf("removed %s", f.Path())
	}
	if m.Init == Systemd {
		if _, err := m.run(ctx, Systemctl, "daemon-reload"); err != nil {
			return err
		}
		m.notePackaged(name)
	} else {
		m.logf("its log %s is kept", LogPath(name))
	}
	return nil
}

// notePackaged says when a package's unit of the same name remains.
func (m *Manager) notePackaged(name string) {
	for _, dir := range packagedDirs {
		p := path.Join(dir, UnitPrefix+name+".service")
		if _, err := os.Stat(m.Root.Path(p)); err == nil {
			m.logf("note: the package's %s remains; remove the package or run systemctl disable --now %s", p, Unit(name))
			return
		}
	}
}

// FileState says how an installed file compares with what this firewarden would write.
type FileState string

// File states.
const (
	FileCurrent  FileState = "current"  // as this firewarden writes it with the same options
	FileOutdated FileState = "outdated" // written by another version, or edited
	FileMissing  FileState = "missing"
)

// FileStatus is one file of an installed service.
type FileStatus struct {
	Path  string    `json:"path"`
	State FileState `json:"state"`
}

// Status is what `service status` reports.
type Status struct {
	Name      string       `json:"name"`
	Init      Init         `json:"init"`
	Unit      string       `json:"unit"` // systemd unit or launchd label
	Files     []FileStatus `json:"files"`
	Installed bool         `json:"installed"` // every file is there
	Current   bool         `json:"current"`   // and each is as this firewarden writes it
	Enabled   bool         `json:"enabled"`   // starts at boot
	Running   bool         `json:"running"`   // a daemon runs; a periodic service is scheduled
	State     string       `json:"state"`     // the init system's words: "active (running)", "running", "not loaded"
	PID       int          `json:"pid,omitempty"`
}

// OK is a service installed, current and running.
func (s Status) OK() bool { return s.Installed && s.Current && s.Running }

// Status inspects the service: its files (in /etc/systemd/system, else where packages put them)
// and what the init system says about it.
func (m *Manager) Status(ctx context.Context, name string) (Status, error) {
	if err := Check(name, m.Init); err != nil {
		return Status{}, err
	}
	st := Status{Name: name, Init: m.Init, Unit: Unit(name)}
	if m.Init == Launchd {
		st.Unit = Label(name)
	}
	st.Files, st.Installed, st.Current = m.fileStatus(name)
	if !st.Installed {
		st.State = "not installed"
		for _, f := range st.Files {
			if f.State != FileMissing {
				st.State = "partly installed"
			}
		}
		return st, nil
	}
	if m.Init == Launchd {
		return st, m.launchdStatus(ctx, &st)
	}
	res, err := m.Runner.Run(ctx, host.Cmd{Path: Systemctl, Args: []string{"show", "-p", "LoadState,ActiveState,SubState,MainPID,UnitFileState", st.Unit}})
	if err != nil {
		return st, err
	}
	p := parseShow(res.Stdout)
	st.Enabled = p["UnitFileState"] == "enabled"
	st.Running = p["ActiveState"] == "active"
	st.State = p["ActiveState"]
	if sub := p["SubState"]; sub != "" {
		st.State += " (" + sub + ")"
	}
	if pid, err := strconv.Atoi(p["MainPID"]); err == nil && pid > 0 {
		st.PID = pid
	}
	return st, nil
}

func (m *Manager) launchdStatus(ctx context.Context, st *Status) error {
	// A LaunchDaemon in /Library/LaunchDaemons loads at boot unless `launchctl disable` said
	// otherwise; the override is not read here.
	st.Enabled = true
	res, err := m.Runner.Run(ctx, host.Cmd{Path: Launchctl, Args: []string{"print", "system/" + st.Unit}})
	var ee *host.ExitError
	switch {
	case errors.As(err, &ee):
		st.State = "not loaded"
		return nil
	case err != nil:
		return err
	}
	p := parseLaunchctlPrint(res.Stdout)
	st.State = p["state"]
	if pid, err := strconv.Atoi(p["pid"]); err == nil && pid > 0 {
		st.PID = pid
	}
	// A periodic job is "not running" between runs; loaded is what counts for it.
	st.Running = Periodic(st.Name) || st.State == "running"
	return nil
}

// fileStatus finds the service's files and compares each with what this firewarden would write
// with the options read back from the installed files.
func (m *Manager) fileStatus(name string) (files []FileStatus, installed, current bool) {
	dirs := []string{SystemdDir}
	if m.Init == Launchd {
		dirs = []string{LaunchdDir}
	} else {
		dirs = append(dirs, packagedDirs...)
	}
	want, _ := Files(name, m.Init, Options{Binary: DefaultBinary})
	for _, dir := range dirs {
		got := make([][]byte, len(want))
		found := 0
		for i, f := range want {
			if data, err := m.readRegular(path.Join(dir, f.Name)); err == nil {
				got[i] = data
				found++
			}
		}
		if found == 0 {
			continue
		}
		installed, current = found == len(want), true
		var fresh []File
		o, err := m.readOptions(name, got)
		if err == nil {
			fresh, err = Files(name, m.Init, o)
		}
		for i, f := range want {
			st := FileStatus{Path: path.Join(dir, f.Name), State: FileMissing}
			if got[i] != nil {
				st.State = FileOutdated
				if err == nil && bytes.Equal(got[i], fresh[i].Data) {
					st.State = FileCurrent
				}
			}
			current = current && st.State == FileCurrent
			files = append(files, st)
		}
		return files, installed, current
	}
	for _, f := range want {
		files = append(files, FileStatus{Path: f.Path(), State: FileMissing})
	}
	return files, false, false
}

// readOptions reads the options an installed definition was written with: its command line,
// its writable directory and its interval.
func (m *Manager) readOptions(name string, data [][]byte) (Options, error) {
	d, err := lookup(name)
	if err != nil {
		return Options{}, err
	}
	var o Options
	if m.Init == Launchd {
		var job launchdJob
		if len(data) == 0 || data[0] == nil {
			return Options{}, errors.New("no plist")
		}
		if _, err := plist.Unmarshal(data[0], &job); err != nil {
			return Options{}, err
		}
		if d.periodic {
			o.Interval = time.Duration(job.StartInterval) * time.Second
		}
		return o, d.readArgv(job.ProgramArguments, &o)
	}
	if data[0] == nil {
		return Options{}, errors.New("no .service file")
	}
	var argv []string
	for line := range strings.Lines(string(data[0])) {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			if argv, err = splitExecStart(v); err != nil {
				return Options{}, err
			}
		}
		if v, ok := strings.CutPrefix(line, "ReadWritePaths="); ok {
			if strings.HasPrefix(v, "-") {
				continue // the unit's own system directories (def.writable), not an option
			}
			words, err := splitExecStart(v)
			if err != nil || len(words) != 1 {
				return Options{}, fmt.Errorf("ReadWritePaths=%s: want one directory", v)
			}
			o.WritableDir = words[0]
		}
	}
	if err := d.readArgv(argv, &o); err != nil {
		return Options{}, err
	}
	if o.StateDir != "" {
		o.WritableDir = ""
	}
	if d.periodic && len(data) > 1 && data[1] != nil {
		for line := range strings.Lines(string(data[1])) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "OnUnitActiveSec="); ok {
				secs, err := strconv.Atoi(strings.TrimSuffix(v, "s"))
				if err != nil {
					return Options{}, fmt.Errorf("OnUnitActiveSec=%s: want seconds", v)
				}
				o.Interval = time.Duration(secs) * time.Second
			}
		}
	}
	return o, nil
}

// readArgv reads back what argv wrote: the binary, --config and --state-dir, the service's own
// arguments and what follows them.
func (d def) readArgv(argv []string, o *Options) error {
	if len(argv) == 0 {
		return errors.New("no command line")
	}
	o.Binary, argv = argv[0], argv[1:]
flags:
	for len(argv) >= 2 {
		switch argv[0] {
		case "--config":
			o.Config = argv[1]
		case "--state-dir":
			o.StateDir = argv[1]
		default:
			break flags
		}
		argv = argv[2:]
	}
	if len(argv) < len(d.args) || strings.Join(argv[:len(d.args)], "\x00") != strings.Join(d.args, "\x00") {
		return fmt.Errorf("the command line does not run %s", strings.Join(d.args, " "))
	}
	if rest := argv[len(d.args):]; len(rest) > 0 {
		o.Args = rest
	}
	return nil
}

// parseShow reads `systemctl show -p …` output: one KEY=VALUE per line.
func parseShow(out []byte) map[string]string {
	p := map[string]string{}
	for line := range strings.Lines(string(out)) {
		if k, v, ok := strings.Cut(strings.TrimRight(line, "\r\n"), "="); ok && k != "" {
			p[k] = v
		}
	}
	return p
}

// parseLaunchctlPrint reads the top-level "key = value" lines of `launchctl print
// system/LABEL` (one tab deep; nested blocks are deeper): state, pid, path, ….
func parseLaunchctlPrint(out []byte) map[string]string {
	p := map[string]string{}
	for line := range strings.Lines(string(out)) {
		line = strings.TrimRight(line, "\r\n")
		rest, ok := strings.CutPrefix(line, "\t")
		if !ok || strings.HasPrefix(rest, "\t") {
			continue
		}
		if k, v, ok := strings.Cut(rest, " = "); ok && k != "" && !strings.HasSuffix(v, "{") {
			p[k] = v
		}
	}
	return p
}

// Booted reports whether the host under root runs systemd: /run/systemd/system exists, the test
// sd_booted(3) makes.
func Booted(root host.Root) bool {
	fi, err := os.Stat(root.Path("/run/systemd/system"))
	return err == nil && fi.IsDir()
}

// Enabled reports, from the files under root alone (no systemctl, no root needed), whether the
// systemd unit of the service called name is installed (in /etc/systemd/system or where packages
// put units) and enabled: linked into the .wants directory of the target its [Install] section
// names, where `systemctl enable` (or a package's preset) links it.
func Enabled(root host.Root, name string) (installed, enabled bool) {
	files, err := Files(name, Systemd, Options{Binary: DefaultBinary})
	if err != nil {
		return false, false
	}
	unit := files[0].Name
	target := "multi-user.target"
	if d, _ := lookup(name); d.boot {
		target = "sysinit.target"
	}
	if to, err := os.Readlink(root.Path(path.Join(SystemdDir, unit))); err == nil && to == "/dev/null" {
		return true, false // masked: `systemctl mask` wins over any enablement
	}
	for _, dir := range append([]string{SystemdDir}, packagedDirs...) {
		if fi, err := os.Lstat(root.Path(path.Join(dir, unit))); err == nil && fi.Mode().IsRegular() {
			installed = true
		}
		if _, err := os.Lstat(root.Path(path.Join(dir, target+".wants", unit))); err == nil {
			enabled = true
		}
	}
	return installed, enabled
}

// InstalledOptions reads the options the installed systemd unit of the service called name runs
// with (its binary, --config, --state-dir and writable directory), from /etc/systemd/system, else
// where packages put units; an error wrapping fs.ErrNotExist when there is none.
func InstalledOptions(root host.Root, name string) (Options, error) {
	if _, err := lookup(name); err != nil {
		return Options{}, err
	}
	m := &Manager{Root: root, Init: Systemd}
	for _, dir := range append([]string{SystemdDir}, packagedDirs...) {
		data, err := m.readRegular(path.Join(dir, UnitPrefix+name+".service"))
		if err != nil {
			continue
		}
		return m.readOptions(name, [][]byte{data})
	}
	return Options{}, fmt.Errorf("no %s%s.service: %w", UnitPrefix, name, fs.ErrNotExist)
}
