package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// span is a stretch of a host's sequence the server holds: one record (lo == hi) or a range
// the agent reported dropped. The chain fields are the record's evidence-chain entry.
type span struct {
	lo, hi    uint64
	chainSeq  uint64
	chainPrev string
	chainHash string
}

// hostState is a host row's ingest columns, read under its lock.
type hostState struct {
	lastSeq     uint64
	chainSeq    uint64
	chainHash   string
	chainBroken bool
	revoked     bool
}

// currentRow is a (host, check)'s current status, read and updated in memory by one batch.
type currentRow struct {
	status, actual, expected string
	since                    time.Time
	observed                 time.Time // time of the record that last wrote the row
	runID                    string
	changed                  bool // write it back
}

// lastRun is a host's latest run: its ID, record time and checks. A current row that the run
// reported without changing it is not rewritten; CurrentResults gives it this run's ID.
type lastRun struct {
	id     string
	at     time.Time
	checks []string
}

// storedRun is a host's latest stored run (the greatest finished, then id): a new run with
// the same digest that finished no earlier is folded into it. id is 0 for a run this batch
// inserts (its id is not known until then).
type storedRun struct {
	ok       bool
	id       int64
	digest   string
	finished time.Time
}

// ingest is one batch's work for one host, gathered in memory and written in one round trip.
type ingest struct {
	hostID  string
	labels  []string // "" (the fleet) and the host's labels: the delta rows' dimensions
	current map[string]*currentRow
	applied time.Time // newest record applied to the current state
	lastRun lastRun
	stored  storedRun // the host's latest stored run, as this batch leaves it
	repeats int
	repeat  bool                    // applying a run that repeats the stored one (see apply)
	alerts  map[alertKey]*openAlert // alerts this batch folded into, by key
	batch   pgx.Batch
	trans   []store.Transition

	state    string // the host's posture: "", stateCompliant or stateNoncompliant
	postures []postureChange
	status   map[statusKey]int // status_deltas rows, summed
	postureN map[postureKey]int
}

// Host postures, in the posture tables.
const (
	stateCompliant    = "compliant"
	stateNoncompliant = "noncompliant"
)

type postureChange struct {
	at       time.Time
	from, to string
}

type statusKey struct {
	at            time.Time
	check, status string
}

type postureKey struct {
	at    time.Time
	state string
}

// Ingest stores a validated batch for one host exactly once per (host, seq). See store.Store.
//
// The host's row is locked first, so batches for the host apply one at a time whatever
// replica received them; under that lock a record is new when its seq is above last_seq and
// not in a pending span, and its pending row is inserted with ON CONFLICT DO NOTHING as well.
//
// It costs two round trips: BEGIN with every read, then every write with COMMIT (tx2). The
// result is returned only after COMMIT, so it is durable under PostgreSQL's default
// synchronous_commit; concurrent ingests share their WAL flushes through PostgreSQL's own
// group commit.
func (s *Store) Ingest(ctx context.Context, hostID string, b wire.ReportBatch, now time.Time) (store.IngestResult, error) {
	if err := b.Validate(); err != nil {
		return store.IngestResult{}, err
	}
	var (
		res     store.IngestResult
		hs      hostState
		pending []span
		in      = &ingest{hostID: hostID, alerts: map[alertKey]*openAlert{}}
	)
	reads := func(q *pgx.Batch) {
		// The lock is taken by the first statement, before the others run. A host that does
		// not exist locks nothing and reads nothing. NO KEY UPDATE: the foreign keys of the
		// rows this batch inserts take KEY SHARE locks on the row, which it does not block.
		q.Queue(`SELECT last_seq, chain_seq, chain_hash, chain_broken, revoked_at, labels, applied,
				last_run_id, last_run_at, last_run_checks
			FROM hosts WHERE id = $1 FOR NO KEY UPDATE`, hostID).
			QueryRow(func(row pgx.Row) error {
				var lastSeq, chainSeq int64
				var revoked, applied, lastRunAt *time.Time
				var labels []string
				err := row.Scan(&lastSeq, &chainSeq, &hs.chainHash, &hs.chainBroken, &revoked, &labels, &applied,
					&in.lastRun.id, &lastRunAt, &in.lastRun.checks)
				hs.lastSeq, hs.chainSeq, hs.revoked = uint64(lastSeq), uint64(chainSeq), revoked != nil
				in.labels = append([]string{""}, labels...)
				in.applied, in.lastRun.at = fromNull(applied), fromNull(lastRunAt)
				return err
			})
		q.Queue(`SELECT lo, hi, chain_seq, chain_prev, chain_hash FROM pending WHERE host_id = $1`, hostID).
			Query(func(rows pgx.Rows) (err error) {
				pending, err = pgx.CollectRows(rows, scanSpan)
				return err
			})
		q.Queue(`SELECT id, digest, finished FROM runs WHERE host_id = $1 ORDER BY finished DESC, id DESC LIMIT 1`, hostID).
			Query(func(rows pgx.Rows) error {
				defer rows.Close()
				for rows.Next() {
					if err := rows.Scan(&in.stored.id, &in.stored.digest, &in.stored.finished); err != nil {
						return err
					}
					in.stored.ok = true
				}
				return rows.Err()
			})
		q.Queue(`SELECT check_id, status, actual, expected, since, observed, run_id FROM current WHERE host_id = $1`, hostID).
			Query(func(rows pgx.Rows) (err error) {
				in.current, err = collectCurrent(rows)
				return err
			})
	}
	writes := func(q querier) (*pgx.Batch, error) {
		if hs.revoked {
			return nil, fmt.Errorf("host %q: %w", hostID, store.ErrRevoked)
		}
		held := func(seq uint64) bool {
			if seq <= hs.lastSeq {
				return true
			}
			for _, p := range pending {
				if p.lo <= seq && seq <= p.hi {
					return true
				}
			}
			return false
		}
		var fresh []wire.Record
		for _, r := range b.Records {
			if held(r.Seq) {
				res.Duplicates++
				continue
			}
			fresh = append(fresh, r)
		}
		if len(fresh) == 0 {
			res.Acked = hs.lastSeq
			in.batch.Queue(`UPDATE hosts SET last_seen = greatest(last_seen, $2), stale_at = `+staleAtSQL("greatest(last_seen, $2)", "0")+`
				WHERE id = $1`, hostID, now)
			return &in.batch, nil
		}
		in.state = in.posture()
		var spans []span
		for _, r := range fresh {
			sp := span{lo: r.Seq, hi: r.Seq}
			if r.Chain != nil {
				sp.chainSeq, sp.chainPrev, sp.chainHash = r.Chain.Seq, r.Chain.Prev, r.Chain.Hash
			}
			spans = append(spans, sp)
			if d := r.SpoolDrop; d != nil {
				spans = append(spans, span{lo: d.FromSeq, hi: d.ToSeq})
			}
			if err := in.apply(ctx, q, r); err != nil {
				return nil, fmt.Errorf("record %d: %w", r.Seq, err)
			}
			res.Stored++
		}
		res.Transitions, res.Repeats = len(in.trans), in.repeats
		if err := in.queueWrites(); err != nil {
			return nil, err
		}

		// Advance last_seq over what is now contiguous, checking the chain in sequence order.
		all := append(pending, spans...)
		sort.Slice(all, func(i, j int) bool { return all[i].lo < all[j].lo || all[i].lo == all[j].lo && all[i].hi < all[j].hi })
		var keep []span
		for _, sp := range all {
			if sp.lo > hs.lastSeq+1 {
				keep = append(keep, sp)
				continue
			}
			if sp.hi > hs.lastSeq {
				hs.lastSeq = sp.hi
			}
			hs.followChain(sp)
		}
		if len(pending) > 0 {
			in.batch.Queue(`DELETE FROM pending WHERE host_id = $1`, hostID)
		}
		for _, sp := range keep {
			// ON CONFLICT: a drop range may repeat one an earlier record already reported.
			in.batch.Queue(`INSERT INTO pending (host_id, lo, hi, chain_seq, chain_prev, chain_hash) VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT DO NOTHING`, hostID, int64(sp.lo), int64(sp.hi), int64(sp.chainSeq), sp.chainPrev, sp.chainHash)
		}
		in.batch.Queue(`UPDATE hosts SET last_seq = $2, chain_seq = $3, chain_hash = $4, chain_broken = $5,
			last_seen = greatest(last_seen, $6), stale_at = `+staleAtSQL("greatest(last_seen, $6)", "0")+`, applied = $7, last_run_id = $8, last_run_at = $9, last_run_checks = $10,
			posture = $11, posture_since = coalesce($12, posture_since)
			WHERE id = $1`,
			hostID, int64(hs.lastSeq), int64(hs.chainSeq), hs.chainHash, hs.chainBroken, now,
			tsOrNull(in.applied), in.lastRun.id, tsOrNull(in.lastRun.at), in.lastRun.checks, in.state, in.postureSince())
		res.Acked = hs.lastSeq
		return &in.batch, nil
	}
	if err := s.tx2(ctx, reads, writes); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			err = fmt.Errorf("host %q: %w", hostID, store.ErrNotFound)
		}
		return store.IngestResult{}, err
	}
	return res, nil
}

// querier runs a statement in the transaction (alerts read their open alert on the way).
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// tx2 runs one read-write transaction in two round trips: BEGIN with the statements reads
// queues, then the statements writes returns (decided from what was read) with COMMIT. Any
// error rolls the transaction back; a connection that cannot roll back is closed, which
// rolls back too. It returns once COMMIT has returned.
func (s *Store) tx2(ctx context.Context, reads func(*pgx.Batch), writes func(querier) (*pgx.Batch, error)) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	fail := func(err error) error {
		if conn.Conn().IsClosed() {
			return err
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, rerr := conn.Exec(rctx, `ROLLBACK`); rerr != nil {
			conn.Conn().Close(rctx)
		}
		return err
	}
	var r pgx.Batch
	r.Queue(`BEGIN`)
	reads(&r)
	if err := conn.SendBatch(ctx, &r).Close(); err != nil {
		return fail(err)
	}
	w, err := writes(conn)
	if err != nil {
		return fail(err)
	}
	w.Queue(`COMMIT`)
	if err := conn.SendBatch(ctx, w).Close(); err != nil {
		return fail(err)
	}
	return nil
}

// followChain checks that a record's evidence-chain entry continues the host's chain, and
// moves the host's chain position to it. Entries may be skipped (the agent logs entries it
// does not report, and drops records), but never repeated or rewound, and an entry that
// directly follows the last one seen must name that one's hash as its prev.
func (hs *hostState) followChain(sp span) {
	if sp.chainSeq == 0 {
		return
	}
	if hs.chainSeq > 0 {
		if sp.chainSeq <= hs.chainSeq || sp.chainSeq == hs.chainSeq+1 && sp.chainPrev != hs.chainHash {
			hs.chainBroken = true
		}
	}
	hs.chainSeq, hs.chainHash = sp.chainSeq, sp.chainHash
}

func scanSpan(r pgx.CollectableRow) (span, error) {
	var lo, hi, cs int64
	var sp span
	err := r.Scan(&lo, &hi, &cs, &sp.chainPrev, &sp.chainHash)
	sp.lo, sp.hi, sp.chainSeq = uint64(lo), uint64(hi), uint64(cs)
	return sp, err
}

func collectCurrent(rows pgx.Rows) (map[string]*currentRow, error) {
	defer rows.Close()
	cur := map[string]*currentRow{}
	for rows.Next() {
		var check string
		c := &currentRow{}
		if err := rows.Scan(&check, &c.status, &c.actual, &c.expected, &c.since, &c.observed, &c.runID); err != nil {
			return nil, err
		}
		c.since, c.observed = c.since.UTC(), c.observed.UTC()
		cur[check] = c
	}
	return cur, rows.Err()
}

// apply gathers one new record's effects. Statuses take effect at the record's time; a
// record older than the newest one already applied (one that arrives after a later one) is
// stored but changes neither the current state nor the transitions, so late records cannot
// rewrite history.
func (in *ingest) apply(ctx context.Context, q querier, r wire.Record) error {
	switch {
	case r.Run != nil:
		run := r.Run
		repeat, err := in.storeRun(r.Seq, run, nonZero(run.Finished, r.Time))
		if err != nil {
			return err
		}
		if in.late(r.Time) {
			return nil
		}
		if repeat {
			// A repeat leaves the host's last run, and so every unchanged check's run ID, on
			// the stored run that holds the evidence (store.Current.RunID).
			in.repeat = true
			defer func() { in.repeat = false }()
		} else {
			in.newRun(run, r.Time)
		}
		for _, res := range run.Results {
			in.observe(res.Check, res.Status, res.Actual, res.Expected, r.Time, run.RunID, wire.CauseObserved, r.Seq)
		}
	case r.Drift != nil:
		if in.late(r.Time) {
			return nil
		}
		d := r.Drift
		in.observe(d.Check, d.To, d.Actual, "", r.Time, d.RunID, d.Cause, r.Seq)
		// Enforce mode: the fix that followed, when it says what it left behind.
		if f := d.Fix; f != nil && f.Status != d.To && knownStatus(f.Status) {
			in.observe(d.Check, f.Status, f.Actual, "", r.Time, d.RunID, wire.CauseFix, r.Seq)
		}
	case r.Alert != nil:
		return in.foldAlert(ctx, q, r)
	case r.Bans != nil:
		summary, err := json.Marshal(r.Bans)
		if err != nil {
			return err
		}
		in.batch.Queue(`INSERT INTO bans (host_id, time, seq, summary) VALUES ($1, $2, $3, $4)
			ON CONFLICT (host_id) DO UPDATE SET time = excluded.time, seq = excluded.seq, summary = excluded.summary
			WHERE bans.seq < excluded.seq`, in.hostID, r.Time, int64(r.Seq), string(summary))
	}
	return nil
}

// storeRun stores a run, or folds it into the host's latest stored run when its results are
// the same (store.RunDigest) and it finished no earlier: storage grows with changes.
func (in *ingest) storeRun(seq uint64, run *wire.Run, finished time.Time) (repeat bool, err error) {
	digest := store.RunDigest(*run)
	if st := &in.stored; st.ok && st.digest == digest && !finished.Before(st.finished) {
		in.repeats++
		const repeat = `UPDATE runs SET repeats = repeats + 1, confirmed = greatest(confirmed, $2),
			last_run_id = CASE WHEN $2 >= confirmed THEN $3 ELSE last_run_id END WHERE id = `
		if st.id != 0 {
			in.batch.Queue(repeat+`$1`, st.id, finished, run.RunID)
		} else {
			// Stored by this batch: the statements before this one have inserted it.
			in.batch.Queue(repeat+`(SELECT id FROM runs WHERE host_id = $1 ORDER BY finished DESC, id DESC LIMIT 1)`,
				in.hostID, finished, run.RunID)
		}
		return true, nil
	}
	results, err := json.Marshal(run.Results)
	if err != nil {
		return false, err
	}
	in.batch.Queue(`INSERT INTO runs (host_id, seq, run_id, policy, mode, baseline_name, baseline_sha256, started, finished, results,
			digest, confirmed, last_run_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $9, $3)`,
		in.hostID, int64(seq), run.RunID, run.Policy, run.Mode, run.BaselineName, run.BaselineSHA256,
		nonZero(run.Started, finished), finished, string(results), digest)
	// A new row has the greatest id: it is the latest unless another finished later.
	if !in.stored.ok || !finished.Before(in.stored.finished) {
		in.stored = storedRun{ok: true, digest: digest, finished: finished}
	}
	return false, nil
}

// late reports whether a record at time at is older than the newest one applied to the
// host's current state, and otherwise makes it the newest.
func (in *ingest) late(at time.Time) bool {
	if at.Before(in.applied) {
		return true
	}
	in.applied = at
	return false
}

// newRun makes run the host's latest. The checks the previous latest run reported and this
// one does not keep that run's ID: their rows are written with it.
func (in *ingest) newRun(run *wire.Run, at time.Time) {
	prev := in.lastRun
	checks := make([]string, 0, len(run.Results))
	reported := make(map[string]bool, len(run.Results))
	for _, res := range run.Results {
		if !reported[res.Check] {
			reported[res.Check] = true
			checks = append(checks, res.Check)
		}
	}
	for _, check := range prev.checks {
		if c := in.current[check]; c != nil && !reported[check] && c.observed.Before(prev.at) {
			c.runID, c.observed, c.changed = prev.id, prev.at, true
		}
	}
	in.lastRun = lastRun{id: run.RunID, at: at, checks: checks}
}

// observe records that a check had status at time at. A status other than the current one is
// a transition, counted in the deltas, and may change the host's posture. expected "" keeps
// the one known (drifts do not carry it). A run's result that changes nothing is not written:
// the row takes the run's ID from the host's last run (CurrentResults).
func (in *ingest) observe(check, status, actual, expected string, at time.Time, runID, cause string, seq uint64) {
	c := in.current[check]
	from := ""
	if c == nil {
		c = &currentRow{since: at}
		in.current[check] = c
	} else {
		from = c.status
		if expected == "" {
			expected = c.expected
		}
		// A row already written at this instant (by a drift before this run) is written
		// again, so that the run that came later names it.
		if from == status && c.actual == actual && c.expected == expected && cause == wire.CauseObserved &&
			(runID == in.lastRun.id || in.repeat) && c.observed.Before(at) {
			return
		}
	}
	if from != status {
		c.since = at
		in.trans = append(in.trans, store.Transition{HostID: in.hostID, Check: check, Time: at, From: from, To: status,
			Actual: actual, RunID: runID, Cause: cause, Seq: seq})
		in.countStatus(at, check, from, status)
	}
	c.status, c.actual, c.expected, c.observed, c.runID, c.changed = status, actual, expected, at, runID, true
	if from != status {
		if p := in.posture(); p != in.state {
			in.postures = append(in.postures, postureChange{at: at, from: in.state, to: p})
			in.countPosture(at, in.state, p)
			in.state = p
		}
	}
}

// postureSince is the time of the batch's last posture change, nil when none.
func (in *ingest) postureSince() *time.Time {
	if len(in.postures) == 0 {
		return nil
	}
	return &in.postures[len(in.postures)-1].at
}

// posture is the host's posture from its current state.
func (in *ingest) posture() string {
	if len(in.current) == 0 {
		return ""
	}
	for _, c := range in.current {
		if !wire.Compliant(c.status) {
			return stateNoncompliant
		}
	}
	return stateCompliant
}

// countStatus adds a (host, check) pair's move from one status to another at at.
func (in *ingest) countStatus(at time.Time, check, from, to string) {
	if in.status == nil {
		in.status = map[statusKey]int{}
	}
	in.status[statusKey{at, check, to}]++
	if from != "" {
		in.status[statusKey{at, check, from}]--
	}
}

// countPosture adds a host's move from one posture to another at at.
func (in *ingest) countPosture(at time.Time, from, to string) {
	if in.postureN == nil {
		in.postureN = map[postureKey]int{}
	}
	in.postureN[postureKey{at, to}]++
	if from != "" {
		in.postureN[postureKey{at, from}]--
	}
}

// queueWrites adds the gathered current rows, transitions, postures, deltas, checks and
// alerts to the batch, one statement each over arrays (alerts, which are rare, one each).
func (in *ingest) queueWrites() error {
	for k, a := range in.alerts {
		js, err := json.Marshal(a.alert)
		if err != nil {
			return err
		}
		if a.id == 0 {
			in.batch.Queue(`INSERT INTO alerts (host_id, rule, process, parent, command_line, alert, seq, duplicate)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
				in.hostID, k.rule, k.process, k.parent, k.commandLine, string(js), int64(a.seq), a.duplicate)
		} else {
			in.batch.Queue(`UPDATE alerts SET alert = $2, seq = $3, duplicate = $4 WHERE id = $1`,
				a.id, string(js), int64(a.seq), a.duplicate)
		}
	}
	var (
		checks, statuses, actuals, expecteds, runIDs, created []string
		sinces, observeds                                     []time.Time
	)
	for check, c := range in.current {
		if !c.changed {
			continue
		}
		checks, statuses, actuals, expecteds, runIDs = append(checks, check), append(statuses, c.status),
			append(actuals, c.actual), append(expecteds, c.expected), append(runIDs, c.runID)
		sinces, observeds = append(sinces, c.since), append(observeds, c.observed)
	}
	for _, t := range in.trans {
		if t.From == "" {
			created = append(created, t.Check)
		}
	}
	if len(created) > 0 {
		sort.Strings(created)
		// Only checks new to the host can be new to the fleet; of those only the unknown are
		// written, so that the common case takes no row lock.
		in.batch.Queue(`INSERT INTO checks (check_id) SELECT u FROM unnest($1::text[]) AS u
			WHERE NOT EXISTS (SELECT 1 FROM checks WHERE check_id = u) ON CONFLICT DO NOTHING`, created)
	}
	if len(checks) > 0 {
		in.batch.Queue(`INSERT INTO current (host_id, check_id, status, actual, expected, since, observed, run_id)
			SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[], $8::text[])
			ON CONFLICT (host_id, check_id) DO UPDATE SET status = excluded.status, actual = excluded.actual,
				expected = excluded.expected, since = excluded.since, observed = excluded.observed, run_id = excluded.run_id`,
			in.hostID, checks, statuses, actuals, expecteds, sinces, observeds, runIDs)
	}
	if len(in.trans) > 0 {
		n := len(in.trans)
		tc, tf, tt, ta, tr, tcause := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		tm, ts := make([]time.Time, n), make([]int64, n)
		for i, t := range in.trans {
			tc[i], tf[i], tt[i], ta[i], tr[i], tcause[i], tm[i], ts[i] = t.Check, t.From, t.To, t.Actual, t.RunID, t.Cause, t.Time, int64(t.Seq)
		}
		// WITH ORDINALITY keeps the batch's order in the ids, which break ties in time.
		in.batch.Queue(`INSERT INTO transitions (host_id, check_id, time, from_status, to_status, actual, run_id, cause, seq)
			SELECT $1, c, t, f, s, a, r, ca, q FROM unnest($2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[])
				WITH ORDINALITY AS u(c, t, f, s, a, r, ca, q, n) ORDER BY n`,
			in.hostID, tc, tm, tf, tt, ta, tr, tcause, ts)
	}
	if len(in.postures) > 0 {
		var at []time.Time
		var from, to []string
		for _, p := range in.postures {
			at, from, to = append(at, p.at), append(from, p.from), append(to, p.to)
		}
		in.batch.Queue(`INSERT INTO posture (host_id, time, from_state, to_state)
			SELECT $1, t, f, s FROM unnest($2::timestamptz[], $3::text[], $4::text[]) WITH ORDINALITY AS u(t, f, s, n) ORDER BY n`,
			in.hostID, at, from, to)
	}
	var dt []time.Time
	var dc, ds []string
	var dn []int32
	for k, n := range in.status {
		if n != 0 {
			dt, dc, ds, dn = append(dt, k.at), append(dc, k.check), append(ds, k.status), append(dn, int32(n))
		}
	}
	if len(dt) > 0 {
		in.batch.Queue(`INSERT INTO status_deltas (label, time, check_id, status, n)
			SELECT l, t, c, s, n FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::int[]) AS d(t, c, s, n)
				CROSS JOIN unnest($5::text[]) AS l`, dt, dc, ds, dn, in.labels)
	}
	// New slices: the batch holds the ones above until it is sent.
	dt, ds, dn = nil, nil, nil
	for k, n := range in.postureN {
		if n != 0 {
			dt, ds, dn = append(dt, k.at), append(ds, k.state), append(dn, int32(n))
		}
	}
	if len(dt) > 0 {
		in.batch.Queue(`INSERT INTO posture_deltas (label, time, state, n)
			SELECT l, t, s, n FROM unnest($1::timestamptz[], $2::text[], $3::int[]) AS d(t, s, n)
				CROSS JOIN unnest($4::text[]) AS l`, dt, ds, dn, in.labels)
	}
	return nil
}

// alertKey is what alerts are de-duplicated by, per host.
type alertKey struct{ rule, process, parent, commandLine string }

// openAlert is an open alert as this batch leaves it; id 0 is a new one.
type openAlert struct {
	id        int64
	alert     wire.Alert
	seq       uint64
	duplicate int
}

// foldAlert adds an alert to the host's open alert with the same key, or opens one. Counts
// add up, first and last seen widen, and severity, reason and user follow the latest report.
// The host's row lock makes the read-modify-write safe.
func (in *ingest) foldAlert(ctx context.Context, tx querier, r wire.Record) error {
	a := *r.Alert
	if a.Count <= 0 {
		a.Count = 1
	}
	a.FirstSeen, a.LastSeen = nonZero(a.FirstSeen, r.Time), nonZero(a.LastSeen, r.Time)
	k := alertKey{a.Rule, a.Process, a.Parent, a.CommandLine}
	open, ok := in.alerts[k]
	if !ok {
		var js []byte
		var seq int64
		o := &openAlert{}
		err := tx.QueryRow(ctx, `SELECT id, alert, seq, duplicate FROM alerts WHERE host_id = $1 AND rule = $2 AND process = $3
			AND parent = $4 AND command_line = $5 AND acked_at IS NULL`, in.hostID, k.rule, k.process, k.parent, k.commandLine).
			Scan(&o.id, &js, &seq, &o.duplicate)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			in.alerts[k] = &openAlert{alert: a, seq: r.Seq}
			return nil
		case err != nil:
			return err
		}
		if err := json.Unmarshal(js, &o.alert); err != nil {
			return fmt.Errorf("alert %d: %w", o.id, err)
		}
		o.seq = uint64(seq)
		in.alerts[k], open = o, o
	}
	old := &open.alert
	old.Count += a.Count
	if a.FirstSeen.Before(old.FirstSeen) {
		old.FirstSeen = a.FirstSeen
	}
	if a.LastSeen.After(old.LastSeen) {
		old.LastSeen = a.LastSeen
		old.Severity, old.Reason, old.User = a.Severity, a.Reason, a.User
	}
	open.seq = max(open.seq, r.Seq)
	open.duplicate++
	return nil
}

// knownStatus reports whether s is a status the posture engine reports.
func knownStatus(s string) bool {
	switch s {
	case wire.StatusPass, wire.StatusFail, wire.StatusError, wire.StatusNotApplicable, wire.StatusManaged, wire.StatusExempt:
		return true
	}
	return false
}

// nonZero is t, or def when t is zero.
func nonZero(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return t
}
