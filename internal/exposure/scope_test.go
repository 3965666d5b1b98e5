package exposure

import (
	"net/netip"
	"testing"
)

func TestClassify(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Scope
	}{
		{"0.0.0.0", ScopeAll},
		{"::", ScopeAll},
		{"::ffff:0.0.0.0", ScopeAll},
		{"127.0.0.1", ScopeLoopback},
		{"127.0.0.53", ScopeLoopback},
		{"::1", ScopeLoopback},
		{"::ffff:127.0.0.1", ScopeLoopback},
		{"169.254.10.1", ScopeLinkLocal},
		{"fe80::1%eth0", ScopeLinkLocal},
		{"10.1.2.3", ScopePrivate},
		{"172.16.0.1", ScopePrivate},
		{"172.31.255.255", ScopePrivate},
		{"172.32.0.1", ScopePublic},
		{"192.168.0.10", ScopePrivate},
		{"::ffff:192.168.0.10", ScopePrivate},
		{"fd12:3456::1", ScopePrivate},
		{"fc00::1", ScopePrivate},
		{"100.64.0.1", ScopeShared},
		{"100.127.255.254", ScopeShared},
		{"100.128.0.1", ScopePublic},
		{"224.0.0.251", ScopeMulticast},
		{"ff02::fb", ScopeMulticast},
		{"203.0.113.5", ScopePublic},
		{"2001:db8::5", ScopePublic},
	} {
		t.Run(tt.in, func(t *testing.T) {
			if got := Classify(netip.MustParseAddr(tt.in)); got != tt.want {
				t.Errorf("Classify(%s) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestReach(t *testing.T) {
	for _, tt := range []struct {
		in   Scope
		want Reach
	}{
		{ScopeLoopback, ReachLoopback},
		{ScopeLinkLocal, ReachLAN},
		{ScopePrivate, ReachLAN},
		{ScopeShared, ReachLAN},
		{ScopeMulticast, ReachLAN},
		{ScopeAll, ReachAny},
		{ScopePublic, ReachAny},
	} {
		if got := tt.in.Reach(); got != tt.want {
			t.Errorf("%s.Reach() = %s, want %s", tt.in, got, tt.want)
		}
	}
	for _, s := range []string{"loopback", "lan", "any"} {
		r, ok := ParseReach(s)
		if !ok || r.String() != s {
			t.Errorf("ParseReach(%q) = %v, %v, want %s", s, r, ok, s)
		}
	}
	if _, ok := ParseReach("public"); ok {
		t.Errorf("ParseReach(public) ok, want not")
	}
}
