package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

// LoginFailed counts a failed login of an existing user: one more failure, and the latest
// failure at at (never moved back, should replicas' clocks disagree). It is not audited.
func (s *Store) LoginFailed(ctx context.Context, name string, at time.Time) (store.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `UPDATE users SET failed_logins = failed_logins + 1,
		last_failed_at = greatest(last_failed_at, $2) WHERE name = $1 RETURNING `+userColumns, name, nowIfZero(at)))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.User{}, fmt.Errorf("user %q: %w", name, store.ErrNotFound)
	}
	return u, err
}

// checkSession refuses a session the server could not use.
func checkSession(ss store.Session) error {
	if len(ss.Hash) == 0 || ss.User == "" || ss.CSRF == "" || ss.Expires.IsZero() {
		return errors.New("session: needs a hash, a user, a CSRF token and an expiry")
	}
	return nil
}

// AddSession stores a new session of an existing user (ErrNotFound otherwise), resets the
// user's failed logins and audits user.login, all in one transaction. A disabled user's
// session is stored too (the account may be disabled between the password check and here):
// SessionByHash refuses it.
func (s *Store) AddSession(ctx context.Context, ss store.Session) error {
	if err := checkSession(ss); err != nil {
		return err
	}
	ss.CreatedAt = nowIfZero(ss.CreatedAt)
	if ss.LastUsed.IsZero() {
		ss.LastUsed = ss.CreatedAt
	}
	return s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET failed_logins = 0 WHERE name = $1`, ss.User)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("session of user %q: %w", ss.User, store.ErrNotFound)
		}
		_, err = tx.Exec(ctx, `INSERT INTO sessions (hash, user_name, csrf, created_at, last_used, expires) VALUES ($1, $2, $3, $4, $5, $6)`,
			ss.Hash, ss.User, ss.CSRF, ss.CreatedAt, ss.LastUsed, ss.Expires)
		if isUnique(err) {
			return fmt.Errorf("session: %w", store.ErrConflict)
		}
		if err != nil {
			return err
		}
		return audit(ctx, tx, ss.CreatedAt, ss.User, "user.login", ss.User, map[string]any{"expires": ss.Expires.UTC()})
	})
}

// SessionByHash returns the session with that hash and its user: ErrNotFound when there is
// none or it expired at now (Expires ≤ now), the session, user and ErrRevoked when the user is
// disabled.
func (s *Store) SessionByHash(ctx context.Context, hash []byte, now time.Time) (store.Session, store.User, error) {
	var ss store.Session
	var u store.User
	var uDisabled, uFailed *time.Time
	err := s.pool.QueryRow(ctx, `SELECT s.hash, s.user_name, s.csrf, s.created_at, s.last_used, s.expires,
			u.role, u.password_hash, u.created_at, u.disabled_at, u.failed_logins, u.last_failed_at
		FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.hash = $1 AND s.expires > $2`, hash, now).
		Scan(&ss.Hash, &ss.User, &ss.CSRF, &ss.CreatedAt, &ss.LastUsed, &ss.Expires,
			&u.Role, &u.PasswordHash, &u.CreatedAt, &uDisabled, &u.FailedLogins, &uFailed)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Session{}, store.User{}, fmt.Errorf("session: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Session{}, store.User{}, err
	}
	ss.CreatedAt, ss.LastUsed, ss.Expires = ss.CreatedAt.UTC(), ss.LastUsed.UTC(), ss.Expires.UTC()
	u.Name, u.CreatedAt, u.DisabledAt, u.LastFailedAt = ss.User, u.CreatedAt.UTC(), fromNull(uDisabled), fromNull(uFailed)
	if !u.DisabledAt.IsZero() {
		return ss, u, fmt.Errorf("user %q: %w", u.Name, store.ErrRevoked)
	}
	return ss, u, nil
}

// TouchSession moves the session's LastUsed to at, never back: replicas touch the same
// session with their own clocks. ErrNotFound when there is no such session.
func (s *Store) TouchSession(ctx context.Context, hash []byte, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE sessions SET last_used = greatest(last_used, $2) WHERE hash = $1`, hash, nowIfZero(at))
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("session: %w", store.ErrNotFound)
	}
	return nil
}

// DeleteSession ends one session (a logout) and audits user.logout with the session's user
// as target. A session already gone is no error and is not audited: a second logout, or one
// racing a password change, ends nothing.
func (s *Store) DeleteSession(ctx context.Context, hash []byte, actor string, at time.Time) error {
	at = nowIfZero(at)
	return s.write(ctx, func(tx pgx.Tx) error {
		var user string
		err := tx.QueryRow(ctx, `DELETE FROM sessions WHERE hash = $1 RETURNING user_name`, hash).Scan(&user)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		return audit(ctx, tx, at, actor, "user.logout", user, struct{}{})
	})
}

// PruneSessions deletes the sessions that expired before `before`, through sessions_expires,
// and returns how many. Nobody acted, so it is not audited.
func (s *Store) PruneSessions(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE expires < $1`, before)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

// endSessions deletes every session of user inside the caller's transaction and returns how
// many there were.
func endSessions(ctx context.Context, tx pgx.Tx, user string) (int64, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_name = $1`, user)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
