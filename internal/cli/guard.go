package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/firewarden/firewarden/internal/config"
	"github.com/firewarden/firewarden/internal/guard"
	"github.com/firewarden/firewarden/internal/statedir"
)

// signalsKey carries, in a context, the signals `guard` reacts to, so that tests can send them.
type signalsKey struct{}

// withSignals makes runGuard read its signals (SIGHUP, SIGINT, SIGTERM) from ch instead of the
// process's.
func withSignals(ctx context.Context, ch <-chan os.Signal) context.Context {
	return context.WithValue(ctx, signalsKey{}, ch)
}

// runGuard is `firewarden guard`: the brute-force guard daemon. Its configuration is the guard
// section of firewarden's configuration file (the global --config). It logs one line per ban, end of a ban and cap to stderr (JSON objects with
// --json); the dry-run backend prints what it would change on stdout. SIGHUP reloads the
// configuration, SIGINT and SIGTERM stop it after saving the bans not saved yet.
func runGuard(ctx context.Context, a *app, args []string) error {
	if len(args) > 0 && args[0] == "test" {
		return runGuardTest(ctx, a, args[1:])
	}
	fs := a.flagSet("guard")
	backendName := fs.String("backend", "", "where bans go, `BACKEND`: nft, pf, dry-run or none (default: the config's backend, else nft on Linux, pf on macOS; dry-run under a --root that is not /)")
	check := fs.Bool("check-config", false, "check the configuration, print a one-line summary and exit (exit 2 when it is wrong)")
	printConfig := fs.Bool("print-config", false, "print the guard section in effect as YAML, each value with where it came from (default, FILE:LINE, flag), and exit")
	if err := a.parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("guard takes no arguments (got %q); its settings are the guard: section of the configuration file (--config FILE)", fs.Arg(0))
	}
	if err := a.loadConfig(); err != nil {
		return err
	}
	cfg := a.config().Guard
	switch *backendName {
	case "", "nft", "pf", "dry-run", "none":
	default:
		return usagef("--backend %q: use nft, pf, dry-run or none", *backendName)
	}
	if *printConfig {
		flags := map[string]string{}
		if *backendName != "" {
			c := *cfg
			c.Backend, cfg = *backendName, &c
			flags["guard.backend"] = "--backend"
		}
		return config.WriteGuard(a.Out, cfg, a.origin(flags))
	}
	if *check {
		name := a.confPath
		if !a.confFound {
			name = "no file at " + a.confPath + ", the defaults"
		}
		fmt.Fprintf(a.Out, "guard configuration OK (%s): %s\n", name, cfg.Summary())
		return nil
	}
	if err := a.env(); err != nil {
		return err
	}
	// SIGHUP reads the same file again; its guard section is the new configuration.
	load := func() (*guard.Config, error) {
		f, _, _, err := a.readConfig()
		if err != nil {
			return nil, err
		}
		return f.Guard, nil
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
	stateDir := a.stateDir()
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
	// From here on a signal means "save the bans and stop", which may take more than a second.
	extendGrace(ctx, DaemonGrace)
	d := guard.New(guard.Options{
		Self:     a.selfAddrs(),
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
