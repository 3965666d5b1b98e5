package postgres

import "context"

// Ping runs a trivial query on a pooled connection; the server's /healthz asks it.
func (s *Store) Ping(ctx context.Context) error {
	var n int
	return s.pool.QueryRow(ctx, "SELECT 1").Scan(&n)
}
