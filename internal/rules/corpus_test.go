package rules

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/firewarden/firewarden/internal/fwlog"
)

// The corpus is a set of real pf and ipfw rule sets that we did not write (see
// testdata/corpus/README.md): TestCorpus measures how many of them the parsers read, and
// TestCorpusVerdicts checks verdicts derived by hand from pf.conf(5) and ipfw(8) on those that
// parse. The rule set files themselves are public material with their own licences, kept
// outside this repository (FIREWARDEN_RULES_CORPUS, testdata/corpus/{pf,ipfw}, or shared/
// beside the repository); only our own status golden and verdicts live here.

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/corpus/status.golden")

// corpusMinShare is the share of corpus files (both kinds together) that must parse. It is the
// value measured when the corpus was collected; raise it as grammar lands, never lower it.
const corpusMinShare = 0.95

// corpusRefused lists the corpus files that the real tool refuses as published, with the
// reason: the simulator must refuse them too, and they are left out of the parse share (a
// simulator that reads them is wrong, not better). pfctl loads nothing from a file with an
// error; an ipfw script is not listed here, since sh goes on after a failed ipfw command.
var corpusRefused = map[string]string{
	// pfctl's lexer: "macro 'hotspot_if' not defined"; the file never defines it.
	"pf/lfour-freebsd-desktop.conf": "pfctl: macro hotspot_if is not defined (line 30)",
	// pfctl's rule_consistent: if (!r->af && (r->type || r->code)) "must indicate address
	// family with icmp-type/code"; line 14 has proto icmp and icmp-type but no inet.
	"pf/bastille-docs-bridge.conf": "pfctl: must indicate address family with icmp-type/code (line 14)",
}

// corpusProfiles are, for the scripts that read their profile from the running system (a
// program's output, the kernel, a variable rc(8) sets), the --set values a user gives when the
// refusal asks for them: the values the script itself expects (its comments, or what rc(8) or
// the program would say on the script's own system). A script that parses only with them
// counts as parsed with a profile, apart from those that parse as given.
var corpusProfiles = map[string]map[string]string{
	// vpn=$(ifconfig | … grep "tun" …): the tunnel interface the script looks for.
	"ipfw/dak180-truenas-ipfw.rules": {"vpn": "tun0"},
	// rc(8) sets fwcmd before it runs the picobsd firewall script; rc.conf gives firewall_type.
	"ipfw/freebsd-picobsd-rc-firewall.sh": {"fwcmd": "/sbin/ipfw", "firewall_type": "client"},
	// afexists inet6 asks the kernel; rc.firewall then uses ipv6_available (0: inet6 present).
	"ipfw/freebsd10-rc-firewall": {"ipv6_available": "0"},
	// ext_if=$(route get default | … interface …): the interface of the default route.
	"ipfw/lfour-workstation-ipfw.rules": {"ext_if": "em0"},
	// me=`id -u` must be 0 (the script refuses to run otherwise); e is its echo flag; $1 its verb.
	"ipfw/opencoff-osx-ipfw.sh": {"me": "0", "e": "", "1": "start"},
}

// corpusSetFlags writes vars as the --set flags that give them, in name order.
func corpusSetFlags(vars map[string]string) string {
	names := make([]string, 0, len(vars))
	for n := range vars {
		names = append(names, n)
	}
	slices.Sort(names)
	for i, n := range names {
		names[i] = "--set " + n + "=" + vars[n]
	}
	return strings.Join(names, " ")
}

// corpusEnv names a directory holding the corpus (pf/, ipfw/, SOURCES.md), for a checkout that
// keeps it elsewhere.
const corpusEnv = "FIREWARDEN_RULES_CORPUS"

// corpusDir finds the corpus, or skips the test saying how to provide it.
func corpusDir(t *testing.T) string {
	t.Helper()
	cands := []string{"testdata/corpus", "../../../shared/fixtures/rules-corpus"}
	if d := os.Getenv(corpusEnv); d != "" {
		cands = []string{d}
	}
	for _, d := range cands {
		for _, kind := range []string{"pf", "ipfw"} {
			if st, err := os.Stat(filepath.Join(d, kind)); err == nil && st.IsDir() {
				return d
			}
		}
	}
	t.Skipf("no rule set corpus in %s: set %s=DIR (a folder with pf/ and ipfw/, see testdata/corpus/README.md) to run it", strings.Join(cands, " or "), corpusEnv)
	return ""
}

// rcFirewallRel is FreeBSD's current rc.firewall in the corpus: not one of the rule sets counted
// (the corpus has FreeBSD 10's as a whole root), but the script the rc.firewall tests run.
const rcFirewallRel = "ipfw-extra/rc.firewall"

// corpusFile finds rel in the corpus, or returns "" when no corpus is at hand.
func corpusFile(rel string) string {
	cands := []string{"testdata/corpus", "../../../shared/fixtures/rules-corpus"}
	if d := os.Getenv(corpusEnv); d != "" {
		cands = []string{d}
	}
	for _, d := range cands {
		p := filepath.Join(d, filepath.FromSlash(rel))
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// rcFirewall reads FreeBSD's rc.firewall from the corpus, or skips the test saying how to
// provide it.
func rcFirewall(t testing.TB) []byte {
	t.Helper()
	p := corpusFile(rcFirewallRel)
	if p == "" {
		t.Skipf("FreeBSD's rc.firewall is not at hand: set %s=DIR to a rule set corpus holding %s (see testdata/corpus/README.md) to run it", corpusEnv, rcFirewallRel)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// corpusEntry is one rule set of the corpus: a single file, or a folder laid out as a root
// (etc/pf.conf, etc/pf.anchors/…) whose ENTRY file names the rule set's path in that root.
type corpusEntry struct {
	kind, name string // "pf", "drduh-guide-2026.conf" or "macos-stock"
	root       string // the folder of a root layout, or "" for a single file
	file       string // the rule set on disk
	sysPath    string // how the rule set names itself: "/etc/pf.conf" in a root, else name
}

func (e corpusEntry) id() string { return e.kind + "/" + e.name }

func corpusEntries(t *testing.T, dir string) []corpusEntry {
	t.Helper()
	var es []corpusEntry
	for _, kind := range []string{"pf", "ipfw"} {
		ents, err := os.ReadDir(filepath.Join(dir, kind))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, de := range ents {
			name := de.Name()
			if strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".md") {
				continue
			}
			p := filepath.Join(dir, kind, name)
			st, err := os.Stat(p) // follows links, so a corpus may be linked in
			if err != nil {
				t.Fatal(err)
			}
			if !st.IsDir() {
				es = append(es, corpusEntry{kind: kind, name: name, file: p, sysPath: name})
				continue
			}
			b, err := os.ReadFile(filepath.Join(p, "ENTRY"))
			if err != nil {
				t.Fatalf("%s/%s is a root layout without an ENTRY file naming its rule set: %v", kind, name, err)
			}
			sys := path.Clean("/" + strings.TrimSpace(string(b)))
			es = append(es, corpusEntry{kind: kind, name: name, root: p, file: filepath.Join(p, filepath.FromSlash(sys)), sysPath: sys})
		}
	}
	return es
}

// corpusServices is the CLI's lookup (internal/cli serviceLookup): ROOT/etc/services when the
// entry is a root layout that has one, else the CLI's built-in names.
func corpusServices(e corpusEntry) ServiceLookup {
	names := map[string]uint16{"ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "http": 80, "pop3": 110,
		"ntp": 123, "imap": 143, "https": 443, "submission": 587, "imaps": 993, "pop3s": 995}
	byProto := map[string]map[string]uint16{}
	if e.root != "" {
		if data, err := os.ReadFile(filepath.Join(e.root, "etc", "services")); err == nil {
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

// corpusOpts are what `rules eval` is given besides the file: --iface, --group, --default.
type corpusOpts struct {
	pf      PFOptions
	defDeny bool
	vars    map[string]string // --set NAME=VALUE: the profile of an ipfw script
}

// corpusParsed is a rule set of the corpus as the CLI would hold it.
type corpusParsed struct {
	rs    corpusRuleset
	rules int
	notes int
}

// corpusRuleset is what the corpus checks need of a parsed rule set.
type corpusRuleset interface {
	Eval(p *Packet) Verdict
}

// corpusScriptOpts reads an ipfw script's files (., rc.conf, ipfw PATHNAME) under the entry's
// root, as the CLI reads them under --root; a single file has no root, so it reads nothing.
func corpusScriptOpts(e corpusEntry, o corpusOpts) IPFWScriptOptions {
	under := func(p string) string { return filepath.Join(e.root, filepath.FromSlash(path.Clean("/"+p))) }
	return IPFWScriptOptions{
		Vars: o.vars,
		ReadFile: func(p string) ([]byte, error) {
			if e.root == "" {
				return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
			}
			return os.ReadFile(under(p))
		},
		Stat: func(p string) (fs.FileInfo, error) {
			if e.root == "" {
				return nil, &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
			}
			return os.Stat(under(p))
		},
	}
}

// parseCorpus parses an entry the way `firewarden rules eval` does (internal/cli/rules.go): pf
// with ParsePFOptions and a loader under the entry's root, ipfw with ParseIPFWScript, its files
// under the root, and the CLI's service names, then CompileContext.
func parseCorpus(e corpusEntry, o corpusOpts) (corpusParsed, error) {
	ctx := context.Background()
	data, err := os.ReadFile(e.file)
	if err != nil {
		return corpusParsed{}, err
	}
	switch e.kind {
	case "pf":
		load := func(p string) ([]byte, error) {
			if e.root == "" {
				// A single file has no root: what it includes is not in the corpus.
				return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
			}
			return os.ReadFile(filepath.Join(e.root, filepath.FromSlash(path.Clean("/"+p))))
		}
		rs, err := ParsePFOptions(ctx, data, e.sysPath, load, o.pf)
		if err != nil {
			return corpusParsed{}, err
		}
		return corpusParsed{rs: rs, rules: rs.Len(), notes: len(rs.Notes())}, nil
	default:
		rs, err := ParseIPFWScript(ctx, data, e.sysPath, corpusServices(e), corpusScriptOpts(e, o))
		if err != nil {
			return corpusParsed{}, err
		}
		if o.defDeny {
			rs.Default = Deny
		}
		if err := rs.CompileContext(ctx); err != nil {
			return corpusParsed{}, err
		}
		return corpusParsed{rs: rs, rules: len(rs.Rules), notes: len(rs.Notes)}, nil
	}
}

// corpusFirstLine is the first line of an error, which names the file:line and the construct.
func corpusFirstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

func TestCorpus(t *testing.T) {
	dir := corpusDir(t)
	es := corpusEntries(t, dir)
	if len(es) == 0 {
		t.Fatalf("corpus %s has no rule sets", dir)
	}
	var b strings.Builder
	refused := 0
	type tally struct{ parsed, profiled, total int }
	shares := map[string]*tally{"pf": {}, "ipfw": {}}
	for _, e := range es {
		data, err := os.ReadFile(e.file)
		if err != nil {
			t.Fatal(err)
		}
		line := e.id() + ": "
		got, err := parseCorpus(e, corpusOpts{})
		if why, ok := corpusRefused[e.id()]; ok {
			if err == nil {
				t.Errorf("%s parses, want an error: the real tool refuses it (%s)", e.id(), why)
				line += fmt.Sprintf("parsed, %d rules, %d notes", got.rules, got.notes)
			} else {
				line += "error: " + corpusFirstLine(err)
			}
			refused++
			b.WriteString(line + " [refused by the real tool too]\n")
			continue
		}
		shares[e.kind].total++
		if err != nil {
			line += "error: " + corpusFirstLine(err)
			// A script refused for want of a profile is read again with the values a user
			// answers that refusal with (corpusProfiles): counted apart, as parsed with a profile.
			if vars, ok := corpusProfiles[e.id()]; ok {
				if got, err := parseCorpus(e, corpusOpts{vars: vars}); err != nil {
					line += "; with " + corpusSetFlags(vars) + ": error: " + corpusFirstLine(err)
				} else {
					shares[e.kind].profiled++
					line += fmt.Sprintf("; with %s: parsed, %d rules, %d notes", corpusSetFlags(vars), got.rules, got.notes)
				}
			}
		} else {
			shares[e.kind].parsed++
			line += fmt.Sprintf("parsed, %d rules, %d notes", got.rules, got.notes)
		}
		// `rules eval` picks the format from the content when --format is not given.
		if LooksLikePF(data) != (e.kind == "pf") {
			line += " (not recognised as " + e.kind + " without --format)"
		}
		b.WriteString(line + "\n")
	}
	golden := "testdata/corpus/status.golden"
	if *updateCorpus {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	checkGolden(t, golden, b.String(), "corpus parse status")

	parsed, profiled, total := 0, 0, 0
	for _, kind := range []string{"pf", "ipfw"} {
		s := shares[kind]
		parsed, profiled, total = parsed+s.parsed, profiled+s.profiled, total+s.total
		if s.total > 0 {
			t.Logf("%s: %d of %d files parse (%.1f%%): %d as given (%.1f%%), %d with the profile their refusal asks for", kind, s.parsed+s.profiled, s.total, 100*float64(s.parsed+s.profiled)/float64(s.total), s.parsed, 100*float64(s.parsed)/float64(s.total), s.profiled)
		}
	}
	share := float64(parsed+profiled) / float64(total)
	t.Logf("all: %d of %d files parse (%.1f%%): %d as given (%.1f%%), %d more with the --set values their refusal names; %d more are refused as the real tool refuses them",
		parsed+profiled, total, 100*share, parsed, 100*float64(parsed)/float64(total), profiled, refused)
	if share < corpusMinShare {
		t.Errorf("corpus parse share = %.3f, want at least corpusMinShare %.3f", share, corpusMinShare)
	}
}

// corpusVerdict is one expectation of testdata/corpus/verdicts.txt.
type corpusVerdict struct {
	line    int // in verdicts.txt
	packet  string
	action  Action
	where   string
	pending string // why the simulator is known to get it wrong today, or ""
}

// corpusCase is a rule set of the corpus with its options and expected verdicts.
type corpusCase struct {
	line     int
	id       string
	opts     corpusOpts
	verdicts []corpusVerdict
}

// readCorpusVerdicts reads verdicts.txt (its format is described at its top).
func readCorpusVerdicts(t *testing.T, name string) []corpusCase {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var cs []corpusCase
	for i, raw := range strings.Split(string(data), "\n") {
		n := i + 1
		text := strings.TrimSpace(raw)
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if rest, ok := strings.CutPrefix(text, "file "); ok {
			f := strings.Fields(rest)
			c := corpusCase{line: n, id: f[0]}
			for _, opt := range f[1:] {
				k, v, _ := strings.Cut(opt, "=")
				switch k {
				case "--iface":
					if err := corpusIface(&c.opts.pf, v); err != nil {
						t.Fatalf("%s:%d: %v", name, n, err)
					}
				case "--group":
					g, list, ok := strings.Cut(v, ":")
					if !ok {
						t.Fatalf("%s:%d: --group=%s: want NAME:IF,IF", name, n, v)
					}
					if c.opts.pf.Groups == nil {
						c.opts.pf.Groups = map[string][]string{}
					}
					c.opts.pf.Groups[g] = strings.Split(list, ",")
				case "--default":
					c.opts.defDeny = v == "deny"
				case "--set":
					vn, val, ok := strings.Cut(v, ":")
					if !ok || vn == "" {
						t.Fatalf("%s:%d: --set=%s: want NAME:VALUE", name, n, v)
					}
					if c.opts.vars == nil {
						c.opts.vars = map[string]string{}
					}
					c.opts.vars[vn] = val
				default:
					t.Fatalf("%s:%d: unknown option %q", name, n, opt)
				}
			}
			cs = append(cs, c)
			continue
		}
		if len(cs) == 0 {
			t.Fatalf("%s:%d: a packet before any file line", name, n)
		}
		pkt, want, ok := strings.Cut(text, "=>")
		want, pending, _ := strings.Cut(want, "pending:")
		f := strings.Fields(want)
		if !ok || len(f) != 2 {
			t.Fatalf("%s:%d: want PACKET => ACTION WHERE, got %q", name, n, text)
		}
		var act Action
		switch f[0] {
		case "allow":
			act = Allow
		case "deny":
			act = Deny
		case "reject":
			act = Reject
		default:
			t.Fatalf("%s:%d: action %q: want allow, deny or reject", name, n, f[0])
		}
		c := &cs[len(cs)-1]
		c.verdicts = append(c.verdicts, corpusVerdict{line: n, packet: strings.TrimSpace(pkt), action: act, where: f[1], pending: strings.TrimSpace(pending)})
	}
	return cs
}

// corpusIface reads IF:ADDR/LEN (as --iface IF=ADDR/LEN) into opts.
func corpusIface(opts *PFOptions, v string) error {
	ifn, addr, ok := strings.Cut(v, ":")
	pre, err := netip.ParsePrefix(addr)
	if !ok || err != nil {
		return fmt.Errorf("--iface=%s: want IF:ADDR/LEN", v)
	}
	if opts.Ifaces == nil {
		opts.Ifaces = map[string][]netip.Prefix{}
	}
	opts.Ifaces[ifn] = append(opts.Ifaces[ifn], pre)
	return nil
}

func TestCorpusVerdicts(t *testing.T) {
	dir := corpusDir(t)
	byID := map[string]corpusEntry{}
	for _, e := range corpusEntries(t, dir) {
		byID[e.id()] = e
	}
	cases := readCorpusVerdicts(t, "testdata/corpus/verdicts.txt")
	checked, pending, waiting := 0, 0, []string{}
	for _, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			e, ok := byID[c.id]
			if !ok {
				t.Fatalf("verdicts.txt:%d: %s is not in the corpus at %s", c.line, c.id, dir)
			}
			rs, err := parseCorpus(e, c.opts)
			if err != nil {
				// Expected verdicts wait for the grammar: the file does not parse yet.
				waiting = append(waiting, c.id)
				t.Logf("not checked yet, %s does not parse: %s", c.id, corpusFirstLine(err))
				return
			}
			for _, v := range c.verdicts {
				p, err := ParsePacket(v.packet)
				if err != nil {
					t.Fatalf("verdicts.txt:%d: %v", v.line, err)
				}
				got := rs.rs.Eval(&p)
				right := got.Action == v.action && got.Where == v.where
				switch {
				case v.pending != "" && right:
					t.Errorf("verdicts.txt:%d: Eval(%s) = %s by %s, as expected: the pending mark (%s) can go", v.line, v.packet, got.Action, got.Where, v.pending)
				case v.pending != "":
					pending++
					t.Logf("verdicts.txt:%d: pending (%s): Eval(%s) = %s by %s (%s), want %s by %s", v.line, v.pending, v.packet, got.Action, got.Where, got.Text, v.action, v.where)
				case !right:
					t.Errorf("verdicts.txt:%d: Eval(%s) = %s by %s (%s), want %s by %s", v.line, v.packet, got.Action, got.Where, got.Text, v.action, v.where)
				}
				checked++
			}
		})
	}
	slices.Sort(waiting)
	t.Logf("%d verdicts checked (%d pending a known fix); %d of %d files wait for grammar: %s", checked, pending, len(waiting), len(cases), strings.Join(waiting, ", "))
}

var corpusScan = flag.Bool("corpus-scan", false, "TestCorpusScan: list every line of the corpus the parsers refuse")

// corpusErrLine splits a parse error into the file, line and message it names.
var corpusErrLine = regexp.MustCompile(`^(.+?):(\d+): (.*)$`)

// TestCorpusScan lists every line each corpus file is refused on, not only the first: it blanks
// the refused line (and its continuation lines) and parses again, until the file parses or an
// error names no line. It guides grammar work and asserts nothing; run it with -corpus-scan -v.
func TestCorpusScan(t *testing.T) {
	if !*corpusScan {
		t.Skip("run with -corpus-scan -v to list every refused line of the corpus")
	}
	dir := corpusDir(t)
	for _, e := range corpusEntries(t, dir) {
		overlay := map[string][]byte{}
		read := func(sys string) ([]byte, error) {
			if b, ok := overlay[sys]; ok {
				return b, nil
			}
			if sys == e.sysPath {
				return os.ReadFile(e.file)
			}
			if e.root == "" {
				return nil, fs.ErrNotExist
			}
			return os.ReadFile(filepath.Join(e.root, filepath.FromSlash(path.Clean("/"+sys))))
		}
		for range 500 {
			data, err := read(e.sysPath)
			if err != nil {
				t.Fatal(err)
			}
			if e.kind == "pf" {
				_, err = ParsePFOptions(context.Background(), data, e.sysPath, func(p string) ([]byte, error) {
					if p == e.sysPath {
						return nil, fs.ErrNotExist
					}
					return read(p)
				}, PFOptions{})
			} else {
				var rs *IPFWRuleset
				if rs, err = ParseIPFWScript(context.Background(), data, e.sysPath, corpusServices(e), corpusScriptOpts(e, corpusOpts{})); err == nil {
					err = rs.CompileContext(context.Background())
				}
			}
			if err == nil {
				break
			}
			m := corpusErrLine.FindStringSubmatch(corpusFirstLine(err))
			if m == nil {
				t.Logf("%s: %s", e.id(), corpusFirstLine(err))
				break
			}
			b, rerr := read(m[1])
			if rerr != nil {
				t.Logf("%s: %s", e.id(), corpusFirstLine(err))
				break
			}
			t.Logf("%s: %s:%s: %s", e.id(), m[1], m[2], m[3])
			lines := strings.Split(string(b), "\n")
			var n int
			fmt.Sscanf(m[2], "%d", &n)
			for i := n - 1; i >= 0 && i < len(lines); i++ {
				cont := strings.HasSuffix(strings.TrimRight(lines[i], " \t"), "\\")
				lines[i] = ""
				if !cont {
					break
				}
			}
			overlay[m[1]] = []byte(strings.Join(lines, "\n"))
		}
	}
}

// corpusPfctlRule matches a filter rule line of `pfctl -nv` output ("@3 block in …" in older pfctl).
var corpusPfctlRule = regexp.MustCompile(`^(@\d+ )?(pass|block)\b`)

// TestCorpusPfctlExpansion compares our expansion of lists with pfctl's: for each NAME.in of the
// corpus's pfctl-nv/ folder that parses, the number of filter rules once lists are expanded as
// pfctl expands them (the parser's count behind its expansion limit; the compiled rule set keeps
// lists whole) must equal the number of pass and block lines in NAME.ok, the `pfctl -nvf
// NAME.in` output published with it.
func TestCorpusPfctlExpansion(t *testing.T) {
	dir := filepath.Join(corpusDir(t), "pfctl-nv")
	ins, err := filepath.Glob(filepath.Join(dir, "*.in"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) == 0 {
		t.Skipf("no pfctl -nv pairs in %s", dir)
	}
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".in")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			ok, err := os.ReadFile(strings.TrimSuffix(in, ".in") + ".ok")
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			for _, line := range strings.Split(string(ok), "\n") {
				if corpusPfctlRule.MatchString(line) {
					want++
				}
			}
			rs, err := ParsePFOptions(context.Background(), data, name+".in", func(p string) ([]byte, error) {
				return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
			}, PFOptions{})
			if err != nil {
				t.Logf("not compared yet, %s.in does not parse: %s", name, corpusFirstLine(err))
				return
			}
			if got := rs.expanded; got != want {
				t.Errorf("ParsePF(%s.in) expands to %d filter rules, want %d (the pass and block lines of pfctl -nv in %s.ok)", name, got, want, name)
			}
		})
	}
}

// TestCorpusVerdictsFile checks verdicts.txt without the corpus, so that CI, which may not
// have it, still catches a malformed line: every packet parses, and every file it names is a
// line of status.golden.
func TestCorpusVerdictsFile(t *testing.T) {
	golden, err := os.ReadFile("testdata/corpus/status.golden")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(string(golden), "\n") {
		if id, _, ok := strings.Cut(line, ": "); ok {
			listed[id] = true
		}
	}
	for _, c := range readCorpusVerdicts(t, "testdata/corpus/verdicts.txt") {
		if !listed[c.id] {
			t.Errorf("verdicts.txt:%d: %s is not in status.golden", c.line, c.id)
		}
		if len(c.verdicts) == 0 {
			t.Errorf("verdicts.txt:%d: %s has no packet", c.line, c.id)
		}
		for _, v := range c.verdicts {
			if _, err := ParsePacket(v.packet); err != nil {
				t.Errorf("verdicts.txt:%d: %v", v.line, err)
			}
		}
	}
}
