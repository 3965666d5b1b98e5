package server

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

// CheckHistory gives each transition its place in f.trans, plus one, as its ID.
func (f *fakeStore) CheckHistory(_ context.Context, q store.CheckHistoryQuery) ([]store.CheckTransition, error) {
	if q.Check == "" || q.Limit <= 0 {
		return nil, errors.New("check history: a check and a limit above 0 are required")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.CheckTransition
	for i := range f.trans {
		t := store.CheckTransition{ID: int64(i + 1), Transition: f.trans[i]}
		if t.Check != q.Check || (!q.From.IsZero() && t.Time.Before(q.From)) || (!q.To.IsZero() && t.Time.After(q.To)) {
			continue
		}
		if q.BeforeID != 0 && (t.Time.After(q.BeforeTime) || (t.Time.Equal(q.BeforeTime) && t.ID >= q.BeforeID)) {
			continue
		}
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b store.CheckTransition) int {
		return cmp.Or(b.Time.Compare(a.Time), cmp.Compare(b.ID, a.ID))
	})
	return out[:min(len(out), q.Limit)], nil
}
