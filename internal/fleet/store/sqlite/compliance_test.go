package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// TestComplianceCountsMatchScan checks the answer kept as hourly counts (for the fleet and per
// label) against the host-by-host answer, on a random fleet (enrollments over time, runs, drifts
// fixed in the same record or later, re-enrollments that change labels, stale hosts,
// revocations, host and label exemptions), at random instants and at hour boundaries.
func TestComplianceCountsMatchScan(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	rng := rand.New(rand.NewPCG(7, 11))
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	checks := []string{"a", "b", "c", "d"}
	statuses := []string{wire.StatusPass, wire.StatusPass, wire.StatusPass, wire.StatusFail, wire.StatusError, wire.StatusManaged, wire.StatusNotApplicable}
	const hosts = 40
	horizon := 48 * time.Hour
	for h := range hosts {
		id := fmt.Sprintf("h%02d", h)
		enrolled := t0.Add(time.Duration(rng.Int64N(int64(horizon / 2))))
		label := []string{"mac", "linux", "kiosk"}[h%3]
		if _, err := s.EnrollHost(ctx, store.Host{ID: id, UUID: "u" + id, Labels: []string{label}, EnrolledAt: enrolled}, []byte(id)); err != nil {
			t.Fatal(err)
		}
		when := enrolled
		var seq uint64
		for when.Before(t0.Add(horizon)) {
			when = when.Add(time.Duration(rng.Int64N(int64(3 * time.Hour))))
			seq++
			var r wire.Record
			if seq == 1 || rng.IntN(3) == 0 {
				run := &wire.Run{RunID: fmt.Sprint("r", seq)}
				for _, c := range checks {
					if seq > 1 && rng.IntN(2) == 0 {
						continue // not every run reports every check
					}
					run.Results = append(run.Results, wire.Result{Check: c, Status: statuses[rng.IntN(len(statuses))], Actual: "x"})
				}
				if len(run.Results) == 0 {
					run.Results = append(run.Results, wire.Result{Check: "a", Status: wire.StatusPass})
				}
				r = wire.Record{Seq: seq, Kind: wire.KindRun, Time: when, Run: run}
			} else {
				d := &wire.Drift{Check: checks[rng.IntN(len(checks))], From: wire.StatusPass, To: wire.StatusFail, Cause: wire.CauseObserved}
				switch rng.IntN(3) {
				case 0:
					d.Fix = &wire.FixResult{Changed: true, Verified: true, Status: wire.StatusPass}
				case 1:
					d.From, d.To, d.Cause = wire.StatusFail, wire.StatusPass, wire.CauseFix
				}
				r = wire.Record{Seq: seq, Kind: wire.KindDrift, Time: when, Drift: d}
			}
			now := when
			if h%5 == 4 {
				// The agent's clock runs four hours ahead of the server's: the host goes stale
				// (by the server's clock) before its last change (by the agent's).
				now = when.Add(-4 * time.Hour)
			}
			if _, err := s.Ingest(ctx, id, wire.ReportBatch{Records: []wire.Record{r}}, now); err != nil {
				t.Fatal(err)
			}
		}
		if h%4 == 2 {
			// Re-enrolled with other labels: its history moves to them.
			labels := [][]string{{"linux"}, {"mac", "kiosk"}, {}}[h%3]
			if _, err := s.EnrollHost(ctx, store.Host{ID: id, UUID: "u" + id, Labels: labels, EnrolledAt: when}, []byte(id+"again")); err != nil {
				t.Fatal(err)
			}
		}
		if h%6 == 1 {
			// On a short interval: stale from 30 minutes after it was last seen.
			if err := s.TouchHost(ctx, id, when, 10*time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		if h%7 == 3 {
			if err := s.RevokeHost(ctx, id, "t", t0.Add(time.Duration(rng.Int64N(int64(horizon))))); err != nil {
				t.Fatal(err)
			}
		}
		if h%5 == 1 {
			e := store.Exemption{ID: "e" + id, HostID: id, Check: checks[rng.IntN(len(checks))], CreatedAt: t0.Add(time.Duration(rng.Int64N(int64(horizon))))}
			if rng.IntN(2) == 0 {
				e.Expires = e.CreatedAt.Add(10 * time.Hour)
			}
			// Most are added approved; the others are requested and approved hours later
			// (or, past their expiry, never): a request excuses nothing until its approval.
			pending := rng.IntN(3) == 0
			if !pending {
				e.ApprovedBy = "t"
			}
			if err := s.AddExemption(ctx, e, "t"); err != nil {
				t.Fatal(err)
			}
			if approve := e.CreatedAt.Add(time.Duration(rng.IntN(12)) * time.Hour); pending && (e.Expires.IsZero() || approve.Before(e.Expires)) {
				if err := s.ApproveExemption(ctx, e.ID, "u", approve); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := s.AddExemption(ctx, store.Exemption{ID: "kiosks", Label: "kiosk", Check: "b", ApprovedBy: "t", CreatedAt: t0.Add(20 * time.Hour)}, "t"); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeExemption(ctx, "kiosks", "t", t0.Add(30*time.Hour)); err != nil {
		t.Fatal(err)
	}

	var instants []time.Time
	for i := range 60 {
		instants = append(instants, t0.Add(time.Duration(rng.Int64N(int64(horizon+6*time.Hour)))), t0.Add(time.Duration(i)*time.Hour))
	}
	trs, err := s.Transitions(ctx, "", "", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(trs); i += 7 {
		instants = append(instants, trs[i].Time, trs[i].Time.Add(-time.Nanosecond))
	}
	for _, at := range instants {
		for _, label := range []string{"", "mac", "linux", "kiosk", "none"} {
			for _, chk := range append([]string{""}, checks...) {
				want, err := s.complianceScan(ctx, at, label, chk)
				if err != nil {
					t.Fatal(err)
				}
				got, err := s.complianceCounts(ctx, at, label, chk)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("complianceCounts(%v, %q, %q) differs from complianceScan (-scan +counts):\n%s", at, label, chk, diff)
				}
			}
		}
	}
}
