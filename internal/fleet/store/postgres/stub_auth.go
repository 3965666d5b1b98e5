package postgres

// Transitional: the dashboard's account and exemption-approval methods, filled in by the
// dashstore-auth branch, which deletes this file.

import (
	"context"
	"errors"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

var errStubAuth = errors.New("not built yet: dashboard accounts")

func (s *Store) LoginFailed(context.Context, string, time.Time) (store.User, error) {
	return store.User{}, errStubAuth
}
func (s *Store) AddSession(context.Context, store.Session) error { return errStubAuth }
func (s *Store) SessionByHash(context.Context, []byte, time.Time) (store.Session, store.User, error) {
	return store.Session{}, store.User{}, errStubAuth
}
func (s *Store) TouchSession(context.Context, []byte, time.Time) error { return errStubAuth }
func (s *Store) DeleteSession(context.Context, []byte, string, time.Time) error {
	return errStubAuth
}
func (s *Store) PruneSessions(context.Context, time.Time) (int, error) { return 0, errStubAuth }
func (s *Store) Tokens(context.Context) ([]store.Token, error)         { return nil, errStubAuth }
func (s *Store) EnrollSecrets(context.Context) ([]store.EnrollSecret, error) {
	return nil, errStubAuth
}
func (s *Store) ApproveExemption(context.Context, string, string, time.Time) error {
	return errStubAuth
}
