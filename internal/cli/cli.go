// Package cli is the firewarden command line: it parses flags, builds the system seam and the
// providers, runs one command and maps the outcome to an exit status. It never calls os.Exit and
// writes only to the streams it is given.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/config"
	"github.com/firewarden/firewarden/internal/exposure"
	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/posture"
	"github.com/firewarden/firewarden/internal/posture/alf"
	"github.com/firewarden/firewarden/internal/posture/baseline"
	"github.com/firewarden/firewarden/internal/posture/exposureposture"
	"github.com/firewarden/firewarden/internal/posture/macos"
	"github.com/firewarden/firewarden/internal/posture/nftposture"
	"github.com/firewarden/firewarden/internal/posture/sshd"
	"github.com/firewarden/firewarden/internal/version"
)

// Streams are the command's input and outputs.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// usageError is bad input: exit 2 with one line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// exitError carries a non-zero exit status for an outcome already reported on stdout.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func exitCode(code int) error {
	if code == 0 {
		return nil
	}
	return &exitError{code}
}

// globals are the flags every command takes.
type globals struct {
	root     string
	json     bool
	stateDir string
	config   string
}

// register adds the global flags to fs. The current values are the defaults, so a global flag
// given before the command survives the command's own parse.
func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.root, "root", g.root, "resolve every system path under `DIR` (env FIREWARDEN_ROOT; default /)")
	fs.BoolVar(&g.json, "json", g.json, "machine-readable output on stdout")
	fs.StringVar(&g.stateDir, "state-dir", g.stateDir, "where backups and evidence are kept (`DIR`; default under the root: /Library/Application Support/firewarden on macOS, /var/lib/firewarden on Linux)")
	fs.StringVar(&g.config, "config", g.config, "firewarden's configuration `FILE` (default /etc/firewarden/firewarden.yaml under the root, read when it exists; see `firewarden config print`)")
}

// app is what a command run needs: streams, globals, clock, environment.
type app struct {
	Streams
	g      globals
	getenv func(string) string
	now    func() time.Time
	euid   func() int
	// interfaces lists this host's interface addresses; nil is interfaceAddrs (tests inject).
	interfaces func() ([]ifaceAddr, error)

	// the configuration file, read by parse (loadConfig)
	conf      *config.File
	confPath  string    // the file read, or looked for, as messages name it
	confFound bool      // whether it exists
	confRoot  host.Root // the root its paths are resolved under

	// describe makes parse hand its FlagSet back in described instead of parsing (flagsOf).
	describe  bool
	described *flag.FlagSet

	// nft is the kernel's nftables the linux.firewall checks read and fix; nil is the real one
	// (tests inject a fake), takeOver is fix --take-over (see nft.go).
	nft      nftposture.Kernel
	takeOver bool
	// noHold keeps the table this run settles from being held for boot (a fix waiting for
	// confirmation, its revert); holdBy says in the held file what settled it (see nft.go).
	noHold bool
	holdBy string

	// built lazily by env()
	root host.Root
	os   host.OS
	rec  *host.Recorder
}

// Run runs firewarden with args (without the program name) and returns the exit status.
func Run(ctx context.Context, args []string, s Streams, getenv func(string) string) int {
	return newApp(s, getenv).run(ctx, args)
}

func newApp(s Streams, getenv func(string) string) *app {
	a := &app{Streams: s, getenv: getenv, now: time.Now, euid: os.Geteuid}
	a.g.root = getenv("FIREWARDEN_ROOT")
	return a
}

// run is Run on an app a test may have given fakes.
func (a *app) run(ctx context.Context, args []string) int {
	s := a.Streams
	err := a.dispatch(ctx, args)
	var ee *exitError
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(s.Err, "firewarden: %s\n", ue.msg)
		return 2
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		// SIGINT or SIGTERM: the command stopped where it was, having written nothing partial.
		fmt.Fprintln(s.Err, "firewarden: interrupted before the command finished")
		return 2
	default:
		fmt.Fprintf(s.Err, "firewarden: %s\n", oneLine(err.Error()))
		return 2
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func (a *app) dispatch(ctx context.Context, args []string) error {
	fs := a.flagSet("firewarden")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := a.parseFlags(fs, args); err != nil {
		return err
	}
	if *showVersion {
		fmt.Fprintln(a.Out, version.Line())
		return nil
	}
	rest := fs.Args()
	if len(rest) == 0 {
		writeOverview(a.Out)
		return nil
	}
	c := findCommand(rest[0])
	if c == nil {
		return unknownCommand(rest[0])
	}
	if err := a.checkVerbs(c, rest[1:]); err != nil {
		return err
	}
	return c.run(ctx, a, rest[1:])
}

// flagSet makes a FlagSet with the global flags registered, errors going to the caller. name is
// the command path ("rules eval"): help finds the command's page by it.
func (a *app) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	a.g.register(fs)
	return fs
}

// parseFlags is fs.Parse with firewarden's conventions: -h and --help print the command's help
// page on stdout (flag.ErrHelp, exit 0), and a bad flag is one line naming the command, with a
// suggestion for a mistyped one.
func (a *app) parseFlags(fs *flag.FlagSet, args []string) error {
	if a.describe {
		a.described = fs
		return errDescribe
	}
	err := fs.Parse(args)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		a.printHelpFor(fs)
		return err
	}
	return flagError(fs, args, err)
}

// parse parses flags, allowing flags after positional arguments, and returns the positionals.
// In describe mode it hands fs back (flagsOf) and returns errDescribe: a run function must call
// it before it does anything.
func (a *app) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := a.parseFlags(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if a.g.config != "" || !takesNothingFromConfig(fs.Name()) {
		if err := a.loadConfig(); err != nil {
			return nil, err
		}
	}
	return pos, nil
}

// takesNothingFromConfig reports whether the command named name (its FlagSet's name) reads no
// setting from the configuration file. Those commands read the default file only when --config
// names one, so that a user can run them on a host whose file only root can read. detect reads
// it for --live only (runDetect loads it then).
func takesNothingFromConfig(name string) bool {
	return name == "version" || name == "exposure" || name == "logs summarize" || name == "detect" || name == "scan" ||
		strings.HasPrefix(name, "rules ") || strings.HasPrefix(name, "detect rules ")
}

// env builds the system seam once: root, OS, and a recording Runner.
func (a *app) env() error {
	if a.rec != nil {
		return nil
	}
	root, err := host.NewRoot(a.g.root)
	if err != nil {
		return usagef("%v", err)
	}
	osinfo, err := host.Detect(root)
	if err != nil {
		return fmt.Errorf("detect the operating system: %w", err)
	}
	if osinfo.Kind == host.Unknown {
		return usagef("no operating system found under %s (neither %s nor %s exists); is --root right?", root.Dir(), host.SystemVersionPlist, host.OSRelease)
	}
	a.root, a.os = root, osinfo
	a.rec = &host.Recorder{Runner: host.ExecRunner{Root: root}}
	return nil
}

// requireRoot refuses a command that changes the real system when not run as root: without
// root, socketfilterfw and launchctl appear to accept changes that do not take. Under a fake
// --root nothing real is changed, so no privilege is needed.
func (a *app) requireRoot(cmd string) error {
	if a.root.IsSystem() && a.euid() != 0 {
		return usagef("%s changes system settings: run it as root (sudo firewarden %s)%s", cmd, cmd, dryRunHint(cmd))
	}
	return nil
}

// unprivileged reports whether firewarden reads the real system without root, which hides what
// other users' processes hold (exposure). Under a fake --root nothing is hidden.
func (a *app) unprivileged() bool { return a.root.IsSystem() && a.euid() != 0 }

// dryRunHint names the way cmd shows what it would do without root.
func dryRunHint(cmd string) string {
	switch strings.Fields(cmd)[0] {
	case "fix":
		if strings.Contains(cmd, "--boot") || strings.Contains(cmd, "--confirm") {
			return "" // it only restores or keeps what is there; there is nothing to dry-run
		}
		return ", or use --dry-run to see what it would do"
	case "block", "guard":
		return ", or use --backend dry-run to see what it would do"
	case "rollback":
		return "; rollback --list needs no root"
	}
	return ""
}

// engine returns the posture engine with every provider for this host.
func (a *app) engine() *posture.Engine {
	return &posture.Engine{Now: a.now, Providers: a.providers(a.rec)}
}

// providers are the posture providers for this host, running programs through rec; check, fix,
// evidence and the agent use the same list.
func (a *app) providers(rec *host.Recorder) []posture.Provider {
	return []posture.Provider{
		alf.New(a.root, a.os, rec),
		macos.New(a.root, a.os, rec),
		a.linuxFirewall(rec),
		sshd.New(a.root, a.os, rec),
		exposureposture.New(a.root, a.os, rec, exposureposture.Options{Reading: a.exposureOptions(exposure.ComposeReport{})}),
	}
}

// stateDir is --state-dir, the configuration file's state_dir (a system path, under the root),
// or the OS default under the root.
func (a *app) stateDir() string {
	switch {
	case a.g.stateDir != "":
		return a.g.stateDir
	case a.config().StateDir != "":
		return a.confPathOf(a.config().StateDir)
	case a.os.Kind == host.MacOS:
		return a.root.Path("/Library/Application Support/firewarden")
	default:
		return a.root.Path("/var/lib/firewarden")
	}
}

// hostname is the host's name: the real one on the system root, /etc/hostname under a fake root.
func (a *app) hostname() string {
	if a.root.IsSystem() {
		if h, err := os.Hostname(); err == nil {
			return h
		}
	}
	if data, err := a.root.ReadFile("/etc/hostname"); err == nil {
		if h := strings.TrimSpace(string(data)); h != "" {
			return h
		}
	}
	return "unknown"
}

// loadBaseline reads --baseline (or the configuration file's, a system path under the root), or
// the default.
func (a *app) loadBaseline(path string) (*baseline.Baseline, error) {
	if path == "" {
		path = a.confPathOf(a.config().Baseline)
	}
	if path == "" {
		return baseline.Default(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("read baseline: %v", err)
	}
	b, err := baseline.Parse(data)
	if err != nil {
		return nil, usagef("baseline %s: %v; compare with `firewarden baseline default`", filepath.Base(path), err)
	}
	b.Source = path
	return b, nil
}

// parseOnly turns "a,b" into a set, refusing unknown check IDs.
func parseOnly(s string) (map[string]bool, error) {
	if s == "" {
		return nil, nil
	}
	only := map[string]bool{}
	for _, id := range strings.Split(s, ",") {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		if !baseline.IsCheckID(id) {
			if s := suggest(id, baseline.CheckIDs()); s != "" {
				return nil, usagef("--only: unknown check %q; did you mean %q?", id, s)
			}
			return nil, usagef("--only: unknown check %q; known checks: %s", id, strings.Join(baseline.CheckIDs(), ", "))
		}
		only[id] = true
	}
	if len(only) == 0 {
		return nil, usagef("--only %q names no check; give check IDs separated by commas", s)
	}
	return only, nil
}

// request builds a posture request.
func (a *app) request(b *baseline.Baseline, only map[string]bool) posture.Request {
	return posture.Request{Baseline: b, Only: only, Now: a.now()}
}

// checkSelection refuses --only IDs the baseline does not include, before anything runs: a
// silently dropped check would read as compliant.
func checkSelection(b *baseline.Baseline, only map[string]bool) error {
	var missing []string
	for id := range only {
		if !b.Includes(id) {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		if only == nil && len(b.Checks()) == 0 {
			return usagef("the baseline names no checks; see `firewarden baseline default`")
		}
		return nil
	}
	sort.Strings(missing)
	return usagef("--only %s: the baseline does not include these checks; add them to the baseline", strings.Join(missing, ","))
}

func runVersion(_ context.Context, a *app, args []string) error {
	pos, err := a.parse(a.flagSet("version"), args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("version takes no arguments, got %q", pos[0])
	}
	fmt.Fprintln(a.Out, version.Line())
	return nil
}
