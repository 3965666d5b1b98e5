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
	// maxRecentCreds caps the host credentials and API tokens known: 262,144 hashes of about 60
	// bytes each (the key, the time and the map's overhead), some 16 MB. A fleet with more
	// hosts than that loses at worst the benefit for the hosts evicted, and only while their
	// address is blocked.
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
	seen      map[[sha256.Size]byte]int64 // hash → Unix seconds last seen valid
	lastSweep time.Time
}

func newRecentSet(ttl time.Duration, max int) *recentSet {
	return &recentSet{ttl: ttl, max: max, seen: map[[sha256.Size]byte]int64{}}
}

// add records hash as valid at now.
func (s *recentSet) add(hash []byte, now time.Time) {
	if len(hash) != sha256.Size {
		return
	}
	k := [sha256.Size]byte(hash)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.seen[k]; !ok && len(s.seen) >= s.max {
		s.makeRoom(now)
	}
	s.seen[k] = now.Unix()
}

// has reports whether hash was seen valid within the TTL before now.
func (s *recentSet) has(hash []byte, now time.Time) bool {
	if len(hash) != sha256.Size {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.seen[[sha256.Size]byte(hash)]
	return ok && now.Unix()-at < int64(s.ttl/time.Second)
}

// remove forgets hash: the store refused it.
func (s *recentSet) remove(hash []byte) {
	if len(hash) != sha256.Size {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.seen, [sha256.Size]byte(hash))
}

// makeRoom drops the expired hashes (at most once a second), then, if the set is still full,
// one at random. Only valid secrets are ever added, so an attacker cannot fill it.
func (s *recentSet) makeRoom(now time.Time) {
	if now.Sub(s.lastSweep) >= time.Second {
		s.lastSweep = now
		for k, at := range s.seen {
			if now.Unix()-at >= int64(s.ttl/time.Second) {
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
