package fwlog

import (
	"bytes"
	"net/netip"
)

// ParseIPFW reads an ipfw log line in any of the shapes the kernels print (reference logs.md §1):
// FreeBSD ipfw2 and ipfw1, Mac OS X 10.4–10.15 (xnu ip_fw2.c, with Tiger's doubled space after
// "ipfw:" when verbose=2), ip6fw, behind any syslog envelope ("kernel:", "/kernel:",
// "mach_kernel:", "kernel[0]:", "<security.info> FW kernel:") or none. The action is everything
// between the rule number and the protocol token, because several actions contain a space
// ("Unreach 13", "Divert 8668", "Forward to 10.0.0.1:3128").
func ParseIPFW(line []byte, e *Event) (ok, mine bool) {
	tag := []byte("ipfw: ")
	i := bytes.Index(line, tag)
	if i < 0 {
		tag = []byte("ip6fw: ")
		if i = bytes.Index(line, tag); i < 0 {
			return false, false
		}
	}
	if i > 0 && line[i-1] != ' ' && line[i-1] != '\t' {
		return false, false
	}
	rest := skipSpaces(line[i+len(tag):])
	if bytes.HasPrefix(rest, []byte("Stealth Mode ")) {
		// xnu logs Stealth Mode attempts under the ipfw tag; they belong to the Application Firewall.
		return ParseALF(line, e)
	}
	e.Format, e.Kind = FormatIPFW, KindPacket
	if s, _, ok := leadingStamp(line); ok {
		e.Stamp = s
	}

	if n, ok := bytes.CutPrefix(rest, []byte("limit ")); ok {
		// "limit %d reached on entry %d" (ipfw2) or ip6fw "limit reached on entry %d".
		e.Kind = KindLimit
		num, after := leadingInt(n)
		if num >= 0 {
			e.Count = num
			n = skipSpaces(after)
		}
		r, ok := bytes.CutPrefix(n, []byte("reached on entry "))
		if !ok {
			return false, true
		}
		e.Rule = trimRight(r)
		return len(e.Rule) > 0 && isRule(e.Rule), true
	}

	// Rule number: -1 when no rule matched ("Refuse").
	end := bytes.IndexByte(rest, ' ')
	if end <= 0 || !isRule(rest[:end]) {
		return false, true
	}
	e.Rule = rest[:end]
	rest = rest[end+1:]

	// Action: up to the protocol token.
	actStart := rest
	var proto []byte
	for {
		tok, after := nextToken(rest)
		if len(tok) == 0 {
			return false, true
		}
		if isIPFWProto(tok) {
			if tok0 := len(actStart) - len(rest); tok0 > 0 {
				e.Action = trimRight(actStart[:tok0])
			}
			proto, rest = tok, after
			break
		}
		rest = after
	}
	if len(e.Action) == 0 {
		return false, true
	}
	if !e.parseIPFWProto(proto) {
		return false, true
	}
	if bytes.Equal(proto, []byte("MAC")) {
		// A layer-2 packet: no addresses to count in connection tables.
		e.Kind = KindOther
		return e.parseIPFWTail(rest), true
	}

	// Endpoints.
	src, after := nextToken(rest)
	dst, after2 := nextToken(after)
	if len(src) == 0 || len(dst) == 0 {
		return false, true
	}
	var sp, dp int
	var okS, okD bool
	e.Src, sp, okS = parseEndpoint(src)
	e.Dst, dp, okD = parseEndpoint(dst)
	if !okS || !okD {
		return false, true
	}
	switch {
	case sp >= 0 && dp >= 0:
		e.SrcPort, e.DstPort, e.HasPorts = uint16(sp), uint16(dp), true
	case sp < 0 && dp < 0:
		if e.Proto == ProtoTCP || e.Proto == ProtoUDP {
			e.Frag = true // a non-first fragment carries no ports
		}
	default:
		return false, true
	}
	return e.parseIPFWTail(after2), true
}

// parseIPFWTail reads what follows the endpoints: an optional mark, then "in via IF",
// "out via IF" or "[no if info]" (or nothing, ipfw1 without an interface), then a fragment note.
func (e *Event) parseIPFWTail(rest []byte) bool {
	rest = skipSpaces(rest)
	if m, ok := bytes.CutPrefix(rest, []byte("mark:")); ok {
		_, rest = nextToken(m)
		rest = skipSpaces(rest)
	}
	switch {
	case bytes.HasPrefix(rest, []byte("in via ")):
		e.Dir = DirIn
		e.Iface, rest = nextToken(rest[len("in via "):])
	case bytes.HasPrefix(rest, []byte("out via ")):
		e.Dir = DirOut
		e.Iface, rest = nextToken(rest[len("out via "):])
	case bytes.HasPrefix(rest, []byte("[no if info]")):
		rest = rest[len("[no if info]"):]
	}
	rest = skipSpaces(rest)
	switch {
	case len(rest) == 0:
		return true
	case bytes.HasPrefix(rest, []byte("(frag ")), bytes.HasPrefix(rest, []byte("Fragment = ")):
		e.Frag = true
		return true
	}
	return false
}

// parseIPFWProto sets the protocol from its token: TCP, UDP, UDPLite, ICMP[:t.c], ICMPv6[:t.c],
// IPV6-ICMP[:t.c] (ip6fw), P:N, MAC.
func (e *Event) parseIPFWProto(tok []byte) bool {
	switch string(tok) {
	case "TCP":
		e.Proto = ProtoTCP
		return true
	case "UDP", "UDPLite":
		e.Proto = ProtoUDP
		return true
	case "MAC":
		e.Proto = ProtoOther
		return true
	}
	if n, ok := bytes.CutPrefix(tok, []byte("P:")); ok {
		num, after := leadingInt(n)
		if num < 0 || len(after) > 0 {
			return false
		}
		e.Proto, e.ProtoNum = ProtoOther, num
		return true
	}
	name, tc, hasTC := bytes.Cut(tok, []byte(":"))
	switch string(name) {
	case "ICMP":
		e.Proto = ProtoICMP
	case "ICMPv6", "IPV6-ICMP":
		e.Proto = ProtoICMPv6
	default:
		return false
	}
	if hasTC {
		t, after := leadingInt(tc)
		if t < 0 || len(after) < 2 || after[0] != '.' {
			return false
		}
		c, rest := leadingInt(after[1:])
		if c < 0 || len(rest) > 0 || t > 255 || c > 255 {
			return false
		}
		e.ICMPType, e.ICMPCode = int16(t), int16(c)
	}
	return true
}

func isIPFWProto(tok []byte) bool {
	// Every protocol token starts with one of these: the action's words ("Accept", "Deny",
	// "Unreach", "13") are settled by their first byte.
	if len(tok) == 0 || (tok[0] != 'T' && tok[0] != 'U' && tok[0] != 'I' && tok[0] != 'M' && tok[0] != 'P') {
		return false
	}
	switch string(tok) {
	case "TCP", "UDP", "UDPLite", "ICMP", "ICMPv6", "IPV6-ICMP", "MAC":
		return true
	}
	return bytes.HasPrefix(tok, []byte("ICMP:")) || bytes.HasPrefix(tok, []byte("ICMPv6:")) ||
		bytes.HasPrefix(tok, []byte("IPV6-ICMP:")) || (bytes.HasPrefix(tok, []byte("P:")) && len(tok) > 2 && tok[2] >= '0' && tok[2] <= '9')
}

// parseEndpoint reads "192.0.2.1:80", "192.0.2.1", "[2001:db8::1]:80" or "[2001:db8::1]"; port
// is -1 when absent.
func parseEndpoint(b []byte) (netip.Addr, int, bool) {
	if len(b) > 0 && b[0] == '[' {
		end := bytes.IndexByte(b, ']')
		if end < 0 {
			return netip.Addr{}, 0, false
		}
		a, err := netip.ParseAddr(string(b[1:end]))
		if err != nil {
			return netip.Addr{}, 0, false
		}
		rest := b[end+1:]
		if len(rest) == 0 {
			return a, -1, true
		}
		if rest[0] != ':' {
			return netip.Addr{}, 0, false
		}
		p, ok := parsePort(rest[1:])
		return a, p, ok
	}
	host, port, hasPort := bytes.Cut(b, []byte(":"))
	a, ok := parseIPv4(host)
	if !ok {
		return netip.Addr{}, 0, false
	}
	if !hasPort {
		return a, -1, true
	}
	p, ok := parsePort(port)
	return a, p, ok
}

// parseIPv4 reads a dotted quad without allocating: four runs of one to three digits, no
// leading zeros, each at most 255.
func parseIPv4(b []byte) (netip.Addr, bool) {
	var out [4]byte
	i := 0
	for part := range 4 {
		if part > 0 {
			if i >= len(b) || b[i] != '.' {
				return netip.Addr{}, false
			}
			i++
		}
		start, val := i, 0
		for i < len(b) && i-start < 3 && b[i] >= '0' && b[i] <= '9' {
			val = val*10 + int(b[i]-'0')
			i++
		}
		if n := i - start; n == 0 || val > 255 || (n > 1 && b[start] == '0') {
			return netip.Addr{}, false
		}
		out[part] = byte(val)
	}
	if i != len(b) {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(out), true
}

func parsePort(b []byte) (int, bool) {
	n, rest := leadingInt(b)
	return n, n >= 0 && n <= 65535 && len(rest) == 0
}

// leadingInt reads the decimal number at the start of b; -1 when there is none (or it is huge).
func leadingInt(b []byte) (int, []byte) {
	n, i := 0, 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		n = n*10 + int(b[i]-'0')
		i++
		if n > 1<<31 {
			return -1, b
		}
	}
	if i == 0 {
		return -1, b
	}
	return n, b[i:]
}

func isRule(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	return isDigits(b)
}

// nextToken returns the next blank-separated token and what follows it.
func nextToken(b []byte) (tok, rest []byte) {
	b = skipSpaces(b)
	for i, c := range b {
		if c == ' ' || c == '\t' {
			return b[:i], b[i:]
		}
	}
	return b, nil
}

func skipSpaces(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

func trimRight(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
