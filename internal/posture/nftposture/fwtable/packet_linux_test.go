//go:build linux

package fwtable

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"

	"github.com/firewarden/firewarden/internal/netnstest"
)

// TestPackets proves with real packets from a second namespace what the table does: the
// allowed port answers, a closed port times out instead of being refused, the log rule counts,
// echo is answered only when allowed, a kept source gets in where the allowed list would not
// let it, and IPv6 neighbour discovery still works.
func TestPackets(t *testing.T) {
	p := netnstest.NewPair(t, hint)
	closed := netip.AddrPortFrom(p.Server4, uint16(p.Port%65535+1))

	// Without the table a closed port is refused at once.
	if err := dial(p, netip.Addr{}, closed, netnstest.OpenWait); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("connect to closed %v without the table: %v, want connection refused", closed, err)
	}
	if !ping(t, p, p.Server4) || !ping(t, p, p.Server6) {
		t.Fatal("no echo reply without the table")
	}

	allowed := Spec{Allowed: []Service{{Proto: "tcp", From: uint16(p.Port), To: uint16(p.Port)}}, Log: true}
	if err := Write(p.ServerFd, allowed); err != nil {
		t.Fatal(err)
	}
	p.WantOpen(t, p.Server4, "allowed port over IPv4")
	p.WantOpen(t, p.Server6, "allowed port over IPv6")
	err := dial(p, netip.Addr{}, closed, netnstest.BlockedWait)
	if err == nil || errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("connect to closed %v with the table: %v, want a timeout (dropped, not refused)", closed, err)
	}
	if ping(t, p, p.Server4) || ping(t, p, p.Server6) {
		t.Error("echo answered with ICMPEcho false")
	}
	if n := counter(t, p.ServerFd, commentLog); n == 0 {
		t.Errorf("log rule counter = 0 after dropped packets, want > 0")
	}
	if n := counter(t, p.ServerFd, commentDrop); n == 0 {
		t.Errorf("drop rule counter = 0 after dropped packets, want > 0")
	}

	t.Run("echo", func(t *testing.T) {
		s := allowed
		s.ICMPEcho = true
		if err := Write(p.ServerFd, s); err != nil {
			t.Fatal(err)
		}
		if !ping(t, p, p.Server4) {
			t.Error("no ICMP echo reply with ICMPEcho")
		}
		if !ping(t, p, p.Server6) {
			t.Error("no ICMPv6 echo reply with ICMPEcho")
		}
	})

	t.Run("keep", func(t *testing.T) {
		kept, other := netip.MustParseAddr("192.0.2.3"), netip.MustParseAddr("192.0.2.4")
		p.AddClientAddr(t, kept)
		p.AddClientAddr(t, other)
		to := netip.AddrPortFrom(p.Server4, uint16(p.Port))
		s := Spec{
			Allowed: []Service{{Proto: "tcp", From: uint16(p.Port), To: uint16(p.Port),
				Sources: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}}},
			Keep: []Keep{{Source: kept, Proto: "tcp", Port: uint16(p.Port), Why: "the test's session"}},
		}
		if err := Write(p.ServerFd, s); err != nil {
			t.Fatal(err)
		}
		if err := dial(p, kept, to, netnstest.OpenWait); err != nil {
			t.Errorf("connect from kept %v: %v, want a connection", kept, err)
		}
		if err := dial(p, other, to, netnstest.BlockedWait); err == nil {
			t.Errorf("connect from %v, neither kept nor allowed, succeeded", other)
		}
	})

	t.Run("reject", func(t *testing.T) {
		s := allowed
		s.Reject = true
		if err := Write(p.ServerFd, s); err != nil {
			t.Fatal(err)
		}
		if err := dial(p, netip.Addr{}, closed, netnstest.OpenWait); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("connect to closed %v with Reject: %v, want connection refused", closed, err)
		}
	})

	t.Run("neighbour discovery", func(t *testing.T) {
		if err := Write(p.ServerFd, allowed); err != nil {
			t.Fatal(err)
		}
		netnstest.IP(t, "-n", p.Server, "neigh", "flush", "all")
		netnstest.IP(t, "-n", p.Client, "neigh", "flush", "all")
		p.WantOpen(t, p.Server6, "allowed port over IPv6 after the neighbour caches were flushed")
	})

	t.Run("remove", func(t *testing.T) {
		if err := Remove(p.ServerFd); err != nil {
			t.Fatal(err)
		}
		if err := dial(p, netip.Addr{}, closed, netnstest.OpenWait); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("connect to closed %v after Remove: %v, want connection refused", closed, err)
		}
	})
}

// dial connects from the client (from its address from, unless invalid) to to.
func dial(p *netnstest.Pair, from netip.Addr, to netip.AddrPort, timeout time.Duration) error {
	return netnstest.InNetNS(p.ClientFd, func() error {
		d := net.Dialer{Timeout: timeout}
		if from.IsValid() {
			d.LocalAddr = &net.TCPAddr{IP: from.AsSlice()}
		}
		c, err := d.Dial("tcp", to.String())
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// ping sends one ICMP or ICMPv6 echo request from the client to a over a raw socket and
// reports whether the reply came within a second.
func ping(t *testing.T, p *netnstest.Pair, a netip.Addr) bool {
	t.Helper()
	var got bool
	err := netnstest.InNetNS(p.ClientFd, func() error {
		network, req, rep := "ip4:icmp", byte(8), byte(0)
		if a.Is6() {
			network, req, rep = "ip6:ipv6-icmp", 128, 129
		}
		c, err := net.ListenPacket(network, "")
		if err != nil {
			return err
		}
		defer c.Close()
		id := uint16(os.Getpid())
		msg := []byte{req, 0, 0, 0, byte(id >> 8), byte(id), 0, 1, 'f', 'w'}
		if a.Is4() {
			binary.BigEndian.PutUint16(msg[2:], checksum(msg))
		} // the kernel computes the ICMPv6 checksum of raw ICMPv6 sockets
		if _, err := c.WriteTo(msg, &net.IPAddr{IP: a.AsSlice()}); err != nil {
			return err
		}
		deadline := time.Now().Add(time.Second)
		c.SetReadDeadline(deadline)
		buf := make([]byte, 1500)
		for {
			n, _, err := c.ReadFrom(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil
			}
			if err != nil {
				return err
			}
			b := buf[:n]
			if a.Is4() && n >= 20 { // raw IPv4 sockets return the IP header
				b = b[int(b[0]&0x0f)*4:]
			}
			if len(b) >= 8 && b[0] == rep && binary.BigEndian.Uint16(b[4:]) == id {
				got = true
				return nil
			}
		}
	})
	if err != nil {
		t.Fatalf("ping %v: %v", a, err)
	}
	return got
}

// checksum is the Internet checksum (RFC 1071).
func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// counter returns the packets counted by the rule with comment c in the table in namespace fd.
func counter(t *testing.T, fd int, c string) uint64 {
	t.Helper()
	conn, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		t.Fatal(err)
	}
	tb := table()
	rs, err := conn.GetRules(tb, chain(tb))
	if err != nil {
		t.Fatalf("GetRules: %v", err)
	}
	for _, r := range rs {
		if cm, _ := userdata.GetString(r.UserData, userdata.TypeComment); cm != c {
			continue
		}
		if n, ok := find[*expr.Counter](r.Exprs); ok {
			return n.Packets
		}
	}
	t.Fatalf("no rule with comment %q and a counter", c)
	return 0
}
