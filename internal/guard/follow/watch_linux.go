//go:build linux

package follow

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Watch masks. A file watch wakes on writes (IN_MODIFY, also sent by truncate), on attribute and
// link-count changes (IN_ATTRIB: an unlink), and on the file being moved or removed; a directory
// watch wakes on a new name (IN_CREATE, IN_MOVED_TO) and notes its own removal.
const (
	fileMask = unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_MOVE_SELF | unix.IN_DELETE_SELF
	dirMask  = unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_MOVE_SELF | unix.IN_DELETE_SELF | unix.IN_ONLYDIR
)

// inotify is the Linux notifier. Its descriptor is non-blocking and handed to Go's poller, so one
// goroutine can wait on it and be stopped by Close.
type inotify struct {
	file *os.File
	c    chan struct{}
	done chan struct{}

	mu   sync.Mutex
	dirs map[int]string // directory watch → the base name looked for in it
}

func newNotifier() (notifier, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("inotify_init1: %w", err)
	}
	n := &inotify{
		file: os.NewFile(uintptr(fd), "inotify"),
		c:    make(chan struct{}, 1),
		done: make(chan struct{}),
		dirs: map[int]string{},
	}
	go n.loop() // owned by n: it ends when close closes the descriptor
	return n, nil
}

func (n *inotify) wake() <-chan struct{} { return n.c }

// control runs fn with the raw inotify descriptor.
func (n *inotify) control(fn func(fd int) error) error {
	rc, err := n.file.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

func (n *inotify) add(path string, mask uint32) (int, error) {
	var wd int
	err := n.control(func(fd int) error {
		var err error
		wd, err = unix.InotifyAddWatch(fd, path, mask)
		return err
	})
	if err != nil {
		return -1, fmt.Errorf("inotify_add_watch %s: %w", path, err)
	}
	return wd, nil
}

func (n *inotify) watchDir(dir, base string) (int, error) {
	wd, err := n.add(dir, dirMask)
	if err != nil {
		return -1, err
	}
	n.mu.Lock()
	n.dirs[wd] = base
	n.mu.Unlock()
	return wd, nil
}

func (n *inotify) dirWatched(wd int) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.dirs[wd]
	return ok
}

// watchFile watches the inode f has open, through /proc/self/fd, so that a rename between the
// open and the watch cannot make it watch another file; without /proc it watches path.
func (n *inotify) watchFile(f *os.File, path string) (int, error) {
	if rc, err := f.SyscallConn(); err == nil {
		var wd int
		werr := errors.New("no descriptor")
		rc.Control(func(fd uintptr) {
			wd, werr = n.add("/proc/self/fd/"+strconv.Itoa(int(fd)), fileMask)
		})
		if werr == nil {
			return wd, nil
		}
	}
	return n.add(path, fileMask)
}

func (n *inotify) unwatch(wd int) {
	// EINVAL when the kernel already dropped the watch (the file was deleted): nothing to do.
	n.control(func(fd int) error {
		_, err := unix.InotifyRmWatch(fd, uint32(wd))
		return err
	})
	n.mu.Lock()
	delete(n.dirs, wd)
	n.mu.Unlock()
}

func (n *inotify) close() {
	n.file.Close()
	<-n.done
}

// loop reads events and turns the relevant ones into wake-ups. Events on a directory matter only
// for the followed name (a busy /var/log has many other files); every file event matters.
func (n *inotify) loop() {
	defer close(n.done)
	buf := make([]byte, 16<<10)
	for {
		k, err := n.file.Read(buf)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return // closed; or broken, and the File's polling carries on
		}
		relevant := false
		n.mu.Lock()
		for ev := buf[:k]; len(ev) >= unix.SizeofInotifyEvent; {
			wd := int(int32(binary.NativeEndian.Uint32(ev[0:])))
			mask := binary.NativeEndian.Uint32(ev[4:])
			nameLen := int(binary.NativeEndian.Uint32(ev[12:]))
			end := min(unix.SizeofInotifyEvent+nameLen, len(ev))
			name := ev[unix.SizeofInotifyEvent:end]
			for len(name) > 0 && name[len(name)-1] == 0 {
				name = name[:len(name)-1]
			}
			ev = ev[end:]
			base, isDir := n.dirs[wd]
			switch {
			case !isDir:
				relevant = true // the file's own events, or IN_Q_OVERFLOW (wd -1)
			case mask&(unix.IN_IGNORED|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) != 0:
				// Gone from its path: watched again by path at the next check. A moved
				// directory keeps its watch in the kernel, which would only bring noise.
				delete(n.dirs, wd)
				if mask&unix.IN_MOVE_SELF != 0 {
					n.control(func(fd int) error {
						_, err := unix.InotifyRmWatch(fd, uint32(wd))
						return err
					})
				}
				relevant = true
			case string(name) == base:
				relevant = true
			}
		}
		n.mu.Unlock()
		if relevant {
			select {
			case n.c <- struct{}{}:
			default: // a wake-up is already pending
			}
		}
	}
}
