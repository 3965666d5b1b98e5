package authwatch

import (
	"bytes"
	"net/netip"
)

// parseAddr reads an IPv4 or IPv6 address in the text forms sshd and PAM write, without
// allocating: netip.ParseAddr needs a string (a copy of the bytes) and boxes an error for every
// host name it is given. A zone ("%eth0") is dropped and an IPv4-mapped IPv6 address
// ("::ffff:1.2.3.4") becomes the IPv4 address, so one client always has one key. It accepts
// exactly what netip.ParseAddr accepts for zone-less input (FuzzParseAddr checks that).
func parseAddr(b []byte) (netip.Addr, bool) {
	for i, c := range b {
		switch c {
		case '.':
			if a, ok := parseIPv4(b); ok {
				return netip.AddrFrom4(a), true
			}
			return netip.Addr{}, false
		case ':':
			if p := indexByte(b[i:], '%'); p >= 0 {
				if p+i+1 == len(b) {
					return netip.Addr{}, false // "fe80::1%": netip refuses an empty zone too
				}
				b = b[:i+p]
			}
			a, ok := parseIPv6(b)
			if !ok {
				return netip.Addr{}, false
			}
			return netip.AddrFrom16(a).Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// indexByte is bytes.IndexByte (vectorised) under a short name.
func indexByte(b []byte, c byte) int { return bytes.IndexByte(b, c) }

// parseIPv4 reads a dotted quad: four decimal fields of 0–255 without leading zeros (netip's
// rule: "010" could mean octal to other parsers).
func parseIPv4(b []byte) (a [4]byte, ok bool) {
	field, val, digits := 0, 0, 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			if digits == 1 && val == 0 {
				return a, false
			}
			val = val*10 + int(c-'0')
			digits++
			if val > 255 {
				return a, false
			}
		case c == '.':
			if digits == 0 || field == 3 {
				return a, false
			}
			a[field] = byte(val)
			field++
			val, digits = 0, 0
		default:
			return a, false
		}
	}
	if field != 3 || digits == 0 {
		return a, false
	}
	a[3] = byte(val)
	return a, true
}

// parseIPv6 reads RFC 4291 text: up to eight groups of one to four hex digits, at most one "::",
// optionally ending in a dotted quad that stands for the last two groups.
func parseIPv6(b []byte) (ip [16]byte, ok bool) {
	ellipsis := -1 // byte index in ip where "::" stands
	i := 0
	if len(b) >= 2 && b[0] == ':' && b[1] == ':' {
		ellipsis = 0
		i = 2
		if i == len(b) {
			return ip, true
		}
	}
	n := 0 // bytes of ip filled
	for i < len(b) {
		val, digits := 0, 0
		for ; i < len(b) && digits <= 4; i++ {
			c := b[i]
			var d int
			switch {
			case c >= '0' && c <= '9':
				d = int(c - '0')
			case c >= 'a' && c <= 'f':
				d = int(c-'a') + 10
			case c >= 'A' && c <= 'F':
				d = int(c-'A') + 10
			default:
				goto done
			}
			val = val<<4 | d
			digits++
		}
	done:
		if digits == 0 || digits > 4 {
			return ip, false
		}
		if i < len(b) && b[i] == '.' {
			// A dotted quad: back up to the start of this field and read it as IPv4.
			if ellipsis < 0 && n != 12 || n > 12 {
				return ip, false
			}
			v4, ok := parseIPv4(b[i-digits:])
			if !ok {
				return ip, false
			}
			ip[n], ip[n+1], ip[n+2], ip[n+3] = v4[0], v4[1], v4[2], v4[3]
			n += 4
			i = len(b)
			break
		}
		if n == 16 {
			return ip, false
		}
		ip[n], ip[n+1] = byte(val>>8), byte(val)
		n += 2
		if i == len(b) {
			break
		}
		if b[i] != ':' {
			return ip, false
		}
		i++
		if i == len(b) {
			return ip, false // trailing single colon
		}
		if b[i] == ':' {
			if ellipsis >= 0 {
				return ip, false
			}
			ellipsis = n
			i++
			if i == len(b) {
				break
			}
		}
		if n == 16 {
			return ip, false
		}
	}
	if ellipsis < 0 {
		if n != 16 {
			return ip, false
		}
		return ip, true
	}
	if n == 16 {
		return ip, false // "::" must stand for at least one group
	}
	tail := n - ellipsis
	copy(ip[16-tail:], ip[ellipsis:n])
	clear(ip[ellipsis : 16-tail])
	return ip, true
}
