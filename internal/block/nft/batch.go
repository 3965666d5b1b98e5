//go:build linux

package nft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/firewarden/firewarden/internal/nlbatch"
)

// txn encodes one nftables transaction of set element changes as netlink messages, the way
// google/nftables does, without its per-element allocations (two thirds of the time of a
// 100 000-ban Sync went to them; docs/benchmarks.md). Only the last message asks for an
// acknowledgement: the kernel runs a batch within the sendmsg call and reports the failing
// messages, then acknowledges the last one.
type txn struct {
	buf      []byte
	seq      uint32
	firstSeq uint32
	lastMsg  int // offset of the last element message, to flag it for an ack
	elems    int // elements in the transaction
	msg      int // offset of the open message, -1 when none
	list     int // offset of its element list attribute
	n        int // elements in the open message
	table    string
}

// bytesPerElem bounds the bytes an element takes in a batch: an IPv6 start element with its
// timeout takes 40, an end element 36, and each message of up to elemsPerMsg elements adds
// about 60.
const bytesPerElem = 48

// smallTxn is the largest transaction buffer a Backend keeps for the next one: Apply's
// transactions of a few elements then allocate nothing, and a 100 000-ban Sync's 10 MB is not
// held on to.
const smallTxn = 1 << 14

// newTxn starts a transaction in buf (its contents are overwritten; nil is fine).
func newTxn(table string, seq uint32, buf []byte) *txn {
	t := &txn{buf: buf[:0], table: table, seq: seq, firstSeq: seq, msg: -1, lastMsg: -1}
	t.header(unix.NFNL_MSG_BATCH_BEGIN, unix.NLM_F_REQUEST, unix.AF_UNSPEC, unix.NFNL_SUBSYS_NFTABLES)
	t.patchMsg(0)
	return t
}

// header appends a netlink header and an nfgenmsg; the length is patched by patchMsg.
func (t *txn) header(typ uint16, flags uint16, family uint8, resID uint16) {
	t.buf = binary.NativeEndian.AppendUint32(t.buf, 0)
	t.buf = binary.NativeEndian.AppendUint16(t.buf, typ)
	t.buf = binary.NativeEndian.AppendUint16(t.buf, flags)
	t.buf = binary.NativeEndian.AppendUint32(t.buf, t.seq)
	t.buf = binary.NativeEndian.AppendUint32(t.buf, 0)
	t.buf = append(t.buf, family, unix.NFNETLINK_V0)
	t.buf = binary.BigEndian.AppendUint16(t.buf, resID)
	t.seq++
}

func (t *txn) patchMsg(off int) {
	binary.NativeEndian.PutUint32(t.buf[off:], uint32(len(t.buf)-off))
}

// attr appends an attribute header and returns its offset for patchAttr.
func (t *txn) attr(typ uint16) int {
	off := len(t.buf)
	t.buf = binary.NativeEndian.AppendUint16(t.buf, 0)
	t.buf = binary.NativeEndian.AppendUint16(t.buf, typ)
	return off
}

// patchAttr sets the length of the attribute at off and pads it.
func (t *txn) patchAttr(off int) {
	binary.NativeEndian.PutUint16(t.buf[off:], uint16(len(t.buf)-off))
	for len(t.buf)%unix.NLA_ALIGNTO != 0 {
		t.buf = append(t.buf, 0)
	}
}

func (t *txn) bytesAttr(typ uint16, b []byte) {
	off := t.attr(typ)
	t.buf = append(t.buf, b...)
	t.patchAttr(off)
}

// stringAttr appends a NUL-terminated string attribute.
func (t *txn) stringAttr(typ uint16, s string) {
	off := t.attr(typ)
	t.buf = append(t.buf, s...)
	t.buf = append(t.buf, 0)
	t.patchAttr(off)
}

// open starts a message changing the elements of set; del for deletion.
func (t *txn) open(set string, del bool) {
	typ, flags := uint16(unix.NFT_MSG_NEWSETELEM), uint16(unix.NLM_F_REQUEST|unix.NLM_F_CREATE)
	if del {
		typ, flags = unix.NFT_MSG_DELSETELEM, unix.NLM_F_REQUEST
	}
	t.msg = len(t.buf)
	t.header(unix.NFNL_SUBSYS_NFTABLES<<8|typ, flags, unix.NFPROTO_INET, 0)
	t.stringAttr(unix.NFTA_SET_ELEM_LIST_TABLE, t.table)
	t.stringAttr(unix.NFTA_SET_ELEM_LIST_SET, set)
	t.list = t.attr(unix.NFTA_SET_ELEM_LIST_ELEMENTS | unix.NLA_F_NESTED)
	t.n = 0
}

// close ends the open message, if any.
func (t *txn) close() {
	if t.msg < 0 {
		return
	}
	t.patchAttr(t.list)
	t.patchMsg(t.msg)
	t.lastMsg, t.msg = t.msg, -1
}

// elem appends one element to the open message: key, the interval end flag, the timeout.
func (t *txn) elem(key []byte, end bool, timeoutMs int64) {
	e := t.attr(unix.NFTA_LIST_ELEM | unix.NLA_F_NESTED)
	if end {
		t.bytesAttr(unix.NFTA_SET_ELEM_FLAGS, binary.BigEndian.AppendUint32(nil, unix.NFT_SET_ELEM_INTERVAL_END))
	}
	k := t.attr(unix.NFTA_SET_ELEM_KEY | unix.NLA_F_NESTED)
	t.bytesAttr(unix.NFTA_DATA_VALUE, key)
	t.patchAttr(k)
	if timeoutMs > 0 {
		t.bytesAttr(unix.NFTA_SET_ELEM_TIMEOUT, binary.BigEndian.AppendUint64(nil, uint64(timeoutMs)))
	}
	t.patchAttr(e)
	t.n++
	t.elems++
}

// prefix appends the elements of p (see appendElems).
func (t *txn) prefix(p netip.Prefix, timeoutMs int64) {
	var k [16]byte
	a := p.Addr()
	key := k[:a.BitLen()/8]
	if a.Is4() {
		a4 := a.As4()
		copy(key, a4[:])
	} else {
		k = a.As16()
	}
	t.elem(key, false, timeoutMs)
	if p.IsSingleIP() {
		return
	}
	if next := lastAddr(p).Next(); next.IsValid() {
		var nk [16]byte
		nkey := nk[:next.BitLen()/8]
		if next.Is4() {
			n4 := next.As4()
			copy(nkey, n4[:])
		} else {
			nk = next.As16()
		}
		t.elem(nkey, true, 0)
	}
}

// finish flags the last element message for an acknowledgement, appends the batch end and
// returns the bytes and the sequence number of the acknowledgement.
func (t *txn) finish() ([]byte, uint32) {
	t.close()
	var ackSeq uint32
	if t.lastMsg >= 0 {
		flags := binary.NativeEndian.Uint16(t.buf[t.lastMsg+6:])
		binary.NativeEndian.PutUint16(t.buf[t.lastMsg+6:], flags|unix.NLM_F_ACK)
		ackSeq = binary.NativeEndian.Uint32(t.buf[t.lastMsg+8:])
	}
	end := len(t.buf)
	t.header(unix.NFNL_MSG_BATCH_END, unix.NLM_F_REQUEST, unix.AF_UNSPEC, unix.NFNL_SUBSYS_NFTABLES)
	t.patchMsg(end)
	return t.buf, ackSeq
}

// send sends a finished transaction over the Backend's own socket and waits for its outcome:
// the first error the kernel reports, or its acknowledgement of the last message.
func (b *Backend) send(buf []byte, firstSeq, ackSeq uint32) error {
	c, err := b.rawConn()
	if err != nil {
		return err
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		return !errors.Is(serr, unix.EAGAIN)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("sendmsg: %w", serr)
	}
	// The kernel ran the batch within sendmsg: its replies are queued already.
	if b.rbuf == nil {
		b.rbuf = make([]byte, dumpBuf)
	}
	return nlbatch.AwaitAck(rc, b.rbuf, firstSeq, ackSeq)
}

// rawConn returns the Backend's own netlink socket, opening it on first use.
func (b *Backend) rawConn() (*netlink.Conn, error) {
	if b.dumpConn == nil {
		c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: b.netns})
		if err != nil {
			return nil, err
		}
		if err := raiseBuffers(c); err != nil {
			c.Close()
			return nil, err
		}
		// A batch must fit the send buffer, or sendmsg fails with EMSGSIZE: without
		// CAP_NET_ADMIN to raise it, big changes take several transactions.
		b.batchCap = b.maxBatch
		if rc, err := c.SyscallConn(); err == nil {
			_ = rc.Control(func(fd uintptr) {
				if n, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF); err == nil {
					b.batchCap = max(min(b.maxBatch, (n-4096)/bytesPerElem), 1)
				}
			})
		}
		b.dumpConn = c
	}
	return b.dumpConn, nil
}
