package agent

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/firewarden/firewarden/internal/host"
)

// ioregUUID finds IOPlatformUUID in `ioreg -rd1 -c IOPlatformExpertDevice`, a property line
// such as
//
//	"IOPlatformUUID" = "564D1A1B-8F0E-4C4B-9B8D-2E4A7C3F1D20"
var ioregUUID = regexp.MustCompile(`(?m)^\s*"IOPlatformUUID" = "([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})"\s*$`)

// ParseIOReg returns the IOPlatformUUID in ioreg's output, upper-cased as macOS prints it.
func ParseIOReg(out []byte) (string, error) {
	m := ioregUUID.FindAllSubmatch(out, 2)
	switch len(m) {
	case 0:
		return "", errors.New("ioreg printed no IOPlatformUUID")
	case 1:
		return strings.ToUpper(string(m[0][1])), nil
	}
	return "", errors.New("ioreg printed more than one IOPlatformUUID")
}

// ParseMachineID checks the content of /etc/machine-id: 32 lowercase hex digits and a newline
// (machine-id(5)); an all-zero or "uninitialized" ID is refused.
func ParseMachineID(data []byte) (string, error) {
	id := strings.TrimSpace(string(data))
	if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" || strings.Trim(id, "0") == "" {
		return "", errors.New("want 32 lowercase hex digits (systemd-machine-id-setup makes one)")
	}
	return id, nil
}

// HostUUID is the machine's stable identity: IOPlatformUUID on macOS (through the Runner, so an
// emulated Mac answers), /etc/machine-id under the root on Linux.
func HostUUID(ctx context.Context, root host.Root, osinfo host.OS, run host.Runner) (string, error) {
	if osinfo.Kind == host.MacOS {
		res, err := run.Run(ctx, host.Cmd{Path: "/usr/sbin/ioreg", Args: []string{"-rd1", "-c", "IOPlatformExpertDevice"}})
		if err != nil {
			return "", fmt.Errorf("read the hardware UUID: %w", err)
		}
		id, err := ParseIOReg(res.Stdout)
		if err != nil {
			return "", fmt.Errorf("read the hardware UUID: %w", err)
		}
		return id, nil
	}
	data, err := root.ReadFile("/etc/machine-id")
	if err != nil {
		return "", fmt.Errorf("read the machine ID: %w", err)
	}
	id, err := ParseMachineID(data)
	if err != nil {
		return "", fmt.Errorf("machine ID in %s: %w", root.Path("/etc/machine-id"), err)
	}
	return id, nil
}
