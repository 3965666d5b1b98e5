package rules

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ipfwScriptTests are sh scripts of ipfw commands: the rule numbers they load, the notes that
// make verdicts on them conditional ("NAME:LINE: …"), or the error they are refused with.
var ipfwScriptTests = []struct {
	name   string
	script string
	nums   []int
	notes  []string
	err    string
}{
	{name: "handbook cmd variable",
		script: "cmd=\"ipfw -q add\"\n$cmd 00500 check-state\n$cmd 00600 allow tcp from any to any 22 in setup\n",
		nums:   []int{500, 600}},
	{name: "braced fw variable with flags",
		script: "fw=\"/sbin/ipfw\"\n${fw} add deny ip from 10.0.0.0/8 to any in\n$fw -q add 300 allow ip from any to any\n",
		nums:   []int{100, 300}},
	{name: "single quotes and export",
		script: "export IPFW='/sbin/ipfw -q'\n$IPFW add 100 allow ip from any to any via lo0\n",
		nums:   []int{100}},
	{name: "variable inside a rule",
		script: "oif=em0\nnet='10.0.0.0/8'\nipfw add 100 deny ip from $net to any in via ${oif}\n",
		nums:   []int{100}},
	{name: "flush resets the set",
		script: "ipfw add 100 deny ip from any to any\nipfw -q -f flush\nipfw add allow ip from any to any\n",
		nums:   []int{100}},
	{name: "unnumbered follows the highest",
		script: "ipfw add 1000 allow ip from any to any via lo0\nipfw add 200 deny ip from 127.0.0.0/8 to any\nipfw add deny ip from any to any\n",
		nums:   []int{200, 1000, 1100}},
	{name: "unnumbered near the top stays below 65535",
		script: "ipfw add 65000 allow ip from any to any via lo0\nipfw add deny tcp from any to any 22\nipfw add deny ip from any to any\nipfw add allow ip from any to any\n",
		nums:   []int{65000, 65100, 65200, 65300}},
	{name: "unnumbered at the cap repeats the highest",
		script: "ipfw add 65500 allow ip from any to any via lo0\nipfw add deny tcp from any to any 22\nipfw add deny ip from any to any\n",
		nums:   []int{65500, 65500, 65500}},
	{name: "if on a variable nobody set is refused",
		script: "fw=ipfw\nif [ -n \"$x\" ]; then\n  $fw add 100 deny ip from any to any\nfi\n$fw add 200 allow ip from any to any\n",
		err:    "s.sh:2: x is not set: assign it in the script, or give --set x=VALUE"},
	{name: "command substitution only in unused assignments",
		script: "ipfw add 100 deny ip from any to any\nme=`hostname`\nip=$(ifconfig em0)\n",
		nums:   []int{100}},
	{name: "other constructs are not modelled",
		script: "ipfw add 100 deny ip from any to any\nipfw list | grep x\nsysctl net.inet.ip.fw.enable=1\nipfw table 1 add 10.0.0.1\n",
		nums:   []int{100},
		notes:  []string{"s.sh:2: not modelled: pipeline ipfw | grep", "s.sh:3: not modelled: sysctl net.inet.ip.fw.enable=1 (a kernel setting)"}},
	{name: "unset variable",
		script: "$cmd 00500 check-state\n",
		err:    "s.sh:1: cmd is not set"},
	{name: "unset braced variable",
		script: "fw=ipfw\n${fw} add 100 deny ip from ${net} to any\n",
		err:    "s.sh:2: net is not set"},
	{name: "only not-modelled lines",
		script: "if true; then\nfi\n",
		err:    "s.sh: no ipfw rule found"},
	{name: "flush only",
		script: "ipfw -q -f flush\n",
		err:    "s.sh: no ipfw rule found"},
	{name: "no word splitting in an assignment",
		script: "fw=\"ipfw -q\"\ncmd=$fw\nexport c2=$fw\n$cmd add 100 deny ip from any to any\n$c2 add allow ip from any to any\n",
		nums:   []int{100, 200}},
	{name: "file for ipfw pathname",
		script: "-q flush\nadd 100 deny ip from any to any\n-q add allow ip from any to any\nflush\nadd 300 deny ip from any to any\n",
		nums:   []int{300}},
	{name: "truly empty", script: "# nothing\n\n"},
}

func TestIPFWScript(t *testing.T) {
	for _, tt := range ipfwScriptTests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := ParseIPFW([]byte(tt.script), "s.sh", builtinServices)
			if tt.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
					t.Fatalf("ParseIPFW() error = %v, want %s…", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseIPFW() error = %v", err)
			}
			var nums []int
			for _, r := range rs.Rules {
				nums = append(nums, r.Num)
			}
			if diff := cmp.Diff(tt.nums, nums); diff != "" {
				t.Errorf("rule numbers (-want +got):\n%s", diff)
			}
			var notes []string
			for _, n := range rs.Notes {
				notes = append(notes, n.String())
			}
			if diff := cmp.Diff(tt.notes, notes); diff != "" {
				t.Errorf("notes (-want +got):\n%s", diff)
			}
		})
	}
}

// The Handbook idiom: every rule is loaded, and the verdicts are those of the rules, not of
// the default rule 65535 of an empty set.
func TestIPFWScriptVerdicts(t *testing.T) {
	rs := loadIPFW(t, "handbook-cmd.sh")
	rs.Compile()
	tests := []struct {
		packet string
		action Action
		where  string
	}{
		{"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via em0 setup", Allow, "00300"},
		{"tcp 203.0.113.5:51234 -> 192.0.2.10:80 in via em0 setup", Deny, "00500"},
		{"tcp 192.0.2.10:50000 -> 198.51.100.7:443 out via em0 setup", Allow, "00400"},
		{"tcp 198.51.100.7:443 -> 192.0.2.10:50000 in via em0 established", Allow, "00200"},
	}
	for _, tt := range tests {
		p := pkt(t, tt.packet)
		v := rs.Eval(&p)
		if v.Action != tt.action || v.Where != tt.where {
			t.Errorf("Eval(%s) = %s at %s, want %s at %s", tt.packet, v.Action, v.Where, tt.action, tt.where)
		}
	}
}

// Golden --explain traces of the Handbook idiom (-update rewrites).
func TestIPFWScriptExplainGolden(t *testing.T) {
	rs := loadIPFW(t, "handbook-cmd.sh")
	var b strings.Builder
	for _, n := range rs.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	for _, s := range []string{
		"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via em0 setup",
		"tcp 203.0.113.5:51234 -> 192.0.2.10:80 in via em0 setup",
	} {
		p := pkt(t, s)
		v, steps := rs.Explain(&p)
		fmt.Fprintf(&b, "%s: %s by rule %s (%s)\n", p, v.Action, v.Where, v.Text)
		for _, st := range steps {
			fmt.Fprintf(&b, "  %-5v %s %-50s %s\n", st.Matched, st.Where, st.Text, st.Why)
		}
	}
	checkGolden(t, "testdata/ipfw/script-explain.golden", b.String(), "explain traces")
}

func FuzzExpandScript(f *testing.F) {
	for _, tt := range ipfwScriptTests {
		f.Add(tt.script)
	}
	for _, tt := range ipfwFlowTests {
		f.Add(tt.script)
	}
	if p := corpusFile(rcFirewallRel); p != "" {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(string(data))
		}
	}
	for _, name := range []string{"handbook-cmd.sh", "script.sh"} {
		data, err := os.ReadFile(filepath.Join("testdata", "ipfw", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	f.Fuzz(func(t *testing.T, script string) {
		rs, err := ParseIPFW([]byte(script), "s.sh", builtinServices)
		if err != nil {
			return
		}
		for _, r := range rs.Rules {
			if r.Num < 1 || r.Num > 65535 {
				t.Fatalf("ParseIPFW(%q): rule number %d out of range", script, r.Num)
			}
		}
		for _, n := range rs.Notes {
			if n.Line < 1 || n.File != "s.sh" || n.Text == "" {
				t.Fatalf("ParseIPFW(%q): note %+v", script, n)
			}
		}
		if err := rs.CompileContext(context.Background()); err != nil {
			t.Fatalf("Compile after ParseIPFW(%q): %v", script, err)
		}
	})
}
