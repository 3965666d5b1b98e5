package store

import (
	"fmt"
	"time"
)

// AddedExemption is e as AddExemption stores it when actor adds it: the requester is actor
// unless given; with ApprovedBy set it is approved at its creation (ApprovedAt = CreatedAt),
// otherwise pending (zero ApprovedAt, whatever was given). A pending request in another's name
// is refused, since the four-eyes rule compares the approver with the requester. Both stores
// use it, so that they agree on what was requested and what was approved.
func AddedExemption(e Exemption, actor string) (Exemption, error) {
	if e.RequestedBy == "" {
		e.RequestedBy = actor
	}
	e.ApprovedAt = time.Time{}
	if e.ApprovedBy != "" {
		e.ApprovedAt = e.CreatedAt
	} else if e.RequestedBy != actor {
		return e, fmt.Errorf("exemption %s: requested by %q but added by %q: request it as yourself", e.ID, e.RequestedBy, actor)
	}
	return e, nil
}

// Approvable says why actor may not approve e at at, wrapping ErrConflict: it is approved
// already, revoked, expired at at, or actor requested it (four eyes). Nil when it may.
func Approvable(e Exemption, actor string, at time.Time) error {
	switch {
	case !e.ApprovedAt.IsZero():
		return fmt.Errorf("exemption %s: already approved by %s: %w", e.ID, e.ApprovedBy, ErrConflict)
	case !e.RevokedAt.IsZero():
		return fmt.Errorf("exemption %s: revoked: %w", e.ID, ErrConflict)
	case !e.Expires.IsZero() && !e.Expires.After(at):
		return fmt.Errorf("exemption %s: expired: %w", e.ID, ErrConflict)
	case actor == e.RequestedBy:
		return fmt.Errorf("exemption %s: requested by %s, so another admin must approve it: %w", e.ID, actor, ErrConflict)
	}
	return nil
}
