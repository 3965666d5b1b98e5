package agent

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sync"
	"time"

	"github.com/firewarden/firewarden/internal/block"
	"github.com/firewarden/firewarden/internal/detect"
	"github.com/firewarden/firewarden/internal/evidence"
	"github.com/firewarden/firewarden/internal/fleet/wire"
	"github.com/firewarden/firewarden/internal/version"
)

// Note is the evidence-chain record of something the agent forwards that is not a check run: a
// tamper alert or a summary of the guard's bans. Like a run, it is in the local chain before it
// is spooled, and its record carries the chain entry.
type Note struct {
	ID          string      `json:"id"`   // UUIDv7
	Kind        string      `json:"kind"` // wire.KindAlert or wire.KindBans
	Host        string      `json:"host"`
	Tool        string      `json:"tool"`
	ToolVersion string      `json:"tool_version"`
	Time        time.Time   `json:"time"`
	Alert       *wire.Alert `json:"alert,omitempty"`
	Bans        *wire.Bans  `json:"bans,omitempty"`
}

// forward chains and spools one note as a record, the way a cycle is applied: decided into
// agent.cycle.json first, so that a kill at any step ends with it spooled once.
func (a *Agent) forward(n Note, sent *bansSent) (wire.Record, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.recoverLocked(); err != nil {
		return wire.Record{}, err
	}
	n.ID, n.Host, n.Tool, n.ToolVersion = evidence.NewRunID(n.Time), a.Host, "firewarden", version.String()
	rec := wire.Record{Seq: a.Spool.Next(), Kind: n.Kind, Time: n.Time, Alert: n.Alert, Bans: n.Bans}
	c := cycle{RunID: n.ID, Note: &n, Records: []wire.Record{rec}, Bans: sent}
	if err := writeJSON(a.State, CycleFile, c); err != nil {
		return rec, err
	}
	if err := a.apply(c, false); err != nil {
		return rec, err
	}
	return rec, nil
}

// ForwardAlert chains and spools a tamper alert and counts it for `agent status`.
func (a *Agent) ForwardAlert(al wire.Alert) error {
	at := al.LastSeen
	if at.IsZero() {
		at = a.now()
	}
	if _, err := a.forward(Note{Kind: wire.KindAlert, Time: at.UTC(), Alert: &al}, nil); err != nil {
		return err
	}
	a.updateFacts(func(f *Facts) {
		f.AlertsForwarded++
		f.LastAlert, f.LastAlertRule = at.UTC(), al.Rule
	})
	return nil
}

// AlertOf converts an alert in detect's --json form (live.Alert.JSON) for the wire.
func AlertOf(data []byte) (wire.Alert, error) {
	var j detect.JSONAlert
	if err := json.Unmarshal(data, &j); err != nil {
		return wire.Alert{}, fmt.Errorf("alert: %w", err)
	}
	if j.Rule.Name == "" {
		return wire.Alert{}, errors.New("alert: no rule name")
	}
	al := wire.Alert{
		Rule: j.Rule.Name, Severity: j.Severity, Reason: j.Reason, User: j.Process.User, Process: j.Process.Path,
		CommandLine: j.Process.CommandLine, Count: j.Count, FirstSeen: j.FirstSeen, LastSeen: j.LastSeen,
	}
	if j.Parent != nil {
		al.Parent = j.Parent.Path
	}
	if al.Count < 1 {
		al.Count = 1
	}
	if al.FirstSeen.IsZero() {
		al.FirstSeen = j.Time
	}
	if al.LastSeen.IsZero() {
		al.LastSeen = al.FirstSeen
	}
	return al, nil
}

// bansSent is BansFile: the last ban summary spooled, and the newest ban it counted, so that
// the next summary counts only bans made since.
type bansSent struct {
	At      time.Time `json:"at"`
	Bans    wire.Bans `json:"bans"`
	Newest  time.Time `json:"newest"` // the latest Last of the bans counted
	StateMT time.Time `json:"state_mtime"`
}

// topBans is how many prefixes a ban summary names.
const topBans = 5

// SummariseBans summarises the guard's state at now: the bans in force, how many were made
// after since, and the most banned prefixes in force. newest is the latest ban's time.
func SummariseBans(st *block.State, since, now time.Time) (b wire.Bans, newest time.Time) {
	newest = since
	var active []block.BanEntry
	for _, e := range st.Bans {
		if e.Last.After(since) {
			b.Added++
		}
		if e.Last.After(newest) {
			newest = e.Last
		}
		if e.Expires.IsZero() || e.Expires.After(now) {
			active = append(active, e)
		}
	}
	b.Active = len(active)
	slices.SortFunc(active, func(x, y block.BanEntry) int {
		if c := cmp.Compare(y.Count, x.Count); c != 0 {
			return c
		}
		if c := y.Last.Compare(x.Last); c != 0 {
			return c
		}
		return x.Prefix.Addr().Compare(y.Prefix.Addr())
	})
	for _, e := range active[:min(len(active), topBans)] {
		b.Top = append(b.Top, e.Prefix.String())
	}
	return b, newest
}

// CheckBans spools a summary of the guard's bans (block.json in the state directory) when it
// differs from the last one spooled, or when the last one is older than every (the policy
// interval less its jitter), and returns whether it spooled one. A host whose guard never ran
// has no block.json and sends none. When block.json did not change since the last call and no
// summary is due, it costs one stat: the daemon calls it every minute.
func (a *Agent) CheckBans(every time.Duration) (bool, error) {
	fi, err := a.State.Stat(block.StateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var prev bansSent
	seen, err := readJSON(a.State, BansFile, &prev)
	if err != nil {
		return false, err
	}
	now := a.now()
	due := !seen || now.Sub(prev.At) >= every
	if !due && fi.ModTime().Equal(prev.StateMT) {
		return false, nil // nothing changed, and the last summary is recent
	}
	st, err := (&block.Store{Dir: a.State.Path()}).Load()
	if err != nil {
		return false, err
	}
	b, newest := SummariseBans(st, prev.Newest, now)
	changed := !seen || b.Added > 0 || b.Active != prev.Bans.Active || !slices.Equal(b.Top, prev.Bans.Top)
	if !changed && !due {
		// block.json was rewritten with the same bans: remember it, send nothing.
		prev.StateMT = fi.ModTime()
		return false, writeJSON(a.State, BansFile, prev)
	}
	sent := &bansSent{At: now, Bans: b, Newest: newest, StateMT: fi.ModTime()}
	if _, err := a.forward(Note{Kind: wire.KindBans, Time: now, Bans: &b}, sent); err != nil {
		return false, err
	}
	a.updateFacts(func(f *Facts) { f.LastBans, f.LastBansAt = &b, now })
	return true, nil
}

// alertQueue hands alerts from the detection goroutine to the forwarder without ever blocking
// the detection goroutine for longer than a lock.
type alertQueue struct {
	wake  chan struct{} // one pending wake-up
	mu    sync.Mutex
	items []wire.Alert
}

func newAlertQueue() *alertQueue { return &alertQueue{wake: make(chan struct{}, 1)} }

func (q *alertQueue) push(al wire.Alert) {
	q.mu.Lock()
	q.items = append(q.items, al)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *alertQueue) take() []wire.Alert {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.items
	q.items = nil
	return out
}

// requeue puts alerts that could not be spooled back in front of the queue.
func (q *alertQueue) requeue(als []wire.Alert) {
	q.mu.Lock()
	q.items = append(als, q.items...)
	q.mu.Unlock()
}
