package exposure

import (
	"fmt"

	"github.com/firewarden/firewarden/internal/host"
)

// socketfilterfwPath is the Application Firewall's command-line tool (alf.SocketFilterFW; this
// package cannot import the posture adapter, whose baseline imports exposure).
const socketfilterfwPath = "/usr/libexec/ApplicationFirewall/socketfilterfw"

// Platform names the firewall whose rules a fix spells out.
type Platform string

// The platforms.
const (
	// AnyPlatform: fixes name no particular firewall.
	AnyPlatform Platform = ""
	// MacOS: the Application Firewall (socketfilterfw) and pf.
	MacOS Platform = "macos"
	// Linux: nftables through the posture baseline's linux.firewall.allowed and `firewarden fix`.
	Linux Platform = "linux"
)

// pfKeepOut is a pf rule that stops connections from other hosts to l's port: every interface
// but loopback. pf evaluates the last matching rule unless one is quick, so it is quick.
func pfKeepOut(l Listener) string {
	return fmt.Sprintf("block in quick on ! lo0 proto %s from any to any port %d", l.Proto, l.Addr.Port())
}

// pfLANOnly is a pf rule that stops connections to l's port from outside the table <lan>, which
// the operator fills with the LAN's prefixes.
func pfLANOnly(l Listener) string {
	return fmt.Sprintf("block in quick proto %s from ! <lan> to any port %d", l.Proto, l.Addr.Port())
}

// alfBlockApp is the socketfilterfw run that blocks incoming connections to l's executable. An
// application must be in the firewall's list before --blockapp changes it (socketfilterfw says
// "The application is not part of the firewall" otherwise), so it is added first; socketfilterfw
// applies its options in order.
func alfBlockApp(l Listener) host.Cmd {
	return host.Cmd{Path: socketfilterfwPath, Args: []string{"--add", l.Path, "--blockapp", l.Path}}
}

// LinuxAllowedPlaceholder stands for the LAN's prefix in a suggested linux.firewall.allowed entry.
const LinuxAllowedPlaceholder = "LAN-PREFIX"

// linuxAllowedEntry is the linux.firewall.allowed entry that opens l's port to the LAN only.
func linuxAllowedEntry(l Listener) string {
	return fmt.Sprintf("- {proto: %s, port: %d, from: [%s]}", l.Proto, l.Addr.Port(), LinuxAllowedPlaceholder)
}

// keepOutFix is the firewall alternative to binding l to loopback, to follow the bind-address
// advice ("" when p names no firewall).
func keepOutFix(p Platform, l Listener) string {
	if l.Firewall != nil && l.Firewall.Verdict == FirewallBlocked {
		return fmt.Sprintf("; the firewall already keeps other hosts out (%s)", l.Firewall.Why)
	}
	switch p {
	case MacOS:
		if l.Path == "" {
			return fmt.Sprintf("; or keep other hosts out with the pf rule `%s`", pfKeepOut(l))
		}
		return fmt.Sprintf("; or keep other hosts out with the Application Firewall on and `%s` (every port of the application), or with the pf rule `%s`",
			alfBlockApp(l), pfKeepOut(l))
	case Linux:
		return fmt.Sprintf("; or keep other hosts out: leave %s port %d out of the baseline's linux.firewall.allowed and run `firewarden fix`, whose table drops what the list does not allow",
			l.Proto, l.Addr.Port())
	}
	return ""
}

// lanOnlyFix is the firewall alternative to binding l to a LAN address.
func lanOnlyFix(p Platform, l Listener) string {
	switch p {
	case MacOS:
		return fmt.Sprintf("block it from outside the LAN with the pf rule `%s` (table <lan> holding the LAN's prefixes; the Application Firewall cannot tell the LAN from elsewhere)", pfLANOnly(l))
	case Linux:
		return fmt.Sprintf("open it to the LAN only with `%s` in the baseline's linux.firewall.allowed and run `firewarden fix`", linuxAllowedEntry(l))
	}
	return fmt.Sprintf("block %s port %d from outside the LAN in the firewall", l.Proto, l.Addr.Port())
}
