package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/firewarden/firewarden/internal/agent"
	"github.com/firewarden/firewarden/internal/detect"
	"github.com/firewarden/firewarden/internal/detect/live"
	"github.com/firewarden/firewarden/internal/fleet/wire"
	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/posture"
	"github.com/firewarden/firewarden/internal/statedir"
	"github.com/firewarden/firewarden/internal/version"
)

// agentSpec is the agent command's entry in the command table (a function: the table's run
// functions refer back to it through help).
func agentSpec() *cmdSpec {
	return &cmdSpec{
		name: "agent", summary: "the fleet agent: report this host's posture to firewarden-server",
		desc: "Enrolls this host with a firewarden-server and runs the policy the server assigns on its interval and " +
			"whenever the server nudges: every check cycle is appended to the evidence chain and reported, each change " +
			"of a check's status as a drift; in enforce mode what fails is fixed as `fix` does (never against a profile, " +
			"never weakening). Records wait in a spool in the state directory until the server acknowledges them, so " +
			"nothing is lost while the server is unreachable or when the agent is killed.",
		examples: []string{
			"sudo firewarden agent enroll --server https://fleet.example:8443 --secret fwe_SECRET --fingerprint SHA256:HEX",
			"sudo firewarden agent run --once",
			"firewarden agent status",
		},
		needsVerb: true, run: runAgent,
		verbs: []*cmdSpec{
			{
				name: "enroll", summary: "trade an enroll secret for this host's credential",
				desc: "Sends the enroll secret with this host's identity (IOPlatformUUID on macOS, /etc/machine-id on Linux), " +
					"name and OS to the server and keeps the credential it returns in agent.json in the state directory, " +
					"readable by root only. The server's certificate is verified against the system roots, or, with " +
					"--fingerprint, must be exactly the certificate `firewarden-server init` printed the fingerprint of. " +
					"Plain http is refused except to a loopback address with --insecure-http.",
				examples: []string{
					"sudo firewarden agent enroll --server https://fleet.example:8443 --secret fwe_SECRET --label laptops",
					"sudo firewarden agent enroll --server https://10.0.0.5:8443 --secret fwe_SECRET --fingerprint SHA256:HEX",
				},
			},
			{
				name: "run", summary: "the agent daemon; --once runs one cycle and uploads",
				desc: "Runs a check cycle at once, then every policy interval (plus or minus 10 % jitter) and when the server nudges, " +
					"uploading the spool after each. On macOS it also runs tamper detection live (the engine of `detect --live`, " +
					"built-in rules) and forwards each alert at once; when the guard's bans change (block.json in the state " +
					"directory, looked at every minute) it sends a summary, and an unchanged one about once per interval. " +
					"Alerts and summaries are in the evidence chain and the spool like runs. " +
					"--once runs one cycle (and the ban summary), uploads and exits: 0 uploaded and compliant, " +
					"1 uploaded and not compliant, 2 when the cycle or the upload failed (the records stay spooled for the " +
					"next run). SIGINT and SIGTERM stop it cleanly.",
				examples: []string{"sudo firewarden agent run", "sudo firewarden agent run --once"},
			},
			{
				name: "rotate", summary: "replace this host's credential without enrolling again",
				desc: "Asks the server for a new host credential, authenticated by the current one, and saves it in agent.json " +
					"before using it. The server keeps the old credential valid until the new one is first used, so an " +
					"interruption at any point leaves a working credential. A running agent picks the new one up by " +
					"itself. The daemon also rotates on its own every 30 days (agent run --rotate-after).",
				examples: []string{"sudo firewarden agent rotate"},
			},
			{
				name: "status", summary: "enrolment, last run, last upload, spool depth, next run",
				desc: "Prints where this host is enrolled (server, host ID, pinned fingerprint), the last run and its " +
					"verdict, the last upload, how many records wait in the spool and when the next run is due; then what " +
					"it forwards: whether tamper detection runs (macOS) and how many alerts it forwarded, and the last " +
					"summary of the guard's bans it sent. Exit 0 enrolled, 1 not enrolled.",
				examples: []string{"firewarden agent status", "firewarden --json agent status"},
			},
		},
	}
}

func runAgent(ctx context.Context, a *app, args []string) error {
	if len(args) == 0 {
		return usagef("agent needs one of: enroll, run, rotate, status")
	}
	switch args[0] {
	case "enroll":
		return runAgentEnroll(ctx, a, args[1:])
	case "run":
		return runAgentRun(ctx, a, args[1:])
	case "rotate":
		return runAgentRotate(ctx, a, args[1:])
	case "status":
		return runAgentStatus(a, args[1:])
	}
	return usagef("agent needs one of: enroll, run, rotate, status")
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

func runAgentEnroll(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("agent enroll")
	server := fs.String("server", "", "the fleet server's `URL` (https://HOST:PORT)")
	secret := fs.String("secret", "", "the enroll `SECRET` (fwe_...) the server's init printed")
	fingerprint := fs.String("fingerprint", "", "pin the server's certificate by its fingerprint `SHA256:HEX` instead of trusting the system roots")
	insecure := fs.Bool("insecure-http", false, "allow a plain http:// server URL, for a loopback address only")
	var labels stringList
	fs.Var(&labels, "label", "ask for `LABEL` (repeatable)")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("agent enroll takes no arguments, got %q", pos[0])
	}
	if *server == "" || *secret == "" {
		return usagef("agent enroll needs --server URL and --secret S (both printed by `firewarden-server init`)")
	}
	u, err := agent.ServerURL(*server, *insecure)
	if err != nil {
		return usagef("%v", err)
	}
	pin := ""
	if *fingerprint != "" {
		if pin, err = agent.ParseFingerprint(*fingerprint); err != nil {
			return usagef("%v", err)
		}
	}
	if err := a.env(); err != nil {
		return err
	}
	if err := a.requireRoot("agent enroll"); err != nil {
		return err
	}
	uuid, err := agent.HostUUID(ctx, a.root, a.os, a.rec)
	if err != nil {
		return err
	}
	state, err := statedir.Open(a.stateDir())
	if err != nil {
		return err
	}
	// The server's sequence for this host resumes where the spool stands, so that records
	// numbered under an earlier enrollment still upload, and later ones are not taken for a gap.
	spool, err := agent.OpenSpool(state)
	if err != nil {
		return err
	}
	c := agent.NewClient(u, pin, nil)
	c.UserAgent = "firewarden-agent/" + version.String()
	resp, err := c.Enroll(ctx, wire.EnrollRequest{
		Secret: *secret, HostUUID: uuid, Hostname: a.hostname(), OS: osName(string(a.os.Kind)), OSVersion: a.os.Version,
		AgentVersion: version.String(), Labels: labels, NextSeq: spool.Resume(),
	})
	if err != nil {
		return err
	}
	e := agent.Enrollment{
		Server: u.String(), Fingerprint: pin, InsecureHTTP: u.Scheme == "http", HostID: resp.HostID, HostUUID: uuid,
		Credential: resp.Credential, Labels: labels, Enrolled: a.now().UTC(),
	}
	if err := agent.SaveEnrollment(state, e); err != nil {
		return err
	}
	if a.g.json {
		return writeJSON(a.Out, struct {
			Server string `json:"server"`
			HostID string `json:"host_id"`
		}{e.Server, e.HostID})
	}
	fmt.Fprintf(a.Out, "enrolled with %s as host %s; start the agent with: firewarden service install agent --start\n", e.Server, e.HostID)
	return nil
}

// newAgent builds the agent from agent.json in the state directory.
func (a *app) newAgent() (*agent.Agent, *statedir.Dir, agent.Enrollment, error) {
	state, err := statedir.Open(a.stateDir())
	if err != nil {
		return nil, nil, agent.Enrollment{}, err
	}
	e, err := agent.LoadEnrollment(state)
	if err != nil {
		return nil, nil, e, usagef("%v", err)
	}
	u, err := agent.ServerURL(e.Server, e.InsecureHTTP)
	if err != nil {
		return nil, nil, e, fmt.Errorf("%s: %v; enroll again", state.Join(agent.EnrollmentFile), err)
	}
	spool, err := agent.OpenSpool(state)
	if err != nil {
		return nil, nil, e, err
	}
	c := agent.NewClient(u, e.Fingerprint, nil)
	c.Credential = e.Credential
	c.UserAgent = "firewarden-agent/" + version.String()
	// `agent rotate` beside a running daemon changes agent.json under it.
	c.Reload = func() (string, error) {
		e, err := agent.LoadEnrollment(state)
		return e.Credential, err
	}
	// Enforce mode fixes through the same providers: the table it settles is held for boot,
	// and the held file says the agent did it.
	a.holdBy = "agent"
	ag := &agent.Agent{
		State: state, Spool: spool, Client: c,
		Engine: func() *posture.Engine {
			// A fresh recorder per cycle: the daemon must not keep every program run it ever made.
			rec := &host.Recorder{Runner: host.ExecRunner{Root: a.root}}
			return &posture.Engine{Now: a.now, Providers: a.providers(rec)}
		},
		Backups: a.backups(),
		Host:    a.hostname(), OS: string(a.os.Kind), OSVersion: a.os.Version,
		Now: a.now, Log: a.Err,
	}
	ag.Defaults()
	return ag, state, e, nil
}

func runAgentRun(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("agent run")
	once := fs.Bool("once", false, "run one cycle, upload, exit: 0 compliant, 1 not compliant, 2 failed")
	rotateAfter := fs.Duration("rotate-after", agent.DefaultRotateAfter, "rotate the host credential when it is this old (`DURATION`; 0 never)")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("agent run takes no arguments, got %q", pos[0])
	}
	if err := a.env(); err != nil {
		return err
	}
	if err := a.requireRoot("agent run"); err != nil {
		return err
	}
	if *rotateAfter < 0 {
		return usagef("--rotate-after %v: want a duration such as 720h, or 0 for never", *rotateAfter)
	}
	ag, state, _, err := a.newAgent()
	if err != nil {
		return err
	}
	ag.RotateAfter = *rotateAfter
	if *rotateAfter == 0 {
		ag.RotateAfter = -1
	}
	lock, err := state.Lock("agent.lock", false)
	if errors.Is(err, statedir.ErrLocked) {
		return usagef("another firewarden agent is running with the state directory %s; stop it first (firewarden service status agent)", state.Path())
	}
	if err != nil {
		return err
	}
	defer lock.Unlock()
	if err := ag.Recover(); err != nil {
		return err
	}
	if !*once {
		if a.os.Kind == host.MacOS {
			ag.Watch = a.agentWatch()
		}
		return ag.Run(ctx)
	}
	out, err := ag.Once(ctx)
	if err != nil {
		return err
	}
	if !out.Compliant {
		return exitCode(posture.ExitNonCompliant)
	}
	return nil
}

// agentWatch is the agent's tamper detection: the engine of `detect --live` with the built-in
// rules and the state poll, its alerts handed to emit instead of printed. It is gated as
// `detect --live` is: a Mac, or a Mac's root given with --root.
func (a *app) agentWatch() func(ctx context.Context, emit func(wire.Alert)) error {
	return func(ctx context.Context, emit func(wire.Alert)) error {
		rs, err := detect.LoadRules(true)
		if err != nil {
			return err
		}
		hostname := a.hostname()
		logf := live.LineLogger(a.Err, "firewarden agent: tamper detection: ")
		eng := &liveEngine{e: detect.New(rs, detect.Options{Immediate: true}), host: hostname, logf: logf}
		cfg := a.liveConfig(eng, rs, hostname, logf)
		cfg.Sinks, cfg.Poll = []live.Sink{&agentSink{emit: emit, logf: logf}}, time.Minute
		sup, err := live.New(cfg)
		if err != nil {
			return err
		}
		_, err = sup.Run(ctx)
		return err
	}
}

// agentSink hands live alerts to the agent in its wire form.
type agentSink struct {
	emit func(wire.Alert)
	logf live.Logf
}

func (s *agentSink) Name() string { return "the fleet agent" }

func (s *agentSink) Send(al live.Alert) error {
	w, err := agent.AlertOf(al.JSON)
	if err != nil {
		return err
	}
	s.emit(w)
	return nil
}

func (s *agentSink) Close() error { return nil }

var _ live.Sink = (*agentSink)(nil)

// agentStatus is `agent status --json`.
type agentStatus struct {
	Enrolled    bool        `json:"enrolled"`
	Server      string      `json:"server,omitempty"`
	HostID      string      `json:"host_id,omitempty"`
	Fingerprint string      `json:"fingerprint,omitempty"`
	EnrolledAt  *time.Time  `json:"enrolled_at,omitempty"`
	Spool       int         `json:"spool_records"`
	SpoolBytes  int64       `json:"spool_bytes"`
	Facts       agent.Facts `json:"facts"`
}

func runAgentStatus(a *app, args []string) error {
	fs := a.flagSet("agent status")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("agent status takes no arguments, got %q", pos[0])
	}
	if err := a.env(); err != nil {
		return err
	}
	var st agentStatus
	state, err := statedir.Existing(a.stateDir())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if state != nil {
		if _, err := state.ReadDir(); errors.Is(err, os.ErrPermission) {
			return usagef("the agent's state in %s is readable by root only: run sudo firewarden agent status", state.Path())
		}
	}
	if state != nil {
		if e, err := agent.LoadEnrollment(state); err == nil {
			st.Enrolled, st.Server, st.HostID, st.Fingerprint, st.EnrolledAt = true, e.Server, e.HostID, e.Fingerprint, &e.Enrolled
		} else if !errors.Is(err, agent.ErrNotEnrolled) {
			return err
		}
		if st.Facts, err = agent.LoadFacts(state); err != nil {
			return err
		}
		if sp, err := state.ExistingSub(agent.SpoolDir); err == nil {
			des, _ := sp.ReadDir()
			for _, de := range des {
				if strings.HasSuffix(de.Name(), ".json") && !strings.HasPrefix(de.Name(), ".") {
					st.Spool++
					if fi, err := de.Info(); err == nil {
						st.SpoolBytes += fi.Size()
					}
				}
			}
		}
	}
	if a.g.json {
		if err := writeJSON(a.Out, st); err != nil {
			return err
		}
	} else {
		writeAgentStatus(a, st)
	}
	if !st.Enrolled {
		return exitCode(1)
	}
	return nil
}

func writeAgentStatus(a *app, st agentStatus) {
	if !st.Enrolled {
		fmt.Fprintln(a.Out, "not enrolled: run firewarden agent enroll --server URL --secret S")
		return
	}
	at := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format(time.RFC3339)
	}
	tw := tabwriter.NewWriter(a.Out, 0, 0, 2, ' ', 0)
	if st.Facts.Revoked {
		fmt.Fprintf(tw, "credential\tREVOKED by the server's admin: this host no longer reports (it keeps enforcing its last policy locally); enroll again with firewarden agent enroll, then restart the agent\n")
	}
	fmt.Fprintf(tw, "server\t%s\n", st.Server)
	fmt.Fprintf(tw, "host id\t%s\n", st.HostID)
	fp := st.Fingerprint
	if fp == "" {
		fp = "(none: verified against the system roots)"
	}
	fmt.Fprintf(tw, "fingerprint\t%s\n", fp)
	fmt.Fprintf(tw, "enrolled\t%s\n", at(*st.EnrolledAt))
	f := st.Facts
	last := at(f.LastRun)
	if !f.LastRun.IsZero() {
		verdict := "compliant"
		if !f.LastCompliant {
			verdict = "NOT compliant"
		}
		last += fmt.Sprintf(" (%s, run %s, policy %s, %s mode)", verdict, f.LastRunID, f.Policy, f.Mode)
	}
	fmt.Fprintf(tw, "last run\t%s\n", last)
	up := at(f.LastUpload)
	if f.LastUploadError != "" {
		up += "; last attempt failed: " + f.LastUploadError
	}
	fmt.Fprintf(tw, "last upload\t%s\n", up)
	fmt.Fprintf(tw, "spool\t%d record(s), %d bytes\n", st.Spool, st.SpoolBytes)
	next := "not scheduled (agent run is not running)"
	if !f.NextRun.IsZero() {
		next = at(f.NextRun)
	}
	fmt.Fprintf(tw, "next run\t%s\n", next)
	if f.Detect != "" || f.AlertsForwarded > 0 {
		d := f.Detect
		if d == "" {
			d = "not running"
		}
		d += fmt.Sprintf("; %d alert(s) forwarded", f.AlertsForwarded)
		if f.AlertsForwarded > 0 {
			d += fmt.Sprintf(", the last %s (%s)", at(f.LastAlert), f.LastAlertRule)
		}
		fmt.Fprintf(tw, "tamper detection\t%s\n", d)
	}
	if b := f.LastBans; b != nil {
		line := fmt.Sprintf("%d active, %d new, sent %s", b.Active, b.Added, at(f.LastBansAt))
		if len(b.Top) > 0 {
			line += "; most banned: " + strings.Join(b.Top, ", ")
		}
		fmt.Fprintf(tw, "bans\t%s\n", line)
	}
	tw.Flush()
}

func runAgentRotate(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("agent rotate")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("agent rotate takes no arguments, got %q", pos[0])
	}
	if err := a.env(); err != nil {
		return err
	}
	if err := a.requireRoot("agent rotate"); err != nil {
		return err
	}
	ag, state, _, err := a.newAgent()
	if err != nil {
		return err
	}
	e, err := agent.Rotate(ctx, state, ag.Client, wire.RotateManual, a.now())
	if err != nil {
		return err
	}
	if a.g.json {
		return writeJSON(a.Out, struct {
			Server  string    `json:"server"`
			HostID  string    `json:"host_id"`
			Rotated time.Time `json:"rotated"`
		}{e.Server, e.HostID, e.Rotated})
	}
	fmt.Fprintf(a.Out, "rotated the credential of host %s at %s; the old one stops working when the new one is first used\n", e.HostID, e.Server)
	return nil
}
