package authwatch

import (
	"testing"
	"time"
)

// benchLines are typical Debian 12 auth.log lines: failures of each common kind, sshd lines
// that are not failures, and other programs' lines, which make up most of a real log.
var benchLines = map[string][]string{
	"failure": {
		"Nov 22 06:25:01 web1 sshd[31602]: Failed password for invalid user admin from 194.117.26.69 port 50273 ssh2",
		"Nov 22 06:25:01 web1 sshd[31602]: Invalid user ftp from 192.0.2.2 port 37220",
		"Nov 22 06:25:01 web1 sshd[1296]: Connection closed by authenticating user root 2001:db8::a11:beef:7ac0 port 46038 [preauth]",
		"Nov 22 06:25:01 web1 sshd[109798]: error: maximum authentication attempts exceeded for invalid user xxx from 192.0.2.7 port 49941 ssh2 [preauth]",
		"Nov 22 06:25:01 web1 sshd[100725]: Disconnected from invalid user lko 27.150.20.230 port 41192 [preauth]",
		"Nov 22 06:25:01 web1 sshd[1558]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.114  user=root",
	},
	"sshd-other": {
		"Nov 22 06:25:01 web1 sshd[32307]: Accepted publickey for git from 192.0.2.1 port 57904 ssh2: ED25519 SHA256:MA2Wm9kQUD/G5bnJfpI4mXnkT6g9M7Z04XRtcSk2P/o",
		"Nov 22 06:25:01 web1 sshd[19471]: Received disconnect from 1.2.3.4 port 60058:11: disconnected by user",
		"Nov 22 06:25:01 web1 sshd[19471]: pam_unix(sshd:session): session opened for user git(uid=1000) by (uid=0)",
	},
	"other-program": {
		"Nov 22 06:25:01 web1 CRON[4120]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
		"Nov 22 06:25:01 web1 sudo[4133]:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/apt update",
		"Nov 22 06:25:01 web1 systemd-logind[612]: New session 41 of user alice.",
	},
	"iso-failure": {
		"2026-11-22T06:25:01.123456+01:00 web1 sshd-session[31602]: Failed password for invalid user admin from 194.117.26.69 port 50273 ssh2",
	},
	// Lines whose client text follows sshd's address (issue 11): every " from " is tried.
	"cert-failure": {
		"Nov 22 06:25:01 web1 sshd[31602]: Failed publickey for invalid user bob from 10.99.0.17 port 5555 ssh2: ECDSA-CERT SHA256:abcdef ID x from 6.6.6.19 port 22 ssh2 (serial 1) CA ECDSA SHA256:ghijk",
		`Nov 22 06:25:01 web1 sshd[31602]: Failed hostbased for invalid user bob from 10.99.0.18 port 5555 ssh2: ECDSA SHA256:abc, client user "x from 6.6.6.20 port 22 ssh2", client host "h"`,
	},
	// Issue 16's shapes: Dropbear, the client's disconnect reasons and the lines Sessions links.
	"dropbear": {
		"Nov 22 06:25:01 ap1 dropbear[5100]: Bad password attempt for 'root' from 203.0.113.80:50100",
		"Nov 22 06:25:01 ap1 dropbear[5102]: Exit before auth from <203.0.113.85:50106>: (user 'root', 10 fails): Max auth tries reached - user 'root'",
	},
	"linked": {
		"Nov 22 06:25:01 web1 sshd[4410]: error: Received disconnect from 203.0.113.41 port 50122:3: com.jcraft.jsch.JSchException: Auth fail [preauth]",
		"Nov 22 06:25:01 web1 sshd[4430]: Connection from 203.0.113.47 port 5022 on 192.0.2.1 port 22 rdomain \"\"",
		"Nov 22 06:25:01 web1 sshd[4420]: Disconnecting: Too many authentication failures for admin [preauth]",
	},
	"macos-failure": {
		"2026-09-13 12:31:09.292032-0700  localhost sshd-session[16472]: Failed password for user from 172.18.1.100 port 43042 ssh2",
	},
}

// BenchmarkParse reports ns per line (and MB/s) for each group of benchLines.
func BenchmarkParse(b *testing.B) {
	p := Parser{Now: time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)}
	for _, name := range []string{"failure", "sshd-other", "other-program", "iso-failure", "macos-failure", "cert-failure", "dropbear", "linked"} {
		lines := toBytes(benchLines[name])
		b.Run(name, func(b *testing.B) { benchParse(b, &p, lines) })
	}
}

func benchParse(b *testing.B, p *Parser, lines [][]byte) {
	size := 0
	for _, l := range lines {
		size += len(l)
	}
	b.SetBytes(int64(size / len(lines)))
	b.ReportAllocs()
	n := 0
	for i := 0; b.Loop(); i++ {
		if _, ok := p.Parse(lines[i%len(lines)]); ok {
			n++
		}
	}
	_ = n
}

func toBytes(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// BenchmarkSessions reports the cost of correlating one line: a connection's Linked line, two
// failures, an Unaddressed one and the close, over 10,000 PIDs in a Sessions of 4,096.
func BenchmarkSessions(b *testing.B) {
	p := Parser{Now: time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)}
	var fs []Failure
	var os []Outcome
	for _, l := range []string{
		"Nov 22 06:25:01 web1 sshd[4430]: Connection from 203.0.113.47 port 5022 on 192.0.2.1 port 22",
		"Nov 22 06:25:02 web1 sshd[4430]: Failed password for root from 203.0.113.47 port 5022 ssh2",
		"Nov 22 06:25:03 web1 sshd[4430]: Failed password for root from 203.0.113.47 port 5022 ssh2",
		"Nov 22 06:25:04 web1 sshd[4430]: Disconnecting: Too many authentication failures for root [preauth]",
		"Nov 22 06:25:04 web1 sshd[4430]: Connection closed by authenticating user root 203.0.113.47 port 5022 [preauth]",
	} {
		f, o := p.Classify([]byte(l))
		fs, os = append(fs, f), append(os, o)
	}
	s := NewSessions(4096)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f := fs[i%len(fs)]
		f.PID = 1000 + (i/len(fs))%10000
		s.Feed(f, os[i%len(fs)])
	}
}
