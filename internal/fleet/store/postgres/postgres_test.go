package postgres

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/fleet/pgtest"
	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// open returns a store on a fresh database, closed after the test.
func open(t testing.TB) (*Store, string) {
	t.Helper()
	url := pgtest.Start(t)
	s, err := Open(context.Background(), url)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, url
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func hash(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

func enroll(t testing.TB, s *Store, id string, labels ...string) store.Host {
	t.Helper()
	h, err := s.EnrollHost(context.Background(), store.Host{ID: id, UUID: "uuid-" + id, Hostname: id, OS: "macOS",
		OSVersion: "15.1", AgentVersion: "1.0", Labels: labels, EnrolledAt: t0}, hash("cred-"+id))
	if err != nil {
		t.Fatalf("EnrollHost(%s) = %v", id, err)
	}
	return h
}

func run(seq uint64, at time.Time, statuses ...string) wire.Record {
	r := &wire.Run{RunID: fmt.Sprintf("run-%d", seq), Policy: "default", Mode: wire.ModeReport, Started: at, Finished: at}
	for i := 0; i < len(statuses); i += 2 {
		r.Results = append(r.Results, wire.Result{Check: statuses[i], Status: statuses[i+1], Actual: statuses[i+1] + "-value", Expected: "1"})
	}
	return wire.Record{Seq: seq, Kind: wire.KindRun, Time: at, Run: r,
		Chain: &wire.ChainRef{Seq: seq, Prev: fmt.Sprintf("h%d", seq-1), Hash: fmt.Sprintf("h%d", seq)}}
}

func batch(rs ...wire.Record) wire.ReportBatch { return wire.ReportBatch{Records: rs} }

func TestMigrateFromEveryVersion(t *testing.T) {
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for from := 0; from < len(ms); from++ {
		t.Run(fmt.Sprintf("from %d", from), func(t *testing.T) {
			url := pgtest.Start(t)
			old, err := openAt(ctx, url, from)
			if err != nil {
				t.Fatalf("openAt(%d) = %v", from, err)
			}
			if v, _ := old.Version(ctx); v != from {
				t.Errorf("Version() after migrating to %d = %d", from, v)
			}
			if from >= 1 {
				// Data written by an old version survives the upgrade.
				if err := old.AddToken(ctx, store.Token{ID: "t1", Name: "ops", Role: store.RoleAdmin, Hash: hash("x"), CreatedAt: t0}, "init"); err != nil {
					t.Fatal(err)
				}
			}
			// An exemption as made before approvals existed (by its approver, when made), or as
			// an approved one is stored since 0008.
			if from >= 3 {
				q := `INSERT INTO exemptions (id, host_id, label, check_id, reason, approved_by, created_at)
					VALUES ('ex-old', 'h1', '', 'alf', 'lab', 'ciso', $1)`
				if from >= 8 {
					q = `INSERT INTO exemptions (id, host_id, label, check_id, reason, approved_by, created_at, requested_by, approved_at)
					VALUES ('ex-old', 'h1', '', 'alf', 'lab', 'ciso', $1, 'ciso', $1)`
				}
				if _, err := old.pool.Exec(ctx, q, t0); err != nil {
					t.Fatalf("insert an exemption (at %d) = %v", from, err)
				}
			}
			old.Close()
			s, err := Open(ctx, url)
			if err != nil {
				t.Fatalf("Open() on version %d = %v", from, err)
			}
			defer s.Close()
			if v, _ := s.Version(ctx); v != len(ms) {
				t.Errorf("Version() = %d, want %d", v, len(ms))
			}
			if from >= 1 {
				if _, err := s.TokenByHash(ctx, hash("x")); err != nil {
					t.Errorf("TokenByHash() after upgrade = %v", err)
				}
			}
			// The store works on the upgraded schema.
			enroll(t, s, "h1")
			if _, err := s.Ingest(ctx, "h1", batch(run(1, t0, "alf", wire.StatusFail)), t0); err != nil {
				t.Errorf("Ingest() after upgrade from %d = %v", from, err)
			}
			if from >= 3 {
				// The old exemption stays in force: approved by its maker when made.
				want := []store.Exemption{{ID: "ex-old", HostID: "h1", Check: "alf", Reason: "lab", RequestedBy: "ciso",
					ApprovedBy: "ciso", ApprovedAt: t0, CreatedAt: t0}}
				got, err := s.Exemptions(ctx, t0)
				if diff := cmp.Diff(want, got); err != nil || diff != "" {
					t.Errorf("Exemptions() after upgrade from %d = %v (-want +got):\n%s", from, err, diff)
				}
				if c, err := s.ComplianceAt(ctx, t0.Add(time.Minute), "", "alf"); err != nil || c.PerCheck["alf"].Exempt != 1 {
					t.Errorf("ComplianceAt() after upgrade from %d = %+v, %v; want h1's failure exempt", from, c, err)
				}
			}
			if err := s.AddUser(ctx, store.User{Name: "ops", Role: store.RoleAdmin, PasswordHash: "$argon2id$x", CreatedAt: t0}, "init"); err != nil {
				t.Errorf("AddUser() after upgrade from %d = %v", from, err)
			} else if u, err := s.UserByName(ctx, "ops"); err != nil || u.Role != store.RoleAdmin {
				t.Errorf("UserByName() after upgrade from %d = %+v, %v", from, u, err)
			}
		})
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	s, url := open(t)
	ctx := context.Background()
	if _, err := s.pool.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES (999, 'future')`); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, url); err == nil {
		t.Error("Open() on a database from a newer server = nil error, want a refusal")
	}
}

// Replicas starting together: every Open succeeds and each migration runs once.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	url := pgtest.Start(t)
	ctx := context.Background()
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(ctx, url)
			if err == nil {
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open() #%d = %v", i, err)
		}
	}
	s, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var rows, distinct int
	if err := s.pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	ms, _ := loadMigrations()
	if rows != len(ms) || distinct != len(ms) {
		t.Errorf("schema_migrations has %d rows (%d versions), want %d", rows, distinct, len(ms))
	}
}

func TestOpenBadURL(t *testing.T) {
	_, err := Open(context.Background(), "postgres://user:secret@[::1")
	if err == nil {
		t.Fatal("Open(bad url) = nil error")
	}
	if got := err.Error(); strings.Contains(got, "secret") {
		t.Errorf("Open(bad url) = %q: the error repeats the password", got)
	}
}

func ch(seq uint64, prev, hash string) wire.ChainRef {
	return wire.ChainRef{Seq: seq, Prev: prev, Hash: hash}
}

func TestIngestExactlyOnce(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	enroll(t, s, "h1")
	b := batch(run(1, t0, "alf", wire.StatusPass), run(2, t0.Add(time.Hour), "alf", wire.StatusFail))
	tests := []struct {
		name string
		b    wire.ReportBatch
		want store.IngestResult
	}{
		{"first", b, store.IngestResult{Acked: 2, Stored: 2, Transitions: 2}},
		{"retry", b, store.IngestResult{Acked: 2, Duplicates: 2}},
		{"overlap", batch(b.Records[1], run(3, t0.Add(2*time.Hour), "alf", wire.StatusFail)), store.IngestResult{Acked: 3, Stored: 1, Duplicates: 1, Repeats: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Ingest(ctx, "h1", tt.b, t0)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Ingest() (-want +got):\n%s", diff)
			}
		})
	}
	var runs int
	s.pool.QueryRow(ctx, `SELECT count(*) FROM runs`).Scan(&runs)
	if runs != 2 {
		t.Errorf("runs stored = %d, want 2 (run 3 repeats run 2)", runs)
	}
}

// Many batches for one host at once, overlapping, from several connections (as from several
// replicas): every record is stored once and the ack ends at the last seq.
func TestIngestConcurrentSameHost(t *testing.T) {
	s, url := open(t)
	other, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ctx := context.Background()
	enroll(t, s, "h1")
	const n = 40
	var recs []wire.Record
	for i := uint64(1); i <= n; i++ {
		st := wire.StatusPass
		if i%2 == 0 {
			st = wire.StatusFail
		}
		recs = append(recs, run(i, t0.Add(time.Duration(i)*time.Minute), "alf", st))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var stored, dups int
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := []*Store{s, other}[w%2]
			// Each worker sends every window of 5 from the start: heavy overlap.
			for lo := 0; lo < n; lo += 5 {
				res, err := st.Ingest(ctx, "h1", batch(recs[lo:lo+5]...), t0)
				if err != nil {
					t.Errorf("Ingest() = %v", err)
					return
				}
				mu.Lock()
				stored += res.Stored
				dups += res.Duplicates
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if stored != n || dups != 7*n {
		t.Errorf("stored %d, duplicates %d; want %d and %d", stored, dups, n, 7*n)
	}
	h, _ := s.Host(ctx, "h1")
	if h.LastSeq != n || h.ChainBroken {
		t.Errorf("host LastSeq = %d, ChainBroken = %v; want %d, false", h.LastSeq, h.ChainBroken, n)
	}
	tr, err := s.Transitions(ctx, "h1", "alf", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr) != n {
		t.Errorf("Transitions() = %d, want %d (one per alternating run)", len(tr), n)
	}
}

func TestIngestGapsAndSpoolDrops(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	enroll(t, s, "h1")
	drop := wire.Record{Seq: 7, Kind: wire.KindSpoolDrop, Time: t0, SpoolDrop: &wire.SpoolDrop{FromSeq: 3, ToSeq: 5, Count: 3, Reason: "cap"},
		Chain: &wire.ChainRef{Seq: 7, Prev: "h6", Hash: "h7"}}
	steps := []struct {
		name string
		b    wire.ReportBatch
		want store.IngestResult
	}{
		{"1-2", batch(run(1, t0, "alf", "pass"), run(2, t0, "alf", "pass")), store.IngestResult{Acked: 2, Stored: 2, Repeats: 1, Transitions: 1}},
		{"6 above a gap", batch(run(6, t0, "alf", "pass")), store.IngestResult{Acked: 2, Stored: 1, Repeats: 1}},
		{"6 again", batch(run(6, t0, "alf", "pass")), store.IngestResult{Acked: 2, Duplicates: 1}},
		{"drop of 3-5 closes the gap", batch(drop), store.IngestResult{Acked: 7, Stored: 1}},
		{"4 after it was dropped", batch(run(4, t0, "alf", "pass")), store.IngestResult{Acked: 7, Duplicates: 1}},
	}
	for _, tt := range steps {
		got, err := s.Ingest(ctx, "h1", tt.b, t0)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: Ingest() (-want +got):\n%s", tt.name, diff)
		}
	}
	var pending int
	s.pool.QueryRow(ctx, `SELECT count(*) FROM pending`).Scan(&pending)
	if pending != 0 {
		t.Errorf("pending rows after the gap closed = %d, want 0", pending)
	}
	if h, _ := s.Host(ctx, "h1"); h.ChainBroken {
		t.Error("ChainBroken after a spool drop = true, want false (a gap in the chain is not a break)")
	}
}

func TestIngestChain(t *testing.T) {
	tests := []struct {
		name  string
		chain []wire.ChainRef
		want  bool
	}{
		{"continuous", []wire.ChainRef{ch(1, "", "a"), ch(2, "a", "b"), ch(3, "b", "c")}, false},
		{"skips entries", []wire.ChainRef{ch(1, "", "a"), ch(5, "x", "e"), ch(6, "e", "f")}, false},
		{"wrong prev", []wire.ChainRef{ch(1, "", "a"), ch(2, "zz", "b")}, true},
		{"restarted", []wire.ChainRef{ch(1, "", "a"), ch(2, "a", "b"), ch(1, "", "a2")}, true},
	}
	s, _ := open(t)
	ctx := context.Background()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprintf("h%d", i)
			enroll(t, s, id)
			for j, c := range tt.chain {
				r := run(uint64(j+1), t0, "alf", "pass")
				r.Chain = &c
				if _, err := s.Ingest(ctx, id, batch(r), t0); err != nil {
					t.Fatal(err)
				}
			}
			h, _ := s.Host(ctx, id)
			if h.ChainBroken != tt.want {
				t.Errorf("ChainBroken = %v, want %v", h.ChainBroken, tt.want)
			}
		})
	}
}

func TestIngestRefusesUnknownAndRevokedHosts(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	enroll(t, s, "h1")
	if _, err := s.Ingest(ctx, "nope", batch(run(1, t0, "alf", "pass")), t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Ingest(unknown host) = %v, want ErrNotFound", err)
	}
	if err := s.RevokeHost(ctx, "h1", "admin", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ingest(ctx, "h1", batch(run(1, t0, "alf", "pass")), t0); !errors.Is(err, store.ErrRevoked) {
		t.Errorf("Ingest(revoked host) = %v, want ErrRevoked", err)
	}
	if _, err := s.HostByCredential(ctx, hash("cred-h1")); !errors.Is(err, store.ErrRevoked) {
		t.Errorf("HostByCredential(revoked) = %v, want ErrRevoked", err)
	}
}

// Drift in enforce mode: pass → fail observed, then the fix's fail → pass; the run that
// follows changes nothing.
func TestIngestDriftAndFix(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	enroll(t, s, "h1")
	t1 := t0.Add(time.Hour)
	drift := wire.Record{Seq: 2, Kind: wire.KindDrift, Time: t1, Drift: &wire.Drift{Check: "alf", RunID: "run-3", From: "pass", To: "fail",
		Actual: "0", Cause: wire.CauseObserved, Fix: &wire.FixResult{Changed: true, Verified: true, Status: "pass", Actual: "1"}}}
	res, err := s.Ingest(ctx, "h1", batch(run(1, t0, "alf", "pass"), drift, run(3, t1, "alf", "pass")), t1)
	if err != nil {
		t.Fatal(err)
	}
	if res.Transitions != 3 {
		t.Errorf("Ingest().Transitions = %d, want 3", res.Transitions)
	}
	got, err := s.Transitions(ctx, "h1", "", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Transition{
		{HostID: "h1", Check: "alf", Time: t0, From: "", To: "pass", Actual: "pass-value", RunID: "run-1", Cause: wire.CauseObserved, Seq: 1},
		{HostID: "h1", Check: "alf", Time: t1, From: "pass", To: "fail", Actual: "0", RunID: "run-3", Cause: wire.CauseObserved, Seq: 2},
		{HostID: "h1", Check: "alf", Time: t1, From: "fail", To: "pass", Actual: "1", RunID: "run-3", Cause: wire.CauseFix, Seq: 2},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Transitions() (-want +got):\n%s", diff)
	}
	cur, _ := s.CurrentResults(ctx, "h1")
	if len(cur) != 1 || cur[0].Status != "pass" || !cur[0].Since.Equal(t1) || cur[0].RunID != "run-3" {
		t.Errorf("CurrentResults() = %+v, want alf pass since %v from run-3", cur, t1)
	}
}

func TestComplianceAt(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	enroll(t, s, "a", "laptops")
	enroll(t, s, "b", "laptops")
	enroll(t, s, "c", "servers")
	h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	ingest := func(host string, rs ...wire.Record) {
		if _, err := s.Ingest(ctx, host, batch(rs...), h(9)); err != nil {
			t.Fatal(err)
		}
	}
	// a: pass, fails at 2, fixed at 4. b: fails from 1, exempted from 3 for "fw". c: no data.
	ingest("a", run(1, h(1), "fw", "pass", "stealth", "pass"), run(2, h(2), "fw", "fail", "stealth", "pass"), run(3, h(4), "fw", "pass", "stealth", "pass"))
	ingest("b", run(1, h(1), "fw", "fail", "stealth", "pass"))
	if err := s.AddExemption(ctx, store.Exemption{ID: "e1", HostID: "b", Check: "fw", Reason: "lab", ApprovedBy: "ciso", CreatedAt: h(3), Expires: h(5)}, "admin"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		at           time.Time
		label, check string
		want         store.Compliance
	}{
		{h(0), "", "", store.Compliance{Hosts: 3, NoData: 3, PerCheck: map[string]store.CheckCount{}}},
		{h(1), "", "", store.Compliance{Hosts: 3, Compliant: 1, NonCompliant: 1, NoData: 1, PerCheck: map[string]store.CheckCount{
			"fw": {Pass: 1, Fail: 1}, "stealth": {Pass: 2}}}},
		{h(2), "", "", store.Compliance{Hosts: 3, NonCompliant: 2, NoData: 1, PerCheck: map[string]store.CheckCount{
			"fw": {Fail: 2}, "stealth": {Pass: 2}}}},
		{h(3), "laptops", "fw", store.Compliance{Hosts: 2, Compliant: 1, NonCompliant: 1, PerCheck: map[string]store.CheckCount{
			"fw": {Fail: 1, Exempt: 1}}}},
		{h(4), "laptops", "", store.Compliance{Hosts: 2, Compliant: 2, PerCheck: map[string]store.CheckCount{
			"fw": {Pass: 1, Exempt: 1}, "stealth": {Pass: 2}}}},
		{h(6), "", "", store.Compliance{Hosts: 3, Compliant: 1, NonCompliant: 1, NoData: 1, PerCheck: map[string]store.CheckCount{
			"fw": {Pass: 1, Fail: 1}, "stealth": {Pass: 2}}}},
		{h(6), "servers", "", store.Compliance{Hosts: 1, NoData: 1, PerCheck: map[string]store.CheckCount{}}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s/%s", tt.at.Format("15h"), tt.label, tt.check), func(t *testing.T) {
			got, err := s.ComplianceAt(ctx, tt.at, tt.label, tt.check)
			if err != nil {
				t.Fatal(err)
			}
			tt.want.At = tt.at
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ComplianceAt(%v, %q, %q) (-want +got):\n%s", tt.at, tt.label, tt.check, diff)
			}
		})
	}
}

func TestAlertsFoldUntilAcknowledged(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	enroll(t, s, "h1")
	alert := func(seq uint64, at time.Time, count int) wire.Record {
		return wire.Record{Seq: seq, Kind: wire.KindAlert, Time: at, Alert: &wire.Alert{Rule: "alf-off", Severity: "high",
			Process: "socketfilterfw", Parent: "bash", CommandLine: "socketfilterfw --setglobalstate off", Count: count, FirstSeen: at, LastSeen: at}}
	}
	if _, err := s.Ingest(ctx, "h1", batch(alert(1, t0, 1), alert(2, t0.Add(time.Minute), 2)), t0); err != nil {
		t.Fatal(err)
	}
	got, err := s.Alerts(ctx, "h1", true)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Alert.Count != 3 || got[0].Duplicate != 1 || !got[0].Alert.FirstSeen.Equal(t0) || !got[0].Alert.LastSeen.Equal(t0.Add(time.Minute)) {
		t.Fatalf("Alerts() = %+v, want one alert counting 3, seen from t0 to t0+1m", got)
	}
	if err := s.AckAlert(ctx, got[0].ID, "alice", "known", t0); err != nil {
		t.Fatal(err)
	}
	if err := s.AckAlert(ctx, 999, "alice", "", t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AckAlert(missing) = %v, want ErrNotFound", err)
	}
	if _, err := s.Ingest(ctx, "h1", batch(alert(3, t0.Add(time.Hour), 1)), t0); err != nil {
		t.Fatal(err)
	}
	all, _ := s.Alerts(ctx, "h1", false)
	open, _ := s.Alerts(ctx, "h1", true)
	if len(all) != 2 || len(open) != 1 || all[1].AckedBy != "alice" {
		t.Errorf("after ack and a new report: %d alerts, %d open (want 2, 1); first acked by %q", len(all), len(open), all[1].AckedBy)
	}
}

func TestPolicies(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	h := store.Host{ID: "h1", Labels: []string{"eng", "laptops"}}
	if _, err := s.PolicyFor(ctx, h); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PolicyFor() with no policies = %v, want ErrNotFound", err)
	}
	put := func(p store.Policy) store.Policy {
		t.Helper()
		p.Mode, p.IntervalSeconds = wire.ModeReport, 3600
		got, err := s.PutPolicy(ctx, p, "admin")
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	put(store.Policy{Name: "default"})
	put(store.Policy{Name: "laptops", Label: "laptops", Priority: 20})
	put(store.Policy{Name: "eng", Label: "eng", Priority: 10})
	if p := put(store.Policy{Name: "eng", Label: "eng", Priority: 10}); p.Version != 2 {
		t.Errorf("PutPolicy() again: Version = %d, want 2", p.Version)
	}
	tests := []struct {
		labels []string
		want   string
	}{
		{[]string{"eng", "laptops"}, "eng"},
		{[]string{"laptops"}, "laptops"},
		{[]string{"other"}, "default"},
		{nil, "default"},
	}
	for _, tt := range tests {
		p, err := s.PolicyFor(ctx, store.Host{ID: "h", Labels: tt.labels})
		if err != nil || p.Name != tt.want {
			t.Errorf("PolicyFor(labels %v) = %q, %v; want %q", tt.labels, p.Name, err, tt.want)
		}
	}
	log, _ := s.AuditLog(ctx, time.Time{})
	if len(log) != 4 || log[0].Action != "policy.put" || log[0].Actor != "admin" {
		t.Errorf("AuditLog() = %+v, want 4 policy.put entries by admin", log)
	}
}

func TestListenNotifyAcrossStores(t *testing.T) {
	a, url := open(t)
	b, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 4)
	a.listening = func(ch string) { ready <- ch }
	got := make(chan string, 4)
	done := make(chan error, 1)
	go func() { done <- a.Listen(ctx, "nudges", func(p string) { got <- p }) }()
	<-ready
	if err := b.Notify(ctx, "nudges", `{"host_id":"h1"}`); err != nil {
		t.Fatal(err)
	}
	if p := <-got; p != `{"host_id":"h1"}` {
		t.Errorf("Listen() delivered %q, want the payload sent", p)
	}

	// The listening connection is killed (a failover): Listen reconnects and delivers again.
	if _, err := b.pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'`); err != nil {
		t.Fatal(err)
	}
	<-ready
	if err := b.Notify(ctx, "nudges", "again"); err != nil {
		t.Fatal(err)
	}
	if p := <-got; p != "again" {
		t.Errorf("Listen() after reconnecting delivered %q, want %q", p, "again")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Listen() after cancel = %v, want nil", err)
	}
	if err := b.Notify(context.Background(), "nudges", string(make([]byte, MaxPayload+1))); err == nil {
		t.Error("Notify(oversized payload) = nil error")
	}
}

func TestTryAdvisoryLockAcrossStores(t *testing.T) {
	a, url := open(t)
	b, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	unlock, ok, err := a.TryAdvisoryLock(ctx, 42)
	if err != nil || !ok {
		t.Fatalf("TryAdvisoryLock() on a free key = %v, %v; want true", ok, err)
	}
	if _, ok, err := b.TryAdvisoryLock(ctx, 42); err != nil || ok {
		t.Errorf("TryAdvisoryLock() by another store while held = %v, %v; want false", ok, err)
	}
	if u, ok, err := b.TryAdvisoryLock(ctx, 43); err != nil || !ok {
		t.Errorf("TryAdvisoryLock(other key) = %v, %v; want true", ok, err)
	} else {
		u()
	}
	unlock()
	unlock() // twice is harmless
	u2, ok, err := b.TryAdvisoryLock(ctx, 42)
	if err != nil || !ok {
		t.Fatalf("TryAdvisoryLock() after unlock = %v, %v; want true", ok, err)
	}
	u2()
	// The lock does not leak to the next user of a's pooled connection.
	if u, ok, _ := a.TryAdvisoryLock(ctx, 42); !ok {
		t.Error("TryAdvisoryLock() after every holder unlocked = false")
	} else {
		u()
	}
}

func TestIdentity(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	tok := store.Token{ID: "t1", Name: "ops", Role: store.RoleAdmin, Hash: hash("tok"), CreatedAt: t0}
	if err := s.AddToken(ctx, tok, "init"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddToken(ctx, store.Token{ID: "t2", Name: "ops", Role: store.RoleAuditor, Hash: hash("tok2"), CreatedAt: t0}, "init"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("AddToken(same name) = %v, want ErrConflict", err)
	}
	got, err := s.TokenByHash(ctx, hash("tok"))
	if diff := cmp.Diff(tok, got); err != nil || diff != "" {
		t.Errorf("TokenByHash() = %v (-want +got):\n%s", err, diff)
	}
	if err := s.RevokeToken(ctx, "t1", "admin", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenByHash(ctx, hash("tok")); !errors.Is(err, store.ErrRevoked) {
		t.Errorf("TokenByHash(revoked) = %v, want ErrRevoked", err)
	}
	if err := s.RevokeToken(ctx, "nope", "admin", t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RevokeToken(missing) = %v, want ErrNotFound", err)
	}
	// Re-enrolment keeps the ID and history, replaces the credential.
	h1 := enroll(t, s, "h1", "laptops")
	if _, err := s.Ingest(ctx, "h1", batch(run(1, t0, "alf", "pass")), t0); err != nil {
		t.Fatal(err)
	}
	again, err := s.EnrollHost(ctx, store.Host{ID: "h-new", UUID: h1.UUID, Hostname: "renamed", EnrolledAt: t0.Add(time.Hour)}, hash("cred2"))
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != "h1" || again.Hostname != "renamed" || again.LastSeq != 0 {
		t.Errorf("EnrollHost(same uuid) = id %q hostname %q last seq %d; want h1, renamed, 0 (a new sequence)", again.ID, again.Hostname, again.LastSeq)
	}
	if _, err := s.HostByCredential(ctx, hash("cred-h1")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("HostByCredential(old credential) = %v, want ErrNotFound", err)
	}
	enroll(t, s, "h2", "servers")
	stale := true
	for _, tt := range []struct {
		f    store.HostFilter
		want []string
	}{
		{store.HostFilter{}, []string{"h1", "h2"}},
		{store.HostFilter{Label: "servers"}, []string{"h2"}},
		{store.HostFilter{Check: "alf", Status: "pass"}, []string{"h1"}},
		{store.HostFilter{Limit: 1}, []string{"h1"}},
		{store.HostFilter{After: "h1"}, []string{"h2"}},
		{store.HostFilter{Stale: &stale, Now: t0.Add(90*time.Minute + 2*time.Hour)}, []string{"h2"}}, // 3 default intervals
	} {
		hosts, err := s.Hosts(ctx, tt.f)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, h := range hosts {
			ids = append(ids, h.ID)
		}
		if diff := cmp.Diff(tt.want, ids); diff != "" {
			t.Errorf("Hosts(%+v) (-want +got):\n%s", tt.f, diff)
		}
	}
}

func TestPrune(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	enroll(t, s, "h1")
	if _, err := s.Ingest(ctx, "h1", batch(run(1, t0, "alf", "pass"), run(2, t0.Add(48*time.Hour), "alf", "fail")), t0); err != nil {
		t.Fatal(err)
	}
	n, err := s.Prune(ctx, t0.Add(24*time.Hour))
	if err != nil || n != 1 {
		t.Errorf("Prune() = %d, %v; want 1", n, err)
	}
	if tr, _ := s.Transitions(ctx, "h1", "", time.Time{}, time.Time{}); len(tr) != 2 {
		t.Errorf("Transitions() after Prune = %d, want 2 (kept)", len(tr))
	}
}

// An admin action that writes nothing else (a nudge) is in the audit log, with its detail; a
// detail that is not JSON is refused and leaves no row.
func TestAppendAudit(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	at := time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC)
	if err := s.AppendAudit(ctx, store.Audit{Time: at, Actor: "admin", Action: "host.nudge", Target: "h1", Detail: `{"hosts":1}`}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAudit(ctx, store.Audit{Time: at, Actor: "admin", Action: "host.nudge", Target: "h2", Detail: `{not json`}); err == nil {
		t.Error("AppendAudit with a detail that is not JSON succeeded")
	}
	log, err := s.AuditLog(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 1 || log[0].Action != "host.nudge" || log[0].Target != "h1" || log[0].Actor != "admin" || !strings.Contains(log[0].Detail, `"hosts"`) {
		t.Errorf("AuditLog() = %+v, want one host.nudge of h1 by admin with its detail", log)
	}
}

// The pool holds enough connections for concurrent ingests to share commits on a small
// machine, unless the URL says otherwise.
func TestPoolSize(t *testing.T) {
	url := pgtest.Start(t)
	ctx := context.Background()
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	for _, tt := range []struct {
		name, url string
		want      int32
	}{
		{"default", url, max(defaultMaxConns, int32(runtime.NumCPU()))},
		{"from the URL", url + sep + "pool_max_conns=3", 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(ctx, tt.url)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got := s.pool.Config().MaxConns; got != tt.want {
				t.Errorf("Open(%s).MaxConns = %d, want %d", tt.name, got, tt.want)
			}
		})
	}
}
