package rules

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// shRecorder is a sink that keeps what a script hands to ipfw, as ipfw would receive it.
type shRecorder struct {
	lines []string
}

func (r *shRecorder) ipfw(file string, line int, words []string, raw bool) error {
	r.lines = append(r.lines, fmt.Sprintf("%s:%d: %s", file, line, strings.Join(strings.Fields(strings.Join(words, " ")), " ")))
	return nil
}

func (r *shRecorder) note(file string, line int, text string) {
	r.lines = append(r.lines, fmt.Sprintf("%s:%d: note: %s", file, line, text))
}

// rcFirewallRoot is testdata/ipfw/rcfirewall-root as --root: a FreeBSD defaults/rc.conf, an
// rc.conf for a workstation and a rules file for firewall_type=/etc/ipfw.rules.
func rcFirewallRoot(t testing.TB) IPFWScriptOptions {
	dir := filepath.Join("testdata", "ipfw", "rcfirewall-root")
	return IPFWScriptOptions{
		ReadFile: func(p string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, filepath.Clean("/"+p))) },
		Stat:     func(p string) (os.FileInfo, error) { return os.Stat(filepath.Join(dir, filepath.Clean("/"+p))) },
	}
}

// rcFirewallTypes are FreeBSD's rc.firewall profiles, each with packets whose fate was derived by
// reading the script (and ipfw(8): the first matching rule decides; FreeBSD's kernel denies
// what no rule takes, rule 65535). The goldens hold the commands the script hands to ipfw, the
// rules loaded and the --explain traces. Types whose rules use grammar the rule parser does not
// read yet (table(N), icmptype) are refused with the line; their commands are still checked.
var rcFirewallTypes = []struct {
	name, typ string
	packets   []struct{ packet, want string }
}{
	{name: "open", typ: "open", packets: []struct{ packet, want string }{
		{"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via em0 setup", "allow 65000"},
		{"tcp 127.0.0.1:51234 -> 192.0.2.10:22 in via em0 setup", "deny 00300"}, // a loopback source off lo0
		{"udp 192.0.2.10:5353 -> 127.0.0.1:53 out via em0", "deny 00200"},
		{"tcp 127.0.0.1:51234 -> 127.0.0.1:631 in via lo0 setup", "allow 00100"},
	}},
	{name: "client", typ: "client", packets: []struct{ packet, want string }{
		{"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via em0 setup", "deny 01800"}, // setup from outside, not mail
		{"tcp 203.0.113.5:51234 -> 192.0.2.10:25 in via em0 setup", "allow 01600"},
		{"tcp 192.0.2.50:51234 -> 192.0.2.10:22 in via em0 setup", "allow 01300"}, // firewall_client_net's default
		{"tcp 192.0.2.10:50000 -> 198.51.100.7:443 out via em0 setup", "allow 01700"},
		{"tcp 192.0.2.10:50000 -> 192.0.2.50:22 out via em0 setup", "allow 01200"},
		{"tcp 198.51.100.7:443 -> 192.0.2.10:50000 in via em0 established", "allow 01400"},
		{"udp 203.0.113.5:5353 -> 192.0.2.10:161 in via em0", "deny 65535"},
	}},
	{name: "simple", typ: "simple", packets: []struct{ packet, want string }{
		// 192.0.2.0/24 is in table 13 (reserved networks), which rule 01300 denies on em0.
		{"tcp 203.0.113.5:51234 -> 192.0.2.10:80 in via em0 setup", "deny 01300"},
		{"tcp 203.0.113.5:51234 -> 198.51.100.10:80 in via em0 setup", "allow 02100"},
		{"tcp 203.0.113.5:51234 -> 198.51.100.10:22 in via em0 setup", "deny 02200"},
		// The answer to our DNS query meets the dynamic rule of `pass udp from me to any 53 keep-state`.
		{"udp 198.51.100.53:53 -> 198.51.100.10:51000 in via em0 reply", "allow 02400"},
	}},
	{name: "closed", typ: "closed", packets: []struct{ packet, want string }{
		{"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via em0 setup", "deny 65000"},
		{"tcp 127.0.0.1:51234 -> 127.0.0.1:22 in via lo0 setup", "allow 00100"},
	}},
	{name: "workstation", typ: "workstation", packets: []struct{ packet, want string }{
		{"tcp 192.0.2.9:51234 -> 192.0.2.10:22 in via em0 setup", "allow 02500"}, // firewall_allowservices
		// Neither allowed nor trusted: after the count at 65000 the rules numbered past it share
		// 65500 (ipfw numbers no rule 65535), and the last one denies and logs.
		{"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via em0 setup", "deny 65500"},
		// The answer to our DNS query meets check-state: `pass udp from me to any keep-state`.
		{"udp 198.51.100.53:53 -> 192.0.2.10:51000 in via em0 reply", "allow 01100"},
		{"icmp 203.0.113.5 -> 192.0.2.10 in via em0 type 8", "allow 02100"},
	}},
	{name: "unknown", typ: "UNKNOWN", packets: []struct{ packet, want string }{
		// Only the loopback rules are loaded: everything else meets the default rule.
		{"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via em0 setup", "deny 65535"},
		{"tcp 127.0.0.1:51234 -> 127.0.0.1:22 in via lo0 setup", "allow 00100"},
	}},
	{name: "file", typ: "/etc/ipfw.rules", packets: []struct{ packet, want string }{
		{"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via em0 setup", "allow 01000"},
		{"tcp 203.0.113.5:51234 -> 192.0.2.10:80 in via em0 setup", "deny 65000"},
	}},
}

func TestRCFirewall(t *testing.T) {
	data := rcFirewall(t)
	for _, tt := range rcFirewallTypes {
		t.Run(tt.name, func(t *testing.T) {
			opts := rcFirewallRoot(t)
			// ipv6_available is what afexists inet6 would have told the script (0: present).
			opts.Vars = map[string]string{"firewall_type": tt.typ, "ipv6_available": "0"}
			var b strings.Builder
			fmt.Fprintf(&b, "# rc.firewall with --set firewall_type=%s --set ipv6_available=0 --root testdata/ipfw/rcfirewall-root\n", tt.typ)

			rec := &shRecorder{}
			in := newShInterp(context.Background(), opts, rec)
			if err := in.run(string(data), "rc.firewall"); err != nil {
				t.Fatalf("running rc.firewall for %s: %v", tt.typ, err)
			}
			b.WriteString("## what the script hands to ipfw\n")
			for _, l := range rec.lines {
				fmt.Fprintf(&b, "%s\n", l)
			}

			rs, err := ParseIPFWScript(context.Background(), data, "rc.firewall", builtinServices, opts)
			if err != nil {
				fmt.Fprintf(&b, "## refused\n%v\n", err)
				if tt.packets != nil {
					t.Fatalf("ParseIPFWScript(rc.firewall, %s) error = %v", tt.typ, err)
				}
				checkGolden(t, "testdata/ipfw/rcfirewall-"+tt.name+".golden", b.String(), "rc.firewall "+tt.typ)
				return
			}
			rs.Default = Deny // FreeBSD's kernel without IPFIREWALL_DEFAULT_TO_ACCEPT
			b.WriteString("## profile\n")
			for _, p := range rs.Profile {
				fmt.Fprintf(&b, "%s\n", p)
			}
			for _, n := range rs.Notes {
				fmt.Fprintf(&b, "note: %s\n", n)
			}
			b.WriteString("## verdicts\n")
			for _, pk := range tt.packets {
				p := pkt(t, pk.packet)
				v, steps := rs.Explain(&p)
				if got := v.Action.String() + " " + v.Where; got != pk.want {
					t.Errorf("rc.firewall %s: Eval(%s) = %s, want %s", tt.typ, pk.packet, got, pk.want)
				}
				fmt.Fprintf(&b, "%s: %s by rule %s (%s)\n", p.String(), v.Action, v.Where, v.Text)
				for _, st := range steps {
					fmt.Fprintf(&b, "  %-5v %s %-50s %s\n", st.Matched, st.Where, st.Text, st.Why)
				}
			}
			checkGolden(t, "testdata/ipfw/rcfirewall-"+tt.name+".golden", b.String(), "rc.firewall "+tt.typ)
		})
	}
}

// Without rc.conf under the root and without --set, rc.firewall cannot be evaluated: the refusal
// names the variable, the line and the fix.
func TestRCFirewallNeedsProfile(t *testing.T) {
	data := rcFirewall(t)
	empty, stat := testRoot(map[string]string{})
	tests := []struct {
		name string
		vars map[string]string
		want string
	}{
		{"nothing given", nil,
			"rc.firewall:134: firewall_quiet is not set: the script reads rc.conf (rc.firewall:121), which is not under --root; give --set firewall_quiet=VALUE or --root with its etc/rc.conf (it decides the case)"},
		{"no answer for afexists", map[string]string{"firewall_quiet": "NO"},
			"rc.firewall:87: afexists inet6 asks the running kernel whether it has inet6; give the answer with --set"},
		{"type not given", map[string]string{"firewall_quiet": "NO", "ipv6_available": "1"},
			"rc.firewall:160: firewall_type is not set"},
		{"closed needs nothing else", map[string]string{"firewall_quiet": "NO", "ipv6_available": "1", "firewall_type": "closed"}, ""},
		{"workstation needs its lists", map[string]string{"firewall_quiet": "NO", "ipv6_available": "1", "firewall_type": "workstation"},
			"rc.firewall:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &shRecorder{}
			in := newShInterp(context.Background(), IPFWScriptOptions{Vars: tt.vars, ReadFile: empty, Stat: stat}, rec)
			err := in.run(string(data), "rc.firewall")
			if tt.want == "" {
				if err != nil {
					t.Fatalf("rc.firewall with %v: %v", tt.vars, err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("rc.firewall with %v: error = %v, want %s…", tt.vars, err, tt.want)
			}
		})
	}
}

// BenchmarkParseIPFWScript measures reading rc.firewall's workstation profile over a root (the
// script, defaults/rc.conf and rc.conf run through the expander), and a 1,000-rule list.
func BenchmarkParseIPFWScript(b *testing.B) {
	list, err := os.ReadFile(filepath.Join("testdata", "ipfw", "realistic-1000.list"))
	if err != nil {
		b.Fatal(err)
	}
	opts := rcFirewallRoot(b)
	opts.Vars = map[string]string{"firewall_type": "client", "ipv6_available": "0"}
	b.Run("rc.firewall-client", func(b *testing.B) {
		rc := rcFirewall(b)
		for b.Loop() {
			if _, err := ParseIPFWScript(context.Background(), rc, "rc.firewall", builtinServices, opts); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("realistic-1000", func(b *testing.B) {
		for b.Loop() {
			if _, err := ParseIPFW(list, "realistic-1000.list", builtinServices); err != nil {
				b.Fatal(err)
			}
		}
	})
}
