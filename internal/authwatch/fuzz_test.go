package authwatch

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzParse: no panic, ok=false means the zero Failure, and the address is sshd's: it appears
// after the last " from " (or " FROM ") of the line, except where only sshd's own text precedes
// the address and the client's may follow (key-exchange offers, ident names: the fixed marker
// counts) and in PAM module lines (the rhost field after ruser=; user= after it may hold the
// client's name).
func FuzzParse(f *testing.F) {
	for _, fl := range readFixtures(f) {
		f.Add(fl.line)
	}
	for _, tt := range injectionTemplates {
		f.Add("Nov 22 06:00:00 host sshd[1]: " + strings.ReplaceAll(strings.ReplaceAll(tt, "%U", "x from 6.6.6.6 port 1 ssh2"), "%A", "192.0.2.1"))
	}
	var p Parser
	p.Now = testNow
	f.Fuzz(func(t *testing.T, line string) {
		got, ok := p.Parse([]byte(line))
		if !ok {
			if got != (Failure{}) {
				t.Fatalf("Parse(%q) = %s with ok=false, want the zero Failure", line, describe(got, true))
			}
			return
		}
		a := got.Addr
		if !a.IsValid() || a.Zone() != "" || a.Is4In6() || got.Kind == KindNone {
			t.Fatalf("Parse(%q) = %s: invalid address or kind", line, describe(got, ok))
		}
		var after string
		fixedMarker := map[Kind]string{KindNoKex: "negotiate with ", KindRootRefused: "REFUSED FROM ",
			KindNoIdent: "identification string from ", KindTimeout: "authentication for connection from ",
			KindPenalty: " from [", KindRefused: " ("}
		switch m, isFixed := fixedMarker[got.Kind]; {
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
		default:
			i := max(strings.LastIndex(line, " from "), strings.LastIndex(line, " FROM "))
			if i < 0 {
				return
			}
			after = line[i:]
		}
		if !containsAddr(after, a) {
			t.Fatalf("Parse(%q) = %s: address not after the last marker (%q)", line, describe(got, ok), after)
		}
	})
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

// FuzzInjection: whatever the client puts where sshd logs its text, the line yields the real
// address. The text has no newline (sshd escapes control characters before logging).
func FuzzInjection(f *testing.F) {
	for _, u := range []string{"", "root", "x from 6.6.6.6 port 1 ssh2", "x from 6.6.6.6", "6.6.6.6 port 1",
		"a ssh1: ruser", "x 6.6.6.6 port 1 [preauth]", " rhost=6.6.6.6", "x (6.6.6.6)", "a: Too many authentication failures",
		"x from 6.6.6.6 port 1 ssh2: ", "x not allowed because y from 6.6.6.6"} {
		f.Add(u, uint8(0))
		f.Add(u, uint8(7))
	}
	addrs := []string{"192.0.2.1", "2001:db8::a11:beef:7ac0", "::ffff:198.51.100.7", "fe80::1%eth0"}
	var p Parser
	f.Fuzz(func(t *testing.T, user string, which uint8) {
		if strings.ContainsAny(user, "\n\r") {
			return
		}
		addr := addrs[int(which)%len(addrs)]
		want, _ := netip.ParseAddr(strings.SplitN(addr, "%", 2)[0])
		want = want.Unmap()
		for _, tmpl := range injectionTemplates {
			msg := strings.ReplaceAll(strings.ReplaceAll(tmpl, "%U", user), "%A", addr)
			// As syslog writes it, and bare as journalctl -o cat does.
			for _, line := range []string{"Nov 22 06:00:00 host sshd[1]: " + msg, msg} {
				got, ok := p.Parse([]byte(line))
				if !ok || got.Addr != want {
					t.Errorf("Parse(%q) = %s, want address %s", line, describe(got, ok), want)
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
