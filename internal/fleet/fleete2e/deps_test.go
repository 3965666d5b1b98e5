package fleete2e

// The tests run binaries they build themselves, so Go's test cache would not see a change in
// the code those binaries are made of and could report an old pass. Importing the packages the
// binaries are built from makes the cache key cover them.
import (
	_ "github.com/firewarden/firewarden/internal/agent"
	_ "github.com/firewarden/firewarden/internal/cli"
	_ "github.com/firewarden/firewarden/internal/fleet/server"
	_ "github.com/firewarden/firewarden/internal/fleet/store/postgres"
	_ "github.com/firewarden/firewarden/internal/fleet/store/sqlite"
)
