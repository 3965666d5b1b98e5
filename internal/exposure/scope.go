package exposure

import (
	"fmt"
	"net/netip"
)

// Scope is how widely a bind address is reachable.
type Scope string

// The scopes, narrowest first.
const (
	// ScopeLoopback is 127.0.0.0/8 or ::1: this host only.
	ScopeLoopback Scope = "loopback"
	// ScopeLinkLocal is 169.254.0.0/16 or fe80::/10: the local link only.
	ScopeLinkLocal Scope = "link-local"
	// ScopePrivate is RFC 1918 (10/8, 172.16/12, 192.168/16) or an IPv6 unique local address
	// (fc00::/7): a private network.
	ScopePrivate Scope = "private"
	// ScopeShared is RFC 6598's shared address space 100.64.0.0/10 (carrier-grade NAT, and the
	// addresses of overlay networks such as Tailscale): neither this LAN nor the internet, so
	// it is its own class.
	ScopeShared Scope = "shared"
	// ScopeMulticast is a multicast group address (UDP only).
	ScopeMulticast Scope = "multicast"
	// ScopeAll is the unspecified address (0.0.0.0 or ::): every interface.
	ScopeAll Scope = "all"
	// ScopePublic is one specific address that is none of the above: reachable from wherever
	// that address is routed.
	ScopePublic Scope = "public"
)

var (
	sharedV4 = netip.MustParsePrefix("100.64.0.0/10")
	ulaV6    = netip.MustParsePrefix("fc00::/7")
)

// Classify returns the scope of a bind address. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is
// classified as the IPv4 address it carries; an IPv6 zone does not change the scope.
func Classify(a netip.Addr) Scope {
	a = a.Unmap().WithZone("")
	switch {
	case a.IsUnspecified():
		return ScopeAll
	case a.IsLoopback():
		return ScopeLoopback
	case a.IsLinkLocalUnicast():
		return ScopeLinkLocal
	case a.IsMulticast():
		return ScopeMulticast
	case a.Is4() && sharedV4.Contains(a):
		return ScopeShared
	case a.Is6() && ulaV6.Contains(a), a.IsPrivate():
		return ScopePrivate
	}
	return ScopePublic
}

// Reach is the widest scope an intended listener may have, as an expectation file says it:
// loopback, lan or any. Reaches are ordered: ReachLoopback < ReachLAN < ReachAny.
type Reach int

// The reaches.
const (
	ReachLoopback Reach = iota + 1
	// ReachLAN covers link-local, private, shared (100.64/10) and multicast addresses.
	ReachLAN
	// ReachAny covers every interface and public addresses.
	ReachAny
)

func (r Reach) String() string {
	switch r {
	case ReachLoopback:
		return "loopback"
	case ReachLAN:
		return "lan"
	case ReachAny:
		return "any"
	}
	return fmt.Sprintf("Reach(%d)", int(r))
}

// ParseReach reads "loopback", "lan" or "any".
func ParseReach(s string) (Reach, bool) {
	switch s {
	case "loopback":
		return ReachLoopback, true
	case "lan":
		return ReachLAN, true
	case "any":
		return ReachAny, true
	}
	return 0, false
}

// Reach is the reach a listener of scope s has.
func (s Scope) Reach() Reach {
	switch s {
	case ScopeLoopback:
		return ReachLoopback
	case ScopeLinkLocal, ScopePrivate, ScopeShared, ScopeMulticast:
		return ReachLAN
	}
	return ReachAny
}
