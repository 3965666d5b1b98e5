package fwtable

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// nla encodes one netlink attribute, padded.
func nla(typ uint16, data []byte) []byte {
	b := binary.NativeEndian.AppendUint16(nil, uint16(nlaHeader+len(data)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func nlaStr(typ uint16, s string) []byte { return nla(typ, append([]byte(s), 0)) }

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// A small table in the kernel's encoding: a chain, a set with two elements, a rule.
var (
	tblObj   = object{"table", cat(nlaStr(1, Table), nla(2, u32(0)))}
	chainObj = object{"chain", cat(nlaStr(1, Table), nlaStr(3, "input"))}
	setObj   = object{"set", cat(nlaStr(1, Table), nlaStr(2, "s"), nla(4, u32(7)), nla(5, u32(4)))}
	elem     = func(a byte) []byte { return nla(1|nlaNested, nla(1|nlaNested, nla(1, []byte{10, 0, 0, a}))) }
	elemObj  = object{"setelem", cat(nlaStr(1, Table), nlaStr(2, "s"), nla(3|nlaNested, cat(elem(1), elem(2))))}
	ruleObj  = object{"rule", cat(nlaStr(1, Table), nlaStr(2, "input"), nla(4|nlaNested, nil), nla(7, []byte{0, 3, 'h', 'i', 0}))}
	goodObjs = []object{tblObj, chainObj, setObj, elemObj, ruleObj}
)

func mustEncode(t testing.TB, objs []object) []byte {
	t.Helper()
	b, err := encodeSnapshot(objs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeCases are snapshots and what decodeSnapshot says of them; they seed FuzzDecodeSnapshot.
type decodeCase struct {
	name    string
	objs    []object // encoded, unless nil: then data
	data    string
	wantErr string
}

// bytes returns the snapshot data of the case.
func (tc decodeCase) bytes(t testing.TB) []byte {
	if tc.objs == nil {
		return []byte(tc.data)
	}
	return mustEncode(t, tc.objs)
}

var decodeCases = []decodeCase{
	{name: "good", objs: goodObjs},
	{name: "table only", objs: goodObjs[:1]},
	{name: "empty", data: "", wantErr: "EOF"},
	{name: "not JSON", data: "{", wantErr: "unexpected EOF"},
	{name: "unknown field", data: `{"version":1,"objects":[],"x":1}`, wantErr: "unknown field"},
	{name: "trailing data", data: `{"version":1,"objects":[]} {}`, wantErr: "data after"},
	{name: "a stray closing brace", data: `{"version":1,"objects":[]} }`, wantErr: "data after"},
	{name: "a stray closing bracket", data: `{"version":1,"objects":[]}]`, wantErr: "data after"},
	{name: "version", data: `{"version":2,"objects":[]}`, wantErr: "version 2"},
	{name: "no objects", data: `{"version":1,"objects":[]}`, wantErr: "first object is not the table"},
	{name: "chain first", objs: []object{chainObj}, wantErr: "first object is not the table"},
	{name: "two tables", objs: []object{tblObj, tblObj}, wantErr: "second table"},
	{name: "unknown kind", objs: []object{tblObj, {"gen", chainObj.Attrs}}, wantErr: `unknown kind "gen"`},
	{name: "out of order", objs: []object{tblObj, setObj, chainObj}, wantErr: "a chain after a set"},
	{name: "short attribute", objs: []object{tblObj, {"chain", chainObj.Attrs[:len(chainObj.Attrs)-5]}}, wantErr: "attribute length"},
	{name: "stray bytes", objs: []object{tblObj, {"chain", append(cat(chainObj.Attrs), 1, 0)}}, wantErr: "too short for an attribute"},
	{name: "zero length", objs: []object{tblObj, {"chain", append(cat(chainObj.Attrs), 0, 0, 0, 0)}}, wantErr: "attribute length 0"},
	{name: "a handle", objs: []object{tblObj, {"chain", cat(chainObj.Attrs, nla(2, make([]byte, 8)))}}, wantErr: "attribute 2 names a kernel object"},
	{name: "an attribute twice", objs: []object{tblObj, {"chain", cat(chainObj.Attrs, nlaStr(3, "x"))}}, wantErr: "attribute 3 twice"},
	{name: "another table", objs: []object{{"table", nlaStr(1, "filter")}}, wantErr: `table "filter"`},
	{name: "a chain of another table", objs: []object{tblObj, {"chain", cat(nlaStr(1, "filter"), nlaStr(3, "input"))}}, wantErr: `table "filter"`},
	{name: "a table name without NUL", objs: []object{{"table", nla(1, []byte(Table))}}, wantErr: "table"},
	{name: "a NUL inside a name", objs: []object{tblObj, {"chain", cat(nlaStr(1, Table), nlaStr(3, "in\x00put"))}}, wantErr: "no name"},
	{name: "a chain without a name", objs: []object{tblObj, {"chain", nlaStr(1, Table)}}, wantErr: "no name"},
	{name: "two chains of one name", objs: []object{tblObj, chainObj, chainObj}, wantErr: `chain "input" twice`},
	{name: "elements of no set", objs: []object{tblObj, chainObj, elemObj}, wantErr: `set "s", which the snapshot does not hold`},
	{name: "a rule in no chain", objs: []object{tblObj, setObj, ruleObj}, wantErr: `chain "input", which the snapshot does not hold`},
}

func TestDecodeSnapshot(t *testing.T) {
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.bytes(t)
			got, err := decodeSnapshot(data)
			if tc.wantErr != "" {
				if err == nil || !errors.Is(err, ErrBadSnapshot) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("decodeSnapshot(%s) = %v, want an ErrBadSnapshot saying %q", data, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeSnapshot(%s) = %v", data, err)
			}
			if diff := cmp.Diff(tc.objs, got, cmp.AllowUnexported(object{})); diff != "" {
				t.Errorf("decodeSnapshot (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCleanAttrs(t *testing.T) {
	for _, tc := range []struct {
		name, kind string
		in, want   []byte
	}{
		{"table", "table",
			cat(nlaStr(1, Table), nla(2, u32(0x7)), nla(3, u32(1)), nla(4, make([]byte, 8)), nla(7, u32(99))),
			cat(nlaStr(1, Table), nla(2, u32(0x1)))},
		{"rule", "rule",
			cat(nlaStr(1, Table), nlaStr(2, "input"), nla(3, make([]byte, 8)), nla(4|nlaNested, nil), nla(6, make([]byte, 8))),
			cat(nlaStr(1, Table), nlaStr(2, "input"), nla(4|nlaNested, nil))},
		{"set", "set",
			cat(nlaStr(1, Table), nlaStr(2, "s"), nla(16, make([]byte, 8)), nlaStr(19, "hash"), nla(20, u32(3))),
			cat(nlaStr(1, Table), nlaStr(2, "s"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cleanAttrs(tc.kind, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("cleanAttrs(%s, %x) = %x, want %x", tc.kind, tc.in, got, tc.want)
			}
		})
	}
}

func TestSortElems(t *testing.T) {
	head := cat(nlaStr(1, Table), nlaStr(2, "s"))
	msg := func(es ...byte) []byte {
		var l []byte
		for _, e := range es {
			l = append(l, elem(e)...)
		}
		return cat(head, nla(3|nlaNested, l))
	}
	got, err := sortElems([][]byte{msg(3, 1), msg(2)})
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]byte{msg(1, 2, 3)}; !cmp.Equal(want, got) {
		t.Errorf("sortElems = %x, want %x", got, want)
	}
	// Many elements are split over messages whose lists stay within an attribute's length.
	var many [][]byte
	for range 5 {
		var es []byte
		for i := range 1000 {
			es = append(es, byte(i))
		}
		many = append(many, msg(es...))
	}
	got, err = sortElems(many)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range got {
		as, err := attrs(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			if a.typ == elemListAttr {
				es, _ := attrs(a.data)
				n += len(es)
				if len(a.raw) > maxElemBytes+nlaHeader {
					t.Errorf("element list of %d bytes, want at most %d", len(a.raw), maxElemBytes+nlaHeader)
				}
			}
		}
	}
	if len(got) < 2 || n != 5000 {
		t.Errorf("sortElems(5000 elements) = %d messages of %d elements, want several of 5000", len(got), n)
	}
}

// FuzzDecodeSnapshot checks that decodeSnapshot never panics, and that what it accepts names
// only firewarden's table, holds no kernel handles, and survives encoding again.
func FuzzDecodeSnapshot(f *testing.F) {
	for _, tc := range decodeCases {
		f.Add(tc.bytes(f))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := decodeSnapshot(data)
		if err != nil {
			if !errors.Is(err, ErrBadSnapshot) {
				t.Fatalf("decodeSnapshot = %v, not an ErrBadSnapshot", err)
			}
			return
		}
		for i, o := range objs {
			as, err := attrs(o.Attrs)
			if err != nil {
				t.Fatalf("object %d accepted with bad attributes: %v", i, err)
			}
			if tbl, _ := stringAttr(as, 1); tbl != Table {
				t.Fatalf("object %d accepted in table %q", i, tbl)
			}
			for _, a := range as {
				if dropped(o.Kind, a.typ) {
					t.Fatalf("object %d (%s) accepted with attribute %d", i, o.Kind, a.typ)
				}
			}
		}
		again, err := decodeSnapshot(mustEncode(t, objs))
		if err != nil {
			t.Fatalf("decodeSnapshot(encodeSnapshot(decoded)) = %v", err)
		}
		if diff := cmp.Diff(objs, again, cmp.AllowUnexported(object{})); diff != "" {
			t.Errorf("decode, encode, decode (-first +second):\n%s", diff)
		}
	})
}

func TestBindingFirst(t *testing.T) {
	anon := func(name string) object {
		return object{"chain", cat(nlaStr(1, Table), nlaStr(3, name), nla(chainFlagsAttr, u32(chainFlagBinding)))}
	}
	rule := func(chain, id string) object {
		return object{"rule", cat(nlaStr(1, Table), nlaStr(2, chain), nla(7, []byte(id)))}
	}
	chains := []object{chainObj, anon("__chain0"), anon("__chain1")}
	rules := []object{rule("input", "a"), rule("__chain0", "b"), rule("input", "c"), rule("__chain1", "d"), rule("__chain0", "e")}
	bindingFirst(chains, rules)
	var got []string
	for _, r := range rules {
		as, _ := attrs(r.Attrs)
		for _, a := range as {
			if a.typ == 7 {
				got = append(got, string(a.data[:1]))
			}
		}
	}
	if want := []string{"d", "b", "e", "a", "c"}; !cmp.Equal(want, got) {
		t.Errorf("bindingFirst: rules in order %q, want %q", got, want)
	}
}
