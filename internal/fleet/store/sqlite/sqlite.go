// Package sqlite is the fleet store in one SQLite file, through the pure-Go driver
// modernc.org/sqlite so that CGO_ENABLED=0 builds keep working. It is the default store of
// firewarden-server and serves one process.
//
// Durability: the database runs in WAL mode with synchronous=FULL, so every commit fsyncs the
// WAL before it returns. WAL with synchronous=NORMAL would already survive `kill -9` of the
// server (the WAL is written before the commit returns), but not a power cut; agents delete
// their spooled records once the server acknowledges them, so an acknowledged record must be on
// disk. The price is one fsync per transaction; Ingest shares it among the batches that arrive
// together (group commit, see Ingest).
//
// Concurrency: writes go through a pool of exactly one connection, so writers queue in Go
// instead of failing with SQLITE_BUSY; reads use a separate pool and, in WAL mode, never wait
// for the writer. Ingest's batches queue for one writer goroutine that Open starts and Close
// stops.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/firewarden/firewarden/internal/fleet/store"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// loadMigrations returns the embedded migrations in version order.
func loadMigrations() ([]store.Migration, error) { return store.LoadMigrations(migrationFS) }

// Store is a fleet store in one SQLite database file.
type Store struct {
	w     *sql.DB // exactly one connection: every write transaction
	r     *sql.DB // readers
	stmts *stmts  // prepared on w

	ingestQ   chan *ingestReq // Ingest's batches, for the writer goroutine (ingestLoop)
	closing   chan struct{}   // closed by Close: the writer drains and ends
	loopDone  sync.WaitGroup
	closeOnce sync.Once

	denseRows int // see hostsQuery; a field so that tests can make every filter dense
}

// stmts are Ingest's statements, prepared once on the writer connection: Ingest runs a dozen
// of them per batch, and preparing is a large part of a statement's cost in SQLite.
type stmts struct {
	hostIngest, updHostIngest                                         *sql.Stmt
	seenPending, insPending, insPendingRange, selPending, delPending  *sql.Stmt
	selCurrent, insCheck, insCurrent, updCurrent, updCurrentValue     *sql.Stmt
	touchCurrent, insTransition, insRun, upsBans                      *sql.Stmt
	foldRun, selHostLabels, upsLabelStatusDelta, upsLabelPostureDelta *sql.Stmt
	updHostPosture                                                    *sql.Stmt
	upsStatusDelta, upsPostureDelta, insPosture                       *sql.Stmt
}

func prepare(db *sql.DB) (*stmts, error) {
	var st stmts
	for _, p := range []struct {
		s *(*sql.Stmt)
		q string
	}{
		{&st.hostIngest, `SELECT last_seq, chain_seq, chain_hash, chain_broken, applied,
			EXISTS (SELECT 1 FROM pending WHERE host_id = hosts.id), revoked_at, last_seen, interval_ns,
			run_rowid, run_digest, run_finished, run_confirmed, run_repeats, run_last_id FROM hosts WHERE id = ?`},
		{&st.updHostIngest, `UPDATE hosts SET last_seq = ?, chain_seq = ?, chain_hash = ?, chain_broken = ?, applied = ?,
			last_seen = ?, stale_at = ?, run_rowid = ?, run_digest = ?, run_finished = ?, run_confirmed = ?, run_repeats = ?,
			run_last_id = ? WHERE id = ?`},
		{&st.seenPending, `SELECT 1 FROM pending WHERE host_id = ? AND lo <= ? AND hi >= ? LIMIT 1`},
		{&st.insPending, `INSERT INTO pending (host_id, lo, hi, chain_seq, chain_prev, chain_hash) VALUES (?, ?, ?, ?, ?, ?)`},
		{&st.insPendingRange, `INSERT OR IGNORE INTO pending (host_id, lo, hi) VALUES (?, ?, ?)`},
		{&st.selPending, `SELECT lo, hi, chain_seq, chain_prev, chain_hash FROM pending WHERE host_id = ? ORDER BY lo, hi`},
		{&st.delPending, `DELETE FROM pending WHERE host_id = ? AND hi <= ?`},
		{&st.selCurrent, `SELECT check_id, status, actual, expected FROM current WHERE host_id = ?`},
		{&st.insCheck, `INSERT OR IGNORE INTO checks (check_id) VALUES (?)`},
		{&st.insCurrent, `INSERT INTO current (host_id, check_id, status, actual, expected, since, run_id) VALUES (?, ?, ?, ?, ?, ?, ?)`},
		{&st.updCurrent, `UPDATE current SET status = ?, actual = ?, expected = ?, since = ?, run_id = ? WHERE host_id = ? AND check_id = ?`},
		{&st.updCurrentValue, `UPDATE current SET actual = ?, expected = ?, run_id = ? WHERE host_id = ? AND check_id = ?`},
		{&st.touchCurrent, `UPDATE current SET run_id = ? WHERE host_id = ? AND check_id IN (SELECT value FROM json_each(?))`},
		{&st.insTransition, `INSERT INTO transitions (host_id, check_id, time, from_status, to_status, actual, run_id, cause, seq)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&st.insRun, `INSERT INTO runs (host_id, seq, run_id, policy, mode, baseline_name, baseline_sha256, started, finished, results,
			confirmed, last_run_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?9, ?3)`},
		{&st.foldRun, `UPDATE runs SET confirmed = ?, repeats = ?, last_run_id = ? WHERE id = ?`},
		{&st.selHostLabels, `SELECT label FROM host_labels WHERE host_id = ?`},
		{&st.updHostPosture, `UPDATE hosts SET posture = ?, posture_since = ? WHERE id = ?`},
		{&st.upsLabelStatusDelta, `INSERT INTO label_status_deltas (hour, label, check_id, status, n) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (label, hour, check_id, status) DO UPDATE SET n = n + excluded.n`},
		{&st.upsLabelPostureDelta, `INSERT INTO label_posture_deltas (hour, label, state, n) VALUES (?, ?, ?, ?)
			ON CONFLICT (label, hour, state) DO UPDATE SET n = n + excluded.n`},
		{&st.upsStatusDelta, `INSERT INTO status_deltas (hour, check_id, status, n) VALUES (?, ?, ?, ?)
			ON CONFLICT (hour, check_id, status) DO UPDATE SET n = n + excluded.n`},
		{&st.upsPostureDelta, `INSERT INTO posture_deltas (hour, state, n) VALUES (?, ?, ?)
			ON CONFLICT (hour, state) DO UPDATE SET n = n + excluded.n`},
		{&st.insPosture, `INSERT INTO posture (host_id, time, from_state, to_state) VALUES (?, ?, ?, ?)`},
		{&st.upsBans, `INSERT INTO bans (host_id, time, seq, summary) VALUES (?, ?, ?, ?)
			ON CONFLICT (host_id) DO UPDATE SET time = excluded.time, seq = excluded.seq, summary = excluded.summary
			WHERE excluded.seq > bans.seq`},
	} {
		var err error
		if *p.s, err = db.Prepare(p.q); err != nil {
			return nil, fmt.Errorf("prepare %q: %w", p.q, err)
		}
	}
	return &st, nil
}

// dsn is the driver's connection string: every connection gets the same pragmas.
func dsn(file string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	return "file:" + file + "?" + q.Encode()
}

// Open opens the database at path, creating it if needed, and applies every migration it
// lacks. A database from a newer server (a version this build does not know) is refused.
func Open(path string) (*Store, error) {
	return openAt(path, -1)
}

// openAt opens the database and migrates it to version target (-1: the latest).
func openAt(file string, target int) (*Store, error) {
	w, err := sql.Open("sqlite", dsn(file))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", file, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := migrate(context.Background(), w, target); err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", file, err)
	}
	r, err := sql.Open("sqlite", dsn(file))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", file, err)
	}
	var st *stmts
	if target < 0 || target >= 4 {
		// A database held at an older version (upgrade tests) may lack Ingest's tables and
		// columns, which migrations 2 and 4 create.
		if st, err = prepare(w); err != nil {
			w.Close()
			r.Close()
			return nil, fmt.Errorf("open %s: %w", file, err)
		}
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	s := &Store{w: w, r: r, stmts: st, ingestQ: make(chan *ingestReq), closing: make(chan struct{}), denseRows: denseRows}
	s.loopDone.Add(1)
	go s.ingestLoop()
	return s, nil
}

// migrate applies the migrations after the database's version, up to target (-1: all), each
// in its own transaction together with its schema_migrations row.
func migrate(ctx context.Context, db *sql.DB, target int) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	if target < 0 {
		target = len(ms)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var have int
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("read the schema version: %w", err)
	}
	if have > len(ms) {
		return fmt.Errorf("the database has schema version %d but this firewarden-server knows only %d: run a newer firewarden-server", have, len(ms))
	}
	for _, m := range ms[have:target] {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d_%s: %w", m.Version, m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.Version, m.Name, time.Now().UnixNano()); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d_%s: %w", m.Version, m.Name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %d_%s: %w", m.Version, m.Name, err)
		}
	}
	return nil
}

// Version returns the database's schema version.
func (s *Store) Version(ctx context.Context) (int, error) {
	var v int
	err := s.r.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

// Close stops the ingest writer (batches still queued fail) and closes the database.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.closing) })
	s.loopDone.Wait()
	return errors.Join(s.r.Close(), s.w.Close())
}

// write runs fn in one write transaction on the single writer connection.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// ts stores a time as Unix nanoseconds, the zero time as 0.
func ts(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromTS is the inverse of ts, in UTC.
func fromTS(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// nowIfZero is t, or the current time when t is zero: audit rows always have a time.
func nowIfZero(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY constraint failure. The driver's
// error codes are not exported in a stable form, so this reads the extended result code.
func isUnique(err error) bool {
	var c interface{ Code() int }
	if errors.As(err, &c) {
		// SQLITE_CONSTRAINT_PRIMARYKEY (1555) and SQLITE_CONSTRAINT_UNIQUE (2067).
		return c.Code() == 1555 || c.Code() == 2067
	}
	return false
}

var _ store.Store = (*Store)(nil)
