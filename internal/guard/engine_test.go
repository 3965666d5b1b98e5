package guard

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/authwatch"
	"github.com/firewarden/firewarden/internal/block"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// step is one failure fed to the Engine at t0+at, or (when expire) an Expire at t0+at.
type step struct {
	at      time.Duration
	line    string // parsed with authwatch; or
	f       authwatch.Failure
	n       int // repeat the failure n times (default 1); the verdict is the last one's
	expire  bool
	want    Verdict
	wantBan time.Duration // ban length when want is Banned
	report  bool          // a capped verdict reports
}

func fail(kind authwatch.Kind, addr string, pid int) authwatch.Failure {
	return authwatch.Failure{Kind: kind, Addr: netip.MustParseAddr(addr), PID: pid}
}

func invalid(f authwatch.Failure) authwatch.Failure { f.InvalidUser = true; return f }

// sshd formats a syslog line of sshd[pid].
func sshd(pid int, msg string, args ...any) string {
	return fmt.Sprintf("2026-03-01T12:00:00+00:00 host sshd[%d]: %s", pid, fmt.Sprintf(msg, args...))
}

func TestEngine(t *testing.T) {
	cfgWith := func(f func(c *Config)) *Config {
		c := Default()
		f(c)
		return c
	}
	const a, b, c = "198.51.100.7", "2001:db8::66", "203.0.113.9"
	failed := fail(authwatch.KindFailed, a, 0)
	aggressive := cfgWith(func(c *Config) { c.Mode, c.Weights = ModeAggressive, ModeWeights(ModeAggressive) })
	tests := []struct {
		name  string
		cfg   *Config
		state *block.State
		steps []step
	}{
		{"ten failures ban for 15m", Default(), nil, []step{
			{f: failed, n: 9, want: Counted},
			{at: time.Minute, f: failed, want: Banned, wantBan: 15 * time.Minute},
			{at: 2 * time.Minute, f: failed, want: AlreadyBanned},
		}},
		{"real lines, one process per attempt", Default(), nil, []step{
			{line: sshd(101, "Failed password for root from %s port 50000 ssh2", a), n: 9, want: Counted},
			{line: sshd(102, "Failed password for root from %s port 50001 ssh2", a), want: Banned, wantBan: 15 * time.Minute},
		}},
		{"PAM and Failed of one attempt count once", Default(), nil, []step{
			{f: fail(authwatch.KindPAM, a, 7), want: Counted},
			{f: fail(authwatch.KindFailed, a, 7), want: Counted},
			{f: fail(authwatch.KindPAM, a, 7), want: Counted},
			{f: fail(authwatch.KindFailed, a, 7), want: Counted},
			// 2 so far; 7 more attempts of two lines each leave 9
			{f: fail(authwatch.KindPAM, a, 7), want: Counted}, {f: fail(authwatch.KindFailed, a, 7), want: Counted},
			{f: fail(authwatch.KindPAM, a, 7), want: Counted}, {f: fail(authwatch.KindFailed, a, 7), want: Counted},
			{f: fail(authwatch.KindPAM, a, 7), want: Counted}, {f: fail(authwatch.KindFailed, a, 7), want: Counted},
			{f: fail(authwatch.KindPAM, a, 7), want: Counted}, {f: fail(authwatch.KindFailed, a, 7), want: Counted},
			{f: fail(authwatch.KindPAM, a, 7), want: Counted}, {f: fail(authwatch.KindFailed, a, 7), want: Counted},
			{f: fail(authwatch.KindPAM, a, 7), want: Counted}, {f: fail(authwatch.KindFailed, a, 7), want: Counted},
			{f: fail(authwatch.KindPAM, a, 7), want: Counted}, {f: fail(authwatch.KindFailed, a, 7), want: Counted},
			{f: fail(authwatch.KindPAM, a, 7), want: Banned, wantBan: 15 * time.Minute},
		}},
		{"PAM and Failed of different processes count twice", Default(), nil, []step{
			{f: fail(authwatch.KindPAM, a, 7), n: 5, want: Counted},
			{f: fail(authwatch.KindFailed, a, 8), n: 4, want: Counted},
			{f: fail(authwatch.KindFailed, a, 9), want: Banned, wantBan: 15 * time.Minute},
		}},
		{"the two max-attempts lines of a connection count once", Default(), nil, []step{
			// weight 2: four connections of two lines each are 8
			{f: fail(authwatch.KindMaxAttempts, a, 1), n: 2, want: Counted},
			{f: fail(authwatch.KindMaxAttempts, a, 2), n: 2, want: Counted},
			{f: fail(authwatch.KindMaxAttempts, a, 3), n: 2, want: Counted},
			{f: fail(authwatch.KindMaxAttempts, a, 4), n: 2, want: Counted},
			{f: fail(authwatch.KindMaxAttempts, a, 5), want: Banned, wantBan: 15 * time.Minute},
		}},
		{"preauth closes weigh a fifth in aggressive mode", aggressive, nil, []step{
			{f: fail(authwatch.KindPreauth, a, 0), n: 49, want: Counted},
			{f: fail(authwatch.KindPreauth, a, 0), want: Banned, wantBan: 15 * time.Minute},
		}},
		{"normal mode ignores preauth and scanners", Default(), nil, []step{
			{f: fail(authwatch.KindPreauth, a, 0), want: Ignored},
			{f: fail(authwatch.KindBadBanner, a, 0), want: Ignored},
			{f: fail(authwatch.KindNoKex, a, 0), want: Ignored},
			{f: fail(authwatch.KindTimeout, a, 0), want: Ignored},
			{f: fail(authwatch.KindNoIdent, a, 0), want: Ignored},
		}},
		{"a valid user's failed keys weigh a fifth", Default(), nil, []step{
			{f: fail(authwatch.KindFailedKey, a, 0), n: 49, want: Counted},
			{f: fail(authwatch.KindFailedKey, a, 0), want: Banned, wantBan: 15 * time.Minute},
		}},
		{"an invalid user's failed keys weigh the factor more", Default(), nil, []step{
			{f: invalid(fail(authwatch.KindFailedKey, a, 0)), n: 33, want: Counted}, // 9.9
			{f: invalid(fail(authwatch.KindFailedKey, a, 0)), want: Banned, wantBan: 15 * time.Minute},
		}},
		{"invalid users weigh more", Default(), nil, []step{
			{f: invalid(failed), n: 6, want: Counted}, // 9
			{f: invalid(failed), want: Banned, wantBan: 15 * time.Minute},
		}},
		{"a kind of weight 0 is ignored", Default(), nil, []step{
			{f: fail(authwatch.KindNoIdent, a, 0), n: 100, want: Ignored},
		}},
		{"configured weights", cfgWith(func(c *Config) { c.Weights[authwatch.KindNoIdent] = 5 }), nil, []step{
			{f: fail(authwatch.KindNoIdent, a, 0), want: Counted},
			{f: fail(authwatch.KindNoIdent, a, 0), want: Banned, wantBan: 15 * time.Minute},
		}},
		{"failures older than the window drop out", Default(), nil, []step{
			{f: failed, n: 9, want: Counted},
			{at: 30 * time.Minute, f: failed, n: 9, want: Counted},
			{at: 60 * time.Minute, f: failed, want: Counted},
		}},
		{"failures within the window add up", Default(), nil, []step{
			{f: failed, n: 9, want: Counted},
			// the window counts in sixteenths: a failure counts for at least 15/16 of it
			{at: 28*time.Minute + 7*time.Second, f: failed, want: Banned, wantBan: 15 * time.Minute},
		}},
		{"threshold and window from the config", cfgWith(func(c *Config) { c.Failures, c.Window = 3, time.Minute }), nil, []step{
			{f: failed, n: 2, want: Counted},
			{at: 2 * time.Minute, f: failed, n: 2, want: Counted},
			{at: 2*time.Minute + 50*time.Second, f: failed, want: Banned, wantBan: 15 * time.Minute},
		}},
		{"config allowlist", cfgWith(func(c *Config) { c.Allowlist = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")} }), nil, []step{
			{f: failed, n: 50, want: Allowlisted},
			{f: fail(authwatch.KindFailed, c, 0), n: 10, want: Banned, wantBan: 15 * time.Minute},
		}},
		{"state allowlist", Default(), stateWith(func(s *block.State) {
			s.Allow(netip.MustParsePrefix("2001:db8::/32"), "office", block.SourceCLI, t0)
		}), []step{
			{f: fail(authwatch.KindFailed, b, 0), n: 50, want: Allowlisted},
		}},
		{"a banned range covers its addresses", Default(), stateWith(func(s *block.State) {
			s.Ban(block.BanRequest{Prefix: netip.MustParsePrefix("198.51.100.0/24"), TTL: time.Hour, Source: block.SourceCLI}, block.Policy{}, t0)
		}), []step{
			{f: failed, n: 20, want: AlreadyBanned},
			{f: fail(authwatch.KindFailed, c, 0), n: 10, want: Banned, wantBan: 15 * time.Minute},
			{at: time.Hour, expire: true},
			{at: time.Hour, f: failed, n: 10, want: Banned, wantBan: 15 * time.Minute},
		}},
		{"repeat offenders double", Default(), nil, []step{
			{f: failed, n: 10, want: Banned, wantBan: 15 * time.Minute},
			{at: 15 * time.Minute, expire: true},
			{at: 16 * time.Minute, f: failed, n: 10, want: Banned, wantBan: 30 * time.Minute},
			{at: 46 * time.Minute, expire: true},
			{at: 47 * time.Minute, f: failed, n: 10, want: Banned, wantBan: time.Hour},
		}},
		{"doubling stops at max_time", cfgWith(func(c *Config) { c.MaxBanTime = 40 * time.Minute }), stateWith(func(s *block.State) {
			s.Offenders = []block.Offender{{Prefix: netip.MustParsePrefix(a + "/32"), Count: 5, First: t0.Add(-time.Hour), Last: t0.Add(-time.Hour)}}
		}), []step{
			{f: failed, n: 10, want: Banned, wantBan: 40 * time.Minute},
		}},
		{"the state's ban count doubles", Default(), stateWith(func(s *block.State) {
			s.Offenders = []block.Offender{{Prefix: netip.MustParsePrefix(a + "/32"), Count: 3, First: t0.Add(-48 * time.Hour), Last: t0.Add(-24 * time.Hour)}}
		}), []step{
			{f: failed, n: 10, want: Banned, wantBan: 2 * time.Hour},
		}},
		{"offenders are forgotten after a week", Default(), stateWith(func(s *block.State) {
			s.Offenders = []block.Offender{{Prefix: netip.MustParsePrefix(a + "/32"), Count: 3, First: t0.Add(-10 * 24 * time.Hour), Last: t0.Add(-8 * 24 * time.Hour)}}
		}), []step{
			{f: failed, n: 10, want: Banned, wantBan: 15 * time.Minute},
		}},
		{"ban rate cap", cfgWith(func(c *Config) { c.BanRate, c.BanRatePer = 2, 2*time.Minute }), nil, []step{
			{f: fail(authwatch.KindFailed, "192.0.2.1", 0), n: 10, want: Banned, wantBan: 15 * time.Minute},
			{f: fail(authwatch.KindFailed, "192.0.2.2", 0), n: 10, want: Banned, wantBan: 15 * time.Minute},
			{f: fail(authwatch.KindFailed, "192.0.2.3", 0), n: 10, want: RateCapped, report: true},
			{f: fail(authwatch.KindFailed, "192.0.2.4", 0), n: 10, want: RateCapped},
			{at: 61 * time.Second, f: fail(authwatch.KindFailed, "192.0.2.3", 0), want: Banned, wantBan: 15 * time.Minute},
			{at: 62 * time.Second, f: fail(authwatch.KindFailed, "192.0.2.4", 0), want: RateCapped, report: true},
		}},
		{"ban count cap", cfgWith(func(c *Config) { c.MaxBans = 2 }), stateWith(func(s *block.State) {
			s.Ban(block.BanRequest{Prefix: netip.MustParsePrefix("192.0.2.99/32"), Source: block.SourceCLI}, block.Policy{}, t0)
		}), []step{
			{f: fail(authwatch.KindFailed, "192.0.2.1", 0), n: 10, want: Banned, wantBan: 15 * time.Minute},
			{f: fail(authwatch.KindFailed, "192.0.2.2", 0), n: 10, want: CountCapped},
			{at: 15 * time.Minute, expire: true},
			{at: 15 * time.Minute, f: fail(authwatch.KindFailed, "192.0.2.2", 0), want: Banned, wantBan: 15 * time.Minute},
		}},
		{"the tracking cap forgets the least recently seen", cfgWith(func(c *Config) { c.MaxTracked = 16 }), nil, func() []step {
			s := []step{{f: failed, n: 9, want: Counted}}
			for i := range 16 {
				s = append(s, step{f: fail(authwatch.KindFailed, fmt.Sprintf("192.0.2.%d", i+1), 0), want: Counted})
			}
			return append(s, step{f: failed, want: Counted}, step{f: failed, n: 8, want: Counted}, step{f: failed, want: Banned, wantBan: 15 * time.Minute})
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEngine(tt.cfg)
			if tt.state != nil {
				e.Load(tt.state)
			}
			for i, s := range tt.steps {
				now := t0.Add(s.at)
				if s.expire {
					e.Expire(now)
					continue
				}
				f := s.f
				if s.line != "" {
					var ok bool
					if f, ok = authwatch.Parse([]byte(s.line)); !ok {
						t.Fatalf("step %d: authwatch.Parse(%q) failed", i, s.line)
					}
				}
				var d Decision
				for range max(s.n, 1) {
					d = e.Observe(f, now)
				}
				if d.Verdict != s.want {
					t.Fatalf("step %d: Observe(%s %s) ×%d = %s (score %v), want %s", i, f.Kind, f.Addr, max(s.n, 1), d.Verdict, d.Score, s.want)
				}
				if s.want == Banned {
					if got := d.Ban.Expires.Sub(now.Truncate(time.Second)); got != s.wantBan {
						t.Errorf("step %d: ban of %s lasts %v, want %v", i, f.Addr, got, s.wantBan)
					}
					if d.Ban.Prefix != netip.PrefixFrom(f.Addr, f.Addr.BitLen()) {
						t.Errorf("step %d: ban prefix %v, want the host %v", i, d.Ban.Prefix, f.Addr)
					}
				}
				if s.report && !d.Report {
					t.Errorf("step %d: %s not reported, want a report", i, d.Verdict)
				}
			}
		})
	}
}

func stateWith(f func(s *block.State)) *block.State {
	s := block.NewState()
	f(s)
	return s
}

// TestEngineCapReports: the first capped ban is reported at once; the ones after it within
// CapReportEvery are counted into the next report.
func TestEngineCapReports(t *testing.T) {
	c := Default()
	c.BanRate, c.BanRatePer, c.Failures = 1, time.Hour, 1
	e := NewEngine(c)
	var reports []string
	for i := range 10 {
		now := t0.Add(time.Duration(i) * 20 * time.Second)
		d := e.Observe(fail(authwatch.KindFailed, fmt.Sprintf("192.0.2.%d", i+1), 0), now)
		if d.Report {
			reports = append(reports, fmt.Sprintf("%s@%v:%d", d.Verdict, now.Sub(t0), d.Suppressed))
		}
	}
	want := "rate-capped@20s:1 rate-capped@1m20s:3 rate-capped@2m20s:3"
	if got := strings.Join(reports, " "); got != want {
		t.Errorf("cap reports = %s, want %s", got, want)
	}
}

// TestEngineAllowlistFirst: whatever the counts, caps or bans, an allowlisted address is
// never banned, also when the allowlist arrives after its failures were counted.
func TestEngineAllowlistFirst(t *testing.T) {
	c := Default()
	c.Failures = 1
	e := NewEngine(c)
	f := fail(authwatch.KindFailed, "192.0.2.10", 0)
	e.Observe(fail(authwatch.KindPreauth, "192.0.2.10", 0), t0) // counted: 0.2
	st := block.NewState()
	st.Allow(netip.MustParsePrefix("192.0.2.0/28"), "", block.SourceAutoconfigure, t0)
	e.Load(st)
	for i := range 100 {
		if d := e.Observe(f, t0.Add(time.Duration(i)*time.Second)); d.Verdict != Allowlisted {
			t.Fatalf("Observe(allowlisted %s) = %s, want allowlisted", f.Addr, d.Verdict)
		}
	}
	if !e.Allowlisted(netip.MustParsePrefix("192.0.2.0/24")) || e.Allowlisted(netip.MustParsePrefix("192.0.3.0/24")) {
		t.Errorf("Allowlisted(prefix) does not follow the allowlist 192.0.2.0/28")
	}
}

func TestEngineExpire(t *testing.T) {
	e := NewEngine(Default())
	st := block.NewState()
	pol := block.Policy{}
	st.Ban(block.BanRequest{Prefix: netip.MustParsePrefix("10.0.0.0/8"), TTL: time.Hour, Source: block.SourceCLI}, pol, t0)
	st.Ban(block.BanRequest{Prefix: netip.MustParsePrefix("10.1.2.3/32"), TTL: 2 * time.Hour, Source: block.SourceGuard}, pol, t0)
	st.Ban(block.BanRequest{Prefix: netip.MustParsePrefix("2001:db8::/64"), TTL: 30 * time.Minute, Source: block.SourceCLI}, pol, t0)
	st.Ban(block.BanRequest{Prefix: netip.MustParsePrefix("192.0.2.1/32"), Forever: true, Source: block.SourceCLI}, pol, t0)
	e.Load(st)
	if next, ok := e.NextExpiry(); !ok || !next.Equal(t0.Add(30*time.Minute)) {
		t.Errorf("NextExpiry() = %v, %v; want %v", next, ok, t0.Add(30*time.Minute))
	}
	rm, re := e.Expire(t0.Add(29 * time.Minute))
	if len(rm)+len(re) != 0 {
		t.Errorf("Expire(29m) = %v, %v; want nothing", rm, re)
	}
	rm, re = e.Expire(t0.Add(time.Hour))
	if got, want := fmt.Sprint(rm), "[2001:db8::/64 10.0.0.0/8]"; got != want {
		t.Errorf("Expire(1h) removes %s, want %s", got, want)
	}
	if len(re) != 1 || re[0].Prefix != netip.MustParsePrefix("10.1.2.3/32") || !re[0].Expires.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("Expire(1h) re-adds %v, want 10.1.2.3/32 until +2h (inside the ended range)", re)
	}
	if e.Active() != 2 {
		t.Errorf("Active() = %d after expiry, want 2 (the host and the ban without end)", e.Active())
	}
	rm, _ = e.Expire(t0.Add(1000 * time.Hour))
	if got := fmt.Sprint(rm); got != "[10.1.2.3/32]" {
		t.Errorf("Expire(later) = %s, want [10.1.2.3/32]; a ban without end never expires", got)
	}
	if _, ok := e.NextExpiry(); ok {
		t.Errorf("NextExpiry() ok with only a ban without end")
	}
}

// TestObserveAllocs: counting a failure of an address already tracked allocates nothing.
func TestObserveAllocs(t *testing.T) {
	e := NewEngine(Default())
	addrs := make([]authwatch.Failure, 1000)
	for i := range addrs {
		addrs[i] = fail(authwatch.KindFailedKey, netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).String(), i)
	}
	now := t0
	for _, f := range addrs {
		e.Observe(f, now)
	}
	i := 0
	allocs := testing.AllocsPerRun(5000, func() {
		now = now.Add(time.Millisecond)
		e.Observe(addrs[i%len(addrs)], now)
		i++
	})
	if allocs != 0 {
		t.Errorf("Observe allocates %v times a line, want 0", allocs)
	}
}

func TestAllowset(t *testing.T) {
	s := newAllowset([]netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("192.0.2.128/25"), netip.MustParsePrefix("10.0.0.1/32")},
		[]netip.Prefix{netip.MustParsePrefix("2001:db8::/32")})
	tests := []struct {
		addr string
		want bool
	}{
		{"192.0.2.0", true}, {"192.0.2.255", true}, {"192.0.3.0", false}, {"192.0.1.255", false},
		{"10.0.0.1", true}, {"10.0.0.2", false}, {"10.0.0.0", false},
		{"2001:db8::1", true}, {"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", true}, {"2001:db9::", false},
		{"::ffff:0:0", false}, {"0.0.0.0", false}, {"255.255.255.255", false},
	}
	for _, tt := range tests {
		if got := s.has(keyOf(netip.MustParseAddr(tt.addr))); got != tt.want {
			t.Errorf("allowset.has(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
	if n := s.len(); n != 3 {
		t.Errorf("allowset has %d spans, want 3 (the /25 merged into the /24)", n)
	}
	all := newAllowset([]netip.Prefix{netip.MustParsePrefix("::/0"), netip.MustParsePrefix("0.0.0.0/0")})
	for _, a := range []string{"::", "ffff::1", "1.2.3.4"} {
		if !all.has(keyOf(netip.MustParseAddr(a))) {
			t.Errorf("allowset{::/0, 0.0.0.0/0}.has(%s) = false", a)
		}
	}
}

func TestPkey(t *testing.T) {
	for _, s := range []string{"192.0.2.0/24", "192.0.2.1/32", "0.0.0.0/0", "2001:db8::/32", "::/0", "2001:db8::1/128"} {
		p := netip.MustParsePrefix(s)
		if got := pkeyOf(p).prefix(); got != p {
			t.Errorf("pkeyOf(%s).prefix() = %s", p, got)
		}
	}
	// A v4-mapped IPv6 prefix shares its key with the IPv4 prefix: block normalises it so.
	k := pkeyOf(netip.MustParsePrefix("192.0.2.128/25"))
	for a, want := range map[string]bool{"192.0.2.128": true, "192.0.2.255": true, "192.0.2.127": false, "2001:db8::1": false} {
		if got := k.contains(keyOf(netip.MustParseAddr(a))); got != want {
			t.Errorf("192.0.2.128/25 contains %s = %v, want %v", a, got, want)
		}
	}
}

// refEngine is the Engine's specification written plainly, for FuzzEngine: every failure kept
// with the part of the window it fell in, no caps, no memory bound.
type refEngine struct {
	e     *Engine // for its tables and config only
	addrs map[netip.Addr]*refAddr
}

type refAddr struct {
	parts   map[int64]uint32 // points per part
	cur     int64
	pid     int32
	kind    authwatch.Kind
	lastPts uint16
	paired  bool
	seen    bool
	end     int64 // ban end, Unix seconds; 0 none
	count   int
	last    int64
}

func (r *refEngine) observe(f authwatch.Failure, now time.Time) (Verdict, time.Duration) {
	a := r.addrs[f.Addr]
	if a == nil {
		a = &refAddr{parts: map[int64]uint32{}, pid: -1}
		r.addrs[f.Addr] = a
	}
	sec := now.Unix()
	if a.end != 0 && a.end > sec {
		return AlreadyBanned, 0
	}
	pts := r.e.pts[f.Kind]
	if f.InvalidUser {
		pts = r.e.ptsInv[f.Kind]
	}
	if pts == 0 {
		return Ignored, 0
	}
	part := now.UnixNano() / r.e.track.slotLen
	if !a.seen || part-a.cur >= slots {
		a.pid, a.kind, a.lastPts, a.paired = -1, 0, 0, false
	}
	if !a.seen || part > a.cur {
		a.cur = part
	}
	a.seen = true
	add := uint32(pts)
	if !a.paired && a.pid == int32(f.PID) && echo(a.kind, f.Kind) {
		add = uint32(pts - min(pts, a.lastPts))
		a.paired = true
	} else {
		a.paired = false
	}
	a.pid, a.kind, a.lastPts = int32(f.PID), f.Kind, pts
	a.parts[a.cur] = min(a.parts[a.cur]+add, 0xffff)
	var score uint32
	for p, v := range a.parts {
		if p > a.cur-slots {
			score += v
		}
	}
	if score < r.e.threshold {
		return Counted, 0
	}
	prev := 0
	if a.end != 0 || sec-a.last <= int64(block.OffenderMemory/time.Second) {
		prev = a.count
	}
	start := now.Truncate(time.Second)
	d := r.e.policy.Duration(prev)
	a.count, a.last, a.end = prev+1, start.Unix(), start.Add(d).Unix()
	a.parts, a.seen = map[int64]uint32{}, false
	return Banned, d
}

// FuzzEngine runs the Engine and refEngine over the same failures and compares every verdict
// and ban length. Each input byte triple is one failure: which of 6 addresses, the kind and
// flags, and how far the clock moves first.
func FuzzEngine(f *testing.F) {
	f.Add([]byte{0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0})
	f.Add([]byte{1, 6, 1, 1, 1, 1, 1, 6, 1, 1, 1, 1, 1, 6, 200, 1, 1, 250})
	f.Add([]byte{2, 0x25, 3, 2, 0x25, 3, 2, 0x25, 3, 3, 7, 0, 3, 7, 0, 3, 7, 0, 3, 7, 255})
	kinds := Kinds()
	addrs := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("2001:db8::1"),
		netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2"), netip.MustParseAddr("2001:db8::2")}
	f.Fuzz(func(t *testing.T, in []byte) {
		cfg := Default()
		cfg.Failures, cfg.Window, cfg.BanTime, cfg.MaxBanTime = 3, 5*time.Minute, time.Minute, 10*time.Minute
		cfg.MaxBans, cfg.BanRate, cfg.BanRatePer = maxBans, 1_000_000, time.Second
		e := NewEngine(cfg)
		ref := &refEngine{e: e, addrs: map[netip.Addr]*refAddr{}}
		now := t0
		for i := 0; i+2 < len(in); i += 3 {
			now = now.Add(time.Duration(in[i+2]) * 2 * time.Second)
			fl := authwatch.Failure{
				Addr:        addrs[int(in[i])%len(addrs)],
				Kind:        kinds[int(in[i+1]&0x0f)%len(kinds)],
				InvalidUser: in[i+1]&0x10 != 0,
				PID:         int(in[i+1] >> 5),
			}
			got := e.Observe(fl, now)
			want, wantBan := ref.observe(fl, now)
			if got.Verdict != want {
				t.Fatalf("failure %d (%s %s pid %d invalid %v at +%v): Engine = %s (score %v), reference = %s", i/3, fl.Kind, fl.Addr, fl.PID, fl.InvalidUser, now.Sub(t0), got.Verdict, got.Score, want)
			}
			if want == Banned && got.Ban.Expires.Sub(now.Truncate(time.Second)) != wantBan {
				t.Fatalf("failure %d: Engine bans %s for %v, reference for %v", i/3, fl.Addr, got.Ban.Expires.Sub(now.Truncate(time.Second)), wantBan)
			}
		}
	})
}
