package postgres

import (
	"testing"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/store/storetest"
)

// TestStore holds the PostgreSQL store to the acceptance suite every store passes.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := open(t)
		return s
	})
}
