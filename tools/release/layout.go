package main

import (
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// contents are the files on disk that go into one tarball or package.
type contents struct {
	Binary         string
	README         string
	License        string
	Man            []string // firewarden.1, firewarden-CMD.1 …; gzipped ones for packages
	Bash, Zsh      string
	Fish           string
	Units          []string // systemd units (linux) or launchd plists (darwin)
	Examples       []file   // Dst relative to examples/
	ExampleConfig  string   // examples/firewarden.yaml, or "" when the tree has none
	PackageFormat  string   // "deb" or "rpm" for packages, "" for tarballs
	TarballTopName string   // firewarden_V_OS_ARCH for tarballs
}

// tarballFiles is the layout of a tarball: everything under one folder named like the
// tarball, so unpacking it never spills into the current directory.
func tarballFiles(c contents, goos string) []file {
	top := c.TarballTopName
	fs := []file{
		{Dst: top + "/firewarden", Src: c.Binary, Mode: 0o755},
		{Dst: top + "/README.md", Src: c.README, Mode: 0o644},
		{Dst: top + "/LICENSE", Src: c.License, Mode: 0o644},
		{Dst: top + "/completions/firewarden.bash", Src: c.Bash, Mode: 0o644},
		{Dst: top + "/completions/_firewarden", Src: c.Zsh, Mode: 0o644},
		{Dst: top + "/completions/firewarden.fish", Src: c.Fish, Mode: 0o644},
	}
	for _, m := range c.Man {
		fs = append(fs, file{Dst: top + "/man/" + filepath.Base(m), Src: m, Mode: 0o644})
	}
	units := "systemd"
	if goos == "darwin" {
		units = "launchd"
	}
	for _, u := range c.Units {
		fs = append(fs, file{Dst: top + "/" + units + "/" + filepath.Base(u), Src: u, Mode: 0o644})
	}
	for _, e := range c.Examples {
		fs = append(fs, file{Dst: top + "/examples/" + e.Dst, Src: e.Src, Mode: e.Mode})
	}
	return fs
}

// Where the packages put things (DECISIONS12.md). zsh looks in a different vendor folder on
// Debian (vendor-completions) and on Fedora/RHEL (site-functions), so the .rpm uses the
// latter: a completion in a folder that is not on zsh's fpath would never load.
const (
	pkgBinary     = "/usr/bin/firewarden"
	pkgMan1       = "/usr/share/man/man1/"
	pkgBash       = "/usr/share/bash-completion/completions/firewarden"
	pkgZshDeb     = "/usr/share/zsh/vendor-completions/_firewarden"
	pkgZshRPM     = "/usr/share/zsh/site-functions/_firewarden"
	pkgFish       = "/usr/share/fish/vendor_completions.d/firewarden.fish"
	pkgUnits      = "/usr/lib/systemd/system/"
	pkgDoc        = "/usr/share/doc/firewarden/"
	pkgConfig     = "/etc/firewarden/firewarden.yaml"
	tarballBinary = "/usr/local/bin/firewarden" // what the tarballs' service files run
)

// packageFiles is the layout of the .deb or .rpm (c.PackageFormat).
func packageFiles(c contents) []file {
	zsh := pkgZshDeb
	if c.PackageFormat == "rpm" {
		zsh = pkgZshRPM
	}
	fs := []file{
		{Dst: pkgBinary, Src: c.Binary, Mode: 0o755},
		{Dst: pkgBash, Src: c.Bash, Mode: 0o644},
		{Dst: zsh, Src: c.Zsh, Mode: 0o644},
		{Dst: pkgFish, Src: c.Fish, Mode: 0o644},
		{Dst: pkgDoc + "README.md", Src: c.README, Mode: 0o644},
		{Dst: pkgDoc + "LICENSE", Src: c.License, Mode: 0o644},
	}
	for _, m := range c.Man {
		fs = append(fs, file{Dst: pkgMan1 + filepath.Base(m), Src: m, Mode: 0o644})
	}
	for _, u := range c.Units {
		fs = append(fs, file{Dst: pkgUnits + filepath.Base(u), Src: u, Mode: 0o644})
	}
	for _, e := range c.Examples {
		fs = append(fs, file{Dst: path.Join(pkgDoc, "examples", e.Dst), Src: e.Src, Mode: e.Mode})
	}
	if c.ExampleConfig != "" {
		fs = append(fs, file{Dst: pkgConfig, Src: c.ExampleConfig, Mode: 0o644, Config: true})
	}
	if c.PackageFormat == "rpm" {
		fs = append(fs, ownedDirs(fs)...)
	}
	return fs
}

// ownedDirs are the directories only firewarden uses (/usr/share/doc/firewarden and below,
// /etc/firewarden), as entries with Src "". rpm, unlike dpkg, removes only the directories a
// package lists, so without them an erase would leave these behind, empty.
func ownedDirs(fs []file) []file {
	var out []file
	seen := map[string]bool{}
	for _, f := range fs {
		for _, root := range []string{strings.TrimSuffix(pkgDoc, "/"), path.Dir(pkgConfig)} {
			if !strings.HasPrefix(f.Dst, root+"/") {
				continue
			}
			for d := path.Dir(f.Dst); !seen[d] && strings.HasPrefix(d+"/", root+"/"); d = path.Dir(d) {
				seen[d] = true
				out = append(out, file{Dst: d, Mode: 0o755})
			}
		}
	}
	slices.SortFunc(out, func(a, b file) int { return strings.Compare(a.Dst, b.Dst) })
	return out
}
