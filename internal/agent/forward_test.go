package agent

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/block"
	"github.com/firewarden/firewarden/internal/detect"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

func testAlert(rule string) wire.Alert {
	return wire.Alert{Rule: rule, Severity: "high", Reason: "the firewall was turned off", User: "root",
		Process: "/usr/libexec/ApplicationFirewall/socketfilterfw", Parent: "/bin/zsh",
		CommandLine: "socketfilterfw --setglobalstate off", Count: 1, FirstSeen: t0, LastSeen: t0}
}

// An alert is chained like a run (its record names the entry right after the run's) and
// spooled after it; the server gets both, and the chain verifies.
func TestForwardAlert(t *testing.T) {
	srv := newFakeServer(t)
	ta := newMacAgent(t, srv)
	ctx := context.Background()
	if _, err := ta.Cycle(ctx, DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	if err := ta.ForwardAlert(testAlert("alf-global-off")); err != nil {
		t.Fatal(err)
	}
	if _, err := ta.Upload(ctx); err != nil {
		t.Fatal(err)
	}
	got := srv.stored()
	if kinds(got) != "1:run 2:alert" {
		t.Fatalf("server holds %s, want 1:run 2:alert", kinds(got))
	}
	if diff := cmp.Diff(testAlert("alf-global-off"), *got[1].Alert); diff != "" {
		t.Errorf("alert stored (-want +got):\n%s", diff)
	}
	run, al := got[0].Chain, got[1].Chain
	if run == nil || al == nil || al.Seq != run.Seq+1 || al.Prev != run.Hash {
		t.Errorf("chain refs run %+v, alert %+v; want the alert's entry right after the run's", run, al)
	}
	if n := chainLen(t, ta.dir); n != 2 {
		t.Errorf("evidence chain has %d entries, want 2", n)
	}
	f, _ := LoadFacts(ta.State)
	if f.AlertsForwarded != 1 || f.LastAlertRule != "alf-global-off" {
		t.Errorf("facts = %+v, want 1 alert forwarded, the last alf-global-off", f)
	}
}

// A kill at any step of forwarding an alert loses nothing and duplicates nothing.
func TestForwardAlertCrashAtEveryStep(t *testing.T) {
	for _, step := range []string{"chain", "spool", "last", "done"} {
		t.Run(step, func(t *testing.T) {
			srv := newFakeServer(t)
			ta := newMacAgent(t, srv)
			ctx := context.Background()
			if _, err := ta.Cycle(ctx, DefaultConfig()); err != nil {
				t.Fatal(err)
			}
			killed := errors.New("killed")
			ta.Fault = func(s string) error {
				if s == step {
					return killed
				}
				return nil
			}
			if err := ta.ForwardAlert(testAlert("pf-disable")); !errors.Is(err, killed) {
				t.Fatalf("ForwardAlert = %v, want the injected kill at %s", err, step)
			}
			again := newTestAgent(t, srv, ta.mac, ta.macRoot, ta.dir)
			if got := spooled(t, again.Spool); got != "1:run 2:alert" {
				t.Errorf("spool after restart = %s, want 1:run 2:alert", got)
			}
			if n := chainLen(t, ta.dir); n != 2 {
				t.Errorf("evidence chain has %d entries, want 2", n)
			}
			if _, err := again.Cycle(ctx, DefaultConfig()); err != nil {
				t.Fatal(err)
			}
			if _, err := again.Upload(ctx); err != nil {
				t.Fatal(err)
			}
			got := srv.stored()
			if kinds(got) != "1:run 2:alert 3:run" {
				t.Fatalf("server holds %s, want 1:run 2:alert 3:run", kinds(got))
			}
			for i := 1; i < len(got); i++ {
				if p, c := got[i-1].Chain, got[i].Chain; p == nil || c == nil || c.Seq != p.Seq+1 || c.Prev != p.Hash {
					t.Errorf("record %d chain %+v does not follow %+v", got[i].Seq, c, p)
				}
			}
		})
	}
}

// The daemon forwards what its watch emits, before and during cycles, and uploads it without
// waiting for the next cycle; every alert reaches the server once.
func TestRunForwardsAlerts(t *testing.T) {
	srv := newFakeServer(t)
	ta := newMacAgent(t, srv)
	ta.Sleep = SleepCtx
	emitted := make(chan func(wire.Alert), 1)
	ta.Watch = func(ctx context.Context, emit func(wire.Alert)) error {
		emitted <- emit
		<-ctx.Done()
		emit(testAlert("flushed-at-stop")) // the engine's flush when the watch ends
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- ta.Run(ctx) }()
	seen := map[string]int{}
	srv.wait(t, seen, "report", 1)
	emit := <-emitted
	for _, r := range []string{"alf-global-off", "pf-disable", "alf-stealth-off"} {
		emit(testAlert(r))
	}
	guard := time.After(time.Minute) // a hang guard, not a speed check
	for {
		n := 0
		for _, r := range srv.stored() {
			if r.Alert != nil {
				n++
			}
		}
		if n >= 3 {
			break
		}
		select {
		case <-srv.events:
		case <-guard:
			cancel()
			<-done
			t.Fatalf("the server got %d of 3 alerts", n)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after stop = %v", err)
	}
	// The alert flushed at stop is spooled for the next start.
	if got := spooled(t, ta.Spool); got == "" {
		t.Error("the alert flushed at stop was not spooled")
	}
	var rules []string
	for _, r := range srv.stored() {
		if r.Alert != nil {
			rules = append(rules, r.Alert.Rule)
		}
	}
	if diff := cmp.Diff([]string{"alf-global-off", "pf-disable", "alf-stealth-off"}, rules); diff != "" {
		t.Errorf("alerts on the server (-want +got):\n%s", diff)
	}
	f, _ := LoadFacts(ta.State)
	if f.AlertsForwarded != 4 || f.Detect != "stopped with the agent" {
		t.Errorf("facts = %+v, want 4 alerts forwarded and detection stopped with the agent", f)
	}
}

func TestAlertOf(t *testing.T) {
	uid := 0
	full := detect.JSONAlert{
		Time: t0, FirstSeen: t0, LastSeen: t0.Add(time.Minute), Count: 3, Severity: "high",
		Rule: detect.JSONRule{Name: "alf-global-off", Title: "ALF turned off"}, Reason: "socketfilterfw --setglobalstate off",
		Process: detect.JSONProcess{PID: 7, Path: "/usr/libexec/ApplicationFirewall/socketfilterfw", CommandLine: "socketfilterfw --setglobalstate off", User: "root", UID: &uid},
		Parent:  &detect.JSONParent{PID: 6, Path: "/bin/zsh"},
	}
	bare := detect.JSONAlert{Time: t0, Rule: detect.JSONRule{Name: "state-weakened-unseen"}, Severity: "high"}
	tests := []struct {
		name    string
		in      any
		want    wire.Alert
		wantErr bool
	}{
		{"full", full, wire.Alert{Rule: "alf-global-off", Severity: "high", Reason: "socketfilterfw --setglobalstate off", User: "root",
			Process: "/usr/libexec/ApplicationFirewall/socketfilterfw", Parent: "/bin/zsh", CommandLine: "socketfilterfw --setglobalstate off",
			Count: 3, FirstSeen: t0, LastSeen: t0.Add(time.Minute)}, false},
		{"state poll alert", bare, wire.Alert{Rule: "state-weakened-unseen", Severity: "high", Count: 1, FirstSeen: t0, LastSeen: t0}, false},
		{"no rule", detect.JSONAlert{Time: t0}, wire.Alert{}, true},
		{"not json", "{", wire.Alert{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, _ := json.Marshal(tt.in)
			if s, ok := tt.in.(string); ok {
				data = []byte(s)
			}
			got, err := AlertOf(data)
			if (err != nil) != tt.wantErr {
				t.Fatalf("AlertOf(%s) error = %v, want error %v", data, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("AlertOf(%s) (-want +got):\n%s", data, diff)
			}
		})
	}
}

// FuzzAlertOf: whatever the bytes, AlertOf does not panic, and what it accepts the spool accepts.
func FuzzAlertOf(f *testing.F) {
	data, _ := json.Marshal(detect.JSONAlert{Time: t0, Rule: detect.JSONRule{Name: "alf-global-off"}, Parent: &detect.JSONParent{Path: "/bin/sh"}})
	f.Add(data)
	f.Add([]byte(`{"rule":{"name":"x"},"count":-4}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, data []byte) {
		al, err := AlertOf(data)
		if err != nil {
			return
		}
		r := wire.Record{Seq: 1, Kind: wire.KindAlert, Time: t0, Alert: &al}
		if err := r.Validate(); err != nil {
			t.Errorf("AlertOf(%q) = %+v, which the wire refuses: %v", data, al, err)
		}
	})
}

func ban(p string, count int, last, expires time.Time) block.BanEntry {
	return block.BanEntry{Prefix: netip.MustParsePrefix(p), Count: count, First: last, Last: last, Expires: expires, Source: "guard"}
}

func TestSummariseBans(t *testing.T) {
	now := t0
	forever := time.Time{}
	later := now.Add(time.Hour)
	tests := []struct {
		name       string
		bans       []block.BanEntry
		since      time.Time
		want       wire.Bans
		wantNewest time.Time
	}{
		{"none", nil, time.Time{}, wire.Bans{}, time.Time{}},
		{"active, expired and added", []block.BanEntry{
			ban("203.0.113.7/32", 1, now.Add(-2*time.Hour), later),
			ban("198.51.100.0/24", 4, now.Add(-time.Minute), forever),
			ban("192.0.2.1/32", 9, now.Add(-3*time.Hour), now.Add(-time.Second)), // expired
		}, now.Add(-time.Hour), wire.Bans{Active: 2, Added: 1, Top: []string{"198.51.100.0/24", "203.0.113.7/32"}}, now.Add(-time.Minute)},
		{"top five by count, then the newest", []block.BanEntry{
			ban("192.0.2.1/32", 1, now.Add(-6*time.Minute), later), ban("192.0.2.2/32", 2, now.Add(-5*time.Minute), later),
			ban("192.0.2.3/32", 2, now.Add(-4*time.Minute), later), ban("192.0.2.4/32", 5, now.Add(-3*time.Minute), later),
			ban("192.0.2.5/32", 1, now.Add(-2*time.Minute), later), ban("192.0.2.6/32", 1, now.Add(-1*time.Minute), later),
		}, now, wire.Bans{Active: 6, Top: []string{"192.0.2.4/32", "192.0.2.3/32", "192.0.2.2/32", "192.0.2.6/32", "192.0.2.5/32"}}, now},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, newest := SummariseBans(&block.State{Bans: tt.bans}, tt.since, now)
			if diff := cmp.Diff(tt.want, got); diff != "" || !newest.Equal(tt.wantNewest) {
				t.Errorf("SummariseBans() newest = %v, want %v; summary (-want +got):\n%s", newest, tt.wantNewest, diff)
			}
		})
	}
}

// The ban summary is spooled (and chained) when the guard's bans change, not again while they
// stay the same until one is due, and not at all on a host without the guard's state.
func TestCheckBans(t *testing.T) {
	srv := newFakeServer(t)
	ta := newMacAgent(t, srv)
	store := &block.Store{Dir: ta.State.Path()}
	addBan := func(p string) {
		t.Helper()
		if _, _, err := store.Edit(context.Background(), func(st *block.State) error {
			_, err := st.Ban(block.BanRequest{Prefix: netip.MustParsePrefix(p), Source: "guard", Reason: "ssh failures"}, block.Policy{}, ta.now())
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	const every = time.Hour
	steps := []struct {
		name  string
		do    func()
		every time.Duration
		want  *wire.Bans // nil: nothing spooled
	}{
		{"no guard state", func() {}, every, nil},
		{"first ban", func() { addBan("203.0.113.7/32") }, every, &wire.Bans{Active: 1, Added: 1, Top: []string{"203.0.113.7/32"}}},
		{"unchanged", func() {}, every, nil},
		{"rewritten, same bans", func() {
			store.Edit(context.Background(), func(*block.State) error { return nil })
		}, every, nil},
		{"second ban", func() { addBan("198.51.100.9/32") }, every, &wire.Bans{Active: 2, Added: 1, Top: []string{"198.51.100.9/32", "203.0.113.7/32"}}},
		{"unchanged but due", func() {}, 0, &wire.Bans{Active: 2, Top: []string{"198.51.100.9/32", "203.0.113.7/32"}}},
	}
	for _, st := range steps {
		st.do()
		sent, err := ta.CheckBans(st.every)
		if err != nil {
			t.Fatalf("%s: CheckBans() = %v", st.name, err)
		}
		if sent != (st.want != nil) {
			t.Fatalf("%s: CheckBans() sent = %v, want %v", st.name, sent, st.want != nil)
		}
		if st.want == nil {
			continue
		}
		recs, _ := ta.Spool.Batch(100, 1<<30)
		last := recs[len(recs)-1]
		if diff := cmp.Diff(st.want, last.Bans); diff != "" || last.Chain == nil {
			t.Errorf("%s: summary spooled with chain %+v (-want +got):\n%s", st.name, last.Chain, diff)
		}
	}
	recs, _ := ta.Spool.Batch(100, 1<<30)
	if kinds(recs) != "1:bans 2:bans 3:bans" {
		t.Errorf("spool = %s, want three ban summaries", kinds(recs))
	}
	if n := chainLen(t, ta.dir); n != 3 {
		t.Errorf("evidence chain has %d entries, want 3", n)
	}
	f, _ := LoadFacts(ta.State)
	if f.LastBans == nil || f.LastBans.Active != 2 {
		t.Errorf("facts = %+v, want the last summary (2 active)", f)
	}
}

// The daemon sends a changed ban summary when it next looks at block.json, without waiting for
// a cycle.
func TestRunSendsChangedBans(t *testing.T) {
	srv := newFakeServer(t)
	ta := newMacAgent(t, srv)
	ta.Sleep = SleepCtx
	ta.BansPoll = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- ta.Run(ctx) }()
	seen := map[string]int{}
	srv.wait(t, seen, "report", 1) // the cycle at start: no guard state, no summary
	if _, _, err := (&block.Store{Dir: ta.State.Path()}).Edit(ctx, func(st *block.State) error {
		_, err := st.Ban(block.BanRequest{Prefix: netip.MustParsePrefix("203.0.113.7/32"), Source: "guard"}, block.Policy{}, t0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	srv.wait(t, seen, "report", 2)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after stop = %v", err)
	}
	if got := kinds(srv.stored()); got != "1:run 2:bans" {
		t.Errorf("server holds %s, want 1:run 2:bans", got)
	}
}
