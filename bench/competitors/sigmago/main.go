// Command sigmago is the sigma-go competitor of the detect benchmark: it reads an eslogger JSON
// Lines file, decodes each line with encoding/json, turns every exec into the flat event map a
// Sigma process_creation rule expects (Image, CommandLine, ParentImage, User, SigningID, Args)
// and evaluates every rule of a directory with github.com/bradleyjkemp/sigma-go, then prints the
// number of matches.
//
// It lives in its own module so that firewarden does not depend on sigma-go.
//
// firewarden's rules use fields its command analysis derives (Tool, Action, PlistSet …), which
// this flat map does not have: with -rules internal/detect/rules nothing matches, and the run
// measures what decoding and evaluating costs per line. bench/competitors/sigmago/rules holds the
// same detections written over Image and CommandLine, which sigma-go can match.
//
// sigma-go accepts unknown modifiers (exists, cased, windash) when it parses a rule and fails
// when it evaluates one; rules using them are skipped up front, with a note on stderr, and
// counted.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/bradleyjkemp/sigma-go"
	"github.com/bradleyjkemp/sigma-go/evaluator"
	"github.com/bradleyjkemp/sigma-go/evaluator/modifiers"
)

func main() {
	rulesDir := flag.String("rules", "internal/detect/rules", "directory of Sigma rule files (*.yml, *.yaml)")
	bundle := flag.Bool("bundle", true, "evaluate with evaluator.ForRules (one bundle) rather than one evaluator per rule")
	decode := flag.String("decode", "struct", "how to decode a line: struct (only the fields used, still a full encoding/json pass) or map (map[string]any)")
	verbose := flag.Bool("v", false, "print matches per rule on stderr")
	decodeOnly := flag.Bool("decode-only", false, "decode and build the event maps, evaluate nothing (to split the time)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: sigmago [-rules DIR] [-bundle=false] [-decode struct|map] FILE|-")
		os.Exit(2)
	}
	rules, skipped, other, err := loadRules(*rulesDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sigmago:", err)
		os.Exit(2)
	}
	var in io.Reader = os.Stdin
	if name := flag.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sigmago:", err)
			os.Exit(2)
		}
		defer f.Close()
		in = f
	}
	if *decodeOnly {
		rules = nil
	}
	c, err := run(in, rules, *bundle, *decode == "map")
	if err != nil {
		fmt.Fprintln(os.Stderr, "sigmago:", err)
		os.Exit(2)
	}
	fmt.Fprintf(os.Stderr, "sigmago: %d process_creation rules evaluated on each exec, %d rules skipped, %d for other log sources; %d lines, %d exec events, %d bad lines\n",
		len(rules), skipped, other, c.lines, c.execs, c.bad)
	if *verbose {
		names := make([]string, 0, len(c.perRule))
		for n := range c.perRule {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(os.Stderr, "  %6d %s\n", c.perRule[n], n)
		}
	}
	fmt.Println(c.matches)
	if c.matches > 0 {
		os.Exit(1)
	}
}

// loadRules parses every rule file of dir and keeps the process_creation rules sigma-go can
// evaluate: it returns them, how many it skipped and how many are for other log sources (file
// events: a Sigma pipeline routes events by log source, so they are not run on execs).
func loadRules(dir string) (rules []sigma.Rule, skipped, other int, err error) {
	var files []string
	for _, pat := range []string{"*.yml", "*.yaml"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return nil, 0, 0, err
		}
		files = append(files, m...)
	}
	sort.Strings(files)
	if len(files) == 0 {
		return nil, 0, 0, fmt.Errorf("no rule files in %s", dir)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, 0, 0, err
		}
		r, err := sigma.ParseRule(b)
		if err == nil {
			err = checkModifiers(r)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "sigmago: skipping %s: %v\n", filepath.Base(f), err)
			skipped++
			continue
		}
		if c := r.Logsource.Category; c != "" && c != "process_creation" {
			other++
			continue
		}
		r.Title = filepath.Base(f)
		rules = append(rules, r)
	}
	return rules, skipped, other, nil
}

// checkModifiers reports the first field modifier sigma-go would refuse at match time (it
// parses any name).
func checkModifiers(r sigma.Rule) error {
	for name, s := range r.Detection.Searches {
		for _, em := range s.EventMatchers {
			for _, fm := range em {
				mods := fm.Modifiers
				if n := len(mods); n > 0 && mods[n-1] == "all" {
					mods = mods[:n-1]
				}
				if _, err := modifiers.GetComparator(fm.Field, modifiers.Comparators, mods...); err != nil {
					return fmt.Errorf("search %s, field %s: %w", name, fm.Field, err)
				}
			}
		}
	}
	return nil
}

type counts struct {
	lines, execs, bad, matches int
	perRule                    map[string]int
}

// esFile is the part of an es_file_t this program reads.
type esFile struct {
	Path string `json:"path"`
}

// esProcess is the part of an es_process_t this program reads.
type esProcess struct {
	Executable esFile          `json:"executable"`
	SigningID  string          `json:"signing_id"`
	AuditToken json.RawMessage `json:"audit_token"`
}

type esMessage struct {
	Process esProcess `json:"process"`
	Event   struct {
		Exec *struct {
			Target esProcess `json:"target"`
			Args   []string  `json:"args"`
		} `json:"exec"`
	} `json:"event"`
}

// ruid reads the real uid from an audit token: an object in message version 9 and below, an
// array [auid, euid, egid, ruid, rgid, pid, asid, pidversion] from version 10.
func ruid(tok json.RawMessage) string {
	if len(tok) == 0 {
		return ""
	}
	if tok[0] == '[' {
		var a []int64
		if json.Unmarshal(tok, &a) == nil && len(a) == 8 {
			return strconv.FormatInt(a[3], 10)
		}
		return ""
	}
	var o struct {
		RUID *int64 `json:"ruid"`
	}
	if json.Unmarshal(tok, &o) == nil && o.RUID != nil {
		return strconv.FormatInt(*o.RUID, 10)
	}
	return ""
}

func run(in io.Reader, rules []sigma.Rule, useBundle, decodeMap bool) (counts, error) {
	ctx := context.Background()
	c := counts{perRule: map[string]int{}}
	var b evaluator.RuleEvaluatorBundle
	var each []*evaluator.RuleEvaluator
	if useBundle {
		b = evaluator.ForRules(rules)
	} else {
		for _, r := range rules {
			each = append(each, evaluator.ForRule(r))
		}
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for sc.Scan() {
		c.lines++
		var ev map[string]any
		var ok bool
		if decodeMap {
			ev, ok = flatFromMap(sc.Bytes())
		} else {
			ev, ok = flatFromStruct(sc.Bytes())
		}
		if ev == nil {
			if !ok {
				c.bad++
			}
			continue
		}
		c.execs++
		if useBundle {
			res, err := b.Matches(ctx, ev)
			if err != nil {
				return c, err
			}
			for _, r := range res {
				if r.Match {
					c.matches++
					c.perRule[r.Rule.Title]++
				}
			}
			continue
		}
		for _, e := range each {
			res, err := e.Matches(ctx, ev)
			if err != nil {
				return c, fmt.Errorf("rule %s: %w", e.Rule.Title, err)
			}
			if res.Match {
				c.matches++
				c.perRule[e.Rule.Title]++
			}
		}
	}
	return c, sc.Err()
}

// flatFromStruct decodes a line into esMessage; it returns nil for lines that are not exec
// events (ok) or not JSON (not ok).
func flatFromStruct(line []byte) (map[string]any, bool) {
	var m esMessage
	if err := json.Unmarshal(line, &m); err != nil {
		return nil, false
	}
	x := m.Event.Exec
	if x == nil {
		return nil, true
	}
	args := make([]any, len(x.Args))
	for i, a := range x.Args {
		args[i] = a
	}
	return map[string]any{
		"Image":       x.Target.Executable.Path,
		"CommandLine": strings.Join(x.Args, " "),
		"ParentImage": m.Process.Executable.Path,
		"User":        ruid(x.Target.AuditToken),
		"SigningID":   x.Target.SigningID,
		"Args":        args,
	}, true
}

// flatFromMap decodes a line into map[string]any, as a generic pipeline would.
func flatFromMap(line []byte) (map[string]any, bool) {
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		return nil, false
	}
	event, _ := m["event"].(map[string]any)
	x, _ := event["exec"].(map[string]any)
	if x == nil {
		return nil, true
	}
	target, _ := x["target"].(map[string]any)
	proc, _ := m["process"].(map[string]any)
	var argv []string
	args, _ := x["args"].([]any)
	for _, a := range args {
		s, _ := a.(string)
		argv = append(argv, s)
	}
	user := ""
	switch t := target["audit_token"].(type) {
	case map[string]any:
		if f, ok := t["ruid"].(float64); ok {
			user = strconv.FormatInt(int64(f), 10)
		}
	case []any:
		if len(t) == 8 {
			if f, ok := t[3].(float64); ok {
				user = strconv.FormatInt(int64(f), 10)
			}
		}
	}
	sid, _ := target["signing_id"].(string)
	return map[string]any{
		"Image":       exePath(target),
		"CommandLine": strings.Join(argv, " "),
		"ParentImage": exePath(proc),
		"User":        user,
		"SigningID":   sid,
		"Args":        args,
	}, true
}

func exePath(p map[string]any) string {
	e, _ := p["executable"].(map[string]any)
	s, _ := e["path"].(string)
	return s
}
