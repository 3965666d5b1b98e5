package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in        string
		want      release
		deb, rpmV string // packageVersion().String(); rpm adds "-1"
		wantErr   bool
	}{
		{in: "0.3.0", want: release{Core: "0.3.0"}, deb: "0.3.0"},
		{in: "v0.3.0", want: release{Core: "0.3.0"}, deb: "0.3.0"},
		{in: "0.3.0-rc.1", want: release{Core: "0.3.0", Pre: "rc.1"}, deb: "0.3.0~rc.1"},
		{in: "0.3.0-dev+0123456789ab", want: release{Core: "0.3.0", Pre: "dev", Meta: "0123456789ab"}, deb: "0.3.0~dev+0123456789ab"},
		{in: "0.3.0-dev+0123456789ab.dirty", want: release{Core: "0.3.0", Pre: "dev", Meta: "0123456789ab.dirty"}, deb: "0.3.0~dev+0123456789ab.dirty"},
		{in: "1.2.3-pre-release+build-7", want: release{Core: "1.2.3", Pre: "pre-release", Meta: "build-7"}, deb: "1.2.3~pre.release+build.7"},
		{in: "0.3.0+meta", want: release{Core: "0.3.0", Meta: "meta"}, deb: "0.3.0+meta"},
		{in: "", wantErr: true},
		{in: "0.3", wantErr: true},
		{in: "0.3.0-", wantErr: true},
		{in: "0.3.0-rc..1", wantErr: true},
		{in: "0.3.0+", wantErr: true},
		{in: "0.3.0 ", wantErr: true},
		{in: "0.3.0_1", wantErr: true},
		{in: "0.3.0-rc~1", wantErr: true},
		{in: "devel", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseVersion(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseVersion(%q) = %+v, want an error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseVersion(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("parseVersion(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if s := got.String(); s != strings.TrimPrefix(tt.in, "v") {
				t.Errorf("parseVersion(%q).String() = %q, want %q", tt.in, s, strings.TrimPrefix(tt.in, "v"))
			}
			if p := got.packageVersion().String(); p != tt.deb {
				t.Errorf("packageVersion(%q) = %q, want %q", tt.in, p, tt.deb)
			}
		})
	}
}

func TestDevVersion(t *testing.T) {
	r := release{Core: "0.3.0", Pre: "rc.1"}
	got := devVersion(r, "0123456789abcdef0123456789abcdef01234567").String()
	if want := "0.3.0-dev+0123456789ab.dirty"; got != want {
		t.Errorf("devVersion(0.3.0-rc.1) = %q, want %q", got, want)
	}
}

// TestPackageVersionsDpkg asks dpkg whether it accepts the mapped versions and sorts them as
// semver does: a dev or rc build before its release, and after the release before it.
func TestPackageVersionsDpkg(t *testing.T) {
	dpkg, err := exec.LookPath("dpkg")
	if err != nil {
		t.Skip("dpkg not installed; on Debian: apt-get install dpkg")
	}
	order := []string{"0.2.9", "0.3.0-dev+0123456789ab.dirty", "0.3.0-rc.1", "0.3.0-rc.2", "0.3.0", "0.3.1-dev"}
	var pv []string
	for _, v := range order {
		r, err := parseVersion(v)
		if err != nil {
			t.Fatal(err)
		}
		pv = append(pv, r.packageVersion().String())
	}
	for i := range pv {
		if out, err := exec.Command(dpkg, "--validate-version", pv[i]).CombinedOutput(); err != nil {
			t.Errorf("dpkg --validate-version %s: %v: %s", pv[i], err, out)
		}
		if i > 0 {
			if err := exec.Command(dpkg, "--compare-versions", pv[i-1], "lt", pv[i]).Run(); err != nil {
				t.Errorf("dpkg --compare-versions %s lt %s: false, want true (%s before %s)", pv[i-1], pv[i], order[i-1], order[i])
			}
		}
	}
}

func TestParseTargets(t *testing.T) {
	tests := []struct {
		in      string
		want    []target
		wantErr bool
	}{
		{in: defaultTargets, want: []target{{"darwin", "amd64"}, {"darwin", "arm64"}, {"linux", "amd64"}, {"linux", "arm64"}}},
		{in: "linux/amd64", want: []target{{"linux", "amd64"}}},
		{in: " linux/arm64 , darwin/arm64", want: []target{{"linux", "arm64"}, {"darwin", "arm64"}}},
		{in: "windows/amd64", wantErr: true},
		{in: "linux/amd64,linux/amd64", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseTargets(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseTargets(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseTargets(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestSourceDate(t *testing.T) {
	env := map[string]string{"SOURCE_DATE_EPOCH": "1765000000"}
	got, err := sourceDate(context.Background(), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Unix(1765000000, 0).UTC(); !got.Equal(want) {
		t.Errorf("sourceDate(SOURCE_DATE_EPOCH=1765000000) = %v, want %v", got, want)
	}
	env["SOURCE_DATE_EPOCH"] = "yesterday"
	if _, err := sourceDate(context.Background(), func(k string) string { return env[k] }); err == nil {
		t.Errorf("sourceDate(SOURCE_DATE_EPOCH=yesterday) = nil error, want one")
	}
}

// tree writes name → content files under a new directory with the given mode and mtime, as
// two checkouts by different people with different umasks at different times would.
func tree(t *testing.T, files map[string]string, mode os.FileMode, mtime time.Time) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func tarFiles(dir string) []file {
	return []file{
		{Dst: "top/man/firewarden.1", Src: filepath.Join(dir, "man.1"), Mode: 0o644},
		{Dst: "top/firewarden", Src: filepath.Join(dir, "bin"), Mode: 0o755},
		{Dst: "top/README.md", Src: filepath.Join(dir, "README.md"), Mode: 0o644},
		{Dst: "top/examples/sub/x.yaml", Src: filepath.Join(dir, "x.yaml"), Mode: 0o644},
	}
}

func TestWriteTarGzDeterministic(t *testing.T) {
	content := map[string]string{"man.1": ".TH X 1\n", "bin": "\x7fELF binary", "README.md": "# readme\n", "x.yaml": "a: 1\n"}
	date := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	a := tree(t, content, 0o600, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	b := tree(t, content, 0o777, time.Date(2025, 6, 1, 3, 4, 5, 6, time.UTC))
	var ba, bb bytes.Buffer
	if err := writeTarGz(&ba, tarFiles(a), date); err != nil {
		t.Fatal(err)
	}
	if err := writeTarGz(&bb, tarFiles(b), date.Add(500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ba.Bytes(), bb.Bytes()) {
		t.Fatalf("writeTarGz gave different bytes for the same contents from two trees (%d and %d bytes)", ba.Len(), bb.Len())
	}

	zr, err := gzip.NewReader(&ba)
	if err != nil {
		t.Fatal(err)
	}
	if zr.Name != "" || !zr.ModTime.IsZero() {
		t.Errorf("gzip header name %q time %v, want neither", zr.Name, zr.ModTime)
	}
	type entry struct {
		Name         string
		Type         byte
		Mode         int64
		UID, GID     int
		Uname, Gname string
		ModTime      time.Time
		Content      string
	}
	var got []entry
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		got = append(got, entry{h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime.UTC(), string(body)})
	}
	dir := func(name string) entry { return entry{name, tar.TypeDir, 0o755, 0, 0, "root", "root", date, ""} }
	reg := func(name string, mode int64, content string) entry {
		return entry{name, tar.TypeReg, mode, 0, 0, "root", "root", date, content}
	}
	want := []entry{
		dir("top/"),
		reg("top/README.md", 0o644, "# readme\n"),
		dir("top/examples/"),
		dir("top/examples/sub/"),
		reg("top/examples/sub/x.yaml", 0o644, "a: 1\n"),
		reg("top/firewarden", 0o755, "\x7fELF binary"),
		dir("top/man/"),
		reg("top/man/firewarden.1", 0o644, ".TH X 1\n"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tarball entries (-want +got):\n%s", diff)
	}
}

func TestWriteTarGzRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	var b bytes.Buffer
	err := writeTarGz(&b, []file{{Dst: "top/x", Src: dir, Mode: 0o644}}, time.Unix(0, 0))
	if err == nil {
		t.Errorf("writeTarGz(a directory as a file) = nil error, want one")
	}
}

func TestGzipFile(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "firewarden.1")
	if err := os.WriteFile(src, []byte(".TH FIREWARDEN 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var outs [][]byte
	for i, mtime := range []time.Time{time.Unix(1000, 0), time.Unix(2000000000, 0)} {
		if err := os.Chtimes(src, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, "out"+string(rune('0'+i))+".gz")
		if err := gzipFile(dst, src); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(dst)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, b)
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Errorf("gzipFile gave different bytes for the same file with another mtime")
	}
	zr, err := gzip.NewReader(bytes.NewReader(outs[0]))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(zr)
	if zr.Name != "" || !zr.ModTime.IsZero() || string(body) != ".TH FIREWARDEN 1\n" {
		t.Errorf("gzipFile: name %q, time %v, body %q; want no name, no time, the page", zr.Name, zr.ModTime, body)
	}
}

// fixture is what generate and examples would give, with made-up paths: the layout functions
// only place files, they never open them.
func fixture() contents {
	return contents{
		Binary: "/w/bin/firewarden", README: "README.md", License: "LICENSE",
		Man:  []string{"/w/man/firewarden.1", "/w/man/firewarden-check.1"},
		Bash: "/w/c/bash", Zsh: "/w/c/zsh", Fish: "/w/c/fish",
		Units:    []string{"/w/u/firewarden-guard.service", "/w/u/firewarden-block-expire.timer"},
		Examples: []file{{Dst: "firewarden.yaml", Src: "examples/firewarden.yaml", Mode: 0o644}, {Dst: "bin/eslogger", Src: "examples/bin/eslogger", Mode: 0o755}},
	}
}

func TestTarballFiles(t *testing.T) {
	c := fixture()
	c.TarballTopName = "firewarden_0.3.0_linux_amd64"
	top := c.TarballTopName + "/"
	want := []file{
		{Dst: top + "firewarden", Src: "/w/bin/firewarden", Mode: 0o755},
		{Dst: top + "README.md", Src: "README.md", Mode: 0o644},
		{Dst: top + "LICENSE", Src: "LICENSE", Mode: 0o644},
		{Dst: top + "completions/firewarden.bash", Src: "/w/c/bash", Mode: 0o644},
		{Dst: top + "completions/_firewarden", Src: "/w/c/zsh", Mode: 0o644},
		{Dst: top + "completions/firewarden.fish", Src: "/w/c/fish", Mode: 0o644},
		{Dst: top + "man/firewarden.1", Src: "/w/man/firewarden.1", Mode: 0o644},
		{Dst: top + "man/firewarden-check.1", Src: "/w/man/firewarden-check.1", Mode: 0o644},
		{Dst: top + "systemd/firewarden-guard.service", Src: "/w/u/firewarden-guard.service", Mode: 0o644},
		{Dst: top + "systemd/firewarden-block-expire.timer", Src: "/w/u/firewarden-block-expire.timer", Mode: 0o644},
		{Dst: top + "examples/firewarden.yaml", Src: "examples/firewarden.yaml", Mode: 0o644},
		{Dst: top + "examples/bin/eslogger", Src: "examples/bin/eslogger", Mode: 0o755},
	}
	if diff := cmp.Diff(want, tarballFiles(c, "linux")); diff != "" {
		t.Errorf("tarballFiles(linux) (-want +got):\n%s", diff)
	}

	c.Units = []string{"/w/l/org.firewarden.guard.plist"}
	got := tarballFiles(c, "darwin")
	var units []string
	for _, f := range got {
		if strings.Contains(f.Dst, "systemd") || strings.Contains(f.Dst, "launchd") {
			units = append(units, f.Dst)
		}
	}
	if diff := cmp.Diff([]string{top + "launchd/org.firewarden.guard.plist"}, units); diff != "" {
		t.Errorf("tarballFiles(darwin) service files (-want +got):\n%s", diff)
	}
}

func TestPackageFiles(t *testing.T) {
	c := fixture()
	c.Man = []string{"/w/gz/firewarden.1.gz"}
	c.ExampleConfig = "examples/firewarden.yaml"
	c.PackageFormat = "deb"
	want := []file{
		{Dst: "/usr/bin/firewarden", Src: "/w/bin/firewarden", Mode: 0o755},
		{Dst: "/usr/share/bash-completion/completions/firewarden", Src: "/w/c/bash", Mode: 0o644},
		{Dst: "/usr/share/zsh/vendor-completions/_firewarden", Src: "/w/c/zsh", Mode: 0o644},
		{Dst: "/usr/share/fish/vendor_completions.d/firewarden.fish", Src: "/w/c/fish", Mode: 0o644},
		{Dst: "/usr/share/doc/firewarden/README.md", Src: "README.md", Mode: 0o644},
		{Dst: "/usr/share/doc/firewarden/LICENSE", Src: "LICENSE", Mode: 0o644},
		{Dst: "/usr/share/man/man1/firewarden.1.gz", Src: "/w/gz/firewarden.1.gz", Mode: 0o644},
		{Dst: "/usr/lib/systemd/system/firewarden-guard.service", Src: "/w/u/firewarden-guard.service", Mode: 0o644},
		{Dst: "/usr/lib/systemd/system/firewarden-block-expire.timer", Src: "/w/u/firewarden-block-expire.timer", Mode: 0o644},
		{Dst: "/usr/share/doc/firewarden/examples/firewarden.yaml", Src: "examples/firewarden.yaml", Mode: 0o644},
		{Dst: "/usr/share/doc/firewarden/examples/bin/eslogger", Src: "examples/bin/eslogger", Mode: 0o755},
		{Dst: "/etc/firewarden/firewarden.yaml", Src: "examples/firewarden.yaml", Mode: 0o644, Config: true},
	}
	if diff := cmp.Diff(want, packageFiles(c)); diff != "" {
		t.Errorf("packageFiles(deb) (-want +got):\n%s", diff)
	}

	c.PackageFormat = "rpm"
	c.ExampleConfig = ""
	want[2].Dst = "/usr/share/zsh/site-functions/_firewarden"
	want = append(want[:len(want)-1],
		file{Dst: "/usr/share/doc/firewarden", Mode: 0o755},
		file{Dst: "/usr/share/doc/firewarden/examples", Mode: 0o755},
		file{Dst: "/usr/share/doc/firewarden/examples/bin", Mode: 0o755},
	)
	if diff := cmp.Diff(want, packageFiles(c)); diff != "" {
		t.Errorf("packageFiles(rpm, no example config) (-want +got):\n%s", diff)
	}
}

func TestGenerate(t *testing.T) {
	fake, err := filepath.Abs("testdata/fakegen.sh")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	g, err := generate(context.Background(), fake, dir)
	if err != nil {
		t.Fatal(err)
	}
	rel := func(ps []string) []string {
		var out []string
		for _, p := range ps {
			r, _ := filepath.Rel(dir, p)
			out = append(out, r)
		}
		return out
	}
	got := map[string][]string{
		"man": rel(g.Man), "man-gz": rel(g.ManGz), "completions": rel([]string{g.Bash, g.Zsh, g.Fish}),
		"systemd-pkg": rel(g.SystemdPkg), "systemd-tar": rel(g.SystemdTar), "launchd": rel(g.Launchd),
		"unit names": g.SystemdUnitNames,
	}
	units := []string{"firewarden-block-expire.service", "firewarden-block-expire.timer", "firewarden-guard.service"}
	prefixed := func(p string, names []string) []string {
		var out []string
		for _, n := range names {
			out = append(out, p+"/"+n)
		}
		return out
	}
	want := map[string][]string{
		"man":         {"man/firewarden-check.1", "man/firewarden.1"},
		"man-gz":      {"man-gz/firewarden-check.1.gz", "man-gz/firewarden.1.gz"},
		"completions": {"completions/bash", "completions/zsh", "completions/fish"},
		"systemd-pkg": prefixed("systemd-pkg", units),
		"systemd-tar": prefixed("systemd-tar", units),
		"launchd":     {"launchd/org.firewarden.block-expire.plist", "launchd/org.firewarden.detect-live.plist", "launchd/org.firewarden.guard.plist"},
		"unit names":  units,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("generate(fakegen.sh) (-want +got):\n%s", diff)
	}
	for _, c := range []struct{ path, want string }{
		{filepath.Join(dir, "systemd-pkg/firewarden-guard.service"), "ExecStart=/usr/bin/firewarden "},
		{filepath.Join(dir, "systemd-tar/firewarden-guard.service"), "ExecStart=/usr/local/bin/firewarden "},
		{filepath.Join(dir, "launchd/org.firewarden.guard.plist"), "<string>/usr/local/bin/firewarden</string>"},
		{g.Zsh, "#compdef firewarden"},
	} {
		b, err := os.ReadFile(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), c.want) {
			t.Errorf("%s = %q, want it to contain %q", c.path, b, c.want)
		}
	}
}

func TestGenerateFailures(t *testing.T) {
	dir := t.TempDir()
	// A generator without the commands (today's firewarden before the help and service work)
	// must stop the release, naming the command that failed.
	missing := filepath.Join(dir, "old-firewarden")
	if err := os.WriteFile(missing, []byte("#!/bin/sh\necho \"unknown command $1\" >&2\nexit 2\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := generate(context.Background(), missing, filepath.Join(dir, "a"))
	if err == nil || !strings.Contains(err.Error(), "man --dir") || !strings.Contains(err.Error(), "unknown command man") {
		t.Errorf("generate(a binary without man) = %v, want an error naming `man --dir` and its stderr", err)
	}
	// One that exits 0 but writes nothing is as bad.
	silent := filepath.Join(dir, "silent")
	if err := os.WriteFile(silent, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = generate(context.Background(), silent, filepath.Join(dir, "b"))
	if err == nil || !strings.Contains(err.Error(), "wrote no file") {
		t.Errorf("generate(a binary that writes nothing) = %v, want \"wrote no file\"", err)
	}
}

func TestExamples(t *testing.T) {
	dir := t.TempDir()
	if got, err := examples(filepath.Join(dir, "missing")); err != nil || got != nil {
		t.Errorf("examples(missing folder) = %v, %v; want nothing, no error", got, err)
	}
	ex := filepath.Join(dir, "examples")
	for name, mode := range map[string]os.FileMode{"firewarden.yaml": 0o600, "bin/eslogger": 0o700} {
		p := filepath.Join(ex, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), mode); err != nil {
			t.Fatal(err)
		}
	}
	got, err := examples(ex)
	if err != nil {
		t.Fatal(err)
	}
	want := []file{
		{Dst: "bin/eslogger", Src: filepath.Join(ex, "bin/eslogger"), Mode: 0o755},
		{Dst: "firewarden.yaml", Src: filepath.Join(ex, "firewarden.yaml"), Mode: 0o644},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("examples() (-want +got):\n%s", diff)
	}
	if err := os.Symlink("firewarden.yaml", filepath.Join(ex, "link.yaml")); err != nil {
		t.Fatal(err)
	}
	if _, err := examples(ex); err == nil {
		t.Errorf("examples(folder with a symlink) = nil error, want one")
	}
}

func TestWriteSums(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"b.deb": "bee", "a.tar.gz": "ay"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if err := writeSums(&b, []string{filepath.Join(dir, "b.deb"), filepath.Join(dir, "a.tar.gz")}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[0], "  a.tar.gz") || !strings.HasSuffix(lines[1], "  b.deb") {
		t.Fatalf("writeSums = %q, want two lines, a.tar.gz then b.deb", b.String())
	}
	sha, err := exec.LookPath("sha256sum")
	if err != nil {
		t.Skip("sha256sum not installed (coreutils); the format was checked, not the hashes")
	}
	if err := os.WriteFile(filepath.Join(dir, "SHA256SUMS"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sha, "--strict", "-c", "SHA256SUMS")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("sha256sum -c SHA256SUMS: %v\n%s", err, out)
	}
}
