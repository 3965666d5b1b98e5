// Package nlbatch holds what the two writers of nftables transactions (the block backend and the
// posture table) share about a netlink socket: socket buffers big enough for one large
// transaction, and waiting for the kernel's verdict on a batch without ever blocking.
package nlbatch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// RaiseBuffers makes c's send and receive buffers size bytes: beyond the system's maximum with
// CAP_NET_ADMIN, or as far as the system allows without it. The default (212,992 bytes) makes a
// large batch fail with "message too long".
func RaiseBuffers(c *netlink.Conn, size int) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, size)
		if serr == nil {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size)
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		_ = c.SetWriteBuffer(size)
		_ = c.SetReadBuffer(size)
	}
	return nil
}

// AwaitAck reads the kernel's answers to a batch whose messages carry sequence numbers firstSeq
// to ackSeq (the one that asked for an acknowledgement), into buf, and returns the first error
// the kernel reported, or nil at the acknowledgement. The kernel runs a batch within sendmsg, so
// its answers are queued already: reads never wait, and a kernel that answered nothing is an
// error, never a hang.
func AwaitAck(rc syscall.RawConn, buf []byte, firstSeq, ackSeq uint32) error {
	var first error
	for {
		var n int
		var rerr error
		if err := rc.Read(func(fd uintptr) bool {
			n, _, rerr = unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT)
			return true
		}); err != nil {
			return err
		}
		if errors.Is(rerr, unix.EAGAIN) {
			if first != nil {
				return first
			}
			return errors.New("the kernel did not acknowledge the batch")
		}
		if rerr != nil {
			return fmt.Errorf("recvmsg: %w", rerr)
		}
		for m := buf[:n]; len(m) >= unix.NLMSG_HDRLEN; {
			l := int(binary.NativeEndian.Uint32(m[0:4]))
			if l < unix.NLMSG_HDRLEN || l > len(m) {
				return errors.New("malformed netlink reply")
			}
			typ := binary.NativeEndian.Uint16(m[4:6])
			seq := binary.NativeEndian.Uint32(m[8:12])
			body := m[unix.NLMSG_HDRLEN:l]
			m = m[min((l+unix.NLMSG_ALIGNTO-1)&^(unix.NLMSG_ALIGNTO-1), len(m)):]
			if typ != unix.NLMSG_ERROR || len(body) < 4 || seq < firstSeq || seq > ackSeq {
				continue
			}
			if code := int32(binary.NativeEndian.Uint32(body)); code != 0 && first == nil {
				first = syscall.Errno(-code)
			}
			if seq == ackSeq {
				return first
			}
		}
	}
}
