package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// staleTests are the cases of stale hosts counted by the store (Host.StaleAt, the Stale host
// filter, Compliance.Stale) and of runs stored only when their results change (StoredRun).
var staleTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"StaleAt", testStaleAt},
	{"StaleFilter", testStaleFilter},
	{"ComplianceStale", testComplianceStale},
	{"RunRepeats", testRunRepeats},
	{"RunRepeatsAcrossDrift", testRunRepeatsAcrossDrift},
	{"RunRepeatsOutOfOrder", testRunRepeatsOutOfOrder},
	{"PruneByConfirmed", testPruneByConfirmed},
}

// touch calls TouchHost and fails the test on error.
func touch(t *testing.T, s store.Store, id string, when time.Time, interval time.Duration) {
	t.Helper()
	if err := s.TouchHost(context.Background(), id, when, interval); err != nil {
		t.Fatalf("TouchHost(%s, %v, %v) = %v", id, when, interval, err)
	}
}

func testStaleAt(t *testing.T, s store.Store) {
	ctx := context.Background()
	type seen struct {
		LastSeen, StaleAt time.Time
		Interval          time.Duration
	}
	get := func(t *testing.T) seen {
		t.Helper()
		h := mustHost(t, s, "h1")
		return seen{h.LastSeen, h.StaleAt, h.Interval}
	}
	enroll(t, s, "h1", "u1", at(0))
	if diff := cmp.Diff(seen{at(0), at(180), 0}, get(t)); diff != "" {
		t.Errorf("after EnrollHost: default interval of an hour (-want +got):\n%s", diff)
	}
	for _, tt := range []struct {
		name     string
		do       func(t *testing.T)
		want     seen
		wantHost func(t *testing.T) (store.Host, error) // the host as another lookup returns it
	}{
		{"config gives an interval", func(t *testing.T) { touch(t, s, "h1", at(10), 10*time.Minute) },
			seen{at(10), at(40), 10 * time.Minute}, nil},
		{"zero interval keeps it", func(t *testing.T) { touch(t, s, "h1", at(20), 0) },
			seen{at(20), at(50), 10 * time.Minute}, nil},
		{"never back", func(t *testing.T) { touch(t, s, "h1", at(5), 0) },
			seen{at(20), at(50), 10 * time.Minute}, nil},
		{"a new interval moves StaleAt even from an old request", func(t *testing.T) { touch(t, s, "h1", at(15), 20*time.Minute) },
			seen{at(20), at(80), 20 * time.Minute}, nil},
		{"ingest moves it", func(t *testing.T) { ingest(t, s, "h1", batch(runRecord(1, at(30), "fw", wire.StatusPass, "1"))) },
			seen{at(30), at(90), 20 * time.Minute}, nil},
		{"re-enrollment keeps the interval", func(t *testing.T) { enroll(t, s, "h1", "u1", at(40)) },
			seen{at(40), at(100), 20 * time.Minute},
			func(t *testing.T) (store.Host, error) { return s.HostByCredential(ctx, Hash("cred-u1")) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.do(t)
			if diff := cmp.Diff(tt.want, get(t)); diff != "" {
				t.Errorf("Host (-want +got):\n%s", diff)
			}
			hs, err := s.Hosts(ctx, store.HostFilter{})
			if err != nil || len(hs) != 1 {
				t.Fatalf("Hosts() = %d hosts, %v; want 1", len(hs), err)
			}
			if diff := cmp.Diff(tt.want, seen{hs[0].LastSeen, hs[0].StaleAt, hs[0].Interval}); diff != "" {
				t.Errorf("Hosts() (-want +got):\n%s", diff)
			}
			if tt.wantHost != nil {
				h, err := tt.wantHost(t)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, seen{h.LastSeen, h.StaleAt, h.Interval}); diff != "" {
					t.Errorf("HostByCredential (-want +got):\n%s", diff)
				}
			}
		})
	}
	if err := s.TouchHost(ctx, "h404", at(1), time.Minute); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TouchHost(unknown) = %v, want ErrNotFound", err)
	}
}

func testStaleFilter(t *testing.T, s store.Store) {
	ctx := context.Background()
	enroll(t, s, "h1", "u1", at(0))
	enroll(t, s, "h2", "u2", at(0))
	enroll(t, s, "h3", "u3", at(0))
	touch(t, s, "h1", at(10), 10*time.Minute) // stale from 40
	touch(t, s, "h2", at(30), 10*time.Minute) // stale from 60
	//                                           h3: stale from 180 (default interval)
	yes, no := true, false
	for _, tt := range []struct {
		name string
		f    store.HostFilter
		want []string
	}{
		{"none yet", store.HostFilter{Stale: &yes, Now: at(39)}, nil},
		{"from StaleAt on", store.HostFilter{Stale: &yes, Now: at(40)}, []string{"h1"}},
		{"not stale", store.HostFilter{Stale: &no, Now: at(40)}, []string{"h2", "h3"}},
		{"two", store.HostFilter{Stale: &yes, Now: at(179)}, []string{"h1", "h2"}},
		{"all", store.HostFilter{Stale: &yes, Now: at(180)}, []string{"h1", "h2", "h3"}},
		{"paged", store.HostFilter{Stale: &yes, Now: at(180), After: "h1", Limit: 1}, []string{"h2"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hs, err := s.Hosts(ctx, tt.f)
			if err != nil {
				t.Fatalf("Hosts(%+v) = %v", tt.f, err)
			}
			var got []string
			for _, h := range hs {
				got = append(got, h.ID)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Hosts(%+v) (-want +got):\n%s", tt.f, diff)
			}
		})
	}
}

func testComplianceStale(t *testing.T, s store.Store) {
	ctx := context.Background()
	// Every host is on a 10-minute interval, so stale 30 minutes after it was last seen.
	// h1 (mac):   alf and stealth pass at 10, seen at 35, reports the same at 100: never stale.
	// h2 (mac):   alf and stealth pass at 10, silent since: stale from 40, compliant.
	// h3 (mac):   alf fail, stealth pass at 10, silent: stale, non-compliant.
	// h4 (mac):   enrolled at 0, never reported: stale, no data.
	// h5 (linux): alf fail at 10 under a label exemption, silent: stale, compliant.
	// h6 (mac):   alf pass at 10, revoked at 20: not counted.
	for _, h := range []struct {
		id, label string
	}{{"h1", "mac"}, {"h2", "mac"}, {"h3", "mac"}, {"h4", "mac"}, {"h5", "linux"}, {"h6", "mac"}} {
		enroll(t, s, h.id, "u"+h.id, at(0), h.label)
		touch(t, s, h.id, at(0), 10*time.Minute)
	}
	ingest(t, s, "h1", batch(runRecord(1, at(10), "alf", wire.StatusPass, "1", "stealth", wire.StatusPass, "1")))
	ingest(t, s, "h2", batch(runRecord(1, at(10), "alf", wire.StatusPass, "1", "stealth", wire.StatusPass, "1")))
	ingest(t, s, "h3", batch(runRecord(1, at(10), "alf", wire.StatusFail, "0", "stealth", wire.StatusPass, "1")))
	ingest(t, s, "h5", batch(runRecord(1, at(10), "alf", wire.StatusFail, "0")))
	ingest(t, s, "h6", batch(runRecord(1, at(10), "alf", wire.StatusPass, "1")))
	touch(t, s, "h1", at(35), 0)
	ingest(t, s, "h1", batch(runRecord(2, at(100), "alf", wire.StatusPass, "1", "stealth", wire.StatusPass, "1")))
	if err := s.RevokeHost(ctx, "h6", "alice", at(20)); err != nil {
		t.Fatal(err)
	}
	if err := s.AddExemption(ctx, store.Exemption{ID: "ex-1", Label: "linux", Check: "alf", Reason: "no ALF on Linux",
		ApprovedBy: "ciso", CreatedAt: at(0)}, "alice"); err != nil {
		t.Fatal(err)
	}

	type cc = store.CheckCount
	for _, tt := range []struct {
		name         string
		at           time.Time
		label, check string
		want         store.Compliance
	}{
		{"none stale yet", at(30), "", "", store.Compliance{Hosts: 5, Compliant: 3, NonCompliant: 1, NoData: 1,
			PerCheck: map[string]cc{"alf": {Pass: 2, Fail: 1, Exempt: 1}, "stealth": {Pass: 3}}}},
		{"now", at(110), "", "", store.Compliance{Hosts: 5, Compliant: 1, Stale: 2, NonCompliant: 1, NoData: 1,
			PerCheck: map[string]cc{"alf": {Pass: 2, Fail: 1, Exempt: 1}, "stealth": {Pass: 3}}}},
		{"now, label", at(110), "mac", "", store.Compliance{Hosts: 4, Compliant: 1, Stale: 1, NonCompliant: 1, NoData: 1,
			PerCheck: map[string]cc{"alf": {Pass: 2, Fail: 1}, "stealth": {Pass: 3}}}},
		{"now, check", at(110), "", "stealth", store.Compliance{Hosts: 5, Compliant: 1, Stale: 2, NoData: 2,
			PerCheck: map[string]cc{"stealth": {Pass: 3}}}},
		{"now, label and check", at(110), "mac", "alf", store.Compliance{Hosts: 4, Compliant: 1, Stale: 1, NonCompliant: 1, NoData: 1,
			PerCheck: map[string]cc{"alf": {Pass: 2, Fail: 1}}}},
		{"now, exempted failure on a stale host", at(110), "linux", "alf", store.Compliance{Hosts: 1, Stale: 1,
			PerCheck: map[string]cc{"alf": {Exempt: 1}}}},
		{"past instant, hosts not seen since", at(45), "", "", store.Compliance{Hosts: 5, Compliant: 1, Stale: 2, NonCompliant: 1, NoData: 1,
			PerCheck: map[string]cc{"alf": {Pass: 2, Fail: 1, Exempt: 1}, "stealth": {Pass: 3}}}},
		{"at StaleAt", at(40), "mac", "", store.Compliance{Hosts: 4, Compliant: 1, Stale: 1, NonCompliant: 1, NoData: 1,
			PerCheck: map[string]cc{"alf": {Pass: 2, Fail: 1}, "stealth": {Pass: 3}}}},
		{"just before StaleAt", at(40).Add(-time.Millisecond), "mac", "", store.Compliance{Hosts: 4, Compliant: 2, NonCompliant: 1, NoData: 1,
			PerCheck: map[string]cc{"alf": {Pass: 2, Fail: 1}, "stealth": {Pass: 3}}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ComplianceAt(ctx, tt.at, tt.label, tt.check)
			if err != nil {
				t.Fatalf("ComplianceAt(%v, %q, %q) = %v", tt.at, tt.label, tt.check, err)
			}
			tt.want.At = tt.at
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ComplianceAt(%v, %q, %q) (-want +got):\n%s", tt.at, tt.label, tt.check, diff)
			}
		})
	}
}

// latestRun is the host's latest stored run, without its results (compared separately).
type latestRun struct {
	RunID, LastRunID, Policy, Mode, Baseline string
	Seq                                      uint64
	Finished, Confirmed                      time.Time
	Repeats                                  int
}

func getLatestRun(t *testing.T, s store.Store, host string) (latestRun, store.StoredRun) {
	t.Helper()
	r, err := s.LatestRun(context.Background(), host)
	if err != nil {
		t.Fatalf("LatestRun(%s) = %v", host, err)
	}
	return latestRun{r.RunID, r.LastRunID, r.Policy, r.Mode, r.BaselineSHA256, r.Seq, r.Finished, r.Confirmed, r.Repeats}, r
}

func testRunRepeats(t *testing.T, s store.Store) {
	ctx := context.Background()
	enroll(t, s, "h1", "u1", at(0))
	if _, err := s.LatestRun(ctx, "h1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LatestRun(no run yet) = %v, want ErrNotFound", err)
	}
	base := func(seq uint64) wire.Record {
		return runRecord(seq, at(int(seq)*10), "alf", wire.StatusPass, "1", "stealth", wire.StatusFail, "0")
	}
	first := base(1)
	first.Run.Results[0].Evidence = []wire.Evidence{{Kind: "exec", Argv: []string{"socketfilterfw", "--getglobalstate"}, Output: "enabled"}}
	for _, tt := range []struct {
		name string
		rec  wire.Record
		want store.IngestResult
		run  latestRun
	}{
		{"first run stored", first, store.IngestResult{Acked: 1, Stored: 1, Transitions: 2},
			latestRun{"run-1", "run-1", "default", "report", "ab12", 1, at(10), at(10), 0}},
		{"same results", base(2), store.IngestResult{Acked: 2, Stored: 1, Repeats: 1},
			latestRun{"run-1", "run-2", "default", "report", "ab12", 1, at(10), at(20), 1}},
		{"retry of a seq is a duplicate, not a repeat", base(2), store.IngestResult{Acked: 2, Duplicates: 1},
			latestRun{"run-1", "run-2", "default", "report", "ab12", 1, at(10), at(20), 1}},
		{"order, source, controls and evidence are not compared", func() wire.Record {
			r := base(3)
			r.Run.Results[0], r.Run.Results[1] = r.Run.Results[1], r.Run.Results[0]
			r.Run.Results[0].Source, r.Run.Results[0].Controls, r.Run.Results[0].Detail = "pfctl", []string{"CIS 2.5.2"}, "x"
			r.Run.Results[1].Evidence = []wire.Evidence{{Kind: "file", Path: "/x", Output: "other"}}
			r.Run.BaselineName = "renamed"
			return r
		}(), store.IngestResult{Acked: 3, Stored: 1, Repeats: 1},
			latestRun{"run-1", "run-3", "default", "report", "ab12", 1, at(10), at(30), 2}},
		{"another actual value is a change", func() wire.Record {
			r := base(4)
			r.Run.Results[1].Actual = "2"
			return r
		}(), store.IngestResult{Acked: 4, Stored: 1},
			latestRun{"run-4", "run-4", "default", "report", "ab12", 4, at(40), at(40), 0}},
		{"results seen before but not the latest", base(5), store.IngestResult{Acked: 5, Stored: 1},
			latestRun{"run-5", "run-5", "default", "report", "ab12", 5, at(50), at(50), 0}},
		{"another mode", func() wire.Record {
			r := base(6)
			r.Run.Mode = wire.ModeEnforce
			return r
		}(), store.IngestResult{Acked: 6, Stored: 1},
			latestRun{"run-6", "run-6", "default", "enforce", "ab12", 6, at(60), at(60), 0}},
		{"another baseline", func() wire.Record {
			r := base(7)
			r.Run.Mode, r.Run.BaselineSHA256 = wire.ModeEnforce, "cd34"
			return r
		}(), store.IngestResult{Acked: 7, Stored: 1},
			latestRun{"run-7", "run-7", "default", "enforce", "cd34", 7, at(70), at(70), 0}},
		{"another policy", func() wire.Record {
			r := base(8)
			r.Run.Mode, r.Run.BaselineSHA256, r.Run.Policy = wire.ModeEnforce, "cd34", "laptops"
			return r
		}(), store.IngestResult{Acked: 8, Stored: 1},
			latestRun{"run-8", "run-8", "laptops", "enforce", "cd34", 8, at(80), at(80), 0}},
		{"another expected value", func() wire.Record {
			r := base(9)
			r.Run.Mode, r.Run.BaselineSHA256, r.Run.Policy = wire.ModeEnforce, "cd34", "laptops"
			r.Run.Results[0].Expected = "2"
			return r
		}(), store.IngestResult{Acked: 9, Stored: 1},
			latestRun{"run-9", "run-9", "laptops", "enforce", "cd34", 9, at(90), at(90), 0}},
		{"a check more", func() wire.Record {
			r := base(10)
			r.Run.Mode, r.Run.BaselineSHA256, r.Run.Policy = wire.ModeEnforce, "cd34", "laptops"
			r.Run.Results[0].Expected = "2"
			r.Run.Results = append(r.Run.Results, wire.Result{Check: "logging", Status: wire.StatusPass, Actual: "1", Expected: "1"})
			return r
		}(), store.IngestResult{Acked: 10, Stored: 1, Transitions: 1},
			latestRun{"run-10", "run-10", "laptops", "enforce", "cd34", 10, at(100), at(100), 0}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := ingest(t, s, "h1", batch(tt.rec))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Ingest(seq %d) (-want +got):\n%s", tt.rec.Seq, diff)
			}
			run, _ := getLatestRun(t, s, "h1")
			if diff := cmp.Diff(tt.run, run); diff != "" {
				t.Errorf("LatestRun (-want +got):\n%s", diff)
			}
		})
	}
	// The stored run keeps the first run's results and evidence.
	_, r := getLatestRun(t, s, "h1")
	if r.RunID == "run-1" {
		t.Fatal("the table above did not move past run-1")
	}
	if n, err := s.Prune(ctx, at(25)); err != nil || n != 0 {
		t.Errorf("Prune(before run-1's repeats end) = %d, %v; want 0", n, err)
	}
	// run-1 (with 2 repeats), run-4 … run-10: 8 stored runs for 10 records.
	if n, err := s.Prune(ctx, at(1000)); err != nil || n != 8 {
		t.Errorf("Prune(all) = %d, %v; want 8 stored runs", n, err)
	}
}

func testRunRepeatsAcrossDrift(t *testing.T, s store.Store) {
	enroll(t, s, "h1", "u1", at(0))
	first := runRecord(1, at(10), "alf", wire.StatusPass, "1")
	first.Run.Results[0].Evidence = []wire.Evidence{{Kind: "exec", Argv: []string{"socketfilterfw", "--getglobalstate"}, Output: "enabled"}}
	ingest(t, s, "h1", batch(first))
	ingest(t, s, "h1", batch(drift(2, at(15), "alf", wire.StatusPass, wire.StatusFail, "0", wire.CauseObserved, nil)))
	// The next run sees the setting back: its results equal the stored run's, so it is a
	// repeat, and it still makes the transition back to pass.
	res := ingest(t, s, "h1", batch(runRecord(3, at(20), "alf", wire.StatusPass, "1")))
	if diff := cmp.Diff(store.IngestResult{Acked: 3, Stored: 1, Repeats: 1, Transitions: 1}, res); diff != "" {
		t.Errorf("Ingest(run after drift) (-want +got):\n%s", diff)
	}
	type tr struct{ From, To, RunID string }
	var got []tr
	for _, x := range transitions(t, s, "h1", "alf") {
		got = append(got, tr{x.From, x.To, x.RunID})
	}
	want := []tr{{"", wire.StatusPass, "run-1"}, {wire.StatusPass, wire.StatusFail, "run-2"}, {wire.StatusFail, wire.StatusPass, "run-3"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Transitions (-want +got):\n%s", diff)
	}
	cur, err := s.CurrentResults(context.Background(), "h1")
	if err != nil || len(cur) != 1 || cur[0].Status != wire.StatusPass || cur[0].RunID != "run-3" || !cur[0].Since.Equal(at(20)) {
		t.Errorf("CurrentResults = %+v, %v; want alf pass since %v from run-3", cur, err, at(20))
	}
	run, r := getLatestRun(t, s, "h1")
	if diff := cmp.Diff(latestRun{"run-1", "run-3", "default", "report", "ab12", 1, at(10), at(20), 1}, run); diff != "" {
		t.Errorf("LatestRun (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(first.Run.Results, r.Results); diff != "" {
		t.Errorf("LatestRun results: the first run's evidence (-want +got):\n%s", diff)
	}
}

func testRunRepeatsOutOfOrder(t *testing.T, s store.Store) {
	enroll(t, s, "h1", "u1", at(0))
	rec := func(seq uint64) wire.Record { return runRecord(seq, at(int(seq)*10), "alf", wire.StatusPass, "1") }
	for _, tt := range []struct {
		name string
		b    wire.ReportBatch
		want store.IngestResult
		run  latestRun
	}{
		{"first", batch(rec(1)), store.IngestResult{Acked: 1, Stored: 1, Transitions: 1},
			latestRun{"run-1", "run-1", "default", "report", "ab12", 1, at(10), at(10), 0}},
		{"above a gap", batch(rec(3)), store.IngestResult{Acked: 1, Stored: 1, Repeats: 1},
			latestRun{"run-1", "run-3", "default", "report", "ab12", 1, at(10), at(30), 1}},
		{"gap filled: older than the newest repeat", batch(rec(2), rec(3)), store.IngestResult{Acked: 3, Stored: 1, Repeats: 1, Duplicates: 1},
			latestRun{"run-1", "run-3", "default", "report", "ab12", 1, at(10), at(30), 2}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := ingest(t, s, "h1", tt.b)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Ingest(seqs %v) (-want +got):\n%s", seqs(tt.b), diff)
			}
			run, _ := getLatestRun(t, s, "h1")
			if diff := cmp.Diff(tt.run, run); diff != "" {
				t.Errorf("LatestRun (-want +got):\n%s", diff)
			}
		})
	}
}

func testPruneByConfirmed(t *testing.T, s store.Store) {
	ctx := context.Background()
	enroll(t, s, "h1", "u1", at(0))
	enroll(t, s, "h2", "u2", at(0))
	// h1 reports the same results every 10 minutes for 100 minutes; h2 once at 10.
	for q := uint64(1); q <= 10; q++ {
		ingest(t, s, "h1", batch(runRecord(q, at(int(q)*10), "alf", wire.StatusPass, "1")))
	}
	ingest(t, s, "h2", batch(runRecord(1, at(10), "alf", wire.StatusPass, "1")))
	for _, tt := range []struct {
		before time.Time
		want   int
	}{
		{at(50), 1},  // h2's run; h1's first run finished at 10 but is confirmed until 100
		{at(100), 0}, // strictly before
		{at(101), 1},
	} {
		n, err := s.Prune(ctx, tt.before)
		if err != nil || n != tt.want {
			t.Errorf("Prune(%v) = %d, %v; want %d", tt.before, n, err, tt.want)
		}
	}
	if _, err := s.LatestRun(ctx, "h1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LatestRun(after Prune) = %v, want ErrNotFound", err)
	}
	// After the stored run is pruned, the next run is stored again.
	res := ingest(t, s, "h1", batch(runRecord(11, at(110), "alf", wire.StatusPass, "1")))
	if res.Stored != 1 || res.Repeats != 0 {
		t.Errorf("Ingest(after Prune) = %+v, want stored, not a repeat", res)
	}
	if run, _ := getLatestRun(t, s, "h1"); run.RunID != "run-11" {
		t.Errorf("LatestRun(after Prune).RunID = %q, want run-11", run.RunID)
	}
}
