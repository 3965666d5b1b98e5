package server

import (
	"context"
	"sync"
	"testing"

	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// memNotifier is an in-memory LISTEN/NOTIFY shared by the replicas of a test.
type memNotifier struct {
	mu        sync.Mutex
	listeners []func(string)
	ready     chan struct{}
}

func (m *memNotifier) Notify(_ context.Context, _, payload string) error {
	m.mu.Lock()
	ls := append([]func(string){}, m.listeners...)
	m.mu.Unlock()
	for _, fn := range ls {
		fn(payload)
	}
	return nil
}

func (m *memNotifier) Listen(ctx context.Context, _ string, fn func(string)) error {
	m.mu.Lock()
	m.listeners = append(m.listeners, fn)
	m.mu.Unlock()
	m.ready <- struct{}{}
	<-ctx.Done()
	return nil
}

// Two replicas on one store: an agent streams from replica B, an admin nudges through A.
func TestNudgeCrossesReplicas(t *testing.T) {
	n := &memNotifier{ready: make(chan struct{}, 2)}
	a := newFixture(t, Options{Bus: NotifyBus{n}})
	b := &fixture{st: a.st, clock: a.clock, admin: a.admin, secret: a.secret}
	b.srv = New(a.st, Options{Now: a.clock.now, Bus: NotifyBus{n}})
	b.ts = newTLSServer(t, b.srv)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, s := range []*Server{a.srv, b.srv} {
		go s.ListenNudges(ctx, n)
		<-n.ready
	}
	h := b.enroll(t, "u-1")
	stream := b.openNudges(t, h.Credential)
	if code, body := a.do(t, "POST", "/api/v1/nudge", a.admin, map[string]string{"host_id": h.HostID}); code != 200 {
		t.Fatalf("nudge through A = %d %s", code, body)
	}
	if got := stream.next(t); got.Kind != wire.NudgeCheckNow {
		t.Errorf("nudge on B = %+v, want check_now", got)
	}
	if code, body := a.do(t, "PUT", "/api/v1/policies", a.admin, map[string]any{"name": "default", "mode": "report", "interval_seconds": 600}); code != 200 {
		t.Fatalf("policy through A = %d %s", code, body)
	}
	if got := stream.next(t); got.Kind != wire.NudgeConfigChanged {
		t.Errorf("nudge on B after a policy change = %+v, want config_changed", got)
	}
}
