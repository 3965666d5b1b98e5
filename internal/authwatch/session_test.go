package authwatch

import (
	"net/netip"
	"testing"
)

func TestSessionsContract(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.7")
	s := NewSessions(2)
	s.Feed(Failure{PID: 10, Addr: a, Kind: KindFailedKey}, Recognised)
	ev := s.Feed(Failure{PID: 10, Kind: KindMaxAttempts}, Unaddressed)
	if ev.Outcome != Recognised || ev.Addr != a || !ev.FromPID {
		t.Errorf("Feed(unaddressed) = %+v, want the address of pid 10", ev)
	}
	ev = s.Feed(Failure{PID: 10, Addr: a}, Accepted)
	if len(ev.Forgive) != 2 {
		t.Errorf("Feed(accepted) forgives %d failures, want 2", len(ev.Forgive))
	}
	// Bounded: a third process forgets the least recently seen.
	s.Feed(Failure{PID: 1, Addr: a}, Linked)
	s.Feed(Failure{PID: 2, Addr: a}, Linked)
	s.Feed(Failure{PID: 1, Addr: a}, Linked)
	s.Feed(Failure{PID: 3, Addr: a}, Linked)
	if _, ok := s.byID[2]; ok || len(s.byID) != 2 {
		t.Errorf("after 3 processes with max 2: %d remembered, pid 2 kept %v; want 2 remembered, pid 2 forgotten", len(s.byID), ok)
	}
}
