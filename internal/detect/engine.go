// Package detect finds firewall tampering in process and file telemetry (MITRE ATT&CK analytic
// AN0408): it analyses each program run (which tool, which operations, through which wrappers),
// evaluates Sigma rules over the result, drops what the allow list expects, and folds repeats
// into one alert with a count. The engine is synchronous and runs on event time, so replaying a
// file gives the same alerts every time.
package detect

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/detect/event"
	"github.com/firewarden/firewarden/internal/detect/fold"
)

// Options tune an Engine.
type Options struct {
	Allow *Allow
	// Window folds alerts with the same rule, program, parent, host and user that start within
	// it into one, with a count. Zero uses DefaultWindow; negative turns folding off.
	Window time.Duration
	// Immediate emits an alert at its first event (live use) and a follow-up with the count when
	// its window closes; otherwise an alert is emitted once, when its window closes.
	Immediate bool
	// MaxOpen bounds the alerts held open for folding; the oldest is closed early beyond it.
	MaxOpen int
}

// DefaultWindow is how long repeats fold into one alert.
const DefaultWindow = 10 * time.Minute

// Alert is one finding: a rule that fired, on what, and how often within its window.
type Alert struct {
	Rule      *Rule
	Event     event.Event // the first event (a copy that owns its data)
	Command   Command     // the command that matched (the program, or one it wraps)
	Count     int
	FirstSeen time.Time
	LastSeen  time.Time
	FollowUp  bool // an update of an alert already emitted (Immediate): Count is the total
}

// Stats counts what an Engine saw.
type Stats struct {
	Events  int64
	Matches int64 // rule matches before allow-listing and folding
	Allowed int64
	Folded  int64 // matches folded into an earlier alert
	Alerts  int64 // alerts emitted (follow-ups not counted)
	Failed  int64 // events Guarded passed over after a panic
}

type foldKey struct {
	rule, program, parent, host, user string
}

type wrapKey struct {
	host string
	pid  int
	rule *Rule
}

// Engine evaluates events against a Ruleset.
type Engine struct {
	rules   *Ruleset
	opt     Options
	open    map[foldKey]*Alert
	order   []foldKey // open alerts, oldest first
	wrapped map[wrapKey]time.Time
	pending []*Alert // due, returned with the next call
	stats   Stats
	// view is reused for every command: the rules read it through an interface, so a view
	// made per command would be allocated on the heap each time.
	view view
}

// New returns an Engine for rs.
func New(rs *Ruleset, opt Options) *Engine {
	if opt.Window == 0 {
		opt.Window = DefaultWindow
	}
	if opt.MaxOpen <= 0 {
		opt.MaxOpen = 10000
	}
	return &Engine{rules: rs, opt: opt, open: map[foldKey]*Alert{}, wrapped: map[wrapKey]time.Time{}}
}

// Stats returns the counts so far.
func (e *Engine) Stats() Stats { return e.stats }

// wrapHold is how long a wrapper's alert covers the run of the command it wraps: sudo pfctl -d
// is one alert, not two.
const wrapHold = 30 * time.Second

// Process evaluates one event and returns the alerts due by its time: new ones (Immediate)
// and ones whose window has closed.
func (e *Engine) Process(ev *event.Event) []*Alert {
	e.stats.Events++
	out := e.expire(ev.Time)
	if ev.Kind == event.Fork || ev.Kind == event.Exit {
		return out
	}
	cls := classesOf(ev)
	cmds := Analyse(ev)
	for ci := range cmds {
		c := &cmds[ci]
		v := &e.view
		*v = view{ev: ev, cmd: c}
		for _, r := range e.rules.Rules {
			if r.evaluated&cls == 0 || !r.Match(v) {
				continue
			}
			e.stats.Matches++
			if e.opt.Allow.Match(r, ev) != nil {
				e.stats.Allowed++
				continue
			}
			if len(c.Via) > 0 {
				e.wrapped[wrapKey{ev.Host, ev.PID, r}] = ev.Time
			} else if e.coveredByWrapper(ev, r) {
				e.stats.Folded++
				continue
			}
			if a := e.fold(r, ev, c); a != nil {
				out = append(out, a)
			}
		}
	}
	return out
}

// Guarded is Process that outlives a bug: a panic while evaluating ev (which no input should
// cause, and FuzzAnalyse and FuzzMatch hunt for) comes back as an error naming it, ev is passed
// over and counted in Stats.Failed, and the engine goes on with the next event. A detector that
// an attacker's command line could stop would be switched off by the first one; the error lets
// the caller name the event as not checked, so that the run is never read as an all-clear.
func (e *Engine) Guarded(ev *event.Event) (alerts []*Alert, err error) {
	defer func() {
		if p := recover(); p != nil {
			e.stats.Failed++
			alerts, err = nil, fmt.Errorf("internal error evaluating the event, which was not checked (%v); please report it", p)
		}
	}()
	return e.Process(ev), nil
}

// coveredByWrapper reports whether a wrapper around ev (the same process after an exec in place,
// or its parent) already alerted on r.
func (e *Engine) coveredByWrapper(ev *event.Event, r *Rule) bool {
	for _, pid := range []int{ev.PID, ev.PPID} {
		k := wrapKey{ev.Host, pid, r}
		if t, ok := e.wrapped[k]; ok && pid > 0 {
			if ev.Time.Sub(t) <= wrapHold && !ev.Time.Before(t.Add(-time.Second)) {
				delete(e.wrapped, k)
				return true
			}
		}
	}
	return false
}

func program(ev *event.Event, c *Command) string {
	if len(c.Via) > 0 && len(c.Argv) > 0 {
		return c.Argv[0]
	}
	return ev.Path
}

func (e *Engine) fold(r *Rule, ev *event.Event, c *Command) *Alert {
	k := foldKey{r.Name, program(ev, c), ev.ParentPath, ev.Host, ev.User}
	if e.opt.Window > 0 {
		if a, ok := e.open[k]; ok {
			a.Count++
			if ev.Time.After(a.LastSeen) {
				a.LastSeen = ev.Time
			}
			e.stats.Folded++
			return nil
		}
	}
	a := &Alert{Rule: r, Event: cloneEvent(ev), Command: cloneCommand(c), Count: 1, FirstSeen: ev.Time, LastSeen: ev.Time}
	if e.opt.Window < 0 {
		e.stats.Alerts++
		return a
	}
	e.open[k] = a
	e.order = append(e.order, k)
	var first *Alert
	if e.opt.Immediate {
		e.stats.Alerts++
		cp := *a
		first = &cp
	}
	if len(e.order) > e.opt.MaxOpen {
		// Too many distinct alerts held: close the oldest now rather than grow without bound.
		if done := e.close(e.order[0]); done != nil {
			if first != nil {
				// Both are due; the caller gets them in order on the next call at the latest.
				e.pending = append(e.pending, done)
			} else {
				first = done
			}
		}
	}
	return first
}

// expire closes the alerts whose window ended before now (event time).
func (e *Engine) expire(now time.Time) []*Alert {
	out := e.pending
	e.pending = nil
	for len(e.order) > 0 {
		a := e.open[e.order[0]]
		if a != nil && now.Sub(a.FirstSeen) <= e.opt.Window {
			break
		}
		if done := e.close(e.order[0]); done != nil {
			out = append(out, done)
		}
	}
	for k, t := range e.wrapped {
		if now.Sub(t) > wrapHold {
			delete(e.wrapped, k)
		}
	}
	return out
}

// close ends the alert under k and returns what is due for it.
func (e *Engine) close(k foldKey) *Alert {
	e.order = e.order[1:]
	a := e.open[k]
	delete(e.open, k)
	if a == nil {
		return nil
	}
	if e.opt.Immediate {
		if a.Count == 1 {
			return nil // already emitted, nothing new
		}
		a.FollowUp = true
		return a
	}
	e.stats.Alerts++
	return a
}

// Flush closes every open alert (end of input) and returns those due, oldest first.
func (e *Engine) Flush() []*Alert {
	out := e.pending
	e.pending = nil
	for len(e.order) > 0 {
		if done := e.close(e.order[0]); done != nil {
			out = append(out, done)
		}
	}
	return out
}

func cloneEvent(ev *event.Event) event.Event {
	c := *ev
	c.Argv = slices.Clone(ev.Argv)
	c.Ancestry = slices.Clone(ev.Ancestry)
	c.Raw = bytes.Clone(ev.Raw)
	if ev.Platform != nil {
		p := *ev.Platform
		c.Platform = &p
	}
	return c
}

func cloneCommand(c *Command) Command {
	d := *c
	d.Argv = slices.Clone(c.Argv)
	d.Actions = slices.Clone(c.Actions)
	d.Apps = slices.Clone(c.Apps)
	d.PlistSet = slices.Clone(c.PlistSet)
	d.PlistDelete = slices.Clone(c.PlistDelete)
	d.Targets = slices.Clone(c.Targets)
	d.Via = slices.Clone(c.Via)
	return d
}

// rawVisible are the fields whose values occur, as substrings, in the raw record a source
// writes (modulo JSON escaping and case), so a rule's literals on them can pre-filter raw lines.
// Fields derived from the process table (ParentImage, Ancestry) or normalised (Action, PlistSet,
// Signal) are not: a literal on them says nothing about the raw line. PfAnchor, PfTable, PfFile
// and App are visible too but left out: their values ("com.apple", a table name) occur in
// nearly every line, and a rule on them also names its tool, which is rarer.
var rawVisible = map[string]bool{
	"Image": true, "CommandLine": true, "Args": true, "SigningID": true, "TeamID": true,
	"TargetFilename": true, "SourceFilename": true, "Raw": true, "Tool": true,
	"PlistDomain": true, "Target": true,
}

// Interesting returns a pre-filter for raw telemetry lines: false means no rule can match
// anything the line holds, so the line need not be decoded. It returns nil when some rule
// gives no such guarantee (every line must then be decoded).
func (rs *Ruleset) Interesting() func(line []byte) bool {
	var needles []string
	for _, r := range rs.Rules {
		if r.evaluated == 0 {
			continue // never evaluated: nothing to look for
		}
		ns := r.NeedlesFor(func(field string) bool { return rawVisible[field] })
		if ns == nil {
			return nil
		}
		needles = append(needles, ns...)
	}
	m := newMultiFold(needles)
	return m.any
}

// byteRank orders bytes, case folded, from the most to the least common in eslogger, osquery
// and ECS lines (counted over bench/geneslogger output and the shared fixtures). A needle is
// looked for by its rarest byte.
const byteRank = "\"0t:es,i_21adrpn5oc3l4\\7/mu6b89g-h.fzv{}yk=xw[] q()j%*@'!+$;~"

// multiFold finds any of several lowercase ASCII needles in a line, ignoring ASCII case. Each
// needle is anchored at its rarest byte; the line is scanned with bytes.IndexByte (vectorised)
// for each anchor byte, in both cases, and only the needles sharing that anchor are compared
// around each hit. A 4 KB eslogger line holds a rare letter a few dozen times at most.
type multiFold struct {
	groups []anchorGroup
}

type anchorGroup struct {
	lower, upper byte // the anchor byte in both cases (equal when not a letter)
	needles      []anchored
	// before and after hold, in both cases, every byte some needle has just before or just
	// after its anchor (all bytes when a needle starts or ends there): most hits of a common
	// anchor ("false", "st_flags" for 'f') fail this one look-up and cost no comparison.
	before, after byteSet
}

// byteSet is a set of bytes.
type byteSet [256]bool

type anchored struct {
	s   string
	off int // the anchor's offset in s
}

func newMultiFold(needles []string) *multiFold {
	// A needle containing another is redundant: wherever it occurs, so does the shorter one.
	slices.SortFunc(needles, func(a, b string) int { return len(a) - len(b) })
	var kept []string
	for _, n := range needles {
		if n != "" && !slices.ContainsFunc(kept, func(k string) bool { return strings.Contains(n, k) }) {
			kept = append(kept, n)
		}
	}
	m := &multiFold{}
	for _, n := range kept {
		off := 0
		for i := 0; i < len(n); i++ {
			if rarity(n[i]) > rarity(n[off]) {
				off = i
			}
		}
		c := n[off]
		up := c
		if 'a' <= c && c <= 'z' {
			up = c - 32
		}
		k := slices.IndexFunc(m.groups, func(g anchorGroup) bool { return g.lower == c })
		if k < 0 {
			m.groups = append(m.groups, anchorGroup{lower: c, upper: up})
			k = len(m.groups) - 1
		}
		g := &m.groups[k]
		g.needles = append(g.needles, anchored{n, off})
		g.before.allow(n, off-1)
		g.after.allow(n, off+1)
	}
	return m
}

// allow admits the byte of needle n at i, in both cases, or every byte when i is outside n.
func (t *byteSet) allow(n string, i int) {
	if i < 0 || i >= len(n) {
		for c := range t {
			t[c] = true
		}
		return
	}
	c := n[i]
	t[c] = true
	if 'a' <= c && c <= 'z' {
		t[c-32] = true
	}
}

// rarity is a byte's place in byteRank; bytes it does not list are the rarest.
func rarity(c byte) int {
	if i := strings.IndexByte(byteRank, c); i >= 0 {
		return i
	}
	return len(byteRank)
}

func (m *multiFold) any(line []byte) bool {
	for gi := range m.groups {
		g := &m.groups[gi]
		if g.hit(line, g.lower) || (g.upper != g.lower && g.hit(line, g.upper)) {
			return true
		}
	}
	return false
}

func (g *anchorGroup) hit(line []byte, c byte) bool {
	for i := 0; ; {
		j := bytes.IndexByte(line[i:], c)
		if j < 0 {
			return false
		}
		i += j
		if i > 0 && !g.before[line[i-1]] || i+1 < len(line) && !g.after[line[i+1]] {
			i++
			continue
		}
		for _, n := range g.needles {
			start := i - n.off
			if start >= 0 && start+len(n.s) <= len(line) && fold.EqualBytes(line[start:start+len(n.s)], n.s) {
				return true
			}
		}
		i++
	}
}
