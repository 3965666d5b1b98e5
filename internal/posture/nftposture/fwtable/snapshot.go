package fwtable

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
)

// A Snapshot's Data is JSON: a version and the table's objects, each the netlink attributes
// the kernel dumped for it (base64 in JSON), in the order Restore replays them: the table,
// stateful objects, flowtables, chains, sets, set elements, rules. Handles, use counts, rule
// positions and the table's owner are left out: they belong to the kernel objects taken, and
// the objects Restore makes get their own. Attributes are in the kernel's byte order, so a
// snapshot is restored on a machine of the same byte order (the host that took it).

// snapshotVersion is the version of the encoding in Snapshot.Data.
const snapshotVersion = 1

// ErrBadSnapshot is wrapped by the errors of Restore for a snapshot it cannot decode; nothing
// is written then.
var ErrBadSnapshot = errors.New("damaged firewall table snapshot")

type snapshotData struct {
	Version int      `json:"version"`
	Objects []object `json:"objects"`
}

// object is one object of the table: its kind and its netlink attributes.
type object struct {
	Kind  string `json:"kind"`
	Attrs []byte `json:"attrs"`
}

// Kinds of objects, in the order Restore replays them: each may refer only to the kinds before
// it (a set's elements jump to chains, a rule looks up sets and objects, offloads to
// flowtables).
var kinds = []string{"table", "obj", "flowtable", "chain", "set", "setelem", "rule"}

// nf_tables message types (linux/netfilter/nf_tables.h): what creates each kind.
const (
	msgNewTable     = 0
	msgDelTable     = 2
	msgNewChain     = 3
	msgNewRule      = 6
	msgNewSet       = 9
	msgNewSetElem   = 12
	msgNewObj       = 18
	msgNewFlowtable = 22
)

var newMsg = map[string]uint16{
	"table": msgNewTable, "obj": msgNewObj, "flowtable": msgNewFlowtable, "chain": msgNewChain,
	"set": msgNewSet, "setelem": msgNewSetElem, "rule": msgNewRule,
}

// Attribute numbers (linux/netfilter/nf_tables.h) that Take drops and Restore refuses: the
// kernel's handles, use counts, positions and IDs, which name the objects that were taken, and
// what the kernel only reports (a set's backend and element count, which Linux 6.18 dumps and
// refuses in a new set).
// The table attribute is 1 in every kind; the name attribute is nameAttr.
var dropAttrs = map[string][]uint16{
	"table":     {3, 4, 5, 7},         // USE, HANDLE, PAD, OWNER
	"chain":     {2, 6, 9, 11},        // HANDLE, USE, PAD, ID
	"set":       {10, 14, 16, 19, 20}, // ID, PAD, HANDLE, TYPE, COUNT
	"setelem":   {4},                  // SET_ID
	"rule":      {3, 6, 8, 9, 10, 11}, // HANDLE, POSITION, PAD, ID, POSITION_ID, CHAIN_ID
	"obj":       {5, 6, 7},            // USE, HANDLE, PAD
	"flowtable": {4, 5, 6},            // USE, HANDLE, PAD
}

// nameAttr is the attribute naming an object of each kind: its own name, or for set elements
// the set and for rules the chain they belong to.
var nameAttr = map[string]uint16{
	"table": 1, "chain": 3, "set": 2, "setelem": 2, "rule": 2, "obj": 2, "flowtable": 2,
}

const (
	tableFlagsAttr = 2
	tableFlagOwner = 0x2 // NFT_TABLE_F_OWNER: the table goes with the socket that made it
	tableFlagKeep  = 0x4 // NFT_TABLE_F_PERSIST: only meaningful with an owner
	nlaTypeMask    = 0x3fff
	nlaNested      = 0x8000
	nlaHeader      = 4
)

// attr is one netlink attribute: its type (flags masked off) and its whole encoding, header and
// padding included.
type attr struct {
	typ  uint16
	data []byte // the payload
	raw  []byte // header, payload, padding
}

// attrs splits b into its attributes, or says what is wrong with it.
func attrs(b []byte) ([]attr, error) {
	var as []attr
	for len(b) > 0 {
		if len(b) < nlaHeader {
			return nil, fmt.Errorf("%d bytes left, too short for an attribute", len(b))
		}
		n := int(binary.NativeEndian.Uint16(b))
		if n < nlaHeader || n > len(b) {
			return nil, fmt.Errorf("attribute length %d, %d bytes left", n, len(b))
		}
		padded := min((n+3)&^3, len(b))
		as = append(as, attr{typ: binary.NativeEndian.Uint16(b[2:]) & nlaTypeMask, data: b[nlaHeader:n], raw: b[:padded]})
		b = b[padded:]
	}
	return as, nil
}

// cleanAttrs returns the attributes b of an object of kind k as a snapshot keeps them: without
// the ones dropAttrs lists, and for the table without the owner flags.
func cleanAttrs(k string, b []byte) ([]byte, error) {
	as, err := attrs(b)
	if err != nil {
		return nil, err
	}
	var out []byte
	for _, a := range as {
		if dropped(k, a.typ) {
			continue
		}
		if k == "table" && a.typ == tableFlagsAttr && len(a.data) == 4 {
			f := binary.BigEndian.Uint32(a.data) &^ (tableFlagOwner | tableFlagKeep)
			out = append(out, a.raw[:nlaHeader]...)
			out = binary.BigEndian.AppendUint32(out, f)
			continue
		}
		out = append(out, a.raw...)
	}
	return out, nil
}

func dropped(k string, typ uint16) bool {
	for _, d := range dropAttrs[k] {
		if d == typ {
			return true
		}
	}
	return false
}

// stringAttr returns the NUL-terminated string of attribute typ in as.
func stringAttr(as []attr, typ uint16) (string, bool) {
	for _, a := range as {
		if a.typ == typ {
			s, ok := bytes.CutSuffix(a.data, []byte{0})
			return string(s), ok && bytes.IndexByte(s, 0) < 0
		}
	}
	return "", false
}

// encodeSnapshot encodes objects (already cleaned) as Snapshot.Data.
func encodeSnapshot(objs []object) ([]byte, error) {
	return json.Marshal(snapshotData{Version: snapshotVersion, Objects: objs})
}

// DecodeJSON decodes data, which must hold exactly one JSON value, into v: a field v does not
// have, or anything after the value (even a stray closing bracket), is an error.
func DecodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

// decodeSnapshot decodes and checks Snapshot.Data: the version, one table (firewarden's) first,
// the kinds in replay order, well-formed attributes without handles, every object in
// firewarden's table, set elements only of sets and rules only in chains that come before
// them. The kernel checks the rest when Restore replays it, in one transaction.
func decodeSnapshot(data []byte) ([]object, error) {
	bad := func(format string, a ...any) ([]object, error) {
		return nil, fmt.Errorf("%w: %s", ErrBadSnapshot, fmt.Sprintf(format, a...))
	}
	var sd snapshotData
	if err := DecodeJSON(data, &sd); err != nil {
		return bad("%v", err)
	}
	if sd.Version != snapshotVersion {
		return bad("version %d, want %d", sd.Version, snapshotVersion)
	}
	if len(sd.Objects) == 0 || sd.Objects[0].Kind != "table" {
		return bad("the first object is not the table")
	}
	names := map[string]map[string]bool{}
	rank := 0
	for i, o := range sd.Objects {
		r := -1
		for j, k := range kinds {
			if k == o.Kind {
				r = j
			}
		}
		switch {
		case r < 0:
			return bad("object %d: unknown kind %q", i+1, o.Kind)
		case r < rank:
			return bad("object %d: a %s after a %s", i+1, o.Kind, kinds[rank])
		case o.Kind == "table" && i > 0:
			return bad("object %d: a second table", i+1)
		}
		rank = r
		as, err := attrs(o.Attrs)
		if err != nil {
			return bad("object %d (%s): %v", i+1, o.Kind, err)
		}
		seen := map[uint16]bool{}
		for _, a := range as {
			if dropped(o.Kind, a.typ) {
				return bad("object %d (%s): attribute %d names a kernel object", i+1, o.Kind, a.typ)
			}
			if seen[a.typ] {
				return bad("object %d (%s): attribute %d twice", i+1, o.Kind, a.typ)
			}
			seen[a.typ] = true
		}
		tbl, ok := stringAttr(as, 1)
		if !ok || tbl != Table {
			return bad("object %d (%s): table %q, want %q", i+1, o.Kind, tbl, Table)
		}
		name, ok := stringAttr(as, nameAttr[o.Kind])
		if !ok || name == "" {
			return bad("object %d (%s): no name", i+1, o.Kind)
		}
		switch o.Kind {
		case "setelem":
			if !names["set"][name] {
				return bad("object %d: elements of set %q, which the snapshot does not hold", i+1, name)
			}
		case "rule":
			if !names["chain"][name] {
				return bad("object %d: a rule in chain %q, which the snapshot does not hold", i+1, name)
			}
		default:
			if names[o.Kind] == nil {
				names[o.Kind] = map[string]bool{}
			}
			if names[o.Kind][name] {
				return bad("object %d: %s %q twice", i+1, o.Kind, name)
			}
			names[o.Kind][name] = true
		}
	}
	return sd.Objects, nil
}

// maxElemBytes bounds the elements of one set element message of a snapshot: the list is one
// attribute, whose length is a uint16.
const maxElemBytes = 32 << 10

const (
	setFlagsAttr    = 3   // NFTA_SET_FLAGS
	setFlagInterval = 0x4 // NFT_SET_INTERVAL
	elemListAttr    = 3   // NFTA_SET_ELEM_LIST_ELEMENTS
)

// isInterval reports whether the set with attributes b keeps intervals.
func isInterval(b []byte) bool {
	as, _ := attrs(b)
	for _, a := range as {
		if a.typ == setFlagsAttr && len(a.data) == 4 {
			return binary.BigEndian.Uint32(a.data)&setFlagInterval != 0
		}
	}
	return false
}

// sortElems returns the set element messages msgs (attributes, each with the table, the set and
// a list of elements) with their elements sorted by their encoding and packed again. A hash
// set dumps its elements in the order of its buckets, which depend on a seed each set draws
// when it is made: sorted, the snapshot of a table restored is the snapshot it was restored
// from. Interval sets are not sorted: they dump in their tree's order, and replaying that order
// is known to work.
func sortElems(msgs [][]byte) ([][]byte, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	var head []byte // the attributes before the list: table and set
	var elems [][]byte
	for i, m := range msgs {
		as, err := attrs(m)
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			if a.typ != elemListAttr {
				if i == 0 {
					head = append(head, a.raw...)
				}
				continue
			}
			es, err := attrs(a.data)
			if err != nil {
				return nil, err
			}
			for _, e := range es {
				elems = append(elems, e.raw)
			}
		}
	}
	slices.SortFunc(elems, bytes.Compare)
	var out [][]byte
	for len(elems) > 0 {
		n, size := 0, 0
		for n < len(elems) && (n == 0 || size+len(elems[n]) <= maxElemBytes) {
			size += len(elems[n])
			n++
		}
		m := slices.Clone(head)
		m = binary.NativeEndian.AppendUint16(m, uint16(nlaHeader+size))
		m = binary.NativeEndian.AppendUint16(m, elemListAttr|nlaNested)
		for _, e := range elems[:n] {
			m = append(m, e...)
		}
		out = append(out, m)
		elems = elems[n:]
	}
	return out, nil
}

const (
	chainFlagsAttr   = 10  // NFTA_CHAIN_FLAGS
	chainFlagBinding = 0x4 // NFT_CHAIN_BINDING: an anonymous chain, `jump { ... }`
)

// bindingFirst reorders rules (in place, otherwise stably) so that the rules of anonymous
// chains come first. The kernel binds an anonymous chain to the rule that jumps to it when that
// rule is added, and then refuses rules in it: its rules must be replayed before the rule
// jumping to it. (Anonymous chains inside anonymous chains, which nft 1.0.6 refuses to make,
// are put last made first.)
func bindingFirst(objs, rules []object) {
	rank := map[string]int{} // anonymous chains by name: how many anonymous chains come after
	var names []string
	for _, o := range objs {
		if o.Kind != "chain" {
			continue
		}
		as, _ := attrs(o.Attrs)
		for _, a := range as {
			if a.typ == chainFlagsAttr && len(a.data) == 4 && binary.BigEndian.Uint32(a.data)&chainFlagBinding != 0 {
				name, _ := stringAttr(as, nameAttr["chain"])
				names = append(names, name)
			}
		}
	}
	for i, n := range names {
		rank[n] = len(names) - i // 1 for the last
	}
	key := func(o object) int {
		as, _ := attrs(o.Attrs)
		chain, _ := stringAttr(as, nameAttr["rule"])
		if r, ok := rank[chain]; ok {
			return r
		}
		return len(names) + 1
	}
	slices.SortStableFunc(rules, func(a, b object) int { return key(a) - key(b) })
}
