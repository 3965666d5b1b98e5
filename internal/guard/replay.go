package guard

import (
	"math"
	"net/netip"
	"time"

	"github.com/firewarden/firewarden/internal/authwatch"
)

// Replay runs the guard's decisions over a log, line by line, on the lines' own timestamps:
// `firewarden guard test`. It is the Daemon's line path without its I/O: the same parser,
// correlation (Engine.Correlate), forgiveness and Engine, with the configuration's allowlist,
// threshold, window, weights and caps, but no kernel, no block state (so no allowlist of
// `firewarden block allow`, and no earlier bans) and no write-ahead log. Its memory is bounded
// as the Daemon's is: by Config.MaxTracked, Config.MaxSessions and the number of bans.
type Replay struct {
	eng    *Engine
	parser authwatch.Parser
	last   time.Time // the latest line time seen; lines without one happen then
	sum    ReplaySummary
	banAt  map[netip.Addr]int // index in sum.Bans
}

// LineResult is what the guard makes of one line.
type LineResult struct {
	// Number is the line's number, from 1.
	Number int
	// Outcome is Classify's outcome after correlation: an Unaddressed line whose process
	// named its address before is Recognised.
	Outcome authwatch.Outcome
	// Failure is what the line says (its address filled in by correlation).
	Failure authwatch.Failure
	// FromPID says the address came from an earlier line of the same process.
	FromPID bool
	// Time is when the line counts: its own timestamp, or the latest one before it.
	Time time.Time
	// Weight is how many failures the line counts for under the configuration (a Recognised
	// failure), before the pairing of one attempt's lines; 0 otherwise.
	Weight float64
	// Decision is the Engine's (Recognised lines only).
	Decision Decision
	// Forgave is the weight an Accepted line took back from its address (Engine.Forgive).
	Forgave float64
	// Resolved are the failures of earlier lines of the process that named no address, which
	// this line's address resolves (authwatch.Event.Resolved): counted now, each with its
	// weight and decision.
	Resolved []ResolvedFailure
}

// ResolvedFailure is an earlier failure counted when a later line named its address.
type ResolvedFailure struct {
	Failure  authwatch.Failure
	Weight   float64
	Decision Decision
}

// ReplayBan is an address the configuration would ban.
type ReplayBan struct {
	Addr netip.Addr
	// Score is the address's score when it was first banned; Bans how many times it was
	// (a ban ends and the address goes on); Line the line of the first ban.
	Score float64
	Bans  int
	Line  int
}

// ReplaySummary counts the lines of a Replay.
type ReplaySummary struct {
	Lines int
	// Per outcome, after correlation.
	Recognised, Refused, Unaddressed, Accepted, Linked, Ignored int
	// Failures counts the failures per kind: Recognised lines and Resolved ones.
	Failures map[authwatch.Kind]int
	// Resolved counts the failures of Unaddressed lines that a later line of their process
	// gave an address (counted in Failures too).
	Resolved int
	// Forgiving counts the Accepted lines that took weight back, Forgave that weight.
	Forgiving int
	Forgave   float64
	// Capped counts the bans a cap refused (ban.rate, ban.max_bans).
	Capped int
	// Bans are the addresses banned, in the order of their first ban: the first
	// MaxReplayBans addresses; BansLeftOut counts the bans of the addresses after those.
	Bans        []ReplayBan
	BansLeftOut int
}

// MaxReplayBans bounds ReplaySummary.Bans, so that a log of any length is read in bounded
// memory: block.DefaultMaxBans, the most the guard holds at once by default.
const MaxReplayBans = 100_000

// NewReplay returns a Replay of cfg. now places timestamps without a year (RFC 3164: the latest
// year that puts them at most a day after now) and is the time of lines before the first that
// has one.
func NewReplay(cfg *Config, now time.Time) *Replay {
	r := &Replay{eng: NewEngine(cfg), last: now, banAt: map[netip.Addr]int{}}
	r.parser.Now = now
	r.sum.Failures = map[authwatch.Kind]int{}
	return r
}

// Engine is the Replay's Engine.
func (r *Replay) Engine() *Engine { return r.eng }

// Summary is the count so far.
func (r *Replay) Summary() ReplaySummary { return r.sum }

// Line decides one line (without its newline).
func (r *Replay) Line(text []byte) LineResult {
	r.sum.Lines++
	res := LineResult{Number: r.sum.Lines}
	f, o := r.parser.Classify(text)
	if o != authwatch.Ignored && !f.Time.IsZero() {
		r.last = f.Time
	}
	res.Time = r.last
	now := r.last
	// Bans end on the lines' time, as the Daemon's timer ends them on the clock's.
	if next, ok := r.eng.NextExpiry(); ok && !now.Before(next) {
		r.eng.Expire(now)
	}
	if o == authwatch.Ignored || o == authwatch.Refused {
		res.Outcome, res.Failure = o, f
		r.count(o)
		return res
	}
	ev, w := r.eng.Correlate(f, o, now)
	res.Outcome, res.Failure, res.FromPID = ev.Outcome, ev.Failure, ev.FromPID
	r.count(ev.Outcome)
	// As the Daemon does: correlating forgave, then count what this line resolves, then the line.
	if w > 0 {
		res.Forgave = w
		r.sum.Forgiving++
		r.sum.Forgave = math.Round((r.sum.Forgave+w)*100) / 100 // hundredths, as the Engine counts
	}
	for _, f := range ev.Resolved {
		r.sum.Resolved++
		w, d := r.observe(f, now, res.Number)
		res.Resolved = append(res.Resolved, ResolvedFailure{Failure: f, Weight: w, Decision: d})
	}
	if ev.Outcome == authwatch.Recognised {
		res.Weight, res.Decision = r.observe(ev.Failure, now, res.Number)
	}
	return res
}

// observe counts one failure at now, read on line n.
func (r *Replay) observe(f authwatch.Failure, now time.Time, n int) (float64, Decision) {
	r.sum.Failures[f.Kind]++
	w := r.eng.Weight(f)
	d := r.eng.Observe(f, now)
	switch d.Verdict {
	case Banned:
		if i, ok := r.banAt[f.Addr]; ok {
			r.sum.Bans[i].Bans++
		} else if len(r.sum.Bans) >= MaxReplayBans {
			r.sum.BansLeftOut++
		} else {
			r.banAt[f.Addr] = len(r.sum.Bans)
			r.sum.Bans = append(r.sum.Bans, ReplayBan{Addr: f.Addr, Score: d.Score, Bans: 1, Line: n})
		}
	case RateCapped, CountCapped:
		r.sum.Capped++
	}
	return w, d
}

func (r *Replay) count(o authwatch.Outcome) {
	switch o {
	case authwatch.Recognised:
		r.sum.Recognised++
	case authwatch.Refused:
		r.sum.Refused++
	case authwatch.Unaddressed:
		r.sum.Unaddressed++
	case authwatch.Accepted:
		r.sum.Accepted++
	case authwatch.Linked:
		r.sum.Linked++
	default:
		r.sum.Ignored++
	}
}
