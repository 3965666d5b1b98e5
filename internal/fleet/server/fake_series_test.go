package server

import (
	"context"
	"errors"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

// ComplianceSeries is ComplianceAt at every instant: the fake has no deltas to read.
func (f *fakeStore) ComplianceSeries(ctx context.Context, q store.SeriesQuery) ([]store.Compliance, error) {
	if q.Step <= 0 || q.To.Before(q.From) {
		return nil, errors.New("series: needs a positive step and from ≤ to")
	}
	var out []store.Compliance
	for t := q.From; !t.After(q.To); t = t.Add(q.Step) {
		c, err := f.ComplianceAt(ctx, t, q.Label, q.Check)
		if err != nil {
			return nil, err
		}
		if q.Check == "" {
			c.PerCheck = nil
		}
		out = append(out, c)
	}
	return out, nil
}
