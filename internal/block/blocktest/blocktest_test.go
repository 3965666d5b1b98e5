package blocktest

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

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
