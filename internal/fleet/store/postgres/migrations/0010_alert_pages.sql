-- AlertsPage: the dashboard's alert lists at 100,000 hosts, newest first by id, each page a
-- range of an index read backwards (keyset on id), so that a page reads only its rows. Every
-- host (no filter) pages the primary key; a host's alerts page alerts_host.

-- By severity, which lives in the alert's JSON (a folded report may change it, and the index
-- follows). One host's alerts of one severity page alerts_host and skip the other severities:
-- a host's alerts are its own history, not the fleet's.
--
-- No partial index of the open alerts (acked_at IS NULL) as in SQLite: on the empty tables of
-- the plan tests PostgreSQL then ties it with alerts_open_key for Ingest's open-alert lookup
-- and takes the wrong one. Unacknowledged pages read the index of their other filters
-- backwards and skip the acknowledged alerts.
CREATE INDEX alerts_severity ON alerts ((alert ->> 'severity'), id);
