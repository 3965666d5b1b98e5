package block

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/firewarden/firewarden/internal/posture"
)

// Files in the state directory.
const (
	StateFile = "block.json"
	LockFile  = "block.lock"
)

// Store keeps the State in Dir/block.json. Every change goes through Edit, which holds an
// exclusive lock on Dir/block.lock from reading to writing, so the CLI and the guard daemon never
// lose each other's changes, and replaces the file atomically, so a crash leaves the old state or
// the new one, never a part.
type Store struct {
	Dir string
	// WriteFile writes the state file; posture.WriteFileAtomic when nil. Tests inject failures.
	WriteFile func(path string, data []byte, perm os.FileMode) error
}

// Path is the state file.
func (s *Store) Path() string { return filepath.Join(s.Dir, StateFile) }

// Load reads the state without the lock: a consistent snapshot, since writes are atomic. A
// missing file is NewState.
func (s *Store) Load() (*State, error) {
	data, err := os.ReadFile(s.Path())
	if errors.Is(err, fs.ErrNotExist) {
		return NewState(), nil
	}
	if err != nil {
		return nil, err
	}
	return decodeState(s.Path(), data)
}

func decodeState(path string, data []byte) (*State, error) {
	st := &State{}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(st); err != nil {
		return nil, fmt.Errorf("block state %s is damaged: %v; move it aside to start over", path, err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("block state %s has version %d; this firewarden reads version %d", path, st.Version, stateVersion)
	}
	st.normaliseAll()
	return st, nil
}

// Edit changes the state under the lock: it loads the state, calls fn, and when fn returns nil
// writes the result atomically. When fn or the write fails, the file is as it was and Edit
// returns the error. It returns the state before and after the change (after == before's
// values when fn failed).
func (s *Store) Edit(ctx context.Context, fn func(*State) error) (before, after *State, err error) {
	return s.Update(ctx, fn, nil)
}

// Update is Edit followed by apply(before, after) while the lock is still held, so that two
// processes that each change the state and then sync the kernel cannot sync in the opposite
// order and leave the kernel holding the older state. apply runs only after the state was
// saved; its error is returned with the saved states.
func (s *Store) Update(ctx context.Context, fn func(*State) error, apply func(before, after *State) error) (before, after *State, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("state directory: %w", err)
	}
	lock, err := posture.WaitLock(filepath.Join(s.Dir, LockFile))
	if err != nil {
		return nil, nil, err
	}
	defer lock.Unlock()
	data, err := os.ReadFile(s.Path())
	var st *State
	switch {
	case errors.Is(err, fs.ErrNotExist):
		st = NewState()
	case err != nil:
		return nil, nil, err
	default:
		if st, err = decodeState(s.Path(), data); err != nil {
			return nil, nil, err
		}
	}
	before = st.clone()
	if err := fn(st); err != nil {
		return before, before, err
	}
	out, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return before, before, err
	}
	write := s.WriteFile
	if write == nil {
		write = posture.WriteFileAtomic
	}
	if err := write(s.Path(), append(out, '\n'), 0o600); err != nil {
		return before, before, fmt.Errorf("write the block state: %w", err)
	}
	if apply != nil {
		return before, st, apply(before, st)
	}
	return before, st, nil
}

// clone copies the state deeply enough that changing one never changes the other.
func (s *State) clone() *State {
	c := *s
	c.Bans = append([]BanEntry{}, s.Bans...)
	c.Allowlist = append([]AllowEntry{}, s.Allowlist...)
	c.Offenders = append([]Offender(nil), s.Offenders...)
	c.Activity = append([]Event(nil), s.Activity...)
	return &c
}
