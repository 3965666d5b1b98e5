-- Fleet compliance at any instant without reading every host (issue 13: < 200 ms at 100,000
-- hosts × 90 days), stale hosts counted by the store, runs stored only when their results
-- change, and an ingest that writes only what changed.

-- The interval of the policy last given to the host (nanoseconds, 0: the default hour) and when
-- it becomes stale: last_seen + 3 intervals (store.StaleAt). Indexed, so that the stale hosts
-- of an instant are a range of this index; it replaces the index on last_seen, which nothing
-- searches any more (every report updates the row, and each index it carries costs an entry).
ALTER TABLE hosts ADD COLUMN interval_ns bigint NOT NULL DEFAULT 0;
ALTER TABLE hosts ADD COLUMN stale_at timestamptz;
UPDATE hosts SET stale_at = last_seen + interval '3 hours';
ALTER TABLE hosts ALTER COLUMN stale_at SET NOT NULL;
DROP INDEX hosts_last_seen;
CREATE INDEX hosts_stale_at ON hosts (stale_at);

-- A run whose results equal the host's latest stored run (store.RunDigest) is not stored
-- again: that run's confirmed (Finished of the newest identical run), repeats and last_run_id
-- advance instead. Runs stored before this migration have no digest, so the first run after it
-- is stored again. Prune deletes by confirmed, through runs_finished (finished <= confirmed):
-- no index on confirmed, so that a repeat changes no indexed column and its update can stay
-- on the row's page (HOT). toast_tuple_target moves the results out of the row, so that the
-- row a repeat copies is small.
ALTER TABLE runs ADD COLUMN digest text NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN confirmed timestamptz;
ALTER TABLE runs ADD COLUMN repeats integer NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN last_run_id text NOT NULL DEFAULT '';
UPDATE runs SET confirmed = finished, last_run_id = run_id;
ALTER TABLE runs ALTER COLUMN confirmed SET NOT NULL;
ALTER TABLE runs SET (toast_tuple_target = 256, fillfactor = 80);

-- What Ingest needs of a host besides its sequence, read under the host's row lock:
-- applied is the time of the newest record applied to the current state (an older record
-- arriving late is stored but changes neither the state nor the transitions); last_run_* is
-- the host's latest run, which is the run of every current row it reported and did not
-- otherwise rewrite (current rows are written only when they change; see CurrentResults).
ALTER TABLE hosts ADD COLUMN applied timestamptz;
ALTER TABLE hosts ADD COLUMN last_run_id text NOT NULL DEFAULT '';
ALTER TABLE hosts ADD COLUMN last_run_at timestamptz;
ALTER TABLE hosts ADD COLUMN last_run_checks text[] NOT NULL DEFAULT '{}';
UPDATE hosts SET applied = (SELECT max(observed) FROM current c WHERE c.host_id = hosts.id);

-- A host's posture over time: 'compliant' or 'noncompliant' (every status it has, over every
-- check, is compliant or not) from its first result on. Append-only, one row per change.
CREATE TABLE posture (
	id         bigserial PRIMARY KEY,
	host_id    text NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
	time       timestamptz NOT NULL,
	from_state text NOT NULL, -- '' before the first result
	to_state   text NOT NULL
);
CREATE INDEX posture_host_time ON posture (host_id, time DESC, id DESC);
CREATE INDEX posture_time ON posture (time);

-- ComplianceAt: the hosts revoked by an instant (few), and the transitions and posture changes
-- of the instant's own hour.
CREATE INDEX hosts_revoked ON hosts (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX transitions_time ON transitions (time);

-- Counts as append-only deltas: every transition adds a row +1 for the status entered and -1
-- for the one left, at its time, once for the whole fleet (label '') and once for each of the
-- host's labels. The counts at an instant are the sum of the rows before the instant's hour
-- plus the transitions of that hour. No row is ever updated, so concurrent ingests (and
-- replicas) never wait on a shared counter. Prune folds old rows into one row per (label,
-- hour, check, status) with raw = false; folding keeps every sum. A host whose labels change
-- at re-enrollment gets its history moved: rows cancelling it under the labels it lost and
-- repeating it under the labels it gained, at the original times.
CREATE TABLE status_deltas (
	label    text NOT NULL,
	time     timestamptz NOT NULL,
	check_id text NOT NULL,
	status   text NOT NULL,
	n        integer NOT NULL,
	raw      boolean NOT NULL DEFAULT true
);
CREATE INDEX status_deltas_label_time ON status_deltas (label, time) INCLUDE (check_id, status, n);
CREATE INDEX status_deltas_raw ON status_deltas (time) WHERE raw;

CREATE TABLE posture_deltas (
	label text NOT NULL,
	time  timestamptz NOT NULL,
	state text NOT NULL,
	n     integer NOT NULL,
	raw   boolean NOT NULL DEFAULT true
);
CREATE INDEX posture_deltas_label_time ON posture_deltas (label, time) INCLUDE (state, n);
CREATE INDEX posture_deltas_raw ON posture_deltas (time) WHERE raw;

-- The history already stored: postures replayed from the transitions (a running count of the
-- host's checks whose status is not compliant), then both kinds of deltas.
INSERT INTO posture (host_id, time, from_state, to_state)
SELECT host_id, time, prev, state FROM (
	SELECT host_id, time, id, state, coalesce(lag(state) OVER (PARTITION BY host_id ORDER BY time, id), '') AS prev
	FROM (
		SELECT host_id, time, id,
			CASE WHEN sum(bad) OVER (PARTITION BY host_id ORDER BY time, id) > 0 THEN 'noncompliant' ELSE 'compliant' END AS state
		FROM (
			SELECT host_id, time, id,
				(CASE WHEN to_status IN ('pass', 'managed', 'exempt', 'not_applicable') THEN 0 ELSE 1 END)
				- (CASE WHEN from_status = '' OR from_status IN ('pass', 'managed', 'exempt', 'not_applicable') THEN 0 ELSE 1 END) AS bad
			FROM transitions
		) t
	) s
) p
WHERE state <> prev
ORDER BY host_id, time, id;

-- Already folded per hour, as Prune leaves them (see query.go, foldStatusDeltas).
INSERT INTO status_deltas (label, time, check_id, status, n, raw)
SELECT l.label, date_trunc('hour', t.time, 'UTC'), t.check_id, x.status, sum(x.n), false
FROM transitions t
JOIN hosts h ON h.id = t.host_id
CROSS JOIN LATERAL (VALUES (t.to_status, 1), (t.from_status, -1)) AS x (status, n)
CROSS JOIN LATERAL unnest(ARRAY[''] || h.labels) AS l (label)
WHERE x.status <> ''
GROUP BY 1, 2, 3, 4 HAVING sum(x.n) <> 0;

INSERT INTO posture_deltas (label, time, state, n, raw)
SELECT l.label, date_trunc('hour', p.time, 'UTC'), x.state, sum(x.n), false
FROM posture p
JOIN hosts h ON h.id = p.host_id
CROSS JOIN LATERAL (VALUES (p.to_state, 1), (p.from_state, -1)) AS x (state, n)
CROSS JOIN LATERAL unnest(ARRAY[''] || h.labels) AS l (label)
WHERE x.state <> ''
GROUP BY 1, 2, 3 HAVING sum(x.n) <> 0;
