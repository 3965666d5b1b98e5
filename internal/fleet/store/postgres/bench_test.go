package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/firewarden/firewarden/internal/fleet/pgtest"
	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// benchChecks are the 13 checks of the built-in baseline, by shape if not by name (the same
// as the SQLite store's benchmark, so that the figures compare).
var benchChecks = []string{
	"alf-enabled", "alf-stealth", "alf-logging", "alf-block-all", "alf-signed-allowed",
	"alf-signed-downloaded", "pf-enabled", "pf-anchor", "sharing-ssh", "sharing-screen",
	"sharing-file", "sharing-remote-events", "firewall-profile",
}

// benchHost is one simulated agent: its next seq and which checks fail. Each check flips
// with a 3 % chance per run, as a fleet drifts.
type benchHost struct {
	id      string
	seq     uint64
	failing []bool
	rng     *rand.Rand
}

func newBenchHosts(b *testing.B, s *Store, n int) []*benchHost {
	hosts := make([]*benchHost, n)
	for h := range hosts {
		hosts[h] = &benchHost{id: fmt.Sprintf("h%05d", h), failing: make([]bool, len(benchChecks)), rng: rand.New(rand.NewPCG(1, uint64(h)))}
		if _, err := s.EnrollHost(context.Background(), store.Host{ID: hosts[h].id, UUID: "u" + hosts[h].id,
			Labels: []string{"mac"}, EnrolledAt: t0}, []byte(hosts[h].id)); err != nil {
			b.Fatal(err)
		}
	}
	return hosts
}

// next is the host's next report: one run record of 13 results with evidence of a realistic
// size, and its evidence-chain entry.
func (h *benchHost) next() wire.ReportBatch {
	h.seq++
	at := t0.Add(time.Duration(h.seq) * time.Hour)
	results := make([]wire.Result, len(benchChecks))
	for i, c := range benchChecks {
		if h.rng.Float64() < 0.03 {
			h.failing[i] = !h.failing[i]
		}
		st, actual := wire.StatusPass, "1"
		if h.failing[i] {
			st, actual = wire.StatusFail, "0"
		}
		results[i] = wire.Result{Check: c, Status: st, Expected: "1", Actual: actual, Source: "socketfilterfw",
			Controls: []string{"CIS 2.5.2", "NIST 800-53 SC-7"},
			Evidence: []wire.Evidence{{Kind: "exec", Argv: []string{"/usr/libexec/ApplicationFirewall/socketfilterfw", "--getglobalstate"},
				Output: "Firewall is enabled. (State = " + actual + ")", SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}}}
	}
	return batch(wire.Record{Seq: h.seq, Kind: wire.KindRun, Time: at,
		Chain: &wire.ChainRef{Seq: h.seq, Prev: fmt.Sprint(h.seq - 1), Hash: fmt.Sprint(h.seq)},
		Run: &wire.Run{RunID: fmt.Sprintf("run-%s-%d", h.id, h.seq), Policy: "default", Mode: wire.ModeEnforce,
			BaselineName: "cis", Started: at.Add(-time.Second), Finished: at, Results: results}})
}

// BenchmarkIngest stores one batch per op: one run record of 13 results, round robin over
// 1,000 hosts that have each reported once already. "serial" is one request at a time, as
// the SQLite store's benchmark measures; "parallel" is 4×GOMAXPROCS request handlers at once,
// each with its own hosts (one agent's reports arrive in order), which is how a server uses
// PostgreSQL. B/run is the database's growth per report, runs included (Prune removes them).
func BenchmarkIngest(b *testing.B) {
	ctx := context.Background()
	const nhosts = 1000
	setup := func(b *testing.B) (*Store, []*benchHost, int64) {
		s, _ := open(b)
		hosts := newBenchHosts(b, s, nhosts)
		for _, h := range hosts {
			if _, err := s.Ingest(ctx, h.id, h.next(), t0); err != nil {
				b.Fatal(err)
			}
		}
		return s, hosts, dbSize(b, s)
	}
	report := func(b *testing.B, s *Store, size0 int64, pg0, self0 time.Duration) {
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "batches/s")
		if pg, self := cpuTimes(s); pg > 0 {
			// CPU per batch, which a shared machine's load does not change as it changes
			// batches/s: PostgreSQL's processes, and this process (the store's Go side).
			b.ReportMetric(float64((pg-pg0)/time.Microsecond)/float64(b.N), "pg-cpu-µs/batch")
			b.ReportMetric(float64((self-self0)/time.Microsecond)/float64(b.N), "go-cpu-µs/batch")
		}
		if b.N >= 1000 {
			b.ReportMetric(float64(dbSize(b, s)-size0)/float64(b.N), "B/run")
		}
	}
	b.Run("serial", func(b *testing.B) {
		s, hosts, size0 := setup(b)
		pg0, self0 := cpuTimes(s)
		b.ResetTimer()
		for n := 0; n < b.N; n++ {
			h := hosts[n%nhosts]
			b.StopTimer()
			bt := h.next()
			b.StartTimer()
			if _, err := s.Ingest(ctx, h.id, bt, t0); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		report(b, s, size0, pg0, self0)
	})
	b.Run("parallel", func(b *testing.B) {
		s, hosts, size0 := setup(b)
		workers := 4 * runtime.GOMAXPROCS(0)
		var worker atomic.Int64
		b.SetParallelism(4)
		pg0, self0 := cpuTimes(s)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			w := int(worker.Add(1) - 1)
			for n := w; pb.Next(); n += workers {
				h := hosts[n%nhosts]
				if _, err := s.Ingest(ctx, h.id, h.next(), t0); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.StopTimer()
		report(b, s, size0, pg0, self0)
	})
}

// cpuTimes returns the CPU time (user and system) used so far by the PostgreSQL server of s
// (its postmaster and every process it started that is still running, the pool's backends
// among them) and by this process, or zeros where /proc cannot tell (not Linux).
func cpuTimes(s *Store) (pg, self time.Duration) {
	var backend int
	if err := s.pool.QueryRow(context.Background(), `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		return 0, 0
	}
	stat := func(pid string) (ppid int, cpu time.Duration, ok bool) {
		b, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			return 0, 0, false
		}
		// Fields after the command name, which is in parentheses and may hold spaces.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
		if len(f) < 13 {
			return 0, 0, false
		}
		ppid, _ = strconv.Atoi(f[1])
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		return ppid, time.Duration(utime+stime) * 10 * time.Millisecond, true // USER_HZ is 100 on Linux
	}
	postmaster, _, ok := stat(strconv.Itoa(backend))
	if !ok {
		return 0, 0
	}
	_, pg, _ = stat(strconv.Itoa(postmaster))
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		if ppid, cpu, ok := stat(p.Name()); ok && ppid == postmaster {
			pg += cpu
		}
	}
	_, self, _ = stat("self")
	return pg, self
}

// dbSize is the size of the test's database in bytes.
func dbSize(b *testing.B, s *Store) int64 {
	var n int64
	if err := s.pool.QueryRow(context.Background(), `SELECT pg_database_size(current_database())`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

// benchFleet is a seeded fleet's database, built once per test binary run and shared by the
// benchmarks that read it.
var benchFleet benchFleetDB

type benchFleetDB struct {
	once  sync.Once
	url   string
	hosts int
	days  int
	end   time.Time
	err   error
	logs  []string // what seeding took, for every benchmark's log
}

// openBenchFleet seeds (once) a fleet of 10,000 hosts ($FLEET_BENCH_HOSTS) × 13 checks with a
// week ($FLEET_BENCH_DAYS) of hourly history in which about 3 % of checks changed status each
// day; 2 % of hosts are stale (silent for the last 10 days), and hostnames, OS versions and last
// seen times vary, for the host pages. Set $FLEET_BENCH_PG to a database URL of your own to
// keep the seeded fleet across runs. The history is written with SQL into a version 3 database
// (loading it through Ingest would take hours at 100,000 hosts × 90 days), and the
// migrations from 0004 on derive the counts from it, as they do for a real upgrade; the time
// that takes and Prune's first fold are logged. It returns a store on it.
func openBenchFleet(b *testing.B) *Store {
	f := &benchFleet
	f.once.Do(func() { f.err = seedBenchFleet(b, f) })
	for _, l := range f.logs {
		b.Log(l)
	}
	if f.err != nil {
		b.Fatal(f.err)
	}
	s, err := Open(context.Background(), f.url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func seedBenchFleet(b *testing.B, f *benchFleetDB) error {
	ctx := context.Background()
	f.days, f.hosts = 7, 10000
	if v, err := strconv.Atoi(os.Getenv("FLEET_BENCH_HOSTS")); err == nil && v > 0 {
		f.hosts = v
	}
	if v, err := strconv.Atoi(os.Getenv("FLEET_BENCH_DAYS")); err == nil && v > 0 {
		f.days = v
	}
	hosts, days := f.hosts, f.days
	end := t0.Add(time.Duration(days) * 24 * time.Hour)
	f.end = end
	f.url = os.Getenv("FLEET_BENCH_PG")
	if f.url == "" {
		f.url = pgtest.Start(b)
	} else {
		// A database of your own (seeding 100,000 hosts × 90 days takes minutes): seeded on
		// first use, when it is empty, and reused by later runs with the same FLEET_BENCH_HOSTS
		// and FLEET_BENCH_DAYS.
		conn, err := pgx.Connect(ctx, f.url)
		if err != nil {
			return err
		}
		var seeded bool
		err = conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_name = 'hosts')`).Scan(&seeded)
		conn.Close(ctx)
		if err != nil || seeded {
			f.logs = append(f.logs, "reusing the fleet in $FLEET_BENCH_PG")
			if err == nil {
				s, err := Open(ctx, f.url)
				if err == nil {
					s.Close()
				}
			}
			return err
		}
	}
	old, err := openAt(ctx, f.url, 3)
	if err != nil {
		return err
	}
	seed := []string{
		`INSERT INTO hosts (id, uuid, cred_hash, hostname, os, os_version, agent_version, labels, enrolled_at, last_seen)
			SELECT 'h' || lpad(i::text, 6, '0'), 'u' || i, decode(md5(i::text), 'hex'),
				CASE WHEN i % 3 = 0 THEN 'Host' ELSE 'host' END || i, 'macOS', (ARRAY['13.7', '14.6', '15.3', '15.4'])[1 + i % 4], '1.0',
				ARRAY[CASE WHEN i % 2 = 0 THEN 'laptop' ELSE 'desktop' END], $1,
				$2::timestamptz - CASE WHEN i % 50 = 0 THEN interval '10 days' ELSE (i % 600) * interval '1 second' END
			FROM generate_series(1, ` + fmt.Sprint(hosts) + `) i`,
		`INSERT INTO checks SELECT 'check-' || lpad(c::text, 2, '0') FROM generate_series(0, 12) c`,
		// First results at enrollment, then ~3 % of checks flip each day, alternating fail/pass.
		`INSERT INTO transitions (host_id, check_id, time, from_status, to_status, actual, run_id, cause, seq)
			SELECT h.id, k.check_id, $1, '', 'pass', '1', 'r', 'observed', 1 FROM hosts h CROSS JOIN checks k`,
		`INSERT INTO transitions (host_id, check_id, time, from_status, to_status, actual, run_id, cause, seq)
			SELECT h.id, k.check_id, $1::timestamptz + d * interval '1 day' + (abs(hashtext(h.id || k.check_id)) % 1440) * interval '1 minute',
				CASE WHEN d % 2 = 1 THEN 'pass' ELSE 'fail' END, CASE WHEN d % 2 = 1 THEN 'fail' ELSE 'pass' END, '0', 'r', 'observed', d + 1
			FROM hosts h CROSS JOIN checks k CROSS JOIN generate_series(1, ` + fmt.Sprint(days-1) + `) d
			WHERE abs(hashtext(h.id || k.check_id)) % 33 = 0
				-- A stale host has reported nothing since it was last seen.
				AND $1::timestamptz + d * interval '1 day' + (abs(hashtext(h.id || k.check_id)) % 1440) * interval '1 minute' <= h.last_seen`,
		`INSERT INTO current (host_id, check_id, status, actual, expected, since, observed, run_id)
			SELECT DISTINCT ON (host_id, check_id) host_id, check_id, to_status, actual, '1', time, time, run_id
			FROM transitions ORDER BY host_id, check_id, time DESC, id DESC`,
	}
	start := time.Now()
	for _, q := range seed {
		var args []any
		if strings.Contains(q, "$1") {
			args = append(args, t0)
		}
		if strings.Contains(q, "$2") {
			args = append(args, end)
		}
		if _, err := old.pool.Exec(ctx, q, args...); err != nil {
			old.Close()
			return fmt.Errorf("seed: %v\n%s", err, q)
		}
	}
	old.Close()
	f.logs = append(f.logs, fmt.Sprintf("seeded %d hosts × %d days in %s", hosts, days, time.Since(start).Round(time.Millisecond)))
	start = time.Now()
	s, err := Open(ctx, f.url)
	if err != nil {
		return err
	}
	defer s.Close()
	f.logs = append(f.logs, fmt.Sprintf("migrations from 0004 (counts from the history) took %s", time.Since(start).Round(time.Millisecond)))
	start = time.Now()
	if _, err := s.Prune(ctx, t0); err != nil {
		return err
	}
	var transitions, statusRows int64
	s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM transitions), (SELECT count(*) FROM status_deltas)`).Scan(&transitions, &statusRows)
	f.logs = append(f.logs, fmt.Sprintf("first fold took %s: %d transitions, %d status delta rows", time.Since(start).Round(time.Millisecond), transitions, statusRows))
	// Steady state: autovacuum has been through the freshly written tables (their visibility
	// maps make index-only scans index-only), rather than running during the measurement.
	_, err = s.pool.Exec(ctx, `VACUUM ANALYZE`)
	return err
}

// BenchmarkComplianceAt answers fleet compliance over the seeded fleet (openBenchFleet): now
// and as of instants in the past, for the fleet, a label and a check, and one host's history.
func BenchmarkComplianceAt(b *testing.B) {
	ctx := context.Background()
	s := openBenchFleet(b)
	days, hosts, end := benchFleet.days, benchFleet.hosts, benchFleet.end
	for _, bc := range []struct {
		name         string
		at           time.Time
		label, check string
	}{
		{"now", end, "", ""},
		{"mid", t0.Add(time.Duration(days) * 12 * time.Hour).Add(37 * time.Minute), "", ""},
		{"label-now", end, "laptop", ""},
		{"label-mid", t0.Add(time.Duration(days) * 12 * time.Hour).Add(37 * time.Minute), "laptop", ""},
		{"check-mid", t0.Add(time.Duration(days) * 12 * time.Hour).Add(37 * time.Minute), "", "check-03"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				c, err := s.ComplianceAt(ctx, bc.at, bc.label, bc.check)
				if err != nil {
					b.Fatal(err)
				}
				if bc.label == "" && c.Hosts != hosts {
					b.Fatalf("ComplianceAt() counted %d hosts, want %d", c.Hosts, hosts)
				}
			}
		})
	}
	if os.Getenv("FLEET_BENCH_EXPLAIN") != "" {
		// Where the time goes: each of ComplianceAt's statements, timed by the server.
		mid := t0.Add(time.Duration(days) * 12 * time.Hour).Add(37 * time.Minute)
		for _, q := range []struct {
			name string
			sql  string
			args []any
		}{
			{"status deltas", qStatusDeltas, []any{mid.Truncate(time.Hour), "laptop", ""}},
			{"status hour", qStatusSpans, []any{[]time.Time{mid.Truncate(time.Hour)}, []time.Time{mid}, "laptop", ""}},
			{"posture deltas", qPostureDeltas, []any{mid.Truncate(time.Hour), "laptop"}},
			{"posture hour", qPostureSpans, []any{[]time.Time{mid.Truncate(time.Hour)}, []time.Time{mid}, "laptop"}},
			{"hosts", qHostsAt, []any{mid, "laptop"}},
			{"hosts, fleet", qHostsAt, []any{mid, ""}},
			{"revoked", qRevokedAll, []any{[]time.Time{mid}, "laptop"}},
			{"exempted", qExemptedAll, []any{[]time.Time{mid}, "laptop", ""}},
			{"stale now", qStaleFleet, []any{end, "laptop", []string{}}},
			{"stale mid", qStaleFleet, []any{mid, "laptop", []string{}}},
		} {
			rows, err := s.pool.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+q.sql, q.args...)
			if err != nil {
				b.Fatal(err)
			}
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("%s:\n%s", q.name, strings.Join(lines, "\n"))
		}
	}
	b.Run("history", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			if _, err := s.Transitions(ctx, fmt.Sprintf("h%06d", 1+i*7919%hosts), "", time.Time{}, time.Time{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkComplianceSeries90d answers the dashboard's 90-day chart over the seeded fleet
// (run it with FLEET_BENCH_DAYS=90): compliance once a day for 90 days up to the end of the
// history, at instants on the hour and 23 minutes before the hour, for the fleet, one label
// and one check.
func BenchmarkComplianceSeries90d(b *testing.B) {
	ctx := context.Background()
	s := openBenchFleet(b)
	end := benchFleet.end
	for _, bb := range []struct {
		name, label, check string
		now                time.Time
	}{
		{"fleet/on-the-hour", "", "", end.Add(-time.Hour)},
		{"label/on-the-hour", "laptop", "", end.Add(-time.Hour)},
		{"check/on-the-hour", "", "check-03", end.Add(-time.Hour)},
		{"fleet/mid-hour", "", "", end.Add(-23 * time.Minute)},
		{"label/mid-hour", "laptop", "", end.Add(-23 * time.Minute)},
		{"check/mid-hour", "", "check-03", end.Add(-23 * time.Minute)},
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

// BenchmarkHostsPage reads one page of 50 hosts of the seeded fleet as the dashboard asks for
// it: in each sort order, the first page and one in the middle of the fleet (keyset paging),
// a hostname search and a posture filter.
func BenchmarkHostsPage(b *testing.B) {
	ctx := context.Background()
	s := openBenchFleet(b)
	mid, err := s.Host(ctx, fmt.Sprintf("h%06d", benchFleet.hosts/2))
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
		bench{"search", store.HostFilter{Search: "HOST123", Sort: store.HostSortHostname}},
		bench{"search/last_seen", store.HostFilter{Search: "host123", Sort: store.HostSortLastSeen, Desc: true}},
		bench{"posture/id", store.HostFilter{Posture: store.PostureNonCompliant}},
		bench{"posture/hostname", store.HostFilter{Posture: store.PostureNonCompliant, Sort: store.HostSortHostname}},
		bench{"label/last_seen", store.HostFilter{Label: "laptop", Sort: store.HostSortLastSeen, Desc: true}},
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
