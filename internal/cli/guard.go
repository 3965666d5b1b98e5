package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"syscall"

	"github.com/firewarden/firewarden/internal/guard"
	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/statedir"
)

// Default guard configuration files, as system paths under the root.
const (
	guardConfigLinux = "/etc/firewarden/guard.yaml"
	guardConfigMacOS = "/Library/Application Support/firewarden/guard.yaml"
)

// signalsKey carries, in a context, the signals `guard` reacts to, so that tests can send them.
type signalsKey struct{}

// withSignals makes runGuard read its signals (SIGHUP, SIGINT, SIGTERM) from ch instead of the
// process's.
func withSignals(ctx context.Context, ch <-chan os.Signal) context.Context {
	return context.WithValue(ctx, signalsKey{}, ch)
}

// runGuard is `firewarden guard`: the brute-force guard daemon. --config names the guard's YAML
// file (default: /etc/firewarden/guard.yaml on Linux, /Library/Application
// Support/firewarden/guard.yaml on macOS, under the root; a missing default file means the
// defaults). It logs one line per ban, end of a ban and cap to stderr (JSON objects with
// --json); the dry-run backend prints what it would change on stdout. SIGHUP reloads the
// configuration, SIGINT and SIGTERM stop it after saving the bans not saved yet.
func runGuard(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("guard")
	backendName := fs.String("backend", "", "where bans go, `BACKEND`: nft, pf, dry-run or none (default: the config's backend, else nft on Linux, pf on macOS; dry-run under a --root that is not /)")
	check := fs.Bool("check-config", false, "check the configuration, print a one-line summary and exit (exit 2 when it is wrong)")
	printConfig := fs.Bool("print-config", false, "print the default configuration as YAML and exit")
	if err := a.parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("guard takes no arguments (got %q); the configuration file is given with --config", fs.Arg(0))
	}
	if *printConfig {
		_, err := a.Out.Write(guard.DefaultYAML())
		return err
	}
	if err := a.env(); err != nil {
		return err
	}
	path, explicit := a.g.config, a.g.config != ""
	if !explicit {
		path = a.root.Path(guardConfigLinux)
		if a.os.Kind == host.MacOS {
			path = a.root.Path(guardConfigMacOS)
		}
	}
	load := func() (*guard.Config, error) { return loadGuardConfig(path, explicit) }
	cfg, err := load()
	if err != nil {
		return usagef("%v", err)
	}
	if *check {
		name := path
		if _, err := os.Stat(path); err != nil {
			name = "no file at " + path + ", the defaults"
		}
		fmt.Fprintf(a.Out, "guard configuration OK (%s): %s\n", name, cfg.Summary())
		return nil
	}

	name := *backendName
	if name == "" {
		name = cfg.Backend
	}
	if name == "" {
		name = a.defaultBackend()
	}
	cfg.Backend = name // the start line names the backend in use
	if name != "none" && name != "dry-run" {
		if err := a.requireRoot("guard"); err != nil {
			return err
		}
	}
	backend, err := newBackend(name, a)
	if err != nil {
		return err
	}
	if c, ok := backend.(io.Closer); ok {
		defer c.Close()
	}
	stateDir := a.g.stateDir
	if stateDir == "" && cfg.StateDir != "" {
		stateDir = a.root.Path(cfg.StateDir)
	}
	if stateDir == "" {
		stateDir = a.stateDir()
	}
	// Refuse an unsafe state directory at once, before anything reaches the firewall, rather
	// than at the first save.
	if _, err := statedir.Open(stateDir); err != nil {
		return usagef("guard: %v", err)
	}
	src, err := guard.NewSources(cfg.Sources, a.os.Kind, guard.SourceEnv{Root: a.root, Log: guard.Logf(a.Err, a.g.json, "source")})
	if err != nil {
		return usagef("%v", err)
	}

	sigs, ok := ctx.Value(signalsKey{}).(<-chan os.Signal)
	if !ok {
		ch := make(chan os.Signal, 4)
		signal.Notify(ch, syscall.SIGHUP, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(ch)
		sigs = ch
	}
	d := guard.New(guard.Options{
		Config:   cfg,
		StateDir: stateDir,
		Backend:  backend,
		Source:   src,
		Reload:   load,
		Signals:  sigs,
		Log:      a.Err,
		JSON:     a.g.json,
		Now:      a.now,
	})
	if err := d.Run(ctx); err != nil {
		return fmt.Errorf("guard: %w", err)
	}
	return nil
}

// loadGuardConfig reads the guard configuration at path. A missing file is an error when it was
// named with --config, and the defaults otherwise.
func loadGuardConfig(path string, explicit bool) (*guard.Config, error) {
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		return guard.ParseConfig(path, data)
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		return guard.Default(), nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("guard configuration %s does not exist; create it (see `firewarden guard --print-config`) or leave --config out for the defaults", path)
	}
	return nil, fmt.Errorf("read the guard configuration: %v", err)
}
