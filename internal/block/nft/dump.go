//go:build linux

package nft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// dumpBuf is the receive buffer of a set dump. The kernel sizes each part of a dump after the
// largest read so far, up to 32 kB: google/nftables v0.3.0 reads a page at a time, so a dump of
// 100 000 elements came in some 2000 parts, and the kernel walks the set from its start for
// each part (reading 100 000 bans took 4 s; with 32 kB parts, see docs/benchmarks.md).
const dumpBuf = 1 << 16

// dumpSet returns the elements of set s, as GetSetElements does, reading the dump with a large
// buffer over the Backend's own netlink socket, opened on first use.
func (b *Backend) dumpSet(s *nftables.Set) ([]nftables.SetElement, error) {
	c, err := b.rawConn()
	if err != nil {
		return nil, err
	}
	attrs, err := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_SET_ELEM_LIST_TABLE, Data: append([]byte(s.Table.Name), 0)},
		{Type: unix.NFTA_SET_ELEM_LIST_SET, Data: append([]byte(s.Name), 0)},
	})
	if err != nil {
		return nil, err
	}
	req, err := c.Send(netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETSETELEM),
			Flags: netlink.Request | netlink.Dump,
		},
		Data: append([]byte{unix.NFPROTO_INET, unix.NFNETLINK_V0, 0, 0}, attrs...),
	})
	if err != nil {
		return nil, err
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, dumpBuf)
	var els []nftables.SetElement
	var arena []byte // the keys, allocated in blocks rather than one by one
	for {
		var n int
		var rerr error
		if err := rc.Read(func(fd uintptr) bool {
			n, _, rerr = unix.Recvfrom(int(fd), buf, 0)
			return !errors.Is(rerr, unix.EAGAIN)
		}); err != nil {
			return nil, err
		}
		if rerr != nil {
			return nil, rerr
		}
		done, err := parseDump(buf[:n], req.Header.Sequence, &els, &arena)
		if err != nil || done {
			return els, err
		}
	}
}

// parseDump appends the set elements in one read of a GETSETELEM dump to els, and reports
// whether the dump is complete. Messages of other sequence numbers are skipped.
func parseDump(b []byte, seq uint32, els *[]nftables.SetElement, arena *[]byte) (done bool, err error) {
	for len(b) >= unix.NLMSG_HDRLEN {
		l := int(binary.NativeEndian.Uint32(b[0:4]))
		typ := binary.NativeEndian.Uint16(b[4:6])
		mseq := binary.NativeEndian.Uint32(b[8:12])
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			return false, fmt.Errorf("malformed netlink message")
		}
		body := b[unix.NLMSG_HDRLEN:l]
		b = b[min(nlmsgAlign(l), len(b)):]
		if mseq != seq {
			continue
		}
		switch typ {
		case unix.NLMSG_DONE:
			return true, nil
		case unix.NLMSG_ERROR:
			if len(body) < 4 {
				return false, fmt.Errorf("malformed netlink error")
			}
			if code := int32(binary.NativeEndian.Uint32(body)); code != 0 {
				return false, syscall.Errno(-code)
			}
			return true, nil
		}
		if len(body) < 4 {
			continue
		}
		for typ, list := range attrs(body[4:]) {
			if typ != unix.NFTA_SET_ELEM_LIST_ELEMENTS {
				continue
			}
			for _, elem := range attrs(list) {
				*els = append(*els, parseElem(elem, arena))
			}
		}
	}
	return false, nil
}

// parseElem decodes the attributes of one set element that firewarden uses; its key is
// copied to the end of arena.
func parseElem(b []byte, arena *[]byte) nftables.SetElement {
	var e nftables.SetElement
	for typ, v := range attrs(b) {
		switch typ {
		case unix.NFTA_SET_ELEM_KEY:
			for t, key := range attrs(v) {
				if t == unix.NFTA_DATA_VALUE {
					if cap(*arena)-len(*arena) < len(key) {
						*arena = make([]byte, 0, max(1<<16, len(key)))
					}
					n := len(*arena)
					*arena = append(*arena, key...)
					e.Key = (*arena)[n:len(*arena):len(*arena)]
				}
			}
		case unix.NFTA_SET_ELEM_FLAGS:
			if len(v) == 4 {
				e.IntervalEnd = binary.BigEndian.Uint32(v)&unix.NFT_SET_ELEM_INTERVAL_END != 0
			}
		case unix.NFTA_SET_ELEM_TIMEOUT:
			if len(v) == 8 {
				e.Timeout = time.Duration(binary.BigEndian.Uint64(v)) * time.Millisecond
			}
		case unix.NFTA_SET_ELEM_EXPIRATION:
			if len(v) == 8 {
				e.Expires = time.Duration(binary.BigEndian.Uint64(v)) * time.Millisecond
			}
		}
	}
	return e
}

// attrs iterates over the netlink attributes in b: type (without the nested and byte-order
// flags) and payload. It stops at the first malformed one.
func attrs(b []byte) func(yield func(uint16, []byte) bool) {
	return func(yield func(uint16, []byte) bool) {
		for len(b) >= 4 {
			l := int(binary.NativeEndian.Uint16(b[0:2]))
			typ := binary.NativeEndian.Uint16(b[2:4]) &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
			if l < 4 || l > len(b) {
				return
			}
			if !yield(typ, b[4:l]) {
				return
			}
			b = b[min(nlaAlign(l), len(b)):]
		}
	}
}

func nlmsgAlign(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }
func nlaAlign(n int) int   { return (n + unix.NLA_ALIGNTO - 1) &^ (unix.NLA_ALIGNTO - 1) }
