-- Dashboard accounts. password_hash is the self-describing argon2id encoding, so its
-- parameters can change without a migration. disabled_at is 0 while the account may log in.
CREATE TABLE users (
	name          TEXT PRIMARY KEY,
	role          TEXT NOT NULL CHECK (role IN ('admin', 'auditor')),
	password_hash TEXT NOT NULL,
	created_at    INTEGER NOT NULL,
	disabled_at   INTEGER NOT NULL DEFAULT 0
);
