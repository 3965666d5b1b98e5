package ruleset

import (
	"encoding/binary"
	"net/netip"
)

// Builders of rules as nft compiles them (the register machine), for hand-built models.

func be16(v uint16) []byte { b := make([]byte, 2); binary.BigEndian.PutUint16(b, v); return b }

func rule(h uint64, parts ...[]Expr) *Rule {
	r := &Rule{Handle: h}
	for _, p := range parts {
		r.Exprs = append(r.Exprs, p...)
	}
	return r
}

func l4(proto byte) []Expr {
	return []Expr{Meta{Key: metaL4Proto, DReg: 1}, Cmp{Op: 0, SReg: 1, Data: []byte{proto}}}
}

func dport(p uint16) []Expr {
	return []Expr{Payload{Base: 2, Offset: 2, Len: 2, DReg: 1}, Cmp{Op: 0, SReg: 1, Data: be16(p)}}
}

func tcpDport(p uint16) []Expr { return append(l4(6), dport(p)...) }
func udpDport(p uint16) []Expr { return append(l4(17), dport(p)...) }

func dportRange(lo, hi uint16) []Expr {
	return []Expr{Payload{Base: 2, Offset: 2, Len: 2, DReg: 1}, Range{Op: 0, SReg: 1, From: be16(lo), To: be16(hi)}}
}

// ctStateIn is "ct state <bits>" (bits: 1 invalid, 2 established, 4 related, 8 new).
func ctStateIn(bits uint32) []Expr {
	return []Expr{
		Ct{Key: ctState, DReg: 1},
		Bitwise{SReg: 1, DReg: 1, Len: 4, Mask: u32n(bits), Xor: u32n(0)},
		Cmp{Op: 1, SReg: 1, Data: u32n(0)},
	}
}

func iifLo() []Expr {
	return []Expr{Meta{Key: metaIIF, DReg: 1}, Cmp{Op: 0, SReg: 1, Data: u32n(1)}}
}

func iifname(n string) []Expr {
	d := make([]byte, 16)
	copy(d, n)
	return []Expr{Meta{Key: metaIIFName, DReg: 1}, Cmp{Op: 0, SReg: 1, Data: d}}
}

func nfproto(v6 bool) []Expr {
	f := byte(2)
	if v6 {
		f = 10
	}
	return []Expr{Meta{Key: metaNFProto, DReg: 1}, Cmp{Op: 0, SReg: 1, Data: []byte{f}}}
}

// saddr is "ip saddr P" / "ip6 saddr P" as nft writes it: a load of the prefix's whole bytes,
// masked when the prefix ends inside a byte.
func saddr(p string) []Expr {
	pf := netip.MustParsePrefix(p)
	v6 := pf.Addr().Is6()
	off := uint32(12)
	if v6 {
		off = 8
	}
	n := uint32((pf.Bits() + 7) / 8)
	b := pf.Masked().Addr().AsSlice()[:n]
	out := nfproto(v6)
	out = append(out, Payload{Base: 1, Offset: off, Len: n, DReg: 1})
	if pf.Bits()%8 != 0 {
		m := make([]byte, n)
		for i := 0; i < pf.Bits(); i++ {
			m[i/8] |= 1 << (7 - i%8)
		}
		out = append(out, Bitwise{SReg: 1, DReg: 1, Len: n, Mask: m, Xor: make([]byte, n)})
	}
	return append(out, Cmp{Op: 0, SReg: 1, Data: b})
}

func icmpEcho(v6 bool) []Expr {
	if v6 {
		return append(l4(58), Payload{Base: 2, Offset: 0, Len: 1, DReg: 1}, Cmp{Op: 0, SReg: 1, Data: []byte{128}})
	}
	return append(l4(1), Payload{Base: 2, Offset: 0, Len: 1, DReg: 1}, Cmp{Op: 0, SReg: 1, Data: []byte{8}})
}

func verdict(code int32, chain string) []Expr {
	return []Expr{Immediate{DReg: 0, Verdict: &Jump{Code: code, Chain: chain}}}
}

func accept() []Expr         { return verdict(VerdictAccept, "") }
func drop() []Expr           { return verdict(VerdictDrop, "") }
func ret() []Expr            { return verdict(VerdictReturn, "") }
func jump(c string) []Expr   { return verdict(VerdictJump, c) }
func gotoC(c string) []Expr  { return verdict(VerdictGoto, c) }
func counter() []Expr        { return []Expr{Counter{}} }
func logp(p string) []Expr   { return []Expr{Log{Prefix: p}} }
func limit(r uint64) []Expr  { return []Expr{Limit{Rate: r, Unit: 60, Burst: 5}} }
func reject(t uint32) []Expr { return []Expr{RejectStmt{Type: t}} }
func other(n string) []Expr  { return []Expr{Other{Name: n}} }
func lookup(s string, inv bool) []Expr {
	return []Expr{Payload{Base: 2, Offset: 2, Len: 2, DReg: 1}, Lookup{Set: s, SReg: 1, Invert: inv}}
}

func base(name, hook string, prio int32, policy string, rules ...*Rule) *Chain {
	return &Chain{Name: name, Hook: hook, Type: "filter", Priority: prio, Policy: policy, Rules: rules}
}

func regular(name string, rules ...*Rule) *Chain { return &Chain{Name: name, Rules: rules} }

func inet(name string, chains ...*Chain) *TableDef {
	return &TableDef{Family: "inet", Name: name, Chains: chains}
}
