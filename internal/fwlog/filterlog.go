package fwlog

import (
	"bytes"
	"net/netip"
)

// ParseFilterlog reads a pfSense or OPNsense filter log line: the "filterlog" program's
// comma-separated record of one pf decision, as Netgate's "Raw Filter Log Format" documents it
// (docs.netgate.com, monitoring/raw-filter-log-format):
//
//	rule,subrule,anchor,tracker,interface,reason,action,direction,ipversion,
//	IPv4: tos,ecn,ttl,id,offset,flags,protoid,prototext,
//	IPv6: class,flowlabel,hoplimit,prototext,protoid,
//	both: length,src,dst,
//	TCP:  srcport,dstport,datalength,tcpflags,seq,ack,window,urg,options
//	UDP:  srcport,dstport,datalength
//	ICMP: type[,type-specific fields]
//
// (IPv6 puts the protocol's name before its number, IPv4 after.) The envelopes are those the two
// systems write: BSD syslog "Feb 20 09:13:50 host filterlog[8231]: " (pfSense; the host is left
// out when it forwards to a remote syslog), RFC 5424 "<134>1 2025-11-06T11:32:42+00:00 host
// filterlog 92653 - [meta sequenceId="3"] " (OPNsense's own files, pfSense's optional remote
// format), a priority in front of either, or the bare record.
//
// Rule is the tracker, the ID the rule keeps across reloads (pfSense stores it with the rule,
// OPNsense derives it from the rule), or the rule number when the tracker is empty. Action is
// pf's: "pass", "block" (and the rarer "rdr", "nat", "binat", "scrub"). A non-first IPv4 fragment
// (offset > 0) sets Frag and carries no ports. ICMP's type is a word ("request", "unreachport");
// the ones with a fixed number set ICMPType (and ICMPCode where the word implies one).
//
// A line is filterlog's when it carries the "filterlog" tag; one whose record is short or holds
// an unreadable field is malformed.
func ParseFilterlog(line []byte, e *Event) (ok, mine bool) {
	rec, stamp, isMine := flEnvelope(line)
	if !isMine {
		return false, false
	}
	e.Format, e.Kind, e.Stamp = FormatFilterlog, KindPacket, stamp
	return flRecord(rec, e), true
}

// flEnvelope finds the "filterlog" tag and returns the CSV record after it, and the timestamp
// before it when the line starts with one.
func flEnvelope(line []byte) (rec, stamp []byte, mine bool) {
	const tag = "filterlog"
	at := 0
	for {
		i := bytes.Index(line[at:], []byte(tag))
		if i < 0 {
			return nil, nil, false
		}
		i += at
		if i == 0 || line[i-1] == ' ' {
			rest := line[i+len(tag):]
			if r, ok := flAfterTag(rest); ok {
				if s, _, ok := leadingStamp(line); ok {
					stamp = s
				}
				return r, stamp, true
			}
		}
		at = i + len(tag)
	}
}

// flAfterTag skips what follows the tag up to the record: ": " (BSD), "[pid]: " (BSD with a
// pid), or " procid msgid structured-data " (RFC 5424, each field "-" when empty).
func flAfterTag(rest []byte) ([]byte, bool) {
	if len(rest) > 0 && rest[0] == '[' {
		end := bytes.IndexByte(rest, ']')
		if end < 0 || !isDigits(rest[1:end]) {
			return nil, false
		}
		rest = rest[end+1:]
	}
	if r, ok := bytes.CutPrefix(rest, []byte(":")); ok {
		return skipSpaces(r), true
	}
	if len(rest) == 0 || rest[0] != ' ' {
		return nil, false
	}
	// RFC 5424: PROCID MSGID SD.
	_, rest = nextToken(rest)
	_, rest = nextToken(rest)
	rest = skipSpaces(rest)
	switch {
	case len(rest) > 0 && rest[0] == '-':
		rest = rest[1:]
	case len(rest) > 0 && rest[0] == '[':
		// SD-ELEMENTs follow each other with no space; a ']' inside a quoted value is escaped.
		for len(rest) > 0 && rest[0] == '[' {
			i, quoted := 1, false
			for ; i < len(rest); i++ {
				c := rest[i]
				if c == '\\' {
					i++
					continue
				}
				if c == '"' {
					quoted = !quoted
				}
				if c == ']' && !quoted {
					break
				}
			}
			if i >= len(rest) {
				return nil, false
			}
			rest = rest[i+1:]
		}
	default:
		return nil, false
	}
	if len(rest) > 0 && rest[0] != ' ' {
		return nil, false
	}
	return skipSpaces(rest), true
}

// csvFields walks a comma-separated record without allocating.
type csvFields struct{ rest []byte }

// next returns the next field; ok is false when the record has ended.
func (c *csvFields) next() (field []byte, ok bool) {
	if c.rest == nil {
		return nil, false
	}
	// Fields are short, often empty: a plain loop beats bytes.IndexByte's call and setup.
	for i, b := range c.rest {
		if b == ',' {
			field, c.rest = c.rest[:i], c.rest[i+1:]
			return field, true
		}
	}
	field, c.rest = c.rest, nil
	return field, true
}

// skip drops n fields; false when the record ends first.
func (c *csvFields) skip(n int) bool {
	for range n {
		if _, ok := c.next(); !ok {
			return false
		}
	}
	return true
}

// flRecord reads the CSV record.
func flRecord(rec []byte, e *Event) bool {
	rec = trimRight(rec)
	c := csvFields{rest: rec}
	var f [9][]byte
	for i := range f {
		v, ok := c.next()
		if !ok {
			return false
		}
		f[i] = v
	}
	number, tracker, iface, action, dir, version := f[0], f[3], f[4], f[6], f[7], f[8]
	if !isDigits(number) || len(action) == 0 || len(iface) == 0 {
		return false
	}
	e.Rule = number
	if len(tracker) > 0 {
		e.Rule = tracker
	}
	e.Action, e.Iface = action, iface
	switch string(dir) {
	case "in":
		e.Dir = DirIn
	case "out":
		e.Dir = DirOut
	default:
		return false
	}

	// The protocol's number decides; its name ("tcp" for IPv4, "TCP" or "tcp" for IPv6) is
	// skipped.
	var protoID []byte
	var ok bool
	switch string(version) {
	case "4":
		// tos, ecn, ttl, id, offset, flags, protoid, prototext
		var off []byte
		if !c.skip(4) {
			return false
		}
		if off, ok = c.next(); !ok || !c.skip(1) {
			return false
		}
		if protoID, ok = c.next(); !ok || !c.skip(1) {
			return false
		}
		n, after := leadingInt(off)
		if n < 0 || len(after) > 0 {
			return false
		}
		e.Frag = n > 0
	case "6":
		// class, flowlabel, hoplimit, prototext, protoid
		if !c.skip(4) {
			return false
		}
		if protoID, ok = c.next(); !ok {
			return false
		}
	default:
		return false
	}
	// length, src, dst
	if !c.skip(1) {
		return false
	}
	src, ok1 := c.next()
	dst, ok2 := c.next()
	if !ok1 || !ok2 {
		return false
	}
	if e.Src, ok = flAddr(src, version[0] == '6'); !ok {
		return false
	}
	if e.Dst, ok = flAddr(dst, version[0] == '6'); !ok {
		return false
	}
	num, ok := nfByte(protoID)
	if !ok {
		return false
	}
	if e.Proto = pfProtoNum(num); e.Proto == ProtoOther {
		e.ProtoNum = num
		return true
	}
	if e.Frag {
		return true
	}
	switch e.Proto {
	case ProtoTCP, ProtoUDP:
		sp, ok1 := c.next()
		dp, ok2 := c.next()
		if !ok1 || !ok2 {
			return false
		}
		s, ok1 := parsePort(sp)
		d, ok2 := parsePort(dp)
		if !ok1 || !ok2 {
			return false
		}
		e.SrcPort, e.DstPort, e.HasPorts = uint16(s), uint16(d), true
	case ProtoICMP:
		// The type word; a record cut short after the addresses still counts.
		if t, ok := c.next(); ok {
			e.ICMPType, e.ICMPCode = flICMP(t)
		}
	}
	return true
}

// flAddr reads an address of the family the record's IP version names.
func flAddr(b []byte, v6 bool) (netip.Addr, bool) {
	if !v6 {
		return parseIPv4(b)
	}
	if bytes.IndexByte(b, ':') < 0 {
		return netip.Addr{}, false
	}
	a, ok := nfAddrSlow(b)
	return a, ok && a.Is6()
}

// flICMP maps filterlog's ICMP type words (its print of struct icmp) to type and code; -1 where
// the word does not fix them.
func flICMP(w []byte) (typ, code int16) {
	switch string(w) {
	case "reply":
		return 0, 0
	case "unreach":
		return 3, -1
	case "unreachproto":
		return 3, 2
	case "unreachport":
		return 3, 3
	case "needfrag":
		return 3, 4
	case "redirect":
		return 5, -1
	case "request":
		return 8, 0
	case "router_advertisement":
		return 9, -1
	case "router_solicitation":
		return 10, 0
	case "timexceed", "timeexceed":
		return 11, -1
	case "paramprob":
		return 12, -1
	case "tstamp":
		return 13, 0
	case "tstampreply":
		return 14, 0
	case "maskreq":
		return 17, 0
	case "maskreply":
		return 18, 0
	}
	return -1, -1
}
