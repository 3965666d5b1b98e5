package agent

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/evidence"
	"github.com/firewarden/firewarden/internal/fleet/wire"
	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/host/hosttest"
	"github.com/firewarden/firewarden/internal/posture"
	"github.com/firewarden/firewarden/internal/posture/alf"
	"github.com/firewarden/firewarden/internal/posture/macos"
)

// testAgent is an agent on an emulated Mac reporting to srv, with a recorded, instant Sleep.
type testAgent struct {
	*Agent
	mac     *hosttest.Mac
	macRoot string
	dir     string
	mu      sync.Mutex
	sleeps  []time.Duration
}

func newTestAgent(t testing.TB, srv *fakeServer, mac *hosttest.Mac, macRoot, dir string) *testAgent {
	t.Helper()
	root, err := host.NewRoot(macRoot)
	if err != nil {
		t.Fatal(err)
	}
	osinfo, err := host.Detect(root)
	if err != nil {
		t.Fatal(err)
	}
	state := openState(t, dir)
	spool, err := OpenSpool(state)
	if err != nil {
		t.Fatal(err)
	}
	ta := &testAgent{mac: mac, macRoot: macRoot, dir: dir}
	now := t0
	ta.Agent = &Agent{
		State: state, Spool: spool, Client: srv.client(t),
		Engine: func() *posture.Engine {
			return &posture.Engine{Now: func() time.Time { return now }, Providers: []posture.Provider{alf.New(root, osinfo, mac), macos.New(root, osinfo, mac)}}
		},
		Backups: &posture.BackupStore{Dir: filepath.Join(dir, "backups"), Host: "test", OS: osinfo.String(), Now: func() time.Time { return now }},
		Host:    "test", OS: string(osinfo.Kind), OSVersion: osinfo.Version,
		Now:  func() time.Time { now = now.Add(time.Second); return now },
		Rand: func() float64 { return 0.5 },
		Sleep: func(ctx context.Context, d time.Duration) error {
			ta.mu.Lock()
			ta.sleeps = append(ta.sleeps, d)
			ta.mu.Unlock()
			return ctx.Err()
		},
	}
	if err := ta.Recover(); err != nil {
		t.Fatal(err)
	}
	return ta
}

// newMacAgent lays out a Mac 15 and an agent for it.
func newMacAgent(t testing.TB, srv *fakeServer) *testAgent {
	t.Helper()
	macRoot := t.TempDir()
	mac, err := hosttest.NewMac(macRoot, hosttest.Mac15())
	if err != nil {
		t.Fatal(err)
	}
	return newTestAgent(t, srv, mac, macRoot, filepath.Join(t.TempDir(), "state"))
}

func (ta *testAgent) sfw(t *testing.T, args ...string) {
	t.Helper()
	if _, err := ta.mac.Run(context.Background(), host.Cmd{Path: "/usr/libexec/ApplicationFirewall/socketfilterfw", Args: args}); err != nil {
		t.Fatal(err)
	}
}

func TestDrifts(t *testing.T) {
	res := func(check, status, actual string) wire.Result {
		return wire.Result{Check: check, Status: status, Actual: actual}
	}
	fixed := &wire.FixResult{Changed: true, Verified: true, Status: wire.StatusPass, Actual: "on"}
	refused := &wire.FixResult{Status: wire.StatusFail, Actual: "off", Detail: "not changed: a profile manages it"}
	for _, tt := range []struct {
		name   string
		prev   map[string]string
		before []wire.Result
		fixes  map[string]*wire.FixResult
		want   []wire.Drift
	}{
		{"first cycle", nil, []wire.Result{res("alf.enabled", "fail", "off")}, nil, nil},
		{"unchanged", map[string]string{"alf.enabled": "pass"}, []wire.Result{res("alf.enabled", "pass", "on")}, nil, nil},
		{"pass to fail", map[string]string{"alf.enabled": "pass"}, []wire.Result{res("alf.enabled", "fail", "off")}, nil,
			[]wire.Drift{{Check: "alf.enabled", RunID: "r", From: "pass", To: "fail", Actual: "off", Cause: wire.CauseObserved}}},
		{"fail to pass (someone fixed it)", map[string]string{"alf.enabled": "fail"}, []wire.Result{res("alf.enabled", "pass", "on")}, nil,
			[]wire.Drift{{Check: "alf.enabled", RunID: "r", From: "fail", To: "pass", Actual: "on", Cause: wire.CauseObserved}}},
		{"new check is no drift", map[string]string{"alf.enabled": "pass"}, []wire.Result{res("alf.enabled", "pass", "on"), res("alf.stealth", "fail", "off")}, nil, nil},
		{"enforce reverts a drift", map[string]string{"alf.enabled": "pass"}, []wire.Result{res("alf.enabled", "fail", "off")}, map[string]*wire.FixResult{"alf.enabled": fixed},
			[]wire.Drift{
				{Check: "alf.enabled", RunID: "r", From: "pass", To: "fail", Actual: "off", Cause: wire.CauseObserved, Fix: fixed},
				{Check: "alf.enabled", RunID: "r", From: "fail", To: "pass", Actual: "on", Cause: wire.CauseFix, Fix: fixed},
			}},
		{"enforce fixes what failed already", map[string]string{"alf.enabled": "fail"}, []wire.Result{res("alf.enabled", "fail", "off")}, map[string]*wire.FixResult{"alf.enabled": fixed},
			[]wire.Drift{{Check: "alf.enabled", RunID: "r", From: "fail", To: "pass", Actual: "on", Cause: wire.CauseFix, Fix: fixed}}},
		{"enforce refused", map[string]string{"alf.enabled": "pass"}, []wire.Result{res("alf.enabled", "fail", "off")}, map[string]*wire.FixResult{"alf.enabled": refused},
			[]wire.Drift{{Check: "alf.enabled", RunID: "r", From: "pass", To: "fail", Actual: "off", Cause: wire.CauseObserved, Fix: refused}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := Drifts(tt.prev, tt.before, tt.fixes, "r")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Drifts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Base: time.Second, Max: 10 * time.Second}
	for _, tt := range []struct {
		attempt int
		r       float64
		want    time.Duration
	}{
		{0, 0, 500 * time.Millisecond},
		{0, 0.75, 875 * time.Millisecond},
		{1, 0, time.Second},
		{3, 0.5, 6 * time.Second},
		{4, 0, 5 * time.Second}, // capped at Max
		{60, 0.5, 7500 * time.Millisecond},
	} {
		got := b.Delay(tt.attempt, tt.r).Round(time.Microsecond)
		if got != tt.want {
			t.Errorf("Delay(%d, %v) = %v, want %v", tt.attempt, tt.r, got, tt.want)
		}
	}
}

func TestInterval(t *testing.T) {
	for _, tt := range []struct {
		secs int64
		r    float64
		want time.Duration
	}{
		{3600, 0, 54 * time.Minute},
		{3600, 0.5, time.Hour},
		{3600, 0.75, 63 * time.Minute},
		{0, 0.5, time.Hour},    // default
		{10, 0.5, time.Minute}, // at least a minute
	} {
		got := Interval(wire.Policy{IntervalSeconds: tt.secs}, tt.r).Round(time.Millisecond)
		if got != tt.want {
			t.Errorf("Interval(%d s, %v) = %v, want %v", tt.secs, tt.r, got, tt.want)
		}
	}
}

// addRecords spools n drift records directly.
func addRecords(t *testing.T, s *Spool, n int) {
	t.Helper()
	var rs []wire.Record
	for range n {
		rs = append(rs, rec(wire.KindDrift))
	}
	if _, err := s.Add(rs...); err != nil {
		t.Fatal(err)
	}
}

func TestUploadBatchesAndAcks(t *testing.T) {
	srv := newFakeServer(t)
	ta := newMacAgent(t, srv)
	addRecords(t, ta.Spool, 1200)
	if _, err := ta.UploadRetrying(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, b := range srv.batches {
		sizes = append(sizes, len(b))
	}
	if diff := cmp.Diff([]int{500, 500, 200}, sizes); diff != "" {
		t.Errorf("batch sizes (-want +got):\n%s", diff)
	}
	if n, _ := ta.Spool.Depth(); n != 0 || len(srv.stored()) != 1200 {
		t.Errorf("after upload: spool %d, server %d; want 0, 1200", n, len(srv.stored()))
	}
}

// A server that stores only part of a batch acknowledges that part; the rest is sent again and
// stored once.
func TestUploadPartialAck(t *testing.T) {
	srv := newFakeServer(t)
	ta := newMacAgent(t, srv)
	addRecords(t, ta.Spool, 5)
	srv.ackCap = 3
	_, err := ta.Upload(context.Background())
	if err == nil || !strings.Contains(err.Error(), "acknowledged none") {
		t.Fatalf("Upload with the server stuck at 3 = %v, want an error saying nothing was acknowledged", err)
	}
	if got := spooled(t, ta.Spool); got != "4:drift 5:drift" {
		t.Errorf("spool after a partial ack = %s, want 4:drift 5:drift", got)
	}
	srv.mu.Lock()
	srv.ackCap = 0
	srv.mu.Unlock()
	if _, err := ta.Upload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := kinds(srv.stored()); got != "1:drift 2:drift 3:drift 4:drift 5:drift" {
		t.Errorf("server holds %s", got)
	}
	if diff := cmp.Diff([][]uint64{{1, 2, 3, 4, 5}, {4, 5}, {4, 5}}, srv.batches); diff != "" {
		t.Errorf("batches sent (-want +got):\n%s", diff)
	}
}

// An acknowledgement beyond what was sent deletes only what was sent.
func TestUploadAckBeyondSent(t *testing.T) {
	srv := newFakeServer(t)
	ta := newMacAgent(t, srv)
	addRecords(t, ta.Spool, 2)
	batch, _ := ta.Spool.Batch(1, 1<<20)
	ack := wire.ReportAck{AckedSeq: 99}
	if _, err := ta.Spool.Ack(min(ack.AckedSeq, batch[len(batch)-1].Seq)); err != nil {
		t.Fatal(err)
	}
	if got := spooled(t, ta.Spool); got != "2:drift" {
		t.Errorf("spool = %s, want 2:drift", got)
	}
}

func TestUploadErrors(t *testing.T) {
	for _, tt := range []struct {
		name       string
		fail       []int
		wantErr    error
		wantText   string
		wantSleeps int
		wantPosts  int
		wantLeft   int
	}{
		{"transient errors back off and recover", []int{503, 502}, nil, "", 2, 3, 0},
		{"429 is transient", []int{429}, nil, "", 1, 2, 0},
		{"400 stops and keeps the spool", []int{400}, nil, "injected 400", 0, 1, 3},
		{"401 says enroll again", []int{401}, ErrUnauthorized, "enroll", 0, 1, 3},
		{"gives up after the attempts", []int{503, 503, 503, 503}, nil, "injected 503", 2, 3, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeServer(t)
			ta := newMacAgent(t, srv)
			addRecords(t, ta.Spool, 3)
			srv.fail = tt.fail
			_, err := ta.UploadRetrying(context.Background(), 3)
			if tt.wantText == "" && err != nil {
				t.Fatalf("UploadRetrying = %v, want success", err)
			}
			if tt.wantText != "" && (err == nil || !strings.Contains(err.Error(), tt.wantText)) {
				t.Fatalf("UploadRetrying = %v, want an error with %q", err, tt.wantText)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("UploadRetrying = %v, want %v", err, tt.wantErr)
			}
			if len(ta.sleeps) != tt.wantSleeps || srv.posts != tt.wantPosts {
				t.Errorf("%d sleeps, %d requests; want %d, %d", len(ta.sleeps), srv.posts, tt.wantSleeps, tt.wantPosts)
			}
			for i, d := range ta.sleeps {
				if base := UploadBackoff.Base << i; d < base/2 || d > base {
					t.Errorf("sleep %d = %v, want within [%v, %v]", i, d, base/2, base)
				}
			}
			if n, _ := ta.Spool.Depth(); n != tt.wantLeft {
				t.Errorf("spool holds %d, want %d", n, tt.wantLeft)
			}
		})
	}
}

func chainLen(t *testing.T, dir string) int {
	t.Helper()
	n, err := evidence.Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func driftsOf(recs []wire.Record) []string {
	var out []string
	for _, r := range recs {
		if r.Drift != nil {
			out = append(out, fmt.Sprintf("%s %s>%s %s", r.Drift.Check, r.Drift.From, r.Drift.To, r.Drift.Cause))
		}
	}
	return out
}

func TestCycleReportsDrift(t *testing.T) {
	srv := newFakeServer(t)
	ta := newMacAgent(t, srv)
	ctx := context.Background()
	ta.sfw(t, "--setglobalstate", "on")
	cfg := DefaultConfig()
	out, err := ta.Cycle(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if out.Drifts != 0 {
		t.Errorf("first cycle: %d drifts, want 0", out.Drifts)
	}
	ta.sfw(t, "--setglobalstate", "off")
	if out, err = ta.Cycle(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := ta.Upload(ctx); err != nil {
		t.Fatal(err)
	}
	got := srv.stored()
	if diff := cmp.Diff([]string{"alf.enabled pass>fail observed"}, driftsOf(got)); diff != "" {
		t.Errorf("drifts (-want +got):\n%s", diff)
	}
	if kinds(got) != "1:run 2:drift 3:run" {
		t.Errorf("records = %s, want 1:run 2:drift 3:run", kinds(got))
	}
	// The runs carry consecutive entries of the evidence chain.
	a, b := got[0].Chain, got[2].Chain
	if a == nil || b == nil || a.Seq != 1 || a.Prev != "" || b.Seq != 2 || b.Prev != a.Hash {
		t.Errorf("chain refs %+v then %+v, want entries 1 and 2 linked", a, b)
	}
	if out.Compliant {
		t.Error("cycle with the firewall off: compliant, want not")
	}
}

func TestCycleEnforceReverts(t *testing.T) {
	srv := newFakeServer(t)
	ta := newMacAgent(t, srv)
	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.Policy.Mode = wire.ModeEnforce
	if _, err := ta.Cycle(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if st := ta.mac.State(); st.GlobalState == 0 {
		t.Fatal("enforce mode left the firewall off")
	}
	ta.sfw(t, "--setglobalstate", "off")
	out, err := ta.Cycle(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st := ta.mac.State(); st.GlobalState == 0 {
		t.Error("enforce mode did not revert the firewall")
	}
	if !out.Compliant {
		t.Error("after the revert: not compliant")
	}
	recs, _ := ta.Spool.Batch(1000, 1<<30)
	var second []string
	for _, r := range recs {
		if r.Drift != nil && r.Drift.RunID == out.RunID {
			second = append(second, fmt.Sprintf("%s %s>%s %s", r.Drift.Check, r.Drift.From, r.Drift.To, r.Drift.Cause))
			if r.Drift.Fix == nil || !r.Drift.Fix.Changed || !r.Drift.Fix.Verified || r.Drift.Fix.Status != wire.StatusPass {
				t.Errorf("drift %+v: fix %+v, want changed, verified, pass", r.Drift, r.Drift.Fix)
			}
		}
	}
	if diff := cmp.Diff([]string{"alf.enabled pass>fail observed", "alf.enabled fail>pass fix"}, second); diff != "" {
		t.Errorf("drifts of the second cycle (-want +got):\n%s", diff)
	}
}

// A kill at any step of applying a cycle loses nothing and duplicates nothing: the next start
// finishes the cycle, and the cycle after it sees no drift twice.
func TestCycleCrashAtEveryStep(t *testing.T) {
	for _, step := range []string{"chain", "spool", "last", "done"} {
		t.Run(step, func(t *testing.T) {
			srv := newFakeServer(t)
			ta := newMacAgent(t, srv)
			ctx := context.Background()
			cfg := DefaultConfig()
			ta.sfw(t, "--setglobalstate", "on")
			if _, err := ta.Cycle(ctx, cfg); err != nil {
				t.Fatal(err)
			}
			ta.sfw(t, "--setglobalstate", "off")
			killed := errors.New("killed")
			ta.Fault = func(s string) error {
				if s == step {
					return killed
				}
				return nil
			}
			if _, err := ta.Cycle(ctx, cfg); !errors.Is(err, killed) {
				t.Fatalf("Cycle = %v, want the injected kill at %s", err, step)
			}
			// A new process on the same state.
			again := newTestAgent(t, srv, ta.mac, ta.macRoot, ta.dir)
			if got := spooled(t, again.Spool); got != "1:run 2:drift 3:run" {
				t.Errorf("spool after restart = %s, want 1:run 2:drift 3:run", got)
			}
			if n := chainLen(t, ta.dir); n != 2 {
				t.Errorf("evidence chain has %d entries, want 2", n)
			}
			if _, err := again.Cycle(ctx, cfg); err != nil {
				t.Fatal(err)
			}
			if _, err := again.Upload(ctx); err != nil {
				t.Fatal(err)
			}
			if got := kinds(srv.stored()); got != "1:run 2:drift 3:run 4:run" {
				t.Errorf("server holds %s, want 1:run 2:drift 3:run 4:run", got)
			}
		})
	}
}

// A damaged evidence chain does not silence the agent: the run is reported without a chain ref.
func TestCycleWithBrokenChain(t *testing.T) {
	srv := newFakeServer(t)
	ta := newMacAgent(t, srv)
	ctx := context.Background()
	if _, err := ta.Cycle(ctx, DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	if err := ta.State.WriteFile(evidence.ChainFile, []byte("{\"seq\":1,\"prev\":\"x\"}\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := ta.Cycle(ctx, DefaultConfig()); err != nil {
		t.Fatalf("Cycle with a broken chain = %v, want the run reported anyway", err)
	}
	got, _ := ta.Spool.Batch(100, 1<<30)
	if kinds(got) != "1:run 2:run" || got[0].Chain == nil || got[1].Chain != nil {
		t.Errorf("records %s with chains %+v, %+v; want two runs, the second without a chain ref", kinds(got), got[0].Chain, got[1].Chain)
	}
}
