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

// pfTranslateCase is a rule set that translates, a packet, its fate as pf.conf(5) describes it,
// and the packet as pf passes it on.
type pfTranslateCase struct {
	name    string
	conf    string
	files   map[string]string
	opts    PFOptions
	pkt     string
	act     Action
	where   string // the deciding rule; "default" for pf's default pass
	out     string // the translated packet; "" when nothing translates it
	dialect string
	notes   []string
}

var pfTranslateCases = []pfTranslateCase{
	{
		name:    "rdr: the filter rules see the translated destination",
		conf:    "rdr on en0 proto tcp from any to 192.0.2.10 port 80 -> 10.0.0.5 port 8080\nblock in all\npass in on en0 proto tcp to 10.0.0.5 port 8080\n",
		pkt:     "tcp 203.0.113.5:51234 -> 192.0.2.10:80 in via en0 setup",
		act:     Allow,
		where:   "pf.conf:3",
		out:     "tcp 203.0.113.5:51234 -> 10.0.0.5:8080 in via en0 setup",
		dialect: PFDialectMacOS,
	},
	{
		name:    "rdr: a filter rule on the original destination no longer matches",
		conf:    "rdr on en0 proto tcp from any to 192.0.2.10 port 80 -> 10.0.0.5 port 8080\nblock in all\npass in on en0 proto tcp to 192.0.2.10 port 80\n",
		pkt:     "tcp 203.0.113.5:51234 -> 192.0.2.10:80 in via en0 setup",
		act:     Deny,
		where:   "pf.conf:2",
		out:     "tcp 203.0.113.5:51234 -> 10.0.0.5:8080 in via en0 setup",
		dialect: PFDialectMacOS,
	},
	{
		name:    "an established packet of a redirected connection passes on its state",
		conf:    "rdr on en0 proto tcp from any to 192.0.2.10 port 80 -> 10.0.0.5 port 8080\nblock all\npass in on en0 proto tcp to 10.0.0.5 port 8080\n",
		pkt:     "tcp 203.0.113.5:51234 -> 192.0.2.10:80 in via en0 established",
		act:     Allow,
		where:   "pf.conf:3",
		out:     "tcp 203.0.113.5:51234 -> 10.0.0.5:8080 in via en0 established",
		dialect: PFDialectMacOS,
	},
	{
		name:    "the server's reply, as it leaves translated back, passes on the same state",
		conf:    "rdr on en0 proto tcp from any to 192.0.2.10 port 80 -> 10.0.0.5 port 8080\nblock all\npass in on en0 proto tcp to 10.0.0.5 port 8080\n",
		pkt:     "tcp 192.0.2.10:80 -> 203.0.113.5:51234 out via en0 reply",
		act:     Allow,
		where:   "pf.conf:3",
		dialect: PFDialectMacOS,
	},
	{
		name:    "the server's reply, from the inside address, passes on the same state",
		conf:    "rdr on en0 proto tcp from any to 192.0.2.10 port 80 -> 10.0.0.5 port 8080\nblock all\npass in on en0 proto tcp to 10.0.0.5 port 8080\n",
		pkt:     "tcp 10.0.0.5:8080 -> 203.0.113.5:51234 out via en0 reply",
		act:     Allow,
		where:   "pf.conf:3",
		dialect: PFDialectMacOS,
	},
	{
		name:    "rdr pass skips the filter rules",
		conf:    "rdr pass on en0 proto tcp to port 80 -> 10.0.0.5\nblock all\n",
		pkt:     "tcp 203.0.113.5:51234 -> 192.0.2.10:80 in via en0 setup",
		act:     Allow,
		where:   "pf.conf:1",
		out:     "tcp 203.0.113.5:51234 -> 10.0.0.5:80 in via en0 setup",
		dialect: PFDialectMacOS,
	},
	{
		name:    "rdr applies to inbound packets only",
		conf:    "rdr on en0 proto tcp to port 80 -> 10.0.0.5\nblock out all\npass out proto tcp to 192.0.2.99 port 80\n",
		pkt:     "tcp 192.0.2.10:51234 -> 192.0.2.99:80 out via en0 setup",
		act:     Allow,
		where:   "pf.conf:3",
		dialect: PFDialectMacOS,
	},
	{
		name:    "no rdr exempts, and the first matching rdr decides",
		conf:    "no rdr on en0 proto tcp from 203.0.113.5 to port 80\nrdr on en0 proto tcp to port 80 -> 10.0.0.5\nblock in all\npass in proto tcp to 192.0.2.10 port 80\n",
		pkt:     "tcp 203.0.113.5:51234 -> 192.0.2.10:80 in via en0 setup",
		act:     Allow,
		where:   "pf.conf:4",
		dialect: PFDialectMacOS,
	},
	{
		name:    "the first matching rdr decides, not the last",
		conf:    "rdr on en0 proto tcp to port 80 -> 10.0.0.5\nrdr on en0 proto tcp to port 80 -> 10.0.0.6\nblock in all\npass in proto tcp to 10.0.0.5 port 80\n",
		pkt:     "tcp 203.0.113.5:51234 -> 192.0.2.10:80 in via en0 setup",
		act:     Allow,
		where:   "pf.conf:4",
		out:     "tcp 203.0.113.5:51234 -> 10.0.0.5:80 in via en0 setup",
		dialect: PFDialectMacOS,
	},
	{
		name:    "rdr maps a port range with :*",
		conf:    "rdr on en0 proto tcp to port 2000:2999 -> 10.0.0.5 port 4000:*\nblock in all\npass in proto tcp to 10.0.0.5 port 4005\n",
		pkt:     "tcp 203.0.113.5:51234 -> 192.0.2.10:2005 in via en0 setup",
		act:     Allow,
		where:   "pf.conf:3",
		out:     "tcp 203.0.113.5:51234 -> 10.0.0.5:4005 in via en0 setup",
		dialect: PFDialectMacOS,
	},
	{
		name:    "nat: the filter rules see the translated source",
		conf:    "nat on en0 from 10.0.0.0/24 to any -> 192.0.2.10\nblock out all\npass out on en0 from 192.0.2.10 to any\n",
		pkt:     "tcp 10.0.0.5:50000 -> 93.184.216.34:443 out via en0 setup",
		act:     Allow,
		where:   "pf.conf:3",
		out:     "tcp 192.0.2.10:50000 -> 93.184.216.34:443 out via en0 setup",
		dialect: PFDialectMacOS,
	},
	{
		name:    "nat to an interface uses its address",
		conf:    "ext_if = \"en0\"\nnat on $ext_if from 10.0.0.0/24 to any -> ($ext_if) static-port\nblock out all\npass out on en0 from 192.0.2.10\n",
		opts:    pfEn0,
		pkt:     "udp 10.0.0.5:5353 -> 93.184.216.34:53 out via en0",
		act:     Allow,
		where:   "pf.conf:4",
		out:     "udp 192.0.2.10:5353 -> 93.184.216.34:53 out via en0",
		dialect: PFDialectMacOS,
	},
	{
		name:    "nat to an interface whose address is not given is a note",
		conf:    "nat on en0 from 10.0.0.0/24 to any -> (en0)\nblock out all\npass out on en0 from 10.0.0.0/24\n",
		pkt:     "udp 10.0.0.5:5353 -> 93.184.216.34:53 out via en0",
		act:     Allow,
		where:   "pf.conf:3",
		dialect: PFDialectMacOS,
		notes:   []string{"pf.conf:1: nat on en0 from 10.0.0.0/24 to any -> (en0): the address of en0 is not known, so the translation to it is not simulated (give --iface en0=ADDR/LEN)"},
	},
	{
		name:    "binat maps inbound packets to the inside address",
		conf:    "binat on en0 from 10.0.0.5 to any -> 192.0.2.20\nblock all\npass in on en0 proto tcp to 10.0.0.5 port 22\n",
		pkt:     "tcp 203.0.113.5:51234 -> 192.0.2.20:22 in via en0 setup",
		act:     Allow,
		where:   "pf.conf:3",
		out:     "tcp 203.0.113.5:51234 -> 10.0.0.5:22 in via en0 setup",
		dialect: PFDialectMacOS,
	},
	{
		name:    "binat maps a network bit for bit, ports untouched",
		conf:    "binat on en0 from 10.0.0.0/24 to any -> 192.0.2.0/24\nblock all\npass out on en0 from 192.0.2.7\n",
		pkt:     "tcp 10.0.0.7:50000 -> 93.184.216.34:443 out via en0 setup",
		act:     Allow,
		where:   "pf.conf:3",
		out:     "tcp 192.0.2.7:50000 -> 93.184.216.34:443 out via en0 setup",
		dialect: PFDialectMacOS,
	},
	{
		name:    "a reply passes on the state of the translated connection",
		conf:    "nat on en0 from 10.0.0.0/24 -> 192.0.2.10\nblock all\npass out on en0 proto tcp from 192.0.2.10 keep state\n",
		pkt:     "tcp 93.184.216.34:443 -> 192.0.2.10:50000 in via en0 established",
		act:     Allow,
		where:   "pf.conf:3",
		dialect: PFDialectMacOS,
	},
	{
		name:    "a reply to the inside address passes on the same state",
		conf:    "nat on en0 from 10.0.0.0/24 -> 192.0.2.10\nblock all\npass out on en0 proto tcp from 192.0.2.10 keep state\n",
		pkt:     "tcp 93.184.216.34:443 -> 10.0.0.5:50000 in via en0 established",
		act:     Allow,
		where:   "pf.conf:3",
		dialect: PFDialectMacOS,
	},
	{
		name:    "nat pass creates state for the replies",
		conf:    "nat pass on en0 from 10.0.0.0/24 -> 192.0.2.10\nblock all\n",
		pkt:     "udp 93.184.216.34:53 -> 10.0.0.5:5353 in via en0 reply",
		act:     Allow,
		where:   "pf.conf:1",
		dialect: PFDialectMacOS,
	},
	{
		name:    "rules in a nat-anchor block translate",
		conf:    "nat-anchor \"n\" {\n nat on en0 from 10.0.0.0/24 -> 192.0.2.10\n}\nblock out all\npass out from 192.0.2.10\n",
		pkt:     "tcp 10.0.0.5:50000 -> 93.184.216.34:443 out via en0 setup",
		act:     Allow,
		where:   "pf.conf:5",
		out:     "tcp 192.0.2.10:50000 -> 93.184.216.34:443 out via en0 setup",
		dialect: PFDialectMacOS,
	},
	{
		name:    "rdr rules of a loaded anchor translate through rdr-anchor",
		conf:    "rdr-anchor \"fw/*\"\nanchor \"fw/*\"\nload anchor \"fw/web\" from \"/web\"\n",
		files:   map[string]string{"/web": "rdr on en0 proto tcp to port 80 -> 10.0.0.5 port 8080\nblock in all\npass in proto tcp to 10.0.0.5 port 8080\n"},
		pkt:     "tcp 203.0.113.5:51234 -> 192.0.2.10:80 in via en0 setup",
		act:     Allow,
		where:   "/web:3",
		out:     "tcp 203.0.113.5:51234 -> 10.0.0.5:8080 in via en0 setup",
		dialect: PFDialectMacOS,
	},
	{
		name:    "ports on a nat rule without proto (as pfSense writes) match UDP",
		conf:    "nat on en0 from { 127.0.0.0/8 192.168.1.0/24 } to any port 500 -> 192.168.10.72/32 static-port\nblock out all\npass out from 192.168.10.72\n",
		pkt:     "udp 192.168.1.5:500 -> 198.51.100.7:500 out via en0",
		act:     Allow,
		where:   "pf.conf:3",
		out:     "udp 192.168.10.72:500 -> 198.51.100.7:500 out via en0",
		dialect: PFDialectMacOS,
	},
	{
		name:    "no nat proto carp exempts CARP",
		conf:    "no nat proto carp\nnat on en0 from any to any -> 192.0.2.10\nblock out all\npass out proto carp from 10.0.0.5\n",
		pkt:     "112 10.0.0.5 -> 224.0.0.18 out via en0",
		act:     Allow,
		where:   "pf.conf:4",
		dialect: PFDialectMacOS,
	},
	{
		name:    "nat pass to an interface group's address",
		conf:    "nat pass on egress from 10.0.0.0/24 to any -> (egress:0)\nblock all\n",
		opts:    PFOptions{Ifaces: pfEn0.Ifaces, Groups: map[string][]string{"egress": {"en0"}}},
		pkt:     "tcp 10.0.0.5:50000 -> 93.184.216.34:443 out via en0 setup",
		act:     Allow,
		where:   "pf.conf:1",
		out:     "tcp 192.0.2.10:50000 -> 93.184.216.34:443 out via en0 setup",
		dialect: PFDialectMacOS,
	},
	{
		name:    "a translation rule in an anchor no nat-anchor calls is never evaluated",
		conf:    "anchor \"x\" {\n nat on en0 from 10.0.0.0/24 -> 192.0.2.10\n pass out from 10.0.0.0/24\n}\nblock out all\n",
		pkt:     "tcp 10.0.0.5:50000 -> 93.184.216.34:443 out via en0 setup",
		act:     Deny,
		where:   "pf.conf:5",
		dialect: PFDialectMacOS,
		notes:   []string{`pf.conf:2: nat on en0 from 10.0.0.0/24 -> 192.0.2.10: not evaluated: no nat-anchor rule calls the anchor "x" it is in`},
	},
	{
		name:    "match nat-to: later rules see the translated source",
		conf:    "match out on en0 from 10.0.0.0/24 nat-to 192.0.2.10\nblock all\npass out on en0 from 192.0.2.10\n",
		pkt:     "tcp 10.0.0.5:50000 -> 93.184.216.34:443 out via en0 setup",
		act:     Allow,
		where:   "pf.conf:3",
		out:     "tcp 192.0.2.10:50000 -> 93.184.216.34:443 out via en0 setup",
		dialect: PFDialectOpenBSD,
	},
	{
		name:    "match rdr-to: later rules see the translated destination",
		conf:    "match in on en0 proto tcp to port 80 rdr-to 10.0.0.5 port 8080\nblock all\npass in proto tcp to 10.0.0.5 port 8080\n",
		pkt:     "tcp 203.0.113.5:51234 -> 192.0.2.10:80 in via en0 setup",
		act:     Allow,
		where:   "pf.conf:3",
		out:     "tcp 203.0.113.5:51234 -> 10.0.0.5:8080 in via en0 setup",
		dialect: PFDialectOpenBSD,
	},
	{
		name:    "rules before a match rule see the original packet",
		conf:    "block all\npass in proto tcp to 192.0.2.10 port 80\nmatch in on en0 proto tcp to port 80 rdr-to 10.0.0.5 port 8080\nblock in proto tcp to 10.0.0.5\n",
		pkt:     "tcp 203.0.113.5:51234 -> 192.0.2.10:80 in via en0 setup",
		act:     Deny,
		where:   "pf.conf:4",
		out:     "tcp 203.0.113.5:51234 -> 10.0.0.5:8080 in via en0 setup",
		dialect: PFDialectOpenBSD,
	},
	{
		name:    "pass rdr-to translates when it decides; no rule sees the result",
		conf:    "block all\npass in on en0 proto tcp to 192.0.2.10 port 80 rdr-to 10.0.0.5 port 8080\n",
		pkt:     "tcp 203.0.113.5:51234 -> 192.0.2.10:80 in via en0 setup",
		act:     Allow,
		where:   "pf.conf:2",
		out:     "tcp 203.0.113.5:51234 -> 10.0.0.5:8080 in via en0 setup",
		dialect: PFDialectOpenBSD,
	},
	{
		name:    "a pass rdr-to that does not decide translates nothing",
		conf:    "pass in on en0 proto tcp to 192.0.2.10 port 80 rdr-to 10.0.0.5 port 8080\nblock in all\n",
		pkt:     "tcp 203.0.113.5:51234 -> 192.0.2.10:80 in via en0 setup",
		act:     Deny,
		where:   "pf.conf:2",
		dialect: PFDialectOpenBSD,
	},
	{
		name:  "a match rule decides nothing",
		conf:  "block all\nmatch in proto tcp\n",
		pkt:   "tcp 203.0.113.5:51234 -> 192.0.2.10:80 in via en0 setup",
		act:   Deny,
		where: "pf.conf:1",
	},
	{
		name:    "binat-to adds the inbound half",
		conf:    "match out on en0 from 10.0.0.5 binat-to 192.0.2.20\nblock all\npass in proto tcp to 10.0.0.5 port 22\n",
		pkt:     "tcp 203.0.113.5:51234 -> 192.0.2.20:22 in via en0 setup",
		act:     Allow,
		where:   "pf.conf:3",
		out:     "tcp 203.0.113.5:51234 -> 10.0.0.5:22 in via en0 setup",
		dialect: PFDialectOpenBSD,
	},
	{
		name:    "af-to takes the IPv4 destination from the low bits",
		conf:    "block all\npass in on en0 inet6 proto tcp from any to 64:ff9b::/96 af-to inet from 198.51.100.1\n",
		pkt:     "tcp [2001:db8::1]:50000 -> [64:ff9b::c633:6464]:80 in via en0 setup",
		act:     Allow,
		where:   "pf.conf:2",
		out:     "tcp 198.51.100.1:50000 -> 198.51.100.100:80 in via en0 setup",
		dialect: PFDialectOpenBSD,
	},
	{
		name:    "af-to embeds the IPv4 destination in the prefix",
		conf:    "block all\npass in on en0 inet proto tcp af-to inet6 from 2001:db8::1 to 2001:db8::/96\n",
		pkt:     "tcp 203.0.113.5:50000 -> 198.51.100.100:80 in via en0 setup",
		act:     Allow,
		where:   "pf.conf:2",
		out:     "tcp [2001:db8::1]:50000 -> [2001:db8::c633:6464]:80 in via en0 setup",
		dialect: PFDialectOpenBSD,
	},
}

func pfParseTranslateCase(t testing.TB, c pfTranslateCase) *PFRuleset {
	t.Helper()
	rs, err := ParsePFOptions(context.Background(), []byte(c.conf), "pf.conf", pfMapLoader(c.files), c.opts)
	if err != nil {
		t.Fatalf("ParsePFOptions(%q) error: %v", c.conf, err)
	}
	return rs
}

func TestPFTranslate(t *testing.T) {
	for _, c := range pfTranslateCases {
		t.Run(c.name, func(t *testing.T) {
			rs := pfParseTranslateCase(t, c)
			p := pfPkt(t, c.pkt)
			v := pfAgree(t, rs, &p)
			if v.Action != c.act || v.Where != c.where {
				t.Errorf("Eval(%s) = %s by %q (%s), want %s by %q", c.pkt, v.Action, v.Where, v.Text, c.act, c.where)
			}
			q, ok := rs.Translate(&p)
			got := ""
			if ok {
				got = q.String()
			}
			if got != c.out {
				t.Errorf("Translate(%s) = %q, want %q", c.pkt, got, c.out)
			}
			if by := rs.TranslatedBy(&p); (len(by) > 0) != ok {
				t.Errorf("TranslatedBy(%s) = %q, want some rule exactly when Translate says it translates", c.pkt, by)
			}
			if d := rs.Dialect(); d != c.dialect {
				t.Errorf("Dialect() = %q, want %q", d, c.dialect)
			}
			if diff := cmp.Diff(c.notes, rs.Notes()); diff != "" {
				t.Errorf("Notes() (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPFTranslateBlocks checks the compiled evaluator split into classifier blocks of a few rules
// against the reference, on the cases above.
func TestPFTranslateBlocks(t *testing.T) {
	for _, c := range pfTranslateCases {
		for size := 1; size <= 3; size++ {
			rs, err := parsePFWith(context.Background(), []byte(c.conf), "pf.conf", pfMapLoader(c.files), size, c.opts)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			p := pfPkt(t, c.pkt)
			if got, want := rs.Eval(&p), rs.pfEvalReference(&p); got != want {
				t.Errorf("%s: blocks of %d: Eval(%s) = %+v, want %+v", c.name, size, c.pkt, got, want)
			}
		}
	}
}

func TestPFTranslateUnsure(t *testing.T) {
	for _, tt := range []struct {
		conf string
		want []string
	}{
		{"nat on en0 from 10.0.0.0/24 -> { 192.0.2.10, 192.0.2.11 } round-robin\n", []string{"nat { 192.0.2.10, 192.0.2.11 }: pf picks an address of the pool; the simulator takes the first"}},
		{"nat on en0 from 10.0.0.0/24 -> 192.0.2.0/28\n", []string{"nat 192.0.2.0/28: pf picks an address of the pool; the simulator takes the first"}},
		{"rdr on en0 proto tcp to port 80 tag WEB -> 10.0.0.5\n", []string{"tag WEB: tags are not simulated"}},
		{"nat on en0 from 10.0.0.0/24 -> 192.0.2.0/28 bitmask\n", nil},
		{"nat on en0 from 10.0.0.0/24 -> 192.0.2.10 port 1024:65535\n", []string{"nat port 1024:65535: pf picks the source port from the range; the simulator keeps one inside it, else takes the first"}},
	} {
		rs, err := ParsePF([]byte(tt.conf), "pf.conf", nil)
		if err != nil {
			t.Fatalf("ParsePF(%q) error: %v", tt.conf, err)
		}
		var got []string
		for _, l := range rs.xrules {
			for _, r := range l {
				got = append(got, r.f.unsure...)
			}
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParsePF(%q): unsure (-want +got):\n%s", tt.conf, diff)
		}
	}
}

func TestPFTranslateErrors(t *testing.T) {
	for _, tt := range []struct{ name, conf, want string }{
		{"dialects mixed", "nat on en0 from 10.0.0.0/8 -> 192.0.2.10\npass out on en0 nat-to 192.0.2.10\n",
			`pf.conf:2: "nat-to": this rule set already translates in the macOS/FreeBSD (nat/rdr/binat rules) dialect (pf.conf:1); the two dialects do not mix (pfctl refuses the other one): write every translation in one of them`},
		{"dialects mixed the other way", "match out on en0 nat-to 192.0.2.10\nrdr on en0 proto tcp to port 80 -> 10.0.0.5\n",
			`pf.conf:2: "rdr": this rule set already translates in the OpenBSD (match/nat-to/rdr-to) dialect (pf.conf:1); the two dialects do not mix (pfctl refuses the other one): write every translation in one of them`},
		{"nat without a target", "nat on en0 from 10.0.0.0/8\n", `pf.conf:1: nat: expected -> and the address to translate to, found end of line`},
		{"no nat with a target", "no nat on en0 from 10.0.0.0/8 -> 192.0.2.10\n", `pf.conf:1: no nat takes no -> target: it leaves matching packets untranslated`},
		{"binat of different sizes", "binat on en0 from 10.0.0.0/24 to any -> 192.0.2.20\n", `pf.conf:1: binat: 10.0.0.0/24 and 192.0.2.20 differ in size: pf maps one to the other bit for bit`},
		{"binat of a list", "binat on en0 from { 10.0.0.5, 10.0.0.6 } to any -> 192.0.2.20\n", `pf.conf:1: binat needs one address or prefix after from (the inside address it maps)`},
		{"nat-to on block", "block out on en0 nat-to 192.0.2.10\n", `pf.conf:1: nat-to on a block rule: pf translates only packets it passes`},
		{"quick match", "match quick in all\n", `pf.conf:1: quick on a match rule is not supported by the simulator`},
		{"host name target", "nat on en0 from 10.0.0.0/8 -> gateway.example\n", `pf.conf:1: nat "gateway.example": want an address, a prefix, an interface or <table> (host names are not resolved)`},
		{"two translations", "pass out on en0 nat-to 192.0.2.10 rdr-to 10.0.0.5\n", `pf.conf:1: rdr-to: the rule already translates with nat-to; the simulator takes one translation per rule`},
		{"af-to without the rule's family", "pass in af-to inet6 from 2001:db8::1\n", `pf.conf:1: af-to needs the rule's own family (inet or inet6), the other one than it translates into`},
		{"OpenBSD after a nat-anchor", "rdr-anchor \"x\"\nmatch in proto tcp to port 80 rdr-to 10.0.0.5\n", `pf.conf:2: "rdr-to": this rule set calls translation anchors (pf.conf:1), which are of the macOS/FreeBSD (nat/rdr/binat rules) dialect; the two dialects do not mix (pfctl refuses the other one): write every translation in one of them`},
		{"nat-anchor in OpenBSD", "match out nat-to 192.0.2.10\nnat-anchor \"x\"\n", `pf.conf:2: "nat-anchor": this rule set already translates in the OpenBSD (match/nat-to/rdr-to) dialect (pf.conf:1); the two dialects do not mix (pfctl refuses the other one)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePF([]byte(tt.conf), "pf.conf", nil)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("ParsePF(%q) error = %q, want %q", tt.conf, got, tt.want)
			}
		})
	}
}

// TestPFTranslateGolden keeps the --explain trace of every translation case, reviewed in the
// diff (-update rewrites).
func TestPFTranslateGolden(t *testing.T) {
	var b strings.Builder
	for _, c := range pfTranslateCases {
		rs := pfParseTranslateCase(t, c)
		p := pfPkt(t, c.pkt)
		v, steps := rs.Explain(&p)
		fmt.Fprintf(&b, "== %s\n%s\n", c.name, strings.TrimRight(c.conf, "\n"))
		if d := rs.Dialect(); d != "" {
			fmt.Fprintf(&b, "dialect: %s\n", d)
		}
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
		fmt.Fprintf(&b, "=> %s by %s: %s\n", v.Action, v.Where, v.Text)
		if q, ok := rs.Translate(&p); ok {
			fmt.Fprintf(&b, "=> as %s\n", &q)
		}
		b.WriteString("\n")
	}
	checkGolden(t, "testdata/pf/translate.golden", b.String(), "Explain traces")
}

// pfTranslateBenchConf is the benchmark rule set with translation in front: a few rdr rules
// and a nat rule (macOS/FreeBSD), or the same as OpenBSD match rules.
func pfTranslateBenchConf(t testing.TB, openbsd bool) []byte {
	t.Helper()
	base := pfReadFile(t, "testdata/pf/bench/pf.conf")
	if openbsd {
		// OpenBSD has no translation anchors.
		base = strings.NewReplacer("nat-anchor \"com.apple/*\"\n", "", "rdr-anchor \"com.apple/*\"\n", "").Replace(base)
	}
	head, tail, ok := strings.Cut(base, "\nblock in all\n")
	if !ok {
		t.Fatal("testdata/pf/bench/pf.conf: no \"block in all\" to put the translation rules before")
	}
	var b strings.Builder
	b.WriteString(head + "\n")
	for i := range 8 {
		if openbsd {
			fmt.Fprintf(&b, "match in on en0 proto tcp to 192.0.2.10 port %d rdr-to 10.0.0.%d port 8080\n", 8000+i, 10+i)
		} else {
			fmt.Fprintf(&b, "rdr on en0 proto tcp to 192.0.2.10 port %d -> 10.0.0.%d port 8080\n", 8000+i, 10+i)
		}
	}
	if openbsd {
		b.WriteString("match out on en0 from 10.0.0.0/16 nat-to 192.0.2.10\n")
	} else {
		b.WriteString("nat on en0 from 10.0.0.0/16 to any -> 192.0.2.10\n")
	}
	b.WriteString("block in all\n" + tail)
	return []byte(b.String())
}

func TestPFTranslateEvalAllocs(t *testing.T) {
	for _, openbsd := range []bool{false, true} {
		rs, err := ParsePF(pfTranslateBenchConf(t, openbsd), "pf.conf", nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{
			"tcp 203.0.113.5:51234 -> 192.0.2.10:8003 in via en0 setup",
			"tcp 203.0.113.5:51234 -> 192.0.2.10:8003 in via en0 established",
			"udp 93.184.216.34:53 -> 192.0.2.10:5353 in via en0 reply",
		} {
			p := pfPkt(t, s)
			if n := testing.AllocsPerRun(100, func() { rs.Eval(&p) }); n != 0 {
				t.Errorf("openbsd=%v: Eval(%s) allocates %v times, want 0", openbsd, s, n)
			}
		}
	}
}

func BenchmarkPFEvalTranslate(b *testing.B) {
	for _, openbsd := range []bool{false, true} {
		name := "macos"
		if openbsd {
			name = "openbsd"
		}
		b.Run(name, func(b *testing.B) {
			rs, err := ParsePF(pfTranslateBenchConf(b, openbsd), "pf.conf", nil)
			if err != nil {
				b.Fatal(err)
			}
			// BenchmarkPFEval's packets, every eighth one replaced by one that is translated.
			pkts := pfBenchPackets()
			xl := []Packet{
				pfPkt(b, "tcp 203.0.113.5:51234 -> 192.0.2.10:8003 in via en0 setup"),
				pfPkt(b, "tcp 203.0.113.5:51234 -> 192.0.2.10:8005 in via en0 established"),
				pfPkt(b, "tcp 10.0.0.5:50000 -> 93.184.216.34:443 out via en0 setup"),
				pfPkt(b, "udp 10.0.0.7:5353 -> 198.51.100.7:53 out via en0"),
			}
			for i := 0; i < len(pkts); i += 8 {
				pkts[i] = xl[i/8%len(xl)]
			}
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				rs.Eval(&pkts[i%len(pkts)])
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "evals/s")
		})
	}
}

// pfTranslateRandomConf writes a random rule set with translation: macOS/FreeBSD translation
// rules (with nat-anchor blocks) in front of random filter rules, or OpenBSD match and pass rules
// with nat-to, rdr-to, binat-to and af-to among them.
func pfTranslateRandomConf(g *pfGen) string {
	var b strings.Builder
	b.WriteString("table <t2> { 192.0.2.0/25, ::1 }\n")
	addr := func() string {
		return g.pick("192.0.2.10", "10.0.0.5", "198.51.100.1", "(en0)", "{ 192.0.2.10, 192.0.2.11 }", "192.0.2.0/28", "2001:db8::5", "<t2>")
	}
	from := func() string {
		return g.pick("", "from 10.0.0.0/8 ", "from any ", "from !192.0.2.0/24 ", "from <t2> ", "from self ")
	}
	to := func(proto string) string {
		s := g.pick("", "to any ", "to 192.0.2.10 ", "to 10.0.0.0/8 ", "to self ")
		if proto != "" && g.chance(60) {
			s += g.pick("port 80 ", "port 22 ", "port 2000:2999 ", "port { 53 443 } ")
		}
		if s != "" && !strings.HasPrefix(s, "to") {
			s = "to any " + s
		}
		return s
	}
	if g.chance(50) {
		for range 1 + g.r.IntN(5) {
			proto := g.pick("", "proto tcp ", "proto udp ", "proto { tcp udp } ")
			on := g.pick("", "on en0 ", "on en1 ", "on { en0 en1 } ")
			af := g.pick("", "", "inet ")
			hosts := from() + to(proto)
			if hosts == "" {
				hosts = "all "
			}
			pass := g.pick("", "", "pass ")
			switch g.r.IntN(6) {
			case 0:
				fmt.Fprintf(&b, "nat %s%s%s%s%s-> %s%s\n", pass, on, af, proto, hosts, addr(), g.pick("", " static-port", " port 1024:65535"))
			case 1:
				fmt.Fprintf(&b, "rdr %s%s%s%s%s-> %s%s\n", pass, on, af, proto, hosts, addr(), map[bool]string{true: g.pick(" port 8080", " port 4000:*"), false: ""}[proto != ""])
			case 2:
				fmt.Fprintf(&b, "no %s %s%s%s%s\n", g.pick("nat", "rdr"), on, af, proto, hosts)
			case 3:
				in, out := "10.0.0.5", "192.0.2.20"
				if g.chance(50) {
					in, out = "10.0.0.0/28", "192.0.2.32/28"
				}
				fmt.Fprintf(&b, "binat %son en0 %sfrom %s to any -> %s\n", pass, proto, in, out)
			case 4:
				fmt.Fprintf(&b, "nat-anchor \"n%d\" %s{\n nat %s%s%s-> %s\n}\n", g.r.IntN(1000), g.pick("", "on en0 "), on, proto, hosts, addr())
			default:
				fmt.Fprintf(&b, "rdr-anchor \"r%d\" {\n rdr %s%s%s-> 10.0.0.%d\n}\n", g.r.IntN(1000), on, proto, hosts, g.r.IntN(9))
			}
		}
		for range 1 + g.r.IntN(8) {
			b.WriteString(g.stmt(0))
		}
		return b.String()
	}
	for range 2 + g.r.IntN(10) {
		if g.chance(65) {
			b.WriteString(g.stmt(0))
			continue
		}
		if g.chance(10) {
			// A translation inside an anchor: the evaluator walks the tree for these.
			fmt.Fprintf(&b, "anchor \"m%d\" %s{\n match out %snat-to 192.0.2.10\n %s}\n", g.r.IntN(1000), g.pick("", "out ", "quick ", "on en0 "), from(), g.rule())
			continue
		}
		proto := g.pick("", "proto tcp ", "proto udp ", "proto { tcp udp } ")
		on := g.pick("", "on en0 ", "on en1 ")
		act := g.pick("match", "match", "pass")
		quick := ""
		if act == "pass" && g.chance(40) {
			quick = "quick "
		}
		hosts := from() + to(proto)
		switch g.r.IntN(5) {
		case 0, 1:
			fmt.Fprintf(&b, "%s out %s%s%s%snat-to %s%s\n", act, quick, on, proto, hosts, addr(), g.pick("", " static-port", " port 1024:65535"))
		case 2:
			fmt.Fprintf(&b, "%s in %s%s%s%srdr-to %s%s\n", act, quick, on, proto, hosts, addr(), map[bool]string{true: g.pick(" port 8080", " port 4000:*"), false: ""}[proto != ""])
		case 3:
			fmt.Fprintf(&b, "%s out %son en0 %sfrom 10.0.0.5 %sbinat-to 192.0.2.20\n", act, quick, proto, to(proto))
		default:
			fmt.Fprintf(&b, "%s in %s%sinet6 %saf-to inet from 198.51.100.1\n", act, quick, on, proto)
		}
	}
	return b.String()
}

// pfCheckTranslateRandom compares the compiled evaluator with the reference on a random rule set
// with translation, in one classifier block and in blocks of a few rules.
func pfCheckTranslateRandom(t *testing.T, seed uint64) {
	g := &pfGen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), files: map[string]string{}}
	conf := pfTranslateRandomConf(g)
	opts := PFOptions{}
	if seed%2 == 0 {
		opts = PFOptions{
			Ifaces: map[string][]netip.Prefix{"en0": {netip.MustParsePrefix("192.0.2.10/24"), netip.MustParsePrefix("2001:db8::10/64")}},
			Groups: map[string][]string{"egress": {"en0"}},
		}
	}
	rs, err := ParsePFOptions(context.Background(), []byte(conf), "f.conf", pfMapLoader(g.files), opts)
	if err != nil {
		// pfctl's checks (a port without tcp or udp and the like) refuse some generated rules.
		t.Skipf("seed %d: %v", seed, err)
	}
	size := 1 + int(seed%5)
	small, err := parsePFWith(context.Background(), []byte(conf), "f.conf", pfMapLoader(g.files), size, opts)
	if err != nil {
		t.Fatalf("seed %d: blocks of %d: %v", seed, size, err)
	}
	for range 64 {
		p := pfRandomPacket(g.r)
		if g.chance(30) {
			p.Dst = netip.MustParseAddr("192.0.2.10")
			if g.chance(50) {
				p.Src, p.Dst = netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("93.184.216.34")
			}
		}
		want := rs.pfEvalReference(&p)
		if got := rs.Eval(&p); got != want {
			t.Fatalf("seed %d: packet %s (%+v):\nEval = %+v\nreference = %+v\nrule set:\n%s", seed, p, p, got, want, conf)
		}
		if ex, _ := rs.Explain(&p); ex != want {
			t.Fatalf("seed %d: packet %s:\nExplain = %+v\nreference = %+v\nrule set:\n%s", seed, p, ex, want, conf)
		}
		if got := small.Eval(&p); got != want {
			t.Fatalf("seed %d: packet %s:\nEval in blocks of %d = %+v\nreference = %+v\nrule set:\n%s", seed, p, size, got, want, conf)
		}
	}
}

func FuzzPFTranslate(f *testing.F) {
	for seed := range uint64(48) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, seed uint64) { pfCheckTranslateRandom(t, seed) })
}

func TestPFTranslateMatchesReference(t *testing.T) {
	checkSeeds(t, 0, 1500, 200, func(t *testing.T, seed uint64) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { pfCheckTranslateRandom(t, seed) })
	})
}

// FuzzParsePFTranslate feeds the translation grammar's unit tables, mutated, to the parser: it
// must not panic, and a rule set it accepts must evaluate alike compiled and by the reference.
func FuzzParsePFTranslate(f *testing.F) {
	for _, c := range pfTranslateCases {
		f.Add(c.conf)
	}
	for _, c := range []string{
		"nat on en0 from 10.0.0.0/8 -> 192.0.2.10\npass out on en0 nat-to 192.0.2.10\n",
		"binat on en0 from 10.0.0.0/24 to any -> 192.0.2.20\n",
		"rdr on en0 proto tcp to port 80 tag WEB -> 10.0.0.5\n",
		"nat on en0 from 10.0.0.0/24 -> { 192.0.2.10, 192.0.2.11 } round-robin sticky-address\n",
		"nat on en0 from 10.0.0.0/24 -> 192.0.2.0/28 source-hash 0x1234 static-port\n",
		"rdr-anchor \"x\" in on en0 {\n rdr pass proto udp to port 53 -> 127.0.0.1 port 5353\n}\n",
		"pass in inet6 af-to inet from 198.51.100.1 to 198.51.100.0/24\n",
	} {
		f.Add(c)
	}
	pkts := []string{
		"tcp 203.0.113.5:51234 -> 192.0.2.10:80 in via en0 setup",
		"tcp 10.0.0.5:50000 -> 93.184.216.34:443 out via en0 established",
		"udp 93.184.216.34:53 -> 10.0.0.5:5353 in via en0 reply",
		"tcp [2001:db8::1]:50000 -> [64:ff9b::c633:6464]:80 in via en0 setup",
	}
	f.Fuzz(func(t *testing.T, conf string) {
		rs, err := ParsePF([]byte(conf), "f.conf", nil)
		if err != nil {
			return
		}
		for _, s := range pkts {
			p := pfPkt(t, s)
			if got, want := rs.Eval(&p), rs.pfEvalReference(&p); got != want {
				t.Fatalf("rule set %q, packet %s: Eval = %+v, reference = %+v", conf, s, got, want)
			}
			rs.Translate(&p)
		}
	})
}

// A match rule decides nothing: lint neither calls it dead nor lets it cover the rules after it,
// nor takes it for a default block.
func TestPFLintMatchRules(t *testing.T) {
	for _, tt := range []struct {
		conf string
		want []string // the kinds of the findings
	}{
		{"block in all\nmatch in proto tcp\npass in proto tcp to port 22\n", nil},
		{"match in all\npass in proto tcp to port 22\n", []string{PFLintNoDefaultBlock}},
		{"block in all\nmatch in on en0 proto tcp to port 80 rdr-to 10.0.0.5\npass in proto tcp to 10.0.0.5 port 80\n", nil},
	} {
		rs, err := ParsePF([]byte(tt.conf), "pf.conf", nil)
		if err != nil {
			t.Fatalf("ParsePF(%q) error: %v", tt.conf, err)
		}
		var got []string
		for _, f := range rs.Lint() {
			got = append(got, f.Kind)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Lint(%q) kinds (-want +got):\n%s", tt.conf, diff)
		}
	}
}

func TestPFTranslatedBy(t *testing.T) {
	for _, tt := range []struct {
		conf, pkt string
		want      []string
	}{
		{"rdr on en0 proto tcp to port 80 -> 10.0.0.5\npass all\n", "tcp 203.0.113.5:51234 -> 192.0.2.10:80 in via en0 setup", []string{"pf.conf:1"}},
		{"no rdr on en0 proto tcp from 203.0.113.5\nrdr on en0 proto tcp to port 80 -> 10.0.0.5\n", "tcp 203.0.113.5:51234 -> 192.0.2.10:80 in via en0 setup", nil},
		{"match in on en0 proto tcp to port 80 rdr-to 10.0.0.5 port 8080\nmatch in proto tcp to 10.0.0.5 rdr-to 10.0.0.6\npass in all\n", "tcp 203.0.113.5:51234 -> 192.0.2.10:80 in via en0 setup", []string{"pf.conf:1", "pf.conf:2"}},
		{"block all\npass out on en0 from 10.0.0.0/8 nat-to 192.0.2.10\n", "udp 10.0.0.5:5353 -> 198.51.100.7:53 out via en0", []string{"pf.conf:2"}},
	} {
		rs, err := ParsePF([]byte(tt.conf), "pf.conf", nil)
		if err != nil {
			t.Fatalf("ParsePF(%q) error: %v", tt.conf, err)
		}
		p := pfPkt(t, tt.pkt)
		if diff := cmp.Diff(tt.want, rs.TranslatedBy(&p)); diff != "" {
			t.Errorf("TranslatedBy(%s) on %q (-want +got):\n%s", tt.pkt, tt.conf, diff)
		}
	}
}
