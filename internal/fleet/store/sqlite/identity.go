package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

// audit appends one admin action inside the caller's transaction, so that the write and its
// audit row commit or fail together.
func audit(ctx context.Context, tx *sql.Tx, at time.Time, actor, action, target string, detail any) error {
	d, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO audit (time, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)`,
		ts(nowIfZero(at)), actor, action, target, string(d))
	return err
}

// AppendAudit records an admin action that changes nothing in the store (a nudge, an export),
// so that the audit log holds every admin action. It is not part of store.Store yet.
func (s *Store) AppendAudit(ctx context.Context, a store.Audit) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		var detail any = json.RawMessage(a.Detail)
		if a.Detail == "" {
			detail = map[string]any{}
		} else if !json.Valid([]byte(a.Detail)) {
			return errors.New("audit detail: not valid JSON")
		}
		return audit(ctx, tx, a.Time, a.Actor, a.Action, a.Target, detail)
	})
}

// AddToken stores an API token (by hash) and audits it.
func (s *Store) AddToken(ctx context.Context, t store.Token, actor string) error {
	if t.ID == "" || len(t.Hash) == 0 {
		return errors.New("token: needs an id and a hash")
	}
	if t.Role != store.RoleAdmin && t.Role != store.RoleAuditor {
		return fmt.Errorf("token role %q: use %s or %s", t.Role, store.RoleAdmin, store.RoleAuditor)
	}
	t.CreatedAt = nowIfZero(t.CreatedAt)
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO tokens (id, name, role, hash, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?)`,
			t.ID, t.Name, t.Role, t.Hash, ts(t.CreatedAt), ts(t.RevokedAt))
		if isUnique(err) {
			return fmt.Errorf("token %q: %w", t.Name, store.ErrConflict)
		}
		if err != nil {
			return err
		}
		return audit(ctx, tx, t.CreatedAt, actor, "token.create", t.ID, map[string]string{"name": t.Name, "role": t.Role})
	})
}

// TokenByHash returns the token with that hash: ErrNotFound, or the token and ErrRevoked.
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (store.Token, error) {
	var t store.Token
	var created, revoked int64
	err := s.r.QueryRowContext(ctx, `SELECT id, name, role, hash, created_at, revoked_at FROM tokens WHERE hash = ?`, hash).
		Scan(&t.ID, &t.Name, &t.Role, &t.Hash, &created, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Token{}, store.ErrNotFound
	}
	if err != nil {
		return store.Token{}, err
	}
	t.CreatedAt, t.RevokedAt = fromTS(created), fromTS(revoked)
	if revoked != 0 {
		return t, store.ErrRevoked
	}
	return t, nil
}

// revoke sets revoked_at on the row of table with that id, once: revoking again changes
// nothing and writes no second audit row.
func (s *Store) revoke(ctx context.Context, table, action, id, actor string, at time.Time) error {
	at = nowIfZero(at)
	return s.write(ctx, func(tx *sql.Tx) error {
		var revoked int64
		err := tx.QueryRowContext(ctx, `SELECT revoked_at FROM `+table+` WHERE id = ?`, id).Scan(&revoked)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%s: %w", id, store.ErrNotFound)
		}
		if err != nil || revoked != 0 {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE `+table+` SET revoked_at = ? WHERE id = ?`, ts(at), id); err != nil {
			return err
		}
		return audit(ctx, tx, at, actor, action, id, map[string]any{})
	})
}

// RevokeToken revokes an API token.
func (s *Store) RevokeToken(ctx context.Context, id, actor string, at time.Time) error {
	return s.revoke(ctx, "tokens", "token.revoke", id, actor, at)
}

// AddEnrollSecret stores an enroll secret (by hash) and audits it.
func (s *Store) AddEnrollSecret(ctx context.Context, e store.EnrollSecret, actor string) error {
	if e.ID == "" || len(e.Hash) == 0 {
		return errors.New("enroll secret: needs an id and a hash")
	}
	e.CreatedAt = nowIfZero(e.CreatedAt)
	labels, err := jsonLabels(e.Labels)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO enroll_secrets (id, name, hash, labels, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?)`,
			e.ID, e.Name, e.Hash, labels, ts(e.CreatedAt), ts(e.RevokedAt))
		if isUnique(err) {
			return fmt.Errorf("enroll secret %q: %w", e.Name, store.ErrConflict)
		}
		if err != nil {
			return err
		}
		return audit(ctx, tx, e.CreatedAt, actor, "secret.create", e.ID, map[string]any{"name": e.Name, "labels": cleanLabels(e.Labels)})
	})
}

// EnrollSecretByHash returns the enroll secret with that hash: ErrNotFound, or the secret and
// ErrRevoked.
func (s *Store) EnrollSecretByHash(ctx context.Context, hash []byte) (store.EnrollSecret, error) {
	var e store.EnrollSecret
	var labels string
	var created, revoked int64
	err := s.r.QueryRowContext(ctx, `SELECT id, name, hash, labels, created_at, revoked_at FROM enroll_secrets WHERE hash = ?`, hash).
		Scan(&e.ID, &e.Name, &e.Hash, &labels, &created, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return store.EnrollSecret{}, store.ErrNotFound
	}
	if err != nil {
		return store.EnrollSecret{}, err
	}
	if err := json.Unmarshal([]byte(labels), &e.Labels); err != nil {
		return store.EnrollSecret{}, fmt.Errorf("enroll secret %s: labels: %w", e.ID, err)
	}
	e.CreatedAt, e.RevokedAt = fromTS(created), fromTS(revoked)
	if revoked != 0 {
		return e, store.ErrRevoked
	}
	return e, nil
}

// RevokeEnrollSecret revokes an enroll secret; hosts enrolled with it keep their credentials.
func (s *Store) RevokeEnrollSecret(ctx context.Context, id, actor string, at time.Time) error {
	return s.revoke(ctx, "enroll_secrets", "secret.revoke", id, actor, at)
}

// cleanLabels drops empty and repeated labels and keeps the first-seen order; nil for none.
func cleanLabels(in []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, l := range in {
		l = strings.TrimSpace(l)
		if l == "" || seen[l] {
			continue
		}
		seen[l] = true
		out = append(out, l)
	}
	return out
}

func jsonLabels(in []string) (string, error) {
	l := cleanLabels(in)
	if l == nil {
		l = []string{}
	}
	b, err := json.Marshal(l)
	return string(b), err
}

const hostColumns = `id, uuid, hostname, os, os_version, agent_version, labels, enrolled_at, last_seen,
	last_seq, chain_seq, chain_hash, chain_broken, revoked_at, interval_ns, stale_at`

// staleAtSQL is store.StaleAt in SQL, for an UPDATE of hosts where ?1 is the time seen (never
// moving last_seen back) and ?2 a new interval (0: keep interval_ns). SQLite evaluates every
// SET expression on the row as it was, so it names the old columns.
var staleAtSQL = `max(last_seen, ?1) + ` + strconv.Itoa(store.StaleIntervals) +
	` * (CASE WHEN ?2 > 0 THEN ?2 WHEN interval_ns > 0 THEN interval_ns ELSE ` + strconv.FormatInt(int64(store.DefaultInterval), 10) + ` END)`

// scanHost reads one row of hostColumns.
func scanHost(sc interface{ Scan(...any) error }) (store.Host, error) {
	var h store.Host
	var labels string
	var enrolled, seen, revoked, interval, staleAt int64
	var broken int
	if err := sc.Scan(&h.ID, &h.UUID, &h.Hostname, &h.OS, &h.OSVersion, &h.AgentVersion, &labels, &enrolled, &seen,
		&h.LastSeq, &h.ChainSeq, &h.ChainHash, &broken, &revoked, &interval, &staleAt); err != nil {
		return store.Host{}, err
	}
	if err := json.Unmarshal([]byte(labels), &h.Labels); err != nil {
		return store.Host{}, fmt.Errorf("host %s: labels: %w", h.ID, err)
	}
	if len(h.Labels) == 0 {
		h.Labels = nil
	}
	h.EnrolledAt, h.LastSeen, h.RevokedAt = fromTS(enrolled), fromTS(seen), fromTS(revoked)
	h.ChainBroken = broken != 0
	h.Interval, h.StaleAt = time.Duration(interval), fromTS(staleAt)
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
	if h.ID == "" || h.UUID == "" || len(credHash) == 0 {
		return store.Host{}, errors.New("enroll: needs a host id, a host uuid and a credential hash")
	}
	h.EnrolledAt = nowIfZero(h.EnrolledAt)
	if h.LastSeen.IsZero() {
		h.LastSeen = h.EnrolledAt
	}
	h.Labels = cleanLabels(h.Labels)
	labels, err := jsonLabels(h.Labels)
	if err != nil {
		return store.Host{}, err
	}
	var out store.Host
	err = s.write(ctx, func(tx *sql.Tx) error {
		var id string
		err := tx.QueryRowContext(ctx, `SELECT id FROM hosts WHERE uuid = ?`, h.UUID).Scan(&id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			id = h.ID
			_, err = tx.ExecContext(ctx, `INSERT INTO hosts (id, uuid, cred_hash, hostname, os, os_version, agent_version,
				labels, enrolled_at, last_seen, interval_ns, stale_at, last_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				h.ID, h.UUID, credHash, h.Hostname, h.OS, h.OSVersion, h.AgentVersion, labels, ts(h.EnrolledAt), ts(h.LastSeen),
				int64(h.Interval), ts(store.StaleAt(h.LastSeen, h.Interval)), int64(h.LastSeq))
		case err == nil:
			// The interval stays: it is the one last given, until the agent fetches its config.
			_, err = tx.ExecContext(ctx, `UPDATE hosts SET cred_hash = ?3, hostname = ?4, os = ?5, os_version = ?6,
				agent_version = ?7, labels = ?8, last_seen = max(last_seen, ?1), stale_at = `+staleAtSQL+`, last_seq = ?10,
				chain_seq = 0, chain_hash = '', revoked_at = 0 WHERE id = ?9`,
				ts(h.LastSeen), 0, credHash, h.Hostname, h.OS, h.OSVersion, h.AgentVersion, labels, id, int64(h.LastSeq))
			if err == nil {
				_, err = tx.ExecContext(ctx, `DELETE FROM pending WHERE host_id = ?`, id)
			}
			if err == nil {
				err = moveLabels(ctx, tx, id, h.Labels)
			}
		}
		if isUnique(err) {
			return fmt.Errorf("enroll host %s: %w", h.ID, store.ErrConflict)
		}
		if err != nil {
			return err
		}
		for _, l := range h.Labels {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO host_labels (label, host_id) VALUES (?, ?)`, l, id); err != nil {
				return err
			}
		}
		out, err = scanHost(tx.QueryRowContext(ctx, `SELECT `+hostColumns+` FROM hosts WHERE id = ?`, id))
		return err
	})
	return out, err
}

// moveLabels gives a re-enrolled host the labels it has now: its whole history leaves the
// per-label counts of the labels it loses and joins those of the labels it gains, so that a
// label's counts stay those of the hosts that have it now. The caller inserts the new labels.
func moveLabels(ctx context.Context, tx *sql.Tx, id string, labels []string) error {
	rows, err := tx.QueryContext(ctx, `SELECT label FROM host_labels WHERE host_id = ?`, id)
	if err != nil {
		return err
	}
	var old []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			rows.Close()
			return err
		}
		old = append(old, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	move := func(label string, sign int) error {
		if _, err := tx.ExecContext(ctx, qMoveLabelStatus, id, label, sign); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, qMoveLabelPosture, id, label, sign)
		return err
	}
	for _, l := range old {
		if !slices.Contains(labels, l) {
			if err := move(l, -1); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM host_labels WHERE label = ? AND host_id = ?`, l, id); err != nil {
				return err
			}
		}
	}
	for _, l := range labels {
		if !slices.Contains(old, l) {
			if err := move(l, 1); err != nil {
				return err
			}
		}
	}
	return nil
}

// qMoveLabelStatus adds (?3 = 1) or takes back (?3 = -1) the transitions of host ?1 to the
// per-label counts of label ?2, as Ingest counted them: +1 for the status entered, -1 for the
// one left, in the hour of the transition.
const qMoveLabelStatus = `INSERT INTO label_status_deltas (hour, label, check_id, status, n)
	SELECT hour, ?2, check_id, status, sum(n) * ?3 FROM (
		SELECT time / 3600000000000 AS hour, check_id, to_status AS status, 1 AS n FROM transitions WHERE host_id = ?1
		UNION ALL
		SELECT time / 3600000000000, check_id, from_status, -1 FROM transitions WHERE host_id = ?1 AND from_status != ''
	) WHERE true GROUP BY hour, check_id, status
	ON CONFLICT (label, hour, check_id, status) DO UPDATE SET n = n + excluded.n`

// qMoveLabelPosture is qMoveLabelStatus for the host's postures.
const qMoveLabelPosture = `INSERT INTO label_posture_deltas (hour, label, state, n)
	SELECT hour, ?2, state, sum(n) * ?3 FROM (
		SELECT time / 3600000000000 AS hour, to_state AS state, 1 AS n FROM posture WHERE host_id = ?1
		UNION ALL
		SELECT time / 3600000000000, from_state, -1 FROM posture WHERE host_id = ?1 AND from_state != ''
	) WHERE true GROUP BY hour, state
	ON CONFLICT (label, hour, state) DO UPDATE SET n = n + excluded.n`

// HostByCredential returns the host holding that credential: ErrNotFound, or the host and
// ErrRevoked.
func (s *Store) HostByCredential(ctx context.Context, credHash []byte) (store.Host, error) {
	h, err := scanHost(s.r.QueryRowContext(ctx, `SELECT `+hostColumns+` FROM hosts WHERE cred_hash = ?`, credHash))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Host{}, store.ErrNotFound
	}
	if err != nil {
		return store.Host{}, err
	}
	if !h.RevokedAt.IsZero() {
		return h, store.ErrRevoked
	}
	return h, nil
}

// Host returns one host, revoked or not.
func (s *Store) Host(ctx context.Context, id string) (store.Host, error) {
	h, err := scanHost(s.r.QueryRowContext(ctx, `SELECT `+hostColumns+` FROM hosts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Host{}, fmt.Errorf("host %s: %w", id, store.ErrNotFound)
	}
	return h, err
}

// denseRows is how many matching hosts make a filter dense (Store.denseRows): a page sorted
// by another key then walks that key's index and skips the hosts that do not match (about
// fleet/denseRows per match at worst), rather than reading and sorting every match.
const denseRows = 2000

// hostsQuery is the query of Hosts(f) and its arguments. SQLite has no statistics to choose
// between a filter's index and the sort's, so sparse tells it: a filter of a sparse kind
// ("label", "posture", "search", "os_version") is written so that its index drives the query
// (the page then sorts what it found); the others so that it cannot, and the query walks the
// sort's index in the page's order. A filter whose index is the sort's (a search sorted by
// hostname, an OS version by OS version, a posture by ID) always drives.
func hostsQuery(f store.HostFilter, sparse map[string]bool) (string, []any, error) {
	var where []string
	var args []any
	if f.Label != "" {
		if sparse["label"] {
			where = append(where, `id IN (SELECT host_id FROM host_labels WHERE label = ?)`)
		} else {
			where = append(where, `EXISTS (SELECT 1 FROM host_labels l WHERE l.label = ? AND l.host_id = hosts.id)`)
		}
		args = append(args, f.Label)
	}
	switch {
	case f.Check != "" && f.Status != "":
		where = append(where, `id IN (SELECT host_id FROM current WHERE check_id = ? AND status = ?)`)
		args = append(args, f.Check, f.Status)
	case f.Check != "":
		where = append(where, `id IN (SELECT host_id FROM current WHERE check_id = ?)`)
		args = append(args, f.Check)
	case f.Status != "":
		where = append(where, `id IN (SELECT host_id FROM current WHERE status = ?)`)
		args = append(args, f.Status)
	}
	if f.Stale != nil {
		if *f.Stale {
			where = append(where, `stale_at <= ?`)
		} else {
			where = append(where, `stale_at > ?`)
		}
		args = append(args, ts(nowIfZero(f.Now)))
	}
	// drive is col as written to let its index drive the query, or else not (the unary +).
	drive := func(kind, col string) string {
		if sparse[kind] || alignedFilter(f.Sort, kind) {
			return col
		}
		return `+` + col
	}
	if f.Search != "" {
		// A range of hosts_hostname: every lower-cased hostname with the prefix.
		lo := store.LowerASCII(f.Search)
		col := drive("search", `lower(hostname)`)
		where = append(where, col+` >= ?`)
		args = append(args, lo)
		if hi, ok := store.PrefixEnd(lo); ok {
			where = append(where, col+` < ?`)
			args = append(args, hi)
		}
	}
	if f.OSVersion != "" {
		where = append(where, drive("os_version", `os_version`)+` = ?`)
		args = append(args, f.OSVersion)
	}
	if f.Posture != "" {
		p, err := postureColumn(f.Posture)
		if err != nil {
			return "", nil, err
		}
		where = append(where, drive("posture", `posture`)+` = ?`)
		args = append(args, p)
	}
	key := `id`
	switch f.Sort {
	case "", store.HostSortID:
	case store.HostSortHostname:
		key = `lower(hostname)`
	case store.HostSortLastSeen:
		key = `last_seen`
	case store.HostSortOSVersion:
		key = `os_version`
	default:
		return "", nil, fmt.Errorf("hosts: unknown sort %q: use id, hostname, last_seen or os_version", f.Sort)
	}
	op, dir := `>`, ``
	if f.Desc {
		op, dir = `<`, ` DESC`
	}
	if f.After != "" {
		switch f.Sort {
		case "", store.HostSortID:
			where = append(where, `id `+op+` ?`)
			args = append(args, f.After)
		case store.HostSortHostname:
			// Not the row value (key, id) > (?, ?), which SQLite does not take as a range of
			// an index on an expression: the first term is the range, the second skips ties.
			where = append(where, key+` `+op+`= ?`, `(`+key+` `+op+` ? OR id `+op+` ?)`)
			args = append(args, f.AfterKey, f.AfterKey, f.After)
		default:
			// A row value, which SQLite seeks to in the index even among many ties.
			var k any = f.AfterKey
			if f.Sort == store.HostSortLastSeen {
				t, err := time.Parse(time.RFC3339Nano, f.AfterKey)
				if err != nil {
					return "", nil, fmt.Errorf("hosts: after key %q is not an RFC 3339 time", f.AfterKey)
				}
				k = ts(t)
			}
			where = append(where, `(`+key+`, id) `+op+` (?, ?)`)
			args = append(args, k, f.After)
		}
	}
	q := `SELECT ` + hostColumns + ` FROM hosts`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	if key == `id` {
		q += ` ORDER BY id` + dir
	} else {
		q += ` ORDER BY ` + key + dir + `, id` + dir
	}
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	return q, args, nil
}

// alignedFilter reports whether the index of a filter of kind is the index of the sort.
func alignedFilter(sort, kind string) bool {
	switch kind {
	case "search":
		return sort == store.HostSortHostname
	case "os_version":
		return sort == store.HostSortOSVersion
	case "posture":
		return sort == "" || sort == store.HostSortID
	}
	return false
}

// sparseFilters finds which of f's filters match fewer than denseRows hosts (see hostsQuery),
// each by counting at most that many entries of its index. Only a limited page asks.
func (s *Store) sparseFilters(ctx context.Context, f store.HostFilter) (map[string]bool, error) {
	out := map[string]bool{}
	if f.Limit <= 0 {
		// Every matching host is asked for: the filters drive, as they always did.
		for _, kind := range []string{"label", "search", "os_version", "posture"} {
			out[kind] = true
		}
		return out, nil
	}
	count := func(kind, q string, args ...any) error {
		var n int
		err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM (`+q+` LIMIT `+strconv.Itoa(s.denseRows)+`)`, args...).Scan(&n)
		out[kind] = n < s.denseRows
		return err
	}
	if f.Label != "" {
		if err := count("label", `SELECT 1 FROM host_labels WHERE label = ?`, f.Label); err != nil {
			return nil, err
		}
	}
	if f.Search != "" && !alignedFilter(f.Sort, "search") {
		lo := store.LowerASCII(f.Search)
		if hi, ok := store.PrefixEnd(lo); ok {
			if err := count("search", `SELECT 1 FROM hosts WHERE lower(hostname) >= ? AND lower(hostname) < ?`, lo, hi); err != nil {
				return nil, err
			}
		}
	}
	if f.OSVersion != "" && !alignedFilter(f.Sort, "os_version") {
		if err := count("os_version", `SELECT 1 FROM hosts WHERE os_version = ?`, f.OSVersion); err != nil {
			return nil, err
		}
	}
	if f.Posture != "" && !alignedFilter(f.Sort, "posture") {
		p, err := postureColumn(f.Posture)
		if err != nil {
			return nil, err
		}
		if err := count("posture", `SELECT 1 FROM hosts WHERE posture = ?`, p); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Hosts returns the hosts the filter selects, ordered by ID.
func (s *Store) Hosts(ctx context.Context, f store.HostFilter) ([]store.Host, error) {
	sparse, err := s.sparseFilters(ctx, f)
	if err != nil {
		return nil, err
	}
	q, args, err := hostsQuery(f, sparse)
	if err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Host
	for rows.Next() {
		h, err := scanHost(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
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

// RevokeHost revokes a host's credential: every request with it is refused until the machine
// enrolls again.
func (s *Store) RevokeHost(ctx context.Context, id, actor string, at time.Time) error {
	return s.revoke(ctx, "hosts", "host.revoke", id, actor, at)
}

// TouchHost records an authenticated request; LastSeen never goes back, and StaleAt follows it
// and the interval (0 keeps the stored one).
func (s *Store) TouchHost(ctx context.Context, id string, at time.Time, interval time.Duration) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE hosts SET last_seen = max(last_seen, ?1), stale_at = `+staleAtSQL+`,
			interval_ns = CASE WHEN ?2 > 0 THEN ?2 ELSE interval_ns END WHERE id = ?3`, ts(at), int64(interval), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("host %s: %w", id, store.ErrNotFound)
		}
		return nil
	})
}

// Tokens lists every API token, revoked ones included, oldest first.
func (s *Store) Tokens(ctx context.Context) ([]store.Token, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, name, role, hash, created_at, revoked_at FROM tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Token
	for rows.Next() {
		var t store.Token
		var created, revoked int64
		if err := rows.Scan(&t.ID, &t.Name, &t.Role, &t.Hash, &created, &revoked); err != nil {
			return nil, err
		}
		t.CreatedAt, t.RevokedAt = fromTS(created), fromTS(revoked)
		out = append(out, t)
	}
	return out, rows.Err()
}

// EnrollSecrets lists every enroll secret, revoked ones included, oldest first.
func (s *Store) EnrollSecrets(ctx context.Context) ([]store.EnrollSecret, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, name, hash, labels, created_at, revoked_at FROM enroll_secrets ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.EnrollSecret
	for rows.Next() {
		var e store.EnrollSecret
		var labels string
		var created, revoked int64
		if err := rows.Scan(&e.ID, &e.Name, &e.Hash, &labels, &created, &revoked); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(labels), &e.Labels); err != nil {
			return nil, fmt.Errorf("enroll secret %s: labels: %w", e.ID, err)
		}
		e.CreatedAt, e.RevokedAt = fromTS(created), fromTS(revoked)
		out = append(out, e)
	}
	return out, rows.Err()
}
