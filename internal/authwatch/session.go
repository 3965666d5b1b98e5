package authwatch

import (
	"net/netip"
	"time"
)

// Sessions correlates the lines of each sshd (or dropbear) process, by host, program and PID, as
// fail2ban's multi-line filter does: a failure whose line names no address (Unaddressed) takes the address a line of the
// same process names, before it or, within MaxPending, after it; and a process that logs
// Accepted has its earlier failures forgiven (a PAM module that fails before another succeeds,
// an agent's keys offered in turn), unless one of them was for another user than the one that
// logged in. Only addresses sshd itself wrote in a Recognised, Linked or
// Accepted line of that PID are used, so correlation never lets client text choose one.
//
// All the lines of one connection carry one PID: sshd's privilege-separated child, and since
// OpenSSH 10 sshd-auth, hand their messages to the monitor (sshd-session), which logs them with
// its own PID and " [preauth]" (monitor.c mm_log_handler). Lines of the listening sshd carry
// the listener's PID and are not remembered: OpenSSH 9.8's "Timeout before authentication for
// connection from A to B, pid = N" and PerSourcePenalties' "drop connection #N".
//
// A PID is reused by a later connection: a line naming another address than the one remembered
// starts a new session, and an address is lent to an Unaddressed line only if the line naming it
// is at most MaxLink older (sshd's LoginGraceTime, 2 minutes by default, bounds the
// pre-authentication phase those lines come from). Lines without a time are not limited.
//
// PIDs are per host: lines are correlated only with lines whose header names the same host
// (Failure.Host), so a central syslog server's log that mixes hosts keeps them apart.
//
// Memory is bounded: at most max processes are remembered (the least recently seen is
// forgotten first), and at most MaxForgive failures and MaxForgive pending ones of each. It is
// not safe for concurrent use.
type Sessions struct {
	max  int
	byID map[procKey]*session
	// order lists (PID, seq) in the order they were seen; an entry whose seq is not its
	// session's latest is stale and skipped.
	order []stamp
	seq   uint64
}

// MaxForgive is how many failures of one process Sessions keeps to forgive; sshd's
// MaxAuthTries is 6 by default, and each try may write two lines.
const MaxForgive = 16

// MaxPending is how long an Unaddressed failure waits for a line of its process that names the
// address ("Disconnecting: Too many authentication failures" comes before "Connection closed by
// A [preauth]"); MaxLink is how old the line that named a process's address may be for an
// Unaddressed failure to take it.
const (
	MaxPending = 2 * time.Minute
	MaxLink    = 10 * time.Minute
)

// procKey names a process: its host, its PID and the program that logged it (sshd and dropbear
// are different processes whatever their PIDs).
type procKey struct {
	host    uint64
	service string
	pid     int
}

type stamp struct {
	key procKey
	seq uint64
}

type session struct {
	addr     netip.Addr
	at       time.Time // time of the last line that named addr
	seen     uint64
	failures []Failure
	pending  []Failure
}

// Event is one line after correlation.
type Event struct {
	Failure
	// Outcome is the line's outcome after correlation: an Unaddressed line whose process's
	// address is known becomes Recognised (with FromPID set); otherwise Classify's outcome.
	Outcome Outcome
	// FromPID says the address came from another line of the same process.
	FromPID bool
	// Forgive, with Accepted, are the failures the process logged before it succeeded, oldest
	// first: a consumer that counted them takes them back.
	Forgive []Failure
	// Resolved are failures of earlier Unaddressed lines of the process, whose address this
	// line (Recognised or Linked; Accepted when they were for another user) names: each has its
	// own Kind and Time and this line's Addr. A consumer counts them as it counts a Recognised
	// line.
	Resolved []Failure
}

// NewSessions returns Sessions that remember at most n processes (at least 1).
func NewSessions(n int) *Sessions {
	return &Sessions{max: max(n, 1), byID: map[procKey]*session{}}
}

// Len is how many processes are remembered.
func (s *Sessions) Len() int { return len(s.byID) }

// Feed takes one classified line and returns what it means once correlated with the other
// lines of its process. Lines without a PID are passed through.
func (s *Sessions) Feed(f Failure, o Outcome) Event {
	ev := Event{Failure: f, Outcome: o}
	if f.PID <= 0 {
		return ev
	}
	key := procKey{f.Host, f.Service, f.PID}
	switch o {
	case Recognised, Linked:
		if f.Kind == KindPenalty || f.Kind == KindTimeout || !f.Addr.IsValid() {
			return ev // the listener's lines, or the end of the connection
		}
		ss := s.get(key)
		if ss.addr.IsValid() && ss.addr != f.Addr {
			// Another client: the PID was reused.
			ss.failures, ss.pending = ss.failures[:0], ss.pending[:0]
		}
		ss.addr, ss.at = f.Addr, f.Time
		for _, p := range ss.pending {
			if within(p.Time, f.Time, MaxPending) {
				p.Addr = f.Addr
				ev.Resolved = append(ev.Resolved, p)
				ss.remember(p)
			}
		}
		ss.pending = ss.pending[:0]
		if o == Recognised {
			ss.remember(f)
		}
	case Unaddressed:
		if ss, ok := s.byID[key]; ok && ss.addr.IsValid() && within(ss.at, f.Time, MaxLink) {
			s.touch(key, ss)
			ev.Failure.Addr, ev.Outcome, ev.FromPID = ss.addr, Recognised, true
			ss.remember(ev.Failure)
			return ev
		}
		ss := s.get(key)
		if ss.addr.IsValid() {
			// The address is too old to be this connection's: the PID was reused.
			ss.addr, ss.failures = netip.Addr{}, ss.failures[:0]
		}
		if len(ss.pending) < MaxForgive {
			ss.pending = append(ss.pending, f)
		}
	case Accepted:
		if ss, ok := s.byID[key]; ok {
			same := sameUser(ss.failures, f.User) && sameUser(ss.pending, f.User)
			if ss.addr == f.Addr && len(ss.failures) > 0 && same {
				ev.Forgive = append([]Failure(nil), ss.failures...)
			}
			if !same && (!ss.addr.IsValid() || ss.addr == f.Addr) {
				// Failures that named no address, for another user than the one that
				// logged in: they count, with the address sshd names here.
				for _, p := range ss.pending {
					if within(p.Time, f.Time, MaxPending) {
						p.Addr = f.Addr
						ev.Resolved = append(ev.Resolved, p)
					}
				}
			}
			delete(s.byID, key)
		}
	}
	return ev
}

// sameUser reports whether every failure that names a user names user: a client that failed
// as other users before logging in is guessing their passwords with an account it holds, and
// keeps its failures (as fail2ban does, gh-2070).
func sameUser(failures []Failure, user uint64) bool {
	for _, f := range failures {
		if f.User != 0 && f.User != user {
			return false
		}
	}
	return true
}

// within reports whether later is at most d after earlier; a zero time is not limited.
func within(earlier, later time.Time, d time.Duration) bool {
	return earlier.IsZero() || later.IsZero() || later.Sub(earlier) <= d
}

func (ss *session) remember(f Failure) {
	if len(ss.failures) < MaxForgive {
		ss.failures = append(ss.failures, f)
	}
}

// get returns the PID's session, creating it (and forgetting the least recently seen one when
// full).
func (s *Sessions) get(key procKey) *session {
	if ss, ok := s.byID[key]; ok {
		s.touch(key, ss)
		return ss
	}
	for len(s.byID) >= s.max && len(s.order) > 0 {
		old := s.order[0]
		s.order = s.order[1:]
		if ss, ok := s.byID[old.key]; ok && ss.seen == old.seq {
			delete(s.byID, old.key)
		}
	}
	ss := &session{}
	s.byID[key] = ss
	s.touch(key, ss)
	return ss
}

func (s *Sessions) touch(key procKey, ss *session) {
	s.seq++
	ss.seen = s.seq
	s.order = append(s.order, stamp{key, s.seq})
	if len(s.order) > 4*s.max {
		s.compact()
	}
}

// compact drops the stale entries of order.
func (s *Sessions) compact() {
	keep := make([]stamp, 0, len(s.byID))
	for _, st := range s.order {
		if ss, ok := s.byID[st.key]; ok && ss.seen == st.seq {
			keep = append(keep, st)
		}
	}
	s.order = keep
}
