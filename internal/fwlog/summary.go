package fwlog

import (
	"bytes"
	"math"
	"net/netip"
)

// Options tune a summary.
type Options struct {
	Format   Format // FormatUnknown: detect each line
	MaxKeys  int    // distinct keys kept per table before it turns approximate; default 1<<20
	Examples int    // malformed lines kept as examples
}

// DefaultMaxKeys bounds every table: a million IPv4 connections take about 50 MB.
const DefaultMaxKeys = 1 << 20

// Summary accumulates events. It is synchronous; run one per goroutine and Merge them.
type Summary struct {
	opts Options

	// Every line read is counted in Lines and in exactly one of Parsed, Malformed, Unrecognised
	// and Blank (empty, or spaces and tabs only).
	Lines, Parsed, Malformed, Unrecognised, Blank int64
	ByFormat                                      [numFormats]int64
	Repeats                                       int64 // "last message repeated N times" lines (not expanded)

	first, last         []byte
	lastRef             []byte // the last timestamp, in the line's own buffer (see keepLast)
	firstSeq, lastSeq   int64
	haveFirst, haveLast bool

	actions  map[string]uint16 // interned action names, per format
	actNames []actionName
	cs       *connStore // the connection rows, and the packets per outside address
	// emit, when set, receives the rows instead of cs: Summarize's workers hand them to one
	// goroutine that owns the run's only connection table (see aggregate).
	emit     *connBatch
	sentActs int    // actNames already handed on through emit
	sink     uint32 // keeps keyTable.warm's reads
	rules    strTally
	ifaces   strTally
	apps     strTally
	protos   [6]int64
	stealth  [6]int64 // Stealth Mode attempts by protocol, counts summed
	limits   strTally
	examples []example
	keyBuf   []byte
	ev       Event

	// One-entry caches: consecutive lines usually share the action, rule and interface. The
	// cached indexes stay valid because the rules and interfaces tallies change only through
	// slot, which refreshes them.
	lastAction   []byte
	lastActionID uint16
	lastFormat   Format
	lastRule     []byte
	lastRuleAt   int32
	lastIface    []byte
	lastIfAt     int32
	// ruleCache is the slots of recent numeric rules (ipfw's, pf's), by rule number: in a log
	// whose lines go through many rules in turn the one-entry cache keeps missing, and a map
	// lookup by string costs several times a look here.
	ruleCache [1 << ruleCacheBits]ruleCached

	// The memo replays lines seen before. In an ipfw log most lines repeat exactly after their
	// timestamp (the same connection, rule and interface), so a hit skips parsing and every map
	// lookup: it only bumps the slots the first parse used. Bounded, dropped when any table
	// prunes (slot indexes move), and switched off when it stops paying (many distinct lines).
	memo       map[string]memoEntry
	memoOff    bool
	memoHits   int64
	memoMisses int64
	general    bool     // never take the ipfw fast path (tests compare the two paths)
	lastPacked bool     // the last row counted was packed, as lastKey
	lastKey    connKey4 // (the memo keeps the row itself, not its slot)

	// Counted as lines arrive, so they stay exact (or carry their own bound) when the connection
	// table is pruned: packets per action, denied destination ports. (The outside addresses are
	// the connection store's: see connStore.)
	actPackets []int64
	deniedAct  []bool
	ports      [2][]count32    // tcp, udp: indexed by port, allocated on first use (see addPort)
	portQ      []uint32        // tcp 0 / udp 1 <<18 | dir<<16 | port: packets not yet in ports (see flushPorts)
	portSpill  map[uint32]cell // what passed a ports counter's 32 bits, by tcp/udp<<16 | port
	otherPorts *tally[portKey]
	lastSide   sideSlots
}

// ruleCacheBits is the log2 of the rule cache's slots.
const ruleCacheBits = 6

// ruleCached is a ruleCache entry: the rule of format f numbered num is in slot at, as long as
// the rules tally has pruned prunes times (a prune moves slots).
type ruleCached struct {
	num    uint32
	f      Format
	valid  bool
	prunes uint32
	at     int32
}

// ruleNumber is a rule name as a number, when it is one to nine digits without a leading zero
// (so that the number names one string only).
func ruleNumber(rule []byte) (uint32, bool) {
	if len(rule) == 0 || len(rule) > 9 || (rule[0] == '0' && len(rule) > 1) {
		return 0, false
	}
	n := uint32(0)
	for _, c := range rule {
		if c-'0' > 9 {
			return 0, false
		}
		n = n*10 + uint32(c-'0')
	}
	return n, true
}

// memoEntry is what a parsed ipfw packet line did to the tables.
type memoEntry struct {
	gen          uint32
	proto        Proto
	dir          Dir
	row          connKey4
	ruleAt, ifAt int32 // -1: none
	side         sideSlots
}

// sideSlots is where a packet was counted in the side tables, for the memo.
type sideSlots struct {
	action   uint16
	portKind uint8 // 0 none, 1 tcp, 2 udp, 3 other (otherAt)
	port     uint16
	otherAt  int32
}

const memoMax = 1 << 16

// memoProbe is the misses after which the memo must have paid (hits a quarter of the misses) to
// stay on.
const memoProbe = 1 << 14

// memoEarly is the misses after which a memo that has nearly never paid (hits under 1/64 of the
// misses) is switched off at once: on a log of distinct connections (none of 4,096 lines
// repeated in the generated many-connection log, against 1,282 in a log of 5,000 connections)
// the memo's entries and their map cost page faults and time for nothing.
const memoEarly = 1 << 12

// gen changes whenever a table whose slots the memo holds is pruned.
func (s *Summary) gen() uint32 {
	return s.rules.prunes + s.ifaces.prunes + s.otherPorts.prunes
}

type actionName struct {
	format Format
	name   string
}

// connKey is one row of a connection table: inside and outside endpoints (ports zero when the
// protocol has none), so the two directions of a conversation land on the same row.
type connKey struct {
	action          uint16
	proto           Proto
	inside, outside netip.AddrPort
}

// connKey4 packs an IPv4 connKey into 16 bytes: address<<16|port for each side, with the action
// and protocol in the top bits of the inside word.
type connKey4 struct{ inside, outside uint64 }

func pack4(k connKey) (connKey4, bool) {
	if !k.inside.Addr().Is4() || !k.outside.Addr().Is4() {
		return connKey4{}, false
	}
	w := func(ap netip.AddrPort) uint64 {
		a := ap.Addr().As4()
		return uint64(a[0])<<40 | uint64(a[1])<<32 | uint64(a[2])<<24 | uint64(a[3])<<16 | uint64(ap.Port())
	}
	return connKey4{w(k.inside) | uint64(k.action)<<48 | uint64(k.proto)<<60, w(k.outside)}, true
}

func (k connKey4) action() uint16 { return uint16(k.inside>>48) & 0xfff }
func (k connKey4) unpack() connKey {
	ap := func(w uint64) netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{byte(w >> 40), byte(w >> 32), byte(w >> 24), byte(w >> 16)}), uint16(w))
	}
	return connKey{action: uint16(k.inside>>48) & 0xfff, proto: Proto(k.inside >> 60), inside: ap(k.inside), outside: ap(k.outside)}
}

// addConn counts a row, in the connection store or, in a worker of Summarize, in the batch
// handed to the goroutine that owns the run's store.
func (s *Summary) addConn(k connKey, d Dir) {
	k4, ok := pack4(k)
	s.lastPacked, s.lastKey = ok && k.action < 1<<12, k4
	switch {
	case s.emit == nil:
		s.cs.add(k, d)
	case s.lastPacked:
		s.emit.recs = append(s.emit.recs, connRec{k: k4, dir: d})
	default:
		s.emit.recs = append(s.emit.recs, connRec{k: connKey4{inside: uint64(len(s.emit.wide))}, dir: d, wide: true})
		s.emit.wide = append(s.emit.wide, k)
	}
}

// addPacked counts a packed row (a memo replay).
func (s *Summary) addPacked(k connKey4, d Dir) {
	if s.emit == nil {
		s.cs.add4(k, d)
		return
	}
	s.emit.recs = append(s.emit.recs, connRec{k: k, dir: d})
}

type portKey struct {
	proto Proto
	port  uint16
}

type example struct {
	seq  int64
	line string
	why  string // "malformed ipfw" or "unrecognised"

	// Where the line is: set by Summarize, which knows the sources; line 0 when unknown.
	file   string
	lineNo int64
}

// NewSummary returns an empty summary.
func NewSummary(opts Options) *Summary {
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = DefaultMaxKeys
	}
	return &Summary{
		opts:       opts,
		actions:    map[string]uint16{},
		cs:         newConnStore(opts.MaxKeys),
		otherPorts: newTally[portKey](opts.MaxKeys),
		rules:      newStrTally(opts.MaxKeys),
		ifaces:     newStrTally(opts.MaxKeys),
		apps:       newStrTally(opts.MaxKeys),
		limits:     newStrTally(opts.MaxKeys),
	}
}

// Line adds one line (without its newline). seq orders lines across workers: first and last
// timestamps are those of the lowest and highest seq.
func (s *Summary) Line(line []byte, seq int64) {
	s.Lines++
	line = trimRight(line)
	if len(line) == 0 {
		s.Blank++
		return
	}
	var tail []byte
	if !s.memoOff && (s.opts.Format == FormatUnknown || s.opts.Format == FormatIPFW) {
		var stamp []byte
		stamp, tail, _ = leadingStamp(line)
		if m, ok := s.memo[string(tail)]; ok && m.gen == s.gen() {
			s.memoHits++
			s.replay(m, stamp, seq)
			return
		}
		s.memoMisses++
		// Switched off once it has filled without paying: on a log of mostly distinct lines
		// each miss costs a lookup and an insertion for nothing.
		if s.memoMisses > memoProbe && s.memoMisses > 4*s.memoHits ||
			s.memoMisses > memoEarly && s.memoMisses > 64*s.memoHits {
			s.memoOff, s.memo = true, nil
		}
	}
	untagged := false // the line has no "ipfw: "
	if (s.opts.Format == FormatUnknown || s.opts.Format == FormatIPFW) && !s.general {
		l, ok := ipfwFast(line)
		if ok {
			s.lineIPFW(&l, seq, tail)
			return
		}
		untagged = l.untagged
	}
	e := &s.ev
	e.Reset()
	var ok, mine bool
	if p := parserFor(s.opts.Format); p != nil {
		ok, mine = p(line, e)
	} else {
		// Most lines of the logs this reads are ipfw: try it first, then look for the others'
		// marks. Without "ipfw: " only an ip6fw line can be ParseIPFW's: the other formats'
		// lines are not searched for the tag twice.
		if !untagged || bytes.Contains(line, []byte("ip6fw: ")) {
			ok, mine = ParseIPFW(line, e)
		}
		if !mine {
			if p := detect(line); p != nil {
				e.Reset()
				ok, mine = p(line, e)
			}
		}
	}
	switch {
	case !mine:
		s.Unrecognised++
		s.keep(line, seq, "unrecognised")
		return
	case !ok:
		s.Malformed++
		why := "malformed"
		if e.Format != FormatUnknown {
			why += " " + e.Format.String()
		}
		s.keep(line, seq, why)
		return
	}
	s.Parsed++
	s.ByFormat[e.Format]++
	if len(e.Stamp) > 0 {
		s.seen(e.Stamp, seq)
	}
	s.count(e)
	if tail != nil && e.Format == FormatIPFW && e.Kind == KindPacket {
		s.remember(tail, e.Proto, e.Dir, len(e.Rule) > 0, len(e.Iface) > 0)
	}
}

// seen keeps stamp as the first or last timestamp when seq is the lowest or highest yet.
func (s *Summary) seen(stamp []byte, seq int64) {
	if !s.haveFirst || seq < s.firstSeq {
		s.first, s.firstSeq, s.haveFirst = append(s.first[:0], stamp...), seq, true
	}
	if !s.haveLast || seq > s.lastSeq {
		if s.emit != nil {
			// In a worker of Summarize, where nearly every line is the last so far, the stamp
			// is copied once per chunk (keepLast), before the chunk's buffer is reused.
			s.lastRef, s.lastSeq, s.haveLast = stamp, seq, true
			return
		}
		s.last, s.lastSeq, s.haveLast = append(s.last[:0], stamp...), seq, true
	}
}

// keepLast copies the last timestamp, when it still points into the line it came from.
func (s *Summary) keepLast() {
	if s.lastRef != nil {
		s.last, s.lastRef = append(s.last[:0], s.lastRef...), nil
	}
}

// remember keeps in the memo what counting the ipfw packet line whose text after the timestamp
// is tail did, when its row was packed and the memo has room.
func (s *Summary) remember(tail []byte, proto Proto, d Dir, hasRule, hasIface bool) {
	if !s.lastPacked || s.memoOff || len(s.memo) >= memoMax {
		return
	}
	if s.memo == nil {
		// Sized for the lines after which an unpaying memo is switched off: growing it
		// step by step rehashed it every time.
		s.memo = make(map[string]memoEntry, memoEarly)
	}
	m := memoEntry{gen: s.gen(), proto: proto, dir: d, row: s.lastKey, ruleAt: -1, ifAt: -1, side: s.lastSide}
	if hasRule {
		m.ruleAt = s.lastRuleAt
	}
	if hasIface {
		m.ifAt = s.lastIfAt
	}
	s.memo[string(tail)] = m
}

// replay counts a line the memo has seen: what count did for it, without parsing.
func (s *Summary) replay(m memoEntry, stamp []byte, seq int64) {
	s.Parsed++
	s.ByFormat[FormatIPFW]++
	if len(stamp) > 0 {
		s.seen(stamp, seq)
	}
	s.protos[m.proto]++
	if m.ruleAt >= 0 {
		s.rules.cells[m.ruleAt].add(m.dir, 1)
	}
	if m.ifAt >= 0 {
		s.ifaces.cells[m.ifAt].add(m.dir, 1)
	}
	s.addPacked(m.row, m.dir)
	s.actPackets[m.side.action]++
	s.addPort(m.side, m.dir)
}

func (s *Summary) keep(line []byte, seq int64, why string) {
	if len(s.examples) < s.opts.Examples {
		s.examples = append(s.examples, example{seq: seq, line: string(line), why: why})
	}
}

func (s *Summary) action(f Format, name []byte) uint16 {
	if f == s.lastFormat && bytes.Equal(name, s.lastAction) && s.lastAction != nil {
		return s.lastActionID
	}
	id := s.internAction(f, name)
	s.lastFormat, s.lastAction, s.lastActionID = f, append(s.lastAction[:0], name...), id
	return id
}

func (s *Summary) internAction(f Format, name []byte) uint16 {
	// A log has a handful of actions: comparing with each is cheaper than hashing the name.
	if len(s.actNames) <= fewActions {
		for i, a := range s.actNames {
			if a.format == f && a.name == string(name) {
				return uint16(i)
			}
		}
	}
	k := append(append(s.keyBuf[:0], byte('0'+f)), name...)
	s.keyBuf = k
	if id, ok := s.actions[string(k)]; ok {
		return id
	}
	id := uint16(len(s.actNames))
	s.actions[string(k)] = id
	s.actNames = append(s.actNames, actionName{f, string(name)})
	s.actPackets = append(s.actPackets, 0)
	s.deniedAct = append(s.deniedAct, denied(f, name))
	return id
}

// fewActions is the number of actions up to which internAction looks them up one by one.
const fewActions = 16

var actionStealth = []byte("Stealth")

func (s *Summary) count(e *Event) {
	switch e.Kind {
	case KindRepeat:
		s.Repeats++
		return
	case KindLimit:
		s.limits.addBytes(e.Rule, DirUnknown, 1)
		return
	case KindApp:
		k := append(s.keyBuf[:0], e.App...)
		k = append(append(k, 0), e.Action...)
		k = append(append(k, 0), e.Proto.String()...)
		k = append(append(k, 0), e.Op...)
		s.keyBuf = k
		s.apps.addBytes(k, DirUnknown, 1)
		s.protos[e.Proto]++
		return
	case KindOther:
		return
	case KindStealth:
		n := int64(max(e.Count, 1))
		s.stealth[e.Proto] += n
		if !e.Src.IsValid() {
			return
		}
		e.Action = actionStealth
	}
	// A packet (or a Stealth Mode attempt with addresses).
	s.lastPacked = false
	s.protos[e.Proto]++
	if e.Kind == KindPacket {
		s.countRule(e.Format, e.Rule, e.Dir)
	}
	s.countIface(e.Iface, e.Dir)
	src := netip.AddrPortFrom(e.Src, e.SrcPort)
	dst := netip.AddrPortFrom(e.Dst, e.DstPort)
	inside, outside := dst, src // inbound, and unknown as the 2005 script did
	if e.Dir == DirOut {
		inside, outside = src, dst
	}
	a := s.action(e.Format, e.Action)
	s.addConn(connKey{a, e.Proto, inside, outside}, e.Dir)
	s.lastSide = s.addSide(a, e.Proto, e.HasPorts, e.DstPort, e.Dir)
}

// countRule counts a packet of rule (none when empty) of format f.
func (s *Summary) countRule(f Format, rule []byte, d Dir) {
	if len(rule) == 0 {
		return
	}
	if num, ok := ruleNumber(rule); ok {
		// A multiplicative hash: rules numbered in steps of 10 or 100 (ipfw's habit) would
		// share a few slots of num modulo the cache's size.
		c := &s.ruleCache[((num^uint32(f)<<27)*0x9e3779b1)>>(32-ruleCacheBits)]
		if !c.valid || c.num != num || c.f != f || c.prunes != s.rules.prunes {
			k := append(append(s.keyBuf[:0], byte('0'+f)), rule...)
			s.keyBuf = k
			at := s.rules.slot(k) // (may prune: the prunes are read after)
			*c = ruleCached{num: num, f: f, valid: true, prunes: s.rules.prunes, at: at}
		}
		s.lastRule, s.lastRuleAt = s.lastRule[:0], c.at
		s.rules.cells[c.at].add(d, 1)
		return
	}
	k := append(append(s.keyBuf[:0], byte('0'+f)), rule...)
	s.keyBuf = k
	if s.lastRule == nil || !bytes.Equal(k, s.lastRule) {
		s.lastRule, s.lastRuleAt = append(s.lastRule[:0], k...), s.rules.slot(k)
	}
	s.rules.cells[s.lastRuleAt].add(d, 1)
}

// countIface counts a packet on interface iface (none when empty).
func (s *Summary) countIface(iface []byte, d Dir) {
	if len(iface) == 0 {
		return
	}
	if s.lastIface == nil || !bytes.Equal(iface, s.lastIface) {
		s.lastIface, s.lastIfAt = append(s.lastIface[:0], iface...), s.ifaces.slot(iface)
	}
	s.ifaces.cells[s.lastIfAt].add(d, 1)
}

// addSide counts a packet in the side tables and returns where.
// (The packets per outside address are the connection store's.)
func (s *Summary) addSide(a uint16, proto Proto, hasPorts bool, dstPort uint16, d Dir) sideSlots {
	sl := sideSlots{action: a, otherAt: -1}
	s.actPackets[a]++
	if hasPorts && s.deniedAct[a] {
		sl.port = dstPort
		switch proto {
		case ProtoTCP:
			sl.portKind = 1
		case ProtoUDP:
			sl.portKind = 2
		default:
			sl.portKind, sl.otherAt = 3, s.otherPorts.at(portKey{proto, dstPort})
		}
		s.addPort(sl, d)
	}
	return sl
}

func (s *Summary) addPort(sl sideSlots, d Dir) {
	switch sl.portKind {
	case 1, 2:
		t := &s.ports[sl.portKind-1]
		if *t == nil {
			// Counted in random order: 786 KB each with 32-bit counters (24-byte cells took 1.5
			// MB, past a core's cache). Both tables are cut from one huge page: apart, each is
			// under hugeSlice's threshold and takes 192 page faults.
			both := hugeSlice[count32](2 * 65536)
			for i := range s.ports {
				if s.ports[i] == nil {
					s.ports[i] = both[i*65536 : (i+1)*65536 : (i+1)*65536]
				}
			}
		}
		if s.emit != nil {
			// In a worker of Summarize the packet waits in a queue, counted with the others of
			// its chunk by flushPorts.
			s.portQ = append(s.portQ, uint32(sl.portKind-1)<<18|uint32(d)<<16|uint32(sl.port))
			if len(s.portQ) >= portQMax {
				s.flushPorts()
			}
			return
		}
		s.countPort(int(sl.portKind-1), sl.port, d)
	case 3:
		s.otherPorts.cells[sl.otherAt].add(d, 1)
	}
}

// countPort counts one packet of direction d on port of ports[pi], which must be allocated.
func (s *Summary) countPort(pi int, port uint16, d Dir) {
	c := &s.ports[pi][port]
	p := &c.other
	switch d {
	case DirIn:
		p = &c.in
	case DirOut:
		p = &c.out
	}
	if *p == math.MaxUint32 {
		s.spillPort(pi, port, d, 1)
		return
	}
	*p++
}

// portQMax bounds the queue of denied-port packets (16 KiB).
const portQMax = 1 << 12

// flushPorts counts the queued denied-port packets. The ports tables (786 KB each) do not stay
// in a core's cache next to the parse and the connection table, so counting a packet as its line
// is parsed waits for a miss every time; counted together in a loop of nothing else, the misses
// of many packets overlap.
func (s *Summary) flushPorts() {
	for _, q := range s.portQ {
		s.countPort(int(q>>18), uint16(q), Dir(q>>16&3))
	}
	s.portQ = s.portQ[:0]
}

// spillPort adds n packets of direction d on port of ports[pi] to the spill map, which holds
// what the 32-bit counters cannot.
func (s *Summary) spillPort(pi int, port uint16, d Dir, n int64) {
	if s.portSpill == nil {
		s.portSpill = map[uint32]cell{}
	}
	k := uint32(pi)<<16 | uint32(port)
	c := s.portSpill[k]
	c.add(d, n)
	s.portSpill[k] = c
}

// addPort32 adds n to the ports[pi] counter p of port, carrying what passes 32 bits to the
// spill map.
func (s *Summary) addPort32(pi int, port uint16, p *uint32, n uint32, d Dir) {
	if v := uint64(*p) + uint64(n); v <= math.MaxUint32 {
		*p = uint32(v)
		return
	}
	s.spillPort(pi, port, d, int64(*p)+int64(n)-math.MaxUint32)
	*p = math.MaxUint32
}

// portCell is the packets on port of ports[pi] (tcp 0, udp 1).
func (s *Summary) portCell(pi int, port uint16) cell {
	c := s.ports[pi][port]
	out := cell{In: int64(c.in), Out: int64(c.out), Other: int64(c.other)}
	if sp, ok := s.portSpill[uint32(pi)<<16|uint32(port)]; ok {
		out.merge(&sp)
	}
	return out
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func (s *Summary) dropCaches() {
	s.lastRule, s.lastIface, s.memo = nil, nil, nil
	s.ruleCache = [len(s.ruleCache)]ruleCached{}
}

// Merge adds o into s. Action IDs are remapped; o must not be used afterwards.
func (s *Summary) Merge(o *Summary) {
	s.dropCaches()
	s.Lines += o.Lines
	s.Parsed += o.Parsed
	s.Malformed += o.Malformed
	s.Unrecognised += o.Unrecognised
	s.Blank += o.Blank
	s.Repeats += o.Repeats
	for i := range s.ByFormat {
		s.ByFormat[i] += o.ByFormat[i]
	}
	for i := range s.protos {
		s.protos[i] += o.protos[i]
		s.stealth[i] += o.stealth[i]
	}
	if o.haveFirst && (!s.haveFirst || o.firstSeq < s.firstSeq) {
		s.first, s.firstSeq, s.haveFirst = append(s.first[:0], o.first...), o.firstSeq, true
	}
	if o.haveLast && (!s.haveLast || o.lastSeq > s.lastSeq) {
		s.last, s.lastSeq, s.haveLast = append(s.last[:0], o.last...), o.lastSeq, true
	}
	remap := make([]uint16, len(o.actNames))
	for i, a := range o.actNames {
		remap[i] = s.action(a.format, []byte(a.name))
	}
	for id, n := range o.actPackets {
		s.actPackets[remap[id]] += n
	}
	s.cs.merge(o.cs, remap)
	for k := range s.ports {
		if o.ports[k] == nil {
			continue
		}
		if s.ports[k] == nil {
			s.ports[k] = o.ports[k] // o is not used again: its table becomes s's
			continue
		}
		for port := range o.ports[k] {
			t, oc := &s.ports[k][port], o.ports[k][port]
			s.addPort32(k, uint16(port), &t.in, oc.in, DirIn)
			s.addPort32(k, uint16(port), &t.out, oc.out, DirOut)
			s.addPort32(k, uint16(port), &t.other, oc.other, DirUnknown)
		}
	}
	for k, c := range o.portSpill {
		s.spillPort(int(k>>16), uint16(k), DirIn, c.In)
		s.spillPort(int(k>>16), uint16(k), DirOut, c.Out)
		s.spillPort(int(k>>16), uint16(k), DirUnknown, c.Other)
	}
	s.otherPorts.merge(o.otherPorts)
	s.rules.merge(o.rules.tally)
	s.ifaces.merge(o.ifaces.tally)
	s.apps.merge(o.apps.tally)
	s.limits.merge(o.limits.tally)
	s.examples = append(s.examples, o.examples...)
}
