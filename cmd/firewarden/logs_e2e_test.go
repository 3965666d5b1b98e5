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
