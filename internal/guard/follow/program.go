package follow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/host"
)

// Defaults for the restarts of a program source (Journal, UnifiedLog).
const (
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = time.Minute
	DefaultGiveUp     = 5
)

// Restart says how a program source restarts its program when it ends: after MinBackoff, then
// twice as long each time up to MaxBackoff, back to MinBackoff after a healthy run (one that
// handed out a line, or lasted ten MinBackoffs). After GiveUp unhealthy runs in a row the source
// fails. Zero fields take the defaults.
type Restart struct {
	MinBackoff time.Duration
	MaxBackoff time.Duration
	GiveUp     int
}

func (r Restart) withDefaults() Restart {
	if r.MinBackoff <= 0 {
		r.MinBackoff = DefaultMinBackoff
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = DefaultMaxBackoff
	}
	r.MaxBackoff = max(r.MaxBackoff, r.MinBackoff)
	if r.GiveUp <= 0 {
		r.GiveUp = DefaultGiveUp
	}
	return r
}

// program runs a log-streaming program through a Starter and hands out its output's lines,
// restarting it when it ends. Lines printed while it is down are not seen (journalctl starts at
// --lines=0, log stream at now), except by a first run that starts earlier (first).
type program struct {
	name  string // Line.Source
	label string // the program in messages: "journalctl", "log stream"
	cmd   host.Cmd
	// first, when set, replaces cmd for the first start only, and the lines of that run are
	// handed out as Replay (journalctl --since after a restart of the guard).
	first   *host.Cmd
	root    host.Root
	starter host.Starter
	restart Restart
	maxLine int
	log     Logf
	// missing completes "PATH is not under ROOT: " when the program does not exist.
	missing string
	// convert turns one line of output into the line handed out, or reports that it has none
	// (a banner, a record without a message). The result may point into a reused buffer.
	convert func(raw []byte) ([]byte, bool)
}

type runStats struct {
	lines int // lines handed out
}

func (p *program) run(ctx context.Context, emit func(Line)) error {
	r := p.restart.withDefaults()
	healthyRun := 10 * r.MinBackoff
	backoff := r.MinBackoff
	failures := 0
	buf := make([]byte, 64<<10)
	for {
		started := time.Now()
		cmd, replay := p.cmd, false
		if p.first != nil {
			cmd, replay, p.first = *p.first, true, nil
		}
		st, err := p.once(ctx, cmd, replay, emit, buf)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, host.ErrNotInstalled):
			return fmt.Errorf("%s is not under %s: %s", p.cmd.Path, p.root.Dir(), p.missing)
		}
		why := "it ended"
		if err != nil {
			why = oneLine(err.Error())
		}
		if st.lines > 0 || time.Since(started) >= healthyRun {
			backoff, failures = r.MinBackoff, 0
		} else {
			failures++
			if failures >= r.GiveUp {
				return fmt.Errorf("%s failed %d times in a row without a line (last: %s)", p.label, failures, why)
			}
		}
		delay := backoff
		backoff = min(backoff*2, r.MaxBackoff)
		p.log.printf("%s stopped after %d line(s) (%s); restarting in %s", p.label, st.lines, why, delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// once runs the program to its end (or ctx's) and returns how it ended: nil, the start error, the
// read error or the program's wait error.
func (p *program) once(ctx context.Context, cmd host.Cmd, replay bool, emit func(Line), buf []byte) (runStats, error) {
	var st runStats
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	out, wait, err := p.starter.Start(runCtx, cmd)
	if err != nil {
		return st, err
	}
	sp := newSplitter(p.maxLine)
	var now time.Time
	line := func(raw []byte) {
		if text, ok := p.convert(raw); ok {
			st.lines++
			emit(Line{Text: text, Source: p.name, Read: now, Replay: replay})
		}
	}
	var readErr error
	for {
		n, err := out.Read(buf)
		if n > 0 {
			now = time.Now()
			sp.feed(buf[:n], line)
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = err
			}
			break
		}
	}
	sp.flush(line) // a last line the program printed without a newline
	stop()         // the output is over for us: stop the program if it still runs
	out.Close()
	werr := wait()
	if readErr != nil && ctx.Err() == nil {
		return st, fmt.Errorf("read %s output: %w", p.label, readErr)
	}
	return st, werr
}

// oneLine keeps a program's error to one line of a diagnostic.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	return s
}

// starterFor is the Starter a program source uses: the one given, or one running programs under
// root.
func starterFor(s host.Starter, root host.Root) host.Starter {
	if s != nil {
		return s
	}
	return host.ExecStarter{Root: root}
}
