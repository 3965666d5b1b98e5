package guard

import (
	"fmt"

	"github.com/firewarden/firewarden/internal/guard/follow"
	"github.com/firewarden/firewarden/internal/host"
)

// Log files sshd writes through syslog: Debian and Ubuntu with rsyslog, Fedora and RHEL.
const (
	AuthLogDebian = "/var/log/auth.log"
	AuthLogRedHat = "/var/log/secure"
)

// DefaultSources are the logs followed when the config names none: on macOS the unified log; on
// Linux the systemd journal when journalctl exists under the root (Debian 12 logs sshd only to
// the journal unless rsyslog is installed; reference §3.4), otherwise /var/log/auth.log or
// /var/log/secure, whichever exists (auth.log, waited for, when neither does).
func DefaultSources(root host.Root, kind host.Kind) []SourceConfig {
	switch {
	case kind == host.MacOS:
		return []SourceConfig{{Type: SourceUnifiedLog}}
	case root.Exists(follow.JournalctlPath):
		return []SourceConfig{{Type: SourceJournal}}
	case !root.Exists(AuthLogDebian) && root.Exists(AuthLogRedHat):
		return []SourceConfig{{Type: SourceFile, Path: AuthLogRedHat}}
	}
	return []SourceConfig{{Type: SourceFile, Path: AuthLogDebian}}
}

// SourceEnv is what building sources needs from the host.
type SourceEnv struct {
	Root host.Root
	// Starter runs journalctl and log; nil: host.ExecStarter under Root.
	Starter host.Starter
	// FromStart reads files from their start (replays, tests) instead of their end.
	FromStart bool
	// Log receives the sources' diagnostics.
	Log follow.Logf
}

// NewSources builds the sources cfgs describe (DefaultSources when cfgs is empty) as one
// follow.Source.
func NewSources(cfgs []SourceConfig, kind host.Kind, env SourceEnv) (follow.Source, error) {
	if len(cfgs) == 0 {
		cfgs = DefaultSources(env.Root, kind)
	}
	var srcs []follow.Source
	for _, c := range cfgs {
		switch c.Type {
		case SourceFile:
			srcs = append(srcs, follow.NewFile(c.Path, follow.FileOptions{Root: env.Root, FromStart: env.FromStart, Log: env.Log}))
		case SourceJournal:
			srcs = append(srcs, follow.NewJournal(follow.JournalOptions{Root: env.Root, Starter: env.Starter, Units: c.Units, Log: env.Log}))
		case SourceUnifiedLog:
			srcs = append(srcs, follow.NewUnifiedLog(follow.UnifiedLogOptions{Root: env.Root, Starter: env.Starter, Log: env.Log}))
		default:
			return nil, fmt.Errorf("source type %q: use journal, file or unifiedlog", c.Type)
		}
	}
	if len(srcs) == 1 {
		return srcs[0], nil
	}
	return follow.NewMulti(srcs, follow.MultiOptions{OnError: func(s follow.Source, err error) {
		if env.Log != nil {
			env.Log("%s stopped: %v; the other sources go on", s.Name(), err)
		}
	}}), nil
}
