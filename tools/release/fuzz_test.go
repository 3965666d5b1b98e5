package main

import (
	"regexp"
	"strings"
	"testing"
)

// debUpstream is what dpkg accepts in an upstream version without a Debian revision (and rpm
// in a version): it starts with a digit and holds no hyphen.
var debUpstream = regexp.MustCompile(`^[0-9][0-9A-Za-z.+~]*$`)

// FuzzParseVersion: no panic; an accepted version prints back as given (less a leading v),
// parses again to the same parts, and maps to a version dpkg and rpm accept.
func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"0.3.0", "v0.3.0", "0.3.0-rc.1", "0.3.0-dev+0123456789ab.dirty", "1.2.3-pre-release+build-7", "0.3.0+meta", "", "0.3.0-", "0.3.0-rc..1", "devel", "0.3.0_1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseVersion(s)
		if err != nil {
			return
		}
		if got := r.String(); got != strings.TrimPrefix(s, "v") {
			t.Errorf("parseVersion(%q).String() = %q, want %q", s, got, strings.TrimPrefix(s, "v"))
		}
		again, err := parseVersion(r.String())
		if err != nil || again != r {
			t.Errorf("parseVersion(%q) = %+v, %v; want %+v", r.String(), again, err, r)
		}
		if p := r.packageVersion().String(); !debUpstream.MatchString(p) {
			t.Errorf("packageVersion(%q) = %q, not a valid dpkg/rpm version", s, p)
		}
	})
}

// FuzzParseTargets: no panic, and an accepted list names only supported platforms, once each.
func FuzzParseTargets(f *testing.F) {
	for _, s := range []string{defaultTargets, "linux/amd64", " linux/arm64 , darwin/arm64", "windows/amd64", "linux/amd64,linux/amd64", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := parseTargets(s)
		if err != nil {
			return
		}
		seen := map[target]bool{}
		for _, tg := range ts {
			if seen[tg] || !strings.Contains(defaultTargets, tg.String()) {
				t.Errorf("parseTargets(%q) = %v: %s twice or unsupported", s, ts, tg)
			}
			seen[tg] = true
		}
	})
}
