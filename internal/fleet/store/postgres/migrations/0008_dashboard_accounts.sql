-- Dashboard logins: per-user failure counts (the back-off every replica applies), sessions
-- kept by the SHA-256 of their cookie, and exemptions that a second admin approves.

ALTER TABLE users ADD COLUMN failed_logins integer NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN last_failed_at timestamptz;

CREATE TABLE sessions (
	hash       bytea PRIMARY KEY,
	user_name  text NOT NULL REFERENCES users (name),
	csrf       text NOT NULL,
	created_at timestamptz NOT NULL,
	last_used  timestamptz NOT NULL,
	expires    timestamptz NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires);
CREATE INDEX sessions_user ON sessions (user_name);

-- approved_at is NULL while an exemption is pending. Every exemption made before approvals
-- existed was approved by the admin who made it, when it was made: it stays in force.
ALTER TABLE exemptions ADD COLUMN requested_by text NOT NULL DEFAULT '';
ALTER TABLE exemptions ADD COLUMN approved_at timestamptz;
UPDATE exemptions SET requested_by = approved_by, approved_at = created_at;
