package rules

import (
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"
)

// This file reads an ipfw rule as ipfw(8) of FreeBSD 13/14 and Mac OS X 10.x accepts it:
//
//	[set N] [prob P] ACTION [log [logamount N] [logdst D]] [altq Q] [tag|untag N]
//	    [PROTO from SRC [PORTS] to DST [PORTS]] [OPTIONS] [// comment]
//
// Options are ANDed; `not` negates the next one and `{ a or b }` ORs a block. Options the
// classifier's tables hold (in/out, via, setup, established, frag, icmptypes, ports, a protocol,
// an address family) go to the rule's fields; negated and OR-ed ones, and those the tables do
// not hold, go to Conds, which the evaluators check one by one. Conditions the file and the
// packet cannot decide (uid, runtime tables, TCP options …) are taken as an ordinary packet would
// make them (see ipfwAssumed) and named in the rule's unsure list.

// condKind is what an ipfwCond tests.
type condKind uint8

const (
	condProto condKind = iota + 1
	condFamily
	condSrc
	condDst
	condSrcPort
	condDstPort
	condDir
	condIface
	condEst
	condSetup
	condFrag
	condICMP
	condTCPFlags
	condAssume    // undecidable: holds as assumed
	condAntispoof // antispoof judged from the interfaces given (SetInterfaces)
)

// ipfwCond is one option checked one by one.
type ipfwCond struct {
	kind   condKind
	not    bool
	group  int    // conditions sharing a non-zero group are one OR block
	text   string // as written, for --explain
	addr   ipfwAddr
	ports  []portRange
	protos []uint8
	ifc    ipfwIface
	dir    Dir
	family uint8
	icmp   []uint8
	set    uint8 // tcpflags: flags that must be set
	clear  uint8 // and that must be clear
	assume bool
	ifaces *[]ipfwIfaceNet // antispoof: the interfaces' networks
}

// ipfwIfaceNet is a network directly connected to an interface.
type ipfwIfaceNet struct {
	name string
	net  netip.Prefix
}

// TCP flag bits as ipfw's tcpflags names them.
const (
	tcpFIN uint8 = 1 << iota
	tcpSYN
	tcpRST
	tcpPSH
	tcpACK
	tcpURG
	tcpECE
	tcpCWR
)

var tcpFlagNames = map[string]uint8{"fin": tcpFIN, "syn": tcpSYN, "rst": tcpRST, "psh": tcpPSH, "ack": tcpACK, "urg": tcpURG, "ece": tcpECE, "cwr": tcpCWR}

// packetTCPFlags is the packet's TCP flags (Packet.TCPFlags: its own, or SYN for a setup packet
// and ACK for an established one); pf's bit values are ipfw's.
func packetTCPFlags(p *Packet) uint8 { return p.TCPFlags() }

func familyOf(p *Packet) uint8 {
	if p.Src.Is4() {
		return 4
	}
	return 6
}

func hasPorts(p *Packet) bool {
	return (p.Proto == ProtoTCP || p.Proto == ProtoUDP || p.Proto == ipfwProtoSCTP) && !p.Frag
}

func ifaceMatch(ifc *ipfwIface, p *Packet) bool {
	if ifc.How == "recv" && p.Dir != In || ifc.How == "xmit" && p.Dir != Out {
		return false
	}
	ok, _ := path.Match(ifc.Pattern, p.Iface)
	return ok
}

// holds reports whether the condition, negation included, holds for p.
func (c *ipfwCond) holds(p *Packet) bool {
	var m bool
	switch c.kind {
	case condProto:
		m = slices.Contains(c.protos, p.Proto)
	case condFamily:
		m = familyOf(p) == c.family
	case condSrc:
		m = c.addr.match(p, p.Src, true)
	case condDst:
		m = c.addr.match(p, p.Dst, false)
	case condSrcPort:
		m = hasPorts(p) && portsMatch(c.ports, p.SrcPort)
	case condDstPort:
		m = hasPorts(p) && portsMatch(c.ports, p.DstPort)
	case condDir:
		m = p.Dir == c.dir
	case condIface:
		m = ifaceMatch(&c.ifc, p)
	case condEst:
		m = p.Proto == ProtoTCP && p.Established && !p.Frag
	case condSetup:
		m = p.Proto == ProtoTCP && p.Setup && !p.Frag
	case condFrag:
		m = p.Frag
	case condICMP:
		m = (p.Proto == ProtoICMP || p.Proto == ProtoICMPv6) && p.ICMPType >= 0 && slices.Contains(c.icmp, uint8(p.ICMPType))
	case condTCPFlags:
		f := packetTCPFlags(p)
		m = p.Proto == ProtoTCP && !p.Frag && f&c.set == c.set && f&c.clear == 0
	case condAssume:
		m = c.assume
	case condAntispoof:
		m = antispoofOK(*c.ifaces, p)
	}
	return m != c.not
}

// condsHold checks a rule's Conds: OR blocks hold when one member holds, and all must hold. It
// returns the index of the first failing condition (of its block), or -1.
func condsHold(cs []ipfwCond, p *Packet) int {
	for i := 0; i < len(cs); {
		c := &cs[i]
		if c.group == 0 {
			if !c.holds(p) {
				return i
			}
			i++
			continue
		}
		ok, j := false, i
		for ; j < len(cs) && cs[j].group == c.group; j++ {
			if !ok && cs[j].holds(p) {
				ok = true
			}
		}
		if !ok {
			return i
		}
		i = j
	}
	return -1
}

const ipfwProtoSCTP uint8 = 132

// portProtos are the protocols ipfw finds ports in (ip_fw2.c matches O_IP_SRCPORT/O_IP_DSTPORT
// only for TCP, UDP and SCTP, and only in a first fragment).
var portProtos = []uint8{ProtoTCP, ProtoUDP, ipfwProtoSCTP}

// ipfwRuleParser holds the words of one rule being read.
type ipfwRuleParser struct {
	f        []string
	services ServiceLookup
	r        *IPFWRule
	group    int
}

func (ps *ipfwRuleParser) peek() string {
	if len(ps.f) == 0 {
		return ""
	}
	return ps.f[0]
}

func (ps *ipfwRuleParser) next() string {
	s := ps.peek()
	if len(ps.f) > 0 {
		ps.f = ps.f[1:]
	}
	return s
}

func (ps *ipfwRuleParser) unsure(what string) { ps.r.unsure = append(ps.r.unsure, what) }

// ipfwTokens splits braces from the words they touch ("{tcp" → "{", "tcp") and cuts the rule at
// a `//` comment. A brace inside a word ("10.0.0.0/24{1,5}", an address set) stays.
func ipfwTokens(words []string) []string {
	var out []string
	for _, w := range words {
		if strings.HasPrefix(w, "//") {
			break
		}
		for strings.HasPrefix(w, "{") && w != "{" {
			out = append(out, "{")
			w = w[1:]
		}
		var closing int
		for strings.HasSuffix(w, "}") && w != "}" && !strings.Contains(w, "{") {
			closing++
			w = w[:len(w)-1]
		}
		if w != "" {
			out = append(out, w)
		}
		for range closing {
			out = append(out, "}")
		}
	}
	return out
}

// parseIPFWRule reads one rule: the words after `add` and the rule number.
func parseIPFWRule(words []string, services ServiceLookup) (IPFWRule, error) {
	var r IPFWRule
	ps := &ipfwRuleParser{f: ipfwTokens(words), services: services, r: &r}
	if ps.peek() == "set" {
		ps.next()
		n, err := strconv.Atoi(ps.next())
		if err != nil || n < 0 || n > 31 {
			return r, fmt.Errorf("set needs a number 0-31")
		}
		r.Set = uint8(n)
	}
	if ps.peek() == "prob" {
		ps.next()
		pr, err := strconv.ParseFloat(ps.next(), 64)
		if err != nil || pr < 0 || pr > 1 {
			return r, fmt.Errorf("prob needs a probability 0-1")
		}
		if pr < 1 {
			ps.unsure(fmt.Sprintf("prob %g: the rule applies to a random share of the packets; taken as applying", pr))
		}
	}
	if err := ps.action(); err != nil {
		return r, err
	}
	if r.Kind == ipfwCheckState {
		if strings.HasPrefix(ps.peek(), ":") {
			r.Flow = flowName(ps.next())
		}
		if len(ps.f) > 0 {
			return r, fmt.Errorf("%s takes no body, got %q", r.verb, strings.Join(ps.f, " "))
		}
		return r, nil
	}
	if err := ps.modifiers(); err != nil {
		return r, err
	}
	if err := ps.body(); err != nil {
		return r, err
	}
	for len(ps.f) > 0 {
		if err := ps.option(false, 0); err != nil {
			return r, err
		}
	}
	ps.finish()
	return r, nil
}

// flowName is the state name of a keep-state or check-state: ":default" is the name of an
// unnamed one.
func flowName(s string) string {
	s = strings.TrimPrefix(s, ":")
	if s == "default" {
		return ""
	}
	return s
}

func (ps *ipfwRuleParser) action() error {
	r := ps.r
	a := ps.next()
	r.verb = a
	// The number (or tablearg) some actions take.
	arg := func() (string, error) {
		v := ps.next()
		if v == "" {
			return "", fmt.Errorf("%s needs an argument", a)
		}
		return v, nil
	}
	switch a {
	case "allow", "accept", "pass", "permit":
		r.Action = Allow
	case "deny", "drop":
		r.Action = Deny
	case "reject", "reset", "reset6", "abort", "abort6":
		r.Action = Reject
	case "unreach", "unreach6":
		r.Action = Reject
		if _, err := arg(); err != nil {
			return fmt.Errorf("%s needs a code", a)
		}
	case "count":
		r.Kind = ipfwCount
	case "skipto", "call":
		r.Kind = ipfwSkipTo
		if a == "call" {
			r.Kind = ipfwCall
		}
		v := ps.next()
		if v == "tablearg" {
			r.Kind = ipfwCount
			ps.unsure(a + " tablearg: the target comes from a table at run time; taken as going on at the next rule")
			return nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%s needs a rule number", a)
		}
		r.Skip = n
	case "return":
		r.Kind = ipfwReturn
		if ps.peek() == "next-rulenum" || ps.peek() == "next-rule" {
			if ps.next() == "next-rule" {
				ps.unsure("return next-rule: taken as next-rulenum (the rule after the call's number)")
			}
		}
	case "check-state":
		r.Kind = ipfwCheckState
	case "pipe", "queue", "nat":
		v, err := arg()
		if err != nil {
			return err
		}
		// dummynet and in-kernel NAT hand the packet back to ipfw, which accepts it when
		// net.inet.ip.fw.one_pass is 1 (the default) and goes on at the next rule when it is 0
		// (ipfw(8), "pipe", "nat"); finishIPFW sets the kind once the file's one_pass is known.
		r.Action, r.onePass = Allow, true
		if a == "nat" {
			ps.unsure("nat " + v + ": address translation is not simulated; later rules see the untranslated packet")
		}
		if v == "tablearg" {
			ps.unsure(a + " tablearg: the instance comes from a table at run time")
		}
	case "fwd", "forward":
		v, err := arg()
		if err != nil {
			return err
		}
		r.Action = Allow
		ps.unsure(a + " " + v + ": the packet is accepted and forwarded; routing is not simulated")
	case "divert", "netgraph":
		v, err := arg()
		if err != nil {
			return err
		}
		r.Kind = ipfwCount
		ps.unsure(a + " " + v + ": the packet is handed to the program on that port (natd …), whose verdict is not simulated; taken as handing it back to the next rule")
	case "tee", "ngtee", "setfib", "setdscp":
		if _, err := arg(); err != nil {
			return err
		}
		r.Kind = ipfwCount // a copy leaves, or a mark is set; the packet goes on
	case "reass":
		r.Kind = ipfwReass
	case "nat64lsn", "nat64stl", "nat64clat", "nptv6", "tcp-setmss", "eaction":
		v, err := arg()
		if err != nil {
			return err
		}
		r.Kind = ipfwCount
		ps.unsure(a + " " + v + ": the external action is not simulated; taken as going on at the next rule")
	case "":
		return fmt.Errorf("missing action")
	default:
		return fmt.Errorf("unknown action %q (want allow, deny, reject, unreach, count, skipto, check-state, pipe, nat, fwd, divert …)", a)
	}
	return nil
}

// modifiers reads what may follow the action: log, altq, tag.
func (ps *ipfwRuleParser) modifiers() error {
	for {
		switch ps.peek() {
		case "log":
			ps.next()
			ps.r.Log = true
			for ps.peek() == "logamount" || ps.peek() == "logdst" {
				ps.next()
				if ps.next() == "" {
					return fmt.Errorf("log option needs an argument")
				}
			}
		case "altq", "tag", "untag":
			w := ps.next()
			if ps.next() == "" {
				return fmt.Errorf("%s needs an argument", w)
			}
		default:
			return nil
		}
	}
}

// isProtoWord reports whether s names a protocol (a name, a number, ip/all, ip4/ip6).
func isProtoWord(s string) bool {
	switch s {
	case "ip", "all", "ip4", "ipv4", "ip6", "ipv6":
		return true
	}
	if _, ok := ipfwProtoNames[s]; ok {
		return true
	}
	n, err := strconv.Atoi(s)
	return err == nil && n >= 0 && n <= 255
}

// body reads `PROTO from SRC [PORTS] to DST [PORTS]`. FreeBSD also takes a rule of options only
// (`allow dst-port 22 proto tcp`): then source and destination are any.
func (ps *ipfwRuleParser) body() error {
	r := ps.r
	r.Src.Any, r.Dst.Any = true, true
	first, second := ps.peek(), ""
	if len(ps.f) > 1 {
		second = ps.f[1]
	}
	switch {
	case first == "" || first == "from":
		return fmt.Errorf("missing protocol")
	case isProtoWord(first), (first == "{" || first == "not") && isProtoWord(second):
	case ipfwOptionWords[first] || first == "not" || first == "{":
		return nil // options only
	default:
		return fmt.Errorf("unknown protocol %q", first)
	}
	if err := ps.protocols(); err != nil {
		return err
	}
	if ps.peek() != "from" {
		return nil // a protocol then options (`allow tcp dst-port 22`)
	}
	for _, side := range []struct {
		kw    string
		addr  *ipfwAddr
		ports *[]portRange
	}{{"from", &r.Src, &r.SrcPort}, {"to", &r.Dst, &r.DstPort}} {
		if ps.next() != side.kw {
			return fmt.Errorf("want %q", side.kw)
		}
		a, err := ps.address()
		if err != nil {
			return err
		}
		*side.addr = a
		not := false
		if ps.peek() == "not" && len(ps.f) > 1 && looksLikePorts(ps.f[1]) {
			ps.next()
			not = true
		}
		if looksLikePorts(ps.peek()) {
			w := ps.peek()
			pr, err := ps.ports(w)
			if err != nil {
				if w[0] < '0' || w[0] > '9' {
					// Not a service: ipfw reads the word as an option (and says which is unknown).
					continue
				}
				return err
			}
			ps.next()
			if not {
				kind := condSrcPort
				if side.kw == "to" {
					kind = condDstPort
				}
				r.Conds = append(r.Conds, ipfwCond{kind: kind, not: true, ports: pr, text: "not " + side.kw + " ports"})
			} else {
				*side.ports = pr
			}
		}
	}
	return nil
}

// protocols reads PROTO, `not PROTO` or `{ P or P … }`.
func (ps *ipfwRuleParser) protocols() error {
	r := ps.r
	not := false
	if ps.peek() == "not" {
		ps.next()
		not = true
	}
	var words []string
	if ps.peek() == "{" {
		ps.next()
		for ps.peek() != "}" {
			w := ps.next()
			if w == "" {
				return fmt.Errorf("unclosed { in the protocols")
			}
			if w != "or" {
				words = append(words, w)
			}
		}
		ps.next()
	} else {
		words = []string{ps.next()}
	}
	var protos []uint8
	anyProto := false
	for _, w := range words {
		switch w {
		case "ip", "all":
			anyProto = true
		case "ip4", "ipv4", "ip6", "ipv6":
			fam := uint8(4)
			if strings.HasSuffix(w, "6") {
				fam = 6
			}
			if len(words) > 1 || not {
				r.Conds = append(r.Conds, ipfwCond{kind: condFamily, family: fam, not: not, text: w})
				continue
			}
			r.Family = fam
			anyProto = true
		default:
			n, err := protoNumber(w)
			if err != nil {
				return err
			}
			protos = append(protos, n)
		}
	}
	switch {
	case anyProto && !not:
	case anyProto && not:
		protos = []uint8{} // not ip: nothing
		r.Protos = protos
	case not:
		var all []uint8
		for p := range 256 {
			if !slices.Contains(protos, uint8(p)) {
				all = append(all, uint8(p))
			}
		}
		r.Protos = all
	default:
		r.Protos = protos
	}
	return nil
}

func protoNumber(w string) (uint8, error) {
	if n, ok := ipfwProtoNames[w]; ok {
		return n, nil
	}
	v, err := strconv.Atoi(w)
	if err != nil || v < 0 || v > 255 {
		return 0, fmt.Errorf("unknown protocol %q", w)
	}
	return uint8(v), nil
}

// ipfwKeywords are the words that end an address or a port list: options and the words of the
// rule's frame.
var ipfwKeywords = map[string]bool{"to": true, "from": true, "not": true, "{": true, "}": true, "or": true}

func looksLikePorts(s string) bool {
	if s == "" || ipfwKeywords[s] || ipfwOptionWords[s] || strings.HasPrefix(s, "//") {
		return false
	}
	return true
}

func (ps *ipfwRuleParser) ports(s string) ([]portRange, error) {
	proto := ""
	r := ps.r
	switch {
	case len(r.Protos) >= 1 && r.Protos[0] == ProtoUDP && len(r.Protos) == 1:
		proto = "udp"
	case len(r.Protos) >= 1:
		proto = "tcp"
	}
	if proto == "" && ps.services != nil {
		// ipfw looks names up for the rule's protocol; for ip it finds none. Numbers are what
		// such rules carry.
		return parsePorts(s, "", nil)
	}
	return parsePorts(s, proto, ps.services)
}

// address reads an address: any, me, me6, `not A`, a list `a,b`, a block `{ a or b }`,
// ADDR/LEN, ADDR:MASK, ADDR/LEN{x,y} (an address set), table(N[,value]) or a host name.
func (ps *ipfwRuleParser) address() (ipfwAddr, error) {
	var a ipfwAddr
	if ps.peek() == "not" {
		ps.next()
		a.Not = true
	}
	if ps.peek() == "" {
		return a, fmt.Errorf("missing address")
	}
	var items []string
	if ps.peek() == "{" {
		ps.next()
		for ps.peek() != "}" {
			w := ps.next()
			if w == "" {
				return a, fmt.Errorf("unclosed { in address list")
			}
			for _, it := range strings.Split(w, ",") {
				if it != "" && it != "or" {
					items = append(items, it)
				}
			}
		}
		ps.next()
	} else {
		w := ps.next()
		if ipfwKeywords[w] {
			return a, fmt.Errorf("missing address before %q", w)
		}
		items = splitAddrList(w)
	}
	for _, it := range items {
		if err := ps.addrItem(&a, it); err != nil {
			return a, err
		}
	}
	return a, nil
}

// splitAddrList splits "a,b/24,table(1,5),10.0.0.0/24{1,2}" at the commas outside parentheses
// and braces.
func splitAddrList(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(', '{':
			depth++
		case ')', '}':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func (ps *ipfwRuleParser) addrItem(a *ipfwAddr, it string) error {
	switch {
	case it == "any":
		a.Any = true
	case it == "me":
		a.Me = true
	case it == "me6":
		a.Me6 = true
	case strings.HasPrefix(it, "table(") && strings.HasSuffix(it, ")"):
		name, val, hasVal := strings.Cut(it[len("table("):len(it)-1], ",")
		if name == "" {
			return fmt.Errorf("address %q: want table(NAME) or table(NAME,VALUE)", it)
		}
		a.tables = append(a.tables, ipfwTableRef{name: tableName(name), value: val, hasValue: hasVal})
	case strings.Contains(it, "{"):
		ps2, err := addressSet(it)
		if err != nil {
			return err
		}
		a.Prefixes = append(a.Prefixes, ps2...)
	default:
		p, err := parsePrefix(it)
		if err != nil {
			if !looksLikeHostName(it) {
				return err
			}
			// ipfw resolves a host name when the rule is added; the simulator does not.
			ps.unsure(fmt.Sprintf("host name %s: not resolved; taken as matching no address", it))
			a.unknown = true
			return nil
		}
		a.Prefixes = append(a.Prefixes, p)
	}
	return nil
}

func looksLikeHostName(s string) bool {
	if s == "" || strings.ContainsAny(s, "/:{}()") {
		return false
	}
	for _, c := range s {
		if !(c == '.' || c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	_, err := strconv.Atoi(s)
	return err != nil
}

// addressSet expands ipfw's "ADDR/LEN{x,y,a-b}": the addresses of the /LEN network whose last
// octet is listed.
func addressSet(s string) ([]netip.Prefix, error) {
	base, list, _ := strings.Cut(s, "{")
	list, ok := strings.CutSuffix(list, "}")
	if !ok {
		return nil, fmt.Errorf("address set %q: want ADDR/LEN{N,N-M}", s)
	}
	if !strings.Contains(base, "/") {
		base += "/24"
	}
	pre, err := netip.ParsePrefix(base)
	if err != nil || !pre.Addr().Is4() || pre.Bits() < 24 {
		return nil, fmt.Errorf("address set %q: want an IPv4 ADDR/LEN with LEN 24-32 before the braces", s)
	}
	var out []netip.Prefix
	for _, item := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(item, "-")
		l, err1 := strconv.Atoi(lo)
		h := l
		var err2 error
		if isRange {
			h, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || l < 0 || h > 255 || h < l {
			return nil, fmt.Errorf("address set %q: %q is not an octet or a range of them", s, item)
		}
		b := pre.Masked().Addr().As4()
		for v := l; v <= h; v++ {
			b[3] = byte(v)
			if a := netip.AddrFrom4(b); pre.Contains(a) {
				out = append(out, netip.PrefixFrom(a, 32))
			}
		}
	}
	return out, nil
}

// ipfwOptionWords are the rule options ipfw(8) knows, with the number of arguments they take
// (-1: optional, read by the option itself).
var ipfwOptionArgs = map[string]int{
	"in": 0, "out": 0, "via": 1, "recv": 1, "xmit": 1, "established": 0, "setup": 0,
	"keep-state": -1, "record-state": -1, "limit": -1, "set-limit": -1, "frag": -1,
	"icmptypes": 1, "icmptype": 1, "icmp6types": 1, "icmp6type": 1, "proto": 1,
	"ip4": 0, "ipv4": 0, "ip6": 0, "ipv6": 0, "src-ip": 1, "dst-ip": 1, "src-ip6": 1, "dst-ip6": 1,
	"src-port": 1, "dst-port": 1, "uid": 1, "gid": 1, "jail": 1, "verrevpath": 0, "versrcreach": 0,
	"antispoof": 0, "mac": 2, "MAC": 2, "mac-type": 1, "layer2": 0, "bridged": 0, "diverted": 0,
	"diverted-loopback": 0, "diverted-output": 0, "tcpflags": 1, "tcpflgs": 1, "tcpoptions": 1,
	"tcpopts": 1, "ipoptions": 1, "ipopts": 1, "iplen": 1, "ipttl": 1, "iptos": 1,
	"ipprecedence": 1, "ipid": 1, "ipversion": 1, "ipver": 1, "tcpseq": 1, "tcpack": 1, "tcpwin": 1,
	"tcpmss": 1, "tcpdatalen": 1, "dscp": 1, "fib": 1, "flow-id": 1, "ext6hdr": 1, "addr-type": 1,
	"sockarg": 0, "ipsec": 0, "tagged": 1, "flow": 1, "lookup": 2, "skip-action": 0, "tag": 1,
	"untag": 1, "altq": 1, "log": 0, "logamount": 1, "logdst": 1,
}

var ipfwOptionWords = func() map[string]bool {
	m := map[string]bool{}
	for k := range ipfwOptionArgs {
		m[k] = true
	}
	return m
}()

// ipfwAssumed is, for an option the simulator cannot decide, what it takes the option to say of
// the packet in question (an ordinary packet: not spoofed, no IP or TCP options, no odd header
// values, seen on the IP layer, not re-injected by a divert socket; and sent or received by the
// user, group or jail the rule names), and why it cannot decide.
var ipfwAssumed = map[string]struct {
	holds bool
	why   string
}{
	"uid":               {true, "the owner of the socket is not part of a packet; taken as matching"},
	"gid":               {true, "the group of the socket is not part of a packet; taken as matching"},
	"jail":              {true, "the jail of the socket is not part of a packet; taken as matching"},
	"verrevpath":        {true, "the routing table is not simulated; the packet is taken as arriving on its reverse path"},
	"versrcreach":       {true, "the routing table is not simulated; the source is taken as reachable"},
	"antispoof":         {true, "the interfaces' networks are not known; the source is taken as not spoofed"},
	"mac":               {false, "MAC addresses exist only on the layer-2 pass; the simulator evaluates the IP-layer pass"},
	"MAC":               {false, "MAC addresses exist only on the layer-2 pass; the simulator evaluates the IP-layer pass"},
	"mac-type":          {false, "the ethernet type exists only on the layer-2 pass; the simulator evaluates the IP-layer pass"},
	"layer2":            {false, "the simulator evaluates the IP-layer pass, not the layer-2 one (net.link.ether.ipfw)"},
	"bridged":           {false, "the packet is taken as not bridged"},
	"diverted":          {false, "the packet is taken as new, not re-injected by a divert socket"},
	"diverted-loopback": {false, "the packet is taken as new, not re-injected by a divert socket"},
	"diverted-output":   {false, "the packet is taken as new, not re-injected by a divert socket"},
	"tcpoptions":        {false, "TCP options are not part of the packet given; taken as none present"},
	"tcpopts":           {false, "TCP options are not part of the packet given; taken as none present"},
	"ipoptions":         {false, "IP options are not part of the packet given; taken as none present"},
	"ipopts":            {false, "IP options are not part of the packet given; taken as none present"},
	"iplen":             {false, "the packet's length is not given; taken as not matching"},
	"ipttl":             {false, "the packet's TTL is not given; taken as not matching"},
	"iptos":             {false, "the packet's TOS is not given; taken as not matching"},
	"ipprecedence":      {false, "the packet's precedence is not given; taken as not matching"},
	"ipid":              {false, "the packet's IP id is not given; taken as not matching"},
	"tcpseq":            {false, "the TCP sequence number is not given; taken as not matching"},
	"tcpack":            {false, "the TCP acknowledgment number is not given; taken as not matching"},
	"tcpwin":            {false, "the TCP window is not given; taken as not matching"},
	"tcpmss":            {false, "the TCP MSS is not given; taken as not matching"},
	"tcpdatalen":        {false, "the TCP payload length is not given; taken as not matching"},
	"dscp":              {false, "the packet's DSCP is not given; taken as not matching"},
	"fib":               {false, "the packet's FIB is not given; taken as not matching"},
	"flow-id":           {false, "the IPv6 flow label is not given; taken as not matching"},
	"ext6hdr":           {false, "IPv6 extension headers are not part of the packet given; taken as none present"},
	"addr-type":         {false, "address types (broadcast, multicast, local) are not simulated; taken as not matching"},
	"sockarg":           {false, "socket arguments are not part of a packet; taken as none"},
	"ipsec":             {false, "the packet is taken as not protected by IPsec"},
	"tagged":            {false, "tags set by earlier rules or netgraph are not simulated; the packet is taken as untagged"},
	"flow":              {false, "flow tables are filled at run time; the packet is taken as not in them"},
}

// option reads one option (and an OR block or a `not`), into the rule's fields or its Conds.
func (ps *ipfwRuleParser) option(not bool, group int) error {
	r := ps.r
	w := ps.next()
	switch w {
	case "not":
		if not {
			return fmt.Errorf("not not: say the option once")
		}
		return ps.option(true, group)
	case "{":
		if group != 0 {
			return fmt.Errorf("nested { in options")
		}
		ps.group++
		g := ps.group
		for {
			if ps.peek() == "" {
				return fmt.Errorf("unclosed { in options")
			}
			if ps.peek() == "}" {
				ps.next()
				break
			}
			if ps.peek() == "or" {
				ps.next()
				continue
			}
			if err := ps.option(false, g); err != nil {
				return err
			}
		}
		if not {
			return fmt.Errorf("not before { … }: negate each option inside instead")
		}
		return nil
	case "log":
		r.Log = true
		return nil
	case "logamount", "logdst", "altq", "tag", "untag":
		if ps.next() == "" {
			return fmt.Errorf("%s needs an argument", w)
		}
		return nil
	case "skip-action":
		// The rule matches but its action is not run: it counts.
		r.Kind, r.verb = ipfwCount, r.verb+" skip-action"
		return nil
	}
	nargs, known := ipfwOptionArgs[w]
	if !known {
		if w == "" {
			return fmt.Errorf("missing option")
		}
		if looksLikePorts(w) && len(w) > 0 && (w[0] >= '0' && w[0] <= '9') {
			return fmt.Errorf("ports %q: put them right after the address, or write dst-port %s", w, w)
		}
		return fmt.Errorf("unsupported option %q", w)
	}
	var args []string
	for range max(nargs, 0) {
		a := ps.next()
		if a == "" {
			return fmt.Errorf("%s needs an argument", w)
		}
		args = append(args, a)
	}
	fast := !not && group == 0
	text := strings.TrimSpace(strings.Join(append([]string{w}, args...), " "))
	if not {
		text = "not " + text
	}
	c := ipfwCond{not: not, group: group, text: text}
	switch w {
	case "in", "out":
		d := In
		if w == "out" {
			d = Out
		}
		if fast {
			r.Dir = d
			return nil
		}
		c.kind, c.dir = condDir, d
	case "via", "recv", "xmit":
		ifc := args[0]
		switch {
		case ifc == "any":
			ifc = "*"
		case strings.HasPrefix(ifc, "table("):
			c.kind, c.assume = condAssume, false
			ps.unsure(fmt.Sprintf("%s %s: interface tables are filled at run time; the interface is taken as not in it", w, ifc))
			r.Conds = append(r.Conds, c)
			return nil
		default:
			if _, err := netip.ParseAddr(ifc); err == nil {
				c.kind, c.assume = condAssume, true
				ps.unsure(fmt.Sprintf("%s %s: the interface holding that address is not known; taken as matching", w, ifc))
				r.Conds = append(r.Conds, c)
				return nil
			}
		}
		if _, err := path.Match(ifc, ""); err != nil {
			return fmt.Errorf("interface pattern %q: %v", ifc, err)
		}
		if fast {
			r.Ifaces = append(r.Ifaces, ipfwIface{w, ifc})
			return nil
		}
		c.kind, c.ifc = condIface, ipfwIface{w, ifc}
	case "established":
		if fast {
			r.Est = true
			return nil
		}
		c.kind = condEst
	case "setup":
		if fast {
			r.Setup = true
			return nil
		}
		c.kind = condSetup
	case "frag":
		if spec := ps.peek(); isFragSpec(spec) {
			ps.next()
			c.text += " " + spec
			if spec != "offset" {
				c.kind, c.assume = condAssume, false
				ps.unsure("frag " + spec + ": fragment flags are not part of the packet given; taken as not matching")
				break
			}
		}
		if fast {
			r.Frag = true
			return nil
		}
		c.kind = condFrag
	case "keep-state", "record-state", "limit", "set-limit":
		if not || group != 0 {
			return fmt.Errorf("%s cannot be negated or OR-ed", w)
		}
		if w == "limit" || w == "set-limit" {
			for ps.peek() != "" && strings.Trim(ps.peek(), ",") != "" && isLimitMask(ps.peek()) {
				ps.next()
			}
			n := ps.next()
			if _, err := strconv.Atoi(n); err != nil {
				return fmt.Errorf("%s needs src-addr, src-port, dst-addr or dst-port and a number, got %q", w, n)
			}
			ps.unsure(fmt.Sprintf("%s %s: the number of sessions open is not known; taken as under the limit", w, n))
		}
		r.Keep = true
		r.Probe = w == "keep-state" || w == "limit"
		if strings.HasPrefix(ps.peek(), ":") {
			r.Flow = flowName(ps.next())
		}
		return nil
	case "icmptypes", "icmptype", "icmp6types", "icmp6type":
		var types []uint8
		for _, t := range strings.Split(args[0], ",") {
			lo, hi, isRange := strings.Cut(t, "-")
			l, err := strconv.Atoi(lo)
			h := l
			if isRange {
				h, err = strconv.Atoi(hi)
			}
			if err != nil || l < 0 || h > 255 || h < l {
				return fmt.Errorf("%s %q: want numbers 0-255", w, t)
			}
			for v := l; v <= h; v++ {
				types = append(types, uint8(v))
			}
		}
		if fast && r.ICMP == nil {
			r.ICMP = types
			return nil
		}
		c.kind, c.icmp = condICMP, types
	case "proto":
		n, err := protoNumber(args[0])
		fam := uint8(0)
		switch args[0] {
		case "ip", "all":
			return nil
		case "ip4", "ipv4":
			fam, err = 4, nil
		case "ip6", "ipv6":
			fam, err = 6, nil
		}
		if err != nil {
			return err
		}
		if fam != 0 {
			if fast && r.Family == 0 {
				r.Family = fam
				return nil
			}
			c.kind, c.family = condFamily, fam
			break
		}
		if fast && r.Protos == nil {
			r.Protos = []uint8{n}
			return nil
		}
		c.kind, c.protos = condProto, []uint8{n}
	case "ip4", "ipv4", "ip6", "ipv6":
		fam := uint8(4)
		if strings.HasSuffix(w, "6") {
			fam = 6
		}
		if fast && r.Family == 0 {
			r.Family = fam
			return nil
		}
		c.kind, c.family = condFamily, fam
	case "ipversion", "ipver":
		v, err := strconv.Atoi(args[0])
		if err != nil || v != 4 && v != 6 {
			c.kind, c.assume = condAssume, false
			break
		}
		c.kind, c.family = condFamily, uint8(v)
	case "src-ip", "dst-ip", "src-ip6", "dst-ip6":
		sub := &ipfwRuleParser{f: splitAddrList(args[0]), services: ps.services, r: r}
		a := ipfwAddr{}
		for _, it := range sub.f {
			if err := sub.addrItem(&a, it); err != nil {
				return err
			}
		}
		c.kind, c.addr = condSrc, a
		if strings.HasPrefix(w, "dst") {
			c.kind = condDst
		}
	case "src-port", "dst-port":
		pr, err := ps.ports(args[0])
		if err != nil {
			return err
		}
		side := &r.SrcPort
		c.kind = condSrcPort
		if w == "dst-port" {
			side, c.kind = &r.DstPort, condDstPort
		}
		if fast && *side == nil {
			*side = pr
			return nil
		}
		c.ports = pr
	case "tcpflags", "tcpflgs":
		// The packet says its flags (--packet "... flags FPU"): no flag is unsure.
		set, clear, err := parseTCPFlags(args[0])
		if err != nil {
			return err
		}
		c.kind, c.set, c.clear = condTCPFlags, set, clear
	case "lookup":
		c.kind, c.assume = condAssume, false
		switch args[0] {
		case "src-ip", "dst-ip":
			c.kind, c.addr = condSrc, ipfwAddr{tables: []ipfwTableRef{{name: tableName(args[1])}}}
			if args[0] == "dst-ip" {
				c.kind = condDst
			}
		default:
			ps.unsure(fmt.Sprintf("lookup %s %s: the table is filled at run time and holds what the packet does not give; taken as not matching", args[0], args[1]))
		}
	case "mac", "MAC", "layer2", "bridged":
		// A fact of the pass the simulator evaluates (the IP layer), said once for the rule.
		as := ipfwAssumed[w]
		c.kind, c.assume = condAssume, as.holds
		ps.unsure(w + ": " + as.why)
	default:
		as, ok := ipfwAssumed[w]
		if !ok {
			return fmt.Errorf("unsupported option %q", w)
		}
		c.kind, c.assume = condAssume, as.holds
		ps.unsure(text + ": " + as.why)
	}
	r.Conds = append(r.Conds, c)
	return nil
}

func isFragSpec(s string) bool {
	if s == "" {
		return false
	}
	for _, f := range strings.Split(s, ",") {
		switch strings.TrimPrefix(f, "!") {
		case "mf", "df", "rf", "offset":
		default:
			return false
		}
	}
	return true
}

func isLimitMask(s string) bool {
	for _, f := range strings.Split(s, ",") {
		switch f {
		case "src-addr", "src-port", "dst-addr", "dst-port", "src-addr6", "dst-addr6", "":
		default:
			return false
		}
	}
	return true
}

// parseTCPFlags reads "syn,!ack": flags that must be set and that must be clear.
func parseTCPFlags(s string) (set, clear uint8, err error) {
	for _, f := range strings.Split(s, ",") {
		neg := strings.HasPrefix(f, "!")
		b, ok := tcpFlagNames[strings.TrimPrefix(f, "!")]
		if !ok {
			return 0, 0, fmt.Errorf("tcpflags %q: want fin, syn, rst, psh, ack, urg, ece or cwr, each maybe with !", f)
		}
		if neg {
			clear |= b
		} else {
			set |= b
		}
	}
	return set, clear, nil
}

// finish applies what the whole rule says: ports, setup and established exist only in the
// protocols that have them (ipfw accepts `allow ip from any to any 22` and the kernel matches it
// on TCP, UDP and SCTP packets only).
func (ps *ipfwRuleParser) finish() {
	r := ps.r
	restrict := func(allowed []uint8) {
		if r.Protos == nil {
			r.Protos = slices.Clone(allowed)
			return
		}
		var keep []uint8
		for _, p := range r.Protos {
			if slices.Contains(allowed, p) {
				keep = append(keep, p)
			}
		}
		if keep == nil {
			keep = []uint8{}
		}
		r.Protos = keep
	}
	if r.SrcPort != nil || r.DstPort != nil {
		restrict(portProtos)
	}
	if r.Est || r.Setup {
		restrict([]uint8{ProtoTCP})
	}
	// An outgoing packet has a receiving interface when it is forwarded; a packet here has one
	// interface only, so `out recv IF` is taken as not matching.
	recv := slices.ContainsFunc(r.Ifaces, func(i ipfwIface) bool { return i.How == "recv" }) ||
		slices.ContainsFunc(r.Conds, func(c ipfwCond) bool { return c.kind == condIface && c.ifc.How == "recv" })
	if r.Dir == Out && recv {
		ps.unsure("out recv: matches forwarded packets by the interface they came in on, which a packet here does not give; taken as not matching")
	}
}

// antispoofOK is ipfw's antispoof (ipfw(8); ip_fw2.c O_ANTISPOOF): an outgoing packet matches; an
// incoming one matches unless its source is on a directly connected network of another
// interface than the one it came in on.
func antispoofOK(nets []ipfwIfaceNet, p *Packet) bool {
	if p.Dir == Out {
		return true
	}
	best, bits := "", -1
	for _, n := range nets {
		if n.net.Contains(p.Src) && n.net.Bits() > bits {
			best, bits = n.name, n.net.Bits()
		}
	}
	return bits < 0 || best == p.Iface
}

// SetInterfaces gives the host's interfaces and their addresses with prefix lengths
// (en0: 192.0.2.10/24), so that antispoof is decided rather than assumed. lo0 has 127.0.0.1/8
// and ::1/128 unless given. Call it before Compile.
func (rs *IPFWRuleset) SetInterfaces(ifaces map[string][]netip.Prefix) {
	nets := []ipfwIfaceNet{}
	for name, ps := range ifaces {
		for _, p := range ps {
			nets = append(nets, ipfwIfaceNet{name, p.Masked()})
		}
	}
	if _, ok := ifaces["lo0"]; !ok {
		nets = append(nets, ipfwIfaceNet{"lo0", netip.MustParsePrefix("127.0.0.0/8")}, ipfwIfaceNet{"lo0", netip.MustParsePrefix("::1/128")})
	}
	// Sorted, so that equal prefixes on two interfaces resolve the same way every run.
	slices.SortFunc(nets, func(a, b ipfwIfaceNet) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return a.net.Addr().Compare(b.net.Addr())
	})
	for i := range rs.Rules {
		r := &rs.Rules[i]
		found := false
		for k := range r.Conds {
			if c := &r.Conds[k]; c.kind == condAssume && strings.TrimPrefix(c.text, "not ") == "antispoof" {
				c.kind, c.ifaces, found = condAntispoof, &nets, true
			}
		}
		if found {
			r.unsure = slices.DeleteFunc(r.unsure, func(u string) bool {
				return strings.HasPrefix(u, "antispoof:") || strings.HasPrefix(u, "not antispoof:")
			})
		}
	}
	rs.comp = nil
}
