package fleete2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/fleet/wire"
	"github.com/firewarden/firewarden/internal/host/hosttest"
)

// Three agents on emulated Macs (macOS 14, 15, and 15 with a firewall profile) enroll with a
// real server and report; a firewall turned off behind one agent's back is a drift the server
// shows, enforce mode reverts it, and compliance as of instants before, during and after the
// drift is what it was then.
func TestFleetThreeMacsDriftEnforceCompliance(t *testing.T) {
	f := newFleet(t, "")
	s := f.serve(t, "127.0.0.1:0")
	s.putPolicy(t, wire.ModeReport)

	macs := map[string]*emac{
		"14":        newMac(t, hosttest.Mac14(), "11111111-1111-4111-8111-000000000014"),
		"15":        newMac(t, hosttest.Mac15(), "11111111-1111-4111-8111-000000000015"),
		"managed15": newMac(t, hosttest.ManagedMac15(), "11111111-1111-4111-8111-0000000000AF"),
	}
	// The unmanaged presets come with the firewall off; turn it on so that every host starts
	// compliant (the profile turns it on for the managed one).
	macs["14"].setGlobalState(t, "on")
	macs["15"].setGlobalState(t, "on")
	beforeEnrolment := time.Now()
	ids := map[string]string{}
	for name, m := range macs {
		ids[name] = m.enroll(t, s, "e2e")
		m.once(t, 0)
	}

	var list struct{ Hosts []hostJSON }
	s.admin(t, "GET", "/api/v1/hosts", nil, &list)
	got := map[string]string{}
	for _, h := range list.Hosts {
		got[h.ID] = fmt.Sprintf("%s %s last_seq>0=%v", h.OSVersion, h.Status, h.LastSeq > 0)
	}
	want := map[string]string{
		ids["14"]:        "14.6 compliant last_seq>0=true",
		ids["15"]:        "15.1 compliant last_seq>0=true",
		ids["managed15"]: "15.1 compliant last_seq>0=true",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("GET /api/v1/hosts after the first reports (-want +got):\n%s", diff)
	}
	for name, id := range ids {
		v := s.host(t, id)
		if len(v.Results) != 1 || v.Results[0].Check != "alf.enabled" || !wire.Compliant(v.Results[0].Status) {
			t.Errorf("GET host %s (%s) results = %+v, want alf.enabled compliant", id, name, v.Results)
		}
		if v.Host.LastSeq != macs[name].lastSeq(t) {
			t.Errorf("host %s (%s) last_seq = %d, the agent's last seq %d", id, name, v.Host.LastSeq, macs[name].lastSeq(t))
		}
	}
	before := time.Now()

	// Drift: the firewall turned off behind the agent's back.
	m15, id15 := macs["15"], ids["15"]
	m15.setGlobalState(t, "off")
	m15.once(t, 1)
	during := time.Now()
	if v := s.host(t, id15); v.Host.Status != "non_compliant" || strings.Join(v.Host.Failing, ",") != "alf.enabled" {
		t.Errorf("host after the drift = %s failing %q, want non_compliant failing alf.enabled", v.Host.Status, v.Host.Failing)
	}
	h := s.history(t, id15, "alf.enabled")
	if len(h) == 0 || fmt.Sprintf("%s>%s %s", h[len(h)-1].From, h[len(h)-1].To, h[len(h)-1].Cause) != "pass>fail observed" {
		t.Errorf("history after the drift = %+v, want it to end pass>fail observed", h)
	}

	// Enforce mode: the next run reverts it, and the server is told the fix did.
	s.putPolicy(t, wire.ModeEnforce)
	m15.once(t, 0)
	after := time.Now()
	if st := m15.globalState(t); st == 0 {
		t.Error("enforce mode left the emulated Mac's firewall off")
	}
	h = s.history(t, id15, "alf.enabled")
	var changes []string
	for _, tr := range h {
		changes = append(changes, fmt.Sprintf("%s>%s %s", tr.From, tr.To, tr.Cause))
	}
	if n := len(changes); n < 2 || changes[n-2] != "pass>fail observed" || changes[n-1] != "fail>pass fix" {
		t.Errorf("history after enforcing = %q, want it to end pass>fail observed, fail>pass fix", changes)
	}
	if v := s.host(t, id15); v.Host.Status != "compliant" {
		t.Errorf("host after the revert = %s, want compliant", v.Host.Status)
	}

	// Still enforcing, a drift is reverted by the run that sees it: both in one run, in order.
	m15.setGlobalState(t, "off")
	m15.once(t, 0)
	if st := m15.globalState(t); st == 0 {
		t.Error("enforce mode left the emulated Mac's firewall off the second time")
	}
	// Both transitions come from one drift record (one seq, one time): the history, newest
	// first, must still put the fix after the observation it answered, each from the status the
	// one before left.
	h = s.history(t, id15, "alf.enabled")
	changes = nil
	for i, tr := range h {
		changes = append(changes, fmt.Sprintf("%s>%s %s", tr.From, tr.To, tr.Cause))
		if i > 0 && tr.From != h[i-1].To {
			t.Errorf("history (oldest first) %q: transition %d starts from %s, the one before ended at %s", changes, i, tr.From, h[i-1].To)
		}
	}
	if n := len(changes); n < 2 || changes[n-2] != "pass>fail observed" || changes[n-1] != "fail>pass fix" {
		t.Errorf("history (oldest first) after a drift in enforce mode = %q, want it to end pass>fail observed, fail>pass fix", changes)
	}
	// Enforcing on the macOS 14 Mac (the legacy socketfilterfw dialect) reverts its drift too;
	// on the managed Mac it never fights the profile: no write at all.
	m14 := macs["14"]
	m14.setGlobalState(t, "off")
	m14.once(t, 0)
	if st := m14.globalState(t); st == 0 {
		t.Error("enforce mode left the macOS 14 Mac's firewall off")
	}
	managed := macs["managed15"]
	st, err := hosttest.LoadState(managed.root)
	if err != nil {
		t.Fatal(err)
	}
	writes := len(st.Writes())
	managed.once(t, 0)
	if st, _ := hosttest.LoadState(managed.root); len(st.Writes()) != writes {
		t.Errorf("enforce mode on the managed Mac tried writes %q", st.Writes()[writes:])
	}
	// (The order of the two is the history check above; here only that both are there.)
	fixes := 0
	for _, tr := range s.history(t, ids["14"], "alf.enabled") {
		if tr.From+">"+tr.To+" "+tr.Cause == "fail>pass fix" {
			fixes++
		}
	}
	if v := s.host(t, ids["14"]); v.Host.Status != "compliant" || fixes != 1 {
		t.Errorf("macOS 14 host after enforcing = %s with %d fix transition(s), want compliant and 1", v.Host.Status, fixes)
	}
	afterAll := time.Now()

	// The managed Mac was never touched: no transition but its first.
	if h := s.history(t, ids["managed15"], "alf.enabled"); len(h) != 1 {
		t.Errorf("history of the managed Mac = %+v, want one transition (the first report)", h)
	}

	for _, tt := range []struct {
		name                string
		at                  time.Time
		compliant, noncompl int
		pass, fail          int
	}{
		// The managed Mac's alf.enabled is "managed" (the profile holds it): compliant, not a pass.
		{"before the enrolments", beforeEnrolment, 0, 0, 0, 0},
		{"before the drift", before, 3, 0, 2, 0},
		{"during the drift", during, 2, 1, 1, 1},
		{"after the revert", after, 3, 0, 2, 0},
		{"after every revert", afterAll, 3, 0, 2, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := s.compliance(t, tt.at)
			pc := c.PerCheck["alf.enabled"]
			got := fmt.Sprintf("hosts %d compliant %d non_compliant %d alf.enabled pass %d fail %d managed %d",
				c.Hosts, c.Compliant, c.NonCompliant, pc.Pass, pc.Fail, pc.Managed)
			hosts, managed := 3, 1
			if tt.at.Equal(beforeEnrolment) {
				hosts, managed = 0, 0
			}
			want := fmt.Sprintf("hosts %d compliant %d non_compliant %d alf.enabled pass %d fail %d managed %d", hosts, tt.compliant, tt.noncompl, tt.pass, tt.fail, managed)
			if got != want {
				t.Errorf("compliance?at=%s = %s, want %s", tt.at.UTC().Format(time.RFC3339Nano), got, want)
			}
		})
	}
}
