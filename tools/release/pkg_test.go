package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// smallPackage writes a .deb or .rpm of made-up files (a shell script as the binary) into a
// new directory, the way build does, and returns its path.
func smallPackage(t *testing.T, format string, v release) string {
	t.Helper()
	src := tree(t, map[string]string{
		"firewarden": "#!/bin/sh\necho firewarden\n", "firewarden.1.gz": "gz", "bash": "b", "zsh": "z", "fish": "f",
		"README.md": "r", "LICENSE": "l", "firewarden-guard.service": "[Service]\n", "firewarden.yaml": "state_dir: /x\n",
	}, 0o600, time.Now())
	p := func(n string) string { return filepath.Join(src, n) }
	c := contents{
		Binary: p("firewarden"), README: p("README.md"), License: p("LICENSE"), Man: []string{p("firewarden.1.gz")},
		Bash: p("bash"), Zsh: p("zsh"), Fish: p("fish"), Units: []string{p("firewarden-guard.service")},
		Examples: []file{{Dst: "firewarden.yaml", Src: p("firewarden.yaml"), Mode: 0o644}}, ExampleConfig: p("firewarden.yaml"),
		PackageFormat: format,
	}
	scripts, err := writeScripts(t.TempDir(), []string{"firewarden-guard.service"})
	if err != nil {
		t.Fatal(err)
	}
	date := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	out, err := writePackage(t.TempDir(), format, nfpmInfo(format, "amd64", v.packageVersion(), packageFiles(c), scripts, date))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPackageDeterministic(t *testing.T) {
	v := release{Core: "0.3.0", Pre: "dev", Meta: "0123456789ab"}
	for _, format := range []string{"deb", "rpm"} {
		t.Run(format, func(t *testing.T) {
			a, b := smallPackage(t, format, v), smallPackage(t, format, v)
			ba, err := os.ReadFile(a)
			if err != nil {
				t.Fatal(err)
			}
			bb, err := os.ReadFile(b)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ba, bb) {
				t.Errorf("two %s packages of the same files differ (%d and %d bytes)", format, len(ba), len(bb))
			}
		})
	}
	if got, want := filepath.Base(smallPackage(t, "deb", v)), "firewarden_0.3.0~dev+0123456789ab_amd64.deb"; got != want {
		t.Errorf("deb file name = %q, want %q", got, want)
	}
	if got, want := filepath.Base(smallPackage(t, "rpm", v)), "firewarden-0.3.0~dev+0123456789ab-1.x86_64.rpm"; got != want {
		t.Errorf("rpm file name = %q, want %q", got, want)
	}
}

// TestDebWithDpkg reads the .deb back with dpkg-deb: the metadata and scripts it records, the
// files with their modes, and the config file dpkg keeps on upgrade.
func TestDebWithDpkg(t *testing.T) {
	dpkgDeb, err := exec.LookPath("dpkg-deb")
	if err != nil {
		t.Skip("dpkg-deb not installed; on Debian: apt-get install dpkg")
	}
	deb := smallPackage(t, "deb", release{Core: "0.3.0", Pre: "rc.1"})
	field := func(name string) string {
		out, err := exec.Command(dpkgDeb, "--field", deb, name).Output()
		if err != nil {
			t.Fatalf("dpkg-deb --field %s: %v", name, err)
		}
		return strings.TrimSpace(string(out))
	}
	for name, want := range map[string]string{
		"Package": "firewarden", "Version": "0.3.0~rc.1", "Architecture": "amd64", "Recommends": "nftables",
		"Homepage": pkgHomepage, "Maintainer": pkgMaintainer,
	} {
		if got := field(name); got != want {
			t.Errorf("dpkg-deb --field %s = %q, want %q", name, got, want)
		}
	}
	if d := field("Description"); !strings.Contains(d, "does not enable or start them") {
		t.Errorf("Description = %q, want it to say the units are not enabled or started", d)
	}

	out, err := exec.Command(dpkgDeb, "--contents", deb).Output()
	if err != nil {
		t.Fatalf("dpkg-deb --contents: %v", err)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l) // -rwxr-xr-x root/root 27 2026-12-06 12:00 ./usr/bin/firewarden
		if len(f) < 6 || strings.HasPrefix(f[0], "d") {
			continue
		}
		got = append(got, f[0]+" "+f[1]+" "+f[3]+" "+f[5])
	}
	slices.Sort(got)
	want := []string{
		"-rw-r--r-- root/root 2026-12-06 ./etc/firewarden/firewarden.yaml",
		"-rw-r--r-- root/root 2026-12-06 ./usr/lib/systemd/system/firewarden-guard.service",
		"-rw-r--r-- root/root 2026-12-06 ./usr/share/bash-completion/completions/firewarden",
		"-rw-r--r-- root/root 2026-12-06 ./usr/share/doc/firewarden/LICENSE",
		"-rw-r--r-- root/root 2026-12-06 ./usr/share/doc/firewarden/README.md",
		"-rw-r--r-- root/root 2026-12-06 ./usr/share/doc/firewarden/examples/firewarden.yaml",
		"-rw-r--r-- root/root 2026-12-06 ./usr/share/fish/vendor_completions.d/firewarden.fish",
		"-rw-r--r-- root/root 2026-12-06 ./usr/share/man/man1/firewarden.1.gz",
		"-rw-r--r-- root/root 2026-12-06 ./usr/share/zsh/vendor-completions/_firewarden",
		"-rwxr-xr-x root/root 2026-12-06 ./usr/bin/firewarden",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dpkg-deb --contents (-want +got):\n%s", diff)
	}

	ctl := t.TempDir()
	if out, err := exec.Command(dpkgDeb, "--control", deb, ctl).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --control: %v: %s", err, out)
	}
	conffiles, err := os.ReadFile(filepath.Join(ctl, "conffiles"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(conffiles)); got != "/etc/firewarden/firewarden.yaml" {
		t.Errorf("conffiles = %q, want /etc/firewarden/firewarden.yaml", got)
	}
	for name, want := range map[string][]string{
		"postinst": {"systemctl daemon-reload"},
		"prerm":    {"systemctl disable --now firewarden-guard.service", "remove|0)"},
		"postrm":   {"systemctl daemon-reload"},
	} {
		b, err := os.ReadFile(filepath.Join(ctl, name))
		if err != nil {
			t.Errorf("control script %s: %v", name, err)
			continue
		}
		for _, w := range want {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s = %q, want it to contain %q", name, b, w)
			}
		}
		if name == "postinst" && (strings.Contains(string(b), "systemctl enable") || strings.Contains(string(b), "systemctl start") || strings.Contains(string(b), "--now")) {
			t.Errorf("postinst = %q; it must neither enable nor start a unit", b)
		}
	}
}

// TestRPMWithRpm reads the .rpm back with rpm: header, config file, zsh's Fedora folder.
func TestRPMWithRpm(t *testing.T) {
	rpmBin, err := exec.LookPath("rpm")
	if err != nil {
		t.Skip("rpm not installed; on Debian: apt-get install --no-install-recommends rpm")
	}
	p := smallPackage(t, "rpm", release{Core: "0.3.0", Pre: "dev", Meta: "0123456789ab.dirty"})
	query := func(args ...string) string {
		out, err := exec.Command(rpmBin, append([]string{"-qp"}, append(args, p)...)...).Output()
		if err != nil {
			t.Fatalf("rpm -qp %s: %v", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out))
	}
	if got, want := query("--qf", "%{NAME} %{VERSION}-%{RELEASE} %{ARCH} %{LICENSE} %{SUMMARY}"),
		"firewarden 0.3.0~dev+0123456789ab.dirty-1 x86_64 Apache-2.0 "+pkgSummary; got != want {
		t.Errorf("rpm header = %q, want %q", got, want)
	}
	if got := query("--qf", "%{DESCRIPTION}"); strings.HasPrefix(got, pkgSummary) || !strings.Contains(got, "does not enable or start them") {
		t.Errorf("rpm description = %q, want the text after the summary, saying nothing is enabled or started", got)
	}
	if got := query("--configfiles"); got != "/etc/firewarden/firewarden.yaml" {
		t.Errorf("rpm --configfiles = %q, want /etc/firewarden/firewarden.yaml", got)
	}
	if got := query("-l"); !strings.Contains(got, "/usr/share/zsh/site-functions/_firewarden") || strings.Contains(got, "vendor-completions") {
		t.Errorf("rpm -l = %q, want zsh's completion in site-functions only", got)
	}
	var dirs []string
	for _, l := range strings.Split(query("--qf", "[%{FILEMODES:perms} %{FILENAMES}\n]"), "\n") {
		if strings.HasPrefix(l, "d") {
			dirs = append(dirs, l)
		}
	}
	if diff := cmp.Diff([]string{"drwxr-xr-x /etc/firewarden", "drwxr-xr-x /usr/share/doc/firewarden", "drwxr-xr-x /usr/share/doc/firewarden/examples"}, dirs); diff != "" {
		t.Errorf("directories the rpm owns (-want +got):\n%s", diff)
	}
	if got := query("--scripts"); !strings.Contains(got, "systemctl daemon-reload") || !strings.Contains(got, "systemctl disable --now firewarden-guard.service") {
		t.Errorf("rpm --scripts = %q, want daemon-reload and the removal's disable --now", got)
	}
}
