// Package follow is where `firewarden guard` reads authentication log lines from: a plain log
// file followed like `tail -F` (File), the systemd journal through `journalctl --follow`
// (Journal), and the macOS unified log through `log stream` (UnifiedLog). Each source hands out
// raw lines in a shape internal/authwatch parses; deciding what a line means is authwatch's job,
// not the source's. Multi runs several sources at once and serialises their lines to one
// callback.
//
// Sources are the concurrent edge of the guard (they wait on files and programs); everything
// they hand out is plain bytes, so the engine behind them stays synchronous.
package follow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Line is one log line as read, without its newline. Text is only valid during the emit call
// (sources reuse buffers); the callee copies what it keeps.
type Line struct {
	Text   []byte
	Source string    // the source's Name(), e.g. "file:/var/log/auth.log", "journal", "unifiedlog"
	Read   time.Time // when firewarden read it (for latency measurement)
	// Pos is where the line ends in its file, for a source that can resume there (File); zero
	// otherwise. A Line with Pos and no Text is a mark: the source opened a file at Pos (at its
	// end, its start, or a resumed position), before any line of it, so that a consumer can
	// save where reading began.
	Pos Position
	// Replay is set on the lines a resumed source reads from its saved position up to the end
	// its file had then: lines written while nothing read them, possibly long ago.
	Replay bool
}

// Position is where a line of a log file ends: the file's identity (device and inode) and the
// offset just past the line's newline. A daemon saves the position of the last line whose
// effects it saved, and after a restart hands it back (Resumer) to read on from there.
type Position struct {
	Dev, Ino uint64
	Off      int64
}

// IsZero reports whether p names no position.
func (p Position) IsZero() bool { return p == Position{} }

// Resumer is a Source that can start where an earlier run stopped instead of at the end of its
// files. Multi passes the call on to its sources.
type Resumer interface {
	// Resume makes the next Run start each file at pos[its Name()], when the file under the
	// name is still the one the position names and is at least that long; a file replaced
	// since (rotated) is read from its start, since all of it is new. Sources without an entry
	// start as they would without Resume.
	Resume(pos map[string]Position)
}

// TimeResumer is a Source that cannot name a place in its stream but can start at an instant
// (the systemd journal). ResumeSince makes the next Run start with what was logged from t's
// second on, instead of at the end, and mark those lines Replay: the consumer skips the ones it
// had counted already (logged at or before t) by their own timestamps.
type TimeResumer interface {
	ResumeSince(t time.Time)
}

// Source produces lines until ctx is cancelled or it fails for good.
type Source interface {
	Name() string
	// Run calls emit for every new line, from one goroutine, in order. It returns nil when ctx is
	// cancelled, an error when the source cannot continue (after its own retries).
	Run(ctx context.Context, emit func(Line)) error
}

// DefaultMaxLine is the longest line a source hands out, in bytes. sshd writes user names of at
// most 100 bytes and addresses of at most 200 (OpenSSH auth.c format strings, reference
// adaptive.md §7), so its lines are far shorter; a longer line is someone else's, and only its
// first DefaultMaxLine bytes are kept.
const DefaultMaxLine = 64 << 10

// Logf receives a source's diagnostics: one line each, no trailing newline (waiting for a file,
// rotation, a restarted program). nil discards them.
type Logf func(format string, args ...any)

func (l Logf) printf(format string, args ...any) {
	if l != nil {
		l(format, args...)
	}
}

// splitter cuts a byte stream into lines. A line longer than max is handed out as its first max
// bytes the moment it reaches max, and the rest of it, up to its newline, is dropped. Empty lines
// are skipped: they carry nothing to parse.
type splitter struct {
	max     int
	pending []byte // the start of a line whose newline has not arrived; never longer than max
	over    bool   // the current line passed max: drop bytes until its newline
	long    int64  // lines cut at max, for diagnostics
	// off counts the bytes fed since the splitter was made or reset (a file's reader sets it to
	// the file offset it starts at); during a call of feed's or flush's line, end is the offset
	// just past the line handed out.
	off, end int64
}

func newSplitter(max int) *splitter {
	if max <= 0 {
		max = DefaultMaxLine
	}
	return &splitter{max: max}
}

// feed hands every line completed by p to line. The slice given to line is only valid during the
// call: it points into p or into the splitter's buffer.
func (s *splitter) feed(p []byte, line func([]byte)) {
	for len(p) > 0 {
		chunk, rest, nl := bytes.Cut(p, []byte{'\n'})
		s.off += int64(len(p) - len(rest))
		s.end = s.off
		p = rest
		switch {
		case s.over:
			// the rest of an over-long line: dropped, up to its newline
			s.over = !nl
		case len(s.pending)+len(chunk) > s.max:
			room := s.max - len(s.pending)
			if len(s.pending) == 0 {
				line(chunk[:room])
			} else {
				s.pending = append(s.pending, chunk[:room]...)
				line(s.pending)
				s.pending = s.pending[:0]
			}
			s.long++
			s.over = !nl
		case !nl:
			s.pending = append(s.pending, chunk...)
		case len(s.pending) == 0:
			if len(chunk) > 0 {
				line(chunk) // the common case: a whole line inside p, no copy
			}
		default:
			s.pending = append(s.pending, chunk...)
			line(s.pending)
			s.pending = s.pending[:0]
		}
	}
}

// flush hands out a partial last line (the stream or file is finished and no newline will come
// for it) and resets the splitter.
func (s *splitter) flush(line func([]byte)) {
	if len(s.pending) > 0 && !s.over {
		s.end = s.off
		line(s.pending)
	}
	s.pending, s.over = s.pending[:0], false
}

// MultiOptions configures Multi.
type MultiOptions struct {
	// OnError is told of every source that failed for good, as it happens; the other sources go
	// on. nil ignores them (Run still returns them when every source failed).
	OnError func(src Source, err error)
}

// Multi runs several sources at once and hands all their lines to one emit, called on the
// goroutine that called Run, one line at a time. The lines of each source stay in order; lines
// of different sources are interleaved as they come.
type Multi struct {
	sources []Source
	opts    MultiOptions
}

// NewMulti returns a Multi over sources.
func NewMulti(sources []Source, opts MultiOptions) *Multi {
	return &Multi{sources: append([]Source(nil), sources...), opts: opts}
}

// Name lists the sources' names: "multi(file:/var/log/auth.log,journal)".
func (m *Multi) Name() string {
	names := make([]string, len(m.sources))
	for i, s := range m.sources {
		names[i] = s.Name()
	}
	return "multi(" + strings.Join(names, ",") + ")"
}

// handoff is one line passed from a source's goroutine to Run's: the source waits on done, so
// the line's Text stays valid until emit has returned.
type handoff struct {
	line Line
	done chan struct{}
}

// Run runs every source until all have ended. It returns nil when ctx was cancelled or when at
// least one source ended without an error; when every source failed it returns their errors
// joined. A source that fails is reported to OnError at once and the others keep running.
func (m *Multi) Run(ctx context.Context, emit func(Line)) error {
	if len(m.sources) == 0 {
		return errors.New("follow: no log sources to watch")
	}
	lines := make(chan handoff)
	type result struct {
		src Source
		err error
	}
	results := make(chan result, len(m.sources))
	for _, src := range m.sources {
		go func() {
			// Owned by Run, which waits for every result before returning.
			done := make(chan struct{})
			err := src.Run(ctx, func(l Line) {
				select {
				case lines <- handoff{line: l, done: done}:
					<-done
				case <-ctx.Done():
				}
			})
			results <- result{src: src, err: err}
		}()
	}
	var errs []error
	running := len(m.sources)
	for running > 0 {
		select {
		case h := <-lines:
			emit(h.line)
			h.done <- struct{}{}
		case r := <-results:
			running--
			if r.err != nil {
				err := fmt.Errorf("%s: %w", r.src.Name(), r.err)
				errs = append(errs, err)
				if m.opts.OnError != nil {
					m.opts.OnError(r.src, r.err)
				}
			}
		}
	}
	if len(errs) == len(m.sources) && ctx.Err() == nil {
		return errors.Join(errs...)
	}
	return nil
}

// Resume passes pos on to every source that is a Resumer.
func (m *Multi) Resume(pos map[string]Position) {
	for _, s := range m.sources {
		if r, ok := s.(Resumer); ok {
			r.Resume(pos)
		}
	}
}

// ResumeSince passes t on to the sources that can start at an instant.
func (m *Multi) ResumeSince(t time.Time) {
	for _, s := range m.sources {
		if r, ok := s.(TimeResumer); ok {
			r.ResumeSince(t)
		}
	}
}

var (
	_ Source      = (*Multi)(nil)
	_ Resumer     = (*Multi)(nil)
	_ TimeResumer = (*Multi)(nil)
)
