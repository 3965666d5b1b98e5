package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/version"
)

// defaultTargets are the platforms firewarden supports, all of which a release ships.
const defaultTargets = "darwin/amd64,darwin/arm64,linux/amd64,linux/arm64"

const versionPkg = "github.com/firewarden/firewarden/internal/version"

type options struct {
	Out, Version, Targets, GenBin string
	AllowDirty                    bool
}

type target struct{ OS, Arch string }

func (t target) String() string { return t.OS + "/" + t.Arch }

// parseTargets reads "linux/amd64,darwin/arm64"; only the supported platforms are accepted,
// each at most once.
func parseTargets(s string) ([]target, error) {
	var ts []target
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		t, ok := map[string]target{
			"darwin/amd64": {"darwin", "amd64"}, "darwin/arm64": {"darwin", "arm64"},
			"linux/amd64": {"linux", "amd64"}, "linux/arm64": {"linux", "arm64"},
		}[p]
		if !ok {
			return nil, usagef("-targets: %q is not one of %s", p, defaultTargets)
		}
		if slices.Contains(ts, t) {
			return nil, usagef("-targets: %s named twice", p)
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// stamp is what a release build records about itself.
type stamp struct {
	Version release
	Commit  string    // full hash of HEAD
	Date    time.Time // the commit's time, or SOURCE_DATE_EPOCH
}

func (s stamp) ldflags() string {
	return fmt.Sprintf("-s -w -X %s.Version=%s -X %s.Commit=%s -X %s.Date=%s",
		versionPkg, s.Version, versionPkg, s.Commit, versionPkg, s.Date.UTC().Format(time.RFC3339))
}

// resolveStamp reads the commit and decides the version. A tree with uncommitted changes is
// not what the commit names, so it never gets a release version: without -allow-dirty it
// is refused, with it the version becomes CORE-dev+COMMIT.dirty.
func resolveStamp(ctx context.Context, o options, getenv func(string) string) (stamp, error) {
	v := o.Version
	if v == "" {
		v = version.Base
	}
	r, err := parseVersion(v)
	if err != nil {
		return stamp{}, usageError{err.Error()}
	}
	commit, err := git(ctx, "rev-parse", "HEAD")
	if err != nil {
		return stamp{}, err
	}
	status, err := git(ctx, "status", "--porcelain")
	if err != nil {
		return stamp{}, err
	}
	if status != "" {
		if !o.AllowDirty {
			return stamp{}, usagef("the tree has uncommitted changes (git status); commit them, or pass -allow-dirty for a %s-dev build", r.Core)
		}
		r = devVersion(r, commit)
	}
	date, err := sourceDate(ctx, getenv)
	if err != nil {
		return stamp{}, err
	}
	return stamp{Version: r, Commit: commit, Date: date}, nil
}

// sourceDate is SOURCE_DATE_EPOCH when set (the reproducible-builds convention), else the
// commit time of HEAD.
func sourceDate(ctx context.Context, getenv func(string) string) (time.Time, error) {
	s, name := getenv("SOURCE_DATE_EPOCH"), "SOURCE_DATE_EPOCH"
	if s == "" {
		out, err := git(ctx, "log", "-1", "--format=%ct", "HEAD")
		if err != nil {
			return time.Time{}, err
		}
		s, name = out, "the commit time"
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil || sec < 0 {
		return time.Time{}, usagef("%s %q is not seconds since 1970", name, s)
	}
	return time.Unix(sec, 0).UTC(), nil
}

func git(ctx context.Context, args ...string) (string, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// goBuild builds ./cmd/firewarden for t into out: static (CGO_ENABLED=0), without local paths
// (-trimpath), stripped, with the version stamped.
func goBuild(ctx context.Context, t target, s stamp, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", s.ldflags(), "-o", out, "./cmd/firewarden")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+t.OS, "GOARCH="+t.Arch)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build for %s: %v: %s", t, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// generated are the files the host build of firewarden writes about itself.
type generated struct {
	Man, ManGz       []string
	Bash, Zsh, Fish  string
	SystemdPkg       []string // units for /usr/bin/firewarden (packages)
	SystemdTar       []string // units for /usr/local/bin/firewarden (tarballs)
	Launchd          []string // plists for /usr/local/bin/firewarden
	SystemdUnitNames []string
}

// generate runs bin (a firewarden built for this host) to write man pages, completions and
// service files under dir. Tarballs are installed by hand, to /usr/local/bin by the README's
// instructions (the one place macOS lets an administrator add a program), so their service
// files name that path; packages install /usr/bin/firewarden.
func generate(ctx context.Context, bin, dir string) (generated, error) {
	var g generated
	run := func(stdout io.Writer, args ...string) error {
		cmd := exec.CommandContext(ctx, bin, args...)
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = stdout, &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s %s: %v: %s", bin, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		}
		return nil
	}
	listDir := func(d string, args ...string) ([]string, error) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
		if err := run(io.Discard, args...); err != nil {
			return nil, err
		}
		names, err := regularFiles(d)
		if err != nil {
			return nil, err
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("%s %s wrote no file into %s", bin, strings.Join(args, " "), d)
		}
		return names, nil
	}

	man := filepath.Join(dir, "man")
	var err error
	if g.Man, err = listDir(man, "man", "--dir", man); err != nil {
		return g, err
	}
	if !slices.Contains(g.Man, filepath.Join(man, "firewarden.1")) {
		return g, fmt.Errorf("%s man --dir %s wrote no firewarden.1", bin, man)
	}
	gz := filepath.Join(dir, "man-gz")
	if err := os.MkdirAll(gz, 0o755); err != nil {
		return g, err
	}
	for _, m := range g.Man {
		z := filepath.Join(gz, filepath.Base(m)+".gz")
		if err := gzipFile(z, m); err != nil {
			return g, err
		}
		g.ManGz = append(g.ManGz, z)
	}

	comp := filepath.Join(dir, "completions")
	if err := os.MkdirAll(comp, 0o755); err != nil {
		return g, err
	}
	for shell, dst := range map[string]*string{"bash": &g.Bash, "zsh": &g.Zsh, "fish": &g.Fish} {
		var out bytes.Buffer
		if err := run(&out, "completion", shell); err != nil {
			return g, err
		}
		if out.Len() == 0 {
			return g, fmt.Errorf("%s completion %s printed nothing", bin, shell)
		}
		*dst = filepath.Join(comp, shell)
		if err := os.WriteFile(*dst, out.Bytes(), 0o644); err != nil {
			return g, err
		}
	}

	for _, s := range []struct {
		dst            *[]string
		sub, init, bin string
	}{
		{&g.SystemdPkg, "systemd-pkg", "systemd", pkgBinary},
		{&g.SystemdTar, "systemd-tar", "systemd", tarballBinary},
		{&g.Launchd, "launchd", "launchd", tarballBinary},
	} {
		d := filepath.Join(dir, s.sub)
		if *s.dst, err = listDir(d, "service", "files", "--init", s.init, "--dir", d, "--binary", s.bin); err != nil {
			return g, err
		}
	}
	for _, u := range g.SystemdPkg {
		g.SystemdUnitNames = append(g.SystemdUnitNames, filepath.Base(u))
	}
	return g, nil
}

// regularFiles lists the regular files directly in dir, sorted.
func regularFiles(dir string) ([]string, error) {
	es, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range es {
		if e.Type().IsRegular() {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out, nil
}

// examples lists the files under dir (the repository's examples/), with Dst relative to it and
// executables kept executable; a tree without the folder has none.
func examples(dir string) ([]file, error) {
	var out []file
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: only regular files can go into a release", p)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if info.Mode()&0o111 != 0 {
			mode = 0o755
		}
		out = append(out, file{Dst: filepath.ToSlash(rel), Src: p, Mode: mode})
		return nil
	})
	return out, err
}

// build makes the whole release.
func build(ctx context.Context, o options, stdout, stderr io.Writer) error {
	start := time.Now()
	targets, err := parseTargets(o.Targets)
	if err != nil {
		return err
	}
	if _, err := os.Stat("cmd/firewarden"); err != nil {
		return usagef("no cmd/firewarden here; run the release tool from the repository's root")
	}
	if es, err := os.ReadDir(o.Out); err == nil && len(es) > 0 {
		return usagef("-out %s is not empty; remove it or name another directory", o.Out)
	}
	s, err := resolveStamp(ctx, o, os.Getenv)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "release %s, commit %s, date %s\n", s.Version, s.Commit, s.Date.Format(time.RFC3339))

	work, err := os.MkdirTemp("", "firewarden-release-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	gen := o.GenBin
	if gen == "" {
		gen = filepath.Join(work, "host", "firewarden")
		if err := goBuild(ctx, target{runtime.GOOS, runtime.GOARCH}, s, gen); err != nil {
			return err
		}
	}
	g, err := generate(ctx, gen, filepath.Join(work, "gen"))
	if err != nil {
		return err
	}
	ex, err := examples("examples")
	if err != nil {
		return err
	}
	exConfig := ""
	if _, err := os.Stat("examples/firewarden.yaml"); err == nil {
		exConfig = "examples/firewarden.yaml"
	}
	scripts, err := writeScripts(work, g.SystemdUnitNames)
	if err != nil {
		return err
	}

	// Made only now, so that a release that cannot even generate its files leaves no -out behind.
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	var artifacts []string
	for _, t := range targets {
		fmt.Fprintf(stderr, "building %s\n", t)
		bin := filepath.Join(work, "bin", t.OS+"_"+t.Arch, "firewarden")
		if err := goBuild(ctx, t, s, bin); err != nil {
			return err
		}
		c := contents{
			Binary: bin, README: "README.md", License: "LICENSE",
			Man: g.Man, Bash: g.Bash, Zsh: g.Zsh, Fish: g.Fish,
			Units: g.SystemdTar, Examples: ex,
			TarballTopName: fmt.Sprintf("firewarden_%s_%s_%s", s.Version, t.OS, t.Arch),
		}
		if t.OS == "darwin" {
			c.Units = g.Launchd
		}
		tgz := filepath.Join(o.Out, c.TarballTopName+".tar.gz")
		if err := writeFile(tgz, func(w io.Writer) error { return writeTarGz(w, tarballFiles(c, t.OS), s.Date) }); err != nil {
			return err
		}
		artifacts = append(artifacts, tgz)
		if t.OS != "linux" {
			continue
		}
		c.Man, c.Units, c.ExampleConfig = g.ManGz, g.SystemdPkg, exConfig
		for _, format := range []string{"deb", "rpm"} {
			c.PackageFormat = format
			info := nfpmInfo(format, t.Arch, s.Version.packageVersion(), packageFiles(c), scripts, s.Date)
			p, err := writePackage(o.Out, format, info)
			if err != nil {
				return err
			}
			artifacts = append(artifacts, p)
		}
	}
	sums := filepath.Join(o.Out, "SHA256SUMS")
	if err := writeFile(sums, func(w io.Writer) error { return writeSums(w, artifacts) }); err != nil {
		return err
	}
	for _, a := range append(artifacts, sums) {
		fmt.Fprintln(stdout, a)
	}
	fmt.Fprintf(stderr, "release %s: %d artifacts in %s (%.0fs)\n", s.Version, len(artifacts)+1, o.Out, time.Since(start).Seconds())
	return nil
}

// writeFile creates path and fills it with fill, leaving no half-written file behind on error.
func writeFile(path string, fill func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := fill(f); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// writeSums writes "HASH  NAME" lines, sorted by name, in the form `sha256sum -c SHA256SUMS`
// checks from the directory that holds them.
func writeSums(w io.Writer, paths []string) error {
	paths = slices.Clone(paths)
	slices.SortFunc(paths, func(a, b string) int { return strings.Compare(filepath.Base(a), filepath.Base(b)) })
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), filepath.Base(p)); err != nil {
			return err
		}
	}
	return nil
}
