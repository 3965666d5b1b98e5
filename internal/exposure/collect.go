package exposure

import (
	"context"
	"errors"
	"fmt"

	"github.com/firewarden/firewarden/internal/host"
)

// ErrUnsupportedOS is returned by Collect for a host that is neither Linux nor macOS.
var ErrUnsupportedOS = errors.New("listening sockets are read on Linux and macOS only")

// Unprivileged warnings: what a reader without root cannot see. Collect adds them to the report.
const (
	// NotRootLinux: /proc/PID/fd of another user's process is unreadable, so its sockets are
	// listed without a process.
	NotRootLinux = "not root: other users' processes are not shown; run it with sudo to see every process"
	// NotRootMac: lsof lists only the caller's own processes' sockets.
	NotRootMac = "not root: lsof shows only your own processes' sockets; run it with sudo to see every listener"
)

// CollectOptions are what Collect reads besides the host's sockets.
type CollectOptions struct {
	// Unprivileged says firewarden reads the real system without root; the report then carries
	// the warning of what is missing from it.
	Unprivileged bool
	// Firewall, when set, fills in the listeners' Firewall verdicts, running programs through r
	// (Collect's runner). It is a function because the firewall readers (package
	// exposure/firewall) import this package.
	Firewall func(ctx context.Context, r host.Runner, rep *Report)
	// Compose holds the published ports of compose files, merged with the running containers'.
	Compose ComposeReport
}

// Collect lists what listens on the host under root, which osinfo describes: the sockets (ROOT/proc
// on Linux, lsof run through r on macOS), the firewall's verdict on each when opts.Firewall is
// set, and the ports the container runtimes publish and the compose files declare. It is the one
// reading `firewarden exposure` and the exposure posture checks share.
func Collect(ctx context.Context, root host.Root, osinfo host.OS, r host.Runner, opts CollectOptions) (Report, error) {
	var rep Report
	var err error
	switch osinfo.Kind {
	case host.Linux:
		rep, err = ReadLinux(root)
		if err == nil && opts.Unprivileged {
			rep.Warnings = append(rep.Warnings, NotRootLinux)
		}
	case host.MacOS:
		rep, err = ReadMac(ctx, r)
		if err == nil && opts.Unprivileged {
			rep.Warnings = append(rep.Warnings, NotRootMac)
		}
	default:
		return Report{}, fmt.Errorf("%w, not %s", ErrUnsupportedOS, osinfo)
	}
	if err != nil {
		return Report{}, err
	}
	if opts.Firewall != nil {
		opts.Firewall(ctx, r, &rep)
	}
	// The ports the runtimes publish, merged with the host sockets their proxies hold, then the
	// compose files'; on Linux, the note that ufw or firewalld does not protect Docker's ports.
	running := ReadContainers(ctx, r, root)
	rep.Listeners = MergeCompose(MergeContainers(rep.Listeners, running.Listeners), opts.Compose.Listeners)
	rep.Warnings = append(rep.Warnings, running.Warnings...)
	rep.Warnings = append(rep.Warnings, opts.Compose.Warnings...)
	if osinfo.Kind == host.Linux {
		if note := DockerBypassNote(root, rep.Listeners); note != "" {
			rep.Warnings = append(rep.Warnings, note)
		}
	}
	return rep, nil
}

// PlatformOf is the platform whose firewall the fixes of a host described by osinfo name.
func PlatformOf(osinfo host.OS) Platform {
	switch osinfo.Kind {
	case host.MacOS:
		return MacOS
	case host.Linux:
		return Linux
	}
	return AnyPlatform
}
