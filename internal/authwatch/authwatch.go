// Package authwatch recognises SSH authentication failures in log lines: OpenSSH's sshd,
// sshd-session and sshd-auth messages and Dropbear's, in syslog files (RFC 3164, ISO 8601 and
// RFC 5424 timestamps; BusyBox, FreeBSD -v, socklog, rsyslog and sysklogd variants of the
// header), journalctl output (short, short-iso, short-precise, short-unix, cat, and the MESSAGE=
// lines of export), and the macOS unified log (log show/stream, syslog and default styles). It
// is the pure "parse and decide" half of the brute-force guard: bytes in, a Failure out, no I/O,
// no allocation. Besides failures, Classify reports the lines that correlate a process's lines
// (successful logins, lines that name the client of a PID, failures that name no address);
// Sessions does the correlation.
//
// The address is the one sshd wrote in its own part of a message, found by the message's shape.
// The client chooses text on both sides of it: the user name before ("Failed password for
// invalid user U from ADDR port N ssh2"), and for some messages text after (a certificate's key
// ID, hostbased's client user and host, a key-exchange offer). So neither the first nor the last
// " from " can be trusted: each shape is parsed from the fixed text sshd writes around the
// address, every parse the shape allows is tried, and a line whose parses disagree, or whose only
// address sits in the client's text, is refused (Classify says Refused) rather than guessed at.
// See Kind for the messages and the rule each uses, and shape.go for the grammar.
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

// Kinds of failure. The message each stands for is quoted with its address rule: "from shape"
// means the address follows a " from " after which the rest of the line is exactly what sshd
// writes there (every " from " is tried; two fitting ones that disagree refuse the line), "right
// end" that it is the last token before " port N [preauth]", "fixed" that only sshd's own text
// precedes it. Messages of 500 bytes or more may have been cut short by sshd (see shape.go): their
// end proves nothing, so right-end lines that long are refused and from-shape lines accept any
// start of sshd's tail.
const (
	// KindNone is the zero Kind; Parse never returns it with ok.
	KindNone Kind = iota
	// KindFailed: "Failed METHOD for [invalid user ]U from A port N ssh2[: INFO]" (methods
	// other than publickey and hostbased: password, keyboard-interactive/pam, none, …; those two
	// are KindFailedKey). Also the client's own "Received disconnect from A port N:3: …: Auth
	// fail" (JSch; fixed) and Dropbear's "Bad [PAM ]password attempt for 'U' from A:P" (right
	// end: Dropbear ends its messages with the address). From shape: nothing follows
	// "ssh2" for password, keyboard-interactive and none; for publickey and hostbased INFO is a
	// key ("TYPE FP"), a certificate ("TYPE FP ID KEYID (serial N) CA TYPE FP") and/or hostbased's
	// `client user "CU", client host "CH"`, where KEYID, CU and CH are the client's; other
	// methods' INFO is free text.
	KindFailed
	// KindInvalidUser: "Invalid user U from A[ port N]" (also "Illegal user", OpenSSH < 3.9).
	// From shape. Dropbear: "Login attempt for nonexistent user[ 'U'] from A:P" (right end;
	// Unaddressed without " from A:P", as Dropbear 2020.79–2024.85 wrote it).
	KindInvalidUser
	// KindNotAllowed: "User U from A not allowed because REASON" (AllowUsers, DenyUsers,
	// groups). From shape: REASON holds no " from " (none of auth.c's does). Unaddressed: "User
	// U not allowed because account is locked" (or the shell is missing) and "Disconnecting
	// [invalid|authenticating ]user U A port N: Change of username or service not allowed: …"
	// (the client's names stand on both sides of the address). Dropbear: "Login attempt with
	// wrong user U from A:P".
	KindNotAllowed
	// KindRootRefused: "ROOT LOGIN REFUSED FROM A[ port N]". Fixed.
	KindRootRefused
	// KindMaxAttempts: "[error: ]maximum authentication attempts exceeded for … from A port N
	// ssh2" (from shape) and "Disconnecting [invalid|authenticating ]user U A port N: Too many
	// authentication failures" (right end); Unaddressed: "Disconnecting: Too many
	// authentication failures[ for U]" (before OpenSSH 7). Dropbear: "Exit before auth from
	// <A:P>: … Max auth tries reached - user 'U'" (fixed; since 2020.79) and, before, "Exit
	// before auth (user 'U', N fails): Max auth tries reached - user 'U' from A:P" (right end).
	KindMaxAttempts
	// KindPAM: "pam_MODULE(sshd:auth): authentication failure; logname= … ruser= rhost=A[ user=U]"
	// (the rhost field after ruser=: pam_unix appends the user, which with its audit option is
	// the client's name, after rhost) and "[error: ]PAM: authentication failure|authentication
	// error|unknown user|User not known to the underlying authentication module for U from A[ via
	// B]" (from shape).
	KindPAM
	// KindPreauth: a client that left before authenticating: "Connection closed|reset by
	// [authenticating |invalid ]user U A port N [preauth]", "Connection closed by A[ port N]
	// [preauth]", "Disconnected from [authenticating |invalid ]user U A port N [preauth]". Right
	// end; without "[preauth]" the same messages end a normal session and are not failures
	// (when they name no user, they are Linked). Unaddressed: "fatal: Read from socket failed:
	// Connection reset by peer [preauth]" (before OpenSSH 7.2). Dropbear: any other "Exit
	// before auth from <A:P>: REASON" (fixed).
	KindPreauth
	// KindNoIdent: "Did not receive identification string from A[ port N]" (a port scan).
	// Fixed. Unaddressed, OpenSSH 8.2+: "kex_exchange_identification: Connection closed by
	// remote host", "…: read: Connection reset by peer", "…: client sent invalid protocol
	// identifier …".
	KindNoIdent
	// KindBadBanner: "Bad protocol version identification 'X' from A[ port N]" (from shape: X
	// is the client's banner), "banner exchange: Connection from A port N: invalid format" and
	// "ssh_dispatch_run_fatal: Connection from A port N: message authentication code
	// incorrect|Connection corrupted [preauth]" (fixed): garbage where SSH was expected.
	KindBadBanner
	// KindNoKex: "[fatal: ]Unable to negotiate with A port N: no matching … Their offer: X".
	// Fixed: the client's offer comes after the address. Also a client with no authentication
	// method the server offers: "Received disconnect from A port N:14: No supported
	// authentication methods available" (fixed; often a password bot at a key-only server).
	// Unaddressed: "Unable to negotiate a key exchange method" and "no matching mac found: …"
	// (before OpenSSH 7.3).
	KindNoKex
	// KindTimeout: "Timeout before authentication for connection from A to B, pid = N"
	// (OpenSSH 9.8+), "[fatal: ]Timeout before authentication for A port N" (before). Fixed.
	KindTimeout
	// KindPenalty: "drop connection #N from [A]:P on [B]:P penalty: REASON" (OpenSSH 9.8
	// PerSourcePenalties: sshd has judged the source itself). Fixed.
	KindPenalty
	// KindRefused: TCP wrappers' "refused connect from [ident@]HOST (A)". Right end: the
	// ident user name and the host name before it come from the client.
	KindRefused
	// KindFailedKey: "Failed publickey|hostbased for [invalid user ]U from A port N ssh2: …": a
	// key the client offered was not accepted. An agent holding several keys offers them in
	// turn, so a valid user writes these before "Accepted publickey"; a guard weighs them apart
	// from failed passwords. From shape, as KindFailed. Dropbear: "Pubkey auth bad signature for
	// 'U' with key FP from A:P".
	KindFailedKey
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
	KindFailedKey:   "failed-key",
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
	// Service is "sshd", "sshd-session", "sshd-auth" or "dropbear" from the line's tag, or ""
	// when the line has no tag (journalctl -o cat, socklog's facility).
	Service string
	// PID is the process id from the tag or column, 0 when absent.
	PID int
	// Method is the authentication method a "Failed METHOD" or "Accepted METHOD" line names;
	// MethodUnknown for other lines.
	Method Method
	// User identifies the user name the line names, as a 64-bit FNV-1a hash of the name as
	// logged (0 when the line names none): enough for Sessions to tell whether the failures of
	// a process were for the user that then logged in, without keeping the client's text.
	User uint64
	// Host identifies the host the line's header names (a hash of the name, as User), 0 when it
	// names none (journalctl -o cat, the unified log): PIDs are per host, so Sessions keeps the
	// processes of different hosts apart in a log that mixes them.
	Host uint64
}

// Method is an SSH authentication method (RFC 4252 and its extensions) as sshd names it.
type Method uint8

// Methods.
const (
	MethodUnknown Method = iota
	MethodPassword
	MethodPublickey
	MethodKeyboardInteractive // keyboard-interactive and keyboard-interactive/pam
	MethodHostbased
	MethodNone
	MethodGSSAPI // gssapi-with-mic, gssapi-keyex
	MethodOther
)

var methodNames = [...]string{MethodUnknown: "", MethodPassword: "password", MethodPublickey: "publickey",
	MethodKeyboardInteractive: "keyboard-interactive", MethodHostbased: "hostbased", MethodNone: "none",
	MethodGSSAPI: "gssapi", MethodOther: "other"}

// String returns the method's name as sshd writes it ("" for MethodUnknown).
func (m Method) String() string {
	if int(m) < len(methodNames) {
		return methodNames[m]
	}
	return "method(" + strconv.Itoa(int(m)) + ")"
}

// Outcome is what Classify made of a line.
type Outcome uint8

const (
	// Ignored: not an SSH authentication failure. Other programs' lines, successful logins,
	// sessions that ended normally, and failures whose host sshd logged as a name (UseDNS yes).
	Ignored Outcome = iota
	// Recognised: a failure, and the Failure's Addr is the one sshd wrote.
	Recognised
	// Refused: a line with the shape of an sshd failure that holds an address, but none that
	// can be told apart from the client's text: two parses give different addresses, the only
	// address stands where the client's text goes, or the message may have been cut short
	// where the client's text ends it. The Failure has the Kind, Service, PID and Time, no
	// address. A guard counts these lines so that an operator can see them; it never bans on
	// them.
	Refused
	// Accepted: a successful authentication, "Accepted METHOD for U from A port N ssh2[: …]"
	// (from shape, as a Failed line; a line whose address is in doubt is Ignored), Dropbear's
	// "Password|PAM password|Pubkey auth succeeded for 'U' … from A:P". Not a failure: the
	// Failure has Addr, Method, User, Service, PID and Time, Kind is KindNone. Sessions uses it
	// to forgive the failures the same sshd process logged before it.
	Accepted
	// Unaddressed: an sshd failure whose message names no address ("Disconnecting: Too many
	// authentication failures for root [preauth]"): only the process that wrote it knows its
	// client. The Failure has Kind, Service, PID and Time; Sessions fills the address from an
	// earlier line of the same PID.
	Unaddressed
	// Linked: not a failure, but a line in which sshd names the client of its PID, always at a
	// place only sshd writes: "Connection from A port N on B port M" (LogLevel VERBOSE),
	// "Received disconnect from A port N:CODE: …" (other reasons than those counted),
	// "Connection closed|reset by A port N" and "Disconnected from A port N" without
	// [preauth], "Postponed|Partial METHOD for U from A port N ssh2" (from shape), SUSE's "SSH:
	// Server;Ltype: …;Remote: A-N;…", Dropbear's "Child connection from A:P" and a success
	// that needs another method. Kind is KindNone. Sessions remembers it; a guard counts
	// nothing.
	Linked
)

var outcomeNames = [...]string{Ignored: "ignored", Recognised: "recognised", Refused: "refused",
	Accepted: "accepted", Unaddressed: "unaddressed", Linked: "linked"}

// String returns "ignored", "recognised", "refused", "accepted", "unaddressed" or "linked".
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
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

// Parse reports whether line is an SSH authentication failure and, if it is, what it says: it is
// Classify with Refused lines reported as not failures. ok=false always comes with the zero
// Failure.
func (p *Parser) Parse(line []byte) (Failure, bool) {
	f, o := p.Classify(line)
	if o != Recognised {
		return Failure{}, false
	}
	return f, true
}

// Classify says whether line is an SSH authentication failure whose address is sshd's
// (Recognised), an sshd failure message it refuses to take an address from (Refused), a
// failure that names no address (Unaddressed), a successful login (Accepted), a line that names
// the client of its process (Linked), or anything else (Ignored), and returns what the line
// says. line is one log line without its
// newline (a trailing "\r" or "\n" is ignored). Failures whose host is a name rather than an
// address (UseDNS yes) are Ignored: a name was looked up by sshd in DNS the client's owner
// controls. With Ignored the Failure is zero; with Refused it has no address.
func (p *Parser) Classify(line []byte) (Failure, Outcome) {
	for len(line) > 0 && (line[len(line)-1] == '\n' || line[len(line)-1] == '\r') {
		line = line[:len(line)-1]
	}
	h, msg, ok := splitHeader(line)
	if !ok {
		return Failure{}, Ignored
	}
	f, o := parseMessage(msg)
	switch o {
	case Ignored:
		return Failure{}, Ignored
	case Refused:
		f.Addr, f.Port = netip.Addr{}, 0
	}
	f.Service, f.PID = h.service, h.pid
	if len(h.host) > 0 {
		f.Host = nameHash(h.host)
	}
	if h.format != stampNone {
		loc := p.Location
		if loc == nil {
			loc = time.UTC
		}
		f.Time = stampTime(&h, p.Now, loc)
	}
	return f, o
}

// parseMessage recognises the message text after the header.
func parseMessage(msg []byte) (f Failure, o Outcome) {
	if bytes.HasPrefix(msg, []byte("[ID ")) { // Solaris: "[ID 800047 auth.info] Failed …"
		i := bytes.Index(msg, []byte("] "))
		if i < 0 {
			return f, Ignored
		}
		msg = msg[i+2:]
	}
	msg = trimKernel(msg)
	msg = trimDropbearStamp(msg)
	// The length sshd's syslog call cut at includes the "error: " it prefixes.
	cut := len(msg) >= maxSyslogMessage
	// sshd ends no message in a blank, but some relays add one.
	for len(msg) > 0 && (msg[len(msg)-1] == ' ' || msg[len(msg)-1] == '\t') {
		msg = msg[:len(msg)-1]
	}
	if len(msg) > 7 && msg[5] == ':' && msg[6] == ' ' &&
		(bytes.HasPrefix(msg, []byte("error")) || bytes.HasPrefix(msg, []byte("fatal"))) {
		msg = msg[7:]
	}
	if len(msg) < 8 {
		return f, Ignored
	}
	switch msg[0] {
	case 'F':
		if rest, found := bytes.CutPrefix(msg, []byte("Failed ")); found {
			method, rest := token(rest)
			body, found := bytes.CutPrefix(rest, []byte(" for "))
			if len(method) == 0 || !found {
				return f, Ignored
			}
			f.Kind, f.Method = KindFailed, methodOf(method)
			if f.Method == MethodPublickey || f.Method == MethodHostbased {
				f.Kind = KindFailedKey
			}
			f.InvalidUser = bytes.HasPrefix(body, []byte("invalid user ")) ||
				bytes.HasPrefix(body, []byte("illegal user ")) ||
				bytes.HasPrefix(body, []byte("<invalid username> "))
			return fromCandidates(f, body, failedShape(method), cut)
		}
	case 'A':
		if rest, found := bytes.CutPrefix(msg, []byte("Accepted ")); found {
			return authLine(f, rest, Accepted, cut)
		}
		if rest, found := bytes.CutPrefix(msg, []byte("Auth succeeded with blank password for '")); found {
			f.Method = MethodNone
			return dropbearEnd(f, rest, Accepted)
		}
	case 'I':
		if bytes.HasPrefix(msg, []byte("Invalid user ")) || bytes.HasPrefix(msg, []byte("Illegal user ")) {
			f.Kind, f.InvalidUser = KindInvalidUser, true
			return fromCandidates(f, msg[len("Invalid user "):], tailInvalidUser, cut)
		}
	case 'U':
		if rest, found := bytes.CutPrefix(msg, []byte("User ")); found {
			f.Kind = KindNotAllowed
			f, o = fromCandidates(f, rest, tailNotAllowed, cut)
			if i := bytes.Index(rest, []byte(" not allowed because ")); o == Ignored && i > 0 && !bytes.Contains(rest, []byte(" from ")) {
				// auth.c: "User U not allowed because account is locked" (or the shell
				// is missing): the process knows its client.
				f.User = nameHash(rest[:i])
				return f, Unaddressed
			}
			return f, o
		}
		if rest, found := bytes.CutPrefix(msg, []byte("Unable to negotiate with ")); found {
			f.Kind = KindNoKex
			return fixed(f, rest)
		}
		if bytes.HasPrefix(msg, []byte("Unable to negotiate a ")) {
			// Before OpenSSH 7.3: "fatal: Unable to negotiate a key exchange method [preauth]".
			f.Kind = KindNoKex
			return f, Unaddressed
		}
	case 'R':
		if rest, found := bytes.CutPrefix(msg, []byte("ROOT LOGIN REFUSED FROM ")); found {
			f.Kind = KindRootRefused
			return fixed(f, rest)
		}
		if rest, found := bytes.CutPrefix(msg, []byte("Received disconnect from ")); found {
			return received(f, rest)
		}
		if bytes.HasPrefix(msg, []byte("Read from socket failed: Connection reset by peer")) {
			f.Kind = KindPreauth // before OpenSSH 7.2 (fail2ban gh-864)
			return f, Unaddressed
		}
	case 'm':
		if rest, found := bytes.CutPrefix(msg, []byte("maximum authentication attempts exceeded for ")); found {
			f.Kind = KindMaxAttempts
			f.InvalidUser = bytes.HasPrefix(rest, []byte("invalid user "))
			return fromCandidates(f, rest, tailMaxAttempts, cut)
		}
	case 'P':
		if rest, found := bytes.CutPrefix(msg, []byte("PAM: ")); found {
			return pamError(f, rest, cut)
		}
		if rest, found := bytes.CutPrefix(msg, []byte("Postponed ")); found {
			return authLine(f, rest, Linked, cut)
		}
		if rest, found := bytes.CutPrefix(msg, []byte("Partial ")); found {
			return authLine(f, rest, Linked, cut)
		}
		if rest, found := bytes.CutPrefix(msg, []byte("Password auth succeeded for '")); found {
			f.Method = MethodPassword
			return dropbearEnd(f, rest, Accepted)
		}
		if rest, found := bytes.CutPrefix(msg, []byte("PAM password auth succeeded for '")); found {
			f.Method = MethodPassword
			return dropbearEnd(f, rest, Accepted)
		}
		if rest, found := bytes.CutPrefix(msg, []byte("Pubkey auth succeeded for '")); found {
			f.Method = MethodPublickey
			return dropbearEnd(f, rest, Accepted)
		}
		if rest, found := bytes.CutPrefix(msg, []byte("Pubkey auth bad signature for '")); found {
			f.Kind, f.Method = KindFailedKey, MethodPublickey
			return dropbearEnd(f, rest, Recognised)
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
			return closed(f, rest, cut)
		}
		if rest, found := bytes.CutPrefix(msg, []byte("Connection from ")); found {
			// sshd-session.c (LogLevel VERBOSE): "Connection from A port N on B port M[
			// rdomain "R"]", the first line of a connection; older: "Connection from A[ port N]".
			return linked(fixed(f, rest))
		}
		if rest, found := bytes.CutPrefix(msg, []byte("Child connection from ")); found {
			return linked(dropbearAddr(f, rest)) // dropbear svr-main.c
		}
	case 'D':
		if rest, found := bytes.CutPrefix(msg, []byte("Disconnected from ")); found {
			f.Kind = KindPreauth
			return closed(f, rest, cut)
		}
		if rest, found := bytes.CutPrefix(msg, []byte("Disconnecting: Too many authentication failures")); found {
			// Before OpenSSH 7.x: "Disconnecting: Too many authentication failures for U
			// [preauth]", no address.
			f.Kind = KindMaxAttempts
			if u, named := bytes.CutPrefix(trimPreauth(rest), []byte(" for ")); named {
				f.User = nameHash(u)
			}
			return f, Unaddressed
		}
		if rest, found := bytes.CutPrefix(msg, []byte("Disconnecting ")); found {
			f.Kind = KindMaxAttempts
			f, o = rightEnd(f, rest, false, []byte(": Too many authentication failures"), cut)
			if o == Ignored && bytes.Contains(rest, []byte(": Change of username or service not allowed: ")) {
				// auth2.c: a client that changed its user name in mid-authentication. The
				// client's names stand on both sides of the address; the process knows it.
				f.Kind = KindNotAllowed
				return f, Unaddressed
			}
			return f, o
		}
		if rest, found := bytes.CutPrefix(msg, []byte("Did not receive identification string from ")); found {
			f.Kind = KindNoIdent
			return fixed(f, rest)
		}
	case 'B', 'b':
		if rest, found := bytes.CutPrefix(msg, []byte("Bad protocol version identification ")); found {
			f.Kind = KindBadBanner
			return fromCandidates(f, rest, tailBanner, cut)
		}
		if rest, found := bytes.CutPrefix(msg, []byte("banner exchange: Connection from ")); found &&
			bytes.HasSuffix(rest, []byte(": invalid format")) {
			f.Kind = KindBadBanner
			return fixed(f, rest)
		}
		// Dropbear (svr-authpasswd.c, svr-authpam.c; lowercase before 0.53, 2011).
		rest, found := bytes.CutPrefix(msg[1:], []byte("ad password attempt for '"))
		if !found {
			rest, found = bytes.CutPrefix(msg[1:], []byte("ad PAM password attempt for '"))
		}
		if found {
			f.Kind, f.Method = KindFailed, MethodPassword
			return dropbearEnd(f, rest, Recognised)
		}
	case 'L', 'l':
		if rest, found := bytes.CutPrefix(msg[1:], []byte("ogin attempt for nonexistent user")); found {
			f.Kind, f.InvalidUser = KindInvalidUser, true
			if len(rest) == 0 {
				// Dropbear 2020.79 to 2024.85 wrote no address here; the process's "Child
				// connection from" or "Exit before auth from" line names it.
				return f, Unaddressed
			}
			return dropbearEnd(f, rest, Recognised)
		}
		if rest, found := bytes.CutPrefix(msg[1:], []byte("ogin attempt with wrong user ")); found {
			f.Kind = KindNotAllowed
			return dropbearEnd(f, rest, Recognised)
		}
	case 'E':
		if rest, found := bytes.CutPrefix(msg, []byte("Exit before auth")); found {
			return exitBeforeAuth(f, rest)
		}
	case 'S':
		if rest, found := bytes.CutPrefix(msg, []byte("SSH: Server;Ltype: ")); found {
			return serverLtype(f, rest)
		}
	case 'k':
		if rest, found := bytes.CutPrefix(msg, []byte("kex_exchange_identification: ")); found {
			// sshd-session.c/kex.c, OpenSSH 8.2+: a connection that sent no SSH banner (a
			// scanner); the address is in the process's other lines.
			rest, _ = bytes.CutPrefix(rest, []byte("read: "))
			if bytes.HasPrefix(rest, []byte("Connection closed by remote host")) ||
				bytes.HasPrefix(rest, []byte("Connection reset by peer")) ||
				bytes.HasPrefix(rest, []byte("client sent invalid protocol identifier")) ||
				bytes.HasPrefix(rest, []byte("Client sent invalid protocol identifier")) {
				f.Kind = KindNoIdent
				return f, Unaddressed
			}
		}
	case 's':
		if rest, found := bytes.CutPrefix(msg, []byte("ssh_dispatch_run_fatal: Connection from ")); found {
			// packet.c sshpkt_vfatal: garbage after the banner exchange.
			if bytes.HasSuffix(rest, []byte(": message authentication code incorrect [preauth]")) ||
				bytes.HasSuffix(rest, []byte(": Connection corrupted [preauth]")) {
				f.Kind = KindBadBanner
				return fixed(f, rest)
			}
		}
	case 'n':
		if rest, found := bytes.CutPrefix(msg, []byte("no matching ")); found && bytes.Contains(rest, []byte(" found: ")) {
			// Before OpenSSH 7.3: "fatal: no matching mac found: client … server … [preauth]".
			f.Kind = KindNoKex
			return f, Unaddressed
		}
	case 'T':
		if rest, found := bytes.CutPrefix(msg, []byte("Timeout before authentication for ")); found {
			// OpenSSH 9.8+: "… for connection from A to B, pid = N"; before: "… for A port N".
			f.Kind = KindTimeout
			rest, _ = bytes.CutPrefix(rest, []byte("connection from "))
			return fixed(f, rest)
		}
	case 'd':
		if rest, found := bytes.CutPrefix(msg, []byte("drop connection #")); found {
			return penalty(f, rest)
		}
	case 'r':
		if rest, found := bytes.CutPrefix(msg, []byte("refused connect from ")); found {
			return refused(f, rest, cut)
		}
	}
	return f, Ignored
}

// fixed reads the address at the start of rest, after text that only sshd writes, and the
// " port N" that may follow.
func fixed(f Failure, rest []byte) (Failure, Outcome) {
	end := 0
	for end < len(rest) && rest[end] != ' ' && rest[end] != ',' {
		end++
	}
	addr, ok := parseAddr(rest[:end])
	if !ok {
		return f, Ignored
	}
	f.Addr = addr
	f.readPort(rest[end:])
	return f, Recognised
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
// " [preauth]"; with reason, the reason must come before it. A message that may have been cut
// short (cut) ends in whatever the cut left, which may be the client's user name: such a line
// is refused when it names a user, since only the pre-authentication preambles do, and ignored
// otherwise.
func rightEnd(f Failure, rest []byte, preauth bool, reason []byte, cut bool) (Failure, Outcome) {
	f.InvalidUser = bytes.HasPrefix(rest, []byte("invalid user "))
	if preauth && bytes.HasPrefix(rest, []byte("user ")) {
		// sshd names a plain "user U" only after authentication (auth2.c, monitor.c), never in
		// a [preauth] message: this " [preauth]" would be the user's.
		return f, Ignored
	}
	if cut {
		if f.InvalidUser || bytes.HasPrefix(rest, []byte("authenticating user ")) {
			return f, Refused
		}
		return f, Ignored
	}
	b, found := bytes.CutSuffix(rest, []byte(" [preauth]"))
	if preauth && !found {
		return f, Ignored
	}
	if reason != nil {
		if b, found = bytes.CutSuffix(b, reason); !found {
			return f, Ignored
		}
	}
	// " port N" at the end.
	j := len(b)
	for j > 0 && isDigit(b[j-1]) {
		j--
	}
	if j < len(b) && j >= len(" port ") && string(b[j-len(" port "):j]) == " port " {
		if len(f.readPort(b[j-len(" port "):])) != 0 {
			return f, Ignored // more than five digits or above 65535
		}
		b = b[:j-len(" port ")]
	}
	k := bytes.LastIndexByte(b, ' ')
	addr, ok := parseAddr(b[k+1:])
	if !ok {
		if k > 0 && hasAddrToken(b[:k]) {
			return f, Refused // sshd's place holds no address; the user name does
		}
		return f, Ignored
	}
	f.Addr = addr
	return f, Recognised
}

// hasAddrToken reports whether some space-separated word of b, without the brackets,
// quotes and punctuation around it, is an IP address.
func hasAddrToken(b []byte) bool {
	for len(b) > 0 {
		var w []byte
		w, b = token(b)
		b = skipSpaces(b)
		w = bytes.Trim(w, `"'()[]<>,;`)
		if _, ok := parseAddr(w); ok {
			return true
		}
		if w, ok := bytes.CutSuffix(w, []byte(":")); ok {
			if _, ok := parseAddr(w); ok {
				return true
			}
		}
	}
	return false
}

// pamError reads sshd's own PAM messages after "PAM: ": "authentication error for [illegal
// user ]U from A" (auth-pam.c: "PAM: %s for %s%.100s from %.100s"; some ports add " via B").
func pamError(f Failure, rest []byte, cut bool) (Failure, Outcome) {
	switch {
	case bytes.HasPrefix(rest, []byte("authentication failure for ")),
		bytes.HasPrefix(rest, []byte("Authentication failure for ")),
		bytes.HasPrefix(rest, []byte("authentication error for ")),
		bytes.HasPrefix(rest, []byte("Authentication error for ")):
		_, user, _ := bytes.Cut(rest, []byte(" for "))
		f.InvalidUser = bytes.HasPrefix(user, []byte("illegal user ")) || bytes.HasPrefix(user, []byte("invalid user "))
	case bytes.HasPrefix(rest, []byte("unknown user for ")),
		bytes.HasPrefix(rest, []byte("User not known to the underlying authentication module for ")):
		f.InvalidUser = true
	default:
		return f, Ignored
	}
	f.Kind = KindPAM
	_, body, _ := bytes.Cut(rest, []byte(" for"))
	return fromCandidates(f, body, tailPAM, cut)
}

// pamModule reads "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh
// ruser= rhost=A  user=U" (Linux-PAM pam_unix, also pam_sss and others using the same words).
// Everything up to rhost is the PAM stack's (sshd sets no PAM_RUSER); the user comes after.
func pamModule(f Failure, msg []byte) (Failure, Outcome) {
	i := indexByte(msg, '(')
	if i < 0 {
		return f, Ignored
	}
	rest, found := bytes.CutPrefix(msg[i:], []byte("(sshd:auth): authentication failure; "))
	if !found {
		return f, Ignored
	}
	j := bytes.Index(rest, []byte(" ruser="))
	if j < 0 {
		return f, Ignored
	}
	k := bytes.Index(rest[j:], []byte(" rhost="))
	if k < 0 {
		return f, Ignored
	}
	tok, after := token(rest[j+k+len(" rhost="):])
	addr, ok := parseAddr(tok)
	if !ok {
		return f, Ignored
	}
	f.Kind, f.Addr = KindPAM, addr
	// pam_unix names the user in "user=U" after rhost; some stacks only in ruser= (fail2ban
	// gh-2070). The name is the one the client asked for.
	if u := bytes.Index(after, []byte(" user=")); u >= 0 {
		f.User = nameHash(after[u+len(" user="):])
	} else if r, _ := token(rest[j+len(" ruser="):]); len(r) > 0 {
		f.User = nameHash(r)
	}
	return f, Recognised
}

// penalty reads "N from [A]:P on [B]:P penalty: REASON" after "drop connection #".
func penalty(f Failure, rest []byte) (Failure, Outcome) {
	i := 0
	for i < len(rest) && isDigit(rest[i]) {
		i++
	}
	rest, found := bytes.CutPrefix(rest[i:], []byte(" from ["))
	if i == 0 || !found {
		return f, Ignored
	}
	end := indexByte(rest, ']')
	if end < 0 || !bytes.Contains(rest[end:], []byte(" penalty: ")) {
		return f, Ignored
	}
	addr, ok := parseAddr(rest[:end])
	if !ok {
		return f, Ignored
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
	return f, Recognised
}

// refused reads "[ident@]HOST (A)" after "refused connect from " (TCP wrappers). The ident
// name and host come from the client; a message that may have been cut short is refused, as
// its end could be theirs.
func refused(f Failure, rest []byte, cut bool) (Failure, Outcome) {
	f.Kind = KindRefused
	if cut {
		return f, Refused
	}
	if len(rest) < 3 || rest[len(rest)-1] != ')' {
		return f, Ignored
	}
	i := bytes.LastIndexByte(rest, '(')
	if i < 1 || rest[i-1] != ' ' {
		return f, Ignored
	}
	addr, ok := parseAddr(rest[i+1 : len(rest)-1])
	if !ok {
		return f, Ignored
	}
	f.Addr = addr
	return f, Recognised
}
