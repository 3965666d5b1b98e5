// Package rules parses ipfw and pf rule sets, evaluates packets against them the way the kernel
// would, explains every verdict, and lints rule sets for the mistakes that lock people out or let
// everything in.
package rules

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// IP protocol numbers.
const (
	ProtoICMP   uint8 = 1
	ProtoTCP    uint8 = 6
	ProtoUDP    uint8 = 17
	ProtoICMPv6 uint8 = 58
)

// Dir is the direction of a packet relative to the host.
type Dir uint8

// Directions.
const (
	In Dir = iota + 1
	Out
)

func (d Dir) String() string {
	if d == Out {
		return "out"
	}
	return "in"
}

// Packet is what the simulator evaluates. Iface is the interface it arrives on (In) or leaves
// by (Out).
type Packet struct {
	Proto            uint8
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	ICMPType         int16 // -1 when not ICMP
	ICMPCode         int16
	Dir              Dir
	Iface            string
	Setup            bool // TCP SYN without ACK: a new connection
	Established      bool // TCP with ACK or RST: part of an existing connection
	// Flags are the TCP header flags, pf's bit values (TCPFIN … TCPCWR). ParsePacket fills them
	// for every TCP packet and keeps Setup and Established consistent with them; a Packet built
	// in code may leave them 0 and set only Setup or Established: TCPFlags tells the flags then.
	Flags uint8
	Frag  bool // a non-first fragment
	// Reply marks a packet of a flow the other side opened (any protocol): it may pass on the
	// state the flow's first packet, its reverse, created. A TCP reply is also Established.
	Reply bool
	// About is, for an ICMP error (destination unreachable, time exceeded, parameter problem,
	// packet too big …), the packet it quotes: pf passes the error on the state of that packet's
	// flow; nil when the packet quotes none. A pointer keeps Packet small, which evaluation copies
	// and benchmarks hold by the hundred; compare packets with Packet.Equal.
	About *Quoted
}

// Equal reports whether p and q are the same packet, quoted packets compared by value.
func (p Packet) Equal(q Packet) bool {
	pa, qa := p.About, q.About
	p.About, q.About = nil, nil
	return p == q && (pa == nil) == (qa == nil) && (pa == nil || *pa == *qa)
}

// Quoted is the packet an ICMP error quotes: the header of the packet that caused it, which the
// error is sent back to the source of.
type Quoted struct {
	Proto              uint8
	Src, Dst           netip.Addr
	SrcPort, DstPort   uint16
	ICMPType, ICMPCode int16 // -1 when not ICMP or not given
	Dir                Dir   // the direction the quoted packet went
	Iface              string
}

// packet is q as a Packet of its own, a flow's first packet: a TCP SYN.
func (q Quoted) packet() Packet {
	p := Packet{Proto: q.Proto, Src: q.Src, Dst: q.Dst, SrcPort: q.SrcPort, DstPort: q.DstPort,
		ICMPType: q.ICMPType, ICMPCode: q.ICMPCode, Dir: q.Dir, Iface: q.Iface}
	if p.Proto == ProtoTCP {
		p.Setup, p.Flags = true, TCPSYN
	}
	return p
}

func (q Quoted) String() string {
	var b strings.Builder
	writeHead(&b, q.Proto, q.Src, q.Dst, q.SrcPort, q.DstPort, q.Dir, q.Iface)
	writeICMP(&b, q.ICMPType, q.ICMPCode)
	return b.String()
}

// icmpError reports whether an ICMP packet of the protocol is an error message that quotes a
// packet: destination unreachable, source quench, redirect, time exceeded and parameter problem
// (RFC 792), or ICMPv6 destination unreachable, packet too big, time exceeded and parameter
// problem (RFC 4443).
func icmpError(proto uint8, typ int16) bool {
	switch proto {
	case ProtoICMP:
		return typ == 3 || typ == 4 || typ == 5 || typ == 11 || typ == 12
	case ProtoICMPv6:
		return typ >= 1 && typ <= 4
	}
	return false
}

// TCP header flags, as pf numbers them (the order of pf.conf(5)'s letters F S R P A U E W).
const (
	TCPFIN uint8 = 1 << iota
	TCPSYN
	TCPRST
	TCPPSH
	TCPACK
	TCPURG
	TCPECE
	TCPCWR
)

// TCPFlags returns the packet's TCP flags: Flags when set, otherwise SYN for a Setup packet, ACK
// for an Established one and none for the rest (a packet built without Flags), so that code
// reading flags and code reading Setup and Established agree.
func (p *Packet) TCPFlags() uint8 {
	switch {
	case p.Flags != 0:
		return p.Flags
	case p.Setup:
		return TCPSYN
	case p.Established:
		return TCPACK
	}
	return 0
}

// tcpFlagsState returns the Setup and Established that TCP flags fl mean, as ipfw(8) defines
// them: setup is SYN without ACK, established is RST or ACK.
func tcpFlagsState(fl uint8) (setup, established bool) {
	return fl&(TCPSYN|TCPACK) == TCPSYN, fl&(TCPRST|TCPACK) != 0
}

// ParsePacket reads the packet syntax of `rules eval --packet`:
//
//	tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup
//	udp [2001:db8::1]:53 -> [2001:db8::2]:5353 out via en0
//	icmp 203.0.113.5 -> 192.0.2.10 in via en0 type 8 code 0
//
// The protocol is tcp, udp, icmp, icmp6 or a number; "in" or "out" is required; "via IF" is
// optional; tcp takes "setup" (a SYN), "established" (an ACK) or "flags LETTERS" with pf's flag
// letters F S R P A U E W ("flags SA", "flags FPU", "flags R", "flags none" for no flag), the last
// given winning; without any of them a TCP packet is taken as established (an ACK), since most
// packets of a connection are. Setup and Established follow the flags as ipfw(8) defines them:
// setup is SYN without ACK, established is RST or ACK. "reply", for any protocol, says the packet
// answers a flow the other side opened (udp 192.0.2.53:53 -> 192.0.2.10:51000 in via en0 reply).
// An ICMP error (icmp type 3, 4, 5, 11 or 12; icmp6 type 1 to 4) may end with "about" and the
// packet it quotes, in the same syntax, quoted or not:
//
//	icmp 198.51.100.1 -> 192.0.2.10 in via en0 type 3 code 4 about "tcp 192.0.2.10:51000 -> 203.0.113.5:443 out via en0"
//
// The quoted packet is one the host sent or forwarded, so it comes from the error's destination;
// pf passes the error on that packet's state (see pf_icmperr.go). It takes no reply, frag or
// about of its own; its TCP flags are not kept.
func ParsePacket(s string) (Packet, error) {
	head, about, hasAbout := strings.Cut(s, " about ")
	if !hasAbout {
		return parsePacket(s)
	}
	p, err := parsePacket(head)
	if err != nil {
		return p, err
	}
	if !icmpError(p.Proto, p.ICMPType) {
		return p, fmt.Errorf("packet %q: about is for ICMP errors (icmp type 3, 4, 5, 11 or 12; icmp6 type 1 to 4)", s)
	}
	about = strings.TrimSpace(about)
	if len(about) >= 2 && about[0] == '"' && about[len(about)-1] == '"' {
		about = about[1 : len(about)-1]
	}
	if strings.Contains(about, "about") {
		return p, fmt.Errorf("packet %q: the quoted packet cannot quote another", s)
	}
	q, err := parsePacket(about)
	if err != nil {
		return p, fmt.Errorf("packet %q: about: %v", s, err)
	}
	if q.Reply || q.Frag {
		return p, fmt.Errorf("packet %q: about: the quoted packet takes no reply or frag", s)
	}
	if q.Src.Is4() != p.Src.Is4() {
		return p, fmt.Errorf("packet %q: about: the quoted packet is of another address family", s)
	}
	if q.Src != p.Dst {
		return p, fmt.Errorf("packet %q: about: an ICMP error goes to the quoted packet's source, so its destination must be %s", s, q.Src)
	}
	p.About = &Quoted{Proto: q.Proto, Src: q.Src, Dst: q.Dst, SrcPort: q.SrcPort, DstPort: q.DstPort,
		ICMPType: q.ICMPType, ICMPCode: q.ICMPCode, Dir: q.Dir, Iface: q.Iface}
	return p, nil
}

func parsePacket(s string) (Packet, error) {
	p := Packet{ICMPType: -1, ICMPCode: -1}
	f := strings.Fields(s)
	if len(f) < 5 || f[2] != "->" {
		return p, fmt.Errorf("packet %q: want PROTO SRC -> DST in|out [via IF] [setup|established] [type N [code N]]", s)
	}
	switch strings.ToLower(f[0]) {
	case "tcp":
		p.Proto = ProtoTCP
	case "udp":
		p.Proto = ProtoUDP
	case "icmp":
		p.Proto = ProtoICMP
	case "icmp6", "icmpv6", "ipv6-icmp":
		p.Proto = ProtoICMPv6
	default:
		n, err := strconv.Atoi(f[0])
		if err != nil || n < 0 || n > 255 {
			return p, fmt.Errorf("packet %q: protocol %q: want tcp, udp, icmp, icmp6 or a number", s, f[0])
		}
		p.Proto = uint8(n)
	}
	ports := p.Proto == ProtoTCP || p.Proto == ProtoUDP
	var err error
	if p.Src, p.SrcPort, err = endpoint(f[1], ports); err != nil {
		return p, fmt.Errorf("packet %q: source: %v", s, err)
	}
	if p.Dst, p.DstPort, err = endpoint(f[3], ports); err != nil {
		return p, fmt.Errorf("packet %q: destination: %v", s, err)
	}
	if p.Src.Is4() != p.Dst.Is4() {
		return p, fmt.Errorf("packet %q: source and destination are of different address families", s)
	}
	switch f[4] {
	case "in":
		p.Dir = In
	case "out":
		p.Dir = Out
	default:
		return p, fmt.Errorf("packet %q: want in or out after the destination, got %q", s, f[4])
	}
	explicitState := false
	for i := 5; i < len(f); i++ {
		switch f[i] {
		case "via", "on":
			if i+1 >= len(f) {
				return p, fmt.Errorf("packet %q: %s needs an interface", s, f[i])
			}
			p.Iface = f[i+1]
			i++
		case "setup":
			p.Flags, explicitState = TCPSYN, true
		case "established":
			p.Flags, explicitState = TCPACK, true
		case "flags":
			if i+1 >= len(f) {
				return p, fmt.Errorf("packet %q: flags needs pf's flag letters, such as flags SA (F S R P A U E W) or flags none", s)
			}
			fl, ok := pfParseFlags(f[i+1])
			if f[i+1] == "none" {
				fl, ok = 0, true
			} else if f[i+1] == "" {
				ok = false
			}
			if !ok {
				return p, fmt.Errorf("packet %q: flags %q: want pf's flag letters F S R P A U E W, such as SA, or none", s, f[i+1])
			}
			p.Flags, explicitState = fl, true
			i++
		case "frag":
			p.Frag = true
		case "reply":
			p.Reply = true
		case "type", "code":
			if i+1 >= len(f) {
				return p, fmt.Errorf("packet %q: %s needs a number", s, f[i])
			}
			n, err := strconv.Atoi(f[i+1])
			if err != nil || n < 0 || n > 255 {
				return p, fmt.Errorf("packet %q: %s %q: want 0 to 255", s, f[i], f[i+1])
			}
			if f[i] == "type" {
				p.ICMPType = int16(n)
			} else {
				p.ICMPCode = int16(n)
			}
			i++
		default:
			return p, fmt.Errorf("packet %q: unknown word %q", s, f[i])
		}
	}
	if explicitState && p.Proto != ProtoTCP {
		return p, fmt.Errorf("packet %q: setup, established and flags are for tcp", s)
	}
	if p.Proto == ProtoTCP {
		if !explicitState {
			p.Flags = TCPACK
		}
		p.Setup, p.Established = tcpFlagsState(p.Flags)
	}
	if p.Reply && p.Setup {
		return p, fmt.Errorf("packet %q: a reply is not a setup packet", s)
	}
	return p, nil
}

func endpoint(s string, ports bool) (netip.Addr, uint16, error) {
	if !ports {
		a, err := netip.ParseAddr(strings.Trim(s, "[]"))
		return a, 0, err
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.Addr{}, 0, fmt.Errorf("%q: want ADDR:PORT ([v6]:PORT for IPv6)", s)
	}
	return ap.Addr().Unmap(), ap.Port(), nil
}

func (p Packet) String() string {
	var b strings.Builder
	writeHead(&b, p.Proto, p.Src, p.Dst, p.SrcPort, p.DstPort, p.Dir, p.Iface)
	if p.Reply {
		b.WriteString(" reply")
	}
	if p.Proto == ProtoTCP {
		switch fl := p.TCPFlags(); fl {
		case TCPSYN:
			b.WriteString(" setup")
		case TCPACK:
			if !p.Reply {
				b.WriteString(" established")
			}
		case 0:
			b.WriteString(" flags none")
		default:
			b.WriteString(" flags " + pfFlagString(fl))
		}
	}
	if p.Frag {
		b.WriteString(" frag")
	}
	writeICMP(&b, p.ICMPType, p.ICMPCode)
	if p.About != nil {
		b.WriteString(` about "` + p.About.String() + `"`) // not escaped: ParsePacket takes what is between the quotes
	}
	return b.String()
}

// writeHead writes the start of a packet spec: protocol, endpoints, direction and interface.
func writeHead(b *strings.Builder, proto uint8, src, dst netip.Addr, sport, dport uint16, dir Dir, iface string) {
	name := map[uint8]string{ProtoTCP: "tcp", ProtoUDP: "udp", ProtoICMP: "icmp", ProtoICMPv6: "icmp6"}[proto]
	if name == "" {
		name = strconv.Itoa(int(proto))
	}
	if proto == ProtoTCP || proto == ProtoUDP {
		fmt.Fprintf(b, "%s %s -> %s %s", name, netip.AddrPortFrom(src, sport), netip.AddrPortFrom(dst, dport), dir)
	} else {
		fmt.Fprintf(b, "%s %s -> %s %s", name, src, dst, dir)
	}
	if iface != "" {
		b.WriteString(" via " + iface)
	}
}

func writeICMP(b *strings.Builder, typ, code int16) {
	if typ >= 0 {
		fmt.Fprintf(b, " type %d", typ)
	}
	if code >= 0 {
		fmt.Fprintf(b, " code %d", code)
	}
}

// Action is what a rule set decides for a packet.
type Action uint8

// Actions.
const (
	Allow Action = iota + 1
	Deny
	Reject // deny and answer (TCP RST / ICMP unreachable)
)

func (a Action) String() string {
	switch a {
	case Allow:
		return "allow"
	case Deny:
		return "deny"
	case Reject:
		return "reject"
	}
	return "none"
}

// Past is the action as a participle: "allowed", "denied", "rejected".
func (a Action) Past() string {
	switch a {
	case Allow:
		return "allowed"
	case Deny:
		return "denied"
	case Reject:
		return "rejected"
	}
	return "not decided"
}

// Verdict is the decision for one packet.
type Verdict struct {
	Action Action
	Rule   int    // index of the deciding rule in the rule set; -1 for the built-in default
	Where  string // "00100" (ipfw rule number) or "pf.conf:12" — how a person finds the rule
	Text   string // the deciding rule as written
	// Unsure says what the verdict rests on beyond the rule set's notes that neither the file
	// nor the packet decides (the unsure conditions of the rules it depends on, joined with "; "
	// when the rule set is compiled, so that evaluating does not allocate); "" when the verdict
	// is exact.
	Unsure string
}

// Step is one rule considered, for --explain.
type Step struct {
	Where   string `json:"where"`
	Text    string `json:"text"`
	Matched bool   `json:"matched"`
	Why     string `json:"why"` // the first condition that failed, or what the match did
}

// Finding is one lint result.
type Finding struct {
	Kind    string   `json:"kind"`    // "shadowed", "redundant", "after-catch-all", "no-final-deny", …
	Rules   []string `json:"rules"`   // Where of each rule involved
	Message string   `json:"message"` // what is wrong and why it matters
	Fix     string   `json:"fix"`     // the smallest change that mends it
}
