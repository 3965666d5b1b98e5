package host

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRootPath(t *testing.T) {
	r, err := NewRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"/usr/bin/defaults":                    "/usr/bin/defaults",
		"/../../etc/passwd":                    "/etc/passwd",
		"usr/libexec/x":                        "/usr/libexec/x",
		"/Library/Managed Preferences/x.plist": "/Library/Managed Preferences/x.plist",
	} {
		got := r.Path(in)
		if got != filepath.Join(r.Dir(), want) {
			t.Errorf("Path(%q) = %q, want %q", in, got, filepath.Join(r.Dir(), want))
		}
		if rel := r.Rel(got); rel != want {
			t.Errorf("Rel(Path(%q)) = %q, want %q", in, rel, want)
		}
	}
	if _, err := NewRoot(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("NewRoot(missing) = nil error, want one")
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  OS
		err   string
	}{
		{"macOS", map[string]string{SystemVersionPlist: `<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict><key>ProductBuildVersion</key><string>24B83</string><key>ProductName</key><string>macOS</string><key>ProductVersion</key><string>15.1</string></dict></plist>`},
			OS{Kind: MacOS, Name: "macOS", Version: "15.1", Build: "24B83", Major: 15, Minor: 1}, ""},
		{"Debian", map[string]string{OSRelease: "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n"},
			OS{Kind: Linux, Name: "Debian GNU/Linux 12 (bookworm)", Version: "12", Major: 12}, ""},
		{"nothing", nil, OS{Kind: Unknown}, ""},
		{"broken plist", map[string]string{SystemVersionPlist: "garbage"}, OS{}, "parse /System/Library/CoreServices/SystemVersion.plist"},
		{"bad version", map[string]string{SystemVersionPlist: `<plist><dict><key>ProductVersion</key><string>fifteen</string></dict></plist>`}, OS{}, "not a version number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for p, content := range tt.files {
				full := filepath.Join(dir, p)
				os.MkdirAll(filepath.Dir(full), 0o755)
				os.WriteFile(full, []byte(content), 0o644)
			}
			r, _ := NewRoot(dir)
			got, err := Detect(r)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Detect() error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Detect() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOSAtLeast(t *testing.T) {
	o := OS{Major: 15, Minor: 4}
	for _, tt := range []struct {
		major, minor int
		want         bool
	}{{15, 4, true}, {15, 5, false}, {14, 9, true}, {16, 0, false}} {
		if got := o.AtLeast(tt.major, tt.minor); got != tt.want {
			t.Errorf("OS{15.4}.AtLeast(%d, %d) = %v, want %v", tt.major, tt.minor, got, tt.want)
		}
	}
}

func writeScript(t *testing.T, root, sys, body string) {
	t.Helper()
	p := filepath.Join(root, sys)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestExecRunner(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "/usr/bin/ok", `echo "out $1"; echo err >&2`)
	writeScript(t, dir, "/usr/bin/fail", `echo nope >&2; exit 3`)
	writeScript(t, dir, "/usr/bin/big", `i=0; while [ $i -lt 2000 ]; do echo 0123456789; i=$((i+1)); done`)
	writeScript(t, dir, "/usr/bin/slow", `sleep 5`)
	root, _ := NewRoot(dir)
	r := ExecRunner{Root: root, Timeout: 300 * time.Millisecond, MaxOutput: 1000}
	ctx := context.Background()

	res, err := r.Run(ctx, Cmd{Path: "/usr/bin/ok", Args: []string{"a b"}})
	if err != nil || string(res.Stdout) != "out a b\n" || string(res.Stderr) != "err\n" || res.ExitCode != 0 {
		t.Errorf("Run(ok) = %+v, %v", res, err)
	}
	if diff := cmp.Diff([]string{"/usr/bin/ok", "a b"}, res.Argv); diff != "" {
		t.Errorf("Run(ok) argv mismatch (-want +got):\n%s", diff)
	}

	res, err = r.Run(ctx, Cmd{Path: "/usr/bin/fail"})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 3 || res.ExitCode != 3 || !strings.Contains(err.Error(), "nope") {
		t.Errorf("Run(fail) = %+v, %v; want ExitError 3 mentioning stderr", res, err)
	}

	res, err = r.Run(ctx, Cmd{Path: "/usr/bin/big"})
	if err != nil || len(res.Stdout) != 1000 || !res.Truncated {
		t.Errorf("Run(big) = %d bytes, truncated %v, %v; want 1000, true, nil", len(res.Stdout), res.Truncated, err)
	}

	if _, err = r.Run(ctx, Cmd{Path: "/usr/bin/slow"}); err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("Run(slow) error = %v, want a time-out", err)
	}
	if _, err = r.Run(ctx, Cmd{Path: "/usr/bin/missing"}); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("Run(missing) error = %v, want ErrNotInstalled", err)
	}
	if _, err = r.Run(ctx, Cmd{Path: "relative"}); err == nil {
		t.Error("Run(relative path) = nil error, want refusal")
	}
}

func TestQuoteArgv(t *testing.T) {
	got := QuoteArgv([]string{"/usr/bin/x", "--add", "/Applications/My App.app", "it's", ""})
	want := `/usr/bin/x --add '/Applications/My App.app' 'it'\''s' ''`
	if got != want {
		t.Errorf("QuoteArgv() = %s, want %s", got, want)
	}
}

func FuzzParseOSRelease(f *testing.F) {
	f.Add([]byte("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if o := parseOSRelease(data); o.Kind != Linux || o.Name == "" {
			t.Errorf("parseOSRelease(%q) = %+v", data, o)
		}
	})
}

func FuzzParseSystemVersion(f *testing.F) {
	f.Add([]byte(`<plist><dict><key>ProductVersion</key><string>15.1</string></dict></plist>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := parseSystemVersion(data)
		if err == nil && (o.Kind != MacOS || o.Version == "") {
			t.Errorf("parseSystemVersion(%q) = %+v", data, o)
		}
	})
}
