package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"math"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
	"github.com/firewarden/firewarden/internal/fleet/wire"
)

// ComplianceAt counts, as of the instant at, the hosts enrolled then (and not revoked by
// then), optionally only those with label and only for check.
//
// It reads transitions and counts derived from them, never runs, and does not visit every
// host: the counts of (host, check) pairs per status and of hosts per posture are sums of
// hourly deltas kept by Ingest (for the whole fleet, or per label), plus the transitions of the
// last hour, corrected for the hosts revoked by then and for exemptions (both looked up one by
// one); stale hosts are a range of the stale_at index (see store.Compliance.Stale).
// complianceScan, the host-by-host answer, is kept to check it against.
//
// A failing check with an exemption active at at (for the host or one of its labels) counts
// as exempt. A host is compliant when it has a status for at least one counted check and
// every such status is compliant; a host with none is NoData. Labels are the hosts' current
// labels.
func (s *Store) ComplianceAt(ctx context.Context, at time.Time, label, check string) (store.Compliance, error) {
	return s.complianceCounts(ctx, at, label, check)
}

// complianceScan answers ComplianceAt host by host: one query per check over the covering
// index (check_id, host_id, time, to_status). Its cost grows with the transitions of the hosts
// it reads; tests check complianceCounts against it.
func (s *Store) complianceScan(ctx context.Context, at time.Time, label, check string) (store.Compliance, error) {
	c := store.Compliance{At: at, PerCheck: map[string]store.CheckCount{}}
	t := ts(at)

	hq := `SELECT id, stale_at <= ?1 FROM hosts WHERE enrolled_at <= ?1 AND (revoked_at = 0 OR revoked_at > ?1)`
	args := []any{t}
	if label != "" {
		hq += ` AND id IN (SELECT host_id FROM host_labels WHERE label = ?2)`
		args = append(args, label)
	}
	hosts := map[string]*hostState{}
	rows, err := s.r.QueryContext(ctx, hq, args...)
	if err != nil {
		return c, err
	}
	for rows.Next() {
		var id string
		var stale bool
		if err := rows.Scan(&id, &stale); err != nil {
			rows.Close()
			return c, err
		}
		hosts[id] = &hostState{stale: stale}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return c, err
	}

	exempt, err := s.exemptAt(ctx, at, hosts)
	if err != nil {
		return c, err
	}

	var checks []string
	if check != "" {
		checks = []string{check}
	} else {
		rows, err := s.r.QueryContext(ctx, `SELECT check_id FROM checks ORDER BY check_id`)
		if err != nil {
			return c, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return c, err
			}
			checks = append(checks, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return c, err
		}
	}

	for _, chk := range checks {
		q, args := qStatusAt, []any{chk, t}
		if label != "" {
			q, args = qStatusAtLabel, []any{chk, t, label}
		}
		rows, err := s.r.QueryContext(ctx, q, args...)
		if err != nil {
			return c, err
		}
		var cc store.CheckCount
		counted := false
		for rows.Next() {
			var host, status string
			var when int64
			if err := rows.Scan(&host, &status, &when); err != nil {
				rows.Close()
				return c, err
			}
			h := hosts[host]
			if h == nil {
				continue
			}
			if status == wire.StatusFail && exempt[exemptKey{host, chk}] {
				status = wire.StatusExempt
			}
			counted = true
			h.seen = true
			if !wire.Compliant(status) {
				h.bad = true
			}
			switch status {
			case wire.StatusPass:
				cc.Pass++
			case wire.StatusFail:
				cc.Fail++
			case wire.StatusError:
				cc.Error++
			case wire.StatusExempt:
				cc.Exempt++
			case wire.StatusManaged:
				cc.Managed++
			case wire.StatusNotApplicable:
				cc.NotApplicable++
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return c, err
		}
		if counted || check != "" {
			c.PerCheck[chk] = cc
		}
	}

	c.Hosts = len(hosts)
	for _, h := range hosts {
		switch {
		case !h.seen:
			c.NoData++
		case h.bad:
			c.NonCompliant++
		case h.stale:
			c.Stale++
		default:
			c.Compliant++
		}
	}
	return c, nil
}

// hostState is what ComplianceAt learns about one host.
type hostState struct {
	seen  bool // a status for at least one counted check
	bad   bool // one of them not compliant
	stale bool // StaleAt ≤ the instant
}

// qStatusAt is, for one check, every host's last transition at or before an instant. SQLite
// returns the bare columns of the row that holds max(time) in each group; the covering index
// (check_id, host_id, time, to_status) answers it without touching the table (TestQueryPlans).
//
// The latest is the one with the highest id, not the highest time: a drift and the fix that
// reverted it share one time, and a host's transitions are stored in time order (late records
// make none).
const qStatusAt = `SELECT host_id, to_status, max(id) FROM transitions WHERE check_id = ? AND time <= ? GROUP BY host_id`

// qStatusAtLabel is qStatusAt for the hosts with a label only: it reads the transitions of
// those hosts, one index range per host, instead of every host's. CROSS JOIN makes SQLite
// keep host_labels as the outer loop.
const qStatusAtLabel = `SELECT t.host_id, t.to_status, max(t.id) FROM host_labels l CROSS JOIN transitions t
	WHERE l.label = ?3 AND t.check_id = ?1 AND t.host_id = l.host_id AND t.time <= ?2 GROUP BY t.host_id`

type exemptKey struct{ host, check string }

// exemptAt returns the (host, check) pairs among hosts that an exemption active at at covers.
func (s *Store) exemptAt(ctx context.Context, at time.Time, hosts map[string]*hostState) (map[exemptKey]bool, error) {
	es, err := s.Exemptions(ctx, at)
	if err != nil {
		return nil, err
	}
	out := map[exemptKey]bool{}
	for _, e := range es {
		if e.HostID != "" {
			if _, ok := hosts[e.HostID]; ok {
				out[exemptKey{e.HostID, e.Check}] = true
			}
			continue
		}
		rows, err := s.r.QueryContext(ctx, `SELECT host_id FROM host_labels WHERE label = ?`, e.Label)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			if _, ok := hosts[id]; ok {
				out[exemptKey{id, e.Check}] = true
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// deltaSums are the counts of the hourly deltas summed over the hours before an instant's:
// (host, check) pairs per check and status, and hosts per posture (left empty for one check).
type deltaSums struct {
	status  map[string]map[string]int // check → status → pairs
	posture map[string]int
}

func (d deltaSums) clone() deltaSums {
	c := deltaSums{status: map[string]map[string]int{}, posture: map[string]int{}}
	for chk, m := range d.status {
		c.status[chk] = maps.Clone(m)
	}
	maps.Copy(c.posture, d.posture)
	return c
}

func (d *deltaSums) addStatus(chk, status string, n int) {
	if status == "" {
		return
	}
	if d.status == nil {
		d.status = map[string]map[string]int{}
	}
	m := d.status[chk]
	if m == nil {
		m = map[string]int{}
		d.status[chk] = m
	}
	m[status] += n
}

func (d *deltaSums) addPosture(state string, n int) {
	if d.posture == nil {
		d.posture = map[string]int{}
	}
	d.posture[state] += n
}

// deltaTables are the tables of hourly deltas for the fleet or for label, and the condition
// (on ?9) that picks the label's rows.
func deltaTables(label string) (status, posture, cond string) {
	if label != "" {
		return `label_status_deltas`, `label_posture_deltas`, ` AND label = ?9`
	}
	return `status_deltas`, `posture_deltas`, ``
}

// bind9 gives a query its arguments: ?1 … from args, ?9 the label.
func bind9(q, label string, args ...any) []any {
	a := make([]any, 9)
	copy(a, args)
	a[8] = label
	return bindArgs(q, a...)
}

// deltasBefore sums the hourly deltas of the hours before hour, for label and check.
func (s *Store) deltasBefore(ctx context.Context, hour int64, label, check string) (deltaSums, error) {
	var d deltaSums
	err := s.addDeltas(ctx, &d, math.MinInt64, hour, label, check)
	return d, err
}

// addDeltas adds to d the hourly deltas of the hours from lo to before hi, for label and check.
func (s *Store) addDeltas(ctx context.Context, d *deltaSums, lo, hi int64, label, check string) error {
	deltas, postureDeltas, labelCond := deltaTables(label)
	q := `SELECT check_id, status, sum(n) FROM ` + deltas + ` WHERE hour >= ?1 AND hour < ?2` + labelCond
	if check != "" {
		q += ` AND check_id = ?3`
	}
	q += ` GROUP BY check_id, status`
	if err := s.each(ctx, q, bind9(q, label, lo, hi, check), func(sc func(...any) error) error {
		var chk, status string
		var n int
		err := sc(&chk, &status, &n)
		d.addStatus(chk, status, n)
		return err
	}); err != nil {
		return err
	}
	if check != "" {
		return nil
	}
	q = `SELECT state, sum(n) FROM ` + postureDeltas + ` WHERE hour >= ?1 AND hour < ?2` + labelCond + ` GROUP BY state`
	return s.each(ctx, q, bind9(q, label, lo, hi), func(sc func(...any) error) error {
		var state string
		var n int
		err := sc(&state, &n)
		d.addPosture(state, n)
		return err
	})
}

// hostScope is what ComplianceAt needs of the hosts at an instant besides their statuses: how
// many are enrolled and not revoked, and which were revoked by then (the deltas still count
// them).
type hostScope func(ctx context.Context, t int64) (hosts int, revoked []string, err error)

// hostsAt is the hostScope of one instant, from the hosts table.
func (s *Store) hostsAt(label string) hostScope {
	return func(ctx context.Context, t int64) (int, []string, error) {
		var n int
		q := `SELECT count(*) FROM hosts WHERE enrolled_at <= ?1 AND (revoked_at = 0 OR revoked_at > ?1)`
		if label != "" {
			// The label's hosts from its index range, less the few not enrolled or revoked by then.
			q = `SELECT (SELECT count(*) FROM host_labels WHERE label = ?9) - (SELECT count(*) FROM hosts
			WHERE (enrolled_at > ?1 OR revoked_at != 0 AND revoked_at <= ?1)` + inLabel(label, "hosts.id") + `)`
		}
		if err := s.r.QueryRowContext(ctx, q, bind9(q, label, t)...).Scan(&n); err != nil {
			return 0, nil, err
		}
		var revoked []string
		q = `SELECT id FROM hosts WHERE revoked_at != 0 AND revoked_at <= ?1 AND enrolled_at <= ?1` + inLabel(label, "hosts.id")
		err := s.each(ctx, q, bind9(q, label, t), func(sc func(...any) error) error {
			var id string
			err := sc(&id)
			revoked = append(revoked, id)
			return err
		})
		return n, revoked, err
	}
}

// inLabel restricts a query to the rows whose host (column col) has label (?9), if one is
// given. A lookup per row, not `IN (SELECT …)`, which would read every host of the label.
func inLabel(label, col string) string {
	if label == "" {
		return ""
	}
	return ` AND EXISTS (SELECT 1 FROM host_labels l WHERE l.label = ?9 AND l.host_id = ` + col + `)`
}

// complianceCounts answers ComplianceAt from status_deltas and posture_deltas, or their
// per-label tables when label is given.
func (s *Store) complianceCounts(ctx context.Context, at time.Time, label, check string) (store.Compliance, error) {
	d, err := s.deltasBefore(ctx, deltasUntil(ts(at)), label, check)
	if err != nil {
		return store.Compliance{At: at}, err
	}
	return s.complianceFrom(ctx, at, label, check, d, s.hostsAt(label))
}

// deltasUntil is the hour up to which (excluded) ComplianceAt at t sums the hourly deltas:
// t's own hour when t is in its first half, so that the transitions from the hour's start up
// to t are added; else the next hour, so that those after t up to the hour's end are taken
// back. Either way at most half an hour of transitions is read.
func deltasUntil(t int64) int64 {
	h := hourOf(t)
	if t-h*int64(time.Hour) > int64(time.Hour)/2 {
		return h + 1
	}
	return h
}

// complianceFrom finishes ComplianceAt from d, the deltas summed over the hours before
// deltasUntil(at) (which it may change): it adds the transitions of at's own hour up to at (or
// takes back those after at), and corrects for the hosts revoked by then, for exemptions and
// for stale hosts.
func (s *Store) complianceFrom(ctx context.Context, at time.Time, label, check string, d deltaSums, scope hostScope) (store.Compliance, error) {
	c := store.Compliance{At: at, PerCheck: map[string]store.CheckCount{}}
	t := ts(at)
	if d.status == nil {
		d.status = map[string]map[string]int{}
	}
	if d.posture == nil {
		d.posture = map[string]int{}
	}
	counts, posture := d.status, d.posture
	add := d.addStatus
	bind := func(q string, args ...any) []any { return bind9(q, label, args...) }

	// The transitions of at's hour up to at (sign 1), or after at to the hour's end (sign -1),
	// counted by the database from transitions_time_counts alone.
	lo, hi, sign := hourOf(t)*int64(time.Hour), t, 1
	span := `time >= ?1 AND time <= ?2`
	if u := deltasUntil(t); u != hourOf(t) {
		lo, hi, sign = t, u*int64(time.Hour), -1
		span = `time > ?1 AND time < ?2`
	}
	q := `SELECT check_id, from_status, to_status, count(*) FROM transitions WHERE ` + span + inLabel(label, "transitions.host_id")
	if check != "" {
		// Not through the index on check_id, which would read all of that check's history:
		// the hour's transitions from transitions_time_counts are few.
		q += ` AND +check_id = ?3`
	}
	q += ` GROUP BY check_id, from_status, to_status`
	if err := s.each(ctx, q, bind(q, lo, hi, check), func(sc func(...any) error) error {
		var chk, from, to string
		var n int
		err := sc(&chk, &from, &to, &n)
		add(chk, from, -sign*n)
		add(chk, to, sign*n)
		return err
	}); err != nil {
		return c, err
	}
	if check == "" {
		q = `SELECT from_state, to_state, count(*) FROM posture WHERE ` + span + inLabel(label, "posture.host_id") +
			` GROUP BY from_state, to_state`
		if err := s.each(ctx, q, bind(q, lo, hi),
			func(sc func(...any) error) error {
				var from, to string
				var n int
				err := sc(&from, &to, &n)
				if from != "" {
					posture[from] -= sign * n
				}
				posture[to] += sign * n
				return err
			}); err != nil {
			return c, err
		}
	}

	var checks []string
	if check != "" {
		checks = []string{check}
	} else if err := s.each(ctx, `SELECT check_id FROM checks ORDER BY check_id`, nil, func(sc func(...any) error) error {
		var chk string
		err := sc(&chk)
		checks = append(checks, chk)
		return err
	}); err != nil {
		return c, err
	}

	hosts, revoked, err := scope(ctx, t)
	if err != nil {
		return c, err
	}
	c.Hosts = hosts
	for _, id := range revoked {
		for _, chk := range checks {
			st, err := s.statusAt(ctx, id, chk, t)
			if err != nil {
				return c, err
			}
			add(chk, st, -1)
		}
		if check == "" {
			p, err := s.postureAt(ctx, id, t)
			if err != nil {
				return c, err
			}
			if p != "" {
				posture[p]--
			}
		}
	}

	// Exempted failures count as exempt; a host whose only failures are exempted is compliant.
	exempt, err := s.exemptPairs(ctx, at, label)
	if err != nil {
		return c, err
	}
	inScope := map[string]bool{}
	for _, chk := range checks {
		inScope[chk] = true
	}
	affected := map[string]bool{}
	excused := map[string]bool{} // non-compliant hosts counted compliant for exempted failures
	for k := range exempt {
		if !inScope[k.check] {
			continue
		}
		st, err := s.statusAt(ctx, k.host, k.check, t)
		if err != nil {
			return c, err
		}
		if st == wire.StatusFail {
			add(k.check, wire.StatusFail, -1)
			add(k.check, wire.StatusExempt, 1)
			affected[k.host] = true
		}
	}
	if check == "" {
		for id := range affected {
			p, err := s.postureAt(ctx, id, t)
			if err != nil {
				return c, err
			}
			if p != stateNoncompliant {
				continue
			}
			bad := false
			for _, chk := range checks {
				st, err := s.statusAt(ctx, id, chk, t)
				if err != nil {
					return c, err
				}
				if st != "" && !wire.Compliant(st) && !(st == wire.StatusFail && exempt[exemptKey{id, chk}]) {
					bad = true
					break
				}
			}
			if !bad {
				posture[stateNoncompliant]--
				posture[stateCompliant]++
				excused[id] = true
			}
		}
	}

	if c.Stale, err = s.staleCompliant(ctx, t, label, check, exempt, excused); err != nil {
		return c, err
	}
	c.Tally(counts, posture[stateCompliant], posture[stateNoncompliant], check)
	return c, nil
}

// staleCompliant counts the hosts enrolled and not revoked at t, with StaleAt ≤ t, that count
// as compliant at t: for check, a compliant status or an exempted failure; for the whole host,
// a compliant posture, or a non-compliant one that exemptions excuse (excused).
//
// The stale hosts are a range of the stale_at index. For the whole host, the index also holds
// the host's latest posture and since when, so a host whose posture has not changed since t is
// counted from the index alone; for a check, its current status and since when are one lookup
// in current. Only hosts changed after t (which a stale host hardly is: it has not reported
// since) need their history, and exempted failures are looked up one by one, as elsewhere.
func (s *Store) staleCompliant(ctx context.Context, t int64, label, check string, exempt map[exemptKey]bool, excused map[string]bool) (int, error) {
	labelCond := ``
	if label != "" {
		labelCond = ` AND EXISTS (SELECT 1 FROM host_labels l WHERE l.label = ?3 AND l.host_id = h.id)`
	}
	n := 0
	count := func(q string) error {
		var k int
		err := s.r.QueryRowContext(ctx, q, bindArgs(q, t, check, label)...).Scan(&k)
		n += k
		return err
	}
	changed := func(q string) error { // hosts changed after t: their status or posture at t
		return s.each(ctx, q, bindArgs(q, t, check, label), func(sc func(...any) error) error {
			var id string
			var st sql.NullString
			if err := sc(&id, &st); err != nil {
				return err
			}
			if st.Valid && (st.String == stateCompliant || wire.Compliant(st.String)) {
				n++
			}
			return nil
		})
	}
	isStale := func(id string) (bool, error) {
		var stale bool
		err := s.r.QueryRowContext(ctx, `SELECT stale_at <= ? FROM hosts WHERE id = ?`, t, id).Scan(&stale)
		return stale, err
	}
	if check == "" {
		if err := count(`SELECT count(*) ` + qStaleHosts + ` AND h.posture_since <= ?1 AND h.posture = 'compliant'` + labelCond); err != nil {
			return 0, err
		}
		if err := changed(qStalePosture + ` AND h.posture_since > ?1` + labelCond); err != nil {
			return 0, err
		}
		for id := range excused { // non-compliant at t only for exempted failures
			if stale, err := isStale(id); err != nil || !stale {
				if err != nil {
					return 0, err
				}
				continue
			}
			n++
		}
		return n, nil
	}
	if err := count(`SELECT count(*) ` + qStaleHosts + ` AND EXISTS (SELECT 1 FROM current c WHERE c.host_id = h.id AND c.check_id = ?2
		AND c.since <= ?1 AND c.status IN ('pass', 'managed', 'exempt', 'not_applicable'))` + labelCond); err != nil {
		return 0, err
	}
	if err := changed(qStaleStatus + ` AND EXISTS (SELECT 1 FROM current c WHERE c.host_id = h.id AND c.check_id = ?2 AND c.since > ?1)` + labelCond); err != nil {
		return 0, err
	}
	for k := range exempt { // failures an exemption excuses: compliant
		if k.check != check {
			continue
		}
		stale, err := isStale(k.host)
		if err != nil {
			return 0, err
		}
		if !stale {
			continue
		}
		st, err := s.statusAt(ctx, k.host, check, t)
		if err != nil {
			return 0, err
		}
		if st == wire.StatusFail {
			n++
		}
	}
	return n, nil
}

// qStaleHosts are the hosts stale at ?1 among those enrolled and not revoked then, from the
// stale_at index (SQLite would rather read hosts_enrolled, which holds every host);
// qStalePosture and qStaleStatus add each one's posture (or the status of check ?2) at ?1.
const (
	qStaleHosts   = `FROM hosts h INDEXED BY hosts_stale_at WHERE h.stale_at <= ?1 AND h.enrolled_at <= ?1 AND (h.revoked_at = 0 OR h.revoked_at > ?1)`
	qStalePosture = `SELECT h.id, (SELECT to_state FROM posture p WHERE p.host_id = h.id AND p.time <= ?1
		ORDER BY p.time DESC, p.rowid DESC LIMIT 1) ` + qStaleHosts
	qStaleStatus = `SELECT h.id, (SELECT to_status FROM transitions t WHERE t.check_id = ?2 AND t.host_id = h.id AND t.time <= ?1
		ORDER BY t.id DESC LIMIT 1) ` + qStaleHosts
)

// bindArgs is args cut to the number of parameters of q, whose parameters are ?1 to ?9: the
// driver wants exactly as many arguments as the highest number a query uses.
func bindArgs(q string, args ...any) []any {
	n := 0
	for i := 0; i+1 < len(q); i++ {
		if q[i] == '?' && q[i+1] >= '1' && q[i+1] <= '9' {
			n = max(n, int(q[i+1]-'0'))
		}
	}
	return args[:min(n, len(args))]
}

// each runs a read query and calls fn with a scanner for every row.
func (s *Store) each(ctx context.Context, q string, args []any, fn func(scan func(...any) error) error) error {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// statusAt is a (host, check) status at t, "" before its first result.
func (s *Store) statusAt(ctx context.Context, host, check string, t int64) (string, error) {
	var st string
	err := s.r.QueryRowContext(ctx, `SELECT to_status FROM transitions WHERE check_id = ? AND host_id = ? AND time <= ?
		ORDER BY id DESC LIMIT 1`, check, host, t).Scan(&st)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return st, err
}

// postureAt is a host's posture at t, "" before its first result.
func (s *Store) postureAt(ctx context.Context, host string, t int64) (string, error) {
	var p string
	err := s.r.QueryRowContext(ctx, `SELECT to_state FROM posture WHERE host_id = ? AND time <= ?
		ORDER BY time DESC, rowid DESC LIMIT 1`, host, t).Scan(&p)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return p, err
}

// exemptPairs returns the (host, check) pairs that an exemption active at `at` covers, for
// hosts enrolled and not revoked then (and with label, when one is given).
func (s *Store) exemptPairs(ctx context.Context, at time.Time, label string) (map[exemptKey]bool, error) {
	es, err := s.Exemptions(ctx, at)
	if err != nil {
		return nil, err
	}
	t := ts(at)
	out := map[exemptKey]bool{}
	for _, e := range es {
		q, arg := `SELECT id FROM hosts WHERE id = ?2`, e.HostID
		if e.HostID == "" {
			q, arg = `SELECT id FROM hosts WHERE id IN (SELECT host_id FROM host_labels WHERE label = ?2)`, e.Label
		}
		q += ` AND enrolled_at <= ?1 AND (revoked_at = 0 OR revoked_at > ?1)`
		args := []any{t, arg}
		if label != "" {
			q += ` AND id IN (SELECT host_id FROM host_labels WHERE label = ?3)`
			args = append(args, label)
		}
		if err := s.each(ctx, q, args, func(sc func(...any) error) error {
			var id string
			err := sc(&id)
			out[exemptKey{id, e.Check}] = true
			return err
		}); err != nil {
			return nil, err
		}
	}
	return out, nil
}
