// Command release builds firewarden's release into a directory: for each target a stamped,
// statically linked binary packed into firewarden_V_OS_ARCH.tar.gz with the README, LICENSE,
// man pages, shell completions, examples and service files; a .deb and an .rpm for each Linux
// target; and SHA256SUMS over all of them. The bytes depend only on the commit: times come from
// the commit (or SOURCE_DATE_EPOCH), archives have fixed owners and order, so two runs over
// the same commit give identical artifacts.
//
//	go run ./tools/release -out dist [-version 0.3.0] [-targets linux/amd64,darwin/arm64]
//
// Run it from the repository's root (make release does).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	var u usageError
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.As(err, &u):
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

// usageError is a mistake in the command line or the tree (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.Out, "out", "dist", "write the artifacts into `DIR`, which must be empty or absent")
	fs.StringVar(&o.Version, "version", "", "stamp `VERSION` (default internal/version.Base)")
	fs.StringVar(&o.Targets, "targets", defaultTargets, "build for `LIST`, comma-separated OS/ARCH pairs")
	fs.BoolVar(&o.AllowDirty, "allow-dirty", false, "build from a tree with uncommitted changes, as version BASE-dev+COMMIT.dirty")
	fs.StringVar(&o.GenBin, "gen-bin", "", "run `PATH` instead of a host build of firewarden to generate man pages, completions and service files (tests)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run ./tools/release [-out DIR] [-version VERSION] [-targets OS/ARCH,...] [-allow-dirty]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q; every setting is a flag (see -help)", fs.Arg(0))
	}
	return build(ctx, o, stdout, stderr)
}
