//go:build linux

package main

import (
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"

	"github.com/firewarden/firewarden/internal/block"
	"github.com/firewarden/firewarden/internal/netnstest"
)

// TestGuardSurvivesKill9: the real binary, in a network namespace with the nftables backend,
// follows a log that gets failure lines at a steady rate from many addresses, each address's
// three failures spread over many other lines; the guard is killed with SIGKILL at random
// moments and started again, again and again. At the end every address whose failures reached
// the threshold is banned in the kernel and in block.json: no ban is lost to a crash, neither one
// the guard had put in the kernel but not saved yet, nor one whose failures it had read but not
// acted on, nor one whose failures were written while it was down.
func TestGuardSurvivesKill9(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skipf("needs root for a network namespace and nf_tables: %s", guardHint)
	}
	netnstest.IPPath(t)
	ns, fd := netnstest.Named(t, "kill")
	netnstest.ProbeNFTables(t, fd)
	dir := t.TempDir()
	state, logPath := filepath.Join(dir, "state"), filepath.Join(dir, "auth.log")
	log := newAuthLog(t, logPath)
	cfg := writeGuardConfig(t, dir, logPath, 3, "1h")
	args := []string{"--state-dir", state, "guard", "--config", cfg, "--backend", "nft"}

	cycles := 20
	if testing.Short() {
		cycles = 8
	}
	// addr is the i-th attacking address, inside 10.64.0.0/10.
	addr := func(i int) netip.Addr {
		return netip.AddrFrom4([4]byte{10, byte(64 + i>>16&63), byte(i >> 8), byte(i)})
	}
	// The writer: at each step, the first failure of address s, the second of s-spread and
	// the third of s-2*spread, one line each, so that an address's failures are far apart in
	// the file (a kill falls between them) and all three within the window.
	const spread = 40
	var (
		mu       sync.Mutex
		complete int // addresses 0..complete-1 have all three failures written
		stop     = make(chan struct{})
		done     = make(chan error, 1)
	)
	g := startGuard(t, ns, args...)
	g.warmUp(t, log, netip.MustParseAddr("198.51.100.99"))
	go func() {
		for s := 0; ; s++ {
			select {
			case <-stop:
				// Finish every address begun, so that each one written reaches the threshold:
				// the failures of addresses i < s due at steps s and later.
				for r := s; r < s+2*spread; r++ {
					for k := 1; k < 3; k++ {
						if i := r - k*spread; i >= 0 && i < s {
							if err := log.write(addr(i), 1); err != nil {
								done <- err
								return
							}
						}
					}
				}
				mu.Lock()
				complete = s
				mu.Unlock()
				done <- nil
				return
			default:
			}
			for k := range 3 {
				if i := s - k*spread; i >= 0 {
					if err := log.write(addr(i), 1); err != nil {
						done <- err
						return
					}
				}
			}
			mu.Lock()
			complete = max(s-2*spread+1, 0)
			mu.Unlock()
			time.Sleep(time.Millisecond)
		}
	}()

	for c := range cycles {
		// From just after the start (the first positions and bans not checkpointed yet) to
		// well after the first save and checkpoint.
		time.Sleep(time.Duration(50+rand.IntN(1200)) * time.Millisecond)
		if err := g.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-g.done
		if c < cycles-1 {
			g = startGuard(t, ns, args...)
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	n := complete
	mu.Unlock()

	// The last run reads what was written while the guard was down, and stops cleanly.
	g = startGuard(t, ns, args...)
	last := addr(n - 1)
	if !g.waitFor("banned "+last.String()+" ", 30*time.Second) {
		t.Logf("the last run did not ban the last address %v", last)
	}
	time.Sleep(time.Second) // let it catch up with the lines after the last address's
	if code := g.stop(t); code != 0 {
		t.Fatalf("guard exited %d on SIGTERM; it said:\n%s", code, g.log())
	}

	st, err := (&block.Store{Dir: state}).Load()
	if err != nil {
		t.Fatal(err)
	}
	saved := make(map[netip.Addr]bool, len(st.Bans))
	for _, b := range st.Bans {
		saved[b.Prefix.Addr()] = true
	}
	kernel := kernelHosts(t, fd)
	var notSaved, notKernel []netip.Addr
	for i := range n {
		a := addr(i)
		if !saved[a] {
			notSaved = append(notSaved, a)
		}
		if !kernel[a] {
			notKernel = append(notKernel, a)
		}
	}
	t.Logf("%d kill -9 cycles, %d addresses reached the threshold; %d bans saved, %d in the kernel", cycles, n, len(st.Bans), len(kernel))
	if len(notSaved) > 0 || len(notKernel) > 0 {
		lines := strings.Split(g.log(), "\n")
		if len(lines) > 40 {
			lines = append(lines[:20], append([]string{"…"}, lines[len(lines)-20:]...)...)
		}
		t.Errorf("bans lost to kill -9: %d of %d not in block.json (first %v), %d not in the kernel (first %v); the last run said:\n%s",
			len(notSaved), n, head(notSaved), len(notKernel), head(notKernel), strings.Join(lines, "\n"))
	}
	// No address banned twice: re-reading the log after a restart did not count a failure again.
	for _, o := range st.Offenders {
		if o.Count != 1 {
			t.Errorf("block.json counts %d bans of %v, want 1 (failures counted twice after a restart)", o.Count, o.Prefix)
		}
	}
}

func head(as []netip.Addr) []netip.Addr { return as[:min(len(as), 5)] }

// kernelHosts reads the host addresses in the sets of firewarden's nftables table in the
// namespace fd.
func kernelHosts(t *testing.T, fd int) map[netip.Addr]bool {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		t.Fatal(err)
	}
	tables, err := c.ListTables()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(tables, func(tb *nftables.Table) bool { return tb.Name == "firewarden" })
	if i < 0 {
		t.Fatal("no firewarden table in the kernel")
	}
	sets, err := c.GetSets(tables[i])
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[netip.Addr]bool)
	for _, s := range sets {
		if s.Interval {
			continue
		}
		els, err := c.GetSetElements(s)
		if err != nil {
			t.Fatalf("set %s: %v", s.Name, err)
		}
		for _, e := range els {
			if a, ok := netip.AddrFromSlice(e.Key); ok {
				out[a.Unmap()] = true
			}
		}
	}
	return out
}
