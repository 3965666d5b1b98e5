package statedir_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/statedir"
)

func TestOpenCreatesPrivateDirectory(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a", "state")
	d, err := statedir.Open(p)
	if err != nil {
		t.Fatalf("Open(%s) = %v", p, err)
	}
	fi, err := os.Stat(d.Path())
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("Open(%s) made mode %04o, want 0700", p, got)
	}
	if _, err := statedir.Existing(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Existing(missing) = %v, want fs.ErrNotExist", err)
	}
}

// ReadExisting is "nothing saved yet" for a missing directory or file, creating neither, and the
// file's bytes otherwise.
func TestReadExisting(t *testing.T) {
	base := t.TempDir()
	missing := filepath.Join(base, "missing")
	if data, found, err := statedir.ReadExisting(missing, "f"); data != nil || found || err != nil {
		t.Errorf("ReadExisting(no directory) = %q, %v, %v; want nothing, not found, no error", data, found, err)
	}
	if _, err := os.Lstat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadExisting created the directory: %v", err)
	}
	d, err := statedir.Open(filepath.Join(base, "s"))
	if err != nil {
		t.Fatal(err)
	}
	if data, found, err := statedir.ReadExisting(d.Path(), "f"); data != nil || found || err != nil {
		t.Errorf("ReadExisting(no file) = %q, %v, %v; want nothing, not found, no error", data, found, err)
	}
	for _, body := range []string{"", "saved\n"} {
		if err := d.WriteFile("f", []byte(body)); err != nil {
			t.Fatal(err)
		}
		if data, found, err := statedir.ReadExisting(d.Path(), "f"); string(data) != body || !found || err != nil {
			t.Errorf("ReadExisting(file holding %q) = %q, %v, %v; want it, found", body, data, found, err)
		}
	}
}

func TestOpenRefusesUnsafeDirectories(t *testing.T) {
	for _, tt := range []struct {
		name string
		prep func(t *testing.T, dir string) string // returns the path to open
		want string
		root bool // needs root (chown)
	}{
		{"world-writable", func(t *testing.T, dir string) string { return mkdir(t, dir, "s", 0o777) }, "(mode 0777); run chmod 700", false},
		{"group-writable", func(t *testing.T, dir string) string { return mkdir(t, dir, "s", 0o775) }, "(mode 0775); run chmod 700", false},
		{"a file", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "s")
			os.WriteFile(p, nil, 0o600)
			return p
		}, "is a regular file, not a directory", false},
		{"a link", func(t *testing.T, dir string) string {
			mkdir(t, dir, "real", 0o700)
			p := filepath.Join(dir, "s")
			os.Symlink(filepath.Join(dir, "real"), p)
			return p
		}, "is a symbolic link", false},
		{"parent world-writable", func(t *testing.T, dir string) string {
			mkdir(t, dir, "p", 0o777)
			return mkdir(t, filepath.Join(dir, "p"), "s", 0o700)
		}, "its parent " + "", false},
		{"parent world-writable, missing state", func(t *testing.T, dir string) string {
			mkdir(t, dir, "p", 0o777)
			return filepath.Join(dir, "p", "s")
		}, "without the sticky bit; run chmod go-w", false},
		{"owned by another user", func(t *testing.T, dir string) string {
			p := mkdir(t, dir, "s", 0o700)
			os.Chown(p, 1000, 1000)
			return p
		}, "is owned by uid 1000, not 0; run chown root", true},
		{"parent owned by another user", func(t *testing.T, dir string) string {
			mkdir(t, dir, "p", 0o755)
			os.Chown(filepath.Join(dir, "p"), 1000, 1000)
			return mkdir(t, filepath.Join(dir, "p"), "s", 0o700)
		}, "its parent", true},
		{"link in a sticky directory owned by another user", func(t *testing.T, dir string) string {
			sticky := mkdir(t, dir, "tmp", 0o777|fs.ModeSticky)
			real := mkdir(t, dir, "real", 0o755)
			link := filepath.Join(sticky, "l")
			os.Symlink(real, link)
			os.Lchown(link, 1000, 1000)
			return filepath.Join(link, "s")
		}, "(a symbolic link) is owned by uid 1000", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.root && os.Geteuid() != 0 {
				t.Skip("chown needs root; run the tests as root (CI does)")
			}
			p := tt.prep(t, t.TempDir())
			_, err := statedir.Open(p)
			if !errors.Is(err, statedir.ErrUnsafe) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open(%s) = %v, want ErrUnsafe saying %q", p, err, tt.want)
			}
		})
	}
}

// A sticky world-writable parent (/tmp) is fine: nobody can move another user's entries there.
func TestOpenAcceptsStickyParent(t *testing.T) {
	sticky := mkdir(t, t.TempDir(), "tmp", 0o777|fs.ModeSticky)
	if _, err := statedir.Open(filepath.Join(sticky, "s")); err != nil {
		t.Errorf("Open below a sticky directory = %v", err)
	}
}

// plant puts something other than a regular file at p.
type plant func(t *testing.T, p string)

func plants() map[string]plant {
	return map[string]plant{
		"link to a file": func(t *testing.T, p string) {
			target := filepath.Join(filepath.Dir(p), "target")
			os.WriteFile(target, []byte("precious"), 0o600)
			os.Symlink(target, p)
		},
		"dangling link": func(t *testing.T, p string) { os.Symlink(filepath.Join(filepath.Dir(p), "target"), p) },
		"fifo": func(t *testing.T, p string) {
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
		},
		"directory": func(t *testing.T, p string) { os.Mkdir(p, 0o700) },
	}
}

// Every way into a file refuses whatever is not a regular file, without blocking on a FIFO and
// without touching what a link points to.
func TestFilesRefuseNonRegular(t *testing.T) {
	ops := map[string]func(d *statedir.Dir) error{
		"ReadFile":  func(d *statedir.Dir) error { _, err := d.ReadFile("f"); return err },
		"WriteFile": func(d *statedir.Dir) error { return d.WriteFile("f", []byte("new")) },
		"Lock": func(d *statedir.Dir) error {
			l, err := d.Lock("f", true)
			if err == nil {
				l.Unlock()
			}
			return err
		},
		"Stat": func(d *statedir.Dir) error { _, err := d.Stat("f"); return err },
		"ReadExisting": func(d *statedir.Dir) error {
			_, found, err := statedir.ReadExisting(d.Path(), "f")
			if found {
				return errors.New("found")
			}
			return err
		},
		"OpenFile append": func(d *statedir.Dir) error {
			f, err := statedir.OpenFile(d.Join("f"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
			if err == nil {
				f.Close()
			}
			return err
		},
	}
	for pname, pl := range plants() {
		for oname, op := range ops {
			t.Run(pname+"/"+oname, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "s")
				d, err := statedir.Open(dir)
				if err != nil {
					t.Fatal(err)
				}
				pl(t, d.Join("f"))
				done := make(chan error, 1)
				go func() { done <- op(d) }()
				select {
				case err = <-done:
				case <-time.After(10 * time.Second):
					t.Fatalf("%s on a %s blocked", oname, pname)
				}
				if !errors.Is(err, statedir.ErrUnsafe) {
					t.Errorf("%s on a %s = %v, want ErrUnsafe", oname, pname, err)
				}
				if data, err := os.ReadFile(d.Join("target")); err == nil && string(data) != "precious" {
					t.Errorf("%s wrote %q through the link", oname, data)
				} else if errors.Is(err, fs.ErrNotExist) && pname == "link to a file" {
					t.Errorf("%s removed the link's target", oname)
				}
				if pname == "dangling link" {
					if _, err := os.Lstat(d.Join("target")); err == nil {
						t.Errorf("%s created the link's target", oname)
					}
				}
			})
		}
	}
}

func TestWriteFileReplacesAtomically(t *testing.T) {
	d, err := statedir.Open(filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	for _, content := range []string{"one", "two"} {
		if err := d.WriteFile("f", []byte(content)); err != nil {
			t.Fatal(err)
		}
		if got, err := d.ReadFile("f"); err != nil || string(got) != content {
			t.Errorf("ReadFile after WriteFile(%q) = %q, %v", content, got, err)
		}
	}
	fi, _ := d.Stat("f")
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("WriteFile made mode %04o, want 0600", fi.Mode().Perm())
	}
	entries, _ := d.ReadDir()
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after two writes, want 1 (no temporary file left)", len(entries))
	}
	if err := d.WriteFile("../escape", nil); err == nil {
		t.Error("WriteFile(../escape) = nil error")
	}
}

// Stale temporary files are removed by the next Open; one a live writer holds is not.
func TestOpenRemovesStaleTemporaryFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	if _, err := statedir.Open(dir); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, statedir.TempPrefix+"dead-block.json")
	os.WriteFile(stale, []byte("x"), 0o600)
	link := filepath.Join(dir, statedir.TempPrefix+"link")
	os.Symlink("/etc/passwd", link)
	live := filepath.Join(dir, statedir.TempPrefix+"live-block.json")
	f, err := os.Create(live)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	legacyOld := filepath.Join(dir, ".block.json.tmp-1234")
	legacyNew := filepath.Join(dir, ".block.json.tmp-5678")
	os.WriteFile(legacyOld, nil, 0o600)
	os.WriteFile(legacyNew, nil, 0o600)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(legacyOld, old, old)

	if _, err := statedir.Open(dir); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{stale: false, link: false, live: true, legacyOld: false, legacyNew: true} {
		_, err := os.Lstat(p)
		if got := err == nil; got != want {
			t.Errorf("after Open, %s exists = %v, want %v", filepath.Base(p), got, want)
		}
	}
}

// Writers and cleaners running together never lose a write: a writer's temporary file is
// never removed under it.
func TestCleanNeverRemovesALiveWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	d, err := statedir.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				statedir.Open(dir)
			}
		}
	}()
	for i := range 300 {
		if err := d.WriteFile("f", []byte{byte(i)}); err != nil {
			t.Errorf("WriteFile #%d with a cleaner running = %v", i, err)
			break
		}
	}
	close(stop)
	wg.Wait()
}

func TestLockExcludes(t *testing.T) {
	d, err := statedir.Open(filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := d.Lock("lock", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Lock("lock", false); !errors.Is(err, statedir.ErrLocked) {
		t.Errorf("second Lock = %v, want ErrLocked", err)
	}
	l.Unlock()
	l, err = d.Lock("lock", false)
	if err != nil {
		t.Errorf("Lock after Unlock = %v", err)
	} else {
		l.Unlock()
	}
}

func mkdir(t *testing.T, parent, name string, mode fs.FileMode) string {
	t.Helper()
	p := filepath.Join(parent, name)
	if err := os.Mkdir(p, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// BenchmarkOpen is what every state change pays for the checks and the clean-up: the block
// store opens its directory once per Update.
func BenchmarkOpen(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "s")
	d, err := statedir.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"block.json", "block.lock", "evidence.jsonl", "evidence.head", "pf.token"} {
		d.WriteFile(name, []byte("x"))
	}
	for b.Loop() {
		if _, err := statedir.Open(dir); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteFile4KiB is one atomic replacement: create, write, fsync, rename, fsync the
// directory.
func BenchmarkWriteFile4KiB(b *testing.B) {
	d, err := statedir.Open(filepath.Join(b.TempDir(), "s"))
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 4096)
	for b.Loop() {
		if err := d.WriteFile("f", data); err != nil {
			b.Fatal(err)
		}
	}
}
