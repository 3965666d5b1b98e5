package server

import (
	"context"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/store/sqlite"
)

// Open opens the store a data directory names: a PostgreSQL URL, or a SQLite file (created and
// migrated as needed).
func Open(_ context.Context, target string) (store.Store, error) {
	if isPostgres(target) {
		return nil, usagef("--db %s: this build has no PostgreSQL store yet; use the default SQLite", redact(target))
	}
	return sqlite.Open(target)
}
