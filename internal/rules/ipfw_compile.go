package rules

import (
	"context"
	"encoding/binary"
	"math/bits"
	"net/netip"
	"path"
	"slices"
	"sort"
	"strings"
)

func matchIface(pattern, name string) bool {
	ok, _ := path.Match(pattern, name)
	return ok
}

// ipfwBlockRules is the most rules one classifier block holds. A block's address and port tables
// hold a bitset of its rules for every boundary its rules cut, about its rules squared bits; fixed
// blocks keep a whole rule set linear in its rules, and sets up to this size (the 1,000-rule
// benchmark among them) are one block.
const ipfwBlockRules = 1024

// maxWords is the words of a block's bitsets.
const maxWords = ipfwBlockRules / 64

// ipfwClassifier is a rule set compiled in blocks, with what evaluation needs across them: the
// rule each skipto lands on and the rules that consult state.
type ipfwClassifier struct {
	blocks   []*ipfwCompiled
	skipIdx  []int    // rule index → first index numbered at least its skipto target
	stateIdx []int    // indexes of the rules that look up dynamic rules (check-state, keep-state, limit), ascending
	unsure   []string // by rule index: what a verdict resting on it says (ipfwUnsureText); nil if no rule is unsure
	// refOnly says the rule set has call or return, whose jumps back the block walk does not
	// take: Eval runs the reference interpreter (no allocations either).
	refOnly bool
}

// ipfwCompiled is a bit-vector classifier: for each field a table maps the packet's value to the
// set of rules that match on that field; the AND of those sets holds every rule that matches the
// packet, and the first set bit in rule order decides (count, skipto and the state check are
// honoured while walking the bits). Rules with conditions the tables do not capture (not, me,
// interface patterns) stay in every set and are checked one by one when the walk reaches them.
type ipfwCompiled struct {
	base       int // the index of the block's first rule in the rule set
	n          int // its number of rules
	w          int
	all        []uint64
	proto      []uint64 // 256 × w
	dir        []uint64 // 2 × w: in, out
	srcPts     []netip.Addr
	srcV4      v4Index // the IPv4 boundaries of srcPts (they sort first), for a cheap search
	srcBits    []uint64
	dstPts     []netip.Addr
	dstV4      v4Index
	dstBits    []uint64
	sportIdx   []uint16 // port → interval
	sportBits  []uint64
	dportIdx   []uint16
	dportBits  []uint64
	portRules  []uint64 // rules with ports: no match on fragments
	est, setup []uint64
	frag       []uint64
	icmpRules  []uint64
	icmpType   []uint64 // 256 × w
	slow       []uint64
	protoClass [256]uint8 // protocols the rules treat alike share a class
	nclass     int
	combo      []uint64    // by comboKey: protocol, direction, typed ICMP and flags together
	ones       []uint64    // w words of all ones: the ICMP row of a packet without a type
	srcDir     [2][]uint64 // per direction: srcBits with the "me" rules of that direction ORed in
	dstDir     [2][]uint64
	ifNames    []string      // the literal interface names the rules use, sorted
	ifByName   [][2][]uint64 // by ifNames index and direction: the interface bitset
	srcMe      []uint64      // 4 × w: [dir in/out][family v4/v6]: rules whose source includes me (me6)
	dstMe      []uint64
	noIface    []uint64 // rules without an interface condition
	ifacePats  []ifacePat
}

// ifacePat is one interface condition shared by the rules in bits.
type ifacePat struct {
	how, pattern string
	literal      bool // no wildcard: compare, do not match
	bits         []uint64
}

func setBit(b []uint64, i int)      { b[i>>6] |= 1 << (i & 63) }
func hasBit(b []uint64, i int) bool { return b[i>>6]&(1<<(i&63)) != 0 }

func (rs *IPFWRuleset) compile(ctx context.Context, size int) (*ipfwClassifier, error) {
	g := &ipfwClassifier{skipIdx: make([]int, len(rs.Rules))}
	for i := range rs.Rules {
		r := &rs.Rules[i]
		if r.Kind == ipfwCheckState || r.Probe {
			g.stateIdx = append(g.stateIdx, i)
		}
		if r.Kind == ipfwCall || r.Kind == ipfwReturn {
			g.refOnly = true
		}
		if r.unsure != nil {
			if g.unsure == nil {
				g.unsure = make([]string, len(rs.Rules))
			}
			g.unsure[i] = ipfwUnsureText(r)
		}
		if r.Kind == ipfwSkipTo {
			// Rules are in number order: the target is the first rule after i numbered at least Skip.
			rest := rs.Rules[i+1:]
			g.skipIdx[i] = i + 1 + sort.Search(len(rest), func(k int) bool { return rest[k].Num >= r.Skip })
		}
	}
	for base := 0; base == 0 || base < len(rs.Rules); base += size {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c := compileBlock(rs.Rules[base:min(base+size, len(rs.Rules))])
		c.base = base
		g.blocks = append(g.blocks, c)
	}
	return g, nil
}

// compileBlock builds the tables of one block of rules. An unsure rule's tables are those of its
// loosened form (no interfaces, unresolved addresses as any): the walk checks the rule itself
// one by one, and must reach it wherever its loose match may hold (see certainty.go).
func compileBlock(rules []IPFWRule) *ipfwCompiled {
	cloned := false
	for i := range rules {
		if rules[i].unsure == nil {
			continue
		}
		if !cloned {
			rules, cloned = slices.Clone(rules), true // the caller's rules stay as they are
		}
		rules[i] = rules[i].loosened()
	}
	n := len(rules)
	w := (n + 63) / 64
	if w == 0 {
		w = 1
	}
	c := &ipfwCompiled{w: w, n: n}
	mk := func(k int) []uint64 { return make([]uint64, k*w) }
	c.all, c.proto, c.dir = mk(1), mk(256), mk(2)
	c.portRules, c.est, c.setup, c.frag, c.icmpRules, c.slow = mk(1), mk(1), mk(1), mk(1), mk(1), mk(1)
	c.icmpType = mk(256)
	c.srcMe, c.dstMe, c.noIface = mk(4), mk(4), mk(1)
	patIdx := map[[2]string]int{}
	for i := range rules {
		r := &rules[i]
		setBit(c.all, i)
		for p := 0; p < 256; p++ {
			if r.Kind == ipfwCheckState || r.Protos == nil || slices.Contains(r.Protos, uint8(p)) {
				setBit(c.proto[p*w:], i)
			}
		}
		for d := range 2 {
			if r.Dir == 0 || r.Kind == ipfwCheckState || int(r.Dir) == d+1 {
				setBit(c.dir[d*w:], i)
			}
		}
		if r.SrcPort != nil || r.DstPort != nil {
			setBit(c.portRules, i)
		}
		if r.Est {
			setBit(c.est, i)
		}
		if r.Setup {
			setBit(c.setup, i)
		}
		if r.Frag {
			setBit(c.frag, i)
		}
		if r.ICMP != nil {
			setBit(c.icmpRules, i)
		}
		for t := 0; t < 256; t++ {
			if r.ICMP == nil || slices.Contains(r.ICMP, uint8(t)) {
				setBit(c.icmpType[t*w:], i)
			}
		}
		mixed := r.Family != 0 && (len(r.Src.Prefixes) > 0 || len(r.Dst.Prefixes) > 0) // the family is checked one by one
		// An unsure rule is checked one by one, and its tables are those of its loosened form
		// (see compileBlock), so that the walk reaches it whenever its loose match may hold.
		if r.Kind == ipfwCheckState || r.Src.Not || r.Dst.Not || len(r.Ifaces) > 1 || len(r.Conds) > 0 || mixed || r.unsure != nil {
			setBit(c.slow, i)
		}
		// "me" is the host's side: the source of an outbound packet, the destination of an inbound one.
		for fam, me := range [2][2]bool{{r.Src.Me, r.Dst.Me}, {r.Src.Me6, r.Dst.Me6}} {
			if r.Family != 0 && int(r.Family) != 4+2*fam {
				continue // ip6 rules never match IPv4 packets, nor ip4 rules IPv6 ones
			}
			if me[0] && !r.Src.Not {
				setBit(c.srcMe[(1*2+fam)*w:], i) // out
			}
			if me[1] && !r.Dst.Not {
				setBit(c.dstMe[(0*2+fam)*w:], i) // in
			}
		}
		switch {
		case len(r.Ifaces) == 1:
			key := [2]string{r.Ifaces[0].How, r.Ifaces[0].Pattern}
			k, ok := patIdx[key]
			if !ok {
				k = len(c.ifacePats)
				patIdx[key] = k
				c.ifacePats = append(c.ifacePats, ifacePat{how: key[0], pattern: key[1], literal: !strings.ContainsAny(key[1], `*?[\`), bits: mk(1)})
			}
			setBit(c.ifacePats[k].bits, i)
		default: // none, or several: checked one by one (slow)
			setBit(c.noIface, i)
		}
	}
	addrOf := func(r *IPFWRule, src bool) *ipfwAddr {
		if src {
			return &r.Src
		}
		return &r.Dst
	}
	for _, src := range []bool{true, false} {
		pts := []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()}
		for i := range rules {
			for _, p := range addrOf(&rules[i], src).Prefixes {
				pts = append(pts, p.Addr())
				if nx := lastAddr(p).Next(); nx.IsValid() {
					pts = append(pts, nx)
				}
			}
		}
		slices.SortFunc(pts, func(a, b netip.Addr) int { return a.Compare(b) })
		pts = slices.Compact(pts)
		bitsets := make([]uint64, len(pts)*w)
		// Each rule sets its bit in the pieces its prefixes span (found by binary search), or in
		// every piece: a cost in the bits set, not in pieces times rules.
		for i := range rules {
			r := &rules[i]
			a := addrOf(r, src)
			if r.Kind == ipfwCheckState || a.Any || a.Not {
				for k := range pts {
					if r.Family == 0 || pts[k].Is4() == (r.Family == 4) {
						setBit(bitsets[k*w:], i)
					}
				}
				continue
			}
			for _, pre := range a.Prefixes {
				first, last := pre.Masked().Addr(), lastAddr(pre)
				lo, _ := slices.BinarySearchFunc(pts, first, netip.Addr.Compare)
				for k := lo; k < len(pts) && pts[k].Compare(last) <= 0; k++ {
					setBit(bitsets[k*w:], i)
				}
			}
		}
		var pts4 []uint32
		for _, a := range pts {
			if a.Is4() {
				pts4 = append(pts4, u32(a))
			}
		}
		if src {
			c.srcPts, c.srcV4, c.srcBits = pts, newV4Index(pts4), bitsets
		} else {
			c.dstPts, c.dstV4, c.dstBits = pts, newV4Index(pts4), bitsets
		}
	}
	for _, src := range []bool{true, false} {
		cuts := []int{0}
		for i := range rules {
			ps := rules[i].DstPort
			if src {
				ps = rules[i].SrcPort
			}
			for _, p := range ps {
				cuts = append(cuts, int(p.Lo))
				if p.Hi < 65535 {
					cuts = append(cuts, int(p.Hi)+1)
				}
			}
		}
		slices.Sort(cuts)
		cuts = slices.Compact(cuts)
		idx := make([]uint16, 65536)
		for k := range cuts {
			end := 65536
			if k+1 < len(cuts) {
				end = cuts[k+1]
			}
			for port := cuts[k]; port < end; port++ {
				idx[port] = uint16(k)
			}
		}
		bitsets := make([]uint64, len(cuts)*w)
		for i := range rules {
			ps := rules[i].DstPort
			if src {
				ps = rules[i].SrcPort
			}
			if ps == nil {
				for k := range cuts {
					setBit(bitsets[k*w:], i)
				}
				continue
			}
			for _, pr := range ps {
				lo, _ := slices.BinarySearch(cuts, int(pr.Lo))
				for k := lo; k < len(cuts) && cuts[k] <= int(pr.Hi); k++ {
					setBit(bitsets[k*w:], i)
				}
			}
		}
		if src {
			c.sportIdx, c.sportBits = idx, bitsets
		} else {
			c.dportIdx, c.dportBits = idx, bitsets
		}
	}
	c.buildCombo()
	for d := range 2 {
		for _, side := range []struct {
			pts  []netip.Addr
			bits []uint64
			me   []uint64
			out  *[2][]uint64
		}{{c.srcPts, c.srcBits, c.srcMe, &c.srcDir}, {c.dstPts, c.dstBits, c.dstMe, &c.dstDir}} {
			t := make([]uint64, len(side.bits))
			for iv, a := range side.pts {
				fam := 0
				if a.Is6() {
					fam = 1
				}
				me := side.me[(d*2+fam)*w:]
				for k := 0; k < w; k++ {
					t[iv*w+k] = side.bits[iv*w+k] | me[k]
				}
			}
			side.out[d] = t
		}
	}
	for _, pt := range c.ifacePats {
		if pt.literal {
			c.ifNames = append(c.ifNames, pt.pattern)
		}
	}
	slices.Sort(c.ifNames)
	c.ifNames = slices.Compact(c.ifNames)
	for _, name := range c.ifNames {
		c.ifByName = append(c.ifByName, [2][]uint64{c.ifaceBits(name, In), c.ifaceBits(name, Out)})
	}
	return c
}

// comboKey indexes the combined table: the packet's protocol class and direction, whether it is
// ICMP with a type (icmptypes rules then take part, filtered by the type's own row), and its
// fragment, established and setup flags.
func (c *ipfwCompiled) comboKey(p *Packet) int {
	k := int(c.protoClass[p.Proto])*2 + dirIndex(p.Dir)
	k *= 2
	if (p.Proto == ProtoICMP || p.Proto == ProtoICMPv6) && p.ICMPType >= 0 {
		k++
	}
	k *= 8
	if p.Frag {
		k |= 4
	}
	if p.Established {
		k |= 2
	}
	if p.Setup {
		k |= 1
	}
	return k * c.w
}

func dirIndex(d Dir) int {
	if d == Out {
		return 1
	}
	return 0
}

// buildCombo fills protoClass and combo from the protocol, direction and flag tables.
func (c *ipfwCompiled) buildCombo() {
	w := c.w
	// Protocols whose rows are equal behave alike.
	rows := map[string]uint8{}
	var reps []int
	for pr := range 256 {
		var key []byte
		for _, x := range c.proto[pr*w : pr*w+w] {
			key = binary.LittleEndian.AppendUint64(key, x)
		}
		cl, ok := rows[string(key)]
		if !ok {
			cl = uint8(len(reps))
			rows[string(key)] = cl
			reps = append(reps, pr)
		}
		c.protoClass[pr] = cl
	}
	c.nclass = len(reps)
	c.ones = make([]uint64, w)
	for k := range c.ones {
		c.ones[k] = ^uint64(0)
	}
	c.combo = make([]uint64, c.nclass*2*2*8*w)
	for cl, pr := range reps {
		for d := range 2 {
			for typed := range 2 {
				for v := range 8 {
					frag, est, setup := v&4 != 0, v&2 != 0, v&1 != 0
					m := c.combo[(((cl*2+d)*2+typed)*8+v)*w:][:w]
					for k := range m {
						x := c.proto[pr*w+k] & c.dir[d*w+k]
						if typed == 0 {
							x &^= c.icmpRules[k]
						}
						if frag {
							x &^= c.portRules[k]
						} else {
							x &^= c.frag[k]
						}
						if !est {
							x &^= c.est[k]
						}
						if !setup {
							x &^= c.setup[k]
						}
						m[k] = x
					}
				}
			}
		}
	}
}

// ifIndex is the index of name in ifNames, or -1. Rule sets name few interfaces: comparing
// each is cheaper than a search.
func (c *ipfwCompiled) ifIndex(name string) int {
	if len(c.ifNames) > 16 {
		if k, ok := slices.BinarySearch(c.ifNames, name); ok {
			return k
		}
		return -1
	}
	for k, n := range c.ifNames {
		if n == name {
			return k
		}
	}
	return -1
}

// ifaceBits is the set of rules whose interface condition holds for a packet on name going d.
func (c *ipfwCompiled) ifaceBits(name string, d Dir) []uint64 {
	b := append([]uint64(nil), c.noIface...)
	for k := range c.ifacePats {
		pt := &c.ifacePats[k]
		if pt.how == "recv" && d != In || pt.how == "xmit" && d != Out {
			continue
		}
		if pt.literal && pt.pattern == name || !pt.literal && matchIface(pt.pattern, name) {
			for j := range b {
				b[j] |= pt.bits[j]
			}
		}
	}
	return b
}

func prefixesContain(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// lastAddr is the highest address of a prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// interval finds the last boundary at or below a.
func interval(pts []netip.Addr, v4 *v4Index, a netip.Addr) int {
	if a.Is4() {
		return v4.find(u32(a))
	}
	lo, hi := 0, len(pts)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if pts[mid].Compare(a) <= 0 {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// Eval decides a packet: compiled, no allocations. It gives the same verdicts as Explain.
func (rs *IPFWRuleset) Eval(p *Packet) Verdict {
	if rs.comp == nil {
		rs.comp, _ = rs.compile(context.Background(), ipfwBlockRules)
	}
	if rs.comp.refOnly {
		v, _ := rs.run(p, nil, 0)
		return v
	}
	v, _ := rs.evalCompiledFrom(p, 0)
	return v
}

// Compile builds the classifier now rather than at the first Eval (call it before sharing the
// rule set between goroutines).
func (rs *IPFWRuleset) Compile() { rs.comp, _ = rs.compile(context.Background(), ipfwBlockRules) }

// CompileContext is Compile that gives up, returning ctx.Err(), soon after ctx is done (it checks
// between classifier blocks).
func (rs *IPFWRuleset) CompileContext(ctx context.Context) error {
	comp, err := rs.compile(ctx, ipfwBlockRules)
	if err != nil {
		return err
	}
	rs.comp = comp
	return nil
}

// evalCompiledFrom is the compiled evaluation; like run it also returns the first rule creating
// state that p matched, or -1.
func (rs *IPFWRuleset) evalCompiledFrom(p *Packet, depth int) (Verdict, int) {
	g := rs.comp
	pos, nextState, creator := 0, 0, -1 // rules before pos are skipped; stateIdx[nextState] is the next look-up
	var unsure ipfwUnsure               // the unsure rules on the walk that may change it (see certainty.go)
	d := newIPFWDyn(p, depth)
	d.active = d.active && len(g.stateIdx) > 0
	di := dirIndex(p.Dir)
	for _, c := range g.blocks {
		if c.base+c.n <= pos {
			continue // skipped past the whole block
		}
		w := c.w
		s := interval(c.srcPts, &c.srcV4, p.Src) * w
		d2 := interval(c.dstPts, &c.dstV4, p.Dst) * w
		sp := int(c.sportIdx[p.SrcPort]) * w
		dp := int(c.dportIdx[p.DstPort]) * w
		var ifb []uint64
		var ifbuf [maxWords]uint64
		if k := c.ifIndex(p.Iface); k >= 0 {
			ifb = c.ifByName[k][di]
		} else {
			// An interface no literal pattern names: only rules without one, and wildcards.
			copy(ifbuf[:w], c.noIface)
			for k := range c.ifacePats {
				pt := &c.ifacePats[k]
				if pt.literal || pt.how == "recv" && p.Dir != In || pt.how == "xmit" && p.Dir != Out {
					continue
				}
				if matchIface(pt.pattern, p.Iface) {
					for j := 0; j < w; j++ {
						ifbuf[j] |= pt.bits[j]
					}
				}
			}
			ifb = ifbuf[:w]
		}
		icmpB := c.ones
		if (p.Proto == ProtoICMP || p.Proto == ProtoICMPv6) && p.ICMPType >= 0 {
			icmpB = c.icmpType[int(p.ICMPType)*w:]
		}
		// Each word of candidates is computed and walked before the next: most packets are decided
		// by an early rule, and the words after it are never computed.
		cb := c.comboKey(p)
		combo := c.combo[cb : cb+w]
		srcB, dstB := c.srcDir[di][s:s+w], c.dstDir[di][d2:d2+w]
		sportB, dportB := c.sportBits[sp:sp+w], c.dportBits[dp:dp+w]
		ifb, icmpB = ifb[:w], icmpB[:w]
		for k := range combo {
			x := combo[k] & srcB[k] & dstB[k] & sportB[k] & dportB[k] & ifb[k] & icmpB[k]
			for x != 0 {
				b := k*64 + bits.TrailingZeros64(x)
				x &= x - 1
				i := c.base + b
				if i < pos {
					continue
				}
				// The look-ups of the rules reached on the way to i, in order.
				for d.active && nextState < len(g.stateIdx) && g.stateIdx[nextState] <= i {
					at := g.stateIdx[nextState]
					nextState++
					if at < pos {
						continue
					}
					v, done := rs.dynHit(p, &d, at, depth)
					unsure.add(0, d.unsure) // whether a dynamic rule exists rests on the first packet's verdict
					if done {
						v.Unsure = pfFirstUnsure(v.Unsure, unsure.result(v.Action))
						return v, creator
					}
				}
				r := &rs.Rules[i]
				if hasBit(c.slow, b) {
					f, _ := r.check(p)
					if g.unsure != nil && g.unsure[i] != "" && r.changesWalk() && (f == noFailure || r.looseMatch(p)) {
						unsure.rule(r, g.unsure[i], f == noFailure)
					}
					if f != noFailure {
						continue
					}
				}
				if r.Keep && creator < 0 {
					creator = i
				}
				switch r.Kind {
				case ipfwCount, ipfwCheckState:
					continue
				case ipfwReass:
					if !p.Frag {
						continue
					}
					return Verdict{Action: Allow, Rule: i, Where: r.Where(), Text: r.Text, Unsure: unsure.result(Allow)}, creator
				case ipfwSkipTo:
					pos = g.skipIdx[i]
					continue
				}
				return Verdict{Action: r.Action, Rule: i, Where: r.Where(), Text: r.Text, Unsure: unsure.result(r.Action)}, creator
			}
		}
	}
	for d.active && nextState < len(g.stateIdx) {
		at := g.stateIdx[nextState]
		nextState++
		if at < pos {
			continue
		}
		v, done := rs.dynHit(p, &d, at, depth)
		unsure.add(0, d.unsure)
		if done {
			v.Unsure = pfFirstUnsure(v.Unsure, unsure.result(v.Action))
			return v, creator
		}
	}
	v := rs.defaultVerdict()
	v.Unsure = unsure.result(v.Action)
	return v, creator
}

// dynHit runs the look-up of probe rule at for the compiled walk. On a hit whose parent decides
// it returns that verdict; on a hit whose parent jumps (skipto, count), which may lead back, it
// returns the reference interpreter's verdict for the whole packet.
func (rs *IPFWRuleset) dynHit(p *Packet, d *ipfwDyn, at, depth int) (Verdict, bool) {
	parent, ok := rs.lookup(p, d, &rs.Rules[at], true)
	if !ok {
		return Verdict{}, false
	}
	pr, r := &rs.Rules[parent], &rs.Rules[at]
	if pr.Kind == ipfwDecide {
		return Verdict{Action: pr.Action, Rule: at, Where: r.Where(), Text: r.Text}, true
	}
	v, _ := rs.run(p, nil, depth)
	return v, true
}
