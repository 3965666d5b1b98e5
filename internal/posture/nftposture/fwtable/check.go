package fwtable

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ErrInvalidSpec is wrapped by the errors of Write for a Spec it cannot express.
var ErrInvalidSpec = errors.New("invalid firewall table spec")

// DefaultLogPrefix is the log prefix when Spec.LogPrefix is empty.
const DefaultLogPrefix = "firewarden drop: "

// The log rule's limit: at most LogRate packets a second are logged, in bursts of up to
// LogBurst, so that a flood of dropped packets cannot flood the kernel log. Its counter counts
// the packets logged, not all those dropped (the final rule's counter counts those).
const (
	LogRate  = 5
	LogBurst = 10
)

// Limits of the kernel: a log prefix holds at most 127 bytes (NF_LOG_PREFIXLEN with its NUL),
// and nft keeps rule comments to 128 bytes with the NUL.
const (
	maxLogPrefix = 127
	maxComment   = 127
)

// validate reports the first thing in s that Write cannot express. Addresses are unmapped
// (an IPv4-mapped IPv6 source would never match an IPv4 packet).
func (s Spec) validate() (Spec, error) {
	bad := func(format string, a ...any) (Spec, error) {
		return Spec{}, fmt.Errorf("%w: %s", ErrInvalidSpec, fmt.Sprintf(format, a...))
	}
	out := s
	out.Allowed = make([]Service, len(s.Allowed))
	for i, sv := range s.Allowed {
		if sv.Proto != "tcp" && sv.Proto != "udp" {
			return bad("allowed service %d: protocol %q, want tcp or udp", i+1, sv.Proto)
		}
		if sv.From == 0 || sv.To < sv.From {
			return bad("allowed service %d: port range %d-%d, want 1 <= from <= to", i+1, sv.From, sv.To)
		}
		sv.Sources = append([]netip.Prefix(nil), sv.Sources...)
		for j, p := range sv.Sources {
			if !p.IsValid() {
				return bad("allowed service %d: source %d is not a valid prefix", i+1, j+1)
			}
			sv.Sources[j] = unmapPrefix(p)
		}
		out.Allowed[i] = sv
	}
	out.Keep = make([]Keep, len(s.Keep))
	for i, k := range s.Keep {
		if k.Proto != "tcp" && k.Proto != "udp" {
			return bad("keep %d: protocol %q, want tcp or udp", i+1, k.Proto)
		}
		if k.Port == 0 {
			return bad("keep %d: port 0", i+1)
		}
		k.Source = k.Source.Unmap().WithZone("")
		out.Keep[i] = k
	}
	if len(s.LogPrefix) > maxLogPrefix || strings.IndexByte(s.LogPrefix, 0) >= 0 {
		return bad("log prefix %q: want at most %d bytes and no NUL", s.LogPrefix, maxLogPrefix)
	}
	return out, nil
}

// logPrefix is the prefix the log rule writes.
func (s Spec) logPrefix() string {
	if s.LogPrefix == "" {
		return DefaultLogPrefix
	}
	return s.LogPrefix
}

// comment cuts c to what a rule comment holds, at a UTF-8 boundary, without NULs.
func comment(c string) string {
	c = strings.ReplaceAll(c, "\x00", "")
	if len(c) <= maxComment {
		return c
	}
	n := maxComment
	for n > 0 && c[n]&0xC0 == 0x80 {
		n--
	}
	return c[:n]
}

// unmapPrefix turns an IPv4-mapped IPv6 prefix into the IPv4 one, and masks p.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	a, bits := p.Addr(), p.Bits()
	if a.Is4In6() {
		a, bits = a.Unmap(), max(bits-96, 0)
	}
	return netip.PrefixFrom(a.WithZone(""), bits).Masked()
}
