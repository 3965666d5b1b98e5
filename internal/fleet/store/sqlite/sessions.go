package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

// LoginFailed counts a failed login of an existing user: one more failure, and the latest
// failure at at (never moved back, should replicas' clocks disagree). It is not audited.
func (s *Store) LoginFailed(ctx context.Context, name string, at time.Time) (store.User, error) {
	at = nowIfZero(at)
	var u store.User
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRowContext(ctx, `UPDATE users SET failed_logins = failed_logins + 1,
			last_failed_at = max(last_failed_at, ?2) WHERE name = ?1 RETURNING `+userColumns, name, ts(at)))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("user %q: %w", name, store.ErrNotFound)
		}
		return err
	})
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
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET failed_logins = 0 WHERE name = ?`, ss.User)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = fmt.Errorf("session of user %q: %w", ss.User, store.ErrNotFound)
			}
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO sessions (hash, user_name, csrf, created_at, last_used, expires) VALUES (?, ?, ?, ?, ?, ?)`,
			ss.Hash, ss.User, ss.CSRF, ts(ss.CreatedAt), ts(ss.LastUsed), ts(ss.Expires))
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
	var created, used, expires, uCreated, uDisabled, uFailed int64
	err := s.r.QueryRowContext(ctx, `SELECT s.hash, s.user_name, s.csrf, s.created_at, s.last_used, s.expires,
			u.role, u.password_hash, u.created_at, u.disabled_at, u.failed_logins, u.last_failed_at
		FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.hash = ? AND s.expires > ?`, hash, ts(now)).
		Scan(&ss.Hash, &ss.User, &ss.CSRF, &created, &used, &expires,
			&u.Role, &u.PasswordHash, &uCreated, &uDisabled, &u.FailedLogins, &uFailed)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Session{}, store.User{}, fmt.Errorf("session: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Session{}, store.User{}, err
	}
	u.Name = ss.User
	u.CreatedAt, u.DisabledAt, u.LastFailedAt = fromTS(uCreated), fromTS(uDisabled), fromTS(uFailed)
	ss.CreatedAt, ss.LastUsed, ss.Expires = fromTS(created), fromTS(used), fromTS(expires)
	if !u.DisabledAt.IsZero() {
		return ss, u, fmt.Errorf("user %q: %w", u.Name, store.ErrRevoked)
	}
	return ss, u, nil
}

// TouchSession moves the session's LastUsed to at, never back: replicas touch the same
// session with their own clocks. ErrNotFound when there is no such session.
func (s *Store) TouchSession(ctx context.Context, hash []byte, at time.Time) error {
	at = nowIfZero(at)
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET last_used = max(last_used, ?) WHERE hash = ?`, ts(at), hash)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = fmt.Errorf("session: %w", store.ErrNotFound)
			}
			return err
		}
		return nil
	})
}

// DeleteSession ends one session (a logout) and audits user.logout with the session's user
// as target. A session already gone is no error and is not audited: a second logout, or one
// racing a password change, ends nothing.
func (s *Store) DeleteSession(ctx context.Context, hash []byte, actor string, at time.Time) error {
	at = nowIfZero(at)
	return s.write(ctx, func(tx *sql.Tx) error {
		var user string
		err := tx.QueryRowContext(ctx, `DELETE FROM sessions WHERE hash = ? RETURNING user_name`, hash).Scan(&user)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		return audit(ctx, tx, at, actor, "user.logout", user, map[string]any{})
	})
}

// PruneSessions deletes the sessions that expired before `before`, through sessions_expires,
// and returns how many. Nobody acted, so it is not audited.
func (s *Store) PruneSessions(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires < ?`, ts(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// endSessions deletes every session of user inside the caller's transaction and returns how
// many there were.
func endSessions(ctx context.Context, tx *sql.Tx, user string) (int64, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_name = ?`, user)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
