package guard

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/firewarden/firewarden/internal/block"
	"github.com/firewarden/firewarden/internal/guard/follow"
)

// Event is one line of the guard's log: a ban, the end of a ban, a cap being hit, a reload.
// With JSON it is written as one object per line with these field names (stable; new fields
// may be added).
type Event struct {
	Time   time.Time    `json:"time"`
	Event  string       `json:"event"` // start, recover, ban, unban, lift, capped, reload, state, error, stop
	Prefix netip.Prefix `json:"prefix,omitzero"`
	Until  time.Time    `json:"until,omitzero"`
	// For "ban": how long, which ban of the address this is, its score and the kind and
	// source of the line that reached the threshold.
	Duration string  `json:"duration,omitempty"`
	Count    int     `json:"count,omitempty"`
	Score    float64 `json:"score,omitempty"`
	Kind     string  `json:"kind,omitempty"`
	Source   string  `json:"source,omitempty"`
	// Read is when the line was read, Applied when the kernel had the ban: the daemon's share
	// of the latency from a failure to the drop.
	Read    time.Time `json:"read,omitzero"`
	Applied time.Time `json:"applied,omitzero"`
	// For "capped": which cap and how many bans it refused since the last report.
	Cap        string `json:"cap,omitempty"`
	Suppressed int    `json:"suppressed,omitempty"`
	Message    string `json:"message,omitempty"`
}

// logger writes Events as text or JSON lines, one at a time.
type logger struct {
	mu   sync.Mutex
	w    io.Writer
	json bool
}

func (l *logger) log(e Event) {
	if l == nil || l.w == nil {
		return
	}
	var line []byte
	if l.json {
		b, err := json.Marshal(e)
		if err != nil {
			return
		}
		line = append(b, '\n')
	} else {
		line = []byte("guard: " + e.text() + "\n")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w.Write(line)
}

// Logf returns a follow.Logf that writes each message as one line of the guard's log, of the
// given event ("source" for the sources' diagnostics).
func Logf(w io.Writer, json bool, event string) follow.Logf {
	l := &logger{w: w, json: json}
	return func(format string, args ...any) {
		l.log(Event{Time: time.Now(), Event: event, Message: fmt.Sprintf(format, args...)})
	}
}

// text is the event as a human reads it.
func (e Event) text() string {
	p := ""
	if e.Prefix.IsValid() {
		p = block.FormatPrefix(e.Prefix)
	}
	switch e.Event {
	case "ban":
		var b strings.Builder
		fmt.Fprintf(&b, "banned %s for %s until %s", p, e.Duration, e.Until.UTC().Format(time.RFC3339))
		if e.Count > 1 {
			fmt.Fprintf(&b, " (ban %d of this address)", e.Count)
		}
		fmt.Fprintf(&b, ": %s failures, the last %s from %s", formatFloat(e.Score), e.Kind, e.Source)
		if !e.Applied.IsZero() && !e.Read.IsZero() {
			fmt.Fprintf(&b, "; in the kernel %s after the line was read", e.Applied.Sub(e.Read).Round(time.Microsecond))
		}
		if e.Message != "" {
			b.WriteString("; " + e.Message)
		}
		return b.String()
	case "unban":
		return "the ban on " + p + " ended"
	case "lift":
		return "lifted the ban on " + p + ": " + e.Message
	case "capped":
		return e.Message
	}
	if p != "" {
		return p + ": " + e.Message
	}
	return e.Message
}
