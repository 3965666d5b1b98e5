//go:build linux

package fwtable

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"github.com/firewarden/firewarden/internal/netnstest"
)

var equateAddrs = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})

// specs are tables Current must read back exactly as Write was given them.
var specs = []struct {
	name string
	s    Spec
}{
	{"empty", Spec{}},
	{"ssh", Spec{Allowed: []Service{{Proto: "tcp", From: 22, To: 22}}}},
	{"everything", Spec{
		Allowed: []Service{
			{Proto: "tcp", From: 22, To: 22, Sources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
			{Proto: "udp", From: 60000, To: 61000},
			{Proto: "tcp", From: 443, To: 443, Sources: []netip.Prefix{
				netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/48"),
				netip.MustParsePrefix("198.51.100.7/32"), netip.MustParsePrefix("2001:db8:1::1/128"),
				netip.MustParsePrefix("0.0.0.0/0")}},
		},
		Keep: []Keep{
			{Source: netip.MustParseAddr("192.0.2.9"), Proto: "tcp", Port: 22, Why: "the SSH session this fix runs under"},
			{Source: netip.MustParseAddr("2001:db8::9"), Proto: "tcp", Port: 2222, Why: "management port"},
			{Proto: "udp", Port: 161, Why: "any source"},
		},
		ICMPEcho: true, Log: true, LogPrefix: "fw: ", Reject: true,
	}},
	{"log with the default prefix", Spec{Log: true}},
}

func TestWriteCurrent(t *testing.T) {
	_, fd := namedNS(t)
	if _, present, _, err := Current(fd); err != nil || present {
		t.Fatalf("Current(empty namespace) = present %v, %v, want absent", present, err)
	}
	for _, tc := range specs {
		t.Run(tc.name, func(t *testing.T) {
			if err := Write(fd, tc.s); err != nil {
				t.Fatalf("Write: %v", err)
			}
			got, present, exact, err := Current(fd)
			if err != nil || !present || !exact {
				t.Fatalf("Current after Write = present %v, exact %v, %v; want present, exact", present, exact, err)
			}
			if diff := cmp.Diff(tc.s, got, equateAddrs, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Current after Write (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNFTList compares the table with what nft prints, so that an operator reading
// `nft list ruleset` sees what firewarden meant.
func TestNFTList(t *testing.T) {
	ns, fd := namedNS(t)
	s := Spec{
		Allowed: []Service{
			{Proto: "tcp", From: 443, To: 443},
			{Proto: "udp", From: 60000, To: 61000, Sources: []netip.Prefix{
				netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}},
		},
		Keep:     []Keep{{Source: netip.MustParseAddr("192.0.2.9"), Proto: "tcp", Port: 22, Why: "the SSH session this fix runs under"}},
		ICMPEcho: true, Log: true,
	}
	if err := Write(fd, s); err != nil {
		t.Fatal(err)
	}
	got := nftRun(t, ns, "list", "table", "inet", Table)
	want := `table inet firewarden_posture {
	chain input {
		type filter hook input priority filter - 1; policy drop;
		ct state established,related accept comment "established and related connections"
		ct state invalid drop comment "invalid packets"
		iifname "lo" accept comment "loopback"
		icmpv6 type nd-neighbor-solicit ip6 hoplimit 255 accept comment "IPv6 neighbour discovery: neighbour solicitation"
		icmpv6 type nd-neighbor-advert ip6 hoplimit 255 accept comment "IPv6 neighbour discovery: neighbour advertisement"
		icmpv6 type nd-router-advert ip6 hoplimit 255 accept comment "IPv6 router advertisement"
		icmpv6 type packet-too-big accept comment "ICMPv6 packet too big (path MTU discovery)"
		icmpv6 type destination-unreachable accept comment "ICMPv6 destination unreachable"
		icmpv6 type time-exceeded accept comment "ICMPv6 time exceeded"
		icmpv6 type parameter-problem accept comment "ICMPv6 parameter problem"
		icmp type echo-request accept comment "ICMP echo request (ping)"
		icmpv6 type echo-request accept comment "ICMPv6 echo request (ping)"
		ip saddr 192.0.2.9 tcp dport 22 accept comment "keep: the SSH session this fix runs under"
		tcp dport 443 accept comment "allow tcp 443"
		ip saddr 10.0.0.0/8 udp dport 60000-61000 accept comment "allow udp 60000-61000"
		ip6 saddr 2001:db8::/32 udp dport 60000-61000 accept comment "allow udp 60000-61000"
		limit rate 5/second burst 10 packets counter packets 0 bytes 0 log prefix "firewarden drop: " comment "log what is dropped, rate-limited"
		counter packets 0 bytes 0 drop comment "drop the rest"
	}
}
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("nft list table inet %s (-want +got):\n%s", Table, diff)
	}
	s.Log, s.Reject = false, true
	if err := Write(fd, s); err != nil {
		t.Fatal(err)
	}
	got = nftRun(t, ns, "list", "table", "inet", Table)
	for _, line := range []string{
		`meta l4proto tcp counter packets 0 bytes 0 reject with tcp reset comment "reject the rest: TCP reset"`,
		`counter packets 0 bytes 0 reject comment "reject the rest: ICMP port unreachable"`,
	} {
		if !strings.Contains(got, "\t\t"+line+"\n") {
			t.Errorf("nft list table with Reject lacks %q:\n%s", line, got)
		}
	}
	if strings.Contains(got, "log prefix") {
		t.Errorf("nft list table without Log has a log rule:\n%s", got)
	}
}

// TestCurrentEdited edits the table the way an operator would, with nft, and checks that
// Current says it is no longer exact, with the best reading of it.
func TestCurrentEdited(t *testing.T) {
	base := Spec{
		Allowed: []Service{{Proto: "tcp", From: 443, To: 443}},
		Keep:    []Keep{{Source: netip.MustParseAddr("192.0.2.9"), Proto: "tcp", Port: 22, Why: "ssh"}},
		Log:     true,
	}
	for _, tc := range []struct {
		name string
		nft  []string // each one nft command line, run after Write(base)
		want Spec
	}{
		{
			name: "a rule added after the drop",
			nft:  []string{"add rule inet firewarden_posture input tcp dport 23 accept"},
			want: base,
		},
		{
			name: "a rule inserted",
			nft:  []string{"insert rule inet firewarden_posture input tcp dport 23 accept"},
			want: Spec{Allowed: []Service{{Proto: "tcp", From: 23, To: 23}, base.Allowed[0]}, Keep: base.Keep, Log: true},
		},
		{
			name: "the rules flushed",
			nft:  []string{"flush chain inet firewarden_posture input"},
			want: Spec{},
		},
		{
			name: "a service added with a comment of ours",
			nft:  []string{`insert rule inet firewarden_posture input tcp dport 8080 accept comment "allow tcp 8080"`},
			want: Spec{Allowed: []Service{{Proto: "tcp", From: 8080, To: 8080}, base.Allowed[0]}, Keep: base.Keep, Log: true},
		},
		{
			name: "policy accept",
			nft:  []string{"add chain inet firewarden_posture input { type filter hook input priority filter - 1; policy accept; }"},
			want: base,
		},
		{
			// What firewarden wrote before its chain moved to filter - 1: fix writes it again.
			name: "an older firewarden's chain at priority filter",
			nft: []string{"delete chain inet firewarden_posture input",
				"add chain inet firewarden_posture input { type filter hook input priority filter; policy drop; }",
				"add rule inet firewarden_posture input tcp dport 22 accept"},
			want: Spec{Allowed: []Service{{Proto: "tcp", From: 22, To: 22}}},
		},
		{
			name: "a counter cleared is not an edit",
			nft:  []string{"reset counters table inet firewarden_posture"},
			want: base,
		},
		{
			name: "the table made dormant",
			nft:  []string{"add table inet firewarden_posture { flags dormant; }"},
			want: base,
		},
		{
			name: "a set added",
			nft:  []string{"add set inet firewarden_posture s { type ipv4_addr; }"},
			want: base,
		},
		{
			name: "a chain added",
			nft:  []string{"add chain inet firewarden_posture other"},
			want: base,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns, fd := namedNS(t)
			if err := Write(fd, base); err != nil {
				t.Fatal(err)
			}
			for _, line := range tc.nft {
				nftRun(t, ns, strings.Fields(line)...)
			}
			got, present, exact, err := Current(fd)
			if err != nil || !present {
				t.Fatalf("Current = present %v, %v; want present", present, err)
			}
			wantExact := tc.name == "a counter cleared is not an edit"
			if exact != wantExact {
				t.Errorf("Current exact = %v, want %v", exact, wantExact)
			}
			if diff := cmp.Diff(tc.want, got, equateAddrs, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Current (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWriteAtomic makes the kernel refuse the last message of a Write transaction and checks
// that the table the transaction would have replaced is still there, whole.
func TestWriteAtomic(t *testing.T) {
	_, fd := namedNS(t)
	old := specs[2].s
	if err := Write(fd, old); err != nil {
		t.Fatal(err)
	}
	c, err := conn(fd)
	if err != nil {
		t.Fatal(err)
	}
	queueWrite(c, Spec{})
	tb := table()
	c.AddRule(&nftables.Rule{Table: tb, Chain: &nftables.Chain{Name: "missing", Table: tb},
		Exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}}})
	if err := c.Flush(); err == nil {
		t.Fatal("Flush of a transaction with a rule in a missing chain succeeded")
	}
	got, present, exact, err := Current(fd)
	if err != nil || !present || !exact {
		t.Fatalf("Current after a failed transaction = present %v, exact %v, %v; want the old table", present, exact, err)
	}
	if diff := cmp.Diff(old, got, equateAddrs, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Current after a failed transaction (-want +got):\n%s", diff)
	}
}

func TestRemove(t *testing.T) {
	_, fd := namedNS(t)
	if err := Remove(fd); err != nil {
		t.Fatalf("Remove(no table) = %v, want nil", err)
	}
	if err := Write(fd, specs[1].s); err != nil {
		t.Fatal(err)
	}
	if err := Remove(fd); err != nil {
		t.Fatalf("Remove = %v", err)
	}
	if _, present, _, err := Current(fd); err != nil || present {
		t.Errorf("Current after Remove = present %v, %v; want absent", present, err)
	}
}

func TestWriteInvalid(t *testing.T) {
	_, fd := namedNS(t)
	if err := Write(fd, Spec{Allowed: []Service{{Proto: "icmp", From: 1, To: 1}}}); err == nil {
		t.Fatal("Write(protocol icmp) succeeded")
	}
	if _, present, _, err := Current(fd); err != nil || present {
		t.Errorf("Current after an invalid Write = present %v, %v; want nothing written", present, err)
	}
}

// TestCurrentNamespace checks that netnsFd 0 means the namespace of the calling thread.
func TestCurrentNamespace(t *testing.T) {
	_, fd := namedNS(t)
	err := netnstest.InNetNS(fd, func() error {
		if err := Write(0, specs[1].s); err != nil {
			return err
		}
		_, present, exact, err := Current(0)
		if err == nil && (!present || !exact) {
			t.Errorf("Current(0) in the namespace = present %v, exact %v; want both", present, exact)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, present, _, err := Current(fd); err != nil || !present {
		t.Errorf("Current(fd) after Write(0) in its namespace = present %v, %v; want present", present, err)
	}
	var snap Snapshot
	if err := netnstest.InNetNS(fd, func() (err error) {
		snap, err = Take(0)
		return err
	}); err != nil || snap.Absent {
		t.Fatalf("Take(0) in the namespace = absent %v, %v; want the table", snap.Absent, err)
	}
	if err := netnstest.InNetNS(fd, func() error { return Remove(0) }); err != nil {
		t.Fatal(err)
	}
	if err := netnstest.InNetNS(fd, func() error { return Restore(0, snap) }); err != nil {
		t.Fatal(err)
	}
	if _, present, exact, err := Current(fd); err != nil || !present || !exact {
		t.Errorf("Current(fd) after Restore(0) in its namespace = present %v, exact %v, %v; want both", present, exact, err)
	}
	if err := netnstest.InNetNS(fd, func() error { return Remove(0) }); err != nil {
		t.Fatal(err)
	}
	if _, present, _, err := Current(fd); err != nil || present {
		t.Errorf("Current(fd) after Remove(0) in its namespace = present %v, %v; want absent", present, err)
	}
}

// TestWriteLarge writes the largest table validate allows, in one transaction (beyond the
// default socket buffers, which took about 400 rules).
func TestWriteLarge(t *testing.T) {
	_, fd := namedNS(t)
	s := bigSpec(maxPortRules / 2)
	if n := portRules(s); n != maxPortRules {
		t.Fatalf("bigSpec has %d port rules, want %d", n, maxPortRules)
	}
	if err := Write(fd, s); err != nil {
		t.Fatalf("Write(%d port rules): %v", maxPortRules, err)
	}
	if _, present, exact, err := Current(fd); err != nil || !present || !exact {
		t.Errorf("Current after a large Write = present %v, exact %v, %v; want both", present, exact, err)
	}
	s.Keep = append(s.Keep, Keep{Proto: "tcp", Port: 22})
	if err := Write(fd, s); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("Write(%d port rules) = %v, want ErrInvalidSpec", maxPortRules+1, err)
	}
}
