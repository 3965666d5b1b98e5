package authwatch

import "net/netip"

// Sessions correlates the lines of each sshd process, by PID, as fail2ban's multi-line filter
// does: a failure whose line names no address (Unaddressed) takes the address an earlier line of
// the same process named, and a process that logs Accepted had its earlier failures forgiven
// (a PAM module that fails before another succeeds, an agent's keys offered in turn). Only
// addresses sshd itself wrote are remembered, so correlation never lets client text choose one.
//
// Memory is bounded: at most max processes are remembered (the least recently seen is
// forgotten first) and at most MaxForgive failures of each. It is not safe for concurrent use.
type Sessions struct {
	max  int
	byID map[int]*session
	// order lists (PID, seq) in the order they were seen; an entry whose seq is not its
	// session's latest is stale and skipped.
	order []stamp
	seq   uint64
}

// MaxForgive is how many failures of one process Sessions keeps to forgive; sshd's
// MaxAuthTries is 6 by default, and each try may write two lines.
const MaxForgive = 16

type stamp struct {
	pid int
	seq uint64
}

type session struct {
	addr     netip.Addr
	seen     uint64
	failures []Failure
}

// Event is one line after correlation.
type Event struct {
	Failure
	// Outcome is the line's outcome after correlation: an Unaddressed line whose process's
	// address is known becomes Recognised (with FromPID set); otherwise Classify's outcome.
	Outcome Outcome
	// FromPID says the address came from an earlier line of the same process.
	FromPID bool
	// Forgive, with Accepted, are the failures the process logged before it succeeded, oldest
	// first: a consumer that counted them takes them back.
	Forgive []Failure
}

// NewSessions returns Sessions that remember at most max processes (at least 1).
func NewSessions(n int) *Sessions {
	return &Sessions{max: max(n, 1), byID: map[int]*session{}}
}

// Feed takes one classified line and returns what it means once correlated with the earlier
// lines of its process. Lines without a PID are passed through.
func (s *Sessions) Feed(f Failure, o Outcome) Event {
	ev := Event{Failure: f, Outcome: o}
	if f.PID <= 0 {
		return ev
	}
	switch o {
	case Recognised:
		ss := s.get(f.PID)
		ss.addr = f.Addr
		if len(ss.failures) < MaxForgive {
			ss.failures = append(ss.failures, f)
		}
	case Unaddressed:
		if ss, ok := s.byID[f.PID]; ok && ss.addr.IsValid() {
			s.touch(f.PID, ss)
			ev.Failure.Addr, ev.Outcome, ev.FromPID = ss.addr, Recognised, true
			if len(ss.failures) < MaxForgive {
				ss.failures = append(ss.failures, ev.Failure)
			}
		}
	case Linked:
		ss := s.get(f.PID)
		if ss.addr != f.Addr {
			ss.failures = ss.failures[:0] // a new connection on a reused PID
		}
		ss.addr = f.Addr
	case Accepted:
		if ss, ok := s.byID[f.PID]; ok {
			if ss.addr == f.Addr {
				ev.Forgive = append([]Failure(nil), ss.failures...)
			}
			delete(s.byID, f.PID)
		}
	}
	return ev
}

// get returns the PID's session, creating it (and forgetting the least recently seen one when
// full).
func (s *Sessions) get(pid int) *session {
	if ss, ok := s.byID[pid]; ok {
		s.touch(pid, ss)
		return ss
	}
	for len(s.byID) >= s.max && len(s.order) > 0 {
		old := s.order[0]
		s.order = s.order[1:]
		if ss, ok := s.byID[old.pid]; ok && ss.seen == old.seq {
			delete(s.byID, old.pid)
		}
	}
	ss := &session{}
	s.byID[pid] = ss
	s.touch(pid, ss)
	return ss
}

func (s *Sessions) touch(pid int, ss *session) {
	s.seq++
	ss.seen = s.seq
	s.order = append(s.order, stamp{pid, s.seq})
	if len(s.order) > 4*s.max {
		s.compact()
	}
}

// compact drops the stale entries of order.
func (s *Sessions) compact() {
	keep := make([]stamp, 0, len(s.byID))
	for _, st := range s.order {
		if ss, ok := s.byID[st.pid]; ok && ss.seen == st.seq {
			keep = append(keep, st)
		}
	}
	s.order = keep
}
