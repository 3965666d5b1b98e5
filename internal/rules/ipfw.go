package rules

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// IPFWRuleset is an ipfw rule list in evaluation order (by rule number, then as written), with
// the built-in default rule 65535 at the end.
type IPFWRuleset struct {
	Name    string
	Rules   []IPFWRule
	Default Action // the built-in rule 65535: allow on Mac OS X
	// Notes name the lines of a script the simulator did not model (a program other than
	// ipfw, a sysctl, an ipfw subcommand …): a verdict on the set is only as sure as those lines
	// are irrelevant, so `rules eval` prints them with every verdict.
	Notes []Note
	// Profile lists the variables from outside the script (--set, rc.conf) whose values its
	// rules rest on, as NAME="VALUE" (SOURCE), in the order the script first used them.
	Profile []string
	// defaultListed is where the file lists rule 65535 ("file:line"), which sets Default; "" if
	// it does not.
	defaultListed string
	comp          *ipfwClassifier
	file          *ipfwFileState // tables, sets and sysctls the file's statements set
}

// Note is a line of a rule file that was read but not modelled.
type Note struct {
	File string
	Line int
	Text string // "not modelled: if"
}

func (n Note) String() string {
	if n.File == "" && n.Line == 0 {
		return n.Text // a note that names its place itself (pf's)
	}
	return fmt.Sprintf("%s:%d: %s", n.File, n.Line, n.Text)
}

// IPFWRule is one parsed rule.
type IPFWRule struct {
	Num     int
	where   string // Num as ipfw lists it, "00100", made once so verdicts do not allocate
	Line    int    // source line
	Text    string // as written (without counters)
	Kind    ipfwKind
	Action  Action // for decide rules
	Skip    int    // skipto target
	Log     bool
	Protos  []uint8 // nil: any ("ip", "all")
	Src     ipfwAddr
	Dst     ipfwAddr
	SrcPort []portRange
	DstPort []portRange
	Dir     Dir // 0: both
	Ifaces  []ipfwIface
	Est     bool // established
	Setup   bool
	Keep    bool // keep-state, record-state or limit: the rule creates a dynamic rule
	Frag    bool
	ICMP    []uint8 // icmptypes
	Family  uint8   // 4 or 6 (ip4, ip6); 0: both
	// Conds are the options checked one by one (negated, OR-ed, or not held by the
	// classifier's tables); see ipfw_opts.go.
	Conds []ipfwCond
	Set   uint8  // the rule set (`set N`), 0-31
	Flow  string // keep-state/record-state/limit/check-state flow name; "" is :default, "any" :any
	Probe bool   // keep-state or limit: dynamic rules are looked up when the rule is reached
	// verb is the action as written ("pipe", "tee"), for --explain.
	verb string
	// onePass marks pipe, queue and nat: an accept when net.inet.ip.fw.one_pass is 1 (the
	// default), a pass to the next rule when it is 0.
	onePass bool
	// unsure lists, as "what: why", the options of the rule whose outcome the file and the packet
	// do not decide (uid, a table filled at run time, a limit): a verdict that rests on the rule
	// is conditional on them.
	unsure []string
}

type ipfwKind uint8

const (
	ipfwDecide ipfwKind = iota // allow, deny, reject, unreach
	ipfwCount
	ipfwSkipTo
	ipfwCheckState
	ipfwCall   // call: skipto that returns
	ipfwReturn // return to the rule after the last call
	ipfwReass  // reass: goes on for a whole packet, accepts a fragment
)

// ipfwAddr is "any", "me", "me6", or a list of prefixes, possibly negated.
type ipfwAddr struct {
	Any      bool
	Me, Me6  bool
	Prefixes []netip.Prefix
	Not      bool
	// tables are the tables the address names (table(N), table(NAME,VALUE)); finishIPFW moves
	// the contents of those the file fills into Prefixes.
	tables []ipfwTableRef
	// unknown says the address names what the file does not resolve (a host name, a table
	// filled at run time): lint compares nothing about it.
	unknown bool
}

type ipfwIface struct {
	How     string // "via", "recv", "xmit"
	Pattern string // "en0", "lo*"
}

type portRange struct{ Lo, Hi uint16 }

// ServiceLookup resolves a port name ("ssh") for a protocol ("tcp").
type ServiceLookup func(name, proto string) (uint16, bool)

// ParseIPFW reads `ipfw list` or `ipfw show` output, or a sh script of ipfw commands
// (`ipfw -q add …`, `/sbin/ipfw add …`, the Handbook's `cmd="ipfw -q add"` then `$cmd 500 …`)
// as ParseIPFWScript does without files or a profile: `ipfw flush` empties the set, and every
// command the simulator does not model (another program, a sysctl) becomes a Note. Rules without a number are
// numbered as ipfw numbers them (see ipfwAutoNumber). A file with statements but no rule is an
// error, never an empty set that allows everything.
func ParseIPFW(data []byte, name string, services ServiceLookup) (*IPFWRuleset, error) {
	return ParseIPFWContext(context.Background(), data, name, services)
}

// ipfwCheckEvery is how many lines ParseIPFWContext reads between looks at its context.
const ipfwCheckEvery = 4096

// ipfwAutoStep is the kernel's default net.inet.ip.fw.autoinc_step.
const ipfwAutoStep = 100

// ipfwAutoNumber is the number ipfw gives a rule added without one. ipfw(8) documents the
// sysctl net.inet.ip.fw.autoinc_step (default 100, 1-1000) as the step between automatically
// generated rule numbers; the kernel (the rule-adding code of ip_fw_sockopt.c) takes the number
// of the last rule before the default rule 65535, that is the highest, and adds the step only
// while the result stays below 65535 - step: `if (rulenum < IPFW_DEFAULT_RULE - V_autoinc_step)
// rulenum += V_autoinc_step`. Past that the new rule shares the highest number, so unnumbered
// rules after `add 65500 …` are all 65500 (never "65600 out of range").
func ipfwAutoNumber(highest int) int {
	if highest < 65535-ipfwAutoStep {
		return highest + ipfwAutoStep
	}
	return highest
}

// ParseIPFWContext is ParseIPFW that gives up, returning ctx.Err(), soon after ctx is done.
func ParseIPFWContext(ctx context.Context, data []byte, name string, services ServiceLookup) (*IPFWRuleset, error) {
	return ParseIPFWScript(ctx, data, name, services, IPFWScriptOptions{})
}

// ParseIPFWScript reads what ParseIPFW reads, and runs a sh script as far as ipfw rule scripts
// need (see ipfw_sh.go): if/case/for/while, functions, `.` of a file and load_rc_config under
// the root of opts, with opts.Vars as the profile. What the script would hand to ipfw for that
// profile becomes the rule set; a script whose rules depend on something the files and the
// profile do not say is refused with its file:line and the reason, never guessed.
func ParseIPFWScript(ctx context.Context, data []byte, name string, services ServiceLookup, opts IPFWScriptOptions) (*IPFWRuleset, error) {
	ld := &ipfwLoader{rs: &IPFWRuleset{Name: name, Default: Allow}, services: services, opts: opts}
	in := newShInterp(ctx, opts, ld)
	ld.overlay = in.overlay
	err := in.run(string(data), name)
	var (
		ex  shExit
		ret shReturn
		brk shBreak
		cnt shContinue
	)
	switch {
	case errors.As(err, &ex), errors.As(err, &ret):
		err = nil // exit (or return at the top) ends the script with the rules loaded so far
	case errors.As(err, &brk), errors.As(err, &cnt):
		err = fmt.Errorf("%s: %v", name, err)
	}
	if err != nil {
		return nil, err
	}
	rs := ld.rs
	rs.Profile = in.profile
	statements := in.steps + ld.raw
	if len(rs.Rules) == 0 && !ld.sawDefault && statements > 0 {
		why := ""
		if len(rs.Notes) > 0 {
			why = fmt.Sprintf("; %d lines not modelled, the first %s", len(rs.Notes), rs.Notes[0])
		}
		if in.exited != "" {
			why += "; the script exits at " + in.exited + " (its arguments are given as --set 1=VALUE)"
		}
		return nil, fmt.Errorf("%s: no ipfw rule found in %d statements%s: give `ipfw list` output or a script of `ipfw add` commands", name, statements, why)
	}
	// Evaluation order: by number; equal numbers keep the order they were added in.
	sortStable(rs.Rules)
	rs.finishIPFW(name)
	return rs, nil
}

// ipfwLoader receives the ipfw commands a script runs, in order, and builds the rule set.
type ipfwLoader struct {
	rs         *IPFWRuleset
	services   ServiceLookup
	opts       IPFWScriptOptions
	highest    int
	raw        int // lines of ipfw arguments read as they are (not through sh)
	sawDefault bool
	overlay    *shOverlay // the files the script wrote, read before opts.ReadFile's
}

func (ld *ipfwLoader) note(file string, line int, text string) {
	ld.rs.Notes = append(ld.rs.Notes, Note{file, line, text})
}

// ipfw takes an ipfw command line as sh expanded it (program first), or a raw line of ipfw
// arguments (`ipfw list` output, a line of a file for `ipfw pathname`) as its only word.
func (ld *ipfwLoader) ipfw(file string, line int, words []string, raw bool) error {
	if raw {
		ld.raw++
		text := words[0] // the line as written
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		return ld.args(file, line, strings.Fields(text))
	}
	// Expanded words are read as ipfw reads its arguments: as one rule text.
	words = strings.Fields(strings.Join(words, " "))
	if len(words) == 0 {
		// Only empty quotes: sh would fail to run a command named "".
		ld.note(file, line, "not modelled: empty command")
		return nil
	}
	return ld.args(file, line, words[1:])
}

// args handles ipfw's arguments without the program: flags, then a subcommand, or a bare rule
// as `ipfw list` prints it.
func (ld *ipfwLoader) args(file string, line int, f []string) error {
	if len(f) > 0 && (isNumber(f[0]) || ipfwActions[f[0]]) {
		return ld.add(file, line, f, false)
	}
	for len(f) > 0 && strings.HasPrefix(f[0], "-") {
		if f[0] == "-p" {
			return fmt.Errorf("%s:%d: ipfw -p runs the file through a preprocessor, which the simulator does not run", file, line)
		}
		f = f[1:]
	}
	if len(f) == 0 {
		ld.note(file, line, "not modelled: ipfw without a subcommand")
		return nil
	}
	sub := f[0]
	switch {
	case sub == "add":
		return ld.add(file, line, f[1:], true)
	case sub == "flush":
		ld.rs.Rules, ld.highest, ld.sawDefault = nil, 0, false
	case sub == "zero", sub == "resetlog", sub == "list", sub == "show":
		// counters and listings: no effect on verdicts
	case strings.HasPrefix(sub, "/") && len(f) == 1:
		return ld.pathname(file, line, sub)
	case sub == "table", sub == "set", sub == "nat", sub == "pipe", sub == "queue", sub == "sched",
		sub == "delete", sub == "enable", sub == "disable":
		if err := ld.rs.statement(sub, f[1:], file, line); err != nil {
			return fmt.Errorf("%s:%d: %v", file, line, err)
		}
	default:
		ld.note(file, line, "not modelled: ipfw "+sub)
	}
	return nil
}

// pathname loads a file of ipfw commands as `ipfw [-q] PATHNAME` does: one command's arguments
// a line, `#` comments.
func (ld *ipfwLoader) pathname(file string, line int, p string) error {
	data, ok, err := ld.overlay.read(p)
	switch {
	case ok && err != nil:
		return fmt.Errorf("%s:%d: ipfw %s: %v", file, line, p, err)
	case ok:
	case ld.opts.ReadFile == nil:
		return fmt.Errorf("%s:%d: ipfw %s reads a file: give --root to read it", file, line, p)
	default:
		if data, err = ld.opts.ReadFile(p); err != nil {
			return fmt.Errorf("%s:%d: ipfw %s: %v", file, line, p, shPathErr(err))
		}
	}
	if len(data) > shMaxFile {
		return fmt.Errorf("%s:%d: ipfw %s is %d bytes, over the cap of %d", file, line, p, len(data), shMaxFile)
	}
	for n, l := range strings.Split(string(data), "\n") {
		if i := strings.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		if f := strings.Fields(l); len(f) > 0 {
			ld.raw++
			if err := ld.args(p, n+1, f); err != nil {
				return err
			}
		}
	}
	return nil
}

// add adds one rule; isCmd is false for a line of `ipfw list`/`ipfw show` output.
func (ld *ipfwLoader) add(file string, at int, f []string, isCmd bool) error {
	if len(f) == 0 {
		return fmt.Errorf("%s:%d: add needs a rule", file, at)
	}
	num := -1
	if n, err := strconv.Atoi(f[0]); err == nil {
		num = n
		f = f[1:]
		// `ipfw show`: packet and byte counters follow the number.
		if !isCmd && len(f) >= 2 && isNumber(f[0]) && isNumber(f[1]) {
			f = f[2:]
		}
	}
	if num < 0 {
		num = ipfwAutoNumber(ld.highest)
	}
	if num < 1 || num > 65535 {
		return fmt.Errorf("%s:%d: rule number %d out of range 1-65535", file, at, num)
	}
	r, err := parseIPFWRule(f, ld.services)
	if err != nil {
		return fmt.Errorf("%s:%d: %v", file, at, err)
	}
	r.Num, r.Line, r.Text, r.where = num, at, strings.Join(f, " "), fmt.Sprintf("%05d", num)
	if num == 65535 {
		// The built-in rule as `ipfw list` prints it: it is the default, not a rule.
		if r.Kind == ipfwDecide && r.Protos == nil && r.Src.Any && r.Dst.Any && r.Dir == 0 && len(r.Ifaces) == 0 {
			ld.rs.Default, ld.sawDefault, ld.rs.defaultListed = r.Action, true, fmt.Sprintf("%s:%d", file, at)
			return nil
		}
	} else {
		ld.highest = max(ld.highest, num)
	}
	ld.rs.Rules = append(ld.rs.Rules, r)
	return nil
}

// ipfwActions are the words a rule (without "add" and number) starts with.
var ipfwActions = map[string]bool{"allow": true, "accept": true, "pass": true, "permit": true, "deny": true,
	"drop": true, "reject": true, "unreach": true, "unreach6": true, "reset": true, "reset6": true,
	"count": true, "skipto": true, "check-state": true, "prob": true, "fwd": true, "forward": true,
	"divert": true, "reass": true, "setfib": true, "setdscp": true, "abort": true, "abort6": true,
	"netgraph": true, "ngtee": true} // not tee, call, return: sh commands and builtins a script may run

func isNumber(s string) bool {
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

func sortStable(rs []IPFWRule) {
	// insertion sort keeps it stable and rule sets are written nearly sorted
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].Num < rs[j-1].Num; j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

// ipfwProtoNames are the protocol names of FreeBSD's /etc/protocols that rule sets use.
var ipfwProtoNames = map[string]uint8{"icmp": ProtoICMP, "tcp": ProtoTCP, "udp": ProtoUDP, "ipv6-icmp": ProtoICMPv6, "icmp6": ProtoICMPv6,
	"igmp": 2, "gre": 47, "esp": 50, "ah": 51, "ospf": 89, "sctp": 132, "hopopt": 0, "ggp": 3,
	"ipencap": 4, "st": 5, "egp": 8, "igp": 9, "pup": 12, "xns-idp": 22, "idp": 22, "rdp": 27,
	"ipv6-route": 43, "ipv6-frag": 44, "idrp": 45, "rsvp": 46, "ipv6-nonxt": 59, "ipv6-opts": 60,
	"mobile": 55, "skip": 57, "eigrp": 88, "etherip": 97, "encap": 98, "pim": 103, "ipcomp": 108,
	"vrrp": 112, "carp": 112, "l2tp": 115, "isis": 124, "mobility-header": 135, "udplite": 136,
	"pfsync": 240, "ospfigp": 89, "ipip": 94}

func parsePrefix(s string) (netip.Prefix, error) {
	if host, mask, ok := strings.Cut(s, ":"); ok && strings.Count(s, ":") == 1 {
		// ADDR:MASK (IPv4 netmask).
		a, err1 := netip.ParseAddr(host)
		m, err2 := netip.ParseAddr(mask)
		if err1 != nil || err2 != nil || !a.Is4() || !m.Is4() {
			return netip.Prefix{}, fmt.Errorf("address %q: want ADDR:NETMASK", s)
		}
		mb := m.As4()
		bits := 0
		v := uint32(mb[0])<<24 | uint32(mb[1])<<16 | uint32(mb[2])<<8 | uint32(mb[3])
		for v&(1<<31) != 0 {
			bits++
			v <<= 1
		}
		if v != 0 {
			return netip.Prefix{}, fmt.Errorf("address %q: netmask is not contiguous", s)
		}
		return netip.PrefixFrom(a, bits).Masked(), nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			// Go's own message names its internals; say what ipfw takes instead.
			return netip.Prefix{}, fmt.Errorf("address %q: not an ADDR/LEN prefix (LEN 0-32 for IPv4, 0-128 for IPv6)", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("address %q: not an address, prefix, any, me, me6 or table(N)", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// parsePorts reads "22", "22,80", "1000-2000", "ssh", "http,https".
func parsePorts(s, proto string, services ServiceLookup) ([]portRange, error) {
	var out []portRange
	for _, item := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(item, "-")
		l, err := portNumber(lo, proto, services)
		if err != nil {
			return nil, err
		}
		h := l
		if isRange {
			if h, err = portNumber(hi, proto, services); err != nil {
				return nil, err
			}
			if h < l {
				return nil, fmt.Errorf("port range %q runs backwards", item)
			}
		}
		out = append(out, portRange{l, h})
	}
	return out, nil
}

func portNumber(s, proto string, services ServiceLookup) (uint16, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > 65535 {
			return 0, fmt.Errorf("port %d out of range", n)
		}
		return uint16(n), nil
	}
	if services != nil {
		if p, ok := services(s, proto); ok {
			return p, nil
		}
	}
	return 0, fmt.Errorf("unknown port or service %q", s)
}
