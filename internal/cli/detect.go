package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/firewarden/firewarden/internal/detect"
	"github.com/firewarden/firewarden/internal/detect/input"
)

func runDetect(ctx context.Context, a *app, args []string) error {
	if len(args) > 0 && args[0] == "rules" {
		return runDetectRules(ctx, a, args[1:])
	}
	flags := a.flagSet("detect")
	format := flags.String("input", "auto", "telemetry `FORMAT`: auto, eslogger, osquery, unifiedlog, santa or ecs")
	var ruleDirs multiFlag
	flags.Var(&ruleDirs, "rules", "add the Sigma rules in `DIR` (or one rule FILE) to the built-in pack; repeatable")
	noBuiltin := flags.Bool("no-builtin", false, "do not load the built-in rule pack")
	strict := flags.Bool("strict", false, "refuse a --rules folder holding a rule file that does not load, instead of skipping that file with a warning")
	allowFile := flags.String("allow", "", "drop alerts the allow list `FILE` expects (management agents, administrators)")
	window := flags.Duration("window", detect.DefaultWindow, "fold repeats of an alert (same rule, program, parent, host, user) within `DURATION`; 0 turns folding off")
	live := flags.Bool("live", false, "watch this Mac: run eslogger (or log stream) and alert as events arrive")
	var lc liveConfig
	flags.StringVar(&lc.outFile, "out", "", "live: also append alerts to `FILE`")
	flags.StringVar(&lc.syslog, "syslog", "", "live: also send alerts to syslog: `ADDR` is local (the system logger) or udp://host:port / tcp://host:port")
	flags.StringVar(&lc.webhook, "webhook", "", "live: also POST each alert as JSON to `URL`, an https:// one (retried with back-off)")
	flags.BoolVar(&lc.webhookHTTP, "webhook-insecure-http", false, "live: let --webhook be a plain http:// URL (alerts then cross the network unencrypted)")
	flags.DurationVar(&lc.poll, "poll", time.Minute, "live: read the firewall state every `DURATION` and alert when it drops without a matching event")
	files, err := a.parse(flags, args)
	if err != nil {
		return err
	}
	f, err := input.ParseFormat(*format)
	if err != nil {
		return usagef("--input: %v", err)
	}
	rs, err := detect.Load(detect.LoadOptions{Builtin: !*noBuiltin, Paths: ruleDirs, Strict: *strict})
	if err != nil {
		return usagef("%v", err)
	}
	if len(rs.Rules) == 0 {
		return usagef("no rules: drop --no-builtin or give --rules DIR")
	}
	printRuleWarnings(a.Err, rs, maxRuleWarnings)
	if !slices.ContainsFunc(rs.Rules, (*detect.Rule).Applies) {
		return usagef("none of the %d rules applies to what firewarden reads (macOS and Linux process, file and profile events; see the warnings above): give --rules the folders of rules for macos or linux", len(rs.Rules))
	}
	var allow *detect.Allow
	if *allowFile != "" {
		data, err := os.ReadFile(*allowFile)
		if err != nil {
			return usagef("--allow: %v", err)
		}
		if allow, err = detect.ParseAllow(data, *allowFile); err != nil {
			return usagef("--allow: %v", err)
		}
	}
	if *window < 0 {
		return usagef("--window %s: want 0 (no folding) or a positive duration such as 5m", *window)
	}
	opt := detect.Options{Allow: allow, Window: *window}
	if *window == 0 {
		opt.Window = -1
	}
	if *live {
		if len(files) > 0 {
			return usagef("detect --live reads this Mac's telemetry; it takes no FILE")
		}
		if err := a.loadConfig(); err != nil {
			return err
		}
		lc = a.liveDefaults(flags, lc)
		opt.Immediate = true
		return runDetectLive(ctx, a, rs, opt, lc)
	}
	if len(files) == 0 {
		return usagef("detect needs a telemetry FILE (- for standard input), or --live; run `firewarden help detect`")
	}
	for i, name := range files {
		if name == "-" && slices.Contains(files[i+1:], "-") {
			return usagef("- (standard input) is given twice; it can be read once")
		}
	}
	e := detect.New(rs, opt)
	out := newAlertWriter(a.Out, a.g.json)
	var sk skipped
	var lines, malformed, records int64
	interesting := rs.Interesting()
	for _, name := range files {
		st, err := detectFile(a, name, input.Options{Format: f, Interesting: interesting, Skip: sk.line}, e, out)
		lines += st.Lines
		malformed += st.Malformed
		for _, n := range st.Records {
			records += n
		}
		var we *writeError
		switch {
		case errors.As(err, &we):
			return we.err // standard output is gone: nothing more can be reported
		case err != nil:
			sk.input(err)
		}
	}
	if err := out.write(e.Flush()); err != nil {
		return err
	}
	if records == 0 && sk.n > 0 {
		// Nothing could be read: the one reason is the error; several are listed first.
		if sk.n == 1 {
			return sk.first
		}
		sk.print(a.Err)
		return fmt.Errorf("detect: none of the input could be read (%d problems above)", sk.n)
	}
	sk.print(a.Err)
	st := e.Stats()
	fmt.Fprintf(a.Err, "detect: %d lines, %d events, %d alerts (%d allowed, %d folded), %d malformed lines, %d skipped\n",
		lines, st.Events, st.Alerts, st.Allowed, st.Folded, malformed, sk.n)
	switch {
	case out.n > 0:
		if sk.n > 0 {
			fmt.Fprintf(a.Err, "detect: incomplete: %d skipped part(s) of the input were not checked; there may be more alerts\n", sk.n)
		}
		return exitCode(1)
	case sk.n > 0:
		// No all-clear: what was skipped may be exactly what an attacker made unreadable.
		fmt.Fprintf(a.Err, "detect: incomplete: no alerts in what was read, but %d skipped part(s) of the input were not checked (exit 2)\n", sk.n)
		return exitCode(2)
	}
	return nil
}

// detectFile reads one input through e, writing alerts as they fall due, and returns the
// reader's counts. An error ends this input only (the caller goes on with the next): the file
// could not be opened, it stopped in the middle, or it held no telemetry. A failed write to
// standard output comes back as a *writeError.
func detectFile(a *app, name string, opt input.Options, e *detect.Engine, out *alertWriter) (input.Stats, error) {
	var src io.Reader = a.In
	if name != "-" {
		fh, err := os.Open(name)
		if err != nil {
			return input.Stats{}, err
		}
		defer fh.Close()
		src = fh
	}
	r := input.NewReader(src, name, opt)
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			return r.Stats(), nil
		}
		if err != nil {
			return r.Stats(), err
		}
		alerts, perr := e.Guarded(ev)
		if perr != nil && opt.Skip != nil {
			opt.Skip(input.Skip{Input: name, Line: ev.Line, Reason: perr.Error()})
		}
		if err := out.write(alerts); err != nil {
			return r.Stats(), &writeError{err}
		}
	}
}

// writeError is a failure to write alerts, as opposed to one reading the input.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }

// maxSkipNotes is how many skipped parts are named on stderr; the rest are counted.
const maxSkipNotes = 20

// skipped collects what detect passed over: lines it could not read and inputs it could not
// read (to the end). Each is named on stderr, the first maxSkipNotes of them, and all counted.
type skipped struct {
	notes []string
	n     int
	first error // the first, as an error of its own
}

func (s *skipped) add(note string, err error) {
	if s.n == 0 {
		s.first = err
	}
	s.n++
	if len(s.notes) < maxSkipNotes {
		s.notes = append(s.notes, note)
	}
}

// line records a line the reader passed over.
func (s *skipped) line(sk input.Skip) {
	s.add("detect: skipped "+sk.String(), fmt.Errorf("detect: %s", sk))
}

// input records an input that could not be read, or not to its end.
func (s *skipped) input(err error) {
	s.add("detect: skipped "+strings.TrimPrefix(oneLine(err.Error()), "detect: "), err)
}

func (s *skipped) print(w io.Writer) {
	for _, n := range s.notes {
		fmt.Fprintln(w, n)
	}
	if more := s.n - len(s.notes); more > 0 {
		fmt.Fprintf(w, "detect: skipped %d more\n", more)
	}
}

// liveConfig is what detect --live takes beyond the rules and the engine options.
type liveConfig struct {
	outFile string
	syslog  string
	webhook string
	// webhookHTTP admits a plain http:// --webhook, which is refused otherwise.
	webhookHTTP bool
	poll        time.Duration
}

// liveDefaults fills in what the configuration file's detect.live section sets for the flags
// not given on the command line: flags override the file.
func (a *app) liveDefaults(flags *flag.FlagSet, lc liveConfig) liveConfig {
	set := map[string]bool{}
	flags.Visit(func(f *flag.Flag) { set[f.Name] = true })
	l := a.config().Live
	if !set["out"] {
		lc.outFile = a.confPathOf(l.Out)
	}
	if !set["syslog"] {
		lc.syslog = l.Syslog
	}
	if !set["webhook"] {
		lc.webhook = l.Webhook
	}
	if !set["webhook-insecure-http"] {
		lc.webhookHTTP = l.WebhookInsecureHTTP
	}
	if !set["poll"] {
		lc.poll = l.Poll
	}
	return lc
}

// alertWriter prints alerts as lines or ndjson.
type alertWriter struct {
	w    io.Writer
	json bool
	n    int
}

func newAlertWriter(w io.Writer, asJSON bool) *alertWriter { return &alertWriter{w: w, json: asJSON} }

func (o *alertWriter) write(alerts []*detect.Alert) error {
	for _, al := range alerts {
		o.n++
		if o.json {
			b, err := json.Marshal(al)
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintf(o.w, "%s\n", b); err != nil {
				return err
			}
			continue
		}
		if _, err := fmt.Fprintln(o.w, al.Text()); err != nil {
			return err
		}
	}
	return nil
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func runDetectRules(ctx context.Context, a *app, args []string) error {
	if len(args) > 0 && args[0] == "export" {
		return runDetectRulesExport(ctx, a, args[1:])
	}
	if len(args) == 0 || (args[0] != "list" && args[0] != "test") {
		return usagef("detect rules needs a verb: firewarden detect rules list [--rules DIR] | detect rules test RULEFILE [EVENTS…] | detect rules export [--format sigma] [--out DIR]")
	}
	verb := args[0]
	flags := a.flagSet("detect rules " + verb)
	// Each verb has only its own flags, so that help and completion show what it reads.
	var ruleDirs multiFlag
	format, showFields, strict := new(string), new(bool), new(bool)
	if verb == "list" {
		flags.Var(&ruleDirs, "rules", "add the Sigma rules in `DIR` to the built-in pack; repeatable")
		strict = flags.Bool("strict", false, "refuse a --rules folder holding a rule file that does not load, instead of skipping that file with a warning")
		showFields = flags.Bool("fields", false, "print the fields rules can read instead of the rules")
	} else {
		format = flags.String("input", "auto", "telemetry `FORMAT` of EVENTS: auto, eslogger, osquery, unifiedlog, santa or ecs")
	}
	pos, err := a.parse(flags, args[1:])
	if err != nil {
		return err
	}
	if verb == "list" {
		if len(pos) > 0 {
			return usagef("detect rules list takes no arguments; use --rules DIR to add rules")
		}
		if *showFields {
			tw := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
			for _, f := range detect.FieldNames {
				fmt.Fprintf(tw, "%s\t%s\n", f.Name, f.Doc)
			}
			return tw.Flush()
		}
		rs, err := detect.Load(detect.LoadOptions{Builtin: true, Paths: ruleDirs, Strict: *strict})
		if err != nil {
			return usagef("%v", err)
		}
		printRuleWarnings(a.Err, rs, -1)
		return listRules(a, rs)
	}
	if len(pos) == 0 {
		return usagef("detect rules test needs a RULEFILE (then optional EVENTS files to run it on)")
	}
	rs, err := detect.LoadRules(false, pos[0])
	if err != nil {
		return usagef("%v", err)
	}
	// A rule that can never fire is refused; one that reads unfilled fields but can still match
	// is tested, with the warning.
	partly := 0
	for _, w := range rs.Warnings {
		if w.Kind == detect.NeverApplies || w.Kind == detect.NeverMatches {
			return usagef("%s", w)
		}
		fmt.Fprintf(a.Err, "detect: %s\n", w)
		if w.Kind == detect.UnfilledFields {
			partly++
		}
	}
	if partly == 0 {
		fmt.Fprintf(a.Out, "%d rule(s) in %s parse and read only known fields\n", len(rs.Rules), pos[0])
	} else {
		fmt.Fprintf(a.Out, "%d rule(s) in %s parse; %d read fields firewarden never fills (see above)\n", len(rs.Rules), pos[0], partly)
	}
	if len(pos) == 1 {
		return nil
	}
	f, err := input.ParseFormat(*format)
	if err != nil {
		return usagef("--input: %v", err)
	}
	matched := 0
	for _, name := range pos[1:] {
		fh, err := os.Open(name)
		if err != nil {
			return usagef("%v", err)
		}
		r := input.NewReader(fh, name, input.Options{Format: f})
		for {
			ev, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				fh.Close()
				return err
			}
			for _, m := range detect.Explain(rs, ev) {
				matched++
				fmt.Fprintf(a.Out, "%s:%d: %s matches: %s\n", name, ev.Line, m.Rule.Name, m.Summary())
			}
		}
		fh.Close()
	}
	fmt.Fprintf(a.Out, "%d match(es)\n", matched)
	if matched > 0 {
		return exitCode(1)
	}
	return nil
}

func listRules(a *app, rs *detect.Ruleset) error {
	if a.g.json {
		type row struct {
			Name       string   `json:"name"`
			ID         string   `json:"id"`
			Level      string   `json:"level"`
			Title      string   `json:"title"`
			Reason     string   `json:"reason"`
			Techniques []string `json:"techniques,omitempty"`
			Fields     []string `json:"fields"`
			Builtin    bool     `json:"builtin"`
			File       string   `json:"file"`
		}
		enc := json.NewEncoder(a.Out)
		for _, r := range rs.Rules {
			if err := enc.Encode(row{r.Name, r.ID, r.Level, r.Title, r.Reason, r.Techniques, r.Fields(), r.Builtin, r.File}); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tLEVEL\tTITLE")
	for _, r := range rs.Rules {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, r.Level, r.Title)
	}
	return tw.Flush()
}
