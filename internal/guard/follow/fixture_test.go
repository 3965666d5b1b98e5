package follow

import (
	"encoding/json"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/firewarden/firewarden/internal/authwatch"
)

// authCase is one log line copied verbatim from the project's shared auth fixtures
// (../shared/fixtures/auth/, each line's origin named in that file), with the client address
// authwatch must find in it; "" for a line that is not a failure and must pass through all the
// same.
type authCase struct {
	fixture string // the fixture file the line came from
	line    string
	addr    string
}

// linuxCases are sshd lines as syslog daemons and `journalctl -o short` print them.
var linuxCases = []authCase{
	// journald short format, Arch Linux, OpenSSH 8.8p1 (crowdsecurity/crowdsec#1150)
	{"linux-journald-and-authlog.txt", "Jan 09 23:53:13 mail.xyz.org sshd[100725]: pam_unix(sshd:auth): check pass; user unknown", ""},
	{"linux-journald-and-authlog.txt", "Jan 09 23:53:15 mail.xyz.org sshd[100725]: Failed password for invalid user lko from 27.150.20.230 port 41192 ssh2", "27.150.20.230"},
	{"linux-journald-and-authlog.txt", "Jan 09 23:53:17 mail.xyz.org sshd[100725]: Disconnected from invalid user lko 27.150.20.230 port 41192 [preauth]", "27.150.20.230"},
	{"linux-journald-and-authlog.txt", "Jan 10 21:57:04 mail.xyz.org sshd[218641]: Disconnected from authenticating user root 81.68.238.7 port 48154 [preauth]", "81.68.238.7"},
	// /var/log/auth.log (crowdsecurity/hub .tests/sshd-logs/sshd-logs.log)
	{"linux-journald-and-authlog.txt", "Feb 12 14:10:21 sd-126005 sshd[16378]: Invalid user pascal from 35.188.49.176 port 53502", "35.188.49.176"},
	{"linux-journald-and-authlog.txt", "Nov 2 15:40:14 workshop sshd[28179]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=5.33.63.160 user=workshop", "5.33.63.160"},
	// OpenSSH 9.8 sshd-session on Linux (fail2ban tests, gh-3782)
	{"linux-journald-and-authlog.txt", "Jul  3 14:59:17 host sshd-session[1571]: Failed password for root from 192.0.2.1 port 56502 ssh2", "192.0.2.1"},
	// IPv6 (fail2ban tests)
	{"edge-cases-ipv6-users-injection.txt", "Feb 25 14:34:10 belka sshd[31603]: Failed password for invalid user ROOT from aaaa:bbbb:cccc:1234::1:1 port 50273 ssh2", "aaaa:bbbb:cccc:1234::1:1"},
	{"edge-cases-ipv6-users-injection.txt", "Apr 10 02:43:29 quasar sshd[50112]: Connection closed by 2001:db8::a11:beef:7ac0 [preauth]", "2001:db8::a11:beef:7ac0"},
}

// macCases are macOS unified log lines as `log show|stream --style syslog` prints them.
var macCases = []authCase{
	// macOS 10.13/10.14 (wazuh/wazuh ruleset/testing/tests/sshd.ini, from wazuh/wazuh-ruleset#593)
	{"macos-sshd.txt", "2020-03-23 06:47:42.801612-0700  localhost sshd[3186]: error: PAM: unknown user for illegal user badguy from 192.168.33.1", "192.168.33.1"},
	{"macos-sshd.txt", "2020-03-23 08:14:32.766049-0700  localhost sshd[8981]: error: maximum authentication attempts exceeded for invalid user badguy from 192.168.33.1 port 55146 ssh2 [preauth]", "192.168.33.1"},
	{"macos-sshd.txt", "2020-03-24 08:38:42.344447-0700  localhost sshd[2519]: Failed password for user from 172.18.1.100 port 43042 ssh2", "172.18.1.100"},
	{"macos-sshd.txt", "2020-03-25 08:01:34.584936-0700  localhost sshd[1551]: Failed keyboard-interactive/pam for invalid user user from 172.18.1.1 port 32982 ssh2", "172.18.1.1"},
	{"macos-sshd.txt", "2020-03-25 08:23:20.933154-0700  localhost sshd[9265]: Connection reset by authenticating user user 192.168.33.1 port 51772 [preauth]", "192.168.33.1"},
	{"macos-sshd.txt", "2020-03-25 07:46:15.205351-0700  localhost sshd[6738]: User root from 192.168.33.1 not allowed because not listed in AllowUsers", "192.168.33.1"},
	{"macos-sshd.txt", "2020-03-24 06:07:50.998187-0700  localhost sshd[201]: Accepted publickey for alice from 10.0.2.2 port 55468 ssh2: RSA SHA256:abcdefghijklmopqrstuvwxyzabcdefghijklmopqrs", ""},
	// macOS 13/14, an empty user name (wazuh/wazuh#18290)
	{"macos-sshd.txt", "2023-08-08 15:07:29.432797+0000  localhost sshd[4564]: Invalid user  from 64.62.197.6 port 62565", "64.62.197.6"},
	// macOS 15/26, sshd-session (wazuh/wazuh#39233)
	{"macos-sshd.txt", "2026-09-13 12:31:09.292032-0700 localhost sshd-session[16472]: Accepted publickey for vagrant from 10.211.55.2 port 54807 ssh2: ED25519 SHA256:MA2Wm9kQUD/G5bnJfpI4mXnkT6g9M7Z04XRtcSk2P/o", ""},
}

// stamp3164 is the timestamp at the start of a syslog line: "Jan 09 23:53:13", "Nov 2 15:40:14".
var stamp3164 = regexp.MustCompile(`^([A-Z][a-z]{2}) +(\d{1,2}) (\d\d:\d\d:\d\d) `)

// shortISOPrecise rewrites a syslog line as `journalctl -o short-iso-precise` prints it: the
// timestamp with a year, microseconds and a zone (REFORMATTED test data: the fixtures hold no
// short-iso-precise capture; host, program and message are the fixture's).
func shortISOPrecise(t *testing.T, line string, year int) string {
	t.Helper()
	m := stamp3164.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no syslog timestamp in %q", line)
	}
	ts, err := time.Parse("Jan 2 15:04:05 2006", m[1]+" "+m[2]+" "+m[3]+" "+strconv.Itoa(year))
	if err != nil {
		t.Fatal(err)
	}
	return ts.Format("2006-01-02T15:04:05.000000-0700") + " " + line[len(m[0]):]
}

// syslogLine is a `log --style syslog` line cut into what a unified log record holds.
var syslogLine = regexp.MustCompile(`^(\S+ \S+) +localhost (sshd(?:-session|-auth)?)\[(\d+)\]: (.*)$`)

// ndjsonRecord rebuilds the `log stream --style ndjson` record behind a `--style syslog` fixture
// line (SYNTHETIC wrapper: the keys and the other values are those of the real record in
// internal/detect/live/testdata/unifiedlog/stream.ndjson; timestamp, process, pid and message
// are the fixture line's).
func ndjsonRecord(t *testing.T, line string) string {
	t.Helper()
	m := syslogLine.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("not a log --style syslog line: %q", line)
	}
	pid, _ := strconv.Atoi(m[3])
	image := "/usr/sbin/sshd"
	if m[2] != "sshd" {
		image = "/usr/libexec/" + m[2]
	}
	rec := map[string]any{
		"traceID": 762098997530628, "eventMessage": m[4], "eventType": "logEvent", "source": nil,
		"formatString": "%{public}s", "activityIdentifier": 0, "subsystem": "", "category": "",
		"threadID": 7071609, "senderImageUUID": "EFCEFC07-848B-3EA7-87A0-E967111ABE77",
		"bootUUID": "4044A0BF-330C-4FB9-8D90-D5BF55C7B63C", "processImagePath": image,
		"timestamp": m[1], "senderImagePath": "/usr/lib/system/libsystem_c.dylib",
		"machTimestamp": 356419409889185, "messageType": "Info",
		"processImageUUID": "9B5A7191-5B84-3990-8710-D9BD9273A8E5", "processID": pid,
		"senderProgramCounter": 104220, "parentActivityIdentifier": 0, "timezoneName": "",
	}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkParsed says whether line, as emitted, gives authwatch the case's address.
func checkParsed(t *testing.T, c authCase, line string) authwatch.Failure {
	t.Helper()
	f, ok := authwatch.Parse([]byte(line))
	switch {
	case c.addr == "" && ok:
		t.Errorf("authwatch.Parse(%q) = %+v, want no failure", line, f)
	case c.addr != "" && !ok:
		t.Errorf("authwatch.Parse(%q) found no failure, want %s (%s)", line, c.addr, c.fixture)
	case c.addr != "" && f.Addr != netip.MustParseAddr(c.addr):
		t.Errorf("authwatch.Parse(%q).Addr = %s, want %s (%s)", line, f.Addr, c.addr, c.fixture)
	}
	return f
}

// A File hands out the fixture lines as written; authwatch finds each one's address.
func TestFileFixtureLines(t *testing.T) {
	var want []string
	for _, c := range linuxCases {
		want = append(want, c.line)
	}
	e := newFileEnv(t, FileOptions{FromStart: true, Poll: never, SafetyPoll: never}, true)
	e.write("auth.log", strings.Join(want, "\n")+"\n")
	e.start()
	got := e.got.wait(t, len(want))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	for i, c := range linuxCases {
		checkParsed(t, c, got[i])
	}
	for _, l := range e.got.lines {
		if l.Source != "file:/var/log/auth.log" || l.Read.IsZero() {
			t.Errorf("Line{Source: %q, Read: %v}, want the File's name and a read time", l.Source, l.Read)
		}
	}
}

// The line built from a unified log record means to authwatch exactly what the fixture's
// `--style syslog` line means: same time, address, port, kind, service and pid.
func TestDecodeRecordMatchesSyslogStyle(t *testing.T) {
	for _, c := range macCases {
		t.Run(c.line[:26], func(t *testing.T) {
			rec := ndjsonRecord(t, c.line)
			line, ok, bad := decodeRecord(nil, []byte(rec))
			if !ok || bad {
				t.Fatalf("decodeRecord(%s) = %q, ok %v, bad %v; want a line", rec, line, ok, bad)
			}
			got := checkParsed(t, c, string(line))
			want, _ := authwatch.Parse([]byte(c.line))
			if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("authwatch.Parse(%q) (-fixture line +decoded record):\n%s", line, diff)
			}
			if c.addr != "" && (got.Time.IsZero() || !strings.HasPrefix(got.Service, "sshd")) {
				t.Errorf("authwatch.Parse(%q) = %+v: want a time and an sshd service", line, got)
			}
		})
	}
}
