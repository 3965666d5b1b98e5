package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/authwatch"
	"github.com/firewarden/firewarden/internal/fwlog"
	"github.com/firewarden/firewarden/internal/guard"
)

// Limits of `guard test`'s reading and of the lines it holds back (see heldLines).
const (
	// guardTestMaxLine is the longest line read: syslog relays cut far shorter, and sshd's
	// own messages are at most 500 bytes.
	guardTestMaxLine = 1 << 20
	// A counted failure of a process is held back until the process logs in (and the line is
	// printed forgiven), or until one of these is passed: this many lines or bytes held, or
	// this long after the line by the log's time (sshd's LoginGraceTime is 2 minutes).
	guardTestHoldLines = 4096
	guardTestHoldBytes = 8 << 20
	guardTestHoldFor   = 10 * time.Minute
)

// runGuardTest is `firewarden guard test [--print WHICH] FILE|-`: what the guard would make of
// each line of a log, and what it would ban, under the configuration, on the lines' own time,
// without the kernel or the state directory. Exit 0 when nothing would be banned, 1 when
// something would, 2 when the log cannot be read.
func runGuardTest(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("guard test")
	which := fs.String("print", "all", "which lines to print, `WHICH`: all, failures (the lines that count a failure), missed (the lines not recognised at all, to look for what the parser misses), or none (the summary only)")
	files, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	switch *which {
	case "all", "failures", "missed", "none":
	default:
		return usagef("--print %q: use all, failures, missed or none", *which)
	}
	if len(files) != 1 {
		return usagef("guard test takes one log FILE (or - for standard input), got %d", len(files))
	}
	name := files[0]
	var r io.Reader
	if name == "-" {
		if a.In == nil {
			return usagef("no standard input to read for -")
		}
		r = a.In
	} else {
		fh, err := os.Open(name)
		if err != nil {
			return usagef("open %s: %v", name, errors.Unwrap(err))
		}
		defer fh.Close()
		if st, err := fh.Stat(); err == nil && st.IsDir() {
			return usagef("%s is a directory; give a log file", name)
		}
		r = fh
	}
	dr, err := fwlog.Decompress(r)
	if err != nil {
		return usagef("%s: %v", name, err)
	}
	defer dr.Close()

	cfg := a.config().Guard
	rep := guard.NewReplay(cfg, a.now())
	out := bufio.NewWriterSize(a.Out, 1<<16)
	p := &guardTestPrinter{w: out, json: a.g.json, which: *which}
	sc := bufio.NewScanner(dr)
	sc.Buffer(make([]byte, 0, 1<<16), guardTestMaxLine)
	for sc.Scan() {
		if rep.Summary().Lines%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		res := rep.Line(sc.Bytes())
		p.add(res, sc.Bytes())
	}
	if err := sc.Err(); err != nil {
		line := rep.Summary().Lines + 1
		if errors.Is(err, bufio.ErrTooLong) {
			return usagef("%s:%d: a line longer than %d bytes; is it a log file?", name, line, guardTestMaxLine)
		}
		return usagef("read %s at line %d: %v", name, line, err)
	}
	p.flush(true)
	sum := rep.Summary()
	if a.g.json {
		p.summaryJSON(sum, cfg)
	} else {
		p.summaryText(sum, cfg)
	}
	if p.err != nil {
		return p.err
	}
	if err := out.Flush(); err != nil {
		return err
	}
	if len(sum.Bans) > 0 {
		return exitCode(1)
	}
	return nil
}

// heldLine is a line's result waiting to be printed.
type heldLine struct {
	res      guard.LineResult
	text     string
	forgiven bool
	hold     bool // a counted failure of a process that may still log in
}

// guardTestPrinter prints the lines in their order. A counted failure of a process is held
// back (with every line after it) until the process logs in, so that it is printed forgiven,
// or until the bounds above pass; a failure printed before its process logged in shows as not
// forgiven, and the login line says what it took back either way.
type guardTestPrinter struct {
	w     *bufio.Writer
	json  bool
	which string
	held  []heldLine
	bytes int
	err   error
}

func (p *guardTestPrinter) add(res guard.LineResult, text []byte) {
	v := res.Decision.Verdict
	h := heldLine{res: res, text: string(text)}
	h.hold = res.Outcome == authwatch.Recognised && res.Failure.PID > 0 &&
		(v == guard.Counted || v == guard.RateCapped || v == guard.CountCapped)
	if res.Outcome == authwatch.Accepted && res.Forgave > 0 {
		for i := range p.held {
			o := &p.held[i]
			if o.hold && o.res.Failure.PID == res.Failure.PID && o.res.Failure.Addr == res.Failure.Addr {
				o.forgiven, o.hold = true, false
			}
		}
	}
	if !h.hold && len(p.held) == 0 {
		p.print(&h)
		return
	}
	p.held = append(p.held, h)
	p.bytes += len(h.text)
	p.flush(false)
}

// flush prints the held lines that need not wait any more (all of them when all).
func (p *guardTestPrinter) flush(all bool) {
	if len(p.held) == 0 {
		return
	}
	now := p.held[len(p.held)-1].res.Time
	n := 0
	for n < len(p.held) {
		h := &p.held[n]
		if h.hold && !all && len(p.held)-n <= guardTestHoldLines && p.bytes <= guardTestHoldBytes &&
			now.Sub(h.res.Time) < guardTestHoldFor {
			break
		}
		p.print(h)
		p.bytes -= len(h.text)
		n++
	}
	if n > 0 {
		p.held = slices.Delete(p.held, 0, n)
	}
}

// guardTestLine is one line of `guard test --json`.
type guardTestLine struct {
	LineNumber int     `json:"line_number"`
	Line       string  `json:"line"`
	Outcome    string  `json:"outcome"`
	Recognised bool    `json:"recognised"`
	Kind       string  `json:"kind"`
	Address    string  `json:"address"`
	PID        int     `json:"pid"`
	Weight     float64 `json:"weight"`
	Verdict    string  `json:"verdict"`
	Score      float64 `json:"score"`
	Forgiven   bool    `json:"forgiven"`
	Forgave    float64 `json:"forgave"`
	// Resolved are earlier failures of the process, which named no address, counted now that
	// this line names it.
	Resolved []guardTestResolved `json:"resolved,omitempty"`
}

type guardTestResolved struct {
	Kind    string  `json:"kind"`
	Address string  `json:"address"`
	Weight  float64 `json:"weight"`
	Verdict string  `json:"verdict"`
	Score   float64 `json:"score"`
}

func (p *guardTestPrinter) print(h *heldLine) {
	if p.err != nil {
		return
	}
	res := &h.res
	switch p.which {
	case "none":
		return
	case "failures":
		if res.Outcome != authwatch.Recognised && len(res.Resolved) == 0 {
			return
		}
	case "missed":
		if res.Outcome != authwatch.Ignored {
			return
		}
	}
	f := &res.Failure
	kind := ""
	if f.Kind != authwatch.KindNone {
		kind = f.Kind.String()
	}
	addr := ""
	if f.Addr.IsValid() {
		addr = f.Addr.String()
	}
	verdict := ""
	if res.Outcome == authwatch.Recognised {
		verdict = res.Decision.Verdict.String()
	}
	if p.json {
		o := guardTestLine{LineNumber: res.Number, Line: h.text, Outcome: res.Outcome.String(),
			Recognised: res.Outcome == authwatch.Recognised, Kind: kind, Address: addr, PID: f.PID, Weight: res.Weight,
			Verdict: verdict, Score: res.Decision.Score, Forgiven: h.forgiven, Forgave: res.Forgave}
		for _, r := range res.Resolved {
			o.Resolved = append(o.Resolved, guardTestResolved{Kind: r.Failure.Kind.String(), Address: r.Failure.Addr.String(),
				Weight: r.Weight, Verdict: r.Decision.Verdict.String(), Score: r.Decision.Score})
		}
		b, err := json.Marshal(o)
		if err == nil {
			b = append(b, '\n')
			_, err = p.w.Write(b)
		}
		p.err = err
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d: ", res.Number)
	switch res.Outcome {
	case authwatch.Recognised:
		fmt.Fprintf(&b, "%s %s %s", verdict, kind, addr)
		if res.FromPID {
			b.WriteString(" (from its process)")
		}
		fmt.Fprintf(&b, " pid %d weight %s", f.PID, fmtWeight(res.Weight))
		if v := res.Decision.Verdict; v != guard.Ignored && v != guard.Allowlisted && v != guard.AlreadyBanned {
			fmt.Fprintf(&b, " score %s", fmtWeight(res.Decision.Score))
		}
		if h.forgiven {
			b.WriteString(" forgiven")
		}
	case authwatch.Accepted:
		fmt.Fprintf(&b, "login %s pid %d", addr, f.PID)
		if res.Forgave > 0 {
			fmt.Fprintf(&b, " forgave %s", fmtWeight(res.Forgave))
		}
	case authwatch.Linked:
		fmt.Fprintf(&b, "connection %s pid %d", addr, f.PID)
	case authwatch.Unaddressed:
		fmt.Fprintf(&b, "no address %s pid %d (no line of its process has named its address yet)", kind, f.PID)
	case authwatch.Refused:
		fmt.Fprintf(&b, "refused %s pid %d (its address may be the client's text)", kind, f.PID)
	default:
		b.WriteString("not recognised")
	}
	for _, r := range res.Resolved {
		fmt.Fprintf(&b, "; and an earlier %s of the process: %s weight %s score %s", r.Failure.Kind, r.Decision.Verdict,
			fmtWeight(r.Weight), fmtWeight(r.Decision.Score))
	}
	b.WriteString(" | ")
	b.WriteString(h.text)
	b.WriteByte('\n')
	_, p.err = p.w.WriteString(b.String())
}

func fmtWeight(w float64) string { return strconv.FormatFloat(w, 'f', -1, 64) }

type kindCount struct {
	kind string
	n    int
}

// kindCounts lists the failures per kind in authwatch's order of kinds.
func kindCounts(sum guard.ReplaySummary) []kindCount {
	var out []kindCount
	for _, k := range guard.Kinds() {
		if n := sum.Failures[k]; n > 0 {
			out = append(out, kindCount{k.String(), n})
		}
	}
	return out
}

func (p *guardTestPrinter) summaryText(sum guard.ReplaySummary, cfg *guard.Config) {
	if p.err != nil {
		return
	}
	var b strings.Builder
	logins := strconv.Itoa(sum.Accepted)
	if sum.Forgiving > 0 {
		logins += fmt.Sprintf(" (%d forgave their failures, weighing %s)", sum.Forgiving, fmtWeight(sum.Forgave))
	}
	unaddressed := strconv.Itoa(sum.Unaddressed)
	if sum.Resolved > 0 {
		unaddressed += fmt.Sprintf(" (%d given one by a later line)", sum.Resolved)
	}
	fmt.Fprintf(&b, "lines: %d; failures: %d; refused: %d; no address: %s; logins: %s; connections: %d; not recognised: %d\n",
		sum.Lines, sum.Recognised, sum.Refused, unaddressed, logins, sum.Linked, sum.Ignored)
	var kinds []string
	for _, kc := range kindCounts(sum) {
		kinds = append(kinds, fmt.Sprintf("%s %d", kc.kind, kc.n))
	}
	if len(kinds) == 0 {
		kinds = []string{"none"}
	}
	fmt.Fprintf(&b, "failures by kind: %s\n", strings.Join(kinds, ", "))
	n := len(sum.Bans)
	switch {
	case sum.BansLeftOut > 0:
		fmt.Fprintf(&b, "would ban (mode %s, %s failures in %s): more than %d addresses", cfg.Mode, fmtWeight(cfg.Failures), guard.FormatDuration(cfg.Window), n)
	case n == 1:
		fmt.Fprintf(&b, "would ban (mode %s, %s failures in %s): 1 address", cfg.Mode, fmtWeight(cfg.Failures), guard.FormatDuration(cfg.Window))
	default:
		fmt.Fprintf(&b, "would ban (mode %s, %s failures in %s): %d addresses", cfg.Mode, fmtWeight(cfg.Failures), guard.FormatDuration(cfg.Window), n)
	}
	if sum.Capped > 0 {
		fmt.Fprintf(&b, "; %d bans refused by the caps (ban.rate, ban.max_bans)", sum.Capped)
	}
	b.WriteString("\n")
	for _, bn := range sum.Bans {
		fmt.Fprintf(&b, "  %s score %s at line %d", bn.Addr, fmtWeight(bn.Score), bn.Line)
		if bn.Bans > 1 {
			fmt.Fprintf(&b, ", banned %d times", bn.Bans)
		}
		b.WriteString("\n")
	}
	if sum.BansLeftOut > 0 {
		fmt.Fprintf(&b, "  and %d more bans of addresses not listed\n", sum.BansLeftOut)
	}
	_, p.err = p.w.WriteString(b.String())
}

// guardTestSummary is the last line of `guard test --json`.
type guardTestSummary struct {
	Summary struct {
		Lines       int                `json:"lines"`
		Recognised  int                `json:"recognised"`
		Refused     int                `json:"refused"`
		Unaddressed int                `json:"unaddressed"`
		Resolved    int                `json:"resolved"`
		Accepted    int                `json:"accepted"`
		Forgiving   int                `json:"forgiving"`
		Forgave     float64            `json:"forgave"`
		Linked      int                `json:"linked"`
		Ignored     int                `json:"ignored"`
		Failures    map[string]int     `json:"failures"`
		Mode        string             `json:"mode"`
		Threshold   float64            `json:"threshold"`
		Window      string             `json:"window"`
		Capped      int                `json:"capped"`
		Banned      []guardTestBan     `json:"banned"`
		BansLeftOut int                `json:"bans_left_out"`
		Weights     map[string]float64 `json:"weights"`
	} `json:"summary"`
}

type guardTestBan struct {
	Address    string  `json:"address"`
	Score      float64 `json:"score"`
	Bans       int     `json:"bans"`
	LineNumber int     `json:"line_number"`
}

func (p *guardTestPrinter) summaryJSON(sum guard.ReplaySummary, cfg *guard.Config) {
	if p.err != nil {
		return
	}
	var s guardTestSummary
	o := &s.Summary
	o.Lines, o.Recognised, o.Refused, o.Unaddressed, o.Accepted = sum.Lines, sum.Recognised, sum.Refused, sum.Unaddressed, sum.Accepted
	o.Resolved = sum.Resolved
	o.Forgiving, o.Forgave, o.Linked, o.Ignored, o.Capped = sum.Forgiving, sum.Forgave, sum.Linked, sum.Ignored, sum.Capped
	o.Failures = map[string]int{}
	for _, kc := range kindCounts(sum) {
		o.Failures[kc.kind] = kc.n
	}
	o.Mode, o.Threshold, o.Window = cfg.Mode, cfg.Failures, guard.FormatDuration(cfg.Window)
	o.Weights = map[string]float64{}
	for k, w := range cfg.Weights {
		o.Weights[k.String()] = w
	}
	o.Banned = []guardTestBan{}
	for _, bn := range sum.Bans {
		o.Banned = append(o.Banned, guardTestBan{Address: bn.Addr.String(), Score: bn.Score, Bans: bn.Bans, LineNumber: bn.Line})
	}
	o.BansLeftOut = sum.BansLeftOut
	b, err := json.Marshal(s)
	if err == nil {
		b = append(b, '\n')
		_, err = p.w.Write(b)
	}
	p.err = err
}
