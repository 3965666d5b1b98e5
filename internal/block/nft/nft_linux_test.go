//go:build linux

package nft

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/nftables"

	"github.com/firewarden/firewarden/internal/block"
)

var t0 = time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)

func bans(exp time.Time, ps ...string) []block.Ban {
	var out []block.Ban
	for _, s := range ps {
		out = append(out, block.Ban{Prefix: netip.MustParsePrefix(s), Expires: exp})
	}
	return out
}

func prefixes(ps ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ps {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func mustSync(t *testing.T, b *Backend, want []block.Ban, now time.Time, wantRes block.SyncResult) {
	t.Helper()
	got, err := b.Sync(context.Background(), want, now)
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if got != wantRes {
		t.Errorf("Sync = %+v, want %+v", got, wantRes)
	}
}

func checkKernel(t *testing.T, fd int, want []netip.Prefix) {
	t.Helper()
	got, _ := kernelPrefixes(t, fd)
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("kernel sets (-want +got):\n%s", diff)
	}
}

func TestSyncAppliesTheDifference(t *testing.T) {
	t.Parallel()
	fd := newNetNS(t)
	b := newBackend(t, fd, Options{})
	ctx := context.Background()
	exp := t0.Add(time.Hour)

	mustSync(t, b, bans(exp, "192.0.2.1/32", "10.0.0.0/8", "10.1.2.3/32", "2001:db8::/32", "2001:db8:1::1/128",
		"fe80::1/128", "255.255.255.255/32", "ffff::/16", "198.51.100.0/24"), t0,
		block.SyncResult{Added: 7}) // 10.1.2.3 and 2001:db8:1::1 lie inside banned prefixes
	checkKernel(t, fd, prefixes("10.0.0.0/8", "192.0.2.1/32", "198.51.100.0/24", "2001:db8::/32",
		"255.255.255.255/32", "fe80::1/128", "ffff::/16"))

	// Adjacent prefixes: 198.51.100.0/24 ends where 198.51.101.0/24 starts.
	mustSync(t, b, bans(exp, "10.0.0.0/8", "2001:db8::/32", "198.51.101.0/24", "198.51.100.0/24", "::ffff:203.0.113.9/128"), t0,
		block.SyncResult{Added: 2, Removed: 4, Kept: 3})
	want := prefixes("10.0.0.0/8", "198.51.100.0/24", "198.51.101.0/24", "2001:db8::/32", "203.0.113.9/32")
	checkKernel(t, fd, want)

	// Idempotent: the same want changes nothing, in this Backend or a fresh one reading the kernel.
	mustSync(t, b, bans(exp, "10.0.0.0/8", "2001:db8::/32", "198.51.101.0/24", "198.51.100.0/24", "203.0.113.9/32"), t0,
		block.SyncResult{Kept: 5})
	b2 := newBackend(t, fd, Options{})
	mustSync(t, b2, bans(exp, "10.0.0.0/8", "2001:db8::/32", "198.51.101.0/24", "198.51.100.0/24", "203.0.113.9/32"), t0,
		block.SyncResult{Kept: 5})
	checkKernel(t, fd, want)

	st, err := b.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(block.Status{Enabled: false, Entries: 5}, st); diff != "" {
		t.Errorf("Status (-want +got):\n%s", diff)
	}

	mustSync(t, b, nil, t0, block.SyncResult{Removed: 5})
	checkKernel(t, fd, nil)
}

func TestSyncRejectsInvalidPrefix(t *testing.T) {
	t.Parallel()
	fd := newNetNS(t)
	b := newBackend(t, fd, Options{})
	mustSync(t, b, bans(time.Time{}, "192.0.2.1/32"), t0, block.SyncResult{Added: 1})
	_, err := b.Sync(context.Background(), []block.Ban{{Prefix: netip.MustParsePrefix("192.0.2.7/32")}, {}}, t0)
	if err == nil {
		t.Fatal("Sync with an invalid prefix: no error")
	}
	checkKernel(t, fd, prefixes("192.0.2.1/32"))
}

func TestEnableDisableKeepsEntries(t *testing.T) {
	t.Parallel()
	fd := newNetNS(t)
	b := newBackend(t, fd, Options{})
	ctx := context.Background()
	status := func(want block.Status) {
		t.Helper()
		got, err := b.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("Status = %+v, want %+v", got, want)
		}
	}
	status(block.Status{})
	if err := b.SetEnabled(ctx, false); err != nil { // nothing to disable
		t.Fatalf("SetEnabled(false) on an empty kernel: %v", err)
	}
	if err := b.SetEnabled(ctx, true); err != nil {
		t.Fatal(err)
	}
	status(block.Status{Enabled: true})
	mustSync(t, b, bans(t0.Add(time.Hour), "192.0.2.0/24", "2001:db8::1/128"), t0, block.SyncResult{Added: 2})
	for range 2 { // twice: idempotent
		if err := b.SetEnabled(ctx, false); err != nil {
			t.Fatal(err)
		}
		status(block.Status{Entries: 2})
	}
	for range 2 {
		if err := b.SetEnabled(ctx, true); err != nil {
			t.Fatal(err)
		}
		status(block.Status{Enabled: true, Entries: 2})
	}
	checkKernel(t, fd, prefixes("192.0.2.0/24", "2001:db8::1/128"))
	c, _ := nftables.New(nftables.WithNetNSFd(fd))
	for _, name := range []string{"input", "forward"} {
		rules, err := c.GetRules(b.table, &nftables.Chain{Name: name, Table: b.table})
		if err != nil {
			t.Fatal(err)
		}
		if len(rules) != nsets {
			t.Errorf("chain %s has %d rules, want %d", name, len(rules), nsets)
		}
	}
}

// deleteBehindBack deletes prefix p from the kernel over a connection of its own.
func deleteBehindBack(t *testing.T, fd int, p netip.Prefix) {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		t.Fatal(err)
	}
	b := &Backend{table: &nftables.Table{Family: nftables.TableFamilyINet, Name: "firewarden"}}
	s := &nftables.Set{Table: b.table, Name: setNames[setOf(p)]}
	if err := c.SetDeleteElements(s, appendElems(nil, p, 0)); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		t.Fatalf("delete %v behind the backend's back: %v", p, err)
	}
}

// addBehindBack adds prefix p to the kernel over a connection of its own.
func addBehindBack(t *testing.T, fd int, set string, els []nftables.SetElement) {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		t.Fatal(err)
	}
	s := &nftables.Set{Table: &nftables.Table{Family: nftables.TableFamilyINet, Name: "firewarden"}, Name: set}
	if err := c.SetAddElements(s, els); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		t.Fatalf("add behind the backend's back: %v", err)
	}
}

func TestReconcileFixesDrift(t *testing.T) {
	t.Parallel()
	fd := newNetNS(t)
	b := newBackend(t, fd, Options{})
	ctx := context.Background()
	want := bans(t0.Add(time.Hour), "192.0.2.1/32", "198.51.100.0/24", "2001:db8::/48")
	mustSync(t, b, want, t0, block.SyncResult{Added: 3})

	deleteBehindBack(t, fd, netip.MustParsePrefix("198.51.100.0/24"))
	deleteBehindBack(t, fd, netip.MustParsePrefix("2001:db8::/48"))
	// Someone adds a prefix and a range that is no prefix (203.0.113.1 - 203.0.113.2).
	addBehindBack(t, fd, setNames[setOf(netip.MustParsePrefix("192.0.2.200/32"))], appendElems(nil, netip.MustParsePrefix("192.0.2.200/32"), 0))
	addBehindBack(t, fd, "net4", []nftables.SetElement{
		{Key: netip.MustParseAddr("203.0.113.1").AsSlice()},
		{Key: netip.MustParseAddr("203.0.113.3").AsSlice(), IntervalEnd: true},
	})

	// A host in a host set its hash does not name, and one in the interval set.
	odd := netip.MustParsePrefix("192.0.2.201/32")
	addBehindBack(t, fd, setNames[(setOf(odd)+1)%hostShards], appendElems(nil, odd, 0))
	addBehindBack(t, fd, "net4", []nftables.SetElement{
		{Key: netip.MustParseAddr("192.0.2.202").AsSlice()},
		{Key: netip.MustParseAddr("192.0.2.203").AsSlice(), IntervalEnd: true},
	})

	// Sync trusts its view of the kernel: nothing to do.
	mustSync(t, b, want, t0, block.SyncResult{Kept: 3})

	got, err := b.Reconcile(ctx, want, t0)
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if wantRes := (block.SyncResult{Added: 2, Removed: 4, Kept: 1}); got != wantRes {
		t.Errorf("Reconcile = %+v, want %+v", got, wantRes)
	}
	checkKernel(t, fd, prefixes("192.0.2.1/32", "198.51.100.0/24", "2001:db8::/48"))
}

func TestSyncRecoversFromAFailedBatch(t *testing.T) {
	t.Parallel()
	fd := newNetNS(t)
	b := newBackend(t, fd, Options{})
	mustSync(t, b, bans(t0.Add(time.Hour), "192.0.2.1/32", "192.0.2.2/32"), t0, block.SyncResult{Added: 2})

	// The kernel lost 192.0.2.1 (its timeout ran out, say): deleting it fails the batch, and
	// someone else's 10.1.0.0/16 overlaps the wanted 10.1.2.3, which the kernel refuses.
	deleteBehindBack(t, fd, netip.MustParsePrefix("192.0.2.1/32"))
	addBehindBack(t, fd, "net4", appendElems(nil, netip.MustParsePrefix("10.1.0.0/16"), 0))

	got, err := b.Sync(context.Background(), bans(t0.Add(time.Hour), "192.0.2.2/32", "10.1.2.3/32"), t0)
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	// Counted against the kernel as re-read after the failure.
	if want := (block.SyncResult{Added: 1, Removed: 1, Kept: 1}); got != want {
		t.Errorf("Sync = %+v, want %+v", got, want)
	}
	checkKernel(t, fd, prefixes("10.1.2.3/32", "192.0.2.2/32"))
}

func TestExtendingABanRefreshesTheKernelTimeout(t *testing.T) {
	t.Parallel()
	fd := newNetNS(t)
	b := newBackend(t, fd, Options{})
	p := netip.MustParsePrefix("192.0.2.0/24")
	p6 := netip.MustParsePrefix("2001:db8::7/128")
	timeouts := func(want time.Duration) {
		t.Helper()
		_, got := kernelPrefixes(t, fd)
		for _, q := range []netip.Prefix{p, p6} {
			if got[q] != want {
				t.Errorf("kernel timeout of %v = %v, want %v", q, got[q], want)
			}
		}
	}
	mustSync(t, b, bans(t0.Add(time.Hour), p.String(), p6.String()), t0, block.SyncResult{Added: 2})
	timeouts(time.Hour)
	// Ten minutes later the ban is extended to two hours from then (a repeat offender).
	now := t0.Add(10 * time.Minute)
	mustSync(t, b, bans(now.Add(2*time.Hour), p.String(), p6.String()), now, block.SyncResult{Kept: 2})
	timeouts(2 * time.Hour)
	// A ban without expiry holds no timeout.
	mustSync(t, b, bans(time.Time{}, p.String(), p6.String()), now, block.SyncResult{Kept: 2})
	timeouts(0)
	// Reconcile from a fresh Backend renews a timeout that differs from the wanted one...
	two := bans(now.Add(2*time.Hour), p.String(), p6.String())
	mustReconcile(t, newBackend(t, fd, Options{}), two, now, block.SyncResult{Kept: 2})
	timeouts(2 * time.Hour)
	// ...but not one that differs by seconds: its clock and the kernel's may (a renewal here
	// would set 2h0m10s).
	mustReconcile(t, newBackend(t, fd, Options{}), two, now.Add(-10*time.Second), block.SyncResult{Kept: 2})
	timeouts(2 * time.Hour)
	mustReconcile(t, newBackend(t, fd, Options{}), bans(now.Add(3*time.Hour), p.String(), p6.String()), now, block.SyncResult{Kept: 2})
	timeouts(3 * time.Hour)
	b2 := newBackend(t, fd, Options{})
	got, err := b2.Reconcile(context.Background(), bans(time.Time{}, p.String(), p6.String()), now)
	if err != nil || got != (block.SyncResult{Kept: 2}) {
		t.Errorf("Reconcile = %+v, %v; want {Kept:2}, nil", got, err)
	}
	timeouts(0)
}

func TestBanTimedOutInTheKernel(t *testing.T) {
	t.Parallel()
	// A ban whose kernel timeout ran out (firewarden was late) is gone from the kernel but for
	// its interval's end element: removing it must not fail the batch, and Reconcile clears the
	// end element. The timeout is real, so this test waits for it (about a second).
	fd := newNetNS(t)
	b := newBackend(t, fd, Options{})
	now := time.Now()
	mustSync(t, b, bans(now.Add(time.Second), "192.0.2.1/32", "2001:db8::/64"), now, block.SyncResult{Added: 2})
	mustSync(t, b, bans(now.Add(time.Hour), "192.0.2.9/32"), now, block.SyncResult{Added: 1, Removed: 2})
	mustSync(t, b, bans(now.Add(time.Second), "192.0.2.1/32", "2001:db8::/64"), now, block.SyncResult{Added: 2, Removed: 1})
	for deadline := time.Now().Add(5 * time.Second); ; {
		if got, _ := rawElems(t, fd); got == 1 { // the end element of 2001:db8::/64
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("kernel timeouts did not run out")
		}
		runtime.Gosched()
	}
	reads := b.reads
	mustSync(t, b, nil, time.Now(), block.SyncResult{Removed: 2})
	if b.reads != reads {
		t.Errorf("Sync re-read the kernel: removing the timed-out bans failed")
	}
	if got, _ := rawElems(t, fd); got != 1 {
		t.Errorf("kernel holds %d elements, want the end element of 2001:db8::/64", got)
	}
	mustReconcile(t, b, nil, time.Now(), block.SyncResult{})
	if got, _ := rawElems(t, fd); got != 0 {
		t.Errorf("after Reconcile the kernel holds %d elements, want 0", got)
	}
}

// rawElems counts the elements of both sets, start and end elements alike.
func rawElems(t *testing.T, fd int) (int, error) {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range setNames {
		els, err := c.GetSetElements(&nftables.Set{Table: &nftables.Table{Family: nftables.TableFamilyINet, Name: "firewarden"}, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		n += len(els)
	}
	return n, nil
}

func mustReconcile(t *testing.T, b *Backend, want []block.Ban, now time.Time, wantRes block.SyncResult) {
	t.Helper()
	got, err := b.Reconcile(context.Background(), want, now)
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if got != wantRes {
		t.Errorf("Reconcile = %+v, want %+v", got, wantRes)
	}
}

func TestManyBansInBoundedBatches(t *testing.T) {
	t.Parallel()
	fd := newNetNS(t)
	// 500 elements a transaction: the 20 000-ban change takes many.
	for _, opts := range []Options{{}, {MaxBatch: 500}} {
		t.Run(fmt.Sprintf("MaxBatch=%d", opts.MaxBatch), func(t *testing.T) {
			opts.Table = "firewarden"
			b := newBackend(t, fd, opts)
			want := manyBans(20000, t0.Add(time.Hour))
			mustSync(t, b, want, t0, block.SyncResult{Added: 20000})
			got, _ := kernelPrefixes(t, fd)
			if len(got) != 20000 {
				t.Fatalf("kernel holds %d prefixes, want 20000", len(got))
			}
			res, err := b.Reconcile(context.Background(), want, t0)
			if err != nil || res != (block.SyncResult{Kept: 20000}) {
				t.Errorf("Reconcile = %+v, %v; want {Kept:20000}, nil", res, err)
			}
			mustSync(t, b, want[:10000], t0, block.SyncResult{Removed: 10000, Kept: 10000})
			mustSync(t, b, nil, t0, block.SyncResult{Removed: 10000})
			checkKernel(t, fd, nil)
		})
	}
}

// manyBans returns n distinct bans: non-adjacent IPv4 hosts, one in eight an IPv6 /64.
func manyBans(n int, exp time.Time) []block.Ban {
	out := make([]block.Ban, 0, n)
	for i := range n {
		var p netip.Prefix
		if i%8 == 7 {
			a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 16), byte(i >> 8), byte(i), 0})
			p = netip.PrefixFrom(a, 64)
		} else {
			a := netip.AddrFrom4([4]byte{10, byte(i >> 15), byte(i >> 7), byte(i<<1) | 1})
			p = netip.PrefixFrom(a, 32)
		}
		out = append(out, block.Ban{Prefix: p, Expires: exp})
	}
	return out
}

func TestChangeToOneSetOnly(t *testing.T) {
	// Each of the four sets changed alone, after a change to another one.
	t.Parallel()
	fd := newNetNS(t)
	b := newBackend(t, fd, Options{})
	exp := t0.Add(time.Hour)
	var held []string
	for _, p := range []string{"192.0.2.1/32", "198.51.100.0/24", "2001:db8::1/128", "2001:db8:1::/64"} {
		held = append(held, p)
		mustSync(t, b, bans(exp, held...), t0, block.SyncResult{Added: 1, Kept: len(held) - 1})
	}
	checkKernel(t, fd, prefixes("192.0.2.1/32", "198.51.100.0/24", "2001:db8:1::/64", "2001:db8::1/128"))
}
