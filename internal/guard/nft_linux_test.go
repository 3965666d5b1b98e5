//go:build linux

package guard

import (
	"errors"
	"os"
	"runtime"
	"testing"

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
