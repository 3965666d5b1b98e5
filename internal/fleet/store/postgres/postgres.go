// Package postgres is the fleet store in PostgreSQL, through pgx, for fleets larger than one
// SQLite file serves well and for several firewarden-server replicas sharing one database.
//
// Every write is one transaction. Ingest for a host locks that host's row (SELECT … FOR
// UPDATE) first, so concurrent batches for one host, from one replica or several, apply one
// after the other and store each record exactly once; batches for different hosts run in
// parallel.
//
// The schema is created and upgraded by numbered SQL files in migrations/, applied by Open
// under a PostgreSQL advisory lock: replicas starting together migrate once, the others wait
// and then find nothing to do.
//
// Replicas coordinate through the database too: Listen and Notify carry nudges between them
// (LISTEN/NOTIFY), and TryAdvisoryLock lets one replica run a periodic job for the fleet.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// loadMigrations returns the embedded migrations in version order.
func loadMigrations() ([]store.Migration, error) { return store.LoadMigrations(migrationFS) }

// migrateLock is the advisory lock key held while migrating: the first 8 bytes of
// SHA-256("firewarden schema migrations"), so that it collides with no other application's
// key on a shared server by accident.
const migrateLock int64 = 0x2e3b095b8b26fcfa

// defaultMaxConns is the least number of connections a Store's pool holds open at once.
const defaultMaxConns = 16

// Store is a fleet store in a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
	url  string // for Listen's dedicated connection

	listening func(channel string) // tests: called when a LISTEN takes effect
}

// Open connects to the database at url (postgres://…), applies every migration it lacks and
// returns the store. A database from a newer server (a version this build does not know) is
// refused.
func Open(ctx context.Context, url string) (*Store, error) {
	return openAt(ctx, url, -1)
}

// openAt opens the database and migrates it to version target (-1: the latest).
func openAt(ctx context.Context, url string, target int) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgconn's message can quote the URL, password included: say only what was wrong.
		return nil, errors.New("the database URL is not a valid postgres:// URL or key=value connection string")
	}
	// The planner's cost for ComplianceAt at fleet scale crosses the JIT threshold, and
	// compiling it costs a second where the query itself takes tens of milliseconds. Every
	// query here is short: JIT never pays. A jit setting in the URL still wins.
	if _, set := cfg.ConnConfig.RuntimeParams["jit"]; !set {
		cfg.ConnConfig.RuntimeParams["jit"] = "off"
	}
	// pgxpool's default pool is max(4, CPUs) connections: on a small server that is four
	// ingests at a time, each mostly waiting on a round trip or its commit's WAL flush, not
	// working. More connections let the commits of concurrent reports share flushes. A
	// pool_max_conns in the URL still wins.
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = max(cfg.MaxConns, defaultMaxConns)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	if err := migrate(ctx, pool, target); err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{pool: pool, url: url}, nil
}

// migrate applies the migrations after the database's version, up to target (-1: all), each
// in its own transaction together with its schema_migrations row, holding the migration
// advisory lock on one connection throughout.
func migrate(ctx context.Context, pool *pgxpool.Pool, target int) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	if target < 0 {
		target = len(ms)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLock); err != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}
	defer func() {
		// A fresh context: the caller's may be cancelled, and a lock left held on a pooled
		// connection would block every other replica's start.
		uctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, migrateLock); err != nil {
			conn.Conn().Close(uctx) // closing the session releases the lock
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var have int
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("read the schema version: %w", err)
	}
	if have > len(ms) {
		return fmt.Errorf("the database has schema version %d but this firewarden-server knows only %d: run a newer firewarden-server", have, len(ms))
	}
	for _, m := range ms[min(have, target):target] {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %d_%s: %w", m.Version, m.Name, err)
		}
	}
	return nil
}

// Version returns the database's schema version.
func (s *Store) Version(ctx context.Context) (int, error) {
	var v int
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

// Close closes the pool's connections.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// write runs fn in one transaction.
func (s *Store) write(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// tsOrNull stores the zero time as NULL ("never").
func tsOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// fromNull is the inverse of tsOrNull, in UTC.
func fromNull(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// nowIfZero is t, or the current time when t is zero: audit rows always have a time.
func nowIfZero(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// isUnique reports whether err is a unique or primary key violation (SQLSTATE 23505).
func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// notFound maps "no row" to store.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

var _ store.Store = (*Store)(nil)
