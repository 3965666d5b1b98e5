//go:build linux

package nft

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/block"
)

// planCase is a view of held bans and an Apply on it.
type planCase struct {
	name   string
	held   []block.Ban
	add    []block.Ban
	remove []netip.Prefix
}

var planCases = func() []planCase {
	h1, h2 := t0.Add(time.Hour), t0.Add(2*time.Hour)
	held := append(bans(h1, "192.0.2.1/32", "198.51.100.0/24", "203.0.113.0/25", "203.0.113.128/25", "2001:db8::1/128",
		"2001:db8:1::/48", "2001:db8:2::/127"), bans(time.Time{}, "10.0.0.0/8")...)
	return []planCase{
		{"empty", nil, nil, nil},
		{"add to nothing", nil, bans(h1, "192.0.2.1/32", "2001:db8::/64"), nil},
		{"add held", held, bans(h1, "192.0.2.1/32", "10.0.0.0/8"), nil},
		{"raise", held, bans(h2, "192.0.2.1/32", "198.51.100.0/24", "10.0.0.0/8"), nil},
		{"no timeout is the latest", held, bans(time.Time{}, "192.0.2.1/32"), nil},
		{"never lowered", held, bans(t0.Add(time.Minute), "192.0.2.1/32", "2001:db8:1::/48"), nil},
		{"covered", held, bans(h2, "198.51.100.9/32", "10.200.0.0/16", "2001:db8:1:5::/64", "2001:db8:2::1/128"), nil},
		{"covering", held, bans(h1, "203.0.113.0/24", "2001:db8::/46", "203.0.113.7/32"), nil},
		{"covering everything", held, bans(h1, "0.0.0.0/0", "::/0"), nil},
		{"remove", held, nil, prefixes("192.0.2.1/32", "10.0.0.0/8", "2001:db8:2::/127")},
		{"remove absent or not exact", held, nil, prefixes("192.0.2.2/32", "198.51.100.0/25", "203.0.113.0/24", "2001:db8:2::/128")},
		{"remove then add", held, bans(h1, "198.51.100.7/32", "203.0.113.0/25"), prefixes("198.51.100.0/24", "203.0.113.0/25")},
		{"duplicates", nil, append(bans(h1, "192.0.2.1/32", "192.0.2.1/32"), bans(h2, "192.0.2.1/32")...), nil},
		{"v4-mapped", held, bans(h1, "::ffff:192.0.2.1/128", "::ffff:198.51.0.0/112"), prefixes("::ffff:10.0.0.0/104")},
		{"host inside a held prefix, both held", append(slices.Clone(held), bans(h1, "198.51.100.5/32")...),
			bans(h1, "198.51.0.0/16"), nil},
		// Many hosts under a /22: few enough for the look-up of every address inside it.
		{"look-ups", manyHosts(h1, 300), bans(h1, "10.0.0.0/22", "10.0.8.0/30"), prefixes("10.0.4.1/32")},
	}
}()

// manyHosts returns n hosts in 10.0.0.0/16, every third address.
func manyHosts(exp time.Time, n int) []block.Ban {
	var out []block.Ban
	for i := range n {
		a := netip.AddrFrom4([4]byte{10, 0, byte(i * 3 >> 8), byte(i * 3)})
		out = append(out, block.Ban{Prefix: netip.PrefixFrom(a, 32), Expires: exp})
	}
	return out
}

func TestPlanDelta(t *testing.T) {
	for _, c := range planCases {
		t.Run(c.name, func(t *testing.T) { checkPlanDelta(t, c.held, c.add, c.remove) })
	}
}

// FuzzPlanDelta checks planDelta against block.PlanApply, the reference every other backend
// uses, over prefixes drawn from a small space so that they often nest.
func FuzzPlanDelta(f *testing.F) {
	for _, c := range planCases {
		f.Add(encodePlan(c.held, 0), encodePlan(c.add, 1), encodePlan(banList(c.remove), 2))
	}
	f.Fuzz(func(t *testing.T, held, add, remove []byte) {
		var hs []block.Ban
		// The kernel holds no two overlapping intervals: keep the held prefixes that overlap
		// no earlier one, except that a host may sit inside a prefix (in another set).
		for _, b := range decodePlan(held) {
			if !slices.ContainsFunc(hs, func(h block.Ban) bool {
				return h.Prefix.Overlaps(b.Prefix) && (!b.Prefix.IsSingleIP() || h.Prefix.IsSingleIP())
			}) {
				hs = append(hs, b)
			}
		}
		checkPlanDelta(t, hs, decodePlan(add), prefixesOf(decodePlan(remove)))
	})
}

// maxFuzzBans bounds the bans of one list a fuzz input makes: the harness is quadratic, and
// the cases that matter are small.
const maxFuzzBans = 400

// encodePlan and decodePlan turn bans into fuzz input and back: 6 bytes a ban, the first
// choosing the family and the expiry.
func encodePlan(bs []block.Ban, salt byte) []byte {
	var out []byte
	for _, b := range bs {
		a := b.Prefix.Addr().Unmap()
		kind := byte(0)
		switch {
		case b.Expires.IsZero():
			kind = 2
		case b.Expires.After(t0.Add(time.Hour)):
			kind = 1
		}
		var k [4]byte
		if a.Is4() {
			k = a.As4()
		} else {
			kind |= 4
			x := a.As16()
			copy(k[:], x[12:])
		}
		bits := b.Prefix.Bits()
		if a.Is6() {
			bits -= 96
		}
		out = append(out, kind|salt<<4, k[0], k[1], k[2], k[3], byte(bits))
	}
	return out
}

func decodePlan(in []byte) []block.Ban {
	var out []block.Ban
	in = in[:min(len(in), 6*maxFuzzBans)]
	for ; len(in) >= 6; in = in[6:] {
		exp := []time.Time{t0.Add(time.Hour), t0.Add(2 * time.Hour), {}, t0.Add(time.Hour)}[in[0]&3]
		var p netip.Prefix
		if in[0]&4 == 0 {
			p, _ = netip.AddrFrom4([4]byte(in[1:5])).Prefix(int(in[5] % 33))
		} else {
			a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 12: in[1], 13: in[2], 14: in[3], 15: in[4]})
			p, _ = a.Prefix(96 + int(in[5]%33))
		}
		out = append(out, block.Ban{Prefix: p, Expires: exp})
	}
	return out
}

func banList(ps []netip.Prefix) []block.Ban {
	var out []block.Ban
	for _, p := range ps {
		out = append(out, block.Ban{Prefix: p, Expires: t0.Add(time.Hour)})
	}
	return out
}

func prefixesOf(bs []block.Ban) []netip.Prefix {
	var out []netip.Prefix
	for _, b := range bs {
		out = append(out, b.Prefix)
	}
	return out
}

// checkPlanDelta plans add and remove over held with planDelta and with block.PlanApply, and
// compares the results, the views after, and the kernel changes with the reference's Delta.
func checkPlanDelta(t *testing.T, held, add []block.Ban, remove []netip.Prefix) {
	t.Helper()
	rnow := t0.UnixMilli()
	be := &Backend{view: map[pkey]viewEntry{}}
	ref := map[netip.Prefix]time.Time{}
	for _, h := range held {
		var d int64
		if !h.Expires.IsZero() {
			d = h.Expires.UnixMilli()
		}
		be.view[keyOf(h.Prefix)] = viewEntry{deadline: d, kdeadline: d}
		ref[h.Prefix] = h.Expires
	}
	be.recount()
	want, wantErr := block.PlanApply(ref, func(t time.Time) time.Time { return t }, add, remove)
	es, err := normalise(add)
	var rm []netip.Prefix
	for _, p := range remove {
		if err == nil {
			var q netip.Prefix
			q, err = normalPrefix(p)
			rm = append(rm, q)
		}
	}
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("normalising: %v; block.PlanApply: %v", err, wantErr)
	}
	if err != nil {
		return
	}
	var pl plan
	got := be.planDelta(&pl, es, rm, t0, rnow)
	if got != want.Result {
		t.Errorf("planDelta = %+v, block.PlanApply = %+v", got, want.Result)
	}
	// The views after.
	for _, p := range want.Remove {
		delete(ref, p)
	}
	for _, b := range append(slices.Clone(want.Add), want.Renew...) {
		ref[b.Prefix] = b.Expires
	}
	gotView := map[netip.Prefix]int64{}
	for k, v := range be.view {
		gotView[k.prefix()] = v.deadline
	}
	wantView := map[netip.Prefix]int64{}
	for p, exp := range ref {
		wantView[p] = 0
		if !exp.IsZero() {
			wantView[p] = exp.UnixMilli()
		}
	}
	if diff := cmp.Diff(wantView, gotView); diff != "" {
		t.Errorf("view after planDelta (-block.PlanApply +planDelta):\n%s", diff)
	}
	lens := be.lens
	be.recount()
	if lens != be.lens {
		t.Errorf("lens kept by planDelta differ from a recount")
	}
	// The kernel changes: the deleted prefixes and renewed ones go, the added and renewed
	// ones come, each in its own set.
	wantDel, wantAdd := map[netip.Prefix]int{}, map[netip.Prefix]int{}
	for _, p := range want.Remove {
		wantDel[p] = setOf(p)
	}
	for _, b := range want.Renew {
		wantDel[b.Prefix] = setOf(b.Prefix)
	}
	for _, b := range append(slices.Clone(want.Add), want.Renew...) {
		wantAdd[b.Prefix] = setOf(b.Prefix)
	}
	gotDel, gotAdd := map[netip.Prefix]int{}, map[netip.Prefix]int{}
	for i := range nsets {
		for _, c := range pl.del[i] {
			gotDel[c.p] = i
		}
		for _, c := range pl.add[i] {
			gotAdd[c.p] = i
			if d := wantView[c.p]; timeout(d, t0) != c.timeout {
				t.Errorf("%v added with timeout %v, want %v", c.p, c.timeout, timeout(d, t0))
			}
		}
	}
	if diff := cmp.Diff(wantDel, gotDel); diff != "" {
		t.Errorf("deleted from the kernel (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantAdd, gotAdd); diff != "" {
		t.Errorf("added to the kernel (-want +got):\n%s", diff)
	}
}

func mustApply(t *testing.T, b *Backend, add []block.Ban, remove []netip.Prefix, now time.Time, wantRes block.SyncResult) {
	t.Helper()
	got, err := b.Apply(context.Background(), add, remove, now)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if got != wantRes {
		t.Errorf("Apply = %+v, want %+v", got, wantRes)
	}
}

func TestApplyRaisesTheKernelTimeout(t *testing.T) {
	t.Parallel()
	fd := newNetNS(t)
	b := newBackend(t, fd, Options{})
	ps := []string{"192.0.2.0/24", "2001:db8::7/128"}
	timeouts := func(want time.Duration) {
		t.Helper()
		_, got := kernelPrefixes(t, fd)
		for _, q := range prefixes(ps...) {
			if got[q] != want {
				t.Errorf("kernel timeout of %v = %v, want %v", q, got[q], want)
			}
		}
	}
	mustApply(t, b, bans(t0.Add(time.Hour), ps...), nil, t0, block.SyncResult{Added: 2})
	timeouts(time.Hour)
	// Ten minutes later: banned again for two hours from then.
	now := t0.Add(10 * time.Minute)
	mustApply(t, b, bans(now.Add(2*time.Hour), ps...), nil, now, block.SyncResult{Kept: 2})
	timeouts(2 * time.Hour)
	// A shorter ban does not lower it.
	mustApply(t, b, bans(now.Add(time.Minute), ps...), nil, now, block.SyncResult{Kept: 2})
	timeouts(2 * time.Hour)
	// No expiry is the longest.
	mustApply(t, b, bans(time.Time{}, ps...), nil, now, block.SyncResult{Kept: 2})
	timeouts(0)
	mustApply(t, b, bans(now.Add(time.Hour), ps...), nil, now, block.SyncResult{Kept: 2})
	timeouts(0)
	// Sync sees what Apply did: the wanted timeouts are those held.
	reads := b.reads
	mustSync(t, b, bans(time.Time{}, ps...), now, block.SyncResult{Kept: 2})
	timeouts(0)
	if b.reads != reads {
		t.Errorf("Sync after Apply read the kernel %d times, want 0", b.reads-reads)
	}
}

func TestApplyReadsTheKernelOnce(t *testing.T) {
	t.Parallel()
	fd := newNetNS(t)
	mustSync(t, newBackend(t, fd, Options{}), bans(t0.Add(time.Hour), "192.0.2.1/32", "198.51.100.0/24"), t0, block.SyncResult{Added: 2})
	b := newBackend(t, fd, Options{})
	mustApply(t, b, bans(t0.Add(time.Hour), "192.0.2.2/32", "198.51.100.3/32"), nil, t0, block.SyncResult{Added: 1, Kept: 1})
	mustApply(t, b, nil, prefixes("192.0.2.1/32"), t0, block.SyncResult{Removed: 1})
	mustApply(t, b, bans(t0.Add(time.Hour), "198.51.0.0/16"), nil, t0, block.SyncResult{Added: 1, Removed: 1})
	if b.reads != 1 {
		t.Errorf("three Applies read the kernel %d times, want 1", b.reads)
	}
	checkKernel(t, fd, prefixes("192.0.2.2/32", "198.51.0.0/16"))
}

func TestApplyRecoversFromAFailedBatch(t *testing.T) {
	t.Parallel()
	fd := newNetNS(t)
	b := newBackend(t, fd, Options{})
	mustSync(t, b, bans(t0.Add(time.Hour), "192.0.2.1/32", "192.0.2.2/32", "198.51.100.0/24"), t0, block.SyncResult{Added: 3})
	// The kernel lost 192.0.2.1 and 198.51.100.0/24 behind the Backend's back: deleting the
	// host fails the first batch, and the /16 replacing the /24 is counted against the kernel
	// as re-read.
	deleteBehindBack(t, fd, netip.MustParsePrefix("192.0.2.1/32"))
	deleteBehindBack(t, fd, netip.MustParsePrefix("198.51.100.0/24"))
	reads := b.reads
	mustApply(t, b, bans(t0.Add(time.Hour), "198.51.0.0/16", "203.0.113.5/32"), prefixes("192.0.2.1/32"), t0, block.SyncResult{Added: 2})
	if b.reads != reads+1 {
		t.Errorf("Apply read the kernel %d times, want once, after the failed batch", b.reads-reads)
	}
	checkKernel(t, fd, prefixes("192.0.2.2/32", "198.51.0.0/16", "203.0.113.5/32"))
}

func TestApplyCancelledChangesNothing(t *testing.T) {
	t.Parallel()
	fd := newNetNS(t)
	b := newBackend(t, fd, Options{})
	mustSync(t, b, bans(t0.Add(time.Hour), "192.0.2.1/32", "198.51.100.0/24"), t0, block.SyncResult{Added: 2})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if res, err := b.Apply(ctx, bans(t0.Add(time.Hour), "198.51.0.0/16"), prefixes("192.0.2.1/32"), t0); err == nil {
		t.Fatalf("Apply with a cancelled context = %+v, nil error", res)
	}
	checkKernel(t, fd, prefixes("192.0.2.1/32", "198.51.100.0/24"))
	// The view was dropped with the batch: the next Apply reads the kernel and is right.
	mustApply(t, b, bans(t0.Add(time.Hour), "198.51.0.0/16"), prefixes("192.0.2.1/32"), t0, block.SyncResult{Added: 1, Removed: 2})
	checkKernel(t, fd, prefixes("198.51.0.0/16"))
}
