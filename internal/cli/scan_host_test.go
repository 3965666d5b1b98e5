package cli

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeLookup resolves from a table, as a resolver asked for "ip" does.
func fakeLookup(table map[string][]string) func(context.Context, string, string) ([]netip.Addr, error) {
	return func(_ context.Context, network, host string) ([]netip.Addr, error) {
		if network != "ip" {
			return nil, errors.New("fakeLookup: only ip")
		}
		var out []netip.Addr
		for _, s := range table[host] {
			out = append(out, netip.MustParseAddr(s))
		}
		if len(out) == 0 {
			return nil, errors.New("no such host")
		}
		return out, nil
	}
}

func TestResolveScanHost(t *testing.T) {
	lookup := fakeLookup(map[string][]string{
		"both.example": {"2001:db8::10", "192.0.2.10", "2001:db8::11", "::ffff:192.0.2.11"},
		"v6.example":   {"2001:db8::20"},
		"v4.example":   {"192.0.2.30"},
	})
	// An interface every Linux and macOS host has, for the zones.
	lo := loopbackInterface(t)
	for _, c := range []struct {
		name, host string
		family     int
		want       string
		others     []string
		wantErr    string
	}{
		{name: "IPv4 literal", host: "192.0.2.1", want: "192.0.2.1"},
		{name: "IPv6 literal", host: "2001:db8::1", want: "2001:db8::1"},
		{name: "bracketed", host: "[2001:db8::1]", want: "2001:db8::1"},
		{name: "mapped", host: "::ffff:192.0.2.1", want: "192.0.2.1"},
		{name: "link-local with zone", host: "fe80::1%" + lo, want: "fe80::1%" + lo},
		{name: "link-local with zone, bracketed", host: "[fe80::1%" + lo + "]", family: 6, want: "fe80::1%" + lo},
		{name: "link-local without zone", host: "fe80::1", wantErr: "fe80::1 is link-local: name the interface, as fe80::1%"},
		{name: "zone of no interface", host: "fe80::1%nosuch0", wantErr: "no interface nosuch0 on this host"},
		{name: "zone on a global address", host: "2001:db8::1%" + lo, wantErr: "a zone (%" + lo + ") only goes on a link-local address"},
		{name: "zone on IPv4", host: "192.0.2.1%" + lo, wantErr: "a zone (%" + lo + ") only goes on an IPv6 link-local address"},
		{name: "name: IPv4 first", host: "both.example", want: "192.0.2.10", others: []string{"2001:db8::10", "2001:db8::11", "192.0.2.11"}},
		{name: "name -4", host: "both.example", family: 4, want: "192.0.2.10", others: []string{"2001:db8::10", "2001:db8::11", "192.0.2.11"}},
		{name: "name -6", host: "both.example", family: 6, want: "2001:db8::10", others: []string{"192.0.2.10", "2001:db8::11", "192.0.2.11"}},
		{name: "IPv6-only name", host: "v6.example", want: "2001:db8::20"},
		{name: "IPv6-only name -4", host: "v6.example", family: 4, wantErr: "v6.example has no IPv4 address (it has 2001:db8::20); leave out -4"},
		{name: "IPv4-only name -6", host: "v4.example", family: 6, wantErr: "v4.example has no IPv6 address (it has 192.0.2.30); leave out -6"},
		{name: "IPv6 literal -4", host: "2001:db8::1", family: 4, wantErr: "2001:db8::1 is an IPv6 address, and -4 asks for IPv4"},
		{name: "IPv4 literal -6", host: "192.0.2.1", family: 6, wantErr: "192.0.2.1 is an IPv4 address, and -6 asks for IPv6"},
		{name: "unknown name", host: "nowhere.example", wantErr: "cannot resolve nowhere.example"},
		{name: "not a name", host: "a b", wantErr: `"a b" is not a host name or an address`},
		{name: "empty", host: "[]", wantErr: `"[]" is not a host name or an address`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, others, err := resolveScanHost(t.Context(), c.host, c.family, lookup)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("resolveScanHost(%q, %d) = %v, %v, want an error with %q", c.host, c.family, got, err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("resolveScanHost(%q, %d): %v", c.host, c.family, err)
			}
			if got.String() != c.want {
				t.Errorf("resolveScanHost(%q, %d) = %v, want %s", c.host, c.family, got, c.want)
			}
			var os []string
			for _, a := range others {
				os = append(os, a.String())
			}
			if diff := cmp.Diff(c.others, os); diff != "" {
				t.Errorf("resolveScanHost(%q, %d) other addresses (-want +got):\n%s", c.host, c.family, diff)
			}
		})
	}
}
