package authwatch

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// shapeTemplate is one sshd (or PAM, TCP wrappers) message with the real address %A and the
// client's fields: %U user name, %K certificate key ID, %C and %H hostbased's client user and
// host, %G GSSAPI principal, %B banner, %O key-exchange offer, %R disconnect reason, %I ident
// name, %N reverse-DNS name. Formats: openssh-portable auth.c, auth2-hostbased.c, packet.c,
// sshd.c, auth-pam.c; Linux-PAM pam_unix; tcp_wrappers.
type shapeTemplate struct {
	msg  string
	want Outcome // with harmless fields
	// mayRefuse: a client field after the address can make a second parse fit, so an
	// injection may turn the line Refused (never into another address).
	mayRefuse bool
}

var shapeTemplates = []shapeTemplate{
	{"Failed password for %U from %A port 22 ssh2", Recognised, false},
	{"Failed password for invalid user %U from %A port 22 ssh2", Recognised, false},
	{"Failed keyboard-interactive/pam for invalid user %U from %A port 22 ssh2", Recognised, false},
	{"Failed none for invalid user %U from %A port 22 ssh2", Recognised, false},
	{"Failed publickey for %U from %A port 22 ssh2: ED25519 SHA256:MA2Wm9kQUD/G5bnJfpI4mXnkT6g9M7Z04XRtcSk2P/o", Recognised, false},
	{"Failed publickey for invalid user %U from %A port 5555 ssh2: ECDSA-CERT SHA256:abcdef ID %K (serial 1) CA ECDSA SHA256:ghijk", Recognised, true},
	{"Failed publickey for %U from %A port 5555 ssh2: RSA-CERT ID %K (serial 0) CA RSA 8c:e3:aa:0f", Recognised, true},
	{`Failed hostbased for invalid user %U from %A port 5555 ssh2: ECDSA SHA256:abc, client user "%C", client host "%H"`, Recognised, true},
	{`Failed hostbased for %U from %A port 5555 ssh2: ED25519-CERT SHA256:abc ID %K (serial 7) CA ED25519 SHA256:def, client user "%C", client host "%H"`, Recognised, true},
	{"Failed gssapi-with-mic for %U from %A port 22 ssh2: %G", Recognised, true},
	{"Invalid user %U from %A port 22", Recognised, false},
	{"User %U from %A not allowed because not listed in AllowUsers", Recognised, false},
	{"error: maximum authentication attempts exceeded for invalid user %U from %A port 22 ssh2 [preauth]", Recognised, false},
	{"Connection closed by authenticating user %U %A port 22 [preauth]", Recognised, false},
	{"Connection reset by invalid user %U %A port 22 [preauth]", Recognised, false},
	{"Disconnected from invalid user %U %A port 22 [preauth]", Recognised, false},
	{"Disconnecting authenticating user %U %A port 22: Too many authentication failures [preauth]", Recognised, false},
	{"error: PAM: authentication error for illegal user %U from %A", Recognised, false},
	{"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=%A  user=%U", Recognised, false},
	{"Bad protocol version identification '%B' from %A port 22", Recognised, false},
	{"refused connect from %I@%N (%A)", Recognised, false},
	{"Unable to negotiate with %A port 22: no matching key exchange method found. Their offer: %O [preauth]", Recognised, false},
	{"banner exchange: Connection from %A port 22: invalid format", Recognised, false},
	{"Did not receive identification string from %A port 22", Recognised, false},
	{"drop connection #3 from [%A]:22 on [192.0.2.250]:22 penalty: failed authentication", Recognised, false},
	// The client's own disconnect reason (packet.c): only JSch's "Auth fail" (3) and "no more
	// authentication methods" (14) speak against it.
	{"Received disconnect from %A port 22:3: %R: Auth fail [preauth]", Recognised, false},
	{"Received disconnect from %A port 22:14: %R [preauth]", Recognised, false},
	{"ssh_dispatch_run_fatal: Connection from %A port 22: message authentication code incorrect [preauth]", Recognised, false},
	// Dropbear (svr-auth*.c, svr-session.c); %U in quotes is the account's name, or the client's
	// in releases that named a nonexistent user.
	{"Bad password attempt for '%U' from %A:22", Recognised, false},
	{"Bad PAM password attempt for '%U' from %A:22", Recognised, false},
	{"Login attempt for nonexistent user from %A:22", Recognised, false},
	{"Login attempt for nonexistent user '%U' from %A:22", Recognised, true}, // a name longer than dropbear logs is refused
	{"Exit before auth from <%A:22>: (user '%U', 10 fails): Max auth tries reached - user '%U'", Recognised, false},
	{"Exit before auth (user '%U', 10 fails): Max auth tries reached - user '%U' from %A:22", Recognised, false},
	{"Exit before auth from <%A:22>: %R", Recognised, false},
	{"Pubkey auth bad signature for '%U' with key SHA256:abc from %A:22", Recognised, false},
	// Not failures, whatever the client writes: lines that tie the process to its client
	// (Linked) or report a success (Accepted), always with sshd's address, and others.
	{"Received disconnect from %A port 22:11: %R [preauth]", Linked, false},
	{"Received disconnect from %A: 11: %R [preauth]", Linked, false},
	{"Connection from %A port 22 on 192.0.2.250 port 22 rdomain \"\"", Linked, false},
	{"Connection closed by %A port 22", Linked, false},
	{"Connection reset by %A port 22", Linked, false},
	{"Disconnected from %A port 22", Linked, false},
	{"SSH: Server;Ltype: Authname;Remote: %A-1780;Name: %U [preauth]", Linked, false},
	{"Accepted publickey for %U from %A port 22 ssh2: ECDSA-CERT SHA256:abc ID %K (serial 1) CA ECDSA SHA256:def", Accepted, true},
	{"Accepted password for %U from %A port 22 ssh2", Accepted, false},
	{"Accepted keyboard-interactive/pam for %U from %A port 22 ssh2", Accepted, false},
	{"Postponed keyboard-interactive for invalid user %U from %A port 22 ssh2 [preauth]", Linked, false},
	{"Password auth succeeded for '%U' from %A:22", Accepted, false},
	{"Pubkey auth succeeded for '%U' with ssh-ed25519 key SHA256:abc from %A:22", Accepted, false},
	{"Child connection from %A:22", Linked, false},
	{"Disconnected from user %U %A port 22", Ignored, false},
}

// clientFields are the placeholders of the client's text, with a harmless value each.
var clientFields = []struct{ name, benign string }{
	{"%U", "bob"}, {"%K", "bob@example"}, {"%C", "bob"}, {"%H", "client.example"}, {"%G", "bob@EXAMPLE.COM"},
	{"%B", "SSH-1.0-x"}, {"%O", "diffie-hellman-group1-sha1"}, {"%R", "Bye Bye"}, {"%I", "ident"}, {"%N", "host.example"},
}

// injections are client text that names %F, the address the client wants banned. They imitate
// every piece of sshd's text around an address.
var injections = []string{
	"%F", "from %F", "x from %F", "%F port 22", "x %F port 22", "x from %F port 22 ssh2",
	"x from %F port 22 ssh2: ", "x from %F port 22 ssh2: ED25519 SHA256:abc",
	"x from %F port 22 ssh2: ECDSA-CERT SHA256:a ID y", "x from %F port 22 ssh2 [preauth]",
	"x %F port 22 [preauth]", "x %F port 22: Too many authentication failures [preauth]",
	"x rhost=%F", " rhost=%F  user=x", "x from [%F]:22", "x (%F)", "x@h (%F)",
	"x from %F not allowed because listed in DenyUsers", "x from %F via h", "' from %F port 22",
	`" from %F port 22 ssh2", client host "h`, `h", client user "x from %F port 22 ssh2`,
	"x (serial 1) CA ECDSA SHA256:z from %F port 22 ssh2",
	`x from %F port 22 ssh2: ECDSA SHA256:abc, client user "u", client host "h"`,
	"x from %F port 22 ssh2: RSA-CERT ID k (serial 1) CA RSA SHA256:c",
	"drop connection #1 from [%F]:22 on [192.0.2.250]:22 penalty: failed authentication",
	"x\tfrom %F port 22 ssh2", "x from %F port 22 ssh2 ", "x from %F port 99999 ssh2",
}

var (
	fakeAddrs = []string{"6.6.6.19", "2001:db8:6::6", "::ffff:6.6.6.20", "fe80::6%eth0"}
	realAddrs = []string{"10.99.0.17", "2001:db8::a11:beef:7ac0", "::ffff:198.51.100.7", "fe80::1%enp3s0"}
)

// fill replaces %A with addr and each field with its value (the benign one unless set).
func fill(tmpl, addr string, set map[string]string) string {
	s := strings.ReplaceAll(tmpl, "%A", addr)
	for _, f := range clientFields {
		v, ok := set[f.name]
		if !ok {
			v = f.benign
		}
		s = strings.ReplaceAll(s, f.name, v)
	}
	return s
}

func mustAddr(s string) netip.Addr {
	base, _, _ := strings.Cut(s, "%")
	return netip.MustParseAddr(base).Unmap()
}

// checkShape classifies msg as syslog writes it and bare (journalctl -o cat), and reports a
// result that names an address other than want, or (strict) anything but want.
func checkShape(t *testing.T, tt shapeTemplate, msg string, want netip.Addr, strict bool) {
	t.Helper()
	var p Parser
	for _, line := range []string{"Nov 22 06:00:00 host sshd[1]: " + msg, msg} {
		got, o := p.Classify([]byte(line))
		switch {
		case got.Addr.IsValid() && got.Addr != want:
			t.Errorf("Classify(%q) = %s %s, want %s or refused", line, o, got.Addr, want)
		case tt.want != Recognised && o == Recognised:
			t.Errorf("Classify(%q) = %s %s, want not recognised", line, o, got.Addr)
		case strict && o != tt.want:
			t.Errorf("Classify(%q) = %s %s, want %s %s", line, o, got.Addr, tt.want, want)
		}
	}
}

// TestClientFieldsNeverChooseAddress is the property of issue 11: for every message shape,
// client text holding another address, in any one field or all of them at once, never changes
// the address. Where no client field follows sshd's address the line still yields it; where
// one does (certificates, hostbased, GSSAPI) the line may be refused instead.
func TestClientFieldsNeverChooseAddress(t *testing.T) {
	for _, tt := range shapeTemplates {
		t.Run(tt.msg, func(t *testing.T) {
			for _, real := range realAddrs {
				want := mustAddr(real)
				checkShape(t, tt, fill(tt.msg, real, nil), want, true)
				for _, inj := range injections {
					for _, fake := range fakeAddrs {
						v := strings.ReplaceAll(inj, "%F", fake)
						all := map[string]string{}
						for _, f := range clientFields {
							if !strings.Contains(tt.msg, f.name) {
								continue
							}
							all[f.name] = v
							msg := fill(tt.msg, real, map[string]string{f.name: v})
							checkShape(t, tt, msg, want, !tt.mayRefuse && len(msg) < maxSyslogMessage)
						}
						if len(all) > 0 {
							checkShape(t, tt, fill(tt.msg, real, all), want, false)
						}
					}
				}
			}
		})
	}
}

// fieldLimit is how many of the client's bytes sshd logs of field in tmpl (0: no limit): a
// user name, banner, client user or host "%.100s" (auth.c, auth2-hostbased.c, sshd.c), a user
// name in a connection's preamble 180 (packet.c "%.200s" of "authenticating user U").
func fieldLimit(tmpl, field string) int {
	switch field {
	case "%U":
		if strings.Contains(tmpl, "user %U %A") {
			return 200 - len("authenticating user ")
		}
		if strings.Contains(tmpl, "user=%U") {
			return 0
		}
		return 100
	case "%B", "%C", "%H":
		return 100
	}
	return 0
}

// cutRaw shortens the logged (escaped) text v to its first n bytes before escaping, as sshd's
// "%.100s" does before log.c escapes the message.
func cutRaw(v string, n int) string {
	for i := 0; i < len(v); n-- {
		if n == 0 {
			return v[:i]
		}
		switch {
		case v[i] != '\\' || i+1 == len(v):
			i++
		case i+3 < len(v) && isOctal(v[i+1]) && isOctal(v[i+2]) && isOctal(v[i+3]):
			i += 4
		default:
			i += 2
		}
	}
	return v
}

// TestCutShortNeverChoosesAddress: sshd gives syslog at most 500 bytes of a message after
// escaping the client's bytes (up to four for one), so a long field can push sshd's end off the
// line and leave the client's text at the end. Whatever the point the line is cut at, and
// wherever the client's text then ends, no other address comes out of a line sshd can write:
// fields are first cut to the length sshd logs of them.
func TestCutShortNeverChoosesAddress(t *testing.T) {
	const real, fake = "192.0.2.7", "6.6.6.6"
	want := mustAddr(real)
	for _, tt := range shapeTemplates {
		for _, f := range clientFields {
			if !strings.Contains(tt.msg, f.name) {
				continue
			}
			for _, inj := range injections {
				v := strings.ReplaceAll(inj, "%F", fake)
				// Place the injection so that it ends exactly where syslog cuts.
				probe := fill(tt.msg, real, map[string]string{f.name: "\x00" + v + "\x01"})
				end := strings.IndexByte(probe, '\x01') - 1
				pad := maxSyslogMessage - end
				if pad < 0 {
					continue
				}
				v = strings.Repeat(`\302`, pad/4) + strings.Repeat("p", pad%4) + v + strings.Repeat(`\303`, 40)
				if n := fieldLimit(tt.msg, f.name); n > 0 {
					v = cutRaw(v, n)
				}
				msg := fill(tt.msg, real, map[string]string{f.name: v})
				for _, n := range []int{maxSyslogMessage, maxSyslogMessage + 1, maxSyslogMessage + 7, len(msg)} {
					if n > len(msg) {
						continue
					}
					checkShape(t, tt, msg[:n], want, false)
				}
			}
		}
	}
}

func TestClassify(t *testing.T) {
	long := strings.Repeat(`\302`, 120)
	tests := []struct {
		name, line string
		want       Outcome
		addr       string
	}{
		{"exploit: certificate key ID", "Failed publickey for invalid user bob from 10.99.0.17 port 5555 ssh2: ECDSA-CERT SHA256:abcdef ID x from 6.6.6.19 port 22 ssh2 (serial 1) CA ECDSA SHA256:ghijk", Recognised, "10.99.0.17"},
		{"exploit: hostbased client user", `Failed hostbased for invalid user bob from 10.99.0.18 port 5555 ssh2: ECDSA SHA256:abc, client user "x from 6.6.6.20 port 22 ssh2", client host "h"`, Recognised, "10.99.0.18"},
		{"user and key ID both imitate sshd: two parses", "Failed publickey for bob from 6.6.6.19 port 22 ssh2: ECDSA-CERT SHA256:a ID y from 10.99.0.17 port 5555 ssh2: ECDSA-CERT SHA256:b ID z (serial 1) CA ECDSA SHA256:c", Refused, ""},
		{"two parses, same address", "Failed publickey for bob from 10.99.0.17 port 22 ssh2: ECDSA-CERT SHA256:a ID y from 10.99.0.17 port 5555 ssh2: ECDSA-CERT SHA256:b ID z (serial 1) CA ECDSA SHA256:c", Recognised, "10.99.0.17"},
		{"key ID ends in a fake at the end of a gssapi line", "Failed gssapi-with-mic for bob from 10.99.0.17 port 22 ssh2: x from 6.6.6.6 port 1 ssh2", Refused, ""},
		{"password: nothing follows ssh2", "Failed password for x from 6.6.6.6 port 1 ssh2: from 192.0.2.7 port 2 ssh2", Recognised, "192.0.2.7"},
		{"sshd logged a name, the user an address", "Failed password for x from 6.6.6.6 port 1 ssh2 from example.com port 22 ssh2", Refused, ""},
		{"sshd logged a name", "Failed password for x from example.com port 22 ssh2", Ignored, ""},
		{"ssh1 ruser", "Failed password for user from 127.0.0.1 port 20000 ssh1: ruser from 1.2.3.4", Refused, ""},
		{"malformed tail", "Failed password for x from 192.0.2.1 port 22 ssh2 trailing", Refused, ""},
		{"port out of range", "Failed password for x from 192.0.2.1 port 65536 ssh2", Refused, ""},
		{"not allowed, reason continues the user", "User x from 6.6.6.6 not allowed because y from 192.0.2.1 not allowed because listed in DenyUsers", Recognised, "192.0.2.1"},
		{"right end: name where sshd's address goes", "Connection closed by authenticating user 6.6.6.6 port 1 example.com port 22 [preauth]", Refused, ""},
		{"right end cut short ends in the client's text", "Connection closed by authenticating user " + long + "x 6.6.6.6 port 1 [preauth]", Refused, ""},
		{"right end cut short, post-auth preamble", "Disconnected from user " + long + "x 6.6.6.6 port 1 [preauth]", Ignored, ""},
		{"post-auth preamble never ends in [preauth]", "Disconnected from user x 6.6.6.6 port 1 [preauth] 192.0.2.1 port 22", Ignored, ""},
		{"post-auth preamble with a forged [preauth]", "Connection closed by user x 6.6.6.6 port 1 [preauth]", Ignored, ""},
		{"failed cut short: a user name longer than sshd logs", "Invalid user " + long + "x from 6.6.6.6 port 22", Refused, ""},
		{"failed cut short keeps sshd's address", "Failed publickey for invalid user bob from 10.99.0.17 port 5555 ssh2: ECDSA-CERT SHA256:abcdef ID " + long + "x", Recognised, "10.99.0.17"},
		{"failed cut short in a key ID that imitates sshd", "Failed publickey for invalid user bob from 10.99.0.17 port 5555 ssh2: ECDSA-CERT SHA256:abcdef ID " + long + "x from 6.6.6.6 port 22 ssh2", Refused, ""},
		{"failed cut short inside sshd's address", "Failed keyboard-interactive/pam for invalid user " + long + " from 2001:db8::1", Refused, ""},
		{"longer than sshd ever writes", "Failed password for x from 192.0.2.1 port 22 ssh2" + strings.Repeat(" from 6.6.6.6", 200), Refused, ""},
		{"tcp wrappers cut short", "refused connect from " + long + "@h (6.6.6.6)", Refused, ""},
		{"timeout before 9.8 (fail2ban corpus)", "Mar  1 18:59:52 srv sshd[12345]: fatal: Timeout before authentication for 192.0.2.14 port 55555", Recognised, "192.0.2.14"},
		{"PAM error with via (fail2ban corpus)", "srv sshd[47831]: error: PAM: Authentication error for james from 205.186.180.100 via 192.168.1.201", Recognised, "205.186.180.100"},
		{"trailing blank (fail2ban corpus)", "Dec 12 20:04:39 aragorn sshd[1328]: error: PAM: User not known to the underlying authentication module for illegal user kernelitshell from 10.215.4.227 ", Recognised, "10.215.4.227"},
		{"not sshd's", "Nov 11 08:04:51 h sudo[1]: Failed password for root from 192.0.2.1 port 1 ssh2", Ignored, ""},
	}
	var p Parser
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, o := p.Classify([]byte(tt.line))
			a := ""
			if got.Addr.IsValid() {
				a = got.Addr.String()
			}
			if o != tt.want || a != tt.addr {
				t.Errorf("Classify(%q) = %s %q, want %s %q", tt.line, o, a, tt.want, tt.addr)
			}
			if o == Refused && got.Kind == KindNone {
				t.Errorf("Classify(%q): refused without a kind", tt.line)
			}
			if f, ok := p.Parse([]byte(tt.line)); ok != (o == Recognised) || (!ok && f != (Failure{})) {
				t.Errorf("Parse(%q) = %s, disagrees with Classify", tt.line, describe(f, ok))
			}
		})
	}
}

// refFailed is a reference for the tail grammar of "Failed" lines (shape.go), written as
// regular expressions: INFO of publickey and hostbased is a key, a certificate, and/or a
// method's info.
var (
	refMeth       = `(?:client user ".*", client host ".*"|signature count = \d+)`
	refCert       = `.* \(serial \d+\) CA [^ ]+ [^ ]+(?:, ` + refMeth + `)?`
	refKey        = `(?:[^ ]+ [^ ,]+(?:, ` + refMeth + `)?|[^ ]+ [^ ,]+ ID ` + refCert + `|[^ ]+ ID ` + refCert + `|` + refMeth + `)`
	refTailNone   = regexp.MustCompile(`^(?: port (\d+)(?: ssh2| ssh1)?)?$`)
	refTailKey    = regexp.MustCompile(`^(?: port (\d+)(?: ssh2(?:: ` + refKey + `)?| ssh1)?)?$`)
	refTailFree   = regexp.MustCompile(`^(?: port (\d+)(?: ssh2(?:: .*)?| ssh1)?)?$`)
	refMethodList = []string{"password", "publickey", "hostbased", "keyboard-interactive/pam", "gssapi-with-mic", "none", "unknown"}
)

// refClassify is the reference parse of "Failed METHOD for BODY" for a message that was not cut
// short: every " from " whose tail fits; one address, or refused.
func refClassify(method, body string) (Outcome, netip.Addr) {
	re := refTailFree
	switch method {
	case "password", "none", "keyboard-interactive/pam":
		re = refTailNone
	case "publickey", "hostbased":
		re = refTailKey
	}
	body = strings.TrimSuffix(strings.TrimRight(body, " \t"), " [preauth]") // as the parser trims the message
	var addrs []netip.Addr
	names, clientAddr, doubt := 0, false, false
	for i := 0; ; {
		j := strings.Index(body[i:], " from ")
		if j < 0 {
			break
		}
		start := i + j + len(" from ")
		i = start - 1
		host, after, found := strings.Cut(body[start:], " ")
		tail := ""
		if found {
			tail = " " + after
		}
		base, zone, hasZone := strings.Cut(host, "%")
		a, err := netip.ParseAddr(base)
		isAddr := err == nil && (!hasZone || (a.Is6() && zone != ""))
		m := re.FindStringSubmatch(tail)
		if m != nil && m[1] != "" {
			if p, err := strconv.Atoi(m[1]); err != nil || p > 65535 || len(m[1]) > 6 {
				m = nil
			}
		}
		switch {
		case m == nil || host == "":
			clientAddr = clientAddr || isAddr
		case tail == "" && strings.Count(body, " from ") > 1:
			doubt = true // the pre-3.9 reading, unsafe with other " from "s
		case !isAddr:
			names++
		default:
			addrs = append(addrs, a.Unmap())
		}
	}
	distinct := map[netip.Addr]bool{}
	for _, a := range addrs {
		distinct[a] = true
	}
	switch {
	case len(distinct) == 1 && names == 0 && !doubt:
		return Recognised, addrs[0]
	case len(addrs) > 0 || clientAddr || doubt:
		return Refused, netip.Addr{}
	}
	return Ignored, netip.Addr{}
}

// FuzzFailedGrammar checks the hand-written tail grammar of "Failed" lines against refClassify.
func FuzzFailedGrammar(f *testing.F) {
	for _, tt := range shapeTemplates {
		if !strings.HasPrefix(tt.msg, "Failed ") {
			continue
		}
		method, _, _ := strings.Cut(strings.TrimPrefix(tt.msg, "Failed "), " ")
		mi := 0
		for i, m := range refMethodList {
			if m == method {
				mi = i
			}
		}
		_, body, _ := strings.Cut(tt.msg, " for ")
		for _, inj := range injections {
			f.Add(uint8(mi), fill(body, "192.0.2.1", map[string]string{"%U": inj, "%K": inj, "%C": inj, "%H": inj, "%G": inj}))
		}
	}
	f.Fuzz(func(t *testing.T, mi uint8, body string) {
		method := refMethodList[int(mi)%len(refMethodList)]
		msg := "Failed " + method + " for " + body
		if len(msg) >= maxSyslogMessage || strings.ContainsAny(body, "\n\r") {
			return
		}
		wantO, wantA := refClassify(method, body)
		var p Parser
		g, o := p.Classify([]byte(msg))
		if o != wantO || g.Addr != wantA {
			t.Fatalf("Classify(%q) = %s %v, reference %s %v", msg, o, g.Addr, wantO, wantA)
		}
	})
}

// Example of the refusal a guard counts.
func ExampleParser_Classify() {
	var p Parser
	for _, line := range []string{
		"Failed publickey for invalid user bob from 10.99.0.17 port 5555 ssh2: ECDSA-CERT SHA256:abcdef ID x from 6.6.6.19 port 22 ssh2 (serial 1) CA ECDSA SHA256:ghijk",
		"Failed publickey for bob from 6.6.6.19 port 22 ssh2: ECDSA-CERT SHA256:a ID y from 10.99.0.17 port 5555 ssh2: ECDSA-CERT SHA256:b ID z (serial 1) CA ECDSA SHA256:c",
		"Accepted password for bob from 10.99.0.17 port 5555 ssh2",
	} {
		f, o := p.Classify([]byte(line))
		fmt.Println(o, f.Kind, f.Addr)
	}
	// Output:
	// recognised failed-key 10.99.0.17
	// refused failed-key invalid IP
	// accepted none 10.99.0.17
}
