package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A table file can name any file root can read; an error about it names the file and line but
// never repeats the line.
func TestRulesTableFileErrorDoesNotEcho(t *testing.T) {
	root := t.TempDir()
	secret := "root:$6$c2VjcmV0c2VjcmV0$abcdefghijklmnop:19000:0:99999:7:::"
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/shadow"), []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(t.TempDir(), "pf.conf")
	if err := os.WriteFile(conf, []byte("table <t> persist file \"/etc/shadow\"\nblock in from <t>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := firewardenRaw(t, "--root", root, "rules", "lint", conf)
	want := "firewarden: /etc/shadow:1: table <t>: an entry is not an address, a prefix, an interface, self or a host name\n"
	if r.code != 2 || r.stderr != want || r.stdout != "" {
		t.Errorf("rules lint with a table file of %q = exit %d, stdout %q, stderr %q; want exit 2, stderr %q", secret, r.code, r.stdout, r.stderr, want)
	}
	for _, part := range strings.Split(secret, ":") {
		if len(part) > 3 && strings.Contains(r.stderr, part) {
			t.Errorf("rules lint stderr %q repeats %q from the table file", r.stderr, part)
		}
	}
}

// rulesBigPF is a pf.conf of n filter rules, made cheaply; linting it takes seconds.
func rulesBigPF(n int) string {
	var b strings.Builder
	b.WriteString("block in all\npass out all keep state\n")
	for i := range n - 2 {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "pass in on en%d proto tcp from 10.%d.%d.0/24 to any port %d\n", i%3, i>>8&255, i&255, 1+i%60000)
		case 1:
			fmt.Fprintf(&b, "block in quick proto udp from 172.%d.%d.%d to any port %d:%d\n", 16+i>>16&15, i>>8&255, i&255, 1000+i%3000, 5000+i%3000)
		case 2:
			fmt.Fprintf(&b, "pass in inet6 proto tcp from 2001:db8:%x::/48 to any port %d\n", i&0xffff, 1+i%10000)
		default:
			fmt.Fprintf(&b, "block in on en%d proto tcp from ! %d.0.0.0/8 to any port < %d\n", i%3, 1+i%223, 1+i%1024)
		}
	}
	return b.String()
}

// rulesBigIPFW is an ipfw list of n rules.
func rulesBigIPFW(n int) string {
	var b strings.Builder
	for i := range n {
		num := 100 + i%65000
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, "%05d allow tcp from 10.%d.%d.0/24 to me %d in setup\n", num, i>>8&255, i&255, 1+i%60000)
		case 1:
			fmt.Fprintf(&b, "%05d deny udp from 172.%d.%d.%d to any %d-%d in\n", num, 16+i>>16&15, i>>8&255, i&255, 1000+i%3000, 5000+i%3000)
		default:
			fmt.Fprintf(&b, "%05d allow tcp from any to 192.%d.%d.%d %d recv en%d\n", num, 168+i>>16&7, i>>8&255, i&255, 1+i%10000, i%3)
		}
	}
	return b.String()
}

// SIGINT and SIGTERM stop `rules lint` and `rules eval` on huge rule sets at once: one line on
// stderr, a non-zero status, nothing on stdout. The harness waits up to 20 s; without the check
// of the signal context, these runs take minutes.
func TestRulesInterrupted(t *testing.T) {
	dir := t.TempDir()
	pf, ipfw, pkts := filepath.Join(dir, "pf.conf"), filepath.Join(dir, "ipfw.list"), filepath.Join(dir, "packets")
	var pb bytes.Buffer
	for i := range 200_000 {
		fmt.Fprintf(&pb, "tcp 10.%d.%d.9:40000 -> 192.0.2.10:%d in via en0 setup\n", i>>8&255, i&255, 1+i%60000)
	}
	for name, data := range map[string]string{pf: rulesBigPF(120_000), ipfw: rulesBigIPFW(120_000), pkts: pb.String()} {
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		sig  syscall.Signal
		args []string
	}{
		{"pf lint SIGINT", syscall.SIGINT, []string{"rules", "lint", pf}},
		{"ipfw lint SIGTERM", syscall.SIGTERM, []string{"rules", "lint", ipfw}},
		{"pf eval packets SIGINT", syscall.SIGINT, []string{"rules", "eval", pf, "--packets", pkts}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Let it get going (the signal handler is installed within milliseconds; parsing
			// alone takes longer than this).
			r := signalled(t, tt.sig, 700*time.Millisecond, 20*time.Second, tt.args...)
			code := r.code
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			if code == 0 || code == -1 || len(lines) != 1 || !strings.Contains(lines[0], "interrupted") || r.stdout != "" {
				t.Errorf("firewarden %s after %v: exit %d, stdout %d bytes, stderr %q; want a non-zero exit, nothing on stdout, one line saying it was interrupted",
					strings.Join(tt.args, " "), tt.sig, code, len(r.stdout), r.stderr)
			}
		})
	}
}

// 300 lines naming a 5,000-host and a 9,999-port macro stand for 15 billion pf rules: refused at
// once with one line naming the rule and the cap, not gigabytes later.
func TestRulesExpansionCap(t *testing.T) {
	var b strings.Builder
	b.WriteString("hosts = \"{")
	for i := range 5000 {
		fmt.Fprintf(&b, " 10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
	}
	b.WriteString(" }\"\nports = \"{")
	for i := range 9999 {
		fmt.Fprintf(&b, " %d", 1+i)
	}
	b.WriteString(" }\"\nblock in all\n")
	for i := range 300 {
		fmt.Fprintf(&b, "pass in on en%d proto tcp from $hosts to any port $ports\n", i%4)
	}
	conf := filepath.Join(t.TempDir(), "pf.conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, verb := range [][]string{{"lint"}, {"eval", "--packet", "tcp 10.0.0.1:40000 -> 192.0.2.10:22 in via en0 setup"}} {
		r := firewardenRaw(t, append([]string{"rules", verb[0], conf}, verb[1:]...)...)
		want := "firewarden: " + conf + ":4: the rule set stands for more than 1000000 rules once pfctl multiplies out its lists (one rule per combination of interfaces, protocols, addresses and ports): put long address lists in a table\n"
		if r.code != 2 || r.stderr != want || r.stdout != "" {
			t.Errorf("rules %s on 300 rules of 5,000 hosts × 9,999 ports = exit %d, stdout %q, stderr %q; want exit 2 and %q", verb[0], r.code, r.stdout, r.stderr, want)
		}
	}
}
