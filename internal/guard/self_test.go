package guard

import (
	"net/netip"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/authwatch"
)

// TestNeverBansItself: failures from loopback and, once SetSelf names them, from the host's own
// addresses are never counted, however many: a ban there would cut the host off from itself.
func TestNeverBansItself(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	own := netip.MustParseAddr("192.0.2.5")
	tests := []struct {
		addr string
		want Verdict
	}{
		{"127.0.0.1", Allowlisted},
		{"127.9.8.7", Allowlisted},
		{"::1", Allowlisted},
		{"::ffff:127.0.0.1", Allowlisted},
		{"192.0.2.5", Allowlisted},
		{"192.0.2.6", Banned},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			e := NewEngine(Default())
			e.SetSelf([]netip.Addr{own, netip.MustParseAddr("fe80::1%eth0")})
			f := authwatch.Failure{Kind: authwatch.KindFailed, Addr: netip.MustParseAddr(tt.addr).Unmap()}
			var d Decision
			for i := range 10 {
				d = e.Observe(f, t0.Add(time.Duration(i)*time.Second))
			}
			if d.Verdict != tt.want {
				t.Errorf("10 failures from %s: verdict %v, want %v", tt.addr, d.Verdict, tt.want)
			}
		})
	}
}
