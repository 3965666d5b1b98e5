-- Results: what hosts report. Storage grows with changes (transitions), not with check-ins;
-- runs are kept only for the retention period (Prune).

-- Records stored above a gap in a host's sequence, and ranges the agent reported dropped.
-- Every seq <= hosts.last_seq is stored, so only these need keeping for exactly-once: rows
-- are deleted as last_seq moves over them. chain_* carry the record's evidence-chain entry,
-- checked for continuity when the gap closes.
CREATE TABLE pending (
	host_id    text NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
	lo         bigint NOT NULL,
	hi         bigint NOT NULL,
	chain_seq  bigint NOT NULL DEFAULT 0,
	chain_prev text NOT NULL DEFAULT '',
	chain_hash text NOT NULL DEFAULT '',
	PRIMARY KEY (host_id, lo, hi)
);

-- Every check ever reported, so that fleet compliance knows which checks to count without
-- scanning results.
CREATE TABLE checks (
	check_id text PRIMARY KEY
);

CREATE TABLE current (
	host_id  text NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
	check_id text NOT NULL,
	status   text NOT NULL,
	actual   text NOT NULL,
	expected text NOT NULL,
	since    timestamptz NOT NULL,
	observed timestamptz NOT NULL, -- time of the latest record that reported this check
	run_id   text NOT NULL,
	PRIMARY KEY (host_id, check_id)
);
CREATE INDEX current_check_status ON current (check_id, status);
-- ComplianceAt as of a past instant: the (host, check) pairs whose status began after it.
CREATE INDEX current_since ON current (since);

CREATE TABLE transitions (
	id          bigserial PRIMARY KEY,
	host_id     text NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
	check_id    text NOT NULL,
	time        timestamptz NOT NULL,
	from_status text NOT NULL,
	to_status   text NOT NULL,
	actual      text NOT NULL,
	run_id      text NOT NULL,
	cause       text NOT NULL,
	seq         bigint NOT NULL
);
-- ComplianceAt: for one (host, check), the last transition at or before an instant is the
-- first entry of a backward scan of this index (a LATERAL … LIMIT 1 probe).
CREATE INDEX transitions_host_check_time ON transitions (host_id, check_id, time DESC, id DESC) INCLUDE (to_status);
-- A host's history.
CREATE INDEX transitions_host_time ON transitions (host_id, time);

CREATE TABLE runs (
	id              bigserial PRIMARY KEY,
	host_id         text NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
	seq             bigint NOT NULL,
	run_id          text NOT NULL,
	policy          text NOT NULL,
	mode            text NOT NULL,
	baseline_name   text NOT NULL,
	baseline_sha256 text NOT NULL,
	started         timestamptz NOT NULL,
	finished        timestamptz NOT NULL,
	results         jsonb NOT NULL -- array of wire.Result
);
CREATE INDEX runs_host_finished ON runs (host_id, finished);
CREATE INDEX runs_finished ON runs (finished);

CREATE TABLE alerts (
	id           bigserial PRIMARY KEY,
	host_id      text NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
	rule         text NOT NULL,
	process      text NOT NULL,
	parent       text NOT NULL,
	command_line text NOT NULL,
	alert        jsonb NOT NULL, -- wire.Alert, counts added up
	seq          bigint NOT NULL,
	duplicate    integer NOT NULL DEFAULT 0,
	acked_by     text NOT NULL DEFAULT '',
	acked_at     timestamptz,
	ack_note     text NOT NULL DEFAULT ''
);
-- Reports fold into the open (unacknowledged) alert with the same key; once acknowledged, a
-- new report opens a new alert.
CREATE UNIQUE INDEX alerts_open_key ON alerts (host_id, rule, process, parent, command_line) WHERE acked_at IS NULL;
CREATE INDEX alerts_host ON alerts (host_id, id);

-- The latest guard ban summary per host.
CREATE TABLE bans (
	host_id text PRIMARY KEY REFERENCES hosts (id) ON DELETE CASCADE,
	time    timestamptz NOT NULL,
	seq     bigint NOT NULL,
	summary jsonb NOT NULL -- wire.Bans
);
