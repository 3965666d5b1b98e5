package posture

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/firewarden/firewarden/internal/statedir"
)

// ErrBusy is returned when another fix or rollback holds the lock.
var ErrBusy = errors.New("another firewarden fix or rollback is running")

// Lock is an exclusive advisory lock on a file in the state directory, held while a fix or a
// rollback changes the system, so that a scheduled run and a person's run never interleave their
// writes and backups. The kernel drops it if the process dies.
type Lock struct{ l *statedir.Lock }

// TryLock takes the fix/rollback lock in the state directory dir without waiting. The directory
// is checked and created as statedir.Open does; a link or FIFO at the lock file is refused.
func TryLock(dir string) (*Lock, error) {
	d, err := statedir.Open(dir)
	if err != nil {
		return nil, err
	}
	return tryLock(d)
}

// TryLockExisting is TryLock for the commands that act only on what an earlier fix left in dir
// (rollback, fix --confirm, fix --boot): it creates nothing, so that a mistyped --state-dir
// leaves no directory behind, and a missing directory is an error wrapping fs.ErrNotExist.
func TryLockExisting(dir string) (*Lock, error) {
	d, err := statedir.Existing(dir)
	if err != nil {
		return nil, err
	}
	return tryLock(d)
}

func tryLock(d *statedir.Dir) (*Lock, error) {
	l, err := d.Lock("lock", false)
	if errors.Is(err, statedir.ErrLocked) {
		return nil, fmt.Errorf("%w (lock %s); try again when it has finished", ErrBusy, d.Join("lock"))
	}
	if err != nil {
		return nil, err
	}
	return &Lock{l: l}, nil
}

// WaitLock takes the lock on path, a file in a state directory, waiting for its holder to let
// go. It is for short critical sections such as appending to the evidence chain.
func WaitLock(path string) (*Lock, error) {
	d, err := statedir.Open(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	l, err := d.Lock(filepath.Base(path), true)
	if err != nil {
		return nil, err
	}
	return &Lock{l: l}, nil
}

// Unlock releases the lock.
func (l *Lock) Unlock() error { return l.l.Unlock() }
