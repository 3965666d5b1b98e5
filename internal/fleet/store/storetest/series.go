package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// ComplianceSeries is the suite's case of compliance series (part of Run), for a store to run
// again under other settings.
func ComplianceSeries(t *testing.T, s store.Store) { testComplianceSeries(t, s) }

// testComplianceSeries checks ComplianceSeries against ComplianceAt at every instant, on a
// fleet whose history crosses many hours: drifts and fixes (some within the hour before an
// instant that is not on the hour), a revocation, host and label exemptions (one revoked
// before it expires), two labels, a late enrollment and hosts gone stale.
func testComplianceSeries(t *testing.T, s store.Store) {
	ctx := context.Background()
	// The instants of the first series are at(7 + 197k): at(598), at(992), at(1189), at(1977), …
	//
	// h1 (mac):   alf and stealth pass at 10; alf fails at 590 and is fixed at 599 (598 falls
	//             between, in the same hour); alf fails at 1970 and passes at 3000.
	// h2 (mac):   alf fails, stealth passes at 10; exempted for alf from 100 to 1500.
	// h3 (linux): alf error at 10 (the linux exemption from 60 does not excuse it).
	// h4 (mac):   enrolled, never reported.
	// h5 (linux): enrolled at 1000; alf passes at 1100, fails at 2500 (excused by the label).
	// h6 (mac):   alf passes at 10, revoked at 1200.
	// h7 (mac):   10-minute interval; alf and stealth pass at 20, then silent: stale from 50.
	// h8 (linux): stealth passes at 20, fails at 1500 (exempted from 1600, the exemption
	//             revoked at 2200), then silent: stale from 1680.
	// h9 (mac):   alf fails at 30 under an exemption from 0, silent: stale and compliant.
	enroll(t, s, "h1", "u1", at(0), "mac")
	enroll(t, s, "h2", "u2", at(0), "mac")
	enroll(t, s, "h3", "u3", at(0), "linux")
	enroll(t, s, "h4", "u4", at(0), "mac")
	enroll(t, s, "h5", "u5", at(1000), "linux")
	enroll(t, s, "h6", "u6", at(0), "mac")
	enroll(t, s, "h7", "u7", at(0), "mac")
	enroll(t, s, "h8", "u8", at(0), "linux")
	enroll(t, s, "h9", "u9", at(0), "mac")
	touch(t, s, "h7", at(0), 10*time.Minute)
	ingest(t, s, "h1", batch(runRecord(1, at(10), "alf", wire.StatusPass, "1", "stealth", wire.StatusPass, "1")))
	ingest(t, s, "h2", batch(runRecord(1, at(10), "alf", wire.StatusFail, "0", "stealth", wire.StatusPass, "1")))
	ingest(t, s, "h3", batch(runRecord(1, at(10), "alf", wire.StatusError, "?")))
	ingest(t, s, "h6", batch(runRecord(1, at(10), "alf", wire.StatusPass, "1")))
	ingest(t, s, "h7", batch(runRecord(1, at(20), "alf", wire.StatusPass, "1", "stealth", wire.StatusPass, "1")))
	ingest(t, s, "h8", batch(runRecord(1, at(20), "stealth", wire.StatusPass, "1")))
	ingest(t, s, "h9", batch(runRecord(1, at(30), "alf", wire.StatusFail, "0")))
	ingest(t, s, "h1", batch(drift(2, at(590), "alf", wire.StatusPass, wire.StatusFail, "0", wire.CauseObserved, nil)))
	ingest(t, s, "h1", batch(drift(3, at(599), "alf", wire.StatusFail, wire.StatusPass, "1", wire.CauseFix, nil)))
	ingest(t, s, "h5", batch(runRecord(1, at(1100), "alf", wire.StatusPass, "1")))
	ingest(t, s, "h8", batch(runRecord(2, at(1500), "stealth", wire.StatusFail, "0")))
	ingest(t, s, "h1", batch(drift(4, at(1970), "alf", wire.StatusPass, wire.StatusFail, "0", wire.CauseObserved, nil)))
	ingest(t, s, "h5", batch(runRecord(2, at(2500), "alf", wire.StatusFail, "0")))
	ingest(t, s, "h1", batch(drift(5, at(3000), "alf", wire.StatusFail, wire.StatusPass, "1", wire.CauseObserved, nil)))
	if err := s.RevokeHost(ctx, "h6", "alice", at(1200)); err != nil {
		t.Fatal(err)
	}
	for _, e := range []store.Exemption{
		{ID: "ex-1", HostID: "h2", Check: "alf", Reason: "vendor VPN", CreatedAt: at(100), Expires: at(1500)},
		{ID: "ex-2", Label: "linux", Check: "alf", Reason: "no ALF on Linux", CreatedAt: at(60)},
		{ID: "ex-3", HostID: "h8", Check: "stealth", Reason: "lab", CreatedAt: at(1600), Expires: at(5000)},
		{ID: "ex-4", HostID: "h9", Check: "alf", Reason: "retired", CreatedAt: at(0)},
	} {
		e.ApprovedBy = "ciso"
		if err := s.AddExemption(ctx, e, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RevokeExemption(ctx, "ex-3", "alice", at(2200)); err != nil {
		t.Fatal(err)
	}
	// Requests: ex-5 is approved later, so it counts only from its approval; ex-6 stays pending
	// and excuses nothing.
	for _, e := range []store.Exemption{
		{ID: "ex-5", HostID: "h5", Check: "alf", Reason: "loaner", RequestedBy: "alice", CreatedAt: at(2400), Expires: at(9000)},
		{ID: "ex-6", HostID: "h1", Check: "alf", Reason: "pending", RequestedBy: "alice", CreatedAt: at(1800), Expires: at(9000)},
	} {
		if err := s.AddExemption(ctx, e, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ApproveExemption(ctx, "ex-5", "ciso", at(2800)); err != nil {
		t.Fatal(err)
	}

	for _, q := range []store.SeriesQuery{
		{From: at(7), To: at(3600), Step: 197 * time.Minute},
		{From: at(-60), To: at(3540), Step: 24 * time.Hour},
		{From: at(0), To: at(3600), Step: time.Hour},
		{From: at(599), To: at(599), Step: time.Hour},
		{From: at(10).Add(30 * time.Second), To: at(3600), Step: 7*time.Hour + 13*time.Second},
	} {
		for _, label := range []string{"", "mac", "linux", "windows"} {
			for _, check := range []string{"", "alf", "stealth", "firewall-logging"} {
				q := q
				q.Label, q.Check = label, check
				name := fmt.Sprintf("%s+%s label=%q check=%q", q.From.Sub(T0), q.Step, label, check)
				t.Run(name, func(t *testing.T) {
					var want []store.Compliance
					for at := q.From; !at.After(q.To); at = at.Add(q.Step) {
						c, err := s.ComplianceAt(ctx, at, label, check)
						if err != nil {
							t.Fatalf("ComplianceAt(%v, %q, %q) = %v", at, label, check, err)
						}
						if check == "" {
							c.PerCheck = nil
						}
						want = append(want, c)
					}
					got, err := s.ComplianceSeries(ctx, q)
					if err != nil {
						t.Fatalf("ComplianceSeries(%+v) = %v", q, err)
					}
					if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
						t.Errorf("ComplianceSeries(%+v) (-want +got):\n%s", q, diff)
					}
				})
			}
		}
	}

	// The answers above are only as good as ComplianceAt's: pin a few to known counts.
	got, err := s.ComplianceSeries(ctx, store.SeriesQuery{From: at(598), To: at(1390), Step: 396 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Compliance{
		// h1 between its drift and the fix; h3 in error; h4 without data; h2, h6, h7 and h9
		// silent since (h2 and h9 compliant for their exemptions): stale; h8 seen since.
		{At: at(598), Hosts: 8, Compliant: 1, NonCompliant: 2, NoData: 1, Stale: 4},
		{At: at(994), Hosts: 8, Compliant: 2, NonCompliant: 1, NoData: 1, Stale: 4},
		// h5 enrolled at 1000, passing from 1100; h6 revoked at 1200.
		{At: at(1390), Hosts: 8, Compliant: 3, NonCompliant: 1, NoData: 1, Stale: 3},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("ComplianceSeries(598…1390) (-want +got):\n%s", diff)
	}

	for _, q := range []store.SeriesQuery{
		{From: at(10), To: at(100), Step: 0},
		{From: at(100), To: at(10), Step: time.Hour},
	} {
		if got, err := s.ComplianceSeries(ctx, q); err == nil {
			t.Errorf("ComplianceSeries(%+v) = %d elements, want an error", q, len(got))
		}
	}
}
