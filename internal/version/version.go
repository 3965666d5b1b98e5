// Package version names the build of firewarden: the release stamped in with -ldflags, or the
// next release marked as a development build with the commit it was built from.
package version

import (
	"fmt"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
)

// Base is the next release. A build that is not a release reports Base-dev.
const Base = "0.3.0"

// Version, Commit and Date are set by the release build:
//
//	-ldflags "-X github.com/firewarden/firewarden/internal/version.Version=0.3.0
//	          -X github.com/firewarden/firewarden/internal/version.Commit=<full sha>
//	          -X github.com/firewarden/firewarden/internal/version.Date=<RFC 3339>"
//
// They are variables only because -X can set nothing else; nothing in firewarden writes them.
var Version, Commit, Date string

// String is the version of this build: Version when the release build set it; the module
// version when the binary was installed with `go install …@vX.Y.Z`; otherwise Base-dev plus the
// first 12 hex digits of the commit (and ".dirty" when the tree had changes), or Base-dev alone
// when the build has no VCS information. Never a bare "devel".
func String() string {
	bi, ok := debug.ReadBuildInfo()
	return compute(Version, Commit, bi, ok)
}

// Line is the one line `firewarden --version` prints, e.g.
// "firewarden 0.3.0 (commit abc1234, go1.26.8, linux/amd64)".
func Line() string {
	bi, ok := debug.ReadBuildInfo()
	return line(compute(Version, Commit, bi, ok), shortCommit(Commit, bi, ok), runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
}

func line(v, commit, goVersion, platform string) string {
	parts := []string{goVersion, platform}
	if commit != "" {
		parts = append([]string{"commit " + commit}, parts...)
	}
	return fmt.Sprintf("firewarden %s (%s)", v, strings.Join(parts, ", "))
}

// release is a plain module version such as v0.3.0 or v0.3.0-rc.1, as `go install …@v0.3.0`
// records it; pseudo-versions (v0.0.0-20260101120000-abcdef123456) and "+dirty" builds do not
// match, and are development builds.
var (
	release = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$`)
	pseudo  = regexp.MustCompile(`[0-9]{14}-[0-9a-f]{12}$`)
)

func compute(v, commit string, bi *debug.BuildInfo, ok bool) string {
	if v != "" {
		return strings.TrimPrefix(v, "v")
	}
	if ok && release.MatchString(bi.Main.Version) && !pseudo.MatchString(bi.Main.Version) {
		return strings.TrimPrefix(bi.Main.Version, "v")
	}
	rev, dirty := commit, false
	if ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if rev == "" {
					rev = s.Value
				}
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if len(rev) < 12 {
		return Base + "-dev"
	}
	v = Base + "-dev+" + rev[:12]
	if dirty {
		v += ".dirty"
	}
	return v
}

// shortCommit is the commit in the 7-digit form git prints, or "" when unknown.
func shortCommit(commit string, bi *debug.BuildInfo, ok bool) string {
	if commit == "" && ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				commit = s.Value
			}
		}
	}
	if len(commit) < 7 {
		return commit
	}
	return commit[:7]
}
