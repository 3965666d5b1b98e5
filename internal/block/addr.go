package block

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ErrHostName is returned (wrapped) by ParsePrefix for a host name: firewarden never resolves
// names, because a name resolves differently over time and an attacker may control its records.
var ErrHostName = errors.New("host names are not allowed (afctl said: No DNS names allowed); give an address or a CIDR prefix")

// ParsePrefix parses an IPv4 or IPv6 address ("192.0.2.1", "fe80::1%en0") or CIDR prefix
// ("198.51.100.0/24", "2001:db8::/64") into the form every other part of the package uses: zone
// stripped, a v4-mapped IPv6 address turned into IPv4 (::ffff:192.0.2.0/120 is 192.0.2.0/24),
// host bits masked (192.0.2.7/24 is 192.0.2.0/24). A bare address is a full-length prefix.
func ParsePrefix(s string) (netip.Prefix, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return netip.Prefix{}, errors.New("empty address; give an IPv4 or IPv6 address or a CIDR prefix")
	}
	addrText, bitsText, hasBits := strings.Cut(in, "/")
	addr, err := netip.ParseAddr(addrText)
	if err != nil {
		if looksLikeHostName(addrText) {
			return netip.Prefix{}, fmt.Errorf("%q: %w", s, ErrHostName)
		}
		return netip.Prefix{}, fmt.Errorf("%q is not an IPv4 or IPv6 address or CIDR prefix", s)
	}
	addr = addr.WithZone("")
	bits := addr.BitLen()
	if hasBits {
		n, err := strconv.Atoi(bitsText)
		if err != nil || n < 0 || n > addr.BitLen() || bitsText != strconv.Itoa(n) {
			return netip.Prefix{}, fmt.Errorf("%q: prefix length %q is not a number from 0 to %d", s, bitsText, addr.BitLen())
		}
		bits = n
	}
	if addr.Is4In6() {
		if bits < 96 {
			// Wider than the v4-mapped range: an IPv6 prefix that happens to start there.
			return netip.PrefixFrom(addr, bits).Masked(), nil
		}
		addr, bits = addr.Unmap(), bits-96
	}
	return netip.PrefixFrom(addr, bits).Masked(), nil
}

// looksLikeHostName reports whether s is spelled like a DNS name: letters, digits, hyphens and
// dots, with a letter in the last label (no top-level domain is all digits), so "example.org" is
// told apart from a mistyped "192.0.2.300" or inet_aton's "0x7f.1".
func looksLikeHostName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	letter := false
	for _, c := range s {
		if c == '.' {
			letter = false
			continue
		}
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			letter = true
		case c >= '0' && c <= '9', c == '-', c == '.', c == '_':
		default:
			return false
		}
	}
	return letter
}

// ParsePrefixes parses every argument with ParsePrefix, stopping at the first error so that bad
// input changes nothing.
func ParsePrefixes(args []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(args))
	for _, s := range args {
		p, err := ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// FormatPrefix prints a full-length prefix as a bare address ("192.0.2.1") and any other as CIDR.
func FormatPrefix(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// The widest prefixes a ban may name unless asked for explicitly (block add --wide): an IPv4 /8
// is already 16.7 million addresses, 1/256 of the address space; an IPv6 /16 is wider than any
// regional registry's allocation. Anything wider is far more likely a typing error (0.0.0.0/0
// for 0.0.0.0/32) than an intent, and would cut the host off from much of the Internet.
const (
	WidestBan4 = 8
	WidestBan6 = 16
)

// CheckWidth refuses a ban prefix wider than WidestBan4 or WidestBan6.
func CheckWidth(p netip.Prefix) error {
	widest := WidestBan4
	if p.Addr().Is6() {
		widest = WidestBan6
	}
	if p.Bits() < widest {
		return fmt.Errorf("%s is wider than a /%d: it would cut this host off from %s of the Internet; give --wide if that is meant", p, widest, share(p.Bits()))
	}
	return nil
}

// share says which fraction of an address family a prefix of bits covers.
func share(bits int) string {
	if bits == 0 {
		return "all"
	}
	return "1/" + strconv.FormatUint(1<<bits, 10)
}

// CheckAllowWidth refuses an allowlist prefix wider than WidestBan4 or WidestBan6, the bounds
// of a ban: allowlisting 0.0.0.0/0 lifts every ban at once and makes every later one a no-op,
// which is far more likely a typing error than an intent. The message gives no remedy: the
// command line offers --wide, a configuration file does not.
func CheckAllowWidth(p netip.Prefix) error {
	widest := WidestBan4
	if p.Addr().Is6() {
		widest = WidestBan6
	}
	if p.Bits() < widest {
		return fmt.Errorf("%s is wider than a /%d: allowlisting it would exempt %s of the Internet from every ban", p, widest, share(p.Bits()))
	}
	return nil
}

// LocalAddr is an address of this host's own interfaces.
type LocalAddr struct {
	Addr      netip.Addr
	Interface string
}

// The loopback ranges: a ban inside them drops the host's traffic to itself.
var (
	Loopback4 = netip.MustParsePrefix("127.0.0.0/8")
	Loopback6 = netip.MustParsePrefix("::1/128")
)

// SelfError is a ban of this host itself: a prefix inside loopback, or one of its own
// addresses. The firewall drops what comes from a banned address on every interface, the
// loopback one included, so such a ban cuts the host off from itself (local databases,
// agents, health checks).
type SelfError struct {
	Prefix    netip.Prefix
	Interface string // "" for loopback
}

func (e *SelfError) Error() string {
	what := "a loopback address"
	switch {
	case e.Interface != "":
		what = "an address of this host (" + e.Interface + ")"
	case !e.Prefix.IsSingleIP():
		what = "loopback"
	}
	return fmt.Sprintf("%s is %s: banning it cuts this host off from itself", FormatPrefix(e.Prefix), what)
}

// CheckSelf returns a *SelfError when the ban p lies inside loopback or is an address of
// local; otherwise it returns what of loopback and local p holds (a wider ban over the host's
// own range), which the caller should warn about.
func CheckSelf(p netip.Prefix, local []LocalAddr) (holds []string, err error) {
	for _, lo := range []netip.Prefix{Loopback4, Loopback6} {
		switch {
		case lo.Bits() <= p.Bits() && lo.Contains(p.Addr()):
			return nil, &SelfError{Prefix: p}
		case p.Contains(lo.Addr()):
			holds = append(holds, "the loopback range "+FormatPrefix(lo))
		}
	}
	for _, l := range local {
		a := l.Addr.Unmap().WithZone("")
		switch {
		case p.IsSingleIP() && p.Addr() == a:
			return nil, &SelfError{Prefix: p, Interface: l.Interface}
		case p.Contains(a) && !Loopback4.Contains(a) && !Loopback6.Contains(a):
			holds = append(holds, fmt.Sprintf("%s, an address of this host (%s)", a, l.Interface))
		}
	}
	return holds, nil
}
