package fwlog

import (
	"bytes"
	"net/netip"
)

// Options tune a summary.
type Options struct {
	Format   Format // FormatUnknown: detect each line
	MaxKeys  int    // distinct keys kept per table before it turns approximate; default 1<<20
	Examples int    // malformed lines kept as examples
}

// DefaultMaxKeys bounds every table: a million connections is about 150 MB.
const DefaultMaxKeys = 1 << 20

// Summary accumulates events. It is synchronous; run one per goroutine and Merge them.
type Summary struct {
	opts Options

	Lines, Parsed, Malformed, Unrecognised int64
	ByFormat                               [5]int64
	Repeats                                int64 // "last message repeated N times" lines (not expanded)

	first, last         []byte
	firstSeq, lastSeq   int64
	haveFirst, haveLast bool

	actions  map[string]uint16 // interned action names, per format
	actNames []actionName
	conns    *tally[connKey]
	outside  *tally[netip.Addr]
	denied   *tally[portKey]
	rules    strTally
	ifaces   strTally
	apps     strTally
	protos   [6]int64
	stealth  [6]int64 // Stealth Mode attempts by protocol, counts summed
	limits   strTally
	examples []example
	keyBuf   []byte
	ev       Event
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

type portKey struct {
	proto Proto
	port  uint16
}

type example struct {
	seq  int64
	line string
	why  string // "malformed ipfw" or "unrecognised"
}

// NewSummary returns an empty summary.
func NewSummary(opts Options) *Summary {
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = DefaultMaxKeys
	}
	return &Summary{
		opts:    opts,
		actions: map[string]uint16{},
		conns:   newTally[connKey](opts.MaxKeys),
		outside: newTally[netip.Addr](opts.MaxKeys),
		denied:  newTally[portKey](opts.MaxKeys),
		rules:   newStrTally(opts.MaxKeys),
		ifaces:  newStrTally(opts.MaxKeys),
		apps:    newStrTally(opts.MaxKeys),
		limits:  newStrTally(opts.MaxKeys),
	}
}

// detect picks the parser for a line by the marks each format leaves, cheapest first.
func detect(line []byte) Parser {
	switch {
	case bytes.Contains(line, []byte("Stealth Mode connection attempt")):
		return ParseALF
	case bytes.Contains(line, []byte("ipfw: ")):
		return ParseIPFW
	case bytes.Contains(line, []byte("IN=")):
		return ParseNetfilter
	case bytes.Contains(line, []byte("(match)")):
		return ParsePF
	case bytes.Contains(line, []byte("socketfilterfw")), bytes.Contains(line, []byte("Firewall[")),
		bytes.Contains(line, []byte("com.apple.alf")), bytes.Contains(line, []byte("last message repeated")):
		return ParseALF
	}
	return nil
}

func parserFor(f Format) Parser {
	switch f {
	case FormatIPFW:
		return ParseIPFW
	case FormatPF:
		return ParsePF
	case FormatALF:
		return ParseALF
	case FormatNetfilter:
		return ParseNetfilter
	}
	return nil
}

// Line adds one line (without its newline). seq orders lines across workers: first and last
// timestamps are those of the lowest and highest seq.
func (s *Summary) Line(line []byte, seq int64) {
	s.Lines++
	line = trimRight(line)
	if len(line) == 0 {
		return
	}
	p := parserFor(s.opts.Format)
	if p == nil {
		p = detect(line)
	}
	if p == nil {
		s.Unrecognised++
		s.keep(line, seq, "unrecognised")
		return
	}
	e := &s.ev
	e.Reset()
	ok, mine := p(line, e)
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
		if !s.haveFirst || seq < s.firstSeq {
			s.first, s.firstSeq, s.haveFirst = append(s.first[:0], e.Stamp...), seq, true
		}
		if !s.haveLast || seq > s.lastSeq {
			s.last, s.lastSeq, s.haveLast = append(s.last[:0], e.Stamp...), seq, true
		}
	}
	s.count(e)
}

func (s *Summary) keep(line []byte, seq int64, why string) {
	if len(s.examples) < s.opts.Examples {
		s.examples = append(s.examples, example{seq, string(line), why})
	}
}

func (s *Summary) action(f Format, name []byte) uint16 {
	k := append(append(s.keyBuf[:0], byte('0'+f)), name...)
	s.keyBuf = k
	if id, ok := s.actions[string(k)]; ok {
		return id
	}
	id := uint16(len(s.actNames))
	s.actions[string(k)] = id
	s.actNames = append(s.actNames, actionName{f, string(name)})
	return id
}

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
	s.protos[e.Proto]++
	if len(e.Rule) > 0 && e.Kind == KindPacket {
		k := append(append(s.keyBuf[:0], byte('0'+e.Format)), e.Rule...)
		s.keyBuf = k
		s.rules.addBytes(k, e.Dir, 1)
	}
	if len(e.Iface) > 0 {
		s.ifaces.addBytes(e.Iface, e.Dir, 1)
	}
	src := netip.AddrPortFrom(e.Src, e.SrcPort)
	dst := netip.AddrPortFrom(e.Dst, e.DstPort)
	inside, outside := dst, src // inbound, and unknown as the 2005 script did
	if e.Dir == DirOut {
		inside, outside = src, dst
	}
	s.conns.add(connKey{s.action(e.Format, e.Action), e.Proto, inside, outside}, e.Dir, 1)
	s.outside.add(outside.Addr(), e.Dir, 1)
	if e.HasPorts && denied(e.Format, e.Action) {
		s.denied.add(portKey{e.Proto, e.DstPort}, e.Dir, 1)
	}
}

// denied reports whether an action blocked the packet.
func denied(f Format, a []byte) bool {
	switch f {
	case FormatIPFW:
		for _, p := range []string{"Deny", "Reset", "Reject", "Unreach", "Refuse", "Abort"} {
			if bytes.HasPrefix(a, []byte(p)) {
				return true
			}
		}
		return string(a) == "Stealth"
	case FormatPF:
		return string(a) == "block" || string(a) == "synproxy-drop"
	case FormatALF:
		return string(a) == "Deny" || string(a) == "Stealth"
	case FormatNetfilter:
		switch string(bytes.ToUpper(a)) {
		case "DROP", "REJECT", "BLOCK", "DENY":
			return true
		}
	}
	return false
}

// Merge adds o into s. Action IDs are remapped; o must not be used afterwards.
func (s *Summary) Merge(o *Summary) {
	s.Lines += o.Lines
	s.Parsed += o.Parsed
	s.Malformed += o.Malformed
	s.Unrecognised += o.Unrecognised
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
	conns := newTally[connKey](o.conns.max)
	conns.bound, conns.drops = o.conns.bound, o.conns.drops
	for k, c := range o.conns.m {
		k.action = remap[k.action]
		conns.m[k] = c
	}
	s.conns.merge(conns)
	s.outside.merge(o.outside)
	s.denied.merge(o.denied)
	s.rules.merge(o.rules.tally)
	s.ifaces.merge(o.ifaces.tally)
	s.apps.merge(o.apps.tally)
	s.limits.merge(o.limits.tally)
	s.examples = append(s.examples, o.examples...)
}
