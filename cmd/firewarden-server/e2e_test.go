package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/pgtest"
	"github.com/firewarden/firewarden/internal/fleet/server"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "firewarden-server-e2e-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "firewarden-server")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic("build: " + err.Error())
	}
	code := pgtest.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

type initOut struct {
	URL          string `json:"url"`
	Fingerprint  string `json:"fingerprint"`
	AdminToken   string `json:"admin_token"`
	EnrollSecret string `json:"enroll_secret"`
}

func runBin(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// serving is a running `firewarden-server serve`.
type serving struct {
	cmd    *exec.Cmd
	addr   string
	fp     string
	stderr *bytes.Buffer
	exited chan struct{} // closed when the process has exited; err is then its Wait error
	err    error
}

var listening = regexp.MustCompile(`listening on https://(\S+), fingerprint (SHA256:[0-9a-f]{64})`)

func serve(t *testing.T, dir string) *serving {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--data-dir", dir, "--listen", "127.0.0.1:0")
	pr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &serving{cmd: cmd, stderr: &bytes.Buffer{}, exited: make(chan struct{})}
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-s.exited })
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		s.stderr.WriteString(sc.Text() + "\n")
		if m := listening.FindStringSubmatch(sc.Text()); m != nil {
			s.addr, s.fp = m[1], m[2]
			break
		}
	}
	if s.addr == "" {
		t.Fatalf("serve printed no listening line: %s", s.stderr)
	}
	go func() {
		io.Copy(s.stderr, pr)
		s.err = cmd.Wait()
		close(s.exited)
	}()
	return s
}

// pinned is an HTTP client that trusts exactly the certificate with fingerprint fp, the way
// `firewarden agent enroll --fingerprint` does.
func pinned(fp string) *http.Client {
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true, // replaced by the fingerprint check below
		VerifyConnection: func(cs tls.ConnectionState) error {
			if got := server.Fingerprint(cs.PeerCertificates[0].Raw); got != fp {
				return fmt.Errorf("certificate %s, pinned %s", got, fp)
			}
			return nil
		},
	}}}
}

func call(t *testing.T, c *http.Client, method, url, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, url, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

func report(seq uint64, at time.Time, enabled string) wire.ReportBatch {
	return wire.ReportBatch{Records: []wire.Record{{Seq: seq, Kind: wire.KindRun, Time: at, Run: &wire.Run{
		RunID: fmt.Sprintf("run-%d", seq), Policy: "default", Mode: wire.ModeReport, Started: at, Finished: at,
		Results: []wire.Result{
			{Check: "alf.enabled", Status: enabled, Expected: "1", Actual: map[string]string{wire.StatusPass: "1", wire.StatusFail: "0"}[enabled], Source: "socketfilterfw", Controls: []string{"CIS 2.2.1"}},
			{Check: "alf.stealth", Status: wire.StatusPass, Expected: "1", Actual: "1", Source: "socketfilterfw"},
		},
	}}}}
}

func TestServerEndToEnd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	out, errs, code := runBin(t, "init", "--data-dir", dir, "--listen", "127.0.0.1:0", "--json")
	if code != 0 {
		t.Fatalf("init = %d: %s", code, errs)
	}
	var in initOut
	if err := json.Unmarshal([]byte(out), &in); err != nil {
		t.Fatalf("init output %q: %v", out, err)
	}
	for name, want := range map[string]os.FileMode{"fleet.db": 0o600, "server.yaml": 0o600, "tls/key.pem": 0o600, "tls": 0o700 | os.ModeDir} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Mode() != want {
			t.Errorf("%s: %v, %v; want mode %v", name, fi.Mode(), err, want)
		}
	}
	if _, errs, code := runBin(t, "init", "--data-dir", dir); code != 2 || strings.Count(errs, "\n") != 1 {
		t.Errorf("second init = %d %q, want 2 and one line", code, errs)
	}

	s := serve(t, dir)
	if s.fp != in.Fingerprint {
		t.Errorf("serve's fingerprint %s, init printed %s", s.fp, in.Fingerprint)
	}
	c := pinned(in.Fingerprint)
	base := "https://" + s.addr

	code, body := call(t, c, "POST", base+wire.PathEnroll, "", wire.EnrollRequest{Secret: in.EnrollSecret, HostUUID: "E2E-UUID-1",
		Hostname: "mac-1", OS: "macOS", OSVersion: "15.2", AgentVersion: "0.3.0", Labels: []string{"laptop"}})
	if code != 200 {
		t.Fatalf("enroll = %d %s", code, body)
	}
	var enr wire.EnrollResponse
	json.Unmarshal(body, &enr)

	// Records are timed from the enrollment on, to the microsecond, so that the instants asked
	// about below are all in the past when asked.
	code, body = call(t, c, "GET", base+"/api/v1/hosts/"+enr.HostID, in.AdminToken, nil)
	var one struct {
		Host struct {
			EnrolledAt time.Time `json:"enrolled_at"`
		} `json:"host"`
	}
	if err := json.Unmarshal(body, &one); code != 200 || err != nil || one.Host.EnrolledAt.IsZero() {
		t.Fatalf("GET host = %d %s", code, body)
	}
	enrolled := one.Host.EnrolledAt
	b := report(1, enrolled.Add(time.Microsecond), wire.StatusPass)
	for i := range 2 { // the retry is stored once
		code, body = call(t, c, "POST", base+wire.PathReport, enr.Credential, b)
		if code != 200 || !bytes.Contains(body, []byte(`"acked_seq": 1`)) {
			t.Fatalf("report #%d = %d %s, want acked_seq 1", i, code, body)
		}
	}
	code, body = call(t, c, "POST", base+wire.PathReport, enr.Credential, report(2, enrolled.Add(3*time.Microsecond), wire.StatusFail))
	if code != 200 {
		t.Fatalf("report 2 = %d %s", code, body)
	}
	code, body = call(t, c, "POST", base+wire.PathReport, enr.Credential, `{"records":[],"surprise":1}`)
	if code != 400 {
		t.Errorf("report with an unknown field = %d %s, want 400", code, body)
	}

	type compliance struct {
		Hosts        int `json:"hosts"`
		Compliant    int `json:"compliant"`
		NonCompliant int `json:"non_compliant"`
	}
	get := func(q string) compliance {
		t.Helper()
		code, body := call(t, c, "GET", base+"/api/v1/compliance"+q, in.AdminToken, nil)
		if code != 200 {
			t.Fatalf("compliance%s = %d %s", q, code, body)
		}
		var v compliance
		json.Unmarshal(body, &v)
		return v
	}
	if got := get(""); got != (compliance{1, 0, 1}) {
		t.Errorf("compliance now = %+v, want 1 host non-compliant", got)
	}
	if got := get("?at=" + enrolled.Add(2*time.Microsecond).Format(time.RFC3339Nano)); got != (compliance{1, 1, 0}) {
		t.Errorf("compliance between the runs = %+v, want 1 host compliant", got)
	}

	// kill -9 and restart: the stored records survive, and a retry is still stored once.
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
	s = serve(t, dir)
	base = "https://" + s.addr
	code, body = call(t, c, "POST", base+wire.PathReport, enr.Credential, report(2, enrolled.Add(3*time.Microsecond), wire.StatusFail))
	if code != 200 || !bytes.Contains(body, []byte(`"acked_seq": 2`)) {
		t.Errorf("retry after restart = %d %s, want acked_seq 2", code, body)
	}
	code, body = call(t, c, "GET", base+"/api/v1/hosts/"+enr.HostID+"/history?check=alf.enabled", in.AdminToken, nil)
	if code != 200 || bytes.Count(body, []byte(`"check": "alf.enabled"`)) != 2 {
		t.Errorf("history after restart = %d %s, want two transitions", code, body)
	}
	code, body = call(t, c, "GET", base+"/api/v1/export?format=csv", in.AdminToken, nil)
	if code != 200 || !bytes.HasPrefix(body, []byte("rule,status,result,expected,exemption,managed,source,controls,host,host_id,time\n")) ||
		!bytes.Contains(body, []byte("alf.enabled,fail,0,1,,false,socketfilterfw,CIS 2.2.1,mac-1,")) {
		t.Errorf("export = %d:\n%s", code, body)
	}

	// An auditor token made at the console reads and cannot write; revoked, it is refused.
	out, errs, code = runBin(t, "token", "create", "--data-dir", dir, "--name", "auditor", "--role", "auditor", "--json")
	if code != 0 {
		t.Fatalf("token create = %d: %s", code, errs)
	}
	var tok struct{ ID, Token string }
	json.Unmarshal([]byte(out), &tok)
	if code, _ := call(t, c, "GET", base+"/api/v1/hosts", tok.Token, nil); code != 200 {
		t.Errorf("auditor GET hosts = %d, want 200", code)
	}
	if code, _ := call(t, c, "POST", base+"/api/v1/nudge", tok.Token, map[string]string{"host_id": enr.HostID}); code != 403 {
		t.Errorf("auditor POST nudge = %d, want 403", code)
	}
	if _, errs, code := runBin(t, "token", "revoke", "--data-dir", dir, tok.ID); code != 0 {
		t.Fatalf("token revoke = %d: %s", code, errs)
	}
	if code, _ := call(t, c, "GET", base+"/api/v1/hosts", tok.Token, nil); code != 401 {
		t.Errorf("revoked auditor GET hosts = %d, want 401", code)
	}
	code, body = call(t, c, "GET", base+"/api/v1/audit", in.AdminToken, nil)
	for _, want := range []string{`"actor": "init"`, `"action": "token.revoke"`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("audit log (%d) lacks %s:\n%s", code, want, body)
		}
	}

	// SIGTERM stops it cleanly, nudge stream and all.
	req, _ := http.NewRequest("GET", base+wire.PathNudges, nil)
	req.Header.Set("Authorization", "Bearer "+enr.Credential)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		if s.err != nil {
			t.Errorf("serve after SIGTERM: %v\n%s", s.err, s.stderr)
		}
	case <-time.After(time.Minute):
		t.Fatal("serve did not stop on SIGTERM")
	}
}

// Two replicas on one PostgreSQL: an agent connected to one gets a nudge sent through the
// other, and what one stores the other answers.
func TestTwoReplicasOnPostgres(t *testing.T) {
	url := pgtest.Start(t)
	dir := filepath.Join(t.TempDir(), "data")
	out, errs, code := runBin(t, "init", "--data-dir", dir, "--db", url, "--listen", "127.0.0.1:0", "--json")
	if code != 0 {
		t.Fatalf("init = %d: %s", code, errs)
	}
	var in initOut
	if err := json.Unmarshal([]byte(out), &in); err != nil {
		t.Fatalf("init output %q: %v", out, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "fleet.db")); err == nil {
		t.Errorf("init --db postgres://… created a SQLite file too")
	}
	a, b := serve(t, dir), serve(t, dir)
	c := pinned(in.Fingerprint)
	code, body := call(t, c, "POST", "https://"+a.addr+wire.PathEnroll, "", wire.EnrollRequest{Secret: in.EnrollSecret, HostUUID: "PG-1", Hostname: "mac-pg"})
	if code != 200 {
		t.Fatalf("enroll through A = %d %s", code, body)
	}
	var enr wire.EnrollResponse
	json.Unmarshal(body, &enr)

	req, _ := http.NewRequest("GET", "https://"+b.addr+wire.PathNudges, nil)
	req.Header.Set("Authorization", "Bearer "+enr.Credential)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	if !lines.Scan() || !strings.Contains(lines.Text(), wire.NudgePing) {
		t.Fatalf("B's stream opened with %q, want a ping", lines.Text())
	}
	// B's LISTEN may still be connecting: nudge through A until B delivers (each nudge is
	// idempotent: one check cycle answers any number).
	got := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if !strings.Contains(lines.Text(), wire.NudgePing) {
				got <- lines.Text()
				return
			}
		}
		close(got)
	}()
	deadline := time.After(time.Minute)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for delivered := false; !delivered; {
		if code, body := call(t, c, "POST", "https://"+a.addr+"/api/v1/nudge", in.AdminToken, map[string]string{"host_id": enr.HostID}); code != 200 {
			t.Fatalf("nudge through A = %d %s", code, body)
		}
		select {
		case line, ok := <-got:
			if !ok || !strings.Contains(line, wire.NudgeCheckNow) {
				t.Fatalf("B's stream gave %q, want check_now", line)
			}
			delivered = true
		case <-tick.C:
		case <-deadline:
			t.Fatal("a nudge sent through A never reached the agent connected to B")
		}
	}

	enrolled := time.Now().UTC()
	code, body = call(t, c, "POST", "https://"+b.addr+wire.PathReport, enr.Credential, report(1, enrolled, wire.StatusFail))
	if code != 200 {
		t.Fatalf("report through B = %d %s", code, body)
	}
	code, body = call(t, c, "GET", "https://"+a.addr+"/api/v1/hosts?status=non_compliant", in.AdminToken, nil)
	if code != 200 || !strings.Contains(string(body), enr.HostID) {
		t.Errorf("A's non-compliant hosts = %d %s, want the host B stored", code, body)
	}
}
