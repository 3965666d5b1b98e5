// Package storetest is the acceptance suite every store.Store implementation passes: the
// SQLite and PostgreSQL stores, and any fake. Run it from the implementation's tests:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openTempStore(t) })
//	}
//
// open must return an empty store, and close it when t ends (t.Cleanup). Every time the suite
// writes is whole milliseconds in UTC, so that stores keeping microseconds round-trip them.
package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// T0 is the suite's epoch; every test time is T0 plus whole minutes.
var T0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// at is T0 + n minutes.
func at(n int) time.Time { return T0.Add(time.Duration(n) * time.Minute) }

// Hash is the SHA-256 of s, as the server stores credentials, tokens and secrets.
func Hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// Run runs the acceptance suite against stores made by open, one new store per subtest.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Tokens", testTokens},
		{"EnrollSecrets", testEnrollSecrets},
		{"Enroll", testEnroll},
		{"Hosts", testHosts},
		{"TouchHost", testTouchHost},
		{"RevokeHost", testRevokeHost},
		{"IngestExactlyOnce", testIngestExactlyOnce},
		{"IngestRefused", testIngestRefused},
		{"Transitions", testTransitions},
		{"DriftFix", testDriftFix},
		{"LateRecord", testLateRecord},
		{"Chain", testChain},
		{"Alerts", testAlerts},
		{"ComplianceAt", testComplianceAt},
		{"Policies", testPolicies},
		{"Exemptions", testExemptions},
		{"Audit", testAudit},
		{"Prune", testPrune},
		{"ConcurrentIngest", testConcurrentIngest},
		{"RotateCredential", testRotateCredential},
		{"CheckHistory", testCheckHistory},
		{"Users", testUsers},
		{"LatestBans", testLatestBans},
		{"ComplianceSeries", testComplianceSeries},
		{"HostSort", testHostSort},
		{"AlertsPage", testAlertsPage},
	}
	tests = append(tests, staleTests...)
	tests = append(tests, sessionTests...)
	tests = append(tests, approvalTests...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

// enroll enrolls a host with credential "cred-"+uuid at time when.
func enroll(t *testing.T, s store.Store, id, uuid string, when time.Time, labels ...string) store.Host {
	t.Helper()
	h, err := s.EnrollHost(context.Background(), store.Host{
		ID: id, UUID: uuid, Hostname: uuid + ".local", OS: "macOS", OSVersion: "15.3",
		AgentVersion: "1.0.0", Labels: labels, EnrolledAt: when,
	}, Hash("cred-"+uuid))
	if err != nil {
		t.Fatalf("EnrollHost(%s) = %v", id, err)
	}
	return h
}

// runRecord is a run record with results given as check, status, actual triples.
func runRecord(seq uint64, when time.Time, results ...string) wire.Record {
	run := &wire.Run{
		RunID: fmt.Sprintf("run-%d", seq), Policy: "default", Mode: wire.ModeReport, BaselineName: "cis",
		BaselineSHA256: "ab12", Started: when.Add(-time.Second), Finished: when,
	}
	for i := 0; i+2 < len(results); i += 3 {
		run.Results = append(run.Results, wire.Result{
			Check: results[i], Status: results[i+1], Actual: results[i+2], Expected: "1", Source: "socketfilterfw",
		})
	}
	return wire.Record{Seq: seq, Kind: wire.KindRun, Time: when, Run: run}
}

func batch(rs ...wire.Record) wire.ReportBatch { return wire.ReportBatch{Records: rs} }

// ingest ingests and fails the test on error.
func ingest(t *testing.T, s store.Store, host string, b wire.ReportBatch) store.IngestResult {
	t.Helper()
	res, err := s.Ingest(context.Background(), host, b, b.Records[len(b.Records)-1].Time)
	if err != nil {
		t.Fatalf("Ingest(%s, seqs %v) = %v", host, seqs(b), err)
	}
	return res
}

func seqs(b wire.ReportBatch) []uint64 {
	var out []uint64
	for _, r := range b.Records {
		out = append(out, r.Seq)
	}
	return out
}

func mustHost(t *testing.T, s store.Store, id string) store.Host {
	t.Helper()
	h, err := s.Host(context.Background(), id)
	if err != nil {
		t.Fatalf("Host(%s) = %v", id, err)
	}
	return h
}

func transitions(t *testing.T, s store.Store, host, check string) []store.Transition {
	t.Helper()
	ts, err := s.Transitions(context.Background(), host, check, time.Time{}, time.Time{})
	if err != nil {
		t.Fatalf("Transitions(%q, %q) = %v", host, check, err)
	}
	return ts
}

func testTokens(t *testing.T, s store.Store) {
	ctx := context.Background()
	admin := store.Token{ID: "tok-1", Name: "alice", Role: store.RoleAdmin, Hash: Hash("fwa_alice"), CreatedAt: at(0)}
	auditor := store.Token{ID: "tok-2", Name: "audit", Role: store.RoleAuditor, Hash: Hash("fwa_audit"), CreatedAt: at(1)}
	for _, tok := range []store.Token{admin, auditor} {
		if err := s.AddToken(ctx, tok, "init"); err != nil {
			t.Fatalf("AddToken(%s) = %v", tok.Name, err)
		}
	}
	if err := s.AddToken(ctx, store.Token{ID: "tok-3", Name: "alice", Role: store.RoleAdmin, Hash: Hash("other"), CreatedAt: at(2)}, "init"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("AddToken(same name) = %v, want ErrConflict", err)
	}
	if err := s.AddToken(ctx, store.Token{ID: "tok-1", Name: "bob", Role: store.RoleAdmin, Hash: Hash("bob"), CreatedAt: at(2)}, "init"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("AddToken(same id) = %v, want ErrConflict", err)
	}
	for _, tt := range []struct {
		name    string
		secret  string
		want    store.Token
		wantErr error
	}{
		{"admin", "fwa_alice", admin, nil},
		{"auditor", "fwa_audit", auditor, nil},
		{"unknown", "fwa_nobody", store.Token{}, store.ErrNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.TokenByHash(ctx, Hash(tt.secret))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("TokenByHash(%s) error = %v, want %v", tt.secret, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("TokenByHash(%s) (-want +got):\n%s", tt.secret, diff)
			}
		})
	}
	if err := s.RevokeToken(ctx, "tok-1", "audit", at(5)); err != nil {
		t.Fatalf("RevokeToken = %v", err)
	}
	got, err := s.TokenByHash(ctx, Hash("fwa_alice"))
	if !errors.Is(err, store.ErrRevoked) || !got.RevokedAt.Equal(at(5)) {
		t.Errorf("TokenByHash(revoked) = %v, RevokedAt %v; want ErrRevoked, %v", err, got.RevokedAt, at(5))
	}
	if _, err := s.TokenByHash(ctx, Hash("fwa_audit")); err != nil {
		t.Errorf("TokenByHash(other token after a revoke) = %v, want nil", err)
	}
	if err := s.RevokeToken(ctx, "tok-404", "audit", at(5)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RevokeToken(unknown) = %v, want ErrNotFound", err)
	}
}

func testEnrollSecrets(t *testing.T, s store.Store) {
	ctx := context.Background()
	sec := store.EnrollSecret{ID: "sec-1", Name: "laptops", Hash: Hash("fwe_1"), Labels: []string{"mac", "laptop"}, CreatedAt: at(0)}
	if err := s.AddEnrollSecret(ctx, sec, "alice"); err != nil {
		t.Fatalf("AddEnrollSecret = %v", err)
	}
	if err := s.AddEnrollSecret(ctx, store.EnrollSecret{ID: "sec-2", Name: "other", Hash: Hash("fwe_1"), CreatedAt: at(0)}, "alice"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("AddEnrollSecret(same hash) = %v, want ErrConflict", err)
	}
	got, err := s.EnrollSecretByHash(ctx, Hash("fwe_1"))
	if err != nil {
		t.Fatalf("EnrollSecretByHash = %v", err)
	}
	if diff := cmp.Diff(sec, got); diff != "" {
		t.Errorf("EnrollSecretByHash (-want +got):\n%s", diff)
	}
	if _, err := s.EnrollSecretByHash(ctx, Hash("fwe_2")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("EnrollSecretByHash(unknown) = %v, want ErrNotFound", err)
	}
	if err := s.RevokeEnrollSecret(ctx, "sec-1", "alice", at(3)); err != nil {
		t.Fatalf("RevokeEnrollSecret = %v", err)
	}
	got, err = s.EnrollSecretByHash(ctx, Hash("fwe_1"))
	if !errors.Is(err, store.ErrRevoked) || !got.RevokedAt.Equal(at(3)) {
		t.Errorf("EnrollSecretByHash(revoked) = %v, RevokedAt %v; want ErrRevoked, %v", err, got.RevokedAt, at(3))
	}
	if err := s.RevokeEnrollSecret(ctx, "sec-404", "alice", at(3)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RevokeEnrollSecret(unknown) = %v, want ErrNotFound", err)
	}
}

func testEnroll(t *testing.T, s store.Store) {
	ctx := context.Background()
	first := enroll(t, s, "host-1", "uuid-1", at(0), "mac", "laptop")
	want := store.Host{
		ID: "host-1", UUID: "uuid-1", Hostname: "uuid-1.local", OS: "macOS", OSVersion: "15.3",
		AgentVersion: "1.0.0", Labels: []string{"mac", "laptop"}, EnrolledAt: at(0), LastSeen: at(0),
		StaleAt: at(180), // three default intervals
	}
	if diff := cmp.Diff(want, first); diff != "" {
		t.Errorf("EnrollHost (-want +got):\n%s", diff)
	}
	if got, err := s.HostByCredential(ctx, Hash("cred-uuid-1")); err != nil || got.ID != "host-1" {
		t.Errorf("HostByCredential = %q, %v; want host-1", got.ID, err)
	}
	ingest(t, s, "host-1", batch(runRecord(1, at(1), "fw", wire.StatusPass, "1"), runRecord(2, at(2), "fw", wire.StatusPass, "1")))

	// Re-enrollment of the same machine: same ID, new credential, history kept.
	again, err := s.EnrollHost(ctx, store.Host{
		ID: "host-NEW", UUID: "uuid-1", Hostname: "renamed", OS: "macOS", OSVersion: "15.4",
		AgentVersion: "1.1.0", Labels: []string{"mac"}, EnrolledAt: at(10),
	}, Hash("cred-rotated"))
	if err != nil {
		t.Fatalf("EnrollHost(again) = %v", err)
	}
	want = store.Host{
		ID: "host-1", UUID: "uuid-1", Hostname: "renamed", OS: "macOS", OSVersion: "15.4",
		AgentVersion: "1.1.0", Labels: []string{"mac"}, EnrolledAt: at(0), LastSeen: at(10),
		StaleAt: at(190),
	}
	if diff := cmp.Diff(want, again); diff != "" {
		t.Errorf("EnrollHost(re-enroll) (-want +got):\n%s", diff)
	}
	if _, err := s.HostByCredential(ctx, Hash("cred-uuid-1")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("HostByCredential(old credential) = %v, want ErrNotFound", err)
	}
	if got, err := s.HostByCredential(ctx, Hash("cred-rotated")); err != nil || got.ID != "host-1" {
		t.Errorf("HostByCredential(new credential) = %q, %v; want host-1", got.ID, err)
	}
	if n := len(transitions(t, s, "host-1", "")); n != 1 {
		t.Errorf("transitions after re-enrollment = %d, want 1 (history kept)", n)
	}
	// The re-enrolled agent numbers its records from 1 again.
	if res := ingest(t, s, "host-1", batch(runRecord(1, at(11), "fw", wire.StatusFail, "0"))); res.Stored != 1 || res.Acked != 1 {
		t.Errorf("Ingest(seq 1 after re-enrollment) = %+v, want Stored 1, Acked 1", res)
	}
	// An agent that kept its spool enrolls again saying where its sequence stands (LastSeq, from
	// its NextSeq): its next record is acknowledged, not held above a gap.
	resumed, err := s.EnrollHost(ctx, store.Host{ID: "ignored-3", UUID: "uuid-1", Hostname: "mac-1", LastSeq: 41, EnrolledAt: at(12)}, Hash("cred-resumed"))
	if err != nil || resumed.LastSeq != 41 {
		t.Fatalf("EnrollHost(re-enroll at seq 42) = LastSeq %d, %v; want 41", resumed.LastSeq, err)
	}
	if res := ingest(t, s, "host-1", batch(runRecord(42, at(13), "fw", wire.StatusFail, "0"))); res.Stored != 1 || res.Acked != 42 {
		t.Errorf("Ingest(seq 42 after re-enrolling at 42) = %+v, want Stored 1, Acked 42", res)
	}
	if res := ingest(t, s, "host-1", batch(runRecord(41, at(12), "fw", wire.StatusFail, "0"))); res.Stored != 0 || res.Duplicates != 1 {
		t.Errorf("Ingest(seq 41, below where the agent resumed) = %+v, want a duplicate", res)
	}

	if _, err := s.HostByCredential(ctx, Hash("nobody")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("HostByCredential(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := s.Host(ctx, "host-404"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Host(unknown) = %v, want ErrNotFound", err)
	}
	// Another machine may not take an ID that exists.
	if _, err := s.EnrollHost(ctx, store.Host{ID: "host-1", UUID: "uuid-2", EnrolledAt: at(12)}, Hash("cred-x")); !errors.Is(err, store.ErrConflict) {
		t.Errorf("EnrollHost(taken id) = %v, want ErrConflict", err)
	}
}

func testHosts(t *testing.T, s store.Store) {
	ctx := context.Background()
	enroll(t, s, "h1", "u1", at(0), "mac")
	enroll(t, s, "h2", "u2", at(0), "mac", "laptop")
	enroll(t, s, "h3", "u3", at(0), "linux")
	ingest(t, s, "h1", batch(runRecord(1, at(50), "fw", wire.StatusPass, "1")))
	ingest(t, s, "h2", batch(runRecord(1, at(60), "fw", wire.StatusFail, "0")))
	yes, no := true, false
	for _, tt := range []struct {
		name string
		f    store.HostFilter
		want []string
	}{
		{"all", store.HostFilter{}, []string{"h1", "h2", "h3"}},
		{"label", store.HostFilter{Label: "mac"}, []string{"h1", "h2"}},
		{"label none", store.HostFilter{Label: "windows"}, nil},
		{"check status", store.HostFilter{Check: "fw", Status: wire.StatusFail}, []string{"h2"}},
		{"check", store.HostFilter{Check: "fw"}, []string{"h1", "h2"}},
		{"label and status", store.HostFilter{Label: "laptop", Check: "fw", Status: wire.StatusPass}, nil},
		// Stale three default intervals (an hour each) after last seen: h3 from 180, h1 from 230.
		{"stale", store.HostFilter{Stale: &yes, Now: at(235)}, []string{"h1", "h3"}},
		{"not stale", store.HostFilter{Stale: &no, Now: at(235)}, []string{"h2"}},
		{"limit", store.HostFilter{Limit: 2}, []string{"h1", "h2"}},
		{"after", store.HostFilter{After: "h1", Limit: 1}, []string{"h2"}},
		{"after last", store.HostFilter{After: "h3"}, nil},
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

func testTouchHost(t *testing.T, s store.Store) {
	ctx := context.Background()
	enroll(t, s, "h1", "u1", at(0))
	for _, tt := range []struct {
		touch, want time.Time
	}{
		{at(5), at(5)},
		{at(3), at(5)}, // never back
		{at(9), at(9)},
	} {
		if err := s.TouchHost(ctx, "h1", tt.touch, 0); err != nil {
			t.Fatalf("TouchHost(%v) = %v", tt.touch, err)
		}
		if got := mustHost(t, s, "h1").LastSeen; !got.Equal(tt.want) {
			t.Errorf("TouchHost(%v): LastSeen = %v, want %v", tt.touch, got, tt.want)
		}
	}
	if err := s.TouchHost(ctx, "h404", at(1), 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TouchHost(unknown) = %v, want ErrNotFound", err)
	}
}

func testRevokeHost(t *testing.T, s store.Store) {
	ctx := context.Background()
	enroll(t, s, "h1", "u1", at(0))
	enroll(t, s, "h2", "u2", at(0))
	if err := s.RevokeHost(ctx, "h1", "alice", at(4)); err != nil {
		t.Fatalf("RevokeHost = %v", err)
	}
	h, err := s.HostByCredential(ctx, Hash("cred-u1"))
	if !errors.Is(err, store.ErrRevoked) || !h.RevokedAt.Equal(at(4)) {
		t.Errorf("HostByCredential(revoked) = %v, RevokedAt %v; want ErrRevoked, %v", err, h.RevokedAt, at(4))
	}
	if _, err := s.HostByCredential(ctx, Hash("cred-u2")); err != nil {
		t.Errorf("HostByCredential(other host) = %v, want nil", err)
	}
	if _, err := s.Ingest(ctx, "h1", batch(runRecord(1, at(5), "fw", wire.StatusPass, "1")), at(5)); !errors.Is(err, store.ErrRevoked) {
		t.Errorf("Ingest(revoked host) = %v, want ErrRevoked", err)
	}
	if err := s.RevokeHost(ctx, "h404", "alice", at(4)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RevokeHost(unknown) = %v, want ErrNotFound", err)
	}
	// Enrolling again (with a valid enroll secret, checked by the server) readmits the machine.
	if _, err := s.EnrollHost(ctx, store.Host{ID: "x", UUID: "u1", EnrolledAt: at(6)}, Hash("cred-new")); err != nil {
		t.Fatalf("EnrollHost(revoked machine) = %v", err)
	}
	if _, err := s.HostByCredential(ctx, Hash("cred-new")); err != nil {
		t.Errorf("HostByCredential(after re-enrollment) = %v, want nil", err)
	}
}

func spoolDrop(seq, from, to uint64, when time.Time) wire.Record {
	return wire.Record{Seq: seq, Kind: wire.KindSpoolDrop, Time: when,
		SpoolDrop: &wire.SpoolDrop{FromSeq: from, ToSeq: to, Count: int(to - from + 1), Reason: "spool full"}}
}

// runs is a batch of run records with the given seqs, each at minute seq, check "fw" passing
// on odd seqs and failing on even ones (so every new record is a transition).
func runs(seqs ...uint64) wire.ReportBatch {
	var b wire.ReportBatch
	for _, q := range seqs {
		st := wire.StatusPass
		if q%2 == 0 {
			st = wire.StatusFail
		}
		b.Records = append(b.Records, runRecord(q, at(int(q)), "fw", st, fmt.Sprint(q)))
	}
	return b
}

func testIngestExactlyOnce(t *testing.T, s store.Store) {
	type step struct {
		b    wire.ReportBatch
		want store.IngestResult
	}
	tests := []struct {
		name            string
		steps           []step
		wantTransitions int
	}{
		{
			name: "same batch twice",
			steps: []step{
				{runs(1, 2, 3), store.IngestResult{Acked: 3, Stored: 3, Transitions: 3}},
				{runs(1, 2, 3), store.IngestResult{Acked: 3, Duplicates: 3}},
			},
			wantTransitions: 3,
		},
		{
			name: "overlapping batches",
			steps: []step{
				{runs(1, 2, 3), store.IngestResult{Acked: 3, Stored: 3, Transitions: 3}},
				{runs(2, 3, 4, 5), store.IngestResult{Acked: 5, Stored: 2, Duplicates: 2, Transitions: 2}},
				{runs(5, 6), store.IngestResult{Acked: 6, Stored: 1, Duplicates: 1, Transitions: 1}},
			},
			wantTransitions: 6,
		},
		{
			name: "gap then filled",
			steps: []step{
				{runs(1, 2), store.IngestResult{Acked: 2, Stored: 2, Transitions: 2}},
				// 4 fails as 2 did: only 5 changes the status.
				{runs(4, 5), store.IngestResult{Acked: 2, Stored: 2, Transitions: 1}},
				{runs(4, 5), store.IngestResult{Acked: 2, Duplicates: 2}},
				// 3 is older than 5, already seen: stored, but history is not rewritten.
				{runs(3), store.IngestResult{Acked: 5, Stored: 1}},
				{runs(3, 4, 5, 6), store.IngestResult{Acked: 6, Stored: 1, Duplicates: 3, Transitions: 1}},
			},
			wantTransitions: 4,
		},
		{
			name: "two gaps",
			steps: []step{
				{runs(1), store.IngestResult{Acked: 1, Stored: 1, Transitions: 1}},
				{runs(3), store.IngestResult{Acked: 1, Stored: 1}},
				{runs(5), store.IngestResult{Acked: 1, Stored: 1}},
				{runs(2), store.IngestResult{Acked: 3, Stored: 1}},
				{runs(4), store.IngestResult{Acked: 5, Stored: 1}},
			},
			wantTransitions: 1,
		},
		{
			name: "spool drop accounts for the gap",
			steps: []step{
				{runs(1), store.IngestResult{Acked: 1, Stored: 1, Transitions: 1}},
				{batch(spoolDrop(5, 2, 4, at(5))), store.IngestResult{Acked: 5, Stored: 1}},
				{runs(3), store.IngestResult{Acked: 5, Duplicates: 1}},
				{runs(6), store.IngestResult{Acked: 6, Stored: 1, Transitions: 1}},
			},
			wantTransitions: 2,
		},
		{
			name: "spool drop before the records it names",
			steps: []step{
				{batch(spoolDrop(4, 1, 3, at(4))), store.IngestResult{Acked: 4, Stored: 1}},
				{runs(5), store.IngestResult{Acked: 5, Stored: 1, Transitions: 1}},
			},
			wantTransitions: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enroll(t, s, tt.name, "uuid-"+tt.name, at(0))
			for i, st := range tt.steps {
				got := ingest(t, s, tt.name, st.b)
				if diff := cmp.Diff(st.want, got); diff != "" {
					t.Errorf("step %d: Ingest(seqs %v) (-want +got):\n%s", i, seqs(st.b), diff)
				}
				if h := mustHost(t, s, tt.name); h.LastSeq != got.Acked {
					t.Errorf("step %d: LastSeq = %d, want the ack %d", i, h.LastSeq, got.Acked)
				}
			}
			if n := len(transitions(t, s, tt.name, "")); n != tt.wantTransitions {
				t.Errorf("Transitions = %d, want %d", n, tt.wantTransitions)
			}
		})
	}
}

func testIngestRefused(t *testing.T, s store.Store) {
	ctx := context.Background()
	enroll(t, s, "h1", "u1", at(0))
	for _, tt := range []struct {
		name string
		host string
		b    wire.ReportBatch
		want error
	}{
		{"unknown host", "h404", runs(1), store.ErrNotFound},
		{"empty batch", "h1", wire.ReportBatch{}, nil},
		{"seq not increasing", "h1", runs(2, 1), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Ingest(ctx, tt.host, tt.b, at(1))
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("Ingest = %v, want an error (%v)", err, tt.want)
			}
		})
	}
	if h := mustHost(t, s, "h1"); h.LastSeq != 0 {
		t.Errorf("LastSeq after refused batches = %d, want 0", h.LastSeq)
	}
	if n := len(transitions(t, s, "h1", "")); n != 0 {
		t.Errorf("transitions after refused batches = %d, want 0", n)
	}
}

func testTransitions(t *testing.T, s store.Store) {
	ctx := context.Background()
	enroll(t, s, "h1", "u1", at(0))
	enroll(t, s, "h2", "u2", at(0))
	ingest(t, s, "h1", batch(
		runRecord(1, at(10), "alf", wire.StatusPass, "1", "stealth", wire.StatusFail, "0"),
		runRecord(2, at(20), "alf", wire.StatusPass, "1", "stealth", wire.StatusFail, "0"),
		runRecord(3, at(30), "alf", wire.StatusFail, "0", "stealth", wire.StatusPass, "1"),
	))
	ingest(t, s, "h1", batch(runRecord(4, at(40), "alf", wire.StatusFail, "0", "stealth", wire.StatusPass, "1")))
	ingest(t, s, "h2", batch(runRecord(1, at(15), "alf", wire.StatusError, "?")))

	want := []store.Transition{
		{HostID: "h1", Check: "alf", Time: at(10), From: "", To: wire.StatusPass, Actual: "1", RunID: "run-1", Cause: wire.CauseObserved, Seq: 1},
		{HostID: "h1", Check: "stealth", Time: at(10), From: "", To: wire.StatusFail, Actual: "0", RunID: "run-1", Cause: wire.CauseObserved, Seq: 1},
		{HostID: "h1", Check: "alf", Time: at(30), From: wire.StatusPass, To: wire.StatusFail, Actual: "0", RunID: "run-3", Cause: wire.CauseObserved, Seq: 3},
		{HostID: "h1", Check: "stealth", Time: at(30), From: wire.StatusFail, To: wire.StatusPass, Actual: "1", RunID: "run-3", Cause: wire.CauseObserved, Seq: 3},
	}
	byCheck := cmpopts.SortSlices(func(a, b store.Transition) bool {
		if !a.Time.Equal(b.Time) {
			return a.Time.Before(b.Time)
		}
		return a.HostID+a.Check < b.HostID+b.Check
	})
	if diff := cmp.Diff(want, transitions(t, s, "h1", ""), byCheck); diff != "" {
		t.Errorf("Transitions(h1) (-want +got):\n%s", diff)
	}
	for _, tt := range []struct {
		name        string
		host, check string
		from, to    time.Time
		want        int
	}{
		{"one check", "h1", "alf", time.Time{}, time.Time{}, 2},
		{"every host, one check", "", "alf", time.Time{}, time.Time{}, 3},
		{"from inclusive", "h1", "", at(30), time.Time{}, 2},
		{"to inclusive", "h1", "", time.Time{}, at(10), 2},
		{"window", "", "", at(11), at(29), 1},
		{"empty window", "h1", "", at(31), at(50), 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Transitions(ctx, tt.host, tt.check, tt.from, tt.to)
			if err != nil || len(got) != tt.want {
				t.Errorf("Transitions(%q, %q, %v, %v) = %d, %v; want %d", tt.host, tt.check, tt.from, tt.to, len(got), err, tt.want)
			}
			for i := 1; i < len(got); i++ {
				if got[i].Time.Before(got[i-1].Time) {
					t.Errorf("Transitions not oldest first: %v after %v", got[i].Time, got[i-1].Time)
				}
			}
		})
	}

	cur, err := s.CurrentResults(ctx, "h1")
	if err != nil {
		t.Fatalf("CurrentResults = %v", err)
	}
	wantCur := []store.Current{
		// run-4 repeats run-3, the stored run that holds the evidence.
		{HostID: "h1", Check: "alf", Status: wire.StatusFail, Actual: "0", Expected: "1", Since: at(30), RunID: "run-3"},
		{HostID: "h1", Check: "stealth", Status: wire.StatusPass, Actual: "1", Expected: "1", Since: at(30), RunID: "run-3"},
	}
	if diff := cmp.Diff(wantCur, cur); diff != "" {
		t.Errorf("CurrentResults(h1) (-want +got):\n%s", diff)
	}
	if cur, err := s.CurrentResults(ctx, "h3"); err != nil || len(cur) != 0 {
		t.Errorf("CurrentResults(no results) = %v, %v; want none", cur, err)
	}
}

func drift(seq uint64, when time.Time, check, from, to, actual, cause string, fix *wire.FixResult) wire.Record {
	return wire.Record{Seq: seq, Kind: wire.KindDrift, Time: when, Drift: &wire.Drift{
		Check: check, RunID: fmt.Sprintf("run-%d", seq), From: from, To: to, Actual: actual, Cause: cause, Fix: fix,
	}}
}

func testDriftFix(t *testing.T, s store.Store) {
	enroll(t, s, "h1", "u1", at(0))
	ingest(t, s, "h1", batch(runRecord(1, at(10), "alf", wire.StatusPass, "1")))
	// Enforce mode: the drift seen, and the fix that reverted it in the same record.
	ingest(t, s, "h1", batch(drift(2, at(20), "alf", wire.StatusPass, wire.StatusFail, "0", wire.CauseObserved,
		&wire.FixResult{Changed: true, Verified: true, Status: wire.StatusPass, Actual: "1"})))
	// A drift the agent itself caused (a fix record on its own).
	ingest(t, s, "h1", batch(
		drift(3, at(30), "alf", wire.StatusPass, wire.StatusFail, "0", wire.CauseObserved, nil),
		drift(4, at(31), "alf", wire.StatusFail, wire.StatusPass, "1", wire.CauseFix, nil),
	))
	// A fix that did not take leaves the check failing: no second transition.
	ingest(t, s, "h1", batch(drift(5, at(40), "alf", wire.StatusPass, wire.StatusFail, "0", wire.CauseObserved,
		&wire.FixResult{Changed: false, Status: wire.StatusFail, Actual: "0", Detail: "managed by a profile"})))

	want := []store.Transition{
		{HostID: "h1", Check: "alf", Time: at(10), From: "", To: wire.StatusPass, Actual: "1", RunID: "run-1", Cause: wire.CauseObserved, Seq: 1},
		{HostID: "h1", Check: "alf", Time: at(20), From: wire.StatusPass, To: wire.StatusFail, Actual: "0", RunID: "run-2", Cause: wire.CauseObserved, Seq: 2},
		{HostID: "h1", Check: "alf", Time: at(20), From: wire.StatusFail, To: wire.StatusPass, Actual: "1", RunID: "run-2", Cause: wire.CauseFix, Seq: 2},
		{HostID: "h1", Check: "alf", Time: at(30), From: wire.StatusPass, To: wire.StatusFail, Actual: "0", RunID: "run-3", Cause: wire.CauseObserved, Seq: 3},
		{HostID: "h1", Check: "alf", Time: at(31), From: wire.StatusFail, To: wire.StatusPass, Actual: "1", RunID: "run-4", Cause: wire.CauseFix, Seq: 4},
		{HostID: "h1", Check: "alf", Time: at(40), From: wire.StatusPass, To: wire.StatusFail, Actual: "0", RunID: "run-5", Cause: wire.CauseObserved, Seq: 5},
	}
	if diff := cmp.Diff(want, transitions(t, s, "h1", "alf")); diff != "" {
		t.Errorf("Transitions (-want +got):\n%s", diff)
	}
}

func testLateRecord(t *testing.T, s store.Store) {
	ctx := context.Background()
	enroll(t, s, "h1", "u1", at(0))
	ingest(t, s, "h1", runs(1)) // pass at minute 1
	ingest(t, s, "h1", batch(runRecord(3, at(3), "fw", wire.StatusPass, "3")))
	ingest(t, s, "h1", runs(2)) // fail at minute 2, arriving after minute 3
	cur, err := s.CurrentResults(ctx, "h1")
	if err != nil || len(cur) != 1 || cur[0].Status != wire.StatusPass || !cur[0].Since.Equal(at(1)) {
		t.Errorf("CurrentResults after a late record = %+v, %v; want pass since %v", cur, err, at(1))
	}
	if h := mustHost(t, s, "h1"); h.LastSeq != 3 {
		t.Errorf("LastSeq = %d, want 3", h.LastSeq)
	}
}

func chained(r wire.Record, seq uint64, prev, hash string) wire.Record {
	r.Chain = &wire.ChainRef{Seq: seq, Prev: prev, Hash: hash}
	return r
}

func testChain(t *testing.T, s store.Store) {
	tests := []struct {
		name       string
		batches    []wire.ReportBatch
		wantBroken bool
		wantSeq    uint64
		wantHash   string
	}{
		{
			name: "continuous",
			batches: []wire.ReportBatch{
				batch(chained(runs(1).Records[0], 7, "h6", "h7"), chained(runs(2).Records[0], 8, "h7", "h8")),
				batch(chained(runs(3).Records[0], 9, "h8", "h9")),
			},
			wantSeq: 9, wantHash: "h9",
		},
		{
			name: "records without chain entries in between",
			batches: []wire.ReportBatch{
				batch(chained(runs(1).Records[0], 1, "", "h1"), wire.Record{Seq: 2, Kind: wire.KindBans, Time: at(2), Bans: &wire.Bans{Active: 3, Added: 1}}),
				batch(chained(runs(3).Records[0], 2, "h1", "h2")),
			},
			wantSeq: 2, wantHash: "h2",
		},
		{
			name: "broken",
			batches: []wire.ReportBatch{
				batch(chained(runs(1).Records[0], 1, "", "h1")),
				batch(chained(runs(2).Records[0], 2, "forged", "h2")),
				batch(chained(runs(3).Records[0], 3, "h2", "h3")),
			},
			wantBroken: true, wantSeq: 3, wantHash: "h3",
		},
		{
			name: "gap filled late is not a break",
			batches: []wire.ReportBatch{
				batch(chained(runs(1).Records[0], 1, "", "h1")),
				batch(chained(runs(3).Records[0], 3, "h2", "h3")),
				batch(chained(runs(2).Records[0], 2, "h1", "h2")),
			},
			wantSeq: 3, wantHash: "h3",
		},
		{
			// The host's own `firewarden evidence` runs add entries the agent never reports.
			name: "entries skipped forward are not a break",
			batches: []wire.ReportBatch{
				batch(chained(runs(1).Records[0], 1, "", "h1")),
				batch(chained(runs(2).Records[0], 4, "h3", "h4")),
			},
			wantSeq: 4, wantHash: "h4",
		},
		{
			name: "a chain that goes back is a break",
			batches: []wire.ReportBatch{
				batch(chained(runs(1).Records[0], 5, "h4", "h5")),
				batch(chained(runs(2).Records[0], 3, "h2", "h3")),
			},
			wantBroken: true, wantSeq: 3, wantHash: "h3",
		},
		{
			name: "a duplicate with another chain entry changes nothing",
			batches: []wire.ReportBatch{
				batch(chained(runs(1).Records[0], 1, "", "h1")),
				batch(chained(runs(1).Records[0], 1, "x", "y")),
			},
			wantSeq: 1, wantHash: "h1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enroll(t, s, tt.name, "uuid-"+tt.name, at(0))
			for _, b := range tt.batches {
				ingest(t, s, tt.name, b)
			}
			h := mustHost(t, s, tt.name)
			got := [3]any{h.ChainBroken, h.ChainSeq, h.ChainHash}
			want := [3]any{tt.wantBroken, tt.wantSeq, tt.wantHash}
			if got != want {
				t.Errorf("ChainBroken, ChainSeq, ChainHash = %v, want %v", got, want)
			}
		})
	}
}

func alertRecord(seq uint64, when time.Time, rule, cmdline string, count int) wire.Record {
	return wire.Record{Seq: seq, Kind: wire.KindAlert, Time: when, Alert: &wire.Alert{
		Rule: rule, Severity: "high", Reason: "firewall disabled", User: "root", Process: "socketfilterfw",
		Parent: "bash", CommandLine: cmdline, Count: count, FirstSeen: when.Add(-time.Minute), LastSeen: when,
	}}
}

func testAlerts(t *testing.T, s store.Store) {
	ctx := context.Background()
	enroll(t, s, "h1", "u1", at(0))
	enroll(t, s, "h2", "u2", at(0))
	off := "socketfilterfw --setglobalstate off"
	ingest(t, s, "h1", batch(alertRecord(1, at(10), "alf-off", off, 1), alertRecord(2, at(20), "alf-off", off, 2)))
	ingest(t, s, "h1", batch(alertRecord(3, at(30), "alf-off", "pfctl -d", 1)))
	ingest(t, s, "h1", batch(alertRecord(3, at(30), "alf-off", "pfctl -d", 1))) // a retry: not folded again
	ingest(t, s, "h2", batch(alertRecord(1, at(10), "alf-off", off, 1)))

	got, err := s.Alerts(ctx, "h1", false)
	if err != nil {
		t.Fatalf("Alerts = %v", err)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].Seq < got[j].Seq })
	want := []store.StoredAlert{
		{HostID: "h1", Seq: 2, Duplicate: 1, Alert: wire.Alert{Rule: "alf-off", Severity: "high", Reason: "firewall disabled",
			User: "root", Process: "socketfilterfw", Parent: "bash", CommandLine: off, Count: 3, FirstSeen: at(9), LastSeen: at(20)}},
		{HostID: "h1", Seq: 3, Alert: wire.Alert{Rule: "alf-off", Severity: "high", Reason: "firewall disabled",
			User: "root", Process: "socketfilterfw", Parent: "bash", CommandLine: "pfctl -d", Count: 1, FirstSeen: at(29), LastSeen: at(30)}},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(store.StoredAlert{}, "ID")); diff != "" {
		t.Fatalf("Alerts(h1) (-want +got):\n%s", diff)
	}
	all, err := s.Alerts(ctx, "", false)
	if err != nil || len(all) != 3 {
		t.Errorf("Alerts(every host) = %d, %v; want 3", len(all), err)
	}

	folded := got[0].ID
	if err := s.AckAlert(ctx, folded, "alice", "expected: maintenance", at(40)); err != nil {
		t.Fatalf("AckAlert = %v", err)
	}
	if err := s.AckAlert(ctx, folded, "bob", "again", at(41)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("AckAlert(acknowledged) = %v, want ErrConflict", err)
	}
	if err := s.AckAlert(ctx, 1<<40, "alice", "", at(41)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AckAlert(unknown) = %v, want ErrNotFound", err)
	}
	open, err := s.Alerts(ctx, "h1", true)
	if err != nil || len(open) != 1 || open[0].Alert.CommandLine != "pfctl -d" {
		t.Errorf("Alerts(h1, unacked) = %+v, %v; want only the pfctl alert", open, err)
	}
	all, _ = s.Alerts(ctx, "h1", false)
	for _, a := range all {
		if a.ID == folded && (a.AckedBy != "alice" || a.AckNote != "expected: maintenance" || !a.AckedAt.Equal(at(40))) {
			t.Errorf("acknowledged alert = %+v, want acked by alice at %v", a, at(40))
		}
	}
	// After an acknowledgement the same alert opens a new one.
	ingest(t, s, "h1", batch(alertRecord(4, at(50), "alf-off", off, 1)))
	open, _ = s.Alerts(ctx, "h1", true)
	if len(open) != 2 {
		t.Errorf("Alerts(h1, unacked) after a new report = %d, want 2", len(open))
	}
}

func testComplianceAt(t *testing.T, s store.Store) {
	ctx := context.Background()
	// h1 (mac):   alf pass at 10, fail at 30, pass (fix) at 31; stealth pass at 10.
	// h2 (mac):   alf fail at 10; stealth pass at 10; exempted for alf from 20 to 40.
	// h3 (linux): alf error at 10.
	// h4 (mac):   enrolled, never reported.
	// h5 (linux): enrolled at 100.
	// h6 (mac):   revoked at 50, alf pass at 10.
	enroll(t, s, "h1", "u1", at(0), "mac")
	enroll(t, s, "h2", "u2", at(0), "mac")
	enroll(t, s, "h3", "u3", at(0), "linux")
	enroll(t, s, "h4", "u4", at(0), "mac")
	enroll(t, s, "h5", "u5", at(100), "linux")
	enroll(t, s, "h6", "u6", at(0), "mac")
	ingest(t, s, "h1", batch(runRecord(1, at(10), "alf", wire.StatusPass, "1", "stealth", wire.StatusPass, "1")))
	ingest(t, s, "h1", batch(drift(2, at(30), "alf", wire.StatusPass, wire.StatusFail, "0", wire.CauseObserved, nil),
		drift(3, at(31), "alf", wire.StatusFail, wire.StatusPass, "1", wire.CauseFix, nil)))
	// Enforce mode: a drift and its fix in one record, at one time.
	ingest(t, s, "h1", batch(drift(4, at(35), "alf", wire.StatusPass, wire.StatusFail, "0", wire.CauseObserved,
		&wire.FixResult{Changed: true, Verified: true, Status: wire.StatusPass, Actual: "1"})))
	ingest(t, s, "h2", batch(runRecord(1, at(10), "alf", wire.StatusFail, "0", "stealth", wire.StatusPass, "1")))
	ingest(t, s, "h3", batch(runRecord(1, at(10), "alf", wire.StatusError, "?")))
	ingest(t, s, "h5", batch(runRecord(1, at(110), "alf", wire.StatusPass, "1")))
	ingest(t, s, "h6", batch(runRecord(1, at(10), "alf", wire.StatusPass, "1")))
	if err := s.RevokeHost(ctx, "h6", "alice", at(50)); err != nil {
		t.Fatal(err)
	}
	if err := s.AddExemption(ctx, store.Exemption{ID: "ex-1", HostID: "h2", Check: "alf", Reason: "vendor VPN",
		ApprovedBy: "ciso", CreatedAt: at(20), Expires: at(40)}, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddExemption(ctx, store.Exemption{ID: "ex-2", Label: "linux", Check: "alf", Reason: "no ALF on Linux",
		ApprovedBy: "ciso", CreatedAt: at(60)}, "alice"); err != nil {
		t.Fatal(err)
	}

	type cc = store.CheckCount
	tests := []struct {
		name  string
		at    time.Time
		label string
		check string
		want  store.Compliance
	}{
		{"before any result", at(5), "", "", store.Compliance{Hosts: 5, NoData: 5, PerCheck: map[string]cc{}}},
		{"first results", at(10), "", "", store.Compliance{Hosts: 5, Compliant: 2, NonCompliant: 2, NoData: 1,
			PerCheck: map[string]cc{"alf": {Pass: 2, Fail: 1, Error: 1}, "stealth": {Pass: 2}}}},
		{"exemption active", at(25), "", "", store.Compliance{Hosts: 5, Compliant: 3, NonCompliant: 1, NoData: 1,
			PerCheck: map[string]cc{"alf": {Pass: 2, Exempt: 1, Error: 1}, "stealth": {Pass: 2}}}},
		{"at the drift", at(30), "", "", store.Compliance{Hosts: 5, Compliant: 2, NonCompliant: 2, NoData: 1,
			PerCheck: map[string]cc{"alf": {Pass: 1, Fail: 1, Exempt: 1, Error: 1}, "stealth": {Pass: 2}}}},
		{"between drift and fix", at(30).Add(30 * time.Second), "mac", "alf", store.Compliance{Hosts: 4, Compliant: 2, NonCompliant: 1, NoData: 1,
			PerCheck: map[string]cc{"alf": {Pass: 1, Fail: 1, Exempt: 1}}}},
		{"after the fix", at(31), "mac", "alf", store.Compliance{Hosts: 4, Compliant: 3, NoData: 1,
			PerCheck: map[string]cc{"alf": {Pass: 2, Exempt: 1}}}},
		{"drift fixed in the same record", at(35), "", "alf", store.Compliance{Hosts: 5, Compliant: 3, NonCompliant: 1, NoData: 1,
			PerCheck: map[string]cc{"alf": {Pass: 2, Exempt: 1, Error: 1}}}},
		{"drift fixed in the same record, label", at(35), "mac", "alf", store.Compliance{Hosts: 4, Compliant: 3, NoData: 1,
			PerCheck: map[string]cc{"alf": {Pass: 2, Exempt: 1}}}},
		{"exemption expired", at(40), "mac", "", store.Compliance{Hosts: 4, Compliant: 2, NonCompliant: 1, NoData: 1,
			PerCheck: map[string]cc{"alf": {Pass: 2, Fail: 1}, "stealth": {Pass: 2}}}},
		{"revoked host gone", at(50), "mac", "", store.Compliance{Hosts: 3, Compliant: 1, NonCompliant: 1, NoData: 1,
			PerCheck: map[string]cc{"alf": {Pass: 1, Fail: 1}, "stealth": {Pass: 2}}}},
		{"revoked host gone, fleet", at(50), "", "", store.Compliance{Hosts: 4, Compliant: 1, NonCompliant: 2, NoData: 1,
			PerCheck: map[string]cc{"alf": {Pass: 1, Fail: 1, Error: 1}, "stealth": {Pass: 2}}}},
		{"label exemption does not excuse an error", at(70), "linux", "", store.Compliance{Hosts: 1, NonCompliant: 1,
			PerCheck: map[string]cc{"alf": {Error: 1}}}},
		{"late enrollment counted from its enrollment", at(100), "linux", "alf", store.Compliance{Hosts: 2, NonCompliant: 1, NoData: 1,
			PerCheck: map[string]cc{"alf": {Error: 1}}}},
		{"late host reported", at(200), "linux", "alf", store.Compliance{Hosts: 2, Compliant: 1, NonCompliant: 1,
			PerCheck: map[string]cc{"alf": {Pass: 1, Error: 1}}}},
		{"check with no result", at(200), "", "firewall-logging", store.Compliance{Hosts: 5, NoData: 5,
			PerCheck: map[string]cc{"firewall-logging": {}}}},
		{"label with no host", at(200), "windows", "", store.Compliance{PerCheck: map[string]cc{}}},
	}
	for _, tt := range tests {
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

func testPolicies(t *testing.T, s store.Store) {
	ctx := context.Background()
	h := enroll(t, s, "h1", "u1", at(0), "mac", "laptop")
	other := enroll(t, s, "h2", "u2", at(0), "linux")
	if _, err := s.PolicyFor(ctx, h); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PolicyFor(no policies) = %v, want ErrNotFound", err)
	}
	put := func(p store.Policy) store.Policy {
		t.Helper()
		got, err := s.PutPolicy(ctx, p, "alice")
		if err != nil {
			t.Fatalf("PutPolicy(%s) = %v", p.Name, err)
		}
		return got
	}
	def := put(store.Policy{Name: "default", Mode: wire.ModeReport, IntervalSeconds: 3600, UpdatedAt: at(1)})
	if def.Version != 1 || !def.UpdatedAt.Equal(at(1)) {
		t.Errorf("PutPolicy(new) = version %d at %v, want 1 at %v", def.Version, def.UpdatedAt, at(1))
	}
	put(store.Policy{Name: "laptops", Label: "laptop", Priority: 20, Mode: wire.ModeEnforce, IntervalSeconds: 900, UpdatedAt: at(2)})
	put(store.Policy{Name: "macs", Label: "mac", Priority: 10, Mode: wire.ModeReport, IntervalSeconds: 1800, BaselineYAML: "name: mac\n", UpdatedAt: at(3)})
	got, err := s.PolicyFor(ctx, h)
	if err != nil || got.Name != "macs" {
		t.Errorf("PolicyFor(mac, laptop) = %q, %v; want macs (lowest priority)", got.Name, err)
	}
	if got, err := s.PolicyFor(ctx, other); err != nil || got.Name != "default" {
		t.Errorf("PolicyFor(linux) = %q, %v; want default", got.Name, err)
	}
	// Changing priorities changes the answer, and bumps the version.
	v2 := put(store.Policy{Name: "macs", Label: "mac", Priority: 30, Mode: wire.ModeEnforce, IntervalSeconds: 1800, UpdatedAt: at(4)})
	if v2.Version != 2 || v2.Mode != wire.ModeEnforce {
		t.Errorf("PutPolicy(existing) = version %d mode %s, want 2 enforce", v2.Version, v2.Mode)
	}
	if got, err := s.PolicyFor(ctx, h); err != nil || got.Name != "laptops" {
		t.Errorf("PolicyFor after reprioritising = %q, %v; want laptops", got.Name, err)
	}
	ps, err := s.Policies(ctx)
	if err != nil {
		t.Fatalf("Policies = %v", err)
	}
	want := []store.Policy{
		{Name: "default", Mode: wire.ModeReport, IntervalSeconds: 3600, Version: 1, UpdatedAt: at(1)},
		{Name: "laptops", Label: "laptop", Priority: 20, Mode: wire.ModeEnforce, IntervalSeconds: 900, Version: 1, UpdatedAt: at(2)},
		{Name: "macs", Label: "mac", Priority: 30, Mode: wire.ModeEnforce, IntervalSeconds: 1800, Version: 2, UpdatedAt: at(4)},
	}
	if diff := cmp.Diff(want, ps, cmpopts.SortSlices(func(a, b store.Policy) bool { return a.Name < b.Name })); diff != "" {
		t.Errorf("Policies (-want +got):\n%s", diff)
	}
}

func testExemptions(t *testing.T, s store.Store) {
	ctx := context.Background()
	e1 := store.Exemption{ID: "ex-1", HostID: "h1", Check: "alf", Reason: "lab machine", ApprovedBy: "ciso", CreatedAt: at(10), Expires: at(100)}
	e2 := store.Exemption{ID: "ex-2", Label: "kiosk", Check: "stealth", Reason: "kiosks", ApprovedBy: "ciso", CreatedAt: at(20)}
	for _, e := range []store.Exemption{e1, e2} {
		if err := s.AddExemption(ctx, e, "alice"); err != nil {
			t.Fatalf("AddExemption(%s) = %v", e.ID, err)
		}
	}
	if err := s.AddExemption(ctx, e1, "alice"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("AddExemption(same id) = %v, want ErrConflict", err)
	}
	if err := s.AddExemption(ctx, store.Exemption{ID: "ex-3", HostID: "h1", Label: "x", Check: "alf", CreatedAt: at(1)}, "alice"); err == nil {
		t.Errorf("AddExemption(host and label) = nil, want an error")
	}
	if err := s.RevokeExemption(ctx, "ex-2", "bob", at(50)); err != nil {
		t.Fatalf("RevokeExemption = %v", err)
	}
	if err := s.RevokeExemption(ctx, "ex-404", "bob", at(50)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RevokeExemption(unknown) = %v, want ErrNotFound", err)
	}
	// Added approved: requested by the actor, approved at creation.
	e1.RequestedBy, e1.ApprovedAt = "alice", e1.CreatedAt
	e2.RequestedBy, e2.ApprovedAt = "alice", e2.CreatedAt
	e2.RevokedAt = at(50)
	for _, tt := range []struct {
		name string
		at   time.Time
		want []store.Exemption
	}{
		{"before", at(5), nil},
		{"one", at(10), []store.Exemption{e1}},
		{"both", at(49), []store.Exemption{e1, e2}},
		{"revoked", at(50), []store.Exemption{e1}},
		{"expired", at(100), nil},
		{"every one ever", time.Time{}, []store.Exemption{e1, e2}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Exemptions(ctx, tt.at)
			if err != nil {
				t.Fatalf("Exemptions(%v) = %v", tt.at, err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Exemptions(%v) (-want +got):\n%s", tt.at, diff)
			}
		})
	}
}

func testAudit(t *testing.T, s store.Store) {
	ctx := context.Background()
	enroll(t, s, "h1", "u1", at(0))
	ingest(t, s, "h1", batch(alertRecord(1, at(1), "alf-off", "x", 1)))
	alerts, err := s.Alerts(ctx, "h1", false)
	if err != nil || len(alerts) != 1 {
		t.Fatalf("Alerts = %v, %v", alerts, err)
	}
	steps := []struct {
		action string
		do     func() error
	}{
		{"token.create", func() error {
			return s.AddToken(ctx, store.Token{ID: "t1", Name: "alice", Role: store.RoleAdmin, Hash: Hash("a"), CreatedAt: at(2)}, "init")
		}},
		{"token.revoke", func() error { return s.RevokeToken(ctx, "t1", "root", at(3)) }},
		{"secret.create", func() error {
			return s.AddEnrollSecret(ctx, store.EnrollSecret{ID: "s1", Name: "default", Hash: Hash("e"), CreatedAt: at(4)}, "alice")
		}},
		{"secret.revoke", func() error { return s.RevokeEnrollSecret(ctx, "s1", "alice", at(5)) }},
		{"policy.put", func() error {
			_, err := s.PutPolicy(ctx, store.Policy{Name: "default", Mode: wire.ModeReport, IntervalSeconds: 60, UpdatedAt: at(6)}, "alice")
			return err
		}},
		{"exemption.create", func() error {
			return s.AddExemption(ctx, store.Exemption{ID: "x1", HostID: "h1", Check: "alf", ApprovedBy: "alice", CreatedAt: at(7)}, "alice")
		}},
		{"exemption.revoke", func() error { return s.RevokeExemption(ctx, "x1", "alice", at(8)) }},
		{"host.revoke", func() error { return s.RevokeHost(ctx, "h1", "alice", at(9)) }},
		{"alert.ack", func() error { return s.AckAlert(ctx, alerts[0].ID, "alice", "ok", at(10)) }},
	}
	var want []string
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s = %v", st.action, err)
		}
		want = append(want, st.action)
	}
	// Failed writes leave no audit row.
	failed := []func() error{
		func() error {
			return s.AddToken(ctx, store.Token{ID: "t2", Name: "alice", Role: store.RoleAdmin, Hash: Hash("b"), CreatedAt: at(11)}, "init")
		},
		func() error { return s.RevokeToken(ctx, "t404", "alice", at(11)) },
		func() error { return s.AckAlert(ctx, alerts[0].ID, "alice", "again", at(11)) },
	}
	for i, f := range failed {
		if err := f(); err == nil {
			t.Errorf("failing write %d = nil, want an error", i)
		}
	}
	log, err := s.AuditLog(ctx, time.Time{})
	if err != nil {
		t.Fatalf("AuditLog = %v", err)
	}
	var got []string
	for i, a := range log {
		got = append(got, a.Action)
		if !a.Time.Equal(at(i + 2)) {
			t.Errorf("audit %d (%s): time %v, want %v", i, a.Action, a.Time, at(i+2))
		}
		if a.Actor == "" || a.Target == "" || a.Detail == "" {
			t.Errorf("audit %d = %+v: want an actor, a target and a detail", i, a)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AuditLog actions (-want +got):\n%s", diff)
	}
	if log[0].Actor != "init" || log[0].Target != "t1" || log[1].Actor != "root" {
		t.Errorf("AuditLog[0:2] = %+v, want token.create by init on t1, then revoke by root", log[:2])
	}
	since, err := s.AuditLog(ctx, at(8))
	if err != nil || len(since) != 3 {
		t.Errorf("AuditLog(since %v) = %d rows, %v; want 3", at(8), len(since), err)
	}
}

func testPrune(t *testing.T, s store.Store) {
	ctx := context.Background()
	enroll(t, s, "h1", "u1", at(0))
	ingest(t, s, "h1", runs(1, 2, 3, 4, 5))
	before := transitions(t, s, "h1", "")
	for _, tt := range []struct {
		before time.Time
		want   int
	}{
		{at(1), 0}, // strictly before
		{at(3), 2},
		{at(3), 0},
		{at(100), 3},
	} {
		n, err := s.Prune(ctx, tt.before)
		if err != nil || n != tt.want {
			t.Errorf("Prune(%v) = %d, %v; want %d", tt.before, n, err, tt.want)
		}
	}
	if diff := cmp.Diff(before, transitions(t, s, "h1", "")); diff != "" {
		t.Errorf("transitions changed by Prune (-want +got):\n%s", diff)
	}
	if cur, err := s.CurrentResults(ctx, "h1"); err != nil || len(cur) != 1 || cur[0].Status != wire.StatusPass {
		t.Errorf("CurrentResults after Prune = %+v, %v; want fw pass", cur, err)
	}
	if h := mustHost(t, s, "h1"); h.LastSeq != 5 {
		t.Errorf("LastSeq after Prune = %d, want 5", h.LastSeq)
	}
	// Pruned records are still known: a retry is a duplicate, not a new record.
	if res := ingest(t, s, "h1", runs(4, 5)); res.Duplicates != 2 || res.Stored != 0 {
		t.Errorf("Ingest(retry after Prune) = %+v, want 2 duplicates", res)
	}
}

func testConcurrentIngest(t *testing.T, s store.Store) {
	ctx := context.Background()
	const hosts, records, workers = 4, 60, 4
	for h := range hosts {
		enroll(t, s, fmt.Sprintf("h%d", h), fmt.Sprintf("u%d", h), at(0))
	}
	type total struct {
		mu                  sync.Mutex
		stored, duplicates  int
		transitions, errors int
	}
	var sum [hosts]total
	var wg sync.WaitGroup
	// Every host gets the same records from several workers at once, in overlapping batches
	// of different sizes, as retrying agents and replicas would send them.
	for h := range hosts {
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				size := uint64(w + 2)
				for lo := uint64(1); lo <= records; lo += size - 1 {
					var b wire.ReportBatch
					for q := lo; q < lo+size && q <= records; q++ {
						b.Records = append(b.Records, runs(q).Records[0])
					}
					res, err := s.Ingest(ctx, fmt.Sprintf("h%d", h), b, at(int(lo)))
					sum[h].mu.Lock()
					if err != nil {
						sum[h].errors++
						t.Errorf("Ingest(h%d, %v) = %v", h, seqs(b), err)
					}
					sum[h].stored += res.Stored
					sum[h].duplicates += res.Duplicates
					sum[h].transitions += res.Transitions
					sum[h].mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	for h := range hosts {
		id := fmt.Sprintf("h%d", h)
		if sum[h].stored != records {
			t.Errorf("%s: stored %d records in all, want %d (none lost, none twice)", id, sum[h].stored, records)
		}
		if got := mustHost(t, s, id).LastSeq; got != records {
			t.Errorf("%s: LastSeq = %d, want %d", id, got, records)
		}
		ts := transitions(t, s, id, "")
		if len(ts) != sum[h].transitions {
			t.Errorf("%s: %d transitions stored, Ingest reported %d", id, len(ts), sum[h].transitions)
		}
		seen := map[uint64]bool{}
		for _, tr := range ts {
			if seen[tr.Seq] {
				t.Errorf("%s: two transitions from record %d", id, tr.Seq)
			}
			seen[tr.Seq] = true
		}
	}
}
