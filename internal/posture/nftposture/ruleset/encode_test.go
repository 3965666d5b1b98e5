package ruleset

import (
	"encoding/binary"
	"fmt"
)

// A netlink encoder of rules, the inverse of decode.go, for round-trip and fuzz tests.

type enc struct{ b []byte }

func (e *enc) attr(typ uint16, data []byte) *enc {
	n := 4 + len(data)
	h := make([]byte, 4)
	binary.NativeEndian.PutUint16(h[0:2], uint16(n))
	binary.NativeEndian.PutUint16(h[2:4], typ)
	e.b = append(e.b, h...)
	e.b = append(e.b, data...)
	for len(e.b)%4 != 0 {
		e.b = append(e.b, 0)
	}
	return e
}

func (e *enc) u32(typ uint16, v uint32) *enc {
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, v)
	return e.attr(typ, b)
}

func (e *enc) u64(typ uint16, v uint64) *enc {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return e.attr(typ, b)
}

func (e *enc) str(typ uint16, s string) *enc { return e.attr(typ, append([]byte(s), 0)) }

func (e *enc) nest(typ uint16, f func(*enc)) *enc {
	var in enc
	f(&in)
	return e.attr(typ|0x8000, in.b)
}

func (e *enc) value(typ uint16, v []byte) *enc {
	return e.nest(typ, func(d *enc) { d.attr(dataValue, v) })
}

func (e *enc) verdict(typ uint16, v *Jump) *enc {
	return e.nest(typ, func(d *enc) {
		d.nest(dataVerdict, func(vd *enc) {
			vd.u32(verdictCode, uint32(v.Code))
			if v.Chain != "" {
				vd.str(verdictChain, v.Chain)
			}
		})
	})
}

func encodeExprData(x Expr) (string, []byte) {
	var d enc
	switch x := x.(type) {
	case Payload:
		if x.SReg != 0 {
			d.u32(5, x.SReg)
		} else {
			d.u32(1, x.DReg)
		}
		d.u32(2, x.Base).u32(3, x.Offset).u32(4, x.Len)
	case Meta:
		if x.SReg != 0 {
			d.u32(3, x.SReg)
		} else {
			d.u32(1, x.DReg)
		}
		d.u32(2, x.Key)
	case Ct:
		if x.SReg != 0 {
			d.u32(4, x.SReg)
		} else {
			d.u32(1, x.DReg)
		}
		d.u32(2, x.Key)
		if x.Dir != nil {
			d.attr(3, []byte{*x.Dir})
		}
	case Bitwise:
		d.u32(1, x.SReg).u32(2, x.DReg).u32(3, x.Len).u32(6, x.Op)
		if x.Mask != nil {
			d.value(4, x.Mask)
		}
		if x.Xor != nil {
			d.value(5, x.Xor)
		}
		if x.Data != nil {
			d.value(7, x.Data)
		}
	case Cmp:
		d.u32(1, x.SReg).u32(2, x.Op).value(3, x.Data)
	case Range:
		d.u32(1, x.SReg).u32(2, x.Op).value(3, x.From).value(4, x.To)
	case Lookup:
		d.str(1, x.Set).u32(2, x.SReg)
		if x.HasDReg {
			d.u32(3, x.DReg)
		}
		d.u32(4, x.SetID)
		var f uint32
		if x.Invert {
			f = 1
		}
		d.u32(5, f)
	case Immediate:
		d.u32(1, x.DReg)
		if x.Verdict != nil {
			d.verdict(2, x.Verdict)
		} else {
			d.value(2, x.Data)
		}
	case Counter:
		d.u64(1, x.Bytes).u64(2, x.Packets)
	case Log:
		if x.Group != nil {
			b := make([]byte, 2)
			binary.BigEndian.PutUint16(b, *x.Group)
			d.attr(1, b)
		}
		if x.Prefix != "" {
			d.str(2, x.Prefix)
		}
		if x.Level != nil {
			d.u32(5, *x.Level)
		}
		if x.Flags != 0 {
			d.u32(6, x.Flags)
		}
	case Limit:
		var typ, flags uint32
		if x.Bytes {
			typ = 1
		}
		if x.Invert {
			flags = 1
		}
		d.u64(1, x.Rate).u64(2, x.Unit).u32(3, x.Burst).u32(4, typ).u32(5, flags)
	case RejectStmt:
		d.u32(1, x.Type).attr(2, []byte{x.Code})
	case Xt:
		d.str(1, x.Name).u32(2, x.Rev).attr(3, x.Info)
	case Fib:
		d.u32(1, x.DReg).u32(2, x.Result).u32(3, x.Flags)
	case Nat:
		switch x.Kind {
		case "dnat":
			d.u32(1, 1)
		case "snat":
			d.u32(1, 0)
		case "masquerade":
			return "masq", nil
		case "redirect":
			return "redir", nil
		}
		return "nat", d.b
	case Other:
		return x.Name, nil
	default:
		panic(fmt.Sprintf("encodeExprData: %T", x))
	}
	return x.exprName(), d.b
}

// encodeRule is the payload of an NFT_MSG_NEWRULE message holding r.
func encodeRule(family byte, table, chain string, r *Rule) []byte {
	var e enc
	e.str(ruleTable, table).str(ruleChain, chain).u64(ruleHandle, r.Handle)
	e.nest(ruleExprs, func(l *enc) {
		for _, x := range r.Exprs {
			name, data := encodeExprData(x)
			l.nest(listElem, func(el *enc) {
				el.str(exprName, name)
				if data != nil {
					el.nest(exprData, func(dd *enc) { dd.b = data })
				}
			})
		}
	})
	if r.Comment != "" {
		c := append([]byte(r.Comment), 0)
		e.attr(ruleUserdata, append([]byte{0, byte(len(c))}, c...))
	}
	return append([]byte{family, 0, 0, 0}, e.b...)
}

// encodeChain is the payload of an NFT_MSG_NEWCHAIN message holding c (family's hook numbers).
func encodeChain(family byte, table string, c *Chain, hooknum uint32) []byte {
	var e enc
	e.str(chainTable, table).str(chainName, c.Name)
	if c.Hook != "" {
		e.nest(chainHook, func(h *enc) {
			h.u32(hookNum, hooknum).u32(hookPrio, uint32(c.Priority))
			if c.Device != "" {
				h.str(hookDev, c.Device)
			}
		})
		pol := uint32(1)
		if c.Policy == "drop" {
			pol = 0
		}
		e.u32(chainPolicy, pol).str(chainType, c.Type)
	}
	return append([]byte{family, 0, 0, 0}, e.b...)
}
