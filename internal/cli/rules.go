package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
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
	packet, packets, explain, keep := new(string), new(string), new(bool), new(string)
	if verb == "eval" {
		packet = flags.String("packet", "", "one packet, `PACKET`, such as \"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup\"")
		packets = flags.String("packets", "", "a `FILE` of packets, one per line")
		explain = flags.Bool("explain", false, "show every rule considered and why it matched or not")
	} else {
		keep = flags.String("keep", "", "the `SOURCE:PORT` of your own session (e.g. 203.0.113.5:22) that must not be cut off")
	}
	var pfOpts rules.PFOptions
	flags.Func("iface", "pf: an interface's address, `SPEC` as en0=192.0.2.10/24, for antispoof (repeatable)", func(v string) error {
		return pfIfaceFlag(&pfOpts, v)
	})
	flags.Func("group", "pf: an interface group's members, `SPEC` as egress=en0,en1 (repeatable)", func(v string) error {
		return pfGroupFlag(&pfOpts, v)
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
	var rs ruleset
	var notes []rules.Note // lines of the rule set that were read but not modelled
	var ipfw *rules.IPFWRuleset
	var pf *rules.PFRuleset
	switch f {
	case "ipfw":
		services := a.serviceLookup()
		ipfw, err = rules.ParseIPFWContext(ctx, data, pos[0], services)
		if err != nil {
			return rulesErr(verb, err)
		}
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
		}
		if err != nil {
			return rulesErr(verb, err)
		}
		if a.g.json {
			if findings == nil {
				findings = []rules.Finding{}
			}
			if err := writeJSON(a.Out, findings); err != nil {
				return err
			}
		} else if len(findings) == 0 {
			fmt.Fprintf(a.Out, "%s: no findings (%d rules)\n", pos[0], nrules)
		} else {
			for _, fd := range findings {
				fmt.Fprintf(a.Out, "%s [%s] %s\n  fix: %s\n", strings.Join(fd.Rules, ","), fd.Kind, fd.Message, fd.Fix)
			}
		}
		if len(notes) > 0 {
			// JSON output is the list of findings; the notes go beside it, not into it.
			w := a.Out
			if a.g.json {
				w = a.Err
			}
			writeNotes(w, notes, "result")
		}
		if len(findings) > 0 {
			return exitCode(posture.ExitNonCompliant)
		}
		return nil
	}

	var list []rules.Packet
	var assumed []bool // the packet is TCP and said neither setup nor established
	switch {
	case (*packet == "") == (*packets == ""):
		return usagef("rules eval needs exactly one of --packet P or --packets FILE")
	case *packet != "":
		p, err := rules.ParsePacket(*packet)
		if err != nil {
			return usagef("%v", err)
		}
		list, assumed = append(list, p), append(assumed, assumesState(*packet, p))
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
			list, assumed = append(list, p), append(assumed, assumesState(line, p))
		}
	}
	type result struct {
		Packet  string       `json:"packet"`
		Verdict string       `json:"verdict"`
		Rule    string       `json:"rule"`
		Text    string       `json:"text"`
		Steps   []rules.Step `json:"steps,omitempty"`
		// Conditional lists what the verdict rests on that was not given or not modelled.
		Conditional []string      `json:"conditional,omitempty"`
		v           rules.Verdict `json:"-"`
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
		if assumed[i] {
			res.Conditional = append(res.Conditional, assumedEstablished)
		}
		for _, n := range notes {
			res.Conditional = append(res.Conditional, n.String())
		}
		results = append(results, res)
	}
	if a.g.json {
		return writeJSON(a.Out, results)
	}
	cond := ""
	if len(notes) > 0 {
		cond = ", conditional (see the notes)"
	}
	for _, r := range results {
		fmt.Fprintf(a.Out, "%s: %s by rule %s (%s)%s\n", r.Packet, strings.ToUpper(r.Verdict), r.Rule, r.Text, cond)
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
		if r.Conditional != nil && r.Conditional[0] == assumedEstablished {
			fmt.Fprintf(a.Out, "  conditional: %s\n", assumedEstablished)
		}
	}
	// The notes hold for every verdict alike: said once, after them.
	writeNotes(a.Out, notes, "verdict")
	return nil
}

// assumedEstablished is said of a TCP packet given without setup or established, which
// ParsePacket takes as established.
const assumedEstablished = "assumed established, since the packet says neither setup nor established; add setup to ask about a new connection"

// assumesState reports that spec, parsed as p, is a TCP packet whose state was assumed.
func assumesState(spec string, p rules.Packet) bool {
	if p.Proto != rules.ProtoTCP {
		return false
	}
	for _, w := range strings.Fields(spec) {
		if w == "setup" || w == "established" {
			return false
		}
	}
	return true
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
		if v := rs.Eval(&p); v.Action != rules.Allow {
			what := "your open session"
			if setup {
				what = "a new connection"
			}
			return []rules.Finding{{Kind: "lockout", Rules: []string{v.Where},
				Message: fmt.Sprintf("%s from %s to port %d is %s by %s (%s): loading this rule set would cut you off", what, keep.Addr(), keep.Port(), v.Action.Past(), v.Where, v.Text),
				Fix:     fmt.Sprintf("pass in quick proto tcp from %s to port %d before %s", keep.Addr(), keep.Port(), v.Where)}}
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
