package live

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/posture/alf"
)

// PfctlPath is where pfctl lives on macOS.
const PfctlPath = "/sbin/pfctl"

// Settings the poll watches. The ALF ones are the posture check IDs.
const (
	SettingALF      = alf.IDEnabled  // the Application Firewall is on (global state 1 or 2)
	SettingBlockAll = alf.IDBlockAll // it blocks all incoming connections
	SettingStealth  = alf.IDStealth  // stealth mode
	SettingPF       = "pf.enabled"   // the packet filter is enabled
)

// State is what one poll read. A nil field was not read (a failed run, output not understood).
type State struct {
	ALF      *bool
	BlockAll *bool
	Stealth  *bool
	PF       *bool
}

// stateCmd is the one socketfilterfw run per poll: only getters.
var stateCmd = host.Cmd{Path: alf.SocketFilterFW, Args: []string{"--getglobalstate", "--getblockall", "--getstealthmode"}}

var pfInfoCmd = host.Cmd{Path: PfctlPath, Args: []string{"-s", "info"}}

// ReadState reads the Application Firewall's global state, block-all and stealth through
// socketfilterfw, and whether pf is enabled through `pfctl -s info`. The errors say what could
// not be read; the matching fields stay nil.
func ReadState(ctx context.Context, run host.Runner) (State, []error) {
	var st State
	var errs []error
	res, err := run.Run(ctx, stateCmd)
	r := alf.Parse(res.Stdout)
	switch {
	case err != nil:
		errs = append(errs, err)
	case len(r.Conflicts) > 0:
		errs = append(errs, fmt.Errorf("%s contradicted itself: %q", stateCmd, r.Conflicts))
	default:
		if r.GlobalState != nil {
			st.ALF = new(*r.GlobalState >= 1)
		}
		// Block-all from --getblockall, or from State 2 when that line is absent (as alf does).
		st.BlockAll = r.BlockAll
		if st.BlockAll == nil && r.GlobalState != nil {
			st.BlockAll = new(*r.GlobalState == 2)
		}
		st.Stealth = r.Stealth
		if st.ALF == nil && st.BlockAll == nil && st.Stealth == nil {
			errs = append(errs, fmt.Errorf("%s printed no state: %q", stateCmd, firstLine(res.Stdout)))
		}
	}
	res, err = run.Run(ctx, pfInfoCmd)
	if err == nil {
		st.PF, err = ParsePfInfo(res.Stdout)
	}
	if err != nil {
		errs = append(errs, err)
	}
	return st, errs
}

// ParsePfInfo reads the Status line of `pfctl -s info`: "Status: Enabled for 0 days 11:50:53
// Debug: Urgent" (BSD wording, reference/alf.md §7.2; the macOS disabled form "Status:
// Disabled" is expected, not verified).
func ParsePfInfo(out []byte) (*bool, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "Status:")
		if !ok {
			continue
		}
		switch f := strings.Fields(rest); {
		case len(f) > 0 && strings.EqualFold(f[0], "enabled"):
			return new(true), nil
		case len(f) > 0 && strings.EqualFold(f[0], "disabled"):
			return new(false), nil
		}
	}
	return nil, fmt.Errorf("%s printed no Status line: %q", pfInfoCmd, firstLine(out))
}

func firstLine(b []byte) string {
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return line
}

// Weakening is a setting the poll saw drop.
type Weakening struct {
	Setting string // SettingALF, SettingBlockAll, SettingStealth or SettingPF
	Area    Area
	Before  string // "on"
	After   string // "off"
	Time    time.Time
}

var settingNames = map[string]string{
	SettingALF:      "the Application Firewall",
	SettingBlockAll: "the Application Firewall's block-all mode",
	SettingStealth:  "the Application Firewall's stealth mode",
	SettingPF:       "the pf packet filter",
}

// Reason is the one-line explanation of the alert for w.
func (w Weakening) Reason() string {
	return fmt.Sprintf("%s went from %s to %s (%s) and no event explained it: the firewall was weakened by an unseen path (a GUI or MDM change, a tool eslogger does not show, or lost events)",
		settingNames[w.Setting], w.Before, w.After, w.Setting)
}

// Drops compares two readings and returns the settings that went from on to off. An unknown
// value on either side is no drop. When the Application Firewall itself went off, its block-all
// and stealth are not reported separately: they no longer matter.
func Drops(prev, cur State, at time.Time) []Weakening {
	fell := func(a, b *bool) bool { return a != nil && b != nil && *a && !*b }
	var out []Weakening
	add := func(setting string, area Area) {
		out = append(out, Weakening{Setting: setting, Area: area, Before: "on", After: "off", Time: at})
	}
	if fell(prev.ALF, cur.ALF) {
		add(SettingALF, ALF)
	} else {
		if fell(prev.BlockAll, cur.BlockAll) {
			add(SettingBlockAll, ALF)
		}
		if fell(prev.Stealth, cur.Stealth) {
			add(SettingStealth, ALF)
		}
	}
	if fell(prev.PF, cur.PF) {
		add(SettingPF, PF)
	}
	return out
}

// merge keeps the last known value of each setting: a failed read does not hide a later drop.
func merge(prev, cur State) State {
	keep := func(p, c *bool) *bool {
		if c != nil {
			return c
		}
		return p
	}
	return State{keep(prev.ALF, cur.ALF), keep(prev.BlockAll, cur.BlockAll), keep(prev.Stealth, cur.Stealth), keep(prev.PF, cur.PF)}
}

// stateTimeout bounds one poll's program runs.
const stateTimeout = 20 * time.Second

// poll reads the state every Poll and sends the drops to the detection loop. The first reading
// is the baseline. A read error is reported when it first occurs, not at every poll; once it
// has gone away, its return is reported again.
func (s *Supervisor) poll(ctx context.Context, out chan<- []Weakening) {
	reported := map[string]bool{}
	read := func() State {
		rctx, cancel := context.WithTimeout(ctx, stateTimeout)
		defer cancel()
		st, errs := ReadState(rctx, s.cfg.Runner)
		now := map[string]bool{}
		for _, err := range errs {
			key := errKey(err)
			now[key] = true
			if !reported[key] && ctx.Err() == nil {
				s.logf("state poll: %s (reported once)", oneLine(err.Error()))
			}
		}
		reported = now
		return st
	}
	prev := read()
	for sleep(ctx, s.clock, s.cfg.Poll) {
		cur := read()
		if ctx.Err() != nil {
			return
		}
		if ws := Drops(prev, cur, s.clock.Now()); len(ws) > 0 {
			select {
			case out <- ws:
			case <-ctx.Done():
				return
			}
		}
		prev = merge(prev, cur)
	}
}

// errKey names an error's kind for reporting it once: the program it concerns.
func errKey(err error) string {
	var ee *host.ExitError
	if errors.As(err, &ee) && len(ee.Argv) > 0 {
		return ee.Argv[0]
	}
	if errors.Is(err, host.ErrNotInstalled) {
		return "missing:" + err.Error()
	}
	msg := err.Error()
	if i := strings.IndexByte(msg, ' '); i > 0 {
		return msg[:i]
	}
	return msg
}

// tracker decides which drops no event explains. A matched event explains a drop of its area
// (an event of unknown area explains any) when it came at most Poll+Margin before the poll that
// saw the drop (the change happened since the previous poll) or at most Margin after it (the
// event was still on its way). Matches count whether they alerted, were folded into an earlier
// alert or were allowed: a folded repeat is the very change the poll sees.
type tracker struct {
	look, margin time.Duration
	last         map[Area]time.Time // the latest match per area
	pending      []pendingDrop
}

type pendingDrop struct {
	w        Weakening
	deadline time.Time
}

func newTracker(poll, margin time.Duration) *tracker {
	return &tracker{look: poll + margin, margin: margin, last: map[Area]time.Time{}}
}

func explains(alert, drop Area) bool { return alert == "" || alert == drop }

// seen records a matched event of area a at now, and forgets the pending drops it explains.
func (t *tracker) seen(a Area, now time.Time) {
	if now.After(t.last[a]) {
		t.last[a] = now
	}
	kept := t.pending[:0]
	for _, p := range t.pending {
		if !explains(a, p.w.Area) {
			kept = append(kept, p)
		}
	}
	clear(t.pending[len(kept):])
	t.pending = kept
}

// drop records a drop seen at now. It is forgotten at once when a recent match explains it, and
// waits for Margin otherwise.
func (t *tracker) drop(w Weakening, now time.Time) {
	for a, at := range t.last {
		if explains(a, w.Area) && !at.Before(now.Add(-t.look)) {
			return
		}
	}
	t.pending = append(t.pending, pendingDrop{w, now.Add(t.margin)})
}

// due returns the drops whose margin has passed without a match and forgets them.
func (t *tracker) due(now time.Time) []Weakening {
	var out []Weakening
	kept := t.pending[:0]
	for _, p := range t.pending {
		if !now.Before(p.deadline) {
			out = append(out, p.w)
		} else {
			kept = append(kept, p)
		}
	}
	clear(t.pending[len(kept):])
	t.pending = kept
	return out
}

// next returns the earliest pending deadline.
func (t *tracker) next() (time.Time, bool) {
	var at time.Time
	for _, p := range t.pending {
		if at.IsZero() || p.deadline.Before(at) {
			at = p.deadline
		}
	}
	return at, !at.IsZero()
}

// flush returns every pending drop and forgets them.
func (t *tracker) flush() []Weakening {
	out := make([]Weakening, 0, len(t.pending))
	for _, p := range t.pending {
		out = append(out, p.w)
	}
	t.pending = nil
	return out
}

// AreaOf names the firewall a command or a file change touches, from the analysed command's
// tool, its property-list domain, its targets (launchd labels, process names) and the changed
// file; "" when none of them says.
func AreaOf(tool, domain, file string, targets []string) Area {
	switch strings.ToLower(tool) {
	case "socketfilterfw", "profiles":
		return ALF
	case "pfctl":
		return PF
	}
	switch d := strings.ToLower(domain); {
	case strings.Contains(d, "com.apple.alf"), strings.Contains(d, "com.apple.security.firewall"):
		return ALF
	}
	for _, t := range targets {
		switch t := strings.ToLower(t); {
		case strings.Contains(t, "com.apple.alf"), strings.Contains(t, "socketfilterfw"):
			return ALF
		case strings.Contains(t, "com.apple.pfctl"):
			return PF
		}
	}
	switch f := strings.ToLower(file); {
	case strings.Contains(f, "com.apple.alf"), strings.Contains(f, "com.apple.security.firewall"), strings.Contains(f, "/applicationfirewall/"):
		return ALF
	case strings.HasPrefix(f, "/etc/pf.conf"), strings.HasPrefix(f, "/etc/pf.anchors/"), strings.HasPrefix(f, "/private/etc/pf.conf"), strings.HasPrefix(f, "/private/etc/pf.anchors/"):
		return PF
	}
	return ""
}
