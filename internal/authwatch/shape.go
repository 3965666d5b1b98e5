package authwatch

import (
	"bytes"
	"net/netip"
)

// Where sshd's own text ends and the client's begins. Facts from openssh-portable (auth.c
// auth_log and format_method_key, auth2-hostbased.c, monitor.c, packet.c, log.c), checked against
// the fail2ban and SSHGuard test corpora (testdata/README.md):
//
//   - "Failed METHOD for [invalid user ]USER from HOST port N ssh2[: INFO]". USER (at most 100
//     bytes before escaping) is the client's. INFO is empty for password, keyboard-interactive
//     and none; for publickey and hostbased it is "TYPE FP" or, for a certificate, "TYPE FP ID
//     KEYID (serial N) CA TYPE FP", either followed by ", client user \"CUSER\", client host
//     \"CHOST\"" (hostbased) or ", signature count = N"; KEYID, CUSER and CHOST are the client's.
//     Older releases wrote no " ssh2", no port, or a certificate without its own fingerprint.
//   - sshd hands syslog(3) at most 500 bytes of a message, after escaping the client's bytes
//     (one byte may become four: "\302"), so a long message loses its end, sshd's " [preauth]"
//     included, and may then end in the client's text.
//   - sshd formats a message into 1,024 bytes (log.c MSGBUFSIZ); nothing longer is sshd's.

// maxSyslogMessage is the length from which a message may have been cut short by sshd's
// syslog(pri, "%.500s", …): its end is then no evidence of what sshd wrote.
const maxSyslogMessage = 500

// maxUserRaw is how long the text before sshd's " from " can be, in the client's bytes: sshd
// logs at most 100 bytes of a user name or banner (auth.c, auth-pam.c: "%.100s"), after
// "invalid user " or "illegal user ". In a message cut short, a " from " further in is the
// client's text (a key ID), whatever follows it. maxUserText is the same in logged bytes: log.c
// escapes each byte to at most four ("\302").
const (
	maxUserRaw  = 100 + len(" illegal user ") + len("''")
	maxUserText = 4*100 + len(" illegal user ") + len("''")
)

// maxMessage is twice sshd's message buffer. A longer message is not sshd's whole message;
// the shapes that would have to search it are refused unread, which also bounds the work a
// forged line can cause.
const maxMessage = 2048

// tailShape names the grammar of what sshd writes after the host in a message whose address
// follows " from ". The text before " from " is always the client's (a user name, a banner).
type tailShape uint8

const (
	tailFailedNone  tailShape = iota // " port N ssh2": password, keyboard-interactive, none
	tailFailedKey                    // " port N ssh2: INFO" with INFO as for publickey and hostbased
	tailFailedFree                   // " port N ssh2[: anything]": other methods (gssapi-with-mic logs the principal)
	tailInvalidUser                  // "[ port N]"
	tailNotAllowed                   // " not allowed because REASON", REASON without " from "
	tailMaxAttempts                  // " port N ssh2"
	tailPAM                          // "[ via HOST]"
	tailBanner                       // "[ port N]"
)

// failedShape is the tail grammar of a "Failed METHOD" line.
func failedShape(method []byte) tailShape {
	switch string(method) {
	case "password", "none", "keyboard-interactive":
		return tailFailedNone
	case "publickey", "hostbased":
		return tailFailedKey
	}
	if bytes.HasPrefix(method, []byte("keyboard-interactive/")) {
		return tailFailedNone
	}
	return tailFailedFree
}

// fromCandidates finds sshd's address in body, which holds text of the client's, then
// " from HOST", then sshd's tail of the given shape. Every " from " of body is a candidate; a
// candidate counts when the text after its host fits the shape. The client's text may hold
// " from X …" too, before sshd's part (a user name) or, for some shapes, after it (a
// certificate's key ID), so the parse is accepted only when every candidate that fits names the
// same address. With cut, the message may have lost its end: a tail fits when it is the start of
// one that fits, and a host at the very end is unreadable.
func fromCandidates(f Failure, body []byte, shape tailShape, cut bool) (Failure, Outcome) {
	if !cut {
		body = trimPreauth(body)
	}
	if len(body) > maxMessage {
		if bytes.Contains(body, []byte(" from ")) {
			return f, Refused
		}
		return f, Ignored
	}
	if !cut && shape != tailFailedKey && shape != tailFailedFree {
		// Fast path. These shapes' tails hold no " from " (REASON is checked for one), so only
		// the last " from " can fit: when it does with an address, the full scan below would
		// find it alone. The full scan still decides every other case.
		if i := lastFromIndex(body); i >= 0 {
			host, tail := token(body[i+len(" from "):])
			if a, ok := parseAddr(host); ok && tailFits(shape, tail, false) && (len(tail) > 0 || shape != tailFailedNone) {
				f.Addr = a
				f.readPort(tail)
				f.setUser(shape, body[:i])
				return f, Recognised
			}
		}
	}
	var (
		addr  netip.Addr
		port  uint16
		user  []byte // the text before the fitting " from "
		fits  int    // candidates whose tail fits and whose host is an address
		name  bool   // a candidate whose tail fits has a host name
		doubt bool   // two fitting addresses differ, or one cannot be sshd's: refuse
		other bool   // an address after " from " whose tail does not fit: the client's
	)
	for i := 0; ; {
		j := bytes.Index(body[i:], []byte(" from "))
		if j < 0 {
			break
		}
		at := i + j
		start := at + len(" from ")
		i = start - 1 // the next " from " may begin at this one's last space
		host, tail := token(body[start:])
		a, isAddr := parseAddr(host)
		switch {
		case len(host) == 0 || !tailFits(shape, tail, cut):
			other = other || isAddr
		case len(tail) == 0 && shape <= tailFailedFree && bytes.Count(body, []byte(" from ")) > 1:
			// Releases before OpenSSH 3.9 ended "Failed" lines at the host, so a host at the end
			// fits; but a Failed line's end may be the client's text (SSH-1 rhosts lines end in
			// the client's name, other methods' info is free): with another " from " the
			// reading is unsafe.
			doubt = true
		case cut && (len(tail) == 0 || at > maxUserText || rawLen(body[:at]) > maxUserRaw):
			// The cut may have gone through the host, or this is a key ID's text at the cut.
			doubt = true
		case !isAddr:
			name = true
		case fits > 0 && a != addr:
			doubt = true
		default:
			fits++
			addr, user = a, body[:at]
			var p Failure
			p.readPort(tail)
			port = p.Port
		}
	}
	switch {
	case fits > 0 && !name && !doubt:
		f.Addr, f.Port = addr, port
		f.setUser(shape, user)
		return f, Recognised
	case fits > 0 || doubt || other:
		return f, Refused
	}
	return f, Ignored // sshd logged a host name (UseDNS), or the line is not sshd's shape
}

// rawLen is how many bytes b stood for before sshd escaped it (log.c: strnvis with VIS_CSTYLE
// and VIS_OCTAL): "\ooo" and a backslash with one character ("\\", "\n", …) are one byte each.
// A backslash the client sent is itself escaped, so reading left to right is unambiguous.
func rawLen(b []byte) int {
	n := 0
	for i := 0; i < len(b); n++ {
		if b[i] != '\\' || i+1 == len(b) {
			i++
			continue
		}
		if i+3 < len(b) && isOctal(b[i+1]) && isOctal(b[i+2]) && isOctal(b[i+3]) {
			i += 4
		} else {
			i += 2
		}
	}
	return n
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

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

// trimPreauth drops the " [preauth]" sshd appends to messages of the pre-authentication process.
func trimPreauth(b []byte) []byte {
	b, _ = bytes.CutSuffix(b, []byte(" [preauth]"))
	return b
}

// tailFits reports whether t, the text after the host, is what sshd writes there in shape.
func tailFits(shape tailShape, t []byte, cut bool) bool {
	c := cursor{t: t, cut: cut, ok: true}
	switch shape {
	case tailFailedNone, tailFailedKey, tailFailedFree:
		return failedTail(&c, shape)
	case tailInvalidUser, tailBanner:
		if c.end() {
			return true
		}
		c.lit(" port ")
		c.digits()
		return c.end()
	case tailMaxAttempts:
		if c.end() {
			return true
		}
		c.lit(" port ")
		c.digits()
		if c.end() {
			return true
		}
		c.lit(" ssh2")
		if c.end() {
			return true
		}
		c.lit(" [preauth]") // only when cut: otherwise trimmed already
		return c.end()
	case tailNotAllowed:
		// auth.c's reasons ("listed in DenyUsers", "not listed in AllowUsers", "not in any
		// group", …) never hold " from ", and sshd's own " from " follows the client's user
		// name, so a reason with " from " is the client's text continuing. SSHGuard's tests
		// use reasons of other sshd builds, so the wording itself is not checked.
		c.lit(" not allowed because ")
		return c.ok && (c.cut || len(c.t) > 0 && !bytes.Contains(c.t, []byte(" from ")))
	case tailPAM:
		if c.end() {
			return true
		}
		c.lit(" via ")
		if !c.ok {
			return false
		}
		host, rest := token(c.t)
		return (len(host) > 0 || cut) && len(rest) == 0
	}
	return false
}

// failedTail reads "[ port N[ ssh1| ssh2[: INFO]]]" after the host of a "Failed" line.
func failedTail(c *cursor, shape tailShape) bool {
	if c.end() {
		return true // OpenSSH before 3.9 wrote no port
	}
	c.lit(" port ")
	c.digits()
	if c.end() {
		return true // SSH-1 lines of old releases end at the port
	}
	c.lit(" ssh")
	if !c.ok {
		return false
	}
	if len(c.t) == 0 {
		return c.cut
	}
	proto := c.t[0]
	if proto != '1' && proto != '2' {
		return false
	}
	c.t = c.t[1:]
	if len(c.t) == 0 {
		return true
	}
	if shape == tailFailedNone || proto == '1' {
		// sshd writes no ": INFO" for these methods. SSH-1 (gone since OpenSSH 7.4) appended
		// the client's rhosts name; accepting that would let a user name ending in "ssh1: "
		// absorb sshd's part, so those lines are refused instead.
		return false
	}
	c.lit(": ")
	if !c.ok {
		return false
	}
	if shape == tailFailedFree || c.cut {
		// Other methods' info is free text (gssapi-with-mic logs the principal); a message cut
		// short may have lost the structure that would tell a key's info from the client's.
		return true
	}
	return keyInfo(c.t)
}

// keyInfo reports whether b is the INFO sshd writes for publickey and hostbased: "TYPE FP",
// "TYPE FP ID KEYID (serial N) CA TYPE FP" (older: without the first FP), either followed by
// ", METHINFO", or METHINFO alone (hostbased before a key was read).
func keyInfo(b []byte) bool {
	if methInfo(b) {
		return true
	}
	typ, rest := token(b)
	if len(typ) == 0 || len(rest) == 0 {
		return false
	}
	rest = rest[1:]
	if after, ok := bytes.CutPrefix(rest, []byte("ID ")); ok && certTail(after) {
		return true
	}
	n := 0
	for n < len(rest) && rest[n] != ' ' && rest[n] != ',' {
		n++
	}
	if n == 0 {
		return false
	}
	rest = rest[n:]
	if len(rest) == 0 {
		return true
	}
	if after, ok := bytes.CutPrefix(rest, []byte(", ")); ok {
		return methInfo(after)
	}
	if after, ok := bytes.CutPrefix(rest, []byte(" ID ")); ok {
		return certTail(after)
	}
	return false
}

// certTail reports whether r, what follows " ID " in a certificate's INFO, is "KEYID (serial N)
// CA TYPE FP[, METHINFO]" for some KEYID. KEYID is the client's and may hold any of the
// markers, so every split is tried: the ending is read from the right.
func certTail(r []byte) bool {
	if certEnd(r) {
		return true
	}
	if i := bytes.LastIndex(r, []byte(", signature count = ")); i >= 0 &&
		allDigits(r[i+len(", signature count = "):]) && certEnd(r[:i]) {
		return true
	}
	if len(r) == 0 || r[len(r)-1] != '"' {
		return false
	}
	const user, host = `, client user "`, `", client host "`
	hostAt := bytes.LastIndex(r[:len(r)-1], []byte(host))
	for p := 0; hostAt >= 0; {
		q := bytes.Index(r[p:], []byte(user))
		if q < 0 || p+q+len(user) > hostAt {
			return false
		}
		q += p
		if certEnd(r[:q]) {
			return true
		}
		p = q + 1
	}
	return false
}

// certEnd reports whether r ends in " (serial N) CA TYPE FP" (what precedes is the key ID).
func certEnd(r []byte) bool {
	i := bytes.LastIndexByte(r, ' ')
	if i < 0 || i == len(r)-1 {
		return false // no FP
	}
	r = r[:i]
	j := bytes.LastIndexByte(r, ' ')
	if j < 0 || j == len(r)-1 {
		return false // no TYPE
	}
	r, ok := bytes.CutSuffix(r[:j+1], []byte(") CA "))
	if !ok {
		return false
	}
	k := len(r)
	for k > 0 && isDigit(r[k-1]) {
		k--
	}
	return k < len(r) && bytes.HasSuffix(r[:k], []byte(" (serial "))
}

// methInfo reports whether b is a method's own info: `client user "U", client host "H"`
// (hostbased; U and H are the client's) or "signature count = N" (security keys).
func methInfo(b []byte) bool {
	if after, ok := bytes.CutPrefix(b, []byte("signature count = ")); ok {
		return allDigits(after)
	}
	after, ok := bytes.CutPrefix(b, []byte(`client user "`))
	return ok && len(after) > 0 && after[len(after)-1] == '"' &&
		bytes.Contains(after[:len(after)-1], []byte(`", client host "`))
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if !isDigit(c) {
			return false
		}
	}
	return len(b) > 0
}

// cursor matches sshd's fixed text at the start of t. With cut, t may stop anywhere, as a
// message cut short does: running out of text then matches whatever was still to come.
type cursor struct {
	t   []byte
	cut bool
	ok  bool
}

// lit consumes s.
func (c *cursor) lit(s string) {
	switch {
	case !c.ok:
	case bytes.HasPrefix(c.t, []byte(s)):
		c.t = c.t[len(s):]
	case c.cut && bytes.HasPrefix([]byte(s), c.t):
		c.t = c.t[len(c.t):]
	default:
		c.ok = false
	}
}

// digits consumes a port number: one to five digits, at most 65535.
func (c *cursor) digits() {
	if !c.ok {
		return
	}
	n, v := 0, 0
	for n < len(c.t) && isDigit(c.t[n]) && n < 6 {
		v = v*10 + int(c.t[n]-'0')
		n++
	}
	if (n == 0 && !(c.cut && len(c.t) == 0)) || v > 65535 {
		c.ok = false
		return
	}
	c.t = c.t[n:]
}

// end reports whether everything matched and nothing is left.
func (c *cursor) end() bool { return c.ok && len(c.t) == 0 }

// setUser sets f.User from the text before sshd's " from " in a message of the shape: the user
// name after "[invalid user |illegal user ]". Two parses that agree on the address may disagree
// on where the user name ends; the last fitting one is taken, which only matters to Sessions'
// forgiveness (a wrong name forgives less, never more: see Sessions).
func (f *Failure) setUser(shape tailShape, before []byte) {
	if shape == tailBanner {
		return
	}
	before = skipOneSpace(before)
	if u, ok := bytes.CutPrefix(before, []byte("invalid user ")); ok {
		before = u
	} else if u, ok := bytes.CutPrefix(before, []byte("illegal user ")); ok {
		before = u
	}
	f.User = nameHash(before)
}

// nameHash is FNV-1a of a user or host name as logged, never 0 (0 is "none named").
func nameHash(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return max(h, 1)
}
