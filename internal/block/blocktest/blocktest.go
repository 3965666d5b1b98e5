// Package blocktest is the acceptance suite every block.Backend passes, and an in-memory fake
// Backend that passes it too.
//
// A backend's test calls
//
//	func TestAcceptance(t *testing.T) {
//		blocktest.Run(t, func(t *testing.T) block.Backend { return newCleanBackend(t) })
//	}
//
// newBackend is called once per subtest and must return a Backend over an empty firewall of its
// own (a fresh network namespace, a fresh stand-in pfctl), cleaned up with t.Cleanup. Three
// optional abilities, found by type assertion on what newBackend returns, let the suite look
// further: Lister (compare the exact prefixes held, not only their number), Drifter (change the
// firewall behind the Backend's back to test Reconcile) and Breaker (make the firewall refuse
// changes, to test that a refused batch changes nothing). A subtest that needs one the backend
// lacks is skipped with a message saying so.
package blocktest

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/firewarden/firewarden/internal/block"
)

// Lister reads the prefixes the firewall really holds, both families, in any order.
type Lister interface {
	Held(ctx context.Context) ([]netip.Prefix, error)
}

// Drifter changes the firewall directly, as an administrator, a reboot or a kernel timeout
// would, without updating what the Backend believes it holds.
type Drifter interface {
	Drift(ctx context.Context, add, remove []netip.Prefix) error
}

// Breaker makes the firewall refuse changes, as a kernel or pfctl refusing a batch would, so
// that the suite can check that a refused change leaves the firewall as it was. Once Break(true)
// is called, the Backend's next change must be refused; what the Backend then does to undo a
// change it made in several steps may be accepted. Break(false) accepts changes again.
type Breaker interface {
	Break(on bool)
}

// LargeSet is how many bans the "large" subtest syncs: enough that a backend must chunk its
// batches (one netlink message or one pfctl argv cannot carry them all).
const LargeSet = 20000

// Run runs the acceptance suite against the Backends newBackend makes.
func Run(t *testing.T, newBackend func(t *testing.T) block.Backend) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBackend(t)
			if b == nil {
				t.Fatal("newBackend returned nil")
			}
			c.run(t, &harness{b: b, ctx: context.Background(), now: time.Now().Truncate(time.Second)})
		})
	}
}

type harness struct {
	b   block.Backend
	ctx context.Context
	now time.Time
}

func (h *harness) sync(t *testing.T, want []block.Ban, wantRes block.SyncResult) {
	t.Helper()
	got, err := h.b.Sync(h.ctx, want, h.now)
	if err != nil {
		t.Fatalf("%s: Sync(%d bans) = %v", h.b.Name(), len(want), err)
	}
	if got != wantRes {
		t.Errorf("%s: Sync(%d bans) = %+v, want %+v", h.b.Name(), len(want), got, wantRes)
	}
	h.holds(t, want)
}

func (h *harness) apply(t *testing.T, add []block.Ban, remove []netip.Prefix, wantRes block.SyncResult, held []block.Ban) {
	t.Helper()
	got, err := h.b.Apply(h.ctx, add, remove, h.now)
	if err != nil {
		t.Fatalf("%s: Apply(add %s, remove %s) = %v", h.b.Name(), briefBans(add), brief(remove), err)
	}
	if got != wantRes {
		t.Errorf("%s: Apply(add %s, remove %s) = %+v, want %+v", h.b.Name(), briefBans(add), brief(remove), got, wantRes)
	}
	h.holds(t, held)
}

func (h *harness) reconcile(t *testing.T, want []block.Ban, wantRes block.SyncResult) {
	t.Helper()
	got, err := h.b.Reconcile(h.ctx, want, h.now)
	if err != nil {
		t.Fatalf("%s: Reconcile(%d bans) = %v", h.b.Name(), len(want), err)
	}
	if got != wantRes {
		t.Errorf("%s: Reconcile(%d bans) = %+v, want %+v", h.b.Name(), len(want), got, wantRes)
	}
	h.holds(t, want)
}

// holds checks that the firewall holds exactly want: the count through Status, the prefixes
// through Lister when the backend has it.
func (h *harness) holds(t *testing.T, want []block.Ban) {
	t.Helper()
	st, err := h.b.Status(h.ctx)
	if err != nil {
		t.Fatalf("%s: Status() = %v", h.b.Name(), err)
	}
	if st.Entries != len(want) {
		t.Errorf("%s: Status().Entries = %d, want %d", h.b.Name(), st.Entries, len(want))
	}
	l, ok := h.b.(Lister)
	if !ok {
		return
	}
	got, err := l.Held(h.ctx)
	if err != nil {
		t.Fatalf("%s: Held() = %v", h.b.Name(), err)
	}
	var ps []netip.Prefix
	for _, b := range want {
		ps = append(ps, b.Prefix)
	}
	if missing, extra := diff(ps, got); len(missing)+len(extra) > 0 {
		t.Errorf("%s: the firewall holds %d prefixes; missing %s, extra %s", h.b.Name(), len(got), brief(missing), brief(extra))
	}
}

func (h *harness) enabled(t *testing.T, want bool) {
	t.Helper()
	st, err := h.b.Status(h.ctx)
	if err != nil {
		t.Fatalf("%s: Status() = %v", h.b.Name(), err)
	}
	if st.Enabled != want {
		t.Errorf("%s: Status().Enabled = %v, want %v", h.b.Name(), st.Enabled, want)
	}
}

func diff(want, got []netip.Prefix) (missing, extra []netip.Prefix) {
	w := map[netip.Prefix]bool{}
	for _, p := range want {
		w[p] = true
	}
	g := map[netip.Prefix]bool{}
	for _, p := range got {
		g[p] = true
		if !w[p] {
			extra = append(extra, p)
		}
	}
	for _, p := range want {
		if !g[p] {
			missing = append(missing, p)
		}
	}
	return missing, extra
}

func brief(ps []netip.Prefix) string {
	if len(ps) == 0 {
		return "none"
	}
	if len(ps) > 5 {
		return fmt.Sprintf("%v and %d more", ps[:5], len(ps)-5)
	}
	return fmt.Sprint(ps)
}

func briefBans(bs []block.Ban) string {
	ps := make([]netip.Prefix, 0, min(len(bs), 6))
	for _, b := range bs[:min(len(bs), 6)] {
		ps = append(ps, b.Prefix)
	}
	if len(bs) > 5 {
		return fmt.Sprintf("%v and %d more", ps[:5], len(bs)-5)
	}
	return brief(ps)
}

// prefixes parses prefixes.
func prefixes(ps ...string) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(ps))
	for _, s := range ps {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// without returns bs without the bans on the prefixes ps.
func without(bs []block.Ban, ps ...string) []block.Ban {
	drop := map[netip.Prefix]bool{}
	for _, p := range prefixes(ps...) {
		drop[p] = true
	}
	var out []block.Ban
	for _, b := range bs {
		if !drop[b.Prefix] {
			out = append(out, b)
		}
	}
	return out
}

// bans makes bans from prefixes, expiring an hour after now (forever for a prefix marked "!").
func (h *harness) bans(ps ...string) []block.Ban {
	var out []block.Ban
	for _, s := range ps {
		exp := h.now.Add(time.Hour)
		if s[0] == '!' {
			s, exp = s[1:], time.Time{}
		}
		out = append(out, block.Ban{Prefix: netip.MustParsePrefix(s), Expires: exp})
	}
	return out
}

// mixed is IPv4 and IPv6 addresses and prefixes, including two adjacent halves that an
// auto-merging interval set would wrongly turn into one entry, and a ban without expiry.
var mixed = []string{
	"192.0.2.1/32", "198.51.100.0/24", "203.0.113.0/25", "203.0.113.128/25", "!10.0.0.0/8",
	"2001:db8::1/128", "2001:db8:1::/48", "2001:db8:2::/127",
}

// large makes n non-adjacent bans, three quarters IPv4 /32s and the rest IPv6 /128s.
func (h *harness) large(n, offset int) []block.Ban {
	out := make([]block.Ban, 0, n)
	for i := offset; i < offset+n; i++ {
		var a netip.Addr
		if i%4 == 3 {
			var b [16]byte
			copy(b[:], []byte{0x20, 0x01, 0x0d, 0xb8})
			b[12], b[13], b[14], b[15] = byte(i>>16), byte(i>>8), byte(i), 1
			a = netip.AddrFrom16(b)
		} else {
			a = netip.AddrFrom4([4]byte{10, byte(i >> 15), byte(i >> 7), byte(i<<1) | 1})
		}
		out = append(out, block.Ban{Prefix: netip.PrefixFrom(a, a.BitLen()), Expires: h.now.Add(time.Hour)})
	}
	return out
}

var cases = []struct {
	name string
	run  func(t *testing.T, h *harness)
}{
	{"Empty", func(t *testing.T, h *harness) {
		h.holds(t, nil)
		h.sync(t, nil, block.SyncResult{})
	}},
	{"AddIPv4IPv6AndPrefixes", func(t *testing.T, h *harness) {
		h.sync(t, h.bans(mixed...), block.SyncResult{Added: len(mixed)})
	}},
	{"SecondSyncChangesNothing", func(t *testing.T, h *harness) {
		want := h.bans(mixed...)
		h.sync(t, want, block.SyncResult{Added: len(mixed)})
		h.sync(t, want, block.SyncResult{Kept: len(mixed)})
		h.sync(t, want, block.SyncResult{Kept: len(mixed)})
	}},
	{"SyncAppliesOnlyTheDifference", func(t *testing.T, h *harness) {
		h.sync(t, h.bans(mixed...), block.SyncResult{Added: len(mixed)})
		next := h.bans("192.0.2.1/32", "198.51.100.0/24", "203.0.113.0/25", "!10.0.0.0/8",
			"2001:db8::1/128", "2001:db8:1::/48", // dropped: 203.0.113.128/25, 2001:db8:2::/127
			"192.0.2.2/32", "2001:db8:3::/64") // added
		h.sync(t, next, block.SyncResult{Added: 2, Removed: 2, Kept: 6})
	}},
	{"SyncOrderDoesNotMatter", func(t *testing.T, h *harness) {
		want := h.bans(mixed...)
		h.sync(t, want, block.SyncResult{Added: len(mixed)})
		rev := slices.Clone(want)
		slices.Reverse(rev)
		h.sync(t, rev, block.SyncResult{Kept: len(mixed)})
	}},
	{"LongerTimeoutKeepsTheEntry", func(t *testing.T, h *harness) {
		want := h.bans(mixed...)
		h.sync(t, want, block.SyncResult{Added: len(mixed)})
		longer := slices.Clone(want)
		for i := range longer {
			if !longer[i].Expires.IsZero() {
				longer[i].Expires = longer[i].Expires.Add(time.Hour)
			}
		}
		got, err := h.b.Sync(h.ctx, longer, h.now)
		if err != nil {
			t.Fatalf("%s: Sync with longer timeouts = %v", h.b.Name(), err)
		}
		if got.Added+got.Kept != len(mixed) || got.Removed > got.Added {
			t.Errorf("%s: Sync with longer timeouts = %+v; every entry should be kept or re-added", h.b.Name(), got)
		}
		h.holds(t, longer)
	}},
	{"RemoveEverything", func(t *testing.T, h *harness) {
		h.sync(t, h.bans(mixed...), block.SyncResult{Added: len(mixed)})
		h.sync(t, nil, block.SyncResult{Removed: len(mixed)})
		h.sync(t, h.bans(mixed[:2]...), block.SyncResult{Added: 2})
	}},
	{"ReconcileWithoutDriftChangesNothing", func(t *testing.T, h *harness) {
		want := h.bans(mixed...)
		h.sync(t, want, block.SyncResult{Added: len(mixed)})
		h.reconcile(t, want, block.SyncResult{Kept: len(mixed)})
		h.sync(t, want, block.SyncResult{Kept: len(mixed)})
	}},
	{"ReconcileRepairsDrift", func(t *testing.T, h *harness) {
		d, ok := h.b.(Drifter)
		if !ok {
			t.Skipf("%s has no blocktest.Drifter test hook; give the value newBackend returns a Drift method to test Reconcile after drift", h.b.Name())
		}
		want := h.bans(mixed...)
		h.sync(t, want, block.SyncResult{Added: len(mixed)})
		// Someone deletes one entry of each family and adds a foreign one.
		lost := []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("2001:db8:1::/48")}
		foreign := []netip.Prefix{netip.MustParsePrefix("100.64.0.1/32")}
		if err := d.Drift(h.ctx, foreign, lost); err != nil {
			t.Fatalf("Drift = %v", err)
		}
		h.reconcile(t, want, block.SyncResult{Added: 2, Removed: 1, Kept: len(mixed) - 2})
		h.sync(t, want, block.SyncResult{Kept: len(mixed)})
	}},
	{"DisableKeepsEntries", func(t *testing.T, h *harness) {
		want := h.bans(mixed...)
		h.sync(t, want, block.SyncResult{Added: len(mixed)})
		if err := h.b.SetEnabled(h.ctx, true); err != nil {
			t.Fatalf("SetEnabled(true) = %v", err)
		}
		h.enabled(t, true)
		for range 2 { // twice: disabling is idempotent
			if err := h.b.SetEnabled(h.ctx, false); err != nil {
				t.Fatalf("SetEnabled(false) = %v", err)
			}
			h.enabled(t, false)
			h.holds(t, want)
		}
		// Changes while disabled land in the sets.
		want = append(want, h.bans("192.0.2.99/32")...)
		h.sync(t, want, block.SyncResult{Added: 1, Kept: len(mixed)})
		for range 2 {
			if err := h.b.SetEnabled(h.ctx, true); err != nil {
				t.Fatalf("SetEnabled(true) = %v", err)
			}
			h.enabled(t, true)
			h.holds(t, want)
		}
		h.sync(t, want, block.SyncResult{Kept: len(want)})
	}},
	{"EnableBeforeAnyBan", func(t *testing.T, h *harness) {
		if err := h.b.SetEnabled(h.ctx, true); err != nil {
			t.Fatalf("SetEnabled(true) on an empty firewall = %v", err)
		}
		h.enabled(t, true)
		h.sync(t, h.bans(mixed...), block.SyncResult{Added: len(mixed)})
		h.enabled(t, true)
	}},
	{"ApplyAdds", func(t *testing.T, h *harness) {
		want := h.bans(mixed...)
		h.apply(t, want, nil, block.SyncResult{Added: len(mixed)}, want)
		h.apply(t, want, nil, block.SyncResult{Kept: len(mixed)}, want)
		h.sync(t, want, block.SyncResult{Kept: len(mixed)})
		// Duplicates and prefixes inside other added ones count once.
		more := h.bans("192.0.2.2/32", "192.0.2.2/32", "100.64.0.0/10", "100.64.1.1/32", "2001:db8:9::/48", "2001:db8:9::1/128")
		want = append(want, h.bans("192.0.2.2/32", "100.64.0.0/10", "2001:db8:9::/48")...)
		h.apply(t, more, nil, block.SyncResult{Added: 3}, want)
		h.sync(t, want, block.SyncResult{Kept: len(want)})
	}},
	{"ApplyAddInsideAHeldPrefixKeepsIt", func(t *testing.T, h *harness) {
		want := h.bans(mixed...)
		h.sync(t, want, block.SyncResult{Added: len(mixed)})
		h.apply(t, h.bans("198.51.100.7/32", "203.0.113.200/32", "10.1.2.0/24", "!2001:db8:1:2::/64", "2001:db8:2::1/128"), nil,
			block.SyncResult{Kept: 5}, want)
		h.sync(t, want, block.SyncResult{Kept: len(mixed)})
	}},
	{"ApplyAddCoveringReplaces", func(t *testing.T, h *harness) {
		h.sync(t, h.bans(mixed...), block.SyncResult{Added: len(mixed)})
		// 203.0.113.0/24 covers both /25s; 2001:db8::/46 covers every IPv6 ban of mixed. A host
		// inside an added prefix is dropped.
		held := h.bans("192.0.2.1/32", "198.51.100.0/24", "!10.0.0.0/8", "203.0.113.0/24", "2001:db8::/46")
		h.apply(t, h.bans("203.0.113.0/24", "203.0.113.9/32", "2001:db8::/46"), nil, block.SyncResult{Added: 2, Removed: 5}, held)
		// 192.0.0.0/3 covers three of what is left, prefixes and a host.
		held = h.bans("!10.0.0.0/8", "192.0.0.0/3", "2001:db8::/46")
		h.apply(t, h.bans("192.0.0.0/3"), nil, block.SyncResult{Added: 1, Removed: 3}, held)
		h.sync(t, held, block.SyncResult{Kept: len(held)})
	}},
	{"ApplyRemoves", func(t *testing.T, h *harness) {
		want := h.bans(mixed...)
		h.sync(t, want, block.SyncResult{Added: len(mixed)})
		rest := without(want, "198.51.100.0/24", "2001:db8::1/128", "10.0.0.0/8")
		h.apply(t, nil, prefixes("198.51.100.0/24", "2001:db8::1/128", "10.0.0.0/8"), block.SyncResult{Removed: 3}, rest)
		h.apply(t, nil, prefixes("198.51.100.0/24", "2001:db8::1/128", "10.0.0.0/8"), block.SyncResult{}, rest)
		h.sync(t, rest, block.SyncResult{Kept: len(rest)})
		h.apply(t, nil, prefixes(mixed[:4]...), block.SyncResult{Removed: 3}, without(rest, mixed[:4]...))
	}},
	{"ApplyRemoveIgnoresWhatIsNotHeldExactly", func(t *testing.T, h *harness) {
		want := h.bans(mixed...)
		h.sync(t, want, block.SyncResult{Added: len(mixed)})
		// Absent, inside a held prefix, around held prefixes.
		h.apply(t, nil, prefixes("192.0.2.77/32", "198.51.100.0/25", "198.51.100.1/32", "203.0.113.0/24", "2001:db8:2::/128", "2001:db8::/32"),
			block.SyncResult{}, want)
		h.sync(t, want, block.SyncResult{Kept: len(mixed)})
	}},
	{"ApplyRemoveThenAdd", func(t *testing.T, h *harness) {
		want := h.bans(mixed...)
		h.sync(t, want, block.SyncResult{Added: len(mixed)})
		// Removal goes first: the same prefix in both is deleted and added again.
		h.apply(t, h.bans("203.0.113.0/25"), prefixes("203.0.113.0/25"), block.SyncResult{Added: 1, Removed: 1}, want)
		// A host inside a prefix removed in the same call is no longer covered.
		held := append(without(want, "198.51.100.0/24"), h.bans("198.51.100.7/32")...)
		h.apply(t, h.bans("198.51.100.7/32"), prefixes("198.51.100.0/24"), block.SyncResult{Added: 1, Removed: 1}, held)
		h.sync(t, held, block.SyncResult{Kept: len(held)})
	}},
	{"ApplyLongerTimeoutKeepsTheEntry", func(t *testing.T, h *harness) {
		want := h.bans(mixed...)
		h.apply(t, want, nil, block.SyncResult{Added: len(mixed)}, want)
		for _, d := range []time.Duration{2 * time.Hour, time.Minute} { // raised, then not lowered
			other := slices.Clone(want)
			for i := range other {
				other[i].Expires = h.now.Add(d)
			}
			h.apply(t, other, nil, block.SyncResult{Kept: len(mixed)}, want)
		}
	}},
	{"ApplyThenSyncAgree", func(t *testing.T, h *harness) {
		all := h.bans(mixed...)
		h.sync(t, all[:4], block.SyncResult{Added: 4})
		h.apply(t, all[4:], prefixes(mixed[0]), block.SyncResult{Added: len(mixed) - 4, Removed: 1}, all[1:])
		h.sync(t, all[1:], block.SyncResult{Kept: len(mixed) - 1})
		h.sync(t, all, block.SyncResult{Added: 1, Kept: len(mixed) - 1})
		h.apply(t, nil, prefixes(mixed[0]), block.SyncResult{Removed: 1}, all[1:])
		h.reconcile(t, all[1:], block.SyncResult{Kept: len(mixed) - 1})
		h.apply(t, all[:2], nil, block.SyncResult{Added: 1, Kept: 1}, all)
	}},
	{"ApplyFirstReadsTheKernel", func(t *testing.T, h *harness) {
		d, ok := h.b.(Drifter)
		if !ok {
			t.Skipf("%s has no blocktest.Drifter test hook; give the value newBackend returns a Drift method to test that Apply reads the firewall first", h.b.Name())
		}
		// The sets exist, holding entries this Backend never applied.
		if err := h.b.SetEnabled(h.ctx, true); err != nil {
			t.Fatalf("SetEnabled(true) = %v", err)
		}
		if err := d.Drift(h.ctx, prefixes("100.64.0.1/32", "2001:db8:ff::/48"), nil); err != nil {
			t.Fatalf("Drift = %v", err)
		}
		h.apply(t, h.bans("192.0.2.1/32"), nil, block.SyncResult{Added: 1}, h.bans("100.64.0.1/32", "2001:db8:ff::/48", "192.0.2.1/32"))
		h.apply(t, h.bans("100.64.0.1/32", "2001:db8:ff:1::/64"), nil, block.SyncResult{Kept: 2}, h.bans("100.64.0.1/32", "2001:db8:ff::/48", "192.0.2.1/32"))
		h.apply(t, nil, prefixes("2001:db8:ff::/48"), block.SyncResult{Removed: 1}, h.bans("100.64.0.1/32", "192.0.2.1/32"))
	}},
	{"ApplyAfterDriftThenReconcileRepairs", func(t *testing.T, h *harness) {
		d, ok := h.b.(Drifter)
		if !ok {
			t.Skipf("%s has no blocktest.Drifter test hook; give the value newBackend returns a Drift method to test Reconcile after drift", h.b.Name())
		}
		h.sync(t, h.bans(mixed...), block.SyncResult{Added: len(mixed)})
		if err := d.Drift(h.ctx, prefixes("100.64.0.1/32"), prefixes("198.51.100.0/24")); err != nil {
			t.Fatalf("Drift = %v", err)
		}
		// Apply changes what it is asked to and leaves the drift alone.
		held := append(without(h.bans(mixed...), "198.51.100.0/24", "2001:db8::1/128"), h.bans("192.0.2.50/32", "100.64.0.1/32")...)
		h.apply(t, h.bans("192.0.2.50/32"), prefixes("2001:db8::1/128"), block.SyncResult{Added: 1, Removed: 1}, held)
		want := append(without(h.bans(mixed...), "2001:db8::1/128"), h.bans("192.0.2.50/32")...)
		h.reconcile(t, want, block.SyncResult{Added: 1, Removed: 1, Kept: len(want) - 1})
		h.apply(t, h.bans("198.51.100.0/24"), nil, block.SyncResult{Kept: 1}, want)
		h.sync(t, want, block.SyncResult{Kept: len(want)})
	}},
	{"ApplyRefusedChangesNothing", func(t *testing.T, h *harness) {
		br, ok := h.b.(Breaker)
		if !ok {
			t.Skipf("%s has no blocktest.Breaker test hook; give the value newBackend returns a Break method to test that a refused Apply changes nothing", h.b.Name())
		}
		want := h.bans(mixed...)
		h.sync(t, want, block.SyncResult{Added: len(mixed)})
		add, remove := h.bans("192.0.2.50/32", "203.0.113.0/24", "2001:db8:5::/64"), prefixes("192.0.2.1/32", "2001:db8::1/128")
		br.Break(true)
		if res, err := h.b.Apply(h.ctx, add, remove, h.now); err == nil {
			t.Errorf("%s: Apply with the firewall refusing changes = %+v, nil error", h.b.Name(), res)
		}
		br.Break(false)
		h.holds(t, want)
		h.sync(t, want, block.SyncResult{Kept: len(mixed)})
		held := append(without(want, "192.0.2.1/32", "2001:db8::1/128", "203.0.113.0/25", "203.0.113.128/25"), add...)
		h.apply(t, add, remove, block.SyncResult{Added: 3, Removed: 4}, held)
	}},
	{"ApplyInvalidPrefixChangesNothing", func(t *testing.T, h *harness) {
		want := h.bans(mixed...)
		h.sync(t, want, block.SyncResult{Added: len(mixed)})
		for _, c := range []struct {
			add    []block.Ban
			remove []netip.Prefix
		}{
			{append(h.bans("192.0.2.50/32"), block.Ban{}), nil},
			{h.bans("192.0.2.50/32"), []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), {}}},
		} {
			if res, err := h.b.Apply(h.ctx, c.add, c.remove, h.now); err == nil {
				t.Errorf("%s: Apply(add %s, remove %s) = %+v, nil error; want an error for the invalid prefix", h.b.Name(), briefBans(c.add), brief(c.remove), res)
			}
			h.holds(t, want)
		}
		h.sync(t, want, block.SyncResult{Kept: len(mixed)})
	}},
	{"LargeSetInChunks", func(t *testing.T, h *harness) {
		want := h.large(LargeSet, 0)
		h.sync(t, want, block.SyncResult{Added: LargeSet})
		h.sync(t, want, block.SyncResult{Kept: LargeSet})
		// Prefixes over many held hosts: 10.0.0.0/24 covers 96 of them (few enough to look every
		// address up), 2001:db8::/32 every IPv6 one (a search over all entries).
		var in24, v6 []string
		for _, b := range want {
			switch {
			case netip.MustParsePrefix("10.0.0.0/24").Contains(b.Prefix.Addr()):
				in24 = append(in24, b.Prefix.String())
			case b.Prefix.Addr().Is6():
				v6 = append(v6, b.Prefix.String())
			}
		}
		held := append(without(want, in24...), h.bans("10.0.0.0/24")...)
		h.apply(t, h.bans("10.0.0.0/24", "10.0.0.77/32"), nil, block.SyncResult{Added: 1, Removed: len(in24)}, held)
		held = append(without(held, append(v6, "10.0.0.0/24")...), h.bans("!2001:db8::/32")...)
		h.apply(t, h.bans("!2001:db8::/32"), prefixes("10.0.0.0/24"), block.SyncResult{Added: 1, Removed: len(v6) + 1}, held)
		h.sync(t, want, block.SyncResult{Added: len(in24) + len(v6), Removed: 1, Kept: LargeSet - len(in24) - len(v6)})
		// Half go, a quarter as many arrive.
		next := append(slices.Clone(want[LargeSet/2:]), h.large(LargeSet/4, LargeSet)...)
		h.sync(t, next, block.SyncResult{Added: LargeSet / 4, Removed: LargeSet / 2, Kept: LargeSet / 2})
		h.reconcile(t, next, block.SyncResult{Kept: len(next)})
		h.sync(t, nil, block.SyncResult{Removed: len(next)})
	}},
}
