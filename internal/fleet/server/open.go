package server

import (
	"context"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/store/postgres"
	"github.com/firewarden/firewarden/internal/fleet/store/sqlite"
)

// Open opens the store a data directory names: a PostgreSQL URL, or a SQLite file, creating
// and migrating it as needed.
func Open(ctx context.Context, target string) (store.Store, error) {
	if isPostgres(target) {
		return postgres.Open(ctx, target)
	}
	return sqlite.Open(target)
}

// The optional abilities the server finds by type assertion; both stores have them all.
var (
	_ Auditor  = (*postgres.Store)(nil)
	_ Notifier = (*postgres.Store)(nil)
	_ Locker   = (*postgres.Store)(nil)
	_ Auditor  = (*sqlite.Store)(nil)
)
