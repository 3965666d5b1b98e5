package authwatch

import (
	"net/netip"
	"strings"
	"testing"
)

// TestRecall: the shapes of issue 16's recall list, in lines written here (fail2ban's corpus,
// where they were measured, is GPL-2.0 and not kept). Each names the outcome, kind, address,
// method and pid Classify must return.
func TestRecall(t *testing.T) {
	p := Parser{Now: testNow}
	for _, tt := range recallTests {
		t.Run(tt.name, func(t *testing.T) {
			f, o := p.Classify([]byte(tt.line))
			var want netip.Addr
			if tt.addr != "" {
				want = netip.MustParseAddr(tt.addr)
			}
			if o != tt.want || f.Kind != tt.kind || f.Addr != want || f.Method != tt.method || f.PID != tt.pid {
				t.Errorf("Classify(%q) = %s %s %v method=%s pid=%d, want %s %s %v method=%s pid=%d",
					tt.line, o, f.Kind, f.Addr, f.Method, f.PID, tt.want, tt.kind, want, tt.method, tt.pid)
			}
		})
	}
}

// recallTests are TestRecall's lines; they seed FuzzParse too.
var recallTests = []struct {
	name, line string
	want       Outcome
	kind       Kind
	addr       string
	method     Method
	pid        int
}{
	// The client's own disconnect reasons (packet.c "Received disconnect from %s port %d:%u: %.400s").
	{"jsch auth fail", "Oct  3 10:11:12 gw sshd[4410]: error: Received disconnect from 203.0.113.41 port 50122:3: com.jcraft.jsch.JSchException: Auth fail [preauth]", Recognised, KindFailed, "203.0.113.41", 0, 4410},
	{"jsch auth fail, old format", "Oct  3 10:11:12 gw sshd[4410]: Received disconnect from 203.0.113.42: 3: com.jcraft.jsch.JSchException: Auth fail", Recognised, KindFailed, "203.0.113.42", 0, 4410},
	{"jsch auth fail, ipv6 old format", "Oct  3 10:11:12 gw sshd[4410]: error: Received disconnect from 2001:db8::41: 3: org.example.Client: Auth fail [preauth]", Recognised, KindFailed, "2001:db8::41", 0, 4410},
	{"no supported auth methods", "Oct  3 10:11:13 gw sshd[4411]: error: Received disconnect from 203.0.113.43 port 6100:14: No supported authentication methods available [preauth]", Recognised, KindNoKex, "203.0.113.43", 0, 4411},
	{"no auth methods, old format", "Oct  3 10:11:13 gw sshd[4411]: Received disconnect from 203.0.113.44: 14: No authentication methods available [preauth]", Recognised, KindNoKex, "203.0.113.44", 0, 4411},
	{"bye bye links", "Oct  3 10:11:14 gw sshd[4412]: Received disconnect from 203.0.113.45 port 6101:11: Bye Bye [preauth]", Linked, KindNone, "203.0.113.45", 0, 4412},
	{"code 3 without auth fail links", "Oct  3 10:11:14 gw sshd[4412]: Received disconnect from 203.0.113.45 port 6101:3: kex failed [preauth]", Linked, KindNone, "203.0.113.45", 0, 4412},
	// Lines that name no address: the process knows it.
	{"too many authentication failures", "Oct  3 10:12:00 gw sshd[4420]: Disconnecting: Too many authentication failures for admin [preauth]", Unaddressed, KindMaxAttempts, "", 0, 4420},
	{"too many authentication failures, no user", "Oct  3 10:12:00 gw sshd[4420]: Disconnecting: Too many authentication failures [preauth]", Unaddressed, KindMaxAttempts, "", 0, 4420},
	{"account is locked", "Oct  3 10:12:01 gw sshd[4421]: User operator not allowed because account is locked", Unaddressed, KindNotAllowed, "", 0, 4421},
	{"change of username", "Oct  3 10:12:02 gw sshd[4422]: Disconnecting invalid user scan 203.0.113.46 port 4000: Change of username or service not allowed: (scan,ssh-connection) -> (root,ssh-connection) [preauth]", Unaddressed, KindNotAllowed, "", 0, 4422},
	{"kex identification closed", "Oct  3 10:12:03 gw sshd[4423]: error: kex_exchange_identification: Connection closed by remote host", Unaddressed, KindNoIdent, "", 0, 4423},
	{"kex identification reset", "Oct  3 10:12:03 gw sshd[4423]: error: kex_exchange_identification: read: Connection reset by peer", Unaddressed, KindNoIdent, "", 0, 4423},
	{"kex identification garbage", "Oct  3 10:12:03 gw sshd[4423]: error: kex_exchange_identification: client sent invalid protocol identifier \"GET / HTTP/1.1\"", Unaddressed, KindNoIdent, "", 0, 4423},
	{"kex identification banner too long is not counted", "Oct  3 10:12:03 gw sshd[4423]: error: kex_exchange_identification: banner line too long", Ignored, KindNone, "", 0, 0},
	{"unable to negotiate, no address", "Oct  3 10:12:04 gw sshd[4424]: fatal: Unable to negotiate a key exchange method [preauth]", Unaddressed, KindNoKex, "", 0, 4424},
	{"no matching mac, no address", "Oct  3 10:12:04 gw sshd[4424]: fatal: no matching mac found: client hmac-md5 server hmac-sha2-256 [preauth]", Unaddressed, KindNoKex, "", 0, 4424},
	{"read from socket failed", "Oct  3 10:12:05 gw sshd[4425]: fatal: Read from socket failed: Connection reset by peer [preauth]", Unaddressed, KindPreauth, "", 0, 4425},
	// Lines that tie a process to its client.
	{"connection from", "Oct  3 10:13:00 gw sshd[4430]: Connection from 203.0.113.47 port 5022 on 192.0.2.1 port 22 rdomain \"\"", Linked, KindNone, "203.0.113.47", 0, 4430},
	{"connection closed after login", "Oct  3 10:13:00 gw sshd[4430]: Connection closed by 203.0.113.47 port 5022", Linked, KindNone, "203.0.113.47", 0, 4430},
	{"postponed", "Oct  3 10:13:01 gw sshd[4431]: Postponed publickey for deploy from 203.0.113.48 port 5023 ssh2 [preauth]", Linked, KindNone, "203.0.113.48", MethodPublickey, 4431},
	{"ltype remote", "Oct  3 10:13:02 gw sshd[4432]: SSH: Server;Ltype: Version;Remote: 203.0.113.49-1780;Protocol: 2.0;Client: libssh2_1.9.0", Linked, KindNone, "203.0.113.49", 0, 4432},
	{"accepted", "Oct  3 10:13:03 gw sshd[4433]: Accepted publickey for deploy from 203.0.113.48 port 5023 ssh2: ED25519 SHA256:q3ZcXkz9", Accepted, KindNone, "203.0.113.48", MethodPublickey, 4433},
	{"accepted keyboard-interactive", "Oct  3 10:13:03 gw sshd[4433]: Accepted keyboard-interactive/pam for deploy from 2001:db8::48 port 5023 ssh2", Accepted, KindNone, "2001:db8::48", MethodKeyboardInteractive, 4433},
	// Methods and failed keys.
	{"failed publickey is failed-key", "Oct  3 10:13:04 gw sshd[4434]: Failed publickey for deploy from 203.0.113.48 port 5023 ssh2: RSA SHA256:Zk3Lr0", Recognised, KindFailedKey, "203.0.113.48", MethodPublickey, 4434},
	{"failed hostbased is failed-key", `Oct  3 10:13:04 gw sshd[4434]: Failed hostbased for deploy from 203.0.113.48 port 5023 ssh2: ED25519 SHA256:Zk3Lr0, client user "deploy", client host "ci1"`, Recognised, KindFailedKey, "203.0.113.48", MethodHostbased, 4434},
	{"failed password method", "Oct  3 10:13:04 gw sshd[4434]: Failed password for deploy from 203.0.113.48 port 5023 ssh2", Recognised, KindFailed, "203.0.113.48", MethodPassword, 4434},
	{"failed unknown method", "Oct  3 10:13:04 gw sshd[4434]: Failed unknown for invalid user x from 203.0.113.48 port 5023 ssh2", Recognised, KindFailed, "203.0.113.48", MethodOther, 4434},
	// kernel: text inside the message (journald relays).
	{"kernel bracket colon", "gw sshd[4440]: kernel:[  812.004411]: Failed keyboard-interactive for <invalid username> from 203.0.113.50 port 4100 ssh2", Recognised, KindFailed, "203.0.113.50", MethodKeyboardInteractive, 4440},
	{"kernel space bracket", "gw sshd[4441]: kernel: [  812.004412] Failed password for user admin from 203.0.113.51 port 4101 ssh2", Recognised, KindFailed, "203.0.113.51", MethodPassword, 4441},
	{"kernel bracket", "gw sshd[4442]: kernel:[10812.004413] Invalid user admin from 2001:db8::51 port 4102", Recognised, KindInvalidUser, "2001:db8::51", 0, 4442},
	// PAM's capitalised words.
	{"pam capital error", "Oct  3 10:14:00 mac sshd[4450]: error: PAM: Authentication error for alice from 203.0.113.52 via 192.0.2.9", Recognised, KindPAM, "203.0.113.52", 0, 4450},
	{"pam capital failure", "Oct  3 10:14:00 mac sshd[4450]: error: PAM: Authentication failure for alice from 203.0.113.53", Recognised, KindPAM, "203.0.113.53", 0, 4450},
	// Trailing blanks, which relays add, before and after [preauth].
	{"trailing blanks after preauth", "Oct  3 10:14:01 gw sshd[4451]: Connection closed by authenticating user root 203.0.113.54 port 4200 [preauth]   ", Recognised, KindPreauth, "203.0.113.54", 0, 4451},
	{"trailing blank after failed", "Oct  3 10:14:01 gw sshd[4451]: Failed password for root from 203.0.113.55 port 4201 ssh2 ", Recognised, KindFailed, "203.0.113.55", MethodPassword, 4451},
	{"trailing tab after preauth", "Oct  3 10:14:01 gw sshd[4451]: Connection closed by 203.0.113.57 port 4203 [preauth]\t", Recognised, KindPreauth, "203.0.113.57", 0, 4451},
	{"trailing blanks and crlf", "Oct  3 10:14:01 gw sshd[4451]: Connection reset by 203.0.113.56 port 4202 [preauth]  \r\n", Recognised, KindPreauth, "203.0.113.56", 0, 4451},
	// Header variants.
	{"old [sshd]: tag", "Oct  3 10:15:00 [sshd]: User root from 203.0.113.60 not allowed because not listed in AllowUsers", Recognised, KindNotAllowed, "203.0.113.60", 0, 0},
	{"old [sshd] tag without colon", "Oct  3 10:15:00 [sshd] User root from 203.0.113.61 not allowed because listed in DenyUsers", Recognised, KindNotAllowed, "203.0.113.61", 0, 0},
	{"busybox facility before the tag", "Oct  3 10:15:01 router auth.info sshd[4460]: Invalid user guest from 203.0.113.62", Recognised, KindInvalidUser, "203.0.113.62", 0, 4460},
	{"busybox authpriv", "Oct  3 10:15:01 router authpriv.notice dropbear[4461]: Bad password attempt for 'admin' from 203.0.113.63:4300", Recognised, KindFailed, "203.0.113.63", MethodPassword, 4461},
	{"rsyslog tag without colon", "2026-10-03T10:15:02.123456+02:00 bastion sshd[4462] error: PAM: Authentication error for illegal user bob from 203.0.113.64", Recognised, KindPAM, "203.0.113.64", 0, 4462},
	{"freebsd priority", "Oct  3 10:15:03 <4.6> fw1 sshd[4463]: Invalid user test from 203.0.113.65", Recognised, KindInvalidUser, "203.0.113.65", 0, 4463},
	{"socklog with the line's own stamp and tag", "2026-10-03T10:15:04.10040 auth.info: Oct  3 10:15:04 sshd[4464]: Invalid user test from 203.0.113.66", Recognised, KindInvalidUser, "203.0.113.66", 0, 4464},
	{"socklog with the tag only", "2026-10-03T10:15:04.10040 auth.info: sshd[4465]:  Invalid user test from 203.0.113.67", Recognised, KindInvalidUser, "203.0.113.67", 0, 4465},
	{"socklog facility only", "2026-10-03T10:15:04.10040 authpriv.info: Invalid user test from 203.0.113.68", Recognised, KindInvalidUser, "203.0.113.68", 0, 0},
	{"sysklogd rfc 5424 fields without pri", "2026-10-03T10:15:05.021457+00:00 ap1 dropbear 6101 - - Bad password attempt for 'root' from 203.0.113.69:4301", Recognised, KindFailed, "203.0.113.69", MethodPassword, 6101},
	{"timestamp and bare message", "2026-10-03 10:15:06.108781500 Failed password for ops from 203.0.113.72 port 4302 ssh2", Recognised, KindFailed, "203.0.113.72", MethodPassword, 0},
	{"timestamp, host and another program's tag", "2026-10-03 10:15:06 h1 cron[4]: Failed password for ops from 203.0.113.72 port 4302 ssh2", Ignored, KindNone, "", 0, 0},
	{"timestamp, host and a message", "2026-10-03 10:15:06 h1 Failed password for ops from 203.0.113.72 port 4302 ssh2", Ignored, KindNone, "", 0, 0},
	{"socklog other program's tag", "2026-10-03T10:15:04.10040 auth.info: Oct  3 10:15:04 sudo[4464]: Invalid user test from 203.0.113.66", Ignored, KindNone, "", 0, 0},
	{"busybox other program", "Oct  3 10:15:01 router auth.info login[4460]: Invalid user guest from 203.0.113.62", Ignored, KindNone, "", 0, 0},
	{"colonless tag of another program", "2026-10-03T10:15:02+02:00 bastion cron[4462] Invalid user bob from 203.0.113.64", Ignored, KindNone, "", 0, 0},
	{"priority then other program", "Oct  3 10:15:03 <4.6> fw1 sudo[4463]: Invalid user test from 203.0.113.65", Ignored, KindNone, "", 0, 0},
	// Timeouts.
	{"fatal timeout before 9.8", "Oct  3 10:16:00 gw sshd[4470]: fatal: Timeout before authentication for 203.0.113.70 port 4400", Recognised, KindTimeout, "203.0.113.70", 0, 4470},
	{"timeout 9.8", "Oct  3 10:16:00 gw sshd[900]: Timeout before authentication for connection from 203.0.113.71 to 192.0.2.1, pid = 4471", Recognised, KindTimeout, "203.0.113.71", 0, 900},
	// Dropbear (svr-auth.c, svr-authpasswd.c, svr-authpam.c, svr-session.c).
	{"dropbear bad password", "Oct  3 10:17:00 ap1 dropbear[5100]: Bad password attempt for 'root' from 203.0.113.80:50100", Recognised, KindFailed, "203.0.113.80", MethodPassword, 5100},
	{"dropbear bad password lowercase", "Oct  3 10:17:00 ap1 dropbear[5100]: bad password attempt for 'root' from 203.0.113.80:50100", Recognised, KindFailed, "203.0.113.80", MethodPassword, 5100},
	{"dropbear bad pam password", "Oct  3 10:17:00 ap1 dropbear[5100]: Bad PAM password attempt for 'admin' from [2001:db8::80]:50101", Recognised, KindFailed, "2001:db8::80", MethodPassword, 5100},
	{"dropbear nonexistent user", "Oct  3 10:17:01 ap1 dropbear[5101]: Login attempt for nonexistent user from 203.0.113.81:50102", Recognised, KindInvalidUser, "203.0.113.81", 0, 5101},
	{"dropbear nonexistent user without address (2020.79-2024.85)", "Oct  3 10:17:01 ap1 dropbear[5101]: Login attempt for nonexistent user", Unaddressed, KindInvalidUser, "", 0, 5101},
	{"dropbear nonexistent user unbracketed mapped", "Oct  3 10:17:01 dropbear[5101]: login attempt for nonexistent user from ::ffff:203.0.113.82:50103", Recognised, KindInvalidUser, "203.0.113.82", 0, 5101},
	{"dropbear old nonexistent user name injected", "Oct  3 10:17:01 ap1 dropbear[5101]: Login attempt for nonexistent user 'x' from 6.6.6.6:1' from 203.0.113.83:50104", Recognised, KindInvalidUser, "203.0.113.83", 0, 5101},
	{"dropbear old nonexistent user longer than dropbear writes", "Oct  3 10:17:01 ap1 dropbear[5101]: Login attempt for nonexistent user '" + strings.Repeat("x", 101) + "' from 203.0.113.83:50104", Refused, KindInvalidUser, "", 0, 5101},
	{"dropbear max tries old", "Oct  3 10:17:02 ap1 dropbear[5102]: Exit before auth (user 'root', 10 fails): Max auth tries reached - user 'root' from 203.0.113.84:50105", Recognised, KindMaxAttempts, "203.0.113.84", 0, 5102},
	{"dropbear max tries new", "Oct  3 10:17:02 ap1 dropbear[5102]: Exit before auth from <203.0.113.85:50106>: (user 'root', 10 fails): Max auth tries reached - user 'root'", Recognised, KindMaxAttempts, "203.0.113.85", 0, 5102},
	{"dropbear max tries invalid user", "Oct  3 10:17:02 ap1 dropbear[5102]: Exit before auth from <[2001:db8::86]:50107>: Max auth tries reached - user 'is invalid'", Recognised, KindMaxAttempts, "2001:db8::86", 0, 5102},
	{"dropbear exit before auth", "Oct  3 10:17:03 ap1 dropbear[5103]: Exit before auth from <203.0.113.87:50108>: Exited normally", Recognised, KindPreauth, "203.0.113.87", 0, 5103},
	{"dropbear journal stamp", "Oct  3 10:17:04 ap1 dropbear[5104]: [5104] Oct 03 10:17:04 Bad password attempt for 'root' from 203.0.113.88:50109", Recognised, KindFailed, "203.0.113.88", MethodPassword, 5104},
	{"dropbear wrong user", "Oct  3 10:17:05 ap1 dropbear[5105]: Login attempt with wrong user daemon from 203.0.113.89:50110", Recognised, KindNotAllowed, "203.0.113.89", 0, 5105},
	{"dropbear bad signature", "Oct  3 10:17:05 ap1 dropbear[5105]: Pubkey auth bad signature for 'root' with key SHA256:abc from 203.0.113.89:50110", Recognised, KindFailedKey, "203.0.113.89", MethodPublickey, 5105},
	{"dropbear password success", "Oct  3 10:17:06 ap1 dropbear[5106]: Password auth succeeded for 'root' from 203.0.113.90:50111", Accepted, KindNone, "203.0.113.90", MethodPassword, 5106},
	{"dropbear pubkey success", "Oct  3 10:17:06 ap1 dropbear[5106]: Pubkey auth succeeded for 'root' with ssh-ed25519 key SHA256:abc from [2001:db8::90]:50112", Accepted, KindNone, "2001:db8::90", MethodPublickey, 5106},
	{"dropbear partial success", "Oct  3 10:17:06 ap1 dropbear[5106]: Password auth succeeded for 'root' from 203.0.113.90:50111, extra auth required", Linked, KindNone, "203.0.113.90", MethodPassword, 5106},
	{"dropbear child connection", "Oct  3 10:17:07 ap1 dropbear[5107]: Child connection from 203.0.113.91:50113", Linked, KindNone, "203.0.113.91", 0, 5107},
	{"dropbear port out of range", "Oct  3 10:17:00 ap1 dropbear[5100]: Bad password attempt for 'root' from 203.0.113.80:65536", Ignored, KindNone, "", 0, 0},
}
