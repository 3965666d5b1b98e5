package live

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/detect/event"
	"github.com/firewarden/firewarden/internal/host"
)

// Telemetry programs, as system paths.
const (
	ESLoggerPath = "/usr/bin/eslogger"
	LogPath      = "/usr/bin/log"
)

// ESEvents are the eslogger events watched (reference/detect.md §1a): process starts and ends
// for the pid table and the firewall tools' command lines; file creation, writes, closes,
// renames and removals for edits of /etc/pf.conf, /etc/pf.anchors/* and com.apple.alf.plist
// made without any firewall tool; profile_remove (macOS 14 and later) for a removed firewall
// profile. The file events are by far the busiest; the engine's raw-line pre-filter drops most
// of them before decoding.
var ESEvents = []string{"exec", "fork", "exit", "create", "write", "rename", "unlink", "close", "profile_remove"}

// MinimalESEvents is what every eslogger has (macOS 13 and later): the fallback when eslogger
// rejects the full list.
var MinimalESEvents = []string{"exec", "fork", "exit"}

// LogPredicate selects the unified-log records worth reading when eslogger cannot run. The
// unified log carries much less than eslogger: the Application Firewall's own messages
// (subsystem com.apple.alf, private values redacted unless a logging profile is installed) and
// sudo's lines (which hold the command it ran); no argv for most tools, no parent, no file
// events (reference/detect.md §1c).
const LogPredicate = `subsystem == "com.apple.alf" OR process == "sudo"`

// Back-off between runs of a telemetry program that ended: it starts at minBackoff, doubles
// up to maxBackoff, and starts over after a run that lasted healthyRun.
const (
	minBackoff = time.Second
	maxBackoff = time.Minute
	healthyRun = time.Minute
)

// esNotPermitted is what eslogger prints on standard error when the responsible process lacks
// Full Disk Access (mullvad talpid-core split_tunnel/macos/process.rs, parse_eslogger_error);
// esNotPrivileged is the sibling result of es_new_client for a caller that is not root (Apple's
// EndpointSecurity es_new_client_result_t). eslogger is not API, so these strings are the only
// signal there is.
const (
	esNotPermitted  = "ES_NEW_CLIENT_RESULT_ERR_NOT_PERMITTED"
	esNotPrivileged = "ES_NEW_CLIENT_RESULT_ERR_NOT_PRIVILEGED"
)

// stream runs the telemetry program until ctx ends, handing each event to the detection loop.
// It returns an error only when no telemetry program exists under the root.
func (s *Supervisor) stream(ctx context.Context, out chan<- handoff) error {
	events := s.esEvents(ctx)
	useLog := false
	backoff := minBackoff
	for ctx.Err() == nil {
		c, f, name := host.Cmd{Path: ESLoggerPath, Args: events}, ESLogger, "eslogger"
		if useLog {
			c = host.Cmd{Path: LogPath, Args: []string{"stream", "--style", "ndjson", "--predicate", LogPredicate}}
			f, name = UnifiedLog, "log stream"
		}
		started := s.clock.Now()
		res, err := s.runOnce(ctx, c, f, name, out)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, host.ErrNotInstalled) && !useLog:
			s.logf("%s is not under %s (it comes with macOS 13 and later): watching `log stream` instead, which sees much less (no argv for most tools, no file changes)", ESLoggerPath, s.cfg.Root.Dir())
			useLog = true
			continue
		case errors.Is(err, host.ErrNotInstalled):
			return fmt.Errorf("neither %s nor %s is under %s: detect --live needs a Mac (eslogger comes with macOS 13 and later)", ESLoggerPath, LogPath, s.cfg.Root.Dir())
		case !useLog && stderrHas(err, esNotPermitted):
			s.logf("eslogger may not read Endpoint Security events (%s): give the program that starts firewarden (Terminal, or your launchd job's binary) Full Disk Access in System Settings > Privacy & Security > Full Disk Access and restart; until then watching `log stream`, which sees much less", esNotPermitted)
			useLog = true
			continue
		case !useLog && stderrHas(err, esNotPrivileged):
			s.logf("eslogger must run as root (%s): run firewarden as root; until then watching `log stream`, which sees much less", esNotPrivileged)
			useLog = true
			continue
		case !useLog && res.bytes == 0 && isExit(err) && len(events) > len(MinimalESEvents):
			// Exited at once with an error and printed nothing: most likely an event name this
			// eslogger does not know. Retry straight away with the events every version has.
			s.logf("eslogger refused to start with events %s (%v): retrying with %s", strings.Join(events, " "), err, strings.Join(MinimalESEvents, " "))
			events = MinimalESEvents
			continue
		}
		if s.clock.Now().Sub(started) >= healthyRun {
			backoff = minBackoff
		}
		delay := backoff
		backoff = min(backoff*2, maxBackoff)
		why := "it ended"
		if err != nil {
			why = oneLine(err.Error())
		}
		s.logf("%s stopped after %d event(s) (%s); restarting in %s", name, res.events, why, delay)
		if !sleep(ctx, s.clock, delay) {
			return nil
		}
	}
	return nil
}

type runResult struct {
	bytes  int64 // bytes of output read
	events int64 // events handed on
}

// runOnce runs one telemetry program to its end (or ctx's) and returns what it read and how it
// ended: nil, the start error, the read error or the program's wait error.
func (s *Supervisor) runOnce(ctx context.Context, c host.Cmd, f Format, name string, out chan<- handoff) (runResult, error) {
	var res runResult
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	stdout, wait, err := s.cfg.Starter.Start(runCtx, c)
	if err != nil {
		return res, err
	}
	s.runs++
	s.source = name
	counted := &countingReader{r: stdout}
	src := s.cfg.Decode(counted, name, f)
	var readErr error
	for {
		ev, err := src.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = err
			}
			break
		}
		if !deliver(runCtx, out, ev) {
			break
		}
		res.events++
	}
	res.bytes = counted.n
	stop() // the stream is over for us: stop the program if it still runs
	stdout.Close()
	werr := wait()
	if readErr != nil && ctx.Err() == nil {
		return res, fmt.Errorf("read %s: %w", name, readErr)
	}
	return res, werr
}

// deliver hands ev to the detection loop and waits until it is done with it.
func deliver(ctx context.Context, out chan<- handoff, ev *event.Event) bool {
	h := handoff{ev: ev, done: make(chan struct{})}
	select {
	case out <- h:
	case <-ctx.Done():
		return false
	}
	select {
	case <-h.done:
		return true
	case <-ctx.Done():
		return false
	}
}

// esEvents returns the events to ask eslogger for: ESEvents less those `eslogger --list-events`
// does not offer (profile_remove is macOS 14 and later). When the list cannot be read, all of
// ESEvents; a refusal then falls back to MinimalESEvents (see stream).
func (s *Supervisor) esEvents(ctx context.Context) []string {
	if s.cfg.Runner == nil {
		return ESEvents
	}
	res, err := s.cfg.Runner.Run(ctx, host.Cmd{Path: ESLoggerPath, Args: []string{"--list-events"}})
	if err != nil {
		return ESEvents
	}
	offered := map[string]bool{}
	for _, w := range strings.Fields(string(res.Stdout)) {
		offered[w] = true
	}
	for _, e := range MinimalESEvents {
		if !offered[e] {
			return ESEvents // not the list we expected; let eslogger itself judge
		}
	}
	var use, missing []string
	for _, e := range ESEvents {
		if offered[e] {
			use = append(use, e)
		} else {
			missing = append(missing, e)
		}
	}
	if len(missing) > 0 {
		s.logf("eslogger here does not offer %s: watching %s", strings.Join(missing, " "), strings.Join(use, " "))
	}
	return slices.Clip(use)
}

func stderrHas(err error, s string) bool {
	var ee *host.ExitError
	return errors.As(err, &ee) && strings.Contains(ee.Stderr, s)
}

func isExit(err error) bool {
	var ee *host.ExitError
	return errors.As(err, &ee)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
