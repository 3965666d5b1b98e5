package cli

import (
	"flag"
	"strings"

	"github.com/firewarden/firewarden/internal/rules"
)

// Certainty of `rules eval` and `rules lint` answers: "exact", or "conditional" with the
// reasons (an unsure rule the verdict rests on, a packet field not given and assumed, a line of
// the rule set not modelled). --strict turns any reason into exit 2.
const (
	certaintyExact       = "exact"
	certaintyConditional = "conditional"
)

// certaintyReason is one thing an answer rests on that neither the rule set nor the packet
// decides, and what would make the answer exact (for --strict's error).
type certaintyReason struct{ text, fix string }

// lintDoc is the --json document of `rules lint`: the findings, and what they rest on.
type lintDoc struct {
	Findings    []rules.Finding `json:"findings"`
	Certainty   string          `json:"certainty"`
	Conditional []string        `json:"conditional,omitempty"` // the rule set's notes
}

// verdictReasons lists what verdict v for packet p, given as spec, rests on beyond the rule set's
// notes: the unsure rule it depends on, then the fields the packet leaves out that the rule set
// looks at. ipfw is the rule set when it is one, and given says --default was given.
func verdictReasons(v rules.Verdict, spec string, p *rules.Packet, rs ruleset, ipfw *rules.IPFWRuleset, given bool) []certaintyReason {
	var out []certaintyReason
	if v.Unsure != "" {
		out = append(out, certaintyReason{v.Unsure, "nothing in the packet can: the rule set leaves it open (run without --strict to see the conditional verdict)"})
	}
	if p.Proto == rules.ProtoTCP && !p.Reply && !specGives(spec, "setup", "established", "flags") {
		out = append(out, certaintyReason{"assumed established (an ACK), since the packet gives no TCP flags",
			"add setup, established or flags LETTERS (such as flags S) to the packet"})
	}
	if p.Iface == "" && rs.NamesInterfaces() {
		out = append(out, certaintyReason{"no interface given, while the rule set names interfaces: the packet is taken as on none of them",
			"add via IF to the packet"})
	}
	if (p.Proto == rules.ProtoICMP || p.Proto == rules.ProtoICMPv6) && p.ICMPType < 0 && rs.TestsICMPTypes() {
		out = append(out, certaintyReason{"no ICMP type given, while rules test ICMP types: the packet matches none of them",
			"add type N (and code N) to the packet"})
	}
	if ipfw != nil && v.Rule < 0 && !given && ipfw.DefaultListedAt() == "" {
		out = append(out, certaintyReason{"rule 65535's action is assumed " + ipfw.Default.String() + " (Mac OS X's default; FreeBSD's is deny)",
			"pass --default allow or --default deny"})
	}
	return out
}

// specGives reports whether the packet spec has one of words after its addresses.
func specGives(spec string, words ...string) bool {
	f := strings.Fields(spec)
	for i := 4; i < len(f); i++ {
		for _, w := range words {
			if f[i] == w {
				return true
			}
		}
	}
	return false
}

func noteReason(n rules.Note) certaintyReason {
	return certaintyReason{n.String(), "nothing in the packet can: the rule set has lines the simulator does not model (run without --strict to see them all)"}
}

// strictErr is --strict's one line: what is not exact, the first reason, and how to mend it.
func strictErr(cmd, what string, r certaintyReason) error {
	return usagef("%s --strict: %s: not exact: %s; to make it exact, %s", cmd, what, r.text, r.fix)
}

// defaultGiven reports whether --default was given on the command line.
func defaultGiven(fs *flag.FlagSet) bool {
	given := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "default" {
			given = true
		}
	})
	return given
}
