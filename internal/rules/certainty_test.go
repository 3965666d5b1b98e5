package rules

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// pfCertaintyCases are rule sets with rules on tables filled at run time, a packet, and the rule
// its verdict rests on ("" for an exact verdict).
var pfCertaintyCases = []struct {
	name, conf, pkt string
	where           string // the deciding rule
	unsure          string // Verdict.Unsure's prefix: the unsure rule's place; "" for exact
}{
	{
		name:  "the deciding rule is on a persist table",
		conf:  "table <bad> persist\npass all\nblock in quick from <bad>\n",
		pkt:   "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup",
		where: "pf.conf:2", unsure: "pf.conf:3: table <bad> is filled at run time",
	},
	{
		name:  "a persist table with entries decides: still unknown",
		conf:  "table <bad> persist { 203.0.113.5 }\npass all\nblock in quick from <bad>\n",
		pkt:   "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup",
		where: "pf.conf:3", unsure: "pf.conf:3: table <bad> is filled at run time",
	},
	{
		name:  "a later rule on an empty table could match",
		conf:  "table <bad>\nblock all\npass in proto tcp to port 22 flags S/SA keep state\nblock in from <bad>\n",
		pkt:   "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup",
		where: "pf.conf:3", unsure: "pf.conf:4: table <bad>",
	},
	{
		name:  "a later rule on a runtime table that fails elsewhere: exact",
		conf:  "table <bad>\nblock all\npass in proto tcp to port 22 keep state\nblock in proto udp from <bad>\n",
		pkt:   "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup",
		where: "pf.conf:3",
	},
	{
		name:  "an earlier quick rule on an overload table could stop evaluation",
		conf:  "table <bf> persist\nblock in quick from <bf>\npass in proto tcp to port 22 keep state (max-src-conn 5, overload <bf>)\n",
		pkt:   "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup",
		where: "pf.conf:3", unsure: "pf.conf:2: table <bf>",
	},
	{
		name:  "an earlier quick block on a runtime table cannot change a block",
		conf:  "table <bf> persist\nblock in quick from <bf>\nblock all\npass in proto tcp to port 22 keep state\n",
		pkt:   "tcp 203.0.113.5:51234 -> 192.0.2.10:25 in via en0 setup",
		where: "pf.conf:3",
	},
	{
		name:  "a later block on a runtime table changes a pass",
		conf:  "table <bf> persist\npass all\nblock return in from <bf>\n",
		pkt:   "tcp 203.0.113.5:51234 -> 192.0.2.10:25 in via en0 setup",
		where: "pf.conf:2", unsure: "pf.conf:3: table <bf>",
	},
	{
		name:  "an earlier rule that is not quick cannot change a later match",
		conf:  "table <bad> persist\nblock in from <bad>\npass in proto tcp to port 22 keep state\n",
		pkt:   "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup",
		where: "pf.conf:3",
	},
	{
		name:  "a rule after a quick decision is never reached",
		conf:  "table <bad> persist\npass in quick proto tcp to port 22 keep state\nblock in from <bad>\n",
		pkt:   "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup",
		where: "pf.conf:2",
	},
	{
		name:  "a negated runtime table is unknown too",
		conf:  "table <ok> persist\nblock in quick from ! <ok>\npass all\n",
		pkt:   "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup",
		where: "pf.conf:2", unsure: "pf.conf:2: table <ok>",
	},
	{
		name:  "a const table with entries is known",
		conf:  "table <bad> const { 198.51.100.0/24 }\nblock in quick from <bad>\npass all\n",
		pkt:   "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup",
		where: "pf.conf:3",
	},
	{
		name:   "the default pass rests on a runtime rule that could match",
		conf:   "table <bad> persist\nblock in from <bad>\n",
		pkt:    "udp 203.0.113.5:5353 -> 192.0.2.10:53 in via en0",
		unsure: "pf.conf:2: table <bad>",
	},
	{
		name:  "inside a quick anchor, a later rule in the anchor counts",
		conf:  "table <bad> persist\nanchor \"a\" quick {\n pass in proto tcp keep state\n block in from <bad>\n}\nblock all\n",
		pkt:   "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup",
		where: "pf.conf:3", unsure: "pf.conf:4: table <bad>",
	},
	{
		name:  "after a quick anchor that decided, later rules do not count",
		conf:  "table <bad> persist\nanchor \"a\" quick {\n pass in proto tcp keep state\n}\nblock in from <bad>\n",
		pkt:   "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup",
		where: "pf.conf:3",
	},
	{
		name:  "state: the opening SYN's verdict rests on a runtime table",
		conf:  "table <bad> persist\nblock all\npass in proto tcp to port 22 keep state\nblock in quick from <bad>\n",
		pkt:   "tcp 192.0.2.10:22 -> 203.0.113.5:51234 out via en0",
		where: "pf.conf:3", unsure: "pf.conf:4: table <bad>",
	},
	{
		name:  "state: a reply's opener rests on a runtime table",
		conf:  "table <dns> persist\nblock all\npass out proto udp to <dns> port 53 keep state\n",
		pkt:   "udp 192.0.2.53:53 -> 192.0.2.10:51000 in via en0 reply",
		where: "pf.conf:2", unsure: "pf.conf:3: table <dns>",
	},
}

func TestPFVerdictUnsure(t *testing.T) {
	for _, tt := range pfCertaintyCases {
		t.Run(tt.name, func(t *testing.T) {
			for _, size := range []int{pfBlockRules, 1} {
				rs, err := parsePFWith(context.Background(), []byte(tt.conf), "pf.conf", nil, size, PFOptions{})
				if err != nil {
					t.Fatalf("ParsePF: %v", err)
				}
				p := pkt(t, tt.pkt)
				ex, _ := rs.Explain(&p)
				for name, v := range map[string]Verdict{"Eval": rs.Eval(&p), "reference": rs.pfEvalReference(&p), "Explain": ex} {
					where := tt.where
					if where == "" {
						where = pfDefaultWhere
					}
					if v.Where != where {
						t.Errorf("%s(%s) in blocks of %d decided by %s, want %s", name, tt.pkt, size, v.Where, where)
					}
					if tt.unsure == "" && v.Unsure != "" || !strings.HasPrefix(v.Unsure, tt.unsure) {
						t.Errorf("%s(%s) in blocks of %d Unsure = %q, want %q…", name, tt.pkt, size, v.Unsure, tt.unsure)
					}
				}
			}
		})
	}
}

// ipfwCertaintyCases are ipfw rule sets, the rules made unsure (by number, as a parser of their
// options would), a packet, and the rule its verdict rests on ("" for exact).
var ipfwCertaintyCases = []struct {
	name, list string
	unsure     []int
	pkt        string
	where      string
	unsureAt   string
}{
	{
		name:   "the deciding rule is unsure",
		list:   "00100 allow tcp from any to me 22 in\n00200 deny ip from any to any\n",
		unsure: []int{100},
		pkt:    "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup",
		where:  "00100", unsureAt: "00100",
	},
	{
		name:   "an earlier unsure rule that could match",
		list:   "00100 deny tcp from any to any 22 recv en5\n00200 allow tcp from any to me 22 in\n",
		unsure: []int{100},
		pkt:    "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup",
		where:  "00200", unsureAt: "00100",
	},
	{
		name:   "an earlier unsure rule with the same action changes nothing",
		list:   "00100 deny tcp from any to any 22 recv en5\n00200 deny tcp from any to any\n",
		unsure: []int{100},
		pkt:    "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup",
		where:  "00200",
	},
	{
		name:   "an earlier unsure skipto that could jump counts whatever the action",
		list:   "00100 skipto 300 tcp from any to any recv en5\n00200 deny tcp from any to any\n00300 deny ip from any to any\n",
		unsure: []int{100},
		pkt:    "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup",
		where:  "00200", unsureAt: "00100",
	},
	{
		name:   "an earlier unsure rule for another port cannot match",
		list:   "00100 deny tcp from any to any 23 recv en5\n00200 allow tcp from any to me 22 in\n",
		unsure: []int{100},
		pkt:    "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup",
		where:  "00200",
	},
	{
		name:   "a later unsure rule does not count",
		list:   "00100 allow tcp from any to me 22 in\n00200 deny ip from any to any\n",
		unsure: []int{200},
		pkt:    "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup",
		where:  "00100",
	},
	{
		name:   "a count rule changes nothing",
		list:   "00100 count ip from any to any\n00200 allow tcp from any to me 22 in\n",
		unsure: []int{100},
		pkt:    "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup",
		where:  "00200",
	},
	{
		name:   "a rule skipped over is not reached",
		list:   "00100 skipto 300 tcp from any to any\n00200 deny tcp from any to any recv en5\n00300 allow tcp from any to any\n",
		unsure: []int{200},
		pkt:    "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup",
		where:  "00300",
	},
	{
		name:   "an unsure skipto that jumped",
		list:   "00100 skipto 300 tcp from any to any\n00200 deny tcp from any to any\n00300 allow tcp from any to any\n",
		unsure: []int{100},
		pkt:    "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup",
		where:  "00300", unsureAt: "00100",
	},
	{
		name:   "state: the opening packet's verdict rests on an unsure rule",
		list:   "00100 check-state\n00200 allow tcp from me to any setup keep-state\n00300 deny ip from any to any\n",
		unsure: []int{200},
		pkt:    "tcp 203.0.113.5:443 -> 192.0.2.10:51234 in via en0 established",
		where:  "00100", unsureAt: "00200",
	},
	{
		name:   "state: no state, the opener could have been allowed",
		list:   "00100 check-state\n00150 deny tcp from any to any recv en5\n00200 allow tcp from any to any setup keep-state\n00300 deny ip from any to any\n",
		unsure: []int{150},
		pkt:    "tcp 203.0.113.5:443 -> 192.0.2.10:51234 in via en0 established",
		where:  "00100", unsureAt: "00150",
	},
	{
		name:   "the default rule rests on an unsure rule that could match",
		list:   "00100 deny udp from any to any recv en5\n",
		unsure: []int{100},
		pkt:    "udp 203.0.113.5:5353 -> 192.0.2.10:53 in via en0",
		where:  "65535", unsureAt: "00100",
	},
}

// ipfwWithUnsure parses list and marks the rules numbered in nums unsure.
func ipfwWithUnsure(t testing.TB, list string, nums []int, size int) *IPFWRuleset {
	t.Helper()
	rs, err := ParseIPFW([]byte(list), "rules.list", nil)
	if err != nil {
		t.Fatalf("ParseIPFW: %v", err)
	}
	for i := range rs.Rules {
		if slices.Contains(nums, rs.Rules[i].Num) {
			rs.Rules[i].unsure = []string{"uid 0: the owner of the socket is not simulated"}
		}
	}
	if rs.comp, err = rs.compile(context.Background(), size); err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestIPFWVerdictUnsure(t *testing.T) {
	for _, tt := range ipfwCertaintyCases {
		t.Run(tt.name, func(t *testing.T) {
			for _, size := range []int{ipfwBlockRules, 1} {
				rs := ipfwWithUnsure(t, tt.list, tt.unsure, size)
				p := pkt(t, tt.pkt)
				ex, _ := rs.Explain(&p)
				for name, v := range map[string]Verdict{"Eval": rs.Eval(&p), "reference": rs.evalReference(&p, nil, 0), "Explain": ex} {
					if v.Where != tt.where {
						t.Errorf("%s(%s) in blocks of %d decided by %s, want %s", name, tt.pkt, size, v.Where, tt.where)
					}
					want := ""
					if tt.unsureAt != "" {
						want = tt.unsureAt + ": uid 0: the owner of the socket is not simulated"
					}
					if v.Unsure != want {
						t.Errorf("%s(%s) in blocks of %d Unsure = %q, want %q", name, tt.pkt, size, v.Unsure, want)
					}
				}
			}
		})
	}
}

// pfCheckUnsureRandom builds a random rule set (pfRandomConf) whose tables are filled at run time
// and some of whose rules are unsure, and compares Eval, the reference interpreter and Explain,
// Unsure included, on random packets.
func pfCheckUnsureRandom(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, seed^0x2545f4914f6cdd1d))
	conf, files := pfRandomConf(r)
	if seed&1 == 0 {
		conf = strings.Replace(conf, "table <t2> {", "table <t2> persist {", 1)
	}
	if seed&2 == 0 {
		conf = strings.Replace(conf, "table <t1> {", "table <t1> persist {", 1)
	}
	if seed&4 == 0 {
		conf = strings.ReplaceAll(conf, "flags A/A", "flags FUP/FUP") // a scan rule
	}
	marks := r.Uint64()
	build := func(size int) *PFRuleset {
		rs, err := parsePFWith(context.Background(), []byte(conf), "f.conf", pfMapLoader(files), size, PFOptions{})
		if err != nil {
			t.Fatalf("seed %d: generated rule set does not parse: %v\n%s", seed, err, conf)
		}
		for i := range rs.rules {
			if marks>>(i%64)&1 == 1 && i%3 == 0 {
				rs.rules[i].f.unsure = []string{"user 0: the owner of the socket is not simulated"}
			}
		}
		if err := rs.compile(context.Background(), size); err != nil {
			t.Fatal(err)
		}
		return rs
	}
	size := 1 + int(seed%7)
	rs, small := build(pfBlockRules), build(size)
	for range 64 {
		p := pfRandomPacket(r)
		pfRandomFlags(r, &p)
		pfRandomAbout(r, &p)
		got, want := rs.Eval(&p), rs.pfEvalReference(&p)
		ex, _ := rs.Explain(&p)
		if got != want || ex != want {
			t.Fatalf("seed %d: packet %s (%+v):\nEval = %+v\nreference = %+v\nExplain = %+v\nrule set:\n%s\nfiles: %v", seed, p, p, got, want, ex, conf, files)
		}
		if got := small.Eval(&p); got != want {
			t.Fatalf("seed %d: packet %s:\nEval in blocks of %d = %+v\nreference = %+v\nrule set:\n%s", seed, p, size, got, want, conf)
		}
	}
}

// pfRandomFlags gives half the TCP packets random TCP flags, with Setup and Established as
// ParsePacket would set them.
func pfRandomFlags(r *rand.Rand, p *Packet) {
	if p.Proto != ProtoTCP || r.IntN(2) == 0 {
		return
	}
	p.Flags = uint8(r.IntN(256))
	if p.Reply {
		p.Flags |= TCPACK
	}
	p.Setup, p.Established = tcpFlagsState(p.Flags)
}

// pfRandomAbout makes half the ICMP packets errors about a random flow of the host's.
func pfRandomAbout(r *rand.Rand, p *Packet) {
	if p.Proto != ProtoICMP && p.Proto != ProtoICMPv6 || r.IntN(2) == 0 || !p.Dst.IsValid() {
		return
	}
	p.ICMPType, p.ICMPCode = 3, int16(r.IntN(5))
	if p.Proto == ProtoICMPv6 {
		p.ICMPType = int16(1 + r.IntN(4))
	}
	q := pfRandomPacket(r)
	fam := 4
	if p.Dst.Is6() {
		fam = 6
	}
	p.About = &Quoted{Proto: []uint8{ProtoTCP, ProtoUDP, p.Proto}[r.IntN(3)], Src: p.Dst, Dst: pfRandomAddr(r, fam),
		SrcPort: q.SrcPort, DstPort: q.DstPort, ICMPType: -1, ICMPCode: -1, Dir: Out, Iface: q.Iface}
	if p.Dir == Out {
		p.About.Dir = In
	}
	if p.About.Proto == p.Proto {
		p.About.SrcPort, p.About.DstPort = 0, 0
		p.About.ICMPType, p.About.ICMPCode = []int16{8, 0, 128, 129}[r.IntN(4)], 0
	}
}

// ipfwCheckUnsureRandom is pfCheckUnsureRandom for ipfw: random rule sets with random rules
// made unsure.
func ipfwCheckUnsureRandom(t *testing.T, seed uint64, n uint8) {
	r := rand.New(rand.NewPCG(seed, 11))
	text := randomRuleset(r, int(n%80)+1)
	rs, err := ParseIPFW([]byte(text), "fuzz", builtinServices)
	if err != nil {
		t.Fatalf("generated rule set does not parse: %v\n%s", err, text)
	}
	for i := range rs.Rules {
		if r.IntN(4) == 0 {
			rs.Rules[i].unsure = []string{"uid 0: the owner of the socket is not simulated"}
		}
	}
	size := 1 + int(seed%9)
	small := *rs
	if small.comp, err = rs.compile(context.Background(), size); err != nil {
		t.Fatal(err)
	}
	rs.Compile()
	for range 50 {
		p := randomPacket(r)
		want := rs.evalReference(&p, nil, 0)
		ex, _ := rs.Explain(&p)
		if got := rs.Eval(&p); got != want || ex != want {
			t.Fatalf("Eval(%s) = %+v, reference %+v, Explain %+v\nrules:\n%s", p, got, want, ex, text)
		}
		if got := small.Eval(&p); got != want {
			t.Fatalf("Eval(%s) in blocks of %d = %+v, reference %+v\nrules:\n%s", p, size, got, want, text)
		}
	}
}

// FuzzVerdictUnsure checks that the compiled evaluators and the reference interpreters agree on
// what verdicts rest on, for pf and ipfw rule sets with unsure rules.
func FuzzVerdictUnsure(f *testing.F) {
	for seed := range uint64(16) {
		f.Add(seed, uint8(seed*5))
	}
	f.Fuzz(func(t *testing.T, seed uint64, n uint8) {
		pfCheckUnsureRandom(t, seed)
		ipfwCheckUnsureRandom(t, seed, n)
	})
}

func TestVerdictUnsureMatchesReference(t *testing.T) {
	checkSeeds(t, 0, 600, 60, func(t *testing.T, seed uint64) {
		pfCheckUnsureRandom(t, seed)
		ipfwCheckUnsureRandom(t, seed, uint8(seed))
	})
}

// TestLintSkipsUnsureRules checks that no lint finding rests on an unsure rule: the same rule
// sets give their findings with every rule sure, and none about a rule once it is unsure.
func TestLintSkipsUnsureRules(t *testing.T) {
	kinds := func(fs []Finding) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.Kind+" "+strings.Join(f.Rules, ","))
		}
		return out
	}
	for _, tt := range []struct {
		name, conf string
		unsure     int      // the index of the rule made unsure
		sure       []string // the findings with every rule sure
		unsureWant []string // and with that rule unsure
	}{
		{"pf: a rule covered by an unsure rule", "block all\nblock in quick proto tcp\nblock in quick proto tcp to port 22\n", 1,
			[]string{"redundant pf.conf:3,pf.conf:2"}, nil},
		{"pf: an unsure rule covered", "block all\nblock in quick proto tcp\nblock in quick proto tcp to port 22\n", 2,
			[]string{"redundant pf.conf:3,pf.conf:2"}, nil},
		{"pf: an unsure catch-all", "block quick all\npass in proto tcp to port 22\n", 0,
			[]string{"after-catch-all pf.conf:1,pf.conf:2"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := ParsePF([]byte(tt.conf), "pf.conf", nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.sure, kinds(rs.Lint())); diff != "" {
				t.Errorf("Lint with every rule sure (-want +got):\n%s", diff)
			}
			rs.rules[tt.unsure].f.unsure = []string{"user 0: the owner of the socket is not simulated"}
			if err := rs.compile(context.Background(), pfBlockRules); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.unsureWant, kinds(rs.Lint())); diff != "" {
				t.Errorf("Lint with rule %d unsure (-want +got):\n%s", tt.unsure, diff)
			}
		})
	}
	for _, tt := range []struct {
		name, list string
		unsure     int
		sure       []string
		unsureWant []string
	}{
		{"ipfw: a rule covered by an unsure rule", "00100 deny tcp from any to any\n00200 deny tcp from any to any 22\n00300 deny ip from any to any\n", 100,
			[]string{"redundant 00200,00100", "loopback-blocked 00100"}, nil},
		{"ipfw: an unsure rule covered", "00100 deny tcp from any to any\n00200 deny tcp from any to any 22\n00300 deny ip from any to any\n", 200,
			[]string{"redundant 00200,00100", "loopback-blocked 00100"}, []string{"loopback-blocked 00100"}},
		{"ipfw: an unsure catch-all", "00100 deny ip from any to any\n00200 allow tcp from any to any 22\n", 100,
			[]string{"after-catch-all 00200,00100", "loopback-blocked 00100"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rs := ipfwWithUnsure(t, tt.list, nil, ipfwBlockRules)
			if diff := cmp.Diff(tt.sure, kinds(rs.Lint(LintOptions{}))); diff != "" {
				t.Errorf("Lint with every rule sure (-want +got):\n%s", diff)
			}
			rs = ipfwWithUnsure(t, tt.list, []int{tt.unsure}, ipfwBlockRules)
			for name, got := range map[string][]Finding{"Lint": rs.Lint(LintOptions{}), "lintReference": rs.lintReference(LintOptions{})} {
				if diff := cmp.Diff(tt.unsureWant, kinds(got)); diff != "" {
					t.Errorf("%s with rule %d unsure (-want +got):\n%s", name, tt.unsure, diff)
				}
			}
		})
	}
}

// TestUnsureEvalDoesNotAllocate checks that filling Verdict.Unsure costs no allocation: the
// reasons are joined when the rule set is compiled.
func TestUnsureEvalDoesNotAllocate(t *testing.T) {
	rs, err := ParsePF([]byte("table <bf> persist\nblock all\nblock in quick proto tcp from <bf> to port 22\npass in proto tcp to port 22 keep state\npass out keep state\n"), "pf.conf", nil)
	if err != nil {
		t.Fatal(err)
	}
	ipfw := ipfwWithUnsure(t, "00100 check-state\n00200 deny tcp from any to any recv en5\n00300 allow tcp from any to any setup keep-state\n", []int{200}, ipfwBlockRules)
	for _, spec := range []string{
		"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup",
		"tcp 192.0.2.10:22 -> 203.0.113.5:51234 out via en0 established",
		`icmp 198.51.100.1 -> 192.0.2.10 in via en0 type 3 about "tcp 192.0.2.10:51000 -> 203.0.113.5:443 out"`,
	} {
		p := pkt(t, spec)
		if v := rs.Eval(&p); v.Unsure == "" && p.About == nil {
			t.Errorf("Eval(%s) = %+v, want it conditional", spec, v)
		}
		if n := testing.AllocsPerRun(100, func() { rs.Eval(&p) }); n != 0 {
			t.Errorf("pf Eval(%s): %v allocations, want 0", spec, n)
		}
		if n := testing.AllocsPerRun(100, func() { ipfw.Eval(&p) }); n != 0 {
			t.Errorf("ipfw Eval(%s): %v allocations, want 0", spec, n)
		}
	}
}
