package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/firewarden/firewarden/internal/evidence"
	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/posture"
	"github.com/firewarden/firewarden/internal/posture/baseline"
	"github.com/firewarden/firewarden/internal/version"
)

func runCheck(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("check")
	pf := postureFlags(fs)
	b, only, err := a.parsePosture(fs, pf, args)
	if err != nil {
		return err
	}
	a.revertOverdue(ctx)
	rep := a.engine().Check(ctx, a.request(b, only))
	rec := a.record(b, rep)
	if a.g.json {
		if err := writeJSON(a.Out, rec); err != nil {
			return err
		}
	} else {
		writeReport(a.Out, rec)
	}
	if rep.NothingEvaluated() {
		fmt.Fprintf(a.Err, "firewarden: %s\n", a.nothingEvaluated(rep, "nothing to evaluate on this host"))
	}
	return exitCode(rep.ExitCode())
}

// nothingEvaluated is the line said instead of an all-clear when every check was not applicable:
// lead, then why.
func (a *app) nothingEvaluated(rep posture.Report, lead string) string {
	why := fmt.Sprintf("the baseline's checks are macOS checks and this host runs %s", a.os)
	if a.os.Kind == host.MacOS || a.os.Kind == host.Linux {
		// The baseline has checks for this OS too: name each reason once.
		var reasons []string
		for _, r := range rep.Results {
			if r.Detail != "" && !slices.Contains(reasons, r.Detail) {
				reasons = append(reasons, r.Detail)
			}
		}
		why = strings.Join(reasons, "; ")
	}
	return fmt.Sprintf("%s: every check is not_applicable (%s)", lead, why)
}

// postureOpts are the flags shared by check, fix and evidence.
type postureOpts struct {
	baseline, only *string
	noBaseline     *bool // when set and true, parsePosture loads no baseline (fix --boot)
}

func postureFlags(fs *flag.FlagSet) postureOpts {
	return postureOpts{
		baseline: fs.String("baseline", "", "baseline `FILE` (default: the built-in CIS Level 1 baseline)"),
		only:     fs.String("only", "", "comma-separated check `IDS` to run"),
	}
}

// parsePosture parses a posture command's flags (it takes no arguments), loads the baseline and
// builds the system seam.
func (a *app) parsePosture(fs *flag.FlagSet, o postureOpts, args []string) (*baseline.Baseline, map[string]bool, error) {
	pos, err := a.parse(fs, args)
	if err != nil {
		return nil, nil, err
	}
	if len(pos) > 0 {
		return nil, nil, usagef("%s takes no arguments, got %q", fs.Name(), pos[0])
	}
	only, err := parseOnly(*o.only)
	if err != nil {
		return nil, nil, err
	}
	if o.noBaseline != nil && *o.noBaseline {
		// fix --boot: the baseline is not its business, and a broken one must not keep the
		// held table from coming back at boot.
		return nil, only, a.env()
	}
	b, err := a.loadBaseline(*o.baseline)
	if err != nil {
		return nil, nil, err
	}
	if err := checkSelection(b, only); err != nil {
		return nil, nil, err
	}
	return b, only, a.env()
}

// record wraps a report with who, where and what for output and evidence.
func (a *app) record(b *baseline.Baseline, rep posture.Report) evidence.Record {
	sum := map[string]int{}
	for st, n := range rep.Count() {
		sum[string(st)] = n
	}
	return evidence.Record{
		RunID: evidence.NewRunID(rep.Started), Host: a.hostname(), OS: string(a.os.Kind), OSVersion: a.os.Version,
		Tool: "firewarden", ToolVersion: version.String(),
		Baseline: evidence.BaselineRef{Name: b.Name, Source: b.Source, SHA256: b.Hash},
		Started:  rep.Started, Finished: rep.Finished, Summary: sum, Results: rep.Results,
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeReport prints the readable table, then the details of its results.
func writeReport(w io.Writer, rec evidence.Record) {
	ref := rec.Baseline.Name + " (" + rec.Baseline.Source + ")"
	if rec.Baseline.Name == "" { // a baseline file without name: its path says which it is
		ref = rec.Baseline.Source
	}
	fmt.Fprintf(w, "host %s, %s %s, baseline %s\n\n", rec.Host, osName(rec.OS), rec.OSVersion, ref)
	results, foreign := splitForeign(rec.OS, rec.Results)
	writeTable(w, results)
	writeDetails(w, results)
	if foreign != "" {
		fmt.Fprintf(w, "\n%s\n", foreign)
	}
	fmt.Fprintf(w, "\n%s\n", summaryLine(results))
}

// writeDetails prints, under a table of results, the detail and exemption of every result that
// has one; identical details are printed once, naming every check.
func writeDetails(w io.Writer, results []posture.Result) {
	var details []string
	byText := map[string]int{} // identical details are printed once, naming every check
	var ids [][]string
	for _, r := range results {
		var lines []string
		if r.Detail != "" {
			lines = append(lines, r.Detail)
		}
		if r.Exemption != nil {
			state := "exempt"
			if r.Status != posture.Exempt {
				state = "exemption on file (not needed: the check passes)"
			}
			lines = append(lines, fmt.Sprintf("%s until %s: %s", state, r.Exemption.Expires.Format("2006-01-02"), r.Exemption.Reason))
		}
		if len(lines) == 0 {
			continue
		}
		text := strings.Join(lines, "; ")
		if i, ok := byText[text]; ok {
			ids[i] = append(ids[i], r.ID)
			continue
		}
		byText[text] = len(details)
		details = append(details, text)
		ids = append(ids, []string{r.ID})
	}
	if len(details) > 0 {
		fmt.Fprintln(w)
		for i, d := range details {
			fmt.Fprintf(w, "%s: %s\n", strings.Join(ids[i], ", "), d)
		}
	}
}

func osName(kind string) string {
	switch kind {
	case "macos":
		return "macOS"
	case "linux":
		return "Linux"
	}
	return kind
}

func writeTable(w io.Writer, results []posture.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tSTATUS\tEXPECTED\tACTUAL\tSOURCE\tCONTROLS")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Status, dash(r.Expected), dash(r.Actual), dash(r.Source), controls(r.Controls))
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// controls shortens "CIS 2.2.1, 800-53r5 AC-4, 800-53r5 SC-7" to "CIS 2.2.1; 800-53r5 AC-4 SC-7".
func controls(cs []string) string {
	var cis, nist []string
	for _, c := range cs {
		if n, ok := strings.CutPrefix(c, "800-53r5 "); ok {
			nist = append(nist, n)
		} else {
			cis = append(cis, c)
		}
	}
	parts := cis
	if len(nist) > 0 {
		parts = append(parts, "800-53r5 "+strings.Join(nist, " "))
	}
	return dash(strings.Join(parts, "; "))
}

func summaryLine(results []posture.Result) string {
	count := map[posture.Status]int{}
	for _, r := range results {
		count[r.Status]++
	}
	var parts []string
	for _, st := range []posture.Status{posture.Pass, posture.Fail, posture.Error, posture.Managed, posture.Exempt, posture.NotApplicable} {
		if n := count[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	verdict := "compliant"
	switch rep := (posture.Report{Results: results}); {
	case rep.NothingEvaluated():
		verdict = "nothing evaluated"
	case rep.ExitCode() == posture.ExitNonCompliant:
		verdict = "NOT compliant"
	case rep.ExitCode() == posture.ExitError:
		verdict = "could not evaluate everything"
	}
	noun := "checks"
	if len(results) == 1 {
		noun = "check"
	}
	return fmt.Sprintf("%d %s: %s: %s", len(results), noun, strings.Join(parts, ", "), verdict)
}
