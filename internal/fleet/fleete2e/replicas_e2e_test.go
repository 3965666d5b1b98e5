package fleete2e

import (
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/fleet/pgtest"
	"github.com/firewarden/firewarden/internal/fleet/wire"
	"github.com/firewarden/firewarden/internal/host/hosttest"
)

// lockedBuffer is a daemon's stderr, read while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startDaemon starts `agent run` and returns its stderr and a function that stops it with
// SIGTERM (once; later calls do nothing) and checks that it exited 0.
func (m *emac) startDaemon(t *testing.T) (*lockedBuffer, func()) {
	t.Helper()
	daemon := m.agentCmd("run")
	stderr := &lockedBuffer{}
	daemon.Stderr = stderr
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	return stderr, func() {
		if stopped {
			return
		}
		stopped = true
		daemon.Process.Signal(syscall.SIGTERM)
		if err := daemon.Wait(); err != nil {
			t.Errorf("agent run after SIGTERM: %v\n%s", err, stderr.String())
		}
	}
}

// waitSeq waits for the server to hold records of host id after seq, or gives up at until.
func (s *serving) waitSeq(t *testing.T, id string, seq uint64, until time.Time) (uint64, bool) {
	t.Helper()
	for time.Now().Before(until) {
		if got := s.host(t, id).Host.LastSeq; got > seq {
			return got, true
		}
		time.Sleep(50 * time.Millisecond) // polling a server, not timing it
	}
	return seq, false
}

// nudgeUntilCycle nudges host id through s until the server holds records after seq (the
// agent's stream may still be connecting; one nudge or several, the agent answers with a cycle)
// and returns the new last seq, or 0 when none came within a minute.
func (s *serving) nudgeUntilCycle(t *testing.T, id string, seq uint64) uint64 {
	t.Helper()
	return s.nudgeByUntilCycle(t, map[string]string{"host_id": id}, id, seq)
}

// nudgeByUntilCycle is nudgeUntilCycle with the nudge's body given (a host or a label).
func (s *serving) nudgeByUntilCycle(t *testing.T, body map[string]string, id string, seq uint64) uint64 {
	t.Helper()
	deadline := time.Now().Add(time.Minute) // a guard against a hang, not a speed requirement
	for time.Now().Before(deadline) {
		s.admin(t, "POST", "/api/v1/nudge", body, nil)
		if got, ok := s.waitSeq(t, id, seq, time.Now().Add(2*time.Second)); ok {
			return got
		}
	}
	return 0
}

// Two `serve` processes on one PostgreSQL serve one fleet: the agent daemon, enrolled with and
// connected to replica 1, runs a cycle when a nudge is sent through replica 2's admin API, and
// both replicas answer the same for what either stored.
func TestFleetTwoReplicasOnPostgres(t *testing.T) {
	url := pgtest.Start(t) // skips, saying how to run it, without PostgreSQL
	f := newFleet(t, url)
	r1, r2 := f.serve(t, "127.0.0.1:0"), f.serve(t, "127.0.0.1:0")
	r2.putPolicy(t, wire.ModeReport)

	m := newMac(t, hosttest.Mac15(), "44444444-4444-4444-8444-000000000015")
	id := m.enroll(t, r1, "replicated")
	stderr, stop := m.startDaemon(t)
	defer stop()
	waitSeq := func(seq uint64, until time.Time) (uint64, bool) { return r2.waitSeq(t, id, seq, until) }
	first, ok := waitSeq(0, time.Now().Add(time.Minute)) // a guard against a hang
	if !ok {
		t.Fatalf("the daemon's first cycle never reached the server; agent stderr:\n%s", stderr.String())
	}

	// The policy's interval is an hour: a new cycle now is the nudge's doing.
	nudged := r2.nudgeUntilCycle(t, id, first)
	if nudged == 0 {
		t.Fatalf("a nudge sent through replica 2 never made the agent on replica 1 run; agent stderr:\n%s\nreplica 1:\n%s", stderr.String(), r1.log())
	}
	if n := strings.Count(stderr.String(), "record(s) spooled"); n < 2 {
		t.Errorf("the agent logged %d cycles, want the first and the nudged one:\n%s", n, stderr.String())
	}
	// A label nudge crosses too: one notification, answered by replica 1 from its own streams.
	if byLabel := r2.nudgeByUntilCycle(t, map[string]string{"label": "replicated"}, id, nudged); byLabel == 0 {
		t.Fatalf("a label nudge sent through replica 2 never made the agent on replica 1 run; agent stderr:\n%s", stderr.String())
	} else {
		nudged = byLabel
	}

	// Both replicas answer the same, with nothing written in between: the agent stopped (it
	// may owe a cycle to a nudge still in flight).
	stop()
	read := func(s *serving) string {
		var b strings.Builder
		v := s.host(t, id)
		fmt.Fprintf(&b, "host %+v\nresults %+v\nhistory %+v\n", v.Host, v.Results, s.history(t, id, ""))
		var hosts struct{ Hosts []hostJSON }
		s.admin(t, "GET", "/api/v1/hosts", nil, &hosts)
		fmt.Fprintf(&b, "hosts %+v\n", hosts.Hosts)
		fmt.Fprintf(&b, "compliance %+v\n", s.compliance(t, time.Now().Add(-time.Millisecond)))
		return b.String()
	}
	one, two := read(r1), read(r2)
	if diff := cmp.Diff(one, two); diff != "" {
		t.Errorf("replica 1 and replica 2 answer differently (-1 +2):\n%s", diff)
	}
	if v := r1.host(t, id); v.Host.LastSeq < nudged || v.Host.Status != "compliant" && v.Host.Status != "non_compliant" {
		t.Errorf("replica 1's host = %+v, want last_seq ≥ %d and a compliance status", v.Host, nudged)
	}
}

// The agent daemon outlives a kill -9 of its server: started again on the same address, the
// server reaches it with a nudge over the re-opened stream, and the cycle it runs reports the
// firewall turned off while the server was away.
func TestFleetDaemonNudgedAfterServerKill(t *testing.T) {
	f := newFleet(t, "")
	addr := freeAddr(t)
	s := f.serve(t, addr)
	s.putPolicy(t, wire.ModeReport)
	m := newMac(t, hosttest.Mac15(), "55555555-5555-4555-8555-000000000015")
	m.setGlobalState(t, "on")
	id := m.enroll(t, s)
	stderr, stop := m.startDaemon(t)
	defer stop()
	first, ok := s.waitSeq(t, id, 0, time.Now().Add(time.Minute))
	if !ok {
		t.Fatalf("the daemon's first cycle never reached the server; agent stderr:\n%s", stderr.String())
	}
	if v := s.host(t, id); v.Host.Status != "compliant" {
		t.Fatalf("host after the first cycle = %s, want compliant", v.Host.Status)
	}

	s.kill()
	m.setGlobalState(t, "off")
	s = f.serve(t, addr)
	if s.nudgeUntilCycle(t, id, first) == 0 {
		t.Fatalf("no nudge reached the daemon after the server came back; agent stderr:\n%s", stderr.String())
	}
	stop()
	v := s.host(t, id)
	if v.Host.Status != "non_compliant" || v.Host.LastSeq != m.lastSeq(t) {
		t.Errorf("host after the nudged cycle = %s last_seq %d, want non_compliant and the agent's %d", v.Host.Status, v.Host.LastSeq, m.lastSeq(t))
	}
	if h := s.history(t, id, "alf.enabled"); len(h) == 0 || h[len(h)-1].From+">"+h[len(h)-1].To+" "+h[len(h)-1].Cause != "pass>fail observed" {
		t.Errorf("history = %+v, want it to end pass>fail observed", h)
	}
}
