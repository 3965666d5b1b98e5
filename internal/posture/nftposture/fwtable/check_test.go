package fwtable

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidate(t *testing.T) {
	tcp22 := Service{Proto: "tcp", From: 22, To: 22}
	for _, tc := range []struct {
		name    string
		in      Spec
		want    Spec
		wantErr string
	}{
		{name: "empty", in: Spec{}, want: Spec{Allowed: []Service{}, Keep: []Keep{}}},
		{name: "one port", in: Spec{Allowed: []Service{tcp22}}, want: Spec{Allowed: []Service{tcp22}, Keep: []Keep{}}},
		{
			name: "mapped and unmasked sources",
			in: Spec{Allowed: []Service{{Proto: "udp", From: 1, To: 9, Sources: []netip.Prefix{
				netip.MustParsePrefix("::ffff:10.1.2.3/104"), netip.MustParsePrefix("2001:db8::1/32")}}},
				Keep: []Keep{{Source: netip.MustParseAddr("::ffff:192.0.2.1"), Proto: "tcp", Port: 22}}},
			want: Spec{Allowed: []Service{{Proto: "udp", From: 1, To: 9, Sources: []netip.Prefix{
				netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}}},
				Keep: []Keep{{Source: netip.MustParseAddr("192.0.2.1"), Proto: "tcp", Port: 22}}},
		},
		{name: "bad protocol", in: Spec{Allowed: []Service{{Proto: "sctp", From: 1, To: 1}}}, wantErr: `protocol "sctp"`},
		{name: "port 0", in: Spec{Allowed: []Service{{Proto: "tcp"}}}, wantErr: "port range 0-0"},
		{name: "range backwards", in: Spec{Allowed: []Service{{Proto: "tcp", From: 9, To: 8}}}, wantErr: "port range 9-8"},
		{name: "invalid source", in: Spec{Allowed: []Service{{Proto: "tcp", From: 1, To: 1, Sources: []netip.Prefix{{}}}}}, wantErr: "source 1"},
		{name: "keep port 0", in: Spec{Keep: []Keep{{Proto: "tcp"}}}, wantErr: "keep 1: port 0"},
		{name: "keep protocol", in: Spec{Keep: []Keep{{Proto: "", Port: 22}}}, wantErr: `keep 1: protocol ""`},
		{name: "long log prefix", in: Spec{LogPrefix: strings.Repeat("x", 128)}, wantErr: "log prefix"},
		{name: "NUL in log prefix", in: Spec{LogPrefix: "a\x00b"}, wantErr: "log prefix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.in.validate()
			if tc.wantErr != "" {
				if err == nil || !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("validate(%+v) = %v, want an ErrInvalidSpec saying %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("validate(%+v) = %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
				cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
				t.Errorf("validate(%+v) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestComment(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"keep: ssh", "keep: ssh"},
		{"a\x00b", "ab"},
		{strings.Repeat("x", 200), strings.Repeat("x", 127)},
		{strings.Repeat("x", 126) + "é", strings.Repeat("x", 126)}, // never half a character
	} {
		if got := comment(tc.in); got != tc.want {
			t.Errorf("comment(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
