package main

import (
	"strings"
	"testing"
)

// Every --packet given is evaluated, in order: a second one is never dropped in favour of the
// last.
func TestRulesEvalRepeatedPacket(t *testing.T) {
	conf := writeTemp(t, "pf.conf", "block in all\npass out keep state\n")
	r := firewardenRaw(t, "rules", "eval", conf,
		"--packet", "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 flags S",
		"--packet", "udp 192.0.2.53:53 -> 192.0.2.10:51000 in via en0 reply")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "tcp 203.0.113.5:51234") || !strings.Contains(lines[0], ": DENY") ||
		!strings.HasPrefix(lines[1], "udp 192.0.2.53:53") || !strings.Contains(lines[1], ": ALLOW") {
		t.Errorf("rules eval with two --packet = exit %d, stdout %q, stderr %q; want both verdicts, in order", r.code, r.stdout, r.stderr)
	}
}
