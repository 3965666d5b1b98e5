package rules

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The -update flag may already be defined by another test file of this package (package-level
// variables are initialised before init functions run); define it only when it is not.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files and generated test data")
	}
}

func pfUpdating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// pfRootLoader reads paths under root, the way the CLI resolves them under --root.
func pfRootLoader(root string) func(string) ([]byte, error) {
	return func(p string) ([]byte, error) {
		return os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
	}
}

// pfMapLoader serves files from a map.
func pfMapLoader(files map[string]string) func(string) ([]byte, error) {
	return func(p string) ([]byte, error) {
		s, ok := files[p]
		if !ok {
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		}
		return []byte(s), nil
	}
}

func pfLoadRoot(t testing.TB, dir string) *PFRuleset {
	t.Helper()
	root := filepath.Join("testdata/pf", dir)
	data, err := os.ReadFile(filepath.Join(root, "etc/pf.conf"))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := ParsePF(data, "/etc/pf.conf", pfRootLoader(root))
	if err != nil {
		t.Fatalf("ParsePF(%s) = %v", dir, err)
	}
	return rs
}

func pfPkt(t testing.TB, s string) Packet {
	t.Helper()
	p, err := ParsePacket(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// pfAgree checks that the compiled evaluator, the reference interpreter and Explain agree.
func pfAgree(t testing.TB, rs *PFRuleset, p *Packet) Verdict {
	t.Helper()
	got := rs.Eval(p)
	ref := rs.pfEvalReference(p)
	ex, _ := rs.Explain(p)
	if got != ref || got != ex {
		t.Fatalf("packet %s: Eval = %+v, reference = %+v, Explain = %+v", p, got, ref, ex)
	}
	return got
}

type pfWant struct {
	pkt   string
	act   Action
	where string
}

var pfEvalTests = []struct {
	name  string
	conf  string
	files map[string]string
	cases []pfWant
}{
	{
		name: "last match wins",
		conf: "block in all\npass in proto tcp to port 22\n",
		cases: []pfWant{
			{"tcp 192.0.2.1:1000 -> 198.51.100.2:22 in setup", Allow, "t.conf:2"},
			{"tcp 192.0.2.1:1000 -> 198.51.100.2:23 in setup", Deny, "t.conf:1"},
			{"udp 192.0.2.1:1000 -> 198.51.100.2:22 in", Deny, "t.conf:1"},
			{"udp 192.0.2.1:1000 -> 198.51.100.2:22 out", Allow, "default"},
		},
	},
	{
		name: "quick stops",
		conf: "block in quick proto tcp to port 22\npass in all\n",
		cases: []pfWant{
			{"tcp 192.0.2.1:1000 -> 198.51.100.2:22 in setup", Deny, "t.conf:1"},
			{"tcp 192.0.2.1:1000 -> 198.51.100.2:80 in setup", Allow, "t.conf:2"},
		},
	},
	{
		name: "no rules pass everything",
		conf: "# nothing\n",
		cases: []pfWant{
			{"tcp 192.0.2.1:1000 -> 198.51.100.2:22 in setup", Allow, "default"},
		},
	},
	{
		name: "state for replies and for the opener's later packets",
		conf: "block all\npass out proto tcp to port 80\npass in proto tcp to port 22\n",
		cases: []pfWant{
			{"tcp 192.0.2.1:50000 -> 198.51.100.2:80 out setup", Allow, "t.conf:2"},
			{"tcp 198.51.100.2:80 -> 192.0.2.1:50000 in established", Allow, "t.conf:2"},
			{"tcp 198.51.100.2:80 -> 192.0.2.1:50000 in setup", Deny, "t.conf:1"},
			{"tcp 198.51.100.2:81 -> 192.0.2.1:50000 in established", Deny, "t.conf:1"},
			{"tcp 203.0.113.9:40000 -> 192.0.2.1:22 in established", Allow, "t.conf:3"},
			{"tcp 192.0.2.1:22 -> 203.0.113.9:40000 out established", Allow, "t.conf:3"},
			{"tcp 192.0.2.1:22 -> 203.0.113.9:40000 out frag", Deny, "t.conf:1"},
		},
	},
	{
		name: "no state drops replies",
		conf: "block all\npass out proto tcp to port 80 no state\n",
		cases: []pfWant{
			{"tcp 192.0.2.1:50000 -> 198.51.100.2:80 out setup", Allow, "t.conf:2"},
			{"tcp 192.0.2.1:50000 -> 198.51.100.2:80 out established", Allow, "t.conf:2"},
			{"tcp 198.51.100.2:80 -> 192.0.2.1:50000 in established", Deny, "t.conf:1"},
		},
	},
	{
		name: "flags",
		conf: "block in all\npass in proto tcp to port 1 flags any\npass in proto tcp to port 2 flags A/A no state\npass in proto tcp to port 3 flags /SA no state\n",
		cases: []pfWant{
			{"tcp 192.0.2.1:9 -> 198.51.100.2:1 in established", Allow, "t.conf:2"},
			{"tcp 192.0.2.1:9 -> 198.51.100.2:2 in established", Allow, "t.conf:3"},
			{"tcp 192.0.2.1:9 -> 198.51.100.2:2 in setup", Deny, "t.conf:1"},
			{"tcp 192.0.2.1:9 -> 198.51.100.2:3 in setup", Deny, "t.conf:1"},
		},
	},
	{
		name: "a list with a negated entry matches nearly everything",
		conf: "block in all\npass in from { 10.0.0.0/8, !10.1.0.0/16 }\n",
		cases: []pfWant{
			{"udp 10.1.2.3:1 -> 192.0.2.1:2 in", Allow, "t.conf:2"},
			{"udp 203.0.113.1:1 -> 192.0.2.1:2 in", Allow, "t.conf:2"},
			{"udp [2001:db8::1]:1 -> [2001:db8::2]:2 in", Deny, "t.conf:1"},
		},
	},
	{
		name: "a table with a negated entry",
		conf: "table <t> { 10.0.0.0/8, !10.1.0.0/16, 10.1.2.0/24 }\nblock in all\npass in from <t>\n",
		cases: []pfWant{
			{"udp 10.1.3.3:1 -> 192.0.2.1:2 in", Deny, "t.conf:2"},
			{"udp 10.1.2.3:1 -> 192.0.2.1:2 in", Allow, "t.conf:3"},
			{"udp 10.2.0.1:1 -> 192.0.2.1:2 in", Allow, "t.conf:3"},
			{"udp 192.0.2.9:1 -> 192.0.2.1:2 in", Deny, "t.conf:2"},
		},
	},
	{
		name:  "undefined tables are empty",
		conf:  "block in all\npass in from <nothing>\npass in proto udp from ! <nothing> to port 1\n",
		files: nil,
		cases: []pfWant{
			{"udp 10.1.3.3:1 -> 192.0.2.1:2 in", Deny, "t.conf:1"},
		},
	},
	{
		name: "self is the host's side",
		conf: "block all\npass in to self\npass out from self to 10.0.0.0/8\npass in on lo0 from self\n",
		cases: []pfWant{
			{"udp 203.0.113.1:1 -> 192.0.2.1:2 in", Allow, "t.conf:2"},
			{"udp 192.0.2.1:1 -> 10.9.9.9:2 out", Allow, "t.conf:3"},
			{"udp 192.0.2.1:1 -> 11.9.9.9:2 out", Deny, "t.conf:1"},
			{"udp 127.0.0.1:1 -> 127.0.0.1:2 in via lo0", Allow, "t.conf:4"},
			{"udp 203.0.113.1:1 -> 127.0.0.1:2 in via lo0", Allow, "t.conf:2"},
		},
	},
	{
		name: "interface names as addresses mean self",
		conf: "block all\npass in on en0 proto tcp to (en0) port 22\npass out on en0 from en0\n",
		cases: []pfWant{
			{"tcp 203.0.113.1:1 -> 192.0.2.1:22 in via en0 setup", Allow, "t.conf:2"},
			{"udp 192.0.2.1:1 -> 203.0.113.1:2 out via en0", Allow, "t.conf:3"},
			{"udp 192.0.2.1:1 -> 203.0.113.1:2 out via en1", Deny, "t.conf:1"},
		},
	},
	{
		name: "interfaces",
		conf: "block all\npass on en0\npass in on !en1 proto udp\npass out on { en2 en3 }\n",
		cases: []pfWant{
			{"tcp 203.0.113.1:1 -> 192.0.2.1:22 in via en0 setup", Allow, "t.conf:2"},
			{"udp 203.0.113.1:1 -> 192.0.2.1:22 in via en1", Deny, "t.conf:1"},
			{"udp 203.0.113.1:1 -> 192.0.2.1:22 in via en7", Allow, "t.conf:3"},
			{"udp 203.0.113.1:1 -> 192.0.2.1:22 in", Allow, "t.conf:3"},
			{"udp 192.0.2.1:1 -> 203.0.113.1:2 out via en3", Allow, "t.conf:4"},
			{"udp 192.0.2.1:1 -> 203.0.113.1:2 out via en4", Deny, "t.conf:1"},
		},
	},
	{
		name: "set skip",
		conf: "set skip on { lo0 en5 }\nblock all\n",
		cases: []pfWant{
			{"udp 127.0.0.1:1 -> 127.0.0.1:2 in via lo0", Allow, "t.conf:1"},
			{"udp 192.0.2.1:1 -> 203.0.113.1:2 out via en5", Allow, "t.conf:1"},
			{"udp 192.0.2.1:1 -> 203.0.113.1:2 out via en0", Deny, "t.conf:2"},
		},
	},
	{
		name: "block policy and return",
		conf: "set block-policy return\nblock in all\nblock drop in proto udp\nblock return-icmp in proto udp to port 7\nblock return-rst in proto tcp to port 9\n",
		cases: []pfWant{
			{"tcp 203.0.113.1:1 -> 192.0.2.1:22 in setup", Reject, "t.conf:2"},
			{"udp 203.0.113.1:1 -> 192.0.2.1:22 in", Deny, "t.conf:3"},
			{"udp 203.0.113.1:1 -> 192.0.2.1:7 in", Reject, "t.conf:4"},
			{"tcp 203.0.113.1:1 -> 192.0.2.1:9 in setup", Reject, "t.conf:5"},
			{"icmp 203.0.113.1 -> 192.0.2.1 in type 8", Deny, "t.conf:2"},
		},
	},
	{
		name: "inline anchor with quick inside",
		conf: "block in all\nanchor \"ssh\" in proto tcp {\n\tpass proto tcp to port 22\n\tblock quick from 192.0.2.66\n}\npass in proto tcp from 203.0.113.0/24 to port 22 no state\n",
		cases: []pfWant{
			{"tcp 192.0.2.66:1 -> 192.0.2.1:22 in setup", Deny, "t.conf:4"},
			{"tcp 192.0.2.65:1 -> 192.0.2.1:22 in setup", Allow, "t.conf:3"},
			{"tcp 203.0.113.5:1 -> 192.0.2.1:22 in established", Allow, "t.conf:6"},
			{"udp 192.0.2.65:1 -> 192.0.2.1:22 in", Deny, "t.conf:1"},
		},
	},
	{
		name: "quick anchor ends evaluation when a rule in it matched",
		conf: "block in all\nanchor \"a\" quick in {\n\tpass proto tcp\n\tblock proto tcp to port 23\n}\nblock in proto tcp to port 22\n",
		cases: []pfWant{
			{"tcp 192.0.2.65:1 -> 192.0.2.1:22 in setup", Allow, "t.conf:3"},
			{"tcp 192.0.2.65:1 -> 192.0.2.1:23 in setup", Deny, "t.conf:4"},
			{"udp 192.0.2.65:1 -> 192.0.2.1:22 in", Deny, "t.conf:1"},
		},
	},
	{
		name:  "wildcard anchors run their children in name order",
		conf:  "anchor \"x/*\"\nload anchor \"x/b\" from \"/b\"\nload anchor \"x/a\" from \"/a\"\n",
		files: map[string]string{"/a": "pass in all\n", "/b": "block in all\n"},
		cases: []pfWant{
			{"udp 192.0.2.65:1 -> 192.0.2.1:22 in", Deny, "/b:1"},
			{"udp 192.0.2.65:1 -> 192.0.2.1:22 out", Allow, "default"},
		},
	},
	{
		name:  "anchors nest, relative names, conditions on anchor rules",
		conf:  "block in all\nanchor \"outer\" on en0 {\n\tanchor \"inner\" proto udp {\n\t\tpass in proto udp to port 53\n\t}\n\tanchor \"../side\"\n}\nload anchor \"side\" from \"/side\"\n",
		files: map[string]string{"/side": "pass in proto tcp to port 80\n"},
		cases: []pfWant{
			{"udp 192.0.2.65:1 -> 192.0.2.1:53 in via en0", Allow, "t.conf:4"},
			{"udp 192.0.2.65:1 -> 192.0.2.1:53 in via en1", Deny, "t.conf:1"},
			{"tcp 192.0.2.65:1 -> 192.0.2.1:80 in via en0 setup", Allow, "/side:1"},
			{"tcp 192.0.2.65:1 -> 192.0.2.1:53 in via en0 setup", Deny, "t.conf:1"},
		},
	},
	{
		name: "macros, lists and line continuations",
		conf: "ports = \"{ 22 80 }\"\nhost1 = \"10.0.0.1\"\nhosts = \"{\" $host1 192.0.2.1 \"}\"\nblock in all\npass in proto tcp \\\n\tfrom $hosts to port $ports\n",
		cases: []pfWant{
			{"tcp 10.0.0.1:1 -> 192.0.2.9:80 in setup", Allow, "t.conf:5"},
			{"tcp 192.0.2.1:1 -> 192.0.2.9:22 in setup", Allow, "t.conf:5"},
			{"tcp 192.0.2.2:1 -> 192.0.2.9:22 in setup", Deny, "t.conf:4"},
		},
	},
	{
		name: "icmp types and codes",
		conf: "block in all\npass in inet proto icmp icmp-type echoreq\npass in inet proto icmp icmp-type unreach code needfrag\npass in inet6 proto icmp6 icmp6-type { echoreq 135 }\n",
		cases: []pfWant{
			{"icmp 203.0.113.1 -> 192.0.2.1 in type 8 code 0", Allow, "t.conf:2"},
			{"icmp 203.0.113.1 -> 192.0.2.1 in type 3 code 4", Allow, "t.conf:3"},
			{"icmp 203.0.113.1 -> 192.0.2.1 in type 3 code 1", Deny, "t.conf:1"},
			{"icmp 203.0.113.1 -> 192.0.2.1 in", Deny, "t.conf:1"},
			{"icmp6 2001:db8::1 -> 2001:db8::2 in type 135", Allow, "t.conf:4"},
			{"icmp6 2001:db8::1 -> 2001:db8::2 in type 8", Deny, "t.conf:1"},
			{"icmp 203.0.113.1 -> 192.0.2.1 in type 8 frag", Deny, "t.conf:1"},
		},
	},
	{
		name: "address families and ranges",
		conf: "block in all\npass in inet6 all\npass in from 10.0.0.5 - 10.0.0.9\npass in proto udp from 10/8 to 192.168/16 port 7\n",
		cases: []pfWant{
			{"udp 10.0.0.7:1 -> 192.0.2.1:2 in", Allow, "t.conf:3"},
			{"udp 10.0.0.10:1 -> 192.0.2.1:2 in", Deny, "t.conf:1"},
			{"udp [2001:db8::1]:1 -> [2001:db8::2]:2 in", Allow, "t.conf:2"},
		},
	},
	{
		name:  "include and ignored translation anchors",
		conf:  "rdr-anchor \"r\" {\n\trdr pass on lo0 proto tcp to port 80 -> 127.0.0.1 port 8080\n}\ninclude \"/inc\"\npass in proto tcp to port 22\n",
		files: map[string]string{"/inc": "# shared defaults\nblock in all\n"},
		cases: []pfWant{
			{"tcp 192.0.2.65:1 -> 192.0.2.1:80 in setup", Deny, "/inc:2"},
			{"tcp 192.0.2.65:1 -> 192.0.2.1:22 in setup", Allow, "t.conf:5"},
		},
	},
	{
		name: "fragments match no rule with ports",
		conf: "block in all\npass in proto udp to port 53\npass in proto udp from 192.0.2.0/24\n",
		cases: []pfWant{
			{"udp 203.0.113.1:1 -> 192.0.2.1:53 in", Allow, "t.conf:2"},
			{"udp 203.0.113.1:1 -> 192.0.2.1:53 in frag", Deny, "t.conf:1"},
			{"udp 192.0.2.5:1 -> 192.0.2.1:53 in frag", Allow, "t.conf:3"},
		},
	},
}

func TestPFEvalCases(t *testing.T) {
	for _, tt := range pfEvalTests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := ParsePF([]byte(tt.conf), "t.conf", pfMapLoader(tt.files))
			if err != nil {
				t.Fatalf("ParsePF = %v", err)
			}
			for _, c := range tt.cases {
				p := pfPkt(t, c.pkt)
				v := pfAgree(t, rs, &p)
				if v.Action != c.act || v.Where != c.where {
					t.Errorf("Eval(%s) = %s at %s (%s), want %s at %s", c.pkt, v.Action, v.Where, v.Text, c.act, c.where)
				}
			}
		})
	}
}

func TestPFPorts(t *testing.T) {
	tests := []struct {
		spec string
		yes  []uint16
		no   []uint16
	}{
		{"22", []uint16{22}, []uint16{21, 23}},
		{"ssh", []uint16{22}, []uint16{23}},
		{"= 80", []uint16{80}, []uint16{81}},
		{"!= 80", []uint16{0, 79, 81, 65535}, []uint16{80}},
		{"< 1024", []uint16{0, 1023}, []uint16{1024}},
		{"<= 1024", []uint16{1024}, []uint16{1025}},
		{"> 1024", []uint16{1025, 65535}, []uint16{1024}},
		{">= 1024", []uint16{1024}, []uint16{1023}},
		{"1000:2000", []uint16{1000, 2000}, []uint16{999, 2001}},
		{"1000 >< 2000", []uint16{1001, 1999}, []uint16{1000, 2000}},
		{"1000 <> 2000", []uint16{999, 2001}, []uint16{1000, 1500, 2000}},
		{"{ 22 80 }", []uint16{22, 80}, []uint16{23}},
		{"{ 22, https, 6000:6010 }", []uint16{22, 443, 6005}, []uint16{80}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			conf := "block in all\npass in proto tcp to port " + tt.spec + " no state\n"
			rs, err := ParsePF([]byte(conf), "t.conf", nil)
			if err != nil {
				t.Fatalf("ParsePF(%q) = %v", conf, err)
			}
			for _, port := range append(tt.yes, tt.no...) {
				want := Deny
				if pfContainsPort(tt.yes, port) {
					want = Allow
				}
				p := Packet{Proto: ProtoTCP, Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("192.0.2.2"), SrcPort: 5, DstPort: port, Dir: In, Established: true, ICMPType: -1}
				if got := pfAgree(t, rs, &p).Action; got != want {
					t.Errorf("port %s: Eval(port %d) = %s, want %s", tt.spec, port, got, want)
				}
			}
		})
	}
}

func pfContainsPort(ps []uint16, p uint16) bool {
	for _, x := range ps {
		if x == p {
			return true
		}
	}
	return false
}

var pfParseErrorTests = []struct {
	name, conf, want string
}{
	{"unknown keyword", "block in all\nfrobnicate\n", "t.conf:2: unknown keyword \"frobnicate\""},
	{"unknown rule option", "pass in on en0 frobnicate\n", "t.conf:1: \"frobnicate\" is not supported by the simulator"},
	{"line after continuation", "block in \\\n all\npass in proto tcp to port sshh\n", "t.conf:3: unknown port or service \"sshh\": not in the built-in list of common services (use the number)"},
	{"nat64", "nat64 on en0\n", "t.conf:1: \"nat64\" is not a pf statement: translate address families with the af-to option of a pass or match rule"},
	{"undefined macro", "pass from $nope\n", "t.conf:1: macro \"nope\" is not defined"},
	{"reserved macro name", "pass = \"x\"\n", "t.conf:1: bad macro name \"pass\""},
	{"icmp type without family", "pass in proto icmp icmp-type echoreq\n", "t.conf:1: must indicate address family with icmp-type/code: add inet or inet6"},
	{"icmp type on tcp", "pass in inet proto tcp icmp-type echoreq\n", "t.conf:1: icmp-type/code only applies to proto icmp"},
	{"flags on udp", "pass in proto udp flags S/SA\n", "t.conf:1: flags only apply to tcp"},
	{"flags always false", "pass in proto tcp flags SA/S\n", "t.conf:1: flags SA/S always false: SA is not within S"},
	{"return-rst on all", "block return-rst in all\n", "t.conf:1: return-rst can only be applied to TCP rules: add proto tcp"},
	{"port without proto", "pass in to port 22\n", "t.conf:1: port only applies to tcp/udp: add proto tcp or proto udp"},
	{"port with icmp in list", "pass in proto { tcp udp icmp } to port 22\n", "t.conf:1: port only applies to tcp/udp: add proto tcp or proto udp"},
	{"not an address", "pass in from 10.0.0.0/33\n", "t.conf:1: \"10.0.0.0/33\": want an address, a prefix, <table>, an interface, self, any or a host name"},
	{"interface modifier", "pass in from en0:net\n", "t.conf:1: \"en0:net\": unknown interface modifier \"net\" (want :network, :broadcast, :peer or :0)"},
	{"table twice", "table <t> { 10.0.0.0/8 }\ntable <t> { 10.0.0.1 }\n", "t.conf:2: table <t> is already defined at t.conf:1"},
	{"bad table entry", "table <t> { 10.0.0.0/8, 10.0.0.0/33 }\n", "t.conf:1: table <t>: entry \"10.0.0.0/33\": want an address, a prefix, an interface, self or a host name"},
	{"missing brace", "anchor \"a\" {\n\tpass\n", "t.conf:3: missing } at the end of an anchor block"},
	{"stray brace", "pass\n}\n", "t.conf:2: unexpected }"},
	{"unknown option", "set frobnicate 1\n", "t.conf:1: unknown option \"set frobnicate\""},
	{"families differ", "pass in from 10.0.0.1 to 2001:db8::1\n", "t.conf:1: source and destination address families differ: the rule expands to no valid combination"},
	{"inet with a v6 address", "pass in inet from 2001:db8::1\n", "t.conf:1: address 2001:db8::1 is not inet: the rule expands to no valid combination"},
	{"quick before direction", "pass quick in\n", "t.conf:1: unexpected \"in\": a rule reads pass|block, in|out, log, quick, on, inet|inet6, proto, from, to, then options"},
	{"unterminated string", "anchor \"a\nblock\n", "t.conf:1: unterminated quoted string"},
	{"load without loader", "load anchor \"a\" from \"/a\"\n", "t.conf:1: load anchor \"a\" from \"/a\": no file loader was given"},
	{"anchor loaded twice", "anchor \"a\" {\n}\nload anchor \"a\" from \"/a\"\n", "t.conf:3: load anchor \"a\": the anchor already has rules from t.conf:1"},
	{"anchor calls itself", "anchor \"a\" {\n\tanchor \"/a\"\n}\n", "t.conf:2: anchor \"a\": anchors nested deeper than 64 (does an anchor call itself?)"},
	{"empty port range", "pass in proto tcp to port 2000:1000\n", "t.conf:1: port range 2000:1000 is empty"},
	{"on any", "pass on any\n", "t.conf:1: on any is not supported: leave out \"on\" to match every interface"},
	{"state options on anchors", "anchor \"a\" keep state\n", "t.conf:1: \"keep\" is not supported on anchor rules"},
}

func TestParsePFErrors(t *testing.T) {
	for _, tt := range pfParseErrorTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePF([]byte(tt.conf), "t.conf", nil)
			if err == nil || err.Error() != tt.want {
				t.Errorf("ParsePF(%q) = %v, want %s", tt.conf, err, tt.want)
			}
			var se *PFSyntaxError
			if err != nil && !errors.As(err, &se) {
				t.Errorf("ParsePF(%q) = %T, want *PFSyntaxError", tt.conf, err)
			}
		})
	}
}

func TestParsePFLoadErrors(t *testing.T) {
	conf := "anchor \"x/*\"\nload anchor \"x/a\" from \"/etc/pf.anchors/a\"\n"
	_, err := ParsePF([]byte(conf), "pf.conf", pfMapLoader(nil))
	want := "pf.conf:2: load anchor \"x/a\" from \"/etc/pf.anchors/a\": open /etc/pf.anchors/a: file does not exist"
	if err == nil || err.Error() != want {
		t.Fatalf("ParsePF = %v, want %s", err, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(%v, fs.ErrNotExist) = false, want true", err)
	}
	_, err = ParsePF([]byte(conf), "pf.conf", pfMapLoader(map[string]string{"/etc/pf.anchors/a": "pass\nbogus\n"}))
	want = "/etc/pf.anchors/a:2: unknown keyword \"bogus\""
	if err == nil || err.Error() != want {
		t.Fatalf("ParsePF = %v, want %s", err, want)
	}
}

func TestParsePFTexts(t *testing.T) {
	conf := "ext = \"en0\"\nblock in all # default\npass in on $ext proto tcp \\\n   from any to any port { 22, 80 } # web\n"
	rs, err := ParsePF([]byte(conf), "pf.conf", nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rs.rules {
		got = append(got, r.f.where+" "+r.f.text)
	}
	want := []string{"pf.conf:2 block in all", "pf.conf:3 pass in on $ext proto tcp from any to any port { 22, 80 }"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rule texts (-want +got):\n%s", diff)
	}
}

func TestPFStockMacOS(t *testing.T) {
	rs := pfLoadRoot(t, "macos-stock")
	if rs.Len() != 0 {
		t.Errorf("stock pf.conf: Len() = %d, want 0 (the anchors hold no rules)", rs.Len())
	}
	want := []string{
		"/etc/pf.conf:22: scrub-anchor \"com.apple/*\" (ignored: not a filter anchor)",
		"/etc/pf.conf:23: nat-anchor \"com.apple/*\" (ignored: its rules are loaded at run time)",
		"/etc/pf.conf:24: rdr-anchor \"com.apple/*\" (ignored: its rules are loaded at run time)",
		"/etc/pf.conf:25: dummynet-anchor \"com.apple/*\" (ignored: not a filter anchor)",
	}
	if diff := cmp.Diff(want, rs.Ignored()); diff != "" {
		t.Errorf("Ignored() (-want +got):\n%s", diff)
	}
	var paths []string
	for _, c := range rs.children("com.apple") {
		paths = append(paths, c.path)
	}
	if diff := cmp.Diff([]string{"com.apple/200.AirDrop", "com.apple/250.ApplicationFirewall"}, paths); diff != "" {
		t.Errorf("anchors below com.apple (-want +got):\n%s", diff)
	}
	r := rand.New(rand.NewPCG(7, 7))
	for range 200 {
		p := pfRandomPacket(r)
		if v := pfAgree(t, rs, &p); v.Action != Allow || v.Where != "default" {
			t.Errorf("Eval(%s) = %+v, want allow by default", p, v)
		}
	}
	if !LooksLikePF([]byte(pfReadFile(t, "testdata/pf/macos-stock/etc/pf.conf"))) {
		t.Errorf("LooksLikePF(stock pf.conf) = false, want true")
	}
}

// checkGolden compares got with the golden file path (rewriting it first with -update); what
// names the output in the failure.
func checkGolden(t *testing.T, path, got, what string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(pfReadFile(t, path), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}

func pfReadFile(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLooksLikePF(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"block in all\n", true},
		{"  # comment\n\tpass out keep state\n", true},
		{"set skip on lo0\n", true},
		{"load anchor \"a\" from \"/b\"\n", true},
		{"00100 allow ip from any to any via lo0\n65535 deny ip from any to any\n", false},
		{"add 100 allow tcp from any to me 22\n", false},
		{"table 1 add 192.0.2.1\n", false},
		{"table <bans> persist\n", true},
		{"", false},
	}
	for _, tt := range tests {
		if got := LooksLikePF([]byte(tt.in)); got != tt.want {
			t.Errorf("LooksLikePF(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// The hardening rule set with packets a reviewer can check by reading pf.conf.
var pfHardeningCases = []pfWant{
	{"tcp 203.0.113.5:51234 -> 192.168.1.10:22 in via en0 setup", Deny, "/etc/pf.conf:29"},
	{"tcp 10.1.2.3:51234 -> 192.168.1.10:22 in via en0 setup", Allow, "/etc/pf.conf:38"},
	{"tcp 10.1.2.3:51234 -> 192.168.1.10:5900 in via en0 setup", Allow, "/etc/pf.conf:38"},
	{"tcp 10.1.2.3:51234 -> 192.168.1.10:22 in via en1 setup", Deny, "/etc/pf.conf:29"},
	{"tcp 10.1.2.3:51234 -> 192.168.1.10:22 in via en0 established", Allow, "/etc/pf.conf:38"},
	{"tcp 192.0.2.7:51234 -> 192.168.1.10:22 in via en0 setup", Allow, "/etc/pf.conf:39"},
	{"tcp 192.0.2.66:51234 -> 192.168.1.10:22 in via en0 setup", Deny, "/etc/pf.conf:29"},
	{"tcp [2001:db8:100::5]:5000 -> [2001:db8::10]:22 in via en0 setup", Allow, "/etc/pf.conf:39"},
	{"tcp 198.51.100.23:40000 -> 192.168.1.10:22 in via en0 setup", Deny, "/etc/pf.anchors/firewarden:3"},
	{"tcp 198.51.100.24:40000 -> 192.168.1.10:22 in via en0 setup", Allow, "/etc/pf.conf:38"},
	{"udp [2001:db8:bad::7]:53 -> [2001:db8::10]:5353 in via en0", Deny, "/etc/pf.anchors/firewarden:3"},
	{"tcp 192.168.1.10:50000 -> 93.184.216.34:443 out via en0 setup", Allow, "/etc/pf.conf:30"},
	{"tcp 93.184.216.34:443 -> 192.168.1.10:50000 in via en0 established", Allow, "/etc/pf.conf:30"},
	{"tcp 93.184.216.34:443 -> 192.168.1.10:50000 in via en0 setup", Deny, "/etc/pf.conf:29"},
	{"icmp 203.0.113.5 -> 192.168.1.10 in via en0 type 8 code 0", Allow, "/etc/pf.conf:33"},
	{"icmp 203.0.113.5 -> 192.168.1.10 in via en0 type 13", Deny, "/etc/pf.conf:29"},
	{"icmp6 2001:db8::1 -> 2001:db8::10 in via en0 type 2", Allow, "/etc/pf.conf:34"},
	{"udp 192.168.1.1:67 -> 255.255.255.255:68 in via en1", Allow, "/etc/pf.conf:42"},
	{"udp 192.168.1.20:5353 -> 224.0.0.251:5353 in via en1", Allow, "/etc/pf.conf:43"},
	{"tcp 10.8.0.1:40000 -> 10.8.0.2:8080 in via utun3 setup", Allow, "/etc/pf.conf:46"},
	{"tcp 10.8.0.1:40000 -> 10.8.0.2:8100 in via utun3 setup", Deny, "/etc/pf.conf:29"},
	{"tcp 203.0.113.5:4000 -> 192.168.1.10:445 in via en0 setup", Reject, "/etc/pf.conf:49"},
	{"udp 203.0.113.5:4000 -> 192.168.1.10:445 in via en0", Deny, "/etc/pf.conf:29"},
	{"tcp 127.0.0.1:5000 -> 127.0.0.1:6000 in via lo0 setup", Allow, "/etc/pf.conf:17"},
}

func TestPFHardening(t *testing.T) {
	rs := pfLoadRoot(t, "hardening")
	for _, c := range pfHardeningCases {
		p := pfPkt(t, c.pkt)
		v := pfAgree(t, rs, &p)
		if v.Action != c.act || v.Where != c.where {
			t.Errorf("Eval(%s) = %s at %s (%s), want %s at %s", c.pkt, v.Action, v.Where, v.Text, c.act, c.where)
		}
	}
	if got := rs.Lint(); len(got) != 0 {
		t.Errorf("Lint(hardening) = %+v, want no findings", got)
	}
}

func TestPFExplainGolden(t *testing.T) {
	rs := pfLoadRoot(t, "hardening")
	var b strings.Builder
	for _, c := range pfHardeningCases {
		p := pfPkt(t, c.pkt)
		v, steps := rs.Explain(&p)
		fmt.Fprintf(&b, "== %s\n", c.pkt)
		for _, s := range steps {
			mark := " "
			if s.Matched {
				mark = "*"
			}
			fmt.Fprintf(&b, "%s %s  %s\n      %s\n", mark, s.Where, s.Text, s.Why)
		}
		fmt.Fprintf(&b, "=> %s by %s: %s\n\n", v.Action, v.Where, v.Text)
		if ev := rs.Eval(&p); ev != v {
			t.Errorf("Explain(%s) verdict = %+v, Eval = %+v", c.pkt, v, ev)
		}
	}
	checkGolden(t, "testdata/pf/explain.golden", b.String(), "Explain traces")
}

// pfBenchConf generates a realistic 1,000-rule pf.conf: stock anchors, tables of trusted
// networks, partners and bans, default blocks, stateful outbound, per-interface service rules for
// both families, quick blocks, port ranges, ICMP, and a few inline anchors.
func pfBenchConf() string { return pfScaleConf(1000) }

// pfScaleConf is pfBenchConf with total filter rules.
func pfScaleConf(total int) string {
	r := rand.New(rand.NewPCG(2026, 1))
	var b strings.Builder
	v4 := func(bits int) string {
		a := netip.AddrFrom4([4]byte{byte(r.IntN(223) + 1), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
		return netip.PrefixFrom(a, bits).Masked().String()
	}
	v6 := func(bits int) string {
		var x [16]byte
		x[0], x[1], x[2], x[3] = 0x20, 0x01, 0x0d, 0xb8
		for i := 4; i < 8; i++ {
			x[i] = byte(r.IntN(256))
		}
		return netip.PrefixFrom(netip.AddrFrom16(x), bits).Masked().String()
	}
	list := func(n int, f func() string) string {
		var s []string
		for range n {
			s = append(s, f())
		}
		return strings.Join(s, ", ")
	}
	fmt.Fprintf(&b, "# Generated by pfBenchConf (internal/rules/pf_test.go) for BenchmarkPFEval; do not edit.\n\n")
	fmt.Fprintf(&b, "ext_if = \"en0\"\nwifi_if = \"en1\"\nvpn_if = \"utun0\"\nbridge_if = \"bridge100\"\n")
	fmt.Fprintf(&b, "web = \"{ http, https, 8080 }\"\n\n")
	fmt.Fprintf(&b, "table <trusted> const { %s }\n", list(24, func() string { return v4(8 + r.IntN(17)) }))
	fmt.Fprintf(&b, "table <partners> { %s, %s }\n", list(60, func() string { return v4(16 + r.IntN(9)) }), list(10, func() string { return v6(48) }))
	fmt.Fprintf(&b, "table <bans> persist { %s, %s }\n\n", list(400, func() string { return v4(32) }), list(40, func() string { return v6(64) }))
	fmt.Fprintf(&b, "set skip on lo0\nset block-policy drop\n\n")
	fmt.Fprintf(&b, "scrub-anchor \"com.apple/*\"\nnat-anchor \"com.apple/*\"\nrdr-anchor \"com.apple/*\"\ndummynet-anchor \"com.apple/*\"\nanchor \"com.apple/*\"\n\n")
	fmt.Fprintf(&b, "block in all\nblock in quick from <bans>\npass out all keep state\n")
	n := 3
	ifs := []string{"$ext_if", "$wifi_if", "$vpn_if", "$bridge_if"}
	for n < total {
		ifc := ifs[r.IntN(len(ifs))]
		switch k := r.IntN(20); {
		case k < 6:
			fmt.Fprintf(&b, "pass in on %s proto tcp from %s to any port %d\n", ifc, v4(16+r.IntN(9)), 1+r.IntN(10000))
		case k < 8:
			fmt.Fprintf(&b, "block in quick on %s proto udp from %s to any port %d:%d\n", ifc, v4(20+r.IntN(13)), 2000+r.IntN(1000), 3000+r.IntN(3000))
		case k < 10:
			fmt.Fprintf(&b, "pass in inet6 proto tcp from %s to any port %d\n", v6(48+r.IntN(17)), 1+r.IntN(10000))
		case k < 11:
			fmt.Fprintf(&b, "block return in proto tcp from <partners> to any port %d\n", 1+r.IntN(1024))
		case k < 12:
			fmt.Fprintf(&b, "pass out on %s proto udp to %s port domain keep state\n", ifc, v4(24))
		case k < 13:
			fmt.Fprintf(&b, "pass in on %s inet proto icmp from %s icmp-type { echoreq, unreach }\n", ifc, v4(16))
		case k < 14:
			fmt.Fprintf(&b, "pass in quick on %s proto tcp from <trusted> to self port $web\n", ifc)
		case k < 15:
			fmt.Fprintf(&b, "block in log on %s from %s to any\n", ifc, v4(12+r.IntN(12)))
		case k < 16 && n < total-20:
			fmt.Fprintf(&b, "anchor \"svc%d\" in on %s proto tcp {\n", n, ifc)
			for range 10 {
				fmt.Fprintf(&b, "\tpass proto tcp from %s to port %d\n", v4(16+r.IntN(9)), 1+r.IntN(65535))
				n++
			}
			fmt.Fprintf(&b, "\tblock quick from %s\n}\n", v4(24))
		case k < 18:
			fmt.Fprintf(&b, "pass in on %s proto udp from any to any port { %d, %d, %d } keep state\n", ifc, 1+r.IntN(60000), 1+r.IntN(60000), 1+r.IntN(60000))
		default:
			fmt.Fprintf(&b, "block in on %s proto tcp from ! %s to any port < %d\n", ifc, v4(8), 1+r.IntN(1024))
		}
		n++
	}
	return b.String()
}

func TestPFBenchFile(t *testing.T) {
	const name = "testdata/pf/bench/pf.conf"
	got := pfBenchConf()
	if pfUpdating() {
		if err := os.WriteFile(name, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := pfReadFile(t, name); want != got {
		t.Errorf("%s is not what pfBenchConf generates; run go test -run TestPFBenchFile -update", name)
	}
	rs := pfBench(t)
	if rs.Len() != 1000 {
		t.Errorf("bench rule set: Len() = %d, want 1000", rs.Len())
	}
	for _, p := range pfBenchPackets() {
		pfAgree(t, rs, &p)
	}
}

func pfBench(t testing.TB) *PFRuleset {
	t.Helper()
	data := pfReadFile(t, "testdata/pf/bench/pf.conf")
	rs, err := ParsePF([]byte(data), "pf.conf", nil)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// pfBenchPackets is a mix of traffic: inbound and outbound, TCP opening and established, UDP,
// ICMP, both families, on the interfaces the bench rule set names.
func pfBenchPackets() []Packet {
	r := rand.New(rand.NewPCG(3, 4))
	out := make([]Packet, 0, 256)
	for len(out) < 256 {
		p := pfRandomPacket(r)
		if p.Proto == 47 || p.Proto == 0 {
			p.Proto = ProtoTCP
		}
		if p.Proto == ProtoTCP && !p.Setup && !p.Established {
			p.Established = true
		}
		out = append(out, p)
	}
	return out
}

func TestPFEvalNoAllocs(t *testing.T) {
	// The bench rule set also in classifier blocks of 128 rules, for the path of large sets.
	blocks, err := parsePF(context.Background(), []byte(pfReadFile(t, "testdata/pf/bench/pf.conf")), "pf.conf", nil, 128)
	if err != nil {
		t.Fatal(err)
	}
	for _, rs := range []*PFRuleset{pfBench(t), pfLoadRoot(t, "hardening"), blocks} {
		pkts := pfBenchPackets()
		for _, c := range pfHardeningCases {
			pkts = append(pkts, pfPkt(t, c.pkt))
		}
		i := 0
		allocs := testing.AllocsPerRun(1000, func() {
			rs.Eval(&pkts[i%len(pkts)])
			i++
		})
		if allocs != 0 {
			t.Errorf("Eval allocates %v times per call, want 0", allocs)
		}
	}
}

func BenchmarkPFEval(b *testing.B) {
	rs := pfBench(b)
	pkts := pfBenchPackets()
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		rs.Eval(&pkts[i&255])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "evals/s")
}

func BenchmarkPFEvalReference(b *testing.B) {
	rs := pfBench(b)
	pkts := pfBenchPackets()
	i := 0
	for b.Loop() {
		rs.pfEvalReference(&pkts[i&255])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "evals/s")
}

// BenchmarkPFCompile parses and compiles generated rule sets of 10,000 and 100,000 rules and
// reports the bytes allocated per rule, which stays flat as the rule set grows (TestPFCompileLinear
// asserts it).
func BenchmarkPFCompile(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		data := []byte(pfScaleConf(n))
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParsePF(data, "pf.conf", nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(pfAllocBytes(b, data))/float64(n), "B/rule")
		})
	}
}

// BenchmarkPFLintScale lints generated rule sets of 10,000 and 100,000 rules.
func BenchmarkPFLintScale(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		rs, err := ParsePF([]byte(pfScaleConf(n)), "pf.conf", nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			for b.Loop() {
				rs.Lint()
			}
		})
	}
}

// pfAllocBytes is the bytes ParsePF allocates for data.
func pfAllocBytes(t testing.TB, data []byte) uint64 {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rs, err := ParsePF(data, "pf.conf", nil)
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(rs)
	return after.TotalAlloc - before.TotalAlloc
}

// TestPFCompileLinear checks that compiling grows linearly with the rule set: four times the
// rules may cost a little more than four times the bytes (tables and their indexes are not
// exactly proportional), far from the sixteen times of a cost in rules squared.
func TestPFCompileLinear(t *testing.T) {
	const n = 5_000 // more than two classifier blocks
	small := pfAllocBytes(t, []byte(pfScaleConf(n)))
	large := pfAllocBytes(t, []byte(pfScaleConf(4*n)))
	if ratio := float64(large) / float64(small); ratio > 6 {
		t.Errorf("ParsePF allocates %d bytes for %d rules and %d for %d: %.1f times, want at most 6 (linear growth)", small, n, large, 4*n, ratio)
	}
}

func BenchmarkParsePF(b *testing.B) {
	data := []byte(pfReadFile(b, "testdata/pf/bench/pf.conf"))
	for b.Loop() {
		if _, err := ParsePF(data, "pf.conf", nil); err != nil {
			b.Fatal(err)
		}
	}
}

// pfLargeTableConf is a ban table of n addresses that many rules use, as a busy adaptive firewall
// would keep it.
func pfLargeTableConf(n, users int) (string, []netip.Addr) {
	r := rand.New(rand.NewPCG(5, 6))
	var b strings.Builder
	var bans []netip.Addr
	b.WriteString("table <bans> persist {")
	for i := range n {
		a := netip.AddrFrom4([4]byte{byte(1 + r.IntN(223)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
		if i%10 == 0 {
			b.WriteString(" !" + a.String() + ",")
			continue
		}
		bans = append(bans, a)
		b.WriteString(" " + a.String() + ",")
	}
	b.WriteString(" 2001:db8:bad::/48 }\nblock in all\npass out all\n")
	for i := range users {
		fmt.Fprintf(&b, "block in quick on en%d proto tcp from <bans> to any port %d\n", i%4, 1+i)
		fmt.Fprintf(&b, "pass in on en%d proto tcp from ! <bans> to any port %d\n", i%4, 1+i)
	}
	return b.String(), bans
}

func TestPFLargeTable(t *testing.T) {
	conf, bans := pfLargeTableConf(20000, 300)
	rs, err := ParsePF([]byte(conf), "pf.conf", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range bans[:200] {
		p := Packet{Proto: ProtoTCP, Src: a, Dst: netip.MustParseAddr("192.0.2.1"), SrcPort: 40000, DstPort: uint16(1 + i%300), Dir: In, Iface: fmt.Sprintf("en%d", i%300%4), Setup: true, ICMPType: -1}
		if v := pfAgree(t, rs, &p); v.Action != Deny || v.Rule != 2+2*(i%300) {
			t.Errorf("Eval(%s) = %+v, want deny by the ban rule", p, v)
		}
	}
	if n := len(rs.Lint()); n != 0 {
		t.Errorf("Lint(large table) = %d findings, want 0", n)
	}
}

func BenchmarkParsePFLargeTable(b *testing.B) {
	conf, _ := pfLargeTableConf(20000, 300)
	for b.Loop() {
		if _, err := ParsePF([]byte(conf), "pf.conf", nil); err != nil {
			b.Fatal(err)
		}
	}
}

// A table file is not pf syntax: when ParsePF cannot read an entry of it, the error names the
// file, the line and the table, and never repeats what the line holds (root may be asked to read
// a rule set whose table names /etc/shadow).
func TestParsePFTableFileErrorsDoNotEcho(t *testing.T) {
	secret := "root:$6$c2VjcmV0:19000:0:99999:7:::"
	tests := []struct {
		name, file, want string
	}{
		{"not an address", "192.0.2.1\n" + secret + "\n", "/etc/shadow:2: table <t>: an entry is not an address, a prefix, an interface, self or a host name"},
		{"bad modifier", "# c\n\nen0:nett\n", "/etc/shadow:3: table <t>: an entry is not an address, a prefix, an interface, self or a host name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := "table <t> file \"/etc/shadow\"\nblock in from <t>\n"
			_, err := ParsePF([]byte(conf), "pf.conf", pfMapLoader(map[string]string{"/etc/shadow": tt.file}))
			if err == nil || err.Error() != tt.want {
				t.Fatalf("ParsePF(table file %q) = %v, want %s", tt.file, err, tt.want)
			}
			for _, f := range strings.Fields(tt.file) {
				if f != "#" && strings.Contains(err.Error(), f) && !strings.Contains(tt.want, f) {
					t.Errorf("ParsePF error %q repeats the table file's %q", err, f)
				}
			}
		})
	}
}

// pfMacroConf is rules lines that each name a macro of addrs hosts and one of ports ports.
func pfMacroConf(rules, addrs, ports int) string {
	var b strings.Builder
	b.WriteString("hosts = \"{")
	for i := range addrs {
		fmt.Fprintf(&b, " 10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
	}
	b.WriteString(" }\"\nports = \"{")
	for i := range ports {
		fmt.Fprintf(&b, " %d", 1+i)
	}
	b.WriteString(" }\"\nblock in all\n")
	for i := range rules {
		fmt.Fprintf(&b, "pass in on en%d proto tcp from $hosts to any port $ports\n", i%4)
	}
	return b.String()
}

// A rule set whose lists multiply out past what pfctl could load is refused at the rule that
// crosses the cap, before anything of its size is built.
func TestPFExpansionCap(t *testing.T) {
	tests := []struct {
		name                string
		rules, addrs, ports int
		want                string
	}{
		{"5000 hosts times 9999 ports", 300, 5000, 9999, "m.conf:4: the rule set stands for more than 1000000 rules once pfctl multiplies out its lists (one rule per combination of interfaces, protocols, addresses and ports): put long address lists in a table"},
		{"lines add up", 300, 1000, 5, "m.conf:203: the rule set stands for more than 1000000 rules once pfctl multiplies out its lists (one rule per combination of interfaces, protocols, addresses and ports): put long address lists in a table"},
		{"within the cap", 100, 1000, 5, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := pfMacroConf(tt.rules, tt.addrs, tt.ports)
			rs, err := ParsePF([]byte(conf), "m.conf", nil)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Fatalf("ParsePF(%d rules, %d hosts, %d ports) = %q, want %q", tt.rules, tt.addrs, tt.ports, got, tt.want)
			}
			if err != nil {
				return
			}
			for _, s := range []string{"tcp 10.0.3.231:40000 -> 192.0.2.1:5 in via en1 setup", "tcp 10.0.3.232:40000 -> 192.0.2.1:5 in via en1 setup", "tcp 10.0.0.0:40000 -> 192.0.2.1:2 in via en2 setup"} {
				p := pfPkt(t, s)
				pfAgree(t, rs, &p)
			}
		})
	}
}

// A done context stops parsing, compiling and linting with ctx.Err(), also inside one huge
// statement (a table of many entries).
func TestContextCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var table strings.Builder
	table.WriteString("table <big> {")
	for i := range 3 * pfCheckEvery {
		fmt.Fprintf(&table, " 10.%d.%d.1", i>>8&255, i&255)
	}
	table.WriteString(" }\nblock in from <big>\n")
	rs, err := ParsePF([]byte(pfScaleConf(3000)), "pf.conf", nil)
	if err != nil {
		t.Fatal(err)
	}
	ipfwData := []byte(ipfwScaleList(3 * ipfwCheckEvery))
	ipfw, err := ParseIPFW(ipfwData, "x", builtinServices)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		run  func() error
	}{
		{"ParsePFContext", func() error {
			_, err := ParsePFContext(ctx, []byte(pfScaleConf(3*pfCheckEvery)), "pf.conf", nil)
			return err
		}},
		{"ParsePFContext one table", func() error { _, err := ParsePFContext(ctx, []byte(table.String()), "pf.conf", nil); return err }},
		{"PFRuleset.LintContext", func() error { _, err := rs.LintContext(ctx); return err }},
		{"ParseIPFWContext", func() error { _, err := ParseIPFWContext(ctx, ipfwData, "x", builtinServices); return err }},
		{"IPFWRuleset.CompileContext", func() error { return ipfw.CompileContext(ctx) }},
		{"IPFWRuleset.LintContext", func() error { _, err := ipfw.LintContext(ctx, LintOptions{}); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); !errors.Is(err, context.Canceled) {
				t.Errorf("%s(canceled context) = %v, want context.Canceled", tt.name, err)
			}
		})
	}
}
