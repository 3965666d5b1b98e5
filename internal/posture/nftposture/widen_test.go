package nftposture

import (
	"net/netip"
	"testing"

	"github.com/firewarden/firewarden/internal/posture/nftposture/fwtable"
)

func TestWidens(t *testing.T) {
	pfx := netip.MustParsePrefix
	ssh := fwtable.Service{Proto: "tcp", From: 22, To: 22}
	web := fwtable.Service{Proto: "tcp", From: 443, To: 443}
	base := fwtable.Spec{Allowed: []fwtable.Service{ssh}, Log: true}
	with := func(f func(*fwtable.Spec)) fwtable.Spec {
		s := base
		s.Allowed = append([]fwtable.Service(nil), base.Allowed...)
		f(&s)
		return s
	}
	for _, tt := range []struct {
		name      string
		cur, next fwtable.Spec
		want      bool
	}{
		{"the same table", base, base, false},
		{"a service more", base, with(func(s *fwtable.Spec) { s.Allowed = append(s.Allowed, web) }), true},
		{"a service fewer", with(func(s *fwtable.Spec) { s.Allowed = append(s.Allowed, web) }), base, false},
		{"the same port over udp", base, with(func(s *fwtable.Spec) { s.Allowed = []fwtable.Service{{Proto: "udp", From: 22, To: 22}} }), true},
		{"a range beyond", base, with(func(s *fwtable.Spec) { s.Allowed = []fwtable.Service{{Proto: "tcp", From: 22, To: 23}} }), true},
		{"a range split in two, as before", with(func(s *fwtable.Spec) {
			s.Allowed = []fwtable.Service{{Proto: "tcp", From: 8000, To: 8004}, {Proto: "tcp", From: 8005, To: 8009}}
		}), with(func(s *fwtable.Spec) { s.Allowed = []fwtable.Service{{Proto: "tcp", From: 8000, To: 8009}} }), false},
		{"any source where one was", with(func(s *fwtable.Spec) {
			s.Allowed = []fwtable.Service{{Proto: "tcp", From: 22, To: 22, Sources: []netip.Prefix{pfx("10.0.0.0/8")}}}
		}),
			base, true},
		{"a narrower source", base,
			with(func(s *fwtable.Spec) {
				s.Allowed = []fwtable.Service{{Proto: "tcp", From: 22, To: 22, Sources: []netip.Prefix{pfx("10.1.0.0/16")}}}
			}), false},
		{"a source inside one allowed", with(func(s *fwtable.Spec) {
			s.Allowed = []fwtable.Service{{Proto: "tcp", From: 22, To: 22, Sources: []netip.Prefix{pfx("10.0.0.0/8")}}}
		}),
			with(func(s *fwtable.Spec) {
				s.Allowed = []fwtable.Service{{Proto: "tcp", From: 22, To: 22, Sources: []netip.Prefix{pfx("10.1.0.0/16")}}}
			}), false},
		{"a wider source", with(func(s *fwtable.Spec) {
			s.Allowed = []fwtable.Service{{Proto: "tcp", From: 22, To: 22, Sources: []netip.Prefix{pfx("10.1.0.0/16")}}}
		}),
			with(func(s *fwtable.Spec) {
				s.Allowed = []fwtable.Service{{Proto: "tcp", From: 22, To: 22, Sources: []netip.Prefix{pfx("10.0.0.0/8")}}}
			}), true},
		{"an IPv6 source where only IPv4 was", with(func(s *fwtable.Spec) {
			s.Allowed = []fwtable.Service{{Proto: "tcp", From: 22, To: 22, Sources: []netip.Prefix{pfx("10.0.0.0/8")}}}
		}),
			with(func(s *fwtable.Spec) {
				s.Allowed = []fwtable.Service{{Proto: "tcp", From: 22, To: 22, Sources: []netip.Prefix{pfx("2001:db8::/32")}}}
			}), true},
		{"ping answered", base, with(func(s *fwtable.Spec) { s.ICMPEcho = true }), true},
		{"ping no longer answered", with(func(s *fwtable.Spec) { s.ICMPEcho = true }), base, false},
		{"reject instead of drop", base, with(func(s *fwtable.Spec) { s.Reject = true }), true},
		{"drop instead of reject", with(func(s *fwtable.Spec) { s.Reject = true }), base, false},
		{"logging off", base, with(func(s *fwtable.Spec) { s.Log = false }), true},
		{"logging on", with(func(s *fwtable.Spec) { s.Log = false }), base, false},
		{"a kept session dropped", with(func(s *fwtable.Spec) {
			s.Keep = []fwtable.Keep{{Source: netip.MustParseAddr("203.0.113.9"), Proto: "tcp", Port: 2222}}
		}), base, false},
		{"a kept session more", base, with(func(s *fwtable.Spec) {
			s.Keep = []fwtable.Keep{{Source: netip.MustParseAddr("203.0.113.9"), Proto: "tcp", Port: 2222}}
		}), true},
		{"a kept session an allowed service covers", base, with(func(s *fwtable.Spec) {
			s.Keep = []fwtable.Keep{{Source: netip.MustParseAddr("203.0.113.9"), Proto: "tcp", Port: 22}}
		}), false},
		{"a management port kept from anywhere", base, with(func(s *fwtable.Spec) { s.Keep = []fwtable.Keep{{Proto: "tcp", Port: 2222}} }), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := widens(tt.cur, tt.next); got != tt.want {
				t.Errorf("widens(%+v, %+v) = %v, want %v", tt.cur, tt.next, got, tt.want)
			}
		})
	}
}
