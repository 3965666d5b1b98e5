// Package store is the fleet server's storage: one interface, implemented by store/sqlite (the
// default, embedded) and store/postgres (large fleets, several server replicas), both held to
// the same acceptance suite in store/storetest.
//
// What it keeps grows with changes, not with check-ins: the current state of each (host, check)
// with the time it began, every transition between statuses, the runs (kept for a retention
// period), alerts, and the admin audit log. Compliance at any instant is answered from the
// transitions, never by re-reading runs.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// Errors every implementation returns (wrapped or not) so that the server can map them.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict") // a unique name or id already exists
	ErrRevoked  = errors.New("revoked")
)

// Roles of API tokens.
const (
	RoleAdmin   = "admin"   // read and write
	RoleAuditor = "auditor" // read only
)

// Token is an admin API token. Only the SHA-256 of the secret is stored; the server compares
// hashes in constant time.
type Token struct {
	ID        string
	Name      string
	Role      string
	Hash      []byte
	CreatedAt time.Time
	RevokedAt time.Time // zero while valid
}

// EnrollSecret lets agents enroll. Only its hash is stored.
type EnrollSecret struct {
	ID        string
	Name      string
	Hash      []byte
	Labels    []string // given to every host enrolled with it
	CreatedAt time.Time
	RevokedAt time.Time
}

// Host is an enrolled machine.
type Host struct {
	ID           string // assigned by the server at enrollment
	UUID         string // the machine's own identity (wire.EnrollRequest.HostUUID)
	Hostname     string
	OS           string
	OSVersion    string
	AgentVersion string
	Labels       []string
	EnrolledAt   time.Time
	LastSeen     time.Time // last authenticated request
	LastSeq      uint64    // highest record seq stored contiguously (the ack)
	ChainSeq     uint64    // last evidence-chain entry seen
	ChainHash    string    // its hash
	ChainBroken  bool      // a record's chain entry did not follow the one before
	RevokedAt    time.Time // credential revoked: every request refused
}

// Audit is one admin action. Every write through the admin API appends one, in the same
// transaction as the write.
type Audit struct {
	ID     int64
	Time   time.Time
	Actor  string // token name, or "init"
	Action string // "token.create", "secret.revoke", "exemption.create", "host.nudge", …
	Target string
	Detail string // JSON
}

// Policy is assigned to hosts by label; a host takes the policy of its first matching label
// in Priority order (lowest first), or the policy named "default".
type Policy struct {
	Name            string
	Label           string // "" for the default policy
	Priority        int
	Mode            string // wire.ModeReport or wire.ModeEnforce
	IntervalSeconds int64
	BaselineYAML    string
	Version         int64 // bumped on every change
	UpdatedAt       time.Time
}

// Exemption excuses a failing check on a host or on every host with a label until it expires.
type Exemption struct {
	ID         string
	HostID     string // one of HostID and Label
	Label      string
	Check      string
	Reason     string
	ApprovedBy string
	CreatedAt  time.Time
	Expires    time.Time
	RevokedAt  time.Time
}

// Current is a host's current status for one check, and since when.
type Current struct {
	HostID   string
	Check    string
	Status   string
	Actual   string
	Expected string
	Since    time.Time
	RunID    string
}

// Transition is a change of a (host, check) status.
type Transition struct {
	HostID string
	Check  string
	Time   time.Time
	From   string // "" for the first status seen
	To     string
	Actual string
	RunID  string
	Cause  string // wire.CauseObserved or wire.CauseFix
	Seq    uint64 // the record that carried it
}

// StoredAlert is an alert as kept: de-duplicated per (host, rule, process, parent, command
// line), with counts added up, and acknowledged by a person.
type StoredAlert struct {
	ID        int64
	HostID    string
	Alert     wire.Alert
	AckedBy   string
	AckedAt   time.Time
	AckNote   string
	Seq       uint64
	Duplicate int // how many reports were folded into it
}

// IngestResult is what one batch did.
type IngestResult struct {
	Acked       uint64 // every seq ≤ Acked is stored
	Stored      int    // records new in this batch
	Duplicates  int    // records already stored before
	Transitions int
}

// HostFilter selects hosts. Zero fields select everything.
type HostFilter struct {
	Label      string
	Check      string // with Status: hosts whose current status for Check is Status
	Status     string
	StaleAfter time.Duration // with Stale: hosts not seen within StaleAfter of Now
	Stale      *bool
	Now        time.Time
	Limit      int
	After      string // paging: hosts with ID > After
}

// Compliance is the answer to "were we compliant at that instant".
type Compliance struct {
	At           time.Time
	Hosts        int // enrolled at At
	Compliant    int
	NonCompliant int
	NoData       int // enrolled but no result yet at At
	PerCheck     map[string]CheckCount
}

// CheckCount counts hosts per status for one check.
type CheckCount struct {
	Pass, Fail, Error, Exempt, Managed, NotApplicable int
}

// Store is the server's storage. Every method is safe for concurrent use; every write is one
// transaction.
type Store interface {
	Close() error

	// Tokens and secrets. Lookups are by hash; callers compare in constant time.
	AddToken(ctx context.Context, t Token, actor string) error
	TokenByHash(ctx context.Context, hash []byte) (Token, error)
	RevokeToken(ctx context.Context, id, actor string, at time.Time) error
	AddEnrollSecret(ctx context.Context, s EnrollSecret, actor string) error
	EnrollSecretByHash(ctx context.Context, hash []byte) (EnrollSecret, error)
	RevokeEnrollSecret(ctx context.Context, id, actor string, at time.Time) error

	// EnrollHost adds a host, or re-enrolls the host with the same UUID (new credential, same
	// ID, history kept). credHash is the SHA-256 of the new credential.
	EnrollHost(ctx context.Context, h Host, credHash []byte) (Host, error)
	HostByCredential(ctx context.Context, credHash []byte) (Host, error)
	Host(ctx context.Context, id string) (Host, error)
	Hosts(ctx context.Context, f HostFilter) ([]Host, error)
	RevokeHost(ctx context.Context, id, actor string, at time.Time) error
	TouchHost(ctx context.Context, id string, at time.Time) error

	// OfferCredential records newHash as the next credential of host id, which asked for it
	// with its current credential currentHash. The current credential stays valid until the new
	// one is first used (PromoteCredential), so a new credential lost before the agent saved it
	// costs nothing. A later offer replaces an earlier one. ErrNotFound: no such host, or
	// currentHash is not its credential; ErrRevoked: the host is revoked.
	OfferCredential(ctx context.Context, id string, currentHash, newHash []byte, at time.Time) error
	// PromoteCredential makes the offered credential newHash the host's only credential (the
	// old one stops working) and returns the host; it is audited as host.rotate. ErrNotFound: no
	// offer has that hash, or the credential it was offered to was replaced since (a new
	// enrolment); ErrRevoked: the host was revoked since the offer.
	PromoteCredential(ctx context.Context, newHash []byte, at time.Time) (Host, error)

	// Ingest stores a validated batch for one host exactly once per (host, seq): records
	// already stored are counted as duplicates and change nothing. It updates the current
	// state, appends transitions, stores runs, folds alerts, advances LastSeq over contiguous
	// seqs and checks the evidence chain's continuity.
	Ingest(ctx context.Context, hostID string, b wire.ReportBatch, now time.Time) (IngestResult, error)

	// Queries.
	CurrentResults(ctx context.Context, hostID string) ([]Current, error)
	Transitions(ctx context.Context, hostID, check string, from, to time.Time) ([]Transition, error)
	ComplianceAt(ctx context.Context, at time.Time, label, check string) (Compliance, error)
	Alerts(ctx context.Context, hostID string, unackedOnly bool) ([]StoredAlert, error)
	AckAlert(ctx context.Context, id int64, actor, note string, at time.Time) error

	// Policies and exemptions; every write is audited.
	PutPolicy(ctx context.Context, p Policy, actor string) (Policy, error)
	Policies(ctx context.Context) ([]Policy, error)
	PolicyFor(ctx context.Context, h Host) (Policy, error)
	AddExemption(ctx context.Context, e Exemption, actor string) error
	RevokeExemption(ctx context.Context, id, actor string, at time.Time) error
	Exemptions(ctx context.Context, at time.Time) ([]Exemption, error)

	AuditLog(ctx context.Context, since time.Time) ([]Audit, error)

	// Prune deletes runs finished before `before` (transitions and current state are kept).
	Prune(ctx context.Context, before time.Time) (int, error)
}
