package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// benchChecks is the size of the built-in baseline: every run reports this many results.
const benchChecks = 13

// benchRun is host's run number n: 13 checks, of which about 3 % change status from the run
// before (check i of host h fails in run n when (h+i+n/7) % 33 == 0), as a fleet drifts.
func benchRun(host, n int, at time.Time) wire.Record {
	r := &wire.Run{RunID: fmt.Sprintf("run-%d-%d", host, n), Policy: "default", Mode: wire.ModeReport,
		BaselineName: "cis", BaselineSHA256: "ab12", Started: at.Add(-time.Second), Finished: at}
	for i := range benchChecks {
		st, actual := wire.StatusPass, "1"
		if (host+i+n/7)%33 == 0 {
			st, actual = wire.StatusFail, "0"
		}
		r.Results = append(r.Results, wire.Result{Check: fmt.Sprintf("check-%02d", i), Status: st, Expected: "1",
			Actual: actual, Source: "socketfilterfw", Controls: []string{"CIS 2.5.2"}})
	}
	return wire.Record{Seq: uint64(n), Kind: wire.KindRun, Time: at, Run: r,
		Chain: &wire.ChainRef{Seq: uint64(n), Prev: fmt.Sprintf("%d-%d", host, n-1), Hash: fmt.Sprintf("%d-%d", host, n)}}
}

// BenchmarkIngest stores one run report (13 results) per operation, round robin over 1,000
// hosts, from GOMAXPROCS×4 goroutines at once as a server's request handlers would. The
// reports/s metric is the figure to compare with the 1,000 per second.
func BenchmarkIngest(b *testing.B) {
	s, _ := open(b)
	ctx := context.Background()
	const hosts = 1000
	for h := range hosts {
		enroll(b, s, fmt.Sprintf("host-%04d", h))
	}
	// Each host's next seq; a goroutine takes a host by ticket so a host's reports stay in
	// order, as one agent's do.
	next := make([]atomic.Int64, hosts)
	var ticket atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			t := int(ticket.Add(1) - 1)
			h := t % hosts
			n := int(next[h].Add(1))
			at := t0.Add(time.Duration(n) * time.Hour)
			if _, err := s.Ingest(ctx, fmt.Sprintf("host-%04d", h), batch(benchRun(h, n, at)), at); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "reports/s")
}

// BenchmarkComplianceAt answers fleet compliance for 10,000 hosts × 13 checks with a week of
// hourly history in which about 3 % of checks changed status each day, now and as of an
// instant in the middle of the week. The data is written with SQL directly: loading it
// through Ingest would take minutes.
func BenchmarkComplianceAt(b *testing.B) {
	s, _ := open(b)
	ctx := context.Background()
	const hosts, days = 10000, 7
	seed := []string{
		`INSERT INTO hosts (id, uuid, cred_hash, hostname, os, os_version, agent_version, labels, enrolled_at, last_seen)
			SELECT 'h' || lpad(i::text, 6, '0'), 'u' || i, decode(md5(i::text), 'hex'), 'host' || i, 'macOS', '15.3', '1.0',
				ARRAY[CASE WHEN i % 2 = 0 THEN 'laptop' ELSE 'desktop' END], $1, $1
			FROM generate_series(1, ` + fmt.Sprint(hosts) + `) i`,
		`INSERT INTO checks SELECT 'check-' || lpad(c::text, 2, '0') FROM generate_series(0, 12) c`,
		// First results at enrollment, then ~3 % of checks flip each day, alternating fail/pass.
		`INSERT INTO transitions (host_id, check_id, time, from_status, to_status, actual, run_id, cause, seq)
			SELECT h.id, k.check_id, $1, '', 'pass', '1', 'r', 'observed', 1 FROM hosts h CROSS JOIN checks k`,
		`INSERT INTO transitions (host_id, check_id, time, from_status, to_status, actual, run_id, cause, seq)
			SELECT h.id, k.check_id, $1::timestamptz + d * interval '1 day' + (abs(hashtext(h.id || k.check_id)) % 24) * interval '1 hour',
				CASE WHEN d % 2 = 1 THEN 'pass' ELSE 'fail' END, CASE WHEN d % 2 = 1 THEN 'fail' ELSE 'pass' END, '0', 'r', 'observed', d + 1
			FROM hosts h CROSS JOIN checks k CROSS JOIN generate_series(1, ` + fmt.Sprint(days) + `) d
			WHERE abs(hashtext(h.id || k.check_id)) % 33 = 0`,
		`INSERT INTO current (host_id, check_id, status, actual, expected, since, observed, run_id)
			SELECT DISTINCT ON (host_id, check_id) host_id, check_id, to_status, actual, '1', time, time, run_id
			FROM transitions ORDER BY host_id, check_id, time DESC, id DESC`,
		`ANALYZE`,
	}
	for _, q := range seed {
		var args []any
		if strings.Contains(q, "$1") {
			args = append(args, t0)
		}
		if _, err := s.pool.Exec(ctx, q, args...); err != nil {
			b.Fatalf("seed: %v\n%s", err, q)
		}
	}
	for _, bc := range []struct {
		name string
		at   time.Time
	}{
		{"now", t0.Add(days * 24 * time.Hour)},
		{"mid-week", t0.Add(days * 12 * time.Hour)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				c, err := s.ComplianceAt(ctx, bc.at, "", "")
				if err != nil {
					b.Fatal(err)
				}
				if c.Hosts != hosts {
					b.Fatalf("ComplianceAt() counted %d hosts, want %d", c.Hosts, hosts)
				}
			}
		})
	}
}
