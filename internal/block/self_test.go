package block

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCheckAllowWidth(t *testing.T) {
	for _, tt := range []struct {
		in      string
		wantErr string
	}{
		{"192.0.2.1/32", ""},
		{"10.0.0.0/8", ""},
		{"2001:db8::/32", ""},
		{"0.0.0.0/0", "0.0.0.0/0 is wider than a /8: allowlisting it would exempt all of the Internet from every ban"},
		{"128.0.0.0/1", "128.0.0.0/1 is wider than a /8: allowlisting it would exempt 1/2 of the Internet from every ban"},
		{"::/0", "::/0 is wider than a /16: allowlisting it would exempt all of the Internet from every ban"},
		{"2000::/3", "2000::/3 is wider than a /16: allowlisting it would exempt 1/8 of the Internet from every ban"},
	} {
		err := CheckAllowWidth(netip.MustParsePrefix(tt.in))
		if got := fmt.Sprint(err); (tt.wantErr == "" && err != nil) || (tt.wantErr != "" && got != tt.wantErr) {
			t.Errorf("CheckAllowWidth(%s) = %v, want %q", tt.in, err, tt.wantErr)
		}
	}
}

func TestCheckSelf(t *testing.T) {
	local := []LocalAddr{
		{netip.MustParseAddr("127.0.0.1"), "lo"},
		{netip.MustParseAddr("::1"), "lo"},
		{netip.MustParseAddr("192.0.2.2"), "eth0"},
		{netip.MustParseAddr("fd00::2"), "eth0"},
		{netip.MustParseAddr("fe80::fc:ff:fe00:1%eth0"), "eth0"},
	}
	for _, tt := range []struct {
		in      string
		holds   []string
		wantErr string
	}{
		{"198.51.100.7/32", nil, ""},
		{"127.0.0.1/32", nil, "127.0.0.1 is a loopback address: banning it cuts this host off from itself"},
		{"127.1.2.3/32", nil, "127.1.2.3 is a loopback address: banning it cuts this host off from itself"},
		{"127.0.0.0/8", nil, "127.0.0.0/8 is loopback: banning it cuts this host off from itself"},
		{"127.0.0.0/16", nil, "127.0.0.0/16 is loopback: banning it cuts this host off from itself"},
		{"::1/128", nil, "::1 is a loopback address: banning it cuts this host off from itself"},
		{"192.0.2.2/32", nil, "192.0.2.2 is an address of this host (eth0): banning it cuts this host off from itself"},
		{"fd00::2/128", nil, "fd00::2 is an address of this host (eth0): banning it cuts this host off from itself"},
		{"fe80::fc:ff:fe00:1/128", nil, "fe80::fc:ff:fe00:1 is an address of this host (eth0): banning it cuts this host off from itself"},
		{"192.0.2.0/24", []string{"192.0.2.2, an address of this host (eth0)"}, ""},
		{"192.0.2.0/31", nil, ""},
		{"0.0.0.0/0", []string{"the loopback range 127.0.0.0/8", "192.0.2.2, an address of this host (eth0)"}, ""},
		{"64.0.0.0/2", []string{"the loopback range 127.0.0.0/8"}, ""},
		{"::/0", []string{"the loopback range ::1", "fd00::2, an address of this host (eth0)", "fe80::fc:ff:fe00:1, an address of this host (eth0)"}, ""},
	} {
		holds, err := CheckSelf(netip.MustParsePrefix(tt.in), local)
		if got := fmt.Sprint(err); (tt.wantErr == "" && err != nil) || (tt.wantErr != "" && got != tt.wantErr) {
			t.Errorf("CheckSelf(%s) error = %v, want %q", tt.in, err, tt.wantErr)
		}
		if diff := cmp.Diff(tt.holds, holds); diff != "" {
			t.Errorf("CheckSelf(%s) holds (-want +got):\n%s", tt.in, diff)
		}
	}
}
