package fleete2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/pgtest"
	"github.com/firewarden/firewarden/internal/fleet/wire"
	"github.com/firewarden/firewarden/internal/host/hosttest"
)

// The binaries under test, built once by TestMain.
var fwBin, serverBin, emuBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "firewarden-fleete2e-")
	if err != nil {
		panic(err)
	}
	fwBin, serverBin, emuBin = filepath.Join(dir, "firewarden"), filepath.Join(dir, "firewarden-server"), filepath.Join(dir, "macemu")
	for bin, pkg := range map[string]string{
		fwBin:     "github.com/firewarden/firewarden/cmd/firewarden",
		serverBin: "github.com/firewarden/firewarden/cmd/firewarden-server",
		emuBin:    "github.com/firewarden/firewarden/internal/host/hosttest/macemu",
	} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			os.Stderr.Write(out)
			panic("build " + pkg + ": " + err.Error())
		}
	}
	code := pgtest.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

// run runs a binary to its end.
func run(t *testing.T, bin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "FIREWARDEN_ROOT=")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{o.String(), e.String(), code}
}

// fleet is a firewarden-server data directory, what its init printed, and the serve processes
// running on it.
type fleet struct {
	dir          string
	fingerprint  string
	adminToken   string
	enrollSecret string
	client       *http.Client
	// serveUnder is the command serve runs under (`ip netns exec NS`), none when empty; it
	// must exec the server in place, so that the process killed at cleanup is the server.
	serveUnder []string
}

// newFleet runs `firewarden-server init`, on SQLite when db is empty.
func newFleet(t *testing.T, db string) *fleet {
	t.Helper()
	f := &fleet{dir: filepath.Join(t.TempDir(), "server")}
	args := []string{"init", "--data-dir", f.dir, "--listen", "127.0.0.1:0", "--json"}
	if db != "" {
		args = append(args, "--db", db)
	}
	r := run(t, serverBin, args...)
	if r.code != 0 {
		t.Fatalf("firewarden-server init: exit %d: %s", r.code, r.stderr)
	}
	var out struct {
		Fingerprint  string `json:"fingerprint"`
		AdminToken   string `json:"admin_token"`
		EnrollSecret string `json:"enroll_secret"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.AdminToken == "" || out.EnrollSecret == "" {
		t.Fatalf("init --json printed %q: %v", r.stdout, err)
	}
	f.fingerprint, f.adminToken, f.enrollSecret = out.Fingerprint, out.AdminToken, out.EnrollSecret
	f.client = pinnedClient(f.fingerprint)
	return f
}

// pinnedClient trusts exactly the certificate with fingerprint fp, as the agent does with
// --fingerprint. Each of its connections comes from a loopback address of its own (Linux routes
// all of 127.0.0.0/8 to lo), because these tests send refused requests on purpose, many more
// than the server's per-address limit on failed authentication allows one client;
// security_e2e_test.go tests that limit with clients on fixed addresses.
func pinnedClient(fp string) *http.Client { return pinnedClientFrom(fp, nil) }

// loopbackSeq numbers the loopback source addresses of pinnedClient's connections.
var loopbackSeq atomic.Uint32

// pinnedClientFrom is pinnedClient with every connection from the address from, or, when from
// is nil, each from a new loopback address.
func pinnedClientFrom(fp string, from net.IP) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true, // replaced by the pin below
		VerifyConnection: func(cs tls.ConnectionState) error {
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if got := "SHA256:" + hex.EncodeToString(sum[:]); got != fp {
				return fmt.Errorf("certificate %s, pinned %s", got, fp)
			}
			return nil
		},
	}}
	tr.DisableKeepAlives = from == nil
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		src := from
		if src == nil {
			n := loopbackSeq.Add(1)
			src = net.IPv4(127, byte(2+n/62500%250), byte(n/250%250+1), byte(n%250+1))
		}
		d := net.Dialer{Timeout: 30 * time.Second, LocalAddr: &net.TCPAddr{IP: src}}
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{Timeout: time.Minute, Transport: tr}
}

// freeAddr is a loopback address with a port free now, so that a server killed and started
// again listens where its agents were enrolled.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// serving is one running `firewarden-server serve`.
type serving struct {
	f      *fleet
	cmd    *exec.Cmd
	addr   string
	mu     sync.Mutex
	stderr bytes.Buffer
	exited chan struct{}
}

var listeningLine = regexp.MustCompile(`listening on https://(\S+), fingerprint (SHA256:[0-9a-f]{64})`)

// serve starts `firewarden-server serve` on addr and waits for its listening line.
func (f *fleet) serve(t *testing.T, addr string) *serving {
	t.Helper()
	return f.serveWith(t, addr)
}

// serveWith is serve with more flags.
func (f *fleet) serveWith(t *testing.T, addr string, flags ...string) *serving {
	t.Helper()
	s := &serving{f: f, exited: make(chan struct{})}
	argv := append([]string{serverBin, "serve", "--data-dir", f.dir, "--listen", addr}, flags...)
	argv = append(append([]string(nil), f.serveUnder...), argv...)
	s.cmd = exec.Command(argv[0], argv[1:]...)
	pr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.kill)
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			s.mu.Lock()
			s.stderr.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			select {
			case lines <- sc.Text():
			default:
			}
		}
		s.cmd.Wait()
		close(s.exited)
	}()
	deadline := time.After(time.Minute) // a guard against a hang, not a speed requirement
	for s.addr == "" {
		select {
		case l := <-lines:
			if m := listeningLine.FindStringSubmatch(l); m != nil {
				if m[2] != f.fingerprint {
					t.Fatalf("serve's fingerprint %s, init printed %s", m[2], f.fingerprint)
				}
				s.addr = m[1]
			}
		case <-s.exited:
			t.Fatalf("serve exited before listening:\n%s", s.log())
		case <-deadline:
			t.Fatalf("serve printed no listening line:\n%s", s.log())
		}
	}
	return s
}

func (s *serving) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// kill is kill -9, and waits for the process to be gone.
func (s *serving) kill() {
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
}

func (s *serving) url() string { return "https://" + s.addr }

// call makes one request; body is JSON-encoded unless it is a string or []byte, sent as is.
func (s *serving) call(t *testing.T, method, path, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, s.url()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.f.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// admin makes an admin API request that must succeed and decodes its answer into out.
func (s *serving) admin(t *testing.T, method, path string, body, out any) {
	t.Helper()
	code, data := s.call(t, method, path, s.f.adminToken, body)
	if code/100 != 2 {
		t.Fatalf("%s %s = %d %s", method, path, code, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, data)
		}
	}
}

// Admin API answers, the fields these tests read.
type hostJSON struct {
	ID          string   `json:"id"`
	UUID        string   `json:"uuid"`
	OSVersion   string   `json:"os_version"`
	Labels      []string `json:"labels"`
	Status      string   `json:"status"`
	Failing     []string `json:"failing"`
	LastSeq     uint64   `json:"last_seq"`
	ChainBroken bool     `json:"chain_broken"`
}

type resultJSON struct {
	Check  string `json:"check"`
	Status string `json:"status"`
	Actual string `json:"actual"`
}

type hostView struct {
	Host    hostJSON     `json:"host"`
	Results []resultJSON `json:"results"`
}

type transition struct {
	Check string    `json:"check"`
	Time  time.Time `json:"time"`
	From  string    `json:"from"`
	To    string    `json:"to"`
	Cause string    `json:"cause"`
	Seq   uint64    `json:"seq"`
}

type compliance struct {
	Hosts        int `json:"hosts"`
	Compliant    int `json:"compliant"`
	NonCompliant int `json:"non_compliant"`
	NoData       int `json:"no_data"`
	PerCheck     map[string]struct {
		Pass    int `json:"pass"`
		Fail    int `json:"fail"`
		Managed int `json:"managed"`
	} `json:"per_check"`
}

func (s *serving) host(t *testing.T, id string) hostView {
	t.Helper()
	var v hostView
	s.admin(t, "GET", "/api/v1/hosts/"+id, nil, &v)
	return v
}

// history is a host's transitions of check, oldest first.
func (s *serving) history(t *testing.T, id, check string) []transition {
	t.Helper()
	var v struct{ Transitions []transition }
	s.admin(t, "GET", "/api/v1/hosts/"+id+"/history?check="+check, nil, &v)
	out := v.Transitions
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func (s *serving) compliance(t *testing.T, at time.Time) compliance {
	t.Helper()
	var c compliance
	s.admin(t, "GET", "/api/v1/compliance?at="+at.UTC().Format(time.RFC3339Nano), nil, &c)
	return c
}

// putPolicy sets the default policy: checks only that the firewall is on, so that a host's
// compliance is the firewall's state.
func (s *serving) putPolicy(t *testing.T, mode string) {
	t.Helper()
	s.admin(t, "PUT", "/api/v1/policies", map[string]any{
		"name": "default", "mode": mode, "interval_seconds": 3600,
		"baseline_yaml": "name: e2e\nfirewall:\n  enabled: true\n",
	}, nil)
}

// emac is an emulated Mac with its own root and firewarden state directory.
type emac struct {
	root, state string
}

func newMac(t *testing.T, st hosttest.MacState, uuid string) *emac {
	t.Helper()
	m := &emac{root: t.TempDir(), state: filepath.Join(t.TempDir(), "state")}
	st.PlatformUUID = uuid
	if err := hosttest.Layout(m.root, st, emuBin); err != nil {
		t.Fatal(err)
	}
	return m
}

// fw runs firewarden on the Mac.
func (m *emac) fw(t *testing.T, args ...string) result {
	t.Helper()
	return run(t, fwBin, append([]string{"--root", m.root, "--state-dir", m.state}, args...)...)
}

func (m *emac) agentCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(fwBin, append([]string{"--root", m.root, "--state-dir", m.state, "agent"}, args...)...)
	cmd.Env = append(os.Environ(), "FIREWARDEN_ROOT=")
	return cmd
}

// enroll enrolls the Mac with s, pinning the fingerprint init printed, and returns its host ID.
func (m *emac) enroll(t *testing.T, s *serving, labels ...string) string {
	t.Helper()
	args := []string{"--json", "agent", "enroll", "--server", s.url(), "--secret", s.f.enrollSecret, "--fingerprint", s.f.fingerprint}
	for _, l := range labels {
		args = append(args, "--label", l)
	}
	r := m.fw(t, args...)
	var out struct {
		HostID string `json:"host_id"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); r.code != 0 || err != nil || out.HostID == "" {
		t.Fatalf("agent enroll: exit %d, %v\nstdout %s\nstderr %s", r.code, err, r.stdout, r.stderr)
	}
	return out.HostID
}

// once runs `agent run --once` and checks its exit code.
func (m *emac) once(t *testing.T, want int) {
	t.Helper()
	if r := m.fw(t, "agent", "run", "--once"); r.code != want {
		t.Fatalf("agent run --once: exit %d, want %d\nstderr %s", r.code, want, r.stderr)
	}
}

// credential is the host credential the agent keeps in agent.json.
func (m *emac) credential(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(m.state, "agent.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Credential string `json:"credential"`
	}
	if err := json.Unmarshal(data, &e); err != nil || !strings.HasPrefix(e.Credential, "fwh_") {
		t.Fatalf("agent.json: %v, credential %q", err, e.Credential)
	}
	return e.Credential
}

// lastSeq is the last sequence number the agent gave a record (agent.seq holds the next).
func (m *emac) lastSeq(t *testing.T) uint64 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(m.state, "agent.seq"))
	if err != nil {
		t.Fatal(err)
	}
	next, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	if err != nil || next == 0 {
		t.Fatalf("agent.seq = %q: %v", data, err)
	}
	return next - 1
}

// spooled is how many records wait in the agent's spool, as `agent status --json` says.
func (m *emac) spooled(t *testing.T) int {
	t.Helper()
	r := m.fw(t, "--json", "agent", "status")
	var st struct {
		Spool int `json:"spool_records"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("agent status --json: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	return st.Spool
}

// setGlobalState runs the emulated Mac's socketfilterfw behind the agent's back.
func (m *emac) setGlobalState(t *testing.T, state string) {
	t.Helper()
	out, err := exec.Command(filepath.Join(m.root, "usr/libexec/ApplicationFirewall/socketfilterfw"), "--setglobalstate", state).CombinedOutput()
	if err != nil {
		t.Fatalf("socketfilterfw --setglobalstate %s: %v\n%s", state, err, out)
	}
}

func (m *emac) globalState(t *testing.T) int {
	t.Helper()
	st, err := hosttest.LoadState(m.root)
	if err != nil {
		t.Fatal(err)
	}
	return st.GlobalState
}

// nudgeStream opens GET /api/v1/agent/nudges with a host credential and returns its lines
// other than pings, and a function that closes it.
func (s *serving) nudgeStream(t *testing.T, cred string) (<-chan wire.Nudge, func()) {
	t.Helper()
	req, err := http.NewRequest("GET", s.url()+wire.PathNudges, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+cred)
	c := &http.Client{Transport: s.f.client.Transport} // no timeout: the stream lasts
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		t.Fatalf("GET %s = %d", wire.PathNudges, resp.StatusCode)
	}
	out := make(chan wire.Nudge, 16)
	sc := bufio.NewScanner(resp.Body)
	if !sc.Scan() || !strings.Contains(sc.Text(), wire.NudgePing) {
		t.Fatalf("the nudge stream opened with %q, want a ping", sc.Text())
	}
	go func() {
		defer close(out)
		for sc.Scan() {
			var n wire.Nudge
			if json.Unmarshal(sc.Bytes(), &n) == nil && n.Kind != wire.NudgePing {
				out <- n
			}
		}
	}()
	return out, func() { resp.Body.Close() }
}
