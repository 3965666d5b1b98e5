package nft

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/block"
)

var epoch = time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)

func TestNormalise(t *testing.T) {
	at := func(min int) time.Time { return epoch.Add(time.Duration(min) * time.Minute) }
	ms := func(min int) int64 { return at(min).UnixMilli() }
	ban := func(p string, exp time.Time) block.Ban {
		return block.Ban{Prefix: netip.MustParsePrefix(p), Expires: exp}
	}
	for _, tc := range []struct {
		name string
		in   []block.Ban
		want []entry
	}{
		{"empty", nil, []entry{}},
		{"sorted by address, families apart",
			[]block.Ban{ban("2001:db8::1/128", at(1)), ban("192.0.2.1/32", at(2)), ban("10.0.0.0/8", time.Time{})},
			[]entry{{netip.MustParsePrefix("10.0.0.0/8"), 0}, {netip.MustParsePrefix("192.0.2.1/32"), ms(2)},
				{netip.MustParsePrefix("2001:db8::1/128"), ms(1)}}},
		{"inside a banned prefix",
			[]block.Ban{ban("10.1.2.3/32", at(1)), ban("10.0.0.0/8", at(1)), ban("10.200.0.0/16", at(9)), ban("11.0.0.1/32", at(1))},
			[]entry{{netip.MustParsePrefix("10.0.0.0/8"), ms(1)}, {netip.MustParsePrefix("11.0.0.1/32"), ms(1)}}},
		{"IPv6 inside IPv6 only",
			[]block.Ban{ban("::/0", at(1)), ban("0.0.0.0/0", at(1)), ban("2001:db8::1/128", at(1)), ban("192.0.2.1/32", at(1))},
			[]entry{{netip.MustParsePrefix("0.0.0.0/0"), ms(1)}, {netip.MustParsePrefix("::/0"), ms(1)}}},
		{"duplicates: the latest expiry wins",
			[]block.Ban{ban("192.0.2.1/32", at(1)), ban("192.0.2.1/32", at(5)), ban("192.0.2.1/32", at(3))},
			[]entry{{netip.MustParsePrefix("192.0.2.1/32"), ms(5)}}},
		{"duplicates: no expiry wins",
			[]block.Ban{ban("192.0.2.1/32", at(1)), ban("192.0.2.1/32", time.Time{})},
			[]entry{{netip.MustParsePrefix("192.0.2.1/32"), 0}}},
		{"unmasked and v4-mapped",
			[]block.Ban{ban("192.0.2.77/24", at(1)), ban("::ffff:198.51.100.9/128", at(1)), ban("::ffff:203.0.113.0/120", at(1))},
			[]entry{{netip.MustParsePrefix("192.0.2.0/24"), ms(1)}, {netip.MustParsePrefix("198.51.100.9/32"), ms(1)},
				{netip.MustParsePrefix("203.0.113.0/24"), ms(1)}}},
		{"adjacent prefixes stay apart",
			[]block.Ban{ban("203.0.113.128/25", at(1)), ban("203.0.113.0/25", at(1))},
			[]entry{{netip.MustParsePrefix("203.0.113.0/25"), ms(1)}, {netip.MustParsePrefix("203.0.113.128/25"), ms(1)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := normalise(tc.in)
			if err != nil {
				t.Fatalf("normalise(%v) = %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(entry{}), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
				t.Errorf("normalise(%v) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
	if _, err := normalise([]block.Ban{{}}); err == nil {
		t.Error("normalise(invalid prefix) = nil error, want an error")
	}
}

func TestRangePrefix(t *testing.T) {
	a := netip.MustParseAddr
	for _, tc := range []struct {
		start, end netip.Addr
		want       string // "" for none
	}{
		{a("192.0.2.0"), a("192.0.3.0"), "192.0.2.0/24"},
		{a("192.0.2.1"), a("192.0.2.2"), "192.0.2.1/32"},
		{a("192.0.2.0"), a("192.0.2.3"), ""},
		{a("192.0.2.1"), a("192.0.2.3"), ""},
		{a("192.0.2.2"), a("192.0.2.4"), "192.0.2.2/31"},
		{a("0.0.0.0"), netip.Addr{}, "0.0.0.0/0"},
		{a("255.255.255.255"), netip.Addr{}, "255.255.255.255/32"},
		{a("128.0.0.0"), netip.Addr{}, "128.0.0.0/1"},
		{a("192.0.0.0"), netip.Addr{}, "192.0.0.0/2"},
		{a("1.0.0.0"), netip.Addr{}, ""},
		{a("2001:db8::"), a("2001:db8:0:1::"), "2001:db8::/64"},
		{a("ffff::"), netip.Addr{}, "ffff::/16"},
	} {
		p, ok := rangePrefix(tc.start, tc.end)
		got := ""
		if ok {
			got = p.String()
		}
		if got != tc.want {
			t.Errorf("rangePrefix(%v, %v) = %q, want %q", tc.start, tc.end, got, tc.want)
		}
	}
}

func TestTimeout(t *testing.T) {
	for _, tc := range []struct {
		deadline int64
		want     time.Duration
	}{
		{0, 0},
		{epoch.Add(90 * time.Minute).UnixMilli(), 90 * time.Minute},
		{epoch.Add(10 * time.Millisecond).UnixMilli(), time.Second}, // at least a second
		{epoch.Add(-time.Hour).UnixMilli(), time.Second},            // past: firewarden removes it
	} {
		if got := timeout(tc.deadline, epoch); got != tc.want {
			t.Errorf("timeout(%d, %v) = %v, want %v", tc.deadline, epoch, got, tc.want)
		}
	}
}

// FuzzNormalise checks normalise against a simple reference: every input prefix is covered by
// exactly one output prefix, no output prefix lies inside another, and the output is sorted.
func FuzzNormalise(f *testing.F) {
	f.Add([]byte{192, 0, 2, 1, 32, 10, 0, 0, 0, 8, 10, 1, 2, 3, 32})
	f.Add([]byte{203, 0, 113, 0, 25, 203, 0, 113, 128, 25, 0, 0, 0, 0, 0})
	f.Add([]byte{1, 2, 3, 4, 33, 1, 2, 3, 4, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var in []block.Ban
		for len(b) >= 5 {
			p, err := netip.AddrFrom4([4]byte(b[:4])).Prefix(int(b[4] % 33))
			if err != nil {
				t.Fatal(err)
			}
			in = append(in, block.Ban{Prefix: p})
			b = b[5:]
		}
		out, err := normalise(in)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range out {
			if i > 0 && out[i-1].prefix.Addr().Compare(e.prefix.Addr()) >= 0 {
				t.Errorf("output not sorted: %v before %v", out[i-1].prefix, e.prefix)
			}
			for j, o := range out {
				if i != j && o.prefix.Overlaps(e.prefix) {
					t.Errorf("%v overlaps %v", o.prefix, e.prefix)
				}
			}
		}
		for _, ban := range in {
			n := 0
			for _, e := range out {
				if e.prefix.Contains(ban.Prefix.Addr()) && e.prefix.Bits() <= ban.Prefix.Bits() {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%v is covered by %d output prefixes, want 1", ban.Prefix, n)
			}
		}
	})
}

func TestKeyRoundTrip(t *testing.T) {
	for _, s := range []string{"0.0.0.0/0", "192.0.2.1/32", "10.0.0.0/8", "255.255.255.255/32",
		"::/0", "2001:db8::1/128", "2001:db8::/32", "ffff::/16", "::ffff:0:0/95"} {
		p := netip.MustParsePrefix(s)
		if got := keyOf(p).prefix(); got != p {
			t.Errorf("keyOf(%v).prefix() = %v", p, got)
		}
	}
	if keyOf(netip.MustParsePrefix("0.0.0.0/0")) == keyOf(netip.MustParsePrefix("::/0")) {
		t.Error("keyOf(0.0.0.0/0) == keyOf(::/0)")
	}
}

func TestKeyMaskAndChild(t *testing.T) {
	for _, s := range []string{"255.255.255.255/32", "10.1.2.3/32", "192.0.2.128/25", "0.0.0.0/0",
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", "2001:db8:1:2:3:4:5:6/128", "2001:db8::/32", "::/0"} {
		p := netip.MustParsePrefix(s)
		for bits := 0; bits <= p.Bits(); bits++ {
			want, _ := p.Addr().Prefix(bits)
			if got := keyOf(p).mask(bits).prefix(); got != want {
				t.Errorf("keyOf(%v).mask(%d) = %v, want %v", p, bits, got, want)
			}
		}
	}
	// The children of a prefix at a length are the prefixes of that length inside it, in order.
	for _, c := range []struct {
		parent string
		bits   int
		want   []string
	}{
		{"192.0.2.0/30", 32, []string{"192.0.2.0/32", "192.0.2.1/32", "192.0.2.2/32", "192.0.2.3/32"}},
		{"10.0.0.0/7", 8, []string{"10.0.0.0/8", "11.0.0.0/8"}},
		{"0.0.0.0/0", 1, []string{"0.0.0.0/1", "128.0.0.0/1"}},
		{"2001:db8::/63", 64, []string{"2001:db8::/64", "2001:db8:0:1::/64"}},
		{"2001:db8::/62", 65, []string{"2001:db8::/65", "2001:db8:0:0:8000::/65", "2001:db8:0:1::/65", "2001:db8:0:1:8000::/65",
			"2001:db8:0:2::/65", "2001:db8:0:2:8000::/65", "2001:db8:0:3::/65", "2001:db8:0:3:8000::/65"}},
		{"2001:db8::/127", 128, []string{"2001:db8::/128", "2001:db8::1/128"}},
		{"::/0", 1, []string{"::/1", "8000::/1"}},
	} {
		k := keyOf(netip.MustParsePrefix(c.parent))
		var got []string
		for i := range uint64(len(c.want)) {
			got = append(got, k.child(c.bits, i).prefix().String())
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("children of %s at /%d (-want +got):\n%s", c.parent, c.bits, diff)
		}
	}
}
