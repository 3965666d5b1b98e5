package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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
	return s.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO users (name, role, password_hash, created_at, disabled_at) VALUES ($1, $2, $3, $4, $5)`,
			u.Name, u.Role, u.PasswordHash, u.CreatedAt, tsOrNull(u.DisabledAt))
		if isUnique(err) {
			return fmt.Errorf("user %q: %w", u.Name, store.ErrConflict)
		}
		if err != nil {
			return err
		}
		return audit(ctx, tx, u.CreatedAt, actor, "user.create", u.Name, map[string]string{"role": u.Role})
	})
}

// UserByName returns the user: store.ErrNotFound, or the user and store.ErrRevoked when
// disabled.
func (s *Store) UserByName(ctx context.Context, name string) (store.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
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

func scanUser(row pgx.Row) (store.User, error) {
	var u store.User
	var created time.Time
	var disabled, failed *time.Time
	if err := row.Scan(&u.Name, &u.Role, &u.PasswordHash, &created, &disabled, &u.FailedLogins, &failed); err != nil {
		return store.User{}, err
	}
	u.CreatedAt, u.DisabledAt, u.LastFailedAt = created.UTC(), fromNull(disabled), fromNull(failed)
	return u, nil
}

// Users lists every account, disabled ones included, in name order. COLLATE "C" orders by
// bytes, as SQLite does, so both stores list alike.
func (s *Store) Users(ctx context.Context) ([]store.User, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY name COLLATE "C"`)
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
	return s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET password_hash = $2 WHERE name = $1`, name, hash)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("user %q: %w", name, store.ErrNotFound)
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
	return s.write(ctx, func(tx pgx.Tx) error {
		var disabled *time.Time
		err := tx.QueryRow(ctx, `SELECT disabled_at FROM users WHERE name = $1 FOR UPDATE`, name).Scan(&disabled)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("user %q: %w", name, store.ErrNotFound)
		}
		if err != nil || disabled != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET disabled_at = $2 WHERE name = $1`, name, at); err != nil {
			return err
		}
		n, err := endSessions(ctx, tx, name)
		if err != nil {
			return err
		}
		return audit(ctx, tx, at, actor, "user.disable", name, map[string]any{"sessions_ended": n})
	})
}
