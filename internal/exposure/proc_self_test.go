package exposure

import (
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"

	"github.com/firewarden/firewarden/internal/host"
)

// The reader finds this test's own sockets in the real /proc, with this process as their owner:
// the byte order of the addresses and the fd links are the kernel's, not the test's idea of them.
func TestReadLinuxOwnSockets(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads the real /proc: run on Linux")
	}
	tcp, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	want := map[string]netip.AddrPort{
		"tcp": tcp.Addr().(*net.TCPAddr).AddrPort(),
		"udp": udp.LocalAddr().(*net.UDPAddr).AddrPort(),
	}
	if tcp6, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		defer tcp6.Close()
		want["tcp6"] = tcp6.Addr().(*net.TCPAddr).AddrPort()
	}
	rep, err := ReadLinux(host.Root{})
	if err != nil {
		t.Fatalf("ReadLinux(/) error %v", err)
	}
	for name, ap := range want {
		found := false
		for _, l := range rep.Listeners {
			if l.Addr == ap && l.Scope == ScopeLoopback {
				found = true
				if l.PID != os.Getpid() || l.Path == "" {
					t.Errorf("ReadLinux(/) %s %v: pid %d path %q, want pid %d and this test's path", name, ap, l.PID, l.Path, os.Getpid())
				}
			}
		}
		if !found {
			t.Errorf("ReadLinux(/) does not list this test's %s socket %v", name, ap)
		}
	}
}
