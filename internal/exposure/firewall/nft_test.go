package firewall

import (
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/exposure"
	"github.com/firewarden/firewarden/internal/posture/nftposture/ruleset"
)

func TestReachLinux(t *testing.T) {
	input := ruleset.Where{Family: "inet", Table: "filter", Chain: "input", Handle: 7, Owner: "nft"}
	v4 := ruleset.Family{Family: "ipv4", Open: []ruleset.Open{
		{Proto: "tcp", From: 22, To: 22, By: input},
		{Proto: "tcp", From: 8000, To: 8100, Sources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, By: input},
		{Proto: "udp", From: 53, To: 53, IIF: "eth1", By: input},
		{Proto: "tcp", From: 443, To: 443, Except: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}, By: input},
	}}
	v6 := ruleset.Family{Family: "ipv6", Open: []ruleset.Open{{Proto: "tcp", From: 443, To: 443, By: input}}}
	filtering := ruleset.Analysis{Filtering: true, Families: []ruleset.Family{v4, v6}}
	noted := filtering
	noted.Notes = []ruleset.Note{{Where: input, What: "expression osf"}}
	l := func(proto, addr string) exposure.Listener {
		ap := netip.MustParseAddrPort(addr)
		return exposure.Listener{Proto: proto, Addr: ap, Scope: exposure.Classify(ap.Addr())}
	}
	for _, tt := range []struct {
		name string
		a    ruleset.Analysis
		l    exposure.Listener
		want exposure.Reachability
	}{
		{"no filtering", ruleset.Analysis{}, l("tcp", "0.0.0.0:6379"),
			exposure.Reachability{Verdict: exposure.FirewallAllowed, Why: "no nftables chain filters inbound traffic"}},
		{"loopback", filtering, l("tcp", "127.0.0.1:22"),
			exposure.Reachability{Verdict: exposure.FirewallLoopbackOnly, Why: "bound to loopback: no other host can connect, whatever the firewall says"}},
		{"open", filtering, l("tcp", "0.0.0.0:22"),
			exposure.Reachability{Verdict: exposure.FirewallAllowed, Why: "nftables accepts new tcp connections to port 22 from anywhere (inet filter input handle 7)"}},
		{"closed", filtering, l("tcp", "0.0.0.0:6379"),
			exposure.Reachability{Verdict: exposure.FirewallBlocked, Why: "no nftables rule accepts new tcp connections to port 6379 over ipv4"}},
		{"other protocol", filtering, l("udp", "0.0.0.0:22"),
			exposure.Reachability{Verdict: exposure.FirewallBlocked, Why: "no nftables rule accepts new udp connections to port 22 over ipv4"}},
		{"in a range, from sources", filtering, l("tcp", "192.168.1.10:8080"),
			exposure.Reachability{Verdict: exposure.FirewallAllowed, Why: "nftables accepts new tcp connections to port 8080 from 10.0.0.0/8 only (inet filter input handle 7)"}},
		{"on an interface", filtering, l("udp", "[::ffff:10.0.0.1]:53"),
			exposure.Reachability{Verdict: exposure.FirewallAllowed, Why: "nftables accepts new udp connections to port 53 from anywhere on eth1 (inet filter input handle 7)"}},
		{"dual stack, both", filtering, l("tcp", "[::]:443"),
			exposure.Reachability{Verdict: exposure.FirewallAllowed, Why: "nftables accepts new tcp connections to port 443 over ipv4 from anywhere but 203.0.113.0/24 (inet filter input handle 7); over ipv6 from anywhere (inet filter input handle 7)"}},
		{"dual stack, ipv4 only", filtering, l("tcp", "[::]:22"),
			exposure.Reachability{Verdict: exposure.FirewallAllowed, Why: "nftables accepts new tcp connections to port 22 over ipv4 from anywhere (inet filter input handle 7)"}},
		{"ipv6 address, ipv4 open", filtering, l("tcp", "[2001:db8::1]:22"),
			exposure.Reachability{Verdict: exposure.FirewallBlocked, Why: "no nftables rule accepts new tcp connections to port 22 over ipv6"}},
		{"notes", noted, l("tcp", "0.0.0.0:6379"),
			exposure.Reachability{Verdict: exposure.FirewallBlocked, Why: "no nftables rule accepts new tcp connections to port 6379 over ipv4",
				Caveats: []string{"conditional: the nftables ruleset holds what firewarden does not model: expression osf (inet filter input handle 7)"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ReachLinux(&tt.a, tt.l)); diff != "" {
				t.Errorf("ReachLinux(%s/%s) (-want +got):\n%s", tt.l.Proto, tt.l.Addr, diff)
			}
		})
	}
}

// A ruleset that cannot be read makes every verdict but loopback's unknown, with one warning.
func TestAddLinuxUnreadable(t *testing.T) {
	rep := exposure.Report{Listeners: []exposure.Listener{
		{Proto: "tcp", Addr: netip.MustParseAddrPort("0.0.0.0:22"), Scope: exposure.ScopeAll},
		{Proto: "tcp", Addr: netip.MustParseAddrPort("127.0.0.1:5432"), Scope: exposure.ScopeLoopback},
	}}
	AddLinux(ruleset.Analysis{}, errors.New("operation not permitted"), nil, &rep)
	var got []string
	for _, l := range rep.Listeners {
		got = append(got, l.Firewall.Verdict)
	}
	if diff := cmp.Diff([]string{exposure.FirewallUnknown, exposure.FirewallLoopbackOnly}, got); diff != "" {
		t.Errorf("AddLinux(unreadable) verdicts (-want +got):\n%s", diff)
	}
	if len(rep.Warnings) != 1 {
		t.Errorf("AddLinux(unreadable) warnings %q, want one", rep.Warnings)
	}
}

// A container's published port gets no verdict: on Linux it passes the forward hook after
// Docker's DNAT, which the input analysis does not cover.
func TestAddLinuxSkipsContainers(t *testing.T) {
	rep := exposure.Report{Listeners: []exposure.Listener{
		{Proto: "tcp", Addr: netip.MustParseAddrPort("0.0.0.0:8065"), Scope: exposure.ScopeAll, Container: &exposure.Container{Runtime: "docker", Name: "mattermost"}},
		{Proto: "tcp", Addr: netip.MustParseAddrPort("0.0.0.0:22"), Scope: exposure.ScopeAll},
	}}
	AddLinux(ruleset.Analysis{}, nil, nil, &rep)
	if rep.Listeners[0].Firewall != nil || rep.Listeners[1].Firewall == nil {
		t.Errorf("AddLinux: container verdict %+v, host verdict %+v; want none and one", rep.Listeners[0].Firewall, rep.Listeners[1].Firewall)
	}
}

// Legacy iptables beside the ruleset makes every verdict read from nftables conditional, naming
// what it holds; loopback's verdict does not depend on any firewall.
func TestAddLinuxLegacy(t *testing.T) {
	rep := exposure.Report{Listeners: []exposure.Listener{
		{Proto: "tcp", Addr: netip.MustParseAddrPort("0.0.0.0:22"), Scope: exposure.ScopeAll},
		{Proto: "tcp", Addr: netip.MustParseAddrPort("127.0.0.1:5432"), Scope: exposure.ScopeLoopback},
	}}
	note := "legacy iptables (ip, not nftables) holds table filter: 1 rule, INPUT policy DROP, which firewarden does not read (list them: /usr/sbin/iptables-legacy-save)"
	AddLinux(ruleset.Analysis{}, nil, []string{note}, &rep)
	if got := rep.Listeners[0].Firewall; got.Verdict != exposure.FirewallAllowed || !slices.Contains(got.Caveats, "conditional: "+note) {
		t.Errorf("AddLinux(legacy) 22/tcp = %+v, want allowed with the legacy caveat", got)
	}
	if got := rep.Listeners[1].Firewall; len(got.Caveats) != 0 {
		t.Errorf("AddLinux(legacy) loopback caveats = %q, want none", got.Caveats)
	}
}
