package fwtable

import (
	"bytes"
	"encoding/binary"
	"slices"
)

// The attributes (linux/netfilter/nf_tables.h) that stateless leaves out or walks into.
const (
	ruleExprsAttr  = 4  // NFTA_RULE_EXPRESSIONS: a list of expressions
	exprNameAttr   = 1  // NFTA_EXPR_NAME
	exprDataAttr   = 2  // NFTA_EXPR_DATA
	counterBytes   = 1  // NFTA_COUNTER_BYTES
	counterPackets = 2  // NFTA_COUNTER_PACKETS
	quotaConsumed  = 4  // NFTA_QUOTA_CONSUMED
	objTypeAttr    = 3  // NFTA_OBJ_TYPE
	objDataAttr    = 4  // NFTA_OBJ_DATA
	objTypeCounter = 1  // NFT_OBJECT_COUNTER
	objTypeQuota   = 2  // NFT_OBJECT_QUOTA
	elemExpiration = 5  // NFTA_SET_ELEM_EXPIRATION
	elemExprAttr   = 7  // NFTA_SET_ELEM_EXPR: one expression
	elemExprsAttr  = 10 // NFTA_SET_ELEM_EXPRESSIONS: a list of expressions
)

// stateless returns the attributes of o without the counts the kernel keeps while the table
// runs (see Same). o comes from decodeSnapshot, so its top level is well formed; a nested
// attribute that is not is kept as it is, and compared byte for byte.
func stateless(o object) []byte {
	as, err := attrs(o.Attrs)
	if err != nil {
		return o.Attrs
	}
	var out []byte
	for _, a := range as {
		switch {
		case o.Kind == "rule" && a.typ == ruleExprsAttr:
			out = append(out, rewrap(a, exprList(a.data))...)
		case o.Kind == "obj" && a.typ == objDataAttr:
			typ := uint32(0)
			for _, t := range as {
				if t.typ == objTypeAttr && len(t.data) == 4 {
					typ = binary.BigEndian.Uint32(t.data)
				}
			}
			switch typ {
			case objTypeCounter:
				out = append(out, rewrap(a, without(a.data, counterBytes, counterPackets))...)
			case objTypeQuota:
				out = append(out, rewrap(a, without(a.data, quotaConsumed))...)
			default:
				out = append(out, a.raw...)
			}
		case o.Kind == "setelem" && a.typ == elemListAttr:
			out = append(out, rewrap(a, elemList(a.data))...)
		default:
			out = append(out, a.raw...)
		}
	}
	return out
}

// rewrap is attribute a with payload p: a header of the payload's new length, a's type bits
// (the nested flag with them), and padding.
func rewrap(a attr, p []byte) []byte {
	n := nlaHeader + len(p)
	out := binary.NativeEndian.AppendUint16(make([]byte, 0, (n+3)&^3), uint16(n))
	out = append(out, a.raw[2:4]...)
	out = append(out, p...)
	for len(out)%4 != 0 {
		out = append(out, 0)
	}
	return out
}

// exprList is a list of expressions without their counts.
func exprList(b []byte) []byte {
	es, err := attrs(b)
	if err != nil {
		return b
	}
	var out []byte
	for _, e := range es {
		out = append(out, rewrap(e, expression(e.data))...)
	}
	return out
}

// expression is one expression (name and data) without its counts.
func expression(b []byte) []byte {
	as, err := attrs(b)
	if err != nil {
		return b
	}
	name, _ := stringAttr(as, exprNameAttr)
	var out []byte
	for _, a := range as {
		switch {
		case a.typ == exprDataAttr && name == "counter":
			out = append(out, rewrap(a, without(a.data, counterBytes, counterPackets))...)
		case a.typ == exprDataAttr && name == "quota":
			out = append(out, rewrap(a, without(a.data, quotaConsumed))...)
		default:
			out = append(out, a.raw...)
		}
	}
	return out
}

// elemList is the elements of a set element message without their expiry and counts, sorted:
// Take sorts a hash set's elements by their encoding, counts included, so the same elements
// with other counts may come in another order.
func elemList(b []byte) []byte {
	es, err := attrs(b)
	if err != nil {
		return b
	}
	var elems [][]byte
	for _, e := range es {
		as, err := attrs(e.data)
		if err != nil {
			elems = append(elems, e.raw)
			continue
		}
		var p []byte
		for _, a := range as {
			switch a.typ {
			case elemExpiration:
			case elemExprAttr:
				p = append(p, rewrap(a, expression(a.data))...)
			case elemExprsAttr:
				p = append(p, rewrap(a, exprList(a.data))...)
			default:
				p = append(p, a.raw...)
			}
		}
		elems = append(elems, rewrap(e, p))
	}
	slices.SortFunc(elems, bytes.Compare)
	return bytes.Join(elems, nil)
}

// without is the attributes b without those of the types drop.
func without(b []byte, drop ...uint16) []byte {
	as, err := attrs(b)
	if err != nil {
		return b
	}
	var out []byte
next:
	for _, a := range as {
		for _, d := range drop {
			if a.typ == d {
				continue next
			}
		}
		out = append(out, a.raw...)
	}
	return out
}
