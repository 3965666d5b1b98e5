package cli

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/firewarden/firewarden/internal/block"
	"github.com/firewarden/firewarden/internal/block/nft"
)

// TestBlockNftablesInANamespace runs `block` with the nftables backend against the real kernel,
// in a network namespace of its own so that the host's firewall is never touched: sync after
// add reads the kernel back.
func TestBlockNftablesInANamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace and nftables; run: sudo go test ./internal/cli -run Nftables")
	}
	done := make(chan struct{})
	var outs []string
	var failure string
	go func() {
		defer close(done)
		// The thread stays locked and ends with the goroutine, taking the namespace with it.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			failure = "skip: unshare: " + err.Error()
			return
		}
		state := t.TempDir()
		for _, args := range [][]string{
			{"add", "192.0.2.1", "198.51.100.0/24", "2001:db8::/64"},
			{"allow", "198.51.100.7"},
			{"disable"},
			{"sync"},
			{"enable"},
			{"remove", "192.0.2.1"},
			{"sync"},
		} {
			var out, errb bytes.Buffer
			a := &app{Streams: Streams{Out: &out, Err: &errb}, getenv: func(string) string { return "" }, now: time.Now, euid: func() int { return 0 }}
			full := append([]string{"--root", "/", "--state-dir", state, "block"}, args...)
			if err := a.dispatch(context.Background(), append(full, "--backend", "nft")); err != nil {
				if strings.Contains(err.Error(), "operation not permitted") || strings.Contains(err.Error(), "protocol not supported") {
					failure = "skip: " + err.Error()
				} else {
					failure = "block " + strings.Join(args, " ") + ": " + err.Error() + "\n" + errb.String()
				}
				return
			}
			outs = append(outs, out.String())
		}
	}()
	<-done
	if strings.HasPrefix(failure, "skip: ") {
		t.Skipf("no nftables in a new network namespace here (%s); CI runs this as root on Linux", failure[6:])
	}
	if failure != "" {
		t.Fatal(failure)
	}
	// 198.51.100.0/24 minus .7 is 8 prefixes; with 192.0.2.1 and 2001:db8::/64, 10.
	if want := "nftables: added 0, removed 0, kept 10; blocking disabled\n"; outs[3] != want {
		t.Errorf("first sync = %q, want %q", outs[3], want)
	}
	if want := "nftables: added 0, removed 0, kept 9; blocking enabled\n"; outs[6] != want {
		t.Errorf("second sync = %q, want %q", outs[6], want)
	}
}

// TestBlockLeavesOthersEntries: a block command changes only what it changed in the state. An
// entry another process put in the kernel and has not saved yet (the guard saves its bans in
// the background) stays; `block sync` is what makes the kernel match the state exactly.
func TestBlockLeavesOthersEntries(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace and nftables; run: sudo go test ./internal/cli -run Others")
	}
	state := t.TempDir()
	var entries []int
	var failure string
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // ends with the goroutine, taking the namespace with it
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			failure = "skip: unshare: " + err.Error()
			return
		}
		ctx := context.Background()
		guardSide, err := nft.New(nft.Options{})
		if err != nil {
			failure = "skip: " + err.Error()
			return
		}
		defer guardSide.Close()
		now := time.Now()
		if _, err := guardSide.Apply(ctx, []block.Ban{{Prefix: netip.MustParsePrefix("203.0.113.99/32"), Expires: now.Add(time.Hour)}}, nil, now); err != nil {
			failure = "guard's Apply: " + err.Error()
			return
		}
		count := func() {
			st, err := guardSide.Status(ctx)
			if err != nil {
				failure = err.Error()
			}
			entries = append(entries, st.Entries)
		}
		for _, args := range [][]string{{"add", "192.0.2.1"}, {"remove", "192.0.2.1"}, {"sync"}} {
			var out, errb bytes.Buffer
			a := &app{Streams: Streams{Out: &out, Err: &errb}, getenv: func(string) string { return "" }, now: time.Now, euid: func() int { return 0 }}
			if err := a.dispatch(ctx, append([]string{"--root", "/", "--state-dir", state, "block"}, append(args, "--backend", "nft")...)); err != nil {
				failure = "block " + strings.Join(args, " ") + ": " + err.Error()
				return
			}
			count()
		}
	}()
	<-done
	if strings.HasPrefix(failure, "skip: ") {
		t.Skipf("no nftables in a new network namespace here (%s); CI runs this as root on Linux", failure[6:])
	}
	if failure != "" {
		t.Fatal(failure)
	}
	// add: the unsaved entry and 192.0.2.1; remove: the unsaved entry; sync: the state's none.
	if want := []int{2, 1, 0}; !slices.Equal(entries, want) {
		t.Errorf("kernel entries after add, remove, sync = %v, want %v", entries, want)
	}
}
