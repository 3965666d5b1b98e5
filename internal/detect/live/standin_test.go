package live_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/detect/input"
	"github.com/firewarden/firewarden/internal/detect/live"
	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/host/hosttest"
)

// These tests run real programs through ExecStarter: stand-ins for eslogger and log, shell
// scripts written under a temporary --root. Each records its argv (one line per run, words
// separated by "|") in ROOT/runs.log and prints the fixture ROOT/fixture.

func macRoot(t *testing.T, fixtureName string) string {
	t.Helper()
	root := t.TempDir()
	if fixtureName != "" {
		if err := os.WriteFile(filepath.Join(root, "fixture"), []byte(fixture(t, fixtureName)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// execConfig is a Config running the stand-ins under root.
func execConfig(root string, clock *fakeClock, log *hosttest.Lines, sinks ...live.Sink) live.Config {
	r, _ := host.NewRoot(root)
	return live.Config{
		Root: r, Runner: host.ExecRunner{Root: r, Timeout: 5 * time.Second},
		Starter: live.ExecStarter{Root: r, StopGrace: time.Second},
		Decode:  decode, Engine: &fakeEngine{}, Sinks: sinks, Clock: clock, Log: log.Logf,
	}
}

// eslogger that lists its events and streams the fixture, then keeps running (as eslogger does).
const esloggerStreams = `if [ "$1" = --list-events ]; then printf '%s\n' exec fork exit create write rename unlink close profile_remove sudo; exit 0; fi
` + hosttest.RecordRun + `cat "$root/fixture"
exec sleep 60
`

func TestStandInAlerts(t *testing.T) {
	root := macRoot(t, "eslogger/firewall-off.jsonl")
	hosttest.StandInScript(t, root, live.ESLoggerPath, esloggerStreams)
	rec := newRecorder()
	var log hosttest.Lines
	stop := started(t, newSupervisor(t, execConfig(root, newClock(false), &log, rec)))
	if a := rec.next(t); a.Rule != "alf-global-off" {
		t.Errorf("alert = %s, want alf-global-off", a.Rule)
	}
	stats, err := stop() // SIGTERM to the stand-in's sleep
	if err != nil {
		t.Fatalf("Run() = %v", err)
	}
	if diff := cmp.Diff([][]string{live.ESEvents}, hosttest.Runs(t, root)); diff != "" {
		t.Errorf("eslogger argv (-want +got):\n%s", diff)
	}
	if stats.Events != 3 || stats.Runs != 1 || log.String() != "" {
		t.Errorf("Stats = %+v, log %q; want 3 events, 1 run, no diagnostics", stats, log.String())
	}
}

// A stand-in that prints its lines and exits 3 is restarted after 1 s, 2 s, 4 s (on the fake
// clock: no real waiting) and not before.
func TestStandInRestartsWithBackoff(t *testing.T) {
	root := macRoot(t, "eslogger/firewall-off.jsonl")
	hosttest.StandInScript(t, root, live.ESLoggerPath, `[ "$1" = --list-events ] && exit 1
`+hosttest.RecordRun+`cat "$root/fixture"
echo "eslogger: lost connection" >&2
exit 3
`)
	clock := newClock(false)
	var log hosttest.Lines
	stop := started(t, newSupervisor(t, execConfig(root, clock, &log)))
	for i, d := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		clock.waitTimer(t, d)
		if n := len(hosttest.Runs(t, root)); n != i+1 {
			t.Fatalf("waiting %s: %d runs, want %d", d, n, i+1)
		}
		clock.Advance(d)
	}
	stop()
	if !strings.Contains(log.String(), "eslogger stopped after 3 event(s) (/usr/bin/eslogger "+strings.Join(live.ESEvents, " ")+" exited with status 3: eslogger: lost connection); restarting in 2s") {
		t.Errorf("log lacks the restart line:\n%s", log.String())
	}
}

func TestStandInRefusedEvents(t *testing.T) {
	root := macRoot(t, "eslogger/firewall-off.jsonl")
	// --list-events fails; the full list is refused at once (the wording is SYNTHETIC).
	hosttest.StandInScript(t, root, live.ESLoggerPath, `[ "$1" = --list-events ] && exit 1
`+hosttest.RecordRun+`for e in "$@"; do [ "$e" = profile_remove ] && { echo "eslogger: invalid event: $e" >&2; exit 64; }; done
cat "$root/fixture"
exec sleep 60
`)
	rec := newRecorder()
	var log hosttest.Lines
	stop := started(t, newSupervisor(t, execConfig(root, newClock(false), &log, rec)))
	rec.next(t)
	stop()
	if diff := cmp.Diff([][]string{live.ESEvents, live.MinimalESEvents}, hosttest.Runs(t, root)); diff != "" {
		t.Errorf("eslogger argv (-want +got):\n%s", diff)
	}
}

func TestStandInMissingESLogger(t *testing.T) {
	root := macRoot(t, "unifiedlog/stream.ndjson")
	hosttest.StandInScript(t, root, live.LogPath, hosttest.RecordRun+`cat "$root/fixture"
exec sleep 60
`)
	clock := newClock(false)
	var log hosttest.Lines
	cfg := execConfig(root, clock, &log)
	eng := &fakeEngine{tick: make(chan struct{}, 10)}
	cfg.Engine = eng
	stop := started(t, newSupervisor(t, cfg))
	for range 3 {
		select {
		case <-eng.tick:
		case <-time.After(patience):
			t.Fatal("the log stream stand-in's records did not arrive")
		}
	}
	stats, _ := stop()
	if diff := cmp.Diff([][]string{logStreamArgv[1:]}, hosttest.Runs(t, root)); diff != "" {
		t.Errorf("log argv (-want +got):\n%s", diff)
	}
	if stats.Source != "log stream" || !strings.Contains(log.String(), "watching `log stream` instead") {
		t.Errorf("Source %q, log %q: want the log stream, said once", stats.Source, log.String())
	}
}

func TestStandInWithoutFullDiskAccess(t *testing.T) {
	root := macRoot(t, "unifiedlog/stream.ndjson")
	// SYNTHETIC wording around Apple's result name, which is what firewarden looks for.
	hosttest.StandInScript(t, root, live.ESLoggerPath, `[ "$1" = --list-events ] && exit 1
echo "Failed to create client: ES_NEW_CLIENT_RESULT_ERR_NOT_PERMITTED" >&2
exit 1
`)
	hosttest.StandInScript(t, root, live.LogPath, hosttest.RecordRun+`exec sleep 60
`)
	var log hosttest.Lines
	stop := started(t, newSupervisor(t, execConfig(root, newClock(false), &log)))
	deadline := time.Now().Add(patience)
	for len(hosttest.Runs(t, root)) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // polling a child process's progress; not a timing assertion
	}
	stop()
	lines := strings.Split(log.String(), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "Full Disk Access") {
		t.Errorf("diagnostics = %q, want one line about Full Disk Access", lines)
	}
	if len(hosttest.Runs(t, root)) != 1 {
		t.Errorf("log stream ran %d times, want once", len(hosttest.Runs(t, root)))
	}
}

// Stopping ends the program even when a child it started still holds its output open.
func TestExecStarterStopsProgram(t *testing.T) {
	root := macRoot(t, "")
	// The background sleep inherits the output and outlives the shell: WaitDelay must close it.
	hosttest.StandInScript(t, root, "/usr/bin/stream", "sleep 5 &\necho started\nwait\n")
	r, _ := host.NewRoot(root)
	ctx, cancel := context.WithCancel(context.Background())
	out, wait, err := live.ExecStarter{Root: r, StopGrace: 200 * time.Millisecond}.Start(ctx, host.Cmd{Path: "/usr/bin/stream"})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if n, _ := out.Read(buf); string(buf[:n]) != "started\n" {
		t.Fatalf("read %q, want started", buf[:n])
	}
	cancel()
	out.Close()
	done := make(chan error, 1)
	go func() { done <- wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("wait() after stop = nil, want the signal")
		}
	case <-time.After(patience):
		t.Fatal("wait() did not return after stop")
	}
}

func TestExecStarterErrors(t *testing.T) {
	root := macRoot(t, "")
	r, _ := host.NewRoot(root)
	s := live.ExecStarter{Root: r}
	if _, _, err := s.Start(context.Background(), host.Cmd{Path: "/usr/bin/eslogger"}); !isNotInstalled(err) {
		t.Errorf("Start(missing) = %v, want ErrNotInstalled", err)
	}
	if _, _, err := s.Start(context.Background(), host.Cmd{Path: "usr/bin/eslogger"}); err == nil || isNotInstalled(err) {
		t.Errorf("Start(relative path) = %v, want a path error", err)
	}
	hosttest.StandInScript(t, root, "/usr/bin/fail", "echo one >&2; echo two >&2; exit 7\n")
	out, wait, err := s.Start(context.Background(), host.Cmd{Path: "/usr/bin/fail", Args: []string{"a b"}})
	if err != nil {
		t.Fatal(err)
	}
	out.Close()
	err = wait()
	ee, ok := err.(*host.ExitError)
	if !ok || ee.Code != 7 || ee.Stderr != "one\ntwo\n" || !slices.Equal(ee.Argv, []string{"/usr/bin/fail", "a b"}) {
		t.Errorf("wait() = %#v, want exit 7 with argv and stderr", err)
	}
	if wait() != err {
		t.Error("a second wait() gave another result")
	}
}

// A line too long to read does not end eslogger's stream: the real telemetry reader passes over
// it and the alert after it comes from the same run.
func TestStandInLongLineKeepsStream(t *testing.T) {
	root := macRoot(t, "")
	long := `{"event":{"exec":{"args":["` + strings.Repeat(`\u0001`, 200_000) + `"]}}}` + "\n"
	if err := os.WriteFile(filepath.Join(root, "fixture"), []byte(long+fixture(t, "eslogger/firewall-off.jsonl")), 0o644); err != nil {
		t.Fatal(err)
	}
	hosttest.StandInScript(t, root, live.ESLoggerPath, esloggerStreams)
	rec := newRecorder()
	var log hosttest.Lines
	cfg := execConfig(root, newClock(false), &log, rec)
	cfg.Decode = func(r io.Reader, name string, f live.Format) live.Source {
		return input.NewReader(r, name, input.Options{Format: input.Eslogger, Skip: func(s input.Skip) { log.Logf("skipped %s", s) }})
	}
	stop := started(t, newSupervisor(t, cfg))
	if a := rec.next(t); a.Rule != "alf-global-off" {
		t.Errorf("alert = %s, want alf-global-off", a.Rule)
	}
	stats, err := stop()
	if err != nil {
		t.Fatalf("Run() = %v", err)
	}
	if stats.Runs != 1 || len(hosttest.Runs(t, root)) != 1 {
		t.Errorf("Stats = %+v, %d eslogger runs; want one run, the long line passed over", stats, len(hosttest.Runs(t, root)))
	}
	if want := "skipped eslogger:1: line longer than 1048576 bytes"; !strings.Contains(log.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, log.String())
	}
}
