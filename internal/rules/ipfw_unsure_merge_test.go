package rules

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestIPFWGrammarVerdictUnsure checks that verdicts on the full ipfw grammar say what they rest
// on: options the file and packet cannot decide, unresolved addresses, actions whose outcome is
// not simulated, and the first packet of a flow whose dynamic rule decides a reply; the compiled
// evaluator, in one block and in blocks of one rule, and the reference interpreter agree.
func TestIPFWGrammarVerdictUnsure(t *testing.T) {
	for _, tt := range []struct {
		name, conf, packet string
		want               Action
		unsure             string // the rule the verdict rests on ("" sure); uid, gid and jail are taken as matching
	}{
		{"uid before the deciding rule", "100 deny tcp from any to any 22 uid root\n200 allow ip from any to any\n",
			"tcp 192.0.2.1:5000 -> 192.0.2.2:22 in", Deny, "00100"},
		{"uid on a rule the packet's ports rule out", "100 deny tcp from any to any 22 uid root\n200 allow ip from any to any\n",
			"tcp 192.0.2.1:5000 -> 192.0.2.2:80 in", Allow, ""},
		{"gid", "100 deny ip from any to any gid wheel\n", "udp 192.0.2.1:5000 -> 192.0.2.2:53 out", Deny, "00100"},
		{"jail", "100 allow ip from any to any jail 3\n200 deny ip from any to any\n", "udp 192.0.2.1:5000 -> 192.0.2.2:53 out", Allow, "00100"},
		{"prob", "100 prob 0.5 deny ip from any to any\n", "udp 192.0.2.1:5000 -> 192.0.2.2:53 in", Deny, "00100"},
		{"not verrevpath", "100 deny ip from any to any not verrevpath in\n200 allow ip from any to any\n",
			"udp 192.0.2.1:5000 -> 192.0.2.2:53 in", Allow, "00100"},
		{"antispoof", "100 deny ip from any to any not antispoof in\n", "udp 192.0.2.1:5000 -> 192.0.2.2:53 in", Allow, "00100"},
		{"limit", "100 allow tcp from any to me 22 in setup limit src-addr 2\n200 deny ip from any to any\n",
			"tcp 192.0.2.1:5000 -> 192.0.2.2:22 in setup", Allow, "00100"},
		{"runtime table as a source the packet is not in", "100 deny ip from table(bad) to any\n200 allow ip from any to any\n",
			"udp 192.0.2.1:5000 -> 192.0.2.2:53 in", Allow, "00100"},
		{"host name as a destination", "100 deny tcp from any to foo.example 22\n200 allow ip from any to any\n",
			"tcp 192.0.2.1:5000 -> 192.0.2.2:22 in", Allow, "00100"},
		{"interface table", "100 deny ip from any to any recv table(ifs)\n200 allow ip from any to any\n",
			"udp 192.0.2.1:5000 -> 192.0.2.2:53 in via em0", Allow, "00100"},
		{"divert goes on, but may not", "100 divert 8668 ip from any to any\n200 allow ip from any to any\n",
			"udp 192.0.2.1:5000 -> 192.0.2.2:53 in", Allow, "00100"},
		{"count with uid goes on for certain", "100 count ip from any to any uid root\n200 allow ip from any to any\n",
			"udp 192.0.2.1:5000 -> 192.0.2.2:53 in", Allow, ""},
		{"a UDP reply on the dynamic rule of an unsure opener",
			"100 check-state\n200 allow udp from me to any 53 out uid root keep-state\n300 deny ip from any to any\n",
			"udp 192.0.2.2:53 -> 192.0.2.1:5000 in reply", Allow, "00200"},
		{"a TCP reply on the dynamic rule of a sure opener",
			"100 check-state\n200 allow tcp from me to any 443 out setup keep-state\n300 deny ip from any to any\n",
			"tcp 192.0.2.2:443 -> 192.0.2.1:5000 in established", Allow, ""},
		{"a reply whose opener an unsure rule may stop",
			"50 deny udp from any to any 53 out uid nobody\n100 check-state\n200 allow udp from me to any 53 out keep-state\n300 deny ip from any to any\n",
			"udp 192.0.2.2:53 -> 192.0.2.1:5000 in reply", Deny, "00050"},
		{"called rules", "100 call 1000 ip from any to any\n200 allow ip from any to any\n1000 deny tcp from any to any 22 uid root\n1010 return ip from any to any\n",
			"tcp 192.0.2.1:5000 -> 192.0.2.2:22 in", Deny, "01000"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := ParseIPFW([]byte(tt.conf), "rules", builtinServices)
			if err != nil {
				t.Fatalf("ParseIPFW: %v", err)
			}
			p, err := ParsePacket(tt.packet)
			if err != nil {
				t.Fatalf("ParsePacket(%q): %v", tt.packet, err)
			}
			want := rs.evalReference(&p, nil, 0)
			where, _, _ := strings.Cut(want.Unsure, ":")
			if want.Action != tt.want || where != tt.unsure {
				t.Errorf("evalReference(%s) = %s resting on %q, want %s resting on %q", tt.packet, want.Action, want.Unsure, tt.want, tt.unsure)
			}
			for _, size := range []int{ipfwBlockRules, 1} {
				small := *rs
				if small.comp, err = rs.compile(context.Background(), size); err != nil {
					t.Fatal(err)
				}
				if got := small.Eval(&p); got != want {
					t.Errorf("Eval(%s) in blocks of %d = %+v, want %+v", tt.packet, size, got, want)
				}
			}
		})
	}
}

// TestIPFWLintUnsureCatchAll checks that a catch-all made unsure by an option the simulator
// assumes, rather than by its unsure list alone, keeps lint from saying nothing denies at the end.
func TestIPFWLintUnsureCatchAll(t *testing.T) {
	kinds := func(fs []Finding) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.Kind)
		}
		return out
	}
	for _, tt := range []struct {
		name, conf string
		want       []string
	}{
		{"sure catch-all", "100 allow ip from any to any via lo0\n200 deny ip from any to any\n", nil},
		{"catch-all on a uid", "100 allow ip from any to any via lo0\n200 deny ip from any to any uid root\n", nil},
		{"no catch-all", "100 allow ip from any to any via lo0\n200 deny tcp from any to any 22\n", []string{"no-final-deny"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := ParseIPFW([]byte(tt.conf), "rules", builtinServices)
			if err != nil {
				t.Fatalf("ParseIPFW: %v", err)
			}
			for name, got := range map[string][]Finding{"Lint": rs.Lint(LintOptions{}), "lintReference": rs.lintReference(LintOptions{})} {
				if diff := cmp.Diff(tt.want, kinds(got)); diff != "" {
					t.Errorf("%s(%q) (-want +got):\n%s", name, tt.conf, diff)
				}
			}
		})
	}
}

// TestIPFWUnsureEvalNoAllocs checks that conditional verdicts of the full grammar cost no
// allocation: through the interpreter (a rule set with call and return), and on a dynamic rule
// whose first packet passed an unsure rule.
func TestIPFWUnsureEvalNoAllocs(t *testing.T) {
	for _, tt := range []struct{ set, packet string }{
		{"100 call 1000 ip from any to any\n200 allow ip from any to any\n1000 deny tcp from any to any 22 uid root\n1010 return ip from any to any\n",
			"tcp 192.0.2.1:5000 -> 192.0.2.2:22 in"},
		{"100 check-state\n200 allow udp from me to any 53 out uid root keep-state\n300 deny ip from any to any\n",
			"udp 192.0.2.2:53 -> 192.0.2.1:5000 in reply"},
	} {
		rs, err := ParseIPFW([]byte(tt.set), "rules", builtinServices)
		if err != nil {
			t.Fatalf("ParseIPFW: %v", err)
		}
		rs.Compile()
		p, err := ParsePacket(tt.packet)
		if err != nil {
			t.Fatalf("ParsePacket(%q): %v", tt.packet, err)
		}
		if v := rs.Eval(&p); v.Unsure == "" {
			t.Errorf("Eval(%s) = %+v, want a conditional verdict", tt.packet, v)
		}
		if n := testing.AllocsPerRun(100, func() { rs.Eval(&p) }); n != 0 {
			t.Errorf("Eval(%s) allocates %v times, want 0", tt.packet, n)
		}
	}
}
