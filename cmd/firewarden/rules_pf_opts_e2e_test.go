package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pf rule options and statements of real files through the binary: a quoted macro over two
// lines, queue definitions noted as not modelled, a tag set on the way in and tested by a later
// rule, and routing named as not simulated in the explanation.
func TestRulesPFOptions(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "pf.conf")
	data := "tcp_services = \"{ 22,\n  443 }\"\n" +
		"altq on en0 cbq bandwidth 10Mb queue { std }\n" +
		"queue std bandwidth 100% cbq(default)\n" +
		"block all\n" +
		"pass in on en0 proto tcp to port $tcp_services tag INET\n" +
		"pass in on en0 route-to (en2 192.0.2.1) proto udp to port 53\n" +
		"block in quick on en0 proto tcp ! tagged INET\n"
	if err := os.WriteFile(conf, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	notes := "conditional: the rule set has lines the simulator did not model; each verdict holds only if they do not change it:\n" +
		"  " + conf + ":3: altq on en0 cbq bandwidth 10Mb queue { std }: not modelled (queueing is not simulated)\n" +
		"  " + conf + ":4: queue std bandwidth 100% cbq(default): not modelled (queueing is not simulated)\n"
	for _, c := range []struct {
		name, pkt, want string
	}{
		{
			"the macro's second line is read",
			"tcp 198.51.100.7:51234 -> 192.0.2.10:443 in via en0 setup",
			"ALLOW by rule " + conf + ":6 (pass in on en0 proto tcp to port $tcp_services tag INET)",
		},
		{
			"an untagged packet meets the quick block",
			"tcp 198.51.100.7:51234 -> 192.0.2.10:80 in via en0 setup",
			"DENY by rule " + conf + ":8 (block in quick on en0 proto tcp ! tagged INET)",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := firewardenRaw(t, "rules", "eval", conf, "--packet", c.pkt)
			want := c.pkt + ": " + c.want + ", conditional (see the notes)\n" + notes
			if r.code != 0 || r.stdout != want || r.stderr != "" {
				t.Errorf("rules eval --packet %q = exit %d, stdout %q, stderr %q; want exit 0, stdout %q", c.pkt, r.code, r.stdout, r.stderr, want)
			}
		})
	}
	for _, c := range []struct{ pkt, want string }{
		{"udp 198.51.100.7:5353 -> 192.0.2.10:53 in via en0", "matched; last match so far (not simulated: route-to (en2 192.0.2.1): routing is not simulated"},
		{"tcp 198.51.100.7:51234 -> 192.0.2.10:22 in via en0 setup", "matched; last match so far; tags the packet INET"},
		{"tcp 198.51.100.7:51234 -> 192.0.2.10:22 in via en0 setup", "the packet is tagged INET (! tagged INET)"},
	} {
		r := firewardenRaw(t, "rules", "eval", conf, "--explain", "--packet", c.pkt)
		if r.code != 0 || !strings.Contains(r.stdout, c.want) {
			t.Errorf("rules eval --explain --packet %q = exit %d, stdout %q, stderr %q; want exit 0 and %q in stdout", c.pkt, r.code, r.stdout, r.stderr, c.want)
		}
	}
}

// A rule option the simulator does not know is refused with its line, exit 2.
func TestRulesPFOptionErrors(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "pf.conf")
	if err := os.WriteFile(conf, []byte("pass in all probability 150%\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := firewardenRaw(t, "rules", "lint", conf)
	want := conf + ":1: probability: want a percentage such as 20%, found \"150%\""
	if r.code != 2 || !strings.Contains(r.stderr, want) {
		t.Errorf("rules lint = exit %d, stderr %q; want exit 2 and %q", r.code, r.stderr, want)
	}
}
