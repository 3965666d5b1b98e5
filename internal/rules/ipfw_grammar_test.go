package rules

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ipfwGrammarRule is what a test checks of a parsed rule.
type ipfwGrammarRule struct {
	Kind   ipfwKind
	Action Action
	Protos []uint8
	Family uint8
	Src    []string // prefixes
	Dst    []string
	Ports  string // source/destination ports as "src|dst"
	Conds  []string
	Keep   bool
	Probe  bool
	Flow   string
	Set    uint8
	Unsure int // how many unsure conditions
}

func summarize(r *IPFWRule) ipfwGrammarRule {
	g := ipfwGrammarRule{Kind: r.Kind, Action: r.Action, Protos: r.Protos, Family: r.Family, Keep: r.Keep,
		Probe: r.Probe, Flow: r.Flow, Set: r.Set, Unsure: len(r.unsure)}
	for _, p := range r.Src.Prefixes {
		g.Src = append(g.Src, p.String())
	}
	for _, p := range r.Dst.Prefixes {
		g.Dst = append(g.Dst, p.String())
	}
	ports := func(ps []portRange) string {
		var s []string
		for _, p := range ps {
			s = append(s, fmt.Sprintf("%d-%d", p.Lo, p.Hi))
		}
		return strings.Join(s, ",")
	}
	g.Ports = ports(r.SrcPort) + "|" + ports(r.DstPort)
	for _, c := range r.Conds {
		g.Conds = append(g.Conds, c.text)
	}
	return g
}

var tcpUDPSCTP = []uint8{ProtoTCP, ProtoUDP, ipfwProtoSCTP}

// ipfwGrammarTests are rule lines of `ipfw list` form as FreeBSD 13/14 and Mac OS X accept them.
var ipfwGrammarTests = []struct {
	name string
	in   string
	want ipfwGrammarRule
	err  string
}{
	{name: "ip4", in: "100 deny ip4 from any to any", want: ipfwGrammarRule{Action: Deny, Family: 4, Ports: "|"}},
	{name: "ipv6 is the family, not protocol 41", in: "100 allow ipv6 from any to any", want: ipfwGrammarRule{Action: Allow, Family: 6, Ports: "|"}},
	{name: "ip6 option", in: "100 allow ip from any to any ip6", want: ipfwGrammarRule{Action: Allow, Family: 6, Ports: "|"}},
	{name: "protocol block", in: "100 allow { tcp or udp } from any to any 53", want: ipfwGrammarRule{Action: Allow, Protos: []uint8{ProtoTCP, ProtoUDP}, Ports: "|53-53"}},
	{name: "braces touching", in: "100 allow {tcp or udp} from any to any", want: ipfwGrammarRule{Action: Allow, Protos: []uint8{ProtoTCP, ProtoUDP}, Ports: "|"}},
	{name: "ports with ip match tcp udp sctp", in: "100 allow ip from any to any 22", want: ipfwGrammarRule{Action: Allow, Protos: tcpUDPSCTP, Ports: "|22-22"}},
	{name: "dst-port option", in: "100 allow ip from any to any dst-port 22,80-81", want: ipfwGrammarRule{Action: Allow, Protos: tcpUDPSCTP, Ports: "|22-22,80-81"}},
	{name: "src-port option", in: "100 allow udp from any to any src-port 53", want: ipfwGrammarRule{Action: Allow, Protos: []uint8{ProtoUDP}, Ports: "53-53|"}},
	{name: "established with udp never matches", in: "100 allow udp from any to any established", want: ipfwGrammarRule{Action: Allow, Protos: []uint8{}, Ports: "|"}},
	{name: "options only", in: "100 allow dst-port 22 proto tcp", want: ipfwGrammarRule{Action: Allow, Protos: []uint8{ProtoTCP}, Ports: "|22-22"}},
	{name: "comment", in: "100 allow ip from any to any via lo0 // loopback: allow all", want: ipfwGrammarRule{Action: Allow, Ports: "|"}},
	{name: "comma address list", in: "100 deny ip from 10.0.0.0/8,192.168.0.0/16 to any", want: ipfwGrammarRule{Action: Deny, Src: []string{"10.0.0.0/8", "192.168.0.0/16"}, Ports: "|"}},
	{name: "or address block", in: "100 deny ip from { 10.0.0.1 or 10.0.0.2 } to any", want: ipfwGrammarRule{Action: Deny, Src: []string{"10.0.0.1/32", "10.0.0.2/32"}, Ports: "|"}},
	{name: "address set", in: "100 deny ip from 192.0.2.0/24{1,5-6} to any", want: ipfwGrammarRule{Action: Deny, Src: []string{"192.0.2.1/32", "192.0.2.5/32", "192.0.2.6/32"}, Ports: "|"}},
	{name: "ipv4-mapped prefix", in: "100 deny all from ::ffff:0.0.0.0/96 to any", want: ipfwGrammarRule{Action: Deny, Src: []string{"::ffff:0.0.0.0/96"}, Ports: "|"}},
	{name: "runtime table", in: "100 deny ip from table(1) to any", want: ipfwGrammarRule{Action: Deny, Ports: "|", Unsure: 1}},
	{name: "lookup", in: "100 deny ip from any to any lookup dst-ip 7", want: ipfwGrammarRule{Action: Deny, Ports: "|", Conds: []string{"lookup dst-ip 7"}, Unsure: 1}},
	{name: "host name", in: "100 allow tcp from any to x.x.x.x 53", want: ipfwGrammarRule{Action: Allow, Protos: []uint8{ProtoTCP}, Ports: "|53-53", Unsure: 1}},
	{name: "keep-state :default", in: "100 allow udp from me to any out keep-state :default", want: ipfwGrammarRule{Action: Allow, Protos: []uint8{ProtoUDP}, Ports: "|", Keep: true, Probe: true}},
	{name: "named keep-state", in: "100 allow tcp from any to any keep-state :web", want: ipfwGrammarRule{Action: Allow, Protos: []uint8{ProtoTCP}, Ports: "|", Keep: true, Probe: true, Flow: "web"}},
	{name: "record-state does not look up", in: "100 allow tcp from any to any record-state", want: ipfwGrammarRule{Action: Allow, Protos: []uint8{ProtoTCP}, Ports: "|", Keep: true}},
	{name: "limit", in: "100 allow tcp from any to me 22 in setup limit src-addr 2", want: ipfwGrammarRule{Action: Allow, Protos: []uint8{ProtoTCP}, Ports: "|22-22", Keep: true, Probe: true, Unsure: 1}},
	{name: "check-state named", in: "100 check-state :web", want: ipfwGrammarRule{Kind: ipfwCheckState, Ports: "|", Flow: "web"}},
	{name: "check-state any", in: "100 check-state :any", want: ipfwGrammarRule{Kind: ipfwCheckState, Ports: "|", Flow: "any"}},
	{name: "icmptype singular", in: "100 allow icmp from any to any icmptype 8", want: ipfwGrammarRule{Action: Allow, Protos: []uint8{ProtoICMP}, Ports: "|"}},
	{name: "not via", in: "100 deny ip from any to any not via lo0", want: ipfwGrammarRule{Action: Deny, Ports: "|", Conds: []string{"not via lo0"}}},
	{name: "or block of options", in: "100 allow ip from any to any { via en0 or via en1 }", want: ipfwGrammarRule{Action: Allow, Ports: "|", Conds: []string{"via en0", "via en1"}}},
	{name: "out recv: forwarded", in: "100 deny ip from any to any out recv em0", want: ipfwGrammarRule{Action: Deny, Ports: "|", Unsure: 1}},
	{name: "recv any", in: "100 allow ip from any to any recv any", want: ipfwGrammarRule{Action: Allow, Ports: "|"}},
	{name: "antispoof", in: "100 deny ip from any to any not antispoof in", want: ipfwGrammarRule{Action: Deny, Ports: "|", Conds: []string{"not antispoof"}, Unsure: 1}},
	{name: "verrevpath", in: "100 deny ip from any to any not verrevpath in", want: ipfwGrammarRule{Action: Deny, Ports: "|", Conds: []string{"not verrevpath"}, Unsure: 1}},
	{name: "uid", in: "100 allow tcp from me to any uid root", want: ipfwGrammarRule{Action: Allow, Protos: []uint8{ProtoTCP}, Ports: "|", Conds: []string{"uid root"}, Unsure: 1}},
	{name: "tcpflags", in: "100 deny tcp from any to any tcpflags syn,!ack", want: ipfwGrammarRule{Action: Deny, Protos: []uint8{ProtoTCP}, Ports: "|", Conds: []string{"tcpflags syn,!ack"}}},
	{name: "tcpflags fin", in: "100 deny tcp from any to any tcpflags syn,fin", want: ipfwGrammarRule{Action: Deny, Protos: []uint8{ProtoTCP}, Ports: "|", Conds: []string{"tcpflags syn,fin"}}}, // the packet says its flags
	{name: "ipoptions", in: "100 deny ip from any to any ipoptions ssrr,lsrr", want: ipfwGrammarRule{Action: Deny, Ports: "|", Conds: []string{"ipoptions ssrr,lsrr"}, Unsure: 1}},
	{name: "tcpoptions", in: "100 deny tcp from any to any tcpoptions !mss", want: ipfwGrammarRule{Action: Deny, Protos: []uint8{ProtoTCP}, Ports: "|", Conds: []string{"tcpoptions !mss"}, Unsure: 1}},
	{name: "ext6hdr", in: "100 deny ip6 from any to any ext6hdr rthdr0", want: ipfwGrammarRule{Action: Deny, Family: 6, Ports: "|", Conds: []string{"ext6hdr rthdr0"}, Unsure: 1}},
	{name: "mac", in: "100 deny ip from any to any mac any 00:11:22:33:44:55", want: ipfwGrammarRule{Action: Deny, Ports: "|", Conds: []string{"mac any 00:11:22:33:44:55"}, Unsure: 1}},
	{name: "layer2", in: "100 deny ip from any to any layer2", want: ipfwGrammarRule{Action: Deny, Ports: "|", Conds: []string{"layer2"}, Unsure: 1}},
	{name: "diverted", in: "100 allow ip from any to any diverted", want: ipfwGrammarRule{Action: Allow, Ports: "|", Conds: []string{"diverted"}, Unsure: 1}},
	{name: "set", in: "100 set 5 allow ip from any to any", want: ipfwGrammarRule{Action: Allow, Ports: "|", Set: 5}},
	{name: "pipe", in: "100 pipe 1 ip from any to any out", want: ipfwGrammarRule{Action: Allow, Ports: "|", Unsure: 1}},
	{name: "queue", in: "100 queue 2 tcp from any to any", want: ipfwGrammarRule{Action: Allow, Protos: []uint8{ProtoTCP}, Ports: "|", Unsure: 1}},
	{name: "nat", in: "100 nat 1 ip4 from any to any via em0", want: ipfwGrammarRule{Action: Allow, Family: 4, Ports: "|", Unsure: 2}},
	{name: "fwd", in: "100 fwd 127.0.0.1,3128 tcp from any to any 80 in", want: ipfwGrammarRule{Action: Allow, Protos: []uint8{ProtoTCP}, Ports: "|80-80", Unsure: 1}},
	{name: "divert", in: "100 divert natd ip4 from any to any via em0", want: ipfwGrammarRule{Kind: ipfwCount, Family: 4, Ports: "|", Unsure: 1}},
	{name: "tee", in: "100 tee 8000 ip from any to any", want: ipfwGrammarRule{Kind: ipfwCount, Ports: "|"}},
	{name: "reass", in: "100 reass all from any to any in", want: ipfwGrammarRule{Kind: ipfwReass, Ports: "|"}},
	{name: "call", in: "100 call 1000 ip from any to any", want: ipfwGrammarRule{Kind: ipfwCall, Ports: "|"}},
	{name: "return with a body", in: "100 return ip from any to any", want: ipfwGrammarRule{Kind: ipfwReturn, Ports: "|"}},
	{name: "unreach code", in: "100 unreach host ip from any to any", want: ipfwGrammarRule{Action: Reject, Ports: "|"}},
	{name: "reset", in: "100 reset tcp from any to any 113", want: ipfwGrammarRule{Action: Reject, Protos: []uint8{ProtoTCP}, Ports: "|113-113"}},
	{name: "log logamount", in: "100 deny log logamount 5 ip from any to any", want: ipfwGrammarRule{Action: Deny, Ports: "|"}},
	{name: "prob", in: "100 prob 0.5 deny ip from any to any", want: ipfwGrammarRule{Action: Deny, Ports: "|", Unsure: 1}},
	{name: "frag", in: "100 deny ip from any to any frag", want: ipfwGrammarRule{Action: Deny, Ports: "|"}},
	{name: "not proto", in: "100 deny not tcp from any to any", want: ipfwGrammarRule{Action: Deny, Protos: allProtosBut(ProtoTCP), Ports: "|"}},
	{name: "named protocol", in: "100 allow log ipencap from any to any", want: ipfwGrammarRule{Action: Allow, Protos: []uint8{4}, Ports: "|"}},
	{name: "bad prefix", in: "100 deny ip from 10.0.0.0/33 to any", err: `address "10.0.0.0/33": not an ADDR/LEN prefix`},
	{name: "v6 list", in: "100 allow ipv6-icmp from any to ff02::1,ff02::16", want: ipfwGrammarRule{Action: Allow, Protos: []uint8{ProtoICMPv6}, Dst: []string{"ff02::1/128", "ff02::16/128"}, Ports: "|"}},
	{name: "unknown option", in: "100 allow ip from any to any frobnicate", err: `unsupported option "frobnicate"`},
	{name: "unclosed block", in: "100 allow ip from any to any { via en0 or via en1", err: "unclosed { in options"},
	{name: "bad tcpflags", in: "100 deny tcp from any to any tcpflags syn,xyz", err: `tcpflags "xyz"`},
	{name: "keep-state negated", in: "100 allow tcp from any to any not keep-state", err: "cannot be negated"},
	{name: "set out of range", in: "100 set 32 allow ip from any to any", err: "set needs a number 0-31"},
	{name: "check-state with a body", in: "100 check-state ip from any to any", err: "check-state takes no body"},
}

func allProtosBut(p uint8) []uint8 {
	var out []uint8
	for i := range 256 {
		if uint8(i) != p {
			out = append(out, uint8(i))
		}
	}
	return out
}

func TestParseIPFWGrammar(t *testing.T) {
	for _, tt := range ipfwGrammarTests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := ParseIPFW([]byte(tt.in), "g", builtinServices)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseIPFW(%q) error = %v, want one with %q", tt.in, err, tt.err)
				}
				return
			}
			if err != nil || len(rs.Rules) != 1 {
				t.Fatalf("ParseIPFW(%q) = %v, %v; want one rule", tt.in, rs, err)
			}
			if diff := cmp.Diff(tt.want, summarize(&rs.Rules[0])); diff != "" {
				t.Errorf("ParseIPFW(%q) rule (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// ipfwGrammarEvalTests are rule sets with packets whose fate ipfw(8) decides.
var ipfwGrammarEvalTests = []struct {
	name    string
	set     string
	packets []string // "PACKET => ACTION WHERE"
	notes   []string
}{
	{name: "udp reply on keep-state at check-state",
		set: "100 check-state\n200 allow udp from me to any 53 out keep-state\n300 deny ip from any to any\n",
		packets: []string{
			"udp 192.0.2.10:5353 -> 198.51.100.53:53 out via en0 => allow 00200",
			"udp 198.51.100.53:53 -> 192.0.2.10:5353 in via en0 reply => allow 00100",
			"udp 198.51.100.53:53 -> 192.0.2.10:5353 in via en0 => deny 00300",
			"udp 198.51.100.53:54 -> 192.0.2.10:5353 in via en0 reply => deny 00300", // no flow to port 54 kept state
		}},
	{name: "icmp echo reply",
		set: "100 allow icmp from me to any out icmptypes 8 keep-state\n200 deny ip from any to any\n",
		packets: []string{
			"icmp 198.51.100.1 -> 192.0.2.10 in via en0 type 0 reply => allow 00100", // looked up at the keep-state rule
			"icmp 198.51.100.1 -> 192.0.2.10 in via en0 type 0 => deny 00200",
		}},
	{name: "no check-state: first keep-state rule looks up",
		set: "100 deny tcp from any to any 23\n200 allow tcp from me to any out setup keep-state\n300 deny ip from any to any\n",
		packets: []string{
			"tcp 198.51.100.1:443 -> 192.0.2.10:50000 in via en0 reply => allow 00200",
			"tcp 198.51.100.1:5 -> 192.0.2.10:23 in via en0 reply => deny 00100", // rule 100 comes first
		}},
	{name: "record-state does not look up",
		set:     "100 allow tcp from me to any out setup record-state\n200 deny ip from any to any\n300 check-state\n",
		packets: []string{"tcp 198.51.100.1:443 -> 192.0.2.10:50000 in via en0 reply => deny 00200"}},
	{name: "named flows",
		set: "100 check-state :web\n200 allow tcp from me to any 443 out setup keep-state :web\n210 allow udp from me to any 53 out keep-state :dns\n300 deny ip from any to any\n",
		packets: []string{
			"tcp 198.51.100.1:443 -> 192.0.2.10:50000 in via en0 reply => allow 00100",
			"udp 198.51.100.1:53 -> 192.0.2.10:50000 in via en0 reply => allow 00210", // :web finds nothing; 210 looks up :dns
		}},
	{name: "check-state any",
		set:     "100 check-state :any\n200 deny ip from any to any in\n300 allow udp from me to any out keep-state :dns\n",
		packets: []string{"udp 198.51.100.1:53 -> 192.0.2.10:50000 in via en0 reply => allow 00100"}},
	{name: "lookup not redone for the same name",
		set:     "100 check-state :a\n200 deny ip from any to any in\n300 allow udp from me to any out keep-state :b\n",
		packets: []string{"udp 198.51.100.1:53 -> 192.0.2.10:50000 in via en0 reply => deny 00200"}},
	{name: "skipto keep-state parent jumps",
		set: "100 check-state\n120 skipto 1000 udp from any to any 53 out keep-state\n999 deny ip from any to any\n1000 count ip from any to any\n1001 allow ip from any to any\n",
		packets: []string{
			"udp 192.0.2.10:5353 -> 198.51.100.53:53 out via en0 => allow 01001",
			"udp 198.51.100.53:53 -> 192.0.2.10:5353 in via en0 reply => allow 01001",
			"udp 198.51.100.53:53 -> 192.0.2.10:5353 in via en0 => deny 00999",
		}},
	{name: "one_pass off: nat goes on",
		set: "ipfw disable one_pass\nipfw nat 1 config if em0\nipfw add 100 nat 1 ip from any to any in via em0\nipfw add 200 deny tcp from any to any 22\nipfw add 300 allow ip from any to any\n",
		packets: []string{
			"tcp 198.51.100.1:5 -> 192.0.2.10:22 in via em0 setup => deny 00200",
			"tcp 198.51.100.1:5 -> 192.0.2.10:80 in via em0 setup => allow 00300",
		},
		notes: []string{"g:2: not modelled: ipfw nat 1 config if em0 (address translation is not simulated: rules see packets untranslated)"}},
	{name: "one_pass default: pipe accepts",
		set:     "100 pipe 1 ip from any to any in\n200 deny ip from any to any\n",
		packets: []string{"tcp 198.51.100.1:5 -> 192.0.2.10:22 in via em0 setup => allow 00100"}},
	{name: "tables filled in the file",
		set: "ipfw table 1 add 10.0.0.0/8\nipfw table bad add 203.0.113.7 7\nipfw table bad add 203.0.113.8 8\nipfw table 1 delete 10.0.0.0/8\nipfw table 1 add 10.1.0.0/16\n" +
			"ipfw add 100 deny ip from 'table(1)' to any\nipfw add 200 deny ip from 'table(bad,8)' to any\nipfw add 300 allow ip from any to any\n",
		packets: []string{
			"udp 10.1.2.3:1 -> 192.0.2.10:2 in => deny 00100",
			"udp 10.2.2.3:1 -> 192.0.2.10:2 in => allow 00300", // deleted
			"udp 203.0.113.8:1 -> 192.0.2.10:2 in => deny 00200",
			"udp 203.0.113.7:1 -> 192.0.2.10:2 in => allow 00300", // value 7, not 8
		}},
	{name: "disabled set",
		set:     "ipfw add 100 set 3 deny ip from any to any\nipfw add 200 allow ip from any to any\nipfw set disable 3\n",
		packets: []string{"udp 198.51.100.1:1 -> 192.0.2.10:2 in => allow 00200"},
		notes:   []string{"g:1: not modelled: rule 00100 is in disabled set 3 (ipfw set enable 3 would apply it)"}},
	{name: "set swap",
		set:     "ipfw set disable 3\nipfw add 100 set 3 deny ip from any to any\nipfw add 200 set 4 allow ip from any to any\nipfw set swap 3 4\n",
		packets: []string{"udp 198.51.100.1:1 -> 192.0.2.10:2 in => deny 00100"},
		notes:   []string{"g:3: not modelled: rule 00200 is in disabled set 3 (ipfw set enable 3 would apply it)"}},
	{name: "delete",
		set:     "ipfw add 100 deny ip from any to any\nipfw add 200 allow ip from any to any\nipfw delete 100\n",
		packets: []string{"udp 198.51.100.1:1 -> 192.0.2.10:2 in => allow 00200"}},
	{name: "call and return",
		set: "100 call 1000 tcp from any to any\n200 allow tcp from any to any 22\n300 deny ip from any to any\n1000 deny tcp from any to any 23\n1010 return ip from any to any\n",
		packets: []string{
			"tcp 198.51.100.1:5 -> 192.0.2.10:22 in setup => allow 00200",
			"tcp 198.51.100.1:5 -> 192.0.2.10:23 in setup => deny 01000",
			"udp 198.51.100.1:5 -> 192.0.2.10:22 in => deny 00300",
		}},
	{name: "reass",
		set: "100 reass ip from any to any in\n200 deny ip from any to any\n",
		packets: []string{
			"udp 198.51.100.1:5 -> 192.0.2.10:22 in frag => allow 00100",
			"udp 198.51.100.1:5 -> 192.0.2.10:22 in => deny 00200",
		}},
	{name: "ports with ip match udp, not icmp or fragments",
		set: "100 deny ip from any to any 22\n200 allow ip from any to any\n",
		packets: []string{
			"udp 198.51.100.1:5 -> 192.0.2.10:22 in => deny 00100",
			"icmp 198.51.100.1 -> 192.0.2.10 in type 8 => allow 00200",
			"udp 198.51.100.1:5 -> 192.0.2.10:22 in frag => allow 00200",
		}},
	{name: "families",
		set: "100 deny ip6 from any to any\n200 allow ip from any to any\n",
		packets: []string{
			"tcp [2001:db8::1]:5 -> [2001:db8::2]:22 in setup => deny 00100",
			"tcp 198.51.100.1:5 -> 192.0.2.10:22 in setup => allow 00200",
		}},
	{name: "or block and not",
		set: "100 allow ip from any to any { via en0 or via en1 }\n200 deny ip from any to any not via lo0\n300 allow ip from any to any\n",
		packets: []string{
			"udp 198.51.100.1:5 -> 192.0.2.10:22 in via en1 => allow 00100",
			"udp 198.51.100.1:5 -> 192.0.2.10:22 in via en2 => deny 00200",
			"udp 127.0.0.1:5 -> 127.0.0.1:22 in via lo0 => allow 00300",
		}},
	{name: "tcpflags from setup and established",
		set: "100 deny tcp from any to any tcpflags syn,!ack\n200 allow ip from any to any\n",
		packets: []string{
			"tcp 198.51.100.1:5 -> 192.0.2.10:22 in setup => deny 00100",
			"tcp 198.51.100.1:5 -> 192.0.2.10:22 in established => allow 00200",
		}},
	{name: "antispoof taken as passing",
		set:     "100 deny ip from any to any not antispoof in\n200 allow ip from any to any\n",
		packets: []string{"udp 198.51.100.1:5 -> 192.0.2.10:22 in via en0 => allow 00200"}},
	{name: "runtime table taken as not holding",
		set:     "100 deny ip from table(blocked) to any\n200 allow ip from any to any\n",
		packets: []string{"udp 198.51.100.1:5 -> 192.0.2.10:22 in => allow 00200"}},
	{name: "ipfw show output of FreeBSD 12 and later",
		set: "00100   12   1008 allow ip from any to any via lo0\n00200    0      0 check-state :default\n" +
			"00300   40   3360 allow udp from me to any 53 out keep-state :default // dns\n" +
			"00400    2    120 allow tcp from me to any out setup record-state\n" +
			"00500    0      0 deny ip from any to any\n65535    0      0 deny ip from any to any\n",
		packets: []string{
			"udp 198.51.100.53:53 -> 192.0.2.10:5353 in via em0 reply => allow 00200",
			"tcp 198.51.100.53:443 -> 192.0.2.10:5353 in via em0 reply => allow 00200", // record-state made it, check-state finds it
			"tcp 198.51.100.53:443 -> 192.0.2.10:5353 in via em0 setup => deny 00500",
		}},
	{name: "sh return is not the ipfw action",
		set:     "ipfw add 100 deny tcp from any to any 23\ntee -a /tmp/log\nreturn 0\nipfw add 50 allow ip from any to any\n",
		packets: []string{"tcp 198.51.100.1:5 -> 192.0.2.10:23 in setup => deny 00100"},
		notes:   []string{"g:2: not modelled: command tee"}},
	{name: "layer2 never on the ip pass",
		set:     "100 deny ip from any to any layer2\n200 allow ip from any to any\n",
		packets: []string{"udp 198.51.100.1:5 -> 192.0.2.10:22 in => allow 00200"}},
}

func TestEvalIPFWGrammar(t *testing.T) {
	for _, tt := range ipfwGrammarEvalTests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := ParseIPFW([]byte(tt.set), "g", builtinServices)
			if err != nil {
				t.Fatalf("ParseIPFW() error = %v", err)
			}
			for _, line := range tt.packets {
				spec, want, _ := strings.Cut(line, " => ")
				p := pkt(t, spec)
				v := rs.Eval(&p)
				if got := v.Action.String() + " " + v.Where; got != want {
					t.Errorf("Eval(%s) = %s, want %s", spec, got, want)
				}
				if ref, _ := rs.Explain(&p); ref != v {
					t.Errorf("Explain(%s) = %+v, Eval = %+v", spec, ref, v)
				}
			}
			var notes []string
			for _, n := range rs.Notes {
				notes = append(notes, n.String())
			}
			if diff := cmp.Diff(tt.notes, notes); diff != "" {
				t.Errorf("notes (-want +got):\n%s", diff)
			}
		})
	}
}

// Golden --explain traces of the grammar's semantics (go test -run IPFWGrammarGolden -update).
func TestIPFWGrammarGolden(t *testing.T) {
	set := `ipfw -q -f flush
ipfw table 1 add 203.0.113.0/24
ipfw add 100 allow ip from any to any via lo0 // loopback
ipfw add 200 deny ip from "table(1)" to any in
ipfw add 300 check-state :dns
ipfw add 400 allow { tcp or udp } from me to any 53 out keep-state :dns
ipfw add 500 skipto 1000 tcp from me to any out setup keep-state
ipfw add 600 deny ip from any to any not antispoof in
ipfw add 700 allow ip from any to any dst-port 22 in
ipfw add 999 deny ip from any to any
ipfw add 1000 count ip from any to any
ipfw add 1100 allow ip from any to any
`
	rs, err := ParseIPFW([]byte(set), "grammar.sh", builtinServices)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, s := range []string{
		"udp 198.51.100.53:53 -> 192.0.2.10:51000 in via em0 reply",
		"tcp 198.51.100.7:443 -> 192.0.2.10:49152 in via em0 reply",
		"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via em0 setup",
		"udp 198.51.100.9:5000 -> 192.0.2.10:22 in via em0",
	} {
		p := pkt(t, s)
		v, steps := rs.Explain(&p)
		fmt.Fprintf(&b, "%s: %s by rule %s (%s)\n", p, v.Action, v.Where, v.Text)
		for _, st := range steps {
			fmt.Fprintf(&b, "  %-5v %s %-60s %s\n", st.Matched, st.Where, st.Text, st.Why)
		}
	}
	for _, r := range rs.Rules {
		for _, u := range r.unsure {
			fmt.Fprintf(&b, "unsure %s: %s\n", r.Where(), u)
		}
	}
	checkGolden(t, "testdata/ipfw/grammar.golden", b.String(), "grammar explain traces")
}

// FuzzParseIPFWRule checks that no rule text makes the parser panic, and that what it accepts
// evaluates the same compiled and by the reference interpreter.
func FuzzParseIPFWRule(f *testing.F) {
	for _, tt := range ipfwGrammarTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, line string) {
		rs, err := ParseIPFW([]byte(line+"\n65000 deny ip from any to any\n"), "fuzz", builtinServices)
		if err != nil {
			return
		}
		for _, s := range []string{"tcp 10.0.0.1:5 -> 10.0.0.2:22 in via en0 setup", "udp 10.0.0.1:53 -> 10.0.0.2:5 in via en0 reply", "icmp 10.0.0.1 -> 10.0.0.2 out type 8"} {
			p, _ := ParsePacket(s)
			if got, want := rs.Eval(&p), rs.evalReference(&p, nil, 0); got != want {
				t.Errorf("Eval(%s) = %+v, reference %+v", s, got, want)
			}
		}
		rs.Lint(LintOptions{Keep: netip.MustParseAddrPort("10.0.0.1:22")})
	})
}

// Lint reports nothing that rests on what it did not model, and follows skipto past a catch-all.
func TestLintIPFWGrammar(t *testing.T) {
	tests := []struct {
		name string
		set  string
		want map[string][]string // kind → rules, for the kinds below
	}{
		{name: "skipto lands past the catch-all",
			set:  "100 skipto 1000 tcp from me to any out setup keep-state\n500 deny ip from any to any\n600 allow tcp from any to any 22\n1000 allow ip from any to any\n",
			want: map[string][]string{"after-catch-all": {"00600", "00500"}}},
		{name: "unresolved host name is not shadowed",
			set:  "100 deny ip from any to 127.0.0.0/8\n200 nat 1 ip from any to wifibox0 in\n300 deny ip from any to any\n",
			want: map[string][]string{}},
		{name: "runtime table is not shadowed",
			set:  "100 deny ip from any to 127.0.0.0/8\n200 deny ip from any to table(5)\n300 deny ip from any to any\n",
			want: map[string][]string{}},
		{name: "a rule with an undecided option covers nothing",
			set:  "100 allow tcp from any to any uid root\n200 allow tcp from any to any 22\n300 deny ip from any to any\n",
			want: map[string][]string{}},
		{name: "plain shadowing still found",
			set:  "100 deny ip4 from any to any\n200 allow tcp from 10.0.0.0/8 to any 22\n",
			want: map[string][]string{"shadowed": {"00200", "00100"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := ParseIPFW([]byte(tt.set), "l", builtinServices)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]string{}
			for _, f := range rs.Lint(LintOptions{DefaultGiven: "--default deny"}) {
				switch f.Kind {
				case "after-catch-all", "shadowed", "redundant":
					if _, dup := got[f.Kind]; !dup {
						got[f.Kind] = f.Rules
					}
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Lint(%q) (-want +got):\n%s", tt.set, diff)
			}
		})
	}
}

// Evaluation allocates nothing for the new paths either: a reply that looks up a dynamic rule
// whose parent jumps (compiled, then the reference interpreter), and a rule set with call.
func TestEvalIPFWGrammarNoAllocs(t *testing.T) {
	for _, tt := range []struct{ set, packet string }{
		{"100 check-state :a\n120 skipto 1000 udp from me to any 53 out keep-state :a\n999 deny ip from any to any\n1000 allow ip from any to any { via en0 or via en1 }\n",
			"udp 198.51.100.53:53 -> 192.0.2.10:5353 in via en0 reply"},
		{"100 call 1000 tcp from any to any\n200 allow tcp from any to any 22 keep-state\n300 deny ip from any to any\n1000 deny tcp from any to any 23 not antispoof\n1010 return ip from any to any\n",
			"tcp 198.51.100.1:22 -> 192.0.2.10:5000 in reply"},
	} {
		rs, err := ParseIPFW([]byte(tt.set), "a", builtinServices)
		if err != nil {
			t.Fatal(err)
		}
		rs.Compile()
		p := pkt(t, tt.packet)
		if v := rs.Eval(&p); v.Action != Allow {
			t.Errorf("Eval(%s) = %+v, want allow", tt.packet, v)
		}
		if n := testing.AllocsPerRun(100, func() { rs.Eval(&p) }); n != 0 {
			t.Errorf("Eval(%s) allocates %v times, want 0", tt.packet, n)
		}
	}
}

// With the host's interfaces given, antispoof is decided (ipfw(8)): an incoming packet whose source
// is on a network directly connected to another interface does not match.
func TestIPFWAntispoofInterfaces(t *testing.T) {
	rs, err := ParseIPFW([]byte("100 deny ip from any to any not antispoof in\n200 allow ip from any to any\n"), "a", builtinServices)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Rules[0].unsure) != 1 {
		t.Fatalf("antispoof without interfaces: unsure = %q, want one reason", rs.Rules[0].unsure)
	}
	rs.SetInterfaces(map[string][]netip.Prefix{"en0": {netip.MustParsePrefix("192.0.2.10/24")}, "en1": {netip.MustParsePrefix("10.0.0.1/8")}})
	if len(rs.Rules[0].unsure) != 0 {
		t.Errorf("antispoof with interfaces: unsure = %q, want none", rs.Rules[0].unsure)
	}
	for _, tt := range []struct{ packet, want string }{
		{"udp 10.1.2.3:5 -> 192.0.2.10:53 in via en0", "deny 00100"},      // en1's network arriving on en0
		{"udp 10.1.2.3:5 -> 192.0.2.10:53 in via en1", "allow 00200"},     // on its own interface
		{"udp 198.51.100.1:5 -> 192.0.2.10:53 in via en0", "allow 00200"}, // not a connected network
		{"udp 127.0.0.1:5 -> 192.0.2.10:53 in via en0", "deny 00100"},     // loopback's network
		{"udp 10.1.2.3:5 -> 192.0.2.77:53 out via en0", "allow 00200"},    // outgoing packets match
	} {
		p := pkt(t, tt.packet)
		v := rs.Eval(&p)
		if got := v.Action.String() + " " + v.Where; got != tt.want {
			t.Errorf("Eval(%s) = %s, want %s", tt.packet, got, tt.want)
		}
		if ref, _ := rs.Explain(&p); ref != v {
			t.Errorf("Explain(%s) = %+v, Eval = %+v", tt.packet, ref, v)
		}
	}
}
