package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"text/tabwriter"

	"github.com/firewarden/firewarden/internal/exposure"
)

// runExposure is `firewarden exposure [--expect FILE]`: every listening TCP socket and bound UDP
// socket with its process and bind scope, judged against the expectation file when one is given.
// Exit 0 when nothing is too wide or unexpected (always, without --expect), 1 when something is,
// 2 when the sockets or the file cannot be read.
func runExposure(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("exposure")
	expectFile := fs.String("expect", "", "a YAML `FILE` listing the intended listeners: - {process: NAME, port: N, proto: tcp|udp, scope: loopback|lan|any}")
	rest, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("exposure takes no arguments, got %q; run `firewarden help exposure`", rest[0])
	}
	var exps []exposure.Expectation
	if *expectFile != "" {
		data, err := os.ReadFile(*expectFile)
		if err != nil {
			return usagef("read the expectation file: %v", errors.Unwrap(err))
		}
		if exps, err = exposure.ParseExpect(data, *expectFile); err != nil {
			return usagef("%v", err)
		}
	}
	if err := a.env(); err != nil {
		return err
	}
	rep, err := exposure.Collect(ctx, a.root, a.os, a.rec, a.unprivileged())
	if errors.Is(err, exposure.ErrUnsupportedOS) {
		return usagef("exposure reads Linux and macOS hosts, not %s", a.os)
	}
	if err != nil {
		return err
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(a.Err, "firewarden: warning: %s\n", w)
	}
	var js []exposure.Judgement
	if *expectFile != "" {
		js = exposure.Judge(rep.Listeners, exps, *expectFile)
	} else {
		js = make([]exposure.Judgement, len(rep.Listeners))
		for i, l := range rep.Listeners {
			js[i] = exposure.Judgement{Listener: l}
		}
	}
	sum := exposureSummary{Listeners: len(js)}
	for _, j := range js {
		switch j.Verdict {
		case exposure.Expected:
			sum.Expected++
		case exposure.TooWide:
			sum.TooWide++
		case exposure.Unexpected:
			sum.Unexpected++
		}
	}
	if a.g.json {
		out := exposureJSON{Listeners: js, Warnings: rep.Warnings, Summary: sum}
		if *expectFile != "" {
			out.Expect = *expectFile
		}
		enc := json.NewEncoder(a.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else if err := printExposure(a, js, *expectFile != "", sum); err != nil {
		return err
	}
	if sum.TooWide+sum.Unexpected > 0 {
		return exitCode(1)
	}
	return nil
}

// exposureSummary counts the listeners and their verdicts.
type exposureSummary struct {
	Listeners  int `json:"listeners"`
	Expected   int `json:"expected"`
	TooWide    int `json:"too_wide"`
	Unexpected int `json:"unexpected"`
}

// exposureJSON is what `exposure --json` prints.
type exposureJSON struct {
	Expect    string               `json:"expect,omitempty"`
	Listeners []exposure.Judgement `json:"listeners"`
	Warnings  []string             `json:"warnings,omitempty"`
	Summary   exposureSummary      `json:"summary"`
}

// printExposure prints the table, then the fixes of what is too wide or unexpected.
func printExposure(a *app, js []exposure.Judgement, judged bool, sum exposureSummary) error {
	tw := tabwriter.NewWriter(a.Out, 0, 0, 2, ' ', 0)
	head := "PROTO\tADDRESS\tPORT\tSCOPE\tPID\tPROCESS\tPATH"
	if judged {
		head += "\tVERDICT"
	}
	fmt.Fprintln(tw, head)
	for _, j := range js {
		pid, proc, path := "-", "-", "-"
		if j.PID != 0 {
			pid = strconv.Itoa(j.PID)
		}
		if j.Process != "" {
			proc = j.Process
		}
		if j.Path != "" {
			path = j.Path
		}
		row := fmt.Sprintf("%s\t%s\t%d\t%s\t%s\t%s\t%s", j.Proto, j.Addr.Addr(), j.Addr.Port(), j.Scope, pid, proc, path)
		if judged {
			row += "\t" + string(j.Verdict)
		}
		fmt.Fprintln(tw, row)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if !judged {
		_, err := fmt.Fprintf(a.Out, "\n%d listeners\n", sum.Listeners)
		return err
	}
	fmt.Fprintf(a.Out, "\n%d listeners: %d expected, %d too wide, %d unexpected\n", sum.Listeners, sum.Expected, sum.TooWide, sum.Unexpected)
	for _, j := range js {
		if j.Fix == "" {
			continue
		}
		what := "too wide"
		if j.Verdict == exposure.Unexpected {
			what = "unexpected"
		}
		fmt.Fprintf(a.Out, "%s %s/%s: %s\n", what, j.Proto, j.Addr, j.Fix)
	}
	return nil
}
