package postgres

import (
	"context"
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

// qStatusHour is the same for the instant's own hour, up to the instant, from the transitions
// (at most an hour of them, through transitions_time) of the hosts that have the label now.
const qStatusHour = `SELECT t.check_id, x.status, sum(x.n) FROM transitions t
	JOIN hosts h ON h.id = t.host_id
	CROSS JOIN LATERAL (VALUES (t.to_status, 1), (t.from_status, -1)) AS x (status, n)
	WHERE t.time >= $2 AND t.time <= $1 AND x.status <> '' AND ($3 = '' OR h.labels @> ARRAY[$3]::text[])
		AND ($4 = '' OR t.check_id = $4)
	GROUP BY t.check_id, x.status`

const qPostureDeltas = `SELECT state, sum(n) FROM posture_deltas WHERE label = $2 AND time < $1 GROUP BY state`

const qPostureHour = `SELECT x.state, sum(x.n) FROM posture p
	JOIN hosts h ON h.id = p.host_id
	CROSS JOIN LATERAL (VALUES (p.to_state, 1), (p.from_state, -1)) AS x (state, n)
	WHERE p.time >= $2 AND p.time <= $1 AND x.state <> '' AND ($3 = '' OR h.labels @> ARRAY[$3]::text[])
	GROUP BY x.state`

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

// staleScope are the hosts, in scope ($2: label), stale at $1 by their StaleAt now.
const staleScope = `h.stale_at <= $1 AND h.enrolled_at <= $1 AND (h.revoked_at IS NULL OR h.revoked_at > $1)
	AND ($2 = '' OR h.labels @> ARRAY[$2]::text[])`

// qStaleFleet counts the stale hosts (not among $3, the exempted ones qExactAt counts) whose
// posture at $1 was compliant: one probe of posture_host_time each.
const qStaleFleet = `SELECT count(*) FROM hosts h
	CROSS JOIN LATERAL (SELECT p.to_state FROM posture p WHERE p.host_id = h.id AND p.time <= $1
		ORDER BY p.time DESC, p.id DESC LIMIT 1) p
	WHERE ` + staleScope + ` AND NOT h.id = ANY($3) AND p.to_state = 'compliant'`

// qStaleCheck counts the stale hosts (not among $3) whose status for the check $4 at $1 was
// compliant.
const qStaleCheck = `SELECT count(*) FROM hosts h JOIN current c ON c.host_id = h.id AND c.check_id = $4
	WHERE ` + staleScope + ` AND NOT h.id = ANY($3) AND ` + statusAt + ` IN ('pass', 'managed', 'exempt', 'not_applicable')`

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
	c := store.Compliance{At: at, PerCheck: map[string]store.CheckCount{}}
	hour := at.UTC().Truncate(time.Hour)
	counts := map[string]map[string]int{} // check → status → (host, check) pairs
	add := func(chk, status string, n int) {
		if chk == "" || status == "" || check != "" && chk != check {
			return
		}
		m := counts[chk]
		if m == nil {
			m = map[string]int{}
			counts[chk] = m
		}
		m[status] += n
	}
	posture := map[string]int{}
	var revoked, exempted []string

	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return c, err
	}
	defer tx.Rollback(ctx)
	scanCounts := func(rows pgx.Rows) error {
		defer rows.Close()
		for rows.Next() {
			var chk, status string
			var n int
			if err := rows.Scan(&chk, &status, &n); err != nil {
				return err
			}
			add(chk, status, n)
		}
		return rows.Err()
	}
	scanPosture := func(rows pgx.Rows) error {
		defer rows.Close()
		for rows.Next() {
			var state string
			var n int
			if err := rows.Scan(&state, &n); err != nil {
				return err
			}
			posture[state] += n
		}
		return rows.Err()
	}
	scanIDs := func(ids *[]string) func(pgx.Rows) error {
		return func(rows pgx.Rows) (err error) {
			*ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		}
	}
	var b pgx.Batch
	b.Queue(qStatusDeltas, hour, label, check).Query(scanCounts)
	b.Queue(qStatusHour, at, hour, label, check).Query(scanCounts)
	if check == "" {
		b.Queue(qPostureDeltas, hour, label).Query(scanPosture)
		b.Queue(qPostureHour, at, hour, label).Query(scanPosture)
	}
	b.Queue(qHostsAt, at, label).QueryRow(func(r pgx.Row) error { return r.Scan(&c.Hosts) })
	b.Queue(qRevokedAt, at, label).Query(scanIDs(&revoked))
	b.Queue(qExemptedAt, at, label, check).Query(scanIDs(&exempted))
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return c, err
	}
	// Stale hosts that count compliant are counted as stale instead: those without an
	// exemption here, the exempted ones with their exact statuses below.
	if exempted == nil {
		exempted = []string{}
	}
	if check == "" {
		err = tx.QueryRow(ctx, qStaleFleet, at, label, exempted).Scan(&c.Stale)
	} else {
		err = tx.QueryRow(ctx, qStaleCheck, at, label, exempted, check).Scan(&c.Stale)
	}
	if err != nil {
		return c, err
	}
	if len(revoked)+len(exempted) > 0 {
		rows, err := tx.Query(ctx, qExactAt, at, revoked, exempted)
		if err != nil {
			return c, err
		}
		defer rows.Close()
		for rows.Next() {
			var isRevoked, stale bool
			var chk *string
			var raw, eff string
			var n int
			if err := rows.Scan(&isRevoked, &stale, &chk, &raw, &eff, &n); err != nil {
				return c, err
			}
			switch {
			case chk != nil && isRevoked:
				add(*chk, raw, -n)
			case chk != nil:
				add(*chk, raw, -n)
				add(*chk, eff, n)
				if stale && *chk == check && wire.Compliant(eff) {
					c.Stale += n
				}
			case isRevoked:
				posture[raw] -= n
			default:
				posture[raw] -= n
				posture[eff] += n
				if stale && check == "" && eff == stateCompliant {
					c.Stale += n
				}
			}
		}
		if err := rows.Err(); err != nil {
			return c, err
		}
	}

	c.Tally(counts, posture[stateCompliant], posture[stateNoncompliant], check)
	return c, nil
}
