// Package service writes the launchd and systemd definitions that run firewarden's daemons
// (guard, detect --live, the periodic block expire; agent later) and installs, removes and
// inspects them through the host's init system.
//
// The definitions are pure functions of Options: the same options give the same bytes, which is
// what makes a re-install idempotent ("unchanged") and lets status tell a current file from an
// outdated one. Files renders them; Manager (manager.go) puts them on a host under its root.
package service

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
)

// Init is an init system firewarden writes definitions for.
type Init string

// The init systems.
const (
	Systemd Init = "systemd"
	Launchd Init = "launchd"
)

// ParseInit reads "systemd" or "launchd".
func ParseInit(s string) (Init, error) {
	switch Init(s) {
	case Systemd, Launchd:
		return Init(s), nil
	}
	return "", fmt.Errorf("init system %q: use systemd or launchd", s)
}

// Where definitions are installed on a host (system paths). Packages ship systemd units in
// /usr/lib/systemd/system instead; an administrator's copy in /etc/systemd/system overrides
// those, which is why `service install` writes there.
const (
	SystemdDir = "/etc/systemd/system"
	LaunchdDir = "/Library/LaunchDaemons"
	// LaunchdLogDir holds each launchd daemon's standard output and error (NAME.log). It sits
	// under /Library like the macOS state directory, and Console.app lists it under "Log
	// Reports"; launchd does not create it, so Install does.
	LaunchdLogDir = "/Library/Logs/firewarden"
)

// DefaultBinary is the firewarden path written into definitions when none is given and the
// running binary is not the one to use (show, files, a fake --root).
const DefaultBinary = "/usr/local/bin/firewarden"

// DefaultInterval is how often block-expire runs when Options.Interval is zero.
const DefaultInterval = 15 * time.Minute

// Service names.
const (
	Guard       = "guard"
	DetectLive  = "detect-live"
	BlockExpire = "block-expire"
	Agent       = "agent"
	// Firewall puts firewarden's held nftables table back at boot (`firewarden fix --boot`).
	Firewall = "firewall"
)

// ErrUnknown is wrapped by the error for a service name that does not exist.
var ErrUnknown = errors.New("unknown service")

// def is one service: what it runs and how much of the system its systemd unit may touch.
type def struct {
	name        string
	description string
	// args follow the global flags on the command line: the command and its verb.
	args []string
	// periodic services run once every Options.Interval (systemd timer, launchd
	// StartInterval); the others are daemons kept alive.
	periodic bool
	// launchdOnly services are refused on systemd (detect --live reads eslogger).
	launchdOnly bool
	// systemdOnly services are refused on launchd (the firewall table is nftables').
	systemdOnly bool
	// boot services run once early at boot, before the network, and stay active (a oneshot
	// with RemainAfterExit); the others are daemons or periodic.
	boot bool
	// caps is the systemd capability bounding set; each has a reason in capReasons.
	caps []string
	// families is RestrictAddressFamilies.
	families []string
	// after orders the unit after these (ordering only, nothing is pulled in).
	after []string
	// network services talk to a server over IP: their unit waits for network-online.target
	// and allows IP sockets and traffic.
	network bool
	// seesProcesses services read other processes in /proc (which process owns a listening
	// socket): their unit leaves /proc whole instead of hiding every process but their own.
	seesProcesses bool
	// writable are system directories the unit may write besides its state directory ("-":
	// absent is no error), each with its reason in writableReasons.
	writable []string
}

// writableReasons is the comment written beside each writable directory in a unit.
var writableReasons = map[string]string{
	"/etc/ssh/sshd_config.d": "the SSH checks' fix writes its drop-in there (enforce mode)",
	"/etc/systemd/system":    "the firewall checks' fix installs firewarden-firewall.service there (enforce mode)",
}

// capReasons is the comment written beside each capability in a unit.
var capReasons = map[string]string{
	"CAP_NET_ADMIN": "CAP_NET_ADMIN: read and change nftables over netlink (the kernel answers no " +
		"nftables request without it, not even a read)",
	"CAP_SYS_PTRACE": "CAP_SYS_PTRACE: see which process owns a listening socket " +
		"(/proc/PID/fd of processes of other users), for the exposure checks",
	"CAP_DAC_READ_SEARCH": "CAP_DAC_READ_SEARCH: read auth logs root does not own " +
		"(Debian's /var/log/auth.log is syslog:adm 0640)",
}

// nftAfter: nftables.service loads /etc/nftables.conf, which usually starts with "flush
// ruleset"; starting after it keeps that flush from wiping firewarden's table. firewalld
// replaces the ruleset the same way. Both are ordering only: neither is pulled in.
var nftAfter = []string{"nftables.service", "firewalld.service"}

// defs are the services, in the order help and `service files` list them.
var defs = []def{
	{
		name:        Guard,
		description: "firewarden guard: ban brute-force sources found in the auth logs",
		args:        []string{"guard"},
		caps:        []string{"CAP_NET_ADMIN", "CAP_DAC_READ_SEARCH"},
		families:    []string{"AF_UNIX", "AF_NETLINK"},
		after:       nftAfter,
	},
	{
		name:        DetectLive,
		description: "firewarden detect --live: alert on firewall tampering as it happens",
		args:        []string{"detect", "--live"},
		launchdOnly: true,
	},
	{
		name:        BlockExpire,
		description: "firewarden block expire: remove expired bans and sync the firewall",
		args:        []string{"block", "expire"},
		periodic:    true,
		caps:        []string{"CAP_NET_ADMIN"},
		families:    []string{"AF_UNIX", "AF_NETLINK"},
		after:       nftAfter,
	},
	{
		name:        Firewall,
		description: "firewarden fix --boot: put firewarden's held nftables table back before the network",
		args:        []string{"fix", "--boot"},
		boot:        true,
		systemdOnly: true,
		caps:        []string{"CAP_NET_ADMIN"},
		families:    []string{"AF_UNIX", "AF_NETLINK"},
		// ufw.service loads its rules with iptables-restore at boot, which leaves other
		// tables alone, but it is ordered before too so that the last word at boot is ours.
		after: append(slices.Clone(nftAfter), "ufw.service"),
	},
	{
		name:        Agent,
		description: "firewarden agent: report this host's firewall posture to the fleet server",
		args:        []string{"agent", "run"},
		// The agent runs the checks check runs: on Linux the firewall checks read nftables
		// (CAP_NET_ADMIN), the exposure checks find the process of every listening socket
		// (CAP_SYS_PTRACE, /proc whole), and in enforce mode fix writes what check judges.
		caps:          []string{"CAP_NET_ADMIN", "CAP_SYS_PTRACE"},
		families:      []string{"AF_UNIX", "AF_NETLINK", "AF_INET", "AF_INET6"},
		after:         []string{"network-online.target"},
		network:       true,
		seesProcesses: true,
		writable:      []string{"/etc/ssh/sshd_config.d", "/etc/systemd/system"},
	},
}

// Names lists every service name.
func Names() []string {
	out := make([]string, len(defs))
	for i, d := range defs {
		out[i] = d.name
	}
	return out
}

// NamesFor lists the services that run under init.
func NamesFor(init Init) []string {
	var out []string
	for _, d := range defs {
		if !(init == Systemd && d.launchdOnly) && !(init == Launchd && d.systemdOnly) {
			out = append(out, d.name)
		}
	}
	return out
}

func lookup(name string) (def, error) {
	for _, d := range defs {
		if d.name == name {
			return d, nil
		}
	}
	return def{}, fmt.Errorf("%w %q: the services are %s", ErrUnknown, name, strings.Join(Names(), ", "))
}

// Check reports whether name is a service that runs under init: an error wrapping ErrUnknown,
// or errors.ErrUnsupported for detect-live on systemd.
func Check(name string, init Init) error {
	d, err := lookup(name)
	if err != nil {
		return err
	}
	if d.launchdOnly && init == Systemd {
		return unsupported(name + " runs only on macOS (launchd): it watches a Mac through eslogger or the unified log, so there is no systemd unit for it")
	}
	if d.systemdOnly && init == Launchd {
		return unsupported(name + " runs only on Linux (systemd): it puts firewarden's nftables table back at boot, and macOS keeps its firewall settings across a reboot itself, so there is no launchd plist for it")
	}
	return nil
}

// unsupported is an error that wraps errors.ErrUnsupported without its text.
type unsupported string

func (e unsupported) Error() string        { return string(e) }
func (e unsupported) Is(target error) bool { return target == errors.ErrUnsupported }

// Options are the choices a definition depends on.
type Options struct {
	// Binary is the absolute path of firewarden on the host that runs the service.
	Binary string
	// Config is passed as --config when set. Empty leaves the flag out, so that firewarden
	// reads /etc/firewarden/firewarden.yaml when it exists and runs on the defaults when it
	// does not: naming the default file would make it required.
	Config string
	// StateDir is passed as --state-dir when set, and is the one directory a systemd unit may
	// write (ReadWritePaths=). Empty: firewarden's default, /var/lib/firewarden, which systemd
	// creates as StateDirectory=.
	StateDir string
	// WritableDir is a state directory that is not passed on the command line but that the
	// service writes anyway (a state_dir from the configuration file); ignored when StateDir is
	// set.
	WritableDir string
	// Interval is how often a periodic service runs (a whole number of seconds, at least a
	// minute); zero means DefaultInterval.
	Interval time.Duration
	// Args are appended to the service's own arguments (block expire --backend nft).
	Args []string
}

func (o Options) interval() time.Duration {
	if o.Interval == 0 {
		return DefaultInterval
	}
	return o.Interval
}

// Validate refuses options no definition can carry.
func (o Options) Validate() error {
	if !path.IsAbs(o.Binary) {
		return fmt.Errorf("binary %q: give an absolute path", o.Binary)
	}
	if o.Interval != 0 && (o.Interval < time.Minute || o.Interval%time.Second != 0) {
		return fmt.Errorf("interval %s: give a whole number of seconds, a minute or more (e.g. 15m)", o.Interval)
	}
	for _, s := range append([]string{o.Binary, o.Config, o.StateDir, o.WritableDir}, o.Args...) {
		if strings.ContainsAny(s, "\x00\n\r") {
			return fmt.Errorf("%q: a path or argument with a newline cannot go into a service definition", s)
		}
	}
	return nil
}

// Hidden is the reason a systemd unit's sandbox would hide path from the service (ProtectHome,
// PrivateTmp), or "" when the service can see it. A binary under /home is the usual case: `go
// build` in a checkout, then `sudo ./firewarden service install guard`.
func Hidden(p string) string {
	clean := path.Clean(p)
	for _, dir := range []string{"/home", "/root", "/run/user"} {
		if clean == dir || strings.HasPrefix(clean, dir+"/") {
			return dir + " is hidden from the service (ProtectHome=yes)"
		}
	}
	for _, dir := range []string{"/tmp", "/var/tmp"} {
		if clean == dir || strings.HasPrefix(clean, dir+"/") {
			return "the service gets its own empty " + dir + " (PrivateTmp=yes)"
		}
	}
	return ""
}

// HiddenPaths checks every path of o against Hidden and returns one error naming the first
// hidden one, or nil.
func (o Options) HiddenPaths() error {
	for _, p := range []struct{ what, path string }{{"binary", o.Binary}, {"configuration file", o.Config}, {"state directory", o.StateDir}, {"state directory", o.WritableDir}} {
		if p.path == "" {
			continue
		}
		if why := Hidden(p.path); why != "" {
			return fmt.Errorf("the %s %s cannot be used by a systemd service: %s", p.what, p.path, why)
		}
	}
	return nil
}

// Argv is the command line a service runs: binary, global flags, the service's arguments.
func Argv(name string, o Options) ([]string, error) {
	d, err := lookup(name)
	if err != nil {
		return nil, err
	}
	return d.argv(o), nil
}

func (d def) argv(o Options) []string {
	argv := []string{o.Binary}
	if o.Config != "" {
		argv = append(argv, "--config", o.Config)
	}
	if o.StateDir != "" {
		argv = append(argv, "--state-dir", o.StateDir)
	}
	argv = append(argv, d.args...)
	return append(argv, o.Args...)
}

// File is one file of a service definition.
type File struct {
	// Name is the file name: firewarden-guard.service, org.firewarden.guard.plist.
	Name string
	// Dir is the system directory it is installed in.
	Dir string
	// Data is the file's contents.
	Data []byte
}

// Path is the file's system path when installed.
func (f File) Path() string { return path.Join(f.Dir, f.Name) }

// Files renders the definition of the service called name for init: a .service (and, for a
// periodic service, a .timer) for systemd, one plist for launchd.
func Files(name string, init Init, o Options) ([]File, error) {
	if err := Check(name, init); err != nil {
		return nil, err
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	d, _ := lookup(name)
	if init == Launchd {
		data, err := d.plist(o)
		if err != nil {
			return nil, err
		}
		return []File{{Name: Label(name) + ".plist", Dir: LaunchdDir, Data: data}}, nil
	}
	files := []File{{Name: UnitPrefix + name + ".service", Dir: SystemdDir, Data: d.unit(o)}}
	if d.periodic {
		files = append(files, File{Name: UnitPrefix + name + ".timer", Dir: SystemdDir, Data: d.timer(o)})
	}
	return files, nil
}

// UnitPrefix starts every systemd unit name.
const UnitPrefix = "firewarden-"

// Label is the launchd label of the service called name.
func Label(name string) string { return "org.firewarden." + name }

// Unit is the systemd unit that is enabled and started for the service called name: its timer
// when periodic, else its service.
func Unit(name string) string {
	d, err := lookup(name)
	if err == nil && d.periodic {
		return UnitPrefix + name + ".timer"
	}
	return UnitPrefix + name + ".service"
}

// Units are every systemd unit of the service called name, the one Unit names first.
func Units(name string) []string {
	units := []string{Unit(name)}
	if d, err := lookup(name); err == nil && d.periodic {
		units = append(units, UnitPrefix+name+".service")
	}
	return units
}

// Periodic reports whether the service runs once per interval rather than all the time.
func Periodic(name string) bool {
	d, err := lookup(name)
	return err == nil && d.periodic
}

// sortedCaps returns the capabilities in a stable order.
func sortedCaps(caps []string) []string {
	out := slices.Clone(caps)
	slices.Sort(out)
	return out
}
