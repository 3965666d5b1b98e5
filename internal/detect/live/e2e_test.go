package live_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/host/hosttest"
	"github.com/firewarden/firewarden/internal/posture/alf"
)

// TestEndToEnd runs the real firewarden binary:
//
//	firewarden --root ROOT --json detect --live --poll 1s --out FILE --syslog udp://… --webhook URL --webhook-insecure-http
//
// against a fake macOS 15 Mac laid out by macemu (firewall on), with a stand-in eslogger that
// keeps running and prints the fixture (one socketfilterfw --setglobalstate off among benign
// lines) when the test creates ROOT/go. Once the first state poll has read the firewall, the
// test turns the firewall off through the emulated socketfilterfw with no event for it and waits
// for the state poll's state-weakened-unseen alert; then it releases the fixture and waits for
// the engine's alf-global-off alert; then it stops the binary with SIGINT, as Ctrl-C would.
// Both alerts must reach every output, and the exit status must be 1 (alerts raised).
//
// The order matters: an event shortly before the poll explains the drop, so the fixture would
// silence the state alert if it came first.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs the firewarden binary; run without -short")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go toolchain not on PATH; run the tests with `go test ./...`")
	}
	bin := t.TempDir()
	fw, emu := filepath.Join(bin, "firewarden"), filepath.Join(bin, "macemu")
	for out, pkg := range map[string]string{fw: "github.com/firewarden/firewarden/cmd/firewarden", emu: "github.com/firewarden/firewarden/internal/host/hosttest/macemu"} {
		if b, err := exec.Command(gobin, "build", "-o", out, pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, b)
		}
	}

	root := t.TempDir()
	st := hosttest.Mac15()
	st.GlobalState = 1
	if err := hosttest.Layout(root, st, emu); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "fixture"), []byte(fixture(t, "eslogger/firewall-off.jsonl")), 0o644); err != nil {
		t.Fatal(err)
	}
	hosttest.StandInScript(t, root, "/usr/bin/eslogger", `[ "$1" = --list-events ] && exit 1
while [ ! -e "$root/go" ]; do sleep 0.05; done
cat "$root/fixture"
exec sleep 60
`)

	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no UDP on loopback (%v)", err)
	}
	defer udp.Close()
	var hookMu sync.Mutex
	var hooked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hookMu.Lock()
		hooked = append(hooked, string(b))
		hookMu.Unlock()
	}))
	defer srv.Close()
	outFile := filepath.Join(t.TempDir(), "alerts.ndjson")

	cmd := exec.Command(fw, "--root", root, "--json", "detect", "--live", "--poll", "1s",
		"--out", outFile, "--syslog", "udp://"+udp.LocalAddr().String(), "--webhook", srv.URL, "--webhook-insecure-http")
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
	next := func(want string) string {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("stdout ended before %s; stderr:\n%s", want, stderr.String())
				}
				if rule := ruleOf(t, l); rule == want {
					return l
				}
				t.Logf("skipping alert %s", ruleOf(t, l))
			case <-time.After(patience):
				t.Fatalf("no %s alert within %s; stderr:\n%s", want, patience, stderr.String())
			}
		}
	}
	// The first poll has read the firewall (on) when the emulator has a socketfilterfw call.
	deadline := time.Now().Add(patience)
	for {
		st, err := hosttest.LoadState(root)
		if err == nil && len(st.Calls) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no state poll within %s; stderr:\n%s", patience, stderr.String())
		}
		time.Sleep(10 * time.Millisecond) // polling another process's progress; not a timing assertion
	}
	// Off, with no event for it: the emulated socketfilterfw, run directly.
	off := exec.Command(filepath.Join(root, filepath.FromSlash(alf.SocketFilterFW)), "--setglobalstate", "off")
	if b, err := off.CombinedOutput(); err != nil {
		t.Fatalf("emulated socketfilterfw --setglobalstate off: %v\n%s", err, b)
	}
	stateLine := next("state-weakened-unseen")
	var alert struct {
		Severity   string   `json:"severity"`
		Reason     string   `json:"reason"`
		Analytic   string   `json:"analytic"`
		Techniques []string `json:"techniques"`
		Host       string   `json:"host"`
	}
	json.Unmarshal([]byte(stateLine), &alert)
	if alert.Severity != "high" || alert.Analytic != "AN0408" || strings.Join(alert.Techniques, " ") != "T1686 T1562.004" ||
		alert.Host != "fakemac" || !strings.Contains(alert.Reason, "went from on to off (alf.enabled)") {
		t.Errorf("state alert = %s", stateLine)
	}

	if err := os.WriteFile(filepath.Join(root, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	next("alf-global-off")

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	for range lines { // drain the rest (follow-ups at flush)
	}
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("exit = %v, want status 1 (alerts raised); stderr:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "(1 from the state poll), 1 run(s) of eslogger") {
		t.Errorf("stderr lacks the summary:\n%s", stderr.String())
	}

	// Every output got both alerts.
	data, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	wantBoth := func(what string, got []string) {
		t.Helper()
		var rules []string
		for _, l := range got {
			rules = append(rules, ruleOf(t, l))
		}
		if len(rules) < 2 || rules[0] != "state-weakened-unseen" || rules[1] != "alf-global-off" {
			t.Errorf("%s got %q, want state-weakened-unseen then alf-global-off", what, rules)
		}
	}
	wantBoth("--out", strings.Split(strings.TrimSpace(string(data)), "\n"))
	hookMu.Lock()
	wantBoth("--webhook", hooked)
	hookMu.Unlock()
	var syslogged []string
	buf := make([]byte, 64<<10)
	for len(syslogged) < 2 {
		udp.SetReadDeadline(time.Now().Add(patience))
		n, _, err := udp.ReadFrom(buf)
		if err != nil {
			break
		}
		m := rfc5424.FindStringSubmatch(string(buf[:n]))
		if m == nil {
			t.Fatalf("syslog message %q is not RFC 5424", buf[:n])
		}
		syslogged = append(syslogged, m[6])
	}
	wantBoth("--syslog", syslogged)
}

func ruleOf(t *testing.T, line string) string {
	t.Helper()
	var a struct {
		Rule struct {
			Name string `json:"name"`
		} `json:"rule"`
	}
	if err := json.Unmarshal([]byte(line), &a); err != nil {
		t.Fatalf("alert line %q is not JSON: %v", line, err)
	}
	return a.Rule.Name
}
