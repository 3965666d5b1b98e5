package rules

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// ipfwTableRef is a table an address names: table(NAME) or table(NAME,VALUE).
type ipfwTableRef struct {
	name     string
	value    string
	hasValue bool
}

// ipfwTable is what a file puts in a table with `ipfw table N add …`.
type ipfwTable struct {
	entries []ipfwTableEntry
	filled  bool // an add ran: the file says what the table holds
}

type ipfwTableEntry struct {
	prefix netip.Prefix
	value  string
}

// ipfwFileState is what the statements of a file other than rules set up: tables, disabled
// sets, one_pass. The rules read it once the whole file is read (finishIPFW), as the kernel
// reads tables and sets when a packet comes, after the script has run.
type ipfwFileState struct {
	tables      map[string]*ipfwTable
	disabled    [32]bool
	onePassOff  bool
	onePassSaid bool // the file sets one_pass (ipfw enable/disable one_pass)
}

func (rs *IPFWRuleset) fileState() *ipfwFileState {
	if rs.file == nil {
		rs.file = &ipfwFileState{tables: map[string]*ipfwTable{}}
	}
	return rs.file
}

// tableName makes "01" and "1" the same table.
func tableName(s string) string {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return strconv.Itoa(n)
	}
	return s
}

// statement runs an ipfw subcommand other than add and flush: table, set, nat, pipe, queue,
// sched, delete, enable, disable. What it does not model becomes a note.
func (rs *IPFWRuleset) statement(sub string, args []string, file string, line int) error {
	st := rs.fileState()
	note := func(text string) { rs.Notes = append(rs.Notes, Note{file, line, "not modelled: " + text}) }
	cmd := strings.TrimSpace(sub + " " + strings.Join(args, " "))
	switch sub {
	case "table":
		return rs.tableStatement(args, note)
	case "set":
		return rs.setStatement(args, note)
	case "nat":
		if len(args) >= 2 && args[1] == "config" {
			note("ipfw " + cmd + " (address translation is not simulated: rules see packets untranslated)")
			return nil
		}
		if len(args) >= 1 && (args[0] == "show" || args[0] == "list") || len(args) >= 2 && (args[1] == "show" || args[1] == "delete") {
			return nil
		}
		note("ipfw " + cmd)
	case "pipe", "queue", "sched":
		// Bandwidth, delay and queue sizes shape traffic but do not decide it; random loss does.
		if slices.Contains(args, "plr") {
			note("ipfw " + cmd + " (plr: random packet loss)")
		}
	case "delete":
		if len(args) >= 2 && args[0] == "set" {
			n, err := strconv.Atoi(args[1])
			if err != nil || n < 0 || n > 31 {
				return fmt.Errorf("delete set needs a set number 0-31")
			}
			rs.Rules = slices.DeleteFunc(rs.Rules, func(r IPFWRule) bool { return int(r.Set) == n })
			return nil
		}
		for _, a := range args {
			n, err := strconv.Atoi(a)
			if err != nil || n < 1 || n > 65535 {
				return fmt.Errorf("delete needs rule numbers 1-65535, got %q", a)
			}
			rs.Rules = slices.DeleteFunc(rs.Rules, func(r IPFWRule) bool { return r.Num == n })
		}
	case "enable", "disable":
		if len(args) == 0 {
			return fmt.Errorf("%s needs what: firewall, one_pass …", sub)
		}
		switch args[0] {
		case "one_pass":
			st.onePassOff, st.onePassSaid = sub == "disable", true
		case "firewall":
			if sub == "disable" {
				note("ipfw disable firewall (with the firewall off every packet passes)")
			}
		case "altq", "debug", "verbose", "dyn_keepalive", "skipto_cache":
			// No effect on what passes.
		default:
			note("ipfw " + cmd)
		}
	}
	return nil
}

func (rs *IPFWRuleset) tableStatement(args []string, note func(string)) error {
	st := rs.file
	if len(args) < 2 {
		return fmt.Errorf("table needs a name and a command (add, delete, flush, create …)")
	}
	name, verb, rest := tableName(args[0]), args[1], args[2:]
	if name == "all" {
		switch verb {
		case "flush", "destroy":
			for _, t := range st.tables {
				t.entries = nil
			}
		case "list", "info", "detail":
		default:
			note("ipfw table all " + verb)
		}
		return nil
	}
	t := st.tables[name]
	if t == nil {
		t = &ipfwTable{}
		st.tables[name] = t
	}
	switch verb {
	case "add", "atomic":
		if verb == "atomic" {
			if len(rest) == 0 || rest[0] != "add" {
				return fmt.Errorf("table %s atomic needs add", name)
			}
			rest = rest[1:]
		}
		t.filled = true
		for i := 0; i < len(rest); i++ {
			p, err := parsePrefix(rest[i])
			if err != nil {
				// Interface names, ports and flows (tables of other types) are not addresses:
				// the table's entries then stay out of the model.
				note(fmt.Sprintf("ipfw table %s add %s (not an address: only address tables are simulated)", name, rest[i]))
				t.filled = false
				return nil
			}
			e := ipfwTableEntry{prefix: p}
			if i+1 < len(rest) {
				if _, err := parsePrefix(rest[i+1]); err != nil {
					e.value = rest[i+1]
					i++
				}
			}
			t.entries = append(t.entries, e)
		}
	case "delete", "del":
		for _, a := range rest {
			p, err := parsePrefix(a)
			if err != nil {
				continue
			}
			t.entries = slices.DeleteFunc(t.entries, func(e ipfwTableEntry) bool { return e.prefix == p })
		}
	case "flush":
		t.entries = nil
	case "destroy":
		delete(st.tables, name)
	case "create", "modify", "lock", "unlock", "list", "info", "detail", "lookup":
		// Type, value type and limits of a table do not change what its addresses match.
	case "swap":
		if len(rest) != 1 {
			return fmt.Errorf("table %s swap needs another table", name)
		}
		o := tableName(rest[0])
		if st.tables[o] == nil {
			st.tables[o] = &ipfwTable{}
		}
		st.tables[name], st.tables[o] = st.tables[o], st.tables[name]
	default:
		note("ipfw table " + strings.Join(args, " "))
	}
	return nil
}

func (rs *IPFWRuleset) setStatement(args []string, note func(string)) error {
	st := rs.file
	setNum := func(s string) (int, error) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 31 {
			return 0, fmt.Errorf("set %q: want a set number 0-31", s)
		}
		return n, nil
	}
	if len(args) == 0 {
		return fmt.Errorf("set needs a command: enable, disable, swap, move, show")
	}
	switch args[0] {
	case "show":
	case "enable", "disable":
		// `set disable 1 2 enable 3`: each word switches what the numbers after it do.
		off := args[0] == "disable"
		for _, a := range args[1:] {
			switch a {
			case "enable", "disable":
				off = a == "disable"
				continue
			}
			n, err := setNum(a)
			if err != nil {
				return err
			}
			st.disabled[n] = off
		}
	case "swap", "move":
		rest := args[1:]
		rule := false
		if len(rest) > 0 && rest[0] == "rule" {
			rule, rest = true, rest[1:]
		}
		if len(rest) != 3 && !(args[0] == "swap" && len(rest) == 2) {
			return fmt.Errorf("set %s needs two sets (set swap A B, set move [rule] A to B)", args[0])
		}
		to := rest[len(rest)-1]
		b, err := setNum(to)
		if err != nil {
			return err
		}
		if rule {
			n, err := strconv.Atoi(rest[0])
			if err != nil {
				return fmt.Errorf("set move rule needs a rule number")
			}
			for i := range rs.Rules {
				if rs.Rules[i].Num == n {
					rs.Rules[i].Set = uint8(b)
				}
			}
			return nil
		}
		a, err := setNum(rest[0])
		if err != nil {
			return err
		}
		// Rules change sets; which sets are enabled stays (the kernel's set_disable mask is by
		// set number).
		for i := range rs.Rules {
			switch {
			case int(rs.Rules[i].Set) == a:
				rs.Rules[i].Set = uint8(b)
			case args[0] == "swap" && int(rs.Rules[i].Set) == b:
				rs.Rules[i].Set = uint8(a)
			}
		}
	default:
		note("ipfw set " + strings.Join(args, " "))
	}
	return nil
}

// finishIPFW applies the file's statements to its rules once all are read: tables the file
// fills become addresses, rules in disabled sets leave the evaluation (each said in a note), and
// pipe, queue and nat follow one_pass.
func (rs *IPFWRuleset) finishIPFW(file string) {
	st := rs.fileState()
	kept := rs.Rules[:0]
	for _, r := range rs.Rules {
		if st.disabled[r.Set] && r.Set != 31 {
			rs.Notes = append(rs.Notes, Note{file, r.Line, fmt.Sprintf("not modelled: rule %s is in disabled set %d (ipfw set enable %d would apply it)", r.Where(), r.Set, r.Set)})
			continue
		}
		kept = append(kept, r)
	}
	rs.Rules = kept
	for i := range rs.Rules {
		r := &rs.Rules[i]
		rs.resolveTables(r, &r.Src)
		rs.resolveTables(r, &r.Dst)
		for k := range r.Conds {
			rs.resolveTables(r, &r.Conds[k].addr)
		}
		if r.onePass {
			if st.onePassOff {
				r.Kind = ipfwCount
			} else {
				r.Kind = ipfwDecide
				if !st.onePassSaid {
					r.unsure = append(r.unsure, r.verb+": net.inet.ip.fw.one_pass is taken as 1 (the default): the packet is accepted after the "+r.verb+"; with 0 it goes on at the next rule")
				}
			}
		}
	}
}

// resolveTables puts the addresses of the tables a names into its prefixes. A table the file
// never fills is filled at run time: the address is taken as not in it, and the rule says so.
func (rs *IPFWRuleset) resolveTables(r *IPFWRule, a *ipfwAddr) {
	for _, ref := range a.tables {
		t := rs.file.tables[ref.name]
		if t == nil || !t.filled {
			r.unsure = append(r.unsure, fmt.Sprintf("table(%s): filled at run time (the file adds nothing to it); the address is taken as not in it", ref.name))
			a.unknown = true
			continue
		}
		for _, e := range t.entries {
			if !ref.hasValue || e.value == ref.value {
				a.Prefixes = append(a.Prefixes, e.prefix)
			}
		}
	}
	a.tables = nil
}
