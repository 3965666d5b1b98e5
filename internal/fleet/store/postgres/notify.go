package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// MaxPayload is the largest NOTIFY payload PostgreSQL accepts (its default 8000 bytes less the
// terminating zero).
const MaxPayload = 7999

// Notify sends payload to every session listening on channel in this database, whichever
// replica it belongs to. Listeners that are reconnecting at that moment miss it: a
// notification is a wake-up, not a message queue.
func (s *Store) Notify(ctx context.Context, channel, payload string) error {
	if len(payload) > MaxPayload {
		return fmt.Errorf("notify %s: payload of %d bytes, at most %d", channel, len(payload), MaxPayload)
	}
	_, err := s.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, channel, payload)
	return err
}

// Listen calls fn with the payload of every notification on channel until ctx is done, then
// returns nil. It holds one connection of its own, outside the pool; when that connection
// fails it reconnects with back-off (100 ms doubling to 5 s) and listens again, so a database
// restart or failover interrupts delivery but does not end it. fn runs on Listen's goroutine,
// one call at a time: a slow fn delays the notifications after it (PostgreSQL queues them).
func (s *Store) Listen(ctx context.Context, channel string, fn func(payload string)) error {
	if channel == "" {
		return errors.New("listen: needs a channel name")
	}
	backoff := 100 * time.Millisecond
	for {
		err := s.listenOnce(ctx, channel, fn, func() { backoff = 100 * time.Millisecond })
		if ctx.Err() != nil {
			return nil
		}
		_ = err // the next attempt says whether the database is back
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// listenOnce connects, listens and delivers until the connection fails or ctx is done.
// connected is called once LISTEN is in effect.
func (s *Store) listenOnce(ctx context.Context, channel string, fn func(string), connected func()) error {
	conn, err := pgx.Connect(ctx, s.url)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return err
	}
	connected()
	if s.listening != nil {
		s.listening(channel)
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		fn(n.Payload)
	}
}

// TryAdvisoryLock takes the session advisory lock key if no session holds it, for a job that
// must run once across replicas (retention, stale marking). ok is false when another session
// holds it. The lock lives on one pooled connection held until unlock is called; if that
// connection breaks the lock is released early, so a job under it must be safe to run twice.
// unlock may be called more than once, from any goroutine; call it before Close, which waits
// for the held connection.
func (s *Store) TryAdvisoryLock(ctx context.Context, key int64) (unlock func(), ok bool, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, false, err
	}
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, err
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	var once sync.Once
	return func() { once.Do(func() { release(conn, key) }) }, true, nil
}

// release unlocks key on conn and returns conn to the pool.
func release(conn *pgxpool.Conn, key int64) {
	uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var released bool
	if err := conn.QueryRow(uctx, `SELECT pg_advisory_unlock($1)`, key).Scan(&released); err != nil || !released {
		// Closing the session is the other way to release it; the pool then drops the
		// connection instead of handing out one that might still hold the lock.
		conn.Conn().Close(uctx)
	}
	conn.Release()
}
