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
	"sync"

	"github.com/firewarden/firewarden/internal/statedir"
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
	// WriteFile writes the state file; statedir's atomic replacement when nil. Tests inject
	// failures.
	WriteFile func(path string, data []byte, perm os.FileMode) error

	// A long-running process (the guard) edits the state often: it keeps the state it last
	// wrote and skips decoding the file when the file is still the one it wrote (same inode,
	// size and modification time; every write is a rename, so any other writer changes the
	// inode). At 100 000 bans decoding is most of the cost of a change.
	mu        sync.Mutex
	cached    *State
	cachedFor os.FileInfo
}

// Path is the state file.
func (s *Store) Path() string { return filepath.Join(s.Dir, StateFile) }

// Load reads the state without the lock: a consistent snapshot, since writes are atomic. A
// missing file or directory is NewState. The directory is checked as statedir.Existing does, and
// a state file that is a link or a FIFO is refused.
func (s *Store) Load() (*State, error) {
	data, found, err := statedir.ReadExisting(s.Dir, StateFile)
	if err != nil || !found {
		return NewState(), err
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
	d, err := statedir.Open(s.Dir)
	if err != nil {
		return nil, nil, err
	}
	lock, err := d.Lock(LockFile, true)
	if err != nil {
		return nil, nil, err
	}
	defer lock.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.read(d)
	if err != nil {
		return nil, nil, err
	}
	before = st.clone()
	if err := fn(st); err != nil {
		return before, before, err
	}
	out, err := encodeState(st)
	if err != nil {
		return before, before, err
	}
	if s.WriteFile != nil {
		err = s.WriteFile(s.Path(), out, 0o600)
	} else {
		err = d.WriteFile(StateFile, out)
	}
	if err != nil {
		return before, before, fmt.Errorf("write the block state: %w", err)
	}
	s.cached, s.cachedFor = nil, nil
	if fi, err := d.Stat(StateFile); err == nil {
		s.cached, s.cachedFor = st.clone(), fi
	}
	if apply != nil {
		return before, st, apply(before, st)
	}
	return before, st, nil
}

// read returns the state in the file, from the cache when the file is the one last written.
func (s *Store) read(d *statedir.Dir) (*State, error) {
	fi, err := d.Stat(StateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return NewState(), nil
	}
	if err != nil {
		return nil, err
	}
	if c := s.cachedFor; s.cached != nil && os.SameFile(fi, c) && fi.Size() == c.Size() && fi.ModTime().Equal(c.ModTime()) {
		return s.cached.clone(), nil
	}
	data, err := d.ReadFile(StateFile)
	if err != nil {
		return nil, err
	}
	return decodeState(s.Path(), data)
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
