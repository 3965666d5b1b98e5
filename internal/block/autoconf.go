package block

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// The parsers below read what `block autoconfigure` allowlists (afctl -c: "routers, local
// interfaces, nameservers"). They take the raw bytes; reading files under the root and running
// netstat is the caller's.

// ParseProcRoute returns the gateways of the default routes in Linux's /proc/net/route:
// tab-separated Iface, Destination, Gateway, Flags, …, with addresses as 8 hex digits in host
// byte order (little-endian on every Linux firewarden runs on: amd64, arm64), e.g.
// "eth0\t00000000\t0101A8C0\t0003\t…" is a default route via 192.168.1.1.
func ParseProcRoute(data []byte) []netip.Addr {
	var out []netip.Addr
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 8 || f[1] != "00000000" || f[7] != "00000000" {
			continue
		}
		b, err := hex.DecodeString(f[2])
		if err != nil || len(b) != 4 {
			continue
		}
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], binary.LittleEndian.Uint32(b))
		if addr := netip.AddrFrom4(a); !addr.IsUnspecified() {
			out = appendNew(out, addr)
		}
	}
	return out
}

// ParseIPv6Route returns the next hops of the default routes in Linux's /proc/net/ipv6_route:
// destination (32 hex digits), its prefix length (2 hex digits), source, source length, next hop,
// metric, reference count, use, flags, device.
func ParseIPv6Route(data []byte) []netip.Addr {
	var out []netip.Addr
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[0] != strings.Repeat("0", 32) || f[1] != "00" {
			continue
		}
		b, err := hex.DecodeString(f[4])
		if err != nil || len(b) != 16 {
			continue
		}
		if addr := netip.AddrFrom16([16]byte(b)); !addr.IsUnspecified() {
			out = appendNew(out, addr.Unmap())
		}
	}
	return out
}

// ParseNetstatRoutes returns the gateways of the default routes in macOS `netstat -rn` output:
// lines "default  192.168.1.1  UGScg  en0" under "Internet:" and
// "default  fe80::1%en0  UGcg  en0" under "Internet6:". Gateways such as "link#4" are no
// address and are skipped.
func ParseNetstatRoutes(data []byte) []netip.Addr {
	var out []netip.Addr
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "default" {
			continue
		}
		addr, err := netip.ParseAddr(f[1])
		if err != nil || addr.IsUnspecified() {
			continue
		}
		out = appendNew(out, addr.WithZone("").Unmap())
	}
	return out
}

// ParseResolvConf returns the "nameserver ADDR" entries of a resolv.conf, zone ids stripped.
func ParseResolvConf(data []byte) []netip.Addr {
	var out []netip.Addr
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		if addr, err := netip.ParseAddr(f[1]); err == nil {
			out = appendNew(out, addr.WithZone("").Unmap())
		}
	}
	return out
}

func appendNew(list []netip.Addr, a netip.Addr) []netip.Addr {
	if slices.Contains(list, a) {
		return list
	}
	return append(list, a)
}

// AutoOutcome says what ReplaceAuto changed.
type AutoOutcome struct {
	Added   []AllowOutcome
	Removed []AllowEntry // autoconfigured entries no longer found
	Kept    int          // found again, or already allowlisted by hand
}

// ReplaceAuto makes the autoconfigured part of the allowlist exactly found (prefix → reason):
// new prefixes are allowed (lifting any bans on them), autoconfigured entries no longer found are
// removed, and entries added by hand are never touched.
func (s *State) ReplaceAuto(found map[netip.Prefix]string, now time.Time) AutoOutcome {
	var out AutoOutcome
	norm := map[netip.Prefix]string{}
	for p, why := range found {
		norm[normalise(p)] = why
	}
	for _, a := range slices.Clone(s.Allowlist) {
		if _, ok := norm[a.Prefix]; ok {
			out.Kept++
			delete(norm, a.Prefix)
			continue
		}
		if a.By == SourceAutoconfigure {
			s.Unallow(a.Prefix, SourceAutoconfigure, now)
			out.Removed = append(out.Removed, a)
		}
	}
	ps := make([]netip.Prefix, 0, len(norm))
	for p := range norm {
		ps = append(ps, p)
	}
	sortPrefixes(ps)
	for _, p := range ps {
		out.Added = append(out.Added, s.Allow(p, norm[p], SourceAutoconfigure, now))
	}
	return out
}
