package sshd

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"

	"github.com/firewarden/firewarden/internal/host"
)

// The drop-in is reached through an os.Root opened at /etc/ssh (under the root), so that no
// symbolic link inside sshd's configuration directory can lead a write elsewhere, and the file
// itself is never followed: a link or anything but a regular file at DropIn is refused.
const (
	sshDir    = "/etc/ssh"
	dropInRel = "sshd_config.d/00-firewarden.conf"
)

func openSSHDir(r host.Root) (*os.Root, error) {
	d, err := os.OpenRoot(r.Path(sshDir))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", sshDir, err)
	}
	return d, nil
}

// readDropIn returns the drop-in's content and whether it exists. A link, a directory or any
// other non-regular file there is an error: firewarden changes only a file it can replace whole.
func readDropIn(r host.Root) ([]byte, bool, error) {
	d, err := openSSHDir(r)
	if err != nil {
		return nil, false, err
	}
	defer d.Close()
	fi, err := d.Lstat(dropInRel)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if !fi.Mode().IsRegular() {
		return nil, false, fmt.Errorf("%s is %s, not a regular file: firewarden does not change it; remove it or make it a plain file", DropIn, describe(fi.Mode()))
	}
	f, err := d.Open(dropInRel)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !os.SameFile(fi, st) {
		return nil, false, fmt.Errorf("%s changed while it was read; run the fix again", DropIn)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxDropIn+1))
	if err != nil {
		return nil, false, err
	}
	if len(data) > maxDropIn {
		return nil, false, fmt.Errorf("%s is larger than %d bytes: firewarden does not change it", DropIn, maxDropIn)
	}
	return data, true, nil
}

func describe(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsDir():
		return "a directory"
	}
	return "a special file (" + m.Type().String() + ")"
}

// writeDropIn replaces the drop-in with data so that sshd sees the old file or the whole new one:
// a temporary file beside it (its name does not end in .conf, so an Include of *.conf never reads
// it), fsync, rename over the drop-in (rename replaces a link rather than following it), fsync of
// the directory.
func writeDropIn(r host.Root, data []byte) error {
	d, err := openSSHDir(r)
	if err != nil {
		return err
	}
	defer d.Close()
	dir := path.Dir(dropInRel)
	if err := d.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create %s: %w", path.Join(sshDir, dir), err)
	}
	if fi, err := d.Lstat(dropInRel); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is %s, not a regular file: firewarden does not change it; remove it or make it a plain file", DropIn, describe(fi.Mode()))
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	tmp := path.Join(dir, ".00-firewarden.conf."+hex.EncodeToString(rnd[:])+".tmp")
	f, err := d.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", DropIn, err)
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Chmod(0o644) // whatever the umask
	}
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = d.Rename(tmp, dropInRel)
	}
	if werr != nil {
		d.Remove(tmp)
		return fmt.Errorf("write %s: %w", DropIn, werr)
	}
	return syncDir(d, dir)
}

// removeDropIn removes the drop-in (a rollback to "absent"); a drop-in already gone is fine.
func removeDropIn(r host.Root) error {
	d, err := openSSHDir(r)
	if err != nil {
		return err
	}
	defer d.Close()
	fi, err := d.Lstat(dropInRel)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is %s, not a regular file: firewarden does not remove it", DropIn, describe(fi.Mode()))
	}
	if err := d.Remove(dropInRel); err != nil {
		return fmt.Errorf("remove %s: %w", DropIn, err)
	}
	return syncDir(d, path.Dir(dropInRel))
}

// removeEmptyDropInDir removes sshd_config.d when it is an empty directory, as a fix that made it
// found it absent; anything else there is left alone.
func removeEmptyDropInDir(r host.Root) error {
	d, err := openSSHDir(r)
	if err != nil {
		return err
	}
	defer d.Close()
	dir := path.Dir(dropInRel)
	fi, err := d.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil || !fi.IsDir() {
		return err
	}
	f, err := d.Open(dir)
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(1)
	f.Close()
	if len(names) > 0 || err != nil && !errors.Is(err, io.EOF) {
		return nil
	}
	if err := d.Remove(dir); err != nil {
		return fmt.Errorf("remove %s: %w", path.Join(sshDir, dir), err)
	}
	return syncDir(d, ".")
}

// syncDir makes a rename or removal in dir durable.
func syncDir(d *os.Root, dir string) error {
	f, err := d.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path.Join(sshDir, dir), err)
	}
	return nil
}
