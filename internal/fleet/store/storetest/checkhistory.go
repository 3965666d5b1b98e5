package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// testCheckHistory: one check's transitions on every host, newest first, paged by a cursor that
// splits transitions of the same time without losing or repeating any.
func testCheckHistory(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, h := range []string{"h1", "h2", "h3"} {
		enroll(t, s, h, "u-"+h, at(0))
	}
	ingest(t, s, "h1", batch(
		runRecord(1, at(10), "alf", wire.StatusPass, "1", "stealth", wire.StatusFail, "0"),
		runRecord(2, at(30), "alf", wire.StatusFail, "0", "stealth", wire.StatusPass, "1"),
		runRecord(3, at(50), "alf", wire.StatusPass, "1", "stealth", wire.StatusPass, "1"),
	))
	ingest(t, s, "h2", batch(runRecord(1, at(10), "alf", wire.StatusError, "?"), runRecord(2, at(30), "alf", wire.StatusPass, "1")))
	ingest(t, s, "h3", batch(runRecord(1, at(30), "alf", wire.StatusPass, "1")))

	// Transitions gives them oldest first, in the order they happened: reversed, that is the
	// order CheckHistory must give.
	want := transitions(t, s, "", "alf")
	slices.Reverse(want)
	if len(want) != 6 {
		t.Fatalf("Transitions(\"\", alf) = %d transitions, want 6", len(want))
	}
	page := func(q store.CheckHistoryQuery) []store.CheckTransition {
		t.Helper()
		got, err := s.CheckHistory(ctx, q)
		if err != nil {
			t.Fatalf("CheckHistory(%+v) = %v", q, err)
		}
		return got
	}
	plain := func(cs []store.CheckTransition) []store.Transition {
		out := []store.Transition{}
		for _, c := range cs {
			out = append(out, c.Transition)
		}
		return out
	}
	for _, limit := range []int{1, 2, 4, 6, 100} {
		var got []store.CheckTransition
		q := store.CheckHistoryQuery{Check: "alf", Limit: limit}
		for range 10 {
			p := page(q)
			if len(p) > limit {
				t.Fatalf("limit %d: a page of %d", limit, len(p))
			}
			got = append(got, p...)
			if len(p) < limit {
				break
			}
			q.BeforeTime, q.BeforeID = p[len(p)-1].Time, p[len(p)-1].ID
		}
		if diff := cmp.Diff(append([]store.Transition{}, want...), plain(got)); diff != "" {
			t.Errorf("CheckHistory(alf) in pages of %d (-want +got):\n%s", limit, diff)
		}
	}
	tests := []struct {
		name     string
		from, to time.Time
		want     []store.Transition
	}{
		{"from and to inclusive", at(10), at(30), want[1:]},
		{"to", time.Time{}, at(29), want[4:]},
		{"from", at(31), time.Time{}, want[:1]},
		{"empty window", at(11), at(29), []store.Transition{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := page(store.CheckHistoryQuery{Check: "alf", From: tt.from, To: tt.to, Limit: 100})
			if diff := cmp.Diff(tt.want, plain(got)); diff != "" {
				t.Errorf("CheckHistory(alf, %v, %v) (-want +got):\n%s", tt.from, tt.to, diff)
			}
		})
	}
	if got := page(store.CheckHistoryQuery{Check: "nope", Limit: 10}); len(got) != 0 {
		t.Errorf("CheckHistory(unknown check) = %v, want none", got)
	}
	if _, err := s.CheckHistory(ctx, store.CheckHistoryQuery{Check: "alf"}); err == nil {
		t.Errorf("CheckHistory without a limit = nil error, want one")
	}
}
