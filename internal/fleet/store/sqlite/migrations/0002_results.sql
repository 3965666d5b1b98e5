-- Results: what hosts report. Storage grows with changes (transitions), not with check-ins;
-- runs are kept only for the retention period (Prune).

-- Time of the newest record applied to the host's current state: older ones arriving late are
-- kept (runs, alerts) but do not rewrite the state or its transitions.
ALTER TABLE hosts ADD COLUMN applied INTEGER NOT NULL DEFAULT 0;

-- Records stored above a gap in a host's sequence, and ranges the agent reported dropped.
-- Every seq <= hosts.last_seq is stored, so only these need keeping for exactly-once: rows
-- are deleted as last_seq moves over them. chain_* carry the record's evidence-chain entry,
-- checked for continuity when the gap closes.
CREATE TABLE pending (
	host_id    TEXT NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
	lo         INTEGER NOT NULL,
	hi         INTEGER NOT NULL,
	chain_seq  INTEGER NOT NULL DEFAULT 0,
	chain_prev TEXT NOT NULL DEFAULT '',
	chain_hash TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (host_id, lo, hi)
) WITHOUT ROWID;

-- Every check ever reported, so that fleet compliance knows which checks to count without
-- scanning results.
CREATE TABLE checks (
	check_id TEXT PRIMARY KEY
) WITHOUT ROWID;

CREATE TABLE current (
	host_id  TEXT NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
	check_id TEXT NOT NULL,
	status   TEXT NOT NULL,
	actual   TEXT NOT NULL,
	expected TEXT NOT NULL,
	since    INTEGER NOT NULL,
	run_id   TEXT NOT NULL, -- the latest run that reported this check
	PRIMARY KEY (host_id, check_id)
) WITHOUT ROWID;
CREATE INDEX current_check_status ON current (check_id, status);

CREATE TABLE transitions (
	id          INTEGER PRIMARY KEY,
	host_id     TEXT NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
	check_id    TEXT NOT NULL,
	time        INTEGER NOT NULL,
	from_status TEXT NOT NULL,
	to_status   TEXT NOT NULL,
	actual      TEXT NOT NULL,
	run_id      TEXT NOT NULL,
	cause       TEXT NOT NULL,
	seq         INTEGER NOT NULL
);
-- ComplianceAt: per check, the last transition at or before an instant for every host, read
-- from this covering index alone.
CREATE INDEX transitions_check_host_time ON transitions (check_id, host_id, time, to_status);
-- A host's history.
CREATE INDEX transitions_host_time ON transitions (host_id, time);
-- The transitions within the last hour before an instant (see status_deltas).
CREATE INDEX transitions_time ON transitions (time);

-- Fleet compliance at any instant without reading every host: per hour and check, how many
-- (host, check) pairs entered (+) or left (-) each status. The counts at an instant are the
-- sum over the hours before it, plus the transitions of its own hour.
CREATE TABLE status_deltas (
	hour     INTEGER NOT NULL, -- Unix nanoseconds / 3600e9
	check_id TEXT NOT NULL,
	status   TEXT NOT NULL,
	n        INTEGER NOT NULL,
	PRIMARY KEY (hour, check_id, status)
) WITHOUT ROWID;

-- The same for whole hosts: a host is 'compliant' or 'noncompliant' (every status it has, over
-- every check, is compliant or not) from its first result on.
CREATE TABLE posture (
	host_id    TEXT NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
	time       INTEGER NOT NULL,
	from_state TEXT NOT NULL,
	to_state   TEXT NOT NULL
);
CREATE INDEX posture_host_time ON posture (host_id, time);
CREATE INDEX posture_time ON posture (time);
CREATE TABLE posture_deltas (
	hour  INTEGER NOT NULL,
	state TEXT NOT NULL,
	n     INTEGER NOT NULL,
	PRIMARY KEY (hour, state)
) WITHOUT ROWID;

CREATE TABLE runs (
	id              INTEGER PRIMARY KEY,
	host_id         TEXT NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
	seq             INTEGER NOT NULL,
	run_id          TEXT NOT NULL,
	policy          TEXT NOT NULL,
	mode            TEXT NOT NULL,
	baseline_name   TEXT NOT NULL,
	baseline_sha256 TEXT NOT NULL,
	started         INTEGER NOT NULL,
	finished        INTEGER NOT NULL,
	results         BLOB NOT NULL -- JSON array of wire.Result
);
CREATE INDEX runs_host_finished ON runs (host_id, finished);
CREATE INDEX runs_finished ON runs (finished);

CREATE TABLE alerts (
	id           INTEGER PRIMARY KEY,
	host_id      TEXT NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
	rule         TEXT NOT NULL,
	process      TEXT NOT NULL,
	parent       TEXT NOT NULL,
	command_line TEXT NOT NULL,
	alert        TEXT NOT NULL, -- JSON wire.Alert, counts added up
	seq          INTEGER NOT NULL,
	duplicate    INTEGER NOT NULL DEFAULT 0,
	acked_by     TEXT NOT NULL DEFAULT '',
	acked_at     INTEGER NOT NULL DEFAULT 0,
	ack_note     TEXT NOT NULL DEFAULT ''
);
-- Reports fold into the open (unacknowledged) alert with the same key; once acknowledged, a
-- new report opens a new alert.
CREATE UNIQUE INDEX alerts_open_key ON alerts (host_id, rule, process, parent, command_line) WHERE acked_at = 0;
CREATE INDEX alerts_host ON alerts (host_id, id);

-- The latest guard ban summary per host.
CREATE TABLE bans (
	host_id TEXT PRIMARY KEY REFERENCES hosts (id) ON DELETE CASCADE,
	time    INTEGER NOT NULL,
	seq     INTEGER NOT NULL,
	summary TEXT NOT NULL -- JSON wire.Bans
) WITHOUT ROWID;
