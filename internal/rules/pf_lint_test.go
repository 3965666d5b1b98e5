package rules

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type pfLintWant struct {
	Kind  string
	Rules []string
}

func pfLintKinds(fs []Finding) []pfLintWant {
	out := []pfLintWant{}
	for _, f := range fs {
		out = append(out, pfLintWant{f.Kind, f.Rules})
	}
	return out
}

func TestPFLint(t *testing.T) {
	tests := []struct {
		name string
		conf string
		want []pfLintWant
	}{
		{
			name: "clean",
			conf: "block in all\npass out all\npass in proto tcp to port 22\n",
			want: []pfLintWant{},
		},
		{
			name: "redundant: a later rule with the same action covers it",
			conf: "block in all\npass in proto tcp to port 22\npass in proto tcp\n",
			want: []pfLintWant{{"redundant", []string{"t.conf:2", "t.conf:3"}}},
		},
		{
			name: "shadowed: a later rule with the other action covers it",
			conf: "block in all\nblock in proto tcp to port 22\npass in proto tcp no state\n",
			want: []pfLintWant{{"shadowed", []string{"t.conf:2", "t.conf:3"}}},
		},
		{
			name: "pf's default flags S/SA leave the packets without state to the earlier rule",
			conf: "block in all\nblock in proto tcp to port 22\npass in proto tcp\n",
			want: []pfLintWant{},
		},
		{
			name: "shadowed: an earlier quick rule covers it",
			conf: "block in all\nblock in quick proto tcp from 192.0.2.0/24\npass in proto tcp from 192.0.2.7 to port 22\n",
			want: []pfLintWant{{"shadowed", []string{"t.conf:3", "t.conf:2"}}},
		},
		{
			name: "redundant: an earlier quick rule covers it",
			conf: "table <bad> { 192.0.2.0/24 }\nblock in all\nblock in quick from <bad>\nblock in quick proto tcp from <bad> to port 22\n",
			want: []pfLintWant{{"redundant", []string{"t.conf:4", "t.conf:3"}}},
		},
		{
			name: "a quick rule is not overridden by later rules",
			conf: "block in all\nblock in quick proto tcp to port 22\npass in proto tcp\n",
			want: []pfLintWant{},
		},
		{
			name: "flags S/SA leaves established packets to later rules",
			conf: "block in all\npass in quick proto tcp\nblock in proto tcp to port 23\n",
			want: []pfLintWant{},
		},
		{
			name: "after a quick catch-all",
			conf: "block quick all\npass in proto tcp to port 22\npass out all\n",
			want: []pfLintWant{{"after-catch-all", []string{"t.conf:1", "t.conf:2", "t.conf:3"}}},
		},
		{
			name: "after a stateful pass quick all",
			conf: "block in all\npass quick all\nblock in proto udp\n",
			want: []pfLintWant{{"after-catch-all", []string{"t.conf:2", "t.conf:3"}}},
		},
		{
			name: "no default block",
			conf: "pass in proto tcp to port 22\n",
			want: []pfLintWant{{"no-default-block", []string{}}},
		},
		{
			name: "default block for IPv4 only",
			conf: "block in inet all\npass in proto tcp to port 22\n",
			want: []pfLintWant{{"no-default-block", []string{}}},
		},
		{
			name: "default blocks per family",
			conf: "block in inet all\nblock in inet6 all\npass in proto tcp to port 22\n",
			want: []pfLintWant{},
		},
		{
			name: "default block on one interface",
			conf: "block in on en0 all\npass in on en0 proto tcp to port 22\n",
			want: []pfLintWant{{"no-default-block", []string{"t.conf:1"}}},
		},
		{
			name: "stateless outbound with a default block",
			conf: "block all\npass out proto udp to port 53 no state\npass out proto tcp to port 443 no state\n",
			want: []pfLintWant{
				{"no-state-for-replies", []string{"t.conf:2", "t.conf:1"}},
				{"no-state-for-replies", []string{"t.conf:3", "t.conf:1"}},
			},
		},
		{
			name: "stateless both ways is fine",
			conf: "block all\npass out proto udp to port 53 no state\npass in proto udp from port 53 no state\n",
			want: []pfLintWant{},
		},
		{
			name: "anchor conditions exclude the rule's",
			conf: "block in all\nanchor \"a\" proto tcp {\n\tpass proto udp\n}\nanchor \"b\" on en1 {\n\tpass in on en0\n}\n",
			want: []pfLintWant{
				{"never-matches", []string{"t.conf:3"}},
				{"never-matches", []string{"t.conf:6"}},
			},
		},
		{
			name: "negated entry in a list",
			conf: "block in all\npass in from { 10.0.0.0/8, !10.1.0.0/16 } to any\npass out on { en0, !en1 }\n",
			want: []pfLintWant{
				{"negated-list", []string{"t.conf:2"}},
				{"negated-list", []string{"t.conf:3"}},
			},
		},
		{
			name: "undefined table",
			conf: "block in all\npass in from <nope>\n",
			want: []pfLintWant{{"undefined-table", []string{"t.conf:2"}}},
		},
		{
			name: "out of order",
			conf: "block in all\nset skip on lo0\nscrub in all\n",
			want: []pfLintWant{
				{"out-of-order", []string{"t.conf:2", "t.conf:1"}},
				{"out-of-order", []string{"t.conf:3", "t.conf:1"}},
			},
		},
		{
			name: "order not required",
			conf: "set require-order no\nblock in all\nset skip on lo0\n",
			want: []pfLintWant{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := ParsePF([]byte(tt.conf), "t.conf", nil)
			if err != nil {
				t.Fatalf("ParsePF = %v", err)
			}
			got := rs.Lint()
			if diff := cmp.Diff(tt.want, pfLintKinds(got)); diff != "" {
				t.Errorf("Lint(%q) (-want +got):\n%s", tt.conf, diff)
			}
			for _, f := range got {
				if f.Message == "" || f.Fix == "" {
					t.Errorf("Lint(%q): finding %+v lacks a message or a fix", tt.conf, f)
				}
			}
		})
	}
}

func TestPFLintStock(t *testing.T) {
	got := pfLintKinds(pfLoadRoot(t, "macos-stock").Lint())
	want := []pfLintWant{{"no-default-block", []string{}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Lint(stock) (-want +got):\n%s", diff)
	}
}

// TestPFLintGolden keeps the full wording of findings on a rule set full of mistakes.
func TestPFLintGolden(t *testing.T) {
	conf := `# mistakes people make
ext_if = "en0"
table <trusted> { 10.0.0.0/8 }
pass in on $ext_if proto tcp from <trusted> to port ssh
block in on $ext_if proto tcp to port ssh
pass out proto udp to port domain no state
pass in from { 10.0.0.0/8, !10.1.0.0/16 }
block in quick from <attackers>
pass in quick inet proto icmp all
block in inet proto icmp from 192.0.2.0/24
set skip on lo0
block in on $ext_if all
block quick all
pass out all
`
	rs, err := ParsePF([]byte(conf), "pf.conf", nil)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range rs.Lint() {
		fmt.Fprintf(&b, "%s %s\n  %s\n  fix: %s\n", f.Kind, strings.Join(f.Rules, " "), f.Message, f.Fix)
	}
	checkGolden(t, "testdata/pf/lint.golden", b.String(), "Lint findings")
}

func BenchmarkPFLint(b *testing.B) {
	rs := pfBench(b)
	for b.Loop() {
		rs.Lint()
	}
}
