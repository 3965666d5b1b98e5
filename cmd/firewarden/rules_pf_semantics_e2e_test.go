package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// pf semantics through the binary: antispoof expanded from --iface, a verdict conditional on
// what the simulator was not told, and interface groups.
func TestRulesPFSemantics(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "pf.conf")
	if err := os.WriteFile(conf, []byte("pass all\nantispoof for { lo0 en0 } inet\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{
			name: "loopback source on en0 is blocked",
			args: []string{"--iface", "en0=192.0.2.10/24", "--packet", "tcp 127.0.0.1:51234 -> 192.0.2.10:22 in via en0 setup"},
			want: "tcp 127.0.0.1:51234 -> 192.0.2.10:22 in via en0 setup: DENY by rule " + conf + ":2 (block in on ! lo0 inet from 127.0.0.0/8 to any (antispoof for { lo0 en0 } inet))\n",
		},
		{
			name: "en0's network on en1 is blocked",
			args: []string{"--iface", "en0=192.0.2.10/24", "--packet", "udp 192.0.2.99:53 -> 192.0.2.10:5353 in via en1"},
			want: "udp 192.0.2.99:53 -> 192.0.2.10:5353 in via en1: DENY by rule " + conf + ":2 (block in on ! en0 inet from 192.0.2.0/24 to any (antispoof for { lo0 en0 } inet))\n",
		},
		{
			name: "without en0's address the verdict is conditional",
			args: []string{"--packet", "udp 192.0.2.99:53 -> 192.0.2.10:5353 in via en1"},
			want: "udp 192.0.2.99:53 -> 192.0.2.10:5353 in via en1: ALLOW by rule " + conf + ":1 (pass all), conditional (see the notes)\n" +
				"conditional: the rule set has lines the simulator did not model; each verdict holds only if they do not change it:\n  " + conf + ":2: antispoof for { lo0 en0 } inet: the addresses of en0 are not known, so its rules are not simulated (give --iface en0=ADDR/LEN)\n",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := firewardenRaw(t, append([]string{"rules", "eval", conf}, c.args...)...)
			if r.code != 0 || r.stdout != c.want || r.stderr != "" {
				t.Errorf("rules eval %q = exit %d, stdout %q, stderr %q; want exit 0, stdout %q", c.args, r.code, r.stdout, r.stderr, c.want)
			}
		})
	}
	r := firewardenRaw(t, "rules", "eval", conf, "--iface", "en0", "--packet", "udp 192.0.2.99:53 -> 192.0.2.10:5353 in via en1")
	if r.code != 2 {
		t.Errorf("rules eval --iface en0 = exit %d, stderr %q; want exit 2", r.code, r.stderr)
	}
}

// "on egress" matches the interfaces --group names, and "set skip on lo" skips lo0.
func TestRulesPFGroups(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "pf.conf")
	if err := os.WriteFile(conf, []byte("set skip on lo\nblock all\npass out on egress proto tcp\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--group", "egress=en0", "--packet", "tcp 192.0.2.10:51234 -> 198.51.100.7:443 out via en0 setup"},
			"tcp 192.0.2.10:51234 -> 198.51.100.7:443 out via en0 setup: ALLOW by rule " + conf + ":3 (pass out on egress proto tcp)\n"},
		{[]string{"--group", "egress=en0", "--packet", "tcp 127.0.0.1:51234 -> 127.0.0.1:22 in via lo0 setup"},
			"tcp 127.0.0.1:51234 -> 127.0.0.1:22 in via lo0 setup: ALLOW by rule " + conf + ":1 (set skip on lo)\n"},
		{[]string{"--packet", "tcp 192.0.2.10:51234 -> 198.51.100.7:443 out via en0 setup"},
			"tcp 192.0.2.10:51234 -> 198.51.100.7:443 out via en0 setup: DENY by rule " + conf + ":2 (block all), conditional (see the notes)\n" +
				"conditional: the rule set has lines the simulator did not model; each verdict holds only if they do not change it:\n  " + conf + ":3: on egress: the members of the interface group egress are not known, so the rule matches no interface (give --group egress=IF,IF)\n"},
	} {
		r := firewardenRaw(t, append([]string{"rules", "eval", conf}, c.args...)...)
		if r.code != 0 || r.stdout != c.want || r.stderr != "" {
			t.Errorf("rules eval %q = exit %d, stdout %q, stderr %q; want exit 0, stdout %q", c.args, r.code, r.stdout, r.stderr, c.want)
		}
	}
}

// A DNS reply passes on the state of the query that went out, and --explain says so.
func TestRulesPFUDPReply(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "pf.conf")
	if err := os.WriteFile(conf, []byte("block in all\npass out proto udp to port 53 keep state\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pkt := "udp 192.0.2.53:53 -> 192.0.2.10:51000 in via en0 reply"
	want := pkt + ": ALLOW by rule " + conf + ":2 (pass out proto udp to port 53 keep state)\n" +
		"  yes  " + conf + ":2  pass out proto udp to port 53 keep state  state: the packet is a reply; this rule keeps state and passes the flow's first packet (udp 192.0.2.10:51000 -> 192.0.2.53:53 out via en0), so pf passes the reply on that state without evaluating rules\n"
	r := firewardenRaw(t, "rules", "eval", conf, "--explain", "--packet", pkt)
	if r.code != 0 || r.stdout != want || r.stderr != "" {
		t.Errorf("rules eval --explain %q = exit %d, stdout %q, stderr %q; want exit 0, stdout %q", pkt, r.code, r.stdout, r.stderr, want)
	}
	pkt = "udp 192.0.2.53:53 -> 192.0.2.10:51000 in via en0"
	want = pkt + ": DENY by rule " + conf + ":1 (block in all)\n"
	if r := firewardenRaw(t, "rules", "eval", conf, "--packet", pkt); r.code != 0 || r.stdout != want {
		t.Errorf("rules eval %q = exit %d, stdout %q, stderr %q; want exit 0, stdout %q", pkt, r.code, r.stdout, r.stderr, want)
	}
}

// Statements accepted but not modelled are listed, and the verdicts and the lint say they rest on
// them.
func TestRulesPFNotModelled(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "pf.conf")
	if err := os.WriteFile(conf, []byte("scrub in all\nblock in all\npass in proto tcp to port 22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The lines not modelled are listed once after the verdicts (after the findings for lint).
	note := conf + ":1: scrub in all: not modelled (traffic normalisation is not simulated)\n"
	head := "conditional: the rule set has lines the simulator did not model; each %s holds only if they do not change it:\n  "
	pkt := "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup"
	want := pkt + ": ALLOW by rule " + conf + ":3 (pass in proto tcp to port 22), conditional (see the notes)\n" + fmt.Sprintf(head, "verdict") + note
	if r := firewardenRaw(t, "rules", "eval", conf, "--packet", pkt); r.code != 0 || r.stdout != want {
		t.Errorf("rules eval %q = exit %d, stdout %q, stderr %q; want exit 0, stdout %q", pkt, r.code, r.stdout, r.stderr, want)
	}
	want = conf + ": no findings (2 rules)\n" + fmt.Sprintf(head, "result") + note
	if r := firewardenRaw(t, "rules", "lint", conf); r.code != 0 || r.stdout != want {
		t.Errorf("rules lint = exit %d, stdout %q, stderr %q; want exit 0, stdout %q", r.code, r.stdout, r.stderr, want)
	}
}
