package ruleset

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// This file turns a rule's register machine (loads into registers, bitwise masks, comparisons,
// lookups, statements) into steps the analysis evaluates: conditions over named packet fields
// and statements, in rule order.

// tri is the outcome of a condition for a packet.
type tri uint8

const (
	tTrue     tri = iota
	tFalse        // does not hold
	tAttacker     // depends on something the sender chooses (source port, TTL, …): it can be made to hold or not
	tHost         // depends on host state the model does not know (destination address, marks, …)
)

// pkt is a new inbound packet of one class (family, protocol, source, interface); its
// destination port is handled as a set (see flows in analyse.go).
type pkt struct {
	v6       bool
	l4       byte // 6 tcp, 17 udp, 1 icmp, 58 icmpv6
	icmpType byte
	saddr    netip.Addr
	iifname  string
	iif      uint32
	marksSet bool // some rule sets a mark: marks are not known to be 0
	// untracked: some rule leaves packets untracked (compiler.untracked): ct state is new or
	// untracked.
	untracked bool
}

// Field kinds.
type fieldKind uint8

const (
	fkNone fieldKind = iota // a register nothing loaded
	fkPayload
	fkMeta
	fkCt
	fkFib
	fkImm
	fkUnknown
)

// field is what a register holds: a load of part of the packet (or its meta data), optionally
// masked: value = (load & mask) ^ xor.
type field struct {
	kind      fieldKind
	base, off uint32 // payload
	len       uint32
	key       uint32 // meta, ct key; fib result
	flags     uint32 // fib flags
	fam       int    // 4 or 6 when the rule has established the family before the load; 0 unknown
	mask, xor []byte
	imm       []byte
	what      string // fkUnknown: what it was
}

// value status.
type vstat uint8

const (
	vKnown vstat = iota
	vDport
	vAttacker
	vHost
	// vPartial: a network header load over bytes the sender chooses, some narrowed to a
	// few values or mixed with fields the model fixes (`ip6 nexthdr icmpv6 ip6 hoplimit
	// 255` is one 2-byte compare): netHeader says which bytes and what values they take.
	vPartial
	// vUntracked: ct state, which is new, or untracked when a notrack rule covered the
	// packet (which rules do is not followed): a condition holds when it holds for both.
	vUntracked
)

// NFT_META_* and NFT_CT_* keys used below (nf_tables.h).
const (
	metaProtocol = 1
	metaMark     = 3
	metaIIF      = 4
	metaIIFName  = 6
	metaIIFType  = 8
	metaNFProto  = 15
	metaL4Proto  = 16
	metaPktType  = 19
	metaIIFGroup = 21
	ctState      = 0
	ctDirection  = 1
	ctStatus     = 2
	ctMark       = 3
	ctL3Proto    = 7
	ctSrc        = 8
	ctProtocol   = 10
	ctProtoSrc   = 11
	ctProtoDst   = 12
	ctZone       = 17
	ctSrcIP      = 19
	ctSrcIP6     = 21
)

// tcpFreeFlags are the TCP flags the sender of a new connection chooses: PSH 0x08, URG 0x20,
// ECE 0x40, CWR 0x80 (FIN 0x01, RST 0x04 and ACK 0x10 are clear, SYN 0x02 is set).
const tcpFreeFlags = 0xe8

// ct state bits (NF_CT_STATE_BIT): invalid 1, established 2, related 4, new 8, untracked 64.
const (
	ctStateNew       = 8
	ctStateUntracked = 64
)

func u32n(v uint32) []byte { b := make([]byte, 4); binary.NativeEndian.PutUint32(b, v); return b }
func u16n(v uint16) []byte { b := make([]byte, 2); binary.NativeEndian.PutUint16(b, v); return b }

// isDport reports whether the field is exactly the destination port (TCP, UDP, SCTP, DCCP).
func (f field) isDport() bool {
	return (f.kind == fkPayload && f.base == 2 && f.off == 2 && f.len == 2) || (f.kind == fkCt && f.key == ctProtoDst && f.len == 2)
}

// raw returns the unmasked value of the field for packet p.
func (f field) raw(p *pkt) ([]byte, vstat, string) {
	switch f.kind {
	case fkPayload:
		return payloadValue(f, p)
	case fkMeta:
		switch f.key {
		case metaNFProto:
			if p.v6 {
				return []byte{10}, vKnown, ""
			}
			return []byte{2}, vKnown, ""
		case metaProtocol:
			if p.v6 {
				return []byte{0x86, 0xdd}, vKnown, ""
			}
			return []byte{0x08, 0x00}, vKnown, ""
		case metaL4Proto:
			return []byte{p.l4}, vKnown, ""
		case metaIIFName:
			b := make([]byte, 16)
			copy(b, p.iifname)
			return b, vKnown, ""
		case metaIIF:
			return u32n(p.iif), vKnown, ""
		case 5: // oif: a packet on its way in has no output device; the kernel loads 0
			return u32n(0), vKnown, ""
		case 7: // oifname: likewise, an empty name
			return make([]byte, 16), vKnown, ""
		case metaIIFType:
			return u16n(1), vKnown, "" // ARPHRD_ETHER: not loopback
		case metaPktType:
			return []byte{0}, vKnown, "" // PACKET_HOST: unicast to this host
		case metaIIFGroup:
			return u32n(0), vKnown, ""
		case metaMark:
			if !p.marksSet {
				return u32n(0), vKnown, ""
			}
			return nil, vHost, "the packet mark (set by another rule)"
		case 24, 20: // prandom, cpu
			return nil, vAttacker, ""
		}
		return nil, vHost, "meta " + metaKeyName(f.key)
	case fkCt:
		switch f.key {
		case ctState:
			if p.untracked {
				return u32n(ctStateNew), vUntracked, ""
			}
			return u32n(ctStateNew), vKnown, ""
		case ctDirection:
			return []byte{0}, vKnown, ""
		case ctStatus:
			return u32n(0), vKnown, ""
		case ctMark:
			if !p.marksSet {
				return u32n(0), vKnown, ""
			}
			return nil, vHost, "the conntrack mark (set by another rule)"
		case ctL3Proto:
			if p.v6 {
				return []byte{10}, vKnown, ""
			}
			return []byte{2}, vKnown, ""
		case ctProtocol:
			return []byte{p.l4}, vKnown, ""
		case ctZone:
			return u16n(0), vKnown, ""
		case ctProtoDst:
			if p.l4 == 6 || p.l4 == 17 {
				return nil, vDport, ""
			}
			return nil, vAttacker, ""
		case ctProtoSrc:
			return nil, vAttacker, ""
		case ctSrc, ctSrcIP, ctSrcIP6:
			// Prefix matches on the source are split exactly (cond.srcHold); anything else
			// on it is not modelled.
			return nil, vHost, "the source address, matched other than by a prefix or range"
		}
		return nil, vHost, "ct " + ctKeyName(f.key)
	case fkFib:
		const fSaddr, fDaddr, fPresent = 1, 2, 0x20
		switch {
		case f.key == 3 && f.flags&fDaddr != 0: // fib daddr type: the packet is for this host
			return u32n(2), vKnown, "" // RTN_LOCAL
		case f.key == 3 && f.flags&fSaddr != 0:
			return u32n(1), vKnown, "" // RTN_UNICAST: an ordinary source
		case f.key == 1 && f.flags&fSaddr != 0: // reverse path lookup: a sane source has a route back
			if f.flags&fPresent != 0 {
				return []byte{1}, vKnown, ""
			}
			return u32n(p.iif), vKnown, ""
		}
		return nil, vHost, "a fib lookup"
	case fkImm:
		return f.imm, vKnown, ""
	case fkUnknown:
		return nil, vHost, f.what
	}
	return nil, vHost, "a register no expression loaded"
}

// value returns the (masked) value of the field for packet p.
func (f field) value(p *pkt) ([]byte, vstat, string) {
	v, st, why := f.raw(p)
	if st != vKnown || f.mask == nil {
		return v, st, why
	}
	return applyMask(v, f.mask, f.xor), vKnown, ""
}

func applyMask(v, mask, xor []byte) []byte {
	out := make([]byte, len(mask))
	for i := range out {
		var b byte
		if i < len(v) {
			b = v[i]
		}
		b &= mask[i]
		if i < len(xor) {
			b ^= xor[i]
		}
		out[i] = b
	}
	return out
}

// payloadValue synthesises the header bytes a new inbound packet of class p has: what the
// model fixes (version, protocol, source, TCP SYN, ICMP type) is known, what the sender
// picks is the attacker's, the destination address is the host's.
func payloadValue(f field, p *pkt) ([]byte, vstat, string) {
	lo, hi := f.off, f.off+f.len
	switch f.base {
	case 1: // network header
		v, _, _, st, why := netHeader(f, p)
		return v, st, why
	case 2: // transport header
		switch p.l4 {
		case 6, 17:
			if lo == 2 && hi == 4 {
				return nil, vDport, ""
			}
			if p.l4 == 6 && lo == 13 && hi == 14 {
				// A new connection's flags: SYN set, FIN, RST and ACK clear. PSH, URG, ECE
				// and CWR are the sender's (an ECN-setup SYN carries ECE and CWR), so only a
				// mask that leaves them out makes the byte known: "tcp flags == syn" does not
				// hold for every SYN.
				if len(f.mask) == 1 && f.mask[0]&tcpFreeFlags == 0 {
					return []byte{0x02}, vKnown, ""
				}
				return nil, vAttacker, ""
			}
			if lo < 4 && hi > 2 {
				return nil, vHost, "a load that spans the destination port"
			}
			return nil, vAttacker, ""
		case 1, 58:
			if lo == 0 && hi == 1 {
				return []byte{p.icmpType}, vKnown, ""
			}
			if lo == 0 && hi == 2 {
				return []byte{p.icmpType, 0}, vKnown, ""
			}
			if lo == 1 && hi == 2 {
				return []byte{0}, vKnown, ""
			}
			return nil, vAttacker, ""
		}
		return nil, vAttacker, ""
	}
	return nil, vHost, fmt.Sprintf("a load from payload base %d", f.base)
}

// netHeader synthesises the network header bytes of a new inbound packet of class p that
// load f reads (see payloadValue). A load over bytes the sender chooses, when not all of them
// are free or some are narrowed to a few values (the IPv6 next header), is vPartial: free are
// the offsets of those bytes in v and dom their possible values (nil: any).
func netHeader(f field, p *pkt) (v []byte, free []int, dom [][]byte, st vstat, why string) {
	lo, hi := f.off, f.off+f.len
	var h []byte
	var known [][2]uint32 // known byte ranges
	var host [2]uint32    // destination address
	narrowed := map[uint32][]byte{}
	if p.v6 {
		h = make([]byte, 40)
		copy(h[8:24], p.saddr.AsSlice())
		host = [2]uint32{24, 40}
		// The next header field is the upper-layer protocol or an extension header the sender
		// puts before it (hop-by-hop 0, routing 43, fragment 44, destination options 60, AH
		// 51), which the kernel accepts: "ip6 nexthdr tcp drop" does not hold for every TCP
		// packet, but "ip6 nexthdr icmpv6" never holds for one. (meta l4proto, which nft and
		// ip6tables-nft write for "tcp dport" and "-p tcp", skips extension headers.)
		narrowed[6] = []byte{p.l4, 0, 43, 44, 51, 60}
	} else {
		h = make([]byte, 20)
		h[0] = 0x45
		h[9] = p.l4
		copy(h[12:16], p.saddr.AsSlice())
		known = [][2]uint32{{0, 1}, {9, 10}}
		host = [2]uint32{16, 20}
	}
	if hi > uint32(len(h)) {
		return nil, nil, nil, vAttacker, ""
	}
	if lo < host[1] && hi > host[0] {
		return nil, nil, nil, vHost, "the destination address"
	}
	src := [2]uint32{12, 16}
	if p.v6 {
		src = [2]uint32{8, 24}
	}
	if lo < src[1] && hi > src[0] {
		// Prefix matches on the source are split exactly (cond.srcHold); anything else
		// on it is not modelled.
		return nil, nil, nil, vHost, "the source address, matched other than by a prefix or range"
	}
	combos, anyNarrowed := 1, false
	for i := lo; i < hi; i++ {
		fixed := false
		for _, k := range known {
			fixed = fixed || (i >= k[0] && i < k[1])
		}
		if fixed {
			continue
		}
		free = append(free, int(i-lo))
		d := narrowed[i]
		dom = append(dom, d)
		if d != nil {
			anyNarrowed = true
			combos *= len(d)
		} else {
			combos *= 256
		}
		if combos > maxCombos {
			// Trying every value of several bytes is too much work per packet class.
			return nil, nil, nil, vHost, "a load over a field the analysis fixes and several bytes the sender chooses"
		}
	}
	switch {
	case len(free) == 0:
		return h[lo:hi], nil, nil, vKnown, ""
	case len(free) == int(hi-lo) && !anyNarrowed:
		return nil, nil, nil, vAttacker, ""
	}
	return append([]byte(nil), h[lo:hi]...), free, dom, vPartial, ""
}

// maxCombos caps the values partialHolds tries for one load: two free bytes, or one free byte
// and one narrowed to a few values.
const maxCombos = 1 << 16

// srcRange is a range of source addresses a condition names.
type srcRange struct{ lo, hi netip.Addr }

// cond is one condition of a rule.
type cond struct {
	text    string
	dport   bool    // a condition on the destination port: holds exactly for ports (TCP and UDP)
	dportOr bool    // with dport: also on fields the sender chooses (source port), so only "may hold"
	ports   portSet // when dport
	named   portSet // the ports it names
	eval    func(p *pkt) (tri, string)
	srcs    []srcRange // the source ranges it names
	// srcHold[0] (IPv4), srcHold[1] (IPv6): a condition on the source address holds exactly
	// for these addresses; nil when it is not one (or not a prefix match) for that family.
	srcHold [2]*addrSet
	ifnames []string
	ifidx   []uint32
	notes   []string // what the compiler could not model in this condition
}

// stepKind is the kind of a step of a rule.
type stepKind uint8

const (
	stCond stepKind = iota
	stVmap
	stLimit
	stLog
	stCounter
	stVerdict
	stReject
	stNat
	stOther  // a statement (or load) not modelled: noted, otherwise passed through
	stConcat // a lookup of a concatenation of fields in a set
)

// step is one step of a compiled rule.
type step struct {
	kind    stepKind
	cond    *cond
	vmap    *vmapStep
	concat  *concatStep
	verdict Jump
	text    string
	note    string // stOther: what was not modelled
}

// vmapStep is a verdict map lookup: the verdict of the element the field matches.
type vmapStep struct {
	f     field
	set   *Set
	idx   *setIndex
	ports []portSet // per idx.ivs element, for a destination-port key
	dport bool
	// keys: the map is looked up as a concatenated set is (one field or several), each
	// element split off the flow by its ports, sources and known fields; see keyedVmap.
	keys *concatStep
	// unfollowed: a concatenated key whose fields could not be followed: every verdict
	// may apply (noted).
	unfollowed bool
	// named: the interfaces and sources the keys name (gathered into the analysis'
	// equivalence classes as a condition's are); only its ifnames, ifidx and srcs are set.
	named *cond
}

// concatStep is a lookup of fields, concatenated in registers (each padded to 4 bytes), in a
// set whose elements are ranges (or single values) of each field.
type concatStep struct {
	fields []field
	slots  []uint32 // byte offset of each field in an element's key
	ivs    []setIv
	invert bool
}

// crule is a compiled rule.
type crule struct {
	rule  *Rule
	steps []step
}

// compiler holds what compiling a table needs.
type compiler struct {
	table    *TableDef
	sets     map[string]*setIndex
	marksSet bool
	// untracked: some rule (notrack, iptables' -j CT --notrack or NOTRACK) leaves packets
	// untracked, so a new connection's ct state may be untracked rather than new.
	untracked bool
}

func newCompiler(t *TableDef) *compiler {
	return &compiler{table: t, sets: map[string]*setIndex{}}
}

func (c *compiler) index(name string) (*Set, *setIndex) {
	s := c.table.set(name)
	if s == nil {
		return nil, nil
	}
	if ix, ok := c.sets[name]; ok {
		return s, ix
	}
	ix := buildIndex(s)
	c.sets[name] = ix
	return s, ix
}

// regOff maps a register number to its byte offset in the register file: NFT_REG_1..4 are
// 16 bytes each, NFT_REG32_00..15 (8..23) are 4 bytes each over the same storage.
func regOff(r uint32) (uint32, bool) {
	switch {
	case r >= 1 && r <= 4:
		return (r - 1) * 16, true
	case r >= 8 && r <= 23:
		return (r - 8) * 4, true
	}
	return 0, false
}

// compile translates one rule.
func (c *compiler) compile(r *Rule) *crule {
	cr := &crule{rule: r}
	regs := map[uint32]field{}
	fam := 0
	switch c.table.Family {
	case "ip":
		fam = 4
	case "ip6":
		fam = 6
	}
	load := func(reg uint32, f field) {
		if o, ok := regOff(reg); ok {
			f.fam = fam
			regs[o] = f
		}
	}
	get := func(reg uint32) field {
		o, ok := regOff(reg)
		if !ok {
			return field{kind: fkUnknown, what: fmt.Sprintf("register %d", reg)}
		}
		f, ok := regs[o]
		if !ok {
			return field{kind: fkNone}
		}
		return f
	}
	other := func(text, note string) {
		cr.steps = append(cr.steps, step{kind: stOther, text: text, note: note})
	}
	for i, e := range r.Exprs {
		switch e := e.(type) {
		case Payload:
			if e.SReg != 0 {
				other("payload set", "a statement that rewrites the packet (payload set)")
				continue
			}
			load(e.DReg, field{kind: fkPayload, base: e.Base, off: e.Offset, len: e.Len})
		case Meta:
			if e.SReg != 0 {
				if e.Key == metaMark {
					c.marksSet = true
				}
				other("meta "+metaKeyName(e.Key)+" set", "a statement that sets meta "+metaKeyName(e.Key))
				continue
			}
			load(e.DReg, field{kind: fkMeta, key: e.Key, len: metaLen(e.Key)})
		case Ct:
			if e.SReg != 0 {
				if e.Key == ctMark {
					c.marksSet = true
				}
				other("ct "+ctKeyName(e.Key)+" set", "a statement that sets ct "+ctKeyName(e.Key))
				continue
			}
			if e.Dir != nil && *e.Dir != 0 && (e.Key == ctProtoDst || e.Key == ctSrc || e.Key == ctSrcIP || e.Key == ctSrcIP6) {
				load(e.DReg, field{kind: fkUnknown, what: "ct reply-direction " + ctKeyName(e.Key)})
				continue
			}
			load(e.DReg, field{kind: fkCt, key: e.Key, len: ctLen(e.Key)})
		case Fib:
			load(e.DReg, field{kind: fkFib, key: e.Result, flags: e.Flags, len: 4})
		case Bitwise:
			src := get(e.SReg)
			if e.Op != 0 || len(e.Mask) != int(e.Len) {
				load(e.DReg, field{kind: fkUnknown, what: "a bitwise shift"})
				continue
			}
			m := append([]byte(nil), e.Mask...)
			x := make([]byte, len(m))
			copy(x, e.Xor)
			if src.mask != nil {
				for j := range m {
					if j < len(src.mask) {
						pm := src.mask[j]
						var px byte
						if j < len(src.xor) {
							px = src.xor[j]
						}
						x[j] = (px & m[j]) ^ x[j]
						m[j] &= pm
					}
				}
			}
			src.mask, src.xor = m, x
			if o, ok := regOff(e.DReg); ok {
				regs[o] = src
			}
		case Immediate:
			if e.Verdict != nil {
				cr.steps = append(cr.steps, step{kind: stVerdict, verdict: *e.Verdict, text: e.Verdict.String()})
				continue
			}
			load(e.DReg, field{kind: fkImm, imm: e.Data, len: uint32(len(e.Data))})
		case Cmp:
			f := get(e.SReg)
			if f.kind == fkMeta && (f.key == metaNFProto || f.key == metaProtocol) && e.Op == 0 {
				switch {
				case bytes.Equal(e.Data, []byte{2}), bytes.Equal(e.Data, []byte{0x08, 0x00}):
					fam = 4
				case bytes.Equal(e.Data, []byte{10}), bytes.Equal(e.Data, []byte{0x86, 0xdd}):
					fam = 6
				}
			}
			cd := c.cmpCond(f, e.Op, e.Data)
			cr.steps = append(cr.steps, step{kind: stCond, cond: cd, text: cd.text})
		case Range:
			cd := c.rangeCond(get(e.SReg), e.Op == 1, e.From, e.To)
			cr.steps = append(cr.steps, step{kind: stCond, cond: cd, text: cd.text})
		case Lookup:
			f := get(e.SReg)
			s, ix := c.index(e.Set)
			if s == nil {
				cd := unknownCond("@"+e.Set, "a lookup in set "+e.Set+", which was not read")
				cr.steps = append(cr.steps, step{kind: stCond, cond: cd, text: cd.text})
				continue
			}
			if s.Concat && !e.HasDReg {
				cr.steps = append(cr.steps, c.concatLookup(e, s, ix, regs))
				continue
			}
			if e.HasDReg {
				if e.DReg == 0 && s.Verdicts && (s.Concat || wideKeys(ix, f) || !f.isDport()) {
					cr.steps = append(cr.steps, c.keyedVmap(e, f, s, ix, regs))
					continue
				}
				if e.DReg == 0 && s.Verdicts {
					vm := &vmapStep{f: f, set: s, idx: ix, dport: f.isDport()}
					if vm.dport {
						for _, iv := range ix.ivs {
							vm.ports = append(vm.ports, ivPorts(iv, f))
						}
					}
					cr.steps = append(cr.steps, step{kind: stVmap, vmap: vm, text: fieldName(f) + " vmap " + setRef(s, f)})
					continue
				}
				if e.DReg == 0 {
					other("vmap @"+e.Set, "a verdict map whose elements hold no verdicts ("+e.Set+")")
					continue
				}
				other("map @"+e.Set, "a map lookup ("+e.Set+") whose data is used later")
				load(e.DReg, field{kind: fkUnknown, what: "data from map " + e.Set})
				continue
			}
			cd := c.lookupCond(f, s, ix, e.Invert)
			cr.steps = append(cr.steps, step{kind: stCond, cond: cd, text: cd.text})
		case Counter:
			cr.steps = append(cr.steps, step{kind: stCounter, text: fmt.Sprintf("counter packets %d bytes %d", e.Packets, e.Bytes)})
		case Log:
			t := "log"
			if e.Prefix != "" {
				t += fmt.Sprintf(" prefix %q", e.Prefix)
			}
			if e.Group != nil {
				t += fmt.Sprintf(" group %d", *e.Group)
			}
			cr.steps = append(cr.steps, step{kind: stLog, text: t})
		case Limit:
			cr.steps = append(cr.steps, step{kind: stLimit, text: limitText(e)})
		case RejectStmt:
			cr.steps = append(cr.steps, step{kind: stReject, text: rejectText(e)})
		case Nat:
			cr.steps = append(cr.steps, step{kind: stNat, text: e.Kind})
		case Xt:
			cr.steps = append(cr.steps, c.xtSteps(e, fam)...)
		case Other:
			switch e.Name {
			case "objref":
				cr.steps = append(cr.steps, step{kind: stCounter, text: "objref"})
			case "dynset", "quota", "connlimit":
				cd := unknownCond(e.Name, "")
				cd.eval = func(*pkt) (tri, string) { return tAttacker, "" }
				cr.steps = append(cr.steps, step{kind: stLimit, text: e.Name + " (may or may not hold)", cond: cd})
			case "notrack":
				c.untracked = true
				other(e.Name, "expression "+e.Name+" is not modelled")
			default:
				other(e.Name, "expression "+e.Name+" is not modelled")
			}
		default:
			other(fmt.Sprintf("expression %d", i), "an expression that is not modelled")
		}
	}
	return cr
}

// reorder sorts each run of consecutive conditions (which are side-effect free and all must
// hold) so that conditions on one packet class come first, then those on the destination port,
// then those on the source address: a flow is then split only by the rules that can match it.
func reorder(steps []step) {
	rank := func(st step) int {
		switch {
		case st.cond.dport:
			return 1
		case st.cond.srcHold[0] != nil || st.cond.srcHold[1] != nil:
			return 2
		}
		return 0
	}
	for i := 0; i < len(steps); {
		j := i
		for j < len(steps) && steps[j].kind == stCond {
			j++
		}
		if j > i+1 {
			sort.SliceStable(steps[i:j], func(a, b int) bool { return rank(steps[i+a]) < rank(steps[i+b]) })
		}
		i = j + 1
	}
}

func unknownCond(text, note string) *cond {
	cd := &cond{text: text}
	if note != "" {
		cd.notes = []string{note}
	}
	cd.eval = func(*pkt) (tri, string) { return tHost, note }
	return cd
}

// cmpHolds compares v with d as nft's cmp does: memcmp over len(d) bytes.
func cmpHolds(op uint32, v, d []byte) bool {
	if len(v) < len(d) {
		return false
	}
	x := bytes.Compare(v[:len(d)], d)
	switch op {
	case 0:
		return x == 0
	case 1:
		return x != 0
	case 2:
		return x < 0
	case 3:
		return x <= 0
	case 4:
		return x > 0
	case 5:
		return x >= 0
	}
	return false
}

var cmpOps = []string{"==", "!=", "<", "<=", ">", ">="}

func opText(op uint32) string {
	if int(op) < len(cmpOps) {
		return cmpOps[op]
	}
	return fmt.Sprintf("op%d", op)
}

// newCond fills the generic parts of a condition on field f that holds when test holds.
func newCond(f field, text string, test func(v []byte) bool, portsFast func() (portSet, portSet, bool)) *cond {
	cd := &cond{text: text}
	if f.kind == fkNone {
		cd.notes = append(cd.notes, "a comparison of a register no expression loaded")
	}
	if f.kind == fkUnknown {
		cd.notes = append(cd.notes, f.what+" is not modelled")
	}
	if f.isDport() {
		cd.dport = true
		if ps, named, ok := portsFast(); ok && f.mask == nil {
			cd.ports, cd.named = ps, named
		} else {
			cd.ports = bruteForcePorts(f, test)
			cd.named = cd.ports
		}
	}
	cd.eval = func(p *pkt) (tri, string) {
		v, st, why := f.value(p)
		switch st {
		case vKnown:
			if test(v) {
				return tTrue, ""
			}
			return tFalse, ""
		case vDport:
			// Only a masked or partial destination port reaches here (isDport covers the
			// exact field): the analysis treats it as chosen by the sender.
			return tAttacker, ""
		case vAttacker:
			return tAttacker, ""
		case vPartial:
			return partialHolds(f, p, test), ""
		case vUntracked:
			isNew, isUntracked := v, u32n(ctStateUntracked)
			if f.mask != nil {
				isNew, isUntracked = applyMask(isNew, f.mask, f.xor), applyMask(isUntracked, f.mask, f.xor)
			}
			switch a, b := test(isNew), test(isUntracked); {
			case a && b:
				return tTrue, ""
			case !a && !b:
				return tFalse, ""
			}
			return tHost, "whether a notrack rule left the packet untracked (ct state untracked, not new)"
		}
		return tHost, why
	}
	return cd
}

// partialHolds decides a condition on a load that is known but for bytes the sender chooses
// (vPartial): it holds when it holds for every value they may take, never when for none, and
// otherwise as the sender chooses.
func partialHolds(f field, p *pkt, test func(v []byte) bool) tri {
	raw, free, dom, _, _ := netHeader(f, p)
	yes, no := false, false
	idx := make([]int, len(free)) // the value of each free byte, as an index into its domain
	for !(yes && no) {
		v := append([]byte(nil), raw...)
		for k, off := range free {
			if dom[k] != nil {
				v[off] = dom[k][idx[k]]
			} else {
				v[off] = byte(idx[k])
			}
		}
		if f.mask != nil {
			v = applyMask(v, f.mask, f.xor)
		}
		if test(v) {
			yes = true
		} else {
			no = true
		}
		// Next combination, odometer style.
		k := 0
		for ; k < len(free); k++ {
			n := 256
			if dom[k] != nil {
				n = len(dom[k])
			}
			if idx[k]++; idx[k] < n {
				break
			}
			idx[k] = 0
		}
		if k == len(free) {
			break
		}
	}
	switch {
	case yes && no:
		return tAttacker
	case yes:
		return tTrue
	}
	return tFalse
}

func bruteForcePorts(f field, test func(v []byte) bool) portSet {
	var ps portSet
	b := make([]byte, 2)
	for p := 0; p <= 65535; p++ {
		binary.BigEndian.PutUint16(b, uint16(p))
		v := b
		if f.mask != nil {
			v = applyMask(b, f.mask, f.xor)
		}
		if test(v) {
			ps = append(ps, portRange{uint16(p), uint16(p)})
		}
	}
	return ps.normalise()
}

func (c *compiler) cmpCond(f field, op uint32, d []byte) *cond {
	if f.kind == fkPayload && f.base == 2 && f.mask == nil && op == 0 && f.off < 2 && f.off+f.len >= 4 && int(f.len) == len(d) {
		// A load spanning the source and destination ports, as iptables-nft writes for
		// "--sport 67 --dport 68": the destination port must be the one in the middle, the
		// rest is the sender's choice.
		x := binary.BigEndian.Uint16(d[2-f.off : 4-f.off])
		cd := &cond{text: fmt.Sprintf("%s 0x%x (th dport %d)", fieldName(f), d, x), dport: true, dportOr: true, ports: onePort(x), named: onePort(x)}
		cd.eval = func(*pkt) (tri, string) { return tAttacker, "" }
		return cd
	}
	text := fieldName(f) + " " + opText(op) + " " + valueText(f, d)
	if op == 0 {
		text = fieldName(f) + " " + valueText(f, d)
	}
	if f.kind == fkCt && f.key == ctState && f.mask != nil && op <= 1 && isZero(d) {
		// nft's "ct state established,related": (state & mask) != 0
		if op == 1 {
			text = "ct state " + ctStateText(f.mask)
		} else {
			text = "ct state != " + ctStateText(f.mask)
		}
	}
	cd := newCond(f, text, func(v []byte) bool { return cmpHolds(op, v, d) }, func() (portSet, portSet, bool) {
		if len(d) != 2 {
			return nil, nil, false
		}
		x := binary.BigEndian.Uint16(d)
		one := onePort(x)
		switch op {
		case 0:
			return one, one, true
		case 1:
			return one.complement(), one, true
		case 2:
			if x == 0 {
				return nil, one, true
			}
			return portSet{{0, x - 1}}, one, true
		case 3:
			return portSet{{0, x}}, one, true
		case 4:
			if x == 65535 {
				return nil, one, true
			}
			return portSet{{x + 1, 65535}}, one, true
		case 5:
			return portSet{{x, 65535}}, one, true
		}
		return nil, nil, false
	})
	c.addrInfo(cd, f, [][2][]byte{{d, d}}, op == 1, op <= 1)
	if (op == 0 || op == 1) && multicastDaddr(f, d) {
		// A packet to this host is unicast: its destination is never a multicast address.
		neq := op == 1
		cd.eval = func(*pkt) (tri, string) { return boolTri(neq), "" }
	}
	return cd
}

// multicastDaddr reports whether f is the destination address (or its leading bytes) and d,
// under f's mask, lies in 224.0.0.0/4 or ff00::/8.
func multicastDaddr(f field, d []byte) bool {
	if f.kind != fkPayload || f.base != 1 || len(d) == 0 {
		return false
	}
	first := d[0]
	if len(f.mask) > 0 {
		first &= f.mask[0]
	}
	switch {
	case f.fam == 4 && f.off == 16:
		return first&0xf0 == 0xe0 && (f.mask == nil || f.mask[0]&0xf0 == 0xf0)
	case f.fam == 6 && f.off == 24:
		return first == 0xff && (f.mask == nil || f.mask[0] == 0xff)
	}
	return false
}

func (c *compiler) rangeCond(f field, neq bool, from, to []byte) *cond {
	text := fieldName(f) + " " + valueText(f, from) + "-" + valueText(f, to)
	if neq {
		text = fieldName(f) + " != " + valueText(f, from) + "-" + valueText(f, to)
	}
	cd := newCond(f, text, func(v []byte) bool {
		in := cmpHolds(5, v, from) && cmpHolds(3, v, to)
		return in != neq
	}, func() (portSet, portSet, bool) {
		if len(from) != 2 || len(to) != 2 {
			return nil, nil, false
		}
		r := portSet{{binary.BigEndian.Uint16(from), binary.BigEndian.Uint16(to)}}
		if r[0].lo > r[0].hi {
			r = nil
		}
		if neq {
			return r.complement(), r, true
		}
		return r, r, true
	})
	c.addrInfo(cd, f, [][2][]byte{{from, to}}, neq, true)
	return cd
}

func (c *compiler) lookupCond(f field, s *Set, ix *setIndex, invert bool) *cond {
	text := fieldName(f) + " " + setRef(s, f)
	if invert {
		text = fieldName(f) + " != " + setRef(s, f)
	}
	cd := newCond(f, text, func(v []byte) bool { return ix.has(v) != invert }, func() (portSet, portSet, bool) {
		var ps portSet
		for _, iv := range ix.ivs {
			ps = append(ps, ivPorts(iv, f)...)
		}
		ps = ps.normalise()
		if invert {
			return ps.complement(), ps, true
		}
		return ps, ps, true
	})
	if s.Concat {
		cd.notes = append(cd.notes, "a lookup of a concatenation in set "+s.Name+" is not modelled")
		cd.eval = func(*pkt) (tri, string) { return tHost, "a concatenated lookup" }
		cd.dport = false
	}
	if s.Concat {
		return cd
	}
	var bounds [][2][]byte
	for _, iv := range ix.ivs {
		bounds = append(bounds, [2][]byte{iv.lo, iv.hi})
	}
	c.addrInfo(cd, f, bounds, invert, true)
	return cd
}

// concatLookup gathers the fields a concatenated lookup reads from consecutive registers.
func (c *compiler) concatLookup(e Lookup, s *Set, ix *setIndex, regs map[uint32]field) step {
	keyLen := 0
	for _, iv := range ix.ivs {
		keyLen = len(iv.lo)
		break
	}
	text := "(concatenation) @" + s.Name
	if e.Invert {
		text = "(concatenation) != @" + s.Name
	}
	o, ok := regOff(e.SReg)
	cs := &concatStep{ivs: ix.ivs, invert: e.Invert}
	var names []string
	for pos := uint32(0); ok && int(pos) < keyLen; {
		f, found := regs[o+pos]
		if !found || f.len == 0 {
			ok = false
			break
		}
		cs.fields = append(cs.fields, f)
		cs.slots = append(cs.slots, pos)
		names = append(names, fieldName(f))
		pos += (f.len + 3) &^ 3
		if int(pos) > keyLen {
			ok = false
		}
	}
	if !ok || len(cs.fields) == 0 {
		cd := unknownCond(text, "a lookup of a concatenation in set "+s.Name+" whose fields could not be followed")
		return step{kind: stCond, cond: cd, text: text}
	}
	text = strings.Join(names, " . ") + " @" + s.Name
	if e.Invert {
		text = strings.Join(names, " . ") + " != @" + s.Name
	}
	return step{kind: stConcat, concat: cs, text: text}
}

// keyedVmap compiles a verdict map on a concatenation (`ip protocol . th dport vmap { tcp .
// 22 : accept }`) or on a field other than the destination port (`iifname vmap`, `ip saddr
// vmap`) as the analysis runs concatenated lookups: elements split flows by their ports and
// sources exactly and compare the other fields with the packet class's values.
func (c *compiler) keyedVmap(e Lookup, f field, s *Set, ix *setIndex, regs map[uint32]field) step {
	vm := &vmapStep{f: f, set: s, idx: ix}
	if !s.Concat && !wideKeys(ix, f) {
		vm.keys = &concatStep{fields: []field{f}, slots: []uint32{0}, ivs: ix.ivs}
		c.vmapNames(vm)
		return step{kind: stVmap, vmap: vm, text: fieldName(f) + " vmap " + vmapElements(s, vm.keys, 64)}
	}
	st := c.concatLookup(Lookup{Set: e.Set, SReg: e.SReg}, s, ix, regs)
	if st.kind != stConcat {
		vm.unfollowed = true
		return step{kind: stVmap, vmap: vm, text: "(concatenation) vmap @" + s.Name}
	}
	vm.keys = st.concat
	c.vmapNames(vm)
	var names []string
	for _, kf := range vm.keys.fields {
		names = append(names, fieldName(kf))
	}
	return step{kind: stVmap, vmap: vm, text: strings.Join(names, " . ") + " vmap " + vmapElements(s, vm.keys, 64)}
}

// vmapNames records the interfaces and source ranges the keys of a verdict map name.
func (c *compiler) vmapNames(vm *vmapStep) {
	vm.named = &cond{}
	for k, f := range vm.keys.fields {
		var bounds [][2][]byte
		for _, iv := range vm.keys.ivs {
			lo, hi := slot(iv.lo, vm.keys.slots[k], f.len), ivHi(iv, vm.keys.slots[k], f.len)
			if lo != nil && hi != nil {
				bounds = append(bounds, [2][]byte{lo, hi})
			}
		}
		c.addrInfo(vm.named, f, bounds, false, true)
	}
}

// wideKeys reports whether a set's keys are longer than field f in its register: a
// concatenation (google/nftables v0.3.0 loses a verdict map's key type, and with it the
// concatenation flag, so the keys tell).
func wideKeys(ix *setIndex, f field) bool {
	for _, iv := range ix.ivs {
		return len(iv.lo) > int((f.len+3)&^3)
	}
	return false
}

// vmapElements prints a verdict map's elements field by field (`tcp . 22 : accept`), at most
// limit of them (0: all); a named map prints as its name.
func vmapElements(s *Set, cs *concatStep, limit int) string {
	if !s.Anonymous {
		return "@" + s.Name
	}
	var parts []string
	for i, iv := range cs.ivs {
		if limit > 0 && i == limit {
			parts = append(parts, fmt.Sprintf("… (%d elements)", len(cs.ivs)))
			break
		}
		var fs []string
		for k, f := range cs.fields {
			lo, hi := slot(iv.lo, cs.slots[k], f.len), ivHi(iv, cs.slots[k], f.len)
			if lo == nil || hi == nil {
				fs = append(fs, hexOrNum(iv.lo))
				break
			}
			t := valueText(f, lo)
			if !bytes.Equal(lo, hi) {
				t += "-" + valueText(f, hi)
			}
			fs = append(fs, t)
		}
		t := strings.Join(fs, " . ")
		if iv.verdict != nil {
			t += " : " + iv.verdict.String()
		}
		parts = append(parts, t)
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}

// ivHi is the upper end of one field of an interval (an interval open at the top ends at
// the field's largest value).
func ivHi(iv setIv, off, n uint32) []byte {
	if iv.hi == nil {
		if int(off+n) > len(iv.lo) {
			return nil
		}
		return bytes.Repeat([]byte{0xff}, int(n))
	}
	return slot(iv.hi, off, n)
}

// slot is the bytes of one field in a concatenated key, or nil when the key is too short.
func slot(key []byte, off, n uint32) []byte {
	if int(off+n) > len(key) {
		return nil
	}
	return key[off : off+n]
}

// isSaddr reports whether f is the whole source address of a packet of family v6 (or not).
func isSaddr(f field, v6 bool) bool {
	if f.kind == fkCt && f.mask == nil {
		return (!v6 && f.key == ctSrcIP) || (v6 && f.key == ctSrcIP6)
	}
	if f.kind != fkPayload || f.base != 1 || f.mask != nil {
		return false
	}
	if v6 {
		return f.fam != 4 && f.off == 8 && f.len == 16
	}
	return f.fam != 6 && f.off == 12 && f.len == 4
}

// ivPorts is the port range of one set index interval (2-byte keys).
func ivPorts(iv setIv, f field) portSet {
	if len(iv.lo) < 2 {
		return nil
	}
	lo := binary.BigEndian.Uint16(iv.lo)
	hi := uint16(65535)
	if len(iv.hi) >= 2 {
		hi = binary.BigEndian.Uint16(iv.hi)
	}
	if lo > hi {
		return nil
	}
	return portSet{{lo, hi}}
}

// addrInfo records the source addresses and interfaces a condition names (the boundaries of
// the analysis' equivalence classes).
func (c *compiler) addrInfo(cd *cond, f field, bounds [][2][]byte, negate, exact bool) {
	switch {
	case f.kind == fkMeta && f.key == metaIIFName:
		for _, b := range bounds {
			cd.ifnames = append(cd.ifnames, ifnameText(b[0]))
		}
		return
	case f.kind == fkMeta && f.key == metaIIF:
		for _, b := range bounds {
			if len(b[0]) == 4 {
				cd.ifidx = append(cd.ifidx, binary.NativeEndian.Uint32(b[0]))
			}
		}
		return
	}
	type view struct {
		v6  bool
		rel uint32
	}
	var views []view
	switch {
	case f.kind == fkPayload && f.base == 1:
		if f.fam != 6 && f.off >= 12 && f.off+f.len <= 16 {
			views = append(views, view{false, f.off - 12})
		}
		if f.fam != 4 && f.off >= 8 && f.off+f.len <= 24 {
			views = append(views, view{true, f.off - 8})
		}
	case f.kind == fkCt && (f.key == ctSrcIP || (f.key == ctSrc && f.len == 4)):
		views = append(views, view{false, 0})
	case f.kind == fkCt && (f.key == ctSrcIP6 || (f.key == ctSrc && f.len == 16)):
		views = append(views, view{true, 0})
	}
	for _, vw := range views {
		if vw.rel != 0 || !contiguous(f.mask) || !exact {
			if len(views) == 1 {
				cd.notes = append(cd.notes, "a source address match that is not a prefix or a range")
			}
			continue
		}
		var set addrSet
		for _, b := range bounds {
			lo, hi, ok := addrSpan(b[0], b[1], f.mask, vw.v6)
			if ok {
				cd.srcs = append(cd.srcs, srcRange{lo, hi})
				set = append(set, addrRange{lo, hi})
			}
		}
		set = set.normalise()
		if negate {
			set = set.complement(vw.v6)
		}
		fi := 0
		if vw.v6 {
			fi = 1
		}
		cd.srcHold[fi] = &set
	}
}

// addrSpan is the range of addresses whose leading bytes (masked) lie in [lo, hi]; hi nil:
// to the end of the space.
func addrSpan(lo, hi, mask []byte, v6 bool) (netip.Addr, netip.Addr, bool) {
	n := 4
	if v6 {
		n = 16
	}
	if len(lo) > n {
		return netip.Addr{}, netip.Addr{}, false
	}
	a, b := make([]byte, n), make([]byte, n)
	copy(a, lo)
	for i := range b {
		b[i] = 0xff
	}
	if hi != nil {
		copy(b, hi)
		if len(hi) > n {
			return netip.Addr{}, netip.Addr{}, false
		}
	}
	for i := range n {
		var m byte
		if i < len(lo) {
			m = 0xff
			if mask != nil && i < len(mask) {
				m = mask[i]
			}
		}
		a[i] &= m
		b[i] |= ^m
	}
	la, _ := netip.AddrFromSlice(a)
	lb, _ := netip.AddrFromSlice(b)
	if lb.Less(la) {
		return netip.Addr{}, netip.Addr{}, false
	}
	return la, lb, true
}

// contiguous reports whether mask is a prefix mask (ones then zeros), or nil.
func contiguous(mask []byte) bool {
	zero := false
	for _, b := range mask {
		for bit := 7; bit >= 0; bit-- {
			one := b&(1<<bit) != 0
			if one && zero {
				return false
			}
			if !one {
				zero = true
			}
		}
	}
	return true
}

func isZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// setIndex is a set's elements as sorted, disjoint intervals of keys.
type setIndex struct {
	ivs []setIv
}

// setIv is an inclusive interval of keys (hi nil: to the largest key), with a verdict in a
// verdict map.
type setIv struct {
	lo, hi  []byte
	verdict *Jump
}

func buildIndex(s *Set) *setIndex {
	ix := &setIndex{}
	els := append([]Element(nil), s.Elements...)
	if !s.Interval {
		for _, e := range els {
			hi := e.Key
			if e.KeyEnd != nil {
				hi = e.KeyEnd
			}
			ix.ivs = append(ix.ivs, setIv{lo: e.Key, hi: hi, verdict: e.Verdict})
		}
	} else {
		sort.SliceStable(els, func(i, j int) bool {
			if x := bytes.Compare(els[i].Key, els[j].Key); x != 0 {
				return x < 0
			}
			return els[i].IntervalEnd && !els[j].IntervalEnd
		})
		for i, e := range els {
			if e.IntervalEnd {
				continue
			}
			iv := setIv{lo: e.Key, verdict: e.Verdict}
			if e.KeyEnd != nil {
				iv.hi = e.KeyEnd
			} else if i+1 < len(els) && els[i+1].IntervalEnd {
				iv.hi = decrement(els[i+1].Key)
			}
			ix.ivs = append(ix.ivs, iv)
		}
	}
	sort.SliceStable(ix.ivs, func(i, j int) bool { return bytes.Compare(ix.ivs[i].lo, ix.ivs[j].lo) < 0 })
	return ix
}

// decrement returns b - 1 as a big-endian number (b > 0).
func decrement(b []byte) []byte {
	out := append([]byte(nil), b...)
	for i := len(out) - 1; i >= 0; i-- {
		if out[i] > 0 {
			out[i]--
			return out
		}
		out[i] = 0xff
	}
	return out
}

// find returns the interval holding v, or -1.
func (ix *setIndex) find(v []byte) int {
	i := sort.Search(len(ix.ivs), func(i int) bool { return bytes.Compare(ix.ivs[i].lo, v) > 0 }) - 1
	// Intervals may overlap in a hand-built model: look back a little.
	for j := i; j >= 0 && j >= i-4; j-- {
		iv := ix.ivs[j]
		if bytes.Compare(iv.lo, v) <= 0 && (iv.hi == nil || bytes.Compare(v, iv.hi) <= 0) {
			return j
		}
	}
	return -1
}

func (ix *setIndex) has(v []byte) bool { return ix.find(v) >= 0 }

func setRef(s *Set, f field) string {
	if !s.Anonymous {
		return "@" + s.Name
	}
	return setElements(s, f, 64)
}

// setElements lists a set's elements as nft does, at most limit of them (0: all).
func setElements(s *Set, f field, limit int) string {
	var parts []string
	for i, iv := range buildIndex(s).ivs {
		if limit > 0 && i == limit {
			parts = append(parts, fmt.Sprintf("… (%d elements)", len(s.Elements)))
			break
		}
		t := valueText(f, iv.lo)
		if iv.hi == nil {
			t += "-max"
		} else if !bytes.Equal(iv.lo, iv.hi) {
			t += "-" + valueText(f, iv.hi)
		}
		if iv.verdict != nil {
			t += " : " + iv.verdict.String()
		}
		parts = append(parts, t)
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}

func limitText(l Limit) string {
	units := map[uint64]string{1: "second", 60: "minute", 3600: "hour", 86400: "day", 604800: "week"}
	u, ok := units[l.Unit]
	if !ok {
		u = fmt.Sprintf("%ds", l.Unit)
	}
	over := ""
	if l.Invert {
		over = "over "
	}
	b := ""
	if l.Bytes {
		b = " bytes"
	}
	t := fmt.Sprintf("limit rate %s%d%s/%s", over, l.Rate, b, u)
	if l.Burst > 0 {
		t += fmt.Sprintf(" burst %d packets", l.Burst)
	}
	return t
}

func rejectText(r RejectStmt) string {
	switch r.Type {
	case 1:
		return "reject with tcp reset"
	case 2:
		names := []string{"no-route", "port-unreachable", "host-unreachable", "admin-prohibited"}
		if int(r.Code) < len(names) {
			return "reject with icmpx " + names[r.Code]
		}
	}
	return fmt.Sprintf("reject with icmp code %d", r.Code)
}
