package fwlog

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// The ipfw fast path. Most lines of a large ipfw log have one shape:
//
//	STAMP HOST kernel: ipfw: RULE ACTION TCP|UDP A.B.C.D:P A.B.C.D:P in|out via IF
//
// ipfwFast reads exactly that shape straight into what Summary counts (packed IPv4 endpoints,
// no Event, no netip values), and refuses anything else, which then takes the general path
// (ParseIPFW and count). For every line it accepts, ParseIPFW would give the same fields: the
// fuzz test FuzzIPFWFast holds it to that, so the report cannot depend on which path a line took.

// fastLine is what ipfwFast read from a line. Slices point into the line.
type fastLine struct {
	stamp, rule, action, iface []byte
	proto                      Proto  // ProtoTCP or ProtoUDP
	dir                        Dir    // DirIn or DirOut
	src, dst                   uint64 // address<<16 | port, as in connKey4
	untagged                   bool   // (when not ok) the line holds no "ipfw: " at all
}

// ipfwFast reads line (already trimmed on the right) when it has the common shape; ok is false
// for any other line, which says nothing about whether the line is valid.
func ipfwFast(line []byte) (l fastLine, ok bool) {
	i := bytes.Index(line, []byte("ipfw: "))
	if i < 0 {
		l.untagged = true
		return l, false
	}
	if i == 0 || (line[i-1] != ' ' && line[i-1] != '\t') {
		return l, false // no tag (or ip6fw's), or a tag glued to a word: the general path decides
	}
	rest := skipSpaces(line[i+len("ipfw: "):])
	if len(rest) == 0 || rest[0] < '0' || rest[0] > '9' {
		return l, false // "limit", "Stealth Mode", Refuse's rule -1, or malformed
	}
	end := bytes.IndexByte(rest, ' ')
	if end <= 0 || !isDigits(rest[:end]) {
		return l, false
	}
	l.rule, rest = rest[:end], rest[end+1:]
	// The action is everything up to the first protocol token, as ParseIPFW reads it.
	actStart := rest
	var proto []byte
	for {
		tok, after := fastToken(rest)
		if len(tok) == 0 {
			return l, false
		}
		if isIPFWProto(tok) {
			if n := len(actStart) - len(rest); n > 0 {
				l.action = trimRight(actStart[:n])
			}
			proto, rest = tok, after
			break
		}
		rest = after
	}
	switch string(proto) {
	case "TCP":
		l.proto = ProtoTCP
	case "UDP":
		l.proto = ProtoUDP
	default:
		return l, false
	}
	if len(l.action) == 0 {
		return l, false
	}
	var src, dst []byte
	src, rest = fastToken(rest)
	dst, rest = fastToken(rest)
	if l.src, l.dst, ok = endpoint4Pair(src, dst); !ok {
		return l, false
	}
	rest = skipSpaces(rest)
	switch {
	case bytes.HasPrefix(rest, []byte("in via ")):
		l.dir, rest = DirIn, rest[len("in via "):]
	case bytes.HasPrefix(rest, []byte("out via ")):
		l.dir, rest = DirOut, rest[len("out via "):]
	default:
		return l, false
	}
	l.iface, rest = fastToken(rest)
	if len(l.iface) == 0 || len(skipSpaces(rest)) > 0 {
		return l, false
	}
	if s, ok := fastStamp(line); ok {
		l.stamp = s
	}
	return l, true
}

// fastStamp is the timestamp leadingStamp finds at the start of line. The common shape, a BSD
// syslog stamp with a day of one or two digits and no year, priority or fraction of a second
// ("Nov  9 00:00:01 ", "Nov 19 00:00:01 "), is checked at fixed offsets; any other line takes
// leadingStamp. FuzzFastStamp holds it to leadingStamp.
func fastStamp(line []byte) ([]byte, bool) {
	if len(line) >= 16 && line[3] == ' ' && line[6] == ' ' && line[15] == ' ' && line[5]-'0' <= 9 &&
		(line[4] == ' ' || line[4]-'0' <= 9) && isMonth(line[0:3]) && isClock(line[7:15]) {
		return line[:15], true
	}
	s, _, ok := leadingStamp(line)
	return s, ok
}

// fastToken is nextToken with the token's end found eight bytes at a time (indexBlank).
func fastToken(b []byte) (tok, rest []byte) {
	b = skipSpaces(b)
	if i := indexBlank(b); i >= 0 {
		return b[:i], b[i:]
	}
	return b, nil
}

// indexBlank is the index of the first space or tab in b, or -1. It tests eight bytes at a time
// for either (the "has a zero byte" test on b xor each), so that the end of a token of up to
// eight bytes costs one well-predicted branch rather than one per byte.
func indexBlank(b []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		sp, tab := w^0x2020202020202020, w^0x0909090909090909
		// The lowest bit set is the first zero byte of sp or tab: the test can set bits above
		// a zero byte too, never below one.
		if m := ((sp-ones)&^sp | (tab-ones)&^tab) & highs; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(b); i++ {
		if b[i] == ' ' || b[i] == '\t' {
			return i
		}
	}
	return -1
}

// endpoint4 reads "A.B.C.D:P" as parseEndpoint does (no leading zeros, each part ≤ 255, port ≤
// 65535) into address<<16 | port. It reads each part four bytes at a time without a branch on its
// length: the lengths of the parts and ports of real logs are as good as random, and a parser
// that loops byte by byte loses more to mispredicted branches than it spends reading. An
// endpoint too short for that (under 12 bytes) takes endpoint4Bytes, which the fuzz test
// FuzzEndpoint4 holds it to.
func endpoint4(b []byte) (uint64, bool) {
	if len(b) < 12 {
		return endpoint4Bytes(b)
	}
	var w uint64
	i := 0
	for part := range 4 {
		// The part is one to three digits followed by a '.' (a ':' after the last part): four
		// bytes hold it and its end, and the bytes are there as long as the part does not start
		// past len(b)-4; no part starts after byte 12, and a longer endpoint has its port after it.
		if i+4 > len(b) {
			return endpoint4Bytes(b)
		}
		x := binary.LittleEndian.Uint32(b[i:]) - 0x30303030
		// A byte is a digit when x's byte is at most 9: then neither it nor it+0x76 sets bit 7.
		notDigit := (x | (x + 0x76767676)) & 0x80808080
		n := bits.TrailingZeros32(notDigit) >> 3 // digits before the first other byte (4: none)
		sep := byte('.')
		if part == 3 {
			sep = ':'
		}
		if n == 0 || n == 4 || b[i+n] != sep {
			return 0, false
		}
		// The n digits, right-aligned in three bytes (leading zero bytes where n < 3).
		d := (x & (1<<(8*n) - 1)) << (8 * (3 - n))
		val := (d&0xff)*100 + (d>>8&0xff)*10 + d>>16&0xff
		if val > 255 || (n > 1 && b[i] == '0') {
			return 0, false
		}
		w = w<<8 | uint64(val)
		i += n + 1
	}
	port, ok := port4(b[i:])
	if !ok {
		return 0, false
	}
	return w<<16 | port, true
}

// endpoint4Pair is endpoint4 of a and of b, ok when both are. It reads the two address parts by
// part in one loop: each part's position depends on the length of the one before, and two such
// chains side by side let the processor overlap their latencies.
func endpoint4Pair(a, b []byte) (wa, wb uint64, ok bool) {
	if len(a) < 16 || len(b) < 16 {
		// Too short for every part's four bytes to be there (the general reader checks).
		if wa, ok = endpoint4(a); !ok {
			return 0, 0, false
		}
		if wb, ok = endpoint4(b); !ok {
			return 0, 0, false
		}
		return wa, wb, true
	}
	var ia, ib int
	for part := range 4 {
		// No part starts after byte 12: with 16 bytes, its four are there.
		xa := binary.LittleEndian.Uint32(a[ia:]) - 0x30303030
		xb := binary.LittleEndian.Uint32(b[ib:]) - 0x30303030
		na := bits.TrailingZeros32((xa|(xa+0x76767676))&0x80808080) >> 3
		nb := bits.TrailingZeros32((xb|(xb+0x76767676))&0x80808080) >> 3
		sep := byte('.')
		if part == 3 {
			sep = ':'
		}
		if na == 0 || na == 4 || a[ia+na] != sep || nb == 0 || nb == 4 || b[ib+nb] != sep {
			return 0, 0, false
		}
		da := (xa & (1<<(8*na) - 1)) << (8 * (3 - na))
		db := (xb & (1<<(8*nb) - 1)) << (8 * (3 - nb))
		va := (da&0xff)*100 + (da>>8&0xff)*10 + da>>16&0xff
		vb := (db&0xff)*100 + (db>>8&0xff)*10 + db>>16&0xff
		if va > 255 || (na > 1 && a[ia] == '0') || vb > 255 || (nb > 1 && b[ib] == '0') {
			return 0, 0, false
		}
		wa, wb = wa<<8|uint64(va), wb<<8|uint64(vb)
		ia, ib = ia+na+1, ib+nb+1
	}
	pa, okA := portEnd(a, ia)
	pb, okB := portEnd(b, ib)
	if !okA || !okB {
		return 0, 0, false
	}
	return wa<<16 | pa, wb<<16 | pb, true
}

// port4 reads the port after an endpoint's ':': digits (leading zeros allowed, as leadingInt
// allows them), at most 65535.
func port4(p []byte) (uint64, bool) {
	if len(p) == 0 {
		return 0, false
	}
	port := uint64(0)
	for _, c := range p {
		if c-'0' > 9 {
			return 0, false
		}
		if port = port*10 + uint64(c-'0'); port > 65535 {
			return 0, false
		}
	}
	return port, true
}

// portEnd is port4(tok[start:]) for a port that ends tok and follows a ':' at tok[start-1]. A
// port of up to eight digits is read in one eight-byte word, the last eight bytes of tok, without
// a branch on its length (which, as the parts' lengths, is as good as random in real logs).
// The bytes below the port are masked off; the ':' before it stops any borrow or carry of theirs
// from reaching it. FuzzEndpoint4Pair holds it to port4.
func portEnd(tok []byte, start int) (uint64, bool) {
	n := len(tok) - start
	if n < 1 || n > 8 || len(tok) < 8 || start < 1 || tok[start-1] != ':' {
		return port4(tok[start:])
	}
	x := binary.LittleEndian.Uint64(tok[len(tok)-8:]) - 0x3030303030303030
	keep := ^uint64(0) << (8 * (8 - n)) // the port's bytes: the top n
	if (x|(x+0x7676767676767676))&0x8080808080808080&keep != 0 {
		return 0, false // a byte that is not a digit
	}
	// The digits, most significant in the lowest byte, as a number (leading zero bytes below).
	x &= keep
	x = (x*10 + x>>8) & 0x00ff00ff00ff00ff
	x = (x*100 + x>>16) & 0x0000ffff0000ffff
	x = (x*10000 + x>>32) & 0xffffffff
	if x > 65535 {
		return 0, false
	}
	return x, true
}

// endpoint4Bytes is endpoint4 a byte at a time.
func endpoint4Bytes(b []byte) (uint64, bool) {
	var w uint64
	i := 0
	for part := range 4 {
		if part > 0 {
			if i >= len(b) || b[i] != '.' {
				return 0, false
			}
			i++
		}
		start, val := i, uint64(0)
		for i < len(b) && i-start < 3 && b[i] >= '0' && b[i] <= '9' {
			val = val*10 + uint64(b[i]-'0')
			i++
		}
		if n := i - start; n == 0 || val > 255 || (n > 1 && b[start] == '0') {
			return 0, false
		}
		w = w<<8 | val
	}
	if i >= len(b) || b[i] != ':' {
		return 0, false
	}
	port, rest := leadingInt(b[i+1:])
	if port < 0 || port > 65535 || len(rest) > 0 {
		return 0, false
	}
	return w<<16 | uint64(port), true
}

// lineIPFW counts a line ipfwFast read, as Line and count count the Event ParseIPFW makes of it.
func (s *Summary) lineIPFW(l *fastLine, seq int64, tail []byte) {
	s.Parsed++
	s.ByFormat[FormatIPFW]++
	if len(l.stamp) > 0 {
		s.seen(l.stamp, seq)
	}
	s.lastPacked = false
	s.protos[l.proto]++
	s.countRule(FormatIPFW, l.rule, l.dir)
	s.countIface(l.iface, l.dir)
	a := s.action(FormatIPFW, l.action)
	inside, outside := l.dst, l.src
	dstPort := uint16(l.dst)
	if l.dir == DirOut {
		inside, outside = l.src, l.dst
	}
	if a < 1<<12 {
		k := connKey4{inside | uint64(a)<<48 | uint64(l.proto)<<60, outside}
		s.lastPacked, s.lastKey = true, k
		s.addPacked(k, l.dir)
	} else {
		s.addConn(connKey{a, l.proto, unpackEndpoint(inside), unpackEndpoint(outside)}, l.dir)
	}
	s.lastSide = s.addSide(a, l.proto, true, dstPort, l.dir)
	if tail != nil {
		s.remember(tail, l.proto, l.dir, true, true)
	}
}

// unpackEndpoint is the AddrPort of an address<<16 | port word.
func unpackEndpoint(w uint64) netip.AddrPort {
	return connKey4{inside: w}.unpack().inside
}
