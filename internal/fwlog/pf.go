package fwlog

import (
	"bytes"
	"net/netip"
)

// ParsePF parses one pf log line as tcpdump prints it with -e from pflog (pf copies logged
// packets to the pflog interface; only tcpdump turns them into text). It is a Parser.
//
// A line is pf's when it holds a pf header, in either family of tcpdump:
//
//	OpenBSD tcpdump:  rule 2/(match) pass in on xl0: …
//	                  rule 2.anchor.1/(match) [uid 0, pid 12] block in on em0: …
//	tcpdump.org:      rule 3/0(match): block in on en0: …         (also old OpenBSD 3.x)
//	                  rule 3.anchor.1/0(match) [uid 0] [ridentifier 7]: pass out on em0: …
//
// (openbsd/src usr.sbin/tcpdump/print-pflog.c; the-tcpdump-group/tcpdump print-pflog.c). The
// rule is kept as text ("2", "3.anchor.1", "def"; tcpdump.org prints nothing for the default
// rule, so Rule is empty there), the action as the log spells it ("pass", "block", "match",
// "dummynet (Darwin)"), the direction "in", "out" or "fwd" (anything else, such as "in/out", is
// DirUnknown). A line without a header — tcpdump run without -e prints only
// "IP 192.168.1.1.62771 > 157.240.2.35.443: tcp 0" — is not pf's (mine=false): it says nothing
// about pf. A header followed by a packet this parser cannot read (tcpdump -v splits the packet
// over two lines; without -n it prints names) is a malformed line (ok=false, mine=true).
//
// Before the header a line may carry tcpdump's timestamp, a syslog envelope, both, or neither:
//
//	Mar 30 15:47:05.522341 rule …                       OpenBSD -ttt: Stamp
//	2026-03-20 14:49:24.202833 rule …                   tcpdump.org -tttt: Stamp
//	1711812425.522341 rule …                            -tt: Stamp
//	 00:00:00.013365 rule …                             tcpdump.org -ttt delta: no Stamp
//	14:49:24.202833 rule …                              no Stamp (see below)
//	Mar 30 15:33:26 enigma pf: Mar 30 15:32:33.483712 rule …   syslog: the inner Stamp
//	Mar 30 15:33:26 enigma pf:  00:00:00.013365 rule …         syslog: the syslog Stamp
//
// A bare time of day is either tcpdump's default timestamp or, before tcpdump 4.8.0 (which added
// the leading space, commit 9d6b61de), a -ttt delta; the two cannot be told apart and neither
// dates the packet, so it is not a Stamp. Any other text before the header makes the line
// malformed.
//
// After "on IF: " come optional "[uid …]" / "[rewritten: …]" notes (OpenBSD -v), an optional
// "IP " / "IP6 " and "(…)" details (tcpdump.org -v), then "SRC > DST: …". An address and its
// port are joined by '.': an IPv4 token with five dot-separated parts ends in a port, one with
// four has none; an IPv6 token has a port when there is a '.' after its last ':' (two or four
// dotted parts there: an embedded IPv4 address takes three). The protocol is read from what
// follows "DST: ":
//
//	Flags [S], …  /  S 1:1(0) win …  /  . ack …  /  tcp 0  /  [|tcp]   TCP (the OpenBSD flag
//	                                                                   form only with ports)
//	UDP, length 16  /  udp 73  /  [|udp]                               UDP
//	ICMP echo request, …  /  icmp: echo reply                          ICMP
//	ICMP6, echo request, …  /  HBH ICMP6, …  /  icmp6: …               ICMPv6
//	ip-proto-17 [length]                                               by number
//
// and, when ports are present but tcpdump printed an application decoder instead of the
// transport, by a heuristic: a DNS decode (it starts with a digit, the query id, and either port
// is 53 or 5353, or it contains '?' or "[|domain]": "9340+[|domain]", "0 PTR (QM)? …",
// "59236 [1au] MX? …") is UDP, as is text tcpdump prints only for UDP protocols ("NTPv",
// "BOOTP/DHCP", "SYSLOG"). DNS over TCP is not affected: tcpdump prints the TCP flags first.
// Anything else is ProtoOther with the ports as given. ICMP types are mapped from tcpdump's
// names (echo request → 8, ICMP6 multicast listener report v2 → 143, …); tcpdump prints no code
// number, so ICMPCode stays -1. A non-first fragment — OpenBSD "(frag 1:2@1480)", tcpdump.org -n
// "ip-proto-17" alone — sets Frag and has no ports.
func ParsePF(line []byte, e *Event) (ok, mine bool) {
	h, found := pfFindHeader(line)
	if !found {
		return false, false
	}
	e.Format = FormatPF
	e.Kind = KindPacket
	stamp, sok := pfStamp(line[:h.start])
	if !sok {
		return false, true
	}
	e.Stamp = stamp
	e.Rule = h.rule
	e.Action = h.action
	e.Dir = pfDir(h.dir)
	e.Iface = h.iface
	if !pfPacket(line[h.end:], e) {
		return false, true
	}
	return true, true
}

// pfHeader locates the pf header in a line: line[start:] begins with "rule ", line[end:] is
// the packet. The slices point into the line.
type pfHeader struct {
	start, end               int
	rule, action, dir, iface []byte
}

// pfFindHeader finds the first "rule " (at the start of the line or after a space) that begins
// a well-formed header of either tcpdump family.
func pfFindHeader(line []byte) (pfHeader, bool) {
	for off := 0; off < len(line); {
		i := bytes.Index(line[off:], []byte("rule "))
		if i < 0 {
			break
		}
		i += off
		if i == 0 || line[i-1] == ' ' {
			if h, ok := pfParseHeader(line, i); ok {
				return h, true
			}
		}
		off = i + 1
	}
	return pfHeader{}, false
}

// pfMaxHeader bounds the header: "rule " + rule, anchor (16 bytes, escaped by tcpdump at most
// 4 bytes each) and subrule + reason + uid/pid notes + action, direction and interface (16
// bytes) stay well under it. The bound keeps a forged line full of "rule " linear to scan.
const pfMaxHeader = 512

// pfParseHeader reads the header that starts with "rule " at line[start:].
func pfParseHeader(line []byte, start int) (pfHeader, bool) {
	h := pfHeader{start: start}
	whole := true // line is not cut to the header bound
	if len(line) > start+pfMaxHeader {
		line, whole = line[:start+pfMaxHeader], false
	}
	p := start + len("rule ")
	q := -1 // where "ACTION DIR on IF: " begins
	// The rule text ends at the '/' that begins a reason: "(" (OpenBSD) or "N(" / "unkn("
	// (tcpdump.org). An anchor name may itself contain '/' ("relayd/rdr"), so keep looking.
	for j := p; j < len(line) && q < 0; j++ {
		c := line[j]
		if c == ' ' {
			return h, false
		}
		if c != '/' {
			continue
		}
		r := line[j+1:]
		switch {
		case len(r) > 0 && r[0] == '(':
			// OpenBSD: "/(reason) " then, with -v, "[uid U, pid P] ".
			k := bytes.IndexByte(r, ')')
			if k < 2 || k+1 >= len(r) || r[k+1] != ' ' {
				return h, false
			}
			k += 2
			if k < len(r) && r[k] == '[' {
				n := bytes.Index(r[k:], []byte("] "))
				if n < 0 {
					return h, false
				}
				k += n + 2
			}
			h.rule = line[p:j]
			q = j + 1 + k
		case pfTcpdumpReason(r):
			// tcpdump.org: "/0(match)" then optional " [uid N]" " [ridentifier N]", then ": ".
			k := bytes.Index(r, []byte(": "))
			if k < 0 {
				return h, false
			}
			h.rule = line[p:j]
			q = j + 1 + k + 2
		}
	}
	if q < 0 {
		return h, false
	}
	// "ACTION DIR on IF: ". The action may hold a space ("dummynet (Darwin)"); the direction and
	// the interface do not.
	m := bytes.Index(line[q:], []byte(": "))
	switch {
	case m >= 0:
		h.end = q + m + 2
	case whole && len(line) > q && line[len(line)-1] == ':':
		m = len(line) - 1 - q
		h.end = len(line)
	default:
		return h, false
	}
	hdr := line[q : q+m]
	sp := bytes.LastIndexByte(hdr, ' ')
	if sp < 0 || sp == len(hdr)-1 {
		return h, false
	}
	h.iface = hdr[sp+1:]
	pre := hdr[:sp]
	if !bytes.HasSuffix(pre, []byte(" on")) {
		return h, false
	}
	pre = pre[:len(pre)-len(" on")]
	sp = bytes.LastIndexByte(pre, ' ')
	if sp <= 0 || sp == len(pre)-1 {
		return h, false
	}
	h.dir = pre[sp+1:]
	h.action = pre[:sp]
	if !pfAction(h.action) {
		return h, false
	}
	return h, true
}

// pfAction reports whether a is an action as tcpdump prints one: a word ("pass", "unkn(11)"),
// or a word and a parenthesised note ("dummynet (Darwin)").
func pfAction(a []byte) bool {
	sp := bytes.IndexByte(a, ' ')
	if sp < 0 {
		return len(a) > 0
	}
	note := a[sp+1:]
	return sp > 0 && len(note) >= 2 && note[0] == '(' && note[len(note)-1] == ')' &&
		bytes.IndexByte(note, ' ') < 0
}

// pfTcpdumpReason reports whether r begins a tcpdump.org reason: "0(match)", "unkn(20)".
func pfTcpdumpReason(r []byte) bool {
	if pfHas(r, "unkn(") {
		return true
	}
	i := 0
	for i < len(r) && pfIsDigit(r[i]) {
		i++
	}
	return i > 0 && i < len(r) && r[i] == '('
}

func pfDir(d []byte) Dir {
	switch string(d) {
	case "in":
		return DirIn
	case "out":
		return DirOut
	case "fwd":
		return DirFwd
	}
	return DirUnknown
}

// Kinds of timestamp pfStampAt recognises.
const (
	pfStampNone  = iota
	pfStampDate  // a date and time: "Mar 30 15:47:05.522341", "2026-03-20 14:49:24.202833"
	pfStampEpoch // -tt: "1711812425.522341"
	pfStampClock // a bare time of day (or a delta from tcpdump before 4.8.0)
	pfStampDelta // tcpdump.org -ttt / -ttttt since 4.8.0: " 00:00:00.013365", "-00:00:00.000002"
)

// pfStamp reads what precedes the pf header: nothing, a tcpdump timestamp, or a syslog envelope
// around one. It returns the Stamp (nil when there is none that dates the packet) and whether
// the prefix was understood.
func pfStamp(pre []byte) ([]byte, bool) {
	pre = skipPRI(pre) // a syslog priority kept by a collector
	if pfBlank(pre) {
		return nil, true
	}
	n, kind := pfStampAt(pre)
	if n == 0 {
		return nil, false
	}
	if pfBlank(pre[n:]) {
		if kind == pfStampDate || kind == pfStampEpoch {
			return pre[:n], true
		}
		return nil, true
	}
	// A syslog envelope: "DATE host tag: " then tcpdump's own line.
	if kind != pfStampDate || pre[n] != ' ' {
		return nil, false
	}
	outer := pre[:n]
	rest := pre[n+1:]
	c := bytes.Index(rest, []byte(": "))
	if c <= 0 || rest[0] == ' ' {
		return nil, false
	}
	inner := rest[c+2:]
	if pfBlank(inner) {
		return outer, true
	}
	m, ikind := pfStampAt(inner)
	if m == 0 || !pfBlank(inner[m:]) {
		return nil, false
	}
	if ikind == pfStampDate || ikind == pfStampEpoch {
		return inner[:m], true
	}
	return outer, true
}

func pfBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' {
			return false
		}
	}
	return true
}

// pfStampAt measures the timestamp at the start of b.
func pfStampAt(b []byte) (int, int) {
	if len(b) == 0 {
		return 0, pfStampNone
	}
	if b[0] == ' ' || b[0] == '-' {
		if n := pfClock(b[1:], 2, 4); n > 0 {
			return 1 + n, pfStampDelta
		}
		return 0, pfStampNone
	}
	if n := pfBSDDate(b); n > 0 {
		return n, pfStampDate
	}
	if n := pfISODate(b); n > 0 {
		return n, pfStampDate
	}
	if n := pfClock(b, 2, 4); n > 0 {
		return n, pfStampClock
	}
	// -tt: seconds.fraction
	i := pfDigits(b, 1, 20)
	if i > 0 && i < len(b) && b[i] == '.' {
		if f := pfDigits(b[i+1:], 1, 9); f > 0 {
			return i + 1 + f, pfStampEpoch
		}
	}
	return 0, pfStampNone
}

// pfBSDDate measures "Mar 30 15:47:05" with an optional fraction; the day may be "05", " 5"
// or "5".
func pfBSDDate(b []byte) int {
	if len(b) < len("Jan 2 15:04:05") || !pfMonth(b[:3]) || b[3] != ' ' {
		return 0
	}
	i := 4
	if b[i] == ' ' {
		i++
	}
	d := pfDigits(b[i:], 1, 2)
	if d == 0 {
		return 0
	}
	i += d
	if i >= len(b) || b[i] != ' ' {
		return 0
	}
	i++
	n := pfClock(b[i:], 2, 2)
	if n == 0 {
		return 0
	}
	return i + n
}

func pfMonth(m []byte) bool {
	switch string(m) {
	case "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec":
		return true
	}
	return false
}

// pfISODate measures "2026-03-20 14:49:24.202833" (tcpdump -tttt) or an RFC 3339 syslog time
// "2026-03-20T14:49:24.202833+01:00".
func pfISODate(b []byte) int {
	if len(b) < len("2006-01-02 15:04:05") ||
		pfDigits(b, 4, 4) != 4 || b[4] != '-' ||
		pfDigits(b[5:], 2, 2) != 2 || b[7] != '-' ||
		pfDigits(b[8:], 2, 2) != 2 || (b[10] != ' ' && b[10] != 'T') {
		return 0
	}
	n := pfClock(b[11:], 2, 2)
	if n == 0 {
		return 0
	}
	i := 11 + n
	if i < len(b) {
		switch b[i] {
		case 'Z':
			i++
		case '+', '-':
			z := b[i+1:]
			switch {
			case len(z) >= 5 && pfDigits(z, 2, 2) == 2 && z[2] == ':' && pfDigits(z[3:], 2, 2) == 2:
				i += 6
			case pfDigits(z, 4, 4) == 4:
				i += 5
			}
		}
	}
	return i
}

// pfClock measures "HH:MM:SS" with an optional ".fraction"; the hours take minH to maxH digits
// (a delta may run past 99 hours).
func pfClock(b []byte, minH, maxH int) int {
	i := pfDigits(b, minH, maxH)
	if i == 0 {
		return 0
	}
	for range 2 {
		if i >= len(b) || b[i] != ':' || pfDigits(b[i+1:], 2, 2) != 2 {
			return 0
		}
		i += 3
	}
	if i < len(b) && b[i] == '.' {
		if f := pfDigits(b[i+1:], 1, 9); f > 0 {
			i += 1 + f
		}
	}
	return i
}

// pfDigits returns the length of the run of digits at the start of b when it is min to max
// long, else 0.
func pfDigits(b []byte, min, max int) int {
	i := 0
	for i < len(b) && i <= max && pfIsDigit(b[i]) {
		i++
	}
	if i < min || i > max {
		return 0
	}
	return i
}

func pfIsDigit(c byte) bool { return '0' <= c && c <= '9' }

// pfPacket reads "SRC > DST: …" into e.
func pfPacket(b []byte, e *Event) bool {
	b = pfSkipNotes(b)
	gt := bytes.Index(b, []byte(" > "))
	if gt <= 0 {
		return false
	}
	src := b[:gt]
	if bytes.IndexByte(src, ' ') >= 0 {
		return false
	}
	r := b[gt+3:]
	dst, rest := r, []byte(nil)
	if sp := bytes.IndexByte(r, ' '); sp >= 0 {
		dst, rest = r[:sp], r[sp+1:]
	}
	if len(dst) < 2 || dst[len(dst)-1] != ':' {
		return false
	}
	dst = dst[:len(dst)-1]
	sa, sport, sHas, ok := pfAddrPort(src)
	if !ok {
		return false
	}
	da, dport, dHas, ok := pfAddrPort(dst)
	if !ok || sHas != dHas || sa.Is4() != da.Is4() {
		return false
	}
	e.Src, e.Dst = sa, da
	if sHas {
		e.SrcPort, e.DstPort, e.HasPorts = sport, dport, true
	}
	return pfProto(bytes.TrimLeft(rest, " "), e)
}

// pfSkipNotes skips what tcpdump may print between the header and the source address: OpenBSD
// -v "[uid U, pid P] " and "[rewritten: src …, dst …] " (tcpdump.org ends its rewritten note with
// "; "), "IP " / "IP6 ", and tcpdump.org -v "(tos …) " / "(hlim …) " details. A note it cannot
// close is left in place, and the line then fails to read.
func pfSkipNotes(b []byte) []byte {
	for len(b) > 0 {
		switch {
		case b[0] == '[':
			end := bytes.Index(b, []byte("] "))
			if pfHas(b, "[rewritten: ") {
				if semi := bytes.Index(b, []byte("; ")); semi >= 0 && (end < 0 || semi < end) {
					end = semi
				}
			}
			if end < 0 {
				return b
			}
			b = b[end+2:]
		case pfHas(b, "IP "):
			b = b[len("IP "):]
		case pfHas(b, "IP6 "):
			b = b[len("IP6 "):]
		case b[0] == '(':
			n := pfParens(b)
			if n == 0 || n >= len(b) || b[n] != ' ' {
				return b
			}
			b = b[n+1:]
		default:
			return b
		}
	}
	return b
}

// pfParens returns the length of the balanced "(…)" group at the start of b, or 0.
func pfParens(b []byte) int {
	depth := 0
	for i, c := range b {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return 0
}

// pfAddrPort splits tcpdump's "address.port" (or a bare address) and parses both.
func pfAddrPort(tok []byte) (a netip.Addr, port uint16, hasPort, ok bool) {
	addr := tok
	var p []byte
	if lc := bytes.LastIndexByte(tok, ':'); lc >= 0 {
		switch bytes.Count(tok[lc+1:], []byte(".")) {
		case 0, 3: // no port; an embedded IPv4 address ("::ffff:192.0.2.1")
		case 1, 4:
			ld := bytes.LastIndexByte(tok, '.')
			addr, p = tok[:ld], tok[ld+1:]
		default:
			return a, 0, false, false
		}
		var err error
		if a, err = netip.ParseAddr(string(addr)); err != nil || !a.Is6() {
			return a, 0, false, false
		}
	} else {
		switch bytes.Count(tok, []byte(".")) {
		case 3:
		case 4:
			ld := bytes.LastIndexByte(tok, '.')
			addr, p = tok[:ld], tok[ld+1:]
		default:
			return a, 0, false, false
		}
		if a, ok = pfParseIPv4(addr); !ok {
			return a, 0, false, false
		}
	}
	if p == nil {
		return a, 0, false, true
	}
	port, ok = pfParsePort(p)
	return a, port, ok, ok
}

// pfParseIPv4 parses dotted-quad IPv4 as netip.ParseAddr does (no leading zeros), without
// converting to a string.
func pfParseIPv4(b []byte) (netip.Addr, bool) {
	var ip [4]byte
	part, n, digits := 0, 0, 0
	for i := 0; i <= len(b); i++ {
		if i == len(b) || b[i] == '.' {
			if digits == 0 || part > 3 {
				return netip.Addr{}, false
			}
			ip[part] = byte(n)
			part, n, digits = part+1, 0, 0
			continue
		}
		c := b[i]
		if !pfIsDigit(c) || (digits == 1 && n == 0) {
			return netip.Addr{}, false
		}
		n = n*10 + int(c-'0')
		digits++
		if n > 255 {
			return netip.Addr{}, false
		}
	}
	if part != 4 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(ip), true
}

// pfParsePort parses a decimal port; tcpdump -n prints ports as numbers.
func pfParsePort(b []byte) (uint16, bool) {
	if len(b) == 0 || len(b) > 5 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if !pfIsDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if n > 65535 {
		return 0, false
	}
	return uint16(n), true
}

// pfProto sets e.Proto (and ProtoNum, ICMPType, Frag) from the text after "DST: ". It reports
// false when that text contradicts the addresses (an ICMP packet with ports).
func pfProto(r []byte, e *Event) bool {
	for pfHas(r, "HBH ") {
		// An IPv6 hop-by-hop header (MLD carries one); with -v its options follow in "(…)".
		r = pfSkipNotes(r[len("HBH "):])
	}
	switch {
	case pfHas(r, "Flags ["), pfWord(r, "tcp") && pfNumberAfter(r, 3),
		pfHas(r, "[|tcp]"):
		e.Proto = ProtoTCP
	case pfWord(r, "UDP"), pfWord(r, "udp") && pfNumberAfter(r, 3), pfHas(r, "[|udp]"):
		e.Proto = ProtoUDP
	case pfHas(r, "ICMP6"):
		e.Proto = ProtoICMPv6
		e.ICMPType = pfICMP6Type(bytes.TrimPrefix(bytes.TrimPrefix(r[len("ICMP6"):], []byte(",")), []byte(" ")))
	case pfHas(r, "icmp6:"), pfHas(r, "[|icmp6]"):
		e.Proto = ProtoICMPv6
		e.ICMPType = pfICMP6Type(bytes.TrimPrefix(bytes.TrimPrefix(r, []byte("icmp6:")), []byte(" ")))
	case pfHas(r, "ICMP "):
		e.Proto = ProtoICMP
		e.ICMPType = pfICMPType(r[len("ICMP "):])
	case pfHas(r, "icmp:"), pfHas(r, "[|icmp]"):
		e.Proto = ProtoICMP
		e.ICMPType = pfICMPType(bytes.TrimPrefix(bytes.TrimPrefix(r, []byte("icmp:")), []byte(" ")))
	case pfHas(r, "ip-proto-"):
		// tcpdump -n for a protocol it does not decode: "ip-proto-N LEN"; a non-first fragment
		// (tcpdump.org print-ip.c) prints "ip-proto-N" and nothing more.
		d := pfDigits(r[len("ip-proto-"):], 1, 3)
		if d == 0 {
			e.Proto = ProtoOther
			break
		}
		n := 0
		for _, c := range r[len("ip-proto-") : len("ip-proto-")+d] {
			n = n*10 + int(c-'0')
		}
		e.Proto = pfProtoNum(n)
		if e.Proto == ProtoOther {
			e.ProtoNum = n
		}
		e.Frag = pfBlank(r[len("ip-proto-")+d:]) && !e.HasPorts
	case pfHas(r, "(frag ") && !e.HasPorts:
		// OpenBSD / tcpdump 3.x: a non-first fragment prints only "(frag id:len@off[+])".
		e.Proto = ProtoOther
		e.Frag = true
	case e.HasPorts && pfTCPFlags(r):
		e.Proto = ProtoTCP
	case e.HasPorts && pfDNS(r, e.SrcPort, e.DstPort):
		e.Proto = ProtoUDP
	case e.HasPorts && (pfHas(r, "NTPv") || pfHas(r, "BOOTP/DHCP") ||
		pfHas(r, "SYSLOG")):
		e.Proto = ProtoUDP
	default:
		e.Proto = ProtoOther
	}
	if e.HasPorts && (e.Proto == ProtoICMP || e.Proto == ProtoICMPv6) {
		return false
	}
	return true
}

// pfWord reports whether r begins with the word w (followed by the end, a space or a comma).
func pfWord(r []byte, w string) bool {
	if !pfHas(r, w) {
		return false
	}
	return len(r) == len(w) || r[len(w)] == ' ' || r[len(w)] == ','
}

// pfNumberAfter reports whether r[n:] is " " and a number (tcpdump -q "tcp 0", OpenBSD "udp 73").
func pfNumberAfter(r []byte, n int) bool {
	return len(r) > n+1 && r[n] == ' ' && pfIsDigit(r[n+1])
}

// pfProtoNum names an IP protocol number (pf's ip-proto-N, filterlog's protocol id); ProtoOther
// for any but TCP, UDP, ICMP and ICMPv6.
func pfProtoNum(n int) Proto {
	switch n {
	case 6:
		return ProtoTCP
	case 17:
		return ProtoUDP
	case 1:
		return ProtoICMP
	case 58:
		return ProtoICMPv6
	}
	return ProtoOther
}

// pfTCPFlags reports whether r begins with tcpdump 3.x's TCP flags ("S", "P", "FP", "SEW", ".")
// followed by a space, as OpenBSD's tcpdump prints them: "S 1381529123:1381529123(0) win …",
// ". ack 1 win …".
func pfTCPFlags(r []byte) bool {
	i := 0
	for i < len(r) && i < 8 {
		switch r[i] {
		case 'S', 'F', 'R', 'P', 'W', 'E', 'U', '.':
			i++
			continue
		}
		break
	}
	return i > 0 && i < len(r) && r[i] == ' '
}

// pfDNS is the DNS heuristic: tcpdump's DNS decoder starts with the query id, a number; a line
// is taken for DNS (over UDP: over TCP tcpdump prints the flags first) when either port is 53 or
// 5353, or the decode shows a question mark or a truncated "[|domain]".
func pfDNS(r []byte, sport, dport uint16) bool {
	if pfHas(r, "[|domain]") {
		return true
	}
	if len(r) == 0 || !pfIsDigit(r[0]) {
		return false
	}
	switch {
	case sport == 53, dport == 53, sport == 5353, dport == 5353:
		return true
	}
	return bytes.IndexByte(r, '?') >= 0 || bytes.Contains(r, []byte("[|domain]"))
}

// pfICMPType maps tcpdump's ICMP description to the type (print-icmp.c names; OpenBSD's older
// tcpdump uses the same words), or -1.
func pfICMPType(d []byte) int16 {
	pre := func(s string) bool { return pfHas(d, s) }
	switch {
	case pre("echo reply"):
		return 0
	case pre("echo request"):
		return 8
	case pre("source quench"):
		return 4
	case pre("redirect"):
		return 5
	case pre("router advertisement"):
		return 9
	case pre("router solicitation"):
		return 10
	case pre("time exceeded"), pre("ip reassembly time exceeded"):
		return 11
	case pre("parameter problem"):
		return 12
	case pre("time stamp request"):
		return 13
	case pre("time stamp reply"):
		return 14
	case pre("type-#"):
		if n := pfDigits(d[len("type-#"):], 1, 3); n > 0 {
			v := 0
			for _, c := range d[len("type-#") : len("type-#")+n] {
				v = v*10 + int(c-'0')
			}
			if v <= 255 {
				return int16(v)
			}
		}
		return -1
	}
	// "host 192.0.2.1 unreachable", "192.0.2.1 udp port 53 unreachable - …": the words before
	// tcpdump.org's ", length N".
	if c := bytes.IndexByte(d, ','); c >= 0 {
		d = d[:c]
	}
	if bytes.Contains(d, []byte(" unreachable")) {
		return 3
	}
	return -1
}

// pfICMP6Type maps tcpdump's ICMPv6 description to the type (print-icmp6.c icmp6_type_values;
// OpenBSD abbreviates "neighbor sol" / "neighbor adv"), or -1.
func pfICMP6Type(d []byte) int16 {
	pre := func(s string) bool { return pfHas(d, s) }
	switch {
	case pre("destination unreachable"), pre("unreachable"):
		return 1
	case pre("packet too big"):
		return 2
	case pre("time exceeded"):
		return 3
	case pre("parameter problem"):
		return 4
	case pre("echo request"):
		return 128
	case pre("echo reply"):
		return 129
	case pre("multicast listener query"):
		return 130
	case pre("multicast listener report v2"):
		return 143
	case pre("multicast listener report"):
		return 131
	case pre("multicast listener done"):
		return 132
	case pre("router solicitation"):
		return 133
	case pre("router advertisement"):
		return 134
	case pre("neighbor sol"):
		return 135
	case pre("neighbor adv"):
		return 136
	case pre("redirect"):
		return 137
	}
	return -1
}

// pfHas reports whether b begins with s; testing the first byte first keeps the many misses of
// pfProto cheap.
func pfHas(b []byte, s string) bool {
	return len(s) > 0 && len(b) >= len(s) && b[0] == s[0] && string(b[:len(s)]) == s
}
