package rules

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Rule sets from the wild that the pf linter used to judge wrongly (issue 15). Each is a minimal
// set of our own reproducing the construct.
func TestPFLintWild(t *testing.T) {
	tests := []struct {
		name string
		conf string
		want []pfLintWant
	}{
		// pf.conf(5): "flags <a>/<b> | any: This rule only applies to TCP packets that have the
		// flags <a> set out of set <b>. Flags not specified in <b> are ignored." So flags F/F
		// matches every TCP packet with FIN set, whatever its other flags: a real scan rule.
		{
			name: "flags F/F drops FIN scans",
			conf: "block in all\nblock in quick proto tcp flags F/F\npass in proto tcp to port 22\n",
			want: []pfLintWant{},
		},
		{
			name: "flags SF/SF and FUP/FUP are different packets",
			conf: "block in all\nblock in quick proto tcp flags SF/SF\nblock in quick proto tcp flags FUP/FUP\npass in proto tcp to port 22\n",
			want: []pfLintWant{},
		},
		{
			// flags SA/SA matches SYN-ACKs, which the packet model folds into established.
			name: "flags SA/SA matches SYN-ACKs",
			conf: "block in all\nblock in quick proto tcp flags SA/SA\npass in proto tcp to port 22\n",
			want: []pfLintWant{},
		},
		{
			// flags /SFRA: none of S, F, R, A set (a NULL scan has no flags at all).
			name: "flags /SFRA drops NULL scans",
			conf: "block in all\nblock in quick proto tcp flags /SFRA\npass in proto tcp to port 22\n",
			want: []pfLintWant{},
		},
		{
			// A later pass on the flags rule's packets does not make the flags rule dead in
			// the other order either: the quick scan rule matches only some TCP packets.
			name: "a flags rule does not cover the rules after it",
			conf: "block in all\nblock in quick proto tcp flags F/F\npass in quick proto tcp to port 22\n",
			want: []pfLintWant{},
		},
		{
			// A quick rule matching all TCP does cover a flags rule below it: every FIN
			// packet is TCP.
			name: "a flags rule below a quick tcp rule is still redundant",
			conf: "block in all\nblock in quick proto tcp\nblock in quick proto tcp flags F/F\n",
			want: []pfLintWant{{"redundant", []string{"t.conf:3", "t.conf:2"}}},
		},
		// pf.conf(5), TABLES: "persist: The persist flag forces the kernel to keep the table
		// even when no rules refer to it"; tables are filled with pfctl -t NAME -T add, and
		// "overload <table>" adds the sources that exceed max-src-conn(-rate) at run time.
		{
			name: "an empty persist table is filled at run time",
			conf: "table <bruteforce> persist\nblock in all\nblock in quick from <bruteforce>\npass in proto tcp to port 22\n",
			want: []pfLintWant{},
		},
		{
			name: "a persist table with entries is filled at run time as well",
			conf: "table <ban> persist { 192.0.2.1 }\nblock in all\nblock in quick from <ban>\nblock in quick proto tcp from 192.0.2.1 to port 22\n",
			want: []pfLintWant{},
		},
		{
			name: "the target of overload is filled at run time",
			conf: "table <abusers> { 192.0.2.9 }\nblock in all\nblock in quick from <abusers>\nblock in quick proto tcp from 192.0.2.9 to port 80\npass in proto tcp to port 22 keep state (max-src-conn 10, overload <abusers> flush global)\n",
			want: []pfLintWant{},
		},
		{
			name: "an empty table without const is filled at run time",
			conf: "table <later> { }\nblock in all\npass in quick from <later>\npass in proto tcp to port 22\n",
			want: []pfLintWant{},
		},
		{
			name: "a const table is what the file says",
			conf: "table <ok> const { 192.0.2.0/24 }\nblock in all\nblock in quick from <ok>\nblock in quick proto tcp from 192.0.2.7 to port 22\n",
			want: []pfLintWant{{"redundant", []string{"t.conf:4", "t.conf:3"}}},
		},
		{
			name: "a negated runtime table is no catch-all",
			conf: "table <good> persist\nblock in all\npass in quick from ! <good>\npass in proto tcp to port 22\n",
			want: []pfLintWant{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := ParsePF([]byte(tt.conf), "t.conf", nil)
			if err != nil {
				t.Fatalf("ParsePF: %v", err)
			}
			fs := rs.Lint()
			if diff := cmp.Diff(tt.want, pfLintKinds(fs)); diff != "" {
				t.Errorf("Lint(%q) (-want +got):\n%s", tt.conf, diff)
			}
			if ref := pfLintKinds(rs.lintReference()); !cmp.Equal(tt.want, ref) {
				t.Errorf("lintReference(%q) = %v, want %v", tt.conf, ref, tt.want)
			}
			for _, f := range fs {
				if strings.Contains(f.Message, "impossible") {
					t.Errorf("Lint(%q) says %q", tt.conf, f.Message)
				}
			}
		})
	}
}

// ipfw(8): rule 65535 "cannot be modified by the programmer"; its action is deny on FreeBSD
// unless the kernel is built with IPFIREWALL_DEFAULT_TO_ACCEPT (ipfirewall(4)), and allow on
// Mac OS X. Lint must say which default it assumed and never claim "every port open" as a fact
// when the default is only assumed.
func TestIPFWLintDefault(t *testing.T) {
	const set = "00100 allow tcp from any to me 22 setup\n00200 allow tcp from any to any established\n00300 allow tcp from me to any setup\n00400 allow ip from any to any via lo0\n"
	tests := []struct {
		name  string
		conf  string
		deny  bool
		given string
		want  []string // substrings of the no-final-deny message; nil for no such finding
	}{
		{name: "assumed allow", conf: set, want: []string{"assumed", "--default deny", "FreeBSD"}},
		{name: "given allow", conf: set, given: "--default allow", want: []string{"--default allow", "every port and protocol not listed is open"}},
		{name: "listed 65535 allow", conf: set + "65535 allow ip from any to any\n", want: []string{"t.fw:5", "every port and protocol not listed is open"}},
		{name: "deny default", conf: set, deny: true, given: "--default deny"},
		{name: "listed 65535 deny", conf: set + "65535 deny ip from any to any\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := ParseIPFW([]byte(tt.conf), "t.fw", nil)
			if err != nil {
				t.Fatalf("ParseIPFW: %v", err)
			}
			if tt.deny {
				rs.Default = Deny
			}
			rs.Compile()
			var msg []string
			for _, f := range rs.Lint(LintOptions{DefaultGiven: tt.given}) {
				if f.Kind == "no-final-deny" {
					msg = append(msg, f.Message)
				}
			}
			if tt.want == nil {
				if len(msg) > 0 {
					t.Errorf("Lint(%q) no-final-deny = %q, want none", tt.conf, msg)
				}
				return
			}
			if len(msg) != 1 {
				t.Fatalf("Lint(%q) no-final-deny = %q, want one", tt.conf, msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg[0], w) {
					t.Errorf("Lint(%q) no-final-deny = %q, want it to say %q", tt.conf, msg[0], w)
				}
			}
			if tt.given == "" && !strings.Contains(tt.conf, "65535") && strings.Contains(msg[0], "every port and protocol not listed is open:") {
				t.Errorf("Lint(%q) states an open port set as a fact on an assumed default: %q", tt.conf, msg[0])
			}
		})
	}
}

// A finding that a non-quick rule never decides because a later rule covers it rests on no rule
// between them stopping evaluation; antispoof (pf.conf(5): it expands into block rules at its
// place) is not modelled, so such a finding across it says it is conditional. Translation
// anchors change the addresses every rule sees, so they make every coverage finding conditional.
func TestPFLintUnmodelled(t *testing.T) {
	tests := []struct {
		name string
		conf string
		want string // in the one finding's message; "" for a finding without conditions
	}{
		{
			name: "antispoof between the rules",
			conf: "block in all\npass in proto tcp to port 22 no state\nantispoof for en0\npass in proto tcp no state\n",
			want: "t.conf:3",
		},
		{
			name: "antispoof before both rules",
			conf: "block in all\nantispoof for en0\npass in proto tcp to port 22 no state\npass in proto tcp no state\n",
		},
		{
			name: "a translation anchor anywhere",
			conf: "nat-anchor \"com.apple/*\"\nblock in all\npass in proto tcp to port 22 no state\npass in proto tcp no state\n",
			want: "t.conf:1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := ParsePF([]byte(tt.conf), "t.conf", nil)
			if err != nil {
				t.Fatalf("ParsePF: %v", err)
			}
			fs := rs.Lint()
			if len(fs) != 1 || fs[0].Kind != PFLintRedundant {
				t.Fatalf("Lint(%q) = %v, want one redundant finding", tt.conf, pfLintKinds(fs))
			}
			conditional := strings.Contains(fs[0].Message, "does not model")
			if conditional != (tt.want != "") || !strings.Contains(fs[0].Message, tt.want) {
				t.Errorf("Lint(%q) message = %q, want conditional on %q", tt.conf, fs[0].Message, tt.want)
			}
		})
	}
}

// Findings built on evaluating a packet say what they assumed: an unmodelled antispoof anywhere
// may decide the packet (pf), and a packet decided by rule 65535 under an assumed default (ipfw).
func TestLintEvalConditions(t *testing.T) {
	t.Run("pf no-state-for-replies with antispoof", func(t *testing.T) {
		conf := "block in all\nantispoof for en0\npass out proto tcp no state\n"
		rs, err := ParsePF([]byte(conf), "t.conf", nil)
		if err != nil {
			t.Fatalf("ParsePF: %v", err)
		}
		var msg []string
		for _, f := range rs.Lint() {
			if f.Kind == PFLintNoStateReplies {
				msg = append(msg, f.Message)
			}
		}
		if len(msg) != 1 || !strings.Contains(msg[0], "does not model") || !strings.Contains(msg[0], "t.conf:2") {
			t.Errorf("Lint(%q) no-state-for-replies = %q, want one conditional on t.conf:2", conf, msg)
		}
	})
	t.Run("ipfw no-replies under an assumed default", func(t *testing.T) {
		conf := "00100 deny tcp from any to any in established\n"
		rs, err := ParseIPFW([]byte(conf), "t.fw", nil)
		if err != nil {
			t.Fatalf("ParseIPFW: %v", err)
		}
		rs.Compile()
		var msg []string
		for _, f := range rs.Lint(LintOptions{}) {
			if f.Kind == "no-replies" {
				msg = append(msg, f.Message)
			}
		}
		if len(msg) != 1 || !strings.Contains(msg[0], "assumed") {
			t.Errorf("Lint(%q) no-replies = %q, want one saying the default is assumed", conf, msg)
		}
	})
}
