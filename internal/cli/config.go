package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"syscall"

	"github.com/firewarden/firewarden/internal/config"
	"github.com/firewarden/firewarden/internal/host"
)

// Help of `firewarden config`, for the command table.
const (
	configDescription = "Firewarden reads one configuration file: --config FILE, or /etc/firewarden/firewarden.yaml under the root when it exists. " +
		"It holds baseline and state_dir at the top level and a section per subsystem: guard: (the guard daemon) and detect: live: (the defaults of detect --live's outputs and poll). " +
		"Flags override the file, the file overrides the defaults. `config print` prints every key with the value in effect and where it came from " +
		"(default, FILE:LINE or the flag); `config check` validates the file and exits 0 with one line, or prints the first problem as FILE:LINE and exits 2."
)

// loadConfig reads the configuration file once: --config FILE (which must exist), or the
// default file under the root (the defaults when it does not exist).
func (a *app) loadConfig() error {
	if a.conf != nil {
		return nil
	}
	root, err := host.NewRoot(a.g.root)
	if err != nil {
		return usagef("%v", err)
	}
	f, path, found, err := a.readConfig()
	if err != nil {
		return err
	}
	a.conf, a.confPath, a.confFound, a.confRoot = f, path, found, root
	return nil
}

// readConfig reads the configuration file afresh (the guard's SIGHUP does too), and returns it,
// its name and whether it exists. The default file is named by its system path
// (/etc/firewarden/firewarden.yaml) in every message, as reports name system paths; a --config
// file as it was given. It changes nothing in a: the guard calls it from its reload.
func (a *app) readConfig() (*config.File, string, bool, error) {
	root, err := host.NewRoot(a.g.root)
	if err != nil {
		return nil, "", false, usagef("%v", err)
	}
	path, name, explicit := a.g.config, a.g.config, a.g.config != ""
	if !explicit {
		path, name = root.Path(config.DefaultPath), config.DefaultPath
	}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		return config.Default(), name, false, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, "", false, usagef("configuration file %s does not exist; create it (`firewarden config print` prints every key) or leave --config out", name)
	case err != nil:
		return nil, "", false, usagef("read the configuration file %s: %v", name, errors.Unwrap(err))
	}
	if err := a.checkConfigOwner(path, name); err != nil {
		return nil, "", false, err
	}
	f, err := config.Parse(name, data)
	if err != nil {
		return nil, "", false, usagef("%v", err)
	}
	return f, name, true, nil
}

// checkConfigOwner refuses, when firewarden runs as root, a configuration file that a user
// other than root could change: it decides what root bans, allows and where alerts go.
func (a *app) checkConfigOwner(path, name string) error {
	if a.euid == nil || a.euid() != 0 {
		return nil // run as a user, the file can give firewarden no more than that user has
	}
	fi, err := os.Stat(path)
	if err != nil {
		return usagef("read the configuration file %s: %v", name, errors.Unwrap(err))
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
		return usagef("configuration file %s belongs to uid %d, and firewarden runs as root: run chown root %s", name, st.Uid, name)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return usagef("configuration file %s is writable by group or others (mode %04o), and firewarden runs as root: run chmod go-w %s", name, perm, name)
	}
	return nil
}

// config is the configuration in effect: the file's, or the defaults before it is read.
func (a *app) config() *config.File {
	if a.conf == nil {
		return config.Default()
	}
	return a.conf
}

// confPathOf resolves a path the configuration file gives: a system path, under the root.
func (a *app) confPathOf(p string) string {
	if p == "" {
		return ""
	}
	return a.confRoot.Path(p)
}

// origin says where the value of key came from: the flag in flags that set it, the file and
// line, or "default".
func (a *app) origin(flags map[string]string) func(string) string {
	return func(key string) string {
		if f, ok := flags[key]; ok {
			return f
		}
		if l, ok := a.config().Lines[key]; ok {
			return fmt.Sprintf("%s:%d", a.confPath, l)
		}
		return "default"
	}
}

// configSummary is the one line of `config check`.
func (a *app) configSummary() string {
	if !a.confFound {
		return fmt.Sprintf("configuration OK (no file at %s: the defaults)", a.confPath)
	}
	// Count the values, not the sections that hold them.
	var keys []string
	for k := range a.config().Lines {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	n := 0
	for i, k := range keys {
		if i+1 < len(keys) && strings.HasPrefix(keys[i+1], k+".") {
			continue
		}
		n++
	}
	noun := "values"
	if n == 1 {
		noun = "value"
	}
	return fmt.Sprintf("configuration OK (%s): %d %s set, every other key its default", a.confPath, n, noun)
}

// runConfig is `firewarden config print|check`.
func runConfig(_ context.Context, a *app, args []string) error {
	if len(args) == 0 || (args[0] != "print" && args[0] != "check") {
		return usagef("config needs a verb: print or check")
	}
	verb := args[0]
	pos, err := a.parse(a.flagSet("config "+verb), args[1:])
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("config %s takes no arguments (got %q); the file is given with --config FILE", verb, pos[0])
	}
	if verb == "check" {
		// The baseline the file names is read too: a missing one would fail every check later.
		if b := a.config().Baseline; b != "" {
			if _, err := a.loadBaseline(""); err != nil {
				return usagef("%s:%d: baseline %s cannot be used: %v", a.confPath, a.config().Lines["baseline"], b, err)
			}
		}
		fmt.Fprintln(a.Out, a.configSummary())
		return nil
	}
	// state_dir's default depends on the operating system under the root.
	if err := a.env(); err != nil {
		return err
	}
	eff := *a.config()
	flags := map[string]string{}
	eff.StateDir = a.root.Rel(a.stateDir())
	if a.g.stateDir != "" {
		eff.StateDir, flags["state_dir"] = a.g.stateDir, "--state-dir"
	}
	return config.Write(a.Out, &eff, a.origin(flags))
}
