// Package guard is firewarden's brute-force guard: it counts the SSH authentication failures
// of each address over a window, bans an address that reaches the threshold, and keeps the
// kernel and block.json in step with its bans.
//
// Engine is the decision half, synchronous and without I/O: failures in, decisions out. Daemon
// is the running half: it feeds log lines to the Engine, applies its bans to the kernel at once,
// saves them to the block state in the background, expires them on time, and follows changes
// that `firewarden block` makes to the state while it runs.
package guard

import (
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/firewarden/firewarden/internal/authwatch"
	"github.com/firewarden/firewarden/internal/block"
)

// Verdict is what the Engine made of one failure.
type Verdict uint8

// Verdicts, in the order Observe checks them.
const (
	// Allowlisted: the address is on the allowlist (block's or the config's); nothing counted.
	Allowlisted Verdict = iota + 1
	// AlreadyBanned: the address is banned already (its own ban or a range's); nothing counted.
	AlreadyBanned
	// Ignored: the failure's kind weighs 0.
	Ignored
	// Counted: counted, below the threshold.
	Counted
	// RateCapped: the threshold was reached but the ban rate cap was hit; not banned. The
	// failures stay counted, so the next failure tries again.
	RateCapped
	// CountCapped: the threshold was reached but MaxBans bans are active; not banned.
	CountCapped
	// Banned: the threshold was reached and the address is banned: Decision.Ban.
	Banned
)

var verdictNames = [...]string{Allowlisted: "allowlisted", AlreadyBanned: "already-banned", Ignored: "ignored",
	Counted: "counted", RateCapped: "rate-capped", CountCapped: "count-capped", Banned: "banned"}

func (v Verdict) String() string {
	if int(v) < len(verdictNames) && verdictNames[v] != "" {
		return verdictNames[v]
	}
	return fmt.Sprintf("verdict(%d)", v)
}

// Decision is the outcome of one failure.
type Decision struct {
	Verdict Verdict
	// Score is the address's weighted failures within the window, this one included
	// (Counted, capped and Banned verdicts).
	Score float64
	// Ban is the new ban (Banned): the address's host prefix and when the ban ends.
	Ban block.Ban
	// Count is how many times the address has been banned, this ban included (Banned).
	Count int
	// Duration is how long the ban lasts by the policy (Banned); Ban.Expires is that much after
	// the failure, rounded up to a whole second.
	Duration time.Duration
	// Report is set on a capped verdict when it should be logged: the first time a cap is hit
	// and then at most once per CapReportEvery. Suppressed counts the capped bans since the
	// last report, this one included.
	Report     bool
	Suppressed int
}

// CapReportEvery is how often a cap that keeps being hit is logged.
const CapReportEvery = time.Minute

// Engine decides bans. It is not safe for concurrent use; the Daemon serialises its calls.
type Engine struct {
	cfg       *Config
	pts       [256]uint16 // points (hundredths of a failure) per Kind
	ptsInv    [256]uint16 // the same for lines that report an invalid user
	threshold uint32
	policy    block.Policy

	stateAllow []netip.Prefix // block.json's allowlist, as last loaded
	self       []netip.Prefix // this host's own addresses (SetSelf)
	allow      allowset       // loopback, self, stateAllow and the config's

	track    *tracker
	sessions *authwatch.Sessions
	index    *banIndex
	bucket   tokenBucket
	caps     [2]capReport // RateCapped, CountCapped
}

type capReport struct {
	last       time.Time
	suppressed int
}

// NewEngine returns an Engine for cfg with nothing banned or counted yet.
func NewEngine(cfg *Config) *Engine {
	e := &Engine{index: newBanIndex()}
	e.Reconfigure(cfg, time.Time{})
	return e
}

// Reconfigure switches to cfg (SIGHUP). Failures counted so far are kept unless the window or
// the tracking cap changed; bans are kept either way.
func (e *Engine) Reconfigure(cfg *Config, now time.Time) {
	if e.track == nil || e.cfg.Window != cfg.Window || e.cfg.MaxTracked != cfg.MaxTracked {
		e.track = newTracker(cfg.Window, cfg.MaxTracked)
	}
	if e.sessions == nil || e.cfg.MaxSessions != cfg.MaxSessions {
		e.sessions = authwatch.NewSessions(cfg.MaxSessions)
	}
	e.cfg = cfg
	for k := range e.pts {
		w := cfg.Weights[authwatch.Kind(k)]
		e.pts[k] = points(w)
		e.ptsInv[k] = points(w * cfg.InvalidUserFactor)
	}
	e.threshold = uint32(max(math.Round(cfg.Failures*100), 1))
	e.policy = cfg.Policy()
	e.bucket.configure(cfg.BanRate, cfg.BanRatePer, now)
	e.allow = newAllowset(loopback, e.self, e.stateAllow, cfg.Allowlist)
}

// points turns a weight in failures into hundredths, saturating.
func points(w float64) uint16 {
	return uint16(min(max(math.Round(w*100), 0), math.MaxUint16))
}

// Config is the configuration in use.
func (e *Engine) Config() *Config { return e.cfg }

// Tracked is how many addresses have failures counted.
func (e *Engine) Tracked() int { return e.track.len() }

// Active is how many bans the Engine knows of (its own and the state's), ended ones included
// until Expire takes them out.
func (e *Engine) Active() int { return e.index.active }

// echo reports whether a line of kind k repeats, for the same attempt, the line of kind prev
// just before it for the same address and process: PAM's "authentication failure" and sshd's
// "Failed password" of one password attempt, or the two lines sshd writes when a connection
// runs out of attempts ("error: maximum authentication attempts exceeded" and "Disconnecting
// … Too many authentication failures", both KindMaxAttempts).
func echo(prev, k authwatch.Kind) bool {
	switch {
	case prev == authwatch.KindPAM && k == authwatch.KindFailed, prev == authwatch.KindFailed && k == authwatch.KindPAM:
		return true
	case prev == authwatch.KindMaxAttempts && k == authwatch.KindMaxAttempts:
		return true
	}
	return false
}

// Observe counts one failure seen at now and decides. The allowlist is checked first, always:
// an allowlisted address is never counted and never banned. Lines of one attempt count once:
// when a line echoes the one before it from the same process (see echo), the pair counts as the
// heavier of the two. It does not allocate unless it bans or tracks a new address while the
// tracker's table grows.
func (e *Engine) Observe(f authwatch.Failure, now time.Time) Decision {
	if !f.Addr.IsValid() {
		return Decision{Verdict: Ignored}
	}
	a := keyOf(f.Addr)
	if e.allow.has(a) {
		return Decision{Verdict: Allowlisted}
	}
	sec := uint32(min(max(now.Unix(), 0), forever-1))
	if e.index.banned(a, sec) {
		return Decision{Verdict: AlreadyBanned}
	}
	table := &e.pts
	if f.InvalidUser {
		table = &e.ptsInv
	}
	pts := table[f.Kind]
	if pts == 0 {
		return Decision{Verdict: Ignored}
	}
	en := e.track.get(a, now)
	pid := int32(min(max(f.PID, 0), math.MaxInt32))
	added := pts
	if !en.paired && en.pid == pid && echo(en.kind, f.Kind) {
		added = pts - min(pts, en.lastPts) // the pair counts as its heavier line
		en.paired = true
	} else {
		en.paired = false
	}
	en.add(added)
	en.credit(pid, added)
	en.pid, en.kind, en.lastPts = pid, f.Kind, pts
	score := en.score()
	d := Decision{Verdict: Counted, Score: float64(score) / 100}
	if score < e.threshold {
		return d
	}
	if e.index.active >= e.policy.MaxBans {
		return e.capped(d, CountCapped, now)
	}
	if !e.bucket.take(now) {
		return e.capped(d, RateCapped, now)
	}
	k := hostKey(a)
	prev := e.index.previous(k, sec)
	// The index counts whole seconds: the ban ends at the second after its full duration, so
	// that the kernel's timeout and the index agree and neither ends it early.
	start := now.Truncate(time.Second)
	dur := e.policy.Duration(prev)
	end := now.Add(dur)
	if whole := end.Truncate(time.Second); !whole.Equal(end) {
		end = whole.Add(time.Second)
	}
	e.index.ban(k, unixSec(start), unixSec(end))
	e.track.remove(a)
	d.Verdict, d.Count, d.Duration = Banned, prev+1, dur
	d.Ban = block.Ban{Prefix: banPrefix(f.Addr), Expires: end}
	return d
}

// Correlate passes one classified line, seen at now, through the Engine's authwatch.Sessions: an
// Unaddressed failure takes the address an earlier line of its sshd process named (Outcome
// Recognised), and an Accepted line forgives the failures its process logged before when
// Sessions says they were all for the user who logged in (Event.Forgive): forgave is the weight
// taken back (see Forgive). Call it for every line Classify did not ignore or refuse, in the
// order of the log, then Observe the event's Resolved failures and, when Recognised, the event
// itself. Its memory is bounded by Config.MaxSessions.
func (e *Engine) Correlate(f authwatch.Failure, o authwatch.Outcome, now time.Time) (ev authwatch.Event, forgave float64) {
	ev = e.sessions.Feed(f, o)
	if ev.Outcome == authwatch.Accepted && len(ev.Forgive) > 0 {
		forgave = e.Forgive(ev.PID, ev.Addr, now)
	}
	return ev, forgave
}

// Forgive takes back what the failures of sshd process pid added to a's count: the process
// logged in (authwatch.Accepted), so its failures were a PAM module failing before another
// succeeded, or an agent offering keys in turn, not an attack. It takes back exactly the points
// Observe added for that process (an echo pair's second line added only the difference), in the
// parts of the window they were added to, that are still within the window; never more than the
// address holds. It returns the weight taken back, in failures.
//
// Nothing is taken back when the address is not tracked: a ban started since (the count starts
// over then, and a ban is never lifted by a later login: sshd accepting one connection says
// nothing of the failures that earned the ban, and a banned address cannot reach sshd, so such
// a line is a replay or a race), or the address was forgotten meanwhile. Only the latest
// maxCredits processes of an address are remembered, each for creditParts parts of the window,
// and nothing survives a restart: past those, Forgive takes back less, never more.
func (e *Engine) Forgive(pid int, a netip.Addr, now time.Time) float64 {
	if pid <= 0 || !a.IsValid() {
		return 0
	}
	en := e.track.find(keyOf(a))
	if en == nil {
		return 0
	}
	en.advance(e.track.part(now))
	return float64(en.forgive(int32(min(pid, math.MaxInt32)))) / 100
}

// Weight is how many failures f counts for under the configuration, before the echo pairing
// of Observe: 0 for a kind the configuration ignores.
func (e *Engine) Weight(f authwatch.Failure) float64 {
	if f.InvalidUser {
		return float64(e.ptsInv[f.Kind]) / 100
	}
	return float64(e.pts[f.Kind]) / 100
}

// Score is a's weighted failures within the window at now, in failures, without counting
// anything.
func (e *Engine) Score(a netip.Addr, now time.Time) float64 {
	en := e.track.find(keyOf(a))
	if en == nil {
		return 0
	}
	en.advance(e.track.part(now))
	return float64(en.score()) / 100
}

// Threshold is the score that bans, in failures, as the Engine rounds it.
func (e *Engine) Threshold() float64 { return float64(e.threshold) / 100 }

func (e *Engine) capped(d Decision, v Verdict, now time.Time) Decision {
	c := &e.caps[0]
	if v == CountCapped {
		c = &e.caps[1]
	}
	c.suppressed++
	d.Verdict = v
	if c.last.IsZero() || now.Sub(c.last) >= CapReportEvery {
		d.Report, d.Suppressed = true, c.suppressed
		c.last, c.suppressed = now, 0
	}
	return d
}

// Expire ends the bans whose time is up at now and returns what the kernel must drop and, for
// a range that ended while hosts inside it are still banned, what it must hold again.
func (e *Engine) Expire(now time.Time) (remove []netip.Prefix, readd []block.Ban) {
	sec := uint32(min(max(now.Unix(), 0), forever-1))
	for _, k := range e.index.expire(sec) {
		remove = append(remove, k.prefix())
		if k.bits < 128 {
			readd = append(readd, e.index.bannedWithin(k, sec)...)
		}
	}
	return remove, readd
}

// NextExpiry is when the earliest ban ends; ok is false when no ban will.
func (e *Engine) NextExpiry() (time.Time, bool) {
	s, ok := e.index.next()
	return timeOf(s), ok
}

// Load takes the bans, offenders and allowlist of the block state: at start and after every
// save of the state, which may hold the CLI's changes. It is Install(Prepare(st)).
func (e *Engine) Load(st *block.State) { e.Install(Prepare(st)) }

// Prepared is a block state in the Engine's form. Prepare does the work (at 100 000 bans, tens
// of milliseconds) without the Engine, so that the Daemon holds its lock only for Install.
type Prepared struct {
	index *banIndex
	allow []netip.Prefix
}

// Prepare turns st into what Install takes.
func Prepare(st *block.State) *Prepared {
	p := &Prepared{index: newBanIndex()}
	p.index.load(st)
	for _, a := range st.Allowlist {
		p.allow = append(p.allow, a.Prefix)
	}
	return p
}

// loopback is never counted or banned, like an allowlisted range: a ban there would drop the
// host's traffic to itself (block add refuses it too), and a failure from loopback is a local
// user, whom a firewall cannot keep out.
var loopback = []netip.Prefix{block.Loopback4, block.Loopback6}

// SetSelf makes the host's own addresses count as allowlisted, as loopback always does (and
// as fail2ban's ignoreself does): banning one would cut the host off from itself.
func (e *Engine) SetSelf(addrs []netip.Addr) {
	e.self = e.self[:0]
	for _, a := range addrs {
		if a.IsValid() {
			a = a.Unmap().WithZone("")
			e.self = append(e.self, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	e.allow = newAllowset(loopback, e.self, e.stateAllow, e.cfg.Allowlist)
}

// allowRanges counts the ranges of the allowlists the operator gave (block.json's and the
// config's), merged, leaving out loopback and the host's own addresses, which are always there.
func (e *Engine) allowRanges() int { return newAllowset(e.stateAllow, e.cfg.Allowlist).len() }

// Install replaces the Engine's bans, offenders and state allowlist with p's.
func (e *Engine) Install(p *Prepared) {
	e.index = p.index
	e.stateAllow = p.allow
	e.allow = newAllowset(loopback, e.self, e.stateAllow, e.cfg.Allowlist)
}

// Record notes a ban the state does not hold yet (made since the state was read): after Load,
// the Daemon records the bans it has not saved, so that they stay known.
func (e *Engine) Record(b block.Ban, count int, at time.Time) {
	e.index.update(pkeyOf(b.Prefix), unixSec(b.Expires), unixSec(at), clampCount(count))
}

// forgetBanned stops counting the failures of addresses banned at now, as Observe does when
// it bans: after counts are restored from a checkpoint and bans from the WAL, an address the
// last run banned after the checkpoint starts over when its ban ends.
func (e *Engine) forgetBanned(now time.Time) {
	sec := uint32(min(max(now.Unix(), 0), forever-1))
	var gone []addrKey
	e.track.each(func(en *entry) {
		if e.index.banned(en.addr, sec) {
			gone = append(gone, en.addr)
		}
	})
	for _, a := range gone {
		e.track.remove(a)
	}
}

// CountedInBan reports whether a failure of a at t came before the address's latest ban began,
// on the second: a line read again after a restart that counted toward a ban already.
func (e *Engine) CountedInBan(a netip.Addr, t time.Time) bool {
	r, _ := e.index.find(hostKey(keyOf(a)))
	return r != nil && r.count > 0 && int64(r.last) >= t.Unix()
}

// Allowlisted reports whether the allowlist in use covers any address of p.
func (e *Engine) Allowlisted(p netip.Prefix) bool { return e.allow.overlaps(p) }

// Lift forgets the ban on p (the state refused it).
func (e *Engine) Lift(p netip.Prefix) { e.index.lift(pkeyOf(p)) }

// tokenBucket limits the ban rate: up to n bans at once, refilled at n per period.
type tokenBucket struct {
	n      float64
	perSec float64
	tokens float64
	last   time.Time
}

func (b *tokenBucket) configure(n int, per time.Duration, now time.Time) {
	full := b.last.IsZero()
	b.n, b.perSec = float64(n), float64(n)/per.Seconds()
	if full {
		b.tokens = b.n
	}
	b.tokens = min(b.tokens, b.n)
	if !now.IsZero() {
		b.last = now
	}
}

func (b *tokenBucket) take(now time.Time) bool {
	if !b.last.IsZero() && now.After(b.last) {
		b.tokens = min(b.n, b.tokens+now.Sub(b.last).Seconds()*b.perSec)
	}
	if b.last.IsZero() || now.After(b.last) {
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
