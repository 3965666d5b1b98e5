package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// The queries of ComplianceAt. $1 is always the instant; a label or check of '' means all.

// qStatusDeltas sums the status deltas of the hours before the instant's: one index-only
// range of status_deltas_label_time, whose length grows with the hours of history (Prune folds
// them to one row per hour, check and status), not with the hosts.
const qStatusDeltas = `SELECT check_id, status, sum(n) FROM status_deltas
	WHERE label = $2 AND time < $1 AND ($3 = '' OR check_id = $3) GROUP BY check_id, status`

// qStatusSpans sums, for each instant i (the 1-based ordinal of $1 and $2), the status changes
// of the transitions from $1[i] to $2[i] (both included; a part of the instant's own hour, see
// deltasUntil) of the hosts that have the label $3 now, for the check $4: one statement for
// every instant, each a range of transitions_time_counts (index only). LATERAL keeps the
// planner from joining the instants to every transition; the label is a lookup per
// transition read (none on the hour), not a read of every host with the label.
const qStatusSpans = `SELECT a.i, s.check_id, s.status, s.n FROM unnest($1::timestamptz[], $2::timestamptz[]) WITH ORDINALITY AS a (lo, hi, i)
	CROSS JOIN LATERAL (
		SELECT t.check_id, x.status, sum(x.n) AS n FROM transitions t
		CROSS JOIN LATERAL (VALUES (t.to_status, 1), (t.from_status, -1)) AS x (status, n)
		WHERE t.time >= a.lo AND t.time <= a.hi AND x.status <> ''
			AND ($3 = '' OR EXISTS (SELECT 1 FROM hosts h WHERE h.id = t.host_id AND h.labels @> ARRAY[$3]::text[]))
			AND ($4 = '' OR t.check_id = $4)
		GROUP BY 1, 2) s`

const qPostureDeltas = `SELECT state, sum(n) FROM posture_deltas WHERE label = $2 AND time < $1 GROUP BY state`

const qPostureSpans = `SELECT a.i, s.state, s.n FROM unnest($1::timestamptz[], $2::timestamptz[]) WITH ORDINALITY AS a (lo, hi, i)
	CROSS JOIN LATERAL (
		SELECT x.state, sum(x.n) AS n FROM posture p
		CROSS JOIN LATERAL (VALUES (p.to_state, 1), (p.from_state, -1)) AS x (state, n)
		WHERE p.time >= a.lo AND p.time <= a.hi AND x.state <> ''
			AND ($3 = '' OR EXISTS (SELECT 1 FROM hosts h WHERE h.id = p.host_id AND h.labels @> ARRAY[$3]::text[]))
		GROUP BY 1) s`

// qHostsAt counts the hosts enrolled and not revoked at the instant.
const qHostsAt = `SELECT count(*) FROM hosts
	WHERE enrolled_at <= $1 AND (revoked_at IS NULL OR revoked_at > $1) AND ($2 = '' OR labels @> ARRAY[$2]::text[])`

// qRevokedAt lists the hosts revoked by the instant: the deltas counted them, ComplianceAt
// takes them back out.
const qRevokedAt = `SELECT id FROM hosts
	WHERE revoked_at <= $1 AND enrolled_at <= $1 AND ($2 = '' OR labels @> ARRAY[$2]::text[])`

// statusAt is a (host, check)'s status at $1 for a current row c: the current status when it
// began by then (nearly always), otherwise the last transition by then, a backward probe of
// transitions_host_check_time.
const statusAt = `CASE WHEN c.since <= $1 THEN c.status ELSE (
		SELECT t.to_status FROM transitions t
		WHERE t.host_id = c.host_id AND t.check_id = c.check_id AND t.time <= $1
		ORDER BY t.time DESC, t.id DESC LIMIT 1) END`

// activeExemptions are the exemptions in force at $1: approved by then (a pending one, with a
// NULL approved_at, excuses nothing), neither expired nor revoked. approved_at is never before
// created_at.
const activeExemptions = `e.approved_at <= $1 AND (e.expires IS NULL OR e.expires > $1) AND (e.revoked_at IS NULL OR e.revoked_at > $1)`

// qExemptedAt lists the hosts in scope (enrolled, not revoked, with the label) that an
// exemption in force at the instant covers for a check (in scope) failing then: only those
// hosts' counts change from the deltas'.
const qExemptedAt = `WITH e AS (
	SELECT e.host_id, e.label, e.check_id FROM exemptions e WHERE ` + activeExemptions + ` AND ($3 = '' OR e.check_id = $3)
), pairs AS (
	SELECT h.id, e.check_id FROM e JOIN hosts h ON h.id = e.host_id
	WHERE e.host_id <> '' AND h.enrolled_at <= $1 AND (h.revoked_at IS NULL OR h.revoked_at > $1)
		AND ($2 = '' OR h.labels @> ARRAY[$2]::text[])
	UNION
	SELECT h.id, e.check_id FROM e JOIN hosts h ON h.labels @> ARRAY[e.label]
	WHERE e.label <> '' AND h.enrolled_at <= $1 AND (h.revoked_at IS NULL OR h.revoked_at > $1)
		AND ($2 = '' OR h.labels @> ARRAY[$2]::text[])
)
SELECT DISTINCT p.id FROM pairs p JOIN current c ON c.host_id = p.id AND c.check_id = p.check_id
WHERE ` + statusAt + ` = 'fail'`

// qRevokedAll and qExemptedAll are qRevokedAt and qExemptedAt at each instant of $1, with its
// 1-based ordinal.
const qRevokedAll = `SELECT a.i, r.id FROM unnest($1::timestamptz[]) WITH ORDINALITY AS a (at, i)
	CROSS JOIN LATERAL (SELECT h.id FROM hosts h WHERE h.revoked_at <= a.at AND h.enrolled_at <= a.at
		AND ($2 = '' OR h.labels @> ARRAY[$2]::text[])) r`

var qExemptedAll = `SELECT a.i, x.id FROM unnest($1::timestamptz[]) WITH ORDINALITY AS a (at, i)
	CROSS JOIN LATERAL (` + strings.ReplaceAll(qExemptedAt, "$1", "a.at") + `) x`

// staleScope are the hosts, in scope ($2: label), stale at $1 by their StaleAt now.
const staleScope = `h.stale_at <= $1 AND h.enrolled_at <= $1 AND (h.revoked_at IS NULL OR h.revoked_at > $1)
	AND ($2 = '' OR h.labels @> ARRAY[$2]::text[])`

// qStaleFleet counts the stale hosts (not among $3, the exempted ones qExactAt counts) whose
// posture at $1 was compliant: the latest posture kept in hosts when it began by then (nearly
// always: a stale host has not reported since), otherwise one probe of posture_host_time.
const qStaleFleet = `SELECT count(*) FROM hosts h
	WHERE ` + staleScope + ` AND NOT h.id = ANY($3) AND CASE WHEN h.posture_since <= $1 THEN h.posture ELSE (
		SELECT p.to_state FROM posture p WHERE p.host_id = h.id AND p.time <= $1
		ORDER BY p.time DESC, p.id DESC LIMIT 1) END = 'compliant'`

// qStaleCheck counts the stale hosts (not among $3) whose status for the check $4 at $1 was
// compliant.
const qStaleCheck = `SELECT count(*) FROM hosts h JOIN current c ON c.host_id = h.id AND c.check_id = $4
	WHERE ` + staleScope + ` AND NOT h.id = ANY($3) AND ` + statusAt + ` IN ('pass', 'managed', 'exempt', 'not_applicable')`

// qStaleFleetAll is qStaleFleet at every instant of $1 (with its 1-based ordinal), in one
// statement: the hosts (with the label $3) stale by the last instant $2 are read once, then
// matched to each instant; $4 and $5 pair instants' ordinals with their exempted hosts, which
// qExactAt counts instead.
const qStaleFleetAll = `WITH s AS MATERIALIZED (
	SELECT h.id, h.stale_at, h.enrolled_at, h.revoked_at, h.posture, h.posture_since FROM hosts h
	WHERE h.stale_at <= $2 AND ($3 = '' OR h.labels @> ARRAY[$3]::text[])
)
SELECT a.i, count(*) FROM unnest($1::timestamptz[]) WITH ORDINALITY AS a (at, i)
JOIN s ON s.stale_at <= a.at AND s.enrolled_at <= a.at AND (s.revoked_at IS NULL OR s.revoked_at > a.at)
WHERE NOT EXISTS (SELECT 1 FROM unnest($4::bigint[], $5::text[]) AS e (i, id) WHERE e.i = a.i AND e.id = s.id)
	AND CASE WHEN s.posture_since <= a.at THEN s.posture ELSE (
		SELECT p.to_state FROM posture p WHERE p.host_id = s.id AND p.time <= a.at
		ORDER BY p.time DESC, p.id DESC LIMIT 1) END = 'compliant'
GROUP BY a.i`

// qStaleCheckAll is qStaleCheck, for the check $6, at every instant of $1, as qStaleFleetAll.
const qStaleCheckAll = `WITH s AS MATERIALIZED (
	SELECT h.id, h.stale_at, h.enrolled_at, h.revoked_at, c.status, c.since FROM hosts h
	JOIN current c ON c.host_id = h.id AND c.check_id = $6
	WHERE h.stale_at <= $2 AND ($3 = '' OR h.labels @> ARRAY[$3]::text[])
)
SELECT a.i, count(*) FROM unnest($1::timestamptz[]) WITH ORDINALITY AS a (at, i)
JOIN s ON s.stale_at <= a.at AND s.enrolled_at <= a.at AND (s.revoked_at IS NULL OR s.revoked_at > a.at)
WHERE NOT EXISTS (SELECT 1 FROM unnest($4::bigint[], $5::text[]) AS e (i, id) WHERE e.i = a.i AND e.id = s.id)
	AND CASE WHEN s.since <= a.at THEN s.status ELSE (
		SELECT t.to_status FROM transitions t WHERE t.host_id = s.id AND t.check_id = $6 AND t.time <= a.at
		ORDER BY t.time DESC, t.id DESC LIMIT 1) END IN ('pass', 'managed', 'exempt', 'not_applicable')
GROUP BY a.i`

// qExactAt computes, for a few hosts, every check's status at the instant from the current
// state and the transitions: raw (as the deltas count it) and effective (a failure under an
// exemption in force counts as exempt), summed per (check, raw, effective) and per host
// posture, apart for the hosts stale at the instant. $2 are revoked hosts (their raw counts
// are taken out), $3 exempted ones (their raw counts are replaced by the effective ones).
const qExactAt = `WITH hs AS (
	SELECT id, labels, true AS revoked, false AS stale FROM hosts WHERE id = ANY($2)
	UNION ALL
	SELECT id, labels, false, stale_at <= $1 FROM hosts WHERE id = ANY($3)
), st AS (
	SELECT hs.id AS host_id, hs.revoked, hs.stale, hs.labels, c.check_id, ` + statusAt + ` AS raw
	FROM hs JOIN current c ON c.host_id = hs.id
), ex AS (
	SELECT host_id, revoked, stale, check_id, raw,
		CASE WHEN raw = 'fail' AND NOT revoked AND EXISTS (
			SELECT 1 FROM exemptions e WHERE e.check_id = st.check_id AND ` + activeExemptions + `
				AND (e.host_id = st.host_id OR e.label <> '' AND st.labels @> ARRAY[e.label]))
		THEN 'exempt' ELSE raw END AS eff
	FROM st WHERE raw IS NOT NULL
), agg AS (
	SELECT GROUPING(host_id) AS per_check, revoked, stale, host_id, check_id, raw, eff, count(*) AS n,
		bool_and(raw IN ('pass', 'managed', 'exempt', 'not_applicable')) AS raw_ok,
		bool_and(eff IN ('pass', 'managed', 'exempt', 'not_applicable')) AS eff_ok
	FROM ex GROUP BY GROUPING SETS ((revoked, stale, check_id, raw, eff), (revoked, stale, host_id))
)
SELECT revoked, stale, check_id, raw, eff, n FROM agg WHERE per_check = 1
UNION ALL
SELECT revoked, stale, NULL, CASE WHEN raw_ok THEN 'compliant' ELSE 'noncompliant' END,
	CASE WHEN eff_ok THEN 'compliant' ELSE 'noncompliant' END, count(*)
FROM agg WHERE per_check = 0 GROUP BY 1, 2, 4, 5`

// ComplianceAt counts the hosts enrolled (and not revoked) at at, of one label and for one
// check when given, by verdict and per check by status. It reads neither the runs nor every
// host: the counts of (host, check) pairs per status and of hosts per posture are sums of the
// append-only deltas Ingest writes, for the hours before at's, plus the transitions of at's
// own hour up to at; then corrected for the few hosts the deltas cannot know about: those
// revoked by then (taken out) and those with a failing check under an exemption in force then
// (counted as exempt). Every piece is read in one REPEATABLE READ snapshot, so concurrent
// ingests never make the pieces disagree.
//
// A host is compliant when it has a status for at least one counted check and every such
// status is compliant; a host with none is NoData. A compliant host whose StaleAt (as it is
// now) is at or before at counts as Stale instead. Labels are the hosts' current labels.
func (s *Store) ComplianceAt(ctx context.Context, at time.Time, label, check string) (store.Compliance, error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return store.Compliance{At: at}, err
	}
	defer tx.Rollback(ctx)
	p := newPoint(at, label, check)
	var b pgx.Batch
	b.Queue(qStatusDeltas, p.until, label, check).Query(p.scanCounts)
	if check == "" {
		b.Queue(qPostureDeltas, p.until, label).Query(p.scanPosture)
	}
	b.Queue(qHostsAt, at, label).QueryRow(func(r pgx.Row) error { return r.Scan(&p.c.Hosts) })
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return p.c, err
	}
	if err := finishPoints(ctx, tx, label, check, []*point{p}); err != nil {
		return p.c, err
	}
	return p.c, nil
}

// point is ComplianceAt at one instant while it is being counted: c.Hosts, and the (host,
// check) pairs per check and status and the hosts per posture, first as the deltas before
// until give them; finishPoints does the rest.
type point struct {
	c                 store.Compliance
	check             string
	counts            map[string]map[string]int // check → status → (host, check) pairs
	posture           map[string]int
	revoked, exempted []string
	// The deltas are summed up to until (excluded), the instant's hour or the next one,
	// whichever is nearer; the transitions from lo to hi (included) are then added (sign 1)
	// or taken back (sign -1), at most half an hour of them.
	until, lo, hi time.Time
	sign          int
}

func newPoint(at time.Time, label, check string) *point {
	p := &point{c: store.Compliance{At: at, PerCheck: map[string]store.CheckCount{}}, check: check,
		counts: map[string]map[string]int{}, posture: map[string]int{}}
	hour := at.UTC().Truncate(time.Hour)
	p.until, p.lo, p.hi, p.sign = hour, hour, at, 1
	if at.Sub(hour) > 30*time.Minute {
		// (at, hour + 1h) in whole microseconds, as PostgreSQL keeps times.
		p.until = hour.Add(time.Hour)
		p.lo, p.hi, p.sign = at.Truncate(time.Microsecond).Add(time.Microsecond), p.until.Add(-time.Microsecond), -1
	}
	return p
}

func (p *point) add(chk, status string, n int) {
	if chk == "" || status == "" || p.check != "" && chk != p.check {
		return
	}
	m := p.counts[chk]
	if m == nil {
		m = map[string]int{}
		p.counts[chk] = m
	}
	m[status] += n
}

func (p *point) scanCounts(rows pgx.Rows) error {
	defer rows.Close()
	for rows.Next() {
		var chk, status string
		var n int
		if err := rows.Scan(&chk, &status, &n); err != nil {
			return err
		}
		p.add(chk, status, n)
	}
	return rows.Err()
}

func (p *point) scanPosture(rows pgx.Rows) error {
	defer rows.Close()
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return err
		}
		p.posture[state] += n
	}
	return rows.Err()
}

// finishPoints finishes every point, in two round trips whatever their number: it adds the
// transitions and posture changes of each instant's own hour up to the instant, takes out the
// hosts revoked by then, counts failures under an exemption in force then as exempt, and counts
// the stale hosts (see ComplianceAt).
func finishPoints(ctx context.Context, tx pgx.Tx, label, check string, points []*point) error {
	ats, los, his := make([]time.Time, len(points)), make([]time.Time, len(points)), make([]time.Time, len(points))
	for i, p := range points {
		ats[i], los[i], his[i] = p.c.At, p.lo, p.hi
	}
	// Each row is of the point with the 1-based ordinal i.
	each := func(rows pgx.Rows, fn func(p *point) error, dest ...any) error {
		defer rows.Close()
		var i int
		for rows.Next() {
			if err := rows.Scan(append([]any{&i}, dest...)...); err != nil {
				return err
			}
			if err := fn(points[i-1]); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	var chk, status, id string
	var n int
	var b pgx.Batch
	b.Queue(qStatusSpans, los, his, label, check).Query(func(rows pgx.Rows) error {
		return each(rows, func(p *point) error { p.add(chk, status, p.sign*n); return nil }, &chk, &status, &n)
	})
	if check == "" {
		b.Queue(qPostureSpans, los, his, label).Query(func(rows pgx.Rows) error {
			return each(rows, func(p *point) error { p.posture[status] += p.sign * n; return nil }, &status, &n)
		})
	}
	b.Queue(qRevokedAll, ats, label).Query(func(rows pgx.Rows) error {
		return each(rows, func(p *point) error { p.revoked = append(p.revoked, id); return nil }, &id)
	})
	b.Queue(qExemptedAll, ats, label, check).Query(func(rows pgx.Rows) error {
		return each(rows, func(p *point) error { p.exempted = append(p.exempted, id); return nil }, &id)
	})
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return err
	}

	// Stale hosts that count compliant are counted as stale instead: those without an
	// exemption here, the exempted ones with their exact statuses (qExactAt).
	b = pgx.Batch{}
	exI, exID := []int64{}, []string{}
	for i, p := range points {
		for _, id := range p.exempted {
			exI, exID = append(exI, int64(i+1)), append(exID, id)
		}
	}
	scanStale := func(rows pgx.Rows) error {
		var n int
		return each(rows, func(p *point) error { p.c.Stale += n; return nil }, &n)
	}
	lastAt := points[len(points)-1].c.At
	if check == "" {
		b.Queue(qStaleFleetAll, ats, lastAt, label, exI, exID).Query(scanStale)
	} else {
		b.Queue(qStaleCheckAll, ats, lastAt, label, exI, exID, check).Query(scanStale)
	}
	for _, p := range points {
		if len(p.revoked)+len(p.exempted) > 0 {
			if p.exempted == nil {
				p.exempted = []string{}
			}
			b.Queue(qExactAt, p.c.At, p.revoked, p.exempted).Query(p.scanExact)
		}
	}
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return err
	}
	for _, p := range points {
		p.c.Tally(p.counts, p.posture[stateCompliant], p.posture[stateNoncompliant], p.check)
	}
	return nil
}

// scanExact applies qExactAt's rows to p.
func (p *point) scanExact(rows pgx.Rows) error {
	defer rows.Close()
	for rows.Next() {
		var isRevoked, stale bool
		var chk *string
		var raw, eff string
		var n int
		if err := rows.Scan(&isRevoked, &stale, &chk, &raw, &eff, &n); err != nil {
			return err
		}
		switch {
		case chk != nil && isRevoked:
			p.add(*chk, raw, -n)
		case chk != nil:
			p.add(*chk, raw, -n)
			p.add(*chk, eff, n)
			if stale && *chk == p.check && wire.Compliant(eff) {
				p.c.Stale += n
			}
		case isRevoked:
			p.posture[raw] -= n
		default:
			p.posture[raw] -= n
			p.posture[eff] += n
			if stale && p.check == "" && eff == stateCompliant {
				p.c.Stale += n
			}
		}
	}
	return rows.Err()
}
