package pf_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/block"
	"github.com/firewarden/firewarden/internal/block/pf"
	"github.com/firewarden/firewarden/internal/host"
	"github.com/firewarden/firewarden/internal/host/hosttest"
)

const stateDir = "/Library/Application Support/firewarden"

var now = time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)

// fakeMac is an emulated Mac with pf, and a Backend on it.
type fakeMac struct {
	mac  *hosttest.Mac
	root host.Root
	b    *pf.Backend
}

func newFakeMac(t *testing.T, st *hosttest.PFState, cfg pf.Config) *fakeMac {
	t.Helper()
	dir := t.TempDir()
	ms := hosttest.Mac15()
	ms.PF = st
	m, err := hosttest.NewMac(dir, ms)
	if err != nil {
		t.Fatal(err)
	}
	root, err := host.NewRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Runner == nil {
		cfg.Runner = m
	}
	cfg.Root, cfg.StateDir = root, stateDir
	b, err := pf.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if f := m.State().PF; f != nil && len(f.Forbidden) > 0 {
			t.Errorf("forbidden pfctl runs: %q", f.Forbidden)
		}
	})
	return &fakeMac{mac: m, root: root, b: b}
}

// table is what the emulated kernel holds in the Backend's table, nil when it does not exist.
func (f *fakeMac) table() []string {
	st := f.mac.State().PF
	if st == nil {
		return nil
	}
	return st.Anchors[f.b.Anchor()].Tables[f.b.Table()]
}

// pfctl runs pfctl on the emulated Mac as an administrator would.
func (f *fakeMac) pfctl(t *testing.T, args ...string) {
	t.Helper()
	if _, err := f.mac.Run(context.Background(), host.Cmd{Path: pf.PfctlPath, Args: args}); err != nil {
		t.Fatalf("pfctl %q: %v", args, err)
	}
}

// runs counts the pfctl runs since the mark whose arguments contain every word.
func (f *fakeMac) runs(from int, words ...string) int {
	n := 0
	for _, c := range f.mac.Calls()[from:] {
		if allIn(c, words) {
			n++
		}
	}
	return n
}

func allIn(argv, words []string) bool {
	for _, w := range words {
		if !slices.Contains(argv, w) {
			return false
		}
	}
	return true
}

func bans(ss ...string) []block.Ban {
	var out []block.Ban
	for _, s := range ss {
		out = append(out, block.Ban{Prefix: netip.MustParsePrefix(s)})
	}
	return out
}

func TestSyncAppliesTheDifference(t *testing.T) {
	ctx := context.Background()
	f := newFakeMac(t, nil, pf.Config{})

	res, err := f.b.Sync(ctx, bans("192.0.2.1/32", "198.51.100.0/24", "2001:db8::/64", "2001:db8:1::5/128"), now)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(block.SyncResult{Added: 4}, res); diff != "" {
		t.Errorf("first Sync (-want +got):\n%s", diff)
	}
	want := []string{"192.0.2.1", "198.51.100.0/24", "2001:db8:1::5", "2001:db8::/64"}
	if diff := cmp.Diff(want, f.table()); diff != "" {
		t.Errorf("table after first Sync (-want +got):\n%s", diff)
	}

	mark := len(f.mac.Calls())
	res, err = f.b.Sync(ctx, bans("192.0.2.1/32", "2001:db8::/64", "203.0.113.0/25", "::ffff:192.0.2.77/128"), now)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(block.SyncResult{Added: 2, Removed: 2, Kept: 2}, res); diff != "" {
		t.Errorf("second Sync (-want +got):\n%s", diff)
	}
	want = []string{"192.0.2.1", "192.0.2.77", "2001:db8::/64", "203.0.113.0/25"}
	if diff := cmp.Diff(want, f.table()); diff != "" {
		t.Errorf("table after second Sync (-want +got):\n%s", diff)
	}
	if got := f.runs(mark, "show"); got != 0 {
		t.Errorf("second Sync read the table %d times, want 0 (it applies the difference from its cache)", got)
	}
	if got := f.runs(mark, "-T"); got != 2 {
		t.Errorf("second Sync ran pfctl -T %d times, want 2 (one delete, one add): %q", got, f.mac.Calls()[mark:])
	}

	mark = len(f.mac.Calls())
	if res, err := f.b.Sync(ctx, bans("192.0.2.1/32", "2001:db8::/64", "203.0.113.0/25", "192.0.2.77/32"), now); err != nil || res != (block.SyncResult{Kept: 4}) {
		t.Errorf("Sync of what is held = %+v, %v; want Kept 4", res, err)
	}
	if got := len(f.mac.Calls()) - mark; got != 0 {
		t.Errorf("Sync of what is held ran pfctl %d times, want 0: %q", got, f.mac.Calls()[mark:])
	}
}

func TestSyncReadsTheTableFirst(t *testing.T) {
	ctx := context.Background()
	f := newFakeMac(t, &hosttest.PFState{Anchors: map[string]hosttest.PFAnchor{
		pf.DefaultAnchor: {Tables: map[string][]string{pf.DefaultTable: {"192.0.2.1", "2001:db8::/48"}}},
	}}, pf.Config{})
	res, err := f.b.Sync(ctx, bans("2001:db8::/48", "192.0.2.9/32"), now)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(block.SyncResult{Added: 1, Removed: 1, Kept: 1}, res); diff != "" {
		t.Errorf("Sync (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"192.0.2.9", "2001:db8::/48"}, f.table()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

func TestSyncChunks(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		chunk, n, wantRuns int
	}{
		{chunk: 0, n: 50000, wantRuns: 5}, // DefaultChunk
		{chunk: 7000, n: 50000, wantRuns: 8},
		{chunk: 1, n: 3, wantRuns: 3},
	} {
		t.Run(fmt.Sprintf("chunk=%d,n=%d", tt.chunk, tt.n), func(t *testing.T) {
			f := newFakeMac(t, nil, pf.Config{Chunk: tt.chunk})
			want := make([]block.Ban, tt.n)
			for i := range want {
				a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
				if i%2 == 1 {
					a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 13: byte(i >> 16), 14: byte(i >> 8), 15: byte(i)})
					want[i] = block.Ban{Prefix: netip.PrefixFrom(a, 128)}
					continue
				}
				want[i] = block.Ban{Prefix: netip.PrefixFrom(a, 32)}
			}
			res, err := f.b.Sync(ctx, want, now)
			if err != nil {
				t.Fatal(err)
			}
			if res.Added != tt.n {
				t.Errorf("Sync(%d bans).Added = %d, want %d", tt.n, res.Added, tt.n)
			}
			if got := f.runs(0, "-T", "add"); got != tt.wantRuns {
				t.Errorf("pfctl -T add ran %d times, want %d", got, tt.wantRuns)
			}
			if got := len(f.table()); got != tt.n {
				t.Errorf("table holds %d entries, want %d", got, tt.n)
			}
			// Removing all of them chunks the same way.
			res, err = f.b.Sync(ctx, nil, now)
			if err != nil || res.Removed != tt.n {
				t.Errorf("Sync(nil) = %+v, %v; want Removed %d", res, err, tt.n)
			}
			if got := f.runs(0, "-T", "delete"); got != tt.wantRuns {
				t.Errorf("pfctl -T delete ran %d times, want %d", got, tt.wantRuns)
			}
		})
	}
}

func TestReconcileRepairsDrift(t *testing.T) {
	ctx := context.Background()
	f := newFakeMac(t, nil, pf.Config{})
	want := bans("192.0.2.1/32", "192.0.2.2/32", "2001:db8::/64")
	if _, err := f.b.Sync(ctx, want, now); err != nil {
		t.Fatal(err)
	}
	// An administrator removes one ban and adds an address of their own.
	f.pfctl(t, "-a", pf.DefaultAnchor, "-t", pf.DefaultTable, "-T", "delete", "192.0.2.2")
	f.pfctl(t, "-a", pf.DefaultAnchor, "-t", pf.DefaultTable, "-T", "add", "203.0.113.5")

	if res, err := f.b.Sync(ctx, want, now); err != nil || res != (block.SyncResult{Kept: 3}) {
		t.Errorf("Sync after drift = %+v, %v; want Kept 3 (Sync trusts its cache)", res, err)
	}
	res, err := f.b.Reconcile(ctx, want, now)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(block.SyncResult{Added: 1, Removed: 1, Kept: 2}, res); diff != "" {
		t.Errorf("Reconcile (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"192.0.2.1", "192.0.2.2", "2001:db8::/64"}, f.table()); diff != "" {
		t.Errorf("table after Reconcile (-want +got):\n%s", diff)
	}
}

func TestEnableDisable(t *testing.T) {
	ctx := context.Background()
	f := newFakeMac(t, nil, pf.Config{})
	if st, err := f.b.Status(ctx); err != nil || st != (block.Status{}) {
		t.Errorf("Status of a fresh Mac = %+v, %v; want zero", st, err)
	}
	if err := f.b.SetEnabled(ctx, true); err != nil {
		t.Fatal(err)
	}
	tok, err := f.b.Token()
	if err != nil || tok == "" {
		t.Fatalf("Token() after enabling = %q, %v; want the token pfctl -E printed", tok, err)
	}
	pst := f.mac.State().PF
	if !pst.Running || !slices.Equal(pst.Tokens, []string{tok}) {
		t.Errorf("pf after enabling: running %v, tokens %q; want running with [%s]", pst.Running, pst.Tokens, tok)
	}
	if _, err := f.b.Sync(ctx, bans("192.0.2.1/32", "2001:db8::/64"), now); err != nil {
		t.Fatal(err)
	}
	if st, err := f.b.Status(ctx); err != nil || st != (block.Status{Enabled: true, Entries: 2}) {
		t.Errorf("Status enabled = %+v, %v; want enabled with 2 entries", st, err)
	}

	// Enabling again neither reloads into a second reference nor loses entries.
	if err := f.b.SetEnabled(ctx, true); err != nil {
		t.Fatal(err)
	}
	if got := f.runs(0, "-E"); got != 1 {
		t.Errorf("pfctl -E ran %d times after enabling twice, want 1", got)
	}

	// Another enabler (the Application Firewall, say) holds its own reference.
	f.pfctl(t, "-E")

	if err := f.b.SetEnabled(ctx, false); err != nil {
		t.Fatal(err)
	}
	pst = f.mac.State().PF
	if !pst.Running || len(pst.Tokens) != 1 || slices.Contains(pst.Tokens, tok) {
		t.Errorf("pf after disabling: running %v, tokens %q; want running with the other enabler's token only", pst.Running, pst.Tokens)
	}
	if got := pst.Anchors[pf.DefaultAnchor].Rules; len(got) != 0 {
		t.Errorf("anchor rules after disabling = %q, want none", got)
	}
	if diff := cmp.Diff([]string{"192.0.2.1", "2001:db8::/64"}, f.table()); diff != "" {
		t.Errorf("table after disabling (-want +got):\n%s", diff)
	}
	if tok, err := f.b.Token(); err != nil || tok != "" {
		t.Errorf("Token() after disabling = %q, %v; want none", tok, err)
	}
	if st, err := f.b.Status(ctx); err != nil || st != (block.Status{Entries: 2}) {
		t.Errorf("Status disabled = %+v, %v; want disabled with 2 entries", st, err)
	}

	// And on again: the entries are still there and in force.
	if err := f.b.SetEnabled(ctx, true); err != nil {
		t.Fatal(err)
	}
	if st, err := f.b.Status(ctx); err != nil || st != (block.Status{Enabled: true, Entries: 2}) {
		t.Errorf("Status re-enabled = %+v, %v; want enabled with 2 entries", st, err)
	}
	rules := f.mac.State().PF.Anchors[pf.DefaultAnchor].Rules
	if diff := cmp.Diff([]string{"block drop in quick from <firewarden> to any"}, rules); diff != "" {
		t.Errorf("anchor rules (-want +got):\n%s", diff)
	}
}

// TestStaleToken: when pf is off, every token is dead (pfctl -d invalidates them all). Enabling
// then takes a new reference; disabling still flushes the rules and forgets the dead token.
func TestStaleToken(t *testing.T) {
	ctx := context.Background()
	f := newFakeMac(t, nil, pf.Config{})
	if err := f.b.SetEnabled(ctx, true); err != nil {
		t.Fatal(err)
	}
	old, _ := f.b.Token()
	// Someone releases our reference behind our back (pfctl -d would do the same, but the
	// emulator records -d as forbidden): pf is off and the token dead.
	f.pfctl(t, "-X", old)

	if err := f.b.SetEnabled(ctx, true); err != nil {
		t.Fatal(err)
	}
	tok, _ := f.b.Token()
	if tok == old || !f.mac.State().PF.Running {
		t.Errorf("enable after the token died: token %q (old %q), running %v; want a new token and pf running", tok, old, f.mac.State().PF.Running)
	}
	f.pfctl(t, "-X", tok)
	if err := f.b.SetEnabled(ctx, false); err != nil {
		t.Errorf("disable with a dead token and pf off = %v, want nil", err)
	}
	if tok, _ := f.b.Token(); tok != "" {
		t.Errorf("token after disabling = %q, want none", tok)
	}
}

func TestTableEntriesLimit(t *testing.T) {
	ctx := context.Background()
	f := newFakeMac(t, &hosttest.PFState{TableEntriesLimit: 10}, pf.Config{})
	var want []block.Ban
	for i := range 11 {
		want = append(want, block.Ban{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), 32)})
	}
	_, err := f.b.Sync(ctx, want, now)
	if !errors.Is(err, pf.ErrTableFull) || !strings.Contains(err.Error(), "limit 10") {
		t.Errorf("Sync(11 bans, limit 10) = %v, want ErrTableFull naming the limit", err)
	}
	if f.runs(0, "-T", "add") != 0 {
		t.Errorf("a refused Sync ran pfctl -T add")
	}
	if _, err := f.b.Sync(ctx, want[:10], now); err != nil {
		t.Errorf("Sync(10 bans, limit 10) = %v, want nil", err)
	}
}

// TestKernelRefusalRollsBack: the limit counts every table, so the kernel can refuse a chunk
// the Backend thought would fit. The chunks already applied are undone.
func TestKernelRefusalRollsBack(t *testing.T) {
	ctx := context.Background()
	other := []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"}
	f := newFakeMac(t, &hosttest.PFState{TableEntriesLimit: 10, Anchors: map[string]hosttest.PFAnchor{
		"com.apple/250.ApplicationFirewall": {Tables: map[string][]string{"other": other}},
		pf.DefaultAnchor:                    {Tables: map[string][]string{pf.DefaultTable: {"192.0.2.200"}}},
	}}, pf.Config{Chunk: 2})
	_, err := f.b.Sync(ctx, bans("192.0.2.1/32", "192.0.2.2/32", "192.0.2.3/32", "192.0.2.4/32", "192.0.2.5/32", "192.0.2.6/32"), now)
	var ee *host.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("Sync over the kernel's limit = %v, want *host.ExitError", err)
	}
	if ee.Code != 1 || ee.Stderr != "pfctl: Cannot allocate memory." || !slices.Contains(ee.Argv, "add") || ee.Argv[0] != pf.PfctlPath {
		t.Errorf("ExitError = argv %q, code %d, stderr %q; want pfctl … add, 1, the trimmed kernel message", ee.Argv, ee.Code, ee.Stderr)
	}
	if diff := cmp.Diff([]string{"192.0.2.200"}, f.table()); diff != "" {
		t.Errorf("table after the refused Sync (-want +got):\n%s", diff)
	}
	// After a failure the next Sync reads the table again.
	mark := len(f.mac.Calls())
	if _, err := f.b.Sync(ctx, bans("192.0.2.1/32"), now); err != nil {
		t.Fatal(err)
	}
	if f.runs(mark, "show") != 1 {
		t.Errorf("Sync after a failure did not re-read the table: %q", f.mac.Calls()[mark:])
	}
	if diff := cmp.Diff([]string{"192.0.2.1"}, f.table()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

// failingRunner fails the nth pfctl run matching words.
type failingRunner struct {
	host.Runner
	words []string
	n     int
}

func (r *failingRunner) Run(ctx context.Context, c host.Cmd) (host.Result, error) {
	if allIn(c.Args, r.words) {
		r.n--
		if r.n == 0 {
			argv := c.Argv()
			return host.Result{Argv: argv, ExitCode: 1, Stderr: []byte("pfctl: Operation not permitted.\n")},
				&host.ExitError{Argv: argv, Code: 1, Stderr: "No ALTQ support in kernel\nALTQ related functions disabled\npfctl: Operation not permitted.\n"}
		}
	}
	return r.Runner.Run(ctx, c)
}

func TestChunkFailureRollsBack(t *testing.T) {
	ctx := context.Background()
	fr := &failingRunner{words: []string{"-T", "add"}, n: 3}
	f := newFakeMac(t, &hosttest.PFState{Anchors: map[string]hosttest.PFAnchor{
		pf.DefaultAnchor: {Tables: map[string][]string{pf.DefaultTable: {"192.0.2.100", "192.0.2.101", "192.0.2.102"}}},
	}}, pf.Config{})
	fr.Runner = f.mac
	b, err := pf.New(pf.Config{Runner: fr, Root: f.root, StateDir: stateDir, Chunk: 2})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Sync(ctx, bans("192.0.2.1/32", "192.0.2.2/32", "192.0.2.3/32", "192.0.2.4/32", "192.0.2.5/32"), now)
	var ee *host.ExitError
	if !errors.As(err, &ee) || ee.Stderr != "pfctl: Operation not permitted." {
		t.Fatalf("Sync with a failing third chunk = %v, want *host.ExitError with trimmed stderr", err)
	}
	if !strings.Contains(err.Error(), "/sbin/pfctl -a com.apple/400.firewarden -t firewarden -T add -f") || !strings.Contains(err.Error(), "status 1") {
		t.Errorf("error %q does not name the argv and exit status", err)
	}
	if diff := cmp.Diff([]string{"192.0.2.100", "192.0.2.101", "192.0.2.102"}, f.table()); diff != "" {
		t.Errorf("table after the failed Sync (-want +got):\n%s", diff)
	}
}

func TestErrorsCarryArgvAndStderr(t *testing.T) {
	ctx := context.Background()
	f := newFakeMac(t, nil, pf.Config{})
	if _, err := f.b.Sync(ctx, bans("192.0.2.1/32", "192.0.2.2/32"), now); err != nil {
		t.Fatal(err)
	}
	f.pfctl(t, "-a", pf.DefaultAnchor, "-t", pf.DefaultTable, "-T", "kill") // the table vanishes
	_, err := f.b.Sync(ctx, bans("192.0.2.1/32"), now)
	var ee *host.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("Sync deleting from a vanished table = %v, want *host.ExitError", err)
	}
	want := &host.ExitError{Argv: []string{pf.PfctlPath, "-a", pf.DefaultAnchor, "-t", pf.DefaultTable, "-T", "delete", "-f", stateDir + "/pf-addresses"}, Code: 1, Stderr: "pfctl: Table does not exist."}
	if diff := cmp.Diff(want, ee); diff != "" {
		t.Errorf("ExitError (-want +got):\n%s", diff)
	}
	if res, err := f.b.Reconcile(ctx, bans("192.0.2.1/32"), now); err != nil || res.Added != 1 {
		t.Errorf("Reconcile after the table vanished = %+v, %v; want it recreated with 1 entry", res, err)
	}
}

func TestRunnerMissingPfctl(t *testing.T) {
	dir := t.TempDir()
	root, _ := host.NewRoot(dir)
	b, err := pf.New(pf.Config{Runner: host.ExecRunner{Root: root}, Root: root, StateDir: stateDir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Status(context.Background()); !errors.Is(err, host.ErrNotInstalled) {
		t.Errorf("Status without pfctl = %v, want ErrNotInstalled", err)
	}
}

func TestNewValidates(t *testing.T) {
	root, _ := host.NewRoot(t.TempDir())
	mac := &hosttest.Mac{}
	for _, tt := range []struct {
		name string
		cfg  pf.Config
	}{
		{"no runner", pf.Config{StateDir: stateDir}},
		{"relative state dir", pf.Config{Runner: mac, StateDir: "state"}},
		{"anchor outside com.apple", pf.Config{Runner: mac, StateDir: stateDir, Anchor: "firewarden"}},
		{"anchor two levels down", pf.Config{Runner: mac, StateDir: stateDir, Anchor: "com.apple/400.x/y"}},
		{"table name too long", pf.Config{Runner: mac, StateDir: stateDir, Table: strings.Repeat("t", 32)}},
		{"table name with a space", pf.Config{Runner: mac, StateDir: stateDir, Table: "a b"}},
		{"negative chunk", pf.Config{Runner: mac, StateDir: stateDir, Chunk: -1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Root = root
			if _, err := pf.New(tt.cfg); err == nil {
				t.Errorf("New(%+v) = nil error, want one", tt.cfg)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(root.Dir(), stateDir)); err == nil {
		t.Errorf("New created the state directory; it must have no side effects")
	}
}

// TestEnableRefusesWithoutComAppleAnchor: with a main ruleset that does not evaluate
// com.apple/*, enabling would load rules that never apply; it refuses and changes nothing.
func TestEnableRefusesWithoutComAppleAnchor(t *testing.T) {
	ctx := context.Background()
	f := newFakeMac(t, &hosttest.PFState{NoComApple: true}, pf.Config{})
	err := f.b.SetEnabled(ctx, true)
	if !errors.Is(err, pf.ErrNotEvaluated) {
		t.Fatalf("SetEnabled(true) = %v, want ErrNotEvaluated", err)
	}
	if st := f.mac.State().PF; st.Running || len(st.Tokens) != 0 || len(st.Anchors) != 0 {
		t.Errorf("pf after the refusal = %+v, want untouched", st)
	}
	if tok, _ := f.b.Token(); tok != "" {
		t.Errorf("token after the refusal = %q, want none", tok)
	}
}

// TestDisableKeepsATokenPfRefuses: when pf runs (for someone else) but refuses our token, the
// error says so with pfctl's argv and stderr, and the token stays for the administrator to judge.
func TestDisableKeepsATokenPfRefuses(t *testing.T) {
	ctx := context.Background()
	f := newFakeMac(t, nil, pf.Config{})
	if err := f.b.SetEnabled(ctx, true); err != nil {
		t.Fatal(err)
	}
	tok, _ := f.b.Token()
	f.pfctl(t, "-E")      // another enabler
	f.pfctl(t, "-X", tok) // our reference released behind our back; pf keeps running
	err := f.b.SetEnabled(ctx, false)
	var ee *host.ExitError
	if !errors.As(err, &ee) || ee.Stderr != "pfctl: DIOCSTOPREF: Invalid argument" || !slices.Equal(ee.Argv, []string{pf.PfctlPath, "-X", tok}) {
		t.Fatalf("SetEnabled(false) = %v, want the *host.ExitError of pfctl -X %s", err, tok)
	}
	if !strings.Contains(err.Error(), "token kept in "+stateDir+"/pf.token") {
		t.Errorf("error %q does not say where the token is kept", err)
	}
	if got, _ := f.b.Token(); got != tok {
		t.Errorf("token after the refused release = %q, want %q kept", got, tok)
	}
	if rules := f.mac.State().PF.Anchors[pf.DefaultAnchor].Rules; len(rules) != 0 {
		t.Errorf("rules after disabling = %q, want flushed before the release", rules)
	}
}

func TestCorruptTokenFile(t *testing.T) {
	ctx := context.Background()
	f := newFakeMac(t, nil, pf.Config{})
	p := f.root.Path(stateDir + "/pf.token")
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("not a token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.b.SetEnabled(ctx, false); err == nil || !strings.Contains(err.Error(), "not a pf enable token") {
		t.Errorf("SetEnabled(false) with a corrupt token file = %v, want an error naming it", err)
	}
	if n := f.runs(0, "-X"); n != 0 {
		t.Errorf("pfctl -X ran %d times with a corrupt token", n)
	}
}

func TestApplyNamesAddressesOnTheCommandLine(t *testing.T) {
	ctx := context.Background()
	f := newFakeMac(t, &hosttest.PFState{Anchors: map[string]hosttest.PFAnchor{
		pf.DefaultAnchor: {Tables: map[string][]string{pf.DefaultTable: {"192.0.2.1", "198.51.100.0/25", "198.51.100.128/25"}}},
	}}, pf.Config{Chunk: 2})
	apply := func(add []block.Ban, remove []netip.Prefix, want block.SyncResult) {
		t.Helper()
		res, err := f.b.Apply(ctx, add, remove, now)
		if err != nil || res != want {
			t.Fatalf("Apply = %+v, %v; want %+v", res, err, want)
		}
	}
	// The first Apply reads the table; 198.51.100.0/24 replaces the two halves; the three
	// additions go in two runs of at most two addresses.
	apply(bans("198.51.100.0/24", "203.0.113.5/32", "::ffff:203.0.113.6/128", "2001:db8::/64"), []netip.Prefix{netip.MustParsePrefix("192.0.2.1/32")},
		block.SyncResult{Added: 4, Removed: 3})
	wantCalls := [][]string{
		{pf.PfctlPath, "-a", pf.DefaultAnchor, "-t", pf.DefaultTable, "-T", "delete", "192.0.2.1", "198.51.100.0/25"},
		{pf.PfctlPath, "-a", pf.DefaultAnchor, "-t", pf.DefaultTable, "-T", "delete", "198.51.100.128/25"},
		{pf.PfctlPath, "-a", pf.DefaultAnchor, "-t", pf.DefaultTable, "-T", "add", "198.51.100.0/24", "203.0.113.5"},
		{pf.PfctlPath, "-a", pf.DefaultAnchor, "-t", pf.DefaultTable, "-T", "add", "203.0.113.6", "2001:db8::/64"},
	}
	calls := f.mac.Calls()
	if f.runs(0, "show") != 1 {
		t.Errorf("the first Apply read the table %d times, want once", f.runs(0, "show"))
	}
	var changes [][]string
	for _, c := range calls {
		if slices.Contains(c, "add") || slices.Contains(c, "delete") {
			changes = append(changes, c)
		}
	}
	if diff := cmp.Diff(wantCalls, changes); diff != "" {
		t.Errorf("pfctl runs changing the table (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"198.51.100.0/24", "2001:db8::/64", "203.0.113.5", "203.0.113.6"}, f.table()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
	// Nothing to change: no pfctl run at all.
	mark := len(f.mac.Calls())
	apply(bans("198.51.100.7/32", "203.0.113.5/32"), []netip.Prefix{netip.MustParsePrefix("192.0.2.1/32")}, block.SyncResult{Kept: 2})
	if got := f.mac.Calls()[mark:]; len(got) != 0 {
		t.Errorf("an Apply changing nothing ran pfctl: %q", got)
	}
	// Sync sees what Apply did.
	mark = len(f.mac.Calls())
	if res, err := f.b.Sync(ctx, bans("198.51.100.0/24", "203.0.113.5/32", "203.0.113.6/32", "2001:db8::/64"), now); err != nil || res != (block.SyncResult{Kept: 4}) {
		t.Errorf("Sync after Apply = %+v, %v; want {Kept:4}", res, err)
	}
	if f.runs(mark, "-T") != 0 {
		t.Errorf("Sync after Apply ran pfctl -T: %q", f.mac.Calls()[mark:])
	}
}

func TestApplyChunkFailureRollsBack(t *testing.T) {
	ctx := context.Background()
	fr := &failingRunner{words: []string{"-T", "add"}, n: 2}
	f := newFakeMac(t, &hosttest.PFState{Anchors: map[string]hosttest.PFAnchor{
		pf.DefaultAnchor: {Tables: map[string][]string{pf.DefaultTable: {"192.0.2.100", "192.0.2.101", "198.51.100.0/25"}}},
	}}, pf.Config{})
	fr.Runner = f.mac
	b, err := pf.New(pf.Config{Runner: fr, Root: f.root, StateDir: stateDir, Chunk: 2})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Apply(ctx, bans("192.0.2.1/32", "192.0.2.2/32", "192.0.2.3/32", "198.51.100.0/24"), []netip.Prefix{netip.MustParsePrefix("192.0.2.100/32")}, now)
	var ee *host.ExitError
	if !errors.As(err, &ee) || ee.Stderr != "pfctl: Operation not permitted." || !strings.Contains(err.Error(), "-T add 192.0.2.3 198.51.100.0/24") {
		t.Fatalf("Apply with a failing second chunk = %v, want *host.ExitError naming the argv, with trimmed stderr", err)
	}
	if diff := cmp.Diff([]string{"192.0.2.100", "192.0.2.101", "198.51.100.0/25"}, f.table()); diff != "" {
		t.Errorf("table after the failed Apply (-want +got):\n%s", diff)
	}
	// The next change reads the table again.
	mark := len(f.mac.Calls())
	if res, err := b.Apply(ctx, bans("192.0.2.1/32"), nil, now); err != nil || res != (block.SyncResult{Added: 1}) {
		t.Fatalf("Apply after the failure = %+v, %v; want {Added:1}", res, err)
	}
	if f.runs(mark, "show") != 1 {
		t.Errorf("Apply after a failure did not re-read the table: %q", f.mac.Calls()[mark:])
	}
}

func TestApplyTableEntriesLimit(t *testing.T) {
	ctx := context.Background()
	f := newFakeMac(t, &hosttest.PFState{TableEntriesLimit: 3}, pf.Config{})
	if _, err := f.b.Apply(ctx, bans("192.0.2.1/32", "192.0.2.2/32", "192.0.2.3/32"), nil, now); err != nil {
		t.Fatal(err)
	}
	_, err := f.b.Apply(ctx, bans("192.0.2.4/32"), nil, now)
	if !errors.Is(err, pf.ErrTableFull) {
		t.Errorf("Apply past the limit = %v, want ErrTableFull", err)
	}
	// One out, one in: within the limit.
	if res, err := f.b.Apply(ctx, bans("192.0.2.4/32"), []netip.Prefix{netip.MustParsePrefix("192.0.2.1/32")}, now); err != nil || res != (block.SyncResult{Added: 1, Removed: 1}) {
		t.Errorf("Apply replacing one entry = %+v, %v", res, err)
	}
	if diff := cmp.Diff([]string{"192.0.2.2", "192.0.2.3", "192.0.2.4"}, f.table()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

func TestApplyRejectsBadPrefixes(t *testing.T) {
	ctx := context.Background()
	f := newFakeMac(t, nil, pf.Config{})
	for _, c := range []struct {
		add    []block.Ban
		remove []netip.Prefix
	}{
		{[]block.Ban{{}}, nil},
		{nil, []netip.Prefix{{}}},
		{bans("::ffff:0:0/95"), nil}, // v4-mapped, wider than the mapped range
	} {
		if res, err := f.b.Apply(ctx, c.add, c.remove, now); err == nil || !strings.HasPrefix(err.Error(), "pf backend: ") {
			t.Errorf("Apply(%v, %v) = %+v, %v; want a pf backend error", c.add, c.remove, res, err)
		}
	}
	if len(f.mac.Calls()) != 0 {
		t.Errorf("a refused Apply ran pfctl: %q", f.mac.Calls())
	}
}
