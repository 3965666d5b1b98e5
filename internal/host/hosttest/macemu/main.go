// Command macemu stands in for the macOS programs firewarden runs, so the real firewarden binary
// can be run with --root against a fake Mac on Linux.
//
// Installed by hosttest.Layout at ROOT/usr/libexec/ApplicationFirewall/socketfilterfw,
// ROOT/usr/bin/defaults and the other program paths, it finds the fake Mac's root from its own
// path (firewarden's ExecRunner runs ROOT + system path, with that as argv[0]), loads the state
// file, answers through hosttest.Mac, saves the state and exits with the emulated status.
//
// Run under its own name it lays out a fake Mac, or a fake Debian 12 for the Linux code paths:
//
//	go run ./internal/host/hosttest/macemu layout -preset 15 /tmp/fakemac
//	firewarden --root /tmp/fakemac check
//	go run ./internal/host/hosttest/macemu layout-linux /tmp/fakelinux
//	firewarden --root /tmp/fakelinux block autoconfigure
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/host/hosttest"
)

func main() {
	os.Exit(run(context.Background(), os.Args, os.Stdout, os.Stderr))
}

const usage = "usage: macemu layout [-preset 14|15|15.4|26|managed15] [-version V] [-managed] DIR | macemu layout-linux DIR"

// run dispatches on the name the binary was started under and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	if sys, isStandIn := program(args[0]); isStandIn {
		return emulate(ctx, args[0], sys, args[1:], stdout, stderr)
	}
	if len(args) >= 2 && args[1] == "layout" {
		return layout(args[2:], stdout, stderr)
	}
	if len(args) >= 2 && args[1] == "layout-linux" {
		return layoutLinux(args[2:], stdout, stderr)
	}
	fmt.Fprintln(stderr, usage)
	return 2
}

// layoutLinux implements "macemu layout-linux DIR": a fake Debian 12 (hosttest.LayoutLinux).
// It installs no stand-ins: on Linux firewarden runs no program under a fake root (the block
// backend is dry-run there, and the guard follows a file).
func layoutLinux(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintf(stderr, "macemu: layout-linux wants exactly one DIR; %s\n", usage)
		return 2
	}
	if err := hosttest.LayoutLinux(args[0]); err != nil {
		fmt.Fprintf(stderr, "macemu: %v\n", err)
		return 2
	}
	fmt.Fprintf(stdout, "laid out a fake Debian GNU/Linux 12 at %s (try: firewarden --root %s block list)\n", args[0], args[0])
	return 0
}

// program returns the system path of the emulated program the binary was started as.
func program(argv0 string) (string, bool) {
	base := filepath.Base(argv0)
	for _, p := range hosttest.Programs() {
		if path.Base(p) == base {
			return p, true
		}
	}
	return "", false
}

// rootOf derives the fake Mac's root by trimming the system path from the stand-in's own path.
func rootOf(argv0, sys string) (string, error) {
	exe := argv0
	if !filepath.IsAbs(exe) {
		var err error
		if exe, err = os.Executable(); err != nil {
			return "", err
		}
	}
	root, found := strings.CutSuffix(filepath.ToSlash(filepath.Clean(exe)), sys)
	if !found || root == "" {
		return "", fmt.Errorf("%s is not at %s under a fake Mac's root; install it with \"macemu layout DIR\"", exe, sys)
	}
	return filepath.FromSlash(root), nil
}

// emulate answers one program run from the fake Mac's state file. Runs are serialised by a lock
// next to the state file, so concurrent stand-ins never lose each other's changes.
func emulate(ctx context.Context, argv0, sys string, args []string, stdout, stderr io.Writer) int {
	root, err := rootOf(argv0, sys)
	if err != nil {
		fmt.Fprintf(stderr, "macemu: %v\n", err)
		return 2
	}
	unlock, err := lock(filepath.Join(root, filepath.FromSlash(path.Dir(hosttest.StateFile)), "lock"))
	if err != nil {
		fmt.Fprintf(stderr, "macemu: %v\n", err)
		return 2
	}
	defer unlock()
	m, err := hosttest.OpenMac(root)
	if err != nil {
		fmt.Fprintf(stderr, "macemu: %v\n", err)
		return 2
	}
	res, runErr := m.Run(ctx, host.Cmd{Path: sys, Args: args})
	if err := m.Save(); err != nil {
		fmt.Fprintf(stderr, "macemu: %v\n", err)
		return 2
	}
	var exitErr *host.ExitError
	if runErr != nil && !errors.As(runErr, &exitErr) {
		fmt.Fprintf(stderr, "macemu: %v\n", runErr)
		return 2
	}
	stdout.Write(res.Stdout)
	stderr.Write(res.Stderr)
	return res.ExitCode
}

// presets are the states "macemu layout -preset" offers.
func presets() map[string]func() hosttest.MacState {
	return map[string]func() hosttest.MacState{
		"14":        hosttest.Mac14,
		"15":        hosttest.Mac15,
		"15.4":      hosttest.Mac154,
		"26":        hosttest.Mac26,
		"managed15": hosttest.ManagedMac15,
	}
}

// layout implements "macemu layout": it writes a fake Mac with this executable as the stand-in
// for every emulated program.
func layout(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("layout", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	preset := fs.String("preset", "15", "starting state: 14, 15, 15.4, 26 or managed15")
	version := fs.String("version", "", "macOS version to report instead of the preset's")
	managed := fs.Bool("managed", false, "install a firewall profile enabling the firewall and stealth mode")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "macemu: %v; %s\n", err, usage)
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(stderr, "macemu: want exactly one DIR; %s\n", usage)
		return 2
	}
	mk, known := presets()[*preset]
	if !known {
		fmt.Fprintf(stderr, "macemu: unknown preset %q; %s\n", *preset, usage)
		return 2
	}
	st := mk()
	if *version != "" {
		st.Version = *version
	}
	if *managed && st.Profile == nil {
		st.Profile = hosttest.ManagedMac15().Profile
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "macemu: find own executable: %v\n", err)
		return 2
	}
	dir := fs.Arg(0)
	if err := hosttest.Layout(dir, st, exe); err != nil {
		fmt.Fprintf(stderr, "macemu: %v\n", err)
		return 2
	}
	fmt.Fprintf(stdout, "laid out a fake macOS %s at %s (try: firewarden --root %s check)\n", st.Version, dir, dir)
	return 0
}
