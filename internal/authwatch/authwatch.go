// Package authwatch recognises SSH authentication failures in log lines: OpenSSH's sshd,
// sshd-session and sshd-auth messages in syslog files (RFC 3164, ISO 8601 and RFC 5424
// timestamps), journalctl output (short, short-iso, short-precise, short-unix, cat, and the
// MESSAGE= lines of export), and the macOS unified log (log show/stream, syslog and default
// styles). It is the pure "parse and decide" half of the brute-force guard: bytes in, a Failure
// out, no I/O, no allocation.
//
// The address always comes from the right-hand end of a message. User names are chosen by the
// client and sshd logs them before the address ("Failed password for invalid user U from ADDR
// port N ssh2"), so a user name such as "x from 1.2.3.4 port 1 ssh2" must not choose the address
// that gets banned. See Kind for the messages and the rule each uses.
package authwatch

import (
	"bytes"
	"net/netip"
	"strconv"
	"time"
)

// Kind is the kind of failure a line reports. One failed login usually writes several lines
// (a PAM failure, "Failed password", then "Disconnected from … [preauth]"; reference adaptive.md
// §7), so a consumer counting attempts either keys them by PID or weighs the kinds differently, as
// SSHGuard does (10 for most, 2 for a pre-authentication close, 1 for a login timeout).
type Kind uint8

// Kinds of failure. The message each stands for is quoted with its address rule: "last from"
// means the address follows the last " from " of the line, "right end" that it is the last token
// before " port N [preauth]", "fixed" that only sshd's own text precedes it.
const (
	// KindNone is the zero Kind; Parse never returns it with ok.
	KindNone Kind = iota
	// KindFailed: "Failed METHOD for [invalid user ]U from A port N ssh2[: key]" (any method:
	// password, publickey, keyboard-interactive/pam, none, …). Last from. Known gap: the text
	// after "ssh2: " is sshd's for passwords and plain keys, but holds a certificate's key ID or
	// hostbased's client user and host, which the client chooses; a client that can get such a
	// line logged (a publickey failure logs at INFO only for an invalid user or after
	// MaxAuthTries/2) can put " from X" there. No rule on the text alone tells that from a user
	// name, which comes before the address; the guard should weigh these lines with the other
	// lines of the same connection (PID).
	KindFailed
	// KindInvalidUser: "Invalid user U from A[ port N]" (also "Illegal user", OpenSSH < 3.9).
	// Last from.
	KindInvalidUser
	// KindNotAllowed: "User U from A not allowed because …" (AllowUsers, DenyUsers, groups,
	// shell). Last from, and " not allowed because" must follow the address.
	KindNotAllowed
	// KindRootRefused: "ROOT LOGIN REFUSED FROM A[ port N]". Fixed.
	KindRootRefused
	// KindMaxAttempts: "[error: ]maximum authentication attempts exceeded for … from A port N
	// ssh2" (last from) and "Disconnecting [invalid|authenticating ]user U A port N: Too many
	// authentication failures" (right end).
	KindMaxAttempts
	// KindPAM: "pam_MODULE(sshd:auth): authentication failure; logname= … ruser= rhost=A[ user=U]"
	// (the rhost field after ruser=: pam_unix appends the user, which with its audit option is
	// the client's name, after rhost) and "[error: ]PAM: authentication failure|authentication
	// error|unknown user|User not known to the underlying authentication module for U from A[ via
	// B]" (last from).
	KindPAM
	// KindPreauth: a client that left before authenticating: "Connection closed|reset by
	// [authenticating |invalid ]user U A port N [preauth]", "Connection closed by A[ port N]
	// [preauth]", "Disconnected from [authenticating |invalid ]user U A port N [preauth]". Right
	// end; without "[preauth]" the same messages end a normal session and are not failures.
	KindPreauth
	// KindNoIdent: "Did not receive identification string from A[ port N]" (a port scan). Fixed.
	KindNoIdent
	// KindBadBanner: "Bad protocol version identification 'X' from A[ port N]" (last from: X is
	// the client's banner) and "banner exchange: Connection from A port N: invalid format"
	// (fixed).
	KindBadBanner
	// KindNoKex: "[fatal: ]Unable to negotiate with A port N: no matching … Their offer: X".
	// Fixed: the client's offer comes after the address.
	KindNoKex
	// KindTimeout: "Timeout before authentication for connection from A to B, pid = N". Fixed.
	KindTimeout
	// KindPenalty: "drop connection #N from [A]:P on [B]:P penalty: REASON" (OpenSSH 9.8
	// PerSourcePenalties: sshd has judged the source itself). Fixed.
	KindPenalty
	// KindRefused: TCP wrappers' "refused connect from [ident@]HOST (A)". Right end: the
	// ident user name and the host name before it come from the client.
	KindRefused
)

var kindNames = [...]string{
	KindNone:        "none",
	KindFailed:      "failed",
	KindInvalidUser: "invalid-user",
	KindNotAllowed:  "not-allowed",
	KindRootRefused: "root-refused",
	KindMaxAttempts: "max-attempts",
	KindPAM:         "pam",
	KindPreauth:     "preauth",
	KindNoIdent:     "no-ident",
	KindBadBanner:   "bad-banner",
	KindNoKex:       "no-kex",
	KindTimeout:     "timeout",
	KindPenalty:     "penalty",
	KindRefused:     "refused",
}

// String returns a short lowercase name ("failed", "invalid-user", "preauth", …).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Failure is one recognised authentication failure.
type Failure struct {
	// Time is the line's timestamp: in UTC when the line gives an offset, otherwise in the
	// Parser's Location. Zero when the line has none, or has no year (RFC 3164) and the Parser
	// has no Now.
	Time time.Time
	// Addr is the client: IPv4 or IPv6, IPv4-mapped addresses unmapped, zone dropped. Always
	// valid when Parse reports ok.
	Addr netip.Addr
	// Port is the client's source port, 0 when the message gives none.
	Port uint16
	// Kind is which message it was.
	Kind Kind
	// InvalidUser says sshd reported the user name as unknown ("invalid user", "illegal user",
	// "Invalid user", PAM's "unknown user"), which a guard may punish faster.
	InvalidUser bool
	// Service is "sshd", "sshd-session" or "sshd-auth" from the line's tag, or "" when the line
	// has no tag (journalctl -o cat, socklog's facility).
	Service string
	// PID is the process id from the tag or column, 0 when absent.
	PID int
}

// Parser recognises failures; its zero value is ready and Parse does not change it, so one
// Parser may be used from several goroutines.
type Parser struct {
	// Now places RFC 3164 timestamps, which have no year, in the latest year that puts them at
	// most a day after Now (a log from December read in January). A zero Now leaves those lines'
	// Time zero. The caller updates it; Parse never reads the clock.
	Now time.Time
	// Location is the zone of timestamps that give no offset; nil means UTC.
	Location *time.Location
}

// Parse is Parser{}.Parse: no clock and UTC, so RFC 3164 lines have a zero Time.
func Parse(line []byte) (Failure, bool) {
	var p Parser
	return p.Parse(line)
}

// Parse reports whether line is an SSH authentication failure and, if it is, what it says.
// line is one log line without its newline (a trailing "\r" or "\n" is ignored). Lines of other
// programs, successful logins, and failures whose host is a name rather than an address (UseDNS
// yes) are not failures: a name was looked up by sshd in DNS the client's owner controls.
func (p *Parser) Parse(line []byte) (Failure, bool) {
	for len(line) > 0 && (line[len(line)-1] == '\n' || line[len(line)-1] == '\r') {
		line = line[:len(line)-1]
	}
	h, msg, ok := splitHeader(line)
	if !ok {
		return Failure{}, false
	}
	f, ok := parseMessage(msg)
	if !ok {
		return Failure{}, false
	}
	f.Service, f.PID = h.service, h.pid
	if h.format != stampNone {
		loc := p.Location
		if loc == nil {
			loc = time.UTC
		}
		f.Time = stampTime(&h, p.Now, loc)
	}
	return f, true
}

// parseMessage recognises the message text after the header.
func parseMessage(msg []byte) (f Failure, ok bool) {
	if bytes.HasPrefix(msg, []byte("[ID ")) { // Solaris: "[ID 800047 auth.info] Failed …"
		i := bytes.Index(msg, []byte("] "))
		if i < 0 {
			return f, false
		}
		msg = msg[i+2:]
	}
	if len(msg) > 7 && msg[5] == ':' && msg[6] == ' ' &&
		(bytes.HasPrefix(msg, []byte("error")) || bytes.HasPrefix(msg, []byte("fatal"))) {
		msg = msg[7:]
	}
	if len(msg) < 8 {
		return f, false
	}
	switch msg[0] {
	case 'F':
		if rest, found := bytes.CutPrefix(msg, []byte("Failed ")); found {
			f.Kind = KindFailed
			_, rest = token(rest) // method
			f.InvalidUser = bytes.HasPrefix(rest, []byte(" for invalid user ")) ||
				bytes.HasPrefix(rest, []byte(" for illegal user ")) ||
				bytes.HasPrefix(rest, []byte(" for <invalid username> "))
			return lastFrom(f, msg, fromFailed)
		}
	case 'I':
		if bytes.HasPrefix(msg, []byte("Invalid user ")) || bytes.HasPrefix(msg, []byte("Illegal user ")) {
			f.Kind, f.InvalidUser = KindInvalidUser, true
			return lastFrom(f, msg, fromAny)
		}
	case 'U':
		if bytes.HasPrefix(msg, []byte("User ")) {
			f.Kind = KindNotAllowed
			return lastFrom(f, msg, fromNotAllowed)
		}
		if rest, found := bytes.CutPrefix(msg, []byte("Unable to negotiate with ")); found {
			f.Kind = KindNoKex
			return fixed(f, rest)
		}
	case 'R':
		if rest, found := bytes.CutPrefix(msg, []byte("ROOT LOGIN REFUSED FROM ")); found {
			f.Kind = KindRootRefused
			return fixed(f, rest)
		}
	case 'm':
		if rest, found := bytes.CutPrefix(msg, []byte("maximum authentication attempts exceeded for ")); found {
			f.Kind = KindMaxAttempts
			f.InvalidUser = bytes.HasPrefix(rest, []byte("invalid user "))
			return lastFrom(f, msg, fromAny)
		}
	case 'P':
		if rest, found := bytes.CutPrefix(msg, []byte("PAM: ")); found {
			return pamError(f, msg, rest)
		}
	case 'p':
		if bytes.HasPrefix(msg, []byte("pam_")) {
			return pamModule(f, msg)
		}
	case 'C':
		rest, found := bytes.CutPrefix(msg, []byte("Connection closed by "))
		if !found {
			rest, found = bytes.CutPrefix(msg, []byte("Connection reset by "))
		}
		if found {
			f.Kind = KindPreauth
			return rightEnd(f, rest, true, nil)
		}
	case 'D':
		if rest, found := bytes.CutPrefix(msg, []byte("Disconnected from ")); found {
			f.Kind = KindPreauth
			return rightEnd(f, rest, true, nil)
		}
		if rest, found := bytes.CutPrefix(msg, []byte("Disconnecting ")); found {
			f.Kind = KindMaxAttempts
			return rightEnd(f, rest, false, []byte(": Too many authentication failures"))
		}
		if rest, found := bytes.CutPrefix(msg, []byte("Did not receive identification string from ")); found {
			f.Kind = KindNoIdent
			return fixed(f, rest)
		}
	case 'B':
		if bytes.HasPrefix(msg, []byte("Bad protocol version identification ")) {
			f.Kind = KindBadBanner
			return lastFrom(f, msg, fromAny)
		}
	case 'b':
		if rest, found := bytes.CutPrefix(msg, []byte("banner exchange: Connection from ")); found &&
			bytes.HasSuffix(rest, []byte(": invalid format")) {
			f.Kind = KindBadBanner
			return fixed(f, rest)
		}
	case 'T':
		if rest, found := bytes.CutPrefix(msg, []byte("Timeout before authentication for connection from ")); found {
			f.Kind = KindTimeout
			return fixed(f, rest)
		}
	case 'd':
		if rest, found := bytes.CutPrefix(msg, []byte("drop connection #")); found {
			return penalty(f, rest)
		}
	case 'r':
		if rest, found := bytes.CutPrefix(msg, []byte("refused connect from ")); found {
			return refused(f, rest)
		}
	}
	return f, false
}

// fromRule says what may follow the address in a "last from" message.
type fromRule uint8

const (
	fromAny fromRule = iota
	fromFailed
	fromNotAllowed
)

// lastFrom takes the address after the last " from " of msg. Only the client's user name or
// banner precedes sshd's own " from ADDR", so the last one is sshd's. There is no fallback to an
// earlier " from " when the last is not an address (a host name under UseDNS): that earlier one
// would be the client's text.
func lastFrom(f Failure, msg []byte, rule fromRule) (Failure, bool) {
	i := lastFromIndex(msg)
	if i < 0 {
		return f, false
	}
	rest := msg[i+len(" from "):]
	tok, after := token(rest)
	if rule == fromFailed && len(after) == 0 && bytes.HasSuffix(msg[:i], []byte(" ssh1: ruser")) {
		// SSH-1 rhosts: "… from A port N ssh1: ruser from RUSER". RUSER is the client's and
		// SSH-1 left OpenSSH in 7.4 (2016); count nothing rather than the client's text. An
		// SSH-2 line always ends in " port N ssh2", so a user name ending in " ssh1: ruser"
		// cannot hide an SSH-2 failure this way.
		return f, false
	}
	addr, ok := parseAddr(tok)
	if !ok {
		return f, false
	}
	f.Addr = addr
	after = f.readPort(after)
	if rule == fromNotAllowed && !bytes.HasPrefix(after, []byte(" not allowed because")) {
		return f, false
	}
	return f, true
}

// lastFromIndex is bytes.LastIndex(msg, " from "), scanning back from the end, where sshd's
// " from " is a few dozen bytes away (bytes.LastIndex hashes the whole line).
func lastFromIndex(msg []byte) int {
	for i := len(msg) - len(" from "); i >= 0; i-- {
		if msg[i] == ' ' && msg[i+1] == 'f' && msg[i+2] == 'r' && msg[i+3] == 'o' && msg[i+4] == 'm' && msg[i+5] == ' ' {
			return i
		}
	}
	return -1
}

// fixed reads the address at the start of rest, after text that only sshd writes, and the
// " port N" that may follow.
func fixed(f Failure, rest []byte) (Failure, bool) {
	end := 0
	for end < len(rest) && rest[end] != ' ' && rest[end] != ',' {
		end++
	}
	addr, ok := parseAddr(rest[:end])
	if !ok {
		return f, false
	}
	f.Addr = addr
	f.readPort(rest[end:])
	return f, true
}

// readPort reads " port N" at the start of b into f.Port and returns what follows.
func (f *Failure) readPort(b []byte) []byte {
	rest, found := bytes.CutPrefix(b, []byte(" port "))
	if !found {
		return b
	}
	i := 0
	p := 0
	for i < len(rest) && isDigit(rest[i]) && p <= 65535 {
		p = p*10 + int(rest[i]-'0')
		i++
	}
	if i == 0 || p > 65535 {
		return b
	}
	f.Port = uint16(p)
	return rest[i:]
}

// rightEnd reads "[authenticating |invalid ]user U A[ port N][reason][ [preauth]]" from its end:
// the address is the last token before " port N". With preauth, the line must end in
// " [preauth]"; with reason, the reason must come before it.
func rightEnd(f Failure, rest []byte, preauth bool, reason []byte) (Failure, bool) {
	f.InvalidUser = bytes.HasPrefix(rest, []byte("invalid user "))
	b, found := bytes.CutSuffix(rest, []byte(" [preauth]"))
	if preauth && !found {
		return f, false
	}
	if reason != nil {
		if b, found = bytes.CutSuffix(b, reason); !found {
			return f, false
		}
	}
	// " port N" at the end.
	j := len(b)
	for j > 0 && isDigit(b[j-1]) {
		j--
	}
	if j < len(b) && j >= len(" port ") && string(b[j-len(" port "):j]) == " port " {
		if len(f.readPort(b[j-len(" port "):])) != 0 {
			return f, false // more than five digits or above 65535
		}
		b = b[:j-len(" port ")]
	}
	k := bytes.LastIndexByte(b, ' ')
	addr, ok := parseAddr(b[k+1:])
	if !ok {
		return f, false
	}
	f.Addr = addr
	return f, true
}

// pamError reads sshd's own PAM messages: "PAM: authentication error for U from A".
func pamError(f Failure, msg, rest []byte) (Failure, bool) {
	switch {
	case bytes.HasPrefix(rest, []byte("authentication failure for ")),
		bytes.HasPrefix(rest, []byte("Authentication failure for ")),
		bytes.HasPrefix(rest, []byte("authentication error for ")):
		_, user, _ := bytes.Cut(rest, []byte(" for "))
		f.InvalidUser = bytes.HasPrefix(user, []byte("illegal user ")) || bytes.HasPrefix(user, []byte("invalid user "))
	case bytes.HasPrefix(rest, []byte("unknown user for ")),
		bytes.HasPrefix(rest, []byte("User not known to the underlying authentication module for ")):
		f.InvalidUser = true
	default:
		return f, false
	}
	f.Kind = KindPAM
	i := lastFromIndex(msg)
	if i < 0 {
		return f, false
	}
	tok, after := token(msg[i+len(" from "):])
	if len(after) > 0 && !bytes.HasPrefix(after, []byte(" via ")) {
		return f, false
	}
	addr, ok := parseAddr(tok)
	if !ok {
		return f, false
	}
	f.Addr = addr
	return f, true
}

// pamModule reads "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh
// ruser= rhost=A  user=U" (Linux-PAM pam_unix, also pam_sss and others using the same words).
func pamModule(f Failure, msg []byte) (Failure, bool) {
	i := indexByte(msg, '(')
	if i < 0 {
		return f, false
	}
	rest, found := bytes.CutPrefix(msg[i:], []byte("(sshd:auth): authentication failure; "))
	if !found {
		return f, false
	}
	j := bytes.Index(rest, []byte(" ruser="))
	if j < 0 {
		return f, false
	}
	k := bytes.Index(rest[j:], []byte(" rhost="))
	if k < 0 {
		return f, false
	}
	tok, _ := token(rest[j+k+len(" rhost="):])
	addr, ok := parseAddr(tok)
	if !ok {
		return f, false
	}
	f.Kind, f.Addr = KindPAM, addr
	return f, true
}

// penalty reads "N from [A]:P on [B]:P penalty: REASON" after "drop connection #".
func penalty(f Failure, rest []byte) (Failure, bool) {
	i := 0
	for i < len(rest) && isDigit(rest[i]) {
		i++
	}
	rest, found := bytes.CutPrefix(rest[i:], []byte(" from ["))
	if i == 0 || !found {
		return f, false
	}
	end := indexByte(rest, ']')
	if end < 0 || !bytes.Contains(rest[end:], []byte(" penalty: ")) {
		return f, false
	}
	addr, ok := parseAddr(rest[:end])
	if !ok {
		return f, false
	}
	f.Kind, f.Addr = KindPenalty, addr
	if end+1 < len(rest) && rest[end+1] == ':' {
		var p int
		digits := rest[end+2:]
		n := 0
		for n < len(digits) && isDigit(digits[n]) && p <= 65535 {
			p = p*10 + int(digits[n]-'0')
			n++
		}
		if n > 0 && p <= 65535 {
			f.Port = uint16(p)
		}
	}
	return f, true
}

// refused reads "[ident@]HOST (A)" after "refused connect from ".
func refused(f Failure, rest []byte) (Failure, bool) {
	if len(rest) < 3 || rest[len(rest)-1] != ')' {
		return f, false
	}
	i := bytes.LastIndexByte(rest, '(')
	if i < 1 || rest[i-1] != ' ' {
		return f, false
	}
	addr, ok := parseAddr(rest[i+1 : len(rest)-1])
	if !ok {
		return f, false
	}
	f.Kind, f.Addr = KindRefused, addr
	return f, true
}
