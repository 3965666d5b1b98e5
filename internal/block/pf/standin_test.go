package pf_test

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"github.com/firewarden/firewarden/internal/block"
	"github.com/firewarden/firewarden/internal/block/pf"
	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/host/hosttest"
)

// TestThroughStandInBinary runs the Backend the way the firewarden binary does on a fake Mac:
// ExecRunner runs ROOT/sbin/pfctl, the macemu stand-in, which reads the files the Backend hands
// it by system path under the same root, and keeps pf's state in the fake Mac's state file.
func TestThroughStandInBinary(t *testing.T) {
	bin := hosttest.BuildMacemu(t)
	dir := t.TempDir()
	if err := hosttest.Layout(dir, hosttest.Mac15(), bin); err != nil {
		t.Fatal(err)
	}
	root, err := host.NewRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pf.New(pf.Config{Runner: host.ExecRunner{Root: root}, Root: root, StateDir: stateDir, Chunk: 1000})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var want []block.Ban
	for i := range 2500 {
		want = append(want, block.Ban{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 32)})
	}
	want = append(want, bans("2001:db8::/64", "198.51.100.0/24")...)
	if res, err := b.Sync(ctx, want, now); err != nil || res.Added != len(want) {
		t.Fatalf("Sync = %+v, %v; want %d added", res, err, len(want))
	}
	// Apply names its addresses on the stand-in's command line.
	gone := netip.MustParsePrefix("10.1.0.0/32")
	if res, err := b.Apply(ctx, bans("203.0.113.0/24", "2001:db8::5/128"), []netip.Prefix{gone}, now); err != nil || res != (block.SyncResult{Added: 1, Removed: 1, Kept: 1}) {
		t.Fatalf("Apply = %+v, %v; want 1 added, 1 removed, 1 kept (inside 2001:db8::/64)", res, err)
	}
	want = append(slices.DeleteFunc(want, func(b block.Ban) bool { return b.Prefix == gone }), bans("203.0.113.0/24")...)
	if err := b.SetEnabled(ctx, true); err != nil {
		t.Fatal(err)
	}
	if st, err := b.Status(ctx); err != nil || st != (block.Status{Enabled: true, Entries: len(want)}) {
		t.Errorf("Status = %+v, %v; want enabled with %d entries", st, err, len(want))
	}
	if err := b.SetEnabled(ctx, false); err != nil {
		t.Fatal(err)
	}
	st, err := hosttest.LoadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(st.PF.Anchors[pf.DefaultAnchor].Tables[pf.DefaultTable]); got != len(want) {
		t.Errorf("the fake Mac's table holds %d entries, want %d", got, len(want))
	}
	if st.PF.Running || len(st.PF.Tokens) != 0 || len(st.PF.Forbidden) != 0 {
		t.Errorf("pf after disabling: running %v, tokens %q, forbidden %q; want off, none, none", st.PF.Running, st.PF.Tokens, st.PF.Forbidden)
	}
}
