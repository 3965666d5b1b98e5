package rules

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// pfAddrCase is a rule set using one kind of pf address, the options it is read with, packets and
// their fates as pf.conf(5) describes them, and what the simulator says it could not decide.
type pfAddrCase struct {
	name   string
	conf   string
	opts   PFOptions
	cases  []pfWant
	unsure map[string][]string // the unsure conditions of the rules, by where
	notes  []string
}

func pfIfaces(specs ...string) map[string][]netip.Prefix {
	m := map[string][]netip.Prefix{}
	for _, s := range specs {
		name, pre, _ := strings.Cut(s, "=")
		m[name] = append(m[name], netip.MustParsePrefix(pre))
	}
	return m
}

var pfAddrCases = []pfAddrCase{
	{
		name: "(en0) is en0's addresses when they are given",
		conf: "block all\npass in proto tcp to (en0) port 22\n",
		opts: PFOptions{Ifaces: pfIfaces("en0=192.0.2.10/24", "en0=2001:db8::10/64")},
		cases: []pfWant{
			{"tcp 203.0.113.5:1 -> 192.0.2.10:22 in via en0 setup", Allow, "a.conf:2"},
			{"tcp 203.0.113.5:1 -> 192.0.2.99:22 in via en0 setup", Deny, "a.conf:1"},
			{"tcp [2001:db8::5]:1 -> [2001:db8::10]:22 in via en0 setup", Allow, "a.conf:2"},
		},
	},
	{
		name: "(en0) in a rule of the family en0 has no address of",
		conf: "block all\npass in inet6 to (en0)\n",
		opts: PFOptions{Ifaces: pfIfaces("en0=192.0.2.10/24")},
		cases: []pfWant{
			{"udp [2001:db8::5]:1 -> [2001:db8::10]:53 in via en0", Deny, "a.conf:1"},
			{"udp 203.0.113.5:1 -> 192.0.2.10:53 in via en0", Deny, "a.conf:1"},
		},
	},
	{
		name: "en0 without its addresses is the host's side",
		conf: "block all\npass in proto tcp to { en0 (en0) en0:0 } port 22\n",
		cases: []pfWant{
			{"tcp 203.0.113.5:1 -> 192.0.2.99:22 in via en0 setup", Allow, "a.conf:2"},
		},
	},
	{
		name: "en0:network and (en0:network), IPv4 and IPv6",
		conf: "block all\npass in from en0:network\npass out to (en0:network)\n",
		opts: PFOptions{Ifaces: pfIfaces("en0=192.0.2.10/24", "en0=2001:db8::10/64", "en0=fe80::1/64")},
		cases: []pfWant{
			{"udp 192.0.2.77:1 -> 192.0.2.10:53 in via en0", Allow, "a.conf:2"},
			{"udp 198.51.100.7:1 -> 192.0.2.10:53 in via en0", Deny, "a.conf:1"},
			{"udp [2001:db8::ff]:1 -> [2001:db8::10]:53 in via en0", Allow, "a.conf:2"},
			// pfctl leaves out the networks of link-local addresses
			{"udp [fe80::2]:1 -> [fe80::1]:53 in via en0", Deny, "a.conf:1"},
			{"udp 192.0.2.10:1 -> 192.0.2.1:53 out via en0", Allow, "a.conf:3"},
		},
	},
	{
		name: "a VLAN interface's network",
		conf: "block all\npass in on em0.100 from em0.100:network\n",
		opts: PFOptions{Ifaces: pfIfaces("em0.100=10.100.0.1/24")},
		cases: []pfWant{
			{"udp 10.100.0.7:1 -> 10.100.0.1:53 in via em0.100", Allow, "a.conf:2"},
			{"udp 10.101.0.7:1 -> 10.100.0.1:53 in via em0.100", Deny, "a.conf:1"},
		},
	},
	{
		name: "en0:broadcast is the last address of each IPv4 network",
		conf: "pass all\nblock in quick to en0:broadcast\n",
		opts: PFOptions{Ifaces: pfIfaces("en0=192.0.2.10/24", "en0=2001:db8::10/64")},
		cases: []pfWant{
			{"udp 192.0.2.7:1 -> 192.0.2.255:137 in via en0", Deny, "a.conf:2"},
			{"udp 192.0.2.7:1 -> 192.0.2.10:137 in via en0", Allow, "a.conf:1"},
		},
	},
	{
		name: "en0:0 leaves out aliases",
		conf: "block all\npass in to en0:0\n",
		opts: PFOptions{Ifaces: pfIfaces("en0=192.0.2.10/24", "en0=192.0.2.11/24", "en0=fe80::1/64", "en0=2001:db8::10/64", "en0=2001:db8::11/64")},
		cases: []pfWant{
			{"udp 198.51.100.7:1 -> 192.0.2.10:53 in via en0", Allow, "a.conf:2"},
			{"udp 198.51.100.7:1 -> 192.0.2.11:53 in via en0", Deny, "a.conf:1"},
			{"udp [2001:db8::7]:1 -> [2001:db8::10]:53 in via en0", Allow, "a.conf:2"},
			{"udp [2001:db8::7]:1 -> [2001:db8::11]:53 in via en0", Deny, "a.conf:1"},
			{"udp [fe80::7]:1 -> [fe80::1]:53 in via en0", Deny, "a.conf:1"},
		},
	},
	{
		name: "an interface group's network from its members",
		conf: "block all\npass out on egress from (egress:network)\n",
		opts: PFOptions{Ifaces: pfIfaces("en0=192.0.2.10/24", "en1=198.51.100.2/25"), Groups: map[string][]string{"egress": {"en0", "en1"}}},
		cases: []pfWant{
			{"udp 192.0.2.77:1 -> 203.0.113.1:53 out via en0", Allow, "a.conf:2"},
			{"udp 198.51.100.100:1 -> 203.0.113.1:53 out via en1", Allow, "a.conf:2"},
			{"udp 198.51.100.200:1 -> 203.0.113.1:53 out via en1", Deny, "a.conf:1"},
		},
	},
	{
		name: "en0:network without en0's addresses matches nothing and is unsure",
		conf: "pass all\nblock in quick proto tcp from ! en0:network to any port 22\n",
		cases: []pfWant{
			// "! en0:network" then matches every address: the rule blocks, conditionally
			{"tcp 192.0.2.7:1 -> 192.0.2.10:22 in via en0 setup", Deny, "a.conf:2"},
		},
		unsure: map[string][]string{"a.conf:2": {"en0:network: the addresses of en0 are not known, so it matches no address of en0 here (give --iface en0=ADDR/LEN)"}},
		notes:  []string{"a.conf:2: en0:network: the addresses of en0 are not known, so it matches no address of en0 here (give --iface en0=ADDR/LEN)"},
	},
	{
		name: "egress:network without egress's members",
		conf: "block all\npass out from egress:network\n",
		cases: []pfWant{
			{"udp 192.0.2.77:1 -> 203.0.113.1:53 out via en0", Deny, "a.conf:1"},
		},
		unsure: map[string][]string{"a.conf:2": {"egress:network: the members of the interface group egress are not known, so it matches no address here (give --group egress=IF,IF and --iface IF=ADDR/LEN)"}},
		notes:  []string{"a.conf:2: egress:network: the members of the interface group egress are not known, so it matches no address here (give --group egress=IF,IF and --iface IF=ADDR/LEN)"},
	},
	{
		name: ":peer is unsure",
		conf: "block all\npass in on utun0 from (utun0:peer)\n",
		opts: PFOptions{Ifaces: pfIfaces("utun0=10.8.0.1/32")},
		cases: []pfWant{
			{"udp 10.8.0.2:1 -> 10.8.0.1:53 in via utun0", Deny, "a.conf:1"},
		},
		unsure: map[string][]string{"a.conf:2": {"(utun0:peer): peer addresses of point-to-point interfaces are not modelled, so it matches no address here"}},
		notes:  []string{"a.conf:2: (utun0:peer): peer addresses of point-to-point interfaces are not modelled, so it matches no address here"},
	},
	{
		name: "(self) is the host's side",
		conf: "block all\npass in proto tcp to (self) port 22\n",
		cases: []pfWant{
			{"tcp 203.0.113.5:1 -> 192.0.2.99:22 in via en0 setup", Allow, "a.conf:2"},
			{"tcp 203.0.113.5:1 -> 192.0.2.99:22 out via en0 setup", Deny, "a.conf:1"},
		},
	},
	{
		name: "self and interfaces in a table",
		conf: "table <me> const { self, 10.0.0.0/8 }\ntable <nets> const { en0:network !192.0.2.128/25 }\nblock all\npass in to <me>\npass out from <nets>\n",
		opts: PFOptions{Ifaces: pfIfaces("en0=192.0.2.10/24")},
		cases: []pfWant{
			{"udp 203.0.113.5:1 -> 192.0.2.99:53 in via en0", Allow, "a.conf:4"},
			{"udp 10.1.2.3:1 -> 203.0.113.5:53 out via en0", Deny, "a.conf:3"},
			{"udp 203.0.113.5:1 -> 10.1.2.3:53 in via en0", Allow, "a.conf:4"},
			{"udp 203.0.113.5:1 -> 127.0.0.1:53 in via lo0", Allow, "a.conf:4"},
			{"udp 192.0.2.7:1 -> 203.0.113.5:53 out via en0", Allow, "a.conf:5"},
			{"udp 192.0.2.200:1 -> 203.0.113.5:53 out via en0", Deny, "a.conf:3"},
		},
	},
	{
		name: "a table of self only is not filled at run time",
		conf: "table <me> { self }\nblock all\npass in to <me>\n",
		cases: []pfWant{
			{"udp 203.0.113.5:1 -> 192.0.2.99:53 in via en0", Allow, "a.conf:3"},
		},
	},
	{
		name: "host names are not resolved",
		conf: "pass all\nblock in quick from { example.com 198.51.100.7 }\nblock in quick proto tcp from ! www.example.org/24 to any port 25\n",
		cases: []pfWant{
			{"tcp 192.0.2.7:1 -> 192.0.2.10:22 in via en0 setup", Allow, "a.conf:1"},
			{"tcp 198.51.100.7:1 -> 192.0.2.10:22 in via en0 setup", Deny, "a.conf:2"},
			{"tcp 192.0.2.7:1 -> 192.0.2.10:25 in via en0 setup", Deny, "a.conf:3"},
		},
		unsure: map[string][]string{
			"a.conf:2": {"example.com: host name not resolved, so it matches no address here"},
			"a.conf:3": {"www.example.org/24: host name not resolved, so it matches no address here"},
		},
		notes: []string{
			"a.conf:2: example.com: host name not resolved, so it matches no address here",
			"a.conf:3: www.example.org/24: host name not resolved, so it matches no address here",
		},
	},
	{
		name: "a negated self in a table is left out",
		conf: "table <notme> const { 0.0.0.0/0, !self }\nblock all\npass in from <notme>\n",
		cases: []pfWant{
			{"udp 198.51.100.7:1 -> 192.0.2.10:53 in via en0", Allow, "a.conf:3"},
		},
		unsure: map[string][]string{"a.conf:3": {"table <notme>: !self: the host's own addresses are not known, so the negated entry is left out"}},
		notes:  []string{"a.conf:1: table <notme>: !self: the host's own addresses are not known, so the negated entry is left out"},
	},
	{
		name: "a host name in a table",
		conf: "table <friends> const { 198.51.100.7, friend.example.com }\nblock all\npass in from <friends>\n",
		cases: []pfWant{
			{"udp 198.51.100.7:1 -> 192.0.2.10:53 in via en0", Allow, "a.conf:3"},
			{"udp 198.51.100.8:1 -> 192.0.2.10:53 in via en0", Deny, "a.conf:2"},
		},
		unsure: map[string][]string{"a.conf:3": {"table <friends>: friend.example.com: host name not resolved, so the entry is left out"}},
		notes:  []string{"a.conf:1: table <friends>: friend.example.com: host name not resolved, so the entry is left out"},
	},
	{
		name: "no-route and urpf-failed",
		conf: "pass all\nblock in quick from no-route to any\nblock in quick from urpf-failed\nblock in quick proto tcp from ! no-route to any port 25\n",
		cases: []pfWant{
			{"tcp 192.0.2.7:1 -> 192.0.2.10:22 in via en0 setup", Allow, "a.conf:1"},
			{"tcp 192.0.2.7:1 -> 192.0.2.10:25 in via en0 setup", Deny, "a.conf:4"},
		},
		unsure: map[string][]string{
			"a.conf:2": {"no-route: whether the address has a route is not modelled, so it matches no address here"},
			"a.conf:3": {"urpf-failed: the unicast reverse-path check is not modelled, so it matches no address here"},
			"a.conf:4": {"no-route: whether the address has a route is not modelled, so it matches no address here"},
		},
		notes: []string{
			"a.conf:2: no-route: whether the address has a route is not modelled, so it matches no address here",
			"a.conf:3: urpf-failed: the unicast reverse-path check is not modelled, so it matches no address here",
			"a.conf:4: no-route: whether the address has a route is not modelled, so it matches no address here",
		},
	},
	{
		name: "IPv4-mapped IPv6 prefixes are IPv6 and match no packet",
		conf: "pass all\nblock in quick inet6 from ::ffff:0:0/96 to any\nblock in quick from ::ffff:192.0.2.7\n",
		cases: []pfWant{
			{"udp 192.0.2.7:1 -> 192.0.2.10:53 in via en0", Allow, "a.conf:1"},
			{"udp [2001:db8::7]:1 -> [2001:db8::10]:53 in via en0", Allow, "a.conf:1"},
		},
	},
	{
		name: "IPv6 ranges, also IPv4-mapped and scoped",
		conf: "block all\npass in quick from ::ffff:10.0.0.1 - ::ffff:10.0.0.9\npass in quick from fe80::1%en0 - fe80::3%en0\npass in quick from ::fffe:ffff:ffff - ::1:0:0:1\n",
		cases: []pfWant{
			{"udp 10.0.0.5:1 -> 10.0.0.99:53 in", Deny, "a.conf:1"},
			{"udp [fe80::2]:1 -> [fe80::99]:53 in", Allow, "a.conf:3"},
			{"udp [::fffe:ffff:ffff]:1 -> [fe80::99]:53 in", Allow, "a.conf:4"},
			{"udp [::1:0:0:1]:1 -> [fe80::99]:53 in", Allow, "a.conf:4"},
			{"udp 0.0.0.1:1 -> 10.0.0.99:53 in", Deny, "a.conf:1"},
		},
	},
	{
		name: "a bare word may be a host name or an interface group",
		conf: "pass all\nblock in quick from wan\n",
		cases: []pfWant{
			{"udp 10.0.0.5:1 -> 10.0.0.99:53 in", Allow, "a.conf:1"},
		},
		unsure: map[string][]string{"a.conf:2": {"wan: not resolved (a host name, or an interface group not given with --group wan=IF,IF), so it matches no address here"}},
		notes:  []string{"a.conf:2: wan: not resolved (a host name, or an interface group not given with --group wan=IF,IF), so it matches no address here"},
	},
	{
		name: "scoped IPv6 addresses",
		conf: "block all\npass in from fe80::1%lo0\npass in proto udp from fe80::%en0/64 to any port 546\n",
		cases: []pfWant{
			{"udp [fe80::1]:1 -> [fe80::2]:53 in via lo0", Allow, "a.conf:2"},
			{"udp [fe80::5]:547 -> [fe80::2]:546 in via en0", Allow, "a.conf:3"},
			{"udp [fe80::5]:547 -> [fe80::2]:547 in via en0", Deny, "a.conf:1"},
		},
	},
	{
		name: "ranges, host bits and negation, IPv4 and IPv6",
		conf: "block all\npass in quick from 2001:db8::1 - 2001:db8::5\npass in quick from 192.0.2.77/24\npass in quick inet from { 10/8 !10.1/16 }\npass in quick from { !2001:db8:1::/48 } to 2001:db8:2::1\n",
		cases: []pfWant{
			{"udp [2001:db8::5]:1 -> [2001:db8::ff]:53 in", Allow, "a.conf:2"},
			{"udp [2001:db8::6]:1 -> [2001:db8::ff]:53 in", Deny, "a.conf:1"},
			{"udp 10.1.0.1:1 -> 198.51.100.1:53 in", Allow, "a.conf:4"},
			{"udp 192.0.2.1:1 -> 198.51.100.1:53 in", Allow, "a.conf:3"},
			{"udp 10.2.0.1:1 -> 198.51.100.1:53 in", Allow, "a.conf:4"},
			{"udp [2001:db8:1::7]:1 -> [2001:db8:2::1]:53 in", Deny, "a.conf:1"},
			{"udp [2001:db8:3::7]:1 -> [2001:db8:2::1]:53 in", Allow, "a.conf:5"},
		},
	},
	{
		name: "service names from the services file, then the built-in list",
		conf: "block all\npass in proto tcp to port { fw-admin ssh }\npass in proto udp to port fw-sync\n",
		opts: PFOptions{Services: pfTestServices},
		cases: []pfWant{
			{"tcp 192.0.2.7:1 -> 192.0.2.10:7777 in setup", Allow, "a.conf:2"},
			{"tcp 192.0.2.7:1 -> 192.0.2.10:22 in setup", Allow, "a.conf:2"},
			{"udp 192.0.2.7:1 -> 192.0.2.10:7778 in", Allow, "a.conf:3"},
			{"tcp 192.0.2.7:1 -> 192.0.2.10:7778 in setup", Deny, "a.conf:1"},
		},
	},
	{
		name: "user and group are unsure and otherwise taken to hold",
		conf: "block all\npass out proto tcp user root\npass out proto udp group { wheel, >= 1000 } user { 1000 >< 2000, unknown }\n",
		cases: []pfWant{
			{"tcp 192.0.2.10:50000 -> 198.51.100.7:443 out setup", Allow, "a.conf:2"},
			{"udp 192.0.2.10:50000 -> 198.51.100.7:53 out", Allow, "a.conf:3"},
		},
		unsure: map[string][]string{
			"a.conf:2": {"user root: the socket owner of a packet is not modelled"},
			"a.conf:3": {"group { wheel, >= 1000 }: the socket owner of a packet is not modelled", "user { 1000 >< 2000, unknown }: the socket owner of a packet is not modelled"},
		},
	},
	{
		name: "an unsure address in an anchor's conditions is a note",
		conf: "anchor \"a\" from example.net {\n block in all\n}\n",
		cases: []pfWant{
			{"udp 192.0.2.7:1 -> 192.0.2.10:53 in", Allow, "default"},
		},
		notes: []string{"a.conf:1: example.net: host name not resolved, so it matches no address here"},
	},
}

// pfTestServices is a services file: fw-admin 7777/tcp, fw-sync 7778/udp.
func pfTestServices(name, proto string) (uint16, bool) {
	switch {
	case name == "fw-admin" && proto == "tcp":
		return 7777, true
	case name == "fw-sync" && proto == "udp":
		return 7778, true
	}
	return 0, false
}

func pfParseAddrCase(t testing.TB, c pfAddrCase) *PFRuleset {
	t.Helper()
	rs, err := ParsePFOptions(context.Background(), []byte(c.conf), "a.conf", nil, c.opts)
	if err != nil {
		t.Fatalf("ParsePFOptions(%q) error: %v", c.conf, err)
	}
	return rs
}

// pfUnsureByWhere is the unsure conditions of the rules, by where.
func pfUnsureByWhere(rs *PFRuleset) map[string][]string {
	var m map[string][]string
	for _, r := range rs.rules {
		if len(r.f.unsure) > 0 && (m == nil || m[r.f.where] == nil) {
			if m == nil {
				m = map[string][]string{}
			}
			m[r.f.where] = slices.Clone(r.f.unsure)
		}
	}
	return m
}

func TestPFAddresses(t *testing.T) {
	for _, c := range pfAddrCases {
		t.Run(c.name, func(t *testing.T) {
			rs := pfParseAddrCase(t, c)
			for _, w := range c.cases {
				p := pfPkt(t, w.pkt)
				v := pfAgree(t, rs, &p)
				if v.Action != w.act || v.Where != w.where {
					t.Errorf("Eval(%s) = %s by %q (%s), want %s by %q", w.pkt, v.Action, v.Where, v.Text, w.act, w.where)
				}
			}
			if diff := cmp.Diff(c.unsure, pfUnsureByWhere(rs)); diff != "" {
				t.Errorf("unsure conditions (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(c.notes, rs.Notes()); diff != "" {
				t.Errorf("Notes() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPFAddrErrors(t *testing.T) {
	tests := []struct {
		name, conf string
		opts       PFOptions
		want       string
	}{
		{"unknown modifier", "pass in from en0:nework\n", PFOptions{}, `a.conf:1: "en0:nework": unknown interface modifier "nework" (want :network, :broadcast, :peer or :0)`},
		{"exclusive modifiers", "pass in from (en0:network:broadcast)\n", PFOptions{}, `a.conf:1: "en0:network:broadcast": :network, :broadcast and :peer exclude each other`},
		{"no broadcast on loopback", "pass in to lo0:broadcast\n", PFOptions{}, "a.conf:1: lo0:broadcast: no IP address found for it on the interfaces given (pfctl refuses the rule)"},
		{"static interface address of the other family", "pass in inet6 to en0\n", PFOptions{Ifaces: pfIfaces("en0=192.0.2.10/24")}, "a.conf:1: address en0 is not inet6: the rule expands to no valid combination"},
		{"not an interface in parentheses", "pass in to (192.0.2.1)\n", PFOptions{}, "a.conf:1: (192.0.2.1): want an interface name, such as (en0) or (en0:network)"},
		{"unknown service", "pass in proto tcp to port fw-nothing\n", PFOptions{Services: pfTestServices}, `a.conf:1: unknown port or service "fw-nothing": not in the services file (/etc/services under the root) nor in the built-in list of common services (use the number)`},
		{"service of another protocol only", "pass in proto tcp to port fw-sync:fw-nothing\n", PFOptions{Services: pfTestServices}, `a.conf:1: unknown port or service "fw-nothing": not in the services file (/etc/services under the root) nor in the built-in list of common services (use the number)`},
		{"route without label", "pass in from route\n", PFOptions{}, "a.conf:1: route needs a label, found end of line"},
		{"user without name", "pass out proto tcp user\n", PFOptions{}, "a.conf:1: user needs a name or an id, found end of line"},
		{"bad user operator", "pass out proto tcp user >< 5\n", PFOptions{}, `a.conf:1: user: bad operator "><"`},
		{"empty spaced port range", "pass in proto tcp to port 2000 : 1000\n", PFOptions{}, "a.conf:1: port range 2000:1000 is empty"},
		{"range of two families", "pass in from 10.0.0.1 - ::1\n", PFOptions{}, "a.conf:1: bad address range 10.0.0.1 - ::1: want two addresses of one family"},
		{"backwards range", "pass in from 2001:db8::9 - 2001:db8::1\n", PFOptions{}, "a.conf:1: bad address range 2001:db8::9 - 2001:db8::1: the range runs backwards"},
		{"range of prefixes", "pass in from 10.0.0.0/24 - 10.0.1.0/24\n", PFOptions{}, "a.conf:1: bad address range 10.0.0.0/24 - 10.0.1.0/24: want two addresses"},
		{"junk in a table", "table <t> { 192.0.2.1, 10.0.0.0/33 }\n", PFOptions{}, `a.conf:1: table <t>: entry "10.0.0.0/33": want an address, a prefix, an interface, self or a host name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePFOptions(context.Background(), []byte(tt.conf), "a.conf", nil, tt.opts)
			if err == nil || err.Error() != tt.want {
				t.Errorf("ParsePFOptions(%q) = %v, want %s", tt.conf, err, tt.want)
			}
		})
	}
}

func TestPFAddrPorts(t *testing.T) {
	tests := []struct {
		spec string
		yes  []uint16
		no   []uint16
	}{
		{"1000 : 2000", []uint16{1000, 2000}, []uint16{999, 2001}},
		{"ssh:http", []uint16{22, 80}, []uint16{21, 81}},
		{"= https", []uint16{443}, []uint16{80}},
		{"!= 0", []uint16{1, 65535}, []uint16{0}},
		{"< 0", nil, []uint16{0, 1}},
		{"> 65535", nil, []uint16{65535}},
		{"1000 >< 1001", nil, []uint16{1000, 1001}},
		{"0 <> 65535", nil, []uint16{0, 65535}},
		{"{ fw-admin, >= 60000 }", []uint16{7777, 60000}, []uint16{7778}},
		{"{ smtps, spamd }", []uint16{465, 8025}, []uint16{25}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			conf := "block in all\npass in proto tcp to port " + tt.spec + " no state\n"
			rs, err := ParsePFOptions(context.Background(), []byte(conf), "t.conf", nil, PFOptions{Services: pfTestServices})
			if err != nil {
				t.Fatalf("ParsePF(%q) = %v", conf, err)
			}
			for _, port := range append(slices.Clone(tt.yes), tt.no...) {
				want := Deny
				if slices.Contains(tt.yes, port) {
					want = Allow
				}
				p := Packet{Proto: ProtoTCP, Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("192.0.2.2"), SrcPort: 5, DstPort: port, Dir: In, Established: true, ICMPType: -1}
				if got := pfAgree(t, rs, &p).Action; got != want {
					t.Errorf("Eval(port %d) under port %s = %s, want %s", port, tt.spec, got, want)
				}
			}
		})
	}
}

func TestPFIfAddrs(t *testing.T) {
	addrs := []netip.Prefix{
		netip.MustParsePrefix("fe80::1/64"), netip.MustParsePrefix("192.0.2.10/24"),
		netip.MustParsePrefix("2001:db8::10/64"), netip.MustParsePrefix("192.0.2.11/24"),
		netip.MustParsePrefix("198.51.100.1/31"), netip.MustParsePrefix("2001:db8:1::1/64"),
	}
	tests := []struct {
		ifn  string
		mods pfIfMod
		want string
	}{
		{"en0", 0, "fe80::1/128 192.0.2.10/32 2001:db8::10/128 192.0.2.11/32 198.51.100.1/32 2001:db8:1::1/128"},
		{"en0", pfIfNetwork, "192.0.2.0/24 2001:db8::/64 192.0.2.0/24 198.51.100.0/31 2001:db8:1::/64"},
		{"en0", pfIfBroadcast, "192.0.2.255/32 192.0.2.255/32"},
		{"en0", pfIfNoAlias, "192.0.2.10/32 2001:db8::10/128"},
		{"en0", pfIfNetwork | pfIfNoAlias, "192.0.2.0/24 2001:db8::/64"},
		{"utun0", pfIfBroadcast, ""},
		{"lo0", pfIfBroadcast, ""},
	}
	for _, tt := range tests {
		var got []string
		for _, p := range pfIfAddrs(tt.ifn, addrs, tt.mods) {
			got = append(got, p.String())
		}
		if s := strings.Join(got, " "); s != tt.want {
			t.Errorf("pfIfAddrs(%s, %b) = %s, want %s", tt.ifn, tt.mods, s, tt.want)
		}
	}
}

// TestPFAddrExplainGolden keeps --explain traces of a few address forms, reviewed in the diff
// (-update rewrites).
func TestPFAddrExplainGolden(t *testing.T) {
	var b strings.Builder
	for _, c := range pfAddrCases {
		switch c.name {
		case "en0:network and (en0:network), IPv4 and IPv6", "host names are not resolved", "self and interfaces in a table", "en0:0 leaves out aliases":
		default:
			continue
		}
		rs := pfParseAddrCase(t, c)
		fmt.Fprintf(&b, "== %s\n%s\n", c.name, strings.TrimRight(c.conf, "\n"))
		for _, n := range rs.Notes() {
			fmt.Fprintf(&b, "note: %s\n", n)
		}
		for _, w := range c.cases {
			p := pfPkt(t, w.pkt)
			v, steps := rs.Explain(&p)
			fmt.Fprintf(&b, "-- %s\n", w.pkt)
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
	checkGolden(t, "testdata/pf/addr.golden", b.String(), "Explain traces")
}

// pfAddrForms are the address and port forms of this file, for the random rule sets.
var pfAddrForms = []string{
	"(en0)", "en0", "en0:network", "(en0:network)", "en0:broadcast", "(en0:0)", "en0:network:0",
	"(en1:network)", "egress:network", "(egress)", "(self)", "self", "utun0:peer", "example.com",
	"no-route", "urpf-failed", "::ffff:0:0/96", "fe80::1%lo0", "2001:db8::1 - 2001:db8::9",
	"10.0.0.5/24", "<me>", "<nets>", "<names>",
}

// pfAddrRandomConf is a random rule set over pfAddrForms.
func pfAddrRandomConf(r *rand.Rand) string {
	g := &pfGen{r: r, files: map[string]string{}}
	var b strings.Builder
	b.WriteString("table <me> const { self, 10.0.0.0/8 }\ntable <nets> const { en0:network, !192.0.2.128/25, (en1) }\ntable <names> const { a.example, 192.0.2.7 }\n")
	one := func() string {
		e := g.pick(pfAddrForms...)
		if g.chance(25) {
			e = "! " + e
		}
		return e
	}
	for range 1 + r.IntN(8) {
		b.WriteString(g.pick("pass", "block"))
		b.WriteString(g.pick("", " in", " out"))
		b.WriteString(g.pick("", " quick"))
		b.WriteString(g.pick("", " on en0", " on egress"))
		b.WriteString(g.pick("", " proto tcp", " proto udp"))
		for _, dir := range []string{" from ", " to "} {
			if g.chance(70) {
				h := one()
				if g.chance(25) {
					h = "{ " + one() + ", " + one() + " }"
				}
				b.WriteString(dir + h)
			}
		}
		if g.chance(10) {
			b.WriteString(" user " + g.pick("root", "{ 0, >= 1000 }"))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// pfAddrCheckRandom compares the compiled evaluator with the reference interpreter on a random
// rule set over the address forms of this file, with and without an interface table.
func pfAddrCheckRandom(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
	conf := pfAddrRandomConf(r)
	var opts PFOptions
	if seed%3 != 0 {
		opts.Ifaces = pfIfaces("en0=192.0.2.10/24", "en0=192.0.2.11/24", "en0=2001:db8::10/64", "en0=fe80::1/64")
	}
	if seed%2 == 0 {
		opts.Groups = map[string][]string{"egress": {"en0"}}
	}
	rs, err := ParsePFOptions(context.Background(), []byte(conf), "f.conf", nil, opts)
	if err != nil {
		if strings.Contains(err.Error(), "families differ") || strings.Contains(err.Error(), "no valid combination") {
			return // the forms are drawn without regard to their families
		}
		t.Fatalf("seed %d: generated rule set does not parse: %v\n%s", seed, err, conf)
	}
	for range 64 {
		p := pfRandomPacket(r)
		if r.IntN(3) == 0 {
			p.Dst = []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.11"), netip.MustParseAddr("192.0.2.255"), netip.MustParseAddr("2001:db8::10"), netip.MustParseAddr("fe80::1")}[r.IntN(5)]
		}
		got, want := rs.Eval(&p), rs.pfEvalReference(&p)
		ex, _ := rs.Explain(&p)
		if got != want || ex != want {
			t.Fatalf("seed %d: packet %s (%+v):\nEval = %+v\nreference = %+v\nExplain = %+v\nrule set:\n%s", seed, p, p, got, want, ex, conf)
		}
	}
	if diff := cmp.Diff(rs.lintReference(), rs.Lint()); diff != "" {
		t.Fatalf("seed %d: Lint differs from the reference (-want +got):\n%s\nrule set:\n%s", seed, diff, conf)
	}
}

// FuzzPFAddrEval checks the compiled evaluator against the reference interpreter on rule sets
// using interface addresses, self, host names, no-route, scoped and mapped IPv6 and ranges.
func FuzzPFAddrEval(f *testing.F) {
	for seed := range uint64(16) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, seed uint64) { pfAddrCheckRandom(t, seed) })
}

func TestPFAddrEvalMatchesReference(t *testing.T) { checkSeeds(t, 5000, 600, 100, pfAddrCheckRandom) }

// FuzzParsePFAddr feeds the parser rule sets seeded from this file's tables: no panic, and the
// evaluators agree on whatever parses.
func FuzzParsePFAddr(f *testing.F) {
	for _, c := range pfAddrCases {
		f.Add(c.conf)
	}
	f.Fuzz(func(t *testing.T, conf string) {
		opts := PFOptions{Ifaces: pfIfaces("en0=192.0.2.10/24", "en0=2001:db8::10/64"), Services: pfTestServices}
		rs, err := ParsePFOptions(context.Background(), []byte(conf), "f.conf", nil, opts)
		if err != nil {
			return
		}
		r := rand.New(rand.NewPCG(3, 4))
		for range 16 {
			p := pfRandomPacket(r)
			got, want := rs.Eval(&p), rs.pfEvalReference(&p)
			if got != want {
				t.Fatalf("packet %s: Eval = %+v, reference = %+v\nrule set:\n%s", p, got, want, conf)
			}
		}
	})
}

// TestPFAddrLintUnsure checks that lint reports nothing that rests on an address it could not
// resolve or a user it cannot know: such a rule matches no packet in the simulator, but may match
// many in pf.
func TestPFAddrLintUnsure(t *testing.T) {
	for _, conf := range []string{
		"block all\npass in quick from example.com\npass in quick from 192.0.2.7\n",
		"pass all\nblock in quick from no-route to any\nblock in quick from urpf-failed to any\n",
		"pass all\nblock in quick from en0:network\nblock in quick from (utun0:peer)\n",
		"block all\npass out proto tcp user root\npass out proto tcp\n",
		"table <t> const { a.example }\nblock all\npass in from <t>\n",
		"block all\nanchor \"a\" from b.example {\n pass in all\n}\n",
	} {
		rs, err := ParsePF([]byte(conf), "l.conf", nil)
		if err != nil {
			t.Fatalf("ParsePF(%q) = %v", conf, err)
		}
		for _, f := range rs.Lint() {
			if f.Kind == PFLintNeverMatches || f.Kind == PFLintShadowed {
				t.Errorf("Lint(%q) reports %s: %s", conf, f.Kind, f.Message)
			}
		}
	}
}

// TestPFAddrTableFile checks the entries of a table file that pfctl resolves when it loads it:
// self and interfaces are read, and a host name is left out with a note that does not repeat it
// (the file may be any file root can read).
func TestPFAddrTableFile(t *testing.T) {
	files := map[string]string{"/etc/pf.t": "# own\nself en0:network\n\nsecret-token.example\n!192.0.2.128/25\n"}
	conf := "table <t> const file \"/etc/pf.t\"\nblock all\npass out to <t>\n"
	rs, err := ParsePFOptions(context.Background(), []byte(conf), "a.conf", pfMapLoader(files), PFOptions{Ifaces: pfIfaces("en0=192.0.2.10/24")})
	if err != nil {
		t.Fatalf("ParsePFOptions(%q) = %v", conf, err)
	}
	for _, w := range []pfWant{
		{"udp 192.0.2.10:1 -> 192.0.2.7:53 out via en0", Allow, "a.conf:3"},
		{"udp 192.0.2.10:1 -> 192.0.2.200:53 out via en0", Deny, "a.conf:2"},
		{"udp 192.0.2.10:1 -> 198.51.100.99:53 out via en0", Deny, "a.conf:2"},
		{"udp 127.0.0.1:1 -> 127.0.0.1:53 out via lo0", Allow, "a.conf:3"}, // self
	} {
		p := pfPkt(t, w.pkt)
		if v := pfAgree(t, rs, &p); v.Action != w.act || v.Where != w.where {
			t.Errorf("Eval(%s) = %s by %q, want %s by %q", w.pkt, v.Action, v.Where, w.act, w.where)
		}
	}
	want := []string{"a.conf:1: table <t>: /etc/pf.t:4: an entry is a host name, not resolved, so it is left out"}
	if diff := cmp.Diff(want, rs.Notes()); diff != "" {
		t.Errorf("Notes() (-want +got):\n%s", diff)
	}
}

// TestPFAntispoofDropsUnderReturnPolicy: pfctl builds antispoof's rules as "block drop" whatever
// "set block-policy" says (pf.conf(5), BLOCKING SPOOFED TRAFFIC), so a spoofed packet is dropped,
// not answered. Found by the corpus (freebsd10-example-faq-example1.conf:42).
func TestPFAntispoofDropsUnderReturnPolicy(t *testing.T) {
	conf := "set block-policy return\npass all\nantispoof for en0 inet\nblock in proto tcp to port 23\n"
	rs, err := ParsePFOptions(context.Background(), []byte(conf), "a.conf", nil, PFOptions{Ifaces: pfIfaces("en0=192.0.2.10/24")})
	if err != nil {
		t.Fatalf("ParsePFOptions(%q) = %v", conf, err)
	}
	for _, w := range []pfWant{
		{"tcp 192.0.2.5:51234 -> 203.0.113.10:22 in via en1 setup", Deny, "a.conf:3"},
		{"tcp 203.0.113.5:51234 -> 192.0.2.10:23 in via en0 setup", Reject, "a.conf:4"},
	} {
		p := pfPkt(t, w.pkt)
		if v := pfAgree(t, rs, &p); v.Action != w.act || v.Where != w.where {
			t.Errorf("Eval(%s) = %s by %q, want %s by %q", w.pkt, v.Action, v.Where, w.act, w.where)
		}
	}
}
