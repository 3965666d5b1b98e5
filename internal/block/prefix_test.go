package block

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

func TestSubtract(t *testing.T) {
	tests := []struct {
		p     string
		holes []string
		want  []string
	}{
		{"10.0.0.0/24", nil, []string{"10.0.0.0/24"}},
		{"10.0.0.0/24", []string{"10.0.0.0/24"}, nil},
		{"10.0.0.0/24", []string{"10.0.0.0/8"}, nil},
		{"10.0.0.0/24", []string{"10.0.1.0/24", "2001:db8::/32"}, []string{"10.0.0.0/24"}},
		{"10.0.0.0/30", []string{"10.0.0.1/32"}, []string{"10.0.0.0/32", "10.0.0.2/31"}},
		{"10.0.0.0/24", []string{"10.0.0.5/32"}, []string{
			"10.0.0.0/30", "10.0.0.4/32", "10.0.0.6/31", "10.0.0.8/29", "10.0.0.16/28",
			"10.0.0.32/27", "10.0.0.64/26", "10.0.0.128/25"}},
		{"10.0.0.0/24", []string{"10.0.0.0/25", "10.0.0.192/26"}, []string{"10.0.0.128/26"}},
		{"0.0.0.0/0", []string{"128.0.0.0/1"}, []string{"0.0.0.0/1"}},
		{"2001:db8::/126", []string{"2001:db8::3/128"}, []string{"2001:db8::/127", "2001:db8::2/128"}},
	}
	for _, tt := range tests {
		var holes []netip.Prefix
		for _, h := range tt.holes {
			holes = append(holes, netip.MustParsePrefix(h))
		}
		got := Subtract(netip.MustParsePrefix(tt.p), holes)
		var gs []string
		for _, g := range got {
			gs = append(gs, g.String())
		}
		if len(gs) != len(tt.want) {
			t.Errorf("Subtract(%s, %v) = %v, want %v", tt.p, tt.holes, gs, tt.want)
			continue
		}
		for i := range gs {
			if gs[i] != tt.want[i] {
				t.Errorf("Subtract(%s, %v) = %v, want %v", tt.p, tt.holes, gs, tt.want)
				break
			}
		}
	}
}

// smallSpace is a 256-address world where the reference implementation enumerates addresses.
type smallSpace struct {
	base netip.Addr // .0 of the space; the last byte varies
}

func (s smallSpace) prefix(last byte, bits int) netip.Prefix {
	a := s.base.AsSlice()
	a[len(a)-1] = last
	addr, _ := netip.AddrFromSlice(a)
	return netip.PrefixFrom(addr, s.base.BitLen()-8+bits%9).Masked()
}

func (s smallSpace) addr(last int) netip.Addr {
	a := s.base.AsSlice()
	a[len(a)-1] = byte(last)
	addr, _ := netip.AddrFromSlice(a)
	return addr
}

// checkSubtract compares Subtract with the reference: p \ holes address by address, no two
// output prefixes overlapping, and no two that are siblings (which would merge into one shorter
// prefix, so the cover would not be the smallest).
func checkSubtract(t *testing.T, s smallSpace, p netip.Prefix, holes []netip.Prefix) {
	t.Helper()
	got := Subtract(p, holes)
	for i := 0; i < 256; i++ {
		a := s.addr(i)
		want := p.Contains(a)
		for _, h := range holes {
			if h.Contains(a) {
				want = false
			}
		}
		n := 0
		for _, g := range got {
			if g.Contains(a) {
				n++
			}
		}
		if (n == 1) != want || n > 1 {
			t.Fatalf("Subtract(%v, %v) = %v: %v covered %d times, want in=%v", p, holes, got, a, n, want)
		}
	}
	seen := map[netip.Prefix]bool{}
	for _, g := range got {
		seen[g] = true
	}
	for _, g := range got {
		if g.Bits() <= p.Bits() && g != p {
			t.Fatalf("Subtract(%v, %v) = %v: %v is wider than p", p, holes, got, g)
		}
		if g == p || g.Bits() == 0 {
			continue
		}
		parent := netip.PrefixFrom(g.Addr(), g.Bits()-1).Masked()
		lo, hi := halves(parent)
		if seen[lo] && seen[hi] {
			t.Fatalf("Subtract(%v, %v) = %v: %v and %v should be %v", p, holes, got, lo, hi, parent)
		}
	}
	for i := 1; i < len(got); i++ {
		if comparePrefix(got[i-1], got[i]) >= 0 {
			t.Fatalf("Subtract(%v, %v) = %v: not sorted", p, holes, got)
		}
	}
}

func TestSubtractAgainstReference(t *testing.T) {
	spaces := []smallSpace{{netip.MustParseAddr("10.0.0.0")}, {netip.MustParseAddr("2001:db8::")}}
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range spaces {
		for range 3000 {
			p := s.prefix(byte(r.IntN(256)), r.IntN(9))
			holes := make([]netip.Prefix, r.IntN(6))
			for i := range holes {
				holes[i] = s.prefix(byte(r.IntN(256)), r.IntN(9))
			}
			checkSubtract(t, s, p, holes)
		}
	}
}

func FuzzSubtract(f *testing.F) {
	f.Add(byte(0), byte(0), []byte{5, 8})
	f.Add(byte(0), byte(8), []byte{128, 1})
	f.Add(byte(64), byte(2), []byte{70, 8, 100, 5, 64, 2})
	f.Fuzz(func(t *testing.T, last, bits byte, hs []byte) {
		for _, s := range []smallSpace{{netip.MustParseAddr("10.0.0.0")}, {netip.MustParseAddr("2001:db8::")}} {
			var holes []netip.Prefix
			for i := 0; i+1 < len(hs) && i < 32; i += 2 {
				holes = append(holes, s.prefix(hs[i], int(hs[i+1])))
			}
			checkSubtract(t, s, s.prefix(last, int(bits)), holes)
		}
	})
}
