package fwlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"strings"
)

// alfStealth starts every Stealth Mode message: socketfilterfw's counted one and the xnu kernel's
// (bsd/netinet/tcp_input.c, udp_usrreq.c; reference logs.md §1.1).
const alfStealth = "Stealth Mode connection attempt to"

// ParseALF reads a macOS Application Firewall line (reference logs.md §3) in any of three shapes.
//
// /var/log/appfirewall.log (10.5 … 10.12), "Mmm dd hh:mm:ss host socketfilterfw[pid] <Level>: msg"
// or the older tag "Firewall[pid]: msg", where msg is
//   - "app: Allow|Deny TCP|UDP LISTEN|CONNECT (in:N out:M)" (two spaces after LISTEN, one
//     after CONNECT): KindApp with App, Action, Proto, Op, and Count = N+M. Apple does not
//     document what in and out count, so the sum is only "how many the line reports". App is
//     everything before the last ": " that precedes Allow or Deny, so it may hold ": ".
//   - "Stealth Mode connection attempt to UDP|TCP N time(s)": KindStealth, Proto, Count=N.
//   - anything else ("Logging: creating /var/log/appfirewall.log"): KindOther.
//
// A syslog line "Mmm dd hh:mm:ss --- last message repeated N time(s) ---" with no tag is
// KindRepeat with Count=N.
//
// The kernel's own stealth lines, under any tag (Tiger's "ipfw:", "kernel:"): "Stealth Mode
// connection attempt to TCP 70.165.138.163:56266 from 89.139.144.18:80" (destination first) is
// KindStealth with both endpoints, Count=1; xnu 10.9+ flushes counted ones instead, "Stealth
// Mode connection attempt to TCP v6 5 times" (the "v6" is dropped: Event has no family field).
// Every Stealth Mode event is inbound (Dir=DirIn): they are unsolicited connection attempts.
//
// Unified log records from "log show --style ndjson" (10.12+), one JSON object a line, are ALF's
// when their subsystem is "com.apple.alf", their processImagePath or senderImagePath names
// socketfilterfw, or their eventMessage is a Stealth Mode message; only those are decoded (with
// encoding/json, which allocates). The eventMessage is read with the appfirewall.log grammar
// above. Apple's exact ALF message texts are not documented (reference §9), so that grammar is
// an assumption, tested on synthetic records only. Fields point into the line: Stamp at the
// "timestamp" value, App and Op into the raw eventMessage, still JSON-escaped ("a\/b"). A
// record whose message matches no grammar is KindOther with App = the processImagePath's base
// name.
//
// Stamp is the syslog timestamp ("Nov  2 04:07:35") or the record's "timestamp".
func ParseALF(line []byte, e *Event) (ok, mine bool) {
	if len(line) > 0 && line[0] == '{' {
		return parseALFRecord(line, e)
	}
	stamp, rest, _ := syslogStamp(skipPRI(line))
	if r, isRepeat := alfRepeat(rest); isRepeat {
		e.Format, e.Kind, e.Stamp = FormatALF, KindRepeat, stamp
		return alfRepeatCount(r, e), true
	}
	if msg, tagged := alfTagged(rest); tagged {
		e.Format, e.Stamp = FormatALF, stamp
		return alfMessage(msg, e), true
	}
	i := bytes.Index(rest, []byte(alfStealth))
	if i < 0 {
		return false, false
	}
	e.Format, e.Stamp = FormatALF, stamp
	return alfStealthMessage(rest[i:], e), true
}

// alfRepeat finds macOS syslogd's "--- last message repeated " right after the timestamp (or
// after a host name); any tag in between makes the line someone else's.
func alfRepeat(rest []byte) ([]byte, bool) {
	const rep = "--- last message repeated "
	if r, ok := bytes.CutPrefix(rest, []byte(rep)); ok {
		return r, true
	}
	host, after := nextToken(rest)
	if len(host) == 0 || host[len(host)-1] == ':' || bytes.IndexByte(host, '[') >= 0 {
		return nil, false
	}
	return bytes.CutPrefix(skipSpaces(after), []byte(rep))
}

// alfRepeatCount reads "N time(s) ---".
func alfRepeatCount(r []byte, e *Event) bool {
	n, after := leadingInt(r)
	if n < 0 {
		return false
	}
	after, ok := bytes.CutPrefix(after, []byte(" time"))
	if !ok {
		return false
	}
	after, _ = bytes.CutPrefix(after, []byte("s"))
	after = trimRight(after)
	after, _ = bytes.CutPrefix(after, []byte(" ---"))
	e.Count = n
	return len(after) == 0
}

// alfTagged finds the socketfilterfw or Firewall tag as the first or second word (after the
// host) and returns the message after it: "socketfilterfw[112] <Info>: msg",
// "socketfilterfw[112]: msg", "Firewall[113]: msg".
func alfTagged(rest []byte) (msg []byte, ok bool) {
	t1, r1 := nextToken(rest)
	if msg, ok := alfTag(t1, r1); ok {
		return msg, true
	}
	t2, r2 := nextToken(r1)
	return alfTag(t2, r2)
}

func alfTag(tok, after []byte) ([]byte, bool) {
	name, ok := bytes.CutPrefix(tok, []byte("socketfilterfw"))
	if !ok {
		if name, ok = bytes.CutPrefix(tok, []byte("Firewall")); !ok {
			return nil, false
		}
	}
	if pid, ok := bytes.CutPrefix(name, []byte("[")); ok {
		end := bytes.IndexByte(pid, ']')
		if end < 0 || !isDigits(pid[:end]) {
			return nil, false
		}
		name = pid[end+1:]
	}
	switch {
	case string(name) == ":":
	case len(name) == 0:
		// ASL's level: " <Info>: ", " <Error>: ".
		level, r := nextToken(after)
		if len(level) < 4 || level[0] != '<' || !bytes.HasSuffix(level, []byte(">:")) {
			return nil, false
		}
		after = r
	default:
		return nil, false
	}
	if len(after) > 0 && after[0] == ' ' {
		after = after[1:]
	}
	return after, true
}

// alfMessage reads what socketfilterfw says after its tag.
func alfMessage(msg []byte, e *Event) bool {
	msg = trimRight(msg)
	if bytes.HasPrefix(msg, []byte(alfStealth)) {
		return alfStealthMessage(msg, e)
	}
	i := len(msg) - 2 // the last ": Allow " or ": Deny "; the verdict sits near the end
	for ; i >= 0; i-- {
		if msg[i] == ':' && msg[i+1] == ' ' &&
			(bytes.HasPrefix(msg[i+2:], []byte("Allow ")) || bytes.HasPrefix(msg[i+2:], []byte("Deny "))) {
			break
		}
	}
	switch {
	case i < 0:
		e.Kind = KindOther
		return true
	case i == 0:
		return false // no application
	}
	e.Kind, e.App = KindApp, msg[:i]
	action, rest := nextToken(msg[i+2:])
	e.Action = action
	proto, rest := nextToken(rest)
	if !alfProto(proto, e) {
		return false
	}
	op, rest := nextToken(rest)
	for _, c := range op {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	e.Op = op
	r, ok := bytes.CutPrefix(skipSpaces(rest), []byte("(in:"))
	if !ok {
		return false
	}
	in, r := leadingInt(r)
	r, ok = bytes.CutPrefix(r, []byte(" out:"))
	if !ok || in < 0 {
		return false
	}
	out, r := leadingInt(r)
	if out < 0 || string(r) != ")" {
		return false
	}
	e.Count = in + out
	return true
}

// alfStealthMessage reads "Stealth Mode connection attempt to " and then "UDP 3 time",
// "TCP v6 5 times", or "TCP 192.0.2.1:22 from 198.51.100.7:50000".
func alfStealthMessage(msg []byte, e *Event) bool {
	e.Kind, e.Dir = KindStealth, DirIn
	r := msg[len(alfStealth):]
	if len(r) == 0 || r[0] != ' ' {
		return false
	}
	proto, rest := nextToken(r)
	if !alfProto(proto, e) {
		return false
	}
	tok, rest := nextToken(rest)
	if string(tok) == "v6" {
		tok, rest = nextToken(rest)
	}
	if n, after := leadingInt(tok); n >= 0 && len(after) == 0 {
		unit, rest := nextToken(rest)
		if string(unit) != "time" && string(unit) != "times" || len(skipSpaces(rest)) != 0 {
			return false
		}
		e.Count = n
		return true
	}
	from, rest := nextToken(rest)
	src, rest := nextToken(rest)
	if string(from) != "from" || len(skipSpaces(rest)) != 0 {
		return false
	}
	var okD, okS bool
	e.Dst, e.DstPort, okD = alfEndpoint(tok)
	e.Src, e.SrcPort, okS = alfEndpoint(src)
	if !okD || !okS || e.Src.Is4() != e.Dst.Is4() {
		return false
	}
	e.HasPorts, e.Count = true, 1
	return true
}

// alfEndpoint splits xnu's "%s:%d", where %s comes from inet_ntop (so IPv6 is compressed and
// unbracketed: the port follows the last colon).
func alfEndpoint(b []byte) (a netip.Addr, port uint16, ok bool) {
	i := bytes.LastIndexByte(b, ':')
	if i <= 0 {
		return a, 0, false
	}
	p, ok := parsePort(b[i+1:])
	if !ok {
		return a, 0, false
	}
	a, ok = nfAddr(b[:i])
	return a, uint16(p), ok
}

// alfRecord holds where the fields ParseALF needs sit in a unified log record: the raw string
// contents (between the quotes, still escaped) as sub-slices of the line.
type alfRecord struct {
	timestamp, message, process, sender, subsystem []byte
}

// parseALFRecord reads one "log show --style ndjson" record.
func parseALFRecord(line []byte, e *Event) (ok, mine bool) {
	if !bytes.Contains(line, []byte(`"com.apple.alf"`)) && !bytes.Contains(line, []byte(`socketfilterfw"`)) &&
		!bytes.Contains(line, []byte(alfStealth)) {
		return false, false
	}
	r, err := alfScanRecord(line)
	if err != nil {
		e.Format = FormatALF
		return false, true
	}
	msg := alfJSONString(r.message)
	if alfJSONString(r.subsystem) != "com.apple.alf" && !alfIsSocketfilterfw(r.process) &&
		!alfIsSocketfilterfw(r.sender) && !strings.HasPrefix(msg, alfStealth) {
		return false, false
	}
	e.Format, e.Stamp = FormatALF, r.timestamp
	if len(e.Stamp) == 0 {
		e.Stamp = nil
	}
	if !alfMessage(r.message, e) {
		return false, true
	}
	if e.Kind == KindOther {
		// The process's base name; "\/" escapes end in the slash, so this holds escaped too.
		if base := r.process[bytes.LastIndexByte(r.process, '/')+1:]; len(base) > 0 {
			e.App = base
		}
	}
	return true, true
}

// alfIsSocketfilterfw reports whether a raw (escaped) image path names socketfilterfw
// ("\/usr\/libexec\/ApplicationFirewall\/socketfilterfw"; the escape leaves the slash last).
func alfIsSocketfilterfw(raw []byte) bool {
	return string(raw) == "socketfilterfw" || bytes.HasSuffix(raw, []byte("/socketfilterfw"))
}

// alfJSONString decodes a raw JSON string body; "" when it does not decode.
func alfJSONString(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	var s string
	if json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s) != nil {
		return ""
	}
	return s
}

var errALFRecord = errors.New("not a JSON object")

// alfScanRecord walks the top-level keys of a JSON object and locates the string values
// ParseALF needs in the line. json.Decoder's offsets make the location exact: a key that only
// appears inside another value (a nested object, an escaped string) is never taken for it.
func alfScanRecord(line []byte) (alfRecord, error) {
	var r alfRecord
	dec := json.NewDecoder(bytes.NewReader(line))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return r, errALFRecord
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return r, err
		}
		key, _ := t.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return r, err
		}
		end := int(dec.InputOffset())
		start := end - len(raw)
		if start < 0 || end > len(line) || !bytes.Equal(line[start:end], raw) {
			return r, errALFRecord
		}
		var dst *[]byte
		switch key {
		case "timestamp":
			dst = &r.timestamp
		case "eventMessage":
			dst = &r.message
		case "processImagePath":
			dst = &r.process
		case "senderImagePath":
			dst = &r.sender
		case "subsystem":
			dst = &r.subsystem
		default:
			continue
		}
		if *dst == nil && len(raw) >= 2 && raw[0] == '"' {
			*dst = line[start+1 : end-1]
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return r, errALFRecord
	}
	if _, err := dec.Token(); err != io.EOF {
		return r, errALFRecord
	}
	return r, nil
}

// alfProto sets the protocol of an Application Firewall message ("TCP" or "UDP").
func alfProto(tok []byte, e *Event) bool {
	switch string(tok) {
	case "TCP":
		e.Proto = ProtoTCP
	case "UDP":
		e.Proto = ProtoUDP
	default:
		return false
	}
	return true
}
