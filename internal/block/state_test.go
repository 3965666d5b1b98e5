package block

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// netipOpt compares netip values by ==, as their fields are unexported.
var netipOpt = cmpopts.EquateComparable(netip.Prefix{}, netip.Addr{})

var t0 = time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)

func mp(s string) netip.Prefix {
	p, err := ParsePrefix(s)
	if err != nil {
		panic(err)
	}
	return p
}

func wantStrings(bans []Ban) []string {
	var out []string
	for _, b := range bans {
		out = append(out, b.Prefix.String())
	}
	return out
}

func TestBanAndWant(t *testing.T) {
	s := NewState()
	if _, err := s.Ban(BanRequest{Prefix: mp("192.0.2.1"), Source: SourceCLI}, Policy{}, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ban(BanRequest{Prefix: mp("2001:db8::/64"), TTL: time.Hour, Reason: "scan", Source: SourceCLI}, Policy{}, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ban(BanRequest{Prefix: mp("198.51.100.0/24"), Forever: true, Source: SourceCLI}, Policy{}, t0); err != nil {
		t.Fatal(err)
	}
	want := []Ban{
		{Prefix: mp("192.0.2.1"), Expires: t0.Add(DefaultBanTime)},
		{Prefix: mp("198.51.100.0/24")},
		{Prefix: mp("2001:db8::/64"), Expires: t0.Add(time.Hour)},
	}
	if diff := cmp.Diff(want, s.Want(t0), netipOpt); diff != "" {
		t.Errorf("Want (-want +got):\n%s", diff)
	}
	// At the default ban's expiry it is gone from Want before any sweep.
	if diff := cmp.Diff(want[1:], s.Want(t0.Add(DefaultBanTime)), netipOpt); diff != "" {
		t.Errorf("Want after 15m (-want +got):\n%s", diff)
	}
	gone := s.Sweep(t0.Add(2 * time.Hour))
	if len(gone) != 2 || len(s.Bans) != 1 || s.Bans[0].Prefix != mp("198.51.100.0/24") {
		t.Errorf("Sweep removed %v, left %v; want the two bans with a TTL gone", gone, s.Bans)
	}
}

func TestRepeatOffenderDoubles(t *testing.T) {
	s := NewState()
	pol := Policy{BanTime: 10 * time.Minute, MaxTime: time.Hour}
	now := t0
	var got []time.Duration
	for range 5 {
		out, err := s.Ban(BanRequest{Prefix: mp("192.0.2.7"), Source: SourceGuard}, pol, now)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, out.Entry.Expires.Sub(now))
		now = out.Entry.Expires.Add(time.Minute)
		s.Sweep(now)
	}
	want := []time.Duration{10 * time.Minute, 20 * time.Minute, 40 * time.Minute, time.Hour, time.Hour}
	if diff := cmp.Diff(want, got, netipOpt); diff != "" {
		t.Errorf("ban times (-want +got):\n%s", diff)
	}
	if s.Offenders[0].Count != 5 || !s.Offenders[0].First.Equal(t0) {
		t.Errorf("offender = %+v, want count 5 first %v", s.Offenders[0], t0)
	}
	// A week of good behaviour starts over.
	now = now.Add(OffenderMemory + time.Hour)
	s.Sweep(now)
	out, _ := s.Ban(BanRequest{Prefix: mp("192.0.2.7"), Source: SourceGuard}, pol, now)
	if d := out.Entry.Expires.Sub(now); d != 10*time.Minute || out.Entry.Count != 1 {
		t.Errorf("ban after OffenderMemory = %v count %d, want 10m count 1", d, out.Entry.Count)
	}
}

func TestPolicyDuration(t *testing.T) {
	pol := Policy{BanTime: time.Hour, MaxTime: 1 << 62}
	for _, prev := range []int{-1, 0, 1, 19, 20, 21, 1000} {
		d := pol.Duration(prev)
		if d <= 0 || d > pol.MaxTime {
			t.Errorf("Duration(%d) = %v", prev, d)
		}
	}
	if d := pol.Duration(1000); d != time.Hour<<20 {
		t.Errorf("Duration(1000) = %v, want 2^20 h (fail2ban caps the shift at 20)", d)
	}
}

func TestExplicitTTLNeverShortensABan(t *testing.T) {
	s := NewState()
	s.Ban(BanRequest{Prefix: mp("192.0.2.1"), TTL: time.Hour}, Policy{}, t0)
	out, _ := s.Ban(BanRequest{Prefix: mp("192.0.2.1"), TTL: time.Minute}, Policy{}, t0)
	if !out.Extended || !out.Entry.Expires.Equal(t0.Add(time.Hour)) || out.Entry.Count != 2 {
		t.Errorf("re-ban = %+v, want extended, still 1h, count 2", out)
	}
	if len(s.Bans) != 1 {
		t.Errorf("bans = %v, want one", s.Bans)
	}
}

func TestAllowlistRefusesAndSplits(t *testing.T) {
	s := NewState()
	s.Allow(mp("10.0.0.5"), "gateway", SourceCLI, t0)
	s.Allow(mp("10.1.0.0/16"), "office", SourceCLI, t0)
	for _, in := range []string{"10.0.0.5", "10.1.2.3", "10.1.0.0/20", "::ffff:10.0.0.5"} {
		_, err := s.Ban(BanRequest{Prefix: mp(in)}, Policy{}, t0)
		var ae *AllowlistedError
		if !errors.As(err, &ae) || !errors.Is(err, ErrAllowlisted) {
			t.Errorf("Ban(%s) = %v, want AllowlistedError", in, err)
		}
	}
	if len(s.Bans) != 0 {
		t.Fatalf("bans = %v after refusals", s.Bans)
	}
	out, err := s.Ban(BanRequest{Prefix: mp("10.0.0.0/29")}, Policy{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Excluded) != 1 || out.Excluded[0].Prefix != mp("10.0.0.5") || out.Pieces != 3 {
		t.Errorf("Ban(10.0.0.0/29) = %+v, want 10.0.0.5 excluded, 3 pieces", out)
	}
	if diff := cmp.Diff([]string{"10.0.0.0/30", "10.0.0.4/32", "10.0.0.6/31"}, wantStrings(s.Want(t0)), netipOpt); diff != "" {
		t.Errorf("Want (-want +got):\n%s", diff)
	}
	// Unallowing restores the whole range; allowing again lifts that part.
	if _, ok := s.Unallow(mp("10.0.0.5"), SourceCLI, t0); !ok {
		t.Fatal("Unallow(10.0.0.5) found nothing")
	}
	if diff := cmp.Diff([]string{"10.0.0.0/29"}, wantStrings(s.Want(t0)), netipOpt); diff != "" {
		t.Errorf("Want after unallow (-want +got):\n%s", diff)
	}
	a := s.Allow(mp("10.0.0.4/31"), "", SourceCLI, t0)
	if len(a.Split) != 1 || len(a.Lifted) != 0 {
		t.Errorf("Allow(10.0.0.4/31) = %+v, want one split ban", a)
	}
	if diff := cmp.Diff([]string{"10.0.0.0/30", "10.0.0.6/31"}, wantStrings(s.Want(t0)), netipOpt); diff != "" {
		t.Errorf("Want after allow (-want +got):\n%s", diff)
	}
	// Allowing a range lifts the bans inside it.
	s.Ban(BanRequest{Prefix: mp("10.2.0.9")}, Policy{}, t0)
	a = s.Allow(mp("10.2.0.0/24"), "", SourceCLI, t0)
	if len(a.Lifted) != 1 || a.Lifted[0].Prefix != mp("10.2.0.9") {
		t.Errorf("Allow(10.2.0.0/24) = %+v, want 10.2.0.9 lifted", a)
	}
}

func TestUnban(t *testing.T) {
	s := NewState()
	for _, p := range []string{"10.0.0.0/24", "10.0.1.1", "10.0.1.2", "2001:db8::1"} {
		s.Ban(BanRequest{Prefix: mp(p)}, Policy{}, t0)
	}
	out := s.Unban(mp("10.0.1.0/24"), SourceCLI, t0)
	if len(out.Removed) != 2 {
		t.Errorf("Unban(10.0.1.0/24) removed %v, want the two inside", out.Removed)
	}
	out = s.Unban(mp("10.0.0.7"), SourceCLI, t0)
	if len(out.Removed) != 0 || len(out.Inside) != 1 {
		t.Errorf("Unban(10.0.0.7) = %+v, want nothing removed, inside 10.0.0.0/24", out)
	}
	if len(s.Bans) != 2 {
		t.Errorf("bans left %v", s.Bans)
	}
}

func TestMaxBans(t *testing.T) {
	s := NewState()
	pol := Policy{MaxBans: 3}
	for i := range 3 {
		if _, err := s.Ban(BanRequest{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), 32)}, pol, t0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Ban(BanRequest{Prefix: mp("192.0.2.9")}, pol, t0); !errors.Is(err, ErrFull) {
		t.Errorf("4th ban = %v, want ErrFull", err)
	}
	// Extending an existing ban is not a new one.
	if _, err := s.Ban(BanRequest{Prefix: mp("192.0.2.1")}, pol, t0); err != nil {
		t.Errorf("re-ban at the cap = %v", err)
	}
}

func TestDisjoint(t *testing.T) {
	in := []Ban{
		{Prefix: mp("10.0.0.5"), Expires: t0.Add(3 * time.Hour)},
		{Prefix: mp("10.0.0.0/24"), Expires: t0.Add(time.Hour)},
		{Prefix: mp("10.0.0.7"), Expires: t0},
		{Prefix: mp("10.0.1.0/24"), Expires: t0},
		{Prefix: mp("10.0.1.0/25")},
	}
	want := []Ban{
		{Prefix: mp("10.0.0.0/24"), Expires: t0.Add(3 * time.Hour)},
		{Prefix: mp("10.0.1.0/24")},
	}
	if diff := cmp.Diff(want, Disjoint(in), netipOpt); diff != "" {
		t.Errorf("Disjoint (-want +got):\n%s", diff)
	}
}

// FuzzAllowlistNeverBlocked drives a state with arbitrary operations on a small address space and
// checks after each that Want holds no allowlisted address, that its prefixes do not overlap,
// and that every unexpired banned, non-allowlisted address is still covered.
func FuzzAllowlistNeverBlocked(f *testing.F) {
	f.Add([]byte{0, 0, 5, 32, 1, 0, 0, 24, 2, 0, 5, 32, 3, 0, 0, 24})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 128, 1})
	f.Add([]byte{0, 1, 1, 128, 1, 1, 0, 120, 4, 1, 0, 120})
	f.Fuzz(func(t *testing.T, ops []byte) {
		bases := []netip.Addr{netip.MustParseAddr("10.0.0.0"), netip.MustParseAddr("2001:db8::")}
		s := NewState()
		now := t0
		for i := 0; i+3 < len(ops) && i < 400; i += 4 {
			base := bases[ops[i+1]%2]
			a := base.AsSlice()
			a[len(a)-1] = ops[i+2]
			addr, _ := netip.AddrFromSlice(a)
			p := netip.PrefixFrom(addr, addr.BitLen()-int(ops[i+3]%9)).Masked()
			if ops[i+3]&0x80 != 0 && addr.Is4() {
				p = netip.PrefixFrom(netip.AddrFrom16(addr.As16()), p.Bits()+96) // v4-mapped
			}
			switch ops[i] % 6 {
			case 0, 1:
				s.Ban(BanRequest{Prefix: p, TTL: time.Duration(ops[i+2]%4) * time.Minute}, Policy{MaxBans: 50}, now)
			case 2:
				s.Allow(p, "", SourceCLI, now)
			case 3:
				s.Unallow(p, SourceCLI, now)
			case 4:
				s.Unban(p, SourceCLI, now)
			case 5:
				now = now.Add(time.Minute)
				s.Sweep(now)
			}
			// A state written by someone else may hold bans the methods would have refused.
			if ops[i]%7 == 6 {
				s.Bans = append(s.Bans, BanEntry{Prefix: p})
			}
			checkWant(t, s, now, bases)
		}
	})
}

func checkWant(t *testing.T, s *State, now time.Time, bases []netip.Addr) {
	t.Helper()
	want := s.Want(now)
	for i := 1; i < len(want); i++ {
		if want[i-1].Prefix.Overlaps(want[i].Prefix) || comparePrefix(want[i-1].Prefix, want[i].Prefix) >= 0 {
			t.Fatalf("Want = %v: %v and %v overlap or are out of order", want, want[i-1].Prefix, want[i].Prefix)
		}
	}
	for _, base := range bases {
		for last := range 256 {
			a := base.AsSlice()
			a[len(a)-1] = byte(last)
			addr, _ := netip.AddrFromSlice(a)
			allowed, banned, blocked := false, false, false
			for _, al := range s.Allowlist {
				allowed = allowed || normalise(al.Prefix).Contains(addr)
			}
			for _, b := range s.Bans {
				banned = banned || (!b.expired(now) && normalise(b.Prefix).Contains(addr))
			}
			for _, w := range want {
				blocked = blocked || w.Prefix.Contains(addr)
				if w.Prefix.Addr().Is4In6() {
					t.Fatalf("Want holds v4-mapped %v", w.Prefix)
				}
			}
			if allowed && blocked {
				t.Fatalf("allowlisted %v is blocked: allowlist %v, want %v", addr, s.Allowlist, want)
			}
			if banned && !allowed && !blocked {
				t.Fatalf("banned %v is not blocked: bans %v, want %v", addr, s.Bans, want)
			}
			if blocked && !banned {
				t.Fatalf("%v is blocked but not banned", addr)
			}
		}
	}
}
