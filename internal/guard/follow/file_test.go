package follow

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/host/hosttest"
)

// modes are the two ways File learns of changes. With inotify both poll intervals are never, so
// every line after the first check was brought by a notification; polling checks every 5 ms.
var modes = []struct {
	name string
	opts FileOptions
}{
	{"inotify", FileOptions{Poll: never, SafetyPoll: never}},
	{"poll", FileOptions{NoNotify: true, Poll: 5 * time.Millisecond}},
}

// logPath is where the tests' log file lives, under a temporary root.
const logPath = "/var/log/auth.log"

// fileEnv is a temporary root with a log directory, and a File following logPath in it.
type fileEnv struct {
	t     *testing.T
	root  string
	full  string
	file  *File
	steps chan struct{}
	got   *collector
	log   *hosttest.Lines
	run   *running
}

// newFileEnv prepares the root; mkDir says whether /var/log exists yet.
func newFileEnv(t *testing.T, opts FileOptions, mkDir bool) *fileEnv {
	t.Helper()
	root := t.TempDir()
	r, err := host.NewRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	e := &fileEnv{t: t, root: root, full: r.Path(logPath), steps: make(chan struct{}, 1<<16), got: newCollector(), log: &hosttest.Lines{}}
	if mkDir {
		e.mkdir()
	}
	opts.Root = r
	opts.Log = e.log.Logf
	e.file = NewFile(logPath, opts)
	e.file.stepped = func() { e.steps <- struct{}{} }
	return e
}

func (e *fileEnv) mkdir() {
	if err := os.MkdirAll(filepath.Dir(e.full), 0o755); err != nil {
		e.t.Fatal(err)
	}
}

// start runs the File and waits for its first check.
func (e *fileEnv) start() {
	e.run = start(e.t, e.file, e.got.emit)
	e.waitSteps(1)
}

// drainSteps forgets the checks made so far, so that waitSteps counts only later ones.
func (e *fileEnv) drainSteps() {
	for {
		select {
		case <-e.steps:
		default:
			return
		}
	}
}

// waitSteps waits for n more checks of the file.
func (e *fileEnv) waitSteps(n int) {
	e.t.Helper()
	for range n {
		select {
		case <-e.steps:
		case <-time.After(patience):
			e.t.Fatalf("the File made no check in %s", patience)
		}
	}
}

func (e *fileEnv) write(name, s string) {
	e.t.Helper()
	if err := os.WriteFile(filepath.Join(filepath.Dir(e.full), name), []byte(s), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *fileEnv) append(name, s string) {
	e.t.Helper()
	f, err := os.OpenFile(filepath.Join(filepath.Dir(e.full), name), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		e.t.Fatal(err)
	}
}

func (e *fileEnv) rename(from, to string) {
	e.t.Helper()
	dir := filepath.Dir(e.full)
	if err := os.Rename(filepath.Join(dir, from), filepath.Join(dir, to)); err != nil {
		e.t.Fatal(err)
	}
}

func forModes(t *testing.T, test func(t *testing.T, opts FileOptions)) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			if m.name == "inotify" && runtime.GOOS != "linux" {
				t.Skip("inotify is Linux only; the poll mode covers this system")
			}
			test(t, m.opts)
		})
	}
}

// onlyPrefix keeps the lines starting with p, in order.
func onlyPrefix(lines []string, p string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, p) {
			out = append(out, l)
		}
	}
	return out
}

func TestFileStartsAtEnd(t *testing.T) {
	forModes(t, func(t *testing.T, opts FileOptions) {
		e := newFileEnv(t, opts, true)
		e.write("auth.log", "old 1\nold 2\n")
		e.start()
		e.append("auth.log", "new 1\n")
		if diff := cmp.Diff([]string{"new 1"}, e.got.wait(t, 1)); diff != "" {
			t.Errorf("lines (-want +got):\n%s", diff)
		}
		if err := e.run.stop(t); err != nil {
			t.Errorf("Run() = %v, want nil after cancel", err)
		}
		if e.log.String() != "" {
			t.Errorf("diagnostics %q, want none", e.log.String())
		}
	})
}

func TestFileFromStart(t *testing.T) {
	forModes(t, func(t *testing.T, opts FileOptions) {
		opts.FromStart = true
		e := newFileEnv(t, opts, true)
		e.write("auth.log", "old 1\n\nold 2\n")
		e.start()
		e.append("auth.log", "new 1\n")
		if diff := cmp.Diff([]string{"old 1", "old 2", "new 1"}, e.got.wait(t, 3)); diff != "" {
			t.Errorf("lines (-want +got), empty lines skipped:\n%s", diff)
		}
	})
}

// logrotate without copytruncate: rename the file, create a new one; the syslog daemon writes to
// the old file until it is told to reopen.
func TestFileRotationByRename(t *testing.T) {
	forModes(t, func(t *testing.T, opts FileOptions) {
		opts.FromStart = true
		opts.RotateGrace = never // the old file stays read for the whole test
		e := newFileEnv(t, opts, true)
		e.write("auth.log", "a1\na2\n")
		e.start()
		e.got.wait(t, 2)
		e.append("auth.log", "a3\n")
		e.rename("auth.log", "auth.log.1")
		e.append("auth.log.1", "a4 partial")
		e.write("auth.log", "b1\n")
		e.append("auth.log.1", " line\n") // the daemon, not yet reopened
		e.append("auth.log", "b2\n")
		got := e.got.wait(t, 6)
		if diff := cmp.Diff([]string{"a1", "a2", "a3", "a4 partial line"}, onlyPrefix(got, "a")); diff != "" {
			t.Errorf("old file's lines (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"b1", "b2"}, onlyPrefix(got, "b")); diff != "" {
			t.Errorf("new file's lines (-want +got):\n%s", diff)
		}
		if i, j := slices.Index(got, "a3"), slices.Index(got, "b1"); i > j {
			t.Errorf("lines %q: a3 (old file, before the rename) after b1", got)
		}
		e.append("auth.log", "b3\n")
		if got := e.got.wait(t, 7); got[6] != "b3" || len(got) != 7 {
			t.Errorf("lines %q, want b3 last and nothing else", got)
		}
		if e.log.Count("was replaced (rotated)") != 1 {
			t.Errorf("diagnostics %q, want the rotation said once", e.log.String())
		}
	})
}

// A rotated file whose grace has passed is closed; its partial last line is handed out then.
func TestFileRotatedFileGraceEnds(t *testing.T) {
	forModes(t, func(t *testing.T, opts FileOptions) {
		opts.FromStart = true
		opts.RotateGrace = time.Nanosecond
		e := newFileEnv(t, opts, true)
		e.write("auth.log", "a1\na2 no newline")
		e.start()
		e.got.wait(t, 1)
		e.rename("auth.log", "auth.log.1")
		e.write("auth.log", "b1\n")
		e.got.wait(t, 2)
		e.append("auth.log", "b2\n") // a check after the grace closes auth.log.1
		// The partial line is handed out at the first check after the grace, which reads the
		// old file before the new one, so no later than b2.
		got := e.got.wait(t, 4)
		if diff := cmp.Diff([]string{"a1", "a2 no newline"}, onlyPrefix(got, "a")); diff != "" {
			t.Errorf("old file's lines (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"b1", "b2"}, onlyPrefix(got, "b")); diff != "" {
			t.Errorf("new file's lines (-want +got):\n%s", diff)
		}
	})
}

// Rotation that removes the file, then creates it later.
func TestFileRemovedThenCreated(t *testing.T) {
	forModes(t, func(t *testing.T, opts FileOptions) {
		e := newFileEnv(t, opts, true)
		e.write("auth.log", "")
		e.start()
		e.append("auth.log", "a1\n")
		e.got.wait(t, 1)
		e.drainSteps()
		if err := os.Remove(e.full); err != nil {
			t.Fatal(err)
		}
		e.waitSteps(1) // IN_ATTRIB / IN_DELETE_SELF, or a poll
		e.write("auth.log", "b1\n")
		if diff := cmp.Diff([]string{"a1", "b1"}, e.got.wait(t, 2)); diff != "" {
			t.Errorf("lines (-want +got):\n%s", diff)
		}
	})
}

// logrotate copytruncate: the file is copied, then truncated in place; the writer goes on at 0.
func TestFileCopyTruncate(t *testing.T) {
	forModes(t, func(t *testing.T, opts FileOptions) {
		opts.FromStart = true
		e := newFileEnv(t, opts, true)
		long := strings.Repeat("x", 100)
		e.write("auth.log", "a1 "+long+"\na2 "+long+"\n")
		e.start()
		e.got.wait(t, 2)
		data, err := os.ReadFile(e.full)
		if err != nil {
			t.Fatal(err)
		}
		e.write("auth.log.1", string(data))
		if err := os.Truncate(e.full, 0); err != nil {
			t.Fatal(err)
		}
		e.append("auth.log", "b1\n") // shorter than what was read: the shrink is seen
		e.append("auth.log", "b2\n")
		if diff := cmp.Diff([]string{"a1 " + long, "a2 " + long, "b1", "b2"}, e.got.wait(t, 4)); diff != "" {
			t.Errorf("lines (-want +got):\n%s", diff)
		}
		if e.log.Count("truncated") != 1 {
			t.Errorf("diagnostics %q, want the truncation said once", e.log.String())
		}
	})
}

func TestFileAppearsLate(t *testing.T) {
	for _, mkDir := range []bool{true, false} {
		t.Run(fmt.Sprintf("dir exists %v", mkDir), func(t *testing.T) {
			forModes(t, func(t *testing.T, opts FileOptions) {
				if !mkDir {
					opts.Poll = 5 * time.Millisecond // no directory to watch: polling finds it
				}
				e := newFileEnv(t, opts, mkDir)
				e.start()
				if !mkDir {
					e.waitSteps(3)
					e.mkdir()
				}
				e.write("other.log", "not ours\n")
				e.write("auth.log", "first\n")
				e.append("auth.log", "second\n")
				if diff := cmp.Diff([]string{"first", "second"}, e.got.wait(t, 2)); diff != "" {
					t.Errorf("lines (-want +got), a new file read from its start:\n%s", diff)
				}
				if e.log.Count("does not exist yet") != 1 || e.log.Count("appeared") != 1 {
					t.Errorf("diagnostics %q, want the wait and the appearance said once each", e.log.String())
				}
			})
		})
	}
}

// A file that a rename moves into place (rsyslog's and many editors' atomic writes).
func TestFileMovedIntoPlace(t *testing.T) {
	forModes(t, func(t *testing.T, opts FileOptions) {
		e := newFileEnv(t, opts, true)
		e.start()
		e.write("auth.log.tmp", "moved\n")
		e.rename("auth.log.tmp", "auth.log")
		if diff := cmp.Diff([]string{"moved"}, e.got.wait(t, 1)); diff != "" {
			t.Errorf("lines (-want +got):\n%s", diff)
		}
	})
}

func TestFilePartialLine(t *testing.T) {
	forModes(t, func(t *testing.T, opts FileOptions) {
		e := newFileEnv(t, opts, true)
		e.write("auth.log", "")
		e.start()
		e.drainSteps()
		e.append("auth.log", "Jul  3 14:59:17 host sshd-session[1571]: Failed password")
		e.waitSteps(1)
		e.drainSteps()
		e.append("auth.log", " for root from 192.0.2.1")
		e.waitSteps(1)
		if got := e.got.texts(); len(got) != 0 {
			t.Fatalf("lines %q before the newline, want none", got)
		}
		e.append("auth.log", " port 56502 ssh2\nnext\n")
		want := []string{"Jul  3 14:59:17 host sshd-session[1571]: Failed password for root from 192.0.2.1 port 56502 ssh2", "next"}
		if diff := cmp.Diff(want, e.got.wait(t, 2)); diff != "" {
			t.Errorf("lines (-want +got):\n%s", diff)
		}
	})
}

func TestFileOverlongLine(t *testing.T) {
	forModes(t, func(t *testing.T, opts FileOptions) {
		opts.MaxLine = 100
		e := newFileEnv(t, opts, true)
		e.write("auth.log", "")
		e.start()
		// One over-long line in one write, another across three writes, then normal lines.
		e.append("auth.log", strings.Repeat("a", 250)+"\nshort 1\n")
		e.got.wait(t, 2)
		for _, part := range []string{strings.Repeat("b", 60), strings.Repeat("c", 60), strings.Repeat("d", 60) + "\nshort 2\n"} {
			e.drainSteps()
			e.append("auth.log", part)
			e.waitSteps(1)
		}
		e.append("auth.log", strings.Repeat("e", 100)+"\n") // exactly the cap: whole
		want := []string{strings.Repeat("a", 100), "short 1", strings.Repeat("b", 60) + strings.Repeat("c", 40), "short 2", strings.Repeat("e", 100)}
		if diff := cmp.Diff(want, e.got.wait(t, 5)); diff != "" {
			t.Errorf("lines (-want +got):\n%s", diff)
		}
		if e.log.Count("longer than 100 bytes") != 1 {
			t.Errorf("diagnostics %q, want the cut said once", e.log.String())
		}
	})
}

// Many lines written quickly, in writes that split lines anywhere: none lost, none doubled, in
// order.
func TestFileManyLines(t *testing.T) {
	forModes(t, func(t *testing.T, opts FileOptions) {
		e := newFileEnv(t, opts, true)
		e.write("auth.log", "")
		e.start()
		const n = 20000
		var all bytes.Buffer
		want := make([]string, n)
		for i := range n {
			want[i] = fmt.Sprintf("2026-11-22T12:00:00.%06d+00:00 host sshd[%d]: Invalid user u%d from 192.0.2.%d port %d", i, 1000+i, i, i%250, 1024+i)
			all.WriteString(want[i] + "\n")
		}
		f, err := os.OpenFile(e.full, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		data := all.Bytes()
		for size := 1; len(data) > 0; size = size*7%4093 + 1 {
			k := min(size, len(data))
			if _, err := f.Write(data[:k]); err != nil {
				t.Fatal(err)
			}
			data = data[k:]
		}
		f.Close()
		got := e.got.wait(t, n)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("lines (-want +got):\n%s", diff)
		}
	})
}

// Cancelling returns at once: with both poll intervals never, nothing else could end the wait.
func TestFileCancel(t *testing.T) {
	for _, exists := range []bool{true, false} {
		t.Run(fmt.Sprintf("file exists %v", exists), func(t *testing.T) {
			forModes(t, func(t *testing.T, opts FileOptions) {
				opts.Poll, opts.SafetyPoll = never, never
				e := newFileEnv(t, opts, true)
				if exists {
					e.write("auth.log", "x\n")
				}
				e.start()
				if err := e.run.stop(t); err != nil {
					t.Errorf("Run() = %v, want nil", err)
				}
			})
		})
	}
}

func TestFileErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(e *fileEnv)
		want  string
	}{
		{"directory", func(e *fileEnv) { os.MkdirAll(e.full, 0o755) }, "/var/log/auth.log is a directory, not a regular file: give the guard a log file to follow"},
		{"named pipe", func(e *fileEnv) {
			if err := unix.Mkfifo(e.full, 0o600); err != nil {
				e.t.Fatal(err)
			}
		}, "/var/log/auth.log is a named pipe, not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newFileEnv(t, FileOptions{Poll: never, SafetyPoll: never}, true)
			tt.setup(e)
			e.run = start(t, e.file, e.got.emit)
			err := e.run.wait(t)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestFileName(t *testing.T) {
	if got := NewFile("/var/log/auth.log", FileOptions{}).Name(); got != "file:/var/log/auth.log" {
		t.Errorf("Name() = %q, want file:/var/log/auth.log", got)
	}
}
