-- Policies assigned by label, and exemptions.

CREATE TABLE policies (
	name             TEXT PRIMARY KEY,
	label            TEXT NOT NULL,
	priority         INTEGER NOT NULL,
	mode             TEXT NOT NULL,
	interval_seconds INTEGER NOT NULL,
	baseline_yaml    TEXT NOT NULL,
	version          INTEGER NOT NULL,
	updated_at       INTEGER NOT NULL
);

CREATE TABLE exemptions (
	id          TEXT PRIMARY KEY,
	host_id     TEXT NOT NULL,
	label       TEXT NOT NULL,
	check_id    TEXT NOT NULL,
	reason      TEXT NOT NULL,
	approved_by TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	expires     INTEGER NOT NULL,
	revoked_at  INTEGER NOT NULL DEFAULT 0
);
