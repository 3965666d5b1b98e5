package authwatch

import "bytes"

// Message shapes added for issue 16: successful logins and the lines that tie an sshd process
// to its client (for Sessions), failures that name no address, the client's own disconnect
// reasons, the prefixes relays put before a message, and Dropbear. Formats from
// openssh-portable (auth.c auth_log, packet.c, sshd-session.c, kex.c) and dropbear (src/
// svr-auth.c, svr-authpasswd.c, svr-authpam.c, svr-authpubkey.c, svr-session.c, svr-main.c).

// maxDropbearMessage is the size of dropbear's log buffer (dbutil.c printbuf): a message that
// long may have lost its end, where dropbear writes the address.
const maxDropbearMessage = 1023

// maxDropbearUser is the longest user name, in logged bytes, read from a "Login attempt for
// nonexistent user 'U' from A:P". U is the client's, at most
// MAX_USERNAME_LEN (100) bytes (svr-auth.c), but a syslog daemon may escape its control
// characters into several bytes each; the line ends in dropbear's address only if it was not cut,
// and BusyBox syslogd reads 256 bytes by default. With U at most 100 logged bytes the whole line
// fits in 256 with its header, so its end is dropbear's; a longer U is refused.
const maxDropbearUser = 100

// methodOf names the method of an "Accepted|Failed METHOD for" line.
func methodOf(m []byte) Method {
	switch string(m) {
	case "password":
		return MethodPassword
	case "publickey":
		return MethodPublickey
	case "hostbased":
		return MethodHostbased
	case "none":
		return MethodNone
	case "keyboard-interactive":
		return MethodKeyboardInteractive
	case "gssapi-with-mic", "gssapi-keyex", "gssapi":
		return MethodGSSAPI
	}
	if bytes.HasPrefix(m, []byte("keyboard-interactive/")) {
		return MethodKeyboardInteractive
	}
	return MethodOther
}

// authLine reads "METHOD for [invalid user ]U from A port N ssh2[: INFO]" after "Accepted ",
// "Postponed " or "Partial " (auth.c auth_log: the same format as "Failed"), with the same
// address rule as a Failed line. A line whose address cannot be told apart from the client's
// text is Ignored: it must not forgive or link anything.
func authLine(f Failure, rest []byte, out Outcome, cut bool) (Failure, Outcome) {
	method, rest := token(rest)
	body, found := bytes.CutPrefix(rest, []byte(" for "))
	if len(method) == 0 || !found {
		return Failure{}, Ignored
	}
	f.Method = methodOf(method)
	f, o := fromCandidates(f, body, failedShape(method), cut)
	if o != Recognised {
		return Failure{}, Ignored
	}
	return f, out
}

// linked turns a parse of sshd's own address into a Linked line: not a failure.
func linked(f Failure, o Outcome) (Failure, Outcome) {
	if o != Recognised {
		return Failure{}, Ignored
	}
	f.Kind, f.InvalidUser = KindNone, false
	return f, Linked
}

// closed reads what follows "Connection closed by ", "Connection reset by " or "Disconnected
// from " (packet.c sshpkt_vfatal: "%s PREAMBLE A port N"). In [preauth], a client that left
// before authenticating (rightEnd). Otherwise, when no user precedes the address (the first
// word is the address), the end of a connection whose address sshd names: Linked.
func closed(f Failure, rest []byte, cut bool) (Failure, Outcome) {
	g, o := rightEnd(f, rest, true, nil, cut)
	if o != Ignored || cut {
		return g, o
	}
	tok, _ := token(rest)
	if _, ok := parseAddr(tok); !ok {
		return Failure{}, Ignored
	}
	return linked(fixed(f, rest))
}

// received reads "A port N:CODE: TEXT" (packet.c, OpenSSH 7.2+) or "A: CODE: TEXT" (before)
// after "Received disconnect from ". The address is sshd's, at a fixed place; CODE and TEXT are
// the client's own reason for leaving (RFC 4253 §11.1), which can only speak against the client
// itself: 3 with "Auth fail" is JSch's failed login (KindFailed), 14 (no more authentication
// methods available) a client with no method the server offers (KindNoKex). Other reasons only
// link the process to its client.
func received(f Failure, rest []byte) (Failure, Outcome) {
	tok, after := token(rest)
	if a, old := bytes.CutSuffix(tok, []byte(":")); old {
		addr, ok := parseAddr(a)
		if !ok {
			return Failure{}, Ignored
		}
		f.Addr = addr
		after = skipOneSpace(after)
	} else {
		addr, ok := parseAddr(tok)
		if !ok {
			return Failure{}, Ignored
		}
		f.Addr = addr
		var found bool
		if after, found = bytes.CutPrefix(f.readPort(after), []byte(":")); !found {
			return Failure{}, Ignored
		}
	}
	i := 0
	for i < len(after) && isDigit(after[i]) {
		i++
	}
	code := after[:i]
	text, found := bytes.CutPrefix(after[i:], []byte(":"))
	if i == 0 || !found {
		return Failure{}, Ignored
	}
	text = trimPreauth(skipOneSpace(text))
	switch {
	case string(code) == "3" && (bytes.HasSuffix(text, []byte(": Auth fail")) || string(text) == "Auth fail"):
		f.Kind = KindFailed
		return f, Recognised
	case string(code) == "14":
		f.Kind = KindNoKex
		return f, Recognised
	}
	return f, Linked
}

// serverLtype reads "WORD;Remote: A-P;…" after "SSH: Server;Ltype: ", the connection log of
// SUSE's and other patched sshds (fail2ban gh-864): the address is sshd's, before the client's
// version or user name.
func serverLtype(f Failure, rest []byte) (Failure, Outcome) {
	i := indexByte(rest, ';')
	if i < 1 {
		return Failure{}, Ignored
	}
	r, found := bytes.CutPrefix(rest[i:], []byte(";Remote: "))
	if !found {
		return Failure{}, Ignored
	}
	end := indexByte(r, ';')
	if end < 0 {
		return Failure{}, Ignored
	}
	j := bytes.LastIndexByte(r[:end], '-')
	if j < 0 {
		return Failure{}, Ignored
	}
	addr, ok := parseAddr(r[:j])
	if !ok {
		return Failure{}, Ignored
	}
	if p, ok := atoi(r[j+1 : end]); ok && p <= 65535 {
		f.Port = uint16(p)
	}
	f.Addr = addr
	return f, Linked
}

// trimKernel drops the "kernel:[  970.699396]: " (or "kernel: [ 970.6] ") some journald and
// syslog relays put before sshd's message (fail2ban's journal corpus).
func trimKernel(msg []byte) []byte {
	rest, found := bytes.CutPrefix(msg, []byte("kernel:"))
	if !found {
		return msg
	}
	rest = skipSpaces(rest)
	if len(rest) > 0 && rest[0] == '[' {
		i := indexByte(rest, ']')
		if i < 0 {
			return msg
		}
		rest, _ = bytes.CutPrefix(rest[i+1:], []byte(":"))
	}
	return skipSpaces(rest)
}

// trimDropbearStamp drops the "[PID] Mmm dd hh:mm:ss " dropbear writes before its message when
// it logs to standard error, which the journal then keeps (fail2ban gh-3597).
func trimDropbearStamp(msg []byte) []byte {
	if len(msg) < 4 || msg[0] != '[' || !isDigit(msg[1]) {
		return msg
	}
	i := indexByte(msg, ']')
	if i < 0 {
		return msg
	}
	if _, ok := atoi(msg[1:i]); !ok {
		return msg
	}
	rest, found := bytes.CutPrefix(msg[i+1:], []byte(" "))
	if !found || len(rest) <= 15 || rest[3] != ' ' || !isMonth(rest[:3]) {
		return msg
	}
	n := len3164(rest)
	if n == 0 {
		return msg
	}
	return skipOneSpace(rest[n:])
}

// dropbearAddr reads dropbear's address string (svr-session.c): "A:P", "[A]:P" for IPv6 since
// 2026.94, and IPv6 without brackets before ("::ffff:192.0.2.1:5543"): the port is always last.
func dropbearAddr(f Failure, b []byte) (Failure, Outcome) {
	var host, port []byte
	if len(b) > 0 && b[0] == '[' {
		i := bytes.Index(b, []byte("]:"))
		if i < 0 {
			return Failure{}, Ignored
		}
		host, port = b[1:i], b[i+2:]
	} else {
		i := bytes.LastIndexByte(b, ':')
		if i < 0 {
			return Failure{}, Ignored
		}
		host, port = b[:i], b[i+1:]
	}
	p, ok := atoi(port)
	if !ok || p > 65535 {
		return Failure{}, Ignored
	}
	addr, ok := parseAddr(host)
	if !ok {
		return Failure{}, Ignored
	}
	f.Addr, f.Port = addr, uint16(p)
	return f, Recognised
}

// dropbearEnd reads a dropbear message that ends in " from ADDR:PORT" (svr-auth*.c). Before that
// stands the account's quoted name, or, in the "Login attempt for nonexistent user 'U' from"
// fail2ban's filter also reads (dropbear's own releases never named that user), the client's:
// the address is read from the right end, which is dropbear's as long as the message was not
// cut. ", extra auth required" after a success
// (another method must follow) makes the line Linked rather than Accepted.
func dropbearEnd(f Failure, rest []byte, out Outcome) (Failure, Outcome) {
	long := len(rest) >= maxDropbearMessage-len("Login attempt for nonexistent user")
	if u, quoted := bytes.CutPrefix(rest, []byte(" '")); quoted && f.Kind == KindInvalidUser {
		q := bytes.LastIndex(u, []byte("' from "))
		long = long || q < 0 || q > maxDropbearUser
	}
	if long {
		if out == Recognised {
			return f, Refused
		}
		return Failure{}, Ignored
	}
	if r, partial := bytes.CutSuffix(rest, []byte(", extra auth required")); partial {
		rest = r
		if out == Accepted {
			out = Linked
		}
	}
	i := bytes.LastIndexByte(rest, ' ')
	if i < 0 || !bytes.HasSuffix(rest[:i], []byte(" from")) {
		return Failure{}, Ignored
	}
	f, o := dropbearAddr(f, rest[i+1:])
	if o != Recognised {
		return Failure{}, Ignored
	}
	if q := bytes.LastIndexByte(rest[:i], '\''); q >= 0 && f.Kind != KindInvalidUser {
		f.User = nameHash(rest[:q]) // "'U' from", "'U' with TYPE key FP from": the account's name
	}
	if out != Recognised {
		f.Kind, f.InvalidUser = KindNone, false
	}
	return f, out
}

// exitBeforeAuth reads what follows dropbear's "Exit before auth" (svr-session.c
// svr_dropbear_exit): " from <ADDR:PORT>: [(user 'U', N fails): ]REASON" since 2020.79, " (user
// 'U', N fails): REASON" before, with the address at the end when REASON is "Max auth tries
// reached - user 'U' from ADDR:PORT" (older releases). Max auth tries is KindMaxAttempts (user
// 'is invalid': an unknown user); any other exit before authenticating is KindPreauth, as
// SSHGuard scores it.
func exitBeforeAuth(f Failure, rest []byte) (Failure, Outcome) {
	const maxTries = "Max auth tries reached - user '"
	if r, found := bytes.CutPrefix(rest, []byte(" from <")); found {
		end := indexByte(r, '>')
		if end < 0 || !bytes.HasPrefix(r[end:], []byte(">:")) {
			return Failure{}, Ignored
		}
		reason := r[end+2:]
		f.Kind = KindPreauth
		if i := bytes.Index(reason, []byte(maxTries)); i >= 0 {
			f.Kind = KindMaxAttempts
			f.InvalidUser = bytes.HasPrefix(reason[i+len(maxTries):], []byte("is invalid'"))
		}
		return dropbearAddr(f, r[:end])
	}
	if r, found := bytes.CutPrefix(rest, []byte(" (user '")); found && bytes.Contains(r, []byte(maxTries)) {
		f.Kind = KindMaxAttempts
		return dropbearEnd(f, r, Recognised)
	}
	return Failure{}, Ignored
}
