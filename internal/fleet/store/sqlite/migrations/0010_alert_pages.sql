-- AlertsPage: the dashboard's alert lists at 100,000 hosts, newest first by id, each page a
-- range of an index read backwards (keyset on id), so that a page reads only its rows. Every
-- host (no filter) pages the primary key; a host's alerts page alerts_host (its open ones
-- skip its acknowledged ones: a host's alerts are its own history, not the fleet's).

-- Every host's open (unacknowledged) alerts. Partial: an alert leaves it when acknowledged.
CREATE INDEX alerts_open ON alerts (id) WHERE acked_at = 0;
-- By severity, which lives in the alert's JSON (a folded report may change it, and the index
-- follows). Open alerts of one severity skip the acknowledged ones.
CREATE INDEX alerts_severity ON alerts (json_extract(alert, '$.severity'), id);
