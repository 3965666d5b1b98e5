package server

import (
	"crypto/sha256"
	"sync"
	"time"
)

// An address that has used up its failed authentications (failauth.go) is still served for the
// credentials this process has recently seen valid: only those are looked up in the store; any
// other credential from it is refused before the lookup. The set only decides whether a lookup
// happens, never whether a request is accepted: the lookup still refuses a revoked, rotated or
// unknown credential at once.
const (
	// recentTTL is how long a credential stays known after it was last seen valid: a week, so
	// that a laptop switched off over a weekend or a holiday is still known when it comes back.
	// Agents authenticate at least once per policy interval (an hour by default).
	recentTTL = 7 * 24 * time.Hour
	// maxRecentCreds caps the host credentials and API tokens known: 262,144 entries of 43
	// bytes (half a SHA-256, a 32-bit time and the map's overhead), 10.7 MiB when full, as
	// BenchmarkRecentSetFull measures. A fleet with more hosts than that loses at worst the
	// benefit for the hosts evicted, and only while their address is blocked.
	maxRecentCreds = 1 << 18
	// maxRecentSecrets caps the enroll secrets known; a fleet has a handful.
	maxRecentSecrets = 4096
)

// recentSet is a bounded set of SHA-256 hashes of secrets seen valid, each with the time it was
// last seen valid.
type recentSet struct {
	ttl       time.Duration
	max       int
	mu        sync.Mutex
	seen      map[recentKey]uint32 // hash → Unix seconds last seen valid
	lastSweep time.Time
}

func newRecentSet(ttl time.Duration, max int) *recentSet {
	return &recentSet{ttl: ttl, max: max, seen: map[recentKey]uint32{}}
}

// recentKey is the first half of a SHA-256: a collision (2^-128 a pair, and no way to aim one)
// would cost only a store lookup, which still decides, and it halves the set's memory.
type recentKey [16]byte

func keyOf(hash []byte) recentKey { return recentKey(hash[:16]) }

func unixSeconds(t time.Time) uint32 { return uint32(max(0, min(t.Unix(), 1<<32-1))) }

// add records hash as valid at now.
func (s *recentSet) add(hash []byte, now time.Time) {
	if len(hash) != sha256.Size {
		return
	}
	k := keyOf(hash)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.seen[k]; !ok && len(s.seen) >= s.max {
		s.makeRoom(now)
	}
	s.seen[k] = unixSeconds(now)
}

// has reports whether hash was seen valid within the TTL before now.
func (s *recentSet) has(hash []byte, now time.Time) bool {
	if len(hash) != sha256.Size {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.seen[keyOf(hash)]
	return ok && int64(unixSeconds(now))-int64(at) < int64(s.ttl/time.Second)
}

// remove forgets hash: the store refused it.
func (s *recentSet) remove(hash []byte) {
	if len(hash) != sha256.Size {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.seen, keyOf(hash))
}

// makeRoom drops the expired hashes (at most once a second), then, if the set is still full,
// one at random. Only valid secrets are ever added, so an attacker cannot fill it.
func (s *recentSet) makeRoom(now time.Time) {
	if now.Sub(s.lastSweep) >= time.Second {
		s.lastSweep = now
		for k, at := range s.seen {
			if int64(unixSeconds(now))-int64(at) >= int64(s.ttl/time.Second) {
				delete(s.seen, k)
			}
		}
	}
	for k := range s.seen { // map order is random
		if len(s.seen) < s.max {
			break
		}
		delete(s.seen, k)
	}
}

func (s *recentSet) size() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}
