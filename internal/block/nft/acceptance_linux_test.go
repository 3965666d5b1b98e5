//go:build linux

package nft

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/google/nftables"

	"github.com/firewarden/firewarden/internal/block"
	"github.com/firewarden/firewarden/internal/block/blocktest"
)

func TestAcceptance(t *testing.T) {
	t.Parallel()
	blocktest.Run(t, func(t *testing.T) block.Backend {
		fd := newNetNS(t)
		return &testBackend{Backend: newBackend(t, fd, Options{}), fd: fd}
	})
}

// testBackend adds blocktest's test hooks to a Backend, working over a netlink connection of
// their own as an administrator would.
type testBackend struct {
	*Backend
	fd int
}

func (b *testBackend) conn() (*nftables.Conn, error) {
	return nftables.New(nftables.WithNetNSFd(b.fd))
}

// Held implements blocktest.Lister.
func (b *testBackend) Held(context.Context) ([]netip.Prefix, error) {
	c, err := b.conn()
	if err != nil {
		return nil, err
	}
	other := &Backend{conn: c, table: b.table, sets: b.sets, netns: b.fd}
	defer other.Close()
	view, strays, err := other.readView(time.Now())
	if err != nil {
		return nil, err
	}
	var ps []netip.Prefix
	for _, els := range strays {
		for _, s := range els {
			if !s.IntervalEnd {
				a, _ := netip.AddrFromSlice(s.Key)
				ps = append(ps, netip.PrefixFrom(a, a.BitLen())) // foreign: shows up as extra
			}
		}
	}
	for k := range view {
		ps = append(ps, k.prefix())
	}
	return ps, nil
}

// Drift implements blocktest.Drifter.
func (b *testBackend) Drift(_ context.Context, add, remove []netip.Prefix) error {
	c, err := b.conn()
	if err != nil {
		return err
	}
	for _, op := range []struct {
		ps []netip.Prefix
		fn func(*nftables.Set, []nftables.SetElement) error
	}{{remove, c.SetDeleteElements}, {add, c.SetAddElements}} {
		for _, p := range op.ps {
			s := b.sets[setOf(p)]
			if err := op.fn(s, appendElems(nil, p, 0)); err != nil {
				return err
			}
		}
	}
	return c.Flush()
}

var (
	_ blocktest.Lister  = (*testBackend)(nil)
	_ blocktest.Drifter = (*testBackend)(nil)
)
