//go:build linux

package nft

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// dumpMsg encodes one NEWSETELEM message of a dump, as the kernel sends it.
func dumpMsg(t testing.TB, seq uint32, els ...[]netlink.Attribute) []byte {
	t.Helper()
	var list []netlink.Attribute
	for i, e := range els {
		b, err := netlink.MarshalAttributes(e)
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, netlink.Attribute{Type: uint16(i+1) | unix.NLA_F_NESTED, Data: b})
	}
	l, err := netlink.MarshalAttributes(list)
	if err != nil {
		t.Fatal(err)
	}
	body, err := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_SET_ELEM_LIST_TABLE, Data: []byte("firewarden\x00")},
		{Type: unix.NFTA_SET_ELEM_LIST_SET, Data: []byte("net4\x00")},
		{Type: unix.NFTA_SET_ELEM_LIST_ELEMENTS | unix.NLA_F_NESTED, Data: l},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWSETELEM), Sequence: seq},
		Data:   append([]byte{unix.NFPROTO_INET, 0, 0, 0}, body...),
	}
	m.Header.Length = uint32(unix.NLMSG_HDRLEN + len(m.Data))
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func elemAttrs(t testing.TB, key netip.Addr, end bool, timeout, expires time.Duration) []netlink.Attribute {
	t.Helper()
	k, err := netlink.MarshalAttributes([]netlink.Attribute{{Type: unix.NFTA_DATA_VALUE, Data: key.AsSlice()}})
	if err != nil {
		t.Fatal(err)
	}
	as := []netlink.Attribute{{Type: unix.NFTA_SET_ELEM_KEY | unix.NLA_F_NESTED, Data: k}}
	if end {
		as = append(as, netlink.Attribute{Type: unix.NFTA_SET_ELEM_FLAGS, Data: binary.BigEndian.AppendUint32(nil, unix.NFT_SET_ELEM_INTERVAL_END)})
	}
	if timeout != 0 {
		as = append(as,
			netlink.Attribute{Type: unix.NFTA_SET_ELEM_TIMEOUT, Data: binary.BigEndian.AppendUint64(nil, uint64(timeout.Milliseconds()))},
			netlink.Attribute{Type: unix.NFTA_SET_ELEM_EXPIRATION, Data: binary.BigEndian.AppendUint64(nil, uint64(expires.Milliseconds()))})
	}
	return as
}

func doneMsg(seq uint32) []byte {
	b := make([]byte, unix.NLMSG_HDRLEN+4)
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], unix.NLMSG_DONE)
	binary.NativeEndian.PutUint32(b[8:], seq)
	return b
}

func TestParseDump(t *testing.T) {
	msg := dumpMsg(t, 7,
		elemAttrs(t, netip.MustParseAddr("192.0.3.0"), true, 0, 0),
		elemAttrs(t, netip.MustParseAddr("192.0.2.0"), false, time.Hour, 59*time.Minute))
	stale := dumpMsg(t, 6, elemAttrs(t, netip.MustParseAddr("10.0.0.0"), false, 0, 0))
	var els []nftables.SetElement
	var arena []byte
	done, err := parseDump(append(append(stale, msg...), doneMsg(7)...), 7, &els, &arena)
	if err != nil || !done {
		t.Fatalf("parseDump = %v, %v; want true, nil", done, err)
	}
	if len(els) != 2 {
		t.Fatalf("parseDump found %d elements, want 2", len(els))
	}
	view := map[pkey]viewEntry{}
	if strays := parseElems(els, hostShards, epoch, view); len(strays) != 0 {
		t.Errorf("strays: %v", strays)
	}
	want := map[netip.Prefix]int64{netip.MustParsePrefix("192.0.2.0/24"): epoch.Add(59 * time.Minute).UnixMilli()}
	for k, v := range view {
		if p := k.prefix(); want[p] != v.deadline {
			t.Errorf("view[%v].deadline = %d, want %d", p, v.deadline, want[p])
		}
	}
	if len(view) != 1 {
		t.Errorf("view = %v, want %v", view, want)
	}
}

// FuzzParseDump: whatever the kernel sends, parsing does not panic.
func FuzzParseDump(f *testing.F) {
	f.Add(append(dumpMsg(f, 1,
		elemAttrs(f, netip.MustParseAddr("2001:db8::"), false, time.Hour, time.Minute),
		elemAttrs(f, netip.MustParseAddr("2001:db8:0:1::"), true, 0, 0)), doneMsg(1)...))
	f.Add(doneMsg(1))
	f.Fuzz(func(t *testing.T, b []byte) {
		var els []nftables.SetElement
		var arena []byte
		_, _ = parseDump(b, 1, &els, &arena)
		view := map[pkey]viewEntry{}
		for i := range nsets {
			parseElems(els, i, epoch, view)
		}
	})
}
