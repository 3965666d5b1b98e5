package nftposture

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/firewarden/firewarden/internal/posture/nftposture/ruleset"
)

// The report joins entries that together open a port from anywhere; it keeps apart those that
// do not.
func TestMergeOpen(t *testing.T) {
	one := []netip.Prefix{netip.MustParsePrefix("198.51.100.7/32")}
	ten := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		name string
		in   []ruleset.Open
		want string
	}{
		{"kept session and the rest", []ruleset.Open{
			{Proto: "tcp", From: 22, To: 22, Sources: one},
			{Proto: "tcp", From: 22, To: 22, Except: one},
		}, "22/tcp from anywhere"},
		{"anywhere swallows a narrower entry", []ruleset.Open{
			{Proto: "tcp", From: 22, To: 22, Sources: ten},
			{Proto: "tcp", From: 22, To: 22},
		}, "22/tcp from anywhere"},
		{"a gap stays", []ruleset.Open{
			{Proto: "tcp", From: 22, To: 22, Sources: ten},
			{Proto: "tcp", From: 22, To: 22, Except: one},
		}, "22/tcp from 10.0.0.0/8; 22/tcp from anywhere but 198.51.100.7/32"},
		{"another interface stays apart", []ruleset.Open{
			{Proto: "tcp", From: 22, To: 22, Sources: one},
			{Proto: "tcp", From: 22, To: 22, Except: one, IIF: "eth1"},
		}, "22/tcp from 198.51.100.7/32; 22/tcp from anywhere but 198.51.100.7/32 on eth1"},
		{"other ports stay apart", []ruleset.Open{
			{Proto: "tcp", From: 22, To: 22, Sources: one},
			{Proto: "udp", From: 22, To: 22, Except: one},
		}, "22/tcp from 198.51.100.7/32; 22/udp from anywhere but 198.51.100.7/32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, o := range mergeOpen(tc.in) {
				got = append(got, openString(o))
			}
			if s := strings.Join(got, "; "); s != tc.want {
				t.Errorf("mergeOpen(%v) = %q, want %q", tc.in, s, tc.want)
			}
		})
	}
}
