package block

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

var parseTests = []struct {
	in, want string // want "" means an error
	hostName bool
}{
	{in: "192.0.2.1", want: "192.0.2.1/32"},
	{in: " 192.0.2.1 ", want: "192.0.2.1/32"},
	{in: "198.51.100.0/24", want: "198.51.100.0/24"},
	{in: "198.51.100.77/24", want: "198.51.100.0/24"},
	{in: "0.0.0.0/0", want: "0.0.0.0/0"},
	{in: "2001:db8::1", want: "2001:db8::1/128"},
	{in: "2001:DB8::1", want: "2001:db8::1/128"},
	{in: "2001:db8::1/64", want: "2001:db8::/64"},
	{in: "fe80::1%en0", want: "fe80::1/128"},
	{in: "fe80::1%eth0/64", want: "fe80::/64"},
	{in: "::ffff:192.0.2.1", want: "192.0.2.1/32"},
	{in: "::ffff:192.0.2.1/120", want: "192.0.2.0/24"},
	{in: "::ffff:c000:201", want: "192.0.2.1/32"},
	{in: "::ffff:0:0/96", want: "0.0.0.0/0"},
	{in: "::ffff:0:0/95", want: "::fffe:0:0/95"},
	{in: "::1", want: "::1/128"},
	{in: "example.org", hostName: true},
	{in: "localhost", hostName: true},
	{in: "mail-1.example.org.", hostName: true},
	{in: "example.org/24", hostName: true},
	{in: ""},
	{in: "192.0.2.300"},
	{in: "192.0.2.1/33"},
	{in: "192.0.2.1/-1"},
	{in: "192.0.2.1/+8"},
	{in: "192.0.2.1/08"},
	{in: "192.0.2.1/"},
	{in: "2001:db8::/129"},
	{in: "1.2.3.4:80"},
	{in: "[2001:db8::1]"},
	{in: "192.0.2.1 198.51.100.1"},
	{in: "0x7f.1"},
}

func TestParsePrefix(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePrefix(tt.in)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("ParsePrefix(%q) = %v, want an error", tt.in, got)
				}
				if errors.Is(err, ErrHostName) != tt.hostName {
					t.Errorf("ParsePrefix(%q) error %q: host name %v, want %v", tt.in, err, !tt.hostName, tt.hostName)
				}
				if tt.hostName && !strings.Contains(err.Error(), "No DNS names allowed") {
					t.Errorf("ParsePrefix(%q) error %q does not quote afctl", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePrefix(%q) = %v", tt.in, err)
			}
			if got.String() != tt.want {
				t.Errorf("ParsePrefix(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestFormatPrefix(t *testing.T) {
	for in, want := range map[string]string{"192.0.2.1/32": "192.0.2.1", "192.0.2.0/24": "192.0.2.0/24", "2001:db8::1/128": "2001:db8::1"} {
		if got := FormatPrefix(netip.MustParsePrefix(in)); got != want {
			t.Errorf("FormatPrefix(%s) = %s, want %s", in, got, want)
		}
	}
}

// FuzzParsePrefix checks that whatever parses is normalised and prints back to itself.
func FuzzParsePrefix(f *testing.F) {
	for _, tt := range parseTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePrefix(s)
		if err != nil {
			return
		}
		if p != p.Masked() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
			t.Fatalf("ParsePrefix(%q) = %v, not normalised", s, p)
		}
		again, err := ParsePrefix(p.String())
		if err != nil || again != p {
			t.Fatalf("ParsePrefix(%q) = %v, %v; want %v", p.String(), again, err, p)
		}
		again, err = ParsePrefix(FormatPrefix(p))
		if err != nil || again != p {
			t.Fatalf("ParsePrefix(FormatPrefix(%v)) = %v, %v", p, again, err)
		}
	})
}

func TestCheckWidth(t *testing.T) {
	for _, tt := range []struct {
		in      string
		wantErr string
	}{
		{"192.0.2.1/32", ""},
		{"10.0.0.0/8", ""},
		{"8.0.0.0/7", "8.0.0.0/7 is wider than a /8: it would cut this host off from 1/128 of the Internet; give --wide if that is meant"},
		{"0.0.0.0/0", "0.0.0.0/0 is wider than a /8: it would cut this host off from all of the Internet; give --wide if that is meant"},
		{"2001::/16", ""},
		{"2000::/3", "2000::/3 is wider than a /16: it would cut this host off from 1/8 of the Internet; give --wide if that is meant"},
		{"::/0", "::/0 is wider than a /16: it would cut this host off from all of the Internet; give --wide if that is meant"},
	} {
		err := CheckWidth(netip.MustParsePrefix(tt.in))
		if got := fmt.Sprint(err); (tt.wantErr == "" && err != nil) || (tt.wantErr != "" && got != tt.wantErr) {
			t.Errorf("CheckWidth(%s) = %v, want %q", tt.in, err, tt.wantErr)
		}
	}
}
