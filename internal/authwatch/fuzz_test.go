package authwatch

import (
	"net/netip"
	"strings"
	"testing"
)

// exploitLines are the lines of issue 11 whose client text named the address that was banned.
var exploitLines = []string{
	"Nov 22 06:00:00 host sshd[1]: Failed publickey for invalid user bob from 10.99.0.17 port 5555 ssh2: ECDSA-CERT SHA256:abcdef ID x from 6.6.6.19 port 22 ssh2 (serial 1) CA ECDSA SHA256:ghijk",
	`Nov 22 06:00:00 host sshd[1]: Failed hostbased for invalid user bob from 10.99.0.18 port 5555 ssh2: ECDSA SHA256:abc, client user "x from 6.6.6.20 port 22 ssh2", client host "h"`,
}

// FuzzParse: no panic, ok=false means the zero Failure, Classify agrees with Parse, and the
// address is sshd's: it appears after a " from " (or " FROM ") of the line, except where only
// sshd's own text precedes the address and the client's may follow (key-exchange offers, ident
// names: the fixed marker counts) and in PAM module lines (the rhost field after ruser=; user=
// after it may hold the client's name). For kinds read from the right end it follows the last
// " from " or is the last address before the end.
func FuzzParse(f *testing.F) {
	for _, fl := range readFixtures(f) {
		f.Add(fl.line)
	}
	for _, tt := range injectionTemplates {
		f.Add("Nov 22 06:00:00 host sshd[1]: " + strings.ReplaceAll(strings.ReplaceAll(tt, "%U", "x from 6.6.6.6 port 1 ssh2"), "%A", "192.0.2.1"))
	}
	for _, l := range exploitLines {
		f.Add(l)
	}
	for _, tt := range recallTests {
		f.Add(tt.line)
	}
	var p Parser
	p.Now = testNow
	f.Fuzz(func(t *testing.T, line string) {
		got, ok := p.Parse([]byte(line))
		c, o := p.Classify([]byte(line))
		if ok != (o == Recognised) || (ok && c != got) || (o == Refused && c.Addr.IsValid()) || (o == Ignored && c != (Failure{})) {
			t.Fatalf("Parse(%q) = %s, Classify = %s %s", line, describe(got, ok), o, describe(c, true))
		}
		if !ok && got != (Failure{}) {
			t.Fatalf("Parse(%q) = %s with ok=false, want the zero Failure", line, describe(got, true))
		}
		if o == Unaddressed && (c.Addr.IsValid() || c.Kind == KindNone) {
			t.Fatalf("Classify(%q) = %s %s: an address or no kind", line, o, describe(c, true))
		}
		if (o == Accepted || o == Linked) && (!c.Addr.IsValid() || c.Kind != KindNone) {
			t.Fatalf("Classify(%q) = %s %s: no address or a kind", line, o, describe(c, true))
		}
		if !ok && o != Accepted && o != Linked {
			return
		}
		// Accepted and Linked lines lend their address to Sessions: it is sshd's too.
		got, ok = c, true
		line = strings.TrimRight(line, "\r\n") // as Parse reads it
		a := got.Addr
		if !a.IsValid() || a.Zone() != "" || a.Is4In6() || (got.Kind == KindNone) != (o != Recognised) {
			t.Fatalf("Parse(%q) = %s: invalid address or kind", line, describe(got, ok))
		}
		var after string
		fixedMarker := map[Kind]string{KindNoKex: "negotiate with ", KindRootRefused: "REFUSED FROM ",
			KindNoIdent: "identification string from ", KindTimeout: "authentication for connection from ",
			KindPenalty: " from [", KindRefused: " ("}
		switch m, isFixed := fixedMarker[got.Kind]; {
		case strings.Contains(line, "Received disconnect from "):
			// The client's disconnect reason follows sshd's address, which follows the marker.
			_, after, _ = strings.Cut(line, "Received disconnect from ")
			after, _, _ = strings.Cut(after, " ")
			after = strings.TrimSuffix(after, ":")
		case strings.Contains(line, "ssh_dispatch_run_fatal: Connection from "):
			_, after, _ = strings.Cut(line, "ssh_dispatch_run_fatal: Connection from ")
		case o == Linked && (strings.Contains(line, "Connection closed by ") || strings.Contains(line, "Connection reset by ")):
			// Only sshd's address follows these markers when no user precedes it.
			_, after, _ = strings.Cut(line, " by ")
			after, _, _ = strings.Cut(after, " ")
		case o == Linked && strings.Contains(line, ";Remote: "):
			_, after, _ = strings.Cut(line, ";Remote: ")
			after, _, _ = strings.Cut(after, ";")
			after = after[:max(strings.LastIndexByte(after, '-'), 0)]
		case dropbearWord(line, a):
			return
		case got.Kind == KindPAM && strings.Contains(line, "(sshd:auth): "):
			_, r, _ := strings.Cut(line, " ruser=")
			_, after, _ = strings.Cut(r, " rhost=")
		case got.Kind == KindBadBanner && strings.Contains(line, "banner exchange: Connection from "):
			_, after, _ = strings.Cut(line, "banner exchange: Connection from ")
		case isFixed:
			// Only sshd's text precedes these addresses; the client's (a key-exchange offer, an
			// ident name) may follow, " from " included.
			i := strings.Index(line, m)
			if got.Kind == KindRefused {
				i = strings.LastIndex(line, m)
			}
			after = line[i+len(m):]
		case (got.Kind == KindPreauth || got.Kind == KindMaxAttempts) && rightEndWord(line, a):
			return
		default:
			// From shape: some " from " is followed by the address.
			for rest := line; ; {
				i := strings.Index(rest, " from ")
				if i < 0 {
					t.Fatalf("Parse(%q) = %s: address after no \" from \"", line, describe(got, ok))
				}
				host, _, _ := strings.Cut(rest[i+len(" from "):], " ")
				if containsAddr(host, a) {
					return
				}
				rest = rest[i+1:] // the next " from " may begin at this one's last space
			}
		}
		if !containsAddr(after, a) {
			t.Fatalf("Parse(%q) = %s: address not after the last marker (%q)", line, describe(got, ok), after)
		}
	})
}

// dropbearWord reports whether a is dropbear's "ADDR:PORT" at the end of line after its last
// " from ", or in "Exit before auth from <ADDR:PORT>" (the first "<" after that marker).
func dropbearWord(line string, a netip.Addr) bool {
	var w string
	// Parse trims the message's trailing blanks before it reads the right end, as here.
	line = strings.TrimSuffix(strings.TrimRight(line, " \t"), ", extra auth required")
	if _, after, ok := strings.Cut(line, "Exit before auth from <"); ok {
		w, _, _ = strings.Cut(after, ">")
	} else if i := strings.LastIndex(line, " from "); i >= 0 && !strings.Contains(line[i+len(" from "):], " ") {
		w = line[i+len(" from "):]
	} else {
		return false
	}
	i := strings.LastIndexByte(w, ':')
	if i < 0 {
		return false
	}
	return containsAddr(w[:i], a)
}

// rightEndWord reports whether a is the word before the last " port " of line, or before its
// final " [preauth]" and reason: where the right-end messages put it.
func rightEndWord(line string, a netip.Addr) bool {
	end := strings.TrimSuffix(strings.TrimSuffix(strings.TrimRight(line, " "), " [preauth]"), ": Too many authentication failures")
	for _, end := range []int{strings.LastIndex(line, " port "), len(end)} {
		if end < 0 {
			continue
		}
		w := line[:end]
		if containsAddr(w[strings.LastIndexByte(w, ' ')+1:], a) {
			return true
		}
	}
	return false
}

// containsAddr reports whether some token of s, split at blanks and the brackets sshd puts around
// addresses, parses as a.
func containsAddr(s string, want netip.Addr) bool {
	for _, tok := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(" []()@,\t", r) }) {
		tok, _, _ = strings.Cut(tok, "%")
		if a, err := netip.ParseAddr(tok); err == nil && a.Unmap() == want {
			return true
		}
	}
	return false
}

// injectionTemplates are sshd and PAM messages with the client's text (%U: a user name, banner
// or key-exchange offer) and the real address (%A). Formats: openssh-portable auth.c, sshd.c,
// packet.c, Linux-PAM pam_unix (reference adaptive.md §7, fixtures).
var injectionTemplates = []string{
	"Failed password for invalid user %U from %A port 22 ssh2",
	"Failed password for %U from %A port 22 ssh2",
	"Failed publickey for %U from %A port 22 ssh2: ED25519 SHA256:MA2Wm9kQUD/G5bnJfpI4mXnkT6g9M7Z04XRtcSk2P/o",
	"Invalid user %U from %A port 22",
	"User %U from %A not allowed because not listed in AllowUsers",
	"error: maximum authentication attempts exceeded for invalid user %U from %A port 22 ssh2 [preauth]",
	"Connection closed by authenticating user %U %A port 22 [preauth]",
	"Connection reset by invalid user %U %A port 22 [preauth]",
	"Disconnected from invalid user %U %A port 22 [preauth]",
	"Disconnecting authenticating user %U %A port 22: Too many authentication failures [preauth]",
	"error: PAM: authentication error for illegal user %U from %A",
	"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=%A  user=%U",
	"Bad protocol version identification '%U' from %A port 22",
	"refused connect from %U@%A (%A)",
	"Unable to negotiate with %A port 22: no matching key exchange method found. Their offer: %U",
}

// FuzzInjection: whatever the client puts in any field of any message shape (shapeTemplates),
// the line never yields another address; where no client field follows sshd's address and the
// message is too short to have been cut, it yields the real one. With cutAt, the message is also
// read cut short there, as syslog cuts sshd's messages at 500 bytes. The text is what sshd logs:
// printable ASCII (log.c escapes everything else), cut to the length sshd logs of the field.
func FuzzInjection(f *testing.F) {
	for _, u := range []string{"", "root", "x from 6.6.6.6 port 1 ssh2", "x from 6.6.6.6", "6.6.6.6 port 1",
		"a ssh1: ruser", "x 6.6.6.6 port 1 [preauth]", " rhost=6.6.6.6", "x (6.6.6.6)", "a: Too many authentication failures",
		"x from 6.6.6.6 port 1 ssh2: ", "x not allowed because y from 6.6.6.6",
		"x from 6.6.6.19 port 22 ssh2", "x from 6.6.6.6 port 22 ssh2: ECDSA-CERT SHA256:a ID y"} {
		f.Add(u, uint8(0), uint16(0))
		f.Add(u, uint8(7), uint16(500))
		f.Add(strings.Repeat(`\302`, 110)+u, uint8(1), uint16(500))
	}
	f.Fuzz(func(t *testing.T, text string, which uint8, cutAt uint16) {
		for i := 0; i < len(text); i++ {
			if text[i] < ' ' || text[i] > '~' {
				return
			}
		}
		real := realAddrs[int(which)%len(realAddrs)]
		want := mustAddr(real)
		for _, tt := range shapeTemplates {
			for _, fl := range clientFields {
				if !strings.Contains(tt.msg, fl.name) {
					continue
				}
				v := text
				if n := fieldLimit(tt.msg, fl.name); n > 0 {
					v = cutRaw(v, n)
				}
				msg := fill(tt.msg, real, map[string]string{fl.name: v})
				checkShape(t, tt, msg, want, !tt.mayRefuse && len(msg) < maxSyslogMessage)
				if n := int(cutAt); n >= maxSyslogMessage && n < len(msg) {
					checkShape(t, tt, msg[:n], want, false)
				}
			}
		}
	})
}

// FuzzParseAddr checks parseAddr against netip.ParseAddr on zone-less input.
func FuzzParseAddr(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "::", "::1", "1::", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:1.2.3.4",
		"01.2.3.4", "256.1.1.1", "1.2.3", "1:2:3:4:5:6:7::", "::1:2:3:4:5:6:7", "1::2::3", ":1", "1:", "12345::",
		"::1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", "fe80::1%eth0", "example.com", "", "aaaa:bbbb:cccc:1234::1:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseAddr([]byte(s))
		base, zone, hasZone := strings.Cut(s, "%")
		want, err := netip.ParseAddr(base)
		wantOK := err == nil && (!hasZone || (want.Is6() && zone != ""))
		if ok != wantOK {
			t.Fatalf("parseAddr(%q) ok = %v, want %v (netip: %v)", s, ok, wantOK, err)
		}
		if ok && got != want.Unmap() {
			t.Fatalf("parseAddr(%q) = %v, want %v", s, got, want.Unmap())
		}
	})
}
