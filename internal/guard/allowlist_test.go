package guard

import (
	"testing"
)

// TestAllowlistTooWide: an allowlist entry wider than an IPv4 /8 or an IPv6 /16 lifts every
// ban the guard would make; it is a configuration error at its line, not a silent no-op.
func TestAllowlistTooWide(t *testing.T) {
	for _, tt := range []struct {
		name, in, want string
	}{
		{"all of IPv4", "allowlist:\n  - 192.0.2.0/24\n  - 0.0.0.0/0\n",
			"g.yaml:3: allowlist: 0.0.0.0/0 is wider than a /8: allowlisting it would exempt all of the Internet from every ban, so the guard would never ban; narrow it (or, if it is meant, add it with `firewarden block allow --wide`)"},
		{"all of IPv6, flow style", "allowlist: [\"::/0\"]\n",
			"g.yaml:1: allowlist: ::/0 is wider than a /16: allowlisting it would exempt all of the Internet from every ban, so the guard would never ban; narrow it (or, if it is meant, add it with `firewarden block allow --wide`)"},
		{"half of IPv4", "allowlist: [128.0.0.0/1]\n",
			"g.yaml:1: allowlist: 128.0.0.0/1 is wider than a /8: allowlisting it would exempt 1/2 of the Internet from every ban, so the guard would never ban; narrow it (or, if it is meant, add it with `firewarden block allow --wide`)"},
		{"a /8 is fine", "allowlist: [10.0.0.0/8, \"2001:db8::/16\"]\n", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := parseSection("g.yaml", tt.in)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("ParseSection(%q) = %v, want no error", tt.in, err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Errorf("ParseSection(%q) = %+v, %v; want error %q", tt.in, c, err, tt.want)
			}
		})
	}
}
