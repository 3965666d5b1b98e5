//go:build linux

package fwtable

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// parse reads the rules of the input chain into the Spec they express, as Current documents.
func parse(rs []rule) Spec {
	var s Spec
	echo := rules(Spec{ICMPEcho: true})
	var echoRules []rule
	for _, r := range echo {
		if r.comment == commentEcho4 || r.comment == commentEcho6 {
			echoRules = append(echoRules, rule{exprs: r.exprs})
		}
	}
	prevService := false // the previous rule was a Service with a source
	for _, r := range rs {
		wasService := prevService
		prevService = false
		if slices.ContainsFunc(echoRules, func(e rule) bool { return sameRules([]rule{e}, []rule{{exprs: r.exprs}}) }) {
			s.ICMPEcho = true
			continue
		}
		if l, ok := find[*expr.Log](r.exprs); ok {
			s.Log = true
			if p := string(l.Data); p != DefaultLogPrefix {
				s.LogPrefix = p
			}
			continue
		}
		if _, ok := find[*expr.Reject](r.exprs); ok {
			s.Reject = true
			if final(r.exprs) {
				break
			}
			continue
		}
		if final(r.exprs) {
			break // no packet reaches the rules after it
		}
		pr, ok := portRule(r.exprs)
		if !ok {
			continue
		}
		if why, ok := strings.CutPrefix(r.comment, keepCommentPrefix); ok && pr.from == pr.to &&
			(!pr.src.IsValid() || pr.src.IsSingleIP()) {
			s.Keep = append(s.Keep, Keep{Source: pr.src.Addr(), Proto: pr.proto, Port: pr.from, Why: why})
			continue
		}
		if pr.src.IsValid() {
			prevService = true
			if n := len(s.Allowed); wasService && n > 0 {
				last := &s.Allowed[n-1]
				if last.Proto == pr.proto && last.From == pr.from && last.To == pr.to {
					last.Sources = append(last.Sources, pr.src)
					continue
				}
			}
			s.Allowed = append(s.Allowed, Service{Proto: pr.proto, From: pr.from, To: pr.to, Sources: []netip.Prefix{pr.src}})
			continue
		}
		s.Allowed = append(s.Allowed, Service{Proto: pr.proto, From: pr.from, To: pr.to})
	}
	return s
}

// final reports whether a rule drops or rejects every packet that reaches it.
func final(es []expr.Any) bool {
	for _, e := range es {
		switch e := e.(type) {
		case *expr.Counter, *expr.Reject:
		case *expr.Verdict:
			if e.Kind != expr.VerdictDrop {
				return false
			}
		default:
			return false
		}
	}
	return len(es) > 0
}

func find[T expr.Any](es []expr.Any) (T, bool) {
	for _, e := range es {
		if t, ok := e.(T); ok {
			return t, true
		}
	}
	var zero T
	return zero, false
}

// port is a rule accepting a protocol and destination ports, from a source prefix (invalid:
// any).
type port struct {
	src      netip.Prefix
	proto    string
	from, to uint16
}

// portRule reads a rule in the shape Write gives keep and service rules: [nfproto, saddr],
// l4proto, dport (one or a range), accept.
func portRule(es []expr.Any) (port, bool) {
	var p port
	i := 0
	next := func() expr.Any {
		if i >= len(es) {
			return nil
		}
		i++
		return es[i-1]
	}
	metaEq := func(key expr.MetaKey) ([]byte, bool) {
		m, ok := next().(*expr.Meta)
		if !ok || m.Key != key || m.Register != 1 || m.SourceRegister {
			return nil, false
		}
		c, ok := next().(*expr.Cmp)
		if !ok || c.Op != expr.CmpOpEq || c.Register != 1 {
			return nil, false
		}
		return c.Data, true
	}
	fam, ok := metaEq(expr.MetaKeyNFPROTO)
	if ok {
		if len(fam) != 1 || (fam[0] != unix.NFPROTO_IPV4 && fam[0] != unix.NFPROTO_IPV6) {
			return port{}, false
		}
		src, ok := saddrOf(fam[0], next)
		if !ok {
			return port{}, false
		}
		p.src = src
	} else {
		i = 0
	}
	l4, ok := metaEq(expr.MetaKeyL4PROTO)
	if !ok || len(l4) != 1 {
		return port{}, false
	}
	switch l4[0] {
	case unix.IPPROTO_TCP:
		p.proto = "tcp"
	case unix.IPPROTO_UDP:
		p.proto = "udp"
	default:
		return port{}, false
	}
	pl, ok := next().(*expr.Payload)
	if !ok || *pl != (expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}) {
		return port{}, false
	}
	switch m := next().(type) {
	case *expr.Cmp:
		if m.Op != expr.CmpOpEq || m.Register != 1 || len(m.Data) != 2 {
			return port{}, false
		}
		p.from = binary.BigEndian.Uint16(m.Data)
		p.to = p.from
	case *expr.Range:
		if m.Op != expr.CmpOpEq || m.Register != 1 || len(m.FromData) != 2 || len(m.ToData) != 2 {
			return port{}, false
		}
		p.from, p.to = binary.BigEndian.Uint16(m.FromData), binary.BigEndian.Uint16(m.ToData)
	default:
		return port{}, false
	}
	if v, ok := next().(*expr.Verdict); !ok || v.Kind != expr.VerdictAccept || i != len(es) {
		return port{}, false
	}
	if p.from == 0 || p.to < p.from {
		return port{}, false
	}
	return p, true
}

// saddrOf reads a source address match of family fam: payload, optional mask, compare.
func saddrOf(fam byte, next func() expr.Any) (netip.Prefix, bool) {
	off, n := uint32(12), 4
	if fam == unix.NFPROTO_IPV6 {
		off, n = 8, 16
	}
	pl, ok := next().(*expr.Payload)
	if !ok || *pl != (expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: uint32(n)}) {
		return netip.Prefix{}, false
	}
	bits := n * 8
	e := next()
	if bw, ok := e.(*expr.Bitwise); ok {
		if bw.SourceRegister != 1 || bw.DestRegister != 1 || int(bw.Len) != n || len(bw.Mask) != n ||
			len(bw.Xor) != n || !allZero(bw.Xor) {
			return netip.Prefix{}, false
		}
		bits = maskBits(bw.Mask)
		if bits < 0 {
			return netip.Prefix{}, false
		}
		e = next()
	}
	c, ok := e.(*expr.Cmp)
	if !ok || c.Op != expr.CmpOpEq || c.Register != 1 || len(c.Data) != n {
		return netip.Prefix{}, false
	}
	a, _ := netip.AddrFromSlice(c.Data)
	p := netip.PrefixFrom(a, bits)
	if p.Masked() != p {
		return netip.Prefix{}, false
	}
	return p, true
}

func allZero(b []byte) bool {
	return !slices.ContainsFunc(b, func(c byte) bool { return c != 0 })
}

// maskBits returns the length of network mask m, or -1 if m is not one.
func maskBits(m []byte) int {
	bits := 0
	for i, c := range m {
		if c == 0xff {
			bits += 8
			continue
		}
		ones := 0
		for c&0x80 != 0 {
			ones++
			c <<= 1
		}
		if c != 0 || !allZero(m[i+1:]) {
			return -1
		}
		return bits + ones
	}
	return bits
}
