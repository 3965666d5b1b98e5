-- Host credential rotation: a new credential waits here, beside the current one, until its
-- agent first uses it; only then does it replace hosts.cred_hash. So a crash of either side
-- between the answer and the agent saving the new credential loses nothing.
CREATE TABLE credential_offers (
	host_id    text PRIMARY KEY REFERENCES hosts (id) ON DELETE CASCADE,
	cred_hash  bytea NOT NULL UNIQUE,
	-- The credential that asked: the offer is void once that one is no longer the host's
	-- (a re-enrolment), so an offer made before a revocation can never come back.
	offered_to bytea NOT NULL,
	offered_at timestamptz NOT NULL
);
