package follow

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/firewarden/firewarden/internal/host"
)

// JournalctlPath is systemd's journal reader, as a system path (Debian 12, Fedora, Arch; /bin is
// a link to /usr/bin on merged-/usr systems).
const JournalctlPath = "/usr/bin/journalctl"

// JournalComms are the process names (_COMM) whose journal entries are read: OpenSSH's sshd, and
// the sshd-session and sshd-auth processes that OpenSSH 9.8 and 10 split off, which write the
// authentication verdicts (reference adaptive.md §7; fail2ban's journalmatch lists the first
// two).
var JournalComms = []string{"sshd", "sshd-session", "sshd-auth"}

// JournalOptions configures Journal.
type JournalOptions struct {
	// Root resolves journalctl's path (--root); the zero Root is "/".
	Root host.Root
	// Starter runs journalctl; nil means host.ExecStarter under Root.
	Starter host.Starter
	// Units are systemd units whose entries are read as well as those of the sshd processes,
	// e.g. "ssh.service" (Debian) or "sshd.service" (Fedora, Arch). A name without a unit type
	// gets ".service", as journalctl -u does.
	Units []string
	// Restart says how journalctl is restarted when it ends.
	Restart Restart
	// MaxLine caps a line's length in bytes; zero means DefaultMaxLine.
	MaxLine int
	// Log receives diagnostics (restarts).
	Log Logf
}

// Journal reads sshd's lines from the systemd journal by running
// `journalctl --follow --lines=0 --output=short-iso-precise` with matches for the sshd processes
// and streaming its output. Each line is
// "2026-11-22T12:00:00.123456+0100 host sshd[1234]: message": a full timestamp with its zone, the
// host and the program, which authwatch reads. journalctl's own notes ("-- Boot … --") and the
// indented continuation lines of multi-line messages pass through as they are; authwatch finds
// nothing in them. journalctl is restarted with back-off when it ends; entries written while it
// is down are not read. After ResumeSince (a restart of the guard) the first run starts at the
// guard's last checkpoint instead, so what sshd logged while the guard was down is read.
//
// journalctl combines matches on the same field with OR and on different fields with AND, and a
// "+" between matches ORs the groups on either side (journalctl(1)). The process names are one
// group (_COMM=sshd _COMM=sshd-session _COMM=sshd-auth), the units another
// (_SYSTEMD_UNIT=…), joined by "+". journalctl's own --unit option would be ANDed with the
// process names instead.
type Journal struct {
	opts  JournalOptions
	units []string
	err   error     // from the options, returned by Run
	since time.Time // ResumeSince: the next Run starts there
}

// ResumeSince makes the next Run's first journalctl start at t's second (--since=@SECONDS)
// rather than at the end, so that what sshd logged while the guard was down, or after its last
// checkpoint, is read; those lines are marked Replay. journalctl's restarts after that start at
// the end again.
func (j *Journal) ResumeSince(t time.Time) { j.since = t }

// NewJournal returns a Journal. Bad options (a unit name with spaces) make Run fail.
func NewJournal(opts JournalOptions) *Journal {
	j := &Journal{opts: opts}
	for _, u := range opts.Units {
		name, err := unitName(u)
		if err != nil {
			j.err = err
			break
		}
		j.units = append(j.units, name)
	}
	return j
}

// Name is "journal".
func (j *Journal) Name() string { return "journal" }

// Cmd is the journalctl command Run starts.
func (j *Journal) Cmd() host.Cmd {
	args := []string{"--follow", "--lines=0", "--output=short-iso-precise", "--all", "--quiet", "--no-pager"}
	for _, c := range JournalComms {
		args = append(args, "_COMM="+c)
	}
	if len(j.units) > 0 {
		args = append(args, "+")
		for _, u := range j.units {
			args = append(args, "_SYSTEMD_UNIT="+u)
		}
	}
	return host.Cmd{Path: JournalctlPath, Args: args}
}

// firstCmd is the command of the first start after ResumeSince: Cmd with --since=@SECONDS in
// place of --lines=0. nil without ResumeSince.
func (j *Journal) firstCmd() *host.Cmd {
	if j.since.IsZero() {
		return nil
	}
	c := j.Cmd()
	c.Args = slices.Clone(c.Args)
	for i, a := range c.Args {
		if a == "--lines=0" {
			c.Args[i] = fmt.Sprintf("--since=@%d", j.since.Unix())
		}
	}
	return &c
}

// Run streams journalctl's lines until ctx is cancelled. It fails when journalctl is not
// installed, or fails repeatedly without printing a line (Restart.GiveUp).
func (j *Journal) Run(ctx context.Context, emit func(Line)) error {
	if j.err != nil {
		return j.err
	}
	p := &program{
		name: j.Name(), label: "journalctl", cmd: j.Cmd(), root: j.opts.Root,
		first:   j.firstCmd(),
		starter: starterFor(j.opts.Starter, j.opts.Root),
		restart: j.opts.Restart, maxLine: j.opts.MaxLine, log: j.opts.Log,
		missing: "this system has no systemd journal; follow sshd's log file instead (/var/log/auth.log on Debian with rsyslog, /var/log/secure on Fedora)",
		convert: func(raw []byte) ([]byte, bool) { return raw, true },
	}
	return p.run(ctx, emit)
}

// unitTypes are systemd's unit type suffixes (systemd.unit(5)).
var unitTypes = []string{".service", ".socket", ".target", ".device", ".mount", ".automount", ".swap", ".timer", ".path", ".slice", ".scope"}

// unitName checks a unit name from the options and gives a bare name its ".service".
func unitName(u string) (string, error) {
	if u == "" || strings.ContainsFunc(u, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) || strings.HasPrefix(u, "-") {
		return "", fmt.Errorf("systemd unit %q is not a unit name: give one such as ssh.service", u)
	}
	for _, t := range unitTypes {
		if strings.HasSuffix(u, t) {
			return u, nil
		}
	}
	return u + ".service", nil
}

var (
	_ Source      = (*Journal)(nil)
	_ TimeResumer = (*Journal)(nil)
)
