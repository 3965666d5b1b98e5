//go:build linux

package guard

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"

	"github.com/firewarden/firewarden/internal/block"
	"github.com/firewarden/firewarden/internal/block/nft"
)

// The benchmarks here run the guard over the real nftables backend in a network namespace of
// their own, and skip when they cannot make one: run them as root (CI does), e.g.
// `go test -run X -bench Nftables ./internal/guard`.

// newNetNS returns a file descriptor of a new, empty network namespace, closed at cleanup.
func newNetNS(tb testing.TB) int {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root for a network namespace and nf_tables: run `sudo go test -bench Nftables ./internal/guard`")
	}
	done := make(chan error, 1)
	var fd int
	go func() {
		runtime.LockOSThread() // never unlocked: the thread, in the new namespace, ends with the goroutine
		err := unix.Unshare(unix.CLONE_NEWNET)
		if err == nil {
			fd, err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		}
		done <- err
	}()
	err := <-done
	if errors.Is(err, unix.EPERM) {
		tb.Skipf("cannot create a network namespace (%v): run as root with CAP_SYS_ADMIN and CAP_NET_ADMIN", err)
	}
	if err != nil {
		tb.Fatalf("new network namespace: %v", err)
	}
	tb.Cleanup(func() { unix.Close(fd) })
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err == nil {
		_, err = c.ListTables()
	}
	if err != nil {
		tb.Skipf("nf_tables unavailable (%v): needs a kernel with nf_tables and CAP_NET_ADMIN", err)
	}
	return fd
}

func newNft(b *testing.B) block.Backend {
	be, err := nft.New(nft.Options{NetNS: newNetNS(b)})
	if err != nil {
		b.Fatalf("nft.New: %v", err)
	}
	b.Cleanup(func() { be.Close() })
	return be
}

// BenchmarkMemoryPerBanNftables is the daemon's memory per ban at 100 000 bans with the
// nftables backend: the guard's index and the backend's view of the kernel (the kernel's own
// memory is not the daemon's). The target is 200 bytes.
func BenchmarkMemoryPerBanNftables(b *testing.B) {
	measurePerBan(b, newNft)
}

// BenchmarkBanLatency100kNftables is the time from the line that reaches the threshold to the
// ban being in the kernel, with 100 000 bans held, while the daemon saves in the background.
func BenchmarkBanLatency100kNftables(b *testing.B) {
	dir := b.TempDir()
	writeState(b, dir, bigState(benchBans, timeNowSecond()))
	d, _, stop := runningDaemon(b, dir, newNft(b))
	defer stop()
	banLatency(b, d)
}

// TestDaemonNftables runs the daemon over the real nftables backend: a ban reaches the kernel,
// and after a "reboot" (firewarden's table deleted) a new daemon puts the state back.
func TestDaemonNftables(t *testing.T) {
	fd := newNetNS(t)
	newBackend := func() block.Backend {
		be, err := nft.New(nft.Options{NetNS: fd})
		if err != nil {
			t.Fatalf("nft.New: %v", err)
		}
		t.Cleanup(func() { be.Close() })
		return be
	}
	entries := func(be block.Backend) block.Status {
		st, err := be.Status(context.Background())
		if err != nil {
			t.Fatalf("Status: %v", err)
		}
		return st
	}
	dir := t.TempDir()
	now := time.Now()
	(&block.Store{Dir: dir}).Edit(context.Background(), func(s *block.State) error {
		_, err := s.Ban(block.BanRequest{Prefix: netip.MustParsePrefix("198.51.100.0/24"), TTL: time.Hour, Source: block.SourceCLI}, block.Policy{}, now)
		return err
	})

	be := newBackend()
	_, src, stop := runningDaemon(t, dir, be)
	if st := entries(be); st.Entries != 1 || !st.Enabled {
		t.Fatalf("kernel after start: %+v, want the state's ban and the drop rules", st)
	}
	src.failures("203.0.113.9", 10)
	deadline := time.Now().Add(10 * time.Second)
	for entries(be).Entries != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("kernel holds %d entries after the 10th failure, want 2", entries(be).Entries)
		}
		time.Sleep(time.Millisecond)
	}
	stop()

	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		t.Fatal(err)
	}
	c.DelTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: "firewarden"})
	if err := c.Flush(); err != nil {
		t.Fatalf("delete the table: %v", err)
	}
	be = newBackend()
	_, _, stop = runningDaemon(t, dir, be)
	defer stop()
	if st := entries(be); st.Entries != 2 || !st.Enabled {
		t.Errorf("kernel after a reboot and a new start: %+v, want both bans back and the drop rules", st)
	}
}
