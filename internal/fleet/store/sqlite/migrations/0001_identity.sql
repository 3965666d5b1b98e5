-- Identity: API tokens, enroll secrets, hosts and the admin audit log.
-- Times are INTEGER Unix nanoseconds (UTC); 0 means "never" (a zero time.Time).

CREATE TABLE tokens (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	role       TEXT NOT NULL,
	hash       BLOB NOT NULL UNIQUE,
	created_at INTEGER NOT NULL,
	revoked_at INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE enroll_secrets (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	hash       BLOB NOT NULL UNIQUE,
	labels     TEXT NOT NULL DEFAULT '[]', -- JSON array
	created_at INTEGER NOT NULL,
	revoked_at INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE hosts (
	id            TEXT PRIMARY KEY,
	uuid          TEXT NOT NULL UNIQUE,
	cred_hash     BLOB NOT NULL UNIQUE,
	hostname      TEXT NOT NULL,
	os            TEXT NOT NULL,
	os_version    TEXT NOT NULL,
	agent_version TEXT NOT NULL,
	labels        TEXT NOT NULL DEFAULT '[]', -- JSON array; host_labels indexes it
	enrolled_at   INTEGER NOT NULL,
	last_seen     INTEGER NOT NULL,
	last_seq      INTEGER NOT NULL DEFAULT 0,
	chain_seq     INTEGER NOT NULL DEFAULT 0,
	chain_hash    TEXT NOT NULL DEFAULT '',
	chain_broken  INTEGER NOT NULL DEFAULT 0,
	revoked_at    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX hosts_last_seen ON hosts (last_seen);
-- Compliance counts the hosts enrolled and not revoked at an instant from this index alone.
CREATE INDEX hosts_enrolled ON hosts (enrolled_at, revoked_at);

-- One row per (label, host): the label filters of Hosts and ComplianceAt are index lookups.
CREATE TABLE host_labels (
	label   TEXT NOT NULL,
	host_id TEXT NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
	PRIMARY KEY (label, host_id)
) WITHOUT ROWID;
CREATE INDEX host_labels_host ON host_labels (host_id);

CREATE TABLE audit (
	id     INTEGER PRIMARY KEY,
	time   INTEGER NOT NULL,
	actor  TEXT NOT NULL,
	action TEXT NOT NULL,
	target TEXT NOT NULL,
	detail TEXT NOT NULL
);
CREATE INDEX audit_time ON audit (time);
