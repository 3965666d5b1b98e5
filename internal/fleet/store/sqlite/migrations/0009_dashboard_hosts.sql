-- The dashboard's reads at 100,000 hosts: host pages sorted, searched and filtered, each an
-- index range that reads only the page's rows (keyset paging on (sort key, id)), and the
-- compliance series.

-- Sorted by hostname ignoring ASCII case (SQLite's lower() folds ASCII only), and searched by
-- its prefix: a range of this index.
CREATE INDEX hosts_hostname ON hosts (lower(hostname), id);
-- Sorted by last seen. Every report moves last_seen, so every report updates this index too:
-- one more entry per report, the price of a sorted page that costs its own rows.
CREATE INDEX hosts_last_seen ON hosts (last_seen, id);
CREATE INDEX hosts_os_version ON hosts (os_version, id);
-- posture is the host's latest posture ('' before its first result), kept by Ingest.
CREATE INDEX hosts_posture ON hosts (posture, id);
-- The revoked hosts, which ComplianceSeries takes out of its counts: few, so a small index.
CREATE INDEX hosts_revoked ON hosts (revoked_at) WHERE revoked_at != 0;

-- ComplianceAt, and ComplianceSeries at every instant, count the transitions and posture
-- changes of the instant's own hour: from these indexes alone (the old ones on time only made
-- it a table lookup per change, thousands per hour at 100,000 hosts). host_id is for the label
-- filter.
CREATE INDEX transitions_time_counts ON transitions (time, check_id, from_status, to_status, host_id);
DROP INDEX transitions_time;
CREATE INDEX posture_time_counts ON posture (time, from_state, to_state, host_id);
DROP INDEX posture_time;
