package guard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firewarden/firewarden/internal/block"
	"github.com/firewarden/firewarden/internal/block/blocktest"
	"github.com/firewarden/firewarden/internal/guard/follow"
)

// The daemon tests run in a synctest bubble: the clock is fake and advances only when every
// goroutine waits, so timers (saves, polls, expiry) fire in a fixed order without sleeping.
// block.json and its lock are real files.

// chanSource hands the daemon the lines sent to it, stamped with the (fake) time they are read.
type chanSource struct{ ch chan string }

func newChanSource() *chanSource { return &chanSource{ch: make(chan string)} }

func (s *chanSource) Name() string { return "test" }

func (s *chanSource) Run(ctx context.Context, emit func(follow.Line)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case l := <-s.ch:
			emit(follow.Line{Text: []byte(l), Source: s.Name(), Read: time.Now()})
		}
	}
}

// failures sends n "Failed password" lines for addr, each from its own sshd process.
func (s *chanSource) failures(addr string, n int) {
	for i := range n {
		s.ch <- sshd(1000+i, "Failed password for root from %s port %d ssh2", addr, 40000+i)
	}
}

// syncBuffer is a log the test reads while the daemon writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// run is one daemon running in the bubble.
type run struct {
	t       *testing.T
	d       *Daemon
	src     *chanSource
	kernel  *blocktest.Fake
	store   *block.Store
	log     *syncBuffer
	signals chan os.Signal
	cancel  context.CancelFunc
	done    chan error
}

func startDaemon(t *testing.T, dir string, cfg *Config, kernel *blocktest.Fake, reload func() (*Config, error)) *run {
	t.Helper()
	r := &run{t: t, src: newChanSource(), kernel: kernel, store: &block.Store{Dir: dir}, log: &syncBuffer{},
		signals: make(chan os.Signal, 1), done: make(chan error, 1)}
	var backend block.Backend
	if kernel != nil {
		backend = kernel
	}
	r.d = New(Options{Config: cfg, StateDir: dir, Backend: backend, Source: r.src, Log: r.log, Signals: r.signals, Reload: reload})
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- r.d.Run(ctx) }()
	synctest.Wait()
	return r
}

func (r *run) stop() {
	r.t.Helper()
	r.signals <- syscall.SIGTERM
	if err := <-r.done; err != nil {
		r.t.Fatalf("Run = %v after SIGTERM, want nil", err)
	}
	r.cancel()
}

// held is what the fake kernel holds, as sorted strings.
func (r *run) held() []string {
	r.t.Helper()
	ps, err := r.kernel.Held(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	var out []string
	for _, p := range ps {
		out = append(out, block.FormatPrefix(p))
	}
	slices.Sort(out)
	return out
}

func (r *run) state() *block.State {
	r.t.Helper()
	st, err := r.store.Load()
	if err != nil {
		r.t.Fatal(err)
	}
	return st
}

func banOf(st *block.State, p string) (block.BanEntry, bool) {
	for _, b := range st.Bans {
		if block.FormatPrefix(b.Prefix) == p {
			return b, true
		}
	}
	return block.BanEntry{}, false
}

func TestDaemonBansAtOnceAndSavesLater(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		seed := &block.Store{Dir: dir}
		seed.Edit(context.Background(), func(s *block.State) error {
			s.Allow(netip.MustParsePrefix("192.0.2.0/24"), "office", block.SourceCLI, time.Now())
			return nil
		})
		r := startDaemon(t, dir, Default(), &blocktest.Fake{}, nil)
		start := time.Now()

		r.src.failures("192.0.2.50", 50) // allowlisted
		r.src.failures("203.0.113.9", 9)
		synctest.Wait()
		if got := r.held(); len(got) != 0 {
			t.Fatalf("kernel holds %v after 9 failures and an allowlisted address, want nothing", got)
		}
		r.src.failures("203.0.113.9", 1)
		synctest.Wait()
		if got, want := r.held(), []string{"203.0.113.9"}; !slices.Equal(got, want) {
			t.Fatalf("kernel holds %v right after the 10th failure, want %v", got, want)
		}
		if !time.Now().Equal(start) {
			t.Fatalf("the ban took %v of the fake clock, want none: the kernel gets it before any timer", time.Since(start))
		}
		if _, ok := banOf(r.state(), "203.0.113.9"); ok {
			t.Fatalf("block.json has the ban before the save interval; want it saved in the background")
		}
		time.Sleep(DefaultPersistEvery)
		synctest.Wait()
		b, ok := banOf(r.state(), "203.0.113.9")
		if !ok {
			t.Fatalf("block.json lacks the ban %v after a save interval", DefaultPersistEvery)
		}
		if b.Source != block.SourceGuard || b.Count != 1 || b.Expires.Sub(b.Last) != 15*time.Minute || !strings.Contains(b.Reason, "10 failures in 30m") {
			t.Errorf("saved ban = %+v, want source guard, count 1, 15 minutes, a reason naming the failures", b)
		}
		if !strings.Contains(r.log.String(), "guard: banned 203.0.113.9 for 15m until") {
			t.Errorf("log lacks the ban line:\n%s", r.log)
		}
		if strings.Contains(r.log.String(), "192.0.2.50") {
			t.Errorf("log mentions the allowlisted address:\n%s", r.log)
		}
		r.stop()
	})
}

func TestDaemonCoalescesSaves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		r := startDaemon(t, dir, Default(), &blocktest.Fake{}, nil)
		before := r.d.Stats()
		for i := range 40 {
			r.src.failures(fmt.Sprintf("198.51.100.%d", i+1), 10)
			time.Sleep(20 * time.Millisecond)
		}
		synctest.Wait()
		if got := len(r.held()); got != 40 {
			t.Fatalf("kernel holds %d bans, want 40", got)
		}
		time.Sleep(2 * DefaultPersistEvery)
		synctest.Wait()
		st := r.state()
		if len(st.Bans) != 40 {
			t.Fatalf("block.json has %d bans, want 40", len(st.Bans))
		}
		// 40 bans over 0.8 s: one save at the first ban's save time, one for the rest.
		after := r.d.Stats()
		if got := after.Saves - before.Saves; got < 1 || got > 2 {
			t.Errorf("40 bans within %v took %d saves, want at most 2", 40*20*time.Millisecond, got)
		}
		// The kernel had every ban before the saves: nothing to sync.
		if after.Syncs != before.Syncs {
			t.Errorf("saving the guard's own bans synced the kernel %d times, want none", after.Syncs-before.Syncs)
		}
		r.stop()
	})
}

func TestDaemonFollowsTheCLI(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		r := startDaemon(t, dir, Default(), &blocktest.Fake{}, nil)
		r.src.failures("203.0.113.1", 10)
		time.Sleep(DefaultPersistEvery)
		synctest.Wait()
		if _, ok := banOf(r.state(), "203.0.113.1"); !ok {
			t.Fatal("ban not saved")
		}

		// `firewarden block allow 203.0.113.1` while the guard runs (the CLI's own kernel
		// sync is left out: the guard must lift the ban by itself).
		if _, _, err := r.store.Edit(context.Background(), func(s *block.State) error {
			s.Allow(netip.MustParsePrefix("203.0.113.1/32"), "admin", block.SourceCLI, time.Now())
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(DefaultPollEvery)
		synctest.Wait()
		if got := r.held(); len(got) != 0 {
			t.Errorf("kernel holds %v after `block allow`, want the ban lifted", got)
		}
		r.src.failures("203.0.113.1", 30)
		synctest.Wait()
		if got := r.held(); len(got) != 0 {
			t.Errorf("kernel holds %v after failures of an allowlisted address", got)
		}

		// A ban not saved yet when the CLI allowlists its address is refused by the state
		// and lifted from the kernel.
		r.src.failures("203.0.113.2", 10)
		synctest.Wait()
		if got := r.held(); !slices.Equal(got, []string{"203.0.113.2"}) {
			t.Fatalf("kernel holds %v, want 203.0.113.2", got)
		}
		r.store.Edit(context.Background(), func(s *block.State) error {
			s.Allow(netip.MustParsePrefix("203.0.113.0/28"), "", block.SourceCLI, time.Now())
			return nil
		})
		time.Sleep(2 * DefaultPollEvery)
		synctest.Wait()
		if got := r.held(); len(got) != 0 {
			t.Errorf("kernel holds %v after the CLI allowlisted an unsaved ban, want it lifted", got)
		}
		if _, ok := banOf(r.state(), "203.0.113.2"); ok {
			t.Errorf("block.json holds the ban of an allowlisted address")
		}
		if !strings.Contains(r.log.String(), "guard: lifted the ban on 203.0.113.2: block.json refused it: 203.0.113.2 is allowlisted (by 203.0.113.0/28)") {
			t.Errorf("log does not say the ban was lifted:\n%s", r.log)
		}

		// `block add` and `block disable` from the CLI reach the kernel through the guard.
		r.store.Edit(context.Background(), func(s *block.State) error {
			s.Ban(block.BanRequest{Prefix: netip.MustParsePrefix("198.51.100.0/24"), TTL: time.Hour, Source: block.SourceCLI}, block.Policy{}, time.Now())
			s.SetEnabled(false, block.SourceCLI, time.Now())
			return nil
		})
		time.Sleep(DefaultPollEvery)
		synctest.Wait()
		if got := r.held(); !slices.Equal(got, []string{"198.51.100.0/24"}) {
			t.Errorf("kernel holds %v after a CLI `block add`, want 198.51.100.0/24", got)
		}
		if st, _ := r.kernel.Status(context.Background()); st.Enabled {
			t.Errorf("drop rules on after a CLI `block disable`")
		}
		r.stop()
	})
}

func TestDaemonExpiresAndSweeps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		cfg := Default()
		cfg.BanTime = time.Minute
		r := startDaemon(t, dir, cfg, &blocktest.Fake{}, nil)
		r.src.failures("203.0.113.5", 10)
		synctest.Wait()
		time.Sleep(59 * time.Second)
		synctest.Wait()
		if got := r.held(); !slices.Equal(got, []string{"203.0.113.5"}) {
			t.Fatalf("kernel holds %v 59 s into a 1m ban", got)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := r.held(); len(got) != 0 {
			t.Errorf("kernel holds %v when the ban ended, want it dropped at once", got)
		}
		if !strings.Contains(r.log.String(), "guard: the ban on 203.0.113.5 ended") {
			t.Errorf("log lacks the end of the ban:\n%s", r.log)
		}
		if _, ok := banOf(r.state(), "203.0.113.5"); !ok {
			t.Errorf("block.json already swept; the sweep waits for the next save")
		}
		time.Sleep(DefaultSweepEvery)
		synctest.Wait()
		st := r.state()
		if _, ok := banOf(st, "203.0.113.5"); ok {
			t.Errorf("block.json still holds the ended ban %v after it ended", DefaultSweepEvery)
		}
		if len(st.Offenders) != 1 || st.Offenders[0].Count != 1 {
			t.Errorf("offenders = %+v, want 203.0.113.5 banned once", st.Offenders)
		}
		r.stop()
	})
}

func TestDaemonRestartKeepsDoubling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		kernel := &blocktest.Fake{}
		r := startDaemon(t, dir, Default(), kernel, nil)
		r.src.failures("2001:db8::bad", 10)
		synctest.Wait()
		r.stop() // saves the ban, not saved yet
		if b, ok := banOf(r.state(), "2001:db8::bad"); !ok || b.Count != 1 {
			t.Fatalf("after stop block.json has %+v, %v; want the ban saved with count 1", b, ok)
		}

		time.Sleep(20 * time.Minute) // the ban ends while no guard runs
		// A reboot empties the kernel; the guard reconciles at start.
		kernel.Drift(context.Background(), []netip.Prefix{netip.MustParsePrefix("192.0.2.77/32")}, []netip.Prefix{netip.MustParsePrefix("2001:db8::bad/128")})
		r = startDaemon(t, dir, Default(), kernel, nil)
		if got := r.held(); len(got) != 0 {
			t.Errorf("kernel holds %v after start, want nothing (the ban ended, the stray entry is not firewarden's)", got)
		}
		r.src.failures("2001:db8::bad", 10)
		time.Sleep(DefaultPersistEvery)
		synctest.Wait()
		b, ok := banOf(r.state(), "2001:db8::bad")
		if !ok || b.Count != 2 || b.Expires.Sub(b.Last) != 30*time.Minute {
			t.Errorf("second ban = %+v, %v; want count 2 lasting 30m", b, ok)
		}
		if !strings.Contains(r.log.String(), "for 30m") || !strings.Contains(r.log.String(), "(ban 2 of this address)") {
			t.Errorf("log does not show the doubled ban:\n%s", r.log)
		}
		r.stop()
	})
}

func TestDaemonStartReconciles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		(&block.Store{Dir: dir}).Edit(context.Background(), func(s *block.State) error {
			s.Ban(block.BanRequest{Prefix: netip.MustParsePrefix("198.51.100.0/24"), TTL: time.Hour, Source: block.SourceCLI}, block.Policy{}, time.Now())
			s.Ban(block.BanRequest{Prefix: netip.MustParsePrefix("198.51.100.9/32"), TTL: -time.Hour + time.Nanosecond, Source: block.SourceCLI}, block.Policy{}, time.Now())
			return nil
		})
		kernel := &blocktest.Fake{}
		kernel.Drift(context.Background(), []netip.Prefix{netip.MustParsePrefix("10.9.9.9/32")}, nil)
		r := startDaemon(t, dir, Default(), kernel, nil)
		if got, want := r.held(), []string{"198.51.100.0/24"}; !slices.Equal(got, want) {
			t.Errorf("kernel holds %v after start, want %v", got, want)
		}
		if st, _ := kernel.Status(context.Background()); !st.Enabled {
			t.Errorf("drop rules off after start with blocking enabled")
		}
		r.stop()
	})
}

func TestDaemonSignals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		var next *Config
		var nextErr error
		reload := func() (*Config, error) { return next, nextErr }
		r := startDaemon(t, dir, Default(), &blocktest.Fake{}, reload)

		nextErr = &ConfigError{File: "guard.yaml", Line: 3, Msg: "threshold.failures \"0\": give a number of failures above 0"}
		r.signals <- syscall.SIGHUP
		synctest.Wait()
		if !strings.Contains(r.log.String(), "reload failed, the running configuration stays: guard.yaml:3:") {
			t.Errorf("log after a bad reload:\n%s", r.log)
		}
		r.src.failures("203.0.113.3", 3)
		synctest.Wait()
		if got := r.held(); len(got) != 0 {
			t.Fatalf("banned after 3 failures with the old threshold of 10: %v", got)
		}

		next, nextErr = Default(), nil
		next.Failures = 3
		next.Allowlist = []netip.Prefix{netip.MustParsePrefix("203.0.113.4/32")}
		r.signals <- syscall.SIGHUP
		synctest.Wait()
		r.src.failures("203.0.113.5", 3)
		r.src.failures("203.0.113.4", 3)
		synctest.Wait()
		if got := r.held(); !slices.Equal(got, []string{"203.0.113.5"}) {
			t.Errorf("after reloading with failures 3: kernel holds %v, want 203.0.113.5", got)
		}

		// SIGTERM saves the ban that is not saved yet and stops.
		r.signals <- syscall.SIGTERM
		if err := <-r.done; err != nil {
			t.Fatalf("Run after SIGTERM = %v, want nil", err)
		}
		if _, ok := banOf(r.state(), "203.0.113.5"); !ok {
			t.Errorf("the unsaved ban was lost at SIGTERM")
		}
		if !strings.Contains(r.log.String(), "guard: stopped: ") {
			t.Errorf("log lacks the stop line:\n%s", r.log)
		}
	})
}

func TestDaemonBackendFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		kernel := &blocktest.Fake{}
		r := startDaemon(t, dir, Default(), kernel, nil)
		kernel.Break(true)
		r.src.failures("203.0.113.8", 10)
		time.Sleep(DefaultPersistEvery)
		synctest.Wait()
		if _, ok := banOf(r.state(), "203.0.113.8"); !ok {
			t.Fatalf("a ban the kernel refused is not saved; the state must keep it")
		}
		if !strings.Contains(r.log.String(), "did not take it") {
			t.Errorf("log does not say the kernel refused the ban:\n%s", r.log)
		}
		kernel.Break(false)
		time.Sleep(retryEvery)
		synctest.Wait()
		if got := r.held(); !slices.Equal(got, []string{"203.0.113.8"}) {
			t.Errorf("kernel holds %v %v after it works again, want the ban retried", got, retryEvery)
		}
		r.stop()
	})
}

// failingSource fails at once, as a journal source does on a host without journalctl.
type failingSource struct{}

func (failingSource) Name() string { return "broken" }
func (failingSource) Run(context.Context, func(follow.Line)) error {
	return errors.New("journalctl is not installed")
}

func TestDaemonSourceFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := New(Options{Config: Default(), StateDir: t.TempDir(), Backend: &blocktest.Fake{}, Source: failingSource{}})
		err := d.Run(context.Background())
		if err == nil || err.Error() != "log sources: journalctl is not installed" {
			t.Errorf("Run with a failing source = %v, want the source's error", err)
		}
	})
}

func TestDaemonJSONLog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		src := newChanSource()
		var log syncBuffer
		kernel := &blocktest.Fake{}
		d := New(Options{Config: Default(), StateDir: dir, Backend: kernel, Source: src, Log: &log, JSON: true})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		synctest.Wait()
		src.failures("203.0.113.66", 10)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run after cancel = %v", err)
		}
		var ban string
		for _, l := range strings.Split(strings.TrimSpace(log.String()), "\n") {
			if !strings.HasPrefix(l, "{") {
				t.Errorf("log line %q is not JSON", l)
			}
			if strings.Contains(l, `"event":"ban"`) {
				ban = l
			}
		}
		for _, want := range []string{`"prefix":"203.0.113.66/32"`, `"duration":"15m"`, `"count":1`, `"score":10`, `"kind":"failed"`, `"source":"test"`, `"read":`, `"applied":`} {
			if !strings.Contains(ban, want) {
				t.Errorf("ban event %s lacks %s", ban, want)
			}
		}
	})
}

// TestDaemonReloadLiftsAllowlisted: an address the reloaded configuration allowlists loses the
// guard's ban on it, in the kernel and in block.json; a ban made with the CLI stays.
func TestDaemonReloadLiftsAllowlisted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		next := Default()
		next.Allowlist = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}
		r := startDaemon(t, dir, Default(), &blocktest.Fake{}, func() (*Config, error) { return next, nil })
		r.store.Edit(context.Background(), func(s *block.State) error {
			_, err := s.Ban(block.BanRequest{Prefix: netip.MustParsePrefix("203.0.113.200/32"), TTL: time.Hour, Source: block.SourceCLI}, block.Policy{}, time.Now())
			return err
		})
		r.src.failures("203.0.113.7", 10)
		time.Sleep(DefaultPersistEvery)
		synctest.Wait()
		if got := r.held(); !slices.Equal(got, []string{"203.0.113.200", "203.0.113.7"}) {
			t.Fatalf("kernel holds %v, want both bans", got)
		}
		r.signals <- syscall.SIGHUP
		time.Sleep(DefaultPersistEvery)
		synctest.Wait()
		if got := r.held(); !slices.Equal(got, []string{"203.0.113.200"}) {
			t.Errorf("kernel holds %v after the reload, want only the CLI's ban", got)
		}
		if _, ok := banOf(r.state(), "203.0.113.7"); ok {
			t.Errorf("block.json keeps the guard's ban of an address its config allowlists")
		}
		if !strings.Contains(r.log.String(), "guard: lifted the ban on 203.0.113.7: on the guard's allowlist") {
			t.Errorf("log lacks the lift:\n%s", r.log)
		}
		r.stop()
	})
}

// A failure line whose address could be text the client wrote is refused: counted, never banned
// on, however often it comes (issue 11).
func TestDaemonRefusesClientChosenAddresses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startDaemon(t, t.TempDir(), Default(), &blocktest.Fake{}, nil)
		// The user name and the key ID both imitate sshd's text: the line reads two ways with
		// different addresses, so it is refused.
		for i := range 20 {
			r.src.ch <- sshd(2000+i, "Failed publickey for bob from 6.6.6.19 port 22 ssh2: ECDSA-CERT SHA256:a ID y from 10.99.0.17 port %d ssh2: ECDSA-CERT SHA256:b ID z (serial 1) CA ECDSA SHA256:c", 5555+i)
		}
		synctest.Wait()
		if got := r.held(); len(got) != 0 {
			t.Fatalf("kernel holds %v after 20 lines that read two ways; want nothing banned", got)
		}
		r.stop()
		if s := r.d.Stats(); s.Refused != 20 || s.Failures != 0 {
			t.Errorf("Stats() refused %d, failures %d after 20 forged certificate lines; want 20 refused, 0 failures", s.Refused, s.Failures)
		}
		if !strings.Contains(r.log.String(), "20 refused") {
			t.Errorf("stop line does not count the refused lines:\n%s", r.log)
		}
	})
}
