//go:build linux

// Package netnstest gives tests real network namespaces: an empty one, or two joined by a veth
// pair with a TCP server in one and a client in the other, so that a test can prove with real
// connections what a firewall does, without touching the host's own. It needs root (or
// CAP_SYS_ADMIN and CAP_NET_ADMIN) and iproute2's ip; without them the tests skip, saying so.
package netnstest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// InThread runs f on a fresh OS thread that is thrown away afterwards, so that a namespace
// switch made by f never leaks into other goroutines.
func InThread(f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		done <- f()
	}()
	return <-done
}

// InNetNS runs f on a throw-away OS thread switched into namespace fd. Sockets made by f stay
// in that namespace whichever thread uses them later.
func InNetNS(fd int, f func() error) error {
	return InThread(func() error {
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("setns: %w", err)
		}
		return f()
	})
}

// New returns a file descriptor of a new, empty network namespace, closed at cleanup. hint
// says how to run the test with the privileges it needs.
func New(t testing.TB, hint string) int {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("needs root for a network namespace and nf_tables: %s", hint)
	}
	var fd int
	err := InThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return err
		}
		var err error
		fd, err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		return err
	})
	if errors.Is(err, unix.EPERM) {
		t.Skipf("cannot create a network namespace (%v): run as root with CAP_SYS_ADMIN and CAP_NET_ADMIN", err)
	}
	if err != nil {
		t.Fatalf("new network namespace: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	ProbeNFTables(t, fd)
	return fd
}

// ProbeNFTables skips the test when namespace fd cannot talk to nf_tables.
func ProbeNFTables(t testing.TB, fd int) {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err == nil {
		_, err = c.ListTables()
	}
	if err != nil {
		t.Skipf("nf_tables unavailable (%v): needs a kernel with nf_tables and CAP_NET_ADMIN", err)
	}
}

var nsSeq atomic.Int64

// Named makes a named namespace with `ip netns add` (needed to move a veth end into it) and
// returns its name and a file descriptor; both go at cleanup.
func Named(t testing.TB, role string) (string, int) {
	t.Helper()
	name := fmt.Sprintf("fw-%d-%d-%s", os.Getpid(), nsSeq.Add(1), role)
	IP(t, "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command(IPPath(t), "netns", "del", name).Run() })
	fd, err := unix.Open("/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return name, fd
}

// IPPath finds iproute2's ip, or skips the test.
func IPPath(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("needs iproute2's ip for the veth pair: apt-get install iproute2")
	return ""
}

// IP runs the ip command and fails the test when it fails.
func IP(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command(IPPath(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %v: %v: %s", args, err, out)
	}
}

// Pair is two namespaces joined by a veth pair: a server running a TCP listener that greets
// each client with "hi", and a client. The server is 192.0.2.1 and 2001:db8:77::1, the client
// 192.0.2.2 and 2001:db8:77::2 (documentation ranges, so nothing real is ever reached).
type Pair struct {
	Server, Client     string // namespace names
	ServerFd, ClientFd int
	Server4, Client4   netip.Addr
	Server6, Client6   netip.Addr
	Port               int
}

// NewPair makes the namespaces, the veth pair and the listener, all removed at cleanup. hint
// says how to run the test with the privileges it needs.
func NewPair(t testing.TB, hint string) *Pair {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("needs root for network namespaces, a veth pair and nf_tables: %s", hint)
	}
	IPPath(t)
	srv, srvFd := Named(t, "srv")
	cli, cliFd := Named(t, "cli")
	ProbeNFTables(t, srvFd)
	p := &Pair{
		Server: srv, Client: cli, ServerFd: srvFd, ClientFd: cliFd,
		Server4: netip.MustParseAddr("192.0.2.1"), Client4: netip.MustParseAddr("192.0.2.2"),
		Server6: netip.MustParseAddr("2001:db8:77::1"), Client6: netip.MustParseAddr("2001:db8:77::2"),
	}
	// Created inside the namespaces, so no name is ever taken in the caller's namespace and
	// deleting the namespaces removes the pair.
	IP(t, "link", "add", "vs", "netns", srv, "type", "veth", "peer", "name", "vc", "netns", cli)
	for _, c := range []struct{ ns, dev, a4, a6 string }{
		{srv, "vs", "192.0.2.1/24", "2001:db8:77::1/64"},
		{cli, "vc", "192.0.2.2/24", "2001:db8:77::2/64"},
	} {
		IP(t, "-n", c.ns, "link", "set", "lo", "up")
		IP(t, "-n", c.ns, "addr", "add", c.a4, "dev", c.dev)
		IP(t, "-n", c.ns, "-6", "addr", "add", c.a6, "dev", c.dev, "nodad")
		IP(t, "-n", c.ns, "link", "set", c.dev, "up")
	}
	p.Port = p.Listen(t, 0)
	return p
}

// Listen listens on TCP port (0: any free one) on every address of the server, greets each
// connection with "hi" and closes it, until the test ends; it returns the port.
func (p *Pair) Listen(t testing.TB, port int) int {
	t.Helper()
	var ln net.Listener
	if err := InNetNS(p.ServerFd, func() (err error) {
		ln, err = net.Listen("tcp", fmt.Sprintf("[::]:%d", port))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "hi")
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// AddClientAddr gives the client one more address (in the veth pair's /24 or /64), to
// connect from with DialFrom.
func (p *Pair) AddClientAddr(t testing.TB, a netip.Addr) {
	t.Helper()
	if a.Is4() {
		IP(t, "-n", p.Client, "addr", "add", a.String()+"/24", "dev", "vc")
	} else {
		IP(t, "-n", p.Client, "-6", "addr", "add", a.String()+"/64", "dev", "vc", "nodad")
	}
}

// Dial connects from the client to the server at to and reads its greeting.
func (p *Pair) Dial(to netip.Addr, timeout time.Duration) error {
	return p.DialFrom(netip.Addr{}, to, timeout)
}

// DialFrom is Dial from the client's address from (any when invalid).
func (p *Pair) DialFrom(from, to netip.Addr, timeout time.Duration) error {
	return InNetNS(p.ClientFd, func() error {
		d := net.Dialer{Timeout: timeout}
		if from.IsValid() {
			d.LocalAddr = &net.TCPAddr{IP: from.AsSlice()}
		}
		c, err := d.Dial("tcp", netip.AddrPortFrom(to, uint16(p.Port)).String())
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(timeout))
		b := make([]byte, 2)
		_, err = io.ReadFull(c, b)
		return err
	})
}

// Outcome connects from the client with d to the server's port on to and says how it ended:
// "open", "refused" (answered with a reset) or "timeout" (dropped). Other errors fail the test.
func (p *Pair) Outcome(t testing.TB, d net.Dialer, to netip.AddrPort) string {
	t.Helper()
	var res string
	err := InNetNS(p.ClientFd, func() error {
		c, err := d.Dial("tcp", to.String())
		var ne net.Error
		switch {
		case err == nil:
			c.Close()
			res = "open"
		case errors.Is(err, syscall.ECONNREFUSED):
			res = "refused"
		case errors.As(err, &ne) && ne.Timeout():
			res = "timeout"
		default:
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("connect to %v: %v", to, err)
	}
	return res
}

// A dropped SYN is retransmitted after a second; a connection that has not completed after
// BlockedWait is cut off. An open path completes in well under a millisecond.
const (
	OpenWait    = 5 * time.Second
	BlockedWait = 300 * time.Millisecond
)

// WantOpen fails the test unless the client can connect to the server at to.
func (p *Pair) WantOpen(t testing.TB, to netip.Addr, why string) {
	t.Helper()
	if err := p.Dial(to, OpenWait); err != nil {
		t.Errorf("%s: connect to %v: %v, want a connection", why, to, err)
	}
}

// WantBlocked fails the test if the client can connect to the server at to.
func (p *Pair) WantBlocked(t testing.TB, to netip.Addr, why string) {
	t.Helper()
	if err := p.Dial(to, BlockedWait); err == nil {
		t.Errorf("%s: connect to %v succeeded, want it cut off", why, to)
	}
}
