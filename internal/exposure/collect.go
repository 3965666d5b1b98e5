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

// Collect lists the listening sockets of the host under root, which osinfo describes: ROOT/proc
// on Linux, lsof run through r on macOS. unprivileged says firewarden runs without root on the
// real system; the report then carries the warning of what is missing from it. It is the one
// reading `firewarden exposure` and the exposure posture checks share.
func Collect(ctx context.Context, root host.Root, osinfo host.OS, r host.Runner, unprivileged bool) (Report, error) {
	var rep Report
	var err error
	switch osinfo.Kind {
	case host.Linux:
		rep, err = ReadLinux(root)
		if err == nil && unprivileged {
			rep.Warnings = append(rep.Warnings, NotRootLinux)
		}
	case host.MacOS:
		rep, err = ReadMac(ctx, r)
		if err == nil && unprivileged {
			rep.Warnings = append(rep.Warnings, NotRootMac)
		}
	default:
		return Report{}, fmt.Errorf("%w, not %s", ErrUnsupportedOS, osinfo)
	}
	return rep, err
}
