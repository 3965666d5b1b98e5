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
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"
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

// User is a dashboard account. Its role is RoleAdmin or RoleAuditor, as for tokens. Only the
// password's hash is stored, in a self-describing encoding (algorithm and parameters included)
// so that the parameters can change without a migration.
type User struct {
	Name         string
	Role         string
	PasswordHash string
	CreatedAt    time.Time
	DisabledAt   time.Time // zero while the account may log in
	// FailedLogins counts the failed logins since the last successful one (LoginFailed adds
	// one, AddSession resets it), and LastFailedAt is the latest. The server's per-user back-off
	// is computed from them, so that every replica enforces the same one.
	FailedLogins int
	LastFailedAt time.Time
}

// Session is a dashboard login. Only the SHA-256 of the cookie's random value is stored, so
// that a copy of the database opens no session; replicas share sessions through the store.
type Session struct {
	Hash      []byte
	User      string
	CSRF      string // the per-session token every form carries
	CreatedAt time.Time
	LastUsed  time.Time
	Expires   time.Time // absolute end; the server also ends sessions idle too long
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
	// Interval is the interval of the policy last given to the host (by TouchHost with a
	// non-zero interval, when the server answers its config request); zero means
	// DefaultInterval. A re-enrolled host keeps it.
	Interval time.Duration
	// StaleAt is when the host becomes stale: LastSeen + StaleIntervals × Interval. Stores keep
	// it in an indexed column, updated with LastSeen, so that stale hosts are found and counted
	// without reading every host. A host is stale at every instant t with StaleAt ≤ t.
	StaleAt     time.Time
	LastSeq     uint64    // highest record seq stored contiguously (the ack); EnrollHost sets it from the agent's NextSeq
	ChainSeq    uint64    // last evidence-chain entry seen
	ChainHash   string    // its hash
	ChainBroken bool      // a record's chain entry did not follow the one before
	RevokedAt   time.Time // credential revoked: every request refused
}

// Staleness: a host not seen for StaleIntervals of its policy interval is stale, and a stale
// host is never counted compliant (its last results are not evidence of the present).
const (
	StaleIntervals  = 3
	DefaultInterval = time.Hour // a host's Interval when no policy interval was given yet
)

// StaleAt is when a host last seen at lastSeen, on a policy interval of interval (zero:
// DefaultInterval), becomes stale. Stores use it to fill Host.StaleAt.
func StaleAt(lastSeen time.Time, interval time.Duration) time.Time {
	if interval <= 0 {
		interval = DefaultInterval
	}
	return lastSeen.Add(StaleIntervals * interval)
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
	ID     string
	HostID string // one of HostID and Label
	Label  string
	Check  string
	Reason string
	// RequestedBy asked for the exemption; ApprovedBy approved it at ApprovedAt. An exemption
	// with a zero ApprovedAt is pending: it excuses nothing until approved. One added already
	// approved (the API's default) has ApprovedBy set and ApprovedAt = CreatedAt.
	RequestedBy string
	ApprovedBy  string
	ApprovedAt  time.Time
	CreatedAt   time.Time
	Expires     time.Time
	RevokedAt   time.Time
}

// Current is a host's current status for one check, and since when.
type Current struct {
	HostID   string
	Check    string
	Status   string
	Actual   string
	Expected string
	Since    time.Time
	// RunID is the run that last changed this result, or else the latest stored run that
	// reported it: a repeated run (StoredRun) does not move it, so that it names a run whose
	// evidence is kept.
	RunID string
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

// CheckHistoryQuery selects one page of a check's transitions on every host, newest first.
type CheckHistoryQuery struct {
	Check    string    // required
	From, To time.Time // from <= time <= to; a zero bound is open
	// BeforeTime and BeforeID continue a page: only transitions before the one with that time
	// and ID, in the order (time, ID) descending, are given. Zero BeforeID: from the newest.
	BeforeTime time.Time
	BeforeID   int64
	Limit      int // at most this many; must be > 0
}

// CheckTransition is a transition with its ID, which orders transitions of the same time (a
// drift and the fix that reverted it in one run) and pages CheckHistory.
type CheckTransition struct {
	ID int64
	Transition
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

// AlertQuery selects a page of alerts (Store.AlertsPage).
type AlertQuery struct {
	HostID      string // "" for every host
	UnackedOnly bool
	// Severity keeps the alerts whose latest report had exactly this severity ("" any); the
	// agents send lower case (critical, high, medium, low, informational).
	Severity string
	BeforeID int64 // keyset cursor: only alerts with ID < BeforeID; 0 starts from the newest
	Limit    int   // at most this many; must be > 0
}

// IngestResult is what one batch did.
type IngestResult struct {
	Acked       uint64 // every seq ≤ Acked is stored
	Stored      int    // records new in this batch (repeated runs included)
	Duplicates  int    // records already stored before (a retry of the same seq)
	Repeats     int    // new run records folded into the host's latest stored run (see StoredRun)
	Transitions int
}

// StoredRun is a run as kept. Storage grows with changes, not with check-ins: a new run record
// whose results equal those of the host's latest stored run (SameResults) and that finished no
// earlier than it is not stored again; the stored run's Confirmed, Repeats and LastRunID
// advance instead. So the stored run keeps the evidence (raw output, source, controls) of the
// first run that saw those results, and Confirmed says until when the host kept reporting
// them. A retry of a seq already stored is a duplicate (IngestResult.Duplicates), never a
// repeat: exactly-once by seq holds as before.
type StoredRun struct {
	wire.Run            // the first run with these results, with its evidence
	Seq       uint64    // the record that carried it
	Confirmed time.Time // Finished of the newest identical run; Finished when none
	Repeats   int       // identical runs folded into it; 0 when none
	LastRunID string    // RunID of the newest identical run; RunID when none
}

// SameResults reports whether run b repeats run a: the same policy, mode and baseline SHA-256,
// and the same set of checks with, for every check, the same status, actual and expected value.
// Order, times, run IDs, the baseline's name, sources, controls, details and evidence are
// not compared. Both stores
// use it (or RunDigest, its hash) so that "a change" means one thing.
func SameResults(a, b wire.Run) bool { return RunDigest(a) == RunDigest(b) }

// RunDigest is a hex SHA-256 over what SameResults compares, in a canonical form: equal digests
// mean SameResults. Stores keep it beside each run to compare a new run with the latest stored
// one without decoding it.
func RunDigest(r wire.Run) string {
	type res struct{ Check, Status, Actual, Expected string }
	rs := make([]res, 0, len(r.Results))
	for _, x := range r.Results {
		rs = append(rs, res{x.Check, x.Status, x.Actual, x.Expected})
	}
	slices.SortFunc(rs, func(x, y res) int {
		return cmp.Or(strings.Compare(x.Check, y.Check), strings.Compare(x.Status, y.Status),
			strings.Compare(x.Actual, y.Actual), strings.Compare(x.Expected, y.Expected))
	})
	// JSON quotes every string, so no two different inputs share an encoding.
	b, err := json.Marshal(struct {
		Policy, Mode, Baseline string
		Results                []res
	}{r.Policy, r.Mode, r.BaselineSHA256, rs})
	if err != nil {
		panic(err) // strings only: cannot fail
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// HostFilter selects hosts. Zero fields select everything.
type HostFilter struct {
	Label  string
	Check  string // with Status: hosts whose current status for Check is Status
	Status string
	// Stale selects hosts with StaleAt ≤ Now (true) or StaleAt > Now (false), from the indexed
	// stale_at column. Revoked hosts are selected too; the caller shows them as revoked.
	Stale *bool
	Now   time.Time // zero: the current time
	// Search selects hosts whose hostname starts with it, ignoring ASCII case (an index on the
	// lower-cased hostname); OSVersion selects one OS version exactly.
	Search    string
	OSVersion string
	// Posture selects hosts whose latest stored posture (every check's status taken together,
	// before server exemptions) is PostureCompliant, PostureNonCompliant or PostureNone (no
	// result yet). It narrows what the server then judges host by host: a non-compliant posture
	// may still be excused by an exemption.
	Posture string
	// Sort orders the hosts by HostSortID (the default), HostSortHostname, HostSortLastSeen or
	// HostSortOSVersion, then by ID; Desc reverses both. Paging is by keyset on (sort key, ID):
	// After and AfterKey are the ID and sort key of the last host of the previous page (AfterKey
	// is HostSortKey of that host; unused when sorting by ID).
	Sort     string
	Desc     bool
	Limit    int
	After    string // paging: hosts after this ID in the order asked for
	AfterKey string
}

// Host postures (HostFilter.Posture), as the stores keep them.
const (
	PostureCompliant    = "compliant"
	PostureNonCompliant = "noncompliant"
	PostureNone         = "none"
)

// Host sort orders (HostFilter.Sort).
const (
	HostSortID        = "id"
	HostSortHostname  = "hostname"
	HostSortLastSeen  = "last_seen"
	HostSortOSVersion = "os_version"
)

// HostSortKey is the keyset value of h for sort, as HostFilter.AfterKey takes it.
func HostSortKey(h Host, sort string) string {
	switch sort {
	case HostSortHostname:
		// ASCII only, as the stores' lower() indexes fold: full Unicode folding would page past
		// a non-ASCII hostname out of the index's order.
		return LowerASCII(h.Hostname)
	case HostSortLastSeen:
		return h.LastSeen.UTC().Format(time.RFC3339Nano)
	case HostSortOSVersion:
		return h.OSVersion
	}
	return h.ID
}

// SeriesQuery asks for compliance at the instants From, From+Step, … up to To.
type SeriesQuery struct {
	From, To time.Time
	Step     time.Duration // > 0; the dashboard asks for 24h
	Label    string        // "" for the whole fleet
	Check    string        // "" for every check, as ComplianceAt
}

// Compliance is the answer to "were we compliant at that instant".
type Compliance struct {
	At           time.Time
	Hosts        int // enrolled at At
	Compliant    int
	NonCompliant int
	NoData       int // enrolled but no result yet at At
	// Stale counts the hosts that would count Compliant at At (for the check, when one is
	// given; exempted failures count as compliant as usual) but whose StaleAt ≤ At: they are
	// counted here instead of in Compliant, never both. A stale host that is non-compliant
	// stays NonCompliant, and one with no data stays NoData. Hosts = Compliant + NonCompliant +
	// NoData + Stale. PerCheck is not changed by staleness.
	//
	// Exact for the present. For a past instant it is a lower bound: StaleAt is known only as
	// it is now, so the hosts counted are those stale at At and not seen since; a host that was
	// stale at At but reported later counts as Compliant.
	Stale    int
	PerCheck map[string]CheckCount
}

// Tally finishes c, whose At, Hosts and Stale are set, from what a store counted at c.At:
// counts holds the (host, check) pairs per check and status, compliant and nonCompliant the
// hosts per posture. PerCheck gets every check with a count (and check, when asked for, even
// without one); Compliant and NonCompliant are the hosts' postures, or for check its statuses;
// the stale hosts leave Compliant (Stale counts only hosts that would be compliant), and NoData
// is the rest of Hosts. Both stores count this way, so that their answers cannot drift apart.
func (c *Compliance) Tally(counts map[string]map[string]int, compliant, nonCompliant int, check string) {
	if c.PerCheck == nil {
		c.PerCheck = map[string]CheckCount{}
	}
	for chk, m := range counts {
		cc := CheckCount{
			Pass: m[wire.StatusPass], Fail: m[wire.StatusFail], Error: m[wire.StatusError],
			Exempt: m[wire.StatusExempt], Managed: m[wire.StatusManaged], NotApplicable: m[wire.StatusNotApplicable],
		}
		if cc != (CheckCount{}) {
			c.PerCheck[chk] = cc
		}
	}
	if check == "" {
		c.Compliant, c.NonCompliant = compliant, nonCompliant
	} else {
		cc := c.PerCheck[check]
		c.PerCheck[check] = cc // asked for: present even with no result
		c.Compliant = cc.Pass + cc.Managed + cc.Exempt + cc.NotApplicable
		c.NonCompliant = cc.Fail + cc.Error
	}
	c.Compliant -= c.Stale
	c.NoData = c.Hosts - c.Compliant - c.NonCompliant - c.Stale
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

	// Dashboard accounts; every write is audited (user.create, user.passwd, user.disable).
	// AddUser: ErrConflict when the name is taken. UserByName: ErrNotFound, or the user with
	// ErrRevoked when disabled, so that a caller cannot miss it. Users are in name order.
	// DisableUser keeps the first time and audits once; there is no re-enabling (add a new user).
	AddUser(ctx context.Context, u User, actor string) error
	UserByName(ctx context.Context, name string) (User, error)
	Users(ctx context.Context) ([]User, error)
	SetUserPassword(ctx context.Context, name, hash, actor string, at time.Time) error
	DisableUser(ctx context.Context, name, actor string, at time.Time) error
	// LoginFailed counts a failed login for an existing user at at (FailedLogins + 1,
	// LastFailedAt = at) and returns the user as updated; ErrNotFound for an unknown name, which
	// changes nothing. It is not audited: the server logs failures.
	LoginFailed(ctx context.Context, name string, at time.Time) (User, error)

	// Dashboard sessions. AddSession stores a new session, resets its user's FailedLogins and
	// audits user.login; SessionByHash returns the session and its user (ErrNotFound when there is
	// none or it expired; ErrRevoked when its user is disabled); TouchSession moves LastUsed;
	// DeleteSession ends one session (logout, audited user.logout, idempotent). SetUserPassword and
	// DisableUser end every session of the user in the same transaction. PruneSessions deletes the
	// sessions expired before `before`.
	AddSession(ctx context.Context, s Session) error
	SessionByHash(ctx context.Context, hash []byte, now time.Time) (Session, User, error)
	TouchSession(ctx context.Context, hash []byte, at time.Time) error
	DeleteSession(ctx context.Context, hash []byte, actor string, at time.Time) error
	PruneSessions(ctx context.Context, before time.Time) (int, error)

	// Tokens and EnrollSecrets list every token and secret (revoked ones included, oldest
	// first), hashes included, for the settings page.
	Tokens(ctx context.Context) ([]Token, error)
	EnrollSecrets(ctx context.Context) ([]EnrollSecret, error)

	// EnrollHost adds a host, or re-enrolls the host with the same UUID (new credential, same
	// ID, history kept). credHash is the SHA-256 of the new credential.
	EnrollHost(ctx context.Context, h Host, credHash []byte) (Host, error)
	HostByCredential(ctx context.Context, credHash []byte) (Host, error)
	Host(ctx context.Context, id string) (Host, error)
	Hosts(ctx context.Context, f HostFilter) ([]Host, error)
	RevokeHost(ctx context.Context, id, actor string, at time.Time) error
	// TouchHost records an authenticated request from the host at at: LastSeen moves to at
	// (never back) and StaleAt with it. A non-zero interval is the policy interval the server
	// is giving the host (in its config) and replaces Interval; zero keeps the stored one.
	// Ingest updates LastSeen and StaleAt in its own transaction, without TouchHost.
	TouchHost(ctx context.Context, id string, at time.Time, interval time.Duration) error

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
	// state, appends transitions, stores runs (folding repeats, see StoredRun), folds alerts,
	// advances LastSeq over contiguous seqs, checks the evidence chain's continuity, and moves
	// LastSeen (and StaleAt) to now.
	Ingest(ctx context.Context, hostID string, b wire.ReportBatch, now time.Time) (IngestResult, error)

	// Queries.
	CurrentResults(ctx context.Context, hostID string) ([]Current, error)
	Transitions(ctx context.Context, hostID, check string, from, to time.Time) ([]Transition, error)
	ComplianceAt(ctx context.Context, at time.Time, label, check string) (Compliance, error)
	// ComplianceSeries answers ComplianceAt(t, q.Label, q.Check) at every t = q.From + k·q.Step
	// ≤ q.To, oldest first, in a few queries rather than one per instant (the dashboard's
	// 90-day chart). Each element equals ComplianceAt at its instant, PerCheck included only
	// when q.Check is set.
	ComplianceSeries(ctx context.Context, q SeriesQuery) ([]Compliance, error)
	// CheckHistory is one page of the transitions of q.Check on every host, newest first (by
	// time, then ID), at most q.Limit, read through an index on (check, time) so that a page
	// costs its own rows whatever the fleet's size.
	CheckHistory(ctx context.Context, q CheckHistoryQuery) ([]CheckTransition, error)
	// LatestRun is the host's newest stored run (the greatest Finished), with its evidence and
	// how long its results were confirmed; ErrNotFound when none is stored.
	LatestRun(ctx context.Context, hostID string) (StoredRun, error)
	Alerts(ctx context.Context, hostID string, unackedOnly bool) ([]StoredAlert, error)
	// AlertsPage is one page of the alerts q selects, newest first by ID, at most q.Limit, read
	// through an index so that a page costs its own rows whatever the fleet's size (Alerts reads
	// them all). "Newest" is the order in which alerts were first seen: IDs grow with insertion,
	// and a report folded into an open alert keeps that alert's ID (and its place), so an old
	// alert that repeats does not move to the top. The next page is q with BeforeID set to the
	// last ID of this one; a page shorter than q.Limit is the last. (PostgreSQL reads every
	// host's unacknowledged alerts from its open-alert index and sorts them: bounded by the
	// open alerts, not by the page; see its migration 0010.)
	AlertsPage(ctx context.Context, q AlertQuery) ([]StoredAlert, error)
	// LatestBans is the newest ban summary the host's guard reported (the record with the
	// highest seq) and the time of that record; ErrNotFound when it sent none.
	LatestBans(ctx context.Context, hostID string) (wire.Bans, time.Time, error)
	AckAlert(ctx context.Context, id int64, actor, note string, at time.Time) error

	// Policies and exemptions; every write is audited.
	PutPolicy(ctx context.Context, p Policy, actor string) (Policy, error)
	Policies(ctx context.Context) ([]Policy, error)
	PolicyFor(ctx context.Context, h Host) (Policy, error)
	// AddExemption stores e: approved when e.ApprovedBy is set (ApprovedAt = CreatedAt,
	// audited exemption.create), pending otherwise (audited exemption.request).
	// ApproveExemption approves a pending exemption at at (audited exemption.approve):
	// ErrNotFound when there is none; ErrConflict when actor requested it (four eyes), or it is
	// already approved, revoked or expired. Exemptions(at) returns those approved, not expired
	// and not revoked at at; with a zero at, every exemption ever, pending ones included.
	AddExemption(ctx context.Context, e Exemption, actor string) error
	ApproveExemption(ctx context.Context, id, actor string, at time.Time) error
	RevokeExemption(ctx context.Context, id, actor string, at time.Time) error
	Exemptions(ctx context.Context, at time.Time) ([]Exemption, error)

	AuditLog(ctx context.Context, since time.Time) ([]Audit, error)

	// Prune deletes the stored runs whose Confirmed is before `before` (transitions and
	// current state are kept): a run still being repeated stays, however old its first run.
	Prune(ctx context.Context, before time.Time) (int, error)
}
