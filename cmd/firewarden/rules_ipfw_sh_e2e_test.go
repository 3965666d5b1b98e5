package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FreeBSD's rc.firewall through the real binary: the profile comes from --set and from the
// rc.conf under --root, the verdicts are those of the rules the script loads for it, and the
// output says which variables they rest on. Without a profile the script is refused with the
// variable, the line and the flag that answers it.
func TestRulesEvalRCFirewall(t *testing.T) {
	script := rcFirewallScript(t)
	root, err := filepath.Abs("../../internal/rules/testdata/ipfw/rcfirewall-root")
	if err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	if err := os.MkdirAll(filepath.Join(empty, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	ssh := "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via em0 setup"
	verbScript := writeTemp(t, "fw.sh", "case \"$1\" in start) ipfw add 100 deny ip from any to any;; *) echo usage: $0 start; exit 1;; esac\n")
	mail := "tcp 203.0.113.5:51234 -> 192.0.2.10:25 in via em0 setup"
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   []string // lines stdout must hold, in order
		inStderr string
	}{
		{name: "client from rc.conf defaults and --set",
			args: []string{"--root", root, "rules", "eval", script, "--default", "deny", "--set", "firewall_type=client", "--set", "ipv6_available=0", "--packet", ssh},
			stdout: []string{ssh + ": DENY by rule 01800 (deny tcp from any to any setup)",
				"profile: the script was evaluated with:", `  firewall_quiet="YES" (/etc/rc.conf)`, `  ipv6_available="0" (--set)`,
				`  firewall_type="client" (--set)`, `  firewall_client_net="192.0.2.0/24" (/etc/defaults/rc.conf)`}},
		{name: "client lets mail in",
			args:   []string{"--root", root, "rules", "eval", script, "--default", "deny", "--set", "firewall_type=client", "--set", "ipv6_available=0", "--packet", mail},
			stdout: []string{mail + ": ALLOW by rule 01600 (pass tcp from any to me 25 setup)"}},
		{name: "--set over rc.conf: open",
			args:   []string{"--root", root, "rules", "eval", script, "--set", "firewall_type=open", "--set", "ipv6_available=1", "--packet", ssh},
			stdout: []string{ssh + ": ALLOW by rule 65000 (pass all from any to any)", `  ipv6_available="1" (--set)`, `  firewall_type="open" (--set)`}},
		{name: "a rules file named by firewall_type, read under --root",
			args:   []string{"--root", root, "rules", "eval", script, "--set", "firewall_type=/etc/ipfw.rules", "--set", "ipv6_available=1", "--packet", ssh, "--explain"},
			stdout: []string{ssh + ": ALLOW by rule 01000 (allow tcp from any to me 22 in setup)", "  yes  01000  allow tcp from any to me 22 in setup  first match: decides"}},
		{name: "no rc.conf under --root: the variable is named with the fix",
			args:     []string{"--root", empty, "rules", "eval", script, "--set", "firewall_type=closed", "--packet", ssh},
			code:     2,
			inStderr: "rc.firewall:134: firewall_quiet is not set: the script reads rc.conf (" + script + ":121), which is not under --root; give --set firewall_quiet=VALUE or --root with its etc/rc.conf"},
		{name: "every variable given: closed",
			args:   []string{"--root", empty, "rules", "eval", script, "--set", "firewall_type=closed", "--set", "firewall_quiet=NO", "--set", "ipv6_available=1", "--packet", ssh},
			stdout: []string{ssh + ": DENY by rule 65000 (deny ip from any to any)", `  firewall_quiet="NO" (--set)`}},
		{name: "lint says the profile too",
			args:   []string{"--root", root, "rules", "lint", script, "--set", "firewall_type=closed", "--set", "ipv6_available=1"},
			code:   -1, // findings or none: the profile is what this case is about
			stdout: []string{"profile: the script was evaluated with:", `  firewall_type="closed" (--set)`}},
		{name: "the script's argument from --set 1=",
			args:   []string{"rules", "eval", verbScript, "--set", "1=start", "--packet", ssh},
			stdout: []string{ssh + ": DENY by rule 00100 (deny ip from any to any)"}},
		{name: "a script that exits before any rule says where",
			args: []string{"rules", "eval", verbScript, "--packet", ssh}, code: 2,
			inStderr: "no ipfw rule found in 3 statements; the script exits at " + verbScript + ":1 (its arguments are given as --set 1=VALUE)"},
		{name: "a bad --set",
			args: []string{"rules", "eval", script, "--set", "firewall-type=open", "--packet", ssh}, code: 2,
			inStderr: `"firewall-type=open": want NAME=VALUE with a sh variable name`},
		{name: "--set on a pf file",
			args: []string{"rules", "eval", writeTemp(t, "pf.conf", "block in all\npass out all keep state\n"), "--format", "pf", "--set", "a=b", "--packet", ssh}, code: 2,
			inStderr: "--set gives the variables of an ipfw script"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := firewardenRaw(t, tt.args...)
			if (tt.code >= 0 && r.code != tt.code) || !strings.Contains(r.stderr, tt.inStderr) || !holdsInOrder(r.stdout, tt.stdout) {
				t.Errorf("firewarden %s = exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
					strings.Join(tt.args, " "), r.code, r.stdout, r.stderr, tt.code, tt.stdout, tt.inStderr)
			}
		})
	}
}

// holdsInOrder reports that every one of lines is a line of out, in that order.
func holdsInOrder(out string, lines []string) bool {
	got := strings.Split(out, "\n")
	i := 0
	for _, l := range got {
		if i < len(lines) && l == lines[i] {
			i++
		}
	}
	return i == len(lines)
}

func writeTemp(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// rcFirewallScript finds FreeBSD's rc.firewall in the rule set corpus (see
// internal/rules/testdata/corpus/README.md: public files are kept outside this repository), or
// skips the test saying how to provide it.
func rcFirewallScript(t *testing.T) string {
	t.Helper()
	const rel = "ipfw-extra/rc.firewall"
	cands := []string{"../../internal/rules/testdata/corpus", "../../../shared/fixtures/rules-corpus"}
	if d := os.Getenv("FIREWARDEN_RULES_CORPUS"); d != "" {
		cands = []string{d}
	}
	for _, d := range cands {
		if p, err := filepath.Abs(filepath.Join(d, rel)); err == nil {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	t.Skipf("FreeBSD's rc.firewall is not at hand: set FIREWARDEN_RULES_CORPUS=DIR to a rule set corpus holding %s to run it", rel)
	return ""
}
