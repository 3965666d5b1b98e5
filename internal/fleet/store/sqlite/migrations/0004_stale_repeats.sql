-- Stale hosts counted by the store, and runs stored only when their results change.

-- The interval of the policy last given to the host (nanoseconds, 0: the default hour) and when
-- it becomes stale: last_seen + 3 intervals (store.StaleAt). Indexed, so that the stale hosts
-- of an instant are a range of this index, not a read of every host.
ALTER TABLE hosts ADD COLUMN interval_ns INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hosts ADD COLUMN stale_at INTEGER NOT NULL DEFAULT 0;
UPDATE hosts SET stale_at = (CASE WHEN last_seen = 0 THEN enrolled_at ELSE last_seen END) + 3 * 3600000000000;
CREATE INDEX hosts_stale_at ON hosts (stale_at);

-- A run whose results equal the host's latest stored run is not stored again: that run's
-- confirmed (Finished of the newest identical run), repeats and last_run_id advance instead.
-- digest is store.RunDigest; runs stored before this migration have none, so the first run
-- after it is stored again.
ALTER TABLE runs ADD COLUMN digest TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN confirmed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN repeats INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN last_run_id TEXT NOT NULL DEFAULT '';
UPDATE runs SET confirmed = finished, last_run_id = run_id;
-- Prune deletes by confirmed.
DROP INDEX runs_finished;
CREATE INDEX runs_confirmed ON runs (confirmed);
