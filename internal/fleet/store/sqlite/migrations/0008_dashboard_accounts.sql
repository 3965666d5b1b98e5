-- Dashboard logins: per-user failure counts (the back-off every replica applies), sessions
-- kept by the SHA-256 of their cookie, and exemptions that a second admin approves.

ALTER TABLE users ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN last_failed_at INTEGER NOT NULL DEFAULT 0;

CREATE TABLE sessions (
	hash       BLOB PRIMARY KEY,
	user_name  TEXT NOT NULL REFERENCES users (name),
	csrf       TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	last_used  INTEGER NOT NULL,
	expires    INTEGER NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires);
CREATE INDEX sessions_user ON sessions (user_name);

-- approved_at is 0 while an exemption is pending. Every exemption made before approvals
-- existed was approved by the admin who made it, when it was made: it stays in force.
ALTER TABLE exemptions ADD COLUMN requested_by TEXT NOT NULL DEFAULT '';
ALTER TABLE exemptions ADD COLUMN approved_at INTEGER NOT NULL DEFAULT 0;
UPDATE exemptions SET requested_by = approved_by, approved_at = created_at;
