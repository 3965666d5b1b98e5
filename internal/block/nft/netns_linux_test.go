//go:build linux

package nft

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// The tests in this package run against the real kernel, each in network namespaces of its
// own, and skip when they cannot make one. To run them: as root (or with CAP_NET_ADMIN and
// CAP_SYS_ADMIN), `go test ./internal/block/nft`; CI does.

// inThread runs f on a fresh OS thread that is thrown away afterwards, so that a namespace
// switch made by f never leaks into other goroutines.
func inThread(f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		done <- f()
	}()
	return <-done
}

// newNetNS returns a file descriptor of a new, empty network namespace, closed at cleanup.
func newNetNS(t testing.TB) int {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace and nf_tables: run `sudo go test ./internal/block/nft`")
	}
	var fd int
	err := inThread(func() error {
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
	probeNFTables(t, fd)
	return fd
}

// probeNFTables skips the test when the namespace cannot talk to nf_tables.
func probeNFTables(t testing.TB, fd int) {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err == nil {
		_, err = c.ListTables()
	}
	if err != nil {
		t.Skipf("nf_tables unavailable (%v): needs a kernel with nf_tables and CAP_NET_ADMIN", err)
	}
}

// newBackend returns a Backend in namespace fd, closed at cleanup.
func newBackend(t testing.TB, fd int, opts Options) *Backend {
	t.Helper()
	opts.NetNS = fd
	b, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// kernelPrefixes reads the sets of table "firewarden" in namespace fd over a connection of
// its own, and returns the prefixes they hold, sorted, with their kernel timeouts.
func kernelPrefixes(t testing.TB, fd int) ([]netip.Prefix, map[netip.Prefix]time.Duration) {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		t.Fatal(err)
	}
	tbl := &nftables.Table{Family: nftables.TableFamilyINet, Name: "firewarden"}
	timeouts := map[netip.Prefix]time.Duration{}
	var ps []netip.Prefix
	for i, name := range setNames {
		els, err := c.GetSetElements(&nftables.Set{Table: tbl, Name: name})
		if err != nil {
			t.Fatalf("GetSetElements(%s): %v", name, err)
		}
		view := map[pkey]viewEntry{}
		if strays := parseElems(els, i, time.Now(), view); len(strays) > 0 {
			t.Errorf("set %s holds %d elements that form no prefix", name, len(strays))
		}
		starts := map[netip.Addr]time.Duration{}
		for _, e := range els {
			if a, ok := netip.AddrFromSlice(e.Key); ok && !e.IntervalEnd {
				starts[a] = e.Timeout
			}
		}
		for k := range view {
			p := k.prefix()
			timeouts[p] = starts[p.Addr()]
			ps = append(ps, p)
		}
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].String() < ps[j].String() })
	return ps, timeouts
}

// setNames are the sets in the order setOf numbers them.
var setNames = func() []string {
	var names []string
	for _, s := range newSets(nil) {
		names = append(names, s.Name)
	}
	return names
}()

var nsSeq atomic.Int64

// namedNetNS makes a named namespace with `ip netns add` (needed to move a veth end into it)
// and returns its name and a file descriptor; both go at cleanup.
func namedNetNS(t testing.TB, role string) (string, int) {
	t.Helper()
	name := fmt.Sprintf("fwnft-%d-%d-%s", os.Getpid(), nsSeq.Add(1), role)
	ip(t, "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command(ipPath(t), "netns", "del", name).Run() })
	fd, err := unix.Open("/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return name, fd
}

func ipPath(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("needs iproute2's ip for the veth pair: apt-get install iproute2")
	return ""
}

// ip runs the ip command and fails the test when it fails.
func ip(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command(ipPath(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %v: %v: %s", args, err, out)
	}
}
