package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/store/storetest"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// schema returns the database's schema: every table and index with its SQL.
func schema(t *testing.T, s *Store) []string {
	t.Helper()
	rows, err := s.r.Query(`SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM sqlite_master
		WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		out = append(out, line)
	}
	return out
}

// TestUpgradeFromEveryVersion builds a database at every earlier schema version N (by applying
// migrations 1..N), writes what that version can hold, and checks that Open upgrades it to the
// same schema as a new database, keeping the data.
func TestUpgradeFromEveryVersion(t *testing.T) {
	ctx := context.Background()
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	fresh := openTemp(t)
	wantSchema := schema(t, fresh)
	if v, err := fresh.Version(ctx); err != nil || v != len(ms) {
		t.Fatalf("Version(new database) = %d, %v; want %d", v, err, len(ms))
	}
	for n := 0; n < len(ms); n++ {
		t.Run(fmt.Sprintf("from %d", n), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "fleet.db")
			old, err := openAt(path, n)
			if err != nil {
				t.Fatalf("openAt(%d) = %v", n, err)
			}
			if v, err := old.Version(ctx); err != nil || v != n {
				t.Fatalf("Version(at %d) = %d, %v", n, v, err)
			}
			// What that version holds, written as that version's code wrote it: this code's
			// statements name columns that older versions lack.
			if n >= 1 { // identity tables
				if err := old.AddToken(ctx, store.Token{ID: "t1", Name: "alice", Role: store.RoleAdmin, Hash: storetest.Hash("a"), CreatedAt: storetest.T0}, "init"); err != nil {
					t.Fatalf("AddToken(at %d) = %v", n, err)
				}
				if _, err := old.w.Exec(`INSERT INTO hosts (id, uuid, cred_hash, hostname, os, os_version, agent_version, labels,
					enrolled_at, last_seen) VALUES ('h1', 'u1', ?, '', '', '', '', '["mac"]', ?, ?)`,
					storetest.Hash("c"), ts(storetest.T0), ts(storetest.T0.Add(time.Minute))); err != nil {
					t.Fatalf("insert a host (at %d) = %v", n, err)
				}
				if _, err := old.w.Exec(`INSERT INTO host_labels (label, host_id) VALUES ('mac', 'h1')`); err != nil {
					t.Fatal(err)
				}
			}
			if n >= 2 { // results tables
				if _, err := old.w.Exec(`INSERT INTO runs (host_id, seq, run_id, policy, mode, baseline_name, baseline_sha256,
					started, finished, results) VALUES ('h1', 1, 'run-1', '', '', '', '', 0, ?, '[]')`, ts(storetest.T0.Add(time.Minute))); err != nil {
					t.Fatalf("insert a run (at %d) = %v", n, err)
				}
				if _, err := old.w.Exec(`UPDATE hosts SET last_seq = 1`); err != nil {
					t.Fatal(err)
				}
				// The run's one result, as Ingest kept it: a transition, the hourly counts and
				// the host's posture.
				t1 := ts(storetest.T0.Add(time.Minute))
				for _, q := range []string{
					`INSERT INTO checks (check_id) VALUES ('alf')`,
					`INSERT INTO current (host_id, check_id, status, actual, expected, since, run_id) VALUES ('h1', 'alf', 'fail', 'x', '', ?1, 'run-1')`,
					`INSERT INTO transitions (host_id, check_id, time, from_status, to_status, actual, run_id, cause, seq) VALUES ('h1', 'alf', ?1, '', 'fail', 'x', 'run-1', 'observed', 1)`,
					`INSERT INTO status_deltas (hour, check_id, status, n) VALUES (?1 / 3600000000000, 'alf', 'fail', 1)`,
					`INSERT INTO posture (host_id, time, from_state, to_state) VALUES ('h1', ?1, '', 'noncompliant')`,
					`INSERT INTO posture_deltas (hour, state, n) VALUES (?1 / 3600000000000, 'noncompliant', 1)`,
				} {
					if _, err := old.w.Exec(q, t1); err != nil {
						t.Fatalf("%s (at %d) = %v", q, n, err)
					}
				}
			}
			// An exemption as made before approvals existed (by its approver, when made).
			exemptAt := storetest.T0.Add(3 * time.Hour)
			// Since 0008, an approved exemption is stored with its requester and approval time.
			if n >= 3 {
				q := `INSERT INTO exemptions (id, host_id, label, check_id, reason, approved_by, created_at, expires, revoked_at)
					VALUES ('ex-old', 'h1', '', 'alf', 'lab', 'ciso', ?1, 0, 0)`
				if n >= 8 {
					q = `INSERT INTO exemptions (id, host_id, label, check_id, reason, approved_by, created_at, expires, revoked_at,
					requested_by, approved_at) VALUES ('ex-old', 'h1', '', 'alf', 'lab', 'ciso', ?1, 0, 0, 'ciso', ?1)`
				}
				if _, err := old.w.Exec(q, ts(exemptAt)); err != nil {
					t.Fatalf("insert an exemption (at %d) = %v", n, err)
				}
			}
			old.Close()

			s, err := Open(path)
			if err != nil {
				t.Fatalf("Open(database at version %d) = %v", n, err)
			}
			defer s.Close()
			if v, err := s.Version(ctx); err != nil || v != len(ms) {
				t.Errorf("Version after upgrade from %d = %d, %v; want %d", n, v, err, len(ms))
			}
			if diff := cmp.Diff(wantSchema, schema(t, s)); diff != "" {
				t.Errorf("schema upgraded from %d differs from a new one (-new +upgraded):\n%s", n, diff)
			}
			if n >= 1 {
				if _, err := s.TokenByHash(ctx, storetest.Hash("a")); err != nil {
					t.Errorf("TokenByHash after upgrade = %v", err)
				}
			} else if _, err := s.EnrollHost(ctx, store.Host{ID: "h1", UUID: "u1", Labels: []string{"mac"}, EnrolledAt: storetest.T0}, storetest.Hash("c")); err != nil {
				t.Fatal(err)
			}
			want := uint64(1)
			if n < 2 {
				want = 0
			}
			if h, err := s.Host(ctx, "h1"); err != nil || h.LastSeq != want {
				t.Errorf("Host after upgrade = LastSeq %d, %v; want %d", h.LastSeq, err, want)
			} else if n >= 1 && n < 4 && !h.StaleAt.Equal(storetest.T0.Add(time.Minute+3*time.Hour)) {
				t.Errorf("Host after upgrade from %d: StaleAt = %v, want last seen + 3 default intervals", n, h.StaleAt)
			}
			if n >= 2 && n < 4 {
				// The per-label counts are filled from the history: the label's one host counts.
				at := storetest.T0.Add(2 * time.Hour)
				want, err := s.ComplianceAt(ctx, at, "", "")
				if err != nil || want.NonCompliant != 1 {
					t.Errorf("ComplianceAt(fleet) after upgrade from %d = %+v, %v; want 1 non-compliant", n, want, err)
				}
				got, err := s.ComplianceAt(ctx, at, "mac", "")
				if diff := cmp.Diff(want, got); err != nil || diff != "" {
					t.Errorf("ComplianceAt(label mac) after upgrade from %d = %v (-fleet +label):\n%s", n, err, diff)
				}
				r, err := s.LatestRun(ctx, "h1")
				if err != nil || !r.Confirmed.Equal(r.Finished) || r.LastRunID != r.RunID || r.Repeats != 0 {
					t.Errorf("LatestRun after upgrade from %d = %+v, %v; want confirmed at finished", n, r, err)
				}
			}
			if n >= 3 {
				// The old exemption stays in force: approved by its maker when made.
				want := []store.Exemption{{ID: "ex-old", HostID: "h1", Check: "alf", Reason: "lab", RequestedBy: "ciso",
					ApprovedBy: "ciso", ApprovedAt: exemptAt, CreatedAt: exemptAt}}
				got, err := s.Exemptions(ctx, exemptAt)
				if diff := cmp.Diff(want, got); err != nil || diff != "" {
					t.Errorf("Exemptions(%v) after upgrade from %d = %v (-want +got):\n%s", exemptAt, n, err, diff)
				}
				if c, err := s.ComplianceAt(ctx, exemptAt, "", "alf"); err != nil || c.PerCheck["alf"].Exempt != 1 {
					t.Errorf("ComplianceAt(%v) after upgrade from %d = %+v, %v; want h1's failure exempt", exemptAt, n, c, err)
				}
			}
			// The upgraded database takes every kind of write.
			res, err := s.Ingest(ctx, "h1", wire.ReportBatch{Records: []wire.Record{runRecord(want+1, storetest.T0.Add(time.Hour), "pass")}}, storetest.T0.Add(time.Hour))
			if err != nil || res.Acked != want+1 {
				t.Errorf("Ingest after upgrade = %+v, %v; want acked %d", res, err, want+1)
			}
			if _, err := s.PutPolicy(ctx, store.Policy{Name: "default", Mode: wire.ModeReport, IntervalSeconds: 60}, "alice"); err != nil {
				t.Errorf("PutPolicy after upgrade = %v", err)
			}
			if err := s.AddUser(ctx, store.User{Name: "alice", Role: store.RoleAdmin, PasswordHash: "$argon2id$x", CreatedAt: storetest.T0}, "init"); err != nil {
				t.Errorf("AddUser after upgrade from %d = %v", n, err)
			} else if u, err := s.UserByName(ctx, "alice"); err != nil || u.Role != store.RoleAdmin {
				t.Errorf("UserByName after upgrade from %d = %+v, %v", n, u, err)
			}
		})
	}
}

func runRecord(seq uint64, at time.Time, status string) wire.Record {
	return wire.Record{Seq: seq, Kind: wire.KindRun, Time: at, Run: &wire.Run{
		RunID: fmt.Sprint("run-", seq), Finished: at,
		Results: []wire.Result{{Check: "alf", Status: status, Actual: "x"}},
	}}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fleet.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(path)
	if err == nil {
		s.Close()
		t.Fatalf("Open(schema 999) = nil, want an error")
	}
	if !strings.Contains(err.Error(), "newer firewarden-server") {
		t.Errorf("Open(schema 999) = %v, want it to say a newer server is needed", err)
	}
}

func TestOpenBadPath(t *testing.T) {
	if s, err := Open(filepath.Join(t.TempDir(), "missing", "dir", "fleet.db")); err == nil {
		s.Close()
		t.Errorf("Open(in a missing directory) = nil, want an error")
	}
}

// TestPragmas checks the settings durability and concurrency rest on, on both pools.
func TestPragmas(t *testing.T) {
	s := openTemp(t)
	for _, tt := range []struct {
		pragma, want string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
		{"busy_timeout", "10000"},
	} {
		for _, pool := range []struct {
			name string
			s    func() (string, error)
		}{
			{"writer", func() (string, error) {
				var v string
				err := s.w.QueryRow("PRAGMA " + tt.pragma).Scan(&v)
				return v, err
			}},
			{"reader", func() (string, error) {
				var v string
				err := s.r.QueryRow("PRAGMA " + tt.pragma).Scan(&v)
				return v, err
			}},
		} {
			got, err := pool.s()
			if err != nil || got != tt.want {
				t.Errorf("%s: PRAGMA %s = %q, %v; want %q", pool.name, tt.pragma, got, err, tt.want)
			}
		}
	}
}

// TestQueryPlans checks that the queries behind the admin pages and the agent API use an index,
// never a scan of a table that grows with the fleet.
func TestQueryPlans(t *testing.T) {
	s := openTemp(t)
	for _, tt := range []struct {
		name  string
		query string
		args  []any
		want  string
	}{
		{"compliance per check", qStatusAt, []any{"alf", 0}, "USING COVERING INDEX transitions_check_host_time"},
		{"compliance per check and label", qStatusAtLabel, []any{"alf", 0, "mac"}, "USING COVERING INDEX transitions_check_host_time (check_id=? AND host_id=? AND time<?)"},
		{"host history", `SELECT host_id, check_id, time, from_status, to_status, actual, run_id, cause, seq FROM transitions WHERE 1 AND host_id = ? AND time >= ? ORDER BY time, id`, []any{"h", 0}, "USING INDEX transitions_host_time"},
		{"check history", `SELECT host_id FROM transitions WHERE 1 AND check_id = ? AND time >= ?`, []any{"alf", 0}, "USING INDEX transitions_check_time (check_id=? AND time>?)"},
		{"current results", `SELECT check_id, status FROM current WHERE host_id = ? ORDER BY check_id`, []any{"h"}, "USING PRIMARY KEY"},
		{"hosts by label", `SELECT id FROM hosts WHERE id IN (SELECT host_id FROM host_labels WHERE label = ?) ORDER BY id`, []any{"mac"}, "USING PRIMARY KEY (label=?)"},
		{"hosts by check status", `SELECT id FROM hosts WHERE id IN (SELECT host_id FROM current WHERE check_id = ? AND status = ?)`, []any{"alf", "fail"}, "USING COVERING INDEX current_check_status"},
		{"host by credential", `SELECT id FROM hosts WHERE cred_hash = ?`, []any{[]byte{1}}, "USING INDEX sqlite_autoindex_hosts"},
		{"token by hash", `SELECT id FROM tokens WHERE hash = ?`, []any{[]byte{1}}, "USING INDEX sqlite_autoindex_tokens"},
		{"dedupe", `SELECT 1 FROM pending WHERE host_id = ? AND lo <= ? AND hi >= ? LIMIT 1`, []any{"h", 1, 1}, "USING PRIMARY KEY (host_id=? AND lo<?)"},
		{"prune", `DELETE FROM runs WHERE confirmed < ?`, []any{0}, "USING COVERING INDEX runs_confirmed"},
		{"stale hosts with their posture", qStalePosture, []any{1}, "USING INDEX hosts_stale_at (stale_at<?)"},
		{"stale compliant hosts", `SELECT count(*) ` + qStaleHosts + ` AND h.posture_since <= ?1 AND h.posture = 'compliant'`, []any{1}, "USING COVERING INDEX hosts_stale_at (stale_at<?)"},
		{"stale hosts with a check's status", qStaleStatus, []any{1, "alf"}, "USING INDEX hosts_stale_at (stale_at<?)"},
		{"hosts by staleness", `SELECT id FROM hosts WHERE stale_at <= ? AND id > ? ORDER BY id LIMIT 100`, []any{1, ""}, "SEARCH hosts USING"},
		{"latest run", `SELECT run_id FROM runs WHERE host_id = ? ORDER BY finished DESC, id DESC LIMIT 1`, []any{"h"}, "USING INDEX runs_host_finished"},
		{"status counts before an hour", `SELECT check_id, status, sum(n) FROM status_deltas WHERE hour < ? GROUP BY check_id, status`, []any{1}, "USING PRIMARY KEY (hour<?)"},
		{"a check's transitions of the last hour", `SELECT check_id, from_status, to_status, count(*) FROM transitions WHERE time >= ? AND time <= ? AND +check_id = ? GROUP BY check_id, from_status, to_status`, []any{0, 1, "alf"}, "USING COVERING INDEX transitions_time_counts"},
		{"transitions of the last hour", `SELECT check_id, from_status, to_status, count(*) FROM transitions WHERE time >= ? AND time <= ? GROUP BY check_id, from_status, to_status`, []any{0, 1}, "USING COVERING INDEX transitions_time_counts"},
		{"a label's transitions of the last hour", `SELECT check_id, from_status, to_status, count(*) FROM transitions WHERE time >= ?1 AND time <= ?2` + inLabel("mac", "transitions.host_id") + ` GROUP BY check_id, from_status, to_status`, []any{0, 1, nil, nil, nil, nil, nil, nil, "mac"}, "USING COVERING INDEX transitions_time_counts"},
		{"status counts between instants", `SELECT check_id, status, sum(n) FROM status_deltas WHERE hour >= ?1 AND hour < ?2 GROUP BY check_id, status`, []any{0, 1}, "USING PRIMARY KEY (hour>? AND hour<?)"},
		{"label status counts between instants", `SELECT check_id, status, sum(n) FROM label_status_deltas WHERE hour >= ?1 AND hour < ?2 AND label = ?3 GROUP BY check_id, status`, []any{0, 1, "mac"}, "USING PRIMARY KEY (label=? AND hour>? AND hour<?)"},
		{"revoked hosts", `SELECT id, enrolled_at, revoked_at FROM hosts INDEXED BY hosts_revoked WHERE revoked_at != 0`, nil, "USING INDEX hosts_revoked"},
		{"hosts enrolled since", `SELECT enrolled_at FROM hosts WHERE enrolled_at > ?`, []any{1}, "USING COVERING INDEX hosts_enrolled (enrolled_at>?)"},
		{"label status counts before an hour", `SELECT check_id, status, sum(n) FROM label_status_deltas WHERE hour < ? AND label = ? GROUP BY check_id, status`, []any{1, "mac"}, "USING PRIMARY KEY (label=? AND hour<?)"},
		{"label posture counts before an hour", `SELECT state, sum(n) FROM label_posture_deltas WHERE hour < ? AND label = ? GROUP BY state`, []any{1, "mac"}, "USING PRIMARY KEY (label=? AND hour<?)"},
		{"posture counts before an hour", `SELECT state, sum(n) FROM posture_deltas WHERE hour < ? GROUP BY state`, []any{1}, "USING PRIMARY KEY (hour<?)"},
		{"posture of the last hour", `SELECT from_state, to_state, count(*) FROM posture WHERE time >= ? AND time <= ? GROUP BY from_state, to_state`, []any{0, 1}, "USING COVERING INDEX posture_time_counts"},
		{"hosts at an instant", `SELECT count(*) FROM hosts WHERE enrolled_at <= ?1 AND (revoked_at = 0 OR revoked_at > ?1)`, []any{1}, "USING COVERING INDEX hosts_enrolled"},
		{"status at", `SELECT to_status FROM transitions WHERE check_id = ? AND host_id = ? AND time <= ? ORDER BY id DESC LIMIT 1`, []any{"a", "h", 1}, "USING COVERING INDEX transitions_check_host_time"},
		{"posture at", `SELECT to_state FROM posture WHERE host_id = ? AND time <= ? ORDER BY time DESC, rowid DESC LIMIT 1`, []any{"h", 1}, "USING INDEX posture_host_time"},
		{"open alert", `SELECT id, alert FROM alerts WHERE host_id = ? AND rule = ? AND process = ? AND parent = ? AND command_line = ? AND acked_at = 0`, []any{"h", "r", "p", "q", "c"}, "USING INDEX alerts_open_key"},
		{"session by hash", `SELECT s.csrf, u.role FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.hash = ? AND s.expires > ?`, []any{[]byte{1}, 1}, "USING INDEX sqlite_autoindex_sessions"},
		{"sessions of a user", `DELETE FROM sessions WHERE user_name = ?`, []any{"ada"}, "USING COVERING INDEX sessions_user"},
		{"expired sessions", `DELETE FROM sessions WHERE expires < ?`, []any{1}, "USING COVERING INDEX sessions_expires"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := s.r.Query("EXPLAIN QUERY PLAN "+tt.query, tt.args...)
			if err != nil {
				t.Fatalf("EXPLAIN %s = %v", tt.query, err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, notused int
				var detail string
				if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			got := strings.Join(plan, "; ")
			if !strings.Contains(got, tt.want) {
				t.Errorf("plan of %q = %q, want %q", tt.query, got, tt.want)
			}
			for _, step := range plan {
				if strings.HasPrefix(step, "SCAN ") && !strings.Contains(step, "INDEX") && !strings.Contains(step, "PRIMARY KEY") {
					t.Errorf("plan of %q scans a table: %q", tt.query, step)
				}
			}
		})
	}
}

func TestLatestRun(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	if _, err := s.EnrollHost(ctx, store.Host{ID: "h1", UUID: "u1", EnrolledAt: storetest.T0}, storetest.Hash("c")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LatestRun(ctx, "h1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LatestRun(no run) = %v, want ErrNotFound", err)
	}
	first := runRecord(1, storetest.T0.Add(time.Minute), "pass")
	second := runRecord(2, storetest.T0.Add(2*time.Minute), "fail")
	second.Run.Results[0].Evidence = []wire.Evidence{{Kind: "exec", Argv: []string{"/usr/libexec/ApplicationFirewall/socketfilterfw", "--getglobalstate"},
		Output: "Firewall is disabled. (State = 0)", SHA256: "ab"}}
	if _, err := s.Ingest(ctx, "h1", wire.ReportBatch{Records: []wire.Record{first, second}}, storetest.T0); err != nil {
		t.Fatal(err)
	}
	got, err := s.LatestRun(ctx, "h1")
	if err != nil {
		t.Fatalf("LatestRun = %v", err)
	}
	if diff := cmp.Diff(store.StoredRun{Run: *second.Run, Seq: 2, Confirmed: second.Run.Finished, LastRunID: "run-2"}, got); diff != "" {
		t.Errorf("LatestRun (-want +got):\n%s", diff)
	}
}
