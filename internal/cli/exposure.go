package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/firewarden/firewarden/internal/exposure"
	"github.com/firewarden/firewarden/internal/exposure/firewall"
	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/posture/nftposture"
)

// runExposure is `firewarden exposure [--expect FILE] [--compose FILE]`: every listening TCP
// socket and bound UDP socket with its process and bind scope, the ports container runtimes
// publish and compose files declare, judged against the expectation file when one is given.
// Exit 0 when nothing is too wide or unexpected (always, without --expect), 1 when something is
// (or, with --expect, a compose entry's exposure depends on variables), 2 when the sockets or a
// file cannot be read.
func runExposure(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("exposure")
	expectFile := fs.String("expect", "", "a YAML `FILE` listing the intended listeners: - {process: NAME, port: N, proto: tcp|udp, scope: loopback|lan|any}")
	var composeFiles stringList
	fs.Var(&composeFiles, "compose", "a compose `FILE` whose services' published ports to list and judge too (repeatable)")
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
	composed, err := readComposeFiles(composeFiles)
	if err != nil {
		return err
	}
	if err := a.env(); err != nil {
		return err
	}
	rep, err := exposure.Collect(ctx, a.root, a.os, a.rec, a.exposureOptions(composed))
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
		js = exposure.JudgeOn(exposure.PlatformOf(a.os), rep.Listeners, exps, *expectFile)
	} else {
		js = make([]exposure.Judgement, len(rep.Listeners))
		for i, l := range rep.Listeners {
			js[i] = exposure.Judgement{Listener: l}
		}
	}
	sum := exposureSummary{Listeners: len(js), Conditional: len(composed.Conditional)}
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
		out := exposureJSON{Listeners: js, Conditional: composed.Conditional, Warnings: rep.Warnings, Summary: sum}
		if *expectFile != "" {
			out.Expect = *expectFile
		}
		enc := json.NewEncoder(a.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else if err := printExposure(a, js, *expectFile != "", sum, composed.Conditional); err != nil {
		return err
	}
	// A compose entry whose exposure depends on variables cannot be judged expected.
	if sum.TooWide+sum.Unexpected > 0 || (*expectFile != "" && sum.Conditional > 0) {
		return exitCode(1)
	}
	return nil
}

// exposureOptions are what the exposure reading takes besides the sockets, for `exposure` and the
// exposure posture checks alike: the firewall's verdict on each listener and the compose files.
func (a *app) exposureOptions(composed exposure.ComposeReport) exposure.CollectOptions {
	return exposure.CollectOptions{Unprivileged: a.unprivileged(), Firewall: a.exposureFirewall, Compose: composed}
}

// exposureFirewall fills in the listeners' firewall verdicts, running programs through r: the
// Application Firewall's on a Mac, the nftables ruleset's on Linux.
func (a *app) exposureFirewall(ctx context.Context, r host.Runner, rep *exposure.Report) {
	switch a.os.Kind {
	case host.Linux:
		// The kernel's nftables are this host's only on the system root: under --root, /proc is a
		// fake host's and the kernel is not (unless a test hands one in).
		if a.root.IsSystem() || a.nft != nil {
			k := a.nft
			var legacy []string
			if k == nil {
				k = nftposture.NewKernel(0)
				legacy = nftposture.LegacyNotes(ctx, a.root, r, os.ReadFile)
			}
			an, _, rerr := k.Read()
			firewall.AddLinux(an, rerr, legacy, rep)
		}
	case host.MacOS:
		firewall.AddMac(ctx, a.root, r, rep)
	}
}

// exposureSummary counts the listeners and their verdicts.
type exposureSummary struct {
	Listeners  int `json:"listeners"`
	Expected   int `json:"expected"`
	TooWide    int `json:"too_wide"`
	Unexpected int `json:"unexpected"`
	// Conditional counts the compose entries that get no verdict (see exposure.Conditional).
	Conditional int `json:"conditional,omitempty"`
}

// exposureJSON is what `exposure --json` prints.
type exposureJSON struct {
	Expect      string                 `json:"expect,omitempty"`
	Listeners   []exposure.Judgement   `json:"listeners"`
	Conditional []exposure.Conditional `json:"conditional,omitempty"`
	Warnings    []string               `json:"warnings,omitempty"`
	Summary     exposureSummary        `json:"summary"`
}

// printExposure prints the table, then the fixes of what is too wide or unexpected.
func printExposure(a *app, js []exposure.Judgement, judged bool, sum exposureSummary, conds []exposure.Conditional) error {
	tw := tabwriter.NewWriter(a.Out, 0, 0, 2, ' ', 0)
	showFirewall := slices.ContainsFunc(js, func(j exposure.Judgement) bool { return j.Firewall != nil })
	head := "PROTO\tADDRESS\tPORT\tSCOPE\tPID\tPROCESS\tPATH"
	if showFirewall {
		head = "PROTO\tADDRESS\tPORT\tSCOPE\tFIREWALL\tPID\tPROCESS\tPATH"
	}
	withContainers := hasContainers(js)
	if withContainers {
		head += "\tCONTAINER"
	}
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
		scope := string(j.Scope)
		if showFirewall {
			scope += "\t-"
			if j.Firewall != nil {
				scope = string(j.Scope) + "\t" + j.Firewall.Verdict
			}
		}
		port := strconv.Itoa(int(j.Addr.Port()))
		if j.Container != nil && port == "0" {
			port = "random"
		}
		row := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s", j.Proto, j.Addr.Addr(), port, scope, pid, proc, path)
		if withContainers {
			row += "\t" + containerColumn(j.Container)
		}
		if judged {
			row += "\t" + string(j.Verdict)
		}
		fmt.Fprintln(tw, row)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	printFirewallWhy(a, js)
	if !judged {
		_, err := fmt.Fprintf(a.Out, "\n%d %s%s\n", sum.Listeners, plural(sum.Listeners, "listener", "listeners"), conditionalCount(sum))
		printConditional(a, conds)
		return err
	}
	fmt.Fprintf(a.Out, "\n%d %s: %d expected, %d too wide, %d unexpected%s\n", sum.Listeners, plural(sum.Listeners, "listener", "listeners"), sum.Expected, sum.TooWide, sum.Unexpected, conditionalCount(sum))
	printConditional(a, conds)
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

// printFirewallWhy explains the FIREWALL column below the table: one line per reason, naming the
// listeners it decides, then each caveat once with the listeners it concerns. Loopback-only
// listeners need no explanation.
func printFirewallWhy(a *app, js []exposure.Judgement) {
	type group struct {
		key   string
		socks []string
	}
	var whys, caveats []group
	add := func(gs []group, key, sock string) []group {
		for i := range gs {
			if gs[i].key == key {
				gs[i].socks = append(gs[i].socks, sock)
				return gs
			}
		}
		return append(gs, group{key, []string{sock}})
	}
	for _, j := range js {
		f := j.Firewall
		if f == nil || f.Verdict == exposure.FirewallLoopbackOnly {
			continue
		}
		sock := j.Proto + "/" + j.Addr.String()
		whys = add(whys, f.Verdict+": "+f.Why, sock)
		for _, c := range f.Caveats {
			caveats = add(caveats, c, sock)
		}
	}
	if len(whys) == 0 {
		return
	}
	fmt.Fprintln(a.Out)
	for _, g := range whys {
		fmt.Fprintf(a.Out, "firewall %s (%s)\n", g.key, strings.Join(g.socks, ", "))
	}
	for _, g := range caveats {
		fmt.Fprintf(a.Out, "firewall caveat: %s (%s)\n", g.key, strings.Join(g.socks, ", "))
	}
}
