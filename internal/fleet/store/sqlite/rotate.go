package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

// OfferCredential records the next credential of a host beside its current one.
func (s *Store) OfferCredential(ctx context.Context, id string, currentHash, newHash []byte, at time.Time) error {
	if len(currentHash) == 0 || len(newHash) == 0 {
		return errors.New("offer credential: needs the current and the new credential's hashes")
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		var cur []byte
		var revoked int64
		err := tx.QueryRowContext(ctx, `SELECT cred_hash, revoked_at FROM hosts WHERE id = ?`, id).Scan(&cur, &revoked)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("host %s: %w", id, store.ErrNotFound)
		case err != nil:
			return err
		case revoked != 0:
			return fmt.Errorf("host %s: %w", id, store.ErrRevoked)
		case !bytes.Equal(cur, currentHash):
			return fmt.Errorf("host %s: the credential that asked is not the host's: %w", id, store.ErrNotFound)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO credential_offers (host_id, cred_hash, offered_to, offered_at)
			VALUES (?, ?, ?, ?) ON CONFLICT (host_id) DO UPDATE SET cred_hash = excluded.cred_hash,
			offered_to = excluded.offered_to, offered_at = excluded.offered_at`,
			id, newHash, currentHash, ts(nowIfZero(at)))
		if isUnique(err) {
			return fmt.Errorf("host %s: credential offered twice: %w", id, store.ErrConflict)
		}
		return err
	})
}

// PromoteCredential makes an offered credential the host's only one.
func (s *Store) PromoteCredential(ctx context.Context, newHash []byte, at time.Time) (store.Host, error) {
	// Every unknown credential the server is shown comes here: answer those from the read pool,
	// without taking the one writer.
	var one int
	err := s.r.QueryRowContext(ctx, `SELECT 1 FROM credential_offers WHERE cred_hash = ?`, newHash).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Host{}, store.ErrNotFound
	}
	if err != nil {
		return store.Host{}, err
	}
	var out store.Host
	err = s.write(ctx, func(tx *sql.Tx) error {
		var id string
		var offeredTo, cur []byte
		var revoked int64
		err := tx.QueryRowContext(ctx, `SELECT o.host_id, o.offered_to, h.cred_hash, h.revoked_at
			FROM credential_offers o JOIN hosts h ON h.id = o.host_id WHERE o.cred_hash = ?`, newHash).
			Scan(&id, &offeredTo, &cur, &revoked)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return store.ErrNotFound
		case err != nil:
			return err
		case !bytes.Equal(offeredTo, cur):
			// Offered to a credential the host no longer has (it enrolled again): void. It
			// stays until the host's next offer replaces it, harmless.
			return store.ErrNotFound
		case revoked != 0:
			return fmt.Errorf("host %s: %w", id, store.ErrRevoked)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE hosts SET cred_hash = ? WHERE id = ?`, newHash, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM credential_offers WHERE host_id = ?`, id); err != nil {
			return err
		}
		if err := audit(ctx, tx, at, "host:"+id, "host.rotate", id, map[string]any{}); err != nil {
			return err
		}
		out, err = scanHost(tx.QueryRowContext(ctx, `SELECT `+hostColumns+` FROM hosts WHERE id = ?`, id))
		return err
	})
	return out, err
}
