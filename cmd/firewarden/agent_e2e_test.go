package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/wire"
	"github.com/firewarden/firewarden/internal/host/hosttest"
)

// fleetServer is the agent API, minimal and strict, for the agent's end-to-end tests: what the
// real firewarden binary sends must decode under the contract's rules.
type fleetServer struct {
	*httptest.Server
	mu      sync.Mutex
	config  wire.AgentConfig
	enroll  []wire.EnrollRequest
	records map[uint64]wire.Record
	// reported gets a value after every stored batch.
	reported chan struct{}
	// nudges are written to the open nudge streams.
	nudges chan wire.Nudge
}

const e2eCred = "fwh_e2e_credential"

func newFleetServer(t testing.TB) *fleetServer {
	s := &fleetServer{records: map[uint64]wire.Record{}, reported: make(chan struct{}, 100), nudges: make(chan wire.Nudge, 1), config: wire.AgentConfig{Version: 1, Policy: wire.Policy{Name: "e2e", Mode: wire.ModeReport, IntervalSeconds: 3600}}}
	fail := func(w http.ResponseWriter, code int, err error) {
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
	}
	authed := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+e2eCred {
				fail(w, http.StatusUnauthorized, fmt.Errorf("unknown credential"))
				return
			}
			h(w, r)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+wire.PathEnroll, func(w http.ResponseWriter, r *http.Request) {
		var req wire.EnrollRequest
		if err := wire.Decode(r.Body, &req, wire.MaxBodyBytes); err != nil {
			fail(w, http.StatusBadRequest, err)
			return
		}
		if req.Secret != "fwe_e2e" {
			fail(w, http.StatusUnauthorized, fmt.Errorf("unknown enroll secret"))
			return
		}
		s.mu.Lock()
		s.enroll = append(s.enroll, req)
		s.mu.Unlock()
		json.NewEncoder(w).Encode(wire.EnrollResponse{HostID: "0193a5b0-7c1e-7d2f-8a3b-4c5d6e7f8091", Credential: e2eCred})
	})
	mux.HandleFunc("GET "+wire.PathConfig, authed(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		json.NewEncoder(w).Encode(s.config)
	}))
	mux.HandleFunc("POST "+wire.PathReport, authed(func(w http.ResponseWriter, r *http.Request) {
		var b wire.ReportBatch
		if err := wire.Decode(r.Body, &b, wire.MaxBodyBytes); err != nil {
			fail(w, http.StatusBadRequest, err)
			return
		}
		if err := b.Validate(); err != nil {
			fail(w, http.StatusBadRequest, err)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, rec := range b.Records {
			if _, dup := s.records[rec.Seq]; !dup {
				s.records[rec.Seq] = rec
			}
		}
		json.NewEncoder(w).Encode(wire.ReportAck{AckedSeq: b.Records[len(b.Records)-1].Seq})
		select {
		case s.reported <- struct{}{}:
		default:
		}
	}))
	mux.HandleFunc("GET "+wire.PathNudges, authed(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		for {
			select {
			case <-r.Context().Done():
				return
			case n := <-s.nudges:
				json.NewEncoder(w).Encode(n)
				w.(http.Flusher).Flush()
			}
		}
	}))
	s.Server = httptest.NewUnstartedServer(mux)
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are what some tests test
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func (s *fleetServer) fingerprint() string {
	sum := sha256.Sum256(s.Certificate().Raw)
	return "SHA256:" + hex.EncodeToString(sum[:])
}

func (s *fleetServer) setMode(mode string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.config.Version++
	s.config.Policy.Mode = mode
}

// drifts lists the drift records stored after seq, as "check from>to cause".
func (s *fleetServer) drifts(after uint64) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var seqs []uint64
	for seq := range s.records {
		if seq > after {
			seqs = append(seqs, seq)
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	var out []string
	for _, seq := range seqs {
		if d := s.records[seq].Drift; d != nil {
			out = append(out, fmt.Sprintf("%s %s>%s %s", d.Check, d.From, d.To, d.Cause))
		}
	}
	return out
}

func (s *fleetServer) lastSeq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var m uint64
	for seq := range s.records {
		m = max(m, seq)
	}
	return m
}

// setGlobalState runs the emulated Mac's socketfilterfw, behind the agent's back.
func setGlobalState(t *testing.T, root, state string) {
	t.Helper()
	if out, err := exec.Command(filepath.Join(root, "usr/libexec/ApplicationFirewall/socketfilterfw"), "--setglobalstate", state).CombinedOutput(); err != nil {
		t.Fatalf("socketfilterfw --setglobalstate %s: %v\n%s", state, err, out)
	}
}

func TestAgentEnrollRunDriftEnforce(t *testing.T) {
	srv := newFleetServer(t)
	srv.config.Policy.BaselineYAML = "name: e2e\nfirewall:\n  enabled: true\n  stealth: true\n"
	root := mac(t, hosttest.Mac15())
	stateDir := filepath.Join(root, "Library/Application Support/firewarden")

	r := firewarden(t, root, "agent", "status")
	if r.code != 1 || !strings.Contains(r.stdout, "not enrolled") {
		t.Errorf("status before enrolling: exit %d, %q; want 1, not enrolled", r.code, r.stdout)
	}
	r = firewarden(t, root, "agent", "enroll", "--server", srv.URL, "--secret", "fwe_e2e", "--fingerprint", strings.ToUpper(srv.fingerprint()), "--label", "e2e")
	if r.code != 0 || !strings.Contains(r.stdout, "enrolled with") {
		t.Fatalf("enroll: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	if len(srv.enroll) != 1 {
		t.Fatalf("server saw %d enrolments", len(srv.enroll))
	}
	if e := srv.enroll[0]; e.HostUUID != hosttest.DefaultPlatformUUID || e.OS != "macOS" || e.OSVersion != "15.1" || len(e.Labels) != 1 {
		t.Errorf("enrolment = %+v, want the emulated Mac's IOPlatformUUID, macOS 15.1, label e2e", e)
	}
	if fi, err := os.Stat(filepath.Join(stateDir, "agent.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("agent.json: %v, mode %v; want 0600", err, fi.Mode())
	}

	// Compliant, then turned off behind the agent's back: a drift.
	setGlobalState(t, root, "on")
	firewarden(t, root, "fix", "--only", "alf.stealth")
	r = firewarden(t, root, "agent", "run", "--once")
	if r.code != 0 {
		t.Fatalf("run --once on a compliant Mac: exit %d, stderr %s", r.code, r.stderr)
	}
	setGlobalState(t, root, "off")
	mark := srv.lastSeq()
	r = firewarden(t, root, "agent", "run", "--once")
	if r.code != 1 {
		t.Errorf("run --once with the firewall off: exit %d, want 1; stderr %s", r.code, r.stderr)
	}
	if got, want := srv.drifts(mark), []string{"alf.enabled pass>fail observed"}; !equal(got, want) {
		t.Errorf("drifts = %q, want %q", got, want)
	}

	// Enforce mode: the next drift is reverted and both changes are reported.
	srv.setMode(wire.ModeEnforce)
	mark = srv.lastSeq()
	r = firewarden(t, root, "agent", "run", "--once")
	if r.code != 0 {
		t.Errorf("run --once in enforce mode: exit %d, want 0; stderr %s", r.code, r.stderr)
	}
	if got, want := srv.drifts(mark), []string{"alf.enabled fail>pass fix"}; !equal(got, want) {
		t.Errorf("drifts of the enforcing run = %q, want %q", got, want)
	}
	setGlobalState(t, root, "off")
	mark = srv.lastSeq()
	r = firewarden(t, root, "agent", "run", "--once")
	if r.code != 0 {
		t.Errorf("run --once reverting a drift: exit %d, want 0; stderr %s", r.code, r.stderr)
	}
	if got, want := srv.drifts(mark), []string{"alf.enabled pass>fail observed", "alf.enabled fail>pass fix"}; !equal(got, want) {
		t.Errorf("drifts = %q, want %q", got, want)
	}
	if st := state(t, root); st.GlobalState == 0 {
		t.Error("enforce mode left the firewall off")
	}
	if r := firewarden(t, root, "evidence", "--verify"); r.code != 0 || !strings.Contains(r.stdout, "4 record(s), chain intact") {
		t.Errorf("evidence --verify: exit %d, %s", r.code, r.stdout)
	}

	var st struct {
		Enrolled    bool   `json:"enrolled"`
		Server      string `json:"server"`
		HostID      string `json:"host_id"`
		Spool       int    `json:"spool_records"`
		Fingerprint string `json:"fingerprint"`
		Facts       struct {
			LastUpload string `json:"last_upload"`
			Mode       string `json:"mode"`
		} `json:"facts"`
	}
	r = firewarden(t, root, "--json", "agent", "status")
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || r.code != 0 {
		t.Fatalf("status --json: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	if !st.Enrolled || st.Server != srv.URL || st.Spool != 0 || st.Facts.LastUpload == "" || st.Facts.Mode != "enforce" || st.Fingerprint != srv.fingerprint() {
		t.Errorf("status = %+v", st)
	}

	// The server gone: exit 2, the records kept for the next run.
	srv.Close()
	r = firewarden(t, root, "agent", "run", "--once")
	if r.code != 2 {
		t.Errorf("run --once without a server: exit %d, want 2", r.code)
	}
	r = firewarden(t, root, "agent", "status")
	if !strings.Contains(r.stdout, "spool        1 record(s)") || !strings.Contains(r.stdout, "last attempt failed") {
		t.Errorf("status after a failed upload:\n%s", r.stdout)
	}
}

func equal(a, b []string) bool {
	return strings.Join(a, "\n") == strings.Join(b, "\n")
}

func TestAgentEnrollRefuses(t *testing.T) {
	srv := newFleetServer(t)
	root := mac(t, hosttest.Mac15())
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"plain http", []string{"--server", "http://fleet.example:8443", "--secret", "fwe_e2e"}, "plain http"},
		{"plain http to loopback without the flag", []string{"--server", "http://127.0.0.1:8443", "--secret", "fwe_e2e"}, "plain http"},
		{"no secret", []string{"--server", srv.URL}, "--secret"},
		{"bad fingerprint", []string{"--server", srv.URL, "--secret", "fwe_e2e", "--fingerprint", "SHA256:12"}, "--fingerprint"},
		{"wrong fingerprint", []string{"--server", srv.URL, "--secret", "fwe_e2e", "--fingerprint", "SHA256:" + strings.Repeat("0", 64)}, "does not match the pinned fingerprint"},
		{"no pin: the system roots refuse a self-signed server", []string{"--server", srv.URL, "--secret", "fwe_e2e"}, "certificate"},
		{"wrong secret", []string{"--server", srv.URL, "--secret", "fwe_nope", "--fingerprint", srv.fingerprint()}, "enroll secret"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := firewarden(t, root, append([]string{"agent", "enroll"}, tt.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("exit %d, stderr %q; want 2 and one line with %q", r.code, r.stderr, tt.want)
			}
		})
	}
	if len(srv.enroll) != 0 {
		t.Errorf("the server enrolled %d hosts, want none", len(srv.enroll))
	}
	if _, err := os.Stat(filepath.Join(root, "Library/Application Support/firewarden/agent.json")); err == nil {
		t.Error("a refused enrolment wrote agent.json")
	}
}

// The daemon reports at start and stops cleanly (exit 0) on SIGTERM.
func TestAgentDaemonStopsOnSIGTERM(t *testing.T) {
	srv := newFleetServer(t)
	root := mac(t, hosttest.Mac15())
	if r := firewarden(t, root, "agent", "enroll", "--server", srv.URL, "--secret", "fwe_e2e", "--fingerprint", srv.fingerprint()); r.code != 0 {
		t.Fatalf("enroll: %s", r.stderr)
	}
	cmd := exec.Command(fwBin, "--root", root, "agent", "run")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.reported:
	case <-time.After(time.Minute): // a guard against a hang, not a speed requirement
		cmd.Process.Kill()
		t.Fatalf("the daemon reported nothing; stderr:\n%s", stderr.String())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	if err != nil {
		t.Errorf("agent run after SIGTERM: %v, want exit 0; stderr:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "record(s) spooled") {
		t.Errorf("stderr lacks the run line:\n%s", stderr.String())
	}
}

// rssMB reads a process's resident set size from /proc (Linux).
func rssMB(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb float64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%f kB", &kb); err != nil {
				return 0, err
			}
			return kb / 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// seedChain appends FIREWARDEN_BENCH_CHAIN evidence records (default none) before a benchmark
// starts the agent: every cycle reads the whole chain, so its length matters to the figures.
// benchMac lays out an emulated Mac 15, enrolls it with srv and seeds its evidence chain
// (seedChain), and returns its root.
func benchMac(b *testing.B, srv *fleetServer) string {
	b.Helper()
	root := b.TempDir()
	if err := hosttest.Layout(root, hosttest.Mac15(), emuBin); err != nil {
		b.Fatal(err)
	}
	enroll := exec.Command(fwBin, "--root", root, "agent", "enroll", "--server", srv.URL, "--secret", "fwe_e2e", "--fingerprint", srv.fingerprint())
	if out, err := enroll.CombinedOutput(); err != nil {
		b.Fatalf("enroll: %v\n%s", err, out)
	}
	seedChain(b, root)
	return root
}

func seedChain(b *testing.B, root string) {
	n := 0
	if v := os.Getenv("FIREWARDEN_BENCH_CHAIN"); v != "" {
		if _, err := fmt.Sscan(v, &n); err != nil {
			b.Fatalf("FIREWARDEN_BENCH_CHAIN=%q: want a number", v)
		}
	}
	for range n {
		if out, err := exec.Command(fwBin, "--root", root, "evidence").CombinedOutput(); err != nil && !strings.Contains(err.Error(), "exit status 1") {
			b.Fatalf("evidence: %v\n%s", err, out)
		}
	}
}

// BenchmarkAgentIdleRSS starts `firewarden agent run` on an emulated Mac 15 against a local
// server, waits for its first report (one full cycle and upload done, the nudge stream open) and
// reports the daemon's resident set size then and after it idled for a while. With
// FIREWARDEN_BENCH_ESLOGGER=1 an eslogger stand-in runs, so tamper detection runs too (and its
// first alert is uploaded before the first figure).
func BenchmarkAgentIdleRSS(b *testing.B) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		b.Skip("needs /proc (Linux)")
	}
	for b.Loop() {
		srv := newFleetServer(b)
		root := benchMac(b, srv)
		watching := os.Getenv("FIREWARDEN_BENCH_ESLOGGER") != ""
		if watching {
			// Tamper detection running, as on a Mac: an eslogger stand-in streams the fixture
			// and stays.
			fixture, err := os.ReadFile("../../internal/detect/live/testdata/eslogger/firewall-off.jsonl")
			if err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "fixture"), fixture, 0o644); err != nil {
				b.Fatal(err)
			}
			hosttest.StandInScript(b, root, "/usr/bin/eslogger", esloggerStandIn)
		}
		cmd := exec.Command(fwBin, "--root", root, "agent", "run")
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		<-srv.reported
		for watching && !hasKind(srv.sorted(), wire.KindAlert) {
			<-srv.reported // the alert's upload
		}
		after, err := rssMB(cmd.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		time.Sleep(10 * time.Second) // idle: what the daemon holds between cycles
		idle, err := rssMB(cmd.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		b.ReportMetric(after, "MB-rss-after-cycle")
		b.ReportMetric(idle, "MB-rss-idle")
	}
}

// cpuOwn is a process's own user and system CPU time from /proc/PID/stat, without its children's
// (the programs a cycle runs): fields 14 and 15, in clock ticks of 1/100 s on Linux.
func cpuOwn(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces: count from after it.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	var utime, stime int64
	if _, err := fmt.Sscan(f[11], &utime); err != nil {
		return 0, err
	}
	if _, err := fmt.Sscan(f[12], &stime); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// BenchmarkAgentCycleCPU nudges a running `firewarden agent run` (emulated Mac 15, built-in
// baseline, report mode) to run a cycle per iteration and reports the daemon's own CPU time per
// cycle: evaluation, evidence chain, spool, upload; the programs it runs (the emulator's
// stand-ins) are children and not counted.
func BenchmarkAgentCycleCPU(b *testing.B) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		b.Skip("needs /proc (Linux)")
	}
	srv := newFleetServer(b)
	root := benchMac(b, srv)
	cmd := exec.Command(fwBin, "--root", root, "agent", "run")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	<-srv.reported
	start, err := cpuOwn(cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		srv.nudges <- wire.Nudge{Kind: wire.NudgeCheckNow}
		<-srv.reported
	}
	end, err := cpuOwn(cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(end-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/cycle")
}

// kill -9 of `agent run --once` at many points, then a clean run: the server holds every
// sequence number once with no gap, one run per evidence chain entry, linked in order.
func TestAgentKill9LosesAndDuplicatesNothing(t *testing.T) {
	srv := newFleetServer(t)
	root := mac(t, hosttest.Mac15())
	if r := firewarden(t, root, "agent", "enroll", "--server", srv.URL, "--secret", "fwe_e2e", "--fingerprint", srv.fingerprint()); r.code != 0 {
		t.Fatalf("enroll: %s", r.stderr)
	}
	for i := range 16 {
		// Flip the firewall so that cycles have drifts to spool as well.
		setGlobalState(t, root, []string{"on", "off"}[i%2])
		cmd := exec.Command(fwBin, "--root", root, "agent", "run", "--once")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill points spread over the run (a run here takes some 500 ms); where each lands
		// does not matter, only that the state survives every one of them.
		timer := time.AfterFunc(time.Duration(i)*50*time.Millisecond, func() { cmd.Process.Kill() })
		cmd.Wait()
		timer.Stop()
	}
	if r := firewarden(t, root, "agent", "run", "--once"); r.code == 2 {
		t.Fatalf("clean run after the kills: exit 2: %s", r.stderr)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	var runs []wire.Record
	for seq := uint64(1); seq <= uint64(len(srv.records)); seq++ {
		rec, ok := srv.records[seq]
		if !ok {
			t.Fatalf("the server holds %d records but not seq %d: a gap", len(srv.records), seq)
		}
		if rec.Run != nil {
			runs = append(runs, rec)
		}
	}
	ids := map[string]bool{}
	prev := ""
	for i, r := range runs {
		if ids[r.Run.RunID] {
			t.Errorf("run %s reported twice", r.Run.RunID)
		}
		ids[r.Run.RunID] = true
		if r.Chain == nil || r.Chain.Seq != uint64(i+1) || r.Chain.Prev != prev {
			t.Fatalf("run %d (seq %d) has chain %+v, want entry %d after %q", i, r.Seq, r.Chain, i+1, prev)
		}
		prev = r.Chain.Hash
	}
	r := firewarden(t, root, "evidence", "--verify")
	if want := fmt.Sprintf("%d record(s), chain intact", len(runs)); r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Errorf("evidence --verify = %q, want %q", r.stdout, want)
	}
	t.Logf("%d records, %d runs survived 16 kills", len(srv.records), len(runs))
}

// BenchmarkAgentOnceCPU runs `firewarden agent run --once` (emulated Mac 15, built-in baseline,
// report mode) per iteration and reports its CPU time as getrusage gives it for a child that
// exited: the process and the programs it ran (the emulator's stand-ins), start-up, config
// fetch, TLS handshakes and upload included. Set FIREWARDEN_BENCH_CHAIN to start from a long
// evidence chain.
func BenchmarkAgentOnceCPU(b *testing.B) {
	srv := newFleetServer(b)
	root := benchMac(b, srv)
	var total time.Duration
	for b.Loop() {
		cmd := exec.Command(fwBin, "--root", root, "agent", "run", "--once")
		if out, err := cmd.CombinedOutput(); err != nil && cmd.ProcessState.ExitCode() != 1 {
			b.Fatalf("agent run --once: %v\n%s", err, out)
		}
		total += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	b.ReportMetric(float64(total)/float64(time.Millisecond)/float64(b.N), "cpu-ms/run")
}
