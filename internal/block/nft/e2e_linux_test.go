//go:build linux

package nft

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/firewarden/firewarden/internal/block"
)

// inNetNS runs f on a throw-away OS thread switched into namespace fd. Sockets made by f stay
// in that namespace whichever thread uses them later.
func inNetNS(fd int, f func() error) error {
	return inThread(func() error {
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("setns: %w", err)
		}
		return f()
	})
}

// pair is two namespaces joined by a veth pair: a server running a TCP listener that greets
// each client, and a client.
type pair struct {
	srvFd, cliFd int
	srv4, cli4   netip.Addr
	srv6, cli6   netip.Addr
	port         int
}

func newPair(t *testing.T) *pair {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces, a veth pair and nf_tables: run `sudo go test ./internal/block/nft`")
	}
	ipPath(t)
	srv, srvFd := namedNetNS(t, "srv")
	cli, cliFd := namedNetNS(t, "cli")
	probeNFTables(t, srvFd)
	p := &pair{
		srvFd: srvFd, cliFd: cliFd,
		srv4: netip.MustParseAddr("192.0.2.1"), cli4: netip.MustParseAddr("192.0.2.2"),
		srv6: netip.MustParseAddr("2001:db8:77::1"), cli6: netip.MustParseAddr("2001:db8:77::2"),
	}
	// Created inside the namespaces, so no name is ever taken in the caller's namespace and
	// deleting the namespaces removes the pair.
	ip(t, "link", "add", "vs", "netns", srv, "type", "veth", "peer", "name", "vc", "netns", cli)
	for _, c := range []struct{ ns, dev, a4, a6 string }{
		{srv, "vs", "192.0.2.1/24", "2001:db8:77::1/64"},
		{cli, "vc", "192.0.2.2/24", "2001:db8:77::2/64"},
	} {
		ip(t, "-n", c.ns, "link", "set", "lo", "up")
		ip(t, "-n", c.ns, "addr", "add", c.a4, "dev", c.dev)
		ip(t, "-n", c.ns, "-6", "addr", "add", c.a6, "dev", c.dev, "nodad")
		ip(t, "-n", c.ns, "link", "set", c.dev, "up")
	}
	var ln net.Listener
	if err := inNetNS(srvFd, func() (err error) {
		ln, err = net.Listen("tcp", "[::]:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p.port = ln.Addr().(*net.TCPAddr).Port
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
	return p
}

// dial connects from the client namespace to the server and reads its greeting.
func (p *pair) dial(to netip.Addr, timeout time.Duration) error {
	return inNetNS(p.cliFd, func() error {
		c, err := net.DialTimeout("tcp", netip.AddrPortFrom(to, uint16(p.port)).String(), timeout)
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

// A dropped SYN is retransmitted after a second; a connection that has not completed after
// blockedWait is cut off. An open path completes in well under a millisecond.
const (
	openWait    = 5 * time.Second
	blockedWait = 300 * time.Millisecond
)

func (p *pair) wantOpen(t *testing.T, to netip.Addr, why string) {
	t.Helper()
	if err := p.dial(to, openWait); err != nil {
		t.Errorf("%s: connect to %v: %v, want a connection", why, to, err)
	}
}

func (p *pair) wantBlocked(t *testing.T, to netip.Addr, why string) {
	t.Helper()
	if err := p.dial(to, blockedWait); err == nil {
		t.Errorf("%s: connect to %v succeeded, want it cut off", why, to)
	}
}

func TestEndToEnd(t *testing.T) {
	t.Parallel()
	p := newPair(t)
	for _, tc := range []struct {
		name       string
		srv        netip.Addr
		ban, other netip.Prefix // other: a ban that does not cover the client
	}{
		{"IPv4", p.srv4, netip.MustParsePrefix("192.0.2.0/30"), netip.MustParsePrefix("192.0.2.4/30")},
		{"IPv6", p.srv6, netip.MustParsePrefix("2001:db8:77::2/128"), netip.MustParsePrefix("2001:db8:77::3/128")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			b := newBackend(t, p.srvFd, Options{})
			if err := b.SetEnabled(ctx, true); err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			other := []block.Ban{{Prefix: tc.other, Expires: now.Add(time.Hour)}}
			if _, err := b.Sync(ctx, other, now); err != nil {
				t.Fatal(err)
			}
			p.wantOpen(t, tc.srv, "a ban on a neighbour")

			banned := append(other, block.Ban{Prefix: tc.ban, Expires: now.Add(time.Hour)})
			if _, err := b.Sync(ctx, banned, now); err != nil {
				t.Fatal(err)
			}
			p.wantBlocked(t, tc.srv, "banned")

			if err := b.SetEnabled(ctx, false); err != nil {
				t.Fatal(err)
			}
			p.wantOpen(t, tc.srv, "banned but disabled")
			if err := b.SetEnabled(ctx, true); err != nil {
				t.Fatal(err)
			}
			p.wantBlocked(t, tc.srv, "banned and enabled again")

			// The ban expires: firewarden's sweep drops it from want.
			later := now.Add(2 * time.Hour)
			if _, err := b.Sync(ctx, nil, later); err != nil {
				t.Fatal(err)
			}
			p.wantOpen(t, tc.srv, "ban expired")

			// Banned again, then lifted by hand.
			if _, err := b.Sync(ctx, banned, now); err != nil {
				t.Fatal(err)
			}
			p.wantBlocked(t, tc.srv, "banned again")
			if _, err := b.Sync(ctx, other, now); err != nil {
				t.Fatal(err)
			}
			p.wantOpen(t, tc.srv, "ban removed")
			if err := b.SetEnabled(ctx, false); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestEndToEndKernelTimeout(t *testing.T) {
	t.Parallel()
	// The safety net: with firewarden gone, the kernel lifts a ban at its deadline. The
	// deadline is a real one here, so this test waits for it (a second and a bit).
	p := newPair(t)
	ctx := context.Background()
	b := newBackend(t, p.srvFd, Options{})
	if err := b.SetEnabled(ctx, true); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	want := []block.Ban{{Prefix: netip.PrefixFrom(p.cli4, 32), Expires: now.Add(time.Second)}}
	if _, err := b.Sync(ctx, want, now); err != nil {
		t.Fatal(err)
	}
	p.wantBlocked(t, p.srv4, "banned for a second")
	deadline := time.Now().Add(openWait)
	for p.dial(p.srv4, blockedWait) != nil {
		if time.Now().After(deadline) {
			t.Fatal("ban still in force long after its kernel timeout")
		}
	}
	// Banned again after the kernel expired it: its end element is still there.
	now = time.Now()
	want[0].Expires = now.Add(time.Hour)
	if _, err := b.Reconcile(ctx, want, now); err != nil {
		t.Fatal(err)
	}
	p.wantBlocked(t, p.srv4, "banned again")
}
