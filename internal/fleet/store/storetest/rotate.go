package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

// testRotateCredential: the old credential works until the new one is first used, then only the
// new one does; offers die with a revocation or a re-enrolment.
func testRotateCredential(t *testing.T, s store.Store) {
	ctx := context.Background()
	enroll(t, s, "h1", "u1", at(0))
	enroll(t, s, "h2", "u2", at(0))
	old, next := Hash("cred-u1"), Hash("cred-u1-next")

	if err := s.OfferCredential(ctx, "h1", Hash("cred-u2"), next, at(1)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("OfferCredential(another host's credential) = %v, want ErrNotFound", err)
	}
	if err := s.OfferCredential(ctx, "h404", old, next, at(1)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("OfferCredential(unknown host) = %v, want ErrNotFound", err)
	}
	// The first answer was lost (the agent died before saving it): it asks again, and the second
	// offer replaces the first.
	if err := s.OfferCredential(ctx, "h1", old, Hash("cred-u1-lost"), at(1)); err != nil {
		t.Fatalf("OfferCredential = %v", err)
	}
	if err := s.OfferCredential(ctx, "h1", old, next, at(2)); err != nil {
		t.Fatalf("OfferCredential(again) = %v", err)
	}
	if h, err := s.HostByCredential(ctx, old); err != nil || h.ID != "h1" {
		t.Errorf("HostByCredential(old, offer pending) = %q, %v; want h1, nil", h.ID, err)
	}
	if _, err := s.HostByCredential(ctx, next); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("HostByCredential(offered, not yet used) = %v, want ErrNotFound", err)
	}
	if _, err := s.PromoteCredential(ctx, Hash("cred-u1-lost"), at(3)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PromoteCredential(replaced offer) = %v, want ErrNotFound", err)
	}
	h, err := s.PromoteCredential(ctx, next, at(3))
	if err != nil || h.ID != "h1" {
		t.Fatalf("PromoteCredential = %q, %v; want h1, nil", h.ID, err)
	}
	if _, err := s.HostByCredential(ctx, next); err != nil {
		t.Errorf("HostByCredential(new) = %v, want nil", err)
	}
	if _, err := s.HostByCredential(ctx, old); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("HostByCredential(old, after first use of the new) = %v, want ErrNotFound", err)
	}
	if _, err := s.PromoteCredential(ctx, next, at(4)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PromoteCredential(twice) = %v, want ErrNotFound", err)
	}
	if _, err := s.HostByCredential(ctx, Hash("cred-u2")); err != nil {
		t.Errorf("HostByCredential(other host) = %v, want nil", err)
	}
	log, err := s.AuditLog(ctx, at(0))
	if err != nil {
		t.Fatal(err)
	}
	rotations := 0
	for _, a := range log {
		if a.Action == "host.rotate" && a.Target == "h1" {
			rotations++
		}
	}
	if rotations != 1 {
		t.Errorf("audit log holds %d host.rotate for h1, want 1: %+v", rotations, log)
	}

	// An offer made before a revocation is void: neither now nor after a re-enrolment.
	third := Hash("cred-u1-third")
	if err := s.OfferCredential(ctx, "h1", next, third, at(5)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeHost(ctx, "h1", "alice", at(6)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PromoteCredential(ctx, third, at(7)); !errors.Is(err, store.ErrRevoked) {
		t.Errorf("PromoteCredential(revoked host) = %v, want ErrRevoked", err)
	}
	if err := s.OfferCredential(ctx, "h1", next, Hash("x"), at(7)); !errors.Is(err, store.ErrRevoked) {
		t.Errorf("OfferCredential(revoked host) = %v, want ErrRevoked", err)
	}
	if _, err := s.EnrollHost(ctx, store.Host{ID: "x", UUID: "u1", EnrolledAt: at(8)}, Hash("cred-u1-reenrolled")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PromoteCredential(ctx, third, at(9)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PromoteCredential(offer from before a re-enrolment) = %v, want ErrNotFound", err)
	}
	if _, err := s.HostByCredential(ctx, Hash("cred-u1-reenrolled")); err != nil {
		t.Errorf("HostByCredential(re-enrolled) = %v, want nil", err)
	}
}
