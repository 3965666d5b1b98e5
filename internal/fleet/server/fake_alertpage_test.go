package server

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

// AlertsPage pages the fake's alerts newest first by ID, as the stores do.
func (f *fakeStore) AlertsPage(_ context.Context, q store.AlertQuery) ([]store.StoredAlert, error) {
	if q.Limit <= 0 {
		return nil, errors.New("alerts page: a limit above 0 is required")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.StoredAlert
	for _, a := range f.alerts {
		if (q.HostID == "" || a.HostID == q.HostID) && (!q.UnackedOnly || a.AckedBy == "") &&
			(q.Severity == "" || a.Alert.Severity == q.Severity) && (q.BeforeID <= 0 || a.ID < q.BeforeID) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b store.StoredAlert) int { return cmp.Compare(b.ID, a.ID) })
	return out[:min(len(out), q.Limit)], nil
}
