package live

import "github.com/firewarden/firewarden/internal/host"

// Starter starts a long-running program and streams its standard output; see host.Starter,
// where it moved so that the guard's log sources share it.
type Starter = host.Starter

// ExecStarter runs programs under a root with os/exec; see host.ExecStarter.
type ExecStarter = host.ExecStarter
