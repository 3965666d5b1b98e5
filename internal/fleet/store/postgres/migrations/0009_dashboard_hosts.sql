-- The dashboard's reads at 100,000 hosts: host pages sorted, searched and filtered, each an
-- index range that reads only the page's rows (keyset paging on (sort key, id)).

-- The host's latest posture ('' before its first result; else the to_state of its newest
-- posture row), kept by Ingest, for the posture filter.
ALTER TABLE hosts ADD COLUMN posture text NOT NULL DEFAULT '';
UPDATE hosts h SET posture = p.to_state
FROM (SELECT DISTINCT ON (host_id) host_id, to_state FROM posture ORDER BY host_id, time DESC, id DESC) p
WHERE p.host_id = h.id;

-- Sort keys compare byte by byte (COLLATE "C", under which lower() folds ASCII only), as the
-- SQLite store and store.HostSortKey do, whatever the database's collation; ties go by id.
-- The hostname index also serves the prefix search, a range of it.
CREATE INDEX hosts_hostname ON hosts ((lower(hostname COLLATE "C")), id);
-- Every report moves last_seen, so every report updates this index too (stale_at, already
-- indexed, moves with it): the price of a page sorted by last seen that costs its own rows.
CREATE INDEX hosts_last_seen ON hosts (last_seen, id);
CREATE INDEX hosts_os_version ON hosts ((os_version COLLATE "C"), id);
CREATE INDEX hosts_posture ON hosts (posture, id);
