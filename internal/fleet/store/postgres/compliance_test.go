package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/firewarden/firewarden/internal/fleet/pgtest"
	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// referenceCompliance answers ComplianceAt the slow, obvious way, from every host and its
// transitions: the definition the counts must match. A compliant host whose StaleAt (as it is
// now) is at or before the instant counts as stale.
func referenceCompliance(t *testing.T, s *Store, at time.Time, label, check string) store.Compliance {
	t.Helper()
	ctx := context.Background()
	c := store.Compliance{At: at, PerCheck: map[string]store.CheckCount{}}
	if check != "" {
		c.PerCheck[check] = store.CheckCount{}
	}
	hosts, err := s.Hosts(ctx, store.HostFilter{})
	if err != nil {
		t.Fatal(err)
	}
	exs, err := s.Exemptions(ctx, at)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		if h.EnrolledAt.After(at) || !h.RevokedAt.IsZero() && !h.RevokedAt.After(at) || label != "" && !slices.Contains(h.Labels, label) {
			continue
		}
		c.Hosts++
		ts, err := s.Transitions(ctx, h.ID, check, time.Time{}, at)
		if err != nil {
			t.Fatal(err)
		}
		status := map[string]string{}
		for _, tr := range ts {
			status[tr.Check] = tr.To
		}
		if len(status) == 0 {
			c.NoData++
			continue
		}
		ok := true
		for chk, st := range status {
			if st == wire.StatusFail && slices.ContainsFunc(exs, func(e store.Exemption) bool {
				return e.Check == chk && (e.HostID == h.ID || e.Label != "" && slices.Contains(h.Labels, e.Label))
			}) {
				st = wire.StatusExempt
			}
			ok = ok && wire.Compliant(st)
			cc := c.PerCheck[chk]
			switch st {
			case wire.StatusPass:
				cc.Pass++
			case wire.StatusFail:
				cc.Fail++
			case wire.StatusError:
				cc.Error++
			case wire.StatusExempt:
				cc.Exempt++
			case wire.StatusManaged:
				cc.Managed++
			case wire.StatusNotApplicable:
				cc.NotApplicable++
			}
			c.PerCheck[chk] = cc
		}
		switch {
		case ok && !h.StaleAt.After(at):
			c.Stale++
		case ok:
			c.Compliant++
		default:
			c.NonCompliant++
		}
	}
	return c
}

// TestComplianceAtMatchesReference drives a small fleet at random over several hours (runs,
// drifts with fixes, late records, revocations, re-enrollments with other labels, host and
// label exemptions, policy intervals making hosts stale, Prune folding the deltas midway) and checks that the counts ComplianceAt
// sums from deltas equal the reference's at many instants, for the fleet, each label and each
// check.
func TestComplianceAtMatchesReference(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(13, 5))
	labelSets := [][]string{{"mac"}, {"linux"}, {"mac", "lab"}, nil, {"lab"}}
	checks := []string{"alf", "stealth", "sip"}
	statuses := []string{wire.StatusPass, wire.StatusPass, wire.StatusPass, wire.StatusFail, wire.StatusError, wire.StatusManaged, wire.StatusNotApplicable}
	const nhosts = 12
	seq := make([]uint64, nhosts)
	id := func(h int) string { return fmt.Sprintf("h%02d", h) }
	reenroll := func(h int, at time.Time) {
		if _, err := s.EnrollHost(ctx, store.Host{ID: id(h), UUID: "uuid-" + id(h), Hostname: id(h), OS: "macOS",
			Labels: labelSets[rng.IntN(len(labelSets))], EnrolledAt: at}, hash(fmt.Sprint("cred", h, at))); err != nil {
			t.Fatal(err)
		}
		seq[h] = 0
	}
	for h := range nhosts {
		reenroll(h, t0.Add(time.Duration(h)*7*time.Minute))
	}
	var instants []time.Time
	end := t0.Add(5 * time.Hour)
	for at := t0.Add(3 * time.Minute); at.Before(end); at = at.Add(time.Duration(1+rng.IntN(9)) * time.Minute) {
		h := rng.IntN(nhosts)
		host, err := s.Host(ctx, id(h))
		if err != nil {
			t.Fatal(err)
		}
		if host.EnrolledAt.After(at) {
			continue
		}
		instants = append(instants, at, at.Add(-time.Second))
		switch k := rng.IntN(20); {
		case k == 0:
			if err := s.RevokeHost(ctx, id(h), "alice", at); err != nil {
				t.Fatal(err)
			}
		case k == 1:
			reenroll(h, at)
		case k == 2:
			e := store.Exemption{ID: fmt.Sprint("ex", at.Unix()), Check: checks[rng.IntN(len(checks))], Reason: "r",
				ApprovedBy: "ciso", CreatedAt: at, Expires: at.Add(time.Duration(rng.IntN(120)) * time.Minute)}
			if rng.IntN(2) == 0 {
				e.HostID = id(h)
			} else {
				e.Label = []string{"mac", "linux", "lab"}[rng.IntN(3)]
			}
			// A third are requested instead and approved up to an hour later: they excuse
			// nothing before their approval, which the instants around it check.
			pending := rng.IntN(3) == 0
			if pending {
				e.ApprovedBy = ""
			}
			if err := s.AddExemption(ctx, e, "alice"); err != nil {
				t.Fatal(err)
			}
			if approve := at.Add(time.Duration(rng.IntN(60)) * time.Minute); pending && approve.Before(e.Expires) {
				if err := s.ApproveExemption(ctx, e.ID, "bob", approve); err != nil {
					t.Fatal(err)
				}
				instants = append(instants, approve, approve.Add(-time.Second))
			}
		case k == 3:
			if _, err := s.Prune(ctx, t0); err != nil {
				t.Fatal(err)
			}
		case k == 4:
			if err := s.TouchHost(ctx, id(h), at, time.Duration(rng.IntN(3))*20*time.Minute); err != nil {
				t.Fatal(err)
			}
		case !host.RevokedAt.IsZero():
		case k < 12:
			seq[h]++
			r := &wire.Run{RunID: fmt.Sprint("run-", h, "-", seq[h]), Policy: "default", Mode: wire.ModeReport, Started: at, Finished: at}
			for _, c := range checks[:1+rng.IntN(len(checks))] {
				st := statuses[rng.IntN(len(statuses))]
				r.Results = append(r.Results, wire.Result{Check: c, Status: st, Actual: st, Expected: "1"})
			}
			rt := at
			if rng.IntN(8) == 0 {
				rt = at.Add(-20 * time.Minute) // late: stored, changes nothing
			}
			if _, err := s.Ingest(ctx, id(h), batch(wire.Record{Seq: seq[h], Kind: wire.KindRun, Time: rt, Run: r}), at); err != nil {
				t.Fatal(err)
			}
		default:
			seq[h]++
			d := &wire.Drift{Check: checks[rng.IntN(len(checks))], RunID: fmt.Sprint("drift-", h, "-", seq[h]),
				From: wire.StatusPass, To: wire.StatusFail, Actual: "0", Cause: wire.CauseObserved}
			if rng.IntN(2) == 0 {
				d.Fix = &wire.FixResult{Changed: true, Verified: true, Status: wire.StatusPass, Actual: "1"}
			}
			if _, err := s.Ingest(ctx, id(h), batch(wire.Record{Seq: seq[h], Kind: wire.KindDrift, Time: at, Drift: d}), at); err != nil {
				t.Fatal(err)
			}
		}
	}
	instants = append(instants, t0, t0.Add(time.Hour), t0.Add(2*time.Hour), end)
	for i, at := range instants {
		if i%3 != 0 && i < len(instants)-4 {
			continue // a third of them is enough to cover every case and keeps the test short
		}
		for _, label := range []string{"", "mac", "linux", "lab", "none"} {
			for _, check := range []string{"", "alf", "sip", "nothing"} {
				want := referenceCompliance(t, s, at, label, check)
				got, err := s.ComplianceAt(ctx, at, label, check)
				if err != nil {
					t.Fatalf("ComplianceAt(%v, %q, %q) = %v", at, label, check, err)
				}
				if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("ComplianceAt(%v, %q, %q) (-reference +got):\n%s", at, label, check, diff)
				}
			}
		}
	}
}

// TestMigrationCountsHistory upgrades a version 3 database holding history (written as
// version 3 wrote it: transitions and current rows, no deltas) and checks that the counts the
// migration derives give the reference's answers.
func TestMigrationCountsHistory(t *testing.T) {
	url := pgtest.Start(t)
	ctx := context.Background()
	old, err := openAt(ctx, url, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO hosts (id, uuid, cred_hash, hostname, os, os_version, agent_version, labels, enrolled_at, last_seen) VALUES
			('h0', 'u0', '\x00', '', '', '', '', '{mac}', $1, $1), ('h1', 'u1', '\x01', '', '', '', '', '{linux}', $1, $1),
			('h2', 'u2', '\x02', '', '', '', '', '{mac,lab}', $1, $1), ('h3', 'u3', '\x03', '', '', '', '', '{}', $1, $1)`,
		// h0: alf pass, fail at +70 min, pass at +150; stealth error then pass at +20.
		// h1: alf fail from the start. h2: alf pass, then managed at +61. h3: nothing.
		`INSERT INTO transitions (host_id, check_id, time, from_status, to_status, actual, run_id, cause, seq) VALUES
			('h0', 'alf', $1, '', 'pass', '1', 'r1', 'observed', 1),
			('h0', 'stealth', $1, '', 'error', '?', 'r1', 'observed', 1),
			('h0', 'stealth', $1::timestamptz + interval '20 minutes', 'error', 'pass', '1', 'r2', 'observed', 2),
			('h0', 'alf', $1::timestamptz + interval '70 minutes', 'pass', 'fail', '0', 'r3', 'observed', 3),
			('h0', 'alf', $1::timestamptz + interval '150 minutes', 'fail', 'pass', '1', 'r4', 'fix', 4),
			('h1', 'alf', $1, '', 'fail', '0', 'r1', 'observed', 1),
			('h2', 'alf', $1, '', 'pass', '1', 'r1', 'observed', 1),
			('h2', 'alf', $1::timestamptz + interval '61 minutes', 'pass', 'managed', '1', 'r2', 'observed', 2)`,
		`INSERT INTO current (host_id, check_id, status, actual, expected, since, observed, run_id)
			SELECT DISTINCT ON (host_id, check_id) host_id, check_id, to_status, actual, '1', time, time, run_id
			FROM transitions ORDER BY host_id, check_id, time DESC, id DESC`,
		`INSERT INTO checks VALUES ('alf'), ('stealth')`,
	} {
		var args []any
		if strings.Contains(q, "$1") {
			args = append(args, t0)
		}
		if _, err := old.pool.Exec(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()
	s, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, min := range []int{0, 10, 20, 60, 69, 70, 71, 130, 150, 200} {
		at := t0.Add(time.Duration(min) * time.Minute)
		for _, label := range []string{"", "mac", "linux", "lab"} {
			for _, check := range []string{"", "alf", "stealth"} {
				want := referenceCompliance(t, s, at, label, check)
				got, err := s.ComplianceAt(ctx, at, label, check)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("ComplianceAt(+%d min, %q, %q) after the upgrade (-reference +got):\n%s", min, label, check, diff)
				}
			}
		}
	}
	// The host's state continues: the upgrade set the time of the newest record applied.
	if _, err := s.Ingest(ctx, "h0", batch(run(1, t0.Add(100*time.Minute), "alf", wire.StatusError)), t0); err != nil {
		t.Fatal(err)
	}
	if cur, err := s.CurrentResults(ctx, "h0"); err != nil || cur[0].Status != wire.StatusPass {
		t.Errorf("CurrentResults after a record older than the migrated state = %+v, %v; want alf still pass", cur, err)
	}
}
