// Command genauth writes a synthetic Debian-style /var/log/auth.log for benchmarks: mostly
// lines that are not failures (cron and sudo sessions, systemd-logind, successful SSH logins
// with their session lines) and SSH attacks from a few hundred addresses, IPv4 and IPv6, each
// attack written as the whole sequence OpenSSH 9.2 and pam_unix log for it (reference
// adaptive.md §7: one failed login is several lines). A few attacks use user names that carry
// " from VICTIM port 22 ssh2" to try to get VICTIM banned. Output is deterministic for a seed.
//
// Standard error gets a summary the benchmark script checks the parsers against: lines written,
// failure lines (in total and by authwatch kind), attacking connections, the size of the
// attacker pool, injection lines and the victim address.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// victim is the address injected user names name; no parser may count a failure for it.
const victim = "203.0.113.250"

func main() {
	lines := flag.Int("lines", 1_000_000, "lines to write")
	attackers := flag.Int("attackers", 300, "attacking addresses")
	ipv6 := flag.Float64("ipv6", 0.2, "share of attacking addresses that are IPv6")
	seed := flag.Uint64("seed", 1, "random seed")
	format := flag.String("format", "rfc3164", "timestamp format: rfc3164 (rsyslog's default file format) or iso (RFC 3339, rsyslog's high-precision format)")
	flag.Parse()
	if *lines < 0 || *attackers < 1 || *ipv6 < 0 || *ipv6 > 1 || (*format != "rfc3164" && *format != "iso") {
		fmt.Fprintln(os.Stderr, "genauth: -lines must be 0 or more, -attackers 1 or more, -ipv6 in [0,1], -format rfc3164 or iso")
		os.Exit(2)
	}
	g := newGen(*seed, *attackers, *ipv6, *format == "iso")
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	for g.written < *lines {
		g.event(w, *lines)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "genauth:", err)
		os.Exit(1)
	}
	g.summary(os.Stderr)
}

type gen struct {
	rng      *rand.Rand
	iso      bool
	attack   []string // attacking addresses, text
	users    []string // legitimate users' addresses
	t        time.Time
	pid      int
	written  int
	failures map[string]int // by authwatch kind
	injected int
	conns    int // attacking connections with at least one line written
	lastConn int
	used     map[string]bool // attacking addresses with at least one failure line written
	cur      string          // the address of the attack being written
	buf      []byte
}

func newGen(seed uint64, attackers int, ipv6 float64, iso bool) *gen {
	g := &gen{
		rng:      rand.New(rand.NewPCG(seed, 0xa17b)),
		iso:      iso,
		t:        time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC),
		pid:      20000,
		failures: map[string]int{},
		used:     map[string]bool{},
	}
	uniq := map[string]bool{}
	for len(g.attack) < attackers {
		var a netip.Addr
		if g.rng.Float64() < ipv6 {
			// 2001:db8::/32 (documentation), varied so the text forms differ in length.
			var b [16]byte
			b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
			for i := 4; i < 16; i++ {
				if g.rng.IntN(3) > 0 {
					b[i] = byte(g.rng.IntN(256))
				}
			}
			a = netip.AddrFrom16(b)
		} else {
			// 198.18.0.0/15 (benchmarking) and 100.64.0.0/10 spread, never the victim.
			if g.rng.IntN(2) == 0 {
				a = netip.AddrFrom4([4]byte{198, byte(18 + g.rng.IntN(2)), byte(g.rng.IntN(256)), byte(1 + g.rng.IntN(254))})
			} else {
				a = netip.AddrFrom4([4]byte{100, byte(64 + g.rng.IntN(64)), byte(g.rng.IntN(256)), byte(1 + g.rng.IntN(254))})
			}
		}
		if s := a.String(); !uniq[s] {
			uniq[s] = true
			g.attack = append(g.attack, s)
		}
	}
	for i := range 12 {
		g.users = append(g.users, "10.20.0."+strconv.Itoa(10+i))
	}
	return g
}

var (
	invalidUsers = []string{"admin", "test", "oracle", "ubuntu", "pi", "user", "ftpuser", "git", "postgres", "a b", "", "support", "guest", "deploy", "hadoop"}
	validUsers   = []string{"root", "root", "root", "alice", "www-data"}
	staff        = []string{"alice", "bob", "carol"}
	commands     = []string{"/usr/bin/apt update", "/usr/bin/systemctl restart nginx", "/usr/bin/journalctl -u sshd", "/usr/sbin/nft list ruleset"}
	offers       = []string{"diffie-hellman-group1-sha1,diffie-hellman-group14-sha1", "ssh-rsa,ssh-dss"}
)

// event writes one event's lines (all of them unless the log is full).
func (g *gen) event(w *bufio.Writer, limit int) {
	g.pid++
	pid := g.pid
	port := strconv.Itoa(1024 + g.rng.IntN(64000))
	r := g.rng.IntN(1000)
	switch {
	case r < 430: // cron job: session opened and closed
		g.line(w, limit, "CRON", pid, "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)", "")
		g.line(w, limit, "CRON", pid, "(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)", "")
		g.line(w, limit, "CRON", pid, "pam_unix(cron:session): session closed for user root", "")
	case r < 530: // sudo
		u := staff[g.rng.IntN(len(staff))]
		g.line(w, limit, "sudo", pid, "    "+u+" : TTY=pts/0 ; PWD=/home/"+u+" ; USER=root ; COMMAND="+commands[g.rng.IntN(len(commands))], "")
		g.line(w, limit, "sudo", pid, "pam_unix(sudo:session): session opened for user root(uid=0) by "+u+"(uid=1000)", "")
		g.line(w, limit, "sudo", pid, "pam_unix(sudo:session): session closed for user root", "")
	case r < 580: // systemd-logind alone
		g.line(w, limit, "systemd-logind", 612, "Watching system buttons on /dev/input/event0 (Power Button)", "")
	case r < 640: // a successful login and its session
		a := g.users[g.rng.IntN(len(g.users))]
		u := staff[g.rng.IntN(len(staff))]
		g.line(w, limit, "sshd", pid, "Accepted publickey for "+u+" from "+a+" port "+port+" ssh2: ED25519 SHA256:MA2Wm9kQUD/G5bnJfpI4mXnkT6g9M7Z04XRtcSk2P/o", "")
		g.line(w, limit, "sshd", pid, "pam_unix(sshd:session): session opened for user "+u+"(uid=1000) by (uid=0)", "")
		g.line(w, limit, "systemd-logind", 612, "New session "+strconv.Itoa(pid)+" of user "+u+".", "")
		g.line(w, limit, "sshd", pid, "Received disconnect from "+a+" port "+port+":11: disconnected by user", "")
		g.line(w, limit, "sshd", pid, "Disconnected from user "+u+" "+a+" port "+port, "")
		g.line(w, limit, "sshd", pid, "pam_unix(sshd:session): session closed for user "+u, "")
		g.line(w, limit, "systemd-logind", 612, "Removed session "+strconv.Itoa(pid)+".", "")
	case r < 800: // invalid user, password tried
		a := g.attacker()
		u := invalidUsers[g.rng.IntN(len(invalidUsers))]
		g.line(w, limit, "sshd", pid, "Invalid user "+u+" from "+a+" port "+port, "invalid-user")
		g.line(w, limit, "sshd", pid, "pam_unix(sshd:auth): check pass; user unknown", "")
		g.line(w, limit, "sshd", pid, "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost="+a, "pam")
		g.line(w, limit, "sshd", pid, "Failed password for invalid user "+u+" from "+a+" port "+port+" ssh2", "failed")
		g.line(w, limit, "sshd", pid, "Received disconnect from "+a+" port "+port+":11: Bye Bye [preauth]", "")
		g.line(w, limit, "sshd", pid, "Disconnected from invalid user "+u+" "+a+" port "+port+" [preauth]", "preauth")
	case r < 940: // existing user, password tried
		a := g.attacker()
		u := validUsers[g.rng.IntN(len(validUsers))]
		g.line(w, limit, "sshd", pid, "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost="+a+"  user="+u, "pam")
		g.line(w, limit, "sshd", pid, "Failed password for "+u+" from "+a+" port "+port+" ssh2", "failed")
		g.line(w, limit, "sshd", pid, "Connection closed by authenticating user "+u+" "+a+" port "+port+" [preauth]", "preauth")
	case r < 955: // MaxAuthTries reached
		a := g.attacker()
		for range 6 {
			g.line(w, limit, "sshd", pid, "Failed password for root from "+a+" port "+port+" ssh2", "failed")
		}
		g.line(w, limit, "sshd", pid, "error: maximum authentication attempts exceeded for root from "+a+" port "+port+" ssh2 [preauth]", "max-attempts")
		g.line(w, limit, "sshd", pid, "Disconnecting authenticating user root "+a+" port "+port+": Too many authentication failures [preauth]", "max-attempts")
	case r < 975: // scanners
		a := g.attacker()
		switch g.rng.IntN(3) {
		case 0:
			g.line(w, limit, "sshd", pid, "Did not receive identification string from "+a+" port "+port, "no-ident")
		case 1:
			g.line(w, limit, "sshd", pid, "banner exchange: Connection from "+a+" port "+port+": invalid format", "bad-banner")
		default:
			g.line(w, limit, "sshd", pid, "Unable to negotiate with "+a+" port "+port+": no matching host key type found. Their offer: "+offers[g.rng.IntN(len(offers))]+" [preauth]", "no-kex")
		}
	case r < 995: // key scan: connection closed before authentication
		a := g.attacker()
		g.line(w, limit, "sshd", pid, "Connection closed by "+a+" port "+port+" [preauth]", "preauth")
	default: // injection: the user name names the victim
		a := g.attacker()
		u := "x from " + victim + " port 22 ssh2"
		g.line(w, limit, "sshd", pid, "Invalid user "+u+" from "+a+" port "+port, "invalid-user")
		g.line(w, limit, "sshd", pid, "Failed password for invalid user "+u+" from "+a+" port "+port+" ssh2", "failed")
		g.line(w, limit, "sshd", pid, "Connection closed by invalid user "+victim+" port 22 "+a+" port "+port+" [preauth]", "preauth")
	}
}

// attacker picks an attacking address, some far more often than others (a few loud ones).
func (g *gen) attacker() string {
	n := len(g.attack)
	i := g.rng.IntN(n)
	if g.rng.IntN(2) == 0 {
		i = g.rng.IntN(max(1, n/10))
	}
	g.cur = g.attack[i]
	return g.cur
}

// line writes one line unless the log is full; kind is the authwatch kind it counts as, "" for
// none.
func (g *gen) line(w *bufio.Writer, limit int, prog string, pid int, msg, kind string) {
	if g.written >= limit {
		return
	}
	g.written++
	if g.written%12 == 0 {
		g.t = g.t.Add(time.Duration(g.rng.IntN(2000)) * time.Millisecond)
	}
	b := g.buf[:0]
	if g.iso {
		b = g.t.AppendFormat(b, "2006-01-02T15:04:05.000000-07:00")
	} else {
		b = g.t.AppendFormat(b, time.Stamp)
	}
	b = append(b, " web1 "...)
	b = append(b, prog...)
	b = append(b, '[')
	b = strconv.AppendInt(b, int64(pid), 10)
	b = append(b, "]: "...)
	b = append(b, msg...)
	b = append(b, '\n')
	w.Write(b)
	g.buf = b
	if kind != "" {
		if g.failures[kind]++; g.lastConn != pid {
			g.lastConn = pid
			g.conns++
		}
	}
	if kind != "" {
		g.used[g.cur] = true
	}
	if strings.Contains(msg, victim) {
		g.injected++
	}
}

func (g *gen) summary(f *os.File) {
	total := 0
	kinds := make([]string, 0, len(g.failures))
	for k, n := range g.failures {
		kinds = append(kinds, k)
		total += n
	}
	sort.Strings(kinds)
	fmt.Fprintf(f, "lines %d\nfailures %d\nconnections %d\n", g.written, total, g.conns)
	for _, k := range kinds {
		fmt.Fprintf(f, "kind %s %d\n", k, g.failures[k])
	}
	fmt.Fprintf(f, "addresses %d\nattacker-pool %d\ninjection-lines %d\nvictim %s\n", len(g.used), len(g.attack), g.injected, victim)
}
