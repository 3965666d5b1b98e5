package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// testLatestBans: the newest ban summary by seq is kept per host, whatever the order in which
// records arrive (a spool uploads an older record after a newer one when a batch was retried).
func testLatestBans(t *testing.T, s store.Store) {
	ctx := context.Background()
	enroll(t, s, "h1", "u1", at(0))
	enroll(t, s, "h2", "u2", at(0))
	if _, _, err := s.LatestBans(ctx, "h1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LatestBans(h1) before any summary = %v, want ErrNotFound", err)
	}
	newer := wire.Bans{Active: 7, Added: 2, Top: []string{"203.0.113.0/24", "198.51.100.7"}}
	ingest(t, s, "h1", batch(wire.Record{Seq: 1, Kind: wire.KindBans, Time: at(1), Bans: &wire.Bans{Active: 1, Added: 1}}))
	ingest(t, s, "h1", batch(wire.Record{Seq: 3, Kind: wire.KindBans, Time: at(3), Bans: &newer}))
	ingest(t, s, "h1", batch(wire.Record{Seq: 2, Kind: wire.KindBans, Time: at(4), Bans: &wire.Bans{Active: 2}}))
	b, when, err := s.LatestBans(ctx, "h1")
	if err != nil {
		t.Fatalf("LatestBans(h1) = %v", err)
	}
	if diff := cmp.Diff(newer, b); diff != "" || !when.Equal(at(3)) {
		t.Errorf("LatestBans(h1) = %v (-want +got):\n%s, want the summary of seq 3 at %v", when, diff, at(3))
	}
	if _, _, err := s.LatestBans(ctx, "h2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LatestBans(h2) = %v, want ErrNotFound: h1's summary is not h2's", err)
	}
}
