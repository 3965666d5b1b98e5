package nftposture

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/posture"
)

// Legacy iptables (x_tables: ip_tables, ip6_tables) filters packets on the same netfilter hooks
// as nftables, but its rules are not in the ruleset netlink reads. A host whose iptables points
// at iptables-legacy (Debian's update-alternatives, older Docker and Kubernetes setups) can drop
// what the nftables analysis calls accepted, or reject what it calls dropped. firewarden does not
// model those rules: it finds the tables the kernel holds and, when any of them filters or
// translates anything, says every linux.firewall verdict is conditional and names them.

// legacyFamily is one x_tables family: the kernel's list of its tables and the program that
// lists their rules.
type legacyFamily struct {
	family string // "ip", "ip6": as the nftables families are named
	names  string // /proc file: one instantiated table a line
	save   string // its iptables-save, which reads x_tables only
}

var legacyFamilies = []legacyFamily{
	{"ip", "/proc/net/ip_tables_names", "/usr/sbin/iptables-legacy-save"},
	{"ip6", "/proc/net/ip6_tables_names", "/usr/sbin/ip6tables-legacy-save"},
}

// maxLegacyTables bounds what is read of a names file (the kernel has five x_tables tables).
const maxLegacyTables = 16

// legacy is what was found of legacy iptables in this network namespace.
type legacy struct {
	notes    []string // one per family that filters or translates something, or could not be listed
	evidence []posture.Evidence
}

// readLegacy looks for x_tables tables. The names files are read from the running kernel, not
// under --root: /proc/net is the network namespace of this process, the same one the netlink
// reading sees, and --root moves files, not the kernel. The save programs are found under the
// root, as every program firewarden runs.
func (p *Provider) readLegacy(ctx context.Context) legacy {
	return readLegacy(ctx, p.root, p.opts.Run, p.opts.ReadProc)
}

// LegacyNotes says, one line a family, what legacy iptables tables hold beside the nftables
// ruleset (nothing when they filter nothing): anything verdicts from the nftables analysis alone
// cannot see. run lists their rules; readProc reads /proc (nil: nothing is looked for).
func LegacyNotes(ctx context.Context, root host.Root, run host.Runner, readProc func(string) ([]byte, error)) []string {
	return readLegacy(ctx, root, run, readProc).notes
}

func readLegacy(ctx context.Context, root host.Root, run host.Runner, readProc func(string) ([]byte, error)) legacy {
	var out legacy
	if readProc == nil {
		return out
	}
	for _, f := range legacyFamilies {
		data, err := readProc(f.names)
		if errors.Is(err, fs.ErrNotExist) {
			continue // the module is not loaded: no legacy table exists
		}
		if err != nil {
			out.notes = append(out.notes, fmt.Sprintf("legacy iptables (%s) may hold rules firewarden cannot see: %s: %v", f.family, f.names, err))
			continue
		}
		tables := tableNames(data)
		if len(tables) == 0 {
			continue
		}
		out.evidence = append(out.evidence, posture.FileEvidence(f.names, data, nil))
		if run == nil || !root.Exists(f.save) {
			out.notes = append(out.notes, fmt.Sprintf("legacy iptables tables %s (%s, not nftables) are loaded and firewarden does not read their rules (%s is not installed to list them)",
				strings.Join(tables, ", "), f.family, f.save))
			continue
		}
		cmd := host.Cmd{Path: f.save}
		res, err := run.Run(ctx, cmd)
		if len(res.Argv) == 0 {
			res.Argv = cmd.Argv()
		}
		out.evidence = append(out.evidence, posture.ExecEvidence(res))
		if err != nil || res.Truncated {
			if err == nil {
				err = errors.New("its output is over the cap")
			}
			out.notes = append(out.notes, fmt.Sprintf("legacy iptables tables %s (%s, not nftables) are loaded and could not be listed: %v", strings.Join(tables, ", "), f.family, err))
			continue
		}
		if n := describeLegacy(res.Stdout); n != "" {
			out.notes = append(out.notes, fmt.Sprintf("legacy iptables (%s, not nftables) %s, which firewarden does not read (list them: %s)", f.family, n, f.save))
		}
	}
	return out
}

// tableNames reads a /proc/net/*_tables_names file: one table name a line.
func tableNames(data []byte) []string {
	var out []string
	for line := range strings.Lines(string(data)) {
		name := strings.TrimSpace(line)
		if name == "" || !isTableName(name) || slices.Contains(out, name) {
			continue
		}
		if out = append(out, name); len(out) == maxLegacyTables {
			break
		}
	}
	slices.Sort(out)
	return out
}

// isTableName: x_tables names are short lower-case words (XT_TABLE_MAXNAMELEN is 32).
func isTableName(s string) bool {
	if len(s) > 32 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}

// describeLegacy sums up iptables-save output: the tables that hold rules or a built-in chain
// whose policy is not ACCEPT ("table filter: 3 rules, INPUT policy DROP"), "" when every table is
// empty with ACCEPT policies and so filters nothing.
func describeLegacy(save []byte) string {
	type tbl struct {
		name     string
		rules    int
		policies []string
	}
	var tables []*tbl
	var cur *tbl
	sc := bufio.NewScanner(bytes.NewReader(save))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "*"):
			cur = &tbl{name: clipName(strings.TrimPrefix(line, "*"))}
			tables = append(tables, cur)
		case cur == nil:
		case strings.HasPrefix(line, "-A "):
			cur.rules++
		case strings.HasPrefix(line, ":"):
			// ":INPUT DROP [0:0]"; user chains have policy "-".
			f := strings.Fields(line[1:])
			if len(f) >= 2 && f[1] != "ACCEPT" && f[1] != "-" && len(cur.policies) < 8 {
				cur.policies = append(cur.policies, clipName(f[0])+" policy "+clipName(f[1]))
			}
		}
	}
	if sc.Err() != nil {
		return "printed a line too long to read, so its rules are unknown"
	}
	var parts []string
	for _, t := range tables {
		if t.rules == 0 && len(t.policies) == 0 {
			continue
		}
		var what []string
		if t.rules > 0 {
			what = append(what, plural(t.rules, "rule"))
		}
		what = append(what, t.policies...)
		parts = append(parts, "table "+t.name+": "+strings.Join(what, ", "))
		if len(parts) == maxLegacyTables {
			break
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "holds " + strings.Join(parts, "; ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// clipName keeps a name from the save output printable and short: it is the kernel's, but shown.
func clipName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
	if len(s) > 32 {
		s = s[:32] + "…"
	}
	return s
}
