package authwatch

import (
	"bytes"
	"time"
)

// stampFormat says which timestamp shape a line starts with.
type stampFormat uint8

const (
	stampNone    stampFormat = iota
	stamp3164                // "Feb 25 14:34:10", "Nov 2 15:40:14", journald short-precise "Jan 09 23:53:13.123456"
	stampISO                 // "2013-10-30T14:51:30.267401+01:00", macOS "2020-03-23 06:47:42.801612-0700"
	stampUnix                // journald short-unix "1641768793.123456"
	stamp5424                // RFC 5424: an ISO timestamp after "<PRI>1 "
	stampUnified             // ISO, then macOS log's default style columns
)

// header is what precedes the message: where the timestamp is, which program wrote the line.
type header struct {
	stamp   []byte
	format  stampFormat
	service string
	pid     int
	host    []byte // the host the header names, if any
}

// services are the program names whose lines are read; any other tag makes the line someone
// else's (a cron job or sudo writing "Failed password" text is not sshd). OpenSSH 9.8 moved the
// per-connection work to sshd-session and OpenSSH 10 the authentication to sshd-auth (reference
// adaptive.md §7; macOS 15/26 log failures only under those names). Dropbear is the SSH server
// of OpenWrt, BusyBox systems and many appliances.
var services = [...]string{"sshd", "sshd-session", "sshd-auth", "dropbear"}

// splitHeader finds the message of a line and says whether the line is sshd's (or carries no
// program name at all: journalctl -o cat, a bare message). It does not parse the timestamp.
func splitHeader(line []byte) (h header, msg []byte, ok bool) {
	if len(line) == 0 {
		return h, nil, false
	}
	c := line[0]
	switch {
	case c == '<':
		return split5424(line)
	case c >= 'A' && c <= 'Z' && len(line) > 15 && line[3] == ' ' && isMonth(line[:3]):
		n := len3164(line)
		if n == 0 {
			break
		}
		h.stamp, h.format = line[:n], stamp3164
		return splitTagged(h, line[n:])
	case isDigit(c):
		if n := lenISO(line); n > 0 {
			h.stamp, h.format = line[:n], stampISO
			rest := line[n:]
			if bytes.HasPrefix(rest, []byte(" 0x")) {
				h.format = stampUnified
				return splitUnified(h, rest)
			}
			if h2, msg, ok := splitTagged(h, rest); ok {
				return h2, msg, ok
			}
			// A timestamp and the bare message, as daemontools' and runit's loggers write an
			// sshd's standard error (SSHGuard #93): read as a bare line, whose first words
			// must then be sshd's message or an sshd tag.
			hb, msg, ok := splitBare(skipSpaces(rest))
			hb.stamp, hb.format = h.stamp, h.format
			return hb, msg, ok
		}
		if n := lenUnix(line); n > 0 {
			h.stamp, h.format = line[:n], stampUnix
			return splitTagged(h, line[n:])
		}
	case c == '[':
		// journalctl -o short-monotonic: "[ 1234.567890] host sshd[1]: msg", no wall time.
		if i := bytes.Index(line, []byte("] ")); i > 0 {
			return splitTagged(h, line[i+2:])
		}
	case c == 'M':
		if m, found := bytes.CutPrefix(line, []byte("MESSAGE=")); found {
			return h, m, true // journalctl -o export: the program is chosen by the journal match
		}
	}
	return splitBare(line)
}

// splitTagged reads "[host ]tag[pid]: msg" after a timestamp. A token ending in ':' right after
// the timestamp is the tag (no host: BSD syslog to a local file, socklog's "auth.info:"). The
// variants SSHGuard's and fail2ban's tests hold are read too: FreeBSD syslogd -v's "<10.5>"
// before the host, BusyBox's "facility.level" between host and tag ("vps auth.info
// sshd[13482]:"), a tag without its colon (rsyslog 8 "sshd[20974] error: …", old "[sshd]"),
// old "[sshd]:" tags, and RFC 5424 fields after a timestamp without "<PRI>1" (sysklogd: "host
// dropbear 6052 - - msg"). A tag without its colon must name a service and, unless it is
// bracketed, carry a pid: a message's words are never read as a tag.
func splitTagged(h header, rest []byte) (header, []byte, bool) {
	rest = skipSpaces(rest)
	tok, after := token(rest)
	if len(tok) > 2 && tok[0] == '<' && tok[len(tok)-1] == '>' && isPriority(tok[1:len(tok)-1]) {
		tok, after = token(skipSpaces(after)) // FreeBSD syslogd -v: "<facility.level>"
	}
	if len(tok) == 0 {
		return h, nil, false
	}
	if tok[len(tok)-1] != ':' {
		if name, pid, ok := colonlessTag(tok); ok {
			return h.tagged(name, pid, after)
		}
		host := tok
		h.host = host
		tok, after = token(skipSpaces(after))
		if isFacility(tok) && (len(tok) == 0 || tok[len(tok)-1] != ':') {
			tok, after = token(skipSpaces(after)) // BusyBox: "host auth.info sshd[1]:"
		}
		if len(tok) == 0 {
			return h, nil, false
		}
		if tok[len(tok)-1] != ':' {
			if name, pid, ok := colonlessTag(tok); ok {
				return h.tagged(name, pid, after)
			}
			if m, ok := fields5424(&h, tok, after); ok && len(host) > 0 {
				return h, m, true
			}
			return h, nil, false
		}
	}
	name, pid, ok := parseTag(tok[:len(tok)-1])
	if !ok {
		return h, nil, false
	}
	if !h.setService(name) {
		// socklog and busybox write the facility when a line has no tag
		// ("2015-05-27T04:31:27.46667 auth.info: Invalid user admin from 192.168.2.1"), and
		// socklog may keep the line's own timestamp and tag after it ("auth.info: May 27
		// 04:31:28 sshd[30993]: Invalid user …"), which then decide.
		if !isAuthFacility(name) {
			return h, nil, false
		}
		m := skipSpaces(after)
		if len(m) > 15 && m[3] == ' ' && isMonth(m[:3]) {
			if n := len3164(m); n > 0 {
				if t, _ := token(skipSpaces(m[n:])); isAuthFacility(t) {
					return h, nil, false // one facility banner, not a chain of them
				}
				return splitTagged(h, m[n:])
			}
		}
		if t, _ := token(m); len(t) > 0 && t[0] == 's' {
			if tname, tpid, isTag := bareTag(t); isTag {
				if !h.setService(tname) {
					return h, nil, false
				}
				_, after = token(m)
				h.pid = tpid
			}
		}
		return h, skipSpaces(after), true
	}
	h.pid = pid
	return h, skipOneSpace(after), true
}

// tagged finishes a header whose tag had no colon.
func (h header) tagged(name []byte, pid int, after []byte) (header, []byte, bool) {
	if !h.setService(name) {
		return h, nil, false
	}
	h.pid = pid
	return h, skipOneSpace(after), true
}

// colonlessTag recognises a tag written without its colon: "sshd[123]" or "[sshd]" (old
// syslogds), for the services only.
func colonlessTag(t []byte) (name []byte, pid int, ok bool) {
	if len(t) > 2 && t[0] == '[' && t[len(t)-1] == ']' {
		var h header
		return t[1 : len(t)-1], 0, h.setService(t[1 : len(t)-1])
	}
	if len(t) < 4 || t[0] != 's' && t[0] != 'd' || t[len(t)-1] != ']' {
		return nil, 0, false
	}
	name, pid, ok = parseTag(t)
	var h header
	return name, pid, ok && pid > 0 && h.setService(name)
}

// fields5424 reads "APP PROCID MSGID SD MSG", RFC 5424's fields after the host, where app is
// the token already read: sysklogd writes them after an ISO timestamp without "<PRI>1".
func fields5424(h *header, app, rest []byte) ([]byte, bool) {
	procid, rest := token(skipOneSpace(rest))
	msgid, rest := token(skipOneSpace(rest))
	if len(procid) == 0 || len(msgid) == 0 || !h.setService(app) {
		return nil, false
	}
	if p, isNum := atoi(procid); isNum {
		h.pid = p
	} else if string(procid) != "-" {
		return nil, false
	}
	return structuredData(skipOneSpace(rest))
}

// isPriority reports whether b is "facility.level" in digits, as FreeBSD syslogd -v writes it.
func isPriority(b []byte) bool {
	i := indexByte(b, '.')
	if i < 1 || i == len(b)-1 {
		return false
	}
	_, ok1 := atoi(b[:i])
	_, ok2 := atoi(b[i+1:])
	return ok1 && ok2
}

// isFacility reports whether t is "facility.level" as BusyBox syslogd writes it before the tag.
func isFacility(t []byte) bool {
	t, _ = bytes.CutSuffix(t, []byte(":"))
	i := indexByte(t, '.')
	return i > 0 && i < len(t)-1 && indexByte(t[i+1:], '.') < 0 && isLower(t[:i]) && isLower(t[i+1:])
}

func isLower(b []byte) bool {
	for _, c := range b {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return len(b) > 0
}

// splitBare handles lines without a timestamp: "srv sshd[123]: msg" (journalctl without its
// timestamp), "sshd[123]: msg", or the message alone (journalctl -o cat). A second token shaped
// like a tag, "name[pid]:", decides; a message never has one there from sshd.
func splitBare(line []byte) (h header, msg []byte, ok bool) {
	t1, after := token(line)
	if name, pid, isTag := bareTag(t1); isTag {
		if !h.setService(name) {
			return h, nil, false
		}
		h.pid = pid
		return h, skipOneSpace(after), true
	}
	if string(t1) == "User" {
		// "User U from A not allowed because …": the second word is the client's user name,
		// which may be shaped like a tag ("sudo[1]:") to hide the line.
		return h, line, true
	}
	t2, after2 := token(skipOneSpace(after))
	if name, pid, isTag := bareTag(t2); isTag {
		if !h.setService(name) {
			return h, nil, false
		}
		h.pid, h.host = pid, t1
		return h, skipOneSpace(after2), true
	}
	return h, line, true
}

// bareTag recognises "name[digits]:".
func bareTag(t []byte) (name []byte, pid int, ok bool) {
	if len(t) < 4 || t[len(t)-1] != ':' || t[len(t)-2] != ']' {
		return nil, 0, false
	}
	return parseTag(t[:len(t)-1])
}

// parseTag splits "name[pid]" or "name". The pid is read only for names that may be a service's
// (sshd's, dropbear): most lines are other programs'.
func parseTag(t []byte) (name []byte, pid int, ok bool) {
	i := indexByte(t, '[')
	if i < 0 {
		return t, 0, len(t) > 0
	}
	if i == 0 && len(t) > 2 && t[len(t)-1] == ']' {
		return t[1 : len(t)-1], 0, true // old syslogds: "[sshd]:"
	}
	if i == 0 || t[len(t)-1] != ']' {
		return nil, 0, false
	}
	if t[0] != 's' && t[0] != 'd' {
		return t[:i], 0, true
	}
	p, ok := atoi(t[i+1 : len(t)-1])
	return t[:i], p, ok
}

// split5424 reads "<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG" (RFC 5424 §6).
func split5424(line []byte) (h header, msg []byte, ok bool) {
	i := 1
	for i < len(line) && i < 5 && isDigit(line[i]) {
		i++
	}
	if i == 1 || !bytes.HasPrefix(line[i:], []byte(">1 ")) {
		return h, nil, false
	}
	rest := line[i+3:]
	ts, rest := token(rest)
	if n := lenISO(ts); n == len(ts) && n > 0 {
		h.stamp, h.format = ts, stamp5424
	}
	h.host, rest = token(skipOneSpace(rest))
	if string(h.host) == "-" {
		h.host = nil // RFC 5424's NILVALUE
	}
	app, rest := token(skipOneSpace(rest))
	procid, rest := token(skipOneSpace(rest))
	_, rest = token(skipOneSpace(rest)) // msgid
	if !h.setService(app) {
		return h, nil, false
	}
	if p, isNum := atoi(procid); isNum {
		h.pid = p
	}
	m, ok := structuredData(skipOneSpace(rest))
	return h, m, ok
}

// structuredData skips RFC 5424's STRUCTURED-DATA ("-" or "[id k="v"]…") and the BOM that may
// start the message, and returns the message.
func structuredData(rest []byte) ([]byte, bool) {
	switch {
	case len(rest) > 0 && rest[0] == '-':
		rest = rest[1:]
	default:
		for len(rest) > 0 && rest[0] == '[' {
			// A PARAM-VALUE is quoted; some senders leave a "]" in it unescaped (fail2ban
			// gh-2309), so brackets inside quotes do not end the element.
			j, quoted := 1, false
			for j < len(rest) && (quoted || rest[j] != ']') {
				switch rest[j] {
				case '\\':
					j++
				case '"':
					quoted = !quoted
				}
				j++
			}
			if j >= len(rest) {
				return nil, false
			}
			rest = rest[j+1:]
		}
	}
	rest = skipOneSpace(rest)
	rest, _ = bytes.CutPrefix(rest, []byte("\xef\xbb\xbf")) // the BOM RFC 5424 allows before UTF-8
	return rest, true
}

// splitUnified reads the columns of macOS log's default style after the timestamp
// ("0x2230     Error       0x0                  1732   0    sshd: (library) [sub:cat] msg",
// wazuh/wazuh#15771): thread, type, activity, pid, TTL, then "process:".
func splitUnified(h header, rest []byte) (header, []byte, bool) {
	var tok []byte
	for range 3 { // thread, type, activity
		_, rest = token(skipSpaces(rest))
	}
	tok, rest = token(skipSpaces(rest))
	pid, ok := atoi(tok)
	if !ok {
		return h, nil, false
	}
	_, rest = token(skipSpaces(rest)) // TTL
	tok, rest = token(skipSpaces(rest))
	if len(tok) < 2 || tok[len(tok)-1] != ':' || !h.setService(tok[:len(tok)-1]) {
		return h, nil, false
	}
	h.pid = pid
	rest = skipOneSpace(rest)
	if len(rest) > 0 && rest[0] == '(' {
		if i := bytes.Index(rest, []byte(") ")); i > 0 {
			rest = rest[i+2:]
		}
	}
	if len(rest) > 0 && rest[0] == '[' {
		if i := bytes.Index(rest, []byte("] ")); i > 0 {
			rest = rest[i+2:]
		}
	}
	return h, rest, true
}

func (h *header) setService(name []byte) bool {
	if len(name) < 4 || (name[0] != 's' || name[1] != 's' || name[2] != 'h' || name[3] != 'd') && name[0] != 'd' {
		return false // most lines: one comparison
	}
	for _, s := range services {
		if string(name) == s {
			h.service = s
			return true
		}
	}
	return false
}

func isAuthFacility(name []byte) bool {
	return bytes.HasPrefix(name, []byte("auth.")) || bytes.HasPrefix(name, []byte("authpriv."))
}

func isMonth(b []byte) bool { return monthOf(b) > 0 }

// monthOf reads an English month abbreviation ("Jan" … "Dec") as syslog writes it, or returns 0.
func monthOf(b []byte) time.Month {
	switch uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]) {
	case 'J'<<16 | 'a'<<8 | 'n':
		return time.January
	case 'F'<<16 | 'e'<<8 | 'b':
		return time.February
	case 'M'<<16 | 'a'<<8 | 'r':
		return time.March
	case 'A'<<16 | 'p'<<8 | 'r':
		return time.April
	case 'M'<<16 | 'a'<<8 | 'y':
		return time.May
	case 'J'<<16 | 'u'<<8 | 'n':
		return time.June
	case 'J'<<16 | 'u'<<8 | 'l':
		return time.July
	case 'A'<<16 | 'u'<<8 | 'g':
		return time.August
	case 'S'<<16 | 'e'<<8 | 'p':
		return time.September
	case 'O'<<16 | 'c'<<8 | 't':
		return time.October
	case 'N'<<16 | 'o'<<8 | 'v':
		return time.November
	case 'D'<<16 | 'e'<<8 | 'c':
		return time.December
	}
	return 0
}

// len3164 is the length of "Mmm dd hh:mm:ss[.frac]" at the start of line, or 0. The day may be
// space-padded ("Jun  6"), zero-padded (journald: "Jan 09") or bare ("Nov 2", crowdsec hub tests).
func len3164(line []byte) int {
	i := 4
	if line[i] == ' ' {
		i++
	}
	d := 0
	for i < len(line) && isDigit(line[i]) && d < 2 {
		i++
		d++
	}
	if d == 0 || i+9 > len(line) || line[i] != ' ' {
		return 0
	}
	i++
	if !isClock(line[i:]) {
		return 0
	}
	i += 8
	return i + lenFrac(line[i:])
}

// isClock reports whether b starts with "hh:mm:ss".
func isClock(b []byte) bool {
	return len(b) >= 8 && isDigit(b[0]) && isDigit(b[1]) && b[2] == ':' && isDigit(b[3]) &&
		isDigit(b[4]) && b[5] == ':' && isDigit(b[6]) && isDigit(b[7])
}

func lenFrac(b []byte) int {
	if len(b) < 2 || b[0] != '.' || !isDigit(b[1]) {
		return 0
	}
	i := 1
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

// lenISO is the length of "YYYY-MM-DD[T ]hh:mm:ss[.frac][Z|±hh:mm|±hhmm]" at the start of b, or 0.
func lenISO(b []byte) int {
	if len(b) < 19 || !isDigit(b[0]) || !isDigit(b[1]) || !isDigit(b[2]) || !isDigit(b[3]) ||
		b[4] != '-' || !isDigit(b[5]) || !isDigit(b[6]) || b[7] != '-' || !isDigit(b[8]) ||
		!isDigit(b[9]) || (b[10] != 'T' && b[10] != ' ') || !isClock(b[11:]) {
		return 0
	}
	i := 19
	i += lenFrac(b[i:])
	if i < len(b) {
		switch b[i] {
		case 'Z':
			i++
		case '+', '-':
			if i+5 <= len(b) && isDigit(b[i+1]) && isDigit(b[i+2]) {
				if b[i+3] == ':' && i+6 <= len(b) && isDigit(b[i+4]) && isDigit(b[i+5]) {
					i += 6
				} else if isDigit(b[i+3]) && isDigit(b[i+4]) {
					i += 5
				}
			}
		}
	}
	if i < len(b) && b[i] != ' ' {
		return 0
	}
	return i
}

// lenUnix is the length of "seconds.frac " (journalctl -o short-unix), or 0.
func lenUnix(b []byte) int {
	i := 0
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	if i < 9 || i > 12 {
		return 0
	}
	f := lenFrac(b[i:])
	if f == 0 || i+f >= len(b) || b[i+f] != ' ' {
		return 0
	}
	return i + f
}

// stampTime turns the header's timestamp into a time. Timestamps with an offset become UTC;
// those without take loc; RFC 3164 ones, which have no year, take the year that puts them no
// more than a day after now, or none if now is zero.
func stampTime(h *header, now time.Time, loc *time.Location) time.Time {
	b := h.stamp
	switch h.format {
	case stamp3164:
		if now.IsZero() {
			return time.Time{}
		}
		mon := monthOf(b)
		i := 4
		if b[i] == ' ' {
			i++
		}
		day := 0
		for ; b[i] != ' '; i++ {
			day = day*10 + int(b[i]-'0')
		}
		i++
		hh, mm, ss := num2(b[i:]), num2(b[i+3:]), num2(b[i+6:])
		ns := frac(b[i+8:])
		y := now.In(loc).Year()
		t := time.Date(y, mon, day, hh, mm, ss, ns, loc)
		if t.Sub(now) > 24*time.Hour {
			t = time.Date(y-1, mon, day, hh, mm, ss, ns, loc)
		}
		return t
	case stampISO, stamp5424, stampUnified:
		y := num2(b)*100 + num2(b[2:])
		mon, day := time.Month(num2(b[5:])), num2(b[8:])
		hh, mm, ss := num2(b[11:]), num2(b[14:]), num2(b[17:])
		i := 19
		ns := frac(b[i:])
		i += lenFrac(b[i:])
		if i == len(b) {
			return time.Date(y, mon, day, hh, mm, ss, ns, loc)
		}
		t := time.Date(y, mon, day, hh, mm, ss, ns, time.UTC)
		if b[i] == 'Z' {
			return t
		}
		off := num2(b[i+1:])*60 + num2(b[len(b)-2:])
		if b[i] == '-' {
			off = -off
		}
		return t.Add(-time.Duration(off) * time.Minute)
	case stampUnix:
		var sec int64
		i := 0
		for ; b[i] != '.'; i++ {
			sec = sec*10 + int64(b[i]-'0')
		}
		return time.Unix(sec, int64(frac(b[i:]))).UTC()
	}
	return time.Time{}
}

// frac reads ".ddd…" as nanoseconds (digits past the ninth are dropped).
func frac(b []byte) int {
	n := lenFrac(b)
	ns, scale := 0, 100_000_000
	for i := 1; i < n && scale > 0; i++ {
		ns += int(b[i]-'0') * scale
		scale /= 10
	}
	return ns
}

func num2(b []byte) int { return int(b[0]-'0')*10 + int(b[1]-'0') }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// atoi reads a non-empty run of at most nine decimal digits.
func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// token splits b at its first space.
func token(b []byte) (tok, rest []byte) {
	if i := indexByte(b, ' '); i >= 0 {
		return b[:i], b[i:]
	}
	return b, nil
}

func skipSpaces(b []byte) []byte {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	return b
}

func skipOneSpace(b []byte) []byte {
	if len(b) > 0 && b[0] == ' ' {
		return b[1:]
	}
	return b
}
