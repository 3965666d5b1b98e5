package block

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

// bigState is a state at the default cap: 100 000 /32 bans and a dozen allowlist entries, a few
// of them inside banned ranges.
func bigState(b *testing.B) *State {
	s := NewState()
	for i := range 12 {
		s.Allow(netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 200, byte(i), 1}), 32), "", SourceAutoconfigure, t0)
	}
	for i := range DefaultMaxBans - 12 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		s.Bans = append(s.Bans, BanEntry{Prefix: netip.PrefixFrom(a, 32), Expires: t0.Add(time.Hour), Source: SourceGuard, Count: 1, First: t0, Last: t0})
	}
	for i := range 12 {
		s.Bans = append(s.Bans, BanEntry{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 200, byte(i), 0}), 24), Expires: t0.Add(time.Hour), Source: SourceCLI})
	}
	s.normaliseAll()
	return s
}

func BenchmarkWant100k(b *testing.B) {
	s := bigState(b)
	b.ResetTimer()
	for b.Loop() {
		if n := len(s.Want(t0)); n < len(s.Bans) {
			b.Fatalf("Want = %d bans", n)
		}
	}
}

// BenchmarkEdit100k is one locked, atomic change of a state file holding 100 000 bans: what
// every CLI command and every ban of the guard pays.
func BenchmarkEdit100k(b *testing.B) {
	st := &Store{Dir: b.TempDir()}
	big := bigState(b)
	st.Edit(context.Background(), func(s *State) error { *s = *big; return nil })
	b.ResetTimer()
	i := 0
	for b.Loop() {
		i++
		_, _, err := st.Edit(context.Background(), func(s *State) error {
			_, err := s.Ban(BanRequest{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)}), 32)}, Policy{MaxBans: 1 << 20}, t0)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
