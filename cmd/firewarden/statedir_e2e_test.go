package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/host/hosttest"
)

// hangLimit is how long one run may take before the harness calls it hung; every run here
// finishes in well under a second when nothing blocks it.
const hangLimit = 30 * time.Second

// firewardenNoHang runs the binary like firewarden, but kills it and fails the test when it has
// not finished within hangLimit (a FIFO opened for reading blocks forever).
func firewardenNoHang(t *testing.T, root string, args ...string) run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, fwBin, append([]string{"--root", root}, args...)...)
	cmd.Env = append(os.Environ(), "FIREWARDEN_ROOT=")
	cmd.WaitDelay = time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("firewarden %s hung (killed after %s); stderr: %s", strings.Join(args, " "), hangLimit, errb.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return run{out.String(), errb.String(), code}
}

// macStateDir is the default state directory of a fake Mac.
func macStateDir(root string) string {
	return filepath.Join(root, "Library/Application Support/firewarden")
}

// stateFileCase is a file firewarden writes in the state directory and a command that writes it.
type stateFileCase struct {
	file  string
	setup [][]string // commands run first, which must succeed
	args  []string
}

// stateFileCases lists every file firewarden writes in its state directory.
func stateFileCases() []stateFileCase {
	addNone := []string{"block", "add", "192.0.2.1", "--backend", "none"}
	return []stateFileCase{
		{"block.json", nil, addNone},
		{"block.lock", nil, addNone},
		{"block.unapplied", nil, []string{"block", "add", "192.0.2.1"}},
		{"pf-anchor.conf", nil, []string{"block", "enable"}},
		{"pf.token", nil, []string{"block", "enable"}},
		{"pf-addresses", [][]string{addNone}, []string{"block", "sync"}},
		{"evidence.jsonl", nil, []string{"evidence"}},
		{"evidence.jsonl.lock", nil, []string{"evidence"}},
		{"evidence.head", nil, []string{"evidence"}},
		{"lock", nil, []string{"fix"}},
		{"backups", nil, []string{"fix"}},
	}
}

// A link planted at any file firewarden writes is refused with one line and exit 2, and
// nothing is created or written where it points.
func TestStateDirRefusesPlantedLinks(t *testing.T) {
	for _, tc := range stateFileCases() {
		t.Run(tc.file, func(t *testing.T) {
			root := mac(t, hosttest.Mac15())
			sd := macStateDir(root)
			for _, s := range tc.setup {
				if r := firewardenNoHang(t, root, s...); r.code != 0 {
					t.Fatalf("setup %q: exit %d: %s", s, r.code, r.stderr)
				}
			}
			if err := os.MkdirAll(sd, 0o700); err != nil {
				t.Fatal(err)
			}
			target := filepath.Join(t.TempDir(), "target")
			if err := os.Symlink(target, filepath.Join(sd, tc.file)); err != nil {
				t.Fatal(err)
			}
			r := firewardenNoHang(t, root, tc.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.file) || !strings.Contains(r.stderr, "symbolic link") || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
				t.Errorf("firewarden %s with %s a link: exit %d, stderr %q; want 2 and one line naming the link", strings.Join(tc.args, " "), tc.file, r.code, r.stderr)
			}
			if _, err := os.Lstat(target); err == nil {
				t.Errorf("firewarden %s created %s through the link %s", strings.Join(tc.args, " "), target, tc.file)
			}
		})
	}
}

// A FIFO planted at any file firewarden writes is refused with one line and exit 2, without
// blocking.
func TestStateDirRefusesPlantedFIFOs(t *testing.T) {
	for _, tc := range stateFileCases() {
		t.Run(tc.file, func(t *testing.T) {
			root := mac(t, hosttest.Mac15())
			sd := macStateDir(root)
			for _, s := range tc.setup {
				if r := firewardenNoHang(t, root, s...); r.code != 0 {
					t.Fatalf("setup %q: exit %d: %s", s, r.code, r.stderr)
				}
			}
			if err := os.MkdirAll(sd, 0o700); err != nil {
				t.Fatal(err)
			}
			fifo := filepath.Join(sd, tc.file)
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Skipf("mkfifo: %v; run on a system with named pipes", err)
			}
			r := firewardenNoHang(t, root, tc.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.file) || !strings.Contains(r.stderr, "named pipe") || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
				t.Errorf("firewarden %s with %s a FIFO: exit %d, stderr %q; want 2 and one line naming the FIFO", strings.Join(tc.args, " "), tc.file, r.code, r.stderr)
			}
			if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
				t.Errorf("the FIFO %s was replaced: %v", tc.file, err)
			}
		})
	}
}

// The fixed temporary names older versions used (pf.token.tmp, …) are never written through: a
// link planted there leads nowhere.
func TestStateDirIgnoresLinksAtOldTemporaryNames(t *testing.T) {
	for _, tc := range []struct {
		file string
		args []string
	}{
		{"pf-anchor.conf.tmp", []string{"block", "enable"}},
		{"pf.token.tmp", []string{"block", "enable"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			root := mac(t, hosttest.Mac15())
			sd := macStateDir(root)
			if err := os.MkdirAll(sd, 0o700); err != nil {
				t.Fatal(err)
			}
			target := filepath.Join(t.TempDir(), "target")
			if err := os.Symlink(target, filepath.Join(sd, tc.file)); err != nil {
				t.Fatal(err)
			}
			r := firewardenNoHang(t, root, tc.args...)
			if _, err := os.Lstat(target); err == nil {
				t.Errorf("firewarden %s (exit %d) wrote %s through the link %s", strings.Join(tc.args, " "), r.code, target, tc.file)
			}
		})
	}
}

// stateDirCommands are commands that use the state directory, each with the exit status it has
// on a fresh fake Mac.
var stateDirCommands = [][]string{
	{"block", "add", "192.0.2.1", "--backend", "none"},
	{"block", "list"},
	{"block", "enable"},
	{"evidence"},
	{"evidence", "--verify"},
	{"fix"},
	{"rollback", "--list"},
}

// A state directory that others may write to, or that another user owns, is refused by every
// command with one line that says what to run; the directory is left as it was.
func TestStateDirRefusesBadPermissions(t *testing.T) {
	for _, tc := range []struct {
		name string
		prep func(t *testing.T, root, sd string) // makes the directory unsafe
		want func(sd string) string              // what stderr must say
	}{
		{"world-writable", func(t *testing.T, root, sd string) { chmod(t, sd, 0o777) },
			func(sd string) string { return "writable by group or others (mode 0777); run chmod 700 '" + sd + "'" }},
		{"group-writable", func(t *testing.T, root, sd string) { chmod(t, sd, 0o770) },
			func(sd string) string { return "run chmod 700 '" + sd + "'" }},
		{"owned by another user", func(t *testing.T, root, sd string) { chown(t, sd, 1000) },
			func(sd string) string { return "is owned by uid 1000, not 0; run chown root '" + sd + "'" }},
		{"parent writable by others", func(t *testing.T, root, sd string) { chmod(t, filepath.Dir(sd), 0o777) },
			func(sd string) string { return "run chmod go-w '" + filepath.Dir(sd) + "'" }},
		{"parent owned by another user", func(t *testing.T, root, sd string) { chown(t, filepath.Dir(sd), 1000) },
			func(string) string { return "is owned by uid 1000" }},
		{"a link", func(t *testing.T, root, sd string) {
			real := filepath.Join(root, "elsewhere")
			if err := os.Rename(sd, real); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(real, sd); err != nil {
				t.Fatal(err)
			}
		}, func(string) string { return "is a symbolic link" }},
	} {
		for _, args := range stateDirCommands {
			t.Run(tc.name+"/"+strings.Join(args, " "), func(t *testing.T) {
				root := mac(t, hosttest.Mac15())
				sd := macStateDir(root)
				if err := os.MkdirAll(sd, 0o700); err != nil {
					t.Fatal(err)
				}
				tc.prep(t, root, sd)
				r := firewardenNoHang(t, root, args...)
				want := tc.want(sd)
				if r.code != 2 || !strings.Contains(r.stderr, want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
					t.Errorf("firewarden %s: exit %d, stderr %q; want 2 and one line containing %q", strings.Join(args, " "), r.code, r.stderr, want)
				}
				entries, _ := os.ReadDir(sd)
				if len(entries) != 0 {
					t.Errorf("firewarden %s wrote %d entries into the refused directory (first %s)", strings.Join(args, " "), len(entries), entries[0].Name())
				}
			})
		}
	}
}

// The backups directory inside the state directory gets the same checks.
func TestStateDirRefusesWritableBackups(t *testing.T) {
	root := mac(t, hosttest.Mac15())
	backups := filepath.Join(macStateDir(root), "backups")
	if err := os.MkdirAll(backups, 0o700); err != nil {
		t.Fatal(err)
	}
	chmod(t, backups, 0o777)
	r := firewardenNoHang(t, root, "fix")
	if r.code != 2 || !strings.Contains(r.stderr, "run chmod 700 '"+backups+"'") {
		t.Errorf("fix with a world-writable backups directory: exit %d, stderr %q; want 2 and chmod 700", r.code, r.stderr)
	}
	if w := state(t, root).Writes(); len(w) != 0 {
		t.Errorf("fix changed settings without a safe place for the backup: %q", w)
	}
}

// A state directory firewarden creates is 0700; so are its backups.
func TestStateDirCreatedPrivate(t *testing.T) {
	root := mac(t, hosttest.Mac15())
	if r := firewardenNoHang(t, root, "fix"); r.code != 0 {
		t.Fatalf("fix: exit %d: %s", r.code, r.stderr)
	}
	for _, d := range []string{macStateDir(root), filepath.Join(macStateDir(root), "backups")} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o700 {
			t.Errorf("mode of %s = %04o, want 0700", d, got)
		}
	}
}

// Temporary files killed runs left behind, in today's form and in older versions' forms, are
// removed by the next run of any command that writes the state directory.
func TestStateDirRemovesStaleTemporaryFiles(t *testing.T) {
	stale := []string{
		".firewarden-tmp-0123456789abcdef-block.json",
		".block.json.tmp-123456789",
		".evidence.jsonl.tmp-42",
		"pf.token.tmp",
		"pf-anchor.conf.tmp",
	}
	for _, tc := range []struct {
		name string
		args []string
		dir  string // the directory it cleans, below the state directory
		code int
	}{
		{"block add", []string{"block", "add", "192.0.2.1", "--backend", "none"}, "", 0},
		{"evidence", []string{"evidence"}, "", 1},
		{"fix", []string{"fix"}, "backups", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := mac(t, hosttest.Mac15())
			dir := filepath.Join(macStateDir(root), tc.dir)
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			old := time.Now().Add(-time.Hour)
			for _, name := range stale {
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, bytes.Repeat([]byte("x"), 1000), 0o600); err != nil {
					t.Fatal(err)
				}
				os.Chtimes(p, old, old)
			}
			if r := firewardenNoHang(t, root, tc.args...); r.code != tc.code {
				t.Fatalf("firewarden %s: exit %d: %s", strings.Join(tc.args, " "), r.code, r.stderr)
			}
			for _, name := range stale {
				if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
					t.Errorf("%s is still in %s", name, dir)
				}
			}
		})
	}
}

func chmod(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func chown(t *testing.T, p string, uid int) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("changing a directory's owner needs root; run the tests as root (CI does)")
	}
	if err := os.Chown(p, uid, -1); err != nil {
		t.Fatal(err)
	}
}
