package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/service"
	"github.com/firewarden/firewarden/internal/statedir"
)

// Help for `firewarden service`, kept beside the code so that the help table can take it over.
const (
	serviceSummary     = "run guard, detect --live, the ban sweep and the boot-time firewall as systemd or launchd services"
	serviceDescription = `Writes, removes and inspects the definitions that run firewarden's daemons: a hardened systemd unit in /etc/systemd/system on Linux, a LaunchDaemon plist in /Library/LaunchDaemons on macOS. NAME is guard (firewarden guard), detect-live (firewarden detect --live; macOS only), block-expire (firewarden block expire every --interval: a systemd timer, a launchd StartInterval), firewall (firewarden fix --boot once at boot, before the network: puts back the nftables table fix held; Linux only, and fix installs it itself) or agent (firewarden agent run). Services are started only when asked (install --start).`
)

// serviceVerbs are the verbs of `firewarden service`, in help order.
var serviceVerbs = []string{"install", "uninstall", "status", "show", "files"}

// runService is `firewarden service VERB`.
func runService(ctx context.Context, a *app, args []string) error {
	if len(args) == 0 || !slices.Contains(serviceVerbs, args[0]) {
		return usagef("service needs a verb: install, uninstall, status, show or files NAME (see `firewarden service --help`)")
	}
	verb := args[0]
	fs := a.flagSet("service " + verb)
	var start *bool
	var binary, interval, initName, dir *string
	switch verb {
	case "install":
		start = fs.Bool("start", false, "enable and start the service (restart it when its definition changed)")
	case "show", "files":
		initName = fs.String("init", "", "write for the init system `INIT`: systemd or launchd (default: the init system of the OS under --root)")
	}
	if verb == "files" {
		dir = fs.String("dir", "", "write the files into `DIR`")
	}
	if verb == "install" || verb == "show" || verb == "files" {
		binary = fs.String("binary", "", "the firewarden the service runs (`PATH`; default: this executable for install on /, else "+service.DefaultBinary+")")
		interval = fs.String("interval", "15m", "how often block-expire runs (`DURATION`, a minute or more)")
	}
	pos, err := a.parse(fs, args[1:])
	if err != nil {
		return err
	}
	if verb == "files" {
		if len(pos) > 0 {
			return usagef("service files takes no NAME: it writes every service (got %q)", pos[0])
		}
		if *dir == "" {
			return usagef("service files needs --dir DIR")
		}
	} else if len(pos) != 1 {
		return usagef("service %s needs one service NAME: %s", verb, strings.Join(service.Names(), ", "))
	}
	var opt service.Options
	if interval != nil {
		d, err := time.ParseDuration(*interval)
		if err != nil || d < time.Minute || d%time.Second != 0 {
			return usagef("--interval %q: give a whole number of seconds, a minute or more, e.g. 15m", *interval)
		}
		opt.Interval = d
	}
	if opt, err = a.serviceOptions(opt); err != nil {
		return err
	}

	var init service.Init
	if initName != nil && *initName != "" {
		if init, err = service.ParseInit(*initName); err != nil {
			return usagef("--init: %v", err)
		}
	} else {
		if err := a.env(); err != nil {
			return err
		}
		init = initFor(a.os.Kind)
	}
	if verb == "files" {
		return a.serviceFiles(init, *dir, *binary, opt)
	}
	name := pos[0]
	if !slices.Contains(service.Names(), name) {
		if s := suggest(name, service.Names()); s != "" {
			return usagef("unknown service %q; did you mean %q?", name, s)
		}
	}
	if err := service.Check(name, init); err != nil {
		return usagef("%v", err)
	}
	if verb == "show" {
		opt.Binary = orDefault(*binary, service.DefaultBinary)
		files, err := a.serviceRender(name, init, opt, false)
		if err != nil {
			return err
		}
		for _, f := range files {
			fmt.Fprintf(a.Out, "# %s\n%s", f.Name, f.Data)
		}
		return nil
	}

	m := &service.Manager{Root: a.root, Runner: a.rec, Init: init, Out: a.Out}
	switch verb {
	case "install":
		opt.Binary = orDefault(*binary, a.serviceBinary())
		if _, err := a.serviceRender(name, init, opt, a.root.IsSystem()); err != nil {
			return err
		}
		if err := a.requireServiceRoot("install " + name); err != nil {
			return err
		}
		if err := noSystemd(a.root, init, name, opt); err != nil {
			return err
		}
		return m.Install(ctx, name, opt, *start)
	case "uninstall":
		if err := a.requireServiceRoot("uninstall " + name); err != nil {
			return err
		}
		return m.Uninstall(ctx, name)
	}
	st, err := m.Status(ctx, name)
	if err != nil {
		return err
	}
	a.printServiceStatus(st)
	if !st.OK() {
		return exitCode(1)
	}
	return nil
}

// noSystemd refuses, before anything is written, to install a systemd unit on a host where
// systemd does not run (a container, another init system): nothing would start the unit, so it
// would only read as installed, and systemctl fails after the file is written. The error says
// what to have the init system run instead.
func noSystemd(root host.Root, init service.Init, name string, o service.Options) error {
	if init != service.Systemd || service.Booted(root) {
		return nil
	}
	argv, err := service.Argv(name, o)
	if err != nil {
		return usagef("%v", err)
	}
	when := "as a daemon"
	switch {
	case name == service.Firewall:
		when = "at boot, before the network"
	case service.Periodic(name):
		d := o.Interval
		if d == 0 {
			d = service.DefaultInterval
		}
		when = "every " + strings.TrimSuffix(strings.TrimSuffix(d.String(), "0s"), "0m")
	}
	return usagef("this host runs no systemd (no /run/systemd/system), so nothing would start %s: have the init system run `%s` %s; `firewarden service files --dir DIR` writes the units for a host with systemd",
		service.Unit(name), strings.Join(argv, " "), when)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// initFor is the init system of an OS: launchd on macOS, systemd elsewhere.
func initFor(k host.Kind) service.Init {
	if k == host.MacOS {
		return service.Launchd
	}
	return service.Systemd
}

// serviceOptions fills in what the global flags say: the service runs --config FILE and
// --state-dir DIR when they were given (made absolute: a service starts in /), and may write a
// state_dir the configuration file names. Without --config the service reads the default file
// when it exists; naming it would make it required.
func (a *app) serviceOptions(o service.Options) (service.Options, error) {
	abs := func(p string) (string, error) {
		if p == "" {
			return "", nil
		}
		return filepath.Abs(p)
	}
	var err error
	if o.Config, err = abs(a.g.config); err != nil {
		return o, err
	}
	if o.StateDir, err = abs(a.g.stateDir); err != nil {
		return o, err
	}
	if o.StateDir == "" {
		o.WritableDir = a.config().StateDir
	}
	return o, nil
}

// serviceBinary is the firewarden that an installed service runs by default: this executable on
// the real system, and DefaultBinary under a fake --root, whose host does not have this one.
func (a *app) serviceBinary() string {
	if !a.root.IsSystem() {
		return service.DefaultBinary
	}
	if p, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return real
		}
		return p
	}
	return service.DefaultBinary
}

// serviceRender renders the files of name, refusing options the definition cannot carry. A
// path the systemd sandbox hides from the service (a binary under /home, a state directory
// under /tmp) is refused when strict (installing on the real system, where the service would
// fail to start) and noted on stderr otherwise: under a fake --root or for show, the paths may
// be another host's.
func (a *app) serviceRender(name string, init service.Init, o service.Options, strict bool) ([]service.File, error) {
	files, err := service.Files(name, init, o)
	if err != nil {
		return nil, usagef("%v", err)
	}
	if init == service.Systemd {
		if err := o.HiddenPaths(); err != nil {
			if strict {
				return nil, usagef("%v; copy firewarden to /usr/local/bin and run it from there, with --config and --state-dir outside those directories", err)
			}
			fmt.Fprintf(a.Err, "note: %v\n", err)
		}
	}
	return files, nil
}

// requireServiceRoot refuses to change the real system's services without root.
func (a *app) requireServiceRoot(what string) error {
	if a.root.IsSystem() && a.euid() != 0 {
		return usagef("service %s changes the system's services: run it as root (sudo firewarden service %s)", what, what)
	}
	return nil
}

// serviceFiles writes every file of every service init runs into dir: what packages ship.
func (a *app) serviceFiles(init service.Init, dir, binary string, o service.Options) error {
	o.Binary = orDefault(binary, service.DefaultBinary)
	var all []service.File
	for _, name := range service.NamesFor(init) {
		files, err := a.serviceRender(name, init, o, false)
		if err != nil {
			return err
		}
		all = append(all, files...)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("service files: %w", err)
	}
	for _, f := range all {
		p := filepath.Join(dir, f.Name)
		if err := statedir.WriteFileAtomic(p, f.Data, 0o644); err != nil {
			return fmt.Errorf("service files: %w", err)
		}
		fmt.Fprintf(a.Out, "wrote %s\n", p)
	}
	return nil
}

func (a *app) printServiceStatus(st service.Status) {
	if a.g.json {
		writeJSON(a.Out, st)
		return
	}
	kind := "systemd unit"
	if st.Init == service.Launchd {
		kind = "launchd label"
	}
	fmt.Fprintf(a.Out, "service  %s (%s %s)\n", st.Name, kind, st.Unit)
	for _, f := range st.Files {
		fmt.Fprintf(a.Out, "file     %s (%s)\n", f.Path, f.State)
	}
	if st.Installed {
		fmt.Fprintf(a.Out, "enabled  %s\n", yesNo(st.Enabled))
	}
	state := st.State
	if st.PID > 0 {
		state += fmt.Sprintf(", pid %d", st.PID)
	}
	fmt.Fprintf(a.Out, "state    %s\n", state)
	switch {
	case !st.Installed:
		fmt.Fprintf(a.Out, "install it: sudo firewarden service install %s --start\n", st.Name)
	case !st.Current:
		fmt.Fprintf(a.Out, "the definition differs from what this firewarden writes; update it: sudo firewarden service install %s --start\n", st.Name)
	case !st.Running:
		fmt.Fprintf(a.Out, "start it: sudo firewarden service install %s --start\n", st.Name)
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
