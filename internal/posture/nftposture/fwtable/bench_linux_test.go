//go:build linux

package fwtable

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/firewarden/firewarden/internal/netnstest"
)

// bigSpec has n services, each from an IPv4 and an IPv6 source: 2n port rules.
func bigSpec(n int) Spec {
	var s Spec
	for i := range n {
		s.Allowed = append(s.Allowed, Service{Proto: "tcp", From: uint16(1000 + i), To: uint16(1000 + i), Sources: []netip.Prefix{
			netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/16", i%256)),
			netip.MustParsePrefix(fmt.Sprintf("2001:db8:%x::/48", i)),
		}})
	}
	return s
}

// BenchmarkWrite measures replacing the table (Write) and reading it back (Current), as fix
// does, for a small and a large table.
func BenchmarkWrite(b *testing.B) {
	fd := netnstest.New(b, hint)
	for _, n := range []int{3, 200, maxPortRules / 2} {
		s := bigSpec(n)
		b.Run(fmt.Sprintf("services=%d/write", n), func(b *testing.B) {
			for b.Loop() {
				if err := Write(fd, s); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("services=%d/current", n), func(b *testing.B) {
			for b.Loop() {
				if _, _, exact, err := Current(fd); err != nil || !exact {
					b.Fatalf("Current: exact %v, %v", exact, err)
				}
			}
		})
		b.Run(fmt.Sprintf("services=%d/take-restore", n), func(b *testing.B) {
			for b.Loop() {
				snap, err := Take(fd)
				if err != nil {
					b.Fatal(err)
				}
				if err := Restore(fd, snap); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
