package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

var approvalTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"ExemptionApproval", testExemptionApproval},
	{"ApprovalRefused", testApprovalRefused},
	{"ListTokensAndSecrets", testListTokensAndSecrets},
}

// testExemptionApproval: a requested exemption excuses nothing until another admin approves
// it, and from then on only: neither Exemptions(at) nor ComplianceAt count it before
// ApprovedAt, even after it was approved.
func testExemptionApproval(t *testing.T, s store.Store) {
	ctx := context.Background()
	enroll(t, s, "h1", "u1", at(0), "mac")
	enroll(t, s, "h2", "u2", at(0), "mac")
	ingest(t, s, "h1", batch(runRecord(1, at(10), "alf", wire.StatusFail, "0", "stealth", wire.StatusPass, "1")))
	ingest(t, s, "h2", batch(runRecord(1, at(10), "alf", wire.StatusPass, "1", "stealth", wire.StatusPass, "1")))

	// Requested by ada; RequestedBy is the actor of the request.
	req := store.Exemption{ID: "ex-1", HostID: "h1", Check: "alf", Reason: "vendor VPN", CreatedAt: at(20), Expires: at(500)}
	if err := s.AddExemption(ctx, req, "ada"); err != nil {
		t.Fatalf("AddExemption(pending) = %v", err)
	}
	req.RequestedBy = "ada"
	// Added approved (the API's way): in force from its creation.
	direct := store.Exemption{ID: "ex-2", Label: "mac", Check: "stealth", Reason: "kiosks", ApprovedBy: "ciso",
		ApprovedAt: at(99), CreatedAt: at(25), Expires: at(500)}
	if err := s.AddExemption(ctx, direct, "ciso"); err != nil {
		t.Fatalf("AddExemption(approved) = %v", err)
	}
	direct.RequestedBy, direct.ApprovedAt = "ciso", at(25) // ApprovedAt is CreatedAt
	if err := s.AddExemption(ctx, store.Exemption{ID: "ex-3", HostID: "h2", Check: "alf", RequestedBy: "ada", CreatedAt: at(26)}, "bea"); err == nil {
		t.Errorf("AddExemption(pending, requested by another than its actor) = nil, want an error (four eyes)")
	}

	if err := s.ApproveExemption(ctx, "ex-1", "ada", at(30)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("ApproveExemption(by its requester) = %v, want ErrConflict", err)
	}
	if err := s.ApproveExemption(ctx, "ex-404", "bea", at(30)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ApproveExemption(unknown) = %v, want ErrNotFound", err)
	}
	if err := s.ApproveExemption(ctx, "ex-1", "bea", at(50)); err != nil {
		t.Fatalf("ApproveExemption(by another admin) = %v", err)
	}
	if err := s.ApproveExemption(ctx, "ex-1", "carl", at(55)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("ApproveExemption(already approved) = %v, want ErrConflict", err)
	}
	if err := s.ApproveExemption(ctx, "ex-2", "carl", at(55)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("ApproveExemption(added approved) = %v, want ErrConflict", err)
	}
	approved := req
	approved.ApprovedBy, approved.ApprovedAt = "bea", at(50)

	for _, tt := range []struct {
		name string
		at   time.Time
		want []store.Exemption
	}{
		{"pending excuses nothing", at(20), nil},
		{"only the approved one", at(30), []store.Exemption{direct}},
		{"not before its approval, even now that it is approved", at(50).Add(-time.Millisecond), []store.Exemption{direct}},
		{"from its approval", at(50), []store.Exemption{approved, direct}},
		{"every one ever", time.Time{}, []store.Exemption{approved, direct}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Exemptions(ctx, tt.at)
			if err != nil {
				t.Fatalf("Exemptions(%v) = %v", tt.at, err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Exemptions(%v) (-want +got):\n%s", tt.at, diff)
			}
		})
	}

	type cc = store.CheckCount
	for _, tt := range []struct {
		name  string
		at    time.Time
		label string
		check string
		want  store.Compliance
	}{
		{"requested", at(30), "", "", store.Compliance{Hosts: 2, Compliant: 1, NonCompliant: 1,
			PerCheck: map[string]cc{"alf": {Pass: 1, Fail: 1}, "stealth": {Pass: 2}}}},
		{"requested, check", at(30), "mac", "alf", store.Compliance{Hosts: 2, Compliant: 1, NonCompliant: 1,
			PerCheck: map[string]cc{"alf": {Pass: 1, Fail: 1}}}},
		{"between request and approval", at(49), "mac", "", store.Compliance{Hosts: 2, Compliant: 1, NonCompliant: 1,
			PerCheck: map[string]cc{"alf": {Pass: 1, Fail: 1}, "stealth": {Pass: 2}}}},
		{"approved", at(50), "", "", store.Compliance{Hosts: 2, Compliant: 2,
			PerCheck: map[string]cc{"alf": {Pass: 1, Exempt: 1}, "stealth": {Pass: 2}}}},
		{"approved, check", at(60), "mac", "alf", store.Compliance{Hosts: 2, Compliant: 2,
			PerCheck: map[string]cc{"alf": {Pass: 1, Exempt: 1}}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ComplianceAt(ctx, tt.at, tt.label, tt.check)
			if err != nil {
				t.Fatalf("ComplianceAt(%v, %q, %q) = %v", tt.at, tt.label, tt.check, err)
			}
			tt.want.At = tt.at
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ComplianceAt(%v, %q, %q) (-want +got):\n%s", tt.at, tt.label, tt.check, diff)
			}
		})
	}

	want := []store.Audit{
		{Time: at(20), Actor: "ada", Action: "exemption.request", Target: "ex-1"},
		{Time: at(25), Actor: "ciso", Action: "exemption.create", Target: "ex-2"},
		{Time: at(50), Actor: "bea", Action: "exemption.approve", Target: "ex-1"},
	}
	if diff := cmp.Diff(want, auditRows(t, s, at(1))); diff != "" {
		t.Errorf("AuditLog (-want +got):\n%s (refused writes leave no row)", diff)
	}
}

// testApprovalRefused: an exemption that was revoked or has expired cannot be approved, and
// a refused approval changes nothing.
func testApprovalRefused(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, e := range []store.Exemption{
		{ID: "revoked", HostID: "h1", Check: "alf", CreatedAt: at(1), Expires: at(100)},
		{ID: "expiring", HostID: "h1", Check: "alf", CreatedAt: at(2), Expires: at(10)},
	} {
		if err := s.AddExemption(ctx, e, "ada"); err != nil {
			t.Fatalf("AddExemption(%s) = %v", e.ID, err)
		}
	}
	if err := s.RevokeExemption(ctx, "revoked", "ada", at(3)); err != nil {
		t.Fatalf("RevokeExemption = %v", err)
	}
	for _, tt := range []struct {
		id string
		at time.Time
	}{
		{"revoked", at(5)},
		{"expiring", at(10)}, // expired at its end
	} {
		if err := s.ApproveExemption(ctx, tt.id, "bea", tt.at); !errors.Is(err, store.ErrConflict) {
			t.Errorf("ApproveExemption(%s, %v) = %v, want ErrConflict", tt.id, tt.at, err)
		}
	}
	all, err := s.Exemptions(ctx, time.Time{})
	if err != nil || len(all) != 2 {
		t.Fatalf("Exemptions(every one) = %+v, %v; want 2", all, err)
	}
	for _, e := range all {
		if e.ApprovedBy != "" || !e.ApprovedAt.IsZero() {
			t.Errorf("exemption %s after refused approvals: approved by %q at %v, want pending", e.ID, e.ApprovedBy, e.ApprovedAt)
		}
	}
	// Before it expired, the same approval goes through.
	if err := s.ApproveExemption(ctx, "expiring", "bea", at(9)); err != nil {
		t.Errorf("ApproveExemption(expiring, before its end) = %v, want nil", err)
	}
	if got, err := s.Exemptions(ctx, at(9)); err != nil || len(got) != 1 || got[0].ID != "expiring" {
		t.Errorf("Exemptions(%v) = %+v, %v; want the one approved then", at(9), got, err)
	}
}

// testListTokensAndSecrets: Tokens and EnrollSecrets list everything, revoked ones included,
// oldest first, whatever the order they were added in.
func testListTokensAndSecrets(t *testing.T, s store.Store) {
	ctx := context.Background()
	if toks, err := s.Tokens(ctx); err != nil || len(toks) != 0 {
		t.Errorf("Tokens(empty store) = %+v, %v; want none", toks, err)
	}
	if secs, err := s.EnrollSecrets(ctx); err != nil || len(secs) != 0 {
		t.Errorf("EnrollSecrets(empty store) = %+v, %v; want none", secs, err)
	}
	newer := store.Token{ID: "tok-b", Name: "ci", Role: store.RoleAuditor, Hash: Hash("fwa_ci"), CreatedAt: at(5)}
	older := store.Token{ID: "tok-c", Name: "ops", Role: store.RoleAdmin, Hash: Hash("fwa_ops"), CreatedAt: at(1)}
	for _, tok := range []store.Token{newer, older} {
		if err := s.AddToken(ctx, tok, "init"); err != nil {
			t.Fatalf("AddToken(%s) = %v", tok.ID, err)
		}
	}
	if err := s.RevokeToken(ctx, "tok-c", "ops", at(7)); err != nil {
		t.Fatal(err)
	}
	older.RevokedAt = at(7)
	toks, err := s.Tokens(ctx)
	if err != nil {
		t.Fatalf("Tokens = %v", err)
	}
	if diff := cmp.Diff([]store.Token{older, newer}, toks); diff != "" {
		t.Errorf("Tokens (-want +got):\n%s", diff)
	}

	s2 := store.EnrollSecret{ID: "sec-2", Name: "servers", Hash: Hash("fwe_2"), Labels: []string{"linux"}, CreatedAt: at(8)}
	s1 := store.EnrollSecret{ID: "sec-1", Name: "laptops", Hash: Hash("fwe_1"), Labels: []string{"laptop", "mac"}, CreatedAt: at(2)}
	s3 := store.EnrollSecret{ID: "sec-3", Name: "bare", Hash: Hash("fwe_3"), CreatedAt: at(9)}
	for _, sec := range []store.EnrollSecret{s2, s1, s3} {
		if err := s.AddEnrollSecret(ctx, sec, "ops"); err != nil {
			t.Fatalf("AddEnrollSecret(%s) = %v", sec.ID, err)
		}
	}
	if err := s.RevokeEnrollSecret(ctx, "sec-2", "ops", at(10)); err != nil {
		t.Fatal(err)
	}
	s2.RevokedAt = at(10)
	secs, err := s.EnrollSecrets(ctx)
	if err != nil {
		t.Fatalf("EnrollSecrets = %v", err)
	}
	if diff := cmp.Diff([]store.EnrollSecret{s1, s2, s3}, secs, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("EnrollSecrets (-want +got):\n%s", diff)
	}
}
