package live_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/detect/live"
	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/host/hosttest"
)

func TestWriter(t *testing.T) {
	a := testAlert("alf-global-off", t0)
	for _, tt := range []struct {
		json bool
		want string
	}{{false, "ALERT alf-global-off\n"}, {true, string(a.JSON) + "\n"}} {
		var buf bytes.Buffer
		w := &live.Writer{W: &buf, JSON: tt.json}
		if err := w.Send(a); err != nil {
			t.Fatal(err)
		}
		if buf.String() != tt.want {
			t.Errorf("Writer{JSON: %v}.Send() wrote %q, want %q", tt.json, buf.String(), tt.want)
		}
	}
}

func TestFileAppendsJSONLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.ndjson")
	if err := os.WriteFile(path, []byte("earlier\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Remove(path) // first run: the sink creates it
	for run := range 2 {
		f, err := live.OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Send(testAlert(fmt.Sprintf("rule-%d", run), t0)); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	for line := range strings.Lines(string(data)) {
		var v struct{ Rule string }
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("line %q is not JSON: %v", line, err)
		}
		rules = append(rules, v.Rule)
	}
	if diff := cmp.Diff([]string{"rule-0", "rule-1"}, rules); diff != "" {
		t.Errorf("file lines (-want +got):\n%s", diff)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", st.Mode().Perm())
	}
}

func TestFileOpenError(t *testing.T) {
	if _, err := live.OpenFile(filepath.Join(t.TempDir(), "missing", "alerts")); err == nil {
		t.Error("OpenFile in a missing directory = nil error")
	}
}

// rfc5424 matches the header firewarden writes: PRI, version 1, timestamp with microseconds,
// host, app, pid, msgid, no structured data.
var rfc5424 = regexp.MustCompile(`^<(\d+)>1 (\S+) (\S+) firewarden (\d+) (\S+) - (.*)$`)

func checkRFC5424(t *testing.T, msg string, a live.Alert, now time.Time) {
	t.Helper()
	m := rfc5424.FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("message %q is not the RFC 5424 form", msg)
	}
	want := []string{"35", now.Format("2006-01-02T15:04:05.000000Z07:00"), "fakemac", strconv.Itoa(os.Getpid()), a.Rule, string(a.JSON)}
	if diff := cmp.Diff(want, m[1:]); diff != "" {
		t.Errorf("PRI, TIMESTAMP, HOSTNAME, PROCID, MSGID, MSG (-want +got):\n%s", diff)
	}
}

func TestSyslogUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no UDP on loopback (%v); run where 127.0.0.1 is available", err)
	}
	defer pc.Close()
	clock := newClock(false)
	s, err := live.NewSyslog("udp://"+pc.LocalAddr().String(), live.SyslogOptions{Hostname: "fakemac", Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a := testAlert("alf-global-off", t0)
	if err := s.Send(a); err != nil {
		t.Fatal(err)
	}
	pc.SetReadDeadline(time.Now().Add(patience))
	buf := make([]byte, 64<<10)
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	checkRFC5424(t, string(buf[:n]), a, clock.Now())
}

func TestSyslogTCPOctetCounting(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no TCP on loopback (%v); run where 127.0.0.1 is available", err)
	}
	defer ln.Close()
	got := make(chan []string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		var msgs []string
		for range 2 {
			n, err := r.ReadString(' ')
			if err != nil {
				break
			}
			size, _ := strconv.Atoi(strings.TrimSpace(n))
			msg := make([]byte, size)
			if _, err := io.ReadFull(r, msg); err != nil {
				break
			}
			msgs = append(msgs, string(msg))
		}
		got <- msgs
	}()
	clock := newClock(false)
	s, err := live.NewSyslog("tcp://"+ln.Addr().String(), live.SyslogOptions{Hostname: "fakemac", Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	a, b := testAlert("alf-global-off", t0), testAlert("pf-disable", t0)
	for _, x := range []live.Alert{a, b} {
		if err := s.Send(x); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	msgs := <-got
	if len(msgs) != 2 {
		t.Fatalf("receiver framed %d messages, want 2: %q", len(msgs), msgs)
	}
	checkRFC5424(t, msgs[0], a, clock.Now())
	checkRFC5424(t, msgs[1], b, clock.Now())
}

// local: the datagram socket of the system logger, found under the root.
func TestSyslogLocal(t *testing.T) {
	dir, err := os.MkdirTemp("", "fw") // short: a unix socket path has ~100 bytes at most
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	root := mustRoot(t, dir)
	sock := root.Path(live.LocalSyslogSocket(host.MacOS))
	if err := os.MkdirAll(filepath.Dir(sock), 0o755); err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("unixgram", sock)
	if err != nil {
		t.Skipf("cannot listen on a unix datagram socket (%v)", err)
	}
	defer pc.Close()
	clock := newClock(false)
	s, err := live.NewSyslog("local", live.SyslogOptions{Root: root, OS: host.MacOS, Hostname: "fakemac", Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a := testAlert("alf-global-off", t0)
	if err := s.Send(a); err != nil {
		t.Fatal(err)
	}
	pc.SetReadDeadline(time.Now().Add(patience))
	buf := make([]byte, 64<<10)
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("<35>%s firewarden[%d]: %s", clock.Now().Format(time.Stamp), os.Getpid(), a.JSON)
	if got := string(buf[:n]); got != want {
		t.Errorf("local message = %q, want %q", got, want)
	}
	if s.Name() != "--syslog local (/var/run/syslog)" {
		t.Errorf("Name() = %q", s.Name())
	}
}

// A receiver that is down costs one failed attempt, then none until the redial time.
func TestSyslogDownIsRetriedLater(t *testing.T) {
	dir, err := os.MkdirTemp("", "fw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	root := mustRoot(t, dir)
	clock := newClock(false)
	s, err := live.NewSyslog("local", live.SyslogOptions{Root: root, OS: host.Linux, Clock: clock}) // no /dev/log under the root
	if err != nil {
		t.Fatalf("NewSyslog with the logger down = %v, want nil (it retries)", err)
	}
	if err := s.Send(testAlert("x", t0)); err == nil || !strings.Contains(err.Error(), "retrying later") {
		t.Errorf("Send while down = %v, want a wait for the redial", err)
	}
	sock := root.Path("/dev/log")
	os.MkdirAll(filepath.Dir(sock), 0o755)
	pc, err := net.ListenPacket("unixgram", sock)
	if err != nil {
		t.Skipf("cannot listen on a unix datagram socket (%v)", err)
	}
	defer pc.Close()
	clock.Advance(30 * time.Second)
	if err := s.Send(testAlert("x", t0)); err != nil {
		t.Errorf("Send after the redial time = %v, want delivery", err)
	}
}

func TestSyslogBadAddress(t *testing.T) {
	for _, spec := range []string{"", "udp://", "udp://host", "http://h:514", "tcp://h:0", "tcp://h:99999", "udp://:514", "tcp://h:514/x", "syslog.example.com:514"} {
		if _, err := live.NewSyslog(spec, live.SyslogOptions{}); err == nil {
			t.Errorf("NewSyslog(%q) = nil error", spec)
		}
	}
}

// hook is a webhook receiver answering with the scripted statuses in turn (the last repeats).
type hook struct {
	mu       sync.Mutex
	statuses []int
	bodies   []string
	types    []string
	got      chan struct{}
	entered  chan struct{} // when set, a token as each request arrives
	gate     chan struct{} // when set, requests wait until it is closed
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.entered != nil {
		h.entered <- struct{}{}
	}
	if h.gate != nil {
		<-h.gate
	}
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	status := h.statuses[0]
	if len(h.statuses) > 1 {
		h.statuses = h.statuses[1:]
	}
	h.bodies = append(h.bodies, string(body))
	h.types = append(h.types, r.Method+" "+r.Header.Get("Content-Type"))
	h.mu.Unlock()
	w.WriteHeader(status)
	h.got <- struct{}{}
}

func (h *hook) wait(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-h.got:
		case <-time.After(patience):
			t.Fatalf("webhook receiver got fewer than %d requests in %s", n, patience)
		}
	}
}

func (h *hook) Bodies() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.bodies...)
}

func TestWebhookRetriesThenDelivers(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int
		requests int
		waits    []time.Duration
		logged   string
	}{
		{"500 then 200", []int{500, 200}, 2, []time.Duration{time.Second}, ""},
		{"503, 429, 502 then 204", []int{503, 429, 502, 204}, 4, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, ""},
		{"400 is not retried", []int{400}, 1, nil, "400 Bad Request (not retried)"},
		{"five 500s and it gives up", []int{500}, 5, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}, "gave up on an alert: try 5 of 5: status 500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &hook{statuses: tt.statuses, got: make(chan struct{}, 10)}
			srv := httptest.NewServer(h)
			defer srv.Close()
			clock := newClock(true)
			var log hosttest.Lines
			w, err := live.NewWebhook(srv.URL+"/hook?token=secret", live.WebhookOptions{Clock: clock, Log: log.Logf, InsecureHTTP: true})
			if err != nil {
				t.Fatal(err)
			}
			a := testAlert("alf-global-off", t0)
			if err := w.Send(a); err != nil {
				t.Fatal(err)
			}
			h.wait(t, tt.requests)
			if err := w.Close(); err != nil {
				t.Errorf("Close() = %v", err)
			}
			for i, b := range h.Bodies() {
				if b != string(a.JSON) || h.types[i] != "POST application/json" {
					t.Errorf("request %d: %s %q, want POST application/json %q", i+1, h.types[i], b, a.JSON)
				}
			}
			if n := len(h.Bodies()); n != tt.requests {
				t.Errorf("%d requests, want %d", n, tt.requests)
			}
			if diff := cmp.Diff(tt.waits, clock.Asked()); diff != "" {
				t.Errorf("back-off waits (-want +got):\n%s", diff)
			}
			if tt.logged != "" && !strings.Contains(log.String(), tt.logged) {
				t.Errorf("log lacks %q:\n%s", tt.logged, log.String())
			}
			if strings.Contains(log.String(), "secret") {
				t.Errorf("log shows the URL's query:\n%s", log.String())
			}
		})
	}
}

func TestWebhookNetworkErrorsAreRetried(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	clock := newClock(true)
	var log hosttest.Lines
	w, err := live.NewWebhook(url, live.WebhookOptions{Clock: clock, Log: log.Logf, InsecureHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	w.Send(testAlert("x", t0))
	clock.waitAsked(t, 4)
	deadline := time.Now().Add(patience)
	for !strings.Contains(log.String(), "gave up") && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // polling the worker's progress; not a timing assertion
	}
	w.Close()
	if !strings.Contains(log.String(), "try 5 of 5: POST "+url) {
		t.Errorf("log does not show five tries:\n%s", log.String())
	}
}

// A full queue drops the oldest alert and counts it; Send never blocks.
func TestWebhookQueueDropsOldest(t *testing.T) {
	h := &hook{statuses: []int{200}, got: make(chan struct{}, 10), entered: make(chan struct{}, 10), gate: make(chan struct{})}
	srv := httptest.NewServer(h)
	defer srv.Close()
	var log hosttest.Lines
	w, err := live.NewWebhook(srv.URL, live.WebhookOptions{Clock: newClock(true), Log: log.Logf, Queue: 2, InsecureHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	alerts := make([]live.Alert, 5)
	for i := range alerts {
		alerts[i] = testAlert(fmt.Sprintf("rule-%d", i), t0)
	}
	w.Send(alerts[0])
	<-h.entered // the worker is stuck delivering alert 0; the queue is empty
	for _, a := range alerts[1:] {
		if err := w.Send(a); err != nil {
			t.Fatal(err)
		}
	}
	if n := w.Dropped(); n != 2 {
		t.Errorf("Dropped() = %d after 4 alerts into a queue of 2, want 2", n)
	}
	close(h.gate)
	h.wait(t, 3)
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "2 alert(s) dropped while the queue was full") {
		t.Errorf("Close() = %v, want the drops counted", err)
	}
	want := []string{string(alerts[0].JSON), string(alerts[3].JSON), string(alerts[4].JSON)}
	if diff := cmp.Diff(want, h.Bodies()); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
	if !strings.Contains(log.String(), "queue full (2 alerts): dropped the oldest, 1 dropped so far") {
		t.Errorf("log lacks the drop:\n%s", log.String())
	}
}

func TestWebhookBadURL(t *testing.T) {
	for _, u := range []string{"", "ftp://h/x", "http://", "hooks.example.com/x", "://x"} {
		if _, err := live.NewWebhook(u, live.WebhookOptions{}); err == nil {
			t.Errorf("NewWebhook(%q) = nil error", u)
		}
	}
}
