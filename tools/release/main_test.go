package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunUsageErrors(t *testing.T) {
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "old.tar.gz"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"-bogus"}, "flag provided but not defined: -bogus"},
		{"positional", []string{"dist"}, `unexpected argument "dist"`},
		{"bad target", []string{"-targets", "windows/amd64"}, `-targets: "windows/amd64" is not one of`},
		{"bad version", []string{"-out", t.TempDir(), "-version", "devel"}, `version "devel" is not of the form`},
		{"full out", []string{"-out", full}, "is not empty; remove it or name another directory"},
	}
	t.Chdir("../..") // the repository's root, where the tool runs
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, &stdout, &stderr)
			var u usageError
			if !errors.As(err, &u) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%q) = %v, want a usage error containing %q", tt.args, err, tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("run(%q) wrote %q to stdout, want nothing", tt.args, stdout.String())
			}
		})
	}
}

// TestResolveStamp builds the stamp in a scratch repository: a clean tree gets the release
// version and the commit's time, a tree with any change (an untracked file too) is refused
// unless -allow-dirty, which makes it a dev version.
func TestResolveStamp(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	gitIn := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE=@1765000000 +0000", "GIT_COMMITTER_DATE=@1765000000 +0000",
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	gitIn("init", "-q")
	if err := os.WriteFile(filepath.Join(dir, "a"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitIn("add", "a")
	gitIn("commit", "-qm", "a")
	commit := gitIn("rev-parse", "HEAD")
	t.Chdir(dir)
	noEnv := func(string) string { return "" }
	ctx := context.Background()

	s, err := resolveStamp(ctx, options{Version: "0.4.0"}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if s.Version.String() != "0.4.0" || s.Commit != commit || s.Date.Unix() != 1765000000 {
		t.Errorf("resolveStamp(clean) = %s %s %v, want 0.4.0 %s at 1765000000", s.Version, s.Commit, s.Date, commit)
	}
	if !strings.Contains(s.ldflags(), "internal/version.Date=2025-12-06T05:46:40Z") {
		t.Errorf("ldflags() = %q, want the date in RFC 3339 UTC", s.ldflags())
	}

	if err := os.WriteFile(filepath.Join(dir, "untracked"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = resolveStamp(ctx, options{Version: "0.4.0"}, noEnv)
	var u usageError
	if !errors.As(err, &u) || !strings.Contains(err.Error(), "-allow-dirty") {
		t.Errorf("resolveStamp(dirty) = %v, want a usage error naming -allow-dirty", err)
	}
	s, err = resolveStamp(ctx, options{Version: "0.4.0", AllowDirty: true}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if want := "0.4.0-dev+" + commit[:12] + ".dirty"; s.Version.String() != want {
		t.Errorf("resolveStamp(dirty, -allow-dirty) version = %s, want %s", s.Version, want)
	}
}
