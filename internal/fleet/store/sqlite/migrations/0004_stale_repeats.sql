-- Stale hosts counted by the store, and runs stored only when their results change.

-- The interval of the policy last given to the host (nanoseconds, 0: the default hour) and when
-- it becomes stale: last_seen + 3 intervals (store.StaleAt). Indexed, so that the stale hosts
-- of an instant are a range of this index, not a read of every host. It replaces the index on
-- last_seen, which nothing reads any more and every report would have to update.
--
-- posture and posture_since are the host's latest row of the posture table, so that counting
-- the stale hosts that are compliant now reads this index alone (the index covers what
-- ComplianceAt asks of a stale host); only a host whose posture changed after the instant asked
-- about needs its posture table.
ALTER TABLE hosts ADD COLUMN interval_ns INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hosts ADD COLUMN stale_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hosts ADD COLUMN posture TEXT NOT NULL DEFAULT '';
ALTER TABLE hosts ADD COLUMN posture_since INTEGER NOT NULL DEFAULT 0;
UPDATE hosts SET stale_at = (CASE WHEN last_seen = 0 THEN enrolled_at ELSE last_seen END) + 3 * 3600000000000;
UPDATE hosts SET (posture, posture_since) = (SELECT to_state, time FROM posture p WHERE p.host_id = hosts.id
	ORDER BY p.time DESC, p.rowid DESC LIMIT 1) WHERE EXISTS (SELECT 1 FROM posture p WHERE p.host_id = hosts.id);
CREATE INDEX hosts_stale_at ON hosts (stale_at, posture, posture_since, enrolled_at, revoked_at);
DROP INDEX hosts_last_seen;

-- A run whose results equal the host's latest stored run is not stored again: that run's
-- confirmed (Finished of the newest identical run), repeats and last_run_id advance instead.
ALTER TABLE runs ADD COLUMN confirmed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN repeats INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN last_run_id TEXT NOT NULL DEFAULT '';
UPDATE runs SET confirmed = finished, last_run_id = run_id;
-- Prune deletes by confirmed.
DROP INDEX runs_finished;
CREATE INDEX runs_confirmed ON runs (confirmed);

-- The host's latest stored run (greatest finished, then id): its id, store.RunDigest, finished,
-- and its confirmed, repeats and last_run_id while it is the latest. A repeated run then
-- writes only the host row, which every report writes anyway; the counters are copied into the
-- runs row when a newer run is stored, and by Prune. Runs stored before this migration have no
-- digest, so the first run after it is stored again.
ALTER TABLE hosts ADD COLUMN run_rowid INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hosts ADD COLUMN run_digest TEXT NOT NULL DEFAULT '';
ALTER TABLE hosts ADD COLUMN run_finished INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hosts ADD COLUMN run_confirmed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hosts ADD COLUMN run_repeats INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hosts ADD COLUMN run_last_id TEXT NOT NULL DEFAULT '';
UPDATE hosts SET run_rowid = coalesce((SELECT id FROM runs WHERE host_id = hosts.id ORDER BY finished DESC, id DESC LIMIT 1), 0);
UPDATE hosts SET run_finished = (SELECT finished FROM runs WHERE id = hosts.run_rowid),
	run_confirmed = (SELECT finished FROM runs WHERE id = hosts.run_rowid),
	run_last_id = (SELECT run_id FROM runs WHERE id = hosts.run_rowid) WHERE run_rowid != 0;

-- status_deltas and posture_deltas per label, so that compliance for a label is a sum of hourly
-- counts too instead of a read of every host of the label. A host counts under the labels it has
-- now: when re-enrollment changes them, its whole history moves from the old labels to the new.
CREATE TABLE label_status_deltas (
	hour     INTEGER NOT NULL,
	label    TEXT NOT NULL,
	check_id TEXT NOT NULL,
	status   TEXT NOT NULL,
	n        INTEGER NOT NULL,
	PRIMARY KEY (label, hour, check_id, status)
) WITHOUT ROWID;
CREATE TABLE label_posture_deltas (
	hour  INTEGER NOT NULL,
	label TEXT NOT NULL,
	state TEXT NOT NULL,
	n     INTEGER NOT NULL,
	PRIMARY KEY (label, hour, state)
) WITHOUT ROWID;
INSERT INTO label_status_deltas (hour, label, check_id, status, n)
	SELECT hour, label, check_id, status, sum(n) FROM (
		SELECT t.time / 3600000000000 AS hour, l.label, t.check_id, t.to_status AS status, 1 AS n
			FROM transitions t JOIN host_labels l ON l.host_id = t.host_id
		UNION ALL
		SELECT t.time / 3600000000000, l.label, t.check_id, t.from_status, -1
			FROM transitions t JOIN host_labels l ON l.host_id = t.host_id WHERE t.from_status != ''
	) WHERE true GROUP BY hour, label, check_id, status HAVING sum(n) != 0;
INSERT INTO label_posture_deltas (hour, label, state, n)
	SELECT hour, label, state, sum(n) FROM (
		SELECT p.time / 3600000000000 AS hour, l.label, p.to_state AS state, 1 AS n
			FROM posture p JOIN host_labels l ON l.host_id = p.host_id
		UNION ALL
		SELECT p.time / 3600000000000, l.label, p.from_state, -1
			FROM posture p JOIN host_labels l ON l.host_id = p.host_id WHERE p.from_state != ''
	) WHERE true GROUP BY hour, label, state HAVING sum(n) != 0;
