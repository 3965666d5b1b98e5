package cli

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// resolveScanHost turns HOST into the one address scanned: an address as given (in brackets or
// not; an IPv6 link-local one with the zone of an interface of this host), or a name resolved
// once with lookup. Of a name's addresses it takes the first of the family asked for (4 or 6),
// or without one the first IPv4 address, else the first IPv6 one, as nmap does without -6.
// others are the name's addresses not scanned, so the user knows what was left out.
func resolveScanHost(ctx context.Context, host string, family int, lookup func(context.Context, string, string) ([]netip.Addr, error)) (netip.Addr, []netip.Addr, error) {
	h := host
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	if a, err := netip.ParseAddr(h); err == nil {
		a = a.Unmap()
		if err := checkZone(host, a); err != nil {
			return netip.Addr{}, nil, err
		}
		switch {
		case family == 4 && !a.Is4():
			return netip.Addr{}, nil, usagef("%s is an IPv6 address, and -4 asks for IPv4: leave out -4", host)
		case family == 6 && !a.Is6():
			return netip.Addr{}, nil, usagef("%s is an IPv4 address, and -6 asks for IPv6: leave out -6", host)
		}
		return a, nil, nil
	}
	if i := strings.IndexByte(h, '%'); i >= 0 {
		// Not an address with a zone: a zone on IPv4 or on a mistyped address.
		return netip.Addr{}, nil, usagef("%s: a zone (%s) only goes on an IPv6 link-local address, as fe80::1%%eth0", host, h[i:])
	}
	if h == "" || strings.ContainsAny(h, " /[]") {
		return netip.Addr{}, nil, usagef("%q is not a host name or an address", host)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	addrs, err := lookup(ctx, "ip", h)
	if err != nil || len(addrs) == 0 {
		return netip.Addr{}, nil, usagef("cannot resolve %s: %v", host, err)
	}
	for i := range addrs {
		addrs[i] = addrs[i].Unmap()
	}
	pick := -1
	for i, a := range addrs {
		if family == 4 && a.Is4() || family == 6 && a.Is6() || family == 0 && a.Is4() {
			pick = i
			break
		}
	}
	switch {
	case pick < 0 && family == 0:
		pick = 0 // no IPv4 address: the first IPv6 one
	case pick < 0:
		return netip.Addr{}, nil, usagef("%s has no IPv%d address (it has %s); leave out -%d", host, family, joinAddrs(addrs), family)
	}
	others := make([]netip.Addr, 0, len(addrs)-1)
	for i, a := range addrs {
		if i != pick && a != addrs[pick] {
			others = append(others, a)
		}
	}
	if len(others) == 0 {
		others = nil
	}
	return addrs[pick], others, nil
}

// checkZone accepts an address without a zone, or an IPv6 link-local one whose zone names an
// interface of this host (by name or index); a link-local address needs one, since the same
// address can be on every link.
func checkZone(host string, a netip.Addr) error {
	zone := a.Zone()
	switch {
	case zone == "" && a.Is6() && a.IsLinkLocalUnicast():
		return usagef("%s is link-local: name the interface, as %s%%eth0 (ip link or ifconfig lists them)", host, a)
	case zone == "":
		return nil
	case !a.IsLinkLocalUnicast():
		return usagef("%s: a zone (%%%s) only goes on a link-local address (fe80::/10)", host, zone)
	}
	if _, err := net.InterfaceByName(zone); err == nil {
		return nil
	}
	if i, err := strconv.Atoi(zone); err == nil && i > 0 {
		if _, err := net.InterfaceByIndex(i); err == nil {
			return nil
		}
	}
	return usagef("%s: no interface %s on this host (ip link or ifconfig lists them)", host, zone)
}

// joinAddrs lists addresses, comma-separated.
func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}
