package detect

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/detect/event"
	"github.com/firewarden/firewarden/internal/host"
)

// Severity is the rule's Sigma level, defaulting to medium.
func (a *Alert) Severity() string {
	if a.Rule.Level == "" {
		return "medium"
	}
	return strings.ToLower(a.Rule.Level)
}

// CommandLine is the command that matched, as a shell would read it.
func (a *Alert) CommandLine() string {
	if len(a.Command.Via) == 0 && a.Event.CommandLine != "" && !a.Event.ArgvExact {
		return a.Event.CommandLine
	}
	if len(a.Command.Argv) > 0 {
		return host.QuoteArgv(a.Command.Argv)
	}
	return a.Event.CommandLine
}

func userText(ev *event.Event) string {
	var b strings.Builder
	switch {
	case ev.User != "":
		b.WriteString(ev.User)
	case ev.UID != event.Unknown:
		fmt.Fprintf(&b, "uid %d", ev.UID)
	default:
		b.WriteString("?")
	}
	if ev.EUID != event.Unknown && ev.EUID != ev.UID {
		fmt.Fprintf(&b, " (euid %d)", ev.EUID)
	}
	if ev.AUID != event.Unknown && ev.AUID != event.NoAuditUser && ev.AUID != ev.UID {
		fmt.Fprintf(&b, " (login uid %d)", ev.AUID)
	}
	return b.String()
}

// Text is the alert as one readable line.
func (a *Alert) Text() string {
	ev := &a.Event
	var b strings.Builder
	t := a.FirstSeen.UTC().Format(time.RFC3339)
	fmt.Fprintf(&b, "%s %s %s", t, strings.ToUpper(a.Severity()), a.Rule.Name)
	if ev.Host != "" {
		fmt.Fprintf(&b, " host=%s", ev.Host)
	}
	if ev.Kind == event.State { // a polled setting: no process to name
		fmt.Fprintf(&b, " — %s%s", a.Rule.Reason, a.Rule.tags())
		return b.String()
	}
	fmt.Fprintf(&b, " user=%q", userText(ev))
	switch ev.Kind {
	case event.FileModify:
		fmt.Fprintf(&b, " file=%q by %q", ev.FilePath, ev.Path)
	case event.ProfileRemove:
		fmt.Fprintf(&b, " profile removed by %q pid=%d", ev.Path, ev.PID)
	default:
		fmt.Fprintf(&b, " pid=%d cmd=%q", ev.PID, a.CommandLine())
		if len(a.Command.Via) == 0 && ev.Path != "" && (len(ev.Argv) == 0 || ev.Argv[0] != ev.Path) {
			fmt.Fprintf(&b, " image=%q", ev.Path) // argv[0] is the caller's choice; this is what ran
		}
		if len(a.Command.Via) > 0 {
			fmt.Fprintf(&b, " via=%s", strings.Join(a.Command.Via, ","))
		}
	}
	if ev.ParentPath != "" {
		fmt.Fprintf(&b, " parent=%q", ev.ParentPath)
	} else if ev.PPID > 0 {
		fmt.Fprintf(&b, " ppid=%d", ev.PPID)
	}
	if len(ev.Ancestry) > 1 {
		fmt.Fprintf(&b, " ancestry=%q", strings.Join(ev.Ancestry, " < "))
	}
	if ev.TTY != "" {
		fmt.Fprintf(&b, " tty=%s", ev.TTY)
	}
	if a.Count > 1 {
		fmt.Fprintf(&b, " count=%d last=%s", a.Count, a.LastSeen.UTC().Format(time.RFC3339))
	}
	if a.FollowUp {
		b.WriteString(" (repeats)")
	}
	fmt.Fprintf(&b, " — %s%s", a.Rule.Reason, a.Rule.tags())
	return b.String()
}

// JSONAlert is the --json form of an alert: stable field names, new fields may be added.
type JSONAlert struct {
	Time        time.Time   `json:"time"`
	FirstSeen   time.Time   `json:"first_seen"`
	LastSeen    time.Time   `json:"last_seen"`
	Count       int         `json:"count"`
	FollowUp    bool        `json:"follow_up,omitempty"`
	Severity    string      `json:"severity"`
	Rule        JSONRule    `json:"rule"`
	Reason      string      `json:"reason"`
	Analytic    string      `json:"analytic,omitempty"`
	Techniques  []string    `json:"techniques,omitempty"`
	Host        string      `json:"host,omitempty"`
	Kind        string      `json:"event_type"`
	Process     JSONProcess `json:"process"`
	Parent      *JSONParent `json:"parent,omitempty"`
	Responsible *JSONParent `json:"responsible,omitempty"`
	Ancestry    []string    `json:"ancestry,omitempty"`
	Command     JSONCommand `json:"command"`
	File        string      `json:"file,omitempty"`
	Source      JSONSource  `json:"source"`
}

// JSONRule names the rule that fired.
type JSONRule struct {
	Name  string `json:"name"`
	ID    string `json:"id,omitempty"`
	Title string `json:"title"`
	File  string `json:"file,omitempty"`
}

// JSONProcess is the program that ran.
type JSONProcess struct {
	PID         int      `json:"pid"`
	Path        string   `json:"path,omitempty"`
	Argv        []string `json:"argv,omitempty"`
	ArgvExact   bool     `json:"argv_exact"`
	CommandLine string   `json:"command_line,omitempty"`
	SigningID   string   `json:"signing_id,omitempty"`
	TeamID      string   `json:"team_id,omitempty"`
	Platform    *bool    `json:"platform_binary,omitempty"`
	User        string   `json:"user,omitempty"`
	UID         *int     `json:"uid,omitempty"`
	EUID        *int     `json:"euid,omitempty"`
	AUID        *int     `json:"auid,omitempty"`
	TTY         string   `json:"tty,omitempty"`
}

// JSONParent is a related process.
type JSONParent struct {
	PID  int    `json:"pid,omitempty"`
	Path string `json:"path,omitempty"`
}

// JSONCommand is the analysed command that matched.
type JSONCommand struct {
	Tool    string   `json:"tool"`
	Argv    []string `json:"argv,omitempty"`
	Actions []string `json:"actions,omitempty"`
	Via     []string `json:"via,omitempty"`
}

// JSONSource says where the first event came from.
type JSONSource struct {
	Format string `json:"format"`
	Input  string `json:"input,omitempty"`
	Line   int64  `json:"line,omitempty"`
}

func idPtr(n int) *int {
	if n == event.Unknown {
		return nil
	}
	return &n
}

// JSON is the alert in its --json form.
func (a *Alert) JSON() JSONAlert {
	ev := &a.Event
	j := JSONAlert{
		Time: a.FirstSeen.UTC(), FirstSeen: a.FirstSeen.UTC(), LastSeen: a.LastSeen.UTC(), Count: a.Count, FollowUp: a.FollowUp,
		Severity: a.Severity(), Rule: JSONRule{a.Rule.Name, a.Rule.ID, a.Rule.Title, a.Rule.File},
		Reason: a.Rule.Reason, Analytic: a.Rule.Analytic, Techniques: a.Rule.Techniques,
		Host: ev.Host, Kind: string(ev.Kind), Ancestry: ev.Ancestry, File: ev.FilePath,
		Process: JSONProcess{
			PID: ev.PID, Path: ev.Path, Argv: ev.Argv, ArgvExact: ev.ArgvExact, CommandLine: a.CommandLine(),
			SigningID: ev.SigningID, TeamID: ev.TeamID, Platform: ev.Platform, User: ev.User,
			UID: idPtr(ev.UID), EUID: idPtr(ev.EUID), AUID: idPtr(ev.AUID), TTY: ev.TTY,
		},
		Command: JSONCommand{Tool: a.Command.Tool, Argv: a.Command.Argv, Actions: a.Command.Actions, Via: a.Command.Via},
		Source:  JSONSource{Format: ev.Source, Input: ev.Input, Line: ev.Line},
	}
	if ev.ParentPath != "" || ev.PPID > 0 {
		j.Parent = &JSONParent{ev.PPID, ev.ParentPath}
	}
	if ev.ResponsiblePath != "" || ev.ResponsiblePID > 0 {
		j.Responsible = &JSONParent{ev.ResponsiblePID, ev.ResponsiblePath}
	}
	return j
}

// MarshalJSON writes the --json form.
func (a *Alert) MarshalJSON() ([]byte, error) { return json.Marshal(a.JSON()) }
