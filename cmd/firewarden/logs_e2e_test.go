package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const logdata = "../../internal/fwlog/testdata"

// firewardenIn runs the built binary with args and stdin, FIREWARDEN_ROOT cleared.
func firewardenIn(t *testing.T, stdin []byte, args ...string) run {
	t.Helper()
	cmd := exec.Command(fwBin, args...)
	cmd.Env = append(os.Environ(), "FIREWARDEN_ROOT=")
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return run{out.String(), errb.String(), code}
}

// The classic report through the real binary matches the 2005 Perl script's output byte for byte.
func TestLogsClassicMatchesPerl(t *testing.T) {
	r := firewardenIn(t, nil, "logs", "summarize", "--report", "classic",
		filepath.Join(logdata, "ipfw/ipfw-freebsd-syslog.log"), filepath.Join(logdata, "ipfw/ipfw-macosx.log"))
	want, err := os.ReadFile(filepath.Join(logdata, "expected/hickman-perl-on-ipfw-freebsd-syslog+ipfw-macosx.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if diff := cmp.Diff(string(want), r.stdout); diff != "" {
		t.Errorf("classic report differs from the Perl script (-perl +firewarden):\n%s", diff)
	}
}

func TestLogsSummarizeAllFormatsAtOnce(t *testing.T) {
	files := []string{"ipfw/ipfw-macosx.log", "pf/pflog-openbsd-tcpdump.txt", "alf/appfirewall-plaso.log", "netfilter/netfilter-beats-iptables.log"}
	args := []string{"--json", "logs", "summarize", "--show-malformed", "3"}
	for _, f := range files {
		args = append(args, filepath.Join(logdata, f))
	}
	r := firewardenIn(t, nil, args...)
	var rep struct {
		Inputs  []string
		Formats map[string]int64
		Actions []struct{ Format, Action string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
		t.Fatalf("exit %d, %v:\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	for _, f := range []string{"ipfw", "pf", "alf", "netfilter"} {
		if rep.Formats[f] == 0 {
			t.Errorf("formats = %v: nothing parsed as %s", rep.Formats, f)
		}
	}
	if len(rep.Inputs) != 4 || len(rep.Actions) < 4 {
		t.Errorf("inputs %d actions %d", len(rep.Inputs), len(rep.Actions))
	}
}

func TestLogsStdinCompressed(t *testing.T) {
	plain, err := os.ReadFile(filepath.Join(logdata, "ipfw/ipfw-freebsd-syslog.log"))
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(plain)
	w.Close()
	r := firewardenIn(t, gz.Bytes(), "logs", "summarize", "--top", "3", "-")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "14 lines in 1 file: 13 parsed (ipfw 13), 1 malformed") {
		t.Errorf("gzip on stdin: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "Top denied destination ports") || !strings.Contains(r.stdout, "netbios-ns") {
		t.Errorf("no denied ports with service names:\n%s", r.stdout)
	}
}

func TestLogsBadInput(t *testing.T) {
	f := filepath.Join(logdata, "ipfw/ipfw-macosx.log")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"logs"}, "logs needs a verb"},
		{[]string{"logs", "summarize"}, "needs at least one FILE"},
		{[]string{"logs", "summarize", "/no/such.log"}, "open /no/such.log: no such file or directory"},
		{[]string{"logs", "summarize", "--format", "cisco", f}, `--format "cisco"`},
		{[]string{"logs", "summarize", "--report", "short", f}, `--report "short"`},
		{[]string{"logs", "summarize", "--report", "classic", "--format", "pf", f}, "classic reads ipfw logs only"},
		{[]string{"logs", "summarize", "--top", "-1", f}, "--top"},
		{[]string{"logs", "summarize", logdata}, "is a directory"},
		{[]string{"logs", "summarize", f, "/no/such.log"}, "open /no/such.log"},
		{[]string{"logs", "summarize", "-", "-"}, "given twice"},
		{[]string{"logs", "summarize", "--report", "classic", "--max-keys", "10", f}, "takes no --max-keys"},
	} {
		r := firewardenIn(t, nil, tt.args...)
		if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, tt.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%q: exit %d stdout %q stderr %q; want 2, nothing on stdout, one line with %q", tt.args, r.code, r.stdout, r.stderr, tt.want)
		}
	}
}

func TestLogsTruncatedCompressedFails(t *testing.T) {
	plain, err := os.ReadFile(filepath.Join(logdata, "ipfw/ipfw-freebsd-syslog.log"))
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	for range 200 {
		w.Write(plain)
	}
	w.Close()
	cut := gz.Bytes()[:gz.Len()/2]
	r := firewardenIn(t, cut, "logs", "summarize", "-")
	if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, "truncated compressed file") {
		t.Errorf("truncated gzip: exit %d stdout %q stderr %q; want exit 2 naming the truncation", r.code, r.stdout, r.stderr)
	}
}

const ruledata = "../../internal/rules/testdata/ipfw"

func TestRulesEvalAndLint(t *testing.T) {
	set := filepath.Join(ruledata, "article-panther.list")
	r := firewardenIn(t, nil, "rules", "eval", set, "--explain", "--packet", "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup: DENY by rule 12190") || strings.Count(r.stdout, "\n") != 7 {
		t.Errorf("rules eval --explain: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	pk := filepath.Join(t.TempDir(), "packets")
	os.WriteFile(pk, []byte("# the article's cases\ntcp 203.0.113.5:51234 -> 192.0.2.10:80 in via en0 setup\nudp 203.0.113.5:5353 -> 192.0.2.10:137 in via en0\n"), 0o644)
	r = firewardenIn(t, nil, "--json", "rules", "eval", set, "--packets", pk)
	var res []struct{ Verdict, Rule string }
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || len(res) != 2 || res[0].Rule != "02070" || res[1].Rule != "65535" || res[1].Verdict != "allow" {
		t.Errorf("rules eval --packets --json: %v %+v\n%s", err, res, r.stdout)
	}
	r = firewardenIn(t, nil, "rules", "lint", set, "--keep", "203.0.113.5:22")
	if r.code != 1 || !strings.Contains(r.stdout, "[no-final-deny]") || !strings.Contains(r.stdout, "[lockout]") || !strings.Contains(r.stdout, "is denied by rule 12190") {
		t.Errorf("rules lint: exit %d\n%s", r.code, r.stdout)
	}
	clean := filepath.Join(t.TempDir(), "clean.list")
	os.WriteFile(clean, []byte("100 allow ip from any to any via lo*\n200 allow tcp from any to any established\n300 allow tcp from any to any out setup\n400 allow udp from any to any out\n500 deny ip from any to any\n"), 0o644)
	if r = firewardenIn(t, nil, "rules", "lint", clean); r.code != 0 || !strings.Contains(r.stdout, "no findings") {
		t.Errorf("rules lint of a clean set: exit %d\n%s", r.code, r.stdout)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"rules"}, "rules needs a verb"},
		{[]string{"rules", "eval", set}, "needs --packet P (repeatable) or --packets FILE"},
		{[]string{"rules", "eval", set, "--packet", "tcp nope"}, "want PROTO SRC -> DST"},
		{[]string{"rules", "eval", "/no/such/set", "--packet", "x"}, "no such file"},
		{[]string{"rules", "lint", set, "--keep", "host"}, "--keep"},
		{[]string{"rules", "eval", set, "--default", "maybe", "--packet", "x"}, "--default"},
	} {
		r := firewardenIn(t, nil, tt.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%q: exit %d stderr %q; want 2 and one line with %q", tt.args, r.code, r.stderr, tt.want)
		}
	}
}

func TestRulesPF(t *testing.T) {
	root := "../../internal/rules/testdata/pf/hardening"
	r := firewardenIn(t, nil, "--root", root, "rules", "eval", filepath.Join(root, "etc/pf.conf"), "--packet", "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup")
	if r.code != 0 || !strings.Contains(r.stdout, ": DENY by rule") || !strings.Contains(r.stdout, "(block in all)") {
		t.Errorf("rules eval pf: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = firewardenIn(t, nil, "--root", root, "rules", "lint", filepath.Join(root, "etc/pf.conf"), "--keep", "203.0.113.5:22")
	if r.code != 1 || !strings.Contains(r.stdout, "[lockout]") || !strings.Contains(r.stdout, "is denied by") {
		t.Errorf("rules lint pf --keep: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	stock := "../../internal/rules/testdata/pf/macos-stock"
	r = firewardenIn(t, nil, "--root", stock, "rules", "eval", filepath.Join(stock, "etc/pf.conf"), "--packet", "tcp 203.0.113.5:51234 -> 192.0.2.10:22 in via en0 setup")
	if r.code != 0 || !strings.Contains(r.stdout, ": ALLOW") {
		t.Errorf("stock macOS pf.conf passes everything: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
