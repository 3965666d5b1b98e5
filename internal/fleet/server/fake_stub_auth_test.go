package server

// Transitional: the dashboard's account and exemption-approval methods, filled in by the
// dashstore-auth branch, which deletes this file.

import (
	"context"
	"errors"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/store"
)

var errStubAuth = errors.New("not built yet: dashboard accounts")

func (f *fakeStore) LoginFailed(context.Context, string, time.Time) (store.User, error) {
	return store.User{}, errStubAuth
}
func (f *fakeStore) Tokens(context.Context) ([]store.Token, error) { return nil, errStubAuth }
func (f *fakeStore) EnrollSecrets(context.Context) ([]store.EnrollSecret, error) {
	return nil, errStubAuth
}
func (f *fakeStore) ApproveExemption(context.Context, string, string, time.Time) error {
	return errStubAuth
}
