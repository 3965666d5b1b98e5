package hosttest

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// pfctlPath is where macOS keeps pfctl.
const pfctlPath = "/sbin/pfctl"

// DefaultTableEntriesLimit is pf's "table-entries hard limit" when nothing set another:
// PFR_KENTRY_HIWAT in XNU bsd/net/pfvar.h, the OpenBSD default (adaptive reference §5.3).
const DefaultTableEntriesLimit = 200000

// PFState is the packet filter of an emulated Mac: whether it runs, the enable references taken
// with pfctl -E, and the anchors below the main ruleset with their rules and tables. The main
// ruleset itself is not modelled: it is the stock /etc/pf.conf, and every run that would replace,
// flush or disable it for everyone is recorded in Forbidden instead, so tests can assert that
// nobody ever did that.
type PFState struct {
	Running bool `json:"running"`
	// Tokens are the live enable references (pfctl -E), as the decimal numbers pfctl prints.
	Tokens []string `json:"tokens,omitempty"`
	// NextToken is the next token -E hands out; zero means a fixed 64-bit starting value.
	NextToken uint64 `json:"next_token,omitempty"`
	// Anchors maps an anchor path ("com.apple/400.firewarden") to what it holds.
	Anchors map[string]PFAnchor `json:"anchors,omitempty"`
	// TableEntriesLimit is the "table-entries hard limit" over all tables together; zero means
	// DefaultTableEntriesLimit.
	TableEntriesLimit int `json:"table_entries_limit,omitempty"`
	// Forbidden records the argv of every run of pfctl -d (which stops pf for every enabler and
	// invalidates their tokens) and of every load or flush of the main ruleset.
	Forbidden [][]string `json:"forbidden,omitempty"`
	// NoComApple is a main ruleset without the stock `anchor "com.apple/*"` (a replaced
	// /etc/pf.conf), so that nothing below com.apple/ is evaluated. Flushing or loading the main
	// ruleset sets it.
	NoComApple bool `json:"no_com_apple,omitempty"`
}

// PFAnchor is one anchor: its filter rules as loaded (one per line, comments dropped) and its
// tables, each a sorted list of entries printed the way pfctl -T show prints them
// ("192.0.2.1", "198.51.100.0/24", "2001:db8::/64").
type PFAnchor struct {
	Rules  []string            `json:"rules,omitempty"`
	Tables map[string][]string `json:"tables,omitempty"`
}

func (p *PFState) clone() *PFState {
	if p == nil {
		return nil
	}
	c := *p
	c.Tokens = slices.Clone(p.Tokens)
	if p.Anchors != nil {
		c.Anchors = make(map[string]PFAnchor, len(p.Anchors))
		for name, a := range p.Anchors {
			na := PFAnchor{Rules: slices.Clone(a.Rules)}
			if a.Tables != nil {
				na.Tables = make(map[string][]string, len(a.Tables))
				for t, e := range a.Tables {
					na.Tables[t] = slices.Clone(e)
				}
			}
			c.Anchors[name] = na
		}
	}
	c.Forbidden = make([][]string, len(p.Forbidden))
	for i, f := range p.Forbidden {
		c.Forbidden[i] = slices.Clone(f)
	}
	if p.Forbidden == nil {
		c.Forbidden = nil
	}
	return &c
}

// Messages pfctl prints. Sources: FreeBSD/OpenBSD sbin/pfctl/pfctl_table.c (xprintf adds ".\n"
// on stderr; print_addrx prints feedback char, space, negation char, address), the macOS
// captures in the shared fixtures (ALTQ banner) and the adaptive reference §5.2 (pf enabled,
// Token : N, DIOCSTOPREF: Invalid argument).
const (
	pfALTQBanner       = "No ALTQ support in kernel\nALTQ related functions disabled\n"
	pfNoTable          = "pfctl: Table does not exist.\n"
	pfStopRefInvalid   = "pfctl: DIOCSTOPREF: Invalid argument\n"
	pfStopRefNotFound  = "pfctl: DIOCSTOPREF: No such file or directory\n" // SYNTHETIC: ENOENT when pf is not running
	pfNoMemory         = "pfctl: Cannot allocate memory.\n"                // radix_perror of ENOMEM
	pfInvalidArgument  = "pfctl: Invalid argument.\n"                      // radix_perror of EINVAL
	pfMainFlushWarning = "pfctl: Use of -f option, could result in flushing of rules\npresent in the main ruleset added by the system at startup.\nSee /etc/pf.conf for further details.\n"
)

// pfArgs is a parsed pfctl command line (the subset of pfctl(8) the emulator answers).
type pfArgs struct {
	anchor, table, tcmd, file, show, flush, release string
	enableRef, enable, disable                      bool
	addrs                                           []string
}

// parsePfctlArgs parses getopt style: "-a X", "-aX", and letters combined as in "-sr" or "-vsTables".
func parsePfctlArgs(args []string) (pfArgs, error) {
	var p pfArgs
	withArg := map[byte]*string{'a': &p.anchor, 't': &p.table, 'T': &p.tcmd, 'f': &p.file, 's': &p.show, 'F': &p.flush, 'X': &p.release}
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if len(a) < 2 || a[0] != '-' {
			break
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			if dst, ok := withArg[c]; ok {
				v := a[j+1:]
				if v == "" {
					if i+1 >= len(args) {
						return p, fmt.Errorf("option requires an argument -- %c", c)
					}
					i++
					v = args[i]
				}
				*dst = v
				break
			}
			switch c {
			case 'E':
				p.enableRef = true
			case 'e':
				p.enable = true
			case 'd':
				p.disable = true
			case 'q', 'v', 'n':
			default:
				return p, fmt.Errorf("illegal option -- %c", c)
			}
		}
	}
	p.addrs = args[i:]
	return p, nil
}

// pfctl answers pfctl runs. It holds m.mu.
func (m *Mac) pfctl(args []string) outcome {
	if m.st.PF == nil {
		m.st.PF = &PFState{}
	}
	pf := m.st.PF
	p, err := parsePfctlArgs(args)
	if err != nil {
		return fail(1, "pfctl: "+err.Error()+"\nusage: pfctl [-AdeghmNnOqRrvz] ...\n")
	}
	forbid := func() { pf.Forbidden = append(pf.Forbidden, append([]string{pfctlPath}, args...)) }
	forbidMain := func() { forbid(); pf.NoComApple = true }
	switch {
	case p.disable:
		forbid()
		pf.Running = false
		pf.Tokens = nil
		return outcome{stderr: pfALTQBanner + "pf disabled\n"}
	case p.enableRef:
		if pf.NextToken == 0 {
			pf.NextToken = 13540967312582709951 // the token printed in apple.stackexchange 268512
		}
		tok := strconv.FormatUint(pf.NextToken, 10)
		pf.NextToken++
		pf.Tokens = append(pf.Tokens, tok)
		pf.Running = true
		return outcome{stderr: pfALTQBanner + "pf enabled\nToken : " + tok + "\n"}
	case p.enable:
		if pf.Running {
			return fail(1, pfALTQBanner+"pfctl: pf already enabled\n")
		}
		pf.Running = true
		return outcome{stderr: pfALTQBanner + "pf enabled\n"}
	case p.release != "":
		if !pf.Running {
			return fail(1, pfStopRefNotFound)
		}
		i := slices.Index(pf.Tokens, p.release)
		if i < 0 {
			return fail(1, pfStopRefInvalid)
		}
		pf.Tokens = slices.Delete(pf.Tokens, i, i+1)
		if len(pf.Tokens) == 0 {
			pf.Running = false
			return outcome{stderr: "pf disabled\n"} // SYNTHETIC
		}
		return outcome{}
	case p.tcmd != "":
		return m.pfTable(pf, p)
	case p.flush != "":
		if p.anchor == "" {
			forbidMain()
			return outcome{stderr: "rules cleared.\n"}
		}
		a := pf.Anchors[p.anchor]
		switch strings.ToLower(p.flush) {
		case "rules", "r":
			a.Rules = nil
			pf.setAnchor(p.anchor, a)
			return outcome{stderr: "rules cleared.\n"}
		case "tables", "t":
			n := len(a.Tables)
			a.Tables = nil
			pf.setAnchor(p.anchor, a)
			return outcome{stderr: fmt.Sprintf("%d tables deleted.\n", n)}
		case "all", "a":
			n := len(a.Tables)
			delete(pf.Anchors, p.anchor)
			return outcome{stderr: fmt.Sprintf("rules cleared.\n%d tables deleted.\n", n)}
		}
		return fail(1, "pfctl: Unknown flush modifier '"+p.flush+"'\n")
	case p.file != "":
		if p.anchor == "" {
			forbidMain()
			return outcome{stderr: pfMainFlushWarning + "\n" + pfALTQBanner}
		}
		return m.pfLoad(pf, p)
	case p.show != "":
		return m.pfShow(pf, p)
	}
	return fail(1, "usage: pfctl [-AdeghmNnOqRrvz] ...\n")
}

// setAnchor stores a, dropping anchors left with nothing in them.
func (pf *PFState) setAnchor(name string, a PFAnchor) {
	if len(a.Rules) == 0 && len(a.Tables) == 0 {
		delete(pf.Anchors, name)
		return
	}
	if pf.Anchors == nil {
		pf.Anchors = map[string]PFAnchor{}
	}
	pf.Anchors[name] = a
}

// entries counts the table entries of every anchor, against the table-entries limit.
func (pf *PFState) entries() int {
	n := 0
	for _, a := range pf.Anchors {
		for _, e := range a.Tables {
			n += len(e)
		}
	}
	return n
}

func (pf *PFState) limit() int {
	if pf.TableEntriesLimit > 0 {
		return pf.TableEntriesLimit
	}
	return DefaultTableEntriesLimit
}

// pfLoad loads an anchor's ruleset from a file (pfctl -a A -f FILE). A "table <t> ..." line
// defines the table and, as in pf, replaces its contents with the addresses listed in braces
// (none, usually): that is how a reload empties tables, and why firewarden must not define its
// table in the rules.
func (m *Mac) pfLoad(pf *PFState, p pfArgs) outcome {
	if p.file == "-" {
		return fail(1, "pfctl: the emulator has no stdin; pass a file\n")
	}
	data, err := m.root.ReadFile(p.file)
	if err != nil {
		return fail(1, fmt.Sprintf("pfctl: %s: No such file or directory\n", p.file))
	}
	a := pf.Anchors[p.anchor]
	a.Rules = nil
	tables := maps.Clone(a.Tables)
	for n, line := range strings.Split(string(data), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.Join(strings.Fields(line), " ")
		if line == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "table <"); ok {
			name, after, ok := strings.Cut(rest, ">")
			if !ok || name == "" {
				return fail(1, fmt.Sprintf("%s:%d: syntax error\n", p.file, n+1))
			}
			var list []string
			if open := strings.IndexByte(after, '{'); open >= 0 {
				body, _, _ := strings.Cut(after[open+1:], "}")
				for _, f := range strings.FieldsFunc(body, func(r rune) bool { return r == ',' || r == ' ' }) {
					e, ok := pfEntry(f)
					if !ok {
						return fail(1, fmt.Sprintf("%s:%d: cannot decode %s\n", p.file, n+1, f))
					}
					list = append(list, e)
				}
			}
			if tables == nil {
				tables = map[string][]string{}
			}
			tables[name] = sortedUnique(list)
			continue
		}
		if !strings.HasPrefix(line, "block") && !strings.HasPrefix(line, "pass") && !strings.HasPrefix(line, "anchor") {
			return fail(1, fmt.Sprintf("%s:%d: syntax error\n", p.file, n+1))
		}
		a.Rules = append(a.Rules, line)
	}
	a.Tables = tables
	pf.setAnchor(p.anchor, a)
	return outcome{stderr: pfALTQBanner}
}

// pfShow answers pfctl -s.
func (m *Mac) pfShow(pf *PFState, p pfArgs) outcome {
	switch strings.ToLower(p.show) {
	case "info", "i":
		// BSD layout of the first line (opnsense/core#1578); the macOS wording is unverified.
		state := "Disabled"
		if pf.Running {
			state = "Enabled"
		}
		return ok(fmt.Sprintf("Status: %s for 0 days 00:00:00           Debug: Urgent\n\nState Table                          Total             Rate\n  current entries                        0\n", state))
	case "memory", "m":
		// pfctl_show_limits: "%-13s " then "hard limit %8u".
		var b strings.Builder
		for _, l := range []struct {
			name string
			n    int
		}{{"states", 10000}, {"app-states", 10000}, {"src-nodes", 10000}, {"frags", 5000}, {"tables", 1000}, {"table-entries", pf.limit()}} {
			fmt.Fprintf(&b, "%-13s hard limit %8d\n", l.name, l.n)
		}
		return ok(b.String())
	case "rules", "r":
		if p.anchor == "" {
			// pfctl prints the stock pf.conf's filter anchor as `anchor "com.apple/*" all`.
			if pf.NoComApple {
				return ok("")
			}
			return ok("anchor \"com.apple/*\" all\n")
		}
		a := pf.Anchors[p.anchor]
		var b strings.Builder
		for _, r := range a.Rules {
			b.WriteString(r + "\n")
		}
		return ok(b.String())
	case "tables", "t":
		a := pf.Anchors[p.anchor]
		var b strings.Builder
		for _, t := range slices.Sorted(maps.Keys(a.Tables)) {
			b.WriteString(t + "\n")
		}
		return ok(b.String())
	case "anchors", "a":
		var b strings.Builder
		for _, name := range slices.Sorted(maps.Keys(pf.Anchors)) {
			b.WriteString("  " + name + "\n")
		}
		return ok(b.String())
	}
	return fail(1, "pfctl: Unknown show modifier '"+p.show+"'\n")
}

// pfTable answers pfctl -t TABLE -T COMMAND.
func (m *Mac) pfTable(pf *PFState, p pfArgs) outcome {
	if p.table == "" {
		return fail(1, "pfctl: -T needs -t\n")
	}
	a := pf.Anchors[p.anchor]
	cur, exists := a.Tables[p.table]
	load := func() ([]string, *outcome) {
		raw := slices.Clone(p.addrs)
		if p.file != "" {
			data, err := m.root.ReadFile(p.file)
			if err != nil {
				o := fail(1, fmt.Sprintf("pfctl: cannot load %s: No such file or directory\n", p.file))
				return nil, &o
			}
			for _, line := range strings.Split(string(data), "\n") {
				if i := strings.IndexByte(line, '#'); i >= 0 {
					line = line[:i]
				}
				raw = append(raw, strings.Fields(line)...)
			}
		}
		var out []string
		for _, r := range raw {
			e, ok := pfEntry(r)
			if !ok {
				o := fail(1, fmt.Sprintf("pfctl: cannot decode %s: Invalid argument\n", r))
				if strings.ContainsRune(r, '/') {
					// a prefix with host bits set: the kernel's pfr_validate_addr says EINVAL
					o = fail(1, pfInvalidArgument)
				}
				return nil, &o
			}
			out = append(out, e)
		}
		return out, nil
	}
	put := func(list []string) {
		if a.Tables == nil {
			a.Tables = map[string][]string{}
		}
		a.Tables[p.table] = list
		pf.setAnchor(p.anchor, a)
	}
	created := ""
	if !exists {
		created = "1 table created.\n"
	}
	switch p.tcmd {
	case "show":
		if !exists {
			return fail(1, pfNoTable)
		}
		var b strings.Builder
		for _, e := range cur {
			b.WriteString("   " + e + "\n")
		}
		return ok(b.String())
	case "add":
		in, bad := load()
		if bad != nil {
			return *bad
		}
		set := toSet(cur)
		var added []string
		for _, e := range in {
			if _, dup := set[e]; !dup {
				set[e] = struct{}{}
				added = append(added, e)
			}
		}
		if pf.entries()+len(added) > pf.limit() {
			return fail(1, created+pfNoMemory)
		}
		put(sortedUnique(append(slices.Clone(cur), added...)))
		return outcome{stderr: created + fmt.Sprintf("%d/%d addresses added.\n", len(added), len(in))}
	case "delete":
		if !exists {
			return fail(1, pfNoTable)
		}
		in, bad := load()
		if bad != nil {
			return *bad
		}
		del := toSet(in)
		var keep []string
		for _, e := range cur {
			if _, gone := del[e]; !gone {
				keep = append(keep, e)
			}
		}
		put(keep)
		return outcome{stderr: fmt.Sprintf("%d/%d addresses deleted.\n", len(cur)-len(keep), len(in))}
	case "replace":
		in, bad := load()
		if bad != nil {
			return *bad
		}
		next := sortedUnique(in)
		if pf.entries()-len(cur)+len(next) > pf.limit() {
			return fail(1, created+pfNoMemory)
		}
		old, nw := toSet(cur), toSet(next)
		nadd, ndel := 0, 0
		for e := range nw {
			if _, ok := old[e]; !ok {
				nadd++
			}
		}
		for e := range old {
			if _, ok := nw[e]; !ok {
				ndel++
			}
		}
		put(next)
		out := created
		if nadd > 0 {
			out += fmt.Sprintf("%d addresses added.\n", nadd)
		}
		if ndel > 0 {
			out += fmt.Sprintf("%d addresses deleted.\n", ndel)
		}
		if nadd == 0 && ndel == 0 {
			out += "no changes.\n"
		}
		return outcome{stderr: out}
	case "flush":
		if !exists {
			return fail(1, pfNoTable)
		}
		put(nil)
		return outcome{stderr: fmt.Sprintf("%d addresses deleted.\n", len(cur))}
	case "kill":
		if !exists {
			return fail(1, pfNoTable)
		}
		delete(a.Tables, p.table)
		pf.setAnchor(p.anchor, a)
		return outcome{stderr: "1 table deleted.\n"}
	}
	return fail(1, fmt.Sprintf("pfctl: pfctl_table: unknown command '%s'\n", p.tcmd))
}

// pfEntry parses one table entry the way pfctl prints it back: an address, or a prefix whose
// host bits are zero (a host-length prefix prints as the bare address).
func pfEntry(s string) (string, bool) {
	if !strings.ContainsRune(s, '/') {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return "", false
		}
		return a.Unmap().String(), true
	}
	pr, err := netip.ParsePrefix(s)
	if err != nil || pr.Masked() != pr {
		return "", false
	}
	if pr.Addr().Is4In6() {
		return "", false
	}
	if pr.IsSingleIP() {
		return pr.Addr().String(), true
	}
	return pr.String(), true
}

func toSet(list []string) map[string]struct{} {
	s := make(map[string]struct{}, len(list))
	for _, e := range list {
		s[e] = struct{}{}
	}
	return s
}

func sortedUnique(list []string) []string {
	out := slices.Clone(list)
	slices.Sort(out)
	return slices.Compact(out)
}

// pfctlWrites reports whether a pfctl argv changes anything.
func pfctlWrites(args []string) bool {
	p, err := parsePfctlArgs(args)
	if err != nil {
		return false
	}
	if p.tcmd != "" {
		return p.tcmd != "show" && p.tcmd != "test"
	}
	return p.enableRef || p.enable || p.disable || p.release != "" || p.flush != "" || p.file != ""
}
