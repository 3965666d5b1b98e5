//go:build linux

package fwtable

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"github.com/firewarden/firewarden/internal/netnstest"
)

// FuzzRestore replays damaged snapshots into a namespace holding firewarden's table and
// another table: Restore either succeeds or leaves firewarden's table as it was, and never
// touches the other table.
func FuzzRestore(f *testing.F) {
	fd := netnstest.New(f, hint)
	if err := Write(fd, specs[2].s); err != nil {
		f.Fatal(err)
	}
	snap, err := Take(fd)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(snap.Data)
	for _, tc := range decodeCases {
		f.Add(tc.bytes(f))
	}
	// The other table, which no snapshot may change.
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		f.Fatal(err)
	}
	other := c.AddTable(&nftables.Table{Name: "other", Family: nftables.TableFamilyINet})
	ch := c.AddChain(&nftables.Chain{Name: "c", Table: other})
	c.AddRule(&nftables.Rule{Table: other, Chain: ch, Exprs: []expr.Any{&expr.Counter{}}})
	if err := c.Flush(); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := Write(fd, specs[1].s); err != nil {
			t.Fatal(err)
		}
		if err := Restore(fd, Snapshot{Data: data}); err != nil {
			got, present, exact, err := Current(fd)
			if err != nil || !present || !exact {
				t.Fatalf("Current after a refused Restore = present %v, exact %v, %v; want the table before", present, exact, err)
			}
			if diff := cmp.Diff(specs[1].s, got, equateAddrs, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("Current after a refused Restore (-want +got):\n%s", diff)
			}
		} else if _, err := Take(fd); err != nil {
			t.Fatalf("Take after Restore: %v", err)
		}
		rs, err := c.GetRules(other, ch)
		if err != nil || len(rs) != 1 {
			t.Fatalf("the other table's chain after Restore: %d rules, %v; want its one rule", len(rs), err)
		}
	})
}
