-- The dashboard's reads at 100,000 hosts: host pages sorted, searched and filtered, each an
-- index range that reads only the page's rows (keyset paging on (sort key, id)).

-- The host's latest posture ('' before its first result; else the to_state of its newest
-- posture row) and since when, kept by Ingest: for the posture filter, and so that counting
-- the stale hosts compliant at an instant reads a posture row only for a host whose posture
-- changed after that instant.
ALTER TABLE hosts ADD COLUMN posture text NOT NULL DEFAULT '';
ALTER TABLE hosts ADD COLUMN posture_since timestamptz;
UPDATE hosts h SET posture = p.to_state, posture_since = p.time
FROM (SELECT DISTINCT ON (host_id) host_id, to_state, time FROM posture ORDER BY host_id, time DESC, id DESC) p
WHERE p.host_id = h.id;

-- ComplianceSeries counts the hosts enrolled by each instant from a range of this index (the
-- labels included for the label filter, read from the index where the page is all-visible).
CREATE INDEX hosts_enrolled ON hosts (enrolled_at) INCLUDE (labels);

-- Sort keys compare byte by byte (COLLATE "C", under which lower() folds ASCII only), as the
-- SQLite store and store.HostSortKey do, whatever the database's collation; ties go by id.
-- The hostname index also serves the prefix search, a range of it.
CREATE INDEX hosts_hostname ON hosts ((lower(hostname COLLATE "C")), id);
-- Every report moves last_seen, so every report updates this index too (stale_at, already
-- indexed, moves with it): the price of a page sorted by last seen that costs its own rows.
CREATE INDEX hosts_last_seen ON hosts (last_seen, id);
CREATE INDEX hosts_os_version ON hosts ((os_version COLLATE "C"), id);
CREATE INDEX hosts_posture ON hosts (posture, id);

-- ComplianceAt, and ComplianceSeries at every instant, count the transitions and posture
-- changes of (half of) the instant's own hour: from these indexes alone (index-only scans),
-- rather than a heap fetch per change. host_id is for the label filter.
CREATE INDEX transitions_time_counts ON transitions (time) INCLUDE (check_id, from_status, to_status, host_id);
DROP INDEX transitions_time;
CREATE INDEX posture_time_counts ON posture (time) INCLUDE (from_state, to_state, host_id);
DROP INDEX posture_time;
