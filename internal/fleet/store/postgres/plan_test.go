package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// TestQueryPlans checks that the queries behind the admin pages and the agent API can use an
// index, never a scan of a table that grows with the fleet. Sequential scans are priced out
// (enable_seqscan = off), so an empty database shows the plan a large one would have if the
// index exists, and a Seq Scan only where none does.
func TestQueryPlans(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	conn := planConn(t, s)
	now := time.Now()
	for _, tt := range []struct {
		name  string
		query string
		args  []any
		want  string // an index the plan uses
	}{
		{"ingest lock", `SELECT last_seq FROM hosts WHERE id = $1 FOR UPDATE`, []any{"h"}, "hosts_pkey"},
		{"ingest pending", `SELECT lo, hi FROM pending WHERE host_id = $1`, []any{"h"}, "pending_pkey"},
		{"current results", `SELECT check_id, status FROM current WHERE host_id = $1 ORDER BY check_id`, []any{"h"}, "current_pkey"},
		{"compliance deltas", qStatusDeltas, []any{now, "", ""}, "status_deltas_label_time"},
		{"compliance deltas by label", qStatusDeltas, []any{now, "mac", "alf"}, "status_deltas_label_time"},
		{"compliance hour", qStatusSpans, []any{[]time.Time{now}, []time.Time{now}, "mac", ""}, "transitions_time_counts"},
		{"compliance hours", qStatusSpans, []any{[]time.Time{now, now}, []time.Time{now, now}, "", ""}, "transitions_time_counts"},
		{"compliance deltas per instant", qStatusDeltasSeries, []any{[]time.Time{now}, "mac", now, ""}, "status_deltas_label_time"},
		{"posture deltas per instant", qPostureDeltasSeries, []any{[]time.Time{now}, "", now}, "posture_deltas_label_time"},
		{"revoked hosts", qRevokedSeries, []any{""}, "hosts_revoked"},
		{"posture deltas", qPostureDeltas, []any{now, ""}, "posture_deltas_label_time"},
		{"posture hour", qPostureSpans, []any{[]time.Time{now}, []time.Time{now}, ""}, "posture_time_counts"},
		{"compliance revoked", qRevokedAll, []any{[]time.Time{now}, ""}, "hosts_revoked"},
		{"compliance exempted", qExemptedAll, []any{[]time.Time{now}, "", ""}, "current_pkey"},
		// See "stale compliant for a check".
		{"compliance exact", qExactAt, []any{now, []string{"h"}, []string{}}, "current_pkey"},
		{"compaction", foldStatusDeltas, []any{now}, "status_deltas_raw"},
		{"host history", `SELECT time FROM transitions WHERE host_id = $1 AND time >= $2 ORDER BY time, id`, []any{"h", now}, "transitions_host_time"},
		{"hosts by label", `SELECT id FROM hosts WHERE labels @> ARRAY[$1]::text[] ORDER BY id`, []any{"mac"}, "hosts_labels"},
		{"hosts by check status", `SELECT id FROM hosts WHERE EXISTS (SELECT 1 FROM current c WHERE c.host_id = hosts.id AND c.check_id = $1 AND c.status = $2)`, []any{"alf", "fail"}, "current_check_status"},
		{"stale hosts", `SELECT id FROM hosts WHERE stale_at <= $1`, []any{now}, "hosts_stale_at"},
		{"stale compliant", qStaleFleet, []any{now, "", []string{}}, "posture_host_time"},
		{"stale compliant per instant", qStaleFleetAll, []any{[]time.Time{now}, now, "", []int64{}, []string{}}, "hosts_stale_at"},
		{"stale compliant for a check per instant", qStaleCheckAll, []any{[]time.Time{now}, now, "", []int64{}, []string{}, "alf"}, "current_check_status"},
		// On empty tables transitions_check_time (CheckHistory) ties with
		// transitions_host_check_time for its per-host probe; TestCheckHistoryIndexWithStatistics
		// shows that with statistics the probe takes the latter.
		{"stale compliant for a check", qStaleCheck, []any{now, "", []string{}, "alf"}, "current_check_status"},
		{"host by credential", `SELECT id FROM hosts WHERE cred_hash = $1`, []any{[]byte{1}}, "hosts_cred_hash_key"},
		{"token by hash", `SELECT id FROM tokens WHERE hash = $1`, []any{[]byte{1}}, "tokens_hash_key"},
		{"prune", `DELETE FROM runs WHERE finished < $1 AND confirmed < $1`, []any{now}, "runs_finished"},
		{"latest run", `SELECT run_id FROM runs WHERE host_id = $1 ORDER BY finished DESC, id DESC LIMIT 1`, []any{"h"}, "runs_host_finished"},
		{"open alert", `SELECT id FROM alerts WHERE host_id = $1 AND rule = $2 AND process = $3 AND parent = $4 AND command_line = $5 AND acked_at IS NULL`, []any{"h", "r", "p", "q", "c"}, "alerts_open_key"},
		{"host alerts", `SELECT id FROM alerts WHERE host_id = $1 ORDER BY id DESC`, []any{"h"}, "alerts_host"},
		{"audit since", `SELECT id FROM audit WHERE time >= $1 ORDER BY id`, []any{now}, "audit_time"},
		{"session by hash", `SELECT s.csrf, u.role FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.hash = $1 AND s.expires > $2`, []any{[]byte{1}, now}, "sessions_pkey"},
		{"sessions of a user", `DELETE FROM sessions WHERE user_name = $1`, []any{"ada"}, "sessions_user"},
		{"expired sessions", `DELETE FROM sessions WHERE expires < $1`, []any{now}, "sessions_expires"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := conn.Query(ctx, "EXPLAIN "+tt.query, tt.args...)
			if err != nil {
				t.Fatalf("EXPLAIN %s = %v", tt.name, err)
			}
			var plan []string
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, strings.TrimSpace(line))
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			got := strings.Join(plan, "\n")
			if !strings.Contains(got, tt.want) {
				t.Errorf("plan of %s does not use %s:\n%s", tt.name, tt.want, got)
			}
			for _, table := range []string{"transitions", "runs", "pending", "alerts", "current", "status_deltas", "posture_deltas", "posture"} {
				if strings.Contains(got, "Seq Scan on "+table) {
					t.Errorf("plan of %s scans %s:\n%s", tt.name, table, got)
				}
			}
		})
	}
}

func TestLatestRun(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	enroll(t, s, "h1")
	if _, err := s.LatestRun(ctx, "h1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LatestRun(no runs) = %v, want ErrNotFound", err)
	}
	first, second := run(1, t0, "alf", wire.StatusPass), run(2, t0.Add(time.Hour), "alf", wire.StatusFail)
	second.Run.Results[0].Evidence = []wire.Evidence{{Kind: "exec", Argv: []string{"/usr/libexec/ApplicationFirewall/socketfilterfw", "--getglobalstate"},
		Output: "Firewall is disabled. (State = 0)", SHA256: "ab"}}
	if _, err := s.Ingest(ctx, "h1", batch(first, second), t0); err != nil {
		t.Fatal(err)
	}
	got, err := s.LatestRun(ctx, "h1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(*second.Run, got.Run); diff != "" {
		t.Errorf("LatestRun() (-want +got):\n%s", diff)
	}
}

// planConn is a connection of s's pool on which sequential scans are priced out, so that an
// empty database shows the plan a large one would have where an index exists, and a Seq Scan
// only where none does. It goes back to the pool, reset, when the test ends.
func planConn(t *testing.T, s *Store) *pgxpool.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Exec(context.Background(), `RESET enable_seqscan`)
		conn.Release()
	})
	if _, err := conn.Exec(ctx, `SET enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	return conn
}
