package follow

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/firewarden/firewarden/internal/host"
)

// LogPath is macOS's unified log tool, as a system path.
const LogPath = "/usr/bin/log"

// UnifiedLogPredicate selects sshd's records. On macOS 15 and 26 (OpenSSH 9.8 and later) the
// verdicts come from sshd-session and sshd-auth, and failed logins write nothing under sshd
// (wazuh/wazuh#37748; reference adaptive.md §7).
const UnifiedLogPredicate = `process == "sshd" OR process == "sshd-session" OR process == "sshd-auth"`

// DefaultUnifiedLogLevel is the lowest level `log stream` shows. sshd logs its INFO messages
// ("Failed password", "Invalid user") with syslog's LOG_INFO, which the unified log keeps as Info,
// below what `log stream` shows by default; the captures in the auth fixtures were taken with
// --info for that reason (wazuh/wazuh-ruleset#593).
const DefaultUnifiedLogLevel = "info"

// UnifiedLogOptions configures UnifiedLog.
type UnifiedLogOptions struct {
	// Root resolves log's path (--root); the zero Root is "/".
	Root host.Root
	// Starter runs log; nil means host.ExecStarter under Root.
	Starter host.Starter
	// Level is `log stream --level`: "default", "info" or "debug"; "" means
	// DefaultUnifiedLogLevel.
	Level string
	// Restart says how `log stream` is restarted when it ends.
	Restart Restart
	// MaxLine caps an output line (one ndjson record) in bytes; zero means DefaultMaxLine.
	MaxLine int
	// Log receives diagnostics (restarts, the first record that could not be read).
	Log Logf
}

// UnifiedLog reads sshd's records from the macOS unified log by running
// `log stream --style ndjson` with UnifiedLogPredicate. Each record becomes a line in the shape
// `log stream --style syslog` prints and authwatch reads:
// "2020-03-24 08:38:42.344447-0700 localhost sshd[2519]: Failed password for …", built from the
// record's timestamp, processImagePath (its last element), processID and eventMessage. The
// banner `log stream` prints first ("Filtering the log data using …"), records other than log
// events and records without a message are skipped. `log stream` is restarted with back-off when
// it ends; records written while it is down are not read.
type UnifiedLog struct {
	opts UnifiedLogOptions
}

// NewUnifiedLog returns a UnifiedLog.
func NewUnifiedLog(opts UnifiedLogOptions) *UnifiedLog {
	if opts.Level == "" {
		opts.Level = DefaultUnifiedLogLevel
	}
	return &UnifiedLog{opts: opts}
}

// Name is "unifiedlog".
func (u *UnifiedLog) Name() string { return "unifiedlog" }

// Cmd is the log command Run starts.
func (u *UnifiedLog) Cmd() host.Cmd {
	return host.Cmd{Path: LogPath, Args: []string{"stream", "--style", "ndjson", "--type", "log", "--level", u.opts.Level, "--predicate", UnifiedLogPredicate}}
}

// Run streams sshd's records until ctx is cancelled. It fails when log is not installed (not a
// Mac), or fails repeatedly without a record (Restart.GiveUp).
func (u *UnifiedLog) Run(ctx context.Context, emit func(Line)) error {
	var out []byte
	saidBad := false
	p := &program{
		name: u.Name(), label: "log stream", cmd: u.Cmd(), root: u.opts.Root,
		starter: starterFor(u.opts.Starter, u.opts.Root),
		restart: u.opts.Restart, maxLine: u.opts.MaxLine, log: u.opts.Log,
		missing: "the unified log exists only on macOS; on Linux follow the journal or sshd's log file",
		convert: func(raw []byte) ([]byte, bool) {
			line, ok, bad := decodeRecord(out[:0], raw)
			out = line
			if bad && !saidBad {
				u.opts.Log.printf("log stream printed a record that cannot be read (further ones are not reported): %.200q", raw)
				saidBad = true
			}
			return line, ok
		},
	}
	return p.run(ctx, emit)
}

// record holds the fields of a `log stream --style ndjson` record that a line is built from
// (keys as in reference detect.md §1c).
type record struct {
	Timestamp        string  `json:"timestamp"`
	EventType        string  `json:"eventType"`
	EventMessage     *string `json:"eventMessage"`
	ProcessImagePath string  `json:"processImagePath"`
	ProcessID        *int64  `json:"processID"`
}

// decodeRecord appends to dst the syslog-style line for one line of `log stream --style ndjson`
// output. ok is false for lines that carry no log message: the banner and other text that is not
// a JSON object, records of other event types, records without a message. bad is also set for a
// JSON object that cannot be read (the tool's output is outside input).
//
// The line is "TIMESTAMP localhost PROCESS[PID]: MESSAGE". A timestamp not in the tool's own
// shape is left out and so is a missing or negative processID; a process name that could be
// mistaken for more than one token (spaces, brackets, colons) drops the record. Control
// characters in the message become spaces, so that a record is always exactly one line.
func decodeRecord(dst, raw []byte) (line []byte, ok, bad bool) {
	if len(raw) == 0 || raw[0] != '{' {
		return dst, false, false // the "Filtering the log data using …" banner, or noise
	}
	var r record
	if err := json.Unmarshal(raw, &r); err != nil {
		return dst, false, true
	}
	if r.EventMessage == nil || (r.EventType != "" && r.EventType != "logEvent") {
		return dst, false, false
	}
	proc := r.ProcessImagePath
	if i := strings.LastIndexByte(proc, '/'); i >= 0 {
		proc = proc[i+1:]
	}
	if proc == "" || strings.ContainsFunc(proc, func(c rune) bool {
		return c <= ' ' || c == 0x7f || c == '[' || c == ']' || c == ':'
	}) {
		return dst, false, true
	}
	if isLogTimestamp(r.Timestamp) {
		dst = append(dst, r.Timestamp...)
		dst = append(dst, " localhost "...)
	}
	dst = append(dst, proc...)
	if r.ProcessID != nil && *r.ProcessID >= 0 {
		dst = append(dst, '[')
		dst = strconv.AppendInt(dst, *r.ProcessID, 10)
		dst = append(dst, ']')
	}
	dst = append(dst, ": "...)
	for _, c := range []byte(*r.EventMessage) {
		if c < ' ' || c == 0x7f {
			c = ' '
		}
		dst = append(dst, c)
	}
	return dst, true, false
}

// isLogTimestamp reports whether s has the shape of a unified log timestamp,
// "2020-12-10 17:00:10.147707+0100": date, space, time, optional fraction, optional zone
// (±hhmm, ±hh:mm or Z), and nothing else.
func isLogTimestamp(s string) bool {
	digits := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
	if len(s) < 19 || !digits(s[0:4]) || s[4] != '-' || !digits(s[5:7]) || s[7] != '-' || !digits(s[8:10]) ||
		s[10] != ' ' || !digits(s[11:13]) || s[13] != ':' || !digits(s[14:16]) || s[16] != ':' || !digits(s[17:19]) {
		return false
	}
	s = s[19:]
	if len(s) > 1 && s[0] == '.' {
		i := 1
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 1 {
			return false
		}
		s = s[i:]
	}
	switch {
	case s == "" || s == "Z":
		return true
	case len(s) == 5 && (s[0] == '+' || s[0] == '-'):
		return digits(s[1:])
	case len(s) == 6 && (s[0] == '+' || s[0] == '-') && s[3] == ':':
		return digits(s[1:3]) && digits(s[4:])
	}
	return false
}

var _ Source = (*UnifiedLog)(nil)
