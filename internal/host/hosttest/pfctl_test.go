package hosttest_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/firewarden/firewarden/internal/host/hosttest"
)

const pfctl = "/sbin/pfctl"

// TestPfctl walks one session through the emulated pfctl: tables in an anchor, enable
// references, rules, and the runs that must be recorded as forbidden.
func TestPfctl(t *testing.T) {
	root := t.TempDir()
	m, err := hosttest.NewMac(root, hosttest.Mac15())
	if err != nil {
		t.Fatal(err)
	}
	const anchor = "com.apple/400.test"
	steps := []struct {
		args         []string
		code         int
		stdout       string
		stderrSubstr string
	}{
		{args: []string{"-a", anchor, "-t", "t", "-T", "show"}, code: 1, stderrSubstr: "pfctl: Table does not exist.\n"},
		{args: []string{"-a", anchor, "-t", "t", "-T", "add", "192.0.2.1", "198.51.100.0/24", "2001:db8::/64"}, stderrSubstr: "1 table created.\n3/3 addresses added.\n"},
		{args: []string{"-a", anchor, "-t", "t", "-T", "add", "192.0.2.1", "192.0.2.2"}, stderrSubstr: "1/2 addresses added.\n"},
		{args: []string{"-a", anchor, "-t", "t", "-T", "add", "example.com"}, code: 1, stderrSubstr: "cannot decode example.com"},
		{args: []string{"-a", anchor, "-t", "t", "-T", "add", "10.0.0.1/8"}, code: 1, stderrSubstr: "pfctl: Invalid argument.\n"},
		{args: []string{"-a", anchor, "-t", "t", "-T", "show"}, stdout: "   192.0.2.1\n   192.0.2.2\n   198.51.100.0/24\n   2001:db8::/64\n"},
		{args: []string{"-a", anchor, "-t", "t", "-T", "delete", "192.0.2.2", "203.0.113.9"}, stderrSubstr: "1/2 addresses deleted.\n"},
		{args: []string{"-a", anchor, "-t", "t", "-T", "replace", "-f", "/tmp/list"}, stderrSubstr: "1 addresses added.\n3 addresses deleted.\n"},
		{args: []string{"-a", anchor, "-t", "t", "-T", "show"}, stdout: "   203.0.113.0/24\n"},
		{args: []string{"-a", anchor, "-f", "/tmp/rules"}},
		{args: []string{"-a", anchor, "-s", "rules"}, stdout: "block drop in quick from <t> to any\n"},
		{args: []string{"-a", anchor, "-t", "t", "-T", "show"}, stdout: "   203.0.113.0/24\n"},
		{args: []string{"-s", "rules"}, stdout: "anchor \"com.apple/*\" all\n"},
		{args: []string{"-s", "memory"}, stdout: "table-entries hard limit   200000\n"},
		{args: []string{"-s", "info"}, stdout: "Status: Disabled"},
		{args: []string{"-E"}, stderrSubstr: "pf enabled\nToken : 13540967312582709951\n"},
		{args: []string{"-E"}, stderrSubstr: "Token : 13540967312582709952\n"},
		{args: []string{"-s", "info"}, stdout: "Status: Enabled"},
		{args: []string{"-X", "13540967312582709951"}},
		{args: []string{"-X", "13540967312582709951"}, code: 1, stderrSubstr: "pfctl: DIOCSTOPREF: Invalid argument\n"},
		{args: []string{"-s", "info"}, stdout: "Status: Enabled"},
		{args: []string{"-X", "13540967312582709952"}},
		{args: []string{"-s", "info"}, stdout: "Status: Disabled"},
		{args: []string{"-a", anchor, "-F", "rules"}, stderrSubstr: "rules cleared.\n"},
		{args: []string{"-a", anchor, "-s", "rules"}},
		{args: []string{"-a", anchor, "-t", "t", "-T", "show"}, stdout: "   203.0.113.0/24\n"},
	}
	if err := os.MkdirAll(filepath.Join(root, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "tmp/list"), []byte("# comment\n203.0.113.0/24\n"), 0o644)
	os.WriteFile(filepath.Join(root, "tmp/rules"), []byte("block drop in quick from <t> to any\n"), 0o644)
	for _, s := range steps {
		res := run(t, m, pfctl, s.args...)
		if res.ExitCode != s.code || !strings.Contains(string(res.Stdout), s.stdout) || !strings.Contains(string(res.Stderr), s.stderrSubstr) {
			t.Errorf("pfctl %q = exit %d, stdout %q, stderr %q; want exit %d, stdout containing %q, stderr containing %q",
				s.args, res.ExitCode, res.Stdout, res.Stderr, s.code, s.stdout, s.stderrSubstr)
		}
	}
	if f := m.State().PF.Forbidden; len(f) != 0 {
		t.Errorf("Forbidden = %q, want none", f)
	}

	// A table defined in the anchor's rules is emptied by a reload, as in pf.
	os.WriteFile(filepath.Join(root, "tmp/rules"), []byte("table <t> persist\nblock drop in quick from <t> to any\n"), 0o644)
	run(t, m, pfctl, "-a", anchor, "-f", "/tmp/rules")
	if res := run(t, m, pfctl, "-a", anchor, "-t", "t", "-T", "show"); len(res.Stdout) != 0 {
		t.Errorf("after reloading rules that define <t>: show = %q, want empty", res.Stdout)
	}

	for _, forbidden := range [][]string{{"-d"}, {"-f", "/etc/pf.conf"}, {"-F", "all"}} {
		run(t, m, pfctl, forbidden...)
	}
	if res := run(t, m, pfctl, "-s", "rules"); len(res.Stdout) != 0 {
		t.Errorf("main ruleset after flushing it = %q, want empty", res.Stdout)
	}
	want := [][]string{{pfctl, "-d"}, {pfctl, "-f", "/etc/pf.conf"}, {pfctl, "-F", "all"}}
	if got := m.State().PF.Forbidden; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("Forbidden = %q, want %q", got, want)
	}
}

// TestPfctlTableEntriesLimit: adding beyond the limit fails with ENOMEM and changes nothing.
func TestPfctlTableEntriesLimit(t *testing.T) {
	st := hosttest.Mac15()
	st.PF = &hosttest.PFState{TableEntriesLimit: 2}
	m := newMac(t, st)
	run(t, m, pfctl, "-a", "a", "-t", "t", "-T", "add", "192.0.2.1", "192.0.2.2")
	res := run(t, m, pfctl, "-a", "a", "-t", "t", "-T", "add", "192.0.2.3")
	if res.ExitCode != 1 || !strings.Contains(string(res.Stderr), "pfctl: Cannot allocate memory.") {
		t.Errorf("add beyond the limit = exit %d, stderr %q; want 1, Cannot allocate memory", res.ExitCode, res.Stderr)
	}
	if got := m.State().PF.Anchors["a"].Tables["t"]; len(got) != 2 {
		t.Errorf("table after refused add = %q, want 2 entries", got)
	}
	if res := run(t, m, pfctl, "-s", "memory"); !strings.Contains(string(res.Stdout), "table-entries hard limit        2\n") {
		t.Errorf("-s memory = %q", res.Stdout)
	}
}
