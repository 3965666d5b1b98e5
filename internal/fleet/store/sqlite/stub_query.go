package sqlite

// Transitional: the dashboard's series query, filled in by the dashstore-query branch, which
// deletes this file.

import (
	"context"
	"errors"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

func (s *Store) ComplianceSeries(context.Context, store.SeriesQuery) ([]store.Compliance, error) {
	return nil, errors.New("not built yet: compliance series")
}
