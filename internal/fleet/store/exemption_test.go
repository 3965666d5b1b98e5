package store

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestAddedExemption(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	later := t0.Add(time.Hour)
	tests := []struct {
		name    string
		in      Exemption
		actor   string
		want    Exemption
		wantErr bool
	}{
		{"approved: the API's way", Exemption{ID: "e", ApprovedBy: "ops", CreatedAt: t0}, "ops",
			Exemption{ID: "e", RequestedBy: "ops", ApprovedBy: "ops", ApprovedAt: t0, CreatedAt: t0}, false},
		{"approved: a given time is replaced by the creation", Exemption{ID: "e", ApprovedBy: "ciso", ApprovedAt: later, CreatedAt: t0}, "ops",
			Exemption{ID: "e", RequestedBy: "ops", ApprovedBy: "ciso", ApprovedAt: t0, CreatedAt: t0}, false},
		{"approved: requested by another, kept", Exemption{ID: "e", RequestedBy: "ada", ApprovedBy: "ops", CreatedAt: t0}, "ops",
			Exemption{ID: "e", RequestedBy: "ada", ApprovedBy: "ops", ApprovedAt: t0, CreatedAt: t0}, false},
		{"pending", Exemption{ID: "e", CreatedAt: t0}, "ada",
			Exemption{ID: "e", RequestedBy: "ada", CreatedAt: t0}, false},
		{"pending: an approval time alone approves nothing", Exemption{ID: "e", ApprovedAt: later, CreatedAt: t0}, "ada",
			Exemption{ID: "e", RequestedBy: "ada", CreatedAt: t0}, false},
		{"pending in another's name", Exemption{ID: "e", RequestedBy: "bea", CreatedAt: t0}, "ada", Exemption{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AddedExemption(tt.in, tt.actor)
			if (err != nil) != tt.wantErr {
				t.Fatalf("AddedExemption(%+v, %q) error = %v, want error %v", tt.in, tt.actor, err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("AddedExemption(%+v, %q) (-want +got):\n%s", tt.in, tt.actor, diff)
			}
		})
	}
}

func TestApprovable(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	pending := Exemption{ID: "e", RequestedBy: "ada", CreatedAt: t0, Expires: t0.Add(time.Hour)}
	with := func(f func(e *Exemption)) Exemption { e := pending; f(&e); return e }
	tests := []struct {
		name  string
		e     Exemption
		actor string
		at    time.Time
		want  error
	}{
		{"another admin", pending, "bea", t0.Add(time.Minute), nil},
		{"no expiry", with(func(e *Exemption) { e.Expires = time.Time{} }), "bea", t0.Add(1000 * time.Hour), nil},
		{"its requester", pending, "ada", t0.Add(time.Minute), ErrConflict},
		{"approved already", with(func(e *Exemption) { e.ApprovedBy, e.ApprovedAt = "bea", t0 }), "carl", t0.Add(time.Minute), ErrConflict},
		{"revoked", with(func(e *Exemption) { e.RevokedAt = t0.Add(time.Minute) }), "bea", t0.Add(2 * time.Minute), ErrConflict},
		{"expired at its end", pending, "bea", t0.Add(time.Hour), ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Approvable(tt.e, tt.actor, tt.at); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("Approvable(%+v, %q, %v) = %v, want %v", tt.e, tt.actor, tt.at, err, tt.want)
			}
		})
	}
}
