package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/firewarden/firewarden/internal/fwlog"
	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/posture"
	"github.com/firewarden/firewarden/internal/rules"
)

// ruleset is what `rules eval` and `rules lint` need of a parsed rule set.
type ruleset interface {
	Eval(p *rules.Packet) rules.Verdict
	Explain(p *rules.Packet) (rules.Verdict, []rules.Step)
	NamesInterfaces() bool
	TestsICMPTypes() bool
}

// translator is a rule set that translates addresses (pf's nat, rdr, nat-to …): it says how a
// packet leaves, and in which dialect the file translates.
type translator interface {
	Translate(p *rules.Packet) (rules.Packet, bool)
	TranslatedBy(p *rules.Packet) []string
	Dialect() string
}

// translation is how rs rewrites p, if it does.
func translation(rs ruleset, p *rules.Packet) (rules.Packet, bool) {
	if tr, ok := rs.(translator); ok {
		return tr.Translate(p)
	}
	return *p, false
}

// dialect is the translation dialect of rs, or "".
func dialect(rs ruleset) string {
	if tr, ok := rs.(translator); ok {
		return tr.Dialect()
	}
	return ""
}

// writeDialect says which translation dialect the verdicts assumed.
func writeDialect(w io.Writer, rs ruleset) {
	if d := dialect(rs); d != "" {
		fmt.Fprintf(w, "translation: %s; packets are matched as pf translates them\n", d)
	}
}

func runRules(ctx context.Context, a *app, args []string) error {
	if len(args) == 0 || (args[0] != "eval" && args[0] != "lint") {
		return usagef("rules needs a verb: firewarden rules eval RULESET --packet P | rules lint RULESET")
	}
	verb := args[0]
	flags := a.flagSet("rules " + verb)
	format := flags.String("format", "", "rule set `FORMAT`: ipfw or pf (default: recognised from the file)")
	def := flags.String("default", "allow", "ipfw's built-in rule 65535, `ACTION`: allow (as on Mac OS X) or deny")
	// Each verb has only its own flags, so that help and completion show what it reads.
	var packet []string
	packets, explain, keep := new(string), new(bool), new(string)
	strict := flags.Bool("strict", false, "exit 2 with the first reason unless every answer is exact (no line not modelled, unsure rule or assumed packet field)")
	if verb == "eval" {
		flags.Func("packet", "a packet, `PACKET`, such as \"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup\" (repeatable)", func(v string) error {
			packet = append(packet, v)
			return nil
		})
		packets = flags.String("packets", "", "a `FILE` of packets, one per line")
		explain = flags.Bool("explain", false, "show every rule considered and why it matched or not")
	} else {
		keep = flags.String("keep", "", "the `SOURCE:PORT` of your own session (e.g. 203.0.113.5:22) that must not be cut off")
	}
	// pf resolves port names as ipfw does: ROOT/etc/services, then a built-in list.
	pfOpts := rules.PFOptions{Services: a.serviceLookup()}
	flags.Func("iface", "an interface's address, `SPEC` as en0=192.0.2.10/24, for antispoof, and pf's (en0), en0:network and -> (en0) (repeatable)", func(v string) error {
		return pfIfaceFlag(&pfOpts, v)
	})
	flags.Func("group", "pf: an interface group's members, `SPEC` as egress=en0,en1 (repeatable)", func(v string) error {
		return pfGroupFlag(&pfOpts, v)
	})
	// ipfw scripts: the profile the script is evaluated for (rc.firewall's firewall_type, …).
	setVars := map[string]string{}
	flags.Func("set", "ipfw scripts: a profile variable, `SETTING` as NAME=VALUE, e.g. firewall_type=open (repeatable)", func(v string) error {
		return setFlag(setVars, v)
	})
	pos, err := a.parse(flags, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("rules %s needs one RULESET file", verb)
	}
	if *def != "allow" && *def != "deny" {
		return usagef("--default %q: use allow or deny", *def)
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		return usagef("read %s: %v", pos[0], unwrapPath(err))
	}
	f := *format
	if f == "" {
		f = "ipfw"
		if rules.LooksLikePF(data) {
			f = "pf"
		}
	}
	if f != "ipfw" && len(setVars) > 0 {
		return usagef("--set gives the variables of an ipfw script; %s is read as %s", pos[0], f)
	}
	var rs ruleset
	var notes []rules.Note // lines of the rule set that were read but not modelled
	var profile []string   // the variables from outside an ipfw script that its rules rest on
	var ipfw *rules.IPFWRuleset
	var pf *rules.PFRuleset
	switch f {
	case "ipfw":
		services := a.serviceLookup()
		root, err := host.NewRoot(a.g.root)
		if err != nil {
			return usagef("%v", err)
		}
		// `. FILE`, load_rc_config and `ipfw PATHNAME` read under --root.
		opts := rules.IPFWScriptOptions{Vars: setVars, ReadFile: root.ReadFile,
			Stat: func(p string) (fs.FileInfo, error) { return os.Stat(root.Path(p)) }}
		ipfw, err = rules.ParseIPFWScript(ctx, data, pos[0], services, opts)
		if err != nil {
			return rulesErr(verb, err)
		}
		profile = ipfw.Profile
		if *def == "deny" {
			ipfw.Default = rules.Deny
		}
		if len(pfOpts.Ifaces) > 0 {
			// The flag's help still says pf (the README prints it; the lead updates both).
			ipfw.SetInterfaces(pfOpts.Ifaces) // antispoof decided, not assumed
		}
		if err := ipfw.CompileContext(ctx); err != nil {
			return rulesErr(verb, err)
		}
		rs, notes = ipfw, ipfw.Notes
	case "pf":
		root, err := host.NewRoot(a.g.root)
		if err != nil {
			return usagef("%v", err)
		}
		// load anchor … from "/etc/pf.anchors/…" and table files resolve under --root.
		pf, err = rules.ParsePFOptions(ctx, data, pos[0], func(path string) ([]byte, error) { return root.ReadFile(path) }, pfOpts)
		if err != nil {
			return rulesErr(verb, err)
		}
		rs = pf
		for _, n := range pf.Notes() {
			notes = append(notes, rules.Note{Text: n}) // pf's notes name their file:line already
		}
	default:
		return usagef("--format %q: use ipfw or pf", f)
	}

	if verb == "lint" {
		var opts rules.LintOptions
		flags.Visit(func(f *flag.Flag) {
			if f.Name == "default" {
				opts.DefaultGiven = "--default " + *def // otherwise lint says the default is assumed
			}
		})
		if *keep != "" {
			if opts.Keep, err = netip.ParseAddrPort(*keep); err != nil {
				return usagef("--keep %q: want SOURCE:PORT, e.g. 203.0.113.5:22", *keep)
			}
		}
		var findings []rules.Finding
		nrules := 0
		if ipfw != nil {
			findings, err = ipfw.LintContext(ctx, opts)
			nrules = len(ipfw.Rules)
		} else {
			findings, err = pf.LintContext(ctx)
			nrules = pf.Len()
			findings = append(findings, lockout(pf, opts.Keep)...)
			if !a.g.json {
				writeDialect(a.Out, pf)
			}
		}
		if err != nil {
			return rulesErr(verb, err)
		}
		if *strict && len(notes) > 0 {
			return strictErr("rules lint", pos[0], noteReason(notes[0]))
		}
		if a.g.json {
			if findings == nil {
				findings = []rules.Finding{}
			}
			doc := lintDoc{Findings: findings, Certainty: certaintyExact}
			for _, n := range notes {
				doc.Conditional = append(doc.Conditional, n.String())
			}
			if len(notes) > 0 {
				doc.Certainty = certaintyConditional
			}
			if err := writeJSON(a.Out, doc); err != nil {
				return err
			}
		} else if len(findings) == 0 {
			fmt.Fprintf(a.Out, "%s: no findings (%d rules)\n", pos[0], nrules)
		} else {
			for _, fd := range findings {
				fmt.Fprintf(a.Out, "%s [%s] %s\n  fix: %s\n", strings.Join(fd.Rules, ","), fd.Kind, fd.Message, fd.Fix)
			}
		}
		if !a.g.json {
			writeNotes(a.Out, notes, "result")
		}
		writeProfile(a.Out, a.Err, a.g.json, profile)
		if len(findings) > 0 {
			return exitCode(posture.ExitNonCompliant)
		}
		return nil
	}

	var list []rules.Packet
	var specs []string // each packet as given, for what it leaves out
	switch {
	case (len(packet) == 0) == (*packets == ""):
		return usagef("rules eval needs --packet P (repeatable) or --packets FILE, not both")
	case len(packet) > 0:
		for _, spec := range packet {
			p, err := rules.ParsePacket(spec)
			if err != nil {
				return usagef("%v", err)
			}
			list, specs = append(list, p), append(specs, spec)
		}
	default:
		pdata, err := os.ReadFile(*packets)
		if err != nil {
			return usagef("read %s: %v", *packets, unwrapPath(err))
		}
		sc := bufio.NewScanner(bytes.NewReader(pdata))
		for n := 1; sc.Scan(); n++ {
			if n%rulesCheckEvery == 0 && ctx.Err() != nil {
				return rulesErr(verb, ctx.Err())
			}
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			p, err := rules.ParsePacket(line)
			if err != nil {
				return usagef("%s:%d: %v", *packets, n, err)
			}
			list, specs = append(list, p), append(specs, line)
		}
	}
	type result struct {
		Packet  string       `json:"packet"`
		Verdict string       `json:"verdict"`
		Rule    string       `json:"rule"`
		Text    string       `json:"text"`
		Steps   []rules.Step `json:"steps,omitempty"`
		// Certainty is "exact", or "conditional" when the verdict rests on something neither
		// the rule set nor the packet decides; Conditional lists what, in the order the text
		// output gives it: the unsure rule, the packet fields assumed, the rule set's notes.
		Certainty   string   `json:"certainty"`
		Conditional []string `json:"conditional,omitempty"`
		// Translated is the packet as pf passes it on, when the rule set translates it.
		Translated string        `json:"translated,omitempty"`
		v          rules.Verdict `json:"-"`
		reasons    []certaintyReason
	}
	var results []result
	for i := range list {
		// Results are written only once every packet is evaluated, so stopping here leaves
		// nothing half-written.
		if i%rulesCheckEvery == 0 && ctx.Err() != nil {
			return rulesErr(verb, ctx.Err())
		}
		p := &list[i]
		res := result{Packet: p.String()}
		if *explain {
			res.v, res.Steps = rs.Explain(p)
		} else {
			res.v = rs.Eval(p)
		}
		res.Verdict, res.Rule, res.Text = res.v.Action.String(), res.v.Where, res.v.Text
		if q, ok := translation(rs, p); ok {
			res.Translated = q.String()
		}
		res.reasons = verdictReasons(res.v, specs[i], p, rs, ipfw, defaultGiven(flags))
		for _, r := range res.reasons {
			res.Conditional = append(res.Conditional, r.text)
		}
		for _, n := range notes {
			res.Conditional = append(res.Conditional, n.String())
		}
		res.Certainty = certaintyExact
		if len(res.Conditional) > 0 {
			res.Certainty = certaintyConditional
		}
		if *strict {
			switch {
			case len(res.reasons) > 0:
				return strictErr("rules eval", res.Packet, res.reasons[0])
			case len(notes) > 0:
				return strictErr("rules eval", res.Packet, noteReason(notes[0]))
			}
		}
		results = append(results, res)
	}
	if a.g.json {
		return writeJSON(a.Out, results)
	}
	for _, r := range results {
		cond := ""
		if len(r.reasons) > 0 {
			texts := make([]string, len(r.reasons))
			for k, x := range r.reasons {
				texts[k] = x.text
			}
			cond = ", conditional: " + strings.Join(texts, "; ")
			if len(notes) > 0 {
				cond += " (and see the notes)"
			}
		} else if len(notes) > 0 {
			cond = ", conditional (see the notes)"
		}
		as := ""
		if r.Translated != "" {
			as = ", as " + r.Translated
		}
		fmt.Fprintf(a.Out, "%s: %s by rule %s (%s)%s%s\n", r.Packet, strings.ToUpper(r.Verdict), r.Rule, r.Text, as, cond)
		if *explain {
			tw := tabwriter.NewWriter(a.Out, 0, 0, 2, ' ', 0)
			for _, s := range r.Steps {
				mark := "  no "
				if s.Matched {
					mark = "  yes"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", mark, s.Where, s.Text, s.Why)
			}
			tw.Flush()
		}
	}
	// The notes hold for every verdict alike: said once, after them.
	writeDialect(a.Out, rs)
	writeNotes(a.Out, notes, "verdict")
	writeProfile(a.Out, a.Err, a.g.json, profile)
	return nil
}

// writeProfile says which variables from outside an ipfw script (--set, rc.conf) its rules
// were read for, on stderr beside JSON output.
func writeProfile(out, errw io.Writer, json bool, profile []string) {
	if len(profile) == 0 {
		return
	}
	w := out
	if json {
		w = errw
	}
	fmt.Fprintln(w, "profile: the script was evaluated with:")
	for _, p := range profile {
		fmt.Fprintf(w, "  %s\n", p)
	}
}

// setFlag reads one --set NAME=VALUE into vars; NAME 1 to 9 is an argument of the script.
func setFlag(vars map[string]string, v string) error {
	name, val, ok := strings.Cut(v, "=")
	if !ok || !shName(name) && !(len(name) == 1 && name[0] >= '1' && name[0] <= '9') {
		return fmt.Errorf("%q: want NAME=VALUE with a sh variable name (or 1 to 9 for the script's arguments), such as firewall_type=workstation", v)
	}
	vars[name] = val
	return nil
}

// shName reports that s is a sh variable name: a letter or _, then letters, digits or _.
func shName(s string) bool {
	for i, c := range s {
		if c != '_' && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

// writeNotes says which lines of the rule set were not modelled, so that no verdict or lint
// result on it reads as certain.
func writeNotes(w io.Writer, notes []rules.Note, what string) {
	if len(notes) == 0 {
		return
	}
	fmt.Fprintf(w, "conditional: the rule set has lines the simulator did not model; each %s holds only if they do not change it:\n", what)
	for _, n := range notes {
		fmt.Fprintf(w, "  %s\n", n)
	}
}

// pfIfaceFlag reads one --iface IF=ADDR/LEN into opts.
func pfIfaceFlag(opts *rules.PFOptions, v string) error {
	name, addr, ok := strings.Cut(v, "=")
	pre, err := netip.ParsePrefix(addr)
	if !ok || name == "" || err != nil {
		return fmt.Errorf("%q: want IF=ADDR/LEN, such as en0=192.0.2.10/24", v)
	}
	if opts.Ifaces == nil {
		opts.Ifaces = map[string][]netip.Prefix{}
	}
	opts.Ifaces[name] = append(opts.Ifaces[name], pre)
	return nil
}

// pfGroupFlag reads one --group NAME=IF,IF into opts.
func pfGroupFlag(opts *rules.PFOptions, v string) error {
	name, list, ok := strings.Cut(v, "=")
	if !ok || name == "" || list == "" {
		return fmt.Errorf("%q: want NAME=IF,IF, such as egress=en0", v)
	}
	if opts.Groups == nil {
		opts.Groups = map[string][]string{}
	}
	for _, ifn := range strings.Split(list, ",") {
		if ifn = strings.TrimSpace(ifn); ifn == "" {
			return fmt.Errorf("%q: empty interface name in the group", v)
		}
		opts.Groups[name] = append(opts.Groups[name], ifn)
	}
	return nil
}

// rulesCheckEvery is how many packets `rules eval` handles between looks at its context.
const rulesCheckEvery = 1024

// rulesErr maps an error of parsing, compiling or linting to the command's: an interruption
// (SIGINT, SIGTERM) says so, anything else is bad input.
func rulesErr(verb string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("rules %s interrupted before it finished; nothing was written", verb)
	}
	return usagef("%v", err)
}

// lockout checks that the operator's session (--keep SOURCE:PORT) survives the rule set: an
// established packet of it and a new connection, to the host (the simulator's 192.0.2.10 or
// 2001:db8::10, since a rule set file does not say which address the host has).
func lockout(rs ruleset, keep netip.AddrPort) []rules.Finding {
	if !keep.IsValid() {
		return nil
	}
	local := netip.MustParseAddr("192.0.2.10")
	if keep.Addr().Is6() {
		local = netip.MustParseAddr("2001:db8::10")
	}
	for _, setup := range []bool{false, true} {
		p := rules.Packet{Proto: rules.ProtoTCP, Src: keep.Addr(), Dst: local, SrcPort: 50000, DstPort: keep.Port(), Dir: rules.In,
			Iface: "en0", Established: !setup, Setup: setup, ICMPType: -1, ICMPCode: -1}
		what := "your open session"
		if setup {
			what = "a new connection"
		}
		// The rule set decides on the packet as it translates it (pf's rdr, binat, rdr-to).
		q, translated := translation(rs, &p)
		as := ""
		if translated {
			as = fmt.Sprintf(" (translated to %s)", &q)
		}
		if v := rs.Eval(&p); v.Action != rules.Allow {
			// A lockout that rests on an unsure rule is still reported, as one that may happen:
			// missing it costs more than a needless warning.
			cut := "would cut you off"
			if v.Unsure != "" {
				cut = "may cut you off (conditional: " + v.Unsure + ")"
			}
			return []rules.Finding{{Kind: "lockout", Rules: []string{v.Where},
				Message: fmt.Sprintf("%s from %s to port %d%s is %s by %s (%s): loading this rule set %s", what, keep.Addr(), keep.Port(), as, v.Action.Past(), v.Where, v.Text, cut),
				Fix:     fmt.Sprintf("pass in quick proto tcp from %s to port %d before %s", keep.Addr(), keep.Port(), v.Where)}}
		}
		if translated && (q.Dst != p.Dst || q.DstPort != p.DstPort) && !setup {
			// It passes, but to another address or port: the session no longer reaches this
			// host's service.
			return []rules.Finding{{Kind: "lockout", Rules: rs.(translator).TranslatedBy(&p),
				Message: fmt.Sprintf("%s from %s to port %d is redirected to %s: loading this rule set would send it elsewhere, cutting you off from this host", what, keep.Addr(), keep.Port(), netip.AddrPortFrom(q.Dst, q.DstPort)),
				Fix:     fmt.Sprintf("exempt your session from the redirection (no rdr … from %s to port %d, before the rdr rule; or a narrower match … rdr-to)", keep.Addr(), keep.Port())}}
		}
	}
	return nil
}

// serviceLookup resolves port names from ROOT/etc/services, with a few built-in names when the
// file is missing.
func (a *app) serviceLookup() rules.ServiceLookup {
	names := map[string]uint16{"ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "http": 80, "pop3": 110,
		"ntp": 123, "imap": 143, "https": 443, "submission": 587, "imaps": 993, "pop3s": 995}
	byProto := map[string]map[string]uint16{}
	if root, err := host.NewRoot(a.g.root); err == nil {
		if data, err := root.ReadFile("/etc/services"); err == nil {
			fwlog.EachService(data, func(name string, aliases []string, port uint16, proto string) {
				if byProto[proto] == nil {
					byProto[proto] = map[string]uint16{}
				}
				for _, n := range append([]string{name}, aliases...) {
					if _, seen := byProto[proto][n]; !seen {
						byProto[proto][n] = port
					}
				}
			})
		}
	}
	return func(name, proto string) (uint16, bool) {
		if p, ok := byProto[proto][name]; ok {
			return p, true
		}
		p, ok := names[name]
		return p, ok
	}
}

func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
