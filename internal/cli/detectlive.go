package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/detect"
	"github.com/firewarden/firewarden/internal/detect/event"
	"github.com/firewarden/firewarden/internal/detect/input"
	"github.com/firewarden/firewarden/internal/detect/live"
	"github.com/firewarden/firewarden/internal/detect/sigma"
	"github.com/firewarden/firewarden/internal/host"
)

// runDetectLive implements `detect --live`: it watches this Mac through eslogger (or `log
// stream`), polls the firewall state every lc.poll, and sends alerts to standard output and to
// --out, --syslog and --webhook until ctx ends (SIGINT, SIGTERM). Exit status 1 when it raised
// an alert, 0 when not, 2 when it could not run.
func runDetectLive(ctx context.Context, a *app, rs *detect.Ruleset, opt detect.Options, lc liveConfig) error {
	// A signal means "deliver what is queued and stop", which may take more than a second.
	extendGrace(ctx, DaemonGrace)
	if err := a.env(); err != nil {
		return err
	}
	if a.os.Kind != host.MacOS {
		return usagef("detect --live watches a Mac through eslogger or the unified log, and %s runs %s; give --root a Mac's root, or run `detect FILE` on telemetry", a.root.Dir(), a.os)
	}
	if a.root.IsSystem() && a.euid() != 0 {
		return usagef("detect --live runs eslogger, which needs root: sudo firewarden detect --live")
	}
	if lc.poll < 0 {
		return usagef("--poll %s: give a positive interval, or 0 to turn the state poll off", lc.poll)
	}
	hostname := a.hostname()
	logf := live.LineLogger(a.Err, "firewarden: detect --live: ")

	// Every output is set up before anything runs: a bad --syslog or --webhook is a usage error
	// now, not a surprise at the first alert.
	sinks := []live.Sink{&live.Writer{W: a.Out, JSON: a.g.json}}
	fail := func(err error) error {
		for _, s := range sinks {
			s.Close()
		}
		return err
	}
	if lc.outFile != "" {
		f, err := live.OpenFile(lc.outFile)
		if err != nil {
			return fail(usagef("--out: %v", err))
		}
		sinks = append(sinks, f)
	}
	if lc.syslog != "" {
		s, err := live.NewSyslog(lc.syslog, live.SyslogOptions{Root: a.root, OS: a.os.Kind, Hostname: hostname})
		if err != nil {
			return fail(usagef("--syslog: %v", err))
		}
		sinks = append(sinks, s)
	}
	if lc.webhook != "" {
		w, err := live.NewWebhook(lc.webhook, live.WebhookOptions{Log: logf, InsecureHTTP: lc.webhookHTTP})
		if errors.Is(err, live.ErrInsecureWebhook) {
			// The URL is not echoed: it may hold a token.
			return fail(usagef("--webhook: a plain http:// URL sends alerts unencrypted; use https://, or add --webhook-insecure-http to accept that"))
		}
		if err != nil {
			return fail(usagef("--webhook: %v", err))
		}
		sinks = append(sinks, w)
	}

	eng := &liveEngine{e: detect.New(rs, opt), host: hostname, logf: logf}
	cfg := a.liveConfig(eng, rs, hostname, logf)
	cfg.Sinks, cfg.Poll = sinks, lc.poll
	sup, err := live.New(cfg)
	if err != nil {
		return fail(err)
	}
	if isTTY(a.Err) {
		fmt.Fprintf(a.Err, "firewarden: detect --live: watching %s with %d rules; Ctrl-C stops\n", hostname, len(rs.Rules))
	}
	st, err := sup.Run(ctx)
	fmt.Fprintf(a.Err, "firewarden: detect --live: %d events, %d alerts (%d from the state poll), %d run(s) of %s\n",
		st.Events, st.Alerts, st.StateAlerts, st.Runs, orNone(st.Source))
	if err != nil {
		return err
	}
	if st.Alerts > 0 {
		return exitCode(1)
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "no telemetry program"
	}
	return s
}

// liveEngine adapts the detection engine to live.Engine. It runs on the supervisor's detection
// goroutine only, like the engine it wraps.
type liveEngine struct {
	e    *detect.Engine
	host string
	logf func(format string, args ...any) // names an event the engine could not check
}

// Process implements live.Engine.
func (l *liveEngine) Process(ev *event.Event) live.Verdict {
	before := l.e.Stats().Matches
	alerts, err := l.e.Guarded(ev)
	if err != nil {
		// The detector goes on: stopping it is what an attacker would want.
		l.logf("skipped an event of pid %d (%s): %v; detecting on", ev.PID, ev.Path, err)
	}
	v := live.Verdict{Alerts: renderAlerts(alerts)}
	if l.e.Stats().Matches > before {
		v.Matched, v.Area = true, eventArea(ev)
	}
	return v
}

// Flush implements live.Engine.
func (l *liveEngine) Flush() []live.Alert { return renderAlerts(l.e.Flush()) }

// eventArea names the firewall a matched event touched, "" when its commands disagree or none
// says.
func eventArea(ev *event.Event) live.Area {
	switch ev.Kind {
	case event.FileModify:
		return live.AreaOf("", "", ev.FilePath, nil)
	case event.ProfileRemove:
		return live.ALF
	}
	var area live.Area
	for _, c := range detect.Analyse(ev) {
		a := live.AreaOf(c.Tool, c.PlistDomain, "", c.Targets)
		if a == "" {
			continue
		}
		if area != "" && a != area {
			return ""
		}
		area = a
	}
	return area
}

// renderAlerts renders alerts exactly as `detect FILE` prints them (alertWriter), once, on the
// detection goroutine: the engine keeps changing the alerts it holds open.
func renderAlerts(alerts []*detect.Alert) []live.Alert {
	if len(alerts) == 0 {
		return nil
	}
	out := make([]live.Alert, 0, len(alerts))
	for _, al := range alerts {
		out = append(out, renderAlert(al))
	}
	return out
}

func renderAlert(al *detect.Alert) live.Alert {
	var text, js bytes.Buffer
	// Writing to a bytes.Buffer cannot fail, nor can marshalling an alert.
	newAlertWriter(&text, false).write([]*detect.Alert{al})
	newAlertWriter(&js, true).write([]*detect.Alert{al})
	return live.Alert{
		Rule: al.Rule.Name, Severity: al.Severity(), Time: al.FirstSeen,
		Text: strings.TrimSuffix(text.String(), "\n"), JSON: bytes.TrimSuffix(js.Bytes(), []byte("\n")),
	}
}

// stateRuleID is the fixed id of the state-weakened-unseen rule, which lives in code: it fires
// on the state poll, not on an event.
const stateRuleID = "6d1f3b7e-2c4a-4e59-9b0e-8f5a7c3d2e41"

// stateSigma is the Sigma part of the state rule: immutable, shared by every state alert.
var stateSigma = &sigma.Rule{
	ID:          stateRuleID,
	Title:       "Firewall weakened by an unseen path",
	Status:      "experimental",
	Description: "A firewall setting went from on to off between two state polls and no event of the live stream explained it.",
	Level:       "high",
	Tags:        []string{"attack.defense-impairment", "attack.t1686"},
}

// weakened builds the alert for a drop of the firewall state that no event explained.
func (l *liveEngine) weakened(w live.Weakening) live.Alert {
	r := &detect.Rule{
		Rule: stateSigma, Name: "state-weakened-unseen", Builtin: true,
		Reason:   w.Reason(),
		Analytic: "AN0408", Techniques: []string{"T1686", "T1562.004"},
	}
	al := &detect.Alert{
		Rule: r,
		Event: event.Event{
			Time: w.Time, Host: l.host, Source: "poll", Kind: event.State, Input: "state poll",
			Process: event.Process{UID: event.Unknown, EUID: event.Unknown, AUID: event.Unknown},
		},
		Count: 1, FirstSeen: w.Time, LastSeen: w.Time,
	}
	return renderAlert(al)
}

var _ live.Engine = (*liveEngine)(nil)

// liveConfig is the supervisor of detect --live and of the agent's tamper detection, but for
// its sinks and poll interval: eslogger or log stream started under the root, their output
// decoded in the format each speaks, eng judging it and polling the firewall's state.
func (a *app) liveConfig(eng *liveEngine, rs *detect.Ruleset, hostname string, logf func(string, ...any)) live.Config {
	interesting := rs.Interesting()
	return live.Config{
		Root: a.root,
		// Not a.rec: a Recorder keeps every run, and a daemon polls forever.
		Runner:  host.ExecRunner{Root: a.root, Timeout: 20 * time.Second},
		Starter: live.ExecStarter{Root: a.root},
		Decode: func(r io.Reader, name string, f live.Format) live.Source {
			format, err := input.ParseFormat(string(f))
			if err != nil {
				format = input.Auto
			}
			// A line the reader cannot read is passed over and named; the stream goes on.
			skip := func(sk input.Skip) { logf("skipped %s; reading on", sk) }
			return input.NewReader(r, name, input.Options{Format: format, Host: hostname, Interesting: interesting, Skip: skip})
		},
		Engine:   eng,
		Weakened: eng.weakened,
		Log:      logf,
	}
}
