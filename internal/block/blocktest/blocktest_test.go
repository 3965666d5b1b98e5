package blocktest

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/block"
)

func TestFakePassesTheSuite(t *testing.T) {
	Run(t, func(t *testing.T) block.Backend { return &Fake{} })
}

func TestDryRunPassesTheSuite(t *testing.T) {
	Run(t, func(t *testing.T) block.Backend { return block.NewDryRun(&bytes.Buffer{}, nil, false) })
}

// TestSuiteCatchesABrokenBackend makes sure the suite can fail: a backend that ignores removals.
func TestSuiteCatchesABrokenBackend(t *testing.T) {
	h := &harness{b: &leaky{}, ctx: context.Background(), now: time.Now()}
	ft := &testing.T{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, c := range cases {
			if c.name == "SyncAppliesOnlyTheDifference" {
				c.run(ft, h)
			}
		}
	}()
	<-done
	if !ft.Failed() {
		t.Error("the suite passed a backend that never removes anything")
	}
}

// TestSuiteCatchesABrokenApply makes sure the Apply cases can fail: a backend whose Apply adds
// a prefix without deleting the held prefixes inside it, and one that ignores removals.
func TestSuiteCatchesABrokenApply(t *testing.T) {
	for _, c := range []struct {
		name string
		b    block.Backend
		cas  string
	}{
		{"keeps what a prefix covers", &overlapping{}, "ApplyAddCoveringReplaces"},
		{"ignores removals", &deaf{}, "ApplyRemoves"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := &harness{b: c.b, ctx: context.Background(), now: time.Now()}
			ft := &testing.T{}
			done := make(chan struct{})
			go func() {
				defer close(done)
				for _, k := range cases {
					if k.name == c.cas {
						k.run(ft, h)
					}
				}
			}()
			<-done
			if !ft.Failed() {
				t.Errorf("%s passed a backend that %s", c.cas, c.name)
			}
		})
	}
}

// overlapping is a Fake whose Apply adds every prefix not held exactly, as a plain set would.
type overlapping struct{ Fake }

func (o *overlapping) Apply(ctx context.Context, add []block.Ban, remove []netip.Prefix, now time.Time) (block.SyncResult, error) {
	held, _ := o.Held(ctx)
	want := map[netip.Prefix]block.Ban{}
	for _, p := range held {
		want[p] = block.Ban{Prefix: p}
	}
	for _, p := range remove {
		delete(want, p)
	}
	var res block.SyncResult
	for _, b := range add {
		if _, ok := want[b.Prefix]; ok {
			res.Kept++
			continue
		}
		res.Added++
		want[b.Prefix] = b
	}
	var bs []block.Ban
	for _, b := range want {
		bs = append(bs, b)
	}
	_, err := o.Fake.Sync(ctx, bs, now)
	return res, err
}

// deaf is a Fake whose Apply ignores remove.
type deaf struct{ Fake }

func (d *deaf) Apply(ctx context.Context, add []block.Ban, remove []netip.Prefix, now time.Time) (block.SyncResult, error) {
	res, err := d.Fake.Apply(ctx, add, nil, now)
	res.Removed += len(remove)
	return res, err
}

// leaky is a Fake that never removes entries.
type leaky struct{ Fake }

func (l *leaky) Sync(ctx context.Context, want []block.Ban, now time.Time) (block.SyncResult, error) {
	held, _ := l.Held(ctx)
	keep := map[netip.Prefix]bool{}
	for _, b := range want {
		keep[b.Prefix] = true
	}
	for _, p := range held {
		if !keep[p] {
			want = append(want, block.Ban{Prefix: p})
		}
	}
	return l.Fake.Sync(ctx, want, now)
}

func TestFakeFailChangesNothing(t *testing.T) {
	f := &Fake{}
	ctx := context.Background()
	want := []block.Ban{{Prefix: netip.MustParsePrefix("192.0.2.1/32")}}
	f.Sync(ctx, want, time.Now())
	f.Fail = errors.New("refused")
	if _, err := f.Sync(ctx, nil, time.Now()); err == nil {
		t.Fatal("Sync with Fail set = nil error")
	}
	if st, _ := f.Status(ctx); st.Entries != 1 {
		t.Errorf("after a failed Sync the kernel holds %d entries, want 1", st.Entries)
	}
}

func TestDryRunPrints(t *testing.T) {
	var out bytes.Buffer
	now := time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)
	d := block.NewDryRun(&out, []block.Ban{{Prefix: netip.MustParsePrefix("192.0.2.1/32")}}, true)
	res, err := d.Sync(context.Background(), []block.Ban{
		{Prefix: netip.MustParsePrefix("198.51.100.0/24"), Expires: now.Add(15 * time.Minute)},
	}, now)
	if err != nil || res != (block.SyncResult{Added: 1, Removed: 1}) {
		t.Errorf("Sync = %+v, %v", res, err)
	}
	d.SetEnabled(context.Background(), false)
	want := "dry-run: would remove 192.0.2.1\n" +
		"dry-run: would add 198.51.100.0/24 (timeout 15m, until 2026-11-22T06:15:00Z)\n" +
		"dry-run: would disable the drop rules (1 entries kept)\n"
	if got := out.String(); got != want {
		t.Errorf("dry-run printed\n%s\nwant\n%s", got, strings.TrimSpace(want))
	}
}

func TestDryRunApplyPrints(t *testing.T) {
	var out bytes.Buffer
	now := time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)
	d := block.NewDryRun(&out, []block.Ban{
		{Prefix: netip.MustParsePrefix("192.0.2.1/32"), Expires: now.Add(time.Hour)},
		{Prefix: netip.MustParsePrefix("198.51.100.0/25")},
		{Prefix: netip.MustParsePrefix("203.0.113.9/32"), Expires: now.Add(time.Hour)},
	}, true)
	res, err := d.Apply(context.Background(), []block.Ban{
		{Prefix: netip.MustParsePrefix("198.51.100.0/24"), Expires: now.Add(15 * time.Minute)},
		{Prefix: netip.MustParsePrefix("192.0.2.1/32"), Expires: now.Add(2 * time.Hour)},
		{Prefix: netip.MustParsePrefix("203.0.113.9/32"), Expires: now.Add(time.Minute)},
	}, []netip.Prefix{netip.MustParsePrefix("2001:db8::1/128")}, now)
	if err != nil || res != (block.SyncResult{Added: 1, Removed: 1, Kept: 2}) {
		t.Errorf("Apply = %+v, %v; want {Added:1 Removed:1 Kept:2}", res, err)
	}
	want := "dry-run: would update 192.0.2.1 (timeout 2h, until 2026-11-22T08:00:00Z)\n" +
		"dry-run: would add 198.51.100.0/24 (timeout 15m, until 2026-11-22T06:15:00Z)\n" +
		"dry-run: would remove 198.51.100.0/25\n"
	if got := out.String(); got != want {
		t.Errorf("dry-run printed\n%s\nwant\n%s", got, want)
	}
}

func TestPlanApply(t *testing.T) {
	now := time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)
	h1, h2 := now.Add(time.Hour), now.Add(2*time.Hour)
	p := netip.MustParsePrefix
	ban := func(s string, exp time.Time) block.Ban { return block.Ban{Prefix: p(s), Expires: exp} }
	held := map[netip.Prefix]time.Time{
		p("192.0.2.1/32"): h1, p("198.51.100.0/25"): h1, p("198.51.100.128/26"): {}, p("10.0.0.0/8"): h1, p("2001:db8::/48"): h1,
	}
	for _, c := range []struct {
		name   string
		add    []block.Ban
		remove []netip.Prefix
		want   block.Delta
	}{
		{"nothing", nil, nil, block.Delta{}},
		{"renew and keep", []block.Ban{ban("192.0.2.1/32", h2), ban("10.0.0.0/8", now), ban("2001:db8:0:1::/64", h2)}, nil,
			block.Delta{Renew: []block.Ban{ban("192.0.2.1/32", h2)}, Result: block.SyncResult{Kept: 3}}},
		{"replace, masked and unmapped", []block.Ban{ban("::ffff:198.51.100.77/120", h2), ban("198.51.100.200/32", h1)}, nil,
			block.Delta{Remove: []netip.Prefix{p("198.51.100.0/25"), p("198.51.100.128/26")}, Add: []block.Ban{ban("198.51.100.0/24", h2)},
				Result: block.SyncResult{Added: 1, Removed: 2}}},
		{"remove first", []block.Ban{ban("10.1.1.1/32", h1)}, []netip.Prefix{p("10.0.0.0/8"), p("10.1.1.1/32"), p("2001:db8::/49")},
			block.Delta{Remove: []netip.Prefix{p("10.0.0.0/8")}, Add: []block.Ban{ban("10.1.1.1/32", h1)},
				Result: block.SyncResult{Added: 1, Removed: 1}}},
		{"zone stripped", []block.Ban{{Prefix: netip.PrefixFrom(netip.MustParseAddr("fe80::1%eth0"), 128), Expires: h1}}, nil,
			block.Delta{Add: []block.Ban{ban("fe80::1/128", h1)}, Result: block.SyncResult{Added: 1}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := block.PlanApply(held, func(t time.Time) time.Time { return t }, c.add, c.remove)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
				t.Errorf("PlanApply (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := block.PlanApply(held, nil, []block.Ban{{}}, nil); err == nil || !strings.Contains(err.Error(), "invalid prefix") {
		t.Errorf("PlanApply(an invalid prefix) = %v, want an error naming it", err)
	}
}
