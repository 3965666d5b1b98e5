package fwlog

import (
	"bytes"
	"net/netip"
)

// winFields is the column list Windows Firewall writes in pfirewall.log's "#Fields:" header,
// the same on every version since XP SP2 (W3C extended log format). Windows XP's Internet
// Connection Firewall stops after "info"; Windows 10 1809 and later append "pid".
const winFields = "date time action protocol src-ip dst-ip src-port dst-port size tcpflags tcpsyn tcpack tcpwin icmptype icmpcode info"

// ParseWindows reads a line of the Windows Firewall log (pfirewall.log, one file per profile or
// shared, under %windir%\System32\LogFiles\Firewall):
//
//	2019-11-06 12:35:19 DROP UDP 192.0.2.7 224.0.0.251 5353 5353 59 - - - - - - - RECEIVE
//
// with the columns of winFields, then "path" (SEND, RECEIVE, FORWARD) and "pid" when present;
// "-" marks an empty column. Actions are ALLOW and DROP, and on older systems OPEN,
// OPEN-INBOUND and CLOSE (connection records) and INFO-EVENTS-LOST (the driver lost events; its
// "info" column holds how many). The header lines ("#Version: 1.5", "#Software: Microsoft
// Windows Firewall", "#Time Format: Local", "#Fields: …") are the format's lines with nothing to
// count; a "#Fields:" header with other columns is malformed, because lines are read in the
// standard column order (a summary reads chunks of a file in parallel and cannot carry a header
// to the lines after it). The file is UTF-8 with a byte order mark before the first header on
// recent systems and lines end in CRLF.
//
// The log names no rule and no interface. Stamp is "2019-11-06 12:35:19", local time.
func ParseWindows(line []byte, e *Event) (ok, mine bool) {
	line = trimRight(bytes.TrimPrefix(line, []byte("\xef\xbb\xbf")))
	if len(line) > 0 && line[0] == '#' {
		return winHeader(line, e)
	}
	if len(line) < 20 || !isDigits(line[0:4]) || line[4] != '-' || !isDigits(line[5:7]) || line[7] != '-' ||
		!isDigits(line[8:10]) || line[10] != ' ' || !isClock(line[11:19]) || line[19] != ' ' {
		return false, false
	}
	var f [18][]byte
	n := 0
	rest := line
	for ; len(rest) > 0 && n < len(f); n++ {
		f[n], rest = nextToken(rest)
		rest = skipSpaces(rest)
	}
	if n < 3 || !winAction(f[2]) {
		return false, false
	}
	if len(rest) > 0 {
		e.Format = FormatWindows
		return false, true // more columns than Windows writes
	}
	e.Format, e.Kind, e.Stamp, e.Action = FormatWindows, KindPacket, line[:19], f[2]
	if string(f[2]) == "INFO-EVENTS-LOST" {
		e.Kind = KindOther
		return true, true
	}
	if n < 16 {
		return false, true
	}
	var ok1, ok2 bool
	if e.Src, ok1 = winAddr(f[4]); !ok1 {
		return false, true
	}
	if e.Dst, ok2 = winAddr(f[5]); !ok2 || e.Src.Is4() != e.Dst.Is4() {
		return false, true
	}
	switch string(f[3]) {
	case "TCP", "6":
		e.Proto = ProtoTCP
	case "UDP", "17":
		e.Proto = ProtoUDP
	case "ICMP", "1":
		e.Proto = ProtoICMP
	case "ICMPv6", "58":
		e.Proto = ProtoICMPv6
	default:
		num, ok := nfByte(f[3])
		if !ok {
			return false, true
		}
		e.Proto, e.ProtoNum = ProtoOther, num
	}
	if e.Proto == ProtoTCP || e.Proto == ProtoUDP {
		sp, ok1 := parsePort(f[6])
		dp, ok2 := parsePort(f[7])
		if !ok1 || !ok2 {
			return false, true
		}
		e.SrcPort, e.DstPort, e.HasPorts = uint16(sp), uint16(dp), true
	}
	if e.Proto == ProtoICMP || e.Proto == ProtoICMPv6 {
		if t, ok := nfByte(f[13]); ok {
			e.ICMPType = int16(t)
		}
		if c, ok := nfByte(f[14]); ok {
			e.ICMPCode = int16(c)
		}
	}
	if n > 16 {
		switch string(f[16]) {
		case "RECEIVE":
			e.Dir = DirIn
		case "SEND":
			e.Dir = DirOut
		case "FORWARD":
			e.Dir = DirFwd
		}
	}
	return true, true
}

func winAction(a []byte) bool {
	switch string(a) {
	case "ALLOW", "DROP", "OPEN", "OPEN-INBOUND", "CLOSE", "INFO-EVENTS-LOST":
		return true
	}
	return false
}

// winHeader reads a "#…" line: the format's own header, malformed when its columns are not the
// standard ones, or not the format's at all.
func winHeader(line []byte, e *Event) (ok, mine bool) {
	switch {
	case bytes.HasPrefix(line, []byte("#Fields: ")):
		cols := line[len("#Fields: "):]
		if !bytes.HasPrefix(cols, []byte("date time action ")) {
			return false, false // another W3C log (IIS, …)
		}
		e.Format, e.Kind = FormatWindows, KindOther
		if rest, std := bytes.CutPrefix(cols, []byte(winFields)); std {
			switch string(rest) {
			case "", " path", " path pid":
				return true, true
			}
		}
		return false, true
	case bytes.HasPrefix(line, []byte("#Software: Microsoft Windows Firewall")),
		bytes.HasPrefix(line, []byte("#Software: Microsoft Internet Connection Firewall")),
		string(line) == "#Version: 1.5", string(line) == "#Verson: 1.0", // XP's spelling
		bytes.HasPrefix(line, []byte("#Time Format: ")):
		e.Format, e.Kind = FormatWindows, KindOther
		return true, true
	}
	return false, false
}

// winAddr reads an address as Windows prints it: a dotted quad or RFC 5952 IPv6.
func winAddr(b []byte) (netip.Addr, bool) {
	if bytes.IndexByte(b, ':') < 0 {
		return parseIPv4(b)
	}
	return nfAddrSlow(b)
}
