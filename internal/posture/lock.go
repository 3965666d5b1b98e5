package posture

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// ErrBusy is returned when another fix or rollback holds the lock.
var ErrBusy = errors.New("another firewarden fix or rollback is running")

// Lock is an exclusive advisory lock on a file in the state directory, held while a fix or a
// rollback changes the system, so that a scheduled run and a person's run never interleave their
// writes and backups. The kernel drops it if the process dies.
type Lock struct{ f *os.File }

// TryLock takes the fix/rollback lock in dir without waiting.
func TryLock(dir string) (*Lock, error) {
	l, err := lockFile(filepath.Join(dir, "lock"), false)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return nil, fmt.Errorf("%w (lock %s); try again when it has finished", ErrBusy, filepath.Join(dir, "lock"))
	}
	return l, err
}

// WaitLock takes the lock on path, waiting for its holder to let go. It is for short critical
// sections such as appending to the evidence chain.
func WaitLock(path string) (*Lock, error) { return lockFile(path, true) }

func lockFile(path string, wait bool) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_EX
	if !wait {
		how |= syscall.LOCK_NB
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, err
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &Lock{f: f}, nil
}

// Unlock releases the lock.
func (l *Lock) Unlock() error { return l.f.Close() }
