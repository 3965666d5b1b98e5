package main

import (
	"fmt"
	"regexp"
	"strings"
)

// semver is the version form the release tool accepts: MAJOR.MINOR.PATCH, an optional
// pre-release after "-" and optional build metadata after "+", as version.String prints them
// (0.3.0, 0.3.0-rc.1, 0.3.0-dev+0123456789ab.dirty).
var semver = regexp.MustCompile(`^([0-9]+\.[0-9]+\.[0-9]+)(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$`)

// release is a parsed version.
type release struct {
	Core, Pre, Meta string
}

// String is the version as firewarden prints it and as the tarballs are named.
func (r release) String() string {
	s := r.Core
	if r.Pre != "" {
		s += "-" + r.Pre
	}
	if r.Meta != "" {
		s += "+" + r.Meta
	}
	return s
}

// parseVersion accepts the forms semver describes; a leading "v", as in a git tag, is dropped.
func parseVersion(s string) (release, error) {
	m := semver.FindStringSubmatch(strings.TrimPrefix(s, "v"))
	if m == nil || emptyField(m[2]) || emptyField(m[3]) {
		return release{}, fmt.Errorf("version %q is not of the form 0.3.0, 0.3.0-rc.1 or 0.3.0-dev+0123abc; pass one with -version", s)
	}
	return release{Core: m[1], Pre: m[2], Meta: m[3]}, nil
}

// emptyField reports a dot-separated part that is empty ("rc..1", "rc."), which semver forbids.
func emptyField(s string) bool {
	if s == "" {
		return false
	}
	for _, f := range strings.Split(s, ".") {
		if f == "" {
			return true
		}
	}
	return false
}

// packageVersion is what .deb and .rpm record: upstream version, pre-release, metadata. Both
// dpkg and rpm sort "~" before anything, even the end of the string, so 0.3.0~dev sorts before
// 0.3.0 as semver's 0.3.0-dev does; "-" would be read as a Debian revision or refused by rpm,
// so the hyphens semver allows inside the parts become dots. dpkg and rpm both accept "+" and
// "." in a version.
type packageVersion struct {
	Version, Prerelease, Metadata string
}

func (r release) packageVersion() packageVersion {
	dots := strings.NewReplacer("-", ".")
	return packageVersion{Version: r.Core, Prerelease: dots.Replace(r.Pre), Metadata: dots.Replace(r.Meta)}
}

// String is the version string dpkg shows for the package (nfpm adds no Debian revision);
// rpm shows the same followed by the release "-1".
func (p packageVersion) String() string {
	s := p.Version
	if p.Prerelease != "" {
		s += "~" + p.Prerelease
	}
	if p.Metadata != "" {
		s += "+" + p.Metadata
	}
	return s
}

// devVersion is the version of a build from a tree with uncommitted changes: never the release
// itself, so nobody can mistake it for one. It has the form version.String gives such a build.
func devVersion(r release, commit string) release {
	short := commit
	if len(short) > 12 {
		short = short[:12]
	}
	return release{Core: r.Core, Pre: "dev", Meta: short + ".dirty"}
}
