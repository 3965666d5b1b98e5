package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// certaintyPF is a pf rule set whose verdicts are exact for some packets and rest on a table
// filled at run time, an interface or a missing TCP flag for others.
const certaintyPF = "table <bruteforce> persist\n" +
	"block all\n" +
	"block in quick proto tcp from <bruteforce> to port 22\n" +
	"pass in on en0 proto tcp to port 22 keep state\n" +
	"pass out proto { tcp udp } keep state\n" +
	"pass in inet proto icmp icmp-type echoreq\n" +
	"block in quick proto tcp flags F/F\n"

// certaintyPackets cover each kind of certainty: exact, an unsure rule, each field not given,
// and an ICMP error passing on state.
const certaintyPackets = "# exact: DNS in is blocked, an ICMP error about our connection passes on its state, a FIN scan is blocked\n" +
	"udp 203.0.113.5:5353 -> 192.0.2.10:53 in via en0\n" +
	"icmp 198.51.100.1 -> 192.0.2.10 in via en0 type 3 code 4 about \"tcp 192.0.2.10:51000 -> 203.0.113.5:443 out via en0\"\n" +
	"tcp 203.0.113.5:51234 -> 192.0.2.10:80 in via en0 flags F\n" +
	"# an unsure rule: the source may be in <bruteforce>\n" +
	"tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 flags S\n" +
	"# no flags given: taken as established\n" +
	"tcp 203.0.113.5:51234 -> 192.0.2.10:80 in via en0\n" +
	"# no interface given, while rules name en0\n" +
	"tcp 203.0.113.5:51234 -> 192.0.2.10:80 in setup\n" +
	"# no ICMP type given, while a rule tests it\n" +
	"icmp 203.0.113.5 -> 192.0.2.10 in via en0\n"

func writeCertaintyFiles(t *testing.T) (dir, conf, pkts string) {
	t.Helper()
	dir = t.TempDir()
	conf, pkts = filepath.Join(dir, "pf.conf"), filepath.Join(dir, "packets")
	for name, data := range map[string]string{conf: certaintyPF, pkts: certaintyPackets} {
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, conf, pkts
}

// TestRulesCertaintyGolden pins how `rules eval` and `rules lint` show certainty, as text and
// JSON (go test ./internal/cli -run TestRulesCertaintyGolden -update rewrites the files).
func TestRulesCertaintyGolden(t *testing.T) {
	dir, conf, pkts := writeCertaintyFiles(t)
	notes := filepath.Join(dir, "notes.conf")
	if err := os.WriteFile(notes, []byte("scrub in all\npass all\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, args := range [][]string{
		{"rules", "eval", conf, "--packets", pkts},
		{"--json", "rules", "eval", conf, "--packets", pkts},
		{"rules", "lint", conf},
		{"--json", "rules", "lint", conf},
		{"rules", "eval", notes, "--packet", "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in"},
		{"rules", "lint", notes},
		{"--json", "rules", "lint", notes},
	} {
		out, errs, code := runCLI(t, nil, args...)
		if code != 0 && code != 1 || errs != "" {
			t.Fatalf("firewarden %q = exit %d, stderr %q; want exit 0 or 1 and no stderr", args, code, errs)
		}
		b.WriteString("$ firewarden " + strings.Join(args, " ") + "\n" + out + "\n")
	}
	golden(t, "rules/certainty.golden", strings.ReplaceAll(b.String(), dir, "DIR"))
}

// TestRulesStrict checks that --strict refuses, with one line naming the first reason and the
// way to an exact answer, what is not exact, and passes what is.
func TestRulesStrict(t *testing.T) {
	dir, conf, _ := writeCertaintyFiles(t)
	notes := filepath.Join(dir, "notes.conf")
	if err := os.WriteFile(notes, []byte("scrub in all\nblock all\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		args   []string
		code   int
		stderr string // a part of the one line
	}{
		{"exact", []string{"rules", "eval", conf, "--strict", "--packet", "udp 203.0.113.5:5353 -> 192.0.2.10:53 in via en0"}, 0, ""},
		{"exact scan", []string{"rules", "eval", conf, "--strict", "--packet", "tcp 203.0.113.5:51234 -> 192.0.2.10:80 in via en0 flags F"}, 0, ""},
		{"no flags", []string{"rules", "eval", conf, "--strict", "--packet", "tcp 203.0.113.5:51234 -> 192.0.2.10:80 in via en0"}, 2,
			"not exact: assumed established (an ACK), since the packet gives no TCP flags; to make it exact, add setup, established or flags LETTERS"},
		{"no interface", []string{"rules", "eval", conf, "--strict", "--packet", "tcp 203.0.113.5:51234 -> 192.0.2.10:80 in setup"}, 2,
			"to make it exact, add via IF to the packet"},
		{"unsure rule", []string{"rules", "eval", conf, "--strict", "--packet", "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 flags S"}, 2,
			"pf.conf:3: table <bruteforce> is filled at run time, so its contents are unknown; to make it exact, nothing in the packet can"},
		{"notes", []string{"rules", "eval", notes, "--strict", "--packet", "udp 203.0.113.5:5353 -> 192.0.2.10:53 in via en0"}, 2, "notes.conf:1"},
		{"lint exact", []string{"rules", "lint", conf, "--strict"}, 0, ""},
		{"lint notes", []string{"rules", "lint", notes, "--strict"}, 2, "rules lint --strict: " + notes + ": not exact: " + notes + ":1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := runCLI(t, nil, tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.stderr) || tt.code == 2 && (out != "" || strings.Count(errs, "\n") != 1) {
				t.Errorf("firewarden %q = exit %d, stdout %q, stderr %q; want exit %d, nothing on stdout if refused, one line with %q", tt.args, code, out, errs, tt.code, tt.stderr)
			}
		})
	}
}
