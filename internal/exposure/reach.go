package exposure

// The verdicts of a Reachability.
const (
	// FirewallAllowed: the firewall lets an inbound connection from another host reach it.
	FirewallAllowed = "allowed"
	// FirewallBlocked: the firewall stops it.
	FirewallBlocked = "blocked"
	// FirewallUnknown: what the firewall does could not be decided; Why says what is missing.
	FirewallUnknown = "unknown"
	// FirewallLoopbackOnly: the listener is bound to a loopback address, so no other host can
	// connect to it whatever the firewall says. It is neither "allowed" (nothing outside can
	// reach it) nor "blocked" (the firewall is not what keeps others out), so it has its own word.
	FirewallLoopbackOnly = "loopback_only"
)

// ALFEssentialService reports whether the executable at path is one of the services the
// Application Firewall keeps letting through, even when "block all incoming connections" is on,
// and what it does. Apple's "About the Application Firewall" (HT1810, support.apple.com/kb/HT1810,
// Mac OS X 10.5.1 and later) names them: configd (DHCP and other network configuration),
// mDNSResponder (Bonjour) and racoon (IPsec); Apple's current Platform Support guide ("Manage
// Firewall") still describes block-all as keeping only "basic internet services". The paths are
// those of the system exceptions in com.apple.alf.plist (osquery's alf_exceptions test plist,
// reference alf.md §2).
func ALFEssentialService(path string) (what string, ok bool) {
	switch path {
	case "/usr/libexec/configd":
		return "DHCP and network configuration", true
	case "/usr/sbin/mDNSResponder":
		return "Bonjour", true
	case "/usr/sbin/racoon":
		return "IPsec", true
	}
	return "", false
}
