// Package statedir is the discipline for firewarden's state directory, which a root process
// writes and which a local attacker would like to point somewhere else.
//
// The directory is created 0700 and owned by the effective user; an existing one is refused when
// another user (other than root) owns it or when group or others may write to it, since either
// could plant links or pipes in it. Its ancestors are checked as far as the path shows them: each
// must be owned by root or the effective user and not writable by group or others unless its
// sticky bit is set (as on /tmp, where nobody can rename or remove another user's entries); an
// ancestor that is a symbolic link must itself be owned by root or the effective user, and the
// directories it leads to are checked the same way. Ownership of the volume, bind mounts and
// ACLs are not examined.
//
// Inside the directory every file is opened with O_NOFOLLOW and O_NONBLOCK and checked with
// fstat to be a regular file, so a planted link is never followed and a planted FIFO never
// blocks the process. Files are replaced, never rewritten: the new content goes to a temporary
// file created exclusively under a random name starting with TempPrefix, which is fsynced and
// renamed over the target, and the directory is fsynced. Temporary files left by a killed
// process are removed when the directory is next opened; a writer holds an flock on its
// temporary file, so a live writer's file is never removed under it.
package statedir

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// TempPrefix starts the name of every temporary file firewarden creates, so that leftovers of a
// killed run can be found and removed.
const TempPrefix = ".firewarden-tmp-"

// ErrUnsafe is wrapped by the errors that refuse a directory or a file because another user
// could change it or because it is not a regular file.
var ErrUnsafe = errors.New("unsafe state directory")

// refusal refuses a directory or file: its text says what to fix; errors.Is(err, ErrUnsafe) holds.
type refusal struct{ msg string }

func (e *refusal) Error() string        { return e.msg }
func (e *refusal) Is(target error) bool { return target == ErrUnsafe }

func unsafef(format string, args ...any) error { return &refusal{fmt.Sprintf(format, args...)} }

// Dir is a state directory that passed the checks. Its methods take file names, not paths: a
// name with a slash is refused.
type Dir struct{ path string }

// Open returns the state directory at path, creating it (mode 0700) and any missing parent
// (mode 0755) when it does not exist, after checking it and its ancestors, and removes the
// temporary files killed runs left in it.
func Open(path string) (*Dir, error) { return open(path, true) }

// Existing is Open for readers: it creates nothing, and a missing directory is an error wrapping
// fs.ErrNotExist.
func Existing(path string) (*Dir, error) { return open(path, false) }

func open(path string, create bool) (*Dir, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("state directory %s: %w", path, err)
	}
	parent := filepath.Dir(abs)
	if _, err := os.Lstat(abs); errors.Is(err, fs.ErrNotExist) {
		if !create {
			return nil, fmt.Errorf("state directory %s does not exist: %w", abs, fs.ErrNotExist)
		}
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return nil, fmt.Errorf("create the state directory: %w", err)
		}
		if err := checkAncestors(abs); err != nil {
			return nil, err
		}
		// Mkdir, not MkdirAll: when someone else created it in the meantime, the checks
		// below see their directory and refuse it.
		if err := os.Mkdir(abs, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("create the state directory: %w", err)
		}
	} else if err := checkAncestors(abs); err != nil {
		return nil, err
	}
	if err := checkDir(abs, "state directory "+abs); err != nil {
		return nil, err
	}
	d := &Dir{path: abs}
	d.clean()
	return d, nil
}

// checkDir refuses path unless it is a directory (not a link to one) owned by root or the
// effective user and not writable by group or others. what names it in messages.
func checkDir(path, what string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return unsafef("%s is a symbolic link; firewarden does not follow links to its state: give the directory it points to", what)
	}
	if !fi.IsDir() {
		return unsafef("%s is %s, not a directory; move it aside", what, kind(fi.Mode()))
	}
	if err := checkOwner(fi, path, what); err != nil {
		return err
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return unsafef("%s is writable by group or others (mode %04o); run chmod 700 %s", what, perm, shellQuote(path))
	}
	return nil
}

// checkOwner refuses fi when it belongs to anyone but root or the effective user.
func checkOwner(fi fs.FileInfo, path, what string) error {
	uid, ok := owner(fi)
	if !ok {
		return nil // no owner on this platform
	}
	euid := os.Geteuid()
	if uid == 0 || uid == euid {
		return nil
	}
	if euid == 0 {
		return unsafef("%s is owned by uid %d, not 0; run chown root %s (or move it aside when you did not create it)", what, uid, shellQuote(path))
	}
	return unsafef("%s is owned by uid %d, not %d or root; run chown %d %s (or move it aside when you did not create it)", what, uid, euid, euid, shellQuote(path))
}

// shellQuote quotes a path for the command a message suggests, so that it can be pasted as is
// ("/Library/Application Support/firewarden" has a space).
func shellQuote(p string) string {
	if p != "" && strings.Trim(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:@%,") == "" {
		return p
	}
	return "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
}

func owner(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

// checkAncestors checks every directory above path, as written and as its links resolve.
func checkAncestors(path string) error {
	if err := checkChain(path); err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("state directory %s: %w", path, err)
	}
	if real != filepath.Dir(path) {
		return checkChain(filepath.Join(real, filepath.Base(path)))
	}
	return nil
}

// checkChain checks the ancestors of path from the root down.
func checkChain(path string) error {
	var chain []string
	for p := filepath.Dir(path); ; p = filepath.Dir(p) {
		chain = append(chain, p)
		if filepath.Dir(p) == p {
			break
		}
	}
	for i := len(chain) - 1; i >= 0; i-- {
		p := chain[i]
		what := fmt.Sprintf("state directory %s: its parent %s", path, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			// The link's own directory was checked just before; the link must be one that
			// only a trusted user could have made there (a sticky directory lets anyone
			// add a link).
			if err := checkOwner(fi, p, what+" (a symbolic link)"); err != nil {
				return err
			}
			if fi, err = os.Stat(p); err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
		}
		if !fi.IsDir() {
			return unsafef("%s is not a directory", what)
		}
		if err := checkOwner(fi, p, what); err != nil {
			return err
		}
		if perm := fi.Mode(); perm.Perm()&0o022 != 0 && perm&fs.ModeSticky == 0 {
			return unsafef("%s is writable by group or others (mode %04o) without the sticky bit; run chmod go-w %s or choose another --state-dir", what, perm.Perm(), shellQuote(p))
		}
	}
	return nil
}

// Path is the directory's absolute path.
func (d *Dir) Path() string { return d.path }

// Join is the path of the file called name in the directory.
func (d *Dir) Join(name string) string { return filepath.Join(d.path, name) }

func (d *Dir) file(name string) (string, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') || strings.ContainsRune(name, filepath.Separator) {
		return "", fmt.Errorf("state file name %q: want one plain file name", name)
	}
	return filepath.Join(d.path, name), nil
}

// Sub returns the subdirectory called name, creating it (mode 0700) when missing, after the same
// checks as the state directory itself, and cleans it like Open.
func (d *Dir) Sub(name string) (*Dir, error) {
	p, err := d.file(name)
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(p, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("create %s: %w", p, err)
	}
	if err := checkDir(p, "state directory "+p); err != nil {
		return nil, err
	}
	s := &Dir{path: p}
	s.clean()
	return s, nil
}

// ExistingSub is Sub for readers: nothing is created, and a missing subdirectory is an error
// wrapping fs.ErrNotExist.
func (d *Dir) ExistingSub(name string) (*Dir, error) {
	p, err := d.file(name)
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(p); err != nil {
		return nil, fmt.Errorf("state directory %s: %w", p, err)
	}
	if err := checkDir(p, "state directory "+p); err != nil {
		return nil, err
	}
	return &Dir{path: p}, nil
}

// ReadFile reads the regular file called name. A missing file is an error wrapping
// fs.ErrNotExist; a link, FIFO, device or directory is refused (ErrUnsafe) without blocking.
func (d *Dir) ReadFile(name string) ([]byte, error) {
	p, err := d.file(name)
	if err != nil {
		return nil, err
	}
	f, err := OpenFile(p, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// ReadExisting reads the file called name in the state directory at path, checked as Existing
// and ReadFile check them, creating nothing. found is false, with no error, when the directory
// or the file does not exist: a reader's "nothing saved yet".
func ReadExisting(path, name string) (data []byte, found bool, err error) {
	d, err := Existing(path)
	if err == nil {
		data, err = d.ReadFile(name)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	return data, err == nil, err
}

// Stat describes the file called name without following a link; anything but a regular file is
// refused (ErrUnsafe). A missing file is an error wrapping fs.ErrNotExist.
func (d *Dir) Stat(name string) (fs.FileInfo, error) {
	p, err := d.file(name)
	if err != nil {
		return nil, err
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, notRegular(p, fi.Mode())
	}
	return fi, nil
}

// WriteFile replaces the file called name with data (mode 0600): readers see the old file or
// the whole new one, and after a crash the directory holds one of them. An existing name that
// is not a regular file (a planted link or FIFO) is refused, not replaced.
func (d *Dir) WriteFile(name string, data []byte) error {
	p, err := d.file(name)
	if err != nil {
		return err
	}
	return replace(p, data, 0o600)
}

// Remove removes the file called name; a missing file is not an error. A link is removed
// itself, never what it points to.
func (d *Dir) Remove(name string) error {
	p, err := d.file(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return syncDir(d.path)
}

// ReadDir lists the directory.
func (d *Dir) ReadDir() ([]fs.DirEntry, error) { return os.ReadDir(d.path) }

// Lock is an exclusive advisory lock (flock) on a file in a state directory. The kernel drops
// it when the process dies.
type Lock struct{ f *os.File }

// ErrLocked is returned (wrapped) by Dir.Lock without wait when another process holds the lock.
var ErrLocked = errors.New("locked by another process")

// Lock takes the lock on the file called name, creating it (mode 0600), and waits for its
// holder to let go when wait is set.
func (d *Dir) Lock(name string, wait bool) (*Lock, error) {
	p, err := d.file(name)
	if err != nil {
		return nil, err
	}
	f, err := OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_EX
	if !wait {
		how |= syscall.LOCK_NB
	}
	for {
		err = syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock %s: %w", p, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	return &Lock{f: f}, nil
}

// Unlock releases the lock.
func (l *Lock) Unlock() error { return l.f.Close() }

// OpenFile opens path with flag and perm as os.OpenFile does, but never follows a link in its
// last element and never blocks on a FIFO: anything but a regular file is refused with an
// error wrapping ErrUnsafe that says what it is. It is for files of the state directory and
// for files a root process appends to at a path it was given.
func OpenFile(path string, flag int, perm fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, perm)
	if err != nil {
		// ELOOP for a link (EMLINK on FreeBSD), ENXIO for a FIFO without reader opened for
		// writing, EISDIR, …: describe what is there when it is not a regular file.
		if fi, lerr := os.Lstat(path); lerr == nil && !fi.Mode().IsRegular() {
			return nil, notRegular(path, fi.Mode())
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, notRegular(path, fi.Mode())
	}
	return f, nil
}

func notRegular(path string, m fs.FileMode) error {
	if m&fs.ModeSymlink != 0 {
		return unsafef("%s is a symbolic link; firewarden does not follow links here: remove it (and find out who made it)", path)
	}
	return unsafef("%s is %s, not a regular file; remove it", path, kind(m))
}

func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a directory"
	case m.IsRegular():
		return "a regular file"
	}
	return "not a regular file"
}

// WriteFileAtomic replaces the file at path with data (mode perm) the way Dir.WriteFile does, in
// a directory that is not a state directory (a service definition, an output file): temporary
// file created exclusively beside it, fsync, rename, fsync of the directory. An existing path
// that is not a regular file is refused, never followed or replaced.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) error {
	return replace(path, data, perm)
}

func replace(path string, data []byte, perm fs.FileMode) error {
	if fi, err := os.Lstat(path); err == nil && !fi.Mode().IsRegular() {
		return notRegular(path, fi.Mode())
	}
	dir := filepath.Dir(path)
	f, tmp, err := createTemp(dir, filepath.Base(path), perm)
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmp)
		}
		f.Close() // releases the flock
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil { // the umask may have narrowed it
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return syncDir(dir)
}

// createTemp creates a temporary file for base in dir exclusively, under a random name, and
// holds an flock on it until it is closed, so that clean never removes it while it is written.
func createTemp(dir, base string, perm fs.FileMode) (*os.File, string, error) {
	for range 100 {
		var r [8]byte
		rand.Read(r[:])
		name := filepath.Join(dir, TempPrefix+hex.EncodeToString(r[:])+"-"+base)
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, perm&0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		// A cleaner may have taken the lock and removed the file between its creation and
		// this flock; then the name no longer leads to this file, and a new name is tried.
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil || !stillNamed(f, name) {
			f.Close()
			continue
		}
		return f, name, nil
	}
	return nil, "", fmt.Errorf("create a temporary file in %s: no free name after 100 tries", dir)
}

func stillNamed(f *os.File, name string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Lstat(name)
	return err == nil && os.SameFile(a, b)
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// legacyTemp matches the temporary files of firewarden before this package: os.CreateTemp's
// ".NAME.tmp-DIGITS" and the pf backend's fixed "NAME.tmp".
var legacyTemp = regexp.MustCompile(`^(\..+\.tmp-[0-9]+|pf-anchor\.conf\.tmp|pf\.token\.tmp|pf-addresses\.tmp)$`)

// legacyAge is how old a legacy temporary file must be before clean removes it: those writers
// held no lock, so only a file no live writer could still be writing is removed.
const legacyAge = 10 * time.Minute

// clean removes the temporary files killed runs left: ours when no live writer holds their
// flock, legacy ones when older than legacyAge. Failures are ignored: a file left is retried at
// the next open.
func (d *Dir) clean() {
	entries, err := os.ReadDir(d.path)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		p := filepath.Join(d.path, name)
		switch {
		case strings.HasPrefix(name, TempPrefix):
			removeUnlocked(p)
		case legacyTemp.MatchString(name):
			if fi, err := os.Lstat(p); err == nil && (!fi.Mode().IsRegular() || time.Since(fi.ModTime()) > legacyAge) {
				os.Remove(p)
			}
		}
	}
}

// removeUnlocked removes the temporary file p unless a live writer holds its lock. What is not a
// regular file under our prefix (nobody's temporary file) is removed as it is: removing a link
// never touches its target.
func removeUnlocked(p string) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		if fi, lerr := os.Lstat(p); lerr == nil && !fi.Mode().IsRegular() {
			os.Remove(p)
		}
		return
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		os.Remove(p)
		return
	}
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return // being written
	}
	if stillNamed(f, p) {
		os.Remove(p)
	}
}
