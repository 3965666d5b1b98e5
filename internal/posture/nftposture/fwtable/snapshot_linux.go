//go:build linux

package fwtable

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/firewarden/firewarden/internal/nlbatch"
)

// nfgen is the nfgenmsg header of a message about the inet family.
var nfgen = []byte{unix.NFPROTO_INET, unix.NFNETLINK_V0, 0, 0}

func rawConn(netnsFd int) (*netlink.Conn, error) {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: netnsFd})
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	if err := raiseBuffers(c); err != nil {
		c.Close()
		return nil, fmt.Errorf("nftables: %w", err)
	}
	return c, nil
}

// request sends a get request of type typ with attributes as, a dump when dump is set, and
// returns the attributes of each reply about the inet family.
func request(c *netlink.Conn, typ uint16, dump bool, as ...netlink.Attribute) ([][]byte, error) {
	b, err := netlink.MarshalAttributes(as)
	if err != nil {
		return nil, err
	}
	flags := netlink.Request
	if dump {
		flags |= netlink.Dump
	}
	msgs, err := c.Execute(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | typ), Flags: flags},
		Data:   append(slices.Clone(nfgen), b...),
	})
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, m := range msgs {
		if len(m.Data) < len(nfgen) || m.Data[0] != unix.NFPROTO_INET {
			continue
		}
		out = append(out, m.Data[len(nfgen):])
	}
	return out, nil
}

func strAttr(typ uint16, s string) netlink.Attribute {
	return netlink.Attribute{Type: typ, Data: append([]byte(s), 0)}
}

// generation returns the ruleset's generation, which every committed transaction changes.
func generation(c *netlink.Conn) (uint32, error) {
	msgs, err := c.Execute(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETGEN), Flags: netlink.Request},
		Data:   slices.Clone(nfgen),
	})
	if err != nil {
		return 0, err
	}
	for _, m := range msgs {
		if len(m.Data) < len(nfgen) {
			continue
		}
		as, err := attrs(m.Data[len(nfgen):])
		if err != nil {
			return 0, err
		}
		for _, a := range as {
			if a.typ == unix.NFTA_GEN_ID && len(a.data) == 4 {
				return binary.BigEndian.Uint32(a.data), nil
			}
		}
	}
	return 0, errors.New("no generation in the kernel's answer")
}

// Take snapshots table inet firewarden_posture in namespace netnsFd (0: the current one): Absent,
// or every object of the table as the kernel dumps it (see the encoding in snapshot.go). The
// table is read in several dumps; when a transaction commits between them Take reads again, so
// the snapshot is of one moment.
func Take(netnsFd int) (Snapshot, error) {
	c, err := rawConn(netnsFd)
	if err != nil {
		return Snapshot{}, err
	}
	defer c.Close()
	for range 5 {
		before, err := generation(c)
		if err != nil {
			return Snapshot{}, fmt.Errorf("nftables: read the ruleset generation: %w", err)
		}
		s, err := take(c)
		if err != nil {
			return Snapshot{}, fmt.Errorf("nftables: snapshot table inet %s: %w", Table, err)
		}
		after, err := generation(c)
		if err != nil {
			return Snapshot{}, fmt.Errorf("nftables: read the ruleset generation: %w", err)
		}
		if before == after {
			return s, nil
		}
	}
	return Snapshot{}, fmt.Errorf("nftables: snapshot table inet %s: the ruleset kept changing while it was read", Table)
}

func take(c *netlink.Conn) (Snapshot, error) {
	tables, err := request(c, unix.NFT_MSG_GETTABLE, false, strAttr(unix.NFTA_TABLE_NAME, Table))
	if errors.Is(err, unix.ENOENT) {
		return Snapshot{Absent: true}, nil
	}
	if err != nil {
		return Snapshot{}, err
	}
	if len(tables) != 1 {
		return Snapshot{}, fmt.Errorf("%d answers for one table", len(tables))
	}
	var objs []object
	add := func(kind string, b []byte) error {
		as, err := attrs(b)
		if err != nil {
			return fmt.Errorf("the kernel's %s: %w", kind, err)
		}
		if tbl, _ := stringAttr(as, 1); tbl != Table {
			return nil // dumps of other tables, from kernels that do not filter them
		}
		clean, err := cleanAttrs(kind, b)
		if err != nil {
			return err
		}
		objs = append(objs, object{Kind: kind, Attrs: clean})
		return nil
	}
	if err := add("table", tables[0]); err != nil {
		return Snapshot{}, err
	}
	type setInfo struct {
		name     string
		interval bool
	}
	var sets []setInfo
	for _, d := range []struct {
		kind string
		typ  uint16
	}{
		{"obj", unix.NFT_MSG_GETOBJ},
		{"flowtable", unix.NFT_MSG_GETFLOWTABLE},
		{"chain", unix.NFT_MSG_GETCHAIN},
		{"set", unix.NFT_MSG_GETSET},
	} {
		// Attribute 1 is the table in each of these requests; the kernel dumps only its
		// objects.
		msgs, err := request(c, d.typ, true, strAttr(1, Table))
		if err != nil {
			return Snapshot{}, fmt.Errorf("dump %ss: %w", d.kind, err)
		}
		for _, m := range msgs {
			n := len(objs)
			if err := add(d.kind, m); err != nil {
				return Snapshot{}, err
			}
			if d.kind == "set" && len(objs) > n {
				as, _ := attrs(objs[n].Attrs)
				name, _ := stringAttr(as, unix.NFTA_SET_NAME)
				sets = append(sets, setInfo{name, isInterval(objs[n].Attrs)})
			}
		}
	}
	for _, set := range sets {
		msgs, err := request(c, unix.NFT_MSG_GETSETELEM, true,
			strAttr(unix.NFTA_SET_ELEM_LIST_TABLE, Table), strAttr(unix.NFTA_SET_ELEM_LIST_SET, set.name))
		if err != nil {
			return Snapshot{}, fmt.Errorf("dump the elements of set %s: %w", set.name, err)
		}
		msgs = slices.DeleteFunc(msgs, func(m []byte) bool { return !hasElements(m) })
		if !set.interval {
			if msgs, err = sortElems(msgs); err != nil {
				return Snapshot{}, fmt.Errorf("the elements of set %s: %w", set.name, err)
			}
		}
		for _, m := range msgs {
			if err := add("setelem", m); err != nil {
				return Snapshot{}, err
			}
		}
	}
	rules, err := request(c, unix.NFT_MSG_GETRULE, true, strAttr(unix.NFTA_RULE_TABLE, Table))
	if err != nil {
		return Snapshot{}, fmt.Errorf("dump rules: %w", err)
	}
	n := len(objs)
	for _, m := range rules {
		if err := add("rule", m); err != nil {
			return Snapshot{}, err
		}
	}
	bindingFirst(objs[:n], objs[n:])
	data, err := encodeSnapshot(objs)
	if err != nil {
		return Snapshot{}, err
	}
	return Snapshot{Data: data}, nil
}

// hasElements reports whether a set element message holds any element: the kernel answers
// the dump of an empty set with a message of none, which the kernel would refuse to add.
func hasElements(b []byte) bool {
	as, err := attrs(b)
	if err != nil {
		return true // add reports it
	}
	for _, a := range as {
		if a.typ == unix.NFTA_SET_ELEM_LIST_ELEMENTS {
			return len(a.data) > 0
		}
	}
	return false
}

// Restore puts table inet firewarden_posture in namespace netnsFd (0: the current one) back as
// snapshot s holds it, in one atomic transaction: when s is Absent the table is deleted,
// otherwise it is deleted and made again from s. A snapshot that does not decode is refused
// with an error wrapping ErrBadSnapshot before anything is sent; one the kernel refuses changes
// nothing.
func Restore(netnsFd int, s Snapshot) error {
	var objs []object
	if !s.Absent {
		var err error
		if objs, err = decodeSnapshot(s.Data); err != nil {
			return err
		}
	}
	msgs := restoreBatch(objs)
	c, err := rawConn(netnsFd)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := sendBatch(c, msgs); err != nil {
		return fmt.Errorf("nftables: restore table inet %s: %w", Table, err)
	}
	return nil
}

// restoreBatch returns the messages of Restore's transaction: the table added (so that the
// delete finds it) and deleted, then objs made.
func restoreBatch(objs []object) []netlink.Message {
	name, _ := netlink.MarshalAttributes([]netlink.Attribute{strAttr(unix.NFTA_TABLE_NAME, Table)})
	msg := func(typ uint16, flags netlink.HeaderFlags, attrs []byte) netlink.Message {
		return netlink.Message{
			Header: netlink.Header{
				Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | typ),
				Flags: netlink.Request | netlink.Acknowledge | flags,
			},
			Data: append(slices.Clone(nfgen), attrs...),
		}
	}
	msgs := []netlink.Message{
		msg(msgNewTable, netlink.Create, name),
		msg(msgDelTable, 0, name),
	}
	for i, o := range objs {
		flags, as := netlink.Create, o.Attrs
		switch o.Kind {
		case "rule":
			flags |= netlink.Append
		case "set":
			// The kernel refuses a new set without an ID of the transaction's own (it lets
			// later messages name the set before it has a handle); the index will do.
			id, _ := netlink.MarshalAttributes([]netlink.Attribute{
				{Type: unix.NFTA_SET_ID, Data: binary.BigEndian.AppendUint32(nil, uint32(i+1))}})
			as = append(slices.Clip(as), id...)
		}
		msgs = append(msgs, msg(newMsg[o.Kind], flags, as))
	}
	return msgs
}

// sendBatch sends msgs as one transaction and returns the kernel's verdict: the first error it
// reports, or nil when it acknowledges the last message. The kernel commits all of the
// messages or, if it refuses any, none. It runs the transaction within the send, so its
// answers are waiting when the send returns: they are read without blocking, so that a kernel
// that answered nothing would be an error, never a hang.
func sendBatch(c *netlink.Conn, msgs []netlink.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	begin := netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_MSG_BATCH_BEGIN), Flags: netlink.Request},
		Data:   []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, unix.NFNL_SUBSYS_NFTABLES},
	}
	end := begin
	end.Header.Type = netlink.HeaderType(unix.NFNL_MSG_BATCH_END)
	all := append(append([]netlink.Message{begin}, msgs...), end)
	for i := range all {
		all[i].Header.Flags &^= netlink.Acknowledge
	}
	all[len(all)-2].Header.Flags |= netlink.Acknowledge
	sent, err := c.SendMessages(all)
	if err != nil {
		return err
	}
	firstSeq, ackSeq := sent[1].Header.Sequence, sent[len(sent)-2].Header.Sequence
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	return nlbatch.AwaitAck(rc, make([]byte, 1<<16), firstSeq, ackSeq)
}
