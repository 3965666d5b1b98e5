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

// Two `serve` processes on one PostgreSQL serve one fleet: the agent daemon, enrolled with and
// connected to replica 1, runs a cycle when a nudge is sent through replica 2's admin API, and
// both replicas answer the same for what either stored.
func TestFleetTwoReplicasOnPostgres(t *testing.T) {
	url := pgtest.Start(t) // skips, saying how to run it, without PostgreSQL
	f := newFleet(t, url)
	r1, r2 := f.serve(t, "127.0.0.1:0"), f.serve(t, "127.0.0.1:0")
	r2.putPolicy(t, wire.ModeReport)

	m := newMac(t, hosttest.Mac15(), "44444444-4444-4444-8444-000000000015")
	id := m.enroll(t, r1)
	daemon := m.agentCmd("run")
	var stderr lockedBuffer
	daemon.Stderr = &stderr
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		daemon.Process.Signal(syscall.SIGTERM)
		if err := daemon.Wait(); err != nil {
			t.Errorf("agent run after SIGTERM: %v\n%s", err, stderr.String())
		}
	}
	defer stop()

	// waitSeq waits for the server to hold records after seq, or gives up at the deadline.
	waitSeq := func(seq uint64, until time.Time) (uint64, bool) {
		for time.Now().Before(until) {
			if got := r2.host(t, id).Host.LastSeq; got > seq {
				return got, true
			}
			time.Sleep(50 * time.Millisecond) // polling a server, not timing it
		}
		return seq, false
	}
	first, ok := waitSeq(0, time.Now().Add(time.Minute)) // a guard against a hang
	if !ok {
		t.Fatalf("the daemon's first cycle never reached the server; agent stderr:\n%s", stderr.String())
	}

	// The policy's interval is an hour: a new cycle now is the nudge's doing. The daemon's stream
	// and replica 1's LISTEN may still be connecting, so nudge until a cycle follows; one nudge
	// or several, the agent answers with a cycle.
	deadline := time.Now().Add(time.Minute)
	var nudged uint64
	for nudged == 0 && time.Now().Before(deadline) {
		r2.admin(t, "POST", "/api/v1/nudge", map[string]string{"host_id": id}, nil)
		if seq, ok := waitSeq(first, time.Now().Add(2*time.Second)); ok {
			nudged = seq
		}
	}
	if nudged == 0 {
		t.Fatalf("a nudge sent through replica 2 never made the agent on replica 1 run; agent stderr:\n%s\nreplica 1:\n%s", stderr.String(), r1.log())
	}
	if n := strings.Count(stderr.String(), "record(s) spooled"); n < 2 {
		t.Errorf("the agent logged %d cycles, want the first and the nudged one:\n%s", n, stderr.String())
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
