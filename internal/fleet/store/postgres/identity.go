package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

// audit appends one admin action in the caller's transaction. detail is marshalled to JSON.
func audit(ctx context.Context, tx pgx.Tx, at time.Time, actor, action, target string, detail any) error {
	d, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO audit (time, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)`,
		nowIfZero(at), actor, action, target, string(d))
	return err
}

// AppendAudit records an admin action that writes nothing else (a nudge, an export), so that
// the audit log holds every admin action on PostgreSQL as on SQLite. Detail must be JSON.
func (s *Store) AppendAudit(ctx context.Context, a store.Audit) error {
	var detail any = json.RawMessage(a.Detail)
	if a.Detail == "" {
		detail = map[string]any{}
	} else if !json.Valid([]byte(a.Detail)) {
		return errors.New("audit detail: not valid JSON")
	}
	return s.write(ctx, func(tx pgx.Tx) error {
		return audit(ctx, tx, a.Time, a.Actor, a.Action, a.Target, detail)
	})
}

// AddToken stores a new API token; its name and hash must be unique (store.ErrConflict).
func (s *Store) AddToken(ctx context.Context, t store.Token, actor string) error {
	if t.Role != store.RoleAdmin && t.Role != store.RoleAuditor {
		return fmt.Errorf("token role %q: want %s or %s", t.Role, store.RoleAdmin, store.RoleAuditor)
	}
	return s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO tokens (id, name, role, hash, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			t.ID, t.Name, t.Role, t.Hash, nowIfZero(t.CreatedAt), tsOrNull(t.RevokedAt))
		if isUnique(err) {
			return fmt.Errorf("token %q: %w", t.Name, store.ErrConflict)
		}
		if err != nil {
			return err
		}
		return audit(ctx, tx, t.CreatedAt, actor, "token.create", t.ID, map[string]string{"name": t.Name, "role": t.Role})
	})
}

// TokenByHash finds a token by the hash of its secret: store.ErrNotFound, or the token with
// store.ErrRevoked when it was revoked.
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (store.Token, error) {
	var t store.Token
	var created time.Time
	var revoked *time.Time
	err := s.pool.QueryRow(ctx, `SELECT id, name, role, hash, created_at, revoked_at FROM tokens WHERE hash = $1`, hash).
		Scan(&t.ID, &t.Name, &t.Role, &t.Hash, &created, &revoked)
	if err != nil {
		return store.Token{}, notFound(err)
	}
	t.CreatedAt, t.RevokedAt = created.UTC(), fromNull(revoked)
	if revoked != nil {
		return t, store.ErrRevoked
	}
	return t, nil
}

// RevokeToken revokes a token from at on. Revoking a revoked token keeps the first time.
func (s *Store) RevokeToken(ctx context.Context, id, actor string, at time.Time) error {
	return s.revoke(ctx, "tokens", "token.revoke", id, actor, at)
}

// revoke sets revoked_at on the row id of table (a name from this package, never input) and
// audits it.
func (s *Store) revoke(ctx context.Context, table, action, id, actor string, at time.Time) error {
	at = nowIfZero(at)
	return s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE `+table+` SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1`, id, at)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%s %q: %w", strings.TrimSuffix(action, ".revoke"), id, store.ErrNotFound)
		}
		return audit(ctx, tx, at, actor, action, id, struct{}{})
	})
}

// AddEnrollSecret stores a new enroll secret; its name and hash must be unique.
func (s *Store) AddEnrollSecret(ctx context.Context, e store.EnrollSecret, actor string) error {
	return s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO enroll_secrets (id, name, hash, labels, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			e.ID, e.Name, e.Hash, labels(e.Labels), nowIfZero(e.CreatedAt), tsOrNull(e.RevokedAt))
		if isUnique(err) {
			return fmt.Errorf("enroll secret %q: %w", e.Name, store.ErrConflict)
		}
		if err != nil {
			return err
		}
		return audit(ctx, tx, e.CreatedAt, actor, "secret.create", e.ID, map[string]any{"name": e.Name, "labels": labels(e.Labels)})
	})
}

// EnrollSecretByHash finds an enroll secret by its hash, like TokenByHash.
func (s *Store) EnrollSecretByHash(ctx context.Context, hash []byte) (store.EnrollSecret, error) {
	var e store.EnrollSecret
	var created time.Time
	var revoked *time.Time
	err := s.pool.QueryRow(ctx, `SELECT id, name, hash, labels, created_at, revoked_at FROM enroll_secrets WHERE hash = $1`, hash).
		Scan(&e.ID, &e.Name, &e.Hash, &e.Labels, &created, &revoked)
	if err != nil {
		return store.EnrollSecret{}, notFound(err)
	}
	e.CreatedAt, e.RevokedAt = created.UTC(), fromNull(revoked)
	if len(e.Labels) == 0 {
		e.Labels = nil
	}
	if revoked != nil {
		return e, store.ErrRevoked
	}
	return e, nil
}

// RevokeEnrollSecret revokes an enroll secret from at on.
func (s *Store) RevokeEnrollSecret(ctx context.Context, id, actor string, at time.Time) error {
	return s.revoke(ctx, "enroll_secrets", "secret.revoke", id, actor, at)
}

// labels is a label list as stored: never NULL, without duplicates, in the order given.
func labels(l []string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, s := range l {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

const hostColumns = `id, uuid, hostname, os, os_version, agent_version, labels, enrolled_at, last_seen,
	interval_ns, stale_at, last_seq, chain_seq, chain_hash, chain_broken, revoked_at`

// staleAtSQL is store.StaleAt in SQL over a row's columns: lastSeen (an expression) plus
// StaleIntervals of the interval $iv when positive, else of the row's interval_ns, else of
// store.DefaultInterval. In an UPDATE, interval_ns is the row's value before it.
func staleAtSQL(lastSeen, iv string) string {
	return fmt.Sprintf(`%s + %d * (CASE WHEN %s > 0 THEN %s WHEN hosts.interval_ns > 0 THEN hosts.interval_ns ELSE %d END / 1000) * interval '1 microsecond'`,
		lastSeen, store.StaleIntervals, iv, iv, int64(store.DefaultInterval))
}

func scanHost(row pgx.Row) (store.Host, error) {
	var h store.Host
	var enrolled, seen, staleAt time.Time
	var lastSeq, chainSeq, interval int64
	var revoked *time.Time
	err := row.Scan(&h.ID, &h.UUID, &h.Hostname, &h.OS, &h.OSVersion, &h.AgentVersion, &h.Labels,
		&enrolled, &seen, &interval, &staleAt, &lastSeq, &chainSeq, &h.ChainHash, &h.ChainBroken, &revoked)
	if err != nil {
		return store.Host{}, notFound(err)
	}
	h.EnrolledAt, h.LastSeen, h.StaleAt, h.RevokedAt = enrolled.UTC(), seen.UTC(), staleAt.UTC(), fromNull(revoked)
	h.Interval = time.Duration(interval)
	h.LastSeq, h.ChainSeq = uint64(lastSeq), uint64(chainSeq)
	if len(h.Labels) == 0 {
		h.Labels = nil
	}
	return h, nil
}

// EnrollHost adds a host, or re-enrolls the host with the same UUID.
//
// Re-enrollment keeps the host's ID, enrollment time, history and ChainBroken flag, replaces
// its credential, inventory and labels, lifts a revocation (the enroll secret is the
// authority: revoke the secret to keep a machine out), and restarts the record sequence where
// the agent says (h.LastSeq, from its NextSeq: 0 for a reinstalled machine that numbers from 1
// again, the last acknowledged seq for one that kept its spool); the evidence chain is followed
// afresh.
func (s *Store) EnrollHost(ctx context.Context, h store.Host, credHash []byte) (store.Host, error) {
	if h.ID == "" || h.UUID == "" {
		return store.Host{}, errors.New("enroll host: needs an id and a uuid")
	}
	at := nowIfZero(h.EnrolledAt)
	seen := nonZero(h.LastSeen, at)
	var out store.Host
	err := s.write(ctx, func(tx pgx.Tx) error {
		// The labels before: a host re-enrolled with other labels takes its history with it.
		var before []string
		err := tx.QueryRow(ctx, `SELECT labels FROM hosts WHERE uuid = $1 FOR NO KEY UPDATE`, h.UUID).Scan(&before)
		existed := err == nil
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		row := tx.QueryRow(ctx, `INSERT INTO hosts (id, uuid, cred_hash, hostname, os, os_version, agent_version, labels, enrolled_at, last_seen, stale_at, last_seq)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
			ON CONFLICT (uuid) DO UPDATE SET cred_hash = excluded.cred_hash, hostname = excluded.hostname,
				os = excluded.os, os_version = excluded.os_version, agent_version = excluded.agent_version,
				labels = excluded.labels, last_seen = greatest(hosts.last_seen, excluded.last_seen),
				stale_at = `+staleAtSQL("greatest(hosts.last_seen, excluded.last_seen)", "0")+`,
				last_seq = excluded.last_seq, chain_seq = 0, chain_hash = '', revoked_at = NULL
			RETURNING `+hostColumns,
			h.ID, h.UUID, credHash, h.Hostname, h.OS, h.OSVersion, h.AgentVersion, labels(h.Labels), at, seen, store.StaleAt(seen, 0), int64(h.LastSeq))
		out, err = scanHost(row)
		if isUnique(err) {
			return fmt.Errorf("enroll host %s: %w", h.ID, store.ErrConflict)
		}
		if err != nil {
			return err
		}
		if existed {
			if err := moveLabels(ctx, tx, out.ID, before, out.Labels); err != nil {
				return err
			}
		}
		// A new sequence: what was pending from the old one can never close its gap.
		_, err = tx.Exec(ctx, `DELETE FROM pending WHERE host_id = $1`, out.ID)
		return err
	})
	return out, err
}

// moveLabels moves a host's compliance history from the labels it had to the labels it has:
// the delta rows of its transitions and postures are repeated, at their original times,
// negated under each label it lost and as they were under each label it gained. ComplianceAt
// counts hosts by their labels now, at every instant; this keeps the deltas saying the same.
func moveLabels(ctx context.Context, tx pgx.Tx, hostID string, before, after []string) error {
	var lost, gained []string
	in := func(l string, set []string) bool {
		for _, s := range set {
			if s == l {
				return true
			}
		}
		return false
	}
	for _, l := range before {
		if !in(l, after) {
			lost = append(lost, l)
		}
	}
	for _, l := range after {
		if !in(l, before) {
			gained = append(gained, l)
		}
	}
	if len(lost)+len(gained) == 0 {
		return nil
	}
	var b pgx.Batch
	b.Queue(`INSERT INTO status_deltas (label, time, check_id, status, n)
		SELECT l.label, t.time, t.check_id, x.status, x.n * l.sign
		FROM transitions t
		CROSS JOIN LATERAL (VALUES (t.to_status, 1), (t.from_status, -1)) AS x (status, n)
		CROSS JOIN (SELECT unnest($2::text[]), -1 UNION ALL SELECT unnest($3::text[]), 1) AS l (label, sign)
		WHERE t.host_id = $1 AND x.status <> ''`, hostID, lost, gained)
	b.Queue(`INSERT INTO posture_deltas (label, time, state, n)
		SELECT l.label, p.time, x.state, x.n * l.sign
		FROM posture p
		CROSS JOIN LATERAL (VALUES (p.to_state, 1), (p.from_state, -1)) AS x (state, n)
		CROSS JOIN (SELECT unnest($2::text[]), -1 UNION ALL SELECT unnest($3::text[]), 1) AS l (label, sign)
		WHERE p.host_id = $1 AND x.state <> ''`, hostID, lost, gained)
	return tx.SendBatch(ctx, &b).Close()
}

// HostByCredential finds a host by the hash of its credential: store.ErrNotFound, or the host
// with store.ErrRevoked when its credential was revoked.
func (s *Store) HostByCredential(ctx context.Context, credHash []byte) (store.Host, error) {
	h, err := scanHost(s.pool.QueryRow(ctx, `SELECT `+hostColumns+` FROM hosts WHERE cred_hash = $1`, credHash))
	if err == nil && !h.RevokedAt.IsZero() {
		return h, store.ErrRevoked
	}
	return h, err
}

// Host returns one host, revoked or not.
func (s *Store) Host(ctx context.Context, id string) (store.Host, error) {
	return scanHost(s.pool.QueryRow(ctx, `SELECT `+hostColumns+` FROM hosts WHERE id = $1`, id))
}

// hostsQuery is the query of Hosts(f) and its arguments.
func hostsQuery(f store.HostFilter) (string, []any, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.Label != "" {
		where = append(where, `labels @> ARRAY[`+arg(f.Label)+`]::text[]`)
	}
	if f.Check != "" || f.Status != "" {
		cond := []string{`c.host_id = hosts.id`}
		if f.Check != "" {
			cond = append(cond, `c.check_id = `+arg(f.Check))
		}
		if f.Status != "" {
			cond = append(cond, `c.status = `+arg(f.Status))
		}
		where = append(where, `EXISTS (SELECT 1 FROM current c WHERE `+strings.Join(cond, " AND ")+`)`)
	}
	if f.Stale != nil {
		now := nowIfZero(f.Now)
		if *f.Stale {
			where = append(where, `stale_at <= `+arg(now))
		} else {
			where = append(where, `stale_at > `+arg(now))
		}
	}
	if f.Search != "" {
		// A range of hosts_hostname: every lower-cased hostname with the prefix.
		lo := store.LowerASCII(f.Search)
		where = append(where, `lower(hostname COLLATE "C") >= `+arg(lo))
		if hi, ok := store.PrefixEnd(lo); ok {
			where = append(where, `lower(hostname COLLATE "C") < `+arg(hi))
		}
	}
	if f.OSVersion != "" {
		where = append(where, `os_version = `+arg(f.OSVersion))
	}
	if f.Posture != "" {
		p, err := postureColumn(f.Posture)
		if err != nil {
			return "", nil, err
		}
		where = append(where, `posture = `+arg(p))
	}
	key := `id`
	switch f.Sort {
	case "", store.HostSortID:
	case store.HostSortHostname:
		key = `lower(hostname COLLATE "C")`
	case store.HostSortLastSeen:
		key = `last_seen`
	case store.HostSortOSVersion:
		key = `(os_version COLLATE "C")`
	default:
		return "", nil, fmt.Errorf("hosts: unknown sort %q: use id, hostname, last_seen or os_version", f.Sort)
	}
	op, dir := `>`, ``
	if f.Desc {
		op, dir = `<`, ` DESC`
	}
	if f.After != "" {
		if key == `id` {
			where = append(where, `id `+op+` `+arg(f.After))
		} else {
			var k any = f.AfterKey
			if f.Sort == store.HostSortLastSeen {
				t, err := time.Parse(time.RFC3339Nano, f.AfterKey)
				if err != nil {
					return "", nil, fmt.Errorf("hosts: after key %q is not an RFC 3339 time", f.AfterKey)
				}
				k = t
			}
			where = append(where, `(`+key+`, id) `+op+` (`+arg(k)+`, `+arg(f.After)+`)`)
		}
	}
	q := `SELECT ` + hostColumns + ` FROM hosts`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	if key == `id` {
		q += ` ORDER BY id` + dir
	} else {
		q += ` ORDER BY ` + key + dir + `, id` + dir
	}
	if f.Limit > 0 {
		q += ` LIMIT ` + arg(f.Limit)
	}
	return q, args, nil
}

// Hosts returns the hosts f selects, by ID.
func (s *Store) Hosts(ctx context.Context, f store.HostFilter) ([]store.Host, error) {
	q, args, err := hostsQuery(f)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var hosts []store.Host
	for rows.Next() {
		h, err := scanHost(rows)
		if err != nil {
			return nil, err
		}
		hosts = append(hosts, h)
	}
	return hosts, rows.Err()
}

// postureColumn is the hosts.posture value of a store.HostFilter posture.
func postureColumn(p string) (string, error) {
	switch p {
	case store.PostureCompliant:
		return stateCompliant, nil
	case store.PostureNonCompliant:
		return stateNoncompliant, nil
	case store.PostureNone:
		return "", nil
	}
	return "", fmt.Errorf("hosts: unknown posture %q: use compliant, noncompliant or none", p)
}

// RevokeHost revokes a host's credential from at on: every request it makes is refused until
// it enrolls again.
func (s *Store) RevokeHost(ctx context.Context, id, actor string, at time.Time) error {
	return s.revoke(ctx, "hosts", "host.revoke", id, actor, at)
}

// TouchHost records an authenticated request from the host at at: last seen never goes back,
// a non-zero interval replaces the host's, and stale_at follows both.
func (s *Store) TouchHost(ctx context.Context, id string, at time.Time, interval time.Duration) error {
	tag, err := s.pool.Exec(ctx, `UPDATE hosts SET last_seen = greatest(last_seen, $2),
			interval_ns = CASE WHEN $3::bigint > 0 THEN $3::bigint ELSE interval_ns END,
			stale_at = `+staleAtSQL("greatest(last_seen, $2)", "$3::bigint")+`
		WHERE id = $1`, id, at, int64(interval))
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("host %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// AuditLog returns the admin actions at or after since, oldest first.
func (s *Store) AuditLog(ctx context.Context, since time.Time) ([]store.Audit, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, time, actor, action, target, detail FROM audit WHERE time >= $1 ORDER BY id`, since)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Audit, error) {
		var a store.Audit
		err := r.Scan(&a.ID, &a.Time, &a.Actor, &a.Action, &a.Target, &a.Detail)
		a.Time = a.Time.UTC()
		return a, err
	})
}

// Tokens lists every API token, revoked ones included, oldest first.
func (s *Store) Tokens(ctx context.Context) ([]store.Token, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name, role, hash, created_at, revoked_at FROM tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Token, error) {
		var t store.Token
		var revoked *time.Time
		err := r.Scan(&t.ID, &t.Name, &t.Role, &t.Hash, &t.CreatedAt, &revoked)
		t.CreatedAt, t.RevokedAt = t.CreatedAt.UTC(), fromNull(revoked)
		return t, err
	})
}

// EnrollSecrets lists every enroll secret, revoked ones included, oldest first.
func (s *Store) EnrollSecrets(ctx context.Context) ([]store.EnrollSecret, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name, hash, labels, created_at, revoked_at FROM enroll_secrets ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.EnrollSecret, error) {
		var e store.EnrollSecret
		var revoked *time.Time
		err := r.Scan(&e.ID, &e.Name, &e.Hash, &e.Labels, &e.CreatedAt, &revoked)
		e.CreatedAt, e.RevokedAt = e.CreatedAt.UTC(), fromNull(revoked)
		if len(e.Labels) == 0 {
			e.Labels = nil
		}
		return e, err
	})
}
