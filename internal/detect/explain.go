package detect

import (
	"fmt"
	"strings"

	"github.com/firewarden/firewarden/internal/detect/event"
)

// KnownField reports whether firewarden fills the named field for rules.
func KnownField(name string) bool {
	for _, f := range FieldNames {
		if f.Name == name {
			return true
		}
	}
	return false
}

// Match is one rule matching one command of an event, for rule authors.
type Match struct {
	Rule    *Rule
	Command Command
}

// Summary shows the command and the fields firewarden derived from it.
func (m Match) Summary() string {
	c := &m.Command
	parts := []string{"Tool=" + c.Tool}
	add := func(name string, vals ...string) {
		var kept []string
		for _, v := range vals {
			if v != "" {
				kept = append(kept, v)
			}
		}
		if len(kept) > 0 {
			parts = append(parts, fmt.Sprintf("%s=%s", name, strings.Join(kept, ",")))
		}
	}
	add("Action", c.Actions...)
	add("App", c.Apps...)
	add("PfFile", c.PfFile)
	add("PfAnchor", c.PfAnchor)
	add("PfTable", c.PfTable)
	add("PlistDomain", c.PlistDomain)
	add("PlistSet", c.PlistSet...)
	add("PlistDelete", c.PlistDelete...)
	add("Target", c.Targets...)
	add("Via", c.Via...)
	return fmt.Sprintf("%q (%s)", strings.Join(c.Argv, " "), strings.Join(parts, " "))
}

// Explain evaluates the rules of rs whose logsource selects ev, without allow-listing or
// folding, and returns the matches.
func Explain(rs *Ruleset, ev *event.Event) []Match {
	var out []Match
	cls := classesOf(ev)
	cmds := Analyse(ev)
	for i := range cmds {
		v := view{ev: ev, cmd: &cmds[i]}
		for _, r := range rs.Rules {
			if r.evaluated&cls != 0 && r.Match(&v) {
				out = append(out, Match{r, cloneCommand(&cmds[i])})
			}
		}
	}
	return out
}
