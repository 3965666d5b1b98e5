//go:build linux

package nft

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/block"
	"github.com/firewarden/firewarden/internal/netnstest"
)

// e2eHint says how to run the end-to-end tests with the privileges they need.
const e2eHint = "run `sudo go test ./internal/block/nft`"

func TestEndToEnd(t *testing.T) {
	t.Parallel()
	p := netnstest.NewPair(t, e2eHint)
	for _, tc := range []struct {
		name       string
		srv        netip.Addr
		ban, other netip.Prefix // other: a ban that does not cover the client
	}{
		{"IPv4", p.Server4, netip.MustParsePrefix("192.0.2.0/30"), netip.MustParsePrefix("192.0.2.4/30")},
		{"IPv6", p.Server6, netip.MustParsePrefix("2001:db8:77::2/128"), netip.MustParsePrefix("2001:db8:77::3/128")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			b := newBackend(t, p.ServerFd, Options{})
			if err := b.SetEnabled(ctx, true); err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			other := []block.Ban{{Prefix: tc.other, Expires: now.Add(time.Hour)}}
			if _, err := b.Sync(ctx, other, now); err != nil {
				t.Fatal(err)
			}
			p.WantOpen(t, tc.srv, "a ban on a neighbour")

			banned := append(other, block.Ban{Prefix: tc.ban, Expires: now.Add(time.Hour)})
			if _, err := b.Sync(ctx, banned, now); err != nil {
				t.Fatal(err)
			}
			p.WantBlocked(t, tc.srv, "banned")

			if err := b.SetEnabled(ctx, false); err != nil {
				t.Fatal(err)
			}
			p.WantOpen(t, tc.srv, "banned but disabled")
			if err := b.SetEnabled(ctx, true); err != nil {
				t.Fatal(err)
			}
			p.WantBlocked(t, tc.srv, "banned and enabled again")

			// The ban expires: firewarden's sweep drops it from want.
			later := now.Add(2 * time.Hour)
			if _, err := b.Sync(ctx, nil, later); err != nil {
				t.Fatal(err)
			}
			p.WantOpen(t, tc.srv, "ban expired")

			// Banned again, then lifted by hand.
			if _, err := b.Sync(ctx, banned, now); err != nil {
				t.Fatal(err)
			}
			p.WantBlocked(t, tc.srv, "banned again")
			if _, err := b.Sync(ctx, other, now); err != nil {
				t.Fatal(err)
			}
			p.WantOpen(t, tc.srv, "ban removed")
			if err := b.SetEnabled(ctx, false); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestEndToEndKernelTimeout(t *testing.T) {
	t.Parallel()
	// The safety net: with firewarden gone, the kernel lifts a ban at its deadline. The
	// deadline is a real one here, so this test waits for it (a second and a bit).
	p := netnstest.NewPair(t, e2eHint)
	ctx := context.Background()
	b := newBackend(t, p.ServerFd, Options{})
	if err := b.SetEnabled(ctx, true); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	want := []block.Ban{{Prefix: netip.PrefixFrom(p.Client4, 32), Expires: now.Add(time.Second)}}
	if _, err := b.Sync(ctx, want, now); err != nil {
		t.Fatal(err)
	}
	p.WantBlocked(t, p.Server4, "banned for a second")
	deadline := time.Now().Add(netnstest.OpenWait)
	for p.Dial(p.Server4, netnstest.BlockedWait) != nil {
		if time.Now().After(deadline) {
			t.Fatal("ban still in force long after its kernel timeout")
		}
	}
	// Banned again after the kernel expired it: its end element is still there.
	now = time.Now()
	want[0].Expires = now.Add(time.Hour)
	if _, err := b.Reconcile(ctx, want, now); err != nil {
		t.Fatal(err)
	}
	p.WantBlocked(t, p.Server4, "banned again")
}
