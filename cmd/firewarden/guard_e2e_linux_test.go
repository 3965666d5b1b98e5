//go:build linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/block"
	"github.com/firewarden/firewarden/internal/netnstest"
)

// The guard end to end: the real binary runs `guard` inside the server namespace of a veth pair
// (netnstest), following a log file the test writes sshd's failure lines to, and the client
// namespace finds out with real TCP connections whether it has been cut off. Needs root;
// skips otherwise. CI runs it.

const guardHint = "run `sudo go test ./cmd/firewarden -run Guard`"

// guardRun is a `firewarden guard` process in a namespace.
type guardRun struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string // its standard error, line by line
	seen  chan struct{}
	done  chan error
}

// startGuard runs firewarden (with args before "guard") in namespace ns, and waits until it
// follows its sources.
func startGuard(t testing.TB, ns string, args ...string) *guardRun {
	t.Helper()
	return startDaemon(t, ns, "guard: started", fwBin, args...)
}

// startDaemon runs program in namespace ns and waits until its standard error says ready.
func startDaemon(t testing.TB, ns, ready, program string, args ...string) *guardRun {
	t.Helper()
	full := append([]string{"netns", "exec", ns, program}, args...)
	cmd := exec.Command(netnstest.IPPath(t), full...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g := &guardRun{cmd: cmd, seen: make(chan struct{}, 1), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			g.mu.Lock()
			g.lines = append(g.lines, sc.Text())
			g.mu.Unlock()
			select {
			case g.seen <- struct{}{}:
			default:
			}
		}
		g.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	})
	if !g.waitFor(ready, 20*time.Second) {
		cmd.Process.Kill()
		t.Fatalf("%s did not start; it said:\n%s", program, g.log())
	}
	return g
}

// waitFor waits until a line of the guard's standard error contains s.
func (g *guardRun) waitFor(s string, d time.Duration) bool {
	deadline := time.After(d)
	for {
		if strings.Contains(g.log(), s) {
			return true
		}
		select {
		case <-g.seen:
		case <-deadline:
			return false
		}
	}
}

func (g *guardRun) log() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return strings.Join(g.lines, "\n")
}

// stop sends SIGTERM and returns the exit status.
func (g *guardRun) stop(t testing.TB) int {
	t.Helper()
	g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(20 * time.Second):
		g.cmd.Process.Kill()
		t.Fatalf("guard did not stop on SIGTERM; it said:\n%s", g.log())
	}
	return g.cmd.ProcessState.ExitCode()
}

// authLog is a log file sshd's failures are appended to.
type authLog struct {
	f   *os.File
	pid int
}

func newAuthLog(t testing.TB, path string) *authLog {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &authLog{f: f, pid: 4000}
}

// fail appends n "Failed password" lines for addr, in the shape of a journald short-iso line
// (reference: ../shared/fixtures/auth/linux-journald-and-authlog.txt), each from a new sshd
// process so that no two lines pair up as one attempt.
func (l *authLog) fail(t testing.TB, addr netip.Addr, n int) {
	t.Helper()
	if err := l.write(addr, n); err != nil {
		t.Fatal(err)
	}
}

// write is fail for goroutines that may not stop the test.
func (l *authLog) write(addr netip.Addr, n int) error {
	for range n {
		l.pid++
		line := fmt.Sprintf("%s fwhost sshd[%d]: Failed password for root from %s port %d ssh2\n",
			time.Now().UTC().Format("2006-01-02T15:04:05.000000-07:00"), l.pid, addr, 40000+l.pid%20000)
		if _, err := l.f.WriteString(line); err != nil {
			return err
		}
	}
	return nil
}

// warmUp proves the guard reads the log: a file source starts at the end of the file once it
// has opened it, which may be after the "started" line, so lines written before that are not
// read (as with tail -F). Failures of addr, an address no test connects from, are written one
// at a time until the guard bans it.
func (g *guardRun) warmUp(t testing.TB, l *authLog, addr netip.Addr) {
	t.Helper()
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); {
		l.fail(t, addr, 1)
		if g.waitFor("banned "+addr.String()+" ", 50*time.Millisecond) {
			return
		}
	}
	t.Fatalf("the guard banned no one after 20 s of failures of %v; it said:\n%s", addr, g.log())
}

// runIn runs firewarden in namespace ns and fails the test unless it exits 0.
func runIn(t testing.TB, ns string, args ...string) string {
	t.Helper()
	full := append([]string{"netns", "exec", ns, fwBin}, args...)
	out, err := exec.Command(netnstest.IPPath(t), full...).CombinedOutput()
	if err != nil {
		t.Fatalf("firewarden %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// eventually polls cond every few milliseconds for up to d.
func eventually(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

func writeGuardConfig(t testing.TB, dir, log string, failures int, ban string) string {
	t.Helper()
	cfg := filepath.Join(dir, "firewarden.yaml")
	text := fmt.Sprintf("guard:\n  sources:\n    - type: file\n      path: %s\n  threshold:\n    failures: %d\n    window: 10m\n  ban:\n    time: %s\n    rate: 100000/1s\n    max_bans: 200000\n", log, failures, ban)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestGuardBansAfterLoggedFailures: three failures of a client, written to the log the guard
// follows, cut that client off, in IPv4 and in IPv6, and no one else; an allowlisted client is
// never cut off however often it fails; the ban lifts after its time.
func TestGuardBansAfterLoggedFailures(t *testing.T) {
	p := netnstest.NewPair(t, guardHint)
	dir := t.TempDir()
	state, logPath := filepath.Join(dir, "state"), filepath.Join(dir, "auth.log")
	log := newAuthLog(t, logPath)
	cfg := writeGuardConfig(t, dir, logPath, 3, "3s")

	// A third client address of each family, allowlisted by hand beforehand.
	office4, office6 := netip.MustParseAddr("192.0.2.3"), netip.MustParseAddr("2001:db8:77::3")
	p.AddClientAddr(t, office4)
	p.AddClientAddr(t, office6)
	runIn(t, p.Server, "--state-dir", state, "block", "allow", office4.String(), office6.String(), "--reason", "office", "--backend", "nft")

	g := startGuard(t, p.Server, "--state-dir", state, "guard", "--config", cfg, "--backend", "nft")
	g.warmUp(t, log, netip.MustParseAddr("198.51.100.99"))

	for _, fam := range []struct {
		name           string
		client, server netip.Addr
		other          netip.Addr // the other family's client, never failing here
		otherServer    netip.Addr
		office         netip.Addr
	}{
		{"IPv4", p.Client4, p.Server4, p.Client6, p.Server6, office4},
		{"IPv6", p.Client6, p.Server6, p.Client4, p.Server4, office6},
	} {
		open := func(from, to netip.Addr) bool { return p.DialFrom(from, to, netnstest.OpenWait) == nil }
		blocked := func(from, to netip.Addr) bool { return p.DialFrom(from, to, netnstest.BlockedWait) != nil }

		if !open(fam.client, fam.server) {
			t.Fatalf("%s: the client cannot connect before any failure", fam.name)
		}
		log.fail(t, fam.client, 2)
		time.Sleep(200 * time.Millisecond)
		if !open(fam.client, fam.server) {
			t.Fatalf("%s: cut off after 2 failures, the threshold is 3; guard said:\n%s", fam.name, g.log())
		}
		log.fail(t, fam.client, 1)
		if !eventually(3*time.Second, func() bool { return blocked(fam.client, fam.server) }) {
			t.Fatalf("%s: the client can still connect after 3 failures; guard said:\n%s", fam.name, g.log())
		}
		if !g.waitFor("banned "+fam.client.String(), time.Second) {
			t.Errorf("%s: no ban line for %v; guard said:\n%s", fam.name, fam.client, g.log())
		}
		if !open(fam.other, fam.otherServer) {
			t.Errorf("%s: the other family's client %v was cut off too", fam.name, fam.other)
		}

		log.fail(t, fam.office, 10)
		time.Sleep(300 * time.Millisecond)
		if !open(fam.office, fam.server) {
			t.Errorf("%s: the allowlisted %v was cut off; guard said:\n%s", fam.name, fam.office, g.log())
		}

		if !eventually(6*time.Second, func() bool { return open(fam.client, fam.server) }) {
			t.Fatalf("%s: the 3s ban did not lift; guard said:\n%s", fam.name, g.log())
		}
		if !g.waitFor("the ban on "+fam.client.String()+" ended", time.Second) {
			t.Errorf("%s: no line saying the ban ended; guard said:\n%s", fam.name, g.log())
		}
	}

	if code := g.stop(t); code != 0 {
		t.Errorf("guard exited %d on SIGTERM, want 0; it said:\n%s", code, g.log())
	}
	st, err := (&block.Store{Dir: state}).Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []netip.Addr{p.Client4, p.Client6} {
		i := slices.IndexFunc(st.Offenders, func(o block.Offender) bool { return o.Prefix.Addr() == a })
		if i < 0 || st.Offenders[i].Count != 1 {
			t.Errorf("block.json does not remember one ban of %v: %+v", a, st.Offenders)
		}
	}
}

// The latency benchmarks measure, end to end, the time from a client's threshold failure line
// being written to the log a guard follows to that client's new connections failing. Each
// sample is a new client address: the line is written, then the client connects again and
// again until a connection fails; the sample is the start of the first failed attempt minus
// the write. They report the median, p99 and worst (b.N is ignored: run with -benchtime 1x).
//
//	sudo go test ./cmd/firewarden -run '^$' -bench 'GuardLatency|Fail2banLatency' -benchtime 1x

// BenchmarkGuardLatency: firewarden guard with the nftables backend, holding 100,000 other bans
// (the scale) or none, 200 samples.
func BenchmarkGuardLatency(b *testing.B) {
	for _, held := range []int{block.DefaultMaxBans, 0} {
		b.Run(fmt.Sprintf("held=%d", held), func(b *testing.B) {
			p := netnstest.NewPair(b, guardHint)
			dir := b.TempDir()
			state, logPath := filepath.Join(dir, "state"), filepath.Join(dir, "auth.log")
			log := newAuthLog(b, logPath)
			cfg := writeGuardConfig(b, dir, logPath, 3, "1h")
			holdBans(b, state, held)
			clients := addClients(b, p, 200)
			g := startGuard(b, p.Server, "--state-dir", state, "guard", "--config", cfg, "--backend", "nft")
			if !g.waitFor(fmt.Sprintf(" %d active bans", held), 30*time.Second) {
				b.Fatalf("guard did not load the %d bans; it said:\n%s", held, g.log())
			}
			g.warmUp(b, log, netip.MustParseAddr("198.51.100.99"))
			b.ResetTimer()
			lat, err := latencies(p, log, clients)
			b.StopTimer()
			if err != nil {
				b.Fatalf("%v; guard said:\n%s", err, g.log())
			}
			if code := g.stop(b); code != 0 {
				b.Errorf("guard exited %d; it said:\n%s", code, g.log())
			}
			reportLatency(b, lat)
		})
	}
}

// BenchmarkFail2banLatency: the same with fail2ban (Debian 12: fail2ban 1.0.2, its stock sshd
// filter, the pyinotify backend when python3-pyinotify is installed, the nftables-allports
// action) in the server namespace, holding no other bans, 50 samples (each takes about half a
// second). Skips when fail2ban is not installed: apt-get install fail2ban python3-pyinotify.
func BenchmarkFail2banLatency(b *testing.B) {
	server := "/usr/bin/fail2ban-server"
	if _, err := os.Stat(server); err != nil {
		b.Skip("fail2ban is not installed: apt-get install fail2ban python3-pyinotify")
	}
	if _, err := os.Stat("/etc/fail2ban/filter.d/sshd.conf"); err != nil {
		b.Skip("no /etc/fail2ban/filter.d/sshd.conf to copy: apt-get install fail2ban")
	}
	p := netnstest.NewPair(b, guardHint)
	dir := b.TempDir()
	logPath := filepath.Join(dir, "auth.log")
	log := newAuthLog(b, logPath)
	conf := filepath.Join(dir, "conf")
	if out, err := exec.Command("cp", "-r", "/etc/fail2ban", conf).CombinedOutput(); err != nil {
		b.Fatalf("cp: %v: %s", err, out)
	}
	jails, _ := filepath.Glob(filepath.Join(conf, "jail.d", "*"))
	for _, j := range jails {
		os.Remove(j) // Debian's defaults-debian.conf sets the systemd backend
	}
	backend := "pyinotify"
	if exec.Command("/usr/bin/python3", "-c", "import pyinotify").Run() != nil {
		backend = "polling"
	}
	jail := fmt.Sprintf("[DEFAULT]\nbanaction = nftables-allports\nbanaction_allports = nftables-allports\nbackend = %s\n"+
		"[sshd]\nenabled = true\nlogpath = %s\nmaxretry = 3\nfindtime = 10m\nbantime = 1h\n", backend, logPath)
	main := "[Definition]\nlogtarget = STDERR\ndbfile = :memory:\n"
	for name, text := range map[string]string{"jail.local": jail, "fail2ban.local": main} {
		if err := os.WriteFile(filepath.Join(conf, name), []byte(text), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	clients := addClients(b, p, 50)
	g := startDaemon(b, p.Server, "Jail 'sshd' started", server, "-f", "-x", "-c", conf,
		"-s", filepath.Join(dir, "sock"), "-p", filepath.Join(dir, "pid"))
	for end := time.Now().Add(20 * time.Second); !strings.Contains(g.log(), "Ban 198.51.100.99"); {
		if time.Now().After(end) {
			b.Fatalf("fail2ban banned no one after 20 s of failures; it said:\n%s", g.log())
		}
		log.fail(b, netip.MustParseAddr("198.51.100.99"), 1)
		g.waitFor("Ban 198.51.100.99", 200*time.Millisecond)
	}
	b.ResetTimer()
	lat, err := latencies(p, log, clients)
	b.StopTimer()
	if err != nil {
		b.Fatalf("%v; fail2ban said:\n%s", err, g.log())
	}
	g.stop(b)
	b.Logf("fail2ban backend: %s", backend)
	reportLatency(b, lat)
}

// holdBans writes n bans of other addresses (10.0.0.0/8 and 2001:db8::/32) into state's
// block.json, as a guard would have left them.
func holdBans(tb testing.TB, state string, n int) {
	tb.Helper()
	now := time.Now()
	st := block.NewState()
	for i := range n {
		var a netip.Addr
		if i%5 == 4 {
			a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 6: byte(i >> 16), 7: byte(i >> 8), 15: byte(i)})
		} else {
			a = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		}
		pf := netip.PrefixFrom(a, a.BitLen())
		st.Bans = append(st.Bans, block.BanEntry{Prefix: pf, Expires: now.Add(time.Hour), Reason: "earlier", Source: block.SourceGuard, Count: 1, First: now, Last: now})
	}
	if _, _, err := (&block.Store{Dir: state}).Edit(context.Background(), func(s *block.State) error {
		*s = *st
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
}

// addClients gives the client n more addresses, 192.0.2.10 onwards.
func addClients(tb testing.TB, p *netnstest.Pair, n int) []netip.Addr {
	tb.Helper()
	var batch strings.Builder
	clients := make([]netip.Addr, n)
	for i := range clients {
		clients[i] = netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)})
		fmt.Fprintf(&batch, "addr add %s/24 dev vc\n", clients[i])
	}
	cmd := exec.Command(netnstest.IPPath(tb), "-n", p.Client, "-batch", "-")
	cmd.Stdin = strings.NewReader(batch.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("ip -batch: %v: %s", err, out)
	}
	return clients
}

// latencies takes one sample per client: three failure lines (the threshold; the first two
// given time to be read), then connections until one fails. The probes run on one thread that
// stays in the client's namespace, so that each attempt costs a socket and a handshake (tens of
// microseconds), not a namespace switch.
func latencies(p *netnstest.Pair, log *authLog, clients []netip.Addr) ([]time.Duration, error) {
	lat := make([]time.Duration, 0, len(clients))
	err := netnstest.InNetNS(p.ClientFd, func() error {
		to := netip.AddrPortFrom(p.Server4, uint16(p.Port)).String()
		dial := func(from netip.Addr, timeout time.Duration) error {
			d := net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: from.AsSlice()}}
			c, err := d.Dial("tcp", to)
			if err == nil {
				c.Close()
			}
			return err
		}
		for _, c := range clients {
			if err := dial(c, netnstest.OpenWait); err != nil {
				return fmt.Errorf("%v cannot connect before its failures: %v", c, err)
			}
			if err := log.write(c, 2); err != nil {
				return err
			}
			time.Sleep(20 * time.Millisecond)
			if err := log.write(c, 1); err != nil {
				return err
			}
			written := time.Now()
			for {
				start := time.Now()
				if dial(c, 100*time.Millisecond) != nil {
					lat = append(lat, start.Sub(written))
					break
				}
				if time.Since(written) > 10*time.Second {
					return fmt.Errorf("%v still connects 10 s after its third failure", c)
				}
			}
		}
		return nil
	})
	return lat, err
}

func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
	b.ReportMetric(0, "ns/op")
}

// TestBlockCommandsCutClientsOff: the `block` commands of the real binary, run in the server
// namespace, against real connections from the client: `add` cuts the client off and the ban
// lifts after its time to live; an allowlisted client inside a banned range is never cut off;
// `disable` lets traffic through and `enable` stops it again. IPv4 and IPv6.
func TestBlockCommandsCutClientsOff(t *testing.T) {
	p := netnstest.NewPair(t, guardHint)
	state := filepath.Join(t.TempDir(), "state")
	block := func(args ...string) string {
		return runIn(t, p.Server, append([]string{"--state-dir", state, "block"}, append(args, "--backend", "nft")...)...)
	}
	office4, office6 := netip.MustParseAddr("192.0.2.3"), netip.MustParseAddr("2001:db8:77::3")
	p.AddClientAddr(t, office4)
	p.AddClientAddr(t, office6)
	open := func(from, to netip.Addr) bool { return p.DialFrom(from, to, netnstest.OpenWait) == nil }
	blocked := func(from, to netip.Addr) bool { return p.DialFrom(from, to, netnstest.BlockedWait) != nil }

	block("allow", office4.String(), office6.String(), "--reason", "office")
	out := block("add", "192.0.2.0/24", "2001:db8:77::/64", "--ttl", "4s", "--reason", "test")
	if !strings.Contains(out, "except the allowlisted 192.0.2.3") {
		t.Errorf("block add of a range holding an allowlisted address did not say so:\n%s", out)
	}
	for _, c := range []struct {
		name                   string
		client, office, server netip.Addr
	}{{"IPv4", p.Client4, office4, p.Server4}, {"IPv6", p.Client6, office6, p.Server6}} {
		if !blocked(c.client, c.server) {
			t.Errorf("%s: %v still connects after block add", c.name, c.client)
		}
		if !open(c.office, c.server) {
			t.Errorf("%s: the allowlisted %v was cut off by a ban on its range", c.name, c.office)
		}
	}

	block("disable")
	for _, c := range []struct{ client, server netip.Addr }{{p.Client4, p.Server4}, {p.Client6, p.Server6}} {
		if !open(c.client, c.server) {
			t.Errorf("%v cannot connect after block disable", c.client)
		}
	}
	block("enable")
	for _, c := range []struct{ client, server netip.Addr }{{p.Client4, p.Server4}, {p.Client6, p.Server6}} {
		if !blocked(c.client, c.server) {
			t.Errorf("%v connects after block enable", c.client)
		}
	}

	// The kernel lifts the bans at their time to live even before any sweep; the sweep then
	// clears the state.
	for _, c := range []struct{ client, server netip.Addr }{{p.Client4, p.Server4}, {p.Client6, p.Server6}} {
		if !eventually(8*time.Second, func() bool { return open(c.client, c.server) }) {
			t.Errorf("%v still cut off after the 4s ban ended", c.client)
		}
	}
	if out := block("expire"); !strings.Contains(out, "192.0.2.0/24") {
		t.Errorf("block expire did not sweep the ended ban:\n%s", out)
	}
}
