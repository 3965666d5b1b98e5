// Package exposure lists the sockets a host listens on (TCP in LISTEN, UDP bound and not
// connected), with the process holding each and the scope of its bind address, and judges them
// against a list of intended listeners. Reading is split from deciding: the Linux reader parses
// ROOT/proc, the macOS reader parses lsof's field output; classification and judging are pure.
package exposure

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
)

// Listener is one listening socket.
type Listener struct {
	// Proto is "tcp" or "udp".
	Proto string `json:"proto"`
	// Addr is the bind address and port as the kernel reports it (an IPv4-mapped IPv6 address
	// stays mapped; Scope is decided on the unmapped address).
	Addr  netip.AddrPort `json:"addr"`
	Scope Scope          `json:"scope"`
	// PID is the process holding the socket (the lowest pid when several share it after a
	// fork), 0 when no process could be found (another user's process read without root, or a
	// socket of another network namespace).
	PID int `json:"pid,omitempty"`
	// Process is the process's name (Linux: /proc/PID/comm, at most 15 bytes; macOS: lsof's
	// command name).
	Process string `json:"process,omitempty"`
	// Path is the executable's path when it could be read (Linux: the /proc/PID/exe link).
	Path string `json:"path,omitempty"`
	// Inode is the socket's inode on Linux (0 on macOS).
	Inode uint64 `json:"inode,omitempty"`
	// Container is set when the listener is a port a container runtime publishes (or a compose
	// file declares) rather than a socket read from the host's tables.
	Container *Container `json:"container,omitempty"`
	// Firewall says whether the host's firewall lets an inbound connection from another host
	// reach the listener (nil when it was not evaluated, as on Linux today).
	Firewall *Reachability `json:"firewall,omitempty"`
}

// Container names the container (or compose service) a published port belongs to.
type Container struct {
	// Runtime is "docker", "podman" or "compose" (a port declared in a compose file).
	Runtime string `json:"runtime"`
	// ID is the container's ID (empty for a compose file).
	ID string `json:"id,omitempty"`
	// Name is the container's name, or the compose service's.
	Name string `json:"name"`
	// Image is the container's image when known.
	Image string `json:"image,omitempty"`
	// TargetPort is the port inside the container.
	TargetPort uint16 `json:"target_port,omitempty"`
	// Where is the source of the entry: "docker ps", "podman ps" or FILE:LINE of a compose file.
	Where string `json:"where,omitempty"`
	// Service is the compose service the container runs (a compose file's service, or the
	// com.docker.compose.service label of a running container), when there is one.
	Service string `json:"service,omitempty"`
	// ComposeFile is the compose file a running container was started from (its
	// com.docker.compose.project.config_files label), or FILE:LINE of the entry of a compose
	// file given with --compose that declares the port, when known.
	ComposeFile string `json:"compose_file,omitempty"`
	// Ports is a compose file's ports entry as written ("8065:8065", "[::1]:53:53/udp"), for
	// the fix that rewrites it ("" for a long-syntax entry).
	Ports string `json:"ports,omitempty"`
}

// Reachability is the firewall's verdict for an inbound connection to a listener.
type Reachability struct {
	// Verdict is "allowed", "blocked" or "unknown", or "loopback_only" for a listener bound to
	// loopback (no other host can connect whatever the firewall says); see FirewallAllowed.
	Verdict string `json:"verdict"`
	// Why names the setting that decides (for example "the Application Firewall is off",
	// "block all incoming connections is on", "/usr/sbin/sshd is allowed").
	Why string `json:"why"`
	// Caveats name what the verdict does not take into account and that may still change it
	// (pf enabled beside the Application Firewall, a profile's applications).
	Caveats []string `json:"caveats,omitempty"`
}

// Report is the result of a listing: the listeners and what the reader could not read or did
// not model, so that nothing is dropped silently.
type Report struct {
	Listeners []Listener `json:"listeners"`
	// Warnings name input the reader skipped (file:line and why) or limits it reached.
	Warnings []string `json:"warnings,omitempty"`
}

// sortListeners orders listeners by protocol, port, address and pid, so output is stable.
func sortListeners(ls []Listener) {
	slices.SortFunc(ls, func(a, b Listener) int {
		return cmp.Or(
			cmp.Compare(a.Proto, b.Proto),
			cmp.Compare(a.Addr.Port(), b.Addr.Port()),
			a.Addr.Addr().Compare(b.Addr.Addr()),
			cmp.Compare(a.PID, b.PID),
			cmp.Compare(containerKey(a), containerKey(b)),
		)
	})
}

// containerKey orders listeners that differ only by their container.
func containerKey(l Listener) string {
	if l.Container == nil {
		return ""
	}
	return l.Container.Runtime + "\x00" + l.Container.Name + "\x00" + strconv.Itoa(int(l.Container.TargetPort))
}
