//go:build linux

package fwtable

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// chainName is the one chain of the table, the base chain on the input hook.
const chainName = "input"

// rule is one rule of the input chain as Write makes it: its comment and its expressions.
type rule struct {
	comment string
	exprs   []expr.Any
}

// ICMPv6 types (RFC 4443, RFC 4861).
const (
	icmp6DestUnreach  = 1
	icmp6PacketTooBig = 2
	icmp6TimeExceeded = 3
	icmp6ParamProblem = 4
	icmp6EchoRequest  = 128
	icmp6RouterAdvert = 134
	icmp6NeighSolicit = 135
	icmp6NeighAdvert  = 136
	icmpEchoRequest   = 8 // ICMP for IPv4 (RFC 792)
)

// Comments of the fixed rules; the comments of the others are made by keepComment and
// serviceComment.
const (
	commentEstablished = "established and related connections"
	commentInvalid     = "invalid packets"
	commentLoopback    = "loopback"
	commentEcho4       = "ICMP echo request (ping)"
	commentEcho6       = "ICMPv6 echo request (ping)"
	commentLog         = "log what is dropped, rate-limited"
	commentDrop        = "drop the rest"
	commentRejectTCP   = "reject the rest: TCP reset"
	commentReject      = "reject the rest: ICMP port unreachable"
	keepCommentPrefix  = "keep: "
)

// icmp6Rules are the ICMPv6 messages IPv6 needs: neighbour discovery and router
// advertisements, valid only with hop limit 255 (RFC 4861: proof they come from the link), and
// the errors path MTU discovery and connection set-up need.
var icmp6Rules = []struct {
	typ     byte
	hop255  bool
	comment string
}{
	{icmp6NeighSolicit, true, "IPv6 neighbour discovery: neighbour solicitation"},
	{icmp6NeighAdvert, true, "IPv6 neighbour discovery: neighbour advertisement"},
	{icmp6RouterAdvert, true, "IPv6 router advertisement"},
	{icmp6PacketTooBig, false, "ICMPv6 packet too big (path MTU discovery)"},
	{icmp6DestUnreach, false, "ICMPv6 destination unreachable"},
	{icmp6TimeExceeded, false, "ICMPv6 time exceeded"},
	{icmp6ParamProblem, false, "ICMPv6 parameter problem"},
}

func keepComment(k Keep) string {
	why := k.Why
	if why == "" {
		why = "a connection to keep"
	}
	return comment(keepCommentPrefix + why)
}

func serviceComment(sv Service) string {
	if sv.From == sv.To {
		return fmt.Sprintf("allow %s %d", sv.Proto, sv.From)
	}
	return fmt.Sprintf("allow %s %d-%d", sv.Proto, sv.From, sv.To)
}

// Expression builders, each in the form nft itself sends (and the kernel returns).

func metaCmp(key expr.MetaKey, v []byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: v},
	}
}

func payloadCmp(base expr.PayloadBase, off, n uint32, v []byte) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: base, Offset: off, Len: n},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: v},
	}
}

func nfproto(p byte) []expr.Any { return metaCmp(expr.MetaKeyNFPROTO, []byte{p}) }
func l4proto(p byte) []expr.Any { return metaCmp(expr.MetaKeyL4PROTO, []byte{p}) }

func accept() expr.Any { return &expr.Verdict{Kind: expr.VerdictAccept} }

func ctState(mask uint32, op expr.CmpOp) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binary.NativeEndian.AppendUint32(nil, mask), Xor: make([]byte, 4)},
		&expr.Cmp{Op: op, Register: 1, Data: make([]byte, 4)},
	}
}

// saddr matches the source prefix p: the family, then the address (masked unless a host).
func saddr(p netip.Prefix) []expr.Any {
	off, fam := uint32(12), byte(unix.NFPROTO_IPV4)
	if p.Addr().Is6() {
		off, fam = 8, unix.NFPROTO_IPV6
	}
	n := uint32(p.Addr().BitLen() / 8)
	es := nfproto(fam)
	es = append(es, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n})
	if !p.IsSingleIP() {
		es = append(es, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: n,
			Mask: prefixMask(p.Bits(), int(n)), Xor: make([]byte, n)})
	}
	return append(es, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Addr().AsSlice()})
}

// prefixMask is the network mask of a prefix of bits bits in n bytes.
func prefixMask(bits, n int) []byte {
	m := make([]byte, n)
	for i := range m {
		switch {
		case bits >= 8:
			m[i] = 0xff
		case bits > 0:
			m[i] = byte(0xff << (8 - bits))
		}
		bits -= 8
	}
	return m
}

func protoNum(p string) byte {
	if p == "udp" {
		return unix.IPPROTO_UDP
	}
	return unix.IPPROTO_TCP
}

// dport matches protocol proto and destination ports from to to.
func dport(proto string, from, to uint16) []expr.Any {
	es := l4proto(protoNum(proto))
	es = append(es, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2})
	if from == to {
		return append(es, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, from)})
	}
	return append(es, &expr.Range{Op: expr.CmpOpEq, Register: 1,
		FromData: binary.BigEndian.AppendUint16(nil, from), ToData: binary.BigEndian.AppendUint16(nil, to)})
}

func icmp6Type(t byte) []expr.Any {
	es := nfproto(unix.NFPROTO_IPV6)
	es = append(es, l4proto(unix.IPPROTO_ICMPV6)...)
	return append(es, payloadCmp(expr.PayloadBaseTransportHeader, 0, 1, []byte{t})...)
}

// rules returns the rules of the input chain for s (already validated), in order.
func rules(s Spec) []rule {
	var rs []rule
	add := func(c string, es ...[]expr.Any) {
		var all []expr.Any
		for _, e := range es {
			all = append(all, e...)
		}
		rs = append(rs, rule{comment: c, exprs: all})
	}
	one := func(e ...expr.Any) []expr.Any { return e }
	add(commentEstablished, ctState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED, expr.CmpOpNeq), one(accept()))
	add(commentInvalid, ctState(expr.CtStateBitINVALID, expr.CmpOpNeq), one(&expr.Verdict{Kind: expr.VerdictDrop}))
	add(commentLoopback, metaCmp(expr.MetaKeyIIFNAME, ifname("lo")), one(accept()))
	for _, r := range icmp6Rules {
		es := icmp6Type(r.typ)
		if r.hop255 {
			es = append(es, payloadCmp(expr.PayloadBaseNetworkHeader, 7, 1, []byte{255})...)
		}
		add(r.comment, es, one(accept()))
	}
	if s.ICMPEcho {
		add(commentEcho4, nfproto(unix.NFPROTO_IPV4), l4proto(unix.IPPROTO_ICMP),
			payloadCmp(expr.PayloadBaseTransportHeader, 0, 1, []byte{icmpEchoRequest}), one(accept()))
		add(commentEcho6, icmp6Type(icmp6EchoRequest), one(accept()))
	}
	for _, k := range s.Keep {
		var src []expr.Any
		if k.Source.IsValid() {
			src = saddr(netip.PrefixFrom(k.Source, k.Source.BitLen()))
		}
		add(keepComment(k), src, dport(k.Proto, k.Port, k.Port), one(accept()))
	}
	for _, sv := range s.Allowed {
		if len(sv.Sources) == 0 {
			add(serviceComment(sv), dport(sv.Proto, sv.From, sv.To), one(accept()))
		}
		// One rule per source: a service with only IPv4 sources has no IPv6 rule.
		for _, p := range sv.Sources {
			add(serviceComment(sv), saddr(p), dport(sv.Proto, sv.From, sv.To), one(accept()))
		}
	}
	if s.Log {
		add(commentLog, one(
			&expr.Limit{Type: expr.LimitTypePkts, Rate: LogRate, Unit: expr.LimitTimeSecond, Burst: LogBurst},
			&expr.Counter{},
			&expr.Log{Key: 1<<unix.NFTA_LOG_PREFIX | 1<<unix.NFTA_LOG_LEVEL, Level: expr.LogLevelWarning,
				Data: []byte(s.logPrefix())},
		))
	}
	if s.Reject {
		add(commentRejectTCP, l4proto(unix.IPPROTO_TCP), one(&expr.Counter{},
			&expr.Reject{Type: unix.NFT_REJECT_TCP_RST}))
		add(commentReject, one(&expr.Counter{},
			&expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_PORT_UNREACH}))
	} else {
		add(commentDrop, one(&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}))
	}
	return rs
}

// ifname is an interface name as the kernel compares it: IFNAMSIZ bytes, NUL-padded.
func ifname(n string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, n)
	return b
}

func table() *nftables.Table {
	return &nftables.Table{Name: Table, Family: nftables.TableFamilyINet}
}

// chainPriority is filter - 1: just before every table at the usual filter priority (nft's
// inet filter, iptables-nft, ufw), after conntrack (-200). Of two base chains with the same
// priority the kernel runs the one registered last first, and re-registration (a table made
// dormant and active again, a tool recreating its chains) is not in any listing; one step
// ahead, firewarden's drop of unmatched traffic comes before another tool's reject or log, and
// check's analysis of the order never depends on registration. An accept here does not stop
// the later chains: a service another table drops stays dropped.
var chainPriority = nftables.ChainPriorityRef(*nftables.ChainPriorityFilter - 1)

func chain(t *nftables.Table) *nftables.Chain {
	drop := nftables.ChainPolicyDrop
	return &nftables.Chain{
		Name: chainName, Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: chainPriority, Policy: &drop,
	}
}

func commentData(c string) []byte {
	return userdata.AppendString(nil, userdata.TypeComment, c)
}
