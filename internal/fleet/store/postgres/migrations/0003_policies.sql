-- Policies assigned by label, and exemptions.

CREATE TABLE policies (
	name             text PRIMARY KEY,
	label            text NOT NULL,
	priority         integer NOT NULL,
	mode             text NOT NULL,
	interval_seconds bigint NOT NULL,
	baseline_yaml    text NOT NULL,
	version          bigint NOT NULL,
	updated_at       timestamptz NOT NULL
);

CREATE TABLE exemptions (
	id          text PRIMARY KEY,
	host_id     text NOT NULL,
	label       text NOT NULL,
	check_id    text NOT NULL,
	reason      text NOT NULL,
	approved_by text NOT NULL,
	created_at  timestamptz NOT NULL,
	expires     timestamptz, -- NULL: until revoked
	revoked_at  timestamptz
);
CREATE INDEX exemptions_check ON exemptions (check_id);
