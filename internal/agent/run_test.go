package agent

import (
	"context"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// wait returns when the server has seen event n times in all, failing the test if it never does
// (the bound is a guard against a hang, not a speed requirement).
func (s *fakeServer) wait(t *testing.T, seen map[string]int, event string, n int) {
	t.Helper()
	guard := time.After(time.Minute)
	for seen[event] < n {
		select {
		case e := <-s.events:
			seen[e]++
		case <-guard:
			t.Fatalf("the server saw %s %d times, want %d", event, seen[event], n)
		}
	}
}

// The daemon runs a cycle at start, keeps the nudge stream open, runs again on check_now and on
// config_changed (fetching the new policy), and returns nil when stopped.
func TestRunNudgesAndStop(t *testing.T) {
	srv := newFakeServer(t)
	ta := newMacAgent(t, srv)
	ta.Sleep = SleepCtx
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- ta.Run(ctx) }()

	seen := map[string]int{}
	srv.wait(t, seen, "report", 1) // the cycle at start
	srv.wait(t, seen, "stream", 1)
	srv.nudges <- wire.Nudge{Kind: wire.NudgeCheckNow}
	srv.wait(t, seen, "report", 2)

	srv.mu.Lock()
	srv.config.Version = 2
	srv.config.Policy.Mode = wire.ModeEnforce
	srv.mu.Unlock()
	srv.nudges <- wire.Nudge{Kind: wire.NudgeConfigChanged}
	srv.wait(t, seen, "report", 3)

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after stop = %v, want nil", err)
	}
	runs := 0
	var modes []string
	for _, r := range srv.stored() {
		if r.Run != nil {
			runs++
			modes = append(modes, r.Run.Mode)
		}
	}
	if runs != 3 || modes[2] != wire.ModeEnforce {
		t.Errorf("server got %d runs in modes %v, want 3, the last in enforce mode", runs, modes)
	}
	if st := ta.mac.State(); st.GlobalState == 0 {
		t.Error("the enforce policy did not turn the firewall on")
	}
	f, _ := LoadFacts(ta.State)
	if !f.NextRun.IsZero() || f.LastUpload.IsZero() || f.LastUploadError != "" || f.Mode != wire.ModeEnforce {
		t.Errorf("facts after stop = %+v, want no next run, a last upload without error, enforce mode", f)
	}
}
