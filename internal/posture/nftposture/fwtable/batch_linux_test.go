//go:build linux

package fwtable

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// batchOf returns the netlink message types Write's transaction for s sends, without a kernel.
func batchOf(t *testing.T, s Spec) []string {
	t.Helper()
	var types []string
	c, err := nftables.New(nftables.WithTestDial(func(req []netlink.Message) ([]netlink.Message, error) {
		for _, m := range req {
			types = append(types, msgName(m.Header.Type))
		}
		return req, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	s, err = s.validate()
	if err != nil {
		t.Fatal(err)
	}
	queueWrite(c, s)
	if err := c.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	return types
}

func msgName(typ netlink.HeaderType) string {
	switch uint16(typ) {
	case unix.NFNL_MSG_BATCH_BEGIN:
		return "begin"
	case unix.NFNL_MSG_BATCH_END:
		return "end"
	}
	switch uint16(typ) &^ (unix.NFNL_SUBSYS_NFTABLES << 8) {
	case unix.NFT_MSG_NEWTABLE:
		return "newtable"
	case unix.NFT_MSG_DELTABLE:
		return "deltable"
	case unix.NFT_MSG_NEWCHAIN:
		return "newchain"
	case unix.NFT_MSG_NEWRULE:
		return "newrule"
	case unix.NFT_MSG_NEWSET:
		return "newset"
	}
	return "other"
}

// TestWriteBatch checks that Write replaces the table in one transaction: the table is added,
// deleted and made again with its chain and rules between one batch begin and end.
func TestWriteBatch(t *testing.T) {
	fixed := 3 + len(icmp6Rules) + 1 // established, invalid, loopback, ICMPv6, drop
	for _, tc := range []struct {
		name  string
		s     Spec
		rules int
	}{
		{"empty", Spec{}, fixed},
		{"echo and log", Spec{ICMPEcho: true, Log: true}, fixed + 3},
		{"reject", Spec{Reject: true}, fixed + 1},
		{"services", Spec{
			Allowed: []Service{
				{Proto: "tcp", From: 22, To: 22},
				{Proto: "udp", From: 60000, To: 61000, Sources: []netip.Prefix{
					netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}},
			},
			Keep: []Keep{{Source: netip.MustParseAddr("192.0.2.1"), Proto: "tcp", Port: 22}},
		}, fixed + 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := []string{"begin", "newtable", "deltable", "newtable", "newchain"}
			for range tc.rules {
				want = append(want, "newrule")
			}
			want = append(want, "end")
			if diff := cmp.Diff(want, batchOf(t, tc.s)); diff != "" {
				t.Errorf("Write(%+v) batch (-want +got):\n%s", tc.s, diff)
			}
		})
	}
}
