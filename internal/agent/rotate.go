package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/firewarden/firewarden/internal/fleet/wire"
	"github.com/firewarden/firewarden/internal/statedir"
)

// DefaultRotateAfter is the age at which the daemon replaces its host credential: 30 days, the
// usual ceiling for a machine secret, so that a credential copied off a host (a backup, a disk
// image) stops working within a month without anyone noticing the leak. `agent run
// --rotate-after` changes it.
const DefaultRotateAfter = 30 * 24 * time.Hour

// rotateLock serialises rotations of one host: the daemon's and `agent rotate`'s.
const rotateLock = "agent.rotate.lock"

// Rotate replaces the host credential without enrolling again. It asks the server for a new
// credential, authenticated by the current one; saves it in agent.json (atomically, fsynced)
// before anything uses it; switches c to it; and makes a first request with it, which is what
// ends the old credential on the server. A kill -9 at any point loses nothing: before the save,
// agent.json holds the old credential, which the server keeps valid until the new one is used;
// after it, agent.json holds the new one, whose first use promotes it.
func Rotate(ctx context.Context, state *statedir.Dir, c *Client, reason string, now time.Time) (Enrollment, error) {
	lock, err := state.Lock(rotateLock, true)
	if err != nil {
		return Enrollment{}, err
	}
	defer lock.Unlock()
	e, err := LoadEnrollment(state)
	if err != nil {
		return e, err
	}
	// Another process may have rotated since c was made: ask with what agent.json holds.
	c.SetCredential(e.Credential)
	resp, err := c.rotate(ctx, reason)
	if err != nil {
		return e, err
	}
	if resp.HostID != e.HostID {
		return e, fmt.Errorf("rotate: the server answered for host %s, this host is %s; nothing was changed", resp.HostID, e.HostID)
	}
	e.Credential, e.Rotated = resp.Credential, now.UTC()
	if err := SaveEnrollment(state, e); err != nil {
		return e, fmt.Errorf("rotate: %w; the old credential stays in use", err)
	}
	c.SetCredential(e.Credential)
	// The first use promotes the new credential. If it fails (the network), the next request
	// does it; until then the server accepts both.
	if _, err := c.Config(ctx); err != nil && !errors.Is(err, ErrUnauthorized) {
		return e, nil
	} else if err != nil {
		return e, fmt.Errorf("rotate: the server refused the new credential: %w", err)
	}
	return e, nil
}

// rotateDue reports whether e's credential is older than after at now.
func rotateDue(e Enrollment, after time.Duration, now time.Time) bool {
	if after < 0 {
		return false
	}
	after = rotateAge(after)
	issued := e.Enrolled
	if e.Rotated.After(issued) {
		issued = e.Rotated
	}
	return !now.Before(issued.Add(after))
}

func rotateAge(after time.Duration) time.Duration {
	if after == 0 {
		return DefaultRotateAfter
	}
	return after
}

// rotateIfDue is the daemon's scheduled rotation, after a cycle's upload. A failure is logged
// and tried again after the next cycle: the current credential keeps working meanwhile.
func (a *Agent) rotateIfDue(ctx context.Context) {
	if a.Client.Revoked() != nil {
		return
	}
	e, err := LoadEnrollment(a.State)
	if err != nil || !rotateDue(e, a.RotateAfter, a.now()) {
		return
	}
	if _, err := Rotate(ctx, a.State, a.Client, wire.RotateScheduled, a.now()); err != nil {
		if ctx.Err() == nil {
			a.logf("rotate the host credential: %s", oneLine(err.Error()))
		}
		return
	}
	a.logf("rotated the host credential, as every %v", rotateAge(a.RotateAfter))
}

// noteRevoked records, once, that the server revoked this host's credential: in the log and in
// the facts `agent status` shows. The agent keeps running its last policy locally (see README,
// "revoked hosts"); it only stops reporting. A request that succeeds (after enrolling again)
// clears it.
func (a *Agent) noteRevoked(err error) {
	revoked := errors.Is(err, ErrRevoked)
	if err != nil && !revoked {
		return // says nothing about the credential
	}
	if f, ferr := LoadFacts(a.State); ferr == nil && f.Revoked == revoked {
		return
	}
	if revoked {
		a.logf("%v", err)
	}
	a.updateFacts(func(f *Facts) { f.Revoked = revoked })
}
