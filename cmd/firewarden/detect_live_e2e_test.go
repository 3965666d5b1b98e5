package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/host/hosttest"
)

// livePatience bounds how long a live test waits for an alert before it gives up (a hang
// guard, not a speed check).
const livePatience = 30 * time.Second

// detect --live reads past a line it cannot read: the stand-in eslogger prints a pfctl -d, a
// line over 1 MiB and a socketfilterfw --setglobalstate off in one run; both alerts must come
// from that one run, the long line must be named on stderr, and eslogger never restarted.
func TestDetectLiveLongLine(t *testing.T) {
	root := mac(t, hosttest.Mac15())
	fixture := esExec(1, 7001, "/sbin/pfctl", "-d") +
		esExec(2, 7002, "/bin/echo", strings.Repeat("\x01", 200_000)) +
		esExec(3, 7003, "/usr/libexec/ApplicationFirewall/socketfilterfw", "--setglobalstate", "off")
	writeFile(t, root, "fixture", []byte(fixture))
	hosttest.StandInScript(t, root, "/usr/bin/eslogger", `[ "$1" = --list-events ] && exit 1
`+hosttest.RecordRun+`cat "$root/fixture"
exec sleep 60
`)
	cmd := exec.Command(fwBin, "--root", root, "detect", "--live", "--poll", "0")
	cmd.Env = append(os.Environ(), "FIREWARDEN_ROOT=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	want := map[string]bool{"pf-disable": true, "alf-global-off": true}
	deadline := time.After(livePatience)
	for len(want) > 0 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("stdout ended while waiting for %v; stderr:\n%s", want, stderr.String())
			}
			for rule := range want {
				if strings.Contains(l, " "+rule+" ") {
					delete(want, rule)
				}
			}
		case <-deadline:
			t.Fatalf("no %v alert within %s; stderr:\n%s", want, livePatience, stderr.String())
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("detect --live ended with %v, want exit 1 (alerts raised); stderr:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "skipped eslogger:2: line longer than 1048576 bytes; reading on") {
		t.Errorf("stderr does not name the long line:\n%s", stderr.String())
	}
	if runs := hosttest.Runs(t, root); len(runs) != 1 {
		t.Errorf("eslogger ran %d times, want once (the long line must not end its stream); stderr:\n%s", len(runs), stderr.String())
	}
}

// A plain http:// --webhook is refused before anything runs, in one line, unless
// --webhook-insecure-http accepts it.
func TestDetectLiveWebhookPlainHTTP(t *testing.T) {
	root := mac(t, hosttest.Mac15())
	for _, tc := range []struct {
		name    string
		args    []string
		want    string
		oneLine bool
	}{
		{"http refused", []string{"--webhook", "http://127.0.0.1:9/hook?token=secret"},
			"firewarden: --webhook: a plain http:// URL sends alerts unencrypted; use https://, or add --webhook-insecure-http to accept that", true},
		// Accepted: the run goes on, and stops at the missing eslogger (this fake Mac has none).
		{"http with the flag", []string{"--webhook", "http://127.0.0.1:9/hook", "--webhook-insecure-http"}, "neither /usr/bin/eslogger nor /usr/bin/log", false},
		{"https", []string{"--webhook", "https://127.0.0.1:9/hook"}, "neither /usr/bin/eslogger nor /usr/bin/log", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--root", root, "detect", "--live", "--poll", "0"}, tc.args...)
			r := firewardenIn(t, nil, args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("firewarden %s: exit %d, stderr %q; want exit 2 and %q", strings.Join(args, " "), r.code, r.stderr, tc.want)
			}
			if tc.oneLine && strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("stderr = %q, want one line", r.stderr)
			}
			if strings.Contains(r.stderr, "secret") {
				t.Errorf("stderr shows the URL's token: %q", r.stderr)
			}
		})
	}
}
