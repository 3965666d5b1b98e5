package rules

import (
	"cmp"
	"context"
	"encoding/binary"
	"math/bits"
	"net/netip"
	"slices"
)

// The compiled evaluator is a bit-vector classifier. For every field of a packet (interface,
// direction, protocol, TCP flags and fragment together; source address; destination address;
// source port; destination port; ICMP type and code) a table maps the packet's value to the set of
// rules that accept it in that field, as a bitset over the expanded rules. The tables are built
// once from the interval boundaries of the rules' field sets; identical bitsets are stored once,
// each with a summary of which of its words hold rules. Evaluating a packet is one lookup per field
// (a bucket index, then a short binary search over boundaries), an AND of the bitsets over the
// words all summaries allow, and a scan for the deciding bit: the first matching rule that stops
// evaluation (quick, or inside a quick anchor) when there is one, otherwise the last matching
// rule. An established TCP packet's own SYN differs from it only in the combined bitset, so both
// are scanned in one pass. No allocation.

// pfFields is the number of bitsets ANDed per packet: the combined one (interface, direction,
// protocol, TCP flags, fragment), source, destination, the two protocol-specific ones (ports, or
// ICMP type), and interfaces when there are too many names to fold them into the first.
const pfFields = 6

// pfMaxFoldedIfs is how many interface names the combined table takes; beyond it, interfaces get
// a table of their own.
const pfMaxFoldedIfs = 16

type pfClassifier struct {
	base       int // the index of the block's first rule in the rule set
	n          int // its number of rules
	w          int // words per bitset
	pool       []uint64
	sums       []uint64 // by bitset id: bit j set when words [j*group, (j+1)*group) hold a rule
	group      int      // words per summary bit
	nclass     int
	reps       []uint8 // a protocol of each class
	protoClass [256]uint16
	combo      []uint32   // [interface][dir 0..2][class][tcp flags class 0..nts-1][fragment 0..1]
	nts        int        // TCP flag classes, plus one (index 0) for a packet that is not TCP
	flagClass  [256]uint8 // by TCP flags: the index of their class (1 …) in combo
	ifNames    []string   // sorted; interface index i+1 (0: any other name)
	ifMap      map[string]int
	ifFolded   bool     // interfaces are part of combo; otherwise ifIDs names their bitsets
	ifIDs      []uint32 // by interface index
	skipAt     []int32  // by interface index: the "set skip" entry naming it, or -1
	addr       pfAddrTable
	port       pfPortTable
	icmpDef    [257]uint32 // by type+1 (0: no type)
	icmpCodes  [257][]pfCodeID
	stop       []uint64 // rules that end evaluation when they match: quick, or in a quick anchor
	all        []uint64 // every rule of the block
	quick      []uint64
	qEnd       []int32
}

type pfCodeID struct {
	code int16
	id   uint32
}

// The roles an address plays in a rule: source or destination, the far side or the host's own.
// Each piece of the address space has a bitset id per role, so one lookup of an address serves a
// packet's source and its reply's destination alike.
const (
	pfSrcFar = iota
	pfSrcLocal
	pfDstFar
	pfDstLocal
	pfAddrRoles
)

type pfAddrTable struct {
	v4      v4Index
	ids4    [][pfAddrRoles]uint32 // by piece of v4
	starts6 []pfU128              // the whole space, IPv4 included (see pfKey)
	high6   []uint64              // the high halves of starts6, searched first
	ids6    [][pfAddrRoles]uint32
	invalid [pfAddrRoles]uint32 // for a packet without an address
}

// pfPortTable holds, for each piece of the port space, the bitset ids of the rules' source ports
// ([0]) and destination ports ([1]).
type pfPortTable struct {
	ids    [][2]uint32
	pieces []uint16 // by port: its piece (there are at most 65,536)
}

// pfInterner stores each distinct bitset once and numbers them. Bitsets are found by a hash of
// their words and compared in the pool, so the index costs a few bytes per bitset rather than a
// copy of it.
type pfInterner struct {
	w     int
	pool  []uint64
	index map[uint64]uint32 // hash → the first id with it; chain holds the others
	chain []uint32          // by id: the next id with the same hash, plus one (0: none)
}

func (in *pfInterner) add(bs []uint64) uint32 {
	h := uint64(len(bs))
	for _, x := range bs {
		h = (h ^ x) * 0x100000001b3
		h ^= h >> 29
	}
	id, ok := in.index[h]
	for ok {
		if slices.Equal(in.pool[int(id)*in.w:int(id+1)*in.w], bs) {
			return id
		}
		if in.chain[id] == 0 {
			break
		}
		id = in.chain[id] - 1
	}
	n := uint32(len(in.pool) / in.w)
	in.pool = append(in.pool, bs...)
	in.chain = append(in.chain, 0)
	if ok {
		in.chain[id] = n + 1
	} else {
		in.index[h] = n
	}
	return n
}

func pfSetBit(b []uint64, i int) { b[i>>6] |= 1 << (i & 63) }

func pfHasBit(b []uint64, i int) bool { return b[i>>6]&(1<<(i&63)) != 0 }

// pfStateFlags are the TCP flags the linter gives its sample packets by TCP state: none (not
// TCP), a SYN, an ACK, none.
var pfStateFlags = [4]uint8{0, pfSYN, pfACK, 0}

// pfFlagClasses sorts the 256 values of the TCP flags into classes that every "flags X/Y" test
// of the rules treats alike, so that the combined table needs a row per class rather than per
// value. class holds each value's class, from 1 (0 is for packets that are not TCP), and reps a
// value of each class, by class.
func pfFlagClasses(rules []pfRule) (class [256]uint8, reps []uint8) {
	type test struct{ flags, mask uint8 }
	var tests []test
	for i := range rules {
		if f := rules[i].f; f.mask != 0 && !slices.Contains(tests, test{f.flags, f.mask}) {
			tests = append(tests, test{f.flags, f.mask})
		}
	}
	reps = []uint8{0}
	seen := map[string]uint8{}
	sig := make([]byte, len(tests))
	for v := range 256 {
		for j, t := range tests {
			sig[j] = 0
			if uint8(v)&t.mask == t.flags {
				sig[j] = 1
			}
		}
		k, ok := seen[string(sig)]
		if !ok {
			k = uint8(len(reps))
			seen[string(sig)] = k
			reps = append(reps, uint8(v))
		}
		class[v] = k
	}
	return class, reps
}

// tcpState is the index of p's TCP flags class in the combined table (0 when p is not TCP).
func (c *pfClassifier) tcpState(p *Packet) int {
	if p.Proto != ProtoTCP {
		return 0
	}
	return int(c.flagClass[p.TCPFlags()])
}

// pfComboMatch decides the fields that do not depend on addresses, ports, interface or ICMP
// type: direction, protocol, TCP flags, and what a non-first fragment cannot match (pf skips
// rules with ports, TCP flags or ICMP types for those).
func pfComboMatch(r *pfRule, dirBit uint8, proto uint8, flags uint8, frag bool) bool {
	if r.dirs&dirBit == 0 || !r.protos.has(proto) {
		return false
	}
	if r.ports && (proto != ProtoTCP && proto != ProtoUDP || frag) {
		return false
	}
	f := r.f
	if proto == ProtoTCP && f.mask != 0 && (frag || flags&f.mask != f.flags) {
		return false
	}
	if len(f.icmp) > 0 && (proto != ProtoICMP && proto != ProtoICMPv6 || frag) {
		return false
	}
	return true
}

// pfProtoClasses sorts protocols into classes the rules treat alike: TCP, UDP, ICMP, ICMPv6 and
// every protocol a rule names get a class of their own; all others share class 0. reps holds a
// protocol of each class.
func pfProtoClasses(rules []pfRule) (reps []uint8, class [256]uint16) {
	reps = []uint8{0}
	var named [256]bool
	classOf := func(x uint8) {
		if !named[x] {
			named[x] = true
			class[x] = uint16(len(reps))
			reps = append(reps, x)
		}
	}
	for _, x := range []uint8{ProtoTCP, ProtoUDP, ProtoICMP, ProtoICMPv6} {
		classOf(x)
	}
	for i := range rules {
		if ps := rules[i].protos; ps != pfAllProtos {
			for k, word := range ps {
				for word != 0 {
					b := bits.TrailingZeros64(word)
					word &= word - 1
					classOf(uint8(k*64 + b))
				}
			}
		}
	}
	for x := range 256 {
		if !named[x] {
			reps[0] = uint8(x) // class 0's representative: any protocol no rule names
			break
		}
	}
	return reps, class
}

// pfBlockRules is the most rules one classifier block holds. A block's tables hold a bitset of
// its rules for every piece its rules cut the address and port spaces into, so a block costs
// about its rules squared bits; blocks of a fixed size keep a whole rule set linear in its rules
// (about 256 bytes a rule and field at 2,048). Evaluating a packet costs a few lookups per block,
// so rule sets up to this size (the 1,000-rule benchmark among them) take the single-block path.
const pfBlockRules = 2048

// pfMaxFoldedCombos bounds the combined table when interfaces are folded into it: interfaces+1
// times protocol classes. Beyond it interfaces get a table of their own, so that a block naming
// many protocols and interfaces does not multiply the two.
const pfMaxFoldedCombos = 256

// pfBuildBlocks compiles rules into classifier blocks of at most size rules each. The "set skip"
// interfaces go into the first block, whose interface index Eval consults for them. It checks
// ctx between blocks.
func pfBuildBlocks(ctx context.Context, rules []pfRule, skip []pfSkip, size int) ([]pfClassifier, error) {
	var out []pfClassifier
	for base := 0; base == 0 || base < len(rules); base += size {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		end := min(base+size, len(rules))
		c := pfBuildClassifier(rules[base:end], skip)
		c.base = base
		out = append(out, c)
		skip = nil
	}
	return out, nil
}

// pfBuildClassifier compiles rules. skip lists the "set skip" interfaces, whose index the
// classifier also resolves.
func pfBuildClassifier(rules []pfRule, skip []pfSkip) pfClassifier {
	n := len(rules)
	w := max((n+63)/64, 1)
	in := &pfInterner{w: w, index: map[uint64]uint32{}}
	c := pfClassifier{w: w, n: n}
	bs := make([]uint64, w)

	c.reps, c.protoClass = pfProtoClasses(rules)
	c.nclass = len(c.reps)

	// Interfaces: every name a rule mentions, and index 0 for all other names.
	var names []string
	for i := range rules {
		names = append(names, rules[i].ifs.names...)
	}
	for _, s := range skip {
		names = append(names, s.iface)
	}
	c.ifNames = pfSortedUnique(names)
	c.skipAt = make([]int32, len(c.ifNames)+1)
	for idx := range c.skipAt {
		c.skipAt[idx] = -1
		if idx > 0 {
			for k, s := range skip {
				if s.iface == c.ifNames[idx-1] {
					c.skipAt[idx] = int32(k)
					break
				}
			}
		}
	}
	if len(c.ifNames) > 8 {
		c.ifMap = make(map[string]int, len(c.ifNames))
		for i, name := range c.ifNames {
			c.ifMap[name] = i + 1
		}
	}
	ifHas := func(r *pfRule, idx int) bool {
		if idx == 0 {
			return r.ifs.co // a name no rule mentions
		}
		return r.ifs.has(c.ifNames[idx-1])
	}
	nif := 1
	c.ifFolded = len(c.ifNames) < pfMaxFoldedIfs && (len(c.ifNames)+1)*c.nclass <= pfMaxFoldedCombos
	if c.ifFolded {
		nif = len(c.ifNames) + 1
	} else {
		// Each name's bitset is the other names' (the rules that name complements) with the
		// rules that list the name flipped: a cost in the names the rules list, not in names
		// times rules.
		other := make([]uint64, w)
		listing := make([][]int, len(c.ifNames))
		for i := range rules {
			if rules[i].ifs.co {
				pfSetBit(other, i)
			}
			for _, name := range rules[i].ifs.names {
				k, _ := slices.BinarySearch(c.ifNames, name)
				listing[k] = append(listing[k], i)
			}
		}
		c.ifIDs = append(c.ifIDs, in.add(other))
		for k := range c.ifNames {
			copy(bs, other)
			for _, i := range listing[k] {
				bs[i>>6] ^= 1 << (i & 63)
			}
			c.ifIDs = append(c.ifIDs, in.add(bs))
		}
	}
	var flagReps []uint8
	c.flagClass, flagReps = pfFlagClasses(rules)
	c.nts = len(flagReps)
	c.combo = make([]uint32, nif*3*c.nclass*c.nts*2)
	for ifIdx := range nif {
		for d := range 3 {
			dirBit := uint8(1) << d
			for cl, pv := range c.reps {
				for ts, fl := range flagReps {
					for fr := range 2 {
						clear(bs)
						for i := range rules {
							if !rules[i].f.match && pfComboMatch(&rules[i], dirBit, pv, fl, fr == 1) && (!c.ifFolded || ifHas(&rules[i], ifIdx)) {
								pfSetBit(bs, i)
							}
						}
						c.combo[(((ifIdx*3+d)*c.nclass+cl)*c.nts+ts)*2+fr] = in.add(bs)
					}
				}
			}
		}
	}

	// Addresses and ports.
	var roles [pfAddrRoles][]pfIPSet
	var invalid [pfAddrRoles][]bool
	for role := range pfAddrRoles {
		roles[role], invalid[role] = make([]pfIPSet, n), make([]bool, n)
		for i := range rules {
			f := &rules[i].src
			if role >= pfDstFar {
				f = &rules[i].dst
			}
			roles[role][i], invalid[role][i] = f.remote, f.invalid
			if role == pfSrcLocal || role == pfDstLocal {
				roles[role][i] = f.local
			}
		}
	}
	c.addr = pfBuildAddrTable(in, roles, invalid)
	sports, dports := make([]pfIPSet, n), make([]pfIPSet, n)
	for i := range rules {
		sports[i], dports[i] = rules[i].sport, rules[i].dport
	}
	c.port = pfBuildPortTable(in, sports, dports)

	// ICMP types and codes.
	types := map[int16]map[int16]bool{}
	for i := range rules {
		for _, e := range rules[i].f.icmp {
			if types[e.typ] == nil {
				types[e.typ] = map[int16]bool{}
			}
			if e.code >= 0 {
				types[e.typ][e.code] = true
			}
		}
	}
	icmpBits := func(typ, code int16) uint32 {
		clear(bs)
		for i := range rules {
			es := rules[i].f.icmp
			if len(es) == 0 || slices.ContainsFunc(es, func(e pfICMPElem) bool { return e.typ == typ && (e.code < 0 || e.code == code) }) {
				pfSetBit(bs, i)
			}
		}
		return in.add(bs)
	}
	none := icmpBits(-1, -1)
	for t := range c.icmpDef {
		c.icmpDef[t] = none
	}
	for typ, codes := range types {
		c.icmpDef[typ+1] = icmpBits(typ, -1)
		for code := range codes {
			c.icmpCodes[typ+1] = append(c.icmpCodes[typ+1], pfCodeID{code, icmpBits(typ, code)})
		}
		slices.SortFunc(c.icmpCodes[typ+1], func(a, b pfCodeID) int { return int(a.code) - int(b.code) })
	}

	c.stop, c.quick, c.all, c.qEnd = make([]uint64, w), make([]uint64, w), make([]uint64, w), make([]int32, n)
	for i := range rules {
		pfSetBit(c.all, i)
		c.qEnd[i] = int32(rules[i].qEnd)
		if rules[i].f.quick {
			pfSetBit(c.quick, i)
		}
		if rules[i].f.quick || rules[i].qEnd >= 0 {
			pfSetBit(c.stop, i)
		}
	}
	c.pool = slices.Clip(in.pool)
	c.group = (w + 63) / 64
	c.sums = make([]uint64, len(c.pool)/w)
	for id := range c.sums {
		for j, x := range c.pool[id*w : (id+1)*w] {
			if x != 0 {
				c.sums[id] |= 1 << (j / c.group)
			}
		}
	}
	return c
}

// view is the bitset with the given id (tables hold ids), and its summary.
func (c *pfClassifier) view(id uint32) ([]uint64, uint64) {
	return c.bits(id), c.sums[id]
}

// bits is the bitset with the given id.
func (c *pfClassifier) bits(id uint32) []uint64 {
	w := uint32(c.w)
	off := id * w
	return c.pool[off : off+w : off+w]
}

type pfEvent struct {
	at    pfU128
	group int
}

// pfSweep cuts the space at every boundary of the rules' sets and returns, for each piece, its
// start and the bitset of the rules whose set holds it (pieces with equal bitsets merged). Rules
// with the same (canonical) set are swept as one group.
func pfSweep(in *pfInterner, sets []pfIPSet, extra ...pfU128) ([]pfU128, []uint32) {
	type key struct {
		p *pfRange
		n int
	}
	groups := map[key]int{}
	var members [][]uint64
	var evs []pfEvent
	points := append([]pfU128{{}}, extra...)
	for i, s := range sets {
		if len(s) == 0 {
			continue
		}
		g, ok := groups[key{&s[0], len(s)}]
		if !ok {
			g = len(members)
			groups[key{&s[0], len(s)}] = g
			members = append(members, make([]uint64, in.w))
			for _, r := range s {
				evs = append(evs, pfEvent{r.lo, g})
				points = append(points, r.lo)
				if r.hi != pfMax {
					evs = append(evs, pfEvent{r.hi.add1(), g})
					points = append(points, r.hi.add1())
				}
			}
		}
		pfSetBit(members[g], i)
	}
	slices.SortFunc(points, pfU128.cmp)
	points = slices.Compact(points)
	slices.SortFunc(evs, func(a, b pfEvent) int { return a.at.cmp(b.at) })
	cur := make([]uint64, in.w)
	var starts []pfU128
	var ids []uint32
	j := 0
	for _, pt := range points {
		for ; j < len(evs) && evs[j].at == pt; j++ {
			for k, x := range members[evs[j].group] {
				cur[k] ^= x // a set's ranges are disjoint: its rules go in, then out
			}
		}
		id := in.add(cur)
		if len(ids) > 0 && ids[len(ids)-1] == id {
			continue
		}
		starts = append(starts, pt)
		ids = append(ids, id)
	}
	return starts, ids
}

// pfSweepRoles sweeps the sets of each role and lays the results over each other: the union of
// their starts, and for each piece the id each role gives it (ids[k*len(roles)+j]). A role whose
// sets equal the previous role's reuses its sweep.
func pfSweepRoles(in *pfInterner, roles [][]pfIPSet, extra ...pfU128) ([]pfU128, []uint32) {
	n := len(roles)
	starts, idss := make([][]pfU128, n), make([][]uint32, n)
	var all []pfU128
	for j, sets := range roles {
		if j > 0 && slices.EqualFunc(sets, roles[j-1], pfIPSet.equal) {
			starts[j], idss[j] = starts[j-1], idss[j-1]
			continue
		}
		starts[j], idss[j] = pfSweep(in, sets, extra...)
		all = append(all, starts[j]...)
	}
	slices.SortFunc(all, pfU128.cmp)
	all = slices.Compact(all)
	pos := make([]int, n)
	var merged []pfU128
	var ids []uint32
	for _, pt := range all {
		row := len(ids)
		for j := range n {
			for pos[j]+1 < len(starts[j]) && !pt.less(starts[j][pos[j]+1]) {
				pos[j]++
			}
			ids = append(ids, idss[j][pos[j]])
		}
		if row > 0 && slices.Equal(ids[row-n:row], ids[row:]) {
			ids = ids[:row] // the same bitsets as the piece before: one piece
			continue
		}
		merged = append(merged, pt)
	}
	return merged, ids
}

func pfBuildAddrTable(in *pfInterner, roles [pfAddrRoles][]pfIPSet, invalid [pfAddrRoles][]bool) pfAddrTable {
	var t pfAddrTable
	starts, flat := pfSweepRoles(in, roles[:], pfV4Lo, pfV4Hi.add1())
	row := func(k int) (r [pfAddrRoles]uint32) {
		copy(r[:], flat[k*pfAddrRoles:])
		return r
	}
	t.starts6 = starts
	var starts4 []uint32
	for k, s := range starts {
		t.ids6 = append(t.ids6, row(k))
		end := pfMax
		if k+1 < len(starts) {
			end = starts[k+1].sub1()
		}
		if end.less(pfV4Lo) || pfV4Hi.less(s) {
			continue
		}
		if s.less(pfV4Lo) {
			s = pfV4Lo
		}
		starts4 = append(starts4, uint32(s.lo))
		t.ids4 = append(t.ids4, row(k))
	}
	t.v4 = newV4Index(starts4)
	for _, s := range starts {
		t.high6 = append(t.high6, s.hi)
	}
	bs := make([]uint64, in.w)
	for role, inv := range invalid {
		clear(bs)
		for i, ok := range inv {
			if ok {
				pfSetBit(bs, i)
			}
		}
		t.invalid[role] = in.add(bs)
	}
	return t
}

func pfBuildPortTable(in *pfInterner, sports, dports []pfIPSet) pfPortTable {
	starts, flat := pfSweepRoles(in, [][]pfIPSet{sports, dports})
	t := pfPortTable{pieces: make([]uint16, 65536)}
	for k, s := range starts {
		if s.hi != 0 || s.lo > 65535 {
			break
		}
		t.ids = append(t.ids, [2]uint32{flat[2*k], flat[2*k+1]})
		end := uint64(65536)
		if k+1 < len(starts) {
			end = min(starts[k+1].lo, end)
		}
		for x := s.lo; x < end; x++ {
			t.pieces[x] = uint16(k)
		}
	}
	return t
}

// lookup is the bitset ids, by role, of the piece of the address space holding a.
func (t *pfAddrTable) lookup(a netip.Addr) *[pfAddrRoles]uint32 {
	if !a.IsValid() {
		return &t.invalid
	}
	if a.Is4() {
		b := a.As4()
		return &t.ids4[t.v4.find(binary.BigEndian.Uint32(b[:]))]
	}
	b := a.As16()
	kh, kl := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	// The last start whose high half is at most the address's; prefixes are rarely longer than
	// /64, so that usually settles it.
	hs := t.high6
	lo, hi := 0, len(hs)
	for hi-lo > 1 {
		m := int(uint(lo+hi) >> 1)
		if hs[m] <= kh {
			lo = m
		} else {
			hi = m
		}
	}
	if hs[lo] == kh && kl < t.starts6[lo].lo {
		lo = t.searchLow(lo, kh, kl)
	}
	return &t.ids6[lo]
}

// searchLow finds the piece holding (kh, kl) when starts6[at] has the high half kh but starts
// above it: the last start at or below the address among those sharing kh, or the one before them.
func (t *pfAddrTable) searchLow(at int, kh, kl uint64) int {
	first, _ := slices.BinarySearch(t.high6[:at], kh)
	s := t.starts6[first : at+1]
	n, _ := slices.BinarySearchFunc(s, kl, func(x pfU128, v uint64) int { return cmp.Compare(x.lo, v+1) })
	return first + n - 1 // n == 0: the piece before the run
}

// lookup is the bitset ids of the piece of the port space holding x: [0] as a source port, [1]
// as a destination port.
func (t *pfPortTable) lookup(x uint16) *[2]uint32 {
	return &t.ids[t.pieces[x]]
}

// ifIndex is the index of an interface name: i+1 for the rules' i-th name, 0 for any other.
func (c *pfClassifier) ifIndex(name string) int {
	if c.ifMap != nil {
		return c.ifMap[name]
	}
	for i, n := range c.ifNames {
		if n == name {
			return i + 1
		}
	}
	return 0
}

func (c *pfClassifier) icmp(typ, code int16) uint32 {
	if typ < 0 || typ > 255 {
		return c.icmpDef[0]
	}
	for _, e := range c.icmpCodes[typ+1] {
		if e.code == code {
			return e.id
		}
	}
	return c.icmpDef[typ+1]
}

// pfMasks are the bitsets of one packet's fields, by id. A field that does not apply to the
// packet repeats the combined bitset, which leaves the AND unchanged. (Slots are told apart by
// alias, not by id: equal bitsets share one.) Ids rather than slices keep the struct free of
// pointers, so filling it costs no write barriers while the collector runs.
type pfMasks struct {
	id    [pfFields]uint32
	sums  [pfFields]uint64 // their summaries
	alias uint8            // the slots that repeat the combined bitset (bit k for slot k)
}

func (c *pfClassifier) set(m *pfMasks, k int, id uint32) {
	m.id[k], m.sums[k] = id, c.sums[id]
}

// pfKeys are where a packet's addresses and ports fall in the classifier's tables. Its reply's
// are the same, swapped.
type pfKeys struct {
	src, dst     *[pfAddrRoles]uint32
	sport, dport *[2]uint32 // nil unless the packet is TCP or UDP
}

func (c *pfClassifier) keys(p *Packet) pfKeys {
	k := pfKeys{src: c.addr.lookup(p.Src.Unmap()), dst: c.addr.lookup(p.Dst.Unmap())}
	if p.Proto == ProtoTCP || p.Proto == ProtoUDP {
		k.sport, k.dport = c.port.lookup(p.SrcPort), c.port.lookup(p.DstPort)
	}
	return k
}

func (k pfKeys) reverse() pfKeys {
	return pfKeys{src: k.dst, dst: k.src, sport: k.dport, dport: k.sport}
}

// masks gathers the bitset of every field for p, whose interface has index ifIdx and whose
// table keys are k.
func (c *pfClassifier) masks(p *Packet, ifIdx int, k *pfKeys, m *pfMasks) {
	c.set(m, 0, c.comboFor(p, ifIdx, c.tcpState(p)))
	srcRole, dstRole := pfSrcFar, pfDstFar
	if p.Dir == Out {
		srcRole = pfSrcLocal
	}
	if p.Dir == In {
		dstRole = pfDstLocal
	}
	c.set(m, 1, k.src[srcRole])
	c.set(m, 2, k.dst[dstRole])
	for j := 3; j < pfFields; j++ {
		m.id[j], m.sums[j] = m.id[0], m.sums[0]
	}
	m.alias = 1<<3 | 1<<4 | 1<<5
	switch p.Proto {
	case ProtoTCP, ProtoUDP:
		c.set(m, 3, k.sport[0])
		c.set(m, 4, k.dport[1])
		m.alias &^= 1<<3 | 1<<4
	case ProtoICMP, ProtoICMPv6:
		c.set(m, 3, c.icmp(p.ICMPType, p.ICMPCode))
		m.alias &^= 1 << 3
	}
	if !c.ifFolded {
		c.set(m, 5, c.ifIDs[ifIdx])
		m.alias &^= 1 << 5
	}
}

// comboFor is the id of the combined bitset for p as if its TCP flags class were ts (see
// tcpState).
func (c *pfClassifier) comboFor(p *Packet, ifIdx, ts int) uint32 {
	d := 0
	switch p.Dir {
	case In:
		d = 1
	case Out:
		d = 2
	}
	fr := 0
	if p.Frag {
		fr = 1
	}
	if !c.ifFolded {
		ifIdx = 0
	}
	return c.combo[(((ifIdx*3+d)*c.nclass+int(c.protoClass[p.Proto]))*c.nts+ts)*2+fr]
}

// setCombo replaces the combined bitset, also where it stands in for a field.
func (c *pfClassifier) setCombo(m *pfMasks, id uint32) {
	for k := range m.id {
		if k == 0 || m.alias&(1<<k) != 0 {
			c.set(m, k, id)
		}
	}
}

// word is word i of the AND of m's bitsets.
func (c *pfClassifier) word(m *pfMasks, i int) uint64 {
	w, pool := uint32(c.w), c.pool
	x := ^uint64(0)
	for _, id := range m.id {
		x &= pool[int(id*w)+i]
	}
	return x
}

// decide returns the index of the rule that decides p, or -1 when no rule matches. One pass over
// the words: the first matching rule that stops evaluation settles it; otherwise the last match.
func (c *pfClassifier) decide(p *Packet, ifIdx int, k *pfKeys) int {
	var m pfMasks
	c.masks(p, ifIdx, k, &m)
	return c.scan(&m)
}

// scan finds the deciding rule among those all of m's bitsets hold.
func (c *pfClassifier) scan(m *pfMasks) int {
	stop, last := c.scanStop(m)
	if stop >= 0 {
		return c.stopAt(m, stop)
	}
	return last
}

// scanStop finds the first rule all of m's bitsets hold that stops evaluation, or -1, and when
// there is none, the last rule they hold, or -1. It visits only the words the summaries say may
// hold one.
func (c *pfClassifier) scanStop(m *pfMasks) (stop, last int) {
	m0, _ := c.view(m.id[0])
	n := len(m0)
	m1, m2, m3, m4, m5 := c.bits(m.id[1])[:n], c.bits(m.id[2])[:n], c.bits(m.id[3])[:n], c.bits(m.id[4])[:n], c.bits(m.id[5])[:n]
	stops := c.stop[:len(m0)]
	sum := m.sums[0] & m.sums[1] & m.sums[2] & m.sums[3] & m.sums[4] & m.sums[5]
	lastAt, lastWord := -1, uint64(0)
	for sum != 0 {
		j := bits.TrailingZeros64(sum)
		sum &= sum - 1
		for i := j * c.group; i < (j+1)*c.group && i < n; i++ {
			x := m0[i] & m1[i] & m2[i] & m3[i] & m4[i] & m5[i]
			if x == 0 {
				continue
			}
			if s := x & stops[i]; s != 0 {
				return i<<6 | bits.TrailingZeros64(s), -1
			}
			lastAt, lastWord = i, x
		}
	}
	if lastAt < 0 {
		return -1, -1
	}
	return -1, lastAt<<6 | (63 - bits.LeadingZeros64(lastWord))
}

// scanPair scans for two packets that differ only in their combined bitset, ids ida and idb (the
// rest as in m), in one pass, and returns the deciding rule of each.
func (c *pfClassifier) scanPair(m *pfMasks, ida, idb uint32) (int, int) {
	var s [pfFields]uint32
	base := ^uint64(0)
	for k := 1; k < pfFields; k++ {
		s[k] = m.id[k]
		if m.alias&(1<<k) != 0 {
			s[k] = m.id[1] // ANDing the source bitset again changes nothing
		} else {
			base &= m.sums[k]
		}
	}
	a, sa := c.view(ida)
	b, sb := c.view(idb)
	base &= m.sums[1] & (sa | sb)
	n := len(a)
	b = b[:n]
	s1, s2, s3, s4, s5 := c.bits(s[1])[:n], c.bits(s[2])[:n], c.bits(s[3])[:n], c.bits(s[4])[:n], c.bits(s[5])[:n]
	stop := c.stop[:len(a)]
	ra, rb := -2, -2 // -2: not settled by a stopping rule
	lastA, lastB := -1, -1
	var wordA, wordB uint64
	for base != 0 {
		j := bits.TrailingZeros64(base)
		base &= base - 1
		for i := j * c.group; i < (j+1)*c.group && i < n; i++ {
			both := s1[i] & s2[i] & s3[i] & s4[i] & s5[i]
			if both == 0 {
				continue
			}
			if x := both & a[i]; x != 0 && ra == -2 {
				if st := x & stop[i]; st != 0 {
					v := *m
					c.setCombo(&v, ida)
					ra = c.stopAt(&v, i<<6|bits.TrailingZeros64(st))
				} else {
					lastA, wordA = i, x
				}
			}
			if x := both & b[i]; x != 0 && rb == -2 {
				if st := x & stop[i]; st != 0 {
					v := *m
					c.setCombo(&v, idb)
					rb = c.stopAt(&v, i<<6|bits.TrailingZeros64(st))
				} else {
					lastB, wordB = i, x
				}
			}
			if ra != -2 && rb != -2 {
				return ra, rb
			}
		}
	}
	if ra == -2 {
		ra = -1
		if lastA >= 0 {
			ra = lastA<<6 | (63 - bits.LeadingZeros64(wordA))
		}
	}
	if rb == -2 {
		rb = -1
		if lastB >= 0 {
			rb = lastB<<6 | (63 - bits.LeadingZeros64(wordB))
		}
	}
	return ra, rb
}

// stopAt resolves the first matching rule r that ends evaluation: a quick rule decides; a rule in a
// quick anchor lets the rest of that anchor run, and the anchor's last match decides, unless a
// later rule in it stops evaluation first.
func (c *pfClassifier) stopAt(m *pfMasks, r int) int {
	for {
		if pfHasBit(c.quick, r) {
			return r
		}
		end := int(c.qEnd[r])
		next := c.first(m, c.stop, r+1, end)
		if next < 0 {
			return c.last(m, r, end)
		}
		r = next
	}
}

// first returns the first rule in [from, to) that matches and is in sel, or -1.
func (c *pfClassifier) first(m *pfMasks, sel []uint64, from, to int) int {
	for i := from >> 6; i<<6 < to; i++ {
		x := c.word(m, i) & sel[i]
		if lo := from - i<<6; lo > 0 {
			x &^= 1<<lo - 1
		}
		if hi := to - i<<6; hi < 64 {
			x &= 1<<hi - 1
		}
		if x != 0 {
			return i<<6 | bits.TrailingZeros64(x)
		}
	}
	return -1
}

// last returns the last rule in [from, to) that matches; from matches, so there is one.
func (c *pfClassifier) last(m *pfMasks, from, to int) int {
	if i := c.lastIn(m, from, to); i >= 0 {
		return i
	}
	return from
}

// lastIn returns the last rule in [from, to) that matches, or -1.
func (c *pfClassifier) lastIn(m *pfMasks, from, to int) int {
	for i := (to - 1) >> 6; i >= from>>6; i-- {
		x := c.word(m, i)
		if lo := from - i<<6; lo > 0 {
			x &^= 1<<lo - 1
		}
		if hi := to - i<<6; hi < 64 {
			x &= 1<<hi - 1
		}
		if x != 0 {
			return i<<6 | (63 - bits.LeadingZeros64(x))
		}
	}
	return -1
}

// packetMasks gathers the bitsets of p's fields in this block.
func (c *pfClassifier) packetMasks(p *Packet, m *pfMasks) {
	k := c.keys(p)
	c.masks(p, c.ifIndex(p.Iface), &k, m)
}

// The rule sets of more than one block: the blocks are scanned in order with the same rules as
// within one (the first stopping match settles it; otherwise the last match), and a quick anchor
// that spans blocks is resolved across them. Nothing here allocates.

// decideBlocks returns the index of the rule that decides p, or -1 when no rule matches.
func (rs *PFRuleset) decideBlocks(p *Packet) int {
	if rs.xo.post {
		return rs.decidePost(p) // tags and the other ordered conditions (pf_opts.go)
	}
	last := -1
	for b := range rs.blocks {
		c := &rs.blocks[b]
		var m pfMasks
		c.packetMasks(p, &m)
		stop, l := c.scanStop(&m)
		if stop >= 0 {
			return rs.stopAtBlocks(p, c.base+stop)
		}
		if l >= 0 {
			last = c.base + l
		}
	}
	return last
}

// stopAtBlocks is stopAt over every block.
func (rs *PFRuleset) stopAtBlocks(p *Packet, r int) int {
	for {
		if rs.rules[r].f.quick {
			return r
		}
		end := rs.rules[r].qEnd
		next := rs.firstStopBlocks(p, r+1, end)
		if next < 0 {
			return rs.lastBlocks(p, r, end)
		}
		r = next
	}
}

// firstStopBlocks returns the first rule in [from, to) that matches p and stops evaluation, or -1.
func (rs *PFRuleset) firstStopBlocks(p *Packet, from, to int) int {
	for b := range rs.blocks {
		c := &rs.blocks[b]
		lo, hi := max(from-c.base, 0), min(to-c.base, c.n)
		if lo >= hi {
			continue
		}
		var m pfMasks
		c.packetMasks(p, &m)
		if i := c.first(&m, c.stop, lo, hi); i >= 0 {
			return c.base + i
		}
	}
	return -1
}

// lastBlocks returns the last rule in [from, to) that matches p; from matches, so there is one.
func (rs *PFRuleset) lastBlocks(p *Packet, from, to int) int {
	for b := len(rs.blocks) - 1; b >= 0; b-- {
		c := &rs.blocks[b]
		lo, hi := max(from-c.base, 0), min(to-c.base, c.n)
		if lo >= hi {
			continue
		}
		var m pfMasks
		c.packetMasks(p, &m)
		if i := c.lastIn(&m, lo, hi); i >= 0 {
			return c.base + i
		}
	}
	return from
}

// eachMatch calls fn, in rule order, with each rule in [from, to) whose conditions p meets
// (whether or not it would decide p), until fn returns false. With stops, only the rules that stop
// evaluation (quick, or in a quick anchor) are considered.
func (rs *PFRuleset) eachMatch(p *Packet, from, to int, stops bool, fn func(int) bool) {
	for b := range rs.blocks {
		c := &rs.blocks[b]
		lo, hi := max(from-c.base, 0), min(to-c.base, c.n)
		if lo >= hi {
			continue
		}
		var m pfMasks
		c.packetMasks(p, &m)
		sum := m.sums[0] & m.sums[1] & m.sums[2] & m.sums[3] & m.sums[4] & m.sums[5]
		m0, m1, m2 := c.bits(m.id[0]), c.bits(m.id[1]), c.bits(m.id[2])
		m3, m4, m5 := c.bits(m.id[3]), c.bits(m.id[4]), c.bits(m.id[5])
		sel := c.all
		if stops {
			sel = c.stop
		}
		for i := lo >> 6; i<<6 < hi; i++ {
			if sum&(1<<(i/c.group)) == 0 {
				continue // some field's bitset is empty in this word
			}
			// The sparsest fields (addresses, ports) first: most words end there.
			x := sel[i] & m2[i] & m4[i]
			if x == 0 {
				continue
			}
			x &= m1[i] & m3[i] & m0[i] & m5[i]
			if l := lo - i<<6; l > 0 {
				x &^= 1<<l - 1
			}
			if h := hi - i<<6; h < 64 {
				x &= 1<<h - 1
			}
			for x != 0 {
				k := bits.TrailingZeros64(x)
				x &= x - 1
				if !fn(c.base + (i<<6 | k)) {
					return
				}
			}
		}
	}
}
