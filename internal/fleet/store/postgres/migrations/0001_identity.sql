-- Identity: API tokens, enroll secrets, hosts and the admin audit log.
-- Times are timestamptz (microseconds); NULL means "never" (a zero time.Time).

CREATE TABLE tokens (
	id         text PRIMARY KEY,
	name       text NOT NULL UNIQUE,
	role       text NOT NULL,
	hash       bytea NOT NULL UNIQUE,
	created_at timestamptz NOT NULL,
	revoked_at timestamptz
);

CREATE TABLE enroll_secrets (
	id         text PRIMARY KEY,
	name       text NOT NULL UNIQUE,
	hash       bytea NOT NULL UNIQUE,
	labels     text[] NOT NULL DEFAULT '{}',
	created_at timestamptz NOT NULL,
	revoked_at timestamptz
);

CREATE TABLE hosts (
	id            text PRIMARY KEY,
	uuid          text NOT NULL UNIQUE,
	cred_hash     bytea NOT NULL UNIQUE,
	hostname      text NOT NULL,
	os            text NOT NULL,
	os_version    text NOT NULL,
	agent_version text NOT NULL,
	labels        text[] NOT NULL DEFAULT '{}',
	enrolled_at   timestamptz NOT NULL,
	last_seen     timestamptz NOT NULL,
	last_seq      bigint NOT NULL DEFAULT 0,
	chain_seq     bigint NOT NULL DEFAULT 0,
	chain_hash    text NOT NULL DEFAULT '',
	chain_broken  boolean NOT NULL DEFAULT false,
	revoked_at    timestamptz
);
CREATE INDEX hosts_last_seen ON hosts (last_seen);
-- The label filters of Hosts and ComplianceAt: `label = ANY(labels)` is rewritten by us as
-- `labels @> ARRAY[label]`, which this index answers.
CREATE INDEX hosts_labels ON hosts USING gin (labels);

CREATE TABLE audit (
	id     bigserial PRIMARY KEY,
	time   timestamptz NOT NULL,
	actor  text NOT NULL,
	action text NOT NULL,
	target text NOT NULL,
	detail text NOT NULL
);
CREATE INDEX audit_time ON audit (time);
