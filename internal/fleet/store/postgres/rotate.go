package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

// OfferCredential records the next credential of a host beside its current one.
func (s *Store) OfferCredential(ctx context.Context, id string, currentHash, newHash []byte, at time.Time) error {
	if len(currentHash) == 0 || len(newHash) == 0 {
		return errors.New("offer credential: needs the current and the new credential's hashes")
	}
	return s.write(ctx, func(tx pgx.Tx) error {
		var cur []byte
		var revoked *time.Time
		err := tx.QueryRow(ctx, `SELECT cred_hash, revoked_at FROM hosts WHERE id = $1 FOR UPDATE`, id).Scan(&cur, &revoked)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("host %s: %w", id, store.ErrNotFound)
		case err != nil:
			return err
		case revoked != nil:
			return fmt.Errorf("host %s: %w", id, store.ErrRevoked)
		case !bytes.Equal(cur, currentHash):
			return fmt.Errorf("host %s: the credential that asked is not the host's: %w", id, store.ErrNotFound)
		}
		_, err = tx.Exec(ctx, `INSERT INTO credential_offers (host_id, cred_hash, offered_to, offered_at)
			VALUES ($1, $2, $3, $4) ON CONFLICT (host_id) DO UPDATE SET cred_hash = excluded.cred_hash,
			offered_to = excluded.offered_to, offered_at = excluded.offered_at`,
			id, newHash, currentHash, nowIfZero(at))
		if isUnique(err) {
			return fmt.Errorf("host %s: credential offered twice: %w", id, store.ErrConflict)
		}
		return err
	})
}

// PromoteCredential makes an offered credential the host's only one. The host row is locked,
// so that two replicas promoting at once (the agent's first requests with its new credential
// arriving at both) agree: the second finds no offer and the first one's answer stands.
func (s *Store) PromoteCredential(ctx context.Context, newHash []byte, at time.Time) (store.Host, error) {
	// Every unknown credential the server is shown comes here: answer those without a
	// transaction.
	var one int
	if err := s.pool.QueryRow(ctx, `SELECT 1 FROM credential_offers WHERE cred_hash = $1`, newHash).Scan(&one); err != nil {
		return store.Host{}, notFound(err)
	}
	var out store.Host
	err := s.write(ctx, func(tx pgx.Tx) error {
		var id string
		var offeredTo, cur []byte
		var revoked *time.Time
		err := tx.QueryRow(ctx, `SELECT o.host_id, o.offered_to, h.cred_hash, h.revoked_at
			FROM credential_offers o JOIN hosts h ON h.id = o.host_id WHERE o.cred_hash = $1
			FOR UPDATE OF h, o`, newHash).Scan(&id, &offeredTo, &cur, &revoked)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return store.ErrNotFound
		case err != nil:
			return err
		case !bytes.Equal(offeredTo, cur):
			// Offered to a credential the host no longer has (it enrolled again): void.
			return store.ErrNotFound
		case revoked != nil:
			return fmt.Errorf("host %s: %w", id, store.ErrRevoked)
		}
		if _, err := tx.Exec(ctx, `UPDATE hosts SET cred_hash = $1 WHERE id = $2`, newHash, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM credential_offers WHERE host_id = $1`, id); err != nil {
			return err
		}
		if err := audit(ctx, tx, at, "host:"+id, "host.rotate", id, map[string]any{}); err != nil {
			return err
		}
		out, err = scanHost(tx.QueryRow(ctx, `SELECT `+hostColumns+` FROM hosts WHERE id = $1`, id))
		return err
	})
	return out, err
}
