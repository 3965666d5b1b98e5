package fwlog

import (
	"bytes"
	"net/netip"
)

// ParseMikroTik reads a MikroTik RouterOS firewall log line, what a rule with action=log (or
// log=yes) writes under the topics "firewall,info":
//
//	[stamp] [host] [firewall,info] [log-prefix] chain: in:IFACE out:IFACE, [connection-state:new]
//	  [src-mac 00:11:22:33:44:55,] proto TCP (SYN), 192.0.2.1:5555->198.51.100.2:22,
//	  [NAT (…)->…,] len 60
//
// The envelope is a remote syslog header (BSD or RFC 3339 stamp, then the router's name or
// address; the topics only when the action sends them), or RouterOS's own "jan/15 14:30:01" or
// "14:30:01" from /log print, or nothing. Interface names may hold spaces; "(unknown 0)" is no
// interface. Sections are separated by ", " outside parentheses (ICMP prints "(type 3, code 3)").
// IPv6 endpoints with ports are bracketed ("[2001:db8::1]:40384"). The NAT section
// ("NAT (a:p->b:p)->c:p" or "NAT a:p->(b:p->c:p)") says how the packet was translated; the
// addresses counted are the ones before it, those of the packet as the rule saw it.
//
// Rule is the log prefix and the chain ("drop-in input"), or the chain alone. Action is the
// verdict the prefix names, as for netfilter ("drop-in" is a DROP), else "LOG": RouterOS does
// not log the rule's action. Dir follows the chain (input and prerouting in, output and
// postrouting out, forward both), or for a custom chain which interfaces are known.
//
// A line is MikroTik's when it has "CHAIN: in:" followed by " out:"; one without readable
// protocol and addresses is malformed.
func ParseMikroTik(line []byte, e *Event) (ok, mine bool) {
	at := mtAnchor(line)
	if at < 0 {
		return false, false
	}
	e.Format, e.Kind = FormatMikroTik, KindPacket
	head := line[:at] // up to the chain's colon
	chainAt := bytes.LastIndexByte(head, ' ') + 1
	chain := head[chainAt:]
	if len(chain) == 0 {
		return false, true
	}
	var prefix []byte
	e.Stamp, prefix = mtPrefix(head[:chainAt])
	e.Rule = chain
	if len(prefix) > 0 {
		// From the prefix to the chain's end: prefix is a sub-slice of line, so its offset is
		// what its capacity lacks of the line's.
		e.Rule = line[cap(line)-cap(prefix) : at]
	}
	e.Action = nfVerdict(prefix)

	rest := line[at+len(": in:"):]
	o := bytes.Index(rest, []byte(" out:"))
	if o < 0 {
		return false, true
	}
	in, rest := rest[:o], rest[o+len(" out:"):]
	c := bytes.Index(rest, []byte(", "))
	if c < 0 {
		return false, true
	}
	out, rest := rest[:c], rest[c+2:]
	if string(in) == "(unknown 0)" {
		in = nil
	}
	if string(out) == "(unknown 0)" {
		out = nil
	}
	mtDir(chain, in, out, e)

	var haveProto, haveAddrs bool
	for len(rest) > 0 {
		sec := mtSection(rest)
		rest = rest[len(sec):]
		rest = bytes.TrimPrefix(rest, []byte(", "))
		switch {
		case !haveProto && mtProtoAt(sec) >= 0:
			if !mtProto(sec[mtProtoAt(sec)+len("proto "):], e) {
				return false, true
			}
			haveProto = true
		case haveProto && !haveAddrs && bytes.Contains(sec, []byte("->")) && !bytes.HasPrefix(sec, []byte("NAT ")):
			if !mtAddrs(sec, e) {
				return false, true
			}
			haveAddrs = true
		}
		if haveAddrs {
			break // NAT and len add nothing
		}
	}
	return haveProto && haveAddrs, true
}

// mtAnchor returns the index of the ": in:" after the chain name, with " out:" after it.
func mtAnchor(line []byte) int {
	i := bytes.Index(line, []byte(": in:"))
	if i <= 0 || !bytes.Contains(line[i:], []byte(" out:")) {
		return -1
	}
	return i
}

// mtPrefix splits what precedes the chain into the timestamp and the log prefix (nil when the
// rule has none). After a syslog timestamp comes the router's name; the topics token
// ("firewall,info") ends the envelope wherever it stands.
func mtPrefix(b []byte) (stamp, prefix []byte) {
	b = skipSpaces(b) // /log print right-aligns its stamps
	rest := b
	hasHost := false
	if s, r, ok := leadingStamp(b); ok {
		stamp, rest, hasHost = s, r, true
	} else if s, r, ok := mtLocalStamp(b); ok {
		stamp, rest = s, r
	}
	if i := bytes.Index(rest, []byte("firewall,")); i >= 0 && (i == 0 || rest[i-1] == ' ') {
		_, rest = nextToken(rest[i:])
	} else if hasHost {
		_, rest = nextToken(rest)
	}
	prefix = trimRight(skipSpaces(rest))
	if len(prefix) == 0 {
		return stamp, nil
	}
	return stamp, prefix
}

// mtLocalStamp reads RouterOS's own stamps, as /log print and its disk logs write them:
// "jan/15/2024 14:30:01", "jan/15 14:30:01" or "14:30:01" (today).
func mtLocalStamp(b []byte) (stamp, rest []byte, ok bool) {
	i := 0
	if len(b) >= 7 && b[3] == '/' && isMonth([]byte{b[0] - 'a' + 'A', b[1], b[2]}) && isDigits(b[4:6]) {
		i = 6
		if len(b) >= 11 && b[6] == '/' && isDigits(b[7:11]) {
			i = 11
		}
		if len(b) <= i || b[i] != ' ' {
			return nil, b, false
		}
		i++
	}
	if len(b) < i+8 || !isClock(b[i:i+8]) || (len(b) > i+8 && b[i+8] != ' ') {
		return nil, b, false
	}
	return b[:i+8], skipSpaces(b[i+8:]), true
}

// mtDir sets the direction and interface from the chain and the interfaces.
func mtDir(chain, in, out []byte, e *Event) {
	switch string(chain) {
	case "input", "prerouting":
		e.Dir, e.Iface = DirIn, in
	case "output", "postrouting":
		e.Dir, e.Iface = DirOut, out
	case "forward":
		e.Dir, e.Iface = DirFwd, in
	default:
		switch {
		case len(in) > 0 && len(out) == 0:
			e.Dir, e.Iface = DirIn, in
		case len(in) == 0 && len(out) > 0:
			e.Dir, e.Iface = DirOut, out
		case len(in) > 0:
			e.Dir, e.Iface = DirFwd, in
		}
	}
	if len(e.Iface) == 0 {
		e.Iface = nil
	}
}

// mtSection returns the text up to the next ", " outside parentheses.
func mtSection(b []byte) []byte {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '(':
			depth++
		case ')':
			depth = max(depth-1, 0)
		case ',':
			if depth == 0 && i+1 < len(b) && b[i+1] == ' ' {
				return b[:i]
			}
		}
	}
	return b
}

// mtProtoAt finds "proto " at the start of a section or after a space: with no src-mac, RouterOS
// writes "connection-state:new proto TCP (SYN)" as one section.
func mtProtoAt(sec []byte) int {
	i := bytes.Index(sec, []byte("proto "))
	if i > 0 && sec[i-1] != ' ' {
		return -1
	}
	return i
}

// mtProto reads "TCP (SYN)", "UDP", "ICMP (type 3, code 3)", "ICMPv6 (type 135, code 0)",
// "GRE", "47".
func mtProto(p []byte, e *Event) bool {
	name, detail, _ := bytes.Cut(p, []byte(" "))
	switch string(name) {
	case "TCP", "tcp":
		e.Proto = ProtoTCP
	case "UDP", "udp", "UDP-Lite":
		e.Proto = ProtoUDP
	case "ICMP", "icmp":
		e.Proto = ProtoICMP
	case "ICMPv6", "IPv6-ICMP", "icmpv6":
		e.Proto = ProtoICMPv6
	case "GRE":
		e.Proto, e.ProtoNum = ProtoOther, 47
	case "ESP", "IPSEC-ESP", "ipsec-esp":
		e.Proto, e.ProtoNum = ProtoOther, 50
	case "AH", "IPSEC-AH", "ipsec-ah":
		e.Proto, e.ProtoNum = ProtoOther, 51
	case "IGMP":
		e.Proto, e.ProtoNum = ProtoOther, 2
	case "OSPF":
		e.Proto, e.ProtoNum = ProtoOther, 89
	case "SCTP":
		e.Proto, e.ProtoNum = ProtoOther, 132
	default:
		n, ok := nfByte(name)
		if !ok {
			return false
		}
		e.Proto, e.ProtoNum = ProtoOther, n
	}
	if e.Proto == ProtoICMP || e.Proto == ProtoICMPv6 {
		// "(type 3, code 3)"
		d, ok := bytes.CutPrefix(detail, []byte("(type "))
		if !ok {
			return true
		}
		t, after := leadingInt(d)
		a2, ok := bytes.CutPrefix(after, []byte(", code "))
		if t < 0 || t > 255 || !ok {
			return false
		}
		c, after := leadingInt(a2)
		if c < 0 || c > 255 || string(after) != ")" {
			return false
		}
		e.ICMPType, e.ICMPCode = int16(t), int16(c)
	}
	return true
}

// mtAddrs reads "src->dst": "192.0.2.1:5555->198.51.100.2:22", "192.0.2.1->198.51.100.2",
// "[2001:db8::1]:40384->[2001:db8::2]:22", "2001:db8::1->2001:db8::2".
func mtAddrs(s []byte, e *Event) bool {
	a, b, ok := bytes.Cut(s, []byte("->"))
	if !ok {
		return false
	}
	src, sp, okS := mtEndpoint(a)
	dst, dp, okD := mtEndpoint(b)
	if !okS || !okD || src.Is4() != dst.Is4() || (sp < 0) != (dp < 0) {
		return false
	}
	e.Src, e.Dst = src, dst
	if sp >= 0 && (e.Proto == ProtoTCP || e.Proto == ProtoUDP || e.Proto == ProtoOther) {
		e.SrcPort, e.DstPort, e.HasPorts = uint16(sp), uint16(dp), true
	}
	return true
}

// mtEndpoint reads an address with an optional port (-1 when none).
func mtEndpoint(b []byte) (netip.Addr, int, bool) {
	if len(b) > 0 && b[0] == '[' {
		end := bytes.IndexByte(b, ']')
		if end < 0 {
			return netip.Addr{}, 0, false
		}
		a, ok := nfAddrSlow(b[1:end])
		if !ok || !a.Is6() {
			return netip.Addr{}, 0, false
		}
		p, ok := bytes.CutPrefix(b[end+1:], []byte(":"))
		if !ok {
			return a, -1, len(b) == end+1
		}
		port, ok := parsePort(p)
		return a, port, ok
	}
	switch bytes.Count(b, []byte(":")) {
	case 0:
		a, ok := parseIPv4(b)
		return a, -1, ok
	case 1:
		host, p, _ := bytes.Cut(b, []byte(":"))
		a, ok := parseIPv4(host)
		port, okP := parsePort(p)
		return a, port, ok && okP
	}
	a, ok := nfAddrSlow(b)
	return a, -1, ok && a.Is6()
}
