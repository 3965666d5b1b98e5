package follow

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/host/hosttest"
)

// These tests run real programs through host.ExecStarter: stand-ins for journalctl and log,
// shell scripts written under a temporary --root. Each records its argv (one line per run, words
// separated by "|") in ROOT/runs.log and prints ROOT/fixture.

// standIn writes a stand-in script that records its run, then runs body.
func standIn(t *testing.T, root, sys, body string) {
	t.Helper()
	hosttest.StandInScript(t, root, sys, hosttest.RecordRun+body)
}

// Stand-in bodies: print the fixture and keep running as the real programs do, or exit.
const (
	printsAndRuns  = "cat \"$root/fixture\"\nexec sleep 60\n"
	printsAndExits = "cat \"$root/fixture\"\nexit 3\n"
)

// standInRoot is a temporary root holding fixture as ROOT/fixture.
func standInRoot(t *testing.T, fixture string) (string, host.Root) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "fixture"), []byte(fixture), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, mustRoot(t, dir)
}

func mustRoot(t *testing.T, dir string) host.Root {
	t.Helper()
	r, err := host.NewRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// journalFixture is the linux cases as journalctl -o short-iso-precise prints them.
func journalFixture(t *testing.T) []string {
	var lines []string
	for _, c := range linuxCases {
		lines = append(lines, shortISOPrecise(t, c.line, 2022))
	}
	return lines
}

func TestJournalStandIn(t *testing.T) {
	want := journalFixture(t)
	dir, root := standInRoot(t, strings.Join(want, "\n")+"\n")
	standIn(t, dir, JournalctlPath, printsAndRuns)
	var log hosttest.Lines
	j := NewJournal(JournalOptions{Root: root, Units: []string{"ssh"}, Log: log.Logf})
	got := newCollector()
	run := start(t, j, got.emit)
	lines := got.wait(t, len(want))
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	for i, c := range linuxCases {
		f := checkParsed(t, c, lines[i])
		if c.addr != "" && (f.Time.Year() != 2022 || f.PID == 0) {
			t.Errorf("authwatch.Parse(%q) = %+v, want the 2022 time and the pid", lines[i], f)
		}
	}
	if err := run.stop(t); err != nil {
		t.Errorf("Run() = %v, want nil after cancel", err)
	}
	wantArgv := []string{"--follow", "--lines=0", "--output=short-iso-precise", "--all", "--quiet", "--no-pager",
		"_COMM=sshd", "_COMM=sshd-session", "_COMM=sshd-auth", "+", "_SYSTEMD_UNIT=ssh.service"}
	if diff := cmp.Diff([][]string{wantArgv}, hosttest.Runs(t, dir)); diff != "" {
		t.Errorf("journalctl argv (-want +got):\n%s", diff)
	}
	if log.String() != "" {
		t.Errorf("diagnostics %q, want none", log.String())
	}
	for _, l := range got.lines {
		if l.Source != "journal" || l.Read.IsZero() {
			t.Errorf("Line{Source: %q, Read: %v}, want journal and a read time", l.Source, l.Read)
		}
	}
}

// A journalctl that ends is started again, and its lines keep coming.
func TestJournalStandInRestarts(t *testing.T) {
	want := journalFixture(t)
	dir, root := standInRoot(t, strings.Join(want, "\n")) // no final newline: the last line still counts
	standIn(t, dir, JournalctlPath, "echo 'journalctl: lost the journal' >&2\n"+printsAndExits)
	var log hosttest.Lines
	j := NewJournal(JournalOptions{Root: root, Restart: Restart{MinBackoff: time.Millisecond}, Log: log.Logf})
	got := newCollector()
	run := start(t, j, got.emit)
	lines := got.wait(t, 3*len(want))
	run.stop(t)
	for i := range 3 {
		if diff := cmp.Diff(want, lines[i*len(want):(i+1)*len(want)]); diff != "" {
			t.Errorf("run %d's lines (-want +got):\n%s", i+1, diff)
		}
	}
	if n := len(hosttest.Runs(t, dir)); n < 3 {
		t.Errorf("journalctl ran %d times, want at least 3", n)
	}
	wantLog := "journalctl stopped after 9 line(s) (/usr/bin/journalctl --follow --lines=0 --output=short-iso-precise --all --quiet --no-pager _COMM=sshd _COMM=sshd-session _COMM=sshd-auth exited with status 3: journalctl: lost the journal); restarting in 1ms"
	if !strings.Contains(log.String(), wantLog) {
		t.Errorf("diagnostics lack %q:\n%s", wantLog, log.String())
	}
}

func TestJournalStandInGivesUp(t *testing.T) {
	dir, root := standInRoot(t, "")
	standIn(t, dir, JournalctlPath, "echo 'Failed to add match: Invalid argument' >&2\nexit 1\n")
	var log hosttest.Lines
	// MinBackoff 100ms makes a run shorter than 1s unhealthy: the stand-in exits at once.
	j := NewJournal(JournalOptions{Root: root, Restart: Restart{MinBackoff: 100 * time.Millisecond, GiveUp: 3}, Log: log.Logf})
	run := start(t, j, newCollector().emit)
	err := run.wait(t)
	want := "journalctl failed 3 times in a row without a line (last: /usr/bin/journalctl --follow"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "exited with status 1: Failed to add match: Invalid argument") {
		t.Errorf("Run() = %v, want %q … with the exit status and stderr", err, want)
	}
	if n := len(hosttest.Runs(t, dir)); n != 3 {
		t.Errorf("journalctl ran %d times, want 3", n)
	}
	if n := log.Count("restarting in"); n != 2 {
		t.Errorf("diagnostics %q: want 2 restarts said", log.String())
	}
}

func TestProgramMissing(t *testing.T) {
	dir := t.TempDir()
	root := mustRoot(t, dir)
	tests := []struct {
		src  Source
		want string
	}{
		{NewJournal(JournalOptions{Root: root}), "/usr/bin/journalctl is not under " + dir + ": this system has no systemd journal; follow sshd's log file instead"},
		{NewUnifiedLog(UnifiedLogOptions{Root: root}), "/usr/bin/log is not under " + dir + ": the unified log exists only on macOS"},
	}
	for _, tt := range tests {
		t.Run(tt.src.Name(), func(t *testing.T) {
			err := start(t, tt.src, newCollector().emit).wait(t)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Run() = %v, want %q…", err, tt.want)
			}
		})
	}
}

func TestJournalCmd(t *testing.T) {
	base := []string{"--follow", "--lines=0", "--output=short-iso-precise", "--all", "--quiet", "--no-pager", "_COMM=sshd", "_COMM=sshd-session", "_COMM=sshd-auth"}
	tests := []struct {
		units []string
		want  []string
	}{
		{nil, base},
		{[]string{"ssh.service"}, append(append([]string(nil), base...), "+", "_SYSTEMD_UNIT=ssh.service")},
		{[]string{"sshd", "ssh.socket", "ssh@1-10.0.0.1:22-10.0.0.2:5000.service"}, append(append([]string(nil), base...), "+",
			"_SYSTEMD_UNIT=sshd.service", "_SYSTEMD_UNIT=ssh.socket", "_SYSTEMD_UNIT=ssh@1-10.0.0.1:22-10.0.0.2:5000.service")},
	}
	for _, tt := range tests {
		c := NewJournal(JournalOptions{Units: tt.units}).Cmd()
		if c.Path != JournalctlPath {
			t.Errorf("Cmd().Path = %q, want %q", c.Path, JournalctlPath)
		}
		if diff := cmp.Diff(tt.want, c.Args); diff != "" {
			t.Errorf("NewJournal(Units: %q).Cmd().Args (-want +got):\n%s", tt.units, diff)
		}
	}
}

func TestJournalBadUnit(t *testing.T) {
	for _, u := range []string{"", "ssh service", "ssh\n.service", "-x"} {
		err := NewJournal(JournalOptions{Units: []string{"ssh.service", u}}).Run(t.Context(), func(Line) {})
		if err == nil || !strings.Contains(err.Error(), "is not a unit name: give one such as ssh.service") {
			t.Errorf("Run() with unit %q = %v, want a unit name error", u, err)
		}
	}
}

// unifiedFixture is what the log stand-in prints: the banner `log stream` starts with, then the
// mac cases as ndjson records, with a record of another event type and one broken record among
// them (both skipped).
func unifiedFixture(t *testing.T) string {
	lines := []string{`Filtering the log data using "process == "sshd" OR process == "sshd-session" OR process == "sshd-auth""`}
	for i, c := range macCases {
		lines = append(lines, ndjsonRecord(t, c.line))
		if i == 2 {
			lines = append(lines,
				`{"eventType":"activityCreateEvent","eventMessage":"","processImagePath":"/usr/sbin/sshd","processID":3186,"timestamp":"2020-03-23 06:47:42.801700-0700"}`,
				`{"eventType":"logEvent","eventMessage":"Failed password for root from 192.0.2.9 port 1 ssh2","processImagePath":`)
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

func TestUnifiedLogStandIn(t *testing.T) {
	dir, root := standInRoot(t, unifiedFixture(t))
	standIn(t, dir, LogPath, printsAndRuns)
	var log hosttest.Lines
	u := NewUnifiedLog(UnifiedLogOptions{Root: root, Log: log.Logf})
	got := newCollector()
	run := start(t, u, got.emit)
	lines := got.wait(t, len(macCases))
	for i, c := range macCases {
		checkParsed(t, c, lines[i])
		// The decoded line is the fixture line but for the column padding of --style syslog.
		if want := strings.Replace(c.line, "  localhost", " localhost", 1); lines[i] != want {
			t.Errorf("line %d = %q, want %q", i, lines[i], want)
		}
	}
	if err := run.stop(t); err != nil {
		t.Errorf("Run() = %v, want nil after cancel", err)
	}
	if len(got.texts()) != len(macCases) {
		t.Errorf("%d lines, want %d: the banner and the other records skipped", len(got.texts()), len(macCases))
	}
	wantArgv := []string{"stream", "--style", "ndjson", "--type", "log", "--level", "info", "--predicate", `process == "sshd" OR process == "sshd-session" OR process == "sshd-auth"`}
	if diff := cmp.Diff([][]string{wantArgv}, hosttest.Runs(t, dir)); diff != "" {
		t.Errorf("log argv (-want +got):\n%s", diff)
	}
	if log.Count("cannot be read") != 1 {
		t.Errorf("diagnostics %q, want the broken record said once", log.String())
	}
	for _, l := range got.lines {
		if l.Source != "unifiedlog" {
			t.Errorf("Line.Source = %q, want unifiedlog", l.Source)
		}
	}
}

func TestUnifiedLogStandInRestarts(t *testing.T) {
	dir, root := standInRoot(t, unifiedFixture(t))
	standIn(t, dir, LogPath, printsAndExits)
	var log hosttest.Lines
	u := NewUnifiedLog(UnifiedLogOptions{Root: root, Level: "debug", Restart: Restart{MinBackoff: time.Millisecond}, Log: log.Logf})
	got := newCollector()
	run := start(t, u, got.emit)
	got.wait(t, 2*len(macCases))
	run.stop(t)
	r := hosttest.Runs(t, dir)
	if len(r) < 2 || r[0][6] != "debug" {
		t.Errorf("log runs %q, want at least 2 with --level debug", r)
	}
	if !strings.Contains(log.String(), "log stream stopped after 9 line(s) (/usr/bin/log stream --style ndjson --type log --level debug --predicate 'process == \"sshd\"") {
		t.Errorf("diagnostics lack the restart:\n%s", log.String())
	}
}
