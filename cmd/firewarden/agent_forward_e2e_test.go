package main

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/block"
	"github.com/firewarden/firewarden/internal/fleet/wire"
	"github.com/firewarden/firewarden/internal/host/hosttest"
)

// esloggerStandIn streams ROOT/fixture once and then keeps running, as eslogger does.
const esloggerStandIn = `[ "$1" = --list-events ] && exit 1
` + hosttest.RecordRun + `cat "$root/fixture"
exec sleep 600
`

// `agent run` on an emulated Mac watches it as `detect --live` does and forwards the alert of
// the eslogger fixture (socketfilterfw --setglobalstate off); it summarises the guard's bans
// from block.json, again when they change. Alerts and summaries are chained like runs (the
// server sees consecutive entries) and `agent status` says what was forwarded.
func TestAgentForwardsAlertsAndBans(t *testing.T) {
	srv := newFleetServer(t)
	root := mac(t, hosttest.Mac15())
	if r := firewarden(t, root, "agent", "enroll", "--server", srv.URL, "--secret", "fwe_e2e", "--fingerprint", srv.fingerprint()); r.code != 0 {
		t.Fatalf("enroll: %s", r.stderr)
	}
	fixture, err := os.ReadFile("../../internal/detect/live/testdata/eslogger/firewall-off.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, root, "fixture", fixture)
	hosttest.StandInScript(t, root, "/usr/bin/eslogger", esloggerStandIn)
	bans := &block.Store{Dir: macStateDir(root)}
	addBan := func(p string) {
		t.Helper()
		if _, _, err := bans.Edit(context.Background(), func(st *block.State) error {
			_, err := st.Ban(block.BanRequest{Prefix: netip.MustParsePrefix(p), Source: "guard", Reason: "ssh failures"}, block.Policy{}, time.Now())
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	addBan("203.0.113.7/32")

	cmd := exec.Command(fwBin, "--root", root, "agent", "run")
	cmd.Env = append(os.Environ(), "FIREWARDEN_ROOT=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		}
	}
	defer stop()
	waitFor := func(what string, ok func([]wire.Record) bool) []wire.Record {
		t.Helper()
		guard := time.After(livePatience) // a hang guard, not a speed check
		for {
			if recs := srv.sorted(); ok(recs) {
				return recs
			}
			select {
			case <-srv.reported:
			case <-guard:
				stop()
				t.Fatalf("the server never got %s; it holds %v; agent stderr:\n%s", what, srv.sorted(), stderr.String())
			}
		}
	}
	has := func(kind string, n int) func([]wire.Record) bool {
		return func(recs []wire.Record) bool {
			c := 0
			for _, r := range recs {
				if r.Kind == kind {
					c++
				}
			}
			return c >= n
		}
	}
	recs := waitFor("the alert", has(wire.KindAlert, 1))
	var alert *wire.Alert
	for _, r := range recs {
		if r.Alert != nil {
			alert = r.Alert
		}
	}
	if alert.Rule != "alf-global-off" || !strings.Contains(alert.CommandLine, "--setglobalstate off") {
		t.Errorf("alert forwarded = %+v, want alf-global-off with its command line", alert)
	}
	waitFor("the ban summary", has(wire.KindBans, 1))
	addBan("198.51.100.9/32")
	// The daemon looks at block.json every minute and after every cycle: a nudge runs a cycle.
	srv.nudges <- wire.Nudge{Kind: wire.NudgeCheckNow}
	recs = waitFor("the second ban summary", has(wire.KindBans, 2))
	stop()

	var last *wire.Bans
	var chained []*wire.ChainRef
	for _, r := range recs {
		if r.Bans != nil {
			last = r.Bans
		}
		if r.Chain != nil {
			chained = append(chained, r.Chain)
		}
	}
	if last.Active != 2 || last.Added != 1 || strings.Join(last.Top, " ") != "198.51.100.9/32 203.0.113.7/32" {
		t.Errorf("last ban summary = %+v, want 2 active, 1 added, both named", last)
	}
	for i := 1; i < len(chained); i++ {
		if chained[i].Seq != chained[i-1].Seq+1 || chained[i].Prev != chained[i-1].Hash {
			t.Errorf("chain entry %d does not follow entry %d", chained[i].Seq, chained[i-1].Seq)
		}
	}
	if len(chained) < 4 { // the run, the alert, two summaries
		t.Errorf("%d records carry chain entries, want at least 4", len(chained))
	}
	if r := firewarden(t, root, "evidence", "--verify"); r.code != 0 || !strings.Contains(r.stdout, "chain intact") {
		t.Errorf("evidence --verify: exit %d, %s", r.code, r.stdout)
	}
	r := firewarden(t, root, "agent", "status")
	for _, want := range []string{"1 alert(s) forwarded", "(alf-global-off)", "2 active, 1 new", "most banned: 198.51.100.9/32, 203.0.113.7/32"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("agent status lacks %q:\n%s", want, r.stdout)
		}
	}
}

// sorted returns the stored records in seq order.
func (s *fleetServer) sorted() []wire.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []wire.Record
	for _, r := range s.records {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

func hasKind(recs []wire.Record, kind string) bool {
	for _, r := range recs {
		if r.Kind == kind {
			return true
		}
	}
	return false
}
