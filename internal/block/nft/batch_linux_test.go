//go:build linux

package nft

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// TestTxnRoundTrip encodes a transaction and decodes it with the dump parser's attribute
// reader: the batch frame, one message per set and the elements with their flags and timeouts.
func TestTxnRoundTrip(t *testing.T) {
	tx := newTxn("firewarden", 100, nil)
	tx.open("host4_0", false)
	tx.prefix(netip.MustParsePrefix("192.0.2.1/32"), 60000)
	tx.close()
	tx.open("net6", true)
	tx.prefix(netip.MustParsePrefix("2001:db8::/64"), 0)
	tx.prefix(netip.MustParsePrefix("ffff::/16"), 0) // reaches the last address: no end
	buf, ack := tx.finish()
	if ack != 102 {
		t.Errorf("ack sequence = %d, want 102 (begin 100, two messages)", ack)
	}

	type msg struct {
		Type  uint16
		Flags uint16
		Seq   uint32
		Set   string
		Elems []nftables.SetElement
	}
	var got []msg
	for m := buf; len(m) >= unix.NLMSG_HDRLEN; {
		l := int(binary.NativeEndian.Uint32(m))
		g := msg{Type: binary.NativeEndian.Uint16(m[4:]), Flags: binary.NativeEndian.Uint16(m[6:]), Seq: binary.NativeEndian.Uint32(m[8:])}
		if g.Type>>8 == unix.NFNL_SUBSYS_NFTABLES {
			for typ, v := range attrs(m[unix.NLMSG_HDRLEN+4 : l]) {
				switch typ {
				case unix.NFTA_SET_ELEM_LIST_SET:
					g.Set = string(v[:len(v)-1])
				case unix.NFTA_SET_ELEM_LIST_ELEMENTS:
					for _, e := range attrs(v) {
						var arena []byte
						g.Elems = append(g.Elems, parseElem(e, &arena))
					}
				}
			}
		}
		got = append(got, g)
		m = m[nlmsgAlign(l):]
	}
	key := func(s string) []byte { return netip.MustParseAddr(s).AsSlice() }
	newElem := uint16(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWSETELEM)
	delElem := uint16(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_DELSETELEM)
	want := []msg{
		{Type: unix.NFNL_MSG_BATCH_BEGIN, Flags: unix.NLM_F_REQUEST, Seq: 100},
		{Type: newElem, Flags: unix.NLM_F_REQUEST | unix.NLM_F_CREATE, Seq: 101, Set: "host4_0",
			Elems: []nftables.SetElement{{Key: key("192.0.2.1"), Timeout: time.Minute}}},
		{Type: delElem, Flags: unix.NLM_F_REQUEST | unix.NLM_F_ACK, Seq: 102, Set: "net6",
			Elems: []nftables.SetElement{{Key: key("2001:db8::")}, {Key: key("2001:db8:0:1::"), IntervalEnd: true}, {Key: key("ffff::")}}},
		{Type: unix.NFNL_MSG_BATCH_END, Flags: unix.NLM_F_REQUEST, Seq: 103},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("transaction (-want +got):\n%s", diff)
	}
}
