package detect

import (
	"strings"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/detect/event"
)

// Guarded contains a panic while evaluating one event: the event is named as not checked and
// counted, and the engine goes on to alert on the next one. (A nil event is the one way to make
// Process panic from outside; a bug in the command analysis would take the same path.)
func TestGuardedOutlivesAPanic(t *testing.T) {
	rs, err := LoadRules(true)
	if err != nil {
		t.Fatal(err)
	}
	e := New(rs, Options{})
	alerts, err := e.Guarded(nil)
	if err == nil || !strings.Contains(err.Error(), "not checked") || alerts != nil {
		t.Fatalf("Guarded(nil) = %v, %v; want no alerts and an error saying the event was not checked", alerts, err)
	}
	pfctl := &event.Event{Time: time.Date(2025, 8, 7, 13, 21, 0, 0, time.UTC), Host: "mac", Source: "eslogger", Kind: event.Exec,
		Process: event.Process{PID: 5000, Path: "/sbin/pfctl", Argv: []string{"pfctl", "-d"}, ArgvExact: true, CommandLine: "pfctl -d"}}
	alerts, err = e.Guarded(pfctl)
	if err != nil {
		t.Fatalf("Guarded(pfctl -d) after a panic: %v", err)
	}
	var rules []string
	for _, a := range append(alerts, e.Flush()...) { // folding holds alerts until their window ends
		rules = append(rules, a.Rule.Name)
	}
	if len(rules) != 1 || rules[0] != "pf-disable" {
		t.Errorf("Guarded(pfctl -d) after a panic alerted %v, want [pf-disable]", rules)
	}
	if s := e.Stats(); s.Failed != 1 || s.Events != 2 {
		t.Errorf("Stats() = %+v, want 1 failed of 2 events", s)
	}
}
