package rules

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// pfSemanticsCase is a minimal rule set for one piece of pf semantics, a packet, and its fate as
// the pf manuals describe it.
type pfSemanticsCase struct {
	name  string
	conf  string
	opts  PFOptions
	pkt   string
	act   Action
	where string   // the deciding rule; "" for pf's default pass
	notes []string // what makes the verdict conditional
}

var pfEn0 = PFOptions{Ifaces: map[string][]netip.Prefix{"en0": {netip.MustParsePrefix("192.0.2.10/24")}}}

var pfSemanticsCases = []pfSemanticsCase{
	{
		name: "antispoof lo0 blocks 127.0.0.1 arriving on en0",
		conf: "pass all\nantispoof for lo0\n",
		pkt:  "tcp 127.0.0.1:51234 -> 192.0.2.10:22 in via en0 setup",
		act:  Deny, where: "pf.conf:2",
	},
	{
		name: "antispoof lo0 lets 127.0.0.1 in on lo0",
		conf: "pass all\nantispoof for lo0\n",
		pkt:  "tcp 127.0.0.1:51234 -> 127.0.0.1:22 in via lo0 setup",
		act:  Allow, where: "pf.conf:1",
	},
	{
		name: "antispoof lo0 blocks ::1 arriving on en0",
		conf: "pass all\nantispoof for lo0\n",
		pkt:  "tcp [::1]:51234 -> [2001:db8::10]:22 in via en0 setup",
		act:  Deny, where: "pf.conf:2",
	},
	{
		name: "antispoof lo0 inet leaves ::1 alone",
		conf: "pass all\nantispoof for lo0 inet\n",
		pkt:  "tcp [::1]:51234 -> [2001:db8::10]:22 in via en0 setup",
		act:  Allow, where: "pf.conf:1",
	},
	{
		name: "antispoof en0 blocks its network arriving on en1",
		conf: "pass all\nantispoof quick for (en0) inet\npass in all\n",
		opts: pfEn0,
		pkt:  "tcp 192.0.2.99:51234 -> 192.0.2.10:22 in via en1 setup",
		act:  Deny, where: "pf.conf:2",
	},
	{
		name: "antispoof en0 lets its network in on en0",
		conf: "pass all\nantispoof for en0\n",
		opts: pfEn0,
		pkt:  "tcp 192.0.2.99:51234 -> 192.0.2.10:22 in via en0 setup",
		act:  Allow, where: "pf.conf:1",
	},
	{
		name: "antispoof en0 blocks its own address arriving on en0",
		conf: "pass all\nantispoof for en0\n",
		opts: pfEn0,
		pkt:  "tcp 192.0.2.10:51234 -> 192.0.2.10:22 in via en0 setup",
		act:  Deny, where: "pf.conf:2",
	},
	{
		name: "antispoof en0 does not touch outgoing packets",
		conf: "pass all\nantispoof for en0\n",
		opts: pfEn0,
		pkt:  "tcp 192.0.2.10:51234 -> 198.51.100.7:443 out via en0 setup",
		act:  Allow, where: "pf.conf:1",
	},
	{
		name:  "antispoof for an interface whose addresses are not given is conditional",
		conf:  "pass all\nantispoof for en0\n",
		pkt:   "tcp 192.0.2.99:51234 -> 192.0.2.10:22 in via en1 setup",
		act:   Allow,
		where: "pf.conf:1",
		notes: []string{"pf.conf:2: antispoof for en0: the addresses of en0 are not known, so its rules are not simulated (give --iface en0=ADDR/LEN)"},
	},
	{
		name: "set skip on lo skips lo0",
		conf: "set skip on lo\nblock all\n",
		pkt:  "tcp 127.0.0.1:51234 -> 127.0.0.1:22 in via lo0 setup",
		act:  Allow, where: "pf.conf:1",
	},
	{
		name: "set skip on lo does not skip en0",
		conf: "set skip on lo\nblock all\n",
		pkt:  "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup",
		act:  Deny, where: "pf.conf:2",
	},
	{
		name: "on egress matches the members given",
		conf: "block all\npass out on egress proto tcp\n",
		opts: PFOptions{Groups: map[string][]string{"egress": {"en0"}}},
		pkt:  "tcp 192.0.2.10:51234 -> 198.51.100.7:443 out via en0 setup",
		act:  Allow, where: "pf.conf:2",
	},
	{
		name: "on egress does not match other interfaces",
		conf: "block all\npass out on egress proto tcp\n",
		opts: PFOptions{Groups: map[string][]string{"egress": {"en0"}}},
		pkt:  "tcp 192.0.2.10:51234 -> 198.51.100.7:443 out via en1 setup",
		act:  Deny, where: "pf.conf:1",
	},
	{
		name:  "on egress without its members is conditional",
		conf:  "block all\npass out on egress proto tcp\n",
		pkt:   "tcp 192.0.2.10:51234 -> 198.51.100.7:443 out via en0 setup",
		act:   Deny,
		where: "pf.conf:1",
		notes: []string{"pf.conf:2: on egress: the members of the interface group egress are not known, so the rule matches no interface (give --group egress=IF,IF)"},
	},
	{
		name: "a group given with --group",
		conf: "block all\npass in on ! lan proto tcp\npass in on lan proto udp\n",
		opts: PFOptions{Groups: map[string][]string{"lan": {"en1"}}},
		pkt:  "udp 192.0.2.99:5353 -> 192.0.2.10:5353 in via en1",
		act:  Allow, where: "pf.conf:3",
	},
	{
		name: "a DNS reply passes on the state of the query",
		conf: "block all\npass out proto udp to port 53\n",
		pkt:  "udp 192.0.2.53:53 -> 192.0.2.10:51000 in via en0 reply",
		act:  Allow, where: "pf.conf:2",
	},
	{
		name: "a DNS reply passes on state whatever the inbound rules say",
		conf: "block in quick all\npass out proto udp to port 53 keep state\n",
		pkt:  "udp 192.0.2.53:53 -> 192.0.2.10:51000 in via en0 reply",
		act:  Allow, where: "pf.conf:2",
	},
	{
		name: "no state: the DNS reply meets the rules",
		conf: "block all\npass out proto udp to port 53 no state\n",
		pkt:  "udp 192.0.2.53:53 -> 192.0.2.10:51000 in via en0 reply",
		act:  Deny, where: "pf.conf:1",
	},
	{
		name: "a reply to a query the rules block meets the rules",
		conf: "block all\npass out proto tcp\n",
		pkt:  "udp 192.0.2.53:53 -> 192.0.2.10:51000 in via en0 reply",
		act:  Deny, where: "pf.conf:1",
	},
	{
		name: "a UDP packet not said to be a reply is a new flow",
		conf: "block all\npass out proto udp to port 53\n",
		pkt:  "udp 192.0.2.53:53 -> 192.0.2.10:51000 in via en0",
		act:  Deny, where: "pf.conf:1",
	},
	{
		name: "an echo reply passes on the state of the echo request",
		conf: "block all\npass out inet proto icmp icmp-type echoreq\n",
		pkt:  "icmp 198.51.100.7 -> 192.0.2.10 in via en0 type 0 code 0 reply",
		act:  Allow, where: "pf.conf:2",
	},
	{
		name: "an ICMPv6 echo reply passes on the state of the echo request",
		conf: "block all\npass out inet6 proto icmp6 icmp6-type echoreq\n",
		pkt:  "icmp6 2001:db8::7 -> 2001:db8::10 in via en0 type 129 code 0 reply",
		act:  Allow, where: "pf.conf:2",
	},
	{
		name: "a TCP reply passes on the state of the SYN",
		conf: "block all\npass out proto tcp to port 443\n",
		pkt:  "tcp 198.51.100.7:443 -> 192.0.2.10:50000 in via en0 reply",
		act:  Allow, where: "pf.conf:2",
	},
	{
		name: "a statement accepted but not modelled makes the verdict conditional",
		conf: "set timeout interval 10\nscrub in all\npass in proto tcp to port 22 keep state (max-src-conn 5, overload <bad> flush)\n",
		pkt:  "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup",
		act:  Allow, where: "pf.conf:3",
		notes: []string{
			"pf.conf:1: set timeout interval 10: not modelled (engine tuning)",
			"pf.conf:2: scrub in all: not modelled (traffic normalisation is not simulated)",
			"pf.conf:3: pass in proto tcp to port 22 keep state (max-src-conn 5, overload <bad> flush): not modelled (state options: limits and overload tables are not simulated)",
		},
	},
	{
		name:  "a translation anchor makes the verdict conditional",
		conf:  "nat-anchor \"com.apple/*\"\npass all\n",
		pkt:   "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup",
		act:   Allow,
		where: "pf.conf:2",
		notes: []string{"pf.conf:1: nat-anchor \"com.apple/*\": not modelled (its rules are loaded at run time, so the translation they may do before filtering is not known)"},
	},
}

func pfParseCase(t testing.TB, c pfSemanticsCase) *PFRuleset {
	t.Helper()
	rs, err := ParsePFOptions(context.Background(), []byte(c.conf), "pf.conf", nil, c.opts)
	if err != nil {
		t.Fatalf("ParsePFOptions(%q) error: %v", c.conf, err)
	}
	return rs
}

func TestPFSemantics(t *testing.T) {
	for _, c := range pfSemanticsCases {
		t.Run(c.name, func(t *testing.T) {
			rs := pfParseCase(t, c)
			p := pfPkt(t, c.pkt)
			v := pfAgree(t, rs, &p)
			if v.Action != c.act || v.Where != c.where {
				t.Errorf("Eval(%s) = %s by %q (%s), want %s by %q", c.pkt, v.Action, v.Where, v.Text, c.act, c.where)
			}
			if diff := cmp.Diff(c.notes, rs.Notes()); diff != "" {
				t.Errorf("Notes() (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPFSemanticsGolden keeps the --explain trace of every semantic case, reviewed in the diff
// (-update rewrites).
func TestPFSemanticsGolden(t *testing.T) {
	var b strings.Builder
	for _, c := range pfSemanticsCases {
		rs := pfParseCase(t, c)
		p := pfPkt(t, c.pkt)
		v, steps := rs.Explain(&p)
		fmt.Fprintf(&b, "== %s\n%s\n", c.name, strings.TrimRight(c.conf, "\n"))
		for _, n := range rs.Notes() {
			fmt.Fprintf(&b, "note: %s\n", n)
		}
		fmt.Fprintf(&b, "-- %s\n", c.pkt)
		for _, s := range steps {
			mark := " "
			if s.Matched {
				mark = "*"
			}
			fmt.Fprintf(&b, "%s %s  %s\n      %s\n", mark, s.Where, s.Text, s.Why)
		}
		fmt.Fprintf(&b, "=> %s by %s: %s\n\n", v.Action, v.Where, v.Text)
	}
	checkGolden(t, "testdata/pf/semantics.golden", b.String(), "Explain traces")
}

func TestParsePacketReply(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string // the packet printed, or "" when ParsePacket refuses it
	}{
		{"udp 192.0.2.53:53 -> 192.0.2.10:51000 in via en0 reply", "udp 192.0.2.53:53 -> 192.0.2.10:51000 in via en0 reply"},
		{"icmp 198.51.100.7 -> 192.0.2.10 in reply type 0", "icmp 198.51.100.7 -> 192.0.2.10 in reply type 0"},
		{"tcp 198.51.100.7:443 -> 192.0.2.10:50000 in established reply", "tcp 198.51.100.7:443 -> 192.0.2.10:50000 in reply"},
		{"tcp 198.51.100.7:443 -> 192.0.2.10:50000 in setup reply", ""},
	} {
		t.Run(tt.in, func(t *testing.T) {
			p, err := ParsePacket(tt.in)
			if tt.want == "" {
				if err == nil {
					t.Errorf("ParsePacket(%q) = %s, want an error", tt.in, p)
				}
				return
			}
			if err != nil || p.String() != tt.want || !p.Reply {
				t.Errorf("ParsePacket(%q) = %s (reply %v), %v; want %s (reply true)", tt.in, p, p.Reply, err, tt.want)
			}
		})
	}
}

// A reply's state look-up allocates nothing, as any evaluation.
func TestPFReplyEvalAllocs(t *testing.T) {
	rs, err := ParsePF([]byte(pfBenchConf()), "bench.conf", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"udp 192.0.2.53:53 -> 192.0.2.10:51000 in via en0 reply",
		"icmp 198.51.100.7 -> 192.0.2.10 in via en0 type 0 code 0 reply",
		"tcp 198.51.100.7:443 -> 192.0.2.10:50000 in via en0 reply",
	} {
		p := pfPkt(t, s)
		if n := testing.AllocsPerRun(100, func() { rs.Eval(&p) }); n != 0 {
			t.Errorf("Eval(%s) allocates %v times, want 0", s, n)
		}
	}
}

func BenchmarkPFEvalReply(b *testing.B) {
	rs, err := ParsePF([]byte(pfBenchConf()), "bench.conf", nil)
	if err != nil {
		b.Fatal(err)
	}
	p := pfPkt(b, "udp 192.0.2.53:53 -> 192.0.2.10:51000 in via en0 reply")
	b.ReportAllocs()
	for b.Loop() {
		rs.Eval(&p)
	}
}
