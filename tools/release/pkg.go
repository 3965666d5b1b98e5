package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
	"github.com/goreleaser/nfpm/v2/rpm"
)

// Package metadata. The maintainer address is a placeholder until the project has one.
const (
	pkgName       = "firewarden"
	pkgMaintainer = "firewarden maintainers <maintainers@firewarden.invalid>"
	pkgHomepage   = "https://github.com/firewarden/firewarden"
	pkgLicense    = "Apache-2.0"
	pkgVendor     = "firewarden"
	pkgSummary    = "host firewall posture, tamper detection and brute-force bans"
	pkgBuildHost  = "firewarden-release" // rpm records a build host; the real one would vary
)

// pkgDescription is the package description; its first line is the summary. Debian wants the
// rest indented by one space, which nfpm does.
const pkgDescription = pkgSummary + `
firewarden keeps a host firewall (nftables on Linux, the Application Firewall
and pf on macOS) in the state an organisation promised its auditors, writes
hash-chained evidence, detects tampering and bans brute-force sources.
The package installs systemd units but does not enable or start them:
start the guard with "systemctl enable --now firewarden-guard.service".`

// description is pkgDescription for a .deb, whose first line is the synopsis; rpm keeps the
// summary in its own tag, so its description starts at the second line.
func description(format string) string {
	if format == "rpm" {
		_, rest, _ := strings.Cut(pkgDescription, "\n")
		return rest
	}
	return pkgDescription
}

// postinstall only makes systemd see the new or changed units. Enabling or starting a daemon
// that changes the firewall is the administrator's decision, so no script here does either.
const postinstall = `#!/bin/sh
# firewarden: make systemd read the installed units. Nothing is enabled or started.
set -e
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl daemon-reload || true
fi
exit 0
`

// preremoveTmpl stops and disables the units when the package is removed (not upgraded), so
// no unit is left running, or enabled by a dangling link, after its file is gone. dpkg passes
// "remove"; rpm passes the number of versions left, 0 on removal.
const preremoveTmpl = `#!/bin/sh
# firewarden: on removal (not upgrade), stop and disable the units this package installed.
set -e
case "$1" in
remove|0)
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
		systemctl disable --now %s >/dev/null 2>&1 || true
	fi
	;;
esac
exit 0
`

// postremove forgets the removed units.
const postremove = postinstall

// nfpmInfo is the nfpm description of the .deb or .rpm for arch (GOARCH) holding fs.
func nfpmInfo(format, arch string, v packageVersion, fs []file, scripts nfpm.Scripts, mtime time.Time) *nfpm.Info {
	var cs files.Contents
	for _, f := range fs {
		typ := files.TypeFile
		switch {
		case f.Src == "":
			typ = files.TypeDir
		case f.Config:
			typ = files.TypeConfigNoReplace
		}
		cs = append(cs, &files.Content{
			Source:      f.Src,
			Destination: f.Dst,
			Type:        typ,
			FileInfo:    &files.ContentFileInfo{Owner: "root", Group: "root", Mode: f.Mode, MTime: mtime},
		})
	}
	info := &nfpm.Info{
		Name:            pkgName,
		Arch:            arch,
		Platform:        "linux",
		Version:         v.Version,
		VersionSchema:   "none", // the parts are set here; nfpm must not re-split them
		Prerelease:      v.Prerelease,
		VersionMetadata: v.Metadata,
		Section:         "net",
		Priority:        "optional",
		Maintainer:      pkgMaintainer,
		Description:     description(format),
		Vendor:          pkgVendor,
		Homepage:        pkgHomepage,
		License:         pkgLicense,
		MTime:           mtime,
		Overridables: nfpm.Overridables{
			Recommends: []string{"nftables"},
			Contents:   cs,
			Umask:      0o022,
			Scripts:    scripts,
			RPM:        nfpm.RPM{Summary: pkgSummary, Group: "System Environment/Daemons", BuildHost: pkgBuildHost, Packager: pkgMaintainer},
		},
	}
	return nfpm.WithDefaults(info)
}

// writeScripts writes the maintainer scripts into dir; units are the systemd unit names.
func writeScripts(dir string, units []string) (nfpm.Scripts, error) {
	s := nfpm.Scripts{
		PostInstall: filepath.Join(dir, "postinstall.sh"),
		PreRemove:   filepath.Join(dir, "preremove.sh"),
		PostRemove:  filepath.Join(dir, "postremove.sh"),
	}
	body := map[string]string{
		s.PostInstall: postinstall,
		s.PreRemove:   fmt.Sprintf(preremoveTmpl, strings.Join(units, " ")),
		s.PostRemove:  postremove,
	}
	for p, b := range body {
		if err := os.WriteFile(p, []byte(b), 0o755); err != nil {
			return nfpm.Scripts{}, err
		}
	}
	return s, nil
}

// packager returns nfpm's packager for format and the file name it conventionally gets
// (firewarden_0.3.0_amd64.deb, firewarden-0.3.0-1.x86_64.rpm).
func packager(format string, info *nfpm.Info) (nfpm.Packager, string, error) {
	var p interface {
		nfpm.Packager
		ConventionalFileName(*nfpm.Info) string
	}
	switch format {
	case "deb":
		p = deb.Default
	case "rpm":
		p = rpm.DefaultRPM
	default:
		return nil, "", fmt.Errorf("unknown package format %q", format)
	}
	// ConventionalFileName rewrites fields of its argument (the rpm architecture), so it gets a copy.
	c := *info
	return p, p.ConventionalFileName(&c), nil
}

// writePackage writes the package for info into dir and returns its path.
func writePackage(dir, format string, info *nfpm.Info) (string, error) {
	p, name, err := packager(format, info)
	if err != nil {
		return "", err
	}
	if err := info.Validate(); err != nil {
		return "", fmt.Errorf("%s package: %w", format, err)
	}
	out := filepath.Join(dir, name)
	f, err := os.Create(out)
	if err != nil {
		return "", err
	}
	if err := p.Package(info, f); err != nil {
		f.Close()
		return "", fmt.Errorf("%s package: %w", format, err)
	}
	return out, f.Close()
}
