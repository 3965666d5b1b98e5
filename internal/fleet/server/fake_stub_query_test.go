package server

// Transitional: the dashboard's series query, filled in by the dashstore-query branch, which
// deletes this file.

import (
	"context"
	"errors"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

func (f *fakeStore) ComplianceSeries(context.Context, store.SeriesQuery) ([]store.Compliance, error) {
	return nil, errors.New("not built yet: compliance series")
}
