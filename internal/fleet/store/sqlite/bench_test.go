package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// benchChecks are the 13 checks of the built-in baseline, by shape if not by name.
var benchChecks = []string{
	"alf-enabled", "alf-stealth", "alf-logging", "alf-block-all", "alf-signed-allowed",
	"alf-signed-downloaded", "pf-enabled", "pf-anchor", "sharing-ssh", "sharing-screen",
	"sharing-file", "sharing-remote-events", "firewall-profile",
}

// benchResults is one run's results with evidence of a realistic size.
func benchResults(status func(i int) string) []wire.Result {
	out := make([]wire.Result, len(benchChecks))
	for i, c := range benchChecks {
		st := status(i)
		actual := "1"
		if st == wire.StatusFail {
			actual = "0"
		}
		out[i] = wire.Result{
			Check: c, Status: st, Expected: "1", Actual: actual, Source: "socketfilterfw",
			Controls: []string{"CIS 2.5.2", "NIST 800-53 SC-7"},
			Evidence: []wire.Evidence{{Kind: "exec", Argv: []string{"/usr/libexec/ApplicationFirewall/socketfilterfw", "--getglobalstate"},
				Output: "Firewall is enabled. (State = " + actual + ")", SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}},
		}
	}
	return out
}

// BenchmarkIngest ingests one batch per op: one run record of 13 results, each of which
// changes status with a 3 % chance, round-robin over 1,000 hosts, through Ingest with every
// durability setting of Open (one fsync'd transaction per batch).
func BenchmarkIngest(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	s, err := Open(filepath.Join(dir, "fleet.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const hosts = 1000
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for h := range hosts {
		id := fmt.Sprintf("h%05d", h)
		if _, err := s.EnrollHost(ctx, store.Host{ID: id, UUID: "u" + id, Labels: []string{"mac"}, EnrolledAt: t0}, []byte(id)); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	state := make([][]bool, hosts) // failing?
	for h := range state {
		state[h] = make([]bool, len(benchChecks))
	}
	seq := make([]uint64, hosts)
	mk := func(n int) wire.ReportBatch {
		h := n % hosts
		seq[h]++
		for i := range state[h] {
			if rng.Float64() < 0.03 {
				state[h][i] = !state[h][i]
			}
		}
		at := t0.Add(time.Duration(n) * time.Second)
		return wire.ReportBatch{Records: []wire.Record{{Seq: seq[h], Kind: wire.KindRun, Time: at, Run: &wire.Run{
			RunID: fmt.Sprintf("run-%d", n), Policy: "default", Mode: wire.ModeEnforce, BaselineName: "cis",
			Started: at.Add(-time.Second), Finished: at,
			Results: benchResults(func(i int) string {
				if state[h][i] {
					return wire.StatusFail
				}
				return wire.StatusPass
			}),
		}}}}
	}
	// Every host reports once before timing, so that timed batches update existing state.
	for n := range hosts {
		if _, err := s.Ingest(ctx, fmt.Sprintf("h%05d", n), mk(n), t0); err != nil {
			b.Fatal(err)
		}
	}
	size0 := dbSize(dir)
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		b.StopTimer()
		bt := mk(hosts + n)
		b.StartTimer()
		if _, err := s.Ingest(ctx, fmt.Sprintf("h%05d", (hosts+n)%hosts), bt, t0); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "batches/s")
	if b.N >= 1000 {
		b.ReportMetric(float64(dbSize(dir)-size0)/float64(b.N), "B/run")
	}
}

// dbSize is the size of the database and its WAL.
func dbSize(dir string) int64 {
	var n int64
	for _, f := range []string{"fleet.db", "fleet.db-wal"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// keepDir: the fixture lives in FLEET_BENCH_DIR and stays for the next run.
var keepDir bool

// fleetFixture is a generated fleet's database: hosts × days of transitions, built once per
// test binary run and shared by the benchmarks that read it.
var fleetFixture struct {
	once  sync.Once
	dir   string
	hosts int
	days  int
	end   time.Time
	err   error
	bytes int64
	rows  int64
}

// benchFleet builds (once) a fleet of FLEET_BENCH_HOSTS hosts (default 10,000) with 90 days of
// history, in a temporary directory or in FLEET_BENCH_DIR to reuse it across runs (give the
// same FLEET_BENCH_HOSTS again). Every host starts with 13 results, then drifts at 3 % per
// hour (one check fails, the agent's fix reverts it ten minutes later: two transitions), about
// 130 transitions per host over 90 days. It writes the tables directly, not through Ingest,
// to build quickly, with the hourly counts Ingest would have kept.
func benchFleet(b *testing.B) (*Store, time.Time) {
	f := &fleetFixture
	f.once.Do(func() {
		f.hosts, f.days = 10000, 90
		if v, err := strconv.Atoi(os.Getenv("FLEET_BENCH_HOSTS")); err == nil && v > 0 {
			f.hosts = v
		}
		if keep := os.Getenv("FLEET_BENCH_DIR"); keep != "" {
			// Reuse a fleet built by an earlier run (building 10,000 hosts takes a minute or two).
			f.dir, keepDir = keep, true
			if _, err := os.Stat(filepath.Join(keep, "fleet.db")); err == nil {
				f.end = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(f.days) * 24 * time.Hour)
				f.bytes = dbSize(f.dir)
				return
			}
		} else if f.dir, f.err = os.MkdirTemp("", "fleet-bench-"); f.err != nil {
			return
		}
		f.err = buildFleet(filepath.Join(f.dir, "fleet.db"), f.hosts, f.days, &f.end, &f.rows)
		f.bytes = dbSize(f.dir)
	})
	if f.err != nil {
		b.Fatal(f.err)
	}
	s, err := Open(filepath.Join(f.dir, "fleet.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s, f.end
}

func buildFleet(path string, hosts, days int, end *time.Time, count *int64) error {
	ctx := context.Background()
	s, err := Open(path)
	if err != nil {
		return err
	}
	defer s.Close()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	*end = t0.Add(time.Duration(days) * 24 * time.Hour)
	rng := rand.New(rand.NewPCG(3, 4))
	return s.write(ctx, func(tx *sql.Tx) error {
		insHost, err := tx.PrepareContext(ctx, `INSERT INTO hosts (id, uuid, cred_hash, hostname, os, os_version, agent_version,
			labels, enrolled_at, last_seen, stale_at) VALUES (?, ?, ?, ?, 'macOS', '15.3', '1.0.0', ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		insLabel, err := tx.PrepareContext(ctx, `INSERT INTO host_labels (label, host_id) VALUES (?, ?)`)
		if err != nil {
			return err
		}
		insTr, err := tx.PrepareContext(ctx, `INSERT INTO transitions (host_id, check_id, time, from_status, to_status, actual, run_id, cause, seq)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		insCur, err := tx.PrepareContext(ctx, `INSERT INTO current (host_id, check_id, status, actual, expected, since, run_id)
			VALUES (?, ?, ?, ?, '1', ?, ?)`)
		if err != nil {
			return err
		}
		for _, c := range benchChecks {
			if _, err := tx.ExecContext(ctx, `INSERT INTO checks (check_id) VALUES (?)`, c); err != nil {
				return err
			}
		}
		hour := int64(time.Hour)
		for h := range hosts {
			id := fmt.Sprintf("h%06d", h)
			label := "mac"
			if h%3 == 2 {
				label = "linux"
			}
			cred := sha256.Sum256([]byte(id))
			enrolled := t0.Add(time.Duration(rng.Int64N(hour)))
			if _, err := insHost.ExecContext(ctx, id, "u"+id, cred[:], id+".local", `["`+label+`"]`, ts(enrolled), ts(*end),
				ts(store.StaleAt(*end, 0))); err != nil {
				return err
			}
			if _, err := insLabel.ExecContext(ctx, label, id); err != nil {
				return err
			}
			var seq uint64 = 1
			status := make([]string, len(benchChecks))
			since := make([]int64, len(benchChecks))
			for i, c := range benchChecks {
				status[i] = wire.StatusPass
				if rng.Float64() < 0.05 {
					status[i] = wire.StatusFail
				}
				since[i] = ts(enrolled)
				if _, err := insTr.ExecContext(ctx, id, c, since[i], "", status[i], "1", "run-1", wire.CauseObserved, seq); err != nil {
					return err
				}
				*count++
			}
			for hr := 1; hr < days*24; hr++ {
				if rng.Float64() >= 0.03 {
					continue
				}
				i := rng.IntN(len(benchChecks))
				at := ts(enrolled) + int64(hr)*hour
				seq++
				for _, st := range []string{wire.StatusFail, wire.StatusPass} {
					cause := wire.CauseObserved
					if st == wire.StatusPass {
						cause, at = wire.CauseFix, at+int64(10*time.Minute)
					}
					if _, err := insTr.ExecContext(ctx, id, benchChecks[i], at, status[i], st, "x", "run-"+strconv.FormatUint(seq, 10), cause, seq); err != nil {
						return err
					}
					*count++
					status[i], since[i] = st, at
				}
			}
			// The host's posture over time, as Ingest keeps it.
			if err := fixturePosture(ctx, tx, id, enrolled); err != nil {
				return err
			}
			for i, c := range benchChecks {
				if _, err := insCur.ExecContext(ctx, id, c, status[i], "1", since[i], "run-last"); err != nil {
					return err
				}
			}
		}
		// The hourly counts, as Ingest keeps them.
		for _, q := range []string{
			`INSERT INTO status_deltas (hour, check_id, status, n)
			SELECT hour, check_id, status, sum(n) FROM (
				SELECT time / 3600000000000 AS hour, check_id, to_status AS status, 1 AS n FROM transitions
				UNION ALL
				SELECT time / 3600000000000, check_id, from_status, -1 FROM transitions WHERE from_status != '')
			GROUP BY hour, check_id, status HAVING sum(n) != 0`,
			`INSERT INTO posture_deltas (hour, state, n)
			SELECT hour, state, sum(n) FROM (
				SELECT time / 3600000000000 AS hour, to_state AS state, 1 AS n FROM posture
				UNION ALL
				SELECT time / 3600000000000, from_state, -1 FROM posture WHERE from_state != '')
			GROUP BY hour, state HAVING sum(n) != 0`,
			`INSERT INTO label_status_deltas (hour, label, check_id, status, n)
			SELECT hour, label, check_id, status, sum(n) FROM (
				SELECT t.time / 3600000000000 AS hour, l.label, t.check_id, t.to_status AS status, 1 AS n
					FROM transitions t JOIN host_labels l ON l.host_id = t.host_id
				UNION ALL
				SELECT t.time / 3600000000000, l.label, t.check_id, t.from_status, -1
					FROM transitions t JOIN host_labels l ON l.host_id = t.host_id WHERE t.from_status != '')
			GROUP BY hour, label, check_id, status HAVING sum(n) != 0`,
			`INSERT INTO label_posture_deltas (hour, label, state, n)
			SELECT hour, label, state, sum(n) FROM (
				SELECT p.time / 3600000000000 AS hour, l.label, p.to_state AS state, 1 AS n
					FROM posture p JOIN host_labels l ON l.host_id = p.host_id
				UNION ALL
				SELECT p.time / 3600000000000, l.label, p.from_state, -1
					FROM posture p JOIN host_labels l ON l.host_id = p.host_id WHERE p.from_state != '')
			GROUP BY hour, label, state HAVING sum(n) != 0`,
			`UPDATE hosts SET (posture, posture_since) = (SELECT to_state, time FROM posture p WHERE p.host_id = hosts.id
				ORDER BY p.time DESC, p.rowid DESC LIMIT 1) WHERE EXISTS (SELECT 1 FROM posture p WHERE p.host_id = hosts.id)`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
}

// fixturePosture writes a generated host's posture rows from its transitions.
func fixturePosture(ctx context.Context, tx *sql.Tx, id string, enrolled time.Time) error {
	rows, err := tx.QueryContext(ctx, `SELECT check_id, time, to_status FROM transitions WHERE host_id = ? ORDER BY id`, id)
	if err != nil {
		return err
	}
	type tr struct {
		check, status string
		time          int64
	}
	var trs []tr
	for rows.Next() {
		var x tr
		if err := rows.Scan(&x.check, &x.time, &x.status); err != nil {
			rows.Close()
			return err
		}
		trs = append(trs, x)
	}
	rows.Close()
	bad := map[string]bool{}
	state := ""
	for _, x := range trs {
		bad[x.check] = !wire.Compliant(x.status)
		p := stateCompliant
		for _, b := range bad {
			if b {
				p = stateNoncompliant
			}
		}
		if p != state {
			if _, err := tx.ExecContext(ctx, `INSERT INTO posture (host_id, time, from_state, to_state) VALUES (?, ?, ?, ?)`, id, x.time, state, p); err != nil {
				return err
			}
			state = p
		}
	}
	return nil
}

// BenchmarkComplianceAt answers fleet compliance at an instant over the generated fleet
// (FLEET_BENCH_HOSTS hosts, default 10,000, × 90 days).
func BenchmarkComplianceAt(b *testing.B) {
	s, end := benchFleet(b)
	ctx := context.Background()
	for _, bb := range []struct {
		name, label, check string
		at                 time.Time
	}{
		{"fleet/now", "", "", end},
		{"fleet/45d-ago", "", "", end.Add(-45 * 24 * time.Hour)},
		{"fleet/30d-ago-mid-hour", "", "", end.Add(-30*24*time.Hour + 37*time.Minute)},
		{"check/now", "", "alf-enabled", end},
		{"label/now", "linux", "", end},
		{"check/45d-ago", "", "alf-enabled", end.Add(-45 * 24 * time.Hour)},
		{"label/45d-ago", "mac", "", end.Add(-45 * 24 * time.Hour)},
		{"label-check/now", "mac", "alf-enabled", end},
		{"label-check/30d-ago-mid-hour", "linux", "alf-enabled", end.Add(-30*24*time.Hour + 37*time.Minute)},
		{"fleet/after-every-host-went-stale", "", "", end.Add(4 * time.Hour)},
	} {
		b.Run(bb.name, func(b *testing.B) {
			for b.Loop() {
				c, err := s.ComplianceAt(ctx, bb.at, bb.label, bb.check)
				if err != nil || c.Hosts == 0 {
					b.Fatalf("ComplianceAt = %+v, %v", c, err)
				}
			}
			// What the fleet's history costs on disk, per host per day (no runs: Prune keeps
			// those for the retention period; see BenchmarkIngest's B/run).
			b.ReportMetric(float64(fleetFixture.bytes)/float64(fleetFixture.hosts*fleetFixture.days), "B/host/day")
		})
	}
}

// BenchmarkHostHistory reads one host's 90 days of transitions.
func BenchmarkHostHistory(b *testing.B) {
	s, _ := benchFleet(b)
	ctx := context.Background()
	n := 0
	for b.Loop() {
		n++
		id := fmt.Sprintf("h%06d", (n*7919)%fleetFixture.hosts)
		ts, err := s.Transitions(ctx, id, "", time.Time{}, time.Time{})
		if err != nil || len(ts) == 0 {
			b.Fatalf("Transitions(%s) = %d, %v", id, len(ts), err)
		}
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fleetFixture.dir != "" && !keepDir {
		os.RemoveAll(fleetFixture.dir)
	}
	os.Exit(code)
}

// BenchmarkComplianceSeries90d answers the dashboard's 90-day chart over the generated fleet:
// compliance once a day for 90 days, for the fleet, one label and one check, at instants on
// the hour and at instants 23 minutes before the hour (each of which reads the transitions of
// those 23 minutes: about 2,300 at the fixture's drift rate).
func BenchmarkComplianceSeries90d(b *testing.B) {
	s, end := benchFleet(b)
	ctx := context.Background()
	for _, bb := range []struct {
		name, label, check string
		now                time.Time
	}{
		{"fleet/on-the-hour", "", "", end.Add(-time.Hour)},
		{"label/on-the-hour", "mac", "", end.Add(-time.Hour)},
		{"check/on-the-hour", "", "alf-enabled", end.Add(-time.Hour)},
		{"fleet/mid-hour", "", "", end.Add(-23 * time.Minute)},
		{"label/mid-hour", "mac", "", end.Add(-23 * time.Minute)},
		{"check/mid-hour", "", "alf-enabled", end.Add(-23 * time.Minute)},
	} {
		b.Run(bb.name, func(b *testing.B) {
			q := store.SeriesQuery{From: bb.now.Add(-90 * 24 * time.Hour), To: bb.now, Step: 24 * time.Hour, Label: bb.label, Check: bb.check}
			for b.Loop() {
				cs, err := s.ComplianceSeries(ctx, q)
				if err != nil || len(cs) != 91 || cs[90].Hosts == 0 {
					b.Fatalf("ComplianceSeries = %d elements, %v", len(cs), err)
				}
			}
		})
	}
}

// BenchmarkHostsPage reads one page of 50 hosts of the generated fleet as the dashboard asks
// for it: in each sort order, the first page and one in the middle of the fleet (keyset
// paging), a hostname search and a posture filter.
func BenchmarkHostsPage(b *testing.B) {
	s, _ := benchFleet(b)
	ctx := context.Background()
	mid, err := s.Host(ctx, fmt.Sprintf("h%06d", fleetFixture.hosts/2))
	if err != nil {
		b.Fatal(err)
	}
	type bench struct {
		name string
		f    store.HostFilter
	}
	var bs []bench
	for _, sort := range []string{store.HostSortID, store.HostSortHostname, store.HostSortLastSeen, store.HostSortOSVersion} {
		bs = append(bs,
			bench{sort + "/first", store.HostFilter{Sort: sort}},
			bench{sort + "/deep", store.HostFilter{Sort: sort, After: mid.ID, AfterKey: store.HostSortKey(mid, sort)}},
			bench{sort + "/deep-desc", store.HostFilter{Sort: sort, Desc: true, After: mid.ID, AfterKey: store.HostSortKey(mid, sort)}})
	}
	bs = append(bs,
		bench{"search", store.HostFilter{Search: "H0123", Sort: store.HostSortHostname}},
		bench{"search/last_seen", store.HostFilter{Search: "h0123", Sort: store.HostSortLastSeen, Desc: true}},
		bench{"posture/id", store.HostFilter{Posture: store.PostureNonCompliant}},
		bench{"posture/hostname", store.HostFilter{Posture: store.PostureNonCompliant, Sort: store.HostSortHostname}},
		bench{"label/last_seen", store.HostFilter{Label: "linux", Sort: store.HostSortLastSeen, Desc: true}},
	)
	for _, bb := range bs {
		b.Run(bb.name, func(b *testing.B) {
			f := bb.f
			f.Limit = 50
			for b.Loop() {
				hs, err := s.Hosts(ctx, f)
				if err != nil || len(hs) == 0 {
					b.Fatalf("Hosts(%+v) = %d hosts, %v", f, len(hs), err)
				}
			}
		})
	}
}
