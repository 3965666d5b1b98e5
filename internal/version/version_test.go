package version

import (
	"regexp"
	"runtime/debug"
	"testing"
)

func TestCompute(t *testing.T) {
	const sha = "abc123456789def0123456789abcdef012345678"
	vcs := func(version string, modified string) *debug.BuildInfo {
		bi := &debug.BuildInfo{Main: debug.Module{Version: version}}
		bi.Settings = append(bi.Settings, debug.BuildSetting{Key: "vcs.revision", Value: sha})
		if modified != "" {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: "vcs.modified", Value: modified})
		}
		return bi
	}
	for _, tt := range []struct {
		name, version, commit string
		bi                    *debug.BuildInfo
		ok                    bool
		want                  string
	}{
		{"ldflags release", "0.3.0", sha, vcs("(devel)", "false"), true, "0.3.0"},
		{"ldflags with v", "v0.3.0", "", nil, false, "0.3.0"},
		{"go install at a tag", "", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.3.1"}}, true, "0.3.1"},
		{"go install at a pre-release", "", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.3.0-rc.1"}}, true, "0.3.0-rc.1"},
		{"clean checkout", "", "", vcs("(devel)", "false"), true, "0.3.0-dev+abc123456789"},
		{"dirty checkout", "", "", vcs("(devel)", "true"), true, "0.3.0-dev+abc123456789.dirty"},
		{"pseudo-version is a dev build", "", "", vcs("v0.0.0-20261206120000-abc123456789", "false"), true, "0.3.0-dev+abc123456789"},
		{"dirty tag is a dev build", "", "", vcs("v0.3.0+dirty", "true"), true, "0.3.0-dev+abc123456789.dirty"},
		{"commit from ldflags only", "", sha, &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true, "0.3.0-dev+abc123456789"},
		{"no VCS information", "", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true, "0.3.0-dev"},
		{"no build information", "", "", nil, false, "0.3.0-dev"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := compute(tt.version, tt.commit, tt.bi, tt.ok); got != tt.want {
				t.Errorf("compute(%q, %q, …) = %q, want %q", tt.version, tt.commit, got, tt.want)
			}
		})
	}
}

func TestLine(t *testing.T) {
	for _, tt := range []struct{ v, commit, want string }{
		{"0.3.0", "abc1234", "firewarden 0.3.0 (commit abc1234, go1.26.8, darwin/arm64)"},
		{"0.3.0-dev", "", "firewarden 0.3.0-dev (go1.26.8, darwin/arm64)"},
	} {
		if got := line(tt.v, tt.commit, "go1.26.8", "darwin/arm64"); got != tt.want {
			t.Errorf("line(%q, %q) = %q, want %q", tt.v, tt.commit, got, tt.want)
		}
	}
}

// The test binary is built from this checkout: whatever it holds, it is never a bare "devel".
func TestStringOfThisBuild(t *testing.T) {
	if got := String(); !regexp.MustCompile(`^0\.3\.0-dev(\+[0-9a-f]{12}(\.dirty)?)?$`).MatchString(got) {
		t.Errorf("String() = %q, want 0.3.0-dev[+12 hex digits[.dirty]]", got)
	}
	if got := Line(); !regexp.MustCompile(`^firewarden 0\.3\.0-dev\S* \((commit [0-9a-f]{7}, )?go\S+, \w+/\w+\)$`).MatchString(got) {
		t.Errorf("Line() = %q", got)
	}
}
