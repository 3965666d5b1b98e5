-- Dashboard accounts. password_hash is the self-describing argon2id encoding, so its
-- parameters can change without a migration. disabled_at is NULL while the account may log in.
CREATE TABLE users (
	name          text PRIMARY KEY,
	role          text NOT NULL CHECK (role IN ('admin', 'auditor')),
	password_hash text NOT NULL,
	created_at    timestamptz NOT NULL,
	disabled_at   timestamptz
);
