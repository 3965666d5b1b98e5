package fwlog

import (
	"bytes"
	"net/netip"
)

// actionLog is the Action of a netfilter line whose LOG prefix names no verdict. It is handed out
// in Events and must never be written to.
var actionLog = []byte("LOG")

// ParseNetfilter reads a Linux netfilter LOG line (iptables -j LOG, nftables log, ufw,
// firewalld, UniFi/EdgeOS) as nf_log_syslog.c prints it (reference logs.md §4.1):
// "<prefix>IN=%s OUT=%s [PHYSIN=… PHYSOUT=…] [MAC=…] SRC=… DST=… … PROTO=… …".
//
// The envelope may be a BSD syslog or journald short header ("Jan  8 03:37:09 host kernel: "),
// an RFC 3339 one ("2026-03-20T14:49:24.202833+00:00 host kernel: ", Debian 12 rsyslog), a
// printk uptime ("[16571.459614] "), any mix of those, or nothing (ufw.log excerpts). Stamp is
// the syslog timestamp, never the uptime. Rule is the LOG prefix, trimmed: everything between the
// envelope and "IN=", which UniFi and EdgeOS glue to it ("[WAN_OUT-2000-A]IN=eth0"). Action is
// the first verdict word found in the prefix, case-insensitively, in the order DROP, REJECT,
// BLOCK, DENY, ACCEPT, ALLOW, AUDIT, LIMIT ("[UFW LIMIT BLOCK]" is a BLOCK), spelled as the
// prefix spells it; "LOG" when it names none.
//
// Keys repeat (UDP prints LEN= twice; ICMP echo repeats ID=) and ICMP errors quote the offending
// packet in "[ … ]", so fields are read positionally: the first SRC, DST and PROTO outside
// brackets win, and ports, ICMP type and code are read only after PROTO. A non-first fragment
// ("FRAG:185" before PROTO) sets Frag and carries no ports. UDPLITE counts as UDP, as ipfw's
// "UDPLite" does; AH, ESP and numbered protocols are ProtoOther with their number.
//
// A line is netfilter's when it has "IN=" followed later by " OUT=" (or starts with "IN="); one
// without both addresses (ARP, "TRUNCATED") or with an unreadable field is malformed.
func ParseNetfilter(line []byte, e *Event) (ok, mine bool) {
	if chain, stamp, msg, isPVE := pveHeader(line); isPVE {
		return parsePVE(chain, stamp, msg, e)
	}
	inAt, outAt := nfInOut(line)
	if inAt < 0 {
		if i := bytes.Index(line, []byte("IN=")); i == 0 || (i > 0 && bytes.Contains(line[i+3:], []byte(" OUT="))) {
			e.Format = FormatNetfilter
			return false, true
		}
		return false, false
	}
	e.Format, e.Kind = FormatNetfilter, KindPacket
	e.Stamp, e.Rule = nfPrefix(line[:inAt])
	e.Action = nfVerdict(e.Rule)

	in := line[inAt+len("IN=") : outAt]
	rest := line[outAt+len(" OUT="):]
	out := rest
	if n := bytes.IndexByte(rest, ' '); n >= 0 {
		out, rest = rest[:n], rest[n:]
	} else {
		rest = nil
	}
	return nfBody(in, out, rest, e), true
}

// nfBody reads the fields after "IN=%s OUT=%s" into e, which holds the line's format, stamp,
// rule and action already.
func nfBody(in, out, rest []byte, e *Event) bool {
	switch {
	case len(in) > 0 && len(out) == 0:
		e.Dir, e.Iface = DirIn, in
	case len(in) == 0 && len(out) > 0:
		e.Dir, e.Iface = DirOut, out
	case len(in) > 0:
		e.Dir, e.Iface = DirFwd, in
	}

	var haveSrc, haveDst, haveProto, haveSpt, haveDpt, haveType, haveCode bool
	depth := 0 // inside "[ … ]": an ICMP error's quoted packet, "INCOMPLETE [N bytes]"
	for len(rest) > 0 {
		if rest[0] == ' ' {
			rest = rest[1:]
			continue
		}
		// One pass over the token: its end, its first '=', its brackets.
		n, eq, open, shut := 0, -1, 0, 0
		for ; n < len(rest) && rest[n] != ' '; n++ {
			switch rest[n] {
			case '=':
				if eq < 0 {
					eq = n
				}
			case '[':
				open++
			case ']':
				shut++
			}
		}
		tok := rest[:n]
		rest = rest[n:]
		if depth > 0 || tok[0] == '[' {
			depth = max(depth+open-shut, 0)
			continue
		}
		depth = max(open-shut, 0)
		good := true
		if eq < 0 {
			// Flags (DF, SYN …) and the fragment offset: IPv4 prints FRAG:N only for
			// non-first fragments, IPv6 prints FRAG:0 for the first one too.
			if f, isFrag := bytes.CutPrefix(tok, []byte("FRAG:")); isFrag && !haveProto {
				off, after := leadingInt(f)
				good = off >= 0 && len(after) == 0
				e.Frag = off > 0
			}
		} else {
			key, val := tok[:eq], tok[eq+1:]
			switch {
			case string(key) == "SRC" && !haveSrc:
				e.Src, good = nfAddr(val)
				haveSrc = true
			case string(key) == "DST" && !haveDst:
				e.Dst, good = nfAddr(val)
				haveDst = true
			case string(key) == "PROTO" && !haveProto:
				good = nfProto(val, e)
				haveProto = true
			case !haveProto:
				// ports, type and code come after PROTO
			case string(key) == "SPT" && !haveSpt:
				var p int
				p, good = parsePort(val)
				e.SrcPort, haveSpt = uint16(p), true
			case string(key) == "DPT" && !haveDpt:
				var p int
				p, good = parsePort(val)
				e.DstPort, haveDpt = uint16(p), true
			case e.Proto != ProtoICMP && e.Proto != ProtoICMPv6:
			case string(key) == "TYPE" && !haveType:
				var t int
				t, good = nfByte(val)
				e.ICMPType, haveType = int16(t), true
			case string(key) == "CODE" && !haveCode:
				var c int
				c, good = nfByte(val)
				e.ICMPCode, haveCode = int16(c), true
			}
		}
		if !good {
			return false
		}
		if haveSrc && haveDst && haveProto && (haveSpt && haveDpt || haveType && haveCode) {
			break // the rest (TCP flags, a quoted packet, MARK=) adds nothing
		}
	}
	if !haveSrc || !haveDst || e.Src.Is4() != e.Dst.Is4() || haveSpt != haveDpt {
		return false
	}
	e.HasPorts = haveSpt
	return true
}

// nfInOut finds "IN=%s OUT=": the index of the "IN=" and of the space before "OUT=". The
// interface name holds no space, so the "IN=" sits in the token before " OUT=" — usually at its
// start, after the prefix when UniFi glues the two. -1, -1 when there is none.
func nfInOut(line []byte) (inAt, outAt int) {
	for from := 0; ; {
		o := bytes.Index(line[from:], []byte(" OUT="))
		if o < 0 {
			return -1, -1
		}
		o += from
		tok := bytes.LastIndexByte(line[:o], ' ') + 1
		if i := bytes.Index(line[tok:o], []byte("IN=")); i >= 0 {
			return tok + i, o
		}
		from = o + 1
	}
}

// nfPrefix splits what precedes "IN=" into the syslog timestamp and the LOG prefix. After a
// timestamp comes a host and usually the "kernel:" tag; a first word that is bracketed, ends in a
// colon or touches "IN=" is the prefix itself (beats' "Jan  8 03:37:09 DENY: IN=…").
func nfPrefix(p []byte) (stamp, rule []byte) {
	rest := skipPRI(p)
	if s, r, ok := leadingStamp(p); ok {
		stamp, rest = s, r
		t1, r1 := nextToken(rest)
		switch {
		case nfKernelTag(t1):
			rest = r1
		case len(t1) == 0 || t1[0] == '[' || t1[len(t1)-1] == ':' || len(r1) == 0:
			// no host: the prefix follows the timestamp
		default:
			rest = r1 // the host
			if t2, r2 := nextToken(rest); nfKernelTag(t2) {
				rest = r2
			} else if bytes.Equal(t2, t1) {
				rest = r2 // UniFi OS sometimes writes its host name twice
			} else if string(t2) == "kernel" {
				// RFC 5424: the tag has no colon and PROCID, MSGID and STRUCTURED-DATA
				// follow, "-" when empty.
				rest = r2
				for range 3 {
					if t3, r3 := nextToken(rest); string(t3) == "-" {
						rest = r3
					}
				}
			}
		}
	} else if t1, r1 := nextToken(rest); nfKernelTag(t1) {
		rest = r1
	} else if t2, r2 := nextToken(r1); len(t1) > 0 && nfKernelTag(t2) {
		rest = r2
	}
	rest = nfSkipUptime(skipSpaces(rest))
	rule = trimRight(skipSpaces(rest))
	if len(rule) == 0 {
		rule = nil
	}
	return stamp, rule
}

// nfKernelTag reports whether tok is the syslog tag of kernel messages: "kernel:" (rsyslog,
// journalctl) or "kernel[0]:".
func nfKernelTag(tok []byte) bool {
	if string(tok) == "kernel:" {
		return true
	}
	pid, ok := bytes.CutPrefix(tok, []byte("kernel["))
	if !ok {
		return false
	}
	pid, ok = bytes.CutSuffix(pid, []byte("]:"))
	return ok && isDigits(pid)
}

// nfSkipUptime drops a printk time "[16571.459614] " or "[  307.757925] " (right-aligned).
func nfSkipUptime(b []byte) []byte {
	if len(b) == 0 || b[0] != '[' {
		return b
	}
	i := 1
	for i < len(b) && b[i] == ' ' {
		i++
	}
	secs, after := leadingInt(b[i:])
	if secs < 0 || len(after) < 2 || after[0] != '.' {
		return b
	}
	frac, after := leadingInt(after[1:])
	if frac < 0 || len(after) == 0 || after[0] != ']' {
		return b
	}
	return skipSpaces(after[1:])
}

// Verdicts that a prefix names by a letter (Vyatta, EdgeOS, UniFi). They are handed out in
// Events and must never be written to.
var (
	actionAccept = []byte("ACCEPT")
	actionDrop   = []byte("DROP")
	actionReject = []byte("REJECT")
)

// nfVerdict returns the verdict the LOG prefix names: the letter of a Vyatta-style bracket (see
// nfLetter), else the first verdict word, pointing into the prefix, else actionLog.
func nfVerdict(rule []byte) []byte {
	if v := nfLetter(rule); v != nil {
		return v
	}
	for _, w := range [...]string{"DROP", "REJECT", "BLOCK", "DENY", "ACCEPT", "ALLOW", "AUDIT", "LIMIT"} {
		if i := nfIndexFold(rule, w); i >= 0 {
			return rule[i : i+len(w)]
		}
	}
	return actionLog
}

// nfIndexFold is bytes.Index for an upper-case ASCII word, ignoring ASCII case in s.
func nfIndexFold(s []byte, word string) int {
	for i := 0; i+len(word) <= len(s); i++ {
		j := 0
		for j < len(word) {
			c := s[i+j]
			if c >= 'a' && c <= 'z' {
				c -= 'a' - 'A'
			}
			if c != word[j] {
				break
			}
			j++
		}
		if j == len(word) {
			return i
		}
	}
	return -1
}

// nfProto sets e.Proto (and ProtoNum) from a PROTO= value.
func nfProto(v []byte, e *Event) bool {
	switch string(v) {
	case "TCP":
		e.Proto = ProtoTCP
	case "UDP", "UDPLITE":
		e.Proto = ProtoUDP
	case "ICMP":
		e.Proto = ProtoICMP
	case "ICMPv6":
		e.Proto = ProtoICMPv6
	case "AH":
		e.Proto, e.ProtoNum = ProtoOther, 51
	case "ESP":
		e.Proto, e.ProtoNum = ProtoOther, 50
	default:
		n, ok := nfByte(v)
		if !ok {
			return false
		}
		e.Proto, e.ProtoNum = ProtoOther, n
	}
	return true
}

// nfByte reads a decimal number from 0 to 255 that fills v.
func nfByte(v []byte) (int, bool) {
	n, after := leadingInt(v)
	return n, n >= 0 && n <= 255 && len(after) == 0
}

// nfAddr reads a SRC= or DST= value without allocating for what the kernel prints: a dotted quad,
// or %pI6's full form of eight four-digit groups ("2001:0db8:0000:…:0001"). Any other IPv6
// spelling (from another producer) goes through netip.ParseAddr, which allocates.
func nfAddr(b []byte) (netip.Addr, bool) {
	if bytes.IndexByte(b, ':') < 0 {
		return parseIPv4(b)
	}
	var a [16]byte
	group, val, digits := 0, 0, 0
	for _, c := range b {
		var h int
		switch {
		case c >= '0' && c <= '9':
			h = int(c - '0')
		case c >= 'a' && c <= 'f':
			h = int(c-'a') + 10
		case c >= 'A' && c <= 'F':
			h = int(c-'A') + 10
		case c == ':' && digits > 0 && group < 7:
			a[2*group], a[2*group+1] = byte(val>>8), byte(val)
			group, val, digits = group+1, 0, 0
			continue
		default:
			return nfAddrSlow(b)
		}
		if digits == 4 {
			return nfAddrSlow(b)
		}
		val, digits = val<<4|h, digits+1
	}
	if group != 7 || digits == 0 {
		return nfAddrSlow(b)
	}
	a[14], a[15] = byte(val>>8), byte(val)
	return netip.AddrFrom16(a), true
}

func nfAddrSlow(b []byte) (netip.Addr, bool) {
	a, err := netip.ParseAddr(string(b))
	return a, err == nil
}

// nfLetter reads the verdict letter of a bracketed prefix. Vyatta and EdgeOS (and the UniFi
// gateways built on them) log "[$chain-$rule-$letter]", the letter being the first of the rule's
// action upper-cased (get_log_prefix in vyatta-cfg-firewall): "[WAN_LOCAL-default-D]",
// "[WAN_OUT-2000-A]". UniFi OS moves it between the chain and the rule: "[LAN_IN-D-4001]". A, D
// and R are accept, drop and reject; other letters (M for modify) and UniFi's "RET" (return)
// name no verdict, so nil.
//
// The bracket may come after a word: UniFi OS sometimes repeats the host name, which then ends up
// in front of the prefix ("UDMP UDMP [WAN_LOCAL-D-2147483647] DESCR=…").
func nfLetter(rule []byte) []byte {
	open := bytes.IndexByte(rule, '[')
	if open < 0 || (open > 0 && rule[open-1] != ' ') {
		return nil
	}
	rule = rule[open:]
	end := bytes.IndexByte(rule, ']')
	if end < 3 {
		return nil
	}
	parts := rule[1:end]
	first := true
	for len(parts) > 0 {
		part := parts
		i := bytes.IndexByte(parts, '-')
		if i >= 0 {
			part, parts = parts[:i], parts[i+1:]
		} else {
			parts = nil
		}
		// The chain comes first: "[A-…]" would be a chain called A.
		if !first && len(part) == 1 {
			switch part[0] {
			case 'A':
				return actionAccept
			case 'D':
				return actionDrop
			case 'R':
				return actionReject
			}
		}
		first = false
	}
	return nil
}

// pveHeader reads the envelope of Proxmox VE's pve-firewall.log, as pvefw-logger writes it
// (src/pvefw-logger.c): "<VMID> <LOGLEVEL> <CHAIN> <dd/Mon/yyyy:HH:MM:SS> <+zzzz> <MSG>", where
// CHAIN is "-" for the logger's own messages. stamp is the time with its zone.
func pveHeader(line []byte) (chain, stamp, msg []byte, ok bool) {
	vmid, rest := nextToken(line)
	if !isDigits(vmid) || len(rest) == 0 || rest[0] != ' ' {
		return nil, nil, nil, false
	}
	level, rest := nextToken(rest)
	if len(level) != 1 || level[0] < '0' || level[0] > '7' || len(rest) == 0 {
		return nil, nil, nil, false
	}
	chain, rest = nextToken(rest)
	rest = skipSpaces(rest)
	// 14/Feb/2023:22:45:31 +0100
	if len(rest) < 26 || !isDigits(rest[0:2]) || rest[2] != '/' || !isMonth(rest[3:6]) || rest[6] != '/' ||
		!isDigits(rest[7:11]) || rest[11] != ':' || !isClock(rest[12:20]) || rest[20] != ' ' ||
		(rest[21] != '+' && rest[21] != '-') || !isDigits(rest[22:26]) || (len(rest) > 26 && rest[26] != ' ') {
		return nil, nil, nil, false
	}
	msg = rest[26:]
	if len(msg) > 0 {
		msg = msg[1:]
	}
	return chain, rest[:26], msg, len(chain) > 0
}

// parsePVE reads the message of a pve-firewall.log line: the rule's log prefix ("policy DROP: ",
// "ACCEPT: "), then "IN=%s " and "OUT=%s " each only when the device is known, then the packet in
// netfilter's words. Rule is the chain ("tap100i0-IN", "PVEFW-HOST-IN"), which says which VM or
// host rule set logged it; the prefix only repeats the verdict. A line of chain "-" that holds
// no packet is the logger's own status message.
func parsePVE(chain, stamp, msg []byte, e *Event) (ok, mine bool) {
	e.Format, e.Kind, e.Stamp = FormatNetfilter, KindPacket, stamp
	at := -1
	for i := 0; i < len(msg); i++ {
		if (i == 0 || msg[i-1] == ' ') && (bytes.HasPrefix(msg[i:], []byte("IN=")) || bytes.HasPrefix(msg[i:], []byte("OUT="))) {
			at = i
			break
		}
	}
	prefix := trimRight(msg)
	if at >= 0 {
		prefix = trimRight(msg[:at])
	}
	if at < 0 {
		if string(chain) == "-" && !bytes.Contains(msg, []byte("SRC=")) {
			e.Kind = KindOther
			return true, true
		}
		return false, true
	}
	e.Action = nfVerdict(prefix)
	e.Rule = chain
	if string(chain) == "-" {
		e.Rule = prefix
	}
	if len(e.Rule) == 0 {
		e.Rule = nil
	}
	rest := msg[at:]
	var in, out []byte
	if v, ok := bytes.CutPrefix(rest, []byte("IN=")); ok {
		in, rest = nextToken(v)
		rest = skipSpaces(rest)
	}
	if v, ok := bytes.CutPrefix(rest, []byte("OUT=")); ok {
		out, rest = nextToken(v)
	}
	if !nfBody(in, out, rest, e) {
		return false, true
	}
	// A VM's traffic crosses its firewall bridge, so both devices are set and the packet would
	// count as forwarded; the chain says which way it went: "tap100i0-IN" into the guest,
	// "PVEFW-HOST-OUT" out of the host.
	switch {
	case bytes.HasSuffix(chain, []byte("-IN")):
		e.Dir = DirIn
	case bytes.HasSuffix(chain, []byte("-OUT")):
		e.Dir = DirOut
	}
	return true, true
}
