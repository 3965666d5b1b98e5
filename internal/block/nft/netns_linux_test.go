//go:build linux

package nft

import (
	"net/netip"
	"sort"
	"testing"
	"time"

	"github.com/google/nftables"

	"github.com/firewarden/firewarden/internal/netnstest"
)

// The tests in this package run against the real kernel, each in network namespaces of its
// own, and skip when they cannot make one. To run them: as root (or with CAP_NET_ADMIN and
// CAP_SYS_ADMIN), `go test ./internal/block/nft`; CI does.

// newNetNS returns a file descriptor of a new, empty network namespace, closed at cleanup.
func newNetNS(t testing.TB) int {
	t.Helper()
	return netnstest.New(t, "run `sudo go test ./internal/block/nft`")
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
