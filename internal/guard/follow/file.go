package follow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/firewarden/firewarden/internal/host"
)

// Defaults for FileOptions.
const (
	DefaultPoll        = 250 * time.Millisecond
	DefaultSafetyPoll  = time.Second
	DefaultRotateGrace = 2 * time.Second
)

// FileOptions configures File. The zero value follows the file from its end with inotify where
// there is one (Linux) and polling elsewhere.
type FileOptions struct {
	// Root resolves the file's system path (--root); the zero Root is "/".
	Root host.Root
	// FromStart reads what the file already holds before following it (tests, replay). By
	// default a file that exists when Run starts is read from its end; one that appears later,
	// or replaces it at a rotation, is always read from its start.
	FromStart bool
	// Poll is how often the file is checked when no change notification is to be had (macOS,
	// or inotify failed); zero means DefaultPoll.
	Poll time.Duration
	// SafetyPoll is how often the file is checked anyway while inotify watches it, in case a
	// notification is missed (a full event queue, a file system that sends none such as NFS);
	// zero means DefaultSafetyPoll.
	SafetyPoll time.Duration
	// NoNotify polls even where inotify exists.
	NoNotify bool
	// RotateGrace is how long a file is still read after another file took its name: a syslog
	// daemon writes to the old file until it is told to reopen (logrotate's postrotate HUP),
	// and those lines count too. Zero means DefaultRotateGrace.
	RotateGrace time.Duration
	// MaxLine caps a line's length in bytes; zero means DefaultMaxLine.
	MaxLine int
	// Log receives diagnostics: waiting for the file, rotation, truncation, cut lines.
	Log Logf
}

// File follows a plain text log file like `tail -F`: it reads lines as they are appended,
// follows the name across rotations by rename (the old file is read to its end, the new one from
// its start) and by copytruncate (reading starts over at 0), and waits for a file that does not
// exist yet. A partial last line is held back until its newline arrives (or its file is
// abandoned at a rotation, which hands it out as it is).
//
// On Linux, inotify wakes it within microseconds of a write (IN_MODIFY on the file; IN_CREATE
// and IN_MOVED_TO on its directory for a new file under the name); it also checks the file
// every SafetyPoll. Elsewhere it checks every Poll.
//
// Known limits: with polling only, a file truncated and then refilled past the read offset
// between two checks looks merely appended to (tail -F shares this); lines written to a rotated
// file after RotateGrace are not read.
type File struct {
	path string
	opts FileOptions
	// stepped, when set (tests), is called after every check of the file.
	stepped func()
	// resume is where the next Run starts (Resume); zero: as FileOptions say.
	resume Position
}

// Resume makes the next Run start at pos[f.Name()] (see Resumer).
func (f *File) Resume(pos map[string]Position) { f.resume = pos[f.Name()] }

// NewFile returns a File following the system path path under opts.Root.
func NewFile(path string, opts FileOptions) *File {
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	if opts.SafetyPoll <= 0 {
		opts.SafetyPoll = DefaultSafetyPoll
	}
	if opts.RotateGrace <= 0 {
		opts.RotateGrace = DefaultRotateGrace
	}
	if opts.MaxLine <= 0 {
		opts.MaxLine = DefaultMaxLine
	}
	return &File{path: path, opts: opts}
}

// Name is "file:" and the system path: "file:/var/log/auth.log".
func (f *File) Name() string { return "file:" + f.path }

// Run follows the file until ctx is cancelled. It fails when the file cannot be read the first
// time it exists (permissions: run the guard as root), when the name holds something other than
// a regular file, or on a read error; a file that is missing is waited for.
func (f *File) Run(ctx context.Context, emit func(Line)) error {
	t := &tail{
		file: f,
		full: f.opts.Root.Path(f.path),
		emit: emit,
		name: f.Name(),
		buf:  make([]byte, 64<<10),
		wd:   -1,
	}
	t.dir, t.base = filepath.Split(t.full)
	t.resume, f.resume = f.resume, Position{}
	if !f.opts.NoNotify {
		n, err := newNotifier()
		switch {
		case err == nil:
			t.note = n
			defer n.close()
		case !errors.Is(err, errors.ErrUnsupported):
			f.opts.Log.printf("%s: no change notification (%v): checking every %s", f.path, err, f.opts.Poll)
		}
	}
	defer t.closeAll()
	if err := t.step(ctx, true); err != nil {
		return err
	}
	if f.stepped != nil {
		f.stepped()
	}
	interval := t.interval()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var wake <-chan struct{}
	if t.note != nil {
		wake = t.note.wake()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-tick.C:
		}
		if err := t.step(ctx, false); err != nil {
			return err
		}
		if f.stepped != nil {
			f.stepped()
		}
		if d := t.interval(); d != interval {
			interval = d
			tick.Reset(d)
		}
	}
}

// tail is one Run's state.
type tail struct {
	file      *File
	full      string // the path under the root
	dir, base string
	name      string
	emit      func(Line)
	note      notifier // nil: polling only
	buf       []byte   // read buffer
	cur       *openFile
	old       []*openFile // rotated away, read until their grace ends
	opened    bool        // the name was opened at least once in this Run
	waiting   bool        // said that the file does not exist
	lastErr   string      // the open error last reported, to say each only once
	saidLong  bool        // reported a cut line
	wd        int         // the directory's watch, -1 when none
	resume    Position    // where the first open starts; zero: FileOptions decide
}

// openFile is one opened file and how far it was read.
type openFile struct {
	f     *os.File
	info  fs.FileInfo // identity when opened
	off   int64
	sp    *splitter
	wd    int       // its inotify watch, -1 when none
	until time.Time // for a rotated file: when reading it stops
	// dev and ino identify the file in the Positions of its lines; replay is set while a
	// resumed file is read up to its end as it was (see Line.Replay).
	dev, ino uint64
	replay   bool
}

// fileID is the device and inode of a file, which name it across renames.
func fileID(info fs.FileInfo) (dev, ino uint64) {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino)
	}
	return 0, 0
}

// interval is how long to wait for the next check when nothing wakes Run.
func (t *tail) interval() time.Duration {
	if t.note != nil && t.wd >= 0 && (t.cur == nil || t.cur.wd >= 0) {
		return t.file.opts.SafetyPoll
	}
	return t.file.opts.Poll
}

// step reads whatever is new and follows the name to another file if it moved.
func (t *tail) step(ctx context.Context, first bool) error {
	if t.note != nil && t.wd < 0 {
		// The directory may not exist yet; until it does, polling at Poll covers it.
		if wd, err := t.note.watchDir(t.dir, t.base); err == nil {
			t.wd = wd
		}
	}
	now := time.Now()
	kept := t.old[:0]
	for _, o := range t.old {
		if err := t.read(ctx, o); err != nil {
			return err
		}
		if now.Before(o.until) {
			kept = append(kept, o)
			continue
		}
		o.sp.flush(t.line(o, time.Now()))
		t.close(o)
	}
	clear(t.old[len(kept):])
	t.old = kept
	if t.note != nil && t.wd >= 0 && !t.note.dirWatched(t.wd) {
		t.wd = -1 // the directory went away; watch it again next time
	}

	if t.cur == nil {
		return t.open(ctx, first)
	}
	if err := t.read(ctx, t.cur); err != nil {
		return err
	}
	st, err := os.Stat(t.full)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Renamed away or deleted, nothing new under the name yet: keep reading the old file,
		// which a writer may still be appending to.
		return nil
	case err != nil:
		return nil // a passing error (permissions being changed): checked again next time
	case !os.SameFile(st, t.cur.info):
		t.file.opts.Log.printf("%s was replaced (rotated): reading the new file from its start", t.file.path)
		t.cur.until = now.Add(t.file.opts.RotateGrace)
		t.old = append(t.old, t.cur)
		t.cur = nil
		return t.open(ctx, false)
	case st.Size() < t.cur.off:
		t.file.opts.Log.printf("%s shrank from %d to %d bytes (truncated, copytruncate rotation): reading it from its start", t.file.path, t.cur.off, st.Size())
		t.cur.sp.flush(t.line(t.cur, time.Now()))
		if _, err := t.cur.f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("%s: %w", t.file.path, err)
		}
		t.cur.off, t.cur.sp.off, t.cur.replay = 0, 0, false
		return t.read(ctx, t.cur)
	}
	return nil
}

// open opens the file under the name and reads it. At the first step of a Run an existing file
// is read from its end unless FromStart; any other file is new and read from its start.
func (t *tail) open(ctx context.Context, first bool) error {
	// Stat first: opening a named pipe for reading would block until someone writes to it.
	st, err := os.Stat(t.full)
	if err == nil && !st.Mode().IsRegular() {
		return notRegular(t.file.path, st)
	}
	var f *os.File
	if err == nil {
		f, err = os.Open(t.full)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if !t.waiting {
				t.file.opts.Log.printf("%s does not exist yet: waiting for it to appear", t.file.path)
				t.waiting = true
			}
			return nil
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		if !t.opened {
			return fmt.Errorf("cannot open %s: %w (run the guard as root, or give it read access)", t.file.path, err)
		}
		if msg := err.Error(); msg != t.lastErr {
			t.file.opts.Log.printf("cannot open %s: %v; trying again", t.file.path, err)
			t.lastErr = msg
		}
		return nil
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", t.file.path, err)
	}
	if !info.Mode().IsRegular() {
		f.Close()
		return notRegular(t.file.path, info)
	}
	o := &openFile{f: f, info: info, sp: newSplitter(t.file.opts.MaxLine), wd: -1}
	o.dev, o.ino = fileID(info)
	r := t.resume
	t.resume = Position{}
	switch {
	case !first:
	case !r.IsZero() && r.Dev == o.dev && r.Ino == o.ino && r.Off <= info.Size():
		// The file an earlier run read: on from where its effects were saved.
		o.off, err = f.Seek(r.Off, io.SeekStart)
		if err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", t.file.path, err)
		}
		o.replay = o.off < info.Size()
		if o.replay {
			t.file.opts.Log.printf("%s: resuming at byte %d of %d, where the last run's saved state ends", t.file.path, o.off, info.Size())
		}
	case !r.IsZero():
		// Replaced (rotated) or truncated since: everything in it came after the position.
		o.replay = info.Size() > 0
		t.file.opts.Log.printf("%s is not the file the last run read (rotated or truncated since): reading it from its start", t.file.path)
	case !t.file.opts.FromStart:
		o.off, err = f.Seek(0, io.SeekEnd)
		if err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", t.file.path, err)
		}
	}
	o.sp.off = o.off
	if t.waiting {
		t.file.opts.Log.printf("%s appeared: reading it from its start", t.file.path)
	}
	t.waiting, t.lastErr, t.opened = false, "", true
	if t.note != nil {
		if wd, err := t.note.watchFile(f, t.full); err == nil {
			o.wd = wd
		}
	}
	t.cur = o
	if o.dev != 0 || o.ino != 0 {
		t.emit(Line{Source: t.name, Read: time.Now(), Pos: Position{Dev: o.dev, Ino: o.ino, Off: o.off}, Replay: o.replay})
	}
	return t.read(ctx, o)
}

// read hands out every complete line the file holds past o.off.
func (t *tail) read(ctx context.Context, o *openFile) error {
	for ctx.Err() == nil {
		n, err := o.f.Read(t.buf)
		if n > 0 {
			o.off += int64(n)
			o.sp.feed(t.buf[:n], t.line(o, time.Now()))
			if o.sp.long > 0 && !t.saidLong {
				t.file.opts.Log.printf("%s has a line longer than %d bytes: only its start is read (further ones are not reported)", t.file.path, o.sp.max)
				t.saidLong = true
			}
		}
		switch {
		case err == io.EOF || n == 0:
			o.replay = false
			return nil
		case err != nil:
			return fmt.Errorf("read %s: %w", t.file.path, err)
		}
	}
	return nil
}

// line returns the splitter callback that hands out a line of o as read at when.
func (t *tail) line(o *openFile, when time.Time) func([]byte) {
	return func(b []byte) {
		t.emit(Line{Text: b, Source: t.name, Read: when, Pos: Position{Dev: o.dev, Ino: o.ino, Off: o.sp.end}, Replay: o.replay})
	}
}

func (t *tail) close(o *openFile) {
	if t.note != nil && o.wd >= 0 {
		t.note.unwatch(o.wd)
	}
	o.f.Close()
}

func (t *tail) closeAll() {
	for _, o := range t.old {
		t.close(o)
	}
	t.old = nil
	if t.cur != nil {
		t.close(t.cur)
		t.cur = nil
	}
}

func notRegular(path string, info fs.FileInfo) error {
	return fmt.Errorf("%s is a %s, not a regular file: give the guard a log file to follow", path, kindOf(info.Mode()))
}

func kindOf(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// notifier wakes a File when its file or directory may have changed. It only says "look
// again": every decision is made from stat and read, so a spurious or lost wake-up costs at most
// a SafetyPoll of latency.
type notifier interface {
	// wake receives a value after a relevant change; several changes may share one value.
	wake() <-chan struct{}
	// watchDir watches dir for a file named base being created or moved in.
	watchDir(dir, base string) (wd int, err error)
	// dirWatched reports whether the directory watch wd still stands (the directory was not
	// removed or moved away).
	dirWatched(wd int) bool
	// watchFile watches the open file f (whose name is path) for writes, truncation, renames
	// and removal.
	watchFile(f *os.File, path string) (wd int, err error)
	unwatch(wd int)
	close()
}

var (
	_ Source  = (*File)(nil)
	_ Resumer = (*File)(nil)
)
