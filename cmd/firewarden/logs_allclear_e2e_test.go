package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The counts of the summary's header add up to the lines read, blank lines included, for every
// log in the fwlog testdata and for input made of blank lines, firewall lines and other text.
func TestLogsCountsAddUp(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join(logdata, "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	var logs []string
	for _, f := range inputs {
		if dir := filepath.Base(filepath.Dir(f)); dir == "golden" || dir == "expected" || strings.HasSuffix(f, "README.md") {
			continue
		}
		logs = append(logs, f)
	}
	mixed := filepath.Join(t.TempDir(), "mixed.log")
	os.WriteFile(mixed, []byte("\n\nhello\n   \nMar  1 11:00:00 box kernel: ipfw: 100 Deny TCP 203.0.113.9:4000 192.0.2.1:22 in via en0\n\t\nMar  1 11:00:01 box kernel: ipfw: 100 Deny TCP nonsense\n\n"), 0o644)
	logs = append(logs, mixed)
	for _, f := range logs {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := firewardenIn(t, nil, "--json", "logs", "summarize", f)
			var rep struct{ Lines, Parsed, Malformed, Unrecognised, Blank int64 }
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatalf("logs summarize --json %s: exit %d, %v\n%s", f, r.code, err, r.stderr)
			}
			if sum := rep.Parsed + rep.Malformed + rep.Unrecognised + rep.Blank; sum != rep.Lines {
				t.Errorf("logs summarize %s: parsed %d + malformed %d + not firewall %d + blank %d = %d, want the %d lines read",
					f, rep.Parsed, rep.Malformed, rep.Unrecognised, rep.Blank, sum, rep.Lines)
			}
		})
	}
	r := firewardenIn(t, nil, "logs", "summarize", mixed)
	if want := "8 lines in 1 file: 1 parsed (ipfw 1), 1 malformed, 1 not firewall lines, 5 blank\n"; !strings.HasPrefix(r.stdout, want) {
		t.Errorf("logs summarize header = %q, want %q", strings.SplitAfter(r.stdout, "\n")[0], want)
	}
}

// A summary of input with no firewall line at all is no all-clear: it says so on stderr, naming
// the files, and exits 1; the summary is printed as always.
func TestLogsSummarizeNoFirewallLine(t *testing.T) {
	dir := t.TempDir()
	auth := filepath.Join(dir, "auth.log")
	os.WriteFile(auth, []byte("Mar  1 11:00:00 box sshd[1]: Server listening on 0.0.0.0 port 22.\n\n"), 0o644)
	empty := filepath.Join(dir, "empty.log")
	os.WriteFile(empty, nil, 0o644)
	fw := filepath.Join(logdata, "ipfw/ipfw-macosx.log")
	for _, tt := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"not a firewall log", []string{"logs", "summarize", auth}, 1,
			"firewarden: logs summarize: no line of any known firewall log format (ipfw, pf, alf, netfilter, filterlog, windows, mikrotik) in " + auth + ": 2 lines, 1 not firewall lines, 1 blank; is it the right file?\n"},
		{"two files, json", []string{"--json", "logs", "summarize", auth, empty}, 1,
			"firewarden: logs summarize: no line of any known firewall log format (ipfw, pf, alf, netfilter, filterlog, windows, mikrotik) in " + auth + ", " + empty + ": 2 lines, 1 not firewall lines, 1 blank; is it the right file?\n"},
		// The classic report of no ipfw line is empty, as the 2005 script's was.
		{"classic", []string{"logs", "summarize", "--report", "classic", auth}, 1,
			"firewarden: logs summarize: no ipfw line in " + auth + ": --report classic reads ipfw logs only; is it the right file?\n"},
		{"a firewall log", []string{"logs", "summarize", fw, auth}, 0, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := firewardenIn(t, nil, tt.args...)
			if r.code != tt.code || r.stderr != tt.stderr || (r.stdout == "" && tt.name != "classic") {
				t.Errorf("firewarden %q = exit %d, stderr %q, %d bytes of stdout; want exit %d, stderr %q and the summary", tt.args, r.code, r.stderr, len(r.stdout), tt.code, tt.stderr)
			}
		})
	}
}
