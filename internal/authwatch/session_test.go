package authwatch

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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
	if _, ok := s.byID[procKey{0, "", 2}]; ok || len(s.byID) != 2 {
		t.Errorf("after 3 processes with max 2: %d remembered, pid 2 kept %v; want 2 remembered, pid 2 forgotten", len(s.byID), ok)
	}
}

// sessionStep is one line fed to Sessions and the event's gist expected back.
type sessionStep struct {
	f        Failure
	o        Outcome
	want     Outcome
	addr     string // the event's address ("" none)
	fromPID  bool
	forgive  int      // failures forgiven
	resolved []string // addresses of the failures resolved
}

func TestSessions(t *testing.T) {
	at := func(sec int) time.Time { return time.Date(2026, 11, 22, 6, 0, sec, 0, time.UTC) }
	A, B := netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("2001:db8::9")
	fl := func(pid int, k Kind, addr netip.Addr, sec int) Failure {
		f := Failure{PID: pid, Kind: k, Addr: addr, Service: "sshd"}
		if sec >= 0 {
			f.Time = at(sec)
		}
		return f
	}
	none := netip.Addr{}
	tests := []struct {
		name  string
		max   int
		steps []sessionStep
	}{
		{"unaddressed takes the earlier address", 8, []sessionStep{
			{f: fl(5, KindNone, A, 0), o: Linked, want: Linked, addr: "192.0.2.7"},
			{f: fl(5, KindMaxAttempts, none, 3), o: Unaddressed, want: Recognised, addr: "192.0.2.7", fromPID: true},
		}},
		{"unaddressed waits for a later address", 8, []sessionStep{
			{f: fl(5, KindMaxAttempts, none, 0), o: Unaddressed, want: Unaddressed},
			{f: fl(5, KindNotAllowed, none, 1), o: Unaddressed, want: Unaddressed},
			{f: fl(5, KindPreauth, A, 2), o: Recognised, want: Recognised, addr: "192.0.2.7", resolved: []string{"192.0.2.7", "192.0.2.7"}},
			{f: fl(5, KindNone, A, 3), o: Linked, want: Linked, addr: "192.0.2.7"},
		}},
		{"a pending failure too old is dropped", 8, []sessionStep{
			{f: fl(5, KindMaxAttempts, none, 0), o: Unaddressed, want: Unaddressed},
			{f: fl(5, KindNone, A, 0).at(MaxPending + time.Second), o: Linked, want: Linked, addr: "192.0.2.7"},
		}},
		{"an address too old is not lent", 8, []sessionStep{
			{f: fl(5, KindNone, A, 0), o: Linked, want: Linked, addr: "192.0.2.7"},
			{f: fl(5, KindMaxAttempts, none, 0).at(MaxLink + time.Second), o: Unaddressed, want: Unaddressed},
			{f: fl(5, KindNone, B, 0).at(MaxLink + 2*time.Second), o: Linked, want: Linked, addr: "2001:db8::9", resolved: []string{"2001:db8::9"}},
		}},
		{"lines without a time are not limited", 8, []sessionStep{
			{f: fl(5, KindNone, A, -1), o: Linked, want: Linked, addr: "192.0.2.7"},
			{f: fl(5, KindMaxAttempts, none, -1), o: Unaddressed, want: Recognised, addr: "192.0.2.7", fromPID: true},
		}},
		{"accepted forgives the process's failures", 8, []sessionStep{
			{f: fl(5, KindPAM, A, 0), o: Recognised, want: Recognised, addr: "192.0.2.7"},
			{f: fl(5, KindFailedKey, A, 1), o: Recognised, want: Recognised, addr: "192.0.2.7"},
			{f: fl(6, KindFailed, A, 1), o: Recognised, want: Recognised, addr: "192.0.2.7"},
			{f: fl(5, KindNone, A, 2), o: Accepted, want: Accepted, addr: "192.0.2.7", forgive: 2},
			{f: fl(5, KindNone, A, 3), o: Accepted, want: Accepted, addr: "192.0.2.7"}, // forgotten after the first
		}},
		{"accepted for another user forgives nothing", 8, []sessionStep{
			{f: fl(5, KindPAM, A, 0).as("root"), o: Recognised, want: Recognised, addr: "192.0.2.7"},
			{f: fl(5, KindPreauth, A, 0), o: Recognised, want: Recognised, addr: "192.0.2.7"},
			{f: fl(5, KindNone, A, 2).as("known"), o: Accepted, want: Accepted, addr: "192.0.2.7"},
		}},
		{"accepted for another user counts the failures that named no address", 8, []sessionStep{
			{f: fl(5, KindNotAllowed, none, 0).as("root"), o: Unaddressed, want: Unaddressed},
			{f: fl(5, KindNone, A, 1).as("known"), o: Accepted, want: Accepted, addr: "192.0.2.7", resolved: []string{"192.0.2.7"}},
		}},
		{"accepted for the same user drops the failures that named no address", 8, []sessionStep{
			{f: fl(5, KindMaxAttempts, none, 0).as("known"), o: Unaddressed, want: Unaddressed},
			{f: fl(5, KindNone, A, 1).as("known"), o: Accepted, want: Accepted, addr: "192.0.2.7"},
		}},
		{"accepted for the same user forgives", 8, []sessionStep{
			{f: fl(5, KindPAM, A, 0).as("known"), o: Recognised, want: Recognised, addr: "192.0.2.7"},
			{f: fl(5, KindMaxAttempts, none, 1), o: Unaddressed, want: Recognised, addr: "192.0.2.7", fromPID: true},
			{f: fl(5, KindNone, A, 2).as("known"), o: Accepted, want: Accepted, addr: "192.0.2.7", forgive: 2},
		}},
		{"accepted from another address forgives nothing", 8, []sessionStep{
			{f: fl(5, KindFailed, A, 0), o: Recognised, want: Recognised, addr: "192.0.2.7"},
			{f: fl(5, KindNone, B, 1), o: Accepted, want: Accepted, addr: "2001:db8::9"},
		}},
		{"a reused pid starts over", 8, []sessionStep{
			{f: fl(5, KindFailed, A, 0), o: Recognised, want: Recognised, addr: "192.0.2.7"},
			{f: fl(5, KindFailed, B, 1), o: Recognised, want: Recognised, addr: "2001:db8::9"},
			{f: fl(5, KindNone, B, 2), o: Accepted, want: Accepted, addr: "2001:db8::9", forgive: 1},
		}},
		{"the listener's lines are not remembered", 8, []sessionStep{
			{f: fl(1, KindPenalty, A, 0), o: Recognised, want: Recognised, addr: "192.0.2.7"},
			{f: fl(1, KindTimeout, A, 0), o: Recognised, want: Recognised, addr: "192.0.2.7"},
			{f: fl(1, KindMaxAttempts, none, 1), o: Unaddressed, want: Unaddressed},
		}},
		{"another program's process is another process", 8, []sessionStep{
			{f: fl(5, KindNone, A, 0), o: Linked, want: Linked, addr: "192.0.2.7"},
			{f: Failure{PID: 5, Kind: KindMaxAttempts, Service: "dropbear", Time: at(1)}, o: Unaddressed, want: Unaddressed},
		}},
		{"another host's process is another process", 8, []sessionStep{
			{f: fl(5, KindNone, A, 0), o: Linked, want: Linked, addr: "192.0.2.7"},
			{f: Failure{PID: 5, Kind: KindMaxAttempts, Service: "sshd", Host: nameHash([]byte("web2")), Time: at(1)}, o: Unaddressed, want: Unaddressed},
		}},
		{"no pid passes through", 8, []sessionStep{
			{f: fl(0, KindNone, A, 0), o: Linked, want: Linked, addr: "192.0.2.7"},
			{f: fl(0, KindMaxAttempts, none, 0), o: Unaddressed, want: Unaddressed},
		}},
		{"refused and ignored lines change nothing", 8, []sessionStep{
			{f: fl(5, KindNone, A, 0), o: Linked, want: Linked, addr: "192.0.2.7"},
			{f: fl(5, KindFailed, none, 1), o: Refused, want: Refused},
			{f: Failure{}, o: Ignored, want: Ignored},
			{f: fl(5, KindMaxAttempts, none, 2), o: Unaddressed, want: Recognised, addr: "192.0.2.7", fromPID: true},
		}},
		{"a forgotten process lends nothing", 1, []sessionStep{
			{f: fl(5, KindNone, A, 0), o: Linked, want: Linked, addr: "192.0.2.7"},
			{f: fl(6, KindNone, B, 0), o: Linked, want: Linked, addr: "2001:db8::9"},
			{f: fl(5, KindMaxAttempts, none, 1), o: Unaddressed, want: Unaddressed},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSessions(tt.max)
			for i, st := range tt.steps {
				ev := s.Feed(st.f, st.o)
				got := sessionStep{f: st.f, o: st.o, want: ev.Outcome, fromPID: ev.FromPID, forgive: len(ev.Forgive)}
				if ev.Addr.IsValid() {
					got.addr = ev.Addr.String()
				}
				for _, r := range ev.Resolved {
					got.resolved = append(got.resolved, r.Addr.String())
				}
				if d := cmp.Diff(st, got, cmp.AllowUnexported(sessionStep{}), cmp.Comparer(func(a, b Failure) bool { return a == b })); d != "" {
					t.Errorf("step %d: Feed(%s, %s) (-want +got):\n%s", i, st.o, describe(st.f, true), d)
				}
			}
			if s.Len() > tt.max {
				t.Errorf("Len() = %d, want at most %d", s.Len(), tt.max)
			}
		})
	}
}

// as returns f naming the user u.
func (f Failure) as(u string) Failure {
	f.User = nameHash([]byte(u))
	return f
}

// at returns f with its time moved to d after the test's base time.
func (f Failure) at(d time.Duration) Failure {
	f.Time = time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC).Add(d)
	return f
}

// TestSessionsCaps: one process's failures and pending failures, and the processes
// remembered, stay bounded whatever is fed.
func TestSessionsCaps(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.7")
	s := NewSessions(4)
	for i := range 1000 {
		s.Feed(Failure{PID: 9, Kind: KindMaxAttempts}, Unaddressed)
		s.Feed(Failure{PID: 10 + i, Addr: a, Kind: KindFailed}, Recognised)
	}
	if s.Len() > 4 || len(s.order) > 4*4+1 {
		t.Errorf("after 1000 processes: Len() = %d, order %d; want at most 4 and 17", s.Len(), len(s.order))
	}
	s = NewSessions(4)
	for range 1000 {
		s.Feed(Failure{PID: 9, Kind: KindMaxAttempts}, Unaddressed)
	}
	ev := s.Feed(Failure{PID: 9, Addr: a}, Linked)
	if len(ev.Resolved) != MaxForgive {
		t.Errorf("resolved %d pending failures, want MaxForgive (%d)", len(ev.Resolved), MaxForgive)
	}
	for range 1000 {
		s.Feed(Failure{PID: 9, Addr: a, Kind: KindFailed}, Recognised)
	}
	if ev := s.Feed(Failure{PID: 9, Addr: a}, Accepted); len(ev.Forgive) != MaxForgive {
		t.Errorf("forgave %d failures, want MaxForgive (%d)", len(ev.Forgive), MaxForgive)
	}
}

// FuzzSessions feeds a sequence of lines, each from 4 bytes (pid, outcome, address, seconds
// since the last line), and checks that Sessions never panics, stays within its bounds, and
// never gives a line an address that was not sshd's own for that PID in a Recognised, Linked
// or Accepted line fed before or with it.
func FuzzSessions(f *testing.F) {
	f.Add([]byte{1, 4, 0, 0, 1, 2, 0, 1, 1, 3, 0, 1})                   // unaddressed, linked, accepted
	f.Add([]byte{1, 1, 0, 0, 1, 4, 0, 1, 1, 1, 1, 200, 1, 4, 1, 1})     // recognised, unaddressed, reuse
	f.Add([]byte{2, 5, 2, 0, 3, 5, 3, 0, 2, 4, 0, 255, 2, 1, 2, 255})   // linked, stale, unaddressed
	f.Add([]byte{0, 4, 0, 0, 0, 5, 1, 0, 7, 4, 0, 0, 7, 1, 3, 0, 7, 3}) // no pid, short tail
	addrs := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"),
		netip.MustParseAddr("2001:db8::3"), {}}
	outcomes := []Outcome{Ignored, Recognised, Refused, Accepted, Unaddressed, Linked}
	kinds := []Kind{KindFailed, KindPreauth, KindPenalty, KindTimeout, KindMaxAttempts, KindFailedKey}
	f.Fuzz(func(t *testing.T, data []byte) {
		const maxProcs = 3
		s := NewSessions(maxProcs)
		own := map[int]map[netip.Addr]bool{} // pid → addresses sshd wrote for it
		now := time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)
		for i := 0; i+4 <= len(data); i += 4 {
			pid := int(data[i] % 8)
			o := outcomes[int(data[i+1])%len(outcomes)]
			a := addrs[int(data[i+2])%len(addrs)]
			now = now.Add(time.Duration(data[i+3]) * 5 * time.Second)
			fl := Failure{PID: pid, Addr: a, Kind: kinds[int(data[i+2]^data[i+3])%len(kinds)], Time: now}
			switch o {
			case Ignored:
				fl = Failure{}
			case Refused, Unaddressed:
				fl.Addr = netip.Addr{}
			case Accepted, Linked:
				fl.Kind = KindNone
			}
			if (o == Recognised || o == Linked || o == Accepted) && fl.Addr.IsValid() {
				if own[pid] == nil {
					own[pid] = map[netip.Addr]bool{}
				}
				own[pid][fl.Addr] = true
			}
			ev := s.Feed(fl, o)
			if ev.FromPID && (!own[pid][ev.Addr] || o != Unaddressed) {
				t.Fatalf("line %d: Feed(pid %d, %s) took %v, not an address of pid %d", i/4, pid, o, ev.Addr, pid)
			}
			if ev.Addr != fl.Addr && !ev.FromPID {
				t.Fatalf("line %d: Feed(pid %d, %s %v) changed the address to %v", i/4, pid, o, fl.Addr, ev.Addr)
			}
			for _, r := range ev.Resolved {
				if r.Addr != fl.Addr || !own[pid][r.Addr] || r.PID != pid {
					t.Fatalf("line %d: resolved %+v by a line of pid %d naming %v", i/4, r, pid, fl.Addr)
				}
			}
			for _, g := range ev.Forgive {
				if g.PID != pid || g.Addr != fl.Addr || o != Accepted {
					t.Fatalf("line %d: Feed(pid %d, %s %v) forgives %+v", i/4, pid, o, fl.Addr, g)
				}
			}
			if len(ev.Resolved) > MaxForgive || len(ev.Forgive) > MaxForgive {
				t.Fatalf("line %d: %d resolved, %d forgiven; want at most %d", i/4, len(ev.Resolved), len(ev.Forgive), MaxForgive)
			}
			if s.Len() > maxProcs || len(s.order) > 4*maxProcs+1 {
				t.Fatalf("line %d: %d processes, order %d; want at most %d and %d", i/4, s.Len(), len(s.order), maxProcs, 4*maxProcs+1)
			}
		}
	})
}

// TestSessionsLines correlates real lines, through Classify and Sessions as the guard does: the
// shapes that need their process to find their address, and forgiveness.
func TestSessionsLines(t *testing.T) {
	type step struct {
		line     string
		want     Outcome
		addr     string // the event's address, "" none
		resolved int
		forgive  int
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"too many authentication failures after Connection from", []step{
			{"Oct  3 10:12:00 gw sshd[4420]: Connection from 203.0.113.9 port 5022 on 192.0.2.1 port 22", Linked, "203.0.113.9", 0, 0},
			{"Oct  3 10:12:09 gw sshd[4420]: Disconnecting: Too many authentication failures for admin [preauth]", Recognised, "203.0.113.9", 0, 0},
		}},
		{"too many authentication failures before the close", []step{
			{"Oct  3 10:12:09 gw sshd[4421]: Disconnecting: Too many authentication failures for root [preauth]", Unaddressed, "", 0, 0},
			{"Oct  3 10:12:10 gw sshd[4421]: Connection closed by 203.0.113.10 port 6000 [preauth]", Recognised, "203.0.113.10", 1, 0},
		}},
		{"locked account, then the client's disconnect", []step{
			{"Oct  3 10:12:09 gw sshd[4422]: User operator not allowed because account is locked", Unaddressed, "", 0, 0},
			{"Oct  3 10:12:10 gw sshd[4422]: Received disconnect from 203.0.113.11 port 6001:11: Bye Bye [preauth]", Linked, "203.0.113.11", 1, 0},
		}},
		{"scanner without banner, then the close", []step{
			{"Oct  3 10:12:09 gw sshd[4423]: error: kex_exchange_identification: Connection closed by remote host", Unaddressed, "", 0, 0},
			{"Oct  3 10:12:09 gw sshd[4423]: Connection closed by 203.0.113.12 port 6002", Linked, "203.0.113.12", 1, 0},
		}},
		{"another host's pid lends nothing", []step{
			{"Oct  3 10:12:00 web1 sshd[4424]: Connection from 203.0.113.13 port 5022 on 192.0.2.1 port 22", Linked, "203.0.113.13", 0, 0},
			{"Oct  3 10:12:09 web2 sshd[4424]: Disconnecting: Too many authentication failures for admin [preauth]", Unaddressed, "", 0, 0},
		}},
		{"dropbear nonexistent user without address", []step{
			{"Oct  3 10:17:00 ap1 dropbear[5101]: Child connection from 203.0.113.14:50102", Linked, "203.0.113.14", 0, 0},
			{"Oct  3 10:17:01 ap1 dropbear[5101]: Login attempt for nonexistent user", Recognised, "203.0.113.14", 0, 0},
		}},
		{"an agent's keys, then the login", []step{
			{"Oct  3 10:13:04 gw sshd[4434]: Failed publickey for deploy from 203.0.113.15 port 5023 ssh2: RSA SHA256:Zk3Lr0", Recognised, "203.0.113.15", 0, 0},
			{"Oct  3 10:13:04 gw sshd[4434]: Failed publickey for deploy from 203.0.113.15 port 5023 ssh2: ED25519 SHA256:q3Zc", Recognised, "203.0.113.15", 0, 0},
			{"Oct  3 10:13:04 gw sshd[4434]: Accepted publickey for deploy from 203.0.113.15 port 5023 ssh2: ECDSA SHA256:Pq1x", Accepted, "203.0.113.15", 0, 2},
		}},
		{"pam_unix fails, LDAP succeeds", []step{
			{"Oct  3 10:13:05 gw sshd[4435]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.16  user=alice", Recognised, "203.0.113.16", 0, 0},
			{"Oct  3 10:13:05 gw sshd[4435]: Accepted password for alice from 203.0.113.16 port 5024 ssh2", Accepted, "203.0.113.16", 0, 1},
		}},
		{"failures as root, then a login as another account", []step{
			{"Oct  3 10:13:06 gw sshd[4436]: Failed password for root from 203.0.113.17 port 5025 ssh2", Recognised, "203.0.113.17", 0, 0},
			{"Oct  3 10:13:07 gw sshd[4436]: Failed password for root from 203.0.113.17 port 5025 ssh2", Recognised, "203.0.113.17", 0, 0},
			{"Oct  3 10:13:08 gw sshd[4436]: Accepted password for known from 203.0.113.17 port 5025 ssh2", Accepted, "203.0.113.17", 0, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Parser{Now: testNow}
			s := NewSessions(16)
			for _, st := range tt.steps {
				ev := s.Feed(p.Classify([]byte(st.line)))
				addr := ""
				if ev.Addr.IsValid() {
					addr = ev.Addr.String()
				}
				if ev.Outcome != st.want || addr != st.addr || len(ev.Resolved) != st.resolved || len(ev.Forgive) != st.forgive {
					t.Errorf("Feed(Classify(%q)) = %s %q, %d resolved, %d forgiven; want %s %q, %d, %d",
						st.line, ev.Outcome, addr, len(ev.Resolved), len(ev.Forgive), st.want, st.addr, st.resolved, st.forgive)
				}
				for _, r := range ev.Resolved {
					if r.Addr.String() != st.addr || r.Kind == KindNone {
						t.Errorf("Feed(Classify(%q)) resolved %s, want a failure at %s", st.line, describe(r, true), st.addr)
					}
				}
			}
		})
	}
}
