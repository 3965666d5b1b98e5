package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

// checkUser refuses a user the dashboard could not use: the name, role and hash are needed.
func checkUser(u store.User) error {
	if u.Name == "" || u.PasswordHash == "" {
		return errors.New("user: needs a name and a password hash")
	}
	if u.Role != store.RoleAdmin && u.Role != store.RoleAuditor {
		return fmt.Errorf("user role %q: use %s or %s", u.Role, store.RoleAdmin, store.RoleAuditor)
	}
	return nil
}

// AddUser stores a new dashboard account and audits it as user.create.
func (s *Store) AddUser(ctx context.Context, u store.User, actor string) error {
	if err := checkUser(u); err != nil {
		return err
	}
	u.CreatedAt = nowIfZero(u.CreatedAt)
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO users (name, role, password_hash, created_at, disabled_at) VALUES (?, ?, ?, ?, ?)`,
			u.Name, u.Role, u.PasswordHash, ts(u.CreatedAt), ts(u.DisabledAt))
		if isUnique(err) {
			return fmt.Errorf("user %q: %w", u.Name, store.ErrConflict)
		}
		if err != nil {
			return err
		}
		return audit(ctx, tx, u.CreatedAt, actor, "user.create", u.Name, map[string]string{"role": u.Role})
	})
}

// UserByName returns the user: ErrNotFound, or the user and ErrRevoked when disabled.
func (s *Store) UserByName(ctx context.Context, name string) (store.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return store.User{}, fmt.Errorf("user %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return store.User{}, err
	}
	if !u.DisabledAt.IsZero() {
		return u, store.ErrRevoked
	}
	return u, nil
}

const userColumns = `name, role, password_hash, created_at, disabled_at, failed_logins, last_failed_at`

func scanUser(sc interface{ Scan(...any) error }) (store.User, error) {
	var u store.User
	var created, disabled, failed int64
	if err := sc.Scan(&u.Name, &u.Role, &u.PasswordHash, &created, &disabled, &u.FailedLogins, &failed); err != nil {
		return store.User{}, err
	}
	u.CreatedAt, u.DisabledAt, u.LastFailedAt = fromTS(created), fromTS(disabled), fromTS(failed)
	return u, nil
}

// Users lists every account, disabled ones included, in name order.
func (s *Store) Users(ctx context.Context) ([]store.User, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// SetUserPassword replaces the user's password hash, ends every session of the user (a stolen
// cookie dies with the old password) and audits it as user.passwd (without the hash: the audit
// log is readable by auditors).
func (s *Store) SetUserPassword(ctx context.Context, name, hash, actor string, at time.Time) error {
	if hash == "" {
		return errors.New("user: needs a password hash")
	}
	at = nowIfZero(at)
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE name = ?`, hash, name)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = fmt.Errorf("user %q: %w", name, store.ErrNotFound)
			}
			return err
		}
		n, err := endSessions(ctx, tx, name)
		if err != nil {
			return err
		}
		return audit(ctx, tx, at, actor, "user.passwd", name, map[string]any{"sessions_ended": n})
	})
}

// DisableUser stops the account from logging in from at on and ends its sessions. Disabling
// again keeps the first time and writes no second audit row.
func (s *Store) DisableUser(ctx context.Context, name, actor string, at time.Time) error {
	at = nowIfZero(at)
	return s.write(ctx, func(tx *sql.Tx) error {
		var disabled int64
		err := tx.QueryRowContext(ctx, `SELECT disabled_at FROM users WHERE name = ?`, name).Scan(&disabled)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("user %q: %w", name, store.ErrNotFound)
		}
		if err != nil || disabled != 0 {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET disabled_at = ? WHERE name = ?`, ts(at), name); err != nil {
			return err
		}
		n, err := endSessions(ctx, tx, name)
		if err != nil {
			return err
		}
		return audit(ctx, tx, at, actor, "user.disable", name, map[string]any{"sessions_ended": n})
	})
}
