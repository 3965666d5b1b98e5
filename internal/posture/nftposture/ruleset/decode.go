package ruleset

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// This file decodes the kernel's netlink answer to a rule dump (NFT_MSG_NEWRULE messages) into
// Rules. It is ours rather than google/nftables' because that library drops expressions it does
// not know without a trace, and a posture check must name what it could not read. Attribute
// numbers are those of include/uapi/linux/netfilter/nf_tables.h.

// attr is one netlink attribute.
type attr struct {
	typ  uint16
	data []byte
}

const nlaTypeMask = 0x3fff // strips NLA_F_NESTED and NLA_F_NET_BYTEORDER

// attrs splits b into netlink attributes (4-byte aligned, host-order header).
func attrs(b []byte) ([]attr, error) {
	var out []attr
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, errors.New("truncated netlink attribute header")
		}
		n := int(binary.NativeEndian.Uint16(b[0:2]))
		typ := binary.NativeEndian.Uint16(b[2:4]) & nlaTypeMask
		if n < 4 || n > len(b) {
			return nil, fmt.Errorf("netlink attribute %d: length %d out of bounds (%d left)", typ, n, len(b))
		}
		out = append(out, attr{typ: typ, data: b[4:n]})
		adv := (n + 3) &^ 3
		if adv > len(b) {
			adv = len(b)
		}
		b = b[adv:]
	}
	return out, nil
}

func be32(b []byte) (uint32, error) {
	if len(b) != 4 {
		return 0, fmt.Errorf("want a 4-byte value, got %d bytes", len(b))
	}
	return binary.BigEndian.Uint32(b), nil
}

func be64(b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("want an 8-byte value, got %d bytes", len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

func cstr(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// Rule message attributes (enum nft_rule_attributes).
const (
	ruleTable    = 1
	ruleChain    = 2
	ruleHandle   = 3
	ruleExprs    = 4
	ruleUserdata = 7
	listElem     = 1
	exprName     = 1
	exprData     = 2
	dataValue    = 1
	dataVerdict  = 2
	verdictCode  = 1
	verdictChain = 2
)

// DecodeRuleMessage decodes the payload of one NFT_MSG_NEWRULE netlink message (after the
// netlink header: the 4-byte nfgenmsg, then attributes) into the family, table and chain
// it belongs to and the rule.
func DecodeRuleMessage(b []byte) (family byte, table, chain string, r *Rule, err error) {
	if len(b) < 4 {
		return 0, "", "", nil, errors.New("rule message shorter than its nfgenmsg header")
	}
	family = b[0]
	as, err := attrs(b[4:])
	if err != nil {
		return 0, "", "", nil, err
	}
	r = &Rule{}
	for _, a := range as {
		switch a.typ {
		case ruleTable:
			table = cstr(a.data)
		case ruleChain:
			chain = cstr(a.data)
		case ruleHandle:
			if r.Handle, err = be64(a.data); err != nil {
				return 0, "", "", nil, fmt.Errorf("rule handle: %w", err)
			}
		case ruleUserdata:
			r.Comment = ruleComment(a.data)
		case ruleExprs:
			elems, err := attrs(a.data)
			if err != nil {
				return 0, "", "", nil, err
			}
			for _, el := range elems {
				if el.typ != listElem {
					continue
				}
				e, err := decodeExpr(el.data)
				if err != nil {
					return 0, "", "", nil, fmt.Errorf("rule %d: %w", r.Handle, err)
				}
				r.Exprs = append(r.Exprs, e)
			}
		}
	}
	return family, table, chain, r, nil
}

// ruleComment finds the comment in a rule's userdata: type-length-value records of one byte
// each, type 0 the comment (libnftnl's NFTNL_UDATA_RULE_COMMENT), NUL-terminated.
func ruleComment(b []byte) string {
	for len(b) >= 2 {
		typ, n := b[0], int(b[1])
		if 2+n > len(b) {
			return ""
		}
		if typ == 0 {
			return cstr(b[2 : 2+n])
		}
		b = b[2+n:]
	}
	return ""
}

// decodeExpr decodes one NFTA_LIST_ELEM of a rule's expressions.
func decodeExpr(b []byte) (Expr, error) {
	as, err := attrs(b)
	if err != nil {
		return nil, err
	}
	var name string
	var data []byte
	for _, a := range as {
		switch a.typ {
		case exprName:
			name = cstr(a.data)
		case exprData:
			data = a.data
		}
	}
	if name == "" {
		return nil, errors.New("expression without a name")
	}
	as, err = attrs(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	e, err := decodeExprData(name, as)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return e, nil
}

// u32s reads the big-endian 32-bit attributes of as into the fields named by typ.
func u32s(as []attr, fields map[uint16]*uint32) error {
	for _, a := range as {
		if p, ok := fields[a.typ]; ok {
			v, err := be32(a.data)
			if err != nil {
				return fmt.Errorf("attribute %d: %w", a.typ, err)
			}
			*p = v
		}
	}
	return nil
}

// dataAttr decodes an NFTA_DATA_* nest: a value, or a verdict.
func dataAttr(b []byte) ([]byte, *Jump, error) {
	as, err := attrs(b)
	if err != nil {
		return nil, nil, err
	}
	for _, a := range as {
		switch a.typ {
		case dataValue:
			return append([]byte(nil), a.data...), nil, nil
		case dataVerdict:
			vs, err := attrs(a.data)
			if err != nil {
				return nil, nil, err
			}
			v := &Jump{}
			for _, va := range vs {
				switch va.typ {
				case verdictCode:
					c, err := be32(va.data)
					if err != nil {
						return nil, nil, fmt.Errorf("verdict code: %w", err)
					}
					v.Code = int32(c)
				case verdictChain:
					v.Chain = cstr(va.data)
				}
			}
			return nil, v, nil
		}
	}
	return nil, nil, errors.New("data attribute with neither value nor verdict")
}

// DecodeVerdict decodes the attributes of an NFTA_DATA_VERDICT nest (a code and, for jump
// and goto, a chain).
func DecodeVerdict(b []byte) (*Jump, error) {
	vs, err := attrs(b)
	if err != nil {
		return nil, err
	}
	v := &Jump{}
	seen := false
	for _, va := range vs {
		switch va.typ {
		case verdictCode:
			c, err := be32(va.data)
			if err != nil {
				return nil, fmt.Errorf("verdict code: %w", err)
			}
			v.Code, seen = int32(c), true
		case verdictChain:
			v.Chain = cstr(va.data)
		}
	}
	if !seen {
		return nil, errors.New("verdict without a code")
	}
	return v, nil
}

func decodeExprData(name string, as []attr) (Expr, error) {
	switch name {
	case "payload":
		var e Payload
		// 1 dreg, 2 base, 3 offset, 4 len, 5 sreg
		return e, u32s(as, map[uint16]*uint32{1: &e.DReg, 2: &e.Base, 3: &e.Offset, 4: &e.Len, 5: &e.SReg})
	case "meta":
		var e Meta
		return e, u32s(as, map[uint16]*uint32{1: &e.DReg, 2: &e.Key, 3: &e.SReg})
	case "ct":
		var e Ct
		if err := u32s(as, map[uint16]*uint32{1: &e.DReg, 2: &e.Key, 4: &e.SReg}); err != nil {
			return nil, err
		}
		for _, a := range as {
			if a.typ == 3 && len(a.data) == 1 {
				d := a.data[0]
				e.Dir = &d
			}
		}
		return e, nil
	case "bitwise":
		var e Bitwise
		if err := u32s(as, map[uint16]*uint32{1: &e.SReg, 2: &e.DReg, 3: &e.Len, 6: &e.Op}); err != nil {
			return nil, err
		}
		for _, a := range as {
			var dst *[]byte
			switch a.typ {
			case 4:
				dst = &e.Mask
			case 5:
				dst = &e.Xor
			case 7:
				dst = &e.Data
			default:
				continue
			}
			v, _, err := dataAttr(a.data)
			if err != nil {
				return nil, err
			}
			*dst = v
		}
		return e, nil
	case "cmp":
		var e Cmp
		if err := u32s(as, map[uint16]*uint32{1: &e.SReg, 2: &e.Op}); err != nil {
			return nil, err
		}
		for _, a := range as {
			if a.typ == 3 {
				v, _, err := dataAttr(a.data)
				if err != nil {
					return nil, err
				}
				e.Data = v
			}
		}
		return e, nil
	case "range":
		var e Range
		if err := u32s(as, map[uint16]*uint32{1: &e.SReg, 2: &e.Op}); err != nil {
			return nil, err
		}
		for _, a := range as {
			if a.typ == 3 || a.typ == 4 {
				v, _, err := dataAttr(a.data)
				if err != nil {
					return nil, err
				}
				if a.typ == 3 {
					e.From = v
				} else {
					e.To = v
				}
			}
		}
		return e, nil
	case "lookup":
		var e Lookup
		var flags uint32
		if err := u32s(as, map[uint16]*uint32{2: &e.SReg, 3: &e.DReg, 4: &e.SetID, 5: &flags}); err != nil {
			return nil, err
		}
		for _, a := range as {
			switch a.typ {
			case 1:
				e.Set = cstr(a.data)
			case 3:
				e.HasDReg = true
			}
		}
		e.Invert = flags&1 != 0
		return e, nil
	case "immediate":
		var e Immediate
		if err := u32s(as, map[uint16]*uint32{1: &e.DReg}); err != nil {
			return nil, err
		}
		for _, a := range as {
			if a.typ == 2 {
				v, vd, err := dataAttr(a.data)
				if err != nil {
					return nil, err
				}
				e.Data, e.Verdict = v, vd
			}
		}
		return e, nil
	case "counter":
		var e Counter
		for _, a := range as {
			switch a.typ {
			case 1:
				e.Bytes, _ = be64(a.data)
			case 2:
				e.Packets, _ = be64(a.data)
			}
		}
		return e, nil
	case "log":
		var e Log
		for _, a := range as {
			switch a.typ {
			case 1:
				if len(a.data) == 2 {
					g := binary.BigEndian.Uint16(a.data)
					e.Group = &g
				}
			case 2:
				e.Prefix = cstr(a.data)
			case 5:
				if l, err := be32(a.data); err == nil {
					e.Level = &l
				}
			case 6:
				e.Flags, _ = be32(a.data)
			}
		}
		return e, nil
	case "limit":
		var e Limit
		var typ, flags uint32
		for _, a := range as {
			switch a.typ {
			case 1:
				e.Rate, _ = be64(a.data)
			case 2:
				e.Unit, _ = be64(a.data)
			case 3:
				e.Burst, _ = be32(a.data)
			case 4:
				typ, _ = be32(a.data)
			case 5:
				flags, _ = be32(a.data)
			}
		}
		e.Bytes = typ == 1
		e.Invert = flags&1 != 0
		return e, nil
	case "reject":
		var e RejectStmt
		for _, a := range as {
			switch a.typ {
			case 1:
				e.Type, _ = be32(a.data)
			case 2:
				if len(a.data) == 1 {
					e.Code = a.data[0]
				}
			}
		}
		return e, nil
	case "match", "target":
		e := Xt{Target: name == "target"}
		for _, a := range as {
			switch a.typ {
			case 1:
				e.Name = cstr(a.data)
			case 2:
				e.Rev, _ = be32(a.data)
			case 3:
				e.Info = append([]byte(nil), a.data...)
			}
		}
		return e, nil
	case "fib":
		var e Fib
		return e, u32s(as, map[uint16]*uint32{1: &e.DReg, 2: &e.Result, 3: &e.Flags})
	case "nat":
		var typ uint32
		if err := u32s(as, map[uint16]*uint32{1: &typ}); err != nil {
			return nil, err
		}
		if typ == 1 {
			return Nat{Kind: "dnat"}, nil
		}
		return Nat{Kind: "snat"}, nil
	case "masq":
		return Nat{Kind: "masquerade"}, nil
	case "redir":
		return Nat{Kind: "redirect"}, nil
	}
	return Other{Name: name}, nil
}

// Chain message attributes (enum nft_chain_attributes, nft_hook_attributes).
const (
	chainTable  = 1
	chainName   = 3
	chainHook   = 4
	chainPolicy = 5
	chainType   = 7
	hookNum     = 1
	hookPrio    = 2
	hookDev     = 3
	hookDevs    = 4
)

// DecodeChainMessage decodes the payload of one NFT_MSG_NEWCHAIN netlink message into the
// family and table it belongs to and the chain (without rules). google/nftables v0.3.0 drops
// the device a netdev chain is bound to, which the analysis needs.
func DecodeChainMessage(b []byte) (family byte, table string, c *Chain, err error) {
	if len(b) < 4 {
		return 0, "", nil, errors.New("chain message shorter than its nfgenmsg header")
	}
	family = b[0]
	as, err := attrs(b[4:])
	if err != nil {
		return 0, "", nil, err
	}
	c = &Chain{}
	hooked := false
	var hook, policy uint32
	policy = 1 // NF_ACCEPT when the kernel sends none
	for _, a := range as {
		switch a.typ {
		case chainTable:
			table = cstr(a.data)
		case chainName:
			c.Name = cstr(a.data)
		case chainType:
			c.Type = cstr(a.data)
		case chainPolicy:
			if policy, err = be32(a.data); err != nil {
				return 0, "", nil, fmt.Errorf("chain policy: %w", err)
			}
		case chainHook:
			hs, err := attrs(a.data)
			if err != nil {
				return 0, "", nil, fmt.Errorf("chain hook: %w", err)
			}
			for _, h := range hs {
				switch h.typ {
				case hookNum:
					if hook, err = be32(h.data); err != nil {
						return 0, "", nil, fmt.Errorf("chain hook number: %w", err)
					}
					hooked = true
				case hookPrio:
					p, err := be32(h.data)
					if err != nil {
						return 0, "", nil, fmt.Errorf("chain priority: %w", err)
					}
					c.Priority = int32(p)
				case hookDev:
					c.Device = cstr(h.data)
				case hookDevs:
					ds, err := attrs(h.data)
					if err != nil {
						return 0, "", nil, fmt.Errorf("chain devices: %w", err)
					}
					var names []string
					for _, d := range ds {
						names = append(names, cstr(d.data))
					}
					c.Device = strings.Join(names, ",")
				}
			}
		}
	}
	if hooked {
		c.Hook = hookName(familyName(family), hook)
		c.Policy = "accept"
		if policy == 0 {
			c.Policy = "drop"
		}
		if c.Type == "" {
			c.Type = "filter"
		}
	}
	return family, table, c, nil
}

// DecodeTableMessage decodes the payload of one NFT_MSG_NEWTABLE netlink message: the table's
// family, name and whether it is dormant (NFTA_TABLE_FLAGS bit NFT_TABLE_F_DORMANT).
func DecodeTableMessage(b []byte) (*TableDef, error) {
	if len(b) < 4 {
		return nil, errors.New("table message shorter than its nfgenmsg header")
	}
	as, err := attrs(b[4:])
	if err != nil {
		return nil, err
	}
	t := &TableDef{Family: familyName(b[0])}
	for _, a := range as {
		switch a.typ {
		case 1: // NFTA_TABLE_NAME
			t.Name = cstr(a.data)
		case 2: // NFTA_TABLE_FLAGS
			f, err := be32(a.data)
			if err != nil {
				return nil, fmt.Errorf("table flags: %w", err)
			}
			t.Dormant = f&1 != 0
		}
	}
	if t.Name == "" {
		return nil, errors.New("table without a name")
	}
	return t, nil
}

// familyNumber is the NFPROTO_* number of a family name (familyName's inverse).
func familyNumber(name string) byte {
	for f := 0; f < 256; f++ {
		if familyName(byte(f)) == name {
			return byte(f)
		}
	}
	return 0
}
