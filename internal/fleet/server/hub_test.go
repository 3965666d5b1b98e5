package server

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/fleet/wire"
)

func TestHubDeliversByTarget(t *testing.T) {
	h := newHub()
	subs := map[string]*subscription{
		"a": h.subscribe("host-a", []string{"kiosk", "lab"}),
		"b": h.subscribe("host-b", []string{"lab"}),
		"c": h.subscribe("host-c", nil),
	}
	tests := []struct {
		target string
		want   []string
	}{
		{"host-a", []string{"a"}},
		{"host-c", []string{"c"}},
		{"host-z", nil},
		{LabelTarget("kiosk"), []string{"a"}},
		{LabelTarget("lab"), []string{"a", "b"}},
		{LabelTarget("none"), nil},
		{LabelTarget(""), nil},
		{AllHosts, []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		n := h.deliver(tt.target, wire.Nudge{Kind: wire.NudgeCheckNow})
		var got []string
		for _, name := range []string{"a", "b", "c"} {
			select {
			case <-subs[name].ch:
				got = append(got, name)
			default:
			}
		}
		if diff := cmp.Diff(tt.want, got); diff != "" || n != len(tt.want) {
			t.Errorf("deliver(%q) = %d, reached (-want +got):\n%s", tt.target, n, diff)
		}
	}
	for _, s := range subs {
		h.unsubscribe(s)
		h.unsubscribe(s) // twice is harmless
	}
	if len(h.subs) != 0 || len(h.byLabel) != 0 || h.connected() != 0 {
		t.Errorf("after unsubscribing all: %d hosts, %d labels, %d connected; want none", len(h.subs), len(h.byLabel), h.connected())
	}
}

// A label nudge sent through replica A reaches a stream on replica B, and the store is not asked
// for the label's hosts.
func TestLabelNudgeCrossesReplicasWithoutListingHosts(t *testing.T) {
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
	h := b.enroll(t, "u-1", "kiosk")
	stream := b.openNudges(t, h.Credential)
	listed := a.st.hostLists()
	code, body := a.do(t, "POST", "/api/v1/nudge", a.admin, map[string]string{"label": "kiosk"})
	if code != 200 {
		t.Fatalf("label nudge through A = %d %s", code, body)
	}
	if got := stream.next(t); got.Kind != wire.NudgeCheckNow {
		t.Errorf("nudge on B = %+v, want check_now", got)
	}
	if got := a.st.hostLists() - listed; got != 0 {
		t.Errorf("a label nudge listed hosts through the store %d time(s), want 0", got)
	}
}
