package sqlite

import "context"

// Ping reads one row of a table through the readers' pool; the server's /healthz asks it.
func (s *Store) Ping(ctx context.Context) error {
	var n int
	return s.r.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT 1 FROM schema_migrations LIMIT 1)").Scan(&n)
}
