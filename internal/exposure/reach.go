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
