package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// An ipfw script in the Handbook's idiom is read rule by rule through the real binary; the line
// it does not model and the state it assumed for a TCP packet are said with the verdict, and a
// script of which nothing could be read is refused instead of evaluated as an empty set.
func TestRulesEvalIPFWScript(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "fw.sh")
	write := func(name, text string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("fw.sh", "#!/bin/sh\ncmd=\"ipfw -q add\"\nkldstat -q -m ipfw || kldload ipfw\n$cmd 00500 check-state\n$cmd 00600 allow tcp from any to any 22 in via em0 setup keep-state\n${cmd} deny ip from any to any\n")
	onlyIf := write("if.sh", "if [ -n \"$x\" ]; then\n  setup_firewall\nfi\n")
	noteLines := "conditional: the rule set has lines the simulator did not model; each verdict holds only if they do not change it:\n  " + script + ":3: not modelled: command kldstat\n  " + script + ":3: not modelled: command kldload\n"
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string
		inStderr string
	}{
		{name: "setup",
			args:   []string{"rules", "eval", script, "--packet", "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via em0 setup"},
			stdout: "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via em0 setup: ALLOW by rule 00600 (allow tcp from any to any 22 in via em0 setup keep-state), conditional (see the notes)\n" + noteLines},
		{name: "no state given",
			args:   []string{"rules", "eval", script, "--packet", "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via em0"},
			stdout: "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via em0 established: DENY by rule 00700 (deny ip from any to any), conditional: assumed established (an ACK), since the packet gives no TCP flags (and see the notes)\n" + noteLines},
		{name: "no rule read", args: []string{"rules", "eval", onlyIf, "--packet", "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via em0 setup"},
			code: 2, inStderr: onlyIf + ":1: x is not set: assign it in the script, or give --set x=VALUE"},
		{name: "lint no rule read", args: []string{"rules", "lint", onlyIf}, code: 2, inStderr: onlyIf + ":1: x is not set"},
		// A reply passes only on a dynamic rule its flow's first packet created: no UDP rule keeps state here.
		{name: "reply", args: []string{"rules", "eval", script, "--packet", "udp 192.0.2.53:53 -> 192.0.2.10:51000 in via em0 reply"},
			stdout: "udp 192.0.2.53:53 -> 192.0.2.10:51000 in via em0 reply: DENY by rule 00700 (deny ip from any to any), conditional (see the notes)\n" + noteLines},
		{name: "unset variable", args: []string{"rules", "eval", write("unset.sh", "$fw add 100 deny ip from any to any\n"), "--packet", "udp 203.0.113.5:1 -> 192.0.2.10:2 in"},
			code: 2, inStderr: "unset.sh:1: fw is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := firewardenRaw(t, tt.args...)
			if r.code != tt.code || (tt.code == 0 && r.stdout != tt.stdout) || !strings.Contains(r.stderr, tt.inStderr) {
				t.Errorf("firewarden %s = exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr with %q", strings.Join(tt.args, " "), r.code, r.stdout, r.stderr, tt.code, tt.stdout, tt.inStderr)
			}
		})
	}
	r := firewardenRaw(t, "--json", "rules", "eval", script, "--packet", "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via em0")
	var got []struct{ Conditional []string }
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 0 || len(got) != 1 {
		t.Fatalf("--json rules eval = exit %d, stdout %q (%v); want one result", r.code, r.stdout, err)
	}
	want := []string{"assumed established (an ACK), since the packet gives no TCP flags", script + ":3: not modelled: command kldstat", script + ":3: not modelled: command kldload"}
	if diff := cmp.Diff(want, got[0].Conditional); diff != "" {
		t.Errorf("--json rules eval conditional (-want +got):\n%s", diff)
	}
	r = firewardenRaw(t, "rules", "lint", script)
	if want := "each result holds only if they do not change it:\n  " + script + ":3: not modelled: command kldstat\n  " + script + ":3: not modelled: command kldload\n"; !strings.HasSuffix(r.stdout, want) {
		t.Errorf("rules lint %s = exit %d, stdout %q; want it to end with %q", script, r.code, r.stdout, want)
	}
}
