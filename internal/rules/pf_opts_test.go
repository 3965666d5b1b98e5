package rules

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// pfOptsEvalTests are rule sets using tags and the other conditions tested in rule order, with
// the verdicts pf gives (pf.conf(5): tags are sticky; quick stops evaluation, tagging included).
var pfOptsEvalTests = []struct {
	name  string
	conf  string
	cases []pfWant
}{
	{
		name: "a tag set by a rule that does not decide is seen by later rules",
		conf: "pass in proto tcp all tag SSH\nblock in all\npass in quick all tagged SSH\n",
		cases: []pfWant{
			{"tcp 192.0.2.1:1000 -> 198.51.100.2:22 in setup", Allow, "t.conf:3"},
			{"udp 192.0.2.1:1000 -> 198.51.100.2:22 in", Deny, "t.conf:2"},
		},
	},
	{
		name: "a later tag replaces an earlier one",
		conf: "pass in all tag A\npass in proto udp all tag B\nblock in quick all tagged A\n",
		cases: []pfWant{
			{"tcp 192.0.2.1:1000 -> 198.51.100.2:22 in setup", Deny, "t.conf:3"},
			{"udp 192.0.2.1:1000 -> 198.51.100.2:53 in", Allow, "t.conf:2"},
		},
	},
	{
		name: "not tagged matches untagged packets and other tags",
		conf: "block in all\npass in proto udp all tag DNS\npass in all ! tagged DNS\n",
		cases: []pfWant{
			{"tcp 192.0.2.1:1000 -> 198.51.100.2:22 in setup", Allow, "t.conf:3"},
			{"udp 192.0.2.1:1000 -> 198.51.100.2:53 in", Allow, "t.conf:2"},
		},
	},
	{
		name: "a quick match stops evaluation before later rules tag",
		conf: "pass in quick proto tcp all\npass in all tag X\nblock in all tagged X\n",
		cases: []pfWant{
			{"tcp 192.0.2.1:1000 -> 198.51.100.2:22 in setup", Allow, "t.conf:1"},
			{"udp 192.0.2.1:1000 -> 198.51.100.2:53 in", Deny, "t.conf:3"},
		},
	},
	{
		name: "a tag tested before it is set does not match",
		conf: "block in all tagged X\npass in all tag X\n",
		cases: []pfWant{
			{"tcp 192.0.2.1:1000 -> 198.51.100.2:22 in setup", Allow, "t.conf:2"},
		},
	},
	{
		name: "an anchor rule tags what it matches, even when none of its rules match",
		conf: "anchor \"a\" in proto tcp tag T {\n\tpass in proto udp all\n}\nblock in all\npass in all tagged T\n",
		cases: []pfWant{
			{"tcp 192.0.2.1:1000 -> 198.51.100.2:22 in setup", Allow, "t.conf:5"},
			{"udp 192.0.2.1:1000 -> 198.51.100.2:53 in", Deny, "t.conf:4"},
		},
	},
	{
		name: "an anchor rule that tests a tag",
		conf: "pass in proto tcp all tag T\nanchor \"b\" in tagged T {\n\tblock in all\n}\n",
		cases: []pfWant{
			{"tcp 192.0.2.1:1000 -> 198.51.100.2:22 in setup", Deny, "t.conf:3"},
			{"udp 192.0.2.1:1000 -> 198.51.100.2:53 in", Allow, "default"},
		},
	},
	{
		name: "a tag set inside an anchor is seen after it",
		conf: "anchor \"c\" in {\n\tpass in proto tcp to port 22 tag S\n}\nblock in all\npass in quick all tagged S\n",
		cases: []pfWant{
			{"tcp 192.0.2.1:1000 -> 198.51.100.2:22 in setup", Allow, "t.conf:5"},
			{"tcp 192.0.2.1:1000 -> 198.51.100.2:23 in setup", Deny, "t.conf:4"},
		},
	},
	{
		name: "a quick anchor ends evaluation with its last match, tags included",
		conf: "anchor \"q\" quick in {\n\tpass in all tag A\n\tblock in proto udp all\n\tpass in all tagged A\n}\nblock in all\n",
		cases: []pfWant{
			{"udp 192.0.2.1:1000 -> 198.51.100.2:53 in", Allow, "t.conf:4"},
			{"udp 192.0.2.1:1000 -> 198.51.100.2:53 out", Allow, "default"},
		},
	},
	{
		name: "received-on",
		conf: "block all\npass in all received-on en0\npass out all received-on { en0 en1 }\n",
		cases: []pfWant{
			{"tcp 192.0.2.1:1000 -> 198.51.100.2:22 in via en0 setup", Allow, "t.conf:2"},
			{"tcp 192.0.2.1:1000 -> 198.51.100.2:22 in via en1 setup", Deny, "t.conf:1"},
			// An outbound packet's receiving interface is not known: the rule is taken not to
			// match, and is unsure.
			{"tcp 192.0.2.1:1000 -> 198.51.100.2:22 out via en0 setup", Deny, "t.conf:1"},
		},
	},
	{
		name: "received-on any",
		conf: "block all\npass all received-on any\n",
		cases: []pfWant{
			{"udp 192.0.2.1:1000 -> 198.51.100.2:53 in via en1", Allow, "t.conf:2"},
			{"udp 192.0.2.1:1000 -> 198.51.100.2:53 out via en1", Deny, "t.conf:1"},
		},
	},
	{
		name: "fragment",
		conf: "pass in all\nblock in quick all fragment\n",
		cases: []pfWant{
			{"udp 192.0.2.1:1000 -> 198.51.100.2:53 in frag", Deny, "t.conf:2"},
			{"udp 192.0.2.1:1000 -> 198.51.100.2:53 in", Allow, "t.conf:1"},
		},
	},
	{
		name: "state: an established packet passes on the tagged rule that passed its SYN",
		conf: "block all\npass out proto tcp all tag OUT\npass out quick proto tcp all tagged OUT\n",
		cases: []pfWant{
			{"tcp 198.51.100.2:22 -> 192.0.2.1:50000 in established", Allow, "t.conf:3"},
			{"tcp 198.51.100.2:22 -> 192.0.2.1:50000 in setup", Deny, "t.conf:1"},
		},
	},
	{
		name: "routing, queueing and the like do not change the verdict",
		conf: "block in all\npass in on en0 route-to (en1 192.0.2.1) proto tcp to port 22 queue (ssh, std) set prio (1, 5) rtable 1 label \"ssh\"\npass in proto udp to port 53 reply-to { (en0 10.0.0.1), (en1 10.0.0.2) } round-robin sticky-address divert-to 127.0.0.1 port 5353\n",
		cases: []pfWant{
			{"tcp 192.0.2.1:1000 -> 198.51.100.2:22 in via en0 setup", Allow, "t.conf:2"},
			{"udp 192.0.2.1:1000 -> 198.51.100.2:53 in via en0", Allow, "t.conf:3"},
			{"tcp 192.0.2.1:1000 -> 198.51.100.2:23 in via en0 setup", Deny, "t.conf:1"},
		},
	},
	{
		name: "state options without limits are named, not noted",
		conf: "block in all\npass in proto tcp to port 22 keep state (sloppy, pflow, source-track rule)\n",
		cases: []pfWant{
			{"tcp 192.0.2.1:1000 -> 198.51.100.2:22 in setup", Allow, "t.conf:2"},
		},
	},
	{
		name: "unsure conditions are taken to match",
		conf: "block in all\npass in proto tcp from any os \"OpenBSD\" to any port 25 probability 20% once\npass in proto udp all tos 0x10 prio 3 max-pkt-rate 100/10\n",
		cases: []pfWant{
			{"tcp 192.0.2.1:1000 -> 198.51.100.2:25 in setup", Allow, "t.conf:2"},
			{"udp 192.0.2.1:1000 -> 198.51.100.2:53 in", Allow, "t.conf:3"},
		},
	},
}

func TestPFOptsEval(t *testing.T) {
	for _, tt := range pfOptsEvalTests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := ParsePF([]byte(tt.conf), "t.conf", nil)
			if err != nil {
				t.Fatalf("ParsePF(%q) = %v", tt.conf, err)
			}
			small, err := parsePF(context.Background(), []byte(tt.conf), "t.conf", nil, 1)
			if err != nil {
				t.Fatalf("ParsePF(%q) in blocks of 1 = %v", tt.conf, err)
			}
			for _, c := range tt.cases {
				p := pfPkt(t, c.pkt)
				v := pfAgree(t, rs, &p)
				if v.Action != c.act || v.Where != c.where {
					t.Errorf("Eval(%s) = %s by %s (%s), want %s by %s", c.pkt, v.Action, v.Where, v.Text, c.act, c.where)
				}
				if sv := small.Eval(&p); sv != v {
					t.Errorf("Eval(%s) in blocks of 1 = %+v, want %+v", c.pkt, sv, v)
				}
			}
		})
	}
}

// TestPFOptsUnsure checks that what the file and the packet cannot decide is listed on the rule,
// and what an anchor rule cannot decide is in the notes.
func TestPFOptsUnsure(t *testing.T) {
	for _, tt := range []struct {
		name, conf string
		want       []string // the unsure list of the first rule
		notes      []string
	}{
		{"probability", "pass in all probability 20%\n", []string{"probability 20%: the rule matches a random share of packets: it is taken to match"}, nil},
		{"os", "pass in proto tcp from any os \"Windows\" to any\n", []string{"os Windows: passive OS fingerprints are not simulated: the rule is taken to match"}, nil},
		{"once", "pass in all once\n", []string{"once: pf removes the rule after its first match: it is taken to match, which holds only until then"}, nil},
		{"tagged on outbound packets", "pass out all tagged X\n", []string{"tagged X: an outbound packet may carry the tag its inbound pass gave it, which is not simulated (the simulated packet starts untagged)"}, nil},
		{"tagged on inbound packets only", "pass in all ! tagged X\n", nil, nil},
		{"received-on", "pass all received-on en0\n", []string{"received-on en0: an outbound packet's receiving interface is not known (a forwarded packet has one): for outbound packets the rule is taken not to match"}, nil},
		{"divert-packet", "pass in all divert-packet port 700\n", []string{"divert-packet port 700: a program reading the divert socket decides whether the packet goes on"}, nil},
		{"prio and tos", "pass in all prio 3 tos lowdelay\n", []string{"prio 3: the packet's priority is not given: the rule is taken to match", "tos lowdelay: the packet's type of service is not given: the rule is taken to match"}, nil},
		{"max-pkt-rate", "pass in all max-pkt-rate 100/10\n", []string{"max-pkt-rate 100/10: the rule stops matching while the packet rate is above the limit: it is taken to match"}, nil},
		{"route-to is not unsure", "pass in route-to (en1 192.0.2.1) all\n", nil, nil},
		{
			"an anchor rule's in the notes", "anchor \"a\" probability 50% {\n\tpass in all\n}\n", nil,
			[]string{"t.conf:1: anchor \"a\" probability 50%: probability 50%: the rule matches a random share of packets: it is taken to match"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := ParsePF([]byte(tt.conf), "t.conf", nil)
			if err != nil {
				t.Fatalf("ParsePF(%q) = %v", tt.conf, err)
			}
			if diff := cmp.Diff(tt.want, rs.rules[0].f.unsure); diff != "" {
				t.Errorf("ParsePF(%q) unsure (-want +got):\n%s", tt.conf, diff)
			}
			if diff := cmp.Diff(tt.notes, rs.Notes()); diff != "" {
				t.Errorf("ParsePF(%q).Notes() (-want +got):\n%s", tt.conf, diff)
			}
		})
	}
}

// pfOptsAccepted are statements and options of real pf.conf files (OpenBSD, FreeBSD and macOS
// dialects) that parse, with the notes they leave: nothing is skipped without a word.
var pfOptsAccepted = []struct {
	name, conf string
	notes      []string
}{
	{"set state-policy", "set state-policy if-bound\n", []string{"t.conf:1: set state-policy if-bound: not modelled (engine tuning)"}},
	{"set ruleset-optimization", "set ruleset-optimization basic\n", []string{"t.conf:1: set ruleset-optimization basic: not modelled (engine tuning)"}},
	{"set reassemble", "set reassemble yes no-df\n", []string{"t.conf:1: set reassemble yes no-df: not modelled (engine tuning)"}},
	{"set syncookies", "set syncookies adaptive (start 25%, end 12%)\n", []string{"t.conf:1: set syncookies adaptive (start 25%, end 12%): not modelled (engine tuning)"}},
	{"set fingerprints", "set fingerprints \"/etc/pf.os\"\n", []string{"t.conf:1: set fingerprints \"/etc/pf.os\": not modelled (engine tuning)"}},
	{"set hostid", "set hostid 0x1234\n", []string{"t.conf:1: set hostid 0x1234: not modelled (engine tuning)"}},
	{"set state-defaults", "set state-defaults pflow, no-sync\n", []string{"t.conf:1: set state-defaults pflow, no-sync: not modelled (engine tuning)"}},
	{"set keepcounters", "set keepcounters\n", []string{"t.conf:1: set keepcounters: not modelled (engine tuning)"}},
	{"set debug", "set debug misc\n", []string{"t.conf:1: set debug misc: not modelled (engine tuning)"}},
	{"set fail-policy", "set fail-policy return\n", []string{"t.conf:1: set fail-policy return: not modelled (engine tuning)"}},
	{"set timeout list", "set timeout { tcp.established 600, \\\n udp.single 30 }\n", []string{"t.conf:1: set timeout { tcp.established 600, udp.single 30 }: not modelled (engine tuning)"}},
	{
		"set in an anchor", "anchor \"a\" {\n\tset skip on lo0\n\tset block-policy return\n\tpass in all\n}\n",
		[]string{
			"t.conf:2: set skip on lo0: not modelled (set skip in anchor \"a\": pfctl takes options from the main ruleset only, so it is not simulated here)",
			"t.conf:3: set block-policy return: not modelled (set block-policy in anchor \"a\": pfctl takes options from the main ruleset only, so it is not simulated here)",
		},
	},
	{
		"altq dialect", "altq on en0 cbq bandwidth 10Mb queue { std, ssh }\nqueue std bandwidth 50% cbq(default)\nqueue ssh bandwidth 25% priority 7 cbq(borrow red)\npass out proto tcp to port 22 queue ssh\n",
		[]string{
			"t.conf:1: altq on en0 cbq bandwidth 10Mb queue { std, ssh }: not modelled (queueing is not simulated)",
			"t.conf:2: queue std bandwidth 50% cbq(default): not modelled (queueing is not simulated)",
			"t.conf:3: queue ssh bandwidth 25% priority 7 cbq(borrow red): not modelled (queueing is not simulated)",
		},
	},
	{
		"queue dialect", "queue rootq on em0 bandwidth 20M max 20M\nqueue std parent rootq bandwidth 5M default\npass out set queue (std, ack) set prio (1, 6)\n",
		[]string{
			"t.conf:1: queue rootq on em0 bandwidth 20M max 20M: not modelled (queueing is not simulated)",
			"t.conf:2: queue std parent rootq bandwidth 5M default: not modelled (queueing is not simulated)",
		},
	},
	{"dummynet", "dummynet in quick proto tcp from any to any port 80 pipe 1\n", []string{"t.conf:1: dummynet in quick proto tcp from any to any port 80 pipe 1: not modelled (dummynet traffic shaping is not simulated: its pipes delay or drop packets by rate, which the simulator does not model)"}},
	{"ether", "ether pass in on en0 from 00:11:22:33:44:55\n", []string{"t.conf:1: ether pass in on en0 from 00:11:22:33:44:55: not modelled (layer-2 (ether) rules are not simulated: they may block packets before pf's IP rules see them)"}},
	{"label on anchors", "anchor \"a\" in on en0 label \"from $if\" {\n\tpass in all\n}\n", nil},
	{"route-to in the old place", "pass in on en0 route-to (en1 192.0.2.1) inet proto tcp from any to any port 22\n", nil},
	{"route-to a table", "pass out route-to <gws> least-states sticky-address from any to any\n", nil},
	{"route-to a list", "pass in on en0 route-to { (en1 192.0.2.1), (en2 192.0.2.2) } round-robin proto tcp all\n", nil},
	{"reply-to", "pass in on en1 reply-to (en1 192.0.2.1) from any to any\n", nil},
	{"dup-to", "pass in all dup-to (en2 192.0.2.9)\n", nil},
	{"fastroute", "pass in on en0 fastroute all\n", nil},
	{"divert", "pass in proto tcp to port 80 divert-to 127.0.0.1 port 8080\npass out proto tcp all divert-reply\n", nil},
	{"tags", "pass in all tag \"inbound\"\npass out all ! tagged inbound\n", nil},
	{"scrub as a rule option", "pass in all scrub (no-df random-id max-mss 1440 reassemble tcp)\n", nil},
	{"state options", "pass in proto tcp to port 22 keep state (source-track rule, max-src-conn 10, max-src-conn-rate 5/3, overload <bad> flush global, sloppy, pflow, if-bound, floating)\n", []string{"t.conf:1: pass in proto tcp to port 22 keep state (source-track rule, max-src-conn 10, max-src-conn-rate 5/3, overload <bad> flush global, sloppy, pflow, if-bound, floating): not modelled (state options: limits and overload tables are not simulated)"}},
	{"state options that cannot change a verdict", "pass in proto tcp to port 22 keep state (source-track rule, sloppy, pflow, no-sync, floating, tcp.established 600)\n", nil},
	{"if-bound state", "pass in proto tcp to port 22 keep state (if-bound)\n", []string{"t.conf:1: pass in proto tcp to port 22 keep state (if-bound): not modelled (state options: if-bound states match only on the interface that created them, which is not simulated)"}},
	{"allow-opts and labels", "pass in all allow-opts label \"$nr:$srcaddr\"\n", nil},
	{"dnpipe", "pass in proto tcp to port 80 dnpipe (1, 2)\n", nil},
	{"set tos and set delay", "pass out all set tos lowdelay set delay 100\n", nil},
	{"min-ttl and max-mss", "pass in all min-ttl 5 max-mss 1400 no-df random-id\n", nil},
	{"tracker", "block in log inet all tracker 1000000101 label \"Default deny rule IPv4\"\n", nil},
	{"antispoof with a tracker", "antispoof log for lo0 tracker 1000001570\n", nil},
	{"ridentifier", "pass in all ridentifier 42\n", nil},
	{"max-pkt-rate before state", "pass in quick inet6 proto icmp6 all icmp6-type { unreach, timex, echoreq } max-pkt-rate 10/1 keep state\n", nil},
	{"icmp codes", "pass in inet proto icmp icmp-type unreach code port-unr\n", nil},
}

func TestPFOptsAccepted(t *testing.T) {
	for _, tt := range pfOptsAccepted {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := ParsePF([]byte(tt.conf), "t.conf", nil)
			if err != nil {
				t.Fatalf("ParsePF(%q) = %v", tt.conf, err)
			}
			if diff := cmp.Diff(tt.notes, rs.Notes()); diff != "" {
				t.Errorf("ParsePF(%q).Notes() (-want +got):\n%s", tt.conf, diff)
			}
		})
	}
}

func TestPFOptsErrors(t *testing.T) {
	for _, tt := range []struct{ name, conf, want string }{
		{"probability out of range", "pass in all probability 150%\n", "t.conf:1: probability: want a percentage such as 20%, found \"150%\""},
		{"route-to without a target", "pass in route-to\n", "t.conf:1: route-to needs a target such as (en1 192.0.2.1), found end of line"},
		{"two tagged", "pass in all tagged A tagged B\n", "t.conf:1: a rule can test only one tag"},
		{"tag without a name", "pass in all tag\n", "t.conf:1: tag needs a tag name, found end of line"},
		{"unclosed route list", "pass in route-to { (en1 192.0.2.1)\n", "t.conf:1: missing closing bracket for \"{\""},
		{"unknown set in an anchor", "anchor \"a\" {\n\tset frobnicate 1\n}\n", "t.conf:2: unknown option \"set frobnicate\""},
		{"divert-packet without a port", "pass in all divert-packet 700\n", "t.conf:1: expected \"port\", found \"700\""},
		{"unterminated string at the end", "ports = \"{ 22,\n 80\n", "t.conf:1: unterminated quoted string"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePF([]byte(tt.conf), "t.conf", nil)
			if err == nil || err.Error() != tt.want {
				t.Errorf("ParsePF(%q) = %v, want %s", tt.conf, err, tt.want)
			}
		})
	}
}

// pfLexerTests are the lexer forms of real files: quoted macros over several lines, a
// backslash before a comment inside braces, macros inside macros, and "$" inside quotes (left as
// written, as pfctl does).
var pfLexerTests = []struct {
	name, conf string
	pkt        string
	act        Action
	where      string
}{
	{
		"quoted macro spanning lines", "tcp_services = \"{ 22, 80,\n 443 }\"\nblock in all\npass in proto tcp to port $tcp_services\n",
		"tcp 192.0.2.1:1000 -> 198.51.100.2:443 in setup", Allow, "t.conf:4",
	},
	{
		"continuation and comment in a table", "table <bad> { 192.0.2.1 \\   # first\n  192.0.2.2, # second\n  192.0.2.3 }\nblock in from <bad>\n",
		"tcp 192.0.2.3:1000 -> 198.51.100.2:443 in setup", Deny, "t.conf:4",
	},
	{
		"continuation and comment in a list", "block in proto tcp to port { 22, \\ # ssh\n 23 }\n",
		"tcp 192.0.2.3:1000 -> 198.51.100.2:23 in setup", Deny, "t.conf:1",
	},
	{
		"comment after a continuation ends the rule", "block in all \\\n# a comment\npass in all\n",
		"tcp 192.0.2.3:1000 -> 198.51.100.2:23 in setup", Allow, "t.conf:3",
	},
	{
		"nested macros", "a = \"192.0.2.1\"\nb = \"192.0.2.2\"\npair = $a $b\nhosts = \"{\" $pair \"}\"\nblock in from $hosts\n",
		"tcp 192.0.2.2:1000 -> 198.51.100.2:23 in setup", Deny, "t.conf:5",
	},
	{
		"a macro in quotes is not expanded", "if = \"en0\"\nblock in all\npass in on \"$if\" all\n",
		"tcp 192.0.2.2:1000 -> 198.51.100.2:23 in via en0 setup", Deny, "t.conf:2",
	},
	{
		"a quoted string spanning lines keeps line numbers", "x = \"192.0.2.1\n\"\nblock in all\npass in from $x\n",
		"tcp 192.0.2.1:1000 -> 198.51.100.2:23 in setup", Allow, "t.conf:4",
	},
	{
		"an escaped quote", "pass in all label \"a\\\"b\"\n",
		"tcp 192.0.2.1:1000 -> 198.51.100.2:23 in setup", Allow, "t.conf:1",
	},
}

// TestPFLexer checks the verdicts of pfLexerTests.
func TestPFLexer(t *testing.T) {
	for _, tt := range pfLexerTests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := ParsePF([]byte(tt.conf), "t.conf", nil)
			if err != nil {
				t.Fatalf("ParsePF(%q) = %v", tt.conf, err)
			}
			p := pfPkt(t, tt.pkt)
			if v := pfAgree(t, rs, &p); v.Action != tt.act || v.Where != tt.where {
				t.Errorf("Eval(%s) = %s by %s (%s), want %s by %s", tt.pkt, v.Action, v.Where, v.Text, tt.act, tt.where)
			}
		})
	}
}

// TestPFOptsGolden keeps the --explain traces of tagged rule sets and the lexer cases, reviewed
// in the diff (-update rewrites).
func TestPFOptsGolden(t *testing.T) {
	var b strings.Builder
	for _, tt := range pfOptsEvalTests {
		rs, err := ParsePF([]byte(tt.conf), "t.conf", nil)
		if err != nil {
			t.Fatalf("ParsePF(%q) = %v", tt.conf, err)
		}
		fmt.Fprintf(&b, "== %s\n%s\n", tt.name, strings.TrimRight(tt.conf, "\n"))
		for _, n := range rs.Notes() {
			fmt.Fprintf(&b, "note: %s\n", n)
		}
		for _, c := range tt.cases {
			p := pfPkt(t, c.pkt)
			v, steps := rs.Explain(&p)
			fmt.Fprintf(&b, "-- %s\n", c.pkt)
			for _, s := range steps {
				mark := " "
				if s.Matched {
					mark = "*"
				}
				fmt.Fprintf(&b, "%s %s  %s\n      %s\n", mark, s.Where, s.Text, s.Why)
			}
			fmt.Fprintf(&b, "=> %s by %s: %s\n", v.Action, v.Where, v.Text)
		}
		b.WriteString("\n")
	}
	for _, tt := range pfLexerTests {
		rs, err := ParsePF([]byte(tt.conf), "t.conf", nil)
		if err != nil {
			t.Fatalf("ParsePF(%q) = %v", tt.conf, err)
		}
		fmt.Fprintf(&b, "== lexer: %s\n%s\n", tt.name, strings.TrimRight(tt.conf, "\n"))
		p := pfPkt(t, tt.pkt)
		v, steps := rs.Explain(&p)
		fmt.Fprintf(&b, "-- %s\n", tt.pkt)
		for _, s := range steps {
			mark := " "
			if s.Matched {
				mark = "*"
			}
			fmt.Fprintf(&b, "%s %s  %s\n      %s\n", mark, s.Where, s.Text, s.Why)
		}
		fmt.Fprintf(&b, "=> %s by %s: %s\n\n", v.Action, v.Where, v.Text)
	}
	checkGolden(t, "testdata/pf/opts.golden", b.String(), "Explain traces")
}

// TestPFOptsNoAllocs checks that the ordered path (tags) evaluates without allocating.
func TestPFOptsNoAllocs(t *testing.T) {
	rs := pfOptsBench(t)
	pkts := pfBenchPackets()
	n := testing.AllocsPerRun(100, func() {
		for i := range pkts {
			rs.Eval(&pkts[i])
		}
	})
	if n != 0 {
		t.Errorf("Eval with tags allocates %v times per run, want 0", n)
	}
}

// pfOptsBench is the 1,000-rule benchmark set with tagging rules added: every packet takes the
// ordered path.
func pfOptsBench(t testing.TB) *PFRuleset {
	conf := "pass in proto tcp to port 22 tag SSH\nanchor \"tagged\" in tagged SSH {\n\tpass in quick all\n}\n" + pfBenchConf() + "block in quick all ! tagged SSH received-on { en0 en1 }\n"
	rs, err := ParsePF([]byte(conf), "bench.conf", nil)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func BenchmarkPFEvalTags(b *testing.B) {
	rs := pfOptsBench(b)
	pkts := pfBenchPackets()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		rs.Eval(&pkts[i%len(pkts)])
	}
}

// pfOptsOptions are what FuzzPFOptsEval appends to generated rules and anchor rules.
var pfOptsOptions = []string{
	" tag A", " tag B", " tagged A", " tagged B", " ! tagged A", " ! tagged B", " received-on en0",
	" received-on { en1 lo0 }", " received-on any", " fragment", " tag A tagged B", " route-to (en1 192.0.2.1)",
	" probability 50%", " label \"x\"",
}

// pfOptsConf is a generated rule set (pfRandomConf) with tag, tagged, received-on and fragment
// options added to some of its rules and anchor rules.
func pfOptsConf(r *rand.Rand) (string, map[string]string) {
	conf, files := pfRandomConf(r)
	addOpts := func(text string) string {
		var b strings.Builder
		for _, line := range strings.SplitAfter(text, "\n") {
			body := strings.TrimSuffix(line, "\n")
			switch {
			case (strings.HasPrefix(body, "pass") || strings.HasPrefix(body, "block")) && r.IntN(100) < 60:
				body += pfOptsOptions[r.IntN(len(pfOptsOptions))]
			case strings.HasPrefix(body, "anchor") && r.IntN(100) < 50:
				opt := pfOptsOptions[r.IntN(len(pfOptsOptions))]
				if strings.HasSuffix(body, " {") {
					body = strings.TrimSuffix(body, " {") + opt + " {"
				} else {
					body += opt
				}
			}
			b.WriteString(body)
			if strings.HasSuffix(line, "\n") {
				b.WriteString("\n")
			}
		}
		return b.String()
	}
	for name, f := range files {
		files[name] = addOpts(f)
	}
	return addOpts(conf), files
}

// pfCheckOptsRandom compares Eval (the ordered path), Explain and the reference interpreter on
// a generated rule set with tags, in one classifier block and in small ones.
func pfCheckOptsRandom(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
	conf, files := pfOptsConf(r)
	opts := PFOptions{
		Ifaces: map[string][]netip.Prefix{"en0": {netip.MustParsePrefix("192.0.2.10/24")}},
		Groups: map[string][]string{"egress": {"en0"}},
	}
	rs, err := ParsePFOptions(context.Background(), []byte(conf), "f.conf", pfMapLoader(files), opts)
	if err != nil {
		t.Fatalf("seed %d: generated rule set does not parse: %v\n%s", seed, err, conf)
	}
	size := 1 + int(seed%5)
	small, err := parsePFWith(context.Background(), []byte(conf), "f.conf", pfMapLoader(files), size, opts)
	if err != nil {
		t.Fatalf("seed %d: blocks of %d: %v", seed, size, err)
	}
	for range 64 {
		p := pfRandomPacket(r)
		got, want := rs.Eval(&p), rs.pfEvalReference(&p)
		ex, _ := rs.Explain(&p)
		if got != want || ex != want {
			t.Fatalf("seed %d: packet %s (%+v):\nEval = %+v\nreference = %+v\nExplain = %+v\nrule set:\n%s\nfiles: %v", seed, p, p, got, want, ex, conf, files)
		}
		if got := small.Eval(&p); got != want {
			t.Fatalf("seed %d: packet %s:\nEval in blocks of %d = %+v\nreference = %+v\nrule set:\n%s\nfiles: %v", seed, p, size, got, want, conf, files)
		}
	}
	want := rs.lintReference()
	if diff := cmp.Diff(want, rs.Lint()); diff != "" {
		t.Fatalf("seed %d: Lint differs from the reference (-want +got):\n%s\nrule set:\n%s", seed, diff, conf)
	}
}

func FuzzPFOptsEval(f *testing.F) {
	for seed := range uint64(32) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, seed uint64) { pfCheckOptsRandom(t, seed) })
}

func TestPFOptsEvalMatchesReference(t *testing.T) { checkSeeds(t, 5000, 1000, 200, pfCheckOptsRandom) }

// FuzzPFOptsParse parses rule sets seeded from the option, statement and lexer tables: no panic,
// and a rule set that parses evaluates alike in the compiled and reference evaluators.
func FuzzPFOptsParse(f *testing.F) {
	for _, tt := range pfOptsAccepted {
		f.Add(tt.conf)
	}
	for _, tt := range pfOptsEvalTests {
		f.Add(tt.conf)
	}
	f.Add("tcp_services = \"{ 22, 80,\n 443 }\"\npass in proto tcp to port $tcp_services tag X\n")
	f.Add("table <bad> { 192.0.2.1 \\   # first\n  192.0.2.2 }\nblock in from <bad> tagged X\n")
	f.Fuzz(func(t *testing.T, conf string) {
		rs, err := ParsePF([]byte(conf), "f.conf", nil)
		if err != nil {
			return
		}
		for _, s := range []string{"tcp 192.0.2.1:1000 -> 198.51.100.2:22 in via en0 setup", "udp 192.0.2.1:1000 -> 198.51.100.2:53 out via en1", "tcp 198.51.100.2:22 -> 192.0.2.1:1000 in established"} {
			p := pfPkt(t, s)
			if got, want := rs.Eval(&p), rs.pfEvalReference(&p); got != want {
				t.Fatalf("packet %s: Eval = %+v, reference = %+v\nrule set:\n%s", s, got, want, conf)
			}
		}
	})
}

func TestLooksLikePFQueues(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"altq on dc0 bandwidth 16Mb hfsc queue { eng law art }\nqueue eng bandwidth 10Mb { cs ee ie }\n", true},
		{"# comment\nqueue std parent rootq bandwidth 5M default\n", true},
		{"00100 queue 1 ip from any to any\n", false},
		{"queue\n", false},
	} {
		if got := LooksLikePF([]byte(tt.in)); got != tt.want {
			t.Errorf("LooksLikePF(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestPFNormTextBackslash(t *testing.T) {
	conf := "block in proto tcp to port { 22, \\ # ssh\n 23 }\n"
	rs, err := ParsePF([]byte(conf), "t.conf", nil)
	if err != nil {
		t.Fatalf("ParsePF(%q) = %v", conf, err)
	}
	if got, want := rs.rules[0].f.text, "block in proto tcp to port { 22, 23 }"; got != want {
		t.Errorf("ParsePF(%q) rule text = %q, want %q", conf, got, want)
	}
}

// TestPFRuleEvent checks the hook for rules the classifier leaves out (match rules): a rule
// event sets the tag register at its place in the compiled ordered path.
func TestPFRuleEvent(t *testing.T) {
	conf := "block in all\npass in quick all tagged M no state\n"
	rs, err := ParsePF([]byte(conf), "t.conf", nil)
	if err != nil {
		t.Fatalf("ParsePF(%q) = %v", conf, err)
	}
	for _, tt := range []struct {
		name  string
		event string // the conditions of the rule event, as a rule
		pkt   string
		want  int
	}{
		{"the event matches and tags", "pass in proto tcp flags S/SA tag M", "tcp 192.0.2.1:1000 -> 198.51.100.2:22 in setup", 1},
		{"the event's flags do not match", "pass in proto tcp flags S/SA tag M", "tcp 192.0.2.1:1000 -> 198.51.100.2:22 in established", 0},
		{"the event's protocol does not match", "pass in proto udp tag M", "tcp 192.0.2.1:1000 -> 198.51.100.2:22 in setup", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := ParsePF([]byte(tt.event+"\n"), "e.conf", nil)
			if err != nil {
				t.Fatalf("ParsePF(%q) = %v", tt.event, err)
			}
			f := ev.rules[0].f
			f.cond.x.tag = rs.xo.tagID("M")
			saved := rs.xo.calls
			defer func() { rs.xo.calls = saved }()
			rs.xo.calls = nil
			rs.ruleEvent(f, 1, []*pfCond{&f.cond})
			p := pfPkt(t, tt.pkt)
			if got := rs.decidePost(&p); got != tt.want {
				t.Errorf("decidePost(%s) with event %q = %d, want %d", tt.pkt, tt.event, got, tt.want)
			}
		})
	}
}
