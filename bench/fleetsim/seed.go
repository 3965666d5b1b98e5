package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/server"
	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// runSeed writes a fleet's history straight into a store through its Go API (EnrollHost and
// Ingest, the calls the server makes), back-dated over --days, so that the admin API's
// compliance and history answers can be timed at a size no simulator run reaches in minutes.
// Every host reports its first run when it enrolls (13 results), then drifts: a check fails
// and, on enforce-mode hosts, the agent's fix reverts it in the same record (two transitions);
// on report-mode hosts a person puts it back hours later (a second drift record). Unchanged
// hourly runs are not written: Prune drops them after the retention period, and compliance is
// answered from transitions.
func runSeed(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fleetsim seed", flag.ContinueOnError)
	target := fs.String("db", "", "the store: a SQLite file (DATA_DIR/fleet.db) or a postgres:// URL (required; init the server first)")
	nHosts := fs.Int("hosts", 100000, "hosts to create")
	days := fs.Int("days", 90, "days of history, ending now")
	drift := fs.Float64("drift-per-day", 0.2, "drifts per host per day")
	workers := fs.Int("workers", 4, "hosts ingested at a time")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *target == "" {
		return fmt.Errorf("--db is required")
	}
	checks, err := checkIDs()
	if err != nil {
		return err
	}
	st, err := server.Open(ctx, *target)
	if err != nil {
		return err
	}
	defer st.Close()
	end := time.Now().UTC()
	t0 := end.Add(-time.Duration(*days) * 24 * time.Hour)
	var next, records, transitions atomic.Int64
	var wg sync.WaitGroup
	var firstErr error
	var once sync.Once
	start := time.Now()
	for k := 0; k < *workers; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := newSim(checks, uint64(k)+77, 0, 0)
			s.evidence = false
			rng := mrand.New(mrand.NewPCG(uint64(k), 99))
			for {
				i := int(next.Add(1) - 1)
				if i >= *nHosts || ctx.Err() != nil {
					return
				}
				nrec, ntr, err := seedHost(ctx, st, s, rng, i, t0, end, *drift)
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("host %d: %w", i, err) })
					return
				}
				records.Add(int64(nrec))
				transitions.Add(int64(ntr))
				if done := i + 1; done%10000 == 0 {
					el := time.Since(start)
					fmt.Fprintf(os.Stderr, "fleetsim: seeded %d hosts in %s (%.0f hosts/s)\n", done, el.Round(time.Second), float64(done)/el.Seconds())
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	el := time.Since(start)
	size, _ := dbSize(ctx, *target)
	fmt.Printf("seeded              %d hosts × %d days in %s: %d records, %d transitions (%.0f records/s)\n",
		*nHosts, *days, el.Round(time.Second), records.Load(), transitions.Load(), float64(records.Load())/el.Seconds())
	fmt.Printf("history ends        %s\n", end.Format(time.RFC3339))
	fmt.Printf("database size       %s: %.0f B per host per day (transitions and first runs, no unchanged runs)\n",
		mib(size), float64(size)/float64(*nHosts)/float64(*days))
	return nil
}

func seedHost(ctx context.Context, st store.Store, s *sim, rng *mrand.Rand, i int, t0, end time.Time, perDay float64) (records, transitions int, err error) {
	enrolled := t0.Add(time.Duration(rng.Int64N(int64(time.Hour))))
	var cred [32]byte
	rand.Read(cred[:])
	sum := sha256.Sum256(cred[:])
	label := "mac"
	if i%3 == 2 {
		label = "linux"
	}
	h, err := st.EnrollHost(ctx, store.Host{
		ID: server.NewUUIDv7(enrolled), UUID: fmt.Sprintf("SEED-%08d", i), Hostname: fmt.Sprintf("mac-%06d.seed", i),
		OS: "macOS", OSVersion: macVersions[i%len(macVersions)], AgentVersion: "fleetsim", Labels: []string{label},
		EnrolledAt: enrolled, LastSeen: enrolled,
	}, sum[:])
	if err != nil {
		return 0, 0, err
	}
	sh := &host{ID: h.ID}
	s.next(sh, enrolled)
	transitions += len(s.checks)
	enforce := sh.enforce
	// Drift times: a Poisson process at perDay over the history.
	hours := end.Sub(enrolled).Hours()
	at := enrolled
	for {
		at = at.Add(time.Duration(rng.ExpFloat64() / perDay * 24 * float64(time.Hour)))
		if at.After(end.Add(-2 * time.Hour)) {
			break
		}
		c := rng.IntN(len(s.checks))
		if sh.status[c] != wire.StatusPass {
			continue
		}
		in := s.infos[c]
		d := &wire.Drift{Check: s.checks[c], RunID: uuidv7(at), From: wire.StatusPass, To: wire.StatusFail, Actual: actualOf(in, wire.StatusFail), Cause: wire.CauseObserved}
		if enforce {
			d.Fix = &wire.FixResult{Changed: true, Verified: true, Status: wire.StatusPass, Actual: in.expected}
			transitions += 2
			seedRecord(sh, at, wire.Record{Kind: wire.KindDrift, Drift: d})
			continue
		}
		seedRecord(sh, at, wire.Record{Kind: wire.KindDrift, Drift: d})
		back := at.Add(time.Duration(1+rng.IntN(8)) * time.Hour)
		sh.status[c] = wire.StatusFail
		if back.Before(end) {
			seedRecord(sh, back, wire.Record{Kind: wire.KindDrift, Drift: &wire.Drift{Check: s.checks[c], RunID: uuidv7(back),
				From: wire.StatusFail, To: wire.StatusPass, Actual: in.expected, Cause: wire.CauseObserved}})
			sh.status[c] = wire.StatusPass
			at = back
			transitions++
		}
		transitions++
	}
	_ = hours
	for len(sh.spool) > 0 {
		n := min(len(sh.spool), wire.MaxBatchRecords)
		b := wire.ReportBatch{Records: sh.spool[:n]}
		if err := b.Validate(); err != nil {
			return 0, 0, err
		}
		last := b.Records[n-1].Time
		if n == len(sh.spool) {
			last = end
		}
		if _, err := st.Ingest(ctx, h.ID, b, last); err != nil {
			return 0, 0, err
		}
		records += n
		sh.spool = sh.spool[n:]
	}
	return records, transitions, nil
}

func seedRecord(h *host, at time.Time, r wire.Record) {
	h.seq++
	r.Seq, r.Time = h.seq, at
	h.spool = append(h.spool, r)
}
