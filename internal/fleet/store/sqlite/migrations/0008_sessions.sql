-- Placeholder for migration 0008 (sessions), which the dstore-auth branch adds: delete this
-- file when merging that branch, so that its 0008 takes the number.
SELECT 1;
